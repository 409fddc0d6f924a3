/*
 * check_keys: key derivation, key ids, and key files in a fresh mkdtemp directory per test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "consentd/keys.h"
#include "suites.h"

/* RFC 8032 §7.1 test 1. */
static const uint8_t seed1[KEYS_SEED_BYTES] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
static const uint8_t pk1[KEYS_PUBLIC_BYTES] = {
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};

static char dir[64];
static struct keys_pair *key;

/* path returns dir/name in a static buffer. */
static const char *
path(const char *name)
{
    static char buf[128];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return buf;
}

/* write_file creates dir/name with mode and len bytes of seed1 (repeated). */
static void
write_file(const char *name, mode_t mode, size_t len)
{
    uint8_t buf[64];
    size_t i;
    int fd;

    for (i = 0; i < len; i++)
        buf[i] = seed1[i % KEYS_SEED_BYTES];
    fd = open(path(name), O_WRONLY | O_CREAT | O_EXCL, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_keys.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(keys_from_seed(seed1, &key), ERR_OK);
}

static void
teardown(void)
{
    static const char *const names[] = {"key", "link", "short", "long", "open", "sub"};
    size_t i;

    keys_free(key);
    key = NULL;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unlink(path(names[i]));
        rmdir(path(names[i]));
    }
    rmdir(dir);
}

START_TEST(test_from_seed_is_rfc8032)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];

    keys_public(key, pk);
    ck_assert_mem_eq(pk, pk1, KEYS_PUBLIC_BYTES);
}
END_TEST

START_TEST(test_generate_makes_distinct_keys)
{
    struct keys_pair *a, *b;
    uint8_t pa[KEYS_PUBLIC_BYTES], pb[KEYS_PUBLIC_BYTES];

    ck_assert_int_eq(keys_generate(&a), ERR_OK);
    ck_assert_int_eq(keys_generate(&b), ERR_OK);
    keys_public(a, pa);
    keys_public(b, pb);
    ck_assert_mem_ne(pa, pb, KEYS_PUBLIC_BYTES);
    keys_free(a);
    keys_free(b);
    keys_free(NULL);
}
END_TEST

START_TEST(test_kid_known_answer)
{
    char kid[KEYS_KID_LEN + 1];

    /* base64url(SHA-256(pk1)), computed independently with Python's hashlib. */
    keys_kid(pk1, kid);
    ck_assert_str_eq(kid, "If4x36FUomFia_hUBG_SJxt77UtqvkWqWId-9H-XIbk");
    ck_assert_uint_eq(strlen(kid), KEYS_KID_LEN);
}
END_TEST

START_TEST(test_save_then_load)
{
    struct keys_pair *back = NULL;
    uint8_t pk[KEYS_PUBLIC_BYTES];

    ck_assert_int_eq(keys_save(key, path("key")), ERR_OK);
    ck_assert_int_eq(keys_load(path("key"), &back), ERR_OK);
    keys_public(back, pk);
    ck_assert_mem_eq(pk, pk1, KEYS_PUBLIC_BYTES);
    keys_free(back);
}
END_TEST

START_TEST(test_saved_file_is_seed_mode_0600)
{
    uint8_t buf[64];
    struct stat st;
    int fd;

    ck_assert_int_eq(keys_save(key, path("key")), ERR_OK);
    ck_assert_int_eq(stat(path("key"), &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    fd = open(path("key"), O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, buf, sizeof(buf)), KEYS_SEED_BYTES);
    close(fd);
    ck_assert_mem_eq(buf, seed1, KEYS_SEED_BYTES);
}
END_TEST

START_TEST(test_save_refuses_to_overwrite)
{
    struct keys_pair *other, *back = NULL;
    uint8_t pk[KEYS_PUBLIC_BYTES];

    ck_assert_int_eq(keys_save(key, path("key")), ERR_OK);
    ck_assert_int_eq(keys_generate(&other), ERR_OK);
    ck_assert_int_eq(keys_save(other, path("key")), ERR_EXISTS);
    keys_free(other);
    ck_assert_int_eq(keys_load(path("key"), &back), ERR_OK);
    keys_public(back, pk);
    ck_assert_mem_eq(pk, pk1, KEYS_PUBLIC_BYTES);
    keys_free(back);
}
END_TEST

START_TEST(test_save_refuses_symlink_target)
{
    ck_assert_int_eq(symlink("open", path("link")), 0);
    ck_assert_int_eq(keys_save(key, path("link")), ERR_EXISTS);
    ck_assert_int_eq(access(path("open"), F_OK), -1);
}
END_TEST

START_TEST(test_save_into_missing_directory_fails)
{
    ck_assert_int_eq(keys_save(key, path("sub/key")), ERR_IO);
}
END_TEST

START_TEST(test_load_refuses_group_readable)
{
    struct keys_pair *back = (struct keys_pair *)1;

    write_file("open", 0644, KEYS_SEED_BYTES);
    ck_assert_int_eq(keys_load(path("open"), &back), ERR_PERM);
    ck_assert_ptr_null(back);
}
END_TEST

START_TEST(test_load_refuses_other_bits)
{
    static const mode_t modes[] = {0640, 0604, 0610, 0601, 0620, 0602, 0700 | 01};
    struct keys_pair *back;
    size_t i;

    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        write_file("open", modes[i], KEYS_SEED_BYTES);
        ck_assert_int_eq(keys_load(path("open"), &back), ERR_PERM);
        ck_assert_int_eq(unlink(path("open")), 0);
    }
}
END_TEST

START_TEST(test_load_refuses_symlink)
{
    struct keys_pair *back = (struct keys_pair *)1;

    ck_assert_int_eq(keys_save(key, path("key")), ERR_OK);
    ck_assert_int_eq(symlink("key", path("link")), 0);
    ck_assert_int_eq(keys_load(path("link"), &back), ERR_PERM);
    ck_assert_ptr_null(back);
}
END_TEST

START_TEST(test_load_refuses_directory)
{
    struct keys_pair *back;

    ck_assert_int_eq(mkdir(path("sub"), 0700), 0);
    ck_assert_int_eq(keys_load(path("sub"), &back), ERR_PERM);
}
END_TEST

START_TEST(test_load_refuses_fifo_without_blocking)
{
    struct keys_pair *back;

    ck_assert_int_eq(mkfifo(path("open"), 0600), 0);
    ck_assert_int_eq(keys_load(path("open"), &back), ERR_PERM);
}
END_TEST

START_TEST(test_load_refuses_short_file)
{
    struct keys_pair *back = (struct keys_pair *)1;

    write_file("short", 0600, KEYS_SEED_BYTES - 1);
    ck_assert_int_eq(keys_load(path("short"), &back), ERR_INVAL);
    ck_assert_ptr_null(back);
}
END_TEST

START_TEST(test_load_refuses_long_file)
{
    struct keys_pair *back;

    write_file("long", 0600, KEYS_SEED_BYTES + 1);
    ck_assert_int_eq(keys_load(path("long"), &back), ERR_INVAL);
}
END_TEST

START_TEST(test_load_missing_file_is_io)
{
    struct keys_pair *back;

    ck_assert_int_eq(keys_load(path("key"), &back), ERR_IO);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

Suite *
keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_from_seed_is_rfc8032);
    tcase_add_test(tc, test_generate_makes_distinct_keys);
    tcase_add_test(tc, test_kid_known_answer);
    tcase_add_test(tc, test_save_then_load);
    tcase_add_test(tc, test_saved_file_is_seed_mode_0600);
    tcase_add_test(tc, test_save_refuses_to_overwrite);
    tcase_add_test(tc, test_save_refuses_symlink_target);
    tcase_add_test(tc, test_save_into_missing_directory_fails);
    tcase_add_test(tc, test_load_refuses_group_readable);
    tcase_add_test(tc, test_load_refuses_other_bits);
    tcase_add_test(tc, test_load_refuses_symlink);
    tcase_add_test(tc, test_load_refuses_directory);
    tcase_add_test(tc, test_load_refuses_fifo_without_blocking);
    tcase_add_test(tc, test_load_refuses_short_file);
    tcase_add_test(tc, test_load_refuses_long_file);
    tcase_add_test(tc, test_load_missing_file_is_io);
    suite_add_tcase(s, tc);
    return s;
}
