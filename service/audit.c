/*
 * audit: replay a local copy of the log through state_apply into a scratch store, checking the
 * tree, the signatures (through state_apply) and the rules an operator could break without
 * breaking a signature.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/access.h"
#include "consentd/audit.h"
#include "consentd/clients.h"
#include "consentd/consents.h"
#include "consentd/jstrict.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/rebuild.h"
#include "consentd/state.h"
#include "consentd/tlog.h"
#include "consentd/xmalloc.h"

#define AUDIT_MAP     (64ull * 1024 * 1024 * 1024) /* address space only */
#define AUDIT_BATCH   10000                        /* entries per scratch transaction */
#define AUDIT_KID_MAX 128

struct audit {
    const struct policy *pol;
    char dir[PATH_MAX];
    struct store *s;
    struct store_txn *w;
    uint64_t in_txn;
    struct merkle_range range;
    struct audit_finding *findings;
    size_t nfindings;
    struct audit_stats stats;
    bool have_rotation;
    uint64_t rotation_index;
    char rotation_kid[AUDIT_KID_MAX + 1];
    unsigned old_key_tries;
};

enum err
audit_new(const struct policy *pol, struct audit **out)
{
    struct audit *a = xcalloc(1, sizeof(*a));
    const char *tmp = getenv("TMPDIR");
    enum err rc;

    *out = NULL;
    merkle_range_init(&a->range);
    a->pol = pol;
    if (pol != NULL) {
        snprintf(a->dir, sizeof(a->dir), "%s/consentctl-audit.XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(a->dir) == NULL) {
            a->dir[0] = '\0';
            audit_free(a);
            return ERR_IO;
        }
        rc = store_open(a->dir, AUDIT_MAP, &a->s);
        if (rc != ERR_OK) {
            audit_free(a);
            return rc;
        }
    }
    *out = a;
    return ERR_OK;
}

void
audit_free(struct audit *a)
{
    if (a == NULL)
        return;
    store_abort(a->w);
    store_close(a->s);
    if (a->dir[0] != '\0')
        rebuild_remove(a->dir);
    free(a->findings);
    free(a);
}

void
audit_finding_add(struct audit *a, uint64_t index, const char *rule, const char *fmt, ...)
{
    struct audit_finding *f;
    va_list ap;

    a->stats.findings++;
    if (a->nfindings == AUDIT_MAX_FINDINGS)
        return;
    if (a->nfindings % 64 == 0)
        a->findings = xrealloc(a->findings, (a->nfindings + 64) * sizeof(*a->findings));
    f = &a->findings[a->nfindings++];
    f->index = index;
    snprintf(f->rule, sizeof(f->rule), "%s", rule);
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof(f->text), fmt, ap);
    va_end(ap);
}

const struct audit_finding *
audit_findings(const struct audit *a, size_t *n)
{
    *n = a->nfindings;
    return a->findings;
}

const struct audit_stats *
audit_stats(const struct audit *a)
{
    return &a->stats;
}

uint64_t
audit_size(const struct audit *a)
{
    return a->range.size;
}

void
audit_root(const struct audit *a, uint8_t out[static HASH_BYTES])
{
    merkle_range_root(&a->range, out);
}

struct store *
audit_store(struct audit *a)
{
    return a->s;
}

static const char *
audit_str(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* audit_time reads the entry's "time"; false if it has none. */
static bool
audit_time(const cJSON *e, int64_t *t)
{
    const char *s = audit_str(e, "time");

    return s != NULL && consents_time_parse(s, t) == ERR_OK;
}

enum err
audit_entry_time(const uint8_t *entry, size_t len, int64_t *t)
{
    cJSON *e = NULL;
    enum err rc;

    *t = 0;
    rc = jstrict_parse((const char *)entry, len, &e, NULL);
    if (rc != ERR_OK)
        return ERR_INVAL;
    rc = audit_time(e, t) ? ERR_OK : ERR_INVAL;
    cJSON_Delete(e);
    return rc;
}

/*
 * audit_client checks that client id, named by an entry as the one acting, was registered and
 * not retired at index; it fills cl (when not NULL) and returns false after a finding.
 */
static bool
audit_client(struct audit *a, uint64_t index, const char *id, const char *what,
             struct clients_client *cl)
{
    struct clients_client mine;
    enum err rc;

    if (cl == NULL)
        cl = &mine;
    rc = clients_get(a->w, id, cl);
    if (rc == ERR_NOTFOUND) {
        audit_finding_add(a, index, "client-unknown",
                          "%s names client %.64s, which is not registered", what, id);
        return false;
    }
    if (rc != ERR_OK) {
        audit_finding_add(a, index, "client-unknown",
                          "%s names client %.64s, whose record is "
                          "damaged",
                          what, id);
        return false;
    }
    if (cl->retired) {
        audit_finding_add(a, index, "client-retired",
                          "%s is by client %.64s, which entry %" PRIu64 " retired", what, id,
                          cl->retire_index);
        return false;
    }
    return true;
}

/* audit_by checks a "by" member naming a client or "admin". */
static void
audit_by(struct audit *a, uint64_t index, const char *by, const char *what)
{
    if (by != NULL && strcmp(by, "admin") != 0)
        (void)audit_client(a, index, by, what, NULL);
}

/* audit_grant_named is true if the access entry's grants name (jti, log_index). */
static bool
audit_grant_named(const cJSON *grants, const char *jti, uint64_t index)
{
    const cJSON *g, *idx;
    const char *j;

    cJSON_ArrayForEach(g, grants)
    {
        j = audit_str(g, "jti");
        idx = cJSON_GetObjectItemCaseSensitive(g, "log_index");
        if (j != NULL && strcmp(j, jti) == 0 && cJSON_IsNumber(idx) &&
            idx->valuedouble == (double)index)
            return true;
    }
    return false;
}

/* audit_rule_named is true if the access entry's grants name the implied rule. */
static bool
audit_rule_named(const cJSON *grants)
{
    const cJSON *g;
    const char *r;

    cJSON_ArrayForEach(g, grants)
    {
        r = audit_str(g, "rule");
        if (r != NULL && strcmp(r, ACCESS_RULE) == 0)
            return true;
    }
    return false;
}

/*
 * audit_access_decision replays the consent decision of a normal access entry at its time,
 * against the state just before it, and compares what it relied on with what the entry names.
 */
static enum err
audit_access_decision(struct audit *a, uint64_t index, const cJSON *e, int64_t at)
{
    const char *org = audit_str(e, "org"), *nhs = audit_str(e, "nhs");
    const char *purpose = audit_str(e, "purpose");
    const cJSON *grants = cJSON_GetObjectItemCaseSensitive(e, "grants"), *d, *g;
    char org_type[CONSENTS_NAME_MAX + 1], jti[CONSENTS_JTI_MAX + 1];
    struct consent_decision *dec = xcalloc(1, sizeof(*dec));
    struct consent_request req;
    struct consents_set set;
    bool implied = false;
    unsigned k;
    int bit;
    enum err rc = ERR_OK;

    consents_set_init(&set);
    memset(&req, 0, sizeof(req));
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(e, "datatypes"))
    {
        bit = cJSON_IsString(d) ? policy_category_bit(a->pol, d->valuestring) : -1;
        if (bit < 0 || bit >= CONSENT_MAX_CATEGORIES) {
            audit_finding_add(a, index, "access-unpermitted",
                              "access to data type %.64s, which is not a category of the policy",
                              cJSON_IsString(d) ? d->valuestring : "?");
            goto out;
        }
        req.categories |= UINT64_C(1) << bit;
    }
    req.org = org;
    req.purpose = purpose;
    req.actions = CONSENT_ACTION_READ;
    req.now = at;
    rc = consents_decide(a->w, a->pol, nhs, &req, org_type, &set, dec);
    if (rc == ERR_NOTFOUND) {
        audit_finding_add(a, index, "access-unpermitted",
                          "access for organisation %s, which is not registered", org);
        rc = ERR_OK;
        goto out;
    }
    if (rc != ERR_OK)
        goto out;
    if (!dec->permit) {
        for (k = 0; k < dec->nreasons; k++)
            if (dec->reasons[k].basis == CONSENT_BASIS_DENY ||
                dec->reasons[k].basis == CONSENT_BASIS_NONE)
                break;
        audit_finding_add(a, index, "access-unpermitted",
                          "access by %s for %s to %s's %s was not permitted at that time: %s",
                          audit_str(e, "client_id"), purpose, nhs,
                          k < dec->nreasons ? policy_category_at(a->pol, dec->reasons[k].category)
                                            : "records",
                          k < dec->nreasons && dec->reasons[k].basis == CONSENT_BASIS_DENY
                              ? "an active denial covers it"
                              : "no active grant covers it and the implied rule does not apply");
        goto out;
    }
    /* Permitted: the entry must name exactly the grants the decision relied on. */
    for (k = 0; k < dec->nreasons; k++) {
        if (dec->reasons[k].basis == CONSENT_BASIS_IMPLIED)
            implied = true;
        else if (dec->reasons[k].basis == CONSENT_BASIS_PERMIT && dec->reasons[k].grant != NULL &&
                 !audit_grant_named(grants, dec->reasons[k].grant->jti,
                                    dec->reasons[k].grant->index)) {
            audit_finding_add(a, index, "access-grants",
                              "the access relied on grant %.128s (entry %" PRIu64
                              "), which the entry does not name",
                              dec->reasons[k].grant->jti, dec->reasons[k].grant->index);
            goto out;
        }
    }
    if (implied != audit_rule_named(grants)) {
        audit_finding_add(a, index, "access-grants",
                          implied ? "the access relied on the implied rule, which the entry does "
                                    "not name"
                                  : "the entry names the implied rule, which did not apply");
        goto out;
    }
    cJSON_ArrayForEach(g, grants)
    {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(g, "log_index");
        bool used = false;
        if (audit_str(g, "rule") != NULL)
            continue;
        snprintf(jti, sizeof(jti), "%s", audit_str(g, "jti") != NULL ? audit_str(g, "jti") : "");
        for (k = 0; k < dec->nreasons && !used; k++)
            used = dec->reasons[k].basis == CONSENT_BASIS_PERMIT && dec->reasons[k].grant != NULL &&
                   strcmp(dec->reasons[k].grant->jti, jti) == 0 && cJSON_IsNumber(idx) &&
                   (double)dec->reasons[k].grant->index == idx->valuedouble;
        if (!used) {
            audit_finding_add(a, index, "access-grants",
                              "the entry names grant %.128s, which did not permit this access "
                              "at that time",
                              jti);
            goto out;
        }
    }
out:
    consents_set_clear(&set);
    free(dec);
    return rc;
}

/* audit_access checks an access entry's client, and its grants or break-glass reason. */
static enum err
audit_access(struct audit *a, uint64_t index, const cJSON *e)
{
    const char *cid = audit_str(e, "client_id"), *org = audit_str(e, "org");
    const char *purpose = audit_str(e, "purpose");
    const cJSON *bg = cJSON_GetObjectItemCaseSensitive(e, "break_glass");
    const cJSON *grants = cJSON_GetObjectItemCaseSensitive(e, "grants");
    char type[CONSENTS_NAME_MAX + 1];
    struct clients_client cl;
    unsigned role;
    int64_t at;
    const char *reason;

    if (cid == NULL || org == NULL || purpose == NULL || audit_str(e, "nhs") == NULL ||
        !audit_time(e, &at))
        return ERR_OK; /* malformed: state_apply refuses it and says why */
    a->stats.accesses++;
    role = bg != NULL ? POLICY_ROLE_EMERGENCY : POLICY_ROLE_REQUESTER;
    if (!audit_client(a, index, cid, "the access", &cl))
        return ERR_OK;
    if (strcmp(cl.org, org) != 0) {
        audit_finding_add(a, index, "client-org",
                          "the access names organisation %s, but client %s belongs to %s", org, cid,
                          cl.org);
        return ERR_OK;
    }
    if ((cl.roles & role) == 0 || consents_org_type(a->w, org, type) != ERR_OK ||
        !policy_org_type_allows(a->pol, type, role)) {
        audit_finding_add(a, index, "client-role",
                          "client %s made %s access without the %s role (registered and allowed "
                          "by the policy for its organisation)",
                          cid, bg != NULL ? "a break-glass" : "an",
                          bg != NULL ? "emergency" : "requester");
        return ERR_OK;
    }
    if (bg != NULL) {
        a->stats.break_glass++;
        reason = audit_str(bg, "reason");
        if (!cJSON_IsObject(bg) || reason == NULL || reason[0] == '\0' || grants != NULL ||
            strcmp(purpose, AUDIT_BTG_PURPOSE) != 0)
            audit_finding_add(a, index, "break-glass",
                              "a break-glass access needs purpose " AUDIT_BTG_PURPOSE
                              ", a \"break_glass\" reason and no grants");
        return ERR_OK;
    }
    if (!cJSON_IsArray(grants) || cJSON_GetArraySize(grants) == 0) {
        audit_finding_add(a, index, "access-unpermitted",
                          "an access with neither a grant nor a break-glass reason");
        return ERR_OK;
    }
    return audit_access_decision(a, index, e, at);
}

/* audit_rotation checks that a token-signing key rotation retires the key added before. */
static void
audit_rotation(struct audit *a, uint64_t index, const cJSON *e)
{
    const char *added = audit_str(cJSON_GetObjectItemCaseSensitive(e, "added"), "kid");
    const char *retired = audit_str(cJSON_GetObjectItemCaseSensitive(e, "retired"), "kid");

    a->stats.key_rotations++;
    if (added == NULL || retired == NULL || strlen(added) > AUDIT_KID_MAX) {
        audit_finding_add(a, index, "key-rotate",
                          "a key.rotate entry needs \"added\" and \"retired\" keys with a kid");
        return;
    }
    if (strcmp(added, retired) == 0)
        audit_finding_add(a, index, "key-rotate", "the rotation adds the key it retires (%s)",
                          added);
    else if (a->have_rotation && strcmp(retired, a->rotation_kid) != 0)
        audit_finding_add(a, index, "key-rotate",
                          "the rotation retires key %.128s, but the key in use was %s (added by "
                          "entry %" PRIu64 ")",
                          retired, a->rotation_kid, a->rotation_index);
    a->have_rotation = true;
    a->rotation_index = index;
    snprintf(a->rotation_kid, sizeof(a->rotation_kid), "%s", added);
}

/* audit_rules checks entry e at index against the state just before it. */
static enum err
audit_rules(struct audit *a, uint64_t index, const cJSON *e)
{
    const char *type = audit_str(e, "type");

    if (type == NULL)
        return ERR_OK;
    if (strcmp(type, "access") == 0)
        return audit_access(a, index, e);
    if (strcmp(type, "identity.link") == 0)
        audit_by(a, index, audit_str(e, "by"), "the identity link");
    else if (strcmp(type, "patient.key") == 0)
        audit_by(a, index, audit_str(cJSON_GetObjectItemCaseSensitive(e, "recovery"), "by"),
                 "the key recovery");
    else if (strcmp(type, "key.rotate") == 0)
        audit_rotation(a, index, e);
    return ERR_OK;
}

static bool
audit_has(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle), i;

    for (i = 0; n <= len && i <= len - n; i++)
        if (hay[i] == (uint8_t)needle[0] && memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

/*
 * audit_old_key looks for a key of person nhs that the log recorded before index and that
 * signs jws: then the signer used a key after it was replaced, and *replaced_at is the entry
 * that replaced it. Walks the scratch log, so it is tried for at most AUDIT_MAX_OLD_KEYS
 * refusals.
 */
static bool
audit_old_key(struct audit *a, uint64_t index, const char *nhs, const char *jws,
              uint64_t *replaced_at)
{
    char needle[32], why[STATE_WHY_MAX];
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct jws_parts p = {0};
    const uint8_t *bytes;
    bool found = false, signs = false;
    cJSON *e;
    uint64_t i;
    size_t len;

    if (a->old_key_tries >= AUDIT_MAX_OLD_KEYS)
        return false;
    a->old_key_tries++;
    snprintf(needle, sizeof(needle), "\"nhs\":\"%s\"", nhs);
    for (i = 0; i < index; i++) {
        if (tlog_entry(a->w, i, &bytes, &len) != ERR_OK)
            return false;
        if (!audit_has(bytes, len, "\"type\":\"patient.") || !audit_has(bytes, len, needle))
            continue;
        e = NULL;
        if (jstrict_parse((const char *)bytes, len, &e, NULL) != ERR_OK)
            continue;
        if (audit_str(e, "type") != NULL && strcmp(audit_str(e, "type"), "identity.link") != 0 &&
            patients_jwk_key(cJSON_GetObjectItemCaseSensitive(e, "jwk"), pk, why) == ERR_OK) {
            if (signs) {
                /* The key that signed was replaced by this entry. */
                *replaced_at = i;
                found = true;
                cJSON_Delete(e);
                break;
            }
            signs = jws_verify(jws, strlen(jws), pk, &p, NULL) == ERR_OK;
            jws_parts_clear(&p);
        }
        cJSON_Delete(e);
    }
    return found;
}

/* audit_refused turns state_apply's refusal of entry e into a finding, naming the rule. */
static void
audit_refused(struct audit *a, uint64_t index, const cJSON *e, const char *why)
{
    const char *type = e != NULL ? audit_str(e, "type") : NULL;
    const char *jws = e != NULL ? audit_str(e, "jws") : NULL;
    enum consents_refusal code = CONSENTS_OK;
    char why2[STATE_WHY_MAX], iss[NHS_LEN + 1] = "";
    struct consents_grant *g = NULL;
    struct consents_revocation rv;
    struct consents_delegation *d = NULL;
    struct patients_patient pt;
    struct jws_parts p = {0};
    uint64_t replaced;
    int64_t at = 0;
    enum err rc = ERR_OK;

    if (type == NULL || jws == NULL || !audit_time(e, &at)) {
        audit_finding_add(a, index, "refused", "the replay refuses the entry: %s", why);
        return;
    }
    if (strcmp(type, "consent") == 0) {
        g = xmalloc(sizeof(*g));
        rc = consents_grant_check(a->w, jws, strlen(jws), at, g, &code, why2);
    } else if (strcmp(type, "consent.revoke") == 0) {
        rc = consents_revoke_check(a->w, jws, strlen(jws), at, &rv, &code, why2);
    } else if (strcmp(type, "delegation") == 0) {
        d = xmalloc(sizeof(*d));
        rc = consents_delegation_check(a->w, jws, strlen(jws), NULL, at, d, &code, why2);
    }
    free(g);
    free(d);
    if (rc == ERR_OK || code != CONSENTS_BAD_SIGNATURE) {
        audit_finding_add(a, index, "refused", "the replay refuses the %s entry: %s", type, why);
        return;
    }
    if (jws_decode(jws, strlen(jws), &p, NULL) == ERR_OK && audit_str(p.payload, "iss") != NULL)
        snprintf(iss, sizeof(iss), "%s", audit_str(p.payload, "iss"));
    jws_parts_clear(&p);
    if (iss[0] != '\0' && audit_old_key(a, index, iss, jws, &replaced)) {
        audit_finding_add(a, index, "key-replaced",
                          "the %s entry is signed by a key of %s that entry %" PRIu64
                          " had replaced before it",
                          type, iss, replaced);
        return;
    }
    if (iss[0] != '\0' && patients_get(a->w, iss, &pt) == ERR_OK)
        audit_finding_add(a, index, "patient-signature",
                          "the %s entry's signature does not verify with the key the log says "
                          "%s held at that moment (kid %s, from entry %" PRIu64 ")",
                          type, iss, pt.kid, pt.key_index);
    else
        audit_finding_add(a, index, "patient-signature",
                          "the %s entry's signature does not verify with any key the log holds "
                          "for its signer",
                          type);
}

/* audit_signed is true for an entry whose acceptance means a patient signature was checked. */
static bool
audit_signed(const cJSON *e)
{
    const char *type = audit_str(e, "type");

    if (type == NULL)
        return false;
    if (strcmp(type, "patient.key") == 0)
        return audit_str(e, "proof") != NULL;
    return audit_str(e, "jws") != NULL;
}

enum err
audit_apply(struct audit *a, const uint8_t *entry, size_t len, uint8_t leaf[static HASH_BYTES])
{
    char why[STATE_WHY_MAX];
    uint64_t index = a->range.size;
    cJSON *e = NULL;
    enum err rc;

    a->stats.entries++;
    if (a->s == NULL) {
        merkle_leaf_hash(entry, len, leaf);
        return merkle_range_append(&a->range, leaf, NULL, NULL);
    }
    if (a->w == NULL) {
        rc = store_begin(a->s, true, &a->w);
        if (rc != ERR_OK)
            return rc;
    }
    if (jstrict_parse((const char *)entry, len, &e, NULL) == ERR_OK) {
        rc = audit_rules(a, index, e);
        if (rc != ERR_OK)
            goto out;
    }
    rc = state_apply(a->w, index, entry, len, why);
    if (rc == ERR_INVAL || rc == ERR_CONFLICT) {
        audit_refused(a, index, e, why);
    } else if (rc != ERR_OK) {
        goto out;
    } else if (e != NULL && audit_signed(e)) {
        a->stats.signed_checks++;
    }
    /* State functions read earlier entries by index: the scratch log keeps every one. */
    rc = tlog_append(a->w, &a->range, entry, len, leaf);
    if (rc == ERR_OK && ++a->in_txn == AUDIT_BATCH)
        rc = audit_finish(a);
out:
    cJSON_Delete(e);
    return rc;
}

enum err
audit_finish(struct audit *a)
{
    enum err rc = ERR_OK;

    if (a->w != NULL) {
        rc = store_commit(a->w);
        a->w = NULL;
    }
    a->in_txn = 0;
    return rc;
}

/*
 * audit_localise names the entry that keeps mine[0..n) (the copy's leaf hashes) from the
 * signed root, comparing them with the leaf hashes fetch verified (cache[0..m), which hash to
 * the signed root): the first difference, and whether the entry there changed, went missing or
 * moved.
 */
static void
audit_localise(struct audit *a, const uint8_t (*mine)[HASH_BYTES], uint64_t n,
               const uint8_t (*cache)[HASH_BYTES], uint64_t m)
{
    uint64_t i;

    for (i = 0; i < n && i < m; i++)
        if (!hash_equal(mine[i], cache[i]))
            break;
    if (i == n && i == m)
        return;
    if (i == n) {
        audit_finding_add(a, i, "entry-missing",
                          "the copy ends after %" PRIu64 " entries; the signed log has %" PRIu64, n,
                          m);
    } else if (i == m) {
        audit_finding_add(a, i, "entry-extra",
                          "the copy holds entries from %" PRIu64
                          " on that the signed log of %" PRIu64 " does not",
                          i, m);
    } else if (i + 1 < n && i + 1 < m && hash_equal(mine[i], cache[i + 1]) &&
               hash_equal(mine[i + 1], cache[i])) {
        audit_finding_add(a, i, "entries-swapped",
                          "entries %" PRIu64 " and %" PRIu64 " are in each other's place", i,
                          i + 1);
    } else if (i + 1 < m && hash_equal(mine[i], cache[i + 1])) {
        audit_finding_add(a, i, "entry-missing",
                          "entry %" PRIu64
                          " is missing: the copy holds the signed log's entry %" PRIu64
                          " in its place",
                          i, i + 1);
    } else if (i + 1 < n && hash_equal(mine[i + 1], cache[i])) {
        audit_finding_add(a, i, "entry-extra",
                          "the copy holds an entry at %" PRIu64 " that the signed log does not", i);
    } else {
        audit_finding_add(a, i, "entry-changed",
                          "entry %" PRIu64 "'s bytes changed: it no longer hashes to the leaf "
                          "the signed root covers",
                          i);
    }
}

/* audit_cache_ok is true if the leaf cache hashes to the signed root of l. */
static bool
audit_cache_ok(const struct auditlog *l, const uint8_t (*cache)[HASH_BYTES])
{
    struct merkle_range r;
    uint8_t root[HASH_BYTES];
    uint64_t i;

    merkle_range_init(&r);
    for (i = 0; i < l->cp.size; i++)
        (void)merkle_range_append(&r, cache[i], NULL, NULL);
    merkle_range_root(&r, root);
    return hash_equal(root, l->cp.root);
}

/* audit_cache_roots sets roots[i] to the root of the cache at each kept checkpoint's size. */
static void
audit_cache_roots(const struct auditlog *l, const uint8_t (*cache)[HASH_BYTES],
                  const struct auditlog_saved *saved, size_t nsaved, uint8_t (*roots)[HASH_BYTES],
                  bool *reached)
{
    struct merkle_range r;
    uint64_t k;
    size_t i;

    merkle_range_init(&r);
    for (k = 0; k <= l->cp.size; k++) {
        for (i = 0; i < nsaved; i++)
            if (saved[i].c.size == k) {
                merkle_range_root(&r, roots[i]);
                reached[i] = true;
            }
        if (k < l->cp.size)
            (void)merkle_range_append(&r, cache[k], NULL, NULL);
    }
}

/* audit_saved checks one kept checkpoint against the copy; root_at is the copy's root there. */
static void
audit_saved(struct audit *a, const struct auditlog *l, const struct auditlog_saved *s, bool reached,
            const uint8_t root_at[static HASH_BYTES])
{
    a->stats.checkpoints++;
    if (!s->valid) {
        audit_finding_add(a, AUDIT_NO_INDEX, "checkpoint",
                          "checkpoints/%s is not a checkpoint signed by %s", s->name, l->key.name);
    } else if (s->c.size > l->cp.size) {
        audit_finding_add(a, AUDIT_NO_INDEX, "fork",
                          "checkpoints/%s signs %" PRIu64 " entries, but the log it came from "
                          "does not extend this copy's %" PRIu64
                          " (checkpoint): the log was forked or rewritten",
                          s->name, s->c.size, l->cp.size);
    } else if (!reached) {
        audit_finding_add(a, AUDIT_NO_INDEX, "tree",
                          "checkpoints/%s (%" PRIu64 " entries) could not be checked: the copy's "
                          "entries end before it",
                          s->name, s->c.size);
    } else if (!hash_equal(root_at, s->c.root)) {
        audit_finding_add(a, AUDIT_NO_INDEX, "fork",
                          "checkpoints/%s and checkpoint both sign the first %" PRIu64
                          " entries, with different roots: the log was forked or rewritten "
                          "within those entries",
                          s->name, s->c.size);
    } else if (s->refused) {
        audit_finding_add(a, AUDIT_NO_INDEX, "rollback",
                          "checkpoints/%s signs %" PRIu64 " entries and was served after "
                          "checkpoint, which signs %" PRIu64
                          ": the log was rolled back (a smaller tree signed after a larger one)",
                          s->name, s->c.size, l->cp.size);
    }
}

enum err
audit_run(struct audit *a, const struct auditlog *l, int64_t until,
          char why[static AUDITLOG_WHY_MAX])
{
    uint8_t(*cache)[HASH_BYTES] = NULL, (*mine)[HASH_BYTES] = NULL;
    uint8_t(*roots)[HASH_BYTES] = NULL, root[HASH_BYTES];
    struct auditlog_reader *r = xmalloc(sizeof(*r));
    struct auditlog_saved *saved = NULL;
    bool *reached = NULL, stopped = false;
    size_t nsaved = 0, i, len;
    uint64_t cap = 0;
    int64_t t;
    enum err rc;

    r->f = NULL;
    rc = auditlog_saved(l, &saved, &nsaved, why);
    if (rc != ERR_OK)
        goto out;
    roots = xcalloc(nsaved + 1, sizeof(*roots));
    reached = xcalloc(nsaved + 1, sizeof(*reached));
    if (auditlog_leaves(l, l->cp.size, &cache) != ERR_OK ||
        !audit_cache_ok(l, (const uint8_t(*)[HASH_BYTES])cache)) {
        free(cache);
        cache = NULL;
    }
    /* Sizes 0: the empty root. */
    for (i = 0; i < nsaved; i++)
        if (saved[i].c.size == 0) {
            merkle_empty_root(roots[i]);
            reached[i] = true;
        }
    if (l->cp.size == 0) {
        merkle_empty_root(roots[nsaved]);
        reached[nsaved] = true;
    }
    rc = auditlog_reader_open(l, r, why);
    while (rc == ERR_OK && r->index < l->cp.size) {
        rc = auditlog_read(r, &len, why);
        if (rc == ERR_NOTFOUND)
            break;
        if (rc == ERR_INVAL) {
            audit_finding_add(a, r->index, "entries-file", "%s", why);
            rc = ERR_NOTFOUND;
            break;
        }
        if (until >= 0 && audit_entry_time(r->buf, len, &t) == ERR_OK && t > until) {
            stopped = true;
            break;
        }
        if (a->range.size == cap) {
            cap = cap == 0 ? 4096 : cap * 2;
            mine = xrealloc(mine, (size_t)cap * sizeof(*mine));
        }
        rc = audit_apply(a, r->buf, len, mine[a->range.size]);
        if (rc != ERR_OK)
            goto out;
        for (i = 0; i < nsaved; i++)
            if (saved[i].c.size == a->range.size) {
                merkle_range_root(&a->range, roots[i]);
                reached[i] = true;
            }
        if (l->cp.size == a->range.size) {
            merkle_range_root(&a->range, roots[nsaved]);
            reached[nsaved] = true;
        }
    }
    if (rc != ERR_OK && rc != ERR_NOTFOUND)
        goto out;
    rc = audit_finish(a);
    if (rc != ERR_OK || stopped)
        goto out;
    if (!reached[nsaved] || !hash_equal(roots[nsaved], l->cp.root)) {
        if (cache != NULL) {
            audit_localise(a, (const uint8_t(*)[HASH_BYTES])mine, a->range.size,
                           (const uint8_t(*)[HASH_BYTES])cache, l->cp.size);
            /*
             * The copy itself was changed: compare the kept checkpoints with the leaves the
             * signed root covers instead, so that its damage is not reported as the log's.
             */
            audit_cache_roots(l, (const uint8_t(*)[HASH_BYTES])cache, saved, nsaved, roots,
                              reached);
        } else {
            audit_root(a, root);
            audit_finding_add(a, AUDIT_NO_INDEX, "tree",
                              "the copy's %" PRIu64 " entries do not hash to the root of its "
                              "checkpoint (%" PRIu64 " entries), and it has no leaf cache that "
                              "says which entry changed",
                              a->range.size, l->cp.size);
            /* Without the leaves the signed root covers, the kept checkpoints say nothing. */
            nsaved = 0;
        }
    }
    for (i = 0; i < nsaved; i++)
        audit_saved(a, l, &saved[i], reached[i], roots[i]);
out:
    if (r->f != NULL)
        auditlog_reader_close(r);
    free(r);
    free(saved);
    free(roots);
    free(reached);
    free(cache);
    free(mine);
    return rc;
}
