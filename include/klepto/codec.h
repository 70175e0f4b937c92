/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The canonical binary encoding, text rendering and JSON.
 *
 * Canonical encoding: deterministic CBOR (RFC 8949 §4.2.1): shortest integer
 * and float forms, definite lengths, map keys sorted by the bytewise order
 * of their encodings; typed numeric arrays as RFC 8746 typed-array tags
 * (multi-dimensional ones as tag 40 [shape, typed array]); objects of user
 * types (usertype.h) as tag 27 [type name, layout, value].  Tuples carry
 * no tag: a decoded array is a list unless it is a key (keys decode as
 * tuples).
 *
 * The streaming encoder (kl_enc) writes into a caller's buffer and never
 * allocates; like snprintf it keeps counting past the end, so a too-small
 * buffer tells how much is needed.  This is the hot path of key building.
 *
 * Thread-safety: all functions are reentrant; an encoder or buffer belongs
 * to one thread at a time.
 */
#ifndef KLEPTO_CODEC_H
#define KLEPTO_CODEC_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- growable byte buffer ------------------------------------------- */

/** A heap byte buffer.  Zero-initialise (KL_BUF_INIT) before first use;
 * release with kl_buf_free().  data is NUL-terminated after kl_buf_cstr. */
typedef struct kl_buf {
    uint8_t *data; /**< the bytes (NULL when no memory is held) */
    size_t len;    /**< bytes held */
    size_t cap;    /**< room for */
} kl_buf;
/** An empty buffer. */
#define KL_BUF_INIT {NULL, 0, 0}

KL_API int kl_buf_reserve(kl_buf *b, size_t extra); /**< room for extra bytes; KL_ENOMEM */
KL_API int kl_buf_append(kl_buf *b, const void *p, size_t n); /**< n bytes at p; KL_ENOMEM */
KL_API int kl_buf_append_str(kl_buf *b, const char *s); /**< a string, without its NUL; KL_ENOMEM */
/** The UTF-8 encoding of code point cp (up to 0x10FFFF; the caller checks
 * surrogates and range); KL_ENOMEM. */
KL_API int kl_buf_append_utf8(kl_buf *b, uint32_t cp);
/** Append printf-style formatted text (without a NUL); KL_ENOMEM. */
KL_API int kl_buf_printf(kl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Ensures a NUL after the data (not counted in len); returns data as text,
 * or NULL on KL_ENOMEM. */
KL_API const char *kl_buf_cstr(kl_buf *b);
KL_API void kl_buf_reset(kl_buf *b); /**< len = 0, memory kept */
KL_API void kl_buf_free(kl_buf *b);  /**< memory released, buffer reusable */

/* ---- streaming encoder (no allocation) ------------------------------ */

/** Encoder flags. */
#define KL_ENC_NUMERIC_EQ 0x01u /**< floats holding an exact int64 value and
                                   bools are encoded as that integer, so 1,
                                   1.0 and True give one encoding, as they
                                   are one dict key in Python (untyped
                                   keys) */
#define KL_ENC_ZERO_EQ 0x02u    /**< -0.0 is encoded as 0.0, as Python finds
                                   them equal (typed keys) */

/** A streaming encoder over a caller's buffer (kl_enc_init). */
typedef struct kl_enc {
    uint8_t *buf; /**< the caller's buffer */
    size_t cap;   /**< its size */
    size_t len; /**< bytes the encoding needs so far (may exceed cap) */
    unsigned flags; /**< KL_ENC_* */
    int err;    /**< first error (KL_ETYPE, KL_EINVAL ...), or 0 */
} kl_enc;

/** Start encoding into the cap bytes at buf (KL_ENC_* flags). */
static inline void kl_enc_init(kl_enc *e, void *buf, size_t cap, unsigned flags)
{
    e->buf = (uint8_t *)buf;
    e->cap = cap;
    e->len = 0;
    e->flags = flags;
    e->err = 0;
}
/** True when the whole encoding fitted in the buffer and nothing failed. */
static inline int kl_enc_ok(const kl_enc *e) { return e->err == 0 && e->len <= e->cap; }

KL_API void kl_enc_null(kl_enc *e);      /**< None */
KL_API void kl_enc_undefined(kl_enc *e); /**< the ignored-argument marker */
KL_API void kl_enc_bool(kl_enc *e, bool b); /**< a boolean */
KL_API void kl_enc_int(kl_enc *e, int64_t i); /**< an integer, shortest form */
KL_API void kl_enc_float(kl_enc *e, double f);   /**< shortest exact form; flags apply */
KL_API void kl_enc_text(kl_enc *e, const char *s, size_t len); /**< UTF-8 text */
KL_API void kl_enc_bytes(kl_enc *e, const void *p, size_t len); /**< a byte string */
KL_API void kl_enc_array_head(kl_enc *e, size_t n); /**< an array of n items: encode them next */
KL_API void kl_enc_map_head(kl_enc *e, size_t npairs); /**< a map: key, value, ... next */
KL_API void kl_enc_tag(kl_enc *e, uint64_t tag); /**< a CBOR tag: its item next */
/** Any value, canonically (maps sorted).  Sorting map keys may need
 * scratch space; it uses the unused tail of the buffer, and reports
 * KL_ETOOBIG in e->err if that is not enough. */
KL_API void kl_enc_value(kl_enc *e, const kl_value *v);

/** Encode a value into a heap buffer (appended to out).  Returns 0,
 * KL_ETYPE for a value that cannot be encoded, KL_EINVAL for a map with two
 * keys of equal encoding, KL_ETOOBIG for nesting deeper than
 * KL_DECODE_MAX_DEPTH, KL_ENOMEM. */
KL_API int kl_encode(kl_buf *out, const kl_value *v, unsigned flags);

/* ---- validating decoder ---------------------------------------------- */

/** The deepest nesting the decoder (and the encoders) accept. */
#define KL_DECODE_MAX_DEPTH 256

/** Decode exactly one value spanning all len bytes.  Never reads outside
 * [p, p+len), nests at most KL_DECODE_MAX_DEPTH deep, and allocates no more
 * than a small multiple of len.  Returns 0, KL_ECORRUPT (malformed,
 * truncated, trailing bytes, invalid UTF-8, non-canonical where that
 * matters), KL_ETOOBIG (nesting too deep), KL_ENOMEM.  *out is owned by the
 * caller on success and untouched on failure. */
KL_API int kl_decode(const void *p, size_t len, kl_value *out);

/** Fast paths for scalar results: decode a whole buffer that must hold one
 * float (or integer, converted) / one integer.  KL_ETYPE if it holds
 * something else, KL_ECORRUPT if malformed. */
KL_API int kl_decode_double(const void *p, size_t len, double *out);
/** @copydoc kl_decode_double */
KL_API int kl_decode_int64(const void *p, size_t len, int64_t *out);

/* ---- Python-literal text ---------------------------------------------- */

/** Append the Python repr of v.  As Python prints them: None, True, 3,
 * 0.1, 1e+16, 'it\\'s', b'\\x00',
 * [1, 2], (1,), {'k': 1.5}, inf, nan; ignored markers render as NULL.
 * Nd-arrays render numpy-like but exactly, each element as Python's repr
 * of its value (float32 widened to double): array([[1, 2], [3, 4]],
 * dtype=int32), array(5, dtype=int64) for 0-d, array([], shape=(0, 3),
 * dtype=float64) when empty.  Returns 0, KL_ENOMEM, KL_ETYPE (bad type,
 * text that is not UTF-8), KL_ETOOBIG (nested deeper than
 * KL_DECODE_MAX_DEPTH); on error nothing is appended. */
KL_API int kl_repr(kl_buf *out, const kl_value *v);
/** Append Python's repr() of one double (shortest round-trip). */
KL_API int kl_repr_double(kl_buf *out, double f);

/** Parse one Python literal (everything kl_repr produces, plus inf/-inf/nan
 * and surrounding whitespace).  Also accepted: both quote styles, triple
 * quotes, b/r prefixes, all Python escapes but \\N{...}, digit separators,
 * trailing commas, float('nan'), nd-arrays without dtype= (int64 or
 * float64 as numpy infers).  Parentheses around one value without a comma
 * are grouping, not a tuple; tuples come back with KL_VALUE_TUPLE.  Dict
 * literals keep every pair as written.  Integers must fit int64.  Returns
 * 0, KL_EINVAL with a message naming the byte position, KL_ENOMEM.  *out is
 * the caller's on success and untouched on failure. */
KL_API int kl_parse(const char *text, size_t len, kl_value *out);

/* ---- JSON --------------------------------------------------------------- */

/** Append the JSON of v:
 * bytes as `{"$bytes": "<base64>"}`, nd-arrays as {"$ndarray": {"dtype":
 * "float64", "shape": [2, 3], "data": [row-major elements]}}, non-finite
 * floats as the strings "inf", "-inf", "nan", tuples as lists, ignored
 * markers as null, map keys that are not text as the quoted JSON of the
 * key (1 -> "1").  Laid out like Python's json.dumps(ensure_ascii=False).
 * Returns 0, KL_ENOMEM, KL_ETYPE, KL_ETOOBIG; on error nothing is
 * appended. */
KL_API int kl_json(kl_buf *out, const kl_value *v);

/** Parse one JSON text (RFC 8259, strictly: no comments, no trailing
 * commas, no NaN) into *out.  Objects become maps with text keys, arrays
 * lists, strings text, integers (no '.', no exponent) int64, other numbers
 * float, true/false/null themselves.  kl_json's special spellings are
 * read back: {"$bytes": "<padded base64>"} as bytes, {"$ndarray": {dtype,
 * shape, data}} as an nd-array (uint64 elements up to 2^63-1 only), and
 * {"$object": [name, layout, value]} as an object of a user type.
 * Everything else kl_json spells specially ("inf"/"nan" strings outside an
 * nd-array, tuples written as lists, quoted non-text map keys) stays what
 * JSON says it is.  Returns 0, KL_EINVAL
 * with the message "column N: what", or KL_ENOMEM.  *out is the caller's
 * on success (kl_value_free) and untouched on failure.  Thread-safe. */
KL_API int kl_json_parse(const char *text, size_t len, kl_value *out);

#ifdef __cplusplus
}
#endif
#endif
