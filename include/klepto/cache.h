/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The concurrent in-memory cache of encoded entries.
 *
 * A cache maps key bytes to value bytes (canonical encodings; the cache
 * never looks inside them), keeps within an entry limit and an optional
 * byte budget by evicting per a policy (sys/policy.h), expires entries
 * after an optional time-to-live, counts statistics, and may sit in front
 * of an archive (archive.h):
 *   - lookups go memory → archive (a "load", copied into memory);
 *   - results are written through to the archive when stored (or, with
 *     write_back, when evicted, dumped or the cache is freed) — an entry
 *     is never evicted before it is in the archive;
 *   - purge=true: on overflow every entry is written to the archive and
 *     the memory is emptied (klepto's semantics).
 * Modes: maxsize == 0 is the "no" cache (keeps nothing in memory; with an
 * archive it reads and writes through); maxsize == KL_CACHE_UNBOUNDED is the
 * "inf" cache (never evicts), whatever policy was named.
 *
 * Thread-safety: every function may be called from many threads at once.
 * The table is split into shards with a lock each.  A hit holds one shard
 * lock for a short copy — or, where the policy allows (docs/threading.md),
 * takes no lock at all: it reads optimistically and retries or falls back
 * to the lock if a writer came by.  Concurrent misses of one key are
 * "single-flight":
 * kl_cache_acquire() hands one caller a ticket to compute the value, the
 * others wait and receive its result (or its error).
 */
#ifndef KLEPTO_CACHE_H
#define KLEPTO_CACHE_H

#include "export.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archive.h"
#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/** maxsize value meaning "no entry limit" (klepto's inf_cache). */
#define KL_CACHE_UNBOUNDED SIZE_MAX
/** The largest entry limit accepted (besides KL_CACHE_UNBOUNDED). */
#define KL_CACHE_MAXSIZE_LIMIT ((size_t)1 << 40)
/** ttl value meaning "entries never expire" (the default). */
#define KL_CACHE_NO_TTL HUGE_VAL

/** Options of kl_cache_new(): start from KL_CACHE_OPTS_INIT. */
typedef struct kl_cache_opts {
    unsigned version;   /**< KL_CACHE_OPTS_VERSION */
    const char *policy; /**< "lru" (NULL), "lfu", "mru", "rr", "fifo", "sieve", ...,
                           or "inf" / "no" */
    size_t maxsize;     /**< entry limit; 0 = "no" cache; KL_CACHE_UNBOUNDED = "inf" */
    size_t maxbytes;    /**< byte budget (keys + values + overhead); 0 = none */
    double ttl;         /**< seconds an entry stays valid (> 0); KL_CACHE_NO_TTL = forever */
    bool purge;         /**< on overflow: dump everything to the archive and empty */
    bool write_back;    /**< write to the archive on eviction/dump/free only */
    unsigned shards;    /**< 0 = automatic (1 for small caches, so policies are
                           exact; more for large ones); else a power of two */
    uint64_t seed;      /**< randomness for "rr" and sketches */
} kl_cache_opts;
/** The version of kl_cache_opts this header declares. */
#define KL_CACHE_OPTS_VERSION 1
/** The default options: "lru", 100 entries, no byte budget, no ttl. */
#define KL_CACHE_OPTS_INIT {KL_CACHE_OPTS_VERSION, NULL, 100, 0, KL_CACHE_NO_TTL, false, false, 0, 0}

/** The statistics of a cache (kl_cache_stats_get). */
typedef struct kl_cache_stats {
    uint64_t hit;         /**< found in memory */
    uint64_t miss;        /**< found nowhere (the caller computed) */
    uint64_t load;        /**< found in the archive and copied into memory */
    uint64_t evictions;   /**< entries removed to keep within limits */
    uint64_t expirations; /**< entries removed because their ttl passed */
    uint64_t errors;      /**< archive failures and (memo) key/encode failures */
    size_t size;          /**< entries in memory now */
    size_t bytes;         /**< bytes in memory now (keys + values + overhead) */
    size_t maxsize;       /**< the entry limit in force */
} kl_cache_stats;

/** A cache (opaque): kl_cache_new() to kl_cache_free(). */
typedef struct kl_cache kl_cache;

/** Create a cache.  Returns 0, KL_EINVAL (unknown policy, shards not a
 * power of two, a ttl that is not a positive number of seconds, maxsize
 * above KL_CACHE_MAXSIZE_LIMIT, maxbytes smaller than one entry could be),
 * KL_ENOMEM.  Free with kl_cache_free. */
KL_API int kl_cache_new(kl_cache **out, const kl_cache_opts *opts);
/** Writes back pending entries (write_back) and releases the cache; the
 * attached archive is not closed.  Returns the first write-back error (the
 * cache is released regardless).  Safe on NULL. */
KL_API int kl_cache_free(kl_cache *c);

/** Attach (or with NULL detach) an archive.  The cache borrows it: it must
 * stay open until detached or the cache is freed.  Pending write-back
 * entries are written to the old archive first.  Not to be called
 * concurrently with other operations on c. */
KL_API int kl_cache_set_archive(kl_cache *c, kl_archive *ar);
/** The attached archive (borrowed), or NULL. */
KL_API kl_archive *kl_cache_archive(const kl_cache *c);

/** Look up a key in memory, then in the archive.  On success the value
 * bytes replace val's contents.  Returns 0 (hit or load), KL_ENOTFOUND
 * (counted as a miss only when count_miss), or an archive error. */
KL_API int kl_cache_get(kl_cache *c, const void *key, size_t klen, kl_buf *val, bool count_miss);

/** Store an entry (insert or replace), evicting as needed, writing through
 * to the archive unless write_back.  Returns 0, KL_ETOOBIG (a single entry
 * larger than the byte budget), KL_ENOMEM, or the archive's error (the
 * entry then stays in memory, marked for a later write). */
KL_API int kl_cache_put(kl_cache *c, const void *key, size_t klen, const void *val, size_t vlen);

/** Remove one entry from memory and from the archive ("pop-through").
 * Returns 0 if it was found in either, KL_ENOTFOUND if in neither. */
KL_API int kl_cache_forget(kl_cache *c, const void *key, size_t klen);

/* ---- single-flight ------------------------------------------------------ */

/** The duty to compute one missing key (opaque): from kl_cache_acquire()
 * to kl_cache_fulfil() or kl_cache_abandon(). */
typedef struct kl_cache_ticket kl_cache_ticket;

/** Look up a key; if it is nowhere, make the caller responsible for
 * computing it.  Returns:
 *   0            the value is in val (hit, load, or another thread's result)
 *   1            *ticket is set: compute, then kl_cache_fulfil() or
 *                kl_cache_abandon() — exactly one of them, always
 *   < 0          an error (including an error another thread abandoned
 *                its computation with while this one waited)
 * A thread must not acquire a second key while holding a ticket for a key
 * another thread could be waiting on in a cycle (no recursive memoization
 * of the same key). */
KL_API int kl_cache_acquire(kl_cache *c, const void *key, size_t klen, kl_buf *val,
                     kl_cache_ticket **ticket);
/** Receives a found value's bytes in place (for kl_cache_acquire_take);
 * returns 0 if it took them, non-zero if it cannot use them. */
typedef int (*kl_cache_take_fn)(void *ctx, const uint8_t *val, size_t vlen);
/** kl_cache_acquire without the copy: a found value (hit, load, or another
 * thread's result) is handed to take(ctx, bytes, len) — on a hit under the
 * shard lock, so take must be short and must not call into the cache.
 * Returns 0 (taken), 1 (*ticket set, as kl_cache_acquire), 2 (found and
 * counted, but take refused the bytes: compute without storing), < 0 an
 * error. */
KL_API int kl_cache_acquire_take(kl_cache *c, const void *key, size_t klen, kl_cache_take_fn take,
                          void *ctx, kl_cache_ticket **ticket);
/** Store the computed value (as kl_cache_put) and wake the waiters; the
 * ticket is consumed.  Returns kl_cache_put's result (waiters get the value
 * even if the archive write failed). */
KL_API int kl_cache_fulfil(kl_cache_ticket *ticket, const void *val, size_t vlen);
/** Give up: waiters receive `error` (negative). The ticket is consumed. */
KL_API void kl_cache_abandon(kl_cache_ticket *ticket, int error);

/* ---- whole-cache operations ----------------------------------------------- */

/** Empty the memory (the archive is untouched; pending write-back entries
 * are written first).  keep_stats=false also zeroes the statistics. */
KL_API int kl_cache_clear(kl_cache *c, bool keep_stats);
/** Write every entry in memory to the archive (KL_EINVAL without one). */
KL_API int kl_cache_dump(kl_cache *c);
/** Read archive entries into memory (at most the limits allow; later ones
 * evict earlier ones per the policy).  *loaded counts them (may be NULL). */
KL_API int kl_cache_load(kl_cache *c, size_t *loaded);
/** Remove expired entries now (they are also removed lazily). */
KL_API size_t kl_cache_sweep(kl_cache *c);
/** A snapshot of the statistics. */
KL_API void kl_cache_stats_get(const kl_cache *c, kl_cache_stats *out);
/** Count one error (used by the memo layer for key/encode failures). */
KL_API void kl_cache_count_error(kl_cache *c);
/** The policy name in force ("lru", "inf", "no", ...). */
KL_API const char *kl_cache_policy(const kl_cache *c);

/** Per-entry memory the cache adds beyond key and value bytes (table slot,
 * header, policy metadata), for sizing byte budgets. */
KL_API size_t kl_cache_entry_overhead(const kl_cache *c);

#ifdef __cplusplus
}
#endif
#endif
