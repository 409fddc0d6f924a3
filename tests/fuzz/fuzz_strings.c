/*
 * fuzz_strings: the small readers of untrusted text that the bigger parsers and the handlers
 * call: base64 and base64url, NHS numbers, ODS codes, ids, times, URLs, content types, SNOMED
 * CT ids, scopes, linked identifiers, decimal query numbers, listen addresses and tile paths.
 *
 * The first byte chooses the reader; the rest, up to its first NUL, is the text. Invariants are
 * round trips: what decodes encodes back to the same text (base64 is canonical), what parses
 * as a time or a number formats back to the same text (both accept one form only), and what a
 * validator accepts has the shape it promises.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/b64.h"
#include "consentd/clients.h"
#include "consentd/config.h"
#include "consentd/consents.h"
#include "consentd/fhir_consent.h"
#include "consentd/http.h"
#include "consentd/note.h"
#include "consentd/patients.h"
#include "consentd/pointers.h"
#include "consentd/policy.h"
#include "consentd/tiles.h"
#include "consentd/token.h"
#include "fuzzutil.h"

static void
b64_round_trip(const char *s, size_t len, enum b64_variant v)
{
    uint8_t *bin = malloc(len + 1);
    char *back = malloc(len + 8);
    size_t n;

    if (bin == NULL || back == NULL)
        fz_fail("out of memory");
    if (b64_decode(s, len, v, bin, len + 1, &n) == ERR_OK) {
        if (b64_encode(bin, n, v, back, len + 8) != ERR_OK || strcmp(back, s) != 0)
            fz_fail("base64 \"%s\" decodes but encodes back as \"%s\"", s, back);
    } else if (n != 0) {
        fz_fail("a refused base64 text left a length");
    }
    free(bin);
    free(back);
}

static void
check_time(const char *s)
{
    char back[CONSENTS_TIME_LEN + 1];
    enum fhir_consent_state st;
    int64_t t;

    if (consents_time_parse(s, &t) == ERR_OK) {
        consents_time_format(t, back);
        if (strcmp(back, s) != 0)
            fz_fail("time \"%s\" reads as %" PRId64 ", which formats as \"%s\"", s, t, back);
    } else if (t != 0) {
        fz_fail("a refused time left a value");
    }
    (void)fhir_consent_state_of(s, "2030-01-01T00:00:00Z", false, FZ_NOW, &st);
    (void)fhir_consent_state_of("2020-01-01T00:00:00Z", s, false, FZ_NOW, &st);
}

static void
check_u64(const char *s)
{
    char back[32];
    uint64_t v;

    if (http_parse_u64(s, &v)) {
        snprintf(back, sizeof(back), "%" PRIu64, v);
        if (strcmp(back, s) != 0)
            fz_fail("number \"%s\" reads as %s", s, back);
    }
}

static void
check_names(const char *s)
{
    char id[FHIR_CONSENT_ID_MAX + 1], why[STATE_WHY_MAX];
    const char *bad, *bar;
    unsigned scopes;
    size_t i;

    if (nhs_valid(s)) {
        if (strlen(s) != NHS_LEN)
            fz_fail("an NHS number of %zu characters", strlen(s));
        for (i = 0; i < NHS_LEN; i++)
            if (s[i] < '0' || s[i] > '9')
                fz_fail("an NHS number with a non-digit");
    }
    (void)state_ods_valid(s);
    (void)clients_id_valid(s);
    if (consents_jti_valid(s) && fhir_consent_id(s, id) != ERR_OK)
        fz_fail("a valid jti has no FHIR id");
    (void)note_name_valid(s);
    (void)policy_sctid_valid(s);
    (void)pointers_url_valid(s);
    (void)pointers_content_type_valid(s);
    (void)patients_reason_valid(s);
    (void)pointers_id_valid(s);
    if (token_scope_parse(s, &scopes, &bad) != ERR_OK && bad == NULL)
        fz_fail("a refused scope names no bad scope");
    bar = strchr(s, '|');
    if (bar != NULL) {
        char *system = strndup(s, (size_t)(bar - s));
        if (system == NULL)
            fz_fail("out of memory");
        (void)patients_link_valid(system, bar + 1, why);
        free(system);
    }
}

/*
 * check_tile: a tile path that parses is in the one form tlog-tiles allows, so writing the
 * parsed path in that form gives the text back.
 */
static void
check_tile(const char *s)
{
    char why[TILES_WHY_MAX], back[160];
    struct tiles_path t;
    uint64_t div = 1;
    size_t n;

    if (tiles_parse(s, strlen(s), &t, why) != ERR_OK)
        return;
    if (t.entries)
        n = (size_t)snprintf(back, sizeof(back), "entries/");
    else
        n = (size_t)snprintf(back, sizeof(back), "%u/", t.level);
    /* The index in groups of three digits, each but the last with an 'x' and a slash. */
    while (t.index / div >= 1000)
        div *= 1000;
    for (; div > 1; div /= 1000)
        n += (size_t)snprintf(back + n, sizeof(back) - n, "x%03u/",
                              (unsigned)(t.index / div % 1000));
    n += (size_t)snprintf(back + n, sizeof(back) - n, "%03u", (unsigned)(t.index % 1000));
    if (t.width != TILES_WIDTH)
        snprintf(back + n, sizeof(back) - n, ".p/%u", t.width);
    if (strcmp(back, s) != 0)
        fz_fail("tile path \"%s\" parses to one written \"%s\"", s, back);
}

static void
check_listen(const char *s)
{
    char host[256];
    uint16_t port;

    (void)config_split_listen(s, host, sizeof(host), &port);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    fz_init();
    if (size == 0)
        return 0;
    s = strndup((const char *)data + 1, size - 1);
    if (s == NULL)
        fz_fail("out of memory");
    switch (data[0] % 7) {
    case 0:
        b64_round_trip(s, strlen(s), B64_STD);
        break;
    case 1:
        b64_round_trip(s, strlen(s), B64_URL);
        break;
    case 2:
        check_time(s);
        break;
    case 3:
        check_u64(s);
        break;
    case 4:
        check_names(s);
        break;
    case 5:
        check_listen(s);
        break;
    default:
        check_tile(s);
        break;
    }
    free(s);
    return 0;
}
