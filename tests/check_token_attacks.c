/*
 * check_token_attacks: the token attacks of docs/RELIABILITY.md (rows D1-D7, D10, D12, D13, F5)
 * against token_check (consentd's own endpoints), token_check_access (consent-checked tokens)
 * and assertion_verify (client assertions). Every forgery is signed with the real key, so that
 * only the rule under test stands between it and acceptance; a control test shows the same
 * forging accepted when nothing is wrong. Times are passed explicitly.
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
#include "consentd/ckpt.h"
#include "consentd/hash.h"
#include "consentd/jws.h"
#include "consentd/keys.h"
#include "consentd/pkey.h"
#include "consentd/sig.h"
#include "consentd/token.h"
#include "suites.h"
#include "testutil.h"

#define ISSUER   "https://consentd.example"
#define ENDPOINT ISSUER "/oauth2/token"
#define HOLDER   "https://gp.example/fhir"
#define ORIGIN   "consentd.example/log"
#define NOW      1795003200LL /* 2026-11-20T08:00:00Z */
#define CID      "gp-system-1"
#define JWS_CAP  (TOKEN_ACCESS_MAX_LEN + 1024)

static struct token_signer signer;
static struct keys_pair *tkey, *ckey, *pkey_patient; /* token, checkpoint, a patient's key */
static uint8_t tpk[KEYS_PUBLIC_BYTES], cpk[KEYS_PUBLIC_BYTES], ppk[KEYS_PUBLIC_BYTES];
static char tkid[KEYS_KID_LEN + 1], ckid[KEYS_KID_LEN + 1], pkid[KEYS_KID_LEN + 1];
static char jwt[JWS_CAP], hdr[8192], body[8192];

static void
setup(void)
{
    ck_assert_int_eq(token_signer_init(&signer, tu_key(0x41), ISSUER), ERR_OK);
    tkey = tu_key(0x41);
    ckey = tu_key(0x42);
    pkey_patient = tu_key(0x43);
    keys_public(tkey, tpk);
    keys_public(ckey, cpk);
    keys_public(pkey_patient, ppk);
    keys_kid(tpk, tkid);
    keys_kid(cpk, ckid);
    keys_kid(ppk, pkid);
}

static void
teardown(void)
{
    token_signer_clear(&signer);
    keys_free(tkey);
    keys_free(ckey);
    keys_free(pkey_patient);
}

/* b64 appends the base64url of s[0..len) to out at *n. */
static void
b64(const void *s, size_t len, char *out, size_t cap, size_t *n)
{
    ck_assert_int_eq(b64_encode(s, len, B64_URL, out + *n, cap - *n), ERR_OK);
    *n += strlen(out + *n);
}

/* forge signs the raw JSON header h and payload p with k into jwt: any header, any claims. */
static void
forge(const struct keys_pair *k, const char *h, const char *p)
{
    uint8_t sig[SIG_BYTES];
    size_t n = 0;

    b64(h, strlen(h), jwt, sizeof(jwt), &n);
    jwt[n++] = '.';
    b64(p, strlen(p), jwt, sizeof(jwt), &n);
    sig_sign(k, (const uint8_t *)jwt, n, sig);
    jwt[n++] = '.';
    b64(sig, sizeof(sig), jwt, sizeof(jwt), &n);
}

/* header writes the header of the token key's tokens with typ and kid as given (NULL: left out). */
static const char *
header(const char *alg_json, const char *typ_json, const char *kid_json)
{
    snprintf(hdr, sizeof(hdr), "{\"alg\":%s%s%s%s%s}", alg_json,
             typ_json != NULL ? ",\"typ\":" : "", typ_json != NULL ? typ_json : "",
             kid_json != NULL ? ",\"kid\":" : "", kid_json != NULL ? kid_json : "");
    return hdr;
}

/* our_header is the header token_mint writes. */
static const char *
our_header(void)
{
    char kid[KEYS_KID_LEN + 3];

    snprintf(kid, sizeof(kid), "\"%s\"", tkid);
    return header("\"EdDSA\"", "\"at+jwt\"", kid);
}

/*
 * claims writes the claims of a client token (token_check) with iat, exp and aud (JSON) as
 * given and extra members appended.
 */
static const char *
claims(long long iat, long long exp, const char *aud_json, const char *extra)
{
    snprintf(body, sizeof(body),
             "{\"iss\":\"" ISSUER "\",\"sub\":\"" CID "\",\"client_id\":\"" CID "\",\"aud\":%s,"
             "\"iat\":%lld,\"exp\":%lld,\"jti\":\"j-1\",\"scope\":\"pointers\"%s}",
             aud_json, iat, exp, extra != NULL ? extra : "");
    return body;
}

/* access_claims writes the claims of a consent-checked token (token_check_access). */
static const char *
access_claims(long long iat, long long exp, const char *aud_json, const char *extra)
{
    snprintf(body, sizeof(body),
             "{\"iss\":\"" ISSUER "\",\"sub\":\"" CID "\",\"client_id\":\"" CID "\",\"aud\":%s,"
             "\"iat\":%lld,\"exp\":%lld,\"jti\":\"j-2\",\"scope\":\"" TOKEN_ACCESS_SCOPE "\","
             "\"authorization_details\":[{\"type\":\"care-record-access\"}],\"log_index\":7%s}",
             aud_json, iat, exp, extra != NULL ? extra : "");
    return body;
}

#define AUD_OK        "\"" ISSUER "\""
#define ACCESS_AUD_OK "[\"" ISSUER "\",\"" HOLDER "\"]"

/* check_at runs token_check on s at time now, asserting the failure contract. */
static enum err
check_at(const char *s, size_t len, int64_t now)
{
    struct token_claims c;
    const char *why = NULL;
    enum err rc;

    rc = token_check(&signer, s, len, now, &c, &why);
    if (rc != ERR_OK) {
        ck_assert_ptr_nonnull(why);
        ck_assert_str_eq(c.sub, "");
        ck_assert_str_eq(c.client_id, "");
        ck_assert_uint_eq(c.scopes, 0);
    }
    return rc;
}

static enum err
check_jwt(void)
{
    return check_at(jwt, strlen(jwt), NOW);
}

/* access_at runs token_check_access on s at time now, asserting the failure contract. */
static enum err
access_at(const char *s, size_t len, int64_t now)
{
    const cJSON *c = NULL;
    const char *why = NULL;
    enum err rc;

    rc = token_check_access(&signer, s, len, now, &c, &why);
    if (rc == ERR_OK) {
        ck_assert_ptr_nonnull(c);
    } else {
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(why);
    }
    return rc;
}

static enum err
access_jwt(void)
{
    return access_at(jwt, strlen(jwt), NOW);
}

/* Both verifiers: a header variant signed by the token key over valid claims of each kind. */
static void
assert_both_refuse(const struct keys_pair *k, const char *h, const char *what)
{
    char copy[8192];

    snprintf(copy, sizeof(copy), "%s", h);
    forge(k, copy, claims(NOW, NOW + 300, AUD_OK, NULL));
    ck_assert_msg(check_jwt() != ERR_OK, "token_check accepted %s: %s", what, copy);
    forge(k, copy, access_claims(NOW, NOW + 300, ACCESS_AUD_OK, NULL));
    ck_assert_msg(access_jwt() != ERR_OK, "token_check_access accepted %s: %s", what, copy);
}

START_TEST(test_control_forgeries_with_nothing_wrong_are_accepted)
{
    struct token_claims c;
    char *minted = NULL;

    memset(&c, 0, sizeof(c));
    strcpy(c.sub, CID);
    strcpy(c.client_id, CID);
    c.scopes = TOKEN_SCOPE_POINTERS;
    c.iat = NOW;
    c.exp = NOW + 300;
    ck_assert_int_eq(token_mint(&signer, &c, &minted), ERR_OK);
    ck_assert_int_eq(check_at(minted, strlen(minted), NOW), ERR_OK);
    free(minted);
    forge(tkey, our_header(), claims(NOW, NOW + 300, AUD_OK, NULL));
    ck_assert_int_eq(check_jwt(), ERR_OK);
    forge(tkey, our_header(), access_claims(NOW, NOW + 300, ACCESS_AUD_OK, NULL));
    ck_assert_int_eq(access_jwt(), ERR_OK);
}
END_TEST

/* D1: the header never chooses the algorithm; about twenty variants of "alg". */
static const char *const bad_algs[] = {"\"none\"",   "\"None\"",    "\"NONE\"",
                                       "\"\"",       "\"HS256\"",   "\"HS384\"",
                                       "\"HS512\"",  "\"RS256\"",   "\"RS384\"",
                                       "\"PS256\"",  "\"ES256\"",   "\"ES384\"",
                                       "\"ES256K\"", "\"Ed448\"",   "\"eddsa\"",
                                       "\"EDDSA\"",  "\"ed25519\"", "\"ED25519\"",
                                       "\"EdDSA \"", "\" EdDSA\"",  "\"EdDSA\\u0000\"",
                                       "null",       "[\"EdDSA\"]", "{\"name\":\"EdDSA\"}",
                                       "1",          "true"};

START_TEST(test_d1_alg_variants_are_refused_by_both_verifiers)
{
    char kid[KEYS_KID_LEN + 3];
    size_t i;

    snprintf(kid, sizeof(kid), "\"%s\"", tkid);
    for (i = 0; i < sizeof(bad_algs) / sizeof(bad_algs[0]); i++)
        assert_both_refuse(tkey, header(bad_algs[i], "\"at+jwt\"", kid), bad_algs[i]);
    /* No "alg" at all, and "alg" twice (the strict parser refuses duplicates). */
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"at+jwt\",\"kid\":\"%s\"}", tkid);
    assert_both_refuse(tkey, hdr, "no alg");
    snprintf(hdr, sizeof(hdr),
             "{\"alg\":\"EdDSA\",\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", tkid);
    assert_both_refuse(tkey, hdr, "alg twice");
}
END_TEST

/* hmac_token writes a token "signed" with HMAC-SHA256 keyed by the token key's public key. */
static void
hmac_token(const char *h, const char *p)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    size_t n = 0;

    b64(h, strlen(h), jwt, sizeof(jwt), &n);
    jwt[n++] = '.';
    b64(p, strlen(p), jwt, sizeof(jwt), &n);
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), tpk, sizeof(tpk), (const uint8_t *)jwt, n, mac, &mac_len));
    jwt[n++] = '.';
    b64(mac, mac_len, jwt, sizeof(jwt), &n);
}

START_TEST(test_d1_hs256_keyed_with_the_public_key_and_unsigned_tokens_are_refused)
{
    char kid[KEYS_KID_LEN + 3];
    size_t n;

    snprintf(kid, sizeof(kid), "\"%s\"", tkid);
    hmac_token(header("\"HS256\"", "\"at+jwt\"", kid), claims(NOW, NOW + 300, AUD_OK, NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
    hmac_token(header("\"EdDSA\"", "\"at+jwt\"", kid), claims(NOW, NOW + 300, AUD_OK, NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
    hmac_token(header("\"HS256\"", "\"at+jwt\"", kid),
               access_claims(NOW, NOW + 300, ACCESS_AUD_OK, NULL));
    ck_assert_int_ne(access_jwt(), ERR_OK);
    /* alg none with an empty signature, and with none at all. */
    forge(tkey, header("\"none\"", "\"at+jwt\"", kid), claims(NOW, NOW + 300, AUD_OK, NULL));
    n = strrchr(jwt, '.') - jwt;
    jwt[n + 1] = '\0';
    ck_assert_int_ne(check_jwt(), ERR_OK);
    jwt[n] = '\0';
    ck_assert_int_ne(check_jwt(), ERR_OK);
}
END_TEST

/* A client assertion verifier against the registered Ed25519 key of CID. */
static enum err
assertion_rc(const char *s)
{
    struct assertion_claims out;
    char why[ASSERTION_WHY_MAX];
    struct pkey *vk = NULL;
    enum err rc;

    ck_assert_int_eq(pkey_from_ed25519(ppk, &vk), ERR_OK);
    rc = assertion_verify(s, strlen(s), vk, CID, ISSUER, ENDPOINT, NOW, "the client assertion",
                          &out, why);
    pkey_free(vk);
    return rc;
}

static const char *
assertion_claims(void)
{
    snprintf(body, sizeof(body),
             "{\"iss\":\"" CID "\",\"sub\":\"" CID "\",\"aud\":\"" ENDPOINT "\",\"jti\":\"a-1\","
             "\"iat\":%lld,\"exp\":%lld}",
             NOW, NOW + 60);
    return body;
}

START_TEST(test_d1_alg_variants_are_refused_in_client_assertions)
{
    size_t i;

    forge(pkey_patient, header("\"EdDSA\"", NULL, NULL), assertion_claims());
    ck_assert_int_eq(assertion_rc(jwt), ERR_OK);
    forge(pkey_patient, header("\"Ed25519\"", NULL, NULL), assertion_claims());
    ck_assert_int_eq(assertion_rc(jwt), ERR_OK);
    for (i = 0; i < sizeof(bad_algs) / sizeof(bad_algs[0]); i++) {
        forge(pkey_patient, header(bad_algs[i], NULL, NULL), assertion_claims());
        ck_assert_msg(assertion_rc(jwt) != ERR_OK, "accepted alg %s", bad_algs[i]);
    }
}
END_TEST

/* D2: "kid" is only a lookup key in a pinned table, never a path or a query. */
START_TEST(test_d2_kid_injection_is_refused)
{
    static const char *const kids[] = {"\"../../dev/null\"",
                                       "\"/etc/passwd\"",
                                       "\"file:///etc/passwd\"",
                                       "\"' OR 1=1--\"",
                                       "\"a\\u0000b\"",
                                       "\"*\"",
                                       "\"\"",
                                       "null",
                                       "1",
                                       "[]",
                                       "{}"};
    char kid[8192];
    size_t i;

    for (i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
        assert_both_refuse(tkey, header("\"EdDSA\"", "\"at+jwt\"", kids[i]), kids[i]);
    /* A 4 KiB kid, an unknown one, ours with a space, and no kid at all. */
    kid[0] = '"';
    memset(kid + 1, 'a', 4096);
    snprintf(kid + 4097, sizeof(kid) - 4097, "\"");
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"at+jwt\"", kid), "a 4 KiB kid");
    snprintf(kid, sizeof(kid), "\"%s\"", pkid);
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"at+jwt\"", kid), "an unknown kid");
    snprintf(kid, sizeof(kid), "\"%s \"", tkid);
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"at+jwt\"", kid), "our kid and a space");
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"at+jwt\"", NULL), "no kid");
}
END_TEST

START_TEST(test_d2_the_checkpoint_keys_kid_is_refused)
{
    char kid[KEYS_KID_LEN + 3];

    snprintf(kid, sizeof(kid), "\"%s\"", ckid);
    /* Signed by the checkpoint key and naming it; signed by the token key and naming it. */
    assert_both_refuse(ckey, header("\"EdDSA\"", "\"at+jwt\"", kid), "the checkpoint key");
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"at+jwt\"", kid), "the checkpoint kid");
    /* Signed by the checkpoint key but naming the token key. */
    assert_both_refuse(ckey, our_header(), "a checkpoint signature under our kid");
}
END_TEST

/* D3: headers that would fetch or carry a key are refused before any key is used. */
START_TEST(test_d3_key_carrying_headers_are_refused)
{
    static const char *const extra[] = {",\"jku\":\"http://127.0.0.1:9/jwks.json\"",
                                        ",\"x5u\":\"http://127.0.0.1:9/cert.pem\"",
                                        (",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
                                         "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"),
                                        ",\"x5c\":[\"MIIB\"]",
                                        ",\"crit\":[\"exp\"]",
                                        ",\"b64\":false"};
    size_t i;

    for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"%s}", tkid,
                 extra[i]);
        assert_both_refuse(tkey, hdr, extra[i]);
    }
}
END_TEST

/* flip_text flips every bit of s (len bytes) in turn; returns how many flips were refused. */
static size_t
flip_text(char *s, size_t len, enum err (*rc_of)(const char *, size_t, int64_t))
{
    size_t i, refused = 0;

    for (i = 0; i < len * 8; i++) {
        s[i / 8] = (char)(s[i / 8] ^ (1 << (i % 8)));
        if (rc_of(s, len, NOW) != ERR_OK)
            refused++;
        s[i / 8] = (char)(s[i / 8] ^ (1 << (i % 8)));
    }
    ck_assert_int_eq(rc_of(s, len, NOW), ERR_OK);
    return refused;
}

/*
 * flip_segment flips, one at a time, every bit of the decoded segment (0 header, 1 payload,
 * 2 signature) of the token in jwt, re-encoding it; returns how many flips were refused and
 * writes the segment's size in bits to *bits.
 */
static size_t
flip_segment(int seg, enum err (*rc_of)(const char *, size_t, int64_t), size_t *bits)
{
    char orig[JWS_CAP], out[JWS_CAP];
    const char *start, *end;
    uint8_t raw[JWS_CAP];
    size_t i, n, k, refused = 0;
    int j;

    snprintf(orig, sizeof(orig), "%s", jwt);
    start = orig;
    for (j = 0; j < seg; j++)
        start = strchr(start, '.') + 1;
    end = strchr(start, '.');
    if (end == NULL)
        end = start + strlen(start);
    ck_assert_int_eq(b64_decode(start, (size_t)(end - start), B64_URL, raw, sizeof(raw), &n),
                     ERR_OK);
    for (i = 0; i < n * 8; i++) {
        raw[i / 8] = (uint8_t)(raw[i / 8] ^ (1 << (i % 8)));
        k = (size_t)(start - orig);
        memcpy(out, orig, k);
        ck_assert_int_eq(b64_encode(raw, n, B64_URL, out + k, sizeof(out) - k), ERR_OK);
        k += strlen(out + k);
        snprintf(out + k, sizeof(out) - k, "%s", end);
        if (rc_of(out, strlen(out), NOW) != ERR_OK)
            refused++;
        raw[i / 8] = (uint8_t)(raw[i / 8] ^ (1 << (i % 8)));
    }
    *bits = n * 8;
    return refused;
}

/* D4: every flipped bit of a sample token, in its text and in each decoded part, is refused. */
START_TEST(test_d4_every_flipped_bit_is_refused)
{
    size_t len, bits;

    forge(tkey, our_header(), claims(NOW, NOW + 300, AUD_OK, NULL));
    len = strlen(jwt);
    ck_assert_uint_eq(flip_text(jwt, len, check_at), len * 8);
    ck_assert_uint_eq(flip_segment(2, check_at, &bits), bits);
    ck_assert_uint_eq(bits, 512);
    ck_assert_uint_eq(flip_segment(1, check_at, &bits), bits);
    ck_assert_uint_gt(bits, 8 * 150);
    ck_assert_uint_eq(flip_segment(0, check_at, &bits), bits);

    forge(tkey, our_header(), access_claims(NOW, NOW + 300, ACCESS_AUD_OK, NULL));
    len = strlen(jwt);
    ck_assert_uint_eq(flip_text(jwt, len, access_at), len * 8);
    ck_assert_uint_eq(flip_segment(2, access_at, &bits), bits);
    ck_assert_uint_eq(flip_segment(1, access_at, &bits), bits);
}
END_TEST

START_TEST(test_d4_every_truncation_is_refused)
{
    size_t len, i;

    forge(tkey, our_header(), claims(NOW, NOW + 300, AUD_OK, NULL));
    len = strlen(jwt);
    for (i = 0; i < len; i++)
        ck_assert_msg(check_at(jwt, i, NOW) != ERR_OK, "length %zu", i);
}
END_TEST

/* The small-order points of edwards25519, as libsodium lists them, and p, p + 1. */
static const uint8_t small_order[][32] = {
    {0},
    {1},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

#define NSMALL (sizeof(small_order) / sizeof(small_order[0]))

/* with_signature replaces the signature of the token in jwt by sig[0..len). */
static void
with_signature(const uint8_t *sig, size_t len)
{
    size_t n = (size_t)(strrchr(jwt, '.') - jwt) + 1;

    jwt[n] = '\0';
    b64(sig, len, jwt, sizeof(jwt), &n);
}

/* D5: Ed25519 edge cases: small-order keys and R, non-canonical S, zeros, wrong lengths. */
START_TEST(test_d5_small_order_keys_and_r_are_refused)
{
    static const uint8_t msg[] = "consent";
    uint8_t sig[SIG_BYTES], pk[KEYS_PUBLIC_BYTES];
    size_t i, s;

    for (i = 0; i < NSMALL; i++) {
        for (s = 0; s < 2; s++) {
            /* Each point, also with the sign bit set: a key, and R with S = 0. */
            memcpy(pk, small_order[i], sizeof(pk));
            pk[31] = (uint8_t)(pk[31] | (s << 7));
            memset(sig, 0, sizeof(sig));
            ck_assert_msg(sig_verify(pk, msg, sizeof(msg), sig) != ERR_OK, "key %zu/%zu", i, s);
            memcpy(sig, pk, 32);
            ck_assert_msg(sig_verify(pk, msg, sizeof(msg), sig) != ERR_OK, "key=R %zu/%zu", i, s);
            ck_assert_msg(sig_verify(tpk, msg, sizeof(msg), sig) != ERR_OK, "R %zu/%zu", i, s);
            /* In a token: R small-order, S = 0. */
            forge(tkey, our_header(), claims(NOW, NOW + 300, AUD_OK, NULL));
            with_signature(sig, sizeof(sig));
            ck_assert_msg(check_jwt() != ERR_OK, "token with R %zu/%zu", i, s);
        }
    }
}
END_TEST

START_TEST(test_d5_non_canonical_zero_and_wrong_length_signatures_are_refused)
{
    static const uint8_t order[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                      0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
    static const size_t lengths[] = {0, 1, 32, 63, 65, 96, 128};
    uint8_t sig[SIG_BYTES * 2];
    unsigned carry = 0, t;
    size_t n, i;

    forge(tkey, our_header(), claims(NOW, NOW + 300, AUD_OK, NULL));
    ck_assert_int_eq(b64_decode(strrchr(jwt, '.') + 1, strlen(strrchr(jwt, '.') + 1), B64_URL, sig,
                                sizeof(sig), &n),
                     ERR_OK);
    ck_assert_uint_eq(n, SIG_BYTES);
    /* S + L: the same scalar, not canonical. */
    for (i = 0; i < 32; i++) {
        t = sig[32 + i] + order[i] + carry;
        sig[32 + i] = (uint8_t)t;
        carry = t >> 8;
    }
    with_signature(sig, SIG_BYTES);
    ck_assert_int_ne(check_jwt(), ERR_OK);
    memset(sig, 0, sizeof(sig));
    with_signature(sig, SIG_BYTES);
    ck_assert_int_ne(check_jwt(), ERR_OK);
    for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        forge(tkey, our_header(), claims(NOW, NOW + 300, AUD_OK, NULL));
        memset(sig, 0x5a, sizeof(sig));
        with_signature(sig, lengths[i]);
        ck_assert_msg(check_jwt() != ERR_OK, "signature of %zu bytes", lengths[i]);
    }
}
END_TEST

/* D6: the validity window, with TOKEN_LEEWAY (60 s) either side. */
START_TEST(test_d6_validity_window)
{
    static const struct {
        long long iat, exp;
        const char *extra;
        bool ok;
    } rows[] = {
        {NOW, NOW + 300, NULL, true},
        {NOW - 301, NOW - 1, NULL, true},
        {NOW - 359, NOW - 59, NULL, true},
        {NOW - 360, NOW - 60, NULL, false},
        {NOW - 361, NOW - 61, NULL, false},
        {NOW + 59, NOW + 359, NULL, true},
        {NOW + 61, NOW + 361, NULL, false},
        {NOW, NOW - 86400, NULL, false},
        /* The verifier caps the lifetime at the longest the issuer gives (POLICY_MAX_LIFETIME). */
        {NOW, NOW + 3600, NULL, true},
        {NOW, NOW + 3601, NULL, false},
        {NOW, NOW + 31536000, NULL, false},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        forge(tkey, our_header(), claims(rows[i].iat, rows[i].exp, AUD_OK, rows[i].extra));
        ck_assert_msg((check_jwt() == ERR_OK) == rows[i].ok, "token_check row %zu", i);
        forge(tkey, our_header(), access_claims(rows[i].iat, rows[i].exp, ACCESS_AUD_OK, NULL));
        ck_assert_msg((access_jwt() == ERR_OK) == rows[i].ok, "token_check_access row %zu", i);
    }
}
END_TEST

/*
 * replace_member writes json (one flat object of strings, numbers and arrays of strings) with
 * member name's value replaced by value, or the member removed when value is NULL.
 */
static const char *
replace_member(const char *json, const char *name, const char *value)
{
    static char out[8192];
    char key[64];
    const char *at, *end;
    size_t k;

    snprintf(key, sizeof(key), "\"%s\":", name);
    at = strstr(json, key);
    ck_assert_ptr_nonnull(at);
    end = at + strlen(key);
    if (*end == '"')
        end = strchr(end + 1, '"') + 1;
    else if (*end == '[')
        end = strchr(end, ']') + 1;
    else
        while (*end != ',' && *end != '}')
            end++;
    k = (size_t)(at - json);
    memcpy(out, json, k);
    if (value != NULL)
        k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%s", key, value);
    else if (*end == ',')
        end++;
    else if (out[k - 1] == ',')
        k--;
    snprintf(out + k, sizeof(out) - k, "%s", end);
    return out;
}

START_TEST(test_d6_malformed_times_are_refused)
{
    static const char *const values[] = {
        NULL,   "\"1795003500\"", "1795003500.5", "9223372036854775808", "1e300", "-1",
        "null", "[1795003500]",   "true"};
    static const char *const names[] = {"exp", "iat"};
    char base[8192];
    size_t i, j;

    for (j = 0; j < 2; j++) {
        for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            snprintf(base, sizeof(base), "%s", claims(NOW, NOW + 300, AUD_OK, NULL));
            forge(tkey, our_header(), replace_member(base, names[j], values[i]));
            ck_assert_msg(check_jwt() != ERR_OK, "%s = %s", names[j], values[i]);
            snprintf(base, sizeof(base), "%s", access_claims(NOW, NOW + 300, ACCESS_AUD_OK, NULL));
            forge(tkey, our_header(), replace_member(base, names[j], values[i]));
            ck_assert_msg(access_jwt() != ERR_OK, "access %s = %s", names[j], values[i]);
        }
    }
}
END_TEST

/* D7: the audience is exactly this consentd. */
START_TEST(test_d7_audience_variants_are_refused)
{
    static const char *const auds[] = {"\"" ISSUER "/\"",
                                       "\"HTTPS://consentd.example\"",
                                       "\"https://CONSENTD.example\"",
                                       "\" " ISSUER "\"",
                                       "\"" ISSUER " \"",
                                       "\"https://consentd.exampl\"",
                                       "\"" ISSUER "x\"",
                                       "\"" HOLDER "\"",
                                       "\"\"",
                                       "[\"" ISSUER "\"]",
                                       "[]",
                                       "null",
                                       "1"};
    static const char *const access_auds[] = {"\"" ISSUER "\"",        "[]",
                                              "[\"" HOLDER "\"]",      "[\"" ISSUER "/\"]",
                                              "[\" " ISSUER "\"]",     "[\"" ISSUER "\",1]",
                                              "[\"" ISSUER "\",null]", "[[\"" ISSUER "\"]]",
                                              "{\"" ISSUER "\":1}",    "null"};
    char base[8192];
    size_t i;

    for (i = 0; i < sizeof(auds) / sizeof(auds[0]); i++) {
        forge(tkey, our_header(), claims(NOW, NOW + 300, auds[i], NULL));
        ck_assert_msg(check_jwt() != ERR_OK, "token_check aud %s", auds[i]);
    }
    snprintf(base, sizeof(base), "%s", claims(NOW, NOW + 300, AUD_OK, NULL));
    forge(tkey, our_header(), replace_member(base, "aud", NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
    for (i = 0; i < sizeof(access_auds) / sizeof(access_auds[0]); i++) {
        forge(tkey, our_header(), access_claims(NOW, NOW + 300, access_auds[i], NULL));
        ck_assert_msg(access_jwt() != ERR_OK, "token_check_access aud %s", access_auds[i]);
    }
    snprintf(base, sizeof(base), "%s", access_claims(NOW, NOW + 300, ACCESS_AUD_OK, NULL));
    forge(tkey, our_header(), replace_member(base, "aud", NULL));
    ck_assert_int_ne(access_jwt(), ERR_OK);
    /* The issuer likewise. */
    snprintf(base, sizeof(base), "%s", claims(NOW, NOW + 300, AUD_OK, NULL));
    forge(tkey, our_header(), replace_member(base, "iss", "\"" ISSUER "/\""));
    ck_assert_int_ne(check_jwt(), ERR_OK);
}
END_TEST

/* D10: other signed objects presented as access tokens. */
START_TEST(test_d10_type_confusion_is_refused)
{
    static const uint8_t root[HASH_BYTES] = {7};
    struct ckpt_signer cs = {0};
    struct token_claims c;
    char note[CKPT_RECORD], kid[KEYS_KID_LEN + 3];
    char *minted = NULL;
    size_t len;

    /* A signed checkpoint, as it is and as a JWS payload signed by the checkpoint key. */
    ck_assert_int_eq(ckpt_signer_init(&cs, tu_key(0x42), ORIGIN), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&cs, 5, root, note, &len), ERR_OK);
    ck_assert_int_ne(check_at(note, len, NOW), ERR_OK);
    ck_assert_int_ne(access_at(note, len, NOW), ERR_OK);
    ckpt_signer_clear(&cs);
    /* A patient's consent grant, and a client assertion, each signed by its own key. */
    snprintf(kid, sizeof(kid), "\"%s\"", pkid);
    forge(pkey_patient, header("\"EdDSA\"", "\"consent+jwt\"", kid),
          "{\"iss\":\"9434765919\",\"sub\":\"9434765919\",\"jti\":\"g-1\",\"iat\":1795003200,"
          "\"effect\":\"permit\",\"grantee\":{\"org\":\"A81001\"},\"purpose\":\"TREAT\"}");
    ck_assert_int_ne(check_jwt(), ERR_OK);
    ck_assert_int_ne(access_jwt(), ERR_OK);
    forge(pkey_patient, header("\"EdDSA\"", "\"JWT\"", NULL), assertion_claims());
    ck_assert_int_ne(check_jwt(), ERR_OK);
    ck_assert_int_ne(access_jwt(), ERR_OK);
    /* Valid claims signed by the token key with another typ, or none. */
    snprintf(kid, sizeof(kid), "\"%s\"", tkid);
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"consent+jwt\"", kid), "typ consent+jwt");
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"JWT\"", kid), "typ JWT");
    assert_both_refuse(tkey, header("\"EdDSA\"", "\"AT+JWT\"", kid), "typ AT+JWT");
    assert_both_refuse(tkey, header("\"EdDSA\"", "null", kid), "typ null");
    assert_both_refuse(tkey, header("\"EdDSA\"", NULL, kid), "no typ");
    /* A client token is not a consent-checked token, and the other way round. */
    memset(&c, 0, sizeof(c));
    strcpy(c.sub, CID);
    strcpy(c.client_id, CID);
    c.scopes = TOKEN_SCOPE_POINTERS | TOKEN_SCOPE_PATIENT;
    c.iat = NOW;
    c.exp = NOW + 300;
    ck_assert_int_eq(token_mint(&signer, &c, &minted), ERR_OK);
    ck_assert_int_ne(access_at(minted, strlen(minted), NOW), ERR_OK);
    free(minted);
    forge(tkey, our_header(), access_claims(NOW, NOW + 300, ACCESS_AUD_OK, NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
    forge(tkey, our_header(), access_claims(NOW, NOW + 300, AUD_OK, NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
}
END_TEST

/* D12: claims a lax parser would read one way and a strict one another. */
START_TEST(test_d12_ambiguous_claims_are_refused)
{
    static const char *const extras[] = {
        ",\"aud\":\"" HOLDER "\"", ",\"sub\":\"other\"",  ",\"client_id\":\"other\"",
        ",\"scope\":\"audit\"",    ",\"exp\":1895003200", ",\"iss\":\"https://evil.example\""};
    char base[8192];
    size_t i;

    /* Every claim twice, with another value. */
    for (i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
        forge(tkey, our_header(), claims(NOW, NOW + 300, AUD_OK, extras[i]));
        ck_assert_msg(check_jwt() != ERR_OK, "duplicate %s", extras[i]);
        forge(tkey, our_header(), access_claims(NOW, NOW + 300, ACCESS_AUD_OK, extras[i]));
        ck_assert_msg(access_jwt() != ERR_OK, "access duplicate %s", extras[i]);
    }
    /* "AUD" for "aud", a NUL inside, a Cyrillic lookalike, invalid UTF-8, trailing bytes. */
    snprintf(base, sizeof(base), "%s", claims(NOW, NOW + 300, AUD_OK, NULL));
    snprintf(base, sizeof(base), "%s", replace_member(base, "aud", NULL));
    base[strlen(base) - 1] = '\0';
    strcat(base, ",\"AUD\":\"" ISSUER "\"}");
    forge(tkey, our_header(), base);
    ck_assert_int_ne(check_jwt(), ERR_OK);
    forge(tkey, our_header(), claims(NOW, NOW + 300, "\"" ISSUER "\\u0000evil\"", NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
    forge(tkey, our_header(), claims(NOW, NOW + 300, "\"https://consentd.\xd0\xb5xample\"", NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
    forge(tkey, our_header(), claims(NOW, NOW + 300, "\"https://consentd.\xc0\xaexample\"", NULL));
    ck_assert_int_ne(check_jwt(), ERR_OK);
    claims(NOW, NOW + 300, AUD_OK, NULL);
    strcat(body, " {}");
    forge(tkey, our_header(), body);
    ck_assert_int_ne(check_jwt(), ERR_OK);
    memcpy(base, "\xef\xbb\xbf", 3);
    memcpy(base + 3, claims(NOW, NOW + 300, AUD_OK, NULL), strlen(body) + 1);
    forge(tkey, our_header(), base);
    ck_assert_int_ne(check_jwt(), ERR_OK);
    /* The header's kid twice. */
    snprintf(hdr, sizeof(hdr),
             "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"kid\":\"%s\"}", tkid, ckid);
    assert_both_refuse(tkey, hdr, "kid twice");
}
END_TEST

/*
 * D13: a verifier whose clock is off by ±30 s, ±5 min or ±1 h. Accepted exactly when
 * iat <= now + TOKEN_LEEWAY and now < exp + TOKEN_LEEWAY.
 */
START_TEST(test_d13_verifier_clock_skew)
{
    static const long long skews[] = {-3600, -300, -61, -60, -30, 0, 30, 300, 359, 360, 3600};
    struct token_claims c;
    char *minted = NULL;
    long long now;
    bool want;
    size_t i;

    memset(&c, 0, sizeof(c));
    strcpy(c.sub, CID);
    strcpy(c.client_id, CID);
    c.scopes = TOKEN_SCOPE_AUDIT;
    c.iat = NOW;
    c.exp = NOW + TOKEN_LIFETIME;
    ck_assert_int_eq(token_mint(&signer, &c, &minted), ERR_OK);
    forge(tkey, our_header(), access_claims(NOW, NOW + TOKEN_LIFETIME, ACCESS_AUD_OK, NULL));
    for (i = 0; i < sizeof(skews) / sizeof(skews[0]); i++) {
        now = NOW + skews[i];
        want = NOW <= now + TOKEN_LEEWAY && now < NOW + TOKEN_LIFETIME + TOKEN_LEEWAY;
        ck_assert_msg((check_at(minted, strlen(minted), now) == ERR_OK) == want, "skew %lld",
                      skews[i]);
        ck_assert_msg((access_at(jwt, strlen(jwt), now) == ERR_OK) == want, "access skew %lld",
                      skews[i]);
    }
    free(minted);
}
END_TEST

/* F5: the checkpoint key and the token key never verify each other's signatures. */
START_TEST(test_f5_checkpoint_and_token_keys_are_separate)
{
    static const uint8_t root[HASH_BYTES] = {9};
    struct ckpt_signer cs = {0}, forged = {0};
    struct note_checkpoint cp;
    uint8_t sig[SIG_BYTES];
    char note[CKPT_RECORD];
    size_t len;

    ck_assert_int_ne(memcmp(tpk, cpk, sizeof(tpk)), 0);
    sig_sign(tkey, (const uint8_t *)"x", 1, sig);
    ck_assert_int_eq(sig_verify(tpk, (const uint8_t *)"x", 1, sig), ERR_OK);
    ck_assert_int_ne(sig_verify(cpk, (const uint8_t *)"x", 1, sig), ERR_OK);
    sig_sign(ckey, (const uint8_t *)"x", 1, sig);
    ck_assert_int_ne(sig_verify(tpk, (const uint8_t *)"x", 1, sig), ERR_OK);
    /* A checkpoint signed by the token key under the log's name does not verify. */
    ck_assert_int_eq(ckpt_signer_init(&cs, tu_key(0x42), ORIGIN), ERR_OK);
    ck_assert_int_eq(ckpt_signer_init(&forged, tu_key(0x41), ORIGIN), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&forged, 5, root, note, &len), ERR_OK);
    ck_assert_int_ne(ckpt_open_verify(&cs.verifier, note, len, &cp), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&cs, 5, root, note, &len), ERR_OK);
    ck_assert_int_eq(ckpt_open_verify(&cs.verifier, note, len, &cp), ERR_OK);
    ckpt_signer_clear(&cs);
    ckpt_signer_clear(&forged);
}
END_TEST

Suite *
token_attacks_suite(void)
{
    Suite *s = suite_create("token_attacks");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    /* The bit-flip tests verify a few thousand tokens: slow under the sanitizers. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_control_forgeries_with_nothing_wrong_are_accepted);
    tcase_add_test(tc, test_d1_alg_variants_are_refused_by_both_verifiers);
    tcase_add_test(tc, test_d1_hs256_keyed_with_the_public_key_and_unsigned_tokens_are_refused);
    tcase_add_test(tc, test_d1_alg_variants_are_refused_in_client_assertions);
    tcase_add_test(tc, test_d2_kid_injection_is_refused);
    tcase_add_test(tc, test_d2_the_checkpoint_keys_kid_is_refused);
    tcase_add_test(tc, test_d3_key_carrying_headers_are_refused);
    tcase_add_test(tc, test_d4_every_flipped_bit_is_refused);
    tcase_add_test(tc, test_d4_every_truncation_is_refused);
    tcase_add_test(tc, test_d5_small_order_keys_and_r_are_refused);
    tcase_add_test(tc, test_d5_non_canonical_zero_and_wrong_length_signatures_are_refused);
    tcase_add_test(tc, test_d6_validity_window);
    tcase_add_test(tc, test_d6_malformed_times_are_refused);
    tcase_add_test(tc, test_d7_audience_variants_are_refused);
    tcase_add_test(tc, test_d10_type_confusion_is_refused);
    tcase_add_test(tc, test_d12_ambiguous_claims_are_refused);
    tcase_add_test(tc, test_d13_verifier_clock_skew);
    tcase_add_test(tc, test_f5_checkpoint_and_token_keys_are_separate);
    suite_add_tcase(s, tc);
    return s;
}
