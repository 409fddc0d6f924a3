/*
 * auditlog: the auditor's local copy of a log: files appended and fsynced, the checkpoint file
 * replaced by rename as the commit point.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consentd/auditlog.h"
#include "consentd/xmalloc.h"

#define AUDITLOG_READ_BUF (1 << 20)  /* stdio buffer of the entries reader */
#define AUDITLOG_REFUSED  ".refused" /* the suffix of a refused checkpoint's name */

static const char auditlog_key_name[] = "key";
static const char auditlog_entries_name[] = "entries";
static const char auditlog_leaves_name[] = "leaves";
static const char auditlog_ckpt_name[] = "checkpoint";
static const char auditlog_saved_dir[] = "checkpoints";
static const char auditlog_lock_name[] = "lock";

static void auditlog_why(char why[static AUDITLOG_WHY_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
auditlog_why(char why[static AUDITLOG_WHY_MAX], const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, AUDITLOG_WHY_MAX, fmt, ap);
    va_end(ap);
}

static void
auditlog_path(const struct auditlog *l, const char *name, char out[static PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s/%.64s", l->dir, name);
}

/* auditlog_fsync_dir makes a rename or a new file in dir durable. */
static enum err
auditlog_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    enum err rc = ERR_OK;

    if (fd == -1)
        return ERR_IO;
    if (fsync(fd) != 0)
        rc = ERR_IO;
    close(fd);
    return rc;
}

static enum err
auditlog_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return ERR_OK;
}

/*
 * auditlog_replace writes data to dir/name through a temporary file, fsynced and renamed into
 * place, then fsyncs dir: the file is either the old one or the new one after a crash.
 */
static enum err
auditlog_replace(const char *dir, const char *name, const void *data, size_t len)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    enum err rc;
    int fd;

    snprintf(tmp, sizeof(tmp), "%.*s/.%.64s.tmp", AUDITLOG_DIR_MAX, dir, name);
    snprintf(path, sizeof(path), "%.*s/%.64s", AUDITLOG_DIR_MAX, dir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1)
        return ERR_IO;
    rc = auditlog_write_all(fd, data, len);
    if (rc == ERR_OK && fsync(fd) != 0)
        rc = ERR_IO;
    if (close(fd) != 0 && rc == ERR_OK)
        rc = ERR_IO;
    if (rc == ERR_OK && rename(tmp, path) != 0)
        rc = ERR_IO;
    if (rc != ERR_OK) {
        unlink(tmp);
        return rc;
    }
    return auditlog_fsync_dir(dir);
}

/* auditlog_read_small reads a whole small file into buf (cap bytes with the NUL). */
static enum err
auditlog_read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    ssize_t n;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    *len = 0;
    buf[0] = '\0';
    if (fd == -1)
        return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    while (got < cap - 1) {
        n = read(fd, buf + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return ERR_IO;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got == cap - 1)
        return ERR_TOOBIG;
    buf[got] = '\0';
    *len = got;
    return ERR_OK;
}

static struct auditlog *
auditlog_new(const char *dir)
{
    struct auditlog *l = xcalloc(1, sizeof(*l));

    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    l->lock_fd = -1;
    merkle_empty_root(l->cp.root);
    return l;
}

static enum err
auditlog_lock(struct auditlog *l, char why[static AUDITLOG_WHY_MAX])
{
    char path[PATH_MAX];

    auditlog_path(l, auditlog_lock_name, path);
    l->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (l->lock_fd == -1) {
        auditlog_why(why, "cannot open %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        auditlog_why(why, "%s is in use by another consentctl (its lock is held)", l->dir);
        return ERR_UNAVAIL;
    }
    l->writable = true;
    return ERR_OK;
}

enum err
auditlog_create(const char *dir, const struct note_verifier *key, struct auditlog **out,
                char why[static AUDITLOG_WHY_MAX])
{
    char line[NOTE_VKEY_MAX + 2], path[PATH_MAX];
    struct auditlog *l = NULL;
    size_t n;
    enum err rc;

    *out = NULL;
    if (strlen(dir) >= AUDITLOG_DIR_MAX) {
        auditlog_why(why, "the path %.64s… is too long", dir);
        return ERR_TOOBIG;
    }
    if (mkdir(dir, 0700) != 0) {
        auditlog_why(why, "cannot make %s: %s", dir, strerror(errno));
        return errno == EEXIST ? ERR_EXISTS : ERR_IO;
    }
    l = auditlog_new(dir);
    l->key = *key;
    snprintf(path, sizeof(path), "%.*s/%s", AUDITLOG_DIR_MAX, dir, auditlog_saved_dir);
    rc = note_verifier_format(key, line, sizeof(line) - 1);
    if (rc == ERR_OK && mkdir(path, 0700) != 0)
        rc = ERR_IO;
    if (rc == ERR_OK) {
        n = strlen(line);
        line[n++] = '\n';
        rc = auditlog_replace(dir, auditlog_key_name, line, n);
    }
    if (rc == ERR_OK)
        rc = auditlog_lock(l, why);
    if (rc != ERR_OK) {
        if (why[0] == '\0' || rc == ERR_IO)
            auditlog_why(why, "cannot set up %s: %s", dir, strerror(errno));
        auditlog_close(l);
        return rc;
    }
    *out = l;
    return ERR_OK;
}

/* auditlog_count_entries sets *bytes to the length of the first n entries of the entries file. */
static enum err
auditlog_entries_bytes(const struct auditlog *l, uint64_t n, uint64_t *bytes,
                       char why[static AUDITLOG_WHY_MAX])
{
    struct auditlog_reader *r = xmalloc(sizeof(*r));
    size_t len;
    enum err rc;

    *bytes = 0;
    rc = auditlog_reader_open(l, r, why);
    while (rc == ERR_OK && r->index < n)
        rc = auditlog_read(r, &len, why);
    if (rc == ERR_NOTFOUND) {
        auditlog_why(why, "the entries file holds %" PRIu64 " entries, the checkpoint %" PRIu64,
                     r->index, n);
        rc = ERR_INVAL;
    }
    *bytes = r->offset;
    auditlog_reader_close(r);
    free(r);
    return rc;
}

/* auditlog_cut truncates name to len bytes if it is longer (the end of an interrupted fetch). */
static enum err
auditlog_cut(const struct auditlog *l, const char *name, uint64_t len)
{
    char path[PATH_MAX];
    struct stat st;
    int fd;
    enum err rc = ERR_OK;

    auditlog_path(l, name, path);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1 || fstat(fd, &st) != 0) {
        rc = ERR_IO;
    } else if ((uint64_t)st.st_size > len) {
        if (ftruncate(fd, (off_t)len) != 0 || fsync(fd) != 0)
            rc = ERR_IO;
    }
    if (fd != -1)
        close(fd);
    return rc;
}

enum err
auditlog_open(const char *dir, bool writable, struct auditlog **out,
              char why[static AUDITLOG_WHY_MAX])
{
    char path[PATH_MAX], line[NOTE_VKEY_MAX + 2];
    struct auditlog *l = auditlog_new(dir);
    size_t n;
    enum err rc;

    *out = NULL;
    why[0] = '\0';
    if (strlen(dir) >= AUDITLOG_DIR_MAX) {
        auditlog_why(why, "the path %.64s… is too long", dir);
        auditlog_close(l);
        return ERR_TOOBIG;
    }
    auditlog_path(l, auditlog_key_name, path);
    rc = auditlog_read_small(path, line, sizeof(line), &n);
    if (rc == ERR_NOTFOUND) {
        auditlog_why(why, "%s holds no copy of a log (no %s file): run `consentctl audit fetch`",
                     dir, auditlog_key_name);
        goto out;
    }
    while (rc == ERR_OK && n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (rc != ERR_OK || note_verifier_parse(line, n, &l->key) != ERR_OK) {
        auditlog_why(why, "%s is not a verifier key", path);
        rc = ERR_INVAL;
        goto out;
    }
    if (writable) {
        rc = auditlog_lock(l, why);
        if (rc != ERR_OK)
            goto out;
    }
    auditlog_path(l, auditlog_ckpt_name, path);
    rc = auditlog_read_small(path, l->note, sizeof(l->note), &l->note_len);
    if (rc == ERR_NOTFOUND) {
        rc = ERR_OK; /* created, never fetched */
    } else if (rc != ERR_OK) {
        auditlog_why(why, "cannot read %s", path);
        goto out;
    } else {
        rc = ckpt_open_verify(&l->key, l->note, l->note_len, &l->cp);
        if (rc != ERR_OK) {
            auditlog_why(why, "%s is not a checkpoint signed by %s", path, l->key.name);
            rc = ERR_BADSIG;
            goto out;
        }
        l->has_checkpoint = true;
    }
    if (writable) {
        /* Cut off what an interrupted fetch appended past the commit point. */
        rc = auditlog_entries_bytes(l, l->cp.size, &l->bytes, why);
        if (rc == ERR_OK)
            rc = auditlog_cut(l, auditlog_entries_name, l->bytes);
        if (rc == ERR_OK)
            rc = auditlog_cut(l, auditlog_leaves_name, l->cp.size * HASH_BYTES);
        if (rc == ERR_IO)
            auditlog_why(why, "cannot trim %s: %s", dir, strerror(errno));
    }
out:
    if (rc != ERR_OK) {
        auditlog_close(l);
        return rc;
    }
    *out = l;
    return ERR_OK;
}

void
auditlog_close(struct auditlog *l)
{
    if (l == NULL)
        return;
    /* Entries appended but never committed: leave the files as the checkpoint has them. */
    if (l->writable && l->pending > 0) {
        (void)auditlog_cut(l, auditlog_entries_name, l->bytes);
        (void)auditlog_cut(l, auditlog_leaves_name, l->cp.size * HASH_BYTES);
    }
    if (l->lock_fd != -1)
        close(l->lock_fd);
    free(l);
}

enum err
auditlog_reader_open(const struct auditlog *l, struct auditlog_reader *r,
                     char why[static AUDITLOG_WHY_MAX])
{
    char path[PATH_MAX];

    r->index = 0;
    r->offset = 0;
    auditlog_path(l, auditlog_entries_name, path);
    r->f = fopen(path, "rbe");
    if (r->f == NULL && errno == ENOENT) {
        /* A copy that was never fetched into holds no entries. */
        r->f = fopen("/dev/null", "rbe");
    }
    if (r->f == NULL) {
        auditlog_why(why, "cannot read %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    setvbuf(r->f, NULL, _IOFBF, AUDITLOG_READ_BUF);
    return ERR_OK;
}

void
auditlog_reader_close(struct auditlog_reader *r)
{
    if (r->f != NULL)
        fclose(r->f);
    r->f = NULL;
}

enum err
auditlog_read(struct auditlog_reader *r, size_t *len, char why[static AUDITLOG_WHY_MAX])
{
    uint8_t pre[AUDITLOG_LEN_BYTES];
    size_t n;

    *len = 0;
    n = fread(pre, 1, sizeof(pre), r->f);
    if (n == 0 && feof(r->f))
        return ERR_NOTFOUND;
    if (n != sizeof(pre)) {
        auditlog_why(why, "the entries file ends inside entry %" PRIu64 "'s length", r->index);
        return ERR_INVAL;
    }
    n = (size_t)pre[0] << 8 | pre[1];
    if (n == 0) {
        auditlog_why(why, "entry %" PRIu64 " has length 0 in the entries file", r->index);
        return ERR_INVAL;
    }
    if (fread(r->buf, 1, n, r->f) != n) {
        auditlog_why(why, "the entries file ends inside entry %" PRIu64, r->index);
        return ERR_INVAL;
    }
    *len = n;
    r->index++;
    r->offset += sizeof(pre) + n;
    return ERR_OK;
}

enum err
auditlog_leaves(const struct auditlog *l, uint64_t n, uint8_t (**out)[HASH_BYTES])
{
    char path[PATH_MAX];
    uint8_t(*leaves)[HASH_BYTES];
    FILE *f;
    size_t got;

    *out = NULL;
    auditlog_path(l, auditlog_leaves_name, path);
    f = fopen(path, "rbe");
    if (f == NULL)
        return n == 0 ? ERR_OK : ERR_NOTFOUND;
    leaves = xmalloc((size_t)(n > 0 ? n : 1) * HASH_BYTES);
    got = fread(leaves, HASH_BYTES, (size_t)n, f);
    fclose(f);
    if (got != n) {
        free(leaves);
        return ERR_NOTFOUND;
    }
    *out = leaves;
    return ERR_OK;
}

enum err
auditlog_frontier(const struct auditlog *l, struct merkle_range *r, bool *rehashed,
                  char why[static AUDITLOG_WHY_MAX])
{
    uint8_t(*leaves)[HASH_BYTES] = NULL, root[HASH_BYTES], leaf[HASH_BYTES];
    struct auditlog_reader *rd;
    uint64_t i;
    size_t len;
    enum err rc;

    *rehashed = false;
    merkle_range_init(r);
    if (auditlog_leaves(l, l->cp.size, &leaves) == ERR_OK) {
        for (i = 0; i < l->cp.size; i++)
            (void)merkle_range_append(r, leaves[i], NULL, NULL);
        free(leaves);
        merkle_range_root(r, root);
        if (hash_equal(root, l->cp.root))
            return ERR_OK;
    }
    /* The cache is missing or does not match: rehash the entries themselves. */
    *rehashed = true;
    merkle_range_init(r);
    rd = xmalloc(sizeof(*rd));
    rc = auditlog_reader_open(l, rd, why);
    while (rc == ERR_OK && rd->index < l->cp.size) {
        rc = auditlog_read(rd, &len, why);
        if (rc == ERR_OK) {
            merkle_leaf_hash(rd->buf, len, leaf);
            (void)merkle_range_append(r, leaf, NULL, NULL);
        }
    }
    auditlog_reader_close(rd);
    free(rd);
    if (rc == ERR_OK || rc == ERR_NOTFOUND) {
        merkle_range_root(r, root);
        if (r->size == l->cp.size && hash_equal(root, l->cp.root))
            return ERR_OK;
        auditlog_why(why,
                     "the copy in %s is damaged: its entries do not hash to its checkpoint's "
                     "root (run `consentctl audit verify --dir %s` to see where)",
                     l->dir, l->dir);
        rc = ERR_BADSIG;
    }
    merkle_range_init(r);
    return rc;
}

void
auditlog_saved_name(const struct note_checkpoint *c, bool refused,
                    char name[static AUDITLOG_NAME_MAX])
{
    snprintf(name, AUDITLOG_NAME_MAX, "%020" PRIu64 "-%02x%02x%02x%02x%02x%02x%02x%02x%s", c->size,
             c->root[0], c->root[1], c->root[2], c->root[3], c->root[4], c->root[5], c->root[6],
             c->root[7], refused ? AUDITLOG_REFUSED : "");
}

enum err
auditlog_keep(struct auditlog *l, const char *note, size_t note_len, bool refused,
              char name[AUDITLOG_NAME_MAX], char why[static AUDITLOG_WHY_MAX])
{
    char dir[PATH_MAX], path[PATH_MAX], mine[AUDITLOG_NAME_MAX];
    struct note_checkpoint c;
    enum err rc;

    if (name != NULL)
        name[0] = '\0';
    if (ckpt_open_verify(&l->key, note, note_len, &c) != ERR_OK) {
        auditlog_why(why, "the checkpoint is not signed by %s", l->key.name);
        return ERR_BADSIG;
    }
    auditlog_saved_name(&c, refused, mine);
    if (name != NULL)
        memcpy(name, mine, sizeof(mine));
    snprintf(dir, sizeof(dir), "%s/%s", l->dir, auditlog_saved_dir);
    snprintf(path, sizeof(path), "%s/%s/%s", l->dir, auditlog_saved_dir, mine);
    if (access(path, F_OK) == 0)
        return ERR_OK;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        auditlog_why(why, "cannot make %s: %s", dir, strerror(errno));
        return ERR_IO;
    }
    rc = auditlog_replace(dir, mine, note, note_len);
    if (rc != ERR_OK)
        auditlog_why(why, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

/* auditlog_write_at writes data to dir/name at offset at, cutting what followed. */
static enum err
auditlog_write_at(const struct auditlog *l, const char *name, uint64_t at, const void *data,
                  size_t len)
{
    char path[PATH_MAX];
    enum err rc;
    int fd;

    auditlog_path(l, name, path);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1)
        return ERR_IO;
    rc = ftruncate(fd, (off_t)at) == 0 && lseek(fd, (off_t)at, SEEK_SET) == (off_t)at ? ERR_OK
                                                                                      : ERR_IO;
    if (rc == ERR_OK)
        rc = auditlog_write_all(fd, data, len);
    if (close(fd) != 0 && rc == ERR_OK)
        rc = ERR_IO;
    return rc;
}

static enum err
auditlog_fsync_file(const struct auditlog *l, const char *name)
{
    char path[PATH_MAX];
    enum err rc = ERR_OK;
    int fd;

    auditlog_path(l, name, path);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1)
        return ERR_IO;
    if (fsync(fd) != 0)
        rc = ERR_IO;
    if (close(fd) != 0)
        rc = ERR_IO;
    return rc;
}

enum err
auditlog_append(struct auditlog *l, const uint8_t *bundle, size_t bundle_len, uint64_t n,
                const uint8_t (*leaves)[HASH_BYTES], char why[static AUDITLOG_WHY_MAX])
{
    enum err rc;

    if (!l->writable) {
        auditlog_why(why, "the copy is not open for writing");
        return ERR_INVAL;
    }
    rc = auditlog_write_at(l, auditlog_entries_name, l->bytes + l->pending_bytes, bundle,
                           bundle_len);
    if (rc == ERR_OK)
        rc = auditlog_write_at(l, auditlog_leaves_name, (l->cp.size + l->pending) * HASH_BYTES,
                               leaves, (size_t)n * HASH_BYTES);
    if (rc != ERR_OK) {
        auditlog_why(why, "cannot append to %s: %s", l->dir, strerror(errno));
        return rc;
    }
    l->pending += n;
    l->pending_bytes += bundle_len;
    return ERR_OK;
}

enum err
auditlog_commit(struct auditlog *l, const char *note, size_t note_len, const struct merkle_range *r,
                char why[static AUDITLOG_WHY_MAX])
{
    struct note_checkpoint c;
    uint8_t root[HASH_BYTES];
    enum err rc;

    if (!l->writable || note_len >= sizeof(l->note)) {
        auditlog_why(why, "the copy is not open for writing, or the checkpoint is too long");
        return ERR_INVAL;
    }
    if (ckpt_open_verify(&l->key, note, note_len, &c) != ERR_OK) {
        auditlog_why(why, "the checkpoint is not signed by %s", l->key.name);
        return ERR_BADSIG;
    }
    merkle_range_root(r, root);
    if (c.size != l->cp.size + l->pending || r->size != c.size || !hash_equal(root, c.root)) {
        auditlog_why(why,
                     "the checkpoint (%" PRIu64 " entries) is not the root of the %" PRIu64
                     " entries held and the %" PRIu64 " fetched",
                     c.size, l->cp.size, l->pending);
        return ERR_BADSIG;
    }
    rc = auditlog_fsync_file(l, auditlog_entries_name);
    if (rc == ERR_OK)
        rc = auditlog_fsync_file(l, auditlog_leaves_name);
    if (rc != ERR_OK) {
        auditlog_why(why, "cannot sync %s: %s", l->dir, strerror(errno));
        return rc;
    }
    rc = auditlog_keep(l, note, note_len, false, NULL, why);
    if (rc != ERR_OK)
        return rc;
    rc = auditlog_replace(l->dir, auditlog_ckpt_name, note, note_len);
    if (rc != ERR_OK) {
        auditlog_why(why, "cannot write %s/%s: %s", l->dir, auditlog_ckpt_name, strerror(errno));
        return rc;
    }
    memcpy(l->note, note, note_len);
    l->note[note_len] = '\0';
    l->note_len = note_len;
    l->cp = c;
    l->has_checkpoint = true;
    l->bytes += l->pending_bytes;
    l->pending = 0;
    l->pending_bytes = 0;
    return ERR_OK;
}

static int
auditlog_saved_cmp(const void *a, const void *b)
{
    const struct auditlog_saved *x = a, *y = b;

    if (x->c.size != y->c.size)
        return x->c.size < y->c.size ? -1 : 1;
    return strcmp(x->name, y->name);
}

enum err
auditlog_saved(const struct auditlog *l, struct auditlog_saved **out, size_t *n,
               char why[static AUDITLOG_WHY_MAX])
{
    char dir[PATH_MAX], path[PATH_MAX], note[CKPT_RECORD];
    struct auditlog_saved *s = NULL;
    size_t cap = 0, len;
    struct dirent *e;
    DIR *d;

    *out = NULL;
    *n = 0;
    snprintf(dir, sizeof(dir), "%s/%s", l->dir, auditlog_saved_dir);
    d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return ERR_OK;
        auditlog_why(why, "cannot read %s: %s", dir, strerror(errno));
        return ERR_IO;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap == 0 ? 64 : cap * 2;
            s = xrealloc(s, cap * sizeof(*s));
        }
        memset(&s[*n], 0, sizeof(s[*n]));
        snprintf(s[*n].name, sizeof(s[*n].name), "%.47s", e->d_name);
        len = strlen(s[*n].name);
        s[*n].refused = len > strlen(AUDITLOG_REFUSED) &&
                        strcmp(s[*n].name + len - strlen(AUDITLOG_REFUSED), AUDITLOG_REFUSED) == 0;
        snprintf(path, sizeof(path), "%s/%s/%s", l->dir, auditlog_saved_dir, s[*n].name);
        s[*n].valid = auditlog_read_small(path, note, sizeof(note), &len) == ERR_OK &&
                      ckpt_open_verify(&l->key, note, len, &s[*n].c) == ERR_OK;
        (*n)++;
    }
    closedir(d);
    if (*n > 0)
        qsort(s, *n, sizeof(*s), auditlog_saved_cmp);
    *out = s;
    return ERR_OK;
}

enum err
auditlog_bundle_add(uint8_t **buf, size_t *len_io, size_t *cap, const uint8_t *entry, size_t len)
{
    size_t need;

    if (len == 0 || len > TLOG_MAX_ENTRY)
        return ERR_TOOBIG;
    need = *len_io + AUDITLOG_LEN_BYTES + len;
    if (need > *cap) {
        *cap = need > 2 * *cap ? need : 2 * *cap;
        *buf = xrealloc(*buf, *cap);
    }
    (*buf)[*len_io] = (uint8_t)(len >> 8);
    (*buf)[*len_io + 1] = (uint8_t)len;
    memcpy(*buf + *len_io + AUDITLOG_LEN_BYTES, entry, len);
    *len_io = need;
    return ERR_OK;
}
