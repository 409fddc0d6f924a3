/*
 * fhir_consent: grants as FHIR R4 Consent resources, both ways (DESIGN.md §4, §6; the mapping
 * is docs/fhir-consent.md). fhir_consent_to_resource and fhir_consent_bundle build what GET
 * /fhir/Consent answers; fhir_consent_from_resource reads the Consent an enroller submits for
 * a patient who consented on paper (POST /fhir/Consent) and says precisely what is wrong with
 * one it refuses; fhir_consent_check tests a resource against the R4 rules that can be checked
 * without a terminology server. No I/O, no clock, no logging: the caller passes the grant, the
 * policy and the time in, and answers HTTP itself.
 *
 * THREAD SAFETY: reentrant; the policy is only read.
 */
#ifndef FHIR_CONSENT_H
#define FHIR_CONSENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/nhs.h"
#include "consentd/policy.h"

#define FHIR_CONSENT_JTI_MAX       128             /* bytes of a grant id, without the NUL */
#define FHIR_CONSENT_ID_MAX        64              /* a FHIR id: 1..64 of A-Z a-z 0-9 - . */
#define FHIR_CONSENT_VALUE_MAX     POLICY_MAX_NAME /* an ODS code (3-10) or an org type */
#define FHIR_CONSENT_PURPOSE_MAX   POLICY_MAX_PURPOSE
#define FHIR_CONSENT_NAME_MAX      POLICY_MAX_NAME /* a data category's name */
#define FHIR_CONSENT_MAX_DATATYPES 64
#define FHIR_CONSENT_TIME_MAX      40  /* an RFC 3339 date-time */
#define FHIR_CONSENT_SOURCE_MAX    64  /* a delegate's NHS number or an enroller's client id */
#define FHIR_CONSENT_DIAG_MAX      512 /* a diagnostics sentence, with its NUL */
#define FHIR_CONSENT_EXPR_MAX      96  /* a FHIRPath expression, with its NUL */
#define FHIR_CONSENT_ACTION_READ   (1u << 0)

/* The identifier systems and code systems the mapping uses (docs/fhir-consent.md says why). */
#define FHIR_CONSENT_NHS_SYSTEM      "https://fhir.nhs.uk/Id/nhs-number"
#define FHIR_CONSENT_ODS_SYSTEM      "https://fhir.nhs.uk/Id/ods-organization-code"
#define FHIR_CONSENT_CATEGORY_SYSTEM "https://consentd.example/fhir/CodeSystem/data-category"
#define FHIR_CONSENT_ORG_TYPE_SYSTEM "https://consentd.example/fhir/CodeSystem/organisation-type"
#define FHIR_CONSENT_JTI_SYSTEM      "https://consentd.example/fhir/Id/consent"
#define FHIR_CONSENT_CLIENT_SYSTEM   "https://consentd.example/fhir/Id/client"
#define FHIR_CONSENT_RECORD_URL      "https://consentd.example/fhir/StructureDefinition/consent-record"
#define FHIR_CONSENT_SCOPE_SYSTEM    "http://terminology.hl7.org/CodeSystem/consentscope"
#define FHIR_CONSENT_ACTION_SYSTEM   "http://terminology.hl7.org/CodeSystem/consentaction"
#define FHIR_CONSENT_ACTCODE_SYSTEM  "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define FHIR_CONSENT_REASON_SYSTEM   "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#define FHIR_CONSENT_PARTTYPE_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define FHIR_CONSENT_LOINC_SYSTEM    "http://loinc.org"
#define FHIR_CONSENT_LOINC_CONSENT   "59284-0" /* LOINC "Patient Consent" */
#define FHIR_CONSENT_FHIR_JSON       "application/fhir+json"

enum fhir_consent_effect { FHIR_CONSENT_PERMIT = 1, FHIR_CONSENT_DENY = 2 };

enum fhir_consent_grantee {
    FHIR_CONSENT_GRANTEE_ORG = 1,  /* grantee_value: an ODS code */
    FHIR_CONSENT_GRANTEE_ROLE = 2, /* grantee_value: an organisation type of the policy */
    FHIR_CONSENT_GRANTEE_ANY = 3   /* grantee_value: "" (the grant's "*") */
};

/*
 * Where a grant stands at the time of the answer; the caller works it out (see
 * fhir_consent_state_of). R4 Consent.status (ConsentState) has no "expired" or "revoked":
 * ACTIVE and PENDING are "active" (agreed and to be enforced; a pending one's provision.period
 * says from when), EXPIRED and REVOKED are "inactive" ("terminated or replaced"). "proposed"
 * would say the person had not yet agreed, which is false of any grant consentd holds.
 */
enum fhir_consent_state {
    FHIR_CONSENT_STATE_ACTIVE = 1,  /* within its period, not revoked */
    FHIR_CONSENT_STATE_PENDING = 2, /* its period has not started */
    FHIR_CONSENT_STATE_EXPIRED = 3, /* its period is over */
    FHIR_CONSENT_STATE_REVOKED = 4  /* revoked (whatever its period) */
};

/* Who made the grant and how it was signed. */
enum fhir_consent_source {
    FHIR_CONSENT_SOURCE_PATIENT = 1,  /* signed by the patient's key; source_id "" */
    FHIR_CONSENT_SOURCE_DELEGATE = 2, /* signed by a delegate's key; source_id: their NHS no. */
    FHIR_CONSENT_SOURCE_PAPER = 3     /* taken on paper; source_id: the enroller's client id */
};

/* One grant as consentd knows it. Every string is NUL-terminated and owned by the struct. */
struct fhir_consent_grant {
    char jti[FHIR_CONSENT_JTI_MAX + 1]; /* the grant's id */
    char nhs[NHS_LEN + 1];              /* the patient */
    enum fhir_consent_effect effect;
    enum fhir_consent_grantee grantee;
    char grantee_value[FHIR_CONSENT_VALUE_MAX + 1];
    char purpose[FHIR_CONSENT_PURPOSE_MAX + 1]; /* an HL7 v3 PurposeOfUse code: "TREAT" */
    size_t ndatatypes;                          /* 1..FHIR_CONSENT_MAX_DATATYPES */
    char datatypes[FHIR_CONSENT_MAX_DATATYPES][FHIR_CONSENT_NAME_MAX + 1]; /* category names */
    unsigned actions;                         /* FHIR_CONSENT_ACTION_* bits; read is the only one */
    char start[FHIR_CONSENT_TIME_MAX + 1];    /* the period, RFC 3339: start inclusive... */
    char end[FHIR_CONSENT_TIME_MAX + 1];      /* ...end exclusive */
    char recorded[FHIR_CONSENT_TIME_MAX + 1]; /* when it was made, RFC 3339; "" if unknown */
    enum fhir_consent_state state;
    enum fhir_consent_source source;
    char source_id[FHIR_CONSENT_SOURCE_MAX + 1];
    uint64_t index;        /* log index of its consent entry; 0 if not yet logged */
    uint64_t revoke_index; /* log index of its revocation when REVOKED; 0 if none or unknown */
};

/*
 * fhir_consent_state_of says where a grant with period [start, end) (RFC 3339) stands at now
 * (seconds since the epoch): REVOKED if revoked, else PENDING before start, EXPIRED from end
 * on, else ACTIVE. Returns ERR_INVAL, with *out unchanged, if start or end is not an RFC 3339
 * date-time.
 */
enum err fhir_consent_state_of(const char *start, const char *end, bool revoked, int64_t now,
                               enum fhir_consent_state *out) ERR_WUR;

/*
 * fhir_consent_id writes the FHIR id of the grant jti into out: jti itself if it is made of
 * A-Z a-z 0-9 and '-' only, else jti with every other byte escaped as '.' and two upper-case
 * hex digits ("a_b" → "a.5Fb"), or, if that is longer than FHIR_CONSENT_ID_MAX, ".." and the
 * first 31 bytes of SHA-256(jti) in hex. Distinct jtis get distinct ids (but for a SHA-256
 * collision). The jti itself is always in Consent.identifier. Returns ERR_INVAL, out "", if
 * jti is empty or longer than FHIR_CONSENT_JTI_MAX.
 */
enum err fhir_consent_id(const char *jti, char out[static FHIR_CONSENT_ID_MAX + 1]);

/*
 * fhir_consent_to_resource builds the R4 Consent of g. Category displays come from p; p may be
 * NULL (no displays). Returns a new cJSON tree the caller frees with cJSON_Delete, or NULL if g
 * is not a grant consentd could hold: an empty or overlong jti, an NHS number that is not
 * valid, an unknown enum value, no category, an ODS grantee that is not 3-10 of A-Z 0-9, or a
 * start, end or recorded time that is not RFC 3339.
 */
cJSON *fhir_consent_to_resource(const struct fhir_consent_grant *g, const struct policy *p);

/*
 * fhir_consent_bundle builds the searchset Bundle of grants[0..n) (n may be 0): "total" n, and
 * per grant an entry with fullUrl "<base>/fhir/Consent/<id>", the resource and search.mode
 * "match". base is the service's public URL (trailing slashes are dropped). self, if not NULL,
 * is the search's own URL, given as link "self". Returns a new cJSON tree (cJSON_Delete), or
 * NULL if any grant is one fhir_consent_to_resource refuses.
 */
cJSON *fhir_consent_bundle(const struct fhir_consent_grant *grants, size_t n,
                           const struct policy *p, const char *base, const char *self);

/*
 * fhir_consent_from_resource reads the Consent an enroller submits for a patient who consented
 * on paper. It refuses what consentd cannot honour exactly rather than ignore it: anything
 * that would narrow the consent (a nested provision, securityLabel, code, data, dataPeriod, a
 * modifierExtension) and any element R4 Consent does not define. What it requires is in
 * docs/fhir-consent.md: status "active", scope patient-privacy, a category, patient.identifier
 * with the NHS number system and a valid NHS number, policy or policyRule (ppc-1; an OPTIN or
 * OPTOUT policyRule must agree with provision.type), provision.type, provision.period with a
 * start and an end (full date-times with a time zone, start before end), no actor (anyone) or
 * exactly one (an organisation by ODS code, or a Group identified by an organisation type of p),
 * with role IRCP, action "access" only, exactly one purpose of p, and one or more categories of
 * p as class. Fractions of a second are dropped.
 *
 * On ERR_OK, *out holds the grant: effect, grantee, purpose, datatypes, actions READ, start and
 * end in UTC ("2026-11-23T00:00:00Z"), recorded from Consent.dateTime (in UTC) or "", state
 * ACTIVE, source PAPER; jti, source_id, index and revoke_index are empty or 0 for the caller
 * to fill (a created resource's id is the server's, so Consent.id is ignored). diagnostics and
 * expression are "".
 *
 * Returns ERR_INVAL for a resource it refuses, with *out zeroed, a sentence saying what to fix
 * in diagnostics (cap bytes; FHIR_CONSENT_DIAG_MAX is enough) and the FHIRPath of the element
 * at fault in expression (ecap bytes; FHIR_CONSENT_EXPR_MAX is enough), e.g.
 * "Consent.provision.purpose[0]". Any of these fit an OperationOutcome issue of code "invalid".
 */
enum err fhir_consent_from_resource(const cJSON *resource, const struct policy *p,
                                    struct fhir_consent_grant *out, char *diagnostics, size_t cap,
                                    char *expression, size_t ecap) ERR_WUR;

/*
 * fhir_consent_check tests a Consent or a Bundle of them against the R4 rules that need no
 * terminology server: the required elements and their codes (status, scope, category,
 * provision.type, actor role and reference), the invariants ppc-1 (policy or policyRule) and
 * ppc-2..ppc-5 (a patient-privacy, research, adr or treatment scope needs a patient), per-1
 * (a period's start is not after its end), ele-1 (no empty element, string or null), ext-1
 * (an extension has a value or extensions, not both) with a url, the id and dateTime formats,
 * dom-6 (narrative present); for a Bundle, bdl-1 (total only in a searchset or history) and
 * bdl-7 (fullUrl unique) and each entry. Returns ERR_OK, or ERR_INVAL with a sentence naming
 * the rule and the element in why (cap bytes).
 */
enum err fhir_consent_check(const cJSON *resource, char *why, size_t cap) ERR_WUR;

/*
 * fhir_consent_outcome builds an OperationOutcome with one error issue: code a FHIR IssueType
 * ("invalid", "forbidden", …), diagnostics a sentence, expression the FHIRPath of the element
 * at fault or NULL (or ""). Returns a new cJSON tree (cJSON_Delete).
 */
cJSON *fhir_consent_outcome(const char *code, const char *diagnostics, const char *expression);

#endif
