/*
 * check_access: access entries applied through state_apply (every malformed one refused with
 * nothing written, a jti only once), a person's accesses newest first, the revoked-token side
 * table and its purge, and whether a token is still live.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/access.h"
#include "consentd/b64.h"
#include "consentd/consents.h"
#include "consentd/tlog.h"
#include "consentd/token.h"
#include "suites.h"
#include "testutil.h"

#define MAP     (64u * 1024 * 1024)
#define NHS_A   "9434765919"
#define NHS_B   "9434765870"
#define T0      "2026-11-23T12:00:00Z"
#define IMPLIED "[{\"rule\":\"implied\"}]"

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static char why[STATE_WHY_MAX];
static int64_t t0;

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

/* access appends an access entry for token jti about nhs with the given grants JSON. */
static enum err
access(const char *jti, const char *nhs, const char *grants)
{
    char e[1024];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\",\"jti\":\"%s\",\"client_id\":"
             "\"rx-req\",\"org\":\"RX1\",\"nhs\":\"%s\",\"purpose\":\"TREAT\",\"datatypes\":"
             "[\"gp-record\"],\"grants\":%s,\"aud\":[\"https://consentd.example\"],\"iat\":"
             "1795003200,\"exp\":1795003500}",
             jti, nhs, grants);
    return append(e);
}

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    merkle_range_init(&range);
    ck_assert_int_eq(consents_time_parse(T0, &t0), ERR_OK);
}

static void
teardown(void)
{
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

START_TEST(test_entry_is_indexed_once)
{
    uint64_t index;

    ck_assert_int_eq(access("tok-1", NHS_A, "[{\"rule\":\"implied\"}]"), ERR_OK);
    ck_assert_int_eq(access_get(t, "tok-1", &index), ERR_OK);
    ck_assert_uint_eq(index, 0);
    ck_assert_int_eq(access("tok-1", NHS_B, IMPLIED), ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(why, "already"));
    ck_assert_int_eq(access_get(t, "tok-2", &index), ERR_NOTFOUND);
    ck_assert_int_eq(access_get(t, "", &index), ERR_NOTFOUND);
}
END_TEST

START_TEST(test_malformed_entries_are_refused)
{
    static const char *const bad[] = {
        "\"jti\":\"a b\"",
        "\"jti\":\"\"",
        "\"nhs\":\"9434765918\"",
        "\"purpose\":\"treat\"",
        "\"org\":\"x\"",
        "\"client_id\":\"\"",
        "\"datatypes\":[]",
        "\"datatypes\":[\"GP\"]",
        "\"grants\":[{\"rule\":\"other\"}]",
        "\"grants\":[{\"jti\":\"g1\"}]",
        "\"grants\":[{\"jti\":\"g1\",\"log_index\":-1}]",
        "\"grants\":{}",
        "\"grants\":[]",
        "\"purpose\":\"BTG\"",
        "\"break_glass\":{\"reason\":\"collapsed\"}",
        "\"aud\":[]",
        "\"aud\":[1]",
        "\"exp\":1795003200",
        "\"iat\":1.5",
        "\"extra\":1",
    };
    const char *base[][2] = {
        {"jti", "\"tok\""},       {"client_id", "\"rx-req\""}, {"org", "\"RX1\""},
        {"nhs", "\"" NHS_A "\""}, {"purpose", "\"TREAT\""},    {"datatypes", "[\"gp-record\"]"},
        {"grants", IMPLIED},      {"aud", "[\"https://c\"]"},  {"iat", "1795003200"},
        {"exp", "1795003500"},
    };
    char e[1024], name[32];
    size_t i, k, n;
    uint64_t index;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = (size_t)snprintf(e, sizeof(e), "{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\"");
        snprintf(name, sizeof(name), "%.*s", (int)(strchr(bad[i] + 1, '"') - bad[i] - 1),
                 bad[i] + 1);
        for (k = 0; k < sizeof(base) / sizeof(base[0]); k++)
            if (strcmp(base[k][0], name) != 0)
                n += (size_t)snprintf(e + n, sizeof(e) - n, ",\"%s\":%s", base[k][0], base[k][1]);
        snprintf(e + n, sizeof(e) - n, ",%s}", bad[i]);
        ck_assert_msg(append(e) == ERR_INVAL, "accepted %s", e);
        ck_assert_msg(why[0] != '\0', "no reason for %s", e);
    }
    ck_assert_uint_eq(range.size, 0);
    ck_assert_int_eq(access_get(t, "tok", &index), ERR_NOTFOUND);
}
END_TEST

/* bg appends a break-glass access entry with purpose and the members of break_glass. */
static enum err
bg(const char *jti, const char *purpose, const char *glass, const char *grants)
{
    char e[2048];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"access\",\"time\":\"" T0 "\",\"jti\":\"%s\",\"client_id\":"
             "\"amb-1\",\"org\":\"RX1\",\"nhs\":\"" NHS_A "\",\"purpose\":\"%s\",\"datatypes\":"
             "[\"gp-record\"],\"break_glass\":%s%s,\"aud\":[\"https://consentd.example\"],"
             "\"iat\":1795003200,\"exp\":1795003320}",
             jti, purpose, glass, grants);
    return append(e);
}

START_TEST(test_break_glass_entries)
{
    char long_reason[ACCESS_REASON_MAX + 32] = "{\"reason\":\"";
    uint64_t index;

    ck_assert_int_eq(bg("bg-1", "BTG", "{\"reason\":\"unconscious in A&E\"}", ""), ERR_OK);
    ck_assert_int_eq(access_get(t, "bg-1", &index), ERR_OK);
    /* The purpose is BTG, the reason is there and short, and no grants are claimed. */
    ck_assert_int_eq(bg("bg-2", "TREAT", "{\"reason\":\"x\"}", ""), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "break_glass"));
    ck_assert_int_eq(bg("bg-2", "BTG", "{\"reason\":\"\"}", ""), ERR_INVAL);
    ck_assert_int_eq(bg("bg-2", "BTG", "{\"reason\":\"a\\nb\"}", ""), ERR_INVAL);
    ck_assert_int_eq(bg("bg-2", "BTG", "{\"reason\":1}", ""), ERR_INVAL);
    ck_assert_int_eq(bg("bg-2", "BTG", "{\"reason\":\"x\",\"by\":\"y\"}", ""), ERR_INVAL);
    ck_assert_int_eq(bg("bg-2", "BTG", "\"x\"", ""), ERR_INVAL);
    ck_assert_int_eq(bg("bg-2", "BTG", "{\"reason\":\"x\"}", ",\"grants\":" IMPLIED), ERR_INVAL);
    memset(long_reason + strlen(long_reason), 'r', ACCESS_REASON_MAX + 1);
    long_reason[11 + ACCESS_REASON_MAX + 1] = '\0';
    strcat(long_reason, "\"}");
    ck_assert_int_eq(bg("bg-2", "BTG", long_reason, ""), ERR_INVAL);
    long_reason[11 + ACCESS_REASON_MAX] = '\0';
    strcat(long_reason, "\"}");
    ck_assert_int_eq(bg("bg-2", "BTG", long_reason, ""), ERR_OK);
    ck_assert_uint_eq(range.size, 2);
}
END_TEST

static enum err
collect(void *ctx, uint64_t index, const cJSON *e)
{
    char *out = ctx;
    size_t n = strlen(out);

    snprintf(out + n, 256 - n, "%llu:%s ", (unsigned long long)index,
             cJSON_GetObjectItemCaseSensitive(e, "jti")->valuestring);
    return ERR_OK;
}

START_TEST(test_list_is_newest_first_and_per_person)
{
    char got[256] = "";

    ck_assert_int_eq(access("t1", NHS_A, IMPLIED), ERR_OK);
    ck_assert_int_eq(access("t2", NHS_B, IMPLIED), ERR_OK);
    ck_assert_int_eq(access("t3", NHS_A, "[{\"jti\":\"g1\",\"log_index\":4}]"), ERR_OK);
    ck_assert_int_eq(access_list(t, NHS_A, collect, got), ERR_OK);
    ck_assert_str_eq(got, "2:t3 0:t1 ");
    got[0] = '\0';
    ck_assert_int_eq(access_list(t, "4010232137", collect, got), ERR_OK);
    ck_assert_str_eq(got, "");
}
END_TEST

START_TEST(test_revoked_tokens_are_remembered_until_they_expire)
{
    bool yes;

    ck_assert_int_eq(access_revoke(t, "r1", t0 + 300, t0), ERR_OK);
    ck_assert_int_eq(access_revoked(t, "r1", &yes), ERR_OK);
    ck_assert(yes);
    ck_assert_int_eq(access_revoke(t, "r1", t0 + 300, t0), ERR_OK); /* again: fine */
    ck_assert_int_eq(access_revoked(t, "r2", &yes), ERR_OK);
    ck_assert(!yes);
    /* An expired token is not recorded, and a later revocation purges the expired ones. */
    ck_assert_int_eq(access_revoke(t, "r3", t0 - TOKEN_LEEWAY - 1, t0), ERR_OK);
    ck_assert_int_eq(access_revoked(t, "r3", &yes), ERR_OK);
    ck_assert(!yes);
    ck_assert_int_eq(access_revoke(t, "r4", t0 + 1000, t0 + 300 + TOKEN_LEEWAY), ERR_OK);
    ck_assert_int_eq(access_revoked(t, "r1", &yes), ERR_OK);
    ck_assert(!yes);
    ck_assert_int_eq(access_revoked(t, "r4", &yes), ERR_OK);
    ck_assert(yes);
    ck_assert_int_eq(access_revoke(t, "bad jti", t0 + 300, t0), ERR_INVAL);
}
END_TEST

#define DETAIL                                                                                     \
    "{\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\"],\"grants\":[{\"rule\":\"implied\"}]}"

/* claim_differs checks that claims c with member name set to v (taken) are not live. */
static void
claim_differs(cJSON *c, const char *name, cJSON *v)
{
    char nhs[NHS_LEN + 1];
    cJSON *saved = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, name), true);
    bool live = true;

    cJSON_ReplaceItemInObject(c, name, v);
    ck_assert_int_eq(access_token_live(t, c, t0, &live, nhs), ERR_OK);
    ck_assert_msg(!live, "a token claiming another %s was live", name);
    ck_assert_str_eq(nhs, "");
    cJSON_ReplaceItemInObject(c, name, saved);
}

START_TEST(test_token_live)
{
    char nhs[NHS_LEN + 1];
    cJSON *c;
    bool live;

    ck_assert_int_eq(access("tok-1", NHS_A, "[{\"rule\":\"implied\"}]"), ERR_OK);
    c = cJSON_Parse("{\"jti\":\"tok-1\",\"log_index\":0,\"client_id\":\"rx-req\",\"iat\":"
                    "1795003200,\"exp\":1795003500,\"aud\":[\"https://consentd.example\"],"
                    "\"authorization_details\":[" DETAIL "]}");
    ck_assert_int_eq(access_token_live(t, c, t0, &live, nhs), ERR_OK);
    ck_assert(live);
    ck_assert_str_eq(nhs, NHS_A);
    /* Claims that say more than the entry: another client, times, audience, purpose, data. */
    claim_differs(c, "client_id", cJSON_CreateString("rx-other"));
    claim_differs(c, "exp", cJSON_CreateNumber(1795003501));
    claim_differs(c, "iat", cJSON_CreateNumber(1795003199));
    claim_differs(c, "aud", cJSON_Parse("[\"https://consentd.example\",\"https://x\"]"));
    claim_differs(c, "authorization_details",
                  cJSON_Parse("[{\"purpose\":\"CAREMGT\",\"datatypes\":[\"gp-record\"]}]"));
    claim_differs(c, "authorization_details",
                  cJSON_Parse("[{\"purpose\":\"TREAT\",\"datatypes\":[\"gp-record\","
                              "\"mental-health\"]}]"));
    claim_differs(c, "authorization_details",
                  cJSON_Parse("[" DETAIL ",{\"purpose\":\"TREAT\",\"datatypes\":[\"x\"]}]"));
    /* The log index must be the entry's. */
    cJSON_ReplaceItemInObject(c, "log_index", cJSON_CreateNumber(1));
    ck_assert_int_eq(access_token_live(t, c, t0, &live, nhs), ERR_OK);
    ck_assert(!live);
    ck_assert_str_eq(nhs, "");
    cJSON_ReplaceItemInObject(c, "log_index", cJSON_CreateNumber(0));
    /* A grant that is not (or no longer) there makes it inactive. */
    cJSON_ReplaceItemInObject(c, "authorization_details",
                              cJSON_Parse("[{\"grants\":[{\"jti\":\"nope\",\"log_index\":3}]}]"));
    ck_assert_int_eq(access_token_live(t, c, t0, &live, nhs), ERR_OK);
    ck_assert(!live);
    cJSON_ReplaceItemInObject(c, "authorization_details", cJSON_Parse("[" DETAIL "]"));
    ck_assert_int_eq(access_token_live(t, c, t0, &live, nhs), ERR_OK);
    ck_assert(live);
    /* Revoked. */
    ck_assert_int_eq(access_revoke(t, "tok-1", t0 + 300, t0), ERR_OK);
    ck_assert_int_eq(access_token_live(t, c, t0, &live, nhs), ERR_OK);
    ck_assert(!live);
    /* Unknown. */
    cJSON_ReplaceItemInObject(c, "jti", cJSON_CreateString("tok-9"));
    ck_assert_int_eq(access_token_live(t, c, t0, &live, nhs), ERR_OK);
    ck_assert(!live);
    cJSON_Delete(c);
}
END_TEST

Suite *
access_suite(void)
{
    Suite *su = suite_create("access");
    TCase *tc = tcase_create("access");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_entry_is_indexed_once);
    tcase_add_test(tc, test_malformed_entries_are_refused);
    tcase_add_test(tc, test_break_glass_entries);
    tcase_add_test(tc, test_list_is_newest_first_and_per_person);
    tcase_add_test(tc, test_revoked_tokens_are_remembered_until_they_expire);
    tcase_add_test(tc, test_token_live);
    suite_add_tcase(su, tc);
    return su;
}
