/*
 * policy: the policy document the service loads (policies/default.json): the organisation
 * types and the client roles each may hold; the data categories, each with the SNOMED CT record
 * types it covers and whether it is sensitive; and the purposes of use (HL7 v3 PurposeOfUse
 * codes); and the access tokens' lifetimes. Loading validates the whole document and names the
 * first problem precisely.
 *
 * THREAD SAFETY: a loaded struct policy is immutable and may be shared.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"

#define POLICY_MAX_SIZE         (1024 * 1024)
#define POLICY_MAX_ORG_TYPES    64
#define POLICY_MAX_NAME         64
#define POLICY_MAX_CATEGORIES   32
#define POLICY_MAX_RECORD_TYPES 256 /* across all categories */
#define POLICY_MAX_PURPOSES     32
#define POLICY_MAX_DISPLAY      200 /* bytes of a display text */
#define POLICY_MAX_SCTID        18  /* digits of a SNOMED CT identifier */
#define POLICY_MAX_PURPOSE      16  /* characters of a purpose code */
#define POLICY_SNOMED_SYSTEM    "http://snomed.info/sct"

/* Access token lifetimes, seconds: the defaults, and the range a policy may set. */
#define POLICY_LIFETIME             300
#define POLICY_LIFETIME_BREAK_GLASS 120
#define POLICY_MIN_LIFETIME         10
#define POLICY_MAX_LIFETIME         3600

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

/*
 * policy_org_type_allows is true if type is an organisation type of p whose clients may hold
 * every role in roles (enum policy_role bits); false for an unknown type.
 */
bool policy_org_type_allows(const struct policy *p, const char *type, unsigned roles);

/*
 * policy_org_type_at returns the name of the organisation type at position i (in the document's
 * order) and sets *display to its display text, or returns NULL (and *display NULL) past the
 * end. Both are borrowed from p.
 */
const char *policy_org_type_at(const struct policy *p, unsigned i, const char **display);

/* policy_category_known is true if name is a data category of p. */
bool policy_category_known(const struct policy *p, const char *name);

/* policy_category_sensitive is true if name is a data category of p marked sensitive. */
bool policy_category_sensitive(const struct policy *p, const char *name);

/*
 * policy_category_of_type returns the name of the data category that covers the record type
 * (system, code), or NULL if none does. system must be POLICY_SNOMED_SYSTEM exactly. The name
 * is borrowed from p and lives as long as p.
 */
const char *policy_category_of_type(const struct policy *p, const char *system, const char *code);

/* policy_category_list writes the category names of p, comma-separated, into out (for errors). */
void policy_category_list(const struct policy *p, char *out, size_t out_cap);

/*
 * policy_category_display returns the display text of category name, or NULL if it is not a
 * category of p. Borrowed from p.
 */
const char *policy_category_display(const struct policy *p, const char *name);

/* policy_category_count returns the number of data categories of p (at most 64). */
unsigned policy_category_count(const struct policy *p);

/*
 * policy_category_bit returns the position of category name in p's order (its bit in a
 * consent_grant's categories), or -1 for a name that is not a category of p.
 */
int policy_category_bit(const struct policy *p, const char *name);

/* policy_category_at returns the name of the category at position bit, or NULL past the end. */
const char *policy_category_at(const struct policy *p, unsigned bit);

/* policy_sensitive_mask returns the bits of p's sensitive categories. */
uint64_t policy_sensitive_mask(const struct policy *p);

/* policy_purpose_known is true if code is a purpose of use of p (case-sensitive: "TREAT"). */
bool policy_purpose_known(const struct policy *p, const char *code);

/*
 * policy_purpose_display returns the display text of purpose code, or NULL if it is not a
 * purpose of p. Borrowed from p.
 */
const char *policy_purpose_display(const struct policy *p, const char *code);

/*
 * policy_purpose_at returns the code of the purpose at position i (in the document's order) and
 * sets *display to its display text, or returns NULL (and *display NULL) past the end. Both
 * are borrowed from p.
 */
const char *policy_purpose_at(const struct policy *p, unsigned i, const char **display);

/*
 * policy_token_lifetime returns the lifetime of an access token in seconds: the policy's
 * "token_lifetimes" "break_glass" or "default" (POLICY_LIFETIME_BREAK_GLASS and POLICY_LIFETIME
 * when the policy has no "token_lifetimes").
 */
int64_t policy_token_lifetime(const struct policy *p, bool break_glass);

/*
 * policy_sctid_valid is true for a SNOMED CT concept identifier: 6 to 18 digits, no leading
 * zero, partition identifier 00 or 10, and a correct Verhoeff check digit.
 */
bool policy_sctid_valid(const char *s);

#endif
