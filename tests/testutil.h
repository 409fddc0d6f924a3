/*
 * testutil: helpers the unit tests share: temporary directories and a fixed-seed key.
 *
 * THREAD SAFETY: none needed; each test runs in its own forked process.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <limits.h>

#include "consentd/keys.h"

#define TU_DIR_MAX 64

/* tu_tmpdir makes a new private directory under $TMPDIR (or /tmp) and writes its path to out. */
void tu_tmpdir(char out[static TU_DIR_MAX]);

/* tu_rmrf removes dir and everything below it. */
void tu_rmrf(const char *dir);

/* tu_key returns the key pair of the seed whose bytes are all seed_byte (free with keys_free). */
struct keys_pair *tu_key(unsigned char seed_byte);

/* tu_read_file returns the malloc'd, NUL-terminated contents of path (free it). */
char *tu_read_file(const char *path);

/* tu_path writes dir/name into out. */
void tu_path(const char *dir, const char *name, char out[static PATH_MAX]);

#endif
