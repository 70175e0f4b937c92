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
 *    C function into a memoized one (see the end of this file).
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
 * unless safe, which calls uncached instead), archive errors are counted
 * and the result still returned. */
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
 * counts the error (kl_memo_info).  Up to 8 arguments.  rosen_memo()
 * returns NULL only if memory ran out.
 */

/* Internal to the macro: the state of one typed call. */
typedef struct kl_memo_slot {
    kl_memo *memo;
    kl_cache_ticket *ticket;
} kl_memo_slot;

/* The hot path of the macro: build the key of the arguments' 64-bit
 * images (kl__image_of), look it up, and decode a found value with `take`
 * straight into *out.  0: *out holds the result; 1: compute, then
 * kl_memo_typed_finish; <0: compute without storing (the error is
 * counted). */
KL_API int kl_memo_typed_call(kl_memo *m, const uint64_t *images, size_t nargs, kl_memo_slot *slot,
                       kl_cache_take_fn take, void *out);
/* take functions for the result types: decode value bytes into *out. */
KL_API int kl__take_double(void *out, const uint8_t *v, size_t n);
KL_API int kl__take_float(void *out, const uint8_t *v, size_t n);
KL_API int kl__take_i64(void *out, const uint8_t *v, size_t n);
KL_API int kl__take_int(void *out, const uint8_t *v, size_t n);
KL_API int kl__take_long(void *out, const uint8_t *v, size_t n);
KL_API int kl__take_bool(void *out, const uint8_t *v, size_t n);
#define KL__TAKE(ptr)                                                                      \
    _Generic(*(ptr),                                                                       \
        double: kl__take_double,                                                           \
        float: kl__take_float,                                                             \
        int64_t: kl__take_i64,                                                             \
        int: kl__take_int,                                                                 \
        bool: kl__take_bool,                                                               \
        default: kl__take_long)
KL_API void kl_memo_typed_finish(kl_memo_slot *slot, const kl_value *result);
/* The memo behind a KL_MEMOIZE function, made on first use.  `types` has
 * one code per argument: 'd' double, 'f' float, 'i' integer, 'b' bool,
 * 's' text. */
KL_API kl_memo *kl_memo_typed_get(kl_memo **holder, const char *name, const char *signature,
                           const char *types);

#define KL__LIKELY(x) __builtin_expect(!!(x), 1)
#define KL__CAT(a, b) KL__CAT_(a, b)
#define KL__CAT_(a, b) a##b
#define KL__NARGS(...) KL__NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define KL__NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define KL__MAP(f, sep, ...) KL__CAT(KL__MAP_, KL__NARGS(__VA_ARGS__))(f, sep, __VA_ARGS__)
#define KL__MAP_1(f, s, a) f a
#define KL__MAP_2(f, s, a, ...) f a s() KL__MAP_1(f, s, __VA_ARGS__)
#define KL__MAP_3(f, s, a, ...) f a s() KL__MAP_2(f, s, __VA_ARGS__)
#define KL__MAP_4(f, s, a, ...) f a s() KL__MAP_3(f, s, __VA_ARGS__)
#define KL__MAP_5(f, s, a, ...) f a s() KL__MAP_4(f, s, __VA_ARGS__)
#define KL__MAP_6(f, s, a, ...) f a s() KL__MAP_5(f, s, __VA_ARGS__)
#define KL__MAP_7(f, s, a, ...) f a s() KL__MAP_6(f, s, __VA_ARGS__)
#define KL__MAP_8(f, s, a, ...) f a s() KL__MAP_7(f, s, __VA_ARGS__)
#define KL__COMMA() ,
#define KL__NOSEP()
#define KL__PARAM(type, name) type name
#define KL__ARGNAME(type, name) name
#define KL__SIGNAME(type, name) #name ","
#define KL__IMAGE(type, name) kl__image_of(name)
#define KL__TYPECODE(type, name)                                                           \
    _Generic((type){0},                                                                    \
        double: 'd',                                                                       \
        float: 'f',                                                                        \
        bool: 'b',                                                                         \
        char *: 's',                                                                       \
        const char *: 's',                                                                 \
        default: 'i')

/* Argument → its 64-bit image, chosen by C type: a float's double bits,
 * an integer's int64 value, a bool's 0/1, a text's pointer (borrowed). */
#define kl__image_of(x)                                                                    \
    _Generic((x),                                                                          \
        double: kl__image_f64,                                                             \
        float: kl__image_f32,                                                              \
        bool: kl__image_bool,                                                              \
        char *: kl__image_text,                                                            \
        const char *: kl__image_text,                                                      \
        default: kl__image_int)(x)
static inline uint64_t kl__image_f64(double d)
{
    union {
        double d;
        uint64_t u;
    } x = {d};
    return x.u;
}
static inline uint64_t kl__image_f32(float f) { return kl__image_f64((double)f); }
static inline uint64_t kl__image_bool(bool b) { return b ? 1u : 0u; }
static inline uint64_t kl__image_text(const char *s) { return (uint64_t)(uintptr_t)s; }
static inline uint64_t kl__image_int(int64_t i) { return (uint64_t)i; }

/* Argument → value, chosen by C type (no allocation: text is borrowed). */
#define KL_VALUE_OF(x)                                                                     \
    _Generic((x),                                                                          \
        double: kl_value_float,                                                            \
        float: kl__value_float32,                                                          \
        bool: kl_value_bool,                                                               \
        char *: kl_value_cstr_ref,                                                         \
        const char *: kl_value_cstr_ref,                                                   \
        default: kl__value_integer)(x)
static inline kl_value kl__value_float32(float f) { return kl_value_float((double)f); }
static inline kl_value kl__value_integer(int64_t i) { return kl_value_int(i); }

#define KL_MEMOIZE(ret, name, ...)                                                         \
    static ret name##__body(KL__MAP(KL__PARAM, KL__COMMA, __VA_ARGS__));                   \
    static kl_memo *name##__holder;                                                        \
    kl_memo *name##_memo(void)                                                             \
    {                                                                                      \
        kl_memo *kl__m = __atomic_load_n(&name##__holder, __ATOMIC_ACQUIRE);               \
        static const char kl__types[] = {KL__MAP(KL__TYPECODE, KL__COMMA, __VA_ARGS__), 0}; \
        return kl__m ? kl__m                                                               \
                     : kl_memo_typed_get(&name##__holder, #name,                           \
                                         KL__MAP(KL__SIGNAME, KL__NOSEP, __VA_ARGS__),     \
                                         kl__types);                                       \
    }                                                                                      \
    ret name(KL__MAP(KL__PARAM, KL__COMMA, __VA_ARGS__))                                   \
    {                                                                                      \
        const uint64_t kl__img[] = {KL__MAP(KL__IMAGE, KL__COMMA, __VA_ARGS__)};           \
        kl_memo_slot kl__slot;                                                             \
        ret kl__r;                                                                         \
        int kl__rc = kl_memo_typed_call(name##_memo(), kl__img,                            \
                                        sizeof kl__img / sizeof kl__img[0], &kl__slot,     \
                                        KL__TAKE(&kl__r), &kl__r);                         \
        if (KL__LIKELY(kl__rc == 0))                                                       \
            return kl__r;                                                                  \
        kl__r = name##__body(KL__MAP(KL__ARGNAME, KL__COMMA, __VA_ARGS__));                \
        if (kl__rc == 1) {                                                                 \
            kl_value kl__rv = KL_VALUE_OF(kl__r);                                          \
            kl_memo_typed_finish(&kl__slot, &kl__rv);                                      \
        }                                                                                  \
        return kl__r;                                                                      \
    }                                                                                      \
    static ret name##__body(KL__MAP(KL__PARAM, KL__COMMA, __VA_ARGS__))

#ifdef __cplusplus
}
#endif
#endif
