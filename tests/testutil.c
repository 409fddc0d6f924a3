/*
 * testutil: helpers the unit tests share.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "consentd/b64.h"
#include "testutil.h"

void
tu_tmpdir(char out[static TU_DIR_MAX])
{
    const char *base = getenv("TMPDIR");

    snprintf(out, TU_DIR_MAX, "%s/consentd-test.XXXXXX", base != NULL ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

static int
tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
tu_rmrf(const char *dir)
{
    nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct keys_pair *
tu_key(unsigned char seed_byte)
{
    uint8_t seed[KEYS_SEED_BYTES];
    struct keys_pair *k = NULL;

    memset(seed, seed_byte, sizeof(seed));
    ck_assert_int_eq(keys_from_seed(seed, &k), ERR_OK);
    return k;
}

void
tu_path(const char *dir, const char *name, char out[static PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

char *
tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

EVP_PKEY *
tu_rsa_key(unsigned bits)
{
    EVP_PKEY *k = EVP_RSA_gen(bits);

    ck_assert_ptr_nonnull(k);
    return k;
}

EVP_PKEY *
tu_ec_key(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);

    ck_assert_ptr_nonnull(k);
    return k;
}

/* tu_bn_b64 adds member name: the base64url of parameter param of k, padded to size bytes. */
static void
tu_bn_b64(cJSON *o, const char *name, EVP_PKEY *k, const char *param, int size)
{
    unsigned char bin[1024];
    char text[1400];
    BIGNUM *bn = NULL;
    int n;

    ck_assert_int_eq(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    n = size > 0 ? BN_bn2binpad(bn, bin, size) : BN_bn2bin(bn, bin);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(b64_encode(bin, (size_t)n, B64_URL, text, sizeof(text)), ERR_OK);
    cJSON_AddStringToObject(o, name, text);
    BN_free(bn);
}

cJSON *
tu_jwk(EVP_PKEY *k)
{
    cJSON *o = cJSON_CreateObject();
    int bits = EVP_PKEY_get_bits(k);

    if (EVP_PKEY_is_a(k, "RSA")) {
        cJSON_AddStringToObject(o, "kty", "RSA");
        tu_bn_b64(o, "n", k, OSSL_PKEY_PARAM_RSA_N, 0);
        tu_bn_b64(o, "e", k, OSSL_PKEY_PARAM_RSA_E, 0);
    } else {
        ck_assert(EVP_PKEY_is_a(k, "EC"));
        cJSON_AddStringToObject(o, "kty", "EC");
        cJSON_AddStringToObject(o, "crv", bits == 256 ? "P-256" : "P-384");
        tu_bn_b64(o, "x", k, OSSL_PKEY_PARAM_EC_PUB_X, bits / 8);
        tu_bn_b64(o, "y", k, OSSL_PKEY_PARAM_EC_PUB_Y, bits / 8);
    }
    return o;
}

void
tu_sign_jws(EVP_PKEY *k, bool sha384, bool der, const char *header, const char *payload, char *out,
            size_t cap)
{
    unsigned char sig[1024], raw[96];
    const unsigned char *p = sig;
    const BIGNUM *r, *s;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ECDSA_SIG *es;
    size_t n, sig_len = sizeof(sig), half;

    ck_assert_int_eq(b64_encode((const uint8_t *)header, strlen(header), B64_URL, out, cap),
                     ERR_OK);
    n = strlen(out);
    out[n++] = '.';
    ck_assert_int_eq(
        b64_encode((const uint8_t *)payload, strlen(payload), B64_URL, out + n, cap - n), ERR_OK);
    n += strlen(out + n);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, sha384 ? EVP_sha384() : EVP_sha256(), NULL, k),
                     1);
    ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)out, n), 1);
    EVP_MD_CTX_free(ctx);
    out[n++] = '.';
    if (EVP_PKEY_is_a(k, "EC") && !der) {
        half = (size_t)EVP_PKEY_get_bits(k) / 8;
        es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
        ck_assert_ptr_nonnull(es);
        ECDSA_SIG_get0(es, &r, &s);
        ck_assert_int_eq(BN_bn2binpad(r, raw, (int)half), (int)half);
        ck_assert_int_eq(BN_bn2binpad(s, raw + half, (int)half), (int)half);
        ECDSA_SIG_free(es);
        memcpy(sig, raw, 2 * half);
        sig_len = 2 * half;
    }
    ck_assert_int_eq(b64_encode(sig, sig_len, B64_URL, out + n, cap - n), ERR_OK);
}
