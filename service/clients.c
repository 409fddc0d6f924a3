/*
 * clients: registered clients, derived from "client" and "client.retire" entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/b64.h"
#include "consentd/clients.h"
#include "consentd/ecache.h"
#include "consentd/jstrict.h"
#include "consentd/policy.h"
#include "consentd/tlog.h"

bool
clients_id_valid(const char *id)
{
    size_t n = strlen(id), i;

    if (n == 0 || n > CLIENTS_ID_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* clients_jwk_key reads an OKP Ed25519 public JWK's raw key; false if it is anything else. */
static bool
clients_jwk_key(const cJSON *jwk, uint8_t pk[static KEYS_PUBLIC_BYTES])
{
    const cJSON *kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(jwk, "x");
    size_t n;

    return cJSON_IsObject(jwk) && cJSON_IsString(kty) && strcmp(kty->valuestring, "OKP") == 0 &&
           cJSON_IsString(crv) && strcmp(crv->valuestring, "Ed25519") == 0 && cJSON_IsString(x) &&
           b64_decode(x->valuestring, strlen(x->valuestring), B64_URL, pk, KEYS_PUBLIC_BYTES, &n) ==
               ERR_OK &&
           n == KEYS_PUBLIC_BYTES;
}

/*
 * clients_jwk reads a registered JWK (which pkey_from_jwk must accept) into cl: the 32 bytes
 * naming the key, and its JSON text. ERR_INVAL (why set) for a JWK that is not a valid key,
 * ERR_TOOBIG for one too long to keep, ERR_NOMEM.
 */
static enum err
clients_jwk(const cJSON *jwk, uint8_t pk[static KEYS_PUBLIC_BYTES],
            char text[static CLIENTS_JWK_MAX + 1], char why[static PKEY_WHY_MAX])
{
    struct pkey *k = NULL;
    char *s = NULL;
    enum err rc;

    rc = pkey_from_jwk(jwk, &k, why);
    if (rc != ERR_OK)
        goto out;
    if (pkey_type_of(k) == PKEY_OKP) {
        if (!clients_jwk_key(jwk, pk)) {
            rc = ERR_INVAL;
            goto out;
        }
    } else {
        pkey_thumbprint(k, pk);
    }
    s = cJSON_PrintUnformatted(jwk);
    if (s == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    if (strlen(s) > CLIENTS_JWK_MAX) {
        snprintf(why, PKEY_WHY_MAX, "the JWK is longer than %d bytes", CLIENTS_JWK_MAX);
        rc = ERR_TOOBIG;
        goto out;
    }
    memcpy(text, s, strlen(s) + 1);
out:
    free(s);
    pkey_free(k);
    return rc;
}

/* clients_roles reads a roles array; false if it is not an array of known role names. */
static bool
clients_roles(const cJSON *a, unsigned *roles)
{
    const cJSON *r;
    unsigned bit;

    *roles = 0;
    if (!cJSON_IsArray(a))
        return false;
    cJSON_ArrayForEach(r, a)
    {
        bit = cJSON_IsString(r) ? policy_role_bit(r->valuestring) : 0;
        if (bit == 0)
            return false;
        *roles |= bit;
    }
    return true;
}

enum err
clients_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
              char why[static STATE_WHY_MAX])
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "client_id");
    const cJSON *org = cJSON_GetObjectItemCaseSensitive(e, "org");
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char text[CLIENTS_JWK_MAX + 1], kwhy[PKEY_WHY_MAX];
    uint64_t ci, ri, oi;
    unsigned roles;
    enum err rc;

    if (!cJSON_IsString(id) || !clients_id_valid(id->valuestring)) {
        snprintf(why, STATE_WHY_MAX, "a %s entry needs a valid \"client_id\"", type);
        return ERR_INVAL;
    }
    rc = store_get_pair(t, STORE_CLIENTS, id->valuestring, &ci, &ri);
    if (rc != ERR_OK && rc != ERR_NOTFOUND)
        return rc;
    if (strcmp(type, "client.retire") == 0) {
        if (rc == ERR_NOTFOUND) {
            snprintf(why, STATE_WHY_MAX, "client %s is not registered", id->valuestring);
            return ERR_INVAL;
        }
        if (ri != 0) {
            snprintf(why, STATE_WHY_MAX, "client %s is already retired", id->valuestring);
            return ERR_CONFLICT;
        }
        return store_put_pair(t, STORE_CLIENTS, id->valuestring, ci, index);
    }
    if (rc == ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "client %s is already registered", id->valuestring);
        return ERR_CONFLICT;
    }
    if (!cJSON_IsString(org) || state_org_index(t, org->valuestring, &oi) != ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "a client's \"org\" must be a registered organisation");
        return ERR_INVAL;
    }
    rc = clients_jwk(cJSON_GetObjectItemCaseSensitive(e, "jwk"), pk, text, kwhy);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "a client's \"jwk\": %.200s", kwhy);
        return ERR_INVAL;
    }
    if (!clients_roles(cJSON_GetObjectItemCaseSensitive(e, "roles"), &roles)) {
        snprintf(why, STATE_WHY_MAX, "a client's \"roles\" must be an array of role names");
        return ERR_INVAL;
    }
    return store_put_pair(t, STORE_CLIENTS, id->valuestring, index, 0);
}

/*
 * clients_parse reads what client entry index says (org, pk, jwk, roles) into out, the rest of
 * it zeroed. ERR_STORAGE if the entry is missing or is not a valid client entry; ERR_NOMEM.
 */
static enum err
clients_parse(struct store_txn *t, uint64_t index, void *value)
{
    struct clients_client *out = value;
    const uint8_t *bytes;
    const cJSON *org;
    cJSON *e = NULL;
    char kwhy[PKEY_WHY_MAX];
    size_t len;
    enum err rc;

    memset(out, 0, sizeof(*out));
    rc = tlog_entry(t, index, &bytes, &len);
    if (rc != ERR_OK)
        return rc == ERR_NOTFOUND ? ERR_STORAGE : rc;
    if (jstrict_parse((const char *)bytes, len, &e, NULL) != ERR_OK)
        return ERR_STORAGE;
    org = cJSON_GetObjectItemCaseSensitive(e, "org");
    rc = clients_jwk(cJSON_GetObjectItemCaseSensitive(e, "jwk"), out->pk, out->jwk, kwhy);
    if (rc != ERR_NOMEM)
        rc = rc == ERR_OK ? ERR_OK : ERR_STORAGE;
    if (rc != ERR_OK)
        goto out;
    rc = ERR_STORAGE;
    if (!cJSON_IsString(org) || strlen(org->valuestring) > CLIENTS_ODS_MAX ||
        !clients_roles(cJSON_GetObjectItemCaseSensitive(e, "roles"), &out->roles))
        goto out;
    snprintf(out->org, sizeof(out->org), "%s", org->valuestring);
    rc = ERR_OK;
out:
    cJSON_Delete(e);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/*
 * This thread's parsed client entries (ecache.h): a token request reads its client's entry in
 * the HTTP thread and again in the sequencer, and parsing the JWK each time showed in profiles.
 */
static __thread struct ecache clients_cache = ECACHE_INIT(64, struct clients_client);

enum err
clients_get(struct store_txn *t, const char *id, struct clients_client *out)
{
    const struct clients_client *parsed;
    uint64_t ci, ri;
    void *v;
    enum err rc;

    memset(out, 0, sizeof(*out));
    if (!clients_id_valid(id))
        return ERR_NOTFOUND;
    rc = store_get_pair(t, STORE_CLIENTS, id, &ci, &ri);
    if (rc != ERR_OK)
        return rc;
    rc = ecache_read(t, &clients_cache, ci, clients_parse, &v);
    if (rc != ERR_OK)
        return rc;
    parsed = v;
    *out = *parsed;
    snprintf(out->client_id, sizeof(out->client_id), "%s", id);
    out->index = ci;
    out->retire_index = ri;
    out->retired = ri != 0;
    return ERR_OK;
}

enum err
clients_key(const struct clients_client *cl, struct pkey **out)
{
    char why[PKEY_WHY_MAX];
    cJSON *jwk = NULL;
    enum err rc;

    *out = NULL;
    rc = jstrict_parse(cl->jwk, strlen(cl->jwk), &jwk, NULL);
    if (rc == ERR_OK)
        rc = pkey_from_jwk(jwk, out, why);
    if (rc != ERR_OK && rc != ERR_NOMEM)
        rc = ERR_STORAGE;
    cJSON_Delete(jwk);
    return rc;
}
