/*
 * patients: people and their keys (DESIGN.md §3): the state derived from "patient.enrol",
 * "patient.key" and "identity.link" entries; the one-time enrolment codes (a side table: only
 * their SHA-256 is stored, never the code, and never in the log); and resolving an identifier
 * ("<NHS number>" or "<system>|<value>") to an NHS number.
 *
 * THREAD SAFETY: patients_apply and the code functions that write run in the sequencer's
 * transaction only; readers in any.
 */
#ifndef PATIENTS_H
#define PATIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/keys.h"
#include "consentd/nhs.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define PATIENTS_IDENT_MAX 256 /* "<system>|<value>", bytes */

struct patients_patient {
    char nhs[NHS_LEN + 1];
    uint8_t pk[KEYS_PUBLIC_BYTES]; /* the current key */
    char kid[KEYS_KID_LEN + 1];
    uint64_t enrol_index; /* the patient.enrol entry */
    uint64_t key_index;   /* the entry that set the current key */
};

/*
 * patients_apply applies a "patient.enrol", "patient.key" or "identity.link" entry e at log
 * index index. Returns ERR_OK, ERR_CONFLICT or ERR_INVAL (why set, nothing written), or
 * ERR_STORAGE.
 */
enum err patients_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                        char why[static STATE_WHY_MAX]);

/* patients_get reads the person with NHS number nhs. ERR_NOTFOUND if not enrolled. */
enum err patients_get(struct store_txn *t, const char *nhs, struct patients_patient *out);

/*
 * patients_resolve turns an identifier (an NHS number, or "system|value" that was linked) into
 * an NHS number. Returns ERR_OK; ERR_INVAL (why set) for a malformed one or an NHS number that
 * fails Modulus 11; ERR_NOTFOUND (why set) for a system|value never linked.
 */
enum err patients_resolve(struct store_txn *t, const char *ident, char nhs[static NHS_LEN + 1],
                          char why[static STATE_WHY_MAX]);

#endif
