/* SPDX-License-Identifier: BSD-3-Clause */
/* S3-FIFO (Yang et al., SOSP '23): three FIFO queues.  New entries go to a
 * small queue (10% of the capacity); the ones read again while there are
 * promoted to the main queue, the others leave and their hash goes to a
 * ghost queue.  A newcomer whose hash is still in the ghost goes straight
 * to main.  Main is a FIFO with reinsertion: a 2-bit counter, bumped by
 * hits, buys an entry another round.  One-hit wonders thus leave fast
 * (scan resistance) while the main queue behaves like CLOCK.
 *
 * Metadata: list node + one word holding the hash with the low three bits
 * reused for the counter (bits 0-1) and the queue (bit 2): 24 bytes.
 * The ghost holds hashes only, as many as the main queue's share.
 *
 * The newcomer (inserted before the cache asks for a victim) is not
 * considered unless it is alone, as in the original where eviction comes
 * first. */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/ghost.h"
#include "policy/plist.h"
#include "policy/policies.h"

#define S3_FREQ 3u
#define S3_MAIN 4u
#define S3_HASH (~(uint64_t)7)

typedef struct {
    kl__pnode node;
    uint64_t word;
} s3_meta;

typedef struct {
    kl__pnode small, main; /* newest at the front */
    size_t nsmall, nmain;
    size_t small_target;
    s3_meta *fresh;
    s3_meta *chosen; /* last victim: its removal is an eviction */
    kl__ghost ghost;
} s3_state;

static int s3_create(void **state, size_t capacity, uint64_t seed)
{
    (void)seed;
    s3_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    if (capacity == 0)
        capacity = 1;
    kl__plist_init(&s->small);
    kl__plist_init(&s->main);
    s->nsmall = s->nmain = 0;
    s->small_target = capacity / 10 ? capacity / 10 : 1;
    s->fresh = s->chosen = NULL;
    size_t gcap = capacity > s->small_target ? capacity - s->small_target : 1;
    /* Ghost memory grows with capacity; a cache bounded only by bytes may
     * pass a huge entry limit, so bound it. */
    if (gcap > ((size_t)1 << 24))
        gcap = (size_t)1 << 24;
    if (kl__ghost_init(&s->ghost, gcap) != 0) {
        free(s);
        return KL_ENOMEM;
    }
    *state = s;
    return 0;
}

static void s3_destroy(void *state)
{
    s3_state *s = state;
    kl__ghost_free(&s->ghost);
    free(s);
}

static void s3_on_insert(void *state, void *meta, uint64_t hash)
{
    s3_state *s = state;
    s3_meta *m = meta;
    uint64_t h = hash & S3_HASH;
    if (kl__ghost_remove(&s->ghost, h)) {
        m->word = h | S3_MAIN;
        kl__plist_push_front(&s->main, &m->node);
        s->nmain++;
    } else {
        m->word = h;
        kl__plist_push_front(&s->small, &m->node);
        s->nsmall++;
    }
    s->fresh = m;
}

static void s3_on_hit(void *state, void *meta)
{
    (void)state;
    s3_meta *m = meta;
    if ((m->word & S3_FREQ) < 3)
        m->word++;
}

static void s3_on_remove(void *state, void *meta)
{
    s3_state *s = state;
    s3_meta *m = meta;
    if (m->word & S3_MAIN) {
        s->nmain--;
    } else {
        s->nsmall--;
        if (s->chosen == m)
            kl__ghost_push(&s->ghost, m->word & S3_HASH);
    }
    if (s->chosen == m)
        s->chosen = NULL;
    if (s->fresh == m)
        s->fresh = NULL;
    kl__plist_unlink(&m->node);
}

static void *s3_victim(void *state)
{
    s3_state *s = state;
    s3_meta *f = s->fresh;
    /* Amortised O(1): every pass of the loop that does not return spends
     * a hit (a promotion or a counter decrement). */
    for (;;) {
        size_t ns = s->nsmall - (f && !(f->word & S3_MAIN));
        size_t nm = s->nmain - (f && (f->word & S3_MAIN));
        if (ns > 0 && (ns >= s->small_target || nm == 0)) {
            s3_meta *t = (s3_meta *)s->small.prev;
            if (t->word & S3_FREQ) {
                kl__plist_unlink(&t->node);
                t->word = (t->word & S3_HASH) | S3_MAIN;
                kl__plist_push_front(&s->main, &t->node);
                s->nsmall--;
                s->nmain++;
                continue;
            }
            return s->chosen = t;
        }
        if (nm > 0) {
            s3_meta *t = (s3_meta *)s->main.prev;
            if (t == f) {
                /* Promotions and reinsertions went in front of the
                 * newcomer; in the original it would arrive after them. */
                kl__plist_move_front(&s->main, &t->node);
                continue;
            }
            if (t->word & S3_FREQ) {
                t->word--;
                kl__plist_move_front(&s->main, &t->node);
                continue;
            }
            return s->chosen = t;
        }
        return s->chosen = f; /* the newcomer alone, or nothing (NULL) */
    }
}

const kl_policy_ops kl__policy_s3fifo = {
    .version = KL_POLICY_VERSION,
    .name = "s3fifo",
    .meta_size = sizeof(s3_meta),
    .create = s3_create,
    .destroy = s3_destroy,
    .on_insert = s3_on_insert,
    .on_hit = s3_on_hit,
    .on_remove = s3_on_remove,
    .victim = s3_victim,
    /* a hit counts up to 3; at 3, hits change nothing */
    .hints = &(const kl_policy_hints){
        .hit_saturation = true,
        .hit_word = offsetof(s3_meta, word),
        .hit_mask = S3_FREQ,
    },
};
