/* SPDX-License-Identifier: BSD-3-Clause */
/* The Python-literal text rendering: exactly what Python's repr() prints
 * for the same value, including the shortest round-trip float form. */
#include "codec/codec_internal.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const dtype_names[] = {
    [KL_DT_INT8] = "int8",       [KL_DT_INT16] = "int16",   [KL_DT_INT32] = "int32",
    [KL_DT_INT64] = "int64",     [KL_DT_UINT8] = "uint8",   [KL_DT_UINT16] = "uint16",
    [KL_DT_UINT32] = "uint32",   [KL_DT_UINT64] = "uint64", [KL_DT_FLOAT32] = "float32",
    [KL_DT_FLOAT64] = "float64",
};

const char *kl__dtype_name(kl_dtype dt)
{
    return (unsigned)dt < sizeof dtype_names / sizeof dtype_names[0] ? dtype_names[dt] : NULL;
}

int kl__dtype_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (strlen(dtype_names[i]) == len && memcmp(dtype_names[i], name, len) == 0)
            return (int)i;
    return -1;
}

/* ---- floats ---------------------------------------------------------- */

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Lays out significant digits d (no trailing zeros) with the decimal point
 * after `decpt` of them the way Python's float repr does: scientific when
 * decpt <= -4 or decpt > 16, else positional with at least one fraction
 * digit. */
static size_t layout(char *dst, bool neg, const char *d, int nd, int decpt)
{
    char *o = dst;
    if (neg)
        *o++ = '-';
    if (decpt <= -4 || decpt > 16) {
        *o++ = d[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        int x = decpt - 1;
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        if (x < 0)
            x = -x;
        if (x >= 100)
            *o++ = (char)('0' + x / 100);
        *o++ = (char)('0' + x / 10 % 10);
        *o++ = (char)('0' + x % 10);
    } else if (decpt <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -decpt; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)nd);
        o += nd;
    } else if (decpt >= nd) {
        memcpy(o, d, (size_t)nd);
        o += nd;
        for (int i = nd; i < decpt; i++)
            *o++ = '0';
        *o++ = '.';
        *o++ = '0';
    } else {
        memcpy(o, d, (size_t)decpt);
        o += decpt;
        *o++ = '.';
        memcpy(o, d + decpt, (size_t)(nd - decpt));
        o += nd - decpt;
    }
    return (size_t)(o - dst);
}

/* Digits of an unsigned integer below 1e17, returns count. */
static int utoa_digits(char *d, uint64_t m)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    for (int i = 0; i < n; i++)
        d[i] = tmp[n - 1 - i];
    return n;
}

/* Reads printf's "%.*e" output: significant digits into d, returns the
 * count; *x gets the exponent.  Any locale's radix character is skipped. */
static int split_e(const char *buf, char *d, int *x)
{
    int nd = 0;
    const char *s = buf;
    while (*s && *s != 'e') {
        if (*s >= '0' && *s <= '9')
            d[nd++] = *s;
        s++;
    }
    *x = atoi(s + 1);
    return nd;
}

/* Whether the decimal digits d (nd of them) times 10^(x-nd+1) read back as f. */
static bool reads_back(const char *d, int nd, int x, double f)
{
    char buf[48];
    memcpy(buf, d, (size_t)nd);
    snprintf(buf + nd, sizeof buf - (size_t)nd, "e%d", x - nd + 1);
    return strtod(buf, NULL) == f;
}

/* Shortest digits via printf at 15, 16, 17 significant digits: the first
 * precision whose correctly rounded output reads back as f is the shortest,
 * and (being correctly rounded) the closest such string.  Two exceptions
 * need care: subnormals have fewer than 15 digits of precision (so start at
 * one digit), and at an exact power of two the rounding interval is
 * narrower below than above, so the string just above the correctly
 * rounded one may be the shortest that reads back. */
static int slow_digits(double f, char *d, int *decpt)
{
    char buf[40];
    uint64_t bits;
    memcpy(&bits, &f, 8);
    bool pow2 = (bits & 0xfffffffffffffull) == 0;
    int nd = 0, x = 0;
    for (int prec = f < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        nd = split_e(buf, d, &x);
        if (prec == 17 || reads_back(d, nd, x, f))
            break;
        if (pow2 && nd == prec) {
            char up[24];
            memcpy(up, d, (size_t)nd);
            int i = nd - 1, ux = x;
            while (i >= 0 && up[i] == '9')
                up[i--] = '0';
            if (i >= 0)
                up[i]++;
            else {
                up[0] = '1';
                ux++;
            }
            if (reads_back(up, nd, ux, f)) {
                memcpy(d, up, (size_t)nd);
                x = ux;
                break;
            }
        }
    }
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    *decpt = x + 1;
    return nd;
}

/* Exact shortest digits for 2^-16 <= a < 2^53 with 128-bit integers: the
 * correctly rounded p-digit decimal q * 10^-k is tested against a's
 * rounding interval exactly, all scaled by 4 * 10^k * 2^s (a = m2 * 2^-s).
 * Returns false when a is outside the range this arithmetic covers or no
 * p-digit decimal reads back as a. */
static bool digits_exact(uint64_t bits, int p, char *d, int *nd, int *decpt)
{
    static const uint64_t pow10_u64[] = {1ull,
                                         10ull,
                                         100ull,
                                         1000ull,
                                         10000ull,
                                         100000ull,
                                         1000000ull,
                                         10000000ull,
                                         100000000ull,
                                         1000000000ull,
                                         10000000000ull,
                                         100000000000ull,
                                         1000000000000ull,
                                         10000000000000ull,
                                         100000000000000ull,
                                         1000000000000000ull,
                                         10000000000000000ull,
                                         100000000000000000ull,
                                         1000000000000000000ull,
                                         10000000000000000000ull};
    unsigned exp = (unsigned)(bits >> 52) & 0x7ffu;
    if (exp < 1075 - 68 || exp > 1074)
        return false;
    unsigned s = 1075 - exp;
    uint64_t m2 = (bits & 0xfffffffffffffull) | (1ull << 52);
    /* decimal point position estimate from the binary exponent; fixed below */
    int e2 = (int)exp - 1023;
    int dp = (int)((e2 >= 0 ? e2 : e2 - 1) * 0.30102999566398120) + 1;
    unsigned __int128 N = 0, q = 0, p10k = 0;
    for (int tries = 0; tries < 4; tries++) {
        int k = p - dp;
        if (k < 0 || k > 21)
            return false;
        p10k = k <= 19 ? pow10_u64[k] : (unsigned __int128)pow10_u64[19] * pow10_u64[k - 19];
        N = (unsigned __int128)m2 * p10k;
        q = N >> s;
        if (q >= pow10_u64[p])
            dp++;
        else if (q < pow10_u64[p - 1])
            dp--;
        else
            break;
        if (tries == 3)
            return false;
    }
    unsigned __int128 r = N & ((((unsigned __int128)1) << s) - 1), half = ((unsigned __int128)1)
                                                                          << (s - 1);
    if (r > half || (r == half && (q & 1)))
        q++;
    bool pow2 = m2 == (1ull << 52) && exp > 1;
    unsigned __int128 w_hi = 2 * p10k, w_lo = pow2 ? p10k : 2 * p10k, four_n = 4 * N;
    bool even = (m2 & 1) == 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned __int128 lhs = q << (s + 2);
        bool ok;
        if (lhs >= four_n) {
            unsigned __int128 diff = lhs - four_n;
            ok = diff < w_hi || (diff == w_hi && even);
        } else {
            unsigned __int128 diff = four_n - lhs;
            ok = diff < w_lo || (diff == w_lo && even);
        }
        if (ok) {
            int n;
            if (q == pow10_u64[p]) { /* rounded up to the next decade */
                n = utoa_digits(d, pow10_u64[p - 1]);
                dp++;
            } else
                n = utoa_digits(d, (uint64_t)q);
            while (n > 1 && d[n - 1] == '0')
                n--;
            *nd = n;
            *decpt = dp;
            return true;
        }
        if (!pow2)
            return false;
        q++; /* the narrower interval below: the next decimal up may fit */
    }
    return false;
}

static size_t fmt_double(char *dst, double f)
{
    if (isnan(f)) {
        memcpy(dst, "nan", 3);
        return 3;
    }
    bool neg = signbit(f);
    double a = fabs(f);
    if (isinf(a)) {
        if (neg) {
            memcpy(dst, "-inf", 4);
            return 4;
        }
        memcpy(dst, "inf", 3);
        return 3;
    }
    if (a == 0) {
        memcpy(dst, "-0.0", 4);
        if (neg)
            return 4;
        memcpy(dst, "0.0", 3);
        return 3;
    }
    char d[24];
    int nd, decpt;
    /* Fast path: at most 15 significant digits and 22 fraction digits.  Then
     * M / 10^k is one correctly rounded division of exact operands, so the
     * test below is exactly "the decimal M e-k reads back as a"; and 15-digit
     * decimals are spaced wider than a double's rounding interval, so the
     * first k that works gives the unique shortest string. */
    if (a < 1e15 && a >= 1e-7) {
        for (int k = 0; k <= 22; k++) {
            double m = nearbyint(a * pow10_exact[k]);
            if (m >= 1e15)
                break;
            if (m / pow10_exact[k] == a) {
                uint64_t mi = (uint64_t)m;
                nd = utoa_digits(d, mi);
                decpt = nd - k;
                while (nd > 1 && d[nd - 1] == '0')
                    nd--;
                return layout(dst, neg, d, nd, decpt);
            }
        }
    }
    uint64_t bits;
    memcpy(&bits, &a, 8);
    for (int p = a < 1e15 && a >= 1e-7 ? 16 : 15; p <= 17; p++)
        if (digits_exact(bits, p, d, &nd, &decpt))
            return layout(dst, neg, d, nd, decpt);
    nd = slow_digits(a, d, &decpt);
    return layout(dst, neg, d, nd, decpt);
}

int kl_repr_double(kl_buf *out, double f)
{
    int rc = kl_buf_reserve(out, 32);
    if (rc)
        return rc;
    out->len += fmt_double((char *)out->data + out->len, f);
    return 0;
}

/* ---- strings --------------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

/* Python picks the single quote unless the text holds one and no double. */
static char pick_quote(const char *s, size_t len)
{
    bool sq = memchr(s, '\'', len) != NULL, dq = memchr(s, '"', len) != NULL;
    return sq && !dq ? '"' : '\'';
}

/* Decodes one code point of valid UTF-8 at s, returns its length. */
static size_t utf8_next(const uint8_t *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] < 0xe0) {
        *cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
        return 2;
    }
    if (s[0] < 0xf0) {
        *cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        return 3;
    }
    *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
          (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    return 4;
}

static int repr_text(kl_buf *out, const char *str, size_t len)
{
    if (!kl_utf8_valid(str, len))
        return kl_seterr(KL_ETYPE, "repr: text value is not valid UTF-8");
    char q = pick_quote(str, len);
    /* worst case: every byte becomes \xNN (4 bytes) or one 4-byte character
     * becomes \UNNNNNNNN (10 bytes) */
    if (len > (SIZE_MAX - 2) / 4)
        return kl_seterr(KL_ENOMEM, "repr: text too large");
    int rc = kl_buf_reserve(out, len * 4 + 2);
    if (rc)
        return rc;
    char *o = (char *)out->data + out->len;
    const uint8_t *s = (const uint8_t *)str, *end = s + len;
    *o++ = q;
    while (s < end) {
        uint8_t c = *s;
        if (c < 0x80) {
            s++;
            if (c == (uint8_t)q || c == '\\') {
                *o++ = '\\';
                *o++ = (char)c;
            } else if (c == '\n') {
                *o++ = '\\';
                *o++ = 'n';
            } else if (c == '\r') {
                *o++ = '\\';
                *o++ = 'r';
            } else if (c == '\t') {
                *o++ = '\\';
                *o++ = 't';
            } else if (c < 0x20 || c == 0x7f) {
                *o++ = '\\';
                *o++ = 'x';
                *o++ = hexdig[c >> 4];
                *o++ = hexdig[c & 15];
            } else
                *o++ = (char)c;
            continue;
        }
        uint32_t cp = 0;
        size_t n = utf8_next(s, &cp);
        if (kl__unicode_printable(cp)) {
            memcpy(o, s, n);
            o += n;
        } else if (cp <= 0xff) {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hexdig[cp >> 4];
            *o++ = hexdig[cp & 15];
        } else if (cp <= 0xffff) {
            *o++ = '\\';
            *o++ = 'u';
            for (int sh = 12; sh >= 0; sh -= 4)
                *o++ = hexdig[(cp >> sh) & 15];
        } else {
            *o++ = '\\';
            *o++ = 'U';
            for (int sh = 28; sh >= 0; sh -= 4)
                *o++ = hexdig[(cp >> sh) & 15];
        }
        s += n;
    }
    *o++ = q;
    out->len = (size_t)((uint8_t *)o - out->data);
    return 0;
}

static int repr_bytes(kl_buf *out, const uint8_t *s, size_t len)
{
    char q = pick_quote((const char *)s, len);
    if (len > (SIZE_MAX - 3) / 4)
        return kl_seterr(KL_ENOMEM, "repr: bytes too large");
    int rc = kl_buf_reserve(out, len * 4 + 3);
    if (rc)
        return rc;
    char *o = (char *)out->data + out->len;
    *o++ = 'b';
    *o++ = q;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c == (uint8_t)q || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c == '\r') {
            *o++ = '\\';
            *o++ = 'r';
        } else if (c == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (c < 0x20 || c >= 0x7f) {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hexdig[c >> 4];
            *o++ = hexdig[c & 15];
        } else
            *o++ = (char)c;
    }
    *o++ = q;
    out->len = (size_t)((uint8_t *)o - out->data);
    return 0;
}

/* ---- nd-arrays ---------------------------------------------------------
 * Rendered numpy-like but exact: array([[1, 2], [3, 4]], dtype=int32), each
 * element as Python's repr of its value (float32 elements are widened to
 * double, so they read back bit-exactly).  A 0-d array is array(5,
 * dtype=...); an empty array of more than one dimension is
 * array([], shape=(0, 3), dtype=...) as in numpy. */

int kl__nd_elem_text(kl_buf *out, kl_dtype dt, const uint8_t *p,
                    int (*format_double)(kl_buf *, double))
{
    switch (dt) {
    case KL_DT_INT8:
        return kl_buf_printf(out, "%d", *(const int8_t *)p);
    case KL_DT_UINT8:
        return kl_buf_printf(out, "%u", *p);
    case KL_DT_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        return kl_buf_printf(out, "%d", x);
    }
    case KL_DT_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        return kl_buf_printf(out, "%u", x);
    }
    case KL_DT_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        return kl_buf_printf(out, "%d", x);
    }
    case KL_DT_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        return kl_buf_printf(out, "%u", x);
    }
    case KL_DT_INT64: {
        int64_t x;
        memcpy(&x, p, 8);
        return kl_buf_printf(out, "%lld", (long long)x);
    }
    case KL_DT_UINT64: {
        uint64_t x;
        memcpy(&x, p, 8);
        return kl_buf_printf(out, "%llu", (unsigned long long)x);
    }
    case KL_DT_FLOAT32: {
        float x;
        memcpy(&x, p, 4);
        return format_double(out, x);
    }
    case KL_DT_FLOAT64: {
        double x;
        memcpy(&x, p, 8);
        return format_double(out, x);
    }
    }
    return kl_seterr(KL_ETYPE, "bad nd-array dtype %d", (int)dt);
}

static int repr_nd_level(kl_buf *out, const kl_value *v, unsigned dim, const uint8_t **p)
{
    kl_dtype dt = (kl_dtype)v->u.nd.dtype;
    int rc = kl_buf_append(out, "[", 1);
    for (size_t i = 0; !rc && i < v->u.nd.shape[dim]; i++) {
        if (i)
            rc = kl_buf_append(out, ", ", 2);
        if (rc)
            break;
        if (dim + 1 < v->u.nd.ndim)
            rc = repr_nd_level(out, v, dim + 1, p);
        else {
            rc = kl__nd_elem_text(out, dt, *p, kl_repr_double);
            *p += kl_dtype_size(dt);
        }
    }
    return rc ? rc : kl_buf_append(out, "]", 1);
}

static int repr_ndarray(kl_buf *out, const kl_value *v)
{
    kl_dtype dt = (kl_dtype)v->u.nd.dtype;
    const char *name = kl__dtype_name(dt);
    if (!name || v->u.nd.ndim > KL_NDARRAY_MAXDIM)
        return kl_seterr(KL_ETYPE, "repr: bad nd-array dtype %d or ndim %d", v->u.nd.dtype,
                         v->u.nd.ndim);
    const uint8_t *p = v->u.nd.data;
    int rc = kl_buf_append_str(out, "array(");
    if (rc)
        return rc;
    /* With no elements the nesting says nothing (and [[], [], ...] could
     * be unboundedly long): write [] and the shape. */
    bool empty = false;
    for (unsigned i = 0; i < v->u.nd.ndim; i++)
        if (v->u.nd.shape[i] == 0)
            empty = true;
    if (v->u.nd.ndim == 0)
        rc = kl__nd_elem_text(out, dt, p, kl_repr_double);
    else if (empty)
        rc = kl_buf_append(out, "[]", 2);
    else
        rc = repr_nd_level(out, v, 0, &p);
    if (rc)
        return rc;
    if (empty && v->u.nd.ndim > 1) {
        rc = kl_buf_append_str(out, ", shape=(");
        for (unsigned i = 0; !rc && i < v->u.nd.ndim; i++)
            rc = kl_buf_printf(out, i ? ", %zu" : "%zu", v->u.nd.shape[i]);
        if (!rc)
            rc = kl_buf_append_str(out, v->u.nd.ndim == 1 ? ",)" : ")");
        if (rc)
            return rc;
    }
    return kl_buf_printf(out, ", dtype=%s)", name);
}

/* ---- values ------------------------------------------------------------ */

static int repr_value(kl_buf *out, const kl_value *v, unsigned depth)
{
    if (depth > KL_DECODE_MAX_DEPTH)
        return kl_seterr(KL_ETOOBIG, "repr: value nested deeper than %d", KL_DECODE_MAX_DEPTH);
    int rc = 0;
    switch ((kl_type)v->type) {
    case KL_NULL:
        return kl_buf_append(out, "None", 4);
    case KL_IGNORED:
        /* CBOR undefined (0xf7), the marker of an ignored argument, is
         * NULL: what Python klepto's marker (klepto.NULL) prints, and the
         * word kl_parse reads back as this marker — never None, which is
         * CBOR null (0xf6), another value.  Key texts of ignored calls
         * (keymap.h) have always said NULL, so this cannot change. */
        return kl_buf_append(out, "NULL", 4);
    case KL_BOOL:
        return v->u.b ? kl_buf_append(out, "True", 4) : kl_buf_append(out, "False", 5);
    case KL_INT: {
        char tmp[24];
        uint64_t m = v->u.i < 0 ? -(uint64_t)v->u.i : (uint64_t)v->u.i;
        int n = 0;
        if (v->u.i < 0)
            tmp[n++] = '-';
        n += utoa_digits(tmp + n, m);
        return kl_buf_append(out, tmp, (size_t)n);
    }
    case KL_FLOAT:
        return kl_repr_double(out, v->u.f);
    case KL_TEXT:
        return repr_text(out, v->u.s.ptr, v->u.s.len);
    case KL_BYTES:
        return repr_bytes(out, (const uint8_t *)v->u.s.ptr, v->u.s.len);
    case KL_ARRAY: {
        bool tuple = v->flags & KL_VALUE_TUPLE && !(v->flags & KL_VALUE_OBJECT);
        /* a user type's object: as cbor2 shows an unknown tag */
        if (v->flags & KL_VALUE_OBJECT && (rc = kl_buf_append_str(out, "CBORTag(27, ")))
            return rc;
        if ((rc = kl_buf_append(out, tuple ? "(" : "[", 1)))
            return rc;
        for (size_t i = 0; i < v->u.a.len; i++) {
            if (i && (rc = kl_buf_append(out, ", ", 2)))
                return rc;
            if ((rc = repr_value(out, &v->u.a.items[i], depth + 1)))
                return rc;
        }
        if (tuple && v->u.a.len == 1 && (rc = kl_buf_append(out, ",", 1)))
            return rc;
        if (v->flags & KL_VALUE_OBJECT)
            return kl_buf_append(out, "])", 2);
        return kl_buf_append(out, tuple ? ")" : "]", 1);
    }
    case KL_MAP:
        if ((rc = kl_buf_append(out, "{", 1)))
            return rc;
        for (size_t i = 0; i < v->u.m.len; i++) {
            if (i && (rc = kl_buf_append(out, ", ", 2)))
                return rc;
            if ((rc = repr_value(out, &v->u.m.items[2 * i], depth + 1)) ||
                (rc = kl_buf_append(out, ": ", 2)) ||
                (rc = repr_value(out, &v->u.m.items[2 * i + 1], depth + 1)))
                return rc;
        }
        return kl_buf_append(out, "}", 1);
    case KL_NDARRAY:
        return repr_ndarray(out, v);
    }
    return kl_seterr(KL_ETYPE, "repr: unknown value type %d", v->type);
}

int kl_repr(kl_buf *out, const kl_value *v)
{
    size_t mark = out->len;
    int rc = repr_value(out, v, 0);
    if (rc)
        out->len = mark;
    return rc;
}
