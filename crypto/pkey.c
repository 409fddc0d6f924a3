/*
 * pkey: public keys from JWKs, and JWS verification with the algorithm the key allows.
 * Ed25519 goes through crypto/sig.c (libsodium); RSA and EC through OpenSSL 3's libcrypto,
 * whose error queue is cleared after every failure so it never leaks into h2o's TLS code.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/jws.h"
#include "consentd/keys.h"
#include "consentd/pkey.h"
#include "consentd/sig.h"

#define PKEY_RSA_MAX_BYTES (PKEY_RSA_MAX_BITS / 8)
#define PKEY_E_MAX_BYTES   32   /* a public exponent below 2^256 */
#define PKEY_EC_MAX_BYTES  48   /* a P-384 coordinate */
#define PKEY_B64_MAX       1400 /* base64url of PKEY_RSA_MAX_BYTES, with room to spare */
#define PKEY_ALG_MAX       7    /* "EdDSA", "Ed25519", "RS256" … */
#define PKEY_THUMB_B64     43   /* base64url of a thumbprint */

struct pkey {
    enum pkey_type type;
    uint8_t ed[KEYS_PUBLIC_BYTES]; /* PKEY_OKP */
    EVP_PKEY *evp;                 /* PKEY_RSA, PKEY_P256, PKEY_P384 */
    size_t sig_len;                /* RSA: the modulus's bytes; EC: r ‖ s */
    char *a, *b;                   /* base64url: x (OKP); n, e (RSA); x, y (EC) */
    char alg[PKEY_ALG_MAX + 1];    /* the JWK's "alg", "" without */
    char kid[PKEY_KID_MAX + 1];    /* the JWK's "kid", "" without */
    uint8_t thumb[PKEY_THUMBPRINT_BYTES];
};

/* What each kind of key lets a JWS header say, and the sentence refusing anything else. */
static const char *const okp_algs[] = {"EdDSA", "Ed25519"};
static const char *const rsa_algs[] = {"RS256", "RS384"};
static const char *const rs256_algs[] = {"RS256"};
static const char *const rs384_algs[] = {"RS384"};
static const char *const es256_algs[] = {"ES256"};
static const char *const es384_algs[] = {"ES384"};
static const char *const any_algs[] = {"EdDSA", "Ed25519", "RS256", "RS384", "ES256", "ES384"};

/* Members that only a private (or symmetric) JWK has. */
static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

void
pkey_free(struct pkey *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->evp);
    free(k->a);
    free(k->b);
    free(k);
}

enum pkey_type
pkey_type_of(const struct pkey *k)
{
    return k->type;
}

/* pkey_str returns member name of o if it is a string, else NULL; *present says if it exists. */
static const char *
pkey_str(const cJSON *o, const char *name, bool *present)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    *present = m != NULL;
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* pkey_only is true if o holds no member outside names[0..n). */
static bool
pkey_only(const cJSON *o, const char *const *names, size_t n)
{
    const cJSON *m;
    size_t i;

    cJSON_ArrayForEach(m, o)
    {
        for (i = 0; i < n; i++)
            if (m->string != NULL && strcmp(m->string, names[i]) == 0)
                break;
        if (i == n)
            return false;
    }
    return true;
}

/*
 * pkey_b64 decodes member name of jwk (base64url, strict) into out (cap bytes), setting *len.
 * False, with a sentence in why, if it is missing, not a string or not base64url, or decodes
 * to more than cap bytes.
 */
static bool
pkey_b64(const cJSON *jwk, const char *name, uint8_t *out, size_t cap, size_t *len,
         char why[static PKEY_WHY_MAX])
{
    bool present;
    const char *s = pkey_str(jwk, name, &present);
    size_t n = s == NULL ? 0 : strlen(s);

    *len = 0;
    if (s == NULL || n == 0 || n > PKEY_B64_MAX ||
        b64_decode(s, n, B64_URL, out, cap, len) != ERR_OK || *len == 0) {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's \"%s\" must be a string of unpadded base64url of at most %zu bytes",
                 name, cap);
        *len = 0;
        return false;
    }
    return true;
}

/* pkey_thumb computes the RFC 7638 thumbprint: SHA-256 of the required members, sorted. */
static enum err
pkey_thumb(struct pkey *k)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    enum err rc = ERR_NOMEM;

    if (o == NULL)
        goto out;
    /* cJSON keeps insertion order, so the members go in lexicographic order. */
    switch (k->type) {
    case PKEY_OKP:
        if (cJSON_AddStringToObject(o, "crv", "Ed25519") == NULL ||
            cJSON_AddStringToObject(o, "kty", "OKP") == NULL ||
            cJSON_AddStringToObject(o, "x", k->a) == NULL)
            goto out;
        break;
    case PKEY_RSA:
        if (cJSON_AddStringToObject(o, "e", k->b) == NULL ||
            cJSON_AddStringToObject(o, "kty", "RSA") == NULL ||
            cJSON_AddStringToObject(o, "n", k->a) == NULL)
            goto out;
        break;
    case PKEY_P256:
    case PKEY_P384:
        if (cJSON_AddStringToObject(o, "crv", k->type == PKEY_P256 ? "P-256" : "P-384") == NULL ||
            cJSON_AddStringToObject(o, "kty", "EC") == NULL ||
            cJSON_AddStringToObject(o, "x", k->a) == NULL ||
            cJSON_AddStringToObject(o, "y", k->b) == NULL)
            goto out;
        break;
    }
    text = cJSON_PrintUnformatted(o);
    if (text == NULL)
        goto out;
    hash_sha256((const uint8_t *)text, strlen(text), k->thumb);
    rc = ERR_OK;
out:
    free(text);
    cJSON_Delete(o);
    return rc;
}

/* pkey_dup copies s[0..) into *out; false when out of memory. */
static bool
pkey_dup(const char *s, char **out)
{
    size_t n = strlen(s) + 1;

    *out = malloc(n);
    if (*out == NULL)
        return false;
    memcpy(*out, s, n);
    return true;
}

/* pkey_okp reads an OKP Ed25519 JWK's "crv" and "x" into k. */
static enum err
pkey_okp(const cJSON *jwk, struct pkey *k, char why[static PKEY_WHY_MAX])
{
    bool present;
    const char *crv = pkey_str(jwk, "crv", &present);
    size_t n;

    if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
        snprintf(why, PKEY_WHY_MAX, "an OKP JWK's \"crv\" must be \"Ed25519\"");
        return ERR_INVAL;
    }
    if (!pkey_b64(jwk, "x", k->ed, sizeof(k->ed), &n, why) || n != KEYS_PUBLIC_BYTES) {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's \"x\" must be the 32-byte public key (Ed25519) in unpadded "
                 "base64url (43 characters)");
        return ERR_INVAL;
    }
    if (!pkey_dup(pkey_str(jwk, "x", &present), &k->a))
        return ERR_NOMEM;
    k->type = PKEY_OKP;
    return ERR_OK;
}

/* pkey_bits counts the significant bits of the big-endian b[0..len), b[0] != 0. */
static size_t
pkey_bits(const uint8_t *b, size_t len)
{
    size_t bits = len * 8;
    uint8_t top = b[0];

    while ((top & 0x80) == 0) {
        top = (uint8_t)(top << 1);
        bits--;
    }
    return bits;
}

/* pkey_rsa reads an RSA JWK's "n" and "e" into k, through OSSL_PARAM_BLD. */
static enum err
pkey_rsa(const cJSON *jwk, struct pkey *k, char why[static PKEY_WHY_MAX])
{
    uint8_t n[PKEY_RSA_MAX_BYTES + 1], e[PKEY_E_MAX_BYTES];
    size_t nlen, elen, bits;
    bool present;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    enum err rc = ERR_INVAL;

    if (!pkey_b64(jwk, "n", n, sizeof(n), &nlen, why) ||
        !pkey_b64(jwk, "e", e, sizeof(e), &elen, why))
        goto out;
    if (n[0] == 0 || e[0] == 0) {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's \"%s\" has a leading zero octet: RFC 7518 §6.3.1 wants the shortest "
                 "big-endian form",
                 n[0] == 0 ? "n" : "e");
        goto out;
    }
    bits = pkey_bits(n, nlen);
    if (bits < PKEY_RSA_MIN_BITS || bits > PKEY_RSA_MAX_BITS) {
        snprintf(why, PKEY_WHY_MAX,
                 "the RSA modulus \"n\" is %zu bits; it must be %d to %d bits (a new key: "
                 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 or more)",
                 bits, PKEY_RSA_MIN_BITS, PKEY_RSA_MAX_BITS);
        goto out;
    }
    if ((n[nlen - 1] & 1) == 0 || (e[elen - 1] & 1) == 0 || (elen == 1 && e[0] < 3)) {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's \"n\" and \"e\" must be odd, and \"e\" at least 3 (usually 65537, "
                 "\"AQAB\"): this is not an RSA public key");
        goto out;
    }
    rc = ERR_NOMEM;
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
        goto out;
    if (EVP_PKEY_fromdata(ctx, &k->evp, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        snprintf(why, PKEY_WHY_MAX, "the JWK's \"n\" and \"e\" are not an RSA public key");
        rc = ERR_INVAL;
        goto out;
    }
    if (!pkey_dup(pkey_str(jwk, "n", &present), &k->a) ||
        !pkey_dup(pkey_str(jwk, "e", &present), &k->b))
        goto out;
    k->type = PKEY_RSA;
    k->sig_len = nlen;
    rc = ERR_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}

/* pkey_ec reads an EC JWK's "crv", "x" and "y" into k, and checks the point is on the curve. */
static enum err
pkey_ec(const cJSON *jwk, struct pkey *k, char why[static PKEY_WHY_MAX])
{
    uint8_t pub[1 + 2 * PKEY_EC_MAX_BYTES];
    const char *crv, *group;
    size_t size, xlen, ylen;
    bool present;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    enum err rc = ERR_INVAL;

    crv = pkey_str(jwk, "crv", &present);
    if (crv != NULL && strcmp(crv, "P-256") == 0) {
        k->type = PKEY_P256;
        group = "prime256v1";
        size = 32;
    } else if (crv != NULL && strcmp(crv, "P-384") == 0) {
        k->type = PKEY_P384;
        group = "secp384r1";
        size = 48;
    } else {
        snprintf(why, PKEY_WHY_MAX,
                 "an EC JWK's \"crv\" must be \"P-256\" (for ES256) or \"P-384\" (for ES384)%s",
                 crv != NULL && strcmp(crv, "P-521") == 0 ? "; P-521 is not supported" : "");
        goto out;
    }
    if (!pkey_b64(jwk, "x", pub + 1, size, &xlen, why) ||
        !pkey_b64(jwk, "y", pub + 1 + size, size, &ylen, why) || xlen != size || ylen != size) {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's \"x\" and \"y\" must each be %zu bytes (the full size of a %s "
                 "coordinate) in unpadded base64url",
                 size, crv);
        goto out;
    }
    pub[0] = 0x04; /* an uncompressed point */
    rc = ERR_NOMEM;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * size) != 1)
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
        goto out;
    /* Decoding the point refuses one off the curve; the check below says so again. */
    if (EVP_PKEY_fromdata(ctx, &k->evp, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
        (check = EVP_PKEY_CTX_new_from_pkey(NULL, k->evp, NULL)) == NULL ||
        EVP_PKEY_public_check_quick(check) != 1) {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's point (\"x\", \"y\") is not on the %s curve: this is not a %s "
                 "public key",
                 crv, crv);
        rc = ERR_INVAL;
        goto out;
    }
    if (!pkey_dup(pkey_str(jwk, "x", &present), &k->a) ||
        !pkey_dup(pkey_str(jwk, "y", &present), &k->b))
        goto out;
    k->sig_len = 2 * size;
    rc = ERR_OK;
out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

/* pkey_alg_ok checks a JWK's "alg" against the algorithms its kind of key can use. */
static enum err
pkey_alg_ok(const struct pkey *k, const char *alg, char why[static PKEY_WHY_MAX])
{
    switch (k->type) {
    case PKEY_OKP:
        if (strcmp(alg, "EdDSA") == 0 || strcmp(alg, "Ed25519") == 0)
            return ERR_OK;
        snprintf(why, PKEY_WHY_MAX, "an Ed25519 JWK's \"alg\", if given, must be EdDSA or Ed25519");
        return ERR_INVAL;
    case PKEY_RSA:
        if (strcmp(alg, "RS256") == 0 || strcmp(alg, "RS384") == 0)
            return ERR_OK;
        snprintf(why, PKEY_WHY_MAX,
                 "an RSA JWK's \"alg\", if given, must be RS256 or RS384 (RSASSA-PKCS1-v1_5); "
                 "%.16s is not supported",
                 alg);
        return ERR_INVAL;
    case PKEY_P256:
        if (strcmp(alg, "ES256") == 0)
            return ERR_OK;
        snprintf(why, PKEY_WHY_MAX, "a P-256 JWK's \"alg\", if given, must be ES256");
        return ERR_INVAL;
    case PKEY_P384:
        if (strcmp(alg, "ES384") == 0)
            return ERR_OK;
        snprintf(why, PKEY_WHY_MAX, "a P-384 JWK's \"alg\", if given, must be ES384");
        return ERR_INVAL;
    }
    return ERR_INVAL;
}

/* pkey_common checks "use", "kid" and "alg", which every kind of key may have. */
static enum err
pkey_common(const cJSON *jwk, struct pkey *k, char why[static PKEY_WHY_MAX])
{
    bool present;
    const char *use = pkey_str(jwk, "use", &present);
    const char *kid, *alg;

    if (present && (use == NULL || strcmp(use, "sig") != 0)) {
        snprintf(why, PKEY_WHY_MAX, "the JWK's \"use\", if given, must be \"sig\"");
        return ERR_INVAL;
    }
    kid = pkey_str(jwk, "kid", &present);
    if (present && (kid == NULL || strlen(kid) == 0 || strlen(kid) > PKEY_KID_MAX)) {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's \"kid\", if given, must be a string of 1 to %d bytes", PKEY_KID_MAX);
        return ERR_INVAL;
    }
    if (kid != NULL)
        memcpy(k->kid, kid, strlen(kid) + 1);
    alg = pkey_str(jwk, "alg", &present);
    if (!present)
        return ERR_OK;
    if (alg == NULL || strlen(alg) > PKEY_ALG_MAX) {
        snprintf(why, PKEY_WHY_MAX, "the JWK's \"alg\", if given, must name a JWS algorithm");
        return ERR_INVAL;
    }
    if (pkey_alg_ok(k, alg, why) != ERR_OK)
        return ERR_INVAL;
    memcpy(k->alg, alg, strlen(alg) + 1);
    return ERR_OK;
}

enum err
pkey_from_jwk(const cJSON *jwk, struct pkey **out, char why[static PKEY_WHY_MAX])
{
    static const char *const okp[] = {"kty", "crv", "x", "kid", "alg", "use"};
    static const char *const rsa[] = {"kty", "n", "e", "kid", "alg", "use"};
    static const char *const ec[] = {"kty", "crv", "x", "y", "kid", "alg", "use"};
    struct pkey *k = NULL;
    const char *kty;
    bool present;
    size_t i;
    enum err rc = ERR_INVAL;

    *out = NULL;
    why[0] = '\0';
    if (!cJSON_IsObject(jwk)) {
        snprintf(why, PKEY_WHY_MAX, "a public JWK must be a JSON object");
        goto out;
    }
    for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
        if (cJSON_GetObjectItemCaseSensitive(jwk, private_members[i]) != NULL) {
            snprintf(why, PKEY_WHY_MAX,
                     "the JWK holds \"%s\", a private key member: never send it anywhere; "
                     "register only the public key, and make a new key pair, since this one is "
                     "exposed",
                     private_members[i]);
            goto out;
        }
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    kty = pkey_str(jwk, "kty", &present);
    if (kty != NULL && strcmp(kty, "OKP") == 0) {
        if (!pkey_only(jwk, okp, sizeof(okp) / sizeof(okp[0]))) {
            snprintf(why, PKEY_WHY_MAX,
                     "an OKP JWK may hold only kty, crv, x, and optionally kid, alg and use");
            goto out;
        }
        rc = pkey_okp(jwk, k, why);
    } else if (kty != NULL && strcmp(kty, "RSA") == 0) {
        if (!pkey_only(jwk, rsa, sizeof(rsa) / sizeof(rsa[0]))) {
            snprintf(why, PKEY_WHY_MAX,
                     "an RSA JWK may hold only kty, n, e, and optionally kid, alg and use");
            goto out;
        }
        rc = pkey_rsa(jwk, k, why);
    } else if (kty != NULL && strcmp(kty, "EC") == 0) {
        if (!pkey_only(jwk, ec, sizeof(ec) / sizeof(ec[0]))) {
            snprintf(why, PKEY_WHY_MAX,
                     "an EC JWK may hold only kty, crv, x, y, and optionally kid, alg and use");
            goto out;
        }
        rc = pkey_ec(jwk, k, why);
    } else {
        snprintf(why, PKEY_WHY_MAX,
                 "the JWK's \"kty\" must be \"OKP\" (Ed25519), \"RSA\" or \"EC\" (P-256, P-384)");
        goto out;
    }
    if (rc == ERR_OK)
        rc = pkey_common(jwk, k, why);
    if (rc == ERR_OK)
        rc = pkey_thumb(k);
out:
    if (rc == ERR_NOMEM)
        snprintf(why, PKEY_WHY_MAX, "out of memory");
    if (rc == ERR_OK) {
        *out = k;
    } else {
        pkey_free(k);
        ERR_clear_error();
    }
    return rc;
}

enum err
pkey_from_ed25519(const uint8_t pk[static KEYS_PUBLIC_BYTES], struct pkey **out)
{
    char x[PKEY_THUMB_B64 + 1];
    struct pkey *k;

    *out = NULL;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return ERR_NOMEM;
    k->type = PKEY_OKP;
    memcpy(k->ed, pk, KEYS_PUBLIC_BYTES);
    (void)b64_encode(pk, KEYS_PUBLIC_BYTES, B64_URL, x, sizeof(x));
    if (!pkey_dup(x, &k->a) || pkey_thumb(k) != ERR_OK) {
        pkey_free(k);
        return ERR_NOMEM;
    }
    *out = k;
    return ERR_OK;
}

cJSON *
pkey_jwk(const struct pkey *k)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;

    switch (k->type) {
    case PKEY_OKP:
        ok = ok && cJSON_AddStringToObject(o, "kty", "OKP") != NULL &&
             cJSON_AddStringToObject(o, "crv", "Ed25519") != NULL &&
             cJSON_AddStringToObject(o, "x", k->a) != NULL;
        break;
    case PKEY_RSA:
        ok = ok && cJSON_AddStringToObject(o, "kty", "RSA") != NULL &&
             cJSON_AddStringToObject(o, "n", k->a) != NULL &&
             cJSON_AddStringToObject(o, "e", k->b) != NULL;
        break;
    case PKEY_P256:
    case PKEY_P384:
        ok = ok && cJSON_AddStringToObject(o, "kty", "EC") != NULL &&
             cJSON_AddStringToObject(o, "crv", k->type == PKEY_P256 ? "P-256" : "P-384") != NULL &&
             cJSON_AddStringToObject(o, "x", k->a) != NULL &&
             cJSON_AddStringToObject(o, "y", k->b) != NULL;
        break;
    }
    /* An Ed25519 entry stays as it was before RSA and EC keys came: kty, crv, x. */
    if (k->type != PKEY_OKP && k->alg[0] != '\0')
        ok = ok && cJSON_AddStringToObject(o, "alg", k->alg) != NULL;
    if (k->type != PKEY_OKP && k->kid[0] != '\0')
        ok = ok && cJSON_AddStringToObject(o, "kid", k->kid) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void
pkey_thumbprint(const struct pkey *k, uint8_t out[static PKEY_THUMBPRINT_BYTES])
{
    memcpy(out, k->thumb, PKEY_THUMBPRINT_BYTES);
}

bool
pkey_kid_matches(const struct pkey *k, const char *kid)
{
    char mine[PKEY_THUMB_B64 + 1];

    if (k->kid[0] != '\0' && strcmp(kid, k->kid) == 0)
        return true;
    if (b64_encode(k->thumb, sizeof(k->thumb), B64_URL, mine, sizeof(mine)) == ERR_OK &&
        strcmp(kid, mine) == 0)
        return true;
    if (k->type == PKEY_OKP) {
        keys_kid(k->ed, mine);
        return strcmp(kid, mine) == 0;
    }
    return false;
}

enum err
pkey_decode(const char *compact, size_t len, struct jws_parts *p, const char **why)
{
    struct jws_sig sig;

    return jws_decode_algs(compact, len, any_algs, sizeof(any_algs) / sizeof(any_algs[0]),
                           "\"alg\" must be EdDSA, Ed25519, RS256, RS384, ES256 or ES384", p, &sig,
                           why);
}

/* pkey_allowed sets the algorithms k allows, (*algs)[0..*n), and the sentence refusing others. */
static void
pkey_allowed(const struct pkey *k, const char *const **algs, size_t *n, const char **why)
{
    switch (k->type) {
    case PKEY_OKP:
        *algs = okp_algs;
        *n = 2;
        /* The sentence jws.c gives, so Ed25519 refusals read as they always have. */
        *why = "\"alg\" is neither EdDSA nor Ed25519";
        return;
    case PKEY_RSA:
        if (strcmp(k->alg, "RS256") == 0) {
            *algs = rs256_algs;
            *n = 1;
            *why = "\"alg\" must be RS256, the \"alg\" registered with the RSA key";
        } else if (strcmp(k->alg, "RS384") == 0) {
            *algs = rs384_algs;
            *n = 1;
            *why = "\"alg\" must be RS384, the \"alg\" registered with the RSA key";
        } else {
            *algs = rsa_algs;
            *n = 2;
            *why = "\"alg\" must be RS256 or RS384 for the registered RSA key";
        }
        return;
    case PKEY_P256:
        *algs = es256_algs;
        *n = 1;
        *why = "\"alg\" must be ES256 for the registered P-256 key";
        return;
    case PKEY_P384:
        *algs = es384_algs;
        *n = 1;
        *why = "\"alg\" must be ES384 for the registered P-384 key";
        return;
    }
}

/*
 * pkey_evp_verify checks sig (already the right length) over msg[0..len) with k's libcrypto
 * key and digest md; an EC signature r ‖ s is turned into the DER that libcrypto expects.
 */
static enum err
pkey_evp_verify(const struct pkey *k, const EVP_MD *md, const uint8_t *msg, size_t len,
                const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *mctx = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    const uint8_t *check = sig;
    size_t check_len = sig_len, half = sig_len / 2;
    int der_len;
    enum err rc = ERR_NOMEM;

    if (k->type == PKEY_P256 || k->type == PKEY_P384) {
        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, (int)half, NULL);
        s = BN_bin2bn(sig + half, (int)half, NULL);
        if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
            goto out;
        r = s = NULL; /* es owns them now */
        der_len = i2d_ECDSA_SIG(es, &der);
        if (der_len <= 0)
            goto out;
        check = der;
        check_len = (size_t)der_len;
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL || EVP_DigestVerifyInit(mctx, NULL, md, NULL, k->evp) != 1)
        goto out;
    rc = EVP_DigestVerify(mctx, check, check_len, msg, len) == 1 ? ERR_OK : ERR_BADSIG;
out:
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    if (rc != ERR_OK)
        ERR_clear_error();
    return rc;
}

enum err
pkey_verify_jws(const struct pkey *k, const char *compact, size_t len, struct jws_parts *p,
                const char **why)
{
    struct jws_sig *sig = NULL;
    const char *const *algs = okp_algs;
    const char *alg_why = "", *reason = NULL;
    const EVP_MD *md;
    size_t n = 0;
    enum err rc;

    pkey_allowed(k, &algs, &n, &alg_why);
    sig = malloc(sizeof(*sig));
    if (sig == NULL) {
        memset(p, 0, sizeof(*p));
        rc = ERR_NOMEM;
        reason = "out of memory";
        goto out;
    }
    rc = jws_decode_algs(compact, len, algs, n, alg_why, p, sig, &reason);
    if (rc != ERR_OK)
        goto out;
    rc = ERR_INVAL;
    if (sig->len != (k->type == PKEY_OKP ? (size_t)SIG_BYTES : k->sig_len)) {
        switch (k->type) {
        case PKEY_OKP:
            reason = "signature is not 64 bytes of base64url";
            break;
        case PKEY_RSA:
            reason = "an RS256 or RS384 signature must be as long as the RSA modulus";
            break;
        case PKEY_P256:
            reason = "an ES256 signature must be 64 bytes, r ‖ s (RFC 7518 §3.4), not DER";
            break;
        case PKEY_P384:
            reason = "an ES384 signature must be 96 bytes, r ‖ s (RFC 7518 §3.4), not DER";
            break;
        }
        goto out;
    }
    if (k->type == PKEY_OKP) {
        rc = sig_verify(k->ed, (const uint8_t *)compact, sig->signed_len, sig->bytes);
    } else {
        /* Every allowed algorithm but RS384 and ES384 hashes with SHA-256. */
        md = strcmp(algs[sig->alg], "RS384") == 0 || strcmp(algs[sig->alg], "ES384") == 0
                 ? EVP_sha384()
                 : EVP_sha256();
        rc =
            pkey_evp_verify(k, md, (const uint8_t *)compact, sig->signed_len, sig->bytes, sig->len);
    }
    if (rc == ERR_BADSIG)
        reason = "bad signature";
    else if (rc == ERR_NOMEM)
        reason = "out of memory";
out:
    if (rc != ERR_OK)
        jws_parts_clear(p);
    if (why != NULL)
        *why = rc == ERR_OK ? NULL : reason;
    free(sig);
    return rc;
}
