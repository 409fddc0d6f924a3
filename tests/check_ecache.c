/*
 * check_ecache: the parsed-entry caches: a kept parse is found again; an index whose entry was
 * rolled back and then reused by another entry is a miss; slots that collide evict each other;
 * a miss not kept stays a miss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/ecache.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP   (64u * 1024 * 1024)
#define SLOTS 4 /* the test's own cache */

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static struct ecache_slot slots[SLOTS];

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&range);
    memset(slots, 0, sizeof(slots));
}

static struct store_txn *parent;
static struct merkle_range saved;

static void
teardown(void)
{
    /* A test that failed inside a nested transaction leaves it open. */
    if (parent != NULL) {
        store_abort(t);
        t = parent;
        parent = NULL;
    }
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

/* raw appends entry to the log without applying it (the cache itself reads only leaves). */
static uint64_t
raw(const char *entry)
{
    uint8_t leaf[HASH_BYTES];
    uint64_t index = range.size;

    ck_assert_int_eq(tlog_append(t, &range, (const uint8_t *)entry, strlen(entry), leaf), ERR_OK);
    return index;
}

/*
 * The sequencer's rollback: nest starts a nested transaction in t, and rollback aborts it and
 * restores the range, so the next entry takes the same index again.
 */
static void
nest(void)
{
    struct store_txn *n = NULL;

    ck_assert_int_eq(store_begin_nested(t, &n), ERR_OK);
    parent = t;
    t = n;
    saved = range;
}

static void
rollback(void)
{
    store_abort(t);
    t = parent;
    parent = NULL;
    range = saved;
}

/* --- the cache itself --- */

START_TEST(test_a_kept_parse_is_found_again)
{
    struct ecache_ref ref, again;
    uint64_t i;
    bool hit;

    raw("{\"n\":0}");
    i = raw("{\"n\":1}");
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, i, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    ck_assert_uint_eq(ref.slot, i % SLOTS);
    ecache_keep(slots, &ref);
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, i, &again, &hit), ERR_OK);
    ck_assert(hit);
    ck_assert_uint_eq(again.slot, ref.slot);
    /* Another index, in another slot, is not found. */
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, 0, &again, &hit), ERR_OK);
    ck_assert(!hit);
}
END_TEST

START_TEST(test_a_rolled_back_index_reused_is_a_miss)
{
    struct ecache_ref ref;
    uint64_t i, j;
    bool hit;

    raw("{\"n\":0}");
    nest();
    i = raw("{\"n\":\"A\"}");
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, i, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    ecache_keep(slots, &ref);
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, i, &ref, &hit), ERR_OK);
    ck_assert(hit);
    rollback();
    /* The index now holds another entry: its leaf hash differs, so the slot is not used. */
    j = raw("{\"n\":\"B\"}");
    ck_assert_uint_eq(j, i);
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, j, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    /* The miss emptied the slot: finding it again without a keep is still a miss. */
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, j, &ref, &hit), ERR_OK);
    ck_assert(!hit);
}
END_TEST

START_TEST(test_colliding_indexes_evict_each_other)
{
    struct ecache_ref ref;
    char e[16], value[SLOTS][8];
    unsigned i;
    bool hit;

    for (i = 0; i <= SLOTS; i++) {
        snprintf(e, sizeof(e), "{\"n\":%u}", i);
        raw(e);
    }
    /* Entries 0 and SLOTS share slot 0: each parse replaces the other's. */
    for (i = 0; i < 3; i++) {
        uint64_t index = i % 2 == 0 ? 0 : SLOTS;

        ck_assert_int_eq(ecache_find(t, slots, SLOTS, index, &ref, &hit), ERR_OK);
        ck_assert(!hit);
        ck_assert_uint_eq(ref.slot, 0);
        snprintf(value[ref.slot], sizeof(value[0]), "%u", (unsigned)index);
        ecache_keep(slots, &ref);
        ck_assert_int_eq(ecache_find(t, slots, SLOTS, index, &ref, &hit), ERR_OK);
        ck_assert(hit);
        ck_assert_uint_eq(strtoul(value[ref.slot], NULL, 10), index);
    }
}
END_TEST

START_TEST(test_a_miss_not_kept_stays_a_miss)
{
    struct ecache_ref ref;
    bool hit;

    raw("{\"n\":0}");
    /* What a caller does when its parse fails: no ecache_keep. */
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, 0, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, 0, &ref, &hit), ERR_OK);
    ck_assert(!hit);
}
END_TEST

START_TEST(test_an_index_past_the_end_is_a_storage_error)
{
    struct ecache_ref ref;
    bool hit = true;

    raw("{\"n\":0}");
    ck_assert_int_eq(ecache_find(t, slots, SLOTS, 1, &ref, &hit), ERR_STORAGE);
    ck_assert(!hit);
}
END_TEST

Suite *
ecache_suite(void)
{
    Suite *su = suite_create("ecache");
    TCase *tc = tcase_create("cache");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_kept_parse_is_found_again);
    tcase_add_test(tc, test_a_rolled_back_index_reused_is_a_miss);
    tcase_add_test(tc, test_colliding_indexes_evict_each_other);
    tcase_add_test(tc, test_a_miss_not_kept_stays_a_miss);
    tcase_add_test(tc, test_an_index_past_the_end_is_a_storage_error);
    suite_add_tcase(su, tc);
    return su;
}
