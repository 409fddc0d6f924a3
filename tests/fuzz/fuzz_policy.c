/*
 * fuzz_policy: policy documents (policies/default.json and whatever an operator writes), read
 * by policy_parse as `consentd serve --policy FILE` reads them.
 *
 * Invariants: a refusal names the problem and leaves no policy; a policy that loads answers
 * every question about itself within its own limits (every category and purpose it lists is
 * known, has a display, and the category bits and names agree).
 */
#include <string.h>

#include "consentd/policy.h"
#include "fuzzutil.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = NULL;
    char why[256], list[4096];
    const char *name;
    unsigned i, n;
    int bit;

    fz_init();
    why[0] = '\0';
    if (policy_parse((const char *)data, size, &p, why, sizeof(why)) != ERR_OK) {
        if (p != NULL || why[0] == '\0')
            fz_fail("policy_parse broke its failure contract");
        return 0;
    }
    n = policy_category_count(p);
    if (n > 64)
        fz_fail("a policy with %u categories loaded", n);
    for (i = 0; i < n; i++) {
        name = policy_category_at(p, i);
        if (name == NULL || !policy_category_known(p, name))
            fz_fail("category %u is not known by its own name", i);
        bit = policy_category_bit(p, name);
        if (bit != (int)i)
            fz_fail("category %s is at %u but its bit is %d", name, i, bit);
        if (policy_category_sensitive(p, name) != ((policy_sensitive_mask(p) >> i) & 1))
            fz_fail("category %s's sensitivity and the mask disagree", name);
        (void)policy_category_display(p, name);
    }
    if (policy_category_at(p, n) != NULL)
        fz_fail("a category past the end");
    policy_category_list(p, list, sizeof(list));
    policy_org_type_list(p, list, sizeof(list));
    (void)policy_org_type_allows(p, "gp-practice", POLICY_ROLE_REQUESTER);
    (void)policy_purpose_known(p, "TREAT");
    (void)policy_purpose_display(p, "TREAT");
    (void)policy_category_of_type(p, POLICY_SNOMED_SYSTEM, "1");
    if (policy_token_lifetime(p, false) < POLICY_MIN_LIFETIME ||
        policy_token_lifetime(p, false) > POLICY_MAX_LIFETIME ||
        policy_token_lifetime(p, true) < POLICY_MIN_LIFETIME ||
        policy_token_lifetime(p, true) > POLICY_MAX_LIFETIME)
        fz_fail("a token lifetime outside the limits loaded");
    policy_free(p);
    return 0;
}
