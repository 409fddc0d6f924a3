/*
 * pointers: the record index (DESIGN.md §2, §6): the state derived from "pointer" and
 * "pointer.retire" entries. A pointer says where one of a person's records is held: the
 * custodian organisation, a data category from the policy, a record type (SNOMED CT code the
 * category covers), a URL and a content type. It never holds the record itself.
 *
 * A "pointer" entry has "id", "nhs", "custodian" (ODS code), "category", "record_type"
 * ({"system", "code", "display"}; not "type", which is the entry's own type), "url",
 * "content_type" and optionally "supersedes" (the id of an active pointer of the same custodian
 * and person, which it replaces). A "pointer.retire" entry has
 * "id", "custodian" and "reason". A pointer ends once: retired or superseded, never both.
 *
 * STORE_POINTERS maps a pointer id to a record of POINTERS_RECORD bytes:
 *
 *   [0, 8)   the pointer entry's log index, big-endian
 *   [8, 16)  the pointer.retire entry's log index, big-endian; 0 while not retired (index 0
 *            is never a retire entry, since the pointer entry comes first)
 *   [16, 26) the person's NHS number, ten ASCII digits
 *   [26, 36) the custodian's ODS code, ASCII, NUL-padded
 *   [36, 58) the id of the pointer that superseded it, or 22 NUL bytes
 *
 * The NHS number and custodian are in the record, not only in the entry, so that applying an
 * entry needs no read of the log (a replay, consentd serve --rebuild, appends each entry to its
 * scratch store as it goes, so other modules may read earlier entries). Everything else is
 * read from the entry itself.
 *
 * STORE_BY_NHS maps NHS number ‖ '/' ‖ pointer id to an empty value: a person's pointers in id
 * order, active or not.
 *
 * Ids are made by the server: POINTERS_ID_BYTES random bytes in unpadded base64url, drawn
 * again while the text holds '_', so that an id is also a valid FHIR resource id
 * ([A-Za-z0-9.-]{1,64}).
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
#include "consentd/nhs.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define POINTERS_ID_BYTES     16
#define POINTERS_ID_LEN       22 /* unpadded base64url of POINTERS_ID_BYTES */
#define POINTERS_ODS_MAX      10
#define POINTERS_CATEGORY_MAX 64
#define POINTERS_SYSTEM_MAX   256
#define POINTERS_CODE_MAX     64
#define POINTERS_DISPLAY_MAX  256
#define POINTERS_URL_MAX      2048
#define POINTERS_CTYPE_MAX    255
#define POINTERS_REASON_MAX   500
#define POINTERS_TIME_MAX     39
#define POINTERS_RECORD       58

struct pointers_pointer {
    char id[POINTERS_ID_LEN + 1];
    char nhs[NHS_LEN + 1];
    char custodian[POINTERS_ODS_MAX + 1];
    char category[POINTERS_CATEGORY_MAX + 1];
    char type_system[POINTERS_SYSTEM_MAX + 1];
    char type_code[POINTERS_CODE_MAX + 1];
    char type_display[POINTERS_DISPLAY_MAX + 1];
    char url[POINTERS_URL_MAX + 1];
    char content_type[POINTERS_CTYPE_MAX + 1];
    char supersedes[POINTERS_ID_LEN + 1];    /* "" unless it replaced another pointer */
    char created[POINTERS_TIME_MAX + 1];     /* the pointer entry's "time" */
    uint64_t index;                          /* the pointer entry */
    uint64_t retire_index;                   /* the pointer.retire entry, or 0 */
    char superseded_by[POINTERS_ID_LEN + 1]; /* "" unless another pointer replaced it */
    bool active;                             /* neither retired nor superseded */
};

/* pointers_id_valid is true for an id pointers_id_new could have made. */
bool pointers_id_valid(const char *id);

/* pointers_id_new writes a new random pointer id and a NUL into id. */
void pointers_id_new(char id[static POINTERS_ID_LEN + 1]);

/*
 * pointers_url_valid is true for an absolute https URL of at most POINTERS_URL_MAX bytes with a
 * host and no credentials or fragment; http is allowed only on loopback hosts (127.0.0.1,
 * localhost, ::1), for development.
 */
bool pointers_url_valid(const char *url);

/*
 * pointers_content_type_valid is true for a MIME type of at most POINTERS_CTYPE_MAX bytes:
 * type "/" subtype (RFC 6838 restricted names), optionally followed by parameters
 * "; name=value" with token names and values ("application/pdf", "text/html; charset=utf-8").
 */
bool pointers_content_type_valid(const char *ct);

/*
 * pointers_apply applies a "pointer" or "pointer.retire" entry e at log index index. Returns
 * ERR_OK, ERR_CONFLICT (a known id; a pointer already retired or superseded) or ERR_INVAL (a
 * malformed entry, an unknown pointer, another custodian's or another person's pointer), with
 * why set and nothing written, or ERR_STORAGE.
 */
enum err pointers_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                        char why[static STATE_WHY_MAX]);

/*
 * pointers_check_end decides whether custodian may end pointer id now: retire it (nhs NULL) or
 * supersede it with a new pointer for the person nhs. Returns ERR_OK; ERR_NOTFOUND if there is
 * no such pointer; ERR_AUTH if another custodian published it; ERR_INVAL if it is another
 * person's (superseding only); ERR_CONFLICT if it is already retired or superseded. why gets a
 * sentence (never an NHS number) on every failure. Runs in any transaction; pointers_apply
 * calls it too, so a write that passed it in the sequencer's transaction is applied.
 */
enum err pointers_check_end(struct store_txn *t, const char *id, const char *custodian,
                            const char *nhs, char why[static STATE_WHY_MAX]) ERR_WUR;

/*
 * pointers_get reads pointer id, active or not, with the fields of its entry. ERR_NOTFOUND if
 * there is none; ERR_STORAGE if the store or the entry is broken. out is zeroed on failure.
 */
enum err pointers_get(struct store_txn *t, const char *id, struct pointers_pointer *out);

/*
 * pointers_person writes the NHS number of the person pointer id is about into nhs, reading
 * only the state (no log entry, so a replay without a log can call it). ERR_NOTFOUND if there
 * is no such pointer (nhs ""); ERR_STORAGE.
 */
enum err pointers_person(struct store_txn *t, const char *id, char nhs[static NHS_LEN + 1]);

/*
 * A listing callback sees one pointer (borrowed until it returns). Anything but ERR_OK stops
 * the listing, and pointers_list returns it.
 */
typedef enum err (*pointers_list_fn)(void *ctx, const struct pointers_pointer *p);

/*
 * pointers_list calls fn for each pointer of the person nhs, in id order, skipping ended ones
 * when active_only. Returns ERR_OK (also for a person with none), fn's code, or ERR_STORAGE.
 */
enum err pointers_list(struct store_txn *t, const char *nhs, bool active_only, pointers_list_fn fn,
                       void *ctx);

#endif
