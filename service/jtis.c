/*
 * jtis: used assertion jtis, in an append-only side table indexed in memory.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/hash.h"
#include "consentd/jtis.h"
#include "consentd/log.h"
#include "consentd/xmalloc.h"

#define JTIS_NAME_MAX (ASSERTION_WHO_MAX + 1 + ASSERTION_JTI_MAX) /* who ‖ 0x00 ‖ jti */
#define JTIS_EMPTY    0u /* a slot never used since the table was last rebuilt */
#define JTIS_GONE     1u /* a slot freed (rolled back or expired): probes go past it */

/*
 * One slot: the hash of who ‖ 0x00 ‖ jti (JTIS_EMPTY and JTIS_GONE are never hashes), the
 * exp, which fits 32 bits until 2106 (an acceptable one is at most ASSERTION_MAX_AHEAD s ahead),
 * and the record's sequence number.
 */
struct jtis_slot {
    uint64_t seq;
    uint32_t h;
    uint32_t exp;
};

struct jtis {
    uint8_t key[HASH_SHORT_KEY_BYTES];
    struct jtis_slot *slot;
    size_t cap;     /* a power of two */
    size_t max_cap; /* what cap may grow to */
    size_t used;    /* slots not JTIS_EMPTY */
    size_t live;    /* slots holding a use */
    size_t max_live;
    int64_t rebuilt_at; /* when the table was last rebuilt at max_live uses */
    uint64_t next_seq;
};

/* A record of STORE_JTI, decoded; name points into the value. */
struct jtis_record {
    uint64_t seq;
    int64_t exp;
    const uint8_t *name;
    size_t name_len;
};

static bool
jtis_expired(int64_t exp, int64_t now)
{
    return exp + TOKEN_LEEWAY <= now;
}

static uint32_t
jtis_hash(const struct jtis *j, const uint8_t *name, size_t len)
{
    uint32_t h = (uint32_t)hash_short(j->key, name, len);

    return h <= JTIS_GONE ? h + 2 : h;
}

/* jtis_decode reads a STORE_JTI record; false if it is malformed. */
static bool
jtis_decode(const void *key, size_t key_len, const void *val, size_t val_len, struct jtis_record *r)
{
    const uint8_t *v = val;
    const uint8_t *nul;
    uint64_t u;

    if (key_len != 8 || val_len <= 8 + 2 || val_len > 8 + JTIS_NAME_MAX)
        return false;
    (void)store_u64_val(key, 8, &r->seq);
    (void)store_u64_val(v, 8, &u);
    nul = memchr(v + 8, 0x00, val_len - 8);
    if (u > INT64_MAX || nul == NULL || nul == v + 8 || nul == v + val_len - 1)
        return false;
    r->exp = (int64_t)u;
    r->name = v + 8;
    r->name_len = val_len - 8;
    return true;
}

/*
 * jtis_place puts a use into the memory table, which has a free slot: after any JTIS_GONE slot
 * of its probe sequence, or at its first JTIS_EMPTY one.
 */
static void
jtis_place(struct jtis *j, uint32_t h, uint64_t seq, int64_t exp)
{
    size_t mask = j->cap - 1, i = h & mask;

    while (j->slot[i].h != JTIS_EMPTY && j->slot[i].h != JTIS_GONE)
        i = (i + 1) & mask;
    if (j->slot[i].h == JTIS_EMPTY)
        j->used++;
    j->slot[i].h = h;
    j->slot[i].seq = seq;
    j->slot[i].exp = exp > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)exp;
    j->live++;
}

/*
 * jtis_rebuild moves the uses still alive at now into a new array of cap slots, leaving out the
 * freed and expired ones.
 */
static void
jtis_rebuild(struct jtis *j, size_t cap, int64_t now)
{
    struct jtis_slot *old = j->slot;
    size_t old_cap = j->cap, i;

    j->slot = xcalloc(cap, sizeof(*j->slot));
    j->cap = cap;
    j->used = 0;
    j->live = 0;
    for (i = 0; i < old_cap; i++)
        if (old[i].h > JTIS_GONE && !jtis_expired(old[i].exp, now))
            jtis_place(j, old[i].h, old[i].seq, old[i].exp);
    free(old);
}

/*
 * jtis_room makes room for one more use: when the slots in use would pass three quarters, the
 * table is rebuilt without what has expired, twice as large if that is not enough. Returns
 * false when max_live uses are alive.
 */
static bool
jtis_room(struct jtis *j, int64_t now)
{
    size_t cap = j->cap;

    if ((j->used + 1) * 4 <= cap * 3 && j->live < j->max_live)
        return true;
    /* Full of live uses: rebuilding again within the second would free nothing. */
    if ((j->used + 1) * 4 <= cap * 3 && j->rebuilt_at == now)
        return false;
    if (j->live >= j->max_live)
        j->rebuilt_at = now;
    jtis_rebuild(j, cap, now);
    while ((j->live + 1) * 2 > cap && cap < j->max_cap)
        cap *= 2;
    if (cap != j->cap)
        jtis_rebuild(j, cap, now);
    return j->live < j->max_live;
}

/* What jtis_open's scan carries. */
struct jtis_load {
    struct jtis *j;
    int64_t now;
};

static enum err
jtis_load_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct jtis_load *ld = ctx;
    struct jtis *j = ld->j;
    struct jtis_record r;

    /* Keys come in increasing order, so the last one read sets the next sequence number. */
    if (!jtis_decode(key, key_len, val, val_len, &r) || r.seq == UINT64_MAX)
        return ERR_STORAGE;
    j->next_seq = r.seq + 1;
    if (jtis_expired(r.exp, ld->now))
        return ERR_OK;
    if (!jtis_room(j, ld->now))
        return ERR_TOOBIG;
    jtis_place(j, jtis_hash(j, r.name, r.name_len), r.seq, r.exp);
    return ERR_OK;
}

enum err
jtis_open(struct store *s, int64_t now, size_t max_live, struct jtis **out)
{
    struct store_txn *t = NULL;
    struct jtis_load ld;
    struct jtis *j;
    enum err rc;

    *out = NULL;
    if (max_live == 0)
        return ERR_INVAL;
    j = xcalloc(1, sizeof(*j));
    hash_random(j->key, sizeof(j->key));
    j->cap = JTIS_MIN_SLOTS;
    j->max_cap = JTIS_MIN_SLOTS;
    while (j->max_cap / 2 < max_live)
        j->max_cap *= 2;
    j->max_live = max_live;
    j->slot = xcalloc(j->cap, sizeof(*j->slot));
    j->next_seq = 1;
    ld.j = j;
    ld.now = now;
    rc = store_begin(s, false, &t);
    if (rc == ERR_OK)
        rc = store_scan(t, STORE_JTI, "", 0, jtis_load_one, &ld);
    store_abort(t);
    if (rc == ERR_TOOBIG)
        log_warnx("jtis: more than %zu used assertion jtis are still alive", max_live);
    else if (rc != ERR_OK)
        log_warnx("jtis: cannot read the used assertion jtis (%s)", err_str(rc));
    if (rc != ERR_OK) {
        jtis_free(j);
        return rc;
    }
    *out = j;
    return ERR_OK;
}

void
jtis_free(struct jtis *j)
{
    if (j == NULL)
        return;
    free(j->slot);
    free(j);
}

size_t
jtis_live(const struct jtis *j)
{
    return j->live;
}

/* What the purge scan collects: the oldest records that can no longer be accepted. */
struct jtis_purge {
    int64_t now;
    size_t n;
    uint8_t key[JTIS_PURGE_STEP][8];
};

static enum err
jtis_purge_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct jtis_purge *p = ctx;
    struct jtis_record r;

    if (!jtis_decode(key, key_len, val, val_len, &r))
        return ERR_STORAGE;
    /* Oldest first; the first record still acceptable ends the scan. */
    if (!jtis_expired(r.exp, p->now))
        return ERR_EXISTS;
    memcpy(p->key[p->n++], key, 8);
    return p->n == JTIS_PURGE_STEP ? ERR_EXISTS : ERR_OK;
}

/*
 * jtis_purge deletes up to JTIS_PURGE_STEP of the oldest records, as long as they can no longer
 * be accepted. Their memory slots expire by themselves.
 */
static enum err
jtis_purge(struct store_txn *t, int64_t now)
{
    struct jtis_purge p;
    enum err rc;
    size_t i;

    p.now = now;
    p.n = 0;
    rc = store_scan(t, STORE_JTI, "", 0, jtis_purge_one, &p);
    for (i = 0; rc == ERR_OK && i < p.n; i++) {
        rc = store_del(t, STORE_JTI, p.key[i], 8);
        if (rc == ERR_NOTFOUND)
            rc = ERR_STORAGE;
    }
    return rc;
}

/*
 * jtis_same reads record seq in t and tells whether it is name's: ERR_OK with *same set;
 * ERR_NOTFOUND when there is no such record (its use was rolled back, or it was purged); or
 * ERR_STORAGE.
 */
static enum err
jtis_same(struct store_txn *t, uint64_t seq, const uint8_t *name, size_t len, bool *same)
{
    struct jtis_record r;
    uint8_t key[8];
    const void *val;
    size_t val_len;
    enum err rc;

    *same = false;
    store_u64_key(seq, key);
    rc = store_get(t, STORE_JTI, key, 8, &val, &val_len);
    if (rc != ERR_OK)
        return rc;
    if (!jtis_decode(key, 8, val, val_len, &r))
        return ERR_STORAGE;
    *same = r.name_len == len && memcmp(r.name, name, len) == 0;
    return ERR_OK;
}

enum err
jtis_use(struct jtis *j, struct store_txn *t, const char *who, const char *jti, int64_t exp,
         int64_t now, char why[static STATE_WHY_MAX])
{
    uint8_t val[8 + JTIS_NAME_MAX], key[8];
    size_t wlen = strlen(who), jlen = strlen(jti), len, mask, i;
    struct jtis_slot *sl;
    uint32_t h;
    bool same;
    enum err rc;

    if (wlen == 0 || wlen > ASSERTION_WHO_MAX || jlen == 0 || jlen > ASSERTION_JTI_MAX) {
        snprintf(why, STATE_WHY_MAX, "an assertion's issuer and jti must be 1 to %d bytes",
                 ASSERTION_JTI_MAX);
        return ERR_INVAL;
    }
    if (exp < 0) {
        snprintf(why, STATE_WHY_MAX, "the assertion's \"exp\" is not a valid time");
        return ERR_INVAL;
    }
    if (jtis_expired(exp, now)) {
        snprintf(why, STATE_WHY_MAX, "the assertion has expired (\"exp\" with a %d s leeway)",
                 TOKEN_LEEWAY);
        return ERR_AUTH;
    }
    rc = jtis_purge(t, now);
    if (rc != ERR_OK)
        return rc;
    store_u64_key((uint64_t)exp, val);
    memcpy(val + 8, who, wlen);
    val[8 + wlen] = 0x00;
    memcpy(val + 8 + wlen + 1, jti, jlen);
    len = wlen + 1 + jlen;
    h = jtis_hash(j, val + 8, len);
    /*
     * Every slot of the probe sequence with the same hash is confirmed against its record: a
     * use that was rolled back, or expired, frees its slot; another name with the same hash is
     * passed over.
     */
    mask = j->cap - 1;
    for (i = h & mask; j->slot[i].h != JTIS_EMPTY; i = (i + 1) & mask) {
        sl = &j->slot[i];
        if (sl->h == JTIS_GONE)
            continue;
        if (jtis_expired(sl->exp, now)) {
            sl->h = JTIS_GONE;
            j->live--;
            continue;
        }
        if (sl->h != h)
            continue;
        rc = jtis_same(t, sl->seq, val + 8, len, &same);
        if (rc == ERR_NOTFOUND) {
            sl->h = JTIS_GONE;
            j->live--;
            continue;
        }
        if (rc != ERR_OK)
            return rc;
        if (same) {
            snprintf(why, STATE_WHY_MAX,
                     "the assertion's \"jti\" was used already: an assertion is single use, so "
                     "make a new one (with a new jti) for every request");
            return ERR_CONFLICT;
        }
    }
    /* A replay is refused as one even when there is no room for another use. */
    if (!jtis_room(j, now)) {
        snprintf(why, STATE_WHY_MAX,
                 "%zu assertions used in the last minutes are still remembered, the most this "
                 "service keeps; retry in a minute",
                 j->max_live);
        return ERR_UNAVAIL;
    }
    store_u64_key(j->next_seq, key);
    rc = store_put(t, STORE_JTI, key, 8, val, 8 + len, true, true);
    if (rc != ERR_OK)
        return rc == ERR_CONFLICT ? ERR_STORAGE : rc;
    jtis_place(j, h, j->next_seq, exp);
    j->next_seq++;
    return ERR_OK;
}
