/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the typed face's files share (private): memo_typed.c (scalar
 * calls, the memo's creation, the archive boundary), memo_typed_args.c
 * (calls with array or object arguments) and memo_typed_outs.c (results
 * through out-parameters).
 *
 * Type codes, one per argument of the key: 'd' double, 'f' float, 'i'
 * integer, 'b' bool, 's' text, and 'A' + dtype ('A'..'J') an array of that
 * kl_dtype, 'U' an object of a user type (usertype.h).  A raw memory key
 * is, argument after argument, a scalar's 8-byte image, an array's
 * elements' bytes or an object's encoded value (what its type's encode
 * writes) — arrays and objects preceded by their 8-byte length (elements,
 * bytes) when the function has more than one of them (with one, the key's
 * length implies it, and a vector's key is its bytes).
 */
#ifndef KLEPTO_MEMO_TYPED_H
#define KLEPTO_MEMO_TYPED_H

#include "memo/memo_impl.h"

static inline bool typed_is_array(char t) { return t >= 'A' && t <= 'J'; }
static inline kl_dtype typed_dtype(char t) { return (kl_dtype)(t - 'A'); }
static inline bool typed_is_object(char t) { return t == 'U'; }

/* The raw key part of an object argument's value v (an object of the
 * argument's type and version) appended to out: 0, 1 when v does not fit,
 * KL_ENOMEM. */
int kl__typed_object_raw(const kl_memo *m, size_t i, const kl_value *v, kl_buf *out);

/* The value of an object argument whose encoded value is the n bytes at
 * p: an [name, layout, value] object over items (3 values; items[2] is
 * owned: kl_value_free it).  0, or the decoder's error. */
int kl__typed_object_value(const kl_memo *m, size_t i, const uint8_t *p, size_t n,
                           kl_value *items, kl_value *out);

/* The image of a float argument as memory keys use it (NaN: one image;
 * -0.0 is 0.0 when the keymap merges them). */
uint64_t kl__typed_float_image(const kl_memo *m, uint64_t bits);

/* 0 when every object in a raw key decodes, else the decoder's error
 * (the message names the argument). */
int kl__typed_raw_decodes(const kl_memo *m, const uint8_t *key, size_t klen);

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

/* Out-parameters (memo_typed_outs.c).  outs_valid: 0, or an error naming
 * the out-parameter that cannot take a result (NULL with a length, no
 * element type).  acquire_outs: kl__cache_acquire_result for a result
 * through out-parameters (0 filled, 1 compute, 2 found but not of their
 * shape, < 0 counted error). */
int kl__typed_outs_valid(const kl_memo *m, const kl_typed_out *outs, size_t nouts);
int kl__typed_acquire_outs(kl_memo *m, const uint8_t *key, size_t klen, kl_memo_slot *slot,
                           const kl_typed_out *outs, size_t nouts);

/* Count a call computed uncached because its key could not be built (an
 * error and a miss, as klepto counts it) and return rc. */
int kl__typed_uncached(kl_memo *m, int rc);

#endif
