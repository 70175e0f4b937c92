/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The results of KL_MEMOIZE functions with out-parameters (KL_OUT_ARR,
 * KL_OUT_OBJ): stored as nd-arrays or objects (one out: that value; more:
 * a list of them).  A hit checks the stored bytes against every
 * out-parameter's type and size before it writes any of them, so a result
 * of another shape or version is computed afresh, never half-copied.
 * Arrays alone are read without allocation (the bytes are parsed in
 * place, under the cache's lock: RFC 8746 typed arrays, as our encoder
 * writes them); objects are decoded outside the lock.
 */
#include <stdlib.h>

#include "codec/codec_internal.h" /* kl__cbor_dtype_tag: the typed-array tags */
#include "memo/memo_typed.h"

static unsigned dtype_tag(kl_dtype dt) { return kl__cbor_dtype_tag(dt); }

typedef struct outs_ctx {
    const kl_typed_out *outs;
    size_t n;
} outs_ctx;

/* The argument of a CBOR head at *p (major type `major`), advancing *p. */
static bool cbor_head(const uint8_t **p, const uint8_t *end, unsigned major, uint64_t *arg)
{
    if (*p >= end || (**p & 0xe0u) != major)
        return false;
    unsigned ai = **p & 0x1fu;
    (*p)++;
    if (ai < 24) {
        *arg = ai;
        return true;
    }
    if (ai > 27)
        return false;
    size_t n = (size_t)1 << (ai - 24);
    if ((size_t)(end - *p) < n)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | (*p)[i];
    *p += n;
    *arg = v;
    return true;
}

/* A stored result as the out arrays: checked whole, then copied.  0, or 1
 * when it is not a result of these shapes. */
static int take_outs(void *ctx, const uint8_t *v, size_t n)
{
    const outs_ctx *o = ctx;
    const uint8_t *p = v, *end = v + n;
    const uint8_t *at[TYPED_MAX_ARGS];
    uint64_t x;
    if (o->n > TYPED_MAX_ARGS)
        return 1;
    if (o->n > 1 && (!cbor_head(&p, end, 0x80u, &x) || x != o->n))
        return 1;
    for (size_t i = 0; i < o->n; i++) {
        uint64_t tag, len;
        kl_dtype dt = (kl_dtype)o->outs[i].dtype;
        if (!cbor_head(&p, end, 0xc0u, &tag) || tag != dtype_tag(dt) ||
            !cbor_head(&p, end, 0x40u, &len) || len != o->outs[i].len * kl_dtype_size(dt) ||
            len > (uint64_t)(end - p))
            return 1;
        at[i] = p;
        p += len;
    }
    if (p != end)
        return 1;
    for (size_t i = 0; i < o->n; i++)
        if (o->outs[i].len)
            memcpy(o->outs[i].ptr, at[i], o->outs[i].len * kl_dtype_size(o->outs[i].dtype));
    return 0;
}

int kl__typed_outs_valid(const kl_memo *m, const kl_typed_out *outs, size_t nouts)
{
    if (nouts > TYPED_MAX_ARGS)
        return kl_seterr(KL_EINVAL, "memo '%s': %zu out-parameters", m->name, nouts);
    for (size_t i = 0; i < nouts; i++) {
        if (outs[i].type) {
            if (!outs[i].ptr)
                return kl_seterr(KL_EINVAL, "memo '%s': out-parameter %zu is NULL", m->name,
                                 i + 1);
            continue;
        }
        if (!dtype_tag((kl_dtype)outs[i].dtype))
            return kl_seterr(KL_EINVAL, "memo '%s': out-parameter %zu has no element type",
                             m->name, i + 1);
        if (!outs[i].ptr && outs[i].len)
            return kl_seterr(KL_EINVAL, "memo '%s': out-parameter %zu is NULL with length %zu",
                             m->name, i + 1, outs[i].len);
        if (outs[i].len > SIZE_MAX / 8)
            return kl_seterr(KL_ETOOBIG, "memo '%s': out-parameter %zu has %zu elements",
                             m->name, i + 1, outs[i].len);
    }
    return 0;
}

/* A stored result as out-parameters some of which are objects: decoded
 * (outside the cache's lock), checked whole — every object of its type
 * and version, every array of its element type and count — then copied.
 * 0, or 1 when it is not a result of these shapes (the message says why). */
static int objects_take(const kl_typed_out *outs, size_t nouts, const uint8_t *v, size_t n)
{
    kl_value r;
    if (kl_decode(v, n, &r))
        return 1;
    const kl_value *items = &r;
    int rc = 0;
    if (nouts > 1) {
        if (r.type != KL_ARRAY || r.u.a.len != nouts || r.flags & KL_VALUE_OBJECT)
            rc = 1;
        items = r.u.a.items;
    }
    void *tmp[TYPED_MAX_ARGS] = {0};
    for (size_t i = 0; i < nouts && !rc; i++) {
        const kl_typed_out *o = &outs[i];
        const kl_value *it = &items[i];
        if (o->type) {
            if (!(tmp[i] = malloc(o->type->size))) {
                rc = 1;
                break;
            }
            memcpy(tmp[i], o->ptr, o->type->size);
            rc = kl_value_object_get(it, o->type, tmp[i]) ? 1 : 0;
        } else if (it->type != KL_NDARRAY || it->u.nd.ndim != 1 || it->u.nd.dtype != o->dtype ||
                   it->u.nd.shape[0] != o->len) {
            rc = 1;
        }
    }
    for (size_t i = 0; i < nouts && !rc; i++) {
        if (outs[i].type)
            memcpy(outs[i].ptr, tmp[i], outs[i].type->size);
        else if (outs[i].len)
            memcpy(outs[i].ptr, items[i].u.nd.data, kl_value_ndarray_bytes(&items[i]));
    }
    for (size_t i = 0; i < nouts; i++)
        free(tmp[i]);
    kl_value_free(&r);
    return rc;
}

static bool outs_have_objects(const kl_typed_out *outs, size_t nouts)
{
    for (size_t i = 0; i < nouts; i++)
        if (outs[i].type)
            return true;
    return false;
}

int kl__typed_acquire_outs(kl_memo *m, const uint8_t *key, size_t klen, kl_memo_slot *slot,
                           const kl_typed_out *outs, size_t nouts)
{
    if (outs_have_objects(outs, nouts)) {
        kl_buf val = KL_BUF_INIT;
        int rc = kl_cache_acquire(m->cache, key, klen, &val, &slot->ticket);
        if (rc == 0 && objects_take(outs, nouts, val.data, val.len))
            rc = 2; /* found, counted, not a result of these types: computed afresh */
        if (rc < 0)
            kl_cache_count_error(m->cache);
        kl_buf_free(&val);
        return rc;
    }
    outs_ctx ctx = {outs, nouts};
    int rc = kl_cache_acquire_take(m->cache, key, klen, take_outs, &ctx, &slot->ticket);
    if (rc < 0)
        kl_cache_count_error(m->cache);
    return rc;
}

/* ---- storing ------------------------------------------------------------------------ */

void kl_memo_typed_finish_outs(kl_memo_slot *slot, const kl_typed_out *outs, size_t nouts)
{
    kl_value items[TYPED_MAX_ARGS];
    size_t shape[TYPED_MAX_ARGS];
    if (nouts > TYPED_MAX_ARGS) {
        kl_cache_abandon(slot->ticket, KL_EINVAL);
        slot->ticket = NULL;
        return;
    }
    int rc = 0;
    for (size_t i = 0; i < nouts; i++) {
        shape[i] = outs[i].len;
        items[i] = kl_value_null();
        if (outs[i].type && !rc)
            rc = kl_value_object(&items[i], outs[i].type, outs[i].ptr); /* owned */
        else if (!outs[i].type)
            items[i] = typed_ndarray_ref((kl_dtype)outs[i].dtype, outs[i].ptr, &shape[i]);
    }
    kl_value result = nouts == 1 ? items[0] : kl_value_array_ref(items, nouts, false);
    kl_buf buf = KL_BUF_INIT;
    if (!rc)
        rc = kl_encode(&buf, &result, 0);
    for (size_t i = 0; i < nouts; i++)
        kl_value_free(&items[i]);
    if (!rc)
        (void)kl_cache_fulfil(slot->ticket, buf.data, buf.len);
    else
        kl_cache_abandon(slot->ticket, rc);
    kl_buf_free(&buf);
    slot->ticket = NULL;
}

void kl_memo_typed_abandon(kl_memo_slot *slot, int code)
{
    (void)code;
    if (slot->ticket)
        kl_cache_abandon(slot->ticket, KL_EFUNC);
    slot->ticket = NULL;
}
