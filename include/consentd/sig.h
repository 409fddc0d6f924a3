/*
 * sig: Ed25519 signatures (RFC 8032, pure Ed25519) through libsodium.
 *
 * THREAD SAFETY: reentrant; a struct keys_pair may be used by many threads at once.
 */
#ifndef SIG_H
#define SIG_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/keys.h"

#define SIG_BYTES 64

/* sig_sign writes the signature of msg[0..len) by k to sig. */
void sig_sign(const struct keys_pair *k, const uint8_t *msg, size_t len,
              uint8_t sig[static SIG_BYTES]);

/*
 * sig_verify returns ERR_OK if sig is pk's signature of msg[0..len), else ERR_BADSIG
 * (also for a public key of small order or a non-canonical signature, which libsodium refuses).
 */
enum err sig_verify(const uint8_t pk[static KEYS_PUBLIC_BYTES], const uint8_t *msg, size_t len,
                    const uint8_t sig[static SIG_BYTES]) ERR_WUR;

#endif
