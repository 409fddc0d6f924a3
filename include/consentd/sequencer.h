/*
 * sequencer: the only writer of the log. Requests queue up; one thread takes them in batches,
 * checks each against current state (state_apply) in order, appends the allowed ones, commits
 * the batch in one durable transaction (one fsync for all), re-reads what it committed and
 * checks the new tree against the last signed checkpoint, signs a checkpoint, appends it to the
 * checkpoint file and fsyncs, and only then completes the requests.
 *
 * Faults: a failed commit or checkpoint write stops the process (exit status 74) without
 * completing anything: fsync is never retried. A tree that is not consistent with the last
 * signed checkpoint (a rolled-back or forked store, a flipped bit) is never signed: the
 * sequencer turns read-only, refuses writes with ERR_UNAVAIL, and says why.
 *
 * THREAD SAFETY: sequencer_submit, sequencer_checkpoint, sequencer_writable and
 * sequencer_stats may be called from any thread; the rest from the thread that owns it.
 */
#ifndef SEQUENCER_H
#define SEQUENCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/ckpt.h"
#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define SEQUENCER_TYPE_MAX 32
#define SEQUENCER_EXIT_IO  74 /* EX_IOERR */

/*
 * One write. The caller fills type and fields (the entry's members after "v", "type" and
 * "time", as JSON text without braces, e.g. "\"ods\":\"A81001\",\"name\":\"…\""), done and ctx,
 * and keeps w alive until done is called. done runs on the sequencer thread, exactly once, after
 * which the sequencer no longer touches w.
 *
 * A write may also carry check, which runs first, in log order, inside the batch's transaction
 * (a nested one per write): it may read state, refuse the write (return anything but ERR_OK
 * with w->why set; ERR_UNAVAIL for a temporary condition refuses this write only) or make side
 * writes that must be durable with it (a used enrolment code, a seen jti). If check or the
 * entry is refused, everything the write did is undone. A write
 * with an empty type appends no entry: it is only its check's side writes, committed durably.
 * A check may also replace fields (free() the old text, set a malloc'd one and fields_len) when
 * the entry depends on what it decided, as a consent-checked token's access entry does.
 */
struct seq_write {
    char type[SEQUENCER_TYPE_MAX]; /* "" for a write with no log entry */
    char *fields;                  /* owned by the caller */
    size_t fields_len;
    enum err (*check)(struct store_txn *t, struct seq_write *w);
    void *check_ctx;
    void (*done)(struct seq_write *w);
    void *ctx;

    /* Set by the sequencer before check runs. */
    /*
     * The wall clock when the batch began, seconds since the epoch. Entry times use it too,
     * unless the clock went back: entries then keep the last time used, but decisions and
     * token lifetimes still follow the clock.
     */
    int64_t now;

    /* Results, valid in done(). */
    enum err rc; /* ERR_OK: durable; with an entry, at index inside a signed checkpoint */
    char why[STATE_WHY_MAX];
    uint64_t index;
    uint8_t leaf[HASH_BYTES];
    uint64_t checkpoint_size;

    struct seq_write *next; /* the sequencer's queue link */
};

struct sequencer_stats {
    uint64_t entries;       /* appended since start */
    uint64_t batches;       /* committed since start */
    uint64_t refused;       /* writes state_apply refused */
    uint64_t commit_ns;     /* time spent in durable commits */
    uint64_t checkpoint_ns; /* time spent writing checkpoint records */
    uint64_t queue_full;    /* writes refused for a full queue */
    uint64_t size;          /* size of the latest signed checkpoint */
    uint64_t queued;        /* writes waiting now */
};

struct sequencer;

/*
 * sequencer_open takes the store, the checkpoint signer (borrowed; must outlive it) and the
 * checkpoint file path; it reads the last signed checkpoint, checks the store against it, and
 * signs a checkpoint for entries committed after it (after a crash). Returns ERR_OK with *out
 * set even when the store fails the check (then it is read-only; see sequencer_writable);
 * ERR_IO or ERR_STORAGE if it cannot start at all.
 */
enum err sequencer_open(struct store *s, const struct ckpt_signer *signer, const char *ckpt_path,
                        unsigned batch_max, unsigned queue_max, struct sequencer **out);

/* sequencer_start starts the thread. */
enum err sequencer_start(struct sequencer *q);

/*
 * sequencer_submit queues w. Returns ERR_OK (done will be called), or ERR_UNAVAIL when the
 * sequencer is read-only, stopping or its queue is full (done will not be called; w->why says
 * which).
 */
enum err sequencer_submit(struct sequencer *q, struct seq_write *w);

/* sequencer_stop completes what is queued, stops the thread and frees q. NULL is a no-op. */
void sequencer_free(struct sequencer *q);

/*
 * sequencer_checkpoint copies the latest signed checkpoint note and a NUL into out
 * (CKPT_RECORD bytes), its length to *len and its size to *size.
 */
void sequencer_checkpoint(struct sequencer *q, char out[static CKPT_RECORD], size_t *len,
                          uint64_t *size);

/* sequencer_size returns the size of the latest signed checkpoint, without locking. */
uint64_t sequencer_size(struct sequencer *q);

/* sequencer_writable is true unless read-only; why (STATE_WHY_MAX bytes) gets the reason. */
bool sequencer_writable(struct sequencer *q, char *why, size_t why_cap);

/* sequencer_stats copies the counters. */
void sequencer_stats(struct sequencer *q, struct sequencer_stats *st);

/*
 * sequencer_genesis writes the first checkpoint (the empty tree) of a new log to a new
 * checkpoint file at ckpt_path. Returns ERR_EXISTS if the file exists.
 */
enum err sequencer_genesis(const struct ckpt_signer *signer, const char *ckpt_path);

#endif
