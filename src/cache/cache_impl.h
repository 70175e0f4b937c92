/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cache's data structures and the small inline helpers its files share
 * (private to src/cache/; the memo sees the cache through cache_memo.h).
 * Everything here runs under the shard lock unless said otherwise.
 *
 * The files, by job:
 *   cache.c        creation and release, the archive boundary, put/forget,
 *                  whole-cache operations and statistics
 *   cache_store.c  insertion and eviction (limits, purge, ttl sweeps)
 *   cache_get.c    lookups: the locked get, single-flight acquire (tickets),
 *                  the typed acquire of the memo
 *   cache_read.c   fast reads (lock-free hits), grace periods, noted hits
 *   cache_read.h   the inline part of fast reads
 *   table.h        the open-addressing table of a shard and its probe
 *   slab.c/.h      the per-shard entry allocator
 *   tslot.c/.h     per-thread state: reader numbers, the scratch buffer
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

#include "cache/cache_memo.h"
#include "cache/slab.h"
#include "internal.h"
#include "klepto/cache.h"
#include "klepto/sys/policy.h"
#include "policy/policies.h"

enum cache_mode { MODE_POLICY, MODE_INF, MODE_NO };

/* What a hit tells the policy, decided when the cache is made. */
enum hit_action {
    HIT_NOTHING,  /* no policy ("inf", "no") */
    HIT_LRU,      /* the default policy: kl__lru_touch, inline */
    HIT_ON_HIT,   /* the policy's on_hit */
};

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
 * The lock is also a sequence lock for optimistic readers (cache_read.h):
 * spin_lock makes `seq` odd for the whole critical section, so a reader
 * that saw the same even `seq` before and after its reads knew no writer
 * changed the table or an entry meanwhile.  spin_lock_quiet takes the lock
 * without that, for sections that change only what readers never read
 * (policy metadata, statistics). */
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
    /* the open-addressing table (table.h): the word before slots[0] holds
     * the mask, so an optimistic reader gets array and size in one load */
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
    /* the run time of misses computed here while the cache has an archive
     * (kl_cache_fulfil): their sum in ns and how many, for the time saved
     * (kl__cache_miss_cost) */
    uint64_t miss_ns, miss_timed;
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

struct kl_cache {
    enum cache_mode mode;
    enum hit_action on_hit;
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
    struct reader *readers;
    uint64_t hits_zero;
    /* Whether a fast read's hit changes nothing: the 64-bit word at byte
     * hit_word of the entry has every bit of hit_mask.  For a policy with
     * hit_saturation (sys/policy.h), its metadata word; for one with
     * deferrable hits, the header's ENTRY_REF. */
    bool hit_sat, defer_hits;
    uint32_t hit_word;
    uint64_t hit_mask;
    /* Whether hits try fast reads now (atomic): always for "inf" and
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
    /* every live cache is on one list, for fork() (cache_fork.c) */
    struct kl_cache *fork_prev, *fork_next;
    /* in a child: how many forks made it, and the statistics at the last
     * (for the memo's run statistics: kl__cache_forked) */
    unsigned forks;
    kl_cache_stats at_fork;
    uint64_t at_fork_miss_ns, at_fork_miss_timed;
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

static inline shard *shard_of(const kl_cache *c, uint64_t h)
{
    return &c->shards[(h >> c->shard_shift) & c->shard_mask];
}

/* Count one event in a shard's statistics (lock not held). */
static inline void shard_count(shard *sh, uint64_t *field)
{
    spin_lock_quiet(&sh->lock); /* statistics only: fast readers go on */
    (*field)++;
    spin_unlock(&sh->lock);
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
    if (KL_LIKELY(c->on_hit == HIT_LRU))
        kl__lru_touch(sh->pstate, entry_meta(c, e));
    else if (c->on_hit == HIT_ON_HIT)
        c->pol->on_hit(sh->pstate, entry_meta(c, e));
}

/* ---- across the cache's files ---------------------------------------------------- */

/* The archive boundary (cache.c): the archive's get/put/del of a memory
 * key, translated by c->akeys. */
/* With a ttl, get also sets *age (when not NULL) to how long ago the entry
 * was stored (0: unknown) and counts an entry older than the ttl as an
 * expiration and KL_ENOTFOUND. */
int kl__cache_archive_get(kl_cache *c, const void *key, size_t klen, kl_buf *val, int64_t *age);
int kl__cache_archive_put(kl_cache *c, const void *key, size_t klen, const void *val,
                          size_t vlen);
int kl__cache_archive_del(kl_cache *c, const void *key, size_t klen);

/* Insertion and removal (cache_store.c).  memory_put: put an entry into
 * memory (no archive write; `dirty` marks it as not yet in the archive),
 * evicting as needed; with a ttl, an entry stored age_ns ago (loaded from
 * the archive) expires that much sooner.  store: write through to the
 * archive (unless write_back) and put into memory. */
int kl__cache_memory_put(kl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                         size_t vlen, bool dirty, int64_t age_ns);
int kl__cache_store(kl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                    size_t vlen);
/* Unlink an entry from table and policy, account for it and free it (lock
 * held; slot: its table slot, or SIZE_MAX to look it up). */
void kl__shard_drop(kl_cache *c, shard *sh, entry *e, size_t slot);
/* Free every entry of a shard at once (lock held or the cache unshared). */
void kl__shard_free_entries(kl_cache *c, shard *sh);
/* Write every dirty entry of a shard to the archive (lock held). */
int kl__shard_write_dirty(kl_cache *c, shard *sh);

/* Memory fast readers may still see (cache_read.c).  retire: hand it to
 * the shard (lock held), freed after a grace period, at the latest when 64
 * pieces or 1 MiB have piled up; free_retired: free the shard's retired
 * memory now, after a grace period (lock held). */
void kl__shard_retire(kl_cache *c, shard *sh, void *p, size_t bytes);
void kl__shard_free_retired(kl_cache *c, shard *sh);

/* Put a new cache on (take a cache about to be freed off) the list whose
 * locks fork() takes, so that a child inherits every cache unlocked and
 * whole (cache_fork.c). */
void kl__cache_fork_track(kl_cache *c);
/* The statistics and miss cost summed with the shard locks already held
 * (the fork handler's). */
void kl__cache_stats_sum_locked(const kl_cache *c, kl_cache_stats *out, uint64_t *miss_ns,
                                uint64_t *miss_timed);
void kl__cache_fork_untrack(kl_cache *c);

#endif
