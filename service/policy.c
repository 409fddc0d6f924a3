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
    unsigned roles; /* enum policy_role bits */
};

struct policy {
    unsigned n_org_types;
    struct policy_org_type org_types[POLICY_MAX_ORG_TYPES];
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

static enum err
policy_org_type_parse(struct policy_org_type *t, const cJSON *o, char *why, size_t why_cap)
{
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
            if (!cJSON_IsString(m) || strlen(m->valuestring) == 0) {
                snprintf(why, why_cap, "org_types.%s.display must be a non-empty string", t->name);
                return ERR_INVAL;
            }
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
        if (strcmp(m->string, "version") != 0 && strcmp(m->string, "org_types") != 0) {
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
