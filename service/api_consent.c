/*
 * api_consent: grants, denials, revocations, delegations and decisions (DESIGN.md §4, §6).
 *
 *   POST /v1/consents                  anyone: the person's (or a delegate's) signature is the
 *                                      authority; {"jws"} → {"jti","log_index"}
 *   POST /v1/consents/{jti}/revoke     likewise, with a signed revocation
 *   POST /v1/delegations               the person ({"jws"}) or the admin ({"nhs","delegate",
 *                                      "rights","relationship","reason"[,"period"]})
 *   GET  /v1/patients/{nhs}/consents   the person's token, an active delegate's own token, or
 *                                      scope audit: every grant with its status, newest first
 *   POST /v1/decisions                 admin or scope audit: may org read datatypes of nhs for
 *                                      purpose now? with the grants and rules behind it
 *
 * The handlers check the request's shape and the policy (purposes, categories, organisation
 * types), ask consents_ for an early precise answer in a read transaction, and hand the write
 * to the sequencer, whose check re-decides in log order with the same function so that a
 * refusal there is just as precise. Nothing is logged: NHS numbers and signatures are
 * personal, and a refusal's sentence goes only to the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/api.h"
#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/jstrict.h"
#include "consentd/json.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/xmalloc.h"

enum api_consent_kind { API_CONSENT_GRANT = 1, API_CONSENT_REVOKE, API_CONSENT_DELEGATION };

/*
 * What a write's check and answer share: heap memory handed to http_submit as the check's
 * context (freed after the answer). The check sets refusal so the answer can be precise.
 */
struct api_consent_ctx {
    enum api_consent_kind kind;
    bool admin;
    enum consents_refusal refusal;
    char jti[CONSENTS_JTI_MAX + 1];
    char nhs[NHS_LEN + 1];
    char delegate[NHS_LEN + 1];
};

static bool
api_consent_read_begin(struct http_call *c, struct store_txn **t)
{
    if (store_begin(http_app_of(c)->store, false, t) == ERR_OK)
        return true;
    http_reply_problem(c, 500, "internal", "Internal error", "cannot read the store");
    return false;
}

static void
api_consent_internal(struct http_call *c, enum err rc)
{
    http_reply_problem(c, 500, "internal", "Internal error", "the store failed (%s)", err_str(rc));
}

/* api_consent_refused answers a refusal by consents_ with its status and stable slug. */
static void
api_consent_refused(struct http_call *c, enum consents_refusal r, bool admin, const char *why)
{
    int status = 400;
    const char *title = "Refused";

    switch (r) {
    case CONSENTS_MALFORMED:
        if (admin) {
            http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
            return;
        }
        title = "Invalid JWS";
        break;
    case CONSENTS_BAD_PERIOD:
        title = "Invalid period";
        break;
    case CONSENTS_SIGNER_UNKNOWN:
        title = "Signer not enrolled";
        break;
    case CONSENTS_BAD_SIGNATURE:
        status = 403;
        title = "Not signed by the signer's current key";
        break;
    case CONSENTS_NOT_DELEGATED:
        status = 403;
        title = "Not delegated";
        break;
    case CONSENTS_BEYOND_RIGHTS:
        status = 403;
        title = "Beyond the delegated rights";
        break;
    case CONSENTS_JTI_REUSED:
        status = 409;
        title = "jti already used";
        break;
    case CONSENTS_GRANT_UNKNOWN:
        status = 404;
        title = "Unknown grant";
        break;
    case CONSENTS_OTHER_PERSON:
        status = 403;
        title = "Not the person's grant";
        break;
    case CONSENTS_ALREADY_REVOKED:
        status = 409;
        title = "Already revoked";
        break;
    case CONSENTS_SELF_DELEGATION:
        title = "Self-delegation";
        break;
    case CONSENTS_DELEGATION_LOOP:
        status = 409;
        title = "Delegation loop";
        break;
    case CONSENTS_DELEGATE_UNKNOWN:
        title = "Delegate not enrolled";
        break;
    case CONSENTS_PATIENT_UNKNOWN:
        title = "Patient not enrolled";
        break;
    case CONSENTS_NOT_ENROLLER:
        status = 403;
        title = "Not an enroller";
        break;
    case CONSENTS_OK:
        http_reply_problem(c, 500, "internal", "Internal error", "refused without a reason");
        return;
    }
    http_reply_problem(c, status, consents_refusal_name(r), title, "%s", why);
}

/* api_consent_check_rc answers a failed consents_*_check; true if it answered. */
static bool
api_consent_check_failed(struct http_call *c, enum err rc, enum consents_refusal r, bool admin,
                         const char *why)
{
    if (rc == ERR_OK)
        return false;
    if (rc == ERR_STORAGE || rc == ERR_NOMEM || r == CONSENTS_OK)
        api_consent_internal(c, rc);
    else
        api_consent_refused(c, r, admin, why);
    return true;
}

/* --- policy checks: the state does not know the policy, the handler does --- */

static bool
api_consent_purpose_ok(struct http_call *c, const char *purpose)
{
    if (policy_purpose_known(http_app_of(c)->policy, purpose))
        return true;
    http_reply_problem(c, 400, "unknown-purpose", "Unknown purpose",
                       "purpose \"%.16s\" is not a purpose of use of this service's policy",
                       purpose);
    return false;
}

static bool
api_consent_category_ok(struct http_call *c, const char *name)
{
    char list[512];

    if (policy_category_known(http_app_of(c)->policy, name))
        return true;
    policy_category_list(http_app_of(c)->policy, list, sizeof(list));
    http_reply_problem(c, 400, "unknown-category", "Unknown data category",
                       "\"%.64s\" is not a data category of this service's policy; the "
                       "categories are: %s",
                       name, list);
    return false;
}

static bool
api_consent_grant_policy(struct http_call *c, const struct consents_grant *g)
{
    const struct policy *pol = http_app_of(c)->policy;
    char list[512];
    unsigned i;

    if (!api_consent_purpose_ok(c, g->purpose))
        return false;
    for (i = 0; i < g->ndatatypes; i++)
        if (!api_consent_category_ok(c, g->datatypes[i]))
            return false;
    if (g->grantee == CONSENT_GRANTEE_ROLE && !policy_org_type_known(pol, g->grantee_value)) {
        policy_org_type_list(pol, list, sizeof(list));
        http_reply_problem(c, 400, "unknown-org-type", "Unknown organisation type",
                           "grantee role \"%.64s\" is not an organisation type of this "
                           "service's policy; the types are: %s",
                           g->grantee_value, list);
        return false;
    }
    return true;
}

static bool
api_consent_rights_policy(struct http_call *c, const struct consents_rights *r)
{
    unsigned i;

    for (i = 0; i < r->npurposes; i++)
        if (!api_consent_purpose_ok(c, r->purposes[i]))
            return false;
    for (i = 0; i < r->ndatatypes; i++)
        if (!api_consent_category_ok(c, r->datatypes[i]))
            return false;
    return true;
}

/* --- the writes --- */

/* The sequencer's check: the same decision, in log order, at the entry's time. */
static enum err
api_consent_write_check(struct store_txn *t, struct seq_write *w)
{
    struct api_consent_ctx *x = w->check_ctx;
    struct consents_delegation *d = NULL;
    struct consents_grant *g = NULL;
    struct consents_revocation r;
    const char *jws = NULL;
    cJSON *o = json_fields_parse(w->fields, w->fields_len);
    enum err rc = ERR_INVAL;

    x->refusal = CONSENTS_OK;
    if (o == NULL) {
        snprintf(w->why, sizeof(w->why), "the entry could not be re-read");
        return ERR_INVAL;
    }
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "jws")))
        jws = cJSON_GetObjectItemCaseSensitive(o, "jws")->valuestring;
    switch (x->kind) {
    case API_CONSENT_GRANT:
        g = xmalloc(sizeof(*g));
        if (jws != NULL)
            rc = consents_grant_check(t, jws, strlen(jws), w->now, g, &x->refusal, w->why);
        break;
    case API_CONSENT_REVOKE:
        if (jws != NULL)
            rc = consents_revoke_check(t, jws, strlen(jws), w->now, &r, &x->refusal, w->why);
        break;
    case API_CONSENT_DELEGATION:
        d = xmalloc(sizeof(*d));
        rc = consents_delegation_check(t, jws, jws == NULL ? 0 : strlen(jws),
                                       jws == NULL ? o : NULL, w->now, d, &x->refusal, w->why);
        break;
    }
    free(g);
    free(d);
    cJSON_Delete(o);
    return rc;
}

static void
api_consent_written(struct http_call *c, const struct seq_write *w)
{
    const struct api_consent_ctx *x = w->check_ctx;
    char leaf[48];
    cJSON *j;

    if (w->rc == ERR_OK) {
        j = cJSON_CreateObject();
        if (x->jti[0] != '\0')
            cJSON_AddStringToObject(j, "jti", x->jti);
        if (x->kind == API_CONSENT_DELEGATION) {
            cJSON_AddStringToObject(j, "nhs", x->nhs);
            cJSON_AddStringToObject(j, "delegate", x->delegate);
        }
        json_add_u64(j, "log_index", w->index);
        if (b64_encode(w->leaf, HASH_BYTES, B64_STD, leaf, sizeof(leaf)) == ERR_OK)
            cJSON_AddStringToObject(j, "leaf_hash", leaf);
        json_add_u64(j, "checkpoint_size", w->checkpoint_size);
        http_reply_json(c, 201, j);
        cJSON_Delete(j);
        return;
    }
    if (x->refusal != CONSENTS_OK) {
        api_consent_refused(c, x->refusal, x->admin, w->why);
        return;
    }
    http_reply_write_failed(c, w);
}

/* api_consent_submit hands {"jws": jws} or the admin's fields to the sequencer. */
static void
api_consent_submit(struct http_call *c, const char *type, const cJSON *fields,
                   struct api_consent_ctx *x)
{
    char *text = NULL;
    size_t len;

    if (json_fields_text(fields, &text, &len) != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        free(x);
        return;
    }
    http_submit(c, type, text, len, api_consent_write_check, x, api_consent_written);
}

/* api_consent_jws_body reads a body of exactly {"jws"}; NULL (answered) if it is not one. */
static const char *
api_consent_jws_body(struct http_call *c, const cJSON *body)
{
    static const char *const members[] = {"jws"};
    char why[JSON_WHY_MAX];
    const char *jws = NULL;
    enum err rc;

    rc = json_only_members(body, members, 1, why);
    if (rc == ERR_OK)
        rc = json_string(body, "jws", true, 1, JWS_MAX_LEN, &jws, why);
    if (rc != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        return NULL;
    }
    return jws;
}

void
api_consent_create(struct http_call *c)
{
    char why[STATE_WHY_MAX];
    struct api_consent_ctx *x = NULL;
    struct consents_grant *g = xmalloc(sizeof(*g));
    enum consents_refusal r;
    struct store_txn *t = NULL;
    cJSON *body, *fields = NULL;
    const char *jws;
    enum err rc;

    body = http_json_body(c);
    if (body == NULL)
        goto out;
    jws = api_consent_jws_body(c, body);
    if (jws == NULL)
        goto out;
    /* The shape and the policy first, then the state (signature, delegation, jti). */
    rc = consents_grant_parse(jws, strlen(jws), g, &r, why);
    if (api_consent_check_failed(c, rc, r, false, why))
        goto out;
    if (!api_consent_grant_policy(c, g))
        goto out;
    if (!api_consent_read_begin(c, &t))
        goto out;
    rc = consents_grant_check(t, jws, strlen(jws), (int64_t)time(NULL), g, &r, why);
    if (api_consent_check_failed(c, rc, r, false, why))
        goto out;
    x = xcalloc(1, sizeof(*x));
    x->kind = API_CONSENT_GRANT;
    snprintf(x->jti, sizeof(x->jti), "%s", g->jti);
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "jws", jws);
    api_consent_submit(c, "consent", fields, x);
out:
    store_abort(t);
    cJSON_Delete(fields);
    cJSON_Delete(body);
    free(g);
}

/* api_consent_revoke serves POST /v1/consents/{jti}/revoke. */
void
api_consent_revoke(struct http_call *c)
{
    char jti[CONSENTS_JTI_MAX + 1], why[STATE_WHY_MAX];
    struct api_consent_ctx *x = NULL;
    struct consents_revocation rv;
    struct jws_parts p;
    enum consents_refusal r;
    struct store_txn *t = NULL;
    cJSON *body = NULL, *fields = NULL;
    const cJSON *named;
    const char *jws, *param;
    size_t plen;
    enum err rc;

    memset(&p, 0, sizeof(p));
    param = http_path_param(c, &plen);
    if (plen <= 7 || plen - 7 > CONSENTS_JTI_MAX || memcmp(param + plen - 7, "/revoke", 7) != 0) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "a grant is revoked at POST /v1/consents/{jti}/revoke");
        return;
    }
    memcpy(jti, param, plen - 7);
    jti[plen - 7] = '\0';
    if (!consents_jti_valid(jti)) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "{jti} must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'",
                           CONSENTS_JTI_MAX);
        return;
    }
    body = http_json_body(c);
    if (body == NULL)
        return;
    jws = api_consent_jws_body(c, body);
    if (jws == NULL)
        goto out;
    /* The path and the signed revocation must name the same grant. */
    if (jws_decode(jws, strlen(jws), &p, NULL) == ERR_OK) {
        named = cJSON_GetObjectItemCaseSensitive(p.payload, "grant");
        if (cJSON_IsString(named) && strcmp(named->valuestring, jti) != 0) {
            http_reply_problem(c, 400, "grant-mismatch", "Grant mismatch",
                               "the revocation's \"grant\" is not the {jti} in the path");
            goto out;
        }
    }
    if (!api_consent_read_begin(c, &t))
        goto out;
    rc = consents_revoke_check(t, jws, strlen(jws), (int64_t)time(NULL), &rv, &r, why);
    if (api_consent_check_failed(c, rc, r, false, why))
        goto out;
    x = xcalloc(1, sizeof(*x));
    x->kind = API_CONSENT_REVOKE;
    snprintf(x->jti, sizeof(x->jti), "%s", rv.jti);
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "jws", jws);
    api_consent_submit(c, "consent.revoke", fields, x);
out:
    jws_parts_clear(&p);
    store_abort(t);
    cJSON_Delete(fields);
    cJSON_Delete(body);
}

/*
 * api_consent_delegation_policy checks the purposes and categories of a delegation's rights
 * (in fields, or in the payload of jws) against the policy. Rights that do not parse are left
 * to consents_delegation_check, which names the problem.
 */
static bool
api_consent_delegation_policy(struct http_call *c, const cJSON *fields, const char *jws)
{
    char why[STATE_WHY_MAX];
    struct consents_rights *r = xmalloc(sizeof(*r));
    struct jws_parts p;
    const cJSON *rights = NULL;
    bool ok = true;

    memset(&p, 0, sizeof(p));
    if (fields != NULL)
        rights = cJSON_GetObjectItemCaseSensitive(fields, "rights");
    else if (jws_decode(jws, strlen(jws), &p, NULL) == ERR_OK)
        rights = cJSON_GetObjectItemCaseSensitive(p.payload, "rights");
    if (rights != NULL && consents_rights_parse(rights, r, why) == ERR_OK)
        ok = api_consent_rights_policy(c, r);
    jws_parts_clear(&p);
    free(r);
    return ok;
}

void
api_consent_delegation_create(struct http_call *c)
{
    static const char *const admin_members[] = {"nhs",          "delegate", "rights",
                                                "relationship", "reason",   "period"};
    char why[STATE_WHY_MAX], jwhy[JSON_WHY_MAX];
    struct consents_delegation *d = xmalloc(sizeof(*d));
    struct api_consent_ctx *x = NULL;
    enum consents_refusal r;
    struct store_txn *t = NULL;
    cJSON *body, *fields = NULL, *m;
    const char *jws = NULL, *ident;
    char nhs[NHS_LEN + 1];
    bool admin;
    enum err rc;

    body = http_json_body(c);
    if (body == NULL)
        goto out;
    admin = cJSON_GetObjectItemCaseSensitive(body, "jws") == NULL;
    if (admin) {
        /* Without the person's signature the authority is the admin's. */
        if (!http_require_admin(c))
            goto out;
        rc = json_only_members(body, admin_members, 6, jwhy);
        if (rc == ERR_OK)
            rc = json_string(body, "nhs", true, 1, PATIENTS_IDENT_MAX, &ident, jwhy);
        if (rc != ERR_OK) {
            http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", jwhy);
            goto out;
        }
        if (!api_consent_read_begin(c, &t))
            goto out;
        rc = patients_resolve(t, ident, nhs, why);
        if (rc == ERR_INVAL || rc == ERR_NOTFOUND) {
            http_reply_problem(c, rc == ERR_INVAL ? 400 : 404,
                               rc == ERR_INVAL ? "invalid-nhs" : "unknown-identifier",
                               "Invalid NHS number or identifier", "%s", why);
            goto out;
        }
        if (rc != ERR_OK) {
            api_consent_internal(c, rc);
            goto out;
        }
        fields = cJSON_CreateObject();
        cJSON_AddStringToObject(fields, "nhs", nhs);
        cJSON_ArrayForEach(m, body)
        {
            if (strcmp(m->string, "nhs") != 0)
                cJSON_AddItemToObject(fields, m->string, cJSON_Duplicate(m, true));
        }
        cJSON_AddStringToObject(fields, "by", "admin");
    } else {
        jws = api_consent_jws_body(c, body);
        if (jws == NULL)
            goto out;
        if (!api_consent_read_begin(c, &t))
            goto out;
        fields = cJSON_CreateObject();
        cJSON_AddStringToObject(fields, "jws", jws);
    }
    /* The policy first (when the rights parse at all), then the state. */
    if (!api_consent_delegation_policy(c, admin ? fields : NULL, jws))
        goto out;
    rc = consents_delegation_check(t, jws, jws == NULL ? 0 : strlen(jws), admin ? fields : NULL,
                                   (int64_t)time(NULL), d, &r, why);
    if (api_consent_check_failed(c, rc, r, admin, why))
        goto out;
    x = xcalloc(1, sizeof(*x));
    x->kind = API_CONSENT_DELEGATION;
    x->admin = admin;
    snprintf(x->jti, sizeof(x->jti), "%s", d->jti);
    snprintf(x->nhs, sizeof(x->nhs), "%s", d->nhs);
    snprintf(x->delegate, sizeof(x->delegate), "%s", d->delegate);
    api_consent_submit(c, "delegation", fields, x);
out:
    store_abort(t);
    cJSON_Delete(fields);
    cJSON_Delete(body);
    free(d);
}

/* --- GET /v1/patients/{nhs}/consents --- */

struct api_consent_list {
    cJSON *a;
    int64_t now;
};

static cJSON *
api_consent_grantee(const struct consents_grant *g)
{
    cJSON *o;

    if (g->grantee == CONSENT_GRANTEE_ANY)
        return cJSON_CreateString("*");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, g->grantee == CONSENT_GRANTEE_ORG ? "org" : "role",
                            g->grantee_value);
    return o;
}

static enum err
api_consent_list_one(void *ctx, const struct consents_record *rec)
{
    struct api_consent_list *l = ctx;
    char when[CONSENTS_TIME_LEN + 1];
    cJSON *o = cJSON_CreateObject(), *a, *p, *rv;
    unsigned i;

    cJSON_AddItemToArray(l->a, o);
    cJSON_AddStringToObject(o, "jti", rec->g.jti);
    json_add_u64(o, "log_index", rec->index);
    consents_time_format(rec->recorded, when);
    cJSON_AddStringToObject(o, "recorded", when);
    cJSON_AddStringToObject(o, "status", consents_status_name(consents_status(rec, l->now)));
    cJSON_AddStringToObject(o, "iss", rec->g.iss);
    /* A paper grant names the person as iss (they consented) and the enroller who recorded it. */
    cJSON_AddStringToObject(o, "source",
                            rec->source == CONSENTS_SOURCE_PAPER  ? "paper"
                            : strcmp(rec->g.iss, rec->g.sub) == 0 ? "patient"
                                                                  : "delegate");
    if (rec->source == CONSENTS_SOURCE_PAPER)
        cJSON_AddStringToObject(o, "by", rec->by);
    cJSON_AddStringToObject(o, "effect", rec->g.effect == CONSENT_PERMIT ? "permit" : "deny");
    cJSON_AddItemToObject(o, "grantee", api_consent_grantee(&rec->g));
    cJSON_AddStringToObject(o, "purpose", rec->g.purpose);
    a = cJSON_AddArrayToObject(o, "datatypes");
    for (i = 0; i < rec->g.ndatatypes; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(rec->g.datatypes[i]));
    a = cJSON_AddArrayToObject(o, "actions");
    cJSON_AddItemToArray(a, cJSON_CreateString("read"));
    p = cJSON_AddObjectToObject(o, "period");
    consents_time_format(rec->g.start, when);
    cJSON_AddStringToObject(p, "start", when);
    consents_time_format(rec->g.end, when);
    cJSON_AddStringToObject(p, "end", when);
    if (rec->revoked) {
        rv = cJSON_AddObjectToObject(o, "revoked");
        json_add_u64(rv, "log_index", rec->revoke_index);
        consents_time_format(rec->revoked_at, when);
        cJSON_AddStringToObject(rv, "time", when);
    }
    return ERR_OK;
}

static void
api_consent_list(struct http_call *c)
{
    const struct http_app *app = http_app_of(c);
    char ident[PATIENTS_IDENT_MAX + 1], nhs[NHS_LEN + 1], why[STATE_WHY_MAX];
    struct api_consent_list l = {NULL, (int64_t)time(NULL)};
    struct store_txn *t = NULL;
    struct token_claims who;
    bool audit, delegate = false;
    const char *param;
    cJSON *j = NULL;
    size_t plen, n;
    enum err rc;

    param = http_path_param(c, &plen);
    n = plen - 9; /* the dispatcher checked the "/consents" suffix */
    if (!http_require_token(c, TOKEN_SCOPE_PATIENT | TOKEN_SCOPE_AUDIT, &who))
        return;
    if (n == 0 || n > PATIENTS_IDENT_MAX) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "the path must name a person: /v1/patients/{nhs}/consents");
        return;
    }
    memcpy(ident, param, n);
    ident[n] = '\0';
    audit = (who.scopes & TOKEN_SCOPE_AUDIT) != 0;
    if (strlen(ident) != n) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "the path must name a person: an NHS number or a percent-encoded "
                           "linked identifier system|value");
        return;
    }
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = patients_resolve(t, ident, nhs, why);
    if (rc == ERR_INVAL) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        goto out;
    }
    if (rc == ERR_NOTFOUND && audit) {
        http_reply_problem(c, 404, "not-found", "Not found", "%s", why);
        goto out;
    }
    if (rc == ERR_OK && !audit && strcmp(who.nhs, nhs) != 0)
        rc = consents_delegated(t, nhs, who.nhs, l.now, &delegate);
    if ((rc == ERR_OK || rc == ERR_NOTFOUND) && !audit &&
        (rc == ERR_NOTFOUND || (strcmp(who.nhs, nhs) != 0 && !delegate))) {
        http_reply_problem(c, 403, "forbidden", "Forbidden",
                           "this token is another person's: a person's token reads their own "
                           "grants, or those of someone who delegated to them (or use a token "
                           "with scope audit)");
        goto out;
    }
    if (rc != ERR_OK) {
        api_consent_internal(c, rc);
        goto out;
    }
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "nhs", nhs);
    l.a = cJSON_AddArrayToObject(j, "consents");
    rc = consents_list(t, nhs, api_consent_list_one, &l);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "cannot list the grants (%s)",
                           err_str(rc));
        goto out;
    }
    http_reply_json(c, 200, j);
out:
    store_abort(t);
    cJSON_Delete(j);
}

void
api_patient_get(struct http_call *c)
{
    size_t plen;
    const char *param = http_path_param(c, &plen);

    if (plen > 9 && memcmp(param + plen - 9, "/pointers", 9) == 0) {
        api_pointer_list(c);
        return;
    }
    if (plen > 9 && memcmp(param + plen - 9, "/consents", 9) == 0) {
        api_consent_list(c);
        return;
    }
    if (plen > 7 && memcmp(param + plen - 7, "/access", 7) == 0) {
        api_token_access_list(c);
        return;
    }
    if (plen > 8 && memcmp(param + plen - 8, "/entries", 8) == 0) {
        api_trail_list(c);
        return;
    }
    http_reply_problem(c, 404, "not-found", "Not found",
                       "there is no such endpoint; a person's pointers, grants, accesses and log "
                       "entries are at GET /v1/patients/{nhs}/pointers, /consents, /access and "
                       "/entries");
}

/* --- POST /v1/decisions --- */

/* api_consent_reasons adds the decision's explanation to j. */
static void
api_consent_reasons(const struct policy *pol, const struct consent_decision *d, cJSON *j)
{
    uint64_t sensitive = policy_sensitive_mask(pol);
    cJSON *permitted, *reasons, *o, *g;
    const char *name;
    unsigned i;

    permitted = cJSON_AddArrayToObject(j, "permitted");
    reasons = cJSON_AddArrayToObject(j, "reasons");
    for (i = 0; i < d->nreasons; i++) {
        name = policy_category_at(pol, d->reasons[i].category);
        if (name == NULL)
            continue;
        if ((d->permitted & (UINT64_C(1) << d->reasons[i].category)) != 0)
            cJSON_AddItemToArray(permitted, cJSON_CreateString(name));
        o = cJSON_CreateObject();
        cJSON_AddItemToArray(reasons, o);
        cJSON_AddStringToObject(o, "datatype", name);
        cJSON_AddStringToObject(o, "basis", consent_basis_name(d->reasons[i].basis));
        if (d->reasons[i].grant != NULL) {
            g = cJSON_AddObjectToObject(o, "grant");
            cJSON_AddStringToObject(g, "jti", d->reasons[i].grant->jti);
            json_add_u64(g, "log_index", d->reasons[i].grant->index);
        } else if (d->reasons[i].basis == CONSENT_BASIS_IMPLIED) {
            cJSON_AddStringToObject(o, "rule",
                                    "implied: the organisation that enrolled the "
                                    "person may read for " CONSENTS_IMPLIED_PURPOSE);
        } else {
            cJSON_AddStringToObject(o, "rule",
                                    (sensitive & (UINT64_C(1) << d->reasons[i].category)) != 0
                                        ? "default: a sensitive category needs an explicit permit"
                                        : "default: nothing permits it");
        }
    }
}

void
api_consent_decide(struct http_call *c)
{
    static const char *const members[] = {"org", "nhs", "purpose", "datatypes", "actions"};
    const struct http_app *app = http_app_of(c);
    char why[STATE_WHY_MAX], jwhy[JSON_WHY_MAX], nhs[NHS_LEN + 1];
    char org_type[CONSENTS_NAME_MAX + 1], when[CONSENTS_TIME_LEN + 1];
    struct consent_decision *d = xcalloc(1, sizeof(*d));
    struct consent_request req;
    struct consents_set s;
    struct store_txn *t = NULL;
    struct token_claims who;
    const char *org, *ident, *purpose;
    const cJSON *m, *a;
    cJSON *body = NULL, *j = NULL;
    bool is_admin;
    int bit;
    enum err rc;

    consents_set_init(&s);
    memset(&req, 0, sizeof(req));
    if (!http_require_admin_or_token(c, TOKEN_SCOPE_AUDIT, &who, &is_admin))
        goto out;
    body = http_json_body(c);
    if (body == NULL)
        goto out;
    rc = json_only_members(body, members, 5, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "org", true, 1, CONSENTS_ODS_MAX, &org, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "nhs", true, 1, PATIENTS_IDENT_MAX, &ident, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "purpose", true, 1, CONSENTS_PURPOSE_MAX, &purpose, jwhy);
    if (rc != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", jwhy);
        goto out;
    }
    if (!api_consent_purpose_ok(c, purpose))
        goto out;
    a = cJSON_GetObjectItemCaseSensitive(body, "datatypes");
    if (!cJSON_IsArray(a) || a->child == NULL) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "\"datatypes\" must be a non-empty array of data categories");
        goto out;
    }
    cJSON_ArrayForEach(m, a)
    {
        if (!cJSON_IsString(m)) {
            http_reply_problem(c, 400, "invalid-field", "Invalid request",
                               "\"datatypes\" must be a non-empty array of data categories");
            goto out;
        }
        if (!api_consent_category_ok(c, m->valuestring))
            goto out;
        bit = policy_category_bit(app->policy, m->valuestring);
        if (bit < 0 || bit >= CONSENT_MAX_CATEGORIES ||
            (req.categories & (UINT64_C(1) << bit)) != 0) {
            http_reply_problem(c, 400, "invalid-field", "Invalid request",
                               "\"datatypes\" names \"%.64s\" twice", m->valuestring);
            goto out;
        }
        req.categories |= UINT64_C(1) << bit;
    }
    req.actions = CONSENT_ACTION_READ;
    a = cJSON_GetObjectItemCaseSensitive(body, "actions");
    if (a != NULL && (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 1 ||
                      !cJSON_IsString(a->child) || strcmp(a->child->valuestring, "read") != 0)) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "\"actions\" must be [\"read\"] (the only action), or left out");
        goto out;
    }
    if (!api_consent_read_begin(c, &t))
        goto out;
    rc = patients_resolve(t, ident, nhs, why);
    if (rc == ERR_INVAL || rc == ERR_NOTFOUND) {
        http_reply_problem(c, rc == ERR_INVAL ? 400 : 404,
                           rc == ERR_INVAL ? "invalid-nhs" : "unknown-identifier",
                           "Invalid NHS number or identifier", "%s", why);
        goto out;
    }
    if (rc != ERR_OK) {
        api_consent_internal(c, rc);
        goto out;
    }
    req.org = org;
    req.purpose = purpose;
    req.now = (int64_t)time(NULL);
    rc = consents_decide(t, app->policy, nhs, &req, org_type, &s, d);
    if (rc == ERR_NOTFOUND) {
        http_reply_problem(c, 404, "unknown-org", "Unknown organisation",
                           "organisation \"%.10s\" is not registered", org);
        goto out;
    }
    if (rc != ERR_OK) {
        api_consent_internal(c, rc);
        goto out;
    }
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "decision", d->permit ? "permit" : "deny");
    cJSON_AddStringToObject(j, "org", org);
    cJSON_AddStringToObject(j, "org_type", org_type);
    cJSON_AddBoolToObject(j, "org_enrolled_person", req.org_enrolled);
    cJSON_AddStringToObject(j, "nhs", nhs);
    cJSON_AddStringToObject(j, "purpose", purpose);
    consents_time_format(req.now, when);
    cJSON_AddStringToObject(j, "time", when);
    api_consent_reasons(app->policy, d, j);
    http_reply_json(c, 200, j);
out:
    store_abort(t);
    consents_set_clear(&s);
    cJSON_Delete(j);
    cJSON_Delete(body);
    free(d);
}
