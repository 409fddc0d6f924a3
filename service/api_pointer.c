/*
 * api_pointer: the record index over HTTP. POST /v1/pointers and POST /fhir/DocumentReference
 * (an NHS National Record Locator v3 DocumentReference) publish a pointer, POST
 * /v1/pointers/{id}/retire retires one (a custodian's client token with scope pointers), and
 * GET /v1/patients/{nhs}/pointers lists a person's active pointers (their own token, or scope
 * audit). GET /fhir/DocumentReference?subject:identifier=… answers the bearer of a
 * consent-checked access token with the person's pointers in the token's categories only. The
 * handlers check the shape of requests against the policy; pointers_check_end and
 * pointers_apply decide, in log order, whether a pointer may be superseded or retired.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uriparser/Uri.h>

#include "consentd/access.h"
#include "consentd/api.h"
#include "consentd/clients.h"
#include "consentd/json.h"
#include "consentd/jstrict.h"
#include "consentd/patients.h"
#include "consentd/pointers.h"
#include "consentd/xmalloc.h"

#define API_POINTER_NHS_SYSTEM      "https://fhir.nhs.uk/Id/nhs-number"
#define API_POINTER_ODS_SYSTEM      "https://fhir.nhs.uk/Id/ods-organization-code"
#define API_POINTER_CATEGORY_SYSTEM "https://consentd.example/fhir/CodeSystem/data-category"
#define API_POINTER_FHIR_JSON       "application/fhir+json"
#define API_POINTER_MSG_MAX         512

/*
 * One publish or retirement, from parsing to the answer: the sequencer's check reads it, and
 * done answers from it. It is the write's check_ctx, so http_submit frees it.
 */
struct api_pointer_req {
    bool fhir;   /* answer as FHIR (OperationOutcome on errors) */
    bool retire; /* a pointer.retire; else a pointer */
    char id[POINTERS_ID_LEN + 1];
    char nhs[NHS_LEN + 1];
    char custodian[POINTERS_ODS_MAX + 1];
    char category[POINTERS_CATEGORY_MAX + 1];
    char system[POINTERS_SYSTEM_MAX + 1];
    char code[POINTERS_CODE_MAX + 1];
    char display[POINTERS_DISPLAY_MAX + 1];
    char url[POINTERS_URL_MAX + 1];
    char content_type[POINTERS_CTYPE_MAX + 1];
    char supersedes[POINTERS_ID_LEN + 1];
    char category_display[POINTERS_DISPLAY_MAX + 1];
};

/*
 * api_pointer_oo answers a FHIR OperationOutcome with one error issue: code is a FHIR
 * IssueType ("invalid", "required", "value", "code-invalid", "forbidden", "conflict",
 * "not-found", "not-supported", "too-costly", "transient", "exception"), expression the FHIRPath
 * of the element at fault (or NULL), and the diagnostics a sentence saying what to fix.
 */
static void api_pointer_oo(struct http_call *c, int status, const char *code,
                           const char *expression, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
api_pointer_oo(struct http_call *c, int status, const char *code, const char *expression,
               const char *fmt, ...)
{
    char msg[API_POINTER_MSG_MAX];
    cJSON *oo = cJSON_CreateObject(), *issue, *issues, *expr;
    va_list ap;
    char *s;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON_AddStringToObject(oo, "resourceType", "OperationOutcome");
    issues = cJSON_AddArrayToObject(oo, "issue");
    issue = cJSON_CreateObject();
    cJSON_AddItemToArray(issues, issue);
    cJSON_AddStringToObject(issue, "severity", "error");
    cJSON_AddStringToObject(issue, "code", code);
    cJSON_AddStringToObject(issue, "diagnostics", msg);
    if (expression != NULL) {
        expr = cJSON_AddArrayToObject(issue, "expression");
        cJSON_AddItemToArray(expr, cJSON_CreateString(expression));
    }
    s = cJSON_PrintUnformatted(oo);
    if (s == NULL)
        http_reply(c, 500, "text/plain", "out of memory\n", 14);
    else
        http_reply(c, status, API_POINTER_FHIR_JSON, s, strlen(s));
    free(s);
    cJSON_Delete(oo);
}

/*
 * api_pointer_fail answers an error as a problem (slug and title) or, for the FHIR endpoint, as
 * an OperationOutcome (code, expression).
 */
static void api_pointer_fail(struct http_call *c, bool fhir, int status, const char *slug,
                             const char *title, const char *code, const char *expression,
                             const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static void
api_pointer_fail(struct http_call *c, bool fhir, int status, const char *slug, const char *title,
                 const char *code, const char *expression, const char *fmt, ...)
{
    char msg[API_POINTER_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (fhir)
        api_pointer_oo(c, status, code, expression, "%s", msg);
    else
        http_reply_problem(c, status, slug, title, "%s", msg);
}

/* The check run in the sequencer's transaction, in log order, before the entry is applied. */
static enum err
api_pointer_check(struct store_txn *t, struct seq_write *w)
{
    const struct api_pointer_req *r = w->check_ctx;

    if (r->retire)
        return pointers_check_end(t, r->id, r->custodian, NULL, w->why);
    if (r->supersedes[0] == '\0')
        return ERR_OK;
    return pointers_check_end(t, r->supersedes, r->custodian, r->nhs, w->why);
}

/* api_pointer_time writes t as the entries' RFC 3339 time ("2026-11-23T13:45:12Z"). */
static void
api_pointer_time(int64_t t, char out[static POINTERS_TIME_MAX + 1])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, POINTERS_TIME_MAX + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

static cJSON *
api_pointer_coding(const char *system, const char *code, const char *display)
{
    cJSON *cc = cJSON_CreateObject(), *codings = cJSON_AddArrayToObject(cc, "coding");
    cJSON *coding = cJSON_CreateObject();

    cJSON_AddItemToArray(codings, coding);
    cJSON_AddStringToObject(coding, "system", system);
    cJSON_AddStringToObject(coding, "code", code);
    if (display != NULL)
        cJSON_AddStringToObject(coding, "display", display);
    return cc;
}

static cJSON *
api_pointer_identifier(const char *system, const char *value)
{
    cJSON *o = cJSON_CreateObject(), *id = cJSON_AddObjectToObject(o, "identifier");

    cJSON_AddStringToObject(id, "system", system);
    cJSON_AddStringToObject(id, "value", value);
    return o;
}

/* api_pointer_fhir_resource builds the NRL v3-shaped DocumentReference of a new pointer. */
static cJSON *
api_pointer_fhir_resource(const struct api_pointer_req *r, const char *date)
{
    cJSON *d = cJSON_CreateObject(), *a, *item, *target;
    char ref[64];

    cJSON_AddStringToObject(d, "resourceType", "DocumentReference");
    cJSON_AddStringToObject(d, "id", r->id);
    cJSON_AddStringToObject(d, "status", "current");
    cJSON_AddItemToObject(d, "type", api_pointer_coding(r->system, r->code, r->display));
    a = cJSON_AddArrayToObject(d, "category");
    cJSON_AddItemToArray(
        a, api_pointer_coding(API_POINTER_CATEGORY_SYSTEM, r->category,
                              r->category_display[0] != '\0' ? r->category_display : NULL));
    cJSON_AddItemToObject(d, "subject", api_pointer_identifier(API_POINTER_NHS_SYSTEM, r->nhs));
    if (date[0] != '\0')
        cJSON_AddStringToObject(d, "date", date);
    cJSON_AddItemToObject(d, "custodian",
                          api_pointer_identifier(API_POINTER_ODS_SYSTEM, r->custodian));
    if (r->supersedes[0] != '\0') {
        a = cJSON_AddArrayToObject(d, "relatesTo");
        item = cJSON_CreateObject();
        cJSON_AddItemToArray(a, item);
        cJSON_AddStringToObject(item, "code", "replaces");
        target = cJSON_AddObjectToObject(item, "target");
        snprintf(ref, sizeof(ref), "DocumentReference/%s", r->supersedes);
        cJSON_AddStringToObject(target, "reference", ref);
    }
    a = cJSON_AddArrayToObject(d, "content");
    item = cJSON_CreateObject();
    cJSON_AddItemToArray(a, item);
    item = cJSON_AddObjectToObject(item, "attachment");
    cJSON_AddStringToObject(item, "contentType", r->content_type);
    cJSON_AddStringToObject(item, "url", r->url);
    return d;
}

static void
api_pointer_done(struct http_call *c, const struct seq_write *w)
{
    const struct api_pointer_req *r = w->check_ctx;
    const char *issuer = http_app_of(c)->cfg->issuer;
    char date[POINTERS_TIME_MAX + 1], loc[TOKEN_ISSUER_MAX + 64];
    size_t n = strlen(issuer);
    cJSON *j;
    char *s;

    switch (w->rc) {
    case ERR_OK:
        if (r->fhir) {
            api_pointer_time(w->now, date);
            j = api_pointer_fhir_resource(r, date);
            s = cJSON_PrintUnformatted(j);
            while (n > 0 && issuer[n - 1] == '/')
                n--;
            snprintf(loc, sizeof(loc), "%.*s/fhir/DocumentReference/%s", (int)n, issuer, r->id);
            http_add_header(c, "location", loc);
            if (s == NULL)
                http_reply(c, 500, "text/plain", "out of memory\n", 14);
            else
                http_reply(c, 201, API_POINTER_FHIR_JSON, s, strlen(s));
            free(s);
        } else {
            j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "id", r->id);
            if (r->retire)
                cJSON_AddBoolToObject(j, "retired", true);
            json_add_u64(j, "log_index", w->index);
            http_reply_json(c, r->retire ? 200 : 201, j);
        }
        cJSON_Delete(j);
        return;
    case ERR_NOTFOUND:
        if (r->retire)
            api_pointer_fail(c, r->fhir, 404, "not-found", "Not found", "not-found", NULL,
                             "%s; retire a pointer by the id it was published with", w->why);
        else
            api_pointer_fail(c, r->fhir, 400, "invalid-field", "Invalid request", "not-found",
                             r->fhir ? "DocumentReference.relatesTo[0].target" : NULL,
                             "\"supersedes\": %s", w->why);
        return;
    case ERR_AUTH:
        api_pointer_fail(c, r->fhir, 403, "forbidden", "Forbidden", "forbidden", NULL, "%s",
                         w->why);
        return;
    case ERR_CONFLICT:
        api_pointer_fail(c, r->fhir, 409, "conflict", "Conflict", "conflict", NULL, "%s", w->why);
        return;
    case ERR_INVAL:
        api_pointer_fail(c, r->fhir, 400, "invalid-field", "Invalid request", "invalid", NULL, "%s",
                         w->why);
        return;
    case ERR_TOOBIG:
        api_pointer_fail(c, r->fhir, 413, "entry-too-large", "Entry too large", "too-costly", NULL,
                         "%s", w->why);
        return;
    case ERR_UNAVAIL:
        if (r->fhir)
            api_pointer_oo(c, 503, "transient", NULL, "%s", w->why);
        else
            http_reply_unavailable(c, w->why);
        return;
    case ERR_NOMEM:
    case ERR_BADSIG:
    case ERR_STORAGE:
    case ERR_IO:
    case ERR_PERM:
    case ERR_EXISTS:
        break;
    }
    api_pointer_fail(c, r->fhir, 500, "internal", "Internal error", "exception", NULL,
                     "the write failed (%s)", err_str(w->rc));
}

/*
 * api_pointer_custodian finds the organisation of the client that holds who's token. A person's
 * own token is no custodian's: that is answered 403 and false returned.
 */
static bool
api_pointer_custodian(struct http_call *c, bool fhir, const struct token_claims *who,
                      char org[static POINTERS_ODS_MAX + 1])
{
    struct clients_client cl;
    struct store_txn *t = NULL;
    enum err rc;

    org[0] = '\0';
    if ((who->scopes & TOKEN_SCOPE_PATIENT) != 0 ||
        strcmp(who->client_id, TOKEN_PATIENT_CID) == 0) {
        api_pointer_fail(c, fhir, 403, "forbidden", "Forbidden", "forbidden", NULL,
                         "a person's own token cannot publish or retire pointers; use the token "
                         "of a custodian's client");
        return false;
    }
    rc = store_begin(http_app_of(c)->store, false, &t);
    if (rc == ERR_OK)
        rc = clients_get(t, who->client_id, &cl);
    store_abort(t);
    if (rc != ERR_OK) {
        api_pointer_fail(c, fhir, 500, "internal", "Internal error", "exception", NULL,
                         "cannot read the token's client (%s)", err_str(rc));
        return false;
    }
    snprintf(org, POINTERS_ODS_MAX + 1, "%s", cl.org);
    return true;
}

/*
 * api_pointer_publish finishes a publish of r (taken: freed here or by http_submit) for the
 * identifier ident: resolves the person, checks the custodian (for FHIR, the resource's
 * custodian must be the token's organisation) and hands the entry to the sequencer.
 */
static void
api_pointer_publish(struct http_call *c, const struct token_claims *who, struct api_pointer_req *r,
                    const char *ident)
{
    const struct http_app *app = http_app_of(c);
    char why[STATE_WHY_MAX], org[POINTERS_ODS_MAX + 1];
    struct store_txn *t = NULL;
    cJSON *fields = NULL, *type;
    const char *disp;
    char *text = NULL;
    size_t len;
    enum err rc;

    if (!api_pointer_custodian(c, r->fhir, who, org))
        goto out;
    if (r->fhir && strcmp(r->custodian, org) != 0) {
        api_pointer_oo(c, 403, "forbidden", "DocumentReference.custodian.identifier.value",
                       "the custodian is %s but this token's client belongs to %s; a client "
                       "publishes pointers only for its own organisation",
                       r->custodian, org);
        goto out;
    }
    snprintf(r->custodian, sizeof(r->custodian), "%s", org);
    why[0] = '\0';
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = patients_resolve(t, ident, r->nhs, why);
    store_abort(t);
    if (rc == ERR_INVAL || rc == ERR_NOTFOUND) {
        api_pointer_fail(c, r->fhir, 400, "invalid-field", "Invalid request", "value",
                         r->fhir ? "DocumentReference.subject.identifier" : NULL, "%s%s",
                         r->fhir ? "" : "\"nhs\": ", why);
        goto out;
    }
    if (rc != ERR_OK) {
        api_pointer_fail(c, r->fhir, 500, "internal", "Internal error", "exception", NULL,
                         "cannot resolve the person's identifier (%s)", err_str(rc));
        goto out;
    }
    disp = policy_category_display(app->policy, r->category);
    snprintf(r->category_display, sizeof(r->category_display), "%s", disp != NULL ? disp : "");
    pointers_id_new(r->id);
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "id", r->id);
    cJSON_AddStringToObject(fields, "nhs", r->nhs);
    cJSON_AddStringToObject(fields, "custodian", r->custodian);
    cJSON_AddStringToObject(fields, "category", r->category);
    /* The entry's own "type" is "pointer", so the record type is "record_type" there. */
    type = cJSON_AddObjectToObject(fields, "record_type");
    cJSON_AddStringToObject(type, "system", r->system);
    cJSON_AddStringToObject(type, "code", r->code);
    cJSON_AddStringToObject(type, "display", r->display);
    cJSON_AddStringToObject(fields, "url", r->url);
    cJSON_AddStringToObject(fields, "content_type", r->content_type);
    if (r->supersedes[0] != '\0')
        cJSON_AddStringToObject(fields, "supersedes", r->supersedes);
    rc = json_fields_text(fields, &text, &len);
    if (rc != ERR_OK) {
        api_pointer_fail(c, r->fhir, 500, "internal", "Internal error", "exception", NULL,
                         "could not encode the entry");
        goto out;
    }
    http_submit(c, "pointer", text, len, api_pointer_check, r, api_pointer_done);
    r = NULL;
out:
    cJSON_Delete(fields);
    free(r);
}

/* api_pointer_copy copies s into out (cap bytes); the callers checked the length. */
static void
api_pointer_copy(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s);
}

/*
 * api_pointer_type_check checks a record type against the policy: SNOMED CT, a code one of its
 * categories covers, and (when category is not empty) that category. On success the category
 * is written to r->category. Otherwise why says what is wrong.
 */
static bool
api_pointer_type_check(const struct policy *p, struct api_pointer_req *r, const char *what,
                       char why[static JSON_WHY_MAX])
{
    const char *cat;

    if (strcmp(r->system, POLICY_SNOMED_SYSTEM) != 0) {
        snprintf(why, JSON_WHY_MAX, "%s.system must be %s: record types are SNOMED CT codes", what,
                 POLICY_SNOMED_SYSTEM);
        return false;
    }
    cat = policy_category_of_type(p, r->system, r->code);
    if (cat == NULL) {
        snprintf(why, JSON_WHY_MAX,
                 "%s.code %.20s is not a record type of any of the policy's data categories", what,
                 r->code);
        return false;
    }
    if (r->category[0] != '\0' && strcmp(cat, r->category) != 0) {
        snprintf(why, JSON_WHY_MAX,
                 "record type %.20s belongs to category %.64s, not %.64s; send the category that "
                 "covers it",
                 r->code, cat, r->category);
        return false;
    }
    api_pointer_copy(r->category, sizeof(r->category), cat);
    return true;
}

void
api_pointer_create(struct http_call *c)
{
    static const char *const members[] = {"nhs", "category",     "type",
                                          "url", "content_type", "supersedes"};
    static const char *const type_members[] = {"system", "code", "display"};
    const struct policy *pol = http_app_of(c)->policy;
    const char *ident = NULL, *category = NULL, *system = NULL, *code = NULL, *display = NULL;
    const char *url = NULL, *ctype = NULL, *sup = NULL;
    struct api_pointer_req *r = NULL;
    char why[JSON_WHY_MAX], cats[200];
    struct token_claims who;
    const cJSON *type;
    cJSON *body;
    enum err rc;

    if (!http_require_token(c, TOKEN_SCOPE_POINTERS, &who))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, sizeof(members) / sizeof(members[0]), why);
    if (rc == ERR_OK)
        rc = json_string(body, "nhs", true, 1, PATIENTS_IDENT_MAX, &ident, why);
    if (rc == ERR_OK)
        rc = json_string(body, "category", true, 1, POINTERS_CATEGORY_MAX, &category, why);
    if (rc == ERR_OK && !policy_category_known(pol, category)) {
        policy_category_list(pol, cats, sizeof(cats));
        snprintf(why, sizeof(why), "\"category\" must be one of the policy's categories: %.180s",
                 cats);
        rc = ERR_INVAL;
    }
    type = cJSON_GetObjectItemCaseSensitive(body, "type");
    if (rc == ERR_OK && !cJSON_IsObject(type)) {
        snprintf(why, sizeof(why),
                 "\"type\" must be an object {\"system\", \"code\", \"display\"}: a SNOMED CT "
                 "record type");
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK) {
        rc = json_only_members(type, type_members, 3, why);
        if (rc == ERR_OK)
            rc = json_string(type, "system", true, 1, POINTERS_SYSTEM_MAX, &system, why);
        if (rc == ERR_OK)
            rc = json_string(type, "code", true, 1, POINTERS_CODE_MAX, &code, why);
        if (rc == ERR_OK)
            rc = json_string(type, "display", true, 1, POINTERS_DISPLAY_MAX, &display, why);
        if (rc != ERR_OK) {
            char inner[JSON_WHY_MAX];

            snprintf(inner, sizeof(inner), "%s", why);
            snprintf(why, sizeof(why), "in \"type\": %.230s", inner);
        }
    }
    if (rc == ERR_OK) {
        r = xcalloc(1, sizeof(*r));
        api_pointer_copy(r->category, sizeof(r->category), category);
        api_pointer_copy(r->system, sizeof(r->system), system);
        api_pointer_copy(r->code, sizeof(r->code), code);
        api_pointer_copy(r->display, sizeof(r->display), display);
        if (!api_pointer_type_check(pol, r, "type", why))
            rc = ERR_INVAL;
    }
    if (rc == ERR_OK)
        rc = json_string(body, "url", true, 1, POINTERS_URL_MAX, &url, why);
    if (rc == ERR_OK && !pointers_url_valid(url)) {
        snprintf(why, sizeof(why),
                 "\"url\" must be an absolute https URL with a host and no credentials or "
                 "fragment (http only on loopback)");
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK)
        rc = json_string(body, "content_type", true, 1, POINTERS_CTYPE_MAX, &ctype, why);
    if (rc == ERR_OK && !pointers_content_type_valid(ctype)) {
        snprintf(why, sizeof(why),
                 "\"content_type\" must be a MIME type such as \"application/pdf\" or "
                 "\"application/fhir+json\"");
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK) {
        rc = json_string(body, "supersedes", false, 1, 64, &sup, why);
        if (rc == ERR_NOTFOUND)
            rc = ERR_OK;
        else if (rc == ERR_OK && !pointers_id_valid(sup)) {
            snprintf(why, sizeof(why),
                     "\"supersedes\" must be the id of a pointer (%d characters, as "
                     "POST /v1/pointers answered)",
                     POINTERS_ID_LEN);
            rc = ERR_INVAL;
        }
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        free(r);
        cJSON_Delete(body);
        return;
    }
    api_pointer_copy(r->url, sizeof(r->url), url);
    api_pointer_copy(r->content_type, sizeof(r->content_type), ctype);
    if (sup != NULL)
        api_pointer_copy(r->supersedes, sizeof(r->supersedes), sup);
    /* ident borrows from body, which must outlive the resolve. */
    api_pointer_publish(c, &who, r, ident);
    cJSON_Delete(body);
}

void
api_pointer_retire(struct http_call *c)
{
    static const char *const members[] = {"reason"};
    const char *param, *reason;
    char why[JSON_WHY_MAX], org[POINTERS_ODS_MAX + 1], id[POINTERS_ID_LEN + 1];
    struct api_pointer_req *r;
    struct token_claims who;
    cJSON *body, *fields;
    char *text = NULL;
    size_t plen, n;
    enum err rc;

    param = http_path_param(c, &plen);
    n = plen > 7 && memcmp(param + plen - 7, "/retire", 7) == 0 ? plen - 7 : 0;
    if (n == 0) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "there is no such endpoint; retire a pointer with POST "
                           "/v1/pointers/{id}/retire");
        return;
    }
    if (!http_require_token(c, TOKEN_SCOPE_POINTERS, &who))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, 1, why);
    if (rc == ERR_OK)
        rc = json_string(body, "reason", true, 1, POINTERS_REASON_MAX, &reason, why);
    if (rc != ERR_OK) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        cJSON_Delete(body);
        return;
    }
    snprintf(id, sizeof(id), "%.*s", (int)(n < POINTERS_ID_LEN ? n : POINTERS_ID_LEN), param);
    if (n != POINTERS_ID_LEN || !pointers_id_valid(id)) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "there is no pointer with that id; pointer ids are %d characters, as "
                           "POST /v1/pointers answered",
                           POINTERS_ID_LEN);
        cJSON_Delete(body);
        return;
    }
    if (!api_pointer_custodian(c, false, &who, org)) {
        cJSON_Delete(body);
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->retire = true;
    api_pointer_copy(r->id, sizeof(r->id), id);
    api_pointer_copy(r->custodian, sizeof(r->custodian), org);
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "id", id);
    cJSON_AddStringToObject(fields, "custodian", org);
    cJSON_AddStringToObject(fields, "reason", reason);
    rc = json_fields_text(fields, &text, &n);
    cJSON_Delete(fields);
    cJSON_Delete(body);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        free(r);
        return;
    }
    http_submit(c, "pointer.retire", text, n, api_pointer_check, r, api_pointer_done);
}

static enum err
api_pointer_list_one(void *ctx, const struct pointers_pointer *p)
{
    cJSON *a = ctx, *o = cJSON_CreateObject(), *type;

    cJSON_AddItemToArray(a, o);
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddStringToObject(o, "custodian", p->custodian);
    cJSON_AddStringToObject(o, "category", p->category);
    type = cJSON_AddObjectToObject(o, "type");
    cJSON_AddStringToObject(type, "system", p->type_system);
    cJSON_AddStringToObject(type, "code", p->type_code);
    cJSON_AddStringToObject(type, "display", p->type_display);
    cJSON_AddStringToObject(o, "url", p->url);
    cJSON_AddStringToObject(o, "content_type", p->content_type);
    cJSON_AddStringToObject(o, "created", p->created);
    json_add_u64(o, "log_index", p->index);
    if (p->supersedes[0] != '\0')
        cJSON_AddStringToObject(o, "supersedes", p->supersedes);
    return ERR_OK;
}

void
api_pointer_list(struct http_call *c)
{
    const struct http_app *app = http_app_of(c);
    char ident[PATIENTS_IDENT_MAX + 1], nhs[NHS_LEN + 1], why[STATE_WHY_MAX];
    struct store_txn *t = NULL;
    struct token_claims who;
    const char *param;
    cJSON *j = NULL, *a;
    size_t plen, n;
    enum err rc;

    param = http_path_param(c, &plen);
    n = plen > 9 && memcmp(param + plen - 9, "/pointers", 9) == 0 ? plen - 9 : 0;
    if (n == 0 || n > PATIENTS_IDENT_MAX) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "there is no such endpoint; a person's pointers are at GET "
                           "/v1/patients/{nhs}/pointers");
        return;
    }
    if (!http_require_token(c, TOKEN_SCOPE_PATIENT | TOKEN_SCOPE_AUDIT, &who))
        return;
    /* h2o has already decoded the path: a linked "system|value" arrives percent-decoded. */
    memcpy(ident, param, n);
    ident[n] = '\0';
    if (strlen(ident) != n) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "the path must name a person: an NHS number or a percent-encoded "
                           "linked identifier system|value");
        return;
    }
    why[0] = '\0';
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = patients_resolve(t, ident, nhs, why);
    if (rc == ERR_INVAL) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        goto out;
    }
    if (rc == ERR_NOTFOUND && (who.scopes & TOKEN_SCOPE_AUDIT) != 0) {
        http_reply_problem(c, 404, "not-found", "Not found", "%s", why);
        goto out;
    }
    if ((rc == ERR_OK || rc == ERR_NOTFOUND) && (who.scopes & TOKEN_SCOPE_AUDIT) == 0 &&
        (rc == ERR_NOTFOUND || strcmp(who.nhs, nhs) != 0)) {
        http_reply_problem(c, 403, "forbidden", "Forbidden",
                           "this token is another person's: a person's token reads only their "
                           "own pointers (or use a token with scope audit)");
        goto out;
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "cannot resolve the person (%s)",
                           err_str(rc));
        goto out;
    }
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "nhs", nhs);
    a = cJSON_AddArrayToObject(j, "pointers");
    rc = pointers_list(t, nhs, true, api_pointer_list_one, a);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "cannot list the pointers (%s)",
                           err_str(rc));
        goto out;
    }
    http_reply_json(c, 200, j);
out:
    store_abort(t);
    cJSON_Delete(j);
}

/* FHIR: the elements of an R4 DocumentReference; anything else is refused. */
static const char *const api_pointer_fhir_elements[] = {
    "resourceType",  "id",        "meta",      "language",
    "text",          "contained", "extension", "masterIdentifier",
    "identifier",    "status",    "docStatus", "type",
    "category",      "subject",   "date",      "author",
    "authenticator", "custodian", "relatesTo", "description",
    "securityLabel", "content",   "context"};

/*
 * api_pointer_get reads member name of object o and, when name2 is not NULL, member name2 of
 * that; NULL if any is absent or not an object.
 */
static const cJSON *
api_pointer_get(const cJSON *o, const char *name, const char *name2)
{
    const cJSON *m = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;

    if (m != NULL && name2 != NULL)
        m = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, name2) : NULL;
    return m;
}

/* api_pointer_fhir_str reads a string of 1..max bytes into out; false if it is not one. */
static bool
api_pointer_fhir_str(const cJSON *m, size_t max, char *out)
{
    if (!cJSON_IsString(m) || m->valuestring[0] == '\0' || strlen(m->valuestring) > max)
        return false;
    snprintf(out, max + 1, "%s", m->valuestring);
    return true;
}

/* api_pointer_first returns the first item of array m if it is an object, else NULL. */
static const cJSON *
api_pointer_first(const cJSON *m)
{
    return cJSON_IsArray(m) && cJSON_IsObject(m->child) ? m->child : NULL;
}

/*
 * api_pointer_fhir_parse reads the resource doc into r and ident. On failure it answers the
 * OperationOutcome and returns false.
 */
static bool
api_pointer_fhir_parse(struct http_call *c, const cJSON *doc, struct api_pointer_req *r,
                       char ident[static PATIENTS_IDENT_MAX + 1])
{
    const struct policy *pol = http_app_of(c)->policy;
    const cJSON *m, *coding, *content, *att, *rel, *target;
    char why[JSON_WHY_MAX], sys[POINTERS_SYSTEM_MAX + 1], val[PATIENTS_IDENT_MAX + 1];
    const char *ref;
    size_t i;

    m = cJSON_GetObjectItemCaseSensitive(doc, "resourceType");
    if (!cJSON_IsString(m) || strcmp(m->valuestring, "DocumentReference") != 0) {
        api_pointer_oo(c, 400, "invalid", "resourceType",
                       "resourceType must be \"DocumentReference\"");
        return false;
    }
    cJSON_ArrayForEach(m, doc)
    {
        if (strcmp(m->string, "modifierExtension") == 0 ||
            strcmp(m->string, "implicitRules") == 0) {
            api_pointer_oo(c, 400, "not-supported", m->string,
                           "DocumentReference.%s is not understood here, and a resource that "
                           "carries it cannot be accepted",
                           m->string);
            return false;
        }
        for (i = 0; i < sizeof(api_pointer_fhir_elements) / sizeof(api_pointer_fhir_elements[0]);
             i++)
            if (strcmp(m->string, api_pointer_fhir_elements[i]) == 0)
                break;
        if (i == sizeof(api_pointer_fhir_elements) / sizeof(api_pointer_fhir_elements[0])) {
            api_pointer_oo(c, 400, "structure", NULL,
                           "\"%.64s\" is not an element of an R4 DocumentReference", m->string);
            return false;
        }
    }
    m = cJSON_GetObjectItemCaseSensitive(doc, "status");
    if (!cJSON_IsString(m) || strcmp(m->valuestring, "current") != 0) {
        api_pointer_oo(c, 400, m == NULL ? "required" : "value", "DocumentReference.status",
                       "DocumentReference.status must be \"current\": a new pointer is current");
        return false;
    }
    coding = api_pointer_first(api_pointer_get(doc, "type", "coding"));
    if (coding == NULL ||
        !api_pointer_fhir_str(api_pointer_get(coding, "system", NULL), POINTERS_SYSTEM_MAX,
                              r->system) ||
        !api_pointer_fhir_str(api_pointer_get(coding, "code", NULL), POINTERS_CODE_MAX, r->code) ||
        !api_pointer_fhir_str(api_pointer_get(coding, "display", NULL), POINTERS_DISPLAY_MAX,
                              r->display)) {
        api_pointer_oo(c, 400, "required", "DocumentReference.type.coding[0]",
                       "DocumentReference.type.coding[0] must have a system, a code and a display "
                       "(the SNOMED CT record type)");
        return false;
    }
    if (!api_pointer_type_check(pol, r, "DocumentReference.type.coding[0]", why)) {
        api_pointer_oo(c, 400, "code-invalid", "DocumentReference.type.coding[0]", "%s", why);
        return false;
    }
    m = cJSON_GetObjectItemCaseSensitive(doc, "category");
    if (m != NULL && !cJSON_IsArray(m)) {
        api_pointer_oo(c, 400, "structure", "DocumentReference.category",
                       "DocumentReference.category must be an array of CodeableConcepts");
        return false;
    }
    m = api_pointer_get(doc, "subject", "identifier");
    if (!api_pointer_fhir_str(api_pointer_get(m, "system", NULL), POINTERS_SYSTEM_MAX, sys) ||
        !api_pointer_fhir_str(api_pointer_get(m, "value", NULL), PATIENTS_IDENT_MAX, val)) {
        api_pointer_oo(c, 400, "required", "DocumentReference.subject.identifier",
                       "DocumentReference.subject.identifier must have a system (%s) and a "
                       "value (the NHS number)",
                       API_POINTER_NHS_SYSTEM);
        return false;
    }
    /* Another system is a local identifier, accepted if it was linked to an NHS number. */
    if (strcmp(sys, API_POINTER_NHS_SYSTEM) == 0)
        snprintf(ident, PATIENTS_IDENT_MAX + 1, "%s", val);
    else if (strlen(sys) + 1 + strlen(val) <= PATIENTS_IDENT_MAX)
        snprintf(ident, PATIENTS_IDENT_MAX + 1, "%.*s|%.*s", (int)strlen(sys), sys,
                 (int)(PATIENTS_IDENT_MAX - 1 - strlen(sys)), val);
    else {
        api_pointer_oo(c, 400, "value", "DocumentReference.subject.identifier",
                       "the subject's identifier is longer than %d bytes", PATIENTS_IDENT_MAX);
        return false;
    }
    m = api_pointer_get(doc, "custodian", "identifier");
    if (!api_pointer_fhir_str(api_pointer_get(m, "system", NULL), POINTERS_SYSTEM_MAX, sys) ||
        strcmp(sys, API_POINTER_ODS_SYSTEM) != 0 ||
        !api_pointer_fhir_str(api_pointer_get(m, "value", NULL), POINTERS_ODS_MAX, r->custodian) ||
        !state_ods_valid(r->custodian)) {
        api_pointer_oo(c, 400, "required", "DocumentReference.custodian.identifier",
                       "DocumentReference.custodian.identifier must have system %s and an ODS "
                       "code (3-10 of A-Z and 0-9) as its value",
                       API_POINTER_ODS_SYSTEM);
        return false;
    }
    content = cJSON_GetObjectItemCaseSensitive(doc, "content");
    if (!cJSON_IsArray(content) || cJSON_GetArraySize(content) != 1 ||
        !cJSON_IsObject(content->child)) {
        api_pointer_oo(c, 400, "structure", "DocumentReference.content",
                       "DocumentReference.content must hold exactly one item: a pointer has one "
                       "URL");
        return false;
    }
    att = api_pointer_get(content->child, "attachment", NULL);
    if (api_pointer_get(att, "data", NULL) != NULL) {
        api_pointer_oo(c, 400, "not-supported", "DocumentReference.content[0].attachment.data",
                       "attachment.data is refused: consentd holds pointers to records, never "
                       "the records themselves; send attachment.url");
        return false;
    }
    if (!api_pointer_fhir_str(api_pointer_get(att, "url", NULL), POINTERS_URL_MAX, r->url) ||
        !pointers_url_valid(r->url)) {
        api_pointer_oo(c, 400, "value", "DocumentReference.content[0].attachment.url",
                       "content[0].attachment.url must be an absolute https URL with a host and "
                       "no credentials or fragment (http only on loopback)");
        return false;
    }
    if (!api_pointer_fhir_str(api_pointer_get(att, "contentType", NULL), POINTERS_CTYPE_MAX,
                              r->content_type) ||
        !pointers_content_type_valid(r->content_type)) {
        api_pointer_oo(c, 400, "value", "DocumentReference.content[0].attachment.contentType",
                       "content[0].attachment.contentType must be a MIME type such as "
                       "\"application/pdf\"");
        return false;
    }
    rel = cJSON_GetObjectItemCaseSensitive(doc, "relatesTo");
    if (rel == NULL)
        return true;
    if (!cJSON_IsArray(rel) || cJSON_GetArraySize(rel) != 1 || !cJSON_IsObject(rel->child) ||
        !cJSON_IsString(api_pointer_get(rel->child, "code", NULL)) ||
        strcmp(api_pointer_get(rel->child, "code", NULL)->valuestring, "replaces") != 0) {
        api_pointer_oo(c, 400, "not-supported", "DocumentReference.relatesTo",
                       "DocumentReference.relatesTo may hold one item, with code \"replaces\" "
                       "(supersede a pointer)");
        return false;
    }
    target = api_pointer_get(rel->child, "target", NULL);
    m = api_pointer_get(target, "reference", NULL);
    ref = cJSON_IsString(m) && strncmp(m->valuestring, "DocumentReference/", 18) == 0
              ? m->valuestring + 18
              : NULL;
    if (ref == NULL) {
        m = api_pointer_get(target, "identifier", "value");
        ref = cJSON_IsString(m) ? m->valuestring : NULL;
    }
    if (ref == NULL || !pointers_id_valid(ref)) {
        api_pointer_oo(c, 400, "value", "DocumentReference.relatesTo[0].target",
                       "relatesTo[0].target must name the pointer it replaces: reference "
                       "\"DocumentReference/<id>\" or identifier.value \"<id>\"");
        return false;
    }
    api_pointer_copy(r->supersedes, sizeof(r->supersedes), ref);
    return true;
}

void
api_pointer_fhir_create(struct http_call *c)
{
    const struct http_app *app = http_app_of(c);
    struct api_pointer_req *r = NULL;
    char ident[PATIENTS_IDENT_MAX + 1];
    const char *body, *ct, *jwhy = NULL;
    struct token_claims who;
    cJSON *doc = NULL;
    size_t len, ctlen, base;

    if (!http_require_token(c, TOKEN_SCOPE_POINTERS, &who))
        return;
    ct = http_header(c, "content-type", &ctlen);
    base = ct == NULL ? 0 : ctlen;
    if (ct != NULL && memchr(ct, ';', ctlen) != NULL)
        base = (size_t)((const char *)memchr(ct, ';', ctlen) - ct);
    while (base > 0 && ct[base - 1] == ' ')
        base--;
    if (ct == NULL || !((base == 21 && strncasecmp(ct, API_POINTER_FHIR_JSON, 21) == 0) ||
                        (base == 16 && strncasecmp(ct, "application/json", 16) == 0))) {
        api_pointer_oo(c, 415, "not-supported", NULL,
                       "send the DocumentReference with \"Content-Type: application/fhir+json\"");
        return;
    }
    body = http_body(c, &len);
    if (len > app->cfg->max_body) {
        api_pointer_oo(c, 413, "too-costly", NULL, "the body is %zu bytes; the limit is %llu", len,
                       (unsigned long long)app->cfg->max_body);
        return;
    }
    if (len == 0) {
        api_pointer_oo(c, 400, "required", NULL,
                       "the body is empty; send a DocumentReference resource");
        return;
    }
    if (jstrict_parse(body, len, &doc, &jwhy) != ERR_OK) {
        api_pointer_oo(c, 400, "structure", NULL, "the body is not acceptable JSON: %s",
                       jwhy != NULL ? jwhy : "it could not be parsed");
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->fhir = true;
    if (!api_pointer_fhir_parse(c, doc, r, ident)) {
        free(r);
        cJSON_Delete(doc);
        return;
    }
    cJSON_Delete(doc);
    api_pointer_publish(c, &who, r, ident);
}

/* --- GET /fhir/DocumentReference: a record holder's or requester's search with a token --- */

#define API_POINTER_SEARCH_PARAM "subject:identifier"

/* What a search gathers: the Bundle's entries, within the token's categories. */
struct api_pointer_search {
    const struct policy *pol;
    const char *issuer;
    uint64_t categories;
    cJSON *entries;
    unsigned n;
};

static enum err
api_pointer_search_one(void *ctx, const struct pointers_pointer *p)
{
    struct api_pointer_search *x = ctx;
    struct api_pointer_req *r;
    const char *display;
    cJSON *e, *search;
    char url[TOKEN_ISSUER_MAX + 64];
    size_t n = strlen(x->issuer);
    int bit = policy_category_bit(x->pol, p->category);

    if (bit < 0 || bit >= 64 || (x->categories & (UINT64_C(1) << bit)) == 0)
        return ERR_OK;
    r = xcalloc(1, sizeof(*r));
    api_pointer_copy(r->id, sizeof(r->id), p->id);
    api_pointer_copy(r->nhs, sizeof(r->nhs), p->nhs);
    api_pointer_copy(r->custodian, sizeof(r->custodian), p->custodian);
    api_pointer_copy(r->category, sizeof(r->category), p->category);
    api_pointer_copy(r->system, sizeof(r->system), p->type_system);
    api_pointer_copy(r->code, sizeof(r->code), p->type_code);
    api_pointer_copy(r->display, sizeof(r->display), p->type_display);
    api_pointer_copy(r->url, sizeof(r->url), p->url);
    api_pointer_copy(r->content_type, sizeof(r->content_type), p->content_type);
    api_pointer_copy(r->supersedes, sizeof(r->supersedes), p->supersedes);
    display = policy_category_display(x->pol, p->category);
    if (display != NULL)
        api_pointer_copy(r->category_display, sizeof(r->category_display), display);
    if (n > 0 && x->issuer[n - 1] == '/')
        n--;
    snprintf(url, sizeof(url), "%.*s/fhir/DocumentReference/%s", (int)n, x->issuer, p->id);
    e = cJSON_CreateObject();
    cJSON_AddItemToArray(x->entries, e);
    cJSON_AddStringToObject(e, "fullUrl", url);
    cJSON_AddItemToObject(e, "resource", api_pointer_fhir_resource(r, p->created));
    search = cJSON_AddObjectToObject(e, "search");
    cJSON_AddStringToObject(search, "mode", "match");
    x->n++;
    free(r);
    return ERR_OK;
}

/* api_pointer_bearer returns the bearer token of the request (NUL-terminated), or NULL. */
static char *
api_pointer_bearer(struct http_call *c)
{
    const char *h;
    size_t len;
    char *tok;

    h = http_header(c, "authorization", &len);
    if (h == NULL || len <= 7 || strncasecmp(h, "Bearer ", 7) != 0 ||
        len - 7 > TOKEN_ACCESS_MAX_LEN)
        return NULL;
    tok = xmalloc(len - 7 + 1);
    memcpy(tok, h + 7, len - 7);
    tok[len - 7] = '\0';
    return tok;
}

/* api_pointer_unauthorized answers 401 with a challenge and an OperationOutcome. */
static void
api_pointer_unauthorized(struct http_call *c, const char *why)
{
    http_add_header(c, "www-authenticate", "Bearer realm=\"consentd\", error=\"invalid_token\"");
    api_pointer_oo(c, 401, "login", NULL, "%s", why);
}

void
api_pointer_fhir_search(struct http_call *c)
{
    static const char *const names[] = {API_POINTER_SEARCH_PARAM};
    const struct http_app *app = http_app_of(c);
    struct api_pointer_search x = {app->policy, app->cfg->issuer, 0, NULL, 0};
    char qwhy[256], nhs[NHS_LEN + 1], want[sizeof(API_POINTER_NHS_SYSTEM) + NHS_LEN + 2];
    int64_t now = (int64_t)time(NULL);
    const char *value = NULL, *bad = NULL, *why = NULL;
    const cJSON *m;
    struct store_txn *t = NULL;
    const cJSON *claims = NULL;
    cJSON *entry = NULL, *b = NULL;
    char *token = api_pointer_bearer(c), *text = NULL;
    uint64_t index = 0;
    bool live = false;
    int bit;
    enum err rc;

    if (token == NULL) {
        api_pointer_unauthorized(c, "this search needs a consent-checked access token from POST "
                                    "/oauth2/token: send \"Authorization: Bearer <token>\"");
        goto out;
    }
    if (token_check_access(app->tokens, token, strlen(token), now, &claims, &why) != ERR_OK) {
        api_pointer_unauthorized(c, why);
        goto out;
    }
    if (!http_query_check(c, names, 1, &value, qwhy, sizeof(qwhy), &bad)) {
        api_pointer_oo(c, 400, bad != NULL ? "not-supported" : "invalid", bad,
                       "%s; search with " API_POINTER_SEARCH_PARAM "=" API_POINTER_NHS_SYSTEM
                       "|{NHS number} only",
                       qwhy);
        goto out;
    }
    if (value == NULL) {
        api_pointer_oo(c, 400, "required", API_POINTER_SEARCH_PARAM,
                       "name the person: GET /fhir/DocumentReference?" API_POINTER_SEARCH_PARAM
                       "=" API_POINTER_NHS_SYSTEM "|{NHS number}");
        goto out;
    }
    rc = store_begin(app->store, false, &t);
    if (rc == ERR_OK)
        rc = access_token_live(t, claims, now, &live, nhs);
    if (rc == ERR_OK && live)
        rc = access_get(t, cJSON_GetObjectItemCaseSensitive(claims, "jti")->valuestring, &index);
    if (rc == ERR_OK && live)
        rc = access_entry_get(t, index, &entry);
    if (rc != ERR_OK) {
        api_pointer_oo(c, 500, "exception", NULL, "cannot read the state (%s)", err_str(rc));
        goto out;
    }
    if (!live) {
        api_pointer_unauthorized(c, "the access token is no longer valid: it was revoked, or a "
                                    "grant it relied on was; ask for a new one");
        goto out;
    }
    snprintf(want, sizeof(want), "%s|%s", API_POINTER_NHS_SYSTEM, nhs);
    if (strcmp(value, want) != 0) {
        api_pointer_oo(
            c, 403, "forbidden", API_POINTER_SEARCH_PARAM,
            "this access token covers another person: search with " API_POINTER_NHS_SYSTEM
            "|{the NHS number the token was issued for}");
        goto out;
    }
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(entry, "datatypes"))
    {
        bit = cJSON_IsString(m) ? policy_category_bit(app->policy, m->valuestring) : -1;
        if (bit >= 0 && bit < 64)
            x.categories |= UINT64_C(1) << bit;
    }
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "resourceType", "Bundle");
    cJSON_AddStringToObject(b, "type", "searchset");
    x.entries = cJSON_CreateArray();
    rc = pointers_list(t, nhs, true, api_pointer_search_one, &x);
    if (rc != ERR_OK) {
        cJSON_Delete(x.entries);
        api_pointer_oo(c, 500, "exception", NULL, "cannot list the pointers (%s)", err_str(rc));
        goto out;
    }
    /* total counts what is returned, never what the token does not cover. */
    cJSON_AddNumberToObject(b, "total", x.n);
    cJSON_AddItemToObject(b, "entry", x.entries);
    text = cJSON_PrintUnformatted(b);
    if (text == NULL)
        http_reply(c, 500, "text/plain", "out of memory\n", 14);
    else
        http_reply(c, 200, API_POINTER_FHIR_JSON, text, strlen(text));
out:
    free(text);
    store_abort(t);
    cJSON_Delete(b);
    cJSON_Delete(entry);
    free(token);
}
