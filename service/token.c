/*
 * token: minting and checking consentd's own access tokens (RFC 9068 JWTs, EdDSA).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/jstrict.h"
#include "consentd/jws.h"
#include "consentd/policy.h"
#include "consentd/token.h"
#include "consentd/xmalloc.h"

#define TOKEN_HEADER_MAX 512 /* bytes of a decoded JWS header read for its kid */

/*
 * The keys in use. Never changed once a signer publishes it (token_signer_set_retired writes
 * before the signer is shared), so readers need no lock.
 */
struct token_keyset {
    struct keys_pair *key;
    struct token_key current; /* until 0 */
    bool has_retired;
    struct token_key retired;
};

static const struct {
    const char *name;
    enum token_scope scope;
} token_scopes[] = {
    {"enrol", TOKEN_SCOPE_ENROL},     {"pointers", TOKEN_SCOPE_POINTERS},
    {"audit", TOKEN_SCOPE_AUDIT},     {"introspect", TOKEN_SCOPE_INTROSPECT},
    {"patient", TOKEN_SCOPE_PATIENT},
};

#define TOKEN_NSCOPES (sizeof(token_scopes) / sizeof(token_scopes[0]))

/* token_keyset_new makes a set whose current key is key (ownership taken), none retired. */
static struct token_keyset *
token_keyset_new(struct keys_pair *key)
{
    struct token_keyset *ks = xcalloc(1, sizeof(*ks));

    ks->key = key;
    keys_public(key, ks->current.pk);
    keys_kid(ks->current.pk, ks->current.kid);
    return ks;
}

static void
token_keyset_free(struct token_keyset *ks)
{
    if (ks == NULL)
        return;
    keys_free(ks->key);
    free(ks);
}

enum err
token_signer_init(struct token_signer *s, struct keys_pair *key, const char *issuer)
{
    memset(s, 0, sizeof(*s));
    atomic_init(&s->keys, NULL);
    if (strlen(issuer) > TOKEN_ISSUER_MAX) {
        keys_free(key);
        return ERR_INVAL;
    }
    atomic_store(&s->keys, token_keyset_new(key));
    memcpy(s->issuer, issuer, strlen(issuer) + 1);
    return ERR_OK;
}

void
token_signer_set_retired(struct token_signer *s, const uint8_t pk[static KEYS_PUBLIC_BYTES],
                         int64_t until)
{
    struct token_keyset *ks = atomic_load(&s->keys);

    ks->has_retired = true;
    memcpy(ks->retired.pk, pk, KEYS_PUBLIC_BYTES);
    keys_kid(pk, ks->retired.kid);
    ks->retired.until = until;
}

void
token_signer_rotate(struct token_signer *s, struct keys_pair *key, int64_t until)
{
    struct token_keyset *cur = atomic_load(&s->keys), *next = token_keyset_new(key);

    next->has_retired = true;
    next->retired = cur->current;
    next->retired.until = until;
    /*
     * The set replaced at the previous rotation went out of use when the key it held as
     * current was retired, at least a publication window ago: no reader holds it now.
     */
    token_keyset_free(s->replaced);
    s->replaced = cur;
    atomic_store(&s->keys, next);
}

void
token_signer_keys(const struct token_signer *s, int64_t now, struct token_keys *out)
{
    const struct token_keyset *ks = atomic_load(&s->keys);

    memset(out, 0, sizeof(*out));
    out->k[out->n++] = ks->current;
    if (ks->has_retired && now < ks->retired.until)
        out->k[out->n++] = ks->retired;
}

void
token_signer_clear(struct token_signer *s)
{
    token_keyset_free(atomic_load(&s->keys));
    atomic_store(&s->keys, NULL);
    token_keyset_free(s->replaced);
    s->replaced = NULL;
}

/*
 * token_key_for finds the key the "kid" of jwt's header names in ks: the current key, or the
 * retired one while now < its until. The kid is only a lookup key in that table of two; the
 * signature is checked afterwards. False with *why set if it names neither.
 */
static bool
token_key_for(const struct token_keyset *ks, const char *jwt, size_t len, int64_t now,
              const struct token_key **key, const char **why)
{
    const char *dot = memchr(jwt, '.', len);
    uint8_t raw[TOKEN_HEADER_MAX];
    const cJSON *kid;
    cJSON *h = NULL;
    size_t n = 0;

    *key = NULL;
    *why = "the access token is malformed";
    if (dot == NULL ||
        b64_decode(jwt, (size_t)(dot - jwt), B64_URL, raw, sizeof(raw), &n) != ERR_OK ||
        jstrict_parse((const char *)raw, n, &h, NULL) != ERR_OK)
        return false;
    kid = cJSON_GetObjectItemCaseSensitive(h, "kid");
    *why = "the access token names a key consentd does not sign with";
    if (cJSON_IsString(kid) && strcmp(kid->valuestring, ks->current.kid) == 0) {
        *key = &ks->current;
    } else if (cJSON_IsString(kid) && ks->has_retired &&
               strcmp(kid->valuestring, ks->retired.kid) == 0) {
        if (now < ks->retired.until)
            *key = &ks->retired;
        else
            *why = "the access token names a retired token key that is no longer accepted";
    }
    cJSON_Delete(h);
    return *key != NULL;
}

void
token_scope_format(unsigned scopes, char *out, size_t out_cap)
{
    size_t i, len = 0;
    int n;

    if (out_cap == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < TOKEN_NSCOPES; i++) {
        if ((scopes & (unsigned)token_scopes[i].scope) == 0)
            continue;
        n = snprintf(out + len, out_cap - len, "%s%s", len == 0 ? "" : " ", token_scopes[i].name);
        if (n < 0 || (size_t)n >= out_cap - len)
            return;
        len += (size_t)n;
    }
}

enum err
token_scope_parse(const char *s, unsigned *scopes, const char **bad)
{
    const char *p = s, *end;
    size_t i, n;

    *scopes = 0;
    *bad = NULL;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        end = strchr(p, ' ');
        n = end != NULL ? (size_t)(end - p) : strlen(p);
        for (i = 0; i < TOKEN_NSCOPES; i++)
            if (strlen(token_scopes[i].name) == n && memcmp(token_scopes[i].name, p, n) == 0)
                break;
        if (i == TOKEN_NSCOPES) {
            *bad = p;
            *scopes = 0;
            return ERR_INVAL;
        }
        *scopes |= (unsigned)token_scopes[i].scope;
        p += n;
    }
    return ERR_OK;
}

enum err
token_mint(const struct token_signer *s, struct token_claims *c, char **out)
{
    const struct token_keyset *ks;
    char scope[128];
    uint8_t raw[16];
    cJSON *j;
    char *payload;
    enum err rc;

    *out = NULL;
    if (c->jti[0] == '\0') {
        hash_random(raw, sizeof(raw));
        if (b64_encode(raw, sizeof(raw), B64_URL, c->jti, sizeof(c->jti)) != ERR_OK)
            return ERR_NOMEM;
    }
    token_scope_format(c->scopes, scope, sizeof(scope));
    j = cJSON_CreateObject();
    if (j == NULL)
        return ERR_NOMEM;
    cJSON_AddStringToObject(j, "iss", s->issuer);
    cJSON_AddStringToObject(j, "sub", c->sub);
    cJSON_AddStringToObject(j, "client_id", c->client_id);
    cJSON_AddStringToObject(j, "aud", s->issuer);
    cJSON_AddNumberToObject(j, "iat", (double)c->iat);
    cJSON_AddNumberToObject(j, "exp", (double)c->exp);
    cJSON_AddStringToObject(j, "jti", c->jti);
    cJSON_AddStringToObject(j, "scope", scope);
    if (c->nhs[0] != '\0')
        cJSON_AddStringToObject(j, "nhs", c->nhs);
    payload = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (payload == NULL)
        return ERR_NOMEM;
    ks = atomic_load(&s->keys);
    rc = jws_sign(ks->key, "at+jwt", ks->current.kid, payload, strlen(payload), out);
    free(payload);
    return rc;
}

static bool
token_string(const cJSON *o, const char *name, char *out, size_t cap, bool required)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    out[0] = '\0';
    if (m == NULL)
        return !required;
    if (!cJSON_IsString(m) || strlen(m->valuestring) >= cap)
        return false;
    memcpy(out, m->valuestring, strlen(m->valuestring) + 1);
    return true;
}

static bool
token_time(const cJSON *o, const char *name, int64_t *out)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsNumber(m) || m->valuedouble < 0 || m->valuedouble > 9e15 ||
        m->valuedouble != (double)(int64_t)m->valuedouble)
        return false;
    *out = (int64_t)m->valuedouble;
    return true;
}

enum err
token_check(const struct token_signer *s, const char *jwt, size_t len, int64_t now,
            struct token_claims *c, const char **why)
{
    const struct token_keyset *ks = atomic_load(&s->keys);
    struct jws_parts p = {0};
    char iss[TOKEN_ISSUER_MAX + 1], aud[TOKEN_ISSUER_MAX + 1], scope[256];
    const struct token_key *key;
    const cJSON *typ, *kid;
    const char *bad, *jwhy = NULL;
    enum err rc = ERR_AUTH;

    memset(c, 0, sizeof(*c));
    *why = "the access token is malformed";
    if (len == 0 || len > TOKEN_MAX_LEN)
        return ERR_AUTH;
    if (!token_key_for(ks, jwt, len, now, &key, why))
        return ERR_AUTH;
    if (jws_verify(jwt, len, key->pk, &p, &jwhy) != ERR_OK) {
        *why = "the access token's signature does not verify with consentd's token key";
        goto out;
    }
    typ = cJSON_GetObjectItemCaseSensitive(p.header, "typ");
    kid = cJSON_GetObjectItemCaseSensitive(p.header, "kid");
    if (!cJSON_IsString(typ) || strcmp(typ->valuestring, "at+jwt") != 0) {
        *why = "the token is not an access token (typ must be at+jwt)";
        goto out;
    }
    if (!cJSON_IsString(kid) || strcmp(kid->valuestring, key->kid) != 0) {
        *why = "the access token names a key consentd does not sign with";
        goto out;
    }
    if (!token_string(p.payload, "iss", iss, sizeof(iss), true) ||
        !token_string(p.payload, "aud", aud, sizeof(aud), true) || strcmp(iss, s->issuer) != 0 ||
        strcmp(aud, s->issuer) != 0) {
        *why = "the access token was not issued by and for this consentd (iss, aud)";
        goto out;
    }
    if (!token_string(p.payload, "sub", c->sub, sizeof(c->sub), true) ||
        !token_string(p.payload, "client_id", c->client_id, sizeof(c->client_id), true) ||
        !token_string(p.payload, "jti", c->jti, sizeof(c->jti), true) ||
        !token_string(p.payload, "nhs", c->nhs, sizeof(c->nhs), false) ||
        !token_string(p.payload, "scope", scope, sizeof(scope), true) ||
        !token_time(p.payload, "iat", &c->iat) || !token_time(p.payload, "exp", &c->exp) ||
        token_scope_parse(scope, &c->scopes, &bad) != ERR_OK) {
        *why = "the access token's claims are missing or malformed";
        goto out;
    }
    if (c->exp + TOKEN_LEEWAY <= now) {
        *why = "the access token has expired; ask for a new one";
        goto out;
    }
    if (c->iat > now + TOKEN_LEEWAY) {
        *why = "the access token was issued in the future; check the clocks";
        goto out;
    }
    if (c->exp - c->iat > POLICY_MAX_LIFETIME) {
        *why = "the access token lives longer than any token this server issues";
        goto out;
    }
    rc = ERR_OK;
    *why = NULL;
out:
    if (rc != ERR_OK)
        memset(c, 0, sizeof(*c));
    jws_parts_clear(&p);
    return rc;
}

enum err
token_mint_access(const struct token_signer *s, const struct token_claims *c,
                  const struct token_access *a, char **out)
{
    const struct token_keyset *ks;
    cJSON *j, *aud, *ext, *o, *pou, *ids;
    char *payload;
    enum err rc;
    size_t i;

    *out = NULL;
    if (c->jti[0] == '\0')
        return ERR_INVAL;
    j = cJSON_CreateObject();
    if (j == NULL)
        return ERR_NOMEM;
    cJSON_AddStringToObject(j, "iss", s->issuer);
    cJSON_AddStringToObject(j, "sub", c->sub);
    cJSON_AddStringToObject(j, "client_id", c->client_id);
    aud = cJSON_AddArrayToObject(j, "aud");
    cJSON_AddItemToArray(aud, cJSON_CreateString(s->issuer));
    for (i = 0; i < a->naud; i++)
        cJSON_AddItemToArray(aud, cJSON_CreateString(a->aud[i]));
    cJSON_AddNumberToObject(j, "iat", (double)c->iat);
    cJSON_AddNumberToObject(j, "exp", (double)c->exp);
    cJSON_AddStringToObject(j, "jti", c->jti);
    cJSON_AddStringToObject(j, "scope", TOKEN_ACCESS_SCOPE);
    cJSON_AddItemToObject(j, "authorization_details", cJSON_Duplicate(a->details, true));
    cJSON_AddNumberToObject(j, "log_index", (double)a->log_index);
    ext = cJSON_AddObjectToObject(j, "extensions");
    o = cJSON_AddObjectToObject(ext, "ihe_iua");
    pou = cJSON_AddObjectToObject(o, "purpose_of_use");
    cJSON_AddStringToObject(pou, "system", TOKEN_POU_SYSTEM);
    cJSON_AddStringToObject(pou, "code", a->purpose);
    if (a->purpose_display != NULL)
        cJSON_AddStringToObject(pou, "display", a->purpose_display);
    o = cJSON_AddObjectToObject(ext, "ihe_pcf");
    ids = cJSON_AddArrayToObject(o, "doc_id");
    for (i = 0; i < a->ndoc_ids; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(a->doc_ids[i]));
    payload = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (payload == NULL)
        return ERR_NOMEM;
    ks = atomic_load(&s->keys);
    rc = jws_sign(ks->key, "at+jwt", ks->current.kid, payload, strlen(payload), out);
    free(payload);
    if (rc == ERR_OK && strlen(*out) > TOKEN_ACCESS_MAX_LEN) {
        free(*out);
        *out = NULL;
        rc = ERR_TOOBIG;
    }
    return rc;
}

/* token_aud_has is true if aud is an array of strings holding issuer. */
static bool
token_aud_has(const cJSON *aud, const char *issuer)
{
    const cJSON *m;
    bool found = false;

    if (!cJSON_IsArray(aud))
        return false;
    cJSON_ArrayForEach(m, aud)
    {
        if (!cJSON_IsString(m))
            return false;
        if (strcmp(m->valuestring, issuer) == 0)
            found = true;
    }
    return found;
}

/*
 * Consent-checked tokens this thread found well signed and well formed, by a hash of the key,
 * the issuer and the token's bytes (keyed BLAKE2b: the token under a hash of the issuer keyed
 * by the public key), each with its claims: a record holder introspects a token for each
 * request it is shown with, and a hit costs two BLAKE2b instead of an Ed25519 verification,
 * two base64 decodings and two JSON parses (the caller reads the claims kept). What depends on
 * more than those bytes is checked on every call: that the key is still accepted (a retired
 * key only until its time), and the token's times.
 *
 * The table is set-associative: a token's hash picks one of TOKEN_SEEN_SETS sets, which holds
 * the last TOKEN_SEEN_WAYS tokens found good there, the oldest replaced first; a set is
 * searched by the first 8 bytes of each hash, and a match confirmed on the whole hash. (A table
 * of single slots, tried first, lost a token whenever another one landed on its slot: with
 * 2,000 tokens introspected in turn over 4,096 slots, 39 % were verified again on every round;
 * sets of 16 still lost 1 %.) It holds up to 4,096 tokens' claims, about 4.4 KiB each as
 * parsed: at most about 18 MiB a thread. token_thread_end frees it.
 */
#define TOKEN_SEEN_WAYS 32
#define TOKEN_SEEN_SETS 128
_Static_assert(KEYS_PUBLIC_BYTES == HASH_BYTES, "a token key's public half keys BLAKE2b");

struct token_seen_set {
    uint64_t tag[TOKEN_SEEN_WAYS]; /* the first 8 bytes of each way's h */
    struct {
        uint8_t h[HASH_BYTES];
        cJSON *claims; /* NULL: an empty way */
        int64_t iat, exp;
    } way[TOKEN_SEEN_WAYS];
    unsigned next; /* the way replaced next */
};

static _Thread_local struct token_seen_set *token_seen; /* TOKEN_SEEN_SETS, made on first use */
static _Thread_local uint64_t token_verifications;

void
token_thread_end(void)
{
    size_t i, j;

    if (token_seen == NULL)
        return;
    for (i = 0; i < TOKEN_SEEN_SETS; i++)
        for (j = 0; j < TOKEN_SEEN_WAYS; j++)
            cJSON_Delete(token_seen[i].way[j].claims);
    free(token_seen);
    token_seen = NULL;
}

uint64_t
token_thread_verifications(void)
{
    return token_verifications;
}

/* token_times checks what of a good token depends on now: its exp and iat. */
static enum err
token_times(int64_t iat, int64_t exp, int64_t now, const char **why)
{
    if (exp + TOKEN_LEEWAY <= now) {
        *why = "the access token has expired; ask for a new one";
        return ERR_AUTH;
    }
    if (iat > now + TOKEN_LEEWAY) {
        *why = "the access token was issued in the future; check the clocks";
        return ERR_AUTH;
    }
    return ERR_OK;
}

/*
 * token_check_new verifies and checks a token this thread does not remember (all but the
 * times, which the caller checks) and remembers it in set once it is good: ERR_OK with *way,
 * the way of set that holds it; ERR_AUTH with *why.
 */
static enum err
token_check_new(const struct token_signer *s, const struct token_key *key, const char *jwt,
                size_t len, const uint8_t h[static HASH_BYTES], struct token_seen_set *set,
                int64_t now, unsigned *way, const char **why)
{
    struct jws_parts p = {0};
    char iss[TOKEN_ISSUER_MAX + 1], id[TOKEN_ID_MAX + 1], scope[64];
    const cJSON *typ, *kid, *ad;
    const char *jwhy = NULL;
    enum err rc = ERR_AUTH;
    int64_t iat, exp, idx;
    unsigned w;

    token_verifications++;
    if (jws_verify(jwt, len, key->pk, &p, &jwhy) != ERR_OK) {
        *why = "the access token's signature does not verify with consentd's token key";
        goto out;
    }
    typ = cJSON_GetObjectItemCaseSensitive(p.header, "typ");
    kid = cJSON_GetObjectItemCaseSensitive(p.header, "kid");
    if (!cJSON_IsString(typ) || strcmp(typ->valuestring, "at+jwt") != 0) {
        *why = "the token is not an access token (typ must be at+jwt)";
        goto out;
    }
    if (!cJSON_IsString(kid) || strcmp(kid->valuestring, key->kid) != 0) {
        *why = "the access token names a key consentd does not sign with";
        goto out;
    }
    if (!token_string(p.payload, "iss", iss, sizeof(iss), true) || strcmp(iss, s->issuer) != 0 ||
        !token_aud_has(cJSON_GetObjectItemCaseSensitive(p.payload, "aud"), s->issuer)) {
        *why = "the access token was not issued by this consentd for its records (iss, aud)";
        goto out;
    }
    ad = cJSON_GetObjectItemCaseSensitive(p.payload, "authorization_details");
    if (!token_string(p.payload, "sub", id, sizeof(id), true) ||
        !token_string(p.payload, "client_id", id, sizeof(id), true) ||
        !token_string(p.payload, "jti", id, sizeof(id), true) ||
        !token_string(p.payload, "scope", scope, sizeof(scope), true) ||
        strcmp(scope, TOKEN_ACCESS_SCOPE) != 0 || !token_time(p.payload, "iat", &iat) ||
        !token_time(p.payload, "exp", &exp) || !token_time(p.payload, "log_index", &idx) ||
        !cJSON_IsArray(ad) || ad->child == NULL) {
        *why = "the access token's claims are missing or malformed, or it is not a "
               "consent-checked access token";
        goto out;
    }
    /* RELIABILITY D6: the verifier caps the lifetime too, not only the issuer (and says so
     * after what it says of the times). */
    if (exp - iat > POLICY_MAX_LIFETIME) {
        if (token_times(iat, exp, now, why) == ERR_OK)
            *why = "the access token lives longer than any token this server issues";
        goto out;
    }
    w = set->next;
    set->next = (w + 1) % TOKEN_SEEN_WAYS;
    cJSON_Delete(set->way[w].claims);
    memcpy(&set->tag[w], h, sizeof(set->tag[w]));
    memcpy(set->way[w].h, h, HASH_BYTES);
    set->way[w].claims = p.payload;
    p.payload = NULL;
    set->way[w].iat = iat;
    set->way[w].exp = exp;
    *way = w;
    rc = ERR_OK;
out:
    jws_parts_clear(&p);
    return rc;
}

enum err
token_check_access(const struct token_signer *s, const char *jwt, size_t len, int64_t now,
                   const cJSON **claims, const char **why)
{
    const struct token_keyset *ks = atomic_load(&s->keys);
    uint8_t who[HASH_BYTES], h[HASH_BYTES];
    const struct token_key *key;
    struct token_seen_set *set;
    uint64_t tag;
    enum err rc;
    unsigned i;

    *claims = NULL;
    *why = "the access token is malformed";
    if (len == 0 || len > TOKEN_ACCESS_MAX_LEN)
        return ERR_AUTH;
    if (!token_key_for(ks, jwt, len, now, &key, why))
        return ERR_AUTH;
    if (token_seen == NULL)
        token_seen = xcalloc(TOKEN_SEEN_SETS, sizeof(*token_seen));
    hash_keyed(key->pk, (const uint8_t *)s->issuer, strlen(s->issuer), who);
    hash_keyed(who, (const uint8_t *)jwt, len, h);
    set = &token_seen[(h[8] | (unsigned)h[9] << 8) % TOKEN_SEEN_SETS];
    memcpy(&tag, h, sizeof(tag));
    for (i = 0; i < TOKEN_SEEN_WAYS; i++)
        if (set->tag[i] == tag && set->way[i].claims != NULL && hash_equal(set->way[i].h, h))
            break;
    if (i == TOKEN_SEEN_WAYS) {
        rc = token_check_new(s, key, jwt, len, h, set, now, &i, why);
        if (rc != ERR_OK)
            return rc;
    }
    /* Remembered or just checked, the times are checked now. */
    rc = token_times(set->way[i].iat, set->way[i].exp, now, why);
    if (rc != ERR_OK)
        return rc;
    *claims = set->way[i].claims;
    *why = NULL;
    return ERR_OK;
}
