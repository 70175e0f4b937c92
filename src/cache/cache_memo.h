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

#endif
