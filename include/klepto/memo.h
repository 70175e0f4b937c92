/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Memoized functions.
 *
 * A memo binds a function, a signature, a key generator (keygen.h), a cache
 * (cache.h) and optionally an archive (archive.h).  One call: normalise the
 * arguments, build the key, look in memory, then in the archive (a "load"),
 * else call the function and store the result (a "miss").  Concurrent
 * callers of one missing key compute it once.
 *
 * Two faces:
 *  - generic: kl_memo_new() over a function taking kl_values;
 *  - typed: KL_MEMOIZE(ret, name, (type, arg), ...) { body } turns a plain
 *    C function into a memoized one (see the end of this file; the macro's
 *    machinery is in memoize.h, included here).
 *
 * Thread-safety: kl_memo_call, key, lookup, fetch, forget, info_get,
 * foreach, clear, dump, dump_keys, load, load_keys and archived may be
 * called from many threads at once (foreach sees each shard of memory as
 * it was at one moment; calls made meanwhile may or may not show).
 * kl_memo_configure, set_archive, set_archived and free must not run
 * concurrently with anything else on the same memo.
 */
#ifndef KLEPTO_MEMO_H
#define KLEPTO_MEMO_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archive.h"
#include "cache.h"
#include "codec.h"
#include "error.h"
#include "keygen.h"
#include "keymap.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The function being memoized: fill *result (owned by the library after
 * return) and return 0, or return a negative error (KL_EFUNC or any KL_E*
 * code) — a failed call is never cached and its error reaches the caller. */
typedef int (*kl_memo_fn)(void *userdata, const kl_call *call, kl_value *result);

/** Options of kl_memo_new() and kl_memo_configure(): start from
 * KL_MEMO_OPTS_INIT. */
typedef struct kl_memo_opts {
    unsigned version;             /**< KL_MEMO_OPTS_VERSION */
    const char *signature;        /**< "x, y=2.5, *args, **kw"; NULL = all varargs */
    kl_cache_opts cache;          /**< policy, maxsize, maxbytes, ttl, purge, ... */
    const char *archive;          /**< archive URL (archive.h), or NULL */
    kl_keymap_opts keymap;        /**< default: raw, untyped, flat */
    const char *ignore;           /**< names/indices/"*"/"**", comma-separated */
    int tol;                      /**< rounding decimal places; KL_TOL_NONE = off */
    kl_rounding rounding;         /**< simple / shallow / deep */
    bool safe;                    /**< key/encode failures → uncached call */
    const char *tag;              /**< namespaces stored results: bump it when the
                                     function changes (NULL = none) */
} kl_memo_opts;
/** The version of kl_memo_opts this header declares. */
#define KL_MEMO_OPTS_VERSION 1
/** The default options: no signature, the default cache, no archive. */
#define KL_MEMO_OPTS_INIT                                                                   \
    {KL_MEMO_OPTS_VERSION, NULL, KL_CACHE_OPTS_INIT, NULL, KL_KEYMAP_OPTS_INIT, NULL,       \
     KL_TOL_NONE, KL_ROUND_SIMPLE, false, NULL}

/** A memo (opaque): kl_memo_new() to kl_memo_free(). */
typedef struct kl_memo kl_memo;

/** Create a memo.  `name` is copied (used in messages).  Returns 0,
 * KL_EINVAL (bad signature, option, ignore list — named in the message),
 * archive open errors, KL_ENOMEM.  Free with kl_memo_free. */
KL_API int kl_memo_new(kl_memo **out, const char *name, kl_memo_fn fn, void *userdata,
                const kl_memo_opts *opts);
/** Writes back pending entries and the memo's run statistics (as
 * kl_memo_dump does), closes the memo's own archive, releases.  Returns
 * the first error of that flush (a failed statistics write is logged, not
 * returned).  Safe on NULL. */
KL_API int kl_memo_free(kl_memo *m);

/** Replace the options (the in-memory cache is emptied; the archive named
 * by opts is opened).  Not concurrently with calls. */
KL_API int kl_memo_configure(kl_memo *m, const kl_memo_opts *opts);

/** Call through the cache.  *result is owned by the caller (kl_value_free).
 * Returns 0, the function's error, KL_EINVAL (call does not fit the
 * signature), KL_ETYPE/KL_ERANGE/KL_ETOOBIG (key could not be built —
 * unless safe, which calls uncached instead and counts the call as a
 * miss and an error, as klepto counts it), archive errors are counted and
 * the result still returned. */
KL_API int kl_memo_call(kl_memo *m, const kl_call *call, kl_value *result);
/** The key a call maps to, without calling (appended to key). */
KL_API int kl_memo_key(kl_memo *m, const kl_call *call, kl_buf *key);
/** klepto's lookup: the result of a call held in memory, without calling;
 * KL_ENOTFOUND if memory has none (the archive is not consulted).  It has
 * no effect: no statistics, no policy update, no insertion, no eviction.
 * *result is owned by the caller.  Also KL_EINVAL/KL_ETYPE/KL_ERANGE/
 * KL_ETOOBIG when the call's key cannot be built, KL_ENOMEM. */
KL_API int kl_memo_lookup(kl_memo *m, const kl_call *call, kl_value *result);
/** The stored result of a call, read through: memory, then the archive (a
 * result found there is copied into memory and counted as a load); never
 * calls the function and counts no hit or miss.  KL_ENOTFOUND if neither
 * holds it; archive errors as kl_archive_get. */
KL_API int kl_memo_fetch(kl_memo *m, const kl_call *call, kl_value *result);
/** Remove a call's result from memory and archive. KL_ENOTFOUND if none. */
KL_API int kl_memo_forget(kl_memo *m, const kl_call *call);

/** A memo's statistics (kl_memo_info_get). */
typedef struct kl_memo_info {
    /** @{ */
    /** as in kl_cache_stats (cache.h) */
    uint64_t hit, miss, load, errors, evictions, expirations;
    size_t size, maxsize, bytes;
    /** @} */
    const char *policy; /**< borrowed: lives as long as the memo's configuration */
} kl_memo_info;
/** The memo's statistics into *out. */
KL_API void kl_memo_info_get(const kl_memo *m, kl_memo_info *out);

/** One entry in memory, as kl_memo_foreach shows it; everything borrowed
 * for the duration of the callback only. */
typedef struct kl_memo_entry {
    const uint8_t *key; /**< the archive key (as kl_memo_key gives it) */
    size_t klen;        /**< its length in bytes */
    const kl_value *args;  /**< that key decoded (with a tag: [tag, key]) */
    const kl_value *value; /**< the stored result, decoded */
} kl_memo_entry;
/** Return 0 to go on; anything else stops kl_memo_foreach, which returns it. */
typedef int (*kl_memo_entry_fn)(void *ctx, const kl_memo_entry *entry);
/** klepto's __cache__(): visit every entry in memory, in no particular
 * order, without disturbing anything (no statistics, no policy update,
 * no expiry; expired entries are skipped).  The callback runs with no
 * lock held and may call the memo (a call made from it may or may not be
 * visited).  Returns 0, the callback's non-zero value, KL_ENOMEM, or
 * KL_ECORRUPT if a stored value does not decode. */
KL_API int kl_memo_foreach(kl_memo *m, kl_memo_entry_fn fn, void *ctx);

/** Empty memory; keep_stats=false also zeroes the statistics (what was
 * counted before still reaches the archive's run statistics). */
KL_API int kl_memo_clear(kl_memo *m, bool keep_stats);
/** klepto's dump(): write every entry in memory to the archive, and, when
 * the archive was opened with ?stats=true, the memo's run statistics
 * (kl_run_stats, archive.h): its hits, misses,
 * loads, evictions, errors and the measured run time of its misses, into
 * a record of its own that each dump rewrites (a failed statistics write
 * is logged at warn level, not returned).  When the
 * archive is a cached front (?cached=true, cached.h) its memory is dumped
 * to the storage too, so the results persist now, not at kl_memo_free.
 * Without an archive, or with it switched off (kl_memo_set_archived), it
 * does nothing and returns 0 (klepto's null archive).  Archive errors. */
KL_API int kl_memo_dump(kl_memo *m);
/** klepto's dump(*args): as kl_memo_dump for the results of the n given
 * calls that memory holds (the others are skipped).  *dumped (may be NULL)
 * gets how many were written.  Errors as kl_memo_dump, KL_EINVAL for
 * n > 0 and no calls, key errors as kl_memo_key (nothing is written after
 * the first error). */
KL_API int kl_memo_dump_keys(kl_memo *m, size_t n, const kl_call *calls, size_t *dumped);
/** klepto's load(): read the archive's entries into memory (a cached
 * front's storage included), replacing what memory holds for the same
 * keys, within the cache's limits; no statistics are counted.  *loaded
 * (may be NULL) gets how many.  Without an archive, or with it switched
 * off, it does nothing and returns 0.  Archive errors. */
KL_API int kl_memo_load(kl_memo *m, size_t *loaded);
/** klepto's load(*args): as kl_memo_load for the results of the n given
 * calls (those the archive lacks are skipped). */
KL_API int kl_memo_load_keys(kl_memo *m, size_t n, const kl_call *calls, size_t *loaded);

/** klepto's archive(obj): put the archive at URL in place of the current
 * one (NULL: none); the memo owns it and the old one is closed (after it
 * got what it was still owed, write_back entries).  Memory is kept and is
 * not copied into the new archive: call kl_memo_dump for that.  Switches
 * the archive on (kl_memo_set_archived).  Open errors leave the memo as
 * it was.  Not concurrently with anything else on the memo. */
KL_API int kl_memo_set_archive(kl_memo *m, const char *url);
/** The memo's archive (borrowed, also while switched off), or NULL. */
KL_API kl_archive *kl_memo_archive(const kl_memo *m);
/** klepto's archived(): true when the memo has an archive switched on. */
KL_API bool kl_memo_archived(const kl_memo *m);
/** klepto's archived(on): switch the use of the archive off (calls, dump
 * and load then ignore it; it stays open and attached) or back on.  Memory
 * is kept either way and nothing is copied.  KL_EINVAL when turning on a
 * memo without an archive.  Not concurrently with anything else on m. */
KL_API int kl_memo_set_archived(kl_memo *m, bool on);
/** The name the memo was created with (borrowed). */
KL_API const char *kl_memo_name(const kl_memo *m);

/* ---- the typed face ---------------------------------------------------------- */
/** @def KL_MEMOIZE(ret, name, ...)
 * The typed face:
 * @code
 *   KL_MEMOIZE(double, rosen, (double, x), (double, y))
 *   {
 *       return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
 *   }
 * @endcode
 * defines `double rosen(double x, double y)`, which consults the cache, and
 * `kl_memo *rosen_memo(void)` to configure and inspect it.  Argument types:
 * double, float, int64_t, int, long, unsigned, bool, const char * (text).
 * Result types: double, float, int64_t, int, long, bool.  Archive keys (and
 * kl_memo_key) are those of the generic memo with signature "x, y", so C
 * and generic callers share results.  In memory, a function whose
 * arguments are all numbers or booleans is keyed by the arguments' raw
 * bits when its options allow (raw keymap, no rounding, nothing ignored):
 * a hit builds no canonical key, kl_memo_lookup/forget take calls that fit
 * the C types (else KL_ETYPE), and kl_memo_load brings back the archive
 * entries whose keys are calls of this function.  A typed call cannot
 * report errors: when a key or an archive fails it computes uncached and
 * counts the error (kl_memo_info; kl_errmsg says why).  Up to 8 entries in
 * the argument list.  rosen_memo() returns NULL only if memory ran out or
 * a user type of the function conflicts (below).  The macro works from C11
 * and from C++11 alike (memoize.h chooses by _Generic in C, by overloading
 * in C++).
 *
 * Arrays, structs and out-parameters — other entries of the list:
 *
 *   KL_ARR(double, x, n)        const double *x, size_t n: an array argument
 *   KL_ARR_FIXED(float, w, 3)   const float w[3]
 *   KL_OBJ(desc, params, p)     const params *p: an object of a user type
 *   KL_OUT_ARR(double, g, m)    double *g, size_t m: an array result
 *   KL_OUT_OBJ(desc, result, r) result *r: an object result
 *
 *   KL_MEMOIZE(double, f, KL_ARR(double, x, n)) { ... }        f(x, n)
 *   KL_MEMOIZE(int, grad, KL_ARR(double, x, n), KL_OUT_ARR(double, g, m))
 *   KL_MEMOIZE(int, run, KL_OBJ(params_type, params, p),
 *              KL_OUT_OBJ(result_type, result, out))
 *
 * An array argument is keyed by its elements, whatever its address: in
 * the archive as a 1-d nd-array of its element type (any of int8..int64,
 * uint8..uint64, float, double: array([...], dtype=float64) when read
 * back), in memory by its bytes (a function of one array is keyed by the
 * caller's elements in place: a hit copies nothing).  Its length is part
 * of the key.  Rounding (tol) applies to the elements under
 * KL_ROUND_SHALLOW or KL_ROUND_DEEP, as klepto's shallow_round rounds a
 * sequence's items; KL_ROUND_SIMPLE (the default) rounds scalar arguments
 * only, as klepto's simple_round does.  An object argument (usertype.h) is
 * keyed by what its type's encode writes, as [name, layout, value] under
 * CBOR tag 27; a hit encodes it into a stack buffer and allocates nothing.
 *
 * Out-parameters: a function with any returns an integer code.  On a hit
 * the out arrays and objects are filled from the stored result and the
 * call returns 0 without running the body; on a miss the body runs, and
 * its result is stored only when it returns 0 — any other code reaches
 * the caller and nothing is cached.  The stored result is the out array
 * as an nd-array or the object (one out-parameter), or a list of them.  A
 * stored result that does not fit the out-parameters (another length or
 * element type, an object of another type or version) is never copied
 * into them: the body runs, and its result is returned (not stored over
 * the other).
 *
 * Bad arguments — a NULL array with a non-zero length, an array whose key
 * would exceed KL_KEY_MAX, a NULL object, an encode that fails or writes
 * bytes that do not decode — are never read past: the call computes
 * uncached, counts an error, and kl_errmsg names the argument.  The body
 * then gets the arguments as given.
 */
#ifdef __cplusplus
}
#endif

#include "memoize.h" /* KL_MEMOIZE's machinery */
#endif
