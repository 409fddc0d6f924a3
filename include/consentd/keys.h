/*
 * keys: Ed25519 key pairs and key files. A secret key lives in sodium_malloc'd memory, made
 * read-only once set, and is wiped when freed. A key file holds exactly the 32-byte seed, mode
 * 0600, owned by the running user; any other mode, length or file type (a symlink included)
 * is refused.
 *
 * THREAD SAFETY: a struct keys_pair is immutable after creation and may be shared by threads.
 */
#ifndef KEYS_H
#define KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"

#define KEYS_PUBLIC_BYTES 32
#define KEYS_SEED_BYTES   32
#define KEYS_KID_LEN      43 /* base64url(SHA-256(public key)), unpadded, no NUL */

struct keys_pair;

/* keys_generate makes a new random key pair. *out is NULL on failure (ERR_NOMEM). */
enum err keys_generate(struct keys_pair **out);

/* keys_from_seed derives the key pair of a 32-byte seed. *out is NULL on failure. */
enum err keys_from_seed(const uint8_t seed[static KEYS_SEED_BYTES], struct keys_pair **out);

/* keys_free wipes and frees k; NULL is a no-op. */
void keys_free(struct keys_pair *k);

/* keys_public copies the 32-byte public key of k to pk. */
void keys_public(const struct keys_pair *k, uint8_t pk[static KEYS_PUBLIC_BYTES]);

/*
 * keys_kid writes the key id of a public key: base64url(SHA-256(pk)) without padding, 43
 * characters and a NUL, into out.
 */
void keys_kid(const uint8_t pk[static KEYS_PUBLIC_BYTES], char out[static KEYS_KID_LEN + 1]);

/*
 * keys_save writes k's seed to a new file at path with mode 0600 and fsyncs it and its
 * directory. Returns ERR_EXISTS if path exists (it is never overwritten), ERR_IO otherwise
 * on failure (errno set; a partial file is removed).
 */
enum err keys_save(const struct keys_pair *k, const char *path);

/*
 * keys_load reads a key file written by keys_save. Returns ERR_PERM if path is a symlink or not
 * a regular file or its mode grants anything to group or others; ERR_INVAL if it does not hold
 * exactly 32 bytes; ERR_IO if it cannot be read (errno set). *out is NULL on failure.
 */
enum err keys_load(const char *path, struct keys_pair **out) ERR_WUR;

#endif
