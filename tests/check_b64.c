/*
 * check_b64: RFC 4648 known answers and strict decoding.
 */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "consentd/b64.h"
#include "suites.h"

struct kat {
    const char *bin;
    const char *std;
    const char *url;
};

/* RFC 4648 §10. */
static const struct kat kats[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

/* decode_rc decodes the NUL-terminated s and returns the result code. */
static enum err
decode_rc(const char *s, enum b64_variant v)
{
    uint8_t out[64];
    size_t n = 99;
    enum err rc;

    rc = b64_decode(s, strlen(s), v, out, sizeof(out), &n);
    if (rc != ERR_OK)
        ck_assert_uint_eq(n, 0);
    return rc;
}

START_TEST(test_encode_known_answers)
{
    char out[16];
    size_t i;

    for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
        ck_assert_int_eq(b64_encode((const uint8_t *)kats[i].bin, strlen(kats[i].bin), B64_STD, out,
                                    sizeof(out)),
                         ERR_OK);
        ck_assert_str_eq(out, kats[i].std);
        ck_assert_uint_eq(b64_encoded_len(strlen(kats[i].bin), B64_STD), strlen(kats[i].std));
        ck_assert_int_eq(b64_encode((const uint8_t *)kats[i].bin, strlen(kats[i].bin), B64_URL, out,
                                    sizeof(out)),
                         ERR_OK);
        ck_assert_str_eq(out, kats[i].url);
        ck_assert_uint_eq(b64_encoded_len(strlen(kats[i].bin), B64_URL), strlen(kats[i].url));
    }
}
END_TEST

START_TEST(test_decode_known_answers)
{
    uint8_t out[16];
    size_t i, n;

    for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
        ck_assert_int_eq(
            b64_decode(kats[i].std, strlen(kats[i].std), B64_STD, out, sizeof(out), &n), ERR_OK);
        ck_assert_uint_eq(n, strlen(kats[i].bin));
        ck_assert_mem_eq(out, kats[i].bin, n);
        ck_assert_int_eq(
            b64_decode(kats[i].url, strlen(kats[i].url), B64_URL, out, sizeof(out), &n), ERR_OK);
        ck_assert_uint_eq(n, strlen(kats[i].bin));
        ck_assert_mem_eq(out, kats[i].bin, n);
    }
}
END_TEST

START_TEST(test_alphabets_differ)
{
    static const uint8_t bin[] = {0xfb, 0xff, 0xbf};
    char out[8];

    ck_assert_int_eq(b64_encode(bin, sizeof(bin), B64_STD, out, sizeof(out)), ERR_OK);
    ck_assert_str_eq(out, "+/+/");
    ck_assert_int_eq(b64_encode(bin, sizeof(bin), B64_URL, out, sizeof(out)), ERR_OK);
    ck_assert_str_eq(out, "-_-_");
}
END_TEST

START_TEST(test_decode_rejects_whitespace)
{
    ck_assert_int_eq(decode_rc("Zm9v Zg==", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc(" Zm9v", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9v\n", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9v\r\n", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9v\t", B64_URL), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm 9v", B64_URL), ERR_INVAL);
}
END_TEST

START_TEST(test_decode_rejects_wrong_padding)
{
    ck_assert_int_eq(decode_rc("Zg", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zg=", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zg===", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm8", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm8==", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9v=", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9v====", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("=", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zg==", B64_URL), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm8=", B64_URL), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9vY", B64_URL), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Z", B64_URL), ERR_INVAL);
}
END_TEST

START_TEST(test_decode_rejects_trailing_bits)
{
    ck_assert_int_eq(decode_rc("Zh==", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9=", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zh", B64_URL), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9", B64_URL), ERR_INVAL);
}
END_TEST

START_TEST(test_decode_rejects_wrong_alphabet)
{
    ck_assert_int_eq(decode_rc("-_-_", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("+/+/", B64_URL), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9*", B64_STD), ERR_INVAL);
    ck_assert_int_eq(decode_rc("Zm9.", B64_URL), ERR_INVAL);
}
END_TEST

START_TEST(test_decode_rejects_high_bit_characters)
{
    /* libsodium 1.0.18 alone decodes "v" | 0x80 as "v". */
    char s[] = "Zm9vYmFy";
    size_t i;

    for (i = 0; i < 8; i++) {
        s[i] = (char)(s[i] ^ 0x80);
        ck_assert_int_eq(decode_rc(s, B64_STD), ERR_INVAL);
        ck_assert_int_eq(decode_rc(s, B64_URL), ERR_INVAL);
        s[i] = (char)(s[i] ^ 0x80);
    }
    ck_assert_int_eq(decode_rc(s, B64_STD), ERR_OK);
}
END_TEST

START_TEST(test_decode_rejects_embedded_nul)
{
    uint8_t out[8];
    size_t n;

    ck_assert_int_eq(b64_decode("Zm\0v", 4, B64_STD, out, sizeof(out), &n), ERR_INVAL);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_decode_reads_only_slen)
{
    uint8_t out[8];
    size_t n;

    ck_assert_int_eq(b64_decode("Zm9vZm9v!!", 4, B64_STD, out, sizeof(out), &n), ERR_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(out, "foo", 3);
}
END_TEST

START_TEST(test_decode_too_small)
{
    uint8_t out[5];
    size_t n;

    ck_assert_int_eq(b64_decode("Zm9vYmFy", 8, B64_STD, out, sizeof(out), &n), ERR_TOOBIG);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_encode_too_small)
{
    char out[4] = "xyz";

    ck_assert_int_eq(b64_encode((const uint8_t *)"foo", 3, B64_STD, out, sizeof(out)), ERR_TOOBIG);
    ck_assert_int_eq(out[0], '\0');
    ck_assert_int_eq(b64_encode((const uint8_t *)"foo", 3, B64_STD, out, 0), ERR_TOOBIG);
}
END_TEST

START_TEST(test_round_trip_all_lengths)
{
    uint8_t bin[64], back[64];
    char enc[100];
    size_t len, n;
    int v;

    for (len = 0; len < sizeof(bin); len++)
        bin[len] = (uint8_t)(len * 37 + 11);
    for (v = B64_STD; v <= B64_URL; v++) {
        for (len = 0; len <= sizeof(bin); len++) {
            ck_assert_int_eq(b64_encode(bin, len, (enum b64_variant)v, enc, sizeof(enc)), ERR_OK);
            ck_assert_int_eq(
                b64_decode(enc, strlen(enc), (enum b64_variant)v, back, sizeof(back), &n), ERR_OK);
            ck_assert_uint_eq(n, len);
            ck_assert_mem_eq(back, bin, len);
        }
    }
}
END_TEST

Suite *
b64_suite(void)
{
    Suite *s = suite_create("b64");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_encode_known_answers);
    tcase_add_test(tc, test_decode_known_answers);
    tcase_add_test(tc, test_alphabets_differ);
    tcase_add_test(tc, test_decode_rejects_whitespace);
    tcase_add_test(tc, test_decode_rejects_wrong_padding);
    tcase_add_test(tc, test_decode_rejects_trailing_bits);
    tcase_add_test(tc, test_decode_rejects_wrong_alphabet);
    tcase_add_test(tc, test_decode_rejects_high_bit_characters);
    tcase_add_test(tc, test_decode_rejects_embedded_nul);
    tcase_add_test(tc, test_decode_reads_only_slen);
    tcase_add_test(tc, test_decode_too_small);
    tcase_add_test(tc, test_encode_too_small);
    tcase_add_test(tc, test_round_trip_all_lengths);
    suite_add_tcase(s, tc);
    return s;
}
