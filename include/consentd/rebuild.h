/*
 * rebuild: derive the state afresh from the log and compare it with the stored state, table by
 * table and byte for byte (DESIGN.md §1: "rebuilding the state from the log must give the same
 * state"). The side tables (enrolment codes, seen jtis) are not derived from the log and are not
 * compared.
 *
 * THREAD SAFETY: run it while nothing else writes to the live store (before serving).
 */
#ifndef REBUILD_H
#define REBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/store.h"

/*
 * rebuild_compare replays every entry of live's log through state_apply (appending it too,
 * since state functions read earlier entries) into a new store in
 * scratch_dir (which must not exist; it is removed afterwards) and compares the state tables.
 * Returns ERR_OK when they are identical; ERR_CONFLICT when they differ or an entry is refused,
 * with a sentence in report (report_cap bytes) naming the first difference; ERR_STORAGE or
 * ERR_IO on failure. *entries gets the number of entries replayed.
 */
enum err rebuild_compare(struct store *live, const char *scratch_dir, char *report,
                         size_t report_cap, uint64_t *entries);

/*
 * rebuild_compare_stores compares the state tables of stored and rebuilt, both ways, as
 * rebuild_compare does after its replay (the auditor compares its own replay with a data
 * directory through it). Returns ERR_OK when identical; ERR_CONFLICT with a sentence in
 * report naming the first difference; ERR_STORAGE.
 */
enum err rebuild_compare_stores(struct store *stored, struct store *rebuilt, char *report,
                                size_t report_cap);

/* rebuild_remove removes the scratch directory dir and the files in it. */
void rebuild_remove(const char *dir);

#endif
