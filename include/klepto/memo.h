/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * klepto/memo.h — memoized functions.
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
 * Thread-safety: kl_memo_call/key/lookup/info/forget/dump/load may be
 * called from many threads at once.  kl_memo_configure, set_archive and
 * free must not run concurrently with anything else on the same memo.
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

/* The function being memoized: fill *result (owned by the library after
 * return) and return 0, or return a negative error (KL_EFUNC or any KL_E*
 * code) — a failed call is never cached and its error reaches the caller. */
typedef int (*kl_memo_fn)(void *userdata, const kl_call *call, kl_value *result);

typedef struct kl_memo_opts {
    unsigned version;             /* KL_MEMO_OPTS_VERSION */
    const char *signature;        /* "x, y=2.5, *args, **kw"; NULL = all varargs */
    kl_cache_opts cache;          /* policy, maxsize, maxbytes, ttl, purge, ... */
    const char *archive;          /* archive URL (archive.h), or NULL */
    kl_keymap_opts keymap;        /* default: raw, untyped, flat */
    const char *ignore;           /* names/indices/"*"/"**", comma-separated */
    int tol;                      /* rounding decimal places; KL_TOL_NONE = off */
    kl_rounding rounding;         /* simple / shallow / deep */
    bool safe;                    /* key/encode failures → uncached call */
    const char *tag;              /* namespaces stored results: bump it when the
                                     function changes (NULL = none) */
} kl_memo_opts;
#define KL_MEMO_OPTS_VERSION 1
#define KL_MEMO_OPTS_INIT                                                                   \
    {KL_MEMO_OPTS_VERSION, NULL, KL_CACHE_OPTS_INIT, NULL, KL_KEYMAP_OPTS_INIT, NULL,       \
     KL_TOL_NONE, KL_ROUND_SIMPLE, false, NULL}

typedef struct kl_memo kl_memo;

/* Create a memo.  `name` is copied (used in messages).  Returns 0,
 * KL_EINVAL (bad signature, option, ignore list — named in the message),
 * archive open errors, KL_ENOMEM.  Free with kl_memo_free. */
KL_API int kl_memo_new(kl_memo **out, const char *name, kl_memo_fn fn, void *userdata,
                const kl_memo_opts *opts);
/* Writes back pending entries, closes the memo's own archive, releases.
 * Returns the first error of that flush.  Safe on NULL. */
KL_API int kl_memo_free(kl_memo *m);

/* Replace the options (the in-memory cache is emptied; the archive named
 * by opts is opened).  Not concurrently with calls. */
KL_API int kl_memo_configure(kl_memo *m, const kl_memo_opts *opts);

/* Call through the cache.  *result is owned by the caller (kl_value_free).
 * Returns 0, the function's error, KL_EINVAL (call does not fit the
 * signature), KL_ETYPE/KL_ERANGE/KL_ETOOBIG (key could not be built —
 * unless safe, which calls uncached instead and counts the call as a
 * miss and an error, as klepto counts it), archive errors are counted and
 * the result still returned. */
KL_API int kl_memo_call(kl_memo *m, const kl_call *call, kl_value *result);
/* The key a call maps to, without calling (appended to key). */
KL_API int kl_memo_key(kl_memo *m, const kl_call *call, kl_buf *key);
/* The stored result of a call (memory, then archive), without calling;
 * KL_ENOTFOUND if none.  Counts no hit or miss (a result found in the
 * archive is copied into memory and counted as a load). */
KL_API int kl_memo_lookup(kl_memo *m, const kl_call *call, kl_value *result);
/* Remove a call's result from memory and archive. KL_ENOTFOUND if none. */
KL_API int kl_memo_forget(kl_memo *m, const kl_call *call);

typedef struct kl_memo_info {
    uint64_t hit, miss, load, errors, evictions, expirations;
    size_t size, maxsize, bytes;
    const char *policy; /* borrowed: lives as long as the memo's configuration */
} kl_memo_info;
KL_API void kl_memo_info_get(const kl_memo *m, kl_memo_info *out);

/* Empty memory; keep_stats=false also zeroes the statistics. */
KL_API int kl_memo_clear(kl_memo *m, bool keep_stats);
/* Write memory to the archive / read the archive into memory. */
KL_API int kl_memo_dump(kl_memo *m);
KL_API int kl_memo_load(kl_memo *m, size_t *loaded);
/* Attach the archive at URL (NULL detaches); the memo owns it. Memory
 * entries are written to the new archive. Not concurrently with calls. */
KL_API int kl_memo_set_archive(kl_memo *m, const char *url);
/* The attached archive (borrowed), or NULL. */
KL_API kl_archive *kl_memo_archive(const kl_memo *m);
KL_API const char *kl_memo_name(const kl_memo *m);

/* ---- the typed face ----------------------------------------------------------
 *
 *   KL_MEMOIZE(double, rosen, (double, x), (double, y))
 *   {
 *       return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
 *   }
 *
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
