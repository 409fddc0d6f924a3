/*
 * sigcost: what one Ed25519 signature and one verification cost on this machine, through
 * consentd's own sig_sign and sig_verify (libsodium), for make bench. A consent-checked token
 * costs one verification (the client's assertion) and one signature (the token), so these two
 * figures bound the tokens/s two cores can give. Prints microseconds of CPU time per operation
 * over a message of a token's size.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consentd/hash.h"
#include "consentd/keys.h"
#include "consentd/sig.h"

#define SIGCOST_ROUNDS 20000
#define SIGCOST_MSG    1024 /* bytes: about a consent-checked token's signed part */

static double
sigcost_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(void)
{
    uint8_t msg[SIGCOST_MSG], pk[KEYS_PUBLIC_BYTES], sig[SIG_BYTES];
    struct keys_pair *k = NULL;
    unsigned i, bad = 0;
    double t0, t1, t2;

    if (hash_init() != ERR_OK || keys_generate(&k) != ERR_OK) {
        fprintf(stderr, "sigcost: cannot make a key\n");
        return 1;
    }
    keys_public(k, pk);
    hash_random(msg, sizeof(msg));
    t0 = sigcost_cpu();
    for (i = 0; i < SIGCOST_ROUNDS; i++) {
        msg[0] = (uint8_t)i;
        sig_sign(k, msg, sizeof(msg), sig);
    }
    t1 = sigcost_cpu();
    for (i = 0; i < SIGCOST_ROUNDS; i++)
        bad += sig_verify(pk, msg, sizeof(msg), sig) != ERR_OK;
    t2 = sigcost_cpu();
    keys_free(k);
    if (bad != 0) {
        fprintf(stderr, "sigcost: %u of %u verifications failed\n", bad, SIGCOST_ROUNDS);
        return 1;
    }
    printf("Ed25519 on this machine (%d-byte message, CPU time): sign %.1f µs, verify %.1f µs\n",
           SIGCOST_MSG, 1e6 * (t1 - t0) / SIGCOST_ROUNDS, 1e6 * (t2 - t1) / SIGCOST_ROUNDS);
    return 0;
}
