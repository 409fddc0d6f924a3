/*
 * check_assertion: RFC 7523 assertions at the token endpoint: every rule of assertion.h, each
 * attack refused with the sentence that names it, and every truncation and flipped bit refused.
 * Single use is check_jtis.c's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "consentd/assertion.h"
#include "consentd/b64.h"
#include "consentd/keys.h"
#include "consentd/pkey.h"
#include "consentd/sig.h"
#include "suites.h"
#include "testutil.h"

#define NOW      1800000000LL
#define ISSUER   "https://consentd.example"
#define ENDPOINT "https://consentd.example/oauth2/token"
#define CID      "gp-system-1"
#define WHAT     "the client assertion"
#define HDR      "{\"alg\":\"EdDSA\"}"

static struct keys_pair *key, *other;
static struct pkey *vkey; /* the registered key: key's public key */
static uint8_t pk[KEYS_PUBLIC_BYTES], other_pk[KEYS_PUBLIC_BYTES];
static char kid[KEYS_KID_LEN + 1];
static char jws[4096], why[ASSERTION_WHY_MAX];
static struct assertion_claims claims;

static void
setup(void)
{
    key = tu_key(0x11);
    other = tu_key(0x22);
    keys_public(key, pk);
    keys_public(other, other_pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(pkey_from_ed25519(pk, &vkey), ERR_OK);
}

static void
teardown(void)
{
    keys_free(key);
    keys_free(other);
    pkey_free(vkey);
}

/* b64 appends the base64url of s[0..len) to out at *n. */
static void
b64(const void *s, size_t len, char *out, size_t cap, size_t *n)
{
    ck_assert_int_eq(b64_encode(s, len, B64_URL, out + *n, cap - *n), ERR_OK);
    *n += strlen(out + *n);
}

/* build signs header and body with k into jws, so tests can write any header or payload. */
static void
build_with(const struct keys_pair *k, const char *header, const char *body)
{
    uint8_t sig[SIG_BYTES];
    size_t n = 0;

    b64(header, strlen(header), jws, sizeof(jws), &n);
    jws[n++] = '.';
    b64(body, strlen(body), jws, sizeof(jws), &n);
    sig_sign(k, (const uint8_t *)jws, n, sig);
    jws[n++] = '.';
    b64(sig, sizeof(sig), jws, sizeof(jws), &n);
}

static void
build(const char *header, const char *body)
{
    build_with(key, header, body);
}

/* payload writes the usual claims with exp at NOW + exp_offset and extra members appended. */
static const char *
payload(long long exp_offset, const char *extra)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf),
             "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
             "\",\"jti\":\"j-1\",\"iat\":%lld,\"exp\":%lld%s}",
             NOW, NOW + exp_offset, extra != NULL ? extra : "");
    return buf;
}

/* verify_with checks the assertion in jws against the registered key k. */
static enum err
verify_with(const struct pkey *k)
{
    enum err rc;

    rc = assertion_verify(jws, strlen(jws), k, CID, ISSUER, ENDPOINT, NOW, WHAT, &claims, why);
    if (rc != ERR_OK) {
        ck_assert_str_eq(claims.subject, "");
        ck_assert_str_eq(claims.jti, "");
        ck_assert_int_eq(claims.exp, 0);
        ck_assert_uint_gt(strlen(why), 20);
    }
    return rc;
}

static enum err
verify(void)
{
    return verify_with(vkey);
}

/* refused_by asserts that k refuses the assertion in jws with a sentence containing part. */
static void
refused_by(const struct pkey *k, const char *part)
{
    ck_assert_int_eq(verify_with(k), ERR_AUTH);
    if (strstr(why, part) == NULL)
        ck_abort_msg("why \"%s\" does not contain \"%s\"", why, part);
}

/* refused asserts that the assertion in jws is refused with a sentence containing part. */
static void
refused(const char *part)
{
    ck_assert_int_eq(verify(), ERR_AUTH);
    if (strstr(why, part) == NULL)
        ck_abort_msg("why \"%s\" does not contain \"%s\"", why, part);
}

START_TEST(test_valid_assertion_is_accepted)
{
    build(HDR, payload(120, NULL));
    ck_assert_int_eq(verify(), ERR_OK);
    ck_assert_str_eq(claims.subject, CID);
    ck_assert_str_eq(claims.jti, "j-1");
    ck_assert_int_eq(claims.exp, NOW + 120);
}
END_TEST

START_TEST(test_alg_ed25519_is_accepted)
{
    build("{\"alg\":\"Ed25519\"}", payload(60, NULL));
    ck_assert_int_eq(verify(), ERR_OK);
}
END_TEST

START_TEST(test_typ_jwt_and_own_kid_are_accepted)
{
    char hdr[256];

    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    build(hdr, payload(60, NULL));
    ck_assert_int_eq(verify(), ERR_OK);
    build("{\"alg\":\"EdDSA\",\"typ\":\"client-authentication+jwt\"}", payload(60, NULL));
    ck_assert_int_eq(verify(), ERR_OK);
}
END_TEST

START_TEST(test_aud_issuer_or_array_is_accepted)
{
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ISSUER
               "\",\"jti\":\"a\",\"exp\":1800000060}");
    ck_assert_int_eq(verify(), ERR_OK);
    build(HDR,
          "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":[\"https://other.example\",\"" ENDPOINT
          "\"],\"jti\":\"a\",\"exp\":1800000060}");
    ck_assert_int_eq(verify(), ERR_OK);
}
END_TEST

START_TEST(test_alg_none_is_refused)
{
    const char *body = payload(60, NULL);
    size_t n = 0;

    b64("{\"alg\":\"none\"}", 14, jws, sizeof(jws), &n);
    jws[n++] = '.';
    b64(body, strlen(body), jws, sizeof(jws), &n);
    jws[n++] = '.';
    jws[n] = '\0';
    refused("neither EdDSA nor Ed25519");
}
END_TEST

START_TEST(test_hs256_with_the_public_key_as_secret_is_refused)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    const char *body = payload(60, NULL);
    size_t n = 0;

    b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, jws, sizeof(jws), &n);
    jws[n++] = '.';
    b64(body, strlen(body), jws, sizeof(jws), &n);
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), pk, sizeof(pk), (const uint8_t *)jws, n, mac, &mac_len));
    jws[n++] = '.';
    b64(mac, mac_len, jws, sizeof(jws), &n);
    refused("neither EdDSA nor Ed25519");
}
END_TEST

START_TEST(test_other_algs_are_refused)
{
    static const char *const algs[] = {"{\"alg\":\"RS256\"}", "{\"alg\":\"ES256\"}",
                                       "{\"alg\":\"eddsa\"}", "{\"alg\":\"\"}",
                                       "{\"alg\":null}",      "{}"};
    size_t i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        build(algs[i], payload(60, NULL));
        ck_assert_int_eq(verify(), ERR_AUTH);
        ck_assert_ptr_nonnull(strstr(why, "not an acceptable JWS"));
    }
}
END_TEST

START_TEST(test_another_clients_key_is_refused)
{
    build_with(other, HDR, payload(60, NULL));
    refused("signature does not verify with the registered key of " CID);
}
END_TEST

START_TEST(test_key_choosing_headers_are_refused)
{
    static const char *const hdrs[] = {
        "{\"alg\":\"EdDSA\",\"jku\":\"https://evil.example/jwks\"}",
        "{\"alg\":\"EdDSA\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}}",
        "{\"alg\":\"EdDSA\",\"x5u\":\"https://evil.example/cert\"}",
        "{\"alg\":\"EdDSA\",\"x5c\":[\"AAAA\"]}",
        "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}",
    };
    size_t i;

    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        build(hdrs[i], payload(60, NULL));
        refused("forbidden member");
    }
}
END_TEST

START_TEST(test_kid_of_another_key_is_refused)
{
    char hdr[256], other_kid[KEYS_KID_LEN + 1];

    keys_kid(other_pk, other_kid);
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", other_kid);
    build(hdr, payload(60, NULL));
    refused("\"kid\" does not name the registered key");
    build("{\"alg\":\"EdDSA\",\"kid\":7}", payload(60, NULL));
    refused("\"kid\" does not name the registered key");
}
END_TEST

START_TEST(test_access_token_typ_is_refused)
{
    build("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}", payload(60, NULL));
    refused("\"typ\" must be absent");
    build("{\"alg\":\"EdDSA\",\"typ\":\"consent+jwt\"}", payload(60, NULL));
    refused("\"typ\" must be absent");
}
END_TEST

START_TEST(test_expired_is_refused)
{
    build(HDR, payload(-61, NULL));
    refused("has expired: \"exp\" is 61 s in the past");
    build(HDR, payload(-60, NULL));
    refused("has expired");
    build(HDR, payload(-59, NULL));
    ck_assert_int_eq(verify(), ERR_OK);
}
END_TEST

START_TEST(test_exp_too_far_ahead_is_refused)
{
    build(HDR, payload(301, NULL));
    refused("\"exp\" is 301 s ahead; it may be at most 300 s");
    build(HDR, payload(300, NULL));
    ck_assert_int_eq(verify(), ERR_OK);
    build(HDR, payload(86400 * 365, NULL));
    refused("at most 300 s");
}
END_TEST

START_TEST(test_missing_or_malformed_exp_is_refused)
{
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT "\",\"jti\":\"a\"}");
    refused("must have an \"exp\"");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\",\"exp\":\"1800000060\"}");
    refused("must have an \"exp\"");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\",\"exp\":-5}");
    refused("must have an \"exp\"");
}
END_TEST

START_TEST(test_future_iat_is_refused)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
             "\",\"jti\":\"a\",\"iat\":%lld,\"exp\":%lld}",
             NOW + 61, NOW + 120);
    build(HDR, body);
    refused("\"iat\" is 61 s in the future");
    snprintf(body, sizeof(body),
             "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
             "\",\"jti\":\"a\",\"iat\":%lld,\"exp\":%lld}",
             NOW + 60, NOW + 120);
    build(HDR, body);
    ck_assert_int_eq(verify(), ERR_OK);
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\",\"iat\":\"now\",\"exp\":1800000060}");
    refused("\"iat\" must be a time");
}
END_TEST

START_TEST(test_future_nbf_is_refused)
{
    build(HDR, payload(120, ",\"nbf\":1800000100"));
    refused("not valid yet: \"nbf\" is 100 s in the future");
    build(HDR, payload(120, ",\"nbf\":1800000000"));
    ck_assert_int_eq(verify(), ERR_OK);
}
END_TEST

START_TEST(test_wrong_aud_is_refused)
{
    build(HDR,
          "{\"iss\":\"" CID "\",\"sub\":\"" CID
          "\",\"aud\":\"https://other.example/oauth2/token\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"aud\" must be the issuer " ISSUER " or the token endpoint " ENDPOINT);
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID
               "\",\"aud\":[\"https://other.example\"],\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"aud\" must be");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"aud\" must be");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ISSUER
               "/\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"aud\" must be");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":[\"" ISSUER
               "\",7],\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"aud\" must be");
}
END_TEST

START_TEST(test_wrong_iss_or_sub_is_refused)
{
    build(HDR, "{\"iss\":\"someone-else\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"iss\" must be \"" CID "\"");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"someone-else\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"sub\" must be \"" CID "\"");
    build(HDR, "{\"iss\":\"" CID "\",\"aud\":\"" ENDPOINT "\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"sub\" must be");
    build(HDR, "{\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT "\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("\"iss\" must be");
}
END_TEST

START_TEST(test_missing_or_bad_jti_is_refused)
{
    char body[512], long_jti[ASSERTION_JTI_MAX + 2];

    build(HDR,
          "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT "\",\"exp\":1800000060}");
    refused("must have a \"jti\"");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"\",\"exp\":1800000060}");
    refused("must have a \"jti\"");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\\u0001b\",\"exp\":1800000060}");
    refused("must have a \"jti\"");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":42,\"exp\":1800000060}");
    refused("must have a \"jti\"");
    memset(long_jti, 'x', ASSERTION_JTI_MAX + 1);
    long_jti[ASSERTION_JTI_MAX + 1] = '\0';
    snprintf(body, sizeof(body),
             "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
             "\",\"jti\":\"%s\",\"exp\":1800000060}",
             long_jti);
    build(HDR, body);
    refused("must have a \"jti\"");
    long_jti[ASSERTION_JTI_MAX] = '\0';
    snprintf(body, sizeof(body),
             "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
             "\",\"jti\":\"%s\",\"exp\":1800000060}",
             long_jti);
    build(HDR, body);
    ck_assert_int_eq(verify(), ERR_OK);
}
END_TEST

START_TEST(test_duplicate_members_are_refused)
{
    build(HDR, "{\"iss\":\"someone-else\",\"iss\":\"" CID "\",\"sub\":\"" CID
               "\",\"aud\":\"" ENDPOINT "\",\"jti\":\"a\",\"exp\":1800000060}");
    refused("duplicate member");
    build("{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}", payload(60, NULL));
    refused("duplicate member");
    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\",\"exp\":1800000060,\"exp\":1900000000}");
    refused("duplicate member");
}
END_TEST

START_TEST(test_trailing_bytes_are_refused)
{
    size_t n;

    build(HDR, "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT
               "\",\"jti\":\"a\",\"exp\":1800000060} x");
    refused("not an acceptable JWS");
    build(HDR, payload(60, NULL));
    n = strlen(jws);
    memcpy(jws + n, ".AAAA", 6);
    refused("not an acceptable JWS");
    jws[n] = '\0';
    memcpy(jws + n, "AA", 3);
    refused("not an acceptable JWS");
}
END_TEST

START_TEST(test_every_truncation_and_flipped_bit_is_refused)
{
    char good[4096];
    size_t len, i;
    int bit;

    build(HDR, payload(60, NULL));
    ck_assert_int_eq(verify(), ERR_OK);
    memcpy(good, jws, sizeof(good));
    len = strlen(good);
    for (i = 0; i < len; i++) {
        memcpy(jws, good, i);
        jws[i] = '\0';
        ck_assert_int_eq(verify(), ERR_AUTH);
    }
    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 7; bit++) {
            memcpy(jws, good, len + 1);
            jws[i] = (char)(jws[i] ^ (1 << bit));
            if (jws[i] == '\0')
                continue;
            ck_assert_msg(verify() == ERR_AUTH, "flipping bit %d of byte %zu was accepted", bit, i);
        }
    }
}
END_TEST

START_TEST(test_subject_reads_iss_without_verifying)
{
    char iss[ASSERTION_SUBJECT_MAX + 1];

    build_with(other, HDR, payload(60, NULL));
    ck_assert_int_eq(assertion_subject(jws, strlen(jws), WHAT, iss, why), ERR_OK);
    ck_assert_str_eq(iss, CID);
    build("{\"alg\":\"none\"}", payload(60, NULL));
    ck_assert_int_eq(assertion_subject(jws, strlen(jws), WHAT, iss, why), ERR_AUTH);
    ck_assert_str_eq(iss, "");
    ck_assert_ptr_nonnull(strstr(why, WHAT " is not an acceptable JWS"));
    build(HDR, "{\"iss\":7,\"sub\":\"x\"}");
    ck_assert_int_eq(assertion_subject(jws, strlen(jws), WHAT, iss, why), ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(why, "\"iss\" must be a string"));
    ck_assert_int_eq(assertion_subject("a.b", 3, WHAT, iss, why), ERR_AUTH);
}
END_TEST

/* RSA and EC client keys (SMART Backend Services): the registered key decides the algorithm. */

/* key_of reads the public JWK of e, with "kid" jwk_kid unless NULL, into a registered key. */
static struct pkey *
key_of(EVP_PKEY *e, const char *jwk_kid)
{
    char kwhy[PKEY_WHY_MAX];
    struct pkey *k = NULL;
    cJSON *jwk = tu_jwk(e);

    if (jwk_kid != NULL)
        cJSON_AddStringToObject(jwk, "kid", jwk_kid);
    ck_assert_msg(pkey_from_jwk(jwk, &k, kwhy) == ERR_OK, "refused: %s", kwhy);
    cJSON_Delete(jwk);
    return k;
}

START_TEST(test_rs384_assertion_is_accepted)
{
    EVP_PKEY *e = tu_rsa_key(2048), *e2 = tu_rsa_key(2048);
    struct pkey *k = key_of(e, "smart-key-1");
    uint8_t thumb[PKEY_THUMBPRINT_BYTES];
    char hdr[128], tb[64], iss[ASSERTION_SUBJECT_MAX + 1];

    tu_sign_jws(e, true, false, "{\"alg\":\"RS384\",\"typ\":\"JWT\",\"kid\":\"smart-key-1\"}",
                payload(120, NULL), jws, sizeof(jws));
    ck_assert_int_eq(assertion_subject(jws, strlen(jws), WHAT, iss, why), ERR_OK);
    ck_assert_str_eq(iss, CID);
    ck_assert_int_eq(verify_with(k), ERR_OK);
    ck_assert_str_eq(claims.jti, "j-1");
    ck_assert_int_eq(claims.exp, NOW + 120);
    /* The RFC 7638 thumbprint names the key too; another kid does not. */
    pkey_thumbprint(k, thumb);
    ck_assert_int_eq(b64_encode(thumb, sizeof(thumb), B64_URL, tb, sizeof(tb)), ERR_OK);
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", tb);
    tu_sign_jws(e, false, false, hdr, payload(60, NULL), jws, sizeof(jws));
    ck_assert_int_eq(verify_with(k), ERR_OK);
    tu_sign_jws(e, true, false, "{\"alg\":\"RS384\",\"kid\":\"smart-key-2\"}", payload(60, NULL),
                jws, sizeof(jws));
    refused_by(k, "\"kid\" does not name the registered key");
    /* Another RSA key's signature; and the Ed25519 path refuses RS384 by its alg. */
    tu_sign_jws(e2, true, false, "{\"alg\":\"RS384\"}", payload(60, NULL), jws, sizeof(jws));
    refused_by(k, "signature does not verify with the registered key of " CID);
    refused("neither EdDSA nor Ed25519");
    /* The claims are checked as for any assertion. */
    tu_sign_jws(e, true, false, "{\"alg\":\"RS384\"}", payload(-61, NULL), jws, sizeof(jws));
    refused_by(k, "has expired");
    pkey_free(k);
    EVP_PKEY_free(e);
    EVP_PKEY_free(e2);
}
END_TEST

START_TEST(test_es384_assertion_is_accepted)
{
    EVP_PKEY *e = tu_ec_key("P-384"), *e2 = tu_ec_key("P-384");
    struct pkey *k = key_of(e, NULL);
    char iss[ASSERTION_SUBJECT_MAX + 1];

    tu_sign_jws(e, true, false, "{\"alg\":\"ES384\",\"typ\":\"JWT\"}", payload(120, NULL), jws,
                sizeof(jws));
    ck_assert_int_eq(assertion_subject(jws, strlen(jws), WHAT, iss, why), ERR_OK);
    ck_assert_int_eq(verify_with(k), ERR_OK);
    ck_assert_str_eq(claims.subject, CID);
    /* ES256 on a P-384 key, even signed by it; DER; another key; a header choosing a key. */
    tu_sign_jws(e, false, false, "{\"alg\":\"ES256\"}", payload(60, NULL), jws, sizeof(jws));
    refused_by(k, "\"alg\" must be ES384 for the registered P-384 key");
    tu_sign_jws(e, true, true, "{\"alg\":\"ES384\"}", payload(60, NULL), jws, sizeof(jws));
    refused_by(k, "not DER");
    tu_sign_jws(e2, true, false, "{\"alg\":\"ES384\"}", payload(60, NULL), jws, sizeof(jws));
    refused_by(k, "signature does not verify");
    tu_sign_jws(e, true, false, "{\"alg\":\"ES384\",\"jwk\":{\"kty\":\"EC\"}}", payload(60, NULL),
                jws, sizeof(jws));
    refused_by(k, "forbidden member");
    pkey_free(k);
    EVP_PKEY_free(e);
    EVP_PKEY_free(e2);
}
END_TEST

Suite *
assertion_suite(void)
{
    Suite *s = suite_create("assertion");
    TCase *tc = tcase_create("verify");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid_assertion_is_accepted);
    tcase_add_test(tc, test_alg_ed25519_is_accepted);
    tcase_add_test(tc, test_typ_jwt_and_own_kid_are_accepted);
    tcase_add_test(tc, test_aud_issuer_or_array_is_accepted);
    tcase_add_test(tc, test_alg_none_is_refused);
    tcase_add_test(tc, test_hs256_with_the_public_key_as_secret_is_refused);
    tcase_add_test(tc, test_other_algs_are_refused);
    tcase_add_test(tc, test_another_clients_key_is_refused);
    tcase_add_test(tc, test_key_choosing_headers_are_refused);
    tcase_add_test(tc, test_kid_of_another_key_is_refused);
    tcase_add_test(tc, test_access_token_typ_is_refused);
    tcase_add_test(tc, test_expired_is_refused);
    tcase_add_test(tc, test_exp_too_far_ahead_is_refused);
    tcase_add_test(tc, test_missing_or_malformed_exp_is_refused);
    tcase_add_test(tc, test_future_iat_is_refused);
    tcase_add_test(tc, test_future_nbf_is_refused);
    tcase_add_test(tc, test_wrong_aud_is_refused);
    tcase_add_test(tc, test_wrong_iss_or_sub_is_refused);
    tcase_add_test(tc, test_missing_or_bad_jti_is_refused);
    tcase_add_test(tc, test_duplicate_members_are_refused);
    tcase_add_test(tc, test_trailing_bytes_are_refused);
    tcase_add_test(tc, test_every_truncation_and_flipped_bit_is_refused);
    tcase_add_test(tc, test_subject_reads_iss_without_verifying);
    tcase_add_test(tc, test_rs384_assertion_is_accepted);
    tcase_add_test(tc, test_es384_assertion_is_accepted);
    suite_add_tcase(s, tc);

    return s;
}
