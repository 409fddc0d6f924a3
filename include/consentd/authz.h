/*
 * authz: what a requesting system asks the token endpoint for, and the consent decision behind
 * a consent-checked access token (DESIGN.md §5): RFC 9396 authorization_details of type
 * AUTHZ_TYPE, parsed strictly against the policy, decided with consents_decide for the
 * client's organisation, and turned into the "access" entry (access.h) and the token's
 * authorization_details. Testable without HTTP.
 *
 * An authorization_details parameter is a JSON array of 1..AUTHZ_MAX_DETAILS objects, each
 * exactly {"type":"care-record-access", "identifier", "purpose", "datatypes", and optionally
 * "actions" (["read"]) and "locations"}: identifier an NHS number or a linked "system|value";
 * purpose a purpose of use of the policy; datatypes distinct data categories of the policy;
 * locations distinct URLs, each of which must be the "endpoint" of a registered organisation
 * whose type may hold the custodian role. Every object must name the same person and the same
 * purpose: a token covers one person for one purpose (the "access" entry records one of each).
 *
 * Break-glass (DESIGN.md §4): a request of exactly one object may add "break_glass":{"reason"}
 * (access_reason_valid); its purpose may then also be AUTHZ_BTG. No consent is consulted (an
 * explicit deny does not stop it): the access entry records the reason instead of grants, with
 * purpose AUTHZ_BTG, and the token is shorter-lived. Whether the client may break the glass (role
 * emergency) is the caller's check.
 *
 * The decision runs in the sequencer's check, in log order (authz_decide), so a revocation the
 * sequencer acknowledged before is always seen: every object must be permitted, else the whole
 * request is refused with a sentence that never says what the person decided (AUTHZ_DENIED).
 * The token's audience is the issuer, then the locations asked for, then (for objects that
 * named none) the endpoints of every custodian holding an active pointer in a category
 * permitted.
 *
 * THREAD SAFETY: reentrant; a struct authz_request belongs to one request.
 */
#ifndef AUTHZ_H
#define AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/access.h"
#include "consentd/consents.h"
#include "consentd/err.h"
#include "consentd/nhs.h"
#include "consentd/patients.h"
#include "consentd/policy.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define AUTHZ_TYPE          "care-record-access"
#define AUTHZ_MAX_DETAILS   8
#define AUTHZ_MAX_LOCATIONS 8     /* locations of one object */
#define AUTHZ_MAX_AUD       16    /* endpoints in a token's audience, besides the issuer */
#define AUTHZ_URL_MAX       2048  /* an endpoint, bytes */
#define AUTHZ_MAX_TEXT      16384 /* the authorization_details parameter, bytes */
#define AUTHZ_MAX_GRANTS    64    /* distinct grants one token relies on */
#define AUTHZ_DENIED        "access to these records is not permitted for this request"
#define AUTHZ_BTG           ACCESS_BTG
#define AUTHZ_BTG_DISPLAY   "break the glass" /* HL7 v3 ActReason BTG */

/* A grant a decision relied on. */
struct authz_grant {
    char jti[CONSENTS_JTI_MAX + 1];
    uint64_t index; /* its consent entry */
};

/* One authorization_details object. */
struct authz_detail {
    char identifier[PATIENTS_IDENT_MAX + 1];
    char purpose[CONSENTS_PURPOSE_MAX + 1];
    uint64_t categories; /* bits in the policy's order */
    uint32_t locations;  /* bits of the request's aud[] this object named; 0: none */
    /* Set by authz_decide. */
    uint64_t grants; /* bits of the request's grants[] relied on */
    bool implied;    /* the policy's implied rule permitted some category */
};

/* A whole request; large (tens of KiB): allocate it. */
struct authz_request {
    unsigned n;
    struct authz_detail d[AUTHZ_MAX_DETAILS];
    unsigned nasked; /* aud[0..nasked) are the locations asked for */
    unsigned naud;   /* then custodians' endpoints found by authz_decide */
    char aud[AUTHZ_MAX_AUD][AUTHZ_URL_MAX + 1];
    bool break_glass; /* with reason: a break-glass request */
    char reason[ACCESS_REASON_MAX + 1];
    /* Set by authz_decide. */
    char nhs[NHS_LEN + 1];
    uint64_t categories; /* every category of every object */
    unsigned ngrants;
    struct authz_grant grants[AUTHZ_MAX_GRANTS];
    bool implied;
};

/*
 * authz_parse reads the authorization_details parameter text[0..len) into *out, strictly (no
 * duplicate member names, nothing after the array, valid UTF-8) and against pol. Returns ERR_OK;
 * ERR_INVAL with a sentence in why saying what to fix (*out zeroed); ERR_NOMEM.
 */
enum err authz_parse(const struct policy *pol, const char *text, size_t len,
                     struct authz_request *out, char why[static STATE_WHY_MAX]);

/*
 * authz_locations checks that every location asked for is the endpoint of a registered
 * organisation whose type may hold the custodian role in pol. Organisations are never changed
 * or removed, so a read transaction's answer stays true. Returns ERR_OK; ERR_INVAL (why names
 * the location's position); ERR_STORAGE.
 */
enum err authz_locations(struct store_txn *t, const struct policy *pol,
                         const struct authz_request *r, char why[static STATE_WHY_MAX]);

/*
 * authz_decide decides r for the organisation org at time now against the state in t: it
 * resolves each identifier (all to one person), decides each object with consents_decide and
 * gathers the grants relied on and the audience (for a break-glass request: resolves the
 * person and gathers the audience only). Returns ERR_OK (permitted; r's results set);
 * ERR_PERM (refused: why is AUTHZ_DENIED); ERR_INVAL (an identifier that is malformed or not
 * linked, objects naming different people or purposes, too many grants or custodians; why
 * says which); ERR_AUTH (org is not registered); ERR_TOOBIG, ERR_NOMEM or ERR_STORAGE.
 * Writes nothing.
 */
enum err authz_decide(struct store_txn *t, const struct policy *pol, struct authz_request *r,
                      const char *org, int64_t now, char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * authz_entry writes the members of the "access" entry (access.h) of a decided r, for token
 * jti of client_id (of organisation org) with audience issuer + r's, as JSON text without
 * braces: *out is malloc'd (caller frees) with *len its length. Returns ERR_OK or ERR_NOMEM.
 */
enum err authz_entry(const struct policy *pol, const struct authz_request *r, const char *jti,
                     const char *client_id, const char *org, const char *issuer, int64_t iat,
                     int64_t exp, char **out, size_t *len);

/*
 * authz_granted returns the authorization_details as granted: each object as asked (actions
 * ["read"]) with "grants", the grants it relied on ({"jti","log_index"}, or {"rule":"implied"});
 * for a break-glass request, purpose AUTHZ_BTG and "break_glass":{"reason"} instead of grants.
 * The caller frees it with cJSON_Delete.
 */
cJSON *authz_granted(const struct policy *pol, const struct authz_request *r);

#endif
