/*
 * check_ckpt: signed checkpoints and the checkpoint file.
 */
#include <fcntl.h>
#include <stdio.h>
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

/*
 * RELIABILITY.md C6: checkpoint inputs an auditor or a witness is handed, each with the answer
 * ckpt_open_verify must give: ERR_OK, ERR_BADSIG (no valid signature by the log's key, or
 * another origin) or ERR_INVAL (not a well-formed signed checkpoint). The text of each is built
 * from a genuine checkpoint of size 42.
 */
struct c6 {
    unsigned cases, wrong;
    char body[CKPT_RECORD]; /* the genuine body */
    size_t blen;
    char note[CKPT_RECORD]; /* the genuine note */
    size_t len;
    char line[256];               /* its signature line, with the newline */
    struct keys_pair *other;      /* another key... */
    struct note_verifier other_v; /* ...under the log's name */
};

static void
c6_expect(struct c6 *t, const char *name, const char *note, size_t len, enum err want)
{
    struct note_checkpoint c;
    enum err got = ckpt_open_verify(&signer.verifier, note, len, &c);

    t->cases++;
    if (got != want) {
        t->wrong++;
        fprintf(stderr, "ckpt: C6 %s: %s, wanted %s\n", name, err_str(got), err_str(want));
    }
}

/* c6_signed signs text[0..len) with k under v and checks the result against want. */
static void
c6_signed(struct c6 *t, const char *name, const struct keys_pair *k, const struct note_verifier *v,
          const char *text, enum err want)
{
    char note[CKPT_RECORD];
    size_t len;

    ck_assert_int_eq(note_sign(k, v, text, strlen(text), note, sizeof(note), &len), ERR_OK);
    c6_expect(t, name, note, len, want);
}

/* c6_crlf writes s with every "\n" as "\r\n" into out and returns the length. */
static size_t
c6_crlf(const char *s, size_t len, char *out)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\n')
            out[n++] = '\r';
        out[n++] = s[i];
    }
    return n;
}

START_TEST(test_checkpoint_inputs_refused_as_specified)
{
    static struct c6 t;
    static char buf[NOTE_MAX_SIZE + 2];
    char text[CKPT_RECORD];
    uint8_t root[HASH_BYTES], opk[KEYS_PUBLIC_BYTES];
    struct note_checkpoint c;
    size_t n, i;

    memset(&t, 0, sizeof(t));
    memset(root, 0x5a, sizeof(root));
    c.size = 42;
    memcpy(c.root, root, HASH_BYTES);
    strcpy(c.origin, "ckpt.example/log");
    ck_assert_int_eq(note_checkpoint_format(&c, t.body, sizeof(t.body), &t.blen), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&signer, 42, root, t.note, &t.len), ERR_OK);
    ck_assert_uint_eq(strncmp(t.note, t.body, t.blen), 0);
    strcpy(t.line, t.note + t.blen + 1);
    t.other = tu_key(9);
    keys_public(t.other, opk);
    ck_assert_int_eq(note_verifier_init(&t.other_v, "ckpt.example/log", opk), ERR_OK);

    c6_expect(&t, "the genuine checkpoint", t.note, t.len, ERR_OK);
    /* Signatures. */
    c6_signed(&t, "another origin, signed by the log's key", signer.key, &signer.verifier,
              "other.example/log\n42\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n", ERR_BADSIG);
    c6_signed(&t, "the log's name, another key", t.other, &t.other_v, t.body, ERR_BADSIG);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\n", t.body);
    c6_expect(&t, "no signature line", buf, n, ERR_INVAL);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\n\xe2\x80\x94 ckpt.example/log %s\n", t.body,
                         "AAAAAAAA");
    c6_expect(&t, "an unknown key id only", buf, n, ERR_BADSIG);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\xe2\x80\x94 witness.example/w1 AAAAAAAA\n", t.note);
    c6_expect(&t, "an extra signature line after the log's", buf, n, ERR_OK);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\n\xe2\x80\x94 witness.example/w1 AAAAAAAA\n%s",
                         t.body, t.line);
    c6_expect(&t, "an extra signature line before the log's", buf, n, ERR_OK);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\xe2\x80\x94 ckpt.example/log AAAAAAAA\n", t.note);
    c6_expect(&t, "an unknown key id beside the log's", buf, n, ERR_OK);
    n = (size_t)snprintf(buf, sizeof(buf), "%s", t.note);
    for (i = 1; i < NOTE_MAX_SIGNATURES; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\xe2\x80\x94 w%zu AAAAAAAA\n", i);
    c6_expect(&t, "as many signature lines as allowed", buf, n, ERR_OK);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\xe2\x80\x94 w0 AAAAAAAA\n");
    c6_expect(&t, "one signature line too many", buf, n, ERR_INVAL);
    memcpy(buf, t.note, t.len);
    buf[t.len - 10] = buf[t.len - 10] == 'A' ? 'B' : 'A';
    c6_expect(&t, "the log's line with a changed signature", buf, t.len, ERR_BADSIG);
    n = (size_t)snprintf(buf, sizeof(buf), "%s", t.note);
    memcpy(buf + n, t.line, strlen(t.line));
    buf[n + strlen(t.line) - 10] = buf[n + strlen(t.line) - 10] == 'A' ? 'B' : 'A';
    c6_expect(&t, "the log's line twice, one of them bad", buf, n + strlen(t.line), ERR_BADSIG);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\n-%s", t.body, t.line + 3);
    c6_expect(&t, "a hyphen for the em dash", buf, n, ERR_INVAL);
    /* Line endings and spaces. */
    n = c6_crlf(t.note, t.len, buf);
    c6_expect(&t, "CRLF line endings", buf, n, ERR_INVAL);
    n = t.blen + 1 + c6_crlf(t.line, strlen(t.line), buf + t.blen + 1);
    memcpy(buf, t.note, t.blen + 1);
    c6_expect(&t, "CRLF in the signature block", buf, n, ERR_INVAL);
    n = (size_t)snprintf(buf, sizeof(buf), "%.*s \n", (int)(t.len - 1), t.note);
    c6_expect(&t, "a trailing space on the signature line", buf, n, ERR_INVAL);
    n = (size_t)snprintf(buf, sizeof(buf), "ckpt.example/log \n%s", strchr(t.note, '\n') + 1);
    c6_expect(&t, "a trailing space after the origin", buf, n, ERR_BADSIG);
    c6_expect(&t, "no final newline", t.note, t.len - 1, ERR_INVAL);
    n = (size_t)snprintf(buf, sizeof(buf), "%s%s", t.body, t.line);
    c6_expect(&t, "no blank line before the signatures", buf, n, ERR_INVAL);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\n\n%s", t.body, t.line);
    c6_expect(&t, "two blank lines before the signatures", buf, n, ERR_INVAL);
    n = (size_t)snprintf(buf, sizeof(buf), "\n%s", t.note);
    c6_expect(&t, "a blank line first", buf, n, ERR_INVAL);
    c6_expect(&t, "nothing", "", 0, ERR_INVAL);
    memcpy(buf, t.note, t.len);
    buf[3] = '\0';
    c6_expect(&t, "a NUL in the text", buf, t.len, ERR_INVAL);
    memset(buf, 'a', NOTE_MAX_SIZE + 1);
    c6_expect(&t, "a note over the size limit", buf, NOTE_MAX_SIZE + 1, ERR_INVAL);
    /* Bodies signed by the log's key that are not checkpoints. */
    c6_signed(&t, "extension lines after the root", signer.key, &signer.verifier,
              "ckpt.example/log\n42\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\nx\n", ERR_OK);
    c6_signed(&t, "a size with a leading zero", signer.key, &signer.verifier,
              "ckpt.example/log\n042\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n", ERR_INVAL);
    c6_signed(&t, "a negative size", signer.key, &signer.verifier,
              "ckpt.example/log\n-1\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n", ERR_INVAL);
    c6_signed(
        &t, "a size of 2^64", signer.key, &signer.verifier,
        "ckpt.example/log\n18446744073709551616\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n",
        ERR_INVAL);
    c6_signed(&t, "a root of 31 bytes", signer.key, &signer.verifier,
              "ckpt.example/log\n42\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWg==\n", ERR_INVAL);
    c6_signed(&t, "a root in base64url", signer.key, &signer.verifier,
              "ckpt.example/log\n42\n_____________________________________________w\n", ERR_INVAL);
    c6_signed(&t, "no size line", signer.key, &signer.verifier,
              "ckpt.example/log\nWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n", ERR_INVAL);
    c6_signed(&t, "the origin alone", signer.key, &signer.verifier, "ckpt.example/log\n",
              ERR_INVAL);
    snprintf(text, sizeof(text), "%s", t.body);
    text[0] = 'C';
    c6_signed(&t, "the origin in another case", signer.key, &signer.verifier, text, ERR_BADSIG);
    printf("ckpt: C6 %u checkpoint inputs, %u answered other than specified\n", t.cases, t.wrong);
    keys_free(t.other);
    ck_assert_uint_eq(t.wrong, 0);
}
END_TEST

/*
 * A size regression: two genuine checkpoints where the later is smaller. Each verifies alone;
 * no consistency proof can join them (an auditor's check, RELIABILITY.md I2 and C6).
 */
START_TEST(test_checkpoint_size_regression_is_unprovable)
{
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], r42[HASH_BYTES], r41[HASH_BYTES];
    char n42[CKPT_RECORD], n41[CKPT_RECORD];
    struct note_checkpoint a, b;
    size_t l42, l41, count;

    memset(r42, 0x42, sizeof(r42));
    memset(r41, 0x41, sizeof(r41));
    memset(proof, 0, sizeof(proof));
    ck_assert_int_eq(ckpt_sign(&signer, 42, r42, n42, &l42), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&signer, 41, r41, n41, &l41), ERR_OK);
    ck_assert_int_eq(ckpt_open_verify(&signer.verifier, n42, l42, &a), ERR_OK);
    ck_assert_int_eq(ckpt_open_verify(&signer.verifier, n41, l41, &b), ERR_OK);
    for (count = 0; count <= MERKLE_MAX_PROOF; count++)
        ck_assert_int_eq(merkle_verify_consistency(a.size, b.size, a.root, b.root,
                                                   (const uint8_t(*)[HASH_BYTES])proof, count),
                         ERR_BADSIG);
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
    tcase_add_test(tc, test_checkpoint_inputs_refused_as_specified);
    tcase_add_test(tc, test_checkpoint_size_regression_is_unprovable);
    suite_add_tcase(s, tc);
    return s;
}
