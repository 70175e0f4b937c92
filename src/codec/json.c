/* SPDX-License-Identifier: BSD-3-Clause */
/* JSON output, laid out like Python's json.dumps (", " and ": ",
 * ensure_ascii off: non-ASCII text is written as UTF-8).  What JSON cannot
 * hold gets a documented spelling: bytes {"$bytes": "<base64>"}, nd-arrays
 * {"$ndarray": {"dtype": "float64", "shape": [2, 3], "data": [row-major
 * elements]}}, objects of user types {"$object": [name, layout, value]},
 * non-finite floats "inf" / "-inf" / "nan", tuples as lists,
 * ignored markers as null, and map keys that are not text as the JSON text
 * of the key, quoted (1 -> "1", (1, 2) -> "[1, 2]"). */
#include "codec/codec_internal.h"
#include "internal.h"

#include <math.h>

static int json_string(kl_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len > (SIZE_MAX - 2) / 6)
        return kl_seterr(KL_ENOMEM, "json: text too large");
    int rc = kl_buf_reserve(out, len * 6 + 2);
    if (rc)
        return rc;
    char *o = (char *)out->data + out->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c >= 0x20) {
            *o++ = (char)c;
        } else {
            *o++ = '\\';
            switch (c) {
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            default:
                memcpy(o, "u00", 3);
                o += 3;
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        }
    }
    *o++ = '"';
    out->len = (size_t)((uint8_t *)o - out->data);
    return 0;
}

static int json_double(kl_buf *out, double f)
{
    if (isnan(f))
        return kl_buf_append_str(out, "\"nan\"");
    if (isinf(f))
        return kl_buf_append_str(out, f < 0 ? "\"-inf\"" : "\"inf\"");
    return kl_repr_double(out, f);
}

static int json_base64(kl_buf *out, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > SIZE_MAX / 2)
        return kl_seterr(KL_ENOMEM, "json: bytes too large");
    int rc = kl_buf_reserve(out, (n + 2) / 3 * 4);
    if (rc)
        return rc;
    char *o = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[w >> 18];
        *o++ = tab[(w >> 12) & 63];
        *o++ = tab[(w >> 6) & 63];
        *o++ = tab[w & 63];
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)p[i] << 16;
        *o++ = tab[w >> 18];
        *o++ = tab[(w >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = tab[w >> 18];
        *o++ = tab[(w >> 12) & 63];
        *o++ = tab[(w >> 6) & 63];
        *o++ = '=';
    }
    out->len = (size_t)((uint8_t *)o - out->data);
    return 0;
}

static int json_ndarray(kl_buf *out, const kl_value *v)
{
    kl_dtype dt = (kl_dtype)v->u.nd.dtype;
    const char *name = kl__dtype_name(dt);
    if (!name || v->u.nd.ndim > KL_NDARRAY_MAXDIM)
        return kl_seterr(KL_ETYPE, "json: bad nd-array dtype %d or ndim %d", v->u.nd.dtype,
                         v->u.nd.ndim);
    int rc = kl_buf_printf(out, "{\"$ndarray\": {\"dtype\": \"%s\", \"shape\": [", name);
    for (unsigned i = 0; !rc && i < v->u.nd.ndim; i++)
        rc = kl_buf_printf(out, i ? ", %zu" : "%zu", v->u.nd.shape[i]);
    if (!rc)
        rc = kl_buf_append_str(out, "], \"data\": [");
    size_t n = kl_value_ndarray_count(v), es = kl_dtype_size(dt);
    const uint8_t *p = v->u.nd.data;
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = kl_buf_append(out, ", ", 2);
        if (!rc)
            rc = kl__nd_elem_text(out, dt, p + i * es, json_double);
    }
    return rc ? rc : kl_buf_append_str(out, "]}}");
}

static int json_value(kl_buf *out, const kl_value *v, unsigned depth);

/* JSON keys are strings: a text key as itself, a scalar as its JSON text
 * (as Python's json.dumps does: "1", "true", "null"), anything else as its
 * Python literal.  Never the JSON of a container: quoting JSON inside JSON
 * at every level of nested map keys would double the size per level. */
static int json_key(kl_buf *out, const kl_value *k, unsigned depth)
{
    if (k->type == KL_TEXT)
        return json_string(out, k->u.s.ptr, k->u.s.len);
    kl_buf tmp = KL_BUF_INIT;
    bool scalar = k->type == KL_NULL || k->type == KL_IGNORED || k->type == KL_BOOL ||
                  k->type == KL_INT || k->type == KL_FLOAT;
    int rc = scalar ? json_value(&tmp, k, depth + 1) : kl_repr(&tmp, k);
    if (!rc)
        rc = json_string(out, tmp.data ? (const char *)tmp.data : "", tmp.len);
    kl_buf_free(&tmp);
    return rc;
}

static int json_value(kl_buf *out, const kl_value *v, unsigned depth)
{
    if (depth > KL_DECODE_MAX_DEPTH)
        return kl_seterr(KL_ETOOBIG, "json: value nested deeper than %d", KL_DECODE_MAX_DEPTH);
    int rc;
    switch ((kl_type)v->type) {
    case KL_NULL:
    case KL_IGNORED:
        return kl_buf_append(out, "null", 4);
    case KL_BOOL:
        return v->u.b ? kl_buf_append(out, "true", 4) : kl_buf_append(out, "false", 5);
    case KL_INT:
        return kl_buf_printf(out, "%lld", (long long)v->u.i);
    case KL_FLOAT:
        return json_double(out, v->u.f);
    case KL_TEXT:
        if (!kl_utf8_valid(v->u.s.ptr, v->u.s.len))
            return kl_seterr(KL_ETYPE, "json: text value is not valid UTF-8");
        return json_string(out, v->u.s.ptr, v->u.s.len);
    case KL_BYTES:
        if ((rc = kl_buf_append_str(out, "{\"$bytes\": \"")) ||
            (rc = json_base64(out, (const uint8_t *)v->u.s.ptr, v->u.s.len)))
            return rc;
        return kl_buf_append_str(out, "\"}");
    case KL_ARRAY:
        if (v->flags & KL_VALUE_OBJECT && (rc = kl_buf_append_str(out, "{\"$object\": ")))
            return rc;
        if ((rc = kl_buf_append(out, "[", 1)))
            return rc;
        for (size_t i = 0; i < v->u.a.len; i++) {
            if (i && (rc = kl_buf_append(out, ", ", 2)))
                return rc;
            if ((rc = json_value(out, &v->u.a.items[i], depth + 1)))
                return rc;
        }
        if (v->flags & KL_VALUE_OBJECT)
            return kl_buf_append(out, "]}", 2);
        return kl_buf_append(out, "]", 1);
    case KL_MAP:
        if ((rc = kl_buf_append(out, "{", 1)))
            return rc;
        for (size_t i = 0; i < v->u.m.len; i++) {
            if (i && (rc = kl_buf_append(out, ", ", 2)))
                return rc;
            if ((rc = json_key(out, &v->u.m.items[2 * i], depth)) ||
                (rc = kl_buf_append(out, ": ", 2)) ||
                (rc = json_value(out, &v->u.m.items[2 * i + 1], depth + 1)))
                return rc;
        }
        return kl_buf_append(out, "}", 1);
    case KL_NDARRAY:
        return json_ndarray(out, v);
    }
    return kl_seterr(KL_ETYPE, "json: unknown value type %d", v->type);
}

int kl_json(kl_buf *out, const kl_value *v)
{
    size_t mark = out->len;
    int rc = json_value(out, v, 0);
    if (rc)
        out->len = mark;
    return rc;
}
