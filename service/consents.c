/*
 * consents: grants, denials, revocations and delegations, derived from "consent",
 * "consent.revoke" and "delegation" entries, and what a decision reads from them. Every check
 * reads only the state and the log before the entry, at the entry's own time, so the sequencer
 * and a replay reach the same answer. Nothing here logs.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/b64.h"
#include "consentd/clients.h"
#include "consentd/consents.h"
#include "consentd/ecache.h"
#include "consentd/hash.h"
#include "consentd/jstrict.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/tlog.h"
#include "consentd/xmalloc.h"

#define CONSENTS_GRANT_REC    35 /* 'g' ‖ index ‖ revoke index ‖ revoked at ‖ sub */
#define CONSENTS_OTHER_REC    9  /* 'r' or 'd' ‖ index */
#define CONSENTS_DKEY         29 /* person ‖ '>' ‖ delegate ‖ index */
#define CONSENTS_DVAL         16 /* start ‖ end */
#define CONSENTS_MAX_PARALLEL 64
#define CONSENTS_TIME_MAX                                                                          \
    INT64_C(253402300799)                                                                          \
    /* 9999-12-31T23:59:59Z */ /* active delegations from one person to one delegate read */

/* --- time --- */

/* consents_days_from_civil counts days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
consents_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool
consents_digits(const char *s, size_t n, unsigned *v)
{
    size_t i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

enum err
consents_time_parse(const char *s, int64_t *t)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, se;
    bool leap;

    *t = 0;
    if (s == NULL || strlen(s) != CONSENTS_TIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return ERR_INVAL;
    if (!consents_digits(s, 4, &y) || !consents_digits(s + 5, 2, &mo) ||
        !consents_digits(s + 8, 2, &d) || !consents_digits(s + 11, 2, &h) ||
        !consents_digits(s + 14, 2, &mi) || !consents_digits(s + 17, 2, &se))
        return ERR_INVAL;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 59)
        return ERR_INVAL;
    *t = consents_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return ERR_OK;
}

void
consents_time_format(int64_t t, char out[static CONSENTS_TIME_LEN + 1])
{
    time_t tt = (time_t)(t < 0 ? 0 : t > CONSENTS_TIME_MAX ? CONSENTS_TIME_MAX : t);
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, CONSENTS_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- names --- */

bool
consents_jti_valid(const char *jti)
{
    size_t n = jti == NULL ? 0 : strlen(jti), i;

    if (n == 0 || n > CONSENTS_JTI_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((jti[i] >= 'A' && jti[i] <= 'Z') || (jti[i] >= 'a' && jti[i] <= 'z') ||
              (jti[i] >= '0' && jti[i] <= '9') || jti[i] == '.' || jti[i] == '_' || jti[i] == '-'))
            return false;
    return true;
}

/* consents_name_ok: a category, organisation type or relationship: 1..64 of a-z 0-9 -. */
static bool
consents_name_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > CONSENTS_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* consents_purpose_ok: a PurposeOfUse code, 2..16 of A-Z. */
static bool
consents_purpose_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 2 || n > CONSENTS_PURPOSE_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

static bool
consents_ods_ok(const char *s)
{
    return strlen(s) <= CONSENTS_ODS_MAX && state_ods_valid(s);
}

const char *
consents_refusal_name(enum consents_refusal r)
{
    switch (r) {
    case CONSENTS_OK:
        return "";
    case CONSENTS_MALFORMED:
        return "invalid-jws";
    case CONSENTS_BAD_PERIOD:
        return "invalid-period";
    case CONSENTS_SIGNER_UNKNOWN:
        return "signer-not-enrolled";
    case CONSENTS_BAD_SIGNATURE:
        return "bad-signature";
    case CONSENTS_NOT_DELEGATED:
        return "not-delegated";
    case CONSENTS_BEYOND_RIGHTS:
        return "beyond-delegated-rights";
    case CONSENTS_JTI_REUSED:
        return "jti-reused";
    case CONSENTS_GRANT_UNKNOWN:
        return "unknown-grant";
    case CONSENTS_OTHER_PERSON:
        return "not-the-persons-grant";
    case CONSENTS_ALREADY_REVOKED:
        return "already-revoked";
    case CONSENTS_SELF_DELEGATION:
        return "self-delegation";
    case CONSENTS_DELEGATION_LOOP:
        return "delegation-loop";
    case CONSENTS_DELEGATE_UNKNOWN:
        return "delegate-not-enrolled";
    case CONSENTS_PATIENT_UNKNOWN:
        return "patient-not-enrolled";
    case CONSENTS_NOT_ENROLLER:
        return "not-an-enroller";
    }
    return "refused";
}

const char *
consents_status_name(enum consents_status s)
{
    switch (s) {
    case CONSENTS_ACTIVE:
        return "active";
    case CONSENTS_PENDING:
        return "pending";
    case CONSENTS_EXPIRED:
        return "expired";
    case CONSENTS_REVOKED:
        return "revoked";
    }
    return "unknown";
}

enum consents_status
consents_status(const struct consents_record *rec, int64_t now)
{
    if (rec->revoked)
        return CONSENTS_REVOKED;
    if (now < rec->g.start)
        return CONSENTS_PENDING;
    if (now >= rec->g.end)
        return CONSENTS_EXPIRED;
    return CONSENTS_ACTIVE;
}

/* --- parsing --- */

/* consents_refuse sets the refusal and its sentence and returns rc. */
static enum err consents_refuse(enum err rc, enum consents_refusal code,
                                enum consents_refusal *why_code, char why[static STATE_WHY_MAX],
                                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum err
consents_refuse(enum err rc, enum consents_refusal code, enum consents_refusal *why_code,
                char why[static STATE_WHY_MAX], const char *fmt, ...)
{
    va_list ap;

    *why_code = code;
    va_start(ap, fmt);
    vsnprintf(why, STATE_WHY_MAX, fmt, ap);
    va_end(ap);
    return rc;
}

/* consents_only checks that o's members are all in allowed[0..n); false names the first other. */
static bool
consents_only(const cJSON *o, const char *const *allowed, size_t n, const char **bad)
{
    const cJSON *m;
    size_t i;

    cJSON_ArrayForEach(m, o)
    {
        for (i = 0; i < n; i++)
            if (strcmp(m->string, allowed[i]) == 0)
                break;
        if (i == n) {
            *bad = m->string;
            return false;
        }
    }
    return true;
}

/* consents_str reads a string member; NULL if absent or not a string. */
static const char *
consents_str(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* consents_int reads an integral number member of 0..2^53 into *v. */
static bool
consents_int(const cJSON *o, const char *name, int64_t *v)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    *v = 0;
    if (!cJSON_IsNumber(m) || m->valuedouble < 0 || m->valuedouble > 9007199254740992.0 ||
        m->valuedouble != (double)(int64_t)m->valuedouble)
        return false;
    *v = (int64_t)m->valuedouble;
    return true;
}

/*
 * consents_names reads an array of distinct strings that pass ok, each at most width - 1
 * bytes, 1..CONSENTS_MAX_NAMES of them, into out (rows of width bytes); or "*" when star is
 * not NULL (then *star is set and *n is 0). Returns false if it is anything else.
 */
static bool
consents_names(const cJSON *a, bool (*ok)(const char *), char *out, size_t width, unsigned *n,
               bool *star)
{
    const cJSON *m;
    unsigned i;

    *n = 0;
    if (star != NULL) {
        *star = false;
        if (cJSON_IsString(a) && strcmp(a->valuestring, "*") == 0) {
            *star = true;
            return true;
        }
    }
    if (!cJSON_IsArray(a) || a->child == NULL)
        return false;
    cJSON_ArrayForEach(m, a)
    {
        if (*n == CONSENTS_MAX_NAMES || !cJSON_IsString(m) || strlen(m->valuestring) >= width ||
            !ok(m->valuestring))
            return false;
        for (i = 0; i < *n; i++)
            if (strcmp(out + i * width, m->valuestring) == 0)
                return false;
        memcpy(out + *n * width, m->valuestring, strlen(m->valuestring) + 1);
        (*n)++;
    }
    return true;
}

/* consents_period reads {"start","end"} (exactly) into *start and *end. */
static enum err
consents_period(const cJSON *p, int64_t *start, int64_t *end, enum consents_refusal *why_code,
                char why[static STATE_WHY_MAX])
{
    static const char *const members[] = {"start", "end"};
    const char *bad;

    if (!cJSON_IsObject(p) || !consents_only(p, members, 2, &bad) ||
        consents_time_parse(consents_str(p, "start"), start) != ERR_OK ||
        consents_time_parse(consents_str(p, "end"), end) != ERR_OK)
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"period\" must be exactly {\"start\",\"end\"}, each an RFC 3339 "
                               "UTC time to the second (\"2026-11-23T00:00:00Z\")");
    if (*end <= *start)
        return consents_refuse(ERR_INVAL, CONSENTS_BAD_PERIOD, why_code, why,
                               "the period ends before it starts (or when it starts): \"end\" "
                               "must be after \"start\"");
    return ERR_OK;
}

/*
 * consents_decode decodes a compact JWS without verifying it and checks its header: exactly
 * alg, typ (which must be typ) and kid. p is filled on ERR_OK (the caller clears it).
 */
static enum err
consents_decode(const char *jws, size_t len, const char *typ, struct jws_parts *p,
                char kid[static CONSENTS_JTI_MAX + 1], enum consents_refusal *why_code,
                char why[static STATE_WHY_MAX])
{
    static const char *const members[] = {"alg", "typ", "kid"};
    const char *jwhy = NULL, *bad = NULL, *t, *k;
    enum err rc;

    memset(p, 0, sizeof(*p));
    kid[0] = '\0';
    if (jws == NULL || len == 0 || len > JWS_MAX_LEN)
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"jws\" must be a compact JWS of at most %d bytes", JWS_MAX_LEN);
    rc = jws_decode(jws, len, p, &jwhy);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != ERR_OK)
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"jws\" is not a valid EdDSA JWS: %s",
                               jwhy != NULL ? jwhy : err_str(rc));
    t = consents_str(p->header, "typ");
    k = consents_str(p->header, "kid");
    if (!consents_only(p->header, members, 3, &bad)) {
        rc = consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                             "the JWS header may hold only alg, typ and kid, not \"%.32s\"", bad);
        goto fail;
    }
    if (t == NULL || strcmp(t, typ) != 0) {
        rc = consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                             "the JWS header's \"typ\" must be \"%s\"", typ);
        goto fail;
    }
    if (k == NULL || k[0] == '\0' || strlen(k) > CONSENTS_JTI_MAX) {
        rc = consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                             "the JWS header needs \"kid\": the signer's key id");
        goto fail;
    }
    memcpy(kid, k, strlen(k) + 1);
    return ERR_OK;
fail:
    jws_parts_clear(p);
    return rc;
}

/* consents_people reads "iss" and "sub" (NHS numbers) and "jti" of a payload. */
static enum err
consents_people(const cJSON *pl, char iss[static NHS_LEN + 1], char sub[static NHS_LEN + 1],
                char jti[static CONSENTS_JTI_MAX + 1], enum consents_refusal *why_code,
                char why[static STATE_WHY_MAX])
{
    const char *i = consents_str(pl, "iss"), *s = consents_str(pl, "sub"),
               *j = consents_str(pl, "jti");

    if (i == NULL || !nhs_valid(i) || s == NULL || !nhs_valid(s))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"iss\" and \"sub\" must be NHS numbers: ten digits with a valid "
                               "Modulus 11 check digit");
    if (j == NULL || !consents_jti_valid(j))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"jti\" must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' "
                               "and '-'",
                               CONSENTS_JTI_MAX);
    memcpy(iss, i, NHS_LEN + 1);
    memcpy(sub, s, NHS_LEN + 1);
    memcpy(jti, j, strlen(j) + 1);
    return ERR_OK;
}

static bool
consents_read_ok(const char *s)
{
    return strcmp(s, "read") == 0;
}

/*
 * consents_grant_payload reads a grant's payload into *g: a signed grant's, or (paper true) the
 * "paper" object of a grant taken on paper, which has neither iss nor iat (iss is then sub).
 */
static enum err
consents_grant_payload(const cJSON *pl, bool paper, struct consents_grant *g,
                       enum consents_refusal *why_code, char why[static STATE_WHY_MAX])
{
    /* A paper grant's members are these without the first two. */
    static const char *const members[] = {"iss",     "iat",     "sub",       "jti",     "effect",
                                          "grantee", "purpose", "datatypes", "actions", "period"};
    char acts[CONSENTS_MAX_NAMES][CONSENTS_NAME_MAX + 1];
    size_t skip = paper ? 2 : 0;
    const cJSON *gr;
    const char *bad = NULL, *s, *o, *r;
    unsigned nacts;
    enum err rc;

    memset(g, 0, sizeof(*g));
    if (paper && !cJSON_IsObject(pl))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"paper\" must be an object: the grant taken on paper");
    if (!consents_only(pl, members + skip, sizeof(members) / sizeof(members[0]) - skip, &bad))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "a grant's %s may not hold \"%.32s\"; it has exactly %ssub, jti, "
                               "effect, grantee, purpose, datatypes, actions and period",
                               paper ? "paper form" : "payload", bad, paper ? "" : "iss, iat, ");
    if (paper) {
        s = consents_str(pl, "sub");
        o = consents_str(pl, "jti");
        if (s == NULL || !nhs_valid(s))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "\"sub\" must be an NHS number: ten digits with a valid "
                                   "Modulus 11 check digit");
        if (o == NULL || !consents_jti_valid(o))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "\"jti\" must be 1 to %d characters of A-Z, a-z, 0-9, '.', "
                                   "'_' and '-'",
                                   CONSENTS_JTI_MAX);
        memcpy(g->sub, s, NHS_LEN + 1);
        memcpy(g->iss, s, NHS_LEN + 1);
        memcpy(g->jti, o, strlen(o) + 1);
    } else {
        rc = consents_people(pl, g->iss, g->sub, g->jti, why_code, why);
        if (rc != ERR_OK)
            return rc;
        if (!consents_int(pl, "iat", &g->iat))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "\"iat\" must be the time the grant was signed, in whole "
                                   "seconds");
    }
    s = consents_str(pl, "effect");
    if (s != NULL && strcmp(s, "permit") == 0)
        g->effect = CONSENT_PERMIT;
    else if (s != NULL && strcmp(s, "deny") == 0)
        g->effect = CONSENT_DENY;
    else
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"effect\" must be \"permit\" or \"deny\"");
    gr = cJSON_GetObjectItemCaseSensitive(pl, "grantee");
    o = consents_str(gr, "org");
    r = consents_str(gr, "role");
    if (cJSON_IsString(gr) && strcmp(gr->valuestring, "*") == 0) {
        g->grantee = CONSENT_GRANTEE_ANY;
    } else if (cJSON_IsObject(gr) && cJSON_GetArraySize(gr) == 1 && o != NULL &&
               consents_ods_ok(o)) {
        g->grantee = CONSENT_GRANTEE_ORG;
        memcpy(g->grantee_value, o, strlen(o) + 1);
    } else if (cJSON_IsObject(gr) && cJSON_GetArraySize(gr) == 1 && r != NULL &&
               consents_name_ok(r)) {
        g->grantee = CONSENT_GRANTEE_ROLE;
        memcpy(g->grantee_value, r, strlen(r) + 1);
    } else {
        return consents_refuse(
            ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
            "\"grantee\" must be {\"org\":\"<ODS code>\"}, {\"role\":\"<organisation "
            "type>\"} or \"*\"");
    }
    s = consents_str(pl, "purpose");
    if (s == NULL || !consents_purpose_ok(s))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"purpose\" must be a PurposeOfUse code such as \"TREAT\"");
    memcpy(g->purpose, s, strlen(s) + 1);
    if (!consents_names(cJSON_GetObjectItemCaseSensitive(pl, "datatypes"), consents_name_ok,
                        &g->datatypes[0][0], CONSENTS_NAME_MAX + 1, &g->ndatatypes, NULL))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"datatypes\" must be 1 to %d distinct data category names",
                               CONSENTS_MAX_NAMES);
    if (!consents_names(cJSON_GetObjectItemCaseSensitive(pl, "actions"), consents_read_ok,
                        &acts[0][0], CONSENTS_NAME_MAX + 1, &nacts, NULL))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"actions\" must be [\"read\"]");
    g->actions = CONSENT_ACTION_READ;
    return consents_period(cJSON_GetObjectItemCaseSensitive(pl, "period"), &g->start, &g->end,
                           why_code, why);
}

enum err
consents_grant_parse(const char *jws, size_t len, struct consents_grant *out,
                     enum consents_refusal *why_code, char why[static STATE_WHY_MAX])
{
    char kid[CONSENTS_JTI_MAX + 1];
    struct jws_parts p;
    enum err rc;

    memset(out, 0, sizeof(*out));
    *why_code = CONSENTS_OK;
    rc = consents_decode(jws, len, CONSENTS_TYP_GRANT, &p, kid, why_code, why);
    if (rc != ERR_OK)
        return rc;
    rc = consents_grant_payload(p.payload, false, out, why_code, why);
    jws_parts_clear(&p);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/*
 * consents_verify checks that jws is signed by iss's current key, named by kid. p is the
 * decoded JWS, cleared and refilled by the verification.
 */
static enum err
consents_verify(struct store_txn *t, const char *jws, size_t len, const char *iss, const char *kid,
                const char *who, enum consents_refusal *why_code, char why[static STATE_WHY_MAX])
{
    struct patients_patient signer;
    struct jws_parts v;
    enum err rc;

    rc = patients_get(t, iss, &signer);
    if (rc == ERR_NOTFOUND)
        return consents_refuse(ERR_INVAL, CONSENTS_SIGNER_UNKNOWN, why_code, why,
                               "the %s is not enrolled: only an enrolled person's key can sign",
                               who);
    if (rc != ERR_OK)
        return rc;
    if (strcmp(kid, signer.kid) != 0)
        return consents_refuse(ERR_BADSIG, CONSENTS_BAD_SIGNATURE, why_code, why,
                               "the JWS \"kid\" is not the %s's current key: sign with the key "
                               "enrolled now",
                               who);
    rc = jws_verify(jws, len, signer.pk, &v, NULL);
    jws_parts_clear(&v);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != ERR_OK)
        return consents_refuse(ERR_BADSIG, CONSENTS_BAD_SIGNATURE, why_code, why,
                               "the signature does not verify with the %s's current key", who);
    return ERR_OK;
}

/* consents_jti_new refuses a jti already used by a grant, revocation or delegation. */
static enum err
consents_jti_new(struct store_txn *t, const char *jti, enum consents_refusal *why_code,
                 char why[static STATE_WHY_MAX])
{
    const void *val;
    size_t len;
    enum err rc;

    rc = store_get(t, STORE_CONSENTS, jti, strlen(jti), &val, &len);
    if (rc == ERR_NOTFOUND)
        return ERR_OK;
    if (rc != ERR_OK)
        return rc;
    return consents_refuse(ERR_CONFLICT, CONSENTS_JTI_REUSED, why_code, why,
                           "this \"jti\" is already used by an earlier grant, revocation or "
                           "delegation: make a new one for each");
}

/* --- delegations --- */

static bool
consents_right_ok(const char *s)
{
    return strcmp(s, "grant") == 0 || strcmp(s, "deny") == 0 || strcmp(s, "revoke") == 0;
}

enum err
consents_rights_parse(const cJSON *rights, struct consents_rights *out,
                      char why[static STATE_WHY_MAX])
{
    static const char *const members[] = {"purposes", "datatypes", "actions"};
    char acts[CONSENTS_MAX_NAMES][CONSENTS_NAME_MAX + 1];
    const char *bad = NULL;
    unsigned n, i;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(rights) || !consents_only(rights, members, 3, &bad)) {
        snprintf(why, STATE_WHY_MAX,
                 "\"rights\" must be exactly {\"purposes\", \"datatypes\", \"actions\"}");
        return ERR_INVAL;
    }
    if (!consents_names(cJSON_GetObjectItemCaseSensitive(rights, "purposes"), consents_purpose_ok,
                        &out->purposes[0][0], CONSENTS_PURPOSE_MAX + 1, &out->npurposes,
                        &out->any_purpose)) {
        snprintf(why, STATE_WHY_MAX,
                 "\"rights\".\"purposes\" must be \"*\" or 1 to %d distinct PurposeOfUse codes",
                 CONSENTS_MAX_NAMES);
        return ERR_INVAL;
    }
    if (!consents_names(cJSON_GetObjectItemCaseSensitive(rights, "datatypes"), consents_name_ok,
                        &out->datatypes[0][0], CONSENTS_NAME_MAX + 1, &out->ndatatypes,
                        &out->any_datatype)) {
        snprintf(why, STATE_WHY_MAX,
                 "\"rights\".\"datatypes\" must be \"*\" or 1 to %d distinct data categories",
                 CONSENTS_MAX_NAMES);
        return ERR_INVAL;
    }
    if (!consents_names(cJSON_GetObjectItemCaseSensitive(rights, "actions"), consents_right_ok,
                        &acts[0][0], CONSENTS_NAME_MAX + 1, &n, NULL)) {
        snprintf(why, STATE_WHY_MAX,
                 "\"rights\".\"actions\" must list distinct actions of \"grant\", \"deny\" and "
                 "\"revoke\"");
        return ERR_INVAL;
    }
    for (i = 0; i < n; i++)
        out->actions |= strcmp(acts[i], "grant") == 0  ? CONSENTS_RIGHT_GRANT
                        : strcmp(acts[i], "deny") == 0 ? CONSENTS_RIGHT_DENY
                                                       : CONSENTS_RIGHT_REVOKE;
    return ERR_OK;
}

/*
 * consents_delegation_obj reads a delegation from o: a person-signed payload (signed true) or
 * an administrator's entry. at is the time an open period starts.
 */
static enum err
consents_delegation_obj(const cJSON *o, bool signed_form, int64_t at, struct consents_delegation *d,
                        enum consents_refusal *why_code, char why[static STATE_WHY_MAX])
{
    static const char *const sig_members[] = {"iss",      "sub",    "jti",          "iat",
                                              "delegate", "rights", "relationship", "period"};
    static const char *const adm_members[] = {"v",      "type",         "time",   "nhs", "delegate",
                                              "rights", "relationship", "reason", "by",  "period"};
    char iss[NHS_LEN + 1], rwhy[STATE_WHY_MAX];
    const char *bad = NULL, *s;
    const cJSON *period;
    int64_t iat;
    enum err rc;

    memset(d, 0, sizeof(*d));
    if (signed_form) {
        if (!consents_only(o, sig_members, sizeof(sig_members) / sizeof(sig_members[0]), &bad))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "a delegation's payload may not hold \"%.32s\"", bad);
        rc = consents_people(o, iss, d->nhs, d->jti, why_code, why);
        if (rc != ERR_OK)
            return rc;
        if (strcmp(iss, d->nhs) != 0)
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "a delegation is signed by the person themself: \"iss\" "
                                   "must be \"sub\"");
        if (cJSON_GetObjectItemCaseSensitive(o, "iat") != NULL && !consents_int(o, "iat", &iat))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "\"iat\" must be whole seconds");
    } else {
        if (!consents_only(o, adm_members, sizeof(adm_members) / sizeof(adm_members[0]), &bad))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "a recorded delegation may not hold \"%.32s\"", bad);
        s = consents_str(o, "nhs");
        if (s == NULL || !nhs_valid(s))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "\"nhs\" must be the person's NHS number");
        memcpy(d->nhs, s, NHS_LEN + 1);
        s = consents_str(o, "reason");
        if (s == NULL || !patients_reason_valid(s))
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "\"reason\" must be 1 to %d characters saying on what "
                                   "authority (a court order, parental responsibility)",
                                   CONSENTS_REASON_MAX);
        s = consents_str(o, "by");
        if (s == NULL || strcmp(s, "admin") != 0)
            return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                   "a recorded delegation needs \"by\":\"admin\"");
    }
    s = consents_str(o, "delegate");
    if (s == NULL || !nhs_valid(s))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"delegate\" must be the NHS number of the carer, guardian or "
                               "attorney");
    memcpy(d->delegate, s, NHS_LEN + 1);
    s = consents_str(o, "relationship");
    if (s == NULL || !consents_name_ok(s))
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "\"relationship\" must be a word such as \"carer\", \"guardian\" "
                               "or \"attorney\" (a-z, 0-9 and '-')");
    memcpy(d->relationship, s, strlen(s) + 1);
    if (consents_rights_parse(cJSON_GetObjectItemCaseSensitive(o, "rights"), &d->rights, rwhy) !=
        ERR_OK)
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why, "%s", rwhy);
    period = cJSON_GetObjectItemCaseSensitive(o, "period");
    if (period == NULL && signed_form)
        return consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                               "a delegation needs \"period\": {\"start\",\"end\"}");
    if (period != NULL) {
        d->has_period = true;
        return consents_period(period, &d->start, &d->end, why_code, why);
    }
    d->start = at;
    d->end = CONSENTS_NO_END;
    return ERR_OK;
}

/* consents_dkey writes the STORE_DELEGATIONS key of (person, delegate, index). */
static void
consents_dkey(const char *person, const char *delegate, uint64_t index,
              uint8_t key[static CONSENTS_DKEY])
{
    memcpy(key, person, NHS_LEN);
    key[NHS_LEN] = '>';
    memcpy(key + NHS_LEN + 1, delegate, NHS_LEN);
    store_u64_key(index, key + 2 * NHS_LEN + 1);
}

/* A delegation edge found by a scan. */
struct consents_edge {
    char delegate[NHS_LEN + 1];
    uint64_t index;
    int64_t start;
    int64_t end;
};

struct consents_edges {
    struct consents_edge *e;
    size_t n;
    size_t cap;
};

static enum err
consents_edge_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct consents_edges *es = ctx;
    const uint8_t *k = key, *v = val;
    struct consents_edge *e;
    uint64_t x;

    if (key_len != CONSENTS_DKEY || val_len != CONSENTS_DVAL)
        return ERR_STORAGE;
    if (es->n == es->cap)
        return ERR_TOOBIG;
    e = &es->e[es->n++];
    memcpy(e->delegate, k + NHS_LEN + 1, NHS_LEN);
    e->delegate[NHS_LEN] = '\0';
    store_u64_val(k + 2 * NHS_LEN + 1, 8, &e->index);
    store_u64_val(v, 8, &x);
    e->start = (int64_t)x;
    store_u64_val(v + 8, 8, &x);
    e->end = (int64_t)x;
    return ERR_OK;
}

/*
 * consents_edges lists the delegations from person (to delegate, when not NULL) into es (cap
 * entries at most: ERR_TOOBIG beyond).
 */
static enum err
consents_edges(struct store_txn *t, const char *person, const char *delegate,
               struct consents_edges *es)
{
    uint8_t prefix[2 * NHS_LEN + 1];

    es->n = 0;
    memcpy(prefix, person, NHS_LEN);
    prefix[NHS_LEN] = '>';
    if (delegate != NULL)
        memcpy(prefix + NHS_LEN + 1, delegate, NHS_LEN);
    return store_scan(t, STORE_DELEGATIONS, prefix,
                      delegate != NULL ? 2 * NHS_LEN + 1 : NHS_LEN + 1, consents_edge_one, es);
}

/* consents_entry reads and parses entry index (the caller frees *e). */
static enum err
consents_entry(struct store_txn *t, uint64_t index, cJSON **e)
{
    const uint8_t *bytes;
    size_t len;
    enum err rc;

    *e = NULL;
    rc = tlog_entry(t, index, &bytes, &len);
    if (rc != ERR_OK)
        return rc == ERR_NOTFOUND ? ERR_STORAGE : rc;
    if (jstrict_parse((const char *)bytes, len, e, NULL) != ERR_OK)
        return ERR_STORAGE;
    return ERR_OK;
}

/* consents_entry_time reads an entry's "time". */
static enum err
consents_entry_time(const cJSON *e, int64_t *at)
{
    return consents_time_parse(consents_str(e, "time"), at);
}

/* consents_delegation_read reads the delegation recorded by entry index. */
static enum err
consents_delegation_read(struct store_txn *t, uint64_t index, struct consents_delegation *d)
{
    char why[STATE_WHY_MAX], kid[CONSENTS_JTI_MAX + 1];
    enum consents_refusal code;
    struct jws_parts p;
    const char *jws;
    cJSON *e = NULL;
    int64_t at = 0;
    enum err rc;

    memset(&p, 0, sizeof(p));
    rc = consents_entry(t, index, &e);
    if (rc != ERR_OK)
        return rc;
    rc = ERR_STORAGE;
    if (consents_entry_time(e, &at) != ERR_OK)
        goto out;
    jws = consents_str(e, "jws");
    if (jws != NULL) {
        if (consents_decode(jws, strlen(jws), CONSENTS_TYP_DELEGATION, &p, kid, &code, why) !=
                ERR_OK ||
            consents_delegation_obj(p.payload, true, at, d, &code, why) != ERR_OK)
            goto out;
    } else if (consents_delegation_obj(e, false, at, d, &code, why) != ERR_OK) {
        goto out;
    }
    rc = ERR_OK;
out:
    jws_parts_clear(&p);
    cJSON_Delete(e);
    return rc;
}

/* consents_covers is true if r allows right over purpose and every datatype. */
static bool
consents_covers(const struct consents_rights *r, unsigned right, const char *purpose,
                const char (*dts)[CONSENTS_NAME_MAX + 1], unsigned ndts)
{
    unsigned i, k;

    if ((r->actions & right) == 0)
        return false;
    if (!r->any_purpose) {
        for (i = 0; i < r->npurposes; i++)
            if (strcmp(r->purposes[i], purpose) == 0)
                break;
        if (i == r->npurposes)
            return false;
    }
    if (r->any_datatype)
        return true;
    for (k = 0; k < ndts; k++) {
        for (i = 0; i < r->ndatatypes; i++)
            if (strcmp(r->datatypes[i], dts[k]) == 0)
                break;
        if (i == r->ndatatypes)
            return false;
    }
    return true;
}

/*
 * consents_authority decides whether iss may act for sub at time at: the person themself, or a
 * delegate whose active delegation covers right over purpose and dts.
 */
static enum err
consents_authority(struct store_txn *t, const char *iss, const char *sub, int64_t at,
                   unsigned right, const char *purpose, const char (*dts)[CONSENTS_NAME_MAX + 1],
                   unsigned ndts, enum consents_refusal *why_code, char why[static STATE_WHY_MAX])
{
    struct consents_edge buf[CONSENTS_MAX_PARALLEL];
    struct consents_edges es = {buf, 0, CONSENTS_MAX_PARALLEL};
    struct consents_delegation d;
    bool active = false;
    size_t i;
    enum err rc;

    if (strcmp(iss, sub) == 0)
        return ERR_OK;
    rc = consents_edges(t, sub, iss, &es);
    if (rc != ERR_OK && rc != ERR_TOOBIG)
        return rc;
    for (i = 0; i < es.n; i++) {
        if (at < es.e[i].start || at >= es.e[i].end)
            continue;
        active = true;
        rc = consents_delegation_read(t, es.e[i].index, &d);
        if (rc != ERR_OK)
            return rc;
        if (consents_covers(&d.rights, right, purpose, dts, ndts))
            return ERR_OK;
    }
    if (!active)
        return consents_refuse(ERR_AUTH, CONSENTS_NOT_DELEGATED, why_code, why,
                               "the signer (\"iss\") is not the person (\"sub\") and holds no "
                               "active delegation from them");
    return consents_refuse(ERR_AUTH, CONSENTS_BEYOND_RIGHTS, why_code, why,
                           "the signer's delegation from this person does not cover this: the "
                           "%s right, purpose %s and every data category must be delegated",
                           right == CONSENTS_RIGHT_GRANT  ? "grant"
                           : right == CONSENTS_RIGHT_DENY ? "deny"
                                                          : "revoke",
                           purpose);
}

enum err
consents_grant_check(struct store_txn *t, const char *jws, size_t len, int64_t at,
                     struct consents_grant *out, enum consents_refusal *why_code,
                     char why[static STATE_WHY_MAX])
{
    char kid[CONSENTS_JTI_MAX + 1];
    struct jws_parts p;
    enum err rc;

    memset(out, 0, sizeof(*out));
    *why_code = CONSENTS_OK;
    why[0] = '\0';
    rc = consents_decode(jws, len, CONSENTS_TYP_GRANT, &p, kid, why_code, why);
    if (rc != ERR_OK)
        return rc;
    rc = consents_grant_payload(p.payload, false, out, why_code, why);
    jws_parts_clear(&p);
    if (rc == ERR_OK)
        rc = consents_verify(t, jws, len, out->iss, kid, "signer (\"iss\")", why_code, why);
    if (rc == ERR_OK)
        rc = consents_authority(t, out->iss, out->sub, at,
                                out->effect == CONSENT_PERMIT ? CONSENTS_RIGHT_GRANT
                                                              : CONSENTS_RIGHT_DENY,
                                out->purpose, (const char(*)[CONSENTS_NAME_MAX + 1]) out->datatypes,
                                out->ndatatypes, why_code, why);
    if (rc == ERR_OK)
        rc = consents_jti_new(t, out->jti, why_code, why);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

enum err
consents_paper_check(struct store_txn *t, const cJSON *paper, const char *by, int64_t at,
                     struct consents_grant *out, enum consents_refusal *why_code,
                     char why[static STATE_WHY_MAX])
{
    struct patients_patient p;
    struct clients_client cl;
    enum err rc;

    (void)at; /* no rule of a paper grant depends on the time yet; the signature is not checked */
    memset(out, 0, sizeof(*out));
    *why_code = CONSENTS_OK;
    why[0] = '\0';
    rc = consents_grant_payload(paper, true, out, why_code, why);
    if (rc == ERR_OK && (by == NULL || !clients_id_valid(by)))
        rc = consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                             "\"by\" must be the client id of the enroller who recorded the "
                             "paper consent");
    if (rc == ERR_OK) {
        rc = clients_get(t, by, &cl);
        if (rc == ERR_NOTFOUND ||
            (rc == ERR_OK && (cl.retired || (cl.roles & POLICY_ROLE_ENROLLER) == 0)))
            rc = consents_refuse(ERR_AUTH, CONSENTS_NOT_ENROLLER, why_code, why,
                                 "a consent taken on paper is recorded by a registered client "
                                 "with the enroller role that is not retired");
    }
    if (rc == ERR_OK) {
        rc = patients_get(t, out->sub, &p);
        if (rc == ERR_NOTFOUND)
            rc = consents_refuse(ERR_INVAL, CONSENTS_PATIENT_UNKNOWN, why_code, why,
                                 "the patient is not enrolled: a consent taken on paper is "
                                 "recorded only for a person enrolled in this service");
    }
    if (rc == ERR_OK)
        rc = consents_jti_new(t, out->jti, why_code, why);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

void
consents_jti_make(char jti[static CONSENTS_PAPER_JTI_LEN + 1])
{
    uint8_t raw[CONSENTS_PAPER_JTI_BYTES];

    enum err rc;

    hash_random(raw, sizeof(raw));
    rc = b64_encode(raw, sizeof(raw), B64_URL, jti, CONSENTS_PAPER_JTI_LEN + 1);
    assert(rc == ERR_OK); /* the buffer is sized for it */
    (void)rc;
}

/* consents_grant_rec reads the STORE_CONSENTS record of grant jti. */
static enum err
consents_grant_rec(struct store_txn *t, const char *jti, uint64_t *index, uint64_t *rindex,
                   int64_t *rat, char sub[static NHS_LEN + 1])
{
    const uint8_t *v;
    const void *val;
    uint64_t x;
    size_t len;
    enum err rc;

    rc = store_get(t, STORE_CONSENTS, jti, strlen(jti), &val, &len);
    if (rc != ERR_OK)
        return rc;
    v = val;
    if (len == CONSENTS_OTHER_REC && (v[0] == 'r' || v[0] == 'd'))
        return ERR_NOTFOUND;
    if (len != CONSENTS_GRANT_REC || v[0] != 'g')
        return ERR_STORAGE;
    store_u64_val(v + 1, 8, index);
    store_u64_val(v + 9, 8, rindex);
    store_u64_val(v + 17, 8, &x);
    *rat = (int64_t)x;
    memcpy(sub, v + 25, NHS_LEN);
    sub[NHS_LEN] = '\0';
    return ERR_OK;
}

static enum err
consents_grant_put(struct store_txn *t, const char *jti, uint64_t index, uint64_t rindex,
                   int64_t rat, const char *sub, bool unique)
{
    uint8_t v[CONSENTS_GRANT_REC];

    v[0] = 'g';
    store_u64_key(index, v + 1);
    store_u64_key(rindex, v + 9);
    store_u64_key((uint64_t)rat, v + 17);
    memcpy(v + 25, sub, NHS_LEN);
    return store_put(t, STORE_CONSENTS, jti, strlen(jti), v, sizeof(v), unique, false);
}

static enum err
consents_other_put(struct store_txn *t, char kind, const char *jti, uint64_t index)
{
    uint8_t v[CONSENTS_OTHER_REC];

    v[0] = (uint8_t)kind;
    store_u64_key(index, v + 1);
    return store_put(t, STORE_CONSENTS, jti, strlen(jti), v, sizeof(v), true, false);
}

enum err
consents_revoke_check(struct store_txn *t, const char *jws, size_t len, int64_t at,
                      struct consents_revocation *out, enum consents_refusal *why_code,
                      char why[static STATE_WHY_MAX])
{
    static const char *const members[] = {"iss", "sub", "jti", "grant", "iat"};
    char kid[CONSENTS_JTI_MAX + 1], sub[NHS_LEN + 1];
    struct consents_record rec;
    const char *bad = NULL, *g;
    struct jws_parts p;
    uint64_t index, rindex;
    int64_t rat;
    enum err rc;

    memset(out, 0, sizeof(*out));
    *why_code = CONSENTS_OK;
    why[0] = '\0';
    rc = consents_decode(jws, len, CONSENTS_TYP_REVOKE, &p, kid, why_code, why);
    if (rc != ERR_OK)
        return rc;
    if (!consents_only(p.payload, members, 5, &bad))
        rc = consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                             "a revocation's payload may not hold \"%.32s\"; it has exactly "
                             "iss, sub, jti, grant and iat",
                             bad);
    if (rc == ERR_OK)
        rc = consents_people(p.payload, out->iss, out->sub, out->jti, why_code, why);
    g = consents_str(p.payload, "grant");
    if (rc == ERR_OK && (g == NULL || !consents_jti_valid(g)))
        rc = consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                             "\"grant\" must be the \"jti\" of the grant revoked");
    if (rc == ERR_OK) {
        memcpy(out->grant, g, strlen(g) + 1);
        if (!consents_int(p.payload, "iat", &out->iat))
            rc = consents_refuse(ERR_INVAL, CONSENTS_MALFORMED, why_code, why,
                                 "\"iat\" must be the time the revocation was signed, in whole "
                                 "seconds");
    }
    jws_parts_clear(&p);
    if (rc == ERR_OK)
        rc = consents_verify(t, jws, len, out->iss, kid, "signer (\"iss\")", why_code, why);
    if (rc == ERR_OK) {
        rc = consents_grant_rec(t, out->grant, &index, &rindex, &rat, sub);
        if (rc == ERR_NOTFOUND)
            rc = consents_refuse(ERR_NOTFOUND, CONSENTS_GRANT_UNKNOWN, why_code, why,
                                 "no grant has this \"jti\"");
    }
    if (rc == ERR_OK && strcmp(sub, out->sub) != 0)
        rc = consents_refuse(ERR_AUTH, CONSENTS_OTHER_PERSON, why_code, why,
                             "the grant is not about the person this revocation names (\"sub\"): "
                             "a person revokes only their own grants");
    if (rc == ERR_OK && strcmp(out->iss, out->sub) != 0) {
        rc = consents_get(t, out->grant, &rec);
        if (rc == ERR_OK)
            rc = consents_authority(t, out->iss, out->sub, at, CONSENTS_RIGHT_REVOKE, rec.g.purpose,
                                    (const char(*)[CONSENTS_NAME_MAX + 1]) rec.g.datatypes,
                                    rec.g.ndatatypes, why_code, why);
    }
    if (rc == ERR_OK && rindex != 0)
        rc = consents_refuse(ERR_CONFLICT, CONSENTS_ALREADY_REVOKED, why_code, why,
                             "this grant is already revoked");
    if (rc == ERR_OK)
        rc = consents_jti_new(t, out->jti, why_code, why);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/*
 * consents_loop is true (ERR_CONFLICT) if a chain of delegations that have not ended at time at
 * leads from delegate back to person.
 */
static enum err
consents_loop(struct store_txn *t, const char *person, const char *delegate, int64_t at,
              enum consents_refusal *why_code, char why[static STATE_WHY_MAX])
{
    char(*seen)[NHS_LEN + 1] = xcalloc(CONSENTS_MAX_CHAIN, NHS_LEN + 1);
    struct consents_edge *buf = xcalloc(CONSENTS_MAX_CHAIN, sizeof(*buf));
    struct consents_edges es = {buf, 0, CONSENTS_MAX_CHAIN};
    size_t nseen = 1, head = 0, i, k;
    enum err rc = ERR_OK;

    memcpy(seen[0], delegate, NHS_LEN + 1);
    while (rc == ERR_OK && head < nseen) {
        rc = consents_edges(t, seen[head++], NULL, &es);
        for (i = 0; rc == ERR_OK && i < es.n; i++) {
            if (es.e[i].end <= at)
                continue;
            if (strcmp(es.e[i].delegate, person) == 0) {
                rc = consents_refuse(ERR_CONFLICT, CONSENTS_DELEGATION_LOOP, why_code, why,
                                     "this delegation would close a loop: the delegate already "
                                     "acts, directly or through others, for this person's "
                                     "delegates");
                break;
            }
            for (k = 0; k < nseen; k++)
                if (strcmp(seen[k], es.e[i].delegate) == 0)
                    break;
            if (k < nseen)
                continue;
            if (nseen == CONSENTS_MAX_CHAIN) {
                rc = consents_refuse(ERR_CONFLICT, CONSENTS_DELEGATION_LOOP, why_code, why,
                                     "this delegation joins a chain of more than %d people; it "
                                     "cannot be checked for loops",
                                     CONSENTS_MAX_CHAIN);
                break;
            }
            memcpy(seen[nseen++], es.e[i].delegate, NHS_LEN + 1);
        }
    }
    if (rc == ERR_TOOBIG)
        rc = consents_refuse(ERR_CONFLICT, CONSENTS_DELEGATION_LOOP, why_code, why,
                             "a delegate in this chain holds more than %d delegations; it "
                             "cannot be checked for loops",
                             CONSENTS_MAX_CHAIN);
    free(buf);
    free(seen);
    return rc;
}

enum err
consents_delegation_check(struct store_txn *t, const char *jws, size_t len, const cJSON *admin,
                          int64_t at, struct consents_delegation *out,
                          enum consents_refusal *why_code, char why[static STATE_WHY_MAX])
{
    char kid[CONSENTS_JTI_MAX + 1];
    struct patients_patient p;
    struct jws_parts parts;
    enum err rc;

    memset(out, 0, sizeof(*out));
    memset(&parts, 0, sizeof(parts));
    *why_code = CONSENTS_OK;
    why[0] = '\0';
    if (jws != NULL) {
        rc = consents_decode(jws, len, CONSENTS_TYP_DELEGATION, &parts, kid, why_code, why);
        if (rc != ERR_OK)
            return rc;
        rc = consents_delegation_obj(parts.payload, true, at, out, why_code, why);
        jws_parts_clear(&parts);
        if (rc == ERR_OK)
            rc = consents_verify(t, jws, len, out->nhs, kid, "person", why_code, why);
    } else {
        rc = consents_delegation_obj(admin, false, at, out, why_code, why);
    }
    if (rc == ERR_OK && strcmp(out->nhs, out->delegate) == 0)
        rc = consents_refuse(ERR_INVAL, CONSENTS_SELF_DELEGATION, why_code, why,
                             "a person cannot delegate to themself");
    if (rc == ERR_OK) {
        rc = patients_get(t, out->delegate, &p);
        if (rc == ERR_NOTFOUND)
            rc = consents_refuse(ERR_INVAL, CONSENTS_DELEGATE_UNKNOWN, why_code, why,
                                 "the delegate is not enrolled: they sign with their own key, so "
                                 "they enrol first");
    }
    if (rc == ERR_OK)
        rc = consents_loop(t, out->nhs, out->delegate, at, why_code, why);
    if (rc == ERR_OK && out->jti[0] != '\0')
        rc = consents_jti_new(t, out->jti, why_code, why);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* --- apply --- */

/* consents_apply_rc turns a refusal into what state_apply returns. */
static enum err
consents_apply_rc(enum err rc, enum consents_refusal code)
{
    if (rc == ERR_STORAGE || rc == ERR_NOMEM || rc == ERR_OK)
        return rc;
    switch (code) {
    case CONSENTS_BAD_SIGNATURE:
    case CONSENTS_JTI_REUSED:
    case CONSENTS_ALREADY_REVOKED:
    case CONSENTS_DELEGATION_LOOP:
        return ERR_CONFLICT;
    case CONSENTS_OK:
    case CONSENTS_MALFORMED:
    case CONSENTS_BAD_PERIOD:
    case CONSENTS_SIGNER_UNKNOWN:
    case CONSENTS_NOT_DELEGATED:
    case CONSENTS_BEYOND_RIGHTS:
    case CONSENTS_GRANT_UNKNOWN:
    case CONSENTS_OTHER_PERSON:
    case CONSENTS_SELF_DELEGATION:
    case CONSENTS_DELEGATE_UNKNOWN:
    case CONSENTS_PATIENT_UNKNOWN:
    case CONSENTS_NOT_ENROLLER:
        break;
    }
    return ERR_INVAL;
}

/* consents_grant_record writes the tables' records of grant g, recorded by entry index. */
static enum err
consents_grant_record(struct store_txn *t, const struct consents_grant *g, uint64_t index)
{
    char key[NHS_LEN + 1 + CONSENTS_JTI_MAX + 1];
    enum err rc;

    rc = consents_grant_put(t, g->jti, index, 0, 0, g->sub, true);
    if (rc != ERR_OK)
        return rc;
    snprintf(key, sizeof(key), "%s/%s", g->sub, g->jti);
    return store_put(t, STORE_CONSENTS_BY_NHS, key, strlen(key), "", 0, true, false);
}

static enum err
consents_apply_grant(struct store_txn *t, uint64_t index, const char *jws, int64_t at,
                     char why[static STATE_WHY_MAX])
{
    struct consents_grant *g = xmalloc(sizeof(*g));
    enum consents_refusal code;
    enum err rc;

    rc = consents_grant_check(t, jws, strlen(jws), at, g, &code, why);
    if (rc != ERR_OK) {
        rc = consents_apply_rc(rc, code);
        goto out;
    }
    rc = consents_grant_record(t, g, index);
out:
    free(g);
    return rc;
}

static enum err
consents_apply_paper(struct store_txn *t, uint64_t index, const cJSON *e, int64_t at,
                     char why[static STATE_WHY_MAX])
{
    struct consents_grant *g = xmalloc(sizeof(*g));
    enum consents_refusal code;
    enum err rc;

    rc = consents_paper_check(t, cJSON_GetObjectItemCaseSensitive(e, "paper"),
                              consents_str(e, "by"), at, g, &code, why);
    if (rc == ERR_OK)
        rc = consents_grant_record(t, g, index);
    else
        rc = consents_apply_rc(rc, code);
    free(g);
    return rc;
}

static enum err
consents_apply_revoke(struct store_txn *t, uint64_t index, const char *jws, int64_t at,
                      char why[static STATE_WHY_MAX])
{
    struct consents_revocation r;
    enum consents_refusal code;
    char sub[NHS_LEN + 1];
    uint64_t gi, ri;
    int64_t rat;
    enum err rc;

    rc = consents_revoke_check(t, jws, strlen(jws), at, &r, &code, why);
    if (rc != ERR_OK)
        return consents_apply_rc(rc, code);
    rc = consents_grant_rec(t, r.grant, &gi, &ri, &rat, sub);
    if (rc == ERR_OK)
        rc = consents_grant_put(t, r.grant, gi, index, at, sub, false);
    if (rc == ERR_OK)
        rc = consents_other_put(t, 'r', r.jti, index);
    return rc == ERR_NOTFOUND || rc == ERR_CONFLICT ? ERR_STORAGE : rc;
}

static enum err
consents_apply_delegation(struct store_txn *t, uint64_t index, const cJSON *e, int64_t at,
                          char why[static STATE_WHY_MAX])
{
    struct consents_delegation *d = xmalloc(sizeof(*d));
    const char *jws = consents_str(e, "jws");
    uint8_t key[CONSENTS_DKEY], val[CONSENTS_DVAL];
    enum consents_refusal code;
    const char *bad = NULL;
    static const char *const members[] = {"v", "type", "time", "jws"};
    enum err rc;

    if (jws != NULL && !consents_only(e, members, 4, &bad)) {
        snprintf(why, STATE_WHY_MAX, "a signed delegation entry may not hold \"%.32s\"", bad);
        rc = ERR_INVAL;
        goto out;
    }
    rc = consents_delegation_check(t, jws, jws == NULL ? 0 : strlen(jws), jws == NULL ? e : NULL,
                                   at, d, &code, why);
    if (rc != ERR_OK) {
        rc = consents_apply_rc(rc, code);
        goto out;
    }
    consents_dkey(d->nhs, d->delegate, index, key);
    store_u64_key((uint64_t)d->start, val);
    store_u64_key((uint64_t)d->end, val + 8);
    rc = store_put(t, STORE_DELEGATIONS, key, sizeof(key), val, sizeof(val), true, false);
    if (rc == ERR_OK && d->jti[0] != '\0')
        rc = consents_other_put(t, 'd', d->jti, index);
    if (rc == ERR_CONFLICT)
        rc = ERR_STORAGE;
out:
    free(d);
    return rc;
}

enum err
consents_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
               char why[static STATE_WHY_MAX])
{
    static const char *const members[] = {"v", "type", "time", "jws"};
    static const char *const paper_members[] = {"v", "type", "time", "paper", "by"};
    const char *jws = consents_str(e, "jws"), *bad = NULL;
    int64_t at;

    if (consents_entry_time(e, &at) != ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "a %s entry needs \"time\": RFC 3339 UTC to the second", type);
        return ERR_INVAL;
    }
    if (strcmp(type, "delegation") == 0)
        return consents_apply_delegation(t, index, e, at, why);
    if (strcmp(type, "consent") == 0 && cJSON_GetObjectItemCaseSensitive(e, "paper") != NULL) {
        if (!consents_only(e, paper_members, 5, &bad)) {
            snprintf(why, STATE_WHY_MAX,
                     "a paper consent entry holds exactly \"paper\" and \"by\", not \"%.32s\"",
                     bad);
            return ERR_INVAL;
        }
        return consents_apply_paper(t, index, e, at, why);
    }
    if (jws == NULL || !consents_only(e, members, 4, &bad)) {
        snprintf(why, STATE_WHY_MAX, "a %s entry holds exactly \"jws\": the signed JWS", type);
        return ERR_INVAL;
    }
    if (strcmp(type, "consent") == 0)
        return consents_apply_grant(t, index, jws, at, why);
    if (strcmp(type, "consent.revoke") == 0)
        return consents_apply_revoke(t, index, jws, at, why);
    snprintf(why, STATE_WHY_MAX, "consents cannot apply a %s entry", type);
    return ERR_INVAL;
}

/* --- reading --- */

/*
 * consents_parse reads what consent entry index says (recorded, source, g, by) into rec, the
 * rest of it zeroed. ERR_STORAGE if the entry is missing or not a valid grant; ERR_NOMEM.
 */
static enum err
consents_parse(struct store_txn *t, uint64_t index, void *value)
{
    struct consents_record *rec = value;
    char why[STATE_WHY_MAX];
    enum consents_refusal code;
    const char *jws, *by;
    cJSON *e = NULL;
    enum err rc;

    memset(rec, 0, sizeof(*rec));
    rc = consents_entry(t, index, &e);
    if (rc != ERR_OK)
        goto out;
    rc = ERR_STORAGE;
    jws = consents_str(e, "jws");
    by = consents_str(e, "by");
    if (consents_entry_time(e, &rec->recorded) != ERR_OK)
        goto out;
    if (jws != NULL) {
        rec->source = CONSENTS_SOURCE_SIGNED;
        if (consents_grant_parse(jws, strlen(jws), &rec->g, &code, why) != ERR_OK)
            goto out;
    } else {
        /* A paper grant: its shape was checked when it was applied. */
        rec->source = CONSENTS_SOURCE_PAPER;
        if (by == NULL || strlen(by) > CONSENTS_BY_MAX ||
            consents_grant_payload(cJSON_GetObjectItemCaseSensitive(e, "paper"), true, &rec->g,
                                   &code, why) != ERR_OK)
            goto out;
        memcpy(rec->by, by, strlen(by) + 1);
    }
    rc = ERR_OK;
out:
    cJSON_Delete(e);
    if (rc != ERR_OK)
        memset(rec, 0, sizeof(*rec));
    return rc;
}

/*
 * This thread's parsed consent, organisation and enrolment entries (ecache.h): every consent
 * decision reads each of the person's grants, the organisation and the person's enrolment, and
 * decoding and parsing them each time was most of a token's cost in the sequencer.
 */
static __thread struct ecache consents_cache = ECACHE_INIT(128, struct consents_record);
static __thread struct ecache consents_org_cache = ECACHE_INIT(256, char[CONSENTS_NAME_MAX + 1]);
static __thread struct ecache consents_enrol_cache = ECACHE_INIT(256, char[CLIENTS_ID_MAX + 1]);

enum err
consents_get(struct store_txn *t, const char *jti, struct consents_record *out)
{
    const struct consents_record *parsed;
    char sub[NHS_LEN + 1];
    void *v;
    uint64_t index, rindex;
    int64_t rat;
    enum err rc;

    memset(out, 0, sizeof(*out));
    if (jti == NULL || !consents_jti_valid(jti))
        return ERR_NOTFOUND;
    rc = consents_grant_rec(t, jti, &index, &rindex, &rat, sub);
    if (rc != ERR_OK)
        return rc;
    rc = ecache_read(t, &consents_cache, index, consents_parse, &v);
    if (rc != ERR_OK)
        return rc;
    parsed = v;
    if (strcmp(parsed->g.sub, sub) != 0 || strcmp(parsed->g.jti, jti) != 0)
        return ERR_STORAGE;
    *out = *parsed;
    out->index = index;
    out->revoke_index = rindex;
    out->revoked_at = rat;
    out->revoked = rindex != 0;
    return ERR_OK;
}

struct consents_jtis {
    char (*jti)[CONSENTS_JTI_MAX + 1];
    size_t n;
};

static enum err
consents_jti_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct consents_jtis *j = ctx;

    (void)val;
    if (val_len != 0 || key_len <= NHS_LEN + 1 || key_len > NHS_LEN + 1 + CONSENTS_JTI_MAX)
        return ERR_STORAGE;
    if (j->n == CONSENTS_MAX_GRANTS)
        return ERR_TOOBIG;
    memcpy(j->jti[j->n], (const char *)key + NHS_LEN + 1, key_len - NHS_LEN - 1);
    j->jti[j->n][key_len - NHS_LEN - 1] = '\0';
    j->n++;
    return ERR_OK;
}

static int
consents_by_index_desc(const void *a, const void *b)
{
    const struct consents_record *x = a, *y = b;

    return x->index < y->index ? 1 : x->index > y->index ? -1 : 0;
}

/* consents_collect reads every grant about nhs into *recs (malloc'd), newest first. */
static enum err
consents_collect(struct store_txn *t, const char *nhs, struct consents_record **recs, size_t *n)
{
    struct consents_jtis j = {NULL, 0};
    char prefix[NHS_LEN + 2];
    size_t i;
    enum err rc;

    *recs = NULL;
    *n = 0;
    if (nhs == NULL || !nhs_valid(nhs))
        return ERR_OK;
    /* Not zeroed: only the j.n rows filled are read, and zeroing 0.5 MB per decision showed. */
    j.jti = xmalloc((size_t)CONSENTS_MAX_GRANTS * (CONSENTS_JTI_MAX + 1));
    snprintf(prefix, sizeof(prefix), "%s/", nhs);
    rc = store_scan(t, STORE_CONSENTS_BY_NHS, prefix, NHS_LEN + 1, consents_jti_one, &j);
    if (rc == ERR_OK && j.n > 0) {
        *recs = xcalloc(j.n, sizeof(**recs));
        for (i = 0; rc == ERR_OK && i < j.n; i++) {
            rc = consents_get(t, j.jti[i], &(*recs)[i]);
            if (rc == ERR_NOTFOUND)
                rc = ERR_STORAGE;
        }
        if (rc == ERR_OK) {
            *n = j.n;
            qsort(*recs, j.n, sizeof(**recs), consents_by_index_desc);
        } else {
            free(*recs);
            *recs = NULL;
        }
    }
    free(j.jti);
    return rc;
}

enum err
consents_list(struct store_txn *t, const char *nhs, consents_list_fn fn, void *ctx)
{
    struct consents_record *recs;
    size_t n, i;
    enum err rc;

    rc = consents_collect(t, nhs, &recs, &n);
    for (i = 0; rc == ERR_OK && i < n; i++)
        rc = fn(ctx, &recs[i]);
    free(recs);
    return rc;
}

enum err
consents_delegated(struct store_txn *t, const char *nhs, const char *delegate, int64_t at,
                   bool *yes)
{
    struct consents_edge buf[CONSENTS_MAX_PARALLEL];
    struct consents_edges es = {buf, 0, CONSENTS_MAX_PARALLEL};
    size_t i;
    enum err rc;

    *yes = false;
    if (nhs == NULL || delegate == NULL || !nhs_valid(nhs) || !nhs_valid(delegate))
        return ERR_OK;
    rc = consents_edges(t, nhs, delegate, &es);
    if (rc != ERR_OK && rc != ERR_TOOBIG)
        return rc;
    for (i = 0; i < es.n; i++)
        if (at >= es.e[i].start && at < es.e[i].end)
            *yes = true;
    return ERR_OK;
}

void
consents_set_init(struct consents_set *s)
{
    memset(s, 0, sizeof(*s));
}

void
consents_set_clear(struct consents_set *s)
{
    free(s->grants);
    free(s->text);
    memset(s, 0, sizeof(*s));
}

/* Text kept for each grant of a set: jti, grantee value, purpose. */
#define CONSENTS_TEXT (CONSENTS_JTI_MAX + 1 + CONSENTS_NAME_MAX + 1 + CONSENTS_PURPOSE_MAX + 1)

enum err
consents_for_decision(struct store_txn *t, const struct policy *pol, const char *nhs, int64_t now,
                      struct consents_set *s)
{
    struct consents_record *recs;
    struct consent_grant *g;
    size_t n, i, k;
    char *text;
    unsigned d;
    int bit;
    enum err rc;

    consents_set_init(s);
    rc = consents_collect(t, nhs, &recs, &n);
    if (rc != ERR_OK || n == 0)
        return rc;
    s->grants = xcalloc(n, sizeof(*s->grants));
    s->text = xcalloc(n, CONSENTS_TEXT);
    /* recs is newest first; the decision wants log order (it names the earliest match). */
    for (i = 0; i < n; i++) {
        k = n - 1 - i;
        g = &s->grants[i];
        text = s->text + i * CONSENTS_TEXT;
        memcpy(text, recs[k].g.jti, strlen(recs[k].g.jti) + 1);
        g->jti = text;
        text += CONSENTS_JTI_MAX + 1;
        memcpy(text, recs[k].g.grantee_value, strlen(recs[k].g.grantee_value) + 1);
        g->grantee_value = recs[k].g.grantee == CONSENT_GRANTEE_ANY ? NULL : text;
        text += CONSENTS_NAME_MAX + 1;
        memcpy(text, recs[k].g.purpose, strlen(recs[k].g.purpose) + 1);
        g->purpose = text;
        g->index = recs[k].index;
        g->effect = recs[k].g.effect;
        g->grantee = recs[k].g.grantee;
        for (d = 0; d < recs[k].g.ndatatypes; d++) {
            bit = policy_category_bit(pol, recs[k].g.datatypes[d]);
            if (bit >= 0 && bit < CONSENT_MAX_CATEGORIES)
                g->categories |= UINT64_C(1) << bit;
        }
        g->actions = recs[k].g.actions;
        g->start = recs[k].g.start;
        g->end = recs[k].g.end;
        if (recs[k].revoked) {
            g->revoke_index = recs[k].revoke_index;
            g->revoked_at = recs[k].revoked_at;
            /* Revoked in the log is revoked now, even if the clock went back since. */
            if (g->revoked_at > now)
                g->revoked_at = now;
            if (g->revoked_at <= 0)
                g->revoked_at = 1;
        }
    }
    s->n = n;
    free(recs);
    return ERR_OK;
}

/* consents_org_parse copies the organisation type of org entry index into type. */
static enum err
consents_org_parse(struct store_txn *t, uint64_t index, void *value)
{
    char *type = value; /* CONSENTS_NAME_MAX + 1 bytes */
    const char *ty;
    cJSON *e = NULL;
    enum err rc;

    type[0] = '\0';
    rc = consents_entry(t, index, &e);
    if (rc != ERR_OK)
        return rc;
    /* The entry's own "type" is "org"; the organisation's type is "org_type". */
    ty = consents_str(e, "org_type");
    rc = ERR_STORAGE;
    if (ty != NULL && strlen(ty) <= CONSENTS_NAME_MAX) {
        memcpy(type, ty, strlen(ty) + 1);
        rc = ERR_OK;
    }
    cJSON_Delete(e);
    return rc;
}

enum err
consents_org_type(struct store_txn *t, const char *ods, char type[static CONSENTS_NAME_MAX + 1])
{
    void *v;
    const char *parsed;
    uint64_t index;
    enum err rc;

    type[0] = '\0';
    if (ods == NULL || !consents_ods_ok(ods))
        return ERR_NOTFOUND;
    rc = state_org_index(t, ods, &index);
    if (rc != ERR_OK)
        return rc;
    rc = ecache_read(t, &consents_org_cache, index, consents_org_parse, &v);
    if (rc != ERR_OK)
        return rc;
    parsed = v;
    memcpy(type, parsed, strlen(parsed) + 1);
    return ERR_OK;
}

/*
 * consents_enrol_parse copies the client id that patient.enrol entry index names in "by" into
 * by: "" when "by" is "admin" or longer than any client id (neither names a client).
 * ERR_STORAGE if the entry is missing or has no "by".
 */
static enum err
consents_enrol_parse(struct store_txn *t, uint64_t index, void *value)
{
    char *by = value; /* CLIENTS_ID_MAX + 1 bytes */
    const char *b;
    cJSON *e = NULL;
    enum err rc;

    by[0] = '\0';
    rc = consents_entry(t, index, &e);
    if (rc != ERR_OK)
        return rc;
    b = consents_str(e, "by");
    rc = b == NULL ? ERR_STORAGE : ERR_OK;
    if (b != NULL && strcmp(b, "admin") != 0 && strlen(b) <= CLIENTS_ID_MAX)
        memcpy(by, b, strlen(b) + 1);
    cJSON_Delete(e);
    return rc;
}

enum err
consents_enrolled_by(struct store_txn *t, const char *nhs, const char *ods, bool *yes)
{
    struct patients_patient p;
    struct clients_client cl;
    void *v;
    const char *by;
    enum err rc;

    *yes = false;
    rc = patients_get(t, nhs, &p);
    if (rc == ERR_NOTFOUND)
        return ERR_OK;
    if (rc != ERR_OK)
        return rc;
    rc = ecache_read(t, &consents_enrol_cache, p.enrol_index, consents_enrol_parse, &v);
    if (rc != ERR_OK)
        return rc;
    by = v;
    if (by[0] == '\0')
        return ERR_OK;
    rc = clients_get(t, by, &cl);
    if (rc == ERR_OK)
        *yes = strcmp(cl.org, ods) == 0;
    else if (rc == ERR_NOTFOUND)
        rc = ERR_OK;
    return rc;
}

enum err
consents_decide(struct store_txn *t, const struct policy *pol, const char *nhs,
                struct consent_request *req, char org_type[static CONSENTS_NAME_MAX + 1],
                struct consents_set *s, struct consent_decision *out)
{
    struct consent_rules rules;
    bool enrolled = false;
    enum err rc;

    memset(out, 0, sizeof(*out));
    consents_set_init(s);
    rc = consents_org_type(t, req->org, org_type);
    if (rc == ERR_OK)
        rc = consents_enrolled_by(t, nhs, req->org, &enrolled);
    if (rc == ERR_OK)
        rc = consents_for_decision(t, pol, nhs, req->now, s);
    if (rc != ERR_OK)
        return rc;
    req->org_type = org_type;
    req->org_enrolled = enrolled;
    rules.sensitive = policy_sensitive_mask(pol);
    rules.implied_purpose = CONSENTS_IMPLIED_PURPOSE;
    consent_decide(&rules, s->grants, s->n, req, out);
    return ERR_OK;
}
