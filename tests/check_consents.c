/*
 * check_consents: grants, denials, revocations and delegations applied through state_apply on
 * a temporary store, as the sequencer and a replay apply them; every refusal the consents
 * module names; statuses; and what a decision reads from the state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/jws.h"
#include "consentd/patients.h"
#include "consentd/policy.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP   (64u * 1024 * 1024)
#define NHS_A "9434765919"
#define NHS_B "9434765870"
#define NHS_C "4010232137"
#define NHS_D "9990548609"
#define T0    "2026-11-23T12:00:00Z"
#define START "2026-11-01T00:00:00Z"
#define END   "2027-11-01T00:00:00Z"
#define DT    "\"gp-record\",\"medications\""

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static char why[STATE_WHY_MAX];
static struct keys_pair *ka, *kb, *kc, *kx;
static int64_t t0;
static enum consents_refusal code;

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&range);
    ka = tu_key(1);
    kb = tu_key(2);
    kc = tu_key(3);
    kx = tu_key(9);
    ck_assert_int_eq(consents_time_parse(T0, &t0), ERR_OK);
}

static void
teardown(void)
{
    keys_free(ka);
    keys_free(kb);
    keys_free(kc);
    keys_free(kx);
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

static void
kid_of(const struct keys_pair *k, char kid[static KEYS_KID_LEN + 1])
{
    uint8_t pk[KEYS_PUBLIC_BYTES];

    keys_public(k, pk);
    keys_kid(pk, kid);
}

static enum err
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
    return append(e);
}

/* recover_key replaces nhs's key with k by a recovery entry. */
static enum err
recover_key(const char *nhs, const struct keys_pair *k)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char e[512], x[64], kid[KEYS_KID_LEN + 1];

    keys_public(k, pk);
    keys_kid(pk, kid);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"patient.key\",\"time\":\"" T0 "\",\"nhs\":\"%s\",\"jwk\":{"
             "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},\"kid\":\"%s\",\"recovery\":{"
             "\"by\":\"admin\",\"reason\":\"lost\"}}",
             nhs, x, kid);
    return append(e);
}

/* sign makes a JWS by k with typ and the kid of kid_key over payload (caller frees). */
static char *
sign(const struct keys_pair *k, const struct keys_pair *kid_key, const char *typ,
     const char *payload)
{
    char kid[KEYS_KID_LEN + 1], *jws = NULL;

    kid_of(kid_key, kid);
    ck_assert_int_eq(jws_sign(k, typ, kid, payload, strlen(payload), &jws), ERR_OK);
    return jws;
}

/*
 * grant_payload writes a grant's payload: effect, grantee JSON, purpose, datatypes JSON
 * members, period.
 */
static void
grant_payload(char *out, size_t cap, const char *iss, const char *sub, const char *jti,
              const char *effect, const char *grantee, const char *purpose, const char *dts,
              const char *start, const char *end)
{
    snprintf(out, cap,
             "{\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\",\"iat\":1764000000,\"effect\":\"%s\","
             "\"grantee\":%s,\"purpose\":\"%s\",\"datatypes\":[%s],\"actions\":[\"read\"],"
             "\"period\":{\"start\":\"%s\",\"end\":\"%s\"}}",
             iss, sub, jti, effect, grantee, purpose, dts, start, end);
}

/* entry_of writes an entry of type at time T0 holding {"jws": jws}. */
static enum err
append_jws(const char *type, const char *jws)
{
    char *e = malloc(strlen(jws) + 128);
    enum err rc;

    ck_assert_ptr_nonnull(e);
    sprintf(e, "{\"v\":1,\"type\":\"%s\",\"time\":\"" T0 "\",\"jws\":\"%s\"}", type, jws);
    rc = append(e);
    free(e);
    return rc;
}

/* grant signs a grant by k (kid k) and applies it. */
static enum err
grant(const struct keys_pair *k, const char *iss, const char *sub, const char *jti,
      const char *effect, const char *purpose, const char *dts)
{
    char payload[1024], *jws;
    enum err rc;

    grant_payload(payload, sizeof(payload), iss, sub, jti, effect, "{\"org\":\"A81001\"}", purpose,
                  dts, START, END);
    jws = sign(k, k, CONSENTS_TYP_GRANT, payload);
    rc = append_jws("consent", jws);
    free(jws);
    return rc;
}

/* check_grant runs consents_grant_check on a grant signed by k at t0. */
static enum err
check_payload(const struct keys_pair *k, const char *typ, const char *payload)
{
    struct consents_grant g;
    char *jws = sign(k, k, typ, payload);
    enum err rc;

    rc = consents_grant_check(t, jws, strlen(jws), t0, &g, &code, why);
    free(jws);
    return rc;
}

static enum err
revoke(const struct keys_pair *k, const char *iss, const char *sub, const char *jti,
       const char *grant_jti)
{
    char payload[512], *jws;
    enum err rc;

    snprintf(payload, sizeof(payload),
             "{\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\",\"grant\":\"%s\",\"iat\":1764000000}",
             iss, sub, jti, grant_jti);
    jws = sign(k, k, CONSENTS_TYP_REVOKE, payload);
    {
        struct consents_revocation r;
        enum err pre = consents_revoke_check(t, jws, strlen(jws), t0, &r, &code, why);
        (void)pre;
    }
    rc = append_jws("consent.revoke", jws);
    free(jws);
    return rc;
}

/* delegate: person signs (k) a delegation to delegate with rights JSON and period. */
static enum err
delegate(const struct keys_pair *k, const char *person, const char *to, const char *jti,
         const char *rights, const char *start, const char *end)
{
    char payload[1024], *jws;
    struct consents_delegation d;
    enum err rc;

    snprintf(payload, sizeof(payload),
             "{\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\",\"delegate\":\"%s\",\"rights\":%s,"
             "\"relationship\":\"carer\",\"period\":{\"start\":\"%s\",\"end\":\"%s\"}}",
             person, person, jti, to, rights, start, end);
    jws = sign(k, k, CONSENTS_TYP_DELEGATION, payload);
    rc = consents_delegation_check(t, jws, strlen(jws), NULL, t0, &d, &code, why);
    if (rc == ERR_OK)
        rc = append_jws("delegation", jws);
    free(jws);
    return rc;
}

#define ALL_RIGHTS                                                                                 \
    "{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":[\"grant\",\"deny\",\"revoke\"]}"

static enum err
admin_delegate(const char *person, const char *to, const char *rights)
{
    char e[1024];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"delegation\",\"time\":\"" T0 "\",\"nhs\":\"%s\","
             "\"delegate\":\"%s\",\"rights\":%s,\"relationship\":\"guardian\",\"reason\":\"court "
             "order 123\",\"by\":\"admin\"}",
             person, to, rights);
    return append(e);
}

START_TEST(test_time_parse_and_format)
{
    char out[CONSENTS_TIME_LEN + 1];
    int64_t v;

    ck_assert_int_eq(consents_time_parse("1970-01-01T00:00:00Z", &v), ERR_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(consents_time_parse("2025-11-24T16:00:00Z", &v), ERR_OK);
    ck_assert_int_eq(v, 1764000000);
    ck_assert_int_eq(consents_time_parse("2024-02-29T23:59:59Z", &v), ERR_OK);
    consents_time_format(v, out);
    ck_assert_str_eq(out, "2024-02-29T23:59:59Z");
    ck_assert_int_eq(consents_time_parse("2025-02-29T00:00:00Z", &v), ERR_INVAL);
    ck_assert_int_eq(consents_time_parse("2025-11-24T16:00:00+00:00", &v), ERR_INVAL);
    ck_assert_int_eq(consents_time_parse("2025-11-24T16:00:00.5Z", &v), ERR_INVAL);
    ck_assert_int_eq(consents_time_parse("2025-11-24 16:00:00Z", &v), ERR_INVAL);
    ck_assert_int_eq(consents_time_parse("2025-13-24T16:00:00Z", &v), ERR_INVAL);
    ck_assert_int_eq(consents_time_parse("2025-11-24T24:00:00Z", &v), ERR_INVAL);
    ck_assert_int_eq(consents_time_parse(NULL, &v), ERR_INVAL);
}
END_TEST

START_TEST(test_grant_by_the_person_is_recorded)
{
    struct consents_record rec;

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g1", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(consents_get(t, "g1", &rec), ERR_OK);
    ck_assert_uint_eq(rec.index, 1);
    ck_assert_int_eq(rec.recorded, t0);
    ck_assert(!rec.revoked);
    ck_assert_str_eq(rec.g.sub, NHS_A);
    ck_assert_int_eq(rec.g.effect, CONSENT_PERMIT);
    ck_assert_int_eq(rec.g.grantee, CONSENT_GRANTEE_ORG);
    ck_assert_str_eq(rec.g.grantee_value, "A81001");
    ck_assert_uint_eq(rec.g.ndatatypes, 2);
    ck_assert_str_eq(rec.g.datatypes[1], "medications");
    ck_assert_int_eq(consents_status(&rec, t0), CONSENTS_ACTIVE);
    ck_assert_int_eq(consents_get(t, "nope", &rec), ERR_NOTFOUND);
}
END_TEST

START_TEST(test_signature_by_any_other_key_is_refused)
{
    char payload[1024], *jws;
    struct consents_grant g;

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    grant_payload(payload, sizeof(payload), NHS_A, NHS_A, "g1", "permit", "\"*\"", "TREAT", DT,
                  START, END);
    /* A stranger's key, naming its own kid. */
    ck_assert_int_eq(check_payload(kx, CONSENTS_TYP_GRANT, payload), ERR_BADSIG);
    ck_assert_int_eq(code, CONSENTS_BAD_SIGNATURE);
    /* A stranger's key naming the person's kid. */
    jws = sign(kx, ka, CONSENTS_TYP_GRANT, payload);
    ck_assert_int_eq(consents_grant_check(t, jws, strlen(jws), t0, &g, &code, why), ERR_BADSIG);
    ck_assert_int_eq(append_jws("consent", jws), ERR_CONFLICT);
    free(jws);
    /* The person's key once current, after the key changed. */
    ck_assert_int_eq(recover_key(NHS_A, kb), ERR_OK);
    ck_assert_int_eq(check_payload(ka, CONSENTS_TYP_GRANT, payload), ERR_BADSIG);
    ck_assert_int_eq(check_payload(kb, CONSENTS_TYP_GRANT, payload), ERR_OK);
    /* Every truncation fails. */
    jws = sign(kb, kb, CONSENTS_TYP_GRANT, payload);
    for (size_t n = 0; n < strlen(jws); n++)
        ck_assert_int_ne(consents_grant_check(t, jws, n, t0, &g, &code, why), ERR_OK);
    free(jws);
    ck_assert_uint_eq(range.size, 2);
}
END_TEST

START_TEST(test_unenrolled_signer_is_refused)
{
    char payload[1024];

    grant_payload(payload, sizeof(payload), NHS_A, NHS_A, "g1", "permit", "\"*\"", "TREAT", DT,
                  START, END);
    ck_assert_int_eq(check_payload(ka, CONSENTS_TYP_GRANT, payload), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_SIGNER_UNKNOWN);
}
END_TEST

START_TEST(test_malformed_grants_are_refused)
{
    static const char *const bad[] = {
        /* an unknown member */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"},\"x\":1}",
        /* no iat */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"g\",\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
        /* effect */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"allow\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
        /* grantee with two members */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":{\"org\":\"A81001\",\"role\":\"pharmacy\"},\"purpose\":\"TREAT\","
        "\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
        /* an action other than read */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"write\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
        /* a repeated category */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\",\"a\"],\"actions\":[\"read\"]"
        ","
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
        /* no categories */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
        /* a period in another format */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"2026-11-01\",\"end\":\"" END "\"}}",
        /* a bad NHS number */
        "{\"iss\":\"9434765918\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
        /* a jti with a slash */
        "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A
        "\",\"jti\":\"g/1\",\"iat\":1,\"effect\":\"permit\","
        "\"grantee\":\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
        "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}}",
    };
    char payload[1024], *jws;
    size_t i;

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(check_payload(ka, CONSENTS_TYP_GRANT, bad[i]) == ERR_INVAL, "case %zu", i);
        ck_assert_int_eq(code, CONSENTS_MALFORMED);
    }
    /* The wrong typ, and no kid. */
    grant_payload(payload, sizeof(payload), NHS_A, NHS_A, "g1", "permit", "\"*\"", "TREAT", DT,
                  START, END);
    ck_assert_int_eq(check_payload(ka, "JWT", payload), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "typ"));
    ck_assert_int_eq(jws_sign(ka, CONSENTS_TYP_GRANT, NULL, payload, strlen(payload), &jws),
                     ERR_OK);
    ck_assert_int_eq(append_jws("consent", jws), ERR_INVAL);
    free(jws);
    /* An entry with more than the JWS. */
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"consent\",\"time\":\"" T0
                            "\",\"jws\":\"a.b.c\",\"nhs\":\"" NHS_A "\"}"),
                     ERR_INVAL);
    ck_assert_uint_eq(range.size, 1);
}
END_TEST

START_TEST(test_period_must_end_after_it_starts)
{
    char payload[1024];

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    grant_payload(payload, sizeof(payload), NHS_A, NHS_A, "g1", "permit", "\"*\"", "TREAT", DT, END,
                  START);
    ck_assert_int_eq(check_payload(ka, CONSENTS_TYP_GRANT, payload), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_BAD_PERIOD);
    grant_payload(payload, sizeof(payload), NHS_A, NHS_A, "g1", "permit", "\"*\"", "TREAT", DT,
                  START, START);
    ck_assert_int_eq(check_payload(ka, CONSENTS_TYP_GRANT, payload), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_BAD_PERIOD);
}
END_TEST

START_TEST(test_reused_jti_is_refused)
{
    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g1", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g1", "deny", "TREAT", DT), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "jti"));
    /* Across people, and across kinds: a revocation's jti is taken too. */
    ck_assert_int_eq(grant(kb, NHS_B, NHS_B, "g1", "permit", "TREAT", DT), ERR_CONFLICT);
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r1", "g1"), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "r1", "permit", "TREAT", DT), ERR_CONFLICT);
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "g1", "g1"), ERR_CONFLICT);
    ck_assert_uint_eq(range.size, 4);
}
END_TEST

START_TEST(test_iss_without_a_delegation_is_refused)
{
    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(grant(kb, NHS_B, NHS_A, "g1", "permit", "TREAT", DT), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "delegation"));
    /* The delegation the other way round does not help. */
    ck_assert_int_eq(delegate(kb, NHS_B, NHS_A, "d1", ALL_RIGHTS, START, END), ERR_OK);
    ck_assert_int_eq(grant(kb, NHS_B, NHS_A, "g1", "permit", "TREAT", DT), ERR_INVAL);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_B, "g2", "permit", "TREAT", DT), ERR_OK);
}
END_TEST

START_TEST(test_delegate_within_and_beyond_rights)
{
    char payload[1024];

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_B, "d1",
                              "{\"purposes\":[\"TREAT\"],\"datatypes\":[\"gp-record\","
                              "\"medications\"],\"actions\":[\"grant\"]}",
                              START, END),
                     ERR_OK);
    /* Within: B signs with B's own key for A. */
    ck_assert_int_eq(grant(kb, NHS_B, NHS_A, "g1", "permit", "TREAT", DT), ERR_OK);
    /* Beyond: another purpose, another category, a denial (no deny right). */
    grant_payload(payload, sizeof(payload), NHS_B, NHS_A, "g2", "permit", "\"*\"", "HRESCH", DT,
                  START, END);
    ck_assert_int_eq(check_payload(kb, CONSENTS_TYP_GRANT, payload), ERR_AUTH);
    ck_assert_int_eq(code, CONSENTS_BEYOND_RIGHTS);
    grant_payload(payload, sizeof(payload), NHS_B, NHS_A, "g2", "permit", "\"*\"", "TREAT",
                  "\"gp-record\",\"mental-health\"", START, END);
    ck_assert_int_eq(check_payload(kb, CONSENTS_TYP_GRANT, payload), ERR_AUTH);
    ck_assert_int_eq(code, CONSENTS_BEYOND_RIGHTS);
    grant_payload(payload, sizeof(payload), NHS_B, NHS_A, "g2", "deny", "\"*\"", "TREAT", DT, START,
                  END);
    ck_assert_int_eq(check_payload(kb, CONSENTS_TYP_GRANT, payload), ERR_AUTH);
    ck_assert_int_eq(code, CONSENTS_BEYOND_RIGHTS);
    ck_assert_int_eq(grant(kb, NHS_B, NHS_A, "g2", "deny", "TREAT", DT), ERR_INVAL);
    /* Signed with A's key but naming B as iss: B's key is the one that counts. */
    grant_payload(payload, sizeof(payload), NHS_B, NHS_A, "g3", "permit", "\"*\"", "TREAT", DT,
                  START, END);
    ck_assert_int_eq(check_payload(ka, CONSENTS_TYP_GRANT, payload), ERR_BADSIG);
    ck_assert_uint_eq(range.size, 4);
}
END_TEST

START_TEST(test_delegation_outside_its_period_does_not_count)
{
    char payload[1024];

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_B, "d1", ALL_RIGHTS, "2025-01-01T00:00:00Z",
                              "2026-01-01T00:00:00Z"),
                     ERR_OK);
    grant_payload(payload, sizeof(payload), NHS_B, NHS_A, "g1", "permit", "\"*\"", "TREAT", DT,
                  START, END);
    ck_assert_int_eq(check_payload(kb, CONSENTS_TYP_GRANT, payload), ERR_AUTH);
    ck_assert_int_eq(code, CONSENTS_NOT_DELEGATED);
    /* A future delegation does not count yet either. */
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_B, "d2", ALL_RIGHTS, "2027-01-01T00:00:00Z",
                              "2028-01-01T00:00:00Z"),
                     ERR_OK);
    ck_assert_int_eq(check_payload(kb, CONSENTS_TYP_GRANT, payload), ERR_AUTH);
    ck_assert_int_eq(code, CONSENTS_NOT_DELEGATED);
}
END_TEST

START_TEST(test_admin_delegation_for_a_person_without_a_key)
{
    bool yes = false;

    /* A young child, not enrolled; the parent is. */
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(admin_delegate(NHS_A, NHS_B, ALL_RIGHTS), ERR_OK);
    ck_assert_int_eq(consents_delegated(t, NHS_A, NHS_B, t0, &yes), ERR_OK);
    ck_assert(yes);
    ck_assert_int_eq(consents_delegated(t, NHS_B, NHS_A, t0, &yes), ERR_OK);
    ck_assert(!yes);
    ck_assert_int_eq(grant(kb, NHS_B, NHS_A, "g1", "deny", "HRESCH", DT), ERR_OK);
    /* No reason, or not by the admin. */
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"delegation\",\"time\":\"" T0 "\",\"nhs\":\"" NHS_C
                            "\",\"delegate\":\"" NHS_B "\",\"rights\":" ALL_RIGHTS
                            ",\"relationship\":\"guardian\",\"by\":\"admin\"}"),
                     ERR_INVAL);
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"delegation\",\"time\":\"" T0 "\",\"nhs\":\"" NHS_C
                            "\",\"delegate\":\"" NHS_B "\",\"rights\":" ALL_RIGHTS
                            ",\"relationship\":\"guardian\",\"reason\":\"x\",\"by\":\"gp\"}"),
                     ERR_INVAL);
    /* Rights that are not rights. */
    ck_assert_int_eq(
        admin_delegate(NHS_C, NHS_B, "{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":[]}"),
        ERR_INVAL);
    ck_assert_int_eq(admin_delegate(NHS_C, NHS_B,
                                    "{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":["
                                    "\"read\"]}"),
                     ERR_INVAL);
    ck_assert_int_eq(admin_delegate(NHS_C, NHS_B, "{\"purposes\":\"*\",\"datatypes\":\"*\"}"),
                     ERR_INVAL);
}
END_TEST

START_TEST(test_delegation_refusals)
{
    char payload[1024], *jws;
    struct consents_delegation d;

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    /* To oneself. */
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_A, "d1", ALL_RIGHTS, START, END), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_SELF_DELEGATION);
    /* To someone not enrolled. */
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_C, "d1", ALL_RIGHTS, START, END), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_DELEGATE_UNKNOWN);
    ck_assert_int_eq(admin_delegate(NHS_A, NHS_D, ALL_RIGHTS), ERR_INVAL);
    /* Signed by someone else (the delegate, say). */
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"d1\",\"delegate\":\"" NHS_B
             "\",\"rights\":" ALL_RIGHTS
             ",\"relationship\":\"carer\",\"period\":{\"start\":\"" START "\",\"end\":\"" END
             "\"}}");
    jws = sign(kb, kb, CONSENTS_TYP_DELEGATION, payload);
    ck_assert_int_eq(consents_delegation_check(t, jws, strlen(jws), NULL, t0, &d, &code, why),
                     ERR_BADSIG);
    ck_assert_int_eq(append_jws("delegation", jws), ERR_CONFLICT);
    free(jws);
    /* iss other than sub. */
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"" NHS_B "\",\"sub\":\"" NHS_A "\",\"jti\":\"d1\",\"delegate\":\"" NHS_B
             "\",\"rights\":" ALL_RIGHTS
             ",\"relationship\":\"carer\",\"period\":{\"start\":\"" START "\",\"end\":\"" END
             "\"}}");
    jws = sign(kb, kb, CONSENTS_TYP_DELEGATION, payload);
    ck_assert_int_eq(consents_delegation_check(t, jws, strlen(jws), NULL, t0, &d, &code, why),
                     ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_MALFORMED);
    free(jws);
    /* No period. */
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"" NHS_A "\",\"sub\":\"" NHS_A "\",\"jti\":\"d1\",\"delegate\":\"" NHS_B
             "\",\"rights\":" ALL_RIGHTS ",\"relationship\":\"carer\"}");
    jws = sign(ka, ka, CONSENTS_TYP_DELEGATION, payload);
    ck_assert_int_eq(consents_delegation_check(t, jws, strlen(jws), NULL, t0, &d, &code, why),
                     ERR_INVAL);
    free(jws);
    /* A reused jti. */
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_B, "d1", ALL_RIGHTS, START, END), ERR_OK);
    ck_assert_int_eq(enrol(NHS_C, kc), ERR_OK);
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_C, "d1", ALL_RIGHTS, START, END), ERR_CONFLICT);
    ck_assert_int_eq(code, CONSENTS_JTI_REUSED);
}
END_TEST

START_TEST(test_delegation_loops_are_refused)
{
    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(enrol(NHS_C, kc), ERR_OK);
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_B, "d1", ALL_RIGHTS, START, END), ERR_OK);
    /* B→A while A→B holds. */
    ck_assert_int_eq(delegate(kb, NHS_B, NHS_A, "d2", ALL_RIGHTS, START, END), ERR_CONFLICT);
    ck_assert_int_eq(code, CONSENTS_DELEGATION_LOOP);
    ck_assert_int_eq(admin_delegate(NHS_B, NHS_A, ALL_RIGHTS), ERR_CONFLICT);
    /* A longer cycle: A→B, B→C, then C→A. */
    ck_assert_int_eq(delegate(kb, NHS_B, NHS_C, "d3", ALL_RIGHTS, START, END), ERR_OK);
    ck_assert_int_eq(delegate(kc, NHS_C, NHS_A, "d4", ALL_RIGHTS, START, END), ERR_CONFLICT);
    ck_assert_int_eq(code, CONSENTS_DELEGATION_LOOP);
    /* A second A→B, or A→C, closes no loop. */
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_B, "d5", ALL_RIGHTS, START, END), ERR_OK);
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_C, "d6", ALL_RIGHTS, START, END), ERR_OK);
    /* An ended delegation is no longer an edge: after A→B ends, B→A is fine. */
    ck_assert_int_eq(enrol(NHS_D, kx), ERR_OK);
    ck_assert_int_eq(delegate(kx, NHS_D, NHS_C, "d7", ALL_RIGHTS, "2025-01-01T00:00:00Z",
                              "2026-01-01T00:00:00Z"),
                     ERR_OK);
    ck_assert_int_eq(delegate(kc, NHS_C, NHS_D, "d8", ALL_RIGHTS, START, END), ERR_OK);
}
END_TEST

START_TEST(test_revocation_rules)
{
    struct consents_record rec;

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "ga", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(grant(kb, NHS_B, NHS_B, "gb", "permit", "TREAT", DT), ERR_OK);
    /* Unknown grant. */
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r0", "nothing"), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_GRANT_UNKNOWN);
    /* Another person's grant, signed by me about me. */
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r0", "gb"), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_OTHER_PERSON);
    /* Another person's grant, claiming to be about them: no delegation. */
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_B, "r0", "gb"), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_NOT_DELEGATED);
    /* Signed by another key. */
    ck_assert_int_eq(revoke(kb, NHS_A, NHS_A, "r0", "ga"), ERR_CONFLICT);
    ck_assert_int_eq(code, CONSENTS_BAD_SIGNATURE);
    /* The person's own: recorded with its index and time. */
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r1", "ga"), ERR_OK);
    ck_assert_int_eq(consents_get(t, "ga", &rec), ERR_OK);
    ck_assert(rec.revoked);
    ck_assert_uint_eq(rec.revoke_index, 4);
    ck_assert_int_eq(rec.revoked_at, t0);
    ck_assert_int_eq(consents_status(&rec, t0), CONSENTS_REVOKED);
    /* Twice. */
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r2", "ga"), ERR_CONFLICT);
    ck_assert_int_eq(code, CONSENTS_ALREADY_REVOKED);
    /* A revocation is not a grant. */
    ck_assert_int_eq(consents_get(t, "r1", &rec), ERR_NOTFOUND);
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r3", "r1"), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_GRANT_UNKNOWN);
    ck_assert_uint_eq(range.size, 5);
}
END_TEST

START_TEST(test_delegate_revokes_only_with_the_right)
{
    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(enrol(NHS_C, kc), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g1", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_B, "d1",
                              "{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":[\"grant\"]}",
                              START, END),
                     ERR_OK);
    ck_assert_int_eq(delegate(ka, NHS_A, NHS_C, "d2",
                              "{\"purposes\":\"*\",\"datatypes\":\"*\",\"actions\":[\"revoke\"]}",
                              START, END),
                     ERR_OK);
    ck_assert_int_eq(revoke(kb, NHS_B, NHS_A, "r1", "g1"), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_BEYOND_RIGHTS);
    ck_assert_int_eq(revoke(kc, NHS_C, NHS_A, "r1", "g1"), ERR_OK);
}
END_TEST

static enum err
collect(void *ctx, const struct consents_record *rec)
{
    char *out = ctx;

    strcat(out, rec->g.jti);
    strcat(out, " ");
    return ERR_OK;
}

START_TEST(test_list_is_newest_first_with_status)
{
    char payload[1024], *jws, got[256] = "";
    struct consents_record rec;

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "zz", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(grant(kb, NHS_B, NHS_B, "bb", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "aa", "deny", "TREAT", DT), ERR_OK);
    grant_payload(payload, sizeof(payload), NHS_A, NHS_A, "mm", "permit", "\"*\"", "TREAT", DT,
                  "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z");
    jws = sign(ka, ka, CONSENTS_TYP_GRANT, payload);
    ck_assert_int_eq(append_jws("consent", jws), ERR_OK);
    free(jws);
    ck_assert_int_eq(consents_list(t, NHS_A, collect, got), ERR_OK);
    ck_assert_str_eq(got, "mm aa zz ");
    ck_assert_int_eq(consents_get(t, "mm", &rec), ERR_OK);
    ck_assert_int_eq(consents_status(&rec, t0), CONSENTS_PENDING);
    ck_assert_int_eq(consents_status(&rec, rec.g.end), CONSENTS_EXPIRED);
    ck_assert_int_eq(consents_status(&rec, rec.g.end - 1), CONSENTS_ACTIVE);
    ck_assert_str_eq(consents_status_name(CONSENTS_PENDING), "pending");
    got[0] = '\0';
    ck_assert_int_eq(consents_list(t, NHS_C, collect, got), ERR_OK);
    ck_assert_str_eq(got, "");
}
END_TEST

/* enroller registers organisation A81001 (once) and its client id with roles (a JSON array). */
static void
enroller(const char *id, const char *roles)
{
    uint8_t pk[KEYS_PUBLIC_BYTES];
    char e[512], x[64];
    uint64_t oi;

    keys_public(kx, pk);
    ck_assert_int_eq(b64_encode(pk, sizeof(pk), B64_URL, x, sizeof(x)), ERR_OK);
    if (state_org_index(t, "A81001", &oi) == ERR_NOTFOUND)
        ck_assert_int_eq(append("{\"v\":1,\"type\":\"org\",\"time\":\"" T0
                                "\",\"ods\":\"A81001\",\"name\":\"GP\",\"org_type\":"
                                "\"gp-practice\"}"),
                         ERR_OK);
    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"client\",\"time\":\"" T0 "\",\"client_id\":\"%s\","
             "\"org\":\"A81001\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"},"
             "\"roles\":%s}",
             id, x, roles);
    ck_assert_int_eq(append(e), ERR_OK);
}

/* paper applies a grant taken on paper about sub, recorded by the client by. */
static enum err
paper(const char *sub, const char *jti, const char *effect, const char *dts, const char *by)
{
    char e[1024];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"consent\",\"time\":\"" T0 "\",\"paper\":{\"sub\":\"%s\","
             "\"jti\":\"%s\",\"effect\":\"%s\",\"grantee\":{\"org\":\"RX1\"},\"purpose\":"
             "\"TREAT\",\"datatypes\":[%s],\"actions\":[\"read\"],\"period\":{\"start\":"
             "\"" START "\",\"end\":\"" END "\"}},\"by\":\"%s\"}",
             sub, jti, effect, dts, by);
    return append(e);
}

START_TEST(test_paper_grant_is_recorded_like_a_signed_one)
{
    struct consents_record rec;
    char got[256] = "";

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    enroller("gp-1", "[\"enroller\"]");
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g1", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(paper(NHS_A, "p1", "permit", DT, "gp-1"), ERR_OK);
    ck_assert_int_eq(consents_get(t, "p1", &rec), ERR_OK);
    ck_assert_int_eq(rec.source, CONSENTS_SOURCE_PAPER);
    ck_assert_str_eq(rec.by, "gp-1");
    ck_assert_str_eq(rec.g.iss, NHS_A);
    ck_assert_str_eq(rec.g.sub, NHS_A);
    ck_assert_int_eq(rec.g.grantee, CONSENT_GRANTEE_ORG);
    ck_assert_str_eq(rec.g.grantee_value, "RX1");
    ck_assert_uint_eq(rec.g.ndatatypes, 2);
    ck_assert_uint_eq(rec.index, range.size - 1);
    ck_assert_int_eq(rec.recorded, t0);
    ck_assert_int_eq(consents_status(&rec, t0), CONSENTS_ACTIVE);
    ck_assert_int_eq(consents_get(t, "g1", &rec), ERR_OK);
    ck_assert_int_eq(rec.source, CONSENTS_SOURCE_SIGNED);
    ck_assert_str_eq(rec.by, "");
    /* Listed as the person's, newest first, with the signed one. */
    ck_assert_int_eq(consents_list(t, NHS_A, collect, got), ERR_OK);
    ck_assert_str_eq(got, "p1 g1 ");
}
END_TEST

START_TEST(test_paper_grant_refusals)
{
    struct consents_grant g;
    char jti[CONSENTS_PAPER_JTI_LEN + 1], jti2[CONSENTS_PAPER_JTI_LEN + 1];
    size_t before;
    cJSON *o;

    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    enroller("gp-1", "[\"enroller\"]");
    enroller("aud-1", "[\"auditor\"]");
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g1", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(paper(NHS_A, "p1", "permit", DT, "gp-1"), ERR_OK);
    before = range.size;
    /* A jti used by a signed grant, or by another paper grant. */
    ck_assert_int_eq(paper(NHS_A, "g1", "permit", DT, "gp-1"), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "jti"));
    ck_assert_int_eq(paper(NHS_A, "p1", "deny", DT, "gp-1"), ERR_CONFLICT);
    /* A person not enrolled. */
    ck_assert_int_eq(paper(NHS_B, "p2", "permit", DT, "gp-1"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "not enrolled"));
    /* Recorded by a client that is no enroller, or by no client. */
    ck_assert_int_eq(paper(NHS_A, "p2", "permit", DT, "aud-1"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "enroller"));
    ck_assert_int_eq(paper(NHS_A, "p2", "permit", DT, "nobody"), ERR_INVAL);
    ck_assert_int_eq(paper(NHS_A, "p2", "permit", DT, "no/such"), ERR_INVAL);
    /* Shapes: a category repeated, an effect, members of a signed payload, extra members. */
    ck_assert_int_eq(paper(NHS_A, "p2", "permit", "\"a\",\"a\"", "gp-1"), ERR_INVAL);
    ck_assert_int_eq(paper(NHS_A, "p2", "allow", DT, "gp-1"), ERR_INVAL);
    ck_assert_int_eq(
        append("{\"v\":1,\"type\":\"consent\",\"time\":\"" T0 "\",\"paper\":{\"iss\":\"" NHS_A
               "\",\"sub\":\"" NHS_A "\",\"jti\":\"p2\",\"effect\":\"permit\",\"grantee\":\"*\","
               "\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
               "\"period\":{\"start\":\"" START "\",\"end\":\"" END "\"}},\"by\":\"gp-1\"}"),
        ERR_INVAL);
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"consent\",\"time\":\"" T0
                            "\",\"paper\":{},\"by\":\"gp-1\",\"jws\":\"a.b.c\"}"),
                     ERR_INVAL);
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"consent\",\"time\":\"" T0
                            "\",\"paper\":\"yes\",\"by\":\"gp-1\"}"),
                     ERR_INVAL);
    /* A period that ends when it starts. */
    o = cJSON_Parse("{\"sub\":\"" NHS_A "\",\"jti\":\"p3\",\"effect\":\"permit\",\"grantee\":"
                    "\"*\",\"purpose\":\"TREAT\",\"datatypes\":[\"a\"],\"actions\":[\"read\"],"
                    "\"period\":{\"start\":\"" START "\",\"end\":\"" START "\"}}");
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(consents_paper_check(t, o, "gp-1", t0, &g, &code, why), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_BAD_PERIOD);
    ck_assert_str_eq(g.jti, "");
    cJSON_Delete(o);
    ck_assert_uint_eq(range.size, before);
    /* Server-made jtis are valid and differ. */
    consents_jti_make(jti);
    consents_jti_make(jti2);
    ck_assert_uint_eq(strlen(jti), CONSENTS_PAPER_JTI_LEN);
    ck_assert(consents_jti_valid(jti));
    ck_assert_str_ne(jti, jti2);
}
END_TEST

START_TEST(test_paper_grant_decides_and_the_person_revokes_it)
{
    struct consent_decision d;
    struct consent_request req;
    struct consents_record rec;
    struct consents_set set;
    struct policy *pol = NULL;
    char pwhy[256], type[CONSENTS_NAME_MAX + 1];
    int gp;

    ck_assert_int_eq(policy_load("policies/default.json", &pol, pwhy, sizeof(pwhy)), ERR_OK);
    gp = policy_category_bit(pol, "gp-record");
    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(enrol(NHS_B, kb), ERR_OK);
    enroller("gp-1", "[\"enroller\"]");
    ck_assert_int_eq(append("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"RX1\","
                            "\"name\":\"City Hospital\",\"org_type\":\"hospital\"}"),
                     ERR_OK);
    ck_assert_int_eq(paper(NHS_A, "p1", "permit", "\"gp-record\"", "gp-1"), ERR_OK);
    memset(&req, 0, sizeof(req));
    req.org = "RX1";
    req.purpose = "TREAT";
    req.categories = UINT64_C(1) << gp;
    req.actions = CONSENT_ACTION_READ;
    req.now = t0;
    ck_assert_int_eq(consents_decide(t, pol, NHS_A, &req, type, &set, &d), ERR_OK);
    ck_assert(d.permit);
    ck_assert_int_eq(d.reasons[0].basis, CONSENT_BASIS_PERMIT);
    ck_assert_str_eq(d.reasons[0].grant->jti, "p1");
    consents_set_clear(&set);
    /* Only the person (or a delegate with the right) revokes it: B cannot. */
    ck_assert_int_eq(revoke(kb, NHS_B, NHS_B, "r0", "p1"), ERR_INVAL);
    ck_assert_int_eq(code, CONSENTS_OTHER_PERSON);
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r1", "p1"), ERR_OK);
    ck_assert_int_eq(consents_get(t, "p1", &rec), ERR_OK);
    ck_assert(rec.revoked);
    ck_assert_int_eq(rec.source, CONSENTS_SOURCE_PAPER);
    ck_assert_int_eq(consents_status(&rec, t0), CONSENTS_REVOKED);
    ck_assert_int_eq(consents_decide(t, pol, NHS_A, &req, type, &set, &d), ERR_OK);
    ck_assert(!d.permit);
    consents_set_clear(&set);
    policy_free(pol);
}
END_TEST

START_TEST(test_for_decision_and_decide)
{
    struct consent_decision d;
    struct consent_request req;
    struct consents_set set;
    struct policy *pol = NULL;
    char pwhy[256], type[CONSENTS_NAME_MAX + 1];
    int gp, meds, mh;

    ck_assert_int_eq(policy_load("policies/default.json", &pol, pwhy, sizeof(pwhy)), ERR_OK);
    gp = policy_category_bit(pol, "gp-record");
    meds = policy_category_bit(pol, "medications");
    mh = policy_category_bit(pol, "mental-health");
    ck_assert_int_ge(gp, 0);
    ck_assert_int_eq(policy_category_bit(pol, "nothing"), -1);
    ck_assert_str_eq(policy_category_at(pol, (unsigned)gp), "gp-record");
    ck_assert_ptr_null(policy_category_at(pol, policy_category_count(pol)));
    ck_assert(policy_sensitive_mask(pol) & (UINT64_C(1) << mh));
    ck_assert(!(policy_sensitive_mask(pol) & (UINT64_C(1) << gp)));

    ck_assert_int_eq(append("{\"v\":1,\"type\":\"org\",\"time\":\"" T0 "\",\"ods\":\"A81001\","
                            "\"name\":\"GP\",\"org_type\":\"gp-practice\"}"),
                     ERR_OK);
    ck_assert_int_eq(enrol(NHS_A, ka), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g1", "permit", "TREAT", DT), ERR_OK);
    ck_assert_int_eq(revoke(ka, NHS_A, NHS_A, "r1", "g1"), ERR_OK);
    ck_assert_int_eq(grant(ka, NHS_A, NHS_A, "g2", "permit", "TREAT", "\"medications\""), ERR_OK);

    ck_assert_int_eq(consents_for_decision(t, pol, NHS_A, t0, &set), ERR_OK);
    ck_assert_uint_eq(set.n, 2);
    ck_assert_str_eq(set.grants[0].jti, "g1");
    ck_assert_uint_eq(set.grants[0].categories, (UINT64_C(1) << gp) | (UINT64_C(1) << meds));
    ck_assert_int_eq(set.grants[0].revoked_at, t0);
    ck_assert_uint_eq(set.grants[0].revoke_index, 3);
    ck_assert_str_eq(set.grants[1].jti, "g2");
    ck_assert_str_eq(set.grants[1].grantee_value, "A81001");
    ck_assert_int_eq(set.grants[1].revoked_at, 0);
    consents_set_clear(&set);
    /* A revocation in the log is effective even for a clock behind it. */
    ck_assert_int_eq(consents_for_decision(t, pol, NHS_A, t0 - 100, &set), ERR_OK);
    ck_assert_int_eq(set.grants[0].revoked_at, t0 - 100);
    consents_set_clear(&set);

    memset(&req, 0, sizeof(req));
    req.org = "A81001";
    req.purpose = "TREAT";
    req.categories = (UINT64_C(1) << gp) | (UINT64_C(1) << meds);
    req.actions = CONSENT_ACTION_READ;
    req.now = t0;
    ck_assert_int_eq(consents_decide(t, pol, NHS_A, &req, type, &set, &d), ERR_OK);
    ck_assert_str_eq(type, "gp-practice");
    ck_assert(!req.org_enrolled); /* an admin enrolled this person */
    ck_assert(!d.permit);
    ck_assert_uint_eq(d.permitted, UINT64_C(1) << meds);
    consents_set_clear(&set);
    req.org = "B99999";
    ck_assert_int_eq(consents_decide(t, pol, NHS_A, &req, type, &set, &d), ERR_NOTFOUND);
    consents_set_clear(&set);
    policy_free(pol);
}
END_TEST

Suite *
consents_suite(void)
{
    Suite *su = suite_create("consents");
    TCase *tc = tcase_create("consents");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_time_parse_and_format);
    tcase_add_test(tc, test_grant_by_the_person_is_recorded);
    tcase_add_test(tc, test_signature_by_any_other_key_is_refused);
    tcase_add_test(tc, test_unenrolled_signer_is_refused);
    tcase_add_test(tc, test_malformed_grants_are_refused);
    tcase_add_test(tc, test_period_must_end_after_it_starts);
    tcase_add_test(tc, test_reused_jti_is_refused);
    tcase_add_test(tc, test_iss_without_a_delegation_is_refused);
    tcase_add_test(tc, test_delegate_within_and_beyond_rights);
    tcase_add_test(tc, test_delegation_outside_its_period_does_not_count);
    tcase_add_test(tc, test_admin_delegation_for_a_person_without_a_key);
    tcase_add_test(tc, test_delegation_refusals);
    tcase_add_test(tc, test_delegation_loops_are_refused);
    tcase_add_test(tc, test_revocation_rules);
    tcase_add_test(tc, test_delegate_revokes_only_with_the_right);
    tcase_add_test(tc, test_list_is_newest_first_with_status);
    tcase_add_test(tc, test_for_decision_and_decide);
    tcase_add_test(tc, test_paper_grant_is_recorded_like_a_signed_one);
    tcase_add_test(tc, test_paper_grant_refusals);
    tcase_add_test(tc, test_paper_grant_decides_and_the_person_revokes_it);
    suite_add_tcase(su, tc);
    return su;
}
