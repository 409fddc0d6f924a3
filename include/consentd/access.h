/*
 * access: the access trail (DESIGN.md §1, §2): the state derived from "access" entries, one per
 * consent-checked access token, appended before the token is given out; and the side table of
 * tokens revoked early (RFC 7009).
 *
 * An "access" entry has exactly these members beyond v, type and time:
 *   jti        the token's id (1..ACCESS_JTI_MAX of A-Z a-z 0-9 . _ -), unique in the log;
 *   client_id  the requesting client; org its organisation's ODS code;
 *   nhs        the person whose records the token covers (a valid NHS number);
 *   purpose    a PurposeOfUse code; datatypes 1..ACCESS_MAX_NAMES data category names;
 *   grants     what the decision relied on (1..ACCESS_MAX_GRANTS): {"jti","log_index"} for a
 *              grant, {"rule":"implied"} for the policy's implied rule; or, instead of grants,
 *   break_glass {"reason"} (1..ACCESS_REASON_MAX bytes, no control characters) for a
 *              break-glass access, whose purpose is then ACCESS_BTG: no consent was relied on;
 *   aud        the token's audience: the issuer, then the custodians' endpoints (strings);
 *   iat, exp   whole seconds, exp after iat.
 * Names are checked for their shape only, as in consents.h: the state must not depend on the
 * policy loaded.
 *
 * Tables. STORE_ACCESS maps a jti to the entry's log index (8 bytes, big-endian);
 * STORE_ACCESS_BY_NHS maps nhs ‖ '/' ‖ log index (8, BE) to an empty value, so a person's
 * accesses list in log order. STORE_REVOKED (a side table, never in the log, not rebuilt by a
 * replay) maps a revoked token's jti to its exp (8, BE) until it has expired.
 *
 * Nothing here logs: entries name people.
 *
 * THREAD SAFETY: access_apply and access_revoke run in the sequencer's transaction only; the
 * readers in any transaction.
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/nhs.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define ACCESS_JTI_MAX    128
#define ACCESS_MAX_NAMES  32    /* datatypes of an entry */
#define ACCESS_MAX_GRANTS 256   /* grants of an entry */
#define ACCESS_MAX_AUD    17    /* the issuer and at most 16 custodian endpoints */
#define ACCESS_MAX_LIST   10000 /* a person's accesses a listing reads */
#define ACCESS_RULE       "implied"
#define ACCESS_BTG        "BTG" /* the PurposeOfUse of a break-glass access ("break the glass") */
#define ACCESS_REASON_MAX 512   /* a break-glass reason, bytes */

/*
 * access_apply applies an "access" entry e at log index index. Returns ERR_OK; ERR_INVAL (a
 * malformed entry) or ERR_CONFLICT (a jti already in the log) with why set and nothing
 * written; ERR_STORAGE.
 */
enum err access_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                      char why[static STATE_WHY_MAX]);

/*
 * access_get sets *index to the log index of the access entry of token jti. ERR_NOTFOUND if
 * there is none (*index 0); ERR_STORAGE.
 */
enum err access_get(struct store_txn *t, const char *jti, uint64_t *index);

/* A listing callback sees one access entry (borrowed until it returns); non-ERR_OK stops. */
typedef enum err (*access_list_fn)(void *ctx, uint64_t index, const cJSON *entry);

/*
 * access_reason_valid is true for a break-glass reason: 1..ACCESS_REASON_MAX bytes of UTF-8
 * (checked by the JSON parser) with no control characters.
 */
bool access_reason_valid(const char *s);

/*
 * access_list calls fn for every access entry about the person nhs, newest (highest log index)
 * first. Returns ERR_OK (also for none), fn's code, ERR_TOOBIG beyond ACCESS_MAX_LIST, ERR_NOMEM
 * or ERR_STORAGE.
 */
enum err access_list(struct store_txn *t, const char *nhs, access_list_fn fn, void *ctx);

/*
 * access_revoke records, at the sequencer's time now, that token jti (expiring at exp) is
 * revoked, and first forgets revoked tokens that have expired (exp + TOKEN_LEEWAY <= now), so
 * the table holds only tokens still alive. A token already expired is not recorded. Returns
 * ERR_OK (also when it was revoked already), ERR_INVAL for a malformed jti, ERR_NOMEM or
 * ERR_STORAGE.
 */
enum err access_revoke(struct store_txn *t, const char *jti, int64_t exp, int64_t now);

/* access_revoked sets *yes if token jti was revoked. Returns ERR_OK or ERR_STORAGE. */
enum err access_revoked(struct store_txn *t, const char *jti, bool *yes);

/*
 * access_token_live decides whether a consent-checked token whose signature and times were
 * checked (token_check_access; claims is its payload) is still live at now: its jti has an
 * access entry at its log_index, it was not revoked (access_revoked), and every grant named in
 * its authorization_details[].grants is active now (consents_get: not revoked, not expired),
 * and its claims say no more than the entry (the same client_id, iat, exp and aud; in every
 * object the entry's purpose, only its datatypes and only grants it names).
 * Sets *live, and nhs (when not NULL) to the access entry's person. Returns ERR_OK (also when
 * not live; nhs "" then) or ERR_STORAGE.
 */
enum err access_token_live(struct store_txn *t, const cJSON *claims, int64_t now, bool *live,
                           char nhs[static NHS_LEN + 1]);

/*
 * access_entry_get reads the access entry at log index index (*out: caller frees with
 * cJSON_Delete). ERR_NOTFOUND if there is no entry there or it is not an access entry (*out
 * NULL); ERR_STORAGE.
 */
enum err access_entry_get(struct store_txn *t, uint64_t index, cJSON **out);

#endif
