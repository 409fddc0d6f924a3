/*
 * fuzz_audit: the auditor's replay (`consentctl audit`), which reads a log it does not trust:
 * entries, one per line, through audit_apply against the default policy, as audit_run feeds
 * them from a local copy, then audit_finish.
 *
 * Invariants: every entry, however malformed, is taken (a finding, never a failure), so the
 * indexes stay right; and the root the audit reports is the RFC 9162 root of exactly the
 * entries it was given, computed here independently.
 */
#include <string.h>

#include "consentd/audit.h"
#include "consentd/merkle.h"
#include "consentd/tlog.h"
#include "fuzzutil.h"

#define MAX_ENTRIES 256 /* lines looked at per input */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size, *nl;
    uint8_t leaf[HASH_BYTES], mine[HASH_BYTES], root[HASH_BYTES], theirs[HASH_BYTES];
    struct audit *a = NULL;
    struct merkle_range r;
    unsigned n = 0;
    size_t len;
    enum err rc;

    fz_init();
    if (audit_new(fz_policy(), &a) != ERR_OK)
        fz_fail("audit_new failed");
    merkle_range_init(&r);
    while (p < end && n < MAX_ENTRIES) {
        nl = memchr(p, '\n', (size_t)(end - p));
        len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0 && len <= TLOG_MAX_ENTRY) {
            rc = audit_apply(a, p, len, leaf);
            if (rc != ERR_OK)
                fz_fail("audit_apply of entry %u failed: %s", n, err_str(rc));
            merkle_leaf_hash(p, len, mine);
            if (memcmp(leaf, mine, HASH_BYTES) != 0)
                fz_fail("audit_apply gave entry %u another leaf hash", n);
            if (merkle_range_append(&r, mine, NULL, NULL) != ERR_OK)
                fz_fail("merkle_range_append failed");
            n++;
        }
        p += len + 1;
    }
    if (audit_finish(a) != ERR_OK)
        fz_fail("audit_finish failed");
    merkle_range_root(&r, root);
    audit_root(a, theirs);
    if (audit_size(a) != n || memcmp(root, theirs, HASH_BYTES) != 0)
        fz_fail("the audit's root is not the root of the %u entries it was given", n);
    audit_free(a);
    return 0;
}
