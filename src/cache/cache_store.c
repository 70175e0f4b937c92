/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cache's insertion and eviction (cache_impl.h): new entries, the
 * limits (entries and bytes, global across shards), eviction by the
 * policy, klepto's purge, and incremental ttl sweeps.
 *
 * Archive I/O happens outside shard locks, except writing back a victim
 * that is not yet in the archive (write_back mode, or after a failed
 * write-through): that happens under the lock so an entry can never be
 * dropped before it is stored.
 */
#include <stdlib.h>

#include "cache/cache_impl.h"
#include "cache/cache_read.h" /* kl__cache_flush_mine */
#include "cache/table.h"
#include "log.h"

/* ---- accounting and removal ----------------------------------------------------- */

/* Count an entry into (sign > 0) or out of the shard's and the cache's
 * totals. */
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

/* Whether the cache is over its limits. */
static inline bool cache_over(kl_cache *c)
{
    return __atomic_load_n(&c->total_count, __ATOMIC_RELAXED) > c->maxsize ||
           __atomic_load_n(&c->total_bytes, __ATOMIC_RELAXED) > c->limit_bytes;
}

/* Release an entry's memory (lock held). */
static inline void entry_free(const kl_cache *c, shard *sh, entry *e, uint32_t id)
{
    kl__slab_free(&sh->slab, id, entry_units(c, e));
}

void kl__shard_drop(kl_cache *c, shard *sh, entry *e, size_t slot)
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

void kl__shard_free_entries(kl_cache *c, shard *sh)
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

int kl__shard_write_dirty(kl_cache *c, shard *sh)
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
        int rc = kl__cache_archive_put(c, entry_key(c, e), entry_klen(c, e), entry_val(c, e),
                                       entry_vlen(c, e));
        if (rc) {
            sh->errors++;
            kl__log_swallowed("counted as an error, the entry stays in memory");
            if (!first)
                first = rc;
        } else {
            entry_set_dirty(c, e, false);
        }
    }
    return first;
}

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
        int rc = kl__cache_archive_put(c, entry_key(c, e), entry_klen(c, e), entry_val(c, e),
                                       entry_vlen(c, e));
        if (rc) {
            sh->errors++;
            kl__log_swallowed("counted as an error, the entry stays in memory");
            return false; /* keep it rather than lose it */
        }
    }
    if (KL_UNLIKELY(kl__log_on(KL_LOG_DEBUG))) {
        char hex[40];
        kl__log_key_hex(hex, sizeof hex, entry_key(c, e), entry_klen(c, e));
        kl__log(KL_LOG_DEBUG, "cache: evicted key %s", hex);
    }
    kl__shard_drop(c, sh, e, SIZE_MAX);
    sh->evictions++;
    return true;
}

/* Empty a shard into the archive (lock held; klepto's purge).  Nothing is
 * dropped if a write fails. */
static void shard_purge(kl_cache *c, shard *sh)
{
    if (!sh->slots || kl__shard_write_dirty(c, sh))
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

int kl__cache_memory_put(kl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                         size_t vlen, bool dirty, int64_t age_ns)
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
    size_t slot;
    entry *e = table_find(c, sh, key, klen, h, &slot);
    if (e) /* replaced */
        kl__shard_drop(c, sh, e, slot);
    uint32_t id;
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
        *entry_expiry(c, e) = now_ns() + c->ttl_ns - (age_ns > 0 ? age_ns : 0);
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
                kl__shard_drop(c, sh, x, i);
                sh->expirations++;
            }
        }
    }
    spin_unlock(&sh->lock);
    if (rebalance)
        cache_rebalance(c, sh);
    return 0;
}

int kl__cache_store(kl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    int arc = 0;
    bool dirty = false;
    if (c->archive) {
        if (c->write_back && c->mode != MODE_NO) {
            dirty = true;
        } else {
            arc = kl__cache_archive_put(c, key, klen, val, vlen);
            if (arc) {
                shard *sh = shard_of(c, h);
                shard_count(sh, &sh->errors);
                kl__log_swallowed("counted as an error, the entry stays in memory");
                dirty = true;
            }
        }
    }
    int rc = kl__cache_memory_put(c, h, key, klen, val, vlen, dirty, 0);
    return arc ? arc : rc;
}
