/*
 * check_consent: the consent decision of DESIGN.md §4, one test per rule, and a randomised test
 * that drives random sequences of grants, denials, revocations and clock steps and compares every
 * decision with a small reference model written here from the design, not from the code.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "consentd/consent.h"
#include "suites.h"

/* The categories of policies/default.json, as bit numbers in policy order. */
#define CAT_GP_RECORD     0
#define CAT_MEDICATIONS   1
#define CAT_ALLERGIES     2
#define CAT_TEST_RESULTS  3
#define CAT_MENTAL_HEALTH 7
#define CAT_SEXUAL_HEALTH 8
#define CAT_TOP           (CONSENT_MAX_CATEGORIES - 1) /* no policy has one there yet */
#define BIT(c)            ((uint64_t)1 << (c))

/*
 * A second action, standing for a write: the header defines only read, and "every action asked
 * for" needs two to be tested.
 */
#define ACTION_WRITE (1u << 1)

#define GP_ODS       "A81001"
#define PHARMACY_ODS "FA123"
#define HOSPITAL_ODS "RXH01"
#define T0           INT64_C(1795392000) /* 2026-11-23T00:00:00Z */
#define YEAR         INT64_C(31536000)

static const struct consent_rules default_rules = {
    .sensitive = BIT(CAT_MENTAL_HEALTH) | BIT(CAT_SEXUAL_HEALTH),
    .implied_purpose = "TREAT",
};

static struct consent_grant
grant(uint64_t index, enum consent_effect effect, enum consent_grantee kind, const char *value,
      const char *purpose, uint64_t categories)
{
    struct consent_grant g = {
        .index = index,
        .jti = "jti",
        .effect = effect,
        .grantee = kind,
        .grantee_value = value,
        .purpose = purpose,
        .categories = categories,
        .actions = CONSENT_ACTION_READ,
        .start = T0,
        .end = T0 + YEAR,
    };
    return g;
}

/* The enrolling GP practice reading a category for TREAT a day into the grants' period. */
static struct consent_request
gp_request(uint64_t categories)
{
    struct consent_request r = {
        .org = GP_ODS,
        .org_type = "gp-practice",
        .org_enrolled = true,
        .purpose = "TREAT",
        .categories = categories,
        .actions = CONSENT_ACTION_READ,
        .now = T0 + 86400,
    };
    return r;
}

static struct consent_request
pharmacy_request(uint64_t categories)
{
    struct consent_request r = gp_request(categories);

    r.org = PHARMACY_ODS;
    r.org_type = "pharmacy";
    r.org_enrolled = false;
    return r;
}

/* Decides with the output first filled with junk, so that every field must be written. */
static void
decide(const struct consent_rules *rules, const struct consent_grant *g, size_t n,
       const struct consent_request *req, struct consent_decision *out)
{
    memset(out, 0xa5, sizeof(*out));
    consent_decide(rules, g, n, req, out);
}

/* Asserts a one-category decision: its basis and the grant named (NULL for none). */
static void
expect_one(const struct consent_decision *d, unsigned cat, enum consent_basis basis,
           const struct consent_grant *g)
{
    bool permitted = basis == CONSENT_BASIS_PERMIT || basis == CONSENT_BASIS_IMPLIED;

    ck_assert_uint_eq(d->nreasons, 1);
    ck_assert_uint_eq(d->reasons[0].category, cat);
    ck_assert_msg(d->reasons[0].basis == basis, "basis %s, expected %s",
                  consent_basis_name(d->reasons[0].basis), consent_basis_name(basis));
    ck_assert_ptr_eq(d->reasons[0].grant, g);
    ck_assert(d->permit == permitted);
    ck_assert_uint_eq(d->permitted, permitted ? BIT(cat) : 0);
}

START_TEST(test_deny_beats_permit)
{
    struct consent_grant g[2];
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    g[0] =
        grant(10, CONSENT_PERMIT, CONSENT_GRANTEE_ORG, PHARMACY_ODS, "TREAT", BIT(CAT_MEDICATIONS));
    g[1] =
        grant(11, CONSENT_DENY, CONSENT_GRANTEE_ORG, PHARMACY_ODS, "TREAT", BIT(CAT_MEDICATIONS));
    decide(&default_rules, g, 2, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_DENY, &g[1]);

    /* A deny for anyone beats a permit naming the organisation itself. */
    g[1] = grant(11, CONSENT_DENY, CONSENT_GRANTEE_ANY, NULL, "TREAT", BIT(CAT_MEDICATIONS));
    decide(&default_rules, g, 2, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_DENY, &g[1]);
}
END_TEST

START_TEST(test_explicit_permit_beats_implied)
{
    struct consent_grant g =
        grant(3, CONSENT_PERMIT, CONSENT_GRANTEE_ORG, GP_ODS, "TREAT", BIT(CAT_GP_RECORD));
    struct consent_request r = gp_request(BIT(CAT_GP_RECORD));
    struct consent_decision d;

    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_PERMIT, &g);
}
END_TEST

START_TEST(test_deny_stops_implied)
{
    struct consent_grant g =
        grant(3, CONSENT_DENY, CONSENT_GRANTEE_ORG, GP_ODS, "TREAT", BIT(CAT_GP_RECORD));
    struct consent_request r = gp_request(BIT(CAT_GP_RECORD));
    struct consent_decision d;

    decide(&default_rules, NULL, 0, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_IMPLIED, NULL);
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_DENY, &g);

    /* A deny for another purpose leaves the implied rule standing. */
    g.purpose = "HRESCH";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_IMPLIED, NULL);
}
END_TEST

START_TEST(test_implied_only_for_enrolling_org)
{
    struct consent_request r = gp_request(BIT(CAT_GP_RECORD));
    struct consent_decision d;

    r.org_enrolled = false;
    decide(&default_rules, NULL, 0, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_NONE, NULL);

    /* Another GP practice that did not enrol the person gets nothing implied either. */
    r = gp_request(BIT(CAT_GP_RECORD));
    r.org = "B82002";
    r.org_enrolled = false;
    decide(&default_rules, NULL, 0, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_NONE, NULL);
}
END_TEST

START_TEST(test_implied_only_for_implied_purpose)
{
    static const char *const others[] = {"ETREAT", "CAREMGT", "HRESCH", "PUBHLTH", "treat", ""};
    struct consent_request r = gp_request(BIT(CAT_GP_RECORD));
    struct consent_decision d;
    size_t i;

    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        r.purpose = others[i];
        decide(&default_rules, NULL, 0, &r, &d);
        expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_NONE, NULL);
    }
}
END_TEST

START_TEST(test_implied_only_for_reading)
{
    struct consent_request r = gp_request(BIT(CAT_GP_RECORD));
    struct consent_decision d;

    r.actions = CONSENT_ACTION_READ | ACTION_WRITE;
    decide(&default_rules, NULL, 0, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_NONE, NULL);
}
END_TEST

START_TEST(test_implied_never_for_sensitive)
{
    struct consent_grant g =
        grant(4, CONSENT_PERMIT, CONSENT_GRANTEE_ORG, GP_ODS, "TREAT", BIT(CAT_MENTAL_HEALTH));
    struct consent_request r = gp_request(BIT(CAT_MENTAL_HEALTH));
    struct consent_decision d;

    decide(&default_rules, NULL, 0, &r, &d);
    expect_one(&d, CAT_MENTAL_HEALTH, CONSENT_BASIS_NONE, NULL);
    r.categories = BIT(CAT_SEXUAL_HEALTH);
    decide(&default_rules, NULL, 0, &r, &d);
    expect_one(&d, CAT_SEXUAL_HEALTH, CONSENT_BASIS_NONE, NULL);

    /* An explicit permit is what a sensitive category needs. */
    r.categories = BIT(CAT_MENTAL_HEALTH);
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MENTAL_HEALTH, CONSENT_BASIS_PERMIT, &g);
}
END_TEST

START_TEST(test_no_implied_rule_without_implied_purpose)
{
    struct consent_rules rules = {.sensitive = 0, .implied_purpose = NULL};
    struct consent_request r = gp_request(BIT(CAT_GP_RECORD));
    struct consent_decision d;

    decide(&rules, NULL, 0, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_NONE, NULL);
}
END_TEST

START_TEST(test_grantee_org_matches_ods_code_only)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ORG, PHARMACY_ODS, "TREAT", BIT(CAT_MEDICATIONS));
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);

    /* Another pharmacy, and an organisation whose type is the ODS code, are not named. */
    r.org = "FB456";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);
    r.org_type = PHARMACY_ODS;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);
}
END_TEST

START_TEST(test_grantee_role_matches_org_type_only)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ROLE, "pharmacy", "TREAT", BIT(CAT_MEDICATIONS));
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);
    r.org = "FB456";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);

    /* A hospital is not a pharmacy, nor is an organisation whose ODS code is "pharmacy". */
    r.org = HOSPITAL_ODS;
    r.org_type = "hospital";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);
    r.org = "pharmacy";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);
}
END_TEST

START_TEST(test_grantee_any_matches_everyone)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ANY, NULL, "TREAT", BIT(CAT_ALLERGIES));
    struct consent_request r = pharmacy_request(BIT(CAT_ALLERGIES));
    struct consent_decision d;

    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_ALLERGIES, CONSENT_BASIS_PERMIT, &g);
    r.org = HOSPITAL_ODS;
    r.org_type = "hospital";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_ALLERGIES, CONSENT_BASIS_PERMIT, &g);
}
END_TEST

START_TEST(test_purpose_must_match)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ROLE, "pharmacy", "TREAT", BIT(CAT_MEDICATIONS));
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    r.purpose = "HRESCH";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);

    /* A deny for another purpose does not refuse this one. */
    r.purpose = "TREAT";
    g.effect = CONSENT_DENY;
    g.purpose = "HRESCH";
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);
    r.org_enrolled = true;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_IMPLIED, NULL);
}
END_TEST

START_TEST(test_every_action_must_be_covered)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ROLE, "pharmacy", "TREAT", BIT(CAT_MEDICATIONS));
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    r.actions = CONSENT_ACTION_READ | ACTION_WRITE;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);
    g.actions = CONSENT_ACTION_READ | ACTION_WRITE;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);

    /* A grant may cover more than is asked for. */
    r.actions = CONSENT_ACTION_READ;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);
}
END_TEST

START_TEST(test_period_start_inclusive_end_exclusive)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ROLE, "pharmacy", "TREAT", BIT(CAT_MEDICATIONS));
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    ck_assert(!consent_grant_active(&g, g.start - 1));
    ck_assert(consent_grant_active(&g, g.start));
    ck_assert(consent_grant_active(&g, g.end - 1));
    ck_assert(!consent_grant_active(&g, g.end));

    r.now = g.start - 1;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);
    r.now = g.start;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);
    r.now = g.end - 1;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);
    r.now = g.end;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);

    /* An expired deny no longer stops the implied rule. */
    g = grant(6, CONSENT_DENY, CONSENT_GRANTEE_ORG, GP_ODS, "TREAT", BIT(CAT_GP_RECORD));
    r = gp_request(BIT(CAT_GP_RECORD));
    r.now = g.end;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_IMPLIED, NULL);
}
END_TEST

START_TEST(test_revoked_at_or_after_now)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ROLE, "pharmacy", "TREAT", BIT(CAT_MEDICATIONS));
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    g.revoked_at = r.now;
    g.revoke_index = 9;
    ck_assert(!consent_grant_active(&g, r.now));
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_NONE, NULL);

    /* Asked about a time before the revocation, the grant still held then. */
    g.revoked_at = r.now + 1;
    ck_assert(consent_grant_active(&g, r.now));
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g);

    /* A revoked deny gives the implied rule back. */
    g = grant(6, CONSENT_DENY, CONSENT_GRANTEE_ORG, GP_ODS, "TREAT", BIT(CAT_GP_RECORD));
    r = gp_request(BIT(CAT_GP_RECORD));
    g.revoked_at = r.now - 60;
    g.revoke_index = 7;
    decide(&default_rules, &g, 1, &r, &d);
    expect_one(&d, CAT_GP_RECORD, CONSENT_BASIS_IMPLIED, NULL);
}
END_TEST

START_TEST(test_earliest_matching_grant_is_named)
{
    struct consent_grant g[4];
    struct consent_request r = pharmacy_request(BIT(CAT_MEDICATIONS));
    struct consent_decision d;

    g[0] = grant(20, CONSENT_PERMIT, CONSENT_GRANTEE_ANY, NULL, "TREAT", BIT(CAT_MEDICATIONS));
    g[1] =
        grant(21, CONSENT_PERMIT, CONSENT_GRANTEE_ROLE, "pharmacy", "TREAT", BIT(CAT_MEDICATIONS));
    g[2] = grant(22, CONSENT_DENY, CONSENT_GRANTEE_ANY, NULL, "TREAT", BIT(CAT_MEDICATIONS));
    g[3] =
        grant(23, CONSENT_DENY, CONSENT_GRANTEE_ORG, PHARMACY_ODS, "TREAT", BIT(CAT_MEDICATIONS));
    decide(&default_rules, g, 2, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g[0]);
    decide(&default_rules, g, 4, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_DENY, &g[2]);

    /* Once the earliest is revoked, the next one in log order is named. */
    g[0].revoked_at = r.now - 1;
    decide(&default_rules, g, 2, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g[1]);

    /* Log order is the entries' index, whatever order the grants are passed in. */
    g[0].revoked_at = 0;
    g[0].index = 24;
    decide(&default_rules, g, 2, &r, &d);
    expect_one(&d, CAT_MEDICATIONS, CONSENT_BASIS_PERMIT, &g[1]);
}
END_TEST

START_TEST(test_every_category_must_be_permitted)
{
    struct consent_grant g =
        grant(5, CONSENT_PERMIT, CONSENT_GRANTEE_ORG, GP_ODS, "TREAT", BIT(CAT_MENTAL_HEALTH));
    struct consent_request r = gp_request(BIT(CAT_GP_RECORD) | BIT(CAT_MENTAL_HEALTH));
    struct consent_decision d;

    decide(&default_rules, NULL, 0, &r, &d);
    ck_assert(!d.permit);
    ck_assert_uint_eq(d.permitted, BIT(CAT_GP_RECORD));
    ck_assert_uint_eq(d.nreasons, 2);

    decide(&default_rules, &g, 1, &r, &d);
    ck_assert(d.permit);
    ck_assert_uint_eq(d.permitted, BIT(CAT_GP_RECORD) | BIT(CAT_MENTAL_HEALTH));
}
END_TEST

START_TEST(test_one_reason_per_category_in_bit_order)
{
    struct consent_grant g[2];
    struct consent_request r = gp_request(BIT(CAT_SEXUAL_HEALTH) | BIT(CAT_GP_RECORD) |
                                          BIT(CAT_TEST_RESULTS) | BIT(CAT_TOP));
    struct consent_decision d;

    g[0] = grant(1, CONSENT_DENY, CONSENT_GRANTEE_ORG, GP_ODS, "TREAT", BIT(CAT_TEST_RESULTS));
    g[1] = grant(2, CONSENT_PERMIT, CONSENT_GRANTEE_ANY, NULL, "TREAT",
                 BIT(CAT_TOP) | BIT(CAT_TEST_RESULTS));
    decide(&default_rules, g, 2, &r, &d);
    ck_assert_uint_eq(d.nreasons, 4);
    ck_assert_uint_eq(d.reasons[0].category, CAT_GP_RECORD);
    ck_assert_int_eq(d.reasons[0].basis, CONSENT_BASIS_IMPLIED);
    ck_assert_ptr_null(d.reasons[0].grant);
    ck_assert_uint_eq(d.reasons[1].category, CAT_TEST_RESULTS);
    ck_assert_int_eq(d.reasons[1].basis, CONSENT_BASIS_DENY);
    ck_assert_ptr_eq(d.reasons[1].grant, &g[0]);
    ck_assert_uint_eq(d.reasons[2].category, CAT_SEXUAL_HEALTH);
    ck_assert_int_eq(d.reasons[2].basis, CONSENT_BASIS_NONE);
    ck_assert_ptr_null(d.reasons[2].grant);
    ck_assert_uint_eq(d.reasons[3].category, CAT_TOP);
    ck_assert_int_eq(d.reasons[3].basis, CONSENT_BASIS_PERMIT);
    ck_assert_ptr_eq(d.reasons[3].grant, &g[1]);
    ck_assert(!d.permit);
    ck_assert_uint_eq(d.permitted, BIT(CAT_GP_RECORD) | BIT(CAT_TOP));
}
END_TEST

START_TEST(test_empty_request_is_refused_without_reasons)
{
    struct consent_grant g =
        grant(1, CONSENT_PERMIT, CONSENT_GRANTEE_ANY, NULL, "TREAT", ~(uint64_t)0);
    struct consent_request r = gp_request(0);
    struct consent_decision d;

    g.actions = ~0u;
    decide(&default_rules, &g, 1, &r, &d);
    ck_assert(!d.permit);
    ck_assert_uint_eq(d.permitted, 0);
    ck_assert_uint_eq(d.nreasons, 0);

    r = gp_request(BIT(CAT_GP_RECORD));
    r.actions = 0;
    decide(&default_rules, &g, 1, &r, &d);
    ck_assert(!d.permit);
    ck_assert_uint_eq(d.permitted, 0);
    ck_assert_uint_eq(d.nreasons, 0);
}
END_TEST

START_TEST(test_basis_names)
{
    ck_assert_str_eq(consent_basis_name(CONSENT_BASIS_DENY), "deny");
    ck_assert_str_eq(consent_basis_name(CONSENT_BASIS_PERMIT), "permit");
    ck_assert_str_eq(consent_basis_name(CONSENT_BASIS_IMPLIED), "implied");
    ck_assert_str_eq(consent_basis_name(CONSENT_BASIS_NONE), "none");
}
END_TEST

/*
 * The randomised model test. Each sequence starts with an empty log and a clock, and applies
 * random operations: a grant or denial is appended, an earlier grant is revoked at the current
 * time, or the clock steps forwards or backwards. After every operation a few random requests are
 * decided by consent_decide and by the reference model below, and the answers must agree on the
 * permit flag, the permitted categories, and for each category the basis and the grant named.
 */
#define MODEL_SEQUENCES     5000
#define MODEL_MAX_OPS       40
#define MODEL_ASKS_PER_OP   4
#define MODEL_NCATS         6
#define MODEL_MAX_GRANTS    MODEL_MAX_OPS
#define MODEL_CLOCK_START   1000000
#define MODEL_SEED_A        UINT64_C(0x5eed0001c0115e47)
#define MODEL_SEED_B        UINT64_C(20261123)
#define MODEL_NO_IMPLIED_IN 5 /* one sequence in this many has a policy without an implied rule */

/* The model's categories: bit numbers spread out, to include the top bit; the last two sensitive.
 */
static const unsigned model_cats[MODEL_NCATS] = {
    CAT_GP_RECORD, CAT_MEDICATIONS, CAT_ALLERGIES, CAT_TOP, CAT_MENTAL_HEALTH, CAT_SEXUAL_HEALTH};
static const char *const model_orgs[] = {GP_ODS, PHARMACY_ODS, HOSPITAL_ODS, "Y0000"};
static const char *const model_types[] = {"gp-practice", "pharmacy", "hospital", "research"};
static const char *const model_purposes[] = {"TREAT", "ETREAT", "CAREMGT", "HRESCH"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* splitmix64: small, and the same sequence on every platform. */
static uint64_t
rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned
below(uint64_t *s, unsigned n)
{
    return (unsigned)(rnd(s) % n);
}

static int64_t
between(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}

/* What the person said, as the model keeps it: one entry per grant, in the order logged. */
struct model_entry {
    bool deny;
    int who;          /* 0: an organisation, 1: a type of organisation, 2: anyone */
    const char *whom; /* the organisation or type; NULL for anyone */
    const char *purpose;
    bool cat[MODEL_NCATS];
    bool may_read, may_write;
    int64_t from, until; /* from <= t < until */
    bool revoked;
    int64_t revoked_time;
    uint64_t log_index, revoke_log_index;
};

struct model_ask {
    const char *org, *type;
    bool enrolled;
    const char *purpose;
    bool cat[MODEL_NCATS];
    bool read, write;
    int64_t t;
};

struct model_answer {
    bool permit;
    uint64_t permitted;
    unsigned n;
    unsigned category[MODEL_NCATS];
    enum consent_basis basis[MODEL_NCATS];
    int entry[MODEL_NCATS]; /* position in the log of the grant named; -1 for none */
};

struct model_stats {
    unsigned long sequences, operations, grants, revocations, clock_steps, decisions;
    unsigned long by_basis[5];
};

/*
 * The reference model, from DESIGN.md §4 read as a person would: an entry speaks to a request
 * about a category if it is for that requester (by name, by kind, or anyone), for that purpose,
 * that category, every action asked for, and the moment asked about falls in its period before any
 * revocation. Then per category: the first denial in the log that speaks settles it; failing
 * that, the first permission; failing that, the GP practice that enrolled the person may read a
 * non-sensitive category for treatment, if the policy has that rule; failing that, no.
 */
static bool
model_speaks(const struct model_entry *e, const struct model_ask *a, int c)
{
    bool for_them;

    if (e->who == 0)
        for_them = strcmp(e->whom, a->org) == 0;
    else if (e->who == 1)
        for_them = strcmp(e->whom, a->type) == 0;
    else
        for_them = true;
    if (!for_them || strcmp(e->purpose, a->purpose) != 0 || !e->cat[c])
        return false;
    if ((a->read && !e->may_read) || (a->write && !e->may_write))
        return false;
    if (a->t < e->from || a->t >= e->until)
        return false;
    if (e->revoked && a->t >= e->revoked_time)
        return false;
    return true;
}

static void
model_decide(const struct model_entry *log, int nlog, bool has_implied, const struct model_ask *a,
             struct model_answer *ans)
{
    bool any_cat = false, all = true;
    int c, k, first_deny, first_permit;
    unsigned bitno;

    memset(ans, 0, sizeof(*ans));
    for (c = 0; c < MODEL_NCATS; c++)
        any_cat = any_cat || a->cat[c];
    if (!any_cat || (!a->read && !a->write))
        return;

    /* Categories in bit order: model_cats is not sorted, so walk the bit numbers. */
    for (bitno = 0; bitno < 64; bitno++) {
        for (c = 0; c < MODEL_NCATS; c++)
            if (model_cats[c] == bitno)
                break;
        if (c == MODEL_NCATS || !a->cat[c])
            continue;
        first_deny = first_permit = -1;
        for (k = 0; k < nlog; k++) {
            if (!model_speaks(&log[k], a, c))
                continue;
            if (log[k].deny && first_deny < 0)
                first_deny = k;
            if (!log[k].deny && first_permit < 0)
                first_permit = k;
        }
        ans->category[ans->n] = bitno;
        ans->entry[ans->n] = -1;
        if (first_deny >= 0) {
            ans->basis[ans->n] = CONSENT_BASIS_DENY;
            ans->entry[ans->n] = first_deny;
        } else if (first_permit >= 0) {
            ans->basis[ans->n] = CONSENT_BASIS_PERMIT;
            ans->entry[ans->n] = first_permit;
        } else if (has_implied && a->enrolled && strcmp(a->purpose, "TREAT") == 0 && a->read &&
                   !a->write && bitno != CAT_MENTAL_HEALTH && bitno != CAT_SEXUAL_HEALTH) {
            ans->basis[ans->n] = CONSENT_BASIS_IMPLIED;
        } else {
            ans->basis[ans->n] = CONSENT_BASIS_NONE;
        }
        if (ans->basis[ans->n] == CONSENT_BASIS_PERMIT ||
            ans->basis[ans->n] == CONSENT_BASIS_IMPLIED)
            ans->permitted |= (uint64_t)1 << bitno;
        else
            all = false;
        ans->n++;
    }
    ans->permit = all;
}

static void
model_random_entry(uint64_t *s, int64_t clock, uint64_t log_index, struct model_entry *e)
{
    int c;

    memset(e, 0, sizeof(*e));
    e->deny = below(s, 3) == 0;
    e->who = (int)below(s, 3);
    if (e->who == 0)
        e->whom = model_orgs[below(s, NELEM(model_orgs))];
    else if (e->who == 1)
        e->whom = model_types[below(s, NELEM(model_types))];
    e->purpose = model_purposes[below(s, 3) == 0 ? below(s, NELEM(model_purposes)) : 0];
    for (c = 0; c < MODEL_NCATS; c++)
        e->cat[c] = below(s, 3) == 0;
    switch (below(s, 4)) {
    case 0:
        e->may_write = true;
        break;
    case 1:
        e->may_read = e->may_write = true;
        break;
    default:
        e->may_read = true;
    }
    e->from = clock + between(s, -200, 100);
    e->until = e->from + between(s, -20, 400);
    e->log_index = log_index;
}

static void
model_random_ask(uint64_t *s, int64_t clock, struct model_ask *a)
{
    unsigned o = below(s, NELEM(model_orgs));
    int c;

    memset(a, 0, sizeof(*a));
    a->org = model_orgs[o];
    a->type = model_types[below(s, 5) == 0 ? below(s, NELEM(model_types)) : o];
    a->enrolled = o == 0;
    if (below(s, 10) == 0)
        a->enrolled = !a->enrolled;
    a->purpose = model_purposes[below(s, 2) == 0 ? below(s, NELEM(model_purposes)) : 0];
    if (below(s, 50) != 0) {
        if (below(s, 2) == 0)
            a->cat[below(s, MODEL_NCATS)] = true;
        else
            for (c = 0; c < MODEL_NCATS; c++)
                a->cat[c] = below(s, 3) == 0;
    }
    switch (below(s, 40)) {
    case 0:
        break;
    case 1:
    case 2:
        a->write = true;
        break;
    case 3:
    case 4:
        a->read = a->write = true;
        break;
    default:
        a->read = true;
    }
    a->t = below(s, 4) == 0 ? clock + between(s, -300, 300) : clock;
}

/* The same grant as consent.h sees it. */
static void
to_grant(const struct model_entry *e, struct consent_grant *g)
{
    static const enum consent_grantee kinds[] = {CONSENT_GRANTEE_ORG, CONSENT_GRANTEE_ROLE,
                                                 CONSENT_GRANTEE_ANY};
    int c;

    memset(g, 0, sizeof(*g));
    g->index = e->log_index;
    g->jti = "model";
    g->effect = e->deny ? CONSENT_DENY : CONSENT_PERMIT;
    g->grantee = kinds[e->who];
    g->grantee_value = e->whom;
    g->purpose = e->purpose;
    for (c = 0; c < MODEL_NCATS; c++)
        if (e->cat[c])
            g->categories |= (uint64_t)1 << model_cats[c];
    g->actions = (e->may_read ? CONSENT_ACTION_READ : 0) | (e->may_write ? ACTION_WRITE : 0);
    g->start = e->from;
    g->end = e->until;
    if (e->revoked) {
        g->revoked_at = e->revoked_time;
        g->revoke_index = e->revoke_log_index;
    }
}

static void
to_request(const struct model_ask *a, struct consent_request *r)
{
    int c;

    memset(r, 0, sizeof(*r));
    r->org = a->org;
    r->org_type = a->type;
    r->org_enrolled = a->enrolled;
    r->purpose = a->purpose;
    for (c = 0; c < MODEL_NCATS; c++)
        if (a->cat[c])
            r->categories |= (uint64_t)1 << model_cats[c];
    r->actions = (a->read ? CONSENT_ACTION_READ : 0) | (a->write ? ACTION_WRITE : 0);
    r->now = a->t;
}

static void
print_answers(const struct consent_decision *d, const struct consent_grant *g,
              const struct model_answer *m)
{
    unsigned i;

    fprintf(stderr, "  consent_decide: permit %d permitted %#" PRIx64 " reasons %u:", d->permit,
            d->permitted, d->nreasons);
    for (i = 0; i < d->nreasons && i < CONSENT_MAX_CATEGORIES; i++)
        fprintf(stderr, " [%u %s %ld]", d->reasons[i].category,
                consent_basis_name(d->reasons[i].basis),
                d->reasons[i].grant == NULL ? -1L : (long)(d->reasons[i].grant - g));
    fprintf(stderr, "\n  model:          permit %d permitted %#" PRIx64 " reasons %u:", m->permit,
            m->permitted, m->n);
    for (i = 0; i < m->n; i++)
        fprintf(stderr, " [%u %s %d]", m->category[i], consent_basis_name(m->basis[i]),
                m->entry[i]);
    fprintf(stderr, "\n");
}

/* Whether the implementation's answer is the model's, down to the grant named. */
static bool
agrees(const struct consent_decision *d, const struct consent_grant *g, size_t n,
       const struct model_answer *m)
{
    unsigned i;

    if (d->permit != m->permit || d->permitted != m->permitted || d->nreasons != m->n)
        return false;
    for (i = 0; i < m->n; i++) {
        if (d->reasons[i].category != m->category[i] || d->reasons[i].basis != m->basis[i])
            return false;
        if (m->entry[i] < 0) {
            if (d->reasons[i].grant != NULL)
                return false;
        } else if ((size_t)m->entry[i] >= n || d->reasons[i].grant != &g[m->entry[i]]) {
            return false;
        }
    }
    return true;
}

static void
run_model(uint64_t seed, struct model_stats *st)
{
    struct model_entry log[MODEL_MAX_GRANTS];
    struct consent_grant grants[MODEL_MAX_GRANTS];
    struct consent_rules rules;
    struct consent_request req;
    struct consent_decision d;
    struct model_answer m;
    struct model_ask a;
    uint64_t s = seed, log_index;
    int64_t clock;
    unsigned seq, op, nops, ask, k, live;
    int nlog, i, pick;
    bool has_implied;

    memset(st, 0, sizeof(*st));
    for (seq = 0; seq < MODEL_SEQUENCES; seq++) {
        has_implied = below(&s, MODEL_NO_IMPLIED_IN) != 0;
        rules.implied_purpose = has_implied ? "TREAT" : NULL;
        rules.sensitive = BIT(CAT_MENTAL_HEALTH) | BIT(CAT_SEXUAL_HEALTH);
        nlog = 0;
        log_index = 1 + below(&s, 1000);
        clock = MODEL_CLOCK_START + between(&s, -1000, 1000);
        nops = 1 + below(&s, MODEL_MAX_OPS);
        st->sequences++;
        for (op = 0; op < nops; op++) {
            switch (below(&s, 8)) {
            case 0:
            case 1:
            case 2:
            case 3:
                if (nlog < MODEL_MAX_GRANTS) {
                    model_random_entry(&s, clock, log_index, &log[nlog]);
                    nlog++;
                    st->grants++;
                }
                /* Other entries (other people's, accesses) sit between this person's. */
                log_index += 1 + below(&s, 3);
                break;
            case 4:
            case 5:
                /* Revoke a random grant not yet revoked; the log refuses a second revocation. */
                live = 0;
                for (i = 0; i < nlog; i++)
                    live += !log[i].revoked;
                if (live == 0)
                    break;
                pick = (int)below(&s, live);
                for (i = 0; i < nlog; i++) {
                    if (log[i].revoked)
                        continue;
                    if (pick-- == 0)
                        break;
                }
                log[i].revoked = true;
                log[i].revoked_time = clock;
                log[i].revoke_log_index = log_index++;
                st->revocations++;
                break;
            default:
                /* The clock steps forwards or backwards (a wrong clock put right, or a replay). */
                clock += between(&s, -150, 250);
                if (clock < 1)
                    clock = 1;
                st->clock_steps++;
            }
            st->operations++;

            for (i = 0; i < nlog; i++)
                to_grant(&log[i], &grants[i]);
            for (ask = 0; ask < MODEL_ASKS_PER_OP; ask++) {
                model_random_ask(&s, clock, &a);
                to_request(&a, &req);
                memset(&d, 0x5a, sizeof(d));
                consent_decide(&rules, grants, (size_t)nlog, &req, &d);
                model_decide(log, nlog, has_implied, &a, &m);
                st->decisions++;
                if (!agrees(&d, grants, (size_t)nlog, &m)) {
                    fprintf(stderr,
                            "consent model disagreement: seed %#" PRIx64
                            " sequence %u step %u ask %u (%d grants, clock %" PRId64 ")\n",
                            seed, seq, op, ask, nlog, clock);
                    print_answers(&d, grants, &m);
                    ck_abort_msg("consent_decide disagrees with the model: seed %#" PRIx64
                                 " sequence %u step %u",
                                 seed, seq, op);
                }
                for (k = 0; k < m.n; k++)
                    st->by_basis[m.basis[k]]++;
            }
        }
    }
}

/*
 * The test must not pass by deciding nothing: the decisions are counted, and each basis must
 * have come up often enough that every rule was exercised.
 */
static void
check_model(uint64_t seed)
{
    struct model_stats st;

    run_model(seed, &st);
    ck_assert_uint_eq(st.sequences, MODEL_SEQUENCES);
    ck_assert_uint_ge(st.operations, MODEL_SEQUENCES);
    ck_assert_uint_eq(st.decisions, st.operations * MODEL_ASKS_PER_OP);
    ck_assert_uint_ge(st.decisions, 100000);
    ck_assert_uint_ge(st.revocations, 10000);
    ck_assert_uint_ge(st.clock_steps, 10000);
    ck_assert_uint_ge(st.by_basis[CONSENT_BASIS_DENY], 5000);
    ck_assert_uint_ge(st.by_basis[CONSENT_BASIS_PERMIT], 5000);
    ck_assert_uint_ge(st.by_basis[CONSENT_BASIS_IMPLIED], 5000);
    ck_assert_uint_ge(st.by_basis[CONSENT_BASIS_NONE], 5000);
    printf("consent model seed %#" PRIx64 ": %lu sequences, %lu operations (%lu grants, %lu "
           "revocations, %lu clock steps), %lu decisions compared (reasons: %lu deny, %lu permit, "
           "%lu implied, %lu none), 0 disagreements\n",
           seed, st.sequences, st.operations, st.grants, st.revocations, st.clock_steps,
           st.decisions, st.by_basis[CONSENT_BASIS_DENY], st.by_basis[CONSENT_BASIS_PERMIT],
           st.by_basis[CONSENT_BASIS_IMPLIED], st.by_basis[CONSENT_BASIS_NONE]);
}

START_TEST(test_model_agrees_seed_a)
{
    check_model(MODEL_SEED_A);
}
END_TEST

START_TEST(test_model_agrees_seed_b)
{
    check_model(MODEL_SEED_B);
}
END_TEST

Suite *
consent_suite(void)
{
    Suite *su = suite_create("consent");
    TCase *tc = tcase_create("rules");
    TCase *model = tcase_create("model");

    tcase_add_test(tc, test_deny_beats_permit);
    tcase_add_test(tc, test_explicit_permit_beats_implied);
    tcase_add_test(tc, test_deny_stops_implied);
    tcase_add_test(tc, test_implied_only_for_enrolling_org);
    tcase_add_test(tc, test_implied_only_for_implied_purpose);
    tcase_add_test(tc, test_implied_only_for_reading);
    tcase_add_test(tc, test_implied_never_for_sensitive);
    tcase_add_test(tc, test_no_implied_rule_without_implied_purpose);
    tcase_add_test(tc, test_grantee_org_matches_ods_code_only);
    tcase_add_test(tc, test_grantee_role_matches_org_type_only);
    tcase_add_test(tc, test_grantee_any_matches_everyone);
    tcase_add_test(tc, test_purpose_must_match);
    tcase_add_test(tc, test_every_action_must_be_covered);
    tcase_add_test(tc, test_period_start_inclusive_end_exclusive);
    tcase_add_test(tc, test_revoked_at_or_after_now);
    tcase_add_test(tc, test_earliest_matching_grant_is_named);
    tcase_add_test(tc, test_every_category_must_be_permitted);
    tcase_add_test(tc, test_one_reason_per_category_in_bit_order);
    tcase_add_test(tc, test_empty_request_is_refused_without_reasons);
    tcase_add_test(tc, test_basis_names);
    suite_add_tcase(su, tc);

    /* Each seed takes well under a second; the margin is for sanitizer and valgrind builds. */
    tcase_set_timeout(model, 60);
    tcase_add_test(model, test_model_agrees_seed_a);
    tcase_add_test(model, test_model_agrees_seed_b);
    suite_add_tcase(su, model);
    return su;
}
