/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the typed face's two files share (private): memo_typed.c (scalar
 * calls, the memo's creation, the archive boundary) and memo_typed_args.c
 * (calls with array arguments or out-parameters).
 *
 * Type codes, one per argument of the key: 'd' double, 'f' float, 'i'
 * integer, 'b' bool, 's' text, and 'A' + dtype ('A'..'J') an array of that
 * kl_dtype.  A raw memory key is, argument after argument, a scalar's
 * 8-byte image or an array's elements' bytes — preceded by its 8-byte
 * element count when the function has more than one array (with one, the
 * key's length implies the count, and a vector's key is its bytes).
 */
#ifndef KLEPTO_MEMO_TYPED_H
#define KLEPTO_MEMO_TYPED_H

#include "memo/memo_impl.h"

static inline bool typed_is_array(char t) { return t >= 'A' && t <= 'J'; }
static inline kl_dtype typed_dtype(char t) { return (kl_dtype)(t - 'A'); }

/* The image of a float argument as memory keys use it (NaN: one image;
 * -0.0 is 0.0 when the keymap merges them). */
uint64_t kl__typed_float_image(const kl_memo *m, uint64_t bits);

/* The value of one scalar argument image. */
kl_value kl__typed_image_value(char type, uint64_t bits);

/* A borrowed 1-d nd-array over n elements at p (shape points at *n). */
static inline kl_value typed_ndarray_ref(kl_dtype dt, const void *p, size_t *n)
{
    kl_value v = kl_value_null();
    v.type = KL_NDARRAY;
    v.flags = KL_VALUE_BORROWED;
    v.u.nd.data = (void *)(uintptr_t)p;
    v.u.nd.shape = n;
    v.u.nd.ndim = 1;
    v.u.nd.dtype = (uint8_t)dt;
    return v;
}

/* Count a call computed uncached because its key could not be built (an
 * error and a miss, as klepto counts it) and return rc. */
int kl__typed_uncached(kl_memo *m, int rc);

#endif
