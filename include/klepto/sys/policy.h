/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The eviction-policy plug-in interface.
 *
 * The cache owns the table, the entries and the hit/miss/evict loop.  A
 * policy only orders entries: it is told when an entry is inserted, hit or
 * removed, and asked for a victim.  Each entry carries `meta_size` bytes of
 * policy metadata (zeroed before on_insert); the policy identifies entries
 * by the address of that metadata and never sees keys or values, only the
 * key's 64-bit hash (for sketches and ghost lists).
 *
 * A policy instance is used by one thread at a time (the cache holds the
 * shard lock around every call), so policies need no locking of their own.
 * Every operation must be O(1) (amortised).
 *
 * Writing one: fill a static const kl_policy_ops with version =
 * KL_POLICY_VERSION, register it once with kl_policy_register, then name
 * it in kl_cache_opts.policy (or a memo's cache options).  Slots do not
 * set error messages: create returns KL_ENOMEM and the cache reports it
 * naming the policy.  A struct written for an older version keeps
 * working: new fields are only ever appended, and `version` tells the
 * library which ones the struct has.
 */
#ifndef KLEPTO_SYS_POLICY_H
#define KLEPTO_SYS_POLICY_H

#include "../export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** 2 added the hit-saturation hints, 3 deferrable_hits; 4 moved both out
 * of this struct into the optional `hints` block.  Structs of every
 * version from 1 on are accepted: the library reads the fields their
 * version has (for 2 and 3, the hints where those versions had them). */
#define KL_POLICY_VERSION 4

/** Optional facts about a policy that let the cache serve hits without
 * taking the shard lock (klepto/cache.h's fast reads).  A policy without
 * them (hints == NULL) is always correct, only slower under threads.
 * Both are promises the cache relies on: a wrong one corrupts the
 * policy's order, never the cache's memory. */
typedef struct kl_policy_hints {
    /** Lets hits skip the policy when they would change nothing, so that
     * they need no lock: when hit_saturation is true, a hit is a no-op
     * while the 64-bit word at byte offset hit_word of the entry's
     * metadata has every bit of hit_mask set (mask 0: hits never change
     * anything).  hit_word must be a multiple of 8 with the word inside
     * meta_size when the mask is not 0.  The cache may read that word
     * without the lock, from an entry being changed or freed (it only
     * decides whether to call on_hit later, under the lock).  Policies
     * whose hits always reorder entries (lru, lfu, ...) leave
     * hit_saturation false. */
    bool hit_saturation;
    uint32_t hit_word; /**< byte offset of the word in the metadata (see hit_saturation) */
    uint64_t hit_mask; /**< the bits of that word (see hit_saturation) */

    /** For policies whose hits always reorder entries: when true, the cache
     * may, while several threads hit it at once, record a hit as a
     * "referenced" mark on the entry instead of calling on_hit, and call
     * on_hit for it when the entry next comes up as the victim (a second
     * chance; the policy is then asked for a victim again).  Each such
     * call consumes the mark, so victim selection stays O(1) amortised.
     * LRU becomes CLOCK-like under concurrent hits and stays exact for a
     * single thread.  A policy whose victim may be the entry on_hit just
     * touched (mru) must leave it false.  Ignored when hit_saturation is
     * true. */
    bool deferrable_hits;
} kl_policy_hints;

/** An eviction policy: its name, the size of its per-entry metadata and
 * the calls the cache makes (under the shard's lock). */
typedef struct kl_policy_ops {
    unsigned version; /**< KL_POLICY_VERSION */
    const char *name; /**< "lru", "lfu", ...: the name kl_cache_opts.policy gives */
    size_t meta_size; /**< bytes of per-entry metadata, aligned to 8 by the cache */

    /** Create the policy state for a cache (or shard) holding at most
     * `capacity` entries; `seed` seeds any randomness.  0 or KL_ENOMEM. */
    int (*create)(void **state, size_t capacity, uint64_t seed);
    /** Release the state create made. */
    void (*destroy)(void *state);

    /** A new entry (metadata zeroed) was added.  May be called while the
     * cache is over capacity; the cache then asks for victims. */
    void (*on_insert)(void *state, void *meta, uint64_t hash);
    /** An existing entry was read. */
    void (*on_hit)(void *state, void *meta);
    /** The entry is leaving (evicted, deleted, expired); unlink it. */
    void (*on_remove)(void *state, void *meta);
    /** The entry to evict next, without removing it (the cache calls
     * on_remove after).  NULL when the policy holds no entries. */
    void *(*victim)(void *state);

    /** Version 4.  Optional (NULL: none): see kl_policy_hints.  Must live
     * as long as the struct. */
    const kl_policy_hints *hints;
} kl_policy_ops;

/** Make a policy defined outside the library known by its name, so that
 * a cache can use it (kl_cache_opts.policy, as for the built-in ones).
 * Returns 0, or KL_EINVAL (message set, sys/errors.h's kl_errmsg) when
 * ops or its name is NULL or empty, a required slot (create, destroy,
 * on_insert, on_hit, on_remove, victim) is NULL, its version is 0 or newer
 * than KL_POLICY_VERSION, its hints are inconsistent (see
 * kl_policy_hints), or the name is taken: by a built-in policy, by the
 * cache modes "inf" and "no", or by an earlier registration (there is no
 * unregistering).  KL_ENOMEM when out of memory.
 * Ownership: the library keeps the pointer, not a copy: *ops (and its
 * name and hints) must outlive every use of the library (a static const
 * struct).  Thread-safe, also against kl_policy_find and caches being
 * created meanwhile. */
KL_API int kl_policy_register(const kl_policy_ops *ops);

/** Look up a policy by name: a built-in one ("lru", "lfu", "mru", "rr",
 * "fifo", "sieve", "s3fifo", "wtinylfu", "arc", "lirs", "adaptive") or one
 * registered with kl_policy_register.  "inf" and "no" are cache modes,
 * not policies, and are handled by the cache.  NULL if unknown.
 * Thread-safe. */
KL_API const kl_policy_ops *kl_policy_find(const char *name);

/** The names of all built-in policies, NULL-terminated (registered ones are
 * not listed). */
KL_API const char *const *kl_policy_names(void);

#ifdef __cplusplus
}
#endif
#endif
