/*
 * suites: every Check suite of the unit tests, one per module; check_main.c runs them all.
 *
 * THREAD SAFETY: tests run in forked children (Check's default).
 */
#ifndef SUITES_H
#define SUITES_H

#include <check.h>

/* The path of the shared test vectors, relative to the repository root. */
#define VECTORS_DIR "../shared/vectors"

Suite *b64_suite(void);
Suite *hash_suite(void);
Suite *keys_suite(void);
Suite *sig_suite(void);
Suite *merkle_suite(void);
Suite *note_suite(void);
Suite *jstrict_suite(void);
Suite *jws_suite(void);
Suite *pkey_suite(void);
Suite *store_suite(void);
Suite *tlog_suite(void);
Suite *ckpt_suite(void);
Suite *sequencer_suite(void);
Suite *config_suite(void);
Suite *policy_suite(void);
Suite *pointers_suite(void);
Suite *state_suite(void);
Suite *json_suite(void);
Suite *nhs_suite(void);
Suite *patients_suite(void);
Suite *consent_suite(void);
Suite *assertion_suite(void);
Suite *jtis_suite(void);
Suite *rebuild_suite(void);
Suite *fhir_consent_suite(void);
Suite *consents_suite(void);
Suite *access_suite(void);
Suite *authz_suite(void);
Suite *audit_suite(void);
Suite *tiles_suite(void);
Suite *tls_suite(void);
Suite *tokenkeys_suite(void);
Suite *token_suite(void);
Suite *trail_suite(void);
Suite *token_attacks_suite(void);
Suite *ambiguity_suite(void);
Suite *ecache_suite(void);

#endif
