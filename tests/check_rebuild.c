/*
 * check_rebuild: the state derived afresh from the log equals the stored state, and any
 * difference is found and named.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "consentd/rebuild.h"
#include "consentd/state.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP (64u * 1024 * 1024)

static char dir[TU_DIR_MAX], lmdb_dir[PATH_MAX], scratch[PATH_MAX];
static struct store *s;

/* Appends n org entries through state_apply and tlog_append, as the sequencer does. */
static void
append_orgs(unsigned n)
{
    char e[128], why[STATE_WHY_MAX];
    uint8_t leaf[HASH_BYTES];
    struct merkle_range r;
    struct store_txn *t = NULL;
    uint64_t size;
    unsigned i;
    size_t len;

    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(tlog_size(t, &size), ERR_OK);
    ck_assert_int_eq(tlog_range(t, size, &r), ERR_OK);
    for (i = 0; i < n; i++) {
        len = (size_t)snprintf(e, sizeof(e), "{\"v\":1,\"type\":\"org\",\"ods\":\"R%05u\"}",
                               (unsigned)(size + i));
        ck_assert_int_eq(state_apply(t, r.size, (const uint8_t *)e, len, why), ERR_OK);
        ck_assert_int_eq(tlog_append(t, &r, (const uint8_t *)e, len, leaf), ERR_OK);
    }
    ck_assert_int_eq(store_commit(t), ERR_OK);
}

static void
setup(void)
{
    tu_tmpdir(dir);
    tu_path(dir, "lmdb", lmdb_dir);
    tu_path(dir, "scratch", scratch);
    ck_assert_int_eq(store_open(lmdb_dir, MAP, &s), ERR_OK);
}

static void
teardown(void)
{
    store_close(s);
    tu_rmrf(dir);
}

START_TEST(test_identical_state_matches)
{
    char report[256];
    uint64_t n;

    append_orgs(25);
    ck_assert_int_eq(rebuild_compare(s, scratch, report, sizeof(report), &n), ERR_OK);
    ck_assert_uint_eq(n, 25);
    ck_assert_int_ne(access(scratch, F_OK), 0); /* the scratch store is removed */
}
END_TEST

START_TEST(test_extra_stored_row_is_named)
{
    struct store_txn *t = NULL;
    char report[256];
    uint8_t v[8] = {0};
    uint64_t n;

    append_orgs(5);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_ORGS, "ZZZ999", 6, v, sizeof(v), false, false), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_int_eq(rebuild_compare(s, scratch, report, sizeof(report), &n), ERR_CONFLICT);
    ck_assert_msg(strstr(report, "organisations: key \"ZZZ999\" is missing in the rebuilt") != NULL,
                  "%s", report);
}
END_TEST

START_TEST(test_changed_stored_row_is_named)
{
    struct store_txn *t = NULL;
    char report[256];
    uint8_t v[8];
    uint64_t n;

    append_orgs(5);
    store_u64_key(4, v); /* R00002 really is at index 2 */
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_ORGS, "R00002", 6, v, sizeof(v), false, false), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_int_eq(rebuild_compare(s, scratch, report, sizeof(report), &n), ERR_CONFLICT);
    ck_assert_msg(strstr(report, "\"R00002\" is different") != NULL, "%s", report);
}
END_TEST

START_TEST(test_missing_stored_row_is_named)
{
    struct store_txn *t = NULL;
    char report[256];
    uint64_t n;

    append_orgs(5);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_del(t, STORE_ORGS, "R00003", 6), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_int_eq(rebuild_compare(s, scratch, report, sizeof(report), &n), ERR_CONFLICT);
    ck_assert_msg(strstr(report, "\"R00003\" is missing in the stored") != NULL, "%s", report);
}
END_TEST

Suite *
rebuild_suite(void)
{
    Suite *su = suite_create("rebuild");
    TCase *tc = tcase_create("rebuild");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_identical_state_matches);
    tcase_add_test(tc, test_extra_stored_row_is_named);
    tcase_add_test(tc, test_changed_stored_row_is_named);
    tcase_add_test(tc, test_missing_stored_row_is_named);
    suite_add_tcase(su, tc);
    return su;
}
