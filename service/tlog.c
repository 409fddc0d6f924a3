/*
 * tlog: entries and perfect-subtree hashes in the store, proofs through crypto/merkle.
 */
#include <string.h>

#include "consentd/crashpoint.h"
#include "consentd/log.h"
#include "consentd/tlog.h"

#define TLOG_NODE_KEY 9

static const char tlog_size_key[] = "size";

static void
tlog_node_key(unsigned level, uint64_t index, uint8_t key[static TLOG_NODE_KEY])
{
    key[0] = (uint8_t)level;
    store_u64_key(index, key + 1);
}

static enum err
tlog_subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[static HASH_BYTES])
{
    enum err rc = tlog_node(ctx, level, index, out);

    if (rc == ERR_NOTFOUND) {
        /* Every perfect subtree below the size is stored: a missing one is corruption. */
        log_warnx("tlog: subtree %u/%llu missing from the store", level, (unsigned long long)index);
        return ERR_STORAGE;
    }
    return rc;
}

static enum err
tlog_store_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[static HASH_BYTES])
{
    struct store_txn *t = ctx;
    uint8_t key[TLOG_NODE_KEY];

    tlog_node_key(level, index, key);
    return store_put(t, STORE_NODES, key, sizeof(key), hash, HASH_BYTES, false, false);
}

enum err
tlog_size(struct store_txn *t, uint64_t *size)
{
    const void *val;
    size_t len;
    enum err rc;

    *size = 0;
    rc = store_get(t, STORE_META, tlog_size_key, sizeof(tlog_size_key) - 1, &val, &len);
    if (rc == ERR_NOTFOUND)
        return ERR_OK;
    if (rc != ERR_OK)
        return rc;
    return store_u64_val(val, len, size);
}

enum err
tlog_append(struct store_txn *t, struct merkle_range *r, const uint8_t *entry, size_t len,
            uint8_t leaf[static HASH_BYTES])
{
    uint8_t key[8];
    enum err rc;

    if (len == 0 || len > TLOG_MAX_ENTRY)
        return ERR_TOOBIG;
    store_u64_key(r->size, key);
    rc = store_put(t, STORE_ENTRIES, key, sizeof(key), entry, len, true, true);
    if (rc != ERR_OK)
        return rc == ERR_CONFLICT ? ERR_STORAGE : rc;
    /* A test build may flip a bit of the caller's copy here: stored and hashed bytes differ. */
    CRASHPOINT_FLIP(FLIP_ENTRY, (void *)(uintptr_t)entry, len);
    merkle_leaf_hash(entry, len, leaf);
    rc = merkle_range_append(r, leaf, tlog_store_node, t);
    if (rc != ERR_OK)
        return rc;
    store_u64_key(r->size, key);
    return store_put(t, STORE_META, tlog_size_key, sizeof(tlog_size_key) - 1, key, sizeof(key),
                     false, false);
}

enum err
tlog_entry(struct store_txn *t, uint64_t index, const uint8_t **bytes, size_t *len)
{
    uint8_t key[8];
    const void *val;
    enum err rc;

    store_u64_key(index, key);
    rc = store_get(t, STORE_ENTRIES, key, sizeof(key), &val, len);
    *bytes = val;
    return rc;
}

enum err
tlog_node(struct store_txn *t, unsigned level, uint64_t index, uint8_t out[static HASH_BYTES])
{
    uint8_t key[TLOG_NODE_KEY];
    const void *val;
    size_t len;
    enum err rc;

    tlog_node_key(level, index, key);
    rc = store_get(t, STORE_NODES, key, sizeof(key), &val, &len);
    if (rc != ERR_OK)
        return rc;
    if (len != HASH_BYTES)
        return ERR_STORAGE;
    memcpy(out, val, HASH_BYTES);
    return ERR_OK;
}

enum err
tlog_leaf(struct store_txn *t, uint64_t index, uint8_t out[static HASH_BYTES])
{
    return tlog_subtree(t, 0, index, out);
}

enum err
tlog_root(struct store_txn *t, uint64_t size, uint8_t out[static HASH_BYTES])
{
    return merkle_root(tlog_subtree, t, size, out);
}

enum err
tlog_range(struct store_txn *t, uint64_t size, struct merkle_range *r)
{
    return merkle_range_load(r, size, tlog_subtree, t);
}

enum err
tlog_inclusion(struct store_txn *t, uint64_t index, uint64_t size, uint8_t proof[][HASH_BYTES],
               size_t *count)
{
    return merkle_inclusion_proof(tlog_subtree, t, index, size, proof, count);
}

enum err
tlog_consistency(struct store_txn *t, uint64_t from, uint64_t to, uint8_t proof[][HASH_BYTES],
                 size_t *count)
{
    return merkle_consistency_proof(tlog_subtree, t, from, to, proof, count);
}
