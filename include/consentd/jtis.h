/*
 * jtis: the assertion jtis already used, so that each client assertion and each patient's
 * JWT-bearer grant is accepted once (RFC 7523 §3; SMART Backend Services: a jti is not accepted
 * twice from the same issuer while the assertion could still be valid), also after a restart.
 *
 * Each use is remembered durably in STORE_JTI, a side table written only at its end: the key is
 * a sequence number (8 bytes big-endian, increasing in the order uses were accepted), the value
 * the assertion's exp (8 bytes big-endian) ‖ who ‖ 0x00 ‖ jti. Remembering a jti therefore
 * dirties the table's last page, where a table keyed by jti would dirty a random page of a
 * B-tree of every live jti for each token (docs/PERFORMANCE.md). To find a jti, an in-memory
 * open-addressing table maps a keyed hash (hash_short, secret per process) of who ‖ 0x00 ‖ jti
 * to the sequence number and the exp, and every match is confirmed by reading that sequence
 * number's record in the transaction: so a memory slot left by a use whose transaction was
 * rolled back, or a hash collision, can never refuse an assertion wrongly or let one through
 * twice. Slots expire with their assertion, rolled-back ones included. The memory table is
 * rebuilt from STORE_JTI by jtis_open.
 *
 * A record is forgotten once its assertion can no longer be accepted
 * (exp + TOKEN_LEEWAY <= now): each use first forgets up to JTIS_PURGE_STEP of the oldest
 * records that have, stopping at the first that has not, so the work per use is bounded and the
 * table holds the uses of the last ASSERTION_MAX_AHEAD + TOKEN_LEEWAY seconds, plus those behind
 * a longer-lived one accepted before them (at most ASSERTION_MAX_AHEAD seconds more).
 *
 * The memory table holds at most the max_live uses given to jtis_open, in at most 2 × max_live
 * slots of 16 bytes (JTIS_MIN_SLOTS at first, doubled as needed); a use beyond that is
 * refused as a temporary condition (ERR_UNAVAIL), never by forgetting a live jti.
 *
 * THREAD SAFETY: jtis_use runs in the sequencer's write transaction only (from a write's check),
 * so uses are decided in log order and are durable before a token is given out; jtis_open and
 * jtis_free before the sequencer starts and after it stops.
 */
#ifndef JTIS_H
#define JTIS_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/assertion.h"
#include "consentd/err.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define JTIS_MIN_SLOTS  4096       /* the memory table's first size */
#define JTIS_PURGE_STEP 64         /* records forgotten at most per use */
#define JTIS_MAX_LIVE   (1u << 22) /* the service's max_live: 128 MiB of slots at most */

struct jtis;

/*
 * jtis_open reads every record of STORE_JTI in s that can still be accepted at now into a new
 * memory table for at most max_live (at least 1) uses. Returns ERR_OK with *out
 * set (free with jtis_free); ERR_STORAGE for a malformed record or a failed read (logged);
 * ERR_TOOBIG if more than max_live records are live. *out is NULL on failure.
 */
enum err jtis_open(struct store *s, int64_t now, size_t max_live, struct jtis **out) ERR_WUR;

/* jtis_free frees j. NULL is a no-op. */
void jtis_free(struct jtis *j);

/*
 * jtis_use records, in the write transaction t, that who (a client id, or
 * ASSERTION_PATIENT_PREFIX ‖ NHS number) used jti in an assertion that expires at exp, at the
 * sequencer's time now, after forgetting expired records as above. Returns ERR_OK; ERR_AUTH
 * (why set) if the assertion has expired by now; ERR_CONFLICT (why set) if who used jti already;
 * ERR_INVAL (why set) for an empty or too long who (ASSERTION_WHO_MAX) or jti
 * (ASSERTION_JTI_MAX), or a negative exp; ERR_UNAVAIL (why
 * set) when max_live uses are live; ERR_STORAGE. On any failure the caller aborts t's nested
 * transaction, and nothing is remembered.
 */
enum err jtis_use(struct jtis *j, struct store_txn *t, const char *who, const char *jti,
                  int64_t exp, int64_t now, char why[static STATE_WHY_MAX]) ERR_WUR;

/* jtis_live returns how many uses the memory table holds (tests and metrics). */
size_t jtis_live(const struct jtis *j);

#endif
