/*
 * audit: the auditor's replay (DESIGN.md §1, §2, §7; docs/auditing.md). It reads a local copy
 * of a log (auditlog.h) in order and checks, without trusting the operator:
 *
 *   - the tree: every entry hashes into the signed root, and every checkpoint the copy ever
 *     saw is consistent with its entries (a checkpoint of the same size with another root, or
 *     one the entries cannot reach, is a fork or a rollback);
 *   - the state: every entry goes through state_apply, the very function the sequencer and
 *     `consentd serve --rebuild` run, into a scratch LMDB environment, so the auditor's state
 *     is the service's by construction; an entry state_apply refuses (a patient signature that
 *     does not verify with the key the log says the signer held then, say) is a finding;
 *   - the rules, at each entry's index against the state as it was just before it: an access
 *     needs a client that is registered, not retired, of the right role under the policy, and
 *     either the grants (or implied rule) the consent decision relies on at that time, exactly
 *     as named, or a break-glass reason; a "by" client must be active; token-signing key
 *     rotations must chain.
 *
 * Each finding names the entry index (or AUDIT_NO_INDEX for a whole checkpoint), a stable rule
 * name and a sentence. Findings are capped at AUDIT_MAX_FINDINGS (the count goes on).
 *
 * THREAD SAFETY: a struct audit belongs to one thread.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/auditlog.h"
#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/policy.h"
#include "consentd/store.h"

#define AUDIT_NO_INDEX     UINT64_MAX
#define AUDIT_RULE_MAX     32
#define AUDIT_TEXT_MAX     600
#define AUDIT_MAX_FINDINGS 1000
#define AUDIT_MAX_OLD_KEYS 100 /* refused signatures tried against the signer's earlier keys */
#define AUDIT_BTG_PURPOSE  "BTG"

struct audit_finding {
    uint64_t index; /* the entry, or AUDIT_NO_INDEX */
    char rule[AUDIT_RULE_MAX];
    char text[AUDIT_TEXT_MAX];
};

/* What a run saw, for the report. */
struct audit_stats {
    uint64_t entries;       /* replayed (or hashed, without a replay) */
    uint64_t checkpoints;   /* kept checkpoints checked */
    uint64_t signed_checks; /* entries whose patient signature was checked (and held) */
    uint64_t accesses;      /* access entries checked against the decision */
    uint64_t break_glass;   /* of which break-glass */
    uint64_t key_rotations; /* key.rotate entries */
    uint64_t findings;      /* all findings, also those past AUDIT_MAX_FINDINGS */
};

struct audit;

/*
 * audit_new starts an audit. With pol (borrowed; it must outlive a), entries are replayed into
 * a scratch LMDB environment made with mkdtemp under $TMPDIR (or /tmp) and checked against the
 * rules; with pol NULL only the tree is checked. Returns ERR_OK with *out (audit_free it);
 * ERR_IO or ERR_STORAGE if the scratch store cannot be made (*out NULL).
 */
enum err audit_new(const struct policy *pol, struct audit **out);

/* audit_free closes the scratch store and removes its directory; NULL is a no-op. */
void audit_free(struct audit *a);

/*
 * audit_apply replays the next entry (its index is the number applied so far): rules, then
 * state_apply, then the scratch log. A refused entry is a finding and is still appended, so
 * later indexes stay right. leaf (when not NULL) gets its leaf hash. Returns ERR_OK (also with
 * findings) or ERR_STORAGE / ERR_NOMEM.
 */
enum err audit_apply(struct audit *a, const uint8_t *entry, size_t len,
                     uint8_t leaf[static HASH_BYTES]);

/* audit_finish commits what audit_apply wrote to the scratch store, so queries see it. */
enum err audit_finish(struct audit *a);

/*
 * audit_run checks the whole copy l: reads every entry (applying each when a has a policy,
 * else only hashing it), compares the root at each kept checkpoint's size with that
 * checkpoint and the final root with l's checkpoint, and, when the entries do not reach the
 * signed root, compares them with the leaf cache to name the entry that was changed, dropped
 * or moved. With until >= 0 it stops before the first entry whose "time" is after until (a
 * state at that moment; the tree is then checked only up to there). Findings are added to a.
 * Returns ERR_OK (also with findings), ERR_IO (why set) or ERR_STORAGE.
 */
enum err audit_run(struct audit *a, const struct auditlog *l, int64_t until,
                   char why[static AUDITLOG_WHY_MAX]);

/*
 * audit_finding_add records a finding about entry index (AUDIT_NO_INDEX: none) under rule,
 * the sentence made from fmt.
 */
void audit_finding_add(struct audit *a, uint64_t index, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* audit_findings returns the findings recorded (borrowed until a is freed) and sets *n. */
const struct audit_finding *audit_findings(const struct audit *a, size_t *n);

/* audit_stats returns the counts so far (borrowed). */
const struct audit_stats *audit_stats(const struct audit *a);

/* audit_size returns the number of entries applied; audit_root writes their Merkle root. */
uint64_t audit_size(const struct audit *a);
void audit_root(const struct audit *a, uint8_t out[static HASH_BYTES]);

/* audit_store returns the scratch store (NULL without a policy), borrowed until audit_free. */
struct store *audit_store(struct audit *a);

/*
 * audit_entry_time reads the "time" of entry[0..len) into *t. Returns ERR_OK or ERR_INVAL if
 * the entry is not JSON with an RFC 3339 "time".
 */
enum err audit_entry_time(const uint8_t *entry, size_t len, int64_t *t);

#endif
