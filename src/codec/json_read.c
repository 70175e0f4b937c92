/* SPDX-License-Identifier: BSD-3-Clause */
/* A strict JSON reader (RFC 8259), kl_json_parse (codec.h): the inverse of
 * kl_json() where JSON can be inverted.  `klepto import` reads its JSON
 * lines with it. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "internal.h"
#include "klepto/codec.h"

typedef struct jp {
    const char *base, *p, *end;
    char *err;
    size_t errlen;
} jp;

static int jerr(jp *j, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jerr(jp *j, const char *at, const char *fmt, ...)
{
    int n = snprintf(j->err, j->errlen, "column %zu: ", (size_t)(at - j->base) + 1);
    if (n >= 0 && (size_t)n < j->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->err + n, j->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return KL_EINVAL;
}

static void skip_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(jp *j, const char *at, uint32_t *out)
{
    if (j->end - j->p < 4)
        return jerr(j, at, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return jerr(j, at, "bad hex digit in \\u escape");
        v = v << 4 | (uint32_t)d;
    }
    j->p += 4;
    *out = v;
    return 0;
}

/* The string starting at j->p (a '"') into b, unescaped. */
static int read_string(jp *j, kl_buf *b)
{
    const char *start = j->p++;
    b->len = 0;
    for (;;) {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (uint8_t)*j->p >= 0x20)
            j->p++;
        if (j->p > run && kl_buf_append(b, run, (size_t)(j->p - run)))
            return KL_ENOMEM;
        if (j->p == j->end)
            return jerr(j, start, "unterminated string");
        char c = *j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c != '\\')
            return jerr(j, j->p, "control character in string (escape it)");
        const char *esc = j->p++;
        if (j->p == j->end)
            return jerr(j, esc, "unterminated string");
        char e = *j->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            if (kl_buf_append(b, &to[simple - "\"\\/bfnrt"], 1))
                return KL_ENOMEM;
            continue;
        }
        if (e != 'u')
            return jerr(j, esc, "unknown escape \\%c", (unsigned char)e >= 0x20 ? e : '?');
        uint32_t cp;
        int rc = hex4(j, esc, &cp);
        if (rc)
            return rc;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return jerr(j, esc, "lone low surrogate \\u%04x", (unsigned)cp);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                return jerr(j, esc, "high surrogate \\u%04x without its low half", (unsigned)cp);
            j->p += 2;
            if ((rc = hex4(j, esc, &lo)) != 0)
                return rc;
            if (lo < 0xdc00 || lo > 0xdfff)
                return jerr(j, esc, "high surrogate \\u%04x followed by \\u%04x", (unsigned)cp,
                            (unsigned)lo);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (kl_buf_append_utf8(b, cp))
            return KL_ENOMEM;
    }
    if (!kl_utf8_valid(b->data ? (const char *)b->data : "", b->len))
        return jerr(j, start, "string is not valid UTF-8");
    return 0;
}

static int read_number(jp *j, kl_value *out)
{
    const char *s = j->p;
    const char *q = s;
    if (q < j->end && *q == '-')
        q++;
    if (q == j->end || *q < '0' || *q > '9')
        return jerr(j, s, "bad number");
    if (*q == '0')
        q++;
    else
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    bool integral = true;
    if (q < j->end && *q == '.') {
        integral = false;
        q++;
        if (q == j->end || *q < '0' || *q > '9')
            return jerr(j, s, "bad number: digits must follow '.'");
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < j->end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        if (q < j->end && (*q == '+' || *q == '-'))
            q++;
        if (q == j->end || *q < '0' || *q > '9')
            return jerr(j, s, "bad number: digits must follow the exponent");
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    char tmp[400];
    if ((size_t)(q - s) >= sizeof tmp)
        return jerr(j, s, "number too long");
    memcpy(tmp, s, (size_t)(q - s));
    tmp[q - s] = 0;
    errno = 0;
    if (integral) {
        long long v = strtoll(tmp, NULL, 10);
        if (errno == ERANGE)
            return jerr(j, s, "integer %s does not fit 64 bits", tmp);
        *out = kl_value_int(v);
    } else {
        double v = strtod(tmp, NULL); /* the CLI runs in the C locale */
        if (isinf(v))
            return jerr(j, s, "number %s is out of range", tmp);
        *out = kl_value_float(v);
    }
    j->p = q;
    return 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict standard base64 with padding, as kl_json writes it. */
static int unbase64(const char *s, size_t n, kl_buf *out)
{
    if (n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        bool last = i + 4 == n;
        for (int k = 0; k < 4; k++)
            v[k] = b64val(s[i + k]);
        if (v[0] < 0 || v[1] < 0)
            return -1;
        uint8_t o[3] = {(uint8_t)(v[0] << 2 | v[1] >> 4), 0, 0};
        size_t m = 1;
        if (last && s[i + 2] == '=' && s[i + 3] == '=') {
            if (v[1] & 15)
                return -1;
        } else if (last && s[i + 3] == '=') {
            if (v[2] < 0 || (v[2] & 3))
                return -1;
            o[1] = (uint8_t)(v[1] << 4 | v[2] >> 2);
            m = 2;
        } else {
            if (v[2] < 0 || v[3] < 0)
                return -1;
            o[1] = (uint8_t)(v[1] << 4 | v[2] >> 2);
            o[2] = (uint8_t)(v[2] << 6 | v[3]);
            m = 3;
        }
        if (kl_buf_append(out, o, m))
            return KL_ENOMEM;
    }
    return 0;
}

static int read_value(jp *j, kl_value *out, unsigned depth);

/* {"$bytes": "<base64>"} is how kl_json writes bytes: read it back as
 * bytes.  Any other map (and this one with bad base64: an error, since
 * nothing else writes that spelling) stays as it is. */
static int maybe_bytes(jp *j, const char *at, kl_value *map)
{
    if (map->u.m.len != 1)
        return 0;
    const kl_value *k = &map->u.m.items[0], *v = &map->u.m.items[1];
    if (k->type != KL_TEXT || k->u.s.len != 6 || memcmp(k->u.s.ptr, "$bytes", 6) != 0)
        return 0;
    kl_buf raw = KL_BUF_INIT;
    int rc = v->type == KL_TEXT ? unbase64(v->u.s.ptr, v->u.s.len, &raw) : -1;
    if (rc == KL_ENOMEM)
        return rc;
    if (rc) {
        kl_buf_free(&raw);
        return jerr(j, at, "\"$bytes\" needs a padded base64 string");
    }
    kl_value b;
    rc = kl_value_bytes(&b, raw.data ? raw.data : (const uint8_t *)"", raw.len);
    kl_buf_free(&raw);
    if (rc)
        return rc;
    kl_value_free(map);
    *map = b;
    return 0;
}

/* {"$object": [name, layout, value]} is how kl_json writes an object of a
 * user type: read it back as one (KL_VALUE_OBJECT).  Not of that shape:
 * an error, since nothing else writes that spelling. */
static int maybe_object(jp *j, const char *at, kl_value *map)
{
    if (map->type != KL_MAP || map->u.m.len != 1)
        return 0;
    kl_value *k = &map->u.m.items[0], *v = &map->u.m.items[1];
    if (k->type != KL_TEXT || k->u.s.len != 7 || memcmp(k->u.s.ptr, "$object", 7) != 0)
        return 0;
    if (v->type != KL_ARRAY || v->u.a.len != 3 || v->u.a.items[0].type != KL_TEXT ||
        v->u.a.items[1].type != KL_INT || v->u.a.items[1].u.i < 0)
        return jerr(j, at, "\"$object\" needs [type name, layout, value]");
    kl_value obj = *v;
    *v = kl_value_null(); /* taken */
    obj.flags |= KL_VALUE_OBJECT;
    kl_value_free(map);
    *map = obj;
    return 0;
}

/* The value of `name` in a map of text keys, or NULL. */
static const kl_value *map_get(const kl_value *m, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < m->u.m.len; i++) {
        const kl_value *k = &m->u.m.items[2 * i];
        if (k->type == KL_TEXT && k->u.s.len == n && memcmp(k->u.s.ptr, name, n) == 0)
            return &m->u.m.items[2 * i + 1];
    }
    return NULL;
}

/* One element of an nd-array read back into its dtype: 0, or 1 when e is
 * not a value of that dtype (a float for an integer dtype, out of range). */
static int nd_element(kl_dtype dt, const kl_value *e, uint8_t *dst)
{
    if (dt == KL_DT_FLOAT64 || dt == KL_DT_FLOAT32) {
        double f;
        if (e->type == KL_FLOAT)
            f = e->u.f;
        else if (e->type == KL_INT)
            f = (double)e->u.i;
        else if (e->type == KL_TEXT && e->u.s.len == 3 && !memcmp(e->u.s.ptr, "nan", 3))
            f = NAN;
        else if (e->type == KL_TEXT && e->u.s.len == 3 && !memcmp(e->u.s.ptr, "inf", 3))
            f = INFINITY;
        else if (e->type == KL_TEXT && e->u.s.len == 4 && !memcmp(e->u.s.ptr, "-inf", 4))
            f = -INFINITY;
        else
            return 1;
        if (dt == KL_DT_FLOAT64) {
            memcpy(dst, &f, 8);
        } else {
            float x = (float)f; /* kl_json wrote the float's exact double */
            memcpy(dst, &x, 4);
        }
        return 0;
    }
    if (e->type != KL_INT)
        return 1;
    int64_t i = e->u.i, lo = 0, hi = INT64_MAX;
    switch (dt) {
    case KL_DT_INT8:
        lo = INT8_MIN, hi = INT8_MAX;
        break;
    case KL_DT_INT16:
        lo = INT16_MIN, hi = INT16_MAX;
        break;
    case KL_DT_INT32:
        lo = INT32_MIN, hi = INT32_MAX;
        break;
    case KL_DT_INT64:
        lo = INT64_MIN;
        break;
    case KL_DT_UINT8:
        hi = UINT8_MAX;
        break;
    case KL_DT_UINT16:
        hi = UINT16_MAX;
        break;
    case KL_DT_UINT32:
        hi = UINT32_MAX;
        break;
    default:
        break; /* uint64: 0 .. INT64_MAX (JSON integers are read as int64) */
    }
    if (i < lo || i > hi)
        return 1;
    size_t es = kl_dtype_size(dt);
    for (size_t b = 0; b < es; b++) /* little-endian, as nd-array data is */
        dst[b] = (uint8_t)((uint64_t)i >> (8 * b));
    return 0;
}

/* {"$ndarray": {"dtype": D, "shape": [...], "data": [...]}} is how kl_json
 * writes an nd-array: read it back as one, so that an export imports as
 * the same keys and values.  The data are the row-major elements (floats
 * may be "nan", "inf", "-inf"), as many as the shape holds, each a value
 * of the dtype; uint64 elements over 2^63-1 cannot be read (JSON integers
 * are read as int64: an error, never a wrong value).  Not of that shape:
 * an error, since nothing else writes that spelling. */
static int maybe_ndarray(jp *j, const char *at, kl_value *map)
{
    if (map->type != KL_MAP || map->u.m.len != 1)
        return 0;
    const kl_value *k = &map->u.m.items[0], *v = &map->u.m.items[1];
    if (k->type != KL_TEXT || k->u.s.len != 8 || memcmp(k->u.s.ptr, "$ndarray", 8) != 0)
        return 0;
    const kl_value *dtype = v->type == KL_MAP && v->u.m.len == 3 ? map_get(v, "dtype") : NULL;
    const kl_value *shape = dtype ? map_get(v, "shape") : NULL;
    const kl_value *data = shape ? map_get(v, "data") : NULL;
    if (!data || dtype->type != KL_TEXT || shape->type != KL_ARRAY || data->type != KL_ARRAY)
        return jerr(j, at,
                    "\"$ndarray\" needs {\"dtype\": name, \"shape\": [...], \"data\": [...]}");
    int dt = kl__dtype_from_name(dtype->u.s.ptr, dtype->u.s.len);
    if (dt < 0)
        return jerr(j, at, "\"$ndarray\": unknown dtype \"%.*s\"", (int)dtype->u.s.len,
                    dtype->u.s.ptr);
    if (shape->u.a.len > KL_NDARRAY_MAXDIM)
        return jerr(j, at, "\"$ndarray\": more than %d dimensions", KL_NDARRAY_MAXDIM);
    size_t dims[KL_NDARRAY_MAXDIM];
    for (size_t d = 0; d < shape->u.a.len; d++) {
        const kl_value *x = &shape->u.a.items[d];
        if (x->type != KL_INT || x->u.i < 0)
            return jerr(j, at, "\"$ndarray\": a shape is of sizes >= 0");
        dims[d] = (size_t)x->u.i;
    }
    kl_value nd;
    int rc = kl_value_ndarray(&nd, (kl_dtype)dt, (uint8_t)shape->u.a.len, dims, NULL);
    if (rc == KL_ENOMEM)
        return rc;
    if (rc)
        return jerr(j, at, "\"$ndarray\": %s", kl_errmsg());
    size_t n = kl_value_ndarray_count(&nd), es = kl_dtype_size((kl_dtype)dt);
    if (data->u.a.len != n) {
        kl_value_free(&nd);
        return jerr(j, at, "\"$ndarray\": %zu elements for a shape of %zu", data->u.a.len, n);
    }
    uint8_t *dst = nd.u.nd.data;
    for (size_t i = 0; i < n; i++)
        if (nd_element((kl_dtype)dt, &data->u.a.items[i], dst + i * es)) {
            kl_value_free(&nd);
            return jerr(j, at, "\"$ndarray\": element %zu is not of dtype %.*s", i,
                        (int)dtype->u.s.len, dtype->u.s.ptr);
        }
    kl_value_free(map);
    *map = nd;
    return 0;
}

static int read_container(jp *j, kl_value *out, unsigned depth, bool is_map)
{
    const char *start = j->p++;
    char close = is_map ? '}' : ']';
    kl_value c = is_map ? kl_value_map() : kl_value_array(false);
    kl_buf s = KL_BUF_INIT;
    int rc = 0;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        goto done;
    }
    for (;;) {
        kl_value k = kl_value_null(), v = kl_value_null();
        skip_ws(j);
        if (is_map) {
            if (j->p == j->end || *j->p != '"') {
                rc = jerr(j, j->p, "expected a string as object key");
                break;
            }
            if ((rc = read_string(j, &s)) != 0 ||
                (rc = kl_value_text(&k, s.data ? (const char *)s.data : "", s.len)) != 0)
                break;
            skip_ws(j);
            if (j->p == j->end || *j->p != ':') {
                kl_value_free(&k);
                rc = jerr(j, j->p, "expected ':' after object key");
                break;
            }
            j->p++;
        }
        if ((rc = read_value(j, &v, depth + 1)) != 0) {
            kl_value_free(&k);
            break;
        }
        rc = is_map ? kl_value_map_put(&c, &k, &v) : kl_value_array_push(&c, &v);
        if (rc) {
            kl_value_free(&k);
            kl_value_free(&v);
            break;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            break;
        }
        rc = jerr(j, j->p, is_map ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
done:
    kl_buf_free(&s);
    if (!rc && is_map)
        rc = maybe_bytes(j, start, &c);
    if (!rc && is_map)
        rc = maybe_object(j, start, &c);
    if (!rc && is_map)
        rc = maybe_ndarray(j, start, &c);
    if (rc) {
        kl_value_free(&c);
        return rc;
    }
    *out = c;
    return 0;
}

static bool take_word(jp *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return false;
    j->p += n;
    return true;
}

static int read_value(jp *j, kl_value *out, unsigned depth)
{
    if (depth > KL_DECODE_MAX_DEPTH)
        return jerr(j, j->p, "nested deeper than %d", KL_DECODE_MAX_DEPTH);
    skip_ws(j);
    if (j->p == j->end)
        return jerr(j, j->p, "expected a value");
    switch (*j->p) {
    case '{':
        return read_container(j, out, depth, true);
    case '[':
        return read_container(j, out, depth, false);
    case '"': {
        kl_buf s = KL_BUF_INIT;
        int rc = read_string(j, &s);
        if (!rc)
            rc = kl_value_text(out, s.data ? (const char *)s.data : "", s.len);
        kl_buf_free(&s);
        return rc;
    }
    case 't':
        if (take_word(j, "true")) {
            *out = kl_value_bool(true);
            return 0;
        }
        break;
    case 'f':
        if (take_word(j, "false")) {
            *out = kl_value_bool(false);
            return 0;
        }
        break;
    case 'n':
        if (take_word(j, "null")) {
            *out = kl_value_null();
            return 0;
        }
        break;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return read_number(j, out);
    }
    return jerr(j, j->p, "unexpected character '%c'",
                (unsigned char)*j->p >= 0x20 && (unsigned char)*j->p < 0x7f ? *j->p : '?');
}

int kl_json_parse(const char *text, size_t len, kl_value *out)
{
    char err[256] = "";
    if (!text) /* no pointer arithmetic on NULL */
        return len ? kl_seterr(KL_EINVAL, "kl_json_parse: NULL text")
                   : kl_seterr(KL_EINVAL, "column 1: no JSON value (empty input)");
    jp j = {text, text, text + len, err, sizeof err};
    kl_value v;
    int rc = read_value(&j, &v, 0);
    if (!rc) {
        skip_ws(&j);
        if (j.p != j.end) {
            kl_value_free(&v);
            rc = jerr(&j, j.p, "trailing characters after the value");
        }
    }
    if (rc == KL_ENOMEM)
        return kl_seterr(rc, "out of memory");
    if (rc)
        return kl_seterr(rc, "%s", err);
    *out = v;
    return 0;
}
