/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The CBOR scalars hot paths read and write inline (private): a float64
 * item (0xfb and the big-endian bits — nearly every real-valued result and
 * key argument) and a bool (0xf4 / 0xf5): the one place that writes and
 * reads a float64 item.  The encoder, the decoder's kl_decode_double, the
 * key generator and the memo's hit path all use these; everything else
 * goes through the codec proper.
 * Little-endian hosts (as the rest of the library assumes).
 */
#ifndef KLEPTO_CODEC_CBOR_SCALAR_H
#define KLEPTO_CODEC_CBOR_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KL_CBOR_F64 0xfbu /* initial byte of a float64 item */
#define KL_CBOR_FALSE 0xf4u
#define KL_CBOR_TRUE 0xf5u

/* Whether v[0..n) is exactly one float64 item; if so its value in *out. */
static inline bool kl__cbor_f64_get(const uint8_t *v, size_t n, double *out)
{
    if (__builtin_expect(n == 9 && v[0] == KL_CBOR_F64, 1)) {
        uint64_t b;
        memcpy(&b, v + 1, 8);
        b = __builtin_bswap64(b);
        memcpy(out, &b, 8);
        return true;
    }
    return false;
}

/* The same for an item held in little-endian 64-bit words, as a reader
 * that copies whole words has it (w0's low byte is the item's first): no
 * unaligned load from memory just written. */
static inline bool kl__cbor_f64_get_words(uint64_t w0, uint64_t w1, size_t n, double *out)
{
    if (__builtin_expect(n == 9 && (uint8_t)w0 == KL_CBOR_F64, 1)) {
        uint64_t b = __builtin_bswap64((w0 >> 8) | (w1 << 56));
        memcpy(out, &b, 8);
        return true;
    }
    return false;
}

/* Write the float64 item of a double's bits to p (9 bytes); returns p + 9. */
static inline uint8_t *kl__cbor_f64_put(uint8_t *p, uint64_t bits)
{
    uint64_t be = __builtin_bswap64(bits);
    p[0] = KL_CBOR_F64;
    memcpy(p + 1, &be, 8);
    return p + 9;
}

/* Whether v[0..n) is exactly one bool item; if so its value in *out. */
static inline bool kl__cbor_bool_get(const uint8_t *v, size_t n, bool *out)
{
    if (n == 1 && (v[0] == KL_CBOR_FALSE || v[0] == KL_CBOR_TRUE)) {
        *out = v[0] == KL_CBOR_TRUE;
        return true;
    }
    return false;
}

#endif
