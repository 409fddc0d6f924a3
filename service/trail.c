/*
 * trail: the index of a person's log entries. The person an entry is about is read from the
 * entry as its own module wrote it, so the index needs no state of its own beyond the keys.
 */
#include <string.h>

#include "consentd/jws.h"
#include "consentd/pointers.h"
#include "consentd/tlog.h"
#include "consentd/trail.h"

#define TRAIL_KEY_LEN (NHS_LEN + 1 + 8)

/* The entry types whose "nhs" member names their person. */
static const char *const trail_nhs_types[] = {"patient.enrol", "patient.key", "identity.link",
                                              "pointer", "access"};

/* trail_copy copies s into nhs if it is a valid NHS number. */
static enum err
trail_copy(const cJSON *s, char nhs[static NHS_LEN + 1])
{
    if (!cJSON_IsString(s) || !nhs_valid(s->valuestring))
        return ERR_NOTFOUND;
    memcpy(nhs, s->valuestring, NHS_LEN + 1);
    return ERR_OK;
}

/*
 * trail_jws_sub reads the "sub" of the payload of the entry's "jws" without verifying it: the
 * entry's own module verified it before this runs.
 */
static enum err
trail_jws_sub(const cJSON *jws, char nhs[static NHS_LEN + 1])
{
    struct jws_parts p;
    enum err rc;

    if (!cJSON_IsString(jws))
        return ERR_NOTFOUND;
    rc = jws_decode(jws->valuestring, strlen(jws->valuestring), &p, NULL);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != ERR_OK)
        return ERR_NOTFOUND;
    rc = trail_copy(cJSON_GetObjectItemCaseSensitive(p.payload, "sub"), nhs);
    jws_parts_clear(&p);
    return rc;
}

enum err
trail_subject(struct store_txn *t, const char *type, const cJSON *e, char nhs[static NHS_LEN + 1])
{
    const cJSON *jws = cJSON_GetObjectItemCaseSensitive(e, "jws");
    const cJSON *id, *paper;
    enum err rc;
    size_t i;

    nhs[0] = '\0';
    for (i = 0; i < sizeof(trail_nhs_types) / sizeof(trail_nhs_types[0]); i++)
        if (strcmp(type, trail_nhs_types[i]) == 0)
            return trail_copy(cJSON_GetObjectItemCaseSensitive(e, "nhs"), nhs);
    if (strcmp(type, "consent") == 0 || strcmp(type, "consent.revoke") == 0) {
        if (jws != NULL)
            return trail_jws_sub(jws, nhs);
        paper = cJSON_GetObjectItemCaseSensitive(e, "paper");
        return trail_copy(cJSON_GetObjectItemCaseSensitive(paper, "sub"), nhs);
    }
    if (strcmp(type, "delegation") == 0) {
        if (jws != NULL)
            return trail_jws_sub(jws, nhs);
        return trail_copy(cJSON_GetObjectItemCaseSensitive(e, "nhs"), nhs);
    }
    if (strcmp(type, "pointer.retire") != 0)
        return ERR_NOTFOUND;
    id = cJSON_GetObjectItemCaseSensitive(e, "id");
    if (!cJSON_IsString(id))
        return ERR_NOTFOUND;
    /* pointers_apply has just checked that the pointer exists: not finding it is a fault. */
    rc = pointers_person(t, id->valuestring, nhs);
    return rc == ERR_NOTFOUND ? ERR_STORAGE : rc;
}

enum err
trail_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e)
{
    uint8_t key[TRAIL_KEY_LEN];
    char nhs[NHS_LEN + 1];
    enum err rc;

    rc = trail_subject(t, type, e, nhs);
    if (rc == ERR_NOTFOUND)
        return ERR_OK;
    if (rc != ERR_OK)
        return rc;
    memcpy(key, nhs, NHS_LEN);
    key[NHS_LEN] = '/';
    store_u64_key(index, key + NHS_LEN + 1);
    return store_put(t, STORE_TRAIL, key, sizeof(key), "", 0, false, false);
}

struct trail_scan {
    struct store_txn *t;
    uint64_t from;
    trail_list_fn fn;
    void *ctx;
};

static enum err
trail_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct trail_scan *x = ctx;
    const uint8_t *bytes;
    uint64_t index;
    size_t len;
    enum err rc;

    (void)val;
    (void)val_len;
    if (key_len != TRAIL_KEY_LEN)
        return ERR_STORAGE;
    rc = store_u64_val((const uint8_t *)key + NHS_LEN + 1, 8, &index);
    if (rc != ERR_OK || index < x->from)
        return rc;
    rc = tlog_entry(x->t, index, &bytes, &len);
    if (rc == ERR_NOTFOUND)
        rc = ERR_STORAGE;
    if (rc != ERR_OK)
        return rc;
    return x->fn(x->ctx, index, bytes, len);
}

enum err
trail_list(struct store_txn *t, const char *nhs, uint64_t from, trail_list_fn fn, void *ctx)
{
    struct trail_scan x = {t, from, fn, ctx};
    char prefix[NHS_LEN + 1];

    if (nhs == NULL || !nhs_valid(nhs))
        return ERR_OK;
    memcpy(prefix, nhs, NHS_LEN);
    prefix[NHS_LEN] = '/';
    return store_scan(t, STORE_TRAIL, prefix, sizeof(prefix), trail_one, &x);
}
