/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fast reads, the inline part (private; how they work: cache_read.c): an
 * optimistic probe of a shard's table without its lock, validated by the
 * shard's sequence number, and the thread's record of its hits.  Used by
 * the lookups of cache_get.c (typed results, inline) and cache_read.c
 * (value bytes).
 */
#ifndef KLEPTO_CACHE_READ_H
#define KLEPTO_CACHE_READ_H

#include "cache/cache_impl.h"
#include "cache/table.h"
#include "cache/tslot.h"

/* One thread's record in a cache with fast reads: written only by its
 * thread, except `seq`, which grace periods read. */
#define READ_BATCH 16 /* promotions a thread notes before applying them */
typedef struct reader {
    uint32_t seq;    /* odd while the thread is inside a fast read */
    uint32_t npend;
    uint64_t hits;   /* hits served by fast reads */
    uint64_t pend[READ_BATCH]; /* slot values of entries hit since */
    uint32_t pend_slot[READ_BATCH]; /* where they were */
    uint8_t pend_shard[READ_BATCH];
} __attribute__((aligned(64))) reader;
_Static_assert(READ_BATCH <= 32, "noted hits are tracked in a 32-bit mask");

/* A thread's fast hits between checks for whether it hits alone. */
#define ALONE_CHECK_MASK ((UINT64_C(1) << 16) - 1)

/* Apply a reader's noted hits (no shard lock held). */
void kl__cache_reader_flush(kl_cache *c, reader *r);
/* The same for the calling thread's record, if it has one. */
void kl__cache_flush_mine(kl_cache *c);
/* For a policy with deferrable hits: leave fast reads (back to exact,
 * locked hits) when r's thread is the only one that hit since its last
 * check. */
void kl__cache_check_alone(kl_cache *c, reader *r);
/* A shard lock was contended (the caller holds it now): after enough such
 * in a short while, a policy with deferrable hits turns fast reads on. */
void kl__cache_contended(kl_cache *c);
/* Hits served by fast reads so far, all threads. */
uint64_t kl__cache_reader_hits(const kl_cache *c);
/* A fast read of a key of any length into val (its bytes replaced), for
 * caches with fast reads on (c->fast_now): 1 served (counted), 0 absent,
 * -1 take the locked path (also for values over 64 KiB). */
int kl__cache_read_bytes(kl_cache *c, const void *key, size_t klen, uint64_t h, kl_buf *val);

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KL_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(KL_TSAN)
#define KL_TSAN 1
#endif

/* The reads of a fast read: what they return may be stale or torn across
 * words, and is used only if the shard's sequence number shows no writer
 * came by.  Relaxed atomic loads; under ThreadSanitizer, which cannot see
 * that the sequence number makes these races harmless, plain loads in
 * functions it does not instrument (the writers and every locked path stay
 * checked, and so do the sequence numbers). */
#ifdef KL_TSAN
#define RELAXED(p) (*(volatile __typeof__(*(p)) *)(p))
#define FAST_READ_ATTRS __attribute__((noinline, no_sanitize("thread")))
#else
#define RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define FAST_READ_ATTRS __attribute__((always_inline))
#endif

/* Entering a fast read: the thread's record goes odd (the grace period's
 * membarrier orders that store), then the shard's sequence number is read.
 * Leaving returns the number read again and puts the record back to even.
 * The read is good when both numbers are equal and even. */
static inline FAST_READ_ATTRS uint32_t fast_enter(reader *r, shard *sh)
{
    __atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELAXED); /* inside: odd */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&sh->lock.seq, __ATOMIC_ACQUIRE);
}

static inline FAST_READ_ATTRS uint32_t fast_leave(reader *r, shard *sh)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint32_t s2 = RELAXED(&sh->lock.seq);
    __atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELEASE); /* outside: even */
    return s2;
}

/* The entry a slot value names, through a chunk table read without the
 * lock (capacity nch); NULL when its chunk is gone. */
static inline FAST_READ_ATTRS uint8_t *fast_entry(uint8_t **chunks, size_t nch, uint64_t x)
{
    uint32_t id = (uint32_t)x - 1;
    uint8_t *ch = (id >> SLAB_OFF_BITS) < nch ? RELAXED(&chunks[id >> SLAB_OFF_BITS]) : NULL;
    return ch ? ch + (size_t)(id & ((1u << SLAB_OFF_BITS) - 1)) * SLAB_UNIT : NULL;
}

/* Whether a hit on entry e changes nothing in the policy. */
static inline FAST_READ_ATTRS bool fast_noop(const kl_cache *c, const uint8_t *e)
{
    return !c->pol ||
           (RELAXED((const uint64_t *)(e + c->hit_word)) & c->hit_mask) == c->hit_mask;
}

static inline FAST_READ_ATTRS uint64_t fast_load(const uint64_t *slot) { return RELAXED(slot); }

/* What a fast read found: a FAST_* code, the value's length, and what
 * its hit needs. */
typedef struct fast_found {
    int found;
    uint32_t vlen;
    uint32_t at; /* the slot */
    uint64_t sv; /* its value */
    bool noop;   /* the hit changes nothing in the policy */
} fast_found;

#define FAST_FOUND 1
#define FAST_ABSENT 0
#define FAST_ROOM (-1)  /* the value needs more than cap words (vlen says how long) */
#define FAST_RETRY (-2) /* a writer interfered */

/* The comparison of a fast probe: a key of nw whole words and `tail`
 * more bytes (ktail, the bits tmask selects of a word). */
typedef struct fast_sought {
    const kl_cache *c;
    uint8_t **chunks;
    size_t nch;
    const uint8_t *key;
    size_t nw, tail;
    uint64_t ktail, tmask;
    uint8_t *e;  /* the entry last compared */
    uint64_t sv; /* its slot value */
} fast_sought;

static inline FAST_READ_ATTRS int fast_match(void *ctx, uint64_t x)
{
    fast_sought *s = ctx;
    uint8_t *e = fast_entry(s->chunks, s->nch, x);
    if (!e)
        return -1;
    s->e = e;
    s->sv = x;
    const entry_hdr *hd = (const entry_hdr *)(e + s->c->hdr_off);
    const uint64_t *k = (const uint64_t *)(e + s->c->data_off);
    if ((RELAXED(&hd->klen_ref) & ~ENTRY_REF) != s->nw * 8 + s->tail)
        return 0;
    for (size_t w = 0; w < s->nw; w++) {
        uint64_t kw;
        memcpy(&kw, s->key + w * 8, 8);
        if (RELAXED(&k[w]) != kw)
            return 0;
    }
    /* the entry's bytes after its key (value, or the chunk's slack) are
     * readable: the last key word is read whole */
    return !s->tail || (RELAXED(&k[s->nw]) & s->tmask) == s->ktail;
}

/* One optimistic probe (between fast_enter and fast_leave) for a key of
 * nw words and `tail` bytes: a FAST_* code; when found, dst (cap words)
 * holds the words from the key's last partial word through the value's
 * end (the value starts at byte `tail`). */
static inline FAST_READ_ATTRS fast_found fast_probe(const kl_cache *c, shard *sh,
                                                    const uint8_t *key, size_t nw, size_t tail,
                                                    uint32_t tag, uint64_t *dst, size_t cap)
{
    fast_found f = {FAST_ABSENT, 0, 0, 0, false};
    uint64_t *slots = RELAXED(&sh->slots);
    if (!slots)
        return f;
    size_t mask = RELAXED(&slots[-1]);
    uint8_t **chunks = RELAXED(&sh->slab.chunks);
    fast_sought s = {c, chunks, chunks ? (size_t)(uintptr_t)RELAXED(&chunks[-1]) : 0, key, nw,
                     tail, 0, 0, NULL, 0};
    if (tail) {
        s.tmask = (UINT64_C(1) << (8 * tail)) - 1;
        if (nw) { /* the key's last 8 bytes, shifted: no byte loop */
            uint64_t last;
            memcpy(&last, key + nw * 8 + tail - 8, 8);
            s.ktail = last >> (64 - 8 * tail);
        } else {
            uint64_t kt = 0;
            memcpy(&kt, key, tail);
            s.ktail = kt;
        }
    }
    size_t at = table_probe(slots, mask, tag, fast_load, fast_match, &s, true);
    if (at >= TABLE_RETRY) {
        f.found = at == TABLE_ABSENT ? FAST_ABSENT : FAST_RETRY;
        return f;
    }
    const entry_hdr *hd = (const entry_hdr *)(s.e + c->hdr_off);
    const uint64_t *v = (const uint64_t *)(s.e + c->data_off) + nw;
    uint32_t vlen = RELAXED(&hd->vlen_dirty) >> 1;
    size_t words = (tail + vlen + 7) / 8;
    f.vlen = vlen;
    if (words > cap) {
        f.found = FAST_ROOM;
        return f;
    }
    /* whole words: a value's last word, and the slack after every chunk,
     * are readable */
    if (cap == 4) { /* room for a typed result: two words, or four */
        dst[0] = RELAXED(&v[0]);
        dst[1] = RELAXED(&v[1]);
        if (words > 2) {
            dst[2] = RELAXED(&v[2]);
            dst[3] = RELAXED(&v[3]);
        }
    } else {
        for (size_t w = 0; w < words; w++)
            dst[w] = RELAXED(&v[w]);
    }
    f.found = FAST_FOUND;
    f.noop = fast_noop(c, s.e);
    f.sv = s.sv;
    f.at = (uint32_t)at;
    return f;
}

/* A validated fast read of a key of nw words and `tail` bytes (hash h) in
 * shard sh: found is FAST_FOUND (dst filled; the hit not yet counted:
 * fast_hit), FAST_ABSENT, FAST_ROOM, or FAST_RETRY when writers kept
 * interfering. */
static inline __attribute__((always_inline)) fast_found
fast_read(const kl_cache *c, reader *r, shard *sh, const void *key, size_t nw, size_t tail,
          uint64_t h, uint64_t *dst, size_t cap)
{
    fast_found f = {FAST_RETRY, 0, 0, 0, false};
    for (int attempt = 0; attempt < 4; attempt++) {
        uint32_t s1 = fast_enter(r, sh);
        if (!(s1 & 1))
            f = fast_probe(c, sh, key, nw, tail, (uint32_t)h, dst, cap);
        if (s1 == fast_leave(r, sh) && !(s1 & 1) && f.found != FAST_RETRY)
            return f;
    }
    f.found = FAST_RETRY;
    return f;
}

/* A hit served by a fast read: counted in the thread's record, and noted
 * for the policy (applied under the lock later) unless f->noop. */
static inline __attribute__((always_inline)) void fast_hit(kl_cache *c, reader *r, shard *sh,
                                                           const fast_found *f)
{
    __atomic_store_n(&r->hits, r->hits + 1, __ATOMIC_RELAXED);
    if (KL_UNLIKELY(!(r->hits & ALONE_CHECK_MASK)) && c->defer_hits)
        kl__cache_check_alone(c, r);
    if (!f->noop) { /* the policy's part, under the lock later */
        uint32_t n = r->npend;
        r->pend[n] = f->sv;
        r->pend_slot[n] = f->at;
        r->pend_shard[n] = (uint8_t)(sh - c->shards);
        r->npend = n + 1;
        if (KL_UNLIKELY(n + 1 == READ_BATCH))
            kl__cache_reader_flush(c, r);
    }
}

#endif
