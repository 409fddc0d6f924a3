/*
 * store: LMDB behind a narrow interface. MDB_NOTLS so read transactions may be used by any one
 * thread; default sync flags so that a commit is durable when it returns.
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "consentd/log.h"
#include "consentd/store.h"
#include "consentd/xmalloc.h"

#define STORE_MAX_READERS 512

static const char *const store_table_names[] = {
    "entries",         "nodes",       "meta",       "orgs",          "clients",
    "patients",        "links",       "pointers",   "by_nhs",        "consents",
    "consents_by_nhs", "delegations", "access",     "access_by_nhs", "revoked",
    "enrol",           "jtis",        "token_keys", "trail"};

/* Every table has a name: adding one to enum store_table without naming it is a build error. */
_Static_assert(sizeof(store_table_names) / sizeof(store_table_names[0]) == STORE_NTABLES,
               "store_table_names must name every enum store_table value");

struct store {
    MDB_env *env;
    MDB_dbi dbi[STORE_NTABLES];
    bool no_space; /* the last write transaction failed for lack of space (see store.h) */
    /* The writer's: the data file is allocated up to here (store_reserve). */
    uint64_t reserved_to;
};

struct store_txn {
    struct store *s;
    MDB_txn *txn;
    bool write;
    bool cached; /* this thread's reusable read transaction */
    bool busy;
};

/*
 * Each thread keeps one read transaction handle and renews it, instead of allocating a reader
 * slot per request (mdb_txn_reset/mdb_txn_renew). A nested read in the same thread gets a
 * fresh one.
 */
static __thread struct store_txn *store_tls_read;

static enum err
store_error(const char *what, int rc)
{
    if (rc == MDB_NOTFOUND)
        return ERR_NOTFOUND;
    if (rc == MDB_KEYEXIST)
        return ERR_CONFLICT;
    log_warnx("store: %s: %s", what, mdb_strerror(rc));
    return ERR_STORAGE;
}

/*
 * store_space_error notes whether a write failed for lack of space in a way that left the
 * environment usable: the map is full (LMDB found out before writing anything), or the file
 * system refused to grow the data file while LMDB wrote its new pages, before the meta page
 * that would have made them current. A failed meta page write is different: LMDB marks the
 * environment broken (MDB_PANIC), and the probe below then fails.
 */
static void
store_space_error(struct store *s, int rc)
{
    MDB_txn *probe = NULL;

    s->no_space = false;
    if (rc == MDB_MAP_FULL) {
        s->no_space = true;
    } else if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG) {
        s->no_space = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &probe) == 0;
        if (probe != NULL)
            mdb_txn_abort(probe);
    }
}

enum err
store_open(const char *dir, uint64_t map_size, struct store **out)
{
    struct store *s = xcalloc(1, sizeof(*s));
    MDB_txn *txn = NULL;
    enum err rc = ERR_STORAGE;
    int r, i;

    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_warn("store: mkdir %s", dir);
        goto out;
    }
    r = mdb_env_create(&s->env);
    if (r != 0) {
        rc = store_error("mdb_env_create", r);
        goto out;
    }
    r = mdb_env_set_maxdbs(s->env, STORE_NTABLES);
    if (r == 0)
        r = mdb_env_set_mapsize(s->env, (size_t)map_size);
    if (r == 0)
        r = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS);
    if (r == 0)
        r = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
    if (r != 0) {
        rc = store_error("mdb_env_open", r);
        goto out;
    }
    r = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (r != 0) {
        rc = store_error("mdb_txn_begin", r);
        goto out;
    }
    for (i = 0; i < STORE_NTABLES; i++) {
        r = mdb_dbi_open(txn, store_table_names[i], MDB_CREATE, &s->dbi[i]);
        if (r != 0) {
            rc = store_error("mdb_dbi_open", r);
            goto out;
        }
    }
    r = mdb_txn_commit(txn);
    txn = NULL;
    if (r != 0) {
        rc = store_error("mdb_txn_commit", r);
        goto out;
    }
    *out = s;
    s = NULL;
    rc = ERR_OK;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (s != NULL) {
        if (s->env != NULL)
            mdb_env_close(s->env);
        free(s);
    }
    return rc;
}

void
store_thread_end(struct store *s)
{
    struct store_txn *t = store_tls_read;

    if (t != NULL && t->s == s) {
        mdb_txn_abort(t->txn);
        free(t);
        store_tls_read = NULL;
    }
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    store_thread_end(s);
    mdb_env_close(s->env);
    free(s);
}

enum err
store_reader_check(struct store *s, int *cleared)
{
    int r = mdb_reader_check(s->env, cleared);

    return r == 0 ? ERR_OK : store_error("mdb_reader_check", r);
}

enum err
store_begin(struct store *s, bool write, struct store_txn **out)
{
    struct store_txn *t = store_tls_read;
    int r;

    if (!write && t != NULL && !t->busy && t->s == s) {
        r = mdb_txn_renew(t->txn);
        if (r == 0) {
            t->busy = true;
            *out = t;
            return ERR_OK;
        }
        mdb_txn_abort(t->txn);
        free(t);
        store_tls_read = NULL;
    }
    t = xcalloc(1, sizeof(*t));
    t->s = s;
    t->write = write;
    if (write)
        s->no_space = false; /* store_out_of_space speaks of this transaction only */
    if (!write && store_tls_read == NULL) {
        t->cached = true;
        t->busy = true;
        store_tls_read = t;
    }
    r = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (r != 0) {
        if (t->cached)
            store_tls_read = NULL;
        free(t);
        *out = NULL;
        return store_error("mdb_txn_begin", r);
    }
    *out = t;
    return ERR_OK;
}

enum err
store_begin_nested(struct store_txn *parent, struct store_txn **out)
{
    struct store_txn *t = xcalloc(1, sizeof(*t));
    int r;

    t->s = parent->s;
    t->write = true;
    r = mdb_txn_begin(parent->s->env, parent->txn, 0, &t->txn);
    if (r != 0) {
        free(t);
        *out = NULL;
        return store_error("mdb_txn_begin (nested)", r);
    }
    *out = t;
    return ERR_OK;
}

enum err
store_commit(struct store_txn *t)
{
    struct store *s;
    bool write;
    int r;

    if (t->cached) {
        mdb_txn_reset(t->txn);
        t->busy = false;
        return ERR_OK;
    }
    r = mdb_txn_commit(t->txn);
    s = t->s;
    write = t->write;
    if (write)
        store_space_error(s, r);
    free(t);
    if (r != 0 && write && s->no_space)
        return ERR_STORAGE; /* the sequencer says so, once */
    return r == 0 ? ERR_OK : store_error("mdb_txn_commit", r);
}

enum err
store_reserve(struct store *s, uint64_t bytes)
{
    MDB_envinfo info;
    struct stat st;
    int fd;

    if (mdb_env_get_fd(s->env, &fd) != 0 || mdb_env_info(s->env, &info) != 0 ||
        fstat(fd, &st) != 0) {
        log_warn("store: cannot see the size of the data file");
        return ERR_STORAGE;
    }
    /* Nothing past the map: a full map is found by LMDB, before anything is written. */
    if ((uint64_t)st.st_size >= info.me_mapsize)
        return ERR_OK;
    if (bytes > info.me_mapsize - (uint64_t)st.st_size)
        bytes = info.me_mapsize - (uint64_t)st.st_size;
    /*
     * Allocating costs a system call and an extent walk per commit, so twice what is asked for
     * is allocated at a time, and nothing while that still covers bytes past the end. Blocks
     * allocated past the end stay allocated: LMDB never truncates the file.
     */
    if ((uint64_t)st.st_size + bytes <= s->reserved_to)
        return ERR_OK;
    if (bytes <= (info.me_mapsize - (uint64_t)st.st_size) / 2 &&
        fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)(2 * bytes)) == 0) {
        s->reserved_to = (uint64_t)st.st_size + 2 * bytes;
        return ERR_OK;
    }
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)bytes) == 0) {
        s->reserved_to = (uint64_t)st.st_size + bytes;
        return ERR_OK;
    }
    if (errno == EOPNOTSUPP) {
        s->reserved_to = UINT64_MAX; /* this file system cannot: do not ask again */
        return ERR_OK;
    }
    if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG) {
        s->no_space = true;
        return ERR_UNAVAIL;
    }
    log_warn("store: reserve space in the data file");
    return ERR_STORAGE;
}

bool
store_out_of_space(const struct store *s)
{
    return s->no_space;
}

void
store_abort(struct store_txn *t)
{
    if (t == NULL)
        return;
    if (t->cached) {
        mdb_txn_reset(t->txn);
        t->busy = false;
        return;
    }
    mdb_txn_abort(t->txn);
    free(t);
}

enum err
store_get(struct store_txn *t, enum store_table table, const void *key, size_t key_len,
          const void **val, size_t *val_len)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key};
    MDB_val v;
    int r;

    *val = NULL;
    *val_len = 0;
    r = mdb_get(t->txn, t->s->dbi[table], &k, &v);
    if (r != 0)
        return store_error("mdb_get", r);
    *val = v.mv_data;
    *val_len = v.mv_size;
    return ERR_OK;
}

enum err
store_put(struct store_txn *t, enum store_table table, const void *key, size_t key_len,
          const void *val, size_t val_len, bool unique, bool append)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key};
    MDB_val v = {val_len, (void *)(uintptr_t)val};
    unsigned flags = (unique ? MDB_NOOVERWRITE : 0) | (append ? MDB_APPEND : 0);
    int r;

    r = mdb_put(t->txn, t->s->dbi[table], &k, &v, flags);
    if (r == MDB_KEYEXIST && unique)
        return ERR_CONFLICT;
    if (r != 0) {
        store_space_error(t->s, r);
        if (t->s->no_space)
            return ERR_STORAGE; /* the sequencer says so, once */
    }
    return r == 0 ? ERR_OK : store_error("mdb_put", r);
}

enum err
store_del(struct store_txn *t, enum store_table table, const void *key, size_t key_len)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key};
    int r = mdb_del(t->txn, t->s->dbi[table], &k, NULL);

    if (r != 0 && r != MDB_NOTFOUND) {
        store_space_error(t->s, r);
        if (t->s->no_space)
            return ERR_STORAGE; /* the sequencer says so, once */
    }
    return r == 0 ? ERR_OK : store_error("mdb_del", r);
}

enum err
store_scan(struct store_txn *t, enum store_table table, const void *prefix, size_t prefix_len,
           store_scan_fn fn, void *ctx)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {prefix_len, (void *)(uintptr_t)prefix};
    MDB_val v;
    enum err rc = ERR_OK;
    int r;

    r = mdb_cursor_open(t->txn, t->s->dbi[table], &cur);
    if (r != 0)
        return store_error("mdb_cursor_open", r);
    r = prefix_len > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                       : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (r == 0) {
        if (prefix_len > 0 &&
            (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0))
            break;
        rc = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        if (rc != ERR_OK)
            break;
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (r != 0 && r != MDB_NOTFOUND)
        rc = store_error("mdb_cursor_get", r);
    mdb_cursor_close(cur);
    return rc == ERR_EXISTS ? ERR_OK : rc;
}

void
store_u64_key(uint64_t v, uint8_t key[static 8])
{
    int i;

    for (i = 7; i >= 0; i--) {
        key[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

enum err
store_u64_val(const void *val, size_t len, uint64_t *v)
{
    const uint8_t *p = val;
    size_t i;

    *v = 0;
    if (len != 8)
        return ERR_STORAGE;
    for (i = 0; i < 8; i++)
        *v = (*v << 8) | p[i];
    return ERR_OK;
}

enum err
store_get_pair(struct store_txn *t, enum store_table table, const char *key, uint64_t *a,
               uint64_t *b)
{
    const void *val;
    size_t len;
    enum err rc;

    *a = 0;
    *b = 0;
    rc = store_get(t, table, key, strlen(key), &val, &len);
    if (rc != ERR_OK)
        return rc;
    if (len != 16)
        return ERR_STORAGE;
    store_u64_val(val, 8, a);
    store_u64_val((const uint8_t *)val + 8, 8, b);
    return ERR_OK;
}

enum err
store_put_pair(struct store_txn *t, enum store_table table, const char *key, uint64_t a, uint64_t b)
{
    uint8_t rec[16];

    store_u64_key(a, rec);
    store_u64_key(b, rec + 8);
    return store_put(t, table, key, strlen(key), rec, sizeof(rec), false, false);
}
