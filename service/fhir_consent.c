/*
 * fhir_consent: grants as FHIR R4 Consent resources, both ways. The mapping, and why each code
 * system was chosen, is docs/fhir-consent.md; keep the two in step.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "consentd/fhir_consent.h"
#include "consentd/hash.h"
#include "consentd/json.h"
#include "consentd/nhs.h"
#include "consentd/policy.h"
#include "consentd/xmalloc.h"

#define FC_ODS_MIN     3
#define FC_ODS_MAX     10
#define FC_TEXT_MAX    (64 * 1024) /* bytes of the narrative; categories are bounded */
#define FC_ID_HASH_HEX 31          /* bytes of SHA-256 shown in a hashed id */
#define FC_PATH_MAX    192         /* a FHIRPath built while walking a resource */

/* HL7 v3 PurposeOfUse displays, from the v3-ActReason code system. */
static const struct {
    const char *code;
    const char *display;
} fc_purposes[] = {
    {"TREAT", "treatment"},
    {"ETREAT", "Emergency Treatment"},
    {"CAREMGT", "care management"},
    {"HRESCH", "healthcare research"},
    {"PUBHLTH", "public health"},
    {"HPAYMT", "healthcare payment"},
    {"HOPERAT", "healthcare operations"},
    {"PATRQT", "patient requested"},
    {"FAMRQT", "family requested"},
    {"PWATRNY", "power of attorney"},
    {"SUPNWK", "support network"},
    {"BTG", "break the glass"},
};

/* The elements of an R4 Consent; anything else is refused. */
static const char *const fc_consent_elements[] = {
    "resourceType",    "id",           "meta",
    "implicitRules",   "language",     "text",
    "contained",       "extension",    "modifierExtension",
    "identifier",      "status",       "scope",
    "category",        "patient",      "dateTime",
    "performer",       "organization", "sourceAttachment",
    "sourceReference", "policy",       "policyRule",
    "verification",    "provision"};

/* The elements of Consent.provision, and those consentd cannot honour exactly. */
static const char *const fc_provision_elements[] = {
    "id",     "extension",     "modifierExtension", "type",  "period", "actor",
    "action", "securityLabel", "purpose",           "class", "code",   "dataPeriod",
    "data",   "provision"};
static const char *const fc_provision_refused[] = {"securityLabel", "code", "dataPeriod", "data",
                                                   "provision"};

static const char *const fc_actor_elements[] = {"id", "extension", "modifierExtension", "role",
                                                "reference"};

static const char *const fc_consent_states[] = {"draft",    "proposed", "active",
                                                "rejected", "inactive", "entered-in-error"};

static const char *const fc_bundle_types[] = {
    "document", "message",   "transaction", "transaction-response", "batch", "batch-response",
    "history",  "searchset", "collection"};

/* The consent scopes after which R4's ppc-2..ppc-5 require a patient. */
static const char *const fc_patient_scopes[] = {"patient-privacy", "research", "adr", "treatment"};

#define FC_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool
fc_in(const char *s, const char *const *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* ---- times ---- */

/* A date-time as read: the fields written and how much of it there was. */
struct fc_time {
    int year, month, day, hour, min, sec;
    int offset;    /* minutes east of UTC */
    bool fraction; /* it had a fraction of a second (dropped) */
    int precision; /* 1 year, 2 month, 3 date, 4 date-time */
};

enum fc_time_form {
    FC_TIME_RFC3339,   /* full date-time; 't'/'z' in either case; offsets to 23:59 */
    FC_TIME_FHIR_FULL, /* a FHIR dateTime with a time: 'T', 'Z', offsets to 14:00 */
    FC_TIME_FHIR       /* any FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD or with a time */
};

static bool
fc_digits(const char **s, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return false;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return true;
}

static int
fc_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* fc_time_read reads s in form into *t; false if it is not one. */
static bool
fc_time_read(const char *s, enum fc_time_form form, struct fc_time *t)
{
    int oh, om;
    char c;

    memset(t, 0, sizeof(*t));
    if (!fc_digits(&s, 4, &t->year) || t->year < 1)
        return false;
    t->precision = 1;
    if (*s == '\0')
        return form == FC_TIME_FHIR;
    if (*s++ != '-' || !fc_digits(&s, 2, &t->month) || t->month < 1 || t->month > 12)
        return false;
    t->precision = 2;
    if (*s == '\0')
        return form == FC_TIME_FHIR;
    if (*s++ != '-' || !fc_digits(&s, 2, &t->day) || t->day < 1 ||
        t->day > fc_days_in_month(t->year, t->month))
        return false;
    t->precision = 3;
    if (*s == '\0')
        return form == FC_TIME_FHIR;
    c = *s++;
    if (c != 'T' && !(form == FC_TIME_RFC3339 && c == 't'))
        return false;
    if (!fc_digits(&s, 2, &t->hour) || t->hour > 23 || *s++ != ':' || !fc_digits(&s, 2, &t->min) ||
        t->min > 59 || *s++ != ':' || !fc_digits(&s, 2, &t->sec) || t->sec > 60)
        return false;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        t->fraction = true;
    }
    c = *s++;
    if (c == 'Z' || (form == FC_TIME_RFC3339 && c == 'z')) {
        t->offset = 0;
    } else if (c == '+' || c == '-') {
        if (!fc_digits(&s, 2, &oh) || *s++ != ':' || !fc_digits(&s, 2, &om) || om > 59)
            return false;
        if (form == FC_TIME_RFC3339 ? oh > 23 : (oh > 14 || (oh == 14 && om != 0)))
            return false;
        t->offset = (c == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return false;
    }
    t->precision = 4;
    return *s == '\0';
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t
fc_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t
fc_time_seconds(const struct fc_time *t)
{
    return fc_days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 + t->min * 60 +
           t->sec - (int64_t)t->offset * 60;
}

/* fc_time_utc writes secs as "YYYY-MM-DDThh:mm:ssZ"; false if the year leaves 1..9999. */
static bool
fc_time_utc(int64_t secs, char out[static FHIR_CONSENT_TIME_MAX + 1])
{
    int64_t days = secs / 86400, rem = secs % 86400, z, era, doe, yoe, y, doy, mp, d, m;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 1 || y > 9999)
        return false;
    snprintf(out, FHIR_CONSENT_TIME_MAX + 1, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m,
             (int)d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    return true;
}

/* fc_rfc3339 reads an RFC 3339 date-time into *secs; false if s is not one. */
static bool
fc_rfc3339(const char *s, int64_t *secs)
{
    struct fc_time t;

    if (s == NULL || strlen(s) > FHIR_CONSENT_TIME_MAX || !fc_time_read(s, FC_TIME_RFC3339, &t))
        return false;
    *secs = fc_time_seconds(&t);
    return true;
}

/*
 * fc_time_out writes the FHIR dateTime of the RFC 3339 time s: s itself when it is one already
 * (the usual case), else the same instant in UTC. False if s is not RFC 3339.
 */
static bool
fc_time_out(const char *s, char out[static FHIR_CONSENT_TIME_MAX + 1])
{
    struct fc_time t;
    int64_t secs;

    if (!fc_rfc3339(s, &secs))
        return false;
    if (fc_time_read(s, FC_TIME_FHIR_FULL, &t)) {
        snprintf(out, FHIR_CONSENT_TIME_MAX + 1, "%s", s);
        return true;
    }
    return fc_time_utc(secs, out);
}

enum err
fhir_consent_state_of(const char *start, const char *end, bool revoked, int64_t now,
                      enum fhir_consent_state *out)
{
    int64_t s, e;

    if (!fc_rfc3339(start, &s) || !fc_rfc3339(end, &e))
        return ERR_INVAL;
    if (revoked)
        *out = FHIR_CONSENT_STATE_REVOKED;
    else if (now < s)
        *out = FHIR_CONSENT_STATE_PENDING;
    else if (now >= e)
        *out = FHIR_CONSENT_STATE_EXPIRED;
    else
        *out = FHIR_CONSENT_STATE_ACTIVE;
    return ERR_OK;
}

/* ---- ids ---- */

static bool
fc_id_plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

enum err
fhir_consent_id(const char *jti, char out[static FHIR_CONSENT_ID_MAX + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t h[HASH_BYTES];
    size_t n, i, o = 0;

    out[0] = '\0';
    n = jti == NULL ? 0 : strlen(jti);
    if (n == 0 || n > FHIR_CONSENT_JTI_MAX)
        return ERR_INVAL;
    for (i = 0; i < n && o <= FHIR_CONSENT_ID_MAX; i++) {
        unsigned char c = (unsigned char)jti[i];

        if (fc_id_plain(c)) {
            if (o + 1 > FHIR_CONSENT_ID_MAX)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 3 > FHIR_CONSENT_ID_MAX)
                break;
            out[o++] = '.';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    if (i == n) {
        out[o] = '\0';
        return ERR_OK;
    }
    /* Too long escaped: ".." never occurs in an escaped id, so the two forms cannot meet. */
    hash_sha256((const uint8_t *)jti, n, h);
    out[0] = '.';
    out[1] = '.';
    for (i = 0; i < FC_ID_HASH_HEX; i++) {
        out[2 + 2 * i] = hex[h[i] >> 4];
        out[3 + 2 * i] = hex[h[i] & 0xf];
    }
    out[2 + 2 * FC_ID_HASH_HEX] = '\0';
    return ERR_OK;
}

/* ---- building ---- */

static cJSON *
fc_coding(const char *system, const char *code, const char *display)
{
    cJSON *c = cJSON_CreateObject();

    cJSON_AddStringToObject(c, "system", system);
    cJSON_AddStringToObject(c, "code", code);
    if (display != NULL && display[0] != '\0')
        cJSON_AddStringToObject(c, "display", display);
    return c;
}

static cJSON *
fc_concept(const char *system, const char *code, const char *display)
{
    cJSON *cc = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(cc, "coding");

    cJSON_AddItemToArray(a, fc_coding(system, code, display));
    return cc;
}

static cJSON *
fc_identifier(const char *system, const char *value)
{
    cJSON *id = cJSON_CreateObject();

    cJSON_AddStringToObject(id, "system", system);
    cJSON_AddStringToObject(id, "value", value);
    return id;
}

/* fc_reference builds a logical reference: {type, identifier {system, value}, display}. */
static cJSON *
fc_reference(const char *type, const char *system, const char *value, const char *display)
{
    cJSON *r = cJSON_CreateObject();

    cJSON_AddStringToObject(r, "type", type);
    cJSON_AddItemToObject(r, "identifier", fc_identifier(system, value));
    if (display != NULL)
        cJSON_AddStringToObject(r, "display", display);
    return r;
}

static const char *
fc_purpose_display(const char *code)
{
    size_t i;

    for (i = 0; i < FC_COUNT(fc_purposes); i++)
        if (strcmp(fc_purposes[i].code, code) == 0)
            return fc_purposes[i].display;
    return NULL;
}

static bool
fc_ods_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n < FC_ODS_MIN || n > FC_ODS_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* fc_bounded is true if s is a non-empty string of at most max bytes within a buffer of max+1. */
static bool
fc_bounded(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    return n > 0 && n <= max;
}

/* fc_grant_valid is true if g is a grant consentd could hold (see fhir_consent_to_resource). */
static bool
fc_grant_valid(const struct fhir_consent_grant *g)
{
    int64_t t;
    size_t i;

    if (!fc_bounded(g->jti, FHIR_CONSENT_JTI_MAX) || !fc_bounded(g->nhs, NHS_LEN) ||
        !nhs_valid(g->nhs) || !fc_bounded(g->purpose, FHIR_CONSENT_PURPOSE_MAX))
        return false;
    if (g->effect != FHIR_CONSENT_PERMIT && g->effect != FHIR_CONSENT_DENY)
        return false;
    switch (g->grantee) {
    case FHIR_CONSENT_GRANTEE_ORG:
        if (!fc_bounded(g->grantee_value, FHIR_CONSENT_VALUE_MAX) ||
            !fc_ods_valid(g->grantee_value))
            return false;
        break;
    case FHIR_CONSENT_GRANTEE_ROLE:
        if (!fc_bounded(g->grantee_value, FHIR_CONSENT_VALUE_MAX))
            return false;
        break;
    case FHIR_CONSENT_GRANTEE_ANY:
        break;
    default:
        return false;
    }
    switch (g->state) {
    case FHIR_CONSENT_STATE_ACTIVE:
    case FHIR_CONSENT_STATE_PENDING:
    case FHIR_CONSENT_STATE_EXPIRED:
    case FHIR_CONSENT_STATE_REVOKED:
        break;
    default:
        return false;
    }
    switch (g->source) {
    case FHIR_CONSENT_SOURCE_PATIENT:
    case FHIR_CONSENT_SOURCE_DELEGATE:
    case FHIR_CONSENT_SOURCE_PAPER:
        break;
    default:
        return false;
    }
    if (strnlen(g->source_id, FHIR_CONSENT_SOURCE_MAX + 1) > FHIR_CONSENT_SOURCE_MAX)
        return false;
    if (g->ndatatypes == 0 || g->ndatatypes > FHIR_CONSENT_MAX_DATATYPES)
        return false;
    for (i = 0; i < g->ndatatypes; i++)
        if (!fc_bounded(g->datatypes[i], FHIR_CONSENT_NAME_MAX))
            return false;
    if (!fc_rfc3339(g->start, &t) || !fc_rfc3339(g->end, &t))
        return false;
    if (g->recorded[0] != '\0' && !fc_rfc3339(g->recorded, &t))
        return false;
    return true;
}

/* A growing text for the narrative, bounded by FC_TEXT_MAX (beyond it, text is cut). */
struct fc_text {
    char *s;
    size_t len, cap;
};

static void
fc_text_raw(struct fc_text *b, const char *s, size_t n)
{
    if (b->len + n + 1 > FC_TEXT_MAX)
        return;
    if (b->len + n + 1 > b->cap) {
        b->cap = b->len + n + 1 > 2 * b->cap ? b->len + n + 1 : 2 * b->cap;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* fc_text_esc appends s escaped for XHTML. */
static void
fc_text_esc(struct fc_text *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fc_text_raw(b, "&amp;", 5);
            break;
        case '<':
            fc_text_raw(b, "&lt;", 4);
            break;
        case '>':
            fc_text_raw(b, "&gt;", 4);
            break;
        case '"':
            fc_text_raw(b, "&quot;", 6);
            break;
        default:
            fc_text_raw(b, s, 1);
            break;
        }
    }
}

static void
fc_text_add(struct fc_text *b, const char *s)
{
    fc_text_raw(b, s, strlen(s));
}

static const char *
fc_category_display(const struct policy *p, const char *name)
{
    return p != NULL ? policy_category_display(p, name) : NULL;
}

/* fc_narrative builds Consent.text: one sentence a person can read. */
static cJSON *
fc_narrative(const struct fhir_consent_grant *g, const struct policy *p)
{
    struct fc_text b = {NULL, 0, 0};
    const char *d;
    cJSON *text;
    size_t i;

    fc_text_add(&b, "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>");
    switch (g->grantee) {
    case FHIR_CONSENT_GRANTEE_ORG:
        fc_text_add(&b, "The organisation with ODS code ");
        fc_text_esc(&b, g->grantee_value);
        break;
    case FHIR_CONSENT_GRANTEE_ROLE:
        fc_text_add(&b, "Any organisation of type ");
        fc_text_esc(&b, g->grantee_value);
        break;
    case FHIR_CONSENT_GRANTEE_ANY:
        fc_text_add(&b, "Anyone with a legitimate relationship");
        break;
    }
    fc_text_add(&b, g->effect == FHIR_CONSENT_PERMIT ? " may read " : " may not read ");
    for (i = 0; i < g->ndatatypes; i++) {
        if (i > 0)
            fc_text_add(&b, i + 1 == g->ndatatypes ? " and " : ", ");
        d = fc_category_display(p, g->datatypes[i]);
        fc_text_esc(&b, d != NULL ? d : g->datatypes[i]);
    }
    fc_text_add(&b, " of patient ");
    fc_text_esc(&b, g->nhs);
    fc_text_add(&b, " for ");
    d = fc_purpose_display(g->purpose);
    fc_text_esc(&b, d != NULL ? d : g->purpose);
    fc_text_add(&b, ", from ");
    fc_text_esc(&b, g->start);
    fc_text_add(&b, " until ");
    fc_text_esc(&b, g->end);
    switch (g->state) {
    case FHIR_CONSENT_STATE_ACTIVE:
        fc_text_add(&b, ".");
        break;
    case FHIR_CONSENT_STATE_PENDING:
        fc_text_add(&b, " (not yet in force).");
        break;
    case FHIR_CONSENT_STATE_EXPIRED:
        fc_text_add(&b, " (expired).");
        break;
    case FHIR_CONSENT_STATE_REVOKED:
        fc_text_add(&b, " (revoked).");
        break;
    }
    fc_text_add(&b, "</p></div>");
    text = cJSON_CreateObject();
    cJSON_AddStringToObject(text, "status", "generated");
    cJSON_AddStringToObject(text, "div", b.s != NULL ? b.s : "<div></div>");
    free(b.s);
    return text;
}

/* fc_record builds the consent-record extension: the log entry and how the grant was made. */
static cJSON *
fc_record(const struct fhir_consent_grant *g)
{
    cJSON *ext = cJSON_CreateObject(), *subs, *e;
    const char *how = "patient";

    cJSON_AddStringToObject(ext, "url", FHIR_CONSENT_RECORD_URL);
    subs = cJSON_AddArrayToObject(ext, "extension");
    switch (g->source) {
    case FHIR_CONSENT_SOURCE_PATIENT:
        how = "patient";
        break;
    case FHIR_CONSENT_SOURCE_DELEGATE:
        how = "delegate";
        break;
    case FHIR_CONSENT_SOURCE_PAPER:
        how = "paper";
        break;
    }
    e = cJSON_CreateObject();
    cJSON_AddItemToArray(subs, e);
    cJSON_AddStringToObject(e, "url", "source");
    cJSON_AddStringToObject(e, "valueCode", how);
    if (g->source_id[0] != '\0' && g->source != FHIR_CONSENT_SOURCE_PATIENT) {
        e = cJSON_CreateObject();
        cJSON_AddItemToArray(subs, e);
        cJSON_AddStringToObject(e, "url", "signer");
        cJSON_AddItemToObject(e, "valueIdentifier",
                              fc_identifier(g->source == FHIR_CONSENT_SOURCE_DELEGATE
                                                ? FHIR_CONSENT_NHS_SYSTEM
                                                : FHIR_CONSENT_CLIENT_SYSTEM,
                                            g->source_id));
    }
    if (g->index > 0) {
        e = cJSON_CreateObject();
        cJSON_AddItemToArray(subs, e);
        cJSON_AddStringToObject(e, "url", "logIndex");
        json_add_u64(e, "valueDecimal", g->index);
    }
    if (g->state == FHIR_CONSENT_STATE_REVOKED && g->revoke_index > 0) {
        e = cJSON_CreateObject();
        cJSON_AddItemToArray(subs, e);
        cJSON_AddStringToObject(e, "url", "revocationLogIndex");
        json_add_u64(e, "valueDecimal", g->revoke_index);
    }
    return ext;
}

static cJSON *
fc_provision(const struct fhir_consent_grant *g, const struct policy *p, const char *start,
             const char *end)
{
    cJSON *prov = cJSON_CreateObject(), *period, *a, *actor;
    char display[FHIR_CONSENT_VALUE_MAX + 64];
    size_t i;

    cJSON_AddStringToObject(prov, "type", g->effect == FHIR_CONSENT_PERMIT ? "permit" : "deny");
    period = cJSON_AddObjectToObject(prov, "period");
    cJSON_AddStringToObject(period, "start", start);
    cJSON_AddStringToObject(period, "end", end);
    /* Anyone: R4 applies a provision without actor to every actor, so there is none. */
    if (g->grantee != FHIR_CONSENT_GRANTEE_ANY) {
        a = cJSON_AddArrayToObject(prov, "actor");
        actor = cJSON_CreateObject();
        cJSON_AddItemToArray(a, actor);
        cJSON_AddItemToObject(
            actor, "role",
            fc_concept(FHIR_CONSENT_PARTTYPE_SYSTEM, "IRCP", "information recipient"));
        if (g->grantee == FHIR_CONSENT_GRANTEE_ORG) {
            cJSON_AddItemToObject(
                actor, "reference",
                fc_reference("Organization", FHIR_CONSENT_ODS_SYSTEM, g->grantee_value, NULL));
        } else {
            snprintf(display, sizeof(display), "Any organisation of type %s", g->grantee_value);
            cJSON_AddItemToObject(
                actor, "reference",
                fc_reference("Group", FHIR_CONSENT_ORG_TYPE_SYSTEM, g->grantee_value, display));
        }
    }
    a = cJSON_AddArrayToObject(prov, "action");
    cJSON_AddItemToArray(a, fc_concept(FHIR_CONSENT_ACTION_SYSTEM, "access", "Access"));
    a = cJSON_AddArrayToObject(prov, "purpose");
    cJSON_AddItemToArray(
        a, fc_coding(FHIR_CONSENT_REASON_SYSTEM, g->purpose, fc_purpose_display(g->purpose)));
    a = cJSON_AddArrayToObject(prov, "class");
    for (i = 0; i < g->ndatatypes; i++)
        cJSON_AddItemToArray(a, fc_coding(FHIR_CONSENT_CATEGORY_SYSTEM, g->datatypes[i],
                                          fc_category_display(p, g->datatypes[i])));
    return prov;
}

cJSON *
fhir_consent_to_resource(const struct fhir_consent_grant *g, const struct policy *p)
{
    char id[FHIR_CONSENT_ID_MAX + 1], start[FHIR_CONSENT_TIME_MAX + 1];
    char end[FHIR_CONSENT_TIME_MAX + 1], recorded[FHIR_CONSENT_TIME_MAX + 1];
    cJSON *c, *a;
    bool inactive;

    if (!fc_grant_valid(g) || fhir_consent_id(g->jti, id) != ERR_OK ||
        !fc_time_out(g->start, start) || !fc_time_out(g->end, end))
        return NULL;
    recorded[0] = '\0';
    if (g->recorded[0] != '\0' && !fc_time_out(g->recorded, recorded))
        return NULL;
    inactive = g->state == FHIR_CONSENT_STATE_EXPIRED || g->state == FHIR_CONSENT_STATE_REVOKED;
    c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "resourceType", "Consent");
    cJSON_AddStringToObject(c, "id", id);
    cJSON_AddItemToObject(c, "text", fc_narrative(g, p));
    a = cJSON_AddArrayToObject(c, "extension");
    cJSON_AddItemToArray(a, fc_record(g));
    a = cJSON_AddArrayToObject(c, "identifier");
    cJSON_AddItemToArray(a, fc_identifier(FHIR_CONSENT_JTI_SYSTEM, g->jti));
    cJSON_AddStringToObject(c, "status", inactive ? "inactive" : "active");
    cJSON_AddItemToObject(
        c, "scope", fc_concept(FHIR_CONSENT_SCOPE_SYSTEM, "patient-privacy", "Privacy Consent"));
    a = cJSON_AddArrayToObject(c, "category");
    cJSON_AddItemToArray(a,
                         fc_concept(FHIR_CONSENT_LOINC_SYSTEM, FHIR_CONSENT_LOINC_CONSENT, NULL));
    cJSON_AddItemToObject(c, "patient",
                          fc_reference("Patient", FHIR_CONSENT_NHS_SYSTEM, g->nhs, NULL));
    if (recorded[0] != '\0')
        cJSON_AddStringToObject(c, "dateTime", recorded);
    /* performer: who agreed. On paper that is still the patient; the enroller only recorded it. */
    if (g->source == FHIR_CONSENT_SOURCE_DELEGATE && g->source_id[0] != '\0') {
        a = cJSON_AddArrayToObject(c, "performer");
        cJSON_AddItemToArray(
            a, fc_reference("RelatedPerson", FHIR_CONSENT_NHS_SYSTEM, g->source_id, NULL));
    } else if (g->source != FHIR_CONSENT_SOURCE_DELEGATE) {
        a = cJSON_AddArrayToObject(c, "performer");
        cJSON_AddItemToArray(a, fc_reference("Patient", FHIR_CONSENT_NHS_SYSTEM, g->nhs, NULL));
    }
    /* ppc-1. consentd's base rule is "no access": a permit opts in, a deny opts out. */
    cJSON_AddItemToObject(c, "policyRule",
                          fc_concept(FHIR_CONSENT_ACTCODE_SYSTEM,
                                     g->effect == FHIR_CONSENT_PERMIT ? "OPTIN" : "OPTOUT", NULL));
    cJSON_AddItemToObject(c, "provision", fc_provision(g, p, start, end));
    return c;
}

cJSON *
fhir_consent_bundle(const struct fhir_consent_grant *grants, size_t n, const struct policy *p,
                    const char *base, const char *self)
{
    char id[FHIR_CONSENT_ID_MAX + 1];
    cJSON *b, *entries, *e, *r, *links, *link;
    size_t blen = base != NULL ? strlen(base) : 0, i;
    char *url;

    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "resourceType", "Bundle");
    cJSON_AddStringToObject(b, "type", "searchset");
    cJSON_AddNumberToObject(b, "total", (double)n);
    if (self != NULL && self[0] != '\0') {
        links = cJSON_AddArrayToObject(b, "link");
        link = cJSON_CreateObject();
        cJSON_AddItemToArray(links, link);
        cJSON_AddStringToObject(link, "relation", "self");
        cJSON_AddStringToObject(link, "url", self);
    }
    if (n == 0)
        return b; /* ele-1: no empty "entry" array */
    entries = cJSON_AddArrayToObject(b, "entry");
    url = xmalloc(blen + sizeof("/fhir/Consent/") + FHIR_CONSENT_ID_MAX);
    for (i = 0; i < n; i++) {
        r = fhir_consent_to_resource(&grants[i], p);
        if (r == NULL) {
            cJSON_Delete(b);
            b = NULL;
            break;
        }
        (void)fhir_consent_id(grants[i].jti, id); /* valid: the resource was built */
        e = cJSON_CreateObject();
        cJSON_AddItemToArray(entries, e);
        snprintf(url, blen + sizeof("/fhir/Consent/") + FHIR_CONSENT_ID_MAX, "%.*s/fhir/Consent/%s",
                 (int)blen, base != NULL ? base : "", id);
        cJSON_AddStringToObject(e, "fullUrl", url);
        cJSON_AddItemToObject(e, "resource", r);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "search"), "mode", "match");
    }
    free(url);
    return b;
}

cJSON *
fhir_consent_outcome(const char *code, const char *diagnostics, const char *expression)
{
    cJSON *oo = cJSON_CreateObject(), *issues, *issue;

    cJSON_AddStringToObject(oo, "resourceType", "OperationOutcome");
    issues = cJSON_AddArrayToObject(oo, "issue");
    issue = cJSON_CreateObject();
    cJSON_AddItemToArray(issues, issue);
    cJSON_AddStringToObject(issue, "severity", "error");
    cJSON_AddStringToObject(issue, "code", code != NULL && code[0] != '\0' ? code : "invalid");
    if (diagnostics != NULL && diagnostics[0] != '\0')
        cJSON_AddStringToObject(issue, "diagnostics", diagnostics);
    if (expression != NULL && expression[0] != '\0')
        cJSON_AddItemToArray(cJSON_AddArrayToObject(issue, "expression"),
                             cJSON_CreateString(expression));
    return oo;
}

/* ---- reading a paper consent ---- */

struct fc_err {
    char *diag;
    size_t cap;
    char *expr;
    size_t ecap;
};

static enum err fc_fail(struct fc_err *e, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum err
fc_fail(struct fc_err *e, const char *expr, const char *fmt, ...)
{
    va_list ap;

    if (e->diag != NULL && e->cap > 0) {
        va_start(ap, fmt);
        vsnprintf(e->diag, e->cap, fmt, ap);
        va_end(ap);
    }
    if (e->expr != NULL && e->ecap > 0)
        snprintf(e->expr, e->ecap, "%s", expr);
    return ERR_INVAL;
}

static const cJSON *
fc_get(const cJSON *o, const char *name)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
}

/* fc_str returns the string value of m if it is 1..max bytes, else NULL. */
static const char *
fc_str(const cJSON *m, size_t max)
{
    if (!cJSON_IsString(m) || m->valuestring[0] == '\0' || strlen(m->valuestring) > max)
        return NULL;
    return m->valuestring;
}

static bool
fc_str_is(const cJSON *m, const char *want)
{
    return cJSON_IsString(m) && strcmp(m->valuestring, want) == 0;
}

/* fc_coding_is is true if Coding c has exactly system and code. */
static bool
fc_coding_is(const cJSON *c, const char *system, const char *code)
{
    return fc_str_is(fc_get(c, "system"), system) && fc_str_is(fc_get(c, "code"), code);
}

/* fc_concept_has is true if CodeableConcept cc has a coding with system and code. */
static bool
fc_concept_has(const cJSON *cc, const char *system, const char *code)
{
    const cJSON *c, *codings = fc_get(cc, "coding");

    if (!cJSON_IsArray(codings))
        return false;
    cJSON_ArrayForEach(c, codings)
    {
        if (fc_coding_is(c, system, code))
            return true;
    }
    return false;
}

/* fc_object_array is true if m is an array of one or more objects. */
static bool
fc_object_array(const cJSON *m)
{
    const cJSON *i;

    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0)
        return false;
    cJSON_ArrayForEach(i, m)
    {
        if (!cJSON_IsObject(i))
            return false;
    }
    return true;
}

/*
 * fc_members refuses a member of o (at FHIRPath path) not in allowed[0..n), or in
 * refused[0..nr) (elements consentd cannot honour), or an extension on a primitive ("_x").
 */
static enum err
fc_members(struct fc_err *e, const cJSON *o, const char *path, const char *const *allowed, size_t n,
           const char *const *refused, size_t nr)
{
    char expr[FC_PATH_MAX];
    const cJSON *m;

    cJSON_ArrayForEach(m, o)
    {
        snprintf(expr, sizeof(expr), "%s.%.64s", path, m->string);
        if (strcmp(m->string, "modifierExtension") == 0 || strcmp(m->string, "implicitRules") == 0)
            return fc_fail(e, expr,
                           "%s is not understood here, and a Consent that carries it cannot be "
                           "accepted",
                           expr);
        if (refused != NULL && fc_in(m->string, refused, nr))
            return fc_fail(e, expr,
                           "%s would narrow the consent in a way consentd cannot enforce; "
                           "submit a Consent without it (one Consent per grant)",
                           expr);
        if (m->string[0] == '_')
            return fc_fail(e, expr,
                           "\"%.64s\": extensions on primitive elements are not accepted here",
                           m->string);
        if (!fc_in(m->string, allowed, n))
            return fc_fail(e, expr, "\"%.64s\" is not an element of %s in R4", m->string, path);
    }
    return ERR_OK;
}

/* fc_time_in reads a full FHIR dateTime with a time zone at m into UTC out. */
static enum err
fc_time_in(struct fc_err *e, const cJSON *m, const char *expr,
           char out[static FHIR_CONSENT_TIME_MAX + 1])
{
    struct fc_time t;

    if (fc_str(m, FHIR_CONSENT_TIME_MAX) == NULL ||
        !fc_time_read(m->valuestring, FC_TIME_FHIR_FULL, &t) ||
        !fc_time_utc(fc_time_seconds(&t), out))
        return fc_fail(e, expr,
                       "%s must be a date-time with seconds and a time zone, such as "
                       "\"2026-11-23T00:00:00Z\" or \"2026-11-23T09:30:00+01:00\"",
                       expr);
    return ERR_OK;
}

/* fc_actor reads the one actor at m into out's grantee. */
static enum err
fc_actor(struct fc_err *e, const cJSON *m, const struct policy *p, struct fhir_consent_grant *out)
{
    const char *path = "Consent.provision.actor[0]", *v;
    const cJSON *ref, *ident, *type;
    enum err rc;

    rc = fc_members(e, m, path, fc_actor_elements, FC_COUNT(fc_actor_elements), NULL, 0);
    if (rc != ERR_OK)
        return rc;
    if (!fc_concept_has(fc_get(m, "role"), FHIR_CONSENT_PARTTYPE_SYSTEM, "IRCP"))
        return fc_fail(e, "Consent.provision.actor[0].role",
                       "Consent.provision.actor[0].role must have a coding with system %s and "
                       "code \"IRCP\" (information recipient): the actor is who may read",
                       FHIR_CONSENT_PARTTYPE_SYSTEM);
    ref = fc_get(m, "reference");
    if (!cJSON_IsObject(ref))
        return fc_fail(e, "Consent.provision.actor[0].reference",
                       "Consent.provision.actor[0].reference is required: an organisation's ODS "
                       "code, or a Group naming an organisation type");
    if (fc_get(ref, "reference") != NULL)
        return fc_fail(e, "Consent.provision.actor[0].reference.reference",
                       "a literal reference cannot be resolved here; name the organisation by "
                       "identifier (system %s)",
                       FHIR_CONSENT_ODS_SYSTEM);
    ident = fc_get(ref, "identifier");
    type = fc_get(ref, "type");
    v = fc_str(fc_get(ident, "value"), FHIR_CONSENT_VALUE_MAX);
    if (fc_str_is(fc_get(ident, "system"), FHIR_CONSENT_ODS_SYSTEM)) {
        if (v == NULL || !fc_ods_valid(v))
            return fc_fail(e, "Consent.provision.actor[0].reference.identifier.value",
                           "the actor's ODS code must be 3-10 of A-Z and 0-9");
        if (type != NULL && !fc_str_is(type, "Organization"))
            return fc_fail(e, "Consent.provision.actor[0].reference.type",
                           "an actor named by ODS code is an \"Organization\"");
        out->grantee = FHIR_CONSENT_GRANTEE_ORG;
    } else if (fc_str_is(fc_get(ident, "system"), FHIR_CONSENT_ORG_TYPE_SYSTEM)) {
        if (v == NULL || !policy_org_type_known(p, v)) {
            char list[256];

            policy_org_type_list(p, list, sizeof(list));
            return fc_fail(e, "Consent.provision.actor[0].reference.identifier.value",
                           "the actor's organisation type must be one of the policy's: %s", list);
        }
        if (type != NULL && !fc_str_is(type, "Group"))
            return fc_fail(e, "Consent.provision.actor[0].reference.type",
                           "an actor named by organisation type is a \"Group\"");
        out->grantee = FHIR_CONSENT_GRANTEE_ROLE;
    } else {
        return fc_fail(e, "Consent.provision.actor[0].reference.identifier",
                       "Consent.provision.actor[0].reference.identifier must have system %s (an "
                       "organisation) or %s (a type of organisation)",
                       FHIR_CONSENT_ODS_SYSTEM, FHIR_CONSENT_ORG_TYPE_SYSTEM);
    }
    snprintf(out->grantee_value, sizeof(out->grantee_value), "%s", v);
    return ERR_OK;
}

static enum err
fc_provision_in(struct fc_err *e, const cJSON *prov, const struct policy *p,
                struct fhir_consent_grant *out)
{
    char expr[FC_PATH_MAX], list[512];
    const cJSON *m, *item, *c, *coding;
    int64_t s, t;
    size_t i, k, j;
    enum err rc;

    rc = fc_members(e, prov, "Consent.provision", fc_provision_elements,
                    FC_COUNT(fc_provision_elements), fc_provision_refused,
                    FC_COUNT(fc_provision_refused));
    if (rc != ERR_OK)
        return rc;
    m = fc_get(prov, "type");
    if (fc_str_is(m, "permit"))
        out->effect = FHIR_CONSENT_PERMIT;
    else if (fc_str_is(m, "deny"))
        out->effect = FHIR_CONSENT_DENY;
    else
        return fc_fail(e, "Consent.provision.type",
                       "Consent.provision.type must be \"permit\" or \"deny\"");
    m = fc_get(prov, "period");
    if (!cJSON_IsObject(m) || fc_get(m, "start") == NULL || fc_get(m, "end") == NULL)
        return fc_fail(e, "Consent.provision.period",
                       "Consent.provision.period must have a start and an end: consentd holds no "
                       "consent without an end");
    rc = fc_time_in(e, fc_get(m, "start"), "Consent.provision.period.start", out->start);
    if (rc == ERR_OK)
        rc = fc_time_in(e, fc_get(m, "end"), "Consent.provision.period.end", out->end);
    if (rc != ERR_OK)
        return rc;
    (void)fc_rfc3339(out->start, &s);
    (void)fc_rfc3339(out->end, &t);
    if (t <= s)
        return fc_fail(e, "Consent.provision.period",
                       "Consent.provision.period ends (%s) before or when it starts (%s)", out->end,
                       out->start);
    m = fc_get(prov, "actor");
    if (m == NULL) {
        out->grantee = FHIR_CONSENT_GRANTEE_ANY;
    } else if (!fc_object_array(m)) {
        return fc_fail(e, "Consent.provision.actor",
                       "Consent.provision.actor must be a non-empty array of actors, or absent "
                       "(anyone with a legitimate relationship)");
    } else if (cJSON_GetArraySize(m) != 1) {
        return fc_fail(e, "Consent.provision.actor",
                       "Consent.provision.actor must hold exactly one actor: a grant names one "
                       "grantee, so submit one Consent per organisation");
    } else {
        rc = fc_actor(e, m->child, p, out);
        if (rc != ERR_OK)
            return rc;
    }
    m = fc_get(prov, "action");
    if (!fc_object_array(m))
        return fc_fail(e, "Consent.provision.action",
                       "Consent.provision.action must hold the action \"access\" (system %s)",
                       FHIR_CONSENT_ACTION_SYSTEM);
    i = 0;
    cJSON_ArrayForEach(item, m)
    {
        snprintf(expr, sizeof(expr), "Consent.provision.action[%zu]", i);
        c = fc_get(item, "coding");
        if (!fc_object_array(c))
            return fc_fail(e, expr, "%s must have a coding with system %s and code \"access\"",
                           expr, FHIR_CONSENT_ACTION_SYSTEM);
        cJSON_ArrayForEach(coding, c)
        {
            if (!fc_coding_is(coding, FHIR_CONSENT_ACTION_SYSTEM, "access"))
                return fc_fail(e, expr,
                               "%s: the only action consentd records is \"access\" (system %s): "
                               "reading the record",
                               expr, FHIR_CONSENT_ACTION_SYSTEM);
        }
        i++;
    }
    out->actions = FHIR_CONSENT_ACTION_READ;
    m = fc_get(prov, "purpose");
    if (!fc_object_array(m) || cJSON_GetArraySize(m) != 1)
        return fc_fail(e, "Consent.provision.purpose",
                       "Consent.provision.purpose must hold exactly one purpose of use (system "
                       "%s): a grant has one purpose, so submit one Consent per purpose",
                       FHIR_CONSENT_REASON_SYSTEM);
    c = m->child;
    if (!fc_str_is(fc_get(c, "system"), FHIR_CONSENT_REASON_SYSTEM) ||
        fc_str(fc_get(c, "code"), FHIR_CONSENT_PURPOSE_MAX) == NULL ||
        !policy_purpose_known(p, fc_get(c, "code")->valuestring))
        return fc_fail(e, "Consent.provision.purpose[0]",
                       "Consent.provision.purpose[0] must have system %s and a purpose of use "
                       "this service's policy knows, such as \"TREAT\"",
                       FHIR_CONSENT_REASON_SYSTEM);
    snprintf(out->purpose, sizeof(out->purpose), "%s", fc_get(c, "code")->valuestring);
    m = fc_get(prov, "class");
    if (!fc_object_array(m) || cJSON_GetArraySize(m) > FHIR_CONSENT_MAX_DATATYPES)
        return fc_fail(e, "Consent.provision.class",
                       "Consent.provision.class must hold 1 to %d data categories (system %s)",
                       FHIR_CONSENT_MAX_DATATYPES, FHIR_CONSENT_CATEGORY_SYSTEM);
    k = 0;
    cJSON_ArrayForEach(c, m)
    {
        snprintf(expr, sizeof(expr), "Consent.provision.class[%zu]", k);
        if (!fc_str_is(fc_get(c, "system"), FHIR_CONSENT_CATEGORY_SYSTEM) ||
            fc_str(fc_get(c, "code"), FHIR_CONSENT_NAME_MAX) == NULL ||
            !policy_category_known(p, fc_get(c, "code")->valuestring)) {
            policy_category_list(p, list, sizeof(list));
            return fc_fail(e, expr, "%s must have system %s and a data category: one of %s", expr,
                           FHIR_CONSENT_CATEGORY_SYSTEM, list);
        }
        for (j = 0; j < k; j++)
            if (strcmp(out->datatypes[j], fc_get(c, "code")->valuestring) == 0)
                return fc_fail(e, expr, "%s repeats the category \"%s\"", expr, out->datatypes[j]);
        snprintf(out->datatypes[k], sizeof(out->datatypes[k]), "%s",
                 fc_get(c, "code")->valuestring);
        k++;
    }
    out->ndatatypes = k;
    return ERR_OK;
}

/* fc_find_modifier finds a modifierExtension anywhere below m (at path); writes its path. */
static bool
fc_find_modifier(const cJSON *m, const char *path, char found[static FC_PATH_MAX])
{
    char sub[FC_PATH_MAX];
    const cJSON *c;
    size_t i = 0;

    cJSON_ArrayForEach(c, m)
    {
        if (cJSON_IsArray(m))
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i++);
        else
            snprintf(sub, sizeof(sub), "%s.%.64s", path, c->string);
        if (cJSON_IsObject(m) && strcmp(c->string, "modifierExtension") == 0) {
            snprintf(found, FC_PATH_MAX, "%s", sub);
            return true;
        }
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && fc_find_modifier(c, sub, found))
            return true;
    }
    return false;
}

enum err
fhir_consent_from_resource(const cJSON *resource, const struct policy *p,
                           struct fhir_consent_grant *out, char *diagnostics, size_t cap,
                           char *expression, size_t ecap)
{
    struct fc_err e = {diagnostics, cap, expression, ecap};
    char found[FC_PATH_MAX];
    const cJSON *m, *rule;
    bool optin = false, optout = false;
    const char *v;
    enum err rc;

    memset(out, 0, sizeof(*out));
    if (diagnostics != NULL && cap > 0)
        diagnostics[0] = '\0';
    if (expression != NULL && ecap > 0)
        expression[0] = '\0';
    if (!cJSON_IsObject(resource) || !fc_str_is(fc_get(resource, "resourceType"), "Consent")) {
        rc = fc_fail(&e, "Consent", "the resource must be a Consent (resourceType \"Consent\")");
        goto out;
    }
    rc = fc_members(&e, resource, "Consent", fc_consent_elements, FC_COUNT(fc_consent_elements),
                    NULL, 0);
    if (rc != ERR_OK)
        goto out;
    if (fc_find_modifier(resource, "Consent", found)) {
        rc = fc_fail(&e, found,
                     "%s is not understood here, and a Consent that carries it cannot be "
                     "accepted",
                     found);
        goto out;
    }
    m = fc_get(resource, "status");
    if (!fc_str_is(m, "active")) {
        rc = fc_fail(&e, "Consent.status",
                     "Consent.status must be \"active\": a consent taken on paper is in force "
                     "once recorded");
        goto out;
    }
    if (!fc_concept_has(fc_get(resource, "scope"), FHIR_CONSENT_SCOPE_SYSTEM, "patient-privacy")) {
        rc = fc_fail(&e, "Consent.scope",
                     "Consent.scope must have a coding with system %s and code "
                     "\"patient-privacy\": consentd records who may see a person's records",
                     FHIR_CONSENT_SCOPE_SYSTEM);
        goto out;
    }
    if (!fc_object_array(fc_get(resource, "category"))) {
        rc = fc_fail(&e, "Consent.category",
                     "Consent.category is required in R4: send LOINC %s (Patient Consent)",
                     FHIR_CONSENT_LOINC_CONSENT);
        goto out;
    }
    m = fc_get(fc_get(resource, "patient"), "identifier");
    v = fc_str(fc_get(m, "value"), NHS_LEN);
    if (!fc_str_is(fc_get(m, "system"), FHIR_CONSENT_NHS_SYSTEM) || v == NULL || !nhs_valid(v)) {
        rc = fc_fail(&e, "Consent.patient.identifier",
                     "Consent.patient.identifier must have system %s and a valid NHS number "
                     "(ten digits with a correct check digit) as its value",
                     FHIR_CONSENT_NHS_SYSTEM);
        goto out;
    }
    snprintf(out->nhs, sizeof(out->nhs), "%s", v);
    m = fc_get(resource, "dateTime");
    if (m != NULL) {
        rc = fc_time_in(&e, m, "Consent.dateTime", out->recorded);
        if (rc != ERR_OK)
            goto out;
    }
    rule = fc_get(resource, "policyRule");
    m = fc_get(resource, "policy");
    if (!cJSON_IsObject(rule) && !fc_object_array(m)) {
        rc = fc_fail(&e, "Consent.policyRule",
                     "a Consent must have a policy or a policyRule (R4 invariant ppc-1): send "
                     "policyRule with system %s and code \"OPTIN\" (permit) or \"OPTOUT\" (deny)",
                     FHIR_CONSENT_ACTCODE_SYSTEM);
        goto out;
    }
    optin = fc_concept_has(rule, FHIR_CONSENT_ACTCODE_SYSTEM, "OPTIN");
    optout = fc_concept_has(rule, FHIR_CONSENT_ACTCODE_SYSTEM, "OPTOUT");
    m = fc_get(resource, "provision");
    if (!cJSON_IsObject(m)) {
        rc = fc_fail(&e, "Consent.provision",
                     "Consent.provision is required: its type, period, actor, action, purpose "
                     "and class are the grant");
        goto out;
    }
    rc = fc_provision_in(&e, m, p, out);
    if (rc != ERR_OK)
        goto out;
    if ((optin && out->effect != FHIR_CONSENT_PERMIT) ||
        (optout && out->effect != FHIR_CONSENT_DENY)) {
        rc = fc_fail(&e, "Consent.policyRule",
                     "Consent.policyRule (%s) contradicts Consent.provision.type (%s): OPTIN goes "
                     "with permit, OPTOUT with deny",
                     optin ? "OPTIN" : "OPTOUT",
                     out->effect == FHIR_CONSENT_PERMIT ? "permit" : "deny");
        goto out;
    }
    out->state = FHIR_CONSENT_STATE_ACTIVE;
    out->source = FHIR_CONSENT_SOURCE_PAPER;
    rc = ERR_OK;
out:
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- checking against R4 ---- */

struct fc_check {
    char *why;
    size_t cap;
};

static enum err fc_bad(struct fc_check *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum err
fc_bad(struct fc_check *k, const char *fmt, ...)
{
    va_list ap;

    if (k->why != NULL && k->cap > 0) {
        va_start(ap, fmt);
        vsnprintf(k->why, k->cap, fmt, ap);
        va_end(ap);
    }
    return ERR_INVAL;
}

/* fc_is_value_x is true for a member name that is an extension's value[x]. */
static bool
fc_is_value_x(const char *name)
{
    return strncmp(name, "value", 5) == 0 && name[5] >= 'A' && name[5] <= 'Z';
}

/* fc_check_tree checks ele-1 (nothing empty, no null) and ext-1 everywhere below m. */
static enum err
fc_check_tree(struct fc_check *k, const cJSON *m, const char *path)
{
    char sub[FC_PATH_MAX];
    const cJSON *c, *x;
    size_t i = 0;
    int nvalue;
    enum err rc;

    if (cJSON_IsNull(m))
        return fc_bad(k, "ele-1: %s is null", path);
    if (cJSON_IsString(m) && m->valuestring[0] == '\0')
        return fc_bad(k, "ele-1: %s is an empty string", path);
    if (!cJSON_IsObject(m) && !cJSON_IsArray(m))
        return ERR_OK;
    if (m->child == NULL)
        return fc_bad(k, "ele-1: %s is empty", path);
    cJSON_ArrayForEach(c, m)
    {
        if (cJSON_IsArray(m))
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i++);
        else
            snprintf(sub, sizeof(sub), "%s.%.64s", path, c->string);
        if (cJSON_IsObject(m) &&
            (strcmp(c->string, "extension") == 0 || strcmp(c->string, "modifierExtension") == 0)) {
            if (!cJSON_IsArray(c))
                return fc_bad(k, "%s must be an array", sub);
            cJSON_ArrayForEach(x, c)
            {
                const cJSON *y;

                if (fc_str(fc_get(x, "url"), SIZE_MAX) == NULL)
                    return fc_bad(k, "%s: every extension needs a url", sub);
                nvalue = 0;
                cJSON_ArrayForEach(y, x)
                {
                    if (fc_is_value_x(y->string))
                        nvalue++;
                }
                if (nvalue > 1 || (nvalue == 1) == (fc_get(x, "extension") != NULL))
                    return fc_bad(k,
                                  "ext-1: an extension in %s must have a value[x] or "
                                  "extensions, not both",
                                  sub);
            }
        }
        rc = fc_check_tree(k, c, sub);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static bool
fc_fhir_id_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > FHIR_CONSENT_ID_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!fc_id_plain((unsigned char)s[i]) && s[i] != '.')
            return false;
    return true;
}

static bool
fc_code_valid(const cJSON *m)
{
    const char *s;
    size_t n;

    if (!cJSON_IsString(m))
        return false;
    s = m->valuestring;
    n = strlen(s);
    /* FHIR code: [^\s]+( [^\s]+)* */
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || strstr(s, "  ") != NULL)
        return false;
    for (; *s != '\0'; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r')
            return false;
    return true;
}

static enum err
fc_check_datetime(struct fc_check *k, const cJSON *m, const char *path)
{
    struct fc_time t;

    if (m == NULL)
        return ERR_OK;
    if (!cJSON_IsString(m) || !fc_time_read(m->valuestring, FC_TIME_FHIR, &t))
        return fc_bad(k, "%s is not a FHIR dateTime", path);
    return ERR_OK;
}

/* fc_check_codings checks each Coding of array a at path: a code, and a system with it. */
static enum err
fc_check_codings(struct fc_check *k, const cJSON *a, const char *path)
{
    const cJSON *c;
    size_t i = 0;

    if (a == NULL)
        return ERR_OK;
    if (!cJSON_IsArray(a))
        return fc_bad(k, "%s must be an array", path);
    cJSON_ArrayForEach(c, a)
    {
        if (!cJSON_IsObject(c) || !fc_code_valid(fc_get(c, "code")) ||
            fc_str(fc_get(c, "system"), SIZE_MAX) == NULL)
            return fc_bad(k, "%s[%zu] must be a Coding with a system and a code", path, i);
        i++;
    }
    return ERR_OK;
}

/* fc_check_concept checks CodeableConcept cc at path: a coding or a text. */
static enum err
fc_check_concept(struct fc_check *k, const cJSON *cc, const char *path)
{
    char sub[FC_PATH_MAX];

    if (!cJSON_IsObject(cc) || (fc_get(cc, "coding") == NULL && fc_get(cc, "text") == NULL))
        return fc_bad(k, "%s must be a CodeableConcept with a coding or a text", path);
    snprintf(sub, sizeof(sub), "%s.coding", path);
    return fc_check_codings(k, fc_get(cc, "coding"), sub);
}

static enum err
fc_check_provision(struct fc_check *k, const cJSON *prov, const char *path)
{
    char sub[FC_PATH_MAX];
    const cJSON *m, *a, *s, *e;
    struct fc_time ts, te;
    size_t i;
    enum err rc;

    if (!cJSON_IsObject(prov))
        return fc_bad(k, "%s must be an object", path);
    m = fc_get(prov, "type");
    if (m != NULL && !fc_str_is(m, "permit") && !fc_str_is(m, "deny"))
        return fc_bad(k, "%s.type must be \"deny\" or \"permit\"", path);
    m = fc_get(prov, "period");
    if (m != NULL) {
        s = fc_get(m, "start");
        e = fc_get(m, "end");
        snprintf(sub, sizeof(sub), "%s.period.start", path);
        rc = fc_check_datetime(k, s, sub);
        snprintf(sub, sizeof(sub), "%s.period.end", path);
        if (rc == ERR_OK)
            rc = fc_check_datetime(k, e, sub);
        if (rc != ERR_OK)
            return rc;
        /* per-1, compared at full precision (consentd writes only full date-times). */
        if (s != NULL && e != NULL && fc_time_read(s->valuestring, FC_TIME_FHIR, &ts) &&
            fc_time_read(e->valuestring, FC_TIME_FHIR, &te) && ts.precision == 4 &&
            te.precision == 4 && fc_time_seconds(&ts) > fc_time_seconds(&te))
            return fc_bad(k, "per-1: %s.period starts after it ends", path);
    }
    a = fc_get(prov, "actor");
    i = 0;
    cJSON_ArrayForEach(m, a)
    {
        snprintf(sub, sizeof(sub), "%s.actor[%zu].role", path, i);
        rc = fc_check_concept(k, fc_get(m, "role"), sub);
        if (rc != ERR_OK)
            return rc;
        if (!cJSON_IsObject(fc_get(m, "reference")))
            return fc_bad(k, "%s.actor[%zu].reference is required (1..1)", path, i);
        i++;
    }
    i = 0;
    a = fc_get(prov, "action");
    cJSON_ArrayForEach(m, a)
    {
        snprintf(sub, sizeof(sub), "%s.action[%zu]", path, i++);
        rc = fc_check_concept(k, m, sub);
        if (rc != ERR_OK)
            return rc;
    }
    snprintf(sub, sizeof(sub), "%s.purpose", path);
    rc = fc_check_codings(k, fc_get(prov, "purpose"), sub);
    snprintf(sub, sizeof(sub), "%s.class", path);
    if (rc == ERR_OK)
        rc = fc_check_codings(k, fc_get(prov, "class"), sub);
    if (rc != ERR_OK)
        return rc;
    i = 0;
    a = fc_get(prov, "provision");
    cJSON_ArrayForEach(m, a)
    {
        snprintf(sub, sizeof(sub), "%s.provision[%zu]", path, i++);
        rc = fc_check_provision(k, m, sub);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static enum err
fc_check_consent(struct fc_check *k, const cJSON *c)
{
    const cJSON *m, *scope, *cd, *text;
    size_t i;
    enum err rc;

    m = fc_get(c, "id");
    if (m != NULL && (!cJSON_IsString(m) || !fc_fhir_id_valid(m->valuestring)))
        return fc_bad(k, "Consent.id must be 1-64 of A-Z a-z 0-9 - .");
    text = fc_get(c, "text");
    if (text == NULL)
        return fc_bad(k, "dom-6: Consent.text (the narrative) is missing");
    if (!fc_str_is(fc_get(text, "status"), "generated") &&
        !fc_str_is(fc_get(text, "status"), "extensions") &&
        !fc_str_is(fc_get(text, "status"), "additional") &&
        !fc_str_is(fc_get(text, "status"), "empty"))
        return fc_bad(k, "Consent.text.status must be a NarrativeStatus code");
    m = fc_get(text, "div");
    if (!cJSON_IsString(m) || strncmp(m->valuestring, "<div", 4) != 0 ||
        strstr(m->valuestring, "xmlns=\"http://www.w3.org/1999/xhtml\"") == NULL)
        return fc_bad(k, "Consent.text.div must be an XHTML div in the XHTML namespace");
    m = fc_get(c, "status");
    if (!cJSON_IsString(m) ||
        !fc_in(m->valuestring, fc_consent_states, FC_COUNT(fc_consent_states)))
        return fc_bad(k, "Consent.status (1..1) must be a ConsentState code");
    scope = fc_get(c, "scope");
    rc = fc_check_concept(k, scope, "Consent.scope");
    if (rc != ERR_OK)
        return rc;
    m = fc_get(c, "category");
    if (!fc_object_array(m))
        return fc_bad(k, "Consent.category (1..*) is missing");
    i = 0;
    cJSON_ArrayForEach(cd, m)
    {
        char sub[FC_PATH_MAX];

        snprintf(sub, sizeof(sub), "Consent.category[%zu]", i++);
        rc = fc_check_concept(k, cd, sub);
        if (rc != ERR_OK)
            return rc;
    }
    if (fc_get(c, "policy") == NULL && fc_get(c, "policyRule") == NULL)
        return fc_bad(k, "ppc-1: a Consent must have a policy or a policyRule");
    if (fc_get(c, "patient") == NULL) {
        /* ppc-2..ppc-5, as meant (R4's expressions name a dummy system). */
        for (i = 0; i < FC_COUNT(fc_patient_scopes); i++)
            if (fc_concept_has(scope, FHIR_CONSENT_SCOPE_SYSTEM, fc_patient_scopes[i]))
                return fc_bad(k, "ppc-%zu: a Consent of scope %s must have a patient", i + 2,
                              fc_patient_scopes[i]);
    } else if (!cJSON_IsObject(fc_get(c, "patient"))) {
        return fc_bad(k, "Consent.patient must be a Reference");
    }
    rc = fc_check_datetime(k, fc_get(c, "dateTime"), "Consent.dateTime");
    if (rc != ERR_OK)
        return rc;
    if (fc_get(c, "policyRule") != NULL) {
        rc = fc_check_concept(k, fc_get(c, "policyRule"), "Consent.policyRule");
        if (rc != ERR_OK)
            return rc;
    }
    m = fc_get(c, "provision");
    if (m != NULL)
        return fc_check_provision(k, m, "Consent.provision");
    return ERR_OK;
}

static enum err
fc_check_bundle(struct fc_check *k, const cJSON *b)
{
    const cJSON *m, *e, *r, *f, *prev, *total, *entries;
    size_t i = 0, j;
    enum err rc;

    m = fc_get(b, "type");
    if (!cJSON_IsString(m) || !fc_in(m->valuestring, fc_bundle_types, FC_COUNT(fc_bundle_types)))
        return fc_bad(k, "Bundle.type (1..1) must be a BundleType code");
    if (fc_get(b, "total") != NULL && !(fc_str_is(m, "searchset") || fc_str_is(m, "history")))
        return fc_bad(k, "bdl-1: total only when a search or history");
    total = fc_get(b, "total");
    if (total != NULL && (!cJSON_IsNumber(total) || total->valuedouble < 0))
        return fc_bad(k, "Bundle.total must be an unsignedInt");
    entries = fc_get(b, "entry");
    cJSON_ArrayForEach(e, entries)
    {
        r = fc_get(e, "resource");
        if (r == NULL && fc_get(e, "request") == NULL && fc_get(e, "response") == NULL)
            return fc_bad(k, "bdl-5: Bundle.entry[%zu] has no resource, request or response", i);
        f = fc_get(e, "fullUrl");
        if (f != NULL) {
            if (!cJSON_IsString(f))
                return fc_bad(k, "Bundle.entry[%zu].fullUrl must be a uri", i);
            j = 0;
            cJSON_ArrayForEach(prev, entries)
            {
                if (j++ == i)
                    break;
                if (fc_str_is(fc_get(prev, "fullUrl"), f->valuestring))
                    return fc_bad(k, "bdl-7: Bundle.entry[%zu].fullUrl repeats an earlier one", i);
            }
        }
        if (fc_get(e, "search") != NULL && !fc_str_is(fc_get(b, "type"), "searchset"))
            return fc_bad(k, "bdl-2: entry.search only when a search");
        if (fc_str_is(fc_get(r, "resourceType"), "Consent")) {
            rc = fc_check_consent(k, r);
            if (rc != ERR_OK)
                return rc;
        }
        i++;
    }
    return ERR_OK;
}

enum err
fhir_consent_check(const cJSON *resource, char *why, size_t cap)
{
    struct fc_check k = {why, cap};
    const cJSON *rt;
    enum err rc;

    if (why != NULL && cap > 0)
        why[0] = '\0';
    rt = fc_get(resource, "resourceType");
    if (fc_str_is(rt, "Consent") || fc_str_is(rt, "Bundle")) {
        rc = fc_check_tree(&k, resource, rt->valuestring);
        if (rc != ERR_OK)
            return rc;
        return fc_str_is(rt, "Consent") ? fc_check_consent(&k, resource)
                                        : fc_check_bundle(&k, resource);
    }
    return fc_bad(&k, "the resource is not a Consent or a Bundle");
}
