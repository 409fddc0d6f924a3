/*
 * state: the state tables derived from the log, and the one deterministic function that
 * derives them. The sequencer calls state_apply on every entry before appending it, and a
 * replay calls it on every entry of the log in order; both must reach the same state.
 *
 * THREAD SAFETY: state_apply runs in the sequencer's write transaction only; the readers take
 * any read transaction.
 */
#ifndef STATE_H
#define STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/store.h"

#define STATE_WHY_MAX 256

/*
 * state_apply checks entry[0..len), about to be (or already) at log index index, against the
 * state in t and, if it is allowed, updates the state. Returns ERR_OK; ERR_CONFLICT or
 * ERR_INVAL with a sentence in why (STATE_WHY_MAX bytes) if the entry is not allowed, in which
 * case nothing was written; ERR_STORAGE on a store failure.
 */
enum err state_apply(struct store_txn *t, uint64_t index, const uint8_t *entry, size_t len,
                     char why[static STATE_WHY_MAX]);

/* state_ods_valid is true for an ODS organisation code: 3 to 10 characters of A-Z and 0-9. */
bool state_ods_valid(const char *ods);

/* state_org_index sets *index to the log index of organisation ods's entry; ERR_NOTFOUND. */
enum err state_org_index(struct store_txn *t, const char *ods, uint64_t *index);

#endif
