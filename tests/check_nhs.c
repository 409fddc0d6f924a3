/*
 * check_nhs: the Modulus 11 check against the shared vectors, which hold numbers computed from
 * the rule and numbers each wrong in one way.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cJSON.h>

#include "consentd/nhs.h"
#include "suites.h"
#include "testutil.h"

static cJSON *
load_vectors(void)
{
    char *buf = tu_read_file(VECTORS_DIR "/nhs-numbers.json");
    cJSON *j = cJSON_Parse(buf);

    free(buf);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(test_every_valid_vector_passes)
{
    cJSON *j = load_vectors();
    const cJSON *v;
    unsigned n = 0;

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "valid"))
    {
        ck_assert(cJSON_IsString(v));
        ck_assert_msg(nhs_valid(v->valuestring), "%s should be valid", v->valuestring);
        n++;
    }
    ck_assert_uint_gt(n, 0);
    cJSON_Delete(j);
}
END_TEST

START_TEST(test_every_invalid_vector_fails)
{
    cJSON *j = load_vectors();
    const cJSON *v, *value, *why;
    unsigned n = 0;

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "invalid"))
    {
        value = cJSON_GetObjectItemCaseSensitive(v, "value");
        why = cJSON_GetObjectItemCaseSensitive(v, "why");
        ck_assert(cJSON_IsString(value) && cJSON_IsString(why));
        ck_assert_msg(!nhs_valid(value->valuestring), "\"%s\" should be invalid: %s",
                      value->valuestring, why->valuestring);
        n++;
    }
    ck_assert_uint_gt(n, 0);
    cJSON_Delete(j);
}
END_TEST

/* Every single-digit change of a valid number must fail: Modulus 11 catches them all. */
START_TEST(test_every_changed_digit_fails)
{
    char s[NHS_LEN + 1];
    size_t i;
    char d;

    for (i = 0; i < NHS_LEN; i++) {
        for (d = '0'; d <= '9'; d++) {
            memcpy(s, "9434765919", sizeof(s));
            if (s[i] == d)
                continue;
            s[i] = d;
            ck_assert_msg(!nhs_valid(s), "%s should be invalid", s);
        }
    }
}
END_TEST

START_TEST(test_check_digit_eleven_is_zero_and_junk_fails)
{
    /* 943476508's weighted sum is 286 = 26 * 11: 11 - 0 is 11, which is written 0. */
    ck_assert(nhs_valid("9434765080"));
    ck_assert(!nhs_valid("9434765081"));
    ck_assert(!nhs_valid("943476508"));
    ck_assert(!nhs_valid(NULL));
    ck_assert(!nhs_valid("943476591\n"));
    ck_assert(!nhs_valid("-434765919"));
}
END_TEST

Suite *
nhs_suite(void)
{
    Suite *su = suite_create("nhs");
    TCase *tc = tcase_create("nhs");

    tcase_add_test(tc, test_every_valid_vector_passes);
    tcase_add_test(tc, test_every_invalid_vector_fails);
    tcase_add_test(tc, test_every_changed_digit_fails);
    tcase_add_test(tc, test_check_digit_eleven_is_zero_and_junk_fails);
    suite_add_tcase(su, tc);
    return su;
}
