/*
 * http: h2o setup, the route table, limits, request ids, the request log, and the bridge that
 * carries sequencer completions back to the worker thread that owns the request.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>
#include <openssl/ssl.h>
#include <uriparser/Uri.h>

#include "consentd/api.h"
#include "consentd/clients.h"
#include "consentd/ecache.h"
#include "consentd/hash.h"
#include "consentd/http.h"
#include "consentd/jstrict.h"
#include "consentd/log.h"
#include "consentd/xmalloc.h"

#define HTTP_MODULE       "service/http.c"
#define HTTP_BACKLOG      1024
#define HTTP_ACCEPT_BURST 32
#define HTTP_LOOP_WAIT_MS 200
#define HTTP_DRAIN_MS     10000
#define HTTP_ENTITY_SLACK 4 /* h2o buffers up to this many times max_body; we answer 413 */

/* Out of file descriptors: accept(2) again after a pause, and warn once a minute at most. */
#define HTTP_ACCEPT_PAUSE_MS 100
#define HTTP_ACCEPT_WARN_S   60

/* How often a worker looks for responses a client has stopped taking (http_sweep_writers). */
#define HTTP_SWEEP_MS 250

struct http_route {
    const char *method;
    const char *path;
    bool prefix; /* path ends in '/', the rest is a parameter */
    http_handler_fn fn;
};

static const struct http_route http_routes[] = {
    {"GET", "/log/checkpoint", false, api_log_checkpoint},
    {"GET", "/log/key", false, api_log_key},
    {"GET", "/log/proof/inclusion", false, api_log_inclusion},
    {"GET", "/log/proof/consistency", false, api_log_consistency},
    {"GET", "/log/entries", false, api_log_entries},
    {"GET", "/log/tile/", true, api_log_tile},
    {"POST", "/v1/orgs", false, api_org_create},
    {"GET", "/healthz", false, api_ops_healthz},
    {"GET", "/readyz", false, api_ops_readyz},
    {"GET", "/metrics", false, api_ops_metrics},
    /* routes: clients and OAuth */
    {"POST", "/v1/clients", false, api_client_create},
    {"POST", "/v1/clients/", true, api_client_retire},
    {"GET", "/.well-known/oauth-authorization-server", false, api_oauth_metadata},
    {"GET", "/.well-known/jwks.json", false, api_oauth_jwks},
    {"POST", "/oauth2/token", false, api_oauth_token},
    {"POST", "/oauth2/introspect", false, api_token_introspect},
    {"POST", "/oauth2/revoke", false, api_token_revoke},
    /* routes: patients */
    {"POST", "/v1/enrolments", false, api_patient_enrolment_create},
    {"POST", "/v1/patients", false, api_patient_enrol},
    {"POST", "/v1/patients/", true, api_patient_post},
    /* routes: pointers */
    {"POST", "/v1/pointers", false, api_pointer_create},
    {"POST", "/v1/pointers/", true, api_pointer_retire},
    {"GET", "/v1/patients/", true, api_patient_get},
    {"POST", "/fhir/DocumentReference", false, api_pointer_fhir_create},
    {"GET", "/fhir/DocumentReference", false, api_pointer_fhir_search},
    /* routes: consents */
    {"POST", "/v1/consents", false, api_consent_create},
    {"POST", "/v1/consents/", true, api_consent_revoke},
    {"POST", "/v1/delegations", false, api_consent_delegation_create},
    {"POST", "/v1/decisions", false, api_consent_decide},
    {"GET", "/fhir/Consent", false, api_fhir_consent_search},
    {"POST", "/fhir/Consent", false, api_fhir_consent_create},
    /* routes: token keys */
    {"POST", "/v1/keys/rotate", false, api_keys_rotate},
    /* routes: the patient web app */
    {"GET", "/app", false, api_app_redirect},
    {"GET", "/app/", false, api_app_file},
    {"GET", "/app/", true, api_app_file},
    {"GET", "/v1/policy", false, api_app_policy},
    {"GET", "/v1/orgs", false, api_org_list},
};

#define HTTP_NROUTES (sizeof(http_routes) / sizeof(http_routes[0]))

struct http_worker {
    struct http_app *app;
    pthread_t tid;
    unsigned index;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int fd;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    unsigned pending; /* writes handed to the sequencer and not yet completed */

    /* Accepting paused until then (monotonic clock, ms; 0: not paused), and the last warning. */
    int64_t accept_resume_ms;
    time_t accept_warned;

    /* The open connections (struct http_conn), and when they were last swept. */
    h2o_linklist_t conns;
    int64_t swept_ms;
};

/* A connection its worker watches for a response the client does not take. */
struct http_conn {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    int64_t writing_since; /* monotonic ms; 0: not writing when last looked */
    size_t written;        /* sock->bytes_written then: it grows as each answer is handed over */
    int unsent;            /* bytes the kernel held for the client then (SIOCOUTQ) */
};

struct http_pending;

struct http_call {
    h2o_req_t *req;
    struct http_worker *worker;
    const struct http_route *route;
    struct http_pending *pending;
    void *user;
    char id[HTTP_REQUEST_ID_LEN + 1];
    /* For the request log (http_log_who): never a token, a secret or an NHS number. */
    char who[HTTP_WHO_MAX + 1];
    char token_hash[HTTP_TOKEN_HASH_LEN + 1];
    const char *reason; /* the error code of a refusal (static), or NULL */
};

struct http_pending {
    struct seq_write w;
    h2o_multithread_message_t msg;
    struct http_worker *worker;
    struct http_call *call; /* NULL once the request is gone */
    void (*done)(struct http_call *c, const struct seq_write *w);
    void (*settle)(const struct http_app *app, struct seq_write *w);
};

struct http_handler {
    h2o_handler_t super;
    struct http_app *app;
};

static h2o_globalconf_t http_gconf;
static atomic_bool http_stopping;
static atomic_uint_fast64_t http_responses[6];
static atomic_uint_fast64_t http_conns, http_accepted, http_refused;
static unsigned http_max_conns;

static __thread struct http_worker *http_current_worker;
static __thread uint64_t http_id_prefix, http_id_counter;
static __thread struct http_call *http_replying; /* the call being answered, for the log */

/*
 * Bearer tokens this thread verified, by SHA-256 of the token, so that a client presenting
 * the same token again (a custodian introspecting, say) costs a hash instead of an Ed25519
 * verification. An entry is used only while its token has not expired; the rest of the checks
 * (the client not retired, the scope) run on every request. A token accepted once stays
 * acceptable until it expires: a retired token key keeps verifying until all its tokens have.
 */
#define HTTP_TOKEN_CACHE 64
static __thread struct http_token_seen {
    uint8_t hash[HASH_BYTES];
    struct token_claims claims;
    bool used;
} http_tokens_seen[HTTP_TOKEN_CACHE];
static __thread time_t http_log_sec;
static __thread char http_log_when[32];

/*
 * http_new_id writes a request id: a random per-thread prefix and a counter, unique within the
 * process's life without a system call per request.
 */
static void
http_new_id(char out[static HTTP_REQUEST_ID_LEN + 1])
{
    while (http_id_prefix == 0)
        hash_random((uint8_t *)&http_id_prefix, sizeof(http_id_prefix));
    snprintf(out, HTTP_REQUEST_ID_LEN + 1, "%016llx%016llx", (unsigned long long)http_id_prefix,
             (unsigned long long)++http_id_counter);
}

void
http_metrics_get(struct http_metrics *m)
{
    int i;

    for (i = 0; i < 6; i++)
        m->responses[i] = atomic_load(&http_responses[i]);
    m->connections = atomic_load(&http_conns);
    m->accepted = atomic_load(&http_accepted);
    m->refused = atomic_load(&http_refused);
}

const struct http_app *
http_app_of(const struct http_call *c)
{
    return c->worker->app;
}

bool
http_method_is(const struct http_call *c, const char *m)
{
    return h2o_memis(c->req->method.base, c->req->method.len, m, strlen(m));
}

const char *
http_path_param(const struct http_call *c, size_t *len)
{
    size_t plen = strlen(c->route->path);

    if (!c->route->prefix || c->req->path_normalized.len < plen) {
        *len = 0;
        return "";
    }
    *len = c->req->path_normalized.len - plen;
    return c->req->path_normalized.base + plen;
}

char *
http_strdup(struct http_call *c, const char *s)
{
    return h2o_strdup(&c->req->pool, s, SIZE_MAX).base;
}

void
http_set_user(struct http_call *c, void *user)
{
    c->user = user;
}

void *
http_user(const struct http_call *c)
{
    return c->user;
}

const char *
http_body(const struct http_call *c, size_t *len)
{
    *len = c->req->entity.base == NULL ? 0 : c->req->entity.len;
    return c->req->entity.base == NULL ? "" : c->req->entity.base;
}

const char *
http_header(const struct http_call *c, const char *name, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&c->req->headers, name, strlen(name), -1);

    *len = i == -1 ? 0 : c->req->headers.entries[i].value.len;
    return i == -1 ? NULL : c->req->headers.entries[i].value.base;
}

static const char *
http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 301:
        return "Moved Permanently";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

void
http_reply(struct http_call *c, int status, const char *content_type, const char *body, size_t len)
{
    h2o_req_t *req = c->req;

    req->res.status = status;
    req->res.reason = http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    /* Nothing is cached unless the handler said otherwise (tiles do). */
    if (h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("cache-control"), -1) == -1)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-store"));
    req->res.content_length = len;
    /* The request log's filter runs inside h2o_send_inline, on this thread: it reads c. */
    http_replying = c;
    h2o_send_inline(req, body, len);
    http_replying = NULL;
}

void
http_log_who(struct http_call *c, const char *who, const char *jti)
{
    uint8_t h[HASH_BYTES];
    size_t i;

    snprintf(c->who, sizeof(c->who), "%s", who);
    c->token_hash[0] = '\0';
    if (jti == NULL || jti[0] == '\0')
        return;
    hash_sha256((const uint8_t *)jti, strlen(jti), h);
    for (i = 0; i < HTTP_TOKEN_HASH_LEN / 2; i++)
        snprintf(c->token_hash + 2 * i, 3, "%02x", h[i]);
}

void
http_reply_json(struct http_call *c, int status, const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);

    if (s == NULL) {
        http_reply(c, 500, "text/plain", H2O_STRLIT("out of memory\n"));
        return;
    }
    http_reply(c, status, "application/json", s, strlen(s));
    free(s);
}

void
http_reply_problem(struct http_call *c, int status, const char *slug, const char *title,
                   const char *fmt, ...)
{
    char detail[1024], type[256];
    cJSON *j = cJSON_CreateObject();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    c->reason = slug;
    snprintf(type, sizeof(type), "%s%s", HTTP_PROBLEM_BASE, slug);
    cJSON_AddStringToObject(j, "type", type);
    cJSON_AddStringToObject(j, "title", title);
    cJSON_AddNumberToObject(j, "status", status);
    cJSON_AddStringToObject(j, "detail", detail);
    cJSON_AddStringToObject(j, "request_id", c->id);
    {
        char *s = cJSON_PrintUnformatted(j);
        http_reply(c, status, "application/problem+json", s, strlen(s));
        free(s);
    }
    cJSON_Delete(j);
}

void
http_reply_unavailable(struct http_call *c, const char *why)
{
    /* A full queue clears in a moment; a read-only log waits for an operator. */
    if (sequencer_writable(c->worker->app->seq, NULL, 0))
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("1"));
    http_reply_problem(c, 503, "unavailable", "Service unavailable", "%s", why);
}

void
http_add_header(struct http_call *c, const char *name, const char *value)
{
    h2o_req_t *req = c->req;
    h2o_iovec_t n = h2o_strdup(&req->pool, name, SIZE_MAX);
    h2o_iovec_t v = h2o_strdup(&req->pool, value, SIZE_MAX);

    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 0, NULL, v.base, v.len);
}

void
http_reply_write_failed(struct http_call *c, const struct seq_write *w)
{
    switch (w->rc) {
    case ERR_UNAVAIL:
        http_reply_unavailable(c, w->why);
        return;
    case ERR_TOOBIG:
        http_reply_problem(c, 413, "entry-too-large", "Entry too large", "%s", w->why);
        return;
    case ERR_INVAL:
        http_reply_problem(c, 400, "invalid-field", "Invalid request", "%s", w->why);
        return;
    case ERR_OK:
    case ERR_NOMEM:
    case ERR_NOTFOUND:
    case ERR_BADSIG:
    case ERR_CONFLICT:
    case ERR_STORAGE:
    case ERR_IO:
    case ERR_PERM:
    case ERR_AUTH:
    case ERR_EXISTS:
        break;
    }
    http_reply_problem(c, 500, "internal", "Internal error", "the write failed (%s)",
                       err_str(w->rc));
}

bool
http_parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    size_t i, n = strlen(s);

    *v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = x;
    return true;
}

/* http_pool_dup copies s into the memory of the request c (an http_pairs_decode copier). */
static char *
http_pool_dup(void *c, const char *s)
{
    return h2o_strdup(&((struct http_call *)c)->req->pool, s, SIZE_MAX).base;
}

bool
http_pairs_decode(const char *start, const char *end, const char *what, const char *const *names,
                  size_t n, const char **out, char *why, size_t cap, const char **bad,
                  http_dup_fn dup, void *ctx)
{
    UriQueryListA *list = NULL, *q;
    int count = 0;
    size_t i;
    bool ok = false;

    *bad = NULL;
    for (i = 0; i < n; i++)
        out[i] = NULL;
    if (start == end)
        return true;
    if (uriDissectQueryMallocExA(&list, &count, start, end, URI_TRUE, URI_BR_DONT_TOUCH) !=
        URI_SUCCESS) {
        snprintf(why, cap, "the %s is not valid percent-encoded name=value pairs", what);
        return false;
    }
    for (q = list; q != NULL; q = q->next) {
        for (i = 0; i < n; i++)
            if (strcmp(q->key, names[i]) == 0)
                break;
        if (i == n || out[i] != NULL) {
            snprintf(why, cap, "%s parameter \"%.64s\" %s", what, q->key,
                     i == n ? "is unknown" : "is given more than once");
            *bad = dup(ctx, q->key);
            goto out;
        }
        out[i] = dup(ctx, q->value != NULL ? q->value : "");
    }
    ok = true;
out:
    uriFreeQueryListA(list);
    return ok;
}

/*
 * http_pairs parses name=value pairs from [start, end) into out (see http_query). On failure it
 * answers 400 (an OAuth error when oauth is true) and returns false.
 */
static bool
http_pairs(struct http_call *c, const char *start, const char *end, const char *what,
           const char *const *names, size_t n, const char **out, bool oauth)
{
    char why[256];
    const char *bad;

    if (http_pairs_decode(start, end, what, names, n, out, why, sizeof(why), &bad, http_pool_dup,
                          c))
        return true;
    if (oauth)
        http_reply_oauth_error(c, 400, "invalid_request", "%s", why);
    else
        http_reply_problem(c, 400, "invalid-query", "Invalid query", "%s", why);
    return false;
}

/* http_query_text finds the query string: false (*start = *end = NULL) when there is none. */
static bool
http_query_text(struct http_call *c, const char **start, const char **end)
{
    h2o_req_t *req = c->req;

    *start = *end = NULL;
    if (req->query_at == SIZE_MAX || req->query_at + 1 >= req->path.len)
        return false;
    *start = req->path.base + req->query_at + 1;
    *end = req->path.base + req->path.len;
    return true;
}

bool
http_query(struct http_call *c, const char *const *names, size_t n, const char **out)
{
    const char *start, *end;
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = NULL;
    if (!http_query_text(c, &start, &end))
        return true;
    if ((size_t)(end - start) > HTTP_MAX_QUERY) {
        http_reply_problem(c, 400, "invalid-query", "Invalid query",
                           "the query string is longer than %d bytes", HTTP_MAX_QUERY);
        return false;
    }
    return http_pairs(c, start, end, "query", names, n, out, false);
}

bool
http_query_check(struct http_call *c, const char *const *names, size_t n, const char **out,
                 char *why, size_t cap, const char **bad)
{
    const char *start, *end;
    size_t i;

    *bad = NULL;
    for (i = 0; i < n; i++)
        out[i] = NULL;
    if (!http_query_text(c, &start, &end))
        return true;
    if ((size_t)(end - start) > HTTP_MAX_QUERY) {
        snprintf(why, cap, "the query string is longer than %d bytes", HTTP_MAX_QUERY);
        return false;
    }
    return http_pairs_decode(start, end, "query", names, n, out, why, cap, bad, http_pool_dup, c);
}

bool
http_form(struct http_call *c, const char *const *names, size_t n, const char **out, bool oauth)
{
    h2o_req_t *req = c->req;
    const h2o_iovec_t *ct;
    size_t len, i;
    const char *body = http_body(c, &len);
    ssize_t k;

    for (i = 0; i < n; i++)
        out[i] = NULL;
    k = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    ct = k == -1 ? NULL : &req->headers.entries[k].value;
    if (ct == NULL || ct->len < 33 ||
        !h2o_lcstris(ct->base, 33, H2O_STRLIT("application/x-www-form-urlencoded")) ||
        (ct->len > 33 && ct->base[33] != ';' && ct->base[33] != ' ')) {
        if (oauth)
            http_reply_oauth_error(c, 400, "invalid_request",
                                   "send the parameters as a form: Content-Type: "
                                   "application/x-www-form-urlencoded");
        else
            http_reply_problem(c, 415, "unsupported-media-type", "Unsupported media type",
                               "send the body as application/x-www-form-urlencoded");
        return false;
    }
    if (len > c->worker->app->cfg->max_body) {
        if (oauth)
            http_reply_oauth_error(c, 400, "invalid_request", "the body is larger than %llu bytes",
                                   (unsigned long long)c->worker->app->cfg->max_body);
        else
            http_reply_problem(c, 413, "body-too-large", "Body too large",
                               "the body is larger than %llu bytes",
                               (unsigned long long)c->worker->app->cfg->max_body);
        return false;
    }
    return http_pairs(c, body, body + len, "form", names, n, out, oauth);
}

void
http_reply_oauth_error(struct http_call *c, int status, const char *error, const char *fmt, ...)
{
    char desc[512];
    cJSON *j = cJSON_CreateObject();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(desc, sizeof(desc), fmt, ap);
    va_end(ap);
    c->reason = error;
    cJSON_AddStringToObject(j, "error", error);
    cJSON_AddStringToObject(j, "error_description", desc);
    if (status == 401)
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"consentd\""));
    http_reply_json(c, status, j);
    cJSON_Delete(j);
}

/* http_bearer finds "Authorization: Bearer <token>"; false if absent or another scheme. */
static bool
http_bearer(struct http_call *c, const char **token, size_t *len)
{
    h2o_req_t *req = c->req;
    const h2o_iovec_t *v;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);

    if (i == -1)
        return false;
    v = &req->headers.entries[i].value;
    if (v->len <= 7 || !h2o_lcstris(v->base, 7, H2O_STRLIT("bearer ")))
        return false;
    *token = v->base + 7;
    *len = v->len - 7;
    return true;
}

static void
http_unauthorized(struct http_call *c, const char *why)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof(hdr), "Bearer realm=\"consentd\", error=\"invalid_token\"");

    h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                   h2o_strdup(&c->req->pool, hdr, (size_t)n).base, (size_t)n);
    http_reply_problem(c, 401, "unauthorized", "Unauthorized", "%s", why);
}

/* http_token_check is token_check, remembering the tokens it accepted (http_tokens_seen). */
static bool
http_token_check(const struct http_app *app, const char *token, size_t len, int64_t now,
                 struct token_claims *who, const char **why)
{
    uint8_t h[HASH_BYTES];
    struct http_token_seen *e;

    hash_sha256((const uint8_t *)token, len, h);
    e = &http_tokens_seen[h[0] % HTTP_TOKEN_CACHE];
    if (e->used && hash_equal(e->hash, h) && e->claims.exp + TOKEN_LEEWAY > now) {
        *who = e->claims;
        *why = NULL;
        return true;
    }
    if (token_check(app->tokens, token, len, now, who, why) != ERR_OK)
        return false;
    memcpy(e->hash, h, sizeof(h));
    e->claims = *who;
    e->used = true;
    return true;
}

bool
http_require_token(struct http_call *c, unsigned any_scope, struct token_claims *who)
{
    const struct http_app *app = c->worker->app;
    struct clients_client cl;
    struct store_txn *t = NULL;
    const char *token, *why = NULL;
    char want[128];
    size_t len;
    enum err rc;

    memset(who, 0, sizeof(*who));
    if (!http_bearer(c, &token, &len)) {
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"consentd\""));
        http_reply_problem(c, 401, "unauthorized", "Unauthorized",
                           "this endpoint needs an access token from POST /oauth2/token: send "
                           "\"Authorization: Bearer <token>\"");
        return false;
    }
    if (!http_token_check(app, token, len, (int64_t)time(NULL), who, &why)) {
        http_unauthorized(c, why);
        return false;
    }
    http_log_who(c, who->client_id, who->jti);
    if ((who->scopes & TOKEN_SCOPE_PATIENT) == 0) {
        rc = store_begin(app->store, false, &t);
        if (rc == ERR_OK)
            rc = clients_get(t, who->client_id, &cl);
        store_abort(t);
        if (rc != ERR_OK || cl.retired) {
            http_unauthorized(c, rc == ERR_OK ? "the client this token was issued to is retired"
                                              : "the client this token was issued to is unknown");
            memset(who, 0, sizeof(*who));
            return false;
        }
    }
    if (any_scope != 0 && (who->scopes & any_scope) == 0) {
        token_scope_format(any_scope, want, sizeof(want));
        http_reply_problem(c, 403, "insufficient-scope", "Forbidden",
                           "this endpoint needs a token with scope %s (one of them)", want);
        memset(who, 0, sizeof(*who));
        return false;
    }
    return true;
}

bool
http_require_admin_or_token(struct http_call *c, unsigned any_scope, struct token_claims *who,
                            bool *is_admin)
{
    const char *token;
    size_t len;

    *is_admin = false;
    memset(who, 0, sizeof(*who));
    if (http_bearer(c, &token, &len) &&
        secret_check_verify(c->worker->app->admin, token, len) == ERR_OK) {
        *is_admin = true;
        http_log_who(c, "admin", NULL);
        return true;
    }
    return http_require_token(c, any_scope, who);
}

bool
http_require_admin(struct http_call *c)
{
    const char *token;
    size_t len;

    if (!http_bearer(c, &token, &len)) {
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"consentd\""));
        http_reply_problem(c, 401, "unauthorized", "Unauthorized",
                           "this endpoint needs the admin token: send \"Authorization: Bearer "
                           "<admin token>\"");
        return false;
    }
    if (secret_check_verify(c->worker->app->admin, token, len) == ERR_OK) {
        http_log_who(c, "admin", NULL);
        return true;
    }
    http_unauthorized(c, "the bearer token is not the admin token; use the one `consentd init` "
                         "printed");
    return false;
}

cJSON *
http_json_body(struct http_call *c)
{
    h2o_req_t *req = c->req;
    const char *why = NULL;
    const h2o_iovec_t *ct;
    cJSON *j = NULL;
    ssize_t i;
    size_t len;
    const char *body = http_body(c, &len);

    i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    ct = i == -1 ? NULL : &req->headers.entries[i].value;
    if (ct == NULL || ct->len < 16 || !h2o_lcstris(ct->base, 16, H2O_STRLIT("application/json")) ||
        (ct->len > 16 && ct->base[16] != ';' && ct->base[16] != ' ')) {
        http_reply_problem(c, 415, "unsupported-media-type", "Unsupported media type",
                           "send the body as JSON with \"Content-Type: application/json\"");
        return NULL;
    }
    if (len > c->worker->app->cfg->max_body) {
        http_reply_problem(c, 413, "body-too-large", "Body too large",
                           "the body is %zu bytes; the limit is %llu", len,
                           (unsigned long long)c->worker->app->cfg->max_body);
        return NULL;
    }
    if (len == 0) {
        http_reply_problem(c, 400, "invalid-json", "Invalid JSON",
                           "the body is empty; send a JSON object");
        return NULL;
    }
    if (jstrict_parse(body, len, &j, &why) != ERR_OK) {
        http_reply_problem(c, 400, "invalid-json", "Invalid JSON",
                           "the body is not acceptable JSON: %s",
                           why != NULL ? why : "it could not be parsed");
        return NULL;
    }
    return j;
}

/* The sequencer thread hands a finished write to the worker that owns its request. */
static void
http_write_done(struct seq_write *w)
{
    struct http_pending *p = (struct http_pending *)w;

    h2o_multithread_send_message(&p->worker->receiver, &p->msg);
}

static void
http_on_completions(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct http_worker *worker = H2O_STRUCT_FROM_MEMBER(struct http_worker, receiver, receiver);

    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        struct http_pending *p = H2O_STRUCT_FROM_MEMBER(struct http_pending, msg, m);

        h2o_linklist_unlink(&m->link);
        worker->pending--;
        if (p->settle != NULL)
            p->settle(worker->app, &p->w);
        if (p->call != NULL) {
            p->call->pending = NULL;
            p->done(p->call, &p->w);
        }
        free(p->w.fields);
        free(p->w.check_ctx);
        free(p);
    }
}

void
http_submit(struct http_call *c, const char *type, char *fields, size_t fields_len,
            enum err (*check)(struct store_txn *t, struct seq_write *w), void *check_ctx,
            void (*done)(struct http_call *c, const struct seq_write *w))
{
    http_submit_settled(c, type, fields, fields_len, check, check_ctx, NULL, done);
}

void
http_submit_settled(struct http_call *c, const char *type, char *fields, size_t fields_len,
                    enum err (*check)(struct store_txn *t, struct seq_write *w), void *check_ctx,
                    void (*settle)(const struct http_app *app, struct seq_write *w),
                    void (*done)(struct http_call *c, const struct seq_write *w))
{
    struct http_pending *p = xcalloc(1, sizeof(*p));

    snprintf(p->w.type, sizeof(p->w.type), "%s", type);
    p->w.fields = fields;
    p->w.fields_len = fields_len;
    p->w.check = check;
    p->w.check_ctx = check_ctx;
    p->w.done = http_write_done;
    p->worker = c->worker;
    p->call = c;
    p->done = done;
    p->settle = settle;
    if (sequencer_submit(c->worker->app->seq, &p->w) != ERR_OK) {
        p->w.rc = ERR_UNAVAIL;
        if (settle != NULL)
            settle(c->worker->app, &p->w);
        http_reply_unavailable(c, p->w.why);
        free(p->w.fields);
        free(p->w.check_ctx);
        free(p);
        return;
    }
    c->pending = p;
    c->worker->pending++;
}

static void
http_call_dispose(void *obj)
{
    struct http_call *c = obj;

    if (c->pending != NULL)
        c->pending->call = NULL;
}

static int
http_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct http_handler *h = (struct http_handler *)self;
    struct http_call *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), http_call_dispose);
    const struct http_route *r, *path_match = NULL;
    size_t i, plen;

    memset(c, 0, sizeof(*c));
    c->req = req;
    c->worker = http_current_worker;
    (void)h;
    http_new_id(c->id);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, c->id,
                          HTTP_REQUEST_ID_LEN);

    for (i = 0; i < HTTP_NROUTES; i++) {
        r = &http_routes[i];
        plen = strlen(r->path);
        if (r->prefix
                ? req->path_normalized.len > plen &&
                      memcmp(req->path_normalized.base, r->path, plen) == 0
                : h2o_memis(req->path_normalized.base, req->path_normalized.len, r->path, plen)) {
            path_match = r;
            if (http_method_is(c, r->method)) {
                c->route = r;
                r->fn(c);
                return 0;
            }
        }
    }
    c->route = &http_routes[0];
    if (path_match != NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, path_match->method,
                       strlen(path_match->method));
        http_reply_problem(c, 405, "method-not-allowed", "Method not allowed",
                           "%s is served with %s only", path_match->path, path_match->method);
        return 0;
    }
    http_reply_problem(c, 404, "not-found", "Not found",
                       "there is no such endpoint; see docs/openapi.yaml for the API");
    return 0;
}

/*
 * http_redact_path replaces what follows a prefix route's path (an NHS number, a client or
 * pointer id) with "{id}" up to the next '/', and a path that is no route at all with
 * "{unrouted}" (it may be a mistyped one holding an NHS number), so the request log never names
 * a person.
 */
static void
http_redact_path(char path[static 128])
{
    char rest[128];
    const char *slash;
    size_t i, plen;

    for (i = 0; i < HTTP_NROUTES; i++) {
        plen = strlen(http_routes[i].path);
        if (!http_routes[i].prefix && strcmp(path, http_routes[i].path) == 0)
            return;
        if (!http_routes[i].prefix || strncmp(path, http_routes[i].path, plen) != 0 ||
            path[plen] == '\0')
            continue;
        slash = strchr(path + plen, '/');
        snprintf(rest, sizeof(rest), "%s", slash != NULL ? slash : "");
        snprintf(path + plen, 128 - plen, "{id}%s", rest);
        return;
    }
    snprintf(path, 128, "{unrouted}");
}

/* http_log_safe copies len bytes of s into out (cap bytes), printable ASCII only, for JSON. */
static void
http_log_safe(const char *s, size_t len, char *out, size_t cap)
{
    size_t k;

    if (len > cap - 1)
        len = cap - 1;
    for (k = 0; k < len; k++)
        out[k] = (s[k] >= 0x21 && s[k] <= 0x7e && s[k] != '"' && s[k] != '\\') ? s[k] : '?';
    out[len] = '\0';
}

/* The request log: one JSON line per response, including h2o's own error responses. */
static void
http_on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const struct http_call *c =
        http_replying != NULL && http_replying->req == req ? http_replying : NULL;
    char line[768], id[HTTP_REQUEST_ID_LEN + 1], when[32], who[HTTP_WHO_MAX + 1], reason[64];
    ssize_t i = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1);
    struct timespec ts;
    struct tm tm;
    int n, cls;

    (void)self;
    if (i != -1 && req->res.headers.entries[i].value.len == HTTP_REQUEST_ID_LEN) {
        memcpy(id, req->res.headers.entries[i].value.base, HTTP_REQUEST_ID_LEN);
        id[HTTP_REQUEST_ID_LEN] = '\0';
    } else {
        http_new_id(id);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                              h2o_strdup(&req->pool, id, HTTP_REQUEST_ID_LEN).base,
                              HTTP_REQUEST_ID_LEN);
    }
    cls = req->res.status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&http_responses[cls], 1);
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != http_log_sec) {
        /* gmtime_r takes glibc's time-zone lock: format once per second per thread. */
        gmtime_r(&ts.tv_sec, &tm);
        strftime(http_log_when, sizeof(http_log_when), "%Y-%m-%dT%H:%M:%S", &tm);
        http_log_sec = ts.tv_sec;
    }
    memcpy(when, http_log_when, sizeof(when));
    /* The path is logged without its query (which can name people), and only if printable. */
    {
        char path[128], method[17];

        http_log_safe(req->path_normalized.base, req->path_normalized.len, path, sizeof(path));
        http_log_safe(req->method.base, req->method.len, method, sizeof(method));
        http_redact_path(path);
        /* Who and why: escaped like the path, since a client id is chosen by an admin. */
        http_log_safe(c != NULL ? c->who : "", c != NULL ? strlen(c->who) : 0, who, sizeof(who));
        http_log_safe(c != NULL && c->reason != NULL ? c->reason : "",
                      c != NULL && c->reason != NULL ? strlen(c->reason) : 0, reason,
                      sizeof(reason));
        n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s.%03ldZ\",\"request_id\":\"%s\",\"method\":\"%s\","
                     "\"path\":\"%s\",\"status\":%d,\"decision\":\"%s\",\"who\":\"%s\","
                     "\"token\":\"%s\",\"reason\":\"%s\"}",
                     when, ts.tv_nsec / 1000000, id, method, path, req->res.status,
                     req->res.status < 400 ? "allow" : "deny", who, c != NULL ? c->token_hash : "",
                     reason);
    }
    if (n > 0)
        log_line(line, n < (int)sizeof(line) ? n : (int)sizeof(line) - 1);
    h2o_setup_next_ostream(req, slot);
}

static void
http_on_conn_close(void *data)
{
    struct http_conn *hc = data;

    atomic_fetch_sub(&http_conns, 1);
    if (hc != NULL) {
        h2o_linklist_unlink(&hc->link);
        free(hc);
    }
}

/* http_now_ms reads the monotonic clock in milliseconds. */
static int64_t
http_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * http_accept_pause stops reading the listener for HTTP_ACCEPT_PAUSE_MS after accept(2) failed
 * for want of a file descriptor or memory. The listener stays readable while the connection
 * waits in the backlog, and epoll is level-triggered, so without the pause the thread would
 * spin on accept(2) at full CPU until a descriptor is freed; http_worker_run resumes it.
 */
static void
http_accept_pause(struct http_worker *w)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (w->accept_warned == 0 || ts.tv_sec - w->accept_warned >= HTTP_ACCEPT_WARN_S) {
        log_warn("http: cannot accept a connection; pausing accepts for %d ms",
                 HTTP_ACCEPT_PAUSE_MS);
        w->accept_warned = ts.tv_sec;
    }
    h2o_socket_read_stop(w->listener);
    w->accept_resume_ms = http_now_ms() + HTTP_ACCEPT_PAUSE_MS;
}

static void
http_on_accept(h2o_socket_t *listener, const char *err)
{
    struct http_worker *w = listener->data;
    h2o_socket_t *sock;
    struct http_conn *hc;
    int i;

    if (err != NULL)
        return;
    for (i = 0; i < HTTP_ACCEPT_BURST; i++) {
        sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                http_accept_pause(w);
            break;
        }
        if (atomic_fetch_add(&http_conns, 1) >= http_max_conns) {
            atomic_fetch_sub(&http_conns, 1);
            atomic_fetch_add(&http_refused, 1);
            h2o_socket_close(sock);
            continue;
        }
        atomic_fetch_add(&http_accepted, 1);
        hc = xcalloc(1, sizeof(*hc));
        hc->sock = sock;
        h2o_linklist_insert(&w->conns, &hc->link);
        sock->on_close.cb = http_on_conn_close;
        sock->on_close.data = hc;
        h2o_accept(&w->accept_ctx, sock);
    }
}

/*
 * http_listen_fd makes a listening socket for cfg->listen. With shared, the socket sets
 * SO_REUSEPORT so that every worker thread can have its own; without it (a probe, bound and
 * closed before the real ones) the bind fails when anything else listens on the port, even
 * another process with SO_REUSEPORT, which would otherwise silently share our connections.
 */
static int
http_listen_fd(const struct config *cfg, bool shared)
{
    struct addrinfo hints, *res = NULL;
    char host[256], port_s[8];
    uint16_t port;
    int fd = -1, on = 1, r;

    if (config_split_listen(cfg->listen, host, sizeof(host), &port) != ERR_OK) {
        log_warnx("http: listen address \"%s\" must be host:port", cfg->listen);
        return -1;
    }
    snprintf(port_s, sizeof(port_s), "%u", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    r = getaddrinfo(host, port_s, &hints, &res);
    if (r != 0) {
        log_warnx("http: cannot resolve %s: %s", host, gai_strerror(r));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || (shared && listen(fd, HTTP_BACKLOG) != 0)) {
        log_warn("http: cannot listen on %s%s", cfg->listen,
                 errno == EADDRINUSE ? " (another program listens there)" : "");
        if (fd != -1)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/*
 * http_sweep_writers shuts down each connection whose answer has waited the request timeout
 * with the client taking none of it. h2o 2.2.5 has no send timeout, so a client that stops
 * reading (a slow read) would hold its connection, and a place under the cap, for ever.
 * shutdown(2) makes the pending write fail, and h2o then closes the connection itself. A client
 * that reads, however slowly, is not cut off: a new answer, or any change in what the kernel
 * still holds for the client, starts the clock again.
 */
static void
http_sweep_writers(struct http_worker *w, int64_t now)
{
    int64_t timeout = (int64_t)w->app->cfg->req_timeout_ms;
    struct http_conn *hc;
    h2o_linklist_t *l;
    int fd, unsent;
    bool writing;

    for (l = w->conns.next; l != &w->conns; l = l->next) {
        hc = H2O_STRUCT_FROM_MEMBER(struct http_conn, link, l);
        fd = h2o_socket_get_fd(hc->sock);
        writing = h2o_socket_is_writing(hc->sock);
        if (!writing || ioctl(fd, SIOCOUTQ, &unsent) != 0)
            unsent = 0;
        if (!writing || hc->sock->bytes_written != hc->written || unsent != hc->unsent) {
            hc->written = hc->sock->bytes_written;
            hc->unsent = unsent;
            hc->writing_since = writing ? now : 0;
        } else if (now - hc->writing_since >= timeout) {
            shutdown(fd, SHUT_RDWR);
        }
    }
}

static void *
http_worker_run(void *arg)
{
    struct http_worker *w = arg;
    struct timespec start, now;
    bool draining = false;
    char name[16];

    /* Named for top -H, perf and make bench's account of CPU per thread. */
    snprintf(name, sizeof(name), "consentd-http%u", w->index);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    http_current_worker = w;
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &http_gconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = http_gconf.hosts;
    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->receiver, http_on_completions);
    w->listener = h2o_evloop_socket_create(w->loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_linklist_init_anchor(&w->conns);
    h2o_socket_read_start(w->listener, http_on_accept);

    for (;;) {
        h2o_evloop_run(w->loop, HTTP_LOOP_WAIT_MS);
        if (http_now_ms() - w->swept_ms >= HTTP_SWEEP_MS) {
            w->swept_ms = http_now_ms();
            http_sweep_writers(w, w->swept_ms);
        }
        if (w->accept_resume_ms != 0 && !draining && http_now_ms() >= w->accept_resume_ms) {
            w->accept_resume_ms = 0;
            h2o_socket_read_start(w->listener, http_on_accept);
        }
        if (!draining && atomic_load(&http_stopping)) {
            draining = true;
            h2o_socket_read_stop(w->listener);
            h2o_socket_close(w->listener);
            w->listener = NULL;
            clock_gettime(CLOCK_MONOTONIC, &start);
        }
        if (draining) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (w->pending == 0 ||
                (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
                    HTTP_DRAIN_MS)
                break;
        }
    }
    /*
     * Release what this thread holds, so leak checkers see only real leaks, but only what can
     * be: h2o asserts that no connection is open when a context is disposed, and a write still
     * in flight after the drain timeout will be answered into this thread's queue.
     */
    store_thread_end(w->app->store);
    token_thread_end();
    ecache_thread_end();
    /* Connections still open after the drain are left to the exit; forget their records. */
    while (!h2o_linklist_is_empty(&w->conns)) {
        struct http_conn *hc = H2O_STRUCT_FROM_MEMBER(struct http_conn, link, w->conns.next);

        hc->sock->on_close.data = NULL;
        h2o_linklist_unlink(&hc->link);
        free(hc);
    }
    if (w->pending > 0 || atomic_load(&http_conns) > 0)
        return NULL;
    h2o_multithread_unregister_receiver(w->queue, &w->receiver);
    h2o_multithread_destroy_queue(w->queue);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_run(w->loop, 0);
    h2o_evloop_destroy(w->loop);
    return NULL;
}

enum err
http_serve(struct http_app *app)
{
    const struct config *cfg = app->cfg;
    struct http_worker *workers = NULL;
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    struct http_handler *h;
    h2o_filter_t *f;
    SSL_CTX *ssl = NULL;
    sigset_t set;
    unsigned i, n = cfg->threads;
    long cores;
    int sig, fd;
    enum err rc = ERR_IO;

    if (n == 0) {
        cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores < 1 ? 1 : cores > CONFIG_MAX_THREADS ? CONFIG_MAX_THREADS : (unsigned)cores;
    }
    http_max_conns = cfg->max_connections;
    ssl = app->tls;

    h2o_config_init(&http_gconf);
    http_gconf.server_name = h2o_iovec_init(H2O_STRLIT("consentd"));
    http_gconf.max_request_entity_size = cfg->max_body * HTTP_ENTITY_SLACK;
    http_gconf.http1.req_timeout = cfg->req_timeout_ms;
    http_gconf.http1.upgrade_to_http2 = 0;
    http_gconf.handshake_timeout = cfg->req_timeout_ms;
    host = h2o_config_register_host(&http_gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    h = (struct http_handler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = http_on_req;
    h->app = app;
    f = h2o_create_filter(path, sizeof(*f));
    f->on_setup_ostream = http_on_setup_ostream;

    /* Only the main thread takes the stop signals. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    workers = xcalloc(n, sizeof(*workers));
    fd = http_listen_fd(cfg, false);
    if (fd == -1)
        goto out;
    close(fd);
    for (i = 0; i < n; i++) {
        workers[i].app = app;
        workers[i].index = i;
        workers[i].accept_ctx.ssl_ctx = ssl;
        workers[i].fd = http_listen_fd(cfg, true);
        if (workers[i].fd == -1)
            goto out;
    }
    for (i = 0; i < n; i++)
        h2o_multithread_create_thread(&workers[i].tid, NULL, http_worker_run, &workers[i]);
    log_info("consentd: serving %s on %s with %u threads, at most %u connections",
             ssl != NULL ? "HTTPS" : "HTTP", cfg->listen, n, cfg->max_connections);

    sigwait(&set, &sig);
    log_info("consentd: %s received; completing writes in flight and stopping",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&http_stopping, true);
    for (i = 0; i < n; i++)
        pthread_join(workers[i].tid, NULL);
    if (atomic_load(&http_conns) == 0)
        h2o_config_dispose(&http_gconf);
    rc = ERR_OK;
out:
    if (rc != ERR_OK)
        for (i = 0; i < n; i++)
            if (workers[i].fd > 0)
                close(workers[i].fd);
    free(workers);
    return rc;
}
