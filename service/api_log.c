/*
 * api_log: the verifiable log over HTTP: checkpoint, verifier key, inclusion and consistency
 * proofs and C2SP hash tiles (anyone), and entries and entry bundles (auditors). Proofs and
 * tiles are answered only for sizes up to the latest signed checkpoint, since a hash is only
 * useful against a root someone can verify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/api.h"
#include "consentd/b64.h"
#include "consentd/json.h"
#include "consentd/tiles.h"
#include "consentd/tlog.h"

#define API_LOG_MAX_ENTRIES 1000
#define API_LOG_MAX_BYTES   (8 * 1024 * 1024) /* answer fewer entries rather than more */
#define API_LOG_HASH_B64    45                /* base64 of 32 bytes, with the NUL */
#define API_LOG_PROOF_JSON  (128 + (MERKLE_MAX_PROOF + 1) * (API_LOG_HASH_B64 + 3))

/*
 * A tile's path names bytes that never change: a partial tile is the first W hashes (or
 * entries) of its tile, forever. Entry bundles name people, so only private caches may keep
 * them.
 */
#define API_LOG_TILE_CACHE   "public, max-age=31536000, immutable"
#define API_LOG_BUNDLE_CACHE "private, max-age=31536000, immutable"

/*
 * api_log_proof_json answers {<head>,"proof":["<b64>",…]} where head holds the members before
 * the proof, already formatted. Built by hand: a proof is at most 64 fixed-size hashes, and
 * this is the hottest read path.
 */
static void
api_log_proof_json(struct http_call *c, const char *head, uint8_t proof[][HASH_BYTES], size_t count)
{
    char buf[API_LOG_PROOF_JSON];
    size_t len, i;
    int n;

    n = snprintf(buf, sizeof(buf), "{%s,\"proof\":[", head);
    len = n > 0 ? (size_t)n : 0;
    for (i = 0; i < count && len + API_LOG_HASH_B64 + 4 < sizeof(buf); i++) {
        buf[len++] = i == 0 ? '"' : ',';
        if (i > 0)
            buf[len++] = '"';
        if (b64_encode(proof[i], HASH_BYTES, B64_STD, buf + len, sizeof(buf) - len) != ERR_OK)
            break;
        len += strlen(buf + len);
        buf[len++] = '"';
    }
    buf[len++] = ']';
    buf[len++] = '}';
    http_reply(c, 200, "application/json", buf, len);
}

static uint64_t
api_log_published_size(struct http_call *c)
{
    return sequencer_size(http_app_of(c)->seq);
}

static bool
api_log_u64_param(struct http_call *c, const char *name, const char *value, uint64_t *v)
{
    if (value == NULL) {
        http_reply_problem(c, 400, "invalid-query", "Invalid query",
                           "the query parameter \"%s\" is required", name);
        return false;
    }
    if (!http_parse_u64(value, v)) {
        http_reply_problem(c, 400, "invalid-query", "Invalid query",
                           "\"%s\" must be a whole number written without sign, spaces or "
                           "leading zeros",
                           name);
        return false;
    }
    return true;
}

static void
api_log_store_failed(struct http_call *c, enum err rc)
{
    http_reply_problem(c, 500, "storage", "Storage failure",
                       "the log could not be read (%s); try again, and tell the operator if it "
                       "persists",
                       err_str(rc));
}

void
api_log_checkpoint(struct http_call *c)
{
    char note[CKPT_RECORD];
    uint64_t size;
    size_t len;

    sequencer_checkpoint(http_app_of(c)->seq, note, &len, &size);
    http_reply(c, 200, "text/plain; charset=utf-8", note, len);
}

void
api_log_key(struct http_call *c)
{
    char body[NOTE_VKEY_MAX + 2];
    int n = snprintf(body, sizeof(body), "%s\n", http_app_of(c)->log_key);

    http_reply(c, 200, "text/plain; charset=utf-8", body, (size_t)n);
}

void
api_log_inclusion(struct http_call *c)
{
    static const char *const names[] = {"index", "size"};
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], leaf[HASH_BYTES];
    char head[160], leaf_b64[API_LOG_HASH_B64];
    const char *q[2];
    struct store_txn *t = NULL;
    uint64_t index, size, published;
    size_t count;
    enum err rc;

    if (!http_query(c, names, 2, q) || !api_log_u64_param(c, "index", q[0], &index) ||
        !api_log_u64_param(c, "size", q[1], &size))
        return;
    published = api_log_published_size(c);
    if (published == 0) {
        http_reply_problem(c, 400, "beyond-tree", "Empty log",
                           "the log is empty: there is nothing to prove until an entry is "
                           "appended");
        return;
    }
    if (size == 0 || size > published) {
        http_reply_problem(c, 400, "beyond-tree", "Size beyond the tree",
                           "size must be from 1 to %llu, the size of the latest signed "
                           "checkpoint (GET /log/checkpoint)",
                           (unsigned long long)published);
        return;
    }
    if (index >= size) {
        http_reply_problem(c, 400, "beyond-tree", "Index beyond the tree",
                           "index must be less than size (%llu)", (unsigned long long)size);
        return;
    }
    rc = store_begin(http_app_of(c)->store, false, &t);
    if (rc == ERR_OK)
        rc = tlog_inclusion(t, index, size, proof, &count);
    if (rc == ERR_OK)
        rc = tlog_leaf(t, index, leaf);
    store_abort(t);
    if (rc == ERR_OK)
        rc = b64_encode(leaf, HASH_BYTES, B64_STD, leaf_b64, sizeof(leaf_b64));
    if (rc != ERR_OK) {
        api_log_store_failed(c, rc);
        return;
    }
    snprintf(head, sizeof(head), "\"index\":%llu,\"size\":%llu,\"leaf_hash\":\"%s\"",
             (unsigned long long)index, (unsigned long long)size, leaf_b64);
    api_log_proof_json(c, head, proof, count);
}

void
api_log_consistency(struct http_call *c)
{
    static const char *const names[] = {"from", "to"};
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES];
    char head[96];
    const char *q[2];
    struct store_txn *t = NULL;
    uint64_t from, to, published;
    size_t count;
    enum err rc;

    if (!http_query(c, names, 2, q) || !api_log_u64_param(c, "from", q[0], &from) ||
        !api_log_u64_param(c, "to", q[1], &to))
        return;
    published = api_log_published_size(c);
    if (to > published) {
        http_reply_problem(c, 400, "beyond-tree", "Size beyond the tree",
                           "to must be at most %llu, the size of the latest signed checkpoint",
                           (unsigned long long)published);
        return;
    }
    if (from == 0 || from > to) {
        http_reply_problem(c, 400, "invalid-range", "Invalid range",
                           "from must be from 1 to the value of to (%llu); every tree is "
                           "consistent with the empty one",
                           (unsigned long long)to);
        return;
    }
    rc = store_begin(http_app_of(c)->store, false, &t);
    if (rc == ERR_OK)
        rc = tlog_consistency(t, from, to, proof, &count);
    store_abort(t);
    if (rc != ERR_OK) {
        api_log_store_failed(c, rc);
        return;
    }
    snprintf(head, sizeof(head), "\"from\":%llu,\"to\":%llu", (unsigned long long)from,
             (unsigned long long)to);
    api_log_proof_json(c, head, proof, count);
}

void
api_log_entries(struct http_call *c)
{
    static const char *const names[] = {"start", "end"};
    struct token_claims who;
    bool is_admin;
    const char *q[2];
    struct store_txn *t = NULL;
    uint64_t start, end, published, i;
    const uint8_t *bytes;
    size_t len, total = 0, cap = 0;
    char *b = NULL;
    cJSON *j, *arr;
    enum err rc = ERR_OK;

    if (!http_require_admin_or_token(c, TOKEN_SCOPE_AUDIT, &who, &is_admin))
        return;
    if (!http_query(c, names, 2, q) || !api_log_u64_param(c, "start", q[0], &start) ||
        !api_log_u64_param(c, "end", q[1], &end))
        return;
    published = api_log_published_size(c);
    if (end > published) {
        http_reply_problem(c, 400, "beyond-tree", "Beyond the tree",
                           "end must be at most %llu, the size of the latest signed checkpoint",
                           (unsigned long long)published);
        return;
    }
    if (start >= end || end - start > API_LOG_MAX_ENTRIES) {
        http_reply_problem(c, 400, "invalid-range", "Invalid range",
                           "start must be less than end, and at most %d entries are served per "
                           "call (end is exclusive)",
                           API_LOG_MAX_ENTRIES);
        return;
    }
    j = cJSON_CreateObject();
    json_add_u64(j, "start", start);
    arr = cJSON_AddArrayToObject(j, "entries");
    rc = store_begin(http_app_of(c)->store, false, &t);
    for (i = start; rc == ERR_OK && i < end; i++) {
        rc = tlog_entry(t, i, &bytes, &len);
        if (rc != ERR_OK)
            break;
        /* Stop before the answer would pass the cap; the caller continues from there. */
        total += b64_encoded_len(len, B64_STD) + 3;
        if (i > start && total > API_LOG_MAX_BYTES)
            break;
        if (b64_encoded_len(len, B64_STD) + 1 > cap) {
            cap = b64_encoded_len(len, B64_STD) + 1;
            free(b);
            b = malloc(cap);
            if (b == NULL) {
                rc = ERR_NOMEM;
                break;
            }
        }
        rc = b64_encode(bytes, len, B64_STD, b, cap);
        if (rc == ERR_OK)
            cJSON_AddItemToArray(arr, cJSON_CreateString(b));
    }
    store_abort(t);
    free(b);
    if (rc != ERR_OK)
        api_log_store_failed(c, rc);
    else
        http_reply_json(c, 200, j);
    cJSON_Delete(j);
}

void
api_log_tile(struct http_call *c)
{
    struct tiles_path p;
    struct token_claims who;
    bool is_admin;
    char why[TILES_WHY_MAX];
    const char *rest;
    struct store_txn *t = NULL;
    uint8_t hashes[TILES_MAX_HASH], *bundle = NULL;
    uint64_t published;
    size_t len;
    unsigned have;
    enum err rc;

    rest = http_path_param(c, &len);
    if (!http_query(c, NULL, 0, NULL))
        return;
    if (tiles_parse(rest, len, &p, why) != ERR_OK) {
        http_reply_problem(c, 400, "invalid-tile-path", "Invalid tile path", "%s", why);
        return;
    }
    /* Entries name people: only auditors see them. Hash tiles are public, like proofs. */
    if (p.entries && !http_require_admin_or_token(c, TOKEN_SCOPE_AUDIT, &who, &is_admin))
        return;
    published = api_log_published_size(c);
    have = tiles_width(published, p.entries ? 0 : p.level, p.index);
    if (have < p.width) {
        if (have == 0)
            http_reply_problem(c, 404, "beyond-tree", "Tile beyond the tree",
                               "the tree of the latest signed checkpoint (%llu entries) has no "
                               "such tile",
                               (unsigned long long)published);
        else
            http_reply_problem(c, 404, "beyond-tree", "Tile beyond the tree",
                               "the tree of the latest signed checkpoint (%llu entries) has "
                               "only %u of the %u %s asked for; ask for .p/%u",
                               (unsigned long long)published, have, p.width,
                               p.entries ? "entries" : "hashes", have);
        return;
    }
    rc = store_begin(http_app_of(c)->store, false, &t);
    if (rc == ERR_OK)
        rc = p.entries ? tiles_entry_bundle(t, published, &p, &bundle, &len)
                       : tiles_hashes(t, published, &p, hashes, &len);
    store_abort(t);
    if (rc != ERR_OK) {
        api_log_store_failed(c, rc);
        return;
    }
    http_add_header(c, "cache-control", p.entries ? API_LOG_BUNDLE_CACHE : API_LOG_TILE_CACHE);
    http_reply(c, 200, "application/octet-stream",
               p.entries ? (const char *)bundle : (const char *)hashes, len);
    free(bundle);
}
