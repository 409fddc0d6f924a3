/*
 * secret: bearer secrets (the admin token): making them, storing only their Argon2id hash
 * (libsodium crypto_pwhash_str), and checking a presented one.
 *
 * Checking against the Argon2id hash is slow on purpose, so a struct secret_check remembers a
 * keyed BLAKE2b hash of the one token that verified, under a random key that never leaves
 * memory; later requests compare against it in constant time. Since there is exactly one admin
 * token, any other token is then refused without running Argon2id again.
 *
 * THREAD SAFETY: secret_check_verify may be called from many threads at once.
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#include "consentd/err.h"

#define SECRET_TOKEN_LEN 43  /* base64url of 32 random bytes, no NUL */
#define SECRET_HASH_MAX  128 /* crypto_pwhash_STRBYTES, with the NUL */
#define SECRET_MAX_LEN   512 /* longest token we ever look at */

/* secret_token_new writes a new random token (SECRET_TOKEN_LEN characters and a NUL). */
void secret_token_new(char out[static SECRET_TOKEN_LEN + 1]);

/*
 * secret_hash writes the Argon2id hash string of token[0..len) into out. Returns ERR_NOMEM if
 * libsodium could not get the memory it needs.
 */
enum err secret_hash(const char *token, size_t len, char out[static SECRET_HASH_MAX]);

/* secret_hash_valid is true if s looks like an Argon2id hash string secret_hash made. */
_Bool secret_hash_valid(const char *s);

struct secret_check;

/* secret_check_new makes a checker for the hash string hash (copied). NULL on ERR_NOMEM. */
struct secret_check *secret_check_new(const char *hash);

/* secret_check_free wipes and frees c; NULL is a no-op. */
void secret_check_free(struct secret_check *c);

/*
 * secret_check_verify returns ERR_OK if token[0..len) is the secret whose hash c holds, else
 * ERR_AUTH (also for an empty token or one longer than SECRET_MAX_LEN).
 */
enum err secret_check_verify(struct secret_check *c, const char *token, size_t len) ERR_WUR;

#endif
