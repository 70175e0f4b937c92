/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The typed face of the memo (KL_MEMOIZE, memo.h) and its raw keys.
 *
 * A typed call arrives as the 64-bit images of its C arguments.  When the
 * arguments are all numbers or booleans and the options keep the key a
 * function of those bits (raw keymap, no rounding, nothing ignored), the
 * memory is keyed by the images themselves — 8 bytes per argument, hashed
 * and compared like any key — so a hit builds no canonical key at all.
 * The archive still sees only canonical keys: the cache translates at its
 * archive boundary (kl__cache_keymap), building the canonical key from the
 * images on a write or an archive lookup, and mapping a canonical key back
 * to images when an archive is loaded into memory.
 *
 * Images are normalised where the canonical key merges arguments: every
 * NaN is one image, and -0.0 is 0.0 for an untyped keymap (where -0.0 and
 * 0 are equal arguments).  So two calls share a memory entry exactly when
 * they share a canonical key.
 *
 * Array arguments (memo_typed.h) join raw keys as their element count and
 * bytes, and the canonical key as 1-d nd-arrays of their dtype; the
 * element bytes are the key in both, so the two still agree.  The calls
 * themselves are in memo_typed_args.c.
 */
#include <stdlib.h>

#include "memo/memo_typed.h"

/* ---- argument images ------------------------------------------------------------- */

static inline uint64_t f64_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}
static inline double bits_f64(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

#define CANONICAL_NAN UINT64_C(0x7ff8000000000000)

static inline bool is_float_code(char t) { return t == 'd' || t == 'f'; }

/* The image of a float argument as memory keys use it. */
static inline uint64_t float_image(const kl_memo *m, uint64_t b)
{
    if (KL_UNLIKELY(((b >> 52) & 0x7ff) == 0x7ff && (b << 12) != 0))
        return CANONICAL_NAN;
    if (KL_UNLIKELY((b << 1) == 0 && m->raw_merge_zero))
        return 0;
    return b;
}

uint64_t kl__typed_float_image(const kl_memo *m, uint64_t bits) { return float_image(m, bits); }

int kl__typed_uncached(kl_memo *m, int rc)
{
    kl_cache_count_error(m->cache);
    kl__cache_count_miss(m->cache);
    return rc;
}

/* The value of one argument image. */
static kl_value image_value(char type, uint64_t b)
{
    switch (type) {
    case 'd':
    case 'f':
        return kl_value_float(bits_f64(b));
    case 'b':
        return kl_value_bool(b != 0);
    case 's':
        return kl_value_cstr_ref((const char *)(uintptr_t)b);
    default:
        return kl_value_int((int64_t)b);
    }
}

/* The image of a value for an argument of C type `type`: 0, or 1 when the
 * typed function could not be called with it. */
static int value_image(const kl_memo *m, char type, const kl_value *v, uint64_t *b)
{
    switch (type) {
    case 'd':
    case 'f':
        if (v->type == KL_FLOAT)
            *b = float_image(m, f64_bits(v->u.f));
        else if (v->type == KL_INT && (int64_t)(double)v->u.i == v->u.i)
            *b = float_image(m, f64_bits((double)v->u.i));
        else
            return 1;
        return 0;
    case 'b':
        /* untyped canonical keys hold a bool as the int 0 or 1 */
        if (v->type == KL_BOOL)
            *b = v->u.b ? 1 : 0;
        else if (v->type == KL_INT && (v->u.i == 0 || v->u.i == 1))
            *b = (uint64_t)v->u.i;
        else
            return 1;
        return 0;
    case 'i':
        if (v->type == KL_INT)
            *b = (uint64_t)v->u.i;
        else if (v->type == KL_FLOAT && v->u.f >= -0x1p63 && v->u.f < 0x1p63 &&
                 (double)(int64_t)v->u.f == v->u.f)
            *b = (uint64_t)(int64_t)v->u.f;
        else
            return 1;
        return 0;
    default:
        return 1;
    }
}

kl_value kl__typed_image_value(char type, uint64_t bits) { return image_value(type, bits); }

/* Append the raw form of an array argument's value (an nd-array of the
 * argument's dtype and one dimension): 0, or 1 when it does not fit. */
static int array_raw(const kl_memo *m, char type, const kl_value *v, kl_buf *out)
{
    if (v->type != KL_NDARRAY || v->u.nd.ndim != 1 || v->u.nd.dtype != typed_dtype(type))
        return 1;
    uint64_t n = v->u.nd.shape[0];
    if ((m->counted_arrays && kl_buf_append(out, &n, 8)) ||
        kl_buf_append(out, v->u.nd.data, kl_value_ndarray_bytes(v)))
        return KL_ENOMEM;
    return 0;
}

int kl__typed_object_raw(const kl_memo *m, size_t i, const kl_value *v, kl_buf *out)
{
    const kl_usertype *t = m->objtype[i];
    if (v->type != KL_ARRAY || !(v->flags & KL_VALUE_OBJECT) || v->u.a.len != 3 ||
        v->u.a.items[0].type != KL_TEXT || v->u.a.items[0].u.s.len != strlen(t->name) ||
        memcmp(v->u.a.items[0].u.s.ptr, t->name, v->u.a.items[0].u.s.len) != 0 ||
        v->u.a.items[1].type != KL_INT || v->u.a.items[1].u.i != (int64_t)t->layout)
        return 1;
    /* the bytes a call makes are what the type's encode writes: the value
     * goes through the type (decode, encode), and one that its decode
     * refuses is skipped */
    void *obj = calloc(1, t->size);
    if (!obj)
        return KL_ENOMEM;
    int rc = t->decode(&v->u.a.items[2], obj) ? 1 : 0;
    size_t at = out->len;
    uint64_t n = 0;
    if (!rc && m->counted_arrays && kl_buf_append(out, &n, 8))
        rc = KL_ENOMEM;
    kl_enc e;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        size_t room = out->cap - out->len;
        kl_enc_init(&e, room ? out->data + out->len : NULL, room, 0);
        if (t->encode(&e, obj) || e.err)
            rc = 1;
        else if (e.len <= out->cap - out->len)
            break;
        else if (pass == 0)
            rc = kl_buf_reserve(out, e.len);
        else
            rc = 1;
    }
    free(obj);
    if (rc) {
        out->len = at;
        return rc;
    }
    out->len += e.len;
    n = e.len;
    if (m->counted_arrays)
        memcpy(out->data + at, &n, 8);
    return 0;
}

int kl__typed_object_value(const kl_memo *m, size_t i, const uint8_t *p, size_t n,
                           kl_value *items, kl_value *out)
{
    const kl_usertype *t = m->objtype[i];
    int rc = kl_decode(p, n, &items[2]);
    if (rc)
        return kl_seterr_prefix(rc, "memo '%s': argument '%s': the encoded '%s' does not decode",
                                m->name, kl_signature_param(m->sig, i), t->name);
    items[0] = kl_value_cstr_ref(t->name);
    items[1] = kl_value_int((int64_t)t->layout);
    *out = kl_value_array_ref(items, 3, false);
    out->flags |= KL_VALUE_OBJECT;
    return 0;
}

static const char *type_name(char type)
{
    if (typed_is_object(type))
        return "object";
    if (typed_is_array(type)) {
        static const char *const names[] = {"int8 array",   "int16 array",   "int32 array",
                                            "int64 array",  "uint8 array",   "uint16 array",
                                            "uint32 array", "uint64 array",  "float32 array",
                                            "float64 array"};
        return names[typed_dtype(type)];
    }
    switch (type) {
    case 'd':
        return "double";
    case 'f':
        return "float";
    case 'b':
        return "bool";
    case 's':
        return "text";
    default:
        return "integer";
    }
}

/* The images of a generic call's arguments (positional, then named by the
 * signature's parameter names): 0, KL_EINVAL when the call does not fit
 * the signature, KL_ETYPE when a value does not fit its C type (the
 * message names the argument). */
static int call_values(const kl_memo *m, const kl_call *call, const kl_value **at)
{
    size_t n = m->ntypes;
    if (call->npos + call->nnamed != n || call->npos > n)
        return kl_seterr(KL_EINVAL, "memo '%s': %zu arguments for a function of %zu", m->name,
                         call->npos + call->nnamed, n);
    for (size_t i = 0; i < n; i++)
        at[i] = NULL;
    for (size_t i = 0; i < call->npos; i++)
        at[i] = &call->pos[i];
    for (size_t j = 0; j < call->nnamed; j++) {
        size_t i = 0;
        while (i < n && strcmp(kl_signature_param(m->sig, i), call->names[j]) != 0)
            i++;
        if (i == n || at[i])
            return kl_seterr(KL_EINVAL, "memo '%s': argument '%s' %s", m->name, call->names[j],
                             i == n ? "is not a parameter" : "is given twice");
        at[i] = &call->named[j];
    }
    return 0;
}

static int misfit(const kl_memo *m, size_t i)
{
    return kl_seterr(KL_ETYPE, "memo '%s': argument '%s' does not fit the C type %s", m->name,
                     kl_signature_param(m->sig, i), type_name(m->types[i]));
}

static int call_images(const kl_memo *m, const kl_call *call, uint64_t *img)
{
    const kl_value *at[TYPED_MAX_ARGS];
    int rc = call_values(m, call, at);
    for (size_t i = 0; i < m->ntypes && !rc; i++)
        if (value_image(m, m->types[i], at[i], &img[i]))
            rc = misfit(m, i);
    return rc;
}

/* The raw key of a generic call to a function with array arguments. */
static int call_raw_key(const kl_memo *m, const kl_call *call, kl_buf *out)
{
    const kl_value *at[TYPED_MAX_ARGS];
    int rc = call_values(m, call, at);
    out->len = 0;
    for (size_t i = 0; i < m->ntypes && !rc; i++) {
        uint64_t b;
        if (typed_is_object(m->types[i])) {
            rc = kl__typed_object_raw(m, i, at[i], out);
            if (rc == 1)
                rc = kl_seterr(KL_ETYPE,
                               "memo '%s': argument '%s' is not an object of type '%s' "
                               "layout %u",
                               m->name, kl_signature_param(m->sig, i), m->objtype[i]->name,
                               m->objtype[i]->layout);
        } else if (typed_is_array(m->types[i])) {
            rc = array_raw(m, m->types[i], at[i], out);
            if (rc == 1)
                rc = misfit(m, i);
        } else if (value_image(m, m->types[i], at[i], &b)) {
            rc = misfit(m, i);
        } else {
            rc = kl_buf_append(out, &b, 8);
        }
    }
    if (!rc && out->len > KL_KEY_MAX)
        rc = kl_seterr(KL_ETOOBIG, "memo '%s': a key of %zu bytes is over the limit of %u",
                       m->name, out->len, KL_KEY_MAX);
    return rc;
}

int kl__memo_mem_key(const kl_memo *m, const kl_call *call, uint8_t *stack, kl_buf *heap,
                     const uint8_t **key, size_t *klen)
{
    if (!m->raw_keys)
        return memo_build_key(m, call, stack, heap, key, klen);
    if (m->has_arrays) {
        int rc = call_raw_key(m, call, heap);
        *key = heap->data;
        *klen = heap->len;
        return rc;
    }
    uint64_t img[TYPED_MAX_ARGS];
    int rc = call_images(m, call, img);
    if (rc)
        return rc;
    memcpy(stack, img, m->ntypes * 8);
    *key = stack;
    *klen = m->ntypes * 8;
    return 0;
}

/* ---- the cache's archive boundary -------------------------------------------------- */

/* The argument values of a raw key (arrays borrow the key's bytes; their
 * lengths go to shape[]): 0, or KL_EINVAL when the key is not raw. */
static int raw_values(const kl_memo *m, const uint8_t *key, size_t klen, kl_value *args,
                      size_t *shape, kl_value (*objs)[3])
{
    for (size_t i = 0; i < m->ntypes; i++)
        objs[i][2] = kl_value_null();
    size_t at = 0, i;
    for (i = 0; i < m->ntypes; i++) { /* at <= klen throughout */
        uint64_t b;
        size_t esz = m->arg_esize[i];
        if (esz && !m->counted_arrays) {
            /* the one array: what the scalars (8 bytes each) leave */
            size_t scalars = 8 * (m->ntypes - 1);
            if (klen < scalars || (klen - scalars) % esz)
                break;
            b = (klen - scalars) / esz;
        } else {
            if (klen - at < 8)
                break;
            memcpy(&b, key + at, 8);
            at += 8;
        }
        if (!esz) {
            args[i] = image_value(m->types[i], b);
            continue;
        }
        if (b > (klen - at) / esz)
            break;
        if (typed_is_object(m->types[i])) {
            int rc = kl__typed_object_value(m, i, key + at, (size_t)b, objs[i], &args[i]);
            if (rc) {
                for (size_t j = 0; j < i; j++)
                    kl_value_free(&objs[j][2]);
                return rc;
            }
            at += (size_t)b;
            continue;
        }
        shape[i] = (size_t)b;
        args[i] = typed_ndarray_ref(typed_dtype(m->types[i]), key + at, &shape[i]);
        at += (size_t)b * esz;
    }
    if (i < m->ntypes || at != klen || !m->ntypes) {
        for (size_t j = 0; j < i && j < m->ntypes; j++)
            kl_value_free(&objs[j][2]);
        return kl_seterr(KL_EINVAL, "memo '%s': a memory key of %zu bytes is not raw", m->name,
                         klen);
    }
    return 0;
}

static void raw_values_free(const kl_memo *m, kl_value (*objs)[3])
{
    for (size_t i = 0; i < m->ntypes; i++)
        kl_value_free(&objs[i][2]);
}

int kl__typed_raw_decodes(const kl_memo *m, const uint8_t *key, size_t klen)
{
    kl_value args[TYPED_MAX_ARGS];
    size_t shape[TYPED_MAX_ARGS];
    kl_value objs[TYPED_MAX_ARGS][3];
    int rc = raw_values(m, key, klen, args, shape, objs);
    if (!rc)
        raw_values_free(m, objs);
    return rc;
}

/* The canonical (archive) key of a raw key. */
static int raw_to_archive(void *ctx, const uint8_t *key, size_t klen, uint8_t *buf, size_t cap,
                          size_t *len)
{
    const kl_memo *m = ctx;
    kl_value args[TYPED_MAX_ARGS];
    size_t shape[TYPED_MAX_ARGS];
    kl_value objs[TYPED_MAX_ARGS][3];
    int rc = raw_values(m, key, klen, args, shape, objs);
    if (rc)
        return rc;
    kl_call call = {args, m->ntypes, NULL, NULL, 0};
    size_t p = m->prefix_len;
    if (cap >= p)
        memcpy(buf, m->prefix, p);
    size_t n;
    rc = kl_keygen_key_into(m->keygen, &call, buf + (cap >= p ? p : 0), cap >= p ? cap - p : 0,
                            &n);
    raw_values_free(m, objs);
    *len = p + n;
    return rc;
}

/* Find the value named `name` in a decoded key: the item after that text
 * in a (flat) array, or its value in a map, at any depth; NULL if none. */
static const kl_value *named_in(const kl_value *v, const char *name, size_t nlen, int depth)
{
    if (depth > 4)
        return NULL;
    if (v->type == KL_ARRAY) {
        for (size_t i = 0; i < v->u.a.len; i++) {
            const kl_value *it = &v->u.a.items[i];
            if (it->type == KL_TEXT && it->u.s.len == nlen && i + 1 < v->u.a.len &&
                memcmp(it->u.s.ptr, name, nlen) == 0)
                return &v->u.a.items[i + 1];
            const kl_value *r = named_in(it, name, nlen, depth + 1);
            if (r)
                return r;
        }
    } else if (v->type == KL_MAP) {
        for (size_t i = 0; i < v->u.m.len; i++) {
            const kl_value *k = &v->u.m.items[2 * i];
            if (k->type == KL_TEXT && k->u.s.len == nlen && memcmp(k->u.s.ptr, name, nlen) == 0)
                return &v->u.m.items[2 * i + 1];
            const kl_value *r = named_in(&v->u.m.items[2 * i + 1], name, nlen, depth + 1);
            if (r)
                return r;
        }
    }
    return NULL;
}

/* The raw key of a canonical key, for loading an archive into memory: the
 * arguments are read back by name and accepted only if they rebuild the
 * very same canonical key.  1 (skipped) for keys of other calls. */
static int raw_from_archive(void *ctx, const uint8_t *akey, size_t aklen, kl_buf *out)
{
    const kl_memo *m = ctx;
    if (aklen < m->prefix_len || memcmp(akey, m->prefix, m->prefix_len) != 0)
        return 1;
    kl_value kv;
    if (kl_decode(akey + m->prefix_len, aklen - m->prefix_len, &kv) != 0)
        return 1;
    size_t base = out->len;
    int rc = 0;
    for (size_t i = 0; i < m->ntypes && !rc; i++) {
        const char *name = kl_signature_param(m->sig, i);
        const kl_value *v = named_in(&kv, name, strlen(name), 0);
        uint64_t b;
        if (!v)
            rc = 1;
        else if (typed_is_object(m->types[i])) /* another name or layout: skipped */
            rc = kl__typed_object_raw(m, i, v, out);
        else if (typed_is_array(m->types[i]))
            rc = array_raw(m, m->types[i], v, out);
        else if (value_image(m, m->types[i], v, &b))
            rc = 1;
        else
            rc = kl_buf_append(out, &b, 8);
    }
    kl_value_free(&kv);
    /* accepted only if the raw key rebuilds the very same canonical key */
    uint8_t stack[KEY_STACK];
    uint8_t *again = stack;
    size_t n = 0;
    if (!rc) {
        rc = raw_to_archive(ctx, out->data + base, out->len - base, stack, sizeof stack, &n);
        if (!rc && n > sizeof stack && n == aklen) {
            again = malloc(n);
            rc = again ? raw_to_archive(ctx, out->data + base, out->len - base, again, n, &n)
                       : KL_ENOMEM;
        }
        if (rc == KL_ENOMEM) {
            if (again != stack)
                free(again);
            out->len = base;
            return rc;
        }
        if (!rc && (n != aklen || memcmp(again, akey, n) != 0))
            rc = 1;
    }
    if (again != stack)
        free(again);
    if (rc) {
        out->len = base;
        return 1;
    }
    kl_errclear(); /* a rejected reading above may have left a message */
    return 0;
}

void kl__memo_raw_keys_update(kl_memo *m)
{
    bool raw = m->ntypes > 0 && m->raw_opts_ok && m->sig &&
               kl_signature_nparams(m->sig) == m->ntypes &&
               kl_signature_npositional(m->sig) == m->ntypes && !kl_signature_has_varargs(m->sig) &&
               !kl_signature_has_varkw(m->sig) && !strchr(m->types, 's');
    size_t narrays = 0;
    for (size_t i = 0; i < m->ntypes; i++) {
        narrays += typed_is_array(m->types[i]) || typed_is_object(m->types[i]);
        m->arg_esize[i] = typed_is_array(m->types[i])
                              ? (uint8_t)kl_dtype_size(typed_dtype(m->types[i]))
                          : typed_is_object(m->types[i]) ? 1
                                                         : 0;
    }
    m->has_arrays = narrays > 0;
    m->has_objects = false;
    for (size_t i = 0; i < m->ntypes; i++)
        m->has_objects |= typed_is_object(m->types[i]);
    m->counted_arrays = narrays > 1;
    m->raw_keys = raw;
    m->float_args = 0;
    for (size_t i = 0; i < m->ntypes; i++)
        if (is_float_code(m->types[i]))
            m->float_args |= 1u << i;
    kl__cache_keymap km = {raw_to_archive, raw_from_archive, m};
    kl__cache_set_keymap(m->cache, raw ? &km : NULL);
    /* hits may skip the lock (cache_read.c): raw keys through the typed
     * call, every other key through kl_cache_acquire */
    (void)kl__cache_enable_fast_reads(m->cache); /* out of memory: stays off */
}

/* ---- the typed call ---------------------------------------------------------------- */

static int typed_only(void *userdata, const kl_call *call, kl_value *result)
{
    (void)userdata;
    (void)call;
    (void)result;
    return kl_seterr(KL_EUNSUPPORTED,
                     "memo: a KL_MEMOIZE function is called through its C wrapper only");
}

static kl_memo *typed_get(kl_memo **holder, const char *name, const char *signature,
                          const char *types, const kl_usertype *const *objtypes,
                          const kl_usertype *const *outtypes)
{
    kl_memo *m = __atomic_load_n(holder, __ATOMIC_ACQUIRE);
    if (KL_LIKELY(m))
        return m;
    size_t nt = strlen(types);
    if (nt == 0 || nt > TYPED_MAX_ARGS || strspn(types, "dfibsABCDEFGHIJU") != nt) {
        kl_seterr(KL_EINVAL, "memo '%s': argument types '%s' unknown", name, types);
        return NULL;
    }
    for (size_t i = 0; i < nt; i++)
        if (typed_is_object(types[i]) && (!objtypes || !objtypes[i])) {
            kl_seterr(KL_EINVAL, "memo '%s': argument %zu has no user type", name, i + 1);
            return NULL;
        }
    /* one name, one codec: every type of the function is registered */
    for (size_t i = 0; objtypes && i < nt; i++)
        if (objtypes[i] && kl_type_register(objtypes[i]))
            return NULL;
    for (size_t i = 0; outtypes && outtypes[i]; i++)
        if (kl_type_register(outtypes[i]))
            return NULL;
    /* the macro writes "x,y," — drop the trailing comma */
    char sig[512];
    size_t n = strlen(signature);
    if (n >= sizeof sig)
        return NULL;
    memcpy(sig, signature, n + 1);
    if (n && sig[n - 1] == ',')
        sig[n - 1] = '\0';
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.signature = sig;
    kl_memo *fresh;
    if (kl_memo_new(&fresh, name, typed_only, NULL, &opts))
        return NULL;
    memcpy(fresh->types, types, nt + 1);
    fresh->ntypes = nt;
    for (size_t i = 0; i < nt; i++)
        fresh->objtype[i] = objtypes ? objtypes[i] : NULL;
    kl__memo_raw_keys_update(fresh);
    kl_memo *expected = NULL;
    if (!__atomic_compare_exchange_n(holder, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        kl_memo_free(fresh); /* another thread won the race */
        return expected;
    }
    return fresh;
}

kl_memo *kl_memo_typed_get(kl_memo **holder, const char *name, const char *signature,
                           const char *types)
{
    return typed_get(holder, name, signature, types, NULL, NULL);
}

kl_memo *kl_memo_typed_get_general(kl_memo **holder, const char *name, const char *signature,
                                   const char *types, const kl_usertype *const *objtypes,
                                   const kl_usertype *const *outtypes)
{
    return typed_get(holder, name, signature, types, objtypes, outtypes);
}

/* A typed call whose memory is keyed canonically (text arguments, or
 * options that reshape keys): build the canonical key from the images. */
static __attribute__((noinline)) int typed_call_canonical(kl_memo *m, const uint64_t *img,
                                                          size_t nargs, kl_memo_slot *slot,
                                                          kl_result_kind kind, void *out)
{
    if (nargs != m->ntypes) {
        kl_cache_count_error(m->cache); /* computed uncached: an error and a miss */
        kl__cache_count_miss(m->cache);
        return kl_seterr(KL_EINVAL, "memo '%s': %zu arguments for a function of %zu", m->name,
                         nargs, m->ntypes);
    }
    kl_value args[TYPED_MAX_ARGS];
    for (size_t i = 0; i < nargs; i++)
        args[i] = image_value(m->types[i], img[i]);
    kl_call call = {args, nargs, NULL, NULL, 0};
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *key = stack;
    size_t klen = 0;
    int rc = memo_build_key(m, &call, stack, &heap, &key, &klen);
    if (rc) {
        kl_buf_free(&heap);
        kl_cache_count_error(m->cache); /* computed uncached: an error and a miss */
        kl__cache_count_miss(m->cache);
        return rc;
    }
    rc = kl__cache_acquire_result(m->cache, key, klen, kind, out, &slot->ticket);
    kl_buf_free(&heap);
    return rc;
}

/* A raw-keyed call with a NaN or a zero among its float arguments: the
 * key of their normalised images. */
static __attribute__((noinline)) int typed_call_normalised(kl_memo *m, const uint64_t *img,
                                                           size_t nargs, kl_memo_slot *slot,
                                                           kl_result_kind kind, void *out)
{
    uint64_t key[TYPED_MAX_ARGS];
    for (size_t i = 0; i < nargs; i++)
        key[i] = (m->float_args >> i) & 1 ? float_image(m, img[i]) : img[i];
    return kl__cache_acquire_result(m->cache, key, 8 * nargs, kind, out, &slot->ticket);
}

/* The macro's call: with raw keys the images are the key, unless a float
 * argument needs its image normalised (NaN, -0.0; checked on the bits:
 * every image whose exponent is all ones or that is ±0 goes the slow
 * way).  The cache decodes a hit into *out, counts errors, and its result
 * code is the call's (0, 1, 2: compute without storing, < 0). */
static inline __attribute__((always_inline)) int
typed_call(kl_memo *m, const uint64_t *img, size_t nargs, kl_memo_slot *slot,
           kl_result_kind kind, void *out)
{
    if (KL_UNLIKELY(!m->raw_keys || nargs != m->ntypes))
        return typed_call_canonical(m, img, nargs, slot, kind, out);
    for (size_t i = 0; i < nargs; i++)
        if (KL_UNLIKELY((m->float_args >> i) & 1) &&
            KL_UNLIKELY(((img[i] << 1) - 1) >= (UINT64_C(0x7ff) << 53) - 1))
            return typed_call_normalised(m, img, nargs, slot, kind, out);
    return kl__cache_acquire_result(m->cache, img, 8 * nargs, kind, out, &slot->ticket);
}

int kl_memo_typed_call(kl_memo *m, const uint64_t *img, size_t nargs, kl_memo_slot *slot,
                       kl_result_kind kind, void *out)
{
    slot->memo = m;
    slot->ticket = NULL;
    if (KL_UNLIKELY(!m)) /* kl_memo_new's message says why */
        return KL_ENOMEM;
    if (KL_UNLIKELY(kl__memo_is_off())) /* KLEPTO_DISABLE: compute, store nothing */
        return 2;
    int rc = typed_call(m, img, nargs, slot, kind, out);
    if (KL_UNLIKELY(kl__log_on(KL_LOG_DEBUG)))
        kl__memo_log_outcome(m, rc);
    return rc;
}

void kl_memo_typed_finish(kl_memo_slot *slot, const kl_value *result)
{
    uint8_t buf[64];
    kl_enc e;
    kl_enc_init(&e, buf, sizeof buf, 0);
    kl_enc_value(&e, result);
    if (kl_enc_ok(&e))
        (void)kl_cache_fulfil(slot->ticket, buf, e.len);
    else
        kl_cache_abandon(slot->ticket, e.err ? e.err : KL_ETOOBIG);
    slot->ticket = NULL;
}
