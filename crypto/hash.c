/*
 * hash: SHA-256, SipHash and randomness through libsodium.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "consentd/hash.h"

enum err
hash_init(void)
{
    if (sodium_init() < 0)
        return ERR_UNAVAIL;
    return ERR_OK;
}

void
hash_sha256(const uint8_t *in, size_t len, uint8_t out[static HASH_BYTES])
{
    static const uint8_t empty[1];

    if (in == NULL)
        in = empty;
    crypto_hash_sha256(out, in, len);
}

void
hash_sha256_2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
              uint8_t out[static HASH_BYTES])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    if (alen > 0)
        crypto_hash_sha256_update(&st, a, alen);
    if (blen > 0)
        crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_final(&st, out);
}

_Static_assert(HASH_BYTES >= crypto_generichash_KEYBYTES_MIN &&
                   HASH_BYTES <= crypto_generichash_KEYBYTES_MAX &&
                   HASH_BYTES >= crypto_generichash_BYTES_MIN,
               "BLAKE2b takes 32-byte keys and makes 32-byte hashes");

void
hash_keyed(const uint8_t key[static HASH_BYTES], const uint8_t *in, size_t len,
           uint8_t out[static HASH_BYTES])
{
    (void)crypto_generichash(out, HASH_BYTES, in, len, key, HASH_BYTES);
}

bool
hash_equal(const uint8_t a[static HASH_BYTES], const uint8_t b[static HASH_BYTES])
{
    return sodium_memcmp(a, b, HASH_BYTES) == 0;
}

_Static_assert(HASH_SHORT_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash-2-4 takes 16-byte keys");

uint64_t
hash_short(const uint8_t key[static HASH_SHORT_KEY_BYTES], const uint8_t *in, size_t len)
{
    static const uint8_t empty[1];
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h = 0;
    size_t i;

    if (in == NULL)
        in = empty;
    crypto_shorthash(out, in, len, key);
    for (i = 0; i < sizeof(out); i++)
        h = h << 8 | out[i];
    return h;
}

void
hash_random(uint8_t *buf, size_t len)
{
    if (len > 0)
        randombytes_buf(buf, len);
}
