/*
 * api_app: the patient web app (DESIGN.md §3, §4), served by consentd itself.
 *
 *   GET /app            a redirect to /app/
 *   GET /app/{file}     the app's static files (embedded at build time: appfiles.h); /app/ is
 *                       index.html
 *   GET /v1/policy      anyone: the names the app shows for the policy's organisation types,
 *                       data categories and purposes
 *
 * The files go out with a strict Content-Security-Policy (scripts, styles and connections from
 * consentd only, no inline script, no framing), nosniff and no referrer, so that a page that
 * holds a person's signing key runs nothing but its own code.
 */
#include <string.h>

#include "consentd/api.h"
#include "consentd/appfiles.h"

#define API_APP_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "                 \
    "frame-ancestors 'none'"

/* The content type of each served extension; a file with another one is not served. */
static const struct {
    const char *ext;
    const char *type;
} api_app_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

void
api_app_redirect(struct http_call *c)
{
    static const char body[] = "the patient app is at /app/\n";

    http_add_header(c, "location", "/app/");
    http_reply(c, 301, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

void
api_app_file(struct http_call *c)
{
    const char *name, *type = NULL;
    size_t len, i, n, e;

    name = http_path_param(c, &len);
    if (len == 0) {
        name = "index.html";
        len = strlen(name);
    }
    for (i = 0; i < appfiles_count; i++)
        if (strlen(appfiles[i].name) == len && memcmp(appfiles[i].name, name, len) == 0)
            break;
    for (n = 0; i < appfiles_count && n < sizeof(api_app_types) / sizeof(api_app_types[0]); n++) {
        e = strlen(api_app_types[n].ext);
        if (len > e && memcmp(name + len - e, api_app_types[n].ext, e) == 0)
            type = api_app_types[n].type;
    }
    if (type == NULL) {
        http_reply_problem(c, 404, "not-found", "Not found",
                           "the patient app has no such file; open /app/");
        return;
    }
    http_add_header(c, "content-security-policy", API_APP_CSP);
    http_add_header(c, "x-content-type-options", "nosniff");
    http_add_header(c, "referrer-policy", "no-referrer");
    http_add_header(c, "x-frame-options", "DENY");
    http_add_header(c, "cross-origin-opener-policy", "same-origin");
    http_reply(c, 200, type, (const char *)appfiles[i].data, appfiles[i].len);
}

void
api_app_policy(struct http_call *c)
{
    const struct policy *pol = http_app_of(c)->policy;
    const char *name, *display;
    cJSON *j = cJSON_CreateObject(), *a, *o;
    unsigned i;

    a = cJSON_AddArrayToObject(j, "org_types");
    for (i = 0;; i++) {
        name = policy_org_type_at(pol, i, &display);
        if (name == NULL)
            break;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "display", display);
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(j, "categories");
    for (i = 0;; i++) {
        name = policy_category_at(pol, i);
        if (name == NULL)
            break;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "display", policy_category_display(pol, name));
        cJSON_AddBoolToObject(o, "sensitive", policy_category_sensitive(pol, name));
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(j, "purposes");
    for (i = 0;; i++) {
        name = policy_purpose_at(pol, i, &display);
        if (name == NULL)
            break;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", name);
        cJSON_AddStringToObject(o, "display", display);
        cJSON_AddItemToArray(a, o);
    }
    http_reply_json(c, 200, j);
    cJSON_Delete(j);
}
