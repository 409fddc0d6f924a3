/*
 * token: minting and checking consentd's own access tokens (RFC 9068 JWTs, EdDSA).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/jws.h"
#include "consentd/token.h"

static const struct {
    const char *name;
    enum token_scope scope;
} token_scopes[] = {
    {"enrol", TOKEN_SCOPE_ENROL},     {"pointers", TOKEN_SCOPE_POINTERS},
    {"audit", TOKEN_SCOPE_AUDIT},     {"introspect", TOKEN_SCOPE_INTROSPECT},
    {"patient", TOKEN_SCOPE_PATIENT},
};

#define TOKEN_NSCOPES (sizeof(token_scopes) / sizeof(token_scopes[0]))

enum err
token_signer_init(struct token_signer *s, struct keys_pair *key, const char *issuer)
{
    memset(s, 0, sizeof(*s));
    if (strlen(issuer) > TOKEN_ISSUER_MAX) {
        keys_free(key);
        return ERR_INVAL;
    }
    s->key = key;
    keys_public(key, s->pk);
    keys_kid(s->pk, s->kid);
    memcpy(s->issuer, issuer, strlen(issuer) + 1);
    return ERR_OK;
}

void
token_signer_clear(struct token_signer *s)
{
    keys_free(s->key);
    s->key = NULL;
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
    rc = jws_sign(s->key, "at+jwt", s->kid, payload, strlen(payload), out);
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
    struct jws_parts p = {0};
    char iss[TOKEN_ISSUER_MAX + 1], aud[TOKEN_ISSUER_MAX + 1], scope[256];
    const cJSON *typ, *kid;
    const char *bad, *jwhy = NULL;
    enum err rc = ERR_AUTH;

    memset(c, 0, sizeof(*c));
    *why = "the access token is malformed";
    if (len == 0 || len > TOKEN_MAX_LEN)
        return ERR_AUTH;
    if (jws_verify(jwt, len, s->pk, &p, &jwhy) != ERR_OK) {
        *why = "the access token's signature does not verify with consentd's token key";
        goto out;
    }
    typ = cJSON_GetObjectItemCaseSensitive(p.header, "typ");
    kid = cJSON_GetObjectItemCaseSensitive(p.header, "kid");
    if (!cJSON_IsString(typ) || strcmp(typ->valuestring, "at+jwt") != 0) {
        *why = "the token is not an access token (typ must be at+jwt)";
        goto out;
    }
    if (!cJSON_IsString(kid) || strcmp(kid->valuestring, s->kid) != 0) {
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
    rc = jws_sign(s->key, "at+jwt", s->kid, payload, strlen(payload), out);
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

enum err
token_check_access(const struct token_signer *s, const char *jwt, size_t len, int64_t now,
                   cJSON **claims, const char **why)
{
    struct jws_parts p = {0};
    char iss[TOKEN_ISSUER_MAX + 1], id[TOKEN_ID_MAX + 1], scope[64];
    const cJSON *typ, *kid, *ad;
    const char *jwhy = NULL;
    int64_t iat, exp, idx;
    enum err rc = ERR_AUTH;

    *claims = NULL;
    *why = "the access token is malformed";
    if (len == 0 || len > TOKEN_ACCESS_MAX_LEN)
        return ERR_AUTH;
    if (jws_verify(jwt, len, s->pk, &p, &jwhy) != ERR_OK) {
        *why = "the access token's signature does not verify with consentd's token key";
        goto out;
    }
    typ = cJSON_GetObjectItemCaseSensitive(p.header, "typ");
    kid = cJSON_GetObjectItemCaseSensitive(p.header, "kid");
    if (!cJSON_IsString(typ) || strcmp(typ->valuestring, "at+jwt") != 0) {
        *why = "the token is not an access token (typ must be at+jwt)";
        goto out;
    }
    if (!cJSON_IsString(kid) || strcmp(kid->valuestring, s->kid) != 0) {
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
    if (exp + TOKEN_LEEWAY <= now) {
        *why = "the access token has expired; ask for a new one";
        goto out;
    }
    if (iat > now + TOKEN_LEEWAY) {
        *why = "the access token was issued in the future; check the clocks";
        goto out;
    }
    *claims = p.payload;
    p.payload = NULL;
    *why = NULL;
    rc = ERR_OK;
out:
    jws_parts_clear(&p);
    return rc;
}
