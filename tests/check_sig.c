/*
 * check_sig: RFC 8032 §7.1 known answers and negative tests for Ed25519.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "consentd/keys.h"
#include "consentd/sig.h"
#include "suites.h"

struct kat {
    const char *seed;
    const char *pk;
    const char *msg;
    const char *sig;
};

/* RFC 8032 §7.1, tests 1 to 3. */
static const struct kat kats[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "6594a7c15e9716ed28dc027beceea1ec40a"},
};

static struct keys_pair *key;
static uint8_t pk[KEYS_PUBLIC_BYTES];
static const uint8_t msg[] = "consent is revocable";

/* unhex decodes the hex string s into out and returns the number of bytes. */
static size_t
unhex(const char *s, uint8_t *out)
{
    size_t i, n = strlen(s) / 2;
    unsigned v;

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void
setup(void)
{
    uint8_t seed[KEYS_SEED_BYTES];

    unhex(kats[0].seed, seed);
    ck_assert_int_eq(keys_from_seed(seed, &key), ERR_OK);
    keys_public(key, pk);
}

static void
teardown(void)
{
    keys_free(key);
    key = NULL;
}

START_TEST(test_rfc8032_known_answers)
{
    uint8_t seed[KEYS_SEED_BYTES], want_pk[KEYS_PUBLIC_BYTES], got_pk[KEYS_PUBLIC_BYTES];
    uint8_t m[8], want[SIG_BYTES], got[SIG_BYTES];
    struct keys_pair *k;
    size_t i, mlen;

    for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
        unhex(kats[i].seed, seed);
        unhex(kats[i].pk, want_pk);
        mlen = unhex(kats[i].msg, m);
        unhex(kats[i].sig, want);
        ck_assert_int_eq(keys_from_seed(seed, &k), ERR_OK);
        keys_public(k, got_pk);
        ck_assert_mem_eq(got_pk, want_pk, KEYS_PUBLIC_BYTES);
        sig_sign(k, mlen == 0 ? NULL : m, mlen, got);
        ck_assert_mem_eq(got, want, SIG_BYTES);
        ck_assert_int_eq(sig_verify(want_pk, mlen == 0 ? NULL : m, mlen, want), ERR_OK);
        keys_free(k);
    }
}
END_TEST

START_TEST(test_sign_then_verify)
{
    uint8_t sig[SIG_BYTES];

    sig_sign(key, msg, sizeof(msg), sig);
    ck_assert_int_eq(sig_verify(pk, msg, sizeof(msg), sig), ERR_OK);
}
END_TEST

START_TEST(test_every_signature_bit_flip_fails)
{
    uint8_t sig[SIG_BYTES];
    size_t i;

    sig_sign(key, msg, sizeof(msg), sig);
    for (i = 0; i < SIG_BYTES * 8; i++) {
        sig[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert_int_eq(sig_verify(pk, msg, sizeof(msg), sig), ERR_BADSIG);
        sig[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
}
END_TEST

START_TEST(test_every_message_bit_flip_fails)
{
    uint8_t sig[SIG_BYTES], m[sizeof(msg)];
    size_t i;

    memcpy(m, msg, sizeof(m));
    sig_sign(key, m, sizeof(m), sig);
    for (i = 0; i < sizeof(m) * 8; i++) {
        m[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert_int_eq(sig_verify(pk, m, sizeof(m), sig), ERR_BADSIG);
        m[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
}
END_TEST

START_TEST(test_every_truncation_fails)
{
    uint8_t sig[SIG_BYTES];
    size_t len;

    sig_sign(key, msg, sizeof(msg), sig);
    for (len = 0; len < sizeof(msg); len++)
        ck_assert_int_eq(sig_verify(pk, msg, len, sig), ERR_BADSIG);
}
END_TEST

START_TEST(test_wrong_key_fails)
{
    uint8_t sig[SIG_BYTES], other[KEYS_PUBLIC_BYTES];

    sig_sign(key, msg, sizeof(msg), sig);
    unhex(kats[1].pk, other);
    ck_assert_int_eq(sig_verify(other, msg, sizeof(msg), sig), ERR_BADSIG);
}
END_TEST

START_TEST(test_small_order_key_fails)
{
    /* The identity point: every signature with R = identity and S = 0 would "verify". */
    uint8_t small[KEYS_PUBLIC_BYTES] = {1};
    uint8_t sig[SIG_BYTES] = {1};

    ck_assert_int_eq(sig_verify(small, msg, sizeof(msg), sig), ERR_BADSIG);
}
END_TEST

START_TEST(test_non_canonical_s_fails)
{
    /* S + L, with L the group order, is the same scalar but not canonical. */
    static const uint8_t order[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                      0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
    uint8_t sig[SIG_BYTES];
    unsigned carry = 0, t;
    size_t i;

    sig_sign(key, msg, sizeof(msg), sig);
    for (i = 0; i < 32; i++) {
        t = sig[32 + i] + order[i] + carry;
        sig[32 + i] = (uint8_t)t;
        carry = t >> 8;
    }
    ck_assert_int_eq(sig_verify(pk, msg, sizeof(msg), sig), ERR_BADSIG);
}
END_TEST

Suite *
sig_suite(void)
{
    Suite *s = suite_create("sig");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rfc8032_known_answers);
    tcase_add_test(tc, test_sign_then_verify);
    tcase_add_test(tc, test_every_signature_bit_flip_fails);
    tcase_add_test(tc, test_every_message_bit_flip_fails);
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_wrong_key_fails);
    tcase_add_test(tc, test_small_order_key_fails);
    tcase_add_test(tc, test_non_canonical_s_fails);
    suite_add_tcase(s, tc);
    return s;
}
