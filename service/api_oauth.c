/*
 * api_oauth: the OAuth 2.0 endpoints. GET /.well-known/oauth-authorization-server (RFC 8414),
 * GET /.well-known/jwks.json, and POST /oauth2/token with two grants: client_credentials with
 * private_key_jwt client authentication (RFC 7523 §2.2), and a patient's JWT-bearer grant
 * (RFC 7523 §2.1). The assertion rules are assertion.c's; this file picks the key, maps the
 * client's roles to scopes, makes the assertion's jti durable through the sequencer and only
 * then mints the token. Assertions and tokens are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/api.h"
#include "consentd/assertion.h"
#include "consentd/authz.h"
#include "consentd/b64.h"
#include "consentd/clients.h"
#include "consentd/hash.h"
#include "consentd/jtis.h"
#include "consentd/nhs.h"
#include "consentd/patients.h"
#include "consentd/pkey.h"
#include "consentd/xmalloc.h"

#define API_OAUTH_TOKEN_PATH "/oauth2/token"
#define API_OAUTH_JWKS_PATH  "/.well-known/jwks.json"
#define API_OAUTH_URL_MAX    (TOKEN_ISSUER_MAX + 64)
#define API_OAUTH_CC         "client_credentials"
#define API_OAUTH_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define API_OAUTH_CA_TYPE    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* The endpoints api_token.c serves, named in the metadata. */
#define API_OAUTH_INTROSPECT_PATH "/oauth2/introspect"
#define API_OAUTH_REVOKE_PATH     "/oauth2/revoke"

/* Who an assertion speaks for. */
enum api_oauth_kind { API_OAUTH_CLIENT, API_OAUTH_PATIENT };

/*
 * The token request between the handler and the write that makes its jti durable: the check's
 * context (freed by http_submit after done), also read by done to mint the token.
 */
struct api_oauth_req {
    struct jtis *jtis;
    enum api_oauth_kind kind;
    char id[ASSERTION_SUBJECT_MAX + 1]; /* client id or NHS number */
    char who[ASSERTION_WHO_MAX + 1];    /* the jti table's prefix */
    char jti[ASSERTION_JTI_MAX + 1];
    int64_t exp;
    uint8_t pk[KEYS_PUBLIC_BYTES]; /* the key that verified the assertion */
    unsigned scopes;
    /*
     * A consent-checked token (authorization_details): the check decides az and fills the
     * access entry; refusal names the OAuth error of a refusal the check made, else NULL.
     */
    bool access;
    const char *refusal;
    const struct policy *policy;
    char org[CLIENTS_ODS_MAX + 1];
    char issuer[TOKEN_ISSUER_MAX + 1];
    char token_jti[TOKEN_ID_MAX + 1];
    int64_t iat, token_exp;
    struct authz_request az[]; /* one when access, allocated with the struct */
};

/*
 * api_oauth_url writes the issuer followed by path (without doubling a '/') into out, which
 * holds API_OAUTH_URL_MAX bytes.
 */
static void
api_oauth_url(const struct http_app *app, const char *path, char out[static API_OAUTH_URL_MAX])
{
    const char *iss = app->cfg->issuer;
    size_t n = strlen(iss);

    if (n > 0 && iss[n - 1] == '/')
        n--;
    snprintf(out, API_OAUTH_URL_MAX, "%.*s%s", (int)n, iss, path);
}

void
api_oauth_metadata(struct http_call *c)
{
    const struct http_app *app = http_app_of(c);
    char url[API_OAUTH_URL_MAX];
    cJSON *j = cJSON_CreateObject(), *a;

    cJSON_AddStringToObject(j, "issuer", app->cfg->issuer);
    api_oauth_url(app, API_OAUTH_TOKEN_PATH, url);
    cJSON_AddStringToObject(j, "token_endpoint", url);
    api_oauth_url(app, API_OAUTH_JWKS_PATH, url);
    cJSON_AddStringToObject(j, "jwks_uri", url);
    a = cJSON_AddArrayToObject(j, "grant_types_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString(API_OAUTH_CC));
    cJSON_AddItemToArray(a, cJSON_CreateString(API_OAUTH_JWT_BEARER));
    a = cJSON_AddArrayToObject(j, "token_endpoint_auth_methods_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString("private_key_jwt"));
    a = cJSON_AddArrayToObject(j, "token_endpoint_auth_signing_alg_values_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString("EdDSA"));
    cJSON_AddItemToArray(a, cJSON_CreateString("Ed25519"));
    cJSON_AddItemToArray(a, cJSON_CreateString("RS256"));
    cJSON_AddItemToArray(a, cJSON_CreateString("RS384"));
    cJSON_AddItemToArray(a, cJSON_CreateString("ES256"));
    cJSON_AddItemToArray(a, cJSON_CreateString("ES384"));
    a = cJSON_AddArrayToObject(j, "scopes_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString("enrol"));
    cJSON_AddItemToArray(a, cJSON_CreateString("pointers"));
    cJSON_AddItemToArray(a, cJSON_CreateString("audit"));
    cJSON_AddItemToArray(a, cJSON_CreateString("introspect"));
    cJSON_AddItemToArray(a, cJSON_CreateString("patient"));
    /* RFC 8414 §2 requires it; there is no authorization endpoint, so no response types. */
    cJSON_AddArrayToObject(j, "response_types_supported");
    a = cJSON_AddArrayToObject(j, "authorization_details_types_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString(AUTHZ_TYPE));
    api_oauth_url(app, API_OAUTH_INTROSPECT_PATH, url);
    cJSON_AddStringToObject(j, "introspection_endpoint", url);
    api_oauth_url(app, API_OAUTH_REVOKE_PATH, url);
    cJSON_AddStringToObject(j, "revocation_endpoint", url);
    a = cJSON_AddArrayToObject(j, "introspection_endpoint_auth_methods_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString("private_key_jwt"));
    a = cJSON_AddArrayToObject(j, "revocation_endpoint_auth_methods_supported");
    cJSON_AddItemToArray(a, cJSON_CreateString("private_key_jwt"));
    http_reply_json(c, 200, j);
    cJSON_Delete(j);
}

void
api_oauth_jwks(struct http_call *c)
{
    struct token_keys tk;
    char x[64];
    cJSON *j = cJSON_CreateObject(), *keys, *k;
    size_t i;

    /* The current key, then the retired one while tokens it signed may still be alive. */
    token_signer_keys(http_app_of(c)->tokens, (int64_t)time(NULL), &tk);
    keys = cJSON_AddArrayToObject(j, "keys");
    for (i = 0; i < tk.n; i++) {
        if (b64_encode(tk.k[i].pk, sizeof(tk.k[i].pk), B64_URL, x, sizeof(x)) != ERR_OK) {
            cJSON_Delete(j);
            http_reply_problem(c, 500, "internal", "Internal error", "cannot encode the token key");
            return;
        }
        k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "kty", "OKP");
        cJSON_AddStringToObject(k, "crv", "Ed25519");
        cJSON_AddStringToObject(k, "x", x);
        cJSON_AddStringToObject(k, "kid", tk.k[i].kid);
        cJSON_AddStringToObject(k, "alg", "EdDSA");
        cJSON_AddStringToObject(k, "use", "sig");
        cJSON_AddItemToArray(keys, k);
    }
    http_reply_json(c, 200, j);
    cJSON_Delete(j);
}

/* api_oauth_role_scopes returns the scopes a client's roles allow (DESIGN.md §3, §6). */
static unsigned
api_oauth_role_scopes(unsigned roles)
{
    unsigned s = 0;

    if ((roles & POLICY_ROLE_CUSTODIAN) != 0)
        s |= TOKEN_SCOPE_POINTERS | TOKEN_SCOPE_INTROSPECT;
    if ((roles & POLICY_ROLE_ENROLLER) != 0)
        s |= TOKEN_SCOPE_ENROL;
    if ((roles & POLICY_ROLE_AUDITOR) != 0)
        s |= TOKEN_SCOPE_AUDIT;
    return s;
}

static enum err api_oauth_access_check(struct store_txn *t, struct seq_write *w);
static void api_oauth_access_issued(struct http_call *c, const struct seq_write *w);

/*
 * api_oauth_check runs in the sequencer's transaction, in log order: the client must still be
 * active (the patient's key still current) with the key that verified the assertion, and the
 * jti must be new; then it is remembered, durably with this write.
 */
static enum err
api_oauth_check(struct store_txn *t, struct seq_write *w)
{
    const struct api_oauth_req *r = w->check_ctx;
    struct clients_client cl;
    struct patients_patient pt;
    enum err rc;

    if (r->kind == API_OAUTH_CLIENT) {
        rc = clients_get(t, r->id, &cl);
        if (rc == ERR_NOTFOUND || (rc == ERR_OK && cl.retired)) {
            snprintf(w->why, sizeof(w->why), "client %s is %s", r->id,
                     rc == ERR_OK ? "retired" : "not registered");
            return ERR_AUTH;
        }
        if (rc != ERR_OK)
            return rc;
        if (memcmp(cl.pk, r->pk, KEYS_PUBLIC_BYTES) != 0) {
            snprintf(w->why, sizeof(w->why), "client %s's registered key changed", r->id);
            return ERR_AUTH;
        }
    } else {
        rc = patients_get(t, r->id, &pt);
        if (rc == ERR_NOTFOUND) {
            snprintf(w->why, sizeof(w->why), "NHS number %s is not enrolled", r->id);
            return ERR_AUTH;
        }
        if (rc != ERR_OK)
            return rc;
        if (memcmp(pt.pk, r->pk, KEYS_PUBLIC_BYTES) != 0) {
            snprintf(w->why, sizeof(w->why),
                     "the assertion is signed by a key that is no longer the patient's key");
            return ERR_AUTH;
        }
    }
    rc = jtis_use(r->jtis, t, r->who, r->jti, r->exp, w->now, w->why);
    if (rc != ERR_OK || !r->access)
        return rc;
    return api_oauth_access_check(t, w);
}

/* api_oauth_refuse answers a failed authentication: 401 for a client, 400 for a grant. */
static void
api_oauth_refuse(struct http_call *c, enum api_oauth_kind kind, const char *why)
{
    if (kind == API_OAUTH_CLIENT)
        http_reply_oauth_error(c, 401, "invalid_client", "%s", why);
    else
        http_reply_oauth_error(c, 400, "invalid_grant", "%s", why);
}

static void
api_oauth_issued(struct http_call *c, const struct seq_write *w)
{
    const struct api_oauth_req *r = w->check_ctx;
    const struct token_signer *s = http_app_of(c)->tokens;
    struct token_claims tc;
    char scope[128], *token = NULL;
    cJSON *j;

    if (w->rc != ERR_OK && r->refusal != NULL) {
        http_reply_oauth_error(c, 400, r->refusal, "%s", w->why);
        return;
    }
    switch (w->rc) {
    case ERR_OK:
        break;
    case ERR_AUTH:
    case ERR_CONFLICT:
    case ERR_INVAL:
        api_oauth_refuse(c, r->kind, w->why);
        return;
    case ERR_UNAVAIL:
        http_reply_unavailable(c, w->why);
        return;
    case ERR_NOMEM:
    case ERR_NOTFOUND:
    case ERR_BADSIG:
    case ERR_STORAGE:
    case ERR_TOOBIG:
    case ERR_IO:
    case ERR_PERM:
    case ERR_EXISTS:
        http_reply_oauth_error(c, 500, "server_error", "the token could not be issued (%s)",
                               err_str(w->rc));
        return;
    }
    if (r->access) {
        api_oauth_access_issued(c, w);
        return;
    }
    memset(&tc, 0, sizeof(tc));
    if (r->kind == API_OAUTH_CLIENT) {
        snprintf(tc.sub, sizeof(tc.sub), "%s", r->id);
        snprintf(tc.client_id, sizeof(tc.client_id), "%s", r->id);
    } else {
        snprintf(tc.sub, sizeof(tc.sub), "%s", r->id);
        snprintf(tc.client_id, sizeof(tc.client_id), "%s", TOKEN_PATIENT_CID);
        snprintf(tc.nhs, sizeof(tc.nhs), "%.10s", r->id);
    }
    tc.scopes = r->scopes;
    tc.iat = (int64_t)time(NULL);
    tc.exp = tc.iat + TOKEN_LIFETIME;
    if (token_mint(s, &tc, &token) != ERR_OK) {
        http_reply_oauth_error(c, 500, "server_error", "the token could not be signed");
        return;
    }
    http_log_who(c, tc.client_id, tc.jti);
    token_scope_format(tc.scopes, scope, sizeof(scope));
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "access_token", token);
    cJSON_AddStringToObject(j, "token_type", "Bearer");
    cJSON_AddNumberToObject(j, "expires_in", TOKEN_LIFETIME);
    cJSON_AddStringToObject(j, "scope", scope);
    /* http_reply adds Cache-Control: no-store, as RFC 6749 §5.1 requires. */
    http_reply_json(c, 200, j);
    cJSON_Delete(j);
    free(token);
}

/* api_oauth_scopes decides the scopes of the token: those asked for, all within allowed. */
static bool
api_oauth_scopes(struct http_call *c, const char *asked, unsigned allowed, const char *who,
                 unsigned *out)
{
    char list[128];
    const char *bad = NULL;
    unsigned want;

    *out = 0;
    if (asked == NULL || asked[strspn(asked, " ")] == '\0') {
        if (allowed == 0) {
            http_reply_oauth_error(c, 400, "invalid_scope",
                                   "the roles of %s allow none of the scopes enrol, pointers, "
                                   "audit and introspect",
                                   who);
            return false;
        }
        *out = allowed;
        return true;
    }
    if (token_scope_parse(asked, &want, &bad) != ERR_OK) {
        http_reply_oauth_error(c, 400, "invalid_scope",
                               "scope \"%.*s\" is unknown; the scopes are enrol, pointers, audit, "
                               "introspect and patient",
                               (int)strcspn(bad, " "), bad);
        return false;
    }
    if ((want & ~allowed) != 0) {
        token_scope_format(want & ~allowed, list, sizeof(list));
        http_reply_oauth_error(c, 400, "invalid_scope", "%s may not have scope %s", who, list);
        return false;
    }
    *out = want;
    return true;
}

/* The form parameters of POST /oauth2/token, in this order. */
enum { P_GRANT_TYPE, P_CA_TYPE, P_CA, P_SCOPE, P_CLIENT_ID, P_ASSERTION, P_AD, P_COUNT };

static void api_oauth_access(struct http_call *c, const char **p, const struct clients_client *cl,
                             const struct assertion_claims *claims);

bool
api_oauth_authenticate(struct http_call *c, const char *ca_type, const char *ca,
                       const char *client_id, struct clients_client *cl,
                       struct assertion_claims *claims)
{
    const struct http_app *app = http_app_of(c);
    char why[ASSERTION_WHY_MAX], id[ASSERTION_SUBJECT_MAX + 1], endpoint[API_OAUTH_URL_MAX];
    struct store_txn *t = NULL;
    struct pkey *key = NULL;
    enum err rc;

    if (ca_type == NULL || ca == NULL) {
        http_reply_oauth_error(c, 401, "invalid_client",
                               "clients authenticate with private_key_jwt: send "
                               "client_assertion_type=" API_OAUTH_CA_TYPE
                               " and client_assertion (RFC 7523)");
        return false;
    }
    if (strcmp(ca_type, API_OAUTH_CA_TYPE) != 0) {
        http_reply_oauth_error(c, 401, "invalid_client",
                               "client_assertion_type must be " API_OAUTH_CA_TYPE);
        return false;
    }
    if (assertion_subject(ca, strlen(ca), "the client assertion", id, why) != ERR_OK) {
        http_reply_oauth_error(c, 401, "invalid_client", "%s", why);
        return false;
    }
    if (client_id != NULL && strcmp(client_id, id) != 0) {
        http_reply_oauth_error(c, 401, "invalid_client",
                               "client_id does not match the client assertion's \"iss\"");
        return false;
    }
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = clients_get(t, id, cl);
    store_abort(t);
    if (rc == ERR_NOTFOUND) {
        http_reply_oauth_error(c, 401, "invalid_client",
                               "client \"%.64s\" (the client assertion's \"iss\") is not "
                               "registered",
                               id);
        return false;
    }
    if (rc != ERR_OK) {
        http_reply_oauth_error(c, 500, "server_error", "could not read the client (%s)",
                               err_str(rc));
        return false;
    }
    if (cl->retired) {
        http_reply_oauth_error(c, 401, "invalid_client", "client %s is retired", id);
        return false;
    }
    api_oauth_url(app, API_OAUTH_TOKEN_PATH, endpoint);
    rc = clients_key(cl, &key);
    if (rc == ERR_OK)
        rc = assertion_verify(ca, strlen(ca), key, id, app->cfg->issuer, endpoint,
                              (int64_t)time(NULL), "the client assertion", claims, why);
    else
        snprintf(why, sizeof(why), "could not read client %.64s's key (%s)", id, err_str(rc));
    pkey_free(key);
    if (rc != ERR_OK) {
        http_reply_oauth_error(c, rc == ERR_AUTH ? 401 : 500,
                               rc == ERR_AUTH ? "invalid_client" : "server_error", "%s", why);
        return false;
    }
    http_log_who(c, id, NULL);
    return true;
}

/*
 * api_oauth_client authenticates a client_credentials request: the client named by the
 * assertion's iss (and client_id, if given), active, whose registered key verified it.
 */
static void
api_oauth_client(struct http_call *c, const char **p)
{
    char id[ASSERTION_SUBJECT_MAX + 1], who[CLIENTS_ID_MAX + 16];
    struct assertion_claims claims;
    struct clients_client cl;
    struct api_oauth_req *r;
    unsigned scopes;

    if (p[P_ASSERTION] != NULL) {
        http_reply_oauth_error(c, 400, "invalid_request",
                               "\"assertion\" belongs to the jwt-bearer grant; a client sends "
                               "client_assertion");
        return;
    }
    if (!api_oauth_authenticate(c, p[P_CA_TYPE], p[P_CA], p[P_CLIENT_ID], &cl, &claims))
        return;
    snprintf(id, sizeof(id), "%s", cl.client_id);
    snprintf(who, sizeof(who), "client %.64s", id);
    if (p[P_AD] != NULL) {
        api_oauth_access(c, p, &cl, &claims);
        return;
    }
    if (!api_oauth_scopes(c, p[P_SCOPE], api_oauth_role_scopes(cl.roles), who, &scopes))
        return;
    r = xcalloc(1, sizeof(*r));
    r->jtis = http_app_of(c)->jtis;
    r->kind = API_OAUTH_CLIENT;
    memcpy(r->id, id, strlen(id) + 1);
    memcpy(r->who, id, strlen(id) + 1);
    memcpy(r->jti, claims.jti, sizeof(r->jti));
    r->exp = claims.exp;
    memcpy(r->pk, cl.pk, sizeof(r->pk));
    r->scopes = scopes;
    http_submit(c, "", NULL, 0, api_oauth_check, r, api_oauth_issued);
}

/*
 * api_oauth_patient checks a JWT-bearer grant: an assertion by an enrolled patient's current
 * key, whose iss and sub are their NHS number. Failures are invalid_grant (RFC 7523 §3.1).
 */
static void
api_oauth_patient(struct http_call *c, const char **p)
{
    const struct http_app *app = http_app_of(c);
    char why[ASSERTION_WHY_MAX], nhs[ASSERTION_SUBJECT_MAX + 1], endpoint[API_OAUTH_URL_MAX];
    struct assertion_claims claims;
    struct patients_patient pt;
    struct api_oauth_req *r;
    struct store_txn *t = NULL;
    struct pkey *key = NULL;
    unsigned scopes;
    enum err rc;

    if (p[P_CA_TYPE] != NULL || p[P_CA] != NULL || p[P_CLIENT_ID] != NULL) {
        http_reply_oauth_error(c, 400, "invalid_request",
                               "the jwt-bearer grant takes no client authentication: send only "
                               "grant_type, assertion and optionally scope");
        return;
    }
    if (p[P_ASSERTION] == NULL) {
        http_reply_oauth_error(c, 400, "invalid_request",
                               "the jwt-bearer grant needs \"assertion\": a JWS signed by the "
                               "patient's key (RFC 7523 §2.1)");
        return;
    }
    if (assertion_subject(p[P_ASSERTION], strlen(p[P_ASSERTION]), "the assertion", nhs, why) !=
        ERR_OK) {
        http_reply_oauth_error(c, 400, "invalid_grant", "%s", why);
        return;
    }
    if (!nhs_valid(nhs)) {
        http_reply_oauth_error(c, 400, "invalid_grant",
                               "the assertion's \"iss\" must be the patient's NHS number: ten "
                               "digits with a valid Modulus 11 check digit");
        return;
    }
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = patients_get(t, nhs, &pt);
    store_abort(t);
    if (rc == ERR_NOTFOUND) {
        http_reply_oauth_error(c, 400, "invalid_grant",
                               "NHS number %s (the assertion's \"iss\") is not enrolled", nhs);
        return;
    }
    if (rc != ERR_OK) {
        http_reply_oauth_error(c, 500, "server_error", "could not read the patient (%s)",
                               err_str(rc));
        return;
    }
    api_oauth_url(app, API_OAUTH_TOKEN_PATH, endpoint);
    /* A patient's key is Ed25519 only: the key made here allows EdDSA and Ed25519. */
    rc = pkey_from_ed25519(pt.pk, &key);
    if (rc == ERR_OK)
        rc = assertion_verify(p[P_ASSERTION], strlen(p[P_ASSERTION]), key, nhs, app->cfg->issuer,
                              endpoint, (int64_t)time(NULL), "the assertion", &claims, why);
    else
        snprintf(why, sizeof(why), "out of memory");
    pkey_free(key);
    if (rc != ERR_OK) {
        http_reply_oauth_error(c, rc == ERR_AUTH ? 400 : 500,
                               rc == ERR_AUTH ? "invalid_grant" : "server_error", "%s", why);
        return;
    }
    if (!api_oauth_scopes(c, p[P_SCOPE], TOKEN_SCOPE_PATIENT, "a patient", &scopes))
        return;
    r = xcalloc(1, sizeof(*r));
    r->jtis = app->jtis;
    r->kind = API_OAUTH_PATIENT;
    memcpy(r->id, nhs, strlen(nhs) + 1);
    snprintf(r->who, sizeof(r->who), "%s%s", ASSERTION_PATIENT_PREFIX, nhs);
    memcpy(r->jti, claims.jti, sizeof(r->jti));
    r->exp = claims.exp;
    memcpy(r->pk, pt.pk, sizeof(r->pk));
    r->scopes = scopes;
    http_submit(c, "", NULL, 0, api_oauth_check, r, api_oauth_issued);
}

/* --- consent-checked tokens: authorization_details (RFC 9396) --- */

/* The sequencer's count of the tokens it issued, for their jtis (api_oauth_access_check). */
static _Thread_local uint32_t api_oauth_jti_count;
static _Thread_local bool api_oauth_jti_seeded;

/*
 * api_oauth_access_check runs after the assertion's jti was taken, in the same nested
 * transaction: it decides the authorization_details in log order and, when permitted, turns the
 * write's fields into the access entry, with the token's jti, iat and exp (the sequencer's time).
 */
static enum err
api_oauth_access_check(struct store_txn *t, struct seq_write *w)
{
    struct api_oauth_req *r = w->check_ctx;
    char *fields = NULL;
    uint8_t raw[16];
    size_t len, k;
    enum err rc;

    rc = authz_decide(t, r->policy, r->az, r->org, w->now, w->why);
    if (rc == ERR_PERM) {
        r->refusal = "access_denied";
        return rc;
    }
    if (rc == ERR_INVAL) {
        r->refusal = "invalid_authorization_details";
        return rc;
    }
    if (rc == ERR_AUTH) {
        r->refusal = "unauthorized_client";
        return rc;
    }
    if (rc != ERR_OK)
        return rc;
    /*
     * The token's jti: the second it is issued, a count of the tokens this thread issued
     * (from a random start), then 64 random bits, in hex. Ids sort by time and then by issue,
     * so the access table's inserts land on its last page instead of dirtying a leaf each
     * (random bits after the second alone spread a batch's inserts over the second's pages:
     * thousands of ids a second); the random bits keep ids unique across restarts.
     */
    if (!api_oauth_jti_seeded) {
        hash_random((uint8_t *)&api_oauth_jti_count, sizeof(api_oauth_jti_count));
        api_oauth_jti_seeded = true;
    }
    api_oauth_jti_count++;
    for (k = 0; k < 4; k++) {
        raw[k] = (uint8_t)((uint64_t)w->now >> (24 - 8 * k));
        raw[4 + k] = (uint8_t)(api_oauth_jti_count >> (24 - 8 * k));
    }
    hash_random(raw + 8, sizeof(raw) - 8);
    for (k = 0; k < sizeof(raw); k++)
        snprintf(r->token_jti + 2 * k, 3, "%02x", raw[k]);
    r->iat = w->now;
    r->token_exp = w->now + policy_token_lifetime(r->policy, r->az->break_glass);
    rc = authz_entry(r->policy, r->az, r->token_jti, r->id, r->org, r->issuer, r->iat, r->token_exp,
                     &fields, &len);
    if (rc != ERR_OK)
        return rc;
    /* The check replaces the write's fields (see struct seq_write); the old ones are freed. */
    free(w->fields);
    w->fields = fields;
    w->fields_len = len;
    return ERR_OK;
}

/* api_oauth_access_issued answers a consent-checked token once its access entry is durable. */
static void
api_oauth_access_issued(struct http_call *c, const struct seq_write *w)
{
    const struct api_oauth_req *r = w->check_ctx;
    const struct token_signer *s = http_app_of(c)->tokens;
    const char *aud[AUTHZ_MAX_AUD], *ids[AUTHZ_MAX_GRANTS];
    struct token_access ta;
    struct token_claims tc;
    cJSON *details, *j;
    char *token = NULL;
    unsigned k;
    enum err rc;

    memset(&tc, 0, sizeof(tc));
    snprintf(tc.sub, sizeof(tc.sub), "%s", r->id);
    snprintf(tc.client_id, sizeof(tc.client_id), "%s", r->id);
    snprintf(tc.jti, sizeof(tc.jti), "%s", r->token_jti);
    tc.iat = r->iat;
    tc.exp = r->token_exp;
    for (k = 0; k < r->az->naud; k++)
        aud[k] = r->az->aud[k];
    for (k = 0; k < r->az->ngrants; k++)
        ids[k] = r->az->grants[k].jti;
    details = authz_granted(r->policy, r->az);
    memset(&ta, 0, sizeof(ta));
    ta.aud = aud;
    ta.naud = r->az->naud;
    ta.details = details;
    ta.log_index = w->index;
    ta.purpose = r->az->break_glass ? AUTHZ_BTG : r->az->d[0].purpose;
    ta.purpose_display =
        r->az->break_glass ? AUTHZ_BTG_DISPLAY : policy_purpose_display(r->policy, ta.purpose);
    ta.doc_ids = ids;
    ta.ndoc_ids = r->az->ngrants;
    rc = token_mint_access(s, &tc, &ta, &token);
    if (rc != ERR_OK) {
        cJSON_Delete(details);
        http_reply_oauth_error(c, 500, "server_error",
                               "the access entry is at log index %llu, but the token could not "
                               "be signed (%s)",
                               (unsigned long long)w->index, err_str(rc));
        return;
    }
    http_log_who(c, tc.client_id, tc.jti);
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "access_token", token);
    cJSON_AddStringToObject(j, "token_type", "Bearer");
    cJSON_AddNumberToObject(j, "expires_in", (double)(tc.exp - tc.iat));
    cJSON_AddStringToObject(j, "scope", TOKEN_ACCESS_SCOPE);
    cJSON_AddItemToObject(j, "authorization_details", details);
    cJSON_AddNumberToObject(j, "log_index", (double)w->index);
    /* http_reply adds Cache-Control: no-store, as RFC 6749 §5.1 requires. */
    http_reply_json(c, 200, j);
    cJSON_Delete(j);
    free(token);
}

/*
 * api_oauth_access handles a client_credentials request with authorization_details from an
 * authenticated client cl: role requester (emergency for break-glass), no scope, the details
 * well formed and their
 * locations registered custodians' endpoints; then the write that takes the assertion's jti,
 * decides and appends the access entry.
 */
static void
api_oauth_access(struct http_call *c, const char **p, const struct clients_client *cl,
                 const struct assertion_claims *claims)
{
    const struct http_app *app = http_app_of(c);
    struct api_oauth_req *r;
    struct store_txn *t = NULL;
    char why[STATE_WHY_MAX];
    enum err rc;

    if (p[P_SCOPE] != NULL) {
        http_reply_oauth_error(c, 400, "invalid_request",
                               "send either scope or authorization_details: a token for "
                               "patients' records carries no other capability");
        return;
    }
    r = xcalloc(1, sizeof(*r) + sizeof(struct authz_request));
    rc = authz_parse(app->policy, p[P_AD], strlen(p[P_AD]), r->az, why);
    if (rc == ERR_OK &&
        (cl->roles & (r->az->break_glass ? POLICY_ROLE_EMERGENCY : POLICY_ROLE_REQUESTER)) == 0) {
        http_reply_oauth_error(
            c, 400, "unauthorized_client", "client %.64s does not have the %s role, which %s needs",
            cl->client_id, r->az->break_glass ? "emergency" : "requester",
            r->az->break_glass ? "break-glass access" : "asking for access to patients' records");
        free(r);
        return;
    }
    if (rc == ERR_OK) {
        rc = store_begin(app->store, false, &t);
        if (rc == ERR_OK)
            rc = authz_locations(t, app->policy, r->az, why);
        store_abort(t);
    }
    if (rc != ERR_OK) {
        if (rc == ERR_INVAL)
            http_reply_oauth_error(c, 400, "invalid_authorization_details", "%s", why);
        else
            http_reply_oauth_error(c, 500, "server_error",
                                   "could not read the authorization_details (%s)", err_str(rc));
        free(r);
        return;
    }
    r->jtis = app->jtis;
    r->kind = API_OAUTH_CLIENT;
    memcpy(r->id, cl->client_id, strlen(cl->client_id) + 1);
    memcpy(r->who, cl->client_id, strlen(cl->client_id) + 1);
    memcpy(r->jti, claims->jti, sizeof(r->jti));
    r->exp = claims->exp;
    memcpy(r->pk, cl->pk, sizeof(r->pk));
    r->access = true;
    r->policy = app->policy;
    memcpy(r->org, cl->org, sizeof(r->org));
    snprintf(r->issuer, sizeof(r->issuer), "%s", app->cfg->issuer);
    /* The entry's fields are made by the check, once the decision is taken in log order. */
    http_submit(c, "access", NULL, 0, api_oauth_check, r, api_oauth_issued);
}

void
api_oauth_token(struct http_call *c)
{
    static const char *const names[P_COUNT] = {
        "grant_type", "client_assertion_type", "client_assertion", "scope", "client_id",
        "assertion",  "authorization_details"};
    const char *p[P_COUNT];

    if (!http_form(c, names, P_COUNT, p, true))
        return;
    if (p[P_GRANT_TYPE] == NULL) {
        http_reply_oauth_error(
            c, 400, "invalid_request",
            "grant_type is missing: send client_credentials or " API_OAUTH_JWT_BEARER);
        return;
    }
    if (p[P_AD] != NULL && strcmp(p[P_GRANT_TYPE], API_OAUTH_CC) != 0) {
        http_reply_oauth_error(c, 400, "invalid_request",
                               "authorization_details belongs to the client_credentials grant");
        return;
    }
    if (strcmp(p[P_GRANT_TYPE], API_OAUTH_CC) == 0)
        api_oauth_client(c, p);
    else if (strcmp(p[P_GRANT_TYPE], API_OAUTH_JWT_BEARER) == 0)
        api_oauth_patient(c, p);
    else
        http_reply_oauth_error(c, 400, "unsupported_grant_type",
                               "grant_type must be client_credentials or " API_OAUTH_JWT_BEARER);
}
