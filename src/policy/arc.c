/* SPDX-License-Identifier: BSD-3-Clause */
/* ARC (Megiddo & Modha, FAST '03): two LRU lists of resident entries — T1
 * for keys seen once recently, T2 for keys seen at least twice — and two
 * ghost lists of the hashes just evicted from each (B1, B2).  A miss that
 * hits a ghost shows which list was too small, and the target size p of T1
 * moves towards it; so ARC tunes itself between recency and frequency with
 * no parameter.
 *
 * Adapted to the cache's order (insert, then victims while over the
 * limit): on_insert does the ghost bookkeeping of the miss (cases II-IV of
 * the paper) and victim() is the paper's REPLACE, with the newcomer left
 * out as in the paper, where it arrives after the eviction.  Deletes and
 * expiries leave no ghost.
 *
 * Metadata: list node + one word holding the hash, its low bit naming the
 * list (T1/T2): 24 bytes.  The ghosts hold hashes only, c each. */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/ghost.h"
#include "policy/plist.h"
#include "policy/policies.h"

#define ARC_T2 1u
#define ARC_HASH (~(uint64_t)1)

typedef struct {
    kl__pnode node;
    uint64_t word;
} arc_meta;

typedef struct {
    kl__pnode t1, t2; /* most recent at the front */
    size_t n1, n2;
    size_t c, p;
    kl__ghost b1, b2;
    arc_meta *fresh;
    arc_meta *chosen;   /* the victim handed out; its removal is an eviction */
    int fresh_from_b2;  /* the newcomer was a B2 ghost hit */
    int drop_t1;        /* case IV(A) with T1 full: evict T1's LRU, no ghost */
    int chosen_ghosted; /* whether the chosen victim leaves a ghost */
} arc_state;

static int arc_create(void **state, size_t capacity, uint64_t seed)
{
    (void)seed;
    arc_state *s = calloc(1, sizeof *s);
    if (!s)
        return KL_ENOMEM;
    if (capacity == 0)
        capacity = 1;
    kl__plist_init(&s->t1);
    kl__plist_init(&s->t2);
    s->c = capacity;
    /* Ghost memory grows with capacity; a cache bounded only by bytes may
     * pass a huge entry limit, so bound it. */
    size_t g = capacity > ((size_t)1 << 24) ? (size_t)1 << 24 : capacity;
    if (kl__ghost_init(&s->b1, g) != 0) {
        free(s);
        return KL_ENOMEM;
    }
    if (kl__ghost_init(&s->b2, g) != 0) {
        kl__ghost_free(&s->b1);
        free(s);
        return KL_ENOMEM;
    }
    *state = s;
    return 0;
}

static void arc_destroy(void *state)
{
    arc_state *s = state;
    kl__ghost_free(&s->b1);
    kl__ghost_free(&s->b2);
    free(s);
}

static void arc_on_insert(void *state, void *meta, uint64_t hash)
{
    arc_state *s = state;
    arc_meta *m = meta;
    uint64_t h = hash & ARC_HASH;
    size_t l1 = s->b1.live, l2 = s->b2.live;
    s->fresh_from_b2 = 0;
    s->drop_t1 = 0;
    if (kl__ghost_contains(&s->b1, h)) { /* case II: T1 was too small */
        size_t d = l1 && l2 / l1 > 1 ? l2 / l1 : 1;
        s->p = s->p + d < s->c ? s->p + d : s->c;
        kl__ghost_remove(&s->b1, h);
        m->word = h | ARC_T2;
    } else if (kl__ghost_contains(&s->b2, h)) { /* case III: T2 was too small */
        size_t d = l2 && l1 / l2 > 1 ? l1 / l2 : 1;
        s->p = s->p > d ? s->p - d : 0;
        kl__ghost_remove(&s->b2, h);
        s->fresh_from_b2 = 1;
        m->word = h | ARC_T2;
    } else { /* case IV: trim the ghosts so that they stay within c and 2c */
        if (s->n1 + l1 >= s->c) {
            if (s->n1 < s->c)
                kl__ghost_pop(&s->b1);
            else
                s->drop_t1 = 1;
        } else if (s->n1 + s->n2 + l1 + l2 >= 2 * s->c) {
            kl__ghost_pop(&s->b2);
        }
        m->word = h;
    }
    if (m->word & ARC_T2) {
        kl__plist_push_front(&s->t2, &m->node);
        s->n2++;
    } else {
        kl__plist_push_front(&s->t1, &m->node);
        s->n1++;
    }
    s->fresh = m;
}

static void arc_on_hit(void *state, void *meta)
{
    arc_state *s = state;
    arc_meta *m = meta;
    kl__plist_unlink(&m->node);
    if (!(m->word & ARC_T2)) {
        s->n1--;
        s->n2++;
        m->word |= ARC_T2;
    }
    kl__plist_push_front(&s->t2, &m->node);
}

static void arc_on_remove(void *state, void *meta)
{
    arc_state *s = state;
    arc_meta *m = meta;
    int in_t2 = (m->word & ARC_T2) != 0;
    if (s->chosen == m) {
        if (s->chosen_ghosted)
            kl__ghost_push(in_t2 ? &s->b2 : &s->b1, m->word & ARC_HASH);
        s->chosen = NULL;
    }
    if (s->fresh == m)
        s->fresh = NULL;
    if (in_t2)
        s->n2--;
    else
        s->n1--;
    kl__plist_unlink(&m->node);
}

/* LRU of a list, leaving out the newcomer (at the front, so it is the LRU
 * only when alone). */
static arc_meta *arc_lru(const arc_state *s, const kl__pnode *list)
{
    kl__pnode *v = kl__plist_back(list);
    return v && v != (kl__pnode *)s->fresh ? (arc_meta *)v : NULL;
}

static void *arc_victim(void *state)
{
    arc_state *s = state;
    arc_meta *f = s->fresh;
    size_t n1 = s->n1 - (f && !(f->word & ARC_T2));
    arc_meta *from1 = arc_lru(s, &s->t1), *from2 = arc_lru(s, &s->t2);
    arc_meta *v;
    s->chosen_ghosted = 1;
    if (s->drop_t1 && from1) {
        s->drop_t1 = 0;
        s->chosen_ghosted = 0;
        v = from1;
    } else if (n1 >= 1 && ((s->fresh_from_b2 && n1 == s->p) || n1 > s->p)) {
        v = from1;
    } else {
        v = from2 ? from2 : from1;
    }
    if (!v)
        v = f; /* the newcomer alone, or nothing (NULL) */
    return s->chosen = v;
}

const kl_policy_ops kl__policy_arc = {
    .version = KL_POLICY_VERSION,
    .name = "arc",
    .meta_size = sizeof(arc_meta),
    .create = arc_create,
    .destroy = arc_destroy,
    .on_insert = arc_on_insert,
    .on_hit = arc_on_hit,
    .on_remove = arc_on_remove,
    .victim = arc_victim,
};
