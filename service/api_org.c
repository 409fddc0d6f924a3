/*
 * api_org: POST /v1/orgs registers an organisation (admin). The handler checks the shape of
 * the request; the sequencer decides, in log order, whether the ODS code is new. GET /v1/orgs
 * lists the registered organisations (anyone: ODS codes and names are public), so that the
 * patient app can name the organisations it shows and offers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uriparser/Uri.h>

#include "consentd/api.h"
#include "consentd/b64.h"
#include "consentd/json.h"
#include "consentd/jstrict.h"
#include "consentd/tlog.h"

#define API_ORG_NAME_MAX 200
#define API_ORG_URL_MAX  2048
#define API_ORG_LIST_MAX 10000 /* organisations one listing holds */

static bool
api_org_range_is(const UriTextRangeA *r, const char *s)
{
    size_t n = strlen(s);

    return r->first != NULL && (size_t)(r->afterLast - r->first) == n &&
           strncasecmp(r->first, s, n) == 0;
}

/*
 * An endpoint is an absolute https URL with a host and no fragment or credentials; http is
 * allowed only on loopback hosts, for development.
 */
static bool
api_org_endpoint_ok(const char *s)
{
    UriUriA uri;
    const char *err = NULL;
    bool ok = false;

    if (uriParseSingleUriA(&uri, s, &err) != URI_SUCCESS)
        return false;
    if (uri.hostText.first == NULL || uri.hostText.first == uri.hostText.afterLast ||
        uri.fragment.first != NULL || uri.userInfo.first != NULL)
        goto out;
    if (api_org_range_is(&uri.scheme, "https"))
        ok = true;
    else if (api_org_range_is(&uri.scheme, "http"))
        ok = api_org_range_is(&uri.hostText, "127.0.0.1") ||
             api_org_range_is(&uri.hostText, "localhost") || api_org_range_is(&uri.hostText, "::1");
out:
    uriFreeUriMembersA(&uri);
    return ok;
}

static void
api_org_created(struct http_call *c, const struct seq_write *w)
{
    char leaf[48];
    cJSON *j;

    if (w->rc == ERR_OK) {
        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "ods", http_user(c));
        json_add_u64(j, "log_index", w->index);
        if (b64_encode(w->leaf, HASH_BYTES, B64_STD, leaf, sizeof(leaf)) == ERR_OK)
            cJSON_AddStringToObject(j, "leaf_hash", leaf);
        json_add_u64(j, "checkpoint_size", w->checkpoint_size);
        http_reply_json(c, 201, j);
        cJSON_Delete(j);
        return;
    }
    if (w->rc == ERR_CONFLICT) {
        http_reply_problem(c, 409, "conflict", "Already registered",
                           "%s; an ODS code is registered once", w->why);
        return;
    }
    http_reply_write_failed(c, w);
}

void
api_org_create(struct http_call *c)
{
    static const char *const members[] = {"ods", "name", "type", "endpoint"};
    const char *ods, *name, *type, *endpoint;
    char why[JSON_WHY_MAX], types[160];
    cJSON *body, *fields = NULL;
    char *text = NULL;
    size_t len;
    enum err rc;

    if (!http_require_admin(c))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, 4, why);
    if (rc == ERR_OK)
        rc = json_string(body, "ods", true, 1, 64, &ods, why);
    if (rc == ERR_OK && !state_ods_valid(ods)) {
        snprintf(why, sizeof(why),
                 "\"ods\" must be an ODS organisation code: 3 to 10 characters of A-Z and 0-9");
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK)
        rc = json_string(body, "name", true, 1, API_ORG_NAME_MAX, &name, why);
    if (rc == ERR_OK)
        rc = json_string(body, "type", true, 1, 64, &type, why);
    if (rc == ERR_OK && !policy_org_type_known(http_app_of(c)->policy, type)) {
        policy_org_type_list(http_app_of(c)->policy, types, sizeof(types));
        snprintf(why, sizeof(why),
                 "\"type\" must be one of the policy's organisation types: %.150s", types);
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK) {
        rc = json_string(body, "endpoint", false, 1, API_ORG_URL_MAX, &endpoint, why);
        if (rc == ERR_NOTFOUND)
            rc = ERR_OK;
        else if (rc == ERR_OK && !api_org_endpoint_ok(endpoint)) {
            snprintf(why, sizeof(why),
                     "\"endpoint\" must be an absolute https URL with a host and no fragment "
                     "(http only on loopback)");
            rc = ERR_INVAL;
        }
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        goto out;
    }
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "ods", ods);
    cJSON_AddStringToObject(fields, "name", name);
    /* The entry's own "type" is "org", so the organisation type is "org_type" there. */
    cJSON_AddStringToObject(fields, "org_type", type);
    if (endpoint != NULL)
        cJSON_AddStringToObject(fields, "endpoint", endpoint);
    rc = json_fields_text(fields, &text, &len);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        goto out;
    }
    http_set_user(c, http_strdup(c, ods));
    http_submit(c, "org", text, len, NULL, NULL, api_org_created);
out:
    cJSON_Delete(fields);
    cJSON_Delete(body);
}

/* The organisations being listed, and the read transaction their entries are read in. */
struct api_org_list {
    struct store_txn *t;
    cJSON *a;
    size_t n;
    bool more;
};

static enum err
api_org_list_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    static const char *const names[] = {"ods", "name", "org_type"};
    struct api_org_list *l = ctx;
    const uint8_t *bytes;
    const cJSON *m;
    cJSON *e = NULL, *o;
    uint64_t index;
    size_t len, i;
    enum err rc;

    (void)key;
    (void)key_len;
    if (l->n == API_ORG_LIST_MAX) {
        l->more = true;
        return ERR_EXISTS;
    }
    rc = store_u64_val(val, val_len, &index);
    if (rc == ERR_OK)
        rc = tlog_entry(l->t, index, &bytes, &len);
    if (rc == ERR_OK && jstrict_parse((const char *)bytes, len, &e, NULL) != ERR_OK)
        rc = ERR_STORAGE;
    if (rc != ERR_OK)
        return rc == ERR_NOTFOUND ? ERR_STORAGE : rc;
    o = cJSON_CreateObject();
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        m = cJSON_GetObjectItemCaseSensitive(e, names[i]);
        if (cJSON_IsString(m))
            cJSON_AddStringToObject(o, i == 2 ? "type" : names[i], m->valuestring);
    }
    cJSON_AddItemToArray(l->a, o);
    cJSON_Delete(e);
    l->n++;
    return ERR_OK;
}

void
api_org_list(struct http_call *c)
{
    struct api_org_list l = {NULL, NULL, 0, false};
    cJSON *j = NULL;
    enum err rc;

    rc = store_begin(http_app_of(c)->store, false, &l.t);
    if (rc == ERR_OK) {
        j = cJSON_CreateObject();
        l.a = cJSON_AddArrayToObject(j, "orgs");
        rc = store_scan(l.t, STORE_ORGS, NULL, 0, api_org_list_one, &l);
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error",
                           "cannot list the organisations (%s)", err_str(rc));
        goto out;
    }
    if (l.more)
        cJSON_AddBoolToObject(j, "more", true);
    http_reply_json(c, 200, j);
out:
    store_abort(l.t);
    cJSON_Delete(j);
}
