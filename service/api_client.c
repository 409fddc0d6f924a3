/*
 * api_client: POST /v1/clients registers a client (admin); POST /v1/clients/{id}/retire retires
 * one (admin). The handlers check the request's shape and what the policy allows; the
 * sequencer decides, in log order, whether the id is new or the client still active.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/api.h"
#include "consentd/b64.h"
#include "consentd/clients.h"
#include "consentd/jstrict.h"
#include "consentd/json.h"
#include "consentd/pkey.h"
#include "consentd/tlog.h"
#include "consentd/xmalloc.h"

#define API_CLIENT_REASON_MAX 500
#define API_CLIENT_RETIRE     "/retire"

/* The check of a retirement: the client must be registered and active, decided in log order. */
struct api_client_retire_ctx {
    char client_id[CLIENTS_ID_MAX + 1];
};

static void
api_client_answer(struct http_call *c, const struct seq_write *w, int status)
{
    char leaf[48];
    cJSON *j = cJSON_CreateObject();

    /* The user pointer is the client id, in the request's memory. */
    cJSON_AddStringToObject(j, "client_id", http_user(c));
    json_add_u64(j, "log_index", w->index);
    if (b64_encode(w->leaf, HASH_BYTES, B64_STD, leaf, sizeof(leaf)) == ERR_OK)
        cJSON_AddStringToObject(j, "leaf_hash", leaf);
    json_add_u64(j, "checkpoint_size", w->checkpoint_size);
    http_reply_json(c, status, j);
    cJSON_Delete(j);
}

/* api_client_failed answers a refused write; conflict is the 409 sentence's advice. */
static void
api_client_failed(struct http_call *c, const struct seq_write *w, const char *conflict)
{
    if (w->rc == ERR_CONFLICT)
        http_reply_problem(c, 409, "conflict", "Conflict", "%s; %s", w->why, conflict);
    else if (w->rc == ERR_NOTFOUND)
        http_reply_problem(c, 404, "not-found", "Not found", "%s", w->why);
    else
        http_reply_write_failed(c, w);
}

static void
api_client_created(struct http_call *c, const struct seq_write *w)
{
    if (w->rc == ERR_OK)
        api_client_answer(c, w, 201);
    else
        api_client_failed(c, w, "a client id is registered once");
}

static void
api_client_retired(struct http_call *c, const struct seq_write *w)
{
    if (w->rc == ERR_OK)
        api_client_answer(c, w, 200);
    else
        api_client_failed(c, w, "a client is retired once");
}

/*
 * api_client_org_type reads, in one read transaction, whether organisation ods is registered
 * and its type (the "org_type" of its entry) into type. ERR_NOTFOUND if it is not registered.
 */
static enum err
api_client_org_type(struct http_call *c, const char *ods, char *type, size_t type_cap)
{
    struct store_txn *t = NULL;
    const uint8_t *bytes;
    const cJSON *m;
    cJSON *e = NULL;
    uint64_t index;
    size_t len;
    enum err rc;

    type[0] = '\0';
    rc = store_begin(http_app_of(c)->store, false, &t);
    if (rc != ERR_OK)
        goto out;
    rc = state_org_index(t, ods, &index);
    if (rc != ERR_OK)
        goto out;
    rc = tlog_entry(t, index, &bytes, &len);
    if (rc != ERR_OK) {
        rc = ERR_STORAGE;
        goto out;
    }
    rc = jstrict_parse((const char *)bytes, len, &e, NULL);
    if (rc != ERR_OK) {
        rc = ERR_STORAGE;
        goto out;
    }
    m = cJSON_GetObjectItemCaseSensitive(e, "org_type");
    if (!cJSON_IsString(m) || strlen(m->valuestring) >= type_cap) {
        rc = ERR_STORAGE;
        goto out;
    }
    memcpy(type, m->valuestring, strlen(m->valuestring) + 1);
out:
    cJSON_Delete(e);
    store_abort(t);
    return rc;
}

/*
 * api_client_jwk checks the public JWK with crypto/pkey.c (OKP Ed25519, RSA of at least 2048
 * bits, EC P-256 or P-384 on the curve; only public members, optionally kid, alg and use; an
 * alg the key allows) and returns the JWK to register (cJSON_Delete it), or NULL with why set.
 */
static cJSON *
api_client_jwk(const cJSON *jwk, char why[static JSON_WHY_MAX])
{
    char kwhy[PKEY_WHY_MAX];
    struct pkey *k = NULL;
    cJSON *out = NULL;
    enum err rc;

    if (jwk == NULL) {
        snprintf(why, JSON_WHY_MAX,
                 "\"jwk\" is missing: the client's public JWK (OKP Ed25519, RSA, or EC P-256 or "
                 "P-384)");
        return NULL;
    }
    rc = pkey_from_jwk(jwk, &k, kwhy);
    if (rc != ERR_OK) {
        snprintf(why, JSON_WHY_MAX, "\"jwk\": %.240s", kwhy);
        return NULL;
    }
    out = pkey_jwk(k);
    if (out == NULL)
        snprintf(why, JSON_WHY_MAX, "out of memory");
    pkey_free(k);
    return out;
}

/* api_client_roles checks roles: a non-empty array of known role names without repeats. */
static enum err
api_client_roles(const cJSON *roles, unsigned *bits, char why[static JSON_WHY_MAX])
{
    const cJSON *r;
    unsigned bit;

    *bits = 0;
    if (!cJSON_IsArray(roles) || roles->child == NULL) {
        snprintf(why, JSON_WHY_MAX,
                 "\"roles\" must be a non-empty array of role names: custodian, requester, "
                 "enroller, auditor, emergency");
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(r, roles)
    {
        bit = cJSON_IsString(r) ? policy_role_bit(r->valuestring) : 0;
        if (bit == 0) {
            snprintf(why, JSON_WHY_MAX,
                     "\"roles\": each role must be one of custodian, requester, enroller, "
                     "auditor, emergency");
            return ERR_INVAL;
        }
        if ((*bits & bit) != 0) {
            snprintf(why, JSON_WHY_MAX, "\"roles\" names \"%s\" more than once", r->valuestring);
            *bits = 0;
            return ERR_INVAL;
        }
        *bits |= bit;
    }
    return ERR_OK;
}

/* api_client_roles_allowed names the first role the organisation type may not hold. */
static enum err
api_client_roles_allowed(const struct policy *p, const char *type, const cJSON *roles,
                         char why[static JSON_WHY_MAX])
{
    const cJSON *r;

    cJSON_ArrayForEach(r, roles)
    {
        if (!policy_org_type_allows(p, type, policy_role_bit(r->valuestring))) {
            snprintf(why, JSON_WHY_MAX,
                     "role \"%s\" is not allowed for an organisation of type %.64s by the policy",
                     r->valuestring, type);
            return ERR_INVAL;
        }
    }
    return ERR_OK;
}

void
api_client_create(struct http_call *c)
{
    static const char *const members[] = {"client_id", "org", "jwk", "roles"};
    const struct http_app *app = http_app_of(c);
    const char *id, *org;
    char why[JSON_WHY_MAX], type[POLICY_MAX_NAME + 1];
    const cJSON *roles = NULL, *r;
    cJSON *body, *fields = NULL, *jwk = NULL, *arr;
    char *text = NULL;
    unsigned bits;
    size_t len;
    enum err rc;

    if (!http_require_admin(c))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, sizeof(members) / sizeof(members[0]), why);
    if (rc == ERR_OK)
        rc = json_string(body, "client_id", true, 1, CLIENTS_ID_MAX, &id, why);
    if (rc == ERR_OK && !clients_id_valid(id)) {
        snprintf(why, sizeof(why),
                 "\"client_id\" must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'",
                 CLIENTS_ID_MAX);
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK)
        rc = json_string(body, "org", true, 1, 64, &org, why);
    if (rc == ERR_OK && !state_ods_valid(org)) {
        snprintf(why, sizeof(why),
                 "\"org\" must be an ODS organisation code: 3 to 10 characters of A-Z and 0-9");
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK) {
        jwk = api_client_jwk(cJSON_GetObjectItemCaseSensitive(body, "jwk"), why);
        rc = jwk == NULL ? ERR_INVAL : ERR_OK;
    }
    if (rc == ERR_OK) {
        roles = cJSON_GetObjectItemCaseSensitive(body, "roles");
        rc = api_client_roles(roles, &bits, why);
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        goto out;
    }
    rc = api_client_org_type(c, org, type, sizeof(type));
    if (rc == ERR_NOTFOUND) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "\"org\": organisation %s is not registered; register it first with "
                           "POST /v1/orgs",
                           org);
        goto out;
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error",
                           "could not read organisation %s (%s)", org, err_str(rc));
        goto out;
    }
    if (api_client_roles_allowed(app->policy, type, roles, why) != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        goto out;
    }
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "client_id", id);
    cJSON_AddStringToObject(fields, "org", org);
    cJSON_AddItemToObject(fields, "jwk", jwk);
    jwk = NULL; /* fields owns it */
    arr = cJSON_AddArrayToObject(fields, "roles");
    cJSON_ArrayForEach(r, roles)
    {
        cJSON_AddItemToArray(arr, cJSON_CreateString(r->valuestring));
    }
    rc = json_fields_text(fields, &text, &len);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        goto out;
    }
    http_set_user(c, http_strdup(c, id));
    http_submit(c, "client", text, len, NULL, NULL, api_client_created);
out:
    cJSON_Delete(jwk);
    cJSON_Delete(fields);
    cJSON_Delete(body);
}

/* api_client_chars counts the characters of UTF-8 text (jstrict checked the encoding). */
static size_t
api_client_chars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* api_client_retire_check refuses, in log order, an unknown or already retired client. */
static enum err
api_client_retire_check(struct store_txn *t, struct seq_write *w)
{
    const struct api_client_retire_ctx *r = w->check_ctx;
    struct clients_client cl;
    enum err rc;

    rc = clients_get(t, r->client_id, &cl);
    if (rc == ERR_NOTFOUND) {
        snprintf(w->why, sizeof(w->why), "client %s is not registered", r->client_id);
        return ERR_NOTFOUND;
    }
    if (rc != ERR_OK)
        return rc;
    if (cl.retired) {
        snprintf(w->why, sizeof(w->why), "client %s is already retired (log index %llu)",
                 r->client_id, (unsigned long long)cl.retire_index);
        return ERR_CONFLICT;
    }
    return ERR_OK;
}

void
api_client_retire(struct http_call *c)
{
    static const char *const members[] = {"reason"};
    struct api_client_retire_ctx *ctx = NULL;
    char why[JSON_WHY_MAX], id[CLIENTS_ID_MAX + 1];
    const char *param, *reason;
    cJSON *body = NULL, *fields = NULL;
    char *text = NULL;
    size_t plen, idlen, rlen = strlen(API_CLIENT_RETIRE);
    enum err rc;

    param = http_path_param(c, &plen);
    if (plen <= rlen || memcmp(param + plen - rlen, API_CLIENT_RETIRE, rlen) != 0) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "there is no such endpoint: a client is retired with "
                           "POST /v1/clients/{client_id}/retire");
        return;
    }
    idlen = plen - rlen;
    if (idlen > CLIENTS_ID_MAX || memchr(param, '/', idlen) != NULL) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "there is no such client: a client id is 1 to %d characters of A-Z, "
                           "a-z, 0-9, '.', '_' and '-'",
                           CLIENTS_ID_MAX);
        return;
    }
    memcpy(id, param, idlen);
    id[idlen] = '\0';
    if (!clients_id_valid(id)) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "there is no such client: a client id is 1 to %d characters of A-Z, "
                           "a-z, 0-9, '.', '_' and '-'",
                           CLIENTS_ID_MAX);
        return;
    }
    if (!http_require_admin(c))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, 1, why);
    if (rc == ERR_OK)
        rc = json_string(body, "reason", true, 1, 4 * API_CLIENT_REASON_MAX, &reason, why);
    if (rc == ERR_OK && api_client_chars(reason) > API_CLIENT_REASON_MAX) {
        snprintf(why, sizeof(why), "\"reason\" must be 1 to %d characters", API_CLIENT_REASON_MAX);
        rc = ERR_INVAL;
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        goto out;
    }
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "client_id", id);
    cJSON_AddStringToObject(fields, "reason", reason);
    rc = json_fields_text(fields, &text, &plen);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        goto out;
    }
    ctx = xmalloc(sizeof(*ctx));
    memcpy(ctx->client_id, id, idlen + 1);
    http_set_user(c, http_strdup(c, id));
    http_submit(c, "client.retire", text, plen, api_client_retire_check, ctx, api_client_retired);
out:
    cJSON_Delete(fields);
    cJSON_Delete(body);
}
