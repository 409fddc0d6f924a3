/*
 * check_jstrict: the inputs on which cJSON and another parser could disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cJSON.h>

#include "consentd/jstrict.h"
#include "suites.h"

/* parse_rc parses buf[0..len), checks the failure contract, and returns the result code. */
static enum err
parse_rc(const char *buf, size_t len)
{
    const char *why = "unset";
    cJSON *out = (cJSON *)1;
    enum err rc;

    rc = jstrict_parse(buf, len, &out, &why);
    if (rc == ERR_OK) {
        ck_assert_ptr_nonnull(out);
        ck_assert(cJSON_IsObject(out));
        cJSON_Delete(out);
    } else {
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(why);
        ck_assert_str_ne(why, "unset");
    }
    return rc;
}

static enum err
parse_str(const char *s)
{
    return parse_rc(s, strlen(s));
}

/*
 * nested returns a malloc'd object holding depth containers in all: {"a":{"a":...{}...}}, or
 * with arrays, {"a":[[...[]...]]}.
 */
static char *
nested(int depth, int arrays)
{
    char *s = malloc((size_t)depth * 6 + 8);
    size_t n = 0;
    int i;

    ck_assert_ptr_nonnull(s);
    if (arrays) {
        memcpy(s, "{\"a\":", 5);
        n = 5;
        for (i = 1; i < depth; i++)
            s[n++] = '[';
        for (i = 1; i < depth; i++)
            s[n++] = ']';
        s[n++] = '}';
    } else {
        s[n++] = '{';
        for (i = 1; i < depth; i++) {
            memcpy(s + n, "\"a\":{", 5);
            n += 5;
        }
        for (i = 0; i < depth; i++)
            s[n++] = '}';
    }
    s[n] = '\0';
    return s;
}

START_TEST(test_plain_object_parses)
{
    const char *why = "unset";
    cJSON *out = NULL;
    static const char s[] = "{\"a\":1,\"b\":[true,false,null,\"x\",-0.5e+3],\"c\":{}}";

    ck_assert_int_eq(jstrict_parse(s, strlen(s), &out, &why), ERR_OK);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(out, "a")->valueint, 1);
    cJSON_Delete(out);
}
END_TEST

START_TEST(test_why_may_be_null)
{
    cJSON *out;

    ck_assert_int_eq(jstrict_parse("[]", 2, &out, NULL), ERR_INVAL);
    ck_assert_int_eq(jstrict_parse("{}", 2, &out, NULL), ERR_OK);
    cJSON_Delete(out);
}
END_TEST

START_TEST(test_duplicate_top_level_key)
{
    const char *why = NULL;
    cJSON *out;

    ck_assert_int_eq(parse_str("{\"a\":1,\"a\":2}"), ERR_INVAL);
    ck_assert_int_eq(jstrict_parse("{\"a\":1,\"a\":2}", 13, &out, &why), ERR_INVAL);
    ck_assert_str_eq(why, "duplicate member name");
}
END_TEST

START_TEST(test_duplicate_nested_key)
{
    ck_assert_int_eq(parse_str("{\"x\":{\"a\":1,\"b\":2,\"a\":3}}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"x\":[1,{\"a\":1,\"a\":1}]}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"x\":{\"a\":1},\"y\":{\"a\":1}}"), ERR_OK);
}
END_TEST

START_TEST(test_duplicate_key_by_escape)
{
    ck_assert_int_eq(parse_str("{\"a\":1,\"\\u0061\":2}"), ERR_INVAL);
}
END_TEST

START_TEST(test_duplicate_key_in_large_object)
{
    char buf[2048];
    size_t n = 0;
    int i;

    buf[n++] = '{';
    for (i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"k%d\":%d,", i, i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"k57\":0}");
    ck_assert_int_eq(parse_rc(buf, n), ERR_INVAL);
    memcpy(buf + n - 5, "x", 1);
    ck_assert_int_eq(parse_rc(buf, n), ERR_OK);
}
END_TEST

START_TEST(test_trailing_garbage_refused)
{
    ck_assert_int_eq(parse_str("{} x"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{}{}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{},"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{}]"), ERR_INVAL);
}
END_TEST

START_TEST(test_whitespace_around_ok)
{
    ck_assert_int_eq(parse_str("{} \t\r\n"), ERR_OK);
    ck_assert_int_eq(parse_str(" \n{ \"a\" : [ 1 , 2 ] }"), ERR_OK);
}
END_TEST

START_TEST(test_reads_only_len)
{
    ck_assert_int_eq(parse_rc("{}garbage", 2), ERR_OK);
    ck_assert_int_eq(parse_rc("{\"a\":1}", 6), ERR_INVAL);
}
END_TEST

START_TEST(test_invalid_utf8_refused)
{
    ck_assert_int_eq(parse_str("{\"a\":\"\xff\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\x80\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\xe2\x82\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"\xfe\":1}"), ERR_INVAL);
}
END_TEST

START_TEST(test_overlong_utf8_refused)
{
    ck_assert_int_eq(parse_str("{\"a\":\"\xc0\xaf\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\xc1\xbf\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\xe0\x80\xaf\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\xf0\x80\x80\xaf\"}"), ERR_INVAL);
    /* An overlong quote must not end the string for anyone. */
    ck_assert_int_eq(parse_str("{\"a\":\"\xc0\xa2}"), ERR_INVAL);
}
END_TEST

START_TEST(test_surrogates_refused)
{
    ck_assert_int_eq(parse_str("{\"a\":\"\xed\xa0\x80\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\xed\xbf\xbf\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\\ud800\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\\udc00\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\\ud800\\u0041\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\\ud83d\\ude00\"}"), ERR_OK);
}
END_TEST

START_TEST(test_above_max_code_point_refused)
{
    ck_assert_int_eq(parse_str("{\"a\":\"\xf4\x90\x80\x80\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\xf5\x80\x80\x80\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":\"\xf4\x8f\xbf\xbf\"}"), ERR_OK);
}
END_TEST

START_TEST(test_valid_utf8_ok)
{
    ck_assert_int_eq(parse_str("{\"\xe2\x82\xac\":\"\xf0\x9f\x98\x80 caf\xc3\xa9\"}"), ERR_OK);
}
END_TEST

START_TEST(test_raw_nul_refused)
{
    ck_assert_int_eq(parse_rc("{\"a\":\"b\0c\"}", 11), ERR_INVAL);
    ck_assert_int_eq(parse_rc("{}\0", 3), ERR_INVAL);
}
END_TEST

START_TEST(test_escaped_nul_refused)
{
    ck_assert_int_eq(parse_str("{\"a\":\"b\\u0000c\"}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\\u0000b\":1}"), ERR_INVAL);
    ck_assert_int_eq(parse_str("{\"a\":[\"\\u0000\"]}"), ERR_INVAL);
}
END_TEST

START_TEST(test_escaped_backslash_before_u0000_ok)
{
    cJSON *out;

    ck_assert_int_eq(parse_str("{\"a\":\"\\\\u0000\"}"), ERR_OK);
    ck_assert_int_eq(jstrict_parse("{\"a\":\"\\\\u0000\"}", 15, &out, NULL), ERR_OK);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(out, "a")->valuestring, "\\u0000");
    cJSON_Delete(out);
    ck_assert_int_eq(parse_str("{\"a\":\"\\\\\\u0000\"}"), ERR_INVAL);
}
END_TEST

START_TEST(test_bom_refused)
{
    ck_assert_int_eq(parse_str("\xef\xbb\xbf{}"), ERR_INVAL);
}
END_TEST

START_TEST(test_depth_32_ok)
{
    char *s = nested(JSTRICT_MAX_DEPTH, 0);

    ck_assert_int_eq(parse_str(s), ERR_OK);
    free(s);
    s = nested(JSTRICT_MAX_DEPTH, 1);
    ck_assert_int_eq(parse_str(s), ERR_OK);
    free(s);
}
END_TEST

START_TEST(test_depth_33_refused)
{
    char *s = nested(JSTRICT_MAX_DEPTH + 1, 0);

    ck_assert_int_eq(parse_str(s), ERR_INVAL);
    free(s);
    s = nested(JSTRICT_MAX_DEPTH + 1, 1);
    ck_assert_int_eq(parse_str(s), ERR_INVAL);
    free(s);
}
END_TEST

START_TEST(test_very_deep_refused)
{
    char *s = malloc(200001);
    size_t i;

    ck_assert_ptr_nonnull(s);
    s[0] = '{';
    memcpy(s + 1, "\"a\":", 4);
    for (i = 5; i < 200000; i++)
        s[i] = '[';
    s[200000] = '\0';
    ck_assert_int_eq(parse_str(s), ERR_INVAL);
    free(s);
}
END_TEST

START_TEST(test_non_object_top_level_refused)
{
    ck_assert_int_eq(parse_str("[]"), ERR_INVAL);
    ck_assert_int_eq(parse_str("\"s\""), ERR_INVAL);
    ck_assert_int_eq(parse_str("1"), ERR_INVAL);
    ck_assert_int_eq(parse_str("null"), ERR_INVAL);
    ck_assert_int_eq(parse_str("true"), ERR_INVAL);
    ck_assert_int_eq(parse_str(""), ERR_INVAL);
    ck_assert_int_eq(parse_str("   "), ERR_INVAL);
}
END_TEST

START_TEST(test_huge_numbers_do_not_crash)
{
    char buf[1100];

    parse_str("{\"a\":1e400}");
    parse_str("{\"a\":-1e400}");
    parse_str("{\"a\":1e-400}");
    parse_str("{\"a\":123456789012345678901234567890}");
    memset(buf, '9', sizeof(buf));
    memcpy(buf, "{\"a\":", 5);
    buf[sizeof(buf) - 2] = '}';
    buf[sizeof(buf) - 1] = '\0';
    parse_str(buf);
}
END_TEST

START_TEST(test_lax_numbers_refused)
{
    static const char *const bad[] = {
        "{\"a\":01}",  "{\"a\":1.}",       "{\"a\":.5}", "{\"a\":+1}",  "{\"a\":-}",
        "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1e}", "{\"a\":0x1}", "{\"a\":-01}"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse_str(bad[i]) == ERR_INVAL, "%s", bad[i]);
    ck_assert_int_eq(parse_str("{\"a\":-0.0e-0}"), ERR_OK);
}
END_TEST

START_TEST(test_lax_syntax_refused)
{
    static const char *const bad[] = {
        "{\"a\":1,}",  "{\"a\":[1,]}",      "{'a':1}",           "{a:1}",
        "{\"a\" 1}",   "{\"a\":\"\t\"}",    "{\"a\":\"\\x\"}",   "{\"a\":tru}",
        "{\"a\":\"x}", "{\"a\":1 /* c */}", "{\"a\":\"\\u12\"}", "{"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse_str(bad[i]) == ERR_INVAL, "%s", bad[i]);
}
END_TEST

Suite *
jstrict_suite(void)
{
    Suite *s = suite_create("jstrict");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_plain_object_parses);
    tcase_add_test(tc, test_why_may_be_null);
    tcase_add_test(tc, test_duplicate_top_level_key);
    tcase_add_test(tc, test_duplicate_nested_key);
    tcase_add_test(tc, test_duplicate_key_by_escape);
    tcase_add_test(tc, test_duplicate_key_in_large_object);
    tcase_add_test(tc, test_trailing_garbage_refused);
    tcase_add_test(tc, test_whitespace_around_ok);
    tcase_add_test(tc, test_reads_only_len);
    tcase_add_test(tc, test_invalid_utf8_refused);
    tcase_add_test(tc, test_overlong_utf8_refused);
    tcase_add_test(tc, test_surrogates_refused);
    tcase_add_test(tc, test_above_max_code_point_refused);
    tcase_add_test(tc, test_valid_utf8_ok);
    tcase_add_test(tc, test_raw_nul_refused);
    tcase_add_test(tc, test_escaped_nul_refused);
    tcase_add_test(tc, test_escaped_backslash_before_u0000_ok);
    tcase_add_test(tc, test_bom_refused);
    tcase_add_test(tc, test_depth_32_ok);
    tcase_add_test(tc, test_depth_33_refused);
    tcase_add_test(tc, test_very_deep_refused);
    tcase_add_test(tc, test_non_object_top_level_refused);
    tcase_add_test(tc, test_huge_numbers_do_not_crash);
    tcase_add_test(tc, test_lax_numbers_refused);
    tcase_add_test(tc, test_lax_syntax_refused);
    suite_add_tcase(s, tc);
    return s;
}
