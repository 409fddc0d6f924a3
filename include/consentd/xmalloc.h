/*
 * xmalloc: allocation that aborts the process on failure, as h2o's allocator in the same
 * process already does. Use sodium_malloc (crypto/) for secrets instead.
 *
 * THREAD SAFETY: as malloc(3).
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

/* xmalloc, xcalloc, xrealloc and xstrdup never return NULL; free the result with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
