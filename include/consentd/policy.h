/*
 * policy: the policy document the service loads (policies/default.json): for now the
 * organisation types and the client roles each may hold. Loading validates the whole document
 * and names the first problem precisely.
 *
 * THREAD SAFETY: a loaded struct policy is immutable and may be shared.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "consentd/err.h"

#define POLICY_MAX_SIZE      (1024 * 1024)
#define POLICY_MAX_ORG_TYPES 64
#define POLICY_MAX_NAME      64

/* The client roles DESIGN.md §3 defines; a policy may grant only these. */
enum policy_role {
    POLICY_ROLE_CUSTODIAN = 1 << 0,
    POLICY_ROLE_REQUESTER = 1 << 1,
    POLICY_ROLE_ENROLLER = 1 << 2,
    POLICY_ROLE_AUDITOR = 1 << 3,
    POLICY_ROLE_EMERGENCY = 1 << 4
};

struct policy;

/* policy_role_bit returns the enum policy_role bit named name, or 0 for an unknown name. */
unsigned policy_role_bit(const char *name);

/*
 * policy_load reads and validates the policy document at path. Returns ERR_OK with *out set
 * (free with policy_free); ERR_IO if unreadable; ERR_INVAL with a sentence in why naming the
 * member at fault. *out is NULL on failure.
 */
enum err policy_load(const char *path, struct policy **out, char *why, size_t why_cap);

/* policy_parse is policy_load on a document in memory. */
enum err policy_parse(const char *doc, size_t len, struct policy **out, char *why, size_t why_cap);

/* policy_free frees p; NULL is a no-op. */
void policy_free(struct policy *p);

/* policy_org_type_known is true if type names an organisation type of p. */
bool policy_org_type_known(const struct policy *p, const char *type);

/* policy_org_type_list writes the type names of p, comma-separated, into out (for errors). */
void policy_org_type_list(const struct policy *p, char *out, size_t out_cap);

#endif
