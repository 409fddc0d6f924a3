/*
 * check_ambiguity: RELIABILITY.md C5 and D12: JSON that two parsers could read differently,
 * put where it carries authority, in a signed payload read by three parsers: a client
 * assertion at the token endpoint (assertion_verify), an access token shown to consentd
 * (token_check) and a patient's grant (consents_grant_parse, POST /v1/consents). Each payload
 * is signed with the right key, so only the JSON decides.
 *
 * Each case is a payload template and what each parser must do with it, in that order: 'R'
 * refused, 'A' accepted. Accepted cases are not ambiguous (JSON says what they mean) but are
 * the edges of one: a case variant next to the real member ("ISS" beside "iss") is a different
 * member for JSON, which assertions and tokens may carry and grants may not (exact members),
 * and every reader of "iss" gets the real one because only case-sensitive getters are used
 * (tests/lint.sh checks that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/assertion.h"
#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/sig.h"
#include "consentd/token.h"
#include "suites.h"
#include "testutil.h"

#define NOW      1764000000
#define ISSUER   "https://consentd.example"
#define ENDPOINT ISSUER "/oauth2/token"
#define NHS      "9434765919"
#define CLIENT   "client-1"

/*
 * A payload template: "$V" is the valid "iss", "$E" the same with its first character written
 * as a \u escape, "$R" the rest of the valid members (without "iss" and "iat"), "$T" the valid
 * "iat". Every other byte is taken as it is, NULs included.
 */
struct amb_case {
    const char *name;
    const char *text;
    size_t len;
    const char *expect; /* assertion, token, grant */
};

#define CASE(name, text, expect)                                                                   \
    {                                                                                              \
        name, text, sizeof(text) - 1, expect                                                       \
    }

static const struct amb_case cases[] = {
    CASE("the valid payload", "{\"iss\":\"$V\",$R,\"iat\":$T}", "AAA"),
    CASE("whitespace around it", " \n{\"iss\" : \"$V\" , $R,\"iat\":$T}\r\n\t", "AAA"),
    CASE("the value's first letter escaped", "{\"iss\":\"$E\",$R,\"iat\":$T}", "AAA"),
    CASE("a case variant beside the member", "{\"iss\":\"$V\",\"ISS\":\"evil\",$R,\"iat\":$T}",
         "AAR"),
    CASE("an unknown member", "{\"iss\":\"$V\",$R,\"iat\":$T,\"zzz\":1}", "AAR"),
    /* Duplicates. */
    CASE("a duplicate, the other value last", "{\"iss\":\"$V\",$R,\"iat\":$T,\"iss\":\"evil\"}",
         "RRR"),
    CASE("a duplicate, the other value first", "{\"iss\":\"evil\",\"iss\":\"$V\",$R,\"iat\":$T}",
         "RRR"),
    CASE("a duplicate with the same value", "{\"iss\":\"$V\",\"iss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a duplicate spelt with an escape",
         "{\"iss\":\"$V\",\"\\u0069ss\":\"evil\",$R,\"iat\":$T}", "RRR"),
    CASE("a duplicate spelt with escapes only",
         "{\"\\u0069\\u0073\\u0073\":\"evil\",\"iss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a duplicate time", "{\"iss\":\"$V\",$R,\"iat\":$T,\"iat\":0}", "RRR"),
    CASE("a duplicate inside a nested object",
         "{\"iss\":\"$V\",$R,\"iat\":$T,\"x\":{\"a\":1,\"a\":2}}", "RRR"),
    /* Case variants and look-alikes instead of the member. */
    CASE("ISS instead of iss", "{\"ISS\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("Iss instead of iss", "{\"Iss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a dotless i in the name", "{\"\xc4\xb1ss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a Cyrillic i in the name", "{\"\xd1\x96ss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a full-width i in the name", "{\"\xef\xbd\x89ss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a look-alike appended to the value", "{\"iss\":\"$V\xd0\xb0\",$R,\"iat\":$T}", "RRR"),
    CASE("a zero-width space after the value", "{\"iss\":\"$V\xe2\x80\x8b\",$R,\"iat\":$T}", "RRR"),
    /* NUL. */
    CASE("an escaped NUL truncating the value", "{\"iss\":\"$V\\u0000evil\",$R,\"iat\":$T}", "RRR"),
    CASE("an escaped NUL ending the value", "{\"iss\":\"$V\\u0000\",$R,\"iat\":$T}", "RRR"),
    CASE("a raw NUL in the value", "{\"iss\":\"$V\0evil\",$R,\"iat\":$T}", "RRR"),
    CASE("an escaped NUL in the name", "{\"iss\\u0000x\":\"evil\",\"iss\":\"$V\",$R,\"iat\":$T}",
         "RRR"),
    CASE("a NUL after the object", "{\"iss\":\"$V\",$R,\"iat\":$T}\0", "RRR"),
    CASE("an overlong NUL in the value", "{\"iss\":\"$V\xc0\x80\",$R,\"iat\":$T}", "RRR"),
    /* Not UTF-8. */
    CASE("a stray continuation byte", "{\"iss\":\"$V\x80\",$R,\"iat\":$T}", "RRR"),
    CASE("a byte that is never UTF-8", "{\"iss\":\"$V\xff\",$R,\"iat\":$T}", "RRR"),
    CASE("a truncated sequence", "{\"iss\":\"$V\xe2\x82\",$R,\"iat\":$T}", "RRR"),
    CASE("an overlong slash", "{\"iss\":\"$V\xc0\xaf\",$R,\"iat\":$T}", "RRR"),
    CASE("an overlong quote", "{\"iss\":\"$V\xc0\xa2,$R,\"iat\":$T}", "RRR"),
    CASE("an overlong three-byte form", "{\"iss\":\"$V\xe0\x80\xaf\",$R,\"iat\":$T}", "RRR"),
    CASE("a raw surrogate", "{\"iss\":\"$V\xed\xa0\x80\",$R,\"iat\":$T}", "RRR"),
    CASE("a CESU-8 pair", "{\"iss\":\"$V\xed\xa0\xbd\xed\xb8\x80\",$R,\"iat\":$T}", "RRR"),
    CASE("an escaped lone surrogate", "{\"iss\":\"$V\\ud800\",$R,\"iat\":$T}", "RRR"),
    CASE("an escaped low surrogate first", "{\"iss\":\"$V\\udc00\\ud800\",$R,\"iat\":$T}", "RRR"),
    CASE("above U+10FFFF", "{\"iss\":\"$V\xf4\x90\x80\x80\",$R,\"iat\":$T}", "RRR"),
    CASE("a byte order mark first", "\xef\xbb\xbf{\"iss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a UTF-16 byte order mark first", "\xfe\xff{\"iss\":\"$V\",$R,\"iat\":$T}", "RRR"),
    /* Numbers. */
    CASE("a time of 1e400", "{\"iss\":\"$V\",$R,\"iat\":1e400}", "RRR"),
    CASE("a time of -1e400", "{\"iss\":\"$V\",$R,\"iat\":-1e400}", "RRR"),
    CASE("a time of NaN", "{\"iss\":\"$V\",$R,\"iat\":NaN}", "RRR"),
    CASE("a time of Infinity", "{\"iss\":\"$V\",$R,\"iat\":Infinity}", "RRR"),
    CASE("a time with a leading zero", "{\"iss\":\"$V\",$R,\"iat\":0$T}", "RRR"),
    CASE("a time with a plus sign", "{\"iss\":\"$V\",$R,\"iat\":+$T}", "RRR"),
    CASE("a time in hexadecimal", "{\"iss\":\"$V\",$R,\"iat\":0x1}", "RRR"),
    CASE("a time as a string", "{\"iss\":\"$V\",$R,\"iat\":\"$T\"}", "RRR"),
    CASE("a time of 2^64", "{\"iss\":\"$V\",$R,\"iat\":18446744073709551616}", "RRR"),
    /* Not one JSON object. */
    CASE("garbage after the object", "{\"iss\":\"$V\",$R,\"iat\":$T}x", "RRR"),
    CASE("a second object after it", "{\"iss\":\"$V\",$R,\"iat\":$T}{}", "RRR"),
    CASE("a comma after it", "{\"iss\":\"$V\",$R,\"iat\":$T},", "RRR"),
    CASE("a trailing comma inside", "{\"iss\":\"$V\",$R,\"iat\":$T,}", "RRR"),
    CASE("a comment", "{\"iss\":\"$V\" /* c */,$R,\"iat\":$T}", "RRR"),
    CASE("single quotes", "{'iss':\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("an unquoted name", "{iss:\"$V\",$R,\"iat\":$T}", "RRR"),
    CASE("a raw tab in the value", "{\"iss\":\"$V\t\",$R,\"iat\":$T}", "RRR"),
    CASE("an unknown escape", "{\"iss\":\"$V\\x41\",$R,\"iat\":$T}", "RRR"),
    CASE("a truncated escape", "{\"iss\":\"$V\\u12\",$R,\"iat\":$T}", "RRR"),
    CASE("nesting 33 deep",
         "{\"iss\":\"$V\",$R,\"iat\":$T,\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]}",
         "RRR"),
    CASE("an array holding the object", "[{\"iss\":\"$V\",$R,\"iat\":$T}]", "RRR"),
    CASE("iss null", "{\"iss\":null,$R,\"iat\":$T}", "RRR"),
    CASE("iss an array", "{\"iss\":[\"$V\"],$R,\"iat\":$T}", "RRR"),
    CASE("iss a number", "{\"iss\":9434765919,$R,\"iat\":$T}", "RRR"),
    CASE("an empty payload", "", "RRR"),
    CASE("an empty object", "{}", "RRR"),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* What each parser needs beside "iss" and "iat". */
static const char assertion_rest[] =
    "\"sub\":\"" CLIENT "\",\"aud\":\"" ENDPOINT "\",\"exp\":1764000120,\"jti\":\"a-1\"";
static const char token_rest[] = "\"sub\":\"" CLIENT "\",\"client_id\":\"" CLIENT
                                 "\",\"aud\":\"" ISSUER "\",\"exp\":1764000300,\"jti\":\"t-1\","
                                 "\"scope\":\"audit\"";
static const char grant_rest[] =
    "\"sub\":\"" NHS "\",\"jti\":\"g-1\",\"effect\":\"permit\",\"grantee\":{\"org\":\"RX1\"},"
    "\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"],\"period\":{"
    "\"start\":\"2025-01-01T00:00:00Z\",\"end\":\"2030-01-01T00:00:00Z\"}";

static struct keys_pair *key, *token_key;
static struct token_signer signer;
static struct pkey *client_key;
static char token_kid[KEYS_KID_LEN + 1];

static void
setup(void)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];

    key = tu_key(0x31);
    keys_public(key, pk);
    ck_assert_int_eq(pkey_from_ed25519(pk, &client_key), ERR_OK);
    /* The signer owns its key; a second copy of it signs the tokens made here. */
    token_key = tu_key(0x32);
    keys_public(token_key, pk);
    keys_kid(pk, token_kid);
    ck_assert_int_eq(token_signer_init(&signer, tu_key(0x32), ISSUER), ERR_OK);
}

static void
teardown(void)
{
    keys_free(key);
    keys_free(token_key);
    pkey_free(client_key);
    token_signer_clear(&signer);
}

/* expand writes c's template filled in with v and rest into out and returns its length. */
static size_t
expand(const struct amb_case *c, const char *v, const char *rest, char *out, size_t cap)
{
    char escaped[64];
    const char *sub;
    size_t i, n = 0, len;

    snprintf(escaped, sizeof(escaped), "\\u%04x%s", (unsigned)v[0], v + 1);
    for (i = 0; i < c->len; i++) {
        sub = NULL;
        if (c->text[i] == '$' && i + 1 < c->len && c->text[i + 1] == 'V')
            sub = v;
        else if (c->text[i] == '$' && i + 1 < c->len && c->text[i + 1] == 'E')
            sub = escaped;
        else if (c->text[i] == '$' && i + 1 < c->len && c->text[i + 1] == 'R')
            sub = rest;
        else if (c->text[i] == '$' && i + 1 < c->len && c->text[i + 1] == 'T')
            sub = "1764000000";
        if (sub == NULL) {
            ck_assert_uint_lt(n, cap);
            out[n++] = c->text[i];
            continue;
        }
        len = strlen(sub);
        ck_assert_uint_lt(n + len, cap);
        memcpy(out + n, sub, len);
        n += len;
        i++;
    }
    return n;
}

/* sign writes the compact JWS of header and payload[0..len) signed by k into out. */
static size_t
sign(const struct keys_pair *k, const char *header, const char *payload, size_t len, char *out,
     size_t cap)
{
    uint8_t sig[SIG_BYTES];
    size_t n;

    ck_assert_int_eq(b64_encode((const uint8_t *)header, strlen(header), B64_URL, out, cap),
                     ERR_OK);
    n = strlen(out);
    out[n++] = '.';
    ck_assert_int_eq(b64_encode((const uint8_t *)payload, len, B64_URL, out + n, cap - n), ERR_OK);
    n += strlen(out + n);
    sig_sign(k, (const uint8_t *)out, n, sig);
    out[n++] = '.';
    ck_assert_int_eq(b64_encode(sig, sizeof(sig), B64_URL, out + n, cap - n), ERR_OK);
    return n + strlen(out + n);
}

/* verdict returns 'A' if the parser numbered which (0 assertion, 1 token, 2 grant) accepts c. */
static char
verdict(const struct amb_case *c, int which)
{
    static const char *const vs[] = {CLIENT, ISSUER, NHS};
    static const char *const rests[] = {assertion_rest, token_rest, grant_rest};
    char payload[1024], jws[4096], header[128], why[ASSERTION_WHY_MAX];
    char sub[ASSERTION_SUBJECT_MAX + 1];
    static struct consents_grant g;
    enum consents_refusal code;
    struct assertion_claims ac;
    struct token_claims tc;
    const char *twhy;
    size_t plen, len;

    plen = expand(c, vs[which], rests[which], payload, sizeof(payload));
    if (which == 0) {
        len = sign(key, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", payload, plen, jws, sizeof(jws));
        if (assertion_verify(jws, len, client_key, CLIENT, ISSUER, ENDPOINT, NOW, "the assertion",
                             &ac, why) != ERR_OK)
            return 'R';
        /* Whoever reads the subject first, before the key is known, reads the same one. */
        ck_assert_int_eq(assertion_subject(jws, len, "the assertion", sub, why), ERR_OK);
        ck_assert_str_eq(sub, CLIENT);
        return 'A';
    }
    if (which == 1) {
        snprintf(header, sizeof(header), "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
                 token_kid);
        len = sign(token_key, header, payload, plen, jws, sizeof(jws));
        if (token_check(&signer, jws, len, NOW, &tc, &twhy) != ERR_OK)
            return 'R';
        ck_assert_str_eq(tc.sub, CLIENT);
        return 'A';
    }
    len = sign(key, "{\"alg\":\"EdDSA\",\"typ\":\"consent+jwt\",\"kid\":\"k-1\"}", payload, plen,
               jws, sizeof(jws));
    if (consents_grant_parse(jws, len, &g, &code, why) != ERR_OK)
        return 'R';
    ck_assert_str_eq(g.iss, NHS);
    return 'A';
}

START_TEST(test_ambiguous_json_is_refused_everywhere)
{
    unsigned refused = 0, accepted = 0, ambiguous = 0, ambiguous_accepted = 0, wrong = 0;
    size_t i;
    int w;
    char got;

    for (i = 0; i < NCASES; i++) {
        if (strcmp(cases[i].expect, "RRR") == 0)
            ambiguous++;
        for (w = 0; w < 3; w++) {
            got = verdict(&cases[i], w);
            if (got == 'R')
                refused++;
            else
                accepted++;
            if (got == 'A' && strcmp(cases[i].expect, "RRR") == 0)
                ambiguous_accepted++;
            if (got != cases[i].expect[w]) {
                wrong++;
                fprintf(stderr, "ambiguity: %s: %s %s, wanted %s\n", cases[i].name,
                        (const char *[]){"assertion", "token", "grant"}[w],
                        got == 'R' ? "refused" : "accepted",
                        cases[i].expect[w] == 'R' ? "refused" : "accepted");
            }
        }
    }
    printf("ambiguity: C5 %zu inputs x 3 parsers: %u refused, %u accepted; %u ambiguous inputs, "
           "accepted %u times; %u verdicts other than specified\n",
           NCASES, refused, accepted, ambiguous, ambiguous_accepted, wrong);
    ck_assert_uint_eq(ambiguous_accepted, 0);
    ck_assert_uint_eq(wrong, 0);
}
END_TEST

Suite *
ambiguity_suite(void)
{
    Suite *s = suite_create("ambiguity");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ambiguous_json_is_refused_everywhere);
    suite_add_tcase(s, tc);
    return s;
}
