/* SPDX-License-Identifier: BSD-3-Clause */
/* The Python-literal parser: reads back everything kl_repr() writes (and
 * the usual hand-written variations: both quote styles, escapes, signs,
 * whitespace, trailing commas, inf/nan). */
#define _GNU_SOURCE
#include "codec/codec_internal.h"
#include "internal.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>

typedef struct parser {
    const char *base, *p, *end;
    bool u64_ok; /* inside nd-array data: integers up to UINT64_MAX */
} parser;

/* Marks an integer parsed above INT64_MAX (its bits in u.i), only ever
 * seen inside nd-array data. */
#define PARSE_U64 0x80u

static int perr(const parser *ps, const char *at, const char *what)
{
    return kl_seterr(KL_EINVAL, "parse: position %zu: %s", (size_t)(at - ps->base), what);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
                               *ps->p == '\r' || *ps->p == '\f' || *ps->p == '\v'))
        ps->p++;
}

static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* True (and consumed) when the input continues with the word w, not
 * followed by more identifier characters. */
static bool take_word(parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return false;
    if (ps->p + n < ps->end && is_ident(ps->p[n]))
        return false;
    ps->p += n;
    return true;
}

static bool take_char(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* ---- numbers --------------------------------------------------------- */

/* strtod in the C locale whatever the program's locale is. */
static double c_strtod(const char *s)
{
    static locale_t cloc;
    locale_t l = __atomic_load_n(&cloc, __ATOMIC_ACQUIRE);
    if (!l) {
        locale_t fresh = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        locale_t expected = (locale_t)0;
        if (fresh && !__atomic_compare_exchange_n(&cloc, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                                  __ATOMIC_ACQUIRE)) {
            freelocale(fresh);
            fresh = expected;
        }
        l = fresh;
    }
    return l ? strtod_l(s, NULL, l) : strtod(s, NULL);
}

/* Digits with single underscores between them; *n counts the digits. */
static int scan_digits(parser *ps, const char *start, size_t *n)
{
    *n = 0;
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c >= '0' && c <= '9') {
            (*n)++;
        } else if (c == '_') {
            if (*n == 0 || ps->p + 1 >= ps->end || ps->p[1] < '0' || ps->p[1] > '9')
                return perr(ps, start, "'_' must stand between two digits of a number");
        } else {
            break;
        }
        ps->p++;
    }
    return 0;
}

static int parse_number(parser *ps, kl_value *out)
{
    const char *start = ps->p;
    bool neg = false;
    if (ps->p < ps->end && (*ps->p == '-' || *ps->p == '+')) {
        neg = *ps->p == '-';
        ps->p++;
        skip_ws(ps);
    }
    if (take_word(ps, "inf") || take_word(ps, "infinity")) {
        *out = kl_value_float(neg ? -INFINITY : INFINITY);
        return 0;
    }
    if (take_word(ps, "nan")) {
        *out = kl_value_float(NAN);
        return 0;
    }
    /* Python's grammar: digits ["." digits] [("e"|"E") ["+"|"-"] digits],
     * where either side of the point may be empty (not both) and "_" may
     * only stand between two digits. */
    const char *digits = ps->p;
    size_t nint = 0, nfrac = 0, nexp = 0;
    int rc = scan_digits(ps, start, &nint);
    bool isfloat = false;
    if (!rc && ps->p < ps->end && *ps->p == '.') {
        isfloat = true;
        ps->p++;
        rc = scan_digits(ps, start, &nfrac);
    }
    if (rc)
        return rc;
    if (nint == 0 && nfrac == 0)
        return perr(ps, start, "expected a value");
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        isfloat = true;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if ((rc = scan_digits(ps, start, &nexp)))
            return rc;
        if (nexp == 0)
            return perr(ps, start, "a number's exponent has no digits");
    }
    char tok[400];
    size_t tn = 0;
    if (neg)
        tok[tn++] = '-';
    for (const char *q = digits; q < ps->p; q++) {
        if (*q == '_')
            continue;
        if (tn + 1 >= sizeof tok)
            return perr(ps, start, "number too long");
        tok[tn++] = *q;
    }
    tok[tn] = '\0';
    if (ps->p < ps->end && is_ident(*ps->p))
        return perr(ps, ps->p, "unexpected character in a number");
    if (isfloat) {
        *out = kl_value_float(c_strtod(tok));
        return 0;
    }
    /* Python rejects leading zeros in non-zero decimals ("007") */
    if (digits[0] == '0' && ps->p - digits > 1) {
        for (const char *q = digits; q < ps->p; q++)
            if (*q != '0' && *q != '_')
                return perr(ps, start, "leading zeros in an integer");
    }
    uint64_t m = 0;
    for (const char *q = digits; q < ps->p; q++) {
        if (*q == '_')
            continue;
        unsigned d = (unsigned)(*q - '0');
        if (m > (UINT64_MAX - d) / 10)
            return perr(ps, start, "integer out of the int64 range");
        m = m * 10 + d;
    }
    if (!neg && m > (uint64_t)INT64_MAX && ps->u64_ok) {
        *out = kl_value_int((int64_t)m);
        out->flags = PARSE_U64;
        return 0;
    }
    if (neg ? m > (uint64_t)INT64_MAX + 1 : m > (uint64_t)INT64_MAX)
        return perr(ps, start, "integer out of the int64 range");
    *out = kl_value_int(neg ? (int64_t)(0 - m) : (int64_t)m);
    return 0;
}

/* ---- strings ----------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A run of exactly n hex digits at ps->p. */
static int take_hex(parser *ps, const char *esc, int n, uint32_t *out)
{
    uint32_t v = 0;
    if (ps->end - ps->p < n)
        return perr(ps, esc, "truncated escape");
    for (int i = 0; i < n; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0)
            return perr(ps, esc, "bad hex digit in an escape");
        v = v << 4 | (uint32_t)h;
    }
    ps->p += n;
    *out = v;
    return 0;
}

/* One escape sequence after its backslash; appends what it stands for. */
static int parse_escape(parser *ps, kl_buf *b, bool bytes, const char *esc)
{
    if (ps->p >= ps->end)
        return perr(ps, esc, "unterminated string");
    char c = *ps->p++;
    uint32_t cp = 0;
    int rc;
    switch (c) {
    case '\n':
        return 0; /* line continuation */
    case '\\':
    case '\'':
    case '"':
        return kl_buf_append(b, &c, 1);
    case 'a':
        cp = 7;
        break;
    case 'b':
        cp = 8;
        break;
    case 'f':
        cp = 12;
        break;
    case 'n':
        cp = 10;
        break;
    case 'r':
        cp = 13;
        break;
    case 't':
        cp = 9;
        break;
    case 'v':
        cp = 11;
        break;
    case 'x':
        if ((rc = take_hex(ps, esc, 2, &cp)))
            return rc;
        if (bytes) {
            uint8_t byte = (uint8_t)cp;
            return kl_buf_append(b, &byte, 1);
        }
        break;
    case 'u':
    case 'U':
        if (bytes) {
            char raw[2] = {'\\', c};
            return kl_buf_append(b, raw, 2);
        }
        if ((rc = take_hex(ps, esc, c == 'u' ? 4 : 8, &cp)))
            return rc;
        break;
    case 'N':
        return perr(ps, esc, "\\N{...} escapes are not supported");
    default:
        if (c >= '0' && c <= '7') {
            cp = (uint32_t)(c - '0');
            for (int i = 0; i < 2 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7'; i++)
                cp = cp * 8 + (uint32_t)(*ps->p++ - '0');
            if (bytes) {
                if (cp > 0xff)
                    return perr(ps, esc, "octal escape above \\377 in bytes");
                uint8_t byte = (uint8_t)cp;
                return kl_buf_append(b, &byte, 1);
            }
            break;
        }
        /* unknown escapes keep their backslash, as in Python */
        char raw[2] = {'\\', c};
        ps->p--;
        if ((rc = kl_buf_append(b, raw, 1)))
            return rc;
        return 0;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return perr(ps, esc, "escape is not a Unicode scalar value");
    if (bytes) {
        uint8_t byte = (uint8_t)cp;
        return kl_buf_append(b, &byte, 1);
    }
    return kl_buf_append_utf8(b, cp);
}

static int parse_string(parser *ps, kl_value *out)
{
    const char *start = ps->p;
    bool bytes = false, raw = false;
    while (ps->p < ps->end && *ps->p != '\'' && *ps->p != '"') {
        char c = *ps->p;
        if ((c == 'b' || c == 'B') && !bytes)
            bytes = true;
        else if ((c == 'r' || c == 'R') && !raw)
            raw = true;
        else
            return perr(ps, start, "bad string prefix");
        ps->p++;
    }
    if (ps->p >= ps->end)
        return perr(ps, start, "expected a value");
    char q = *ps->p++;
    bool triple = false;
    if (ps->end - ps->p >= 2 && ps->p[0] == q && ps->p[1] == q) {
        triple = true;
        ps->p += 2;
    }
    kl_buf b = KL_BUF_INIT;
    int rc = 0;
    for (;;) {
        if (ps->p >= ps->end) {
            rc = perr(ps, start, "unterminated string");
            break;
        }
        const char *at = ps->p;
        char c = *ps->p;
        if (c == q) {
            if (!triple) {
                ps->p++;
                break;
            }
            if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q) {
                ps->p += 3;
                break;
            }
            /* a lone quote inside a triple-quoted string */
            if ((rc = kl_buf_append(&b, &q, 1)))
                break;
            ps->p++;
            continue;
        }
        if (c == '\\') {
            ps->p++;
            if (raw) {
                /* a raw string keeps the backslash; it still shields a quote */
                rc = kl_buf_append(&b, "\\", 1);
                if (!rc && ps->p < ps->end) {
                    rc = kl_buf_append(&b, ps->p, 1);
                    ps->p++;
                }
            } else
                rc = parse_escape(ps, &b, bytes, at);
            if (rc)
                break;
            continue;
        }
        if (bytes && (uint8_t)c >= 0x80) {
            rc = perr(ps, at, "non-ASCII character in a bytes literal");
            break;
        }
        /* copy the run of ordinary characters at once */
        const char *run = ps->p;
        while (ps->p < ps->end && *ps->p != q && *ps->p != '\\')
            ps->p++;
        if (bytes)
            for (const char *k = run; k < ps->p; k++)
                if ((uint8_t)*k >= 0x80) {
                    ps->p = k;
                    break;
                }
        if ((rc = kl_buf_append(&b, run, (size_t)(ps->p - run))))
            break;
    }
    if (!rc) {
        const char *data = b.data ? (const char *)b.data : "";
        if (bytes)
            rc = kl_value_bytes(out, data, b.len);
        else if (!kl_utf8_valid(data, b.len))
            rc = perr(ps, start, "string is not valid UTF-8");
        else
            rc = kl_value_text(out, data, b.len);
    }
    kl_buf_free(&b);
    return rc;
}

/* ---- containers ---------------------------------------------------------- */

static int parse_value(parser *ps, kl_value *out, unsigned depth);

/* Items up to `close`, separated by commas, trailing comma allowed.
 * *commas tells whether any comma was seen (for the 1-tuple). */
static int parse_items(parser *ps, kl_value *arr, char close, unsigned depth, bool *comma)
{
    *comma = false;
    for (;;) {
        if (take_char(ps, close))
            return 0;
        kl_value item;
        int rc = parse_value(ps, &item, depth + 1);
        if (rc)
            return rc;
        if ((rc = kl_value_array_push(arr, &item))) {
            kl_value_free(&item);
            return rc;
        }
        if (take_char(ps, ','))
            *comma = true;
        else if (take_char(ps, close))
            return 0;
        else
            return perr(ps, ps->p, close == ']' ? "expected ',' or ']'" : "expected ',' or ')'");
    }
}

static int parse_map(parser *ps, kl_value *out, unsigned depth)
{
    kl_value m = kl_value_map();
    int rc = 0;
    for (;;) {
        if (take_char(ps, '}'))
            break;
        kl_value k, v;
        if ((rc = parse_value(ps, &k, depth + 1)))
            break;
        if (!take_char(ps, ':')) {
            kl_value_free(&k);
            rc = perr(ps, ps->p, "expected ':'");
            break;
        }
        if ((rc = parse_value(ps, &v, depth + 1))) {
            kl_value_free(&k);
            break;
        }
        if ((rc = kl_value_map_put(&m, &k, &v))) {
            kl_value_free(&k);
            kl_value_free(&v);
            break;
        }
        if (take_char(ps, ','))
            continue;
        if (take_char(ps, '}'))
            break;
        rc = perr(ps, ps->p, "expected ',' or '}'");
        break;
    }
    if (rc) {
        kl_value_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- nd-arrays ------------------------------------------------------------ */

/* The shape of nested lists, read down the first elements. */
static uint8_t nd_guess_shape(const kl_value *v, size_t *shape)
{
    uint8_t ndim = 0;
    while (v->type == KL_ARRAY && ndim < KL_NDARRAY_MAXDIM + 1) {
        if (ndim < KL_NDARRAY_MAXDIM)
            shape[ndim] = v->u.a.len;
        ndim++;
        if (v->u.a.len == 0)
            break;
        v = &v->u.a.items[0];
    }
    return ndim;
}

/* Checks that the nested lists are rectangular with that shape and hold
 * numbers; *anyfloat tells whether one is a float. */
static int nd_check(parser *ps, const char *at, const kl_value *v, unsigned dim, uint8_t ndim,
                    const size_t *shape, bool *anyfloat)
{
    if (dim == ndim) {
        if (v->type == KL_FLOAT)
            *anyfloat = true;
        else if (v->type != KL_INT && v->type != KL_BOOL)
            return perr(ps, at, "nd-array element is not a number");
        return 0;
    }
    if (v->type != KL_ARRAY || v->u.a.len != shape[dim])
        return perr(ps, at, "nd-array is not rectangular");
    for (size_t i = 0; i < v->u.a.len; i++) {
        int rc = nd_check(ps, at, &v->u.a.items[i], dim + 1, ndim, shape, anyfloat);
        if (rc)
            return rc;
    }
    return 0;
}

static int nd_store(parser *ps, const char *at, kl_dtype dt, const kl_value *e, uint8_t *dst)
{
    double f = e->type == KL_FLOAT ? e->u.f : 0;
    int64_t i = e->type == KL_INT ? e->u.i : e->type == KL_BOOL ? e->u.b : 0;
    bool isint = e->type != KL_FLOAT;
    if (dt == KL_DT_FLOAT64) {
        double x = isint ? (double)i : f;
        memcpy(dst, &x, 8);
        return 0;
    }
    if (dt == KL_DT_FLOAT32) {
        float x = isint                                            ? (float)i
                  : (fabs(f) > 3.4028234663852886e38 && !isinf(f)) ? (f > 0 ? INFINITY : -INFINITY)
                                                                   : (float)f;
        memcpy(dst, &x, 4);
        return 0;
    }
    if (!isint)
        return perr(ps, at, "float element in an integer nd-array");
    if (e->flags & PARSE_U64) {
        if (dt != KL_DT_UINT64)
            return perr(ps, at, "nd-array element out of its dtype's range");
        memcpy(dst, &i, 8);
        return 0;
    }
    int64_t lo, hi;
    switch (dt) {
    case KL_DT_INT8:
        lo = INT8_MIN;
        hi = INT8_MAX;
        break;
    case KL_DT_INT16:
        lo = INT16_MIN;
        hi = INT16_MAX;
        break;
    case KL_DT_INT32:
        lo = INT32_MIN;
        hi = INT32_MAX;
        break;
    case KL_DT_UINT8:
        lo = 0;
        hi = UINT8_MAX;
        break;
    case KL_DT_UINT16:
        lo = 0;
        hi = UINT16_MAX;
        break;
    case KL_DT_UINT32:
        lo = 0;
        hi = UINT32_MAX;
        break;
    case KL_DT_UINT64:
        lo = 0;
        hi = INT64_MAX;
        break;
    default:
        lo = INT64_MIN;
        hi = INT64_MAX;
        break;
    }
    if (i < lo || i > hi)
        return perr(ps, at, "nd-array element out of its dtype's range");
    size_t es = kl_dtype_size(dt);
    memcpy(dst, &i, es); /* little-endian: the low bytes */
    return 0;
}

static int nd_fill(parser *ps, const char *at, kl_dtype dt, const kl_value *v, uint8_t **dst)
{
    if (v->type != KL_ARRAY) {
        int rc = nd_store(ps, at, dt, v, *dst);
        *dst += kl_dtype_size(dt);
        return rc;
    }
    for (size_t i = 0; i < v->u.a.len; i++) {
        int rc = nd_fill(ps, at, dt, &v->u.a.items[i], dst);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_ndarray(parser *ps, kl_value *out, unsigned depth)
{
    const char *at = ps->p;
    kl_value data;
    bool outer = ps->u64_ok;
    ps->u64_ok = true;
    int rc = parse_value(ps, &data, depth + 1);
    ps->u64_ok = outer;
    if (rc)
        return rc;
    int dt = -1;
    size_t given[KL_NDARRAY_MAXDIM];
    int given_ndim = -1;
    while (!rc && take_char(ps, ',')) {
        skip_ws(ps);
        if (take_word(ps, "dtype")) {
            if (!take_char(ps, '=')) {
                rc = perr(ps, ps->p, "expected '='");
                break;
            }
            skip_ws(ps);
            bool quoted = ps->p < ps->end && (*ps->p == '\'' || *ps->p == '"');
            if (quoted)
                ps->p++;
            const char *name = ps->p;
            while (ps->p < ps->end && is_ident(*ps->p))
                ps->p++;
            dt = kl__dtype_from_name(name, (size_t)(ps->p - name));
            if (dt < 0)
                rc = perr(ps, name, "unknown dtype");
            if (quoted && ps->p < ps->end && (*ps->p == '\'' || *ps->p == '"'))
                ps->p++;
        } else if (take_word(ps, "shape")) {
            if (!take_char(ps, '=') || !take_char(ps, '(')) {
                rc = perr(ps, ps->p, "expected '=('");
                break;
            }
            given_ndim = 0;
            while (!take_char(ps, ')')) {
                kl_value d;
                skip_ws(ps);
                const char *dat = ps->p;
                if ((rc = parse_number(ps, &d)))
                    break;
                if (d.type != KL_INT || d.u.i < 0 || d.flags || given_ndim >= KL_NDARRAY_MAXDIM) {
                    rc = perr(ps, dat, "bad nd-array shape");
                    break;
                }
                given[given_ndim++] = (size_t)d.u.i;
                if (!take_char(ps, ',') && !(skip_ws(ps), ps->p < ps->end && *ps->p == ')')) {
                    rc = perr(ps, ps->p, "expected ',' or ')'");
                    break;
                }
            }
        } else if (ps->p < ps->end && *ps->p == ')')
            break; /* trailing comma */
        else
            rc = perr(ps, ps->p, "expected dtype= or shape=");
    }
    if (!rc && !take_char(ps, ')'))
        rc = perr(ps, ps->p, "expected ')'");
    size_t shape[KL_NDARRAY_MAXDIM] = {0};
    uint8_t ndim = nd_guess_shape(&data, shape);
    bool anyfloat = false;
    if (!rc && ndim > KL_NDARRAY_MAXDIM)
        rc = perr(ps, at, "nd-array has more than 8 dimensions");
    if (!rc)
        rc = nd_check(ps, at, &data, 0, ndim, shape, &anyfloat);
    if (!rc && dt < 0) /* no dtype: as numpy infers it */
        dt = anyfloat ? KL_DT_FLOAT64 : KL_DT_INT64;
    if (!rc && given_ndim >= 0) {
        size_t cnt = 1, gcnt = 1;
        for (uint8_t i = 0; i < ndim; i++)
            cnt *= shape[i];
        for (int i = 0; i < given_ndim; i++)
            gcnt = given[i] && gcnt > SIZE_MAX / given[i] ? SIZE_MAX : gcnt * given[i];
        for (int i = 0; i < given_ndim; i++)
            if (given[i] == 0)
                gcnt = 0;
        if (cnt != gcnt || (cnt && given_ndim != ndim))
            rc = perr(ps, at, "nd-array shape= does not match its data");
        ndim = (uint8_t)given_ndim;
        memcpy(shape, given, sizeof(size_t) * (size_t)given_ndim);
    }
    kl_value nd;
    if (!rc && (rc = kl_value_ndarray(&nd, (kl_dtype)dt, ndim, shape, NULL)) == 0) {
        uint8_t *dst = nd.u.nd.data;
        if ((rc = nd_fill(ps, at, (kl_dtype)dt, &data, &dst)))
            kl_value_free(&nd);
        else
            *out = nd;
    }
    kl_value_free(&data);
    return rc;
}

/* ---- values ------------------------------------------------------------------ */

static int parse_value(parser *ps, kl_value *out, unsigned depth)
{
    if (depth > KL_DECODE_MAX_DEPTH)
        return perr(ps, ps->p, "nested deeper than 256");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return perr(ps, ps->p, "expected a value, found the end");
    const char *at = ps->p;
    char c = *ps->p;
    int rc;
    switch (c) {
    case '[':
    case '(': {
        ps->p++;
        bool comma;
        kl_value a = kl_value_array(c == '(');
        if ((rc = parse_items(ps, &a, c == '[' ? ']' : ')', depth, &comma))) {
            kl_value_free(&a);
            return rc;
        }
        if (c == '(' && a.u.a.len == 1 && !comma) {
            /* parentheses around one value, not a tuple */
            *out = a.u.a.items[0];
            a.u.a.len = 0;
            kl_value_free(&a);
            return 0;
        }
        *out = a;
        return 0;
    }
    case '{':
        ps->p++;
        return parse_map(ps, out, depth);
    case '\'':
    case '"':
        return parse_string(ps, out);
    }
    if (take_word(ps, "None")) {
        *out = kl_value_null();
        return 0;
    }
    if (take_word(ps, "True")) {
        *out = kl_value_bool(true);
        return 0;
    }
    if (take_word(ps, "False")) {
        *out = kl_value_bool(false);
        return 0;
    }
    if (take_word(ps, "NULL")) {
        *out = kl_value_ignored();
        return 0;
    }
    if (take_word(ps, "array")) {
        if (!take_char(ps, '('))
            return perr(ps, ps->p, "expected '(' after array");
        return parse_ndarray(ps, out, depth);
    }
    if (take_word(ps, "CBORTag")) {
        /* CBORTag(27, [name, layout, value]): an object of a user type,
         * as kl_repr writes it (and Python's cbor2 shows it) */
        kl_value tag, obj;
        if (!take_char(ps, '('))
            return perr(ps, ps->p, "expected '(' after CBORTag");
        if ((rc = parse_value(ps, &tag, depth + 1)))
            return rc;
        if (tag.type != KL_INT || tag.u.i != 27) {
            kl_value_free(&tag);
            return perr(ps, at, "CBORTag: only tag 27 (a user type's object) is a value");
        }
        if (!take_char(ps, ','))
            return perr(ps, ps->p, "expected ','");
        const char *objat = ps->p;
        if ((rc = parse_value(ps, &obj, depth + 1)))
            return rc;
        if (obj.type != KL_ARRAY || obj.u.a.len != 3 || obj.u.a.items[0].type != KL_TEXT ||
            obj.u.a.items[1].type != KL_INT || obj.u.a.items[1].u.i < 0) {
            kl_value_free(&obj);
            return perr(ps, objat, "CBORTag(27, ...) needs [type name, layout, value]");
        }
        if (!take_char(ps, ')')) {
            kl_value_free(&obj);
            return perr(ps, ps->p, "expected ')'");
        }
        obj.flags = (uint8_t)((obj.flags & ~KL_VALUE_TUPLE) | KL_VALUE_OBJECT);
        *out = obj;
        return 0;
    }
    if (take_word(ps, "float")) {
        /* float('inf'), float('-inf'), float('nan') */
        kl_value s;
        if (!take_char(ps, '('))
            return perr(ps, ps->p, "expected '(' after float");
        skip_ws(ps);
        if ((rc = parse_value(ps, &s, depth + 1)))
            return rc;
        if (!take_char(ps, ')')) {
            kl_value_free(&s);
            return perr(ps, ps->p, "expected ')'");
        }
        if (s.type == KL_INT || s.type == KL_FLOAT) {
            double x = s.type == KL_FLOAT      ? s.u.f
                       : (s.flags & PARSE_U64) ? (double)(uint64_t)s.u.i
                                               : (double)s.u.i;
            *out = kl_value_float(x);
            return 0;
        }
        if (s.type != KL_TEXT) {
            kl_value_free(&s);
            return perr(ps, at, "float() of a non-number");
        }
        parser sub = {s.u.s.ptr, s.u.s.ptr, s.u.s.ptr + s.u.s.len, false};
        kl_value num;
        skip_ws(&sub);
        rc = parse_number(&sub, &num);
        skip_ws(&sub);
        if (rc || sub.p != sub.end) {
            kl_value_free(&s);
            return perr(ps, at, "float() of a string that is not a number");
        }
        kl_value_free(&s);
        *out = kl_value_float(num.type == KL_INT ? (double)num.u.i : num.u.f);
        return 0;
    }
    if (c == 'b' || c == 'B' || c == 'r' || c == 'R') {
        const char *q = ps->p;
        while (q < ps->end && q - ps->p < 2 && (*q == 'b' || *q == 'B' || *q == 'r' || *q == 'R'))
            q++;
        if (q < ps->end && (*q == '\'' || *q == '"'))
            return parse_string(ps, out);
    }
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9') || c == 'i' || c == 'n')
        return parse_number(ps, out);
    return perr(ps, at, "expected a value");
}

int kl_parse(const char *text, size_t len, kl_value *out)
{
    if (!text && len)
        return kl_seterr(KL_EINVAL, "parse: NULL text");
    parser ps = {text ? text : "", text ? text : "", (text ? text : "") + len, false};
    kl_value v;
    int rc = parse_value(&ps, &v, 0);
    if (rc)
        return rc;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        kl_value_free(&v);
        return perr(&ps, ps.p, "unexpected text after the value");
    }
    *out = v;
    return 0;
}
