/* SPDX-License-Identifier: BSD-3-Clause */
/* The streaming canonical encoder: deterministic CBOR (RFC 8949 §4.2.1)
 * into a caller's buffer, counting past its end like snprintf. */
#define _GNU_SOURCE
#include "codec/cbor_scalar.h"
#include "codec/codec_internal.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the nd-array encoding assumes a little-endian host"
#endif

/* Writes the initial byte plus big-endian argument.  Items that do not fit
 * are only counted, so a short buffer still learns the full length. */
static inline void put_head(kl_enc *e, unsigned major, uint64_t arg)
{
    size_t room = e->cap > e->len ? e->cap - e->len : 0;
    /* only formed when there is room: a size query may pass a NULL buffer */
    uint8_t *p = room ? e->buf + e->len : NULL;
    if (arg < 24) {
        if (KL_LIKELY(room >= 1))
            p[0] = (uint8_t)(major | arg);
        e->len += 1;
    } else if (arg <= 0xff) {
        if (KL_LIKELY(room >= 2)) {
            p[0] = (uint8_t)(major | 24);
            p[1] = (uint8_t)arg;
        }
        e->len += 2;
    } else if (arg <= 0xffff) {
        if (KL_LIKELY(room >= 3)) {
            uint16_t be = __builtin_bswap16((uint16_t)arg);
            p[0] = (uint8_t)(major | 25);
            memcpy(p + 1, &be, 2);
        }
        e->len += 3;
    } else if (arg <= 0xffffffffu) {
        if (KL_LIKELY(room >= 5)) {
            uint32_t be = __builtin_bswap32((uint32_t)arg);
            p[0] = (uint8_t)(major | 26);
            memcpy(p + 1, &be, 4);
        }
        e->len += 5;
    } else {
        if (KL_LIKELY(room >= 9)) {
            uint64_t be = __builtin_bswap64(arg);
            p[0] = (uint8_t)(major | 27);
            memcpy(p + 1, &be, 8);
        }
        e->len += 9;
    }
}

static inline void put_raw(kl_enc *e, const void *src, size_t n)
{
    if (e->cap >= e->len && n <= e->cap - e->len && n)
        memcpy(e->buf + e->len, src, n);
    e->len += n;
}

void kl_enc_null(kl_enc *e)
{
    put_head(e, KL_CBOR_SIMPLE, 22);
}
void kl_enc_undefined(kl_enc *e)
{
    put_head(e, KL_CBOR_SIMPLE, 23);
}
void kl_enc_bool(kl_enc *e, bool b)
{
    if (e->flags & KL_ENC_NUMERIC_EQ) /* Python: True == 1, False == 0 */
        put_head(e, KL_CBOR_UINT, b ? 1 : 0);
    else
        put_head(e, KL_CBOR_SIMPLE, b ? 21 : 20);
}

void kl_enc_int(kl_enc *e, int64_t i)
{
    if (i >= 0)
        put_head(e, KL_CBOR_UINT, (uint64_t)i);
    else
        put_head(e, KL_CBOR_NEGINT, ~(uint64_t)i); /* -1 - i without overflow */
}

/* The binary16 bits of a float that binary16 holds exactly, or -1. */
static inline int32_t half_of(float g)
{
    uint32_t b;
    memcpy(&b, &g, 4);
    uint32_t sign = (b >> 16) & 0x8000u, exp = (b >> 23) & 0xffu, man = b & 0x7fffffu;
    if (exp == 0xff) /* infinity; NaN never gets here */
        return (int32_t)(sign | 0x7c00u);
    if (exp == 0 && man == 0)
        return (int32_t)sign;
    int e = (int)exp - 127;
    if (e >= -14 && e <= 15) {
        if (man & 0x1fffu)
            return -1;
        return (int32_t)(sign | (uint32_t)(e + 15) << 10 | man >> 13);
    }
    if (e >= -24 && e < -14) {
        /* binary16 subnormal: the full significand shifted right must lose
         * no bits */
        unsigned shift = (unsigned)(13 + (-14 - e));
        uint32_t sig = man | 0x800000u;
        if (sig & ((1u << shift) - 1))
            return -1;
        return (int32_t)(sign | sig >> shift);
    }
    return -1;
}

/* Writes a 9-byte float64 item (the common case for real-valued keys). */
static inline void put_f64(kl_enc *e, uint64_t bits)
{
    if (KL_LIKELY(e->cap >= e->len && e->cap - e->len >= 9))
        kl__cbor_f64_put(e->buf + e->len, bits);
    e->len += 9;
}

void kl_enc_float(kl_enc *e, double f)
{
    uint64_t bits;
    memcpy(&bits, &f, 8);
    if ((e->flags & KL_ENC_ZERO_EQ) && bits == UINT64_C(0x8000000000000000))
        bits = 0, f = 0.0; /* -0.0 == 0.0 */
    unsigned exp = (unsigned)(bits >> 52) & 0x7ffu;
    if (e->flags & KL_ENC_NUMERIC_EQ) {
        /* integral and inside int64: |f| >= 1 with no fraction bits, or
         * zero; 2^63 itself is out, -2^63 in */
        if (exp >= 1023 && exp < 1086) {
            unsigned frac_bits = exp < 1075 ? 1075 - exp : 0;
            if ((bits & ((UINT64_C(1) << frac_bits) - 1)) == 0) {
                kl_enc_int(e, (int64_t)f);
                return;
            }
        } else if ((bits << 1) == 0 || bits == UINT64_C(0xc3e0000000000000)) {
            kl_enc_int(e, (int64_t)f);
            return;
        }
    }
    /* Any of the low 29 mantissa bits set: no float32 holds it (NaN aside,
     * which is always written as the canonical half NaN). */
    if (KL_LIKELY((bits & 0x1fffffffu) != 0 && exp != 0x7ff)) {
        put_f64(e, bits);
        return;
    }
    /* Normal binary16 and binary32 values straight from the double's bits;
     * zero, the binary16 subnormal range, infinities and NaN take the path
     * below.  (Here the low 29 mantissa bits are zero unless exp == 0x7ff.) */
    int ex = (int)exp - 1023;
    uint64_t man = bits & ((UINT64_C(1) << 52) - 1);
    uint32_t sign = (uint32_t)(bits >> 63);
    uint8_t tmp[5];
    if (ex >= -14 && ex <= 15 && (man & ((UINT64_C(1) << 42) - 1)) == 0) {
        uint32_t h = sign << 15 | (uint32_t)(ex + 15) << 10 | (uint32_t)(man >> 42);
        tmp[0] = 0xf9;
        tmp[1] = (uint8_t)(h >> 8);
        tmp[2] = (uint8_t)h;
        put_raw(e, tmp, 3);
        return;
    }
    if ((ex >= -126 && ex <= -25) || (ex >= -14 && ex <= 127)) {
        uint32_t g = __builtin_bswap32(sign << 31 | (uint32_t)(ex + 127) << 23 |
                                       (uint32_t)(man >> 29));
        tmp[0] = 0xfa;
        memcpy(tmp + 1, &g, 4);
        put_raw(e, tmp, 5);
        return;
    }
    size_t n;
    if (isnan(f)) {
        tmp[0] = 0xf9;
        tmp[1] = 0x7e;
        tmp[2] = 0x00;
        n = 3;
    } else if (fabs(f) <= FLT_MAX || isinf(f)) {
        float g = (float)f;
        if ((double)g != f) {
            put_f64(e, bits);
            return;
        }
        int32_t h = half_of(g);
        if (h >= 0) {
            tmp[0] = 0xf9;
            tmp[1] = (uint8_t)(h >> 8);
            tmp[2] = (uint8_t)h;
            n = 3;
        } else {
            uint32_t b;
            memcpy(&b, &g, 4);
            b = __builtin_bswap32(b);
            tmp[0] = 0xfa;
            memcpy(tmp + 1, &b, 4);
            n = 5;
        }
    } else {
        put_f64(e, bits);
        return;
    }
    put_raw(e, tmp, n);
}

void kl_enc_text(kl_enc *e, const char *s, size_t len)
{
    put_head(e, KL_CBOR_TEXT, len);
    put_raw(e, s, len);
}

void kl_enc_bytes(kl_enc *e, const void *p, size_t len)
{
    put_head(e, KL_CBOR_BYTES, len);
    put_raw(e, p, len);
}

void kl_enc_array_head(kl_enc *e, size_t n)
{
    put_head(e, KL_CBOR_ARRAY, n);
}
void kl_enc_map_head(kl_enc *e, size_t npairs)
{
    put_head(e, KL_CBOR_MAP, npairs);
}
void kl_enc_tag(kl_enc *e, uint64_t tag)
{
    put_head(e, KL_CBOR_TAG, tag);
}

static void set_err(kl_enc *e, int code)
{
    if (!e->err)
        e->err = code;
}

/* ---- map key ordering ------------------------------------------------ */

/* Length of one item this encoder wrote at p (trusted, complete). */
static size_t skip_item(const uint8_t *p)
{
    const uint8_t *s = p;
    uint64_t pending = 1;
    while (pending) {
        uint8_t ib = *s++;
        unsigned major = ib >> 5, ai = ib & 31;
        uint64_t arg = ai;
        if (ai >= 24) {
            unsigned nb = 1u << (ai - 24);
            arg = 0;
            for (unsigned k = 0; k < nb; k++)
                arg = arg << 8 | *s++;
        }
        pending--;
        switch (major) {
        case 2:
        case 3:
            s += arg;
            break;
        case 4:
            pending += arg;
            break;
        case 5:
            pending += 2 * arg;
            break;
        case 6:
            pending += 1;
            break;
        default:
            break;
        }
    }
    return (size_t)(s - p);
}

typedef struct map_entry {
    const uint8_t *key;
    size_t klen, plen;
} map_entry;

static int cmp_entry(const void *a, const void *b)
{
    const map_entry *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

/* Sorts the n pairs encoded at buf[start, e->len) by their key bytes, with
 * the buffer's unused tail as scratch. */
static void sort_pairs(kl_enc *e, size_t start, size_t n)
{
    uint8_t *base = e->buf + start;
    size_t total = e->len - start;
    /* Pairs already in order (common: keys inserted sorted) cost one pass. */
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    bool sorted = true;
    const uint8_t *p = base;
    for (size_t i = 0; i < n; i++) {
        size_t kl = skip_item(p);
        if (prev) {
            size_t m = kl < prevlen ? kl : prevlen;
            int c = memcmp(prev, p, m);
            if (c == 0)
                c = (prevlen > kl) - (prevlen < kl);
            if (c == 0) {
                set_err(e, kl_seterr(KL_EINVAL, "encode: duplicate map key"));
                return;
            }
            if (c > 0) {
                sorted = false;
                break;
            }
        }
        prev = p;
        prevlen = kl;
        p += kl;
        p += skip_item(p);
    }
    if (sorted)
        return;

    uintptr_t tail = (uintptr_t)(e->buf + e->len);
    uintptr_t aligned = (tail + _Alignof(map_entry) - 1) & ~(uintptr_t)(_Alignof(map_entry) - 1);
    size_t avail = e->cap - e->len;
    size_t pad = (size_t)(aligned - tail);
    if (n > (SIZE_MAX - total) / sizeof(map_entry) || pad + n * sizeof(map_entry) + total > avail) {
        set_err(e, kl_seterr(KL_ETOOBIG,
                             "encode: buffer too small to sort map keys "
                             "(%zu bytes of scratch needed)",
                             pad + n * sizeof(map_entry) + total));
        return;
    }
    map_entry *ent = (map_entry *)aligned;
    p = base;
    for (size_t i = 0; i < n; i++) {
        size_t kl = skip_item(p);
        size_t vl = skip_item(p + kl);
        ent[i].key = p;
        ent[i].klen = kl;
        ent[i].plen = kl + vl;
        p += kl + vl;
    }
    qsort(ent, n, sizeof *ent, cmp_entry);
    for (size_t i = 1; i < n; i++)
        if (cmp_entry(&ent[i - 1], &ent[i]) == 0) {
            set_err(e, kl_seterr(KL_EINVAL, "encode: duplicate map key"));
            return;
        }
    uint8_t *out = (uint8_t *)(ent + n), *q = out;
    for (size_t i = 0; i < n; i++) {
        memcpy(q, ent[i].key, ent[i].plen);
        q += ent[i].plen;
    }
    memcpy(base, out, total);
}

/* ---- whole values ---------------------------------------------------- */

static void enc_ndarray(kl_enc *e, const kl_value *v)
{
    kl_dtype dt = (kl_dtype)v->u.nd.dtype;
    unsigned tag = kl__cbor_dtype_tag(dt);
    if (!tag || v->u.nd.ndim > KL_NDARRAY_MAXDIM) {
        set_err(e, kl_seterr(KL_ETYPE, "encode: nd-array with bad dtype %d or ndim %d",
                             v->u.nd.dtype, v->u.nd.ndim));
        return;
    }
    size_t count = 1;
    bool overflow = false;
    for (uint8_t i = 0; i < v->u.nd.ndim; i++) {
        size_t d = v->u.nd.shape[i];
        if (d && count > SIZE_MAX / 8 / d)
            overflow = true;
        count *= d;
    }
    for (uint8_t i = 0; i < v->u.nd.ndim; i++)
        if (v->u.nd.shape[i] == 0) { /* empty, however large the other sizes */
            overflow = false;
            count = 0;
        }
    if (overflow) {
        set_err(e, kl_seterr(KL_ETOOBIG, "encode: nd-array shape overflows"));
        return;
    }
    if (v->u.nd.ndim != 1) {
        kl_enc_tag(e, KL_CBOR_TAG_NDARRAY);
        kl_enc_array_head(e, 2);
        kl_enc_array_head(e, v->u.nd.ndim);
        for (uint8_t i = 0; i < v->u.nd.ndim; i++)
            put_head(e, KL_CBOR_UINT, v->u.nd.shape[i]);
    }
    kl_enc_tag(e, tag);
    kl_enc_bytes(e, v->u.nd.data, count * kl_dtype_size(dt));
}

static void enc_value(kl_enc *e, const kl_value *v, unsigned depth)
{
    if (depth > KL_DECODE_MAX_DEPTH) {
        set_err(e,
                kl_seterr(KL_ETOOBIG, "encode: value nested deeper than %d", KL_DECODE_MAX_DEPTH));
        return;
    }
    switch ((kl_type)v->type) {
    case KL_NULL:
        kl_enc_null(e);
        return;
    case KL_IGNORED:
        kl_enc_undefined(e);
        return;
    case KL_BOOL:
        kl_enc_bool(e, v->u.b);
        return;
    case KL_INT:
        kl_enc_int(e, v->u.i);
        return;
    case KL_FLOAT:
        kl_enc_float(e, v->u.f);
        return;
    case KL_TEXT:
        kl_enc_text(e, v->u.s.ptr, v->u.s.len);
        return;
    case KL_BYTES:
        kl_enc_bytes(e, v->u.s.ptr, v->u.s.len);
        return;
    case KL_ARRAY:
        if (v->flags & KL_VALUE_OBJECT)
            kl_enc_tag(e, KL_CBOR_TAG_OBJECT);
        kl_enc_array_head(e, v->u.a.len);
        for (size_t i = 0; i < v->u.a.len; i++)
            enc_value(e, &v->u.a.items[i], depth + 1);
        return;
    case KL_MAP: {
        size_t n = v->u.m.len;
        kl_enc_map_head(e, n);
        size_t start = e->len;
        for (size_t i = 0; i < 2 * n; i++)
            enc_value(e, &v->u.m.items[i], depth + 1);
        if (n > 1 && e->err == 0 && e->len <= e->cap)
            sort_pairs(e, start, n);
        return;
    }
    case KL_NDARRAY:
        enc_ndarray(e, v);
        return;
    }
    set_err(e, kl_seterr(KL_ETYPE, "encode: unknown value type %d", v->type));
}

void kl_enc_value(kl_enc *e, const kl_value *v)
{
    enc_value(e, v, 0);
}

int kl_encode(kl_buf *out, const kl_value *v, unsigned flags)
{
    size_t want = 64;
    bool scratch_tried = false;
    /* Pass 1 learns the length; sorting map keys may then need scratch: at
     * most one entry record plus one copy per pair, each pair >= 2 bytes. */
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc = kl_buf_reserve(out, want);
        if (rc)
            return rc;
        kl_enc e;
        kl_enc_init(&e, out->data + out->len, out->cap - out->len, flags);
        kl_enc_value(&e, v);
        if (kl_enc_ok(&e)) {
            out->len += e.len;
            return 0;
        }
        if (e.err && e.err != KL_ETOOBIG)
            return e.err;
        if (e.err == KL_ETOOBIG && e.len <= e.cap) {
            if (scratch_tried) /* not a matter of room: too deep, too large */
                return e.err;
            if (e.len > (SIZE_MAX - 64) / (sizeof(map_entry) + 2))
                return kl_seterr(KL_ENOMEM, "encode: %zu-byte value too large", e.len);
            want = e.len * (sizeof(map_entry) / 2 + 2) + 64;
            scratch_tried = true;
        } else {
            want = e.len > want ? e.len : want * 2;
        }
    }
    return kl_seterr(KL_ETOOBIG, "encode: could not size the output buffer");
}
