/*
 * ctl_patient: `consentctl patient …`: a person's key and identity from a terminal. Every
 * signature is made here with the person's own key file; consentd only ever sees the public
 * key and what the key signed.
 */
#include <errno.h>
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
#include "consentd/ctl.h"
#include "consentd/hash.h"
#include "consentd/jws.h"
#include "consentd/keys.h"

#define CTL_PATIENT_DEFAULT_URL "http://127.0.0.1:8080"

static const char usage_patient[] =
    "usage: consentctl patient <command> [options]\n"
    "\n"
    "commands:\n"
    "  code      issue a one-time enrolment code for a person (admin or enroller token)\n"
    "  enrol     enrol a person's public key with the code and a proof by that key\n"
    "  rotate    replace a person's key, signed by the current key\n"
    "  recover   replace a lost key (enroller token), with a recorded reason\n"
    "  link      link a local identifier system|value to a person (admin or enroller token)\n"
    "  token     get an access token for the person's own data, signed by their key\n"
    "  pointers  list where the person's records are held\n"
    "\n"
    "Every command takes --url URL (default $CONSENTD_URL, else " CTL_PATIENT_DEFAULT_URL ")\n"
    "and --help. --nhs takes an NHS number or a linked identifier system|value. A key file is\n"
    "one `consentctl keygen` wrote. Tokens come from --token or $CONSENTD_TOKEN.\n"
    "Exit codes: 0 done, 64 usage, 65 refused as invalid (4xx), 66 key file unreadable,\n"
    "69 service unreachable or failing, 77 not authorized (401, 403).\n";

static const char usage_code[] =
    "usage: consentctl patient code --nhs NHS [--url URL] [--token TOKEN]\n"
    "\n"
    "Asks for a one-time enrolment code for the person (the admin token, or an enroller's\n"
    "access token with scope enrol). Prints \"code: <code>\" and \"expires: <time>\". The code\n"
    "is shown once, enrols once, and expires after 24 hours: hand it to the person only after\n"
    "checking who they are.\n";

static const char usage_enrol[] =
    "usage: consentctl patient enrol --nhs NHS --code CODE --key KEYFILE [--url URL]\n"
    "\n"
    "Enrols the public key of KEYFILE for the person, with the code the GP practice gave and a\n"
    "proof signed by the key ({\"sub\",\"code\",\"iat\"}). Prints the answer: nhs, kid and the\n"
    "log index of the patient.enrol entry.\n";

static const char usage_rotate[] =
    "usage: consentctl patient rotate --nhs NHS --key OLDKEY --new-key NEWKEY [--url URL]\n"
    "\n"
    "Replaces the person's key with NEWKEY's public key, signed by the current key OLDKEY\n"
    "({\"sub\",\"jwk\",\"iat\"}). Keep OLDKEY until the answer says 201.\n";

static const char usage_recover[] =
    "usage: consentctl patient recover --nhs NHS --new-key NEWKEY --reason REASON\n"
    "                                  [--url URL] [--token TOKEN]\n"
    "\n"
    "Replaces a lost key with NEWKEY's public key, on the authority of an enroller (an access\n"
    "token with scope enrol) or the admin, with a reason of 1 to 500 characters that the log\n"
    "records.\n";

static const char usage_link[] =
    "usage: consentctl patient link --nhs NHS --system SYSTEM --value VALUE [--url URL]\n"
    "                               [--token TOKEN]\n"
    "\n"
    "Links the identifier SYSTEM|VALUE (a hospital number, say) to the person, so that it is\n"
    "accepted wherever an NHS number is (admin or an enroller token).\n";

static const char usage_token[] =
    "usage: consentctl patient token --nhs NHS --key KEYFILE [--url URL]\n"
    "\n"
    "Gets an access token for the person's own data with the JWT-bearer grant (RFC 7523):\n"
    "an assertion signed by KEYFILE (iss = sub = NHS, aud = URL/oauth2/token, valid for two\n"
    "minutes). Prints the access token.\n";

static const char usage_pointers[] =
    "usage: consentctl patient pointers --nhs NHS (--key KEYFILE | --token TOKEN) [--url URL]\n"
    "\n"
    "Lists where the person's records are held, with the person's own access token (from\n"
    "--token or $CONSENTD_TOKEN, or got with KEYFILE as `patient token` does).\n";

struct ctl_patient_opts {
    const char *url;
    const char *token;
    const char *nhs;
    const char *code;
    const char *key;
    const char *new_key;
    const char *reason;
    const char *system;
    const char *value;
};

/* ctl_patient_parse reads the options; returns -1 to go on, else the exit code. */
static int
ctl_patient_parse(int argc, char **argv, const char *usage, struct ctl_patient_opts *o)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"token", required_argument, NULL, 't'},
                                         {"nhs", required_argument, NULL, 'n'},
                                         {"code", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"new-key", required_argument, NULL, 'N'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"system", required_argument, NULL, 's'},
                                         {"value", required_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            o->url = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'n':
            o->nhs = optarg;
            break;
        case 'c':
            o->code = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'N':
            o->new_key = optarg;
            break;
        case 'r':
            o->reason = optarg;
            break;
        case 's':
            o->system = optarg;
            break;
        case 'v':
            o->value = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return EX_OK;
        default:
            fputs(usage, stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return EX_USAGE;
    }
    if (o->url == NULL)
        o->url = getenv("CONSENTD_URL");
    if (o->url == NULL)
        o->url = CTL_PATIENT_DEFAULT_URL;
    o->token = ctl_token(o->token);
    if (o->nhs == NULL || o->nhs[0] == '\0') {
        fputs(usage, stderr);
        return ctl_fail(EX_USAGE, "--nhs is required: an NHS number or a linked system|value");
    }
    return -1;
}

static int
ctl_patient_load(const char *path, const char *flag, struct keys_pair **k)
{
    enum err rc;

    *k = NULL;
    if (path == NULL)
        return ctl_fail(EX_USAGE, "%s is required: a key file from `consentctl keygen`", flag);
    rc = keys_load(path, k);
    if (rc == ERR_OK)
        return EX_OK;
    if (rc == ERR_PERM)
        return ctl_fail(EX_NOINPUT,
                        "%s %s: refused: it must be a regular file (not a symlink) readable by "
                        "you alone (chmod 600)",
                        flag, path);
    if (rc == ERR_INVAL)
        return ctl_fail(EX_NOINPUT, "%s %s: not a key file (it must hold exactly 32 bytes)", flag,
                        path);
    return ctl_fail(EX_NOINPUT, "%s %s: cannot read it: %s", flag, path, strerror(errno));
}

/* ctl_patient_jwk returns k's public key as a JWK object (caller frees), kid into kid. */
static cJSON *
ctl_patient_jwk(const struct keys_pair *k, char kid[static KEYS_KID_LEN + 1])
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char x[64];
    cJSON *j = cJSON_CreateObject();

    keys_public(k, pk);
    keys_kid(pk, kid);
    (void)b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x));
    cJSON_AddStringToObject(j, "kty", "OKP");
    cJSON_AddStringToObject(j, "crv", "Ed25519");
    cJSON_AddStringToObject(j, "x", x);
    return j;
}

/* ctl_patient_path writes /v1/patients/<percent-encoded nhs><suffix> into out. */
static int
ctl_patient_path(const char *nhs, const char *suffix, char *out, size_t cap)
{
    char *enc = curl_easy_escape(NULL, nhs, 0);

    if (enc == NULL)
        return ctl_fail(EX_SOFTWARE, "out of memory");
    snprintf(out, cap, "/v1/patients/%s%s", enc, suffix);
    curl_free(enc);
    return EX_OK;
}

/* ctl_patient_post POSTs body and prints the 201 answer; the exit code says how it went. */
static int
ctl_patient_post(const struct ctl_patient_opts *o, const char *path, const char *token,
                 const cJSON *body, const char *what)
{
    cJSON *answer = NULL;
    long status = 0;
    char *text;
    int code;

    code = ctl_post_json(o->url, path, token, body, &answer, &status);
    if (code != EX_OK)
        return code;
    if (status != 201) {
        code = ctl_refused(what, status, answer);
        cJSON_Delete(answer);
        return code;
    }
    text = cJSON_PrintUnformatted(answer);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(answer);
    return EX_OK;
}

static int
cmd_code(int argc, char **argv)
{
    struct ctl_patient_opts o;
    const cJSON *code_j, *expires;
    cJSON *body, *answer = NULL;
    long status = 0;
    int code;

    code = ctl_patient_parse(argc, argv, usage_code, &o);
    if (code >= 0)
        return code;
    if (o.token == NULL)
        return ctl_fail(EX_USAGE, "an enrolment code needs the admin token or an enroller's "
                                  "access token: --token or CONSENTD_TOKEN");
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "nhs", o.nhs);
    code = ctl_post_json(o.url, "/v1/enrolments", o.token, body, &answer, &status);
    cJSON_Delete(body);
    if (code != EX_OK)
        return code;
    code_j = cJSON_GetObjectItemCaseSensitive(answer, "code");
    expires = cJSON_GetObjectItemCaseSensitive(answer, "expires");
    if (status != 201)
        code = ctl_refused("POST /v1/enrolments", status, answer);
    else if (!cJSON_IsString(code_j) || !cJSON_IsString(expires))
        code = ctl_fail(EX_PROTOCOL, "POST /v1/enrolments: the answer has no code");
    else
        printf("code: %s\nexpires: %s\n", code_j->valuestring, expires->valuestring);
    cJSON_Delete(answer);
    return code;
}

static int
cmd_enrol(int argc, char **argv)
{
    char kid[KEYS_KID_LEN + 1], *proof = NULL;
    struct ctl_patient_opts o;
    struct keys_pair *k = NULL;
    cJSON *payload = NULL, *body = NULL;
    int code;

    code = ctl_patient_parse(argc, argv, usage_enrol, &o);
    if (code >= 0)
        return code;
    if (o.code == NULL)
        return ctl_fail(EX_USAGE, "--code is required: the enrolment code the GP practice gave");
    code = ctl_patient_load(o.key, "--key", &k);
    if (code != EX_OK)
        return code;
    payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "sub", o.nhs);
    cJSON_AddStringToObject(payload, "code", o.code);
    cJSON_AddNumberToObject(payload, "iat", (double)time(NULL));
    code = ctl_sign(k, NULL, payload, &proof);
    if (code != EX_OK)
        goto out;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "nhs", o.nhs);
    cJSON_AddStringToObject(body, "code", o.code);
    cJSON_AddItemToObject(body, "jwk", ctl_patient_jwk(k, kid));
    cJSON_AddStringToObject(body, "proof", proof);
    code = ctl_patient_post(&o, "/v1/patients", NULL, body, "POST /v1/patients");
out:
    free(proof);
    cJSON_Delete(body);
    cJSON_Delete(payload);
    keys_free(k);
    return code;
}

static int
cmd_rotate(int argc, char **argv)
{
    char kid[KEYS_KID_LEN + 1], path[1024], *proof = NULL;
    struct ctl_patient_opts o;
    struct keys_pair *old = NULL, *next = NULL;
    cJSON *payload = NULL, *body = NULL;
    int code;

    code = ctl_patient_parse(argc, argv, usage_rotate, &o);
    if (code >= 0)
        return code;
    code = ctl_patient_load(o.key, "--key", &old);
    if (code == EX_OK)
        code = ctl_patient_load(o.new_key, "--new-key", &next);
    if (code == EX_OK)
        code = ctl_patient_path(o.nhs, "/keys", path, sizeof(path));
    if (code != EX_OK)
        goto out;
    payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "sub", o.nhs);
    cJSON_AddItemToObject(payload, "jwk", ctl_patient_jwk(next, kid));
    cJSON_AddNumberToObject(payload, "iat", (double)time(NULL));
    code = ctl_sign(old, NULL, payload, &proof);
    if (code != EX_OK)
        goto out;
    body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "jwk", ctl_patient_jwk(next, kid));
    cJSON_AddStringToObject(body, "proof", proof);
    code = ctl_patient_post(&o, path, NULL, body, "key rotation");
out:
    free(proof);
    cJSON_Delete(body);
    cJSON_Delete(payload);
    keys_free(next);
    keys_free(old);
    return code;
}

static int
cmd_recover(int argc, char **argv)
{
    char kid[KEYS_KID_LEN + 1], path[1024];
    struct ctl_patient_opts o;
    struct keys_pair *next = NULL;
    cJSON *body = NULL;
    int code;

    code = ctl_patient_parse(argc, argv, usage_recover, &o);
    if (code >= 0)
        return code;
    if (o.reason == NULL)
        return ctl_fail(EX_USAGE, "--reason is required: why the key is replaced (the log "
                                  "records it)");
    if (o.token == NULL)
        return ctl_fail(EX_USAGE, "a recovery needs an enroller's access token or the admin "
                                  "token: --token or CONSENTD_TOKEN");
    code = ctl_patient_load(o.new_key, "--new-key", &next);
    if (code == EX_OK)
        code = ctl_patient_path(o.nhs, "/keys", path, sizeof(path));
    if (code != EX_OK)
        goto out;
    body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "jwk", ctl_patient_jwk(next, kid));
    cJSON_AddStringToObject(body, "reason", o.reason);
    code = ctl_patient_post(&o, path, o.token, body, "key recovery");
out:
    cJSON_Delete(body);
    keys_free(next);
    return code;
}

static int
cmd_link(int argc, char **argv)
{
    struct ctl_patient_opts o;
    char path[1024];
    cJSON *body;
    int code;

    code = ctl_patient_parse(argc, argv, usage_link, &o);
    if (code >= 0)
        return code;
    if (o.system == NULL || o.value == NULL)
        return ctl_fail(EX_USAGE, "--system and --value are required");
    if (o.token == NULL)
        return ctl_fail(EX_USAGE, "linking needs the admin token or an enroller's access token: "
                                  "--token or CONSENTD_TOKEN");
    code = ctl_patient_path(o.nhs, "/identifiers", path, sizeof(path));
    if (code != EX_OK)
        return code;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "system", o.system);
    cJSON_AddStringToObject(body, "value", o.value);
    code = ctl_patient_post(&o, path, o.token, body, "linking");
    cJSON_Delete(body);
    return code;
}

static int
cmd_token(int argc, char **argv)
{
    struct ctl_patient_opts o;
    struct keys_pair *k = NULL;
    char *token = NULL;
    int code;

    code = ctl_patient_parse(argc, argv, usage_token, &o);
    if (code >= 0)
        return code;
    code = ctl_patient_load(o.key, "--key", &k);
    if (code == EX_OK)
        code = ctl_patient_token(o.url, o.nhs, k, &token);
    if (code == EX_OK)
        printf("%s\n", token);
    free(token);
    keys_free(k);
    return code;
}

static int
cmd_pointers(int argc, char **argv)
{
    struct ctl_patient_opts o;
    struct keys_pair *k = NULL;
    char path[1024], *token = NULL, *text;
    cJSON *answer = NULL;
    int code;

    code = ctl_patient_parse(argc, argv, usage_pointers, &o);
    if (code >= 0)
        return code;
    if (o.key != NULL) {
        code = ctl_patient_load(o.key, "--key", &k);
        if (code == EX_OK)
            code = ctl_patient_token(o.url, o.nhs, k, &token);
        if (code != EX_OK)
            goto out;
    } else if (o.token == NULL) {
        code = ctl_fail(EX_USAGE, "reading pointers needs the person's token: --key KEYFILE, "
                                  "--token or CONSENTD_TOKEN");
        goto out;
    }
    code = ctl_patient_path(o.nhs, "/pointers", path, sizeof(path));
    if (code != EX_OK)
        goto out;
    code = ctl_get_json(o.url, path, token != NULL ? token : o.token, &answer);
    if (code != EX_OK)
        goto out;
    text = cJSON_Print(answer);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
out:
    cJSON_Delete(answer);
    free(token);
    keys_free(k);
    return code;
}

int
ctl_patient_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } cmds[] = {{"code", cmd_code},        {"enrol", cmd_enrol}, {"rotate", cmd_rotate},
                {"recover", cmd_recover},  {"link", cmd_link},   {"token", cmd_token},
                {"pointers", cmd_pointers}};
    size_t i;

    if (argc < 2) {
        fputs(usage_patient, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_patient, stdout);
        return EX_OK;
    }
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "consentctl: unknown command \"patient %s\"\n\n%s", argv[1], usage_patient);
    return EX_USAGE;
}
