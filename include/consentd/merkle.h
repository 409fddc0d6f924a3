/*
 * merkle: RFC 9162 §2.1 Merkle tree hashing, proof generation and proof verification.
 *
 * Generation never rehashes the log: it asks a callback for the hash of a *perfect* subtree
 * (2^level leaves starting at leaf index << level), which the store keeps, and combines at most
 * O(log n) of them. Verification is the RFC's algorithm, with no access to the tree.
 *
 * THREAD SAFETY: every function is reentrant; a struct merkle_range belongs to one thread.
 */
#ifndef MERKLE_H
#define MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/hash.h"

#define MERKLE_MAX_LEVELS 64 /* a tree of at most 2^63 leaves */
#define MERKLE_MAX_PROOF  64 /* longest inclusion or consistency proof, in hashes */

/* merkle_leaf_hash writes SHA-256(0x00 ‖ entry[0..len)) to out. */
void merkle_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[static HASH_BYTES]);

/* merkle_node_hash writes SHA-256(0x01 ‖ left ‖ right) to out. */
void merkle_node_hash(const uint8_t left[static HASH_BYTES], const uint8_t right[static HASH_BYTES],
                      uint8_t out[static HASH_BYTES]);

/* merkle_empty_root writes the root of the empty tree, SHA-256 of nothing, to out. */
void merkle_empty_root(uint8_t out[static HASH_BYTES]);

/*
 * A subtree callback writes to out the hash of the perfect subtree holding leaves
 * [index << level, (index + 1) << level); level 0 is a leaf hash. It returns ERR_OK, or any
 * other code, which the caller returns unchanged.
 */
typedef enum err (*merkle_subtree_fn)(void *ctx, unsigned level, uint64_t index,
                                      uint8_t out[static HASH_BYTES]);

/* merkle_root writes the root of the first size leaves to out (the empty root for size 0). */
enum err merkle_root(merkle_subtree_fn fn, void *ctx, uint64_t size,
                     uint8_t out[static HASH_BYTES]);

/*
 * merkle_inclusion_proof writes the RFC 9162 §2.1.3.1 inclusion proof of leaf index in the tree
 * of size leaves to proof (room for MERKLE_MAX_PROOF hashes) and its length to *count.
 * Returns ERR_INVAL unless index < size; *count is 0 on failure.
 */
enum err merkle_inclusion_proof(merkle_subtree_fn fn, void *ctx, uint64_t index, uint64_t size,
                                uint8_t proof[][HASH_BYTES], size_t *count);

/*
 * merkle_consistency_proof writes the RFC 9162 §2.1.4.1 consistency proof between the trees of
 * sizes from and to. Returns ERR_INVAL unless 0 < from <= to (from == to gives an empty proof);
 * *count is 0 on failure.
 */
enum err merkle_consistency_proof(merkle_subtree_fn fn, void *ctx, uint64_t from, uint64_t to,
                                  uint8_t proof[][HASH_BYTES], size_t *count);

/*
 * merkle_verify_inclusion runs RFC 9162 §2.1.3.2. Returns ERR_OK if leaf is at index in the tree
 * of size leaves whose root is root; ERR_BADSIG otherwise (including index >= size and a proof
 * of the wrong length).
 */
enum err merkle_verify_inclusion(uint64_t index, uint64_t size,
                                 const uint8_t leaf[static HASH_BYTES],
                                 const uint8_t proof[][HASH_BYTES], size_t count,
                                 const uint8_t root[static HASH_BYTES]) ERR_WUR;

/*
 * merkle_verify_consistency runs RFC 9162 §2.1.4.2 for trees of sizes from <= to with roots
 * root1 and root2. from == to needs an empty proof and equal roots; from == 0 is ERR_BADSIG
 * (nothing to prove). Returns ERR_OK or ERR_BADSIG.
 */
enum err merkle_verify_consistency(uint64_t from, uint64_t to,
                                   const uint8_t root1[static HASH_BYTES],
                                   const uint8_t root2[static HASH_BYTES],
                                   const uint8_t proof[][HASH_BYTES], size_t count) ERR_WUR;

/*
 * A compact range: the roots of the perfect subtrees that make up the first size leaves, in
 * left-to-right order (one per set bit of size). It appends leaves in O(1) amortised and gives
 * the root in O(log n): the auditor's replay and the log's append path use it.
 */
struct merkle_range {
    uint64_t size;
    unsigned count;
    uint8_t hashes[MERKLE_MAX_LEVELS][HASH_BYTES];
};

/* merkle_range_init makes r the empty range. */
void merkle_range_init(struct merkle_range *r);

/*
 * A completion callback is told of every perfect subtree an append completes, leaf first
 * (level 0), then each parent it closes; the store keeps them for proofs. It may be NULL.
 */
typedef enum err (*merkle_complete_fn)(void *ctx, unsigned level, uint64_t index,
                                       const uint8_t hash[static HASH_BYTES]);

/*
 * merkle_range_append appends one leaf hash. Returns ERR_OK, or the first non-OK code of the
 * callback, in which case r is unchanged.
 */
enum err merkle_range_append(struct merkle_range *r, const uint8_t leaf[static HASH_BYTES],
                             merkle_complete_fn fn, void *ctx);

/* merkle_range_root writes the root of the leaves appended so far. */
void merkle_range_root(const struct merkle_range *r, uint8_t out[static HASH_BYTES]);

/*
 * merkle_range_load rebuilds the range of the first size leaves from stored perfect subtrees
 * (O(log n) callback calls).
 */
enum err merkle_range_load(struct merkle_range *r, uint64_t size, merkle_subtree_fn fn, void *ctx);

#endif
