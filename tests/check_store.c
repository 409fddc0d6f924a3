/*
 * check_store: the LMDB store behind its narrow interface.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "consentd/store.h"
#include "suites.h"
#include "testutil.h"

#define MAP (64u * 1024 * 1024)

static char dir[TU_DIR_MAX];

static void
setup(void)
{
    tu_tmpdir(dir);
}

static void
teardown(void)
{
    tu_rmrf(dir);
}

START_TEST(test_put_commit_reopen_get)
{
    struct store *s = NULL;
    struct store_txn *t = NULL;
    const void *v;
    size_t len;

    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_META, "k", 1, "value", 5, false, false), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    store_close(s);

    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, false, &t), ERR_OK);
    ck_assert_int_eq(store_get(t, STORE_META, "k", 1, &v, &len), ERR_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(v, "value", 5);
    store_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_abort_discards)
{
    struct store *s = NULL;
    struct store_txn *t = NULL;
    const void *v;
    size_t len;

    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_ORGS, "A1", 2, "x", 1, false, false), ERR_OK);
    store_abort(t);
    ck_assert_int_eq(store_begin(s, false, &t), ERR_OK);
    ck_assert_int_eq(store_get(t, STORE_ORGS, "A1", 2, &v, &len), ERR_NOTFOUND);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(len, 0);
    store_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_unique_put_conflicts_and_keeps_old_value)
{
    struct store *s = NULL;
    struct store_txn *t = NULL;
    const void *v;
    size_t len;

    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_ORGS, "A1", 2, "old", 3, true, false), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_ORGS, "A1", 2, "new", 3, true, false), ERR_CONFLICT);
    ck_assert_int_eq(store_get(t, STORE_ORGS, "A1", 2, &v, &len), ERR_OK);
    ck_assert_mem_eq(v, "old", 3);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    store_close(s);
}
END_TEST

START_TEST(test_tables_are_separate)
{
    struct store *s = NULL;
    struct store_txn *t = NULL;
    const void *v;
    size_t len;

    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_ORGS, "k", 1, "o", 1, false, false), ERR_OK);
    ck_assert_int_eq(store_get(t, STORE_META, "k", 1, &v, &len), ERR_NOTFOUND);
    store_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_u64_keys_sort_numerically)
{
    uint8_t a[8], b[8];
    uint64_t v;

    store_u64_key(255, a);
    store_u64_key(256, b);
    ck_assert_int_lt(memcmp(a, b, 8), 0);
    ck_assert_int_eq(store_u64_val(b, 8, &v), ERR_OK);
    ck_assert_uint_eq(v, 256);
    ck_assert_int_eq(store_u64_val(b, 7, &v), ERR_STORAGE);
    ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(test_open_fails_cleanly_on_a_file)
{
    char path[PATH_MAX];
    struct store *s = (struct store *)1;
    FILE *f;

    tu_path(dir, "notadir", path);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(store_open(path, MAP, &s), ERR_STORAGE);
    ck_assert_ptr_null(s);
}
END_TEST

Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_put_commit_reopen_get);
    tcase_add_test(tc, test_abort_discards);
    tcase_add_test(tc, test_unique_put_conflicts_and_keeps_old_value);
    tcase_add_test(tc, test_tables_are_separate);
    tcase_add_test(tc, test_u64_keys_sort_numerically);
    tcase_add_test(tc, test_open_fails_cleanly_on_a_file);
    suite_add_tcase(s, tc);
    return s;
}
