/* SPDX-License-Identifier: BSD-3-Clause */
/* MRU: evict the most recently used entry — the right choice for cyclic
 * scans larger than the cache, the worst for almost everything else.
 *
 * The cache inserts before it asks for a victim, so the newest entry is
 * always the most recent one; MRU as defined (and as klepto does it) makes
 * room *before* the new entry arrives, so the newcomer is skipped unless it
 * is the only entry left. */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/plist.h"
#include "policy/policies.h"

typedef struct {
    kl__pnode list;   /* most recent at the front */
    kl__pnode *fresh; /* the entry inserted last, while it stays */
} mru_state;

static int mru_create(void **state, size_t capacity, uint64_t seed)
{
    (void)capacity;
    (void)seed;
    mru_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    kl__plist_init(&s->list);
    s->fresh = NULL;
    *state = s;
    return 0;
}

static void mru_destroy(void *state) { free(state); }

static void mru_on_insert(void *state, void *meta, uint64_t hash)
{
    (void)hash;
    mru_state *s = state;
    kl__plist_push_front(&s->list, meta);
    s->fresh = meta;
}

static void mru_on_hit(void *state, void *meta)
{
    kl__plist_move_front(&((mru_state *)state)->list, meta);
}

static void mru_on_remove(void *state, void *meta)
{
    mru_state *s = state;
    if (s->fresh == meta)
        s->fresh = NULL;
    kl__plist_unlink(meta);
}

static void *mru_victim(void *state)
{
    mru_state *s = state;
    kl__pnode *v = kl__plist_front(&s->list);
    if (v && v == s->fresh && v->next != &s->list)
        v = v->next;
    return v;
}

const kl_policy_ops kl__policy_mru = {
    .version = KL_POLICY_VERSION,
    .name = "mru",
    .meta_size = sizeof(kl__pnode),
    .create = mru_create,
    .destroy = mru_destroy,
    .on_insert = mru_on_insert,
    .on_hit = mru_on_hit,
    .on_remove = mru_on_remove,
    .victim = mru_victim,
};
