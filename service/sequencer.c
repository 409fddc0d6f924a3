/*
 * sequencer: the single writer. See include/consentd/sequencer.h for the contract.
 */
#define _XOPEN_SOURCE 700 /* strptime */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "consentd/crashpoint.h"
#include "consentd/ecache.h"
#include "consentd/jstrict.h"
#include "consentd/log.h"
#include "consentd/merkle.h"
#include "consentd/sequencer.h"
#include "consentd/tlog.h"
#include "consentd/xmalloc.h"

#define SEQ_TIME_LEN      20  /* "2026-11-23T13:45:12Z" */
#define SEQ_CLOCK_SLACK   5   /* seconds the wall clock may drift from the monotonic one unlogged */
#define SEQ_STOP_GRACE_MS 500 /* for the HTTP workers to answer a batch failed by a fault */

struct sequencer {
    struct store *store;
    const struct ckpt_signer *signer;
    int ckpt_fd;
    unsigned batch_max;
    unsigned queue_max;

    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    struct seq_write *head, *tail;
    unsigned queued;
    bool stopping;
    bool readonly;
    char readonly_why[STATE_WHY_MAX];
    char note[CKPT_RECORD]; /* latest signed checkpoint */
    size_t note_len;
    struct note_checkpoint signed_ckpt;
    struct sequencer_stats stats;
    _Atomic uint64_t published; /* signed_ckpt.size, for lock-free readers */

    /* Owned by the sequencer thread (and sequencer_open before it starts). */
    struct merkle_range range;
    struct seq_write *batch; /* the batch being run */
    time_t last_time;        /* the latest entry time */
    time_t last_wall;        /* the wall clock at the last batch (0: none yet) */
    time_t last_mono;        /* the monotonic clock then, in seconds */
    bool full;               /* the last batch was refused for lack of space */
};

static uint64_t
seq_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * seq_stop_process stops the process after a storage fault. Nothing in flight is acknowledged;
 * a supervisor restarts us on the committed state. The batch's writers are told first, so that
 * their clients get a 500 rather than a closed connection, and the HTTP workers get a moment
 * to send it; they only read meanwhile, and nothing is written or signed after this point.
 */
static void
seq_stop_process(struct sequencer *q, const char *what)
{
    struct timespec grace = {0, SEQ_STOP_GRACE_MS * 1000000L};
    struct seq_write *w, *next;

    log_warnx("sequencer: %s; stopping without acknowledging the batch (no retry)", what);
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_mutex_unlock(&q->lock);
    for (w = q->batch; w != NULL; w = next) {
        next = w->next;
        w->next = NULL;
        w->rc = ERR_STORAGE;
        snprintf(w->why, sizeof(w->why),
                 "the store failed (%s); the service is stopping, and this write may or may not "
                 "be in the log",
                 what);
        w->done(w);
    }
    if (q->batch != NULL)
        nanosleep(&grace, NULL);
    _exit(SEQUENCER_EXIT_IO);
}

static void
seq_set_readonly(struct sequencer *q, const char *why)
{
    pthread_mutex_lock(&q->lock);
    if (!q->readonly) {
        q->readonly = true;
        snprintf(q->readonly_why, sizeof(q->readonly_why), "%s", why);
    }
    pthread_mutex_unlock(&q->lock);
    log_warnx("sequencer: read-only: %s", why);
}

/*
 * seq_check_tree is the guard before signing: the tree of new_size entries in the store must
 * (a) hold, for each entry from first on, the leaf hash computed when it was ingested
 * (expected, or NULL to only recompute), (b) have the root of the in-memory range, computed the
 * other way, and (c) be consistent with the last signed checkpoint.
 */
static enum err
seq_check_tree(struct sequencer *q, uint64_t first, uint64_t new_size,
               const uint8_t (*expected)[HASH_BYTES], uint8_t root[static HASH_BYTES], char *why,
               size_t why_cap)
{
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES];
    uint8_t leaf[HASH_BYTES], stored[HASH_BYTES], mem_root[HASH_BYTES];
    struct store_txn *t = NULL;
    const uint8_t *bytes;
    uint64_t i, old_size = q->signed_ckpt.size;
    size_t len, count;
    enum err rc;

    rc = store_begin(q->store, false, &t);
    if (rc != ERR_OK)
        return rc;
    for (i = first; i < new_size; i++) {
        rc = tlog_entry(t, i, &bytes, &len);
        if (rc == ERR_OK)
            rc = tlog_leaf(t, i, stored);
        if (rc != ERR_OK) {
            snprintf(why, why_cap, "entry %llu cannot be read back: %s", (unsigned long long)i,
                     err_str(rc));
            rc = ERR_BADSIG;
            goto out;
        }
        merkle_leaf_hash(bytes, len, leaf);
        if (!hash_equal(leaf, stored) ||
            (expected != NULL && !hash_equal(leaf, expected[i - first]))) {
            snprintf(why, why_cap, "entry %llu read back does not hash to its leaf hash",
                     (unsigned long long)i);
            rc = ERR_BADSIG;
            goto out;
        }
    }
    rc = tlog_root(t, new_size, root);
    if (rc != ERR_OK)
        goto out;
    merkle_range_root(&q->range, mem_root);
    if (q->range.size != new_size || !hash_equal(root, mem_root)) {
        snprintf(why, why_cap, "the stored tree of %llu entries does not match the appended one",
                 (unsigned long long)new_size);
        rc = ERR_BADSIG;
        goto out;
    }
    if (old_size > 0) {
        rc = tlog_consistency(t, old_size, new_size, proof, &count);
        if (rc != ERR_OK)
            goto out;
        rc = merkle_verify_consistency(old_size, new_size, q->signed_ckpt.root, root,
                                       (const uint8_t(*)[HASH_BYTES])proof, count);
        if (rc != ERR_OK) {
            snprintf(why, why_cap,
                     "the tree of %llu entries is not consistent with the signed checkpoint of "
                     "%llu",
                     (unsigned long long)new_size, (unsigned long long)old_size);
            rc = ERR_BADSIG;
            goto out;
        }
    }
out:
    store_abort(t);
    return rc;
}

/*
 * seq_sign_and_persist signs (size, root), checks what it signed, appends it to the checkpoint
 * file (fsynced) and publishes it. Returns ERR_OK, or ERR_BADSIG with a sentence in why when
 * the signed checkpoint is not the in-memory tree (nothing is persisted then). A signing or
 * file error stops the process.
 */
static enum err
seq_sign_and_persist(struct sequencer *q, uint64_t size, const uint8_t root[static HASH_BYTES],
                     char *why, size_t why_cap)
{
    char note[CKPT_RECORD];
    uint8_t mem_root[HASH_BYTES];
    struct note_checkpoint c;
    size_t len;
    uint64_t t0;

    if (ckpt_sign(q->signer, size, root, note, &len) != ERR_OK)
        seq_stop_process(q, "cannot sign a checkpoint");
    CRASHPOINT(SIGNED);
    /*
     * The guard checked root against the store and the in-memory tree; check the signed note
     * against the in-memory tree once more, so that a bit flipped in root after the guard, or
     * a faulty signature, is never persisted.
     */
    merkle_range_root(&q->range, mem_root);
    if (ckpt_open_verify(&q->signer->verifier, note, len, &c) != ERR_OK ||
        c.size != q->range.size || !hash_equal(c.root, mem_root)) {
        snprintf(why, why_cap,
                 "the checkpoint signed for %llu entries does not verify or does not match the "
                 "tree",
                 (unsigned long long)size);
        return ERR_BADSIG;
    }
    t0 = seq_now_ns();
    if (ckpt_file_append(q->ckpt_fd, note, len) != ERR_OK)
        seq_stop_process(q, "cannot persist the checkpoint");
    pthread_mutex_lock(&q->lock);
    q->stats.checkpoint_ns += seq_now_ns() - t0;
    memcpy(q->note, note, len + 1);
    q->note_len = len;
    q->signed_ckpt.size = size;
    memcpy(q->signed_ckpt.root, root, HASH_BYTES);
    q->stats.size = size;
    atomic_store(&q->published, size);
    pthread_mutex_unlock(&q->lock);
    CRASHPOINT(PUBLISHED);
    return ERR_OK;
}

/*
 * seq_time returns the wall clock, by which the batch's writes decide (expiries, token
 * lifetimes), and writes the entries' time into out: the same, unless the clock is behind the
 * last time used, when entries keep that time so that entry times never go backwards. A jump
 * of the clock either way since the last batch is logged; comparing with the monotonic clock
 * tells a jump from idle time, with an allowance of SEQ_CLOCK_SLACK s plus 1 s in 1,000 for a
 * clock being slewed.
 */
static time_t
seq_time(struct sequencer *q, char out[static SEQ_TIME_LEN + 1])
{
    time_t now = time(NULL), when = now;
    long long jump = 0, elapsed;
    struct timespec mono;
    struct tm tm;

    clock_gettime(CLOCK_MONOTONIC, &mono);
    if (q->last_wall != 0) {
        elapsed = (long long)(mono.tv_sec - q->last_mono);
        jump = (long long)(now - q->last_wall) - elapsed;
        if (llabs(jump) <= SEQ_CLOCK_SLACK + elapsed / 1000)
            jump = 0;
    } else if (now < q->last_time) {
        jump = (long long)(now - q->last_time); /* since the last entry, before a restart */
    }
    if (jump > 0)
        log_warnx("sequencer: the clock jumped forward %lld s since the last batch", jump);
    if (jump < 0)
        log_warnx("sequencer: the clock went back %lld s; keeping entry times monotonic", -jump);
    q->last_wall = now;
    q->last_mono = mono.tv_sec;
    if (when < q->last_time)
        when = q->last_time;
    q->last_time = when;
    gmtime_r(&when, &tm);
    strftime(out, SEQ_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return now;
}

/*
 * seq_store_failed handles a store failure while a batch is applied: when the store is only
 * out of space it sets full and returns ERR_UNAVAIL, for the batch to be refused; otherwise it
 * stops the process.
 */
static enum err
seq_store_failed(struct sequencer *q, const char *what, bool *full)
{
    if (!store_out_of_space(q->store))
        seq_stop_process(q, what);
    *full = true;
    return ERR_UNAVAIL;
}

/*
 * seq_apply_one runs one write's check and entry in a nested transaction of t and returns
 * ERR_OK (then the entry, if any, is appended) or the refusal (a check may refuse its own
 * write with ERR_UNAVAIL); when the store is out of space it sets full (then the whole batch
 * must be refused); any other store failure stops the process.
 */
static enum err
seq_apply_one(struct sequencer *q, struct store_txn *t, struct seq_write *w, const char *when,
              char **entry, size_t *cap, bool *full)
{
    struct store_txn *child = NULL;
    enum err rc;
    size_t len;

    if (store_begin_nested(t, &child) != ERR_OK)
        seq_stop_process(q, "cannot begin a nested transaction");
    if (w->check != NULL) {
        rc = w->check(child, w);
        if (rc == ERR_STORAGE || rc == ERR_NOMEM)
            rc = seq_store_failed(q, "the store failed in a write's check", full);
        if (rc != ERR_OK)
            goto refuse;
    }
    if (w->type[0] != '\0') {
        len = strlen(w->type) + w->fields_len + SEQ_TIME_LEN + 40;
        if (len > *cap) {
            *cap = len;
            *entry = xrealloc(*entry, *cap);
        }
        len = (size_t)snprintf(*entry, *cap, "{\"v\":1,\"type\":\"%s\",\"time\":\"%s\"%s%.*s}",
                               w->type, when, w->fields_len > 0 ? "," : "", (int)w->fields_len,
                               w->fields);
        if (len > TLOG_MAX_ENTRY) {
            rc = ERR_TOOBIG;
            snprintf(w->why, sizeof(w->why), "the entry would be larger than %d bytes",
                     TLOG_MAX_ENTRY);
            goto refuse;
        }
        rc = state_apply(child, q->range.size, (const uint8_t *)*entry, len, w->why);
        if (rc == ERR_STORAGE || rc == ERR_NOMEM)
            rc = seq_store_failed(q, "the store failed while applying an entry", full);
        if (rc != ERR_OK)
            goto refuse;
        w->index = q->range.size;
        if (tlog_append(child, &q->range, (const uint8_t *)*entry, len, w->leaf) != ERR_OK) {
            rc = seq_store_failed(q, "the store failed while appending an entry", full);
            goto refuse;
        }
    }
    if (store_commit(child) != ERR_OK)
        return seq_store_failed(q, "cannot commit a nested transaction", full);
    return ERR_OK;
refuse:
    store_abort(child);
    return rc;
}

static void
seq_complete(struct seq_write *list)
{
    struct seq_write *w, *next;

    for (w = list; w != NULL; w = next) {
        next = w->next;
        w->next = NULL;
        w->done(w);
    }
}

/*
 * seq_refuse_full refuses every write of a batch that found the store out of space. Nothing of
 * the batch is durable, so the in-memory tree goes back to saved and the writes may be retried
 * once there is space; they are not counted as refusals by state_apply.
 */
static void
seq_refuse_full(struct sequencer *q, struct seq_write *batch, const struct merkle_range *saved,
                uint64_t *refused)
{
    struct seq_write *w;

    if (!q->full)
        log_warnx("sequencer: the store is out of space; refusing writes until there is space "
                  "(raise map_size_mb or free disk space)");
    q->full = true;
    q->range = *saved;
    *refused = 0;
    for (w = batch; w != NULL; w = w->next) {
        w->rc = ERR_UNAVAIL;
        snprintf(w->why, sizeof(w->why),
                 "the store is out of space; nothing was written, retry later");
    }
}

static void
seq_run_batch(struct sequencer *q, struct seq_write *batch, unsigned n)
{
    uint8_t(*leaves)[HASH_BYTES] = xcalloc(n, HASH_BYTES);
    char when[SEQ_TIME_LEN + 1], why[STATE_WHY_MAX];
    struct merkle_range saved = q->range;
    struct store_txn *t = NULL;
    uint64_t first = q->range.size, t0, appended = 0, accepted = 0, refused = 0;
    uint8_t root[HASH_BYTES];
    struct seq_write *w;
    char *entry = NULL;
    size_t cap = 0;
    time_t now;
    bool full = false;
    enum err rc;

    q->batch = batch;
    if (!sequencer_writable(q, why, sizeof(why))) {
        for (w = batch; w != NULL; w = w->next) {
            w->rc = ERR_UNAVAIL;
            snprintf(w->why, sizeof(w->why), "the log is read-only: %.200s", why);
        }
        goto done;
    }
    if (store_begin(q->store, true, &t) != ERR_OK)
        seq_stop_process(q, "cannot begin a write transaction");
    now = seq_time(q, when);
    for (w = batch; w != NULL && !full; w = w->next) {
        w->now = (int64_t)now;
        w->rc = seq_apply_one(q, t, w, when, &entry, &cap, &full);
        if (w->rc != ERR_OK) {
            refused++;
            continue;
        }
        accepted++;
        if (w->type[0] != '\0')
            memcpy(leaves[appended++], w->leaf, HASH_BYTES);
    }
    free(entry);
    if (!full && accepted > 0) {
        /*
         * Space for the batch's pages and for its checkpoint record is allocated before the
         * commit, so that neither write is the one that finds the disk full.
         */
        rc = store_reserve(q->store, STORE_RESERVE);
        if (rc == ERR_OK)
            rc = ckpt_file_reserve(q->ckpt_fd);
        if (rc != ERR_OK && rc != ERR_UNAVAIL)
            seq_stop_process(q, "cannot reserve space for the batch");
        full = rc == ERR_UNAVAIL;
    }
    if (full || accepted == 0) {
        store_abort(t);
        if (full)
            seq_refuse_full(q, batch, &saved, &refused);
        goto done;
    }
    CRASHPOINT(COMMIT);
    t0 = seq_now_ns();
    if (store_commit(t) != ERR_OK) {
        if (!store_out_of_space(q->store))
            seq_stop_process(q, "the durable commit failed");
        seq_refuse_full(q, batch, &saved, &refused);
        goto done;
    }
    CRASHPOINT(COMMITTED);
    if (q->full)
        log_warnx("sequencer: the store has space again; writes resume");
    q->full = false;
    pthread_mutex_lock(&q->lock);
    q->stats.commit_ns += seq_now_ns() - t0;
    q->stats.batches++;
    q->stats.entries += appended;
    pthread_mutex_unlock(&q->lock);
    if (appended == 0)
        goto done;

    why[0] = '\0';
    CRASHPOINT_FLIP(FLIP_LEAF, leaves, appended * HASH_BYTES);
    CRASHPOINT_FLIP(FLIP_NODE, q->range.hashes, q->range.count * HASH_BYTES);
    rc = seq_check_tree(q, first, q->range.size, (const uint8_t(*)[HASH_BYTES])leaves, root, why,
                        sizeof(why));
    if (rc == ERR_OK) {
        CRASHPOINT_FLIP(FLIP_ROOT, root, HASH_BYTES);
        rc = seq_sign_and_persist(q, q->range.size, root, why, sizeof(why));
    }
    if (rc != ERR_OK) {
        /* Committed but never signed nor acknowledged: the writes are indeterminate. */
        seq_set_readonly(q, why[0] != '\0' ? why : "the store failed while checking the tree");
        q->range = saved;
        for (w = batch; w != NULL; w = w->next) {
            if (w->rc == ERR_OK) {
                w->rc = ERR_UNAVAIL;
                snprintf(w->why, sizeof(w->why),
                         "the log failed its consistency check before signing; it is read-only "
                         "until an operator investigates");
            }
        }
    }
done:
    for (w = batch; w != NULL; w = w->next)
        w->checkpoint_size = sequencer_size(q);
    pthread_mutex_lock(&q->lock);
    q->stats.refused += refused;
    pthread_mutex_unlock(&q->lock);
    free(leaves);
    q->batch = NULL;
    seq_complete(batch);
}

static void *
seq_thread(void *arg)
{
    struct sequencer *q = arg;
    struct seq_write *batch, *last;
    unsigned n;

    prctl(PR_SET_NAME, "consentd-seq", 0, 0, 0); /* for top -H, perf and make bench */
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->head == NULL && !q->stopping)
            pthread_cond_wait(&q->wake, &q->lock);
        if (q->head == NULL && q->stopping) {
            pthread_mutex_unlock(&q->lock);
            break;
        }
        batch = last = q->head;
        for (n = 1; n < q->batch_max && last->next != NULL; n++)
            last = last->next;
        q->head = last->next;
        if (q->head == NULL)
            q->tail = NULL;
        last->next = NULL;
        q->queued -= n;
        pthread_mutex_unlock(&q->lock);
        seq_run_batch(q, batch, n);
    }
    store_thread_end(q->store);
    ecache_thread_end();
    return NULL;
}

struct seq_replay {
    struct store_txn *t;
    uint64_t bad_index; /* first leaf index under a stored subtree that differs */
    bool bad;
};

static enum err
seq_replay_compare(void *ctx, unsigned level, uint64_t index, const uint8_t hash[static HASH_BYTES])
{
    struct seq_replay *r = ctx;
    uint8_t stored[HASH_BYTES];
    enum err rc;

    rc = tlog_node(r->t, level, index, stored);
    if (rc == ERR_STORAGE)
        return rc;
    if ((rc != ERR_OK || !hash_equal(stored, hash)) && !r->bad) {
        r->bad = true;
        r->bad_index = index << level;
    }
    return ERR_OK;
}

/* seq_entry_time reads an entry's "time" (RFC 3339 UTC, seconds); 0 if it has none. */
static time_t
seq_entry_time(const uint8_t *bytes, size_t len)
{
    const cJSON *v;
    cJSON *e = NULL;
    struct tm tm;
    time_t when = 0;
    const char *end;

    if (jstrict_parse((const char *)bytes, len, &e, NULL) != ERR_OK)
        return 0;
    v = cJSON_GetObjectItemCaseSensitive(e, "time");
    memset(&tm, 0, sizeof(tm));
    if (cJSON_IsString(v)) {
        end = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (end != NULL && *end == '\0')
            when = timegm(&tm);
    }
    cJSON_Delete(e);
    return when < 0 ? 0 : when;
}

/*
 * seq_startup_replay rehashes every entry in the store, checks every stored subtree hash
 * against the entries, and checks the tree at the signed size against the last checkpoint. It
 * turns the sequencer read-only, with the reason, on any difference; it leaves q->range at the
 * store's size when all is well.
 */
static enum err
seq_startup_replay(struct sequencer *q, struct store_txn *t, uint64_t db_size)
{
    struct seq_replay r = {t, 0, false};
    uint8_t leaf[HASH_BYTES], root[HASH_BYTES];
    char why[STATE_WHY_MAX];
    const uint8_t *bytes;
    bool forked = false;
    uint64_t i;
    size_t len;
    enum err rc;

    if (db_size < q->signed_ckpt.size) {
        snprintf(why, sizeof(why),
                 "the store holds %llu entries but a checkpoint of %llu was signed: it was rolled "
                 "back",
                 (unsigned long long)db_size, (unsigned long long)q->signed_ckpt.size);
        seq_set_readonly(q, why);
        return ERR_OK;
    }
    merkle_range_init(&q->range);
    for (i = 0; i < db_size; i++) {
        if (i == q->signed_ckpt.size) {
            merkle_range_root(&q->range, root);
            forked = !hash_equal(root, q->signed_ckpt.root);
            if (forked)
                break;
        }
        rc = tlog_entry(t, i, &bytes, &len);
        if (rc == ERR_NOTFOUND) {
            r.bad = true;
            r.bad_index = i;
            break;
        }
        if (rc != ERR_OK)
            return rc;
        merkle_leaf_hash(bytes, len, leaf);
        rc = merkle_range_append(&q->range, leaf, seq_replay_compare, &r);
        if (rc != ERR_OK)
            return rc;
        if (r.bad)
            break;
    }
    if (r.bad) {
        snprintf(why, sizeof(why),
                 "the store's hashes do not match its entries at index %llu: it was rewritten or "
                 "corrupted",
                 (unsigned long long)r.bad_index);
        seq_set_readonly(q, why);
        return ERR_OK;
    }
    if (db_size == q->signed_ckpt.size) {
        merkle_range_root(&q->range, root);
        forked = !hash_equal(root, q->signed_ckpt.root);
    }
    if (db_size > 0 && tlog_entry(t, db_size - 1, &bytes, &len) == ERR_OK)
        q->last_time = seq_entry_time(bytes, len);
    if (forked) {
        snprintf(why, sizeof(why),
                 "the store's tree at %llu entries does not match the signed checkpoint: it was "
                 "rewritten or forked",
                 (unsigned long long)q->signed_ckpt.size);
        seq_set_readonly(q, why);
    }
    return ERR_OK;
}

enum err
sequencer_open(struct store *s, const struct ckpt_signer *signer, const char *ckpt_path,
               unsigned batch_max, unsigned queue_max, struct sequencer **out)
{
    struct sequencer *q = xcalloc(1, sizeof(*q));
    char why[STATE_WHY_MAX];
    struct store_txn *t = NULL;
    uint8_t root[HASH_BYTES];
    uint64_t db_size, count;
    enum err rc;

    *out = NULL;
    q->store = s;
    q->signer = signer;
    q->batch_max = batch_max;
    q->queue_max = queue_max;
    q->ckpt_fd = -1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->wake, NULL);
    merkle_range_init(&q->range);

    rc = ckpt_file_open(ckpt_path, false, &q->ckpt_fd, q->note, &count);
    if (rc != ERR_OK)
        goto out;
    q->note_len = strlen(q->note);
    if (count == 0) {
        log_warnx("sequencer: %s holds no checkpoint; was the directory made by consentd init?",
                  ckpt_path);
        rc = ERR_IO;
        goto out;
    }
    rc = ckpt_open_verify(&signer->verifier, q->note, q->note_len, &q->signed_ckpt);
    if (rc != ERR_OK) {
        log_warnx("sequencer: the last checkpoint in %s does not verify with the checkpoint key "
                  "(%s)",
                  ckpt_path, err_str(rc));
        rc = ERR_IO;
        goto out;
    }
    q->stats.size = q->signed_ckpt.size;
    atomic_store(&q->published, q->signed_ckpt.size);

    rc = store_begin(s, false, &t);
    if (rc != ERR_OK)
        goto out;
    rc = tlog_size(t, &db_size);
    if (rc == ERR_OK)
        rc = seq_startup_replay(q, t, db_size);
    store_abort(t);
    t = NULL;
    if (rc != ERR_OK)
        goto out;
    if (!q->readonly && db_size > q->signed_ckpt.size) {
        /* Committed before a crash but never signed: sign them now, after the same guard. */
        log_info("sequencer: signing %llu entries committed after the last checkpoint",
                 (unsigned long long)(db_size - q->signed_ckpt.size));
        rc = seq_check_tree(q, q->signed_ckpt.size, db_size, NULL, root, why, sizeof(why));
        if (rc == ERR_OK)
            rc = seq_sign_and_persist(q, db_size, root, why, sizeof(why));
        if (rc == ERR_BADSIG)
            seq_set_readonly(q, why);
        else if (rc != ERR_OK)
            goto out;
    }
    *out = q;
    q = NULL;
    rc = ERR_OK;
out:
    if (q != NULL) {
        if (q->ckpt_fd != -1)
            close(q->ckpt_fd);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->wake);
        free(q);
    }
    return rc;
}

enum err
sequencer_start(struct sequencer *q)
{
    int r = pthread_create(&q->thread, NULL, seq_thread, q);

    if (r != 0) {
        errno = r;
        log_warn("sequencer: pthread_create");
        return ERR_NOMEM;
    }
    q->started = true;
    return ERR_OK;
}

enum err
sequencer_submit(struct sequencer *q, struct seq_write *w)
{
    enum err rc = ERR_OK;

    w->next = NULL;
    w->rc = ERR_OK;
    w->why[0] = '\0';
    pthread_mutex_lock(&q->lock);
    if (q->readonly) {
        snprintf(w->why, sizeof(w->why), "the log is read-only: %.200s", q->readonly_why);
        rc = ERR_UNAVAIL;
    } else if (q->stopping) {
        snprintf(w->why, sizeof(w->why), "the service is shutting down");
        rc = ERR_UNAVAIL;
    } else if (q->queued >= q->queue_max) {
        snprintf(w->why, sizeof(w->why), "too many writes are waiting; retry shortly");
        q->stats.queue_full++;
        rc = ERR_UNAVAIL;
    } else {
        if (q->tail != NULL)
            q->tail->next = w;
        else
            q->head = w;
        q->tail = w;
        q->queued++;
        pthread_cond_signal(&q->wake);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void
sequencer_free(struct sequencer *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
    if (q->started)
        pthread_join(q->thread, NULL);
    if (q->ckpt_fd != -1)
        close(q->ckpt_fd);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->wake);
    free(q);
}

void
sequencer_checkpoint(struct sequencer *q, char out[static CKPT_RECORD], size_t *len, uint64_t *size)
{
    pthread_mutex_lock(&q->lock);
    memcpy(out, q->note, q->note_len + 1);
    *len = q->note_len;
    *size = q->signed_ckpt.size;
    pthread_mutex_unlock(&q->lock);
}

uint64_t
sequencer_size(struct sequencer *q)
{
    return atomic_load(&q->published);
}

bool
sequencer_writable(struct sequencer *q, char *why, size_t why_cap)
{
    bool ok;

    pthread_mutex_lock(&q->lock);
    ok = !q->readonly;
    if (why != NULL && why_cap > 0)
        snprintf(why, why_cap, "%s", ok ? "" : q->readonly_why);
    pthread_mutex_unlock(&q->lock);
    return ok;
}

void
sequencer_stats(struct sequencer *q, struct sequencer_stats *st)
{
    pthread_mutex_lock(&q->lock);
    *st = q->stats;
    st->queued = q->queued;
    pthread_mutex_unlock(&q->lock);
}

enum err
sequencer_genesis(const struct ckpt_signer *signer, const char *ckpt_path)
{
    char note[CKPT_RECORD], last[CKPT_RECORD];
    uint8_t root[HASH_BYTES];
    uint64_t count;
    size_t len;
    enum err rc;
    int fd;

    rc = ckpt_file_open(ckpt_path, true, &fd, last, &count);
    if (rc != ERR_OK)
        return errno == EEXIST ? ERR_EXISTS : rc;
    merkle_empty_root(root);
    rc = ckpt_sign(signer, 0, root, note, &len);
    if (rc == ERR_OK)
        rc = ckpt_file_append(fd, note, len);
    close(fd);
    return rc;
}
