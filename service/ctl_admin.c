/*
 * ctl_admin: consentctl admin …: registering organisations and clients, retiring clients, and
 * rotating the token-signing key, with the admin token. Each command prints the service's JSON
 * answer on success.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cJSON.h>

#include "consentd/b64.h"
#include "consentd/config.h"
#include "consentd/ctl.h"
#include "consentd/keys.h"

#define CTL_ADMIN_MAX_ROLES 8

static const char usage_admin[] =
    "usage: consentctl admin <command> [options]\n"
    "\n"
    "commands:\n"
    "  org add         register an organisation\n"
    "  client add      register a client system with its public key and roles\n"
    "  client retire   retire a client: its assertions and tokens stop working\n"
    "  rotate-token-key\n"
    "                  make a new token-signing key; the old one verifies 61 minutes more\n"
    "\n"
    "Every command takes --url URL (default $CONSENTD_URL, else " CONFIG_DEFAULT_ISSUER ")\n"
    "and the admin token as --token TOKEN or $CONSENTD_ADMIN_TOKEN.\n"
    "Exit codes: 0 done, 64 usage, 65 refused as invalid or conflicting, 66 missing key\n"
    "file, 69 service unreachable or failing, 77 the admin token was refused.\n";

static const char usage_org_add[] =
    "usage: consentctl admin org add --ods CODE --name NAME --type TYPE [--endpoint URL]\n"
    "                                [--url URL] [--token TOKEN]\n"
    "\n"
    "Registers an organisation: its ODS code (3 to 10 of A-Z and 0-9), its name, its type\n"
    "from the policy (gp-practice, hospital, …) and optionally the https URL where it serves\n"
    "the records it holds. Prints {\"ods\",\"log_index\",…}.\n";

static const char usage_client_add[] =
    "usage: consentctl admin client add --id CLIENT_ID --org CODE --key KEYFILE\n"
    "                                   --roles ROLE[,ROLE…] [--url URL] [--token TOKEN]\n"
    "\n"
    "Registers a client of organisation CODE. KEYFILE is the client's key file made by\n"
    "`consentctl keygen`; only its public key is sent. ROLES are from custodian, requester,\n"
    "enroller, auditor and emergency, each allowed for the organisation's type by the\n"
    "policy. Prints {\"client_id\",\"log_index\",…}.\n";

static const char usage_client_retire[] =
    "usage: consentctl admin client retire --id CLIENT_ID --reason TEXT [--url URL]\n"
    "                                      [--token TOKEN]\n"
    "\n"
    "Retires a client, recording why (1 to 500 characters) in the log. Its assertions are\n"
    "refused from then on, and so are the tokens it holds.\n";

static const char usage_rotate_token_key[] =
    "usage: consentctl admin rotate-token-key [--url URL] [--token TOKEN]\n"
    "\n"
    "Rotates the token-signing key: the service makes a new key, records the change in the log\n"
    "(a key.rotate entry) and signs new tokens with it. The old key stays in the JWKS, and its\n"
    "tokens stay valid, until every token it signed has expired (the longest token lifetime\n"
    "and a minute of leeway); until then a second rotation is refused, saying when it can be\n"
    "done. Prints {\"kid\",\"retired\",\"log_index\"}. See docs/tokens.md.\n";

/* Options every admin command shares. */
struct ctl_admin_common {
    const char *url;
    const char *token;
};

static void
ctl_admin_common_init(struct ctl_admin_common *o)
{
    o->url = getenv("CONSENTD_URL");
    if (o->url == NULL)
        o->url = CONFIG_DEFAULT_ISSUER;
    o->token = getenv("CONSENTD_ADMIN_TOKEN");
}

/*
 * ctl_admin_post sends body to path with the admin token and reports the answer: the JSON on
 * standard output when the status is want, otherwise the problem's sentence.
 */
static int
ctl_admin_post(const struct ctl_admin_common *o, const char *path, const cJSON *body, long want)
{
    cJSON *answer = NULL;
    char *text;
    long status = 0;
    int code;

    if (o->token == NULL || o->token[0] == '\0')
        return ctl_fail(EX_USAGE, "the admin token is needed: --token or CONSENTD_ADMIN_TOKEN");
    code = ctl_post_json(o->url, path, o->token, body, &answer, &status);
    if (code != EX_OK)
        return code;
    if (status == want && answer != NULL) {
        text = cJSON_PrintUnformatted(answer);
        if (text != NULL)
            printf("%s\n", text);
        free(text);
        code = EX_OK;
    } else if (status == 401 || status == 403) {
        code = ctl_fail(EX_NOPERM, "POST %s answered %ld: %s", path, status, ctl_problem(answer));
    } else if (status >= 400 && status < 500) {
        code = ctl_fail(EX_DATAERR, "POST %s answered %ld: %s", path, status, ctl_problem(answer));
    } else {
        code =
            ctl_fail(EX_UNAVAILABLE, "POST %s answered %ld: %s", path, status, ctl_problem(answer));
    }
    cJSON_Delete(answer);
    return code;
}

static int
cmd_org_add(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ods", required_argument, NULL, 'o'},  {"name", required_argument, NULL, 'n'},
        {"type", required_argument, NULL, 't'}, {"endpoint", required_argument, NULL, 'e'},
        {"url", required_argument, NULL, 'u'},  {"token", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *ods = NULL, *name = NULL, *type = NULL, *endpoint = NULL;
    struct ctl_admin_common o;
    cJSON *body;
    int ch, code;

    ctl_admin_common_init(&o);
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            ods = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 't':
            type = optarg;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 'u':
            o.url = optarg;
            break;
        case 'T':
            o.token = optarg;
            break;
        case 'h':
            fputs(usage_org_add, stdout);
            return EX_OK;
        default:
            fputs(usage_org_add, stderr);
            return EX_USAGE;
        }
    }
    if (ods == NULL || name == NULL || type == NULL || optind != argc) {
        fputs(usage_org_add, stderr);
        return EX_USAGE;
    }
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "ods", ods);
    cJSON_AddStringToObject(body, "name", name);
    cJSON_AddStringToObject(body, "type", type);
    if (endpoint != NULL)
        cJSON_AddStringToObject(body, "endpoint", endpoint);
    code = ctl_admin_post(&o, "/v1/orgs", body, 201);
    cJSON_Delete(body);
    return code;
}

/* ctl_admin_roles splits "a,b" into a JSON array of strings; -1 for an empty name. */
static int
ctl_admin_roles(const char *list, cJSON *arr)
{
    const char *p = list, *comma;
    char name[32];
    size_t n;
    int count = 0;

    for (;;) {
        comma = strchr(p, ',');
        n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof(name) || ++count > CTL_ADMIN_MAX_ROLES)
            return -1;
        memcpy(name, p, n);
        name[n] = '\0';
        cJSON_AddItemToArray(arr, cJSON_CreateString(name));
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int
cmd_client_add(int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},  {"org", required_argument, NULL, 'o'},
        {"key", required_argument, NULL, 'k'}, {"roles", required_argument, NULL, 'r'},
        {"url", required_argument, NULL, 'u'}, {"token", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    const char *id = NULL, *org = NULL, *keyfile = NULL, *roles = NULL;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct ctl_admin_common o;
    struct keys_pair *k = NULL;
    cJSON *body, *jwk;
    char x[64];
    enum err rc;
    int ch, code;

    ctl_admin_common_init(&o);
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            id = optarg;
            break;
        case 'o':
            org = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'r':
            roles = optarg;
            break;
        case 'u':
            o.url = optarg;
            break;
        case 'T':
            o.token = optarg;
            break;
        case 'h':
            fputs(usage_client_add, stdout);
            return EX_OK;
        default:
            fputs(usage_client_add, stderr);
            return EX_USAGE;
        }
    }
    if (id == NULL || org == NULL || keyfile == NULL || roles == NULL || optind != argc) {
        fputs(usage_client_add, stderr);
        return EX_USAGE;
    }
    rc = keys_load(keyfile, &k);
    if (rc != ERR_OK)
        return ctl_fail(rc == ERR_IO ? EX_NOINPUT : EX_DATAERR, "cannot use the key file %s: %s",
                        keyfile,
                        rc == ERR_PERM    ? "it must be a regular file with mode 0600"
                        : rc == ERR_INVAL ? "it must hold a 32-byte key made by consentctl keygen"
                                          : "it cannot be read");
    keys_public(k, pk);
    keys_free(k);
    if (b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)) != ERR_OK)
        return EX_SOFTWARE;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "client_id", id);
    cJSON_AddStringToObject(body, "org", org);
    jwk = cJSON_AddObjectToObject(body, "jwk");
    cJSON_AddStringToObject(jwk, "kty", "OKP");
    cJSON_AddStringToObject(jwk, "crv", "Ed25519");
    cJSON_AddStringToObject(jwk, "x", x);
    if (ctl_admin_roles(roles, cJSON_AddArrayToObject(body, "roles")) != 0) {
        cJSON_Delete(body);
        return ctl_fail(EX_USAGE, "--roles must be role names separated by commas, such as "
                                  "custodian,enroller");
    }
    code = ctl_admin_post(&o, "/v1/clients", body, 201);
    cJSON_Delete(body);
    return code;
}

static int
cmd_client_retire(int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},  {"reason", required_argument, NULL, 'r'},
        {"url", required_argument, NULL, 'u'}, {"token", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    const char *id = NULL, *reason = NULL;
    struct ctl_admin_common o;
    char path[128];
    cJSON *body;
    int ch, code;

    ctl_admin_common_init(&o);
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            id = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'u':
            o.url = optarg;
            break;
        case 'T':
            o.token = optarg;
            break;
        case 'h':
            fputs(usage_client_retire, stdout);
            return EX_OK;
        default:
            fputs(usage_client_retire, stderr);
            return EX_USAGE;
        }
    }
    if (id == NULL || reason == NULL || optind != argc) {
        fputs(usage_client_retire, stderr);
        return EX_USAGE;
    }
    if (strlen(id) > 64 || strpbrk(id, "/?#%") != NULL || id[0] == '\0')
        return ctl_fail(EX_USAGE, "--id must be a client id: 1 to 64 of A-Z, a-z, 0-9, . _ -");
    snprintf(path, sizeof(path), "/v1/clients/%s/retire", id);
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "reason", reason);
    code = ctl_admin_post(&o, path, body, 200);
    cJSON_Delete(body);
    return code;
}

static int
cmd_rotate_token_key(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"token", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ctl_admin_common o;
    cJSON *body;
    int ch, code;

    ctl_admin_common_init(&o);
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            o.url = optarg;
            break;
        case 'T':
            o.token = optarg;
            break;
        case 'h':
            fputs(usage_rotate_token_key, stdout);
            return EX_OK;
        default:
            fputs(usage_rotate_token_key, stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        fputs(usage_rotate_token_key, stderr);
        return EX_USAGE;
    }
    body = cJSON_CreateObject();
    code = ctl_admin_post(&o, "/v1/keys/rotate", body, 201);
    cJSON_Delete(body);
    return code;
}

int
ctl_admin_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_admin, argc < 2 ? stderr : stdout);
        return argc < 2 ? EX_USAGE : EX_OK;
    }
    if (argc >= 3 && strcmp(argv[1], "org") == 0 && strcmp(argv[2], "add") == 0)
        return cmd_org_add(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "client") == 0 && strcmp(argv[2], "add") == 0)
        return cmd_client_add(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "client") == 0 && strcmp(argv[2], "retire") == 0)
        return cmd_client_retire(argc - 2, argv + 2);
    if (strcmp(argv[1], "rotate-token-key") == 0)
        return cmd_rotate_token_key(argc - 1, argv + 1);
    fprintf(stderr, "consentctl: unknown command \"admin %s%s%s\"\n\n%s", argv[1],
            argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "", usage_admin);
    return EX_USAGE;
}
