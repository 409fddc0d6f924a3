/*
 * check_patients: enrolment, key rotation and recovery, linked identifiers and the one-time
 * enrolment codes, applied through state_apply on a temporary store as the sequencer and a
 * replay apply them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/b64.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP   (64u * 1024 * 1024)
#define NHS_A "9434765919"
#define NHS_B "9434765870"
#define NOW   INT64_C(1764000000)
#define MRN   "https://hospital.example/mrn"

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static char why[STATE_WHY_MAX];
static struct keys_pair *k1, *k2, *k3;

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&range);
    k1 = tu_key(1);
    k2 = tu_key(2);
    k3 = tu_key(3);
}

static void
teardown(void)
{
    keys_free(k1);
    keys_free(k2);
    keys_free(k3);
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

/* append applies entry as the sequencer does and, if allowed, appends it to the log. */
static enum err
append(const char *entry)
{
    uint8_t leaf[HASH_BYTES];
    enum err rc;

    why[0] = '\0';
    rc = state_apply(t, range.size, (const uint8_t *)entry, strlen(entry), why);
    if (rc == ERR_OK)
        ck_assert_int_eq(tlog_append(t, &range, (const uint8_t *)entry, strlen(entry), leaf),
                         ERR_OK);
    return rc;
}

/* jwk_of writes k's public JWK members ("jwk":{…},"kid":"…") into out. */
static void
key_members(const struct keys_pair *k, char *out, size_t cap)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char x[64], kid[KEYS_KID_LEN + 1];

    keys_public(k, pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(out, cap, "\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},\"kid\":\"%s\"",
             x, kid);
}

static enum err
enrol(const char *nhs, const struct keys_pair *k)
{
    char e[512], km[256];

    key_members(k, km, sizeof(km));
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"patient.enrol\",\"time\":\"t\",\"nhs\":\"%s\",%s,\"by\":\"gp1\"}",
             nhs, km);
    return append(e);
}

/* sign makes a JWS by k over payload (caller frees). */
static char *
sign(const struct keys_pair *k, const char *payload)
{
    char *jws = NULL;

    ck_assert_int_eq(jws_sign(k, NULL, NULL, payload, strlen(payload), &jws), ERR_OK);
    return jws;
}

/* rotation_proof makes the proof, signed by by, that nhs's new key is next (caller frees). */
static char *
rotation_proof(const struct keys_pair *by, const char *sub, const struct keys_pair *next,
               long long iat)
{
    char payload[512], km[256], *jwk;

    key_members(next, km, sizeof(km));
    /* key_members gives "jwk":{…},"kid":"…"; the proof's payload names the JWK only. */
    jwk = strstr(km, ",\"kid\"");
    *jwk = '\0';
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",%s,\"iat\":%lld}", sub, km, iat);
    return sign(by, payload);
}

static enum err
rotate(const char *nhs, const struct keys_pair *next, const char *proof)
{
    char e[2048], km[256];

    key_members(next, km, sizeof(km));
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"patient.key\",\"time\":\"t\",\"nhs\":\"%s\",%s,\"proof\":\"%s\"}",
             nhs, km, proof);
    return append(e);
}

static enum err
recover(const char *nhs, const struct keys_pair *next, const char *recovery)
{
    char e[2048], km[256];

    key_members(next, km, sizeof(km));
    snprintf(e, sizeof(e), "{\"v\":1,\"type\":\"patient.key\",\"time\":\"t\",\"nhs\":\"%s\",%s,%s}",
             nhs, km, recovery);
    return append(e);
}

static enum err
link_id(const char *nhs, const char *system, const char *value)
{
    char e[1024];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"identity.link\",\"time\":\"t\",\"nhs\":\"%s\",\"system\":\"%s\","
             "\"value\":\"%s\",\"by\":\"admin\"}",
             nhs, system, value);
    return append(e);
}

static void
assert_key(const char *nhs, const struct keys_pair *k, uint64_t enrol_index, uint64_t key_index)
{
    struct patients_patient p;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char kid[KEYS_KID_LEN + 1];

    keys_public(k, pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(patients_get(t, nhs, &p), ERR_OK);
    ck_assert_str_eq(p.nhs, nhs);
    ck_assert_mem_eq(p.pk, pk, KEYS_PUBLIC_BYTES);
    ck_assert_str_eq(p.kid, kid);
    ck_assert_uint_eq(p.enrol_index, enrol_index);
    ck_assert_uint_eq(p.key_index, key_index);
}

START_TEST(test_enrol_records_the_key)
{
    struct patients_patient p;

    ck_assert_int_eq(patients_get(t, NHS_A, &p), ERR_NOTFOUND);
    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    assert_key(NHS_A, k1, 0, 0);
    ck_assert_int_eq(patients_get(t, NHS_B, &p), ERR_NOTFOUND);
    ck_assert_int_eq(patients_get(t, "1234567890", &p), ERR_NOTFOUND);
}
END_TEST

START_TEST(test_enrol_twice_conflicts)
{
    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    ck_assert_int_eq(enrol(NHS_A, k2), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "already enrolled"));
    assert_key(NHS_A, k1, 0, 0);
}
END_TEST

START_TEST(test_bad_enrol_entries_are_refused)
{
    char km[256], e[512];

    ck_assert_int_eq(enrol("9434765918", k1), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "Modulus 11"));
    key_members(k1, km, sizeof(km));
    /* A kid that is not the key's. */
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"patient.enrol\",\"nhs\":\"%s\",\"jwk\":{\"kty\":\"OKP\","
             "\"crv\":\"Ed25519\",\"x\":\"%.43s\"},\"kid\":\"x\",\"by\":\"gp1\"}",
             NHS_A, strstr(km, "\"x\":\"") + 5);
    ck_assert_int_eq(append(e), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "kid"));
    /* No "by". */
    snprintf(e, sizeof(e), "{\"v\":1,\"type\":\"patient.enrol\",\"nhs\":\"%s\",%s}", NHS_A, km);
    ck_assert_int_eq(append(e), ERR_INVAL);
    /* A private key. */
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"patient.enrol\",\"nhs\":\"" NHS_A
                            "\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAAAAAAAAAAAA"
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"d\":\"x\"},\"kid\":\"x\","
                            "\"by\":\"gp1\"}"),
                     ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "private key"));
    /* An RSA key. */
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"patient.enrol\",\"nhs\":\"" NHS_A
                            "\",\"jwk\":{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\"},\"kid\":\"x\","
                            "\"by\":\"gp1\"}"),
                     ERR_INVAL);
    ck_assert_uint_eq(range.size, 0);
}
END_TEST

START_TEST(test_rotation_by_the_current_key)
{
    char *proof;

    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    proof = rotation_proof(k1, NHS_A, k2, NOW);
    ck_assert_int_eq(rotate(NHS_A, k2, proof), ERR_OK);
    free(proof);
    assert_key(NHS_A, k2, 0, 1);
    /* And again, now signed by the second key. */
    proof = rotation_proof(k2, NHS_A, k3, NOW);
    ck_assert_int_eq(rotate(NHS_A, k3, proof), ERR_OK);
    free(proof);
    assert_key(NHS_A, k3, 0, 2);
}
END_TEST

START_TEST(test_rotation_signed_by_the_wrong_key_is_refused)
{
    char *proof;

    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    /* Signed by the new key itself, not the current one. */
    proof = rotation_proof(k2, NHS_A, k2, NOW);
    ck_assert_int_eq(rotate(NHS_A, k2, proof), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "current key"));
    free(proof);
    /* Signed by a stranger. */
    proof = rotation_proof(k3, NHS_A, k2, NOW);
    ck_assert_int_eq(rotate(NHS_A, k2, proof), ERR_CONFLICT);
    free(proof);
    /* A key that was current once is not current now. */
    proof = rotation_proof(k1, NHS_A, k2, NOW);
    ck_assert_int_eq(rotate(NHS_A, k2, proof), ERR_OK);
    free(proof);
    proof = rotation_proof(k1, NHS_A, k3, NOW);
    ck_assert_int_eq(rotate(NHS_A, k3, proof), ERR_CONFLICT);
    free(proof);
    assert_key(NHS_A, k2, 0, 1);
}
END_TEST

START_TEST(test_rotation_proof_claims_must_match)
{
    uint8_t pk1[KEYS_PUBLIC_BYTES], pk2[KEYS_PUBLIC_BYTES], pk3[KEYS_PUBLIC_BYTES];
    char *proof;

    keys_public(k1, pk1);
    keys_public(k2, pk2);
    keys_public(k3, pk3);
    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, k3), ERR_OK);
    /* Another person's NHS number in sub. */
    proof = rotation_proof(k1, NHS_B, k2, NOW);
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, NOW, why),
                     ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "sub"));
    ck_assert_int_eq(rotate(NHS_A, k2, proof), ERR_INVAL);
    free(proof);
    /* A proof for another new key. */
    proof = rotation_proof(k1, NHS_A, k3, NOW);
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, NOW, why),
                     ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "jwk"));
    free(proof);
    /* Too old and too new; a replay does not check the time. */
    proof = rotation_proof(k1, NHS_A, k2, NOW - PATIENTS_PROOF_SKEW - 1);
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, NOW, why),
                     ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "iat"));
    ck_assert_int_eq(
        patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, PATIENTS_NO_TIME, why),
        ERR_OK);
    free(proof);
    proof = rotation_proof(k1, NHS_A, k2, NOW + PATIENTS_PROOF_SKEW + 1);
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, NOW, why),
                     ERR_INVAL);
    free(proof);
    proof = rotation_proof(k1, NHS_A, k2, NOW - PATIENTS_PROOF_SKEW);
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, NOW, why),
                     ERR_OK);
    /* A signature by another key. */
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk3, NHS_A, pk2, NOW, why),
                     ERR_BADSIG);
    /* Every truncation fails. */
    for (size_t n = 0; n < strlen(proof); n++)
        ck_assert_int_ne(patients_key_proof_check(t, proof, n, pk1, NHS_A, pk2, NOW, why), ERR_OK);
    free(proof);
    assert_key(NHS_A, k1, 0, 0);
}
END_TEST

START_TEST(test_rotation_to_the_same_key_or_of_nobody_is_refused)
{
    char *proof;

    proof = rotation_proof(k1, NHS_A, k2, NOW);
    ck_assert_int_eq(rotate(NHS_A, k2, proof), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "not enrolled"));
    free(proof);
    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    proof = rotation_proof(k1, NHS_A, k1, NOW);
    ck_assert_int_eq(rotate(NHS_A, k1, proof), ERR_CONFLICT);
    free(proof);
}
END_TEST

START_TEST(test_recovery_needs_a_reason)
{
    char long_reason[PATIENTS_REASON_MAX + 64], rec[PATIENTS_REASON_MAX + 128];
    char *proof;

    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    ck_assert_int_eq(recover(NHS_A, k2, "\"recovery\":{\"by\":\"gp1\"}"), ERR_INVAL);
    ck_assert_int_eq(recover(NHS_A, k2, "\"recovery\":{\"by\":\"gp1\",\"reason\":\"\"}"),
                     ERR_INVAL);
    ck_assert_int_eq(recover(NHS_A, k2, "\"recovery\":{\"reason\":\"lost phone\"}"), ERR_INVAL);
    memset(long_reason, 'x', PATIENTS_REASON_MAX + 1);
    long_reason[PATIENTS_REASON_MAX + 1] = '\0';
    snprintf(rec, sizeof(rec), "\"recovery\":{\"by\":\"gp1\",\"reason\":\"%s\"}", long_reason);
    ck_assert_int_eq(recover(NHS_A, k2, rec), ERR_INVAL);
    /* Neither proof nor recovery, and both. */
    ck_assert_int_eq(recover(NHS_A, k2, "\"by\":\"gp1\""), ERR_INVAL);
    proof = rotation_proof(k1, NHS_A, k2, NOW);
    snprintf(rec, sizeof(rec),
             "\"proof\":\"%s\",\"recovery\":{\"by\":\"gp1\",\"reason\":\"lost phone\"}", proof);
    free(proof);
    ck_assert_int_eq(recover(NHS_A, k2, rec), ERR_INVAL);
    assert_key(NHS_A, k1, 0, 0);
    ck_assert_int_eq(
        recover(NHS_A, k2,
                "\"recovery\":{\"by\":\"gp1\",\"reason\":\"lost phone, identity checked"
                " at the practice\"}"),
        ERR_OK);
    assert_key(NHS_A, k2, 0, 1);
}
END_TEST

START_TEST(test_reason_counts_characters)
{
    char r[4 * PATIENTS_REASON_MAX + 8];
    size_t i;

    /* 500 two-byte characters are 1000 bytes and still 500 characters. */
    for (i = 0; i < PATIENTS_REASON_MAX; i++)
        memcpy(r + 2 * i, "\xc3\xa9", 2);
    r[2 * PATIENTS_REASON_MAX] = '\0';
    ck_assert(patients_reason_valid(r));
    memcpy(r + 2 * PATIENTS_REASON_MAX, "x", 2);
    ck_assert(!patients_reason_valid(r));
    ck_assert(!patients_reason_valid(""));
    ck_assert(!patients_reason_valid("line\nbreak"));
    ck_assert(!patients_reason_valid("bidi \xe2\x80\xae trick"));
    ck_assert(patients_reason_valid("lost phone"));
}
END_TEST

START_TEST(test_link_and_resolve)
{
    char nhs[NHS_LEN + 1];

    /* Linking may precede enrolment. */
    ck_assert_int_eq(link_id(NHS_A, MRN, "H123"), ERR_OK);
    ck_assert_int_eq(patients_resolve(t, MRN "|H123", nhs, why), ERR_OK);
    ck_assert_str_eq(nhs, NHS_A);
    ck_assert_int_eq(patients_resolve(t, NHS_B, nhs, why), ERR_OK);
    ck_assert_str_eq(nhs, NHS_B);
    ck_assert_int_eq(patients_resolve(t, PATIENTS_NHS_SYSTEM "|" NHS_B, nhs, why), ERR_OK);
    ck_assert_str_eq(nhs, NHS_B);
    ck_assert_int_eq(patients_resolve(t, PATIENTS_NHS_SYSTEM "|9434765918", nhs, why), ERR_INVAL);
    ck_assert_int_eq(patients_resolve(t, MRN "|H124", nhs, why), ERR_NOTFOUND);
    ck_assert_str_eq(nhs, "");
    ck_assert_int_eq(patients_resolve(t, "9434765918", nhs, why), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "Modulus 11"));
    ck_assert_int_eq(patients_resolve(t, "943 476 5919", nhs, why), ERR_INVAL);
    ck_assert_int_eq(patients_resolve(t, "", nhs, why), ERR_INVAL);
    ck_assert_int_eq(patients_resolve(t, "|H123", nhs, why), ERR_INVAL);
    ck_assert_int_eq(patients_resolve(t, MRN "|", nhs, why), ERR_INVAL);
}
END_TEST

START_TEST(test_link_names_one_person)
{
    ck_assert_int_eq(link_id(NHS_A, MRN, "H123"), ERR_OK);
    ck_assert_int_eq(link_id(NHS_B, MRN, "H123"), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "another person"));
    ck_assert_int_eq(link_id(NHS_A, MRN, "H123"), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "this person"));
    /* One person may have many identifiers. */
    ck_assert_int_eq(link_id(NHS_A, MRN, "H999"), ERR_OK);
    ck_assert_int_eq(link_id(NHS_A, "https://other.example/id", "H123"), ERR_OK);
    ck_assert_uint_eq(range.size, 3);
}
END_TEST

START_TEST(test_bad_links_are_refused)
{
    ck_assert_int_eq(link_id(NHS_A, "a|b", "H1"), ERR_INVAL);
    ck_assert_int_eq(link_id(NHS_A, "", "H1"), ERR_INVAL);
    ck_assert_int_eq(link_id(NHS_A, MRN, ""), ERR_INVAL);
    ck_assert_int_eq(link_id(NHS_A, PATIENTS_NHS_SYSTEM, NHS_B), ERR_INVAL);
    ck_assert_int_eq(link_id("9434765918", MRN, "H1"), ERR_INVAL);
    ck_assert_int_eq(link_id(NHS_A, MRN, "H\\u0007"), ERR_INVAL);
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"identity.link\",\"nhs\":\"" NHS_A
                            "\",\"system\":\"s\",\"value\":\"v\"}"),
                     ERR_INVAL);
    ck_assert_uint_eq(range.size, 0);
}
END_TEST

START_TEST(test_proof_sub_may_be_a_linked_identifier)
{
    uint8_t pk1[KEYS_PUBLIC_BYTES], pk2[KEYS_PUBLIC_BYTES];
    char *proof;

    keys_public(k1, pk1);
    keys_public(k2, pk2);
    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    ck_assert_int_eq(link_id(NHS_A, MRN, "H123"), ERR_OK);
    ck_assert_int_eq(link_id(NHS_B, MRN, "H456"), ERR_OK);
    proof = rotation_proof(k1, MRN "|H123", k2, NOW);
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, NOW, why),
                     ERR_OK);
    free(proof);
    proof = rotation_proof(k1, MRN "|H456", k2, NOW);
    ck_assert_int_eq(patients_key_proof_check(t, proof, strlen(proof), pk1, NHS_A, pk2, NOW, why),
                     ERR_INVAL);
    free(proof);
}
END_TEST

START_TEST(test_enrol_proof)
{
    uint8_t pk1[KEYS_PUBLIC_BYTES], pk2[KEYS_PUBLIC_BYTES], hash[HASH_BYTES];
    char code[PATIENTS_CODE_LEN + 1], payload[256], *proof;

    keys_public(k1, pk1);
    keys_public(k2, pk2);
    patients_code_make(code, hash);
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"code\":\"%s\",\"iat\":%lld}", NHS_A, code,
             (long long)NOW);
    proof = sign(k1, payload);
    ck_assert_int_eq(
        patients_enrol_proof_check(t, proof, strlen(proof), pk1, NHS_A, code, NOW, why), ERR_OK);
    /* Not by the key being enrolled. */
    ck_assert_int_eq(
        patients_enrol_proof_check(t, proof, strlen(proof), pk2, NHS_A, code, NOW, why),
        ERR_BADSIG);
    /* For another person, another code, or too long ago. */
    ck_assert_int_eq(
        patients_enrol_proof_check(t, proof, strlen(proof), pk1, NHS_B, code, NOW, why), ERR_INVAL);
    code[0] = code[0] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(
        patients_enrol_proof_check(t, proof, strlen(proof), pk1, NHS_A, code, NOW, why), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "code"));
    code[0] = code[0] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(
        patients_enrol_proof_check(t, proof, strlen(proof), pk1, NHS_A, code, NOW + 10 * 60, why),
        ERR_INVAL);
    ck_assert_int_eq(patients_enrol_proof_check(t, "a.b.c", 5, pk1, NHS_A, code, NOW, why),
                     ERR_INVAL);
    free(proof);
}
END_TEST

START_TEST(test_code_is_random_and_only_its_hash_is_kept)
{
    char c1[PATIENTS_CODE_LEN + 1], c2[PATIENTS_CODE_LEN + 1];
    uint8_t h1[HASH_BYTES], h2[HASH_BYTES], again[HASH_BYTES], sha[HASH_BYTES];
    struct patients_code pc;
    const void *val;
    size_t len;

    patients_code_make(c1, h1);
    patients_code_make(c2, h2);
    ck_assert_uint_eq(strlen(c1), PATIENTS_CODE_LEN);
    ck_assert_str_ne(c1, c2);
    ck_assert_int_eq(patients_code_hash(c1, again), ERR_OK);
    ck_assert_mem_eq(h1, again, HASH_BYTES);
    hash_sha256((const uint8_t *)c1, strlen(c1), sha);
    ck_assert_mem_eq(h1, sha, HASH_BYTES);
    ck_assert_int_eq(patients_code_issue(t, h1, NHS_A, "gp1", NOW, why), ERR_OK);
    /* Stored under the hash; the value holds no trace of the code. */
    ck_assert_int_eq(store_get(t, STORE_ENROL, h1, HASH_BYTES, &val, &len), ERR_OK);
    for (size_t i = 0; i + 8 <= len; i++)
        ck_assert(memcmp((const char *)val + i, c1, 8) != 0);
    ck_assert_int_eq(store_get(t, STORE_ENROL, c1, strlen(c1), &val, &len), ERR_NOTFOUND);
    ck_assert_int_eq(patients_code_get(t, h1, &pc), ERR_OK);
    ck_assert_str_eq(pc.nhs, NHS_A);
    ck_assert_str_eq(pc.by, "gp1");
    ck_assert_int_eq(pc.expires, NOW + 24 * 60 * 60);
    ck_assert(!pc.used);
    ck_assert_int_eq(patients_code_get(t, h2, &pc), ERR_NOTFOUND);
    /* Nothing in the log. */
    ck_assert_uint_eq(range.size, 0);
    /* Malformed codes have no hash. */
    ck_assert_int_eq(patients_code_hash("short", again), ERR_INVAL);
    c2[5] = '+';
    ck_assert_int_eq(patients_code_hash(c2, again), ERR_INVAL);
}
END_TEST

START_TEST(test_code_is_single_use)
{
    char code[PATIENTS_CODE_LEN + 1];
    uint8_t hash[HASH_BYTES];
    struct patients_code pc;

    patients_code_make(code, hash);
    ck_assert_int_eq(patients_code_issue(t, hash, NHS_A, "gp1", NOW, why), ERR_OK);
    /* Checking is not using. */
    ck_assert_int_eq(patients_code_check(t, hash, NHS_A, NOW + 60, &pc, why), ERR_OK);
    ck_assert_int_eq(patients_code_check(t, hash, NHS_A, NOW + 60, &pc, why), ERR_OK);
    ck_assert(!pc.used);
    ck_assert_int_eq(patients_code_use(t, hash, NHS_A, NOW + 60, &pc, why), ERR_OK);
    ck_assert_str_eq(pc.by, "gp1");
    ck_assert_int_eq(patients_code_use(t, hash, NHS_A, NOW + 61, &pc, why), ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(why, "has been used"));
    ck_assert_int_eq(patients_code_check(t, hash, NHS_A, NOW + 61, &pc, why), ERR_AUTH);
    ck_assert_int_eq(patients_code_get(t, hash, &pc), ERR_OK);
    ck_assert(pc.used);
}
END_TEST

START_TEST(test_code_expires_after_24_hours)
{
    char code[PATIENTS_CODE_LEN + 1];
    uint8_t hash[HASH_BYTES];
    struct patients_code pc;

    patients_code_make(code, hash);
    ck_assert_int_eq(patients_code_issue(t, hash, NHS_A, "gp1", NOW, why), ERR_OK);
    ck_assert_int_eq(patients_code_use(t, hash, NHS_A, NOW + PATIENTS_CODE_TTL, &pc, why),
                     ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(why, "expired"));
    ck_assert_int_eq(patients_code_get(t, hash, &pc), ERR_OK);
    ck_assert(!pc.used);
    ck_assert_int_eq(patients_code_use(t, hash, NHS_A, NOW + PATIENTS_CODE_TTL - 1, &pc, why),
                     ERR_OK);
}
END_TEST

START_TEST(test_code_is_for_one_person)
{
    char code[PATIENTS_CODE_LEN + 1];
    uint8_t hash[HASH_BYTES], other[HASH_BYTES];
    struct patients_code pc;

    patients_code_make(code, hash);
    patients_code_make(code, other);
    ck_assert_int_eq(patients_code_issue(t, hash, NHS_A, "gp1", NOW, why), ERR_OK);
    ck_assert_int_eq(patients_code_use(t, hash, NHS_B, NOW, &pc, why), ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(why, "another NHS number"));
    ck_assert_int_eq(patients_code_use(t, other, NHS_A, NOW, &pc, why), ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(why, "not one consentd issued"));
    ck_assert_int_eq(patients_code_get(t, hash, &pc), ERR_OK);
    ck_assert(!pc.used);
}
END_TEST

START_TEST(test_no_code_for_an_enrolled_person)
{
    char code[PATIENTS_CODE_LEN + 1];
    uint8_t hash[HASH_BYTES];
    struct patients_code pc;

    ck_assert_int_eq(enrol(NHS_A, k1), ERR_OK);
    patients_code_make(code, hash);
    ck_assert_int_eq(patients_code_issue(t, hash, NHS_A, "gp1", NOW, why), ERR_CONFLICT);
    ck_assert_int_eq(patients_code_get(t, hash, &pc), ERR_NOTFOUND);
    ck_assert_int_eq(patients_code_issue(t, hash, "9434765918", "gp1", NOW, why), ERR_INVAL);
    ck_assert_int_eq(patients_code_issue(t, hash, NHS_B, "", NOW, why), ERR_INVAL);
}
END_TEST

/* The sequencer uses a code and applies the entry in one nested transaction: both or neither. */
START_TEST(test_refused_enrolment_leaves_the_code_unused)
{
    char code[PATIENTS_CODE_LEN + 1];
    uint8_t hash[HASH_BYTES];
    struct patients_code pc;
    struct store_txn *child = NULL;

    patients_code_make(code, hash);
    ck_assert_int_eq(patients_code_issue(t, hash, NHS_A, "gp1", NOW, why), ERR_OK);
    ck_assert_int_eq(store_begin_nested(t, &child), ERR_OK);
    ck_assert_int_eq(patients_code_use(child, hash, NHS_A, NOW, &pc, why), ERR_OK);
    store_abort(child);
    ck_assert_int_eq(patients_code_get(t, hash, &pc), ERR_OK);
    ck_assert(!pc.used);
}
END_TEST

Suite *
patients_suite(void)
{
    Suite *su = suite_create("patients");
    TCase *tc = tcase_create("patients");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_enrol_records_the_key);
    tcase_add_test(tc, test_enrol_twice_conflicts);
    tcase_add_test(tc, test_bad_enrol_entries_are_refused);
    tcase_add_test(tc, test_rotation_by_the_current_key);
    tcase_add_test(tc, test_rotation_signed_by_the_wrong_key_is_refused);
    tcase_add_test(tc, test_rotation_proof_claims_must_match);
    tcase_add_test(tc, test_rotation_to_the_same_key_or_of_nobody_is_refused);
    tcase_add_test(tc, test_recovery_needs_a_reason);
    tcase_add_test(tc, test_reason_counts_characters);
    tcase_add_test(tc, test_link_and_resolve);
    tcase_add_test(tc, test_link_names_one_person);
    tcase_add_test(tc, test_bad_links_are_refused);
    tcase_add_test(tc, test_proof_sub_may_be_a_linked_identifier);
    tcase_add_test(tc, test_enrol_proof);
    tcase_add_test(tc, test_code_is_random_and_only_its_hash_is_kept);
    tcase_add_test(tc, test_code_is_single_use);
    tcase_add_test(tc, test_code_expires_after_24_hours);
    tcase_add_test(tc, test_code_is_for_one_person);
    tcase_add_test(tc, test_no_code_for_an_enrolled_person);
    tcase_add_test(tc, test_refused_enrolment_leaves_the_code_unused);
    suite_add_tcase(su, tc);
    return su;
}
