/*
 * merkle: RFC 9162 §2.1 Merkle trees. Generation splits a range at the largest power of two
 * below its size, as the RFC's definitions do, and reads every perfect, aligned subtree from
 * the callback instead of descending into it, so a root or proof costs O(log n) callback calls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "consentd/hash.h"
#include "consentd/merkle.h"

#define MAX_SIZE (UINT64_C(1) << 63) /* the most leaves a tree may have */

void
merkle_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[static HASH_BYTES])
{
    static const uint8_t prefix[1] = {0x00};

    hash_sha256_2(prefix, sizeof(prefix), entry, len, out);
}

void
merkle_node_hash(const uint8_t left[static HASH_BYTES], const uint8_t right[static HASH_BYTES],
                 uint8_t out[static HASH_BYTES])
{
    uint8_t buf[1 + 2 * HASH_BYTES];

    buf[0] = 0x01;
    memcpy(buf + 1, left, HASH_BYTES);
    memcpy(buf + 1 + HASH_BYTES, right, HASH_BYTES);
    hash_sha256(buf, sizeof(buf), out);
}

void
merkle_empty_root(uint8_t out[static HASH_BYTES])
{
    hash_sha256(NULL, 0, out);
}

/* split returns the largest power of two smaller than n, for n >= 2. */
static uint64_t
split(uint64_t n)
{
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* level_of returns log2(n) for a power of two n. */
static unsigned
level_of(uint64_t n)
{
    return (unsigned)__builtin_ctzll(n);
}

static bool
is_pow2(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/*
 * mth writes MTH(D[start:start+n]) for n >= 1. A perfect subtree aligned on its size comes
 * straight from the callback; any other range is split as RFC 9162 §2.1.1 says. The left half
 * of every split made from an aligned start is itself perfect and aligned, so the recursion
 * only descends on the right and makes at most one callback call per level.
 */
static enum err
mth(merkle_subtree_fn fn, void *ctx, uint64_t start, uint64_t n, uint8_t out[static HASH_BYTES])
{
    uint8_t left[HASH_BYTES], right[HASH_BYTES];
    uint64_t k;
    enum err rc;

    if (is_pow2(n) && start % n == 0)
        return fn(ctx, level_of(n), start >> level_of(n), out);
    k = split(n);
    rc = mth(fn, ctx, start, k, left);
    if (rc != ERR_OK)
        return rc;
    rc = mth(fn, ctx, start + k, n - k, right);
    if (rc != ERR_OK)
        return rc;
    merkle_node_hash(left, right, out);
    return ERR_OK;
}

enum err
merkle_root(merkle_subtree_fn fn, void *ctx, uint64_t size, uint8_t out[static HASH_BYTES])
{
    enum err rc = ERR_OK;

    if (size > MAX_SIZE) {
        rc = ERR_INVAL;
        goto out;
    }
    if (size == 0) {
        merkle_empty_root(out);
        goto out;
    }
    rc = mth(fn, ctx, 0, size, out);
out:
    return rc;
}

/*
 * path appends PATH(m, D[start:start+n]) of RFC 9162 §2.1.3.1 to proof: the sub-path first,
 * then the sibling subtree, so the proof runs from the leaf up.
 */
static enum err
path(merkle_subtree_fn fn, void *ctx, uint64_t m, uint64_t start, uint64_t n,
     uint8_t proof[][HASH_BYTES], size_t *count)
{
    uint64_t k;
    enum err rc;

    if (n == 1)
        return ERR_OK;
    k = split(n);
    if (m < k)
        rc = path(fn, ctx, m, start, k, proof, count);
    else
        rc = path(fn, ctx, m - k, start + k, n - k, proof, count);
    if (rc != ERR_OK)
        return rc;
    if (*count >= MERKLE_MAX_PROOF)
        return ERR_INVAL;
    if (m < k)
        rc = mth(fn, ctx, start + k, n - k, proof[*count]);
    else
        rc = mth(fn, ctx, start, k, proof[*count]);
    if (rc != ERR_OK)
        return rc;
    (*count)++;
    return ERR_OK;
}

enum err
merkle_inclusion_proof(merkle_subtree_fn fn, void *ctx, uint64_t index, uint64_t size,
                       uint8_t proof[][HASH_BYTES], size_t *count)
{
    enum err rc;

    *count = 0;
    if (index >= size || size > MAX_SIZE) {
        rc = ERR_INVAL;
        goto out;
    }
    rc = path(fn, ctx, index, 0, size, proof, count);
out:
    if (rc != ERR_OK)
        *count = 0;
    return rc;
}

/* subproof appends SUBPROOF(m, D[start:start+n], b) of RFC 9162 §2.1.4.1 to proof. */
static enum err
subproof(merkle_subtree_fn fn, void *ctx, uint64_t m, uint64_t start, uint64_t n, bool b,
         uint8_t proof[][HASH_BYTES], size_t *count)
{
    uint64_t k;
    enum err rc;

    if (m == n) {
        if (b)
            return ERR_OK;
        if (*count >= MERKLE_MAX_PROOF)
            return ERR_INVAL;
        rc = mth(fn, ctx, start, n, proof[*count]);
        if (rc != ERR_OK)
            return rc;
        (*count)++;
        return ERR_OK;
    }
    k = split(n);
    if (m <= k)
        rc = subproof(fn, ctx, m, start, k, b, proof, count);
    else
        rc = subproof(fn, ctx, m - k, start + k, n - k, false, proof, count);
    if (rc != ERR_OK)
        return rc;
    if (*count >= MERKLE_MAX_PROOF)
        return ERR_INVAL;
    if (m <= k)
        rc = mth(fn, ctx, start + k, n - k, proof[*count]);
    else
        rc = mth(fn, ctx, start, k, proof[*count]);
    if (rc != ERR_OK)
        return rc;
    (*count)++;
    return ERR_OK;
}

enum err
merkle_consistency_proof(merkle_subtree_fn fn, void *ctx, uint64_t from, uint64_t to,
                         uint8_t proof[][HASH_BYTES], size_t *count)
{
    enum err rc;

    *count = 0;
    if (from == 0 || from > to || to > MAX_SIZE) {
        rc = ERR_INVAL;
        goto out;
    }
    rc = subproof(fn, ctx, from, 0, to, true, proof, count);
out:
    if (rc != ERR_OK)
        *count = 0;
    return rc;
}

enum err
merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[static HASH_BYTES],
                        const uint8_t proof[][HASH_BYTES], size_t count,
                        const uint8_t root[static HASH_BYTES])
{
    uint8_t r[HASH_BYTES];
    uint64_t fn, sn;
    size_t i;

    /* The steps are numbered as in RFC 9162 §2.1.3.2. */
    if (index >= size || count > MERKLE_MAX_PROOF)
        return ERR_BADSIG; /* 1 */
    fn = index;            /* 2 */
    sn = size - 1;
    memcpy(r, leaf, HASH_BYTES); /* 3 */
    for (i = 0; i < count; i++) {
        if (sn == 0) /* 4a */
            return ERR_BADSIG;
        if ((fn & 1) != 0 || fn == sn) { /* 4b */
            merkle_node_hash(proof[i], r, r);
            if ((fn & 1) == 0) {
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1; /* 4c */
        sn >>= 1;
    }
    if (sn != 0 || !hash_equal(r, root)) /* 5 */
        return ERR_BADSIG;
    return ERR_OK;
}

enum err
merkle_verify_consistency(uint64_t from, uint64_t to, const uint8_t root1[static HASH_BYTES],
                          const uint8_t root2[static HASH_BYTES], const uint8_t proof[][HASH_BYTES],
                          size_t count)
{
    uint8_t fr[HASH_BYTES], sr[HASH_BYTES];
    const uint8_t *c;
    uint64_t fn, sn;
    size_t i, first;

    if (from == 0 || from > to || count > MERKLE_MAX_PROOF)
        return ERR_BADSIG;
    if (from == to) {
        if (count != 0 || !hash_equal(root1, root2))
            return ERR_BADSIG;
        return ERR_OK;
    }
    /* The steps are numbered as in RFC 9162 §2.1.4.2. */
    if (count == 0) /* 1 */
        return ERR_BADSIG;
    /* 2: prepending root1 is reading it as element 0 and the proof from index first. */
    first = is_pow2(from) ? 0 : 1;
    fn = from - 1; /* 3 */
    sn = to - 1;
    while ((fn & 1) != 0) { /* 4 */
        fn >>= 1;
        sn >>= 1;
    }
    c = first == 0 ? root1 : proof[0]; /* 5 */
    memcpy(fr, c, HASH_BYTES);
    memcpy(sr, c, HASH_BYTES);
    for (i = 1; i < count + 1 - first; i++) { /* 6 */
        c = proof[i - 1 + first];
        if (sn == 0) /* 6a */
            return ERR_BADSIG;
        if ((fn & 1) != 0 || fn == sn) { /* 6b */
            merkle_node_hash(c, fr, fr);
            merkle_node_hash(c, sr, sr);
            if ((fn & 1) == 0) {
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            merkle_node_hash(sr, c, sr);
        }
        fn >>= 1; /* 6c */
        sn >>= 1;
    }
    if (sn != 0 || !hash_equal(fr, root1) || !hash_equal(sr, root2)) /* 7 */
        return ERR_BADSIG;
    return ERR_OK;
}

void
merkle_range_init(struct merkle_range *r)
{
    memset(r, 0, sizeof(*r));
}

enum err
merkle_range_append(struct merkle_range *r, const uint8_t leaf[static HASH_BYTES],
                    merkle_complete_fn fn, void *ctx)
{
    uint8_t h[HASH_BYTES];
    unsigned level = 0, count = r->count;
    uint64_t index = r->size;
    enum err rc = ERR_OK;

    if (r->size >= MAX_SIZE) {
        rc = ERR_INVAL;
        goto out;
    }
    memcpy(h, leaf, HASH_BYTES);
    if (fn != NULL) {
        rc = fn(ctx, 0, index, h);
        if (rc != ERR_OK)
            goto out;
    }
    /*
     * Each set low bit of the old size is a perfect subtree of the same height as the one
     * being carried, so the two merge; r changes only once every callback has succeeded.
     */
    while (((r->size >> level) & 1) != 0) {
        merkle_node_hash(r->hashes[count - 1], h, h);
        count--;
        level++;
        index >>= 1;
        if (fn != NULL) {
            rc = fn(ctx, level, index, h);
            if (rc != ERR_OK)
                goto out;
        }
    }
    memcpy(r->hashes[count], h, HASH_BYTES);
    r->count = count + 1;
    r->size++;
out:
    return rc;
}

void
merkle_range_root(const struct merkle_range *r, uint8_t out[static HASH_BYTES])
{
    unsigned i;

    if (r->count == 0) {
        merkle_empty_root(out);
        return;
    }
    memcpy(out, r->hashes[r->count - 1], HASH_BYTES);
    for (i = r->count - 1; i > 0; i--)
        merkle_node_hash(r->hashes[i - 1], out, out);
}

enum err
merkle_range_load(struct merkle_range *r, uint64_t size, merkle_subtree_fn fn, void *ctx)
{
    struct merkle_range tmp;
    uint64_t start = 0;
    unsigned level;
    enum err rc = ERR_OK;

    if (size > MAX_SIZE) {
        rc = ERR_INVAL;
        goto out;
    }
    merkle_range_init(&tmp);
    for (level = MERKLE_MAX_LEVELS; level > 0; level--) {
        if (((size >> (level - 1)) & 1) == 0)
            continue;
        rc = fn(ctx, level - 1, start >> (level - 1), tmp.hashes[tmp.count]);
        if (rc != ERR_OK)
            goto out;
        tmp.count++;
        start += UINT64_C(1) << (level - 1);
    }
    tmp.size = size;
    *r = tmp;
out:
    return rc;
}
