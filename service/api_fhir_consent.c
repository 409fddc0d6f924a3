/*
 * api_fhir_consent: grants as FHIR R4 Consent resources over HTTP (DESIGN.md §4, §6; the
 * mapping is fhir_consent.c, docs/fhir-consent.md).
 *
 *   GET  /fhir/Consent?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}
 *        the person's token, an active delegate's own token, or scope audit (as GET
 *        /v1/patients/{nhs}/consents): every grant as a searchset Bundle, newest first
 *   POST /fhir/Consent
 *        a client token with scope enrol: a Consent an enroller took on paper for an enrolled
 *        patient → 201 with the stored resource and Location
 *
 * Every answer is application/fhir+json, errors an OperationOutcome with the FHIRPath of what
 * is at fault (a 401 for a missing or bad token is the problem every endpoint answers, with its
 * WWW-Authenticate challenge). The write is checked as POST /v1/consents checks a grant: early
 * in a read transaction, then again in log order by the sequencer with the same function
 * (consents_paper_check), which a replay applies too. Nothing is logged: NHS numbers are
 * personal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "consentd/api.h"
#include "consentd/consents.h"
#include "consentd/fhir_consent.h"
#include "consentd/jstrict.h"
#include "consentd/json.h"
#include "consentd/patients.h"
#include "consentd/xmalloc.h"

#define API_FHIR_CONSENT_PARAM   "patient:identifier"
#define API_FHIR_CONSENT_EXPR_ID "Consent.patient.identifier"

/*
 * A paper consent from parsing to the answer: the sequencer's check and done read it. It is
 * the write's check_ctx, so http_submit frees it.
 */
struct api_fhir_consent_req {
    enum consents_refusal refusal; /* set by the check */
    struct fhir_consent_grant g;   /* what the resource said, with jti and source_id filled */
};

/*
 * api_fhir_consent_oo answers an OperationOutcome with one error issue of FHIR IssueType code,
 * the FHIRPath expression at fault (or NULL) and a sentence saying what to fix.
 */
static void api_fhir_consent_oo(struct http_call *c, int status, const char *code,
                                const char *expression, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
api_fhir_consent_oo(struct http_call *c, int status, const char *code, const char *expression,
                    const char *fmt, ...)
{
    char msg[FHIR_CONSENT_DIAG_MAX];
    cJSON *oo;
    va_list ap;
    char *s;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    oo = fhir_consent_outcome(code, msg, expression);
    s = oo == NULL ? NULL : cJSON_PrintUnformatted(oo);
    if (s == NULL)
        http_reply(c, 500, "text/plain", "out of memory\n", 14);
    else
        http_reply(c, status, FHIR_CONSENT_FHIR_JSON, s, strlen(s));
    free(s);
    cJSON_Delete(oo);
}

/* api_fhir_consent_reply answers status with resource j as FHIR JSON (j is not freed). */
static void
api_fhir_consent_reply(struct http_call *c, int status, const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);

    if (s == NULL)
        http_reply(c, 500, "text/plain", "out of memory\n", 14);
    else
        http_reply(c, status, FHIR_CONSENT_FHIR_JSON, s, strlen(s));
    free(s);
}

/* api_fhir_consent_base writes the issuer without trailing slashes into out. */
static void
api_fhir_consent_base(struct http_call *c, char out[static TOKEN_ISSUER_MAX + 1])
{
    const char *issuer = http_app_of(c)->cfg->issuer;
    size_t n = strlen(issuer);

    while (n > 0 && issuer[n - 1] == '/')
        n--;
    snprintf(out, TOKEN_ISSUER_MAX + 1, "%.*s", (int)n, issuer);
}

/* api_fhir_consent_of fills g from rec, where it stands at now. */
static void
api_fhir_consent_of(const struct consents_record *rec, int64_t now, struct fhir_consent_grant *g)
{
    unsigned i;

    memset(g, 0, sizeof(*g));
    snprintf(g->jti, sizeof(g->jti), "%s", rec->g.jti);
    snprintf(g->nhs, sizeof(g->nhs), "%s", rec->g.sub);
    g->effect = rec->g.effect == CONSENT_PERMIT ? FHIR_CONSENT_PERMIT : FHIR_CONSENT_DENY;
    g->grantee = rec->g.grantee == CONSENT_GRANTEE_ORG    ? FHIR_CONSENT_GRANTEE_ORG
                 : rec->g.grantee == CONSENT_GRANTEE_ROLE ? FHIR_CONSENT_GRANTEE_ROLE
                                                          : FHIR_CONSENT_GRANTEE_ANY;
    snprintf(g->grantee_value, sizeof(g->grantee_value), "%s", rec->g.grantee_value);
    snprintf(g->purpose, sizeof(g->purpose), "%s", rec->g.purpose);
    for (i = 0; i < rec->g.ndatatypes && i < FHIR_CONSENT_MAX_DATATYPES; i++)
        snprintf(g->datatypes[i], sizeof(g->datatypes[i]), "%s", rec->g.datatypes[i]);
    g->ndatatypes = i;
    g->actions = FHIR_CONSENT_ACTION_READ;
    consents_time_format(rec->g.start, g->start);
    consents_time_format(rec->g.end, g->end);
    consents_time_format(rec->recorded, g->recorded);
    switch (consents_status(rec, now)) {
    case CONSENTS_ACTIVE:
        g->state = FHIR_CONSENT_STATE_ACTIVE;
        break;
    case CONSENTS_PENDING:
        g->state = FHIR_CONSENT_STATE_PENDING;
        break;
    case CONSENTS_EXPIRED:
        g->state = FHIR_CONSENT_STATE_EXPIRED;
        break;
    case CONSENTS_REVOKED:
        g->state = FHIR_CONSENT_STATE_REVOKED;
        break;
    }
    if (rec->source == CONSENTS_SOURCE_PAPER) {
        g->source = FHIR_CONSENT_SOURCE_PAPER;
        snprintf(g->source_id, sizeof(g->source_id), "%s", rec->by);
    } else if (strcmp(rec->g.iss, rec->g.sub) != 0) {
        g->source = FHIR_CONSENT_SOURCE_DELEGATE;
        snprintf(g->source_id, sizeof(g->source_id), "%s", rec->g.iss);
    } else {
        g->source = FHIR_CONSENT_SOURCE_PATIENT;
    }
    g->index = rec->index;
    g->revoke_index = rec->revoked ? rec->revoke_index : 0;
}

/* --- GET /fhir/Consent --- */

struct api_fhir_consent_list {
    struct fhir_consent_grant *g;
    size_t n;
    size_t cap;
    int64_t now;
};

static enum err
api_fhir_consent_list_one(void *ctx, const struct consents_record *rec)
{
    struct api_fhir_consent_list *l = ctx;

    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 16 : l->cap * 2;
        l->g = xrealloc(l->g, l->cap * sizeof(*l->g));
    }
    api_fhir_consent_of(rec, l->now, &l->g[l->n++]);
    return ERR_OK;
}

/*
 * api_fhir_consent_ident turns the search's token value ("system|value", or a value alone)
 * into what patients_resolve reads. On failure it answers and returns false.
 */
static bool
api_fhir_consent_ident(struct http_call *c, const char *v,
                       char ident[static PATIENTS_IDENT_MAX + 1])
{
    const char *bar = strchr(v, '|');

    if (v[0] == '\0' || strlen(v) > PATIENTS_IDENT_MAX) {
        api_fhir_consent_oo(c, 400, "value", API_FHIR_CONSENT_EXPR_ID,
                            "%s must be %s|{NHS number} (or a linked system|value), of at most "
                            "%d bytes",
                            API_FHIR_CONSENT_PARAM, FHIR_CONSENT_NHS_SYSTEM, PATIENTS_IDENT_MAX);
        return false;
    }
    if (bar == NULL || strcmp(v, FHIR_CONSENT_NHS_SYSTEM) == 0) {
        /* A value alone (FHIR: any system) can only be an NHS number. */
        snprintf(ident, PATIENTS_IDENT_MAX + 1, "%s", v);
        return true;
    }
    if (bar == v || bar[1] == '\0') {
        api_fhir_consent_oo(c, 400, "value", API_FHIR_CONSENT_EXPR_ID,
                            "%s needs both a system and a value: %s|{NHS number}",
                            API_FHIR_CONSENT_PARAM, FHIR_CONSENT_NHS_SYSTEM);
        return false;
    }
    if ((size_t)(bar - v) == strlen(FHIR_CONSENT_NHS_SYSTEM) &&
        strncmp(v, FHIR_CONSENT_NHS_SYSTEM, (size_t)(bar - v)) == 0) {
        if (!nhs_valid(bar + 1)) {
            api_fhir_consent_oo(c, 400, "value", API_FHIR_CONSENT_EXPR_ID ".value",
                                "the NHS number in %s is not valid: ten digits with a correct "
                                "Modulus 11 check digit",
                                API_FHIR_CONSENT_PARAM);
            return false;
        }
        snprintf(ident, PATIENTS_IDENT_MAX + 1, "%s", bar + 1);
        return true;
    }
    /* Another system: an identifier linked to an NHS number (patients_resolve decides). */
    snprintf(ident, PATIENTS_IDENT_MAX + 1, "%s", v);
    return true;
}

void
api_fhir_consent_search(struct http_call *c)
{
    static const char *const names[] = {API_FHIR_CONSENT_PARAM};
    const struct http_app *app = http_app_of(c);
    char ident[PATIENTS_IDENT_MAX + 1], nhs[NHS_LEN + 1], why[STATE_WHY_MAX];
    char base[TOKEN_ISSUER_MAX + 1], self[TOKEN_ISSUER_MAX + 128], qwhy[256];
    struct api_fhir_consent_list l = {NULL, 0, 0, (int64_t)time(NULL)};
    struct store_txn *t = NULL;
    struct token_claims who;
    const char *value = NULL, *bad = NULL;
    bool audit, delegate = false;
    cJSON *bundle = NULL;
    enum err rc;

    if (!http_require_token(c, 0, &who))
        return;
    audit = (who.scopes & TOKEN_SCOPE_AUDIT) != 0;
    if (!audit && (who.scopes & TOKEN_SCOPE_PATIENT) == 0) {
        api_fhir_consent_oo(c, 403, "forbidden", NULL,
                            "a person's grants are read with their own token, a delegate's own "
                            "token, or a token with scope audit");
        return;
    }
    if (!http_query_check(c, names, 1, &value, qwhy, sizeof(qwhy), &bad)) {
        api_fhir_consent_oo(c, 400, bad != NULL ? "not-supported" : "invalid", bad,
                            "%s; search with %s=%s|{NHS number} only", qwhy, API_FHIR_CONSENT_PARAM,
                            FHIR_CONSENT_NHS_SYSTEM);
        return;
    }
    if (value == NULL) {
        api_fhir_consent_oo(c, 400, "required", API_FHIR_CONSENT_PARAM,
                            "name the person: GET /fhir/Consent?%s=%s|{NHS number}",
                            API_FHIR_CONSENT_PARAM, FHIR_CONSENT_NHS_SYSTEM);
        return;
    }
    if (!api_fhir_consent_ident(c, value, ident))
        return;
    why[0] = '\0';
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = patients_resolve(t, ident, nhs, why);
    if (rc == ERR_INVAL) {
        api_fhir_consent_oo(c, 400, "value", API_FHIR_CONSENT_EXPR_ID, "%s", why);
        goto out;
    }
    if (rc == ERR_NOTFOUND && audit) {
        api_fhir_consent_oo(c, 404, "not-found", API_FHIR_CONSENT_EXPR_ID,
                            "%s; search by %s|{NHS number}, or by a system|value linked to one",
                            why, FHIR_CONSENT_NHS_SYSTEM);
        goto out;
    }
    if (rc == ERR_OK && !audit && strcmp(who.nhs, nhs) != 0)
        rc = consents_delegated(t, nhs, who.nhs, l.now, &delegate);
    if ((rc == ERR_OK || rc == ERR_NOTFOUND) && !audit &&
        (rc == ERR_NOTFOUND || (strcmp(who.nhs, nhs) != 0 && !delegate))) {
        api_fhir_consent_oo(c, 403, "forbidden", NULL,
                            "this token is another person's: a person's token reads their own "
                            "grants, or those of someone who delegated to them (or use a token "
                            "with scope audit)");
        goto out;
    }
    if (rc == ERR_OK)
        rc = consents_list(t, nhs, api_fhir_consent_list_one, &l);
    if (rc != ERR_OK) {
        api_fhir_consent_oo(c, 500, "exception", NULL, "cannot list the grants (%s)", err_str(rc));
        goto out;
    }
    api_fhir_consent_base(c, base);
    snprintf(self, sizeof(self), "%s/fhir/Consent?%s=%s|%s", base, API_FHIR_CONSENT_PARAM,
             FHIR_CONSENT_NHS_SYSTEM, nhs);
    bundle = fhir_consent_bundle(l.g, l.n, app->policy, base, self);
    if (bundle == NULL) {
        api_fhir_consent_oo(c, 500, "exception", NULL,
                            "a stored grant could not be shown as a Consent");
        goto out;
    }
    api_fhir_consent_reply(c, 200, bundle);
out:
    store_abort(t);
    cJSON_Delete(bundle);
    free(l.g);
}

/* --- POST /fhir/Consent --- */

/* api_fhir_consent_paper builds the entry's "paper" object of g (the grant's members). */
static cJSON *
api_fhir_consent_paper(const struct fhir_consent_grant *g)
{
    cJSON *p = cJSON_CreateObject(), *a, *o;
    size_t i;

    cJSON_AddStringToObject(p, "sub", g->nhs);
    cJSON_AddStringToObject(p, "jti", g->jti);
    cJSON_AddStringToObject(p, "effect", g->effect == FHIR_CONSENT_PERMIT ? "permit" : "deny");
    if (g->grantee == FHIR_CONSENT_GRANTEE_ANY) {
        cJSON_AddStringToObject(p, "grantee", "*");
    } else {
        o = cJSON_AddObjectToObject(p, "grantee");
        cJSON_AddStringToObject(o, g->grantee == FHIR_CONSENT_GRANTEE_ORG ? "org" : "role",
                                g->grantee_value);
    }
    cJSON_AddStringToObject(p, "purpose", g->purpose);
    a = cJSON_AddArrayToObject(p, "datatypes");
    for (i = 0; i < g->ndatatypes; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(g->datatypes[i]));
    a = cJSON_AddArrayToObject(p, "actions");
    cJSON_AddItemToArray(a, cJSON_CreateString("read"));
    o = cJSON_AddObjectToObject(p, "period");
    cJSON_AddStringToObject(o, "start", g->start);
    cJSON_AddStringToObject(o, "end", g->end);
    return p;
}

/* The sequencer's check: consents_paper_check in log order, on exactly what the entry holds. */
static enum err
api_fhir_consent_check(struct store_txn *t, struct seq_write *w)
{
    struct api_fhir_consent_req *r = w->check_ctx;
    struct consents_grant *g = xmalloc(sizeof(*g));
    cJSON *o = json_fields_parse(w->fields, w->fields_len);
    const cJSON *by;
    enum err rc = ERR_INVAL;

    r->refusal = CONSENTS_OK;
    if (o == NULL) {
        snprintf(w->why, sizeof(w->why), "the entry could not be re-read");
    } else {
        by = cJSON_GetObjectItemCaseSensitive(o, "by");
        rc = consents_paper_check(t, cJSON_GetObjectItemCaseSensitive(o, "paper"),
                                  cJSON_IsString(by) ? by->valuestring : NULL, w->now, g,
                                  &r->refusal, w->why);
    }
    cJSON_Delete(o);
    free(g);
    return rc;
}

/* api_fhir_consent_refused answers a refusal by consents_paper_check. */
static void
api_fhir_consent_refused(struct http_call *c, enum consents_refusal r, const char *why)
{
    switch (r) {
    case CONSENTS_PATIENT_UNKNOWN:
        api_fhir_consent_oo(c, 422, "business-rule", API_FHIR_CONSENT_EXPR_ID, "%s", why);
        return;
    case CONSENTS_NOT_ENROLLER:
        api_fhir_consent_oo(c, 403, "forbidden", NULL, "%s", why);
        return;
    case CONSENTS_JTI_REUSED:
        api_fhir_consent_oo(c, 409, "conflict", NULL, "%s; send the Consent again", why);
        return;
    case CONSENTS_MALFORMED:
    case CONSENTS_BAD_PERIOD:
        api_fhir_consent_oo(c, 400, "invalid", "Consent.provision", "%s", why);
        return;
    case CONSENTS_OK:
    case CONSENTS_SIGNER_UNKNOWN:
    case CONSENTS_BAD_SIGNATURE:
    case CONSENTS_NOT_DELEGATED:
    case CONSENTS_BEYOND_RIGHTS:
    case CONSENTS_GRANT_UNKNOWN:
    case CONSENTS_OTHER_PERSON:
    case CONSENTS_ALREADY_REVOKED:
    case CONSENTS_SELF_DELEGATION:
    case CONSENTS_DELEGATION_LOOP:
    case CONSENTS_DELEGATE_UNKNOWN:
        break;
    }
    api_fhir_consent_oo(c, 500, "exception", NULL, "refused without a reason a paper grant has");
}

static void
api_fhir_consent_written(struct http_call *c, const struct seq_write *w)
{
    struct api_fhir_consent_req *r = w->check_ctx;
    char base[TOKEN_ISSUER_MAX + 1], id[FHIR_CONSENT_ID_MAX + 1];
    char loc[TOKEN_ISSUER_MAX + FHIR_CONSENT_ID_MAX + 32];
    cJSON *res;

    if (w->rc != ERR_OK) {
        if (r->refusal != CONSENTS_OK)
            api_fhir_consent_refused(c, r->refusal, w->why);
        else if (w->rc == ERR_UNAVAIL)
            api_fhir_consent_oo(c, 503, "transient", NULL, "%s", w->why);
        else if (w->rc == ERR_TOOBIG)
            api_fhir_consent_oo(c, 413, "too-costly", NULL, "%s", w->why);
        else
            api_fhir_consent_oo(c, 500, "exception", NULL, "the write failed (%s)", err_str(w->rc));
        return;
    }
    /* The stored grant, as GET /fhir/Consent shows it: recorded at the entry's time. */
    r->g.index = w->index;
    consents_time_format(w->now, r->g.recorded);
    if (fhir_consent_state_of(r->g.start, r->g.end, false, w->now, &r->g.state) != ERR_OK)
        r->g.state = FHIR_CONSENT_STATE_ACTIVE;
    res = fhir_consent_to_resource(&r->g, http_app_of(c)->policy);
    if (res == NULL || fhir_consent_id(r->g.jti, id) != ERR_OK) {
        api_fhir_consent_oo(c, 500, "exception", NULL,
                            "the grant was recorded at log index %llu but cannot be shown",
                            (unsigned long long)w->index);
        cJSON_Delete(res);
        return;
    }
    api_fhir_consent_base(c, base);
    snprintf(loc, sizeof(loc), "%s/fhir/Consent/%s", base, id);
    http_add_header(c, "location", loc);
    api_fhir_consent_reply(c, 201, res);
    cJSON_Delete(res);
}

/* api_fhir_consent_content_type_ok is true for application/fhir+json or application/json. */
static bool
api_fhir_consent_content_type_ok(struct http_call *c)
{
    const char *ct, *semi;
    size_t len, base;

    ct = http_header(c, "content-type", &len);
    if (ct == NULL)
        return false;
    semi = memchr(ct, ';', len);
    base = semi != NULL ? (size_t)(semi - ct) : len;
    while (base > 0 && ct[base - 1] == ' ')
        base--;
    return (base == strlen(FHIR_CONSENT_FHIR_JSON) &&
            strncasecmp(ct, FHIR_CONSENT_FHIR_JSON, base) == 0) ||
           (base == 16 && strncasecmp(ct, "application/json", 16) == 0);
}

void
api_fhir_consent_create(struct http_call *c)
{
    const struct http_app *app = http_app_of(c);
    char diag[FHIR_CONSENT_DIAG_MAX], expr[FHIR_CONSENT_EXPR_MAX], why[STATE_WHY_MAX];
    struct consents_grant *g = xmalloc(sizeof(*g));
    struct api_fhir_consent_req *r = NULL;
    struct store_txn *t = NULL;
    struct token_claims who;
    enum consents_refusal refusal;
    const char *body, *jwhy = NULL;
    cJSON *doc = NULL, *fields = NULL, *paper;
    char *text = NULL;
    size_t len;
    enum err rc;

    if (!http_require_token(c, 0, &who))
        goto out;
    if ((who.scopes & TOKEN_SCOPE_ENROL) == 0 || (who.scopes & TOKEN_SCOPE_PATIENT) != 0 ||
        strcmp(who.client_id, TOKEN_PATIENT_CID) == 0) {
        api_fhir_consent_oo(c, 403, "forbidden", NULL,
                            "a consent taken on paper is recorded by an enroller: use a client "
                            "token with scope enrol");
        goto out;
    }
    if (!api_fhir_consent_content_type_ok(c)) {
        api_fhir_consent_oo(c, 415, "not-supported", NULL,
                            "send the Consent with \"Content-Type: application/fhir+json\"");
        goto out;
    }
    body = http_body(c, &len);
    if (len > app->cfg->max_body) {
        api_fhir_consent_oo(c, 413, "too-costly", NULL, "the body is %zu bytes; the limit is %llu",
                            len, (unsigned long long)app->cfg->max_body);
        goto out;
    }
    if (len == 0) {
        api_fhir_consent_oo(c, 400, "required", NULL, "the body is empty; send a Consent resource");
        goto out;
    }
    if (jstrict_parse(body, len, &doc, &jwhy) != ERR_OK) {
        api_fhir_consent_oo(c, 400, "structure", NULL, "the body is not acceptable JSON: %s",
                            jwhy != NULL ? jwhy : "it could not be parsed");
        goto out;
    }
    r = xcalloc(1, sizeof(*r));
    rc =
        fhir_consent_from_resource(doc, app->policy, &r->g, diag, sizeof(diag), expr, sizeof(expr));
    if (rc != ERR_OK) {
        api_fhir_consent_oo(c, 400, "invalid", expr[0] != '\0' ? expr : NULL, "%s", diag);
        goto out;
    }
    consents_jti_make(r->g.jti);
    /* A client id is at most CLIENTS_ID_MAX (= FHIR_CONSENT_SOURCE_MAX) bytes; the check says so.
     */
    snprintf(r->g.source_id, sizeof(r->g.source_id), "%.*s", FHIR_CONSENT_SOURCE_MAX,
             who.client_id);
    paper = api_fhir_consent_paper(&r->g);
    fields = cJSON_CreateObject();
    cJSON_AddItemToObject(fields, "paper", paper);
    cJSON_AddStringToObject(fields, "by", who.client_id);
    /* An early answer in a read transaction; the sequencer decides again in log order. */
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = consents_paper_check(t, paper, who.client_id, (int64_t)time(NULL), g, &refusal, why);
    store_abort(t);
    t = NULL;
    if (rc == ERR_STORAGE || rc == ERR_NOMEM) {
        api_fhir_consent_oo(c, 500, "exception", NULL, "cannot read the store (%s)", err_str(rc));
        goto out;
    }
    if (rc != ERR_OK) {
        api_fhir_consent_refused(c, refusal, why);
        goto out;
    }
    if (json_fields_text(fields, &text, &len) != ERR_OK) {
        api_fhir_consent_oo(c, 500, "exception", NULL, "could not encode the entry");
        goto out;
    }
    http_submit(c, "consent", text, len, api_fhir_consent_check, r, api_fhir_consent_written);
    r = NULL;
out:
    cJSON_Delete(fields);
    cJSON_Delete(doc);
    free(r);
    free(g);
}
