/*
 * jstrict: strict JSON parsing for JSON that carries authority (JWS headers and payloads,
 * request bodies). On top of cJSON it refuses what cJSON accepts but another parser might read
 * differently: duplicate member names at any depth, bytes after the value, invalid or overlong
 * UTF-8, NUL anywhere (raw or as \u0000), nesting deeper than JSTRICT_MAX_DEPTH, and a top level
 * that is not an object.
 *
 * THREAD SAFETY: reentrant.
 */
#ifndef JSTRICT_H
#define JSTRICT_H

#include <stddef.h>

#include <cJSON.h>

#include "consentd/err.h"

#define JSTRICT_MAX_DEPTH 32

/*
 * jstrict_parse parses buf[0..len), which need not be NUL-terminated, into *out (free with
 * cJSON_Delete). Returns ERR_OK, ERR_NOMEM, or ERR_INVAL with *out NULL, and, when why is not
 * NULL, *why set to a static sentence saying what is wrong ("duplicate member name", …).
 */
enum err jstrict_parse(const char *buf, size_t len, cJSON **out, const char **why) ERR_WUR;

#endif
