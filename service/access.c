/*
 * access: the access trail and the revoked-token side table. Entries are checked strictly even
 * though the sequencer wrote them, because a replay reads logs this process did not write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/access.h"
#include "consentd/consents.h"
#include "consentd/jstrict.h"
#include "consentd/tlog.h"
#include "consentd/token.h"
#include "consentd/xmalloc.h"

#define ACCESS_KEY_LEN (NHS_LEN + 1 + 8)

static const char *const access_members[] = {"v",   "type", "time",    "jti",        "client_id",
                                             "org", "nhs",  "purpose", "datatypes",  "grants",
                                             "aud", "iat",  "exp",     "break_glass"};

static const char *
access_str(const cJSON *e, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, name);

    return cJSON_IsString(m) ? m->valuestring : NULL;
}

static bool
access_time(const cJSON *e, const char *name, int64_t *out)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, name);

    if (!cJSON_IsNumber(m) || m->valuedouble < 0 || m->valuedouble > 9e15 ||
        m->valuedouble != (double)(int64_t)m->valuedouble)
        return false;
    *out = (int64_t)m->valuedouble;
    return true;
}

/* access_name_ok: a data category name, 1..64 of a-z 0-9 -. */
static bool
access_name_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > CONSENTS_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* access_purpose_ok: a PurposeOfUse code, 2..16 of A-Z. */
static bool
access_purpose_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 2 || n > CONSENTS_PURPOSE_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

bool
access_reason_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > ACCESS_REASON_MAX)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* access_grants_ok checks the "grants" array: {"jti","log_index"} or {"rule":"implied"}. */
static bool
access_grants_ok(const cJSON *a)
{
    const cJSON *g, *jti, *idx, *rule;
    int64_t v;

    if (!cJSON_IsArray(a) || a->child == NULL || cJSON_GetArraySize(a) > ACCESS_MAX_GRANTS)
        return false;
    cJSON_ArrayForEach(g, a)
    {
        if (!cJSON_IsObject(g))
            return false;
        jti = cJSON_GetObjectItemCaseSensitive(g, "jti");
        idx = cJSON_GetObjectItemCaseSensitive(g, "log_index");
        rule = cJSON_GetObjectItemCaseSensitive(g, "rule");
        if (rule != NULL) {
            if (cJSON_GetArraySize(g) != 1 || !cJSON_IsString(rule) ||
                strcmp(rule->valuestring, ACCESS_RULE) != 0)
                return false;
            continue;
        }
        if (cJSON_GetArraySize(g) != 2 || !cJSON_IsString(jti) ||
            !consents_jti_valid(jti->valuestring) || !access_time(g, "log_index", &v))
            return false;
        (void)idx;
    }
    return true;
}

/* access_check_entry checks the shape of an access entry; false with why set if it is bad. */
static bool
access_check_entry(const cJSON *e, char why[static STATE_WHY_MAX])
{
    const char *jti = access_str(e, "jti"), *cid = access_str(e, "client_id");
    const char *org = access_str(e, "org"), *nhs = access_str(e, "nhs");
    const char *purpose = access_str(e, "purpose");
    const cJSON *m, *a;
    int64_t iat, exp;
    size_t i;
    int n;

    cJSON_ArrayForEach(m, e)
    {
        for (i = 0; i < sizeof(access_members) / sizeof(access_members[0]); i++)
            if (strcmp(m->string, access_members[i]) == 0)
                break;
        if (i == sizeof(access_members) / sizeof(access_members[0])) {
            snprintf(why, STATE_WHY_MAX, "an access entry has no member \"%.32s\"", m->string);
            return false;
        }
    }
    if (jti == NULL || !consents_jti_valid(jti) || strlen(jti) > ACCESS_JTI_MAX) {
        snprintf(why, STATE_WHY_MAX,
                 "an access entry needs a \"jti\" of 1 to %d characters of "
                 "A-Z, a-z, 0-9, '.', '_' and '-'",
                 ACCESS_JTI_MAX);
        return false;
    }
    if (cid == NULL || cid[0] == '\0' || strlen(cid) > TOKEN_ID_MAX || org == NULL ||
        !state_ods_valid(org)) {
        snprintf(why, STATE_WHY_MAX, "an access entry needs a \"client_id\" and an \"org\"");
        return false;
    }
    if (nhs == NULL || !nhs_valid(nhs)) {
        snprintf(why, STATE_WHY_MAX, "an access entry needs a valid NHS number in \"nhs\"");
        return false;
    }
    if (purpose == NULL || !access_purpose_ok(purpose)) {
        snprintf(why, STATE_WHY_MAX, "an access entry needs a PurposeOfUse code in \"purpose\"");
        return false;
    }
    a = cJSON_GetObjectItemCaseSensitive(e, "datatypes");
    n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 1 || n > ACCESS_MAX_NAMES) {
        snprintf(why, STATE_WHY_MAX, "an access entry needs 1 to %d \"datatypes\"",
                 ACCESS_MAX_NAMES);
        return false;
    }
    cJSON_ArrayForEach(m, a)
    {
        if (!cJSON_IsString(m) || !access_name_ok(m->valuestring)) {
            snprintf(why, STATE_WHY_MAX, "an access entry's \"datatypes\" must be category names");
            return false;
        }
    }
    m = cJSON_GetObjectItemCaseSensitive(e, "break_glass");
    if (m != NULL) {
        a = cJSON_GetObjectItemCaseSensitive(m, "reason");
        if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) != 1 || !cJSON_IsString(a) ||
            !access_reason_valid(a->valuestring) ||
            cJSON_GetObjectItemCaseSensitive(e, "grants") != NULL ||
            strcmp(purpose, ACCESS_BTG) != 0) {
            snprintf(why, STATE_WHY_MAX,
                     "a break-glass access entry needs \"break_glass\":{\"reason\"} (1 to %d "
                     "bytes), purpose \"" ACCESS_BTG "\" and no \"grants\"",
                     ACCESS_REASON_MAX);
            return false;
        }
    } else if (strcmp(purpose, ACCESS_BTG) == 0) {
        snprintf(why, STATE_WHY_MAX,
                 "purpose \"" ACCESS_BTG "\" belongs to break-glass access entries only");
        return false;
    } else if (!access_grants_ok(cJSON_GetObjectItemCaseSensitive(e, "grants"))) {
        snprintf(why, STATE_WHY_MAX,
                 "an access entry's \"grants\" must list 1 to %d {\"jti\",\"log_index\"} or "
                 "{\"rule\":\"" ACCESS_RULE "\"} objects (or the entry is a break-glass one)",
                 ACCESS_MAX_GRANTS);
        return false;
    }
    a = cJSON_GetObjectItemCaseSensitive(e, "aud");
    n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 1 || n > ACCESS_MAX_AUD) {
        snprintf(why, STATE_WHY_MAX, "an access entry needs 1 to %d \"aud\" strings",
                 ACCESS_MAX_AUD);
        return false;
    }
    cJSON_ArrayForEach(m, a)
    {
        if (!cJSON_IsString(m) || m->valuestring[0] == '\0') {
            snprintf(why, STATE_WHY_MAX, "an access entry's \"aud\" must hold strings");
            return false;
        }
    }
    if (!access_time(e, "iat", &iat) || !access_time(e, "exp", &exp) || exp <= iat) {
        snprintf(why, STATE_WHY_MAX,
                 "an access entry needs whole seconds \"iat\" and \"exp\", exp after iat");
        return false;
    }
    return true;
}

enum err
access_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
             char why[static STATE_WHY_MAX])
{
    uint8_t val[8], key[ACCESS_KEY_LEN];
    const char *jti, *nhs;
    enum err rc;

    (void)type;
    if (!access_check_entry(e, why))
        return ERR_INVAL;
    jti = access_str(e, "jti");
    nhs = access_str(e, "nhs");
    store_u64_key(index, val);
    rc = store_put(t, STORE_ACCESS, jti, strlen(jti), val, sizeof(val), true, false);
    if (rc == ERR_CONFLICT) {
        snprintf(why, STATE_WHY_MAX, "an access entry for token %s is already in the log", jti);
        return rc;
    }
    if (rc != ERR_OK)
        return rc;
    memcpy(key, nhs, NHS_LEN);
    key[NHS_LEN] = '/';
    store_u64_key(index, key + NHS_LEN + 1);
    return store_put(t, STORE_ACCESS_BY_NHS, key, sizeof(key), "", 0, false, false);
}

enum err
access_get(struct store_txn *t, const char *jti, uint64_t *index)
{
    const void *val;
    size_t len;
    enum err rc;

    *index = 0;
    if (jti == NULL || !consents_jti_valid(jti))
        return ERR_NOTFOUND;
    rc = store_get(t, STORE_ACCESS, jti, strlen(jti), &val, &len);
    if (rc != ERR_OK)
        return rc;
    return store_u64_val(val, len, index);
}

/* The indexes of a person's accesses, gathered in log order by a scan. */
struct access_indexes {
    size_t n, cap;
    uint64_t *v;
};

static enum err
access_collect(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct access_indexes *x = ctx;
    uint64_t idx;
    enum err rc;

    (void)val;
    (void)val_len;
    if (key_len != ACCESS_KEY_LEN)
        return ERR_STORAGE;
    rc = store_u64_val((const uint8_t *)key + NHS_LEN + 1, 8, &idx);
    if (rc != ERR_OK)
        return rc;
    if (x->n == ACCESS_MAX_LIST)
        return ERR_TOOBIG;
    if (x->n == x->cap) {
        x->cap = x->cap == 0 ? 16 : x->cap * 2;
        x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
    }
    x->v[x->n++] = idx;
    return ERR_OK;
}

enum err
access_list(struct store_txn *t, const char *nhs, access_list_fn fn, void *ctx)
{
    struct access_indexes x = {0, 0, NULL};
    char prefix[NHS_LEN + 1];
    const uint8_t *bytes;
    const char *jwhy;
    cJSON *e;
    size_t len, i;
    enum err rc;

    if (nhs == NULL || !nhs_valid(nhs))
        return ERR_OK;
    memcpy(prefix, nhs, NHS_LEN);
    prefix[NHS_LEN] = '/';
    rc = store_scan(t, STORE_ACCESS_BY_NHS, prefix, sizeof(prefix), access_collect, &x);
    for (i = x.n; rc == ERR_OK && i > 0; i--) {
        rc = tlog_entry(t, x.v[i - 1], &bytes, &len);
        if (rc == ERR_NOTFOUND)
            rc = ERR_STORAGE;
        if (rc != ERR_OK)
            break;
        e = NULL;
        jwhy = NULL;
        if (jstrict_parse((const char *)bytes, len, &e, &jwhy) != ERR_OK) {
            rc = ERR_STORAGE;
            break;
        }
        rc = fn(ctx, x.v[i - 1], e);
        cJSON_Delete(e);
    }
    free(x.v);
    return rc;
}

/* The expired revocations a purge found; deleted after the scan. */
struct access_expired {
    int64_t now;
    size_t n, cap;
    char (*jti)[ACCESS_JTI_MAX + 1];
};

static enum err
access_find_expired(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct access_expired *x = ctx;
    uint64_t exp;
    enum err rc;

    rc = store_u64_val(val, val_len, &exp);
    if (rc != ERR_OK || key_len == 0 || key_len > ACCESS_JTI_MAX)
        return ERR_STORAGE;
    if ((int64_t)exp + TOKEN_LEEWAY > x->now)
        return ERR_OK;
    if (x->n == x->cap) {
        x->cap = x->cap == 0 ? 16 : x->cap * 2;
        x->jti = xrealloc(x->jti, x->cap * sizeof(*x->jti));
    }
    memcpy(x->jti[x->n], key, key_len);
    x->jti[x->n][key_len] = '\0';
    x->n++;
    return ERR_OK;
}

enum err
access_revoke(struct store_txn *t, const char *jti, int64_t exp, int64_t now)
{
    struct access_expired x = {now, 0, 0, NULL};
    uint8_t val[8];
    enum err rc;
    size_t i;

    if (jti == NULL || !consents_jti_valid(jti) || strlen(jti) > ACCESS_JTI_MAX)
        return ERR_INVAL;
    rc = store_scan(t, STORE_REVOKED, "", 0, access_find_expired, &x);
    for (i = 0; rc == ERR_OK && i < x.n; i++)
        rc = store_del(t, STORE_REVOKED, x.jti[i], strlen(x.jti[i]));
    free(x.jti);
    if (rc != ERR_OK)
        return rc;
    if (exp < 0 || exp + TOKEN_LEEWAY <= now)
        return ERR_OK;
    store_u64_key((uint64_t)exp, val);
    rc = store_put(t, STORE_REVOKED, jti, strlen(jti), val, sizeof(val), true, false);
    return rc == ERR_CONFLICT ? ERR_OK : rc;
}

enum err
access_revoked(struct store_txn *t, const char *jti, bool *yes)
{
    const void *val;
    size_t len;
    enum err rc;

    *yes = false;
    if (jti == NULL || jti[0] == '\0' || strlen(jti) > ACCESS_JTI_MAX)
        return ERR_OK;
    rc = store_get(t, STORE_REVOKED, jti, strlen(jti), &val, &len);
    if (rc == ERR_NOTFOUND)
        return ERR_OK;
    if (rc == ERR_OK)
        *yes = true;
    return rc;
}

enum err
access_entry_get(struct store_txn *t, uint64_t index, cJSON **out)
{
    const uint8_t *bytes;
    const char *jwhy, *type;
    cJSON *e = NULL;
    size_t len;
    enum err rc;

    *out = NULL;
    rc = tlog_entry(t, index, &bytes, &len);
    if (rc != ERR_OK)
        return rc;
    if (jstrict_parse((const char *)bytes, len, &e, &jwhy) != ERR_OK)
        return ERR_STORAGE;
    type = access_str(e, "type");
    if (type == NULL || strcmp(type, "access") != 0) {
        cJSON_Delete(e);
        return ERR_NOTFOUND;
    }
    *out = e;
    return ERR_OK;
}

/* access_grants_live is true if every grant named in the token's details is active at now. */
static enum err
access_grants_live(struct store_txn *t, const cJSON *details, int64_t now, bool *live)
{
    struct consents_record *rec = xmalloc(sizeof(*rec));
    const cJSON *d, *g, *jti;
    enum err rc = ERR_OK;

    *live = true;
    cJSON_ArrayForEach(d, details)
    {
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(d, "grants"))
        {
            jti = cJSON_GetObjectItemCaseSensitive(g, "jti");
            if (jti == NULL)
                continue; /* a policy rule, not a grant */
            if (!cJSON_IsString(jti)) {
                *live = false;
                goto out;
            }
            rc = consents_get(t, jti->valuestring, rec);
            if (rc == ERR_NOTFOUND) {
                rc = ERR_OK;
                *live = false;
                goto out;
            }
            if (rc != ERR_OK)
                goto out;
            if (consents_status(rec, now) != CONSENTS_ACTIVE) {
                *live = false;
                goto out;
            }
        }
    }
out:
    free(rec);
    return rc;
}

/* access_in reports whether array a holds the string s. */
static bool
access_in(const cJSON *a, const char *s)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, a)
    {
        if (cJSON_IsString(m) && strcmp(m->valuestring, s) == 0)
            return true;
    }
    return false;
}

/*
 * access_claims_match checks that a token's claims say no more than its access entry e: the
 * same client, times and audience, and in every authorization_details object the entry's
 * purpose, only the entry's data categories and only grants the entry relied on. A token that
 * verifies but claims more was not made by this server's issuance (a stolen token key, say).
 */
static bool
access_claims_match(const cJSON *e, const cJSON *claims)
{
    const cJSON *d, *m, *g, *jti, *grants = cJSON_GetObjectItemCaseSensitive(e, "grants");
    const char *cid = access_str(claims, "client_id"), *purpose = access_str(e, "purpose");
    const cJSON *datatypes = cJSON_GetObjectItemCaseSensitive(e, "datatypes");
    int64_t a, b;
    bool found;

    if (cid == NULL || strcmp(cid, access_str(e, "client_id")) != 0 ||
        !access_time(claims, "iat", &a) || !access_time(e, "iat", &b) || a != b ||
        !access_time(claims, "exp", &a) || !access_time(e, "exp", &b) || a != b ||
        !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(claims, "aud"),
                       cJSON_GetObjectItemCaseSensitive(e, "aud"), true))
        return false;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(claims, "authorization_details"))
    {
        m = cJSON_GetObjectItemCaseSensitive(d, "purpose");
        if (!cJSON_IsString(m) || strcmp(m->valuestring, purpose) != 0)
            return false;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(d, "datatypes"))
        {
            if (!cJSON_IsString(m) || !access_in(datatypes, m->valuestring))
                return false;
        }
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(d, "grants"))
        {
            jti = cJSON_GetObjectItemCaseSensitive(m, "jti");
            if (jti == NULL)
                jti = cJSON_GetObjectItemCaseSensitive(m, "rule");
            if (!cJSON_IsString(jti))
                return false;
            found = false;
            cJSON_ArrayForEach(g, grants)
            {
                if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(g, jti->string)) &&
                    strcmp(cJSON_GetObjectItemCaseSensitive(g, jti->string)->valuestring,
                           jti->valuestring) == 0)
                    found = true;
            }
            if (!found)
                return false;
        }
    }
    return true;
}

enum err
access_token_live(struct store_txn *t, const cJSON *claims, int64_t now, bool *live,
                  char nhs[static NHS_LEN + 1])
{
    const char *jti = access_str(claims, "jti"), *who;
    uint64_t index;
    int64_t claimed;
    bool revoked;
    cJSON *e = NULL;
    enum err rc;

    *live = false;
    nhs[0] = '\0';
    if (jti == NULL || !access_time(claims, "log_index", &claimed))
        return ERR_OK;
    rc = access_get(t, jti, &index);
    if (rc == ERR_NOTFOUND || (rc == ERR_OK && index != (uint64_t)claimed))
        return ERR_OK;
    if (rc == ERR_OK)
        rc = access_revoked(t, jti, &revoked);
    if (rc != ERR_OK || revoked)
        return rc;
    rc = access_grants_live(t, cJSON_GetObjectItemCaseSensitive(claims, "authorization_details"),
                            now, live);
    if (rc != ERR_OK || !*live) {
        *live = false;
        return rc;
    }
    rc = access_entry_get(t, index, &e);
    if (rc == ERR_NOTFOUND)
        rc = ERR_STORAGE;
    who = rc == ERR_OK ? access_str(e, "nhs") : NULL;
    if (rc == ERR_OK && (who == NULL || strlen(who) != NHS_LEN))
        rc = ERR_STORAGE;
    if (rc == ERR_OK && !access_claims_match(e, claims))
        *live = false;
    else if (rc == ERR_OK)
        memcpy(nhs, who, NHS_LEN + 1);
    else
        *live = false;
    cJSON_Delete(e);
    return rc;
}
