/*
 * config: defaults < consentd.conf (inih) < CONSENTD_* environment < flags, through one table
 * of settings so that the three sources cannot disagree about names or ranges.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "consentd/config.h"

enum config_kind { CONFIG_STR, CONFIG_PATH, CONFIG_UINT, CONFIG_SIZE, CONFIG_HASH };

struct config_opt {
    const char *section;
    const char *name;
    const char *env;
    enum config_kind kind;
    size_t offset;
    size_t cap;             /* strings: buffer size */
    unsigned long long min; /* numbers: inclusive range */
    unsigned long long max;
};

#define CONFIG_OPT_STR(sec, nm, env, field, kind)                                                  \
    {                                                                                              \
        sec, nm, env, kind, offsetof(struct config, field), sizeof(((struct config *)0)->field),   \
            0, 0                                                                                   \
    }
#define CONFIG_OPT_NUM(sec, nm, env, field, kind, lo, hi)                                          \
    {                                                                                              \
        sec, nm, env, kind, offsetof(struct config, field), sizeof(((struct config *)0)->field),   \
            lo, hi                                                                                 \
    }

static const struct config_opt config_opts[] = {
    CONFIG_OPT_STR("service", "listen", "CONSENTD_LISTEN", listen, CONFIG_STR),
    CONFIG_OPT_STR("service", "policy", "CONSENTD_POLICY", policy, CONFIG_PATH),
    CONFIG_OPT_STR("service", "tls_cert", "CONSENTD_TLS_CERT", tls_cert, CONFIG_PATH),
    CONFIG_OPT_STR("service", "tls_key", "CONSENTD_TLS_KEY", tls_key, CONFIG_PATH),
    CONFIG_OPT_NUM("service", "threads", "CONSENTD_THREADS", threads, CONFIG_UINT, 0,
                   CONFIG_MAX_THREADS),
    CONFIG_OPT_NUM("service", "max_connections", "CONSENTD_MAX_CONNECTIONS", max_connections,
                   CONFIG_UINT, 1, 1000000),
    CONFIG_OPT_NUM("service", "max_body", "CONSENTD_MAX_BODY", max_body, CONFIG_SIZE, 1024,
                   1048576),
    CONFIG_OPT_NUM("service", "request_timeout_ms", "CONSENTD_REQUEST_TIMEOUT_MS", req_timeout_ms,
                   CONFIG_UINT, 100, 600000),
    CONFIG_OPT_STR("log", "origin", "CONSENTD_ORIGIN", origin, CONFIG_STR),
    CONFIG_OPT_NUM("log", "batch_max", "CONSENTD_BATCH_MAX", batch_max, CONFIG_UINT, 1, 65536),
    CONFIG_OPT_NUM("log", "queue_max", "CONSENTD_QUEUE_MAX", queue_max, CONFIG_UINT, 1, 1048576),
    CONFIG_OPT_NUM("log", "map_size_mb", "CONSENTD_MAP_SIZE_MB", map_size_mb, CONFIG_SIZE, 1,
                   1048576),
    CONFIG_OPT_STR("oauth", "issuer", "CONSENTD_ISSUER", issuer, CONFIG_STR),
    CONFIG_OPT_STR("admin", "token_hash", "CONSENTD_ADMIN_TOKEN_HASH", admin_token_hash,
                   CONFIG_HASH),
};

#define CONFIG_NOPTS (sizeof(config_opts) / sizeof(config_opts[0]))

void
config_defaults(struct config *c, const char *dir)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->data_dir, sizeof(c->data_dir), "%s", dir);
    snprintf(c->listen, sizeof(c->listen), "%s", CONFIG_DEFAULT_LISTEN);
    snprintf(c->origin, sizeof(c->origin), "%s", CONFIG_DEFAULT_ORIGIN);
    snprintf(c->issuer, sizeof(c->issuer), "%s", CONFIG_DEFAULT_ISSUER);
    snprintf(c->policy, sizeof(c->policy), "%s", CONFIG_DEFAULT_POLICY);
    c->threads = CONFIG_DEFAULT_THREADS;
    c->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
    c->max_body = CONFIG_DEFAULT_MAX_BODY;
    c->req_timeout_ms = CONFIG_DEFAULT_REQ_TIMEOUT_MS;
    c->batch_max = CONFIG_DEFAULT_BATCH_MAX;
    c->queue_max = CONFIG_DEFAULT_QUEUE_MAX;
    c->map_size_mb = CONFIG_DEFAULT_MAP_SIZE_MB;
}

static bool
config_has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static enum err
config_apply(struct config *c, const struct config_opt *o, const char *value, const char *where,
             char *why, size_t why_cap)
{
    char *p = (char *)c + o->offset;
    unsigned long long v;
    char *end;

    switch (o->kind) {
    case CONFIG_STR:
    case CONFIG_PATH:
    case CONFIG_HASH:
        if (strlen(value) >= o->cap || config_has_control(value)) {
            snprintf(why, why_cap, "%s: %s must be at most %zu printable characters", where,
                     o->name, o->cap - 1);
            return ERR_INVAL;
        }
        if (o->kind == CONFIG_HASH && value[0] != '\0' && !secret_hash_valid(value)) {
            snprintf(why, why_cap, "%s: %s must be an Argon2id hash ($argon2id$…)", where, o->name);
            return ERR_INVAL;
        }
        memcpy(p, value, strlen(value) + 1);
        return ERR_OK;
    case CONFIG_UINT:
    case CONFIG_SIZE:
        errno = 0;
        if (value[0] < '0' || value[0] > '9')
            goto bad;
        v = strtoull(value, &end, 10);
        if (errno != 0 || *end != '\0' || v < o->min || v > o->max)
            goto bad;
        if (o->kind == CONFIG_UINT)
            *(unsigned *)(void *)p = (unsigned)v;
        else
            *(uint64_t *)(void *)p = v;
        return ERR_OK;
    }
bad:
    snprintf(why, why_cap, "%s: %s must be a whole number from %llu to %llu", where, o->name,
             o->min, o->max);
    return ERR_INVAL;
}

struct config_ini_ctx {
    struct config *c;
    char *why;
    size_t why_cap;
    enum err rc;
};

static int
config_ini_handler(void *user, const char *section, const char *name, const char *value
#if INI_HANDLER_LINENO
                   ,
                   int lineno
#endif
)
{
    struct config_ini_ctx *ctx = user;
    char where[64];
    size_t i;

#if INI_HANDLER_LINENO
    snprintf(where, sizeof(where), "%s line %d", CONFIG_FILE_NAME, lineno);
#else
    snprintf(where, sizeof(where), "%s", CONFIG_FILE_NAME);
#endif
    for (i = 0; i < CONFIG_NOPTS; i++) {
        if (strcmp(config_opts[i].section, section) == 0 &&
            strcmp(config_opts[i].name, name) == 0) {
            ctx->rc = config_apply(ctx->c, &config_opts[i], value, where, ctx->why, ctx->why_cap);
            return ctx->rc == ERR_OK;
        }
    }
    snprintf(ctx->why, ctx->why_cap, "%s: unknown setting [%s] %s", where, section, name);
    ctx->rc = ERR_INVAL;
    return 0;
}

enum err
config_path(const struct config *c, const char *name, char out[static PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%s/%s", c->data_dir, name);

    return n < 0 || n >= PATH_MAX ? ERR_TOOBIG : ERR_OK;
}

enum err
config_load_file(struct config *c, char *why, size_t why_cap)
{
    struct config_ini_ctx ctx = {c, why, why_cap, ERR_OK};
    char path[PATH_MAX];
    FILE *f;
    int r;

    if (config_path(c, CONFIG_FILE_NAME, path) != ERR_OK) {
        snprintf(why, why_cap, "the data directory path is too long");
        return ERR_INVAL;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(why, why_cap, "cannot read %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    r = ini_parse_file(f, config_ini_handler, &ctx);
    fclose(f);
    if (ctx.rc != ERR_OK)
        return ctx.rc;
    if (r != 0) {
        snprintf(why, why_cap, "%s line %d: not a valid INI line", CONFIG_FILE_NAME, r);
        return ERR_INVAL;
    }
    return ERR_OK;
}

enum err
config_load_env(struct config *c, char *why, size_t why_cap)
{
    const char *v;
    enum err rc;
    size_t i;

    for (i = 0; i < CONFIG_NOPTS; i++) {
        v = getenv(config_opts[i].env);
        if (v == NULL)
            continue;
        rc = config_apply(c, &config_opts[i], v, config_opts[i].env, why, why_cap);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

enum err
config_set(struct config *c, const char *name, const char *value, char *why, size_t why_cap)
{
    char where[64];
    size_t i;

    for (i = 0; i < CONFIG_NOPTS; i++) {
        if (strcmp(config_opts[i].name, name) == 0) {
            snprintf(where, sizeof(where), "--%s", name);
            return config_apply(c, &config_opts[i], value, where, why, why_cap);
        }
    }
    snprintf(why, why_cap, "unknown setting %s", name);
    return ERR_INVAL;
}

enum err
config_write(const struct config *c)
{
    char path[PATH_MAX];
    enum err rc = ERR_IO;
    FILE *f = NULL;
    int fd;

    if (config_path(c, CONFIG_FILE_NAME, path) != ERR_OK)
        return ERR_TOOBIG;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd == -1)
        return errno == EEXIST ? ERR_EXISTS : ERR_IO;
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        goto out;
    }
    fprintf(f,
            "; consentd configuration, written by `consentd init`.\n"
            "; Environment variables CONSENTD_<KEY> override it; flags override both.\n"
            "; See docs/operations.md for every setting.\n\n"
            "[service]\nlisten = %s\npolicy = %s\n\n"
            "[log]\norigin = %s\n\n"
            "[oauth]\nissuer = %s\n\n"
            "[admin]\n; Argon2id hash of the admin bearer token; the token itself is never "
            "stored.\ntoken_hash = %s\n",
            c->listen, c->policy, c->origin, c->issuer, c->admin_token_hash);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        goto out;
    rc = ERR_OK;
out:
    if (f != NULL && fclose(f) != 0)
        rc = ERR_IO;
    if (rc != ERR_OK)
        unlink(path);
    return rc;
}

enum err
config_split_listen(const char *listen, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;
    unsigned long p;
    char *end;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':')
            return ERR_INVAL;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return ERR_INVAL;
        hlen = (size_t)(colon - listen);
    }
    if (hlen == 0 || hlen >= host_cap || colon[1] < '0' || colon[1] > '9')
        return ERR_INVAL;
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || p > 65535)
        return ERR_INVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return ERR_OK;
}
