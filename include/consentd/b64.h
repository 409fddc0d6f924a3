/*
 * b64: base64 (RFC 4648 §4, padded) and base64url (§5, unpadded) through libsodium.
 * Decoding is strict: no whitespace, no characters outside the alphabet, padding exactly as
 * the variant says, and no non-zero bits left over in the last character.
 *
 * THREAD SAFETY: every function is reentrant.
 */
#ifndef B64_H
#define B64_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"

enum b64_variant {
    B64_STD, /* standard alphabet, '=' padding: checkpoints, proofs, entries */
    B64_URL  /* URL-safe alphabet, no padding: JWS, JWK */
};

/* b64_encoded_len returns the length of the encoding of len bytes, without the NUL. */
size_t b64_encoded_len(size_t len, enum b64_variant v);

/*
 * b64_encode writes the encoding of bin[0..len) and a NUL into out, which holds out_cap bytes.
 * Returns ERR_OK, or ERR_TOOBIG when out_cap < b64_encoded_len(len, v) + 1 (then out[0] is NUL
 * if out_cap > 0).
 */
enum err b64_encode(const uint8_t *bin, size_t len, enum b64_variant v, char *out, size_t out_cap);

/*
 * b64_decode decodes s[0..slen) into out (out_cap bytes) and sets *out_len.
 * Returns ERR_OK; ERR_INVAL for any character, padding or trailing bits the variant does not
 * allow; ERR_TOOBIG when the result does not fit. On failure *out_len is 0.
 */
enum err b64_decode(const char *s, size_t slen, enum b64_variant v, uint8_t *out, size_t out_cap,
                    size_t *out_len) ERR_WUR;

#endif
