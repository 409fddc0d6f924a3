/*
 * tls: the server's SSL_CTX: settings, the certificate chain, the key read from a checked file,
 * and ALPN that selects http/1.1 or nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "consentd/tls.h"

/* The ALPN protocol list consentd speaks, in wire form (a length byte, then the name). */
static const unsigned char tls_alpn[] = "\x08http/1.1";

/*
 * tls_reason writes OpenSSL's reason for the first error queued (the cause; later ones are
 * where it surfaced) to out (cap bytes) and clears the queue.
 */
static void
tls_reason(char *out, size_t cap)
{
    unsigned long e = ERR_peek_error();
    const char *r = e == 0 ? NULL : ERR_reason_error_string(e);

    snprintf(out, cap, "%s", r != NULL ? r : "no reason given");
    ERR_clear_error();
}

/*
 * tls_select_alpn is the server's ALPN choice: http/1.1 if the client offers it. A client that
 * offers only other protocols (h2 alone) gets the fatal no_application_protocol alert RFC 7301
 * §3.2 asks for, rather than a connection it would misread.
 */
static int
tls_select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                unsigned int inlen, void *arg)
{
    unsigned char *sel = NULL;
    unsigned char len = 0;

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, &len, tls_alpn, sizeof(tls_alpn) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    *outlen = len;
    return SSL_TLSEXT_ERR_OK;
}

/* tls_no_passphrase refuses to decrypt a key: OpenSSL would otherwise prompt on the terminal. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/*
 * tls_read_key reads the key file at path into buf (TLS_KEY_MAX bytes) after checking, on the
 * open file itself, that it is a regular file owned by this user that no one else may read.
 */
static enum err
tls_read_key(const char *path, char buf[static TLS_KEY_MAX], size_t *len, char *why, size_t why_cap)
{
    struct stat st;
    ssize_t n;
    int fd;
    enum err rc = ERR_OK;

    *len = 0;
    /* O_NONBLOCK keeps a FIFO at path from blocking the open; it is ignored for files. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, why_cap, "cannot open the TLS key %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_cap, "cannot read the TLS key %s: %s", path, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_cap, "the TLS key %s is not a regular file", path);
        rc = ERR_PERM;
        goto out;
    }
    if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        snprintf(why, why_cap,
                 "the TLS key %s must be owned by the user consentd runs as (uid %u) and "
                 "readable by that user only (chmod 0600); it has mode %04o and owner uid %u",
                 path, (unsigned)geteuid(), (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
        rc = ERR_PERM;
        goto out;
    }
    if (st.st_size > TLS_KEY_MAX) {
        snprintf(why, why_cap, "the TLS key %s is over %d bytes: it is not a PEM private key", path,
                 TLS_KEY_MAX);
        rc = ERR_TOOBIG;
        goto out;
    }
    while (*len < TLS_KEY_MAX) {
        n = read(fd, buf + *len, TLS_KEY_MAX - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, why_cap, "cannot read the TLS key %s: %s", path, strerror(errno));
            rc = ERR_IO;
            goto out;
        }
        if (n == 0)
            break;
        *len += (size_t)n;
    }
out:
    close(fd);
    return rc;
}

/*
 * tls_use_key loads the key file at path into ssl, which holds the certificate cert already;
 * the buffer that held the key is wiped on every path.
 */
static enum err
tls_use_key(SSL_CTX *ssl, const char *path, const char *cert, char *why, size_t why_cap)
{
    char buf[TLS_KEY_MAX], reason[128];
    unsigned long e;
    EVP_PKEY *pk = NULL;
    BIO *bio = NULL;
    size_t len;
    enum err rc;

    rc = tls_read_key(path, buf, &len, why, why_cap);
    if (rc != ERR_OK)
        goto out;
    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio == NULL) {
        rc = ERR_NOMEM;
        snprintf(why, why_cap, "out of memory reading the TLS key %s", path);
        goto out;
    }
    pk = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase, NULL);
    if (pk == NULL) {
        tls_reason(reason, sizeof(reason));
        snprintf(why, why_cap,
                 "the TLS key %s is not an unencrypted PEM private key (%s); decrypt it with "
                 "`openssl pkey -in KEY -out KEY.plain` if it has a passphrase",
                 path, reason);
        rc = ERR_INVAL;
        goto out;
    }
    if (SSL_CTX_use_PrivateKey(ssl, pk) != 1) {
        e = ERR_peek_error();
        tls_reason(reason, sizeof(reason));
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                               ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
            snprintf(why, why_cap, "the TLS key %s does not match the certificate %s", path, cert);
        else
            snprintf(why, why_cap, "the TLS key %s cannot be used (%s)", path, reason);
        rc = ERR_INVAL;
        goto out;
    }
out:
    EVP_PKEY_free(pk);
    BIO_free(bio);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* tls_settings applies the protocol settings the header lists. */
static enum err
tls_settings(SSL_CTX *ssl, char *why, size_t why_cap)
{
    /* Writable: OpenSSL's macro casts its argument to char *, which clang flags for a literal. */
    char reason[128], groups[] = TLS_GROUPS;

    if (SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ssl, TLS_CIPHERS_12) != 1 ||
        SSL_CTX_set_ciphersuites(ssl, TLS_CIPHERS_13) != 1 ||
        SSL_CTX_set1_groups_list(ssl, groups) != 1) {
        tls_reason(reason, sizeof(reason));
        snprintf(why, why_cap, "this OpenSSL refuses consentd's TLS settings (%s)", reason);
        return ERR_INVAL;
    }
    /*
     * Every cipher offered is an AEAD with forward secrecy, so the client's preference (say,
     * ChaCha20 on a phone without AES instructions) is as safe as ours, as Mozilla advises.
     */
    SSL_CTX_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_options(ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_alpn_select_cb(ssl, tls_select_alpn, NULL);
    return ERR_OK;
}

enum err
tls_context_new(const char *cert, const char *key, SSL_CTX **out, char *why, size_t why_cap)
{
    SSL_CTX *ssl = NULL;
    char reason[128];
    int fd;
    enum err rc;

    *out = NULL;
    why[0] = '\0';
    if (cert[0] == '\0' && key[0] == '\0')
        return ERR_OK;
    if (cert[0] == '\0' || key[0] == '\0') {
        snprintf(why, why_cap,
                 "TLS needs both tls_cert and tls_key (--tls-cert and --tls-key); only %s is "
                 "set",
                 cert[0] != '\0' ? "tls_cert" : "tls_key");
        return ERR_INVAL;
    }
    ERR_clear_error();
    ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL) {
        snprintf(why, why_cap, "cannot make a TLS context: out of memory");
        return ERR_NOMEM;
    }
    rc = tls_settings(ssl, why, why_cap);
    if (rc != ERR_OK)
        goto out;
    /* Open it first for errno's sentence: OpenSSL's "system library" says less. */
    fd = open(cert, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, why_cap, "cannot open the TLS certificate %s: %s", cert, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    close(fd);
    if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1) {
        tls_reason(reason, sizeof(reason));
        snprintf(why, why_cap,
                 "the TLS certificate %s is not a PEM certificate chain (%s); it must hold the "
                 "server's certificate first, then any intermediates",
                 cert, reason);
        rc = ERR_INVAL;
        goto out;
    }
    rc = tls_use_key(ssl, key, cert, why, why_cap);
    if (rc != ERR_OK)
        goto out;
    if (SSL_CTX_check_private_key(ssl) != 1) {
        ERR_clear_error();
        snprintf(why, why_cap, "the TLS key %s does not match the certificate %s", key, cert);
        rc = ERR_INVAL;
        goto out;
    }
    *out = ssl;
    ssl = NULL;
out:
    SSL_CTX_free(ssl);
    return rc;
}

void
tls_context_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}
