/*
 * check_jtis: an assertion's jti is single use, remembered through a restart, forgotten once
 * the assertion could no longer be accepted, never remembered by a rolled-back transaction,
 * and bounded in memory.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "consentd/jtis.h"
#include "consentd/store.h"
#include "suites.h"
#include "testutil.h"

#define MAP (64u * 1024 * 1024)
#define NOW 1800000000LL
#define CID "gp-system-1"

static char dir[TU_DIR_MAX];
static struct store *store;
static struct jtis *jtis;

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &store), ERR_OK);
    ck_assert_int_eq(jtis_open(store, NOW, JTIS_MAX_LIVE, &jtis), ERR_OK);
}

static void
teardown(void)
{
    jtis_free(jtis);
    store_close(store);
    tu_rmrf(dir);
}

/* reopen closes the store and the memory table, as a restart does, and opens both at now. */
static void
reopen(int64_t now, size_t max_live)
{
    jtis_free(jtis);
    store_close(store);
    ck_assert_int_eq(store_open(dir, MAP, &store), ERR_OK);
    ck_assert_int_eq(jtis_open(store, now, max_live, &jtis), ERR_OK);
}

/*
 * use runs jtis_use in its own transaction, committed when it succeeds and commit is true,
 * aborted otherwise.
 */
static enum err
use_in(const char *who, const char *jti, int64_t exp, int64_t now, bool commit)
{
    char why[STATE_WHY_MAX] = "";
    struct store_txn *t = NULL;
    enum err rc;

    ck_assert_int_eq(store_begin(store, true, &t), ERR_OK);
    rc = jtis_use(jtis, t, who, jti, exp, now, why);
    if (rc == ERR_OK && commit) {
        ck_assert_int_eq(store_commit(t), ERR_OK);
    } else {
        if (rc != ERR_OK)
            ck_assert_uint_gt(strlen(why), 10);
        store_abort(t);
    }
    return rc;
}

static enum err
use(const char *who, const char *jti, int64_t exp, int64_t now)
{
    return use_in(who, jti, exp, now, true);
}

struct count {
    const char *who;
    unsigned n;
};

static enum err
count_one(void *ctx, const void *k, size_t key_len, const void *val, size_t val_len)
{
    struct count *c = ctx;
    size_t wlen = strlen(c->who);

    (void)k;
    ck_assert_uint_eq(key_len, 8);
    ck_assert_uint_gt(val_len, 8 + wlen);
    if (memcmp((const char *)val + 8, c->who, wlen + 1) == 0)
        c->n++;
    return ERR_OK;
}

/* count returns how many records of STORE_JTI are who's. */
static unsigned
count(const char *who)
{
    struct count c = {who, 0};
    struct store_txn *t = NULL;

    ck_assert_int_eq(store_begin(store, false, &t), ERR_OK);
    ck_assert_int_eq(store_scan(t, STORE_JTI, "", 0, count_one, &c), ERR_OK);
    store_abort(t);
    return c.n;
}

START_TEST(test_jti_is_single_use)
{
    ck_assert_int_eq(use(CID, "j-1", NOW + 60, NOW), ERR_OK);
    ck_assert_int_eq(use(CID, "j-1", NOW + 60, NOW + 1), ERR_CONFLICT);
    /* The same jti in another assertion (another exp) is a reuse too. */
    ck_assert_int_eq(use(CID, "j-1", NOW + 90, NOW + 1), ERR_CONFLICT);
    ck_assert_int_eq(use(CID, "j-2", NOW + 60, NOW + 1), ERR_OK);
    /* Another client, or a patient, may use the same jti. */
    ck_assert_int_eq(use("gp-system-2", "j-1", NOW + 60, NOW + 1), ERR_OK);
    ck_assert_int_eq(use(ASSERTION_PATIENT_PREFIX "9434765919", "j-1", NOW + 60, NOW + 1), ERR_OK);
    ck_assert_int_eq(use(ASSERTION_PATIENT_PREFIX "9434765919", "j-1", NOW + 60, NOW + 2),
                     ERR_CONFLICT);
    ck_assert_uint_eq(jtis_live(jtis), 4);
}
END_TEST

START_TEST(test_jti_is_remembered_across_a_restart)
{
    ck_assert_int_eq(use(CID, "j-1", NOW + 60, NOW), ERR_OK);
    ck_assert_int_eq(use(CID, "j-2", NOW + 300, NOW), ERR_OK);
    reopen(NOW + 30, JTIS_MAX_LIVE);
    ck_assert_uint_eq(jtis_live(jtis), 2);
    ck_assert_int_eq(use(CID, "j-1", NOW + 60, NOW + 30), ERR_CONFLICT);
    ck_assert_int_eq(use(CID, "j-3", NOW + 60, NOW + 30), ERR_OK);
    /* After a restart past j-1's exp + leeway, only the live ones are loaded. */
    reopen(NOW + 200, JTIS_MAX_LIVE);
    ck_assert_uint_eq(jtis_live(jtis), 1);
    ck_assert_int_eq(use(CID, "j-2", NOW + 300, NOW + 200), ERR_CONFLICT);
    /* New records follow the loaded ones (the table is append-only); j-1 is purged. */
    ck_assert_int_eq(use(CID, "j-4", NOW + 300, NOW + 200), ERR_OK);
    ck_assert_uint_eq(count(CID), 3);
}
END_TEST

START_TEST(test_rolled_back_use_is_not_remembered)
{
    /* A token refused after the jti was taken aborts the write: the assertion may be retried. */
    ck_assert_int_eq(use_in(CID, "j-1", NOW + 60, NOW, false), ERR_OK);
    ck_assert_uint_eq(count(CID), 0);
    ck_assert_int_eq(use(CID, "j-1", NOW + 60, NOW + 1), ERR_OK);
    ck_assert_int_eq(use(CID, "j-1", NOW + 60, NOW + 2), ERR_CONFLICT);
    /* Rolled back many times over: each retry finds the stale slot and frees it. */
    ck_assert_int_eq(use_in(CID, "j-2", NOW + 60, NOW, false), ERR_OK);
    ck_assert_int_eq(use_in(CID, "j-2", NOW + 60, NOW, false), ERR_OK);
    ck_assert_int_eq(use(CID, "j-2", NOW + 60, NOW), ERR_OK);
    ck_assert_uint_eq(jtis_live(jtis), 2);
    ck_assert_uint_eq(count(CID), 2);
}
END_TEST

START_TEST(test_use_in_a_nested_transaction_rolls_back_with_it)
{
    char why[STATE_WHY_MAX];
    struct store_txn *t = NULL, *child = NULL;

    /* The sequencer runs each write's check in a child of the batch's transaction. */
    ck_assert_int_eq(store_begin(store, true, &t), ERR_OK);
    ck_assert_int_eq(store_begin_nested(t, &child), ERR_OK);
    ck_assert_int_eq(jtis_use(jtis, child, CID, "j-1", NOW + 60, NOW, why), ERR_OK);
    store_abort(child);
    ck_assert_int_eq(store_begin_nested(t, &child), ERR_OK);
    ck_assert_int_eq(jtis_use(jtis, child, CID, "j-1", NOW + 60, NOW, why), ERR_OK);
    ck_assert_int_eq(store_commit(child), ERR_OK);
    /* In the same batch, a second use of the committed child's jti is a replay. */
    ck_assert_int_eq(store_begin_nested(t, &child), ERR_OK);
    ck_assert_int_eq(jtis_use(jtis, child, CID, "j-1", NOW + 60, NOW, why), ERR_CONFLICT);
    store_abort(child);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_uint_eq(count(CID), 1);
    ck_assert_int_eq(use(CID, "j-1", NOW + 60, NOW + 1), ERR_CONFLICT);
}
END_TEST

START_TEST(test_jti_is_remembered_through_the_leeway)
{
    ck_assert_int_eq(use(CID, "j-1", NOW, NOW - 10), ERR_OK);
    /* Past exp but inside the leeway, the assertion is still acceptable: keep refusing it. */
    ck_assert_int_eq(use(CID, "j-2", NOW + 200, NOW + 59), ERR_OK);
    ck_assert_int_eq(use(CID, "j-1", NOW, NOW + 59), ERR_CONFLICT);
    ck_assert_uint_eq(count(CID), 2);
}
END_TEST

START_TEST(test_expired_jtis_are_forgotten)
{
    char jti[16];
    unsigned n;
    int i;

    for (i = 0; i < 150; i++) {
        snprintf(jti, sizeof(jti), "old-%d", i);
        ck_assert_int_eq(use(CID, jti, NOW + 10, NOW), ERR_OK);
    }
    ck_assert_int_eq(use("gp-system-2", "old", NOW + 10, NOW), ERR_OK);
    ck_assert_int_eq(use(CID, "live", NOW + 300, NOW), ERR_OK);
    ck_assert_uint_eq(count(CID), 151);
    /*
     * At NOW + 70, exp + leeway has passed for the old ones: each use forgets a bounded batch of
     * them (not all 151 at once), of any client, oldest first, up to the first live record.
     */
    ck_assert_int_eq(use(CID, "new-1", NOW + 200, NOW + 70), ERR_OK);
    n = count(CID);
    ck_assert_uint_eq(n, 151 - JTIS_PURGE_STEP + 1);
    ck_assert_int_eq(use(CID, "new-2", NOW + 200, NOW + 70), ERR_OK);
    ck_assert_int_eq(use(CID, "new-3", NOW + 200, NOW + 70), ERR_OK);
    ck_assert_uint_eq(count(CID), 4);
    ck_assert_uint_eq(count("gp-system-2"), 0);
    ck_assert_int_eq(use(CID, "live", NOW + 300, NOW + 70), ERR_CONFLICT);
    ck_assert_int_eq(use(CID, "new-1", NOW + 200, NOW + 70), ERR_CONFLICT);
    /* A forgotten jti would be accepted again, but only in an assertion that has expired. */
    ck_assert_int_eq(use(CID, "old-1", NOW + 10, NOW + 70), ERR_AUTH);
}
END_TEST

START_TEST(test_a_long_lived_record_holds_back_the_purge_only_until_it_expires)
{
    ck_assert_int_eq(use(CID, "long", NOW + 300, NOW), ERR_OK);
    ck_assert_int_eq(use(CID, "short", NOW + 10, NOW), ERR_OK);
    /* "short" is past its leeway, but the purge stops at the older, live "long". */
    ck_assert_int_eq(use(CID, "x", NOW + 400, NOW + 100), ERR_OK);
    ck_assert_uint_eq(count(CID), 3);
    ck_assert_int_eq(use(CID, "y", NOW + 500, NOW + 361), ERR_OK);
    ck_assert_uint_eq(count(CID), 2);
}
END_TEST

START_TEST(test_memory_is_bounded_and_refusal_is_temporary)
{
    char jti[16];
    int i;

    reopen(NOW, 3);
    for (i = 0; i < 3; i++) {
        snprintf(jti, sizeof(jti), "j-%d", i);
        ck_assert_int_eq(use(CID, jti, NOW + 10 * (i + 1), NOW), ERR_OK);
    }
    /* A fourth live use is refused for now; no live jti is forgotten to make room. */
    ck_assert_int_eq(use(CID, "j-3", NOW + 60, NOW), ERR_UNAVAIL);
    ck_assert_int_eq(use(CID, "j-0", NOW + 10, NOW), ERR_CONFLICT);
    ck_assert_int_eq(use(CID, "j-2", NOW + 30, NOW), ERR_CONFLICT);
    /* Once j-0 can no longer be accepted, its room is free again. */
    ck_assert_int_eq(use(CID, "j-3", NOW + 60, NOW + 10 + TOKEN_LEEWAY), ERR_OK);
    ck_assert_int_eq(use(CID, "j-1", NOW + 20, NOW + 10 + TOKEN_LEEWAY), ERR_CONFLICT);
    ck_assert_uint_eq(jtis_live(jtis), 3);
    /* A restart with more live records than the bound refuses to start. */
    jtis_free(jtis);
    jtis = NULL;
    ck_assert_int_eq(jtis_open(store, NOW + 10 + TOKEN_LEEWAY, 2, &jtis), ERR_TOOBIG);
    ck_assert_ptr_null(jtis);
    ck_assert_int_eq(jtis_open(store, NOW + 10 + TOKEN_LEEWAY, 3, &jtis), ERR_OK);
}
END_TEST

START_TEST(test_many_uses_grow_the_table)
{
    char jti[24], why[STATE_WHY_MAX];
    struct store_txn *t = NULL;
    int i;

    /* Ten times the first table's size, in one transaction, then every one is a replay. */
    ck_assert_int_eq(store_begin(store, true, &t), ERR_OK);
    for (i = 0; i < 10 * JTIS_MIN_SLOTS; i++) {
        snprintf(jti, sizeof(jti), "jti-%d", i);
        ck_assert_int_eq(jtis_use(jtis, t, CID, jti, NOW + 60 + i % 200, NOW, why), ERR_OK);
    }
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_uint_eq(jtis_live(jtis), 10 * JTIS_MIN_SLOTS);
    for (i = 0; i < 10 * JTIS_MIN_SLOTS; i += 7) {
        snprintf(jti, sizeof(jti), "jti-%d", i);
        ck_assert_int_eq(use_in(CID, jti, NOW + 60 + i % 200, NOW + 1, false), ERR_CONFLICT);
    }
    reopen(NOW + 2, JTIS_MAX_LIVE);
    ck_assert_uint_eq(jtis_live(jtis), 10 * JTIS_MIN_SLOTS);
    ck_assert_int_eq(use(CID, "jti-40959", NOW + 60, NOW + 2), ERR_CONFLICT);
    /* Past every exp + leeway, the memory table frees them all. */
    ck_assert_int_eq(use(CID, "late", NOW + 600, NOW + 60 + 200 + TOKEN_LEEWAY), ERR_OK);
    ck_assert_int_eq(use(CID, "jti-1", NOW + 600, NOW + 60 + 200 + TOKEN_LEEWAY), ERR_OK);
}
END_TEST

START_TEST(test_expired_assertion_is_not_recorded)
{
    ck_assert_int_eq(use(CID, "j-1", NOW, NOW + TOKEN_LEEWAY), ERR_AUTH);
    ck_assert_uint_eq(count(CID), 0);
    ck_assert_uint_eq(jtis_live(jtis), 0);
}
END_TEST

START_TEST(test_malformed_jti_use_is_refused)
{
    char big[ASSERTION_JTI_MAX + 2];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(use("", "j", NOW + 10, NOW), ERR_INVAL);
    ck_assert_int_eq(use(CID, "", NOW + 10, NOW), ERR_INVAL);
    ck_assert_int_eq(use(CID, big, NOW + 10, NOW), ERR_INVAL);
    ck_assert_int_eq(use(CID, "j", -1, NOW), ERR_INVAL);
}
END_TEST

START_TEST(test_malformed_record_stops_the_start)
{
    struct store_txn *t = NULL;
    uint8_t key[8];

    store_u64_key(7, key);
    ck_assert_int_eq(store_begin(store, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_JTI, key, 8, "short", 5, true, false), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    jtis_free(jtis);
    jtis = NULL;
    ck_assert_int_eq(jtis_open(store, NOW, JTIS_MAX_LIVE, &jtis), ERR_STORAGE);
    ck_assert_ptr_null(jtis);
}
END_TEST

Suite *
jtis_suite(void)
{
    Suite *s = suite_create("jtis");
    TCase *tc = tcase_create("jtis");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_jti_is_single_use);
    tcase_add_test(tc, test_jti_is_remembered_across_a_restart);
    tcase_add_test(tc, test_rolled_back_use_is_not_remembered);
    tcase_add_test(tc, test_use_in_a_nested_transaction_rolls_back_with_it);
    tcase_add_test(tc, test_jti_is_remembered_through_the_leeway);
    tcase_add_test(tc, test_expired_jtis_are_forgotten);
    tcase_add_test(tc, test_a_long_lived_record_holds_back_the_purge_only_until_it_expires);
    tcase_add_test(tc, test_memory_is_bounded_and_refusal_is_temporary);
    tcase_add_test(tc, test_many_uses_grow_the_table);
    tcase_add_test(tc, test_expired_assertion_is_not_recorded);
    tcase_add_test(tc, test_malformed_jti_use_is_refused);
    tcase_add_test(tc, test_malformed_record_stops_the_start);
    suite_add_tcase(s, tc);
    return s;
}
