/*
 * policy: loading and validating the policy document.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/jstrict.h"
#include "consentd/policy.h"
#include "consentd/xmalloc.h"

struct policy_org_type {
    char name[POLICY_MAX_NAME + 1];
    char display[POLICY_MAX_DISPLAY + 1];
    unsigned roles; /* enum policy_role bits */
};

struct policy_category {
    char name[POLICY_MAX_NAME + 1];
    char display[POLICY_MAX_DISPLAY + 1];
    bool sensitive;
};

/* One SNOMED CT record type and the category (an index into categories) that covers it. */
struct policy_record_type {
    char code[POLICY_MAX_SCTID + 1];
    unsigned category;
};

struct policy_purpose {
    char code[POLICY_MAX_PURPOSE + 1];
    char display[POLICY_MAX_DISPLAY + 1];
};

struct policy {
    unsigned n_org_types;
    struct policy_org_type org_types[POLICY_MAX_ORG_TYPES];
    unsigned n_categories;
    struct policy_category categories[POLICY_MAX_CATEGORIES];
    unsigned n_record_types;
    struct policy_record_type record_types[POLICY_MAX_RECORD_TYPES];
    unsigned n_purposes;
    struct policy_purpose purposes[POLICY_MAX_PURPOSES];
    int64_t lifetime;             /* an access token's lifetime, seconds */
    int64_t lifetime_break_glass; /* a break-glass token's lifetime, seconds */
};

static const struct {
    const char *name;
    enum policy_role role;
} policy_roles[] = {
    {"custodian", POLICY_ROLE_CUSTODIAN}, {"requester", POLICY_ROLE_REQUESTER},
    {"enroller", POLICY_ROLE_ENROLLER},   {"auditor", POLICY_ROLE_AUDITOR},
    {"emergency", POLICY_ROLE_EMERGENCY},
};

unsigned
policy_role_bit(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(policy_roles) / sizeof(policy_roles[0]); i++)
        if (strcmp(name, policy_roles[i].name) == 0)
            return (unsigned)policy_roles[i].role;
    return 0;
}

static bool
policy_name_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > POLICY_MAX_NAME)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static enum err policy_display(const cJSON *m, const char *where,
                               char out[static POLICY_MAX_DISPLAY + 1], char *why, size_t why_cap);

static enum err
policy_org_type_parse(struct policy_org_type *t, const cJSON *o, char *why, size_t why_cap)
{
    char where[POLICY_MAX_NAME + 32];
    const cJSON *m, *r;
    size_t i;

    if (!policy_name_ok(o->string)) {
        snprintf(why, why_cap, "org_types: \"%.64s\" must be 1-64 characters of a-z, 0-9 and '-'",
                 o->string);
        return ERR_INVAL;
    }
    if (!cJSON_IsObject(o)) {
        snprintf(why, why_cap, "org_types.%s must be an object", o->string);
        return ERR_INVAL;
    }
    snprintf(t->name, sizeof(t->name), "%s", o->string);
    cJSON_ArrayForEach(m, o)
    {
        if (strcmp(m->string, "display") == 0) {
            snprintf(where, sizeof(where), "org_types.%s.display", t->name);
            if (policy_display(m, where, t->display, why, why_cap) != ERR_OK)
                return ERR_INVAL;
        } else if (strcmp(m->string, "roles") == 0) {
            if (!cJSON_IsArray(m)) {
                snprintf(why, why_cap, "org_types.%s.roles must be an array of role names",
                         t->name);
                return ERR_INVAL;
            }
            cJSON_ArrayForEach(r, m)
            {
                for (i = 0; i < sizeof(policy_roles) / sizeof(policy_roles[0]); i++)
                    if (cJSON_IsString(r) && strcmp(r->valuestring, policy_roles[i].name) == 0)
                        break;
                if (i == sizeof(policy_roles) / sizeof(policy_roles[0])) {
                    snprintf(why, why_cap,
                             "org_types.%s.roles: each role must be one of custodian, requester, "
                             "enroller, auditor, emergency",
                             t->name);
                    return ERR_INVAL;
                }
                t->roles |= (unsigned)policy_roles[i].role;
            }
        } else {
            snprintf(why, why_cap, "org_types.%s: unknown member \"%.64s\"", t->name, m->string);
            return ERR_INVAL;
        }
    }
    return ERR_OK;
}

/*
 * policy_display reads a display text: a non-empty string of at most POLICY_MAX_DISPLAY bytes.
 * where names the member for the error.
 */
static enum err
policy_display(const cJSON *m, const char *where, char out[static POLICY_MAX_DISPLAY + 1],
               char *why, size_t why_cap)
{
    if (!cJSON_IsString(m) || strlen(m->valuestring) == 0 ||
        strlen(m->valuestring) > POLICY_MAX_DISPLAY) {
        snprintf(why, why_cap, "%s must be a non-empty string of at most %d bytes", where,
                 POLICY_MAX_DISPLAY);
        return ERR_INVAL;
    }
    snprintf(out, POLICY_MAX_DISPLAY + 1, "%s", m->valuestring);
    return ERR_OK;
}

bool
policy_sctid_valid(const char *s)
{
    /* The Verhoeff tables: d is the dihedral group D5's multiplication, p the permutation. */
    static const unsigned char d[10][10] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
        {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
        {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
        {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
        {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}};
    static const unsigned char perm[8][10] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
        {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
        {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
        {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}};
    size_t n = strlen(s), i;
    unsigned c = 0;

    if (n < 6 || n > POLICY_MAX_SCTID || s[0] == '0')
        return false;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    /* The two digits before the check digit are the partition: 00 concept, 10 extension concept. */
    if (s[n - 2] != '0' || (s[n - 3] != '0' && s[n - 3] != '1'))
        return false;
    for (i = 0; i < n; i++)
        c = d[c][perm[i % 8][s[n - 1 - i] - '0']];
    return c == 0;
}

static enum err
policy_record_type_parse(struct policy *p, unsigned cat, const cJSON *o, char *why, size_t why_cap)
{
    const char *cname = p->categories[cat].name;
    const cJSON *m, *code = NULL;
    char where[160], display[POLICY_MAX_DISPLAY + 1];
    bool have_display = false;
    unsigned i;

    if (!cJSON_IsObject(o)) {
        snprintf(why, why_cap,
                 "categories.%s.record_types: each must be an object {\"code\", \"display\"}",
                 cname);
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(m, o)
    {
        if (strcmp(m->string, "code") == 0) {
            code = m;
        } else if (strcmp(m->string, "display") == 0) {
            snprintf(where, sizeof(where), "categories.%s.record_types[].display", cname);
            if (policy_display(m, where, display, why, why_cap) != ERR_OK)
                return ERR_INVAL;
            have_display = true;
        } else {
            snprintf(why, why_cap, "categories.%s.record_types[]: unknown member \"%.64s\"", cname,
                     m->string);
            return ERR_INVAL;
        }
    }
    if (!cJSON_IsString(code) || !policy_sctid_valid(code->valuestring)) {
        snprintf(why, why_cap,
                 "categories.%s.record_types[].code must be a SNOMED CT concept id (6-18 digits "
                 "with a valid Verhoeff check digit)%s%.20s",
                 cname, cJSON_IsString(code) ? "; got " : "",
                 cJSON_IsString(code) ? code->valuestring : "");
        return ERR_INVAL;
    }
    if (!have_display) {
        snprintf(why, why_cap, "categories.%s.record_types[]: code %s needs a \"display\"", cname,
                 code->valuestring);
        return ERR_INVAL;
    }
    for (i = 0; i < p->n_record_types; i++) {
        if (strcmp(p->record_types[i].code, code->valuestring) != 0)
            continue;
        if (p->record_types[i].category == cat)
            snprintf(why, why_cap, "categories.%s.record_types: code %s is listed twice", cname,
                     code->valuestring);
        else
            snprintf(why, why_cap,
                     "categories.%s.record_types: code %s is already covered by category %s; a "
                     "record type belongs to one category",
                     cname, code->valuestring, p->categories[p->record_types[i].category].name);
        return ERR_INVAL;
    }
    if (p->n_record_types == POLICY_MAX_RECORD_TYPES) {
        snprintf(why, why_cap, "categories: at most %d record types in all",
                 POLICY_MAX_RECORD_TYPES);
        return ERR_INVAL;
    }
    snprintf(p->record_types[p->n_record_types].code, POLICY_MAX_SCTID + 1, "%s",
             code->valuestring);
    p->record_types[p->n_record_types++].category = cat;
    return ERR_OK;
}

static enum err
policy_category_parse(struct policy *p, const cJSON *o, char *why, size_t why_cap)
{
    struct policy_category *c = &p->categories[p->n_categories];
    const cJSON *m, *r, *types = NULL, *sensitive = NULL;
    char where[160];
    bool have_display = false;

    if (!policy_name_ok(o->string)) {
        snprintf(why, why_cap, "categories: \"%.64s\" must be 1-64 characters of a-z, 0-9 and '-'",
                 o->string);
        return ERR_INVAL;
    }
    if (!cJSON_IsObject(o)) {
        snprintf(why, why_cap, "categories.%s must be an object", o->string);
        return ERR_INVAL;
    }
    snprintf(c->name, sizeof(c->name), "%s", o->string);
    cJSON_ArrayForEach(m, o)
    {
        if (strcmp(m->string, "display") == 0) {
            snprintf(where, sizeof(where), "categories.%s.display", c->name);
            if (policy_display(m, where, c->display, why, why_cap) != ERR_OK)
                return ERR_INVAL;
            have_display = true;
        } else if (strcmp(m->string, "sensitive") == 0) {
            sensitive = m;
        } else if (strcmp(m->string, "record_types") == 0) {
            types = m;
        } else {
            snprintf(why, why_cap, "categories.%s: unknown member \"%.64s\"", c->name, m->string);
            return ERR_INVAL;
        }
    }
    if (!have_display) {
        snprintf(why, why_cap, "categories.%s needs a \"display\"", c->name);
        return ERR_INVAL;
    }
    if (!cJSON_IsBool(sensitive)) {
        snprintf(why, why_cap, "categories.%s.sensitive must be true or false", c->name);
        return ERR_INVAL;
    }
    c->sensitive = cJSON_IsTrue(sensitive);
    if (!cJSON_IsArray(types) || types->child == NULL) {
        snprintf(why, why_cap,
                 "categories.%s.record_types must be a non-empty array of SNOMED CT record types",
                 c->name);
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(r, types)
    {
        if (policy_record_type_parse(p, p->n_categories, r, why, why_cap) != ERR_OK)
            return ERR_INVAL;
    }
    p->n_categories++;
    return ERR_OK;
}

static bool
policy_purpose_code_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 2 || n > POLICY_MAX_PURPOSE)
        return false;
    for (i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

static enum err
policy_purpose_parse(struct policy *p, const cJSON *o, char *why, size_t why_cap)
{
    struct policy_purpose *pu = &p->purposes[p->n_purposes];
    const cJSON *m, *code = NULL, *display = NULL;
    char where[160];
    unsigned i;

    if (!cJSON_IsObject(o)) {
        snprintf(why, why_cap, "purposes: each must be an object {\"code\", \"display\"}");
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(m, o)
    {
        if (strcmp(m->string, "code") == 0)
            code = m;
        else if (strcmp(m->string, "display") == 0)
            display = m;
        else {
            snprintf(why, why_cap, "purposes[]: unknown member \"%.64s\"", m->string);
            return ERR_INVAL;
        }
    }
    if (!cJSON_IsString(code) || !policy_purpose_code_ok(code->valuestring)) {
        snprintf(why, why_cap,
                 "purposes[].code must be an HL7 v3 PurposeOfUse code: 2-%d of A-Z (\"TREAT\")",
                 POLICY_MAX_PURPOSE);
        return ERR_INVAL;
    }
    for (i = 0; i < p->n_purposes; i++) {
        if (strcmp(p->purposes[i].code, code->valuestring) == 0) {
            snprintf(why, why_cap, "purposes: code %s is listed twice", code->valuestring);
            return ERR_INVAL;
        }
    }
    snprintf(where, sizeof(where), "purposes[%s].display", code->valuestring);
    if (policy_display(display, where, pu->display, why, why_cap) != ERR_OK)
        return ERR_INVAL;
    snprintf(pu->code, sizeof(pu->code), "%s", code->valuestring);
    p->n_purposes++;
    return ERR_OK;
}

/* policy_parse_categories reads the top-level "categories" and "purposes" members of root. */
static enum err
policy_parse_categories(struct policy *p, const cJSON *root, char *why, size_t why_cap)
{
    const cJSON *m, *o;

    m = cJSON_GetObjectItemCaseSensitive(root, "categories");
    if (!cJSON_IsObject(m) || m->child == NULL) {
        snprintf(why, why_cap, "\"categories\" must be a non-empty object of data categories");
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(o, m)
    {
        if (p->n_categories == POLICY_MAX_CATEGORIES) {
            snprintf(why, why_cap, "categories: at most %d categories", POLICY_MAX_CATEGORIES);
            return ERR_INVAL;
        }
        if (policy_category_parse(p, o, why, why_cap) != ERR_OK)
            return ERR_INVAL;
    }
    m = cJSON_GetObjectItemCaseSensitive(root, "purposes");
    if (!cJSON_IsArray(m) || m->child == NULL) {
        snprintf(why, why_cap, "\"purposes\" must be a non-empty array of purposes of use");
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(o, m)
    {
        if (p->n_purposes == POLICY_MAX_PURPOSES) {
            snprintf(why, why_cap, "purposes: at most %d purposes", POLICY_MAX_PURPOSES);
            return ERR_INVAL;
        }
        if (policy_purpose_parse(p, o, why, why_cap) != ERR_OK)
            return ERR_INVAL;
    }
    return ERR_OK;
}

/* policy_lifetime reads member name of o: whole seconds in [POLICY_MIN_LIFETIME, max]. */
static bool
policy_lifetime(const cJSON *o, const char *name, int64_t max, int64_t *out)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsNumber(m) || m->valuedouble < POLICY_MIN_LIFETIME || m->valuedouble > max ||
        m->valuedouble != (double)(int64_t)m->valuedouble)
        return false;
    *out = (int64_t)m->valuedouble;
    return true;
}

/*
 * policy_parse_lifetimes reads the optional "token_lifetimes" {"default", "break_glass"}
 * (seconds); without it the lifetimes are POLICY_LIFETIME and POLICY_LIFETIME_BREAK_GLASS.
 */
static enum err
policy_parse_lifetimes(struct policy *p, const cJSON *root, char *why, size_t why_cap)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "token_lifetimes"), *m;

    p->lifetime = POLICY_LIFETIME;
    p->lifetime_break_glass = POLICY_LIFETIME_BREAK_GLASS;
    if (o == NULL)
        return ERR_OK;
    if (!cJSON_IsObject(o)) {
        snprintf(why, why_cap,
                 "\"token_lifetimes\" must be an object {\"default\", \"break_glass\"}");
        return ERR_INVAL;
    }
    cJSON_ArrayForEach(m, o)
    {
        if (strcmp(m->string, "default") != 0 && strcmp(m->string, "break_glass") != 0) {
            snprintf(why, why_cap, "token_lifetimes: unknown member \"%.64s\"", m->string);
            return ERR_INVAL;
        }
    }
    if (!policy_lifetime(o, "default", POLICY_MAX_LIFETIME, &p->lifetime)) {
        snprintf(why, why_cap, "token_lifetimes.default must be whole seconds from %d to %d",
                 POLICY_MIN_LIFETIME, POLICY_MAX_LIFETIME);
        return ERR_INVAL;
    }
    if (!policy_lifetime(o, "break_glass", p->lifetime, &p->lifetime_break_glass)) {
        snprintf(why, why_cap,
                 "token_lifetimes.break_glass must be whole seconds from %d to the default "
                 "lifetime",
                 POLICY_MIN_LIFETIME);
        return ERR_INVAL;
    }
    return ERR_OK;
}

enum err
policy_parse(const char *doc, size_t len, struct policy **out, char *why, size_t why_cap)
{
    struct policy *p = xcalloc(1, sizeof(*p));
    const char *jwhy = NULL;
    cJSON *root = NULL;
    const cJSON *m, *o;
    enum err rc;

    *out = NULL;
    rc = jstrict_parse(doc, len, &root, &jwhy);
    if (rc != ERR_OK) {
        snprintf(why, why_cap, "not a valid JSON object: %s", jwhy != NULL ? jwhy : err_str(rc));
        goto out;
    }
    rc = ERR_INVAL;
    m = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsNumber(m) || m->valuedouble != 1) {
        snprintf(why, why_cap, "\"version\" must be 1");
        goto out;
    }
    cJSON_ArrayForEach(m, root)
    {
        if (strcmp(m->string, "version") != 0 && strcmp(m->string, "org_types") != 0 &&
            strcmp(m->string, "categories") != 0 && strcmp(m->string, "purposes") != 0 &&
            strcmp(m->string, "token_lifetimes") != 0) {
            snprintf(why, why_cap, "unknown member \"%.64s\" at the top level", m->string);
            goto out;
        }
    }
    m = cJSON_GetObjectItemCaseSensitive(root, "org_types");
    if (!cJSON_IsObject(m) || m->child == NULL) {
        snprintf(why, why_cap, "\"org_types\" must be a non-empty object");
        goto out;
    }
    cJSON_ArrayForEach(o, m)
    {
        if (p->n_org_types == POLICY_MAX_ORG_TYPES) {
            snprintf(why, why_cap, "org_types: at most %d types", POLICY_MAX_ORG_TYPES);
            goto out;
        }
        rc = policy_org_type_parse(&p->org_types[p->n_org_types], o, why, why_cap);
        if (rc != ERR_OK)
            goto out;
        p->n_org_types++;
        rc = ERR_INVAL;
    }
    if (policy_parse_categories(p, root, why, why_cap) != ERR_OK)
        goto out;
    if (policy_parse_lifetimes(p, root, why, why_cap) != ERR_OK)
        goto out;
    *out = p;
    p = NULL;
    rc = ERR_OK;
out:
    cJSON_Delete(root);
    free(p);
    return rc;
}

enum err
policy_load(const char *path, struct policy **out, char *why, size_t why_cap)
{
    char *buf = NULL;
    size_t len = 0;
    enum err rc = ERR_IO;
    FILE *f;

    *out = NULL;
    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(why, why_cap, "cannot read the policy %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    buf = xmalloc(POLICY_MAX_SIZE + 1);
    len = fread(buf, 1, POLICY_MAX_SIZE + 1, f);
    if (ferror(f)) {
        snprintf(why, why_cap, "cannot read the policy %s", path);
        goto out;
    }
    if (len > POLICY_MAX_SIZE) {
        snprintf(why, why_cap, "the policy %s is larger than %d bytes", path, POLICY_MAX_SIZE);
        rc = ERR_TOOBIG;
        goto out;
    }
    rc = policy_parse(buf, len, out, why, why_cap);
out:
    fclose(f);
    free(buf);
    return rc;
}

void
policy_free(struct policy *p)
{
    free(p);
}

bool
policy_org_type_known(const struct policy *p, const char *type)
{
    unsigned i;

    for (i = 0; i < p->n_org_types; i++)
        if (strcmp(p->org_types[i].name, type) == 0)
            return true;
    return false;
}

bool
policy_org_type_allows(const struct policy *p, const char *type, unsigned roles)
{
    unsigned i;

    for (i = 0; i < p->n_org_types; i++)
        if (strcmp(p->org_types[i].name, type) == 0)
            return (roles & ~p->org_types[i].roles) == 0;
    return false;
}

void
policy_org_type_list(const struct policy *p, char *out, size_t out_cap)
{
    size_t n = 0;
    unsigned i;
    int r;

    if (out_cap == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < p->n_org_types && n < out_cap; i++) {
        r = snprintf(out + n, out_cap - n, "%s%s", i == 0 ? "" : ", ", p->org_types[i].name);
        if (r < 0)
            break;
        n += (size_t)r;
    }
}

static const struct policy_category *
policy_category_find(const struct policy *p, const char *name)
{
    unsigned i;

    for (i = 0; i < p->n_categories; i++)
        if (strcmp(p->categories[i].name, name) == 0)
            return &p->categories[i];
    return NULL;
}

bool
policy_category_known(const struct policy *p, const char *name)
{
    return policy_category_find(p, name) != NULL;
}

bool
policy_category_sensitive(const struct policy *p, const char *name)
{
    const struct policy_category *c = policy_category_find(p, name);

    return c != NULL && c->sensitive;
}

const char *
policy_category_display(const struct policy *p, const char *name)
{
    const struct policy_category *c = policy_category_find(p, name);

    return c == NULL ? NULL : c->display;
}

const char *
policy_category_of_type(const struct policy *p, const char *system, const char *code)
{
    unsigned i;

    if (strcmp(system, POLICY_SNOMED_SYSTEM) != 0)
        return NULL;
    for (i = 0; i < p->n_record_types; i++)
        if (strcmp(p->record_types[i].code, code) == 0)
            return p->categories[p->record_types[i].category].name;
    return NULL;
}

void
policy_category_list(const struct policy *p, char *out, size_t out_cap)
{
    size_t n = 0;
    unsigned i;
    int r;

    if (out_cap == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < p->n_categories && n < out_cap; i++) {
        r = snprintf(out + n, out_cap - n, "%s%s", i == 0 ? "" : ", ", p->categories[i].name);
        if (r < 0)
            break;
        n += (size_t)r;
    }
}

bool
policy_purpose_known(const struct policy *p, const char *code)
{
    unsigned i;

    for (i = 0; i < p->n_purposes; i++)
        if (strcmp(p->purposes[i].code, code) == 0)
            return true;
    return false;
}

const char *
policy_purpose_display(const struct policy *p, const char *code)
{
    unsigned i;

    for (i = 0; i < p->n_purposes; i++)
        if (strcmp(p->purposes[i].code, code) == 0)
            return p->purposes[i].display;
    return NULL;
}

const char *
policy_org_type_at(const struct policy *p, unsigned i, const char **display)
{
    *display = i < p->n_org_types ? p->org_types[i].display : NULL;
    return i < p->n_org_types ? p->org_types[i].name : NULL;
}

const char *
policy_purpose_at(const struct policy *p, unsigned i, const char **display)
{
    *display = i < p->n_purposes ? p->purposes[i].display : NULL;
    return i < p->n_purposes ? p->purposes[i].code : NULL;
}

int64_t
policy_token_lifetime(const struct policy *p, bool break_glass)
{
    return break_glass ? p->lifetime_break_glass : p->lifetime;
}

unsigned
policy_category_count(const struct policy *p)
{
    return p->n_categories;
}

int
policy_category_bit(const struct policy *p, const char *name)
{
    unsigned i;

    for (i = 0; i < p->n_categories; i++)
        if (strcmp(p->categories[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *
policy_category_at(const struct policy *p, unsigned bit)
{
    return bit < p->n_categories ? p->categories[bit].name : NULL;
}

uint64_t
policy_sensitive_mask(const struct policy *p)
{
    uint64_t m = 0;
    unsigned i;

    for (i = 0; i < p->n_categories; i++)
        if (p->categories[i].sensitive)
            m |= UINT64_C(1) << i;
    return m;
}
