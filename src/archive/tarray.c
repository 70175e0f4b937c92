/* SPDX-License-Identifier: BSD-3-Clause */
/* Recognising a typed numeric array at the top of an encoded value: the
 * CBOR head of an RFC 8746 typed array, maybe inside tag 40 [shape,
 * array] (see tarray.h). */
#include "archive/tarray.h"
#include "internal.h"

/* One CBOR head: major type and argument; definite lengths only. */
static bool cbor_head(const uint8_t *p, size_t len, size_t *pos, int *major, uint64_t *arg)
{
    if (*pos >= len)
        return false;
    uint8_t ib = p[(*pos)++];
    *major = ib >> 5;
    unsigned ai = ib & 31u, n;
    if (ai < 24) {
        *arg = ai;
        return true;
    }
    if (ai > 27)
        return false;
    n = 1u << (ai - 24);
    if (len - *pos < n)
        return false;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[(*pos)++];
    *arg = v;
    return true;
}

static int tag_dtype(uint64_t tag)
{
    switch (tag) {
    case 64: return KL_DT_UINT8;
    case 69: return KL_DT_UINT16;
    case 70: return KL_DT_UINT32;
    case 71: return KL_DT_UINT64;
    case 72: return KL_DT_INT8;
    case 77: return KL_DT_INT16;
    case 78: return KL_DT_INT32;
    case 79: return KL_DT_INT64;
    case 85: return KL_DT_FLOAT32;
    case 86: return KL_DT_FLOAT64;
    default: return -1;
    }
}

static const size_t dtype_size[] = {1, 2, 4, 8, 1, 2, 4, 8, 4, 8};

bool kl__tarray_parse(const uint8_t *p, size_t len, kl__tarray *out)
{
    size_t pos = 0;
    int major;
    uint64_t arg;
    memset(out, 0, sizeof *out);
    if (!cbor_head(p, len, &pos, &major, &arg) || major != 6)
        return false;
    bool nd = arg == 40;
    if (nd) {
        if (!cbor_head(p, len, &pos, &major, &arg) || major != 4 || arg != 2)
            return false;
        if (!cbor_head(p, len, &pos, &major, &arg) || major != 4 || arg < 1 ||
            arg > KL_NDARRAY_MAXDIM)
            return false;
        out->ndim = (uint8_t)arg;
        for (unsigned i = 0; i < out->ndim; i++) {
            if (!cbor_head(p, len, &pos, &major, &arg) || major != 0 || arg > SIZE_MAX)
                return false;
            out->shape[i] = (size_t)arg;
        }
        if (!cbor_head(p, len, &pos, &major, &arg) || major != 6)
            return false;
    }
    int dt = tag_dtype(arg);
    if (dt < 0)
        return false;
    if (!cbor_head(p, len, &pos, &major, &arg) || major != 2 || arg != len - pos)
        return false;
    size_t es = dtype_size[dt], count = 1;
    if (arg % es)
        return false;
    if (!nd) {
        out->ndim = 1;
        out->shape[0] = (size_t)arg / es;
    }
    for (unsigned i = 0; i < out->ndim; i++) {
        if (out->shape[i] && count > SIZE_MAX / out->shape[i])
            return false;
        count *= out->shape[i];
    }
    if (count != arg / es)
        return false;
    out->dtype = (uint8_t)dt;
    out->head = pos;
    out->nbytes = (size_t)arg;
    return true;
}
