/*
 * check_tlog: the log over the store: stored subtrees give the same roots and valid proofs as
 * hashing the entries directly, and the tree survives a reopen.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP (64u * 1024 * 1024)
#define N   77

static char dir[TU_DIR_MAX];
static struct store *s;

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
}

static void
teardown(void)
{
    store_close(s);
    tu_rmrf(dir);
}

static size_t
entry_text(unsigned i, char out[static 64])
{
    return (size_t)snprintf(out, 64, "{\"v\":1,\"type\":\"test\",\"n\":%u}", i);
}

/* Appends N entries; leaves[i] gets each leaf hash. */
static void
append_n(uint8_t leaves[N][HASH_BYTES])
{
    struct merkle_range r;
    struct store_txn *t = NULL;
    char e[64];
    unsigned i;

    merkle_range_init(&r);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    for (i = 0; i < N; i++)
        ck_assert_int_eq(tlog_append(t, &r, (const uint8_t *)e, entry_text(i, e), leaves[i]),
                         ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
}

static void
reference_root(uint8_t leaves[N][HASH_BYTES], uint64_t size, uint8_t out[static HASH_BYTES])
{
    struct merkle_range r;
    uint64_t i;

    merkle_range_init(&r);
    for (i = 0; i < size; i++)
        ck_assert_int_eq(merkle_range_append(&r, leaves[i], NULL, NULL), ERR_OK);
    merkle_range_root(&r, out);
}

START_TEST(test_roots_match_direct_hashing)
{
    uint8_t leaves[N][HASH_BYTES], got[HASH_BYTES], want[HASH_BYTES];
    struct store_txn *t = NULL;
    uint64_t size, n;

    append_n(leaves);
    ck_assert_int_eq(store_begin(s, false, &t), ERR_OK);
    ck_assert_int_eq(tlog_size(t, &size), ERR_OK);
    ck_assert_uint_eq(size, N);
    for (n = 0; n <= N; n++) {
        ck_assert_int_eq(tlog_root(t, n, got), ERR_OK);
        reference_root(leaves, n, want);
        ck_assert_mem_eq(got, want, HASH_BYTES);
    }
    store_abort(t);
}
END_TEST

START_TEST(test_entries_and_leaves_read_back)
{
    uint8_t leaves[N][HASH_BYTES], leaf[HASH_BYTES];
    struct store_txn *t = NULL;
    const uint8_t *bytes;
    char e[64];
    size_t len;
    unsigned i;

    append_n(leaves);
    ck_assert_int_eq(store_begin(s, false, &t), ERR_OK);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(tlog_entry(t, i, &bytes, &len), ERR_OK);
        ck_assert_uint_eq(len, entry_text(i, e));
        ck_assert_mem_eq(bytes, e, len);
        ck_assert_int_eq(tlog_leaf(t, i, leaf), ERR_OK);
        ck_assert_mem_eq(leaf, leaves[i], HASH_BYTES);
    }
    ck_assert_int_eq(tlog_entry(t, N, &bytes, &len), ERR_NOTFOUND);
    store_abort(t);
}
END_TEST

START_TEST(test_proofs_from_store_verify)
{
    uint8_t leaves[N][HASH_BYTES], proof[MERKLE_MAX_PROOF][HASH_BYTES];
    uint8_t root[HASH_BYTES], old_root[HASH_BYTES];
    struct store_txn *t = NULL;
    uint64_t size, i, m;
    size_t count;

    append_n(leaves);
    ck_assert_int_eq(store_begin(s, false, &t), ERR_OK);
    for (size = 1; size <= N; size += 7) {
        ck_assert_int_eq(tlog_root(t, size, root), ERR_OK);
        for (i = 0; i < size; i++) {
            ck_assert_int_eq(tlog_inclusion(t, i, size, proof, &count), ERR_OK);
            ck_assert_int_eq(merkle_verify_inclusion(i, size, leaves[i],
                                                     (const uint8_t(*)[HASH_BYTES])proof, count,
                                                     root),
                             ERR_OK);
        }
        for (m = 1; m <= size; m++) {
            ck_assert_int_eq(tlog_root(t, m, old_root), ERR_OK);
            ck_assert_int_eq(tlog_consistency(t, m, size, proof, &count), ERR_OK);
            ck_assert_int_eq(merkle_verify_consistency(m, size, old_root, root,
                                                       (const uint8_t(*)[HASH_BYTES])proof, count),
                             ERR_OK);
        }
    }
    store_abort(t);
}
END_TEST

START_TEST(test_reopen_continues_the_same_tree)
{
    uint8_t leaves[N][HASH_BYTES], leaf[HASH_BYTES], got[HASH_BYTES], want[HASH_BYTES];
    struct merkle_range r;
    struct store_txn *t = NULL;
    const char *e = "{\"v\":1,\"type\":\"test\",\"n\":\"after\"}";
    uint64_t size;

    append_n(leaves);
    store_close(s);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(tlog_size(t, &size), ERR_OK);
    ck_assert_int_eq(tlog_range(t, size, &r), ERR_OK);
    ck_assert_int_eq(tlog_append(t, &r, (const uint8_t *)e, strlen(e), leaf), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);

    ck_assert_int_eq(store_begin(s, false, &t), ERR_OK);
    ck_assert_int_eq(tlog_root(t, N + 1, got), ERR_OK);
    store_abort(t);
    merkle_range_root(&r, want);
    ck_assert_mem_eq(got, want, HASH_BYTES);
}
END_TEST

START_TEST(test_empty_and_oversized_entries_are_refused)
{
    static uint8_t big[TLOG_MAX_ENTRY + 1];
    uint8_t leaf[HASH_BYTES];
    struct merkle_range r;
    struct store_txn *t = NULL;

    merkle_range_init(&r);
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(tlog_append(t, &r, big, 0, leaf), ERR_TOOBIG);
    ck_assert_int_eq(tlog_append(t, &r, big, sizeof(big), leaf), ERR_TOOBIG);
    ck_assert_int_eq(tlog_append(t, &r, big, TLOG_MAX_ENTRY, leaf), ERR_OK);
    ck_assert_uint_eq(r.size, 1);
    store_abort(t);
}
END_TEST

START_TEST(test_missing_subtree_is_a_storage_error)
{
    uint8_t root[HASH_BYTES];
    struct store_txn *t = NULL;

    ck_assert_int_eq(store_begin(s, false, &t), ERR_OK);
    ck_assert_int_eq(tlog_root(t, 3, root), ERR_STORAGE);
    store_abort(t);
}
END_TEST

Suite *
tlog_suite(void)
{
    Suite *su = suite_create("tlog");
    TCase *tc = tcase_create("tlog");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_roots_match_direct_hashing);
    tcase_add_test(tc, test_entries_and_leaves_read_back);
    tcase_add_test(tc, test_proofs_from_store_verify);
    tcase_add_test(tc, test_reopen_continues_the_same_tree);
    tcase_add_test(tc, test_empty_and_oversized_entries_are_refused);
    tcase_add_test(tc, test_missing_subtree_is_a_storage_error);
    suite_add_tcase(su, tc);
    return su;
}
