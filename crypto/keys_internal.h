/*
 * keys_internal: the one way to reach a secret key, for crypto/keys.c and crypto/sig.c only.
 *
 * THREAD SAFETY: the returned memory is read-only and may be read by many threads at once.
 */
#ifndef KEYS_INTERNAL_H
#define KEYS_INTERNAL_H

#include <stdint.h>

#include "consentd/keys.h"

#define KEYS_SECRET_BYTES 64 /* libsodium's Ed25519 secret key: seed ‖ public key */

/*
 * keys_secret returns k's libsodium secret key (KEYS_SECRET_BYTES, read-only), valid until
 * keys_free(k).
 */
const uint8_t *keys_secret(const struct keys_pair *k);

#endif
