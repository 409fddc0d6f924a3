/*
 * tiles: C2SP tlog-tiles paths, hash tiles from stored perfect subtrees, and entry bundles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/log.h"
#include "consentd/tiles.h"

#define TILES_GROUP 3 /* digits in each group of an index */

static const char tiles_usage[] =
    "a tile path is <level>/<index>[.p/<width>] or entries/<index>[.p/<width>] (C2SP "
    "tlog-tiles)";

static bool
tiles_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/*
 * tiles_small parses s[0..n) as a decimal of at most three digits without leading zeros and at
 * most max into *v; false (and *v 0) otherwise.
 */
static bool
tiles_small(const char *s, size_t n, unsigned max, unsigned *v)
{
    unsigned x = 0;
    size_t i;

    *v = 0;
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || !tiles_digits(s, n))
        return false;
    for (i = 0; i < n; i++)
        x = x * 10 + (unsigned)(s[i] - '0');
    if (x > max)
        return false;
    *v = x;
    return true;
}

/* tiles_group appends the three digits at s to *n; false if the index would pass 64 bits. */
static bool
tiles_group(const char *s, uint64_t *n)
{
    uint64_t g =
        (uint64_t)(s[0] - '0') * 100 + (uint64_t)(s[1] - '0') * 10 + (uint64_t)(s[2] - '0');

    if (*n > (UINT64_MAX - g) / 1000)
        return false;
    *n = *n * 1000 + g;
    return true;
}

enum err
tiles_parse(const char *path, size_t len, struct tiles_path *out, char why[static TILES_WHY_MAX])
{
    const char *p = path, *end = path + len, *slash;
    struct tiles_path r;
    bool first = true;

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    why[0] = '\0';
    slash = memchr(path, '/', len);
    if (slash == NULL) {
        snprintf(why, TILES_WHY_MAX, "%s", tiles_usage);
        return ERR_INVAL;
    }
    if (slash - path == 7 && memcmp(path, "entries", 7) == 0) {
        r.entries = true;
    } else if (!tiles_small(path, (size_t)(slash - path), TILES_MAX_LEVEL, &r.level)) {
        snprintf(why, TILES_WHY_MAX,
                 "the level must be \"entries\" or a number from 0 to %d without leading zeros; "
                 "%s",
                 TILES_MAX_LEVEL, tiles_usage);
        return ERR_INVAL;
    }
    p = slash + 1;
    /* Every group but the last is 'x' and three digits, then '/'. */
    while (end - p >= TILES_GROUP + 2 && p[0] == 'x' && tiles_digits(p + 1, TILES_GROUP) &&
           p[TILES_GROUP + 1] == '/') {
        if (first && memcmp(p + 1, "000", TILES_GROUP) == 0) {
            snprintf(why, TILES_WHY_MAX,
                     "the index must not start with a group x000: write it without leading "
                     "zero groups (7 is 007, 1234067 is x001/x234/067)");
            return ERR_INVAL;
        }
        if (!tiles_group(p + 1, &r.index))
            goto too_large;
        first = false;
        p += TILES_GROUP + 2;
    }
    if (end - p < TILES_GROUP || !tiles_digits(p, TILES_GROUP)) {
        snprintf(why, TILES_WHY_MAX,
                 "the index must be groups of three digits, each but the last starting with x "
                 "(7 is 007, 1234067 is x001/x234/067)");
        return ERR_INVAL;
    }
    if (!tiles_group(p, &r.index))
        goto too_large;
    p += TILES_GROUP;
    r.width = TILES_WIDTH;
    if (p != end) {
        if (end - p < 4 || memcmp(p, ".p/", 3) != 0) {
            snprintf(why, TILES_WHY_MAX, "only .p/<width> may follow the index's last group; %s",
                     tiles_usage);
            return ERR_INVAL;
        }
        if (!tiles_small(p + 3, (size_t)(end - p - 3), TILES_WIDTH - 1, &r.width) || r.width == 0) {
            snprintf(why, TILES_WHY_MAX,
                     "the width after .p/ must be a number from 1 to %d without leading zeros "
                     "(a full tile has no .p/ suffix)",
                     TILES_WIDTH - 1);
            return ERR_INVAL;
        }
    }
    *out = r;
    return ERR_OK;
too_large:
    snprintf(why, TILES_WHY_MAX, "the index is larger than any tile index of a 64-bit log");
    return ERR_INVAL;
}

unsigned
tiles_width(uint64_t size, unsigned level, uint64_t index)
{
    uint64_t hashes;

    /* A hash at level 8 or above would cover 2^64 leaves or more: no tree has one. */
    if (level >= 64 / TILES_HEIGHT)
        return 0;
    hashes = size >> (level * TILES_HEIGHT);
    if (index < hashes / TILES_WIDTH)
        return TILES_WIDTH;
    if (index == hashes / TILES_WIDTH)
        return (unsigned)(hashes % TILES_WIDTH);
    return 0;
}

/* tiles_fits is true if p names a tile (or a prefix of one) that the tree of size has. */
static bool
tiles_fits(uint64_t size, const struct tiles_path *p)
{
    return p->width >= 1 && p->width <= TILES_WIDTH &&
           tiles_width(size, p->entries ? 0 : p->level, p->index) >= p->width;
}

enum err
tiles_hashes(struct store_txn *t, uint64_t size, const struct tiles_path *p,
             uint8_t out[static TILES_MAX_HASH], size_t *len)
{
    uint64_t first;
    unsigned i;
    enum err rc = ERR_OK;

    *len = 0;
    if (p->entries)
        return ERR_INVAL;
    if (!tiles_fits(size, p))
        return ERR_NOTFOUND;
    first = p->index * TILES_WIDTH;
    for (i = 0; i < p->width; i++) {
        rc = tlog_node(t, p->level * TILES_HEIGHT, first + i, out + (size_t)i * HASH_BYTES);
        if (rc == ERR_NOTFOUND) {
            /* Every perfect subtree below the size is stored: a missing one is corruption. */
            log_warnx("tiles: subtree %u/%llu missing from the store", p->level * TILES_HEIGHT,
                      (unsigned long long)(first + i));
            rc = ERR_STORAGE;
        }
        if (rc != ERR_OK)
            return rc;
    }
    *len = (size_t)p->width * HASH_BYTES;
    return ERR_OK;
}

enum err
tiles_entry_bundle(struct store_txn *t, uint64_t size, const struct tiles_path *p, uint8_t **out,
                   size_t *len)
{
    const uint8_t *bytes;
    uint64_t first;
    uint8_t *buf = NULL;
    size_t n, total = 0, at = 0;
    unsigned i;
    enum err rc = ERR_OK;

    *out = NULL;
    *len = 0;
    if (!p->entries)
        return ERR_INVAL;
    if (!tiles_fits(size, p))
        return ERR_NOTFOUND;
    first = p->index * TILES_WIDTH;
    /* Two passes over the same read transaction: sizes first, so one allocation fits. */
    for (i = 0; i < p->width; i++) {
        rc = tlog_entry(t, first + i, &bytes, &n);
        if (rc == ERR_OK && (n == 0 || n > TLOG_MAX_ENTRY)) {
            log_warnx("tiles: entry %llu is %zu bytes, outside 1 to %d",
                      (unsigned long long)(first + i), n, TLOG_MAX_ENTRY);
            rc = ERR_STORAGE;
        }
        if (rc == ERR_NOTFOUND) {
            log_warnx("tiles: entry %llu missing from the store", (unsigned long long)(first + i));
            rc = ERR_STORAGE;
        }
        if (rc != ERR_OK)
            goto out;
        total += 2 + n;
    }
    buf = malloc(total);
    if (buf == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < p->width; i++) {
        rc = tlog_entry(t, first + i, &bytes, &n);
        if (rc == ERR_OK && at + 2 + n > total)
            rc = ERR_STORAGE; /* changed under a read transaction: cannot happen */
        if (rc != ERR_OK)
            goto out;
        buf[at] = (uint8_t)(n >> 8);
        buf[at + 1] = (uint8_t)(n & 0xff);
        memcpy(buf + at + 2, bytes, n);
        at += 2 + n;
    }
    *out = buf;
    *len = at;
    buf = NULL;
out:
    free(buf);
    return rc;
}
