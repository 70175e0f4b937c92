/* SPDX-License-Identifier: BSD-3-Clause */
/* Ghost list: see ghost.h.  Removal from the middle leaves a hole in the
 * ring (so order stays O(1) to keep) and deletes from the table with
 * backward-shift deletion (so lookups never walk tombstones). */
#include <stdlib.h>

#include "klepto/error.h"
#include "policy/ghost.h"

/* Stored hashes are never 0: 0 marks a removed ring slot. */
static inline uint64_t ghost_key(uint64_t h) { return h ? h : 1; }

static inline size_t ghost_home(const kl__ghost *g, uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h & g->mask;
}

int kl__ghost_init(kl__ghost *g, size_t limit)
{
    if (limit == 0)
        limit = 1;
    if (limit > UINT32_MAX / 2)
        return KL_ENOMEM;
    size_t cap = limit + limit / 4 + 1;
    size_t n = 4;
    while (n < 2 * cap)
        n <<= 1;
    g->ring = calloc(cap, sizeof *g->ring);
    g->slots = calloc(n, sizeof *g->slots);
    if (!g->ring || !g->slots || cap > UINT32_MAX - 1) {
        free(g->ring);
        free(g->slots);
        g->ring = NULL;
        g->slots = NULL;
        return KL_ENOMEM;
    }
    g->limit = limit;
    g->cap = cap;
    g->tail = 0;
    g->used = 0;
    g->live = 0;
    g->mask = n - 1;
    return 0;
}

void kl__ghost_free(kl__ghost *g)
{
    free(g->ring);
    free(g->slots);
    g->ring = NULL;
    g->slots = NULL;
}

/* Empty table slot i, shifting later members of its probe run back. */
static void ghost_delete_slot(kl__ghost *g, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & g->mask;
        uint32_t v = g->slots[j];
        if (v == 0)
            break;
        size_t k = ghost_home(g, g->ring[v - 1]);
        /* Move j's member into the hole unless its home lies cyclically
         * in (i, j], where it would no longer be found. */
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            g->slots[i] = v;
            i = j;
        }
    }
    g->slots[i] = 0;
}

/* The table slot holding ring index r (whose hash is h). */
static size_t ghost_find_index(const kl__ghost *g, uint64_t h, size_t r)
{
    size_t i = ghost_home(g, h);
    while (g->slots[i] != r + 1)
        i = (i + 1) & g->mask;
    return i;
}

/* Drop the oldest ring slot, live or removed. */
static void ghost_drop_oldest(kl__ghost *g)
{
    uint64_t h = g->ring[g->tail];
    if (h) {
        ghost_delete_slot(g, ghost_find_index(g, h, g->tail));
        g->ring[g->tail] = 0;
        g->live--;
    }
    g->tail = g->tail + 1 == g->cap ? 0 : g->tail + 1;
    g->used--;
}

/* Close the ring's holes (the ring is full, and at least a fifth of it
 * is holes): live hashes keep their order from the tail on, and the
 * table is rebuilt. */
static void ghost_compact(kl__ghost *g)
{
    size_t w = g->tail;
    for (size_t k = 0, r = g->tail; k < g->used; k++) {
        if (g->ring[r]) {
            g->ring[w] = g->ring[r];
            w = w + 1 == g->cap ? 0 : w + 1;
        }
        r = r + 1 == g->cap ? 0 : r + 1;
    }
    g->used = g->live;
    for (size_t k = g->used, r = w; k < g->cap; k++) {
        g->ring[r] = 0;
        r = r + 1 == g->cap ? 0 : r + 1;
    }
    for (size_t i = 0; i <= g->mask; i++)
        g->slots[i] = 0;
    for (size_t k = 0, r = g->tail; k < g->used; k++) {
        size_t i = ghost_home(g, g->ring[r]);
        while (g->slots[i])
            i = (i + 1) & g->mask;
        g->slots[i] = (uint32_t)(r + 1);
        r = r + 1 == g->cap ? 0 : r + 1;
    }
}

void kl__ghost_push(kl__ghost *g, uint64_t h)
{
    h = ghost_key(h);
    /* One copy per hash, the newest: keeps the order well defined. */
    kl__ghost_remove(g, h);
    if (g->live == g->limit)
        kl__ghost_pop(g);
    if (g->used == g->cap)
        ghost_compact(g);
    size_t r = g->tail + g->used;
    if (r >= g->cap)
        r -= g->cap;
    g->ring[r] = h;
    g->used++;
    g->live++;
    size_t i = ghost_home(g, h);
    while (g->slots[i])
        i = (i + 1) & g->mask;
    g->slots[i] = (uint32_t)(r + 1);
}

static size_t ghost_lookup(const kl__ghost *g, uint64_t h, int *found)
{
    size_t i = ghost_home(g, h);
    for (;;) {
        uint32_t v = g->slots[i];
        if (v == 0) {
            *found = 0;
            return i;
        }
        if (g->ring[v - 1] == h) {
            *found = 1;
            return i;
        }
        i = (i + 1) & g->mask;
    }
}

int kl__ghost_contains(const kl__ghost *g, uint64_t h)
{
    int found;
    ghost_lookup(g, ghost_key(h), &found);
    return found;
}

int kl__ghost_remove(kl__ghost *g, uint64_t h)
{
    int found;
    size_t i = ghost_lookup(g, ghost_key(h), &found);
    if (!found)
        return 0;
    g->ring[g->slots[i] - 1] = 0;
    ghost_delete_slot(g, i);
    g->live--;
    return 1;
}

void kl__ghost_pop(kl__ghost *g)
{
    while (g->used && g->ring[g->tail] == 0) {
        g->tail = g->tail + 1 == g->cap ? 0 : g->tail + 1;
        g->used--;
    }
    if (g->used)
        ghost_drop_oldest(g);
}
