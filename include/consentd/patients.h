/*
 * patients: people and their keys (DESIGN.md §3): the state derived from "patient.enrol",
 * "patient.key" and "identity.link" entries; the one-time enrolment codes (a side table: only
 * their SHA-256 is stored, never the code, and never in the log); and resolving an identifier
 * ("<NHS number>" or "<system>|<value>") to an NHS number.
 *
 * THREAD SAFETY: patients_apply and the code functions that write run in the sequencer's
 * transaction only; readers in any.
 */
#ifndef PATIENTS_H
#define PATIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/keys.h"
#include "consentd/nhs.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define PATIENTS_IDENT_MAX  256            /* "<system>|<value>", bytes */
#define PATIENTS_SYSTEM_MAX 200            /* the system part of a linked identifier, bytes */
#define PATIENTS_BY_MAX     128            /* who acted: a client id or "admin", bytes */
#define PATIENTS_REASON_MAX 500            /* a recovery's reason, characters */
#define PATIENTS_CODE_BYTES 32             /* random bytes in an enrolment code */
#define PATIENTS_CODE_LEN   43             /* base64url of PATIENTS_CODE_BYTES, unpadded, no NUL */
#define PATIENTS_CODE_TTL   (24 * 60 * 60) /* seconds an enrolment code lives */
#define PATIENTS_PROOF_SKEW 300       /* a proof's "iat" must be within this many seconds of now */
#define PATIENTS_NO_TIME    INT64_MIN /* "now" for a replay: a proof's "iat" is not checked */
#define PATIENTS_NHS_SYSTEM "https://fhir.nhs.uk/Id/nhs-number"

struct patients_patient {
    char nhs[NHS_LEN + 1];
    uint8_t pk[KEYS_PUBLIC_BYTES]; /* the current key */
    char kid[KEYS_KID_LEN + 1];
    uint64_t enrol_index; /* the patient.enrol entry */
    uint64_t key_index;   /* the entry that set the current key */
};

/*
 * An enrolment code as the STORE_ENROL side table keeps it, under the SHA-256 of the code's
 * text. Stored as nhs (10 bytes) ‖ expires (8 bytes big-endian) ‖ used (1 byte) ‖ by.
 */
struct patients_code {
    char nhs[NHS_LEN + 1];
    int64_t expires; /* seconds since the epoch */
    char by[PATIENTS_BY_MAX + 1];
    bool used;
};

/*
 * patients_apply applies a "patient.enrol", "patient.key" or "identity.link" entry e at log
 * index index. Returns ERR_OK, ERR_CONFLICT or ERR_INVAL (why set, nothing written), or
 * ERR_STORAGE.
 */
enum err patients_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                        char why[static STATE_WHY_MAX]);

/*
 * The rules patients_apply enforces, in log order:
 *
 * - "patient.enrol" {nhs, jwk, kid, by}: a valid NHS number not enrolled yet (ERR_CONFLICT), an
 *   OKP Ed25519 public JWK, kid its key id, by 1..PATIENTS_BY_MAX bytes.
 * - "patient.key" {nhs, jwk, kid, and proof or recovery {by, reason}}: an enrolled person
 *   (ERR_INVAL otherwise), a key other than the current one (ERR_CONFLICT), and either a proof
 *   that verifies with the current key (patients_key_proof_check without the time check;
 *   ERR_CONFLICT when the signature is not by the current key, ERR_INVAL for other claims) or
 *   a recovery with a reason of 1..PATIENTS_REASON_MAX characters.
 * - "identity.link" {nhs, system, value, by}: system|value not linked yet (ERR_CONFLICT, whether
 *   to this person or another). Linking may precede enrolment: a hospital knows its patients'
 *   NHS numbers whether or not they have enrolled a key, and a GP practice may issue an
 *   enrolment code for a person it knows by a local identifier.
 */

/*
 * patients_jwk_key reads an OKP Ed25519 public JWK into pk. Members other than kty, crv and x
 * (kid, alg, use, key_ops, ext) are ignored, except "d": a private key is refused. Returns
 * ERR_OK or ERR_INVAL with why set (pk zeroed).
 */
enum err patients_jwk_key(const cJSON *jwk, uint8_t pk[static KEYS_PUBLIC_BYTES],
                          char why[static STATE_WHY_MAX]);

/*
 * patients_link_valid checks the parts of a linked identifier: system 1..PATIENTS_SYSTEM_MAX
 * bytes without "|", value at least one byte, the two with the "|" at most PATIENTS_IDENT_MAX,
 * no control characters, and a system other than PATIENTS_NHS_SYSTEM (an NHS number is never
 * linked: it is the identity itself). Returns ERR_OK or ERR_INVAL with why set.
 */
enum err patients_link_valid(const char *system, const char *value, char why[static STATE_WHY_MAX]);

/*
 * patients_reason_valid is true for a recovery reason: 1..PATIENTS_REASON_MAX characters of
 * valid UTF-8 with no control characters.
 */
bool patients_reason_valid(const char *reason);

/*
 * patients_get reads the person with NHS number nhs. ERR_NOTFOUND if not enrolled (out is
 * zeroed on any failure), ERR_STORAGE if the store or the entries it points to are damaged.
 */
enum err patients_get(struct store_txn *t, const char *nhs, struct patients_patient *out);

/*
 * patients_resolve turns an identifier (an NHS number, or "system|value" that was linked) into
 * an NHS number. Returns ERR_OK; ERR_INVAL (why set) for a malformed one or an NHS number that
 * fails Modulus 11; ERR_NOTFOUND (why set) for a system|value never linked.
 */
enum err patients_resolve(struct store_txn *t, const char *ident, char nhs[static NHS_LEN + 1],
                          char why[static STATE_WHY_MAX]);

/*
 * patients_enrol_proof_check checks the proof of a new enrolment: a JWS (alg EdDSA or Ed25519)
 * by the new key pk over {"sub","code","iat"}, where sub names nhs (the NHS number, or a
 * system|value linked to it in t), code is code, and iat is within PATIENTS_PROOF_SKEW seconds
 * of now. Returns ERR_OK; ERR_BADSIG if the signature is not by pk; ERR_INVAL for a malformed
 * proof or a claim that does not match. why is set on failure.
 */
enum err patients_enrol_proof_check(struct store_txn *t, const char *proof, size_t len,
                                    const uint8_t pk[static KEYS_PUBLIC_BYTES], const char *nhs,
                                    const char *code, int64_t now,
                                    char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * patients_key_proof_check checks the proof of a key rotation: a JWS by the current key
 * old_pk over {"sub","jwk","iat"}, where sub names nhs as above, jwk is the new key new_pk, and
 * iat is within PATIENTS_PROOF_SKEW seconds of now (not checked when now is PATIENTS_NO_TIME,
 * as in a replay). Returns ERR_OK, ERR_BADSIG or ERR_INVAL like patients_enrol_proof_check.
 */
enum err patients_key_proof_check(struct store_txn *t, const char *proof, size_t len,
                                  const uint8_t old_pk[static KEYS_PUBLIC_BYTES], const char *nhs,
                                  const uint8_t new_pk[static KEYS_PUBLIC_BYTES], int64_t now,
                                  char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * patients_code_make makes a new enrolment code: PATIENTS_CODE_BYTES from the CSPRNG,
 * base64url, into code, and its hash (patients_code_hash) into hash. The code is shown once
 * and never stored; the caller wipes it when done.
 */
void patients_code_make(char code[static PATIENTS_CODE_LEN + 1], uint8_t hash[static HASH_BYTES]);

/*
 * patients_code_hash writes SHA-256 of the code's text into hash. Returns ERR_INVAL (hash
 * zeroed) if code is not PATIENTS_CODE_LEN base64url characters.
 */
enum err patients_code_hash(const char *code, uint8_t hash[static HASH_BYTES]);

/*
 * patients_code_issue stores the code whose hash is hash for nhs, issued by by, expiring
 * PATIENTS_CODE_TTL after now. Runs in the sequencer's transaction (a write's check). Returns
 * ERR_OK; ERR_CONFLICT (why set) if nhs is already enrolled (a lost key is recovered, not
 * re-enrolled) or the hash is already stored; ERR_INVAL for a bad nhs or by; ERR_STORAGE.
 */
enum err patients_code_issue(struct store_txn *t, const uint8_t hash[static HASH_BYTES],
                             const char *nhs, const char *by, int64_t now,
                             char why[static STATE_WHY_MAX]);

/* patients_code_get reads a stored code. ERR_NOTFOUND if none (out zeroed), ERR_STORAGE. */
enum err patients_code_get(struct store_txn *t, const uint8_t hash[static HASH_BYTES],
                           struct patients_code *out);

/*
 * patients_code_check says whether the code whose hash is hash could enrol nhs at time now:
 * it must exist, be unused, unexpired and issued for nhs. It writes nothing, so a handler may
 * call it in a read transaction for an early answer; patients_code_use decides in log order.
 * Returns ERR_OK with *out (when not NULL) the code; ERR_AUTH (why says which check failed);
 * ERR_STORAGE.
 */
enum err patients_code_check(struct store_txn *t, const uint8_t hash[static HASH_BYTES],
                             const char *nhs, int64_t now, struct patients_code *out,
                             char why[static STATE_WHY_MAX]);

/*
 * patients_code_use spends the code whose hash is hash on enrolling nhs at time now: it must
 * exist, be unused, unexpired and issued for nhs; it is then marked used. Runs in the
 * sequencer's transaction, in the same nested transaction as the patient.enrol entry, so a
 * refused entry leaves the code unused. Returns what patients_code_check returns (on ERR_AUTH
 * nothing is written).
 */
enum err patients_code_use(struct store_txn *t, const uint8_t hash[static HASH_BYTES],
                           const char *nhs, int64_t now, struct patients_code *out,
                           char why[static STATE_WHY_MAX]);

#endif
