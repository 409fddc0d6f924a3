/*
 * ctl_consent: `consentctl consent …` and `consentctl decide`: a person's grants, denials,
 * revocations and delegations, signed here with the person's (or their delegate's) own key file,
 * and the decision an administrator or auditor asks for.
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
#include "consentd/consents.h"
#include "consentd/ctl.h"
#include "consentd/hash.h"
#include "consentd/jws.h"
#include "consentd/keys.h"

#define CTL_CONSENT_DEFAULT_URL "http://127.0.0.1:8080"
#define CTL_CONSENT_JTI_BYTES   16

static const char usage_consent[] =
    "usage: consentctl consent <command> [options]\n"
    "       consentctl decide --org ODS --nhs NHS --purpose P --datatypes a,b [--token TOKEN]\n"
    "\n"
    "commands:\n"
    "  grant     sign and record a permit for an organisation, a type of organisation or anyone\n"
    "  deny      sign and record a denial (it wins over any permit)\n"
    "  revoke    sign and record the revocation of a grant or denial\n"
    "  delegate  appoint a carer, guardian or attorney (signed by the person, or recorded by\n"
    "            the admin with a reason)\n"
    "  list      list a person's grants with their status, newest first\n"
    "\n"
    "Every command takes --url URL (default $CONSENTD_URL, else " CTL_CONSENT_DEFAULT_URL ")\n"
    "and --help. A key file is one `consentctl keygen` wrote. Tokens come from --token or\n"
    "$CONSENTD_TOKEN. Dates are YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ.\n"
    "Exit codes: 0 done (for decide: a decision was made, permit or deny: read its first line),\n"
    "64 usage, 65 refused as invalid (4xx), 66 key file unreadable, 69 service unreachable or\n"
    "failing, 77 not authorized or not allowed (401, 403).\n";

static const char usage_grant[] =
    "usage: consentctl consent grant|deny --nhs NHS --key KEYFILE\n"
    "           (--org ODS | --role TYPE | --anyone) --purpose PURPOSE --datatypes a,b\n"
    "           --until DATE [--from DATE] [--as DELEGATE_NHS] [--jti JTI] [--print] [--url URL]\n"
    "\n"
    "Signs a grant (typ consent+jwt) about the person NHS with KEYFILE and records it with\n"
    "POST /v1/consents. With --as, KEYFILE is the delegate's key and the delegate signs for the\n"
    "person (iss = DELEGATE_NHS, sub = NHS), within the rights delegated. --from defaults to now;\n"
    "the grant ends at --until (exclusive). --jti defaults to a random id. --print prints the\n"
    "signed JWS instead of sending it. Prints the answer: jti and log_index.\n";

static const char usage_revoke[] =
    "usage: consentctl consent revoke --nhs NHS --key KEYFILE --jti GRANT_JTI [--as DELEGATE_NHS]\n"
    "                                 [--print] [--url URL]\n"
    "\n"
    "Signs a revocation (typ consent-revoke+jwt) of the grant GRANT_JTI and records it with\n"
    "POST /v1/consents/GRANT_JTI/revoke. It takes effect for every decision after the answer.\n";

static const char usage_delegate[] =
    "usage: consentctl consent delegate --nhs NHS --to DELEGATE_NHS --relationship REL\n"
    "           (--key KEYFILE --until DATE [--from DATE] | --token ADMIN --reason REASON\n"
    "           [--until DATE [--from DATE]]) [--purposes P,Q|*] [--datatypes a,b|*]\n"
    "           [--actions grant,deny,revoke] [--jti JTI] [--print] [--url URL]\n"
    "\n"
    "Appoints DELEGATE_NHS (who must be enrolled) to sign grants, denials and revocations for\n"
    "the person NHS. Signed by the person with --key (typ delegation+jwt), or recorded by the\n"
    "admin with --token and a --reason (a court order, parental responsibility). Rights\n"
    "default to every purpose, every category and all three actions. REL is a word such as\n"
    "carer, guardian or attorney.\n";

static const char usage_list[] =
    "usage: consentctl consent list --nhs NHS (--token TOKEN | --key KEYFILE [--as DELEGATE_NHS])\n"
    "                               [--url URL]\n"
    "\n"
    "Lists the person's grants, newest first, with their status (active, pending, expired,\n"
    "revoked), with the person's own token, a delegate's own token, or an auditor's (scope\n"
    "audit). With --key, a token is got for the key's owner (NHS, or DELEGATE_NHS with --as).\n";

static const char usage_decide[] =
    "usage: consentctl decide --org ODS --nhs NHS --purpose PURPOSE --datatypes a,b\n"
    "                         [--token TOKEN] [--url URL]\n"
    "\n"
    "Asks POST /v1/decisions whether organisation ODS may read the data categories of the\n"
    "person for PURPOSE now (the admin token, or a token with scope audit). Prints\n"
    "\"decision: permit\" or \"decision: deny\", then one line per category with the grant or\n"
    "the rule behind it. Exits 0 whichever the decision: read the first line.\n";

struct ctl_consent_opts {
    const char *url;
    const char *token;
    const char *nhs;
    const char *key;
    const char *as;
    const char *org;
    const char *role;
    bool anyone;
    const char *purpose;
    const char *purposes;
    const char *datatypes;
    const char *actions;
    const char *from;
    const char *until;
    const char *jti;
    const char *to;
    const char *relationship;
    const char *reason;
    bool print;
};

/* ctl_consent_parse reads the options; returns -1 to go on, else the exit code. */
static int
ctl_consent_parse(int argc, char **argv, const char *usage, struct ctl_consent_opts *o)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"token", required_argument, NULL, 't'},
                                         {"nhs", required_argument, NULL, 'n'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"as", required_argument, NULL, 'a'},
                                         {"org", required_argument, NULL, 'o'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"anyone", no_argument, NULL, 'A'},
                                         {"purpose", required_argument, NULL, 'p'},
                                         {"purposes", required_argument, NULL, 'P'},
                                         {"datatypes", required_argument, NULL, 'd'},
                                         {"actions", required_argument, NULL, 'c'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"until", required_argument, NULL, 'U'},
                                         {"jti", required_argument, NULL, 'j'},
                                         {"to", required_argument, NULL, 'T'},
                                         {"relationship", required_argument, NULL, 'R'},
                                         {"reason", required_argument, NULL, 'W'},
                                         {"print", no_argument, NULL, 'x'},
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
        case 'k':
            o->key = optarg;
            break;
        case 'a':
            o->as = optarg;
            break;
        case 'o':
            o->org = optarg;
            break;
        case 'r':
            o->role = optarg;
            break;
        case 'A':
            o->anyone = true;
            break;
        case 'p':
            o->purpose = optarg;
            break;
        case 'P':
            o->purposes = optarg;
            break;
        case 'd':
            o->datatypes = optarg;
            break;
        case 'c':
            o->actions = optarg;
            break;
        case 'f':
            o->from = optarg;
            break;
        case 'U':
            o->until = optarg;
            break;
        case 'j':
            o->jti = optarg;
            break;
        case 'T':
            o->to = optarg;
            break;
        case 'R':
            o->relationship = optarg;
            break;
        case 'W':
            o->reason = optarg;
            break;
        case 'x':
            o->print = true;
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
        o->url = CTL_CONSENT_DEFAULT_URL;
    o->token = ctl_token(o->token);
    if (o->nhs == NULL || o->nhs[0] == '\0') {
        fputs(usage, stderr);
        return ctl_fail(EX_USAGE, "--nhs is required: the person's NHS number");
    }
    return -1;
}

static int
ctl_consent_load(const char *path, struct keys_pair **k)
{
    enum err rc;

    *k = NULL;
    if (path == NULL)
        return ctl_fail(EX_USAGE, "--key is required: a key file from `consentctl keygen`");
    rc = keys_load(path, k);
    if (rc == ERR_OK)
        return EX_OK;
    if (rc == ERR_PERM)
        return ctl_fail(EX_NOINPUT,
                        "--key %s: refused: it must be a regular file (not a symlink) readable "
                        "by you alone (chmod 600)",
                        path);
    if (rc == ERR_INVAL)
        return ctl_fail(EX_NOINPUT, "--key %s: not a key file (it must hold exactly 32 bytes)",
                        path);
    return ctl_fail(EX_NOINPUT, "--key %s: cannot read it: %s", path, strerror(errno));
}

/* ctl_consent_date reads --from/--until: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, into out. */
static int
ctl_consent_date(const char *flag, const char *s, char out[static CONSENTS_TIME_LEN + 1])
{
    int64_t t;

    if (s != NULL && strlen(s) == 10)
        snprintf(out, CONSENTS_TIME_LEN + 1, "%sT00:00:00Z", s);
    else
        snprintf(out, CONSENTS_TIME_LEN + 1, "%s", s == NULL ? "" : s);
    if (consents_time_parse(out, &t) != ERR_OK)
        return ctl_fail(EX_USAGE, "%s must be a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM:SSZ",
                        flag);
    return EX_OK;
}

/* ctl_consent_list_add adds the comma-separated items of s to a as strings ("*" as itself). */
static cJSON *
ctl_consent_list(const char *s)
{
    char *copy, *tok, *save = NULL;
    cJSON *a;

    if (strcmp(s, "*") == 0)
        return cJSON_CreateString("*");
    a = cJSON_CreateArray();
    copy = strdup(s);
    if (copy == NULL)
        return a;
    for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(a, cJSON_CreateString(tok));
    free(copy);
    return a;
}

static void
ctl_consent_new_jti(char out[static CONSENTS_JTI_MAX + 1])
{
    uint8_t rnd[CTL_CONSENT_JTI_BYTES];

    hash_random(rnd, sizeof(rnd));
    (void)b64_encode(rnd, sizeof(rnd), B64_URL, out, CONSENTS_JTI_MAX + 1);
}

/* ctl_consent_post POSTs body and prints the 201 answer. */
static int
ctl_consent_post(const char *url, const char *path, const char *token, const cJSON *body,
                 const char *what)
{
    cJSON *answer = NULL;
    long status = 0;
    char *text;
    int code;

    code = ctl_post_json(url, path, token, body, &answer, &status);
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

/* ctl_consent_send prints jws (--print) or POSTs {"jws": jws} to path. */
static int
ctl_consent_send(const struct ctl_consent_opts *o, const char *path, const char *jws,
                 const char *what)
{
    cJSON *body;
    int code;

    if (o->print) {
        printf("%s\n", jws);
        return EX_OK;
    }
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "jws", jws);
    code = ctl_consent_post(o->url, path, NULL, body, what);
    cJSON_Delete(body);
    return code;
}

static int
ctl_consent_grant(int argc, char **argv, const char *effect)
{
    char start[CONSENTS_TIME_LEN + 1], end[CONSENTS_TIME_LEN + 1], jti[CONSENTS_JTI_MAX + 1];
    struct ctl_consent_opts o;
    struct keys_pair *k = NULL;
    cJSON *payload = NULL, *g, *p, *a;
    char *jws = NULL;
    int code, n;

    code = ctl_consent_parse(argc, argv, usage_grant, &o);
    if (code >= 0)
        return code;
    n = (o.org != NULL) + (o.role != NULL) + o.anyone;
    if (n != 1)
        return ctl_fail(EX_USAGE, "name the grantee once: --org ODS, --role TYPE or --anyone");
    if (o.purpose == NULL || o.datatypes == NULL || o.until == NULL)
        return ctl_fail(EX_USAGE, "--purpose, --datatypes and --until are required");
    if (o.from == NULL)
        consents_time_format((int64_t)time(NULL), start);
    else if (ctl_consent_date("--from", o.from, start) != EX_OK)
        return EX_USAGE;
    if (ctl_consent_date("--until", o.until, end) != EX_OK)
        return EX_USAGE;
    if (o.jti != NULL)
        snprintf(jti, sizeof(jti), "%s", o.jti);
    else
        ctl_consent_new_jti(jti);
    code = ctl_consent_load(o.key, &k);
    if (code != EX_OK)
        return code;
    payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "iss", o.as != NULL ? o.as : o.nhs);
    cJSON_AddStringToObject(payload, "sub", o.nhs);
    cJSON_AddStringToObject(payload, "jti", jti);
    cJSON_AddNumberToObject(payload, "iat", (double)time(NULL));
    cJSON_AddStringToObject(payload, "effect", effect);
    if (o.anyone) {
        cJSON_AddStringToObject(payload, "grantee", "*");
    } else {
        g = cJSON_AddObjectToObject(payload, "grantee");
        if (o.org != NULL)
            cJSON_AddStringToObject(g, "org", o.org);
        else
            cJSON_AddStringToObject(g, "role", o.role);
    }
    cJSON_AddStringToObject(payload, "purpose", o.purpose);
    cJSON_AddItemToObject(payload, "datatypes", ctl_consent_list(o.datatypes));
    a = cJSON_AddArrayToObject(payload, "actions");
    cJSON_AddItemToArray(a, cJSON_CreateString("read"));
    p = cJSON_AddObjectToObject(payload, "period");
    cJSON_AddStringToObject(p, "start", start);
    cJSON_AddStringToObject(p, "end", end);
    code = ctl_sign(k, CONSENTS_TYP_GRANT, payload, &jws);
    if (code == EX_OK)
        code = ctl_consent_send(&o, "/v1/consents", jws, "POST /v1/consents");
    free(jws);
    cJSON_Delete(payload);
    keys_free(k);
    return code;
}

static int
cmd_grant(int argc, char **argv)
{
    return ctl_consent_grant(argc, argv, "permit");
}

static int
cmd_deny(int argc, char **argv)
{
    return ctl_consent_grant(argc, argv, "deny");
}

static int
cmd_revoke(int argc, char **argv)
{
    char jti[CONSENTS_JTI_MAX + 1], path[512];
    struct ctl_consent_opts o;
    struct keys_pair *k = NULL;
    cJSON *payload;
    char *jws = NULL, *enc;
    int code;

    code = ctl_consent_parse(argc, argv, usage_revoke, &o);
    if (code >= 0)
        return code;
    if (o.jti == NULL)
        return ctl_fail(EX_USAGE, "--jti is required: the grant to revoke");
    code = ctl_consent_load(o.key, &k);
    if (code != EX_OK)
        return code;
    ctl_consent_new_jti(jti);
    payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "iss", o.as != NULL ? o.as : o.nhs);
    cJSON_AddStringToObject(payload, "sub", o.nhs);
    cJSON_AddStringToObject(payload, "jti", jti);
    cJSON_AddStringToObject(payload, "grant", o.jti);
    cJSON_AddNumberToObject(payload, "iat", (double)time(NULL));
    code = ctl_sign(k, CONSENTS_TYP_REVOKE, payload, &jws);
    enc = curl_easy_escape(NULL, o.jti, 0);
    if (code == EX_OK && enc == NULL)
        code = ctl_fail(EX_SOFTWARE, "out of memory");
    if (code == EX_OK) {
        snprintf(path, sizeof(path), "/v1/consents/%s/revoke", enc);
        code = ctl_consent_send(&o, path, jws, "revocation");
    }
    curl_free(enc);
    free(jws);
    cJSON_Delete(payload);
    keys_free(k);
    return code;
}

static int
cmd_delegate(int argc, char **argv)
{
    char start[CONSENTS_TIME_LEN + 1], end[CONSENTS_TIME_LEN + 1], jti[CONSENTS_JTI_MAX + 1];
    struct ctl_consent_opts o;
    struct keys_pair *k = NULL;
    cJSON *body = NULL, *rights, *p;
    char *jws = NULL;
    int code;

    code = ctl_consent_parse(argc, argv, usage_delegate, &o);
    if (code >= 0)
        return code;
    if (o.to == NULL || o.relationship == NULL)
        return ctl_fail(EX_USAGE, "--to and --relationship are required");
    if ((o.key == NULL) == (o.reason == NULL))
        return ctl_fail(EX_USAGE, "give either --key (the person signs) or --reason with the "
                                  "admin --token (the admin records it)");
    if (o.key != NULL && o.until == NULL)
        return ctl_fail(EX_USAGE, "a delegation the person signs needs --until");
    if (o.from == NULL)
        consents_time_format((int64_t)time(NULL), start);
    else if (ctl_consent_date("--from", o.from, start) != EX_OK)
        return EX_USAGE;
    if (o.until != NULL && ctl_consent_date("--until", o.until, end) != EX_OK)
        return EX_USAGE;
    body = cJSON_CreateObject();
    if (o.key != NULL) {
        if (o.jti != NULL)
            snprintf(jti, sizeof(jti), "%s", o.jti);
        else
            ctl_consent_new_jti(jti);
        cJSON_AddStringToObject(body, "iss", o.nhs);
        cJSON_AddStringToObject(body, "sub", o.nhs);
        cJSON_AddStringToObject(body, "jti", jti);
        cJSON_AddNumberToObject(body, "iat", (double)time(NULL));
    } else {
        cJSON_AddStringToObject(body, "nhs", o.nhs);
        cJSON_AddStringToObject(body, "reason", o.reason);
    }
    cJSON_AddStringToObject(body, "delegate", o.to);
    rights = cJSON_AddObjectToObject(body, "rights");
    cJSON_AddItemToObject(rights, "purposes",
                          ctl_consent_list(o.purposes != NULL ? o.purposes : "*"));
    cJSON_AddItemToObject(rights, "datatypes",
                          ctl_consent_list(o.datatypes != NULL ? o.datatypes : "*"));
    cJSON_AddItemToObject(rights, "actions",
                          ctl_consent_list(o.actions != NULL ? o.actions : "grant,deny,revoke"));
    cJSON_AddStringToObject(body, "relationship", o.relationship);
    if (o.until != NULL) {
        p = cJSON_AddObjectToObject(body, "period");
        cJSON_AddStringToObject(p, "start", start);
        cJSON_AddStringToObject(p, "end", end);
    }
    if (o.key == NULL) {
        if (o.token == NULL)
            code = ctl_fail(EX_USAGE, "an admin's delegation needs the admin token: --token or "
                                      "CONSENTD_TOKEN");
        else
            code =
                ctl_consent_post(o.url, "/v1/delegations", o.token, body, "POST /v1/delegations");
        goto out;
    }
    code = ctl_consent_load(o.key, &k);
    if (code == EX_OK)
        code = ctl_sign(k, CONSENTS_TYP_DELEGATION, body, &jws);
    if (code == EX_OK)
        code = ctl_consent_send(&o, "/v1/delegations", jws, "POST /v1/delegations");
out:
    free(jws);
    cJSON_Delete(body);
    keys_free(k);
    return code;
}

static int
cmd_list(int argc, char **argv)
{
    struct ctl_consent_opts o;
    struct keys_pair *k = NULL;
    char path[1024], *token = NULL, *text, *enc = NULL;
    cJSON *answer = NULL;
    int code;

    code = ctl_consent_parse(argc, argv, usage_list, &o);
    if (code >= 0)
        return code;
    if (o.key != NULL) {
        code = ctl_consent_load(o.key, &k);
        if (code == EX_OK)
            code = ctl_patient_token(o.url, o.as != NULL ? o.as : o.nhs, k, &token);
        if (code != EX_OK)
            goto out;
    } else if (o.token == NULL) {
        code = ctl_fail(EX_USAGE, "listing grants needs a token: --key KEYFILE, --token or "
                                  "CONSENTD_TOKEN");
        goto out;
    }
    enc = curl_easy_escape(NULL, o.nhs, 0);
    if (enc == NULL) {
        code = ctl_fail(EX_SOFTWARE, "out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "/v1/patients/%s/consents", enc);
    code = ctl_get_json(o.url, path, token != NULL ? token : o.token, &answer);
    if (code != EX_OK)
        goto out;
    text = cJSON_Print(answer);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
out:
    curl_free(enc);
    cJSON_Delete(answer);
    free(token);
    keys_free(k);
    return code;
}

static int
cmd_decide(int argc, char **argv)
{
    const cJSON *decision, *reasons, *r, *dt, *basis, *grant, *rule, *jti, *idx;
    struct ctl_consent_opts o;
    cJSON *body, *answer = NULL, *a;
    long status = 0;
    int code;

    code = ctl_consent_parse(argc, argv, usage_decide, &o);
    if (code >= 0)
        return code;
    if (o.org == NULL || o.purpose == NULL || o.datatypes == NULL)
        return ctl_fail(EX_USAGE, "--org, --purpose and --datatypes are required");
    if (o.token == NULL)
        return ctl_fail(EX_USAGE, "a decision needs the admin token or a token with scope "
                                  "audit: --token or CONSENTD_TOKEN");
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "org", o.org);
    cJSON_AddStringToObject(body, "nhs", o.nhs);
    cJSON_AddStringToObject(body, "purpose", o.purpose);
    a = ctl_consent_list(o.datatypes);
    cJSON_AddItemToObject(body, "datatypes", a);
    code = ctl_post_json(o.url, "/v1/decisions", o.token, body, &answer, &status);
    cJSON_Delete(body);
    if (code != EX_OK)
        return code;
    decision = cJSON_GetObjectItemCaseSensitive(answer, "decision");
    reasons = cJSON_GetObjectItemCaseSensitive(answer, "reasons");
    if (status != 200) {
        code = ctl_refused("POST /v1/decisions", status, answer);
    } else if (!cJSON_IsString(decision) || !cJSON_IsArray(reasons)) {
        code = ctl_fail(EX_PROTOCOL, "POST /v1/decisions: the answer has no decision");
    } else {
        printf("decision: %s\n", decision->valuestring);
        cJSON_ArrayForEach(r, reasons)
        {
            dt = cJSON_GetObjectItemCaseSensitive(r, "datatype");
            basis = cJSON_GetObjectItemCaseSensitive(r, "basis");
            grant = cJSON_GetObjectItemCaseSensitive(r, "grant");
            rule = cJSON_GetObjectItemCaseSensitive(r, "rule");
            jti = cJSON_GetObjectItemCaseSensitive(grant, "jti");
            idx = cJSON_GetObjectItemCaseSensitive(grant, "log_index");
            if (!cJSON_IsString(dt) || !cJSON_IsString(basis))
                continue;
            if (cJSON_IsString(jti) && cJSON_IsNumber(idx))
                printf("  %s: %s, grant %s (log index %.0f)\n", dt->valuestring, basis->valuestring,
                       jti->valuestring, idx->valuedouble);
            else
                printf("  %s: %s, %s\n", dt->valuestring, basis->valuestring,
                       cJSON_IsString(rule) ? rule->valuestring : "");
        }
    }
    cJSON_Delete(answer);
    return code;
}

int
ctl_consent_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } cmds[] = {{"grant", cmd_grant},
                {"deny", cmd_deny},
                {"revoke", cmd_revoke},
                {"delegate", cmd_delegate},
                {"list", cmd_list}};
    size_t i;

    if (argc >= 1 && strcmp(argv[0], "decide") == 0)
        return cmd_decide(argc, argv);
    if (argc < 2) {
        fputs(usage_consent, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_consent, stdout);
        return EX_OK;
    }
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "consentctl: unknown command \"consent %s\"\n\n%s", argv[1], usage_consent);
    return EX_USAGE;
}
