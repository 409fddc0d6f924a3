/*
 * check_ecache: the parsed-entry caches, directly and through the readers that use them
 * (clients_get, patients_get, consents_get, consents_org_type, consents_enrolled_by): a hit
 * gives what a fresh parse gives; an index whose entry was rolled back and then reused by
 * another entry is parsed again; slots that collide evict each other; a failed parse is never
 * kept. Entries are applied as the sequencer applies them, in nested transactions where a test
 * rolls one back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/b64.h"
#include "consentd/clients.h"
#include "consentd/consents.h"
#include "consentd/ecache.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/policy.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP   (64u * 1024 * 1024)
#define NHS_A "9434765919"
#define T0    "2026-11-23T12:00:00Z"
#define SLOTS 4 /* the test's own cache */

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static char why[STATE_WHY_MAX];
static struct ecache cache = ECACHE_INIT(SLOTS, uint64_t);

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&range);
    ecache_thread_end();
    cache = (struct ecache)ECACHE_INIT(SLOTS, uint64_t);
}

static struct store_txn *parent;
static struct merkle_range saved;

static void
teardown(void)
{
    /* A test that failed inside a nested transaction leaves it open. */
    if (parent != NULL) {
        store_abort(t);
        t = parent;
        parent = NULL;
    }
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

/* raw appends entry to the log without applying it (the cache itself reads only leaves). */
static uint64_t
raw(const char *entry)
{
    uint8_t leaf[HASH_BYTES];
    uint64_t index = range.size;

    ck_assert_int_eq(tlog_append(t, &range, (const uint8_t *)entry, strlen(entry), leaf), ERR_OK);
    return index;
}

/* append applies entry as the sequencer does and appends it; returns its index. */
static uint64_t
append(const char *entry)
{
    uint64_t index = range.size;

    why[0] = '\0';
    ck_assert_msg(state_apply(t, index, (const uint8_t *)entry, strlen(entry), why) == ERR_OK,
                  "%s: %s", entry, why);
    raw(entry);
    return index;
}

/*
 * The sequencer's rollback: nest starts a nested transaction in t, and rollback aborts it and
 * restores the range, so the next entry takes the same index again.
 */
static void
nest(void)
{
    struct store_txn *n = NULL;

    ck_assert_int_eq(store_begin_nested(t, &n), ERR_OK);
    parent = t;
    t = n;
    saved = range;
}

static void
rollback(void)
{
    store_abort(t);
    t = parent;
    parent = NULL;
    range = saved;
}

static void
org(const char *ods, const char *type)
{
    char e[512];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"%s\",\"name\":\"Org\","
             "\"org_type\":\"%s\"}",
             ods, type);
    append(e);
}

static void
jwk_x(const struct keys_pair *k, char x[static 64])
{
    uint8_t pk[KEYS_PUBLIC_BYTES];

    keys_public(k, pk);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, 64), ERR_OK);
}

/* client registers id of org with key seed and roles (a JSON array); returns its index. */
static uint64_t
client(const char *id, const char *org_ods, unsigned char seed, const char *roles)
{
    struct keys_pair *k = tu_key(seed);
    char e[512], x[64];

    jwk_x(k, x);
    keys_free(k);
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"client\",\"time\":\"" T0 "\",\"client_id\":\"%s\","
             "\"org\":\"%s\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},"
             "\"roles\":%s}",
             id, org_ods, x, roles);
    return append(e);
}

/* enrol enrols NHS_A with key seed, by by. */
static void
enrol(unsigned char seed, const char *by)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct keys_pair *k = tu_key(seed);
    char e[512], x[64], kid[KEYS_KID_LEN + 1];

    keys_public(k, pk);
    keys_kid(pk, kid);
    jwk_x(k, x);
    keys_free(k);
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"patient.enrol\",\"time\":\"" T0 "\",\"nhs\":\"" NHS_A "\","
             "\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},\"kid\":\"%s\","
             "\"by\":\"%s\"}",
             x, kid, by);
    append(e);
}

/* signed_entry appends {"jws"} of type: payload signed by NHS_A's key (seed 1). */
static void
signed_entry(const char *type, const char *typ, const char *payload)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct keys_pair *k = tu_key(1);
    char kid[KEYS_KID_LEN + 1], *jws = NULL, *e;

    keys_public(k, pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(jws_sign(k, typ, kid, payload, strlen(payload), &jws), ERR_OK);
    keys_free(k);
    e = malloc(strlen(jws) + 128);
    ck_assert_ptr_nonnull(e);
    sprintf(e, "{\"v\":1,\"type\":\"%s\",\"time\":\"" T0 "\",\"jws\":\"%s\"}", type, jws);
    append(e);
    free(e);
    free(jws);
}

/* grant appends NHS_A's permit jti for RX1, TREAT, datatypes (JSON strings). */
static void
grant(const char *jti, const char *datatypes)
{
    char p[1024];

    snprintf(p, sizeof(p),
             "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"%s\",\"iat\":1763900000,"
             "\"effect\":\"permit\",\"grantee\":{\"org\":\"RX1\"},\"purpose\":\"TREAT\","
             "\"datatypes\":[%s],\"actions\":[\"read\"],\"period\":{\"start\":"
             "\"2026-11-01T00:00:00Z\",\"end\":\"2027-11-01T00:00:00Z\"}}",
             jti, datatypes);
    signed_entry("consent", CONSENTS_TYP_GRANT, p);
}

/* --- the cache itself --- */

START_TEST(test_a_kept_parse_is_found_again)
{
    struct ecache_ref ref, again;
    uint64_t i;
    bool hit;

    raw("{\"n\":0}");
    i = raw("{\"n\":1}");
    ck_assert_int_eq(ecache_find(t, &cache, i, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    ck_assert_uint_eq(ref.slot, i % SLOTS);
    ecache_keep(&cache, &ref);
    ck_assert_int_eq(ecache_find(t, &cache, i, &again, &hit), ERR_OK);
    ck_assert(hit);
    ck_assert_uint_eq(again.slot, ref.slot);
    /* Another index, in another slot, is not found. */
    ck_assert_int_eq(ecache_find(t, &cache, 0, &again, &hit), ERR_OK);
    ck_assert(!hit);
    /* The value beside the slot is the caller's, and stays until the slot is reused. */
    *(uint64_t *)ecache_value(&cache, &ref) = 42;
    ck_assert_int_eq(ecache_find(t, &cache, i, &again, &hit), ERR_OK);
    ck_assert(hit);
    ck_assert_uint_eq(*(uint64_t *)ecache_value(&cache, &again), 42);
    /* A thread's end frees its caches; a later use starts them empty. */
    ecache_thread_end();
    ck_assert_ptr_null(cache.slots);
    ck_assert_int_eq(ecache_find(t, &cache, i, &again, &hit), ERR_OK);
    ck_assert(!hit);
}
END_TEST

START_TEST(test_a_rolled_back_index_reused_is_a_miss)
{
    struct ecache_ref ref;
    uint64_t i, j;
    bool hit;

    raw("{\"n\":0}");
    nest();
    i = raw("{\"n\":\"A\"}");
    ck_assert_int_eq(ecache_find(t, &cache, i, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    ecache_keep(&cache, &ref);
    ck_assert_int_eq(ecache_find(t, &cache, i, &ref, &hit), ERR_OK);
    ck_assert(hit);
    rollback();
    /* The index now holds another entry: its leaf hash differs, so the slot is not used. */
    j = raw("{\"n\":\"B\"}");
    ck_assert_uint_eq(j, i);
    ck_assert_int_eq(ecache_find(t, &cache, j, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    /* The miss emptied the slot: finding it again without a keep is still a miss. */
    ck_assert_int_eq(ecache_find(t, &cache, j, &ref, &hit), ERR_OK);
    ck_assert(!hit);
}
END_TEST

START_TEST(test_colliding_indexes_evict_each_other)
{
    struct ecache_ref ref;
    char e[16], value[SLOTS][8];
    unsigned i;
    bool hit;

    for (i = 0; i <= SLOTS; i++) {
        snprintf(e, sizeof(e), "{\"n\":%u}", i);
        raw(e);
    }
    /* Entries 0 and SLOTS share slot 0: each parse replaces the other's. */
    for (i = 0; i < 3; i++) {
        uint64_t index = i % 2 == 0 ? 0 : SLOTS;

        ck_assert_int_eq(ecache_find(t, &cache, index, &ref, &hit), ERR_OK);
        ck_assert(!hit);
        ck_assert_uint_eq(ref.slot, 0);
        snprintf(value[ref.slot], sizeof(value[0]), "%u", (unsigned)index);
        ecache_keep(&cache, &ref);
        ck_assert_int_eq(ecache_find(t, &cache, index, &ref, &hit), ERR_OK);
        ck_assert(hit);
        ck_assert_uint_eq(strtoul(value[ref.slot], NULL, 10), index);
    }
}
END_TEST

START_TEST(test_a_miss_not_kept_stays_a_miss)
{
    struct ecache_ref ref;
    bool hit;

    raw("{\"n\":0}");
    /* What a caller does when its parse fails: no ecache_keep. */
    ck_assert_int_eq(ecache_find(t, &cache, 0, &ref, &hit), ERR_OK);
    ck_assert(!hit);
    ck_assert_int_eq(ecache_find(t, &cache, 0, &ref, &hit), ERR_OK);
    ck_assert(!hit);
}
END_TEST

START_TEST(test_an_index_past_the_end_is_a_storage_error)
{
    struct ecache_ref ref;
    bool hit = true;

    raw("{\"n\":0}");
    ck_assert_int_eq(ecache_find(t, &cache, 1, &ref, &hit), ERR_STORAGE);
    ck_assert(!hit);
}
END_TEST

/* --- through the readers --- */

START_TEST(test_clients_get_hit_is_a_fresh_parse_with_current_state)
{
    struct clients_client first, hit;
    uint64_t i;

    org("RX1", "hospital");
    i = client("rx-req", "RX1", 7, "[\"requester\",\"custodian\"]");
    ck_assert_int_eq(clients_get(t, "rx-req", &first), ERR_OK);
    ck_assert_str_eq(first.org, "RX1");
    ck_assert_uint_eq(first.index, i);
    ck_assert_uint_eq(first.roles, policy_role_bit("requester") | policy_role_bit("custodian"));
    ck_assert_int_eq(clients_get(t, "rx-req", &hit), ERR_OK);
    ck_assert_mem_eq(&hit, &first, sizeof(hit));
    /* The retirement is state, not the entry: a client kept in the cache is seen retired. */
    append("{\"v\":1,\"type\":\"client.retire\",\"time\":\"" T0 "\",\"client_id\":\"rx-req\","
           "\"reason\":\"replaced\"}");
    ck_assert_int_eq(clients_get(t, "rx-req", &hit), ERR_OK);
    ck_assert(hit.retired);
    ck_assert_uint_eq(hit.retire_index, i + 1);
    ck_assert_mem_eq(hit.pk, first.pk, sizeof(hit.pk));
    ck_assert_str_eq(hit.jwk, first.jwk);
}
END_TEST

START_TEST(test_clients_get_reads_the_entry_that_replaced_a_rolled_back_one)
{
    struct clients_client a, b;
    uint64_t i, j;

    org("RX1", "hospital");
    org("RX2", "hospital");
    nest();
    i = client("c1", "RX1", 7, "[\"requester\"]");
    ck_assert_int_eq(clients_get(t, "c1", &a), ERR_OK);
    ck_assert_int_eq(clients_get(t, "c1", &a), ERR_OK);
    rollback();
    j = client("c1", "RX2", 8, "[\"custodian\"]");
    ck_assert_uint_eq(j, i);
    ck_assert_int_eq(clients_get(t, "c1", &b), ERR_OK);
    ck_assert_str_eq(b.org, "RX2");
    ck_assert_uint_eq(b.roles, policy_role_bit("custodian"));
    ck_assert(memcmp(b.pk, a.pk, sizeof(b.pk)) != 0);
    ck_assert_str_ne(b.jwk, a.jwk);
}
END_TEST

START_TEST(test_clients_get_does_not_keep_a_failed_parse)
{
    struct clients_client cl;

    org("RX1", "hospital");
    /* A damaged store: the client's record points at the org entry. */
    ck_assert_int_eq(store_put_pair(t, STORE_CLIENTS, "bad", 0, 0), ERR_OK);
    ck_assert_int_eq(clients_get(t, "bad", &cl), ERR_STORAGE);
    ck_assert_int_eq(clients_get(t, "bad", &cl), ERR_STORAGE);
    ck_assert_str_eq(cl.org, "");
}
END_TEST

START_TEST(test_patients_get_reads_the_entry_that_replaced_a_rolled_back_one)
{
    struct patients_patient a, again, b;

    org("A81001", "gp-practice");
    nest();
    enrol(1, "admin");
    ck_assert_int_eq(patients_get(t, NHS_A, &a), ERR_OK);
    ck_assert_int_eq(patients_get(t, NHS_A, &again), ERR_OK);
    ck_assert_mem_eq(&again, &a, sizeof(a));
    rollback();
    enrol(2, "admin");
    ck_assert_int_eq(patients_get(t, NHS_A, &b), ERR_OK);
    ck_assert_uint_eq(b.key_index, a.key_index);
    ck_assert(memcmp(b.pk, a.pk, sizeof(b.pk)) != 0);
    ck_assert_str_ne(b.kid, a.kid);
}
END_TEST

START_TEST(test_consents_get_reads_the_entry_that_replaced_a_rolled_back_one)
{
    struct consents_record a, again, b;

    org("RX1", "hospital");
    enrol(1, "admin");
    nest();
    grant("g1", "\"gp-record\"");
    ck_assert_int_eq(consents_get(t, "g1", &a), ERR_OK);
    ck_assert_int_eq(consents_get(t, "g1", &again), ERR_OK);
    ck_assert_mem_eq(&again, &a, sizeof(a));
    rollback();
    grant("g1", "\"medications\",\"allergies\"");
    ck_assert_int_eq(consents_get(t, "g1", &b), ERR_OK);
    ck_assert_uint_eq(b.index, a.index);
    ck_assert_uint_eq(b.g.ndatatypes, 2);
    ck_assert_str_eq(b.g.datatypes[0], "medications");
    ck_assert_str_eq(a.g.datatypes[0], "gp-record");
}
END_TEST

START_TEST(test_consents_get_hit_sees_a_revocation)
{
    struct consents_record a, b;

    org("RX1", "hospital");
    enrol(1, "admin");
    grant("g1", "\"gp-record\"");
    ck_assert_int_eq(consents_get(t, "g1", &a), ERR_OK);
    ck_assert(!a.revoked);
    signed_entry("consent.revoke", CONSENTS_TYP_REVOKE,
                 "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"r1\",\"grant\":\"g1\","
                 "\"iat\":1763900000}");
    ck_assert_int_eq(consents_get(t, "g1", &b), ERR_OK);
    ck_assert(b.revoked);
    ck_assert_uint_eq(b.revoke_index, a.index + 1);
    ck_assert_int_eq(b.revoked_at, a.recorded);
    /* Everything else is what the first read parsed. */
    b.revoked = false;
    b.revoke_index = 0;
    b.revoked_at = 0;
    ck_assert_mem_eq(&b, &a, sizeof(a));
}
END_TEST

START_TEST(test_org_type_and_enrolment_read_the_entries_that_replaced_rolled_back_ones)
{
    char type[CONSENTS_NAME_MAX + 1];
    bool yes;

    org("A81001", "gp-practice");
    org("B82002", "gp-practice");
    client("gp-a", "A81001", 7, "[\"enroller\"]");
    client("gp-b", "B82002", 8, "[\"enroller\"]");
    nest();
    org("XA1", "hospital");
    enrol(1, "gp-a");
    ck_assert_int_eq(consents_org_type(t, "XA1", type), ERR_OK);
    ck_assert_str_eq(type, "hospital");
    ck_assert_int_eq(consents_enrolled_by(t, NHS_A, "A81001", &yes), ERR_OK);
    ck_assert(yes);
    ck_assert_int_eq(consents_enrolled_by(t, NHS_A, "A81001", &yes), ERR_OK);
    ck_assert(yes);
    rollback();
    org("XA1", "pharmacy");
    enrol(1, "gp-b");
    ck_assert_int_eq(consents_org_type(t, "XA1", type), ERR_OK);
    ck_assert_str_eq(type, "pharmacy");
    ck_assert_int_eq(consents_enrolled_by(t, NHS_A, "A81001", &yes), ERR_OK);
    ck_assert(!yes);
    ck_assert_int_eq(consents_enrolled_by(t, NHS_A, "B82002", &yes), ERR_OK);
    ck_assert(yes);
}
END_TEST

START_TEST(test_org_types_in_colliding_slots_stay_right)
{
    char ods[16], type[CONSENTS_NAME_MAX + 1];
    unsigned i, k;

    /*
     * Every reader's cache has a power of two of slots, at most ECACHE_MAX_SLOTS, so entries 0
     * and ECACHE_MAX_SLOTS share a slot in each.
     */
    for (i = 0; i <= ECACHE_MAX_SLOTS; i++) {
        snprintf(ods, sizeof(ods), "ORG%u", i);
        org(ods, i % 2 == 0 ? "hospital" : "pharmacy");
    }
    for (k = 0; k < 4; k++) {
        i = k % 2 == 0 ? 0 : ECACHE_MAX_SLOTS;
        snprintf(ods, sizeof(ods), "ORG%u", i);
        ck_assert_int_eq(consents_org_type(t, ods, type), ERR_OK);
        ck_assert_str_eq(type, "hospital");
        snprintf(ods, sizeof(ods), "ORG%u", k % 2 == 0 ? i + 1 : i - 1);
        ck_assert_int_eq(consents_org_type(t, ods, type), ERR_OK);
        ck_assert_str_eq(type, "pharmacy");
    }
}
END_TEST

Suite *
ecache_suite(void)
{
    Suite *su = suite_create("ecache");
    TCase *tc = tcase_create("cache");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_kept_parse_is_found_again);
    tcase_add_test(tc, test_a_rolled_back_index_reused_is_a_miss);
    tcase_add_test(tc, test_colliding_indexes_evict_each_other);
    tcase_add_test(tc, test_a_miss_not_kept_stays_a_miss);
    tcase_add_test(tc, test_an_index_past_the_end_is_a_storage_error);
    suite_add_tcase(su, tc);
    tc = tcase_create("readers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_clients_get_hit_is_a_fresh_parse_with_current_state);
    tcase_add_test(tc, test_clients_get_reads_the_entry_that_replaced_a_rolled_back_one);
    tcase_add_test(tc, test_clients_get_does_not_keep_a_failed_parse);
    tcase_add_test(tc, test_patients_get_reads_the_entry_that_replaced_a_rolled_back_one);
    tcase_add_test(tc, test_consents_get_reads_the_entry_that_replaced_a_rolled_back_one);
    tcase_add_test(tc, test_consents_get_hit_sees_a_revocation);
    tcase_add_test(tc, test_org_type_and_enrolment_read_the_entries_that_replaced_rolled_back_ones);
    tcase_add_test(tc, test_org_types_in_colliding_slots_stay_right);
    suite_add_tcase(su, tc);
    return su;
}
