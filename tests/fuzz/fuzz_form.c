/*
 * fuzz_form: forms and query strings, decoded as http_query and http_form decode them
 * (liburiparser, then our refusal of unknown and repeated names), with the token endpoint's
 * parameter names and the log endpoints' query names.
 *
 * Invariants: on success every name found has a NUL-terminated value and no value is given
 * twice; on failure there is a sentence, and a name at fault only for an unknown or repeated
 * name.
 */
#include <stdlib.h>
#include <string.h>

#include "consentd/http.h"
#include "fuzzutil.h"

static const char *const names[] = {"grant_type",
                                    "client_assertion_type",
                                    "client_assertion",
                                    "client_id",
                                    "authorization_details",
                                    "scope",
                                    "assertion",
                                    "token",
                                    "token_type_hint",
                                    "index",
                                    "size",
                                    "from",
                                    "to",
                                    "subject:identifier"};

#define NNAMES (sizeof(names) / sizeof(names[0]))

/* The copies one input made: at most one per name and the name at fault. */
struct copies {
    size_t n;
    char *s[NNAMES + 1];
};

static char *
dup_tracked(void *ctx, const char *s)
{
    struct copies *c = ctx;
    char *d = strdup(s);

    if (d == NULL)
        fz_fail("out of memory");
    if (c->n == NNAMES + 1)
        fz_fail("more copies than names");
    c->s[c->n++] = d;
    return d;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct copies c = {0};
    const char *out[NNAMES], *bad = (const char *)1;
    char why[256] = "";
    size_t i;
    bool ok;

    ok = http_pairs_decode((const char *)data, (const char *)data + size, "form", names, NNAMES,
                           out, why, sizeof(why), &bad, dup_tracked, &c);
    if (ok) {
        if (bad != NULL)
            fz_fail("success with a name at fault");
        for (i = 0; i < NNAMES; i++)
            if (out[i] != NULL)
                (void)strlen(out[i]);
    } else if (why[0] == '\0') {
        fz_fail("a refusal without a sentence");
    }
    for (i = 0; i < c.n; i++)
        free(c.s[i]);
    return 0;
}
