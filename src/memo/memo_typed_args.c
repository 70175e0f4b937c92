/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The typed face's calls with array arguments or out-parameters
 * (KL_MEMOIZE's general form: KL_ARR, KL_ARR_FIXED, KL_OUT_ARR).
 *
 * Keys: with raw keys (memo_typed.h) an array joins the memory key as its
 * element count and element bytes, built on the stack when it fits; with
 * options that reshape keys (rounding, ignored arguments, other keymaps)
 * the arguments become values — an array a borrowed 1-d nd-array — and
 * the key is canonical.  Either way the archive gets the canonical key,
 * where an array reads back as array([...], dtype=...).
 *
 * Results: out-parameters are stored as nd-arrays (one out: the array; more:
 * a tuple of them).  A hit checks the stored bytes against every out
 * array's element type and count before it writes any of them, so a
 * result of another shape is computed afresh, never half-copied.  Reading
 * needs no allocation: the bytes are parsed in place (RFC 8746 typed
 * arrays, as our encoder writes them).
 */
#include <stdlib.h>

#include "codec/codec_internal.h" /* kl__cbor_dtype_tag: the typed-array tags */
#include "memo/memo_typed.h"

/* Raw keys up to this size are built on the stack. */
#define ARGS_STACK 1024

static unsigned dtype_tag(kl_dtype dt) { return kl__cbor_dtype_tag(dt); }

/* Checks an array argument (no NULL with elements, no key over the limit)
 * and returns the bytes it adds to a raw key (0 on error). */
static size_t array_check(const kl_memo *m, size_t i, const kl_typed_arg *a, int *rc)
{
    size_t esz = kl_dtype_size(typed_dtype(m->types[i]));
    const char *name = kl_signature_param(m->sig, i);
    if (!a->image && a->len) {
        *rc = kl_seterr(KL_EINVAL, "memo '%s': argument '%s' is NULL with length %zu", m->name,
                        name, a->len);
        return 0;
    }
    if (a->len > (KL_KEY_MAX - 8) / esz) {
        *rc = kl_seterr(KL_ETOOBIG,
                        "memo '%s': argument '%s' has %zu elements, over the key limit of %u "
                        "bytes",
                        m->name, name, a->len, KL_KEY_MAX);
        return 0;
    }
    return 8 + a->len * esz;
}

/* ---- out-parameters ---------------------------------------------------------------- */

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

static int outs_valid(const kl_memo *m, const kl_typed_out *outs, size_t nouts)
{
    if (nouts > TYPED_MAX_ARGS)
        return kl_seterr(KL_EINVAL, "memo '%s': %zu out-parameters", m->name, nouts);
    for (size_t i = 0; i < nouts; i++) {
        if (!dtype_tag((kl_dtype)outs[i].dtype))
            return kl_seterr(KL_EINVAL, "memo '%s': out-parameter %zu has no element type",
                             m->name, i + 1);
        if (!outs[i].ptr && outs[i].len)
            return kl_seterr(KL_EINVAL, "memo '%s': out-parameter %zu is NULL with length %zu",
                             m->name, i + 1, outs[i].len);
        if (outs[i].len > (KL_KEY_MAX * (size_t)64) / kl_dtype_size((kl_dtype)outs[i].dtype))
            return kl_seterr(KL_ETOOBIG, "memo '%s': out-parameter %zu has %zu elements",
                             m->name, i + 1, outs[i].len);
    }
    return 0;
}

/* Look the key up: a result into *out (kind) or into the out arrays. */
static int acquire(kl_memo *m, const uint8_t *key, size_t klen, kl_memo_slot *slot,
                   kl_result_kind kind, void *out, const kl_typed_out *outs, size_t nouts)
{
    if (!nouts)
        return kl__cache_acquire_result(m->cache, key, klen, kind, out, &slot->ticket);
    outs_ctx ctx = {outs, nouts};
    int rc = kl_cache_acquire_take(m->cache, key, klen, take_outs, &ctx, &slot->ticket);
    if (rc < 0)
        kl_cache_count_error(m->cache);
    return rc;
}

/* ---- the call ----------------------------------------------------------------------- */

/* Options that reshape keys: the canonical key of the arguments as values. */
static __attribute__((noinline)) int call_canonical(kl_memo *m, const kl_typed_arg *args,
                                                    kl_memo_slot *slot, kl_result_kind kind,
                                                    void *out, const kl_typed_out *outs,
                                                    size_t nouts)
{
    kl_value vals[TYPED_MAX_ARGS];
    size_t shape[TYPED_MAX_ARGS];
    for (size_t i = 0; i < m->ntypes; i++) {
        if (typed_is_array(m->types[i])) {
            shape[i] = args[i].len;
            vals[i] = typed_ndarray_ref(typed_dtype(m->types[i]),
                                        (const void *)(uintptr_t)args[i].image, &shape[i]);
        } else {
            vals[i] = kl__typed_image_value(m->types[i], args[i].image);
        }
    }
    kl_call call = {vals, m->ntypes, NULL, NULL, 0};
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *key = stack;
    size_t klen = 0;
    int rc = memo_build_key(m, &call, stack, &heap, &key, &klen);
    if (rc)
        rc = kl__typed_uncached(m, rc);
    else
        rc = acquire(m, key, klen, slot, kind, out, outs, nouts);
    kl_buf_free(&heap);
    return rc;
}

int kl_memo_typed_call_args(kl_memo *m, const kl_typed_arg *args, size_t nargs,
                            kl_memo_slot *slot, kl_result_kind kind, void *out,
                            const kl_typed_out *outs, size_t nouts)
{
    slot->memo = m;
    slot->ticket = NULL;
    if (KL_UNLIKELY(!m)) /* kl_memo_new's message says why */
        return KL_ENOMEM;
    int rc = 0;
    if (KL_UNLIKELY(nargs != m->ntypes))
        return kl__typed_uncached(m, kl_seterr(KL_EINVAL,
                                               "memo '%s': %zu arguments for a function of %zu",
                                               m->name, nargs, m->ntypes));
    if (KL_UNLIKELY(nouts) && (rc = outs_valid(m, outs, nouts)))
        return kl__typed_uncached(m, rc);
    size_t total = 0;
    for (size_t i = 0; i < nargs; i++) {
        if (!typed_is_array(m->types[i])) {
            total += 8;
            continue;
        }
        size_t add = array_check(m, i, &args[i], &rc);
        if (KL_UNLIKELY(rc))
            return kl__typed_uncached(m, rc);
        total += add;
    }
    if (KL_UNLIKELY(total > KL_KEY_MAX))
        return kl__typed_uncached(m, kl_seterr(KL_ETOOBIG,
                                               "memo '%s': the arguments make a key of %zu "
                                               "bytes, over the limit of %u",
                                               m->name, total, KL_KEY_MAX));
    if (!m->raw_keys)
        return call_canonical(m, args, slot, kind, out, outs, nouts);
    uint8_t stack[ARGS_STACK];
    uint8_t *key = total <= sizeof stack ? stack : malloc(total);
    if (KL_UNLIKELY(!key))
        return kl__typed_uncached(m, kl_seterr(KL_ENOMEM, "memo '%s': out of memory for a "
                                                          "key of %zu bytes",
                                               m->name, total));
    uint8_t *p = key;
    for (size_t i = 0; i < nargs; i++) {
        uint64_t b = args[i].image;
        if (typed_is_array(m->types[i])) {
            uint64_t n = args[i].len;
            size_t bytes = args[i].len * kl_dtype_size(typed_dtype(m->types[i]));
            memcpy(p, &n, 8);
            if (bytes)
                memcpy(p + 8, (const void *)(uintptr_t)b, bytes);
            p += 8 + bytes;
            continue;
        }
        if (m->types[i] == 'd' || m->types[i] == 'f')
            b = kl__typed_float_image(m, b);
        memcpy(p, &b, 8);
        p += 8;
    }
    rc = acquire(m, key, total, slot, kind, out, outs, nouts);
    if (key != stack)
        free(key);
    return rc;
}

void kl_memo_typed_finish_outs(kl_memo_slot *slot, const kl_typed_out *outs, size_t nouts)
{
    kl_value items[TYPED_MAX_ARGS];
    size_t shape[TYPED_MAX_ARGS];
    if (nouts > TYPED_MAX_ARGS) {
        kl_cache_abandon(slot->ticket, KL_EINVAL);
        slot->ticket = NULL;
        return;
    }
    for (size_t i = 0; i < nouts; i++) {
        shape[i] = outs[i].len;
        items[i] = typed_ndarray_ref((kl_dtype)outs[i].dtype, outs[i].ptr, &shape[i]);
    }
    kl_value result = nouts == 1 ? items[0] : kl_value_array_ref(items, nouts, true);
    kl_buf buf = KL_BUF_INIT;
    int rc = kl_encode(&buf, &result, 0);
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
