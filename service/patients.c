/*
 * patients: people, their keys and their linked identifiers, derived from "patient.enrol",
 * "patient.key" and "identity.link" entries; and the one-time enrolment codes of the STORE_ENROL
 * side table. Nothing here logs: NHS numbers, keys and codes are personal or secret, and a
 * refusal's sentence goes only to the caller who sent the request.
 */
#include <stdio.h>
#include <string.h>

#include "consentd/b64.h"
#include "consentd/ecache.h"
#include "consentd/jstrict.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/tlog.h"

/* STORE_PATIENTS values: enrol entry index ‖ current key entry index (store_put_pair). */
#define PATIENTS_CODE_HEAD (NHS_LEN + 8 + 1) /* nhs ‖ expires ‖ used, then by */

/*
 * patients_is_control is true if the UTF-8 text at p (n bytes left) starts with a character
 * that can disguise what a person reads: C0 and C1 controls, DEL, the line and paragraph
 * separators, and the text-direction marks, embeddings and isolates.
 */
static bool
patients_is_control(const unsigned char *p, size_t n)
{
    if (p[0] < 0x20 || p[0] == 0x7f)
        return true;
    if (n >= 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        return true;
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x80 &&
        ((p[2] >= 0x8e && p[2] <= 0x8f) || (p[2] >= 0xa8 && p[2] <= 0xae)))
        return true;
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
        return true;
    return false;
}

/* patients_text_ok is true if s has no control characters (see patients_is_control). */
static bool
patients_text_ok(const char *s)
{
    size_t n = strlen(s), i;

    for (i = 0; i < n; i++)
        if (patients_is_control((const unsigned char *)s + i, n - i))
            return false;
    return true;
}

bool
patients_reason_valid(const char *reason)
{
    size_t chars = 0, i;

    if (reason == NULL || !patients_text_ok(reason))
        return false;
    /* Count code points: every byte that is not a UTF-8 continuation byte starts one. */
    for (i = 0; reason[i] != '\0'; i++)
        if (((unsigned char)reason[i] & 0xc0) != 0x80)
            chars++;
    return chars >= 1 && chars <= PATIENTS_REASON_MAX;
}

enum err
patients_jwk_key(const cJSON *jwk, uint8_t pk[static KEYS_PUBLIC_BYTES],
                 char why[static STATE_WHY_MAX])
{
    const cJSON *kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(jwk, "x");
    size_t n = 0;

    memset(pk, 0, KEYS_PUBLIC_BYTES);
    if (!cJSON_IsObject(jwk)) {
        snprintf(why, STATE_WHY_MAX, "\"jwk\" must be a JSON Web Key object");
        return ERR_INVAL;
    }
    if (cJSON_GetObjectItemCaseSensitive(jwk, "d") != NULL) {
        snprintf(why, STATE_WHY_MAX,
                 "\"jwk\" holds a private key (\"d\"); send only the public key, and keep the "
                 "private key on the patient's device");
        return ERR_INVAL;
    }
    if (!cJSON_IsString(kty) || strcmp(kty->valuestring, "OKP") != 0 || !cJSON_IsString(crv) ||
        strcmp(crv->valuestring, "Ed25519") != 0) {
        snprintf(why, STATE_WHY_MAX,
                 "\"jwk\" must be an Ed25519 public key: \"kty\":\"OKP\", \"crv\":\"Ed25519\"");
        return ERR_INVAL;
    }
    if (!cJSON_IsString(x) ||
        b64_decode(x->valuestring, strlen(x->valuestring), B64_URL, pk, KEYS_PUBLIC_BYTES, &n) !=
            ERR_OK ||
        n != KEYS_PUBLIC_BYTES) {
        memset(pk, 0, KEYS_PUBLIC_BYTES);
        snprintf(why, STATE_WHY_MAX,
                 "\"jwk\".\"x\" must be the 32-byte public key in unpadded base64url");
        return ERR_INVAL;
    }
    return ERR_OK;
}

enum err
patients_link_valid(const char *system, const char *value, char why[static STATE_WHY_MAX])
{
    size_t sn = system == NULL ? 0 : strlen(system), vn = value == NULL ? 0 : strlen(value);

    if (sn == 0 || sn > PATIENTS_SYSTEM_MAX || strchr(system, '|') != NULL) {
        snprintf(why, STATE_WHY_MAX,
                 "\"system\" must be 1 to %d bytes without \"|\" (a URI naming the issuer of "
                 "the identifier)",
                 PATIENTS_SYSTEM_MAX);
        return ERR_INVAL;
    }
    if (vn == 0 || sn + 1 + vn > PATIENTS_IDENT_MAX) {
        snprintf(why, STATE_WHY_MAX,
                 "\"value\" must not be empty, and system|value must be at most %d bytes",
                 PATIENTS_IDENT_MAX);
        return ERR_INVAL;
    }
    if (!patients_text_ok(system) || !patients_text_ok(value)) {
        snprintf(why, STATE_WHY_MAX, "\"system\" and \"value\" must not hold control characters");
        return ERR_INVAL;
    }
    if (strcmp(system, PATIENTS_NHS_SYSTEM) == 0) {
        snprintf(why, STATE_WHY_MAX,
                 "an NHS number is the identity itself and is never linked; use it directly");
        return ERR_INVAL;
    }
    return ERR_OK;
}

/*
 * patients_entry_key reads an entry's "jwk" and checks that its "kid" is the key's id. Returns
 * ERR_OK or ERR_INVAL with why set.
 */
static enum err
patients_entry_key(const cJSON *e, uint8_t pk[static KEYS_PUBLIC_BYTES],
                   char why[static STATE_WHY_MAX])
{
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(e, "kid");
    char mine[KEYS_KID_LEN + 1];
    enum err rc;

    rc = patients_jwk_key(cJSON_GetObjectItemCaseSensitive(e, "jwk"), pk, why);
    if (rc != ERR_OK)
        return rc;
    keys_kid(pk, mine);
    if (!cJSON_IsString(kid) || strcmp(kid->valuestring, mine) != 0) {
        snprintf(why, STATE_WHY_MAX, "\"kid\" must be the key id of \"jwk\" (%s)", mine);
        return ERR_INVAL;
    }
    return ERR_OK;
}

/* patients_by_ok is true for a "by": a client id or "admin", 1..PATIENTS_BY_MAX bytes. */
static bool
patients_by_ok(const cJSON *by)
{
    return cJSON_IsString(by) && by->valuestring[0] != '\0' &&
           strlen(by->valuestring) <= PATIENTS_BY_MAX && patients_text_ok(by->valuestring);
}

static enum err
patients_apply_link(struct store_txn *t, const char *nhs, const cJSON *e,
                    char why[static STATE_WHY_MAX])
{
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(e, "system");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(e, "value");
    char key[PATIENTS_IDENT_MAX + 1];
    const void *val;
    size_t len;
    enum err rc;

    if (!cJSON_IsString(system) || !cJSON_IsString(value)) {
        snprintf(why, STATE_WHY_MAX, "an identity.link entry needs \"system\" and \"value\"");
        return ERR_INVAL;
    }
    rc = patients_link_valid(system->valuestring, value->valuestring, why);
    if (rc != ERR_OK)
        return rc;
    if (!patients_by_ok(cJSON_GetObjectItemCaseSensitive(e, "by"))) {
        snprintf(why, STATE_WHY_MAX, "an identity.link entry needs \"by\": who linked it");
        return ERR_INVAL;
    }
    snprintf(key, sizeof(key), "%s|%s", system->valuestring, value->valuestring);
    rc = store_get(t, STORE_LINKS, key, strlen(key), &val, &len);
    if (rc == ERR_OK) {
        if (len == NHS_LEN && memcmp(val, nhs, NHS_LEN) == 0)
            snprintf(why, STATE_WHY_MAX, "this identifier is already linked to this person");
        else
            snprintf(why, STATE_WHY_MAX,
                     "this identifier is already linked to another person; an identifier "
                     "names one person");
        return ERR_CONFLICT;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    return store_put(t, STORE_LINKS, key, strlen(key), nhs, NHS_LEN, true, false);
}

static enum err
patients_apply_enrol(struct store_txn *t, uint64_t index, const char *nhs, const cJSON *e,
                     char why[static STATE_WHY_MAX])
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    uint64_t ei, ki;
    enum err rc;

    rc = store_get_pair(t, STORE_PATIENTS, nhs, &ei, &ki);
    if (rc == ERR_OK) {
        snprintf(why, STATE_WHY_MAX,
                 "this NHS number is already enrolled; a lost key is recovered by an enroller, "
                 "and a key is changed by rotating it");
        return ERR_CONFLICT;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    rc = patients_entry_key(e, pk, why);
    if (rc != ERR_OK)
        return rc;
    if (!patients_by_ok(cJSON_GetObjectItemCaseSensitive(e, "by"))) {
        snprintf(why, STATE_WHY_MAX, "a patient.enrol entry needs \"by\": who issued the code");
        return ERR_INVAL;
    }
    return store_put_pair(t, STORE_PATIENTS, nhs, index, index);
}

static enum err
patients_apply_key(struct store_txn *t, uint64_t index, const char *nhs, const cJSON *e,
                   char why[static STATE_WHY_MAX])
{
    const cJSON *proof = cJSON_GetObjectItemCaseSensitive(e, "proof");
    const cJSON *recovery = cJSON_GetObjectItemCaseSensitive(e, "recovery");
    const cJSON *reason;
    struct patients_patient p;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    enum err rc;

    rc = patients_get(t, nhs, &p);
    if (rc == ERR_NOTFOUND) {
        snprintf(why, STATE_WHY_MAX,
                 "this NHS number is not enrolled; a key is enrolled first with a code");
        return ERR_INVAL;
    }
    if (rc != ERR_OK)
        return rc;
    rc = patients_entry_key(e, pk, why);
    if (rc != ERR_OK)
        return rc;
    if (hash_equal(pk, p.pk)) {
        snprintf(why, STATE_WHY_MAX, "the new key is already this person's current key");
        return ERR_CONFLICT;
    }
    if ((proof == NULL) == (recovery == NULL)) {
        snprintf(why, STATE_WHY_MAX,
                 "a patient.key entry needs either \"proof\" (by the current key) or "
                 "\"recovery\", not both");
        return ERR_INVAL;
    }
    if (proof != NULL) {
        if (!cJSON_IsString(proof)) {
            snprintf(why, STATE_WHY_MAX, "\"proof\" must be a compact JWS");
            return ERR_INVAL;
        }
        rc = patients_key_proof_check(t, proof->valuestring, strlen(proof->valuestring), p.pk, nhs,
                                      pk, PATIENTS_NO_TIME, why);
        if (rc != ERR_OK)
            return rc == ERR_BADSIG ? ERR_CONFLICT : rc;
    } else {
        reason = cJSON_GetObjectItemCaseSensitive(recovery, "reason");
        if (!cJSON_IsObject(recovery) ||
            !patients_by_ok(cJSON_GetObjectItemCaseSensitive(recovery, "by")) ||
            !cJSON_IsString(reason) || !patients_reason_valid(reason->valuestring)) {
            snprintf(why, STATE_WHY_MAX,
                     "\"recovery\" needs \"by\" and a \"reason\" of 1 to %d characters",
                     PATIENTS_REASON_MAX);
            return ERR_INVAL;
        }
    }
    return store_put_pair(t, STORE_PATIENTS, nhs, p.enrol_index, index);
}

enum err
patients_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
               char why[static STATE_WHY_MAX])
{
    const cJSON *nhs = cJSON_GetObjectItemCaseSensitive(e, "nhs");

    if (!cJSON_IsString(nhs) || !nhs_valid(nhs->valuestring)) {
        snprintf(why, STATE_WHY_MAX,
                 "a %s entry needs \"nhs\": ten digits with a valid Modulus 11 check digit", type);
        return ERR_INVAL;
    }
    if (strcmp(type, "identity.link") == 0)
        return patients_apply_link(t, nhs->valuestring, e, why);
    if (strcmp(type, "patient.enrol") == 0)
        return patients_apply_enrol(t, index, nhs->valuestring, e, why);
    if (strcmp(type, "patient.key") == 0)
        return patients_apply_key(t, index, nhs->valuestring, e, why);
    snprintf(why, STATE_WHY_MAX, "patients cannot apply a %s entry", type);
    return ERR_INVAL;
}

/*
 * patients_key_parse reads the key set by entry index (pk and kid) into out, the rest of it
 * zeroed. ERR_STORAGE if the entry is missing or holds no valid key.
 */
static enum err
patients_key_parse(struct store_txn *t, uint64_t index, void *value)
{
    struct patients_patient *out = value;
    char why[STATE_WHY_MAX];
    const uint8_t *bytes;
    cJSON *e = NULL;
    size_t len;
    enum err rc;

    memset(out, 0, sizeof(*out));
    rc = tlog_entry(t, index, &bytes, &len);
    if (rc != ERR_OK)
        return rc == ERR_NOTFOUND ? ERR_STORAGE : rc;
    rc = ERR_STORAGE;
    if (jstrict_parse((const char *)bytes, len, &e, NULL) != ERR_OK)
        goto out;
    if (patients_jwk_key(cJSON_GetObjectItemCaseSensitive(e, "jwk"), out->pk, why) != ERR_OK)
        goto out;
    keys_kid(out->pk, out->kid);
    rc = ERR_OK;
out:
    cJSON_Delete(e);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* This thread's parsed key entries (ecache.h): every patient-signed write and token reads one. */
static __thread struct ecache patients_cache = ECACHE_INIT(256, struct patients_patient);

enum err
patients_get(struct store_txn *t, const char *nhs, struct patients_patient *out)
{
    const struct patients_patient *parsed;
    uint64_t ei, ki;
    void *v;
    enum err rc;

    memset(out, 0, sizeof(*out));
    if (nhs == NULL || !nhs_valid(nhs))
        return ERR_NOTFOUND;
    rc = store_get_pair(t, STORE_PATIENTS, nhs, &ei, &ki);
    if (rc != ERR_OK)
        return rc;
    rc = ecache_read(t, &patients_cache, ki, patients_key_parse, &v);
    if (rc != ERR_OK)
        return rc;
    parsed = v;
    *out = *parsed;
    memcpy(out->nhs, nhs, NHS_LEN + 1);
    out->enrol_index = ei;
    out->key_index = ki;
    return ERR_OK;
}

enum err
patients_resolve(struct store_txn *t, const char *ident, char nhs[static NHS_LEN + 1],
                 char why[static STATE_WHY_MAX])
{
    const char *bar = ident == NULL ? NULL : strchr(ident, '|');
    const void *val;
    size_t len;
    enum err rc;

    memset(nhs, 0, NHS_LEN + 1);
    if (ident == NULL || ident[0] == '\0') {
        snprintf(why, STATE_WHY_MAX,
                 "an NHS number (ten digits) or a linked identifier system|value is needed");
        return ERR_INVAL;
    }
    if (bar == NULL) {
        if (!nhs_valid(ident)) {
            snprintf(why, STATE_WHY_MAX,
                     "not an NHS number: it must be ten digits, without spaces, whose last is "
                     "the Modulus 11 check digit of the first nine");
            return ERR_INVAL;
        }
        memcpy(nhs, ident, NHS_LEN + 1);
        return ERR_OK;
    }
    /* The FHIR token form of the NHS number itself. */
    if ((size_t)(bar - ident) == strlen(PATIENTS_NHS_SYSTEM) &&
        strncmp(ident, PATIENTS_NHS_SYSTEM, (size_t)(bar - ident)) == 0) {
        if (!nhs_valid(bar + 1)) {
            snprintf(why, STATE_WHY_MAX,
                     "the value after " PATIENTS_NHS_SYSTEM "| is not an NHS number with a "
                     "valid Modulus 11 check digit");
            return ERR_INVAL;
        }
        memcpy(nhs, bar + 1, NHS_LEN + 1);
        return ERR_OK;
    }
    if (bar == ident || bar[1] == '\0' || strlen(ident) > PATIENTS_IDENT_MAX) {
        snprintf(why, STATE_WHY_MAX,
                 "a linked identifier is system|value, both non-empty, at most %d bytes",
                 PATIENTS_IDENT_MAX);
        return ERR_INVAL;
    }
    rc = store_get(t, STORE_LINKS, ident, strlen(ident), &val, &len);
    if (rc == ERR_NOTFOUND) {
        snprintf(why, STATE_WHY_MAX, "no person is linked to this system|value identifier");
        return ERR_NOTFOUND;
    }
    if (rc != ERR_OK)
        return rc;
    if (len != NHS_LEN)
        return ERR_STORAGE;
    memcpy(nhs, val, NHS_LEN);
    nhs[NHS_LEN] = '\0';
    return ERR_OK;
}

/*
 * patients_proof_open verifies a proof's signature with pk and checks the claims every proof
 * has: "sub" naming nhs and, unless now is PATIENTS_NO_TIME, a fresh "iat". p is filled on
 * ERR_OK (the caller clears it).
 */
static enum err
patients_proof_open(struct store_txn *t, const char *proof, size_t len,
                    const uint8_t pk[static KEYS_PUBLIC_BYTES], const char *nhs, int64_t now,
                    const char *what, struct jws_parts *p, char why[static STATE_WHY_MAX])
{
    char resolved[NHS_LEN + 1], rwhy[STATE_WHY_MAX];
    const char *jwhy = NULL;
    const cJSON *sub, *iat;
    enum err rc;

    if (len == 0 || len > JWS_MAX_LEN) {
        snprintf(why, STATE_WHY_MAX, "\"proof\" must be a compact JWS of at most %d bytes",
                 JWS_MAX_LEN);
        return ERR_INVAL;
    }
    rc = jws_verify(proof, len, pk, p, &jwhy);
    if (rc == ERR_BADSIG) {
        snprintf(why, STATE_WHY_MAX, "the proof's signature does not verify with %s", what);
        return ERR_BADSIG;
    }
    if (rc != ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "\"proof\" is not a valid EdDSA JWS: %s",
                 jwhy != NULL ? jwhy : err_str(rc));
        return rc == ERR_NOMEM ? rc : ERR_INVAL;
    }
    sub = cJSON_GetObjectItemCaseSensitive(p->payload, "sub");
    if (!cJSON_IsString(sub)) {
        snprintf(why, STATE_WHY_MAX, "the proof needs \"sub\": the patient's NHS number");
        goto inval;
    }
    if (strcmp(sub->valuestring, nhs) != 0) {
        rc = strchr(sub->valuestring, '|') == NULL
                 ? ERR_NOTFOUND
                 : patients_resolve(t, sub->valuestring, resolved, rwhy);
        if (rc == ERR_STORAGE)
            goto fail;
        if (rc != ERR_OK || strcmp(resolved, nhs) != 0) {
            snprintf(why, STATE_WHY_MAX, "the proof's \"sub\" does not name this patient");
            goto inval;
        }
    }
    iat = cJSON_GetObjectItemCaseSensitive(p->payload, "iat");
    if (!cJSON_IsNumber(iat) || iat->valuedouble != (double)(int64_t)iat->valuedouble) {
        snprintf(why, STATE_WHY_MAX, "the proof needs \"iat\": the time it was made, in seconds");
        goto inval;
    }
    if (now != PATIENTS_NO_TIME && (iat->valuedouble < (double)(now - PATIENTS_PROOF_SKEW) ||
                                    iat->valuedouble > (double)(now + PATIENTS_PROOF_SKEW))) {
        snprintf(why, STATE_WHY_MAX,
                 "the proof's \"iat\" is more than %d seconds from now; make a new proof "
                 "(and check the device's clock)",
                 PATIENTS_PROOF_SKEW);
        goto inval;
    }
    return ERR_OK;
inval:
    rc = ERR_INVAL;
fail:
    jws_parts_clear(p);
    return rc;
}

enum err
patients_enrol_proof_check(struct store_txn *t, const char *proof, size_t len,
                           const uint8_t pk[static KEYS_PUBLIC_BYTES], const char *nhs,
                           const char *code, int64_t now, char why[static STATE_WHY_MAX])
{
    struct jws_parts p;
    const cJSON *c;
    enum err rc;

    memset(&p, 0, sizeof(p));
    rc = patients_proof_open(t, proof, len, pk, nhs, now, "the key in \"jwk\"", &p, why);
    if (rc != ERR_OK)
        return rc;
    c = cJSON_GetObjectItemCaseSensitive(p.payload, "code");
    /* Both codes come from the caller, so a plain comparison leaks nothing. */
    if (!cJSON_IsString(c) || strcmp(c->valuestring, code) != 0) {
        snprintf(why, STATE_WHY_MAX, "the proof's \"code\" is not the enrolment code sent");
        rc = ERR_INVAL;
    }
    jws_parts_clear(&p);
    return rc;
}

enum err
patients_key_proof_check(struct store_txn *t, const char *proof, size_t len,
                         const uint8_t old_pk[static KEYS_PUBLIC_BYTES], const char *nhs,
                         const uint8_t new_pk[static KEYS_PUBLIC_BYTES], int64_t now,
                         char why[static STATE_WHY_MAX])
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char jwhy[STATE_WHY_MAX];
    struct jws_parts p;
    enum err rc;

    memset(&p, 0, sizeof(p));
    rc = patients_proof_open(t, proof, len, old_pk, nhs, now, "the patient's current key", &p, why);
    if (rc != ERR_OK)
        return rc;
    rc = patients_jwk_key(cJSON_GetObjectItemCaseSensitive(p.payload, "jwk"), pk, jwhy);
    if (rc != ERR_OK || !hash_equal(pk, new_pk)) {
        snprintf(why, STATE_WHY_MAX,
                 "the proof's \"jwk\" must be the new public key, the one sent in \"jwk\"");
        rc = ERR_INVAL;
    }
    jws_parts_clear(&p);
    return rc;
}

void
patients_code_make(char code[static PATIENTS_CODE_LEN + 1], uint8_t hash[static HASH_BYTES])
{
    uint8_t raw[PATIENTS_CODE_BYTES];

    hash_random(raw, sizeof(raw));
    (void)b64_encode(raw, sizeof(raw), B64_URL, code, PATIENTS_CODE_LEN + 1);
    hash_sha256((const uint8_t *)code, PATIENTS_CODE_LEN, hash);
    hash_random(raw, sizeof(raw)); /* overwrite the raw bytes: only the text is handed out */
}

enum err
patients_code_hash(const char *code, uint8_t hash[static HASH_BYTES])
{
    uint8_t raw[PATIENTS_CODE_BYTES];
    size_t n = 0;

    memset(hash, 0, HASH_BYTES);
    if (code == NULL || strlen(code) != PATIENTS_CODE_LEN ||
        b64_decode(code, PATIENTS_CODE_LEN, B64_URL, raw, sizeof(raw), &n) != ERR_OK ||
        n != PATIENTS_CODE_BYTES)
        return ERR_INVAL;
    hash_sha256((const uint8_t *)code, PATIENTS_CODE_LEN, hash);
    return ERR_OK;
}

static enum err
patients_code_put(struct store_txn *t, const uint8_t hash[static HASH_BYTES],
                  const struct patients_code *c, bool unique)
{
    uint8_t val[PATIENTS_CODE_HEAD + PATIENTS_BY_MAX];
    size_t by_len = strlen(c->by);

    memcpy(val, c->nhs, NHS_LEN);
    store_u64_key((uint64_t)c->expires, val + NHS_LEN);
    val[NHS_LEN + 8] = c->used ? 1 : 0;
    memcpy(val + PATIENTS_CODE_HEAD, c->by, by_len);
    return store_put(t, STORE_ENROL, hash, HASH_BYTES, val, PATIENTS_CODE_HEAD + by_len, unique,
                     false);
}

enum err
patients_code_get(struct store_txn *t, const uint8_t hash[static HASH_BYTES],
                  struct patients_code *out)
{
    const uint8_t *val;
    const void *v;
    uint64_t expires;
    size_t len;
    enum err rc;

    memset(out, 0, sizeof(*out));
    rc = store_get(t, STORE_ENROL, hash, HASH_BYTES, &v, &len);
    if (rc != ERR_OK)
        return rc;
    val = v;
    if (len < PATIENTS_CODE_HEAD || len > PATIENTS_CODE_HEAD + PATIENTS_BY_MAX ||
        val[NHS_LEN + 8] > 1)
        return ERR_STORAGE;
    memcpy(out->nhs, val, NHS_LEN);
    store_u64_val(val + NHS_LEN, 8, &expires);
    out->expires = (int64_t)expires;
    out->used = val[NHS_LEN + 8] == 1;
    memcpy(out->by, val + PATIENTS_CODE_HEAD, len - PATIENTS_CODE_HEAD);
    return ERR_OK;
}

enum err
patients_code_issue(struct store_txn *t, const uint8_t hash[static HASH_BYTES], const char *nhs,
                    const char *by, int64_t now, char why[static STATE_WHY_MAX])
{
    struct patients_code c;
    uint64_t ei, ki;
    enum err rc;

    if (nhs == NULL || !nhs_valid(nhs) || by == NULL || by[0] == '\0' ||
        strlen(by) > PATIENTS_BY_MAX) {
        snprintf(why, STATE_WHY_MAX, "an enrolment code needs a valid NHS number and an issuer");
        return ERR_INVAL;
    }
    rc = store_get_pair(t, STORE_PATIENTS, nhs, &ei, &ki);
    if (rc == ERR_OK) {
        snprintf(why, STATE_WHY_MAX,
                 "this person is already enrolled; a lost key is recovered with "
                 "POST /v1/patients/{nhs}/keys and a reason, not with a new code");
        return ERR_CONFLICT;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    memset(&c, 0, sizeof(c));
    memcpy(c.nhs, nhs, NHS_LEN + 1);
    c.expires = now + PATIENTS_CODE_TTL;
    snprintf(c.by, sizeof(c.by), "%s", by);
    c.used = false;
    rc = patients_code_put(t, hash, &c, true);
    if (rc == ERR_CONFLICT)
        snprintf(why, STATE_WHY_MAX, "this enrolment code already exists; make another");
    return rc;
}

enum err
patients_code_check(struct store_txn *t, const uint8_t hash[static HASH_BYTES], const char *nhs,
                    int64_t now, struct patients_code *out, char why[static STATE_WHY_MAX])
{
    struct patients_code c;
    enum err rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    rc = patients_code_get(t, hash, &c);
    if (rc == ERR_NOTFOUND) {
        snprintf(why, STATE_WHY_MAX,
                 "the enrolment code is not one consentd issued; check it was typed exactly");
        return ERR_AUTH;
    }
    if (rc != ERR_OK)
        return rc;
    if (c.used) {
        snprintf(why, STATE_WHY_MAX,
                 "the enrolment code has been used; each code enrols once: ask the GP practice "
                 "for a new one");
        return ERR_AUTH;
    }
    if (now >= c.expires) {
        snprintf(why, STATE_WHY_MAX,
                 "the enrolment code has expired (codes last 24 hours): ask the GP practice "
                 "for a new one");
        return ERR_AUTH;
    }
    if (nhs == NULL || strcmp(c.nhs, nhs) != 0) {
        snprintf(why, STATE_WHY_MAX, "the enrolment code was issued for another NHS number");
        return ERR_AUTH;
    }
    if (out != NULL)
        *out = c;
    return ERR_OK;
}

enum err
patients_code_use(struct store_txn *t, const uint8_t hash[static HASH_BYTES], const char *nhs,
                  int64_t now, struct patients_code *out, char why[static STATE_WHY_MAX])
{
    struct patients_code c;
    enum err rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    rc = patients_code_check(t, hash, nhs, now, &c, why);
    if (rc != ERR_OK)
        return rc;
    c.used = true;
    rc = patients_code_put(t, hash, &c, false);
    if (rc != ERR_OK)
        return rc;
    c.used = false;
    if (out != NULL)
        *out = c;
    return ERR_OK;
}
