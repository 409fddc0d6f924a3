/*
 * testutil: helpers the unit tests share.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"

void
tu_tmpdir(char out[static TU_DIR_MAX])
{
    const char *base = getenv("TMPDIR");

    snprintf(out, TU_DIR_MAX, "%s/consentd-test.XXXXXX", base != NULL ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

static int
tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
tu_rmrf(const char *dir)
{
    nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct keys_pair *
tu_key(unsigned char seed_byte)
{
    uint8_t seed[KEYS_SEED_BYTES];
    struct keys_pair *k = NULL;

    memset(seed, seed_byte, sizeof(seed));
    ck_assert_int_eq(keys_from_seed(seed, &k), ERR_OK);
    return k;
}

void
tu_path(const char *dir, const char *name, char out[static PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

char *
tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}
