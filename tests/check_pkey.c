/*
 * check_pkey: public keys from JWKs (Ed25519, RSA, EC P-256 and P-384) and JWS verification
 * with the algorithm the key allows. Keys are made and JWSs signed with OpenSSL, as a client's
 * library would; every attack on the algorithm choice, every malformed signature and every
 * unacceptable JWK is refused.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "consentd/b64.h"
#include "consentd/jstrict.h"
#include "consentd/jws.h"
#include "consentd/pkey.h"
#include "suites.h"
#include "testutil.h"

#define PAYLOAD "{\"iss\":\"gp-system-1\",\"sub\":\"gp-system-1\",\"jti\":\"j-1\"}"
#define JWS_CAP 4096

/* Made once, in the parent, by the unchecked fixture: RSA key generation is slow. */
static EVP_PKEY *rsa, *rsa_other, *rsa_short, *p256, *p384, *p384_other;
static char jws[JWS_CAP];

static void
keys_setup(void)
{
    rsa = tu_rsa_key(2048);
    rsa_other = tu_rsa_key(2048);
    rsa_short = tu_rsa_key(1024);
    p256 = tu_ec_key("P-256");
    p384 = tu_ec_key("P-384");
    p384_other = tu_ec_key("P-384");
}

static void
keys_teardown(void)
{
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(rsa_short);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(p384_other);
}

/* from_jwk reads jwk (and frees it); it must be accepted. */
static struct pkey *
from_jwk(cJSON *jwk)
{
    char why[PKEY_WHY_MAX];
    struct pkey *k = NULL;

    ck_assert_msg(pkey_from_jwk(jwk, &k, why) == ERR_OK, "refused: %s", why);
    ck_assert_ptr_nonnull(k);
    cJSON_Delete(jwk);
    return k;
}

/* key_of is the pkey of an OpenSSL key's public JWK, with "alg" alg unless NULL. */
static struct pkey *
key_of(EVP_PKEY *e, const char *alg)
{
    cJSON *jwk = tu_jwk(e);

    if (alg != NULL)
        cJSON_AddStringToObject(jwk, "alg", alg);
    return from_jwk(jwk);
}

/* refused_jwk asserts jwk (freed) is refused with a sentence containing part. */
static void
refused_jwk(cJSON *jwk, const char *part)
{
    char why[PKEY_WHY_MAX];
    struct pkey *k = (struct pkey *)1;

    ck_assert_int_eq(pkey_from_jwk(jwk, &k, why), ERR_INVAL);
    ck_assert_ptr_null(k);
    if (strstr(why, part) == NULL)
        ck_abort_msg("why \"%s\" does not contain \"%s\"", why, part);
    cJSON_Delete(jwk);
}

/* check verifies jws with k and returns the result; p is cleared either way. */
static enum err
check(const struct pkey *k, const char **why)
{
    struct jws_parts p;
    const char *w = NULL;
    enum err rc;

    rc = pkey_verify_jws(k, jws, strlen(jws), &p, &w);
    if (rc == ERR_OK) {
        ck_assert_ptr_nonnull(p.payload);
        ck_assert_str_eq(p.payload_raw, PAYLOAD);
    } else {
        ck_assert_ptr_null(p.header);
        ck_assert_ptr_null(p.payload);
        ck_assert_ptr_nonnull(w);
    }
    jws_parts_clear(&p);
    if (why != NULL)
        *why = w;
    return rc;
}

/* refused asserts jws is refused by k with rc and a sentence containing part. */
static void
refused(const struct pkey *k, enum err want, const char *part)
{
    const char *why;

    ck_assert_int_eq(check(k, &why), want);
    if (strstr(why, part) == NULL)
        ck_abort_msg("why \"%s\" does not contain \"%s\"", why, part);
}

/* sign signs PAYLOAD under header with e into jws. */
static void
sign(EVP_PKEY *e, bool sha384, const char *header)
{
    tu_sign_jws(e, sha384, false, header, PAYLOAD, jws, sizeof(jws));
}

START_TEST(test_rsa_key_verifies_rs256_and_rs384)
{
    struct pkey *k = key_of(rsa, NULL);

    ck_assert_int_eq(pkey_type_of(k), PKEY_RSA);
    sign(rsa, false, "{\"alg\":\"RS256\"}");
    ck_assert_int_eq(check(k, NULL), ERR_OK);
    sign(rsa, true, "{\"alg\":\"RS384\",\"typ\":\"JWT\"}");
    ck_assert_int_eq(check(k, NULL), ERR_OK);
    /* The header's alg decides the hash only among what the key allows. */
    sign(rsa, false, "{\"alg\":\"RS384\"}");
    refused(k, ERR_BADSIG, "bad signature");
    pkey_free(k);
}
END_TEST

START_TEST(test_rsa_registered_alg_decides)
{
    struct pkey *k = key_of(rsa, "RS384");

    sign(rsa, true, "{\"alg\":\"RS384\"}");
    ck_assert_int_eq(check(k, NULL), ERR_OK);
    sign(rsa, false, "{\"alg\":\"RS256\"}");
    refused(k, ERR_INVAL, "must be RS384");
    pkey_free(k);
    k = key_of(rsa, "RS256");
    ck_assert_int_eq(check(k, NULL), ERR_OK);
    sign(rsa, true, "{\"alg\":\"RS384\"}");
    refused(k, ERR_INVAL, "must be RS256");
    pkey_free(k);
}
END_TEST

START_TEST(test_ec_keys_verify_their_one_alg)
{
    struct pkey *k256 = key_of(p256, NULL), *k384 = key_of(p384, "ES384");

    ck_assert_int_eq(pkey_type_of(k256), PKEY_P256);
    ck_assert_int_eq(pkey_type_of(k384), PKEY_P384);
    sign(p256, false, "{\"alg\":\"ES256\"}");
    ck_assert_int_eq(check(k256, NULL), ERR_OK);
    sign(p384, true, "{\"alg\":\"ES384\",\"typ\":\"JWT\"}");
    ck_assert_int_eq(check(k384, NULL), ERR_OK);
    /* ES256 (SHA-256) by a P-384 key, ES384 by a P-256 key: never, signed properly or not. */
    sign(p384, false, "{\"alg\":\"ES256\"}");
    refused(k384, ERR_INVAL, "must be ES384");
    sign(p256, true, "{\"alg\":\"ES384\"}");
    refused(k256, ERR_INVAL, "must be ES256");
    pkey_free(k256);
    pkey_free(k384);
}
END_TEST

START_TEST(test_ed25519_key_verifies_eddsa)
{
    struct keys_pair *kp = tu_key(0x11);
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct pkey *k, *j;
    char x[64], *s = NULL;
    cJSON *jwk;

    keys_public(kp, pk);
    ck_assert_int_eq(pkey_from_ed25519(pk, &k), ERR_OK);
    ck_assert_int_eq(pkey_type_of(k), PKEY_OKP);
    ck_assert_int_eq(jws_sign(kp, NULL, NULL, PAYLOAD, strlen(PAYLOAD), &s), ERR_OK);
    snprintf(jws, sizeof(jws), "%s", s);
    ck_assert_int_eq(check(k, NULL), ERR_OK);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    jwk = cJSON_CreateObject();
    cJSON_AddStringToObject(jwk, "kty", "OKP");
    cJSON_AddStringToObject(jwk, "crv", "Ed25519");
    cJSON_AddStringToObject(jwk, "x", x);
    cJSON_AddStringToObject(jwk, "alg", "Ed25519");
    j = from_jwk(jwk);
    ck_assert_int_eq(check(j, NULL), ERR_OK);
    sign(rsa, false, "{\"alg\":\"RS256\"}");
    refused(k, ERR_INVAL, "neither EdDSA nor Ed25519");
    free(s);
    pkey_free(k);
    pkey_free(j);
    keys_free(kp);
}
END_TEST

START_TEST(test_alg_swaps_are_refused_before_any_crypto)
{
    struct pkey *kr = key_of(rsa, NULL), *ke = key_of(p256, NULL);

    /* RS256 on an EC key, ES256 on an RSA key, each really signed that way. */
    sign(rsa, false, "{\"alg\":\"RS256\"}");
    refused(ke, ERR_INVAL, "must be ES256");
    sign(p256, false, "{\"alg\":\"ES256\"}");
    refused(kr, ERR_INVAL, "must be RS256 or RS384");
    pkey_free(kr);
    pkey_free(ke);
}
END_TEST

START_TEST(test_hs256_with_the_public_key_as_secret_is_refused)
{
    static const char hdr[] = "{\"alg\":\"HS256\"}";
    struct pkey *kr = key_of(rsa, NULL), *ke = key_of(p384, NULL);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    cJSON *jwk = tu_jwk(rsa);
    char *secret = cJSON_PrintUnformatted(jwk);
    size_t n;

    ck_assert_int_eq(b64_encode((const uint8_t *)hdr, strlen(hdr), B64_URL, jws, sizeof(jws)),
                     ERR_OK);
    n = strlen(jws);
    jws[n++] = '.';
    ck_assert_int_eq(
        b64_encode((const uint8_t *)PAYLOAD, strlen(PAYLOAD), B64_URL, jws + n, sizeof(jws) - n),
        ERR_OK);
    n += strlen(jws + n);
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)jws, n, mac, &mac_len));
    jws[n++] = '.';
    ck_assert_int_eq(b64_encode(mac, mac_len, B64_URL, jws + n, sizeof(jws) - n), ERR_OK);
    refused(kr, ERR_INVAL, "must be RS256 or RS384");
    refused(ke, ERR_INVAL, "must be ES384");
    free(secret);
    cJSON_Delete(jwk);
    pkey_free(kr);
    pkey_free(ke);
}
END_TEST

START_TEST(test_alg_none_is_refused)
{
    struct pkey *kr = key_of(rsa, NULL), *ke = key_of(p256, NULL);

    sign(rsa, false, "{\"alg\":\"none\"}");
    *strrchr(jws, '.') = '\0';
    strcat(jws, ".");
    refused(kr, ERR_INVAL, "must be RS256 or RS384");
    refused(ke, ERR_INVAL, "must be ES256");
    pkey_free(kr);
    pkey_free(ke);
}
END_TEST

START_TEST(test_ps256_is_refused)
{
    static const char hdr[] = "{\"alg\":\"PS256\"}";
    struct pkey *k = key_of(rsa, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t sig[512];
    size_t n, sig_len = sizeof(sig);

    /* A real RSASSA-PSS signature by the registered key: still refused, by its alg. */
    ck_assert_int_eq(b64_encode((const uint8_t *)hdr, strlen(hdr), B64_URL, jws, sizeof(jws)),
                     ERR_OK);
    n = strlen(jws);
    jws[n++] = '.';
    ck_assert_int_eq(
        b64_encode((const uint8_t *)PAYLOAD, strlen(PAYLOAD), B64_URL, jws + n, sizeof(jws) - n),
        ERR_OK);
    n += strlen(jws + n);
    ck_assert_int_eq(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, rsa), 1);
    ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 0);
    ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)jws, n), 1);
    jws[n++] = '.';
    ck_assert_int_eq(b64_encode(sig, sig_len, B64_URL, jws + n, sizeof(jws) - n), ERR_OK);
    refused(k, ERR_INVAL, "must be RS256 or RS384");
    EVP_MD_CTX_free(ctx);
    pkey_free(k);
}
END_TEST

START_TEST(test_another_keys_signature_is_refused)
{
    struct pkey *kr = key_of(rsa, NULL), *ke = key_of(p384, NULL);

    sign(rsa_other, true, "{\"alg\":\"RS384\"}");
    refused(kr, ERR_BADSIG, "bad signature");
    sign(p384_other, true, "{\"alg\":\"ES384\"}");
    refused(ke, ERR_BADSIG, "bad signature");
    pkey_free(kr);
    pkey_free(ke);
}
END_TEST

START_TEST(test_forbidden_headers_are_refused)
{
    struct pkey *k = key_of(p256, NULL);

    sign(p256, false, "{\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\"}}");
    refused(k, ERR_INVAL, "forbidden member");
    sign(p256, false, "{\"alg\":\"ES256\",\"jku\":\"https://evil.example/jwks\"}");
    refused(k, ERR_INVAL, "forbidden member");
    sign(p256, false, "{\"alg\":\"ES256\",\"alg\":\"ES256\"}");
    refused(k, ERR_INVAL, "duplicate member");
    pkey_free(k);
}
END_TEST

/* every_bit asserts that every truncation and flipped bit of the valid jws is refused by k. */
static void
every_bit(const struct pkey *k)
{
    char good[JWS_CAP];
    size_t len, i;
    int bit;

    ck_assert_int_eq(check(k, NULL), ERR_OK);
    memcpy(good, jws, sizeof(good));
    len = strlen(good);
    for (i = 0; i < len; i++) {
        memcpy(jws, good, i);
        jws[i] = '\0';
        ck_assert_int_ne(check(k, NULL), ERR_OK);
    }
    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 7; bit++) {
            memcpy(jws, good, len + 1);
            jws[i] = (char)(jws[i] ^ (1 << bit));
            if (jws[i] == '\0')
                continue;
            ck_assert_msg(check(k, NULL) != ERR_OK, "flipping bit %d of byte %zu was accepted", bit,
                          i);
        }
    }
}

START_TEST(test_every_truncation_and_flipped_bit_is_refused_rs384)
{
    struct pkey *k = key_of(rsa, NULL);

    sign(rsa, true, "{\"alg\":\"RS384\"}");
    every_bit(k);
    pkey_free(k);
}
END_TEST

START_TEST(test_every_truncation_and_flipped_bit_is_refused_es256)
{
    struct pkey *k = key_of(p256, NULL);

    sign(p256, false, "{\"alg\":\"ES256\"}");
    every_bit(k);
    pkey_free(k);
}
END_TEST

START_TEST(test_every_truncation_and_flipped_bit_is_refused_es384)
{
    struct pkey *k = key_of(p384, NULL);

    sign(p384, true, "{\"alg\":\"ES384\"}");
    every_bit(k);
    pkey_free(k);
}
END_TEST

/* resign replaces jws's signature by sig[0..len). */
static void
resign(const uint8_t *sig, size_t len)
{
    char *dot = strrchr(jws, '.') + 1;

    ck_assert_int_eq(b64_encode(sig, len, B64_URL, dot, sizeof(jws) - (size_t)(dot - jws)), ERR_OK);
}

START_TEST(test_ec_signature_of_the_wrong_length_is_refused)
{
    struct pkey *k = key_of(p256, NULL), *k384 = key_of(p384, NULL);
    uint8_t sig[JWS_SIG_MAX];
    size_t n;

    sign(p256, false, "{\"alg\":\"ES256\"}");
    ck_assert_int_eq(b64_decode(strrchr(jws, '.') + 1, strlen(strrchr(jws, '.') + 1), B64_URL, sig,
                                sizeof(sig), &n),
                     ERR_OK);
    ck_assert_uint_eq(n, 64);
    resign(sig, 63);
    refused(k, ERR_INVAL, "64 bytes, r ‖ s");
    sig[64] = 0;
    resign(sig, 65);
    refused(k, ERR_INVAL, "64 bytes, r ‖ s");
    /* r ‖ s with r and s zero-padded to P-384's size is still the wrong length. */
    memset(sig + 64, 0, 32);
    resign(sig, 96);
    refused(k, ERR_INVAL, "64 bytes");
    resign(sig, 0);
    refused(k, ERR_INVAL, "signature");
    /* What OpenSSL makes by itself is DER, not the JWS form. */
    tu_sign_jws(p256, false, true, "{\"alg\":\"ES256\"}", PAYLOAD, jws, sizeof(jws));
    refused(k, ERR_INVAL, "not DER");
    tu_sign_jws(p384, true, true, "{\"alg\":\"ES384\"}", PAYLOAD, jws, sizeof(jws));
    refused(k384, ERR_INVAL, "96 bytes, r ‖ s");
    pkey_free(k);
    pkey_free(k384);
}
END_TEST

START_TEST(test_ec_signature_with_zero_or_big_r_s_is_refused)
{
    struct pkey *k = key_of(p256, NULL);
    uint8_t sig[64];

    sign(p256, false, "{\"alg\":\"ES256\"}");
    memset(sig, 0, sizeof(sig));
    resign(sig, sizeof(sig));
    refused(k, ERR_BADSIG, "bad signature");
    memset(sig, 0xff, sizeof(sig));
    resign(sig, sizeof(sig));
    refused(k, ERR_BADSIG, "bad signature");
    pkey_free(k);
}
END_TEST

START_TEST(test_rsa_signature_of_the_wrong_length_is_refused)
{
    struct pkey *k = key_of(rsa, NULL);
    uint8_t sig[JWS_SIG_MAX];
    size_t n;

    sign(rsa, false, "{\"alg\":\"RS256\"}");
    ck_assert_int_eq(b64_decode(strrchr(jws, '.') + 1, strlen(strrchr(jws, '.') + 1), B64_URL, sig,
                                sizeof(sig), &n),
                     ERR_OK);
    ck_assert_uint_eq(n, 256);
    resign(sig, 255);
    refused(k, ERR_INVAL, "as long as the RSA modulus");
    memmove(sig + 1, sig, 256);
    sig[0] = 0;
    resign(sig, 257);
    refused(k, ERR_INVAL, "as long as the RSA modulus");
    pkey_free(k);
}
END_TEST

START_TEST(test_private_members_are_refused)
{
    static const char *const members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    static const char okp_d[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
                                "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"d\":\"AA\"}";
    cJSON *jwk;
    char part[32];
    size_t i;

    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        snprintf(part, sizeof(part), "holds \"%s\", a private key member", members[i]);
        jwk = tu_jwk(rsa);
        cJSON_AddStringToObject(jwk, members[i], "AQAB");
        refused_jwk(jwk, part);
    }
    jwk = tu_jwk(p384);
    cJSON_AddStringToObject(jwk, "d", "AQAB");
    refused_jwk(jwk, "holds \"d\"");
    ck_assert_int_eq(jstrict_parse(okp_d, strlen(okp_d), &jwk, NULL), ERR_OK);
    refused_jwk(jwk, "holds \"d\"");
}
END_TEST

START_TEST(test_short_rsa_modulus_is_refused)
{
    refused_jwk(tu_jwk(rsa_short), "modulus \"n\" is 1024 bits; it must be 2048 to 8192 bits");
}
END_TEST

START_TEST(test_malformed_rsa_members_are_refused)
{
    cJSON *jwk;
    char *n, big[2000];

    /* A leading zero octet: "AA" + the modulus, re-encoded. */
    jwk = tu_jwk(rsa);
    n = cJSON_GetObjectItemCaseSensitive(jwk, "n")->valuestring;
    {
        uint8_t bin[600];
        size_t len;

        bin[0] = 0;
        ck_assert_int_eq(b64_decode(n, strlen(n), B64_URL, bin + 1, sizeof(bin) - 1, &len), ERR_OK);
        ck_assert_int_eq(b64_encode(bin, len + 1, B64_URL, big, sizeof(big)), ERR_OK);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(jwk, "n", cJSON_CreateString(big));
    refused_jwk(jwk, "leading zero octet");
    jwk = tu_jwk(rsa);
    cJSON_ReplaceItemInObjectCaseSensitive(jwk, "e", cJSON_CreateString("AQAA"));
    refused_jwk(jwk, "must be odd");
    jwk = tu_jwk(rsa);
    cJSON_ReplaceItemInObjectCaseSensitive(jwk, "e", cJSON_CreateString("AQAB="));
    refused_jwk(jwk, "base64url");
    jwk = tu_jwk(rsa);
    cJSON_DeleteItemFromObjectCaseSensitive(jwk, "e");
    refused_jwk(jwk, "\"e\" must be a string");
    jwk = tu_jwk(rsa);
    cJSON_AddStringToObject(jwk, "x5c", "AAAA");
    refused_jwk(jwk, "may hold only kty, n, e");
}
END_TEST

/* off_curve replaces coordinate name of an EC JWK with its last bit flipped. */
static void
off_curve(cJSON *jwk, const char *name)
{
    uint8_t bin[64];
    char text[100];
    const char *s = cJSON_GetObjectItemCaseSensitive(jwk, name)->valuestring;
    size_t n;

    ck_assert_int_eq(b64_decode(s, strlen(s), B64_URL, bin, sizeof(bin), &n), ERR_OK);
    bin[n - 1] ^= 1;
    ck_assert_int_eq(b64_encode(bin, n, B64_URL, text, sizeof(text)), ERR_OK);
    cJSON_ReplaceItemInObjectCaseSensitive(jwk, name, cJSON_CreateString(text));
}

START_TEST(test_point_off_the_curve_is_refused)
{
    cJSON *jwk;

    jwk = tu_jwk(p256);
    off_curve(jwk, "y");
    refused_jwk(jwk, "is not on the P-256 curve");
    jwk = tu_jwk(p384);
    off_curve(jwk, "x");
    refused_jwk(jwk, "is not on the P-384 curve");
    /* The P-256 point given as P-384: wrong coordinate size. */
    jwk = tu_jwk(p256);
    cJSON_ReplaceItemInObjectCaseSensitive(jwk, "crv", cJSON_CreateString("P-384"));
    refused_jwk(jwk, "must each be 48 bytes");
}
END_TEST

START_TEST(test_unknown_curve_or_kty_is_refused)
{
    static const char *const curves[] = {"P-521", "secp256k1", "p-256", "X25519"};
    static const char oct[] = "{\"kty\":\"oct\",\"k\":\"AAAA\"}";
    cJSON *jwk;
    size_t i;

    for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        jwk = tu_jwk(p256);
        cJSON_ReplaceItemInObjectCaseSensitive(jwk, "crv", cJSON_CreateString(curves[i]));
        refused_jwk(jwk, "\"crv\" must be \"P-256\" (for ES256) or \"P-384\"");
    }
    jwk = tu_jwk(p256);
    cJSON_ReplaceItemInObjectCaseSensitive(jwk, "kty", cJSON_CreateString("oct"));
    refused_jwk(jwk, "\"kty\" must be");
    ck_assert_int_eq(jstrict_parse(oct, strlen(oct), &jwk, NULL), ERR_OK);
    refused_jwk(jwk, "holds \"k\"");
}
END_TEST

START_TEST(test_alg_the_key_cannot_use_is_refused)
{
    static const struct {
        EVP_PKEY **key;
        const char *alg, *part;
    } cases[] = {
        {&rsa, "PS256", "must be RS256 or RS384"}, {&rsa, "ES256", "must be RS256 or RS384"},
        {&rsa, "RS512", "must be RS256 or RS384"}, {&rsa, "none", "must be RS256 or RS384"},
        {&rsa, "HS256", "must be RS256 or RS384"}, {&p256, "ES384", "must be ES256"},
        {&p256, "RS256", "must be ES256"},         {&p384, "ES256", "must be ES384"},
        {&p384, "EdDSA", "must be ES384"},
    };
    cJSON *jwk;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jwk = tu_jwk(*cases[i].key);
        cJSON_AddStringToObject(jwk, "alg", cases[i].alg);
        refused_jwk(jwk, cases[i].part);
    }
    jwk = tu_jwk(p256);
    cJSON_AddStringToObject(jwk, "use", "enc");
    refused_jwk(jwk, "\"use\", if given, must be \"sig\"");
}
END_TEST

START_TEST(test_jwk_round_trip_and_thumbprint)
{
    /* RFC 7638 §3.1: the example RSA key and its thumbprint. */
    static const char rfc[] =
        "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zw"
        "u1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6"
        "Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbI"
        "SD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awap"
        "JzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
    uint8_t thumb[PKEY_THUMBPRINT_BYTES], again[PKEY_THUMBPRINT_BYTES];
    char b64[64], *text;
    struct pkey *k, *k2;
    cJSON *jwk;

    ck_assert_int_eq(jstrict_parse(rfc, strlen(rfc), &jwk, NULL), ERR_OK);
    k = from_jwk(jwk);
    pkey_thumbprint(k, thumb);
    ck_assert_int_eq(b64_encode(thumb, sizeof(thumb), B64_URL, b64, sizeof(b64)), ERR_OK);
    ck_assert_str_eq(b64, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    ck_assert(pkey_kid_matches(k, "2011-04-29"));
    ck_assert(pkey_kid_matches(k, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
    ck_assert(!pkey_kid_matches(k, "2011-04-30"));
    ck_assert(!pkey_kid_matches(k, ""));
    /* What is registered reads back to the same key, alg and kid kept. */
    jwk = pkey_jwk(k);
    text = cJSON_PrintUnformatted(jwk);
    ck_assert_str_eq(text, rfc);
    k2 = from_jwk(jwk);
    pkey_thumbprint(k2, again);
    ck_assert_mem_eq(thumb, again, sizeof(thumb));
    free(text);
    pkey_free(k);
    pkey_free(k2);
}
END_TEST

START_TEST(test_ed25519_jwk_is_kept_as_before)
{
    static const char in[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
                             "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"alg\":\"EdDSA\","
                             "\"kid\":\"k\",\"use\":\"sig\"}";
    struct pkey *k;
    cJSON *jwk;
    char *text;

    ck_assert_int_eq(jstrict_parse(in, strlen(in), &jwk, NULL), ERR_OK);
    k = from_jwk(jwk);
    jwk = pkey_jwk(k);
    text = cJSON_PrintUnformatted(jwk);
    ck_assert_str_eq(text, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
                           "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}");
    free(text);
    cJSON_Delete(jwk);
    pkey_free(k);
}
END_TEST

START_TEST(test_decode_accepts_only_supported_algs)
{
    static const char *const good[] = {"EdDSA", "Ed25519", "RS256", "RS384", "ES256", "ES384"};
    static const char *const bad[] = {"none", "HS256", "PS256", "ES512", "RS512", "es256"};
    struct jws_parts p;
    const char *why;
    char hdr[64];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", good[i]);
        sign(p256, false, hdr);
        ck_assert_int_eq(pkey_decode(jws, strlen(jws), &p, &why), ERR_OK);
        jws_parts_clear(&p);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", bad[i]);
        sign(p256, false, hdr);
        ck_assert_int_eq(pkey_decode(jws, strlen(jws), &p, &why), ERR_INVAL);
        ck_assert_ptr_null(p.header);
    }
}
END_TEST

Suite *
pkey_suite(void)
{
    Suite *s = suite_create("pkey");
    TCase *tc = tcase_create("pkey");

    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_rsa_key_verifies_rs256_and_rs384);
    tcase_add_test(tc, test_rsa_registered_alg_decides);
    tcase_add_test(tc, test_ec_keys_verify_their_one_alg);
    tcase_add_test(tc, test_ed25519_key_verifies_eddsa);
    tcase_add_test(tc, test_alg_swaps_are_refused_before_any_crypto);
    tcase_add_test(tc, test_hs256_with_the_public_key_as_secret_is_refused);
    tcase_add_test(tc, test_alg_none_is_refused);
    tcase_add_test(tc, test_ps256_is_refused);
    tcase_add_test(tc, test_another_keys_signature_is_refused);
    tcase_add_test(tc, test_forbidden_headers_are_refused);
    tcase_add_test(tc, test_every_truncation_and_flipped_bit_is_refused_rs384);
    tcase_add_test(tc, test_every_truncation_and_flipped_bit_is_refused_es256);
    tcase_add_test(tc, test_every_truncation_and_flipped_bit_is_refused_es384);
    tcase_add_test(tc, test_ec_signature_of_the_wrong_length_is_refused);
    tcase_add_test(tc, test_ec_signature_with_zero_or_big_r_s_is_refused);
    tcase_add_test(tc, test_rsa_signature_of_the_wrong_length_is_refused);
    tcase_add_test(tc, test_private_members_are_refused);
    tcase_add_test(tc, test_short_rsa_modulus_is_refused);
    tcase_add_test(tc, test_malformed_rsa_members_are_refused);
    tcase_add_test(tc, test_point_off_the_curve_is_refused);
    tcase_add_test(tc, test_unknown_curve_or_kty_is_refused);
    tcase_add_test(tc, test_alg_the_key_cannot_use_is_refused);
    tcase_add_test(tc, test_jwk_round_trip_and_thumbprint);
    tcase_add_test(tc, test_ed25519_jwk_is_kept_as_before);
    tcase_add_test(tc, test_decode_accepts_only_supported_algs);
    suite_add_tcase(s, tc);
    return s;
}
