/*
 * check_token: the token signer across a key rotation: new tokens carry the new kid, tokens of
 * the retired key verify until its publication window ends and never after, the JWKS's keys in
 * order, and a kid that names no key of ours refused. Times are passed explicitly.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/jws.h"
#include "consentd/token.h"
#include "consentd/xmalloc.h"
#include "suites.h"
#include "testutil.h"

#define ISSUER "https://consentd.example"
#define NOW    1795003200 /* 2026-11-20T08:00:00Z */
#define UNTIL  (NOW + 3660)

static struct token_signer signer;
static char kid[4][KEYS_KID_LEN + 1];

static void
setup(void)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct keys_pair *k;
    int i;

    for (i = 0; i < 4; i++) {
        k = tu_key((unsigned char)(0x20 + i));
        keys_public(k, pk);
        keys_kid(pk, kid[i]);
        keys_free(k);
    }
    ck_assert_int_eq(token_signer_init(&signer, tu_key(0x20), ISSUER), ERR_OK);
}

static void
teardown(void)
{
    token_signer_clear(&signer);
}

/* mint returns a token of client c issued at iat for 300 s (free it). */
static char *
mint(int64_t iat)
{
    struct token_claims c;
    char *out = NULL;

    memset(&c, 0, sizeof(c));
    strcpy(c.sub, "rx-req");
    strcpy(c.client_id, "rx-req");
    c.scopes = TOKEN_SCOPE_INTROSPECT;
    c.iat = iat;
    c.exp = iat + 300;
    ck_assert_int_eq(token_mint(&signer, &c, &out), ERR_OK);
    return out;
}

/* mint_access_n returns a consent-checked token issued at iat for 300 s, jti "jti-n" (free it). */
static char *
mint_access_n(int64_t iat, unsigned n)
{
    struct token_claims c;
    struct token_access a;
    cJSON *details = cJSON_Parse("[{\"type\":\"care-record-access\"}]");
    char *out = NULL;

    memset(&c, 0, sizeof(c));
    memset(&a, 0, sizeof(a));
    strcpy(c.sub, "rx-req");
    strcpy(c.client_id, "rx-req");
    snprintf(c.jti, sizeof(c.jti), "jti-%u", n);
    c.iat = iat;
    c.exp = iat + 300;
    a.details = details;
    a.log_index = 7;
    a.purpose = "TREAT";
    ck_assert_int_eq(token_mint_access(&signer, &c, &a, &out), ERR_OK);
    cJSON_Delete(details);
    return out;
}

static char *
mint_access(int64_t iat)
{
    return mint_access_n(iat, 1);
}

/* kid_of returns the index in kid[] of the token's header kid, or -1. */
static int
kid_of(const char *jwt)
{
    struct jws_parts p = {0};
    const cJSON *k;
    const char *why;
    int i, found = -1;

    ck_assert_int_eq(jws_decode(jwt, strlen(jwt), &p, &why), ERR_OK);
    k = cJSON_GetObjectItemCaseSensitive(p.header, "kid");
    for (i = 0; i < 4 && cJSON_IsString(k); i++)
        if (strcmp(k->valuestring, kid[i]) == 0)
            found = i;
    jws_parts_clear(&p);
    return found;
}

static enum err
check(const char *jwt, int64_t now, const char **why)
{
    struct token_claims c;

    return token_check(&signer, jwt, strlen(jwt), now, &c, why);
}

static enum err
check_access(const char *jwt, int64_t now, const char **why)
{
    const cJSON *claims = NULL;
    enum err rc;

    rc = token_check_access(&signer, jwt, strlen(jwt), now, &claims, why);
    ck_assert((rc == ERR_OK) == (claims != NULL));
    return rc;
}

START_TEST(test_rotate_mints_with_the_new_kid)
{
    const char *why;
    char *a = mint(NOW), *b;

    ck_assert_int_eq(kid_of(a), 0);
    token_signer_rotate(&signer, tu_key(0x21), UNTIL);
    b = mint(NOW);
    ck_assert_int_eq(kid_of(b), 1);
    ck_assert_int_eq(check(b, NOW + 1, &why), ERR_OK);
    free(b);
    b = mint_access(NOW);
    ck_assert_int_eq(kid_of(b), 1);
    ck_assert_int_eq(check_access(b, NOW + 1, &why), ERR_OK);
    free(b);
    free(a);
}
END_TEST

START_TEST(test_retired_key_verifies_within_its_window_only)
{
    const char *why = NULL;
    char *a = mint(NOW), *aa = mint_access(NOW);

    token_signer_rotate(&signer, tu_key(0x21), NOW + 100);
    ck_assert_int_eq(check(a, NOW + 99, &why), ERR_OK);
    ck_assert_int_eq(check_access(aa, NOW + 99, &why), ERR_OK);
    /* The token itself is still within its lifetime: only the key's window has ended. */
    ck_assert_int_eq(check(a, NOW + 100, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token names a retired token key that is no longer accepted");
    ck_assert_int_eq(check_access(aa, NOW + 100, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token names a retired token key that is no longer accepted");
    free(aa);
    free(a);
}
END_TEST

START_TEST(test_keys_are_published_current_first)
{
    struct token_keys k;

    token_signer_keys(&signer, NOW, &k);
    ck_assert_uint_eq(k.n, 1);
    ck_assert_str_eq(k.k[0].kid, kid[0]);
    ck_assert_int_eq(k.k[0].until, 0);
    token_signer_rotate(&signer, tu_key(0x21), UNTIL);
    token_signer_keys(&signer, UNTIL - 1, &k);
    ck_assert_uint_eq(k.n, 2);
    ck_assert_str_eq(k.k[0].kid, kid[1]);
    ck_assert_str_eq(k.k[1].kid, kid[0]);
    ck_assert_int_eq(k.k[1].until, UNTIL);
    token_signer_keys(&signer, UNTIL, &k);
    ck_assert_uint_eq(k.n, 1);
    ck_assert_str_eq(k.k[0].kid, kid[1]);
}
END_TEST

START_TEST(test_second_rotation_drops_the_first_key)
{
    struct token_keys k;
    const char *why;
    char *a = mint(NOW), *b, *c;

    token_signer_rotate(&signer, tu_key(0x21), UNTIL);
    b = mint(NOW);
    token_signer_rotate(&signer, tu_key(0x22), UNTIL + 10);
    c = mint(NOW);
    ck_assert_int_eq(kid_of(c), 2);
    ck_assert_int_eq(check(c, NOW, &why), ERR_OK);
    ck_assert_int_eq(check(b, NOW, &why), ERR_OK);
    ck_assert_int_eq(check(a, NOW, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token names a key consentd does not sign with");
    token_signer_keys(&signer, NOW, &k);
    ck_assert_uint_eq(k.n, 2);
    ck_assert_str_eq(k.k[0].kid, kid[2]);
    ck_assert_str_eq(k.k[1].kid, kid[1]);
    ck_assert_int_eq(k.k[1].until, UNTIL + 10);
    free(c);
    free(b);
    free(a);
}
END_TEST

START_TEST(test_set_retired_at_start)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct keys_pair *old = tu_key(0x20);
    struct token_keys k;
    const char *why;
    char *a = mint(NOW);

    /* A restart after a rotation: the new key is current, the old one is known by its public key.
     */
    keys_public(old, pk);
    keys_free(old);
    token_signer_clear(&signer);
    ck_assert_int_eq(token_signer_init(&signer, tu_key(0x21), ISSUER), ERR_OK);
    token_signer_set_retired(&signer, pk, UNTIL);
    ck_assert_int_eq(check(a, NOW, &why), ERR_OK);
    ck_assert_int_eq(check(a, UNTIL, &why), ERR_AUTH);
    token_signer_keys(&signer, NOW, &k);
    ck_assert_uint_eq(k.n, 2);
    ck_assert_str_eq(k.k[0].kid, kid[1]);
    ck_assert_str_eq(k.k[1].kid, kid[0]);
    free(a);
}
END_TEST

START_TEST(test_kid_is_only_a_lookup_key)
{
    struct keys_pair *other = tu_key(0x23);
    const char *why;
    char *forged = NULL, *odd = NULL;
    const char *payload = "{\"iss\":\"" ISSUER "\",\"aud\":\"" ISSUER "\",\"sub\":\"x\"}";

    token_signer_rotate(&signer, tu_key(0x21), UNTIL);
    /* Another key claiming the retired key's kid, and a kid that is a path. */
    ck_assert_int_eq(jws_sign(other, "at+jwt", kid[0], payload, strlen(payload), &forged), ERR_OK);
    ck_assert_int_eq(check(forged, NOW, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token's signature does not verify with consentd's token key");
    ck_assert_int_eq(jws_sign(other, "at+jwt", "../../dev/null", payload, strlen(payload), &odd),
                     ERR_OK);
    ck_assert_int_eq(check(odd, NOW, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token names a key consentd does not sign with");
    ck_assert_int_eq(check("no-dots-at-all", NOW, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token is malformed");
    free(odd);
    free(forged);
    keys_free(other);
}
END_TEST

START_TEST(test_access_check_remembers_only_what_verified)
{
    const char *why = NULL;
    char *a = mint_access(NOW), *b, *t1, *t2;
    const cJSON *c1 = NULL, *c2 = NULL;
    size_t i, n = strlen(a);

    /* The second answer, remembered, says what the first did. */
    ck_assert_int_eq(token_check_access(&signer, a, n, NOW + 1, &c1, &why), ERR_OK);
    t1 = cJSON_PrintUnformatted(c1);
    ck_assert_int_eq(token_check_access(&signer, a, n, NOW + 2, &c2, &why), ERR_OK);
    t2 = cJSON_PrintUnformatted(c2);
    ck_assert_str_eq(t1, t2);
    ck_assert_ptr_nonnull(strstr(t1, "\"log_index\":7"));
    free(t1);
    free(t2);
    /* Changed bytes are another token, verified from scratch, also after the good one. */
    b = strdup(a);
    for (i = 0; i < n; i++) {
        b[i] = b[i] == 'A' ? 'B' : 'A';
        ck_assert_msg(check_access(b, NOW + 3, &why) == ERR_AUTH, "byte %zu changed", i);
        b[i] = a[i];
        ck_assert_int_eq(check_access(b, NOW + 3, &why), ERR_OK);
    }
    /* Remembered or not, the times are checked on every call. */
    ck_assert_int_eq(check_access(a, NOW + 300 + TOKEN_LEEWAY, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token has expired; ask for a new one");
    ck_assert_int_eq(check_access(a, NOW - TOKEN_LEEWAY - 1, &why), ERR_AUTH);
    ck_assert_str_eq(why, "the access token was issued in the future; check the clocks");
    /* A signer with other keys, at the same address, does not take the thread's word for it. */
    token_signer_clear(&signer);
    ck_assert_int_eq(token_signer_init(&signer, tu_key(0x21), ISSUER), ERR_OK);
    ck_assert_int_eq(check_access(a, NOW + 3, &why), ERR_AUTH);
    token_signer_clear(&signer);
    ck_assert_int_eq(token_signer_init(&signer, tu_key(0x20), ISSUER "/other"), ERR_OK);
    ck_assert_int_eq(check_access(a, NOW + 3, &why), ERR_AUTH);
    token_signer_clear(&signer);
    ck_assert_int_eq(token_signer_init(&signer, tu_key(0x20), ISSUER), ERR_OK);
    ck_assert_int_eq(check_access(a, NOW + 3, &why), ERR_OK);
    /* What a thread remembers is freed when it ends, and remade when it checks again. */
    token_thread_end();
    token_thread_end();
    ck_assert_int_eq(check_access(a, NOW + 4, &why), ERR_OK);
    token_thread_end();
    free(b);
    free(a);
}
END_TEST

/*
 * A record holder introspects the tokens it is shown in turn: 2,000 of them, checked twice over,
 * are verified once each, bar the few whose set of the table overflowed (a table of single
 * slots verified 39 % of them again on every round).
 */
START_TEST(test_access_check_remembers_many_tokens)
{
    enum { N = 2000 };
    char **t = xcalloc(N, sizeof(*t));
    const char *why = NULL;
    uint64_t before, first, again;
    size_t i;
    int round;

    token_thread_end();
    for (i = 0; i < N; i++)
        t[i] = mint_access_n(NOW, (unsigned)i);
    before = token_thread_verifications();
    for (i = 0; i < N; i++)
        ck_assert_int_eq(check_access(t[i], NOW + 1, &why), ERR_OK);
    first = token_thread_verifications() - before;
    ck_assert_uint_eq(first, N);
    for (round = 0; round < 2; round++)
        for (i = 0; i < N; i++)
            ck_assert_int_eq(check_access(t[i], NOW + 2, &why), ERR_OK);
    again = token_thread_verifications() - before - first;
    ck_assert_msg(again <= N / 50, "%llu of %d tokens verified again", (unsigned long long)again,
                  N);
    for (i = 0; i < N; i++)
        free(t[i]);
    free(t);
    token_thread_end();
}
END_TEST

Suite *
token_suite(void)
{
    Suite *su = suite_create("token");
    TCase *tc = tcase_create("token");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rotate_mints_with_the_new_kid);
    tcase_add_test(tc, test_retired_key_verifies_within_its_window_only);
    tcase_add_test(tc, test_keys_are_published_current_first);
    tcase_add_test(tc, test_second_rotation_drops_the_first_key);
    tcase_add_test(tc, test_set_retired_at_start);
    tcase_add_test(tc, test_kid_is_only_a_lookup_key);
    tcase_add_test(tc, test_access_check_remembers_only_what_verified);
    tcase_add_test(tc, test_access_check_remembers_many_tokens);
    suite_add_tcase(su, tc);
    return su;
}
