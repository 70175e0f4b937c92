/* SPDX-License-Identifier: BSD-3-Clause */
/* LFU, exact and O(1): entries sit in frequency buckets kept in ascending
 * order; a hit moves an entry to the next bucket (created beside it when
 * missing), so the victim is always the least recently used entry of the
 * lowest bucket — ties between equal counts go to LRU.  A count is the
 * number of accesses since the entry was inserted.
 *
 * Metadata: the list node plus a bucket pointer, 24 bytes.  Buckets come
 * from chunks kept on a free list; there are never more buckets in use than
 * entries.  Should a chunk allocation fail, a hit leaves the entry in its
 * bucket (counted as a recency refresh only) — degraded, never corrupt.
 *
 * Room is made before the newcomer arrives: the entry just inserted is
 * skipped by victim() unless it is alone.  Not as in klepto, whose LFU
 * drops max(2, maxsize // 10) entries at once and may drop the newcomer:
 * this one is exact, one entry at a time (docs/policies.md). */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/plist.h"
#include "policy/policies.h"

typedef struct lfu_bucket {
    kl__pnode items; /* most recent at the front */
    struct lfu_bucket *prev, *next;
    uint64_t freq;
} lfu_bucket;

typedef struct {
    kl__pnode node;
    lfu_bucket *bucket;
} lfu_meta;

typedef struct lfu_chunk {
    struct lfu_chunk *next;
    lfu_bucket b[];
} lfu_chunk;

#define LFU_CHUNK 256

typedef struct {
    lfu_bucket head; /* sentinel of the bucket ring, ascending freq */
    lfu_bucket *free;
    lfu_chunk *chunks;
    lfu_meta *fresh;
} lfu_state;

static int lfu_grow(lfu_state *s)
{
    lfu_chunk *c = malloc(sizeof *c + LFU_CHUNK * sizeof(lfu_bucket));
    if (!c)
        return KL_ENOMEM;
    c->next = s->chunks;
    s->chunks = c;
    for (size_t i = 0; i < LFU_CHUNK; i++) {
        c->b[i].next = s->free;
        s->free = &c->b[i];
    }
    return 0;
}

/* A new bucket of `freq` linked right after `after`; NULL if out of memory. */
static lfu_bucket *lfu_bucket_new(lfu_state *s, lfu_bucket *after, uint64_t freq)
{
    if (!s->free && lfu_grow(s) != 0)
        return NULL;
    lfu_bucket *b = s->free;
    s->free = b->next;
    kl__plist_init(&b->items);
    b->freq = freq;
    b->prev = after;
    b->next = after->next;
    after->next->prev = b;
    after->next = b;
    return b;
}

static void lfu_bucket_release(lfu_state *s, lfu_bucket *b)
{
    if (b == &s->head)
        return;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    b->next = s->free;
    s->free = b;
}

static int lfu_create(void **state, size_t capacity, uint64_t seed)
{
    (void)capacity;
    (void)seed;
    lfu_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    s->head.prev = s->head.next = &s->head;
    s->head.freq = 0;
    kl__plist_init(&s->head.items);
    s->free = NULL;
    s->chunks = NULL;
    s->fresh = NULL;
    if (lfu_grow(s) != 0) {
        free(s);
        return KL_ENOMEM;
    }
    *state = s;
    return 0;
}

static void lfu_destroy(void *state)
{
    lfu_state *s = state;
    while (s->chunks) {
        lfu_chunk *c = s->chunks;
        s->chunks = c->next;
        free(c);
    }
    free(s);
}

static void lfu_on_insert(void *state, void *meta, uint64_t hash)
{
    (void)hash;
    lfu_state *s = state;
    lfu_meta *m = meta;
    lfu_bucket *b = s->head.next;
    if (b == &s->head || b->freq != 1) {
        lfu_bucket *nb = lfu_bucket_new(s, &s->head, 1);
        /* Out of memory: join the lowest bucket (or, with none, the
         * sentinel, whose entries are never chosen) rather than be lost. */
        if (nb)
            b = nb;
    }
    m->bucket = b;
    kl__plist_push_front(&b->items, &m->node);
    s->fresh = m;
}

static void lfu_on_hit(void *state, void *meta)
{
    lfu_state *s = state;
    lfu_meta *m = meta;
    lfu_bucket *b = m->bucket;
    lfu_bucket *nb = b->next;
    if (nb == &s->head || nb->freq != b->freq + 1) {
        if (b->items.next == &m->node && b->items.prev == &m->node) {
            b->freq++; /* alone: the bucket itself moves up */
            return;
        }
        nb = lfu_bucket_new(s, b, b->freq + 1);
        if (!nb) {
            kl__plist_move_front(&b->items, &m->node);
            return;
        }
    }
    kl__plist_unlink(&m->node);
    if (kl__plist_empty(&b->items))
        lfu_bucket_release(s, b);
    kl__plist_push_front(&nb->items, &m->node);
    m->bucket = nb;
}

static void lfu_on_remove(void *state, void *meta)
{
    lfu_state *s = state;
    lfu_meta *m = meta;
    if (s->fresh == m)
        s->fresh = NULL;
    lfu_bucket *b = m->bucket;
    kl__plist_unlink(&m->node);
    if (kl__plist_empty(&b->items))
        lfu_bucket_release(s, b);
    m->bucket = NULL;
}

static void *lfu_victim(void *state)
{
    lfu_state *s = state;
    lfu_bucket *b = s->head.next;
    if (b == &s->head)
        return NULL;
    kl__pnode *v = kl__plist_back(&b->items);
    /* The newcomer is the most recent of its bucket, so it is the back
     * only when alone there: then the next bucket holds the victim. */
    if (s->fresh && v == &s->fresh->node && b->next != &s->head)
        v = kl__plist_back(&b->next->items);
    return v;
}

const kl_policy_ops kl__policy_lfu = {
    .version = KL_POLICY_VERSION,
    .name = "lfu",
    .meta_size = sizeof(lfu_meta),
    .create = lfu_create,
    .destroy = lfu_destroy,
    .on_insert = lfu_on_insert,
    .on_hit = lfu_on_hit,
    .on_remove = lfu_on_remove,
    .victim = lfu_victim,
    /* counted when the entry comes up as victim */
    .hints = &(const kl_policy_hints){.deferrable_hits = true},
};
