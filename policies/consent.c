/*
 * consent: the consent decision of DESIGN.md §4 as a pure function. For each category asked
 * for, a matching active deny wins, then a matching active permit, then the policy's implied
 * rule, else the category is refused by default. Nothing here reads a clock, allocates or logs.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "consentd/consent.h"

/* Two strings are the same only if both are present; a missing one never matches anything. */
static bool
same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The grantee names the requester: its ODS code, its organisation type, or anyone. */
static bool
names_requester(const struct consent_grant *g, const struct consent_request *req)
{
    switch (g->grantee) {
    case CONSENT_GRANTEE_ORG:
        return same(g->grantee_value, req->org);
    case CONSENT_GRANTEE_ROLE:
        return same(g->grantee_value, req->org_type);
    case CONSENT_GRANTEE_ANY:
        return true;
    }
    /* A grantee kind this code does not know names nobody. */
    return false;
}

/*
 * A grant matches a category of the request when it has the effect looked for, names the
 * requester, is for the request's purpose, covers the category and every action asked for, and
 * is active at the request's time.
 */
static bool
matches(const struct consent_grant *g, enum consent_effect effect,
        const struct consent_request *req, uint64_t bit)
{
    if (g->effect != effect)
        return false;
    if (!names_requester(g, req))
        return false;
    if (!same(g->purpose, req->purpose))
        return false;
    if ((g->categories & bit) == 0)
        return false;
    if ((g->actions & req->actions) != req->actions)
        return false;
    return consent_grant_active(g, req->now);
}

/*
 * The earliest grant in log order, that is the lowest index, with this effect matching the
 * category; NULL if there is none. The lowest index is looked for rather than the first in the
 * array so that the answer does not depend on the order the caller gathered the grants in.
 */
static const struct consent_grant *
earliest_match(const struct consent_grant *grants, size_t n, enum consent_effect effect,
               const struct consent_request *req, uint64_t bit)
{
    const struct consent_grant *best = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        if (!matches(&grants[i], effect, req, bit))
            continue;
        if (best == NULL || grants[i].index < best->index)
            best = &grants[i];
    }
    return best;
}

/*
 * The implied rule: the organisation that enrolled the person, reading (and nothing else) for
 * the policy's implied purpose, a category that is not sensitive. A policy without an implied
 * purpose has no implied rule.
 */
static bool
implied(const struct consent_rules *rules, const struct consent_request *req, uint64_t bit)
{
    if (rules->implied_purpose == NULL)
        return false;
    if (!req->org_enrolled)
        return false;
    if (!same(req->purpose, rules->implied_purpose))
        return false;
    if ((req->actions & ~CONSENT_ACTION_READ) != 0)
        return false;
    return (rules->sensitive & bit) == 0;
}

void
consent_decide(const struct consent_rules *rules, const struct consent_grant *grants, size_t n,
               const struct consent_request *req, struct consent_decision *out)
{
    const struct consent_grant *g;
    struct consent_reason *r;
    unsigned c;
    uint64_t bit;

    assert(rules != NULL && req != NULL && out != NULL);
    assert(grants != NULL || n == 0);

    memset(out, 0, sizeof(*out));
    if (req->categories == 0 || req->actions == 0)
        return;

    for (c = 0; c < CONSENT_MAX_CATEGORIES; c++) {
        bit = (uint64_t)1 << c;
        if ((req->categories & bit) == 0)
            continue;
        r = &out->reasons[out->nreasons++];
        r->category = c;
        r->grant = NULL;

        g = earliest_match(grants, n, CONSENT_DENY, req, bit);
        if (g != NULL) {
            r->basis = CONSENT_BASIS_DENY;
            r->grant = g;
            continue;
        }
        g = earliest_match(grants, n, CONSENT_PERMIT, req, bit);
        if (g != NULL) {
            r->basis = CONSENT_BASIS_PERMIT;
            r->grant = g;
            out->permitted |= bit;
            continue;
        }
        if (implied(rules, req, bit)) {
            r->basis = CONSENT_BASIS_IMPLIED;
            out->permitted |= bit;
            continue;
        }
        r->basis = CONSENT_BASIS_NONE;
    }
    out->permit = out->permitted == req->categories;
}

bool
consent_grant_active(const struct consent_grant *g, int64_t now)
{
    if (now < g->start || now >= g->end)
        return false;
    /* revoked_at 0 means never revoked; otherwise the revocation holds from its own time on. */
    if (g->revoked_at != 0 && g->revoked_at <= now)
        return false;
    return true;
}

const char *
consent_basis_name(enum consent_basis b)
{
    switch (b) {
    case CONSENT_BASIS_DENY:
        return "deny";
    case CONSENT_BASIS_PERMIT:
        return "permit";
    case CONSENT_BASIS_IMPLIED:
        return "implied";
    case CONSENT_BASIS_NONE:
        return "none";
    }
    return "none";
}
