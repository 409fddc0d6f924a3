/*
 * fuzz_fhir_consent: FHIR R4 Consent resources as POST /fhir/Consent takes them: the body read
 * strictly, fhir_consent_check (the R4 rules) and fhir_consent_from_resource against the
 * default policy.
 *
 * Invariants: a refusal has a diagnostics sentence and an expression, and leaves the grant
 * zeroed; a Consent that is accepted, once held as a grant and given back as GET /fhir/Consent
 * gives it (fhir_consent_to_resource), passes the R4 rules and reads back to the same grant.
 */
#include <string.h>

#include "consentd/fhir_consent.h"
#include "consentd/jstrict.h"
#include "fuzzutil.h"

/* same_grant is true if a and b agree on everything a Consent carries. */
static bool
same_grant(const struct fhir_consent_grant *a, const struct fhir_consent_grant *b)
{
    size_t i;

    if (strcmp(a->nhs, b->nhs) != 0 || a->effect != b->effect || a->grantee != b->grantee ||
        strcmp(a->grantee_value, b->grantee_value) != 0 || strcmp(a->purpose, b->purpose) != 0 ||
        a->ndatatypes != b->ndatatypes || a->actions != b->actions ||
        strcmp(a->start, b->start) != 0 || strcmp(a->end, b->end) != 0 ||
        strcmp(a->recorded, b->recorded) != 0)
        return false;
    for (i = 0; i < a->ndatatypes; i++)
        if (strcmp(a->datatypes[i], b->datatypes[i]) != 0)
            return false;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fhir_consent_grant g, again, zero;
    char diag[FHIR_CONSENT_DIAG_MAX], expr[FHIR_CONSENT_EXPR_MAX], why[FHIR_CONSENT_DIAG_MAX];
    cJSON *res = NULL, *back = NULL;

    fz_init();
    if (jstrict_parse((const char *)data, size, &res, NULL) != ERR_OK)
        return 0;
    (void)fhir_consent_check(res, why, sizeof(why));
    if (fhir_consent_from_resource(res, fz_policy(), &g, diag, sizeof(diag), expr, sizeof(expr)) !=
        ERR_OK) {
        if (diag[0] == '\0' || expr[0] == '\0' || memcmp(&g, &zero, sizeof(g)) != 0)
            fz_fail("fhir_consent_from_resource broke its failure contract");
        goto out;
    }
    /* Held as a grant, as api_fhir_consent.c records one. */
    strcpy(g.jti, "fuzz-1");
    strcpy(g.source_id, "client-1");
    g.index = 7;
    back = fhir_consent_to_resource(&g, fz_policy());
    if (back == NULL)
        fz_fail("an accepted Consent cannot be given back");
    if (fhir_consent_check(back, why, sizeof(why)) != ERR_OK)
        fz_fail("an accepted Consent, given back, breaks the R4 rules: %s", why);
    if (fhir_consent_from_resource(back, fz_policy(), &again, diag, sizeof(diag), expr,
                                   sizeof(expr)) != ERR_OK)
        fz_fail("an accepted Consent, given back, is refused: %s (%s)", diag, expr);
    if (!same_grant(&g, &again))
        fz_fail("an accepted Consent, given back, reads as another grant");
out:
    cJSON_Delete(back);
    cJSON_Delete(res);
    return 0;
}
