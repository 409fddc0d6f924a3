/*
 * api: the HTTP handlers, one file per endpoint group: api_log.c (the verifiable log),
 * api_org.c (organisations), api_ops.c (health, readiness, metrics). Each parses the request,
 * calls the module that decides, and answers.
 *
 * THREAD SAFETY: handlers run on worker threads; they share only the immutable struct http_app.
 */
#ifndef API_H
#define API_H

#include "consentd/assertion.h"
#include "consentd/clients.h"
#include "consentd/http.h"
#include "consentd/nhs.h"

void api_log_checkpoint(struct http_call *c);
void api_log_key(struct http_call *c);
void api_log_inclusion(struct http_call *c);
void api_log_consistency(struct http_call *c);
void api_log_entries(struct http_call *c);
/* GET /log/tile/…: C2SP tlog-tiles; hash tiles to anyone, entry bundles to auditors. */
void api_log_tile(struct http_call *c);

void api_org_create(struct http_call *c);
void api_org_list(struct http_call *c);

void api_ops_healthz(struct http_call *c);
void api_ops_readyz(struct http_call *c);
void api_ops_metrics(struct http_call *c);

/* handlers: clients and OAuth */

/*
 * api_oauth_authenticate authenticates a client by its private_key_jwt client assertion
 * (RFC 7523; aud the issuer or the token endpoint), as every OAuth endpoint does: the client
 * the assertion's iss names (and client_id, if given) is registered, not retired, and its
 * registered key verified the assertion. On success it fills *cl and *claims and returns true;
 * otherwise it answers 401 invalid_client (500 on a store failure) and returns false. The
 * assertion's jti is not taken here: the caller's write does that, in log order.
 */
bool api_oauth_authenticate(struct http_call *c, const char *ca_type, const char *ca,
                            const char *client_id, struct clients_client *cl,
                            struct assertion_claims *claims);
void api_client_create(struct http_call *c);
void api_client_retire(struct http_call *c);
void api_oauth_metadata(struct http_call *c);
void api_oauth_jwks(struct http_call *c);
void api_oauth_token(struct http_call *c);
void api_token_introspect(struct http_call *c);
void api_token_revoke(struct http_call *c);
/* GET /v1/patients/{nhs}/access (api_token.c), dispatched by api_patient_get. */
void api_token_access_list(struct http_call *c);
/* GET /v1/patients/{nhs}/entries (api_trail.c), dispatched by api_patient_get. */
void api_trail_list(struct http_call *c);

/* handlers: the patient web app (api_app.c) */
void api_app_redirect(struct http_call *c);
void api_app_file(struct http_call *c);
void api_app_policy(struct http_call *c);

/* handlers: patients */
void api_patient_enrolment_create(struct http_call *c);
void api_patient_enrol(struct http_call *c);
void api_patient_post(struct http_call *c);

/* handlers: pointers */
void api_pointer_create(struct http_call *c);
void api_pointer_retire(struct http_call *c);
void api_pointer_list(struct http_call *c);
void api_pointer_fhir_create(struct http_call *c);
void api_pointer_fhir_search(struct http_call *c);

/* handlers: consents */
void api_consent_create(struct http_call *c);
void api_consent_revoke(struct http_call *c);
void api_consent_delegation_create(struct http_call *c);
void api_consent_decide(struct http_call *c);
/* handlers: FHIR Consent (api_fhir_consent.c) */
void api_fhir_consent_search(struct http_call *c);
void api_fhir_consent_create(struct http_call *c);
/* GET /v1/patients/{nhs}/…: pointers (api_pointer_list) or consents, by the path's suffix. */
void api_patient_get(struct http_call *c);

/*
 * api_patient_reader decides who GET /v1/patients/{id}<suffix> (suffix "/access", say) reads
 * about, and whether the caller may: with a token of scope patient, the person themself or an
 * active delegate of theirs; with scope audit, anyone. id is an NHS number or a linked
 * system|value. On success it returns true with nhs the person and *t an open read transaction
 * (the caller aborts it); otherwise it answered (400, 401, 403, 404 or 500) and returns false
 * with *t NULL. what names the things read ("accesses"), for the 403 sentence.
 */
bool api_patient_reader(struct http_call *c, const char *suffix, const char *what,
                        struct store_txn **t, char nhs[static NHS_LEN + 1]);

/* handlers: token keys (api_keys.c) */
void api_keys_rotate(struct http_call *c);

#endif
