/*
 * check_hash: SHA-256 and keyed BLAKE2b known answers, the two-part hash and the constant-time
 * compare.
 */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "consentd/hash.h"
#include "suites.h"

/* FIPS 180-2 "abc" and the empty string. */
static const uint8_t abc_hash[HASH_BYTES] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
static const uint8_t empty_hash[HASH_BYTES] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};

START_TEST(test_sha256_abc)
{
    uint8_t out[HASH_BYTES];

    hash_sha256((const uint8_t *)"abc", 3, out);
    ck_assert_mem_eq(out, abc_hash, HASH_BYTES);
}
END_TEST

START_TEST(test_sha256_empty)
{
    uint8_t out[HASH_BYTES];

    hash_sha256(NULL, 0, out);
    ck_assert_mem_eq(out, empty_hash, HASH_BYTES);
}
END_TEST

START_TEST(test_sha256_2_is_concatenation)
{
    uint8_t out[HASH_BYTES];

    hash_sha256_2((const uint8_t *)"a", 1, (const uint8_t *)"bc", 2, out);
    ck_assert_mem_eq(out, abc_hash, HASH_BYTES);
    hash_sha256_2(NULL, 0, (const uint8_t *)"abc", 3, out);
    ck_assert_mem_eq(out, abc_hash, HASH_BYTES);
    hash_sha256_2((const uint8_t *)"abc", 3, NULL, 0, out);
    ck_assert_mem_eq(out, abc_hash, HASH_BYTES);
    hash_sha256_2(NULL, 0, NULL, 0, out);
    ck_assert_mem_eq(out, empty_hash, HASH_BYTES);
}
END_TEST

/* BLAKE2b-256 under the key 00 01 … 1f, of "abc" and of nothing (Python's hashlib.blake2b). */
START_TEST(test_keyed_known_answers)
{
    static const uint8_t abc[HASH_BYTES] = {0xd6, 0x3a, 0x32, 0xd3, 0xe4, 0x47, 0x38, 0xd7,
                                            0x90, 0x7f, 0x96, 0x43, 0x16, 0xc2, 0x41, 0xad,
                                            0xab, 0xa0, 0xab, 0xfe, 0xab, 0xc3, 0x23, 0x49,
                                            0x67, 0x75, 0x78, 0xa1, 0x5a, 0x20, 0x3f, 0x7f};
    static const uint8_t empty[HASH_BYTES] = {0x4e, 0x51, 0xe7, 0xa9, 0x13, 0xfc, 0x80, 0x13,
                                              0x7d, 0xa5, 0x28, 0x80, 0xfe, 0xcc, 0xa1, 0x75,
                                              0xbf, 0x81, 0xe1, 0x17, 0xd5, 0xc6, 0x81, 0x26,
                                              0xdc, 0x27, 0x74, 0x03, 0x35, 0x17, 0xea, 0x0d};
    uint8_t key[HASH_BYTES], out[HASH_BYTES];
    size_t i;

    for (i = 0; i < HASH_BYTES; i++)
        key[i] = (uint8_t)i;
    hash_keyed(key, (const uint8_t *)"abc", 3, out);
    ck_assert_mem_eq(out, abc, HASH_BYTES);
    hash_keyed(key, NULL, 0, out);
    ck_assert_mem_eq(out, empty, HASH_BYTES);
    /* Another key, another hash. */
    key[0] ^= 1;
    hash_keyed(key, (const uint8_t *)"abc", 3, out);
    ck_assert(!hash_equal(out, abc));
}
END_TEST

START_TEST(test_hash_equal)
{
    uint8_t a[HASH_BYTES];
    size_t i;

    memcpy(a, abc_hash, HASH_BYTES);
    ck_assert(hash_equal(a, abc_hash));
    for (i = 0; i < HASH_BYTES * 8; i++) {
        a[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert(!hash_equal(a, abc_hash));
        a[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
}
END_TEST

START_TEST(test_random_fills)
{
    uint8_t a[HASH_BYTES] = {0}, b[HASH_BYTES] = {0};

    hash_random(a, sizeof(a));
    hash_random(b, sizeof(b));
    ck_assert(!hash_equal(a, b));
    hash_random(NULL, 0);
}
END_TEST

Suite *
hash_suite(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_sha256_abc);
    tcase_add_test(tc, test_sha256_empty);
    tcase_add_test(tc, test_sha256_2_is_concatenation);
    tcase_add_test(tc, test_keyed_known_answers);
    tcase_add_test(tc, test_hash_equal);
    tcase_add_test(tc, test_random_fills);
    suite_add_tcase(s, tc);
    return s;
}
