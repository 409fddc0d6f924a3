/*
 * fuzz_jstrict: strict JSON (every request body, JWS header and payload, log entry) and the
 * typed member reads of service/json.c.
 *
 * Invariants beyond "no crash, no leak": whatever jstrict accepts, plain cJSON reads the same
 * way (the same tree, printed); and json_fields_text gives members that json_fields_parse reads
 * back to the same tree, as a write's entry round-trips through the sequencer's check.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "consentd/jstrict.h"
#include "consentd/json.h"
#include "fuzzutil.h"

static const char *const members[] = {"nhs", "jws", "jwk", "code", "reason", "ods", "type"};

/* same_print aborts unless a and b print to the same text. */
static void
same_print(const cJSON *a, const cJSON *b, const char *what)
{
    char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);

    if (pa == NULL || pb == NULL || strcmp(pa, pb) != 0)
        fz_fail("%s: %s differs from %s", what, pa != NULL ? pa : "(null)",
                pb != NULL ? pb : "(null)");
    free(pa);
    free(pb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *o = NULL, *plain = NULL, *back = NULL;
    char why[JSON_WHY_MAX];
    const char *jwhy = NULL, *s;
    const cJSON *m;
    char *fields = NULL;
    size_t len, i;

    fz_init();
    if (jstrict_parse((const char *)data, size, &o, &jwhy) != ERR_OK) {
        if (o != NULL || jwhy == NULL)
            fz_fail("a refusal must leave no tree and say why");
        return 0;
    }
    plain = cJSON_ParseWithLength((const char *)data, size);
    if (plain == NULL)
        fz_fail("jstrict accepted what cJSON refuses");
    same_print(o, plain, "cJSON's reading");
    if (json_fields_text(o, &fields, &len) != ERR_OK)
        fz_fail("json_fields_text failed");
    back = json_fields_parse(fields, len);
    if (back == NULL)
        fz_fail("json_fields_parse refused json_fields_text's members: %s", fields);
    same_print(o, back, "the fields' round trip");
    (void)json_only_members(o, members, sizeof(members) / sizeof(members[0]), why);
    cJSON_ArrayForEach(m, o)
    {
        (void)json_string(o, m->string, true, 1, 64, &s, why);
    }
    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
        (void)json_string(o, members[i], false, 0, 10, &s, why);
    free(fields);
    cJSON_Delete(back);
    cJSON_Delete(plain);
    cJSON_Delete(o);
    return 0;
}
