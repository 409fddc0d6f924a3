/*
 * jws: JWS compact serialisation (RFC 7515) with Ed25519 (RFC 8037 "EdDSA"; RFC 9864
 * "Ed25519"). The key decides the algorithm, never the header: a header whose "alg" is anything
 * but "EdDSA" or "Ed25519" is refused before any key is used, and so are "crit", "jku", "jwk",
 * "x5u", "x5c" and "b64" headers. Header and payload are parsed with jstrict.
 *
 * THREAD SAFETY: reentrant.
 */
#ifndef JWS_H
#define JWS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/keys.h"

#define JWS_MAX_LEN 16384 /* a whole compact JWS, bytes */
#define JWS_SIG_MAX 1024  /* the longest signature: RSA with an 8192-bit modulus */

/*
 * jws_sign makes "<b64url(header)>.<b64url(payload)>.<b64url(sig)>" where header is
 * {"alg":"EdDSA","typ":typ,"kid":kid} (typ and kid omitted when NULL) and payload is
 * payload[0..len) verbatim. *out is malloc'd and NUL-terminated (caller frees), NULL on failure.
 * Returns ERR_OK, ERR_NOMEM, or ERR_TOOBIG when the result would exceed JWS_MAX_LEN.
 */
enum err jws_sign(const struct keys_pair *k, const char *typ, const char *kid, const char *payload,
                  size_t len, char **out);

/*
 * A decoded JWS. header and payload are strict-parsed objects (cJSON_Delete each); payload_raw
 * is the decoded payload bytes, malloc'd and NUL-terminated.
 */
struct jws_parts {
    cJSON *header;
    cJSON *payload;
    char *payload_raw;
    size_t payload_len;
};

/* jws_parts_clear frees what p holds and zeroes it. */
void jws_parts_clear(struct jws_parts *p);

/*
 * jws_decode splits and decodes a compact JWS *without verifying it*, so the caller can read
 * "kid" or "iss" to choose the key, then call jws_verify. Returns ERR_INVAL (with *why set to a
 * static sentence when why is not NULL) for anything malformed, an "alg" other than EdDSA or
 * Ed25519, or a forbidden header; p is zeroed on failure.
 */
enum err jws_decode(const char *compact, size_t len, struct jws_parts *p, const char **why) ERR_WUR;

/*
 * jws_verify decodes compact like jws_decode and checks its signature with pk. Returns ERR_OK
 * with p filled, ERR_INVAL (as jws_decode), or ERR_BADSIG; p is zeroed on failure.
 */
enum err jws_verify(const char *compact, size_t len, const uint8_t pk[static KEYS_PUBLIC_BYTES],
                    struct jws_parts *p, const char **why) ERR_WUR;

/* The signature of a JWS decoded by jws_decode_algs, and what it signs. */
struct jws_sig {
    uint8_t bytes[JWS_SIG_MAX];
    size_t len;
    size_t signed_len; /* the signing input is compact[0..signed_len) */
    size_t alg;        /* the index in algs of the header's "alg" */
};

/*
 * jws_decode_algs decodes compact like jws_decode, but accepts a header "alg" that is one of
 * algs[0..nalgs), and refuses any other with alg_why (a static sentence) before it decodes
 * the payload or the signature. It copies the decoded signature, of any length up to
 * JWS_SIG_MAX, into sig; checking its length and the signature itself is the caller's work
 * (crypto/pkey.c). Returns ERR_OK, ERR_NOMEM or ERR_INVAL (why set as jws_decode); p and sig
 * are zeroed on failure.
 */
enum err jws_decode_algs(const char *compact, size_t len, const char *const *algs, size_t nalgs,
                         const char *alg_why, struct jws_parts *p, struct jws_sig *sig,
                         const char **why) ERR_WUR;

#endif
