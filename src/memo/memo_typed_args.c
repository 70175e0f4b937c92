/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The typed face's calls with array or object arguments or
 * out-parameters (KL_MEMOIZE's general form: KL_ARR, KL_ARR_FIXED,
 * KL_OBJ, KL_OUT_ARR, KL_OUT_OBJ).
 *
 * Keys: with raw keys (memo_typed.h) an array joins the memory key as its
 * element bytes (and count), an object as what its type's encode writes,
 * built on the stack when it fits (a function of one array is keyed by
 * the caller's elements in place); with options that reshape keys
 * (rounding, ignored arguments, other keymaps) the arguments become
 * values — an array a borrowed 1-d nd-array, an object its tag-27 value —
 * and the key is canonical.  Either way the archive gets the canonical
 * key, where an array reads back as array([...], dtype=...).  A miss
 * checks that every object's bytes decode before anything is stored.
 * Results through out-parameters: memo_typed_outs.c.
 */
#include <stdlib.h>

#include "memo/memo_typed.h"

/* Raw keys up to this size are built on the stack. */
#define ARGS_STACK 1024

/* Why array argument i cannot make a key: NULL with elements, or more
 * elements than a key may hold. */
static __attribute__((noinline, cold)) int array_error(const kl_memo *m, size_t i,
                                                       const kl_typed_arg *a)
{
    const char *name = kl_signature_param(m->sig, i);
    if (!a->image && a->len)
        return kl_seterr(KL_EINVAL, "memo '%s': argument '%s' is NULL with length %zu", m->name,
                         name, a->len);
    return kl_seterr(KL_ETOOBIG,
                     "memo '%s': argument '%s' has %zu elements, over the key limit of %u bytes",
                     m->name, name, a->len, KL_KEY_MAX);
}

/* Why object argument i cannot make a key. */
static __attribute__((noinline, cold)) int object_error(const kl_memo *m, size_t i,
                                                        const kl_typed_arg *a, int rc)
{
    const char *name = kl_signature_param(m->sig, i);
    if (!a->image)
        return kl_seterr(KL_EINVAL, "memo '%s': argument '%s' is NULL", m->name, name);
    if (a->type != m->objtype[i])
        return kl_seterr(KL_ETYPE, "memo '%s': argument '%s' is of type '%s', not '%s'", m->name,
                         name, a->type ? a->type->name : "(none)", m->objtype[i]->name);
    /* encode again (it is deterministic) to learn whether it says why */
    kl_errclear();
    kl_enc e;
    kl_enc_init(&e, NULL, 0, 0);
    (void)m->objtype[i]->encode(&e, (const void *)(uintptr_t)a->image);
    if (*kl_errmsg())
        return kl_seterr_prefix(rc < 0 ? rc : KL_EINVAL,
                                "memo '%s': argument '%s': encoding its '%s' failed", m->name,
                                name, m->objtype[i]->name);
    return kl_seterr(rc < 0 ? rc : KL_EINVAL,
                     "memo '%s': argument '%s': encoding its '%s' failed (%d)", m->name, name,
                     m->objtype[i]->name, rc);
}

/* ---- the call ----------------------------------------------------------------------- */

/* Look the key up: a result into *out (kind) or into the out-parameters. */
static inline int acquire(kl_memo *m, const uint8_t *key, size_t klen, kl_memo_slot *slot,
                          kl_result_kind kind, void *out, const kl_typed_out *outs,
                          size_t nouts)
{
    if (!nouts)
        return kl__cache_acquire_result(m->cache, key, klen, kind, out, &slot->ticket);
    return kl__typed_acquire_outs(m, key, klen, slot, outs, nouts);
}

/* Options that reshape keys: the canonical key of the arguments as values. */
static __attribute__((noinline)) int call_canonical(kl_memo *m, const kl_typed_arg *args,
                                                    kl_memo_slot *slot, kl_result_kind kind,
                                                    void *out, const kl_typed_out *outs,
                                                    size_t nouts)
{
    kl_value vals[TYPED_MAX_ARGS];
    size_t shape[TYPED_MAX_ARGS];
    int rc = 0;
    for (size_t i = 0; i < m->ntypes; i++) {
        if (m->objtype[i]) { /* owned: freed below */
            if ((rc = kl_value_object(&vals[i], m->objtype[i],
                                      (const void *)(uintptr_t)args[i].image))) {
                for (size_t j = 0; j < i; j++)
                    kl_value_free(&vals[j]);
                return kl__typed_uncached(m, rc);
            }
        } else if (typed_is_array(m->types[i])) {
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
    rc = memo_build_key(m, &call, stack, &heap, &key, &klen);
    for (size_t i = 0; i < m->ntypes; i++)
        kl_value_free(&vals[i]); /* the objects; the rest borrow */
    if (rc)
        rc = kl__typed_uncached(m, rc);
    else
        rc = acquire(m, key, klen, slot, kind, out, outs, nouts);
    kl_buf_free(&heap);
    return rc;
}

/* acquire for a raw key; at a miss, a key with objects must decode (an
 * encode that writes bytes no decoder reads is an error: computed
 * uncached, nothing stored). */
static inline int acquire_checked(kl_memo *m, const uint8_t *key, size_t klen,
                                  kl_memo_slot *slot, kl_result_kind kind, void *out,
                                  const kl_typed_out *outs, size_t nouts)
{
    int rc = acquire(m, key, klen, slot, kind, out, outs, nouts);
    if (KL_UNLIKELY(rc == 1) && m->has_objects) {
        int bad = kl__typed_raw_decodes(m, key, klen);
        if (bad) {
            kl_cache_abandon(slot->ticket, bad);
            slot->ticket = NULL;
            kl_cache_count_error(m->cache);
            return bad;
        }
    }
    return rc;
}

/* Write the raw key of the arguments into key (cap bytes); returns its
 * length, which may exceed cap (then nothing past cap was written), or 0
 * with *rc set when an array cannot make a key. */
static inline __attribute__((always_inline)) size_t raw_key(const kl_memo *m,
                                                            const kl_typed_arg *args,
                                                            uint8_t *key, size_t cap, int *rc)
{
    size_t at = 0;
    for (size_t i = 0; i < m->ntypes; i++) {
        uint64_t b = args[i].image;
        size_t esz = m->arg_esize[i];
        if (m->objtype[i]) { /* an object: what its type's encode writes */
            if (KL_UNLIKELY(!b || args[i].type != m->objtype[i])) {
                *rc = object_error(m, i, &args[i], KL_EINVAL);
                return 0;
            }
            size_t head = m->counted_arrays ? 8 : 0;
            size_t room = at + head <= cap ? cap - at - head : 0;
            kl_enc e;
            kl_enc_init(&e, room ? key + at + head : NULL, room, 0);
            int erc = m->objtype[i]->encode(&e, (const void *)(uintptr_t)b);
            if (KL_UNLIKELY(erc || e.err)) {
                *rc = object_error(m, i, &args[i], erc ? erc : e.err);
                return 0;
            }
            uint64_t n = e.len;
            if (head && at + head <= cap)
                memcpy(key + at, &n, 8);
            at += head + e.len;
            continue;
        }
        if (!esz) {
            /* NaN and ±0 images are normalised (as memo_typed.c's) */
            if (((m->float_args >> i) & 1) &&
                KL_UNLIKELY(((b << 1) - 1) >= (UINT64_C(0x7ff) << 53) - 1))
                b = kl__typed_float_image(m, b);
            if (KL_LIKELY(at + 8 <= cap))
                memcpy(key + at, &b, 8);
            at += 8;
            continue;
        }
        uint64_t n = args[i].len;
        if (KL_UNLIKELY((!b && n) || n > KL_KEY_MAX)) {
            *rc = array_error(m, i, &args[i]);
            return 0;
        }
        size_t bytes = (size_t)n * esz, head = m->counted_arrays ? 8 : 0;
        if (KL_LIKELY(at + head + bytes <= cap)) {
            memcpy(key + at, &n, head);
            if (bytes)
                memcpy(key + at + head, (const void *)(uintptr_t)b, bytes);
        }
        at += head + bytes;
    }
    return at;
}

/* A raw key longer than the stack holds: built on the heap. */
static __attribute__((noinline)) int call_long_key(kl_memo *m, const kl_typed_arg *args,
                                                   size_t total, kl_memo_slot *slot,
                                                   kl_result_kind kind, void *out,
                                                   const kl_typed_out *outs, size_t nouts)
{
    if (total > KL_KEY_MAX) { /* name the longest array */
        size_t longest = 0, bytes = 0;
        for (size_t i = 0; i < m->ntypes; i++)
            if (m->arg_esize[i] && args[i].len * m->arg_esize[i] >= bytes) {
                bytes = args[i].len * m->arg_esize[i];
                longest = i;
            }
        return kl__typed_uncached(m, kl_seterr(KL_ETOOBIG,
                                               "memo '%s': argument '%s' has %zu elements: a "
                                               "key of %zu bytes, over the key limit of %u",
                                               m->name, kl_signature_param(m->sig, longest),
                                               args[longest].len, total, KL_KEY_MAX));
    }
    uint8_t *key = malloc(total);
    if (!key)
        return kl__typed_uncached(m, kl_seterr(KL_ENOMEM,
                                               "memo '%s': out of memory for a key of %zu "
                                               "bytes",
                                               m->name, total));
    int rc = 0;
    (void)raw_key(m, args, key, total, &rc);
    rc = acquire_checked(m, key, total, slot, kind, out, outs, nouts);
    free(key);
    return rc;
}

static inline __attribute__((always_inline)) int
typed_call_args(kl_memo *m, const kl_typed_arg *args, size_t nargs, kl_memo_slot *slot,
                kl_result_kind kind, void *out, const kl_typed_out *outs, size_t nouts)
{
    int rc = 0;
    if (KL_UNLIKELY(nargs != m->ntypes))
        return kl__typed_uncached(m, kl_seterr(KL_EINVAL,
                                               "memo '%s': %zu arguments for a function of %zu",
                                               m->name, nargs, m->ntypes));
    if (KL_UNLIKELY(nouts) && (rc = kl__typed_outs_valid(m, outs, nouts)))
        return kl__typed_uncached(m, rc);
    if (m->ntypes == 1 && m->arg_esize[0] && !m->objtype[0] && KL_LIKELY(m->raw_keys)) {
        /* a function of one array (a vector): its elements are the key */
        const void *p = (const void *)(uintptr_t)args[0].image;
        size_t n = args[0].len, bytes = n * m->arg_esize[0];
        if (KL_UNLIKELY((!p && n) || n > KL_KEY_MAX || bytes > KL_KEY_MAX))
            return kl__typed_uncached(m, n > KL_KEY_MAX || bytes <= KL_KEY_MAX
                                             ? array_error(m, 0, &args[0])
                                             : kl_seterr(KL_ETOOBIG,
                                                         "memo '%s': argument '%s' has %zu "
                                                         "elements, over the key limit of %u "
                                                         "bytes",
                                                         m->name, kl_signature_param(m->sig, 0),
                                                         n, KL_KEY_MAX));
        static const uint8_t none[1];
        return acquire(m, p ? p : none, bytes, slot, kind, out, outs, nouts);
    }
    uint8_t stack[ARGS_STACK];
    size_t total = raw_key(m, args, stack, sizeof stack, &rc);
    if (KL_UNLIKELY(rc))
        return kl__typed_uncached(m, rc);
    if (KL_UNLIKELY(!m->raw_keys)) /* the checks above hold for canonical keys too */
        return call_canonical(m, args, slot, kind, out, outs, nouts);
    if (KL_UNLIKELY(total > sizeof stack))
        return call_long_key(m, args, total, slot, kind, out, outs, nouts);
    return acquire_checked(m, stack, total, slot, kind, out, outs, nouts);
}

int kl_memo_typed_call_args(kl_memo *m, const kl_typed_arg *args, size_t nargs,
                            kl_memo_slot *slot, kl_result_kind kind, void *out,
                            const kl_typed_out *outs, size_t nouts)
{
    slot->memo = m;
    slot->ticket = NULL;
    if (KL_UNLIKELY(!m)) /* kl_memo_new's message says why */
        return KL_ENOMEM;
    if (KL_UNLIKELY(kl__memo_is_off())) /* KLEPTO_DISABLE: compute, store nothing */
        return 2;
    int rc = typed_call_args(m, args, nargs, slot, kind, out, outs, nouts);
    if (KL_UNLIKELY(kl__log_on(KL_LOG_DEBUG)))
        kl__memo_log_outcome(m, rc);
    return rc;
}
