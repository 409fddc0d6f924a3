/*
 * trail: which log entries are about which person, so that a person can read (and prove to
 * themself, with an inclusion proof) every entry about them, byte for byte (DESIGN.md §1).
 *
 * An entry is about the person its type names:
 *   patient.enrol, patient.key, identity.link, pointer, access   its "nhs";
 *   pointer.retire                                              the retired pointer's person;
 *   consent, consent.revoke                                     the JWS payload's "sub" (or the
 *                                                               paper grant's "sub");
 *   delegation                                                  the JWS payload's "sub" (or the
 *                                                               admin's "nhs").
 * Every other type (org, client, client.retire, key changes of the service) is about nobody.
 *
 * STORE_TRAIL maps NHS number ‖ '/' ‖ log index (8 bytes, big-endian) to an empty value, so a
 * person's entries list in log order. trail_apply runs after the entry's own module applied it
 * (state_apply), so the entry is already known to be well formed and the state it refers to
 * (a retired pointer) is there.
 *
 * Nothing here logs: entries name people.
 *
 * THREAD SAFETY: trail_apply runs in the sequencer's transaction only; trail_list in any.
 */
#ifndef TRAIL_H
#define TRAIL_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/nhs.h"
#include "consentd/store.h"

/*
 * trail_subject writes into nhs the person entry e (of type type) is about. Returns ERR_OK;
 * ERR_NOTFOUND (nhs "") when the entry is about nobody, or names no valid NHS number where its
 * type should; ERR_STORAGE when a pointer.retire names a pointer the state does not hold.
 */
enum err trail_subject(struct store_txn *t, const char *type, const cJSON *e,
                       char nhs[static NHS_LEN + 1]);

/*
 * trail_apply records that entry e (of type type) at log index index is about its person, if
 * it is about one. Returns ERR_OK (also when it is about nobody) or ERR_STORAGE.
 */
enum err trail_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e);

/*
 * A listing callback sees one entry about the person: its log index and exact bytes (borrowed
 * until it returns). It returns ERR_OK to go on, ERR_EXISTS to stop (trail_list then returns
 * ERR_OK), anything else to fail.
 */
typedef enum err (*trail_list_fn)(void *ctx, uint64_t index, const uint8_t *entry, size_t len);

/*
 * trail_list calls fn for every entry about the person nhs at log index from or later, in log
 * order. Returns ERR_OK (also for none, or an invalid nhs), fn's code, or ERR_STORAGE (an
 * index naming no entry).
 */
enum err trail_list(struct store_txn *t, const char *nhs, uint64_t from, trail_list_fn fn,
                    void *ctx);

#endif
