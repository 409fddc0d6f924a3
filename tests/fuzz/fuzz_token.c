/*
 * fuzz_token: consentd's access tokens: token_check (its own endpoints) and token_check_access
 * (consent-checked tokens), at a fixed time, with the claims parser behind the signature.
 *
 * The first byte chooses the input's form. 0: the rest is a token, taken as it is. 1: the rest
 * is a payload, signed here with the token key under the header consentd writes
 * ({"alg":"EdDSA","typ":"at+jwt","kid":<the token key's>}). 2: the rest is "<header>\n<payload>",
 * signed here with the token key, so alg, typ and kid confusions are reached too (D1, D12).
 *
 * Invariants: a token token_check accepts is within its times, lives no longer than any token
 * issued (POLICY_MAX_LIFETIME) and, minted again from the claims it gave, is accepted with the
 * same claims; token_check_access accepts nothing forged, and neither accepts a token signed
 * by another key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/policy.h"
#include "consentd/token.h"
#include "fuzzutil.h"

static struct token_signer signer, other;
static struct keys_pair *sign_key; /* the token key again: the signer owns its own copy */
static char kid[KEYS_KID_LEN + 1];

static void
check_both(const char *jwt, size_t len, bool signed_here)
{
    struct token_claims c, again;
    const char *why;
    const cJSON *claims = NULL;
    char *minted = NULL;
    enum err rc;

    rc = token_check(&signer, jwt, len, FZ_NOW, &c, &why);
    if (rc == ERR_OK) {
        if (c.exp + TOKEN_LEEWAY <= FZ_NOW || c.iat > FZ_NOW + TOKEN_LEEWAY)
            fz_fail("token_check accepted a token outside its times");
        if (c.exp - c.iat > POLICY_MAX_LIFETIME)
            fz_fail("token_check accepted a token living longer than any issued");
        if (token_check(&other, jwt, len, FZ_NOW, &again, &why) == ERR_OK)
            fz_fail("token_check accepted a token signed by another key");
        if (token_mint(&signer, &c, &minted) != ERR_OK)
            fz_fail("token_mint refused the claims token_check gave");
        if (strlen(minted) <= TOKEN_MAX_LEN) {
            if (token_check(&signer, minted, strlen(minted), FZ_NOW, &again, &why) != ERR_OK)
                fz_fail("a token minted from accepted claims is refused: %s", why);
            if (memcmp(&c, &again, sizeof(c)) != 0)
                fz_fail("a token minted from accepted claims reads differently");
        }
        free(minted);
    } else if (rc != ERR_AUTH || why == NULL) {
        fz_fail("token_check failed with %s and no sentence", err_str(rc));
    }
    rc = token_check_access(&signer, jwt, len, FZ_NOW, &claims, &why);
    if (rc == ERR_OK) {
        if (!signed_here)
            fz_fail("token_check_access accepted a forged token");
        if (token_check_access(&other, jwt, len, FZ_NOW, &claims, &why) == ERR_OK)
            fz_fail("token_check_access accepted a token signed by another key");
    } else if (claims != NULL || why == NULL) {
        fz_fail("token_check_access refused without a sentence or left claims");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char jws[FZ_JWS_MAX];
    static const uint8_t seed[KEYS_SEED_BYTES] = {3}, other_seed[KEYS_SEED_BYTES] = {4};
    char header[128], *hdr, *payload;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct keys_pair *k = NULL;
    size_t hlen, plen, len;
    int n;

    fz_init();
    if (sign_key == NULL) {
        if (keys_from_seed(seed, &sign_key) != ERR_OK || keys_from_seed(seed, &k) != ERR_OK ||
            token_signer_init(&signer, k, FZ_ISSUER) != ERR_OK)
            fz_fail("cannot make the token signer");
        keys_public(sign_key, pk);
        keys_kid(pk, kid);
        if (keys_from_seed(other_seed, &k) != ERR_OK ||
            token_signer_init(&other, k, FZ_ISSUER) != ERR_OK)
            fz_fail("cannot make the other signer");
    }
    if (size == 0)
        return 0;
    if (data[0] == 0) {
        check_both((const char *)data + 1, size - 1, false);
        return 0;
    }
    if (data[0] == 1) {
        n = snprintf(header, sizeof(header),
                     "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
        len = fz_jws(sign_key, header, (size_t)n, (const char *)data + 1, size - 1, jws);
        if (len > 0)
            check_both(jws, len, true);
        return 0;
    }
    fz_split(data + 1, size - 1, &hdr, &hlen, &payload, &plen);
    len = fz_jws(sign_key, hdr, hlen, payload, plen, jws);
    if (len > 0)
        check_both(jws, len, true);
    free(hdr);
    free(payload);
    return 0;
}
