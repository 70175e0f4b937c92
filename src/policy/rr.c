/* SPDX-License-Identifier: BSD-3-Clause */
/* RR: random replacement.  The entries live in a dense array (each entry's
 * metadata holds its index + 1), so a uniform victim is one draw and a
 * removal is one swap with the last element.  The draw is seeded by the
 * cache's seed, so a run is reproducible.
 *
 * The victim is drawn among the entries present before the newest
 * insertion: the newcomer is skipped unless it is alone (klepto's RR may
 * drop the newcomer; keeping it is the better choice). */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/policies.h"

typedef struct {
    uint64_t slot; /* index in arr + 1; 0 = untracked (array growth failed) */
} rr_meta;

typedef struct {
    rr_meta **arr;
    size_t n, cap;
    uint64_t rng;
    rr_meta *fresh;
} rr_state;

/* splitmix64: tiny, fast, and every seed (0 included) gives a good stream. */
static inline uint64_t rr_next(rr_state *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) by multiply-shift (bias < n / 2^64). */
static inline size_t rr_below(rr_state *s, size_t n)
{
    return (size_t)(((unsigned __int128)rr_next(s) * n) >> 64);
}

static int rr_create(void **state, size_t capacity, uint64_t seed)
{
    rr_state *s = malloc(sizeof *s);
    if (!s)
        return KL_ENOMEM;
    /* Preallocate for the common case, but not absurd capacities (a cache
     * bounded only by bytes may pass a huge entry limit). */
    s->cap = capacity < 1024 ? 1024 : capacity > (1u << 20) ? (1u << 20) : capacity + 1;
    s->arr = malloc(s->cap * sizeof *s->arr);
    if (!s->arr) {
        free(s);
        return KL_ENOMEM;
    }
    s->n = 0;
    s->rng = seed;
    s->fresh = NULL;
    *state = s;
    return 0;
}

static void rr_destroy(void *state)
{
    rr_state *s = state;
    free(s->arr);
    free(s);
}

static void rr_on_insert(void *state, void *meta, uint64_t hash)
{
    (void)hash;
    rr_state *s = state;
    rr_meta *m = meta;
    if (s->n == s->cap) {
        rr_meta **a = realloc(s->arr, 2 * s->cap * sizeof *a);
        if (!a)
            return; /* untracked: never chosen, still removable */
        s->arr = a;
        s->cap *= 2;
    }
    s->arr[s->n++] = m;
    m->slot = s->n;
    s->fresh = m;
}

static void rr_on_hit(void *state, void *meta)
{
    (void)state;
    (void)meta;
}

static void rr_on_remove(void *state, void *meta)
{
    rr_state *s = state;
    rr_meta *m = meta;
    if (s->fresh == m)
        s->fresh = NULL;
    if (!m->slot)
        return;
    size_t i = m->slot - 1;
    rr_meta *last = s->arr[--s->n];
    s->arr[i] = last;
    last->slot = i + 1;
    m->slot = 0;
}

static void *rr_victim(void *state)
{
    rr_state *s = state;
    if (s->n == 0)
        return NULL;
    if (s->fresh && s->fresh->slot && s->n > 1) {
        size_t skip = s->fresh->slot - 1;
        size_t r = rr_below(s, s->n - 1);
        return s->arr[r >= skip ? r + 1 : r];
    }
    return s->arr[rr_below(s, s->n)];
}

const kl_policy_ops kl__policy_rr = {
    .version = KL_POLICY_VERSION,
    .name = "rr",
    .meta_size = sizeof(rr_meta),
    .create = rr_create,
    .destroy = rr_destroy,
    .on_insert = rr_on_insert,
    .on_hit = rr_on_hit,
    .on_remove = rr_on_remove,
    .victim = rr_victim,
    .hints = &(const kl_policy_hints){.hit_saturation = true}, /* hits never change anything */
};
