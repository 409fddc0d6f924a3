/*
 * merkleref: RFC 9162 §2.1's definitions, recursively, as a reference for the tests.
 */
#include <string.h>

#include "consentd/merkle.h"
#include "merkleref.h"

uint64_t
ref_split(uint64_t n)
{
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

void
ref_mth(uint8_t leaves[][HASH_BYTES], uint64_t n, uint8_t out[static HASH_BYTES])
{
    uint8_t l[HASH_BYTES], r[HASH_BYTES];
    uint64_t k;

    if (n == 1) {
        memcpy(out, leaves[0], HASH_BYTES);
        return;
    }
    k = ref_split(n);
    ref_mth(leaves, k, l);
    ref_mth(leaves + k, n - k, r);
    merkle_node_hash(l, r, out);
}

void
ref_root(uint8_t leaves[][HASH_BYTES], uint64_t n, uint8_t out[static HASH_BYTES])
{
    if (n == 0)
        hash_sha256(NULL, 0, out);
    else
        ref_mth(leaves, n, out);
}

void
ref_path(uint64_t m, uint8_t leaves[][HASH_BYTES], uint64_t n, uint8_t proof[][HASH_BYTES],
         size_t *count)
{
    uint64_t k;

    if (n == 1)
        return;
    k = ref_split(n);
    if (m < k) {
        ref_path(m, leaves, k, proof, count);
        ref_mth(leaves + k, n - k, proof[(*count)++]);
    } else {
        ref_path(m - k, leaves + k, n - k, proof, count);
        ref_mth(leaves, k, proof[(*count)++]);
    }
}

void
ref_subproof(uint64_t m, uint8_t leaves[][HASH_BYTES], uint64_t n, bool b,
             uint8_t proof[][HASH_BYTES], size_t *count)
{
    uint64_t k;

    if (m == n) {
        if (!b)
            ref_mth(leaves, n, proof[(*count)++]);
        return;
    }
    k = ref_split(n);
    if (m <= k) {
        ref_subproof(m, leaves, k, b, proof, count);
        ref_mth(leaves + k, n - k, proof[(*count)++]);
    } else {
        ref_subproof(m - k, leaves + k, n - k, false, proof, count);
        ref_mth(leaves, k, proof[(*count)++]);
    }
}

/*
 * path_root rebuilds MTH(D[0:n]) from leaf (at index i < n) and PATH(i, D[0:n]) =
 * proof[0..count): PATH puts the sibling of the top split last, so the last element is the
 * sibling subtree and the rest is the path within the half holding the leaf.
 */
static bool
path_root(uint64_t i, uint64_t n, const uint8_t leaf[static HASH_BYTES],
          const uint8_t proof[][HASH_BYTES], size_t count, uint8_t out[static HASH_BYTES])
{
    uint8_t half[HASH_BYTES];
    uint64_t k;

    if (n == 1) {
        memcpy(out, leaf, HASH_BYTES);
        return count == 0;
    }
    if (count == 0)
        return false;
    k = ref_split(n);
    if (i < k) {
        if (!path_root(i, k, leaf, proof, count - 1, half))
            return false;
        merkle_node_hash(half, proof[count - 1], out);
    } else {
        if (!path_root(i - k, n - k, leaf, proof, count - 1, half))
            return false;
        merkle_node_hash(proof[count - 1], half, out);
    }
    return true;
}

bool
ref_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[static HASH_BYTES],
                     const uint8_t proof[][HASH_BYTES], size_t count,
                     const uint8_t root[static HASH_BYTES])
{
    uint8_t got[HASH_BYTES];

    if (index >= size)
        return false;
    return path_root(index, size, leaf, proof, count, got) && memcmp(got, root, HASH_BYTES) == 0;
}

/*
 * subproof_roots rebuilds, from SUBPROOF(m, D[0:n], b) = proof[0..count), the roots of the
 * old subtree (the first m leaves of this subtree) and the new one (all n). When b is true and
 * m == n the old subtree is the whole old tree, whose root the verifier knows: root1.
 */
static bool
subproof_roots(uint64_t m, uint64_t n, bool b, const uint8_t root1[static HASH_BYTES],
               const uint8_t proof[][HASH_BYTES], size_t count, uint8_t old[static HASH_BYTES],
               uint8_t new[static HASH_BYTES])
{
    uint8_t o[HASH_BYTES], half[HASH_BYTES];
    const uint8_t *sib;
    uint64_t k;

    if (m == n) {
        if (b) {
            memcpy(old, root1, HASH_BYTES);
            memcpy(new, root1, HASH_BYTES);
            return count == 0;
        }
        if (count != 1)
            return false;
        memcpy(old, proof[0], HASH_BYTES);
        memcpy(new, proof[0], HASH_BYTES);
        return true;
    }
    if (count == 0)
        return false;
    k = ref_split(n);
    sib = proof[count - 1];
    if (m <= k) {
        if (!subproof_roots(m, k, b, root1, proof, count - 1, o, half))
            return false;
        memcpy(old, o, HASH_BYTES);
        merkle_node_hash(half, sib, new);
    } else {
        if (!subproof_roots(m - k, n - k, false, root1, proof, count - 1, o, half))
            return false;
        merkle_node_hash(sib, o, old);
        merkle_node_hash(sib, half, new);
    }
    return true;
}

bool
ref_verify_consistency(uint64_t m, uint64_t n, const uint8_t root1[static HASH_BYTES],
                       const uint8_t root2[static HASH_BYTES], const uint8_t proof[][HASH_BYTES],
                       size_t count)
{
    uint8_t old[HASH_BYTES], new[HASH_BYTES];

    if (m == 0 || m > n)
        return false;
    if (m == n)
        return count == 0 && memcmp(root1, root2, HASH_BYTES) == 0;
    return subproof_roots(m, n, true, root1, proof, count, old, new) &&
           memcmp(old, root1, HASH_BYTES) == 0 && memcmp(new, root2, HASH_BYTES) == 0;
}
