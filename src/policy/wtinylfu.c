/* SPDX-License-Identifier: BSD-3-Clause */
/* W-TinyLFU (Einziger, Friedman & Manes, 2017; the policy of Caffeine):
 * a small LRU window (1% of the capacity) in front of a segmented-LRU main
 * area (probation 20%, protected 80%), with admission by frequency.  An
 * entry leaving the window joins probation as a candidate; when the cache
 * must evict, the candidate is compared with probation's LRU entry and the
 * one seen less often (per a count-min sketch of recent accesses) goes —
 * ties go against the candidate.  So a burst of new keys cannot flush the
 * frequently used ones, while the window still gives new keys a chance.
 *
 * The sketch: 4 rows folded into one table of 4-bit counters (16 per
 * 64-bit word, one word per entry of capacity), a key's four counters in
 * one cache line, halved after 10 x capacity increments so old popularity
 * fades.  It holds hashed counts only.
 *
 * Metadata: list node + one word holding the hash with the low two bits
 * reused for the segment: 24 bytes. */
#include <stdlib.h>
#include <string.h>

#include "klepto/error.h"
#include "policy/plist.h"
#include "policy/policies.h"

enum { W_WINDOW = 0, W_PROBATION = 1, W_PROTECTED = 2 };
#define W_SEG 3u
#define W_HASH (~(uint64_t)3)

typedef struct {
    kl__pnode node;
    uint64_t word;
} w_meta;

typedef struct {
    uint64_t *table;
    size_t mask;
    size_t additions, sample;
    uint64_t seed;
} w_sketch;

typedef struct {
    kl__pnode seg[3]; /* most recent at the front */
    size_t n[3];
    size_t window_max, protected_max;
    w_meta *candidate; /* last entry moved from the window, while on probation */
    w_sketch sketch;
} w_state;

static inline uint64_t w_mix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

/* The four counters of hash h lie in one 64-byte block of 8 words (one
 * cache line, as Caffeine's FrequencySketch does): the block from the low
 * bits of the mixed hash, counter i in word 2i or 2i + 1 of the block and
 * at one of its 16 nibbles, from 5 bits each of the high half. */
static inline uint64_t *w_block(const w_sketch *k, uint64_t x)
{
    return k->table + (((size_t)x & k->mask) << 3);
}

static void w_sketch_add(w_sketch *k, uint64_t h)
{
    uint64_t x = w_mix(h ^ k->seed);
    uint64_t *blk = w_block(k, x);
    uint32_t y = (uint32_t)(x >> 32);
    int added = 0;
    for (unsigned i = 0; i < 8; i += 2, y >>= 5) {
        uint64_t *w = &blk[i + (y & 1)];
        unsigned sh = (y & 30) << 1;
        if (((*w >> sh) & 15) < 15) {
            *w += (uint64_t)1 << sh;
            added = 1;
        }
    }
    if (added && ++k->additions >= k->sample) {
        /* Age: halve every counter (the shift pulls no bit across a
         * nibble thanks to the mask). */
        for (size_t i = 0; i < ((k->mask + 1) << 3); i++)
            k->table[i] = (k->table[i] >> 1) & 0x7777777777777777ULL;
        k->additions /= 2;
    }
}

static unsigned w_sketch_freq(const w_sketch *k, uint64_t h)
{
    uint64_t x = w_mix(h ^ k->seed);
    const uint64_t *blk = w_block(k, x);
    uint32_t y = (uint32_t)(x >> 32);
    unsigned f = 15;
    for (unsigned i = 0; i < 8; i += 2, y >>= 5) {
        unsigned c = (unsigned)(blk[i + (y & 1)] >> ((y & 30) << 1)) & 15;
        if (c < f)
            f = c;
    }
    return f;
}

static int w_create(void **state, size_t capacity, uint64_t seed)
{
    w_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    if (capacity == 0)
        capacity = 1;
    for (int i = 0; i < 3; i++) {
        kl__plist_init(&s->seg[i]);
        s->n[i] = 0;
    }
    s->window_max = capacity / 100 ? capacity / 100 : 1;
    size_t main = capacity > s->window_max ? capacity - s->window_max : 0;
    s->protected_max = main - main / 5;
    s->candidate = NULL;
    size_t words = 8;
    /* Bounded: a cache limited only by bytes may pass a huge entry limit. */
    while (words < capacity && words < ((size_t)1 << 24))
        words <<= 1;
    s->sketch.table = aligned_alloc(64, words * sizeof(uint64_t));
    if (!s->sketch.table) {
        free(s);
        return KL_ENOMEM;
    }
    memset(s->sketch.table, 0, words * sizeof(uint64_t));
    s->sketch.mask = words / 8 - 1; /* blocks of 8 words */
    s->sketch.additions = 0;
    s->sketch.sample = 10 * (capacity < words ? capacity : words);
    s->sketch.seed = seed;
    *state = s;
    return 0;
}

static void w_destroy(void *state)
{
    w_state *s = state;
    free(s->sketch.table);
    free(s);
}

static inline unsigned w_seg(const w_meta *m) { return (unsigned)(m->word & W_SEG); }

static inline void w_move(w_state *s, w_meta *m, unsigned to)
{
    unsigned from = w_seg(m);
    kl__plist_unlink(&m->node);
    s->n[from]--;
    m->word = (m->word & W_HASH) | to;
    kl__plist_push_front(&s->seg[to], &m->node);
    s->n[to]++;
}

static void w_on_insert(void *state, void *meta, uint64_t hash)
{
    w_state *s = state;
    w_meta *m = meta;
    m->word = (hash & W_HASH) | W_WINDOW;
    w_sketch_add(&s->sketch, hash & W_HASH);
    kl__plist_push_front(&s->seg[W_WINDOW], &m->node);
    s->n[W_WINDOW]++;
    if (s->n[W_WINDOW] > s->window_max) {
        w_meta *c = (w_meta *)s->seg[W_WINDOW].prev;
        w_move(s, c, W_PROBATION);
        s->candidate = c;
    }
}

static void w_on_hit(void *state, void *meta)
{
    w_state *s = state;
    w_meta *m = meta;
    w_sketch_add(&s->sketch, m->word & W_HASH);
    switch (w_seg(m)) {
    case W_PROBATION:
        if (s->candidate == m)
            s->candidate = NULL;
        w_move(s, m, W_PROTECTED);
        if (s->n[W_PROTECTED] > s->protected_max)
            w_move(s, (w_meta *)s->seg[W_PROTECTED].prev, W_PROBATION);
        break;
    default:
        kl__plist_move_front(&s->seg[w_seg(m)], &m->node);
        break;
    }
}

static void w_on_remove(void *state, void *meta)
{
    w_state *s = state;
    w_meta *m = meta;
    if (s->candidate == m)
        s->candidate = NULL;
    s->n[w_seg(m)]--;
    kl__plist_unlink(&m->node);
}

static void *w_victim(void *state)
{
    w_state *s = state;
    w_meta *c = s->candidate;
    kl__pnode *v = kl__plist_back(&s->seg[W_PROBATION]);
    if (c && v == &c->node)
        v = NULL; /* the candidate is alone on probation */
    if (!v)
        v = kl__plist_back(&s->seg[W_PROTECTED]);
    if (!c)
        return v ? (void *)v : (void *)kl__plist_back(&s->seg[W_WINDOW]);
    if (!v)
        return c;
    w_meta *vm = (w_meta *)v;
    return w_sketch_freq(&s->sketch, c->word & W_HASH) > w_sketch_freq(&s->sketch, vm->word & W_HASH)
               ? (void *)vm
               : (void *)c;
}

const kl_policy_ops kl__policy_wtinylfu = {
    .version = KL_POLICY_VERSION,
    .name = "wtinylfu",
    .meta_size = sizeof(w_meta),
    .create = w_create,
    .destroy = w_destroy,
    .on_insert = w_on_insert,
    .on_hit = w_on_hit,
    .on_remove = w_on_remove,
    .victim = w_victim,
};
