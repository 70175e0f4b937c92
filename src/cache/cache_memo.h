/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the memo layer sees of the cache beyond cache.h (private): the
 * typed acquire that KL_MEMOIZE's hits go through, the translation of
 * memory keys to archive keys, fast reads, and the thread's scratch
 * buffer.  src/memo/ includes this header, never cache_impl.h.
 */
#ifndef KLEPTO_CACHE_MEMO_H
#define KLEPTO_CACHE_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "cache/tslot.h" /* kl__thread_scratch */
#include "klepto/cache.h"
#include "klepto/memo.h" /* kl_result_kind */

/* kl_cache_acquire for a typed result: a value found (in memory, in the
 * archive, or computed by another thread) is decoded as a result of
 * `kind` straight into *out — on a hit without a copy, and without the
 * lock when the cache's fast reads are on.  Returns 0 (decoded), 1
 * (*ticket set: compute, then kl_cache_fulfil or kl_cache_abandon), 2
 * (found and counted, but not a result of that kind: compute without
 * storing; the decoder's message says why), < 0 an error (counted in the
 * cache's statistics: a typed call reports none). */
int kl__cache_acquire_result(kl_cache *c, const void *key, size_t klen, kl_result_kind kind,
                             void *out, kl_cache_ticket **ticket);

/* Count a miss that never reached the cache: a call its memo ran
 * uncached because its key could not be built (klepto counts such a
 * fallback as a miss, so hit + miss + load is the number of calls). */
void kl__cache_count_miss(kl_cache *c);

/* The measured cost of the misses computed through tickets since the
 * statistics were last zeroed: their summed run time (ns, monotonic
 * clock, from kl_cache_acquire's answer 1 to kl_cache_fulfil) and how
 * many were timed.  Read at flush time only (the memo's run statistics). */
void kl__cache_miss_cost(const kl_cache *c, uint64_t *total_ns, uint64_t *timed);

/* How many fork()s made this process's copy of the cache (0 in the
 * process that created it), and its statistics and miss cost as the
 * last fork found them (what the parent counted). */
unsigned kl__cache_forked(const kl_cache *c, kl_cache_stats *at_fork, uint64_t *miss_ns,
                          uint64_t *miss_timed);

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

/* Turn fast reads (lock-free hits, cache_read.c) on, before the cache is
 * shared: 0, or KL_ENOMEM.  Stays off, returning 0, where they cannot work
 * (no membarrier, "no" caches, expiring entries, policies whose every hit
 * must be told at once). */
int kl__cache_enable_fast_reads(kl_cache *c);

/* ---- looking in without disturbing (cache_inspect.c) ---------------------- */

/* The value of a key in memory, into val (replacing its contents): 0, or
 * KL_ENOTFOUND.  Memory only, and no effect: no statistics, no policy
 * update, no insertion, no eviction, no removal of an expired entry (it
 * is reported as absent).  Safe concurrently with anything. */
int kl__cache_peek(kl_cache *c, const void *key, size_t klen, kl_buf *val);

/* Called once per entry in memory: its memory key, its archive key (the
 * same bytes unless the cache translates keys), its value bytes.  Return 0
 * to go on; anything else stops the walk and is returned by it. */
typedef int (*kl__cache_entry_fn)(void *ctx, const uint8_t *key, size_t klen,
                                  const uint8_t *akey, size_t aklen, const uint8_t *val,
                                  size_t vlen);
/* Walk the entries in memory, a shard at a time (each shard is copied
 * under its lock and the callback runs with no lock held, so it may call
 * into the cache; entries added or removed meanwhile may or may not be
 * seen).  Touches no statistics and no policy; expired entries are
 * skipped.  Returns 0, the callback's value, or KL_ENOMEM. */
int kl__cache_foreach(kl_cache *c, kl__cache_entry_fn fn, void *ctx);

/* Write one memory entry to the archive (as kl_cache_dump does for all):
 * 0, 1 when the key is not in memory, KL_EINVAL without an archive, or the
 * archive's error (counted). */
int kl__cache_dump_key(kl_cache *c, const void *key, size_t klen);
/* Read one key from the archive into memory, replacing what memory holds
 * (no statistics, as kl_cache_load): 0, 1 when the archive lacks it (or
 * the cache keeps nothing), KL_EINVAL without an archive, or an error. */
int kl__cache_load_key(kl_cache *c, const void *key, size_t klen);
/* Put ar (NULL: none) in place of the archive, as klepto swaps one: what
 * the old archive is still owed is written to it first; memory is kept
 * and nothing of it is written to the new one.  Not concurrently with
 * other calls on c.  Returns the first error writing to the old one. */
int kl__cache_swap_archive(kl_cache *c, kl_archive *ar);

#endif
