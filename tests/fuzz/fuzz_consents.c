/*
 * fuzz_consents: patients' signed grants (POST /v1/consents) read by consents_grant_parse, and
 * a delegation's "rights" read by consents_rights_parse.
 *
 * The first byte chooses the input's form. 0: the rest is a compact JWS, taken as it is. 1: the
 * rest is a grant's payload, signed here under {"alg":"EdDSA","typ":"consent+jwt","kid":…}. 2:
 * the rest is "<header>\n<payload>", signed here. 3: the rest is a "rights" object.
 *
 * Invariants: a refusal has a refusal code and a sentence; a grant that parses holds what the
 * header comment of consents.h promises (valid NHS numbers and jti, a known effect and grantee,
 * 1 to CONSENTS_MAX_NAMES datatypes, read only, start before end).
 */
#include <stdlib.h>
#include <string.h>

#include "consentd/consents.h"
#include "consentd/jstrict.h"
#include "fuzzutil.h"

static void
check_grant(const char *jws, size_t len)
{
    static struct consents_grant g;
    enum consents_refusal code = CONSENTS_OK;
    char why[STATE_WHY_MAX] = "";
    enum err rc;

    rc = consents_grant_parse(jws, len, &g, &code, why);
    if (rc != ERR_OK) {
        if (rc != ERR_INVAL || code == CONSENTS_OK || why[0] == '\0')
            fz_fail("consents_grant_parse broke its failure contract");
        return;
    }
    if (!nhs_valid(g.iss) || !nhs_valid(g.sub) || !consents_jti_valid(g.jti))
        fz_fail("a grant parsed with a bad iss, sub or jti");
    if ((g.effect != CONSENT_PERMIT && g.effect != CONSENT_DENY) ||
        (g.grantee != CONSENT_GRANTEE_ORG && g.grantee != CONSENT_GRANTEE_ROLE &&
         g.grantee != CONSENT_GRANTEE_ANY))
        fz_fail("a grant parsed with an unknown effect or grantee");
    if (g.ndatatypes == 0 || g.ndatatypes > CONSENTS_MAX_NAMES || g.actions != CONSENT_ACTION_READ)
        fz_fail("a grant parsed with %u datatypes or actions %u", g.ndatatypes, g.actions);
    if (g.start >= g.end)
        fz_fail("a grant parsed with its period's end not after its start");
}

static void
check_rights(const uint8_t *data, size_t size)
{
    static struct consents_rights r;
    char why[STATE_WHY_MAX] = "";
    cJSON *o = NULL;

    if (jstrict_parse((const char *)data, size, &o, NULL) != ERR_OK)
        return;
    if (consents_rights_parse(o, &r, why) == ERR_OK) {
        if (r.npurposes > CONSENTS_MAX_NAMES || r.ndatatypes > CONSENTS_MAX_NAMES || r.actions == 0)
            fz_fail("rights parsed with %u purposes, %u datatypes, actions %u", r.npurposes,
                    r.ndatatypes, r.actions);
    } else if (why[0] == '\0') {
        fz_fail("consents_rights_parse refused without a sentence");
    }
    cJSON_Delete(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char header[] = "{\"alg\":\"EdDSA\",\"typ\":\"consent+jwt\",\"kid\":"
                                 "\"If4x36FUomFia_hUBG_SJxt77UtqvkWqWId-9H-XIbk\"}";
    static char jws[FZ_JWS_MAX];
    const struct keys_pair *k = fz_key(8, NULL, NULL);
    char *hdr, *payload;
    size_t hlen, plen, len;

    if (size == 0)
        return 0;
    switch (data[0]) {
    case 0:
        check_grant((const char *)data + 1, size - 1);
        break;
    case 1:
        len = fz_jws(k, header, sizeof(header) - 1, (const char *)data + 1, size - 1, jws);
        if (len > 0)
            check_grant(jws, len);
        break;
    case 2:
        fz_split(data + 1, size - 1, &hdr, &hlen, &payload, &plen);
        len = fz_jws(k, hdr, hlen, payload, plen, jws);
        if (len > 0)
            check_grant(jws, len);
        free(hdr);
        free(payload);
        break;
    default:
        check_rights(data + 1, size - 1);
        break;
    }
    return 0;
}
