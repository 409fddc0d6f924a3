/*
 * token: the access tokens consentd issues and accepts for its own endpoints. An access token
 * is an RFC 9068 JWT: header {"alg":"EdDSA","typ":"at+jwt","kid":…}, signed by the token key;
 * claims iss, sub, client_id, aud (the issuer), iat, exp, jti, scope, and for a patient's token
 * "nhs". The scopes are the non-patient capabilities of DESIGN.md §6 (enrol, pointers, audit,
 * introspect) and "patient" for a person acting for themself.
 *
 * A consent-checked access token (token_mint_access) is what a requesting system shows a record
 * holder (DESIGN.md §5): aud is an array (the issuer, then the custodians' endpoints), and it
 * carries authorization_details as granted, log_index (its "access" entry), scope
 * TOKEN_ACCESS_SCOPE and the IHE IUA/PCF extension claims. token_check refuses it (its aud is
 * not the issuer alone), so it never opens consentd's own endpoints; token_check_access reads it.
 *
 * Keys rotate (tokenkeys.h): the signer holds the current key pair, and the public key it
 * replaced, which it accepts and publishes until every token that key signed has expired.
 *
 * THREAD SAFETY: any number of threads may mint, check and read the keys of one signer while
 * one thread at a time rotates it. The keys are one immutable set that token_signer_rotate
 * replaces with a single atomic store; readers load the pointer once per call. A replaced set
 * is freed only at the next rotation, which the log refuses until the key it retired is no
 * longer published (an hour and more later), so no reader can still hold it; token_signer_clear
 * frees the rest once no thread uses the signer.
 */
#ifndef TOKEN_H
#define TOKEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/keys.h"

#define TOKEN_MAX_LEN     4096 /* an access token we issue or accept, bytes */
#define TOKEN_ID_MAX      128  /* client ids, jtis: bytes without the NUL */
#define TOKEN_ISSUER_MAX  511
#define TOKEN_LEEWAY      60        /* seconds of clock skew allowed on exp, iat and nbf */
#define TOKEN_LIFETIME    300       /* default lifetime of a token, seconds */
#define TOKEN_PATIENT_CID "patient" /* client_id of a person's own token */

#define TOKEN_ACCESS_SCOPE   "care-record-access" /* the scope of a consent-checked token */
#define TOKEN_ACCESS_MAX_LEN 8192                 /* a consent-checked token, bytes */
#define TOKEN_POU_SYSTEM     "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#define TOKEN_MAX_KEYS       2 /* the current key and the one it replaced */

enum token_scope {
    TOKEN_SCOPE_ENROL = 1 << 0,
    TOKEN_SCOPE_POINTERS = 1 << 1,
    TOKEN_SCOPE_AUDIT = 1 << 2,
    TOKEN_SCOPE_INTROSPECT = 1 << 3,
    TOKEN_SCOPE_PATIENT = 1 << 4
};

struct token_keyset; /* the keys in use: token.c's, immutable once published */

struct token_signer {
    _Atomic(struct token_keyset *) keys; /* owned; replaced whole by token_signer_rotate */
    struct token_keyset *replaced;       /* owned; the set before, freed at the next rotation */
    char issuer[TOKEN_ISSUER_MAX + 1];
};

/* A public token key, as the JWKS publishes it. */
struct token_key {
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char kid[KEYS_KID_LEN + 1];
    int64_t until; /* a retired key: accepted while now < until; 0 for the current key */
};

/* The keys a signer publishes at one time: the current key first. */
struct token_keys {
    size_t n;
    struct token_key k[TOKEN_MAX_KEYS];
};

struct token_claims {
    char sub[TOKEN_ID_MAX + 1];
    char client_id[TOKEN_ID_MAX + 1];
    char jti[TOKEN_ID_MAX + 1];
    char nhs[11]; /* a patient's token: their NHS number; otherwise "" */
    unsigned scopes;
    int64_t iat;
    int64_t exp;
};

/*
 * token_signer_init makes key the current key, with no retired key; it takes ownership of key
 * (freed on failure too); issuer is copied. Returns ERR_OK or ERR_INVAL if issuer is too long.
 */
enum err token_signer_init(struct token_signer *s, struct keys_pair *key, const char *issuer);

/*
 * token_signer_set_retired records pk as the key the current one replaced, accepted while
 * now < until. Call it after token_signer_init and before the signer is shared (at start).
 */
void token_signer_set_retired(struct token_signer *s, const uint8_t pk[static KEYS_PUBLIC_BYTES],
                              int64_t until);

/*
 * token_signer_rotate makes key (ownership taken) the current key; the current key is retired:
 * its tokens are accepted, and its public key published, while now < until. Any key retired
 * before it is dropped. Call it only once the key.rotate entry saying so is durable.
 */
void token_signer_rotate(struct token_signer *s, struct keys_pair *key, int64_t until);

/*
 * token_signer_keys copies the keys s publishes at time now into *out: the current key, then
 * the retired one if now < its until.
 */
void token_signer_keys(const struct token_signer *s, int64_t now, struct token_keys *out);

/*
 * token_signer_clear frees the keys; no thread may use s any more. s may also be all zero bytes
 * (never initialised).
 */
void token_signer_clear(struct token_signer *s);

/*
 * token_mint signs c as an access token with the current key (c->jti is made if empty). *out is
 * malloc'd and NUL-terminated (caller frees). Returns ERR_OK or ERR_NOMEM.
 */
enum err token_mint(const struct token_signer *s, struct token_claims *c, char **out);

/* What a consent-checked access token carries beyond struct token_claims. All borrowed. */
struct token_access {
    const char *const *aud; /* the custodians' endpoints, after the issuer */
    size_t naud;
    const cJSON *details;        /* authorization_details as granted (an array) */
    uint64_t log_index;          /* the token's "access" entry */
    const char *purpose;         /* a PurposeOfUse code */
    const char *purpose_display; /* its display text, or NULL */
    const char *const *doc_ids;  /* the consents relied on (grant jtis) */
    size_t ndoc_ids;
};

/*
 * token_mint_access signs a consent-checked access token: sub, client_id, jti, iat and exp from
 * c (c->jti must be set: it is the access entry's), scope TOKEN_ACCESS_SCOPE, aud [issuer,
 * a->aud…], authorization_details, log_index, and extensions.ihe_iua.purpose_of_use (a Coding in
 * TOKEN_POU_SYSTEM) and extensions.ihe_pcf.doc_id. *out is malloc'd (caller frees); NULL on
 * failure. Returns ERR_OK, ERR_INVAL (no jti), ERR_NOMEM or ERR_TOOBIG.
 */
enum err token_mint_access(const struct token_signer *s, const struct token_claims *c,
                           const struct token_access *a, char **out);

/*
 * token_check_access verifies a consent-checked access token at time now: signature by the
 * token key its kid names (the current key, or the retired one while now < its until), typ
 * at+jwt, iss the issuer, aud an array holding the issuer, exp in the future and iat not
 * (TOKEN_LEEWAY), sub, client_id and jti strings, scope TOKEN_ACCESS_SCOPE,
 * authorization_details a non-empty array and log_index a whole number. Returns ERR_OK with
 * *claims the payload, which the calling thread's table of good tokens holds: read it, never
 * change or free it, and not after the thread's next token_check_access or token_thread_end.
 * ERR_AUTH with *why a static sentence (*claims NULL).
 *
 * Each thread remembers up to 4,096 good tokens and their claims (by SHA-256 of the key, the
 * issuer and the token), so that checking one again costs neither a verification nor a parse;
 * that the key is still accepted, and the times, are checked on every call. A thread that
 * checked tokens calls token_thread_end before it exits.
 */
enum err token_check_access(const struct token_signer *s, const char *jwt, size_t len, int64_t now,
                            const cJSON **claims, const char **why) ERR_WUR;

/* token_thread_end frees what token_check_access remembers for the calling thread. */
void token_thread_end(void);

/* token_thread_verifications counts the signatures token_check_access verified in this thread. */
uint64_t token_thread_verifications(void);

/*
 * token_check verifies an access token at time now: signature by the token key its kid names
 * (the current key, or the retired one while now < its until), typ at+jwt, iss and aud the issuer,
 * exp in the future and iat not in the future (each with TOKEN_LEEWAY), and every claim of the
 * right type. Fills c on ERR_OK. Returns ERR_AUTH with *why a static sentence naming the failed
 * check.
 */
enum err token_check(const struct token_signer *s, const char *jwt, size_t len, int64_t now,
                     struct token_claims *c, const char **why) ERR_WUR;

/*
 * token_scope_parse reads a space-separated scope string. Returns ERR_INVAL (with *bad set to
 * the unknown name's start) for a name that is not a scope.
 */
enum err token_scope_parse(const char *s, unsigned *scopes, const char **bad);

/* token_scope_format writes scopes as a space-separated string into out. */
void token_scope_format(unsigned scopes, char *out, size_t out_cap);

#endif
