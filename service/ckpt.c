/*
 * ckpt: signing checkpoints and keeping every one of them in an append-only file of
 * fixed-size records.
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consentd/ckpt.h"
#include "consentd/crashpoint.h"
#include "consentd/log.h"

enum err
ckpt_signer_init(struct ckpt_signer *s, struct keys_pair *key, const char *origin)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    enum err rc;

    memset(s, 0, sizeof(*s));
    if (strlen(origin) > NOTE_MAX_ORIGIN) {
        keys_free(key);
        return ERR_INVAL;
    }
    keys_public(key, pk);
    rc = note_verifier_init(&s->verifier, origin, pk);
    if (rc != ERR_OK) {
        keys_free(key);
        return rc;
    }
    s->key = key;
    memcpy(s->origin, origin, strlen(origin) + 1);
    return ERR_OK;
}

void
ckpt_signer_clear(struct ckpt_signer *s)
{
    keys_free(s->key);
    s->key = NULL;
}

enum err
ckpt_sign(const struct ckpt_signer *s, uint64_t size, const uint8_t root[static HASH_BYTES],
          char out[static CKPT_RECORD], size_t *len)
{
    struct note_checkpoint c;
    char body[CKPT_RECORD];
    size_t body_len;
    enum err rc;

    memset(&c, 0, sizeof(c));
    memcpy(c.origin, s->origin, sizeof(c.origin));
    c.size = size;
    memcpy(c.root, root, HASH_BYTES);
    rc = note_checkpoint_format(&c, body, sizeof(body), &body_len);
    if (rc != ERR_OK)
        return rc;
    return note_sign(s->key, &s->verifier, body, body_len, out, CKPT_RECORD, len);
}

enum err
ckpt_open_verify(const struct note_verifier *v, const char *note, size_t len,
                 struct note_checkpoint *c)
{
    size_t text_len;
    enum err rc;

    memset(c, 0, sizeof(*c));
    rc = note_verify(v, note, len, &text_len);
    if (rc != ERR_OK)
        return rc;
    rc = note_checkpoint_parse(note, text_len, c);
    if (rc != ERR_OK)
        return rc;
    /* The origin names the log; a checkpoint of another log signed by the same key is not ours. */
    if (strcmp(c->origin, v->name) != 0) {
        memset(c, 0, sizeof(*c));
        return ERR_BADSIG;
    }
    return ERR_OK;
}

enum err
ckpt_file_open(const char *path, bool create, int *fd, char last[static CKPT_RECORD],
               uint64_t *count)
{
    struct stat st;
    off_t whole;
    ssize_t n;
    int f;

    last[0] = '\0';
    *count = 0;
    *fd = -1;
    f = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | O_EXCL : 0),
             0600);
    if (f == -1) {
        log_warn("ckpt: open %s", path);
        return ERR_IO;
    }
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_warnx("ckpt: %s is not a regular file", path);
        close(f);
        return ERR_IO;
    }
    whole = st.st_size - st.st_size % CKPT_RECORD;
    if (whole != st.st_size) {
        log_warnx("ckpt: %s ends in a torn record (%lld bytes); truncating it", path,
                  (long long)(st.st_size - whole));
        if (ftruncate(f, whole) != 0 || fsync(f) != 0) {
            log_warn("ckpt: truncate %s", path);
            close(f);
            return ERR_IO;
        }
    }
    while (whole > 0) {
        n = pread(f, last, CKPT_RECORD, whole - CKPT_RECORD);
        if (n != CKPT_RECORD) {
            log_warn("ckpt: read %s", path);
            close(f);
            return ERR_IO;
        }
        last[CKPT_RECORD - 1] = '\0';
        if (last[0] != '\0')
            break;
        /* A record of NUL bytes: the file grew but the data never reached the disk. */
        log_warnx("ckpt: %s ends in an empty record; truncating it", path);
        whole -= CKPT_RECORD;
        if (ftruncate(f, whole) != 0 || fsync(f) != 0) {
            log_warn("ckpt: truncate %s", path);
            close(f);
            return ERR_IO;
        }
    }
    *count = (uint64_t)whole / CKPT_RECORD;
    *fd = f;
    return ERR_OK;
}

enum err
ckpt_file_append(int fd, const char *note, size_t len)
{
    char rec[CKPT_RECORD];
    ssize_t n;

    if (len >= CKPT_RECORD)
        return ERR_TOOBIG;
    memset(rec, 0, sizeof(rec));
    memcpy(rec, note, len);
    CRASHPOINT_TORN(CKPT_TORN, fd, rec, sizeof(rec));
    n = write(fd, rec, sizeof(rec));
    if (n != (ssize_t)sizeof(rec)) {
        log_warn("ckpt: write checkpoint record (%zd of %zu bytes)", n, sizeof(rec));
        return ERR_IO;
    }
    CRASHPOINT(CKPT_WRITTEN);
    if (fdatasync(fd) != 0) {
        log_warn("ckpt: fdatasync checkpoint file");
        return ERR_IO;
    }
    CRASHPOINT(CKPT_SYNCED);
    return ERR_OK;
}

enum err
ckpt_file_reserve(int fd)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        log_warn("ckpt: fstat checkpoint file");
        return ERR_IO;
    }
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, CKPT_RESERVE * CKPT_RECORD) == 0 ||
        errno == EOPNOTSUPP)
        return ERR_OK;
    if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)
        return ERR_UNAVAIL;
    log_warn("ckpt: reserve space in the checkpoint file");
    return ERR_IO;
}
