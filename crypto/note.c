/*
 * note: C2SP signed notes with Ed25519 keys, and tlog checkpoints.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/keys.h"
#include "consentd/note.h"
#include "consentd/sig.h"

#define NOTE_ALG_ED25519 0x01
#define NOTE_KEY_BYTES   (1 + KEYS_PUBLIC_BYTES) /* algorithm byte ‖ key */
#define NOTE_KEY_B64     44                      /* base64 of NOTE_KEY_BYTES */
#define NOTE_SIG_BYTES   (4 + SIG_BYTES)         /* key hash ‖ signature */
#define NOTE_SIG_B64     92                      /* base64 of NOTE_SIG_BYTES */
#define NOTE_ROOT_B64    44                      /* base64 of a hash */
#define NOTE_DASH        "\xe2\x80\x94 "         /* U+2014 and a space */
#define NOTE_DASH_LEN    4
#define NOTE_SKEY_PREFIX "PRIVATE+KEY+"
#define NOTE_SKEY_MAX    (12 + NOTE_MAX_NAME + 1 + 8 + 1 + NOTE_KEY_B64)

/*
 * utf8_next decodes the UTF-8 sequence at s[0..len) into *cp and returns its length, or 0 if
 * it is not the shortest encoding of a scalar value (overlong, surrogate, above U+10FFFF,
 * truncated).
 */
static size_t
utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    uint32_t c, min;
    size_t n, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        c = s[0] & 0x1f;
        min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        c = s[0] & 0x0f;
        min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        c = s[0] & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* is_space is true for the Unicode White_Space characters. */
static bool
is_space(uint32_t c)
{
    return c == 0x20 || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* name_valid checks a key name of len bytes (see note_name_valid). */
static bool
name_valid(const char *name, size_t len)
{
    const unsigned char *s = (const unsigned char *)name;
    uint32_t c;
    size_t i, n;

    if (len == 0 || len > NOTE_MAX_NAME)
        return false;
    for (i = 0; i < len; i += n) {
        n = utf8_next(s + i, len - i, &c);
        if (n == 0)
            return false;
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == '+' || is_space(c))
            return false;
    }
    return true;
}

/*
 * text_valid checks a note text: non-empty UTF-8 ending in a newline, with no blank line and
 * no control character but newline (C2SP signed-note forbids the others, "\r" included).
 */
static bool
text_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    uint32_t c;
    size_t i, n;

    if (len == 0 || s[len - 1] != '\n' || s[0] == '\n')
        return false;
    for (i = 0; i < len; i += n) {
        n = utf8_next(s + i, len - i, &c);
        if (n == 0)
            return false;
        if (c < 0x20 && c != '\n')
            return false;
        if (c == '\n' && i + 1 < len && s[i + 1] == '\n')
            return false;
    }
    return true;
}

/* line_valid is true for len bytes of UTF-8 with no control character (so no newline). */
static bool
line_valid(const char *line, size_t len)
{
    const unsigned char *s = (const unsigned char *)line;
    uint32_t c;
    size_t i, n;

    for (i = 0; i < len; i += n) {
        n = utf8_next(s + i, len - i, &c);
        if (n == 0 || c < 0x20)
            return false;
    }
    return true;
}

bool
note_name_valid(const char *name)
{
    size_t len = strnlen(name, NOTE_MAX_NAME + 1);

    return name_valid(name, len);
}

uint32_t
note_key_hash(const char *name, const uint8_t pk[static KEYS_PUBLIC_BYTES])
{
    crypto_hash_sha256_state st;
    uint8_t h[HASH_BYTES];
    static const uint8_t sep[2] = {'\n', NOTE_ALG_ED25519};

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, sizeof(sep));
    crypto_hash_sha256_update(&st, pk, KEYS_PUBLIC_BYTES);
    crypto_hash_sha256_final(&st, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | (uint32_t)h[3];
}

enum err
note_verifier_init(struct note_verifier *v, const char *name,
                   const uint8_t pk[static KEYS_PUBLIC_BYTES])
{
    size_t len = strnlen(name, NOTE_MAX_NAME + 1);

    memset(v, 0, sizeof(*v));
    if (!name_valid(name, len))
        return ERR_INVAL;
    memcpy(v->name, name, len);
    memcpy(v->pk, pk, KEYS_PUBLIC_BYTES);
    v->key_hash = note_key_hash(v->name, pk);
    return ERR_OK;
}

enum err
note_verifier_format(const struct note_verifier *v, char *out, size_t out_cap)
{
    uint8_t key[NOTE_KEY_BYTES];
    char key64[NOTE_KEY_B64 + 1];
    int n;

    if (out_cap > 0)
        out[0] = '\0';
    key[0] = NOTE_ALG_ED25519;
    memcpy(key + 1, v->pk, KEYS_PUBLIC_BYTES);
    (void)b64_encode(key, sizeof(key), B64_STD, key64, sizeof(key64));
    n = snprintf(out, out_cap, "%s+%08" PRIx32 "+%s", v->name, v->key_hash, key64);
    if (n < 0 || (size_t)n >= out_cap) {
        if (out_cap > 0)
            out[0] = '\0';
        return ERR_TOOBIG;
    }
    return ERR_OK;
}

/* parse_hex8 reads exactly 8 hex digits. */
static bool
parse_hex8(const char *s, size_t len, uint32_t *out)
{
    uint32_t h = 0;
    size_t i;
    char c;

    if (len != 8)
        return false;
    for (i = 0; i < len; i++) {
        c = s[i];
        if (c >= '0' && c <= '9')
            h = h << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            h = h << 4 | (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            h = h << 4 | (uint32_t)(c - 'A' + 10);
        else
            return false;
    }
    *out = h;
    return true;
}

/*
 * parse_key splits "name+hash+base64(0x01 ‖ key)" from s[0..len), copies the name into
 * name (NUL-terminated), and decodes the key's 32 bytes into key.
 */
static enum err
parse_key(const char *s, size_t len, char name[static NOTE_MAX_NAME + 1], uint32_t *hash,
          uint8_t key[static KEYS_PUBLIC_BYTES])
{
    const char *p1, *p2, *end = s + len;
    uint8_t buf[NOTE_KEY_BYTES];
    size_t n = 0;
    enum err rc = ERR_INVAL;

    p1 = memchr(s, '+', len);
    if (p1 == NULL)
        goto out;
    p2 = memchr(p1 + 1, '+', (size_t)(end - p1 - 1));
    if (p2 == NULL)
        goto out;
    if (!name_valid(s, (size_t)(p1 - s)) || memchr(s, '\0', (size_t)(p1 - s)) != NULL)
        goto out;
    if (!parse_hex8(p1 + 1, (size_t)(p2 - p1 - 1), hash))
        goto out;
    if (b64_decode(p2 + 1, (size_t)(end - p2 - 1), B64_STD, buf, sizeof(buf), &n) != ERR_OK)
        goto out;
    if (n != sizeof(buf) || buf[0] != NOTE_ALG_ED25519)
        goto out;
    memcpy(name, s, (size_t)(p1 - s));
    name[p1 - s] = '\0';
    memcpy(key, buf + 1, KEYS_PUBLIC_BYTES);
    rc = ERR_OK;
out:
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

enum err
note_verifier_parse(const char *s, size_t len, struct note_verifier *v)
{
    enum err rc = ERR_INVAL;

    memset(v, 0, sizeof(*v));
    if (len > NOTE_VKEY_MAX)
        goto out;
    rc = parse_key(s, len, v->name, &v->key_hash, v->pk);
    if (rc != ERR_OK)
        goto out;
    if (v->key_hash != note_key_hash(v->name, v->pk))
        rc = ERR_INVAL;
out:
    if (rc != ERR_OK)
        memset(v, 0, sizeof(*v));
    return rc;
}

enum err
note_signer_parse(const char *s, size_t len, struct note_verifier *v, struct keys_pair **k)
{
    const size_t plen = strlen(NOTE_SKEY_PREFIX);
    uint8_t seed[KEYS_SEED_BYTES];
    enum err rc = ERR_INVAL;

    *k = NULL;
    memset(v, 0, sizeof(*v));
    if (len > NOTE_SKEY_MAX || len < plen || memcmp(s, NOTE_SKEY_PREFIX, plen) != 0)
        goto out;
    rc = parse_key(s + plen, len - plen, v->name, &v->key_hash, seed);
    if (rc != ERR_OK)
        goto out;
    rc = keys_from_seed(seed, k);
    if (rc != ERR_OK)
        goto out;
    keys_public(*k, v->pk);
    if (v->key_hash != note_key_hash(v->name, v->pk)) {
        rc = ERR_INVAL;
        goto out;
    }
out:
    sodium_memzero(seed, sizeof(seed));
    if (rc != ERR_OK) {
        keys_free(*k);
        *k = NULL;
        memset(v, 0, sizeof(*v));
    }
    return rc;
}

enum err
note_sign(const struct keys_pair *k, const struct note_verifier *v, const char *text, size_t len,
          char *out, size_t out_cap, size_t *out_len)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    uint8_t sig[NOTE_SIG_BYTES];
    size_t name_len, total;
    char *p;
    enum err rc = ERR_OK;

    *out_len = 0;
    if (out_cap > 0)
        out[0] = '\0';
    keys_public(k, pk);
    name_len = strnlen(v->name, sizeof(v->name));
    if (!text_valid(text, len) || !name_valid(v->name, name_len) ||
        sodium_memcmp(pk, v->pk, sizeof(pk)) != 0 || v->key_hash != note_key_hash(v->name, pk)) {
        rc = ERR_INVAL;
        goto out;
    }
    total = len + 1 + NOTE_DASH_LEN + name_len + 1 + NOTE_SIG_B64 + 1;
    if (total > NOTE_MAX_SIZE || total + 1 > out_cap) {
        rc = ERR_TOOBIG;
        goto out;
    }
    sig[0] = (uint8_t)(v->key_hash >> 24);
    sig[1] = (uint8_t)(v->key_hash >> 16);
    sig[2] = (uint8_t)(v->key_hash >> 8);
    sig[3] = (uint8_t)v->key_hash;
    sig_sign(k, (const uint8_t *)text, len, sig + 4);
    p = out;
    memcpy(p, text, len);
    p += len;
    *p++ = '\n';
    memcpy(p, NOTE_DASH, NOTE_DASH_LEN);
    p += NOTE_DASH_LEN;
    memcpy(p, v->name, name_len);
    p += name_len;
    *p++ = ' ';
    (void)b64_encode(sig, sizeof(sig), B64_STD, p, NOTE_SIG_B64 + 1);
    p += NOTE_SIG_B64;
    *p++ = '\n';
    *p = '\0';
    *out_len = total;
out:
    return rc;
}

/*
 * check_line checks one signature line line[0..len) (without its newline) and, when it names
 * v's key, its signature of text[0..text_len). Returns ERR_OK and sets *mine when the line is
 * v's and verifies, ERR_OK with *mine false for another key's line, ERR_INVAL if malformed,
 * ERR_BADSIG if it is v's and does not verify. buf holds cap bytes for the decoded signature.
 */
static enum err
check_line(const struct note_verifier *v, const char *text, size_t text_len, const char *line,
           size_t len, uint8_t *buf, size_t cap, bool *mine)
{
    const char *name, *sp, *b64;
    size_t name_len, n = 0;
    uint32_t hash;

    *mine = false;
    if (len < NOTE_DASH_LEN || memcmp(line, NOTE_DASH, NOTE_DASH_LEN) != 0)
        return ERR_INVAL;
    name = line + NOTE_DASH_LEN;
    sp = memchr(name, ' ', len - NOTE_DASH_LEN);
    if (sp == NULL)
        return ERR_INVAL;
    name_len = (size_t)(sp - name);
    b64 = sp + 1;
    if (!name_valid(name, name_len))
        return ERR_INVAL;
    if (b64_decode(b64, (size_t)(line + len - b64), B64_STD, buf, cap, &n) != ERR_OK || n < 5)
        return ERR_INVAL;
    hash =
        (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
    if (hash != v->key_hash || name_len != strlen(v->name) || memcmp(name, v->name, name_len) != 0)
        return ERR_OK;
    if (n != NOTE_SIG_BYTES ||
        sig_verify(v->pk, (const uint8_t *)text, text_len, buf + 4) != ERR_OK)
        return ERR_BADSIG;
    *mine = true;
    return ERR_OK;
}

enum err
note_verify(const struct note_verifier *v, const char *note, size_t len, size_t *text_len)
{
    const char *sigs, *end, *nl, *split = NULL;
    uint8_t *buf = NULL;
    size_t i, tlen, cap, lines = 0;
    bool mine, found = false, bad = false;
    enum err rc = ERR_INVAL;

    *text_len = 0;
    if (len > NOTE_MAX_SIZE || len < 2)
        goto out;
    /*
     * The text ends at the first blank line: the text may hold none, and the signature block,
     * made of non-empty lines, none either.
     */
    for (i = 0; i + 1 < len; i++) {
        if (note[i] == '\n' && note[i + 1] == '\n') {
            split = note + i;
            break;
        }
    }
    if (split == NULL)
        goto out;
    tlen = (size_t)(split - note) + 1;
    if (!text_valid(note, tlen))
        goto out;
    sigs = split + 2;
    end = note + len;
    if (sigs == end || end[-1] != '\n')
        goto out;
    cap = (size_t)(end - sigs) / 4 * 3 + 3;
    buf = malloc(cap);
    if (buf == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    while (sigs < end) {
        nl = memchr(sigs, '\n', (size_t)(end - sigs));
        if (++lines > NOTE_MAX_SIGNATURES) {
            rc = ERR_INVAL;
            goto out;
        }
        rc = check_line(v, note, tlen, sigs, (size_t)(nl - sigs), buf, cap, &mine);
        if (rc == ERR_BADSIG)
            bad = true;
        else if (rc != ERR_OK)
            goto out;
        if (mine)
            found = true;
        sigs = nl + 1;
    }
    /* A line that names v's key must verify, even when another such line does. */
    if (bad || !found) {
        rc = ERR_BADSIG;
        goto out;
    }
    rc = ERR_OK;
    *text_len = tlen;
out:
    free(buf);
    return rc;
}

enum err
note_checkpoint_format(const struct note_checkpoint *c, char *out, size_t out_cap, size_t *out_len)
{
    char root[NOTE_ROOT_B64 + 1];
    size_t olen;
    int n;
    enum err rc = ERR_OK;

    *out_len = 0;
    if (out_cap > 0)
        out[0] = '\0';
    olen = strnlen(c->origin, sizeof(c->origin));
    /* The origin becomes the first line of a note text, so it must be a valid line. */
    if (olen == 0 || olen == sizeof(c->origin) || !line_valid(c->origin, olen)) {
        rc = ERR_INVAL;
        goto out;
    }
    (void)b64_encode(c->root, HASH_BYTES, B64_STD, root, sizeof(root));
    n = snprintf(out, out_cap, "%s\n%" PRIu64 "\n%s\n", c->origin, c->size, root);
    if (n < 0 || (size_t)n >= out_cap) {
        if (out_cap > 0)
            out[0] = '\0';
        rc = ERR_TOOBIG;
        goto out;
    }
    *out_len = (size_t)n;
out:
    return rc;
}

/* parse_size reads a decimal uint64 with no sign and no leading zero but for "0". */
static bool
parse_size(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0, d;
    size_t i;

    if (len == 0 || (len > 1 && s[0] == '0'))
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

enum err
note_checkpoint_parse(const char *text, size_t len, struct note_checkpoint *c)
{
    const char *l1, *l2, *l3, *end = text + len;
    size_t n = 0;
    enum err rc = ERR_INVAL;

    memset(c, 0, sizeof(*c));
    if (len == 0 || len > NOTE_MAX_SIZE || text[len - 1] != '\n')
        goto out;
    l1 = memchr(text, '\n', len);
    l2 = memchr(l1 + 1, '\n', (size_t)(end - l1 - 1));
    if (l2 == NULL)
        goto out;
    l3 = memchr(l2 + 1, '\n', (size_t)(end - l2 - 1));
    if (l3 == NULL)
        goto out;
    if (l1 == text || (size_t)(l1 - text) > NOTE_MAX_ORIGIN ||
        !line_valid(text, (size_t)(l1 - text)))
        goto out;
    if (!parse_size(l1 + 1, (size_t)(l2 - l1 - 1), &c->size))
        goto out;
    if (b64_decode(l2 + 1, (size_t)(l3 - l2 - 1), B64_STD, c->root, sizeof(c->root), &n) !=
            ERR_OK ||
        n != HASH_BYTES)
        goto out;
    memcpy(c->origin, text, (size_t)(l1 - text));
    rc = ERR_OK;
out:
    if (rc != ERR_OK)
        memset(c, 0, sizeof(*c));
    return rc;
}
