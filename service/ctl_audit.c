/*
 * ctl_audit: `consentctl audit fetch|verify|state-at|access|consistency`: an auditor's copy of
 * the log (auditlog.h), fetched and verified without trusting the operator, and replayed
 * (audit.h) to answer who could read what, and every access to a person's records.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <cJSON.h>

#include "consentd/access.h"
#include "consentd/audit.h"
#include "consentd/auditlog.h"
#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/ctl.h"
#include "consentd/json.h"
#include "consentd/policy.h"
#include "consentd/rebuild.h"
#include "consentd/xmalloc.h"

#define CTL_AUDIT_BATCH     1000 /* entries a GET /log/entries gives at most */
#define CTL_AUDIT_POLICY    "policies/default.json"
#define CTL_AUDIT_STATE_MAP (64ull * 1024 * 1024 * 1024)
#define CTL_AUDIT_MAX_ORGS  10000 /* organisations state-at considers */
#define CTL_AUDIT_MAX_PAIRS 256   /* (organisation, purpose) pairs state-at decides per person */

static const char usage_audit[] =
    "usage: consentctl audit <command> [options]\n"
    "\n"
    "commands:\n"
    "  fetch        copy the log into a local directory (resumable), verifying as it goes\n"
    "  verify       check the local copy: tree, checkpoints, signatures and every rule\n"
    "  state-at     who could read what about whom at a moment\n"
    "  access       every access to a person's records, with the grant or reason behind it\n"
    "  consistency  check two checkpoint files against each other\n"
    "  inclusion    check that one entry is in the signed log (online)\n"
    "\n"
    "`consentctl audit verify --url URL --key KEY` checks a running service directly.\n"
    "Run `consentctl audit <command> --help` for a command's options; docs/auditing.md says\n"
    "what each proves and what it cannot. Exit codes: 0 verified, 64 usage, 65 findings (the\n"
    "log broke a rule or is inconsistent), 66 no copy, 69 service unreachable, 73 cannot\n"
    "write the copy, 74 the copy cannot be read.\n";

static const char usage_fetch[] =
    "usage: consentctl audit fetch --url URL --dir DIR [--key VERIFIER_KEY] [--token TOKEN]\n"
    "\n"
    "Copies the log served at URL into DIR, or brings an earlier copy up to date (only the new\n"
    "entries are fetched). The first fetch needs --key (the log-key `consentd init` printed, or\n"
    "GET /log/key, obtained out of band); it is kept in DIR/key. Before anything is committed\n"
    "the new checkpoint must be signed by that key, and the copy's entries with the new ones\n"
    "must hash to its root: the old checkpoint is then consistent with the new one. If not, the\n"
    "copy is left as it was, the inconsistent checkpoint is kept in DIR/checkpoints/ as\n"
    "evidence (name ending .refused), the entry where the logs part is named, and the exit code\n"
    "is 65. Entries need the admin token or a client token with scope audit (--token or\n"
    "CONSENTD_TOKEN).\n";

static const char usage_verify_dir[] =
    "usage: consentctl audit verify --dir DIR [--policy FILE] [--no-replay] [--state DATA_DIR]\n"
    "                               [--json]\n"
    "\n"
    "Checks the local copy in DIR without the network: every entry hashes into the signed root\n"
    "(a changed, dropped or moved entry is named by index); every checkpoint kept in\n"
    "DIR/checkpoints/ is consistent with the copy (forks and rollbacks are named with both\n"
    "checkpoints); and, unless --no-replay, replays every entry through the service's own state\n"
    "function, which checks every patient signature with the key the log says the signer held\n"
    "then, and checks each access against the consent decision at its time (or a break-glass\n"
    "reason), the clients' roles (under the policy FILE, default " CTL_AUDIT_POLICY ") and\n"
    "retirements, and token-key rotations. --state DATA_DIR also compares the replayed state\n"
    "with the state tables of a consentd data directory (stopped, or a copy of one). Prints\n"
    "every finding (index, rule, sentence); --json prints them as JSON. Exit 0 if there is\n"
    "none, 65 if there is any.\n";

static const char usage_state_at[] =
    "usage: consentctl audit state-at TIME --dir DIR [--policy FILE] [--json]\n"
    "\n"
    "Replays the copy in DIR up to TIME (YYYY-MM-DD for midnight UTC, or\n"
    "YYYY-MM-DDTHH:MM:SSZ) and prints, for each enrolled person, which organisations could read\n"
    "which data categories for which purpose at that moment, and the grant or policy rule\n"
    "behind each: the decision the token endpoint would have made then.\n";

static const char usage_access[] =
    "usage: consentctl audit access NHS --dir DIR [--policy FILE] [--json]\n"
    "\n"
    "Replays the copy in DIR and prints every access to the person NHS's records, newest\n"
    "first: when, which client of which organisation, for which purpose and data, and the\n"
    "grants (with their terms) or the break-glass reason behind it, with any finding about it.\n";

static const char usage_consistency[] =
    "usage: consentctl audit consistency OLD NEW (--dir DIR | --key KEY --url URL)\n"
    "\n"
    "Checks two checkpoint files (signed notes as GET /log/checkpoint serves them): both must be\n"
    "signed by the log's key (DIR/key, or --key), and the tree NEW signs must extend the tree\n"
    "OLD signs. With --dir the roots are recomputed from the local copy's entries; with --url\n"
    "the service's consistency proof is checked (RFC 9162). Exit 0 if consistent, 65 if not.\n";

/* The options every offline command shares. */
struct ctl_audit_opts {
    const char *dir;
    const char *policy;
    const char *state;
    bool json;
    bool no_replay;
};

static int
ctl_audit_open(const char *dir, bool writable, struct auditlog **l)
{
    char why[AUDITLOG_WHY_MAX];
    enum err rc = auditlog_open(dir, writable, l, why);

    if (rc == ERR_OK)
        return EX_OK;
    return ctl_fail(rc == ERR_NOTFOUND  ? EX_NOINPUT
                    : rc == ERR_UNAVAIL ? EX_TEMPFAIL
                    : rc == ERR_IO      ? EX_IOERR
                                        : EX_DATAERR,
                    "%s", why);
}

static int
ctl_audit_policy(const char *path, struct policy **pol)
{
    char why[256];

    if (policy_load(path, pol, why, sizeof(why)) != ERR_OK)
        return ctl_fail(EX_NOINPUT, "cannot load the policy %s: %s (give it with --policy)", path,
                        why);
    return EX_OK;
}

static void
ctl_audit_hex(const uint8_t *h, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/*
 * ctl_audit_entries fetches entries [start, end) (at most CTL_AUDIT_BATCH) and calls fn on each.
 * Returns EX_OK, or an exit code after saying why.
 */
typedef int (*ctl_audit_entry_fn)(void *ctx, uint64_t index, const uint8_t *entry, size_t len);

static int
ctl_audit_entries(const char *url, const char *token, uint64_t start, uint64_t end,
                  ctl_audit_entry_fn fn, void *ctx)
{
    char path[128];
    const cJSON *arr, *e;
    uint8_t *buf = xmalloc(TLOG_MAX_ENTRY * 4 / 3 + 8);
    uint64_t index = start;
    cJSON *j = NULL;
    size_t n, slen;
    int code;

    snprintf(path, sizeof(path), "/log/entries?start=%" PRIu64 "&end=%" PRIu64, start, end);
    code = ctl_get_json(url, path, token, &j);
    if (code != EX_OK)
        goto out;
    arr = cJSON_GetObjectItemCaseSensitive(j, "entries");
    if (!cJSON_IsArray(arr) || (uint64_t)cJSON_GetArraySize(arr) != end - start) {
        code = ctl_fail(EX_DATAERR, "GET %s: expected %" PRIu64 " entries", path, end - start);
        goto out;
    }
    cJSON_ArrayForEach(e, arr)
    {
        slen = cJSON_IsString(e) ? strlen(e->valuestring) : 0;
        if (slen == 0 || slen > TLOG_MAX_ENTRY * 4 / 3 + 4 ||
            b64_decode(e->valuestring, slen, B64_STD, buf, TLOG_MAX_ENTRY, &n) != ERR_OK ||
            n == 0) {
            code =
                ctl_fail(EX_DATAERR, "entry %" PRIu64 " as served is not base64 of 1 to %d bytes",
                         index, TLOG_MAX_ENTRY);
            goto out;
        }
        code = fn(ctx, index++, buf, n);
        if (code != EX_OK)
            goto out;
    }
out:
    cJSON_Delete(j);
    free(buf);
    return code;
}

/* What a fetch accumulates between commits of the batch to the files. */
struct ctl_fetch {
    struct merkle_range r;
    uint8_t *bundle;
    size_t bundle_len, bundle_cap;
    uint8_t (*leaves)[HASH_BYTES];
    uint64_t n;
};

static int
ctl_fetch_one(void *ctx, uint64_t index, const uint8_t *entry, size_t len)
{
    struct ctl_fetch *f = ctx;

    (void)index;
    if (auditlog_bundle_add(&f->bundle, &f->bundle_len, &f->bundle_cap, entry, len) != ERR_OK)
        return ctl_fail(EX_DATAERR, "entry %" PRIu64 " is longer than an entry may be", index);
    merkle_leaf_hash(entry, len, f->leaves[f->n]);
    (void)merkle_range_append(&f->r, f->leaves[f->n], NULL, NULL);
    f->n++;
    return EX_OK;
}

/* The other log's leaf hashes, fetched to find where it parts from the copy. */
struct ctl_other {
    uint8_t (*leaves)[HASH_BYTES];
    struct merkle_range r;
};

static int
ctl_other_one(void *ctx, uint64_t index, const uint8_t *entry, size_t len)
{
    struct ctl_other *o = ctx;

    merkle_leaf_hash(entry, len, o->leaves[index]);
    (void)merkle_range_append(&o->r, o->leaves[index], NULL, NULL);
    return EX_OK;
}

/*
 * ctl_fetch_inconsistent explains why the log's checkpoint b (note) does not extend the copy:
 * it fetches b's entries, checks them against b's root, finds the first entry where they part
 * from the copy's, keeps b as evidence and reports both checkpoints. Returns the exit code.
 */
static int
ctl_fetch_inconsistent(struct auditlog *l, const char *url, const char *token, const char *note,
                       size_t note_len, const struct note_checkpoint *b)
{
    char why[AUDITLOG_WHY_MAX], name[AUDITLOG_NAME_MAX];
    uint8_t(*mine)[HASH_BYTES] = NULL, root[HASH_BYTES];
    struct ctl_other o;
    uint64_t start, end, k, both;
    int code;

    if (b->size > 100000000) /* 100 million entries: 3.2 GB of leaf hashes */
        return ctl_fail(EX_DATAERR,
                        "the log's checkpoint (%" PRIu64 " entries) is not consistent with the "
                        "copy's (%" PRIu64 ")",
                        b->size, l->cp.size);
    o.leaves = xmalloc((size_t)(b->size > 0 ? b->size : 1) * HASH_BYTES);
    merkle_range_init(&o.r);
    for (start = 0, code = EX_OK; code == EX_OK && start < b->size; start = end) {
        end = b->size - start > CTL_AUDIT_BATCH ? start + CTL_AUDIT_BATCH : b->size;
        code = ctl_audit_entries(url, token, start, end, ctl_other_one, &o);
    }
    if (code != EX_OK)
        goto out;
    merkle_range_root(&o.r, root);
    if (!hash_equal(root, b->root)) {
        code = ctl_fail(EX_DATAERR,
                        "the service serves entries that do not hash to its own checkpoint of "
                        "%" PRIu64 " entries: it is broken or lying; nothing was changed",
                        b->size);
        goto out;
    }
    if (auditlog_leaves(l, l->cp.size, &mine) != ERR_OK) {
        code = ctl_fail(EX_DATAERR,
                        "the copy's leaf cache is damaged: run `consentctl audit "
                        "verify --dir %s`",
                        l->dir);
        goto out;
    }
    both = l->cp.size < b->size ? l->cp.size : b->size;
    for (k = 0; k < both; k++)
        if (!hash_equal(mine[k], o.leaves[k]))
            break;
    if (auditlog_keep(l, note, note_len, true, name, why) != ERR_OK) {
        code = ctl_fail(EX_CANTCREAT, "%s", why);
        goto out;
    }
    if (k < both)
        code = ctl_fail(EX_DATAERR,
                        "fork at entry %" PRIu64 ": the log signed in %s/checkpoint (%" PRIu64
                        " entries) and the log signed in %s/checkpoints/%s (%" PRIu64
                        " entries) hold different entries there, both signed by %s",
                        k, l->dir, l->cp.size, l->dir, name, b->size, l->key.name);
    else
        code = ctl_fail(EX_DATAERR,
                        "rollback at entry %" PRIu64 ": the log signed %s/checkpoint (%" PRIu64
                        " entries) and now serves %s/checkpoints/%s (%" PRIu64
                        " entries), a smaller tree: entries %" PRIu64 " on are gone",
                        b->size, l->dir, l->cp.size, l->dir, name, b->size, b->size);
out:
    free(mine);
    free(o.leaves);
    return code;
}

static int
cmd_fetch(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'}, {"dir", required_argument, NULL, 'd'},
        {"key", required_argument, NULL, 'k'}, {"token", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    const char *url = NULL, *dir = NULL, *key = NULL, *token = NULL;
    char why[AUDITLOG_WHY_MAX], hex[2 * HASH_BYTES + 1];
    struct note_verifier v;
    struct note_checkpoint b;
    struct auditlog *l = NULL;
    struct ctl_fetch f;
    struct ctl_buf note = {0};
    uint64_t start, end, old;
    bool rehashed = false;
    long status = 0;
    enum err rc;
    int ch, code;

    memset(&f, 0, sizeof(f));
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'h':
            fputs(usage_fetch, stdout);
            return EX_OK;
        default:
            fputs(usage_fetch, stderr);
            return EX_USAGE;
        }
    }
    if (url == NULL || dir == NULL || optind != argc) {
        fputs(usage_fetch, stderr);
        return EX_USAGE;
    }
    token = ctl_token(token);
    if (key != NULL && note_verifier_parse(key, strlen(key), &v) != ERR_OK)
        return ctl_fail(EX_USAGE, "--key must be a verifier key NAME+HASH+BASE64 as `consentd "
                                  "init` printed (log-key) or GET /log/key serves");
    rc = auditlog_open(dir, true, &l, why);
    if (rc == ERR_NOTFOUND) {
        if (key == NULL)
            return ctl_fail(EX_USAGE, "%s holds no copy yet: the first fetch needs --key", dir);
        rc = auditlog_create(dir, &v, &l, why);
        if (rc != ERR_OK)
            return ctl_fail(EX_CANTCREAT, "%s", why);
    } else if (rc != ERR_OK) {
        return ctl_fail(rc == ERR_UNAVAIL ? EX_TEMPFAIL : EX_DATAERR, "%s", why);
    } else if (key != NULL && (strcmp(v.name, l->key.name) != 0 || v.key_hash != l->key.key_hash ||
                               memcmp(v.pk, l->key.pk, sizeof(v.pk)) != 0)) {
        code = ctl_fail(EX_USAGE, "--key is not the key the copy in %s was made with (%s/key)", dir,
                        dir);
        goto out;
    }
    code = ctl_get(url, "/log/checkpoint", NULL, &note, &status);
    if (code != EX_OK)
        goto out;
    if (status != 200) {
        code = ctl_fail(EX_UNAVAILABLE, "GET /log/checkpoint answered %ld", status);
        goto out;
    }
    if (ckpt_open_verify(&l->key, note.data, note.len, &b) != ERR_OK) {
        code = ctl_fail(EX_DATAERR,
                        "the served checkpoint is not a checkpoint of %s signed by "
                        "its key; nothing was changed",
                        l->key.name);
        goto out;
    }
    old = l->cp.size;
    if (b.size < old || (b.size == old && !hash_equal(b.root, l->cp.root))) {
        code = ctl_fetch_inconsistent(l, url, token, note.data, note.len, &b);
        goto out;
    }
    if (b.size == old && l->has_checkpoint) {
        printf("up to date: %" PRIu64 " entries, signed by %s\n", old, l->key.name);
        code = EX_OK;
        goto out;
    }
    if (b.size > 0 && token == NULL) {
        code = ctl_fail(EX_USAGE, "reading entries needs the admin token or a client token with "
                                  "scope audit: --token or CONSENTD_TOKEN");
        goto out;
    }
    rc = auditlog_frontier(l, &f.r, &rehashed, why);
    if (rc != ERR_OK) {
        code = ctl_fail(EX_DATAERR, "%s", why);
        goto out;
    }
    f.leaves = xmalloc(CTL_AUDIT_BATCH * HASH_BYTES);
    for (start = old; start < b.size; start = end) {
        end = b.size - start > CTL_AUDIT_BATCH ? start + CTL_AUDIT_BATCH : b.size;
        f.n = 0;
        f.bundle_len = 0;
        code = ctl_audit_entries(url, token, start, end, ctl_fetch_one, &f);
        if (code != EX_OK)
            goto out;
        rc = auditlog_append(l, f.bundle, f.bundle_len, f.n, (const uint8_t(*)[HASH_BYTES])f.leaves,
                             why);
        if (rc != ERR_OK) {
            code = ctl_fail(EX_CANTCREAT, "%s", why);
            goto out;
        }
    }
    rc = auditlog_commit(l, note.data, note.len, &f.r, why);
    if (rc == ERR_BADSIG) {
        /* The entries served do not reach the new root from the copy's: find where. */
        code = ctl_fetch_inconsistent(l, url, token, note.data, note.len, &b);
        goto out;
    }
    if (rc != ERR_OK) {
        code = ctl_fail(EX_CANTCREAT, "%s", why);
        goto out;
    }
    ctl_audit_hex(b.root, HASH_BYTES, hex);
    printf("fetched %" PRIu64 " new entries (%" PRIu64 " to %" PRIu64
           "); the copy in %s holds %" PRIu64 " entries with root %s, signed by %s%s\n",
           b.size - old, old, b.size, dir, b.size, hex, l->key.name,
           rehashed ? " (the copy's own entries were rehashed: its leaf cache did not match)" : "");
    code = EX_OK;
out:
    free(note.data);
    free(f.bundle);
    free(f.leaves);
    auditlog_close(l);
    return code;
}

static const char *
ctl_audit_index(uint64_t index, char buf[static 24])
{
    if (index == AUDIT_NO_INDEX)
        return "-";
    snprintf(buf, 24, "%" PRIu64, index);
    return buf;
}

static cJSON *
ctl_audit_finding_json(const struct audit_finding *f)
{
    cJSON *o = cJSON_CreateObject();

    if (f->index == AUDIT_NO_INDEX)
        cJSON_AddNullToObject(o, "index");
    else
        json_add_u64(o, "index", f->index);
    cJSON_AddStringToObject(o, "rule", f->rule);
    cJSON_AddStringToObject(o, "text", f->text);
    return o;
}

static void
ctl_audit_print_json(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);

    if (s != NULL)
        printf("%s\n", s);
    free(s);
}

/*
 * ctl_audit_replay opens the copy and runs the audit up to until (-1: all), with a policy
 * unless no_replay. On EX_OK *a and *l are the caller's (audit_free, auditlog_close).
 */
static int
ctl_audit_replay(const struct ctl_audit_opts *o, int64_t until, struct policy **pol,
                 struct auditlog **l, struct audit **a)
{
    char why[AUDITLOG_WHY_MAX];
    enum err rc;
    int code;

    *pol = NULL;
    *a = NULL;
    code = ctl_audit_open(o->dir, false, l);
    if (code != EX_OK)
        return code;
    if (!o->no_replay) {
        code = ctl_audit_policy(o->policy, pol);
        if (code != EX_OK)
            goto fail;
    }
    rc = audit_new(*pol, a);
    if (rc != ERR_OK) {
        code =
            ctl_fail(EX_CANTCREAT, "cannot make a scratch store for the replay (%s)", err_str(rc));
        goto fail;
    }
    rc = audit_run(*a, *l, until, why);
    if (rc != ERR_OK) {
        code = ctl_fail(EX_IOERR, "%s", rc == ERR_IO ? why : err_str(rc));
        goto fail;
    }
    return EX_OK;
fail:
    audit_free(*a);
    *a = NULL;
    policy_free(*pol);
    *pol = NULL;
    auditlog_close(*l);
    *l = NULL;
    return code;
}

/* ctl_audit_compare compares the replayed state with a consentd data directory's tables. */
static int
ctl_audit_compare(struct audit *a, const char *data)
{
    char path[PATH_MAX], report[512];
    struct store *s = NULL;
    enum err rc;

    snprintf(path, sizeof(path), "%s/lmdb", data);
    rc = store_open(path, CTL_AUDIT_STATE_MAP, &s);
    if (rc != ERR_OK)
        return ctl_fail(EX_NOINPUT, "cannot open the state store in %s", path);
    rc = rebuild_compare_stores(s, audit_store(a), report, sizeof(report));
    store_close(s);
    if (rc == ERR_CONFLICT) {
        audit_finding_add(a, AUDIT_NO_INDEX, "state",
                          "the state in %s is not the state the log derives: %s", data, report);
        return EX_OK;
    }
    if (rc != ERR_OK)
        return ctl_fail(EX_IOERR, "cannot compare with %s (%s)", path, err_str(rc));
    return EX_OK;
}

static int
ctl_audit_parse(int argc, char **argv, const char *usage, bool verify, struct ctl_audit_opts *o,
                const char **arg)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"no-replay", no_argument, NULL, 'n'},
                                         {"state", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;

    memset(o, 0, sizeof(*o));
    o->policy = CTL_AUDIT_POLICY;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->dir = optarg;
            break;
        case 'p':
            o->policy = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'n':
        case 's':
            if (!verify) {
                fputs(usage, stderr);
                return EX_USAGE;
            }
            if (ch == 'n')
                o->no_replay = true;
            else
                o->state = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            fputs(usage, stderr);
            return EX_USAGE;
        }
    }
    if (o->dir == NULL || optind != argc - (arg != NULL ? 1 : 0) ||
        (o->no_replay && o->state != NULL)) {
        fputs(usage, stderr);
        return EX_USAGE;
    }
    if (arg != NULL)
        *arg = argv[optind];
    return EX_OK;
}

static int
cmd_verify_dir(int argc, char **argv)
{
    struct ctl_audit_opts o;
    const struct audit_finding *f;
    const struct audit_stats *st;
    struct policy *pol = NULL;
    struct auditlog *l = NULL;
    struct audit *a = NULL;
    char idx[24], hex[2 * HASH_BYTES + 1];
    cJSON *j, *arr;
    size_t n, i;
    int code;

    code = ctl_audit_parse(argc, argv, usage_verify_dir, true, &o, NULL);
    if (code != EX_OK)
        return code == -1 ? EX_OK : code;
    code = ctl_audit_replay(&o, -1, &pol, &l, &a);
    if (code != EX_OK)
        return code;
    if (o.state != NULL) {
        code = ctl_audit_compare(a, o.state);
        if (code != EX_OK)
            goto out;
    }
    f = audit_findings(a, &n);
    st = audit_stats(a);
    ctl_audit_hex(l->cp.root, HASH_BYTES, hex);
    if (o.json) {
        j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ok", st->findings == 0);
        json_add_u64(j, "size", l->cp.size);
        cJSON_AddStringToObject(j, "root", hex);
        cJSON_AddStringToObject(j, "key", l->key.name);
        cJSON_AddBoolToObject(j, "replayed", !o.no_replay);
        json_add_u64(j, "entries", st->entries);
        json_add_u64(j, "checkpoints", st->checkpoints);
        json_add_u64(j, "signatures", st->signed_checks);
        json_add_u64(j, "accesses", st->accesses);
        json_add_u64(j, "break_glass", st->break_glass);
        json_add_u64(j, "key_rotations", st->key_rotations);
        json_add_u64(j, "finding_count", st->findings);
        arr = cJSON_AddArrayToObject(j, "findings");
        for (i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, ctl_audit_finding_json(&f[i]));
        ctl_audit_print_json(j);
        cJSON_Delete(j);
    } else {
        for (i = 0; i < n; i++)
            printf("finding: entry %s: %s: %s\n", ctl_audit_index(f[i].index, idx), f[i].rule,
                   f[i].text);
        if (st->findings > n)
            printf("… and %" PRIu64 " more findings\n", st->findings - n);
        printf("%s: %" PRIu64 " entries (root %s, signed by %s), %" PRIu64
               " kept checkpoints checked",
               st->findings == 0 ? "verified" : "NOT verified", l->cp.size, hex, l->key.name,
               st->checkpoints);
        if (!o.no_replay)
            printf("; replayed: %" PRIu64 " patient signatures, %" PRIu64 " accesses (%" PRIu64
                   " break-glass), %" PRIu64 " key rotations checked",
                   st->signed_checks, st->accesses, st->break_glass, st->key_rotations);
        if (o.state != NULL && st->findings == 0)
            printf("; the state in %s is the state the log derives", o.state);
        printf("; %" PRIu64 " finding%s\n", st->findings, st->findings == 1 ? "" : "s");
    }
    code = st->findings == 0 ? EX_OK : EX_DATAERR;
out:
    audit_free(a);
    policy_free(pol);
    auditlog_close(l);
    return code;
}

/* ctl_audit_time reads YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ. */
static bool
ctl_audit_time(const char *s, int64_t *t)
{
    char buf[CONSENTS_TIME_LEN + 1];

    if (strlen(s) == 10) {
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        return consents_time_parse(buf, t) == ERR_OK;
    }
    return consents_time_parse(s, t) == ERR_OK;
}

/* The organisations of the state, for state-at. */
struct ctl_orgs {
    struct store_txn *t;
    size_t n;
    char ods[CTL_AUDIT_MAX_ORGS][CONSENTS_ODS_MAX + 1];
};

static enum err
ctl_orgs_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct ctl_orgs *o = ctx;

    (void)val;
    (void)val_len;
    if (o->n == CTL_AUDIT_MAX_ORGS || key_len > CONSENTS_ODS_MAX)
        return ERR_TOOBIG;
    memcpy(o->ods[o->n], key, key_len);
    o->ods[o->n][key_len] = '\0';
    o->n++;
    return ERR_OK;
}

struct ctl_pair {
    const char *org;
    char purpose[CONSENTS_PURPOSE_MAX + 1];
};

/* What state-at gathers for one person: the (organisation, purpose) pairs to decide. */
struct ctl_person {
    const struct ctl_orgs *orgs;
    struct store_txn *t;
    int64_t at;
    size_t n;
    struct ctl_pair pairs[CTL_AUDIT_MAX_PAIRS];
};

static void
ctl_person_add(struct ctl_person *p, const char *org, const char *purpose)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (strcmp(p->pairs[i].org, org) == 0 && strcmp(p->pairs[i].purpose, purpose) == 0)
            return;
    if (p->n == CTL_AUDIT_MAX_PAIRS)
        return;
    p->pairs[p->n].org = org;
    snprintf(p->pairs[p->n].purpose, sizeof(p->pairs[p->n].purpose), "%s", purpose);
    p->n++;
}

static enum err
ctl_person_grant(void *ctx, const struct consents_record *rec)
{
    struct ctl_person *p = ctx;
    char type[CONSENTS_NAME_MAX + 1];
    size_t i;

    if (rec->g.effect != CONSENT_PERMIT || consents_status(rec, p->at) != CONSENTS_ACTIVE)
        return ERR_OK;
    for (i = 0; i < p->orgs->n; i++) {
        const char *ods = p->orgs->ods[i];
        bool match =
            rec->g.grantee == CONSENT_GRANTEE_ANY ||
            (rec->g.grantee == CONSENT_GRANTEE_ORG && strcmp(rec->g.grantee_value, ods) == 0) ||
            (rec->g.grantee == CONSENT_GRANTEE_ROLE &&
             consents_org_type(p->t, ods, type) == ERR_OK &&
             strcmp(type, rec->g.grantee_value) == 0);
        if (match)
            ctl_person_add(p, ods, rec->g.purpose);
    }
    return ERR_OK;
}

/* ctl_state_person decides each pair for the person nhs and adds what is permitted to out. */
static enum err
ctl_state_person(struct store_txn *t, const struct policy *pol, const struct ctl_orgs *orgs,
                 const char *nhs, int64_t at, cJSON *out)
{
    struct ctl_person *p = xcalloc(1, sizeof(*p));
    struct consent_decision *dec = xcalloc(1, sizeof(*dec));
    char org_type[CONSENTS_NAME_MAX + 1];
    struct consent_request req;
    struct consents_set set;
    cJSON *person, *list, *item, *dts, *basis, *b;
    unsigned c, k, ncat = policy_category_count(pol);
    bool yes;
    size_t i;
    enum err rc = ERR_OK;

    p->orgs = orgs;
    p->t = t;
    p->at = at;
    consents_set_init(&set);
    for (i = 0; i < orgs->n; i++)
        if (consents_enrolled_by(t, nhs, orgs->ods[i], &yes) == ERR_OK && yes)
            ctl_person_add(p, orgs->ods[i], CONSENTS_IMPLIED_PURPOSE);
    rc = consents_list(t, nhs, ctl_person_grant, p);
    if (rc != ERR_OK)
        goto out;
    person = cJSON_CreateObject();
    cJSON_AddItemToArray(out, person);
    cJSON_AddStringToObject(person, "nhs", nhs);
    list = cJSON_AddArrayToObject(person, "may_read");
    for (i = 0; i < p->n; i++) {
        memset(&req, 0, sizeof(req));
        req.org = p->pairs[i].org;
        req.purpose = p->pairs[i].purpose;
        for (c = 0; c < ncat && c < CONSENT_MAX_CATEGORIES; c++)
            req.categories |= UINT64_C(1) << c;
        req.actions = CONSENT_ACTION_READ;
        req.now = at;
        consents_set_clear(&set);
        rc = consents_decide(t, pol, nhs, &req, org_type, &set, dec);
        if (rc != ERR_OK)
            goto out;
        if (dec->permitted == 0)
            continue;
        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "org", req.org);
        cJSON_AddStringToObject(item, "org_type", org_type);
        cJSON_AddStringToObject(item, "purpose", req.purpose);
        dts = cJSON_AddArrayToObject(item, "datatypes");
        basis = cJSON_AddArrayToObject(item, "because");
        for (k = 0; k < dec->nreasons; k++) {
            const struct consent_reason *r = &dec->reasons[k];
            if (r->basis != CONSENT_BASIS_PERMIT && r->basis != CONSENT_BASIS_IMPLIED)
                continue;
            cJSON_AddItemToArray(dts, cJSON_CreateString(policy_category_at(pol, r->category)));
            b = cJSON_CreateObject();
            cJSON_AddItemToArray(basis, b);
            cJSON_AddStringToObject(b, "datatype", policy_category_at(pol, r->category));
            if (r->basis == CONSENT_BASIS_IMPLIED) {
                cJSON_AddStringToObject(b, "rule", ACCESS_RULE);
            } else {
                cJSON_AddStringToObject(b, "grant", r->grant->jti);
                json_add_u64(b, "log_index", r->grant->index);
            }
        }
    }
out:
    consents_set_clear(&set);
    free(dec);
    free(p);
    return rc;
}

struct ctl_state_scan {
    struct store_txn *t;
    const struct policy *pol;
    const struct ctl_orgs *orgs;
    int64_t at;
    cJSON *people;
};

static enum err
ctl_state_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct ctl_state_scan *s = ctx;
    char nhs[NHS_LEN + 1];

    (void)val;
    (void)val_len;
    if (key_len != NHS_LEN)
        return ERR_OK;
    memcpy(nhs, key, NHS_LEN);
    nhs[NHS_LEN] = '\0';
    return ctl_state_person(s->t, s->pol, s->orgs, nhs, s->at, s->people);
}

/* ctl_audit_num prints a number member, raw (json_add_u64) or not, into buf. */
static const char *
ctl_audit_num(const cJSON *m, char buf[static 24])
{
    if (cJSON_IsRaw(m))
        return m->valuestring;
    snprintf(buf, 24, "%.0f", cJSON_IsNumber(m) ? m->valuedouble : -1.0);
    return buf;
}

static void
ctl_state_print(const cJSON *people)
{
    const cJSON *p, *m, *d, *b;
    const char *sep;
    char num[24];

    cJSON_ArrayForEach(p, people)
    {
        printf("%s\n", cJSON_GetObjectItemCaseSensitive(p, "nhs")->valuestring);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "may_read")) == 0)
            printf("  no organisation may read this person's records\n");
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(p, "may_read"))
        {
            printf("  %s (%s) may read for %s:",
                   cJSON_GetObjectItemCaseSensitive(m, "org")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(m, "org_type")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(m, "purpose")->valuestring);
            sep = " ";
            cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(m, "because"))
            {
                const cJSON *g = cJSON_GetObjectItemCaseSensitive(b, "grant");
                d = cJSON_GetObjectItemCaseSensitive(b, "datatype");
                if (cJSON_IsString(g))
                    printf("%s%s (grant %s, entry %s)", sep, d->valuestring, g->valuestring,
                           ctl_audit_num(cJSON_GetObjectItemCaseSensitive(b, "log_index"), num));
                else
                    printf("%s%s (implied rule: enrolled the person)", sep, d->valuestring);
                sep = ", ";
            }
            printf("\n");
        }
    }
}

static int
cmd_state_at(int argc, char **argv)
{
    struct ctl_audit_opts o;
    struct ctl_state_scan s;
    struct ctl_orgs *orgs = NULL;
    struct policy *pol = NULL;
    struct auditlog *l = NULL;
    struct audit *a = NULL;
    struct store_txn *t = NULL;
    char when[CONSENTS_TIME_LEN + 1];
    const char *arg = NULL;
    cJSON *j = NULL;
    int64_t at;
    enum err rc;
    int code;

    code = ctl_audit_parse(argc, argv, usage_state_at, false, &o, &arg);
    if (code != EX_OK)
        return code == -1 ? EX_OK : code;
    if (!ctl_audit_time(arg, &at))
        return ctl_fail(EX_USAGE, "TIME must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    code = ctl_audit_replay(&o, at, &pol, &l, &a);
    if (code != EX_OK)
        return code;
    orgs = xcalloc(1, sizeof(*orgs));
    rc = store_begin(audit_store(a), false, &t);
    if (rc == ERR_OK)
        rc = store_scan(t, STORE_ORGS, NULL, 0, ctl_orgs_one, orgs);
    j = cJSON_CreateObject();
    consents_time_format(at, when);
    cJSON_AddStringToObject(j, "time", when);
    json_add_u64(j, "entries", audit_size(a));
    memset(&s, 0, sizeof(s));
    s.t = t;
    s.pol = pol;
    s.orgs = orgs;
    s.at = at;
    s.people = cJSON_AddArrayToObject(j, "people");
    if (rc == ERR_OK)
        rc = store_scan(t, STORE_PATIENTS, NULL, 0, ctl_state_one, &s);
    if (rc != ERR_OK) {
        code = ctl_fail(rc == ERR_TOOBIG ? EX_SOFTWARE : EX_IOERR,
                        "cannot read the replayed state (%s)", err_str(rc));
        goto out;
    }
    if (o.json) {
        ctl_audit_print_json(j);
    } else {
        printf("state at %s, after the first %" PRIu64 " entries of the copy in %s:\n", when,
               audit_size(a), o.dir);
        ctl_state_print(s.people);
    }
    if (audit_stats(a)->findings > 0)
        fprintf(stderr,
                "consentctl: warning: the log up to then has %" PRIu64
                " findings: run `consentctl audit verify --dir %s`\n",
                audit_stats(a)->findings, o.dir);
    code = EX_OK;
out:
    cJSON_Delete(j);
    store_abort(t);
    free(orgs);
    audit_free(a);
    policy_free(pol);
    auditlog_close(l);
    return code;
}

/* What `audit access` gathers: the accesses, and the findings to attach. */
struct ctl_access {
    struct store_txn *t;
    const struct audit_finding *f;
    size_t nf;
    cJSON *list;
};

static enum err
ctl_access_one(void *ctx, uint64_t index, const cJSON *e)
{
    struct ctl_access *x = ctx;
    static const char *const copy[] = {"time",      "client_id",   "org", "purpose",
                                       "datatypes", "break_glass", "iat", "exp"};
    struct consents_record rec;
    char start[CONSENTS_TIME_LEN + 1], end[CONSENTS_TIME_LEN + 1];
    const cJSON *g, *m;
    cJSON *o = cJSON_CreateObject(), *grants, *gi, *fs;
    size_t i;

    cJSON_AddItemToArray(x->list, o);
    json_add_u64(o, "index", index);
    for (i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        m = cJSON_GetObjectItemCaseSensitive(e, copy[i]);
        if (m != NULL)
            cJSON_AddItemToObject(o, copy[i], cJSON_Duplicate(m, true));
    }
    grants = cJSON_AddArrayToObject(o, "grants");
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(e, "grants"))
    {
        const cJSON *jti = cJSON_GetObjectItemCaseSensitive(g, "jti");
        gi = cJSON_Duplicate(g, true);
        cJSON_AddItemToArray(grants, gi);
        if (!cJSON_IsString(jti) || consents_get(x->t, jti->valuestring, &rec) != ERR_OK)
            continue;
        cJSON_AddStringToObject(gi, "effect", rec.g.effect == CONSENT_PERMIT ? "permit" : "deny");
        cJSON_AddStringToObject(gi, "grantee",
                                rec.g.grantee == CONSENT_GRANTEE_ANY ? "*" : rec.g.grantee_value);
        cJSON_AddStringToObject(gi, "purpose", rec.g.purpose);
        consents_time_format(rec.g.start, start);
        cJSON_AddStringToObject(gi, "start", start);
        if (rec.g.end != CONSENTS_NO_END) {
            consents_time_format(rec.g.end, end);
            cJSON_AddStringToObject(gi, "end", end);
        }
        cJSON_AddStringToObject(gi, "signed_by",
                                rec.source == CONSENTS_SOURCE_PAPER ? rec.by : rec.g.iss);
        if (rec.revoked)
            json_add_u64(gi, "revoked_at_entry", rec.revoke_index);
    }
    fs = cJSON_AddArrayToObject(o, "findings");
    for (i = 0; i < x->nf; i++)
        if (x->f[i].index == index)
            cJSON_AddItemToArray(fs, ctl_audit_finding_json(&x->f[i]));
    return ERR_OK;
}

static void
ctl_access_print(const cJSON *list)
{
    const cJSON *o, *m, *g, *f;
    const char *sep;
    char num[24];

    if (cJSON_GetArraySize(list) == 0)
        printf("no access to this person's records is in the log\n");
    cJSON_ArrayForEach(o, list)
    {
        printf("entry %s, %s: %s of %s read ",
               ctl_audit_num(cJSON_GetObjectItemCaseSensitive(o, "index"), num),
               cJSON_GetObjectItemCaseSensitive(o, "time")->valuestring,
               cJSON_GetObjectItemCaseSensitive(o, "client_id")->valuestring,
               cJSON_GetObjectItemCaseSensitive(o, "org")->valuestring);
        sep = "";
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(o, "datatypes"))
        {
            printf("%s%s", sep, cJSON_IsString(m) ? m->valuestring : "?");
            sep = ",";
        }
        printf(" for %s\n", cJSON_GetObjectItemCaseSensitive(o, "purpose")->valuestring);
        m = cJSON_GetObjectItemCaseSensitive(o, "break_glass");
        if (m != NULL) {
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "reason");
            printf("  BREAK-GLASS: \"%s\"\n", cJSON_IsString(r) ? r->valuestring : "(no reason)");
        }
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(o, "grants"))
        {
            const cJSON *jti = cJSON_GetObjectItemCaseSensitive(g, "jti");
            if (!cJSON_IsString(jti)) {
                printf("  because: the implied rule (the organisation enrolled the person)\n");
                continue;
            }
            printf("  because: grant %s (entry %s)", jti->valuestring,
                   ctl_audit_num(cJSON_GetObjectItemCaseSensitive(g, "log_index"), num));
            m = cJSON_GetObjectItemCaseSensitive(g, "signed_by");
            if (cJSON_IsString(m))
                printf(", %s by %s to %s for %s from %s%s%s",
                       cJSON_GetObjectItemCaseSensitive(g, "effect")->valuestring, m->valuestring,
                       cJSON_GetObjectItemCaseSensitive(g, "grantee")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(g, "purpose")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(g, "start")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(g, "end") != NULL ? " until " : "",
                       cJSON_GetObjectItemCaseSensitive(g, "end") != NULL
                           ? cJSON_GetObjectItemCaseSensitive(g, "end")->valuestring
                           : "");
            printf("\n");
        }
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(o, "findings"))
        {
            printf("  FINDING: %s: %s\n", cJSON_GetObjectItemCaseSensitive(f, "rule")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(f, "text")->valuestring);
        }
    }
}

static int
cmd_access(int argc, char **argv)
{
    struct ctl_audit_opts o;
    struct ctl_access x;
    struct policy *pol = NULL;
    struct auditlog *l = NULL;
    struct audit *a = NULL;
    const char *nhs = NULL;
    cJSON *j = NULL;
    enum err rc;
    int code;

    code = ctl_audit_parse(argc, argv, usage_access, false, &o, &nhs);
    if (code != EX_OK)
        return code == -1 ? EX_OK : code;
    if (!nhs_valid(nhs))
        return ctl_fail(EX_USAGE, "NHS must be an NHS number: ten digits with a valid Modulus 11 "
                                  "check digit");
    code = ctl_audit_replay(&o, -1, &pol, &l, &a);
    if (code != EX_OK)
        return code;
    memset(&x, 0, sizeof(x));
    x.f = audit_findings(a, &x.nf);
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "nhs", nhs);
    x.list = cJSON_AddArrayToObject(j, "accesses");
    rc = store_begin(audit_store(a), false, &x.t);
    if (rc == ERR_OK)
        rc = access_list(x.t, nhs, ctl_access_one, &x);
    if (rc != ERR_OK) {
        code = ctl_fail(EX_IOERR, "cannot list the accesses (%s)", err_str(rc));
        goto out;
    }
    if (o.json)
        ctl_audit_print_json(j);
    else
        ctl_access_print(x.list);
    if (audit_stats(a)->findings > 0)
        fprintf(stderr,
                "consentctl: warning: the log has %" PRIu64
                " findings: run `consentctl audit verify --dir %s`\n",
                audit_stats(a)->findings, o.dir);
    code = EX_OK;
out:
    store_abort(x.t);
    cJSON_Delete(j);
    audit_free(a);
    policy_free(pol);
    auditlog_close(l);
    return code;
}

/* ctl_read_checkpoint reads and verifies a checkpoint file. */
static int
ctl_read_checkpoint(const char *path, const struct note_verifier *v, struct note_checkpoint *c)
{
    char buf[CKPT_RECORD];
    size_t n;
    FILE *f = fopen(path, "re");

    if (f == NULL)
        return ctl_fail(EX_NOINPUT, "cannot read %s: %s", path, strerror(errno));
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (ckpt_open_verify(v, buf, n, c) != ERR_OK)
        return ctl_fail(EX_DATAERR, "%s is not a checkpoint signed by %s", path, v->name);
    return EX_OK;
}

/* ctl_copy_root sets root to the copy's root at size from its leaf cache (or entries). */
static int
ctl_copy_root(const struct auditlog *l, uint64_t size, uint8_t root[static HASH_BYTES])
{
    struct merkle_range r;
    bool rehashed;
    char why[AUDITLOG_WHY_MAX];
    uint8_t(*leaves)[HASH_BYTES] = NULL;
    uint64_t i;

    if (auditlog_frontier(l, &r, &rehashed, why) != ERR_OK)
        return ctl_fail(EX_DATAERR, "%s", why);
    if (auditlog_leaves(l, size, &leaves) != ERR_OK)
        return ctl_fail(EX_DATAERR, "the copy's leaf cache is damaged");
    merkle_range_init(&r);
    for (i = 0; i < size; i++)
        (void)merkle_range_append(&r, leaves[i], NULL, NULL);
    free(leaves);
    merkle_range_root(&r, root);
    return EX_OK;
}

static int
cmd_consistency(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *key = NULL, *url = NULL;
    uint8_t proof[MERKLE_MAX_PROOF][HASH_BYTES], r1[HASH_BYTES], r2[HASH_BYTES];
    struct note_checkpoint a, b;
    struct note_verifier v;
    struct auditlog *l = NULL;
    const cJSON *arr, *e;
    cJSON *j = NULL;
    char path[128];
    size_t count = 0;
    bool ok;
    int ch, code;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'd') {
            dir = optarg;
        } else if (ch == 'k') {
            key = optarg;
        } else if (ch == 'u') {
            url = optarg;
        } else if (ch == 'h') {
            fputs(usage_consistency, stdout);
            return EX_OK;
        } else {
            fputs(usage_consistency, stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc - 2 || (dir == NULL) == (url == NULL) || (url != NULL && key == NULL)) {
        fputs(usage_consistency, stderr);
        return EX_USAGE;
    }
    if (dir != NULL) {
        code = ctl_audit_open(dir, false, &l);
        if (code != EX_OK)
            return code;
        v = l->key;
    } else if (note_verifier_parse(key, strlen(key), &v) != ERR_OK) {
        return ctl_fail(EX_USAGE, "--key must be a verifier key NAME+HASH+BASE64");
    }
    code = ctl_read_checkpoint(argv[optind], &v, &a);
    if (code == EX_OK)
        code = ctl_read_checkpoint(argv[optind + 1], &v, &b);
    if (code != EX_OK)
        goto out;
    if (a.size > b.size) {
        code = ctl_fail(EX_DATAERR,
                        "NOT consistent: %s signs %" PRIu64 " entries and %s only %" PRIu64
                        ": if %s is the newer, the log was rolled back",
                        argv[optind], a.size, argv[optind + 1], b.size, argv[optind + 1]);
        goto out;
    }
    if (l != NULL) {
        if (b.size > l->cp.size) {
            code = ctl_fail(EX_DATAERR,
                            "%s signs %" PRIu64 " entries, more than the copy in %s holds (%" PRIu64
                            "): fetch first, or use --url",
                            argv[optind + 1], b.size, dir, l->cp.size);
            goto out;
        }
        code = ctl_copy_root(l, a.size, r1);
        if (code == EX_OK)
            code = ctl_copy_root(l, b.size, r2);
        if (code != EX_OK)
            goto out;
        ok = hash_equal(r1, a.root) && hash_equal(r2, b.root);
    } else if (a.size == 0 || a.size == b.size) {
        if (a.size == 0)
            merkle_empty_root(r1);
        ok = a.size == 0 ? hash_equal(r1, a.root) : hash_equal(a.root, b.root);
    } else {
        snprintf(path, sizeof(path), "/log/proof/consistency?from=%" PRIu64 "&to=%" PRIu64, a.size,
                 b.size);
        code = ctl_get_json(url, path, NULL, &j);
        if (code != EX_OK)
            goto out;
        arr = cJSON_GetObjectItemCaseSensitive(j, "proof");
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > MERKLE_MAX_PROOF) {
            code = ctl_fail(EX_DATAERR, "the consistency proof is malformed");
            goto out;
        }
        cJSON_ArrayForEach(e, arr)
        {
            if (ctl_decode_hash(e, proof[count]) != 0) {
                code = ctl_fail(EX_DATAERR, "the consistency proof holds a malformed hash");
                goto out;
            }
            count++;
        }
        ok = merkle_verify_consistency(a.size, b.size, a.root, b.root,
                                       (const uint8_t(*)[HASH_BYTES])proof, count) == ERR_OK;
    }
    if (!ok) {
        code = ctl_fail(EX_DATAERR,
                        "NOT consistent: the tree of %" PRIu64 " entries %s signs is not the "
                        "first %" PRIu64 " entries of the tree %s signs: the log was forked or "
                        "rewritten",
                        a.size, argv[optind], a.size, argv[optind + 1]);
        goto out;
    }
    printf("consistent: %s (%" PRIu64 " entries) is a prefix of %s (%" PRIu64
           " entries), both signed by %s\n",
           argv[optind], a.size, argv[optind + 1], b.size, v.name);
    code = EX_OK;
out:
    cJSON_Delete(j);
    auditlog_close(l);
    return code;
}

bool
ctl_audit_online(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++)
        if (strncmp(argv[i], "--url", 5) == 0)
            return true;
    return false;
}

int
ctl_audit_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } cmds[] = {{"fetch", cmd_fetch},
                {"verify", cmd_verify_dir},
                {"state-at", cmd_state_at},
                {"access", cmd_access},
                {"consistency", cmd_consistency}};
    size_t i;

    if (argc < 2) {
        fputs(usage_audit, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_audit, stdout);
        return EX_OK;
    }
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "consentctl: unknown command \"audit %s\"\n\n%s", argv[1], usage_audit);
    return EX_USAGE;
}
