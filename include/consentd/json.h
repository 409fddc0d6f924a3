/*
 * json: typed reads of request members with precise errors, for handlers. Every function that
 * fails writes one sentence into why (JSON_WHY_MAX bytes) that names the member and says what
 * it must be.
 *
 * THREAD SAFETY: reentrant.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"

#define JSON_WHY_MAX 256

/* json_only_members returns ERR_INVAL if o has a member not named in allowed[0..n). */
enum err json_only_members(const cJSON *o, const char *const *allowed, size_t n,
                           char why[static JSON_WHY_MAX]);

/*
 * json_string reads member name of o as a string of min..max bytes with no control characters.
 * A missing member is ERR_NOTFOUND when optional (*out NULL) and ERR_INVAL when required.
 * *out borrows from o.
 */
enum err json_string(const cJSON *o, const char *name, bool required, size_t min, size_t max,
                     const char **out, char why[static JSON_WHY_MAX]);

/*
 * json_add_u64 adds member name with v as an exact decimal integer (cJSON's numbers are
 * doubles, exact only to 2^53 and printed in exponent form from 10^15).
 */
void json_add_u64(cJSON *o, const char *name, uint64_t v);

/*
 * json_fields_text prints o and strips its braces, giving the text of its members (for a log
 * entry's fields). *out is malloc'd (caller frees); *len is its length.
 */
enum err json_fields_text(const cJSON *o, char **out, size_t *len);

/*
 * json_fields_parse is json_fields_text's inverse: it parses fields[0..len) (members without
 * braces, as a write's entry holds them) strictly back into an object, so a sequencer check can
 * decide on exactly what the entry will hold. Returns NULL if they do not parse (caller frees
 * the result with cJSON_Delete).
 */
cJSON *json_fields_parse(const char *fields, size_t len);

#endif
