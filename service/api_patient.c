/*
 * api_patient: people, keys, enrolment codes and linked identifiers (DESIGN.md §3, §6).
 *
 *   POST /v1/enrolments                   admin or scope enrol: a one-time enrolment code
 *   POST /v1/patients                     the patient's app: enrol a key with a code and a proof
 *   POST /v1/patients/{id}/keys           rotate (proof by the current key) or recover (enroller)
 *   POST /v1/patients/{id}/identifiers    admin or scope enrol: link system|value to a person
 *
 * {id} is an NHS number or a linked system|value, percent-encoded. The handlers check the shape
 * of a request and answer; patients_ decides, and the sequencer re-decides in log order. Codes,
 * keys and NHS numbers are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/api.h"
#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/json.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/xmalloc.h"

#define API_PATIENT_ADMIN_BY "admin"

/*
 * What a write's check needs and what its answer says: heap memory handed to http_submit as
 * the check's context, which frees it after the answer (done reads it through w->check_ctx).
 */
struct api_patient_ctx {
    uint8_t hash[HASH_BYTES]; /* of the enrolment code */
    char nhs[NHS_LEN + 1];
    char by[PATIENTS_BY_MAX + 1];
    char kid[KEYS_KID_LEN + 1];
    char code[PATIENTS_CODE_LEN + 1]; /* a new code, until it is answered */
    char system[PATIENTS_SYSTEM_MAX + 1];
    char value[PATIENTS_IDENT_MAX + 1];
};

static void
api_patient_rfc3339(int64_t t, char out[static 32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* api_patient_by sets who acted: the client id of the token, or "admin". */
static void
api_patient_by(bool is_admin, const struct token_claims *who, char by[static PATIENTS_BY_MAX + 1])
{
    snprintf(by, PATIENTS_BY_MAX + 1, "%s", is_admin ? API_PATIENT_ADMIN_BY : who->client_id);
}

/*
 * api_patient_resolve turns an identifier into an NHS number in a read transaction, answering
 * 400 or 404 on failure.
 */
static bool
api_patient_resolve(struct http_call *c, struct store_txn *t, const char *ident,
                    char nhs[static NHS_LEN + 1])
{
    char why[STATE_WHY_MAX];
    enum err rc;

    rc = patients_resolve(t, ident, nhs, why);
    if (rc == ERR_OK)
        return true;
    if (rc == ERR_INVAL)
        http_reply_problem(c, 400, "invalid-nhs", "Invalid NHS number or identifier", "%s", why);
    else if (rc == ERR_NOTFOUND)
        http_reply_problem(c, 404, "unknown-identifier", "Unknown identifier", "%s", why);
    else
        http_reply_problem(c, 500, "internal", "Internal error", "the store failed (%s)",
                           err_str(rc));
    return false;
}

static bool
api_patient_read_begin(struct http_call *c, struct store_txn **t)
{
    if (store_begin(http_app_of(c)->store, false, t) == ERR_OK)
        return true;
    http_reply_problem(c, 500, "internal", "Internal error", "cannot read the store");
    return false;
}

/* api_patient_jwk_fields adds the normalised public JWK and its kid to fields. */
static void
api_patient_add_key(cJSON *fields, const uint8_t pk[static KEYS_PUBLIC_BYTES],
                    char kid[static KEYS_KID_LEN + 1])
{
    char x[64];
    cJSON *jwk = cJSON_AddObjectToObject(fields, "jwk");

    (void)b64_encode(pk, KEYS_PUBLIC_BYTES, B64_URL, x, sizeof(x));
    cJSON_AddStringToObject(jwk, "kty", "OKP");
    cJSON_AddStringToObject(jwk, "crv", "Ed25519");
    cJSON_AddStringToObject(jwk, "x", x);
    keys_kid(pk, kid);
    cJSON_AddStringToObject(fields, "kid", kid);
}

/* api_patient_created answers 201 with the entry's receipt and the members in j. */
static void
api_patient_created(struct http_call *c, const struct seq_write *w, cJSON *j)
{
    char leaf[48];

    json_add_u64(j, "log_index", w->index);
    if (b64_encode(w->leaf, HASH_BYTES, B64_STD, leaf, sizeof(leaf)) == ERR_OK)
        cJSON_AddStringToObject(j, "leaf_hash", leaf);
    json_add_u64(j, "checkpoint_size", w->checkpoint_size);
    http_reply_json(c, 201, j);
}

static void
api_patient_problem_field(struct http_call *c, const char *why)
{
    http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
}

/* --- POST /v1/enrolments --- */

static enum err
api_patient_code_issue_check(struct store_txn *t, struct seq_write *w)
{
    const struct api_patient_ctx *x = w->check_ctx;

    return patients_code_issue(t, x->hash, x->nhs, x->by, w->now, w->why);
}

static void
api_patient_code_issued(struct http_call *c, const struct seq_write *w)
{
    struct api_patient_ctx *x = w->check_ctx;
    char expires[32];
    cJSON *j, *code;

    if (w->rc == ERR_OK) {
        api_patient_rfc3339(w->now + PATIENTS_CODE_TTL, expires);
        j = cJSON_CreateObject();
        code = cJSON_AddStringToObject(j, "code", x->code);
        cJSON_AddStringToObject(j, "expires", expires);
        http_reply_json(c, 201, j);
        /* The answer holds its own copy now: wipe cJSON's. */
        if (code != NULL)
            explicit_bzero(code->valuestring, strlen(code->valuestring));
        cJSON_Delete(j);
    } else if (w->rc == ERR_CONFLICT) {
        http_reply_problem(c, 409, "already-enrolled", "Already enrolled", "%s", w->why);
    } else {
        http_reply_write_failed(c, w);
    }
    explicit_bzero(x->code, sizeof(x->code));
}

void
api_patient_enrolment_create(struct http_call *c)
{
    static const char *const members[] = {"nhs"};
    struct api_patient_ctx *x = NULL;
    struct store_txn *t = NULL;
    struct token_claims who;
    char why[JSON_WHY_MAX];
    const char *ident;
    cJSON *body = NULL;
    bool is_admin;
    enum err rc;

    if (!http_require_admin_or_token(c, TOKEN_SCOPE_ENROL, &who, &is_admin))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, 1, why);
    if (rc == ERR_OK)
        rc = json_string(body, "nhs", true, 1, PATIENTS_IDENT_MAX, &ident, why);
    if (rc != ERR_OK) {
        api_patient_problem_field(c, why);
        goto out;
    }
    x = xcalloc(1, sizeof(*x));
    if (!api_patient_read_begin(c, &t) || !api_patient_resolve(c, t, ident, x->nhs))
        goto out;
    api_patient_by(is_admin, &who, x->by);
    patients_code_make(x->code, x->hash);
    http_submit(c, "", NULL, 0, api_patient_code_issue_check, x, api_patient_code_issued);
    x = NULL;
out:
    store_abort(t);
    free(x);
    cJSON_Delete(body);
}

/* --- POST /v1/patients --- */

static enum err
api_patient_code_use_check(struct store_txn *t, struct seq_write *w)
{
    const struct api_patient_ctx *x = w->check_ctx;
    struct patients_code code;
    enum err rc;

    rc = patients_code_use(t, x->hash, x->nhs, w->now, &code, w->why);
    if (rc != ERR_OK)
        return rc;
    /* The entry's "by" was read from this code before it was queued; it cannot change. */
    if (strcmp(code.by, x->by) != 0) {
        snprintf(w->why, sizeof(w->why), "the enrolment code changed while it was being used");
        return ERR_AUTH;
    }
    return ERR_OK;
}

/* api_patient_key_done answers an enrolment, a rotation or a recovery. */
static void
api_patient_key_done(struct http_call *c, const struct seq_write *w)
{
    const struct api_patient_ctx *x = w->check_ctx;
    cJSON *j;

    switch (w->rc) {
    case ERR_OK:
        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "nhs", x->nhs);
        cJSON_AddStringToObject(j, "kid", x->kid);
        api_patient_created(c, w, j);
        cJSON_Delete(j);
        return;
    case ERR_AUTH:
        http_reply_problem(c, 400, "invalid-code", "Invalid enrolment code", "%s", w->why);
        return;
    case ERR_CONFLICT:
        if (strcmp(w->type, "patient.enrol") == 0)
            http_reply_problem(c, 409, "already-enrolled", "Already enrolled", "%s", w->why);
        else
            http_reply_problem(c, 409, "key-conflict", "Key conflict",
                               "%s; read the current key and try again", w->why);
        return;
    case ERR_NOMEM:
    case ERR_INVAL:
    case ERR_NOTFOUND:
    case ERR_BADSIG:
    case ERR_STORAGE:
    case ERR_TOOBIG:
    case ERR_IO:
    case ERR_PERM:
    case ERR_UNAVAIL:
    case ERR_EXISTS:
        break;
    }
    http_reply_write_failed(c, w);
}

/* api_patient_proof_refused answers a proof that patients_*_proof_check refused. */
static void
api_patient_proof_refused(struct http_call *c, enum err rc, const char *why)
{
    if (rc == ERR_BADSIG)
        http_reply_problem(c, 403, "bad-signature", "Proof not signed by the right key", "%s", why);
    else if (rc == ERR_INVAL)
        http_reply_problem(c, 400, "invalid-proof", "Invalid proof", "%s", why);
    else
        http_reply_problem(c, 500, "internal", "Internal error",
                           "the proof could not be checked "
                           "(%s)",
                           err_str(rc));
}

/* api_patient_read_jwk reads body's "jwk" into pk, answering 400 when it is not acceptable. */
static bool
api_patient_read_jwk(struct http_call *c, const cJSON *body, uint8_t pk[static KEYS_PUBLIC_BYTES])
{
    char why[STATE_WHY_MAX];
    const cJSON *jwk = cJSON_GetObjectItemCaseSensitive(body, "jwk");

    if (jwk == NULL) {
        api_patient_problem_field(c, "\"jwk\" is required: the patient's Ed25519 public key");
        return false;
    }
    if (patients_jwk_key(jwk, pk, why) != ERR_OK) {
        http_reply_problem(c, 400, "invalid-jwk", "Invalid key", "%s", why);
        return false;
    }
    return true;
}

void
api_patient_enrol(struct http_call *c)
{
    static const char *const members[] = {"nhs", "code", "jwk", "proof"};
    char why[STATE_WHY_MAX], jwhy[JSON_WHY_MAX];
    struct api_patient_ctx *x = NULL;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    const char *ident, *code, *proof;
    struct patients_patient p;
    struct patients_code stored;
    struct store_txn *t = NULL;
    cJSON *body, *fields = NULL;
    char *text = NULL;
    size_t len;
    enum err rc;

    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, 4, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "nhs", true, 1, PATIENTS_IDENT_MAX, &ident, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "code", true, 1, 256, &code, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "proof", true, 1, JWS_MAX_LEN, &proof, jwhy);
    if (rc != ERR_OK) {
        api_patient_problem_field(c, jwhy);
        goto out;
    }
    if (!api_patient_read_jwk(c, body, pk))
        goto out;
    x = xcalloc(1, sizeof(*x));
    if (patients_code_hash(code, x->hash) != ERR_OK) {
        http_reply_problem(c, 400, "invalid-code", "Invalid enrolment code",
                           "\"code\" must be the %d-character code the GP practice gave, exactly",
                           PATIENTS_CODE_LEN);
        goto out;
    }
    if (!api_patient_read_begin(c, &t) || !api_patient_resolve(c, t, ident, x->nhs))
        goto out;
    /* The code first: a used code says so, even though its patient is now enrolled. */
    rc = patients_code_check(t, x->hash, x->nhs, (int64_t)time(NULL), &stored, why);
    if (rc == ERR_AUTH) {
        http_reply_problem(c, 400, "invalid-code", "Invalid enrolment code", "%s", why);
        goto out;
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "the store failed (%s)",
                           err_str(rc));
        goto out;
    }
    rc = patients_get(t, x->nhs, &p);
    if (rc == ERR_OK) {
        http_reply_problem(c, 409, "already-enrolled", "Already enrolled",
                           "this NHS number is already enrolled; a lost key is recovered by an "
                           "enroller, and a key is changed by rotating it");
        goto out;
    }
    if (rc != ERR_NOTFOUND) {
        http_reply_problem(c, 500, "internal", "Internal error", "the store failed (%s)",
                           err_str(rc));
        goto out;
    }
    rc = patients_enrol_proof_check(t, proof, strlen(proof), pk, x->nhs, code, (int64_t)time(NULL),
                                    why);
    if (rc != ERR_OK) {
        api_patient_proof_refused(c, rc, why);
        goto out;
    }
    snprintf(x->by, sizeof(x->by), "%s", stored.by);
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "nhs", x->nhs);
    api_patient_add_key(fields, pk, x->kid);
    cJSON_AddStringToObject(fields, "by", x->by);
    if (json_fields_text(fields, &text, &len) != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        goto out;
    }
    http_submit(c, "patient.enrol", text, len, api_patient_code_use_check, x, api_patient_key_done);
    x = NULL;
out:
    store_abort(t);
    free(x);
    cJSON_Delete(fields);
    cJSON_Delete(body);
}

/* --- POST /v1/patients/{id}/keys and /identifiers --- */

/*
 * api_patient_path_ident copies the {id} of "/v1/patients/{id}<suffix>" into out. h2o has
 * already decoded the percent-encoding of the path it normalised (and removed "." and ".."
 * segments, so an identifier holding "/../" cannot be named in a path; the body-taking
 * endpoints take it as it is). On failure it answers 400 and returns false.
 */
static bool
api_patient_path_ident(struct http_call *c, const char *suffix,
                       char out[static PATIENTS_IDENT_MAX + 1])
{
    size_t len, slen = strlen(suffix);
    const char *param = http_path_param(c, &len);

    out[0] = '\0';
    if (len <= slen || len - slen > PATIENTS_IDENT_MAX ||
        memcmp(param + len - slen, suffix, slen) != 0)
        goto bad;
    memcpy(out, param, len - slen);
    out[len - slen] = '\0';
    /* A %00 would cut the identifier short: refuse it rather than read a different one. */
    if (strlen(out) != len - slen)
        goto bad;
    return true;
bad:
    http_reply_problem(c, 400, "invalid-nhs", "Invalid NHS number or identifier",
                       "the path must be /v1/patients/{nhs}%s, where {nhs} is an NHS number or "
                       "a percent-encoded system|value of at most %d bytes",
                       suffix, PATIENTS_IDENT_MAX);
    return false;
}

static void
api_patient_keys(struct http_call *c)
{
    static const char *const members[] = {"jwk", "proof", "reason"};
    char ident[PATIENTS_IDENT_MAX + 1], why[STATE_WHY_MAX], jwhy[JSON_WHY_MAX];
    struct api_patient_ctx *x = NULL;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    const char *proof = NULL, *reason = NULL;
    struct patients_patient p;
    struct store_txn *t = NULL;
    struct token_claims who;
    cJSON *body, *fields = NULL, *rec;
    char *text = NULL;
    bool is_admin;
    size_t len;
    enum err rc;

    if (!api_patient_path_ident(c, "/keys", ident))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, 3, jwhy);
    if (rc == ERR_OK) {
        rc = json_string(body, "proof", false, 1, JWS_MAX_LEN, &proof, jwhy);
        if (rc == ERR_NOTFOUND)
            rc = ERR_OK;
    }
    if (rc == ERR_OK) {
        rc = json_string(body, "reason", false, 1, 4 * PATIENTS_REASON_MAX, &reason, jwhy);
        if (rc == ERR_NOTFOUND)
            rc = ERR_OK;
    }
    if (rc == ERR_OK && (proof == NULL) == (reason == NULL)) {
        snprintf(jwhy, sizeof(jwhy),
                 "send either \"proof\" (a rotation signed by the current key) or \"reason\" "
                 "(a recovery by an enroller), not both");
        rc = ERR_INVAL;
    }
    if (rc == ERR_OK && reason != NULL && !patients_reason_valid(reason)) {
        snprintf(jwhy, sizeof(jwhy), "\"reason\" must be 1 to %d characters", PATIENTS_REASON_MAX);
        rc = ERR_INVAL;
    }
    if (rc != ERR_OK) {
        api_patient_problem_field(c, jwhy);
        goto out;
    }
    /* A rotation's authority is the signature; a recovery's is the enroller's token. */
    if (reason != NULL && !http_require_admin_or_token(c, TOKEN_SCOPE_ENROL, &who, &is_admin))
        goto out;
    if (!api_patient_read_jwk(c, body, pk))
        goto out;
    x = xcalloc(1, sizeof(*x));
    if (!api_patient_read_begin(c, &t) || !api_patient_resolve(c, t, ident, x->nhs))
        goto out;
    rc = patients_get(t, x->nhs, &p);
    if (rc == ERR_NOTFOUND) {
        http_reply_problem(c, 404, "not-enrolled", "Not enrolled",
                           "this person has no key yet; enrol one with a code first");
        goto out;
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "the store failed (%s)",
                           err_str(rc));
        goto out;
    }
    if (hash_equal(pk, p.pk)) {
        http_reply_problem(c, 409, "key-conflict", "Key conflict",
                           "the new key is already this person's current key");
        goto out;
    }
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "nhs", x->nhs);
    api_patient_add_key(fields, pk, x->kid);
    if (proof != NULL) {
        rc = patients_key_proof_check(t, proof, strlen(proof), p.pk, x->nhs, pk,
                                      (int64_t)time(NULL), why);
        if (rc != ERR_OK) {
            api_patient_proof_refused(c, rc, why);
            goto out;
        }
        cJSON_AddStringToObject(fields, "proof", proof);
    } else {
        api_patient_by(is_admin, &who, x->by);
        rec = cJSON_AddObjectToObject(fields, "recovery");
        cJSON_AddStringToObject(rec, "by", x->by);
        cJSON_AddStringToObject(rec, "reason", reason);
    }
    if (json_fields_text(fields, &text, &len) != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        goto out;
    }
    /* No check: the entry itself is re-verified against the key current in log order. */
    http_submit(c, "patient.key", text, len, NULL, x, api_patient_key_done);
    x = NULL;
out:
    store_abort(t);
    free(x);
    cJSON_Delete(fields);
    cJSON_Delete(body);
}

static void
api_patient_linked(struct http_call *c, const struct seq_write *w)
{
    const struct api_patient_ctx *x = w->check_ctx;
    cJSON *j;

    if (w->rc == ERR_OK) {
        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "nhs", x->nhs);
        cJSON_AddStringToObject(j, "system", x->system);
        cJSON_AddStringToObject(j, "value", x->value);
        api_patient_created(c, w, j);
        cJSON_Delete(j);
    } else if (w->rc == ERR_CONFLICT) {
        http_reply_problem(c, 409, "already-linked", "Already linked", "%s", w->why);
    } else {
        http_reply_write_failed(c, w);
    }
}

static void
api_patient_identifiers(struct http_call *c)
{
    static const char *const members[] = {"system", "value"};
    char ident[PATIENTS_IDENT_MAX + 1], why[STATE_WHY_MAX], jwhy[JSON_WHY_MAX];
    struct api_patient_ctx *x = NULL;
    const char *system, *value;
    struct store_txn *t = NULL;
    struct token_claims who;
    cJSON *body, *fields = NULL;
    char *text = NULL;
    bool is_admin;
    size_t len;
    enum err rc;

    if (!api_patient_path_ident(c, "/identifiers", ident))
        return;
    if (!http_require_admin_or_token(c, TOKEN_SCOPE_ENROL, &who, &is_admin))
        return;
    body = http_json_body(c);
    if (body == NULL)
        return;
    rc = json_only_members(body, members, 2, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "system", true, 1, PATIENTS_SYSTEM_MAX, &system, jwhy);
    if (rc == ERR_OK)
        rc = json_string(body, "value", true, 1, PATIENTS_IDENT_MAX, &value, jwhy);
    if (rc != ERR_OK) {
        api_patient_problem_field(c, jwhy);
        goto out;
    }
    if (patients_link_valid(system, value, why) != ERR_OK) {
        api_patient_problem_field(c, why);
        goto out;
    }
    x = xcalloc(1, sizeof(*x));
    if (!api_patient_read_begin(c, &t) || !api_patient_resolve(c, t, ident, x->nhs))
        goto out;
    api_patient_by(is_admin, &who, x->by);
    snprintf(x->system, sizeof(x->system), "%s", system);
    snprintf(x->value, sizeof(x->value), "%s", value);
    fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "nhs", x->nhs);
    cJSON_AddStringToObject(fields, "system", system);
    cJSON_AddStringToObject(fields, "value", value);
    cJSON_AddStringToObject(fields, "by", x->by);
    if (json_fields_text(fields, &text, &len) != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        goto out;
    }
    http_submit(c, "identity.link", text, len, NULL, x, api_patient_linked);
    x = NULL;
out:
    store_abort(t);
    free(x);
    cJSON_Delete(fields);
    cJSON_Delete(body);
}

void
api_patient_post(struct http_call *c)
{
    size_t len, i;
    const char *param = http_path_param(c, &len);
    const char *slash = NULL;

    for (i = len; i > 0; i--) {
        if (param[i - 1] == '/') {
            slash = param + i - 1;
            break;
        }
    }
    if (slash != NULL && (size_t)(param + len - slash) == 5 && memcmp(slash, "/keys", 5) == 0 &&
        slash != param) {
        api_patient_keys(c);
        return;
    }
    if (slash != NULL && (size_t)(param + len - slash) == 12 &&
        memcmp(slash, "/identifiers", 12) == 0 && slash != param) {
        api_patient_identifiers(c);
        return;
    }
    http_reply_problem(c, 404, "not-found", "Not found",
                       "POST /v1/patients/{nhs}/ serves keys and identifiers only");
}

bool
api_patient_reader(struct http_call *c, const char *suffix, const char *what, struct store_txn **t,
                   char nhs[static NHS_LEN + 1])
{
    const struct http_app *app = http_app_of(c);
    char ident[PATIENTS_IDENT_MAX + 1], why[STATE_WHY_MAX];
    size_t plen, n, slen = strlen(suffix);
    struct token_claims who;
    bool audit, delegate = false;
    const char *param;
    enum err rc;

    *t = NULL;
    nhs[0] = '\0';
    param = http_path_param(c, &plen);
    n = plen > slen && memcmp(param + plen - slen, suffix, slen) == 0 ? plen - slen : 0;
    if (!http_require_token(c, TOKEN_SCOPE_PATIENT | TOKEN_SCOPE_AUDIT, &who))
        return false;
    if (n == 0 || n > PATIENTS_IDENT_MAX) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "the path must name a person: /v1/patients/{nhs}%s", suffix);
        return false;
    }
    memcpy(ident, param, n);
    ident[n] = '\0';
    if (strlen(ident) != n) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request",
                           "the path must name a person: an NHS number or a percent-encoded "
                           "linked identifier system|value");
        return false;
    }
    audit = (who.scopes & TOKEN_SCOPE_AUDIT) != 0;
    rc = store_begin(app->store, false, t);
    if (rc == ERR_OK)
        rc = patients_resolve(*t, ident, nhs, why);
    if (rc == ERR_INVAL) {
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", why);
        goto fail;
    }
    if (rc == ERR_NOTFOUND && audit) {
        http_reply_problem(c, 404, "not-found", "Not found", "%s", why);
        goto fail;
    }
    if (rc == ERR_OK && !audit && strcmp(who.nhs, nhs) != 0)
        rc = consents_delegated(*t, nhs, who.nhs, (int64_t)time(NULL), &delegate);
    if ((rc == ERR_OK || rc == ERR_NOTFOUND) && !audit &&
        (rc == ERR_NOTFOUND || (strcmp(who.nhs, nhs) != 0 && !delegate))) {
        http_reply_problem(c, 403, "forbidden", "Forbidden",
                           "this token is another person's: a person's token reads their own "
                           "%s, or those of someone who delegated to them (or use a token "
                           "with scope audit)",
                           what);
        goto fail;
    }
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "cannot resolve the person (%s)",
                           err_str(rc));
        goto fail;
    }
    return true;
fail:
    store_abort(*t);
    *t = NULL;
    nhs[0] = '\0';
    return false;
}
