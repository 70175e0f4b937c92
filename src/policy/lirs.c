/* SPDX-License-Identifier: BSD-3-Clause */
/* LIRS (Jiang & Zhang, "LIRS: an efficient low inter-reference recency set
 * replacement policy", SIGMETRICS 2002).  Entries are ranked by their
 * inter-reference recency (IRR: how many other keys were seen between
 * their last two uses) rather than by plain recency.  The capacity is
 * split into LIR entries (99%: low IRR, never evicted while they stay LIR)
 * and resident HIR entries (1%, at least 1: the only eviction candidates).
 *
 *   stack S  recency order of LIR entries, resident HIR entries and
 *            non-resident HIR entries (evicted keys, remembered by hash);
 *            its bottom is always a LIR entry ("stack pruning").
 *   queue Q  the resident HIR entries, the victim at its front (FIFO).
 *
 * A hit on a HIR entry that is still in S (its IRR is below the oldest
 * LIR's recency) makes it LIR and demotes S's bottom LIR to HIR; so does
 * a miss on a key remembered as non-resident in S.
 *
 * Bound on the non-resident entries (the paper leaves S unbounded): at
 * most 2 x `capacity` of them (capped at 16M, as the other ghosts), the
 * oldest evicted forgotten first.  So S holds at most 3 x capacity nodes.  One capacity's worth (libCacheSim's bound) forgets
 * the keys of a loop longer than the cache under interleaved scans before
 * they come back; two keep them: on the CloudPhysics trace of
 * docs/policies.md 0.8312 / 0.7930 / 0.6438 at 1/5/20% of its keys
 * (0.8315 / 0.8139 / 0.6559 with one, 0.8310 / 0.7974 / 0.6437 with three,
 * 0.8322 / 0.8171 / 0.6437 with four), on the generated block-I/O mix
 * 0.5876 at 5% (0.7059 with one, the same with three or four).
 * Each non-resident entry is a 48-byte node owned by the policy (hash,
 * place in S, place in an age list, hash chain).
 *
 * Our departures, all forced by the cache's interface: the cache inserts
 * before it evicts, so the newcomer is placed first (and is not a victim
 * while others remain); while fewer than the LIR share are LIR (warm-up,
 * or after deletes), newcomers and resident HIR entries that are hit
 * become LIR, so that S's bottom is always LIR; if Q is empty when a victim is needed (a cache of
 * one entry, or deletes), S's bottom LIR goes.  A deleted entry leaves no
 * non-resident trace (a delete is not an eviction).
 *
 * Metadata: S node, the hash with status bits, Q node: 40 bytes. */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/plist.h"
#include "policy/policies.h"

#define LI_LIR 1u    /* a LIR entry */
#define LI_INS 2u    /* in stack S */
#define LI_GHOST 4u  /* a non-resident node (policy-owned), not an entry */
#define LI_HASH (~(uint64_t)7)

/* What S holds: an entry's metadata or a non-resident node; both start so. */
typedef struct {
    kl__pnode s;
    uint64_t word;
} li_head;

typedef struct {
    li_head h;
    kl__pnode q; /* in Q while resident HIR */
} li_meta;

typedef struct li_ghost {
    li_head h;
    kl__pnode age; /* oldest non-resident at the back */
    struct li_ghost *chain;
} li_ghost;

typedef struct {
    kl__pnode s, q, ages;
    size_t nlir, lir_max;
    size_t nghost, ghost_max;
    li_ghost **buckets;
    size_t bmask;
    li_meta *fresh;  /* the newcomer: not a victim while others remain */
    li_meta *chosen; /* last victim: its removal is an eviction */
} li_state;

static inline li_head *li_of_s(kl__pnode *n) { return (li_head *)n; }
static inline li_meta *li_of_q(kl__pnode *n)
{
    return (li_meta *)((char *)n - offsetof(li_meta, q));
}
static inline li_ghost *li_of_age(kl__pnode *n)
{
    return (li_ghost *)((char *)n - offsetof(li_ghost, age));
}

static inline size_t li_bucket(const li_state *s, uint64_t h)
{
    h ^= h >> 31;
    h *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & s->bmask;
}

static int li_create(void **state, size_t capacity, uint64_t seed)
{
    (void)seed;
    li_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    if (capacity == 0)
        capacity = 1;
    kl__plist_init(&s->s);
    kl__plist_init(&s->q);
    kl__plist_init(&s->ages);
    size_t hir = capacity / 100 ? capacity / 100 : 1;
    s->lir_max = capacity > hir ? capacity - hir : 1;
    s->nlir = s->nghost = 0;
    s->ghost_max = capacity < ((size_t)1 << 23) ? 2 * capacity : (size_t)1 << 24;
    size_t nb = 4;
    while (nb < s->ghost_max)
        nb <<= 1;
    s->buckets = calloc(nb, sizeof *s->buckets);
    if (!s->buckets) {
        free(s);
        return KL_ENOMEM;
    }
    s->bmask = nb - 1;
    s->fresh = s->chosen = NULL;
    *state = s;
    return 0;
}

static void li_destroy(void *state)
{
    li_state *s = state;
    while (!kl__plist_empty(&s->ages)) {
        li_ghost *g = li_of_age(s->ages.next);
        kl__plist_unlink(&g->age);
        free(g);
    }
    free(s->buckets);
    free(s);
}

/* The non-resident node for hash h (already masked), or NULL. */
static li_ghost *li_ghost_find(const li_state *s, uint64_t h)
{
    for (li_ghost *g = s->buckets[li_bucket(s, h)]; g; g = g->chain)
        if ((g->h.word & LI_HASH) == h)
            return g;
    return NULL;
}

static void li_ghost_free(li_state *s, li_ghost *g)
{
    li_ghost **pp = &s->buckets[li_bucket(s, g->h.word & LI_HASH)];
    while (*pp != g)
        pp = &(*pp)->chain;
    *pp = g->chain;
    kl__plist_unlink(&g->h.s);
    kl__plist_unlink(&g->age);
    s->nghost--;
    free(g);
}

/* Stack pruning: drop HIR nodes from S's bottom until a LIR entry is there. */
static void li_prune(li_state *s)
{
    for (;;) {
        kl__pnode *b = kl__plist_back(&s->s);
        if (!b)
            return;
        li_head *h = li_of_s(b);
        if (h->word & LI_LIR)
            return;
        if (h->word & LI_GHOST) {
            li_ghost_free(s, (li_ghost *)h);
        } else {
            kl__plist_unlink(&h->s);
            h->word &= ~(uint64_t)LI_INS;
        }
    }
}

/* m (resident) becomes LIR at the top of S; over the LIR share, S's
 * bottom LIR becomes resident HIR at Q's end. */
static void li_make_lir(li_state *s, li_meta *m)
{
    if (m->h.word & LI_INS)
        kl__plist_unlink(&m->h.s);
    if (m->q.next)
        kl__plist_unlink(&m->q);
    m->h.word |= LI_LIR | LI_INS;
    kl__plist_push_front(&s->s, &m->h.s);
    s->nlir++;
    if (s->nlir > s->lir_max) {
        li_meta *b = (li_meta *)li_of_s(kl__plist_back(&s->s));
        /* after pruning the bottom is LIR; m is at the top, so b != m
         * unless m is alone, and then nlir <= lir_max */
        kl__plist_unlink(&b->h.s);
        b->h.word &= ~(uint64_t)(LI_LIR | LI_INS);
        s->nlir--;
        kl__plist_push_front(&s->q, &b->q);
        li_prune(s);
    }
}

/* m (resident) becomes HIR: top of S and end of Q. */
static void li_make_hir_top(li_state *s, li_meta *m)
{
    if (m->h.word & LI_INS)
        kl__plist_unlink(&m->h.s);
    m->h.word |= LI_INS;
    kl__plist_push_front(&s->s, &m->h.s);
    if (m->q.next)
        kl__plist_unlink(&m->q);
    kl__plist_push_front(&s->q, &m->q);
}

static void li_on_insert(void *state, void *meta, uint64_t hash)
{
    li_state *s = state;
    li_meta *m = meta;
    uint64_t h = hash & LI_HASH;
    m->h.word = h;
    s->fresh = m;
    li_ghost *g = li_ghost_find(s, h);
    if (g) {
        li_ghost_free(s, g);
        li_make_lir(s, m);
    } else if (s->nlir < s->lir_max) {
        li_make_lir(s, m);
    } else {
        li_make_hir_top(s, m);
    }
}

static void li_on_hit(void *state, void *meta)
{
    li_state *s = state;
    li_meta *m = meta;
    if (m->h.word & LI_LIR) {
        int was_bottom = s->s.prev == &m->h.s;
        kl__plist_move_front(&s->s, &m->h.s);
        if (was_bottom)
            li_prune(s);
    } else if ((m->h.word & LI_INS) || s->nlir < s->lir_max) {
        /* in S, or the LIR set is short (warm-up, or after deletes and
         * evictions of LIR entries): S must not get a HIR bottom */
        li_make_lir(s, m);
    } else {
        li_make_hir_top(s, m);
    }
}

/* Remember the evicted HIR entry m, in S at m's place, as non-resident. */
static void li_leave_ghost(li_state *s, li_meta *m)
{
    li_ghost *g = malloc(sizeof *g);
    if (!g) {
        kl__plist_unlink(&m->h.s); /* forgetting is always correct */
        return;
    }
    if (s->nghost == s->ghost_max)
        li_ghost_free(s, li_of_age(s->ages.prev));
    g->h.word = (m->h.word & LI_HASH) | LI_INS | LI_GHOST;
    g->h.s.prev = m->h.s.prev;
    g->h.s.next = m->h.s.next;
    g->h.s.prev->next = &g->h.s;
    g->h.s.next->prev = &g->h.s;
    m->h.s.prev = m->h.s.next = NULL;
    kl__plist_push_front(&s->ages, &g->age);
    size_t b = li_bucket(s, g->h.word & LI_HASH);
    g->chain = s->buckets[b];
    s->buckets[b] = g;
    s->nghost++;
}

static void li_on_remove(void *state, void *meta)
{
    li_state *s = state;
    li_meta *m = meta;
    int evicted = s->chosen == m;
    if (s->chosen == m)
        s->chosen = NULL;
    if (s->fresh == m)
        s->fresh = NULL;
    if (m->q.next)
        kl__plist_unlink(&m->q);
    if (m->h.word & LI_LIR) {
        kl__plist_unlink(&m->h.s);
        s->nlir--;
        li_prune(s);
    } else if (m->h.word & LI_INS) {
        if (evicted && s->ghost_max)
            li_leave_ghost(s, m);
        else
            kl__plist_unlink(&m->h.s);
    }
}

static void *li_victim(void *state)
{
    li_state *s = state;
    li_meta *f = s->fresh;
    kl__pnode *n = kl__plist_back(&s->q);
    if (n && li_of_q(n) == f)
        n = n->prev != &s->q ? n->prev : NULL;
    if (n)
        return s->chosen = li_of_q(n);
    /* Q holds nothing but the newcomer: S's bottom LIR (not the newcomer). */
    for (kl__pnode *b = s->s.prev; b != &s->s; b = b->prev) {
        li_head *h = li_of_s(b);
        if ((h->word & LI_LIR) && (li_meta *)h != f)
            return s->chosen = (li_meta *)h;
    }
    return s->chosen = f;
}

const kl_policy_ops kl__policy_lirs = {
    .version = KL_POLICY_VERSION,
    .name = "lirs",
    .meta_size = sizeof(li_meta),
    .create = li_create,
    .destroy = li_destroy,
    .on_insert = li_on_insert,
    .on_hit = li_on_hit,
    .on_remove = li_on_remove,
    .victim = li_victim,
};
