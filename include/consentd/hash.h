/*
 * hash: SHA-256, the one hash of the log, of key ids and of signed-note key hashes; and, for
 * in-memory tables only, keyed BLAKE2b and SipHash.
 *
 * THREAD SAFETY: every function is reentrant. hash_init() must have run once (sodium_init).
 */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"

#define HASH_BYTES 32

/* hash_init initialises libsodium; call once before any other crypto/ function. */
enum err hash_init(void);

/* hash_sha256 writes SHA-256(in[0..len)) to out. */
void hash_sha256(const uint8_t *in, size_t len, uint8_t out[static HASH_BYTES]);

/* hash_sha256_2 writes SHA-256(a ‖ b) to out; either part may be empty (pointer ignored). */
void hash_sha256_2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                   uint8_t out[static HASH_BYTES]);

/* hash_equal compares two hashes in constant time. */
_Bool hash_equal(const uint8_t a[static HASH_BYTES], const uint8_t b[static HASH_BYTES]);

/*
 * hash_keyed writes BLAKE2b-256 of in[0..len) under key to out (libsodium's crypto_generichash):
 * collision resistant like SHA-256 and about three times as fast here, for in-memory tables of
 * what was already checked (token.c's verified tokens). Never for what others verify: the log,
 * its checkpoints and key ids are SHA-256.
 */
void hash_keyed(const uint8_t key[static HASH_BYTES], const uint8_t *in, size_t len,
                uint8_t out[static HASH_BYTES]);

/*
 * hash_short is SipHash-2-4 of in[0..len) under a secret key (libsodium's crypto_shorthash):
 * a 64-bit hash for in-memory tables, which an attacker who does not know the key cannot steer
 * into collisions. Make the key with hash_random.
 */
#define HASH_SHORT_KEY_BYTES 16
uint64_t hash_short(const uint8_t key[static HASH_SHORT_KEY_BYTES], const uint8_t *in, size_t len);

/* hash_random fills buf with len random bytes from libsodium's CSPRNG. */
void hash_random(uint8_t *buf, size_t len);

#endif
