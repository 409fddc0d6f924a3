/*
 * check_note: the Go reference implementation's signed note reproduced byte for byte, negative
 * tests for note verification, and checkpoint bodies.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cJSON.h>

#include "consentd/hash.h"
#include "consentd/keys.h"
#include "consentd/note.h"
#include "suites.h"
#include "testutil.h"

static cJSON *vec;
static const char *signer_key, *verifier_key, *text, *note;
static struct keys_pair *key;
static struct note_verifier ver;

static const char *
vec_str(const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(vec, name);

    ck_assert_msg(cJSON_IsString(item), "signed-note.json: no %s", name);
    return item->valuestring;
}

static void
setup(void)
{
    char *raw = tu_read_file(VECTORS_DIR "/signed-note.json");

    vec = cJSON_Parse(raw);
    free(raw);
    ck_assert_ptr_nonnull(vec);
    signer_key = vec_str("signer_key");
    verifier_key = vec_str("verifier_key");
    text = vec_str("text");
    note = vec_str("note");
    ck_assert_int_eq(note_signer_parse(signer_key, strlen(signer_key), &ver, &key), ERR_OK);
}

static void
teardown(void)
{
    keys_free(key);
    key = NULL;
    cJSON_Delete(vec);
    vec = NULL;
}

/* verify_rc verifies n[0..len) with v and returns the result. */
static enum err
verify_rc(const struct note_verifier *v, const char *n, size_t len)
{
    size_t tlen = 99;
    enum err rc;

    rc = note_verify(v, n, len, &tlen);
    if (rc != ERR_OK)
        ck_assert_uint_eq(tlen, 0);
    return rc;
}

START_TEST(test_signer_key_hash)
{
    ck_assert_str_eq(ver.name, "PeterNeumann");
    ck_assert_uint_eq(ver.key_hash, 0xc74f20a3);
}
END_TEST

START_TEST(test_sign_reproduces_vector)
{
    char out[NOTE_MAX_SIZE];
    size_t len;

    ck_assert_int_eq(note_sign(key, &ver, text, strlen(text), out, sizeof(out), &len), ERR_OK);
    ck_assert_uint_eq(len, strlen(note));
    ck_assert_str_eq(out, note);
}
END_TEST

START_TEST(test_verifier_key_parses)
{
    struct note_verifier v;

    ck_assert_int_eq(note_verifier_parse(verifier_key, strlen(verifier_key), &v), ERR_OK);
    ck_assert_str_eq(v.name, "PeterNeumann");
    ck_assert_uint_eq(v.key_hash, 0xc74f20a3);
    ck_assert_mem_eq(v.pk, ver.pk, KEYS_PUBLIC_BYTES);
    ck_assert_uint_eq(note_key_hash(v.name, v.pk), 0xc74f20a3);
}
END_TEST

START_TEST(test_verifier_key_formats)
{
    char out[NOTE_VKEY_MAX + 1];

    ck_assert_int_eq(note_verifier_format(&ver, out, sizeof(out)), ERR_OK);
    ck_assert_str_eq(out, verifier_key);
    ck_assert_int_eq(note_verifier_format(&ver, out, strlen(verifier_key)), ERR_TOOBIG);
    ck_assert_int_eq(out[0], '\0');
}
END_TEST

START_TEST(test_verify_vector)
{
    struct note_verifier v;
    size_t tlen;

    ck_assert_int_eq(note_verifier_parse(verifier_key, strlen(verifier_key), &v), ERR_OK);
    ck_assert_int_eq(note_verify(&v, note, strlen(note), &tlen), ERR_OK);
    ck_assert_uint_eq(tlen, strlen(text));
    ck_assert_mem_eq(note, text, tlen);
}
END_TEST

START_TEST(test_every_truncation_fails)
{
    size_t len;

    for (len = 0; len < strlen(note); len++)
        ck_assert_int_ne(verify_rc(&ver, note, len), ERR_OK);
}
END_TEST

START_TEST(test_every_bit_flip_fails)
{
    size_t len = strlen(note), i;
    char *n = malloc(len);

    ck_assert_ptr_nonnull(n);
    memcpy(n, note, len);
    for (i = 0; i < len * 8; i++) {
        n[i / 8] = (char)(n[i / 8] ^ (1 << (i % 8)));
        ck_assert_msg(verify_rc(&ver, n, len) != ERR_OK, "bit %zu", i);
        n[i / 8] = (char)(n[i / 8] ^ (1 << (i % 8)));
    }
    ck_assert_int_eq(verify_rc(&ver, n, len), ERR_OK);
    free(n);
}
END_TEST

START_TEST(test_wrong_key_fails)
{
    struct keys_pair *other;
    struct note_verifier v;

    ck_assert_int_eq(keys_generate(&other), ERR_OK);
    ck_assert_int_eq(note_verifier_init(&v, "PeterNeumann", ver.pk), ERR_OK);
    keys_public(other, v.pk);
    v.key_hash = note_key_hash(v.name, v.pk);
    ck_assert_int_eq(verify_rc(&v, note, strlen(note)), ERR_BADSIG);
    /* The right name and key hash with the wrong key: the line is v's, and fails. */
    v.key_hash = ver.key_hash;
    ck_assert_int_eq(verify_rc(&v, note, strlen(note)), ERR_BADSIG);
    keys_free(other);
}
END_TEST

START_TEST(test_other_signatures_ignored)
{
    static const uint8_t seed[KEYS_SEED_BYTES] = {7};
    char a[NOTE_MAX_SIZE], b[NOTE_MAX_SIZE], both[NOTE_MAX_SIZE];
    uint8_t opk[KEYS_PUBLIC_BYTES];
    struct keys_pair *other;
    struct note_verifier v;
    size_t alen, blen, tlen = strlen(text);

    ck_assert_int_eq(keys_from_seed(seed, &other), ERR_OK);
    keys_public(other, opk);
    ck_assert_int_eq(note_verifier_init(&v, "witness.example/w1", opk), ERR_OK);
    ck_assert_int_eq(note_sign(key, &ver, text, tlen, a, sizeof(a), &alen), ERR_OK);
    ck_assert_int_eq(note_sign(other, &v, text, tlen, b, sizeof(b), &blen), ERR_OK);
    /* Text, blank line, then both signature lines. */
    memcpy(both, a, alen);
    memcpy(both + alen, b + tlen + 1, blen - tlen - 1);
    ck_assert_int_eq(verify_rc(&ver, both, alen + blen - tlen - 1), ERR_OK);
    ck_assert_int_eq(verify_rc(&v, both, alen + blen - tlen - 1), ERR_OK);
    ck_assert_int_eq(verify_rc(&v, a, alen), ERR_BADSIG);
    keys_free(other);
}
END_TEST

START_TEST(test_malformed_signature_line_is_inval)
{
    char n[NOTE_MAX_SIZE];
    static const char *const bad[] = {"- PeterNeumann AAAA\n",
                                      "\xe2\x80\x94 PeterNeumann\n",
                                      "\xe2\x80\x94 Peter Neumann AAAAAAAA\n",
                                      "\xe2\x80\x94 x AAAA\n",
                                      "\xe2\x80\x94 x AAAAAAA\n",
                                      "\xe2\x80\x94 x AAAAAAAA \n",
                                      "\xe2\x80\x94  AAAAAAAA\n",
                                      "\n",
                                      "\xe2\x80\x94 x+y AAAAAAAA\n"};
    size_t i, len;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = (size_t)snprintf(n, sizeof(n), "%s%s", note, bad[i]);
        ck_assert_msg(verify_rc(&ver, n, len) == ERR_INVAL, "line %zu", i);
    }
    /* A well-formed line of an unknown key is fine. */
    len = (size_t)snprintf(n, sizeof(n), "%s%s", note, "\xe2\x80\x94 x AAAAAAAA\n");
    ck_assert_int_eq(verify_rc(&ver, n, len), ERR_OK);
}
END_TEST

START_TEST(test_bad_line_of_v_fails_despite_good_one)
{
    char n[NOTE_MAX_SIZE];
    size_t len;

    /* v's name and key hash (c74f20a3) with a zero signature. */
    len = (size_t)snprintf(n, sizeof(n), "%s\xe2\x80\x94 PeterNeumann %s\n", note,
                           "x08gowAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                           "AAAAAAAAAAAAAAAAAAAAAAAAA=");
    ck_assert_int_eq(verify_rc(&ver, n, len), ERR_BADSIG);
}
END_TEST

START_TEST(test_too_many_signatures_refused)
{
    char n[NOTE_MAX_SIZE];
    size_t len;
    int i;

    len = (size_t)snprintf(n, sizeof(n), "%s", note);
    for (i = 0; i < NOTE_MAX_SIGNATURES; i++)
        len += (size_t)snprintf(n + len, sizeof(n) - len, "\xe2\x80\x94 x AAAAAAAA\n");
    ck_assert_int_eq(verify_rc(&ver, n, len), ERR_INVAL);
}
END_TEST

START_TEST(test_sign_refuses_bad_text)
{
    static const char *const bad[] = {"",         "no newline",  "\n",     "a\n\nb\n",
                                      "a\r\n",    "tab\there\n", "\xff\n", "\xc0\xaf\n",
                                      "a\nb\n\n", "nul\0x\n"};
    static const size_t lens[] = {0, 10, 1, 6, 3, 10, 2, 3, 5, 7};
    char out[NOTE_MAX_SIZE];
    size_t i, len;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(note_sign(key, &ver, bad[i], lens[i], out, sizeof(out), &len) == ERR_INVAL,
                      "text %zu", i);
}
END_TEST

START_TEST(test_sign_refuses_small_buffer)
{
    char out[64];
    size_t len = 99;

    ck_assert_int_eq(note_sign(key, &ver, text, strlen(text), out, sizeof(out), &len), ERR_TOOBIG);
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_sign_refuses_mismatched_verifier)
{
    struct note_verifier v = ver;
    char out[NOTE_MAX_SIZE];
    size_t len;

    v.pk[0] ^= 1;
    ck_assert_int_eq(note_sign(key, &v, text, strlen(text), out, sizeof(out), &len), ERR_INVAL);
}
END_TEST

START_TEST(test_verify_refuses_bad_text)
{
    /* Signatures are not checked before the text is: these fail as malformed. */
    static const char *const bad[] = {
        "a\r\n\n\xe2\x80\x94 x AAAAAAAA\n",  "\n\n\xe2\x80\x94 x AAAAAAAA\n",
        "a\n\n\xe2\x80\x94 x AAAAAAAA",      "a\n\n",
        "\xff\n\n\xe2\x80\x94 x AAAAAAAA\n", "a\n"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(verify_rc(&ver, bad[i], strlen(bad[i])) == ERR_INVAL, "note %zu", i);
}
END_TEST

START_TEST(test_verifier_parse_refuses_malformed)
{
    static const char *const bad[] = {
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW ",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "PeterNeumann",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ""};
    struct note_verifier v;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&v, 0xff, sizeof(v));
        ck_assert_msg(note_verifier_parse(bad[i], strlen(bad[i]), &v) == ERR_INVAL, "key %zu", i);
        ck_assert_uint_eq(v.key_hash, 0);
        ck_assert_int_eq(v.name[0], '\0');
    }
}
END_TEST

START_TEST(test_signer_parse_refuses_malformed)
{
    static const char *const bad[] = {
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDF",
        "PRIVATE+KEX+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+"};
    struct note_verifier v;
    struct keys_pair *k;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        k = (struct keys_pair *)1;
        ck_assert_msg(note_signer_parse(bad[i], strlen(bad[i]), &v, &k) == ERR_INVAL, "key %zu", i);
        ck_assert_ptr_null(k);
    }
}
END_TEST

START_TEST(test_name_validity)
{
    char longname[NOTE_MAX_NAME + 2];

    ck_assert(note_name_valid("PeterNeumann"));
    ck_assert(note_name_valid("consentd.example/log"));
    ck_assert(note_name_valid("caf\xc3\xa9"));
    ck_assert(!note_name_valid(""));
    ck_assert(!note_name_valid("a b"));
    ck_assert(!note_name_valid("a+b"));
    ck_assert(!note_name_valid("a\tb"));
    ck_assert(!note_name_valid("a\nb"));
    ck_assert(!note_name_valid("a\xc2\xa0"
                               "b"));
    ck_assert(!note_name_valid("a\xe3\x80\x80"
                               "b"));
    ck_assert(!note_name_valid("\xff"));
    memset(longname, 'a', sizeof(longname));
    longname[NOTE_MAX_NAME] = '\0';
    ck_assert(note_name_valid(longname));
    longname[NOTE_MAX_NAME] = 'a';
    longname[NOTE_MAX_NAME + 1] = '\0';
    ck_assert(!note_name_valid(longname));
}
END_TEST

START_TEST(test_checkpoint_round_trip)
{
    struct note_checkpoint c, back;
    char out[512];
    size_t len;
    int i;

    memset(&c, 0, sizeof(c));
    strcpy(c.origin, "consentd.example/log");
    c.size = 1234567;
    for (i = 0; i < HASH_BYTES; i++)
        c.root[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(note_checkpoint_format(&c, out, sizeof(out), &len), ERR_OK);
    ck_assert_str_eq(
        out, "consentd.example/log\n1234567\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n");
    ck_assert_uint_eq(len, strlen(out));
    ck_assert_int_eq(note_checkpoint_parse(out, len, &back), ERR_OK);
    ck_assert_mem_eq(&back, &c, sizeof(c));
}
END_TEST

START_TEST(test_checkpoint_signed_end_to_end)
{
    struct note_checkpoint c, back;
    char body[512], n[NOTE_MAX_SIZE];
    size_t blen, nlen, tlen;

    memset(&c, 0, sizeof(c));
    strcpy(c.origin, "consentd.example/log");
    c.size = 0;
    hash_sha256(NULL, 0, c.root);
    ck_assert_int_eq(note_checkpoint_format(&c, body, sizeof(body), &blen), ERR_OK);
    ck_assert_int_eq(note_sign(key, &ver, body, blen, n, sizeof(n), &nlen), ERR_OK);
    ck_assert_int_eq(note_verify(&ver, n, nlen, &tlen), ERR_OK);
    ck_assert_uint_eq(tlen, blen);
    ck_assert_int_eq(note_checkpoint_parse(n, tlen, &back), ERR_OK);
    ck_assert_mem_eq(&back, &c, sizeof(c));
}
END_TEST

START_TEST(test_checkpoint_extension_lines_ignored)
{
    static const char t[] = "o\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\nextra line\n";
    struct note_checkpoint c;

    ck_assert_int_eq(note_checkpoint_parse(t, strlen(t), &c), ERR_OK);
    ck_assert_str_eq(c.origin, "o");
    ck_assert_uint_eq(c.size, 5);
}
END_TEST

START_TEST(test_checkpoint_malformed_refused)
{
    static const char *const bad[] = {
        "o\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=",
        "o\n05\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n",
        "o\n+1\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n",
        "o\n-1\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n",
        "o\n\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n",
        "o\n 5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n",
        "o\n18446744073709551616\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n",
        "o\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk\n",
        "o\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=x\n",
        "o\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tl=\n",
        "o\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0g==\n",
        "o\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tnT1A==\n",
        "\n5\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n",
        "o\n5\n",
        "o\n5\n\n",
        ""};
    struct note_checkpoint c;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&c, 0xff, sizeof(c));
        ck_assert_msg(note_checkpoint_parse(bad[i], strlen(bad[i]), &c) == ERR_INVAL,
                      "checkpoint %zu", i);
        ck_assert_uint_eq(c.size, 0);
    }
}
END_TEST

START_TEST(test_checkpoint_size_limits)
{
    static const char zero[] = "o\n0\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n";
    static const char max[] =
        "o\n18446744073709551615\nAAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tk=\n";
    struct note_checkpoint c;

    ck_assert_int_eq(note_checkpoint_parse(zero, strlen(zero), &c), ERR_OK);
    ck_assert_uint_eq(c.size, 0);
    ck_assert_int_eq(note_checkpoint_parse(max, strlen(max), &c), ERR_OK);
    ck_assert_uint_eq(c.size, UINT64_MAX);
}
END_TEST

START_TEST(test_checkpoint_format_refuses_bad_origin)
{
    struct note_checkpoint c;
    char out[512];
    size_t len;

    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(note_checkpoint_format(&c, out, sizeof(out), &len), ERR_INVAL);
    strcpy(c.origin, "a\nb");
    ck_assert_int_eq(note_checkpoint_format(&c, out, sizeof(out), &len), ERR_INVAL);
    strcpy(c.origin, "a");
    ck_assert_int_eq(note_checkpoint_format(&c, out, 10, &len), ERR_TOOBIG);
    ck_assert_uint_eq(len, 0);
}
END_TEST

Suite *
note_suite(void)
{
    Suite *s = suite_create("note");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_signer_key_hash);
    tcase_add_test(tc, test_sign_reproduces_vector);
    tcase_add_test(tc, test_verifier_key_parses);
    tcase_add_test(tc, test_verifier_key_formats);
    tcase_add_test(tc, test_verify_vector);
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_every_bit_flip_fails);
    tcase_add_test(tc, test_wrong_key_fails);
    tcase_add_test(tc, test_other_signatures_ignored);
    tcase_add_test(tc, test_malformed_signature_line_is_inval);
    tcase_add_test(tc, test_bad_line_of_v_fails_despite_good_one);
    tcase_add_test(tc, test_too_many_signatures_refused);
    tcase_add_test(tc, test_sign_refuses_bad_text);
    tcase_add_test(tc, test_sign_refuses_small_buffer);
    tcase_add_test(tc, test_sign_refuses_mismatched_verifier);
    tcase_add_test(tc, test_verify_refuses_bad_text);
    tcase_add_test(tc, test_verifier_parse_refuses_malformed);
    tcase_add_test(tc, test_signer_parse_refuses_malformed);
    tcase_add_test(tc, test_name_validity);
    tcase_add_test(tc, test_checkpoint_round_trip);
    tcase_add_test(tc, test_checkpoint_signed_end_to_end);
    tcase_add_test(tc, test_checkpoint_extension_lines_ignored);
    tcase_add_test(tc, test_checkpoint_malformed_refused);
    tcase_add_test(tc, test_checkpoint_size_limits);
    tcase_add_test(tc, test_checkpoint_format_refuses_bad_origin);
    suite_add_tcase(s, tc);
    return s;
}
