/*
 * check_policy: every policy document in policies/ loads; broken ones are refused precisely.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "consentd/policy.h"
#include "suites.h"

static char why[256];

static enum err
parse(const char *doc, struct policy **p)
{
    return policy_parse(doc, strlen(doc), p, why, sizeof(why));
}

START_TEST(test_every_shipped_policy_loads)
{
    struct policy *p = NULL;
    struct dirent *e;
    char path[512];
    DIR *d = opendir("policies");
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "policies/%s", e->d_name);
        ck_assert_msg(policy_load(path, &p, why, sizeof(why)) == ERR_OK, "%s: %s", path, why);
        policy_free(p);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 1);
}
END_TEST

START_TEST(test_default_policy_types)
{
    struct policy *p = NULL;
    char list[256];

    ck_assert_int_eq(policy_load("policies/default.json", &p, why, sizeof(why)), ERR_OK);
    ck_assert(policy_org_type_known(p, "gp-practice"));
    ck_assert(policy_org_type_known(p, "hospital"));
    ck_assert(!policy_org_type_known(p, "GP-PRACTICE"));
    ck_assert(!policy_org_type_known(p, ""));
    policy_org_type_list(p, list, sizeof(list));
    ck_assert_ptr_nonnull(strstr(list, "gp-practice, hospital"));
    policy_free(p);
}
END_TEST

START_TEST(test_broken_documents_are_refused_with_reasons)
{
    static const struct {
        const char *doc;
        const char *why;
    } cases[] = {
        {"{}", "\"version\" must be 1"},
        {"{\"version\":2,\"org_types\":{}}", "\"version\" must be 1"},
        {"{\"version\":1}", "\"org_types\" must be a non-empty object"},
        {"{\"version\":1,\"org_types\":{}}", "\"org_types\" must be a non-empty object"},
        {"{\"version\":1,\"org_types\":{\"x\":{}},\"extra\":1}", "unknown member \"extra\""},
        {"{\"version\":1,\"org_types\":{\"Bad Name\":{}}}", "must be 1-64 characters"},
        {"{\"version\":1,\"org_types\":{\"gp\":{\"roles\":[\"king\"]}}}", "each role must be"},
        {"{\"version\":1,\"org_types\":{\"gp\":{\"roles\":\"custodian\"}}}", "must be an array"},
        {"{\"version\":1,\"org_types\":{\"gp\":{\"display\":\"\"}}}", "non-empty string"},
        {"{\"version\":1,\"org_types\":{\"gp\":{\"colour\":1}}}", "unknown member \"colour\""},
        {"{\"version\":1,\"version\":1,\"org_types\":{\"gp\":{}}}", "duplicate"},
        {"[1]", "not a valid JSON object"},
    };
    struct policy *p = NULL;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        ck_assert_int_ne(parse(cases[i].doc, &p), ERR_OK);
        ck_assert_ptr_null(p);
        ck_assert_msg(strstr(why, cases[i].why) != NULL, "%s: got \"%s\"", cases[i].doc, why);
    }
}
END_TEST

START_TEST(test_default_policy_categories_and_purposes)
{
    struct policy *p = NULL;
    char list[256];

    ck_assert_int_eq(policy_load("policies/default.json", &p, why, sizeof(why)), ERR_OK);
    ck_assert(policy_category_known(p, "gp-record"));
    ck_assert(policy_category_known(p, "mental-health"));
    ck_assert(!policy_category_known(p, "Mental-Health"));
    ck_assert(!policy_category_known(p, ""));
    ck_assert(policy_category_sensitive(p, "mental-health"));
    ck_assert(policy_category_sensitive(p, "sexual-health"));
    ck_assert(!policy_category_sensitive(p, "gp-record"));
    ck_assert(!policy_category_sensitive(p, "no-such-category"));
    ck_assert_str_eq(policy_category_display(p, "care-plans"), "Care plans");
    ck_assert_ptr_null(policy_category_display(p, "nope"));
    ck_assert_str_eq(policy_category_of_type(p, POLICY_SNOMED_SYSTEM, "736253002"),
                     "mental-health");
    ck_assert_str_eq(policy_category_of_type(p, POLICY_SNOMED_SYSTEM, "861421000000109"),
                     "care-plans");
    ck_assert_ptr_null(policy_category_of_type(p, "http://snomed.info/sct/", "736253002"));
    ck_assert_ptr_null(policy_category_of_type(p, "http://loinc.org", "736253002"));
    ck_assert_ptr_null(policy_category_of_type(p, POLICY_SNOMED_SYSTEM, "22298006"));
    policy_category_list(p, list, sizeof(list));
    ck_assert_ptr_nonnull(strstr(list, "gp-record, medications"));
    ck_assert(policy_purpose_known(p, "TREAT"));
    ck_assert(policy_purpose_known(p, "ETREAT"));
    ck_assert(policy_purpose_known(p, "CAREMGT"));
    ck_assert(policy_purpose_known(p, "HRESCH"));
    ck_assert(policy_purpose_known(p, "PUBHLTH"));
    ck_assert(!policy_purpose_known(p, "treat"));
    ck_assert(!policy_purpose_known(p, "BTG"));
    policy_free(p);
}
END_TEST

START_TEST(test_types_and_purposes_in_order_with_displays)
{
    struct policy *p = NULL;
    const char *display;

    ck_assert_int_eq(policy_load("policies/default.json", &p, why, sizeof(why)), ERR_OK);
    ck_assert_str_eq(policy_org_type_at(p, 0, &display), "gp-practice");
    ck_assert_str_eq(display, "GP practice");
    ck_assert_str_eq(policy_org_type_at(p, 4, &display), "pharmacy");
    ck_assert_str_eq(display, "Community pharmacy");
    ck_assert_ptr_null(policy_org_type_at(p, 8, &display));
    ck_assert_ptr_null(display);
    ck_assert_str_eq(policy_purpose_at(p, 0, &display), "TREAT");
    ck_assert_str_eq(display, "Treatment");
    ck_assert_str_eq(policy_purpose_at(p, 4, &display), "PUBHLTH");
    ck_assert_str_eq(display, "Public health");
    ck_assert_ptr_null(policy_purpose_at(p, 5, &display));
    ck_assert_ptr_null(display);
    policy_free(p);
}
END_TEST

START_TEST(test_sctids)
{
    ck_assert(policy_sctid_valid("736253002"));
    ck_assert(policy_sctid_valid("861421000000109"));
    ck_assert(policy_sctid_valid("22298006"));
    ck_assert(!policy_sctid_valid("736253003")); /* check digit */
    ck_assert(!policy_sctid_valid("736253018")); /* partition 01: a description id */
    ck_assert(!policy_sctid_valid("0736253002"));
    ck_assert(!policy_sctid_valid("12345"));
    ck_assert(!policy_sctid_valid("1234567890123456789"));
    ck_assert(!policy_sctid_valid("73625300a"));
    ck_assert(!policy_sctid_valid(""));
}
END_TEST

/* A valid document's text with the categories and purposes given (JSON members). */
#define DOC(cats, purposes)                                                                        \
    "{\"version\":1,\"org_types\":{\"gp\":{\"roles\":[\"custodian\"]}}," cats "," purposes "}"
#define CAT(name, body) "\"" name "\":{\"display\":\"D\",\"sensitive\":false," body "}"
#define TYPES(list)     "\"record_types\":[" list "]"
#define RT(code)        "{\"code\":\"" code "\",\"display\":\"d\"}"
#define CATS(list)      "\"categories\":{" list "}"
#define PURPOSES        "\"purposes\":[{\"code\":\"TREAT\",\"display\":\"Treatment\"}]"

START_TEST(test_broken_categories_and_purposes_are_refused)
{
    static const struct {
        const char *doc;
        const char *why;
    } cases[] = {
        {"{\"version\":1,\"org_types\":{\"gp\":{}}}", "\"categories\" must be a non-empty"},
        {DOC("\"categories\":{}", PURPOSES), "\"categories\" must be a non-empty object"},
        {DOC("\"categories\":[]", PURPOSES), "\"categories\" must be a non-empty object"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002")))), "\"purposes\":[]"),
         "\"purposes\" must be a non-empty array"},
        {"{\"version\":1,\"org_types\":{\"gp\":{}}," CATS(CAT("x", TYPES(RT("736253002")))) "}",
         "\"purposes\" must be a non-empty array"},
        {DOC(CATS(CAT("Bad Name", TYPES(RT("736253002")))), PURPOSES),
         "categories: \"Bad Name\" must be 1-64 characters"},
        {DOC(CATS("\"x\":[]"), PURPOSES), "categories.x must be an object"},
        {DOC(CATS("\"x\":{\"sensitive\":false," TYPES(RT("736253002")) "}"), PURPOSES),
         "categories.x needs a \"display\""},
        {DOC(CATS("\"x\":{\"display\":\"\",\"sensitive\":false}"), PURPOSES),
         "categories.x.display must be a non-empty string"},
        {DOC(CATS("\"x\":{\"display\":\"D\"," TYPES(RT("736253002")) "}"), PURPOSES),
         "categories.x.sensitive must be true or false"},
        {DOC(CATS("\"x\":{\"display\":\"D\",\"sensitive\":\"yes\"," TYPES(RT("736253002")) "}"),
             PURPOSES),
         "categories.x.sensitive must be true or false"},
        {DOC(CATS(CAT("x", "\"colour\":1")), PURPOSES), "categories.x: unknown member \"colour\""},
        {DOC(CATS(CAT("x", TYPES(""))), PURPOSES),
         "categories.x.record_types must be a non-empty array"},
        {DOC(CATS(CAT("x", "\"record_types\":{}")), PURPOSES),
         "categories.x.record_types must be a non-empty array"},
        {DOC(CATS(CAT("x", TYPES("\"736253002\""))), PURPOSES),
         "categories.x.record_types: each must be an object"},
        {DOC(CATS(CAT("x", TYPES(RT("736253003")))), PURPOSES),
         "categories.x.record_types[].code must be a SNOMED CT concept id"},
        {DOC(CATS(CAT("x", TYPES("{\"code\":736253002,\"display\":\"d\"}"))), PURPOSES),
         "categories.x.record_types[].code must be a SNOMED CT concept id"},
        {DOC(CATS(CAT("x", TYPES("{\"code\":\"736253002\"}"))), PURPOSES),
         "categories.x.record_types[]: code 736253002 needs a \"display\""},
        {DOC(CATS(CAT("x", TYPES("{\"code\":\"736253002\",\"display\":\"d\",\"system\":\"s\"}"))),
             PURPOSES),
         "categories.x.record_types[]: unknown member \"system\""},
        {DOC(CATS(CAT("x", TYPES(RT("736253002") "," RT("736253002")))), PURPOSES),
         "categories.x.record_types: code 736253002 is listed twice"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002"))) "," CAT("y", TYPES(RT("736253002")))), PURPOSES),
         "categories.y.record_types: code 736253002 is already covered by category x"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002"))) "," CAT("x", TYPES(RT("22298006")))), PURPOSES),
         "duplicate"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002")))), "\"purposes\":{\"TREAT\":{}}"),
         "\"purposes\" must be a non-empty array"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002")))), "\"purposes\":[\"TREAT\"]"),
         "purposes: each must be an object"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002")))), "\"purposes\":[{\"code\":\"treat\"}]"),
         "purposes[].code must be an HL7 v3 PurposeOfUse code"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002")))), "\"purposes\":[{\"code\":\"TREAT\"}]"),
         "purposes[TREAT].display must be a non-empty string"},
        {DOC(CATS(CAT("x", TYPES(RT("736253002")))),
             "\"purposes\":[{\"code\":\"TREAT\",\"display\":\"T\",\"x\":1}]"),
         "purposes[]: unknown member \"x\""},
        {DOC(CATS(CAT("x", TYPES(RT("736253002")))),
             "\"purposes\":[{\"code\":\"TREAT\",\"display\":\"T\"},{\"code\":\"TREAT\","
             "\"display\":\"T\"}]"),
         "purposes: code TREAT is listed twice"},
    };
    struct policy *p = NULL;
    size_t i;

    /* The macros make valid documents when nothing is broken. */
    ck_assert_msg(parse(DOC(CATS(CAT("x", TYPES(RT("736253002")))), PURPOSES), &p) == ERR_OK, "%s",
                  why);
    ck_assert(policy_category_known(p, "x"));
    policy_free(p);
    p = NULL;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        ck_assert_int_ne(parse(cases[i].doc, &p), ERR_OK);
        ck_assert_ptr_null(p);
        ck_assert_msg(strstr(why, cases[i].why) != NULL, "%s: got \"%s\"", cases[i].doc, why);
    }
}
END_TEST

START_TEST(test_token_lifetimes)
{
    static const struct {
        const char *lifetimes;
        const char *why;
    } bad[] = {
        {"[]", "\"token_lifetimes\" must be an object"},
        {"{\"default\":300}", "token_lifetimes.break_glass"},
        {"{\"default\":300,\"break_glass\":400}", "token_lifetimes.break_glass"},
        {"{\"default\":5,\"break_glass\":5}", "token_lifetimes.default"},
        {"{\"default\":30.5,\"break_glass\":10}", "token_lifetimes.default"},
        {"{\"default\":7200,\"break_glass\":10}", "token_lifetimes.default"},
        {"{\"default\":300,\"break_glass\":120,\"x\":1}", "unknown member \"x\""},
    };
    char doc[1024];
    struct policy *p = NULL;
    size_t i;

    ck_assert_int_eq(policy_load("policies/default.json", &p, why, sizeof(why)), ERR_OK);
    ck_assert_int_eq(policy_token_lifetime(p, false), 300);
    ck_assert_int_eq(policy_token_lifetime(p, true), 120);
    ck_assert_str_eq(policy_purpose_display(p, "TREAT"), "Treatment");
    ck_assert_ptr_null(policy_purpose_display(p, "SHOP"));
    policy_free(p);
    /* Without the member, the defaults. */
    ck_assert_int_eq(parse(DOC(CATS(CAT("x", TYPES(RT("736253002")))), PURPOSES), &p), ERR_OK);
    ck_assert_int_eq(policy_token_lifetime(p, false), POLICY_LIFETIME);
    ck_assert_int_eq(policy_token_lifetime(p, true), POLICY_LIFETIME_BREAK_GLASS);
    policy_free(p);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(doc, sizeof(doc), "%.*s,\"token_lifetimes\":%s}",
                 (int)strlen(DOC(CATS(CAT("x", TYPES(RT("736253002")))), PURPOSES)) - 1,
                 DOC(CATS(CAT("x", TYPES(RT("736253002")))), PURPOSES), bad[i].lifetimes);
        ck_assert_msg(parse(doc, &p) == ERR_INVAL, "accepted %s", bad[i].lifetimes);
        ck_assert_msg(strstr(why, bad[i].why) != NULL, "%s: %s", bad[i].lifetimes, why);
        ck_assert_ptr_null(p);
    }
}
END_TEST

START_TEST(test_missing_file_is_io)
{
    struct policy *p = NULL;

    ck_assert_int_eq(policy_load("policies/nope.json", &p, why, sizeof(why)), ERR_IO);
    ck_assert_ptr_nonnull(strstr(why, "cannot read the policy"));
}
END_TEST

Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("policy");

    tcase_add_test(tc, test_every_shipped_policy_loads);
    tcase_add_test(tc, test_default_policy_types);
    tcase_add_test(tc, test_broken_documents_are_refused_with_reasons);
    tcase_add_test(tc, test_default_policy_categories_and_purposes);
    tcase_add_test(tc, test_types_and_purposes_in_order_with_displays);
    tcase_add_test(tc, test_sctids);
    tcase_add_test(tc, test_broken_categories_and_purposes_are_refused);
    tcase_add_test(tc, test_token_lifetimes);
    tcase_add_test(tc, test_missing_file_is_io);
    suite_add_tcase(s, tc);
    return s;
}
