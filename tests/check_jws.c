/*
 * check_jws: compact JWS signing and verification, the header rules, and a known answer
 * computed independently (Python's cryptography package, RFC 8032 test key 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cJSON.h>

#include "consentd/b64.h"
#include "consentd/jws.h"
#include "consentd/keys.h"
#include "consentd/sig.h"
#include "suites.h"

static const uint8_t seed1[KEYS_SEED_BYTES] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};

static const char payload[] = "{\"sub\":\"9434765919\",\"iat\":1700000000}";
static const char kid1[] = "If4x36FUomFia_hUBG_SJxt77UtqvkWqWId-9H-XIbk";
static const char kat[] =
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6IklmNHgzNkZVb21GaWFfaFVCR19TSnh0NzdVdHF2a1dxV0lk"
    "LTlILVhJYmsifQ.eyJzdWIiOiI5NDM0NzY1OTE5IiwiaWF0IjoxNzAwMDAwMDAwfQ.9iosQLGeE4nNuLVxumq16dtXBzVV"
    "Ij7mvl3PbAJ50VZ4qPKA49GKMZ8u2CXTTP16XPpopD0nAx_Gq4NYil2rDA";

static struct keys_pair *key;
static uint8_t pk[KEYS_PUBLIC_BYTES];

static void
setup(void)
{
    ck_assert_int_eq(keys_from_seed(seed1, &key), ERR_OK);
    keys_public(key, pk);
}

static void
teardown(void)
{
    keys_free(key);
    key = NULL;
}

/*
 * build signs header and body (raw JSON, encoded here) into a compact JWS in out, so tests can
 * make validly signed tokens with headers jws_sign would never write.
 */
static void
build(const char *header, const char *body, char *out, size_t cap)
{
    uint8_t sig[SIG_BYTES];
    size_t n;

    ck_assert_int_eq(b64_encode((const uint8_t *)header, strlen(header), B64_URL, out, cap),
                     ERR_OK);
    n = strlen(out);
    out[n++] = '.';
    ck_assert_int_eq(b64_encode((const uint8_t *)body, strlen(body), B64_URL, out + n, cap - n),
                     ERR_OK);
    n = strlen(out);
    sig_sign(key, (const uint8_t *)out, n, sig);
    out[n++] = '.';
    ck_assert_int_eq(b64_encode(sig, sizeof(sig), B64_URL, out + n, cap - n), ERR_OK);
}

/* verify_rc verifies s[0..len) with pk, checks the failure contract and returns the code. */
static enum err
verify_rc(const char *s, size_t len)
{
    struct jws_parts p;
    const char *why = "unset";
    enum err rc;

    rc = jws_verify(s, len, pk, &p, &why);
    if (rc == ERR_OK) {
        ck_assert_ptr_nonnull(p.header);
        ck_assert_ptr_nonnull(p.payload);
        jws_parts_clear(&p);
    } else {
        ck_assert_ptr_null(p.header);
        ck_assert_ptr_null(p.payload);
        ck_assert_ptr_null(p.payload_raw);
        ck_assert_uint_eq(p.payload_len, 0);
        ck_assert_ptr_nonnull(why);
        ck_assert_str_ne(why, "unset");
    }
    return rc;
}

static enum err
verify_str(const char *s)
{
    return verify_rc(s, strlen(s));
}

/* built_rc signs header and body with build and verifies the result. */
static enum err
built_rc(const char *header, const char *body)
{
    char buf[1024];

    build(header, body, buf, sizeof(buf));
    return verify_str(buf);
}

START_TEST(test_known_answer)
{
    char *out = NULL;

    ck_assert_int_eq(jws_sign(key, "JWT", kid1, payload, strlen(payload), &out), ERR_OK);
    ck_assert_str_eq(out, kat);
    free(out);
}
END_TEST

START_TEST(test_sign_then_verify)
{
    struct jws_parts p;
    char *out = NULL;
    const cJSON *sub;

    ck_assert_int_eq(jws_sign(key, "JWT", kid1, payload, strlen(payload), &out), ERR_OK);
    ck_assert_int_eq(jws_verify(out, strlen(out), pk, &p, NULL), ERR_OK);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p.header, "alg")->valuestring, "EdDSA");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p.header, "typ")->valuestring, "JWT");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p.header, "kid")->valuestring, kid1);
    sub = cJSON_GetObjectItemCaseSensitive(p.payload, "sub");
    ck_assert_str_eq(sub->valuestring, "9434765919");
    ck_assert_uint_eq(p.payload_len, strlen(payload));
    ck_assert_str_eq(p.payload_raw, payload);
    jws_parts_clear(&p);
    ck_assert_ptr_null(p.header);
    free(out);
}
END_TEST

START_TEST(test_header_order_and_omissions)
{
    char *out = NULL, *dot;
    uint8_t hdr[256];
    size_t n;

    ck_assert_int_eq(jws_sign(key, NULL, NULL, "{}", 2, &out), ERR_OK);
    dot = strchr(out, '.');
    ck_assert_int_eq(b64_decode(out, (size_t)(dot - out), B64_URL, hdr, sizeof(hdr), &n), ERR_OK);
    ck_assert_uint_eq(n, strlen("{\"alg\":\"EdDSA\"}"));
    ck_assert_mem_eq(hdr, "{\"alg\":\"EdDSA\"}", n);
    free(out);
    ck_assert_int_eq(jws_sign(key, "at+jwt", "k1", "{}", 2, &out), ERR_OK);
    dot = strchr(out, '.');
    ck_assert_int_eq(b64_decode(out, (size_t)(dot - out), B64_URL, hdr, sizeof(hdr), &n), ERR_OK);
    ck_assert_uint_eq(n, strlen("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}"));
    ck_assert_mem_eq(hdr, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", n);
    free(out);
}
END_TEST

START_TEST(test_ed25519_alg_verifies)
{
    ck_assert_int_eq(built_rc("{\"alg\":\"Ed25519\",\"kid\":\"x\"}", payload), ERR_OK);
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\"}", payload), ERR_OK);
}
END_TEST

START_TEST(test_every_truncation_fails)
{
    size_t len = strlen(kat), n;

    for (n = 0; n < len; n++)
        ck_assert_msg(verify_rc(kat, n) != ERR_OK, "length %zu", n);
}
END_TEST

START_TEST(test_every_bit_flip_fails)
{
    size_t len = strlen(kat), i;
    char *s = malloc(len + 1);

    ck_assert_ptr_nonnull(s);
    memcpy(s, kat, len + 1);
    for (i = 0; i < len * 8; i++) {
        s[i / 8] = (char)(s[i / 8] ^ (1 << (i % 8)));
        ck_assert_msg(verify_rc(s, len) != ERR_OK, "bit %zu", i);
        s[i / 8] = (char)(s[i / 8] ^ (1 << (i % 8)));
    }
    ck_assert_int_eq(verify_rc(s, len), ERR_OK);
    free(s);
}
END_TEST

START_TEST(test_wrong_key_fails)
{
    static const uint8_t other_seed[KEYS_SEED_BYTES] = {1};
    struct keys_pair *other;
    struct jws_parts p;
    uint8_t opk[KEYS_PUBLIC_BYTES];

    ck_assert_int_eq(keys_from_seed(other_seed, &other), ERR_OK);
    keys_public(other, opk);
    ck_assert_int_eq(jws_verify(kat, strlen(kat), opk, &p, NULL), ERR_BADSIG);
    ck_assert_ptr_null(p.header);
    keys_free(other);
}
END_TEST

START_TEST(test_bad_alg_refused)
{
    static const char *const bad[] = {"{\"alg\":\"none\"}",
                                      "{\"alg\":\"HS256\"}",
                                      "{\"alg\":\"RS256\"}",
                                      "{\"alg\":\"eddsa\"}",
                                      "{\"alg\":\"EdDSA \"}",
                                      "{\"alg\":null}",
                                      "{\"alg\":[\"EdDSA\"]}",
                                      "{\"alg\":{}}",
                                      "{\"alg\":1}",
                                      "{\"typ\":\"JWT\"}",
                                      "{}",
                                      "{\"ALG\":\"EdDSA\"}"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(built_rc(bad[i], payload) == ERR_INVAL, "%s", bad[i]);
}
END_TEST

START_TEST(test_forbidden_headers_refused)
{
    static const char *const bad[] = {"{\"alg\":\"EdDSA\",\"jwk\":{\"kty\":\"OKP\"}}",
                                      "{\"alg\":\"EdDSA\",\"jku\":\"https://x\"}",
                                      "{\"alg\":\"EdDSA\",\"x5u\":\"https://x\"}",
                                      "{\"alg\":\"EdDSA\",\"x5c\":[]}",
                                      "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}",
                                      "{\"alg\":\"EdDSA\",\"b64\":false}",
                                      "{\"alg\":\"EdDSA\",\"jwk\":null}"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(built_rc(bad[i], payload) == ERR_INVAL, "%s", bad[i]);
}
END_TEST

START_TEST(test_duplicate_keys_refused)
{
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\",\"alg\":\"none\"}", payload), ERR_INVAL);
    ck_assert_int_eq(built_rc("{\"alg\":\"none\",\"alg\":\"EdDSA\"}", payload), ERR_INVAL);
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\"}", "{\"sub\":\"a\",\"sub\":\"b\"}"), ERR_INVAL);
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\"}", "{\"x\":{\"a\":1,\"a\":2}}"), ERR_INVAL);
}
END_TEST

START_TEST(test_payload_must_be_object)
{
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\"}", "[]"), ERR_INVAL);
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\"}", "\"x\""), ERR_INVAL);
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\"}", ""), ERR_INVAL);
    ck_assert_int_eq(built_rc("{\"alg\":\"EdDSA\"}", "{} x"), ERR_INVAL);
}
END_TEST

START_TEST(test_trailing_bytes_refused)
{
    static const char *const tails[] = {"x", ".", "\n", " ", "=", ".x", "\0"};
    char buf[1024];
    size_t i, len = strlen(kat);

    for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        memcpy(buf, kat, len);
        buf[len] = tails[i][0];
        memcpy(buf + len, tails[i], strlen(tails[i]) + 1);
        ck_assert_msg(verify_rc(buf, len + (tails[i][0] == '\0' ? 1 : strlen(tails[i]))) ==
                          ERR_INVAL,
                      "tail %zu", i);
    }
}
END_TEST

START_TEST(test_leading_bytes_refused)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), " %s", kat);
    ck_assert_int_eq(verify_str(buf), ERR_INVAL);
    snprintf(buf, sizeof(buf), ".%s", kat);
    ck_assert_int_eq(verify_str(buf), ERR_INVAL);
}
END_TEST

START_TEST(test_padding_refused)
{
    char buf[1024];
    char *dot;
    size_t hlen;

    /* Padding is never allowed in base64url segments. */
    dot = strchr(kat, '.');
    hlen = (size_t)(dot - kat);
    memcpy(buf, kat, hlen);
    snprintf(buf + hlen, sizeof(buf) - hlen, "==%s", dot);
    ck_assert_int_eq(verify_str(buf), ERR_INVAL);
    snprintf(buf, sizeof(buf), "%s==", kat);
    ck_assert_int_eq(verify_str(buf), ERR_INVAL);
}
END_TEST

START_TEST(test_decode_does_not_verify)
{
    struct jws_parts p;
    char *s = strdup(kat);
    size_t len = strlen(kat);

    ck_assert_ptr_nonnull(s);
    s[len - 5] = s[len - 5] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(jws_decode(s, len, &p, NULL), ERR_OK);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p.header, "kid")->valuestring, kid1);
    jws_parts_clear(&p);
    ck_assert_int_eq(verify_rc(s, len), ERR_BADSIG);
    free(s);
}
END_TEST

START_TEST(test_decode_refuses_bad_alg)
{
    struct jws_parts p;
    const char *why = NULL;
    char buf[1024];

    build("{\"alg\":\"none\"}", payload, buf, sizeof(buf));
    ck_assert_int_eq(jws_decode(buf, strlen(buf), &p, &why), ERR_INVAL);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_null(p.header);
}
END_TEST

START_TEST(test_sign_too_big)
{
    char *big = malloc(JWS_MAX_LEN);
    char *out = (char *)1;

    ck_assert_ptr_nonnull(big);
    memset(big, ' ', JWS_MAX_LEN);
    big[0] = '{';
    big[JWS_MAX_LEN - 1] = '}';
    ck_assert_int_eq(jws_sign(key, NULL, NULL, big, JWS_MAX_LEN, &out), ERR_TOOBIG);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(jws_sign(key, NULL, NULL, big, JWS_MAX_LEN * 2, &out), ERR_TOOBIG);
    free(big);
}
END_TEST

START_TEST(test_verify_too_long)
{
    char *big = malloc(JWS_MAX_LEN + 2);

    ck_assert_ptr_nonnull(big);
    memset(big, 'A', JWS_MAX_LEN + 1);
    big[JWS_MAX_LEN + 1] = '\0';
    ck_assert_int_eq(verify_rc(big, JWS_MAX_LEN + 1), ERR_INVAL);
    free(big);
}
END_TEST

START_TEST(test_largest_jws_round_trips)
{
    /* A payload whose JWS is exactly JWS_MAX_LEN bytes: header 20, dots 2, signature 86. */
    size_t enc = JWS_MAX_LEN - 20 - 2 - 86, plen = enc / 4 * 3;
    char *big = malloc(plen), *out = NULL;

    ck_assert_uint_eq(enc % 4, 0);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', plen);
    big[0] = '{';
    big[plen - 1] = '}';
    ck_assert_int_eq(jws_sign(key, NULL, NULL, big, plen, &out), ERR_OK);
    ck_assert_uint_eq(strlen(out), JWS_MAX_LEN);
    ck_assert_int_eq(verify_str(out), ERR_OK);
    free(out);
    ck_assert_int_eq(jws_sign(key, NULL, NULL, big, plen + 1, &out), ERR_TOOBIG);
    free(big);
}
END_TEST

Suite *
jws_suite(void)
{
    Suite *s = suite_create("jws");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_known_answer);
    tcase_add_test(tc, test_sign_then_verify);
    tcase_add_test(tc, test_header_order_and_omissions);
    tcase_add_test(tc, test_ed25519_alg_verifies);
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_every_bit_flip_fails);
    tcase_add_test(tc, test_wrong_key_fails);
    tcase_add_test(tc, test_bad_alg_refused);
    tcase_add_test(tc, test_forbidden_headers_refused);
    tcase_add_test(tc, test_duplicate_keys_refused);
    tcase_add_test(tc, test_payload_must_be_object);
    tcase_add_test(tc, test_trailing_bytes_refused);
    tcase_add_test(tc, test_leading_bytes_refused);
    tcase_add_test(tc, test_padding_refused);
    tcase_add_test(tc, test_decode_does_not_verify);
    tcase_add_test(tc, test_decode_refuses_bad_alg);
    tcase_add_test(tc, test_sign_too_big);
    tcase_add_test(tc, test_verify_too_long);
    tcase_add_test(tc, test_largest_jws_round_trips);
    suite_add_tcase(s, tc);
    return s;
}
