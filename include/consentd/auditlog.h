/*
 * auditlog: an auditor's local copy of a log (docs/auditing.md), kept in one directory:
 *
 *   key           the log's verifier key, one line (note.h's verifier key string)
 *   entries       every entry in log order, each a 2-byte big-endian length and the entry's
 *                 exact bytes, as C2SP tlog-tiles entry bundles encode them
 *   leaves        the RFC 9162 leaf hash of every entry, 32 bytes each, in log order: a resumed
 *                 fetch rebuilds its Merkle frontier from them instead of rehashing the
 *                 entries, and verify uses them to name the entry that changed
 *   checkpoint    the newest verified checkpoint, the signed note exactly as served; its size
 *                 is the number of entries the copy holds, its root their Merkle root
 *   checkpoints/  every checkpoint a fetch verified, kept, named <size>-<16 hex of the root>;
 *                 one a fetch refused because it proved the log inconsistent with the copy (a
 *                 fork, or a rollback: a smaller tree signed after a larger one) is kept too,
 *                 with ".refused" appended to its name: it is the evidence
 *   lock          an flock held while the copy is open, so two fetches never interleave
 *
 * The checkpoint file is the commit point: entries and leaves past its size are the remains
 * of an interrupted fetch and are cut off when the copy is opened for writing.
 *
 * THREAD SAFETY: a struct auditlog belongs to one thread; one process opens a copy at a time.
 */
#ifndef AUDITLOG_H
#define AUDITLOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "consentd/ckpt.h"
#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/merkle.h"
#include "consentd/note.h"
#include "consentd/tlog.h"

#define AUDITLOG_WHY_MAX   512
#define AUDITLOG_NAME_MAX  48               /* "<20 digits>-<16 hex>[.refused]" and a NUL */
#define AUDITLOG_LEN_BYTES 2                /* the length prefix of an entry in the entries file */
#define AUDITLOG_DIR_MAX   (PATH_MAX - 128) /* the directory's path, so its files' paths fit */

struct auditlog {
    char dir[AUDITLOG_DIR_MAX];
    int lock_fd;
    bool writable;
    struct note_verifier key;
    bool has_checkpoint;    /* false until the first fetch commits */
    char note[CKPT_RECORD]; /* the newest checkpoint's note, NUL-terminated */
    size_t note_len;
    struct note_checkpoint cp; /* parsed; size 0 and the empty root when none */
    uint64_t bytes;            /* the entries file's length at cp.size (writable only) */
    uint64_t pending;          /* entries appended past cp.size, not committed yet */
    uint64_t pending_bytes;
};

/* A checkpoint kept in checkpoints/. */
struct auditlog_saved {
    char name[AUDITLOG_NAME_MAX];
    bool valid;   /* it is a checkpoint signed by the copy's key */
    bool refused; /* a fetch refused it as inconsistent with the copy */
    struct note_checkpoint c;
};

/* Reading the entries in order; buf holds the current entry. */
struct auditlog_reader {
    FILE *f;
    uint64_t index; /* of the next entry */
    uint64_t offset;
    uint8_t buf[TLOG_MAX_ENTRY];
};

/*
 * auditlog_create makes the directory dir (which must not exist, mode 0700) for a copy of the
 * log whose verifier key is key, and writes key. Returns ERR_OK with *out open for writing
 * (auditlog_close it); ERR_EXISTS if dir exists; ERR_IO with a sentence in why. *out is NULL
 * on failure.
 */
enum err auditlog_create(const char *dir, const struct note_verifier *key, struct auditlog **out,
                         char why[static AUDITLOG_WHY_MAX]);

/*
 * auditlog_open opens the copy in dir: reads the key and the newest checkpoint, which must be
 * signed by that key. With writable, it takes the copy's lock (ERR_UNAVAIL if another process
 * holds it) and cuts off entries and leaves an interrupted fetch left past the checkpoint.
 * Returns ERR_OK with *out; ERR_NOTFOUND if dir holds no copy; ERR_INVAL or ERR_BADSIG if its
 * key or checkpoint is damaged; ERR_IO. why says what is wrong; *out is NULL on failure.
 */
enum err auditlog_open(const char *dir, bool writable, struct auditlog **out,
                       char why[static AUDITLOG_WHY_MAX]);

/*
 * auditlog_close cuts off entries appended since the last commit (a fetch that was refused
 * leaves the copy as it was), releases the lock and frees l; NULL is a no-op.
 */
void auditlog_close(struct auditlog *l);

/*
 * auditlog_reader_open starts reading l's entries from the first. Returns ERR_OK or ERR_IO
 * (why set); r->f is NULL on failure. auditlog_reader_close ends it (safe to call twice).
 */
enum err auditlog_reader_open(const struct auditlog *l, struct auditlog_reader *r,
                              char why[static AUDITLOG_WHY_MAX]);
void auditlog_reader_close(struct auditlog_reader *r);

/*
 * auditlog_read reads the next entry into r->buf and sets *len. Returns ERR_OK; ERR_NOTFOUND
 * at the clean end of the file; ERR_INVAL (why set) for an entry cut short or of length 0.
 * It reads past the checkpoint's size too: the caller decides what extra entries mean.
 */
enum err auditlog_read(struct auditlog_reader *r, size_t *len, char why[static AUDITLOG_WHY_MAX]);

/*
 * auditlog_leaves reads the cached leaf hashes of the first n entries into a malloc'd array
 * (*out, free it). Returns ERR_OK; ERR_NOTFOUND if the cache holds fewer than n (*out NULL).
 */
enum err auditlog_leaves(const struct auditlog *l, uint64_t n, uint8_t (**out)[HASH_BYTES]);

/*
 * auditlog_frontier sets r to the compact Merkle range of l's entries, from the leaf cache
 * when it hashes to the checkpoint's root (*rehashed false), else by rehashing the entries
 * (*rehashed true). Returns ERR_OK; ERR_BADSIG (why set) if the entries do not hash to the
 * checkpoint's root either: the copy is damaged and `audit verify` says where.
 */
enum err auditlog_frontier(const struct auditlog *l, struct merkle_range *r, bool *rehashed,
                           char why[static AUDITLOG_WHY_MAX]);

/*
 * auditlog_append appends n fetched entries past the commit point of a copy open for writing:
 * bundle[0..bundle_len) is them as the entries file holds them (auditlog_bundle_add), leaves
 * their leaf hashes. They count only once auditlog_commit makes a checkpoint cover them; until
 * then the next auditlog_open cuts them off. Returns ERR_OK, ERR_INVAL (not writable) or ERR_IO
 * (why set).
 */
enum err auditlog_append(struct auditlog *l, const uint8_t *bundle, size_t bundle_len, uint64_t n,
                         const uint8_t (*leaves)[HASH_BYTES], char why[static AUDITLOG_WHY_MAX]);

/*
 * auditlog_commit makes note[0..note_len) the newest checkpoint of a copy open for writing,
 * covering the entries it held and those appended since; r is the range of all of them. It
 * checks first that note is signed by the copy's key and that its size and root are r's and
 * the number of entries; then fsyncs entries and leaves, keeps the checkpoint in checkpoints/
 * and replaces the checkpoint file (renamed into place, the directory fsynced). Returns ERR_OK;
 * ERR_BADSIG or ERR_INVAL (why set, the copy unchanged) if a check fails; ERR_IO (why set).
 */
enum err auditlog_commit(struct auditlog *l, const char *note, size_t note_len,
                         const struct merkle_range *r, char why[static AUDITLOG_WHY_MAX]);

/*
 * auditlog_keep stores note (a checkpoint signed by the copy's key) in checkpoints/ unless it
 * is there, without changing the copy; refused marks it as the evidence of a checkpoint that
 * is not consistent with the copy. Returns ERR_OK, ERR_BADSIG if note is not signed by the
 * key, or ERR_IO (why set). name (when not NULL) gets the file's name.
 */
enum err auditlog_keep(struct auditlog *l, const char *note, size_t note_len, bool refused,
                       char name[AUDITLOG_NAME_MAX], char why[static AUDITLOG_WHY_MAX]);

/*
 * auditlog_saved lists checkpoints/ in order of size, each verified with the copy's key.
 * *out is malloc'd (free it), *n its length. Returns ERR_OK or ERR_IO (why set).
 */
enum err auditlog_saved(const struct auditlog *l, struct auditlog_saved **out, size_t *n,
                        char why[static AUDITLOG_WHY_MAX]);

/* auditlog_saved_name writes the name c is kept under in checkpoints/. */
void auditlog_saved_name(const struct note_checkpoint *c, bool refused,
                         char name[static AUDITLOG_NAME_MAX]);

/*
 * auditlog_bundle_add appends entry[0..len) to a growing buffer *buf (*len_io bytes used, *cap
 * allocated; realloc'd, free it) as the entries file holds it. Returns ERR_OK, or ERR_TOOBIG
 * for an empty entry or one over TLOG_MAX_ENTRY (nothing added).
 */
enum err auditlog_bundle_add(uint8_t **buf, size_t *len_io, size_t *cap, const uint8_t *entry,
                             size_t len);

#endif
