/*
 * jws: compact JWS with Ed25519, and the decoding crypto/pkey.c shares for RSA and EC keys. The
 * header is checked before any key is touched, and a header that could make a verifier pick
 * another key or algorithm is refused outright.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "consentd/b64.h"
#include "consentd/jstrict.h"
#include "consentd/jws.h"
#include "consentd/keys.h"
#include "consentd/sig.h"

#define JWS_SIG_B64 86 /* base64url of a signature, unpadded */

/* Headers that would name another key, algorithm or payload encoding. */
static const char *const forbidden[] = {"crit", "jku", "jwk", "x5u", "x5c", "b64"};

enum err
jws_sign(const struct keys_pair *k, const char *typ, const char *kid, const char *payload,
         size_t len, char **out)
{
    uint8_t sig[SIG_BYTES];
    cJSON *hdr = NULL;
    char *hjson = NULL, *buf = NULL, *p;
    size_t hlen, total, signed_len;
    enum err rc = ERR_NOMEM;

    *out = NULL;
    if (len > JWS_MAX_LEN) {
        rc = ERR_TOOBIG;
        goto out;
    }
    /* cJSON keeps members in insertion order: alg, typ, kid. */
    hdr = cJSON_CreateObject();
    if (hdr == NULL || cJSON_AddStringToObject(hdr, "alg", "EdDSA") == NULL)
        goto out;
    if (typ != NULL && cJSON_AddStringToObject(hdr, "typ", typ) == NULL)
        goto out;
    if (kid != NULL && cJSON_AddStringToObject(hdr, "kid", kid) == NULL)
        goto out;
    hjson = cJSON_PrintUnformatted(hdr);
    if (hjson == NULL)
        goto out;
    hlen = strlen(hjson);
    if (hlen > JWS_MAX_LEN) {
        rc = ERR_TOOBIG;
        goto out;
    }
    signed_len = b64_encoded_len(hlen, B64_URL) + 1 + b64_encoded_len(len, B64_URL);
    total = signed_len + 1 + JWS_SIG_B64;
    if (total > JWS_MAX_LEN) {
        rc = ERR_TOOBIG;
        goto out;
    }
    buf = malloc(total + 1);
    if (buf == NULL)
        goto out;
    p = buf;
    (void)b64_encode((const uint8_t *)hjson, hlen, B64_URL, p, total + 1);
    p += b64_encoded_len(hlen, B64_URL);
    *p++ = '.';
    (void)b64_encode((const uint8_t *)payload, len, B64_URL, p, total + 1 - (size_t)(p - buf));
    p += b64_encoded_len(len, B64_URL);
    sig_sign(k, (const uint8_t *)buf, signed_len, sig);
    *p++ = '.';
    (void)b64_encode(sig, sizeof(sig), B64_URL, p, total + 1 - (size_t)(p - buf));
    *out = buf;
    buf = NULL;
    rc = ERR_OK;
out:
    free(buf);
    free(hjson);
    cJSON_Delete(hdr);
    return rc;
}

void
jws_parts_clear(struct jws_parts *p)
{
    cJSON_Delete(p->header);
    cJSON_Delete(p->payload);
    free(p->payload_raw);
    memset(p, 0, sizeof(*p));
}

/*
 * decode_segment decodes the base64url segment s[0..len) into a malloc'd, NUL-terminated
 * buffer *out of *out_len bytes.
 */
static enum err
decode_segment(const char *s, size_t len, char **out, size_t *out_len)
{
    size_t cap = len / 4 * 3 + 3;
    char *buf;
    enum err rc;

    *out = NULL;
    *out_len = 0;
    buf = malloc(cap + 1);
    if (buf == NULL)
        return ERR_NOMEM;
    rc = b64_decode(s, len, B64_URL, (uint8_t *)buf, cap, out_len);
    if (rc != ERR_OK) {
        free(buf);
        return ERR_INVAL;
    }
    buf[*out_len] = '\0';
    *out = buf;
    return ERR_OK;
}

/* The algorithms jws_decode and jws_verify accept: Ed25519 under either name. */
static const char *const ed_algs[] = {"EdDSA", "Ed25519"};
static const char ed_why[] = "\"alg\" is neither EdDSA nor Ed25519";

/*
 * check_header refuses an "alg" that is not one of algs[0..nalgs) (with alg_why), and the
 * forbidden headers; *index is the position of the header's "alg" in algs.
 */
static enum err
check_header(const cJSON *hdr, const char *const *algs, size_t nalgs, const char *alg_why,
             size_t *index, const char **why)
{
    const cJSON *alg;
    size_t i;

    alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    if (!cJSON_IsString(alg) || alg->valuestring == NULL) {
        *why = "header has no \"alg\" string";
        return ERR_INVAL;
    }
    for (i = 0; i < nalgs; i++)
        if (strcmp(alg->valuestring, algs[i]) == 0)
            break;
    if (i == nalgs) {
        *why = alg_why;
        return ERR_INVAL;
    }
    *index = i;
    for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
        if (cJSON_GetObjectItemCaseSensitive(hdr, forbidden[i]) != NULL) {
            *why = "header holds a forbidden member";
            return ERR_INVAL;
        }
    }
    return ERR_OK;
}

enum err
jws_decode_algs(const char *compact, size_t len, const char *const *algs, size_t nalgs,
                const char *alg_why, struct jws_parts *p, struct jws_sig *sig, const char **why)
{
    const char *dot1, *dot2, *end = compact + len;
    const char *reason = NULL;
    char *hraw = NULL;
    size_t hlen = 0;
    enum err rc = ERR_INVAL;

    memset(p, 0, sizeof(*p));
    memset(sig, 0, sizeof(*sig));
    if (len > JWS_MAX_LEN) {
        reason = "JWS too long";
        goto out;
    }
    dot1 = memchr(compact, '.', len);
    dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL) {
        reason = "not three dot-separated segments";
        goto out;
    }
    rc = decode_segment(compact, (size_t)(dot1 - compact), &hraw, &hlen);
    if (rc != ERR_OK) {
        reason = "header is not base64url";
        goto out;
    }
    rc = jstrict_parse(hraw, hlen, &p->header, &reason);
    if (rc != ERR_OK)
        goto out;
    rc = check_header(p->header, algs, nalgs, alg_why, &sig->alg, &reason);
    if (rc != ERR_OK)
        goto out;
    rc = decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), &p->payload_raw, &p->payload_len);
    if (rc != ERR_OK) {
        reason = "payload is not base64url";
        goto out;
    }
    rc = jstrict_parse(p->payload_raw, p->payload_len, &p->payload, &reason);
    if (rc != ERR_OK)
        goto out;
    if (b64_decode(dot2 + 1, (size_t)(end - dot2 - 1), B64_URL, sig->bytes, JWS_SIG_MAX,
                   &sig->len) != ERR_OK) {
        rc = ERR_INVAL;
        reason = "signature is not base64url";
        goto out;
    }
    sig->signed_len = (size_t)(dot2 - compact);
out:
    free(hraw);
    if (rc != ERR_OK) {
        jws_parts_clear(p);
        memset(sig, 0, sizeof(*sig));
    }
    if (why != NULL)
        *why = rc == ERR_OK ? NULL : rc == ERR_NOMEM ? "out of memory" : reason;
    return rc;
}

/*
 * decode decodes an Ed25519 JWS into p and sig, whose signature must be SIG_BYTES long.
 */
static enum err
decode(const char *compact, size_t len, struct jws_parts *p, const char **why, struct jws_sig *sig)
{
    enum err rc;

    rc = jws_decode_algs(compact, len, ed_algs, sizeof(ed_algs) / sizeof(ed_algs[0]), ed_why, p,
                         sig, why);
    if (rc == ERR_OK && sig->len != SIG_BYTES) {
        jws_parts_clear(p);
        memset(sig, 0, sizeof(*sig));
        if (why != NULL)
            *why = "signature is not 64 bytes of base64url";
        rc = ERR_INVAL;
    }
    return rc;
}

enum err
jws_decode(const char *compact, size_t len, struct jws_parts *p, const char **why)
{
    struct jws_sig sig;

    return decode(compact, len, p, why, &sig);
}

enum err
jws_verify(const char *compact, size_t len, const uint8_t pk[static KEYS_PUBLIC_BYTES],
           struct jws_parts *p, const char **why)
{
    struct jws_sig sig;
    enum err rc;

    rc = decode(compact, len, p, why, &sig);
    if (rc != ERR_OK)
        goto out;
    rc = sig_verify(pk, (const uint8_t *)compact, sig.signed_len, sig.bytes);
    if (rc != ERR_OK) {
        jws_parts_clear(p);
        if (why != NULL)
            *why = "bad signature";
    }
out:
    return rc;
}
