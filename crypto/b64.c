/*
 * b64: strict base64 and base64url through libsodium. libsodium stops at the first character
 * outside the alphabet without failing, so every decode checks that the whole input was consumed.
 * libsodium 1.0.18 also decodes a character with its top bit set as the same character without
 * it ("v" | 0x80 reads as "v"), which would make every encoding malleable, so each character is
 * checked against the alphabet first.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "consentd/b64.h"

static int
sodium_variant(enum b64_variant v)
{
    if (v == B64_URL)
        return sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    return sodium_base64_VARIANT_ORIGINAL;
}

size_t
b64_encoded_len(size_t len, enum b64_variant v)
{
    /* sodium_base64_encoded_len counts the NUL. */
    return sodium_base64_encoded_len(len, sodium_variant(v)) - 1;
}

enum err
b64_encode(const uint8_t *bin, size_t len, enum b64_variant v, char *out, size_t out_cap)
{
    static const uint8_t empty[1];
    enum err rc = ERR_OK;

    if (out_cap < b64_encoded_len(len, v) + 1) {
        if (out_cap > 0)
            out[0] = '\0';
        rc = ERR_TOOBIG;
        goto out;
    }
    if (bin == NULL)
        bin = empty;
    sodium_bin2base64(out, out_cap, bin, len, sodium_variant(v));
out:
    return rc;
}

/* in_alphabet is true if c may appear in an encoding of variant v ('=' only for B64_STD). */
static bool
in_alphabet(char c, enum b64_variant v)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    if (v == B64_URL)
        return c == '-' || c == '_';
    return c == '+' || c == '/' || c == '=';
}

enum err
b64_decode(const char *s, size_t slen, enum b64_variant v, uint8_t *out, size_t out_cap,
           size_t *out_len)
{
    const char *end = NULL;
    size_t n = 0, i, data = slen;
    enum err rc = ERR_OK;

    *out_len = 0;
    if (slen == 0)
        goto out;
    for (i = 0; i < slen; i++) {
        if (!in_alphabet(s[i], v)) {
            rc = ERR_INVAL;
            goto out;
        }
    }
    /*
     * libsodium's ERANGE means both "out is too small" and "padding missing", so the size is
     * checked here: the characters before any padding carry 6 bits each.
     */
    while (data > 0 && s[data - 1] == '=')
        data--;
    if (data / 4 * 3 + (data % 4 * 3) / 4 > out_cap) {
        rc = ERR_TOOBIG;
        goto out;
    }
    if (sodium_base642bin(out, out_cap, s, slen, NULL, &n, &end, sodium_variant(v)) != 0) {
        rc = ERR_INVAL;
        goto out;
    }
    /* libsodium stops quietly at a character outside the alphabet. */
    if (end != s + slen) {
        rc = ERR_INVAL;
        goto out;
    }
    *out_len = n;
out:
    return rc;
}
