/*
 * jstrict: strict JSON. A validator written to RFC 8259's grammar runs first and refuses
 * everything cJSON would accept but another parser might read differently (lax numbers, raw
 * control characters, lone surrogates, \u0000, bad UTF-8, deep nesting); cJSON then builds the
 * tree, and a walk over it refuses duplicate member names.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "consentd/jstrict.h"

/* Above this many members an object's names are sorted rather than compared pairwise. */
#define JSTRICT_SORT_MIN 16

struct lexer {
    const unsigned char *p;
    const unsigned char *end;
    const char *why;
};

static bool value(struct lexer *l, unsigned depth);

/*
 * utf8_valid is true if s[0..len) is UTF-8 with only shortest-form encodings of scalar values
 * (no overlong forms, no surrogates, nothing above U+10FFFF).
 */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
    uint32_t c, min;
    size_t i = 0, n, j;

    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xc2 && s[i] <= 0xdf) {
            n = 2;
            c = s[i] & 0x1f;
            min = 0x80;
        } else if (s[i] >= 0xe0 && s[i] <= 0xef) {
            n = 3;
            c = s[i] & 0x0f;
            min = 0x800;
        } else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
            n = 4;
            c = s[i] & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (j = 1; j < n; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

static bool
fail(struct lexer *l, const char *why)
{
    if (l->why == NULL)
        l->why = why;
    return false;
}

static void
skip_ws(struct lexer *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
        l->p++;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* hex4 reads the four hex digits of a \u escape. */
static bool
hex4(struct lexer *l, uint32_t *out)
{
    uint32_t v = 0;
    unsigned char c;
    int i;

    if (l->end - l->p < 4)
        return fail(l, "truncated \\u escape");
    for (i = 0; i < 4; i++) {
        c = *l->p++;
        v <<= 4;
        if (is_digit(c))
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return fail(l, "invalid \\u escape");
    }
    *out = v;
    return true;
}

/* string reads a string whose opening quote is at l->p. */
static bool
string(struct lexer *l)
{
    uint32_t u, lo;
    unsigned char c;

    l->p++;
    for (;;) {
        if (l->p >= l->end)
            return fail(l, "unterminated string");
        c = *l->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return fail(l, "control character in a string");
        if (c != '\\')
            continue;
        if (l->p >= l->end)
            return fail(l, "unterminated string");
        c = *l->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            break;
        case 'u':
            if (!hex4(l, &u))
                return false;
            if (u == 0)
                return fail(l, "\\u0000 in a string");
            if (u >= 0xdc00 && u <= 0xdfff)
                return fail(l, "unpaired surrogate escape");
            if (u >= 0xd800 && u <= 0xdbff) {
                if (l->end - l->p < 2 || l->p[0] != '\\' || l->p[1] != 'u')
                    return fail(l, "unpaired surrogate escape");
                l->p += 2;
                if (!hex4(l, &lo))
                    return false;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(l, "unpaired surrogate escape");
            }
            break;
        default:
            return fail(l, "invalid escape in a string");
        }
    }
}

/* number reads an RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
number(struct lexer *l)
{
    if (l->p < l->end && *l->p == '-')
        l->p++;
    if (l->p >= l->end || !is_digit(*l->p))
        return fail(l, "invalid number");
    if (*l->p == '0') {
        l->p++;
        if (l->p < l->end && is_digit(*l->p))
            return fail(l, "number with a leading zero");
    } else {
        while (l->p < l->end && is_digit(*l->p))
            l->p++;
    }
    if (l->p < l->end && *l->p == '.') {
        l->p++;
        if (l->p >= l->end || !is_digit(*l->p))
            return fail(l, "invalid number");
        while (l->p < l->end && is_digit(*l->p))
            l->p++;
    }
    if (l->p < l->end && (*l->p == 'e' || *l->p == 'E')) {
        l->p++;
        if (l->p < l->end && (*l->p == '+' || *l->p == '-'))
            l->p++;
        if (l->p >= l->end || !is_digit(*l->p))
            return fail(l, "invalid number");
        while (l->p < l->end && is_digit(*l->p))
            l->p++;
    }
    return true;
}

static bool
literal(struct lexer *l, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(l->end - l->p) < n || memcmp(l->p, word, n) != 0)
        return fail(l, "invalid literal");
    l->p += n;
    return true;
}

/* container reads an object or array whose opening bracket is at l->p. */
static bool
container(struct lexer *l, unsigned depth)
{
    bool object = *l->p == '{';
    unsigned char close = object ? '}' : ']';

    if (depth > JSTRICT_MAX_DEPTH)
        return fail(l, "nesting too deep");
    l->p++;
    skip_ws(l);
    if (l->p < l->end && *l->p == close) {
        l->p++;
        return true;
    }
    for (;;) {
        if (object) {
            if (l->p >= l->end || *l->p != '"')
                return fail(l, "expected a member name");
            if (!string(l))
                return false;
            skip_ws(l);
            if (l->p >= l->end || *l->p != ':')
                return fail(l, "expected ':'");
            l->p++;
        }
        if (!value(l, depth))
            return false;
        skip_ws(l);
        if (l->p >= l->end)
            return fail(l, "unterminated object or array");
        if (*l->p == close) {
            l->p++;
            return true;
        }
        if (*l->p != ',')
            return fail(l, "expected ',' or a closing bracket");
        l->p++;
        skip_ws(l);
    }
}

/* value reads one value inside depth open containers. */
static bool
value(struct lexer *l, unsigned depth)
{
    skip_ws(l);
    if (l->p >= l->end)
        return fail(l, "expected a value");
    switch (*l->p) {
    case '{':
    case '[':
        return container(l, depth + 1);
    case '"':
        return string(l);
    case 't':
        return literal(l, "true");
    case 'f':
        return literal(l, "false");
    case 'n':
        return literal(l, "null");
    default:
        return number(l);
    }
}

static int
cmp_names(const void *a, const void *b)
{
    const cJSON *const *x = a;
    const cJSON *const *y = b;

    return strcmp((*x)->string, (*y)->string);
}

/*
 * unique_names checks that no object in the tree under item has two members of the same name.
 * Names hold no NUL (the validator refused \u0000), so strcmp compares them exactly.
 */
static enum err
unique_names(const cJSON *item, const char **why)
{
    const cJSON *a, *b, **names = NULL;
    size_t n = 0, i;
    enum err rc = ERR_OK;

    if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
        goto out;
    for (a = item->child; a != NULL; a = a->next)
        n++;
    if (cJSON_IsObject(item) && n > JSTRICT_SORT_MIN) {
        names = malloc(n * sizeof(*names));
        if (names == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        i = 0;
        for (a = item->child; a != NULL; a = a->next)
            names[i++] = a;
        qsort(names, n, sizeof(*names), cmp_names);
        for (i = 1; i < n; i++) {
            if (strcmp(names[i - 1]->string, names[i]->string) == 0) {
                *why = "duplicate member name";
                rc = ERR_INVAL;
                goto out;
            }
        }
    } else if (cJSON_IsObject(item)) {
        for (a = item->child; a != NULL; a = a->next) {
            for (b = a->next; b != NULL; b = b->next) {
                if (strcmp(a->string, b->string) == 0) {
                    *why = "duplicate member name";
                    rc = ERR_INVAL;
                    goto out;
                }
            }
        }
    }
    for (a = item->child; a != NULL; a = a->next) {
        rc = unique_names(a, why);
        if (rc != ERR_OK)
            goto out;
    }
out:
    free(names);
    return rc;
}

enum err
jstrict_parse(const char *buf, size_t len, cJSON **out, const char **why)
{
    struct lexer l = {(const unsigned char *)buf, (const unsigned char *)buf + len, NULL};
    const char *reason = NULL;
    const char *endp = NULL;
    char *copy = NULL;
    cJSON *root = NULL;
    enum err rc = ERR_INVAL;

    *out = NULL;
    if (len == 0) {
        reason = "empty input";
        goto out;
    }
    if (memchr(buf, '\0', len) != NULL) {
        reason = "NUL byte in the input";
        goto out;
    }
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        reason = "byte order mark";
        goto out;
    }
    if (!utf8_valid(l.p, len)) {
        reason = "invalid UTF-8";
        goto out;
    }
    skip_ws(&l);
    if (l.p >= l.end || *l.p != '{') {
        reason = "top level is not an object";
        goto out;
    }
    if (!value(&l, 0)) {
        reason = l.why;
        goto out;
    }
    skip_ws(&l);
    if (l.p != l.end) {
        reason = "bytes after the JSON value";
        goto out;
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    memcpy(copy, buf, len);
    copy[len] = '\0';
    root = cJSON_ParseWithLengthOpts(copy, len + 1, &endp, 1);
    if (root == NULL) {
        /* The validator accepted the text, so cJSON most likely ran out of memory. */
        reason = "cJSON could not parse the text";
        goto out;
    }
    rc = unique_names(root, &reason);
    if (rc != ERR_OK)
        goto out;
    *out = root;
    root = NULL;
out:
    cJSON_Delete(root);
    free(copy);
    if (why != NULL)
        *why = rc == ERR_OK ? NULL : reason != NULL ? reason : "out of memory";
    return rc;
}
