/*
 * check_pointers: the record index's rules, applied in log order on a temporary store: new ids
 * only, custodians of registered organisations, supersede and retire only by the custodian,
 * only once, and a person's listing.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "consentd/pointers.h"
#include "consentd/tlog.h"
#include "suites.h"
#include "testutil.h"

#define MAP (64u * 1024 * 1024)

#define NHS_A "9434765919"
#define NHS_B "9434765870"
#define ID1   "AAAAAAAAAAAAAAAAAAAAAA"
#define ID2   "BBBBBBBBBBBBBBBBBBBBBA"
#define ID3   "CCCCCCCCCCCCCCCCCCCCCA"
#define ID4   "DDDDDDDDDDDDDDDDDDDDDA"

static char dir[TU_DIR_MAX];
static struct store *s;
static struct store_txn *t;
static struct merkle_range range;
static char why[STATE_WHY_MAX];

/* add applies entry at the next index and, if it is allowed, appends it to the log. */
static enum err
add(const char *entry)
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

/* pointer builds a pointer entry; sup is NULL for none. */
static enum err
pointer(const char *id, const char *nhs, const char *custodian, const char *sup)
{
    char e[1024];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"pointer\",\"time\":\"2026-01-01T00:00:00Z\",\"id\":\"%s\","
             "\"nhs\":\"%s\",\"custodian\":\"%s\",\"category\":\"care-plans\",\"record_type\":{"
             "\"system\":\"http://snomed.info/sct\",\"code\":\"736373009\",\"display\":\"End of "
             "life care plan\"},\"url\":\"https://gp.example/fhir/Binary/1\",\"content_type\":"
             "\"application/pdf\"%s%s%s}",
             id, nhs, custodian, sup != NULL ? ",\"supersedes\":\"" : "", sup != NULL ? sup : "",
             sup != NULL ? "\"" : "");
    return add(e);
}

static enum err
retire(const char *id, const char *custodian)
{
    char e[512];

    snprintf(e, sizeof(e),
             "{\"v\":1,\"type\":\"pointer.retire\",\"time\":\"2026-01-02T00:00:00Z\",\"id\":\"%s\","
             "\"custodian\":\"%s\",\"reason\":\"entered in error\"}",
             id, custodian);
    return add(e);
}

static void
setup(void)
{
    tu_tmpdir(dir);
    ck_assert_int_eq(store_open(dir, MAP, &s), ERR_OK);
    ck_assert_int_eq(store_begin(s, true, &t), ERR_OK);
    ck_assert_int_eq(tlog_range(t, 0, &range), ERR_OK);
    ck_assert_int_eq(add("{\"v\":1,\"type\":\"org\",\"time\":\"t\",\"ods\":\"A81001\"}"), ERR_OK);
    ck_assert_int_eq(add("{\"v\":1,\"type\":\"org\",\"time\":\"t\",\"ods\":\"RX1\"}"), ERR_OK);
}

static void
teardown(void)
{
    store_abort(t);
    store_close(s);
    tu_rmrf(dir);
}

START_TEST(test_ids)
{
    char id[POINTERS_ID_LEN + 1];
    int i;

    for (i = 0; i < 64; i++) {
        pointers_id_new(id);
        ck_assert_uint_eq(strlen(id), POINTERS_ID_LEN);
        ck_assert_ptr_null(strchr(id, '_'));
        ck_assert(pointers_id_valid(id));
    }
    ck_assert(pointers_id_valid(ID1));
    ck_assert(!pointers_id_valid(""));
    ck_assert(!pointers_id_valid("AAAAAAAAAAAAAAAAAAAAAB")); /* non-zero trailing bits */
    ck_assert(!pointers_id_valid("AAAAAAAAAAAAAAAAAAAAA"));
    ck_assert(!pointers_id_valid("AAAAAAAAAAAAAAAAAAAAAAA"));
    ck_assert(!pointers_id_valid("AAAAAAAAAAAAAAAAAAAA_A"));
    ck_assert(!pointers_id_valid("AAAAAAAAAAAAAAAAAAAA/A"));
}
END_TEST

START_TEST(test_urls_and_content_types)
{
    ck_assert(pointers_url_valid("https://gp.example/fhir/Binary/1"));
    ck_assert(pointers_url_valid("https://gp.example:8443/a?b=c"));
    ck_assert(pointers_url_valid("http://127.0.0.1:9000/x"));
    ck_assert(pointers_url_valid("http://localhost/x"));
    ck_assert(!pointers_url_valid("http://gp.example/x"));
    ck_assert(!pointers_url_valid("ftp://gp.example/x"));
    ck_assert(!pointers_url_valid("https:///x"));
    ck_assert(!pointers_url_valid("https://user:pw@gp.example/x"));
    ck_assert(!pointers_url_valid("https://gp.example/x#frag"));
    ck_assert(!pointers_url_valid("/relative"));
    ck_assert(!pointers_url_valid("https://gp example/"));
    ck_assert(!pointers_url_valid(""));

    ck_assert(pointers_content_type_valid("application/pdf"));
    ck_assert(pointers_content_type_valid("application/fhir+json"));
    ck_assert(pointers_content_type_valid("text/html; charset=utf-8"));
    ck_assert(pointers_content_type_valid("text/html;charset=utf-8"));
    ck_assert(!pointers_content_type_valid(""));
    ck_assert(!pointers_content_type_valid("pdf"));
    ck_assert(!pointers_content_type_valid("application/"));
    ck_assert(!pointers_content_type_valid("/pdf"));
    ck_assert(!pointers_content_type_valid("application/pdf;"));
    ck_assert(!pointers_content_type_valid("application/pdf; charset"));
    ck_assert(!pointers_content_type_valid("application/pdf x"));
    ck_assert(!pointers_content_type_valid("text/html; charset=\"utf-8\""));
}
END_TEST

START_TEST(test_publish_and_read)
{
    struct pointers_pointer p;

    ck_assert_int_eq(pointer(ID1, NHS_A, "A81001", NULL), ERR_OK);
    ck_assert_int_eq(pointers_get(t, ID1, &p), ERR_OK);
    ck_assert_str_eq(p.id, ID1);
    ck_assert_str_eq(p.nhs, NHS_A);
    ck_assert_str_eq(p.custodian, "A81001");
    ck_assert_str_eq(p.category, "care-plans");
    ck_assert_str_eq(p.type_system, "http://snomed.info/sct");
    ck_assert_str_eq(p.type_code, "736373009");
    ck_assert_str_eq(p.type_display, "End of life care plan");
    ck_assert_str_eq(p.url, "https://gp.example/fhir/Binary/1");
    ck_assert_str_eq(p.content_type, "application/pdf");
    ck_assert_str_eq(p.created, "2026-01-01T00:00:00Z");
    ck_assert_str_eq(p.supersedes, "");
    ck_assert_str_eq(p.superseded_by, "");
    ck_assert_uint_eq(p.index, 2);
    ck_assert_uint_eq(p.retire_index, 0);
    ck_assert(p.active);
    ck_assert_int_eq(pointers_get(t, ID2, &p), ERR_NOTFOUND);
    ck_assert_int_eq(pointers_get(t, "nonsense", &p), ERR_NOTFOUND);
}
END_TEST

START_TEST(test_known_id_conflicts)
{
    ck_assert_int_eq(pointer(ID1, NHS_A, "A81001", NULL), ERR_OK);
    ck_assert_int_eq(pointer(ID1, NHS_B, "RX1", NULL), ERR_CONFLICT);
    ck_assert_str_eq(why, "pointer " ID1 " already exists");
}
END_TEST

START_TEST(test_malformed_pointers_are_refused)
{
    ck_assert_int_eq(pointer("short", NHS_A, "A81001", NULL), ERR_INVAL);
    ck_assert_int_eq(pointer(ID1, "9434765918", "A81001", NULL), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "valid \"nhs\""));
    ck_assert_int_eq(pointer(ID1, NHS_A, "Z99999", NULL), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "registered organisation"));
    ck_assert_int_eq(
        add("{\"v\":1,\"type\":\"pointer\",\"id\":\"" ID1 "\",\"nhs\":\"" NHS_A
            "\",\"custodian\":\"A81001\",\"category\":\"x\",\"record_type\":\"736373009\","
            "\"url\":\"u\",\"content_type\":\"c\"}"),
        ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "\"record_type\" {\"system\""));
    ck_assert_int_eq(
        add("{\"v\":1,\"type\":\"pointer.retire\",\"id\":\"" ID1 "\",\"custodian\":\"A81001\"}"),
        ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "\"reason\""));
    /* Nothing was written by any of them. */
    ck_assert_int_eq(pointer(ID1, NHS_A, "A81001", NULL), ERR_OK);
}
END_TEST

START_TEST(test_retire_by_custodian_once)
{
    struct pointers_pointer p;

    ck_assert_int_eq(pointer(ID1, NHS_A, "A81001", NULL), ERR_OK);
    ck_assert_int_eq(pointers_check_end(t, ID1, "RX1", NULL, why), ERR_AUTH);
    ck_assert_int_eq(retire(ID1, "RX1"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "published by another custodian"));
    ck_assert_int_eq(pointers_check_end(t, ID1, "A81001", NULL, why), ERR_OK);
    ck_assert_int_eq(retire(ID1, "A81001"), ERR_OK);
    ck_assert_int_eq(pointers_get(t, ID1, &p), ERR_OK);
    ck_assert(!p.active);
    ck_assert_uint_eq(p.retire_index, 3);
    ck_assert_int_eq(pointers_check_end(t, ID1, "A81001", NULL, why), ERR_CONFLICT);
    ck_assert_int_eq(retire(ID1, "A81001"), ERR_CONFLICT);
    ck_assert_str_eq(why, "pointer " ID1 " is already retired");
    ck_assert_int_eq(pointers_check_end(t, ID2, "A81001", NULL, why), ERR_NOTFOUND);
    ck_assert_int_eq(retire(ID2, "A81001"), ERR_INVAL);
    ck_assert_str_eq(why, "there is no pointer " ID2);
}
END_TEST

START_TEST(test_supersede_rules)
{
    struct pointers_pointer p;

    ck_assert_int_eq(pointer(ID1, NHS_A, "A81001", NULL), ERR_OK);
    /* Another custodian, another person, an unknown pointer: refused. */
    ck_assert_int_eq(pointers_check_end(t, ID1, "RX1", NHS_A, why), ERR_AUTH);
    ck_assert_int_eq(pointer(ID2, NHS_A, "RX1", ID1), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "may supersede it"));
    ck_assert_int_eq(pointers_check_end(t, ID1, "A81001", NHS_B, why), ERR_INVAL);
    ck_assert_int_eq(pointer(ID2, NHS_B, "A81001", ID1), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(why, "another person"));
    ck_assert_ptr_null(strstr(why, NHS_A));
    ck_assert_ptr_null(strstr(why, NHS_B));
    ck_assert_int_eq(pointer(ID2, NHS_A, "A81001", ID4), ERR_INVAL);
    ck_assert_int_eq(pointers_get(t, ID2, &p), ERR_NOTFOUND);
    /* The custodian replaces its own pointer about the same person. */
    ck_assert_int_eq(pointer(ID2, NHS_A, "A81001", ID1), ERR_OK);
    ck_assert_int_eq(pointers_get(t, ID1, &p), ERR_OK);
    ck_assert(!p.active);
    ck_assert_str_eq(p.superseded_by, ID2);
    ck_assert_uint_eq(p.retire_index, 0);
    ck_assert_int_eq(pointers_get(t, ID2, &p), ERR_OK);
    ck_assert(p.active);
    ck_assert_str_eq(p.supersedes, ID1);
    /* Once only, and a superseded pointer cannot be retired. */
    ck_assert_int_eq(pointer(ID3, NHS_A, "A81001", ID1), ERR_CONFLICT);
    ck_assert_str_eq(why, "pointer " ID1 " is already superseded by " ID2);
    ck_assert_int_eq(retire(ID1, "A81001"), ERR_CONFLICT);
    /* A retired pointer cannot be superseded. */
    ck_assert_int_eq(retire(ID2, "A81001"), ERR_OK);
    ck_assert_int_eq(pointer(ID3, NHS_A, "A81001", ID2), ERR_CONFLICT);
}
END_TEST

struct seen {
    char ids[8][POINTERS_ID_LEN + 1];
    int n;
};

static enum err
collect(void *ctx, const struct pointers_pointer *p)
{
    struct seen *sn = ctx;

    ck_assert_int_lt(sn->n, 8);
    snprintf(sn->ids[sn->n++], POINTERS_ID_LEN + 1, "%s", p->id);
    return ERR_OK;
}

static enum err
stop_at_first(void *ctx, const struct pointers_pointer *p)
{
    (void)p;
    ++*(int *)ctx;
    return ERR_CONFLICT;
}

START_TEST(test_listing)
{
    struct seen sn;
    int calls = 0;

    /* Published out of id order, to two people. */
    ck_assert_int_eq(pointer(ID3, NHS_A, "A81001", NULL), ERR_OK);
    ck_assert_int_eq(pointer(ID1, NHS_A, "RX1", NULL), ERR_OK);
    ck_assert_int_eq(pointer(ID4, NHS_B, "RX1", NULL), ERR_OK);
    ck_assert_int_eq(pointer(ID2, NHS_A, "A81001", ID3), ERR_OK);

    memset(&sn, 0, sizeof(sn));
    ck_assert_int_eq(pointers_list(t, NHS_A, false, collect, &sn), ERR_OK);
    ck_assert_int_eq(sn.n, 3);
    ck_assert_str_eq(sn.ids[0], ID1);
    ck_assert_str_eq(sn.ids[1], ID2);
    ck_assert_str_eq(sn.ids[2], ID3);

    memset(&sn, 0, sizeof(sn));
    ck_assert_int_eq(pointers_list(t, NHS_A, true, collect, &sn), ERR_OK);
    ck_assert_int_eq(sn.n, 2);
    ck_assert_str_eq(sn.ids[0], ID1);
    ck_assert_str_eq(sn.ids[1], ID2);

    ck_assert_int_eq(retire(ID1, "RX1"), ERR_OK);
    memset(&sn, 0, sizeof(sn));
    ck_assert_int_eq(pointers_list(t, NHS_A, true, collect, &sn), ERR_OK);
    ck_assert_int_eq(sn.n, 1);
    ck_assert_str_eq(sn.ids[0], ID2);

    memset(&sn, 0, sizeof(sn));
    ck_assert_int_eq(pointers_list(t, NHS_B, true, collect, &sn), ERR_OK);
    ck_assert_int_eq(sn.n, 1);
    ck_assert_str_eq(sn.ids[0], ID4);

    memset(&sn, 0, sizeof(sn));
    ck_assert_int_eq(pointers_list(t, "9000000009", true, collect, &sn), ERR_OK);
    ck_assert_int_eq(sn.n, 0);
    ck_assert_int_eq(pointers_list(t, NHS_A, false, stop_at_first, &calls), ERR_CONFLICT);
    ck_assert_int_eq(calls, 1);
}
END_TEST

START_TEST(test_replay_needs_no_log)
{
    struct store_txn *fresh = NULL;
    struct store *s2 = NULL;
    char dir2[TU_DIR_MAX];
    static const char *const entries[] = {
        "{\"v\":1,\"type\":\"org\",\"ods\":\"A81001\"}",
        "{\"v\":1,\"type\":\"pointer\",\"time\":\"t\",\"id\":\"" ID1 "\",\"nhs\":\"" NHS_A
        "\",\"custodian\":\"A81001\",\"category\":\"c\",\"record_type\":{\"system\":\"s\",\"code\":"
        "\"1\",\"display\":\"d\"},\"url\":\"u\",\"content_type\":\"a/b\"}",
        "{\"v\":1,\"type\":\"pointer\",\"time\":\"t\",\"id\":\"" ID2 "\",\"nhs\":\"" NHS_A
        "\",\"custodian\":\"A81001\",\"category\":\"c\",\"record_type\":{\"system\":\"s\",\"code\":"
        "\"1\",\"display\":\"d\"},\"url\":\"u\",\"content_type\":\"a/b\",\"supersedes\":\"" ID1
        "\"}",
        "{\"v\":1,\"type\":\"pointer.retire\",\"id\":\"" ID2
        "\",\"custodian\":\"A81001\",\"reason\":\"r\"}",
    };
    size_t i;

    /* A rebuild applies entries to a store holding no log: the rules must still hold. */
    tu_tmpdir(dir2);
    ck_assert_int_eq(store_open(dir2, MAP, &s2), ERR_OK);
    ck_assert_int_eq(store_begin(s2, true, &fresh), ERR_OK);
    for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        ck_assert_msg(state_apply(fresh, i, (const uint8_t *)entries[i], strlen(entries[i]), why) ==
                          ERR_OK,
                      "entry %zu: %s", i, why);
    ck_assert_int_eq(state_apply(fresh, 4, (const uint8_t *)entries[3], strlen(entries[3]), why),
                     ERR_CONFLICT);
    store_abort(fresh);
    store_close(s2);
    tu_rmrf(dir2);
}
END_TEST

Suite *
pointers_suite(void)
{
    Suite *su = suite_create("pointers");
    TCase *tc = tcase_create("pointers");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_urls_and_content_types);
    tcase_add_test(tc, test_publish_and_read);
    tcase_add_test(tc, test_known_id_conflicts);
    tcase_add_test(tc, test_malformed_pointers_are_refused);
    tcase_add_test(tc, test_retire_by_custodian_once);
    tcase_add_test(tc, test_supersede_rules);
    tcase_add_test(tc, test_listing);
    tcase_add_test(tc, test_replay_needs_no_log);
    suite_add_tcase(su, tc);
    return su;
}
