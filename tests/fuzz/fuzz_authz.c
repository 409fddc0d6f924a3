/*
 * fuzz_authz: the token endpoint's authorization_details parameter (RFC 9396), read by
 * authz_parse against the default policy.
 *
 * Invariants: a refusal says why and leaves the request zeroed; a request that parses, written
 * back as authz_granted writes it (without the "grants" a decision adds), parses to the same
 * request (a break-glass one with the purpose AUTHZ_BTG it is granted under).
 */
#include <stdlib.h>
#include <string.h>

#include "consentd/authz.h"
#include "fuzzutil.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct authz_request r, again, zero;
    char why[STATE_WHY_MAX];
    cJSON *granted, *o;
    unsigned i;
    char *text;

    fz_init();
    if (authz_parse(fz_policy(), (const char *)data, size, &r, why) != ERR_OK) {
        if (why[0] == '\0' || memcmp(&r, &zero, sizeof(r)) != 0)
            fz_fail("authz_parse broke its failure contract");
        return 0;
    }
    if (r.n == 0 || r.n > AUTHZ_MAX_DETAILS || r.nasked > AUTHZ_MAX_AUD)
        fz_fail("authz_parse accepted %u objects and %u locations", r.n, r.nasked);
    granted = authz_granted(fz_policy(), &r);
    cJSON_ArrayForEach(o, granted)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "grants");
    }
    text = cJSON_PrintUnformatted(granted);
    if (text == NULL)
        fz_fail("cannot print the granted details");
    /* Writing back adds "actions" when it was left out: that may pass the size limit. */
    if (strlen(text) <= AUTHZ_MAX_TEXT) {
        if (authz_parse(fz_policy(), text, strlen(text), &again, why) != ERR_OK)
            fz_fail("the request written back does not parse: %s: %s", why, text);
        /* A break-glass request is granted with purpose AUTHZ_BTG, whatever it asked. */
        for (i = 0; r.break_glass && i < r.n; i++) {
            memset(r.d[i].purpose, 0, sizeof(r.d[i].purpose));
            strcpy(r.d[i].purpose, AUTHZ_BTG);
        }
        if (memcmp(&r, &again, sizeof(r)) != 0)
            fz_fail("the request written back parses differently: %s", text);
    }
    free(text);
    cJSON_Delete(granted);
    return 0;
}
