/*
 * clients: care providers' systems registered as OAuth clients (DESIGN.md §3): the state
 * derived from "client" and "client.retire" entries, and reading it. A client has an id, the
 * ODS code of its organisation, a public JWK (OKP Ed25519, RSA, or EC P-256 or P-384, as
 * crypto/pkey.c reads it), and roles from the policy.
 *
 * STORE_CLIENTS maps a client id to a record of two 8-byte big-endian log indexes: the client
 * entry, and the client.retire entry (0 while active; index 0 is never a retire entry, since
 * the client entry comes first). Everything else is read from the entry itself.
 *
 * THREAD SAFETY: clients_apply in the sequencer's transaction only; readers in any.
 */
#ifndef CLIENTS_H
#define CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "consentd/err.h"
#include "consentd/keys.h"
#include "consentd/pkey.h"
#include "consentd/state.h"
#include "consentd/store.h"

#define CLIENTS_ID_MAX  64 /* 1..64 of A-Z a-z 0-9 . _ - */
#define CLIENTS_ODS_MAX 10
#define CLIENTS_JWK_MAX 2048 /* bytes of a registered JWK's JSON text: an 8192-bit RSA key fits */

struct clients_client {
    char client_id[CLIENTS_ID_MAX + 1];
    char org[CLIENTS_ODS_MAX + 1];
    /*
     * 32 bytes that name the registered key: an Ed25519 key itself; for an RSA or EC key its
     * RFC 7638 thumbprint. Use clients_key to verify with it.
     */
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char jwk[CLIENTS_JWK_MAX + 1]; /* the registered public JWK, as the entry holds it */
    unsigned roles;                /* enum policy_role bits */
    bool retired;
    uint64_t index;        /* the client entry */
    uint64_t retire_index; /* the client.retire entry, when retired */
};

/* clients_id_valid is true for a well-formed client id. */
bool clients_id_valid(const char *id);

/*
 * clients_apply applies a "client" or "client.retire" entry e (type is its type) at log index
 * index. A client needs a known organisation and a new id; a retirement an active client.
 * Returns ERR_OK, ERR_CONFLICT or ERR_INVAL (why set, nothing written), or ERR_STORAGE.
 */
enum err clients_apply(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                       char why[static STATE_WHY_MAX]);

/* clients_get reads client id. ERR_NOTFOUND if never registered; retired ones are returned. */
enum err clients_get(struct store_txn *t, const char *id, struct clients_client *out);

/*
 * clients_key makes the key of cl's registered JWK, to verify the client's assertions with
 * (pkey_free it). Returns ERR_OK; ERR_STORAGE if the JWK read from the log is no longer a
 * valid key; ERR_NOMEM. *out is NULL on failure.
 */
enum err clients_key(const struct clients_client *cl, struct pkey **out) ERR_WUR;

#endif
