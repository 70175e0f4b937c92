/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The dynamic value type.
 *
 * A kl_value is a small tagged struct: null, bool, int64, double, UTF-8
 * text, bytes, array (a tuple or a list: both are arrays, the flag records
 * which one for rendering), map (insertion order kept) and typed numeric
 * N-d arrays.  Values are plain structs: scalars cost nothing to build and
 * need no freeing; text, bytes, arrays, maps and nd-arrays own heap memory
 * unless marked KL_VALUE_BORROWED.
 *
 * Ownership: a value produced by a kl_value_* constructor that returns int,
 * or by a decoder, belongs to the caller and is released with
 * kl_value_free().  Values built with the inline kl_value_*_ref()
 * constructors borrow the caller's memory and must not be freed (freeing
 * them is a no-op).  Containers own their items.
 *
 * Thread-safety: values are plain data; concurrent reads are safe,
 * concurrent writes to one value are not.
 */
#ifndef KLEPTO_VALUE_H
#define KLEPTO_VALUE_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The type of a kl_value (kl_value.type). */
typedef enum kl_type {
    KL_NULL = 0, /**< None */
    KL_BOOL,     /**< a boolean (u.b) */
    KL_INT,      /**< a 64-bit signed integer (u.i) */
    KL_FLOAT,    /**< a double (u.f) */
    KL_TEXT,     /**< UTF-8 text (u.s) */
    KL_BYTES,    /**< bytes (u.s) */
    KL_ARRAY,    /**< a tuple or a list (u.a; KL_VALUE_TUPLE says which) */
    KL_MAP,      /**< a map, insertion order kept (u.m) */
    KL_NDARRAY,  /**< a typed numeric N-d array (u.nd) */
    KL_IGNORED   /**< the marker of an ignored argument; renders as NULL */
} kl_type;

/** Element types of typed numeric arrays. */
typedef enum kl_dtype {
    KL_DT_INT8 = 0, /**< int8_t */
    KL_DT_INT16,    /**< int16_t */
    KL_DT_INT32,    /**< int32_t */
    KL_DT_INT64,    /**< int64_t */
    KL_DT_UINT8,    /**< uint8_t */
    KL_DT_UINT16,   /**< uint16_t */
    KL_DT_UINT32,   /**< uint32_t */
    KL_DT_UINT64,   /**< uint64_t */
    KL_DT_FLOAT32,  /**< float */
    KL_DT_FLOAT64   /**< double */
} kl_dtype;

/** Size in bytes of one element of a dtype (0 for an unknown dtype). */
KL_API size_t kl_dtype_size(kl_dtype dt);

/* kl_value.flags */
#define KL_VALUE_BORROWED 0x01u /**< payload memory is not owned: never freed */
#define KL_VALUE_TUPLE 0x02u    /**< an array that renders as (…) not […] */
#define KL_VALUE_OBJECT 0x04u   /**< an array [type name, layout, value]: an object
                                   of a user type (usertype.h), encoded as CBOR
                                   tag 27 ("object with type name and
                                   constructor arguments"), never equal to a
                                   plain array */

/** The most dimensions an nd-array value may have. */
#define KL_NDARRAY_MAXDIM 8

/** A value: see struct kl_value. */
typedef struct kl_value kl_value;

/** A dynamic value: a type tag, flags and the payload of that type.  32
 * bytes; plain data (see the file's notes on ownership). */
struct kl_value {
    uint8_t type;  /**< kl_type */
    uint8_t flags; /**< KL_VALUE_* */
    /** The payload, by type. */
    union {
        bool b;    /**< KL_BOOL */
        int64_t i; /**< KL_INT */
        double f;  /**< KL_FLOAT */
        struct {
            const char *ptr; /**< text: UTF-8, not necessarily NUL-terminated */
            size_t len;      /**< bytes at ptr */
        } s;                 /**< KL_TEXT and KL_BYTES */
        struct {
            kl_value *items; /**< the items */
            size_t len, cap; /**< items held, room for */
        } a;                 /**< KL_ARRAY */
        struct {
            kl_value *items; /**< 2*len values: key0, value0, key1, value1 … */
            size_t len, cap; /**< len = number of pairs */
        } m;                 /**< KL_MAP */
        struct {
            void *data;      /**< row-major, little-endian elements */
            size_t *shape;   /**< ndim sizes (owned; kept out of line so that
                                every kl_value stays 32 bytes) */
            uint8_t ndim;    /**< number of dimensions */
            uint8_t dtype;   /**< kl_dtype */
        } nd;                /**< KL_NDARRAY */
    } u;
};

/* Inline constructors: no allocation, nothing to free. */
/** A null value (None).  No allocation, nothing to free. */
static inline kl_value kl_value_null(void)
{
    kl_value v;
    memset(&v, 0, sizeof v);
    return v;
}
/** The marker of an ignored argument (KL_IGNORED). */
static inline kl_value kl_value_ignored(void)
{
    kl_value v = kl_value_null();
    v.type = KL_IGNORED;
    return v;
}
/** A boolean.  No allocation, nothing to free. */
static inline kl_value kl_value_bool(bool b)
{
    kl_value v = kl_value_null();
    v.type = KL_BOOL;
    v.u.b = b;
    return v;
}
/** An integer.  No allocation, nothing to free. */
static inline kl_value kl_value_int(int64_t i)
{
    kl_value v = kl_value_null();
    v.type = KL_INT;
    v.u.i = i;
    return v;
}
/** A double.  No allocation, nothing to free. */
static inline kl_value kl_value_float(double f)
{
    kl_value v = kl_value_null();
    v.type = KL_FLOAT;
    v.u.f = f;
    return v;
}
/** Text borrowing the caller's len bytes at s (UTF-8, not checked): the
 * memory must outlive the value. */
static inline kl_value kl_value_text_ref(const char *s, size_t len)
{
    kl_value v = kl_value_null();
    v.type = KL_TEXT;
    v.flags = KL_VALUE_BORROWED;
    v.u.s.ptr = s;
    v.u.s.len = len;
    return v;
}
/** Text borrowing a NUL-terminated string (NULL gives empty text): the
 * memory must outlive the value. */
static inline kl_value kl_value_cstr_ref(const char *s)
{
    return kl_value_text_ref(s, s ? strlen(s) : 0);
}
/** Bytes borrowing the caller's len bytes at p: the memory must outlive
 * the value. */
static inline kl_value kl_value_bytes_ref(const void *p, size_t len)
{
    kl_value v = kl_value_text_ref((const char *)p, len);
    v.type = KL_BYTES;
    return v;
}
/** Borrowing array over caller-owned items (which must outlive it). */
static inline kl_value kl_value_array_ref(kl_value *items, size_t len, bool tuple)
{
    kl_value v = kl_value_null();
    v.type = KL_ARRAY;
    v.flags = (uint8_t)(KL_VALUE_BORROWED | (tuple ? KL_VALUE_TUPLE : 0));
    v.u.a.items = items;
    v.u.a.len = len;
    v.u.a.cap = len;
    return v;
}

/** @{ */
/** Owning constructors (a copy of the bytes).  Return 0, KL_ENOMEM, or
 * KL_ECORRUPT for text that is not valid UTF-8.  *out is set only on
 * success. */
KL_API int kl_value_text(kl_value *out, const char *s, size_t len);
KL_API int kl_value_bytes(kl_value *out, const void *p, size_t len);
/** @} */
/** @{ */
/** An empty array/list (tuple=true renders as a tuple) or map. */
KL_API kl_value kl_value_array(bool tuple);
KL_API kl_value kl_value_map(void);
/** @} */
/** An nd-array with a copy of `data` (nbytes = product(shape)*dtype size);
 * data may be NULL for zero-filled.  KL_EINVAL for ndim > KL_NDARRAY_MAXDIM
 * or a bad dtype, KL_ETOOBIG on size overflow. */
KL_API int kl_value_ndarray(kl_value *out, kl_dtype dt, uint8_t ndim, const size_t *shape,
                     const void *data);
/** @{ */
/** Number of elements / bytes of an nd-array value. */
KL_API size_t kl_value_ndarray_count(const kl_value *v);
KL_API size_t kl_value_ndarray_bytes(const kl_value *v);
/** @} */

/** Append to an owned array, taking ownership of *item (which is reset to
 * null).  KL_EINVAL if arr is not an owned array; KL_ENOMEM. On failure the
 * item is still owned by the caller. */
KL_API int kl_value_array_push(kl_value *arr, kl_value *item);
/** Append a pair to an owned map, taking ownership of both on success. */
KL_API int kl_value_map_put(kl_value *map, kl_value *key, kl_value *val);

/** Deep copy (borrowed payloads are copied into owned ones). */
KL_API int kl_value_copy(kl_value *out, const kl_value *v);
/** Release what a value owns and reset it to null.  Safe on NULL and on
 * borrowed values. */
KL_API void kl_value_free(kl_value *v);

/** Structural equality.  Arrays compare items (tuple/list flag ignored),
 * maps compare pairs in order, floats compare bitwise-equal or both NaN. */
KL_API bool kl_value_equal(const kl_value *a, const kl_value *b);

/** Checks that len bytes are valid UTF-8 (no overlongs, no surrogates). */
KL_API bool kl_utf8_valid(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
