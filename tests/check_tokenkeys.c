/*
 * check_tokenkeys: key.rotate entries applied through state_apply (the first retiring any key,
 * each later one the current key; an added key new; kids matching their keys; exactly the
 * members of the format), refusals writing nothing, and when the key may rotate again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/policy.h"
#include "consentd/token.h"
#include "consentd/tokenkeys.h"
#include "suites.h"
#include "testutil.h"

#define MAP (64u * 1024 * 1024)
#define T0  "2026-11-23T12:00:00Z"
#define T1  "2026-11-23T14:00:00Z"

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static char why[STATE_WHY_MAX];
static uint8_t pk[4][KEYS_PUBLIC_BYTES]; /* keys of seeds 0x10 … 0x13 */
static char kid[4][KEYS_KID_LEN + 1];
static int64_t t0;

static void
setup(void)
{
    struct keys_pair *k;
    int i;

    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    for (i = 0; i < 4; i++) {
        k = tu_key((unsigned char)(0x10 + i));
        keys_public(k, pk[i]);
        keys_kid(pk[i], kid[i]);
        keys_free(k);
    }
    ck_assert_int_eq(consents_time_parse(T0, &t0), ERR_OK);
}

static void
teardown(void)
{
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

static enum err
apply(const char *entry)
{
    why[0] = '\0';
    return state_apply(t, 0, (const uint8_t *)entry, strlen(entry), why);
}

/* rotate applies a key.rotate entry at time when adding key a and retiring key r. */
static enum err
rotate(const char *when, int a, int r)
{
    char e[4096], *fields = NULL;
    size_t len;
    enum err rc;

    ck_assert_int_eq(tokenkeys_fields(pk[a], pk[r], &fields, &len), ERR_OK);
    snprintf(e, sizeof(e), "{\"v\":1,\"type\":\"key.rotate\",\"time\":\"%s\",%.*s}", when, (int)len,
             fields);
    free(fields);
    rc = apply(e);
    return rc;
}

/* jwk writes the JWK text of key i with kid k and extra members (may be ""). */
static void
jwk(int i, const char *k, const char *extra, char *out, size_t cap)
{
    char x[64];

    ck_assert_int_eq(b64_encode(pk[i], KEYS_PUBLIC_BYTES, B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(out, cap, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"%s\"%s}", x, k,
             extra);
}

/* entry writes a key.rotate entry of the given added and retired JWK texts and extra members. */
static void
entry(const char *added, const char *retired, const char *extra, char *out, size_t cap)
{
    snprintf(out, cap,
             "{\"v\":1,\"type\":\"key.rotate\",\"time\":\"" T0 "\",\"added\":%s,\"retired\":%s%s}",
             added, retired, extra);
}

/* The state records no rotation: nothing a refused entry did was kept. */
static void
assert_not_rotated(void)
{
    struct tokenkeys_state st;

    ck_assert_int_eq(tokenkeys_get(t, &st), ERR_NOTFOUND);
    ck_assert_str_eq(st.current, "");
}

START_TEST(test_first_rotation_records_both_keys)
{
    struct tokenkeys_state st;

    assert_not_rotated();
    ck_assert_int_eq(rotate(T0, 1, 0), ERR_OK);
    ck_assert_int_eq(tokenkeys_get(t, &st), ERR_OK);
    ck_assert_str_eq(st.current, kid[1]);
    ck_assert_mem_eq(st.current_pk, pk[1], KEYS_PUBLIC_BYTES);
    ck_assert_str_eq(st.retired, kid[0]);
    ck_assert_mem_eq(st.retired_pk, pk[0], KEYS_PUBLIC_BYTES);
    ck_assert_int_eq(st.retired_at, t0);
}
END_TEST

START_TEST(test_next_rotation_retires_the_current_key)
{
    struct tokenkeys_state st;
    int64_t t1;

    ck_assert_int_eq(rotate(T0, 1, 0), ERR_OK);
    ck_assert_int_eq(rotate(T1, 2, 3), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, kid[3]));
    ck_assert_ptr_nonnull(strstr(why, "the current token key is"));
    ck_assert_int_eq(rotate(T1, 2, 0), ERR_CONFLICT);
    ck_assert_int_eq(tokenkeys_get(t, &st), ERR_OK);
    ck_assert_str_eq(st.current, kid[1]);
    ck_assert_str_eq(st.retired, kid[0]);

    ck_assert_int_eq(rotate(T1, 2, 1), ERR_OK);
    ck_assert_int_eq(consents_time_parse(T1, &t1), ERR_OK);
    ck_assert_int_eq(tokenkeys_get(t, &st), ERR_OK);
    ck_assert_str_eq(st.current, kid[2]);
    ck_assert_str_eq(st.retired, kid[1]);
    ck_assert_mem_eq(st.retired_pk, pk[1], KEYS_PUBLIC_BYTES);
    ck_assert_int_eq(st.retired_at, t1);
}
END_TEST

START_TEST(test_a_key_is_added_once)
{
    struct tokenkeys_state st;

    ck_assert_int_eq(rotate(T0, 0, 0), ERR_INVAL);
    ck_assert_str_eq(why, "a key.rotate entry must add a key other than the one it retires");
    assert_not_rotated();
    ck_assert_int_eq(rotate(T0, 1, 0), ERR_OK);
    ck_assert_int_eq(rotate(T1, 2, 1), ERR_OK);
    /* Both an earlier added key and the key the first entry retired are known for ever. */
    ck_assert_int_eq(rotate(T1, 1, 2), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "a key is added only once"));
    ck_assert_int_eq(rotate(T1, 0, 2), ERR_CONFLICT);
    ck_assert_int_eq(tokenkeys_get(t, &st), ERR_OK);
    ck_assert_str_eq(st.current, kid[2]);
    ck_assert_str_eq(st.retired, kid[1]);
}
END_TEST

START_TEST(test_kid_must_match_its_key)
{
    char a[256], r[256], e[4096];

    jwk(1, kid[2], "", a, sizeof(a));
    jwk(0, kid[0], "", r, sizeof(r));
    entry(a, r, "", e, sizeof(e));
    ck_assert_int_eq(apply(e), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "\"added\" names kid"));
    jwk(1, kid[1], "", a, sizeof(a));
    jwk(0, "../../etc/passwd", "", r, sizeof(r));
    entry(a, r, "", e, sizeof(e));
    ck_assert_int_eq(apply(e), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "\"retired\" names kid"));
    assert_not_rotated();
}
END_TEST

START_TEST(test_unknown_and_missing_members_are_refused)
{
    char x[64], bad[6][256], a[256], r[256], e[4096];
    size_t i;

    ck_assert_int_eq(b64_encode(pk[1], KEYS_PUBLIC_BYTES, B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(bad[0], sizeof(bad[0]), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\"}",
             kid[1]);
    snprintf(bad[1], sizeof(bad[1]),
             "{\"kty\":\"EC\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"%s\"}", x, kid[1]);
    snprintf(bad[2], sizeof(bad[2]),
             "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"%s\",\"kid\":\"%s\"}", x, kid[1]);
    snprintf(bad[3], sizeof(bad[3]),
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%sAA\",\"kid\":\"%s\"}", x, kid[1]);
    /* A private member, and a member the format does not have, are refused alike. */
    jwk(1, kid[1], ",\"d\":\"AA\"", bad[4], sizeof(bad[4]));
    jwk(1, kid[1], ",\"alg\":\"EdDSA\"", bad[5], sizeof(bad[5]));
    jwk(0, kid[0], "", r, sizeof(r));
    for (i = 0; i < 6; i++) {
        entry(bad[i], r, "", e, sizeof(e));
        ck_assert_msg(apply(e) == ERR_INVAL, "JWK %zu accepted", i);
        ck_assert_ptr_nonnull(strstr(why, "\"added\" must be a public JWK"));
    }
    jwk(1, kid[1], "", a, sizeof(a));
    entry(a, r, ",\"reason\":\"routine\"", e, sizeof(e));
    ck_assert_int_eq(apply(e), ERR_INVAL);
    ck_assert_str_eq(why, "a key.rotate entry has no member \"reason\"");
    entry(a, "\"" T0 "\"", "", e, sizeof(e));
    ck_assert_int_eq(apply(e), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "\"retired\" must be a public JWK"));
    snprintf(e, sizeof(e), "{\"v\":1,\"type\":\"key.rotate\",\"added\":%s,\"retired\":%s}", a, r);
    ck_assert_int_eq(apply(e), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "\"time\""));
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"key.rotate\",\"time\":\"2026-11-23 12:00:00\",\"added\":%s,"
             "\"retired\":%s}",
             a, r);
    ck_assert_int_eq(apply(e), ERR_INVAL);
    assert_not_rotated();
    /* The same members, well formed, are accepted. */
    entry(a, r, "", e, sizeof(e));
    ck_assert_int_eq(apply(e), ERR_OK);
}
END_TEST

START_TEST(test_may_rotate_after_the_retired_key_is_unpublished)
{
    int64_t until = t0 + POLICY_MAX_LIFETIME + TOKEN_LEEWAY;

    ck_assert_int_eq(tokenkeys_may_rotate(t, kid[0], t0, why), ERR_OK);
    ck_assert_int_eq(rotate(T0, 1, 0), ERR_OK);
    ck_assert_int_eq(tokenkeys_published_until(t0), until);
    why[0] = '\0';
    ck_assert_int_eq(tokenkeys_may_rotate(t, kid[1], t0, why), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, kid[0]));
    ck_assert_ptr_nonnull(strstr(why, "is published until 2026-11-23T13:01:00Z"));
    ck_assert_int_eq(tokenkeys_may_rotate(t, kid[1], until - 1, why), ERR_CONFLICT);
    ck_assert_int_eq(tokenkeys_may_rotate(t, kid[0], until, why), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "the token key changed while this rotation waited"));
    ck_assert_ptr_nonnull(strstr(why, kid[1]));
    ck_assert_int_eq(tokenkeys_may_rotate(t, kid[1], until, why), ERR_OK);
}
END_TEST

START_TEST(test_file_names)
{
    char name[TOKENKEYS_FILE_MAX];

    tokenkeys_file_name(NULL, name);
    ck_assert_str_eq(name, "token.key");
    tokenkeys_file_name(kid[1], name);
    ck_assert_uint_eq(strlen(name), strlen("token-.key") + KEYS_KID_LEN);
    ck_assert_int_eq(strncmp(name, "token-", 6), 0);
    ck_assert_str_eq(name + 6 + KEYS_KID_LEN, ".key");
    ck_assert_int_eq(strncmp(name + 6, kid[1], KEYS_KID_LEN), 0);
}
END_TEST

Suite *
tokenkeys_suite(void)
{
    Suite *su = suite_create("tokenkeys");
    TCase *tc = tcase_create("tokenkeys");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_first_rotation_records_both_keys);
    tcase_add_test(tc, test_next_rotation_retires_the_current_key);
    tcase_add_test(tc, test_a_key_is_added_once);
    tcase_add_test(tc, test_kid_must_match_its_key);
    tcase_add_test(tc, test_unknown_and_missing_members_are_refused);
    tcase_add_test(tc, test_may_rotate_after_the_retired_key_is_unpublished);
    tcase_add_test(tc, test_file_names);
    suite_add_tcase(su, tc);
    return su;
}
