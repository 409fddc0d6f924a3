/*
 * check_trail: every entry about a person is indexed under that person (and only them) as
 * state_apply applies it, listed in log order with its exact bytes, and covered by a rebuild.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/b64.h"
#include "consentd/jws.h"
#include "consentd/rebuild.h"
#include "consentd/state.h"
#include "consentd/tlog.h"
#include "consentd/trail.h"
#include "suites.h"
#include "testutil.h"

#define MAP   (64u * 1024 * 1024)
#define NHS_A "9434765919"
#define NHS_B "9434765870"
#define NHS_C "4010232137"
#define T0    "2026-11-23T12:00:00Z"
#define PID   "AAAAAAAAAAAAAAAAAAAAAA"

static char dir[TU_DIR_MAX], lmdb_dir[PATH_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static char why[STATE_WHY_MAX];
static struct keys_pair *ka, *kb, *kc;

/* append applies entry as the sequencer does and appends it to the log; it must be allowed. */
static void
append(const char *entry)
{
    uint8_t leaf[HASH_BYTES];

    ck_assert_msg(state_apply(t, range.size, (const uint8_t *)entry, strlen(entry), why) == ERR_OK,
                  "refused %s: %s", entry, why);
    ck_assert_int_eq(tlog_append(t, &range, (const uint8_t *)entry, strlen(entry), leaf), ERR_OK);
}

static void
enrol(const char *nhs, const struct keys_pair *k)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char e[512], x[64], kid[KEYS_KID_LEN + 1];

    keys_public(k, pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"patient.enrol\",\"time\":\"" T0 "\",\"nhs\":\"%s\",\"jwk\":{"
             "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},\"kid\":\"%s\",\"by\":\"admin\"}",
             nhs, x, kid);
    append(e);
}

/* signed_entry appends an entry of type holding {"jws"} signed by k with typ over payload. */
static void
signed_entry(const char *type, const struct keys_pair *k, const char *typ, const char *payload)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char kid[KEYS_KID_LEN + 1], e[4096], *jws = NULL;

    keys_public(k, pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(jws_sign(k, typ, kid, payload, strlen(payload), &jws), ERR_OK);
    snprintf(e, sizeof(e), "{\"v\":1,\"type\":\"%s\",\"time\":\"" T0 "\",\"jws\":\"%s\"}", type,
             jws);
    free(jws);
    append(e);
}

/*
 * build appends, in this order (log index in brackets): [0] an org, [1] A's enrolment, [2] B's
 * enrolment, [3] a link to A, [4] a pointer for A, [5] its retirement, [6] an access to A's
 * records, [7] A's grant, [8] A's revocation of it, [9] A's delegation to B, [10] an access to
 * B's records, [11] C's enrolment, [12] an admin's delegation from B to C.
 */
static void
build(void)
{
    append("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"A81001\"}");
    enrol(NHS_A, ka);
    enrol(NHS_B, kb);
    append("{\"v\":1,\"type\":\"identity.link\",\"time\":\"" T0 "\",\"nhs\":\"" NHS_A
           "\",\"system\":\"https://hospital.example/mrn\",\"value\":\"H1\",\"by\":\"admin\"}");
    append("{\"v\":1,\"type\":\"pointer\",\"time\":\"" T0 "\",\"id\":\"" PID "\",\"nhs\":\"" NHS_A
           "\",\"custodian\":\"A81001\",\"category\":\"care-plans\",\"record_type\":{\"system\":"
           "\"http://snomed.info/sct\",\"code\":\"736373009\",\"display\":\"End of life care "
           "plan\"},\"url\":\"https://gp.example/fhir/Binary/1\",\"content_type\":"
           "\"application/pdf\"}");
    append("{\"v\":1,\"type\":\"pointer.retire\",\"time\":\"" T0 "\",\"id\":\"" PID
           "\",\"custodian\":\"A81001\",\"reason\":\"entered in error\"}");
    append("{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\",\"jti\":\"tok-1\",\"client_id\":"
           "\"rx\",\"org\":\"A81001\",\"nhs\":\"" NHS_A "\",\"purpose\":\"TREAT\",\"datatypes\":"
           "[\"gp-record\"],\"grants\":[{\"rule\":\"implied\"}],\"aud\":[\"https://c\"],\"iat\":"
           "1795003200,\"exp\":1795003500}");
    signed_entry("consent", ka, "consent+jwt",
                 "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"g1\",\"iat\":1795003200,"
                 "\"effect\":\"permit\",\"grantee\":{\"org\":\"A81001\"},\"purpose\":\"TREAT\","
                 "\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"],\"period\":{\"start\":"
                 "\"2026-11-01T00:00:00Z\",\"end\":\"2027-11-01T00:00:00Z\"}}");
    signed_entry("consent.revoke", ka, "consent-revoke+jwt",
                 "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"r1\",\"grant\":\"g1\","
                 "\"iat\":1795003200}");
    signed_entry("delegation", ka, "delegation+jwt",
                 "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"d1\",\"delegate\":\"" NHS_B
                 "\",\"rights\":{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":[\"grant\"]},"
                 "\"period\":{\"start\":\"2026-11-01T00:00:00Z\",\"end\":"
                 "\"2027-11-01T00:00:00Z\"},\"relationship\":\"carer\"}");
    append("{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\",\"jti\":\"tok-2\",\"client_id\":"
           "\"rx\",\"org\":\"A81001\",\"nhs\":\"" NHS_B "\",\"purpose\":\"TREAT\",\"datatypes\":"
           "[\"gp-record\"],\"grants\":[{\"rule\":\"implied\"}],\"aud\":[\"https://"
           "c\"],\"iat\":1795003200,\"exp\":"
           "1795003500}");
    enrol(NHS_C, kc);
    append("{\"v\":1,\"type\":\"delegation\",\"time\":\"" T0 "\",\"nhs\":\"" NHS_B
           "\",\"delegate\":\"" NHS_C "\",\"rights\":{\"purposes\":\"*\",\"datatypes\":\"*\","
           "\"actions\":[\"grant\"]},\"relationship\":\"attorney\",\"reason\":\"court order\","
           "\"by\":\"admin\"}");
}

/* What a listing saw: the indexes, and that every entry's bytes are the log's. */
struct seen {
    uint64_t index[32];
    size_t n, stop_after;
};

static enum err
collect(void *ctx, uint64_t index, const uint8_t *entry, size_t len)
{
    struct seen *x = ctx;
    const uint8_t *bytes;
    size_t blen;

    ck_assert_int_eq(tlog_entry(t, index, &bytes, &blen), ERR_OK);
    ck_assert_uint_eq(blen, len);
    ck_assert_int_eq(memcmp(bytes, entry, len), 0);
    ck_assert_uint_lt(x->n, 32);
    x->index[x->n++] = index;
    return x->n == x->stop_after ? ERR_EXISTS : ERR_OK;
}

static void
setup(void)
{
    tu_tmpdir(dir);
    tu_path(dir, "lmdb", lmdb_dir);
    ck_assert_int_eq(store_open(lmdb_dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&range);
    ka = tu_key(1);
    kb = tu_key(2);
    kc = tu_key(3);
}

static void
teardown(void)
{
    keys_free(ka);
    keys_free(kb);
    keys_free(kc);
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

START_TEST(test_each_person_lists_their_entries_in_log_order)
{
    static const uint64_t want_a[] = {1, 3, 4, 5, 6, 7, 8, 9};
    static const uint64_t want_b[] = {2, 10, 12};
    struct seen a = {{0}, 0, 0}, b = {{0}, 0, 0};
    size_t i;

    build();
    ck_assert_int_eq(trail_list(t, NHS_A, 0, collect, &a), ERR_OK);
    ck_assert_uint_eq(a.n, sizeof(want_a) / sizeof(want_a[0]));
    for (i = 0; i < a.n; i++)
        ck_assert_uint_eq(a.index[i], want_a[i]);
    ck_assert_int_eq(trail_list(t, NHS_B, 0, collect, &b), ERR_OK);
    ck_assert_uint_eq(b.n, sizeof(want_b) / sizeof(want_b[0]));
    for (i = 0; i < b.n; i++)
        ck_assert_uint_eq(b.index[i], want_b[i]);
}
END_TEST

START_TEST(test_listing_starts_at_from_and_stops_when_asked)
{
    struct seen x = {{0}, 0, 2}, none = {{0}, 0, 0};

    build();
    ck_assert_int_eq(trail_list(t, NHS_A, 5, collect, &x), ERR_OK);
    ck_assert_uint_eq(x.n, 2);
    ck_assert_uint_eq(x.index[0], 5);
    ck_assert_uint_eq(x.index[1], 6);
    ck_assert_int_eq(trail_list(t, NHS_A, 10, collect, &none), ERR_OK);
    ck_assert_uint_eq(none.n, 0);
    ck_assert_int_eq(trail_list(t, "9434765918", 0, collect, &none), ERR_OK);
    ck_assert_int_eq(trail_list(t, "9990548609", 0, collect, &none), ERR_OK);
    ck_assert_uint_eq(none.n, 0);
}
END_TEST

START_TEST(test_subject_of_each_type)
{
    static const struct {
        const char *type, *json, *nhs;
    } cases[] = {
        {"org", "{\"ods\":\"A81001\"}", NULL},
        {"client", "{\"client_id\":\"c\",\"org\":\"A81001\"}", NULL},
        {"client.retire", "{\"client_id\":\"c\",\"reason\":\"r\"}", NULL},
        {"key.rotate", "{\"kid\":\"k\"}", NULL},
        {"access", "{\"nhs\":\"" NHS_B "\"}", NHS_B},
        {"access", "{\"nhs\":\"9434765918\"}", NULL},
        {"patient.key", "{\"nhs\":12}", NULL},
        {"consent", "{\"paper\":{\"sub\":\"" NHS_B "\"},\"by\":\"gp\"}", NHS_B},
        {"consent", "{\"jws\":\"not a jws\"}", NULL},
        {"delegation", "{\"nhs\":\"" NHS_A "\",\"delegate\":\"" NHS_B "\"}", NHS_A},
        {"pointer.retire", "{\"reason\":\"no id\"}", NULL},
    };
    char nhs[NHS_LEN + 1];
    cJSON *e;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        e = cJSON_Parse(cases[i].json);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(trail_subject(t, cases[i].type, e, nhs),
                         cases[i].nhs != NULL ? ERR_OK : ERR_NOTFOUND);
        ck_assert_str_eq(nhs, cases[i].nhs != NULL ? cases[i].nhs : "");
        cJSON_Delete(e);
    }
}
END_TEST

START_TEST(test_a_retire_of_an_unknown_pointer_is_a_fault)
{
    char nhs[NHS_LEN + 1];
    cJSON *e = cJSON_Parse("{\"id\":\"" PID "\",\"custodian\":\"A81001\"}");

    ck_assert_int_eq(trail_subject(t, "pointer.retire", e, nhs), ERR_STORAGE);
    cJSON_Delete(e);
}
END_TEST

START_TEST(test_rebuild_finds_a_missing_trail_row)
{
    char report[256], scratch[PATH_MAX];
    uint8_t key[NHS_LEN + 1 + 8];
    uint64_t n;

    build();
    ck_assert_int_eq(store_commit(t), ERR_OK);
    t = NULL;
    tu_path(dir, "scratch", scratch);
    ck_assert_int_eq(rebuild_compare(s, scratch, report, sizeof(report), &n), ERR_OK);
    ck_assert_uint_eq(n, 13);
    memcpy(key, NHS_A "/", NHS_LEN + 1);
    store_u64_key(7, key + NHS_LEN + 1);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_del(t, STORE_TRAIL, key, sizeof(key)), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    t = NULL;
    ck_assert_int_eq(rebuild_compare(s, scratch, report, sizeof(report), &n), ERR_CONFLICT);
    ck_assert_msg(strstr(report, "entries by person") != NULL, "%s", report);
}
END_TEST

Suite *
trail_suite(void)
{
    Suite *su = suite_create("trail");
    TCase *tc = tcase_create("trail");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_each_person_lists_their_entries_in_log_order);
    tcase_add_test(tc, test_listing_starts_at_from_and_stops_when_asked);
    tcase_add_test(tc, test_subject_of_each_type);
    tcase_add_test(tc, test_a_retire_of_an_unknown_pointer_is_a_fault);
    tcase_add_test(tc, test_rebuild_finds_a_missing_trail_row);
    suite_add_tcase(su, tc);
    return su;
}
