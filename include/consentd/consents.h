/*
 * consents: a person's consent grants and denials, their revocations, and the delegations that
 * let a carer, guardian or attorney act for them (DESIGN.md §2, §4): the state derived from
 * "consent", "consent.revoke" and "delegation" entries, reading it, and gathering what the pure
 * decision (consent.h) needs from it.
 *
 * A grant is a compact JWS (EdDSA) with header {"alg","typ":"consent+jwt","kid"} whose payload
 * is exactly {iss, sub, jti, iat, effect, grantee, purpose, datatypes, actions, period}:
 *   iss, sub   NHS numbers: the signer and the person the grant is about;
 *   jti        CONSENTS_JTI_MAX characters of A-Z a-z 0-9 . _ - (unique across every grant,
 *              revocation and delegation);
 *   iat        an integer, seconds since the epoch;
 *   effect     "permit" or "deny";
 *   grantee    {"org":"<ODS code>"}, {"role":"<organisation type>"} or "*";
 *   purpose    a PurposeOfUse code (2..16 of A-Z);
 *   datatypes  1..CONSENTS_MAX_NAMES distinct data category names (a-z 0-9 -);
 *   actions    ["read"];
 *   period     {"start","end"}, RFC 3339 UTC to the second ("2026-11-23T00:00:00Z"), end after
 *              start.
 * A grant taken on paper (DESIGN.md §4: an enroller acting for a patient who consented on paper,
 * POST /fhir/Consent) is an entry {"paper": {sub, jti, effect, grantee, purpose, datatypes,
 * actions, period}, "by": "<the enroller's client id>"}: the members of a grant's payload but
 * iss and iat, with the same shapes. It is held exactly like a signed grant (iss = sub: the
 * person consented; iat 0), and its record says source CONSENTS_SOURCE_PAPER and by. The
 * person revokes it with their own signed revocation, as any grant.
 *
 * A revocation is a JWS with typ "consent-revoke+jwt" and payload exactly {iss, sub, jti, grant,
 * iat}, grant naming the jti of the grant it ends. A delegation is either a JWS with typ
 * "delegation+jwt" signed by the person, payload {iss, sub (both the person), jti, delegate,
 * rights, period, relationship, and optionally iat}, or recorded by an administrator (a court
 * order, a parent for a young child): an entry {nhs, delegate, rights, relationship, reason,
 * by:"admin", and optionally period}. rights is exactly {purposes, datatypes, actions}:
 * purposes and datatypes are lists or "*", actions a non-empty subset of "grant" (sign
 * permits), "deny" (sign denials) and "revoke". The delegate must be enrolled: they sign with
 * their own key.
 *
 * Names are checked here for their shape only: whether a purpose or category is in the policy
 * is the handler's check, since the state must not depend on the policy loaded.
 *
 * Every check reads state only, in log order, at the entry's "time":
 *   - the signature is by the signer's key current in the log (patients_get), and "kid" names it;
 *   - iss = sub, or iss holds a delegation from sub active at that time whose rights cover the
 *     grant: its purpose and every datatype, and the action ("grant" for a permit, "deny" for a
 *     denial, "revoke" for a revocation, which must also cover the grant it ends);
 *   - the jti is new;
 *   - a revocation names a grant of the same person that is not revoked yet;
 *   - a delegation is not to the person themself, and does not close a loop: A→B is refused
 *     while any chain B→…→A of delegations that have not ended exists;
 *   - a paper grant (no signature to check) has "by" naming a registered client with the
 *     enroller role that is not retired, and a person (sub) who is enrolled.
 * A delegation ends at the end of its period; there is no delegation revocation yet.
 *
 * Tables. STORE_CONSENTS maps a jti to a record whose first byte says what it names:
 *   'g' grant:       'g' ‖ entry index (8) ‖ revocation index (8; 0 = not revoked) ‖
 *                    revocation time (8, seconds; 0 = not revoked) ‖ sub (10 digits)
 *   'r' revocation:  'r' ‖ entry index (8)
 *   'd' delegation:  'd' ‖ entry index (8) (a person-signed delegation's jti)
 * all integers big-endian. STORE_CONSENTS_BY_NHS maps sub ‖ '/' ‖ jti to an empty value.
 * STORE_DELEGATIONS maps person (10) ‖ '>' ‖ delegate (10) ‖ entry index (8) to start (8) ‖
 * end (8) (seconds; an open end is CONSENTS_NO_END). Everything else is read from the entry.
 *
 * Nothing here logs: NHS numbers and signatures are personal, and a refusal's sentence goes only
 * to the caller who sent it.
 *
 * THREAD SAFETY: consents_apply runs in the sequencer's transaction only; the rest in any
 * transaction.
 */
#ifndef CONSENTS_H
#define CONSENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/clients.h"
#include "consentd/consent.h"
#include "consentd/err.h"
#include "consentd/nhs.h"
#include "consentd/policy.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define CONSENTS_JTI_MAX         128
#define CONSENTS_NAME_MAX        64 /* a category, an organisation type, a relationship */
#define CONSENTS_PURPOSE_MAX     16
#define CONSENTS_ODS_MAX         10
#define CONSENTS_MAX_NAMES       32 /* datatypes of a grant; purposes or datatypes of rights */
#define CONSENTS_REASON_MAX      500
#define CONSENTS_MAX_GRANTS      4096           /* a person's grants a decision reads */
#define CONSENTS_MAX_CHAIN       256            /* people a delegation-loop search visits */
#define CONSENTS_TIME_LEN        20             /* "2026-11-23T00:00:00Z" */
#define CONSENTS_BY_MAX          CLIENTS_ID_MAX /* who recorded a paper grant: a client id */
#define CONSENTS_PAPER_JTI_BYTES 16 /* random bytes in a server-made paper grant's jti */
#define CONSENTS_PAPER_JTI_LEN   22 /* base64url of CONSENTS_PAPER_JTI_BYTES, unpadded */
#define CONSENTS_NO_END          INT64_MAX
#define CONSENTS_TYP_GRANT       "consent+jwt"
#define CONSENTS_TYP_REVOKE      "consent-revoke+jwt"
#define CONSENTS_TYP_DELEGATION  "delegation+jwt"
#define CONSENTS_IMPLIED_PURPOSE "TREAT" /* the default policy's implied rule */
#define CONSENTS_RIGHT_GRANT     (1u << 0)
#define CONSENTS_RIGHT_DENY      (1u << 1)
#define CONSENTS_RIGHT_REVOKE    (1u << 2)

/* Why a grant, revocation or delegation was refused; each has a stable name (refusal_name). */
enum consents_refusal {
    CONSENTS_OK = 0,
    CONSENTS_MALFORMED,        /* not a well-formed JWS, header or payload */
    CONSENTS_BAD_PERIOD,       /* period end not after its start */
    CONSENTS_SIGNER_UNKNOWN,   /* iss (or the person signing a delegation) is not enrolled */
    CONSENTS_BAD_SIGNATURE,    /* not signed by the signer's current key */
    CONSENTS_NOT_DELEGATED,    /* iss is not sub and holds no active delegation from sub */
    CONSENTS_BEYOND_RIGHTS,    /* iss's active delegations do not cover this */
    CONSENTS_JTI_REUSED,       /* the jti names an earlier grant, revocation or delegation */
    CONSENTS_GRANT_UNKNOWN,    /* a revocation names no grant */
    CONSENTS_OTHER_PERSON,     /* a revocation names another person's grant */
    CONSENTS_ALREADY_REVOKED,  /* a revocation names a revoked grant */
    CONSENTS_SELF_DELEGATION,  /* a delegation to the person themself */
    CONSENTS_DELEGATION_LOOP,  /* a delegation that closes a loop */
    CONSENTS_DELEGATE_UNKNOWN, /* the delegate is not enrolled */
    CONSENTS_PATIENT_UNKNOWN,  /* a paper grant for a person who is not enrolled */
    CONSENTS_NOT_ENROLLER,     /* a paper grant's "by" is no active client with the enroller role */
};

enum consents_status {
    CONSENTS_ACTIVE = 1,  /* in its period and not revoked */
    CONSENTS_PENDING = 2, /* its period has not started */
    CONSENTS_EXPIRED = 3, /* its period has ended */
    CONSENTS_REVOKED = 4  /* revoked (whatever its period) */
};

/* How a grant was made. */
enum consents_source {
    CONSENTS_SOURCE_SIGNED = 1, /* a JWS signed by iss: the person, or a delegate (iss != sub) */
    CONSENTS_SOURCE_PAPER = 2   /* taken on paper and recorded by an enroller ("by") */
};

/* A grant's payload, parsed. */
struct consents_grant {
    char iss[NHS_LEN + 1];
    char sub[NHS_LEN + 1];
    char jti[CONSENTS_JTI_MAX + 1];
    int64_t iat;
    enum consent_effect effect;
    enum consent_grantee grantee;
    char grantee_value[CONSENTS_NAME_MAX + 1]; /* ODS code or organisation type; "" for "*" */
    char purpose[CONSENTS_PURPOSE_MAX + 1];
    unsigned ndatatypes;
    char datatypes[CONSENTS_MAX_NAMES][CONSENTS_NAME_MAX + 1];
    unsigned actions; /* CONSENT_ACTION_* */
    int64_t start;
    int64_t end;
};

/* A revocation's payload, parsed. */
struct consents_revocation {
    char iss[NHS_LEN + 1];
    char sub[NHS_LEN + 1];
    char jti[CONSENTS_JTI_MAX + 1];
    char grant[CONSENTS_JTI_MAX + 1];
    int64_t iat;
};

/* What a delegate may do: purposes and datatypes (any when the flag is set), actions. */
struct consents_rights {
    bool any_purpose;
    unsigned npurposes;
    char purposes[CONSENTS_MAX_NAMES][CONSENTS_PURPOSE_MAX + 1];
    bool any_datatype;
    unsigned ndatatypes;
    char datatypes[CONSENTS_MAX_NAMES][CONSENTS_NAME_MAX + 1];
    unsigned actions; /* CONSENTS_RIGHT_* */
};

/* A delegation, from a person-signed JWS (jti set) or an administrator's record (jti ""). */
struct consents_delegation {
    char nhs[NHS_LEN + 1];      /* the person */
    char delegate[NHS_LEN + 1]; /* who may act for them */
    char jti[CONSENTS_JTI_MAX + 1];
    char relationship[CONSENTS_NAME_MAX + 1];
    struct consents_rights rights;
    bool has_period;
    int64_t start;
    int64_t end; /* CONSENTS_NO_END when open */
};

/* A grant as the state holds it. */
struct consents_record {
    struct consents_grant g;
    uint64_t index;   /* the consent entry */
    int64_t recorded; /* the consent entry's "time" */
    bool revoked;
    uint64_t revoke_index; /* the consent.revoke entry, when revoked */
    int64_t revoked_at;    /* the consent.revoke entry's "time", when revoked */
    enum consents_source source;
    char by[CONSENTS_BY_MAX + 1]; /* the enroller's client id for a paper grant; else "" */
};

/*
 * The grants a decision reads (consents_for_decision), as consent.h wants them: categories as
 * bits in the policy's order. Strings point into text. Initialise with consents_set_init and
 * free with consents_set_clear.
 */
struct consents_set {
    size_t n;
    struct consent_grant *grants;
    char *text;
};

/*
 * consents_time_parse reads an RFC 3339 UTC time to the second, exactly "YYYY-MM-DDTHH:MM:SSZ",
 * into *t (seconds since the epoch). Returns ERR_OK or ERR_INVAL (*t = 0).
 */
enum err consents_time_parse(const char *s, int64_t *t);

/* consents_time_format writes t as "YYYY-MM-DDTHH:MM:SSZ" into out. */
void consents_time_format(int64_t t, char out[static CONSENTS_TIME_LEN + 1]);

/* consents_jti_valid is true for 1..CONSENTS_JTI_MAX characters of A-Z a-z 0-9 . _ -. */
bool consents_jti_valid(const char *jti);

/* consents_refusal_name returns the stable name of r ("bad-signature", …); "" for CONSENTS_OK. */
const char *consents_refusal_name(enum consents_refusal r);

/* consents_status_name returns "active", "pending", "expired" or "revoked". */
const char *consents_status_name(enum consents_status s);

/* consents_status returns the status of rec at time now. */
enum consents_status consents_status(const struct consents_record *rec, int64_t now);

/*
 * consents_grant_parse checks the shape of a grant without any state or signature: a compact
 * JWS with header exactly {alg, typ:"consent+jwt", kid} and payload as above. Fills *out and
 * *kid (the header's kid, CONSENTS_JTI_MAX bytes at most). Returns ERR_OK; ERR_INVAL with *why_code
 * CONSENTS_MALFORMED or CONSENTS_BAD_PERIOD and why set; ERR_NOMEM.
 */
enum err consents_grant_parse(const char *jws, size_t len, struct consents_grant *out,
                              enum consents_refusal *why_code, char why[static STATE_WHY_MAX]);

/*
 * consents_grant_check decides whether the grant jws may be recorded now, at time at (the
 * entry's time), against the state in t: its shape, then the signature, the delegation and
 * the jti, as the header comment says. On ERR_OK *out holds the grant. On refusal *why_code
 * names the rule and why holds a sentence; the return is ERR_INVAL (malformed, period,
 * unknown signer), ERR_BADSIG (signature), ERR_AUTH (not delegated, beyond rights) or
 * ERR_CONFLICT (jti). ERR_STORAGE or ERR_NOMEM on failure. Writes nothing.
 */
enum err consents_grant_check(struct store_txn *t, const char *jws, size_t len, int64_t at,
                              struct consents_grant *out, enum consents_refusal *why_code,
                              char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * consents_paper_check is consents_grant_check for a grant taken on paper: paper is the entry's
 * "paper" object (members as the header comment says) and by the enroller's client id. It checks
 * the shape, that by is a registered client with the enroller role and not retired (ERR_AUTH,
 * CONSENTS_NOT_ENROLLER), that sub is enrolled (ERR_INVAL, CONSENTS_PATIENT_UNKNOWN) and that
 * the jti is new (ERR_CONFLICT). On ERR_OK *out holds the grant with iss = sub and iat 0;
 * otherwise *out is zeroed and why_code and why say why. ERR_STORAGE or ERR_NOMEM on failure.
 * Writes nothing.
 */
enum err consents_paper_check(struct store_txn *t, const cJSON *paper, const char *by, int64_t at,
                              struct consents_grant *out, enum consents_refusal *why_code,
                              char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * consents_jti_make writes a new jti for a paper grant: CONSENTS_PAPER_JTI_BYTES from the CSPRNG,
 * base64url without padding (consents_jti_valid accepts it). Unique but for a 2^-128 chance,
 * which consents_paper_check's jti rule catches anyway.
 */
void consents_jti_make(char jti[static CONSENTS_PAPER_JTI_LEN + 1]);

/*
 * consents_revoke_check is consents_grant_check for a revocation: its shape, the signature,
 * then the grant it names (ERR_NOTFOUND if none; ERR_AUTH if it is another person's or a
 * delegate lacks the revoke right over it; ERR_CONFLICT if it is revoked already or the jti is
 * not new). On ERR_OK *out holds the revocation.
 */
enum err consents_revoke_check(struct store_txn *t, const char *jws, size_t len, int64_t at,
                               struct consents_revocation *out, enum consents_refusal *why_code,
                               char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * consents_rights_parse reads a "rights" object into *out. Returns ERR_OK, or ERR_INVAL with
 * why set.
 */
enum err consents_rights_parse(const cJSON *rights, struct consents_rights *out,
                               char why[static STATE_WHY_MAX]);

/*
 * consents_delegation_check decides whether a delegation may be recorded at time at. Give
 * either jws (a person-signed delegation; admin NULL) or admin (the members of an
 * administrator's record: nhs, delegate, rights, relationship, reason, and optionally period
 * and by; jws NULL). On ERR_OK *out holds it. Refusals as consents_grant_check, plus
 * ERR_INVAL (self-delegation, delegate not enrolled) and ERR_CONFLICT (a loop).
 */
enum err consents_delegation_check(struct store_txn *t, const char *jws, size_t len,
                                   const cJSON *admin, int64_t at, struct consents_delegation *out,
                                   enum consents_refusal *why_code,
                                   char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * consents_apply applies a "consent" (a signed {"jws"} or a paper {"paper","by"}),
 * "consent.revoke" or "delegation" entry e at log index index, checking it as above at the
 * entry's "time". Returns ERR_OK; ERR_CONFLICT (a bad
 * signature, a reused jti, a revoked grant, a loop) or ERR_INVAL (anything else refused) with
 * why set and nothing written; ERR_STORAGE.
 */
enum err consents_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                        char why[static STATE_WHY_MAX]);

/*
 * consents_get reads the grant jti with its revocation, signed or on paper (out->source).
 * ERR_NOTFOUND if no grant has that jti (out zeroed); ERR_STORAGE if the store or its entry is
 * damaged.
 */
enum err consents_get(struct store_txn *t, const char *jti, struct consents_record *out);

/* A listing callback sees one grant (borrowed until it returns); anything but ERR_OK stops. */
typedef enum err (*consents_list_fn)(void *ctx, const struct consents_record *rec);

/*
 * consents_list calls fn for every grant about the person nhs, newest (highest log index)
 * first. Returns ERR_OK (also for none), fn's code, ERR_TOOBIG beyond CONSENTS_MAX_GRANTS, or
 * ERR_STORAGE.
 */
enum err consents_list(struct store_txn *t, const char *nhs, consents_list_fn fn, void *ctx);

/*
 * consents_delegated sets *yes if delegate holds a delegation from nhs active at time at (any
 * rights). Returns ERR_OK or ERR_STORAGE.
 */
enum err consents_delegated(struct store_txn *t, const char *nhs, const char *delegate, int64_t at,
                            bool *yes);

/* consents_set_init makes s empty. */
void consents_set_init(struct consents_set *s);

/* consents_set_clear frees what s holds and makes it empty. */
void consents_set_clear(struct consents_set *s);

/*
 * consents_for_decision fills s (which must be empty) with every grant about nhs, in log
 * order, categories as bits in pol's order (a category pol no longer has is left out). The
 * state is current: a grant revoked in the log has revoked_at at most now, so it is never
 * active in a decision at now. Returns ERR_OK, ERR_TOOBIG beyond CONSENTS_MAX_GRANTS, or
 * ERR_STORAGE (s left empty on failure).
 */
enum err consents_for_decision(struct store_txn *t, const struct policy *pol, const char *nhs,
                               int64_t now, struct consents_set *s);

/*
 * consents_org_type copies the organisation type of the registered organisation ods into type.
 * ERR_NOTFOUND if it is not registered; ERR_STORAGE.
 */
enum err consents_org_type(struct store_txn *t, const char *ods,
                           char type[static CONSENTS_NAME_MAX + 1]);

/*
 * consents_enrolled_by sets *yes if the organisation ods enrolled the person nhs: the
 * patient.enrol entry's "by" is a client of ods (an administrator's enrolment has no
 * organisation). *yes is false for a person not enrolled. Returns ERR_OK or ERR_STORAGE.
 */
enum err consents_enrolled_by(struct store_txn *t, const char *nhs, const char *ods, bool *yes);

/*
 * consents_decide gathers what the decision needs from the state and pol (the person's grants,
 * the organisation's type, whether it enrolled the person, the sensitive categories and the
 * implied purpose) and decides req->purpose / categories / actions for the organisation
 * req->org at req->now; req->org_type and req->org_enrolled are filled here. s (empty) keeps
 * the grants the reasons point to until consents_set_clear. Returns ERR_OK with *out;
 * ERR_NOTFOUND if the organisation is not registered; ERR_TOOBIG; ERR_STORAGE.
 */
enum err consents_decide(struct store_txn *t, const struct policy *pol, const char *nhs,
                         struct consent_request *req, char org_type[static CONSENTS_NAME_MAX + 1],
                         struct consents_set *s, struct consent_decision *out);

#endif
