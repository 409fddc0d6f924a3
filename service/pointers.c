/*
 * pointers: the record index, derived from "pointer" and "pointer.retire" entries.
 */
#include <stdio.h>
#include <string.h>

#include <uriparser/Uri.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/jstrict.h"
#include "consentd/pointers.h"
#include "consentd/tlog.h"

#define POINTERS_KEY_MAX (NHS_LEN + 1 + POINTERS_ID_LEN)

/* The record's fields (see pointers.h for the layout). */
struct pointers_record {
    uint64_t index;
    uint64_t retire_index;
    char nhs[NHS_LEN + 1];
    char custodian[POINTERS_ODS_MAX + 1];
    char superseded_by[POINTERS_ID_LEN + 1];
};

bool
pointers_id_valid(const char *id)
{
    uint8_t bin[POINTERS_ID_BYTES];
    size_t n;

    if (strlen(id) != POINTERS_ID_LEN || strchr(id, '_') != NULL)
        return false;
    return b64_decode(id, POINTERS_ID_LEN, B64_URL, bin, sizeof(bin), &n) == ERR_OK &&
           n == POINTERS_ID_BYTES;
}

void
pointers_id_new(char id[static POINTERS_ID_LEN + 1])
{
    uint8_t bin[POINTERS_ID_BYTES];

    /*
     * About seven draws in ten have no '_'; each redraw keeps the id uniform over the ids
     * without one, at a cost of half a bit of the 128.
     */
    do {
        hash_random(bin, sizeof(bin));
        if (b64_encode(bin, sizeof(bin), B64_URL, id, POINTERS_ID_LEN + 1) != ERR_OK)
            id[0] = '_';
    } while (strchr(id, '_') != NULL);
}

static bool
pointers_range_is(const UriTextRangeA *r, const char *s)
{
    size_t n = strlen(s);

    return r->first != NULL && (size_t)(r->afterLast - r->first) == n &&
           strncasecmp(r->first, s, n) == 0;
}

bool
pointers_url_valid(const char *url)
{
    const char *err = NULL;
    bool ok = false;
    UriUriA uri;

    if (strlen(url) == 0 || strlen(url) > POINTERS_URL_MAX)
        return false;
    if (uriParseSingleUriA(&uri, url, &err) != URI_SUCCESS)
        return false;
    if (uri.hostText.first == NULL || uri.hostText.first == uri.hostText.afterLast ||
        uri.fragment.first != NULL || uri.userInfo.first != NULL)
        goto out;
    if (pointers_range_is(&uri.scheme, "https"))
        ok = true;
    else if (pointers_range_is(&uri.scheme, "http"))
        ok = pointers_range_is(&uri.hostText, "127.0.0.1") ||
             pointers_range_is(&uri.hostText, "localhost") ||
             pointers_range_is(&uri.hostText, "::1");
out:
    uriFreeUriMembersA(&uri);
    return ok;
}

/* RFC 6838 §4.2 restricted-name: 1-127 characters, the first a letter or digit. */
static size_t
pointers_mime_name(const char *s)
{
    size_t n = 0;

    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
          (s[0] >= '0' && s[0] <= '9')))
        return 0;
    while (n < 128 && s[n] != '\0' &&
           ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
            (s[n] >= '0' && s[n] <= '9') || strchr("!#$&-^_.+", s[n]) != NULL))
        n++;
    return n > 127 ? 0 : n;
}

/* RFC 9110 token characters. */
static size_t
pointers_token(const char *s)
{
    size_t n = 0;

    while (s[n] != '\0' &&
           ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
            (s[n] >= '0' && s[n] <= '9') || strchr("!#$%&'*+-.^_`|~", s[n]) != NULL))
        n++;
    return n;
}

bool
pointers_content_type_valid(const char *ct)
{
    const char *s = ct;
    size_t n;

    if (strlen(ct) > POINTERS_CTYPE_MAX)
        return false;
    n = pointers_mime_name(s);
    if (n == 0 || s[n] != '/')
        return false;
    s += n + 1;
    n = pointers_mime_name(s);
    if (n == 0)
        return false;
    s += n;
    while (*s != '\0') {
        while (*s == ' ')
            s++;
        if (*s++ != ';')
            return false;
        while (*s == ' ')
            s++;
        n = pointers_token(s);
        if (n == 0 || s[n] != '=')
            return false;
        s += n + 1;
        n = pointers_token(s);
        if (n == 0)
            return false;
        s += n;
    }
    return true;
}

static enum err
pointers_record_get(struct store_txn *t, const char *id, struct pointers_record *r)
{
    const uint8_t *val;
    const void *v;
    size_t len;
    enum err rc;

    memset(r, 0, sizeof(*r));
    rc = store_get(t, STORE_POINTERS, id, strlen(id), &v, &len);
    if (rc != ERR_OK)
        return rc;
    if (len != POINTERS_RECORD)
        return ERR_STORAGE;
    val = v;
    store_u64_val(val, 8, &r->index);
    store_u64_val(val + 8, 8, &r->retire_index);
    memcpy(r->nhs, val + 16, NHS_LEN);
    memcpy(r->custodian, val + 26, POINTERS_ODS_MAX);
    memcpy(r->superseded_by, val + 36, POINTERS_ID_LEN);
    return ERR_OK;
}

static enum err
pointers_record_put(struct store_txn *t, const char *id, const struct pointers_record *r)
{
    uint8_t rec[POINTERS_RECORD];

    memset(rec, 0, sizeof(rec));
    store_u64_key(r->index, rec);
    store_u64_key(r->retire_index, rec + 8);
    memcpy(rec + 16, r->nhs, NHS_LEN);
    memcpy(rec + 26, r->custodian, strnlen(r->custodian, POINTERS_ODS_MAX));
    memcpy(rec + 36, r->superseded_by, strnlen(r->superseded_by, POINTERS_ID_LEN));
    return store_put(t, STORE_POINTERS, id, strlen(id), rec, sizeof(rec), false, false);
}

enum err
pointers_check_end(struct store_txn *t, const char *id, const char *custodian, const char *nhs,
                   char why[static STATE_WHY_MAX])
{
    struct pointers_record r;
    enum err rc;

    rc = pointers_id_valid(id) ? pointers_record_get(t, id, &r) : ERR_NOTFOUND;
    if (rc == ERR_NOTFOUND) {
        snprintf(why, STATE_WHY_MAX, "there is no pointer %.40s", id);
        return rc;
    }
    if (rc != ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "the store failed reading pointer %s", id);
        return rc;
    }
    if (strcmp(r.custodian, custodian) != 0) {
        snprintf(why, STATE_WHY_MAX,
                 "pointer %s was published by another custodian; only the organisation that "
                 "published a pointer may %s it",
                 id, nhs == NULL ? "retire" : "supersede");
        return ERR_AUTH;
    }
    if (nhs != NULL && strcmp(r.nhs, nhs) != 0) {
        snprintf(why, STATE_WHY_MAX,
                 "pointer %s is about another person; a pointer may only supersede one about "
                 "the same person",
                 id);
        return ERR_INVAL;
    }
    if (r.retire_index != 0) {
        snprintf(why, STATE_WHY_MAX, "pointer %s is already retired", id);
        return ERR_CONFLICT;
    }
    if (r.superseded_by[0] != '\0') {
        snprintf(why, STATE_WHY_MAX, "pointer %s is already superseded by %s", id, r.superseded_by);
        return ERR_CONFLICT;
    }
    return ERR_OK;
}

/* pointers_str reads member name of o: a string of 1..max bytes, or NULL. */
static const char *
pointers_str(const cJSON *o, const char *name, size_t max)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsString(m) || m->valuestring[0] == '\0' || strlen(m->valuestring) > max)
        return NULL;
    return m->valuestring;
}

/* pointers_end maps pointers_check_end's answer onto state_apply's codes. */
static enum err
pointers_end(enum err rc)
{
    return rc == ERR_NOTFOUND || rc == ERR_AUTH ? ERR_INVAL : rc;
}

static enum err
pointers_apply_retire(struct store_txn *t, uint64_t index, const cJSON *e,
                      char why[static STATE_WHY_MAX])
{
    const char *id = pointers_str(e, "id", POINTERS_ID_LEN);
    const char *custodian = pointers_str(e, "custodian", POINTERS_ODS_MAX);
    struct pointers_record r;
    enum err rc;

    if (id == NULL || custodian == NULL || pointers_str(e, "reason", POINTERS_REASON_MAX) == NULL) {
        snprintf(why, STATE_WHY_MAX,
                 "a pointer.retire entry needs \"id\", \"custodian\" and a \"reason\" of 1-%d "
                 "bytes",
                 POINTERS_REASON_MAX);
        return ERR_INVAL;
    }
    rc = pointers_check_end(t, id, custodian, NULL, why);
    if (rc != ERR_OK)
        return pointers_end(rc);
    rc = pointers_record_get(t, id, &r);
    if (rc != ERR_OK)
        return ERR_STORAGE;
    r.retire_index = index;
    return pointers_record_put(t, id, &r);
}

static enum err
pointers_apply_new(struct store_txn *t, uint64_t index, const cJSON *e,
                   char why[static STATE_WHY_MAX])
{
    const char *id = pointers_str(e, "id", POINTERS_ID_LEN);
    const char *nhs = pointers_str(e, "nhs", NHS_LEN);
    const char *custodian = pointers_str(e, "custodian", POINTERS_ODS_MAX);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "record_type");
    const cJSON *sup = cJSON_GetObjectItemCaseSensitive(e, "supersedes");
    struct pointers_record r, old;
    uint8_t key[POINTERS_KEY_MAX];
    const void *val;
    uint64_t oi;
    size_t len;
    enum err rc;

    if (id == NULL || !pointers_id_valid(id)) {
        snprintf(why, STATE_WHY_MAX, "a pointer entry needs an \"id\" made by pointers_id_new");
        return ERR_INVAL;
    }
    if (nhs == NULL || !nhs_valid(nhs)) {
        snprintf(why, STATE_WHY_MAX, "a pointer entry needs a valid \"nhs\" number");
        return ERR_INVAL;
    }
    if (custodian == NULL || !state_ods_valid(custodian) ||
        state_org_index(t, custodian, &oi) != ERR_OK) {
        snprintf(why, STATE_WHY_MAX,
                 "a pointer's \"custodian\" must be the ODS code of a registered organisation");
        return ERR_INVAL;
    }
    if (pointers_str(e, "category", POINTERS_CATEGORY_MAX) == NULL || !cJSON_IsObject(type) ||
        pointers_str(type, "system", POINTERS_SYSTEM_MAX) == NULL ||
        pointers_str(type, "code", POINTERS_CODE_MAX) == NULL ||
        pointers_str(type, "display", POINTERS_DISPLAY_MAX) == NULL ||
        pointers_str(e, "url", POINTERS_URL_MAX) == NULL ||
        pointers_str(e, "content_type", POINTERS_CTYPE_MAX) == NULL) {
        snprintf(why, STATE_WHY_MAX,
                 "a pointer entry needs \"category\", \"record_type\" {\"system\", \"code\", "
                 "\"display\"}, \"url\" and \"content_type\" as non-empty strings");
        return ERR_INVAL;
    }
    rc = store_get(t, STORE_POINTERS, id, strlen(id), &val, &len);
    if (rc == ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "pointer %s already exists", id);
        return ERR_CONFLICT;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    if (sup != NULL) {
        if (!cJSON_IsString(sup)) {
            snprintf(why, STATE_WHY_MAX, "a pointer's \"supersedes\" must be a pointer id");
            return ERR_INVAL;
        }
        rc = pointers_check_end(t, sup->valuestring, custodian, nhs, why);
        if (rc != ERR_OK)
            return pointers_end(rc);
        rc = pointers_record_get(t, sup->valuestring, &old);
        if (rc != ERR_OK)
            return ERR_STORAGE;
        snprintf(old.superseded_by, sizeof(old.superseded_by), "%s", id);
        rc = pointers_record_put(t, sup->valuestring, &old);
        if (rc != ERR_OK)
            return rc;
    }
    memset(&r, 0, sizeof(r));
    r.index = index;
    snprintf(r.nhs, sizeof(r.nhs), "%s", nhs);
    snprintf(r.custodian, sizeof(r.custodian), "%s", custodian);
    rc = pointers_record_put(t, id, &r);
    if (rc != ERR_OK)
        return rc;
    memcpy(key, nhs, NHS_LEN);
    key[NHS_LEN] = '/';
    memcpy(key + NHS_LEN + 1, id, POINTERS_ID_LEN);
    return store_put(t, STORE_BY_NHS, key, sizeof(key), "", 0, false, false);
}

enum err
pointers_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
               char why[static STATE_WHY_MAX])
{
    if (strcmp(type, "pointer.retire") == 0)
        return pointers_apply_retire(t, index, e, why);
    return pointers_apply_new(t, index, e, why);
}

/* pointers_copy copies member name of o into out (cap bytes); false if it is not a string. */
static bool
pointers_copy(const cJSON *o, const char *name, char *out, size_t cap)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsString(m) || strlen(m->valuestring) >= cap)
        return false;
    memcpy(out, m->valuestring, strlen(m->valuestring) + 1);
    return true;
}

enum err
pointers_person(struct store_txn *t, const char *id, char nhs[static NHS_LEN + 1])
{
    struct pointers_record r;
    enum err rc;

    nhs[0] = '\0';
    if (!pointers_id_valid(id))
        return ERR_NOTFOUND;
    rc = pointers_record_get(t, id, &r);
    if (rc == ERR_OK)
        memcpy(nhs, r.nhs, NHS_LEN + 1);
    return rc;
}

enum err
pointers_get(struct store_txn *t, const char *id, struct pointers_pointer *out)
{
    const cJSON *type, *sup;
    struct pointers_record r;
    const uint8_t *bytes;
    cJSON *e = NULL;
    size_t len;
    enum err rc;

    memset(out, 0, sizeof(*out));
    if (!pointers_id_valid(id))
        return ERR_NOTFOUND;
    rc = pointers_record_get(t, id, &r);
    if (rc != ERR_OK)
        return rc;
    rc = tlog_entry(t, r.index, &bytes, &len);
    if (rc != ERR_OK)
        return rc == ERR_NOTFOUND ? ERR_STORAGE : rc;
    if (jstrict_parse((const char *)bytes, len, &e, NULL) != ERR_OK)
        return ERR_STORAGE;
    rc = ERR_STORAGE;
    type = cJSON_GetObjectItemCaseSensitive(e, "record_type");
    sup = cJSON_GetObjectItemCaseSensitive(e, "supersedes");
    if (!pointers_copy(e, "category", out->category, sizeof(out->category)) ||
        !cJSON_IsObject(type) ||
        !pointers_copy(type, "system", out->type_system, sizeof(out->type_system)) ||
        !pointers_copy(type, "code", out->type_code, sizeof(out->type_code)) ||
        !pointers_copy(type, "display", out->type_display, sizeof(out->type_display)) ||
        !pointers_copy(e, "url", out->url, sizeof(out->url)) ||
        !pointers_copy(e, "content_type", out->content_type, sizeof(out->content_type)) ||
        !pointers_copy(e, "time", out->created, sizeof(out->created)) ||
        (sup != NULL && !pointers_copy(e, "supersedes", out->supersedes, sizeof(out->supersedes))))
        goto out;
    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->nhs, sizeof(out->nhs), "%s", r.nhs);
    snprintf(out->custodian, sizeof(out->custodian), "%s", r.custodian);
    snprintf(out->superseded_by, sizeof(out->superseded_by), "%s", r.superseded_by);
    out->index = r.index;
    out->retire_index = r.retire_index;
    out->active = r.retire_index == 0 && r.superseded_by[0] == '\0';
    rc = ERR_OK;
out:
    cJSON_Delete(e);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

struct pointers_scan {
    struct store_txn *t;
    bool active_only;
    pointers_list_fn fn;
    void *ctx;
    struct pointers_pointer p;
};

static enum err
pointers_scan_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct pointers_scan *s = ctx;
    char id[POINTERS_ID_LEN + 1];
    enum err rc;

    (void)val;
    if (key_len != POINTERS_KEY_MAX || val_len != 0)
        return ERR_STORAGE;
    memcpy(id, (const char *)key + NHS_LEN + 1, POINTERS_ID_LEN);
    id[POINTERS_ID_LEN] = '\0';
    rc = pointers_get(s->t, id, &s->p);
    if (rc != ERR_OK)
        return rc == ERR_NOTFOUND ? ERR_STORAGE : rc;
    if (s->active_only && !s->p.active)
        return ERR_OK;
    return s->fn(s->ctx, &s->p);
}

enum err
pointers_list(struct store_txn *t, const char *nhs, bool active_only, pointers_list_fn fn,
              void *ctx)
{
    struct pointers_scan s;
    char prefix[NHS_LEN + 2];

    if (!nhs_valid(nhs))
        return ERR_OK;
    memset(&s, 0, sizeof(s));
    s.t = t;
    s.active_only = active_only;
    s.fn = fn;
    s.ctx = ctx;
    snprintf(prefix, sizeof(prefix), "%s/", nhs);
    return store_scan(t, STORE_BY_NHS, prefix, NHS_LEN + 1, pointers_scan_one, &s);
}
