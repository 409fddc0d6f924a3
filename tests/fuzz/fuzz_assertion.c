/*
 * fuzz_assertion: RFC 7523 client assertions and patients' JWT-bearer grants at the token
 * endpoint: assertion_subject (read before the key is known) and assertion_verify against an
 * Ed25519 key, at a fixed time.
 *
 * The first byte chooses the input's form. 0: the rest is an assertion, taken as it is. 1: the
 * rest is a payload, signed here under {"alg":"EdDSA","typ":"JWT"}. 2: the rest is
 * "<header>\n<payload>", signed here.
 *
 * Invariants: an assertion that verifies names the expected subject as its iss (and
 * assertion_subject reads that iss), expires inside the window the rules allow, has a jti, and
 * does not verify with another key or for another subject.
 */
#include <stdlib.h>
#include <string.h>

#include "consentd/assertion.h"
#include "fuzzutil.h"

#define SUBJECT "client-1"

static struct pkey *key, *other;

static void
check(const char *jws, size_t len)
{
    char sub[ASSERTION_SUBJECT_MAX + 1], why[ASSERTION_WHY_MAX];
    struct assertion_claims c;
    enum err rc;

    rc = assertion_subject(jws, len, "the client assertion", sub, why);
    if (rc != ERR_OK && (rc != ERR_AUTH || sub[0] != '\0' || why[0] == '\0'))
        fz_fail("assertion_subject broke its failure contract");
    rc = assertion_verify(jws, len, key, SUBJECT, FZ_ISSUER, FZ_ENDPOINT, FZ_NOW,
                          "the client assertion", &c, why);
    if (rc != ERR_OK) {
        if (rc != ERR_AUTH || why[0] == '\0' || c.subject[0] != '\0')
            fz_fail("assertion_verify broke its failure contract");
        return;
    }
    if (strcmp(c.subject, SUBJECT) != 0 || c.jti[0] == '\0')
        fz_fail("a verified assertion has the wrong subject or no jti");
    if (c.exp + TOKEN_LEEWAY <= FZ_NOW || c.exp - FZ_NOW > ASSERTION_MAX_AHEAD)
        fz_fail("a verified assertion expires outside the window");
    if (assertion_subject(jws, len, "the client assertion", sub, why) != ERR_OK ||
        strcmp(sub, SUBJECT) != 0)
        fz_fail("assertion_subject does not read the iss of a verified assertion");
    if (assertion_verify(jws, len, other, SUBJECT, FZ_ISSUER, FZ_ENDPOINT, FZ_NOW,
                         "the client assertion", &c, why) == ERR_OK)
        fz_fail("an assertion verified with another key");
    if (assertion_verify(jws, len, key, "client-2", FZ_ISSUER, FZ_ENDPOINT, FZ_NOW,
                         "the client assertion", &c, why) == ERR_OK)
        fz_fail("an assertion verified for another subject");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char header[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
    static char jws[FZ_JWS_MAX];
    uint8_t pk[KEYS_PUBLIC_BYTES];
    const struct keys_pair *k = fz_key(5, pk, NULL);
    char *hdr, *payload;
    size_t hlen, plen, len;

    if (key == NULL) {
        if (pkey_from_ed25519(pk, &key) != ERR_OK)
            fz_fail("pkey_from_ed25519 failed");
        (void)fz_key(6, pk, NULL);
        if (pkey_from_ed25519(pk, &other) != ERR_OK)
            fz_fail("pkey_from_ed25519 failed");
    }
    if (size == 0)
        return 0;
    if (data[0] == 0) {
        check((const char *)data + 1, size - 1);
        return 0;
    }
    if (data[0] == 1) {
        len = fz_jws(k, header, sizeof(header) - 1, (const char *)data + 1, size - 1, jws);
        if (len > 0)
            check(jws, len);
        return 0;
    }
    fz_split(data + 1, size - 1, &hdr, &hlen, &payload, &plen);
    len = fz_jws(k, hdr, hlen, payload, plen, jws);
    if (len > 0)
        check(jws, len);
    free(hdr);
    free(payload);
    return 0;
}
