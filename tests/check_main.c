/*
 * check_main: runs every unit-test suite of suites.h. Run it from the repository root so the
 * tests find ../shared/vectors.
 */
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "consentd/hash.h"
#include "suites.h"

/* Every suite, one line each: adding a module's tests is adding its line here. */
static Suite *(*const suites[])(void) = {
    b64_suite,       hash_suite,      keys_suite,      sig_suite,          merkle_suite,
    note_suite,      jstrict_suite,   jws_suite,       store_suite,        tlog_suite,
    ckpt_suite,      sequencer_suite, config_suite,    policy_suite,       state_suite,
    json_suite,      rebuild_suite,   assertion_suite, jtis_suite,         pointers_suite,
    nhs_suite,       patients_suite,  consent_suite,   fhir_consent_suite, consents_suite,
    pkey_suite,      access_suite,    authz_suite,     audit_suite,        tiles_suite,
    tls_suite,       tokenkeys_suite, token_suite,     trail_suite,        token_attacks_suite,
    ambiguity_suite, ecache_suite,
};

int
main(void)
{
    SRunner *sr;
    size_t i;
    int failed;

    /* Forked tests inherit the initialised library. */
    if (hash_init() != ERR_OK) {
        fprintf(stderr, "check_main: libsodium failed to initialise\n");
        return EXIT_FAILURE;
    }
    sr = srunner_create(NULL);
    for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
