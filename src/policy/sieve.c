/* SPDX-License-Identifier: BSD-3-Clause */
/* SIEVE (Zhang et al., NSDI '24): a FIFO queue plus one "visited" bit per
 * entry and a hand.  A hit only sets the bit; the hand walks from the
 * oldest entry towards the newest, clearing set bits, and stops at the
 * first unvisited entry, which is the victim.  Entries survive in place,
 * so popular ones stay without being moved on every hit.
 *
 * The cache inserts before it asks for a victim; the hand skips the
 * newcomer (it would not yet be in the queue in the original) unless it is
 * alone.  Metadata: list node + visited word, 24 bytes. */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/plist.h"
#include "policy/policies.h"

typedef struct {
    kl__pnode node;
    uint64_t visited;
} sieve_meta;

/* Orientation: list.next is the newest entry; node->next goes older,
 * node->prev goes newer. */
typedef struct {
    kl__pnode list;
    kl__pnode *hand; /* NULL: start from the oldest */
    kl__pnode *fresh;
    size_t n;
} sieve_state;

static int sieve_create(void **state, size_t capacity, uint64_t seed)
{
    (void)capacity;
    (void)seed;
    sieve_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    kl__plist_init(&s->list);
    s->hand = NULL;
    s->fresh = NULL;
    s->n = 0;
    *state = s;
    return 0;
}

static void sieve_destroy(void *state) { free(state); }

static void sieve_on_insert(void *state, void *meta, uint64_t hash)
{
    (void)hash;
    sieve_state *s = state;
    kl__plist_push_front(&s->list, meta);
    s->fresh = meta;
    s->n++;
}

static void sieve_on_hit(void *state, void *meta)
{
    (void)state;
    ((sieve_meta *)meta)->visited = 1;
}

static void sieve_on_remove(void *state, void *meta)
{
    sieve_state *s = state;
    kl__pnode *n = meta;
    if (s->hand == n)
        s->hand = n->prev == &s->list ? NULL : n->prev;
    if (s->fresh == n)
        s->fresh = NULL;
    kl__plist_unlink(n);
    s->n--;
}

static void *sieve_victim(void *state)
{
    sieve_state *s = state;
    if (s->n == 0)
        return NULL;
    if (s->n == 1)
        return s->list.next;
    kl__pnode *n = s->hand ? s->hand : s->list.prev;
    /* Ends within two sweeps: the first clears every bit but the
     * newcomer's, which is never chosen while another entry exists. */
    for (;;) {
        if (n != s->fresh) {
            sieve_meta *m = (sieve_meta *)n;
            if (!m->visited) {
                s->hand = n;
                return n;
            }
            m->visited = 0;
        }
        n = n->prev == &s->list ? s->list.prev : n->prev;
    }
}

const kl_policy_ops kl__policy_sieve = {
    .version = KL_POLICY_VERSION,
    .name = "sieve",
    .meta_size = sizeof(sieve_meta),
    .create = sieve_create,
    .destroy = sieve_destroy,
    .on_insert = sieve_on_insert,
    .on_hit = sieve_on_hit,
    .on_remove = sieve_on_remove,
    .victim = sieve_victim,
    /* a hit sets the visited word; once set, hits change nothing */
    .hints = &(const kl_policy_hints){
        .hit_saturation = true,
        .hit_word = offsetof(sieve_meta, visited),
        .hit_mask = 1,
    },
};
