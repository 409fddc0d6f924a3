/*
 * assertion: RFC 7523 JWT assertions at the token endpoint: a client's private_key_jwt client
 * assertion (§2.2) and a patient's JWT-bearer authorization grant (§2.1). Verification is a
 * function of its inputs (the compact JWS, the registered public key, the expected subject, the
 * issuer and token endpoint URLs, the time), so every rule is tested without HTTP:
 *
 * - the signature is by the registered key, with the algorithm that key allows whatever the
 *   header says (crypto/pkey.h: EdDSA or Ed25519 for an Ed25519 key, which is all a patient
 *   has; RS256 or RS384 for a client's RSA key; ES256 or ES384 for its P-256 or P-384 key);
 *   "jku", "jwk", "x5u", "x5c", "crit" and "b64" are refused, and a "kid" that does not name
 *   the registered key (pkey_kid_matches) too;
 * - "iss" = "sub" = the expected subject (the client id, or the patient's NHS number);
 * - "aud" is the issuer or the token endpoint URL, or an array holding one of them;
 * - "exp" is present, at most ASSERTION_MAX_AHEAD seconds ahead and not past (TOKEN_LEEWAY);
 * - "iat" and "nbf", when present, are not in the future (TOKEN_LEEWAY);
 * - "jti" is present: 1 to ASSERTION_JTI_MAX bytes without control characters.
 *
 * Single use is jtis.h's: a verified assertion's jti is remembered in the sequencer's write, so
 * a replay is refused, also after a restart.
 *
 * THREAD SAFETY: every function is reentrant.
 */
#ifndef ASSERTION_H
#define ASSERTION_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/keys.h"
#include "consentd/pkey.h"
#include "consentd/token.h"

#define ASSERTION_MAX_AHEAD      300 /* "exp" at most this many seconds after now */
#define ASSERTION_JTI_MAX        128 /* bytes, without the NUL */
#define ASSERTION_SUBJECT_MAX    TOKEN_ID_MAX
#define ASSERTION_WHY_MAX        256
#define ASSERTION_PATIENT_PREFIX "patient:" /* jti table prefix of a patient's assertions */
#define ASSERTION_WHO_MAX        (sizeof(ASSERTION_PATIENT_PREFIX) - 1 + ASSERTION_SUBJECT_MAX)

/* What a verified assertion says. */
struct assertion_claims {
    char subject[ASSERTION_SUBJECT_MAX + 1]; /* iss = sub */
    char jti[ASSERTION_JTI_MAX + 1];
    int64_t exp;
};

/*
 * assertion_subject reads the "iss" of an assertion *without verifying it*, so the caller can
 * find the registered key to verify it with. It checks the header as assertion_verify does,
 * accepting any "alg" some key allows (pkey_decode);
 * what names the assertion in sentences ("the client assertion", "the assertion").
 * Returns ERR_OK with the iss in out; ERR_AUTH with a sentence in why (out "") for a
 * malformed assertion or an iss that is not a string of 1 to ASSERTION_SUBJECT_MAX bytes;
 * ERR_NOMEM.
 */
enum err assertion_subject(const char *jws, size_t len, const char *what,
                           char out[static ASSERTION_SUBJECT_MAX + 1],
                           char why[static ASSERTION_WHY_MAX]) ERR_WUR;

/*
 * assertion_verify checks the assertion jws[0..len) at time now against the registered key,
 * the expected subject (iss = sub), the issuer and the token endpoint URL, by the rules above.
 * what names the assertion in sentences ("the client assertion", "the assertion"). A patient's
 * key is made with pkey_from_ed25519, a client's with clients_key. Returns ERR_OK with *out filled;
 * ERR_AUTH with one sentence in why naming the failed check (*out zeroed); ERR_NOMEM.
 */
enum err assertion_verify(const char *jws, size_t len, const struct pkey *key, const char *subject,
                          const char *issuer, const char *token_endpoint, int64_t now,
                          const char *what, struct assertion_claims *out,
                          char why[static ASSERTION_WHY_MAX]) ERR_WUR;

#endif
