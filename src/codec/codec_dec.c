/* SPDX-License-Identifier: BSD-3-Clause */
/* The validating decoder: well-formed CBOR in, owned values out.  Every
 * read is bounds-checked against the input, every count is checked against
 * the bytes left before anything is allocated, nesting is bounded. */
#include "codec/cbor_scalar.h"
#include "codec/codec_internal.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct dec {
    const uint8_t *base, *p, *end;
} dec;

static int corrupt(const dec *d, const uint8_t *at, const char *what)
{
    return kl_seterr(KL_ECORRUPT, "decode: byte %zu: %s", (size_t)(at - d->base), what);
}

/* Reads one initial byte and its argument.  Rejects the reserved and the
 * indefinite-length additional-info values. */
static int read_head(dec *d, unsigned *major, unsigned *ai, uint64_t *arg)
{
    const uint8_t *at = d->p;
    if (d->p >= d->end)
        return corrupt(d, at, "truncated input (item expected)");
    uint8_t ib = *d->p++;
    *major = ib >> 5;
    *ai = ib & 31;
    if (*ai < 24) {
        *arg = *ai;
        return 0;
    }
    if (*ai >= 28) {
        if (*ai == 31)
            return corrupt(d, at, "indefinite length or break (not allowed)");
        return corrupt(d, at, "reserved additional information value");
    }
    size_t nb = (size_t)1 << (*ai - 24);
    if ((size_t)(d->end - d->p) < nb)
        return corrupt(d, at, "truncated input (in an item head)");
    uint64_t v = 0;
    switch (nb) {
    case 1:
        v = d->p[0];
        break;
    case 2: {
        uint16_t x;
        memcpy(&x, d->p, 2);
        v = __builtin_bswap16(x);
        break;
    }
    case 4: {
        uint32_t x;
        memcpy(&x, d->p, 4);
        v = __builtin_bswap32(x);
        break;
    }
    default: {
        uint64_t x;
        memcpy(&x, d->p, 8);
        v = __builtin_bswap64(x);
        break;
    }
    }
    d->p += nb;
    *arg = v;
    return 0;
}

static double half_to_double(uint16_t h)
{
    unsigned exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp((double)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexp((double)(man | 0x400), (int)exp - 25);
    return (h & 0x8000) ? -v : v;
}

/* Decodes the argument of a major-7 float item into *out. */
static int read_float(dec *d, const uint8_t *at, unsigned ai, uint64_t arg, double *out)
{
    switch (ai) {
    case 25:
        *out = half_to_double((uint16_t)arg);
        return 0;
    case 26: {
        uint32_t b = (uint32_t)arg;
        float f;
        memcpy(&f, &b, 4);
        *out = f;
        return 0;
    }
    case 27:
        memcpy(out, &arg, 8);
        return 0;
    }
    return corrupt(d, at, "not a float");
}

static int dtype_of_tag(uint64_t tag, kl_dtype *dt, bool *big_endian)
{
    *big_endian = false;
    switch (tag) {
    case 64:
    case 68: /* clamped: same bits */
        *dt = KL_DT_UINT8;
        return 0;
    case 72:
        *dt = KL_DT_INT8;
        return 0;
    case 65:
    case 69:
        *dt = KL_DT_UINT16;
        break;
    case 66:
    case 70:
        *dt = KL_DT_UINT32;
        break;
    case 67:
    case 71:
        *dt = KL_DT_UINT64;
        break;
    case 73:
    case 77:
        *dt = KL_DT_INT16;
        break;
    case 74:
    case 78:
        *dt = KL_DT_INT32;
        break;
    case 75:
    case 79:
        *dt = KL_DT_INT64;
        break;
    case 81:
    case 85:
        *dt = KL_DT_FLOAT32;
        break;
    case 82:
    case 86:
        *dt = KL_DT_FLOAT64;
        break;
    default:
        return -1;
    }
    *big_endian = (tag & 4) == 0;
    return 0;
}

static void swap_elems(uint8_t *p, size_t nbytes, size_t es)
{
    for (size_t i = 0; i < nbytes; i += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

/* The typed array after its tag: a byte string of whole elements. */
static int read_typed(dec *d, const uint8_t *tagat, uint64_t tag, kl_value *out, size_t *count)
{
    kl_dtype dt;
    bool be;
    if (dtype_of_tag(tag, &dt, &be))
        return corrupt(d, tagat, "unsupported typed-array tag");
    const uint8_t *at = d->p;
    unsigned major = 0, ai = 0;
    uint64_t n = 0;
    int rc = read_head(d, &major, &ai, &n);
    if (rc)
        return rc;
    if (major != 2)
        return corrupt(d, at, "typed array is not a byte string");
    if (n > (uint64_t)(d->end - d->p))
        return corrupt(d, at, "truncated input (typed array data)");
    size_t es = kl_dtype_size(dt);
    if (n % es)
        return corrupt(d, at, "typed array length is not a whole number of elements");
    uint8_t *mem = malloc(n ? (size_t)n : 1);
    size_t *shape = malloc(sizeof(size_t) * KL_NDARRAY_MAXDIM);
    if (!mem || !shape) {
        free(mem);
        free(shape);
        return kl_seterr(KL_ENOMEM, "decode: out of memory for a %llu-byte array",
                         (unsigned long long)n);
    }
    if (n)
        memcpy(mem, d->p, (size_t)n);
    if (be && es > 1)
        swap_elems(mem, (size_t)n, es);
    d->p += n;
    kl_value v = kl_value_null();
    v.type = KL_NDARRAY;
    v.u.nd.data = mem;
    v.u.nd.dtype = (uint8_t)dt;
    v.u.nd.ndim = 1;
    v.u.nd.shape = shape;
    v.u.nd.shape[0] = (size_t)(n / es);
    *count = (size_t)(n / es);
    *out = v;
    return 0;
}

/* Tag 40: [shape, typed array] with the shape's product matching. */
static int read_ndarray(dec *d, const uint8_t *tagat, kl_value *out)
{
    unsigned major = 0, ai = 0;
    uint64_t n = 0;
    const uint8_t *at = d->p;
    int rc = read_head(d, &major, &ai, &n);
    if (rc)
        return rc;
    if (major != 4 || n != 2)
        return corrupt(d, at, "multi-dimensional array is not [shape, data]");
    at = d->p;
    if ((rc = read_head(d, &major, &ai, &n)))
        return rc;
    if (major != 4 || n > KL_NDARRAY_MAXDIM)
        return corrupt(d, at, "nd-array shape is not an array of at most 8 sizes");
    size_t shape[KL_NDARRAY_MAXDIM];
    uint8_t ndim = (uint8_t)n;
    uint64_t prod = 1;
    bool overflow = false;
    for (uint8_t i = 0; i < ndim; i++) {
        uint64_t dim = 0;
        at = d->p;
        if ((rc = read_head(d, &major, &ai, &dim)))
            return rc;
        if (major != 0 || dim > SIZE_MAX)
            return corrupt(d, at, "nd-array dimension is not an unsigned integer");
        shape[i] = (size_t)dim;
        if (dim && prod > UINT64_MAX / dim)
            overflow = true;
        prod *= dim;
    }
    for (uint8_t i = 0; i < ndim; i++)
        if (shape[i] == 0) { /* empty, however large the other sizes */
            overflow = false;
            prod = 0;
        }
    at = d->p;
    uint64_t tag = 0;
    if ((rc = read_head(d, &major, &ai, &tag)))
        return rc;
    if (major != 6)
        return corrupt(d, at, "nd-array data is not a typed array");
    kl_value v;
    size_t count;
    if ((rc = read_typed(d, at, tag, &v, &count)))
        return rc;
    if (overflow || prod != count) {
        kl_value_free(&v);
        return corrupt(d, tagat, "nd-array shape does not match its element count");
    }
    v.u.nd.ndim = ndim;
    for (uint8_t i = 0; i < ndim; i++) /* read_typed made room for the most */
        v.u.nd.shape[i] = shape[i];
    *out = v;
    return 0;
}

static int read_item(dec *d, kl_value *out, unsigned depth);

static int read_items(dec *d, kl_value *items, size_t n, unsigned depth)
{
    for (size_t i = 0; i < n; i++) {
        int rc = read_item(d, &items[i], depth);
        if (rc) {
            while (i--)
                kl_value_free(&items[i]);
            return rc;
        }
    }
    return 0;
}

static int read_item(dec *d, kl_value *out, unsigned depth)
{
    if (depth > KL_DECODE_MAX_DEPTH)
        return kl_seterr(KL_ETOOBIG, "decode: byte %zu: nested deeper than %d",
                         (size_t)(d->p - d->base), KL_DECODE_MAX_DEPTH);
    const uint8_t *at = d->p;
    unsigned major = 0, ai = 0;
    uint64_t arg = 0;
    int rc = read_head(d, &major, &ai, &arg);
    if (rc)
        return rc;
    size_t left = (size_t)(d->end - d->p);
    switch (major) {
    case 0:
        if (arg > INT64_MAX)
            return corrupt(d, at, "integer exceeds the int64 range");
        *out = kl_value_int((int64_t)arg);
        return 0;
    case 1:
        if (arg > INT64_MAX)
            return corrupt(d, at, "integer exceeds the int64 range");
        *out = kl_value_int(-1 - (int64_t)arg);
        return 0;
    case 2:
    case 3: {
        if (arg > left)
            return corrupt(d, at,
                           major == 2 ? "truncated input (byte string)"
                                      : "truncated input (text string)");
        if (major == 3 && !kl_utf8_valid((const char *)d->p, (size_t)arg))
            return corrupt(d, at, "text string is not valid UTF-8");
        kl_value v;
        if ((rc = kl_value_bytes(&v, d->p, (size_t)arg)))
            return rc;
        v.type = major == 2 ? KL_BYTES : KL_TEXT;
        d->p += arg;
        *out = v;
        return 0;
    }
    case 4: {
        /* every item takes at least one byte: bounds the allocation */
        if (arg > left)
            return corrupt(d, at, "array longer than the input left");
        kl_value v = kl_value_array(false);
        if (arg) {
            v.u.a.items = malloc((size_t)arg * sizeof(kl_value));
            if (!v.u.a.items)
                return kl_seterr(KL_ENOMEM, "decode: out of memory for %llu items",
                                 (unsigned long long)arg);
            if ((rc = read_items(d, v.u.a.items, (size_t)arg, depth + 1))) {
                free(v.u.a.items);
                return rc;
            }
            v.u.a.len = v.u.a.cap = (size_t)arg;
        }
        *out = v;
        return 0;
    }
    case 5: {
        if (arg > left / 2)
            return corrupt(d, at, "map longer than the input left");
        kl_value v = kl_value_map();
        if (arg) {
            v.u.m.items = malloc((size_t)arg * 2 * sizeof(kl_value));
            if (!v.u.m.items)
                return kl_seterr(KL_ENOMEM, "decode: out of memory for %llu pairs",
                                 (unsigned long long)arg);
            if ((rc = read_items(d, v.u.m.items, (size_t)arg * 2, depth + 1))) {
                free(v.u.m.items);
                return rc;
            }
            v.u.m.len = v.u.m.cap = (size_t)arg;
        }
        *out = v;
        return 0;
    }
    case 6: {
        if (arg == KL_CBOR_TAG_NDARRAY)
            return read_ndarray(d, at, out);
        if (arg == KL_CBOR_TAG_OBJECT) { /* [type name, layout, value] */
            kl_value v;
            if ((rc = read_item(d, &v, depth + 1)))
                return rc;
            if (v.type != KL_ARRAY || v.u.a.len != 3 || v.u.a.items[0].type != KL_TEXT ||
                v.u.a.items[1].type != KL_INT || v.u.a.items[1].u.i < 0) {
                kl_value_free(&v);
                return corrupt(d, at, "tag 27 without [type name, layout, value]");
            }
            v.flags |= KL_VALUE_OBJECT;
            *out = v;
            return 0;
        }
        if (arg >= 64 && arg <= 87) {
            size_t count;
            return read_typed(d, at, arg, out, &count);
        }
        return corrupt(d, at, "unknown tag");
    }
    default:
        switch (ai) {
        case 20:
        case 21:
            *out = kl_value_bool(ai == 21);
            return 0;
        case 22:
            *out = kl_value_null();
            return 0;
        case 23:
            *out = kl_value_ignored();
            return 0;
        case 25:
        case 26:
        case 27: {
            double f;
            if ((rc = read_float(d, at, ai, arg, &f)))
                return rc;
            *out = kl_value_float(f);
            return 0;
        }
        }
        return corrupt(d, at, "unassigned simple value");
    }
}

/* An empty input may come as (NULL, 0) — an empty key or value: told
 * apart before any pointer arithmetic, NULL + 0 being undefined in C. */
static int check_input(const void *p, size_t len)
{
    if (!p && len)
        return kl_seterr(KL_EINVAL, "decode: NULL input");
    if (len == 0)
        return kl_seterr(KL_ECORRUPT, "decode: byte 0: empty input");
    return 0;
}

int kl_decode(const void *p, size_t len, kl_value *out)
{
    int rc = check_input(p, len);
    if (rc)
        return rc;
    dec d = {p, p, (const uint8_t *)p + len};
    kl_value v;
    if ((rc = read_item(&d, &v, 0)))
        return rc;
    if (d.p != d.end) {
        kl_value_free(&v);
        return corrupt(&d, d.p, "trailing bytes after the value");
    }
    *out = v;
    return 0;
}

/* One scalar spanning the whole input: a number, or the reason it is not. */
static int decode_scalar(const void *p, size_t len, kl_value *out)
{
    int rc = check_input(p, len);
    if (rc)
        return rc;
    dec d = {p, p, (const uint8_t *)p + len};
    unsigned major = 0, ai = 0;
    uint64_t arg = 0;
    rc = read_head(&d, &major, &ai, &arg);
    if (rc)
        return rc;
    if (d.p == d.end) {
        if (major == 0 && arg <= INT64_MAX) {
            *out = kl_value_int((int64_t)arg);
            return 0;
        }
        if (major == 1 && arg <= INT64_MAX) {
            *out = kl_value_int(-1 - (int64_t)arg);
            return 0;
        }
        if (major == 7 && ai >= 25 && ai <= 27) {
            double f;
            read_float(&d, p, ai, arg, &f);
            *out = kl_value_float(f);
            return 0;
        }
    }
    /* anything else: validate fully to tell corrupt from wrong type */
    kl_value v;
    if ((rc = kl_decode(p, len, &v)))
        return rc;
    *out = v;
    return 0;
}

int kl_decode_double(const void *p, size_t len, double *out)
{
    if (p && kl__cbor_f64_get(p, len, out)) /* the common case: a float64 */
        return 0;
    kl_value v;
    int rc = decode_scalar(p, len, &v);
    if (rc)
        return rc;
    if (v.type == KL_FLOAT)
        *out = v.u.f;
    else if (v.type == KL_INT)
        *out = (double)v.u.i;
    else {
        int t = v.type;
        kl_value_free(&v);
        return kl_seterr(KL_ETYPE, "decode: expected a number, found value type %d", t);
    }
    return 0;
}

int kl_decode_int64(const void *p, size_t len, int64_t *out)
{
    kl_value v;
    int rc = decode_scalar(p, len, &v);
    if (rc)
        return rc;
    if (v.type != KL_INT) {
        int t = v.type;
        kl_value_free(&v);
        return kl_seterr(KL_ETYPE, "decode: expected an integer, found value type %d", t);
    }
    *out = v.u.i;
    return 0;
}
