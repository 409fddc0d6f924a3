/*
 * sig: Ed25519 signing and verification through libsodium.
 */
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "consentd/sig.h"
#include "keys_internal.h"

void
sig_sign(const struct keys_pair *k, const uint8_t *msg, size_t len, uint8_t sig[static SIG_BYTES])
{
    static const uint8_t empty[1];

    if (msg == NULL)
        msg = empty;
    crypto_sign_detached(sig, NULL, msg, len, keys_secret(k));
}

enum err
sig_verify(const uint8_t pk[static KEYS_PUBLIC_BYTES], const uint8_t *msg, size_t len,
           const uint8_t sig[static SIG_BYTES])
{
    static const uint8_t empty[1];

    if (msg == NULL)
        msg = empty;
    if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
        return ERR_BADSIG;
    return ERR_OK;
}
