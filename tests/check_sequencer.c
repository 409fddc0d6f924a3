/*
 * check_sequencer: the single writer: contiguous indices, group commit, conflicts decided in
 * order, checkpoints signed over what is durable, a restart that continues the tree, and the
 * guard that refuses to sign a rolled-back or rewritten store.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/sequencer.h"
#include "consentd/tlog.h"
#include "consentd/xmalloc.h"
#include "suites.h"
#include "testutil.h"

#define MAP    (64u * 1024 * 1024)
#define ORIGIN "test.example/log"

static char dir[TU_DIR_MAX], lmdb_dir[PATH_MAX], ckpt_path[PATH_MAX];
static struct ckpt_signer signer;
static struct store *store;
static struct sequencer *seq;

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned done;
};

static struct waiter waiter = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void
on_done(struct seq_write *w)
{
    struct waiter *wt = w->ctx;

    pthread_mutex_lock(&wt->lock);
    wt->done++;
    pthread_cond_broadcast(&wt->cond);
    pthread_mutex_unlock(&wt->lock);
}

static void
waiter_wait(struct waiter *wt, unsigned n)
{
    pthread_mutex_lock(&wt->lock);
    while (wt->done < n)
        pthread_cond_wait(&wt->cond, &wt->lock);
    pthread_mutex_unlock(&wt->lock);
}

static void
wait_for(unsigned n)
{
    waiter_wait(&waiter, n);
}

static struct seq_write *
org_write(const char *ods)
{
    struct seq_write *w = xcalloc(1, sizeof(*w));
    char fields[64];

    snprintf(w->type, sizeof(w->type), "org");
    snprintf(fields, sizeof(fields), "\"ods\":\"%s\"", ods);
    w->fields = xstrdup(fields);
    w->fields_len = strlen(fields);
    w->done = on_done;
    w->ctx = &waiter;
    return w;
}

static void
write_free(struct seq_write *w)
{
    free(w->fields);
    free(w);
}

static void
open_all(void)
{
    ck_assert_int_eq(store_open(lmdb_dir, MAP, &store), ERR_OK);
    ck_assert_int_eq(sequencer_open(store, &signer, ckpt_path, 64, 4096, &seq), ERR_OK);
    ck_assert_int_eq(sequencer_start(seq), ERR_OK);
}

static void
close_all(void)
{
    sequencer_free(seq);
    seq = NULL;
    store_close(store);
    store = NULL;
}

static void
setup(void)
{
    tu_tmpdir(dir);
    tu_path(dir, "lmdb", lmdb_dir);
    tu_path(dir, "checkpoints", ckpt_path);
    ck_assert_int_eq(ckpt_signer_init(&signer, tu_key(7), ORIGIN), ERR_OK);
    ck_assert_int_eq(sequencer_genesis(&signer, ckpt_path), ERR_OK);
    waiter.done = 0;
    open_all();
}

static void
teardown(void)
{
    if (seq != NULL)
        close_all();
    ckpt_signer_clear(&signer);
    tu_rmrf(dir);
}

/* Submits n org writes named P<prefix><i> and waits for all of them. */
static void
append_orgs(char prefix, unsigned n)
{
    struct seq_write **ws = xcalloc(n, sizeof(*ws));
    struct waiter mine = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    unsigned i;
    char ods[16];

    for (i = 0; i < n; i++) {
        snprintf(ods, sizeof(ods), "P%c%05u", prefix, i);
        ws[i] = org_write(ods);
        ws[i]->ctx = &mine;
        ck_assert_int_eq(sequencer_submit(seq, ws[i]), ERR_OK);
    }
    waiter_wait(&mine, n);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(ws[i]->rc, ERR_OK);
        write_free(ws[i]);
    }
    free(ws);
}

/* The published checkpoint verifies and its root is the stored tree's. */
static uint64_t
checked_checkpoint(void)
{
    struct note_checkpoint c;
    char note[CKPT_RECORD];
    uint8_t root[HASH_BYTES];
    struct store_txn *t = NULL;
    uint64_t size;
    size_t len;

    sequencer_checkpoint(seq, note, &len, &size);
    ck_assert_int_eq(ckpt_open_verify(&signer.verifier, note, len, &c), ERR_OK);
    ck_assert_uint_eq(c.size, size);
    ck_assert_str_eq(c.origin, ORIGIN);
    ck_assert_int_eq(store_begin(store, false, &t), ERR_OK);
    ck_assert_int_eq(tlog_root(t, size, root), ERR_OK);
    store_abort(t);
    ck_assert_mem_eq(root, c.root, HASH_BYTES);
    return size;
}

START_TEST(test_writes_get_contiguous_indices_and_a_signed_checkpoint)
{
    struct seq_write *ws[20];
    bool seen[20] = {false};
    unsigned i;
    char ods[16];

    for (i = 0; i < 20; i++) {
        snprintf(ods, sizeof(ods), "A%04u", i);
        ws[i] = org_write(ods);
        ck_assert_int_eq(sequencer_submit(seq, ws[i]), ERR_OK);
    }
    wait_for(20);
    for (i = 0; i < 20; i++) {
        ck_assert_int_eq(ws[i]->rc, ERR_OK);
        ck_assert_uint_lt(ws[i]->index, 20);
        ck_assert(!seen[ws[i]->index]);
        seen[ws[i]->index] = true;
        ck_assert_uint_gt(ws[i]->checkpoint_size, ws[i]->index);
        write_free(ws[i]);
    }
    ck_assert_uint_eq(checked_checkpoint(), 20);
}
END_TEST

START_TEST(test_entries_carry_v_type_time_and_fields)
{
    struct store_txn *t = NULL;
    const uint8_t *bytes;
    char text[256];
    size_t len;

    append_orgs('E', 1);
    ck_assert_int_eq(store_begin(store, false, &t), ERR_OK);
    ck_assert_int_eq(tlog_entry(t, 0, &bytes, &len), ERR_OK);
    ck_assert_uint_lt(len, sizeof(text));
    memcpy(text, bytes, len);
    text[len] = '\0';
    store_abort(t);
    ck_assert_msg(strncmp(text, "{\"v\":1,\"type\":\"org\",\"time\":\"20", 30) == 0, "%s", text);
    ck_assert_msg(strstr(text, "Z\",\"ods\":\"PE00000\"}") != NULL, "%s", text);
}
END_TEST

START_TEST(test_duplicate_is_refused_in_log_order)
{
    struct seq_write *a = org_write("DUP01"), *b = org_write("DUP01");

    ck_assert_int_eq(sequencer_submit(seq, a), ERR_OK);
    ck_assert_int_eq(sequencer_submit(seq, b), ERR_OK);
    wait_for(2);
    ck_assert_int_eq(a->rc, ERR_OK);
    ck_assert_int_eq(b->rc, ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(b->why, "DUP01 is already registered"));
    ck_assert_uint_eq(checked_checkpoint(), 1);
    write_free(a);
    write_free(b);
}
END_TEST

static void *
submitter(void *arg)
{
    append_orgs((char)(intptr_t)arg, 250);
    return NULL;
}

START_TEST(test_concurrent_writers_share_commits)
{
    struct sequencer_stats st;
    pthread_t th[4];
    intptr_t i;

    for (i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, submitter, (void *)('A' + i)), 0);
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(checked_checkpoint(), 1000);
    sequencer_stats(seq, &st);
    ck_assert_uint_eq(st.entries, 1000);
    ck_assert_uint_lt(st.batches, 1000); /* group commit: fewer fsyncs than writes */
}
END_TEST

START_TEST(test_restart_continues_the_same_tree)
{
    struct seq_write *w;

    append_orgs('R', 10);
    close_all();
    open_all();
    ck_assert_uint_eq(checked_checkpoint(), 10);
    w = org_write("AFTER1");
    ck_assert_int_eq(sequencer_submit(seq, w), ERR_OK);
    wait_for(1);
    ck_assert_int_eq(w->rc, ERR_OK);
    ck_assert_uint_eq(w->index, 10);
    write_free(w);
    ck_assert_uint_eq(checked_checkpoint(), 11);
}
END_TEST

START_TEST(test_committed_but_unsigned_entries_are_signed_at_startup)
{
    uint8_t leaf[HASH_BYTES];
    struct merkle_range r;
    struct store_txn *t = NULL;
    const char *e = "{\"v\":1,\"type\":\"org\",\"time\":\"2026-01-01T00:00:00Z\",\"ods\":\"C1\"}";

    append_orgs('U', 3);
    close_all();
    /* As if the process died after the commit and before the checkpoint. */
    ck_assert_int_eq(store_open(lmdb_dir, MAP, &store), ERR_OK);
    ck_assert_int_eq(store_begin(store, true, &t), ERR_OK);
    ck_assert_int_eq(tlog_range(t, 3, &r), ERR_OK);
    ck_assert_int_eq(tlog_append(t, &r, (const uint8_t *)e, strlen(e), leaf), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_int_eq(sequencer_open(store, &signer, ckpt_path, 64, 4096, &seq), ERR_OK);
    ck_assert(sequencer_writable(seq, NULL, 0));
    ck_assert_uint_eq(checked_checkpoint(), 4);
}
END_TEST

static void
copy_file(const char *from, const char *to)
{
    char buf[65536];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;

    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

START_TEST(test_rolled_back_store_is_read_only)
{
    char data[PATH_MAX], saved[PATH_MAX], why[STATE_WHY_MAX];
    struct seq_write *w;

    append_orgs('B', 2);
    close_all();
    tu_path(lmdb_dir, "data.mdb", data);
    tu_path(dir, "data.mdb.saved", saved);
    copy_file(data, saved);
    open_all();
    append_orgs('C', 3);
    close_all();
    copy_file(saved, data); /* restore the older copy */
    open_all();
    ck_assert(!sequencer_writable(seq, why, sizeof(why)));
    ck_assert_msg(strstr(why, "rolled back") != NULL, "%s", why);
    w = org_write("LATE1");
    ck_assert_int_eq(sequencer_submit(seq, w), ERR_UNAVAIL);
    ck_assert_ptr_nonnull(strstr(w->why, "read-only"));
    write_free(w);
}
END_TEST

START_TEST(test_rewritten_store_is_read_only)
{
    uint8_t key[9] = {0}, bad[HASH_BYTES];
    char why[STATE_WHY_MAX];
    struct store_txn *t = NULL;

    append_orgs('F', 4);
    close_all();
    ck_assert_int_eq(store_open(lmdb_dir, MAP, &store), ERR_OK);
    ck_assert_int_eq(store_begin(store, true, &t), ERR_OK);
    store_u64_key(1, key + 1); /* leaf 1 */
    memset(bad, 0xab, sizeof(bad));
    ck_assert_int_eq(store_put(t, STORE_NODES, key, sizeof(key), bad, sizeof(bad), false, false),
                     ERR_OK);
    key[0] = 1; /* and the level-1 node above it, so the tree is self-consistent but forked */
    store_u64_key(0, key + 1);
    ck_assert_int_eq(store_put(t, STORE_NODES, key, sizeof(key), bad, sizeof(bad), false, false),
                     ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_int_eq(sequencer_open(store, &signer, ckpt_path, 64, 4096, &seq), ERR_OK);
    ck_assert(!sequencer_writable(seq, why, sizeof(why)));
    ck_assert_msg(strstr(why, "at index 1: it was rewritten") != NULL, "%s", why);
}
END_TEST

START_TEST(test_tampered_entry_is_read_only)
{
    const char *e = "{\"v\":1,\"type\":\"org\",\"time\":\"2026-01-01T00:00:00Z\",\"ods\":\"EVIL\"}";
    char why[STATE_WHY_MAX];
    struct store_txn *t = NULL;
    uint8_t key[8];

    append_orgs('T', 5);
    close_all();
    ck_assert_int_eq(store_open(lmdb_dir, MAP, &store), ERR_OK);
    ck_assert_int_eq(store_begin(store, true, &t), ERR_OK);
    store_u64_key(2, key);
    ck_assert_int_eq(store_put(t, STORE_ENTRIES, key, sizeof(key), e, strlen(e), false, false),
                     ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_int_eq(sequencer_open(store, &signer, ckpt_path, 64, 4096, &seq), ERR_OK);
    ck_assert(!sequencer_writable(seq, why, sizeof(why)));
    ck_assert_msg(strstr(why, "at index 2: it was rewritten") != NULL, "%s", why);
}
END_TEST

/* A check that records its write's ODS code in the jti side table. */
static enum err
side_write_check(struct store_txn *t, struct seq_write *w)
{
    const char *key = w->check_ctx;

    return store_put(t, STORE_JTI, key, strlen(key), "x", 1, false, false);
}

static bool
side_written(const char *key)
{
    struct store_txn *t = NULL;
    const void *v;
    size_t len;
    enum err rc;

    ck_assert_int_eq(store_begin(store, false, &t), ERR_OK);
    rc = store_get(t, STORE_JTI, key, strlen(key), &v, &len);
    store_abort(t);
    return rc == ERR_OK;
}

static char side_first[] = "first", side_second[] = "second", side_alone[] = "alone";

START_TEST(test_refused_write_leaves_no_side_writes)
{
    struct seq_write *a = org_write("SIDE1"), *b = org_write("SIDE1");

    a->check = side_write_check;
    a->check_ctx = side_first;
    b->check = side_write_check;
    b->check_ctx = side_second;
    ck_assert_int_eq(sequencer_submit(seq, a), ERR_OK);
    ck_assert_int_eq(sequencer_submit(seq, b), ERR_OK);
    wait_for(2);
    ck_assert_int_eq(a->rc, ERR_OK);
    ck_assert_int_eq(b->rc, ERR_CONFLICT); /* the entry is refused after its check wrote */
    ck_assert(side_written("first"));
    ck_assert(!side_written("second"));
    ck_assert_uint_eq(checked_checkpoint(), 1);
    write_free(a);
    write_free(b);
}
END_TEST

START_TEST(test_side_write_without_entry_is_durable)
{
    struct seq_write *w = xcalloc(1, sizeof(*w));

    w->check = side_write_check;
    w->check_ctx = side_alone;
    w->done = on_done;
    w->ctx = &waiter;
    ck_assert_int_eq(sequencer_submit(seq, w), ERR_OK);
    wait_for(1);
    ck_assert_int_eq(w->rc, ERR_OK);
    free(w);
    close_all();
    open_all();
    ck_assert(side_written("alone"));
    ck_assert_uint_eq(checked_checkpoint(), 0); /* no entry, no new checkpoint */
}
END_TEST

/* A check that refuses its write for a while, as jtis_use does when it keeps all it may. */
static enum err
busy_check(struct store_txn *t, struct seq_write *w)
{
    (void)t;
    snprintf(w->why, sizeof(w->why), "busy for now");
    return ERR_UNAVAIL;
}

START_TEST(test_check_unavailable_refuses_only_its_write)
{
    struct seq_write *a = org_write("BUSY1"), *b = org_write("BUSY2");

    a->check = busy_check;
    ck_assert_int_eq(sequencer_submit(seq, a), ERR_OK);
    ck_assert_int_eq(sequencer_submit(seq, b), ERR_OK);
    wait_for(2);
    /* Not taken for a full store: that would refuse the batch with another sentence. */
    ck_assert_int_eq(a->rc, ERR_UNAVAIL);
    ck_assert_str_eq(a->why, "busy for now");
    ck_assert_int_eq(b->rc, ERR_OK);
    ck_assert_uint_eq(checked_checkpoint(), 1);
    ck_assert(sequencer_writable(seq, NULL, 0));
    write_free(a);
    write_free(b);
}
END_TEST

START_TEST(test_full_queue_is_refused)
{
    struct seq_write *a = org_write("Q1"), *b = org_write("Q2");

    close_all();
    ck_assert_int_eq(store_open(lmdb_dir, MAP, &store), ERR_OK);
    ck_assert_int_eq(sequencer_open(store, &signer, ckpt_path, 64, 1, &seq), ERR_OK);
    /* Not started, so nothing drains the queue. */
    ck_assert_int_eq(sequencer_submit(seq, a), ERR_OK);
    ck_assert_int_eq(sequencer_submit(seq, b), ERR_UNAVAIL);
    ck_assert_ptr_nonnull(strstr(b->why, "too many writes"));
    close_all();
    write_free(a);
    write_free(b);
}
END_TEST

START_TEST(test_full_map_refuses_writes_and_stays_up)
{
    char ods[16], why[STATE_WHY_MAX];
    struct seq_write *w = NULL;
    uint64_t signed_size;
    unsigned i;

    /* A 256 KiB map fills after a few hundred entries: each further batch is refused whole. */
    close_all();
    ck_assert_int_eq(store_open(lmdb_dir, 256 * 1024, &store), ERR_OK);
    ck_assert_int_eq(sequencer_open(store, &signer, ckpt_path, 64, 4096, &seq), ERR_OK);
    ck_assert_int_eq(sequencer_start(seq), ERR_OK);
    for (i = 0; i < 100000; i++) {
        snprintf(ods, sizeof(ods), "F%07u", i);
        w = org_write(ods);
        ck_assert_int_eq(sequencer_submit(seq, w), ERR_OK);
        wait_for(i + 1);
        if (w->rc != ERR_OK)
            break;
        write_free(w);
        w = NULL;
    }
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->rc, ERR_UNAVAIL);
    ck_assert_msg(strstr(w->why, "out of space") != NULL, "%s", w->why);
    write_free(w);
    /* Nothing of the refused batch was signed, the log stays writable, and reads go on. */
    ck_assert(sequencer_writable(seq, why, sizeof(why)));
    signed_size = checked_checkpoint();
    ck_assert_uint_eq(signed_size, i);
    w = org_write("FULL2");
    ck_assert_int_eq(sequencer_submit(seq, w), ERR_OK);
    wait_for(i + 2);
    ck_assert_int_eq(w->rc, ERR_UNAVAIL);
    write_free(w);
    /* With a larger map the same log continues where it was. */
    close_all();
    open_all();
    ck_assert(sequencer_writable(seq, NULL, 0));
    ck_assert_uint_eq(checked_checkpoint(), signed_size);
    w = org_write("FULL3");
    ck_assert_int_eq(sequencer_submit(seq, w), ERR_OK);
    wait_for(i + 3);
    ck_assert_int_eq(w->rc, ERR_OK);
    ck_assert_uint_eq(w->index, signed_size);
    write_free(w);
    ck_assert_uint_eq(checked_checkpoint(), signed_size + 1);
}
END_TEST

START_TEST(test_missing_checkpoint_file_refuses_to_start)
{
    struct sequencer *q = NULL;
    char path[PATH_MAX];

    tu_path(dir, "nope", path);
    ck_assert_int_eq(sequencer_open(store, &signer, path, 64, 64, &q), ERR_IO);
    ck_assert_ptr_null(q);
}
END_TEST

START_TEST(test_checkpoint_by_another_key_refuses_to_start)
{
    struct ckpt_signer other;
    struct sequencer *q = NULL;

    ck_assert_int_eq(ckpt_signer_init(&other, tu_key(8), ORIGIN), ERR_OK);
    ck_assert_int_eq(sequencer_open(store, &other, ckpt_path, 64, 64, &q), ERR_IO);
    ck_assert_ptr_null(q);
    ckpt_signer_clear(&other);
}
END_TEST

Suite *
sequencer_suite(void)
{
    Suite *s = suite_create("sequencer");
    TCase *tc = tcase_create("sequencer");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_writes_get_contiguous_indices_and_a_signed_checkpoint);
    tcase_add_test(tc, test_entries_carry_v_type_time_and_fields);
    tcase_add_test(tc, test_duplicate_is_refused_in_log_order);
    tcase_add_test(tc, test_concurrent_writers_share_commits);
    tcase_add_test(tc, test_restart_continues_the_same_tree);
    tcase_add_test(tc, test_committed_but_unsigned_entries_are_signed_at_startup);
    tcase_add_test(tc, test_rolled_back_store_is_read_only);
    tcase_add_test(tc, test_rewritten_store_is_read_only);
    tcase_add_test(tc, test_tampered_entry_is_read_only);
    tcase_add_test(tc, test_refused_write_leaves_no_side_writes);
    tcase_add_test(tc, test_side_write_without_entry_is_durable);
    tcase_add_test(tc, test_check_unavailable_refuses_only_its_write);
    tcase_add_test(tc, test_full_queue_is_refused);
    tcase_add_test(tc, test_full_map_refuses_writes_and_stays_up);
    tcase_add_test(tc, test_missing_checkpoint_file_refuses_to_start);
    tcase_add_test(tc, test_checkpoint_by_another_key_refuses_to_start);
    suite_add_tcase(s, tc);
    return s;
}
