/*
 * tokenkeys: the token-signing keys, derived from "key.rotate" entries. Entries are checked
 * strictly even though the sequencer wrote them, because a replay reads logs this process did
 * not write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/b64.h"
#include "consentd/config.h"
#include "consentd/consents.h"
#include "consentd/json.h"
#include "consentd/policy.h"
#include "consentd/token.h"
#include "consentd/tokenkeys.h"

#define TOKENKEYS_REC_BYTES (KEYS_PUBLIC_BYTES + 8) /* public key ‖ retired at */
#define TOKENKEYS_CUR_BYTES (2 * KEYS_KID_LEN)      /* current kid ‖ the kid it replaced */

static const char *const tokenkeys_members[] = {"v", "type", "time", "added", "retired"};
static const char *const tokenkeys_jwk_members[] = {"kty", "crv", "x", "kid"};

/* tokenkeys_has_only is true if every member of o is one of names[0..n). */
static bool
tokenkeys_has_only(const cJSON *o, const char *const *names, size_t n, const char **bad)
{
    const cJSON *m;
    size_t i;

    cJSON_ArrayForEach(m, o)
    {
        for (i = 0; i < n; i++)
            if (strcmp(m->string, names[i]) == 0)
                break;
        if (i == n) {
            *bad = m->string;
            return false;
        }
    }
    return true;
}

static const char *
tokenkeys_str(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/*
 * tokenkeys_jwk reads member name of e, a public JWK with exactly kty "OKP", crv "Ed25519", x
 * (32 bytes, base64url) and kid (keys_kid of x), into pk and kid. False with why set otherwise.
 */
static bool
tokenkeys_jwk(const cJSON *e, const char *name, uint8_t pk[static KEYS_PUBLIC_BYTES],
              char kid[static KEYS_KID_LEN + 1], char why[static STATE_WHY_MAX])
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(e, name);
    const char *kty, *crv, *x, *k, *bad = NULL;
    size_t n = 0;

    kty = tokenkeys_str(j, "kty");
    crv = tokenkeys_str(j, "crv");
    x = tokenkeys_str(j, "x");
    k = tokenkeys_str(j, "kid");
    if (!cJSON_IsObject(j) || !tokenkeys_has_only(j, tokenkeys_jwk_members, 4, &bad) ||
        kty == NULL || strcmp(kty, "OKP") != 0 || crv == NULL || strcmp(crv, "Ed25519") != 0 ||
        x == NULL || k == NULL ||
        b64_decode(x, strlen(x), B64_URL, pk, KEYS_PUBLIC_BYTES, &n) != ERR_OK ||
        n != KEYS_PUBLIC_BYTES) {
        snprintf(why, STATE_WHY_MAX,
                 "a key.rotate entry's \"%s\" must be a public JWK of exactly \"kty\":\"OKP\", "
                 "\"crv\":\"Ed25519\", \"x\" (32 bytes, base64url) and \"kid\"",
                 name);
        return false;
    }
    keys_kid(pk, kid);
    if (strcmp(k, kid) != 0) {
        snprintf(why, STATE_WHY_MAX,
                 "a key.rotate entry's \"%s\" names kid \"%.64s\", but its key's kid is %s", name,
                 k, kid);
        return false;
    }
    return true;
}

enum err
tokenkeys_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                char why[static STATE_WHY_MAX])
{
    uint8_t added[KEYS_PUBLIC_BYTES], retired[KEYS_PUBLIC_BYTES], rec[TOKENKEYS_REC_BYTES];
    char akid[KEYS_KID_LEN + 1], rkid[KEYS_KID_LEN + 1], cur[TOKENKEYS_CUR_BYTES];
    const char *bad = NULL;
    const void *val;
    size_t len;
    int64_t at;
    enum err rc;

    (void)index;
    (void)type;
    if (!tokenkeys_has_only(e, tokenkeys_members, 5, &bad)) {
        snprintf(why, STATE_WHY_MAX, "a key.rotate entry has no member \"%.32s\"", bad);
        return ERR_INVAL;
    }
    if (consents_time_parse(tokenkeys_str(e, "time"), &at) != ERR_OK || at <= 0) {
        snprintf(why, STATE_WHY_MAX,
                 "a key.rotate entry needs \"time\": RFC 3339 UTC to the "
                 "second, after the epoch");
        return ERR_INVAL;
    }
    if (!tokenkeys_jwk(e, "added", added, akid, why) ||
        !tokenkeys_jwk(e, "retired", retired, rkid, why))
        return ERR_INVAL;
    if (strcmp(akid, rkid) == 0) {
        snprintf(why, STATE_WHY_MAX,
                 "a key.rotate entry must add a key other than the one it "
                 "retires");
        return ERR_INVAL;
    }
    rc = store_get(t, STORE_TOKEN_KEYS, akid, KEYS_KID_LEN, &val, &len);
    if (rc == ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "token key %s was used before; a key is added only once",
                 akid);
        return ERR_CONFLICT;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    rc = store_get(t, STORE_TOKEN_KEYS, TOKENKEYS_CURRENT, strlen(TOKENKEYS_CURRENT), &val, &len);
    if (rc == ERR_OK && len != TOKENKEYS_CUR_BYTES)
        return ERR_STORAGE;
    if (rc == ERR_OK && memcmp(val, rkid, KEYS_KID_LEN) != 0) {
        snprintf(why, STATE_WHY_MAX,
                 "a key.rotate entry retires key %s, but the current token key is %.43s", rkid,
                 (const char *)val);
        return ERR_CONFLICT;
    }
    /* Without a record, this is the first rotation: it retires the key init made. */
    if (rc != ERR_OK && rc != ERR_NOTFOUND)
        return rc;

    memcpy(rec, added, KEYS_PUBLIC_BYTES);
    store_u64_key(0, rec + KEYS_PUBLIC_BYTES);
    rc = store_put(t, STORE_TOKEN_KEYS, akid, KEYS_KID_LEN, rec, sizeof(rec), true, false);
    if (rc != ERR_OK)
        return rc == ERR_CONFLICT ? ERR_STORAGE : rc;
    memcpy(rec, retired, KEYS_PUBLIC_BYTES);
    store_u64_key((uint64_t)at, rec + KEYS_PUBLIC_BYTES);
    rc = store_put(t, STORE_TOKEN_KEYS, rkid, KEYS_KID_LEN, rec, sizeof(rec), false, false);
    if (rc != ERR_OK)
        return rc;
    memcpy(cur, akid, KEYS_KID_LEN);
    memcpy(cur + KEYS_KID_LEN, rkid, KEYS_KID_LEN);
    return store_put(t, STORE_TOKEN_KEYS, TOKENKEYS_CURRENT, strlen(TOKENKEYS_CURRENT), cur,
                     sizeof(cur), false, false);
}

/* tokenkeys_key reads kid's record: its public key, and when it was retired (0: current). */
static enum err
tokenkeys_key(struct store_txn *t, const char *kid, uint8_t pk[static KEYS_PUBLIC_BYTES],
              int64_t *retired_at)
{
    const uint8_t *val;
    size_t len;
    uint64_t at;
    enum err rc;

    rc = store_get(t, STORE_TOKEN_KEYS, kid, KEYS_KID_LEN, (const void **)&val, &len);
    if (rc == ERR_NOTFOUND)
        return ERR_STORAGE;
    if (rc != ERR_OK)
        return rc;
    if (len != TOKENKEYS_REC_BYTES)
        return ERR_STORAGE;
    rc = store_u64_val(val + KEYS_PUBLIC_BYTES, 8, &at);
    if (rc != ERR_OK || at > (uint64_t)INT64_MAX)
        return ERR_STORAGE;
    memcpy(pk, val, KEYS_PUBLIC_BYTES);
    *retired_at = (int64_t)at;
    return ERR_OK;
}

enum err
tokenkeys_get(struct store_txn *t, struct tokenkeys_state *out)
{
    const char *val;
    int64_t at;
    size_t len;
    enum err rc;

    memset(out, 0, sizeof(*out));
    rc = store_get(t, STORE_TOKEN_KEYS, TOKENKEYS_CURRENT, strlen(TOKENKEYS_CURRENT),
                   (const void **)&val, &len);
    if (rc != ERR_OK)
        return rc;
    if (len != TOKENKEYS_CUR_BYTES)
        return ERR_STORAGE;
    memcpy(out->current, val, KEYS_KID_LEN);
    memcpy(out->retired, val + KEYS_KID_LEN, KEYS_KID_LEN);
    rc = tokenkeys_key(t, out->current, out->current_pk, &at);
    if (rc == ERR_OK && at != 0)
        rc = ERR_STORAGE;
    if (rc == ERR_OK)
        rc = tokenkeys_key(t, out->retired, out->retired_pk, &out->retired_at);
    if (rc == ERR_OK && out->retired_at == 0)
        rc = ERR_STORAGE;
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int64_t
tokenkeys_published_until(int64_t retired_at)
{
    return retired_at + POLICY_MAX_LIFETIME + TOKEN_LEEWAY;
}

enum err
tokenkeys_may_rotate(struct store_txn *t, const char *retired_kid, int64_t now,
                     char why[static STATE_WHY_MAX])
{
    char at[CONSENTS_TIME_LEN + 1], until[CONSENTS_TIME_LEN + 1];
    struct tokenkeys_state st;
    enum err rc;

    rc = tokenkeys_get(t, &st);
    if (rc == ERR_NOTFOUND)
        return ERR_OK;
    if (rc != ERR_OK)
        return rc;
    if (strcmp(st.current, retired_kid) != 0) {
        snprintf(why, STATE_WHY_MAX,
                 "the token key changed while this rotation waited: the current key is now %s",
                 st.current);
        return ERR_CONFLICT;
    }
    if (now < tokenkeys_published_until(st.retired_at)) {
        consents_time_format(st.retired_at, at);
        consents_time_format(tokenkeys_published_until(st.retired_at), until);
        snprintf(why, STATE_WHY_MAX,
                 "token key %.43s, retired at %s, is published until %s, when every token it "
                 "signed has expired; rotate again at or after that time",
                 st.retired, at, until);
        return ERR_CONFLICT;
    }
    return ERR_OK;
}

/* tokenkeys_jwk_new returns the public JWK of pk as a key.rotate entry holds it. */
static cJSON *
tokenkeys_jwk_new(const uint8_t pk[static KEYS_PUBLIC_BYTES])
{
    char x[64], kid[KEYS_KID_LEN + 1];
    cJSON *j = cJSON_CreateObject();

    if (j == NULL || b64_encode(pk, KEYS_PUBLIC_BYTES, B64_URL, x, sizeof(x)) != ERR_OK) {
        cJSON_Delete(j);
        return NULL;
    }
    keys_kid(pk, kid);
    cJSON_AddStringToObject(j, "kty", "OKP");
    cJSON_AddStringToObject(j, "crv", "Ed25519");
    cJSON_AddStringToObject(j, "x", x);
    cJSON_AddStringToObject(j, "kid", kid);
    return j;
}

enum err
tokenkeys_fields(const uint8_t added[static KEYS_PUBLIC_BYTES],
                 const uint8_t retired[static KEYS_PUBLIC_BYTES], char **out, size_t *len)
{
    cJSON *o = cJSON_CreateObject(), *a = tokenkeys_jwk_new(added), *r = tokenkeys_jwk_new(retired);
    enum err rc = ERR_NOMEM;

    *out = NULL;
    *len = 0;
    if (o == NULL || a == NULL || r == NULL)
        goto out;
    cJSON_AddItemToObject(o, "added", a);
    a = NULL;
    cJSON_AddItemToObject(o, "retired", r);
    r = NULL;
    rc = json_fields_text(o, out, len);
out:
    cJSON_Delete(r);
    cJSON_Delete(a);
    cJSON_Delete(o);
    return rc;
}

void
tokenkeys_file_name(const char *kid, char out[static TOKENKEYS_FILE_MAX])
{
    if (kid == NULL)
        snprintf(out, TOKENKEYS_FILE_MAX, "%s", CONFIG_TOKEN_KEY_NAME);
    else
        snprintf(out, TOKENKEYS_FILE_MAX, TOKENKEYS_FILE_FMT, kid);
}
