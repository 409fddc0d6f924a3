/*
 * tokenkeys: the token-signing keys the log records (DESIGN.md §2 "key.rotate"): the state
 * derived from "key.rotate" entries, the rule for when the key may rotate, and the names of the
 * key files in the data directory.
 *
 * A "key.rotate" entry has exactly these members beyond v, type and time:
 *   added    the new key: {"kty":"OKP","crv":"Ed25519","x":…,"kid":…}, public only;
 *   retired  the key it replaces, in the same form.
 * Each kid must be keys_kid of its x. The added key must never have been seen (neither added nor
 * retired by an earlier entry, nor the key this entry retires). The retired key must be the key
 * the previous key.rotate entry added; the first entry retires the key `consentd init` made,
 * which no entry names, so any key is accepted there. The entry's time is when the retired key
 * was retired.
 *
 * STORE_TOKEN_KEYS maps a kid (KEYS_KID_LEN bytes) to the public key (32 bytes) ‖ the time it
 * was retired (8 bytes big-endian, seconds; 0 while current), and TOKENKEYS_CURRENT (shorter
 * than any kid) to the current kid ‖ the kid it replaced (2 × KEYS_KID_LEN bytes). No record
 * means the key has never rotated: the current key is the one in CONFIG_TOKEN_KEY_NAME.
 *
 * A retired key is published, and accepted, until tokenkeys_published_until(retired at): by then
 * every token it signed has expired. The key may rotate again only after that, so there are at
 * most two token keys at a time. That rule is the sequencer check's (tokenkeys_may_rotate), not
 * the replay's: the state must not depend on a lifetime a later version may change.
 *
 * THREAD SAFETY: tokenkeys_apply and tokenkeys_may_rotate in the sequencer's transaction only;
 * tokenkeys_get in any transaction; the rest are reentrant.
 */
#ifndef TOKENKEYS_H
#define TOKENKEYS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/keys.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define TOKENKEYS_CURRENT  "current"
#define TOKENKEYS_FILE_FMT "token-%s.key" /* the key file of a key added by rotation: its kid */
#define TOKENKEYS_FILE_MAX (sizeof(TOKENKEYS_FILE_FMT) + KEYS_KID_LEN) /* bytes with the NUL */

/* The token keys as the log records them, after at least one key.rotate entry. */
struct tokenkeys_state {
    char current[KEYS_KID_LEN + 1];
    uint8_t current_pk[KEYS_PUBLIC_BYTES];
    char retired[KEYS_KID_LEN + 1]; /* the key the latest entry retired */
    uint8_t retired_pk[KEYS_PUBLIC_BYTES];
    int64_t retired_at; /* the latest entry's time, seconds since the epoch */
};

/*
 * tokenkeys_apply applies a "key.rotate" entry e at log index index. Returns ERR_OK; ERR_INVAL
 * (a malformed entry) or ERR_CONFLICT (an added key seen before, a retired key that is not the
 * current one) with why set and nothing written; ERR_STORAGE.
 */
enum err tokenkeys_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                         char why[static STATE_WHY_MAX]);

/*
 * tokenkeys_get reads the token keys the log records into *out. Returns ERR_OK; ERR_NOTFOUND
 * if no key.rotate entry has been applied; ERR_STORAGE (also for a record of the wrong size).
 * *out is zeroed on failure.
 */
enum err tokenkeys_get(struct store_txn *t, struct tokenkeys_state *out);

/*
 * tokenkeys_published_until returns the time until which a key retired at retired_at is
 * published and accepted: retired_at + POLICY_MAX_LIFETIME + TOKEN_LEEWAY.
 */
int64_t tokenkeys_published_until(int64_t retired_at);

/*
 * tokenkeys_may_rotate decides, at the sequencer's time now, whether a key.rotate entry
 * retiring the key retired_kid may be appended: the key must still be the current one, and the
 * key retired before it must no longer be published. Returns ERR_OK; ERR_CONFLICT with a
 * sentence in why saying which, and when a rotation can be done; ERR_STORAGE.
 */
enum err tokenkeys_may_rotate(struct store_txn *t, const char *retired_kid, int64_t now,
                              char why[static STATE_WHY_MAX]);

/*
 * tokenkeys_fields writes the members of a key.rotate entry adding the public key added and
 * retiring retired, as JSON text without braces (for a write's fields). *out is malloc'd
 * (caller frees), NULL on failure; *len is its length. Returns ERR_OK or ERR_NOMEM.
 */
enum err tokenkeys_fields(const uint8_t added[static KEYS_PUBLIC_BYTES],
                          const uint8_t retired[static KEYS_PUBLIC_BYTES], char **out, size_t *len);

/*
 * tokenkeys_file_name writes the name, in the data directory, of the private key file of the
 * key kid: TOKENKEYS_FILE_FMT with the kid, or CONFIG_TOKEN_KEY_NAME when kid is NULL (the key
 * `consentd init` made).
 */
void tokenkeys_file_name(const char *kid, char out[static TOKENKEYS_FILE_MAX]);

#endif
