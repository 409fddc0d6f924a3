/*
 * pointers: the record index (DESIGN.md §2, §6): the state derived from "pointer" and
 * "pointer.retire" entries. A pointer says where one of a person's records is held: the
 * custodian organisation, a data category from the policy, a record type (SNOMED CT code the
 * category covers), a URL and a content type. It never holds the record itself.
 *
 * THREAD SAFETY: pointers_apply in the sequencer's transaction only; readers in any.
 */
#ifndef POINTERS_H
#define POINTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/state.h"
#include "consentd/store.h"

/*
 * pointers_apply applies a "pointer" or "pointer.retire" entry e at log index index. Returns
 * ERR_OK, ERR_CONFLICT or ERR_INVAL (why set, nothing written), or ERR_STORAGE.
 */
enum err pointers_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                        char why[static STATE_WHY_MAX]);

#endif
