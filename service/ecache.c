/*
 * ecache: direct-mapped caches of parsed log entries, confirmed by the stored leaf hash.
 */
#include <assert.h>
#include <string.h>

#include "consentd/ecache.h"
#include "consentd/tlog.h"

enum err
ecache_find(struct store_txn *t, struct ecache_slot *slots, size_t n, uint64_t index,
            struct ecache_ref *ref, bool *hit)
{
    struct ecache_slot *sl;
    enum err rc;

    assert(n > 0 && n <= ECACHE_MAX_SLOTS && (n & (n - 1)) == 0);
    *hit = false;
    ref->slot = (size_t)(index & (n - 1));
    ref->index = index;
    rc = tlog_leaf(t, index, ref->leaf);
    if (rc != ERR_OK)
        return rc;
    sl = &slots[ref->slot];
    /* The same leaf hash at the same index: the same bytes, so the same parse. */
    if (sl->full && sl->index == index && hash_equal(sl->leaf, ref->leaf)) {
        *hit = true;
        return ERR_OK;
    }
    sl->full = false;
    return ERR_OK;
}

void
ecache_keep(struct ecache_slot *slots, const struct ecache_ref *ref)
{
    struct ecache_slot *sl = &slots[ref->slot];

    sl->index = ref->index;
    memcpy(sl->leaf, ref->leaf, HASH_BYTES);
    sl->full = true;
}
