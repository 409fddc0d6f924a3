/*
 * check_main: runs every unit-test suite of suites.h, or with an argument N only the N-th
 * (from 0; `check_main --count` prints how many there are). Run it from the repository root so
 * the tests find ../shared/vectors. `make unit` runs each suite in a process of its own
 * (tests/unit.sh): under LeakSanitizer every forked test scans the memory it inherits, and one
 * process for all suites took twice as long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
main(int argc, char **argv)
{
    size_t n = sizeof(suites) / sizeof(suites[0]), i, first = 0, last = n;
    SRunner *sr;
    char *end;
    int failed;

    if (argc == 2 && strcmp(argv[1], "--count") == 0) {
        printf("%zu\n", n);
        return EXIT_SUCCESS;
    }
    if (argc == 2) {
        first = (size_t)strtoul(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0' || first >= n) {
            fprintf(stderr, "usage: check_main [--count | N], N from 0 to %zu\n", n - 1);
            return EXIT_FAILURE;
        }
        last = first + 1;
    } else if (argc > 2) {
        fprintf(stderr, "usage: check_main [--count | N], N from 0 to %zu\n", n - 1);
        return EXIT_FAILURE;
    }
    /* Forked tests inherit the initialised library. */
    if (hash_init() != ERR_OK) {
        fprintf(stderr, "check_main: libsodium failed to initialise\n");
        return EXIT_FAILURE;
    }
    sr = srunner_create(NULL);
    for (i = first; i < last; i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
