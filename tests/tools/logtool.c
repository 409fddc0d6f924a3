/*
 * logtool: a test tool for the crash and storage tests (docs/RELIABILITY.md §A). It works on a
 * stopped service's data directory through the library's own modules:
 *
 *   logtool check DIR         every record of DIR/checkpoints against the entries in the store
 *   logtool tamper DIR INDEX  flip one bit of entry INDEX's stored bytes (a logical tamper)
 *   logtool flip FILE BIT     flip bit BIT of FILE (a raw tamper of data.mdb, say)
 *
 * check prints one line of counts and exits 0 only when no record is unverifiable, smaller
 * than the one before it, larger than the store ("future"), or has a root other than the
 * store's tree at its size ("conflicting"), and no two records of one size differ ("split").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "consentd/ckpt.h"
#include "consentd/config.h"
#include "consentd/hash.h"
#include "consentd/keys.h"
#include "consentd/merkle.h"
#include "consentd/store.h"
#include "consentd/tlog.h"

struct lt_record {
    uint64_t size;
    uint8_t root[HASH_BYTES];
};

struct lt_counts {
    uint64_t records, empty, unverifiable, decreasing, future, conflicting, split;
};

static int
lt_fail(int code, const char *what)
{
    fprintf(stderr, "logtool: %s\n", what);
    return code;
}

static int
lt_by_size(const void *a, const void *b)
{
    const struct lt_record *x = a, *y = b;

    return x->size < y->size ? -1 : x->size > y->size;
}

/* lt_open loads DIR's configuration and opens its store, and the checkpoint key if signer is set.
 */
static int
lt_open(const char *dir, struct config *cfg, struct store **s, struct ckpt_signer *signer)
{
    char why[256], path[PATH_MAX];
    struct keys_pair *k = NULL;

    config_defaults(cfg, dir);
    if (config_load_file(cfg, why, sizeof(why)) != ERR_OK)
        return lt_fail(EX_CONFIG, why);
    if (hash_init() != ERR_OK)
        return lt_fail(EX_SOFTWARE, "cannot initialise libsodium");
    if (signer != NULL) {
        if (config_path(cfg, CONFIG_CKPT_KEY_NAME, path) != ERR_OK || keys_load(path, &k) != ERR_OK)
            return lt_fail(EX_NOINPUT, "cannot load the checkpoint key");
        if (ckpt_signer_init(signer, k, cfg->origin) != ERR_OK)
            return lt_fail(EX_CONFIG, "the origin is not a valid key name");
    }
    if (config_path(cfg, CONFIG_LMDB_DIR_NAME, path) != ERR_OK ||
        store_open(path, cfg->map_size_mb * 1024 * 1024, s) != ERR_OK) {
        if (signer != NULL)
            ckpt_signer_clear(signer);
        return lt_fail(EX_IOERR, "cannot open the store");
    }
    return EX_OK;
}

/* lt_read_records reads and verifies every record of the checkpoint file (never changing it). */
static int
lt_read_records(const struct config *cfg, const struct ckpt_signer *signer, struct lt_record **out,
                size_t *n, struct lt_counts *k, off_t *torn)
{
    char path[PATH_MAX], rec[CKPT_RECORD];
    struct note_checkpoint c;
    struct lt_record *r = NULL;
    struct stat st;
    size_t i, total;
    int fd, code = EX_OK;

    *out = NULL;
    *n = 0;
    if (config_path(cfg, CONFIG_CKPT_LOG_NAME, path) != ERR_OK)
        return EX_SOFTWARE;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 || fstat(fd, &st) != 0) {
        if (fd != -1)
            close(fd);
        return lt_fail(EX_NOINPUT, "cannot read the checkpoint file");
    }
    total = (size_t)st.st_size / CKPT_RECORD;
    *torn = st.st_size % CKPT_RECORD;
    r = calloc(total + 1, sizeof(*r));
    if (r == NULL) {
        close(fd);
        return lt_fail(EX_SOFTWARE, "out of memory");
    }
    for (i = 0; i < total; i++) {
        if (pread(fd, rec, CKPT_RECORD, (off_t)(i * CKPT_RECORD)) != CKPT_RECORD) {
            code = lt_fail(EX_IOERR, "cannot read a record");
            break;
        }
        k->records++;
        rec[CKPT_RECORD - 1] = '\0';
        if (rec[0] == '\0') {
            k->empty++;
            continue;
        }
        if (ckpt_open_verify(&signer->verifier, rec, strlen(rec), &c) != ERR_OK) {
            k->unverifiable++;
            continue;
        }
        if (*n > 0 && c.size < r[*n - 1].size)
            k->decreasing++;
        r[*n].size = c.size;
        memcpy(r[*n].root, c.root, HASH_BYTES);
        (*n)++;
    }
    close(fd);
    *out = r;
    return code;
}

static int
cmd_check(const char *dir)
{
    struct ckpt_signer signer = {0};
    struct lt_counts k = {0};
    struct lt_record *r = NULL;
    struct store_txn *t = NULL;
    struct store *s = NULL;
    struct merkle_range range;
    struct config cfg;
    uint8_t leaf[HASH_BYTES], root[HASH_BYTES];
    const uint8_t *bytes;
    uint64_t db_size = 0, sizes = 0, i;
    size_t n = 0, j = 0, len;
    off_t torn = 0;
    int code;

    code = lt_open(dir, &cfg, &s, &signer);
    if (code != EX_OK)
        return code;
    code = lt_read_records(&cfg, &signer, &r, &n, &k, &torn);
    if (code != EX_OK)
        goto out;
    qsort(r, n, sizeof(*r), lt_by_size);
    for (j = 1; j < n; j++)
        if (r[j].size == r[j - 1].size && !hash_equal(r[j].root, r[j - 1].root))
            k.split++;
    code = EX_IOERR;
    if (store_begin(s, false, &t) != ERR_OK || tlog_size(t, &db_size) != ERR_OK)
        goto out;
    merkle_range_init(&range);
    for (i = 0, j = 0; j < n && r[j].size <= db_size; i++) {
        for (; j < n && r[j].size == i; j++) {
            merkle_range_root(&range, root);
            if (!hash_equal(root, r[j].root))
                k.conflicting++;
        }
        if (i == db_size)
            break;
        if (tlog_entry(t, i, &bytes, &len) != ERR_OK) {
            fprintf(stderr, "logtool: entry %llu cannot be read\n", (unsigned long long)i);
            goto out;
        }
        merkle_leaf_hash(bytes, len, leaf);
        if (merkle_range_append(&range, leaf, NULL, NULL) != ERR_OK)
            goto out;
    }
    k.future = n - j;
    for (j = 0; j < n; j++)
        sizes += j == 0 || r[j].size != r[j - 1].size;
    printf("logtool: %llu records (%llu empty, %llu distinct sizes, largest %llu), store %llu "
           "entries: %llu unverifiable, %llu decreasing, %llu future, %llu conflicting, %llu "
           "split; torn tail %lld bytes\n",
           (unsigned long long)k.records, (unsigned long long)k.empty, (unsigned long long)sizes,
           (unsigned long long)(n > 0 ? r[n - 1].size : 0), (unsigned long long)db_size,
           (unsigned long long)k.unverifiable, (unsigned long long)k.decreasing,
           (unsigned long long)k.future, (unsigned long long)k.conflicting,
           (unsigned long long)k.split, (long long)torn);
    code = k.unverifiable + k.decreasing + k.future + k.conflicting + k.split == 0 ? EX_OK
                                                                                   : EX_DATAERR;
out:
    store_abort(t);
    store_close(s);
    ckpt_signer_clear(&signer);
    free(r);
    return code;
}

static int
cmd_tamper(const char *dir, const char *index_arg, const char *bit_arg)
{
    struct store_txn *t = NULL;
    struct store *s = NULL;
    struct config cfg;
    const uint8_t *bytes;
    uint8_t key[8], *copy = NULL;
    unsigned long long index = strtoull(index_arg, NULL, 10);
    unsigned long long bit = bit_arg != NULL ? strtoull(bit_arg, NULL, 10) : 0;
    size_t len;
    int code;

    code = lt_open(dir, &cfg, &s, NULL);
    if (code != EX_OK)
        return code;
    code = EX_DATAERR;
    if (store_begin(s, true, &t) != ERR_OK || tlog_entry(t, index, &bytes, &len) != ERR_OK) {
        fprintf(stderr, "logtool: entry %llu cannot be read\n", index);
        goto out;
    }
    copy = malloc(len);
    if (copy == NULL)
        goto out;
    memcpy(copy, bytes, len);
    bit %= len * 8;
    copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    store_u64_key(index, key);
    if (store_put(t, STORE_ENTRIES, key, sizeof(key), copy, len, false, false) != ERR_OK)
        goto out;
    code = store_commit(t) == ERR_OK ? EX_OK : EX_IOERR;
    t = NULL;
    if (code == EX_OK)
        printf("logtool: flipped bit %llu of entry %llu\n", bit, index);
out:
    store_abort(t);
    store_close(s);
    free(copy);
    return code;
}

static int
cmd_flip(const char *path, const char *bit_arg)
{
    unsigned long long bit = strtoull(bit_arg, NULL, 10);
    unsigned char b;
    int fd = open(path, O_RDWR | O_CLOEXEC), code = EX_IOERR;

    if (fd == -1)
        return lt_fail(EX_NOINPUT, strerror(errno));
    if (pread(fd, &b, 1, (off_t)(bit / 8)) == 1) {
        b ^= (unsigned char)(1u << (bit % 8));
        if (pwrite(fd, &b, 1, (off_t)(bit / 8)) == 1 && fsync(fd) == 0)
            code = EX_OK;
    }
    close(fd);
    if (code != EX_OK)
        return lt_fail(code, "cannot flip that bit (past the end of the file?)");
    return EX_OK;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2]);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "tamper") == 0)
        return cmd_tamper(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (argc == 4 && strcmp(argv[1], "flip") == 0)
        return cmd_flip(argv[2], argv[3]);
    fputs("usage: logtool check DIR | logtool tamper DIR INDEX [BIT] | logtool flip FILE BIT\n",
          stderr);
    return EX_USAGE;
}
