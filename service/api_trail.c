/*
 * api_trail: GET /v1/patients/{nhs}/entries[?from=I] — every log entry about a person, in log
 * order, as the exact bytes the log holds (base64), so that the person can check each one
 * against a signed checkpoint with an inclusion proof, and keep a copy. The person's token, an
 * active delegate's own token, or scope audit, as for /access. A page holds at most
 * API_TRAIL_MAX_ENTRIES entries and about API_TRAIL_MAX_BYTES; "next" then says where the next
 * page starts. Nothing is logged: entries name people.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/api.h"
#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/json.h"
#include "consentd/patients.h"
#include "consentd/trail.h"
#include "consentd/xmalloc.h"

#define API_TRAIL_MAX_ENTRIES 1000
#define API_TRAIL_MAX_BYTES   (8 * 1024 * 1024) /* of entries, before base64 */
#define API_TRAIL_SUFFIX      "/entries"

/* One page being gathered. */
struct api_trail_page {
    cJSON *entries;
    size_t count, bytes;
    uint64_t next; /* the first index not on the page */
    bool more;
};

static enum err
api_trail_one(void *ctx, uint64_t index, const uint8_t *entry, size_t len)
{
    struct api_trail_page *pg = ctx;
    size_t cap = b64_encoded_len(len, B64_STD) + 1;
    char *b64;
    cJSON *o;

    if (pg->count == API_TRAIL_MAX_ENTRIES ||
        (pg->count > 0 && pg->bytes + len > API_TRAIL_MAX_BYTES)) {
        pg->more = true;
        pg->next = index;
        return ERR_EXISTS;
    }
    b64 = xmalloc(cap);
    if (b64_encode(entry, len, B64_STD, b64, cap) != ERR_OK) {
        free(b64);
        return ERR_NOMEM;
    }
    o = cJSON_CreateObject();
    json_add_u64(o, "log_index", index);
    cJSON_AddStringToObject(o, "entry", b64);
    cJSON_AddItemToArray(pg->entries, o);
    free(b64);
    pg->count++;
    pg->bytes += len;
    return ERR_OK;
}

void
api_trail_list(struct http_call *c)
{
    static const char *const names[] = {"from"};
    char nhs[NHS_LEN + 1];
    struct api_trail_page pg = {NULL, 0, 0, 0, false};
    struct store_txn *t = NULL;
    const char *q[1];
    uint64_t from = 0;
    cJSON *j = NULL;
    enum err rc;

    if (!api_patient_reader(c, API_TRAIL_SUFFIX, "entries", &t, nhs))
        return;
    if (!http_query(c, names, 1, q))
        goto out;
    if (q[0] != NULL && !http_parse_u64(q[0], &from)) {
        http_reply_problem(c, 400, "invalid-query", "Invalid query",
                           "\"from\" must be a log index: a whole number written without sign, "
                           "spaces or leading zeros");
        goto out;
    }
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "nhs", nhs);
    pg.entries = cJSON_AddArrayToObject(j, "entries");
    rc = trail_list(t, nhs, from, api_trail_one, &pg);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "cannot list the entries (%s)",
                           err_str(rc));
        goto out;
    }
    if (pg.more)
        json_add_u64(j, "next", pg.next);
    http_reply_json(c, 200, j);
out:
    store_abort(t);
    cJSON_Delete(j);
}
