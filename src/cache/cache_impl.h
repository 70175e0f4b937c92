/*
 * The cache's data structures and hot inline helpers (private): shared by
 * cache.c and by memo.c, whose typed call path probes the table inline
 * (one function from key to result, no call into the cache on a hit).
 * Everything here runs under the shard lock unless said otherwise.
 */
#ifndef KLEPTO_CACHE_IMPL_H
#define KLEPTO_CACHE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#define XXH_INLINE_ALL /* keys are short: an inlined XXH3 beats a library call */
#include <xxhash.h>

#include "internal.h"
#include "klepto/cache.h"
#include "klepto/sys/policy.h"
#include "policy/policies.h"
#include "cache/slab.h"

enum cache_mode { MODE_POLICY, MODE_INF, MODE_NO };

/* An entry, in its shard's slab: policy metadata (first, so the policy's
 * pointers are aligned and its metadata address is the entry's), [expiry
 * ns], header, key bytes, value bytes.  The hash is not kept: the table
 * slot holds 32 bits of it, and eviction recomputes it from the key. */
typedef struct entry entry;
typedef struct entry_hdr {
    uint32_t klen_ref;   /* key length | ENTRY_REF */
    uint32_t vlen_dirty; /* value length << 1 | dirty (not yet in the archive) */
} entry_hdr;

#define ENTRY_MAX_VALUE (UINT32_MAX >> 1)
#define ENTRY_MAX_KEY (UINT32_MAX >> 1)
/* A hit recorded but not yet told to a policy with deferrable hits
 * (sys/policy.h): set by concurrent fast reads, consumed when the entry
 * comes up as the victim. */
#define ENTRY_REF (UINT32_C(1) << 31)
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fast reads test ENTRY_REF as a bit of the header's first 64-bit word (little-endian)"
#endif

/* The shard lock: a test-and-test-and-set spin lock that yields the CPU
 * when it spins too long.  Critical sections are a table probe and a copy,
 * so one atomic exchange to lock and a plain store to unlock cost much
 * less than a mutex on the hit path.  Waiting for another thread's
 * computation (single-flight) sleeps on a mutex and condition variable
 * instead.
 *
 * The lock is also a sequence lock for optimistic readers (cache_read_fast
 * below): spin_lock makes `seq` odd for the whole critical section, so a
 * reader that saw the same even `seq` before and after its reads knew no
 * writer changed the table or an entry meanwhile.  spin_lock_quiet takes
 * the lock without that, for sections that change only what readers never
 * read (policy metadata, statistics). */
typedef struct spinlock {
    int held;
    uint32_t seq; /* odd while a writer changes what readers see */
} spinlock;

/* Contended case, out of line (cache.c). */
void kl__cache_spin_slow(spinlock *l);

static inline void spin_lock_quiet(spinlock *l)
{
    if (KL_LIKELY(!__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE)))
        return;
    kl__cache_spin_slow(l);
}

static inline void spin_lock(spinlock *l)
{
    spin_lock_quiet(l);
    __atomic_store_n(&l->seq, l->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE); /* odd before any change */
}

static inline void spin_unlock(spinlock *l)
{
    if (l->seq & 1)
        __atomic_store_n(&l->seq, l->seq + 1, __ATOMIC_RELEASE); /* after every change */
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

typedef struct shard {
    /* first cache line: everything a hit reads or writes, so a hit moves
     * one line of shard state between cores, not several */
    spinlock lock; /* first: the lock's slow path finds its shard from it */
    /* Open addressing over one word per slot: the low 32 bits of the
     * key's hash (its home slot and a filter) << 32 | the entry's slab id
     * + 1; 0 is an empty slot.  The word before slots[0] holds the mask,
     * so an optimistic reader gets array and size in one load. */
    uint64_t *slots;
    size_t mask; /* slots - 1 (slots is a power of two), or 0 when empty */
    void *pstate;
    uint64_t hit;
    size_t count;
    kl__slab slab; /* its first field, the chunk table, ends the first line */
    /* the rest: misses, inserts, evictions */
    size_t bytes;
    size_t sweep_pos;
    struct kl_cache_ticket *flights;
    struct kl_cache_ticket *spare; /* a finished ticket kept for the next miss */
    uint64_t miss, load, evictions, expirations, errors;
    pthread_mutex_t flight_mx;
    pthread_cond_t flight_done;
    /* memory fast readers may still see, freed after a grace period
     * (cache_read.c) */
    void **retired;
    size_t nretired, capretired, retired_bytes;
    struct kl_cache *owner;
} __attribute__((aligned(64))) shard;
_Static_assert(offsetof(shard, slab) + sizeof(uint8_t **) <= 64,
               "a hit's shard state fits one cache line");
_Static_assert(offsetof(shard, lock) == 0, "the lock's slow path finds its shard from it");

/* How memory keys map to archive keys, for a cache whose owner keys memory
 * differently from the archive (the typed memo keys memory by its raw
 * argument bits and the archive by the canonical key).  to_archive writes
 * the archive key of a memory key into buf (cap bytes; *len receives the
 * length, and when it exceeds cap nothing useful was written), returning 0
 * or a negative error.  from_archive writes the memory key of an archive
 * key into out: 0, 1 when the key has no memory form (it is skipped), or a
 * negative error.  Both may run under a shard lock: they must not call
 * back into the cache. */
typedef struct kl__cache_keymap {
    int (*to_archive)(void *ctx, const uint8_t *key, size_t klen, uint8_t *buf, size_t cap,
                      size_t *len);
    int (*from_archive)(void *ctx, const uint8_t *akey, size_t aklen, kl_buf *out);
    void *ctx;
} kl__cache_keymap;

/* Set (or with NULL clear) the key translation.  Not concurrently with
 * anything else on the cache; entries already in memory must be in the
 * new form (call it on an empty cache). */
void kl__cache_set_keymap(kl_cache *c, const kl__cache_keymap *km);

/* One thread's record in a cache with fast reads (cache_read.c): written
 * only by its thread, except `seq`, which grace periods read. */
#define READ_BATCH 16 /* promotions a thread notes before applying them */
typedef struct reader {
    uint32_t seq;    /* odd while the thread is inside a fast read */
    uint32_t npend;
    uint64_t hits;   /* hits served by fast reads */
    uint64_t pend[READ_BATCH]; /* slot values of entries hit since */
    uint32_t pend_slot[READ_BATCH]; /* where they were */
    uint8_t pend_shard[READ_BATCH];
} __attribute__((aligned(64))) reader;

struct kl_cache {
    enum cache_mode mode;
    const kl_policy_ops *pol;
    const char *policy_name;
    size_t maxsize, maxbytes;
    int64_t ttl_ns;
    bool purge, write_back;
    size_t exp_off, hdr_off, data_off; /* entry layout (metadata at 0) */
    unsigned nshards, shard_shift; /* shard = hash >> shard_shift & shard_mask */
    uint64_t shard_mask;
    kl_archive *archive;
    kl__cache_keymap akeys; /* to_archive NULL: memory and archive keys agree */
    /* Fast reads (cache_read.c): one record per thread number (tslot.h),
     * NULL when off.  hits_zero: the readers' hits when last zeroed. */
    reader *readers;
    uint64_t hits_zero;
    /* Whether a fast read's hit changes nothing: the 64-bit word at byte
     * hit_word of the entry has every bit of hit_mask.  For a policy with
     * hit_saturation (sys/policy.h), its metadata word; for one with
     * deferrable hits, the header's ENTRY_REF. */
    bool hit_sat, defer_hits;
    uint32_t hit_word;
    uint64_t hit_mask;
    /* Whether typed hits try fast reads now (atomic): always for "inf" and
     * saturating policies; for deferrable ones only while threads contend
     * for the shard locks (kl__cache_contended), until one thread is seen
     * hitting alone (kl__cache_check_alone). */
    bool fast_now;
    /* the last check for a lone thread (atomic): whose, and the hits */
    int alone_who;
    uint64_t alone_total, alone_mine;
    /* contended shard-lock acquisitions since contended_t0 (atomic) */
    uint32_t contended;
    int64_t contended_t0;
    shard *shards;
    /* The limits are global: shards fill unevenly, so a shard may hold
     * more than its share while the whole stays within maxsize/maxbytes. */
    size_t total_count, total_bytes; /* atomic */
    size_t limit_bytes;              /* maxbytes, or SIZE_MAX for none */
};

/* ---- small helpers ---------------------------------------------------------- */

static inline uint64_t key_hash(const void *key, size_t klen) { return XXH3_64bits(key, klen); }

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void *entry_meta(const kl_cache *c, entry *e)
{
    (void)c;
    return e;
}
static inline entry *meta_entry(const kl_cache *c, void *meta)
{
    (void)c;
    return meta;
}
static inline entry_hdr *entry_h(const kl_cache *c, entry *e)
{
    return (entry_hdr *)((uint8_t *)e + c->hdr_off);
}
static inline size_t entry_klen(const kl_cache *c, entry *e)
{
    return entry_h(c, e)->klen_ref & ~ENTRY_REF;
}
/* entry_klen(c, e) == klen, with one comparison when the entry carries no
 * deferred hit */
static inline bool entry_klen_is(const kl_cache *c, entry *e, size_t klen)
{
    uint32_t x = entry_h(c, e)->klen_ref;
    return x == klen || (KL_UNLIKELY(x & ENTRY_REF) && (x & ~ENTRY_REF) == klen);
}
static inline uint8_t *entry_key(const kl_cache *c, entry *e) { return (uint8_t *)e + c->data_off; }
static inline uint8_t *entry_val(const kl_cache *c, entry *e)
{
    return entry_key(c, e) + entry_klen(c, e);
}
static inline size_t entry_vlen(const kl_cache *c, entry *e) { return entry_h(c, e)->vlen_dirty >> 1; }
static inline bool entry_dirty(const kl_cache *c, entry *e) { return entry_h(c, e)->vlen_dirty & 1u; }
static inline void entry_set_dirty(const kl_cache *c, entry *e, bool d)
{
    entry_hdr *x = entry_h(c, e);
    x->vlen_dirty = (x->vlen_dirty & ~1u) | (d ? 1u : 0u);
}
static inline int64_t *entry_expiry(const kl_cache *c, entry *e)
{
    return (int64_t *)((uint8_t *)e + c->exp_off);
}
/* slab units of an entry */
static inline size_t entry_units_for(const kl_cache *c, size_t klen, size_t vlen)
{
    return kl__slab_units(c->data_off + klen + vlen);
}
static inline size_t entry_units(const kl_cache *c, entry *e)
{
    return entry_units_for(c, entry_klen(c, e), entry_vlen(c, e));
}
/* bytes charged to the budget: the entry's slab units and a table slot at
 * the table's lowest load */
static inline size_t entry_bytes(const kl_cache *c, entry *e)
{
    return entry_units(c, e) * SLAB_UNIT + 2 * sizeof(uint64_t);
}
static inline bool entry_expired(const kl_cache *c, entry *e, int64_t now)
{
    return c->ttl_ns > 0 && *entry_expiry(c, e) <= now;
}

/* Tell the policy about a hit (lock held); LRU, the default, inline.  A
 * deferred hit's mark stays: it was made while threads shared the cache,
 * and keeping it spares those threads marking the entry again when they
 * next contend (it costs the entry one second chance at most). */
static inline void policy_hit(const kl_cache *c, shard *sh, entry *e)
{
    if (KL_LIKELY(c->pol == &kl__policy_lru))
        kl__lru_touch(sh->pstate, entry_meta(c, e));
    else if (c->pol)
        c->pol->on_hit(sh->pstate, entry_meta(c, e));
}

static inline shard *shard_of(const kl_cache *c, uint64_t h)
{
    return &c->shards[(h >> c->shard_shift) & c->shard_mask];
}


/* ---- the open-addressing table of one shard ------------------------------------ */

static inline uint32_t slot_tag(uint64_t sv) { return (uint32_t)(sv >> 32); }
static inline uint64_t slot_make(uint64_t h, uint32_t id) { return (h << 32) | ((uint64_t)id + 1); }
static inline entry *slot_entry(const shard *sh, uint64_t sv)
{
    return kl__slab_ptr(&sh->slab, (uint32_t)sv - 1);
}
static inline uint32_t slot_id(uint64_t sv) { return (uint32_t)sv - 1; }
static inline size_t slot_home(const shard *sh, uint64_t sv) { return slot_tag(sv) & sh->mask; }

/* Key comparison without a library call for the short keys of the hot path. */
static inline bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8); /* the tail, overlapping the last word */
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static inline __attribute__((always_inline)) size_t
table_find_slot(const kl_cache *c, shard *sh, const void *key, size_t klen, uint64_t h)
{
    if (!sh->slots)
        return SIZE_MAX;
    uint32_t tag = (uint32_t)h;
    for (size_t i = tag & sh->mask;; i = (i + 1) & sh->mask) {
        uint64_t sv = sh->slots[i];
        if (!sv)
            return SIZE_MAX;
        if (slot_tag(sv) != tag)
            continue;
        entry *e = slot_entry(sh, sv);
        if (entry_klen_is(c, e, klen) && bytes_equal(entry_key(c, e), key, klen))
            return i;
    }
}


/* A double stored as CBOR float64 (0xfb, big-endian bits) decoded into
 * *out: 1, else 0 (the hit paths' shortcut for double results). */
static inline int take_cbor_f64(void *out, const uint8_t *v, size_t n)
{
    if (KL_LIKELY(n == 9 && v[0] == 0xfb)) {
        uint64_t b;
        memcpy(&b, v + 1, 8);
        b = __builtin_bswap64(b);
        memcpy(out, &b, 8);
        return 1;
    }
    return 0;
}

/* ---- fast reads (cache_read.c) ----------------------------------------------------- */

_Static_assert(READ_BATCH <= 32, "noted hits are tracked in a 32-bit mask");

/* Turn fast reads on (before the cache is shared): 0, or KL_ENOMEM.  Stays
 * off, returning 0, where they cannot work (no membarrier, "no" caches,
 * expiring entries). */
int kl__cache_enable_fast_reads(kl_cache *c);
/* Apply a reader's noted hits (no shard lock held). */
void kl__cache_reader_flush(kl_cache *c, reader *r);
/* The same for the calling thread's record, if it has one. */
void kl__cache_flush_mine(kl_cache *c);
/* A thread's fast hits between checks for whether it hits alone. */
#define ALONE_CHECK_MASK ((UINT64_C(1) << 16) - 1)
/* For a policy with deferrable hits: leave fast reads (back to exact,
 * locked hits) when r's thread is the only one that hit since its last
 * check. */
void kl__cache_check_alone(kl_cache *c, reader *r);
/* A shard lock was contended (the caller holds it now): after enough such
 * in a short while, a policy with deferrable hits turns fast reads on. */
void kl__cache_contended(kl_cache *c);
/* Hits served by fast reads so far, all threads. */
uint64_t kl__cache_reader_hits(const kl_cache *c);
/* Hand memory readers may still see to the shard (lock held): freed after
 * a grace period, at the latest when 64 pieces or 1 MiB have piled up. */
void kl__shard_retire(kl_cache *c, shard *sh, void *p, size_t bytes);
/* Free the shard's retired memory now, after a grace period (lock held). */
void kl__shard_free_retired(kl_cache *c, shard *sh);

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
 * that the sequence number makes these races harmless, plain loads in a
 * function it does not instrument (the writers and every locked path stay
 * checked, and so do the sequence numbers). */
#ifdef KL_TSAN
#define RELAXED(p) (*(volatile __typeof__(*(p)) *)(p))
#define FAST_READ_ATTRS __attribute__((noinline, no_sanitize("thread")))
#else
#define RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define FAST_READ_ATTRS __attribute__((always_inline))
#endif

/* The pieces every fast read shares.  Entering: the thread's record goes
 * odd (the grace period's membarrier orders that store), then the shard's
 * sequence number is read; leaving returns the number read again and puts
 * the record back to even.  The read is good when both numbers are equal
 * and even. */
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

/* A hit served by a fast read: counted in the thread's record, and noted
 * for the policy (applied under the lock later) unless noop. */
static inline __attribute__((always_inline)) void
fast_hit(kl_cache *c, reader *r, shard *sh, uint64_t sv, uint32_t at, bool noop)
{
    __atomic_store_n(&r->hits, r->hits + 1, __ATOMIC_RELAXED);
    if (KL_UNLIKELY(!(r->hits & ALONE_CHECK_MASK)) && c->defer_hits)
        kl__cache_check_alone(c, r);
    if (!noop) { /* the policy's part, under the lock later */
        uint32_t n = r->npend;
        r->pend[n] = sv;
        r->pend_slot[n] = at;
        r->pend_shard[n] = (uint8_t)(sh - c->shards);
        r->npend = n + 1;
        if (KL_UNLIKELY(n + 1 == READ_BATCH))
            kl__cache_reader_flush(c, r);
    }
}

/* Whether a hit on entry e changes nothing in the policy. */
static inline FAST_READ_ATTRS bool fast_noop(const kl_cache *c, const uint8_t *e)
{
    return !c->pol ||
           (RELAXED((const uint64_t *)(e + c->hit_word)) & c->hit_mask) == c->hit_mask;
}

/* Look up a key of `nwords` 64-bit words without the lock.  1: served
 * (decoded by take into *out, counted, its promotion noted); 0: absent;
 * -1: take the locked path (a writer kept interfering, a big or refused
 * value, a released chunk).  r is the calling thread's
 * record. */
static inline FAST_READ_ATTRS int
cache_read_fast(kl_cache *c, reader *r, const uint64_t *key, size_t nwords, uint64_t h,
                kl_cache_take_fn take, kl_cache_take_fn take_f64, void *out)
{
    shard *sh = shard_of(c, h);
    uint32_t tag = (uint32_t)h;
    for (int attempt = 0; attempt < 4; attempt++) {
        uint32_t s1 = fast_enter(r, sh);
        int found = 0;
        uint64_t sv = 0, val[4];
        uint32_t vlen = 0, at = 0;
        bool noop = true;
        uint64_t *slots = RELAXED(&sh->slots);
        if (s1 & 1) {
            found = -2; /* a writer is in: try again */
        } else if (slots) {
            size_t mask = RELAXED(&slots[-1]);
            uint8_t **chunks = RELAXED(&sh->slab.chunks);
            size_t nch = chunks ? (size_t)(uintptr_t)RELAXED(&chunks[-1]) : 0;
            /* a table is never full, but a reader racing a writer could
             * in theory chase the empty slot: a budget of one lap */
            size_t i = tag & mask, budget = mask;
            for (;; i = (i + 1) & mask) {
                uint64_t x = RELAXED(&slots[i]);
                if (!x)
                    break;
                if ((uint32_t)(x >> 32) == tag) {
                    uint8_t *e = fast_entry(chunks, nch, x);
                    if (!e) {
                        found = -2;
                        break;
                    }
                    entry_hdr *hd = (entry_hdr *)(e + c->hdr_off);
                    const uint64_t *k = (const uint64_t *)(e + c->data_off);
                    size_t w = 0;
                    if ((RELAXED(&hd->klen_ref) & ~ENTRY_REF) == nwords * 8 &&
                        RELAXED(&k[0]) == key[0])
                        for (w = 1; w < nwords && RELAXED(&k[w]) == key[w];)
                            w++;
                    if (w == nwords) {
                        vlen = RELAXED(&hd->vlen_dirty) >> 1;
                        if (vlen > sizeof val) {
                            found = -1;
                            break;
                        }
                        /* whole words: a value's last word, and the slack
                         * after every chunk, are readable */
                        val[0] = RELAXED(&k[nwords]);
                        val[1] = RELAXED(&k[nwords + 1]);
                        if (vlen > 16) {
                            val[2] = RELAXED(&k[nwords + 2]);
                            val[3] = RELAXED(&k[nwords + 3]);
                        }
                        noop = fast_noop(c, e);
                        sv = x;
                        at = (uint32_t)i;
                        found = 1;
                        break;
                    }
                }
                if (!budget--) {
                    found = -2;
                    break;
                }
            }
        }
        if (s1 != fast_leave(r, sh) || found == -2)
            continue;
        if (found <= 0)
            return found;
        const uint8_t *vb = (const uint8_t *)val;
        if (!(take == take_f64 && take_cbor_f64(out, vb, vlen)) && take(out, vb, vlen)) {
            return -1; /* the locked path counts and refuses it */
        }
        fast_hit(c, r, sh, sv, at, noop);
        return 1;
    }
    return -1;
}

/* A fast read of a key of any length into val (its bytes replaced), for
 * caches with fast reads on (c->fast_now): 1 served (counted), 0 absent,
 * -1 take the locked path (also for values over 64 KiB). */
int kl__cache_read_bytes(kl_cache *c, const void *key, size_t klen, uint64_t h, kl_buf *val);

/* The slow half of a typed acquire, with the key's hash already computed
 * (cache.c): as kl_cache_acquire_take. */
int kl__cache_acquire_hashed(kl_cache *c, const void *key, size_t klen, uint64_t h,
                             kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket);
/* The same after a probe found the key absent from memory, with the lock
 * of its shard still held (released on return). */
int kl__cache_miss_locked(kl_cache *c, const void *key, size_t klen, uint64_t h,
                          kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket);

#endif
