/*
 * check_tls: the server's TLS context: plain HTTP when neither file is set; each wrong file
 * refused with its own code and a sentence naming it (missing, not PEM, encrypted, mismatched,
 * too big, a key others may read); and, through handshakes in memory with OpenSSL clients,
 * TLS 1.3 preferred, TLS 1.1 and non-AEAD or non-ECDHE ciphers refused, and ALPN that answers
 * http/1.1 and never h2.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "consentd/tls.h"
#include "suites.h"
#include "testutil.h"

#define WHY 1024

static char dir[TU_DIR_MAX];
static char cert[PATH_MAX], key[PATH_MAX], other[PATH_MAX], enc[PATH_MAX];

/* write_pem writes k (or the certificate x) to dir/name with mode, encrypted if pass. */
static void
write_pem(const char *name, EVP_PKEY *k, X509 *x, mode_t mode, const char *pass, char *path)
{
    FILE *f;

    tu_path(dir, name, path);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    if (x != NULL)
        ck_assert_int_eq(PEM_write_X509(f, x), 1);
    else if (pass != NULL)
        ck_assert_int_eq(
            PEM_write_PrivateKey(f, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)(uintptr_t)pass),
            1);
    else
        ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* self_signed makes a one-day certificate for CN=localhost signed by k. */
static X509 *
self_signed(EVP_PKEY *k)
{
    X509 *x = X509_new();
    X509_NAME *name;

    ck_assert_ptr_nonnull(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    return x;
}

static void
setup(void)
{
    EVP_PKEY *k = tu_ec_key("P-256"), *o = tu_ec_key("P-256");
    X509 *x = self_signed(k);

    tu_tmpdir(dir);
    write_pem("cert.pem", NULL, x, 0644, NULL, cert);
    write_pem("key.pem", k, NULL, 0600, NULL, key);
    write_pem("other.pem", o, NULL, 0600, NULL, other);
    write_pem("enc.pem", k, NULL, 0600, "passphrase", enc);
    X509_free(x);
    EVP_PKEY_free(k);
    EVP_PKEY_free(o);
}

static void
teardown(void)
{
    tu_rmrf(dir);
}

/* refused: tls_context_new(c, k) fails with rc and a sentence holding says. */
static void
refused(const char *c, const char *k, enum err rc, const char *says)
{
    SSL_CTX *ctx = (SSL_CTX *)1;
    char why[WHY];

    ck_assert_int_eq(tls_context_new(c, k, &ctx, why, sizeof(why)), rc);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(why, says) != NULL, "\"%s\" does not say \"%s\"", why, says);
}

static SSL_CTX *
made(const char *c, const char *k)
{
    SSL_CTX *ctx = NULL;
    char why[WHY];

    ck_assert_msg(tls_context_new(c, k, &ctx, why, sizeof(why)) == ERR_OK, "%s", why);
    ck_assert_ptr_nonnull(ctx);
    return ctx;
}

START_TEST(test_neither_file_means_plain_http)
{
    SSL_CTX *ctx = (SSL_CTX *)1;
    char why[WHY];

    ck_assert_int_eq(tls_context_new("", "", &ctx, why, sizeof(why)), ERR_OK);
    ck_assert_ptr_null(ctx);
    tls_context_free(NULL);
}
END_TEST

START_TEST(test_one_file_without_the_other_is_refused)
{
    refused(cert, "", ERR_INVAL, "only tls_cert is set");
    refused("", key, ERR_INVAL, "only tls_key is set");
}
END_TEST

START_TEST(test_missing_files_are_refused)
{
    char nope[PATH_MAX];

    tu_path(dir, "nope.pem", nope);
    refused(nope, key, ERR_IO, "cannot open the TLS certificate");
    refused(nope, key, ERR_IO, "No such file");
    refused(cert, nope, ERR_IO, "cannot open the TLS key");
}
END_TEST

START_TEST(test_files_that_are_not_pem_are_refused)
{
    char junk[PATH_MAX], cert600[PATH_MAX];
    FILE *f;

    tu_path(dir, "junk.pem", junk);
    f = fopen(junk, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a PEM file\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(junk, 0600), 0);
    refused(junk, key, ERR_INVAL, "is not a PEM certificate chain");
    refused(key, key, ERR_INVAL, "is not a PEM certificate chain");
    refused(cert, junk, ERR_INVAL, "is not an unencrypted PEM private key");
    /* A certificate where the key should be. */
    tu_path(dir, "cert600.pem", cert600);
    ck_assert_int_eq(rename(cert, cert600), 0);
    ck_assert_int_eq(chmod(cert600, 0600), 0);
    refused(cert600, cert600, ERR_INVAL, "is not an unencrypted PEM private key");
}
END_TEST

START_TEST(test_encrypted_key_is_refused_without_a_prompt)
{
    refused(cert, enc, ERR_INVAL, "is not an unencrypted PEM private key");
}
END_TEST

START_TEST(test_key_that_does_not_match_is_refused)
{
    refused(cert, other, ERR_INVAL, "does not match the certificate");
}
END_TEST

START_TEST(test_key_others_may_read_is_refused)
{
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0601, 0610};
    char link[PATH_MAX];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(chmod(key, bad[i]), 0);
        refused(cert, key, ERR_PERM, "chmod 0600");
    }
    ck_assert_int_eq(chmod(key, 0400), 0);
    tls_context_free(made(cert, key));
    ck_assert_int_eq(chmod(key, 0600), 0);
    refused(cert, dir, ERR_PERM, "is not a regular file");
    /* A symlink is followed (certbot's live/ directory is links) and its target checked. */
    tu_path(dir, "link.pem", link);
    ck_assert_int_eq(symlink(key, link), 0);
    tls_context_free(made(cert, link));
    ck_assert_int_eq(chmod(key, 0644), 0);
    refused(cert, link, ERR_PERM, "chmod 0600");
    /* Owned by someone else: only root can make such a file here. */
    if (geteuid() == 0) {
        ck_assert_int_eq(chmod(key, 0600), 0);
        ck_assert_int_eq(chown(key, 65534, 65534), 0);
        refused(cert, key, ERR_PERM, "owner uid 65534");
    }
}
END_TEST

START_TEST(test_oversized_key_is_refused)
{
    char big[PATH_MAX];
    int fd;

    tu_path(dir, "big.pem", big);
    fd = open(big, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, TLS_KEY_MAX + 1), 0);
    close(fd);
    refused(cert, big, ERR_TOOBIG, "is over");
}
END_TEST

START_TEST(test_context_settings_are_modern)
{
    SSL_CTX *ctx = made(cert, key);
    STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(ctx);
    uint64_t opts = SSL_CTX_get_options(ctx);
    int i, n = sk_SSL_CIPHER_num(ciphers);

    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    ck_assert_int_eq(SSL_CTX_get_max_proto_version(ctx), 0); /* the newest OpenSSL has */
    ck_assert((opts & SSL_OP_NO_COMPRESSION) != 0);
    ck_assert((opts & SSL_OP_NO_RENEGOTIATION) != 0);
    ck_assert((opts & SSL_OP_NO_TICKET) != 0);
    ck_assert_int_eq(n, 9); /* three TLS 1.3 suites and six TLS 1.2 ciphers */
    for (i = 0; i < n; i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
        int kx = SSL_CIPHER_get_kx_nid(c);

        ck_assert_msg(SSL_CIPHER_is_aead(c), "%s is not an AEAD", SSL_CIPHER_get_name(c));
        ck_assert_msg(kx == NID_kx_ecdhe || kx == NID_kx_any, "%s has no forward secrecy",
                      SSL_CIPHER_get_name(c));
    }
    tls_context_free(ctx);
}
END_TEST

/*
 * handshake runs a TLS handshake in memory between server (from ctx) and a client of
 * versions [min, max] (0: any) with the ALPN list alpn (wire form; NULL: none) and the TLS
 * 1.2 cipher list ciphers (NULL: OpenSSL's default). It returns true if both ends finished,
 * and the negotiated version and ALPN protocol.
 */
static bool
handshake(SSL_CTX *ctx, int min, int max, const char *alpn, size_t alpn_len, const char *ciphers,
          int *version, char *proto, size_t proto_cap)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *client, *server;
    BIO *cb = NULL, *sb = NULL;
    const unsigned char *sel = NULL;
    unsigned sel_len = 0;
    int i, rc, rs = 0, rcl = 0;
    bool ok = false;

    ck_assert_ptr_nonnull(cctx);
    /* Level 0 lets this client offer what OpenSSL 3 itself no longer would (TLS 1.1). */
    SSL_CTX_set_security_level(cctx, 0);
    SSL_CTX_set_min_proto_version(cctx, min);
    SSL_CTX_set_max_proto_version(cctx, max);
    if (ciphers != NULL)
        ck_assert_int_eq(SSL_CTX_set_cipher_list(cctx, ciphers), 1);
    client = SSL_new(cctx);
    server = SSL_new(ctx);
    ck_assert(client != NULL && server != NULL);
    if (alpn != NULL)
        ck_assert_int_eq(
            SSL_set_alpn_protos(client, (const unsigned char *)alpn, (unsigned)alpn_len), 0);
    ck_assert_int_eq(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    for (i = 0; i < 64 && !(rcl == 1 && rs == 1); i++) {
        if (rcl != 1) {
            rcl = SSL_do_handshake(client);
            rc = SSL_get_error(client, rcl);
            if (rcl != 1 && rc != SSL_ERROR_WANT_READ && rc != SSL_ERROR_WANT_WRITE)
                goto out;
        }
        if (rs != 1) {
            rs = SSL_do_handshake(server);
            rc = SSL_get_error(server, rs);
            if (rs != 1 && rc != SSL_ERROR_WANT_READ && rc != SSL_ERROR_WANT_WRITE)
                goto out;
        }
    }
    ok = rcl == 1 && rs == 1;
    *version = SSL_version(server);
    SSL_get0_alpn_selected(server, &sel, &sel_len);
    snprintf(proto, proto_cap, "%.*s", (int)sel_len, sel != NULL ? (const char *)sel : "");
out:
    ERR_clear_error();
    SSL_free(client);
    SSL_free(server);
    SSL_CTX_free(cctx);
    return ok;
}

#define ALPN_H2_H1 "\x02h2\x08http/1.1"
#define ALPN_H2    "\x02h2"

START_TEST(test_handshakes_prefer_tls13_and_http11)
{
    SSL_CTX *ctx = made(cert, key);
    char proto[32];
    int v = 0;

    ck_assert(
        handshake(ctx, 0, 0, ALPN_H2_H1, sizeof(ALPN_H2_H1) - 1, NULL, &v, proto, sizeof(proto)));
    ck_assert_int_eq(v, TLS1_3_VERSION);
    ck_assert_str_eq(proto, "http/1.1");
    /* No ALPN at all is HTTP/1.1 too (h2o speaks HTTP/2 only when h2 was selected). */
    ck_assert(handshake(ctx, 0, 0, NULL, 0, NULL, &v, proto, sizeof(proto)));
    ck_assert_str_eq(proto, "");
    ck_assert(handshake(ctx, TLS1_2_VERSION, TLS1_2_VERSION, ALPN_H2_H1, sizeof(ALPN_H2_H1) - 1,
                        NULL, &v, proto, sizeof(proto)));
    ck_assert_int_eq(v, TLS1_2_VERSION);
    ck_assert_str_eq(proto, "http/1.1");
    tls_context_free(ctx);
}
END_TEST

START_TEST(test_handshakes_refuse_h2_old_versions_and_weak_ciphers)
{
    SSL_CTX *ctx = made(cert, key);
    char proto[32];
    int v = 0;

    ck_assert(!handshake(ctx, 0, 0, ALPN_H2, sizeof(ALPN_H2) - 1, NULL, &v, proto, sizeof(proto)));
    ck_assert(
        !handshake(ctx, TLS1_VERSION, TLS1_1_VERSION, NULL, 0, NULL, &v, proto, sizeof(proto)));
    ck_assert(!handshake(ctx, TLS1_2_VERSION, TLS1_2_VERSION, NULL, 0, "ECDHE-ECDSA-AES128-SHA", &v,
                         proto, sizeof(proto)));
    ck_assert(!handshake(ctx, TLS1_2_VERSION, TLS1_2_VERSION, NULL, 0, "AES128-GCM-SHA256", &v,
                         proto, sizeof(proto)));
    tls_context_free(ctx);
}
END_TEST

Suite *
tls_suite(void)
{
    Suite *su = suite_create("tls");
    TCase *tc = tcase_create("tls");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_neither_file_means_plain_http);
    tcase_add_test(tc, test_one_file_without_the_other_is_refused);
    tcase_add_test(tc, test_missing_files_are_refused);
    tcase_add_test(tc, test_files_that_are_not_pem_are_refused);
    tcase_add_test(tc, test_encrypted_key_is_refused_without_a_prompt);
    tcase_add_test(tc, test_key_that_does_not_match_is_refused);
    tcase_add_test(tc, test_key_others_may_read_is_refused);
    tcase_add_test(tc, test_oversized_key_is_refused);
    tcase_add_test(tc, test_context_settings_are_modern);
    tcase_add_test(tc, test_handshakes_prefer_tls13_and_http11);
    tcase_add_test(tc, test_handshakes_refuse_h2_old_versions_and_weak_ciphers);
    suite_add_tcase(su, tc);
    return su;
}
