/*
 * store: the key-value store under the log and the state derived from it. LMDB today; kept
 * narrow (tables, transactions, get/put/cursor-free scans) so that another engine can sit
 * behind it. This is the only file that includes lmdb.h.
 *
 * Durability: store_commit of a write transaction returns only after LMDB has synced the data
 * and meta pages (MDB_NOSYNC and MDB_WRITEMAP are never used). Any failure of a write
 * transaction is ERR_STORAGE, and the caller must not acknowledge anything and must stop: the
 * environment may be broken and fsync is never retried.
 *
 * THREAD SAFETY: one write transaction at a time (the sequencer's); any number of read
 * transactions in any threads, each used by one thread (MDB_NOTLS). Each thread reuses one read
 * transaction handle; a thread that read from a store calls store_thread_end before it exits.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"

/*
 * The tables. State tables are indexes into the log, derived from it by state_apply; the
 * "side" tables (STORE_ENROL, STORE_JTI, STORE_REVOKED) hold short-lived secrets' hashes or ids
 * that must never be in the log, are written only by the sequencer, and are not rebuilt by a
 * replay.
 */
enum store_table {
    STORE_ENTRIES,  /* log index (8 bytes, big-endian) → entry bytes */
    STORE_NODES,    /* level (1 byte) ‖ index (8 bytes BE) → 32-byte perfect-subtree hash */
    STORE_META,     /* name → value: "size" (8 bytes BE) */
    STORE_ORGS,     /* ODS code → log index (8 bytes BE) of its org entry */
    STORE_CLIENTS,  /* client id → struct clients record (see clients.h) */
    STORE_PATIENTS, /* NHS number → struct patients record (see patients.h) */
    STORE_LINKS,    /* "system|value" → NHS number (10 bytes) */
    STORE_POINTERS, /* pointer id → struct pointers record (see pointers.h) */
    STORE_BY_NHS, /* NHS number ‖ '/' ‖ pointer id → empty: a person's pointers in id order */
    STORE_CONSENTS,        /* grant id (jti) → consents record (see consents.h) */
    STORE_CONSENTS_BY_NHS, /* NHS number ‖ '/' ‖ jti → empty: a person's grants */
    STORE_DELEGATIONS,     /* delegations (see consents.h) */
    STORE_ACCESS,          /* access token jti → log index of its "access" entry (8, BE) */
    STORE_ACCESS_BY_NHS, /* NHS number ‖ '/' ‖ log index (8, BE) → empty: a person's accesses */
    STORE_REVOKED,       /* access token jti → its exp (8, BE): revoked early (side table) */
    STORE_ENROL,         /* SHA-256 of an enrolment code → struct patients_code (side table) */
    STORE_JTI, /* sequence number (8, BE) → exp (8, BE) ‖ who ‖ 0x00 ‖ jti (side table; jtis.h) */
    STORE_TOKEN_KEYS, /* token key id → public key ‖ retired at (see tokenkeys.h) */
    STORE_TRAIL, /* NHS number ‖ '/' ‖ log index (8, BE) → empty: every entry about a person */
    STORE_NTABLES
};

#define STORE_MAX_KEY 511 /* LMDB's default maximum key size */

struct store;
struct store_txn;

/*
 * store_open opens (creating if absent) the environment in directory dir with a map of
 * map_size bytes. *out is NULL on failure (ERR_STORAGE, logged).
 */
enum err store_open(const char *dir, uint64_t map_size, struct store **out);

/* store_close closes s; every transaction must have ended. NULL is a no-op. */
void store_close(struct store *s);

/* store_thread_end releases the calling thread's reusable read transaction on s, if any. */
void store_thread_end(struct store *s);

/*
 * store_reader_check clears reader slots left by dead processes and sets *cleared to their
 * number. Returns ERR_OK or ERR_STORAGE.
 */
enum err store_reader_check(struct store *s, int *cleared);

/* store_begin starts a transaction (write or read-only). *out is NULL on failure. */
enum err store_begin(struct store *s, bool write, struct store_txn **out);

/*
 * store_begin_nested starts a child of the write transaction parent: its writes join the
 * parent's when it commits and vanish when it is aborted. The parent must not be used until
 * the child ends. *out is NULL on failure.
 */
enum err store_begin_nested(struct store_txn *parent, struct store_txn **out);

/*
 * store_commit commits and frees t. For a top-level write transaction ERR_OK means durable; a
 * nested one joins its parent. On failure the transaction is gone and ERR_STORAGE is returned.
 */
enum err store_commit(struct store_txn *t) ERR_WUR;

/*
 * store_reserve makes sure the file system has bytes allocated past the end of the data file
 * (never past the map, and without changing the file's size), so that the next commit's new
 * pages cannot find the disk full halfway through: LMDB reports a write cut short as EIO, which
 * is indistinguishable from a failing disk (twice bytes are allocated at a time, so most calls
 * only look at the file's size). ERR_OK (also when the file system cannot
 * preallocate), ERR_UNAVAIL when there is no space (store_out_of_space is then true), or
 * ERR_STORAGE (logged).
 */
#define STORE_RESERVE (8u * 1024 * 1024) /* what the sequencer reserves before each commit */
enum err store_reserve(struct store *s, uint64_t bytes);

/*
 * store_out_of_space is true when the last failure of a put, delete or commit in a write
 * transaction on s was for lack of space — the map is full (MDB_MAP_FULL), or the file system
 * said ENOSPC, EDQUOT or EFBIG before LMDB wrote the meta page — and the environment is still
 * usable. Nothing of that transaction is durable or will ever be referenced, so the caller may
 * abort it and refuse its writes instead of stopping; any other ERR_STORAGE still means stop.
 */
bool store_out_of_space(const struct store *s);

/* store_abort discards and frees t; NULL is a no-op. */
void store_abort(struct store_txn *t);

/*
 * store_get looks key up in table. On ERR_OK *val and *val_len point into the map and stay
 * valid only until t ends or writes to table: copy what you keep. ERR_NOTFOUND if absent,
 * ERR_STORAGE on failure.
 */
enum err store_get(struct store_txn *t, enum store_table table, const void *key, size_t key_len,
                   const void **val, size_t *val_len);

/*
 * store_put stores val under key. With unique, an existing key is left as it is and
 * ERR_CONFLICT is returned; with append, keys must arrive in increasing order (faster).
 * ERR_STORAGE on any other failure (then the transaction must be aborted).
 */
enum err store_put(struct store_txn *t, enum store_table table, const void *key, size_t key_len,
                   const void *val, size_t val_len, bool unique, bool append);

/* store_del removes key from table. ERR_NOTFOUND if absent, ERR_STORAGE on failure. */
enum err store_del(struct store_txn *t, enum store_table table, const void *key, size_t key_len);

/*
 * A scan callback sees one key and value (borrowed until the scan returns). It returns ERR_OK
 * to go on; anything else stops the scan, and store_scan returns it (ERR_EXISTS is a handy
 * "found what I wanted" that store_scan turns into ERR_OK).
 */
typedef enum err (*store_scan_fn)(void *ctx, const void *key, size_t key_len, const void *val,
                                  size_t val_len);

/*
 * store_scan calls fn for every key of table that starts with prefix[0..prefix_len), in key
 * order. Returns ERR_OK (also when nothing matched), fn's code, or ERR_STORAGE.
 */
enum err store_scan(struct store_txn *t, enum store_table table, const void *prefix,
                    size_t prefix_len, store_scan_fn fn, void *ctx);

/* store_u64_key writes v big-endian into key (so that keys sort numerically). */
void store_u64_key(uint64_t v, uint8_t key[static 8]);

/*
 * store_get_pair reads a 16-byte value of two big-endian u64 (two log indexes, say) stored
 * under key. ERR_NOTFOUND if absent, ERR_STORAGE if the value is not 16 bytes; a and b are 0
 * on failure.
 */
enum err store_get_pair(struct store_txn *t, enum store_table table, const char *key, uint64_t *a,
                        uint64_t *b);

/* store_put_pair stores (a, b) under key as store_get_pair reads it (overwriting). */
enum err store_put_pair(struct store_txn *t, enum store_table table, const char *key, uint64_t a,
                        uint64_t b);

/* store_u64_val reads an 8-byte big-endian value; ERR_STORAGE if len is not 8. */
enum err store_u64_val(const void *val, size_t len, uint64_t *v);

#endif
