/*
 * keys: Ed25519 key pairs in guarded, read-only libsodium memory, and seed files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/keys.h"
#include "keys_internal.h"

/*
 * The whole pair lives in one sodium_malloc'd block, read-only once filled, so the secret key
 * sits between guard pages and is wiped by sodium_free.
 */
struct keys_pair {
    uint8_t pk[KEYS_PUBLIC_BYTES];
    uint8_t sk[KEYS_SECRET_BYTES];
};

enum err
keys_from_seed(const uint8_t seed[static KEYS_SEED_BYTES], struct keys_pair **out)
{
    struct keys_pair *k;
    enum err rc = ERR_OK;

    *out = NULL;
    k = sodium_malloc(sizeof(*k));
    if (k == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    if (sodium_mprotect_readonly(k) != 0) {
        sodium_free(k);
        rc = ERR_NOMEM;
        goto out;
    }
    *out = k;
out:
    return rc;
}

enum err
keys_generate(struct keys_pair **out)
{
    uint8_t seed[KEYS_SEED_BYTES];
    enum err rc;

    randombytes_buf(seed, sizeof(seed));
    rc = keys_from_seed(seed, out);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

void
keys_free(struct keys_pair *k)
{
    /* sodium_free makes the block writable again and wipes it. */
    if (k != NULL)
        sodium_free(k);
}

void
keys_public(const struct keys_pair *k, uint8_t pk[static KEYS_PUBLIC_BYTES])
{
    memcpy(pk, k->pk, KEYS_PUBLIC_BYTES);
}

const uint8_t *
keys_secret(const struct keys_pair *k)
{
    return k->sk;
}

void
keys_kid(const uint8_t pk[static KEYS_PUBLIC_BYTES], char out[static KEYS_KID_LEN + 1])
{
    uint8_t h[HASH_BYTES];

    hash_sha256(pk, KEYS_PUBLIC_BYTES, h);
    /* 32 bytes always fit in 43 characters and a NUL. */
    (void)b64_encode(h, sizeof(h), B64_URL, out, KEYS_KID_LEN + 1);
}

/* write_all writes buf[0..len) to fd, retrying after signals and short writes. */
static enum err
write_all(int fd, const uint8_t *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return ERR_IO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return ERR_OK;
}

/* fsync_parent fsyncs the directory holding path, so that the new name is durable. */
static enum err
fsync_parent(const char *path)
{
    const char *slash;
    char *dir = NULL;
    size_t len;
    int fd = -1;
    enum err rc = ERR_OK;

    slash = strrchr(path, '/');
    if (slash == NULL) {
        dir = strdup(".");
    } else {
        len = (size_t)(slash - path);
        if (len == 0)
            len = 1;
        dir = strndup(path, len);
    }
    if (dir == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rc = ERR_IO;
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = ERR_IO;
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

enum err
keys_save(const struct keys_pair *k, const char *path)
{
    int fd = -1;
    int saved;
    enum err rc = ERR_OK;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? ERR_EXISTS : ERR_IO;
        goto out;
    }
    /* libsodium's secret key starts with the seed. */
    rc = write_all(fd, k->sk, KEYS_SEED_BYTES);
    if (rc != ERR_OK)
        goto fail;
    if (fsync(fd) != 0) {
        rc = ERR_IO;
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = ERR_IO;
        goto fail;
    }
    fd = -1;
    rc = fsync_parent(path);
    if (rc != ERR_OK)
        goto fail;
    goto out;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    fd = -1;
    unlink(path);
    errno = saved;
out:
    return rc;
}

/* read_all reads exactly len bytes from fd; a short file is ERR_INVAL. */
static enum err
read_all(int fd, uint8_t *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ERR_IO;
        if (n == 0)
            return ERR_INVAL;
        buf += n;
        len -= (size_t)n;
    }
    return ERR_OK;
}

enum err
keys_load(const char *path, struct keys_pair **out)
{
    uint8_t seed[KEYS_SEED_BYTES];
    struct stat st;
    int fd = -1;
    enum err rc = ERR_OK;

    *out = NULL;
    /*
     * O_NOFOLLOW makes a symlink fail with ELOOP; O_NONBLOCK keeps a FIFO planted at path from
     * blocking the open, and is ignored for regular files.
     */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = errno == ELOOP ? ERR_PERM : ERR_IO;
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        rc = ERR_PERM;
        goto out;
    }
    if (st.st_size != KEYS_SEED_BYTES) {
        rc = ERR_INVAL;
        goto out;
    }
    rc = read_all(fd, seed, sizeof(seed));
    if (rc != ERR_OK)
        goto out;
    rc = keys_from_seed(seed, out);
out:
    sodium_memzero(seed, sizeof(seed));
    if (fd >= 0)
        close(fd);
    return rc;
}
