/*
 * ckpt: the log's signed checkpoints (C2SP tlog-checkpoint in a C2SP signed note, signed by the
 * checkpoint key under the origin's name) and the checkpoint file outside LMDB that keeps every
 * checkpoint ever signed.
 *
 * The file is a sequence of CKPT_RECORD-byte records, each a signed note padded with NUL bytes,
 * appended and fsynced before a checkpoint is published. A record cut short by a crash, or left
 * as NUL bytes, was never published and is truncated away when the file is opened.
 *
 * THREAD SAFETY: a struct ckpt_signer is immutable and shareable; the file belongs to the
 * sequencer.
 */
#ifndef CKPT_H
#define CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/keys.h"
#include "consentd/note.h"

#define CKPT_RECORD   1024 /* bytes per record in the checkpoint file */
#define CKPT_NOTE_MAX (CKPT_RECORD - 1)
#define CKPT_RESERVE  64 /* records' worth of space kept allocated past the end of the file */

struct ckpt_signer {
    struct keys_pair *key; /* owned: keys_free in ckpt_signer_clear */
    struct note_verifier verifier;
    char origin[NOTE_MAX_ORIGIN + 1];
};

/*
 * ckpt_signer_init takes ownership of key and names it origin (the key name is the origin).
 * Returns ERR_INVAL if origin is not a valid key name (then key is freed).
 */
enum err ckpt_signer_init(struct ckpt_signer *s, struct keys_pair *key, const char *origin);

/* ckpt_signer_clear frees the key. */
void ckpt_signer_clear(struct ckpt_signer *s);

/*
 * ckpt_sign writes the signed checkpoint of (size, root) and a NUL into out (CKPT_RECORD bytes)
 * and its length to *len.
 */
enum err ckpt_sign(const struct ckpt_signer *s, uint64_t size,
                   const uint8_t root[static HASH_BYTES], char out[static CKPT_RECORD],
                   size_t *len);

/*
 * ckpt_open_verify checks that note[0..len) is a checkpoint signed by v whose origin is v's
 * name, and fills c. ERR_INVAL if malformed, ERR_BADSIG if not signed by v or of another origin.
 */
enum err ckpt_open_verify(const struct note_verifier *v, const char *note, size_t len,
                          struct note_checkpoint *c) ERR_WUR;

/*
 * ckpt_file_open opens (creating when create is true) the checkpoint file at path, truncates a
 * torn last record, and copies the last complete record's note into last (CKPT_RECORD bytes,
 * NUL-terminated; empty if the file holds none). *fd is the open descriptor, for appending.
 * Returns ERR_IO on failure (logged).
 */
enum err ckpt_file_open(const char *path, bool create, int *fd, char last[static CKPT_RECORD],
                        uint64_t *count);

/*
 * ckpt_file_reserve makes sure the file system has space allocated for the next CKPT_RESERVE
 * records past the end of the file (without changing its size), so that a checkpoint for a
 * batch committed after it cannot fail for lack of space. ERR_OK (also when the file system
 * cannot preallocate), ERR_UNAVAIL when there is no space, ERR_IO on other failures (logged).
 */
enum err ckpt_file_reserve(int fd);

/* ckpt_file_append appends one record holding note and fsyncs. ERR_IO on failure (logged). */
enum err ckpt_file_append(int fd, const char *note, size_t len) ERR_WUR;

#endif
