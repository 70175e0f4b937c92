/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The concurrent in-memory cache (cache.h): creation and release, the
 * archive boundary, put and forget, and the whole-cache operations.
 *
 * Hand-written because it is the hot path of every memoized call and no
 * packaged library offers a sharded table with pluggable, intrusive
 * eviction policies and single-flight misses.
 *
 * Layout: the table is split into shards (power of two, chosen by the top
 * bits of the key's XXH3-64 hash); each shard has a lock, an
 * open-addressing table of slab ids (table.h: linear probing,
 * backward-shift deletion, load <= 7/8), its own policy instance, its
 * statistics, and the list of keys being computed right now ("flights").
 * The entry and byte limits are global: shards fill unevenly, and a shard
 * may hold more than its share while the whole stays within them.  An
 * entry is one piece of its shard's slab: policy metadata, optional expiry
 * time, header, key bytes, value bytes.  Lookups are in cache_get.c,
 * insertion and eviction in cache_store.c, lock-free hits in cache_read.c.
 */
#define _GNU_SOURCE
#include "klepto/cache.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "archive/handle.h" /* kl__archive_age */
#include "cache/cache_impl.h"
#include "klepto/cached.h"
#include "cache/cache_read.h"
#include "cache/table.h"
#include "log.h"
#include "policy/hints.h"

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
        c->on_hit = c->pol == &kl__policy_lru ? HIT_LRU : HIT_ON_HIT;
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
                return kl_seterr(rc, "cache: policy '%s' could not start: %s", name,
                                 kl_strerror(rc));
            }
        }
    }
    kl__cache_fork_track(c);
    *out = c;
    return 0;
}

int kl_cache_free(kl_cache *c)
{
    if (!c)
        return 0;
    kl__cache_fork_untrack(c);
    int first = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        int rc = kl__shard_write_dirty(c, sh);
        spin_unlock(&sh->lock);
        if (rc && !first)
            first = rc;
        kl__shard_free_entries(c, sh);
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

int kl__cache_archive_put(kl_cache *c, const void *key, size_t klen, const void *val,
                          size_t vlen)
{
    akey a;
    int rc = akey_of(c, key, klen, &a);
    if (rc == 0)
        rc = kl_archive_put(c->archive, a.p, a.n, val, vlen);
    akey_done(&a);
    return rc;
}

int kl__cache_archive_get(kl_cache *c, const void *key, size_t klen, kl_buf *val, int64_t *age)
{
    if (age)
        *age = 0;
    akey a;
    int rc = akey_of(c, key, klen, &a);
    /* a cached front's get looks in its memory only (klepto's dict);
     * the memo reads through it to the storage, as klepto's memo loads */
    if (rc == 0)
        rc = kl_cached_is(c->archive) ? kl_cached_fetch(c->archive, a.p, a.n, val)
                                      : kl_archive_get(c->archive, a.p, a.n, val);
    /* the memo's ttl holds for archived entries too, by their stored time */
    int64_t stored_ago = 0;
    if (rc == 0 && c->ttl_ns > 0 && !kl_cached_is(c->archive) &&
        kl__archive_age(c->archive, a.p, a.n, &stored_ago) == 0) {
        if (stored_ago > c->ttl_ns) {
            shard *sh = shard_of(c, key_hash(key, klen));
            shard_count(sh, &sh->expirations);
            rc = kl_seterr(KL_ENOTFOUND, "%s: entry older than the memo's ttl",
                           kl_archive_url(c->archive));
        } else if (age) {
            *age = stored_ago;
        }
    }
    akey_done(&a);
    return rc;
}

/* How long ago an archived entry (archive key) was stored, with a ttl
 * (0: unknown, or no ttl); -1 when longer ago than the ttl (load skips
 * it). */
static int64_t archived_age(kl_cache *c, const kl_buf *ak)
{
    int64_t age = 0;
    if (c->ttl_ns > 0 && !kl_cached_is(c->archive) &&
        kl__archive_age(c->archive, ak->data, ak->len, &age) == 0 && age > c->ttl_ns)
        return -1;
    return age;
}

int kl__cache_archive_del(kl_cache *c, const void *key, size_t klen)
{
    akey a;
    int rc = akey_of(c, key, klen, &a);
    if (rc == 0)
        rc = kl_archive_del(c->archive, a.p, a.n);
    akey_done(&a);
    return rc;
}

int kl_cache_set_archive(kl_cache *c, kl_archive *ar)
{
    int first = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        int rc = kl__shard_write_dirty(c, sh);
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

/* ---- one entry ----------------------------------------------------------------------- */

int kl_cache_put(kl_cache *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    return kl__cache_store(c, key_hash(key, klen), key, klen, val, vlen);
}

int kl_cache_forget(kl_cache *c, const void *key, size_t klen)
{
    uint64_t h = key_hash(key, klen);
    shard *sh = shard_of(c, h);
    bool found = false;
    spin_lock(&sh->lock);
    size_t slot;
    entry *e = table_find(c, sh, key, klen, h, &slot);
    if (e) {
        kl__shard_drop(c, sh, e, slot);
        found = true;
    }
    spin_unlock(&sh->lock);
    if (c->archive) {
        int rc = kl__cache_archive_del(c, key, klen);
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
        int rc = kl__shard_write_dirty(c, sh);
        if (rc && !first)
            first = rc;
        kl__shard_free_entries(c, sh);
        if (!keep_stats) {
            sh->hit = sh->miss = sh->load = sh->evictions = sh->expirations = sh->errors = 0;
            sh->miss_ns = sh->miss_timed = 0;
        }
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
        int rc = kl__shard_write_dirty(c, sh);
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
        int64_t age = archived_age(c, &k);
        if (age < 0)
            continue;
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
        rc = kl__cache_memory_put(c, key_hash(key->data, key->len), key->data, key->len, v.data,
                                  v.len, false, age);
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
                kl__shard_drop(c, sh, e, j); /* shifts a later entry into j: re-check it */
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

/* Shard sh's event counts added into out. */
static void add_counts(kl_cache_stats *out, const shard *sh)
{
    out->hit += sh->hit;
    out->miss += sh->miss;
    out->load += sh->load;
    out->evictions += sh->evictions;
    out->expirations += sh->expirations;
    out->errors += sh->errors;
}

void kl__cache_stats_sum_locked(const kl_cache *c, kl_cache_stats *out, uint64_t *miss_ns,
                                uint64_t *miss_timed)
{
    memset(out, 0, sizeof *out);
    *miss_ns = *miss_timed = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        const shard *sh = &c->shards[i];
        add_counts(out, sh);
        *miss_ns += sh->miss_ns;
        *miss_timed += sh->miss_timed;
    }
    out->hit += kl__cache_reader_hits(c) - __atomic_load_n(&c->hits_zero, __ATOMIC_RELAXED);
}

unsigned kl__cache_forked(const kl_cache *c, kl_cache_stats *at_fork, uint64_t *miss_ns,
                          uint64_t *miss_timed)
{
    *at_fork = c->at_fork;
    *miss_ns = c->at_fork_miss_ns;
    *miss_timed = c->at_fork_miss_timed;
    return c->forks;
}

void kl_cache_stats_get(const kl_cache *c, kl_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock_quiet(&sh->lock);
        add_counts(out, sh);
        out->size += sh->count;
        out->bytes += sh->bytes;
        spin_unlock(&sh->lock);
    }
    out->hit += kl__cache_reader_hits(c) - __atomic_load_n(&c->hits_zero, __ATOMIC_RELAXED);
    out->maxsize = c->maxsize;
}

void kl_cache_count_error(kl_cache *c)
{
    shard_count(&c->shards[0], &c->shards[0].errors);
    kl__log_swallowed("counted as an error, the call ran uncached");
}

void kl__cache_count_miss(kl_cache *c) { shard_count(&c->shards[0], &c->shards[0].miss); }

void kl__cache_miss_cost(const kl_cache *c, uint64_t *total_ns, uint64_t *timed)
{
    *total_ns = *timed = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock_quiet(&sh->lock);
        *total_ns += sh->miss_ns;
        *timed += sh->miss_timed;
        spin_unlock(&sh->lock);
    }
}

const char *kl_cache_policy(const kl_cache *c) { return c->policy_name; }

size_t kl_cache_entry_overhead(const kl_cache *c)
{
    /* metadata + expiry + header, about 4 bytes of rounding to the slab's
     * 8-byte units, and one 8-byte table slot at the typical load (~2/3) */
    return c->data_off + 4 + 12;
}
