/*
 * log: diagnostics on standard error, one line each; and the JSON-lines request log.
 * Never pass keys, tokens, enrolment codes or personal data (NHS numbers, names) to these
 * functions: log record ids and hashes instead.
 *
 * THREAD SAFETY: every function may be called from any thread; each line is written with one
 * write(2), so lines from different threads do not interleave.
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

/* log_init sets the levels: debug enables log_debug, verbose enables log_info. */
void log_init(bool debug, bool verbose);

/* log_is_debug is true when log_debug lines are written. */
bool log_is_debug(void);

/* log_warn logs a warning followed by ": " and strerror(errno). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warnx logs a warning. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_info logs when verbose. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_debug_ logs when debug; use the log_debug macro so arguments are not evaluated. */
void log_debug_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal logs with strerror(errno) and exits with status 1; fatalx logs and exits. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* log_line writes one line verbatim (a request-log JSON object, say) and a newline. */
void log_line(const char *line, int len);

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_is_debug())                                                                        \
            log_debug_(__VA_ARGS__);                                                               \
    } while (0)

#endif
