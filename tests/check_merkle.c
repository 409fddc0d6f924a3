/*
 * check_merkle: RFC 9162 trees against the reference 8-leaf tree, the transparency-dev test
 * vectors, and a straightforward recursive implementation of the RFC's definitions.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>
#include <cJSON.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/merkle.h"
#include "merkleref.h"
#include "suites.h"
#include "testutil.h"

#define MAX_LEAVES  1024u
#define TREE_LEVELS 11 /* levels 0..10: subtrees of up to MAX_LEAVES leaves */

/*
 * A tree in memory: every perfect subtree hash, level by level, and a size limit so a callback
 * read beyond the tree being proved fails the test.
 */
struct tree {
    uint64_t n;
    uint64_t limit;
    unsigned calls;
    uint8_t levels[TREE_LEVELS][MAX_LEAVES][HASH_BYTES];
};

static struct tree tree;

/* The leaves of the reference tree (vectors/README.md). */
static const char *const ref_leaves[8] = {"",
                                          "00",
                                          "10",
                                          "2021",
                                          "3031",
                                          "40414243",
                                          "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f"};

/* Roots of the reference tree's prefixes of 1 to 8 leaves (RFC 6962 test data). */
static const char *const ref_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

static size_t
unhex(const char *s, uint8_t *out)
{
    size_t i, n = strlen(s) / 2;
    unsigned v;

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* tree_build fills tree with n leaf hashes and every perfect subtree above them. */
static void
tree_build(uint8_t leaves[][HASH_BYTES], uint64_t n)
{
    uint64_t i;
    unsigned l;

    ck_assert_uint_le(n, MAX_LEAVES);
    memset(&tree, 0, sizeof(tree));
    tree.n = n;
    tree.limit = n;
    memcpy(tree.levels[0], leaves, n * HASH_BYTES);
    for (l = 1; l < TREE_LEVELS; l++)
        for (i = 0; i < (n >> l); i++)
            merkle_node_hash(tree.levels[l - 1][2 * i], tree.levels[l - 1][2 * i + 1],
                             tree.levels[l][i]);
}

/* tree_build_counting builds a tree of n leaves whose entry i is its 8-byte big-endian index. */
static void
tree_build_counting(uint64_t n)
{
    static uint8_t leaves[MAX_LEAVES][HASH_BYTES];
    uint8_t entry[8];
    uint64_t i;
    int b;

    for (i = 0; i < n; i++) {
        for (b = 0; b < 8; b++)
            entry[b] = (uint8_t)(i >> (56 - 8 * b));
        merkle_leaf_hash(entry, sizeof(entry), leaves[i]);
    }
    tree_build(leaves, n);
}

static enum err
subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[static HASH_BYTES])
{
    struct tree *t = ctx;

    t->calls++;
    if (level >= TREE_LEVELS || ((index + 1) << level) > t->limit)
        return ERR_NOTFOUND;
    memcpy(out, t->levels[level][index], HASH_BYTES);
    return ERR_OK;
}

START_TEST(test_reference_tree_roots)
{
    uint8_t leaves[8][HASH_BYTES], entry[16], want[HASH_BYTES], got[HASH_BYTES];
    size_t i, len;

    for (i = 0; i < 8; i++) {
        len = unhex(ref_leaves[i], entry);
        merkle_leaf_hash(entry, len, leaves[i]);
    }
    tree_build(leaves, 8);
    for (i = 1; i <= 8; i++) {
        tree.limit = i;
        unhex(ref_roots[i - 1], want);
        ck_assert_int_eq(merkle_root(subtree, &tree, i, got), ERR_OK);
        ck_assert_mem_eq(got, want, HASH_BYTES);
        ref_mth(leaves, i, got);
        ck_assert_mem_eq(got, want, HASH_BYTES);
    }
}
END_TEST

START_TEST(test_empty_root)
{
    static const uint8_t want[HASH_BYTES] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                             0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                             0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                             0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    uint8_t got[HASH_BYTES];

    merkle_empty_root(got);
    ck_assert_mem_eq(got, want, HASH_BYTES);
    tree_build_counting(0);
    ck_assert_int_eq(merkle_root(subtree, &tree, 0, got), ERR_OK);
    ck_assert_mem_eq(got, want, HASH_BYTES);
    ck_assert_uint_eq(tree.calls, 0);
}
END_TEST

/*
 * raw_u64 reads the unsigned integer member key from the raw JSON text: cJSON keeps numbers as
 * doubles, which cannot hold 2^64 - 1 (a vector's "leafIdx").
 */
static uint64_t
raw_u64(const char *text, const char *key, const char *path)
{
    char pat[32];
    const char *p;
    char *end;
    uint64_t v;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(text, pat);
    ck_assert_msg(p != NULL, "%s: no %s", path, key);
    p += strlen(pat);
    while (*p == ' ')
        p++;
    ck_assert_msg(*p >= '0' && *p <= '9', "%s: %s is not a number", path, key);
    v = strtoull(p, &end, 10);
    ck_assert_msg(end != p, "%s: bad %s", path, key);
    return v;
}

/*
 * vec_hash decodes the base64 member key into out and returns whether it is HASH_BYTES long.
 * Some vectors hold a root of the wrong length (empty, or a "don't care" value), which
 * the API cannot take; the verifier only compares roots for equality, so such a root becomes
 * SHA-256("not a hash" ‖ bytes), a stand-in that keeps equal values equal and distinct ones
 * distinct but matches no real root. (A leaf hash of the wrong length is instead rejected by
 * the caller, as the reference implementation does.)
 */
static bool
vec_hash(const cJSON *obj, const char *key, const char *path, uint8_t out[static HASH_BYTES])
{
    static const char tag[] = "not a hash";
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    uint8_t buf[64];
    size_t n;

    ck_assert_msg(cJSON_IsString(item), "%s: no %s", path, key);
    ck_assert_msg(b64_decode(item->valuestring, strlen(item->valuestring), B64_STD, buf,
                             sizeof(buf), &n) == ERR_OK,
                  "%s: %s is not base64", path, key);
    if (n == HASH_BYTES) {
        memcpy(out, buf, HASH_BYTES);
        return true;
    }
    hash_sha256_2((const uint8_t *)tag, sizeof(tag) - 1, buf, n, out);
    return false;
}

/*
 * vec_proof decodes the proof array (or null) into proof and returns false if an element is
 * not 32 bytes: such a proof cannot even be handed to the verifier, so it is rejected.
 */
static bool
vec_proof(const cJSON *obj, const char *path, uint8_t proof[][HASH_BYTES], size_t *count)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "proof"), *e;
    uint8_t buf[64];
    size_t n;
    bool ok = true;

    *count = 0;
    if (cJSON_IsNull(arr))
        return true;
    ck_assert_msg(cJSON_IsArray(arr), "%s: proof is not an array", path);
    cJSON_ArrayForEach(e, arr)
    {
        ck_assert_msg(cJSON_IsString(e), "%s: proof element is not a string", path);
        ck_assert_uint_lt(*count, MERKLE_MAX_PROOF);
        ck_assert_msg(b64_decode(e->valuestring, strlen(e->valuestring), B64_STD, buf, sizeof(buf),
                                 &n) == ERR_OK,
                      "%s: proof element is not base64", path);
        if (n != HASH_BYTES)
            ok = false;
        else
            memcpy(proof[*count], buf, HASH_BYTES);
        (*count)++;
    }
    return ok;
}

/* run_vector runs one vector file and checks the verdict against wantErr. */
static void
run_vector(const char *path, bool inclusion)
{
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], a[HASH_BYTES], b[HASH_BYTES];
    char *text = tu_read_file(path);
    cJSON *obj = cJSON_Parse(text), *want;
    size_t count;
    bool ok;

    ck_assert_msg(obj != NULL, "%s: not JSON", path);
    want = cJSON_GetObjectItemCaseSensitive(obj, "wantErr");
    ck_assert_msg(cJSON_IsBool(want), "%s: no wantErr", path);
    ok = vec_proof(obj, path, proof, &count);
    if (inclusion) {
        ok = vec_hash(obj, "leafHash", path, a) && ok;
        (void)vec_hash(obj, "root", path, b);
        ok = ok && merkle_verify_inclusion(raw_u64(text, "leafIdx", path),
                                           raw_u64(text, "treeSize", path), a,
                                           (const uint8_t(*)[HASH_BYTES])proof, count, b) == ERR_OK;
    } else {
        (void)vec_hash(obj, "root1", path, a);
        (void)vec_hash(obj, "root2", path, b);
        ok = ok &&
             merkle_verify_consistency(raw_u64(text, "size1", path), raw_u64(text, "size2", path),
                                       a, b, (const uint8_t(*)[HASH_BYTES])proof, count) == ERR_OK;
    }
    ck_assert_msg(ok == !cJSON_IsTrue(want), "%s: verifier says %s, wantErr is %s", path,
                  ok ? "ok" : "error", cJSON_IsTrue(want) ? "true" : "false");
    cJSON_Delete(obj);
    free(text);
}

/* walk runs every .json file under dir, recursively, and returns how many ran. */
static unsigned
walk(const char *dir, bool inclusion)
{
    char path[1024];
    struct dirent *de;
    struct stat st;
    unsigned ran = 0;
    size_t len;
    DIR *d;

    d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        ck_assert_int_eq(stat(path, &st), 0);
        len = strlen(de->d_name);
        if (S_ISDIR(st.st_mode)) {
            ran += walk(path, inclusion);
        } else if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
            run_vector(path, inclusion);
            ran++;
        }
    }
    closedir(d);
    return ran;
}

START_TEST(test_inclusion_vectors)
{
    unsigned ran = walk(VECTORS_DIR "/merkle/inclusion", true);

    printf("merkle: %u inclusion vector files\n", ran);
    ck_assert_uint_gt(ran, 0);
}
END_TEST

START_TEST(test_consistency_vectors)
{
    unsigned ran = walk(VECTORS_DIR "/merkle/consistency", false);

    printf("merkle: %u consistency vector files\n", ran);
    ck_assert_uint_gt(ran, 0);
}
END_TEST

START_TEST(test_roots_match_reference)
{
    uint8_t want[HASH_BYTES], got[HASH_BYTES];
    uint64_t n;

    tree_build_counting(MAX_LEAVES);
    for (n = 0; n <= MAX_LEAVES; n++) {
        tree.limit = n;
        ref_root(tree.levels[0], n, want);
        ck_assert_int_eq(merkle_root(subtree, &tree, n, got), ERR_OK);
        ck_assert_mem_eq(got, want, HASH_BYTES);
    }
    printf("merkle: C4 roots: every tree size 0..%u matches the reference\n", MAX_LEAVES);
}
END_TEST

START_TEST(test_inclusion_proofs_match_reference)
{
    uint8_t want[MERKLE_MAX_PROOF][HASH_BYTES], got[MERKLE_MAX_PROOF][HASH_BYTES];
    uint8_t root[HASH_BYTES];
    size_t wn, gn;
    uint64_t n, i;

    tree_build_counting(64);
    for (n = 1; n <= 64; n++) {
        tree.limit = n;
        ref_root(tree.levels[0], n, root);
        for (i = 0; i < n; i++) {
            wn = 0;
            ref_path(i, tree.levels[0], n, want, &wn);
            ck_assert_int_eq(merkle_inclusion_proof(subtree, &tree, i, n, got, &gn), ERR_OK);
            ck_assert_uint_eq(gn, wn);
            ck_assert_mem_eq(got, want, gn * HASH_BYTES);
            ck_assert_int_eq(merkle_verify_inclusion(i, n, tree.levels[0][i],
                                                     (const uint8_t(*)[HASH_BYTES])got, gn, root),
                             ERR_OK);
        }
    }
}
END_TEST

START_TEST(test_consistency_proofs_match_reference)
{
    uint8_t want[MERKLE_MAX_PROOF][HASH_BYTES], got[MERKLE_MAX_PROOF][HASH_BYTES];
    uint8_t r1[HASH_BYTES], r2[HASH_BYTES];
    size_t wn, gn;
    uint64_t m, n;

    tree_build_counting(64);
    for (n = 1; n <= 64; n++) {
        tree.limit = n;
        ref_root(tree.levels[0], n, r2);
        for (m = 1; m <= n; m++) {
            ref_root(tree.levels[0], m, r1);
            wn = 0;
            ref_subproof(m, tree.levels[0], n, true, want, &wn);
            ck_assert_int_eq(merkle_consistency_proof(subtree, &tree, m, n, got, &gn), ERR_OK);
            ck_assert_uint_eq(gn, wn);
            ck_assert_mem_eq(got, want, gn * HASH_BYTES);
            ck_assert_int_eq(
                merkle_verify_consistency(m, n, r1, r2, (const uint8_t(*)[HASH_BYTES])got, gn),
                ERR_OK);
        }
    }
}
END_TEST

/*
 * Every bit of every hash is flipped in trees of up to 16 leaves; above that, one bit per byte,
 * a different one for each proof element, up to 32 leaves. The proofgen probes below flip one
 * bit of every element of every proof up to 256 leaves; together they keep the run to seconds.
 */
#define MUTATE_MAX      32
#define BIT_STEP(n)     ((n) <= 16 ? 1 : 8)
#define FIRST_BIT(n, k) ((n) <= 16 ? 0 : (k) % 8)

/*
 * inclusion_ok is true if the proof verifies; the mutation test below checks that every
 * single-bit flip, every truncation and an extra element on either end makes it false.
 */
static bool
inclusion_ok(uint64_t i, uint64_t n, const uint8_t leaf[static HASH_BYTES],
             uint8_t proof[][HASH_BYTES], size_t count, const uint8_t root[static HASH_BYTES])
{
    return merkle_verify_inclusion(i, n, leaf, (const uint8_t(*)[HASH_BYTES])proof, count, root) ==
           ERR_OK;
}

START_TEST(test_inclusion_proof_mutations_fail)
{
    uint8_t proof[MERKLE_MAX_PROOF + 1][HASH_BYTES], root[HASH_BYTES], leaf[HASH_BYTES];
    size_t count, k, bit;
    unsigned accepted = 0;
    uint64_t n, i;

    tree_build_counting(MUTATE_MAX);
    for (n = 1; n <= MUTATE_MAX; n++) {
        tree.limit = n;
        ref_root(tree.levels[0], n, root);
        for (i = 0; i < n; i++) {
            memcpy(leaf, tree.levels[0][i], HASH_BYTES);
            ck_assert_int_eq(merkle_inclusion_proof(subtree, &tree, i, n, proof, &count), ERR_OK);
            ck_assert(inclusion_ok(i, n, leaf, proof, count, root));
            for (k = 0; k < count; k++) {
                for (bit = FIRST_BIT(n, k); bit < HASH_BYTES * 8; bit += BIT_STEP(n)) {
                    proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    accepted += inclusion_ok(i, n, leaf, proof, count, root);
                    proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
            }
            for (bit = FIRST_BIT(n, i); bit < HASH_BYTES * 8; bit += BIT_STEP(n)) {
                leaf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                accepted += inclusion_ok(i, n, leaf, proof, count, root);
                leaf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                root[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                accepted += inclusion_ok(i, n, leaf, proof, count, root);
                root[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            for (k = 0; k < count; k++)
                accepted += inclusion_ok(i, n, leaf, proof, k, root);
            memcpy(proof[count], root, HASH_BYTES);
            accepted += inclusion_ok(i, n, leaf, proof, count + 1, root);
            memmove(proof[1], proof[0], count * HASH_BYTES);
            memcpy(proof[0], leaf, HASH_BYTES);
            accepted += inclusion_ok(i, n, leaf, proof, count + 1, root);
            accepted += inclusion_ok(n, n, leaf, proof + 1, count, root);
        }
    }
    ck_assert_uint_eq(accepted, 0);
}
END_TEST

static bool
consistency_ok(uint64_t m, uint64_t n, const uint8_t r1[static HASH_BYTES],
               const uint8_t r2[static HASH_BYTES], uint8_t proof[][HASH_BYTES], size_t count)
{
    return merkle_verify_consistency(m, n, r1, r2, (const uint8_t(*)[HASH_BYTES])proof, count) ==
           ERR_OK;
}

START_TEST(test_consistency_proof_mutations_fail)
{
    uint8_t proof[MERKLE_MAX_PROOF + 1][HASH_BYTES], r1[HASH_BYTES], r2[HASH_BYTES];
    size_t count, k, bit;
    unsigned accepted = 0;
    uint64_t m, n;

    tree_build_counting(MUTATE_MAX);
    for (n = 1; n <= MUTATE_MAX; n++) {
        tree.limit = n;
        ref_root(tree.levels[0], n, r2);
        for (m = 1; m <= n; m++) {
            ref_root(tree.levels[0], m, r1);
            ck_assert_int_eq(merkle_consistency_proof(subtree, &tree, m, n, proof, &count), ERR_OK);
            ck_assert(consistency_ok(m, n, r1, r2, proof, count));
            for (k = 0; k < count; k++) {
                for (bit = FIRST_BIT(n, k); bit < HASH_BYTES * 8; bit += BIT_STEP(n)) {
                    proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    accepted += consistency_ok(m, n, r1, r2, proof, count);
                    proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
            }
            for (bit = FIRST_BIT(n, m); bit < HASH_BYTES * 8; bit += BIT_STEP(n)) {
                r1[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                accepted += consistency_ok(m, n, r1, r2, proof, count);
                r1[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                r2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                accepted += consistency_ok(m, n, r1, r2, proof, count);
                r2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            for (k = 0; k < count; k++)
                accepted += consistency_ok(m, n, r1, r2, proof, k);
            memcpy(proof[count], r2, HASH_BYTES);
            accepted += consistency_ok(m, n, r1, r2, proof, count + 1);
            memmove(proof[1], proof[0], count * HASH_BYTES);
            memcpy(proof[0], r1, HASH_BYTES);
            accepted += consistency_ok(m, n, r1, r2, proof, count + 1);
        }
    }
    ck_assert_uint_eq(accepted, 0);
}
END_TEST

/*
 * The probes of transparency-dev/merkle's proof tests (corruptInclusionProof and
 * corruptConsistencyProof), run on every proof of every tree of up to PROBE_MAX leaves, with
 * the second-preimage probe added: an interior node's children presented as a leaf's entry.
 * Each genuine proof must verify with the verifier and with the reference (merkleref.c); the
 * two are compared on arbitrary corruptions by tests/fuzz/fuzz_merkle.c. RELIABILITY.md C4
 * reports the tallies printed here.
 */
#define PROBE_MAX 256u

struct probes {
    unsigned long valid;    /* genuine proofs: each must verify */
    unsigned long probes;   /* mutated proofs tried */
    unsigned long accepted; /* mutated proofs the verifier accepted: must stay 0 */
};

/* roots[n] is the reference root of the first n counting leaves, up to 2 * PROBE_MAX. */
static uint8_t roots[2 * PROBE_MAX + 1][HASH_BYTES];

static void
roots_build(void)
{
    uint64_t n;

    tree_build_counting(2 * PROBE_MAX);
    for (n = 0; n <= 2 * PROBE_MAX; n++)
        ref_root(tree.levels[0], n, roots[n]);
}

static void
probe_inclusion(struct probes *t, uint64_t i, uint64_t n, const uint8_t leaf[static HASH_BYTES],
                uint8_t proof[][HASH_BYTES], size_t count, const uint8_t root[static HASH_BYTES])
{
    t->probes++;
    t->accepted += merkle_verify_inclusion(i, n, leaf, (const uint8_t(*)[HASH_BYTES])proof, count,
                                           root) == ERR_OK;
}

static void
probe_consistency(struct probes *t, uint64_t m, uint64_t n, const uint8_t r1[static HASH_BYTES],
                  const uint8_t r2[static HASH_BYTES], uint8_t proof[][HASH_BYTES], size_t count)
{
    t->probes++;
    t->accepted += merkle_verify_consistency(m, n, r1, r2, (const uint8_t(*)[HASH_BYTES])proof,
                                             count) == ERR_OK;
}

/*
 * PROBE_FLIPS tries proof[0..count) with each element in turn flipped in one bit (a different
 * bit for each element and proof), then without its last element, through call(proof, count).
 */
#define PROBE_FLIPS(call, salt)                                                                    \
    do {                                                                                           \
        uint8_t f_[MERKLE_MAX_PROOF][HASH_BYTES];                                                  \
        size_t k_, bit_;                                                                           \
        for (k_ = 0; k_ < count; k_++) {                                                           \
            bit_ = (k_ * 67 + count * 13 + (salt)) % (HASH_BYTES * 8);                             \
            memcpy(f_, proof, count *HASH_BYTES);                                                  \
            f_[k_][bit_ / 8] ^= (uint8_t)(1u << (bit_ % 8));                                       \
            call(f_, count);                                                                       \
        }                                                                                          \
        if (count > 0)                                                                             \
            call(proof, count - 1);                                                                \
    } while (0)

/* with prepends x to proof into e, or appends it; the other elements unchanged. */
static void
with(uint8_t e[][HASH_BYTES], uint8_t proof[][HASH_BYTES], size_t count,
     const uint8_t x[static HASH_BYTES], bool front)
{
    memcpy(front ? e[1] : e[0], proof, count * HASH_BYTES);
    memcpy(front ? e[0] : e[count], x, HASH_BYTES);
}

START_TEST(test_inclusion_proofgen_probes_fail)
{
    static const char wrong[] = "WrongLeaf", random[] = "random root";
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], e[MERKLE_MAX_PROOF + 1][HASH_BYTES];
    uint8_t wrong_leaf[HASH_BYTES], random_root[HASH_BYTES], empty[HASH_BYTES] = {0};
    uint8_t zero[HASH_BYTES] = {0}, entry[2 * HASH_BYTES], forged[HASH_BYTES];
    struct probes t = {0};
    const uint8_t *leaf, *root;
    uint64_t a, b, i, n;
    size_t count;
    unsigned l;

    hash_sha256((const uint8_t *)wrong, sizeof(wrong) - 1, wrong_leaf);
    hash_sha256((const uint8_t *)random, sizeof(random) - 1, random_root);
    merkle_empty_root(empty);
    roots_build();
    for (n = 1; n <= PROBE_MAX; n++) {
        tree.limit = n;
        root = roots[n];
        for (i = 0; i < n; i++) {
            leaf = tree.levels[0][i];
            ck_assert_int_eq(merkle_inclusion_proof(subtree, &tree, i, n, proof, &count), ERR_OK);
            ck_assert(merkle_verify_inclusion(i, n, leaf, (const uint8_t(*)[HASH_BYTES])proof,
                                              count, root) == ERR_OK);
            ck_assert(
                ref_verify_inclusion(i, n, leaf, (const uint8_t(*)[HASH_BYTES])proof, count, root));
            t.valid++;
            probe_inclusion(&t, i - 1, n, leaf, proof, count, root);
            probe_inclusion(&t, i + 1, n, leaf, proof, count, root);
            probe_inclusion(&t, i ^ 2, n, leaf, proof, count, root);
            probe_inclusion(&t, i, n * 2, leaf, proof, count, root);
            probe_inclusion(&t, i, n / 2, leaf, proof, count, root);
            probe_inclusion(&t, i, n, wrong_leaf, proof, count, root);
            probe_inclusion(&t, i, n, leaf, proof, count, empty);
            probe_inclusion(&t, i, n, leaf, proof, count, random_root);
            with(e, proof, count, zero, false);
            probe_inclusion(&t, i, n, leaf, e, count + 1, root);
            with(e, proof, count, root, false);
            probe_inclusion(&t, i, n, leaf, e, count + 1, root);
            with(e, proof, count, zero, true);
            probe_inclusion(&t, i, n, leaf, e, count + 1, root);
            with(e, proof, count, root, true);
            probe_inclusion(&t, i, n, leaf, e, count + 1, root);
#define CALL_INCLUSION(pp, cc) probe_inclusion(&t, i, n, leaf, pp, cc, root)
            PROBE_FLIPS(CALL_INCLUSION, i + n);
#undef CALL_INCLUSION
            /*
             * Second preimage: the children of each complete subtree above the leaf, given as
             * an entry and claimed at the subtree's place in the tree of subtrees, with the rest
             * of the path. The subtree's own hash would verify there (checked: the probe has
             * the attack's shape); the entry's leaf hash, with its 0x00 prefix, must not.
             */
            for (l = 1; l < TREE_LEVELS && (((i >> l) + 1) << l) <= n; l++) {
                a = i >> l;
                b = (n + (UINT64_C(1) << l) - 1) >> l;
                ck_assert(merkle_verify_inclusion(a, b, tree.levels[l][a],
                                                  (const uint8_t(*)[HASH_BYTES])(proof + l),
                                                  count - l, root) == ERR_OK);
                memcpy(entry, tree.levels[l - 1][2 * a], HASH_BYTES);
                memcpy(entry + HASH_BYTES, tree.levels[l - 1][2 * a + 1], HASH_BYTES);
                merkle_leaf_hash(entry, sizeof(entry), forged);
                probe_inclusion(&t, a, b, forged, proof + l, count - l, root);
            }
        }
    }
    printf("merkle: C4 inclusion: %lu proofs (every (i, n), n <= %u) verified; %lu probes, "
           "%lu accepted\n",
           t.valid, PROBE_MAX, t.probes, t.accepted);
    ck_assert_uint_eq(t.valid, PROBE_MAX * (PROBE_MAX + 1) / 2);
    ck_assert_uint_eq(t.accepted, 0);
}
END_TEST

START_TEST(test_consistency_proofgen_probes_fail)
{
    static const char wrong[] = "WrongRoot";
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], e[MERKLE_MAX_PROOF + 1][HASH_BYTES];
    uint8_t wrong_root[HASH_BYTES], zero[HASH_BYTES] = {0};
    struct probes t = {0};
    const uint8_t *r1, *r2;
    uint64_t m, n;
    size_t count;

    hash_sha256((const uint8_t *)wrong, sizeof(wrong) - 1, wrong_root);
    roots_build();
    for (n = 1; n <= PROBE_MAX; n++) {
        tree.limit = n;
        r2 = roots[n];
        for (m = 1; m <= n; m++) {
            r1 = roots[m];
            ck_assert_int_eq(merkle_consistency_proof(subtree, &tree, m, n, proof, &count), ERR_OK);
            ck_assert(merkle_verify_consistency(m, n, r1, r2, (const uint8_t(*)[HASH_BYTES])proof,
                                                count) == ERR_OK);
            ck_assert(
                ref_verify_consistency(m, n, r1, r2, (const uint8_t(*)[HASH_BYTES])proof, count));
            t.valid++;
            /* As in transparency-dev: the probes need a proof to corrupt (m < n). */
            if (count == 0)
                continue;
            probe_consistency(&t, m - 1, n, r1, r2, proof, count);
            probe_consistency(&t, m + 1, n, r1, r2, proof, count);
            probe_consistency(&t, m ^ 2, n, r1, r2, proof, count);
            probe_consistency(&t, m, n * 2, r1, r2, proof, count);
            probe_consistency(&t, m, n / 2, r1, r2, proof, count);
            probe_consistency(&t, m, n, wrong_root, r2, proof, count);
            probe_consistency(&t, m, n, r1, wrong_root, proof, count);
            probe_consistency(&t, m, n, r2, r1, proof, count);
            probe_consistency(&t, m, n, r1, r2, proof, 0);
            with(e, proof, count, zero, false);
            probe_consistency(&t, m, n, r1, r2, e, count + 1);
            with(e, proof, count, r1, false);
            probe_consistency(&t, m, n, r1, r2, e, count + 1);
            with(e, proof, count, r2, false);
            probe_consistency(&t, m, n, r1, r2, e, count + 1);
            with(e, proof, count, zero, true);
            probe_consistency(&t, m, n, r1, r2, e, count + 1);
            with(e, proof, count, r1, true);
            probe_consistency(&t, m, n, r1, r2, e, count + 1);
            with(e, proof, count, r2, true);
            probe_consistency(&t, m, n, r1, r2, e, count + 1);
            with(e, proof, count, proof[0], true);
            probe_consistency(&t, m, n, r1, r2, e, count + 1);
#define CALL_CONSISTENCY(pp, cc) probe_consistency(&t, m, n, r1, r2, pp, cc)
            PROBE_FLIPS(CALL_CONSISTENCY, m + n);
#undef CALL_CONSISTENCY
        }
    }
    printf("merkle: C4 consistency: %lu proofs (every (m, n), 1 <= m <= n <= %u) verified; "
           "%lu probes, %lu accepted\n",
           t.valid, PROBE_MAX, t.probes, t.accepted);
    ck_assert_uint_eq(t.valid, PROBE_MAX * (PROBE_MAX + 1) / 2);
    ck_assert_uint_eq(t.accepted, 0);
}
END_TEST

START_TEST(test_proof_arguments_refused)
{
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES];
    size_t count = 99;

    tree_build_counting(8);
    ck_assert_int_eq(merkle_inclusion_proof(subtree, &tree, 8, 8, proof, &count), ERR_INVAL);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(merkle_inclusion_proof(subtree, &tree, 0, 0, proof, &count), ERR_INVAL);
    count = 99;
    ck_assert_int_eq(merkle_consistency_proof(subtree, &tree, 0, 8, proof, &count), ERR_INVAL);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(merkle_consistency_proof(subtree, &tree, 5, 4, proof, &count), ERR_INVAL);
    ck_assert_int_eq(merkle_consistency_proof(subtree, &tree, 8, 8, proof, &count), ERR_OK);
    ck_assert_uint_eq(count, 0);
}
END_TEST

START_TEST(test_verify_edge_cases)
{
    uint8_t proof[1][HASH_BYTES] = {{0}};
    uint8_t r1[HASH_BYTES], r2[HASH_BYTES];

    tree_build_counting(8);
    ref_root(tree.levels[0], 8, r2);
    ref_root(tree.levels[0], 4, r1);
    ck_assert_int_eq(merkle_verify_consistency(8, 8, r2, r2, NULL, 0), ERR_OK);
    ck_assert_int_eq(merkle_verify_consistency(8, 8, r1, r2, NULL, 0), ERR_BADSIG);
    ck_assert_int_eq(
        merkle_verify_consistency(8, 8, r2, r2, (const uint8_t(*)[HASH_BYTES])proof, 1),
        ERR_BADSIG);
    ck_assert_int_eq(merkle_verify_consistency(0, 0, r2, r2, NULL, 0), ERR_BADSIG);
    ck_assert_int_eq(merkle_verify_consistency(0, 8, r1, r2, NULL, 0), ERR_BADSIG);
    ck_assert_int_eq(merkle_verify_consistency(4, 8, r1, r2, NULL, 0), ERR_BADSIG);
    ck_assert_int_eq(merkle_verify_consistency(8, 4, r2, r1, NULL, 0), ERR_BADSIG);
    ck_assert_int_eq(merkle_verify_inclusion(0, 0, r1, NULL, 0, r1), ERR_BADSIG);
    ck_assert_int_eq(merkle_verify_inclusion(1, 1, r1, NULL, 0, r1), ERR_BADSIG);
    ck_assert_int_eq(merkle_verify_inclusion(0, 1, r1, NULL, 0, r1), ERR_OK);
    ck_assert_int_eq(merkle_verify_inclusion(UINT64_MAX, 1, r1, NULL, 0, r1), ERR_BADSIG);
}
END_TEST

/* A callback for huge trees: a made-up hash per (level, index), counting the calls. */
static enum err
fake_subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[static HASH_BYTES])
{
    unsigned *calls = ctx;

    (*calls)++;
    memset(out, 0, HASH_BYTES);
    memcpy(out, &level, sizeof(level));
    memcpy(out + 8, &index, sizeof(index));
    return ERR_OK;
}

START_TEST(test_generation_is_logarithmic)
{
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], root[HASH_BYTES];
    const uint64_t n = (UINT64_C(1) << 40) + 12345;
    unsigned calls;
    size_t count;

    calls = 0;
    ck_assert_int_eq(merkle_root(fake_subtree, &calls, n, root), ERR_OK);
    ck_assert_uint_le(calls, 41);
    calls = 0;
    ck_assert_int_eq(merkle_inclusion_proof(fake_subtree, &calls, n - 3, n, proof, &count), ERR_OK);
    ck_assert_uint_le(count, 41);
    ck_assert_uint_le(calls, 2 * 41 + 1);
    calls = 0;
    ck_assert_int_eq(merkle_consistency_proof(fake_subtree, &calls, n - 12346, n, proof, &count),
                     ERR_OK);
    ck_assert_uint_le(count, 42);
    ck_assert_uint_le(calls, 2 * 42 + 1);
}
END_TEST

static enum err
failing_subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[static HASH_BYTES])
{
    (void)ctx;
    (void)level;
    (void)index;
    memset(out, 0, HASH_BYTES);
    return ERR_STORAGE;
}

START_TEST(test_callback_errors_propagate)
{
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], root[HASH_BYTES];
    struct merkle_range r;
    size_t count = 99;

    ck_assert_int_eq(merkle_root(failing_subtree, NULL, 5, root), ERR_STORAGE);
    ck_assert_int_eq(merkle_inclusion_proof(failing_subtree, NULL, 1, 5, proof, &count),
                     ERR_STORAGE);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(merkle_consistency_proof(failing_subtree, NULL, 3, 5, proof, &count),
                     ERR_STORAGE);
    ck_assert_uint_eq(count, 0);
    merkle_range_init(&r);
    ck_assert_int_eq(merkle_range_load(&r, 5, failing_subtree, NULL), ERR_STORAGE);
    ck_assert_uint_eq(r.size, 0);
}
END_TEST

/* Completions recorded by the append callback, checked against the tree. */
struct completions {
    unsigned seen[TREE_LEVELS][MAX_LEAVES];
    unsigned fail_level;
    uint64_t fail_index;
};

static enum err
complete(void *ctx, unsigned level, uint64_t index, const uint8_t hash[static HASH_BYTES])
{
    struct completions *c = ctx;

    if (level == c->fail_level && index == c->fail_index)
        return ERR_STORAGE;
    ck_assert_uint_lt(level, TREE_LEVELS);
    ck_assert_uint_lt(index, MAX_LEAVES >> level);
    ck_assert_mem_eq(hash, tree.levels[level][index], HASH_BYTES);
    c->seen[level][index]++;
    return ERR_OK;
}

START_TEST(test_range_roots_match_reference)
{
    static struct completions c;
    struct merkle_range r;
    uint8_t want[HASH_BYTES], got[HASH_BYTES];
    uint64_t n, i;
    unsigned l;

    tree_build_counting(200);
    memset(&c, 0, sizeof(c));
    c.fail_level = 99;
    merkle_range_init(&r);
    merkle_range_root(&r, got);
    ref_root(tree.levels[0], 0, want);
    ck_assert_mem_eq(got, want, HASH_BYTES);
    for (n = 1; n <= 200; n++) {
        ck_assert_int_eq(merkle_range_append(&r, tree.levels[0][n - 1], complete, &c), ERR_OK);
        ck_assert_uint_eq(r.size, n);
        ck_assert_uint_eq(r.count, (unsigned)__builtin_popcountll(n));
        merkle_range_root(&r, got);
        ref_root(tree.levels[0], n, want);
        ck_assert_mem_eq(got, want, HASH_BYTES);
        /* Every perfect subtree of the first n leaves was reported exactly once. */
        for (l = 0; l < TREE_LEVELS; l++)
            for (i = 0; i < (MAX_LEAVES >> l); i++)
                ck_assert_uint_eq(c.seen[l][i], i < (n >> l) ? 1 : 0);
    }
}
END_TEST

START_TEST(test_range_append_without_callback)
{
    struct merkle_range r;
    uint8_t want[HASH_BYTES], got[HASH_BYTES];
    uint64_t n;

    tree_build_counting(100);
    merkle_range_init(&r);
    for (n = 1; n <= 100; n++)
        ck_assert_int_eq(merkle_range_append(&r, tree.levels[0][n - 1], NULL, NULL), ERR_OK);
    merkle_range_root(&r, got);
    ref_root(tree.levels[0], 100, want);
    ck_assert_mem_eq(got, want, HASH_BYTES);
}
END_TEST

START_TEST(test_range_load_reproduces_range)
{
    struct merkle_range r, loaded;
    uint8_t want[HASH_BYTES], got[HASH_BYTES];
    uint64_t n;

    tree_build_counting(200);
    merkle_range_init(&r);
    for (n = 0; n <= 200; n++) {
        if (n > 0)
            ck_assert_int_eq(merkle_range_append(&r, tree.levels[0][n - 1], NULL, NULL), ERR_OK);
        tree.limit = n;
        tree.calls = 0;
        memset(&loaded, 0xa5, sizeof(loaded));
        ck_assert_int_eq(merkle_range_load(&loaded, n, subtree, &tree), ERR_OK);
        ck_assert_uint_eq(tree.calls, (unsigned)__builtin_popcountll(n));
        ck_assert_uint_eq(loaded.size, r.size);
        ck_assert_uint_eq(loaded.count, r.count);
        ck_assert_mem_eq(loaded.hashes, r.hashes, r.count * HASH_BYTES);
        merkle_range_root(&loaded, got);
        ref_root(tree.levels[0], n, want);
        ck_assert_mem_eq(got, want, HASH_BYTES);
    }
}
END_TEST

START_TEST(test_range_append_failure_leaves_range_unchanged)
{
    static struct completions c;
    struct merkle_range r, before;
    uint64_t n;

    tree_build_counting(16);
    memset(&c, 0, sizeof(c));
    c.fail_level = 99;
    merkle_range_init(&r);
    for (n = 1; n <= 7; n++)
        ck_assert_int_eq(merkle_range_append(&r, tree.levels[0][n - 1], complete, &c), ERR_OK);
    /* The eighth leaf closes subtrees at levels 1, 2 and 3: fail at level 2. */
    c.fail_level = 2;
    c.fail_index = 1;
    before = r;
    ck_assert_int_eq(merkle_range_append(&r, tree.levels[0][7], complete, &c), ERR_STORAGE);
    ck_assert_mem_eq(&r, &before, sizeof(r));
    c.fail_level = 0;
    c.fail_index = 7;
    ck_assert_int_eq(merkle_range_append(&r, tree.levels[0][7], complete, &c), ERR_STORAGE);
    ck_assert_mem_eq(&r, &before, sizeof(r));
}
END_TEST

Suite *
merkle_suite(void)
{
    Suite *s = suite_create("merkle");
    TCase *tc = tcase_create("core");
    TCase *slow = tcase_create("exhaustive");

    tcase_add_test(tc, test_reference_tree_roots);
    tcase_add_test(tc, test_empty_root);
    tcase_add_test(tc, test_inclusion_vectors);
    tcase_add_test(tc, test_consistency_vectors);
    tcase_add_test(tc, test_roots_match_reference);
    tcase_add_test(tc, test_inclusion_proofs_match_reference);
    tcase_add_test(tc, test_consistency_proofs_match_reference);
    tcase_add_test(tc, test_proof_arguments_refused);
    tcase_add_test(tc, test_verify_edge_cases);
    tcase_add_test(tc, test_generation_is_logarithmic);
    tcase_add_test(tc, test_callback_errors_propagate);
    tcase_add_test(tc, test_range_roots_match_reference);
    tcase_add_test(tc, test_range_append_without_callback);
    tcase_add_test(tc, test_range_load_reproduces_range);
    tcase_add_test(tc, test_range_append_failure_leaves_range_unchanged);
    suite_add_tcase(s, tc);
    /* Every bit of every small proof, and the probes on every proof up to 256 leaves. */
    tcase_set_timeout(slow, 300);
    tcase_add_test(slow, test_inclusion_proof_mutations_fail);
    tcase_add_test(slow, test_consistency_proof_mutations_fail);
    tcase_add_test(slow, test_inclusion_proofgen_probes_fail);
    tcase_add_test(slow, test_consistency_proofgen_probes_fail);
    suite_add_tcase(s, slow);
    return s;
}
