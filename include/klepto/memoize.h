/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The machinery behind KL_MEMOIZE (memo.h, which
 * includes this file and documents the macro).
 *
 * KL_MEMOIZE(ret, name, (type, arg), ...) { body } expands to three
 * functions: `name##__body` (the body as written), `name##_memo` (the memo,
 * made on first use by kl_memo_typed_get) and `name` itself, which turns
 * its arguments into 64-bit images, asks kl_memo_typed_call for a stored
 * result of the result type's kind, and otherwise runs the body and hands
 * the result to kl_memo_typed_finish.  Everything the expansion calls is
 * either a KL_API function named kl_memo_typed_* or a static inline helper
 * of this header; the kl__ / KL__ names below are private to the header.
 */
#ifndef KLEPTO_MEMOIZE_H
#define KLEPTO_MEMOIZE_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memo.h"
#include "usertype.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The C type of a typed function's result: how a stored value is decoded
 * into it on a hit. */
typedef enum kl_result_kind {
    KL_RESULT_DOUBLE,
    KL_RESULT_FLOAT,
    KL_RESULT_INT64, /**< int64_t, and long where it is the same type */
    KL_RESULT_INT,
    KL_RESULT_LONG,
    KL_RESULT_BOOL,
} kl_result_kind;

/* The kind of the object *ptr (C: _Generic; C++: overloads, at the end
 * of this header). */
#ifndef __cplusplus
#define KL__RESULT_KIND(ptr)                                                               \
    _Generic(*(ptr),                                                                       \
        double: KL_RESULT_DOUBLE,                                                          \
        float: KL_RESULT_FLOAT,                                                            \
        int64_t: KL_RESULT_INT64,                                                          \
        int: KL_RESULT_INT,                                                                \
        bool: KL_RESULT_BOOL,                                                              \
        default: KL_RESULT_LONG)
#else
#define KL__RESULT_KIND(ptr) kl__result_kind(ptr)
#endif

/** The state of one typed call, between kl_memo_typed_call and
 * kl_memo_typed_finish. */
typedef struct kl_memo_slot {
    kl_memo *memo;           /**< the memo called */
    kl_cache_ticket *ticket; /**< the duty to compute, when the call returned 1 */
} kl_memo_slot;

/** The hot path of the macro: build the key of the arguments' 64-bit
 * images (kl__image_of), look it up, and decode a found value as a result
 * of `kind` straight into *out.  0: *out holds the result; 1: compute,
 * then kl_memo_typed_finish; anything else: compute without storing (2: a
 * stored value that is not a result of `kind`; < 0: an error, counted in
 * kl_memo_info's errors). */
KL_API int kl_memo_typed_call(kl_memo *m, const uint64_t *images, size_t nargs,
                              kl_memo_slot *slot, kl_result_kind kind, void *out);
/** Store the computed result of a call that returned 1. */
KL_API void kl_memo_typed_finish(kl_memo_slot *slot, const kl_value *result);
/** The memo behind a KL_MEMOIZE function, made on first use.  `types` has
 * one code per argument: 'd' double, 'f' float, 'i' integer, 'b' bool,
 * 's' text. */
KL_API kl_memo *kl_memo_typed_get(kl_memo **holder, const char *name, const char *signature,
                                  const char *types);

/* ---- arguments ------------------------------------------------------------------ */

/* Argument → its 64-bit image, chosen by C type: a float's double bits,
 * an integer's int64 value, a bool's 0/1, a text's pointer (borrowed). */
#ifndef __cplusplus
#define kl__image_of(x)                                                                    \
    _Generic((x),                                                                          \
        double: kl__image_f64,                                                             \
        float: kl__image_f32,                                                              \
        bool: kl__image_bool,                                                              \
        char *: kl__image_text,                                                            \
        const char *: kl__image_text,                                                      \
        default: kl__image_int)(x)
#endif
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

/* Argument type → its code for kl_memo_typed_get. */
#ifndef __cplusplus
#define KL__TYPECODE(type, name)                                                           \
    _Generic((type){0},                                                                    \
        double: 'd',                                                                       \
        float: 'f',                                                                        \
        bool: 'b',                                                                         \
        char *: 's',                                                                       \
        const char *: 's',                                                                 \
        default: 'i')
#else
#define KL__TYPECODE(type, name) kl__typecode((type)0)
#endif

/** @def KL_VALUE_OF(x)
 * Argument → value, chosen by C type (no allocation: text is borrowed). */
#ifndef __cplusplus
#define KL_VALUE_OF(x)                                                                     \
    _Generic((x),                                                                          \
        double: kl_value_float,                                                            \
        float: kl__value_float32,                                                          \
        bool: kl_value_bool,                                                               \
        char *: kl_value_cstr_ref,                                                         \
        const char *: kl_value_cstr_ref,                                                   \
        default: kl__value_integer)(x)
#else
#define KL_VALUE_OF(x) kl__value_of(x)
#endif
static inline kl_value kl__value_float32(float f) { return kl_value_float((double)f); }
static inline kl_value kl__value_integer(int64_t i) { return kl_value_int(i); }

/* ---- the argument list: (type, name) pairs, mapped ---------------------------------- */

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

/* ---- array arguments and out-parameters ------------------------------------------- */

/** @{ */
/** Argument forms besides (type, name), for the list of KL_MEMOIZE (memo.h
 * documents them).  Each expands to a tuple whose first element says
 * which form it is; (type, name) has two elements, these four. */
#define KL_ARR(type, name, len) (KL__ARR, type, name, len)
#define KL_ARR_FIXED(type, name, n) (KL__FIX, type, name, n)
#define KL_OUT_ARR(type, name, len) (KL__OUT, type, name, len)
#define KL_OBJ(desc, type, name) (KL__OBJ, type, name, desc)
#define KL_OUT_OBJ(desc, type, name) (KL__OUTOBJ, type, name, desc)
/** @} */

/** One argument of a typed call beyond a scalar's image: an array is its
 * address and element count, an object its address and type. */
typedef struct kl_typed_arg {
    uint64_t image;          /**< a scalar's 64-bit image, or the address */
    size_t len;              /**< an array's element count; else 0 */
    const kl_usertype *type; /**< an object's type; else NULL */
} kl_typed_arg;

/** One out-parameter of a typed call: the caller's array, its element
 * count and element type (a kl_dtype) — or the caller's object and its
 * type (then len is 0 and dtype -1). */
typedef struct kl_typed_out {
    void *ptr;               /**< the caller's array or object */
    size_t len;              /**< the array's element count; 0 for an object */
    int dtype;               /**< the elements' kl_dtype; -1 for an object */
    const kl_usertype *type; /**< the object's type; NULL for an array */
} kl_typed_out;

/** kl_memo_typed_get for the general form: objtypes has one entry per
 * argument of the key (the type of a 'U' object argument, else NULL);
 * outtypes lists the types of object results (NULL-terminated).  Every
 * type is registered (kl_type_register): a name registered with another
 * codec makes the memo fail (NULL, the message names the type). */
KL_API kl_memo *kl_memo_typed_get_general(kl_memo **holder, const char *name,
                                          const char *signature, const char *types,
                                          const kl_usertype *const *objtypes,
                                          const kl_usertype *const *outtypes);
/** kl_memo_typed_call for the functions with array or object arguments or
 * out-parameters.  `types` codes: as kl_memo_typed_get's, and 'A' + a
 * kl_dtype for an array, 'U' for an object.  With nouts >
 * 0, a hit fills the out arrays (kind and out are not used); the stored
 * result of such a function is its out arrays (one: the nd-array; more: a
 * list of them).  A result whose element counts or types do not match
 * the out arrays is a result of another kind: 2.  Array elements are
 * read, never written; an out array is written only on a hit. */
KL_API int kl_memo_typed_call_args(kl_memo *m, const kl_typed_arg *args, size_t nargs,
                                   kl_memo_slot *slot, kl_result_kind kind, void *out,
                                   const kl_typed_out *outs, size_t nouts);
/** Store the out arrays as the result of a call that returned 1. */
KL_API void kl_memo_typed_finish_outs(kl_memo_slot *slot, const kl_typed_out *outs,
                                      size_t nouts);
/** Release a call that returned 1 without storing anything (the function
 * returned non-zero: the code reaches the caller, nothing is cached). */
KL_API void kl_memo_typed_abandon(kl_memo_slot *slot, int code);

/* The kl_dtype of an element type, computed from its properties (so that
 * it works alike in C and C++): floating (float, double), signed or
 * unsigned integers of 1, 2, 4, 8 bytes; bool is uint8.  A type wider
 * than 8 bytes (long double) fails to compile (a negative array size). */
#define KL__DTYPE_OF(t)                                                                    \
    ((int)(0 * sizeof(char[sizeof(t) <= 8 ? 1 : -1])) +                                    \
     (((t)0.5 != (t)0 && (t)2 != (t)1)                                                     \
          ? (sizeof(t) == 4 ? (int)KL_DT_FLOAT32 : (int)KL_DT_FLOAT64)                     \
      : ((t)-1 < (t)1)                                                                     \
          ? (sizeof(t) == 1   ? (int)KL_DT_INT8                                            \
             : sizeof(t) == 2 ? (int)KL_DT_INT16                                           \
             : sizeof(t) == 4 ? (int)KL_DT_INT32                                           \
                              : (int)KL_DT_INT64)                                          \
          : (sizeof(t) == 1   ? (int)KL_DT_UINT8                                           \
             : sizeof(t) == 2 ? (int)KL_DT_UINT16                                          \
             : sizeof(t) == 4 ? (int)KL_DT_UINT32                                          \
                              : (int)KL_DT_UINT64)))

/* Per-form pieces of the general expansion.  G_x(...) dispatches on the
 * number of elements of an argument tuple: 2 is (type, name), 4 one of
 * the forms above, named by its first element. */
#define KL__G(what, ...) KL__CAT(KL__G_##what##_, KL__NARGS(__VA_ARGS__))(__VA_ARGS__)
#define KL__G_ANY_2(t, n) 0
#define KL__G_ANY_4(k, t, n, l) 1
#define KL__G_PARAM_2(t, n) t n
#define KL__G_PARAM_4(k, t, n, l) KL__CAT(KL__PARAM, k)(t, n, l)
#define KL__PARAMKL__ARR(t, n, l) const t *n, size_t l
#define KL__PARAMKL__FIX(t, n, l) const t n[l]
#define KL__PARAMKL__OUT(t, n, l) t *n, size_t l
#define KL__PARAMKL__OBJ(t, n, l) const t *n
#define KL__PARAMKL__OUTOBJ(t, n, l) t *n
#define KL__G_ARGS_2(t, n) n
#define KL__G_ARGS_4(k, t, n, l) KL__CAT(KL__ARGS, k)(n, l)
#define KL__ARGSKL__ARR(n, l) n, l
#define KL__ARGSKL__FIX(n, l) n
#define KL__ARGSKL__OUT(n, l) n, l
#define KL__ARGSKL__OBJ(n, l) n
#define KL__ARGSKL__OUTOBJ(n, l) n
#define KL__G_SIG_2(t, n) #n ","
#define KL__G_SIG_4(k, t, n, l) KL__CAT(KL__SIG, k)(n)
#define KL__SIGKL__ARR(n) #n ","
#define KL__SIGKL__FIX(n) #n ","
#define KL__SIGKL__OUT(n)
#define KL__SIGKL__OBJ(n) #n ","
#define KL__SIGKL__OUTOBJ(n)
#define KL__G_CODE_2(t, n) KL__TYPECODE(t, n),
#define KL__G_CODE_4(k, t, n, l) KL__CAT(KL__CODE, k)(t)
#define KL__CODEKL__ARR(t) (char)('A' + KL__DTYPE_OF(t)),
#define KL__CODEKL__FIX(t) (char)('A' + KL__DTYPE_OF(t)),
#define KL__CODEKL__OUT(t)
#define KL__CODEKL__OBJ(t) 'U',
#define KL__CODEKL__OUTOBJ(t)
#define KL__G_TARG_2(t, n) {kl__image_of(n), 0, NULL},
#define KL__G_TARG_4(k, t, n, l) KL__CAT(KL__TARG, k)(n, l)
#define KL__TARGKL__ARR(n, l) {(uint64_t)(uintptr_t)(const void *)(n), (size_t)(l), NULL},
#define KL__TARGKL__FIX(n, l) {(uint64_t)(uintptr_t)(const void *)(n), (size_t)(l), NULL},
#define KL__TARGKL__OUT(n, l)
#define KL__TARGKL__OBJ(n, l) {(uint64_t)(uintptr_t)(const void *)(n), 0, &(l)},
#define KL__TARGKL__OUTOBJ(n, l)
#define KL__G_TOUT_2(t, n)
#define KL__G_TOUT_4(k, t, n, l) KL__CAT(KL__TOUT, k)(t, n, l)
#define KL__TOUTKL__ARR(t, n, l)
#define KL__TOUTKL__FIX(t, n, l)
#define KL__TOUTKL__OUT(t, n, l) {(void *)(n), (size_t)(l), KL__DTYPE_OF(t), NULL},
#define KL__TOUTKL__OBJ(t, n, l)
#define KL__TOUTKL__OUTOBJ(t, n, l) {(void *)(n), 0, -1, &(l)},
#define KL__G_OBJT_2(t, n) NULL,
#define KL__G_OBJT_4(k, t, n, l) KL__CAT(KL__OBJT, k)(l)
#define KL__OBJTKL__ARR(l) NULL,
#define KL__OBJTKL__FIX(l) NULL,
#define KL__OBJTKL__OUT(l)
#define KL__OBJTKL__OBJ(l) &(l),
#define KL__OBJTKL__OUTOBJ(l)
#define KL__G_OUTT_2(t, n)
#define KL__G_OUTT_4(k, t, n, l) KL__CAT(KL__OUTT, k)(l)
#define KL__OUTTKL__ARR(l)
#define KL__OUTTKL__FIX(l)
#define KL__OUTTKL__OUT(l)
#define KL__OUTTKL__OBJ(l)
#define KL__OUTTKL__OUTOBJ(l) &(l),
#define KL__GANY(a) KL__G(ANY, KL__UNPAREN a)
#define KL__GPARAM(a) KL__G(PARAM, KL__UNPAREN a)
#define KL__GARGS(a) KL__G(ARGS, KL__UNPAREN a)
#define KL__GSIG(a) KL__G(SIG, KL__UNPAREN a)
#define KL__GCODE(a) KL__G(CODE, KL__UNPAREN a)
#define KL__GTARG(a) KL__G(TARG, KL__UNPAREN a)
#define KL__GTOUT(a) KL__G(TOUT, KL__UNPAREN a)
#define KL__GOBJT(a) KL__G(OBJT, KL__UNPAREN a)
#define KL__GOUTT(a) KL__G(OUTT, KL__UNPAREN a)
#define KL__UNPAREN(...) __VA_ARGS__
#define KL__MAP1(f, sep, ...) KL__CAT(KL__MAP1_, KL__NARGS(__VA_ARGS__))(f, sep, __VA_ARGS__)
#define KL__MAP1_1(f, s, a) f(a)
#define KL__MAP1_2(f, s, a, ...) f(a) s() KL__MAP1_1(f, s, __VA_ARGS__)
#define KL__MAP1_3(f, s, a, ...) f(a) s() KL__MAP1_2(f, s, __VA_ARGS__)
#define KL__MAP1_4(f, s, a, ...) f(a) s() KL__MAP1_3(f, s, __VA_ARGS__)
#define KL__MAP1_5(f, s, a, ...) f(a) s() KL__MAP1_4(f, s, __VA_ARGS__)
#define KL__MAP1_6(f, s, a, ...) f(a) s() KL__MAP1_5(f, s, __VA_ARGS__)
#define KL__MAP1_7(f, s, a, ...) f(a) s() KL__MAP1_6(f, s, __VA_ARGS__)
#define KL__MAP1_8(f, s, a, ...) f(a) s() KL__MAP1_7(f, s, __VA_ARGS__)
/* 1 when any argument is of a form other than (type, name). */
#define KL__ANYGEN(...) KL__OR8_(KL__MAP1(KL__GANY, KL__COMMA, __VA_ARGS__), 0, 0, 0, 0, 0, 0, 0, 0)
#define KL__OR8_(...) KL__OR8(__VA_ARGS__)
#define KL__OR8(a, b, c, d, e, f, g, h, ...) KL__OR(a, KL__OR(b, KL__OR(c, KL__OR(d, KL__OR(e, KL__OR(f, KL__OR(g, h)))))))
#define KL__OR(a, b) KL__CAT(KL__OR_, KL__CAT(a, b))
#define KL__OR_00 0
#define KL__OR_01 1
#define KL__OR_10 1
#define KL__OR_11 1

/* ---- the macro ------------------------------------------------------------------ */

#define KL_MEMOIZE(ret, name, ...)                                                         \
    KL__CAT(KL__MEMOIZE_, KL__ANYGEN(__VA_ARGS__))(ret, name, __VA_ARGS__)

/* The general form: array arguments, out-parameters. */
#define KL__MEMOIZE_1(ret, name, ...)                                                      \
    static ret name##__body(KL__MAP1(KL__GPARAM, KL__COMMA, __VA_ARGS__));                 \
    static kl_memo *name##__holder;                                                        \
    kl_memo *name##_memo(void)                                                             \
    {                                                                                      \
        kl_memo *kl__m = __atomic_load_n(&name##__holder, __ATOMIC_ACQUIRE);               \
        static const char kl__types[] = {KL__MAP1(KL__GCODE, KL__NOSEP, __VA_ARGS__) 0};   \
        static const kl_usertype *const kl__objt[] = {                                     \
            KL__MAP1(KL__GOBJT, KL__NOSEP, __VA_ARGS__) NULL};                             \
        static const kl_usertype *const kl__outt[] = {                                     \
            KL__MAP1(KL__GOUTT, KL__NOSEP, __VA_ARGS__) NULL};                             \
        return kl__m ? kl__m                                                               \
                     : kl_memo_typed_get_general(&name##__holder, #name,                   \
                                                 KL__MAP1(KL__GSIG, KL__NOSEP, __VA_ARGS__) "", \
                                                 kl__types, kl__objt, kl__outt);           \
    }                                                                                      \
    ret name(KL__MAP1(KL__GPARAM, KL__COMMA, __VA_ARGS__))                                 \
    {                                                                                      \
        const kl_typed_arg kl__a[] = {KL__MAP1(KL__GTARG, KL__NOSEP, __VA_ARGS__)};        \
        const kl_typed_out kl__o[] = {KL__MAP1(KL__GTOUT, KL__NOSEP, __VA_ARGS__){0, 0, 0, 0}}; \
        const size_t kl__no = sizeof kl__o / sizeof kl__o[0] - 1;                          \
        kl_memo_slot kl__slot;                                                             \
        ret kl__r;                                                                         \
        int kl__rc = kl_memo_typed_call_args(name##_memo(), kl__a,                         \
                                             sizeof kl__a / sizeof kl__a[0], &kl__slot,    \
                                             KL__RESULT_KIND(&kl__r), &kl__r, kl__o,       \
                                             kl__no);                                      \
        if (KL__LIKELY(kl__rc == 0))                                                       \
            return kl__no ? (ret)0 : kl__r;                                                \
        kl__r = name##__body(KL__MAP1(KL__GARGS, KL__COMMA, __VA_ARGS__));                 \
        if (kl__rc == 1) {                                                                 \
            if (!kl__no) {                                                                 \
                kl_value kl__rv = KL_VALUE_OF(kl__r);                                      \
                kl_memo_typed_finish(&kl__slot, &kl__rv);                                  \
            } else if (kl__r == 0) {                                                       \
                kl_memo_typed_finish_outs(&kl__slot, kl__o, kl__no);                       \
            } else {                                                                       \
                kl_memo_typed_abandon(&kl__slot, (int)kl__r);                              \
            }                                                                              \
        }                                                                                  \
        return kl__r;                                                                      \
    }                                                                                      \
    static ret name##__body(KL__MAP1(KL__GPARAM, KL__COMMA, __VA_ARGS__))

/* The scalar form: every argument (type, name). */
#define KL__MEMOIZE_0(ret, name, ...)                                                      \
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
                                        KL__RESULT_KIND(&kl__r), &kl__r);                  \
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
} /* extern "C" */

/* C++ has no _Generic: the same choices by overloading.  Integers of any
 * type take the template (as `default:` does in C). */
static inline uint64_t kl__image_of(double d) { return kl__image_f64(d); }
static inline uint64_t kl__image_of(float f) { return kl__image_f32(f); }
static inline uint64_t kl__image_of(bool b) { return kl__image_bool(b); }
static inline uint64_t kl__image_of(char *s) { return kl__image_text(s); }
static inline uint64_t kl__image_of(const char *s) { return kl__image_text(s); }
template <class T> static inline uint64_t kl__image_of(T i) { return kl__image_int((int64_t)i); }

static inline constexpr char kl__typecode(double) { return 'd'; }
static inline constexpr char kl__typecode(float) { return 'f'; }
static inline constexpr char kl__typecode(bool) { return 'b'; }
static inline constexpr char kl__typecode(char *) { return 's'; }
static inline constexpr char kl__typecode(const char *) { return 's'; }
template <class T> static inline constexpr char kl__typecode(T) { return 'i'; }

static inline kl_value kl__value_of(double d) { return kl_value_float(d); }
static inline kl_value kl__value_of(float f) { return kl__value_float32(f); }
static inline kl_value kl__value_of(bool b) { return kl_value_bool(b); }
static inline kl_value kl__value_of(char *s) { return kl_value_cstr_ref(s); }
static inline kl_value kl__value_of(const char *s) { return kl_value_cstr_ref(s); }
template <class T> static inline kl_value kl__value_of(T i) { return kl__value_integer((int64_t)i); }

static inline kl_result_kind kl__result_kind(double *) { return KL_RESULT_DOUBLE; }
static inline kl_result_kind kl__result_kind(float *) { return KL_RESULT_FLOAT; }
static inline kl_result_kind kl__result_kind(int64_t *) { return KL_RESULT_INT64; }
static inline kl_result_kind kl__result_kind(int *) { return KL_RESULT_INT; }
static inline kl_result_kind kl__result_kind(bool *) { return KL_RESULT_BOOL; }
template <class T> static inline kl_result_kind kl__result_kind(T *) { return KL_RESULT_LONG; }
#endif
#endif
