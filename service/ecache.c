/*
 * ecache: direct-mapped caches of parsed log entries, confirmed by the stored leaf hash.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/ecache.h"
#include "consentd/tlog.h"
#include "consentd/xmalloc.h"

/* The calling thread's caches that have slots, linked through next. */
static __thread struct ecache *ecache_used;

enum err
ecache_find(struct store_txn *t, struct ecache *c, uint64_t index, struct ecache_ref *ref,
            bool *hit)
{
    struct ecache_slot *sl;
    enum err rc;

    assert(c->n > 0 && c->n <= ECACHE_MAX_SLOTS && (c->n & (c->n - 1)) == 0);
    *hit = false;
    if (c->slots == NULL) {
        c->slots = xcalloc(c->n, sizeof(*c->slots));
        c->values = xcalloc(c->n, c->value_size);
        c->next = ecache_used;
        ecache_used = c;
    }
    ref->slot = (size_t)(index & (c->n - 1));
    ref->index = index;
    rc = tlog_leaf(t, index, ref->leaf);
    if (rc != ERR_OK)
        return rc;
    sl = &c->slots[ref->slot];
    /* The same leaf hash at the same index: the same bytes, so the same parse. */
    if (sl->full && sl->index == index && hash_equal(sl->leaf, ref->leaf)) {
        *hit = true;
        return ERR_OK;
    }
    sl->full = false;
    return ERR_OK;
}

void *
ecache_value(struct ecache *c, const struct ecache_ref *ref)
{
    return c->values + ref->slot * c->value_size;
}

void
ecache_keep(struct ecache *c, const struct ecache_ref *ref)
{
    struct ecache_slot *sl = &c->slots[ref->slot];

    sl->index = ref->index;
    memcpy(sl->leaf, ref->leaf, HASH_BYTES);
    sl->full = true;
}

enum err
ecache_read(struct store_txn *t, struct ecache *c, uint64_t index, ecache_parse_fn parse,
            void **value)
{
    struct ecache_ref ref;
    bool hit;
    enum err rc;

    *value = NULL;
    rc = ecache_find(t, c, index, &ref, &hit);
    if (rc == ERR_OK && !hit) {
        rc = parse(t, index, ecache_value(c, &ref));
        if (rc == ERR_OK)
            ecache_keep(c, &ref);
    }
    if (rc == ERR_OK)
        *value = ecache_value(c, &ref);
    return rc;
}

void
ecache_thread_end(void)
{
    struct ecache *c, *next;

    for (c = ecache_used; c != NULL; c = next) {
        next = c->next;
        free(c->slots);
        free(c->values);
        c->slots = NULL;
        c->values = NULL;
        c->next = NULL;
    }
    ecache_used = NULL;
}
