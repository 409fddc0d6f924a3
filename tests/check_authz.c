/*
 * check_authz: authorization_details parsed strictly against the default policy; the decision
 * behind a consent-checked token on a temporary store (an explicit grant, the implied rule, a
 * refusal, a revocation taking effect at once); the audience; and the access entry it makes,
 * applied through state_apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/access.h"
#include "consentd/authz.h"
#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/policy.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP   (64u * 1024 * 1024)
#define NHS_A "9434765919"
#define NHS_B "9434765870"
#define T0    "2026-11-23T12:00:00Z"
#define GP_EP "https://gp.example/fhir"
#define RX_EP "https://rx1.example/fhir"
#define ISS   "https://consentd.example"

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static char why[STATE_WHY_MAX];
static struct policy *pol;
static struct authz_request *r;
static int64_t t0;

static enum err
append(const char *entry)
{
    uint8_t leaf[HASH_BYTES];
    enum err rc;

    why[0] = '\0';
    rc = state_apply(t, range.size, (const uint8_t *)entry, strlen(entry), why);
    if (rc == ERR_OK)
        ck_assert_int_eq(tlog_append(t, &range, (const uint8_t *)entry, strlen(entry), leaf),
                         ERR_OK);
    return rc;
}

/* client registers client id of org with roles (a JSON array). */
static void
client(const char *id, const char *org, const char *roles)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct keys_pair *k = tu_key(7);
    char e[512], x[64];

    keys_public(k, pk);
    keys_free(k);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"client\",\"time\":\"" T0 "\",\"client_id\":\"%s\","
             "\"org\":\"%s\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},"
             "\"roles\":%s}",
             id, org, x, roles);
    ck_assert_int_eq(append(e), ERR_OK);
}

/* enrol enrols nhs by the client by (so its organisation is the person's GP practice). */
static void
enrol(const char *nhs, unsigned char seed, const char *by)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct keys_pair *k = tu_key(seed);
    char e[512], x[64], kid[KEYS_KID_LEN + 1];

    keys_public(k, pk);
    keys_free(k);
    keys_kid(pk, kid);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"patient.enrol\",\"time\":\"" T0 "\",\"nhs\":\"%s\",\"jwk\":{"
             "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},\"kid\":\"%s\",\"by\":\"%s\"}",
             nhs, x, kid, by);
    ck_assert_int_eq(append(e), ERR_OK);
}

/* paper records a permit for RX1 (TREAT, datatypes) about sub, taken on paper by gp-en. */
static void
paper(const char *sub, const char *jti, const char *effect, const char *dts)
{
    char e[1024];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"consent\",\"time\":\"" T0 "\",\"paper\":{\"sub\":\"%s\","
             "\"jti\":\"%s\",\"effect\":\"%s\",\"grantee\":{\"org\":\"RX1\"},\"purpose\":"
             "\"TREAT\",\"datatypes\":[%s],\"actions\":[\"read\"],\"period\":{\"start\":"
             "\"2026-11-01T00:00:00Z\",\"end\":\"2027-11-01T00:00:00Z\"}},\"by\":\"gp-en\"}",
             sub, jti, effect, dts);
    ck_assert_int_eq(append(e), ERR_OK);
}

static void
pointer(const char *id, const char *custodian, const char *category, const char *code)
{
    char e[1024];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"pointer\",\"time\":\"" T0 "\",\"id\":\"%s\",\"nhs\":\"" NHS_A
             "\",\"custodian\":\"%s\",\"category\":\"%s\",\"record_type\":{\"system\":"
             "\"http://snomed.info/sct\",\"code\":\"%s\",\"display\":\"x\"},\"url\":"
             "\"https://x.example/r\",\"content_type\":\"application/pdf\"}",
             id, custodian, category, code);
    ck_assert_int_eq(append(e), ERR_OK);
}

static void
setup(void)
{
    char pwhy[256];

    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&range);
    ck_assert_int_eq(policy_load("policies/default.json", &pol, pwhy, sizeof(pwhy)), ERR_OK);
    ck_assert_int_eq(consents_time_parse(T0, &t0), ERR_OK);
    r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"A81001\","
                            "\"name\":\"GP\",\"org_type\":\"gp-practice\",\"endpoint\":\"" GP_EP
                            "\"}"),
                     ERR_OK);
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"RX1\","
                            "\"name\":\"Hospital\",\"org_type\":\"hospital\",\"endpoint\":\"" RX_EP
                            "\"}"),
                     ERR_OK);
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"RES01\","
                            "\"name\":\"Research\",\"org_type\":\"research\",\"endpoint\":"
                            "\"https://research.example/fhir\"}"),
                     ERR_OK);
    client("gp-en", "A81001", "[\"enroller\"]");
    enrol(NHS_A, 1, "gp-en");
    enrol(NHS_B, 2, "admin");
}

static void
teardown(void)
{
    free(r);
    policy_free(pol);
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

static enum err
parse(const char *text)
{
    return authz_parse(pol, text, strlen(text), r, why);
}

#define ONE(extra)                                                                                 \
    "[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A "\",\"purpose\":\"TREAT\","        \
    "\"datatypes\":[\"gp-record\"]" extra "}]"

START_TEST(test_parse_accepts_a_well_formed_request)
{
    ck_assert_int_eq(parse("[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
                           "\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\",\"medications\"],"
                           "\"actions\":[\"read\"],\"locations\":[\"" GP_EP "\"]}]"),
                     ERR_OK);
    ck_assert_uint_eq(r->n, 1);
    ck_assert_str_eq(r->d[0].identifier, NHS_A);
    ck_assert_str_eq(r->d[0].purpose, "TREAT");
    ck_assert_uint_eq(r->d[0].categories,
                      (UINT64_C(1) << policy_category_bit(pol, "gp-record")) |
                          (UINT64_C(1) << policy_category_bit(pol, "medications")));
    ck_assert_uint_eq(r->nasked, 1);
    ck_assert_str_eq(r->aud[0], GP_EP);
    ck_assert_uint_eq(r->d[0].locations, 1);
}
END_TEST

START_TEST(test_parse_refuses_every_malformed_request)
{
    static const struct {
        const char *text;
        const char *part;
    } bad[] = {
        {"", "JSON array"},
        {"{}", "JSON array"},
        {"[]", "1 to 8"},
        {"[],\"x\":[]", "JSON array"},
        {ONE("") "x", "JSON array"},
        {"[1]", "must be an object"},
        {"[{\"type\":\"payment\"}]", "care-record-access"},
        {ONE(",\"colour\":1"), "\"colour\""},
        {ONE(",\"break_glass\":{\"reason\":\"\"}"), "break_glass"},
        {ONE(",\"break_glass\":{\"reason\":\"a\\u0007b\"}"), "break_glass"},
        {ONE(",\"break_glass\":{\"reason\":\"x\",\"level\":1}"), "break_glass"},
        {ONE(",\"break_glass\":\"x\""), "break_glass"},
        {"[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
         "\",\"purpose\":\"BTG\",\"datatypes\":[\"gp-record\"]}]",
         "purpose"},
        {"[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
         "\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"break_glass\":{\"reason\":"
         "\"x\"}},{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
         "\",\"purpose\":\"TREAT\",\"datatypes\":[\"medications\"]}]",
         "exactly one"},
        {ONE(",\"type\":\"care-record-access\""), "duplicate"},
        {ONE(",\"actions\":[\"write\"]"), "actions"},
        {ONE(",\"actions\":[]"), "actions"},
        {ONE(",\"locations\":[]"), "locations"},
        {ONE(",\"locations\":[\"a b\"]"), "locations[0]"},
        {ONE(",\"locations\":[\"" GP_EP "\",\"" GP_EP "\"]"), "twice"},
        {"[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
         "\",\"purpose\":\"SHOP\",\"datatypes\":[\"gp-record\"]}]",
         "purpose"},
        {"[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
         "\",\"purpose\":\"TREAT\",\"datatypes\":[\"horoscope\"]}]",
         "datatypes[0]"},
        {"[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
         "\",\"purpose\":\"TREAT\",\"datatypes\":[]}]",
         "datatypes"},
        {"[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
         "\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\",\"gp-record\"]}]",
         "twice"},
        {"[{\"type\":\"care-record-access\",\"identifier\":\"\",\"purpose\":\"TREAT\","
         "\"datatypes\":[\"gp-record\"]}]",
         "identifier"},
        {"[{\"type\":\"care-record-access\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]}]",
         "identifier"},
        {"[\"\xff\"]", "JSON array"},
    };
    char nine[4096] = "[";
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(bad[i].text) == ERR_INVAL, "accepted %s", bad[i].text);
        ck_assert_msg(strstr(why, bad[i].part) != NULL, "%s: %s", bad[i].text, why);
        ck_assert_uint_eq(r->n, 0);
    }
    for (i = 0; i < 9; i++) {
        strcat(nine, i == 0 ? "" : ",");
        strcat(nine, "{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
                     "\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]}");
        if (i == 7) {
            strcat(nine, "]");
            ck_assert_int_eq(parse(nine), ERR_OK);
            nine[strlen(nine) - 1] = '\0';
        }
    }
    strcat(nine, "]");
    ck_assert_int_eq(parse(nine), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "1 to 8"));
    ck_assert_int_eq(parse(ONE("")), ERR_OK);
    ck_assert_uint_eq(r->n, 1);
}
END_TEST

START_TEST(test_locations_must_be_custodians_endpoints)
{
    ck_assert_int_eq(parse(ONE(",\"locations\":[\"" GP_EP "\",\"" RX_EP "\"]")), ERR_OK);
    ck_assert_int_eq(authz_locations(t, pol, r, why), ERR_OK);
    ck_assert_int_eq(parse(ONE(",\"locations\":[\"https://nowhere.example/fhir\"]")), ERR_OK);
    ck_assert_int_eq(authz_locations(t, pol, r, why), ERR_INVAL);
    /* A research organisation may not hold the custodian role: not a record holder. */
    ck_assert_int_eq(parse(ONE(",\"locations\":[\"https://research.example/fhir\"]")), ERR_OK);
    ck_assert_int_eq(authz_locations(t, pol, r, why), ERR_INVAL);
}
END_TEST

START_TEST(test_explicit_grant_permits_and_names_the_grant)
{
    paper(NHS_A, "g1", "permit", "\"gp-record\"");
    pointer("AAAAAAAAAAAAAAAAAAAAAA", "A81001", "gp-record", "824321000000109");
    pointer("BBBBBBBBBBBBBBBBBBBBBA", "RX1", "medications", "721912009");
    ck_assert_int_eq(parse(ONE("")), ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_OK);
    ck_assert_str_eq(r->nhs, NHS_A);
    ck_assert_uint_eq(r->ngrants, 1);
    ck_assert_str_eq(r->grants[0].jti, "g1");
    ck_assert(!r->implied);
    /* The audience: the custodian holding a gp-record pointer, not the medications one. */
    ck_assert_uint_eq(r->naud, 1);
    ck_assert_str_eq(r->aud[0], GP_EP);
}
END_TEST

START_TEST(test_implied_rule_for_the_enrolling_practice)
{
    ck_assert_int_eq(parse(ONE("")), ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "A81001", t0, why), ERR_OK);
    ck_assert(r->implied);
    ck_assert(r->d[0].implied);
    ck_assert_uint_eq(r->ngrants, 0);
    /* Not a sensitive category, and not for another organisation. */
    ck_assert_int_eq(parse("[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
                           "\",\"purpose\":\"TREAT\",\"datatypes\":[\"mental-health\"]}]"),
                     ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "A81001", t0, why), ERR_PERM);
    ck_assert_str_eq(why, AUTHZ_DENIED);
    ck_assert_int_eq(parse(ONE("")), ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_PERM);
    ck_assert_str_eq(why, AUTHZ_DENIED);
    ck_assert_str_eq(r->nhs, "");
}
END_TEST

START_TEST(test_a_later_denial_refuses_at_once)
{
    paper(NHS_A, "g1", "permit", "\"gp-record\"");
    ck_assert_int_eq(parse(ONE("")), ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_OK);
    /* A deny wins over the permit, and names nothing in the refusal. */
    paper(NHS_A, "d1", "deny", "\"gp-record\"");
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_PERM);
    ck_assert_str_eq(why, AUTHZ_DENIED);
}
END_TEST

START_TEST(test_decide_refusals_are_precise)
{
    ck_assert_int_eq(parse("[{\"type\":\"care-record-access\",\"identifier\":\"9434765918\","
                           "\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]}]"),
                     ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "Modulus 11"));
    ck_assert_int_eq(parse("[{\"type\":\"care-record-access\",\"identifier\":\"https://x|1\","
                           "\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]}]"),
                     ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "not linked"));
    ck_assert_int_eq(parse("[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
                           "\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]},{\"type\":"
                           "\"care-record-access\",\"identifier\":\"" NHS_B
                           "\",\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"]}]"),
                     ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "A81001", t0, why), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "one person"));
    ck_assert_int_eq(parse(ONE("")), ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "ZZZ99", t0, why), ERR_AUTH);
}
END_TEST

START_TEST(test_entry_applies_and_granted_details)
{
    char *fields = NULL, *entry;
    const cJSON *g;
    cJSON *a;
    uint64_t index;
    size_t len;

    paper(NHS_A, "g1", "permit", "\"gp-record\"");
    ck_assert_int_eq(parse(ONE(",\"locations\":[\"" RX_EP "\"]")), ERR_OK);
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_OK);
    ck_assert_uint_eq(r->naud, 1);
    ck_assert_int_eq(
        authz_entry(pol, r, "tok-1", "rx-req", "RX1", ISS, t0, t0 + 300, &fields, &len), ERR_OK);
    entry = malloc(len + 64);
    snprintf(entry, len + 64, "{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\",%.*s}", (int)len,
             fields);
    ck_assert_int_eq(append(entry), ERR_OK);
    ck_assert_int_eq(access_get(t, "tok-1", &index), ERR_OK);
    ck_assert_uint_eq(index, range.size - 1);
    ck_assert_int_eq(append(entry), ERR_CONFLICT);
    a = authz_granted(pol, r);
    ck_assert_int_eq(cJSON_GetArraySize(a), 1);
    g = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 0), "grants");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(g, 0), "jti")->valuestring,
                     "g1");
    ck_assert_str_eq(cJSON_GetArrayItem(
                         cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 0), "locations"), 0)
                         ->valuestring,
                     RX_EP);
    cJSON_Delete(a);
    free(entry);
    free(fields);
}
END_TEST

START_TEST(test_break_glass_overrides_a_denial_and_records_the_reason)
{
    char *fields = NULL, *entry;
    const cJSON *o;
    cJSON *a;
    size_t len;

    paper(NHS_A, "d1", "deny", "\"gp-record\"");
    pointer("AAAAAAAAAAAAAAAAAAAAAA", "A81001", "gp-record", "824321000000109");
    ck_assert_int_eq(parse(ONE(",\"break_glass\":{\"reason\":\"unconscious in A&E\"}")), ERR_OK);
    ck_assert(r->break_glass);
    ck_assert_str_eq(r->reason, "unconscious in A&E");
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_OK);
    ck_assert_str_eq(r->nhs, NHS_A);
    ck_assert_uint_eq(r->ngrants, 0);
    ck_assert(!r->implied);
    ck_assert_uint_eq(r->naud, 1);
    ck_assert_str_eq(r->aud[0], GP_EP);
    ck_assert_int_eq(authz_decide(t, pol, r, "ZZZ99", t0, why), ERR_AUTH);
    ck_assert_int_eq(authz_decide(t, pol, r, "RX1", t0, why), ERR_OK);
    ck_assert_int_eq(authz_entry(pol, r, "bg-1", "amb-1", "RX1", ISS, t0, t0 + 120, &fields, &len),
                     ERR_OK);
    entry = malloc(len + 64);
    snprintf(entry, len + 64, "{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\",%.*s}", (int)len,
             fields);
    ck_assert_int_eq(append(entry), ERR_OK);
    ck_assert_ptr_nonnull(strstr(entry, "\"purpose\":\"BTG\""));
    ck_assert_ptr_nonnull(strstr(entry, "\"break_glass\":{\"reason\":\"unconscious in A&E\"}"));
    ck_assert_ptr_null(strstr(entry, "\"grants\""));
    a = authz_granted(pol, r);
    o = cJSON_GetArrayItem(a, 0);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "purpose")->valuestring, "BTG");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "grants"));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(o, "break_glass"), "reason")
                         ->valuestring,
                     "unconscious in A&E");
    cJSON_Delete(a);
    /* The purpose BTG is accepted with break_glass only. */
    ck_assert_int_eq(parse("[{\"type\":\"care-record-access\",\"identifier\":\"" NHS_A
                           "\",\"purpose\":\"BTG\",\"datatypes\":[\"gp-record\"],\"break_glass\":"
                           "{\"reason\":\"x\"}}]"),
                     ERR_OK);
    free(entry);
    free(fields);
}
END_TEST

Suite *
authz_suite(void)
{
    Suite *su = suite_create("authz");
    TCase *tc = tcase_create("authz");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parse_accepts_a_well_formed_request);
    tcase_add_test(tc, test_parse_refuses_every_malformed_request);
    tcase_add_test(tc, test_locations_must_be_custodians_endpoints);
    tcase_add_test(tc, test_explicit_grant_permits_and_names_the_grant);
    tcase_add_test(tc, test_implied_rule_for_the_enrolling_practice);
    tcase_add_test(tc, test_a_later_denial_refuses_at_once);
    tcase_add_test(tc, test_decide_refusals_are_precise);
    tcase_add_test(tc, test_entry_applies_and_granted_details);
    tcase_add_test(tc, test_break_glass_overrides_a_denial_and_records_the_reason);
    suite_add_tcase(su, tc);
    return su;
}
