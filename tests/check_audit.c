/*
 * check_audit: the auditor's local copy (auditlog) and replay (audit): committing only what a
 * signed checkpoint covers, cutting off an interrupted fetch, naming a changed entry; and each
 * rule of the replay on a log built by hand, against the state just before each entry; and the
 * replay deriving the very tables the sequencer's path derives.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "consentd/audit.h"
#include "consentd/auditlog.h"
#include "consentd/b64.h"
#include "consentd/ckpt.h"
#include "consentd/jws.h"
#include "consentd/rebuild.h"
#include "consentd/state.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define NHS_A "9434765919"
#define T0    "2026-11-23T10:00:00Z"
#define T0_S  1795428000 /* T0 in seconds */

static char dir[TU_DIR_MAX], copy[PATH_MAX];
static struct ckpt_signer signer;
static struct policy *pol;

/* The log being built: entries as text. */
static char *entries[64];
static size_t nentries;

static void
setup(void)
{
    char why[256];

    tu_tmpdir(dir);
    tu_path(dir, "copy", copy);
    ck_assert_int_eq(ckpt_signer_init(&signer, tu_key(7), "example.org/log"), ERR_OK);
    ck_assert_int_eq(policy_load("policies/default.json", &pol, why, sizeof(why)), ERR_OK);
    nentries = 0;
}

static void
teardown(void)
{
    size_t i;

    for (i = 0; i < nentries; i++)
        free(entries[i]);
    policy_free(pol);
    ckpt_signer_clear(&signer);
    tu_rmrf(dir);
}

static size_t add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* add appends an entry to the log being built and returns its index. */
static size_t
add(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ck_assert_uint_lt(nentries, 64);
    entries[nentries] = strdup(buf);
    return nentries++;
}

static void
jwk_of(const struct keys_pair *k, char out[static 200], char kid[static KEYS_KID_LEN + 1])
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char x[64];

    keys_public(k, pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(out, 200, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", x);
}

/* The start every rule test shares: two organisations, their clients, a person. */
static void
base_log(const struct keys_pair *patient)
{
    char jwk[200], kid[KEYS_KID_LEN + 1];
    struct keys_pair *ck = tu_key(40);

    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"A81001\",\"name\":\"GP\","
        "\"org_type\":\"gp-practice\"}");
    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"RX1\",\"name\":\"Hospital\","
        "\"org_type\":\"hospital\"}");
    jwk_of(ck, jwk, kid);
    keys_free(ck);
    add("{\"v\":1,\"type\":\"client\",\"time\":\"" T0 "\",\"client_id\":\"gp\",\"org\":\"A81001\","
        "\"jwk\":%s,\"roles\":[\"enroller\",\"requester\"]}",
        jwk);
    add("{\"v\":1,\"type\":\"client\",\"time\":\"" T0 "\",\"client_id\":\"rx\",\"org\":\"RX1\","
        "\"jwk\":%s,\"roles\":[\"requester\"]}",
        jwk);
    add("{\"v\":1,\"type\":\"client\",\"time\":\"" T0 "\",\"client_id\":\"er\",\"org\":\"RX1\","
        "\"jwk\":%s,\"roles\":[\"emergency\"]}",
        jwk);
    jwk_of(patient, jwk, kid);
    add("{\"v\":1,\"type\":\"patient.enrol\",\"time\":\"" T0 "\",\"nhs\":\"" NHS_A "\",\"jwk\":%s,"
        "\"kid\":\"%s\",\"by\":\"gp\"}",
        jwk, kid);
}

/* grant adds a consent entry: NHS_A permits RX1 gp-record for TREAT, signed by k. */
static size_t
grant(const struct keys_pair *k, const char *jti)
{
    char payload[512], kid[KEYS_KID_LEN + 1], *jws = NULL;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    size_t i;

    keys_public(k, pk);
    keys_kid(pk, kid);
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"%s\",\"iat\":%d,"
             "\"effect\":\"permit\",\"grantee\":{\"org\":\"RX1\"},\"purpose\":\"TREAT\","
             "\"datatypes\":[\"gp-record\"],\"actions\":[\"read\"],\"period\":{\"start\":"
             "\"2026-01-01T00:00:00Z\",\"end\":\"2030-01-01T00:00:00Z\"}}",
             jti, T0_S);
    ck_assert_int_eq(jws_sign(k, "consent+jwt", kid, payload, strlen(payload), &jws), ERR_OK);
    i = add("{\"v\":1,\"type\":\"consent\",\"time\":\"" T0 "\",\"jws\":\"%s\"}", jws);
    free(jws);
    return i;
}

/* access adds an access entry by client for org with grants (JSON) or break_glass (JSON). */
static size_t
access_entry(const char *client, const char *org, const char *purpose, const char *grants,
             const char *bg)
{
    static unsigned n;

    return add("{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\",\"jti\":\"tok%u\","
               "\"client_id\":\"%s\",\"org\":\"%s\",\"nhs\":\"" NHS_A "\",\"purpose\":\"%s\","
               "\"datatypes\":[\"gp-record\"],%s%s,\"aud\":[\"https://iss.example\"],"
               "\"iat\":%d,\"exp\":%d}",
               ++n, client, org, purpose,
               grants != NULL ? "\"grants\":" : "\"break_glass\":", grants != NULL ? grants : bg,
               T0_S, T0_S + 300);
}

/* replay runs the log through a fresh audit (with the policy) and returns it. */
static struct audit *
replay(void)
{
    uint8_t leaf[HASH_BYTES];
    struct audit *a = NULL;
    size_t i;

    ck_assert_int_eq(audit_new(pol, &a), ERR_OK);
    for (i = 0; i < nentries; i++)
        ck_assert_int_eq(audit_apply(a, (const uint8_t *)entries[i], strlen(entries[i]), leaf),
                         ERR_OK);
    ck_assert_int_eq(audit_finish(a), ERR_OK);
    return a;
}

/* has_finding is true if a holds a finding at index under rule. */
static bool
has_finding(const struct audit *a, uint64_t index, const char *rule)
{
    size_t n, i;
    const struct audit_finding *f = audit_findings(a, &n);

    for (i = 0; i < n; i++)
        if (f[i].index == index && strcmp(f[i].rule, rule) == 0)
            return true;
    return false;
}

static void
dump(const struct audit *a)
{
    size_t n, i;
    const struct audit_finding *f = audit_findings(a, &n);

    for (i = 0; i < n; i++)
        fprintf(stderr, "finding %" PRIu64 " %s: %s\n", f[i].index, f[i].rule, f[i].text);
}

START_TEST(test_clean_log_has_no_finding)
{
    struct keys_pair *p = tu_key(50);
    struct audit *a;
    size_t g;
    char grants[128];

    base_log(p);
    g = grant(p, "g1");
    snprintf(grants, sizeof(grants), "[{\"jti\":\"g1\",\"log_index\":%zu}]", g);
    access_entry("rx", "RX1", "TREAT", grants, NULL);
    access_entry("gp", "A81001", "TREAT", "[{\"rule\":\"implied\"}]", NULL);
    a = replay();
    dump(a);
    ck_assert_uint_eq(audit_stats(a)->findings, 0);
    ck_assert_uint_eq(audit_stats(a)->accesses, 2);
    ck_assert_uint_eq(audit_stats(a)->signed_checks, 1);
    audit_free(a);
    keys_free(p);
}
END_TEST

START_TEST(test_access_without_permission_is_named)
{
    struct keys_pair *p = tu_key(50);
    struct audit *a;
    size_t i;

    base_log(p);
    /* No grant to RX1, which did not enrol the person: nothing permits it. */
    i = access_entry("rx", "RX1", "TREAT", "[{\"jti\":\"nope\",\"log_index\":1}]", NULL);
    a = replay();
    ck_assert(has_finding(a, i, "access-unpermitted"));
    audit_free(a);
    keys_free(p);
}
END_TEST

START_TEST(test_access_naming_other_grants_is_named)
{
    struct keys_pair *p = tu_key(50);
    struct audit *a;
    size_t i;

    base_log(p);
    grant(p, "g1");
    /* Permitted by g1, but the entry names the implied rule. */
    i = access_entry("rx", "RX1", "TREAT", "[{\"rule\":\"implied\"}]", NULL);
    a = replay();
    ck_assert(has_finding(a, i, "access-grants"));
    audit_free(a);
    keys_free(p);
}
END_TEST

START_TEST(test_access_by_retired_client_is_named)
{
    struct keys_pair *p = tu_key(50);
    struct audit *a;
    size_t i;

    base_log(p);
    add("{\"v\":1,\"type\":\"client.retire\",\"time\":\"" T0
        "\",\"client_id\":\"gp\",\"reason\":\"gone\"}");
    i = access_entry("gp", "A81001", "TREAT", "[{\"rule\":\"implied\"}]", NULL);
    a = replay();
    ck_assert(has_finding(a, i, "client-retired"));
    audit_free(a);
    keys_free(p);
}
END_TEST

START_TEST(test_access_without_role_is_named)
{
    struct keys_pair *p = tu_key(50);
    struct audit *a;
    size_t i, j;

    base_log(p);
    /* "er" has only the emergency role; "rx" has no emergency role. */
    i = access_entry("er", "RX1", "TREAT", "[{\"rule\":\"implied\"}]", NULL);
    j = access_entry("rx", "RX1", "BTG", NULL, "{\"reason\":\"unconscious in A&E\"}");
    a = replay();
    ck_assert(has_finding(a, i, "client-role"));
    ck_assert(has_finding(a, j, "client-role"));
    audit_free(a);
    keys_free(p);
}
END_TEST

START_TEST(test_break_glass_needs_a_reason)
{
    struct keys_pair *p = tu_key(50);
    struct audit *a;
    size_t i, j;

    base_log(p);
    i = access_entry("er", "RX1", "BTG", NULL, "{\"reason\":\"unconscious in A&E\"}");
    j = access_entry("er", "RX1", "BTG", NULL, "{}");
    a = replay();
    ck_assert(!has_finding(a, i, "break-glass"));
    ck_assert(!has_finding(a, i, "client-role"));
    ck_assert(has_finding(a, j, "break-glass"));
    ck_assert_uint_eq(audit_stats(a)->break_glass, 2);
    audit_free(a);
    keys_free(p);
}
END_TEST

START_TEST(test_grant_by_another_key_is_named)
{
    struct keys_pair *p = tu_key(50), *other = tu_key(51);
    struct audit *a;
    size_t i;

    base_log(p);
    i = grant(other, "g1");
    a = replay();
    ck_assert(has_finding(a, i, "patient-signature"));
    audit_free(a);
    keys_free(p);
    keys_free(other);
}
END_TEST

START_TEST(test_grant_by_replaced_key_is_named)
{
    struct keys_pair *p = tu_key(50), *p2 = tu_key(52);
    char jwk[200], kid[KEYS_KID_LEN + 1];
    struct audit *a;
    size_t i;

    base_log(p);
    grant(p, "g1");
    jwk_of(p2, jwk, kid);
    add("{\"v\":1,\"type\":\"patient.key\",\"time\":\"" T0 "\",\"nhs\":\"" NHS_A "\",\"jwk\":%s,"
        "\"kid\":\"%s\",\"recovery\":{\"by\":\"gp\",\"reason\":\"lost phone\"}}",
        jwk, kid);
    i = grant(p, "g2");
    a = replay();
    ck_assert(has_finding(a, i, "key-replaced"));
    ck_assert_uint_eq(audit_stats(a)->findings, 1);
    audit_free(a);
    keys_free(p);
    keys_free(p2);
}
END_TEST

START_TEST(test_key_rotations_must_chain)
{
    struct keys_pair *p = tu_key(50);
    struct audit *a;
    size_t i, j;

    base_log(p);
    i = add("{\"v\":1,\"type\":\"key.rotate\",\"time\":\"" T0 "\",\"added\":{\"kid\":\"k2\"},"
            "\"retired\":{\"kid\":\"k1\"}}");
    j = add("{\"v\":1,\"type\":\"key.rotate\",\"time\":\"" T0 "\",\"added\":{\"kid\":\"k4\"},"
            "\"retired\":{\"kid\":\"k3\"}}");
    a = replay();
    ck_assert(!has_finding(a, i, "key-rotate"));
    ck_assert(has_finding(a, j, "key-rotate"));
    ck_assert_uint_eq(audit_stats(a)->key_rotations, 2);
    audit_free(a);
    keys_free(p);
}
END_TEST

START_TEST(test_replay_derives_the_sequencers_tables)
{
    struct keys_pair *p = tu_key(50);
    char why[STATE_WHY_MAX], report[512], lmdb[PATH_MAX], grants[128];
    uint8_t leaf[HASH_BYTES];
    struct merkle_range r;
    struct store *s = NULL;
    struct store_txn *t = NULL;
    struct audit *a;
    size_t i, g;

    base_log(p);
    g = grant(p, "g1");
    snprintf(grants, sizeof(grants), "[{\"jti\":\"g1\",\"log_index\":%zu}]", g);
    access_entry("rx", "RX1", "TREAT", grants, NULL);
    /* The sequencer's path: state_apply then tlog_append, in one store. */
    tu_path(dir, "lmdb", lmdb);
    ck_assert_int_eq(store_open(lmdb, 64u * 1024 * 1024, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&r);
    for (i = 0; i < nentries; i++) {
        ck_assert_int_eq(state_apply(t, i, (const uint8_t *)entries[i], strlen(entries[i]), why),
                         ERR_OK);
        ck_assert_int_eq(tlog_append(t, &r, (const uint8_t *)entries[i], strlen(entries[i]), leaf),
                         ERR_OK);
    }
    ck_assert_int_eq(store_commit(t), ERR_OK);
    a = replay();
    ck_assert_int_eq(rebuild_compare_stores(s, audit_store(a), report, sizeof(report)), ERR_OK);
    /* And a difference is seen: one more organisation in the stored state. */
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(store_put(t, STORE_ORGS, "ZZZ99", 5, leaf, 8, false, false), ERR_OK);
    ck_assert_int_eq(store_commit(t), ERR_OK);
    ck_assert_int_eq(rebuild_compare_stores(s, audit_store(a), report, sizeof(report)),
                     ERR_CONFLICT);
    audit_free(a);
    store_close(s);
    keys_free(p);
}
END_TEST

/* commit_all writes the log being built into a new copy under one signed checkpoint. */
static struct auditlog *
commit_all(void)
{
    char why[AUDITLOG_WHY_MAX], note[CKPT_RECORD];
    uint8_t(*leaves)[HASH_BYTES] = calloc(nentries + 1, HASH_BYTES), root[HASH_BYTES];
    uint8_t *bundle = NULL;
    size_t blen = 0, bcap = 0, i, len;
    struct merkle_range r;
    struct auditlog *l = NULL;

    ck_assert_int_eq(auditlog_create(copy, &signer.verifier, &l, why), ERR_OK);
    merkle_range_init(&r);
    for (i = 0; i < nentries; i++) {
        ck_assert_int_eq(auditlog_bundle_add(&bundle, &blen, &bcap, (const uint8_t *)entries[i],
                                             strlen(entries[i])),
                         ERR_OK);
        merkle_leaf_hash((const uint8_t *)entries[i], strlen(entries[i]), leaves[i]);
        ck_assert_int_eq(merkle_range_append(&r, leaves[i], NULL, NULL), ERR_OK);
    }
    ck_assert_int_eq(
        auditlog_append(l, bundle, blen, nentries, (const uint8_t(*)[HASH_BYTES])leaves, why),
        ERR_OK);
    merkle_range_root(&r, root);
    ck_assert_int_eq(ckpt_sign(&signer, nentries, root, note, &len), ERR_OK);
    ck_assert_int_eq(auditlog_commit(l, note, len, &r, why), ERR_OK);
    free(bundle);
    free(leaves);
    return l;
}

START_TEST(test_copy_commits_and_reopens)
{
    char why[AUDITLOG_WHY_MAX];
    struct auditlog *l;
    struct auditlog_reader *rd = malloc(sizeof(*rd));
    struct auditlog_saved *saved = NULL;
    struct merkle_range r;
    size_t n, len;
    bool rehashed;

    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"AAA01\"}");
    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"AAA02\"}");
    l = commit_all();
    auditlog_close(l);
    ck_assert_int_eq(auditlog_open(copy, false, &l, why), ERR_OK);
    ck_assert_uint_eq(l->cp.size, 2);
    ck_assert_int_eq(auditlog_reader_open(l, rd, why), ERR_OK);
    ck_assert_int_eq(auditlog_read(rd, &len, why), ERR_OK);
    ck_assert_mem_eq(rd->buf, entries[0], len);
    ck_assert_int_eq(auditlog_read(rd, &len, why), ERR_OK);
    ck_assert_int_eq(auditlog_read(rd, &len, why), ERR_NOTFOUND);
    auditlog_reader_close(rd);
    ck_assert_int_eq(auditlog_frontier(l, &r, &rehashed, why), ERR_OK);
    ck_assert(!rehashed);
    ck_assert_uint_eq(r.size, 2);
    ck_assert_int_eq(auditlog_saved(l, &saved, &n, why), ERR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert(saved[0].valid && !saved[0].refused && saved[0].c.size == 2);
    free(saved);
    auditlog_close(l);
    free(rd);
}
END_TEST

START_TEST(test_commit_refuses_a_wrong_root_and_changes_nothing)
{
    char why[AUDITLOG_WHY_MAX], note[CKPT_RECORD], path[PATH_MAX];
    uint8_t leaf[HASH_BYTES], root[HASH_BYTES];
    struct merkle_range r;
    struct auditlog *l;
    size_t len;
    uint8_t *bundle = NULL;
    size_t blen = 0, bcap = 0;
    struct ckpt_signer other;
    struct stat st;

    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"AAA01\"}");
    l = commit_all();
    /* One more entry, but a checkpoint over some other tree of two. */
    ck_assert_int_eq(auditlog_bundle_add(&bundle, &blen, &bcap, (const uint8_t *)"{}", 2), ERR_OK);
    merkle_leaf_hash((const uint8_t *)"{}", 2, leaf);
    ck_assert_int_eq(
        auditlog_append(l, bundle, blen, 1, (const uint8_t(*)[HASH_BYTES]) & leaf, why), ERR_OK);
    merkle_range_init(&r);
    ck_assert_int_eq(merkle_range_append(&r, leaf, NULL, NULL), ERR_OK);
    ck_assert_int_eq(merkle_range_append(&r, leaf, NULL, NULL), ERR_OK);
    merkle_range_root(&r, root);
    ck_assert_int_eq(ckpt_sign(&signer, 2, root, note, &len), ERR_OK);
    /* r is the range of the entries held and appended; the checkpoint signs another tree. */
    merkle_range_init(&r);
    merkle_leaf_hash((const uint8_t *)entries[0], strlen(entries[0]), root);
    ck_assert_int_eq(merkle_range_append(&r, root, NULL, NULL), ERR_OK);
    ck_assert_int_eq(merkle_range_append(&r, leaf, NULL, NULL), ERR_OK);
    ck_assert_int_eq(auditlog_commit(l, note, len, &r, why), ERR_BADSIG);
    /* A checkpoint by another key is refused too. */
    merkle_range_root(&r, root);
    ck_assert_int_eq(ckpt_signer_init(&other, tu_key(8), "example.org/log"), ERR_OK);
    ck_assert_int_eq(ckpt_sign(&other, 2, root, note, &len), ERR_OK);
    ckpt_signer_clear(&other);
    ck_assert_int_eq(auditlog_commit(l, note, len, &r, why), ERR_BADSIG);
    auditlog_close(l); /* cuts off the appended entry */
    ck_assert_int_eq(auditlog_open(copy, true, &l, why), ERR_OK);
    ck_assert_uint_eq(l->cp.size, 1);
    tu_path(copy, "leaves", path);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, HASH_BYTES); /* the refused entry's leaf was cut off */
    auditlog_close(l);
    free(bundle);
}
END_TEST

START_TEST(test_verify_names_a_changed_entry)
{
    char path[PATH_MAX], why[AUDITLOG_WHY_MAX];
    struct auditlog *l;
    struct audit *a = NULL;
    FILE *f;

    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"AAA01\"}");
    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"AAA02\"}");
    add("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"AAA03\"}");
    l = commit_all();
    auditlog_close(l);
    /* Entry 1 is at offset 2 + len(entry 0) + 2: change its last ODS digit. */
    tu_path(copy, "entries", path);
    f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(
        fseek(f, (long)(2 + strlen(entries[0]) + 2 + strlen(entries[1]) - 3), SEEK_SET), 0);
    fputc('9', f);
    fclose(f);
    ck_assert_int_eq(auditlog_open(copy, false, &l, why), ERR_OK);
    ck_assert_int_eq(audit_new(NULL, &a), ERR_OK);
    ck_assert_int_eq(audit_run(a, l, -1, why), ERR_OK);
    ck_assert(has_finding(a, 1, "entry-changed"));
    ck_assert_uint_eq(audit_stats(a)->findings, 1);
    audit_free(a);
    auditlog_close(l);
}
END_TEST

Suite *
audit_suite(void)
{
    Suite *su = suite_create("audit");
    TCase *tc = tcase_create("audit");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_clean_log_has_no_finding);
    tcase_add_test(tc, test_access_without_permission_is_named);
    tcase_add_test(tc, test_access_naming_other_grants_is_named);
    tcase_add_test(tc, test_access_by_retired_client_is_named);
    tcase_add_test(tc, test_access_without_role_is_named);
    tcase_add_test(tc, test_break_glass_needs_a_reason);
    tcase_add_test(tc, test_grant_by_another_key_is_named);
    tcase_add_test(tc, test_grant_by_replaced_key_is_named);
    tcase_add_test(tc, test_key_rotations_must_chain);
    tcase_add_test(tc, test_replay_derives_the_sequencers_tables);
    tcase_add_test(tc, test_copy_commits_and_reopens);
    tcase_add_test(tc, test_commit_refuses_a_wrong_root_and_changes_nothing);
    tcase_add_test(tc, test_verify_names_a_changed_entry);
    suite_add_tcase(su, tc);
    return su;
}
