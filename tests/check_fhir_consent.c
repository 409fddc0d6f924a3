/*
 * check_fhir_consent: grants become valid R4 Consent resources and come back unchanged; every
 * malformed paper Consent is refused with the FHIRPath of the element at fault. When
 * FHIR_CONSENT_DUMP names a directory, test_dump_for_validator writes sample resources there
 * for tests/e2e/fhir-validate.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cJSON.h>

#include "consentd/fhir_consent.h"
#include "consentd/policy.h"
#include "suites.h"

#define PATIENT  "9434765919"
#define DELEGATE "9449306605"

static struct policy *pol;
static char why[FHIR_CONSENT_DIAG_MAX];

static void
setup(void)
{
    char w[256];

    ck_assert_msg(policy_load("policies/default.json", &pol, w, sizeof(w)) == ERR_OK, "%s", w);
}

static void
teardown(void)
{
    policy_free(pol);
    pol = NULL;
}

/* grant_make fills g with an active permit for gp-record and medications. */
static void
grant_make(struct fhir_consent_grant *g, enum fhir_consent_effect effect,
           enum fhir_consent_grantee grantee, const char *value)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->jti, sizeof(g->jti), "g-%d-%d", (int)effect, (int)grantee);
    snprintf(g->nhs, sizeof(g->nhs), "%s", PATIENT);
    g->effect = effect;
    g->grantee = grantee;
    snprintf(g->grantee_value, sizeof(g->grantee_value), "%s", value);
    snprintf(g->purpose, sizeof(g->purpose), "TREAT");
    g->ndatatypes = 2;
    snprintf(g->datatypes[0], sizeof(g->datatypes[0]), "gp-record");
    snprintf(g->datatypes[1], sizeof(g->datatypes[1]), "medications");
    g->actions = FHIR_CONSENT_ACTION_READ;
    snprintf(g->start, sizeof(g->start), "2026-11-23T00:00:00Z");
    snprintf(g->end, sizeof(g->end), "2027-11-23T00:00:00Z");
    snprintf(g->recorded, sizeof(g->recorded), "2026-11-22T10:15:00Z");
    g->state = FHIR_CONSENT_STATE_ACTIVE;
    g->source = FHIR_CONSENT_SOURCE_PATIENT;
    g->index = 42;
}

/* reparse prints r and parses it again, as a client would read it (and frees r). */
static cJSON *
reparse(cJSON *r)
{
    char *s = cJSON_PrintUnformatted(r);
    cJSON *back;

    ck_assert_ptr_nonnull(s);
    back = cJSON_Parse(s);
    ck_assert_ptr_nonnull(back);
    free(s);
    cJSON_Delete(r);
    return back;
}

/* at walks a dotted path of member names and array indexes ("provision.actor.0.role"). */
static cJSON *
at(cJSON *o, const char *path)
{
    char buf[256], *tok, *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok != NULL && o != NULL;
         tok = strtok_r(NULL, ".", &save)) {
        if (tok[0] >= '0' && tok[0] <= '9')
            o = cJSON_GetArrayItem(o, atoi(tok));
        else
            o = cJSON_GetObjectItemCaseSensitive(o, tok);
    }
    return o;
}

static const char *
str_at(cJSON *o, const char *path)
{
    cJSON *m = at(o, path);

    return cJSON_IsString(m) ? m->valuestring : NULL;
}

static void
assert_same_grant(const struct fhir_consent_grant *a, const struct fhir_consent_grant *b)
{
    size_t i;

    ck_assert_str_eq(a->nhs, b->nhs);
    ck_assert_int_eq(a->effect, b->effect);
    ck_assert_int_eq(a->grantee, b->grantee);
    ck_assert_str_eq(a->grantee_value, b->grantee_value);
    ck_assert_str_eq(a->purpose, b->purpose);
    ck_assert_uint_eq(a->ndatatypes, b->ndatatypes);
    for (i = 0; i < a->ndatatypes; i++)
        ck_assert_str_eq(a->datatypes[i], b->datatypes[i]);
    ck_assert_uint_eq(a->actions, b->actions);
    ck_assert_str_eq(a->start, b->start);
    ck_assert_str_eq(a->end, b->end);
    ck_assert_str_eq(a->recorded, b->recorded);
}

START_TEST(test_round_trip)
{
    static const struct {
        enum fhir_consent_effect effect;
        enum fhir_consent_grantee grantee;
        const char *value;
    } cases[] = {
        {FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001"},
        {FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ORG, "RXX01"},
        {FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ROLE, "pharmacy"},
        {FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ROLE, "research"},
        {FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ANY, ""},
        {FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ANY, ""},
    };
    struct fhir_consent_grant g, back;
    char expr[FHIR_CONSENT_EXPR_MAX];
    cJSON *r;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        grant_make(&g, cases[i].effect, cases[i].grantee, cases[i].value);
        r = reparse(fhir_consent_to_resource(&g, pol));
        ck_assert_msg(fhir_consent_from_resource(r, pol, &back, why, sizeof(why), expr,
                                                 sizeof(expr)) == ERR_OK,
                      "case %zu: %s at %s", i, why, expr);
        ck_assert_str_eq(why, "");
        ck_assert_str_eq(expr, "");
        assert_same_grant(&g, &back);
        ck_assert_int_eq(back.state, FHIR_CONSENT_STATE_ACTIVE);
        ck_assert_int_eq(back.source, FHIR_CONSENT_SOURCE_PAPER);
        ck_assert_str_eq(back.jti, ""); /* the server names a created resource */
        cJSON_Delete(r);
    }
}
END_TEST

START_TEST(test_resource_shape)
{
    struct fhir_consent_grant g;
    cJSON *r;

    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    r = reparse(fhir_consent_to_resource(&g, pol));
    ck_assert_str_eq(str_at(r, "resourceType"), "Consent");
    ck_assert_str_eq(str_at(r, "id"), "g-1-1");
    ck_assert_str_eq(str_at(r, "identifier.0.system"), FHIR_CONSENT_JTI_SYSTEM);
    ck_assert_str_eq(str_at(r, "identifier.0.value"), "g-1-1");
    ck_assert_str_eq(str_at(r, "status"), "active");
    ck_assert_str_eq(str_at(r, "scope.coding.0.code"), "patient-privacy");
    ck_assert_str_eq(str_at(r, "category.0.coding.0.code"), "59284-0");
    ck_assert_str_eq(str_at(r, "patient.identifier.system"), FHIR_CONSENT_NHS_SYSTEM);
    ck_assert_str_eq(str_at(r, "patient.identifier.value"), PATIENT);
    ck_assert_str_eq(str_at(r, "dateTime"), "2026-11-22T10:15:00Z");
    ck_assert_str_eq(str_at(r, "policyRule.coding.0.system"), FHIR_CONSENT_ACTCODE_SYSTEM);
    ck_assert_str_eq(str_at(r, "policyRule.coding.0.code"), "OPTIN");
    ck_assert_str_eq(str_at(r, "provision.type"), "permit");
    ck_assert_str_eq(str_at(r, "provision.period.start"), "2026-11-23T00:00:00Z");
    ck_assert_str_eq(str_at(r, "provision.actor.0.role.coding.0.code"), "IRCP");
    ck_assert_str_eq(str_at(r, "provision.actor.0.reference.identifier.system"),
                     FHIR_CONSENT_ODS_SYSTEM);
    ck_assert_str_eq(str_at(r, "provision.actor.0.reference.identifier.value"), "A81001");
    ck_assert_str_eq(str_at(r, "provision.action.0.coding.0.code"), "access");
    ck_assert_str_eq(str_at(r, "provision.purpose.0.code"), "TREAT");
    ck_assert_str_eq(str_at(r, "provision.purpose.0.system"), FHIR_CONSENT_REASON_SYSTEM);
    ck_assert_str_eq(str_at(r, "provision.class.1.code"), "medications");
    ck_assert_str_eq(str_at(r, "provision.class.1.display"), "Medications");
    ck_assert_str_eq(str_at(r, "extension.0.url"), FHIR_CONSENT_RECORD_URL);
    ck_assert_str_eq(str_at(r, "extension.0.extension.0.valueCode"), "patient");
    ck_assert_int_eq((int)at(r, "extension.0.extension.1.valueDecimal")->valuedouble, 42);
    ck_assert_ptr_nonnull(strstr(str_at(r, "text.div"), "may read GP record and Medications"));
    cJSON_Delete(r);
}
END_TEST

START_TEST(test_every_invariant_holds)
{
    struct fhir_consent_grant g;
    cJSON *r;
    int k;

    for (k = 0; k < 10; k++) {
        switch (k) {
        case 0:
            grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
            break;
        case 1:
            grant_make(&g, FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ORG, "A81001");
            break;
        case 2:
            grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ROLE, "pharmacy");
            break;
        case 3:
            grant_make(&g, FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ANY, "");
            break;
        case 4:
            grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ANY, "");
            g.state = FHIR_CONSENT_STATE_REVOKED;
            g.revoke_index = 77;
            break;
        case 5:
            grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
            g.state = FHIR_CONSENT_STATE_EXPIRED;
            break;
        case 6:
            grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
            g.state = FHIR_CONSENT_STATE_PENDING;
            break;
        case 7:
            grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
            g.source = FHIR_CONSENT_SOURCE_DELEGATE;
            snprintf(g.source_id, sizeof(g.source_id), "%s", DELEGATE);
            break;
        case 8:
            grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
            g.source = FHIR_CONSENT_SOURCE_PAPER;
            snprintf(g.source_id, sizeof(g.source_id), "gp-enroller-1");
            g.recorded[0] = '\0';
            g.index = 0;
            break;
        default:
            /* Every category, a jti that needs escaping, an offset and lower-case 't'. */
            grant_make(&g, FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ROLE, "hospital");
            snprintf(g.jti, sizeof(g.jti), "a_b.c/d");
            snprintf(g.start, sizeof(g.start), "2026-11-23t09:30:00.5+01:00");
            snprintf(g.end, sizeof(g.end), "2027-11-23T00:00:00-18:00");
            g.ndatatypes = 0;
            snprintf(g.datatypes[g.ndatatypes++], FHIR_CONSENT_NAME_MAX + 1, "gp-record");
            snprintf(g.datatypes[g.ndatatypes++], FHIR_CONSENT_NAME_MAX + 1, "mental-health");
            snprintf(g.datatypes[g.ndatatypes++], FHIR_CONSENT_NAME_MAX + 1, "sexual-health");
            break;
        }
        r = reparse(fhir_consent_to_resource(&g, pol));
        ck_assert_msg(fhir_consent_check(r, why, sizeof(why)) == ERR_OK, "case %d: %s", k, why);
        ck_assert_ptr_nonnull(at(r, "policyRule")); /* ppc-1 */
        ck_assert_ptr_nonnull(at(r, "patient"));    /* ppc-2 */
        ck_assert_str_eq(str_at(r, "policyRule.coding.0.code"),
                         g.effect == FHIR_CONSENT_PERMIT ? "OPTIN" : "OPTOUT");
        ck_assert_str_eq(str_at(r, "provision.type"),
                         g.effect == FHIR_CONSENT_PERMIT ? "permit" : "deny");
        switch (g.grantee) {
        case FHIR_CONSENT_GRANTEE_ORG:
            ck_assert_str_eq(str_at(r, "provision.actor.0.reference.type"), "Organization");
            break;
        case FHIR_CONSENT_GRANTEE_ROLE:
            ck_assert_str_eq(str_at(r, "provision.actor.0.reference.type"), "Group");
            ck_assert_str_eq(str_at(r, "provision.actor.0.reference.identifier.system"),
                             FHIR_CONSENT_ORG_TYPE_SYSTEM);
            ck_assert_str_eq(str_at(r, "provision.actor.0.reference.identifier.value"),
                             g.grantee_value);
            break;
        case FHIR_CONSENT_GRANTEE_ANY:
            ck_assert_ptr_null(at(r, "provision.actor"));
            break;
        }
        switch (g.state) {
        case FHIR_CONSENT_STATE_ACTIVE:
        case FHIR_CONSENT_STATE_PENDING:
            ck_assert_str_eq(str_at(r, "status"), "active");
            break;
        case FHIR_CONSENT_STATE_EXPIRED:
        case FHIR_CONSENT_STATE_REVOKED:
            ck_assert_str_eq(str_at(r, "status"), "inactive");
            break;
        }
        if (k == 4)
            ck_assert_int_eq((int)at(r, "extension.0.extension.2.valueDecimal")->valuedouble, 77);
        if (k == 7) {
            ck_assert_str_eq(str_at(r, "performer.0.type"), "RelatedPerson");
            ck_assert_str_eq(str_at(r, "performer.0.identifier.value"), DELEGATE);
            ck_assert_str_eq(str_at(r, "extension.0.extension.1.valueIdentifier.value"), DELEGATE);
        }
        if (k == 8) {
            ck_assert_str_eq(str_at(r, "extension.0.extension.0.valueCode"), "paper");
            ck_assert_str_eq(str_at(r, "extension.0.extension.1.valueIdentifier.system"),
                             FHIR_CONSENT_CLIENT_SYSTEM);
            ck_assert_ptr_null(at(r, "dateTime"));
        }
        if (k == 9) {
            ck_assert_str_eq(str_at(r, "id"), "a.5Fb.2Ec.2Fd");
            ck_assert_str_eq(str_at(r, "identifier.0.value"), "a_b.c/d");
            /* Not a FHIR dateTime as written: the same instant in UTC (fraction dropped). */
            ck_assert_str_eq(str_at(r, "provision.period.start"), "2026-11-23T08:30:00Z");
            ck_assert_str_eq(str_at(r, "provision.period.end"), "2027-11-23T18:00:00Z");
        }
        cJSON_Delete(r);
    }
}
END_TEST

/* broken applies one change to a valid Consent and expects fhir_consent_check to name rule. */
static void
check_refuses(const char *path, const char *member, const char *json, const char *rule)
{
    struct fhir_consent_grant g;
    cJSON *r, *o;

    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    r = reparse(fhir_consent_to_resource(&g, pol));
    o = path[0] == '\0' ? r : at(r, path);
    ck_assert_ptr_nonnull(o);
    cJSON_DeleteItemFromObjectCaseSensitive(o, member);
    if (json != NULL)
        cJSON_AddItemToObject(o, member, cJSON_Parse(json));
    ck_assert_int_eq(fhir_consent_check(r, why, sizeof(why)), ERR_INVAL);
    ck_assert_msg(strstr(why, rule) != NULL, "%s.%s: \"%s\" lacks \"%s\"", path, member, why, rule);
    cJSON_Delete(r);
}

START_TEST(test_check_catches_broken_resources)
{
    check_refuses("", "policyRule", NULL, "ppc-1");
    check_refuses("", "patient", NULL, "ppc-2");
    check_refuses("", "dateTime", "\"\"", "ele-1");
    check_refuses("", "identifier", "[]", "ele-1");
    check_refuses("", "meta", "{}", "ele-1");
    check_refuses("", "language", "null", "ele-1");
    check_refuses("provision.period", "start", "\"2028-01-01T00:00:00Z\"", "per-1");
    check_refuses("provision.period", "end", "\"2027-02-30\"", "dateTime");
    check_refuses("extension.0", "valueString", "\"x\"", "ext-1");
    check_refuses("", "text", NULL, "dom-6");
    check_refuses("", "status", "\"revoked\"", "ConsentState");
    check_refuses("", "status", NULL, "ConsentState");
    check_refuses("", "scope", NULL, "Consent.scope");
    check_refuses("", "category", NULL, "Consent.category");
    check_refuses("", "id", "\"a_b\"", "Consent.id");
    check_refuses("provision", "type", "\"maybe\"", "provision.type");
    check_refuses("provision.actor.0", "reference", NULL, "reference is required");
    check_refuses("provision.purpose.0", "system", NULL, "purpose[0]");
}
END_TEST

START_TEST(test_bundle)
{
    struct fhir_consent_grant g[3];
    cJSON *b, *e;
    size_t i;

    grant_make(&g[0], FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    grant_make(&g[1], FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ROLE, "research");
    grant_make(&g[2], FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ANY, "");
    g[2].state = FHIR_CONSENT_STATE_REVOKED;
    b = reparse(fhir_consent_bundle(g, 3, pol, "https://consentd.example//",
                                    "https://consentd.example/fhir/Consent?patient:identifier=x"));
    ck_assert_msg(fhir_consent_check(b, why, sizeof(why)) == ERR_OK, "%s", why);
    ck_assert_str_eq(str_at(b, "resourceType"), "Bundle");
    ck_assert_str_eq(str_at(b, "type"), "searchset");
    ck_assert_int_eq(cJSON_GetArraySize(at(b, "entry")), 3);
    ck_assert_int_eq((int)at(b, "total")->valuedouble, 3);
    ck_assert_str_eq(str_at(b, "link.0.relation"), "self");
    ck_assert_str_eq(str_at(b, "entry.0.fullUrl"), "https://consentd.example/fhir/Consent/g-1-1");
    for (i = 0; i < 3; i++) {
        e = cJSON_GetArrayItem(at(b, "entry"), (int)i);
        ck_assert_str_eq(str_at(e, "resource.resourceType"), "Consent");
        ck_assert_str_eq(str_at(e, "search.mode"), "match");
    }
    ck_assert_str_eq(str_at(b, "entry.2.resource.status"), "inactive");
    cJSON_Delete(b);

    /* None: total 0 and no "entry" at all (an empty array breaks ele-1). */
    b = reparse(fhir_consent_bundle(NULL, 0, pol, "https://consentd.example", NULL));
    ck_assert_msg(fhir_consent_check(b, why, sizeof(why)) == ERR_OK, "%s", why);
    ck_assert_int_eq((int)at(b, "total")->valuedouble, 0);
    ck_assert_ptr_null(at(b, "entry"));
    ck_assert_ptr_null(at(b, "link"));
    cJSON_Delete(b);

    /* Two grants with one id break bdl-7; one bad grant fails the whole bundle. */
    grant_make(&g[1], FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    b = reparse(fhir_consent_bundle(g, 2, pol, "https://consentd.example", NULL));
    ck_assert_int_eq(fhir_consent_check(b, why, sizeof(why)), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "bdl-7"));
    cJSON_Delete(b);
    g[1].nhs[9] = '0';
    ck_assert_ptr_null(fhir_consent_bundle(g, 2, pol, "https://consentd.example", NULL));
}
END_TEST

START_TEST(test_ids)
{
    char id[FHIR_CONSENT_ID_MAX + 1], id2[FHIR_CONSENT_ID_MAX + 1];
    char jti[FHIR_CONSENT_JTI_MAX + 2];

    ck_assert_int_eq(fhir_consent_id("Ab-09", id), ERR_OK);
    ck_assert_str_eq(id, "Ab-09");
    ck_assert_int_eq(fhir_consent_id("x_y", id), ERR_OK);
    ck_assert_str_eq(id, "x.5Fy");
    ck_assert_int_eq(fhir_consent_id("x.5Fy", id2), ERR_OK);
    ck_assert_str_eq(id2, "x.2E5Fy"); /* '.' is escaped too, so the two cannot meet */
    ck_assert_int_eq(fhir_consent_id("", id), ERR_INVAL);
    ck_assert_str_eq(id, "");
    memset(jti, 'a', 64);
    jti[64] = '\0';
    ck_assert_int_eq(fhir_consent_id(jti, id), ERR_OK);
    ck_assert_str_eq(id, jti);
    jti[64] = 'a';
    jti[65] = '\0';
    ck_assert_int_eq(fhir_consent_id(jti, id), ERR_OK);
    ck_assert_uint_eq(strlen(id), 64);
    ck_assert(strncmp(id, "..", 2) == 0);
    jti[0] = 'b';
    ck_assert_int_eq(fhir_consent_id(jti, id2), ERR_OK);
    ck_assert_str_ne(id, id2);
    memset(jti, '_', 22);
    jti[22] = '\0';
    ck_assert_int_eq(fhir_consent_id(jti, id), ERR_OK);
    ck_assert(strncmp(id, "..", 2) == 0); /* 66 escaped bytes: hashed */
    memset(jti, 'a', FHIR_CONSENT_JTI_MAX + 1);
    jti[FHIR_CONSENT_JTI_MAX + 1] = '\0';
    ck_assert_int_eq(fhir_consent_id(jti, id), ERR_INVAL);
}
END_TEST

START_TEST(test_state_of)
{
    const char *s = "2026-11-23T00:00:00Z", *e = "2027-11-23T00:00:00Z";
    enum fhir_consent_state st = FHIR_CONSENT_STATE_ACTIVE;
    const int64_t start = 1795392000, end = 1826928000; /* s and e */

    ck_assert_int_eq(fhir_consent_state_of(s, e, false, start - 1, &st), ERR_OK);
    ck_assert_int_eq(st, FHIR_CONSENT_STATE_PENDING);
    ck_assert_int_eq(fhir_consent_state_of(s, e, false, start, &st), ERR_OK);
    ck_assert_int_eq(st, FHIR_CONSENT_STATE_ACTIVE);
    ck_assert_int_eq(fhir_consent_state_of(s, e, false, end - 1, &st), ERR_OK);
    ck_assert_int_eq(st, FHIR_CONSENT_STATE_ACTIVE);
    ck_assert_int_eq(fhir_consent_state_of(s, e, false, end, &st), ERR_OK);
    ck_assert_int_eq(st, FHIR_CONSENT_STATE_EXPIRED);
    ck_assert_int_eq(fhir_consent_state_of(s, e, true, start, &st), ERR_OK);
    ck_assert_int_eq(st, FHIR_CONSENT_STATE_REVOKED);
    ck_assert_int_eq(fhir_consent_state_of("2026-11-23T01:00:00+01:00", e, false, start, &st),
                     ERR_OK);
    ck_assert_int_eq(st, FHIR_CONSENT_STATE_ACTIVE);
    ck_assert_int_eq(fhir_consent_state_of("2026-11-23", e, false, start, &st), ERR_INVAL);
    ck_assert_int_eq(st, FHIR_CONSENT_STATE_ACTIVE);
    ck_assert_int_eq(fhir_consent_state_of(s, "2027-02-29T00:00:00Z", false, start, &st),
                     ERR_INVAL);
}
END_TEST

START_TEST(test_malformed_grants_make_no_resource)
{
    struct fhir_consent_grant g;

    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    g.nhs[9] = '0';
    ck_assert_ptr_null(fhir_consent_to_resource(&g, pol));
    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "a81001");
    ck_assert_ptr_null(fhir_consent_to_resource(&g, pol));
    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    g.ndatatypes = 0;
    ck_assert_ptr_null(fhir_consent_to_resource(&g, pol));
    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    snprintf(g.end, sizeof(g.end), "2027-11-23");
    ck_assert_ptr_null(fhir_consent_to_resource(&g, pol));
    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    g.jti[0] = '\0';
    ck_assert_ptr_null(fhir_consent_to_resource(&g, pol));
    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    g.state = 0;
    ck_assert_ptr_null(fhir_consent_to_resource(&g, pol));
    /* Without a policy: no category displays, still valid. */
    grant_make(&g, FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    {
        cJSON *r = reparse(fhir_consent_to_resource(&g, NULL));

        ck_assert_ptr_null(at(r, "provision.class.0.display"));
        ck_assert_int_eq(fhir_consent_check(r, why, sizeof(why)), ERR_OK);
        cJSON_Delete(r);
    }
}
END_TEST

/* A Consent as an enroller would submit it for a patient who consented on paper. */
static const char paper[] =
    "{\"resourceType\":\"Consent\",\"status\":\"active\","
    "\"scope\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/consentscope\","
    "\"code\":\"patient-privacy\"}]},"
    "\"category\":[{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"59284-0\"}]}],"
    "\"patient\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\","
    "\"value\":\"9434765919\"}},"
    "\"dateTime\":\"2026-11-20T14:05:00+00:00\","
    "\"policyRule\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\","
    "\"code\":\"OPTIN\"}]},"
    "\"provision\":{\"type\":\"permit\","
    "\"period\":{\"start\":\"2026-11-23T00:00:00Z\",\"end\":\"2027-11-23T00:00:00Z\"},"
    "\"actor\":[{\"role\":{\"coding\":[{\"system\":"
    "\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\",\"code\":\"IRCP\"}]},"
    "\"reference\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/ods-organization-code\","
    "\"value\":\"A81001\"}}}],"
    "\"action\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/consentaction\","
    "\"code\":\"access\"}]}],"
    "\"purpose\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\","
    "\"code\":\"TREAT\"}],"
    "\"class\":[{\"system\":\"https://consentd.example/fhir/CodeSystem/data-category\","
    "\"code\":\"gp-record\"},"
    "{\"system\":\"https://consentd.example/fhir/CodeSystem/data-category\","
    "\"code\":\"medications\"}]}}";

/*
 * paper_try parses paper, sets member of the object at path to json (removes it if json is
 * NULL) and reads the result; returns what fhir_consent_from_resource returned.
 */
static enum err
paper_try(const char *path, const char *member, const char *json, struct fhir_consent_grant *g,
          char expr[static FHIR_CONSENT_EXPR_MAX])
{
    cJSON *doc = cJSON_Parse(paper), *o;
    enum err rc;

    ck_assert_ptr_nonnull(doc);
    o = path[0] == '\0' ? doc : at(doc, path);
    ck_assert_ptr_nonnull(o);
    if (member != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, member);
        if (json != NULL) {
            cJSON *v = cJSON_Parse(json);

            ck_assert_msg(v != NULL, "bad test JSON %s", json);
            cJSON_AddItemToObject(o, member, v);
        }
    }
    rc = fhir_consent_from_resource(doc, pol, g, why, sizeof(why), expr, FHIR_CONSENT_EXPR_MAX);
    cJSON_Delete(doc);
    return rc;
}

START_TEST(test_paper_consent_is_read)
{
    char expr[FHIR_CONSENT_EXPR_MAX];
    struct fhir_consent_grant g;

    ck_assert_msg(paper_try("", NULL, NULL, &g, expr) == ERR_OK, "%s at %s", why, expr);
    ck_assert_str_eq(g.nhs, PATIENT);
    ck_assert_int_eq(g.effect, FHIR_CONSENT_PERMIT);
    ck_assert_int_eq(g.grantee, FHIR_CONSENT_GRANTEE_ORG);
    ck_assert_str_eq(g.grantee_value, "A81001");
    ck_assert_str_eq(g.purpose, "TREAT");
    ck_assert_uint_eq(g.ndatatypes, 2);
    ck_assert_str_eq(g.datatypes[1], "medications");
    ck_assert_uint_eq(g.actions, FHIR_CONSENT_ACTION_READ);
    ck_assert_str_eq(g.recorded, "2026-11-20T14:05:00Z");
    ck_assert_int_eq(g.source, FHIR_CONSENT_SOURCE_PAPER);

    /* Offsets become UTC; fractions are dropped; Consent.id is the server's to give. */
    ck_assert_int_eq(paper_try("provision", "period",
                               "{\"start\":\"2026-11-23T00:30:00.250+01:00\","
                               "\"end\":\"2027-01-01T00:00:00-05:00\"}",
                               &g, expr),
                     ERR_OK);
    ck_assert_str_eq(g.start, "2026-11-22T23:30:00Z");
    ck_assert_str_eq(g.end, "2027-01-01T05:00:00Z");
    ck_assert_int_eq(paper_try("", "id", "\"chosen-by-client\"", &g, expr), ERR_OK);
    ck_assert_str_eq(g.jti, "");

    /* No actor: anyone. A Group with an organisation type: that type. */
    ck_assert_int_eq(paper_try("provision", "actor", NULL, &g, expr), ERR_OK);
    ck_assert_int_eq(g.grantee, FHIR_CONSENT_GRANTEE_ANY);
    ck_assert_str_eq(g.grantee_value, "");
    ck_assert_int_eq(paper_try("provision.actor.0", "reference",
                               "{\"type\":\"Group\",\"identifier\":{\"system\":"
                               "\"" FHIR_CONSENT_ORG_TYPE_SYSTEM "\",\"value\":\"pharmacy\"}}",
                               &g, expr),
                     ERR_OK);
    ck_assert_int_eq(g.grantee, FHIR_CONSENT_GRANTEE_ROLE);
    ck_assert_str_eq(g.grantee_value, "pharmacy");

    /* ppc-1 is met by a policy too; a deny with OPTOUT; no dateTime at all. */
    ck_assert_int_eq(paper_try("", "policyRule", NULL, &g, expr), ERR_INVAL);
    {
        cJSON *doc = cJSON_Parse(paper);

        cJSON_DeleteItemFromObjectCaseSensitive(doc, "policyRule");
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "dateTime");
        cJSON_AddItemToObject(doc, "policy",
                              cJSON_Parse("[{\"uri\":\"https://consentd.example/policy\"}]"));
        cJSON_ReplaceItemInObjectCaseSensitive(at(doc, "provision"), "type",
                                               cJSON_CreateString("deny"));
        ck_assert_msg(fhir_consent_from_resource(doc, pol, &g, why, sizeof(why), expr,
                                                 sizeof(expr)) == ERR_OK,
                      "%s", why);
        ck_assert_int_eq(g.effect, FHIR_CONSENT_DENY);
        ck_assert_str_eq(g.recorded, "");
        cJSON_Delete(doc);
    }
}
END_TEST

START_TEST(test_paper_refusals_name_the_element)
{
    static const struct {
        const char *path, *member, *json, *expr;
    } cases[] = {
        {"", "resourceType", "\"Patient\"", "Consent"},
        {"", "colour", "\"blue\"", "Consent.colour"},
        {"", "_status", "{\"id\":\"x\"}", "Consent._status"},
        {"", "implicitRules", "\"https://x.example\"", "Consent.implicitRules"},
        {"", "modifierExtension", "[{\"url\":\"https://x.example\",\"valueBoolean\":true}]",
         "Consent.modifierExtension"},
        {"provision.actor.0", "modifierExtension",
         "[{\"url\":\"https://x.example\",\"valueBoolean\":true}]",
         "Consent.provision.actor[0].modifierExtension"},
        {"provision.action.0", "modifierExtension",
         "[{\"url\":\"https://x.example\",\"valueBoolean\":true}]",
         "Consent.provision.action[0].modifierExtension"},
        {"", "status", "\"proposed\"", "Consent.status"},
        {"", "status", NULL, "Consent.status"},
        {"scope.coding.0", "code", "\"research\"", "Consent.scope"},
        {"", "scope", NULL, "Consent.scope"},
        {"", "category", NULL, "Consent.category"},
        {"", "category", "[]", "Consent.category"},
        {"patient.identifier", "system", "\"https://x.example/mrn\"", "Consent.patient.identifier"},
        {"patient.identifier", "value", "\"9434765910\"", "Consent.patient.identifier"},
        {"", "patient", NULL, "Consent.patient.identifier"},
        {"", "dateTime", "\"2026-11-20\"", "Consent.dateTime"},
        {"", "dateTime", "\"2026-11-20T14:05:00\"", "Consent.dateTime"},
        {"", "policyRule", NULL, "Consent.policyRule"},
        {"policyRule.coding.0", "code", "\"OPTOUT\"", "Consent.policyRule"},
        {"", "provision", NULL, "Consent.provision"},
        {"", "provision", "[]", "Consent.provision"},
        {"provision", "type", "\"maybe\"", "Consent.provision.type"},
        {"provision", "type", NULL, "Consent.provision.type"},
        {"provision", "code", "[{\"text\":\"x\"}]", "Consent.provision.code"},
        {"provision", "securityLabel", "[{\"code\":\"R\"}]", "Consent.provision.securityLabel"},
        {"provision", "dataPeriod", "{\"start\":\"2020-01-01\"}", "Consent.provision.dataPeriod"},
        {"provision", "data", "[{\"meaning\":\"instance\"}]", "Consent.provision.data"},
        {"provision", "provision", "[{\"type\":\"deny\"}]", "Consent.provision.provision"},
        {"provision", "weight", "1", "Consent.provision.weight"},
        {"provision", "period", NULL, "Consent.provision.period"},
        {"provision.period", "end", NULL, "Consent.provision.period"},
        {"provision.period", "start", "\"2026-11-23\"", "Consent.provision.period.start"},
        {"provision.period", "start", "\"2026-11-23t00:00:00z\"", "Consent.provision.period.start"},
        {"provision.period", "start", "\"2026-02-29T00:00:00Z\"", "Consent.provision.period.start"},
        {"provision.period", "end", "\"2027-11-23T00:00:00+15:00\"",
         "Consent.provision.period.end"},
        {"provision.period", "end", "\"2026-11-23T00:00:00Z\"", "Consent.provision.period"},
        {"provision.period", "end", "\"2025-01-01T00:00:00Z\"", "Consent.provision.period"},
        {"provision", "actor", "[]", "Consent.provision.actor"},
        {"provision", "actor",
         "[{\"role\":{\"text\":\"x\"},\"reference\":{\"display\":\"a\"}},"
         "{\"role\":{\"text\":\"x\"},\"reference\":{\"display\":\"b\"}}]",
         "Consent.provision.actor"},
        {"provision.actor.0.role.coding.0", "code", "\"PRCP\"", "Consent.provision.actor[0].role"},
        {"provision.actor.0", "role", NULL, "Consent.provision.actor[0].role"},
        {"provision.actor.0", "reference", NULL, "Consent.provision.actor[0].reference"},
        {"provision.actor.0", "colour", "1", "Consent.provision.actor[0].colour"},
        {"provision.actor.0.reference", "reference", "\"Organization/1\"",
         "Consent.provision.actor[0].reference.reference"},
        {"provision.actor.0.reference.identifier", "value", "\"a81001\"",
         "Consent.provision.actor[0].reference.identifier.value"},
        {"provision.actor.0.reference.identifier", "system", "\"https://x.example/org\"",
         "Consent.provision.actor[0].reference.identifier"},
        {"provision.actor.0.reference", "type", "\"Group\"",
         "Consent.provision.actor[0].reference.type"},
        {"provision.actor.0.reference", "identifier",
         "{\"system\":\"" FHIR_CONSENT_ORG_TYPE_SYSTEM "\",\"value\":\"bakery\"}",
         "Consent.provision.actor[0].reference.identifier.value"},
        {"provision", "action", NULL, "Consent.provision.action"},
        {"provision.action.0.coding.0", "code", "\"use\"", "Consent.provision.action[0]"},
        {"provision.action.0", "coding", NULL, "Consent.provision.action[0]"},
        {"provision", "purpose", NULL, "Consent.provision.purpose"},
        {"provision", "purpose",
         "[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\",\"code\":\"TREAT\"},"
         "{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\",\"code\":\"ETREAT\"}]",
         "Consent.provision.purpose"},
        {"provision.purpose.0", "code", "\"HMARKT\"", "Consent.provision.purpose[0]"},
        {"provision.purpose.0", "code", "\"treat\"", "Consent.provision.purpose[0]"},
        {"provision.purpose.0", "system", "\"http://x.example\"", "Consent.provision.purpose[0]"},
        {"provision", "class", NULL, "Consent.provision.class"},
        {"provision", "class", "[]", "Consent.provision.class"},
        {"provision.class.0", "code", "\"dental\"", "Consent.provision.class[0]"},
        {"provision.class.1", "code", "\"gp-record\"", "Consent.provision.class[1]"},
        {"provision.class.1", "system", "\"http://hl7.org/fhir/resource-types\"",
         "Consent.provision.class[1]"},
    };
    char expr[FHIR_CONSENT_EXPR_MAX];
    struct fhir_consent_grant g, zero;
    size_t i;

    memset(&zero, 0, sizeof(zero));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(paper_try(cases[i].path, cases[i].member, cases[i].json, &g, expr) ==
                          ERR_INVAL,
                      "case %zu (%s.%s) was accepted", i, cases[i].path, cases[i].member);
        ck_assert_msg(strcmp(expr, cases[i].expr) == 0, "case %zu: expression \"%s\", not \"%s\"",
                      i, expr, cases[i].expr);
        ck_assert_msg(strlen(why) > 10 && why[strlen(why) - 1] != ' ', "case %zu: \"%s\"", i, why);
        ck_assert_msg(memcmp(&g, &zero, sizeof(g)) == 0, "case %zu left a partial grant", i);
    }
}
END_TEST

START_TEST(test_paper_refusal_small_buffers)
{
    cJSON *doc = cJSON_Parse("{\"resourceType\":\"Consent\",\"colour\":1}");
    struct fhir_consent_grant g;
    char d[8], e[4];

    ck_assert_int_eq(fhir_consent_from_resource(doc, pol, &g, d, sizeof(d), e, sizeof(e)),
                     ERR_INVAL);
    ck_assert_uint_eq(strlen(d), sizeof(d) - 1);
    ck_assert_str_eq(e, "Con");
    ck_assert_int_eq(fhir_consent_from_resource(doc, pol, &g, NULL, 0, NULL, 0), ERR_INVAL);
    ck_assert_int_eq(fhir_consent_from_resource(NULL, pol, &g, NULL, 0, NULL, 0), ERR_INVAL);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(test_outcome)
{
    cJSON *oo = reparse(
        fhir_consent_outcome("invalid", "Consent.status must be \"active\"", "Consent.status"));

    ck_assert_str_eq(str_at(oo, "resourceType"), "OperationOutcome");
    ck_assert_str_eq(str_at(oo, "issue.0.severity"), "error");
    ck_assert_str_eq(str_at(oo, "issue.0.code"), "invalid");
    ck_assert_str_eq(str_at(oo, "issue.0.expression.0"), "Consent.status");
    cJSON_Delete(oo);
    oo = reparse(fhir_consent_outcome("forbidden", "no", NULL));
    ck_assert_ptr_null(at(oo, "issue.0.expression"));
    cJSON_Delete(oo);
}
END_TEST

/* With FHIR_CONSENT_DUMP set, write sample resources there for an external validator. */
START_TEST(test_dump_for_validator)
{
    const char *dir = getenv("FHIR_CONSENT_DUMP");
    struct fhir_consent_grant g[5];
    char path[512], *s;
    cJSON *b;
    FILE *f;

    if (dir == NULL || dir[0] == '\0')
        return;
    grant_make(&g[0], FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    grant_make(&g[1], FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ROLE, "research");
    grant_make(&g[2], FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ANY, "");
    g[2].state = FHIR_CONSENT_STATE_REVOKED;
    g[2].revoke_index = 99;
    grant_make(&g[3], FHIR_CONSENT_PERMIT, FHIR_CONSENT_GRANTEE_ORG, "RXX01");
    g[3].source = FHIR_CONSENT_SOURCE_DELEGATE;
    snprintf(g[3].source_id, sizeof(g[3].source_id), "%s", DELEGATE);
    grant_make(&g[4], FHIR_CONSENT_DENY, FHIR_CONSENT_GRANTEE_ORG, "A81001");
    g[4].source = FHIR_CONSENT_SOURCE_PAPER;
    snprintf(g[4].source_id, sizeof(g[4].source_id), "gp-enroller-1");
    snprintf(g[4].jti, sizeof(g[4].jti), "Zm9v_YmFy");
    snprintf(g[3].jti, sizeof(g[3].jti), "delegated-1");
    b = fhir_consent_bundle(g, 5, pol, "https://consentd.example", NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_msg(fhir_consent_check(b, why, sizeof(why)) == ERR_OK, "%s", why);
    s = cJSON_Print(b);
    snprintf(path, sizeof(path), "%s/consent-bundle.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(s, f);
    fclose(f);
    free(s);
    cJSON_Delete(b);
    snprintf(path, sizeof(path), "%s/paper-consent.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(paper, f);
    fclose(f);
}
END_TEST

Suite *
fhir_consent_suite(void)
{
    Suite *su = suite_create("fhir_consent");
    TCase *tc = tcase_create("fhir_consent");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_resource_shape);
    tcase_add_test(tc, test_every_invariant_holds);
    tcase_add_test(tc, test_check_catches_broken_resources);
    tcase_add_test(tc, test_bundle);
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_state_of);
    tcase_add_test(tc, test_malformed_grants_make_no_resource);
    tcase_add_test(tc, test_paper_consent_is_read);
    tcase_add_test(tc, test_paper_refusals_name_the_element);
    tcase_add_test(tc, test_paper_refusal_small_buffers);
    tcase_add_test(tc, test_outcome);
    tcase_add_test(tc, test_dump_for_validator);
    suite_add_tcase(su, tc);
    return su;
}
