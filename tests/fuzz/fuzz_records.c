/*
 * fuzz_records: the readers of the state tables (RELIABILITY C1 (6), "the LMDB value decoder")
 * on damaged values: a store holding a real log (FZ_LOG, which tests/fuzz/seeds.sh writes) has
 * one record or log entry replaced, changed or removed by the input, and then every reader is
 * asked about everyone the log names, as handlers, the token endpoint's decision and a replay
 * would ask. A store file is not signed (row A9): a reader must refuse what it cannot read,
 * never crash or read out of bounds. Everything is undone after each input.
 *
 * The input is an edit: byte 0 chooses it (0 replace a value, 1 replace a log entry, 2 XOR
 * into a value, 3 truncate or remove a value), byte 1 the table, byte 2 which key (the k-th,
 * in key order), and the rest is the new bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/access.h"
#include "consentd/authz.h"
#include "consentd/clients.h"
#include "consentd/consents.h"
#include "consentd/jstrict.h"
#include "consentd/patients.h"
#include "consentd/pointers.h"
#include "consentd/state.h"
#include "consentd/tlog.h"
#include "consentd/tokenkeys.h"
#include "consentd/trail.h"
#include "fuzzutil.h"

#define FZ_LOG   "tests/fuzz/corpus/state/live-log"
#define MAX_IDS  64
#define ID_BYTES 257

/* Everyone and everything the base log names. */
struct names {
    unsigned n;
    char s[MAX_IDS][ID_BYTES];
};

static struct names orgs, clients, people, idents, pointers, grants, tokens;
static uint64_t size;
static char request[1024];

static void
remember(struct names *set, const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

    if (cJSON_IsString(m) && set->n < MAX_IDS && strlen(m->valuestring) < ID_BYTES)
        strcpy(set->s[set->n++], m->valuestring);
}

/* learn records the names one entry of the base log holds. */
static void
learn(const cJSON *e)
{
    const char *type = cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring;
    const cJSON *jws = cJSON_GetObjectItemCaseSensitive(e, "jws");
    static struct consents_grant g;
    enum consents_refusal code;
    char why[STATE_WHY_MAX];

    if (strcmp(type, "org") == 0)
        remember(&orgs, e, "ods");
    else if (strcmp(type, "client") == 0)
        remember(&clients, e, "client_id");
    else if (strcmp(type, "patient.enrol") == 0)
        remember(&people, e, "nhs");
    else if (strcmp(type, "pointer") == 0)
        remember(&pointers, e, "id");
    else if (strcmp(type, "access") == 0)
        remember(&tokens, e, "jti");
    if (strcmp(type, "identity.link") == 0 && idents.n < MAX_IDS &&
        cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "system")) &&
        cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "value")))
        snprintf(idents.s[idents.n++], ID_BYTES, "%s|%s",
                 cJSON_GetObjectItemCaseSensitive(e, "system")->valuestring,
                 cJSON_GetObjectItemCaseSensitive(e, "value")->valuestring);
    if (strcmp(type, "consent") == 0 && cJSON_IsString(jws) && grants.n < MAX_IDS &&
        consents_grant_parse(jws->valuestring, strlen(jws->valuestring), &g, &code, why) == ERR_OK)
        strcpy(grants.s[grants.n++], g.jti);
    if (strcmp(type, "consent") == 0 && !cJSON_IsString(jws))
        remember(&grants, cJSON_GetObjectItemCaseSensitive(e, "paper"), "jti");
}

/* load applies the base log to the store, committed once, and learns its names. */
static void
load(void)
{
    char why[STATE_WHY_MAX], *log, *p, *nl;
    uint8_t leaf[HASH_BYTES];
    struct merkle_range r;
    struct store_txn *t = NULL;
    cJSON *e = NULL;
    size_t len;

    log = fz_read_file(FZ_LOG, &len);
    if (log == NULL)
        fz_fail("cannot read %s: run from the repository root after tests/fuzz/seeds.sh", FZ_LOG);
    if (store_begin(fz_store(), true, &t) != ERR_OK)
        fz_fail("store_begin failed");
    merkle_range_init(&r);
    for (p = log; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL)
            fz_fail("%s does not end in a newline", FZ_LOG);
        if (state_apply(t, r.size, (const uint8_t *)p, (size_t)(nl - p), why) != ERR_OK ||
            tlog_append(t, &r, (const uint8_t *)p, (size_t)(nl - p), leaf) != ERR_OK)
            fz_fail("%s: entry %llu is refused: %s", FZ_LOG, (unsigned long long)r.size, why);
        if (jstrict_parse(p, (size_t)(nl - p), &e, NULL) != ERR_OK)
            fz_fail("%s: entry %llu does not parse", FZ_LOG, (unsigned long long)r.size);
        learn(e);
        cJSON_Delete(e);
    }
    size = r.size;
    if (store_commit(t) != ERR_OK)
        fz_fail("store_commit failed");
    free(log);
    if (people.n > 0)
        snprintf(request, sizeof(request),
                 "[{\"type\":\"care-record-access\",\"identifier\":\"%s\",\"purpose\":\"TREAT\","
                 "\"datatypes\":[\"gp-record\",\"medications\"]}]",
                 people.s[0]);
}

/* The k-th key of a table, found by a scan. */
struct kth {
    unsigned k;
    size_t len;
    uint8_t key[STORE_MAX_KEY];
    size_t val_len;
};

static enum err
kth_scan(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    struct kth *f = ctx;

    (void)val;
    if (f->k-- > 0)
        return ERR_OK;
    memcpy(f->key, key, key_len);
    f->len = key_len;
    f->val_len = val_len;
    return ERR_EXISTS;
}

/* edit changes the store in t as the input says. */
static void
edit(struct store_txn *t, const uint8_t *data, size_t size_in)
{
    enum store_table table = (enum store_table)(data[1] % STORE_NTABLES);
    const uint8_t *rest = data + 3;
    size_t rest_len = size_in - 3, i;
    struct kth f = {.k = data[2], .len = SIZE_MAX};
    const void *val;
    uint8_t *copy;
    size_t len;

    if (data[0] % 4 == 1) {
        table = STORE_ENTRIES;
        f.k = size > 0 ? (unsigned)(data[2] % size) : 0;
    }
    if (store_scan(t, table, NULL, 0, kth_scan, &f) != ERR_OK)
        fz_fail("store_scan failed");
    if (f.len == SIZE_MAX)
        return;
    switch (data[0] % 4) {
    case 0:
    case 1:
        if (store_put(t, table, f.key, f.len, rest, rest_len, false, false) != ERR_OK)
            fz_fail("store_put failed");
        break;
    case 2:
        if (store_get(t, table, f.key, f.len, &val, &len) != ERR_OK)
            fz_fail("store_get failed");
        copy = malloc(len + 1);
        if (copy == NULL)
            fz_fail("out of memory");
        memcpy(copy, val, len);
        for (i = 0; i < rest_len && len > 0; i++)
            copy[i % len] ^= rest[i];
        if (store_put(t, table, f.key, f.len, copy, len, false, false) != ERR_OK)
            fz_fail("store_put failed");
        free(copy);
        break;
    default:
        if (rest_len == 0) {
            if (store_del(t, table, f.key, f.len) != ERR_OK)
                fz_fail("store_del failed");
            break;
        }
        if (store_get(t, table, f.key, f.len, &val, &len) != ERR_OK)
            fz_fail("store_get failed");
        copy = malloc(len + 1);
        if (copy == NULL)
            fz_fail("out of memory");
        memcpy(copy, val, len);
        if (store_put(t, table, f.key, f.len, copy, rest[0] % (len + 1), false, false) != ERR_OK)
            fz_fail("store_put failed");
        free(copy);
        break;
    }
}

static enum err
see_pointer(void *ctx, const struct pointers_pointer *p)
{
    (void)ctx;
    (void)strlen(p->url);
    return ERR_OK;
}

static enum err
see_grant(void *ctx, const struct consents_record *rec)
{
    (void)ctx;
    (void)strlen(rec->g.jti);
    return ERR_OK;
}

static enum err
see_access(void *ctx, uint64_t index, const cJSON *entry)
{
    (void)ctx;
    (void)index;
    (void)cJSON_IsObject(entry);
    return ERR_OK;
}

static enum err
see_entry(void *ctx, uint64_t index, const uint8_t *entry, size_t len)
{
    (void)ctx;
    (void)index;
    /* Every byte is read, so ASan checks the borrowed bounds. */
    (void)memchr(entry, '\n', len);
    return ERR_OK;
}

/* read_all asks every reader about every name. */
static void
read_all(struct store_txn *t)
{
    static struct clients_client cl;
    static struct patients_patient pp;
    static struct pointers_pointer pt;
    static struct consents_record rec;
    static struct authz_request req;
    static struct tokenkeys_state keys;
    char why[STATE_WHY_MAX], nhs[NHS_LEN + 1], type[CONSENTS_NAME_MAX + 1];
    uint8_t root[HASH_BYTES];
    struct consents_set set;
    const uint8_t *bytes;
    struct pkey *k;
    cJSON *entry;
    uint64_t index, n;
    unsigned i, j;
    size_t len;
    bool yes;

    for (i = 0; i < clients.n; i++)
        if (clients_get(t, clients.s[i], &cl) == ERR_OK && clients_key(&cl, &k) == ERR_OK)
            pkey_free(k);
    for (i = 0; i < orgs.n; i++) {
        (void)state_org_index(t, orgs.s[i], &index);
        (void)consents_org_type(t, orgs.s[i], type);
    }
    for (i = 0; i < idents.n; i++)
        (void)patients_resolve(t, idents.s[i], nhs, why);
    for (i = 0; i < pointers.n; i++)
        (void)pointers_get(t, pointers.s[i], &pt);
    for (i = 0; i < grants.n; i++)
        (void)consents_get(t, grants.s[i], &rec);
    for (i = 0; i < tokens.n; i++) {
        (void)access_revoked(t, tokens.s[i], &yes);
        if (access_get(t, tokens.s[i], &index) == ERR_OK &&
            access_entry_get(t, index, &entry) == ERR_OK)
            cJSON_Delete(entry);
    }
    for (i = 0; i < people.n; i++) {
        (void)patients_get(t, people.s[i], &pp);
        (void)pointers_list(t, people.s[i], false, see_pointer, NULL);
        (void)pointers_list(t, people.s[i], true, see_pointer, NULL);
        (void)consents_list(t, people.s[i], see_grant, NULL);
        (void)access_list(t, people.s[i], see_access, NULL);
        (void)trail_list(t, people.s[i], 0, see_entry, NULL);
        consents_set_init(&set);
        (void)consents_for_decision(t, fz_policy(), people.s[i], FZ_NOW, &set);
        consents_set_clear(&set);
        for (j = 0; j < people.n; j++)
            (void)consents_delegated(t, people.s[i], people.s[j], FZ_NOW, &yes);
        for (j = 0; j < orgs.n; j++)
            (void)consents_enrolled_by(t, people.s[i], orgs.s[j], &yes);
    }
    (void)tokenkeys_get(t, &keys);
    if (tlog_size(t, &n) == ERR_OK && n <= size) {
        (void)tlog_root(t, n, root);
        for (index = 0; index < n; index++)
            (void)tlog_entry(t, index, &bytes, &len);
    }
    for (i = 0; request[0] != '\0' && i < orgs.n; i++) {
        if (authz_parse(fz_policy(), request, strlen(request), &req, why) != ERR_OK)
            fz_fail("the request to decide does not parse: %s", why);
        (void)authz_locations(t, fz_policy(), &req, why);
        (void)authz_decide(t, fz_policy(), &req, orgs.s[i], FZ_NOW, why);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size_in)
{
    static bool loaded;
    struct store_txn *t = NULL;

    fz_init();
    if (!loaded) {
        load();
        loaded = true;
    }
    if (size_in < 3)
        return 0;
    if (store_begin(fz_store(), true, &t) != ERR_OK)
        fz_fail("store_begin failed");
    edit(t, data, size_in);
    read_all(t);
    store_abort(t);
    return 0;
}
