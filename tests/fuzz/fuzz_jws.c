/*
 * fuzz_jws: JWS compact serialisation: jws_decode, jws_verify, jws_decode_algs and pkey_decode,
 * pkey_verify_jws with an Ed25519 key.
 *
 * The first byte chooses the input's form. 0: the rest is a compact JWS, taken as it is (a
 * forged signature never verifies, so this reaches the splitting, base64url and header rules).
 * 1: the rest is "<header>\n<payload>", signed here with the fixed key, so the header and
 * payload rules behind the signature are reached too.
 *
 * Invariants: a JWS that verifies has the payload it was made of, byte for byte, and fails
 * with any other key and with any one bit of its signature flipped (RELIABILITY D4).
 */
#include <stdlib.h>
#include <string.h>

#include "consentd/jws.h"
#include "consentd/pkey.h"
#include "fuzzutil.h"

static const char *const rs_algs[] = {"RS256", "RS384", "ES256", "ES384"};

static void
verify_all(const char *jws, size_t len, const uint8_t pk[static KEYS_PUBLIC_BYTES],
           const uint8_t other[static KEYS_PUBLIC_BYTES], const struct pkey *k, const char *payload,
           size_t plen)
{
    struct jws_parts p = {0};
    struct jws_sig sig;
    const char *why;
    char *flipped;
    enum err rc;
    size_t i;

    if (jws_decode(jws, len, &p, &why) == ERR_OK)
        jws_parts_clear(&p);
    if (jws_decode_algs(jws, len, rs_algs, 4, "not an RSA or EC algorithm", &p, &sig, &why) ==
        ERR_OK)
        jws_parts_clear(&p);
    if (pkey_decode(jws, len, &p, &why) == ERR_OK)
        jws_parts_clear(&p);
    if (pkey_verify_jws(k, jws, len, &p, &why) == ERR_OK)
        jws_parts_clear(&p);
    rc = jws_verify(jws, len, pk, &p, &why);
    if (rc != ERR_OK) {
        if (p.header != NULL || p.payload != NULL || p.payload_raw != NULL)
            fz_fail("a refused JWS left its parts filled");
        return;
    }
    if (payload != NULL && (p.payload_len != plen || memcmp(p.payload_raw, payload, plen) != 0))
        fz_fail("the verified payload is not the one signed");
    jws_parts_clear(&p);
    if (jws_verify(jws, len, other, &p, &why) != ERR_BADSIG)
        fz_fail("a JWS verified with another key");
    /* The signature is the last 86 characters: flip one bit of each of its bytes' encodings. */
    flipped = malloc(len);
    if (flipped == NULL)
        fz_fail("out of memory");
    for (i = len > 86 ? len - 86 : 0; i < len; i++) {
        memcpy(flipped, jws, len);
        flipped[i] ^= 0x01;
        if (jws_verify(flipped, len, pk, &p, &why) == ERR_OK)
            fz_fail("a JWS verified with byte %zu of its signature changed", i);
    }
    free(flipped);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pkey *k;
    static uint8_t pk[KEYS_PUBLIC_BYTES], other[KEYS_PUBLIC_BYTES];
    static char jws[FZ_JWS_MAX];
    const struct keys_pair *key = fz_key(1, pk, NULL);
    char *hdr, *payload;
    size_t hlen, plen, len;

    if (k == NULL) {
        (void)fz_key(2, other, NULL);
        if (pkey_from_ed25519(pk, &k) != ERR_OK)
            fz_fail("pkey_from_ed25519 failed");
    }
    if (size == 0)
        return 0;
    if (data[0] == 0) {
        verify_all((const char *)data + 1, size - 1, pk, other, k, NULL, 0);
        return 0;
    }
    fz_split(data + 1, size - 1, &hdr, &hlen, &payload, &plen);
    len = fz_jws(key, hdr, hlen, payload, plen, jws);
    if (len > 0)
        verify_all(jws, len, pk, other, k, payload, plen);
    free(hdr);
    free(payload);
    return 0;
}
