/*
 * api_token: what happens to a consent-checked access token after it is issued.
 *
 *   POST /oauth2/introspect         RFC 7662: a custodian's client (private_key_jwt, or a bearer
 *                                   token with scope introspect) asks whether a token is live
 *   POST /oauth2/revoke             RFC 7009: a client revokes its own token (200 even for a
 *                                   token that is unknown, malformed or expired)
 *   GET  /v1/patients/{nhs}/access  the person's token, an active delegate's, or scope audit:
 *                                   every access entry, break-glass ones first, each part
 *                                   newest first
 *
 * A client assertion's jti is made durable (single use) by a sequencer write with no entry, as
 * at the token endpoint; a revocation is that write's side write. Whether a token is live is
 * access_token_live's decision. Tokens and NHS numbers are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/access.h"
#include "consentd/api.h"
#include "consentd/assertion.h"
#include "consentd/jtis.h"
#include "consentd/clients.h"
#include "consentd/consents.h"
#include "consentd/json.h"
#include "consentd/patients.h"
#include "consentd/pkey.h"
#include "consentd/xmalloc.h"

/* The form parameters of introspection and revocation, in this order. */
enum { T_TOKEN, T_HINT, T_CA_TYPE, T_CA, T_CLIENT_ID, T_COUNT };

/* An introspection or revocation between the handler and its write (the check's context). */
struct api_token_req {
    struct jtis *jtis;
    bool revoke;
    char client_id[CLIENTS_ID_MAX + 1];
    uint8_t pk[KEYS_PUBLIC_BYTES]; /* the key that verified the assertion */
    char jti[ASSERTION_JTI_MAX + 1];
    int64_t exp;
    char token_jti[TOKEN_ID_MAX + 1]; /* revoke: the token's jti, "" when nothing to revoke */
    int64_t token_exp;
    char token[TOKEN_ACCESS_MAX_LEN + 1]; /* introspect: the token asked about */
};

/*
 * api_token_check runs in the sequencer's transaction, in log order: the client is still
 * active with the key that verified its assertion, whose jti is then taken; a revocation is
 * recorded in the same nested transaction.
 */
static enum err
api_token_check(struct store_txn *t, struct seq_write *w)
{
    const struct api_token_req *r = w->check_ctx;
    struct clients_client *cl = xmalloc(sizeof(*cl));
    enum err rc;

    rc = clients_get(t, r->client_id, cl);
    if (rc == ERR_NOTFOUND || (rc == ERR_OK && cl->retired)) {
        snprintf(w->why, sizeof(w->why), "client %s is %s", r->client_id,
                 rc == ERR_OK ? "retired" : "not registered");
        rc = ERR_AUTH;
    } else if (rc == ERR_OK && memcmp(cl->pk, r->pk, KEYS_PUBLIC_BYTES) != 0) {
        snprintf(w->why, sizeof(w->why), "client %s's registered key changed", r->client_id);
        rc = ERR_AUTH;
    }
    free(cl);
    if (rc == ERR_OK)
        rc = jtis_use(r->jtis, t, r->client_id, r->jti, r->exp, w->now, w->why);
    if (rc == ERR_OK && r->revoke && r->token_jti[0] != '\0')
        rc = access_revoke(t, r->token_jti, r->token_exp, w->now);
    return rc;
}

/* api_token_write_failed answers a refused write: the assertion was not accepted. */
static bool
api_token_write_failed(struct http_call *c, const struct seq_write *w)
{
    switch (w->rc) {
    case ERR_OK:
        return false;
    case ERR_AUTH:
    case ERR_CONFLICT:
    case ERR_INVAL:
        http_reply_oauth_error(c, 401, "invalid_client", "%s", w->why);
        return true;
    case ERR_UNAVAIL:
        http_reply_unavailable(c, w->why);
        return true;
    case ERR_NOMEM:
    case ERR_NOTFOUND:
    case ERR_BADSIG:
    case ERR_STORAGE:
    case ERR_TOOBIG:
    case ERR_IO:
    case ERR_PERM:
    case ERR_EXISTS:
        break;
    }
    http_reply_oauth_error(c, 500, "server_error", "the request could not be completed (%s)",
                           err_str(w->rc));
    return true;
}

/* --- POST /oauth2/introspect --- */

/* api_token_introspection answers RFC 7662 for token at now. */
static void
api_token_introspection(struct http_call *c, const char *token)
{
    const struct http_app *app = http_app_of(c);
    char nhs[NHS_LEN + 1];
    int64_t now = (int64_t)time(NULL);
    struct store_txn *t = NULL;
    const char *why = NULL;
    const cJSON *claims = NULL, *m;
    cJSON *j = NULL;
    bool live = false;
    enum err rc;

    nhs[0] = '\0';
    if (token_check_access(app->tokens, token, strlen(token), now, &claims, &why) == ERR_OK) {
        rc = store_begin(app->store, false, &t);
        if (rc == ERR_OK)
            rc = access_token_live(t, claims, now, &live, nhs);
        store_abort(t);
        if (rc != ERR_OK) {
            http_reply_oauth_error(c, 500, "server_error", "could not read the state (%s)",
                                   err_str(rc));
            goto out;
        }
    }
    if (!live) {
        j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "active", false);
        http_reply_json(c, 200, j);
        goto out;
    }
    /* The token's own claims, and SMART's "patient" (the person the records are about). */
    j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "active", true);
    cJSON_ArrayForEach(m, claims)
    {
        cJSON_AddItemToObject(j, m->string, cJSON_Duplicate(m, true));
    }
    cJSON_AddStringToObject(j, "token_type", "Bearer");
    cJSON_AddStringToObject(j, "patient", nhs);
    http_reply_json(c, 200, j);
out:
    cJSON_Delete(j);
}

static void
api_token_introspected(struct http_call *c, const struct seq_write *w)
{
    const struct api_token_req *r = w->check_ctx;

    if (api_token_write_failed(c, w))
        return;
    api_token_introspection(c, r->token);
}

/* api_token_form reads the form of introspection or revocation; false if it answered. */
static bool
api_token_form(struct http_call *c, const char **p)
{
    static const char *const names[T_COUNT] = {"token", "token_type_hint", "client_assertion_type",
                                               "client_assertion", "client_id"};

    if (!http_form(c, names, T_COUNT, p, true))
        return false;
    if (p[T_TOKEN] == NULL || p[T_TOKEN][0] == '\0') {
        http_reply_oauth_error(c, 400, "invalid_request", "\"token\" is missing");
        return false;
    }
    if (p[T_HINT] != NULL && strcmp(p[T_HINT], "access_token") != 0) {
        http_reply_oauth_error(c, 400, "unsupported_token_type",
                               "consentd issues access tokens only: token_type_hint may be "
                               "access_token, or left out");
        return false;
    }
    return true;
}

void
api_token_introspect(struct http_call *c)
{
    struct assertion_claims claims;
    struct clients_client cl;
    struct api_token_req *r;
    struct token_claims who;
    const char *p[T_COUNT];
    size_t len;

    if (!api_token_form(c, p))
        return;
    if (p[T_CA] == NULL && p[T_CA_TYPE] == NULL && http_header(c, "authorization", &len) != NULL) {
        /* A custodian's bearer token with scope introspect: no write needed. */
        if (!http_require_token(c, TOKEN_SCOPE_INTROSPECT, &who))
            return;
        api_token_introspection(c, p[T_TOKEN]);
        return;
    }
    if (!api_oauth_authenticate(c, p[T_CA_TYPE], p[T_CA], p[T_CLIENT_ID], &cl, &claims))
        return;
    if ((cl.roles & POLICY_ROLE_CUSTODIAN) == 0) {
        http_reply_oauth_error(c, 400, "unauthorized_client",
                               "client %.64s does not have the custodian role, which "
                               "introspection needs",
                               cl.client_id);
        return;
    }
    if (strlen(p[T_TOKEN]) > TOKEN_ACCESS_MAX_LEN) {
        /* Longer than any token consentd issues: inactive, but the assertion is still used. */
        p[T_TOKEN] = "-";
    }
    r = xcalloc(1, sizeof(*r));
    r->jtis = http_app_of(c)->jtis;
    memcpy(r->client_id, cl.client_id, sizeof(r->client_id));
    memcpy(r->pk, cl.pk, sizeof(r->pk));
    memcpy(r->jti, claims.jti, sizeof(r->jti));
    r->exp = claims.exp;
    memcpy(r->token, p[T_TOKEN], strlen(p[T_TOKEN]) + 1);
    http_submit(c, "", NULL, 0, api_token_check, r, api_token_introspected);
}

/* --- POST /oauth2/revoke --- */

static void
api_token_revoked(struct http_call *c, const struct seq_write *w)
{
    if (api_token_write_failed(c, w))
        return;
    /* RFC 7009 §2.2: 200 with an empty body, whether or not there was anything to revoke. */
    http_reply(c, 200, "application/json", "{}", 2);
}

void
api_token_revoke(struct http_call *c)
{
    const struct http_app *app = http_app_of(c);
    struct assertion_claims claims;
    struct clients_client cl;
    struct api_token_req *r;
    const cJSON *m, *tc = NULL;
    const char *p[T_COUNT], *why = NULL;

    if (!api_token_form(c, p))
        return;
    if (!api_oauth_authenticate(c, p[T_CA_TYPE], p[T_CA], p[T_CLIENT_ID], &cl, &claims))
        return;
    r = xcalloc(1, sizeof(*r));
    r->jtis = app->jtis;
    r->revoke = true;
    memcpy(r->client_id, cl.client_id, sizeof(r->client_id));
    memcpy(r->pk, cl.pk, sizeof(r->pk));
    memcpy(r->jti, claims.jti, sizeof(r->jti));
    r->exp = claims.exp;
    /* A token that does not verify or has expired is answered 200 with nothing to revoke. */
    if (token_check_access(app->tokens, p[T_TOKEN], strlen(p[T_TOKEN]), (int64_t)time(NULL), &tc,
                           &why) == ERR_OK) {
        m = cJSON_GetObjectItemCaseSensitive(tc, "client_id");
        if (!cJSON_IsString(m) || strcmp(m->valuestring, cl.client_id) != 0) {
            free(r);
            http_reply_oauth_error(c, 400, "unauthorized_client",
                                   "this token was issued to another client: a client revokes "
                                   "only its own tokens");
            return;
        }
        snprintf(r->token_jti, sizeof(r->token_jti), "%s",
                 cJSON_GetObjectItemCaseSensitive(tc, "jti")->valuestring);
        r->token_exp = (int64_t)cJSON_GetObjectItemCaseSensitive(tc, "exp")->valuedouble;
    }
    http_submit(c, "", NULL, 0, api_token_check, r, api_token_revoked);
}

/* --- GET /v1/patients/{nhs}/access --- */

/* The listing: break-glass accesses first (the person must see them first), then the rest. */
struct api_token_accesses {
    cJSON *glass, *rest;
};

static enum err
api_token_access_one(void *ctx, uint64_t index, const cJSON *e)
{
    static const char *const names[] = {"time",    "jti",       "client_id", "org",
                                        "purpose", "datatypes", "grants",    "break_glass",
                                        "aud",     "iat",       "exp"};
    struct api_token_accesses *x = ctx;
    cJSON *o = cJSON_CreateObject();
    const cJSON *m;
    size_t i;

    cJSON_AddItemToArray(
        cJSON_GetObjectItemCaseSensitive(e, "break_glass") != NULL ? x->glass : x->rest, o);
    json_add_u64(o, "log_index", index);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        m = cJSON_GetObjectItemCaseSensitive(e, names[i]);
        if (m != NULL)
            cJSON_AddItemToObject(o, names[i], cJSON_Duplicate(m, true));
    }
    return ERR_OK;
}

void
api_token_access_list(struct http_call *c)
{
    char nhs[NHS_LEN + 1];
    struct api_token_accesses x = {NULL, NULL};
    struct store_txn *t = NULL;
    cJSON *j = NULL;
    enum err rc;

    if (!api_patient_reader(c, "/access", "accesses", &t, nhs))
        return;
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "nhs", nhs);
    x.glass = cJSON_AddArrayToObject(j, "access");
    x.rest = cJSON_CreateArray();
    rc = access_list(t, nhs, api_token_access_one, &x);
    while (x.rest->child != NULL)
        cJSON_AddItemToArray(x.glass, cJSON_DetachItemViaPointer(x.rest, x.rest->child));
    cJSON_Delete(x.rest);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "cannot list the accesses (%s)",
                           err_str(rc));
        goto out;
    }
    http_reply_json(c, 200, j);
out:
    store_abort(t);
    cJSON_Delete(j);
}
