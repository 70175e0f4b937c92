/* SPDX-License-Identifier: BSD-3-Clause */
/* Private helpers shared by the codec's files (encoder, decoder, text). */
#ifndef KLEPTO_CODEC_INTERNAL_H
#define KLEPTO_CODEC_INTERNAL_H

#include "klepto/codec.h"

/* CBOR major types, pre-shifted into the initial byte. */
#define KL_CBOR_UINT 0x00u
#define KL_CBOR_NEGINT 0x20u
#define KL_CBOR_BYTES 0x40u
#define KL_CBOR_TEXT 0x60u
#define KL_CBOR_ARRAY 0x80u
#define KL_CBOR_MAP 0xa0u
#define KL_CBOR_TAG 0xc0u
#define KL_CBOR_SIMPLE 0xe0u

/* IANA tag 27: an object with a type name and constructor arguments; a
 * user type's object as [type name, layout, value] (KL_VALUE_OBJECT). */
#define KL_CBOR_TAG_OBJECT 27u

/* RFC 8746 §3.1: a row-major multi-dimensional array. */
#define KL_CBOR_TAG_NDARRAY 40u

/* The little-endian RFC 8746 typed-array tag of a dtype (0 if none). */
static inline unsigned kl__cbor_dtype_tag(kl_dtype dt)
{
    static const unsigned char tags[] = {
        [KL_DT_INT8] = 72,    [KL_DT_INT16] = 77,   [KL_DT_INT32] = 78,  [KL_DT_INT64] = 79,
        [KL_DT_UINT8] = 64,   [KL_DT_UINT16] = 69,  [KL_DT_UINT32] = 70, [KL_DT_UINT64] = 71,
        [KL_DT_FLOAT32] = 85, [KL_DT_FLOAT64] = 86,
    };
    return (unsigned)dt < sizeof tags ? tags[dt] : 0;
}

/* Python/numpy spelling of a dtype ("float64"), NULL if unknown. */
const char *kl__dtype_name(kl_dtype dt);
/* The dtype named `name` (len bytes), or -1. */
int kl__dtype_from_name(const char *name, size_t len);

/* Append one nd-array element as text: integers in decimal, floats through
 * `format_double` (Python repr for kl_repr, JSON numbers for kl_json). */
int kl__nd_elem_text(kl_buf *out, kl_dtype dt, const uint8_t *p,
                    int (*format_double)(kl_buf *, double));

/* True when the code point is printable by Python's str.isprintable(). */
bool kl__unicode_printable(uint32_t cp);

#endif
