/*
 * rebuild: replay the log into a scratch store and compare the derived state tables.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consentd/log.h"
#include "consentd/rebuild.h"
#include "consentd/state.h"
#include "consentd/tlog.h"

#define REBUILD_MAP   (64ull * 1024 * 1024 * 1024) /* address space only */
#define REBUILD_BATCH 10000                        /* entries per scratch transaction */

static const struct {
    enum store_table table;
    const char *name;
} rebuild_tables[] = {
    {STORE_ORGS, "organisations"},
    {STORE_CLIENTS, "clients"},
    {STORE_PATIENTS, "patients"},
    {STORE_LINKS, "identifier links"},
    {STORE_POINTERS, "pointers"},
    {STORE_BY_NHS, "pointers by person"},
    {STORE_CONSENTS, "consents"},
    {STORE_CONSENTS_BY_NHS, "consents by person"},
    {STORE_DELEGATIONS, "delegations"},
    {STORE_ACCESS, "accesses"},
    {STORE_ACCESS_BY_NHS, "accesses by person"},
    {STORE_TOKEN_KEYS, "token keys"},
    {STORE_TRAIL, "entries by person"},
};

struct rebuild_cmp {
    struct store_txn *other;
    enum store_table table;
    const char *name;
    const char *side; /* which store the scan walks, for the report */
    char *report;
    size_t report_cap;
    uint64_t count;
};

static void
rebuild_key_text(const void *key, size_t len, char out[static 80])
{
    const unsigned char *k = key;
    size_t i, n = 0;

    for (i = 0; i < len && n < 70; i++)
        n +=
            (size_t)snprintf(out + n, 80 - n, k[i] >= 0x20 && k[i] < 0x7f ? "%c" : "\\x%02x", k[i]);
    out[n] = '\0';
}

/* Every key of one store must be in the other with the same value. */
static enum err
rebuild_cmp_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct rebuild_cmp *c = ctx;
    const void *oval;
    size_t olen;
    char k[80];
    enum err rc;

    c->count++;
    rc = store_get(c->other, c->table, key, key_len, &oval, &olen);
    if (rc == ERR_STORAGE)
        return rc;
    if (rc == ERR_OK && olen == val_len && memcmp(oval, val, val_len) == 0)
        return ERR_OK;
    rebuild_key_text(key, key_len, k);
    snprintf(c->report, c->report_cap, "%s: key \"%s\" is %s in the %s state%s", c->name, k,
             rc == ERR_NOTFOUND ? "missing" : "different", c->side,
             rc == ERR_NOTFOUND ? "" : " (values differ)");
    return ERR_CONFLICT;
}

static enum err
rebuild_replay(struct store *live, struct store *fresh, char *report, size_t report_cap,
               uint64_t *entries)
{
    char why[STATE_WHY_MAX];
    uint8_t leaf[HASH_BYTES];
    struct merkle_range range;
    struct store_txn *r = NULL, *w = NULL;
    const uint8_t *bytes;
    uint64_t size, i;
    size_t len;
    enum err rc;

    merkle_range_init(&range);
    rc = store_begin(live, false, &r);
    if (rc == ERR_OK)
        rc = tlog_size(r, &size);
    for (i = 0; rc == ERR_OK && i < size; i++) {
        if (w == NULL) {
            rc = store_begin(fresh, true, &w);
            if (rc != ERR_OK)
                break;
        }
        rc = tlog_entry(r, i, &bytes, &len);
        if (rc != ERR_OK)
            break;
        rc = state_apply(w, i, bytes, len, why);
        if (rc == ERR_CONFLICT || rc == ERR_INVAL) {
            snprintf(report, report_cap, "entry %llu is refused on replay: %s",
                     (unsigned long long)i, why);
            rc = ERR_CONFLICT;
            break;
        }
        /* State functions read earlier entries (a patient's current key): keep the log too. */
        if (rc == ERR_OK)
            rc = tlog_append(w, &range, bytes, len, leaf);
        if (rc == ERR_OK && (i + 1) % REBUILD_BATCH == 0) {
            rc = store_commit(w);
            w = NULL;
        }
    }
    if (rc == ERR_OK && w != NULL) {
        rc = store_commit(w);
        w = NULL;
    }
    store_abort(w);
    store_abort(r);
    *entries = i;
    return rc;
}

void
rebuild_remove(const char *dir)
{
    char path[4096];
    struct dirent *e;
    DIR *d = opendir(dir);

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

enum err
rebuild_compare_stores(struct store *stored, struct store *rebuilt, char *report, size_t report_cap)
{
    struct store_txn *a = NULL, *b = NULL;
    struct rebuild_cmp c;
    uint64_t live_count;
    size_t i;
    enum err rc;

    report[0] = '\0';
    rc = store_begin(stored, false, &a);
    if (rc == ERR_OK)
        rc = store_begin(rebuilt, false, &b);
    for (i = 0; rc == ERR_OK && i < sizeof(rebuild_tables) / sizeof(rebuild_tables[0]); i++) {
        memset(&c, 0, sizeof(c));
        c.table = rebuild_tables[i].table;
        c.name = rebuild_tables[i].name;
        c.report = report;
        c.report_cap = report_cap;
        c.other = b;
        c.side = "rebuilt";
        rc = store_scan(a, c.table, NULL, 0, rebuild_cmp_one, &c);
        live_count = c.count;
        if (rc != ERR_OK)
            break;
        c.count = 0;
        c.other = a;
        c.side = "stored";
        rc = store_scan(b, c.table, NULL, 0, rebuild_cmp_one, &c);
        if (rc == ERR_OK && c.count != live_count) {
            snprintf(report, report_cap, "%s: %llu stored, %llu rebuilt", c.name,
                     (unsigned long long)live_count, (unsigned long long)c.count);
            rc = ERR_CONFLICT;
        }
    }
    store_abort(b);
    store_abort(a);
    return rc;
}

enum err
rebuild_compare(struct store *live, const char *scratch_dir, char *report, size_t report_cap,
                uint64_t *entries)
{
    struct store *fresh = NULL;
    enum err rc;

    report[0] = '\0';
    *entries = 0;
    if (mkdir(scratch_dir, 0700) != 0) {
        log_warn("rebuild: cannot make %s", scratch_dir);
        return ERR_IO;
    }
    rc = store_open(scratch_dir, REBUILD_MAP, &fresh);
    if (rc == ERR_OK)
        rc = rebuild_replay(live, fresh, report, report_cap, entries);
    if (rc == ERR_OK)
        rc = rebuild_compare_stores(live, fresh, report, report_cap);
    store_close(fresh);
    rebuild_remove(scratch_dir);
    return rc;
}
