/* SPDX-License-Identifier: BSD-3-Clause */
/* Keymaps: a normalised call -> key bytes (raw, hash, string, pickle).
 *
 * Every keymap first lays the call out the way Python klepto's keymap does
 * (flat: *varargs, [sentinel], name1, value1, …, and for typed keys
 * [sentinel] types of the varargs, [sentinel] types of the named values;
 * non-flat: (varargs, {names: values}[, vararg types, named types])), then
 * either encodes that layout canonically or renders it as Python's repr()
 * would.  The layout is a short list of borrowed items, built on the stack
 * for ordinary calls. */
#define _GNU_SOURCE /* qsort_r */
#include "internal.h"
#include "klepto/digest.h"
#include "pyencoding.h"
#include "klepto/keymap.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum { HASH_XXH3_128, HASH_XXH3_64, HASH_NAMED };
enum { PICKLE_CBOR, PICKLE_JSON, PICKLE_REPR };

struct kl_keymap {
    kl_keymap_opts opts; /* algorithm and sentinel point at our copies */
    char *algorithm;
    kl_value sentinel;
    int variant; /* HASH_*, PICKLE_* or kl__strenc */
    int codec;   /* string: the Python codec of KL__STRENC_CODEC */
    kl_digest *digest;
    kl_keymap *outer, *inner; /* both set for a chained keymap */
};

/* ---- creation -------------------------------------------------------- */

static int set_variant(kl_keymap *km)
{
    const char *a = km->opts.algorithm;
    switch (km->opts.kind) {
    case KL_KEYMAP_RAW:
        if (a)
            return kl_seterr(KL_EINVAL, "keymap raw: takes no algorithm (got '%s')", a);
        return 0;
    case KL_KEYMAP_HASH:
        if (!a || !strcmp(a, "xxh3") || !strcmp(a, "xxh3-128") || !strcmp(a, "xxh128"))
            km->variant = HASH_XXH3_128;
        else if (!strcmp(a, "xxh3-64"))
            km->variant = HASH_XXH3_64;
        else if (kl_digest_known(a)) {
            km->variant = HASH_NAMED;
            return kl_digest_open(&km->digest, a);
        } else
            return kl_seterr(KL_EINVAL,
                             "keymap hash: unknown algorithm '%s' (known: xxh3, xxh3-64, md5, "
                             "sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-512, "
                             "blake2b512, blake2s256)",
                             a);
        return 0;
    case KL_KEYMAP_STRING: {
        kl__strenc kind;
        int rc = kl__strenc_find(a, &kind, &km->codec);
        km->variant = (int)kind;
        return rc;
    }
    case KL_KEYMAP_PICKLE:
        if (!a || !strcmp(a, "cbor"))
            km->variant = PICKLE_CBOR;
        else if (!strcmp(a, "json") && km->opts.typed)
            return kl_seterr(KL_EINVAL,
                             "keymap pickle: typed keys cannot be JSON (klepto's json.dumps "
                             "refuses the type objects: not JSON serializable)");
        else if (!strcmp(a, "json"))
            km->variant = PICKLE_JSON;
        else if (!strcmp(a, "repr"))
            km->variant = PICKLE_REPR;
        else
            return kl_seterr(KL_EINVAL,
                             "keymap pickle: unknown serializer '%s' (known: cbor, json, repr)",
                             a);
        return 0;
    }
    return kl_seterr(KL_EINVAL, "keymap: unknown kind %d", (int)km->opts.kind);
}

int kl_keymap_new(kl_keymap **out, const kl_keymap_opts *opts)
{
    kl_keymap_opts def = KL_KEYMAP_OPTS_INIT;
    if (!out)
        return kl_seterr(KL_EINVAL, "kl_keymap_new: NULL out");
    if (!opts)
        opts = &def;
    int vrc = kl__opts_version_check(opts->version, KL_KEYMAP_OPTS_VERSION, "keymap");
    if (vrc)
        return vrc;
    kl_keymap *km = calloc(1, sizeof *km);
    if (!km)
        return kl_seterr(KL_ENOMEM, "out of memory creating a keymap");
    km->opts = *opts;
    km->opts.sentinel = NULL;
    int rc = 0;
    if (opts->algorithm && !(km->algorithm = strdup(opts->algorithm))) {
        rc = kl_seterr(KL_ENOMEM, "out of memory creating a keymap");
        goto fail;
    }
    km->opts.algorithm = km->algorithm;
    if (opts->sentinel) {
        if ((rc = kl_value_copy(&km->sentinel, opts->sentinel)))
            goto fail;
        km->opts.sentinel = &km->sentinel;
    }
    if ((rc = set_variant(km)))
        goto fail;
    *out = km;
    return 0;
fail:
    kl_keymap_free(km);
    return rc;
}

int kl_keymap_chain(kl_keymap **out, kl_keymap *outer, kl_keymap *inner)
{
    if (!out || !outer || !inner || outer == inner)
        return kl_seterr(KL_EINVAL, "kl_keymap_chain: needs two distinct keymaps");
    if (outer->outer)
        return kl_seterr(KL_EINVAL,
                         "kl_keymap_chain: the outer keymap is itself a chain (klepto's "
                         "a + (b + c) silently drops b); chain as (a + b) + c");
    if (outer->opts.typed)
        return kl_seterr(KL_EINVAL,
                         "kl_keymap_chain: a typed outer keymap is not supported (its type "
                         "markers would reach the inner keymap as text, not as klepto's types)");
    if (inner->opts.typed && inner->opts.kind == KL_KEYMAP_RAW)
        return kl_seterr(KL_EINVAL,
                         "kl_keymap_chain: a typed raw inner keymap is not supported (its type "
                         "markers would reach the outer keymap as text, not as klepto's types)");
    kl_keymap *km = calloc(1, sizeof *km);
    if (!km)
        return kl_seterr(KL_ENOMEM, "out of memory chaining keymaps");
    km->opts = outer->opts;
    km->variant = outer->variant;
    km->codec = outer->codec;
    km->outer = outer;
    km->inner = inner;
    *out = km;
    return 0;
}

const kl_keymap *kl_keymap_outer(const kl_keymap *km) { return km ? km->outer : NULL; }
const kl_keymap *kl_keymap_inner(const kl_keymap *km) { return km ? km->inner : NULL; }
const kl_keymap_opts *kl_keymap_options(const kl_keymap *km) { return &km->opts; }

void kl_keymap_free(kl_keymap *km)
{
    if (!km)
        return;
    kl_keymap_free(km->outer);
    kl_keymap_free(km->inner);
    kl_digest_free(km->digest);
    kl_value_free(&km->sentinel);
    free(km->algorithm);
    free(km);
}

/* ---- the layout of a key ---------------------------------------------- */

enum { IT_VALUE, IT_NAME, IT_TYPE, IT_SENTINEL };

typedef struct item {
    int kind;
    const kl_value *v; /* IT_VALUE, IT_SENTINEL, IT_TYPE (the typed value) */
    const char *s;     /* IT_NAME */
} item;

#define STACK_ITEMS 48

/* Python's type name of a value, as type(v) shows it. */
static const char *type_name(const kl_value *v)
{
    switch ((kl_type)v->type) {
    case KL_NULL: return "NoneType";
    case KL_BOOL: return "bool";
    case KL_INT: return "int";
    case KL_FLOAT: return "float";
    case KL_TEXT: return "str";
    case KL_BYTES: return "bytes";
    case KL_ARRAY: return (v->flags & KL_VALUE_TUPLE) ? "tuple" : "list";
    case KL_MAP: return "dict";
    case KL_NDARRAY: return "numpy.ndarray";
    case KL_IGNORED: return "klepto._inspect._Null";
    }
    return "object";
}

/* Checks every value of the call once: known types, bounded nesting. */
static int check_value(const kl_value *v, unsigned depth, const char *what, size_t idx)
{
    if (depth > KL_DECODE_MAX_DEPTH)
        return kl_seterr(KL_ETOOBIG, "%s %zu: nested deeper than %d levels", what, idx,
                         KL_DECODE_MAX_DEPTH);
    switch ((kl_type)v->type) {
    case KL_NULL: case KL_BOOL: case KL_INT: case KL_FLOAT: case KL_IGNORED: case KL_NDARRAY:
        return 0;
    case KL_TEXT: case KL_BYTES:
        if (v->u.s.len && !v->u.s.ptr)
            return kl_seterr(KL_ETYPE, "%s %zu: text/bytes with a NULL pointer", what, idx);
        return 0;
    case KL_ARRAY:
        for (size_t i = 0; i < v->u.a.len; i++) {
            int rc = check_value(&v->u.a.items[i], depth + 1, what, idx);
            if (rc)
                return rc;
        }
        return 0;
    case KL_MAP:
        for (size_t i = 0; i < 2 * v->u.m.len; i++) {
            int rc = check_value(&v->u.m.items[i], depth + 1, what, idx);
            if (rc)
                return rc;
        }
        return 0;
    }
    return kl_seterr(KL_ETYPE, "%s %zu: unknown value type %d", what, idx, (int)v->type);
}

/* Arguments sit two or three levels down in a key (tuple, and the kwds
 * map of non-flat keys): counting from here keeps every key decodable. */
#define ARG_DEPTH 3

static int check_call(const kl_ncall *c)
{
    if ((c->nvarargs && !c->varargs) || (c->nnamed && (!c->names || !c->values)))
        return kl_seterr(KL_EINVAL, "keymap: call with NULL arrays");
    for (size_t i = 0; i < c->nvarargs; i++) {
        int rc = check_value(&c->varargs[i], ARG_DEPTH, "positional argument", i);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < c->nnamed; i++) {
        if (!c->names[i])
            return kl_seterr(KL_EINVAL, "keymap: named argument %zu has a NULL name", i);
        int rc = check_value(&c->values[i], ARG_DEPTH, "named argument", i);
        if (rc)
            return kl_seterr_prefix(rc, "argument '%s'", c->names[i]);
    }
    return 0;
}

/* The number of items in the flat layout of a call. */
static size_t flat_count(const kl_keymap *km, const kl_ncall *c)
{
    bool s = km->opts.sentinel != NULL;
    size_t n = c->nvarargs + 2 * c->nnamed + (s && c->nnamed);
    if (km->opts.typed)
        n += (size_t)s + c->nvarargs + (c->nnamed ? (size_t)s + c->nnamed : 0);
    return n;
}

/* Lays a call out flat into it[] (flat_count items); returns the count. */
static size_t flat_items(const kl_keymap *km, const kl_ncall *c, item *it)
{
    const kl_value *s = km->opts.sentinel;
    size_t n = 0;
    for (size_t i = 0; i < c->nvarargs; i++)
        it[n++] = (item){IT_VALUE, &c->varargs[i], NULL};
    if (c->nnamed && s)
        it[n++] = (item){IT_SENTINEL, s, NULL};
    for (size_t i = 0; i < c->nnamed; i++) {
        it[n++] = (item){IT_NAME, NULL, c->names[i]};
        it[n++] = (item){IT_VALUE, &c->values[i], NULL};
    }
    if (km->opts.typed) {
        if (s)
            it[n++] = (item){IT_SENTINEL, s, NULL};
        for (size_t i = 0; i < c->nvarargs; i++)
            it[n++] = (item){IT_TYPE, &c->varargs[i], NULL};
        if (c->nnamed) {
            if (s)
                it[n++] = (item){IT_SENTINEL, s, NULL};
            for (size_t i = 0; i < c->nnamed; i++)
                it[n++] = (item){IT_TYPE, &c->values[i], NULL};
        }
    }
    return n;
}

/* Python klepto returns the lone item of an untyped flat key itself when
 * its type is int, str, bytes or None; a lone float or bool stays a
 * 1-tuple.  So f(1) is the key 1 while f(1.0) and f(True) are the key
 * (1,) (untyped raw keys encode 1.0 and True as 1): in Python 1 != (1.0,)
 * but (1.0,) == (True,), and klepto's keys match exactly then. */
static bool lone_item(const kl_keymap *km, const item *it, size_t n)
{
    if (km->opts.typed || n != 1 || it[0].kind != IT_VALUE)
        return false;
    switch ((kl_type)it[0].v->type) {
    case KL_INT: case KL_TEXT: case KL_BYTES: case KL_NULL: return true;
    default: return false;
    }
}

/* Allocates the item array for a call, on the stack when it is small. */
typedef struct layout {
    item stack[STACK_ITEMS];
    item *it;
    size_t n;
} layout;

static int layout_flat(const kl_keymap *km, const kl_ncall *c, layout *L)
{
    size_t n = flat_count(km, c);
    L->it = L->stack;
    if (n > STACK_ITEMS) {
        if (n > KL_KEY_MAX)
            return kl_seterr(KL_ETOOBIG, "key of %zu items exceeds the key size limit", n);
        L->it = malloc(n * sizeof *L->it);
        if (!L->it)
            return kl_seterr(KL_ENOMEM, "out of memory laying out a key of %zu items", n);
    }
    L->n = flat_items(km, c, L->it);
    return 0;
}

static void layout_free(layout *L)
{
    if (L->it != L->stack)
        free(L->it);
}

/* ---- the layout as a value tree ------------------------------------------ */

/* The layout as a borrowed value tree (types and names as text), for the
 * JSON serializer and for kl_encode.  Only what tree_free releases is
 * allocated here; the call's values are shallow copies marked borrowed. */
typedef struct tree {
    kl_value root;
    kl_value parts[4];
    kl_value *vals;
    char (*tn)[48];
} tree;

static kl_value borrow(const kl_value *v, bool ignored_as_null)
{
    if (ignored_as_null && v->type == KL_IGNORED)
        return kl_value_null();
    kl_value r = *v;
    r.flags |= KL_VALUE_BORROWED;
    return r;
}

static void tree_free(tree *t)
{
    free(t->vals);
    free(t->tn);
}

static int layout_tree(const kl_keymap *km, const kl_ncall *c, tree *t, bool ignored_as_null)
{
    int rc = 0;
    memset(t, 0, sizeof *t);
    if (km->opts.flat) {
        layout L;
        if ((rc = layout_flat(km, c, &L)))
            return rc;
        size_t n = L.n;
        t->vals = calloc(n ? n : 1, sizeof *t->vals);
        t->tn = calloc(n ? n : 1, sizeof *t->tn);
        if (!t->vals || !t->tn) {
            rc = kl_seterr(KL_ENOMEM, "out of memory laying out a key");
            goto flat_out;
        }
        for (size_t i = 0; i < n; i++) {
            const item *it = &L.it[i];
            switch (it->kind) {
            case IT_VALUE:
            case IT_SENTINEL: t->vals[i] = borrow(it->v, ignored_as_null); break;
            case IT_NAME: t->vals[i] = kl_value_cstr_ref(it->s); break;
            case IT_TYPE:
                snprintf(t->tn[i], sizeof t->tn[i], "<class '%s'>", type_name(it->v));
                t->vals[i] = kl_value_cstr_ref(t->tn[i]);
                break;
            }
        }
        if (lone_item(km, L.it, n))
            t->root = t->vals[0];
        else
            t->root = kl_value_array_ref(t->vals, n, true);
    flat_out:
        layout_free(&L);
        if (rc)
            tree_free(t);
        return rc;
    }
    /* (varargs, {names: values}[, (types), (types)]) */
    size_t n = c->nvarargs + 2 * c->nnamed + (km->opts.typed ? c->nvarargs + c->nnamed : 0);
    t->vals = calloc(n ? n : 1, sizeof *t->vals);
    t->tn = calloc(n ? n : 1, sizeof *t->tn);
    if (!t->vals || !t->tn) {
        tree_free(t);
        return kl_seterr(KL_ENOMEM, "out of memory laying out a key");
    }
    size_t k = 0;
    for (size_t i = 0; i < c->nvarargs; i++)
        t->vals[k++] = borrow(&c->varargs[i], ignored_as_null);
    for (size_t i = 0; i < c->nnamed; i++) {
        t->vals[k++] = kl_value_cstr_ref(c->names[i]);
        t->vals[k++] = borrow(&c->values[i], ignored_as_null);
    }
    t->parts[0] = kl_value_array_ref(t->vals, c->nvarargs, true);
    t->parts[1] = kl_value_null();
    t->parts[1].type = KL_MAP;
    t->parts[1].flags = KL_VALUE_BORROWED;
    t->parts[1].u.m.items = t->vals + c->nvarargs;
    t->parts[1].u.m.len = t->parts[1].u.m.cap = c->nnamed;
    size_t np = 2;
    if (km->opts.typed) {
        size_t t0 = k;
        for (size_t i = 0; i < c->nvarargs; i++, k++) {
            snprintf(t->tn[k], sizeof t->tn[k], "<class '%s'>", type_name(&c->varargs[i]));
            t->vals[k] = kl_value_cstr_ref(t->tn[k]);
        }
        for (size_t i = 0; i < c->nnamed; i++, k++) {
            snprintf(t->tn[k], sizeof t->tn[k], "<class '%s'>", type_name(&c->values[i]));
            t->vals[k] = kl_value_cstr_ref(t->tn[k]);
        }
        t->parts[2] = kl_value_array_ref(t->vals + t0, c->nvarargs, true);
        t->parts[3] = kl_value_array_ref(t->vals + t0 + c->nvarargs, c->nnamed, true);
        np = 4;
    }
    t->root = kl_value_array_ref(t->parts, np, true);
    return 0;
}

/* ---- canonical encoding of the layout ----------------------------------- */

static void enc_type(kl_enc *e, const kl_value *v)
{
    char t[64];
    int n = snprintf(t, sizeof t, "<class '%s'>", type_name(v));
    kl_enc_text(e, t, (size_t)n);
}

static void enc_item_value(kl_enc *e, const kl_value *v)
{
    if (v->type == KL_IGNORED)
        kl_enc_undefined(e);
    else
        kl_enc_value(e, v);
}

static void enc_item(kl_enc *e, const item *it)
{
    switch (it->kind) {
    case IT_VALUE: enc_item_value(e, it->v); break;
    case IT_SENTINEL: kl_enc_value(e, it->v); break;
    case IT_NAME: kl_enc_text(e, it->s, strlen(it->s)); break;
    case IT_TYPE: enc_type(e, it->v); break;
    }
}

/* Canonical map order for text keys: shorter encodings first, then bytes. */
static int name_order(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return memcmp(a, b, la);
}

static int by_map_order(const void *a, const void *b, void *names)
{
    const char *const *n = names;
    return name_order(n[*(const size_t *)a], n[*(const size_t *)b]);
}

/* The named values' indices in canonical map order (stack when small). */
static int sorted_name_index(const kl_ncall *c, size_t **out, size_t *stack, size_t nstack)
{
    size_t *ix = stack;
    if (c->nnamed > nstack) {
        ix = malloc(c->nnamed * sizeof *ix);
        if (!ix)
            return kl_seterr(KL_ENOMEM, "out of memory sorting %zu names", c->nnamed);
    }
    for (size_t i = 0; i < c->nnamed; i++)
        ix[i] = i;
    qsort_r(ix, c->nnamed, sizeof *ix, by_map_order, (void *)c->names);
    *out = ix;
    return 0;
}

/* The key layout, canonically encoded, into e.  numeric_eq: untyped. */
static int encode_layout(const kl_keymap *km, const kl_ncall *c, kl_enc *e)
{
    if (km->opts.flat) {
        layout L;
        int rc = layout_flat(km, c, &L);
        if (rc)
            return rc;
        if (lone_item(km, L.it, L.n)) {
            enc_item(e, &L.it[0]);
        } else {
            kl_enc_array_head(e, L.n);
            for (size_t i = 0; i < L.n; i++)
                enc_item(e, &L.it[i]);
        }
        layout_free(&L);
        return 0;
    }
    size_t stack[32] = {0}, *ix = stack;
    int rc = sorted_name_index(c, &ix, stack, 32);
    if (rc)
        return rc;
    kl_enc_array_head(e, km->opts.typed ? 4 : 2);
    kl_enc_array_head(e, c->nvarargs);
    for (size_t i = 0; i < c->nvarargs; i++)
        enc_item_value(e, &c->varargs[i]);
    kl_enc_map_head(e, c->nnamed);
    for (size_t i = 0; i < c->nnamed; i++) {
        kl_enc_text(e, c->names[ix[i]], strlen(c->names[ix[i]]));
        enc_item_value(e, &c->values[ix[i]]);
    }
    if (km->opts.typed) {
        kl_enc_array_head(e, c->nvarargs);
        for (size_t i = 0; i < c->nvarargs; i++)
            enc_type(e, &c->varargs[i]);
        kl_enc_array_head(e, c->nnamed);
        for (size_t i = 0; i < c->nnamed; i++)
            enc_type(e, &c->values[i]);
    }
    if (ix != stack)
        free(ix);
    return 0;
}

/* Encodes the layout into buf.  Sorting the keys of nested maps needs
 * scratch room past the encoding; when a small buffer lacks it, encode the
 * layout's value tree with kl_encode (which sizes its own buffer) to learn
 * the real length, and hand the bytes over if they fit. */
static int encode_into(const kl_keymap *km, const kl_ncall *c, unsigned flags, void *buf,
                       size_t cap, size_t *len)
{
    kl_enc e;
    kl_enc_init(&e, buf, cap, flags);
    int rc = encode_layout(km, c, &e);
    if (rc)
        return rc;
    size_t n = e.len;
    if (e.err == KL_ETOOBIG) {
        tree t;
        if ((rc = layout_tree(km, c, &t, false)))
            return rc;
        kl_buf h = KL_BUF_INIT;
        rc = kl_encode(&h, &t.root, flags);
        tree_free(&t);
        if (!rc && h.len <= cap)
            memcpy(buf, h.data, h.len);
        n = h.len;
        kl_buf_free(&h);
        if (rc)
            return kl_seterr_prefix(rc, "key cannot be encoded");
    } else if (e.err) {
        return kl_seterr_prefix(e.err, "key cannot be encoded");
    }
    if (n > KL_KEY_MAX)
        return kl_seterr(KL_ETOOBIG, "key of %zu bytes exceeds the limit of %u bytes", n,
                         KL_KEY_MAX);
    *len = n;
    return 0;
}

/* The encoding of the layout into a heap buffer. */
static int encode_heap(const kl_keymap *km, const kl_ncall *c, unsigned flags, kl_buf *b)
{
    size_t need = 0, room = 256;
    for (;;) {
        int rc = kl_buf_reserve(b, room);
        if (rc)
            return rc;
        rc = encode_into(km, c, flags, b->data + b->len, b->cap - b->len, &need);
        if (rc)
            return rc;
        if (need <= b->cap - b->len) {
            b->len += need;
            return 0;
        }
        room = need;
    }
}

/* ---- Python repr() of the layout -------------------------------------- */

static int repr_type(kl_buf *b, const kl_value *v)
{
    return kl_buf_printf(b, "<class '%s'>", type_name(v));
}

static int repr_value(kl_buf *b, const kl_value *v)
{
    if (v->type == KL_FLOAT)
        return kl_repr_double(b, v->u.f);
    if (v->type == KL_IGNORED)
        return kl_buf_append(b, "NULL", 4);
    return kl_repr(b, v);
}

/* Length of s when it is made of ASCII letters, digits and '_' only (what
 * Python's repr() quotes as is), else 0. */
static size_t plain_name_len(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return 0;
    }
    return n;
}

/* repr() of a name: the usual identifier is quoted directly, anything
 * else goes through kl_repr. */
static int repr_name(kl_buf *b, const char *s)
{
    size_t n = plain_name_len(s);
    if (n) {
        int rc = kl_buf_reserve(b, n + 2);
        if (rc)
            return rc;
        b->data[b->len] = '\'';
        memcpy(b->data + b->len + 1, s, n);
        b->data[b->len + 1 + n] = '\'';
        b->len += n + 2;
        return 0;
    }
    kl_value t = kl_value_cstr_ref(s);
    return kl_repr(b, &t);
}

static int repr_item(kl_buf *b, const item *it)
{
    switch (it->kind) {
    case IT_VALUE: return repr_value(b, it->v);
    case IT_SENTINEL: return kl_repr(b, it->v);
    case IT_NAME: return repr_name(b, it->s);
    case IT_TYPE: return repr_type(b, it->v);
    }
    return KL_EINVAL;
}

/* A tuple of n things rendered by f(i): "()", "(a,)", "(a, b)". */
#define REPR_TUPLE(b, n, EXPR)                                                              \
    do {                                                                                    \
        if ((rc = kl_buf_append(b, "(", 1)))                                                \
            goto out;                                                                       \
        for (size_t i = 0; i < (n); i++) {                                                  \
            if (i && (rc = kl_buf_append(b, ", ", 2)))                                      \
                goto out;                                                                   \
            if ((rc = (EXPR)))                                                              \
                goto out;                                                                   \
        }                                                                                   \
        if ((rc = kl_buf_append(b, (n) == 1 ? ",)" : ")", (n) == 1 ? 2 : 1)))               \
            goto out;                                                                       \
    } while (0)

/* repr(key) or, for as_str, str(key) (which differs only for a lone text
 * item: str() gives the text itself, without quotes). */
static int repr_flat(const kl_keymap *km, const kl_ncall *c, kl_buf *b, bool as_str)
{
    layout L;
    int rc = layout_flat(km, c, &L);
    if (rc)
        return rc;
    if (lone_item(km, L.it, L.n)) {
        const kl_value *v = L.it[0].v;
        if (as_str && v->type == KL_TEXT)
            rc = kl_buf_append(b, v->u.s.ptr, v->u.s.len);
        else
            rc = repr_item(b, &L.it[0]);
    } else {
        REPR_TUPLE(b, L.n, repr_item(b, &L.it[i]));
    }
out:
    layout_free(&L);
    return rc;
}

static int repr_layout(const kl_keymap *km, const kl_ncall *c, kl_buf *b, bool as_str)
{
    if (km->opts.flat)
        return repr_flat(km, c, b, as_str);
    /* (varargs, {name: value, …}[, (types…), (types…)]) */
    int rc;
    if ((rc = kl_buf_append(b, "(", 1)))
        return rc;
    REPR_TUPLE(b, c->nvarargs, repr_value(b, &c->varargs[i]));
    if ((rc = kl_buf_append(b, ", {", 3)))
        return rc;
    for (size_t i = 0; i < c->nnamed; i++) {
        if (i && (rc = kl_buf_append(b, ", ", 2)))
            return rc;
        if ((rc = repr_name(b, c->names[i])) || (rc = kl_buf_append(b, ": ", 2)) ||
            (rc = repr_value(b, &c->values[i])))
            return rc;
    }
    if ((rc = kl_buf_append(b, "}", 1)))
        return rc;
    if (km->opts.typed) {
        if ((rc = kl_buf_append(b, ", ", 2)))
            return rc;
        REPR_TUPLE(b, c->nvarargs, repr_type(b, &c->varargs[i]));
        if ((rc = kl_buf_append(b, ", ", 2)))
            return rc;
        REPR_TUPLE(b, c->nnamed, repr_type(b, &c->values[i]));
    }
    rc = kl_buf_append(b, ")", 1);
out:
    return rc;
}

static int json_layout(const kl_keymap *km, const kl_ncall *c, kl_buf *b)
{
    tree t;
    int rc = layout_tree(km, c, &t, true);
    if (rc)
        return rc;
    rc = kl_json(b, &t.root);
    tree_free(&t);
    return rc;
}

/* ---- a per-thread scratch buffer -------------------------------------- */

/* Text keys are rendered into a buffer each thread keeps, so building one
 * costs no allocation once the thread has built a key before.  Freed when
 * the thread exits (the main thread's at exit), trimmed after a big key. */
typedef struct scratch {
    kl_buf b;
    bool busy;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

static void scratch_destroy(void *p)
{
    scratch *s = p;
    kl_buf_free(&s->b);
    free(s);
}

static void scratch_at_exit(void)
{
    scratch *s = pthread_getspecific(scratch_key);
    if (s) {
        pthread_setspecific(scratch_key, NULL);
        scratch_destroy(s);
    }
}

static void scratch_init(void)
{
    scratch_ok = pthread_key_create(&scratch_key, scratch_destroy) == 0 &&
                 atexit(scratch_at_exit) == 0;
}

/* The thread's scratch buffer, emptied; NULL when there is none to be had
 * (the caller then uses a buffer of its own). */
static scratch *scratch_take(void)
{
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_ok)
        return NULL;
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->busy)
        return NULL;
    s->busy = true;
    kl_buf_reset(&s->b);
    return s;
}

static void scratch_give(scratch *s)
{
    if (s->b.cap > 64 * 1024)
        kl_buf_free(&s->b);
    s->busy = false;
}

/* ---- the key ------------------------------------------------------------- */

/* Writes one CBOR text or bytes item holding p[0..n) into buf. */
static int put_string(bool text, const void *p, size_t n, void *buf, size_t cap, size_t *len)
{
    kl_enc e;
    kl_enc_init(&e, buf, cap, 0);
    if (text)
        kl_enc_text(&e, p, n);
    else
        kl_enc_bytes(&e, p, n);
    if (e.err)
        return kl_seterr_prefix(e.err, "key cannot be encoded");
    if (e.len > KL_KEY_MAX)
        return kl_seterr(KL_ETOOBIG, "key of %zu bytes exceeds the limit of %u bytes", e.len,
                         KL_KEY_MAX);
    *len = e.len;
    return 0;
}

/* A string keymap's key from the rendered text in *t: the text itself
 * (str, repr), its ascii() form, or its bytes in the named codec. */
static int string_finish(const kl_keymap *km, kl_buf *t, void *buf, size_t cap, size_t *len)
{
    if (km->variant == KL__STRENC_STR || km->variant == KL__STRENC_REPR)
        return put_string(true, t->data, t->len, buf, cap, len);
    kl_buf o = KL_BUF_INIT;
    int rc = km->variant == KL__STRENC_ASCII ? kl__ascii_escape((const char *)t->data, t->len, &o)
                                             : kl__codec_encode(km->codec, (const char *)t->data, t->len, &o);
    if (!rc)
        rc = put_string(km->variant == KL__STRENC_ASCII, o.data, o.len, buf, cap, len);
    kl_buf_free(&o);
    return rc;
}

/* Writes already encoded key bytes into buf (a raw key of a chain). */
static int put_raw_key(const kl_buf *b, void *buf, size_t cap, size_t *len)
{
    if (b->len > KL_KEY_MAX)
        return kl_seterr(KL_ETOOBIG, "key of %zu bytes exceeds the limit of %u bytes", b->len,
                         KL_KEY_MAX);
    if (b->len <= cap && b->len)
        memcpy(buf, b->data, b->len);
    *len = b->len;
    return 0;
}

/* What a keymap's encoding makes of one value as it is (klepto's hash(),
 * string() or pickle() of a key), without laying out a call: the last step
 * of a chained keymap. */
static int bare_key_into(const kl_keymap *km, const kl_value *v, void *buf, size_t cap,
                         size_t *len)
{
    unsigned eq = km->opts.typed ? KL_ENC_ZERO_EQ : KL_ENC_NUMERIC_EQ;
    kl_buf b = KL_BUF_INIT;
    char hex[KL_DIGEST_HEX_MAX];
    int rc;
    switch (km->opts.kind) {
    case KL_KEYMAP_RAW:
        if (!(rc = kl_encode(&b, v, eq)))
            rc = put_raw_key(&b, buf, cap, len);
        break;
    case KL_KEYMAP_HASH:
        if (km->variant == HASH_NAMED) {
            if (!(rc = kl_repr(&b, v)))
                rc = kl_digest_hex(km->digest, b.data, b.len, hex, sizeof hex);
        } else if (!(rc = kl_encode(&b, v, eq))) {
            if (km->variant == HASH_XXH3_128)
                kl_xxh3_128_hex(kl_xxh3_128(b.data, b.len), hex);
            else
                kl_xxh3_64_hex(kl_xxh3_64(b.data, b.len), hex);
        }
        if (!rc)
            rc = put_string(true, hex, strlen(hex), buf, cap, len);
        break;
    case KL_KEYMAP_STRING:
        if (km->variant == KL__STRENC_STR && v->type == KL_TEXT)
            rc = kl_buf_append(&b, v->u.s.ptr, v->u.s.len);
        else
            rc = kl_repr(&b, v);
        if (!rc)
            rc = string_finish(km, &b, buf, cap, len);
        break;
    case KL_KEYMAP_PICKLE:
        if (km->variant == PICKLE_CBOR)
            rc = kl_encode(&b, v, 0);
        else if (km->variant == PICKLE_JSON)
            rc = kl_json(&b, v);
        else
            rc = kl_repr(&b, v);
        if (!rc)
            rc = put_string(false, b.data, b.len, buf, cap, len);
        break;
    default:
        rc = kl_seterr(KL_EINVAL, "keymap: unknown kind %d", (int)km->opts.kind);
    }
    kl_buf_free(&b);
    return rc;
}

/* klepto's inner + outer: the outer keymap lays the call out, the inner
 * keymap takes that layout as its one argument, and the outer keymap's
 * encoding turns the inner key into the key (so (stringmap() +
 * hashmap(algorithm='md5'))(1, 2) is the md5 of "'((1, 2),)'"). */
static int chained_key_into(const kl_keymap *km, const kl_ncall *call, void *buf, size_t cap,
                            size_t *len)
{
    int rc = check_call(call);
    if (rc)
        return rc;
    tree t;
    if ((rc = layout_tree(km->outer, call, &t, false)))
        return rc;
    kl_ncall one = {&t.root, 1, NULL, NULL, 0};
    if (km->inner->opts.kind == KL_KEYMAP_RAW && !km->inner->outer) {
        /* a raw inner key is its layout as it is (tuples stay tuples,
         * 1.0 stays 1.0, as the Python object klepto hands on) */
        tree t2;
        if (!(rc = layout_tree(km->inner, &one, &t2, false))) {
            rc = bare_key_into(km->outer, &t2.root, buf, cap, len);
            tree_free(&t2);
        }
        tree_free(&t);
        return rc;
    }
    kl_value inner;
    rc = kl_keymap_key_value(km->inner, &one, &inner);
    tree_free(&t);
    if (rc)
        return rc;
    rc = bare_key_into(km->outer, &inner, buf, cap, len);
    kl_value_free(&inner);
    return rc;
}

int kl_keymap_key_into(const kl_keymap *km, const kl_ncall *call, void *buf, size_t cap,
                       size_t *len)
{
    if (!km || !call || !len || (cap && !buf))
        return kl_seterr(KL_EINVAL, "kl_keymap_key_into: NULL argument");
    if (km->outer)
        return chained_key_into(km, call, buf, cap, len);
    int rc = check_call(call);
    if (rc)
        return rc;
    unsigned eq = km->opts.typed ? KL_ENC_ZERO_EQ : KL_ENC_NUMERIC_EQ;
    if (km->opts.kind == KL_KEYMAP_RAW)
        return encode_into(km, call, eq, buf, cap, len);

    scratch *sc = scratch_take();
    kl_buf local = KL_BUF_INIT, *bp = sc ? &sc->b : &local;
    char hex[KL_DIGEST_HEX_MAX];
    switch (km->opts.kind) {
    case KL_KEYMAP_HASH:
        if (km->variant == HASH_NAMED) {
            if (!(rc = repr_layout(km, call, bp, false)))
                rc = kl_digest_hex(km->digest, bp->data, bp->len, hex, sizeof hex);
        } else {
            /* Most keys fit on the stack: hash them there, no allocation. */
            uint8_t small[512];
            const uint8_t *p = small;
            size_t n = 0;
            rc = encode_into(km, call, eq, small, sizeof small, &n);
            if (!rc && n > sizeof small) {
                rc = encode_heap(km, call, eq, bp);
                p = bp->data;
                n = bp->len;
            }
            if (!rc) {
                if (km->variant == HASH_XXH3_128)
                    kl_xxh3_128_hex(kl_xxh3_128(p, n), hex);
                else
                    kl_xxh3_64_hex(kl_xxh3_64(p, n), hex);
            }
        }
        if (!rc)
            rc = put_string(true, hex, strlen(hex), buf, cap, len);
        break;
    case KL_KEYMAP_STRING:
        if (!(rc = repr_layout(km, call, bp, km->variant == KL__STRENC_STR)))
            rc = string_finish(km, bp, buf, cap, len);
        break;
    case KL_KEYMAP_PICKLE:
        if (km->variant == PICKLE_CBOR)
            rc = encode_heap(km, call, 0, bp);
        else if (km->variant == PICKLE_JSON)
            rc = json_layout(km, call, bp);
        else
            rc = repr_layout(km, call, bp, false);
        if (!rc)
            rc = put_string(false, bp->data, bp->len, buf, cap, len);
        break;
    default:
        rc = kl_seterr(KL_EINVAL, "keymap: unknown kind %d", (int)km->opts.kind);
    }
    if (sc)
        scratch_give(sc);
    kl_buf_free(&local);
    return rc;
}

static int keymap_into(const void *km, const void *call, void *buf, size_t cap, size_t *need)
{
    return kl_keymap_key_into(km, call, buf, cap, need);
}

int kl_keymap_key(const kl_keymap *km, const kl_ncall *call, kl_buf *out)
{
    if (!out)
        return kl_seterr(KL_EINVAL, "kl_keymap_key: NULL out");
    return kl__buf_fill(out, keymap_into, km, call);
}

int kl_keymap_key_value(const kl_keymap *km, const kl_ncall *call, kl_value *out)
{
    if (!out)
        return kl_seterr(KL_EINVAL, "kl_keymap_key_value: NULL out");
    kl_buf b = KL_BUF_INIT;
    int rc = kl_keymap_key(km, call, &b);
    if (!rc) {
        kl_value v;
        rc = kl_decode(b.data, b.len, &v);
        if (!rc) {
            if (v.type == KL_ARRAY)
                v.flags |= KL_VALUE_TUPLE; /* keys are tuples */
            *out = v;
        }
    }
    kl_buf_free(&b);
    return rc;
}
