/*
 * check_state: the replay function decides the same way for every entry, in order.
 */
#include <string.h>

#include <check.h>

#include "consentd/state.h"
#include "suites.h"
#include "testutil.h"

#define MAP (64u * 1024 * 1024)

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static char why[STATE_WHY_MAX];

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
}

static void
teardown(void)
{
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

static enum err
apply(uint64_t index, const char *entry)
{
    return state_apply(t, index, (const uint8_t *)entry, strlen(entry), why);
}

START_TEST(test_org_is_recorded_with_its_index)
{
    uint64_t index;

    ck_assert_int_eq(apply(7, "{\"v\":1,\"type\":\"org\",\"time\":\"t\",\"ods\":\"A81001\"}"),
                     ERR_OK);
    ck_assert_int_eq(state_org_index(t, "A81001", &index), ERR_OK);
    ck_assert_uint_eq(index, 7);
    ck_assert_int_eq(state_org_index(t, "A81002", &index), ERR_NOTFOUND);
}
END_TEST

START_TEST(test_second_org_with_same_code_conflicts)
{
    uint64_t index;

    ck_assert_int_eq(apply(0, "{\"v\":1,\"type\":\"org\",\"ods\":\"A81\"}"), ERR_OK);
    ck_assert_int_eq(apply(1, "{\"v\":1,\"type\":\"org\",\"ods\":\"A81\"}"), ERR_CONFLICT);
    ck_assert_str_eq(why, "organisation A81 is already registered");
    ck_assert_int_eq(state_org_index(t, "A81", &index), ERR_OK);
    ck_assert_uint_eq(index, 0);
}
END_TEST

START_TEST(test_ods_codes)
{
    ck_assert(state_ods_valid("A81001"));
    ck_assert(state_ods_valid("RX1"));
    ck_assert(state_ods_valid("ABCDEFGHIJ"));
    ck_assert(!state_ods_valid("AB"));
    ck_assert(!state_ods_valid("ABCDEFGHIJK"));
    ck_assert(!state_ods_valid("a81001"));
    ck_assert(!state_ods_valid("A8100 "));
    ck_assert(!state_ods_valid(""));
}
END_TEST

START_TEST(test_bad_entries_are_refused)
{
    ck_assert_int_eq(apply(0, "not json"), ERR_INVAL);
    ck_assert_int_eq(apply(0, "{\"type\":\"org\",\"ods\":\"A1\"}"), ERR_INVAL);
    ck_assert_int_eq(apply(0, "{\"v\":2,\"type\":\"org\",\"ods\":\"A1\"}"), ERR_INVAL);
    ck_assert_int_eq(apply(0, "{\"v\":1,\"type\":\"spaceship\"}"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "unknown entry type"));
    ck_assert_int_eq(apply(0, "{\"v\":1,\"type\":\"org\"}"), ERR_INVAL);
    ck_assert_int_eq(apply(0, "{\"v\":1,\"type\":\"org\",\"ods\":1}"), ERR_INVAL);
    ck_assert_int_eq(apply(0, "{\"v\":1,\"type\":\"org\",\"ods\":\"a81001\"}"), ERR_INVAL);
    ck_assert_int_eq(apply(0, "{\"v\":1,\"type\":\"org\",\"ods\":\"A1\"}"), ERR_INVAL);
}
END_TEST

Suite *
state_suite(void)
{
    Suite *su = suite_create("state");
    TCase *tc = tcase_create("state");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_org_is_recorded_with_its_index);
    tcase_add_test(tc, test_second_org_with_same_code_conflicts);
    tcase_add_test(tc, test_ods_codes);
    tcase_add_test(tc, test_bad_entries_are_refused);
    suite_add_tcase(su, tc);
    return su;
}
