/*
 * merkleref: RFC 9162 §2.1 written as the text defines it, recursively, as the reference the
 * library's iterative code is checked against (tests/check_merkle.c, tests/fuzz/fuzz_merkle.c):
 * MTH, PATH and SUBPROOF of §2.1.1, §2.1.3.1 and §2.1.4.1, and verifiers that invert those
 * definitions (rebuild the tree a proof describes and compare its root) rather than run the
 * RFC's §2.1.3.2 and §2.1.4.2 algorithms, which crypto/merkle.c implements.
 *
 * THREAD SAFETY: reentrant.
 */
#ifndef MERKLEREF_H
#define MERKLEREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/hash.h"

/* ref_split returns k, the largest power of two below n, for n >= 2 (RFC 9162 §2.1.1). */
uint64_t ref_split(uint64_t n);

/* ref_mth writes MTH(D[0:n]) of the leaf hashes leaves[0..n) to out, for n >= 1. */
void ref_mth(uint8_t leaves[][HASH_BYTES], uint64_t n, uint8_t out[static HASH_BYTES]);

/* ref_root is ref_mth, or the empty root (SHA-256 of nothing) for n == 0. */
void ref_root(uint8_t leaves[][HASH_BYTES], uint64_t n, uint8_t out[static HASH_BYTES]);

/* ref_path appends PATH(m, D[0:n]) to proof, counting in *count. */
void ref_path(uint64_t m, uint8_t leaves[][HASH_BYTES], uint64_t n, uint8_t proof[][HASH_BYTES],
              size_t *count);

/* ref_subproof appends SUBPROOF(m, D[0:n], b) to proof, counting in *count. */
void ref_subproof(uint64_t m, uint8_t leaves[][HASH_BYTES], uint64_t n, bool b,
                  uint8_t proof[][HASH_BYTES], size_t *count);

/*
 * ref_verify_inclusion is true if proof[0..count) is PATH(index, D[0:size]) of a tree whose
 * leaf index is leaf and whose root is root: the tree the proof describes, rebuilt by
 * inverting PATH, has that root. Any size up to 2^64 - 1.
 */
bool ref_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[static HASH_BYTES],
                          const uint8_t proof[][HASH_BYTES], size_t count,
                          const uint8_t root[static HASH_BYTES]);

/*
 * ref_verify_consistency is true if proof[0..count) is SUBPROOF(m, D[0:n], true) for trees
 * whose roots are root1 (m leaves) and root2 (n leaves), 0 < m <= n, by inverting SUBPROOF: the
 * old and new roots the proof describes are root1 and root2.
 */
bool ref_verify_consistency(uint64_t m, uint64_t n, const uint8_t root1[static HASH_BYTES],
                            const uint8_t root2[static HASH_BYTES],
                            const uint8_t proof[][HASH_BYTES], size_t count);

#endif
