/*
 * fuzz_merkle: the RFC 9162 inclusion and consistency proof verifiers, compared with the
 * reference verifiers of tests/merkleref.c on every input.
 *
 * The first byte chooses the input's form. 0 and 1: an inclusion (0) or consistency (1) proof
 * of a real tree of up to TREE_MAX counting leaves, chosen by the next bytes, is generated and
 * then corrupted by the rest of the input, read as three-byte edits (flip a bit, drop, insert or
 * replace an element, move the index or a size, swap in another node or root). 2 and 3: index,
 * sizes, leaf, roots and proof are taken from the input as raw bytes.
 *
 * Invariants: the verifier and the reference agree on every input; and when the root (or the
 * new root) given is the real root of the size given, whatever verifies is the real leaf and
 * the genuine proof (the real old root, for consistency): no false accept against a signed
 * checkpoint.
 */
#include <string.h>

#include "consentd/merkle.h"
#include "fuzzutil.h"
#include "../merkleref.h"

#define TREE_MAX    512u
#define TREE_LEVELS 10 /* levels 0..9 */

static uint8_t levels[TREE_LEVELS][TREE_MAX][HASH_BYTES];
static uint8_t roots[TREE_MAX + 1][HASH_BYTES];

static enum err
subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[static HASH_BYTES])
{
    (void)ctx;
    if (level >= TREE_LEVELS || ((index + 1) << level) > TREE_MAX)
        return ERR_NOTFOUND;
    memcpy(out, levels[level][index], HASH_BYTES);
    return ERR_OK;
}

/* build makes the counting tree (entry i is i, 8 bytes big-endian) and every prefix's root. */
static void
build(void)
{
    uint8_t entry[8], got[HASH_BYTES];
    uint64_t i, n;
    unsigned l;
    int b;

    for (i = 0; i < TREE_MAX; i++) {
        for (b = 0; b < 8; b++)
            entry[b] = (uint8_t)(i >> (56 - 8 * b));
        merkle_leaf_hash(entry, sizeof(entry), levels[0][i]);
    }
    for (l = 1; l < TREE_LEVELS; l++)
        for (i = 0; i < (TREE_MAX >> l); i++)
            merkle_node_hash(levels[l - 1][2 * i], levels[l - 1][2 * i + 1], levels[l][i]);
    for (n = 0; n <= TREE_MAX; n++) {
        ref_root(levels[0], n, roots[n]);
        if (merkle_root(subtree, NULL, n, got) != ERR_OK || memcmp(got, roots[n], HASH_BYTES) != 0)
            fz_fail("merkle_root of %llu leaves is not the reference's", (unsigned long long)n);
    }
}

/* A reader of the input. */
struct in {
    const uint8_t *p;
    size_t left;
};

static uint8_t
in_u8(struct in *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static uint64_t
in_u64(struct in *in)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = v << 8 | in_u8(in);
    return v;
}

static void
in_hash(struct in *in, uint8_t out[static HASH_BYTES])
{
    int i;

    for (i = 0; i < HASH_BYTES; i++)
        out[i] = in_u8(in);
}

/* pick returns a known hash: a node of the tree, a root, or the empty root. */
static const uint8_t *
pick(uint8_t sel, uint8_t arg)
{
    unsigned l = sel % TREE_LEVELS;

    if (sel >= 0xf0)
        return roots[(unsigned)arg * 2 % (TREE_MAX + 1)];
    return levels[l][arg % (TREE_MAX >> l)];
}

/* The case under test: both verifiers' inputs. */
struct probe {
    uint64_t a, b;                          /* index and size, or old and new size */
    uint8_t h1[HASH_BYTES], h2[HASH_BYTES]; /* leaf and root, or old and new root */
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES];
    size_t count;
};

/* edit applies one three-byte edit to p. */
static void
edit(struct probe *p, uint8_t op, uint8_t x, uint8_t y)
{
    size_t k = p->count > 0 ? x % p->count : 0;

    switch (op % 9) {
    case 0: /* flip one bit of an element */
        if (p->count > 0)
            p->proof[k][y / 8 % HASH_BYTES] ^= (uint8_t)(1u << (y % 8));
        break;
    case 1: /* drop an element */
        if (p->count > 0) {
            memmove(p->proof[k], p->proof[k + 1], (p->count - k - 1) * HASH_BYTES);
            p->count--;
        }
        break;
    case 2: /* insert a known hash */
        if (p->count < MERKLE_MAX_PROOF) {
            k = p->count > 0 ? x % (p->count + 1) : 0;
            memmove(p->proof[k + 1], p->proof[k], (p->count - k) * HASH_BYTES);
            memcpy(p->proof[k], pick(y, x), HASH_BYTES);
            p->count++;
        }
        break;
    case 3: /* replace an element by a known hash */
        if (p->count > 0)
            memcpy(p->proof[k], pick(y, x), HASH_BYTES);
        break;
    case 4: /* move the index (old size) */
        p->a += (uint64_t)(int64_t)(int8_t)x;
        break;
    case 5: /* move the size (new size) */
        p->b += (uint64_t)(int64_t)(int8_t)x;
        break;
    case 6: /* double or halve a size, or XOR it */
        if (x % 4 == 0)
            p->b *= 2;
        else if (x % 4 == 1)
            p->b /= 2;
        else if (x % 4 == 2)
            p->a ^= y;
        else
            p->b ^= y;
        break;
    case 7: /* the leaf (old root) becomes a known hash */
        memcpy(p->h1, pick(y, x), HASH_BYTES);
        break;
    default: /* the root (new root) becomes a known hash */
        memcpy(p->h2, pick(y, x), HASH_BYTES);
        break;
    }
}

static bool
genuine_root(uint64_t size, const uint8_t root[static HASH_BYTES])
{
    return size <= TREE_MAX && memcmp(root, roots[size], HASH_BYTES) == 0;
}

static void
check_inclusion(const struct probe *p)
{
    const uint8_t(*proof)[HASH_BYTES] = (const uint8_t(*)[HASH_BYTES])p->proof;
    uint8_t want[MERKLE_MAX_PROOF][HASH_BYTES];
    bool lib, ref;
    size_t n;

    lib = merkle_verify_inclusion(p->a, p->b, p->h1, proof, p->count, p->h2) == ERR_OK;
    ref = ref_verify_inclusion(p->a, p->b, p->h1, proof, p->count, p->h2);
    if (lib != ref)
        fz_fail("inclusion (%llu, %llu, %zu elements): verifier %d, reference %d",
                (unsigned long long)p->a, (unsigned long long)p->b, p->count, lib, ref);
    if (!lib || !genuine_root(p->b, p->h2))
        return;
    if (merkle_inclusion_proof(subtree, NULL, p->a, p->b, want, &n) != ERR_OK || n != p->count ||
        memcmp(want, p->proof, n * HASH_BYTES) != 0 ||
        memcmp(p->h1, levels[0][p->a], HASH_BYTES) != 0)
        fz_fail("a false inclusion of index %llu in the real tree of %llu leaves verified",
                (unsigned long long)p->a, (unsigned long long)p->b);
}

static void
check_consistency(const struct probe *p)
{
    const uint8_t(*proof)[HASH_BYTES] = (const uint8_t(*)[HASH_BYTES])p->proof;
    uint8_t want[MERKLE_MAX_PROOF][HASH_BYTES];
    bool lib, ref;
    size_t n;

    lib = merkle_verify_consistency(p->a, p->b, p->h1, p->h2, proof, p->count) == ERR_OK;
    ref = ref_verify_consistency(p->a, p->b, p->h1, p->h2, proof, p->count);
    if (lib != ref)
        fz_fail("consistency (%llu, %llu, %zu elements): verifier %d, reference %d",
                (unsigned long long)p->a, (unsigned long long)p->b, p->count, lib, ref);
    if (!lib || !genuine_root(p->b, p->h2))
        return;
    if (!genuine_root(p->a, p->h1) ||
        merkle_consistency_proof(subtree, NULL, p->a, p->b, want, &n) != ERR_OK || n != p->count ||
        memcmp(want, p->proof, n * HASH_BYTES) != 0)
        fz_fail("a false consistency of %llu with the real tree of %llu leaves verified",
                (unsigned long long)p->a, (unsigned long long)p->b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool built;
    struct in in = {data, size};
    struct probe p;
    uint8_t mode, op, x, y;
    size_t i;

    fz_init();
    if (!built) {
        build();
        built = true;
    }
    memset(&p, 0, sizeof(p));
    mode = in_u8(&in) % 4;
    if (mode >= 2) {
        p.a = in_u64(&in);
        p.b = in_u64(&in);
        in_hash(&in, p.h1);
        in_hash(&in, p.h2);
        p.count = in_u8(&in) % (MERKLE_MAX_PROOF + 1);
        for (i = 0; i < p.count; i++)
            in_hash(&in, p.proof[i]);
    } else {
        p.b = 1 + (((uint64_t)in_u8(&in) << 8 | in_u8(&in)) % TREE_MAX);
        p.a = ((uint64_t)in_u8(&in) << 8 | in_u8(&in)) % p.b + (mode == 1);
        if (mode == 0) {
            memcpy(p.h1, levels[0][p.a], HASH_BYTES);
            memcpy(p.h2, roots[p.b], HASH_BYTES);
            if (merkle_inclusion_proof(subtree, NULL, p.a, p.b, p.proof, &p.count) != ERR_OK)
                fz_fail("merkle_inclusion_proof failed");
        } else {
            memcpy(p.h1, roots[p.a], HASH_BYTES);
            memcpy(p.h2, roots[p.b], HASH_BYTES);
            if (merkle_consistency_proof(subtree, NULL, p.a, p.b, p.proof, &p.count) != ERR_OK)
                fz_fail("merkle_consistency_proof failed");
        }
        while (in.left >= 3) {
            op = in_u8(&in);
            x = in_u8(&in);
            y = in_u8(&in);
            edit(&p, op, x, y);
        }
    }
    if (mode % 2 == 0)
        check_inclusion(&p);
    else
        check_consistency(&p);
    return 0;
}
