/*
 * consent: the consent decision of DESIGN.md §4 as a pure function, in policies/consent.c:
 * (rules from the policy, a person's grants, a request, the time) → a decision for each data
 * category asked for, with the entry or rule behind it. No I/O, no clock, no allocation: the
 * caller passes everything in and gets everything back.
 *
 * For each category asked for, in this order:
 *   1. an active, matching "deny" wins (the earliest such grant in log order is named);
 *   2. else an active, matching "permit" permits (the earliest is named);
 *   3. else the implied rule may permit: the organisation that enrolled the person (their GP
 *      practice) reading (and only reading) for the implied purpose (TREAT), never a sensitive
 *      category;
 *   4. else it is refused by default.
 * The request is permitted only if every category asked for is permitted.
 *
 * A grant matches when its grantee names the requester (its ODS code, its organisation type, or
 * anyone), its purpose is the request's, it covers the category and every action asked for, and
 * it is active: now within [start, end) and not revoked at now. ("Every action" is the same for
 * a deny today, since reading is the only action; when there are more, a deny should match when
 * it covers any action asked for.) "Earliest" means the lowest log index, whatever the order of
 * the array.
 *
 * THREAD SAFETY: pure; reentrant.
 */
#ifndef CONSENT_H
#define CONSENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSENT_MAX_CATEGORIES 64 /* categories are bits of a uint64_t, in policy order */
#define CONSENT_ACTION_READ    (1u << 0)

enum consent_effect { CONSENT_PERMIT = 1, CONSENT_DENY = 2 };

enum consent_grantee {
    CONSENT_GRANTEE_ORG = 1,  /* value: an ODS code */
    CONSENT_GRANTEE_ROLE = 2, /* value: an organisation type from the policy */
    CONSENT_GRANTEE_ANY = 3   /* value: NULL ("*": anyone, for the purpose) */
};

/* One grant or denial, as recorded in the log. Strings are borrowed from the caller. */
struct consent_grant {
    uint64_t index;  /* log index of its "consent" entry */
    const char *jti; /* the grant's id */
    enum consent_effect effect;
    enum consent_grantee grantee;
    const char *grantee_value;
    const char *purpose;   /* a PurposeOfUse code */
    uint64_t categories;   /* bit i: the policy's category i */
    unsigned actions;      /* CONSENT_ACTION_* bits */
    int64_t start;         /* the period, seconds since the epoch: start inclusive... */
    int64_t end;           /* ...end exclusive (INT64_MAX for a grant with no end) */
    int64_t revoked_at;    /* time of its revocation entry; 0 if never revoked */
    uint64_t revoke_index; /* log index of the revocation, when revoked */
};

/* What the policy says about implied access. */
struct consent_rules {
    uint64_t sensitive;          /* categories that always need an explicit permit */
    const char *implied_purpose; /* the implied rule's purpose ("TREAT"); NULL: no implied rule */
};

struct consent_request {
    const char *org;      /* requester's ODS code */
    const char *org_type; /* requester's organisation type */
    bool org_enrolled;    /* the requester enrolled the person (their GP practice) */
    const char *purpose;
    uint64_t categories; /* asked for; at least one */
    unsigned actions;    /* asked for; at least one */
    int64_t now;
};

enum consent_basis {
    CONSENT_BASIS_DENY = 1,    /* an explicit denial: grant names it */
    CONSENT_BASIS_PERMIT = 2,  /* an explicit permit: grant names it */
    CONSENT_BASIS_IMPLIED = 3, /* the policy's implied rule */
    CONSENT_BASIS_NONE = 4     /* nothing permits it: refused by default */
};

struct consent_reason {
    unsigned category; /* bit number */
    enum consent_basis basis;
    const struct consent_grant *grant; /* DENY and PERMIT: the deciding grant; else NULL */
};

struct consent_decision {
    bool permit;        /* every category asked for is permitted */
    uint64_t permitted; /* the categories permitted */
    unsigned nreasons;  /* one per category asked for, in bit order */
    struct consent_reason reasons[CONSENT_MAX_CATEGORIES];
};

/*
 * consent_decide decides req against grants[0..n) under rules and fills *out (borrowing
 * pointers into grants). A request asking for no category or no action is refused with no
 * reasons.
 */
void consent_decide(const struct consent_rules *rules, const struct consent_grant *grants, size_t n,
                    const struct consent_request *req, struct consent_decision *out);

/* consent_grant_active is true if g is in its period at now and not revoked at now. */
bool consent_grant_active(const struct consent_grant *g, int64_t now);

/* consent_basis_name returns "deny", "permit", "implied" or "none". */
const char *consent_basis_name(enum consent_basis b);

#endif
