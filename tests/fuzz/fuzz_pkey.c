/*
 * fuzz_pkey: public JWKs (OKP Ed25519, RSA, EC P-256 and P-384) read into keys through
 * OpenSSL, as a client's registration and its every assertion's verification read them.
 *
 * The input is a JWK's JSON text. A key that loads is written back (pkey_jwk), which must load
 * again to the same kind and thumbprint, and is used to verify JWSs of every algorithm with
 * signatures of every length a key could want: none verifies, and none crashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/b64.h"
#include "consentd/jstrict.h"
#include "consentd/pkey.h"
#include "fuzzutil.h"

static const char *const algs[] = {"EdDSA", "RS256", "RS384", "ES256", "ES384"};
static const size_t sig_lens[] = {64, 96, 256, 384, 512};

#define NALGS (sizeof(algs) / sizeof(algs[0]))
#define NLENS (sizeof(sig_lens) / sizeof(sig_lens[0]))

/* jws_of writes a JWS of alg over {} whose signature is len bytes of 0x5a. */
static size_t
jws_of(const char *alg, size_t len, char *out, size_t cap)
{
    uint8_t sig[512];
    char hdr[64], h64[128];
    size_t n;

    memset(sig, 0x5a, sizeof(sig));
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", alg);
    if (b64_encode((const uint8_t *)hdr, strlen(hdr), B64_URL, h64, sizeof(h64)) != ERR_OK)
        fz_fail("b64_encode failed");
    n = (size_t)snprintf(out, cap, "%s.e30.", h64);
    if (b64_encode(sig, len, B64_URL, out + n, cap - n) != ERR_OK)
        fz_fail("b64_encode failed");
    return n + strlen(out + n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t t1[PKEY_THUMBPRINT_BYTES], t2[PKEY_THUMBPRINT_BYTES];
    char why[PKEY_WHY_MAX], jws[1024];
    struct pkey *k = NULL, *back = NULL;
    struct jws_parts p = {0};
    cJSON *jwk = NULL, *out = NULL;
    const char *jwhy;
    size_t a, l, len;

    fz_init();
    if (jstrict_parse((const char *)data, size, &jwk, NULL) != ERR_OK)
        return 0;
    if (pkey_from_jwk(jwk, &k, why) != ERR_OK) {
        if (k != NULL || why[0] == '\0')
            fz_fail("pkey_from_jwk broke its failure contract");
        goto out;
    }
    out = pkey_jwk(k);
    if (out == NULL)
        fz_fail("pkey_jwk failed");
    if (pkey_from_jwk(out, &back, why) != ERR_OK)
        fz_fail("a key's own JWK does not load: %s", why);
    pkey_thumbprint(k, t1);
    pkey_thumbprint(back, t2);
    if (pkey_type_of(k) != pkey_type_of(back) || memcmp(t1, t2, sizeof(t1)) != 0)
        fz_fail("a key's own JWK loads as another key");
    (void)pkey_kid_matches(k, "");
    (void)pkey_kid_matches(k, "kid-1");
    for (a = 0; a < NALGS; a++) {
        for (l = 0; l < NLENS; l++) {
            len = jws_of(algs[a], sig_lens[l], jws, sizeof(jws));
            if (pkey_verify_jws(k, jws, len, &p, &jwhy) == ERR_OK)
                fz_fail("a made-up %s signature of %zu bytes verified", algs[a], sig_lens[l]);
        }
    }
out:
    pkey_free(back);
    pkey_free(k);
    cJSON_Delete(out);
    cJSON_Delete(jwk);
    return 0;
}
