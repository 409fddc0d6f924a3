/*
 * fuzzutil: what the libFuzzer targets share: one-time set-up, fixed keys, signing fuzzed text
 * so that a target reaches the code behind a signature check, and a scratch LMDB store.
 *
 * Each target is one tests/fuzz/fuzz_<parser>.c defining LLVMFuzzerTestOneInput; the Makefile
 * links it with this file and the library built with -fsanitize=fuzzer-no-link. A target runs
 * from the repository root (it reads policies/default.json). A broken invariant calls
 * fz_fail, which aborts: libFuzzer saves the input as a crash.
 *
 * THREAD SAFETY: none; libFuzzer runs one input at a time.
 */
#ifndef FUZZUTIL_H
#define FUZZUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/keys.h"
#include "consentd/policy.h"
#include "consentd/store.h"

#define FZ_NOW        1764000000 /* the fixed "now" of every time check: 2025-11-24 */
#define FZ_ISSUER     "http://127.0.0.1:8080"
#define FZ_ENDPOINT   FZ_ISSUER "/oauth2/token"
#define FZ_JWS_MAX    65536 /* room for a compact JWS made from a fuzzed header and payload */
#define FZ_POLICY     "policies/default.json"
#define FZ_STORE_SIZE (64u * 1024 * 1024)

/* LLVMFuzzerTestOneInput is what libFuzzer calls; every target defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fz_fail reports a broken invariant of the target on standard error and aborts. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* fz_init initialises libsodium once; every target calls it first. */
void fz_init(void);

/*
 * fz_key returns the key pair whose seed is 32 bytes of seed_byte, made once and kept for the
 * process (never freed), with its public key in pk and its key id in kid when they are not NULL.
 */
const struct keys_pair *fz_key(unsigned char seed_byte, uint8_t pk[KEYS_PUBLIC_BYTES],
                               char kid[KEYS_KID_LEN + 1]);

/*
 * fz_jws writes "<b64url(header)>.<b64url(payload)>.<b64url(Ed25519 signature by k)>" and a
 * NUL into out (FZ_JWS_MAX bytes): header and payload are taken verbatim, whatever they hold.
 * Returns the length, or 0 when it does not fit.
 */
size_t fz_jws(const struct keys_pair *k, const char *header, size_t hlen, const char *payload,
              size_t plen, char out[static FZ_JWS_MAX]);

/*
 * fz_split splits data[0..size) at its first newline: *a and *b are NUL-terminated copies of
 * the parts (free both). Without a newline *a is empty and *b holds everything.
 */
void fz_split(const uint8_t *data, size_t size, char **a, size_t *alen, char **b, size_t *blen);

/* fz_policy returns FZ_POLICY loaded once (never freed); it aborts if that fails. */
const struct policy *fz_policy(void);

/*
 * fz_store returns a store opened once in a new temporary directory, removed when the process
 * exits. Targets write only in transactions they abort, so each input sees the same state.
 */
struct store *fz_store(void);

/* fz_read_file returns the malloc'd, NUL-terminated contents of path and its length, or NULL. */
char *fz_read_file(const char *path, size_t *len);

#endif
