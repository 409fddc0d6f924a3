/*
 * tls: the server's TLS context, from the certificate chain and private key the config names,
 * with modern defaults: TLS 1.2 at least and 1.3 preferred; for TLS 1.2, ECDHE key exchange
 * with AEAD ciphers only; no compression, no renegotiation, no session tickets (OpenSSL never
 * rotates their key in a long-running process); and ALPN answering http/1.1 only, so that
 * HTTP/2, which Debian's h2o 2.2.5 cannot serve safely, is never negotiated. The key file must
 * be readable by its owner only, like consentd's own key files. Loaded once, before serving;
 * every failure is a sentence an operator can act on.
 *
 * THREAD SAFETY: tls_context_new runs once at start; the SSL_CTX is then shared by the worker
 * threads, which only make connections from it, as OpenSSL allows.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "consentd/err.h"

/* Mozilla's "intermediate" TLS 1.2 ciphers, less the DHE ones (ECDHE serves every client). */
#define TLS_CIPHERS_12                                                                             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_CIPHERS_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS     "X25519:P-256:P-384"
#define TLS_KEY_MAX    65536 /* bytes of a PEM key file; an RSA-16384 key is about 12 KiB */

/*
 * tls_context_new makes the server context for the PEM certificate chain at cert (server
 * certificate first) and the unencrypted PEM private key at key. Both empty means plain HTTP:
 * ERR_OK with *out NULL. Otherwise, on success *out is the context (tls_context_free it).
 * Returns ERR_INVAL (only one of the two set; not PEM; an encrypted key; a key that does not
 * match the certificate), ERR_IO (a file cannot be opened or read), ERR_PERM (the key file is
 * not a regular file owned by this user with no group or other permission bits), ERR_TOOBIG
 * (a key file over TLS_KEY_MAX), ERR_NOMEM; each with a sentence naming the file in why
 * (why_cap bytes) and *out NULL. The key's bytes are wiped from memory once loaded.
 */
enum err tls_context_new(const char *cert, const char *key, SSL_CTX **out, char *why,
                         size_t why_cap);

/* tls_context_free frees a context from tls_context_new; NULL is a no-op. */
void tls_context_free(SSL_CTX *ctx);

#endif
