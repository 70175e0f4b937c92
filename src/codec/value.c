/* SPDX-License-Identifier: BSD-3-Clause */
/* The dynamic value type: owning constructors, containers, copy, free,
 * equality and UTF-8 validation. */
#include "internal.h"
#include "klepto/value.h"

#include <math.h>
#include <stdlib.h>

_Static_assert(sizeof(kl_value) == 32, "kl_value must stay small: it is built on every call");

size_t kl_dtype_size(kl_dtype dt)
{
    switch (dt) {
    case KL_DT_INT8:
    case KL_DT_UINT8:
        return 1;
    case KL_DT_INT16:
    case KL_DT_UINT16:
        return 2;
    case KL_DT_INT32:
    case KL_DT_UINT32:
    case KL_DT_FLOAT32:
        return 4;
    case KL_DT_INT64:
    case KL_DT_UINT64:
    case KL_DT_FLOAT64:
        return 8;
    }
    return 0;
}

/* Byte order of a well-formed UTF-8 sequence, per RFC 3629 table: the
 * second byte's allowed range depends on the lead byte, which is what
 * rules out overlongs and surrogates. */
bool kl_utf8_valid(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str, *end = s + len;
    while (s < end) {
        /* ASCII runs dominate real keys: skip them 8 bytes at a time. */
        while (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (w & 0x8080808080808080ull)
                break;
            s += 8;
        }
        if (s >= end)
            break;
        uint8_t c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return false;
        if ((size_t)(end - s) <= n)
            return false;
        if (s[1] < lo || s[1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if ((s[k] & 0xc0) != 0x80)
                return false;
        s += n + 1;
    }
    return true;
}

static int copy_payload(kl_value *out, uint8_t type, const void *p, size_t len)
{
    /* One spare byte so text can be handed to C string functions. */
    if (len == SIZE_MAX)
        return kl_seterr(KL_ENOMEM, "value of %zu bytes too large", len);
    char *mem = malloc(len + 1);
    if (!mem)
        return kl_seterr(KL_ENOMEM, "out of memory copying %zu bytes", len);
    if (len)
        memcpy(mem, p, len);
    mem[len] = '\0';
    kl_value v = kl_value_null();
    v.type = type;
    v.u.s.ptr = mem;
    v.u.s.len = len;
    *out = v;
    return 0;
}

int kl_value_text(kl_value *out, const char *s, size_t len)
{
    if (!kl_utf8_valid(s, len))
        return kl_seterr(KL_ECORRUPT, "text value is not valid UTF-8");
    return copy_payload(out, KL_TEXT, s, len);
}

int kl_value_bytes(kl_value *out, const void *p, size_t len)
{
    return copy_payload(out, KL_BYTES, p, len);
}

kl_value kl_value_array(bool tuple)
{
    kl_value v = kl_value_null();
    v.type = KL_ARRAY;
    v.flags = tuple ? KL_VALUE_TUPLE : 0;
    return v;
}

kl_value kl_value_map(void)
{
    kl_value v = kl_value_null();
    v.type = KL_MAP;
    return v;
}

/* Element count of a shape, or SIZE_MAX when it overflows. */
static size_t shape_count(uint8_t ndim, const size_t *shape)
{
    for (uint8_t i = 0; i < ndim; i++)
        if (shape[i] == 0) /* empty, however large the other sizes */
            return 0;
    size_t n = 1;
    for (uint8_t i = 0; i < ndim; i++) {
        if (n > SIZE_MAX / shape[i])
            return SIZE_MAX;
        n *= shape[i];
    }
    return n;
}

int kl_value_ndarray(kl_value *out, kl_dtype dt, uint8_t ndim, const size_t *shape,
                     const void *data)
{
    size_t es = kl_dtype_size(dt);
    if (es == 0)
        return kl_seterr(KL_EINVAL, "nd-array: unknown dtype %d", (int)dt);
    if (ndim > KL_NDARRAY_MAXDIM)
        return kl_seterr(KL_EINVAL, "nd-array: %u dimensions (at most %d)", ndim,
                         KL_NDARRAY_MAXDIM);
    size_t n = shape_count(ndim, shape);
    if (n == SIZE_MAX || n > (SIZE_MAX - 1) / es)
        return kl_seterr(KL_ETOOBIG, "nd-array: shape too large");
    size_t nbytes = n * es;
    void *mem = data ? malloc(nbytes ? nbytes : 1) : calloc(nbytes ? nbytes : 1, 1);
    size_t *sh = malloc(sizeof(size_t) * (ndim ? ndim : 1));
    if (!mem || !sh) {
        free(mem);
        free(sh);
        return kl_seterr(KL_ENOMEM, "out of memory for a %zu-byte nd-array", nbytes);
    }
    if (data && nbytes)
        memcpy(mem, data, nbytes);
    kl_value v = kl_value_null();
    v.type = KL_NDARRAY;
    v.u.nd.data = mem;
    v.u.nd.ndim = ndim;
    v.u.nd.dtype = (uint8_t)dt;
    v.u.nd.shape = sh;
    for (uint8_t i = 0; i < ndim; i++)
        sh[i] = shape[i];
    *out = v;
    return 0;
}

size_t kl_value_ndarray_count(const kl_value *v)
{
    if (v->type != KL_NDARRAY)
        return 0;
    return shape_count(v->u.nd.ndim, v->u.nd.shape);
}

size_t kl_value_ndarray_bytes(const kl_value *v)
{
    return kl_value_ndarray_count(v) * kl_dtype_size((kl_dtype)v->u.nd.dtype);
}

/* Grows an owned array's or map's item storage to hold `need` values. */
static int grow_items(kl_value **items, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    if (nc < need)
        nc = need;
    if (nc > SIZE_MAX / sizeof(kl_value))
        return kl_seterr(KL_ENOMEM, "container of %zu items too large", need);
    kl_value *p = realloc(*items, nc * sizeof(kl_value));
    if (!p)
        return kl_seterr(KL_ENOMEM, "out of memory growing a container to %zu items", nc);
    *items = p;
    *cap = nc;
    return 0;
}

int kl_value_array_push(kl_value *arr, kl_value *item)
{
    if (arr->type != KL_ARRAY || (arr->flags & KL_VALUE_BORROWED))
        return kl_seterr(KL_EINVAL, "array push: not an owned array");
    int rc = grow_items(&arr->u.a.items, &arr->u.a.cap, arr->u.a.len + 1);
    if (rc)
        return rc;
    arr->u.a.items[arr->u.a.len++] = *item;
    *item = kl_value_null();
    return 0;
}

int kl_value_map_put(kl_value *map, kl_value *key, kl_value *val)
{
    if (map->type != KL_MAP || (map->flags & KL_VALUE_BORROWED))
        return kl_seterr(KL_EINVAL, "map put: not an owned map");
    /* m.cap counts pairs, storage holds 2*cap values */
    size_t cap2 = map->u.m.cap * 2;
    int rc = grow_items(&map->u.m.items, &cap2, map->u.m.len * 2 + 2);
    if (rc)
        return rc;
    map->u.m.cap = cap2 / 2;
    map->u.m.items[map->u.m.len * 2] = *key;
    map->u.m.items[map->u.m.len * 2 + 1] = *val;
    map->u.m.len++;
    *key = kl_value_null();
    *val = kl_value_null();
    return 0;
}

int kl_value_copy(kl_value *out, const kl_value *v)
{
    int rc;
    switch ((kl_type)v->type) {
    case KL_NULL:
    case KL_BOOL:
    case KL_INT:
    case KL_FLOAT:
    case KL_IGNORED:
        *out = *v;
        out->flags &= (uint8_t)~KL_VALUE_BORROWED;
        return 0;
    case KL_TEXT:
    case KL_BYTES:
        return copy_payload(out, v->type, v->u.s.ptr, v->u.s.len);
    case KL_NDARRAY:
        return kl_value_ndarray(out, (kl_dtype)v->u.nd.dtype, v->u.nd.ndim, v->u.nd.shape,
                                v->u.nd.data);
    case KL_ARRAY: {
        kl_value a = kl_value_array(v->flags & KL_VALUE_TUPLE);
        a.flags |= v->flags & KL_VALUE_OBJECT;
        if ((rc = grow_items(&a.u.a.items, &a.u.a.cap, v->u.a.len)))
            return rc;
        for (size_t i = 0; i < v->u.a.len; i++) {
            if ((rc = kl_value_copy(&a.u.a.items[i], &v->u.a.items[i]))) {
                kl_value_free(&a);
                return rc;
            }
            a.u.a.len++;
        }
        *out = a;
        return 0;
    }
    case KL_MAP: {
        kl_value m = kl_value_map();
        size_t cap2 = 0;
        if ((rc = grow_items(&m.u.m.items, &cap2, v->u.m.len * 2)))
            return rc;
        m.u.m.cap = cap2 / 2;
        for (size_t i = 0; i < v->u.m.len; i++) {
            if ((rc = kl_value_copy(&m.u.m.items[2 * i], &v->u.m.items[2 * i]))) {
                kl_value_free(&m);
                return rc;
            }
            if ((rc = kl_value_copy(&m.u.m.items[2 * i + 1], &v->u.m.items[2 * i + 1]))) {
                kl_value_free(&m.u.m.items[2 * i]);
                kl_value_free(&m);
                return rc;
            }
            m.u.m.len++;
        }
        *out = m;
        return 0;
    }
    }
    return kl_seterr(KL_ETYPE, "copy: unknown value type %d", v->type);
}

void kl_value_free(kl_value *v)
{
    if (!v)
        return;
    if (!(v->flags & KL_VALUE_BORROWED)) {
        switch ((kl_type)v->type) {
        case KL_TEXT:
        case KL_BYTES:
            free((void *)v->u.s.ptr);
            break;
        case KL_NDARRAY:
            free(v->u.nd.data);
            free(v->u.nd.shape);
            break;
        case KL_ARRAY:
            for (size_t i = 0; i < v->u.a.len; i++)
                kl_value_free(&v->u.a.items[i]);
            free(v->u.a.items);
            break;
        case KL_MAP:
            for (size_t i = 0; i < 2 * v->u.m.len; i++)
                kl_value_free(&v->u.m.items[i]);
            free(v->u.m.items);
            break;
        default:
            break;
        }
    }
    *v = kl_value_null();
}

bool kl_value_equal(const kl_value *a, const kl_value *b)
{
    if (a->type != b->type)
        return false;
    switch ((kl_type)a->type) {
    case KL_NULL:
    case KL_IGNORED:
        return true;
    case KL_BOOL:
        return a->u.b == b->u.b;
    case KL_INT:
        return a->u.i == b->u.i;
    case KL_FLOAT:
        if (isnan(a->u.f) && isnan(b->u.f))
            return true;
        return memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0;
    case KL_TEXT:
    case KL_BYTES:
        return a->u.s.len == b->u.s.len &&
               (a->u.s.len == 0 || memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) == 0);
    case KL_ARRAY:
        if (a->u.a.len != b->u.a.len || (a->flags ^ b->flags) & KL_VALUE_OBJECT)
            return false;
        for (size_t i = 0; i < a->u.a.len; i++)
            if (!kl_value_equal(&a->u.a.items[i], &b->u.a.items[i]))
                return false;
        return true;
    case KL_MAP:
        if (a->u.m.len != b->u.m.len)
            return false;
        for (size_t i = 0; i < 2 * a->u.m.len; i++)
            if (!kl_value_equal(&a->u.m.items[i], &b->u.m.items[i]))
                return false;
        return true;
    case KL_NDARRAY: {
        if (a->u.nd.dtype != b->u.nd.dtype || a->u.nd.ndim != b->u.nd.ndim)
            return false;
        for (uint8_t i = 0; i < a->u.nd.ndim; i++)
            if (a->u.nd.shape[i] != b->u.nd.shape[i])
                return false;
        size_t n = kl_value_ndarray_bytes(a), cnt = kl_value_ndarray_count(a);
        if (n == 0 || memcmp(a->u.nd.data, b->u.nd.data, n) == 0)
            return true;
        /* as for scalars: any two NaNs are equal, whatever their bits */
        if (a->u.nd.dtype == KL_DT_FLOAT64) {
            for (size_t i = 0; i < cnt; i++) {
                double x, y;
                memcpy(&x, (const uint8_t *)a->u.nd.data + 8 * i, 8);
                memcpy(&y, (const uint8_t *)b->u.nd.data + 8 * i, 8);
                if (memcmp(&x, &y, 8) != 0 && !(isnan(x) && isnan(y)))
                    return false;
            }
            return true;
        }
        if (a->u.nd.dtype == KL_DT_FLOAT32) {
            for (size_t i = 0; i < cnt; i++) {
                float x, y;
                memcpy(&x, (const uint8_t *)a->u.nd.data + 4 * i, 4);
                memcpy(&y, (const uint8_t *)b->u.nd.data + 4 * i, 4);
                if (memcmp(&x, &y, 4) != 0 && !(isnan(x) && isnan(y)))
                    return false;
            }
            return true;
        }
        return false;
    }
    }
    return false;
}
