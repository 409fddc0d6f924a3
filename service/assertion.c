/*
 * assertion: verifying RFC 7523 assertions.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "consentd/assertion.h"
#include "consentd/jws.h"
#include "consentd/pkey.h"
#include "consentd/xmalloc.h"

#define ASSERTION_MAX_AUD  16                 /* members of an "aud" array */
#define ASSERTION_MAX_TIME 9007199254740992.0 /* 2^53: exact in a double */

/* assertion_typ_ok accepts no "typ", or one that names a JWT assertion (RFC 7523, 7523bis). */
static bool
assertion_typ_ok(const cJSON *hdr)
{
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(hdr, "typ");

    if (typ == NULL)
        return true;
    return cJSON_IsString(typ) && (strcasecmp(typ->valuestring, "JWT") == 0 ||
                                   strcasecmp(typ->valuestring, "client-authentication+jwt") == 0);
}

/* assertion_header checks what the JWS header may say beyond jws.c's rules. */
static enum err
assertion_header(const cJSON *hdr, const struct pkey *key, const char *what,
                 char why[static ASSERTION_WHY_MAX])
{
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");

    if (!assertion_typ_ok(hdr)) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s's header \"typ\" must be absent, \"JWT\" or \"client-authentication+jwt\"",
                 what);
        return ERR_AUTH;
    }
    if (kid == NULL)
        return ERR_OK;
    if (key != NULL) {
        if (cJSON_IsString(kid) && pkey_kid_matches(key, kid->valuestring))
            return ERR_OK;
    } else if (cJSON_IsString(kid)) {
        return ERR_OK;
    }
    snprintf(why, ASSERTION_WHY_MAX,
             "%s's header \"kid\" does not name the registered key (the \"kid\" registered "
             "with it, or its RFC 7638 thumbprint); leave \"kid\" out, since the registered key "
             "decides",
             what);
    return ERR_AUTH;
}

enum err
assertion_subject(const char *jws, size_t len, const char *what,
                  char out[static ASSERTION_SUBJECT_MAX + 1], char why[static ASSERTION_WHY_MAX])
{
    struct jws_parts p = {0};
    const char *jwhy = NULL;
    const cJSON *iss;
    enum err rc;

    out[0] = '\0';
    why[0] = '\0';
    rc = pkey_decode(jws, len, &p, &jwhy);
    if (rc == ERR_NOMEM)
        goto out;
    if (rc != ERR_OK) {
        snprintf(why, ASSERTION_WHY_MAX, "%s is not an acceptable JWS: %s", what,
                 jwhy != NULL ? jwhy : "malformed");
        rc = ERR_AUTH;
        goto out;
    }
    rc = assertion_header(p.header, NULL, what, why);
    if (rc != ERR_OK)
        goto out;
    iss = cJSON_GetObjectItemCaseSensitive(p.payload, "iss");
    if (!cJSON_IsString(iss) || strlen(iss->valuestring) == 0 ||
        strlen(iss->valuestring) > ASSERTION_SUBJECT_MAX) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s's \"iss\" must be a string of 1 to %d bytes naming who signed it", what,
                 ASSERTION_SUBJECT_MAX);
        rc = ERR_AUTH;
        goto out;
    }
    memcpy(out, iss->valuestring, strlen(iss->valuestring) + 1);
out:
    jws_parts_clear(&p);
    return rc;
}

/*
 * assertion_time reads NumericDate member name of o into *v. present is false when the member
 * is absent; ERR_AUTH if it is not a number from 0 to 2^53.
 */
static enum err
assertion_time(const cJSON *o, const char *name, bool *present, int64_t *v)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    *present = m != NULL;
    *v = 0;
    if (m == NULL)
        return ERR_OK;
    if (!cJSON_IsNumber(m) || !(m->valuedouble >= 0) || m->valuedouble > ASSERTION_MAX_TIME)
        return ERR_AUTH;
    *v = (int64_t)m->valuedouble;
    return ERR_OK;
}

/* assertion_aud_ok is true if aud is issuer or endpoint, or an array holding one of them. */
static bool
assertion_aud_ok(const cJSON *aud, const char *issuer, const char *endpoint)
{
    const cJSON *a;
    bool found = false;
    int n = 0;

    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, issuer) == 0 || strcmp(aud->valuestring, endpoint) == 0;
    if (!cJSON_IsArray(aud))
        return false;
    cJSON_ArrayForEach(a, aud)
    {
        if (!cJSON_IsString(a) || ++n > ASSERTION_MAX_AUD)
            return false;
        if (strcmp(a->valuestring, issuer) == 0 || strcmp(a->valuestring, endpoint) == 0)
            found = true;
    }
    return found;
}

/* assertion_text_ok is true for 1 to max bytes without control characters. */
static bool
assertion_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > max)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

enum err
assertion_verify(const char *jws, size_t len, const struct pkey *key, const char *subject,
                 const char *issuer, const char *token_endpoint, int64_t now, const char *what,
                 struct assertion_claims *out, char why[static ASSERTION_WHY_MAX])
{
    struct jws_parts p = {0};
    const char *jwhy = NULL;
    const cJSON *iss, *sub, *jti;
    int64_t exp, iat, nbf;
    bool has_exp, has_iat, has_nbf;
    enum err rc;

    memset(out, 0, sizeof(*out));
    why[0] = '\0';
    rc = pkey_verify_jws(key, jws, len, &p, &jwhy);
    if (rc == ERR_NOMEM)
        goto out;
    if (rc == ERR_BADSIG) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s's signature does not verify with the registered key of %s", what, subject);
        rc = ERR_AUTH;
        goto out;
    }
    if (rc != ERR_OK) {
        snprintf(why, ASSERTION_WHY_MAX, "%s is not an acceptable JWS: %s", what,
                 jwhy != NULL ? jwhy : "malformed");
        rc = ERR_AUTH;
        goto out;
    }
    rc = assertion_header(p.header, key, what, why);
    if (rc != ERR_OK)
        goto out;
    rc = ERR_AUTH;
    iss = cJSON_GetObjectItemCaseSensitive(p.payload, "iss");
    sub = cJSON_GetObjectItemCaseSensitive(p.payload, "sub");
    if (!cJSON_IsString(iss) || strcmp(iss->valuestring, subject) != 0) {
        snprintf(why, ASSERTION_WHY_MAX, "%s's \"iss\" must be \"%.128s\"", what, subject);
        goto out;
    }
    if (!cJSON_IsString(sub) || strcmp(sub->valuestring, subject) != 0) {
        snprintf(why, ASSERTION_WHY_MAX, "%s's \"sub\" must be \"%.128s\", the same as \"iss\"",
                 what, subject);
        goto out;
    }
    if (!assertion_aud_ok(cJSON_GetObjectItemCaseSensitive(p.payload, "aud"), issuer,
                          token_endpoint)) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s's \"aud\" must be the issuer %.80s or the token endpoint %.96s", what, issuer,
                 token_endpoint);
        goto out;
    }
    if (assertion_time(p.payload, "exp", &has_exp, &exp) != ERR_OK || !has_exp) {
        snprintf(why, ASSERTION_WHY_MAX, "%s must have an \"exp\": a time in seconds since 1970",
                 what);
        goto out;
    }
    if (exp + TOKEN_LEEWAY <= now) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s has expired: \"exp\" is %lld s in the past (the leeway is %d s)", what,
                 (long long)(now - exp), TOKEN_LEEWAY);
        goto out;
    }
    if (exp - now > ASSERTION_MAX_AHEAD) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s's \"exp\" is %lld s ahead; it may be at most %d s (5 minutes) ahead", what,
                 (long long)(exp - now), ASSERTION_MAX_AHEAD);
        goto out;
    }
    if (assertion_time(p.payload, "iat", &has_iat, &iat) != ERR_OK) {
        snprintf(why, ASSERTION_WHY_MAX, "%s's \"iat\" must be a time in seconds since 1970", what);
        goto out;
    }
    if (has_iat && iat > now + TOKEN_LEEWAY) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s's \"iat\" is %lld s in the future (the leeway is %d s): check the clock", what,
                 (long long)(iat - now), TOKEN_LEEWAY);
        goto out;
    }
    if (assertion_time(p.payload, "nbf", &has_nbf, &nbf) != ERR_OK) {
        snprintf(why, ASSERTION_WHY_MAX, "%s's \"nbf\" must be a time in seconds since 1970", what);
        goto out;
    }
    if (has_nbf && nbf > now + TOKEN_LEEWAY) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s is not valid yet: \"nbf\" is %lld s in the future (the leeway is %d s)", what,
                 (long long)(nbf - now), TOKEN_LEEWAY);
        goto out;
    }
    jti = cJSON_GetObjectItemCaseSensitive(p.payload, "jti");
    if (!cJSON_IsString(jti) || !assertion_text_ok(jti->valuestring, ASSERTION_JTI_MAX)) {
        snprintf(why, ASSERTION_WHY_MAX,
                 "%s must have a \"jti\": a unique string of 1 to %d bytes without control "
                 "characters",
                 what, ASSERTION_JTI_MAX);
        goto out;
    }
    if (strlen(subject) > ASSERTION_SUBJECT_MAX) {
        snprintf(why, ASSERTION_WHY_MAX, "%s names a subject that is too long", what);
        goto out;
    }
    memcpy(out->subject, subject, strlen(subject) + 1);
    memcpy(out->jti, jti->valuestring, strlen(jti->valuestring) + 1);
    out->exp = exp;
    rc = ERR_OK;
out:
    jws_parts_clear(&p);
    return rc;
}
