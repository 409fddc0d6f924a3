/*
 * fuzz_state: log entries through state_apply, the one function that derives every state table
 * from the log, as a replay (consentd serve --rebuild, the auditor) runs it: entry after entry
 * in one write transaction, each appended to the log when it is allowed, in a store whose
 * transaction is aborted at the end so every input starts from the empty log.
 *
 * The input is entries, one per line. Invariants: a refused entry has a sentence and an error
 * that refuses (never a storage failure) and, as state.h promises, wrote nothing (every table
 * reads the same before and after); and replaying the same entries again gives the same
 * verdicts and the same root, since the state is a deterministic function of the log.
 */
#include <string.h>

#include "consentd/state.h"
#include "consentd/tlog.h"
#include "fuzzutil.h"

#define MAX_ENTRIES 256 /* lines looked at per input */

/* A digest of every table: FNV-1a over each key and value with their lengths. */
static enum err
digest_scan(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    uint64_t *h = ctx;
    const uint8_t *parts[2] = {key, val};
    size_t lens[2] = {key_len, val_len}, i, j;

    for (i = 0; i < 2; i++) {
        for (j = 0; j < sizeof(lens[i]); j++)
            *h = (*h ^ ((lens[i] >> (8 * j)) & 0xff)) * UINT64_C(0x100000001b3);
        for (j = 0; j < lens[i]; j++)
            *h = (*h ^ parts[i][j]) * UINT64_C(0x100000001b3);
    }
    return ERR_OK;
}

static uint64_t
digest(struct store_txn *t)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    int table;

    for (table = 0; table < STORE_NTABLES; table++)
        if (store_scan(t, (enum store_table)table, NULL, 0, digest_scan, &h) != ERR_OK)
            fz_fail("store_scan failed");
    return h;
}

/* replay applies the lines of data[0..size), setting accepted[i] and the resulting root. */
static void
replay(const uint8_t *data, size_t size, bool accepted[static MAX_ENTRIES], unsigned *n,
       uint8_t root[static HASH_BYTES])
{
    char why[STATE_WHY_MAX];
    uint8_t leaf[HASH_BYTES];
    struct store_txn *t = NULL;
    struct merkle_range r;
    const uint8_t *p = data, *end = data + size, *nl;
    uint64_t before;
    size_t len;
    enum err rc;

    *n = 0;
    if (store_begin(fz_store(), true, &t) != ERR_OK)
        fz_fail("store_begin failed");
    merkle_range_init(&r);
    while (p < end && *n < MAX_ENTRIES) {
        nl = memchr(p, '\n', (size_t)(end - p));
        len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (len == 0 || len > TLOG_MAX_ENTRY) {
            /* The log cannot hold it: the sequencer refuses it before state_apply. */
            accepted[(*n)++] = false;
            p += len + 1;
            continue;
        }
        before = digest(t);
        rc = state_apply(t, r.size, p, len, why);
        accepted[*n] = rc == ERR_OK;
        if (rc == ERR_OK) {
            rc = tlog_append(t, &r, p, len, leaf);
            if (rc != ERR_OK)
                fz_fail("tlog_append of an allowed entry failed: %s", err_str(rc));
        } else if ((rc != ERR_INVAL && rc != ERR_CONFLICT) || why[0] == '\0') {
            fz_fail("state_apply refused with %s and \"%s\"", err_str(rc), why);
        } else if (digest(t) != before) {
            fz_fail("state_apply refused entry %u (%s) but changed the state", *n, why);
        }
        (*n)++;
        p += len + 1;
    }
    merkle_range_root(&r, root);
    store_abort(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool a1[MAX_ENTRIES], a2[MAX_ENTRIES];
    uint8_t r1[HASH_BYTES], r2[HASH_BYTES];
    unsigned n1, n2;

    replay(data, size, a1, &n1, r1);
    replay(data, size, a2, &n2, r2);
    if (n1 != n2 || memcmp(a1, a2, n1 * sizeof(a1[0])) != 0 || memcmp(r1, r2, HASH_BYTES) != 0)
        fz_fail("the same entries replayed twice gave different states");
    return 0;
}
