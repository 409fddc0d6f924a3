/*
 * testutil: helpers the unit tests share: temporary directories, a fixed-seed key, and RSA and
 * EC keys made and used with OpenSSL, the way a client's own library would.
 *
 * THREAD SAFETY: none needed; each test runs in its own forked process.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "consentd/keys.h"

#define TU_DIR_MAX 64

/* tu_tmpdir makes a new private directory under $TMPDIR (or /tmp) and writes its path to out. */
void tu_tmpdir(char out[static TU_DIR_MAX]);

/* tu_rmrf removes dir and everything below it. */
void tu_rmrf(const char *dir);

/* tu_key returns the key pair of the seed whose bytes are all seed_byte (free with keys_free). */
struct keys_pair *tu_key(unsigned char seed_byte);

/* tu_read_file returns the malloc'd, NUL-terminated contents of path (free it). */
char *tu_read_file(const char *path);

/* tu_path writes dir/name into out. */
void tu_path(const char *dir, const char *name, char out[static PATH_MAX]);

/* tu_rsa_key makes a new RSA key of bits bits (e = 65537); tu_ec_key one on curve "P-256" or
 * "P-384". Free with EVP_PKEY_free. */
EVP_PKEY *tu_rsa_key(unsigned bits);
EVP_PKEY *tu_ec_key(const char *curve);

/*
 * tu_jwk returns the public JWK of an RSA or EC key made above (cJSON_Delete it): kty, n, e or
 * kty, crv, x, y, each base64url without leading zero octets (RSA) or full size (EC).
 */
cJSON *tu_jwk(EVP_PKEY *k);

/*
 * tu_sign_jws writes the compact JWS of header and payload signed by k into out (cap bytes):
 * RSASSA-PKCS1-v1_5 for an RSA key, ECDSA for an EC key, hashed with SHA-256 or SHA-384 as
 * sha384 says. An ECDSA signature is r ‖ s, as JWS wants, unless der: then OpenSSL's DER.
 */
void tu_sign_jws(EVP_PKEY *k, bool sha384, bool der, const char *header, const char *payload,
                 char *out, size_t cap);

#endif
