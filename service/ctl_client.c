/*
 * ctl_client: consentctl client …: a client system's side of OAuth. `assertion` makes an RFC
 * 7523 client assertion signed with the client's key; `token` makes one and exchanges it at the
 * token endpoint (client_credentials, private_key_jwt) for an access token.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "consentd/b64.h"
#include "consentd/config.h"
#include "consentd/ctl.h"
#include "consentd/hash.h"
#include "consentd/jstrict.h"
#include "consentd/jws.h"
#include "consentd/keys.h"

#define CTL_CLIENT_LIFETIME 120 /* seconds an assertion lives */
#define CTL_CLIENT_JTI      16  /* random bytes of a jti */
#define CTL_CLIENT_CA_TYPE  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define CTL_CLIENT_META     "/.well-known/oauth-authorization-server"

static const char usage_client[] =
    "usage: consentctl client <command> [options]\n"
    "\n"
    "commands:\n"
    "  assertion   print a fresh client assertion (RFC 7523) signed with the client's key\n"
    "  token       get an access token at the token endpoint and print it\n"
    "\n"
    "Exit codes: 0 done, 64 usage, 65 refused as invalid, 66 missing key file, 69 service\n"
    "unreachable or failing, 77 the client was refused.\n";

static const char usage_assertion[] =
    "usage: consentctl client assertion --id CLIENT_ID --key KEYFILE --aud URL\n"
    "\n"
    "Prints a client assertion: a JWS (alg EdDSA) signed with the key in KEYFILE (made by\n"
    "`consentctl keygen`) whose claims are iss = sub = CLIENT_ID, aud = URL (the token\n"
    "endpoint, or the issuer), iat = now, exp = now + 120 s and a random jti. It is single\n"
    "use: the token endpoint refuses it a second time.\n";

static const char usage_token[] =
    "usage: consentctl client token --id CLIENT_ID --key KEYFILE [--scope SCOPES]\n"
    "                               [--url URL] [--json]\n"
    "\n"
    "Reads the service's OAuth metadata at URL (default $CONSENTD_URL, else\n" CONFIG_DEFAULT_ISSUER
    "), signs a client assertion for its token endpoint and asks for a\n"
    "token with grant_type=client_credentials. SCOPES is space-separated (enrol, pointers,\n"
    "audit, introspect); without it the token has every scope the client's roles allow.\n"
    "Prints the access token, or with --json the whole answer.\n";

/* ctl_client_key loads the client's key file, or explains why not. */
static int
ctl_client_key(const char *path, struct keys_pair **k)
{
    enum err rc = keys_load(path, k);

    if (rc == ERR_OK)
        return EX_OK;
    return ctl_fail(rc == ERR_IO ? EX_NOINPUT : EX_DATAERR, "cannot use the key file %s: %s", path,
                    rc == ERR_PERM    ? "it must be a regular file with mode 0600"
                    : rc == ERR_INVAL ? "it must hold a 32-byte key made by consentctl keygen"
                                      : "it cannot be read");
}

/* ctl_client_assertion makes a signed assertion for aud; *out is malloc'd. */
static int
ctl_client_assertion(const struct keys_pair *k, const char *id, const char *aud, char **out)
{
    uint8_t raw[CTL_CLIENT_JTI];
    char jti[2 * CTL_CLIENT_JTI + 1];
    time_t now = time(NULL);
    cJSON *p = cJSON_CreateObject();
    char *payload;
    enum err rc;

    *out = NULL;
    hash_random(raw, sizeof(raw));
    if (b64_encode(raw, sizeof(raw), B64_URL, jti, sizeof(jti)) != ERR_OK) {
        cJSON_Delete(p);
        return EX_SOFTWARE;
    }
    cJSON_AddStringToObject(p, "iss", id);
    cJSON_AddStringToObject(p, "sub", id);
    cJSON_AddStringToObject(p, "aud", aud);
    cJSON_AddNumberToObject(p, "iat", (double)now);
    cJSON_AddNumberToObject(p, "exp", (double)(now + CTL_CLIENT_LIFETIME));
    cJSON_AddStringToObject(p, "jti", jti);
    payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (payload == NULL)
        return ctl_fail(EX_SOFTWARE, "out of memory");
    rc = jws_sign(k, NULL, NULL, payload, strlen(payload), out);
    free(payload);
    if (rc != ERR_OK)
        return ctl_fail(EX_SOFTWARE, "cannot sign the assertion (%s)", err_str(rc));
    return EX_OK;
}

static int
cmd_assertion(int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"aud", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL, *keyfile = NULL, *aud = NULL;
    struct keys_pair *k = NULL;
    char *jws = NULL;
    int ch, code;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            id = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'a':
            aud = optarg;
            break;
        case 'h':
            fputs(usage_assertion, stdout);
            return EX_OK;
        default:
            fputs(usage_assertion, stderr);
            return EX_USAGE;
        }
    }
    if (id == NULL || keyfile == NULL || aud == NULL || optind != argc) {
        fputs(usage_assertion, stderr);
        return EX_USAGE;
    }
    code = ctl_client_key(keyfile, &k);
    if (code != EX_OK)
        return code;
    code = ctl_client_assertion(k, id, aud, &jws);
    keys_free(k);
    if (code == EX_OK)
        printf("%s\n", jws);
    free(jws);
    return code;
}

/* ctl_client_form appends "&name=value" (percent-encoded) to the form in *buf. */
static int
ctl_client_form(CURL *curl, char **buf, const char *name, const char *value)
{
    char *enc = curl_easy_escape(curl, value, 0);
    size_t old = *buf == NULL ? 0 : strlen(*buf), add;
    char *p;

    if (enc == NULL)
        return -1;
    add = strlen(name) + strlen(enc) + 2;
    p = realloc(*buf, old + add + 1);
    if (p == NULL) {
        curl_free(enc);
        return -1;
    }
    snprintf(p + old, add + 1, "%s%s=%s", old == 0 ? "" : "&", name, enc);
    *buf = p;
    curl_free(enc);
    return 0;
}

/* ctl_client_endpoint reads the token endpoint from the service's metadata. */
static int
ctl_client_endpoint(const char *url, char **endpoint)
{
    const cJSON *te;
    cJSON *meta = NULL;
    int code;

    *endpoint = NULL;
    code = ctl_get_json(url, CTL_CLIENT_META, NULL, &meta);
    if (code != EX_OK)
        return code;
    te = cJSON_GetObjectItemCaseSensitive(meta, "token_endpoint");
    if (!cJSON_IsString(te) || strncmp(te->valuestring, "http", 4) != 0) {
        cJSON_Delete(meta);
        return ctl_fail(EX_DATAERR, "the metadata at %s%s has no token_endpoint URL", url,
                        CTL_CLIENT_META);
    }
    *endpoint = strdup(te->valuestring);
    cJSON_Delete(meta);
    return *endpoint == NULL ? ctl_fail(EX_SOFTWARE, "out of memory") : EX_OK;
}

static int
cmd_token(int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"scope", required_argument, NULL, 's'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL, *keyfile = NULL, *scope = NULL, *url = getenv("CONSENTD_URL");
    char *endpoint = NULL, *jws = NULL, *form = NULL, *text;
    struct keys_pair *k = NULL;
    struct ctl_buf b = {0};
    const cJSON *at;
    cJSON *answer = NULL;
    const char *why = NULL;
    bool json = false;
    long status = 0;
    CURL *curl = NULL;
    int ch, code;

    if (url == NULL)
        url = CONFIG_DEFAULT_ISSUER;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            id = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 's':
            scope = optarg;
            break;
        case 'u':
            url = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(usage_token, stdout);
            return EX_OK;
        default:
            fputs(usage_token, stderr);
            return EX_USAGE;
        }
    }
    if (id == NULL || keyfile == NULL || optind != argc) {
        fputs(usage_token, stderr);
        return EX_USAGE;
    }
    code = ctl_client_key(keyfile, &k);
    if (code != EX_OK)
        return code;
    code = ctl_client_endpoint(url, &endpoint);
    if (code != EX_OK)
        goto out;
    code = ctl_client_assertion(k, id, endpoint, &jws);
    if (code != EX_OK)
        goto out;
    curl = curl_easy_init();
    if (curl == NULL || ctl_client_form(curl, &form, "grant_type", "client_credentials") != 0 ||
        ctl_client_form(curl, &form, "client_id", id) != 0 ||
        ctl_client_form(curl, &form, "client_assertion_type", CTL_CLIENT_CA_TYPE) != 0 ||
        ctl_client_form(curl, &form, "client_assertion", jws) != 0 ||
        (scope != NULL && ctl_client_form(curl, &form, "scope", scope) != 0)) {
        code = ctl_fail(EX_SOFTWARE, "out of memory");
        goto out;
    }
    code = ctl_request("POST", endpoint, "", NULL, "application/x-www-form-urlencoded", form,
                       strlen(form), &b, &status);
    if (code != EX_OK)
        goto out;
    if (jstrict_parse(b.data, b.len, &answer, &why) != ERR_OK) {
        code =
            ctl_fail(EX_UNAVAILABLE, "the token endpoint answered %ld with no JSON object", status);
        goto out;
    }
    if (status != 200) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");
        code = ctl_fail(status == 401  ? EX_NOPERM
                        : status < 500 ? EX_DATAERR
                                       : EX_UNAVAILABLE,
                        "the token endpoint refused (%ld %s): %s", status,
                        cJSON_IsString(err) ? err->valuestring : "error", ctl_problem(answer));
        goto out;
    }
    at = cJSON_GetObjectItemCaseSensitive(answer, "access_token");
    if (!cJSON_IsString(at)) {
        code = ctl_fail(EX_UNAVAILABLE, "the token endpoint's answer has no access_token");
        goto out;
    }
    if (json) {
        text = cJSON_PrintUnformatted(answer);
        if (text != NULL)
            printf("%s\n", text);
        free(text);
    } else {
        printf("%s\n", at->valuestring);
    }
    code = EX_OK;
out:
    cJSON_Delete(answer);
    if (b.data != NULL)
        explicit_bzero(b.data, b.len);
    free(b.data);
    if (form != NULL)
        explicit_bzero(form, strlen(form));
    free(form);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    free(jws);
    free(endpoint);
    keys_free(k);
    return code;
}

int
ctl_client_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_client, argc < 2 ? stderr : stdout);
        return argc < 2 ? EX_USAGE : EX_OK;
    }
    if (strcmp(argv[1], "assertion") == 0)
        return cmd_assertion(argc - 1, argv + 1);
    if (strcmp(argv[1], "token") == 0)
        return cmd_token(argc - 1, argv + 1);
    fprintf(stderr, "consentctl: unknown command \"client %s\"\n\n%s", argv[1], usage_client);
    return EX_USAGE;
}
