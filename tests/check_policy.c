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
    tcase_add_test(tc, test_missing_file_is_io);
    suite_add_tcase(s, tc);
    return s;
}
