/*
 * tlog: the signed append-only log over the store: entries, the RFC 9162 Merkle tree kept as
 * stored perfect-subtree hashes, and proofs made from those hashes in O(log n) reads. It does
 * not decide what may be appended (state_ does) nor when to commit or sign (sequencer_ does).
 *
 * THREAD SAFETY: functions taking a read transaction may run in any thread; tlog_append only in
 * the sequencer's write transaction.
 */
#ifndef TLOG_H
#define TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/merkle.h"
#include "consentd/store.h"

#define TLOG_MAX_ENTRY 65535 /* the tlog-tiles entry bundle's length prefix */

/* tlog_size sets *size to the number of committed entries (0 for a new log). */
enum err tlog_size(struct store_txn *t, uint64_t *size);

/*
 * tlog_append appends entry[0..len) at index r->size, stores its leaf and every perfect subtree
 * it completes, updates r and the stored size, and writes the leaf hash to leaf. Returns
 * ERR_TOOBIG for an empty entry or one over TLOG_MAX_ENTRY, ERR_STORAGE on failure.
 */
enum err tlog_append(struct store_txn *t, struct merkle_range *r, const uint8_t *entry, size_t len,
                     uint8_t leaf[static HASH_BYTES]);

/*
 * tlog_entry reads entry index. *bytes is borrowed from the store (valid until t ends).
 * ERR_NOTFOUND beyond the end.
 */
enum err tlog_entry(struct store_txn *t, uint64_t index, const uint8_t **bytes, size_t *len);

/*
 * tlog_node reads the stored hash of the perfect subtree (level, index); ERR_NOTFOUND if the
 * store has none.
 */
enum err tlog_node(struct store_txn *t, unsigned level, uint64_t index,
                   uint8_t out[static HASH_BYTES]);

/* tlog_leaf reads the stored leaf hash of entry index. */
enum err tlog_leaf(struct store_txn *t, uint64_t index, uint8_t out[static HASH_BYTES]);

/* tlog_root computes the root of the first size entries from stored hashes. */
enum err tlog_root(struct store_txn *t, uint64_t size, uint8_t out[static HASH_BYTES]);

/* tlog_range loads the compact range of the first size entries (for appending after them). */
enum err tlog_range(struct store_txn *t, uint64_t size, struct merkle_range *r);

/* tlog_inclusion and tlog_consistency: merkle_inclusion_proof / merkle_consistency_proof. */
enum err tlog_inclusion(struct store_txn *t, uint64_t index, uint64_t size,
                        uint8_t proof[][HASH_BYTES], size_t *count);
enum err tlog_consistency(struct store_txn *t, uint64_t from, uint64_t to,
                          uint8_t proof[][HASH_BYTES], size_t *count);

#endif
