/*
 * http: the HTTP/1.1 server (libh2o evloop, one event loop per worker thread, each with its own
 * SO_REUSEPORT listener), the route table, and the helpers handlers answer with. Handlers parse
 * and answer; they decide nothing.
 *
 * Limits: a connection cap across all threads (h2o has none), a request body cap, one timeout
 * for headers, body, keep-alive idle and an answer the client does not read, and HTTP/2 off.
 * Every response to a request that reaches routing carries X-Request-Id and is one JSON line in
 * the request log (method, path without the query, status, time; never headers, bodies or query
 * strings). h2o answers a few
 * requests itself before routing (malformed HTTP: 400; a body over four times the cap: 413);
 * those carry neither.
 *
 * THREAD SAFETY: a struct http_call belongs to the worker thread that received it.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/config.h"
#include "consentd/err.h"
#include "consentd/policy.h"
#include "consentd/secret.h"
#include "consentd/sequencer.h"
#include "consentd/store.h"
#include "consentd/tls.h"
#include "consentd/token.h"

#define HTTP_REQUEST_ID_LEN 32 /* hex characters */
#define HTTP_MAX_QUERY      2048
#define HTTP_WHO_MAX        128 /* who a request-log line names: a client id, "patient", "admin" */
#define HTTP_TOKEN_HASH_LEN 16  /* hex characters of a token id's SHA-256 in the request log */
#define HTTP_PROBLEM_BASE   "https://consentd.example/problems/"

/* What every handler can reach. Immutable while serving; the token signer's keys rotate inside. */
struct jtis;

struct http_app {
    const struct config *cfg;
    struct store *store;
    struct sequencer *seq;
    const struct policy *policy;
    struct secret_check *admin;
    const struct ckpt_signer *signer;
    struct token_signer *tokens;
    struct jtis *jtis;               /* the used assertion jtis: the sequencer's checks only */
    SSL_CTX *tls;                    /* from tls_context_new; NULL: plain HTTP */
    char log_key[NOTE_VKEY_MAX + 1]; /* the checkpoint verifier key */
};

struct http_call;

/* A route handler: answers through the http_reply_* functions or http_submit. */
typedef void (*http_handler_fn)(struct http_call *c);

/* http_app_of returns the app of the call. */
const struct http_app *http_app_of(const struct http_call *c);

/* http_method_is is true if the request's method is m ("GET", "POST"). */
bool http_method_is(const struct http_call *c, const char *m);

/* http_path_param returns the text after the route's prefix (for "/v1/x/{id}" routes), or "". */
const char *http_path_param(const struct http_call *c, size_t *len);

/* http_strdup copies s into the request's memory (freed with the request). */
char *http_strdup(struct http_call *c, const char *s);

/* http_set_user and http_user keep one pointer for the handler across an http_submit. */
void http_set_user(struct http_call *c, void *user);
void *http_user(const struct http_call *c);

/* http_body returns the request body (len 0 when none). */
const char *http_body(const struct http_call *c, size_t *len);

/*
 * http_header returns the value of the first request header called name (lower case, e.g.
 * "content-type") and its length in *len, not NUL-terminated; NULL (and *len 0) if absent.
 */
const char *http_header(const struct http_call *c, const char *name, size_t *len);

/*
 * http_query parses the query string into out (n names, each with a value of at most
 * HTTP_MAX_QUERY bytes, NUL-terminated), refusing unknown and repeated names. names and out are
 * parallel arrays; a name not present leaves out[i] NULL. On failure the call is answered with
 * a 400 problem and false is returned. Values live in the request's memory.
 */
bool http_query(struct http_call *c, const char *const *names, size_t n, const char **out);

/*
 * http_query_check is http_query for a handler that answers in its own format (FHIR): it does
 * not answer. On failure it returns false with a sentence in why (cap bytes) and *bad the
 * unknown or repeated name (in the request's memory), or NULL when the query does not parse or
 * is too long. *bad is NULL on success.
 */
bool http_query_check(struct http_call *c, const char *const *names, size_t n, const char **out,
                      char *why, size_t cap, const char **bad);

/* http_query_u64 parses a decimal uint64 with no sign, spaces or leading zeros. */
bool http_parse_u64(const char *s, uint64_t *v);

/*
 * http_require_admin checks "Authorization: Bearer <admin token>". On failure it answers 401
 * with a WWW-Authenticate challenge and returns false.
 */
bool http_require_admin(struct http_call *c);

/*
 * http_require_token checks "Authorization: Bearer <access token>": a token consentd issued
 * (token_check), of a client that is still registered and not retired (patients' tokens have no
 * client), holding at least one of the scopes in any_scope (0: any token). On success it fills
 * *who and returns true; otherwise it answers 401 (no or bad token; WWW-Authenticate says why)
 * or 403 (the token lacks the scope) and returns false.
 */
bool http_require_token(struct http_call *c, unsigned any_scope, struct token_claims *who);

/*
 * http_require_admin_or_token accepts the admin token or, failing that, an access token as
 * http_require_token does. *is_admin says which; *who is zeroed for the admin.
 */
bool http_require_admin_or_token(struct http_call *c, unsigned any_scope, struct token_claims *who,
                                 bool *is_admin);

/*
 * http_form parses an application/x-www-form-urlencoded body like http_query parses a query
 * (unknown and repeated names refused). On failure it answers 400 with an OAuth error body
 * (invalid_request) when oauth is true, else a problem, and returns false.
 */
bool http_form(struct http_call *c, const char *const *names, size_t n, const char **out,
               bool oauth);

/* A copier for http_pairs_decode: returns a copy of s that lives as long as the caller needs. */
typedef char *(*http_dup_fn)(void *ctx, const char *s);

/*
 * http_pairs_decode is the decoding behind http_query and http_form, without a request, so it
 * can be tested and fuzzed alone: it parses the percent-encoded name=value pairs [start, end)
 * ('+' is a space) with liburiparser into out, refusing unknown and repeated names. Each value,
 * and the name at fault, is copied with dup(ctx, s), which must not fail. On failure it returns
 * false with a sentence in why (cap bytes) calling the pairs what ("query", "form") and *bad
 * the unknown or repeated name, or NULL when the pairs do not parse.
 */
bool http_pairs_decode(const char *start, const char *end, const char *what,
                       const char *const *names, size_t n, const char **out, char *why, size_t cap,
                       const char **bad, http_dup_fn dup, void *ctx);

/*
 * http_reply_oauth_error answers an RFC 6749 §5.2 error: {"error":…,"error_description":…}
 * with Cache-Control: no-store, and for 401 a WWW-Authenticate header.
 */
void http_reply_oauth_error(struct http_call *c, int status, const char *error, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));

/*
 * http_json_body parses the body strictly as a JSON object (jstrict). On failure it answers 400
 * (or 415 for a Content-Type other than application/json) and returns NULL. The caller frees
 * the result with cJSON_Delete.
 */
cJSON *http_json_body(struct http_call *c);

/*
 * http_log_who records, for this request's line in the request log, who was authenticated
 * (a client id, TOKEN_PATIENT_CID for a person — never their NHS number — or "admin") and the
 * id of the token concerned (jti; NULL for none), which the log shows only as the first 8 bytes
 * of its SHA-256 in hex. The line also carries the decision ("allow" below status 400, else
 * "deny") and the error code of a refusal, so every authorization decision leaves one line.
 */
void http_log_who(struct http_call *c, const char *who, const char *jti);

/*
 * http_reply sends status with the given content type and body (copied), with Cache-Control:
 * no-store unless the handler added a cache-control header first (http_add_header).
 */
void http_reply(struct http_call *c, int status, const char *content_type, const char *body,
                size_t len);

/* http_reply_json sends status with j printed (j is not freed). */
void http_reply_json(struct http_call *c, int status, const cJSON *j);

/*
 * http_reply_problem sends an RFC 9457 application/problem+json answer with type
 * HTTP_PROBLEM_BASE slug, a title, and detail (a sentence saying what to fix).
 */
void http_reply_problem(struct http_call *c, int status, const char *slug, const char *title,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* http_reply_unavailable sends 503 with Retry-After and the sentence why. */
void http_reply_unavailable(struct http_call *c, const char *why);

/*
 * http_add_header adds a response header (name in lower case, e.g. "location"); call it before
 * an http_reply_* function. name and value are copied.
 */
void http_add_header(struct http_call *c, const char *name, const char *value);

/*
 * http_submit hands a write to the sequencer: an entry of type with fields (JSON members
 * without braces; type "" for none), and optionally a check run in the sequencer's transaction
 * first (see struct seq_write). When the write completes, on this call's worker thread,
 * done(c, w) is called to answer, unless the client has gone, in which case it is not.
 * http_submit owns fields and check_ctx (both malloc'd or NULL) and frees them after done. If
 * the sequencer refuses at once, the call is answered 503.
 */
void http_submit(struct http_call *c, const char *type, char *fields, size_t fields_len,
                 enum err (*check)(struct store_txn *t, struct seq_write *w), void *check_ctx,
                 void (*done)(struct http_call *c, const struct seq_write *w));

/*
 * http_submit_settled is http_submit with settle, which runs exactly once on this call's worker
 * thread when the write is finished, before done and even when the client has gone (then done
 * is not called): for what must follow a durable write whether or not anyone hears the answer,
 * such as switching the token key. When the sequencer refuses at once, settle runs with w->rc
 * ERR_UNAVAIL before the 503. settle may read and change what check_ctx holds, but not free it.
 */
void http_submit_settled(struct http_call *c, const char *type, char *fields, size_t fields_len,
                         enum err (*check)(struct store_txn *t, struct seq_write *w),
                         void *check_ctx,
                         void (*settle)(const struct http_app *app, struct seq_write *w),
                         void (*done)(struct http_call *c, const struct seq_write *w));

/*
 * http_reply_write_failed answers a write the sequencer refused with the refusals every write
 * shares: ERR_UNAVAIL 503, ERR_TOOBIG 413 entry-too-large, ERR_INVAL 400 invalid-field, and
 * anything else 500. Handlers answer their own codes (a conflict, a missing object) first.
 */
void http_reply_write_failed(struct http_call *c, const struct seq_write *w);

/* Counters for /metrics. */
struct http_metrics {
    uint64_t responses[6]; /* by status class: [1] 1xx … [5] 5xx; [0] unused */
    uint64_t connections;  /* open now */
    uint64_t accepted;     /* since start */
    uint64_t refused;      /* closed at once because of the connection cap */
};

/* http_metrics_get copies the counters. */
void http_metrics_get(struct http_metrics *m);

/*
 * http_serve serves app (over TLS when app->tls is set) until SIGTERM or SIGINT, then stops
 * accepting, completes the writes in flight and returns. Returns ERR_IO if it cannot listen
 * (logged).
 */
enum err http_serve(struct http_app *app);

#endif
