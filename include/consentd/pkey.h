/*
 * pkey: a client's registered public key, read from a JWK, and verifying a compact JWS with it.
 * Three kinds of key (DESIGN.md §5):
 *
 * - OKP Ed25519 ("crv", "x"): "alg" EdDSA or Ed25519, through libsodium (crypto/sig.c);
 * - RSA ("n", "e"; a modulus of PKEY_RSA_MIN_BITS to PKEY_RSA_MAX_BITS): RS256 or RS384
 *   (RSASSA-PKCS1-v1_5), through OpenSSL's libcrypto. A JWK "alg" of RS256 or RS384 allows that
 *   one only; without "alg" both are allowed, since SMART Backend Services clients use either
 *   and both are the same key's PKCS#1 v1.5 signatures with a different hash. PS*, HS* and
 *   "none" never are;
 * - EC ("crv" P-256 or P-384, "x", "y", a point on the curve): ES256 for P-256, ES384 for
 *   P-384 (the JWS signature is r ‖ s, 64 or 96 bytes), through libcrypto.
 *
 * The key decides the algorithm, never the header: a header whose "alg" the key does not allow
 * is refused before any signature is checked. A JWK holding a private member (d, p, q, dp, dq,
 * qi, oth, k) is refused, as is any member beyond the key's own, "kid", "alg" and "use" ("sig").
 * Everything here is public: nothing is wiped.
 *
 * THREAD SAFETY: a struct pkey is immutable after pkey_from_jwk and may be shared by threads;
 * every function is reentrant. hash_init() must have run once.
 */
#ifndef PKEY_H
#define PKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/jws.h"
#include "consentd/keys.h"

#define PKEY_RSA_MIN_BITS     2048
#define PKEY_RSA_MAX_BITS     8192 /* JWS_SIG_MAX bytes of signature */
#define PKEY_KID_MAX          128  /* bytes of a JWK "kid" */
#define PKEY_THUMBPRINT_BYTES 32   /* RFC 7638 JWK thumbprint, SHA-256 */
#define PKEY_WHY_MAX          256

enum pkey_type {
    PKEY_OKP,  /* Ed25519 */
    PKEY_RSA,  /* RS256, RS384 */
    PKEY_P256, /* ES256 */
    PKEY_P384  /* ES384 */
};

struct pkey;

/*
 * pkey_from_jwk reads the public JWK jwk (a cJSON object) into a new key *out (pkey_free it).
 * Returns ERR_OK; ERR_INVAL with one sentence in why saying what to fix (a private member, an
 * unknown "kty" or curve, a short modulus, a point not on the curve, an "alg" the key cannot
 * use, a malformed or non-canonical base64url member); ERR_NOMEM. *out is NULL on failure.
 */
enum err pkey_from_jwk(const cJSON *jwk, struct pkey **out, char why[static PKEY_WHY_MAX]) ERR_WUR;

/* pkey_from_ed25519 makes a key of a raw Ed25519 public key. *out is NULL on ERR_NOMEM. */
enum err pkey_from_ed25519(const uint8_t pk[static KEYS_PUBLIC_BYTES], struct pkey **out) ERR_WUR;

/* pkey_free frees k; NULL is a no-op. */
void pkey_free(struct pkey *k);

/* pkey_type_of returns the kind of k. */
enum pkey_type pkey_type_of(const struct pkey *k);

/*
 * pkey_jwk returns a new cJSON object (cJSON_Delete it; NULL when out of memory) holding k's
 * public JWK as it is registered: kty, crv, x for OKP (as before RSA and EC keys came, "kid"
 * and "alg" are not kept); kty, n, e for RSA and kty, crv, x, y for EC, each followed by "alg"
 * and "kid" when the JWK had them. pkey_from_jwk reads it back to the same key.
 */
cJSON *pkey_jwk(const struct pkey *k);

/* pkey_thumbprint writes k's RFC 7638 JWK thumbprint (SHA-256) to out. */
void pkey_thumbprint(const struct pkey *k, uint8_t out[static PKEY_THUMBPRINT_BYTES]);

/*
 * pkey_kid_matches is true if a JWS header's "kid" names k: the JWK's own "kid" when it had
 * one, its RFC 7638 thumbprint in base64url, or, for an Ed25519 key, keys_kid of the key.
 */
bool pkey_kid_matches(const struct pkey *k, const char *kid);

/*
 * pkey_decode splits and decodes a compact JWS *without verifying it*, accepting any header
 * "alg" some key could allow (EdDSA, Ed25519, RS256, RS384, ES256, ES384), so the caller can
 * read "iss" to find the key. Returns as jws_decode; p is zeroed on failure.
 */
enum err pkey_decode(const char *compact, size_t len, struct jws_parts *p,
                     const char **why) ERR_WUR;

/*
 * pkey_verify_jws decodes compact like jws_decode and checks its signature with k, whose kind
 * (and registered "alg") decides the algorithm. Returns ERR_OK with p filled (jws_parts_clear
 * it); ERR_INVAL with a static sentence in *why (when why is not NULL) for anything malformed,
 * an "alg" k does not allow, a forbidden header, or a signature of the wrong length (an ES
 * signature in DER instead of r ‖ s included); ERR_BADSIG ("bad signature") if the signature
 * does not verify; ERR_NOMEM. p is zeroed on failure.
 */
enum err pkey_verify_jws(const struct pkey *k, const char *compact, size_t len, struct jws_parts *p,
                         const char **why) ERR_WUR;

#endif
