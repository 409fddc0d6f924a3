/*
 * xmalloc: allocation that aborts on failure.
 */
#include <stdlib.h>
#include <string.h>

#include "consentd/log.h"
#include "consentd/xmalloc.h"

void *
xmalloc(size_t size)
{
    void *p = malloc(size == 0 ? 1 : size);

    if (p == NULL)
        fatalx("out of memory allocating %zu bytes", size);
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

    if (p == NULL)
        fatalx("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *
xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size == 0 ? 1 : size);

    if (q == NULL)
        fatalx("out of memory reallocating %zu bytes", size);
    return q;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
