/* SPDX-License-Identifier: BSD-3-Clause */
/* FIFO: evict the entry inserted longest ago; reads change nothing.
 * 16 bytes of metadata per entry (the doubly linked node, so that deletes
 * and expiries can unlink any entry in O(1)). */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/plist.h"
#include "policy/policies.h"

typedef struct {
    kl__pnode list;
} fifo_state;

static int fifo_create(void **state, size_t capacity, uint64_t seed)
{
    (void)capacity;
    (void)seed;
    fifo_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    kl__plist_init(&s->list);
    *state = s;
    return 0;
}

static void fifo_destroy(void *state) { free(state); }

static void fifo_on_insert(void *state, void *meta, uint64_t hash)
{
    (void)hash;
    kl__plist_push_front(&((fifo_state *)state)->list, meta);
}

static void fifo_on_hit(void *state, void *meta)
{
    (void)state;
    (void)meta;
}

static void fifo_on_remove(void *state, void *meta)
{
    (void)state;
    kl__plist_unlink(meta);
}

static void *fifo_victim(void *state) { return kl__plist_back(&((fifo_state *)state)->list); }

const kl_policy_ops kl__policy_fifo = {
    .version = KL_POLICY_VERSION,
    .name = "fifo",
    .meta_size = sizeof(kl__pnode),
    .create = fifo_create,
    .destroy = fifo_destroy,
    .on_insert = fifo_on_insert,
    .on_hit = fifo_on_hit,
    .on_remove = fifo_on_remove,
    .victim = fifo_victim,
    .hints = &(const kl_policy_hints){.hit_saturation = true}, /* hits never change anything */
};
