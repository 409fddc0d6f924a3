/*
 * state: the replay function. Entries are parsed strictly even though the sequencer wrote
 * them, because replay also reads logs this process did not write.
 */
#include <stdio.h>
#include <string.h>

#include "consentd/access.h"
#include "consentd/clients.h"
#include "consentd/consents.h"
#include "consentd/jstrict.h"
#include "consentd/patients.h"
#include "consentd/pointers.h"
#include "consentd/state.h"
#include "consentd/tokenkeys.h"
#include "consentd/trail.h"

bool
state_ods_valid(const char *ods)
{
    size_t n = strlen(ods), i;

    if (n < 3 || n > 10)
        return false;
    for (i = 0; i < n; i++)
        if (!((ods[i] >= 'A' && ods[i] <= 'Z') || (ods[i] >= '0' && ods[i] <= '9')))
            return false;
    return true;
}

static enum err
state_apply_org(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                char why[static STATE_WHY_MAX])
{
    const cJSON *ods = cJSON_GetObjectItemCaseSensitive(e, "ods");
    uint8_t val[8];
    enum err rc;

    (void)type;
    if (!cJSON_IsString(ods) || !state_ods_valid(ods->valuestring)) {
        snprintf(why, STATE_WHY_MAX, "an org entry needs an \"ods\" code of 3-10 A-Z and 0-9");
        return ERR_INVAL;
    }
    store_u64_key(index, val);
    rc = store_put(t, STORE_ORGS, ods->valuestring, strlen(ods->valuestring), val, sizeof(val),
                   true, false);
    if (rc == ERR_CONFLICT)
        snprintf(why, STATE_WHY_MAX, "organisation %s is already registered", ods->valuestring);
    return rc;
}

/*
 * Every entry type and the function that applies it; each module owns its types. A type that
 * is not here is refused, so a replay of a newer log fails loudly rather than silently.
 */
static const struct {
    const char *type;
    enum err (*apply)(struct store_txn *t, uint64_t index, const char *type, const cJSON *e,
                      char why[static STATE_WHY_MAX]);
} state_types[] = {
    {"org", state_apply_org},
    /* entry types: clients */
    {"client", clients_apply},
    {"client.retire", clients_apply},
    /* entry types: patients */
    {"patient.enrol", patients_apply},
    {"patient.key", patients_apply},
    {"identity.link", patients_apply},
    /* entry types: pointers */
    {"pointer", pointers_apply},
    {"pointer.retire", pointers_apply},
    /* entry types: consents */
    {"consent", consents_apply},
    {"consent.revoke", consents_apply},
    {"delegation", consents_apply},
    /* entry types: access */
    {"access", access_apply},
    /* entry types: token keys */
    {"key.rotate", tokenkeys_apply},
};

enum err
state_apply(struct store_txn *t, uint64_t index, const uint8_t *entry, size_t len,
            char why[static STATE_WHY_MAX])
{
    const char *jwhy = NULL;
    const cJSON *type, *v;
    cJSON *e = NULL;
    enum err rc;
    size_t i;

    why[0] = '\0';
    rc = jstrict_parse((const char *)entry, len, &e, &jwhy);
    if (rc != ERR_OK) {
        snprintf(why, STATE_WHY_MAX, "entry is not a valid JSON object: %s",
                 jwhy != NULL ? jwhy : err_str(rc));
        return rc == ERR_NOMEM ? rc : ERR_INVAL;
    }
    v = cJSON_GetObjectItemCaseSensitive(e, "v");
    type = cJSON_GetObjectItemCaseSensitive(e, "type");
    if (!cJSON_IsNumber(v) || v->valuedouble != 1 || !cJSON_IsString(type)) {
        snprintf(why, STATE_WHY_MAX, "entry needs \"v\":1 and a \"type\"");
        rc = ERR_INVAL;
        goto out;
    }
    for (i = 0; i < sizeof(state_types) / sizeof(state_types[0]); i++)
        if (strcmp(type->valuestring, state_types[i].type) == 0)
            break;
    if (i == sizeof(state_types) / sizeof(state_types[0])) {
        snprintf(why, STATE_WHY_MAX, "unknown entry type \"%.32s\"", type->valuestring);
        rc = ERR_INVAL;
        goto out;
    }
    rc = state_types[i].apply(t, index, type->valuestring, e, why);
    /* Then, for every type, which person the entry is about (a person reads their own). */
    if (rc == ERR_OK)
        rc = trail_apply(t, index, type->valuestring, e);
out:
    cJSON_Delete(e);
    return rc;
}

enum err
state_org_index(struct store_txn *t, const char *ods, uint64_t *index)
{
    const void *val;
    size_t len;
    enum err rc;

    *index = 0;
    rc = store_get(t, STORE_ORGS, ods, strlen(ods), &val, &len);
    if (rc != ERR_OK)
        return rc;
    return store_u64_val(val, len, index);
}
