/*
 * check_ckpt: signed checkpoints and the checkpoint file.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "consentd/ckpt.h"
#include "consentd/merkle.h"
#include "suites.h"
#include "testutil.h"

static char dir[TU_DIR_MAX], path[PATH_MAX];
static struct ckpt_signer signer;

static void
setup(void)
{
    tu_tmpdir(dir);
    tu_path(dir, "checkpoints", path);
    ck_assert_int_eq(ckpt_signer_init(&signer, tu_key(3), "ckpt.example/log"), ERR_OK);
}

static void
teardown(void)
{
    ckpt_signer_clear(&signer);
    tu_rmrf(dir);
}

START_TEST(test_sign_then_open)
{
    struct note_checkpoint c;
    char note[CKPT_RECORD];
    uint8_t root[HASH_BYTES];
    size_t len;

    memset(root, 0x5a, sizeof(root));
    ck_assert_int_eq(ckpt_sign(&signer, 42, root, note, &len), ERR_OK);
    ck_assert_uint_eq(strlen(note), len);
    ck_assert(strncmp(note, "ckpt.example/log\n42\nWlpa", 24) == 0);
    ck_assert_int_eq(ckpt_open_verify(&signer.verifier, note, len, &c), ERR_OK);
    ck_assert_uint_eq(c.size, 42);
    ck_assert_mem_eq(c.root, root, HASH_BYTES);
    ck_assert_str_eq(c.origin, "ckpt.example/log");
}
END_TEST

START_TEST(test_every_flipped_bit_fails)
{
    struct note_checkpoint c;
    char note[CKPT_RECORD];
    uint8_t root[HASH_BYTES];
    size_t len, i;
    int bit;

    merkle_empty_root(root);
    ck_assert_int_eq(ckpt_sign(&signer, 7, root, note, &len), ERR_OK);
    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 8; bit++) {
            note[i] ^= (char)(1 << bit);
            ck_assert_int_ne(ckpt_open_verify(&signer.verifier, note, len, &c), ERR_OK);
            note[i] ^= (char)(1 << bit);
        }
    }
    for (i = 0; i < len; i++)
        ck_assert_int_ne(ckpt_open_verify(&signer.verifier, note, i, &c), ERR_OK);
}
END_TEST

START_TEST(test_file_keeps_the_last_record)
{
    char note[CKPT_RECORD], last[CKPT_RECORD];
    uint8_t root[HASH_BYTES];
    uint64_t count;
    size_t len;
    int fd, i;

    ck_assert_int_eq(ckpt_file_open(path, true, &fd, last, &count), ERR_OK);
    ck_assert_uint_eq(count, 0);
    ck_assert_str_eq(last, "");
    for (i = 1; i <= 3; i++) {
        memset(root, i, sizeof(root));
        ck_assert_int_eq(ckpt_sign(&signer, (uint64_t)i, root, note, &len), ERR_OK);
        ck_assert_int_eq(ckpt_file_append(fd, note, len), ERR_OK);
    }
    close(fd);
    ck_assert_int_eq(ckpt_file_open(path, false, &fd, last, &count), ERR_OK);
    close(fd);
    ck_assert_uint_eq(count, 3);
    ck_assert_str_eq(last, note);
}
END_TEST

START_TEST(test_torn_record_is_truncated)
{
    char note[CKPT_RECORD], last[CKPT_RECORD];
    uint8_t root[HASH_BYTES];
    struct stat st;
    uint64_t count;
    size_t len;
    int fd;

    merkle_empty_root(root);
    ck_assert_int_eq(ckpt_file_open(path, true, &fd, last, &count), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&signer, 0, root, note, &len), ERR_OK);
    ck_assert_int_eq(ckpt_file_append(fd, note, len), ERR_OK);
    ck_assert_int_eq(write(fd, "torn", 4), 4); /* a crash mid-record */
    close(fd);
    ck_assert_int_eq(ckpt_file_open(path, false, &fd, last, &count), ERR_OK);
    ck_assert_int_eq(fstat(fd, &st), 0);
    close(fd);
    ck_assert_int_eq(st.st_size, CKPT_RECORD);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(last, note);
}
END_TEST

START_TEST(test_record_of_nuls_is_truncated)
{
    char note[CKPT_RECORD], last[CKPT_RECORD], zeros[CKPT_RECORD];
    uint8_t root[HASH_BYTES];
    uint64_t count;
    size_t len;
    int fd;

    merkle_empty_root(root);
    memset(zeros, 0, sizeof(zeros));
    ck_assert_int_eq(ckpt_file_open(path, true, &fd, last, &count), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&signer, 0, root, note, &len), ERR_OK);
    ck_assert_int_eq(ckpt_file_append(fd, note, len), ERR_OK);
    ck_assert_int_eq(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
    close(fd);
    ck_assert_int_eq(ckpt_file_open(path, false, &fd, last, &count), ERR_OK);
    close(fd);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(last, note);
}
END_TEST

START_TEST(test_checkpoint_of_another_origin_is_refused)
{
    struct note_checkpoint c, got;
    char body[CKPT_RECORD], note[CKPT_RECORD];
    size_t blen, len;

    memset(&c, 0, sizeof(c));
    strcpy(c.origin, "other.example/log");
    merkle_empty_root(c.root);
    ck_assert_int_eq(note_checkpoint_format(&c, body, sizeof(body), &blen), ERR_OK);
    ck_assert_int_eq(note_sign(signer.key, &signer.verifier, body, blen, note, sizeof(note), &len),
                     ERR_OK);
    ck_assert_int_eq(ckpt_open_verify(&signer.verifier, note, len, &got), ERR_BADSIG);
}
END_TEST

START_TEST(test_create_refuses_an_existing_file)
{
    char last[CKPT_RECORD];
    uint64_t count;
    int fd;

    ck_assert_int_eq(ckpt_file_open(path, true, &fd, last, &count), ERR_OK);
    close(fd);
    ck_assert_int_eq(ckpt_file_open(path, true, &fd, last, &count), ERR_IO);
    ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_bad_origin_is_refused)
{
    struct ckpt_signer s;

    ck_assert_int_eq(ckpt_signer_init(&s, tu_key(4), "has space"), ERR_INVAL);
    ck_assert_int_eq(ckpt_signer_init(&s, tu_key(4), ""), ERR_INVAL);
}
END_TEST

Suite *
ckpt_suite(void)
{
    Suite *s = suite_create("ckpt");
    TCase *tc = tcase_create("ckpt");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sign_then_open);
    tcase_add_test(tc, test_every_flipped_bit_fails);
    tcase_add_test(tc, test_file_keeps_the_last_record);
    tcase_add_test(tc, test_torn_record_is_truncated);
    tcase_add_test(tc, test_record_of_nuls_is_truncated);
    tcase_add_test(tc, test_checkpoint_of_another_origin_is_refused);
    tcase_add_test(tc, test_create_refuses_an_existing_file);
    tcase_add_test(tc, test_bad_origin_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
