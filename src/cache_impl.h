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
#include "slab.h"

enum cache_mode { MODE_POLICY, MODE_INF, MODE_NO };

/* An entry, in its shard's slab: policy metadata (first, so the policy's
 * pointers are aligned and its metadata address is the entry's), [expiry
 * ns], header, key bytes, value bytes.  The hash is not kept: the table
 * slot holds 32 bits of it, and eviction recomputes it from the key. */
typedef struct entry entry;
typedef struct entry_hdr {
    uint32_t klen;
    uint32_t vlen_dirty; /* value length << 1 | dirty (not yet in the archive) */
} entry_hdr;

#define ENTRY_MAX_VALUE (UINT32_MAX >> 1)

/* The shard lock: a test-and-test-and-set spin lock that yields the CPU
 * when it spins too long.  Critical sections are a table probe and a copy,
 * so one atomic exchange to lock and a plain store to unlock cost much
 * less than a mutex on the hit path.  Waiting for another thread's
 * computation (single-flight) sleeps on a mutex and condition variable
 * instead. */
typedef struct spinlock {
    int held;
} spinlock;

/* Contended case, out of line (cache.c). */
void kl__cache_spin_slow(spinlock *l);

static inline void spin_lock(spinlock *l)
{
    if (KL_LIKELY(!__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE)))
        return;
    kl__cache_spin_slow(l);
}

static inline void spin_unlock(spinlock *l) { __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE); }
typedef struct shard {
    /* first cache line: everything a hit reads or writes, so a hit moves
     * one line of shard state between cores, not several */
    spinlock lock;
    uint32_t pad_;
    /* Open addressing over one word per slot: the low 32 bits of the
     * key's hash (its home slot and a filter) << 32 | the entry's slab id
     * + 1; 0 is an empty slot. */
    uint64_t *slots;
    size_t mask; /* slots - 1 (slots is a power of two), or 0 when empty */
    void *pstate;
    uint64_t hit;
    size_t count;
    kl_slab slab; /* its first field, the chunk table, ends the first line */
    /* the rest: misses, inserts, evictions */
    size_t bytes;
    size_t sweep_pos;
    struct kl_cache_ticket *flights;
    struct kl_cache_ticket *spare; /* a finished ticket kept for the next miss */
    uint64_t miss, load, evictions, expirations, errors;
    pthread_mutex_t flight_mx;
    pthread_cond_t flight_done;
} __attribute__((aligned(64))) shard;
_Static_assert(offsetof(shard, slab) + sizeof(uint8_t **) <= 64,
               "a hit's shard state fits one cache line");

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

struct kl_cache {
    enum cache_mode mode;
    const kl_policy_ops *pol;
    const char *policy_name;
    size_t maxsize, maxbytes;
    int64_t ttl_ns;
    bool purge, write_back;
    size_t exp_off, hdr_off, data_off; /* entry layout (metadata at 0) */
    unsigned nshards, shard_shift;
    kl_archive *archive;
    kl__cache_keymap akeys; /* to_archive NULL: memory and archive keys agree */
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
static inline size_t entry_klen(const kl_cache *c, entry *e) { return entry_h(c, e)->klen; }
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
    return kl_slab_units(c->data_off + klen + vlen);
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

/* Tell the policy about a hit (lock held); LRU, the default, inline. */
static inline void policy_hit(const kl_cache *c, shard *sh, entry *e)
{
    if (KL_LIKELY(c->pol == &kl_policy_lru))
        kl_lru_touch(sh->pstate, entry_meta(c, e));
    else if (c->pol)
        c->pol->on_hit(sh->pstate, entry_meta(c, e));
}

static inline shard *shard_of(const kl_cache *c, uint64_t h)
{
    return &c->shards[c->shard_shift >= 64 ? 0 : (h >> c->shard_shift)];
}


/* ---- the open-addressing table of one shard ------------------------------------ */

static inline uint32_t slot_tag(uint64_t sv) { return (uint32_t)(sv >> 32); }
static inline uint64_t slot_make(uint64_t h, uint32_t id) { return (h << 32) | ((uint64_t)id + 1); }
static inline entry *slot_entry(const shard *sh, uint64_t sv)
{
    return kl_slab_ptr(&sh->slab, (uint32_t)sv - 1);
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
        if (entry_klen(c, e) == klen && bytes_equal(entry_key(c, e), key, klen))
            return i;
    }
}


/* The slow half of a typed acquire, with the key's hash already computed
 * (cache.c): as kl_cache_acquire_take. */
int kl__cache_acquire_hashed(kl_cache *c, const void *key, size_t klen, uint64_t h,
                             kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket);
/* The same after a probe found the key absent from memory, with the lock
 * of its shard still held (released on return). */
int kl__cache_miss_locked(kl_cache *c, const void *key, size_t klen, uint64_t h,
                          kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket);

#endif
