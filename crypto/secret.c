/*
 * secret: bearer secrets stored as Argon2id hashes, with a keyed-hash cache of the one token
 * that verified so that Argon2id runs once, not per request.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "consentd/secret.h"

#define SECRET_MAC_BYTES crypto_generichash_BYTES
#define SECRET_KEY_BYTES crypto_generichash_KEYBYTES

struct secret_check {
    char hash[SECRET_HASH_MAX];
    pthread_mutex_t lock; /* serialises Argon2id runs, which each take 64 MiB */
    bool known;           /* mac holds the keyed hash of the token that verified */
    uint8_t key[SECRET_KEY_BYTES];
    uint8_t mac[SECRET_MAC_BYTES];
};

void
secret_token_new(char out[static SECRET_TOKEN_LEN + 1])
{
    uint8_t raw[32];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, SECRET_TOKEN_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

enum err
secret_hash(const char *token, size_t len, char out[static SECRET_HASH_MAX])
{
    if (crypto_pwhash_str(out, token, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        out[0] = '\0';
        return ERR_NOMEM;
    }
    return ERR_OK;
}

_Bool
secret_hash_valid(const char *s)
{
    size_t n = strnlen(s, SECRET_HASH_MAX);

    return n > 0 && n < SECRET_HASH_MAX && strncmp(s, "$argon2id$", 10) == 0;
}

struct secret_check *
secret_check_new(const char *hash)
{
    struct secret_check *c = sodium_malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    if (strlen(hash) >= sizeof(c->hash)) {
        sodium_free(c);
        return NULL;
    }
    memcpy(c->hash, hash, strlen(hash) + 1);
    pthread_mutex_init(&c->lock, NULL);
    crypto_generichash_keygen(c->key);
    return c;
}

void
secret_check_free(struct secret_check *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    sodium_free(c); /* sodium_free wipes the memory */
}

enum err
secret_check_verify(struct secret_check *c, const char *token, size_t len)
{
    uint8_t mac[SECRET_MAC_BYTES];
    enum err rc = ERR_AUTH;

    if (len == 0 || len > SECRET_MAX_LEN)
        return ERR_AUTH;
    crypto_generichash(mac, sizeof(mac), (const unsigned char *)token, len, c->key, sizeof(c->key));
    pthread_mutex_lock(&c->lock);
    if (c->known) {
        rc = sodium_memcmp(mac, c->mac, sizeof(mac)) == 0 ? ERR_OK : ERR_AUTH;
    } else if (crypto_pwhash_str_verify(c->hash, token, len) == 0) {
        memcpy(c->mac, mac, sizeof(mac));
        c->known = true;
        rc = ERR_OK;
    }
    pthread_mutex_unlock(&c->lock);
    sodium_memzero(mac, sizeof(mac));
    return rc;
}
