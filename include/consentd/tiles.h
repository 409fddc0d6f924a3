/*
 * tiles: the log as C2SP tlog-tiles: tile paths, and the contents of hash tiles and entry
 * bundles read from the stored tree. Tiles have height 8: a tile holds up to 256 hashes, and
 * hash i of tile n at level l is the Merkle tree hash of the perfect subtree of 256^l leaves
 * starting at leaf (n * 256 + i) * 256^l. The store keeps every perfect subtree's hash (tlog.h),
 * so a tile is up to 256 reads and no hashing, at any level.
 *
 * THREAD SAFETY: tiles_parse and tiles_width are pure; the readers take a read transaction and
 * may run in any thread.
 */
#ifndef TILES_H
#define TILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/store.h"
#include "consentd/tlog.h"

#define TILES_HEIGHT    8
#define TILES_WIDTH     256 /* hashes (or entries) in a full tile */
#define TILES_MAX_LEVEL 63  /* the highest level a path may name */
#define TILES_MAX_HASH  (TILES_WIDTH * HASH_BYTES)
#define TILES_MAX_ENTRY_BUNDLE                                                                     \
    ((size_t)TILES_WIDTH * (2 + TLOG_MAX_ENTRY)) /* a big-endian uint16 length, then the entry */
#define TILES_WHY_MAX 192

/* A parsed tile path: <level>/<index>[.p/<width>] or entries/<index>[.p/<width>]. */
struct tiles_path {
    bool entries;   /* an entry bundle rather than a hash tile */
    unsigned level; /* 0 to TILES_MAX_LEVEL; 0 for an entry bundle */
    uint64_t index;
    unsigned width; /* TILES_WIDTH for a full tile, 1 to 255 for a partial one (.p/<width>) */
};

/*
 * tiles_parse parses path[0..len), what follows "<prefix>/tile/", in the exact form the spec
 * gives: a level in decimal without leading zeros (or "entries"), the index as three-digit
 * groups each but the last prefixed with 'x' ("x001/x234/067" is 1234067), with no leading
 * "x000" group, and an optional ".p/<width>" with a width from 1 to 255 without leading zeros.
 * Returns ERR_OK with *out set, or ERR_INVAL with a sentence in why saying what to fix and *out
 * zeroed.
 */
enum err tiles_parse(const char *path, size_t len, struct tiles_path *out,
                     char why[static TILES_WHY_MAX]);

/*
 * tiles_width returns how many hashes of tile index at level the tree of size leaves has: 256
 * when the tile is full, 1 to 255 for the rightmost tile of a level, 0 when the tree has none.
 * An entry bundle has the width of the level-0 tile of the same index.
 */
unsigned tiles_width(uint64_t size, unsigned level, uint64_t index);

/*
 * tiles_hashes writes the first p->width hashes of hash tile p (p->entries false), 32 bytes
 * each, to out, and p->width * HASH_BYTES to *len. Returns ERR_INVAL for an entry bundle's
 * path, ERR_NOTFOUND if the tree of size leaves has fewer than p->width of them (tiles_width),
 * ERR_STORAGE if a hash the tree has is
 * missing from the store (logged) or the store fails; *len is 0 on failure.
 */
enum err tiles_hashes(struct store_txn *t, uint64_t size, const struct tiles_path *p,
                      uint8_t out[static TILES_MAX_HASH], size_t *len);

/*
 * tiles_entry_bundle builds entry bundle p (p->entries true): the p->width entries from index
 * p->index * 256, each as a big-endian uint16 length and the entry's bytes. *out is malloc'd
 * (the caller frees it) and at most TILES_MAX_ENTRY_BUNDLE bytes; *len is its length. Returns
 * ERR_INVAL for a hash tile's path, ERR_NOTFOUND if the tree of size leaves has fewer than p->width
 * of those entries, ERR_STORAGE if one of them is missing from the store, longer than
 * TLOG_MAX_ENTRY, or the store fails, ERR_NOMEM; *out is NULL and *len 0 on failure.
 */
enum err tiles_entry_bundle(struct store_txn *t, uint64_t size, const struct tiles_path *p,
                            uint8_t **out, size_t *len);

#endif
