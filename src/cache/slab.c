/* SPDX-License-Identifier: BSD-3-Clause */
/* The cache's entry allocator (slab.h). */
#include "cache/slab.h"

#include <stdlib.h>
#include <string.h>

static void let_go(kl__slab *s, void *p, size_t bytes)
{
    if (s->retire)
        s->retire(s->retire_ctx, p, bytes);
    else
        free(p);
}

static uint8_t *chunk_alloc(size_t bytes) { return malloc(bytes + SLAB_READ_SLACK); }

/* A new chunk index (reusing a released one), or UINT32_MAX. */
static uint32_t chunk_index(kl__slab *s)
{
    if (s->nspare)
        return s->spare[--s->nspare];
    if (s->nchunks == s->capchunks) {
        if (s->capchunks >= SLAB_MAX_CHUNKS)
            return UINT32_MAX;
        uint32_t n = s->capchunks ? s->capchunks * 2 : 8;
        if (n > SLAB_MAX_CHUNKS)
            n = SLAB_MAX_CHUNKS;
        /* a new table, capacity first; the old one may still be read */
        uint8_t **nc = malloc((n + 1) * sizeof *nc);
        if (!nc)
            return UINT32_MAX;
        nc[0] = (uint8_t *)(uintptr_t)n;
        if (s->chunks) {
            memcpy(nc + 1, s->chunks, s->nchunks * sizeof *nc);
            let_go(s, s->chunks - 1, (s->capchunks + 1) * sizeof *nc);
        }
        /* readers load the table pointer without the lock */
        __atomic_store_n(&s->chunks, nc + 1, __ATOMIC_RELEASE);
        s->capchunks = n;
    }
    __atomic_store_n(&s->chunks[s->nchunks], NULL, __ATOMIC_RELAXED);
    return s->nchunks++;
}

static void spare_push(kl__slab *s, uint32_t idx)
{
    if (s->nspare == s->capspare) {
        uint32_t n = s->capspare ? s->capspare * 2 : 8;
        uint32_t *ns = realloc(s->spare, n * sizeof *ns);
        if (!ns)
            return; /* the index is simply not reused */
        s->spare = ns;
        s->capspare = n;
    }
    s->spare[s->nspare++] = idx;
}

static inline void list_push(kl__slab *s, uint32_t id, size_t units)
{
    uint32_t next = s->heads[units];
    memcpy(kl__slab_ptr(s, id), &next, sizeof next);
    s->heads[units] = id + 1;
}

static inline uint32_t list_pop(kl__slab *s, size_t units)
{
    uint32_t id = s->heads[units] - 1;
    memcpy(&s->heads[units], kl__slab_ptr(s, id), sizeof(uint32_t));
    return id;
}

void *kl__slab_alloc(kl__slab *s, size_t units, uint32_t *id)
{
    if (units > SLAB_SMALL) {
        uint32_t idx = chunk_index(s);
        if (idx == UINT32_MAX)
            return NULL;
        uint8_t *p = chunk_alloc(units * SLAB_UNIT);
        if (!p) {
            spare_push(s, idx);
            return NULL;
        }
        __atomic_store_n(&s->chunks[idx], p, __ATOMIC_RELEASE);
        *id = idx << SLAB_OFF_BITS;
        return p;
    }
    if (s->heads[units]) {
        *id = list_pop(s, units);
        return kl__slab_ptr(s, *id);
    }
    if (s->cur_used + units > s->cur_units) {
        /* split a larger free block before taking new memory */
        for (size_t u = units + 1; u <= SLAB_SMALL; u++)
            if (s->heads[u]) {
                uint32_t big = list_pop(s, u);
                list_push(s, big + (uint32_t)units, u - units);
                *id = big;
                return kl__slab_ptr(s, big);
            }
        uint32_t idx = chunk_index(s);
        if (idx == UINT32_MAX)
            return NULL;
        /* 1 KiB doubling to 16 KiB: a shard's unused tail stays small */
        uint32_t n = s->nsmall < 4 ? (128u << s->nsmall) : SLAB_CHUNK_UNITS;
        uint8_t *p = chunk_alloc((size_t)n * SLAB_UNIT);
        if (!p) {
            spare_push(s, idx);
            return NULL;
        }
        __atomic_store_n(&s->chunks[idx], p, __ATOMIC_RELEASE);
        /* the old chunk's tail goes to the free list of its size */
        if (s->cur_units > s->cur_used)
            list_push(s, (s->cur << SLAB_OFF_BITS) | s->cur_used, s->cur_units - s->cur_used);
        s->nsmall++;
        s->cur = idx;
        s->cur_used = 0;
        s->cur_units = n;
    }
    *id = (s->cur << SLAB_OFF_BITS) | s->cur_used;
    s->cur_used += (uint32_t)units;
    return kl__slab_ptr(s, *id);
}

void kl__slab_free(kl__slab *s, uint32_t id, size_t units)
{
    if (units > SLAB_SMALL) {
        uint32_t idx = id >> SLAB_OFF_BITS;
        uint8_t *p = s->chunks[idx];
        __atomic_store_n(&s->chunks[idx], NULL, __ATOMIC_RELAXED);
        let_go(s, p, units * SLAB_UNIT + SLAB_READ_SLACK);
        spare_push(s, idx);
        return;
    }
    list_push(s, id, units);
}

void kl__slab_reset(kl__slab *s)
{
    uint8_t **chunks = s->chunks;
    __atomic_store_n(&s->chunks, NULL, __ATOMIC_RELEASE);
    for (uint32_t i = 0; i < s->nchunks; i++)
        if (chunks[i])
            let_go(s, chunks[i], 0);
    if (chunks)
        let_go(s, chunks - 1, (s->capchunks + 1) * sizeof *chunks);
    free(s->spare);
    kl__slab_retire_fn retire = s->retire;
    void *ctx = s->retire_ctx;
    memset(s, 0, sizeof *s);
    s->retire = retire;
    s->retire_ctx = ctx;
}
