/*
 * The concurrent in-memory cache (cache.h).
 *
 * Hand-written because it is the hot path of every memoized call and no
 * packaged library offers a sharded table with pluggable, intrusive
 * eviction policies and single-flight misses.
 *
 * Layout: the table is split into shards (power of two, chosen by the top
 * bits of the key's XXH3-64 hash); each shard has a lock, an
 * open-addressing table of entry pointers (linear probing, backward-shift
 * deletion, load ≤ 3/4), its own policy instance with its share of the
 * limits, its statistics, and the list of keys being computed right now
 * ("flights").  An entry is one allocation: header, policy metadata,
 * optional expiry time, key bytes, value bytes.
 *
 * Archive I/O happens outside shard locks, except writing back a victim
 * that is not yet in the archive (write_back mode, or after a failed
 * write-through): that happens under the lock so an entry can never be
 * dropped before it is stored.
 */
#define _GNU_SOURCE
#include "klepto/cache.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "cache/cache_impl.h"
#include "policy/hints.h"


struct kl_cache_ticket {
    kl_cache *cache;
    struct shard *shard;
    struct kl_cache_ticket *next;
    uint64_t hash;
    size_t klen;
    uint8_t *key; /* the ticket's own bytes, after it */
    size_t keycap;
    uint8_t *val; /* a copy of the result for waiters */
    size_t vlen;
    int state;    /* 0 computing, 1 done, < 0 abandoned with this error */
    int refs;     /* the owner + waiters */
};

void kl__cache_spin_slow(spinlock *l)
{
    for (unsigned spins = 0;; spins++) {
        while (__atomic_load_n(&l->held, __ATOMIC_RELAXED)) {
            if (spins++ < 128) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                sched_yield();
            }
        }
        if (!__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
            break;
    }
    kl_cache *c = ((shard *)l)->owner;
    if (c->defer_hits)
        kl__cache_contended(c);
}


static inline void account(kl_cache *c, shard *sh, entry *e, int sign)
{
    size_t b = entry_bytes(c, e);
    if (sign > 0) {
        sh->bytes += b;
        __atomic_add_fetch(&c->total_count, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&c->total_bytes, b, __ATOMIC_RELAXED);
    } else {
        sh->bytes -= b;
        __atomic_sub_fetch(&c->total_count, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&c->total_bytes, b, __ATOMIC_RELAXED);
    }
}

static inline bool cache_over(kl_cache *c)
{
    return __atomic_load_n(&c->total_count, __ATOMIC_RELAXED) > c->maxsize ||
           __atomic_load_n(&c->total_bytes, __ATOMIC_RELAXED) > c->limit_bytes;
}

/* Tables fill to 7/8: the 32-bit tags keep probes within the slot array. */
static int table_grow(kl_cache *c, shard *sh)
{
    size_t n = sh->slots ? (sh->mask + 1) * 2 : 8;
    uint64_t *ns = calloc(n + 1, sizeof *ns); /* the mask first, for fast readers */
    if (!ns)
        return kl_seterr(KL_ENOMEM, "cache: out of memory growing a table to %zu slots", n);
    ns[0] = n - 1;
    ns++;
    if (sh->slots) {
        for (size_t i = 0; i <= sh->mask; i++) {
            uint64_t sv = sh->slots[i];
            if (!sv)
                continue;
            size_t j = slot_tag(sv) & (n - 1);
            while (ns[j])
                j = (j + 1) & (n - 1);
            ns[j] = sv;
        }
        kl__shard_retire(c, sh, sh->slots - 1, (sh->mask + 2) * sizeof *ns);
    }
    __atomic_store_n(&sh->slots, ns, __ATOMIC_RELEASE);
    sh->mask = n - 1;
    kl__shard_free_retired(c, sh); /* the old array, now rather than later */
    return 0;
}

/* Make room for one more slot (may grow the table). */
static inline int table_reserve(kl_cache *c, shard *sh)
{
    if (!sh->slots || (sh->count + 1) * 8 > (sh->mask + 1) * 7)
        return table_grow(c, sh);
    return 0;
}

/* Insert an entry known to be absent (room reserved). */
static void table_insert(shard *sh, uint64_t h, uint32_t id)
{
    size_t i = (uint32_t)h & sh->mask;
    while (sh->slots[i])
        i = (i + 1) & sh->mask;
    sh->slots[i] = slot_make(h, id);
    sh->count++;
}

/* Remove the entry in slot i, shifting later members of its probe run back
 * so lookups never need tombstones. */
static void table_remove_slot(shard *sh, size_t i)
{
    size_t mask = sh->mask;
    sh->slots[i] = 0;
    sh->count--;
    for (size_t j = (i + 1) & mask; sh->slots[j]; j = (j + 1) & mask) {
        size_t home = slot_home(sh, sh->slots[j]);
        /* move slots[j] into the hole if its home is not in (i, j] */
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            sh->slots[i] = sh->slots[j];
            sh->slots[j] = 0;
            i = j;
        }
    }
}

/* The slot of an entry known to be in the table (its hash recomputed). */
static size_t table_find_entry(const kl_cache *c, shard *sh, entry *e)
{
    uint32_t tag = (uint32_t)key_hash(entry_key(c, e), entry_klen(c, e));
    for (size_t i = tag & sh->mask;; i = (i + 1) & sh->mask) {
        uint64_t sv = sh->slots[i];
        if (slot_tag(sv) == tag && slot_entry(sh, sv) == e)
            return i;
    }
}

/* Release an entry's memory (lock held). */
static inline void entry_free(const kl_cache *c, shard *sh, entry *e, uint32_t id)
{
    kl__slab_free(&sh->slab, id, entry_units(c, e));
}

/* Unlink an entry from table and policy, account for it and free it
 * (slot: its table slot, or SIZE_MAX to look it up). */
static void shard_drop(kl_cache *c, shard *sh, entry *e, size_t slot)
{
    if (slot == SIZE_MAX)
        slot = table_find_entry(c, sh, e);
    uint32_t id = slot_id(sh->slots[slot]);
    table_remove_slot(sh, slot);
    if (c->pol)
        c->pol->on_remove(sh->pstate, entry_meta(c, e));
    account(c, sh, e, -1);
    entry_free(c, sh, e, id);
}

/* ---- creation ------------------------------------------------------------------ */

/* The slab's retire hook: memory fast readers may still see. */
static void slab_retire(void *ctx, void *p, size_t bytes)
{
    shard *sh = ctx;
    kl__shard_retire(sh->owner, sh, p, bytes);
}

static unsigned auto_shards(size_t maxsize)
{
    /* Small caches get one shard so that their policy is exact (klepto's
     * semantics); large ones get up to 64 for concurrency, keeping at
     * least 64 entries per shard. */
    size_t per = maxsize / 64;
    unsigned n = 1;
    while (n < 64 && (size_t)n * 2 <= per)
        n *= 2;
    return n;
}

int kl_cache_new(kl_cache **out, const kl_cache_opts *opts)
{
    kl_cache_opts def = KL_CACHE_OPTS_INIT;
    if (!opts)
        opts = &def;
    int vrc = kl__opts_version_check(opts->version, KL_CACHE_OPTS_VERSION, "cache");
    if (vrc)
        return vrc;
    if (!(opts->ttl > 0))
        return kl_seterr(KL_EINVAL,
                         "cache: ttl %g is not a positive number of seconds (use "
                         "KL_CACHE_NO_TTL for entries that never expire)",
                         opts->ttl);
    if (opts->maxsize > KL_CACHE_MAXSIZE_LIMIT && opts->maxsize != KL_CACHE_UNBOUNDED)
        return kl_seterr(KL_EINVAL,
                         "cache: maxsize %zu is absurd (at most 2^40, or KL_CACHE_UNBOUNDED)",
                         opts->maxsize);
    if (opts->shards & (opts->shards - 1))
        return kl_seterr(KL_EINVAL, "cache: shards=%u is not a power of two", opts->shards);
    if (opts->shards > 1024)
        return kl_seterr(KL_EINVAL, "cache: shards=%u is more than 1024", opts->shards);

    kl_cache *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "cache: out of memory");
    const char *name = opts->policy ? opts->policy : "lru";
    kl_policy_hints hints = {0}; /* the policy's lock-free hints, if any */
    c->maxsize = opts->maxsize;
    c->maxbytes = opts->maxbytes;
    c->purge = opts->purge;
    c->write_back = opts->write_back;
    /* beyond ~30 years a ttl is as good as none */
    c->ttl_ns = opts->ttl < 1e9 ? (int64_t)(opts->ttl * 1e9) : 0;
    if (opts->ttl < 1e9 && c->ttl_ns == 0)
        c->ttl_ns = 1;
    c->limit_bytes = opts->maxbytes ? opts->maxbytes : SIZE_MAX;

    if (strcmp(name, "no") == 0 || opts->maxsize == 0) {
        c->mode = MODE_NO;
        c->policy_name = "no";
        c->maxsize = 0;
    } else if (strcmp(name, "inf") == 0 ||
               (opts->maxsize == KL_CACHE_UNBOUNDED && opts->maxbytes == 0)) {
        c->mode = MODE_INF;
        c->policy_name = "inf";
        c->maxsize = KL_CACHE_UNBOUNDED;
    } else {
        c->pol = kl_policy_find(name);
        if (!c->pol) {
            free(c);
            return kl_seterr(KL_EINVAL, "cache: unknown policy '%s'", name);
        }
        c->mode = MODE_POLICY;
        c->policy_name = c->pol->name;
        kl__policy_hints_of(c->pol, &hints);
        if (hints.hit_saturation) {
            c->hit_sat = true;
            c->hit_word = hints.hit_word;
            c->hit_mask = hints.hit_mask;
        }
    }

    size_t meta = c->pol ? (c->pol->meta_size + 7) & ~(size_t)7 : 0;
    c->exp_off = meta;
    c->hdr_off = c->exp_off + (c->ttl_ns > 0 ? sizeof(int64_t) : 0);
    c->data_off = c->hdr_off + sizeof(entry_hdr);
    if (c->pol && !c->hit_sat && hints.deferrable_hits) {
        c->defer_hits = true;
        c->hit_word = (uint32_t)c->hdr_off;
        c->hit_mask = ENTRY_REF;
    }
    if (c->maxbytes && c->maxbytes < c->data_off + 64) {
        free(c);
        return kl_seterr(KL_EINVAL, "cache: maxbytes=%zu cannot hold even one entry",
                         opts->maxbytes);
    }

    size_t cap_for_shards = c->maxsize;
    if (c->maxbytes && cap_for_shards == KL_CACHE_UNBOUNDED)
        cap_for_shards = c->maxbytes / 256;
    c->nshards = opts->shards ? opts->shards
                              : (c->mode == MODE_INF ? 16 : auto_shards(cap_for_shards));
    if (c->mode == MODE_POLICY && c->maxsize != KL_CACHE_UNBOUNDED && c->nshards > c->maxsize)
        c->nshards = 1;
    c->shard_shift = 64;
    for (unsigned n = c->nshards; n > 1; n >>= 1)
        c->shard_shift--;
    c->shard_mask = c->nshards - 1;
    if (c->shard_shift == 64) /* one shard: a shift of 64 would be undefined */
        c->shard_shift = 63;

    c->shards = aligned_alloc(64, sizeof(shard) * c->nshards);
    if (!c->shards) {
        free(c);
        return kl_seterr(KL_ENOMEM, "cache: out of memory");
    }
    memset(c->shards, 0, sizeof(shard) * c->nshards);
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        sh->owner = c;
        sh->slab.retire = slab_retire;
        sh->slab.retire_ctx = sh;
        pthread_mutex_init(&sh->flight_mx, NULL);
        pthread_cond_init(&sh->flight_done, NULL);
        if (c->pol) {
            /* a shard's policy is sized for twice its fair share, the most
             * it will hold in practice */
            size_t share = (c->maxsize == KL_CACHE_UNBOUNDED ? c->maxbytes / 64 : c->maxsize) /
                           c->nshards;
            size_t pcap = c->nshards == 1 ? share : 2 * share + 64;
            if (c->maxsize != KL_CACHE_UNBOUNDED && pcap > c->maxsize)
                pcap = c->maxsize;
            int rc = c->pol->create(&sh->pstate, pcap ? pcap : 1, opts->seed + i);
            if (rc) {
                c->nshards = i;
                kl_cache_free(c);
                return kl_seterr(KL_ENOMEM, "cache: policy '%s' could not start", name);
            }
        }
    }
    *out = c;
    return 0;
}

static void shard_free_entries(kl_cache *c, shard *sh)
{
    if (!sh->slots)
        return;
    for (size_t i = 0; i <= sh->mask; i++) {
        if (sh->slots[i]) {
            entry *e = slot_entry(sh, sh->slots[i]);
            if (c->pol)
                c->pol->on_remove(sh->pstate, entry_meta(c, e));
            account(c, sh, e, -1);
        }
    }
    uint64_t *slots = sh->slots;
    __atomic_store_n(&sh->slots, NULL, __ATOMIC_RELEASE);
    kl__shard_retire(c, sh, slots - 1, (sh->mask + 2) * sizeof *slots);
    kl__slab_reset(&sh->slab); /* all the entries at once (retired) */
    sh->mask = sh->count = sh->bytes = 0;
    kl__shard_free_retired(c, sh);
}

static int write_dirty(kl_cache *c, shard *sh);

int kl_cache_free(kl_cache *c)
{
    if (!c)
        return 0;
    int first = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        int rc = write_dirty(c, sh);
        spin_unlock(&sh->lock);
        if (rc && !first)
            first = rc;
        shard_free_entries(c, sh);
        kl__shard_free_retired(c, sh);
        free(sh->retired);
        if (c->pol && sh->pstate)
            c->pol->destroy(sh->pstate);
        free(sh->spare);
        pthread_mutex_destroy(&sh->flight_mx);
        pthread_cond_destroy(&sh->flight_done);
    }
    free(c->shards);
    free(c->readers);
    free(c);
    return first;
}

/* ---- archive -------------------------------------------------------------------- */

void kl__cache_set_keymap(kl_cache *c, const kl__cache_keymap *km)
{
    if (km)
        c->akeys = *km;
    else
        memset(&c->akeys, 0, sizeof c->akeys);
}

/* The archive key of a memory key: the key itself, or its translation
 * (on the stack when short). */
typedef struct akey {
    const uint8_t *p;
    size_t n;
    kl_buf heap;
    uint8_t stack[256];
} akey;

static int akey_of(const kl_cache *c, const void *key, size_t klen, akey *a)
{
    a->heap = (kl_buf)KL_BUF_INIT;
    if (!c->akeys.to_archive) {
        a->p = key;
        a->n = klen;
        return 0;
    }
    size_t n;
    int rc = c->akeys.to_archive(c->akeys.ctx, key, klen, a->stack, sizeof a->stack, &n);
    if (rc == 0 && n > sizeof a->stack) {
        if ((rc = kl_buf_reserve(&a->heap, n)) == 0)
            rc = c->akeys.to_archive(c->akeys.ctx, key, klen, a->heap.data, n, &n);
        a->p = a->heap.data;
    } else {
        a->p = a->stack;
    }
    a->n = n;
    return rc;
}

static void akey_done(akey *a) { kl_buf_free(&a->heap); }

static int archive_put(kl_cache *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    akey a;
    int rc = akey_of(c, key, klen, &a);
    if (rc == 0)
        rc = kl_archive_put(c->archive, a.p, a.n, val, vlen);
    akey_done(&a);
    return rc;
}

static int archive_get(kl_cache *c, const void *key, size_t klen, kl_buf *val)
{
    akey a;
    int rc = akey_of(c, key, klen, &a);
    if (rc == 0)
        rc = kl_archive_get(c->archive, a.p, a.n, val);
    akey_done(&a);
    return rc;
}

static int archive_del(kl_cache *c, const void *key, size_t klen)
{
    akey a;
    int rc = akey_of(c, key, klen, &a);
    if (rc == 0)
        rc = kl_archive_del(c->archive, a.p, a.n);
    akey_done(&a);
    return rc;
}

/* Write every dirty entry of a shard to the archive (lock held). */
static int write_dirty(kl_cache *c, shard *sh)
{
    if (!c->archive || !sh->slots)
        return 0;
    int first = 0;
    for (size_t i = 0; i <= sh->mask; i++) {
        if (!sh->slots[i])
            continue;
        entry *e = slot_entry(sh, sh->slots[i]);
        if (!entry_dirty(c, e))
            continue;
        int rc = archive_put(c, entry_key(c, e), entry_klen(c, e), entry_val(c, e),
                             entry_vlen(c, e));
        if (rc) {
            sh->errors++;
            if (!first)
                first = rc;
        } else {
            entry_set_dirty(c, e, false);
        }
    }
    return first;
}

int kl_cache_set_archive(kl_cache *c, kl_archive *ar)
{
    int first = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        int rc = write_dirty(c, sh);
        if (!rc && sh->slots) /* entries are not in the new archive */
            for (size_t j = 0; j <= sh->mask; j++)
                if (sh->slots[j])
                    entry_set_dirty(c, slot_entry(sh, sh->slots[j]), ar != NULL);
        spin_unlock(&sh->lock);
        if (rc && !first)
            first = rc;
    }
    c->archive = ar;
    if (ar && !c->write_back) {
        int rc = kl_cache_dump(c);
        if (rc && !first)
            first = rc;
    }
    return first;
}

kl_archive *kl_cache_archive(const kl_cache *c) { return c->archive; }

/* ---- insertion and eviction ----------------------------------------------------- */

/* A new entry in a shard's slab (lock held), or NULL; *id names it. */
static entry *entry_new(const kl_cache *c, shard *sh, const void *key, size_t klen,
                        const void *val, size_t vlen, bool dirty, uint32_t *id)
{
    entry *e = kl__slab_alloc(&sh->slab, entry_units_for(c, klen, vlen), id);
    if (!e)
        return NULL;
    if (c->hdr_off)
        memset(e, 0, c->hdr_off); /* policy metadata starts zeroed */
    entry_hdr *x = entry_h(c, e);
    x->klen_ref = (uint32_t)klen;
    x->vlen_dirty = (uint32_t)(vlen << 1) | (dirty ? 1u : 0u);
    memcpy(entry_key(c, e), key, klen);
    if (vlen)
        memcpy(entry_val(c, e), val, vlen);
    return e;
}

/* Evict one entry of a shard (lock held): its policy's victim, written to
 * the archive first if it is not there yet.  Returns false when nothing
 * could be evicted (empty shard, only `keep` left, or a failed write). */
static bool shard_evict_one(kl_cache *c, shard *sh, const entry *keep)
{
    if (sh->count == 0 || (keep && sh->count == 1))
        return false;
    void *m = c->pol->victim(sh->pstate);
    if (!m)
        return false;
    entry *e = meta_entry(c, m);
    /* hits deferred while threads contended: told now, and the policy
     * asked again (each round consumes a mark, so this ends) */
    for (size_t round = 0; entry_h(c, e)->klen_ref & ENTRY_REF; round++) {
        entry_h(c, e)->klen_ref &= ~ENTRY_REF;
        if (round == sh->count)
            break;
        c->pol->on_hit(sh->pstate, m);
        if (!(m = c->pol->victim(sh->pstate)))
            return false;
        e = meta_entry(c, m);
    }
    if (entry_dirty(c, e) && c->archive) {
        int rc = archive_put(c, entry_key(c, e), entry_klen(c, e), entry_val(c, e),
                             entry_vlen(c, e));
        if (rc) {
            sh->errors++;
            return false; /* keep it rather than lose it */
        }
    }
    shard_drop(c, sh, e, SIZE_MAX);
    sh->evictions++;
    return true;
}

/* Empty a shard into the archive (lock held; klepto's purge).  Nothing is
 * dropped if a write fails. */
static void shard_purge(kl_cache *c, shard *sh)
{
    if (!sh->slots || write_dirty(c, sh))
        return;
    for (size_t i = 0; i <= sh->mask; i++) {
        if (sh->slots[i]) {
            entry *e = slot_entry(sh, sh->slots[i]);
            c->pol->on_remove(sh->pstate, entry_meta(c, e));
            account(c, sh, e, -1);
            sh->evictions++;
            entry_free(c, sh, e, slot_id(sh->slots[i]));
            sh->slots[i] = 0;
        }
    }
    sh->count = 0;
}

/* Bring the cache back within its limits after an insertion into `home`
 * (whose lock is not held): purge everything (purge mode), or evict from
 * the other shards in turn while still over. */
static void cache_rebalance(kl_cache *c, shard *home)
{
    unsigned start = (unsigned)(home - c->shards);
    if (c->purge && c->archive) {
        for (unsigned k = 0; k < c->nshards; k++) {
            shard *sh = &c->shards[(start + k) % c->nshards];
            spin_lock(&sh->lock);
            shard_purge(c, sh);
            spin_unlock(&sh->lock);
        }
        return;
    }
    for (unsigned k = 1; k <= c->nshards && cache_over(c); k++) {
        shard *sh = &c->shards[(start + k) % c->nshards];
        spin_lock(&sh->lock);
        while (cache_over(c) && shard_evict_one(c, sh, NULL))
            ;
        spin_unlock(&sh->lock);
    }
}

/* Put an entry into memory (no archive write).  `dirty` marks it as not yet
 * stored in the archive. */
static int memory_put(kl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                      size_t vlen, bool dirty)
{
    if (c->mode == MODE_NO)
        return 0;
    if (vlen > ENTRY_MAX_VALUE || klen > ENTRY_MAX_KEY)
        return kl_seterr(KL_ETOOBIG, "cache: entry of %zu bytes is too big to keep in memory",
                         klen + vlen);
    if (entry_units_for(c, klen, vlen) * SLAB_UNIT + 2 * sizeof(uint64_t) > c->limit_bytes)
        return kl_seterr(KL_ETOOBIG, "cache: entry of %zu bytes exceeds the byte budget",
                         klen + vlen);
    if (c->readers) /* this thread's hits count before anything is evicted */
        kl__cache_flush_mine(c);
    shard *sh = shard_of(c, h);
    spin_lock(&sh->lock);
    size_t slot = table_find_slot(c, sh, key, klen, h);
    if (slot != SIZE_MAX)
        shard_drop(c, sh, slot_entry(sh, sh->slots[slot]), slot);
    uint32_t id;
    entry *e;
    int rc = table_reserve(c, sh);
    if (rc == 0 && !(e = entry_new(c, sh, key, klen, val, vlen, dirty, &id)))
        rc = kl_seterr(KL_ENOMEM, "cache: out of memory for an entry of %zu bytes",
                       klen + vlen);
    if (rc) {
        spin_unlock(&sh->lock);
        return rc;
    }
    table_insert(sh, h, id);
    account(c, sh, e, +1);
    if (c->ttl_ns > 0)
        *entry_expiry(c, e) = now_ns() + c->ttl_ns;
    bool rebalance = false;
    if (c->pol) {
        c->pol->on_insert(sh->pstate, entry_meta(c, e), h);
        if (!(c->purge && c->archive))
            while (cache_over(c) && shard_evict_one(c, sh, e))
                ;
        rebalance = cache_over(c);
    }
    if (c->ttl_ns > 0 && sh->slots) { /* incremental sweep: two slots per insert */
        int64_t now = now_ns();
        for (int k = 0; k < 2; k++) {
            size_t i = sh->sweep_pos++ & sh->mask;
            if (!sh->slots[i])
                continue;
            entry *x = slot_entry(sh, sh->slots[i]);
            if (x != e && !entry_dirty(c, x) && entry_expired(c, x, now)) {
                shard_drop(c, sh, x, i);
                sh->expirations++;
            }
        }
    }
    spin_unlock(&sh->lock);
    if (rebalance)
        cache_rebalance(c, sh);
    return 0;
}

/* Store in the archive (write-through) and in memory. */
static int cache_store(kl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    int arc = 0;
    bool dirty = false;
    if (c->archive) {
        if (c->write_back && c->mode != MODE_NO) {
            dirty = true;
        } else {
            arc = archive_put(c, key, klen, val, vlen);
            if (arc) {
                shard *sh = shard_of(c, h);
                spin_lock(&sh->lock);
                sh->errors++;
                spin_unlock(&sh->lock);
                dirty = true;
            }
        }
    }
    int rc = memory_put(c, h, key, klen, val, vlen, dirty);
    return arc ? arc : rc;
}

int kl_cache_put(kl_cache *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    return cache_store(c, key_hash(key, klen), key, klen, val, vlen);
}

/* ---- lookups -------------------------------------------------------------------- */

/* Memory lookup (lock held): 1 found and copied into val (or handed to
 * take, whose result lands in *taken), 0 absent, < 0 error. */
static inline __attribute__((always_inline)) int
memory_get_locked(kl_cache *c, shard *sh, const void *key, size_t klen, uint64_t h, kl_buf *val,
                  kl_cache_take_fn take, void *ctx, int *taken, bool *expired)
{
    size_t slot = table_find_slot(c, sh, key, klen, h);
    if (slot == SIZE_MAX)
        return 0;
    entry *e = slot_entry(sh, sh->slots[slot]);
    if (c->ttl_ns > 0 && !entry_dirty(c, e) && entry_expired(c, e, now_ns())) {
        shard_drop(c, sh, e, slot);
        sh->expirations++;
        *expired = true;
        return 0;
    }
    size_t vlen = entry_vlen(c, e);
    if (take) {
        *taken = take(ctx, entry_val(c, e), vlen);
    } else {
        val->len = 0;
        if (vlen > val->cap) {
            int rc = kl_buf_reserve(val, vlen);
            if (rc)
                return rc;
        }
        if (vlen)
            memcpy(val->data, entry_val(c, e), vlen);
        val->len = vlen;
    }
    if (c->pol)
        policy_hit(c, sh, e);
    sh->hit++;
    return 1;
}

static void count(kl_cache *c, shard *sh, uint64_t *field)
{
    (void)c;
    spin_lock_quiet(&sh->lock); /* statistics only: fast readers go on */
    (*field)++;
    spin_unlock(&sh->lock);
}

int kl_cache_get(kl_cache *c, const void *key, size_t klen, kl_buf *val, bool count_miss)
{
    uint64_t h = key_hash(key, klen);
    shard *sh = shard_of(c, h);
    bool expired = false;
    if (__atomic_load_n(&c->fast_now, __ATOMIC_RELAXED) &&
        kl__cache_read_bytes(c, key, klen, h, val) == 1)
        return 0;
    if (c->mode != MODE_NO) {
        spin_lock(&sh->lock);
        int found = memory_get_locked(c, sh, key, klen, h, val, NULL, NULL, NULL, &expired);
        spin_unlock(&sh->lock);
        if (found)
            return found < 0 ? found : 0;
    }
    if (c->archive && !expired) {
        int rc = archive_get(c, key, klen, val);
        if (rc == 0) {
            count(c, sh, &sh->load);
            int mrc = memory_put(c, h, key, klen, val->data, val->len, false);
            (void)mrc; /* a value too big for memory is still returned */
            return 0;
        }
        if (rc != KL_ENOTFOUND) {
            count(c, sh, &sh->errors);
            return rc;
        }
    }
    if (count_miss)
        count(c, sh, &sh->miss);
    return kl_seterr(KL_ENOTFOUND, "cache: key not found");
}

/* Tickets for keys up to this size are kept for reuse (one per shard), so
 * a miss usually allocates nothing for its flight. */
#define TICKET_KEYCAP 64

static void ticket_release_locked(struct kl_cache_ticket *t)
{
    if (--t->refs == 0) {
        free(t->val);
        t->val = NULL;
        shard *sh = t->shard;
        if (!sh->spare && t->keycap == TICKET_KEYCAP)
            sh->spare = t;
        else
            free(t);
    }
}

/* A ticket with room for klen key bytes (lock held), or NULL. */
static struct kl_cache_ticket *ticket_new_locked(shard *sh, size_t klen)
{
    struct kl_cache_ticket *t = sh->spare;
    if (t && klen <= t->keycap) {
        sh->spare = NULL;
    } else {
        size_t cap = klen <= TICKET_KEYCAP ? TICKET_KEYCAP : klen;
        t = malloc(sizeof *t + cap);
        if (!t)
            return NULL;
        t->keycap = cap;
        t->key = (uint8_t *)(t + 1);
    }
    t->val = NULL;
    t->vlen = 0;
    t->state = 0;
    return t;
}

static void flight_unlink_locked(shard *sh, struct kl_cache_ticket *t)
{
    for (struct kl_cache_ticket **p = &sh->flights; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            return;
        }
}

/* End a flight with a value (val != NULL) or an error: unlink it so no new
 * waiter finds it, hand the waiters a copy of the value, wake them, and
 * drop the owner's reference.  `state` is only written under flight_mx so
 * a waiter cannot miss the wake-up. */
static void flight_finish(shard *sh, struct kl_cache_ticket *t, const void *val, size_t vlen,
                          int error)
{
    spin_lock(&sh->lock);
    flight_unlink_locked(sh, t);
    bool waiters = t->refs > 1;
    int state = error;
    if (waiters && !error) {
        t->val = malloc(vlen ? vlen : 1);
        if (t->val) {
            if (vlen)
                memcpy(t->val, val, vlen);
            t->vlen = vlen;
            state = 1;
        } else {
            state = KL_ENOMEM;
        }
    }
    if (!waiters) {
        ticket_release_locked(t);
        spin_unlock(&sh->lock);
        return;
    }
    spin_unlock(&sh->lock);
    pthread_mutex_lock(&sh->flight_mx);
    __atomic_store_n(&t->state, state, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&sh->flight_done);
    pthread_mutex_unlock(&sh->flight_mx);
    spin_lock(&sh->lock);
    ticket_release_locked(t);
    spin_unlock(&sh->lock);
}

/* Wait for another thread's flight (registered as a waiter, shard lock
 * held on entry and released on return) and take its result. */
static int flight_wait(shard *sh, struct kl_cache_ticket *f, kl_buf *val)
{
    f->refs++;
    spin_unlock(&sh->lock);
    pthread_mutex_lock(&sh->flight_mx);
    while (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) == 0)
        pthread_cond_wait(&sh->flight_done, &sh->flight_mx);
    pthread_mutex_unlock(&sh->flight_mx);
    spin_lock(&sh->lock);
    int rc = f->state < 0 ? f->state : 0;
    if (rc == 0) {
        val->len = 0;
        rc = kl_buf_reserve(val, f->vlen);
        if (rc == 0) {
            if (f->vlen)
                memcpy(val->data, f->val, f->vlen);
            val->len = f->vlen;
            sh->hit++;
        }
    } else {
        kl_seterr(rc, "cache: the computation this call waited for failed: %s",
                  kl_strerror(rc));
    }
    ticket_release_locked(f);
    spin_unlock(&sh->lock);
    return rc;
}

static int acquire_slow(kl_cache *c, shard *sh, uint64_t h, const void *key, size_t klen,
                        kl_buf *val, kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket,
                        bool expired);

/* The single-flight lookup behind kl_cache_acquire (take == NULL: value
 * bytes copied into val) and kl_cache_acquire_take (take sees the bytes in
 * place; val may be NULL).  Inlined into both so the hit path is one
 * straight run: hash, lock, probe, copy or take, policy, unlock. */
static inline __attribute__((always_inline)) int
acquire_impl(kl_cache *c, const void *key, size_t klen, uint64_t h, kl_buf *val,
             kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket)
{
    shard *sh = shard_of(c, h);
    bool expired = false;
    *ticket = NULL;
    /* a hit without the lock when fast reads are on (cache_read.c) */
    if (val && __atomic_load_n(&c->fast_now, __ATOMIC_RELAXED) &&
        kl__cache_read_bytes(c, key, klen, h, val) == 1)
        return 0;

    spin_lock(&sh->lock);
    if (KL_LIKELY(c->mode != MODE_NO)) {
        int taken = 0;
        int found = memory_get_locked(c, sh, key, klen, h, val, take, ctx, &taken, &expired);
        if (KL_LIKELY(found)) {
            spin_unlock(&sh->lock);
            return found < 0 ? found : taken ? 2 : 0;
        }
    }
    return acquire_slow(c, sh, h, key, klen, val, take, ctx, ticket, expired);
}

/* Hand value bytes in a buffer to take: 0, or 2 when take refuses them. */
static int take_buf(kl_cache_take_fn take, void *ctx, const kl_buf *b)
{
    return take(ctx, b->data, b->len) ? 2 : 0;
}

/* The rest of acquire_impl, out of line (shard lock held on entry): wait
 * for another thread's flight, or start one, try the archive, and hand
 * the caller the ticket. */
static __attribute__((noinline)) int acquire_slow(kl_cache *c, shard *sh, uint64_t h,
                                                  const void *key, size_t klen, kl_buf *val,
                                                  kl_cache_take_fn take, void *ctx,
                                                  kl_cache_ticket **ticket, bool expired)
{
    kl_buf tmp = KL_BUF_INIT;
    if (!val)
        val = &tmp;
    for (struct kl_cache_ticket *f = sh->flights; f; f = f->next)
        if (f->hash == h && f->klen == klen && memcmp(f->key, key, klen) == 0) {
            int rc = flight_wait(sh, f, val); /* someone is computing this key */
            if (rc == 0 && take)
                rc = take_buf(take, ctx, val);
            kl_buf_free(&tmp);
            return rc;
        }
    struct kl_cache_ticket *t = ticket_new_locked(sh, klen);
    if (!t) {
        spin_unlock(&sh->lock);
        return kl_seterr(KL_ENOMEM, "cache: out of memory");
    }
    memcpy(t->key, key, klen);
    t->cache = c;
    t->shard = sh;
    t->hash = h;
    t->klen = klen;
    t->refs = 1;
    t->next = sh->flights;
    sh->flights = t;
    bool try_archive = c->archive && !expired;
    if (!try_archive)
        sh->miss++; /* counted now, under the lock already held */
    spin_unlock(&sh->lock);

    if (try_archive) {
        int rc = archive_get(c, key, klen, val);
        if (rc == 0) {
            count(c, sh, &sh->load);
            (void)memory_put(c, h, key, klen, val->data, val->len, false);
            flight_finish(sh, t, val->data, val->len, 0);
            rc = take ? take_buf(take, ctx, val) : 0;
            kl_buf_free(&tmp);
            return rc;
        }
        if (rc != KL_ENOTFOUND)
            count(c, sh, &sh->errors); /* damaged or unreachable: compute afresh */
        count(c, sh, &sh->miss);
    }
    kl_buf_free(&tmp);
    *ticket = t;
    return 1;
}

int kl_cache_acquire(kl_cache *c, const void *key, size_t klen, kl_buf *val,
                     kl_cache_ticket **ticket)
{
    return acquire_impl(c, key, klen, key_hash(key, klen), val, NULL, NULL, ticket);
}

int kl_cache_acquire_take(kl_cache *c, const void *key, size_t klen, kl_cache_take_fn take,
                          void *ctx, kl_cache_ticket **ticket)
{
    return acquire_impl(c, key, klen, key_hash(key, klen), NULL, take, ctx, ticket);
}

int kl__cache_acquire_hashed(kl_cache *c, const void *key, size_t klen, uint64_t h,
                             kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket)
{
    return acquire_impl(c, key, klen, h, NULL, take, ctx, ticket);
}

int kl__cache_miss_locked(kl_cache *c, const void *key, size_t klen, uint64_t h,
                          kl_cache_take_fn take, void *ctx, kl_cache_ticket **ticket)
{
    *ticket = NULL;
    return acquire_slow(c, shard_of(c, h), h, key, klen, NULL, take, ctx, ticket, false);
}

int kl_cache_fulfil(kl_cache_ticket *t, const void *val, size_t vlen)
{
    int rc = cache_store(t->cache, t->hash, t->key, t->klen, val, vlen);
    flight_finish(t->shard, t, val, vlen, 0);
    return rc;
}

void kl_cache_abandon(kl_cache_ticket *t, int error)
{
    flight_finish(t->shard, t, NULL, 0, error < 0 ? error : KL_EFUNC);
}

int kl_cache_forget(kl_cache *c, const void *key, size_t klen)
{
    uint64_t h = key_hash(key, klen);
    shard *sh = shard_of(c, h);
    bool found = false;
    spin_lock(&sh->lock);
    size_t slot = table_find_slot(c, sh, key, klen, h);
    if (slot != SIZE_MAX) {
        shard_drop(c, sh, slot_entry(sh, sh->slots[slot]), slot);
        found = true;
    }
    spin_unlock(&sh->lock);
    if (c->archive) {
        int rc = archive_del(c, key, klen);
        if (rc == 0)
            found = true;
        else if (rc != KL_ENOTFOUND)
            return rc;
    }
    return found ? 0 : kl_seterr(KL_ENOTFOUND, "cache: key not found");
}

/* ---- whole-cache operations ----------------------------------------------------- */

int kl_cache_clear(kl_cache *c, bool keep_stats)
{
    int first = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        int rc = write_dirty(c, sh);
        if (rc && !first)
            first = rc;
        shard_free_entries(c, sh);
        if (!keep_stats)
            sh->hit = sh->miss = sh->load = sh->evictions = sh->expirations = sh->errors = 0;
        spin_unlock(&sh->lock);
    }
    if (!keep_stats)
        __atomic_store_n(&c->hits_zero, kl__cache_reader_hits(c), __ATOMIC_RELAXED);
    return first;
}

int kl_cache_dump(kl_cache *c)
{
    if (!c->archive)
        return kl_seterr(KL_EINVAL, "cache: dump needs an archive");
    int first = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        if (sh->slots)
            for (size_t j = 0; j <= sh->mask; j++)
                if (sh->slots[j])
                    entry_set_dirty(c, slot_entry(sh, sh->slots[j]), true);
        int rc = write_dirty(c, sh);
        spin_unlock(&sh->lock);
        if (rc && !first)
            first = rc;
    }
    return first;
}

int kl_cache_load(kl_cache *c, size_t *loaded)
{
    if (loaded)
        *loaded = 0;
    if (!c->archive)
        return kl_seterr(KL_EINVAL, "cache: load needs an archive");
    if (c->mode == MODE_NO)
        return 0;
    kl_archive_iter *it;
    int rc = kl_archive_iter_new(c->archive, &it);
    if (rc)
        return rc;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, mk = KL_BUF_INIT;
    size_t n = 0;
    while ((rc = kl_archive_iter_next(it, &k, &v)) == 1) {
        kl_buf *key = &k;
        if (c->akeys.from_archive) {
            mk.len = 0;
            rc = c->akeys.from_archive(c->akeys.ctx, k.data, k.len, &mk);
            if (rc == 1)
                continue; /* no memory form: found through the archive on demand */
            if (rc)
                break;
            key = &mk;
        }
        rc = memory_put(c, key_hash(key->data, key->len), key->data, key->len, v.data, v.len,
                        false);
        if (rc)
            break;
        n++;
    }
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&mk);
    if (loaded)
        *loaded = n;
    return rc < 0 ? rc : 0;
}

size_t kl_cache_sweep(kl_cache *c)
{
    size_t removed = 0;
    if (c->ttl_ns <= 0)
        return 0;
    int64_t now = now_ns();
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        for (size_t j = 0; sh->slots && j <= sh->mask;) {
            entry *e = sh->slots[j] ? slot_entry(sh, sh->slots[j]) : NULL;
            if (e && !entry_dirty(c, e) && entry_expired(c, e, now)) {
                shard_drop(c, sh, e, j); /* shifts a later entry into j: re-check it */
                sh->expirations++;
                removed++;
            } else {
                j++;
            }
        }
        spin_unlock(&sh->lock);
    }
    return removed;
}

void kl_cache_stats_get(const kl_cache *c, kl_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock_quiet(&sh->lock);
        out->hit += sh->hit;
        out->miss += sh->miss;
        out->load += sh->load;
        out->evictions += sh->evictions;
        out->expirations += sh->expirations;
        out->errors += sh->errors;
        out->size += sh->count;
        out->bytes += sh->bytes;
        spin_unlock(&sh->lock);
    }
    out->hit += kl__cache_reader_hits(c) - __atomic_load_n(&c->hits_zero, __ATOMIC_RELAXED);
    out->maxsize = c->maxsize;
}

void kl_cache_count_error(kl_cache *c) { count(c, &c->shards[0], &c->shards[0].errors); }

const char *kl_cache_policy(const kl_cache *c) { return c->policy_name; }

size_t kl_cache_entry_overhead(const kl_cache *c)
{
    /* metadata + expiry + header, about 4 bytes of rounding to the slab's
     * 8-byte units, and one 8-byte table slot at the typical load (~2/3) */
    return c->data_off + 4 + 12;
}
