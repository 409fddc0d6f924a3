/*
 * check_tiles: tile paths parse exactly as C2SP tlog-tiles writes them and nothing else does;
 * tile widths follow the spec's examples; hash tiles read from the store equal the Merkle tree
 * hashes merkle.h computes from the leaves, for trees of many sizes read from one larger store
 * (as the service reads a signed size below the stored one); the root rebuilt from tiles alone
 * is the tree's root; entry bundles hold the entries and hash to their level-0 tile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/tiles.h"
#include "suites.h"
#include "testutil.h"

#define MAP   (256u * 1024 * 1024)
#define N     (65536 + 3)
#define BIG   300 /* the index of the one entry of TLOG_MAX_ENTRY bytes */
#define LEVEL (TILES_WIDTH * TILES_WIDTH)

/* Made once, in the parent, by the unchecked fixture: a log of N entries and its leaf hashes. */
static char dir[TU_DIR_MAX];
static uint8_t leaves[N][HASH_BYTES];
static struct store *s;
static struct store_txn *rt;

/*
 * entry_text writes entry i into out (TLOG_MAX_ENTRY bytes): JSON of a length that varies with
 * i, some over 255 bytes so that both bytes of a bundle's length prefix matter, and one (BIG)
 * of the longest length an entry may have.
 */
static size_t
entry_text(unsigned i, char *out)
{
    size_t n =
        (size_t)snprintf(out, TLOG_MAX_ENTRY, "{\"v\":1,\"type\":\"test\",\"n\":%u,\"pad\":\"", i);
    size_t pad = i == BIG ? TLOG_MAX_ENTRY - n - 2 : i * 37 % 300;

    memset(out + n, 'p', pad);
    memcpy(out + n + pad, "\"}", 2);
    return n + pad + 2;
}

static void
log_setup(void)
{
    struct merkle_range r;
    struct store_txn *t = NULL;
    char *e = malloc(TLOG_MAX_ENTRY);
    uint8_t leaf[HASH_BYTES];
    unsigned i;
    size_t n;

    ck_assert_ptr_nonnull(e);
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    merkle_range_init(&r);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    for (i = 0; i < N; i++) {
        n = entry_text(i, e);
        merkle_leaf_hash((const uint8_t *)e, n, leaves[i]);
        ck_assert_int_eq(tlog_append(t, &r, (const uint8_t *)e, n, leaf), ERR_OK);
    }
    ck_assert_int_eq(store_commit(t), ERR_OK);
    store_close(s);
    s = NULL;
    free(e);
}

static void
log_teardown(void)
{
    tu_rmrf(dir);
}

static void
setup(void)
{
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, false, &rt), ERR_OK);
}

static void
teardown(void)
{
    store_abort(rt);
    store_close(s);
}

/* ref_mth writes MTH(D[first : first + count]) computed by merkle.h from the leaf hashes. */
static void
ref_mth(uint64_t first, uint64_t count, uint8_t out[static HASH_BYTES])
{
    struct merkle_range r;
    uint64_t i;

    merkle_range_init(&r);
    for (i = 0; i < count; i++)
        ck_assert_int_eq(merkle_range_append(&r, leaves[first + i], NULL, NULL), ERR_OK);
    merkle_range_root(&r, out);
}

static struct tiles_path
hash_tile(unsigned level, uint64_t index, unsigned width)
{
    struct tiles_path p = {false, level, index, width};

    return p;
}

static struct tiles_path
bundle(uint64_t index, unsigned width)
{
    struct tiles_path p = {true, 0, index, width};

    return p;
}

/* --- paths ----------------------------------------------------------------------------- */

static void
parses(const char *path, bool entries, unsigned level, uint64_t index, unsigned width)
{
    struct tiles_path p;
    char why[TILES_WHY_MAX];

    ck_assert_msg(tiles_parse(path, strlen(path), &p, why) == ERR_OK, "%s: %s", path, why);
    ck_assert_msg(p.entries == entries && p.level == level && p.index == index && p.width == width,
                  "%s parsed as %d %u %llu %u", path, p.entries, p.level,
                  (unsigned long long)p.index, p.width);
}

static void
refused(const char *path, size_t len)
{
    struct tiles_path p;
    char why[TILES_WHY_MAX];

    memset(&p, 0xa5, sizeof(p));
    ck_assert_msg(tiles_parse(path, len, &p, why) == ERR_INVAL, "accepted \"%.*s\"", (int)len,
                  path);
    ck_assert_msg(strlen(why) > 20, "no reason for \"%.*s\"", (int)len, path);
    ck_assert(!p.entries && p.level == 0 && p.index == 0 && p.width == 0);
}

START_TEST(test_paths_in_the_spec_form_parse)
{
    parses("0/000", false, 0, 0, TILES_WIDTH);
    parses("0/001", false, 0, 1, TILES_WIDTH);
    parses("1/999", false, 1, 999, TILES_WIDTH);
    parses("63/000", false, 63, 0, TILES_WIDTH);
    parses("0/x001/000", false, 0, 1000, TILES_WIDTH);
    parses("1/x001/234", false, 1, 1234, TILES_WIDTH);
    parses("2/x001/x234/067.p/255", false, 2, 1234067, 255);
    parses("0/005.p/1", false, 0, 5, 1);
    parses("0/x999/x999/999.p/17", false, 0, 999999999, 17);
    parses("entries/000", true, 0, 0, TILES_WIDTH);
    parses("entries/x123/456.p/1", true, 0, 123456, 1);
    parses("0/x018/x446/x744/x073/x709/x551/615", false, 0, UINT64_MAX, TILES_WIDTH);
}
END_TEST

START_TEST(test_malformed_paths_are_refused)
{
    static const char *const bad[] = {
        "",
        "0",
        "0/",
        "/000",
        "00/000",
        "01/000",
        "64/000",
        "100/000",
        "-1/000",
        "+1/000",
        "a/000",
        " 0/000",
        "entry/000",
        "Entries/000",
        "entries",
        "entries/",
        "data/000",
        "0/0",
        "0/00",
        "0/0000",
        "0/1",
        "0/-01",
        "0/+01",
        "0/0x1",
        "0/00a",
        "0/x000/001",
        "0/x000/x001/000",
        "0/000/001",
        "0/x001",
        "0/x001/",
        "0/x01/000",
        "0/xx01/000",
        "0/X001/000",
        "0/x001//000",
        "0//000",
        "0/000/",
        "0/000 ",
        "0/000.p",
        "0/000.p/",
        "0/000.p/0",
        "0/000.p/00",
        "0/000.p/01",
        "0/000.p/256",
        "0/000.p/1000",
        "0/000.p/-1",
        "0/000.q/1",
        "0/000p/1",
        "0/000.P/1",
        "0/000.p/1/",
        "0/000.p/1x",
        "0/000/.p/1",
        "0/x001.p/1",
        "0/000.p/1.p/1",
        "0/x018/x446/x744/x073/x709/x551/616",
        "0/x999/x999/x999/x999/x999/x999/999",
        "0/x001/x000/x000/x000/x000/x000/x000/000",
    };
    static const char nul[] = "0/000\0.p/1";
    const char *longest = "2/x001/x234/067.p/255";
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused(bad[i], strlen(bad[i]));
    refused(nul, sizeof(nul) - 1);
    /* Every prefix of a valid path is refused, except the three that are paths themselves. */
    for (i = 0; i < strlen(longest); i++) {
        if (i == strlen("2/x001/x234/067") || i == strlen("2/x001/x234/067.p/2") ||
            i == strlen("2/x001/x234/067.p/25"))
            continue;
        refused(longest, i);
    }
}
END_TEST

START_TEST(test_parse_reads_only_len_bytes)
{
    struct tiles_path p;
    char why[TILES_WHY_MAX];

    ck_assert_int_eq(tiles_parse("0/001.p/12", 5, &p, why), ERR_OK);
    ck_assert_uint_eq(p.index, 1);
    ck_assert_uint_eq(p.width, TILES_WIDTH);
}
END_TEST

/* --- widths ---------------------------------------------------------------------------- */

START_TEST(test_widths_follow_the_spec_examples)
{
    /* "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level
     * 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and
     * one partial level 2 tile of width 1." */
    ck_assert_uint_eq(tiles_width(70000, 0, 0), 256);
    ck_assert_uint_eq(tiles_width(70000, 0, 272), 256);
    ck_assert_uint_eq(tiles_width(70000, 0, 273), 112);
    ck_assert_uint_eq(tiles_width(70000, 0, 274), 0);
    ck_assert_uint_eq(tiles_width(70000, 1, 0), 256);
    ck_assert_uint_eq(tiles_width(70000, 1, 1), 17);
    ck_assert_uint_eq(tiles_width(70000, 1, 2), 0);
    ck_assert_uint_eq(tiles_width(70000, 2, 0), 1);
    ck_assert_uint_eq(tiles_width(70000, 3, 0), 0);
    /* "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
     * tile of width 1." */
    ck_assert_uint_eq(tiles_width(256, 0, 0), 256);
    ck_assert_uint_eq(tiles_width(256, 0, 1), 0);
    ck_assert_uint_eq(tiles_width(256, 1, 0), 1);
    ck_assert_uint_eq(tiles_width(256, 2, 0), 0);
    ck_assert_uint_eq(tiles_width(0, 0, 0), 0);
    ck_assert_uint_eq(tiles_width(255, 0, 0), 255);
    ck_assert_uint_eq(tiles_width(255, 1, 0), 0);
    /* The ends of 64 bits: level 7 is the last that can hold a hash. */
    ck_assert_uint_eq(tiles_width(UINT64_MAX, 7, 0), 255);
    ck_assert_uint_eq(tiles_width(UINT64_MAX, 8, 0), 0);
    ck_assert_uint_eq(tiles_width(UINT64_MAX, 63, 0), 0);
    ck_assert_uint_eq(tiles_width(UINT64_MAX, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(tiles_width(UINT64_MAX, 0, (UINT64_MAX >> 8) - 1), 256);
    ck_assert_uint_eq(tiles_width(UINT64_MAX, 0, UINT64_MAX >> 8), 255);
}
END_TEST

/* --- hash tiles ------------------------------------------------------------------------ */

static const uint64_t sizes[] = {1, 2, 255, 256, 257, 511, 512, 513, 65535, 65536, N};

/*
 * check_tiles_of compares every tile of the tree of size leaves with merkle.h's hashing of the
 * leaves: full tiles, the partial tile at its width and every narrower prefix of it, and
 * refuses a wider one, the full form of a partial tile, and the next tile.
 */
static void
check_tiles_of(uint64_t size)
{
    uint8_t got[TILES_MAX_HASH], want[HASH_BYTES];
    unsigned level, widths[3], i, k, have;
    uint64_t n, span;
    size_t len;

    for (level = 0; level <= 3; level++) {
        span = (uint64_t)1 << (level * TILES_HEIGHT);
        for (n = 0;; n++) {
            have = tiles_width(size, level, n);
            if (have == 0)
                break;
            /* The tile at its width, one narrower (an older checkpoint's), and one wide. */
            widths[0] = have;
            widths[1] = have > 1 ? have - 1 : 1;
            widths[2] = 1;
            for (k = 0; k < 3; k++) {
                struct tiles_path p = hash_tile(level, n, widths[k]);

                ck_assert_int_eq(tiles_hashes(rt, size, &p, got, &len), ERR_OK);
                ck_assert_uint_eq(len, (size_t)widths[k] * HASH_BYTES);
                for (i = 0; i < widths[k]; i++) {
                    ref_mth((n * TILES_WIDTH + i) * span, span, want);
                    ck_assert_msg(memcmp(got + (size_t)i * HASH_BYTES, want, HASH_BYTES) == 0,
                                  "size %llu tile %u/%llu hash %u", (unsigned long long)size, level,
                                  (unsigned long long)n, i);
                }
            }
            if (have < TILES_WIDTH) {
                struct tiles_path wider = hash_tile(level, n, have + 1);
                struct tiles_path full = hash_tile(level, n, TILES_WIDTH);

                ck_assert_int_eq(tiles_hashes(rt, size, &wider, got, &len), ERR_NOTFOUND);
                ck_assert_uint_eq(len, 0);
                ck_assert_int_eq(tiles_hashes(rt, size, &full, got, &len), ERR_NOTFOUND);
            }
        }
        {
            struct tiles_path next = hash_tile(level, n, 1);

            ck_assert_int_eq(tiles_hashes(rt, size, &next, got, &len), ERR_NOTFOUND);
            ck_assert_uint_eq(len, 0);
        }
    }
}

START_TEST(test_hash_tiles_match_merkle_hashing)
{
    check_tiles_of(sizes[_i]);
}
END_TEST

/*
 * A client's subtree callback: the hash of a perfect subtree from tiles only. A level that is
 * a multiple of the tile height is one hash of one tile (fetched with the width the tree has);
 * any other is the node hash of its two halves.
 */
struct from_tiles {
    uint64_t size;
    unsigned fetched;
};

static enum err
subtree_from_tiles(void *ctx, unsigned level, uint64_t index, uint8_t out[static HASH_BYTES])
{
    struct from_tiles *ft = ctx;
    uint8_t tile[TILES_MAX_HASH], l[HASH_BYTES], r[HASH_BYTES];
    struct tiles_path p;
    size_t len;
    enum err rc;

    if (level % TILES_HEIGHT != 0) {
        rc = subtree_from_tiles(ctx, level - 1, 2 * index, l);
        if (rc == ERR_OK)
            rc = subtree_from_tiles(ctx, level - 1, 2 * index + 1, r);
        if (rc == ERR_OK)
            merkle_node_hash(l, r, out);
        return rc;
    }
    p = hash_tile(level / TILES_HEIGHT, index / TILES_WIDTH, 0);
    p.width = tiles_width(ft->size, p.level, p.index);
    rc = tiles_hashes(rt, ft->size, &p, tile, &len);
    if (rc != ERR_OK)
        return rc;
    ft->fetched++;
    ck_assert_uint_gt(len, (index % TILES_WIDTH) * HASH_BYTES);
    memcpy(out, tile + (index % TILES_WIDTH) * HASH_BYTES, HASH_BYTES);
    return ERR_OK;
}

START_TEST(test_root_rebuilt_from_tiles_is_the_tree_root)
{
    uint8_t got[HASH_BYTES], want[HASH_BYTES];
    struct from_tiles ft = {sizes[_i], 0};

    ck_assert_int_eq(merkle_root(subtree_from_tiles, &ft, ft.size, got), ERR_OK);
    ref_mth(0, ft.size, want);
    ck_assert_mem_eq(got, want, HASH_BYTES);
    ck_assert_uint_gt(ft.fetched, 0);
}
END_TEST

START_TEST(test_missing_hash_is_a_storage_error)
{
    uint8_t got[TILES_MAX_HASH];
    struct tiles_path p = hash_tile(0, N / TILES_WIDTH, 5);
    size_t len;

    /* A size beyond what the store holds: the tree claims hashes the store lacks. */
    ck_assert_int_eq(tiles_hashes(rt, N + 2, &p, got, &len), ERR_STORAGE);
    ck_assert_uint_eq(len, 0);
    p = bundle(N / TILES_WIDTH, 5);
    {
        uint8_t junk, *b = &junk;

        ck_assert_int_eq(tiles_entry_bundle(rt, N + 2, &p, &b, &len), ERR_STORAGE);
        ck_assert_ptr_null(b);
        ck_assert_uint_eq(len, 0);
    }
}
END_TEST

START_TEST(test_kinds_are_not_mixed)
{
    uint8_t got[TILES_MAX_HASH], *b = NULL;
    struct tiles_path h = hash_tile(0, 0, TILES_WIDTH), e = bundle(0, TILES_WIDTH);
    size_t len;

    ck_assert_int_eq(tiles_hashes(rt, N, &e, got, &len), ERR_INVAL);
    ck_assert_int_eq(tiles_entry_bundle(rt, N, &h, &b, &len), ERR_INVAL);
    ck_assert_ptr_null(b);
}
END_TEST

/* --- entry bundles --------------------------------------------------------------------- */

static const uint64_t bundle_sizes[] = {1, 255, 256, 257, BIG + 1, 513};

START_TEST(test_entry_bundles_hold_the_entries)
{
    uint64_t size = bundle_sizes[_i], n;
    uint8_t *b = NULL, tile[TILES_MAX_HASH], leaf[HASH_BYTES];
    char *want = malloc(TLOG_MAX_ENTRY);
    size_t len, tlen, at, elen, wlen;
    unsigned have, i;

    ck_assert_ptr_nonnull(want);
    for (n = 0; (have = tiles_width(size, 0, n)) > 0; n++) {
        struct tiles_path p = bundle(n, have), h = hash_tile(0, n, have);

        ck_assert_int_eq(tiles_entry_bundle(rt, size, &p, &b, &len), ERR_OK);
        ck_assert_int_eq(tiles_hashes(rt, size, &h, tile, &tlen), ERR_OK);
        at = 0;
        for (i = 0; i < have; i++) {
            ck_assert_uint_le(at + 2, len);
            elen = (size_t)b[at] << 8 | b[at + 1];
            ck_assert_uint_le(at + 2 + elen, len);
            wlen = entry_text((unsigned)(n * TILES_WIDTH + i), want);
            ck_assert_uint_eq(elen, wlen);
            ck_assert_mem_eq(b + at + 2, want, wlen);
            merkle_leaf_hash(b + at + 2, elen, leaf);
            ck_assert_mem_eq(leaf, tile + (size_t)i * HASH_BYTES, HASH_BYTES);
            if (n * TILES_WIDTH + i == BIG)
                ck_assert(b[at] == 0xff && b[at + 1] == 0xff);
            at += 2 + elen;
        }
        ck_assert_uint_eq(at, len);
        free(b);
        b = NULL;
        if (have < TILES_WIDTH) {
            struct tiles_path wider = bundle(n, have + 1);

            ck_assert_int_eq(tiles_entry_bundle(rt, size, &wider, &b, &len), ERR_NOTFOUND);
            ck_assert_ptr_null(b);
            ck_assert_uint_eq(len, 0);
        }
    }
    {
        struct tiles_path next = bundle(n, 1);

        ck_assert_int_eq(tiles_entry_bundle(rt, size, &next, &b, &len), ERR_NOTFOUND);
        ck_assert_ptr_null(b);
    }
    free(want);
}
END_TEST

START_TEST(test_partial_bundle_is_a_prefix_of_the_full_one)
{
    uint8_t *full = NULL, *part = NULL;
    struct tiles_path f = bundle(1, TILES_WIDTH), p = bundle(1, 100);
    size_t flen, plen;

    ck_assert_int_eq(tiles_entry_bundle(rt, N, &f, &full, &flen), ERR_OK);
    ck_assert_int_eq(tiles_entry_bundle(rt, N, &p, &part, &plen), ERR_OK);
    ck_assert_uint_lt(plen, flen);
    ck_assert_mem_eq(full, part, plen);
    free(full);
    free(part);
}
END_TEST

Suite *
tiles_suite(void)
{
    Suite *su = suite_create("tiles");
    TCase *paths = tcase_create("paths");
    TCase *tc = tcase_create("tiles");

    tcase_add_test(paths, test_paths_in_the_spec_form_parse);
    tcase_add_test(paths, test_malformed_paths_are_refused);
    tcase_add_test(paths, test_parse_reads_only_len_bytes);
    tcase_add_test(paths, test_widths_follow_the_spec_examples);
    suite_add_tcase(su, paths);

    tcase_add_unchecked_fixture(tc, log_setup, log_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_hash_tiles_match_merkle_hashing, 0,
                        (int)(sizeof(sizes) / sizeof(sizes[0])));
    tcase_add_loop_test(tc, test_root_rebuilt_from_tiles_is_the_tree_root, 0,
                        (int)(sizeof(sizes) / sizeof(sizes[0])));
    tcase_add_test(tc, test_missing_hash_is_a_storage_error);
    tcase_add_test(tc, test_kinds_are_not_mixed);
    tcase_add_loop_test(tc, test_entry_bundles_hold_the_entries, 0,
                        (int)(sizeof(bundle_sizes) / sizeof(bundle_sizes[0])));
    tcase_add_test(tc, test_partial_bundle_is_a_prefix_of_the_full_one);
    suite_add_tcase(su, tc);
    return su;
}
