/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A per-shard allocator for cache entries (private to the cache).
 *
 * Entries are carved from chunks (1 KiB, doubling to 16 KiB) in 8-byte
 * units and named by a 32-bit id (chunk index << 13 | unit offset), so a
 * table slot can hold an id and a 32-bit hash tag in one word.  Freed
 * entries go to an exact-size free list (sizes up to SLAB_SMALL units) and
 * are reused by entries of the same size, or split for smaller ones;
 * larger entries get a chunk of their own.  No per-entry header, no
 * rounding beyond 8 bytes.  Memory returns to the system when the slab is
 * reset or destroyed.  Not thread-safe: the shard lock guards it.
 *
 * Optimistic readers (cache_read.h) may still be reading memory the slab
 * lets go of, so a slab with a `retire` hook hands it there instead of
 * freeing it: the chunk table's old copy when it grows, a big entry's
 * chunk, every chunk on reset.  The chunk table's capacity sits in the word
 * before it, and every chunk ends with SLAB_READ_SLACK spare bytes, so a
 * reader holding a stale id stays inside memory it may read.
 */
#ifndef KLEPTO_SLAB_H
#define KLEPTO_SLAB_H

#include <stddef.h>
#include <stdint.h>

#define SLAB_UNIT 8u
#define SLAB_OFF_BITS 13u      /* id bits for the unit offset in a chunk */
#define SLAB_CHUNK_UNITS 2048u /* units in a full-sized shared chunk (16 KiB) */
#define SLAB_SMALL 64u         /* entries up to 512 bytes share chunks */
#define SLAB_MAX_CHUNKS ((UINT32_C(1) << (32 - SLAB_OFF_BITS)) - 1)
#define SLAB_READ_SLACK 32u    /* bytes after every chunk's last unit */

/* Where memory goes that a reader may still see (NULL: freed at once). */
typedef void (*kl__slab_retire_fn)(void *ctx, void *p, size_t bytes);

typedef struct kl__slab {
    uint8_t **chunks;   /* by index; NULL for a released big chunk; the word
                           before the first holds the capacity */
    uint32_t nchunks, capchunks;
    uint32_t nsmall;    /* shared chunks made so far (sets the next one's size) */
    uint32_t cur;       /* the shared chunk being carved (valid if cur_units) */
    uint32_t cur_used, cur_units;
    uint32_t *spare;    /* indices of released big chunks, for reuse */
    uint32_t nspare, capspare;
    uint32_t heads[SLAB_SMALL + 1]; /* free lists by size in units: id + 1, 0 = empty */
    kl__slab_retire_fn retire;
    void *retire_ctx;
} kl__slab;

static inline size_t kl__slab_units(size_t bytes) { return (bytes + SLAB_UNIT - 1) / SLAB_UNIT; }

static inline void *kl__slab_ptr(const kl__slab *s, uint32_t id)
{
    return s->chunks[id >> SLAB_OFF_BITS] + (size_t)(id & ((1u << SLAB_OFF_BITS) - 1)) * SLAB_UNIT;
}

/* Room for `units` units: the address, and its id in *id.  NULL when memory
 * (or the id space) ran out. */
void *kl__slab_alloc(kl__slab *s, size_t units, uint32_t *id);
/* Give back what kl__slab_alloc returned for (id, units). */
void kl__slab_free(kl__slab *s, uint32_t id, size_t units);
/* Release everything (ids become invalid); the slab stays usable and keeps
 * its retire hook. */
void kl__slab_reset(kl__slab *s);

/* The capacity of a chunk table (the word before it). */
static inline size_t kl__slab_chunks_cap(uint8_t *const *chunks)
{
    return (size_t)(uintptr_t)chunks[-1];
}

#endif
