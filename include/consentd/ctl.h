/*
 * ctl: what consentctl's commands share: talking to a consentd over HTTP(S) (libcurl), reading
 * JSON answers strictly, and failing with a sentence and a sysexits.h code. Each command group
 * is its own file (ctl_<group>.c) with one entry point, called by consentctl.c's dispatch.
 *
 * THREAD SAFETY: single-threaded CLI code; curl_global_init must have run.
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "consentd/hash.h"
#include "consentd/keys.h"

#define CTL_MAX_RESPONSE (64 * 1024 * 1024)
#define CTL_TIMEOUT_S    60

struct ctl_buf {
    char *data; /* NUL-terminated; free() it */
    size_t len;
};

/* ctl_fail prints "consentctl: <sentence>" on standard error and returns code. */
int ctl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * ctl_request sends method (GET or POST) to base + path with an optional bearer token and an
 * optional body of content_type. On EX_OK the answer is in out (free out->data) and its status
 * in *status; EX_UNAVAILABLE (after printing why) if no answer came.
 */
int ctl_request(const char *method, const char *base, const char *path, const char *token,
                const char *content_type, const char *body, size_t body_len, struct ctl_buf *out,
                long *status);

/* ctl_get is ctl_request("GET", …) without a body. */
int ctl_get(const char *base, const char *path, const char *token, struct ctl_buf *out,
            long *status);

/*
 * ctl_get_json fetches a JSON object; a status other than 200 is reported with the problem's
 * detail (or the OAuth error_description) and gives EX_UNAVAILABLE. *out is NULL on failure.
 */
int ctl_get_json(const char *base, const char *path, const char *token, cJSON **out);

/*
 * ctl_post_json POSTs the JSON object body and parses the answer into *out (NULL if it is not
 * JSON). Any status is EX_OK; the caller decides, and may print ctl_problem(*out).
 */
int ctl_post_json(const char *base, const char *path, const char *token, const cJSON *body,
                  cJSON **out, long *status);

/* ctl_problem returns the detail or error_description of an error answer, or a fallback. */
const char *ctl_problem(const cJSON *answer);

/* ctl_token returns --token's value if given, else $CONSENTD_TOKEN, else NULL. */
const char *ctl_token(const char *flag);

#define CTL_ASSERTION_S 120 /* lifetime of an assertion consentctl makes, seconds */

/* ctl_sign signs the JSON object payload with k as typ, kid the key's id (free *out). */
int ctl_sign(const struct keys_pair *k, const char *typ, const cJSON *payload, char **out);

/*
 * ctl_refused turns an error answer into "<what>: refused (<status>): <reason>" on standard
 * error and an exit code: 77 for 401/403, 65 for another 4xx, 69 otherwise.
 */
int ctl_refused(const char *what, long status, const cJSON *answer);

/*
 * ctl_patient_token asks url's POST /oauth2/token for the person nhs's own token with a
 * JWT-bearer assertion (RFC 7523 §2.1) signed by their key k. *out is malloc'd (free it).
 */
int ctl_patient_token(const char *url, const char *nhs, const struct keys_pair *k, char **out);

/* Entry points of the command groups: argv[0] is the group name. */
int ctl_admin_main(int argc, char **argv);
int ctl_client_main(int argc, char **argv);
int ctl_patient_main(int argc, char **argv);
/* ctl_consent_main serves the group "consent" and the command "decide" (argv[0] says which). */
int ctl_consent_main(int argc, char **argv);
/* ctl_audit_main serves the group "audit" but for the online verify and inclusion. */
int ctl_audit_main(int argc, char **argv);

/* ctl_audit_online is true if a command's arguments name a --url (audit verify's online form). */
bool ctl_audit_online(int argc, char **argv);

/*
 * ctl_decode_hash reads s, a hash in standard base64 as proofs carry them, into out. Returns 0,
 * or -1 if s is not a string of exactly HASH_BYTES bytes in base64.
 */
int ctl_decode_hash(const cJSON *s, uint8_t out[static HASH_BYTES]);

#endif
