/*
 * log: diagnostics on standard error. Each line is formatted into one buffer and written with
 * one write(2) so concurrent threads do not interleave within a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentd/log.h"

#define LOG_LINE_MAX 2048

static bool log_debug_on;
static bool log_verbose_on = true;

void
log_init(bool debug, bool verbose)
{
    log_debug_on = debug;
    log_verbose_on = verbose || debug;
}

bool
log_is_debug(void)
{
    return log_debug_on;
}

static void log_emit(const char *level, const char *fmt, va_list ap, int errnum)
    __attribute__((format(printf, 2, 0)));

static void
log_emit(const char *level, const char *fmt, va_list ap, int errnum)
{
    char buf[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    r = snprintf(buf + n, sizeof(buf) - n, "%s: ", level);
    if (r > 0)
        n += (size_t)r;
    if (n < sizeof(buf)) {
        r = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
        if (r > 0)
            n += (size_t)r;
    }
    if (n >= sizeof(buf) - 1)
        n = sizeof(buf) - 2;
    if (errnum != 0) {
        r = snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(errnum));
        if (r > 0)
            n += (size_t)r;
        if (n >= sizeof(buf) - 1)
            n = sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    (void)!write(STDERR_FILENO, buf, n);
}

void
log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_emit("warning", fmt, ap, saved);
    va_end(ap);
    errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit("warning", fmt, ap, 0);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    if (!log_verbose_on)
        return;
    va_start(ap, fmt);
    log_emit("info", fmt, ap, 0);
    va_end(ap);
}

void
log_debug_(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit("debug", fmt, ap, 0);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_emit("fatal", fmt, ap, saved);
    va_end(ap);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit("fatal", fmt, ap, 0);
    va_end(ap);
    exit(1);
}

void
log_line(const char *line, int len)
{
    char buf[LOG_LINE_MAX];

    if (len < 0 || (size_t)len > sizeof(buf) - 1)
        len = (int)sizeof(buf) - 1;
    memcpy(buf, line, (size_t)len);
    buf[len] = '\n';
    (void)!write(STDERR_FILENO, buf, (size_t)len + 1);
}
