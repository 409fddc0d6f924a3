/*
 * authz: parsing authorization_details, the decision behind a consent-checked token, and the
 * access entry and granted details made from it. Nothing here logs: identifiers name people.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/access.h"
#include "consentd/authz.h"
#include "consentd/jstrict.h"
#include "consentd/json.h"
#include "consentd/pointers.h"
#include "consentd/tlog.h"
#include "consentd/xmalloc.h"

#define AUTHZ_WRAP_NAME "authorization_details"

static const char *const authz_members[] = {"type",    "identifier", "purpose",    "datatypes",
                                            "actions", "locations",  "break_glass"};

/* authz_break_glass reads object i's "break_glass" m, {"reason"}, into r. */
static enum err
authz_break_glass(const cJSON *m, unsigned i, struct authz_request *r,
                  char why[static STATE_WHY_MAX])
{
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(m, "reason");

    if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) != 1 || !cJSON_IsString(reason) ||
        !access_reason_valid(reason->valuestring)) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].break_glass must be {\"reason\": \"…\"}: why the "
                 "records are needed without consent, 1 to %d bytes without control characters",
                 i, ACCESS_REASON_MAX);
        return ERR_INVAL;
    }
    r->break_glass = true;
    memcpy(r->reason, reason->valuestring, strlen(reason->valuestring) + 1);
    return ERR_OK;
}

/* authz_url_ok: 1..AUTHZ_URL_MAX bytes of printable ASCII without spaces. */
static bool
authz_url_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > AUTHZ_URL_MAX)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* authz_ident_ok: an NHS number or "system|value" within PATIENTS_IDENT_MAX, no controls. */
static bool
authz_ident_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > PATIENTS_IDENT_MAX)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* authz_parse_one reads object o (position i) into r->d[r->n]. */
static enum err
authz_parse_one(const struct policy *pol, const cJSON *o, unsigned i, struct authz_request *r,
                char why[static STATE_WHY_MAX])
{
    struct authz_detail *d = &r->d[r->n];
    char list[512];
    const cJSON *m, *a;
    unsigned k, nloc = 0;
    size_t j;
    int bit;

    if (!cJSON_IsObject(o)) {
        snprintf(why, STATE_WHY_MAX, "authorization_details[%u] must be an object", i);
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(m, o)
    {
        for (j = 0; j < sizeof(authz_members) / sizeof(authz_members[0]); j++)
            if (strcmp(m->string, authz_members[j]) == 0)
                break;
        if (j == sizeof(authz_members) / sizeof(authz_members[0])) {
            snprintf(why, STATE_WHY_MAX,
                     "authorization_details[%u] has an unknown member \"%.32s\"; the members are "
                     "type, identifier, purpose, datatypes, actions, locations and break_glass",
                     i, m->string);
            return ERR_INVAL;
        }
    }
    m = cJSON_GetObjectItemCaseSensitive(o, "break_glass");
    if (m != NULL && authz_break_glass(m, i, r, why) != ERR_OK)
        return ERR_INVAL;
    m = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(m) || strcmp(m->valuestring, AUTHZ_TYPE) != 0) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].type must be \"" AUTHZ_TYPE
                 "\", the only type this server knows",
                 i);
        return ERR_INVAL;
    }
    m = cJSON_GetObjectItemCaseSensitive(o, "identifier");
    if (!cJSON_IsString(m) || !authz_ident_ok(m->valuestring)) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].identifier must be an NHS number or a linked "
                 "identifier \"system|value\" of at most %d bytes",
                 i, PATIENTS_IDENT_MAX);
        return ERR_INVAL;
    }
    memcpy(d->identifier, m->valuestring, strlen(m->valuestring) + 1);
    m = cJSON_GetObjectItemCaseSensitive(o, "purpose");
    if (!cJSON_IsString(m) || strlen(m->valuestring) > CONSENTS_PURPOSE_MAX ||
        (!policy_purpose_known(pol, m->valuestring) &&
         !(r->break_glass && strcmp(m->valuestring, AUTHZ_BTG) == 0))) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].purpose must be a purpose of use of this server's "
                 "policy (\"TREAT\", …), or \"" AUTHZ_BTG "\" with break_glass",
                 i);
        return ERR_INVAL;
    }
    memcpy(d->purpose, m->valuestring, strlen(m->valuestring) + 1);
    a = cJSON_GetObjectItemCaseSensitive(o, "datatypes");
    if (!cJSON_IsArray(a) || a->child == NULL) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].datatypes must be a non-empty array of data "
                 "categories",
                 i);
        return ERR_INVAL;
    }
    k = 0;
    cJSON_ArrayForEach(m, a)
    {
        bit = cJSON_IsString(m) ? policy_category_bit(pol, m->valuestring) : -1;
        if (bit < 0 || bit >= CONSENT_MAX_CATEGORIES) {
            policy_category_list(pol, list, sizeof(list));
            snprintf(why, STATE_WHY_MAX,
                     "authorization_details[%u].datatypes[%u] is not a data category here; the "
                     "categories are: %.150s",
                     i, k, list);
            return ERR_INVAL;
        }
        if ((d->categories & (UINT64_C(1) << bit)) != 0) {
            snprintf(why, STATE_WHY_MAX,
                     "authorization_details[%u].datatypes names \"%.64s\" twice", i,
                     m->valuestring);
            return ERR_INVAL;
        }
        d->categories |= UINT64_C(1) << bit;
        k++;
    }
    a = cJSON_GetObjectItemCaseSensitive(o, "actions");
    if (a != NULL && (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 1 ||
                      !cJSON_IsString(a->child) || strcmp(a->child->valuestring, "read") != 0)) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].actions must be [\"read\"] (the only action), or "
                 "left out",
                 i);
        return ERR_INVAL;
    }
    a = cJSON_GetObjectItemCaseSensitive(o, "locations");
    if (a == NULL)
        return ERR_OK;
    if (!cJSON_IsArray(a) || a->child == NULL || cJSON_GetArraySize(a) > AUTHZ_MAX_LOCATIONS) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].locations must be an array of 1 to %d custodian "
                 "endpoints, or left out",
                 i, AUTHZ_MAX_LOCATIONS);
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(m, a)
    {
        if (!cJSON_IsString(m) || !authz_url_ok(m->valuestring)) {
            snprintf(why, STATE_WHY_MAX,
                     "authorization_details[%u].locations[%u] must be a URL of at most %d bytes", i,
                     nloc, AUTHZ_URL_MAX);
            return ERR_INVAL;
        }
        for (k = 0; k < r->nasked; k++)
            if (strcmp(r->aud[k], m->valuestring) == 0)
                break;
        if (k < r->nasked && (d->locations & (UINT32_C(1) << k)) != 0) {
            snprintf(why, STATE_WHY_MAX,
                     "authorization_details[%u].locations names a location twice", i);
            return ERR_INVAL;
        }
        if (k == r->nasked) {
            if (r->nasked == AUTHZ_MAX_AUD) {
                snprintf(why, STATE_WHY_MAX,
                         "authorization_details names more than %d distinct locations",
                         AUTHZ_MAX_AUD);
                return ERR_INVAL;
            }
            memcpy(r->aud[k], m->valuestring, strlen(m->valuestring) + 1);
            r->nasked++;
        }
        d->locations |= UINT32_C(1) << k;
        nloc++;
    }
    return ERR_OK;
}

enum err
authz_parse(const struct policy *pol, const char *text, size_t len, struct authz_request *out,
            char why[static STATE_WHY_MAX])
{
    static const char head[] = "{\"" AUTHZ_WRAP_NAME "\":";
    const char *jwhy = NULL;
    const cJSON *a, *o;
    cJSON *root = NULL;
    char *buf;
    enum err rc;
    unsigned i = 0;

    memset(out, 0, sizeof(*out));
    why[0] = '\0';
    if (len == 0 || len > AUTHZ_MAX_TEXT) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details must be a JSON array of at most %d bytes", AUTHZ_MAX_TEXT);
        return ERR_INVAL;
    }
    /*
     * jstrict takes only an object: wrap the array in one, and insist that the object has one
     * member, so text such as `[…],"x":[…]` cannot pass as an array.
     */
    buf = xmalloc(sizeof(head) - 1 + len + 2);
    memcpy(buf, head, sizeof(head) - 1);
    memcpy(buf + sizeof(head) - 1, text, len);
    buf[sizeof(head) - 1 + len] = '}';
    buf[sizeof(head) + len] = '\0';
    rc = jstrict_parse(buf, sizeof(head) + len, &root, &jwhy);
    free(buf);
    if (rc == ERR_NOMEM)
        return rc;
    a = rc == ERR_OK ? cJSON_GetObjectItemCaseSensitive(root, AUTHZ_WRAP_NAME) : NULL;
    if (rc != ERR_OK || cJSON_GetArraySize(root) != 1 || !cJSON_IsArray(a)) {
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details must be a JSON array (RFC 9396) with no duplicate "
                 "member names, valid UTF-8 and nothing after it%s%s",
                 jwhy != NULL ? ": " : "", jwhy != NULL ? jwhy : "");
        rc = ERR_INVAL;
        goto out;
    }
    if (a->child == NULL || cJSON_GetArraySize(a) > AUTHZ_MAX_DETAILS) {
        snprintf(why, STATE_WHY_MAX, "authorization_details must hold 1 to %d objects",
                 AUTHZ_MAX_DETAILS);
        rc = ERR_INVAL;
        goto out;
    }
    cJSON_ArrayForEach(o, a)
    {
        rc = authz_parse_one(pol, o, i, out, why);
        if (rc != ERR_OK)
            goto out;
        out->n++;
        i++;
    }
    if (out->break_glass && out->n != 1) {
        snprintf(why, STATE_WHY_MAX,
                 "a break-glass request holds exactly one authorization_details object");
        rc = ERR_INVAL;
        goto out;
    }
    rc = ERR_OK;
out:
    cJSON_Delete(root);
    if (rc != ERR_OK) {
        memset(out, 0, sizeof(*out));
        if (why[0] == '\0')
            snprintf(why, STATE_WHY_MAX, "authorization_details could not be read");
    }
    return rc;
}

/*
 * authz_org reads the type and endpoint ("" when none) of the organisation whose org entry is
 * at log index. Returns ERR_OK or ERR_STORAGE.
 */
static enum err
authz_org(struct store_txn *t, uint64_t index, char type[static CONSENTS_NAME_MAX + 1],
          char endpoint[static AUTHZ_URL_MAX + 1])
{
    const cJSON *ty, *ep;
    const uint8_t *bytes;
    const char *jwhy;
    cJSON *e = NULL;
    size_t len;
    enum err rc;

    type[0] = endpoint[0] = '\0';
    rc = tlog_entry(t, index, &bytes, &len);
    if (rc != ERR_OK)
        return ERR_STORAGE;
    if (jstrict_parse((const char *)bytes, len, &e, &jwhy) != ERR_OK)
        return ERR_STORAGE;
    ty = cJSON_GetObjectItemCaseSensitive(e, "org_type");
    ep = cJSON_GetObjectItemCaseSensitive(e, "endpoint");
    rc = ERR_STORAGE;
    if (cJSON_IsString(ty) && strlen(ty->valuestring) <= CONSENTS_NAME_MAX &&
        (ep == NULL || (cJSON_IsString(ep) && strlen(ep->valuestring) <= AUTHZ_URL_MAX))) {
        memcpy(type, ty->valuestring, strlen(ty->valuestring) + 1);
        if (ep != NULL)
            memcpy(endpoint, ep->valuestring, strlen(ep->valuestring) + 1);
        rc = ERR_OK;
    }
    cJSON_Delete(e);
    return rc;
}

/* What the scan of the organisations looks for: the locations not matched yet. */
struct authz_loc_scan {
    struct store_txn *t;
    const struct policy *pol;
    const struct authz_request *r;
    uint32_t found;
};

static enum err
authz_loc_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct authz_loc_scan *x = ctx;
    char type[CONSENTS_NAME_MAX + 1], endpoint[AUTHZ_URL_MAX + 1];
    uint64_t index;
    unsigned k;
    enum err rc;

    (void)key;
    (void)key_len;
    rc = store_u64_val(val, val_len, &index);
    if (rc == ERR_OK)
        rc = authz_org(x->t, index, type, endpoint);
    if (rc != ERR_OK)
        return rc;
    if (endpoint[0] == '\0' || !policy_org_type_allows(x->pol, type, POLICY_ROLE_CUSTODIAN))
        return ERR_OK;
    for (k = 0; k < x->r->nasked; k++)
        if (strcmp(x->r->aud[k], endpoint) == 0)
            x->found |= UINT32_C(1) << k;
    return x->found == (UINT32_C(1) << x->r->nasked) - 1 ? ERR_EXISTS : ERR_OK;
}

enum err
authz_locations(struct store_txn *t, const struct policy *pol, const struct authz_request *r,
                char why[static STATE_WHY_MAX])
{
    struct authz_loc_scan x = {t, pol, r, 0};
    unsigned i, k;
    enum err rc;

    if (r->nasked == 0)
        return ERR_OK;
    rc = store_scan(t, STORE_ORGS, "", 0, authz_loc_one, &x);
    if (rc != ERR_OK)
        return rc;
    for (k = 0; k < r->nasked; k++) {
        if ((x.found & (UINT32_C(1) << k)) != 0)
            continue;
        for (i = 0; i < r->n; i++)
            if ((r->d[i].locations & (UINT32_C(1) << k)) != 0)
                break;
        snprintf(why, STATE_WHY_MAX,
                 "authorization_details[%u].locations names a URL that is not the endpoint of a "
                 "registered custodian organisation",
                 i);
        return ERR_INVAL;
    }
    return ERR_OK;
}

/* authz_add_grant records that object d relied on grant g; false if there are too many. */
static bool
authz_add_grant(struct authz_request *r, struct authz_detail *d, const struct consent_grant *g)
{
    unsigned k;

    for (k = 0; k < r->ngrants; k++)
        if (r->grants[k].index == g->index)
            break;
    if (k == r->ngrants) {
        if (r->ngrants == AUTHZ_MAX_GRANTS)
            return false;
        snprintf(r->grants[k].jti, sizeof(r->grants[k].jti), "%s", g->jti);
        r->grants[k].index = g->index;
        r->ngrants++;
    }
    d->grants |= UINT64_C(1) << k;
    return true;
}

/* The custodians a token covers: those holding an active pointer in a category permitted. */
struct authz_aud_scan {
    struct store_txn *t;
    const struct policy *pol;
    struct authz_request *r;
    uint64_t categories; /* of the objects that named no location */
    char why[STATE_WHY_MAX];
};

static enum err
authz_aud_one(void *ctx, const struct pointers_pointer *p)
{
    struct authz_aud_scan *x = ctx;
    char type[CONSENTS_NAME_MAX + 1], endpoint[AUTHZ_URL_MAX + 1];
    uint64_t index;
    unsigned k;
    int bit = policy_category_bit(x->pol, p->category);
    enum err rc;

    if (bit < 0 || bit >= CONSENT_MAX_CATEGORIES || (x->categories & (UINT64_C(1) << bit)) == 0)
        return ERR_OK;
    rc = state_org_index(x->t, p->custodian, &index);
    if (rc == ERR_NOTFOUND)
        return ERR_OK;
    if (rc == ERR_OK)
        rc = authz_org(x->t, index, type, endpoint);
    if (rc != ERR_OK || endpoint[0] == '\0')
        return rc;
    for (k = 0; k < x->r->naud; k++)
        if (strcmp(x->r->aud[k], endpoint) == 0)
            return ERR_OK;
    if (x->r->naud == AUTHZ_MAX_AUD) {
        snprintf(x->why, sizeof(x->why),
                 "the records asked for are held by more than %d custodians: name the ones "
                 "wanted in \"locations\"",
                 AUTHZ_MAX_AUD);
        return ERR_INVAL;
    }
    memcpy(x->r->aud[x->r->naud], endpoint, strlen(endpoint) + 1);
    x->r->naud++;
    return ERR_OK;
}

/* authz_reset forgets what an earlier authz_decide set. */
static void
authz_reset(struct authz_request *r)
{
    unsigned i;

    r->naud = r->nasked;
    r->nhs[0] = '\0';
    r->categories = 0;
    r->ngrants = 0;
    r->implied = false;
    for (i = 0; i < r->n; i++) {
        r->d[i].grants = 0;
        r->d[i].implied = false;
    }
}

enum err
authz_decide(struct store_txn *t, const struct policy *pol, struct authz_request *r,
             const char *org, int64_t now, char why[static STATE_WHY_MAX])
{
    char nhs[NHS_LEN + 1], org_type[CONSENTS_NAME_MAX + 1];
    struct authz_aud_scan *x = NULL;
    struct consent_decision *dec = xcalloc(1, sizeof(*dec));
    struct consent_request req;
    struct consents_set s;
    struct authz_detail *d;
    uint64_t org_index;
    unsigned i, k;
    enum err rc = ERR_OK;

    consents_set_init(&s);
    authz_reset(r);
    why[0] = '\0';
    for (i = 0; i < r->n; i++) {
        d = &r->d[i];
        rc = patients_resolve(t, d->identifier, nhs, why);
        if (rc == ERR_INVAL || rc == ERR_NOTFOUND) {
            snprintf(why, STATE_WHY_MAX, "authorization_details[%u].identifier is %s", i,
                     rc == ERR_INVAL ? "not a valid NHS number (ten digits with a Modulus 11 "
                                       "check digit) or system|value"
                                     : "a system|value not linked to an NHS number here");
            rc = ERR_INVAL;
            goto out;
        }
        if (rc != ERR_OK)
            goto out;
        if (i > 0 && (strcmp(nhs, r->nhs) != 0 || strcmp(d->purpose, r->d[0].purpose) != 0)) {
            snprintf(why, STATE_WHY_MAX,
                     "authorization_details[%u] names another person or purpose than "
                     "authorization_details[0]: a token covers one person for one purpose",
                     i);
            rc = ERR_INVAL;
            goto out;
        }
        memcpy(r->nhs, nhs, sizeof(nhs));
        if (r->break_glass) {
            /* No consent is consulted; the organisation must still be registered. */
            rc = state_org_index(t, org, &org_index);
            if (rc == ERR_NOTFOUND) {
                snprintf(why, STATE_WHY_MAX, "the client's organisation is not registered");
                rc = ERR_AUTH;
            }
            if (rc != ERR_OK)
                goto out;
            r->categories |= d->categories;
            continue;
        }
        memset(&req, 0, sizeof(req));
        req.org = org;
        req.purpose = d->purpose;
        req.categories = d->categories;
        req.actions = CONSENT_ACTION_READ;
        req.now = now;
        consents_set_clear(&s);
        rc = consents_decide(t, pol, nhs, &req, org_type, &s, dec);
        if (rc == ERR_NOTFOUND) {
            snprintf(why, STATE_WHY_MAX, "the client's organisation is not registered");
            rc = ERR_AUTH;
            goto out;
        }
        if (rc != ERR_OK)
            goto out;
        if (!dec->permit) {
            snprintf(why, STATE_WHY_MAX, "%s", AUTHZ_DENIED);
            rc = ERR_PERM;
            goto out;
        }
        for (k = 0; k < dec->nreasons; k++) {
            if (dec->reasons[k].basis == CONSENT_BASIS_IMPLIED) {
                d->implied = r->implied = true;
            } else if (dec->reasons[k].basis == CONSENT_BASIS_PERMIT &&
                       dec->reasons[k].grant != NULL) {
                if (!authz_add_grant(r, d, dec->reasons[k].grant)) {
                    snprintf(why, STATE_WHY_MAX,
                             "this request relies on more than %d grants: ask for fewer "
                             "categories",
                             AUTHZ_MAX_GRANTS);
                    rc = ERR_INVAL;
                    goto out;
                }
            }
        }
        r->categories |= d->categories;
    }
    x = xcalloc(1, sizeof(*x));
    x->t = t;
    x->pol = pol;
    x->r = r;
    for (i = 0; i < r->n; i++)
        if (r->d[i].locations == 0)
            x->categories |= r->d[i].categories;
    if (x->categories != 0) {
        rc = pointers_list(t, r->nhs, true, authz_aud_one, x);
        if (rc == ERR_INVAL)
            snprintf(why, STATE_WHY_MAX, "%s", x->why);
    }
out:
    if (rc != ERR_OK)
        authz_reset(r);
    consents_set_clear(&s);
    free(dec);
    free(x);
    return rc;
}

/* authz_grants_json returns the grants object d relied on (all of r's when d is NULL). */
static cJSON *
authz_grants_json(const struct authz_request *r, const struct authz_detail *d)
{
    cJSON *a = cJSON_CreateArray(), *g;
    unsigned k;

    for (k = 0; k < r->ngrants; k++) {
        if (d != NULL && (d->grants & (UINT64_C(1) << k)) == 0)
            continue;
        g = cJSON_CreateObject();
        cJSON_AddItemToArray(a, g);
        cJSON_AddStringToObject(g, "jti", r->grants[k].jti);
        json_add_u64(g, "log_index", r->grants[k].index);
    }
    if (d != NULL ? d->implied : r->implied) {
        g = cJSON_CreateObject();
        cJSON_AddItemToArray(a, g);
        cJSON_AddStringToObject(g, "rule", ACCESS_RULE);
    }
    return a;
}

/* authz_datatypes returns the names of the categories in bits, in the policy's order. */
static cJSON *
authz_datatypes(const struct policy *pol, uint64_t bits)
{
    cJSON *a = cJSON_CreateArray();
    const char *name;
    unsigned b;

    for (b = 0; b < CONSENT_MAX_CATEGORIES; b++) {
        if ((bits & (UINT64_C(1) << b)) == 0)
            continue;
        name = policy_category_at(pol, b);
        if (name != NULL)
            cJSON_AddItemToArray(a, cJSON_CreateString(name));
    }
    return a;
}

enum err
authz_entry(const struct policy *pol, const struct authz_request *r, const char *jti,
            const char *client_id, const char *org, const char *issuer, int64_t iat, int64_t exp,
            char **out, size_t *len)
{
    cJSON *o = cJSON_CreateObject(), *aud;
    unsigned k;
    enum err rc;

    *out = NULL;
    *len = 0;
    if (o == NULL)
        return ERR_NOMEM;
    cJSON_AddStringToObject(o, "jti", jti);
    cJSON_AddStringToObject(o, "client_id", client_id);
    cJSON_AddStringToObject(o, "org", org);
    cJSON_AddStringToObject(o, "nhs", r->nhs);
    cJSON_AddStringToObject(o, "purpose",
                            r->break_glass ? AUTHZ_BTG
                            : r->n > 0     ? r->d[0].purpose
                                           : "");
    cJSON_AddItemToObject(o, "datatypes", authz_datatypes(pol, r->categories));
    if (r->break_glass)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "break_glass"), "reason", r->reason);
    else
        cJSON_AddItemToObject(o, "grants", authz_grants_json(r, NULL));
    aud = cJSON_AddArrayToObject(o, "aud");
    cJSON_AddItemToArray(aud, cJSON_CreateString(issuer));
    for (k = 0; k < r->naud; k++)
        cJSON_AddItemToArray(aud, cJSON_CreateString(r->aud[k]));
    cJSON_AddNumberToObject(o, "iat", (double)iat);
    cJSON_AddNumberToObject(o, "exp", (double)exp);
    rc = json_fields_text(o, out, len);
    cJSON_Delete(o);
    return rc;
}

cJSON *
authz_granted(const struct policy *pol, const struct authz_request *r)
{
    cJSON *a = cJSON_CreateArray(), *o, *l;
    const struct authz_detail *d;
    unsigned i, k;

    for (i = 0; i < r->n; i++) {
        d = &r->d[i];
        o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);
        cJSON_AddStringToObject(o, "type", AUTHZ_TYPE);
        cJSON_AddStringToObject(o, "identifier", d->identifier);
        cJSON_AddStringToObject(o, "purpose", r->break_glass ? AUTHZ_BTG : d->purpose);
        cJSON_AddItemToObject(o, "datatypes", authz_datatypes(pol, d->categories));
        l = cJSON_AddArrayToObject(o, "actions");
        cJSON_AddItemToArray(l, cJSON_CreateString("read"));
        if (d->locations != 0) {
            l = cJSON_AddArrayToObject(o, "locations");
            for (k = 0; k < r->nasked; k++)
                if ((d->locations & (UINT32_C(1) << k)) != 0)
                    cJSON_AddItemToArray(l, cJSON_CreateString(r->aud[k]));
        }
        if (r->break_glass)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "break_glass"), "reason", r->reason);
        else
            cJSON_AddItemToObject(o, "grants", authz_grants_json(r, d));
    }
    return a;
}
