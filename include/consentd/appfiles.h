/*
 * appfiles: the patient web app's static files (service/app/), embedded in the binary at build
 * time: the Makefile writes build/gen/appfiles.c from them with od and awk, so that consentd
 * serves the app itself, with nothing to install beside it. A file name is 1 to 64 of
 * A-Z a-z 0-9 . _ - (the build refuses any other).
 *
 * THREAD SAFETY: constant data.
 */
#ifndef APPFILES_H
#define APPFILES_H

#include <stddef.h>

struct appfiles_file {
    const char *name;          /* "index.html" */
    const unsigned char *data; /* len bytes, then a NUL */
    size_t len;
};

/* Every file of service/app/, in name order. */
extern const struct appfiles_file appfiles[];
extern const size_t appfiles_count;

#endif
