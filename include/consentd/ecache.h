/*
 * ecache: small caches of what was parsed from log entries, keyed by log index, so that a
 * reader that parses the same entry on every request (a client's JWK, a grant's JWS) parses it
 * once. A committed entry never changes, but an index is not tied to one entry for ever: in the
 * sequencer's batch an entry appended in a nested transaction can be rolled back (the nested
 * transaction aborted, or the whole batch refused for lack of space), and the same index then
 * holds another entry. So every hit is confirmed against the entry's leaf hash, which
 * tlog_append stores in the same transaction as the entry: the same leaf hash means the same
 * bytes, and the same bytes parse the same. A hit costs one store read instead of a parse.
 *
 * A cache is direct-mapped: entry index lives in slot index % n of n slots (a power of two, at
 * most ECACHE_MAX_SLOTS), each with a value of value_size bytes beside it, where the caller
 * puts only what it parsed from the entry's bytes: state read from other tables changes and is
 * read on every call. A parse that failed is never kept. The slots and values are allocated on
 * the cache's first use in a thread, so a thread that never reads pays nothing.
 *
 * THREAD SAFETY: none inside; a cache belongs to one thread. Callers declare their struct ecache
 * thread-local (__thread, as store.c keeps its read transaction), so the sequencer and each HTTP
 * worker have their own caches and no lock is taken; a thread that read through caches calls
 * ecache_thread_end before it exits.
 */
#ifndef ECACHE_H
#define ECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/store.h"

#define ECACHE_MAX_SLOTS 256 /* slots of one cache */

/* One slot: which entry the value beside it was parsed from, if full. */
struct ecache_slot {
    uint64_t index;
    uint8_t leaf[HASH_BYTES];
    bool full;
};

/* A cache; declare it __thread and initialise it with ECACHE_INIT. */
struct ecache {
    size_t n;          /* slots */
    size_t value_size; /* bytes of each value */
    struct ecache_slot *slots;
    unsigned char *values;
    struct ecache *next; /* the thread's caches in use, for ecache_thread_end */
};
#define ECACHE_INIT(n, type)                                                                       \
    {                                                                                              \
        (n), sizeof(type), NULL, NULL, NULL                                                        \
    }

/* What ecache_find found: the slot of the entry, and the entry's leaf hash for ecache_keep. */
struct ecache_ref {
    size_t slot;
    uint64_t index;
    uint8_t leaf[HASH_BYTES];
};

/*
 * ecache_find looks entry index up in c: it reads the entry's leaf hash from t and sets *hit if
 * slot ref->slot holds the parse of that very entry, which the caller then reads at
 * ecache_value(c, ref). On a miss the slot is emptied: the caller parses the entry into
 * ecache_value(c, ref) and, if the parse succeeded, calls ecache_keep. Returns ERR_OK, or
 * ERR_STORAGE (logged by tlog) if the entry has no leaf hash; *hit is false on failure.
 */
enum err ecache_find(struct store_txn *t, struct ecache *c, uint64_t index, struct ecache_ref *ref,
                     bool *hit) ERR_WUR;

/* ecache_value returns the value of ref's slot (value_size bytes), after ecache_find. */
void *ecache_value(struct ecache *c, const struct ecache_ref *ref);

/*
 * ecache_keep records that the value of ref's slot now holds the parse of the entry
 * ecache_find missed. Call it only after a parse that succeeded, before the next ecache_find on
 * c.
 */
void ecache_keep(struct ecache *c, const struct ecache_ref *ref);

/*
 * An ecache_parse_fn parses entry index, read in t, into value (the cache's value_size bytes).
 * It returns ERR_OK, or the error ecache_read passes on (and the value is not kept).
 */
typedef enum err (*ecache_parse_fn)(struct store_txn *t, uint64_t index, void *value);

/*
 * ecache_read is what each reader does with its cache: *value gets c's parse of entry index,
 * the kept one when ecache_find hits, else parse's, kept when it succeeds. *value is valid
 * until the next call on c. Returns ERR_OK, ERR_STORAGE (the entry has no leaf hash), or
 * parse's error; *value is NULL on failure.
 */
enum err ecache_read(struct store_txn *t, struct ecache *c, uint64_t index, ecache_parse_fn parse,
                     void **value) ERR_WUR;

/* ecache_thread_end frees the slots and values of every cache the calling thread used. */
void ecache_thread_end(void);

#endif
