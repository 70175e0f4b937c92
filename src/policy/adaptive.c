/* SPDX-License-Identifier: BSD-3-Clause */
/* "adaptive": run the built-in policy that does best on the workload so
 * far.  Candidates: lirs (the one it starts with), wtinylfu, arc, s3fifo,
 * lru — between them the best or near-best on every trace of
 * docs/policies.md (loops, static and shifting skew, scans, one-hit
 * wonders, a block-I/O mix).
 *
 * Which one does best is measured by miniature simulations (Waldspurger,
 * Saemundsson, Ahmad & Park, "Cache Modeling and Optimization using
 * Miniature Simulations", USENIX ATC 2017): every candidate runs in a
 * shadow cache (shadow.h) on a spatially sampled 1/R of the keys (those
 * whose hash has its top log2 R bits zero) with capacity / R entries, so
 * each sees the same sampled requests.  R is the largest power of two
 * up to 256 that leaves the shadows at least 512 entries (R = 1 — exact
 * shadows — for caches of up to 1023 entries).  After each epoch of
 * max(512, capacity / R) sampled requests, every candidate's score is
 * multiplied by 15/16 and its misses of the epoch added; the candidate
 * with the lowest score takes over when it has 2% fewer than the running
 * one.  A shorter memory or a smaller margin made it switch back and forth
 * between near-equal candidates, losing their state each time (1-2 points
 * of misses on the traces of docs/policies.md).
 *
 * The start matters more than the switching: a switch hands over the
 * entries but not the history (LIRS's non-resident keys, W-TinyLFU's
 * sketch), and on short traces the shadows are slow to separate the
 * candidates.  On the real CloudPhysics trace of docs/policies.md the
 * shadows show LIRS ahead only after ~5 epochs, and even exact shadows
 * (R = 1) that switch to it then end at 0.75 at 20% where LIRS alone has
 * 0.64.  Since LIRS keeps twice the capacity of non-resident keys
 * (lirs.c), it is the best fixed policy on both block traces there (the
 * real one at 5% and 20%, the generated block-I/O mix at every size) and
 * within about a point of the best on the others, where the shadows find
 * the better candidate in time; so it is the start: CloudPhysics 0.49 /
 * 0.00 / -0.71 points from the best fixed policy at 1/5/20% (starting
 * with wtinylfu: 0.01 / 1.65 / 7.90), the block-I/O mix 0.00 at every
 * size, the generated traces at most 0.64.  Tried and dropped: switching
 * early on McNemar's
 * test of the paired shadow outcomes (z > 3 on the requests where exactly
 * one of two shadows hit) — it decided sooner but switched on phases that
 * did not last (one-hit at 1,000 entries: 0.7 points worse).
 *
 * Taking over: the new policy is created and told of every resident entry
 * as an insertion, in the order the old one gives them up as victims
 * (least valuable first), and the old one is destroyed.  (An LRU list of
 * all entries, kept for this before, cost a list move on every hit: most
 * of adaptive's overhead over its running policy.)
 * At most one switch per epoch (at least max(512, capacity / R) sampled,
 * so about max(512 R, capacity) requests): the O(capacity) rebuild is
 * amortised to O(1) per request.  The new policy starts without its
 * history (ghosts, sketch); the margin keeps such restarts rare.
 *
 * Cost per request: the running policy, the sampling test, and on 1/R of
 * the requests one access to each of the five shadows.  Memory:
 * 5 shadows of capacity / R entries (56 B each plus the policy's own
 * extras), so about 1/R x 5 of a cache's worth of policy state.
 *
 * Metadata: the running policy's (at most 40 B) and the hash: 48 bytes. */
#include <stdlib.h>
#include <string.h>

#include "klepto/error.h"
#include "policy/policies.h"
#include "policy/shadow.h"

enum { AD_NCAND = 5 };
#define AD_MIN_SHADOW 512u
#define AD_MAX_SHIFT 8u
#define AD_SHADOW_CAP ((size_t)1 << 16)
#define AD_DECAY 0.9375 /* a score keeps 15/16 of itself per epoch */
#define AD_MARGIN 0.98  /* a switch needs 2% fewer misses */

typedef struct {
    uint64_t sub[KL__SHADOW_META_WORDS]; /* first: the running policy's metadata */
    uint64_t hash;
} ad_meta;

typedef struct {
    const kl_policy_ops *cand[AD_NCAND];
    int running;
    void *st; /* the running policy's state */
    size_t count; /* resident entries */
    size_t capacity;
    uint64_t seed;
    kl__shadow shadow[AD_NCAND];
    unsigned shift;
    uint64_t sample_mask; /* a hash is sampled when these bits are zero */
    size_t epoch_len, epoch_seen;
    uint64_t epoch_miss[AD_NCAND];
    double score[AD_NCAND];
} ad_state;

static void ad_destroy(void *state)
{
    ad_state *s = state;
    for (int i = 0; i < AD_NCAND; i++)
        if (s->shadow[i].ops)
            kl__shadow_free(&s->shadow[i]);
    if (s->st)
        s->cand[s->running]->destroy(s->st);
    free(s);
}

static int ad_create(void **state, size_t capacity, uint64_t seed)
{
    ad_state *s = calloc(1, sizeof *s);
    if (!s)
        return KL_ENOMEM;
    if (capacity == 0)
        capacity = 1;
    s->cand[0] = &kl__policy_lirs; /* the start: see the header */
    s->cand[1] = &kl__policy_wtinylfu;
    s->cand[2] = &kl__policy_arc;
    s->cand[3] = &kl__policy_s3fifo;
    s->cand[4] = &kl__policy_lru;
    s->capacity = capacity;
    s->seed = seed;
    s->shift = 0;
    while (s->shift < AD_MAX_SHIFT && (capacity >> (s->shift + 1)) >= AD_MIN_SHADOW)
        s->shift++;
    s->sample_mask = s->shift ? ~(uint64_t)0 << (64 - s->shift) : 0;
    size_t scap = capacity >> s->shift;
    if (scap > AD_SHADOW_CAP)
        scap = AD_SHADOW_CAP; /* a cache limited only by bytes: a huge entry limit */
    s->epoch_len = scap > AD_MIN_SHADOW ? scap : AD_MIN_SHADOW;
    s->running = 0;
    int rc = s->cand[0]->create(&s->st, capacity, seed);
    for (int i = 0; !rc && i < AD_NCAND; i++)
        rc = kl__shadow_init(&s->shadow[i], s->cand[i], scap, seed);
    if (rc) {
        ad_destroy(s);
        return rc; /* the cache names the policy and this cause */
    }
    *state = s;
    return 0;
}

/* Hand the resident entries to candidate `to`: the running policy gives
 * them up as its victims, least valuable first, and each is inserted into
 * the new one as it leaves (so the new one sees the old one's ranking as
 * recency).  An entry's metadata is free for the new policy once the old
 * one has removed it. */
static void ad_switch(ad_state *s, int to)
{
    void *st;
    if (s->cand[to]->create(&st, s->capacity, s->seed) != 0)
        return; /* keep the running policy: always correct */
    const kl_policy_ops *old = s->cand[s->running];
    for (size_t n = s->count; n > 0; n--) {
        ad_meta *m = old->victim(s->st); /* never NULL while entries remain */
        old->on_remove(s->st, m->sub);
        memset(m->sub, 0, sizeof m->sub);
        s->cand[to]->on_insert(st, m->sub, m->hash);
    }
    old->destroy(s->st);
    s->st = st;
    s->running = to;
}

static void ad_epoch_end(ad_state *s)
{
    int best = s->running;
    for (int i = 0; i < AD_NCAND; i++) {
        s->score[i] = s->score[i] * AD_DECAY + (double)s->epoch_miss[i];
        s->epoch_miss[i] = 0;
    }
    for (int i = 0; i < AD_NCAND; i++)
        if (s->score[i] < s->score[best])
            best = i;
    s->epoch_seen = 0;
    if (best != s->running && s->score[best] < AD_MARGIN * s->score[s->running])
        ad_switch(s, best);
}

/* The miniature simulations see a sampled request (out of line: the
 * common, unsampled request pays only the test in ad_sampled). */
static inline int ad_sampled(const ad_state *s, uint64_t h) { return (h & s->sample_mask) == 0; }

static void ad_observe(ad_state *s, uint64_t h)
{
    for (int i = 0; i < AD_NCAND; i++)
        s->epoch_miss[i] += !kl__shadow_access(&s->shadow[i], h);
    if (++s->epoch_seen >= s->epoch_len)
        ad_epoch_end(s);
}

static void ad_on_insert(void *state, void *meta, uint64_t hash)
{
    ad_state *s = state;
    ad_meta *m = meta;
    if (ad_sampled(s, hash))
        ad_observe(s, hash); /* may switch: before the newcomer is known */
    m->hash = hash;
    s->count++;
    s->cand[s->running]->on_insert(s->st, m->sub, hash);
}

static void ad_on_hit(void *state, void *meta)
{
    ad_state *s = state;
    ad_meta *m = meta;
    if (ad_sampled(s, m->hash))
        ad_observe(s, m->hash);
    s->cand[s->running]->on_hit(s->st, m->sub);
}

static void ad_on_remove(void *state, void *meta)
{
    ad_state *s = state;
    ad_meta *m = meta;
    s->count--;
    s->cand[s->running]->on_remove(s->st, m->sub);
}

static void *ad_victim(void *state)
{
    ad_state *s = state;
    return s->cand[s->running]->victim(s->st); /* sub is first: the entry's address */
}

const kl_policy_ops kl__policy_adaptive = {
    .version = KL_POLICY_VERSION,
    .name = "adaptive",
    .meta_size = sizeof(ad_meta),
    .create = ad_create,
    .destroy = ad_destroy,
    .on_insert = ad_on_insert,
    .on_hit = ad_on_hit,
    .on_remove = ad_on_remove,
    .victim = ad_victim,
};
