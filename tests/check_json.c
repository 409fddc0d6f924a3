/*
 * check_json: typed member reads and their sentences.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/json.h"
#include "suites.h"

static char why[JSON_WHY_MAX];

START_TEST(test_only_members)
{
    static const char *const allowed[] = {"a", "b"};
    cJSON *o = cJSON_Parse("{\"a\":1,\"c\":2}");

    ck_assert_int_eq(json_only_members(o, allowed, 2, why), ERR_INVAL);
    ck_assert_str_eq(why, "unknown member \"c\"; allowed: a, b");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "c");
    ck_assert_int_eq(json_only_members(o, allowed, 2, why), ERR_OK);
    cJSON_Delete(o);
}
END_TEST

START_TEST(test_string_rules)
{
    cJSON *o = cJSON_Parse("{\"s\":\"abc\",\"n\":1,\"c\":\"a\\u0001b\"}");
    const char *v;

    ck_assert_int_eq(json_string(o, "s", true, 1, 3, &v, why), ERR_OK);
    ck_assert_str_eq(v, "abc");
    ck_assert_int_eq(json_string(o, "s", true, 4, 9, &v, why), ERR_INVAL);
    ck_assert_str_eq(why, "\"s\" must be 4 to 9 bytes long");
    ck_assert_ptr_null(v);
    ck_assert_int_eq(json_string(o, "n", true, 1, 9, &v, why), ERR_INVAL);
    ck_assert_str_eq(why, "\"n\" must be a string");
    ck_assert_int_eq(json_string(o, "c", true, 1, 9, &v, why), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "\"c\" must not contain control"));
    ck_assert_int_eq(json_string(o, "x", true, 1, 9, &v, why), ERR_INVAL);
    ck_assert_str_eq(why, "\"x\" is required");
    ck_assert_int_eq(json_string(o, "x", false, 1, 9, &v, why), ERR_NOTFOUND);
    cJSON_Delete(o);
}
END_TEST

START_TEST(test_disguising_characters_are_refused)
{
    static const char *const bad[] = {"{\"s\":\"a\\u0085b\"}", "{\"s\":\"a\\u2028b\"}",
                                      "{\"s\":\"a\\u202eb\"}", "{\"s\":\"a\\u2067b\"}",
                                      "{\"s\":\"a\\u200fb\"}", "{\"s\":\"a\\u007fb\"}"};
    const char *v;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *o = cJSON_Parse(bad[i]);
        ck_assert_ptr_nonnull(o);
        ck_assert_msg(json_string(o, "s", true, 1, 9, &v, why) == ERR_INVAL, "%s", bad[i]);
        cJSON_Delete(o);
    }
    {
        cJSON *o = cJSON_Parse("{\"s\":\"Caf\\u00e9 \\u2014 \\u4e2d\"}");
        ck_assert_int_eq(json_string(o, "s", true, 1, 32, &v, why), ERR_OK);
        cJSON_Delete(o);
    }
}
END_TEST

START_TEST(test_u64_is_exact)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    json_add_u64(o, "n", UINT64_C(18446744073709551615));
    json_add_u64(o, "m", UINT64_C(1000000000000000));
    text = cJSON_PrintUnformatted(o);
    ck_assert_str_eq(text, "{\"n\":18446744073709551615,\"m\":1000000000000000}");
    free(text);
    cJSON_Delete(o);
}
END_TEST

START_TEST(test_fields_text_strips_braces)
{
    cJSON *o = cJSON_CreateObject();
    char *text;
    size_t len;

    cJSON_AddStringToObject(o, "ods", "A1");
    cJSON_AddStringToObject(o, "name", "Q \"R\"");
    ck_assert_int_eq(json_fields_text(o, &text, &len), ERR_OK);
    ck_assert_str_eq(text, "\"ods\":\"A1\",\"name\":\"Q \\\"R\\\"\"");
    ck_assert_uint_eq(len, strlen(text));
    free(text);
    cJSON_Delete(o);
}
END_TEST

Suite *
json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");

    tcase_add_test(tc, test_only_members);
    tcase_add_test(tc, test_string_rules);
    tcase_add_test(tc, test_disguising_characters_are_refused);
    tcase_add_test(tc, test_u64_is_exact);
    tcase_add_test(tc, test_fields_text_strips_braces);
    suite_add_tcase(s, tc);
    return s;
}
