/*
 * json: typed member reads with precise errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/json.h"
#include "consentd/jstrict.h"
#include "consentd/xmalloc.h"

enum err
json_only_members(const cJSON *o, const char *const *allowed, size_t n,
                  char why[static JSON_WHY_MAX])
{
    const cJSON *m;
    size_t i;

    cJSON_ArrayForEach(m, o)
    {
        for (i = 0; i < n; i++)
            if (strcmp(m->string, allowed[i]) == 0)
                break;
        if (i == n) {
            size_t k, len = 0;
            int r = snprintf(why, JSON_WHY_MAX, "unknown member \"%.64s\"; allowed: ", m->string);
            if (r > 0)
                len = (size_t)r;
            for (k = 0; k < n && len < JSON_WHY_MAX; k++) {
                r = snprintf(why + len, JSON_WHY_MAX - len, "%s%s", k == 0 ? "" : ", ", allowed[k]);
                if (r < 0)
                    break;
                len += (size_t)r;
            }
            return ERR_INVAL;
        }
    }
    return ERR_OK;
}

/*
 * json_is_control is true if the UTF-8 text at p (n bytes left, already valid UTF-8) starts with
 * a character that can disguise what a person reads: C0 and C1 controls, DEL, the line and
 * paragraph separators, and the bidirectional formatting characters.
 */
static bool
json_is_control(const unsigned char *p, size_t n)
{
    if (p[0] < 0x20 || p[0] == 0x7f)
        return true;
    if (n >= 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        return true; /* U+0080..U+009F */
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x80 &&
        ((p[2] >= 0x8e && p[2] <= 0x8f) || (p[2] >= 0xa8 && p[2] <= 0xae)))
        return true; /* U+200E, U+200F, U+2028..U+202E */
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
        return true; /* U+2066..U+2069 */
    return false;
}

enum err
json_string(const cJSON *o, const char *name, bool required, size_t min, size_t max,
            const char **out, char why[static JSON_WHY_MAX])
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    size_t len, i;

    *out = NULL;
    if (m == NULL) {
        if (!required)
            return ERR_NOTFOUND;
        snprintf(why, JSON_WHY_MAX, "\"%s\" is required", name);
        return ERR_INVAL;
    }
    if (!cJSON_IsString(m)) {
        snprintf(why, JSON_WHY_MAX, "\"%s\" must be a string", name);
        return ERR_INVAL;
    }
    len = strlen(m->valuestring);
    if (len < min || len > max) {
        snprintf(why, JSON_WHY_MAX, "\"%s\" must be %zu to %zu bytes long", name, min, max);
        return ERR_INVAL;
    }
    for (i = 0; i < len; i++) {
        if (json_is_control((const unsigned char *)m->valuestring + i, len - i)) {
            snprintf(why, JSON_WHY_MAX,
                     "\"%s\" must not contain control, line-separator or text-direction "
                     "characters",
                     name);
            return ERR_INVAL;
        }
    }
    *out = m->valuestring;
    return ERR_OK;
}

void
json_add_u64(cJSON *o, const char *name, uint64_t v)
{
    char digits[24];

    snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, name, digits);
}

enum err
json_fields_text(const cJSON *o, char **out, size_t *len)
{
    char *s = cJSON_PrintUnformatted(o);
    size_t n;

    *out = NULL;
    *len = 0;
    if (s == NULL)
        return ERR_NOMEM;
    n = strlen(s);
    if (n < 2 || s[0] != '{' || s[n - 1] != '}') {
        free(s);
        return ERR_INVAL;
    }
    memmove(s, s + 1, n - 2);
    s[n - 2] = '\0';
    *out = s;
    *len = n - 2;
    return ERR_OK;
}

cJSON *
json_fields_parse(const char *fields, size_t len)
{
    char *text = xmalloc(len + 3);
    cJSON *o = NULL;

    text[0] = '{';
    memcpy(text + 1, fields, len);
    text[len + 1] = '}';
    text[len + 2] = '\0';
    if (jstrict_parse(text, len + 2, &o, NULL) != ERR_OK)
        o = NULL;
    free(text);
    return o;
}
