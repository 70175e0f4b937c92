/* SPDX-License-Identifier: BSD-3-Clause */
/* LRU: evict the entry read or inserted longest ago.  One intrusive list,
 * most recent at the front; 16 bytes of metadata per entry.  The state is
 * the list head itself, so that the cache's hit path can move an entry to
 * the front inline (kl__lru_touch in policies.h). */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/plist.h"
#include "policy/policies.h"

typedef struct {
    kl__pnode list; /* first: kl__lru_touch relies on it */
} lru_state;

static int lru_create(void **state, size_t capacity, uint64_t seed)
{
    (void)capacity;
    (void)seed;
    lru_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    kl__plist_init(&s->list);
    *state = s;
    return 0;
}

static void lru_destroy(void *state) { free(state); }

static void lru_on_insert(void *state, void *meta, uint64_t hash)
{
    (void)hash;
    kl__plist_push_front(&((lru_state *)state)->list, meta);
}

static void lru_on_hit(void *state, void *meta) { kl__lru_touch(state, meta); }

static void lru_on_remove(void *state, void *meta)
{
    (void)state;
    kl__plist_unlink(meta);
}

static void *lru_victim(void *state) { return kl__plist_back(&((lru_state *)state)->list); }

const kl_policy_ops kl__policy_lru = {
    .version = KL_POLICY_VERSION,
    .name = "lru",
    .meta_size = sizeof(kl__pnode),
    .create = lru_create,
    .destroy = lru_destroy,
    .on_insert = lru_on_insert,
    .on_hit = lru_on_hit,
    .on_remove = lru_on_remove,
    .victim = lru_victim,
    /* CLOCK-like under concurrent hits */
    .hints = &(const kl_policy_hints){.deferrable_hits = true},
};
