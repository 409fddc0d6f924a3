/*
 * consentctl: the command-line client. keygen makes key pairs; audit checks a running log
 * without trusting it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "consentd/b64.h"
#include "consentd/ckpt.h"
#include "consentd/ctl.h"
#include "consentd/hash.h"
#include "consentd/jstrict.h"
#include "consentd/keys.h"
#include "consentd/token.h"
#include "consentd/jws.h"
#include "consentd/merkle.h"
#include "consentd/note.h"

#define CTL_BATCH        1000
#define CTL_MAX_PREVIOUS 64

static const char usage_main[] =
    "usage: consentctl <command> [options]\n"
    "\n"
    "commands:\n"
    "  keygen                  make an Ed25519 key pair (key file + public JWK)\n"
    "  audit fetch             copy the log into a local directory, verified (resumable)\n"
    "  audit verify            check a local copy (--dir) or a running log (--url): tree,\n"
    "                          checkpoints, signatures, every access and client rule\n"
    "  audit state-at|access|consistency\n"
    "                          who could read what when; a person's accesses; two checkpoints\n"
    "  audit inclusion         check that one entry is in the signed log\n"
    "  admin org add           register an organisation (admin token)\n"
    "  admin client add        register a client system: its public key and roles\n"
    "  admin client retire     retire a client\n"
    "  admin rotate-token-key  make a new token-signing key (the old one verifies until expiry)\n"
    "  client assertion        print a client assertion (RFC 7523) signed with a client key\n"
    "  client token            get an access token for a client at the token endpoint\n"
    "  token verify            verify an access token offline against the service's JWKS\n"
    "  patient code|enrol|rotate|recover|link|token|pointers\n"
    "  patient grant|deny|revoke|delegate|consents  (the same as consent …)\n"
    "                          enrolment codes, a person's key, identifiers, own token\n"
    "  consent grant|deny|revoke|delegate|list\n"
    "                          a person's signed grants, denials, revocations, delegations\n"
    "  decide                  may an organisation read a person's data now, and why\n"
    "\n"
    "Run `consentctl <command> --help` for a command's options.\n"
    "Exit codes: 0 verified, 64 usage, 65 did not verify, 66 missing input, 69 service\n"
    "unreachable or refused, 73 cannot create a file.\n";

static const char usage_keygen[] =
    "usage: consentctl keygen --out FILE\n"
    "\n"
    "Writes a new Ed25519 private key (the 32-byte seed) to FILE with mode 0600, never\n"
    "overwriting, and prints the public key as a JWK with its kid.\n";

static const char usage_verify[] =
    "usage: consentctl audit verify --url URL --key VERIFIER_KEY [--token TOKEN]\n"
    "                               [--previous FILE]... [--receipts FILE] [--save FILE]\n"
    "\n"
    "Fetches the signed checkpoint and every entry, checks the checkpoint's signature with\n"
    "VERIFIER_KEY (as `consentd init` printed it as log-key, or GET /log/key), recomputes the\n"
    "Merkle root from the entries and compares it. Each --previous FILE is a checkpoint saved\n"
    "earlier (--save): it must verify and its root must be the root of the log at its size,\n"
    "proving the log only grew. --receipts FILE holds acknowledged writes, one per line as\n"
    "\"<log_index> <leaf_hash>\" (base64, as POST answers give them): each must be in the log\n"
    "at that index with that hash. Entries need the admin token (--token or CONSENTD_TOKEN).\n";

static const char usage_inclusion[] =
    "usage: consentctl audit inclusion --url URL --key VERIFIER_KEY --index N [--token TOKEN]\n"
    "\n"
    "Verifies the signed checkpoint and the inclusion proof of entry N in it. With the admin\n"
    "token it also fetches entry N and checks that it hashes to the proven leaf.\n";

static int
ctl_checkpoint(const char *url, const struct note_verifier *v, struct note_checkpoint *c,
               struct ctl_buf *note)
{
    long status = 0;
    enum err rc;
    int code;

    code = ctl_get(url, "/log/checkpoint", NULL, note, &status);
    if (code != EX_OK)
        return code;
    if (status != 200) {
        free(note->data);
        return ctl_fail(EX_UNAVAILABLE, "GET /log/checkpoint answered %ld", status);
    }
    rc = ckpt_open_verify(v, note->data, note->len, c);
    if (rc != ERR_OK) {
        free(note->data);
        return ctl_fail(EX_DATAERR, "the checkpoint does not verify with key %s: %s", v->name,
                        rc == ERR_BADSIG ? "no valid signature by that key"
                                         : "it is not a well-formed signed checkpoint");
    }
    return EX_OK;
}

static int
ctl_parse_key(const char *s, struct note_verifier *v)
{
    if (note_verifier_parse(s, strlen(s), v) != ERR_OK)
        return ctl_fail(EX_USAGE,
                        "--key must be a verifier key NAME+HASH+BASE64 as `consentd init` "
                        "printed (log-key) or GET /log/key serves");
    return EX_OK;
}

static void
ctl_hex(const uint8_t *h, char out[static 2 * HASH_BYTES + 1])
{
    int i;

    for (i = 0; i < HASH_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

struct ctl_receipt {
    uint64_t index;
    uint8_t leaf[HASH_BYTES];
};

static int
ctl_receipt_cmp(const void *a, const void *b)
{
    const struct ctl_receipt *x = a, *y = b;

    return x->index < y->index ? -1 : x->index > y->index;
}

/* ctl_load_receipts reads "<index> <base64 leaf hash>" lines, sorted by index on return. */
static int
ctl_load_receipts(const char *path, struct ctl_receipt **out, size_t *n)
{
    char line[256], b64[128];
    unsigned long long index;
    struct ctl_receipt *r = NULL, *p;
    size_t cap = 0, len, lineno = 0;
    FILE *f = fopen(path, "re");

    *out = NULL;
    *n = 0;
    if (f == NULL)
        return ctl_fail(EX_NOINPUT, "cannot read %s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (line[0] == '\n')
            continue;
        if (*n == cap) {
            cap = cap == 0 ? 1024 : cap * 2;
            p = realloc(r, cap * sizeof(*r));
            if (p == NULL) {
                fclose(f);
                free(r);
                return ctl_fail(EX_SOFTWARE, "out of memory");
            }
            r = p;
        }
        if (sscanf(line, "%llu %127s", &index, b64) != 2 ||
            b64_decode(b64, strlen(b64), B64_STD, r[*n].leaf, HASH_BYTES, &len) != ERR_OK ||
            len != HASH_BYTES) {
            fclose(f);
            free(r);
            return ctl_fail(EX_DATAERR, "%s line %zu: expected \"<log_index> <base64 leaf hash>\"",
                            path, lineno);
        }
        r[*n].index = index;
        (*n)++;
    }
    fclose(f);
    if (*n > 0)
        qsort(r, *n, sizeof(*r), ctl_receipt_cmp);
    *out = r;
    return EX_OK;
}

struct ctl_previous {
    const char *path;
    struct note_checkpoint c;
    bool checked;
};

static int
cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char x[64], kid[KEYS_KID_LEN + 1];
    struct keys_pair *k = NULL;
    const char *out = NULL;
    enum err rc;
    int ch;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'o') {
            out = optarg;
        } else if (ch == 'h') {
            fputs(usage_keygen, stdout);
            return EX_OK;
        } else {
            fputs(usage_keygen, stderr);
            return EX_USAGE;
        }
    }
    if (out == NULL || optind != argc) {
        fputs(usage_keygen, stderr);
        return EX_USAGE;
    }
    if (keys_generate(&k) != ERR_OK)
        return ctl_fail(EX_SOFTWARE, "cannot make a key (out of memory)");
    rc = keys_save(k, out);
    if (rc != ERR_OK) {
        keys_free(k);
        return ctl_fail(EX_CANTCREAT, "cannot write %s: %s", out,
                        rc == ERR_EXISTS ? "it exists, and keys are never overwritten"
                                         : strerror(errno));
    }
    keys_public(k, pk);
    keys_free(k);
    keys_kid(pk, kid);
    if (b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)) != ERR_OK)
        return EX_SOFTWARE;
    printf("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"%s\"}\n", x, kid);
    return EX_OK;
}

static int
cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"key", required_argument, NULL, 'k'},
        {"token", required_argument, NULL, 't'}, {"previous", required_argument, NULL, 'p'},
        {"save", required_argument, NULL, 's'},  {"receipts", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct ctl_previous prev[CTL_MAX_PREVIOUS];
    struct ctl_receipt *receipts = NULL;
    size_t nreceipts = 0, next_receipt = 0;
    const char *receipts_path = NULL;
    const char *url = NULL, *key = NULL, *token = getenv("CONSENTD_TOKEN"), *save = NULL;
    uint8_t root[HASH_BYTES], leaf[HASH_BYTES];
    char path[128], hex1[65], hex2[65];
    struct note_verifier v;
    struct note_checkpoint cp;
    struct merkle_range range;
    struct ctl_buf note = {0};
    uint8_t *entry = NULL;
    size_t nprev = 0, i, n;
    uint64_t start, end;
    int ch, code;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 's':
            save = optarg;
            break;
        case 'r':
            receipts_path = optarg;
            break;
        case 'p':
            if (nprev == CTL_MAX_PREVIOUS)
                return ctl_fail(EX_USAGE, "at most %d --previous files", CTL_MAX_PREVIOUS);
            memset(&prev[nprev], 0, sizeof(prev[nprev]));
            prev[nprev++].path = optarg;
            break;
        case 'h':
            fputs(usage_verify, stdout);
            return EX_OK;
        default:
            fputs(usage_verify, stderr);
            return EX_USAGE;
        }
    }
    if (url == NULL || key == NULL || optind != argc) {
        fputs(usage_verify, stderr);
        return EX_USAGE;
    }
    code = ctl_parse_key(key, &v);
    if (code != EX_OK)
        return code;
    for (i = 0; i < nprev; i++) {
        char buf[CKPT_RECORD];
        FILE *f = fopen(prev[i].path, "re");
        if (f == NULL)
            return ctl_fail(EX_NOINPUT, "cannot read %s: %s", prev[i].path, strerror(errno));
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        if (ckpt_open_verify(&v, buf, n, &prev[i].c) != ERR_OK)
            return ctl_fail(EX_DATAERR, "%s is not a checkpoint signed by %s", prev[i].path,
                            v.name);
    }
    if (receipts_path != NULL) {
        code = ctl_load_receipts(receipts_path, &receipts, &nreceipts);
        if (code != EX_OK)
            return code;
    }
    code = ctl_checkpoint(url, &v, &cp, &note);
    if (code != EX_OK) {
        free(receipts);
        return code;
    }
    if (cp.size > 0 && token == NULL) {
        free(receipts);
        free(note.data);
        return ctl_fail(EX_USAGE, "reading entries needs the admin token: --token or "
                                  "CONSENTD_TOKEN");
    }
    merkle_range_init(&range);
    for (start = 0; start < cp.size; start = end) {
        cJSON *j = NULL;
        const cJSON *arr, *e;
        end = cp.size - start > CTL_BATCH ? start + CTL_BATCH : cp.size;
        snprintf(path, sizeof(path), "/log/entries?start=%llu&end=%llu", (unsigned long long)start,
                 (unsigned long long)end);
        code = ctl_get_json(url, path, token, &j);
        if (code != EX_OK)
            goto out;
        arr = cJSON_GetObjectItemCaseSensitive(j, "entries");
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
            cJSON_Delete(j);
            code = ctl_fail(EX_DATAERR, "GET %s: no \"entries\" array", path);
            goto out;
        }
        end = start;
        cJSON_ArrayForEach(e, arr)
        {
            size_t slen = cJSON_IsString(e) ? strlen(e->valuestring) : 0;
            free(entry);
            entry = malloc(slen + 1);
            if (entry == NULL || !cJSON_IsString(e) ||
                b64_decode(e->valuestring, slen, B64_STD, entry, slen + 1, &n) != ERR_OK ||
                n == 0) {
                cJSON_Delete(j);
                code =
                    ctl_fail(EX_DATAERR, "entry %llu is not valid base64", (unsigned long long)end);
                goto out;
            }
            merkle_leaf_hash(entry, n, leaf);
            if (merkle_range_append(&range, leaf, NULL, NULL) != ERR_OK) {
                cJSON_Delete(j);
                code = EX_SOFTWARE;
                goto out;
            }
            while (next_receipt < nreceipts && receipts[next_receipt].index == end) {
                if (!hash_equal(leaf, receipts[next_receipt].leaf)) {
                    cJSON_Delete(j);
                    code = ctl_fail(EX_DATAERR,
                                    "acknowledged write lost: entry %llu does not have the leaf "
                                    "hash its receipt gives",
                                    (unsigned long long)end);
                    goto out;
                }
                next_receipt++;
            }
            end++;
            for (i = 0; i < nprev; i++) {
                if (prev[i].c.size == range.size) {
                    merkle_range_root(&range, root);
                    if (!hash_equal(root, prev[i].c.root)) {
                        ctl_hex(root, hex1);
                        ctl_hex(prev[i].c.root, hex2);
                        cJSON_Delete(j);
                        code = ctl_fail(EX_DATAERR,
                                        "the log was rewritten: at %llu entries its root is %s, "
                                        "but the checkpoint in %s says %s",
                                        (unsigned long long)range.size, hex1, prev[i].path, hex2);
                        goto out;
                    }
                    prev[i].checked = true;
                }
            }
            if (end > cp.size)
                break;
        }
        cJSON_Delete(j);
    }
    merkle_range_root(&range, root);
    if (range.size != cp.size || !hash_equal(root, cp.root)) {
        ctl_hex(root, hex1);
        ctl_hex(cp.root, hex2);
        code = ctl_fail(EX_DATAERR,
                        "the entries do not match the checkpoint: %llu entries hash to %s, the "
                        "checkpoint says %llu entries with root %s",
                        (unsigned long long)range.size, hex1, (unsigned long long)cp.size, hex2);
        goto out;
    }
    for (i = 0; i < nprev; i++) {
        if (prev[i].c.size == 0) {
            uint8_t empty[HASH_BYTES];
            merkle_empty_root(empty);
            prev[i].checked = hash_equal(empty, prev[i].c.root);
        }
        if (!prev[i].checked) {
            code = ctl_fail(EX_DATAERR,
                            "the checkpoint in %s (%llu entries) is not part of this log, which "
                            "has %llu: it was rolled back or forked",
                            prev[i].path, (unsigned long long)prev[i].c.size,
                            (unsigned long long)cp.size);
            goto out;
        }
    }
    if (next_receipt < nreceipts) {
        code =
            ctl_fail(EX_DATAERR,
                     "acknowledged write lost: receipt for entry %llu, but the signed log has "
                     "%llu entries",
                     (unsigned long long)receipts[next_receipt].index, (unsigned long long)cp.size);
        goto out;
    }
    if (save != NULL) {
        FILE *f = fopen(save, "we");
        if (f == NULL || fwrite(note.data, 1, note.len, f) != note.len || fclose(f) != 0) {
            code = ctl_fail(EX_CANTCREAT, "cannot write %s", save);
            goto out;
        }
    }
    ctl_hex(root, hex1);
    printf("verified: %llu entries hash to root %s, signed by %s", (unsigned long long)cp.size,
           hex1, v.name);
    if (nprev > 0)
        printf("; %zu earlier checkpoint%s consistent", nprev, nprev == 1 ? " is" : "s are");
    if (receipts_path != NULL)
        printf("; %zu receipt%s found", nreceipts, nreceipts == 1 ? "" : "s");
    printf("\n");
    code = EX_OK;
out:
    free(receipts);
    free(entry);
    free(note.data);
    return code;
}

static const char usage_token_verify[] =
    "usage: consentctl token verify --url URL [--aud AUDIENCE] TOKEN\n"
    "\n"
    "Verifies an access token the way a record holder would: fetches the issuer's metadata and\n"
    "JWKS, picks the key the token's kid names, checks the EdDSA signature, typ at+jwt, iss,\n"
    "that aud holds AUDIENCE (default: the issuer), the expiry and that it was not issued in\n"
    "the future (60 s leeway each). Prints the claims and exits 0, or says what failed and\n"
    "exits 65. TOKEN may be - for standard input.\n";

/* ctl_aud_has is true if the "aud" claim is audience or an array holding it. */
static bool
ctl_aud_has(const cJSON *aud, const char *audience)
{
    const cJSON *a;

    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, audience) == 0;
    cJSON_ArrayForEach(a, aud)
    {
        if (cJSON_IsString(a) && strcmp(a->valuestring, audience) == 0)
            return true;
    }
    return false;
}

static int
cmd_token_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"aud", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *audience = NULL, *jwt, *why = NULL;
    char buf[TOKEN_MAX_LEN + 2], kid_s[KEYS_KID_LEN + 1], *text = NULL;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct jws_parts p = {0};
    cJSON *meta = NULL, *jwks = NULL;
    const cJSON *issuer, *k, *kid, *typ, *exp, *iat;
    size_t n;
    int ch, code;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'u') {
            url = optarg;
        } else if (ch == 'a') {
            audience = optarg;
        } else if (ch == 'h') {
            fputs(usage_token_verify, stdout);
            return EX_OK;
        } else {
            fputs(usage_token_verify, stderr);
            return EX_USAGE;
        }
    }
    if (url == NULL || optind != argc - 1) {
        fputs(usage_token_verify, stderr);
        return EX_USAGE;
    }
    jwt = argv[optind];
    if (strcmp(jwt, "-") == 0) {
        n = fread(buf, 1, sizeof(buf) - 1, stdin);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        buf[n] = '\0';
        jwt = buf;
    }
    code = ctl_get_json(url, "/.well-known/oauth-authorization-server", NULL, &meta);
    if (code == EX_OK)
        code = ctl_get_json(url, "/.well-known/jwks.json", NULL, &jwks);
    if (code != EX_OK)
        goto out;
    issuer = cJSON_GetObjectItemCaseSensitive(meta, "issuer");
    if (!cJSON_IsString(issuer)) {
        code = ctl_fail(EX_DATAERR, "the service's metadata has no issuer");
        goto out;
    }
    if (audience == NULL)
        audience = issuer->valuestring;
    if (jws_decode(jwt, strlen(jwt), &p, &why) != ERR_OK) {
        code = ctl_fail(EX_DATAERR, "the token is not a valid EdDSA JWS: %s",
                        why != NULL ? why : "malformed");
        goto out;
    }
    kid = cJSON_GetObjectItemCaseSensitive(p.header, "kid");
    typ = cJSON_GetObjectItemCaseSensitive(p.header, "typ");
    if (!cJSON_IsString(typ) || strcmp(typ->valuestring, "at+jwt") != 0) {
        code = ctl_fail(EX_DATAERR, "the token is not an access token (typ must be at+jwt)");
        goto out;
    }
    if (!cJSON_IsString(kid) || strlen(kid->valuestring) >= sizeof(kid_s)) {
        code = ctl_fail(EX_DATAERR, "the token names no key (kid)");
        goto out;
    }
    memcpy(kid_s, kid->valuestring, strlen(kid->valuestring) + 1);
    jws_parts_clear(&p);
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(jwks, "keys"))
    {
        const cJSON *kk = cJSON_GetObjectItemCaseSensitive(k, "kid");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(k, "x");
        if (cJSON_IsString(kk) && strcmp(kk->valuestring, kid_s) == 0 && cJSON_IsString(x) &&
            b64_decode(x->valuestring, strlen(x->valuestring), B64_URL, pk, sizeof(pk), &n) ==
                ERR_OK &&
            n == KEYS_PUBLIC_BYTES)
            break;
    }
    if (k == NULL) {
        code = ctl_fail(EX_DATAERR, "no key in the service's JWKS has the token's kid");
        goto out;
    }
    if (jws_verify(jwt, strlen(jwt), pk, &p, &why) != ERR_OK) {
        code = ctl_fail(EX_DATAERR, "the token's signature does not verify with the JWKS key");
        goto out;
    }
    issuer = cJSON_GetObjectItemCaseSensitive(meta, "issuer");
    exp = cJSON_GetObjectItemCaseSensitive(p.payload, "exp");
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p.payload, "iss")) ||
        strcmp(cJSON_GetObjectItemCaseSensitive(p.payload, "iss")->valuestring,
               issuer->valuestring) != 0) {
        code = ctl_fail(EX_DATAERR, "the token's iss is not the service's issuer");
        goto out;
    }
    if (!ctl_aud_has(cJSON_GetObjectItemCaseSensitive(p.payload, "aud"), audience)) {
        code = ctl_fail(EX_DATAERR, "the token's aud does not include %s", audience);
        goto out;
    }
    if (!cJSON_IsNumber(exp) || exp->valuedouble + TOKEN_LEEWAY <= (double)time(NULL)) {
        code = ctl_fail(EX_DATAERR, "the token has expired");
        goto out;
    }
    /* A token from the future means one of the two clocks is wrong (RELIABILITY D13). */
    iat = cJSON_GetObjectItemCaseSensitive(p.payload, "iat");
    if (!cJSON_IsNumber(iat) || iat->valuedouble > (double)time(NULL) + TOKEN_LEEWAY) {
        code = ctl_fail(EX_DATAERR, "the token was issued in the future; check this clock");
        goto out;
    }
    text = cJSON_Print(p.payload);
    printf("%s\nverified: signed by %s's key %s, for %s\n", text != NULL ? text : "{}",
           issuer->valuestring, kid_s, audience);
    code = EX_OK;
out:
    free(text);
    jws_parts_clear(&p);
    cJSON_Delete(meta);
    cJSON_Delete(jwks);
    return code;
}

static int
cmd_inclusion(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"key", required_argument, NULL, 'k'},
        {"index", required_argument, NULL, 'i'}, {"token", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    const char *url = NULL, *key = NULL, *index_s = NULL, *token = getenv("CONSENTD_TOKEN");
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], leaf[HASH_BYTES], mine[HASH_BYTES];
    struct note_verifier v;
    struct note_checkpoint cp;
    struct ctl_buf note = {0};
    const cJSON *arr, *e;
    cJSON *j = NULL;
    char path[128], *end;
    unsigned long long index;
    size_t count = 0;
    int ch, code;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'i':
            index_s = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'h':
            fputs(usage_inclusion, stdout);
            return EX_OK;
        default:
            fputs(usage_inclusion, stderr);
            return EX_USAGE;
        }
    }
    if (url == NULL || key == NULL || index_s == NULL || optind != argc) {
        fputs(usage_inclusion, stderr);
        return EX_USAGE;
    }
    errno = 0;
    index = strtoull(index_s, &end, 10);
    if (errno != 0 || *end != '\0' || index_s[0] < '0' || index_s[0] > '9')
        return ctl_fail(EX_USAGE, "--index must be a whole number");
    code = ctl_parse_key(key, &v);
    if (code != EX_OK)
        return code;
    code = ctl_checkpoint(url, &v, &cp, &note);
    if (code != EX_OK)
        return code;
    if (index >= cp.size) {
        code = ctl_fail(EX_DATAERR, "entry %llu is not in the signed log of %llu entries", index,
                        (unsigned long long)cp.size);
        goto out;
    }
    snprintf(path, sizeof(path), "/log/proof/inclusion?index=%llu&size=%llu", index,
             (unsigned long long)cp.size);
    code = ctl_get_json(url, path, NULL, &j);
    if (code != EX_OK)
        goto out;
    arr = cJSON_GetObjectItemCaseSensitive(j, "proof");
    if (ctl_decode_hash(cJSON_GetObjectItemCaseSensitive(j, "leaf_hash"), leaf) != 0 ||
        !cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > MERKLE_MAX_PROOF) {
        code = ctl_fail(EX_DATAERR, "the inclusion proof is malformed");
        goto out;
    }
    cJSON_ArrayForEach(e, arr)
    {
        if (ctl_decode_hash(e, proof[count]) != 0) {
            code = ctl_fail(EX_DATAERR, "the inclusion proof holds a malformed hash");
            goto out;
        }
        count++;
    }
    if (merkle_verify_inclusion(index, cp.size, leaf, (const uint8_t(*)[HASH_BYTES])proof, count,
                                cp.root) != ERR_OK) {
        code = ctl_fail(EX_DATAERR,
                        "the inclusion proof of entry %llu does not verify against "
                        "the signed checkpoint",
                        index);
        goto out;
    }
    if (token != NULL) {
        cJSON *ej = NULL;
        const cJSON *first;
        uint8_t *bytes;
        size_t slen, n;
        snprintf(path, sizeof(path), "/log/entries?start=%llu&end=%llu", index, index + 1);
        code = ctl_get_json(url, path, token, &ej);
        if (code != EX_OK)
            goto out;
        first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ej, "entries"), 0);
        slen = cJSON_IsString(first) ? strlen(first->valuestring) : 0;
        bytes = malloc(slen + 1);
        if (bytes == NULL || slen == 0 ||
            b64_decode(first->valuestring, slen, B64_STD, bytes, slen + 1, &n) != ERR_OK) {
            free(bytes);
            cJSON_Delete(ej);
            code = ctl_fail(EX_DATAERR, "entry %llu could not be read", index);
            goto out;
        }
        merkle_leaf_hash(bytes, n, mine);
        free(bytes);
        cJSON_Delete(ej);
        if (!hash_equal(mine, leaf)) {
            code = ctl_fail(EX_DATAERR, "entry %llu does not hash to the proven leaf", index);
            goto out;
        }
    }
    printf("verified: entry %llu is in the log of %llu entries signed by %s%s\n", index,
           (unsigned long long)cp.size, v.name,
           token != NULL ? ", and its bytes hash to the proven leaf" : "");
    code = EX_OK;
out:
    cJSON_Delete(j);
    free(note.data);
    return code;
}

int
main(int argc, char **argv)
{
    int code;

    if (argc < 2) {
        fputs(usage_main, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_main, stdout);
        return EX_OK;
    }
    if (hash_init() != ERR_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return ctl_fail(EX_SOFTWARE, "cannot initialise the crypto or HTTP libraries");
    if (strcmp(argv[1], "keygen") == 0) {
        code = cmd_keygen(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "audit") == 0 && argc >= 3 && strcmp(argv[2], "verify") == 0 &&
               ctl_audit_online(argc - 2, argv + 2)) {
        code = cmd_verify(argc - 2, argv + 2);
    } else if (strcmp(argv[1], "audit") == 0 && argc >= 3 && strcmp(argv[2], "inclusion") == 0) {
        code = cmd_inclusion(argc - 2, argv + 2);
    } else if (strcmp(argv[1], "audit") == 0) {
        code = ctl_audit_main(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "token") == 0 && argc >= 3 && strcmp(argv[2], "verify") == 0) {
        code = cmd_token_verify(argc - 2, argv + 2);
        /* command groups */
    } else if (strcmp(argv[1], "admin") == 0) {
        code = ctl_admin_main(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "client") == 0) {
        code = ctl_client_main(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "patient") == 0 && argc >= 3 &&
               (strcmp(argv[2], "grant") == 0 || strcmp(argv[2], "deny") == 0 ||
                strcmp(argv[2], "revoke") == 0 || strcmp(argv[2], "delegate") == 0 ||
                strcmp(argv[2], "consents") == 0)) {
        /* "patient grant|deny|revoke|delegate|consents" are the consent group's commands. */
        if (strcmp(argv[2], "consents") == 0)
            argv[2] = (char *)(uintptr_t) "list";
        code = ctl_consent_main(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "patient") == 0) {
        code = ctl_patient_main(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "consent") == 0 || strcmp(argv[1], "decide") == 0) {
        code = ctl_consent_main(argc - 1, argv + 1);
    } else {
        fprintf(stderr, "consentctl: unknown command \"%s%s%s\"\n\n%s", argv[1],
                argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "", usage_main);
        code = EX_USAGE;
    }
    curl_global_cleanup();
    return code;
}
