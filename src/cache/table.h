/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The open-addressing table of one shard (private to the cache).
 *
 * One 64-bit word per slot: the low 32 bits of the key's hash (its home
 * slot, and a filter that spares most key comparisons) << 32 | the
 * entry's slab id + 1; 0 is an empty slot.  Linear probing, backward-shift
 * deletion (no tombstones), filled to at most 7/8 (the 32-bit tags keep
 * probe runs short even then).  The word before slots[0] holds the mask,
 * so a lock-free reader gets array and size in one load.
 *
 * Every lookup walks a probe run with table_probe: the locked ones (a key,
 * an entry, a noted hit's slot value) and the lock-free reads of
 * cache_read.h.  It is inline and takes its slot load and its comparison
 * as functions, which the compiler specialises at each use (plain loads
 * under the lock, relaxed atomic loads and torn-read-safe comparisons
 * without it).
 */
#ifndef KLEPTO_CACHE_TABLE_H
#define KLEPTO_CACHE_TABLE_H

#include <stdlib.h>

#include "cache/cache_impl.h"

static inline uint32_t slot_tag(uint64_t sv) { return (uint32_t)(sv >> 32); }
static inline uint64_t slot_make(uint64_t h, uint32_t id) { return (h << 32) | ((uint64_t)id + 1); }
static inline uint32_t slot_id(uint64_t sv) { return (uint32_t)sv - 1; }
static inline entry *slot_entry(const shard *sh, uint64_t sv)
{
    return kl__slab_ptr(&sh->slab, slot_id(sv));
}
static inline size_t slot_home(const shard *sh, uint64_t sv) { return slot_tag(sv) & sh->mask; }

/* ---- the probe ------------------------------------------------------------------------ */

#define TABLE_ABSENT SIZE_MAX        /* an empty slot ended the run */
#define TABLE_RETRY (SIZE_MAX - 1)   /* the comparison gave up, or a lap passed */

/* Read slot i's value. */
typedef uint64_t (*table_load_fn)(const uint64_t *slot);
/* Whether the slot value sv (whose tag matches) is the one sought: 1 yes,
 * 0 no, < 0 give up (a lock-free reader saw something a writer changed). */
typedef int (*table_match_fn)(void *ctx, uint64_t sv);

/* Walk the probe run of `tag` in slots[0..mask]: the index of the slot the
 * comparison accepted, TABLE_ABSENT, or TABLE_RETRY.  A table is never
 * full, but a lock-free reader racing a writer could in theory chase the
 * empty slot: with `one_lap` the walk stops after one lap. */
static inline __attribute__((always_inline)) size_t
table_probe(const uint64_t *slots, size_t mask, uint32_t tag, table_load_fn load,
            table_match_fn match, void *ctx, bool one_lap)
{
    size_t budget = mask;
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
        uint64_t sv = load(&slots[i]);
        if (!sv)
            return TABLE_ABSENT;
        if (slot_tag(sv) == tag) {
            int m = match(ctx, sv);
            if (m > 0)
                return i;
            if (m < 0)
                return TABLE_RETRY;
        }
        if (one_lap && !budget--)
            return TABLE_RETRY;
    }
}

/* ---- locked lookups ----------------------------------------------------------------- */

static inline __attribute__((always_inline)) uint64_t table_load(const uint64_t *slot)
{
    return *slot;
}

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

typedef struct key_sought {
    const kl_cache *c;
    const shard *sh;
    const void *key;
    size_t klen;
    entry *e; /* the entry found */
} key_sought;

static inline __attribute__((always_inline)) int key_match(void *ctx, uint64_t sv)
{
    key_sought *k = ctx;
    entry *e = slot_entry(k->sh, sv);
    k->e = e;
    return entry_klen_is(k->c, e, k->klen) && bytes_equal(entry_key(k->c, e), k->key, k->klen);
}

/* The entry of a key (h: its hash) and its slot in *slot, or NULL. */
static inline __attribute__((always_inline)) entry *
table_find(const kl_cache *c, shard *sh, const void *key, size_t klen, uint64_t h, size_t *slot)
{
    if (!sh->slots)
        return NULL;
    key_sought k = {c, sh, key, klen, NULL};
    *slot = table_probe(sh->slots, sh->mask, (uint32_t)h, table_load, key_match, &k, false);
    return *slot < TABLE_RETRY ? k.e : NULL;
}

typedef struct entry_sought {
    const shard *sh;
    const entry *e;
} entry_sought;

static inline int entry_match(void *ctx, uint64_t sv)
{
    const entry_sought *x = ctx;
    return slot_entry(x->sh, sv) == x->e;
}

/* The slot of an entry known to be in the table (its hash recomputed). */
static inline size_t table_find_entry(const kl_cache *c, shard *sh, entry *e)
{
    uint32_t tag = (uint32_t)key_hash(entry_key(c, e), entry_klen(c, e));
    entry_sought x = {sh, e};
    return table_probe(sh->slots, sh->mask, tag, table_load, entry_match, &x, false);
}

static inline int value_match(void *ctx, uint64_t sv) { return sv == *(const uint64_t *)ctx; }

/* Whether the slot value sv (read earlier, maybe without the lock) is
 * still in the table: usually still in slot `at`, else looked up. */
static inline bool table_holds(const shard *sh, uint64_t sv, uint32_t at)
{
    if (!sh->slots)
        return false;
    if (at <= sh->mask && sh->slots[at] == sv)
        return true;
    return table_probe(sh->slots, sh->mask, slot_tag(sv), table_load, value_match, &sv, false) <
           TABLE_RETRY;
}

/* ---- changes (lock held) ------------------------------------------------------------ */

/* Double the slot array (or make the first, of 8 slots), rehashing every
 * entry into a fresh one.  The old array is retired: a lock-free reader
 * may still be probing it. */
static inline int table_grow(kl_cache *c, shard *sh)
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

/* Make room for one more slot (may grow the table to stay within 7/8). */
static inline int table_reserve(kl_cache *c, shard *sh)
{
    if (!sh->slots || (sh->count + 1) * 8 > (sh->mask + 1) * 7)
        return table_grow(c, sh);
    return 0;
}

/* Insert an entry known to be absent (room reserved). */
static inline void table_insert(shard *sh, uint64_t h, uint32_t id)
{
    size_t i = (uint32_t)h & sh->mask;
    while (sh->slots[i])
        i = (i + 1) & sh->mask;
    sh->slots[i] = slot_make(h, id);
    sh->count++;
}

/* Remove the entry in slot i, shifting later members of its probe run back
 * so lookups never need tombstones. */
static inline void table_remove_slot(shard *sh, size_t i)
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

#endif
