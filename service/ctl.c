/*
 * ctl: HTTP and error helpers for consentctl's command groups.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <curl/curl.h>

#include "consentd/b64.h"
#include "consentd/ctl.h"
#include "consentd/hash.h"
#include "consentd/jws.h"
#include "consentd/keys.h"
#include "consentd/jstrict.h"

int
ctl_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "consentctl: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static size_t
ctl_write(char *ptr, size_t size, size_t n, void *user)
{
    struct ctl_buf *b = user;
    size_t add = size * n;
    char *p;

    if (b->len + add > CTL_MAX_RESPONSE)
        return 0;
    p = realloc(b->data, b->len + add + 1);
    if (p == NULL)
        return 0;
    b->data = p;
    memcpy(b->data + b->len, ptr, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

int
ctl_request(const char *method, const char *base, const char *path, const char *token,
            const char *content_type, const char *body, size_t body_len, struct ctl_buf *out,
            long *status)
{
    char url[4096], auth[2048], ct[256];
    struct curl_slist *hdrs = NULL;
    CURL *curl;
    CURLcode rc;

    out->data = NULL;
    out->len = 0;
    *status = 0;
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl = curl_easy_init();
    if (curl == NULL)
        return ctl_fail(EX_SOFTWARE, "cannot start libcurl");
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (content_type != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (hdrs != NULL)
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ctl_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)CTL_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    explicit_bzero(auth, sizeof(auth));
    if (rc != CURLE_OK) {
        free(out->data);
        out->data = NULL;
        return ctl_fail(EX_UNAVAILABLE, "%s %s: %s", method, url, curl_easy_strerror(rc));
    }
    if (out->data == NULL) {
        out->data = calloc(1, 1);
        if (out->data == NULL)
            return ctl_fail(EX_SOFTWARE, "out of memory");
    }
    return EX_OK;
}

int
ctl_get(const char *base, const char *path, const char *token, struct ctl_buf *out, long *status)
{
    return ctl_request("GET", base, path, token, NULL, NULL, 0, out, status);
}

const char *
ctl_problem(const cJSON *answer)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(answer, "detail");

    if (!cJSON_IsString(d))
        d = cJSON_GetObjectItemCaseSensitive(answer, "error_description");
    return cJSON_IsString(d) ? d->valuestring : "(the answer gave no reason)";
}

int
ctl_get_json(const char *base, const char *path, const char *token, cJSON **out)
{
    struct ctl_buf b;
    const char *why = NULL;
    long status = 0;
    int code;

    *out = NULL;
    code = ctl_get(base, path, token, &b, &status);
    if (code != EX_OK)
        return code;
    if (status != 200) {
        cJSON *p = cJSON_ParseWithLength(b.data, b.len);
        code = ctl_fail(EX_UNAVAILABLE, "GET %s answered %ld: %s", path, status, ctl_problem(p));
        cJSON_Delete(p);
        free(b.data);
        return code;
    }
    if (jstrict_parse(b.data, b.len, out, &why) != ERR_OK) {
        free(b.data);
        return ctl_fail(EX_DATAERR, "GET %s: the answer is not valid JSON (%s)", path,
                        why != NULL ? why : "unparsable");
    }
    free(b.data);
    return EX_OK;
}

int
ctl_post_json(const char *base, const char *path, const char *token, const cJSON *body, cJSON **out,
              long *status)
{
    struct ctl_buf b;
    char *text = cJSON_PrintUnformatted(body);
    int code;

    *out = NULL;
    if (text == NULL)
        return ctl_fail(EX_SOFTWARE, "out of memory");
    code =
        ctl_request("POST", base, path, token, "application/json", text, strlen(text), &b, status);
    free(text);
    if (code != EX_OK)
        return code;
    *out = cJSON_ParseWithLength(b.data, b.len);
    free(b.data);
    return EX_OK;
}

const char *
ctl_token(const char *flag)
{
    return flag != NULL ? flag : getenv("CONSENTD_TOKEN");
}

int
ctl_sign(const struct keys_pair *k, const char *typ, const cJSON *payload, char **out)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char kid[KEYS_KID_LEN + 1];
    char *text = cJSON_PrintUnformatted(payload);
    enum err rc;

    *out = NULL;
    if (text == NULL)
        return ctl_fail(EX_SOFTWARE, "out of memory");
    keys_public(k, pk);
    keys_kid(pk, kid);
    rc = jws_sign(k, typ, kid, text, strlen(text), out);
    free(text);
    if (rc != ERR_OK)
        return ctl_fail(EX_SOFTWARE, "cannot sign: %s", err_str(rc));
    return EX_OK;
}

int
ctl_refused(const char *what, long status, const cJSON *answer)
{
    int code = EX_UNAVAILABLE;

    if (status == 401 || status == 403)
        code = EX_NOPERM;
    else if (status >= 400 && status < 500)
        code = EX_DATAERR;
    return ctl_fail(code, "%s: refused (%ld): %s", what, status, ctl_problem(answer));
}

int
ctl_patient_token(const char *url, const char *nhs, const struct keys_pair *k, char **out)
{
    char aud[2048], jti[32], *assertion = NULL, *enc = NULL, *form = NULL;
    uint8_t rnd[16];
    const cJSON *at;
    cJSON *payload, *answer = NULL;
    struct ctl_buf b = {NULL, 0};
    long status = 0;
    time_t now = time(NULL);
    size_t n;
    int code;

    *out = NULL;
    snprintf(aud, sizeof(aud), "%s/oauth2/token", url);
    hash_random(rnd, sizeof(rnd));
    (void)b64_encode(rnd, sizeof(rnd), B64_URL, jti, sizeof(jti));
    payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "iss", nhs);
    cJSON_AddStringToObject(payload, "sub", nhs);
    cJSON_AddStringToObject(payload, "aud", aud);
    cJSON_AddNumberToObject(payload, "iat", (double)now);
    cJSON_AddNumberToObject(payload, "exp", (double)(now + CTL_ASSERTION_S));
    cJSON_AddStringToObject(payload, "jti", jti);
    code = ctl_sign(k, "JWT", payload, &assertion);
    cJSON_Delete(payload);
    if (code != EX_OK)
        return code;
    enc = curl_easy_escape(NULL, assertion, 0);
    n = (enc == NULL ? 0 : strlen(enc)) + 128;
    form = malloc(n);
    if (enc == NULL || form == NULL) {
        code = ctl_fail(EX_SOFTWARE, "out of memory");
        goto out;
    }
    snprintf(form, n, "grant_type=%s&assertion=%s",
             "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", enc);
    code = ctl_request("POST", url, "/oauth2/token", NULL, "application/x-www-form-urlencoded",
                       form, strlen(form), &b, &status);
    if (code != EX_OK)
        goto out;
    answer = cJSON_ParseWithLength(b.data, b.len);
    at = cJSON_GetObjectItemCaseSensitive(answer, "access_token");
    if (status != 200) {
        code = ctl_refused("POST /oauth2/token", status, answer);
        goto out;
    }
    if (!cJSON_IsString(at)) {
        code = ctl_fail(EX_PROTOCOL, "POST /oauth2/token: the answer has no access_token");
        goto out;
    }
    *out = strdup(at->valuestring);
    if (*out == NULL)
        code = ctl_fail(EX_SOFTWARE, "out of memory");
out:
    cJSON_Delete(answer);
    free(b.data);
    free(form);
    curl_free(enc);
    free(assertion);
    return code;
}

int
ctl_decode_hash(const cJSON *s, uint8_t out[static HASH_BYTES])
{
    size_t n;

    if (!cJSON_IsString(s) ||
        b64_decode(s->valuestring, strlen(s->valuestring), B64_STD, out, HASH_BYTES, &n) !=
            ERR_OK ||
        n != HASH_BYTES)
        return -1;
    return 0;
}
