/* SPDX-License-Identifier: BSD-3-Clause */
/* Keys the way Python klepto's tests write them (see pykeys.h). */
#include "pykeys.h"

#include "testutil.h"

#include "klepto/error.h"

#include <stdlib.h>
#include <string.h>

int kt_keymap_try(kl_keymap **out, const char *kind, const char *option, bool typed, bool flat)
{
    kl_keymap_opts o = KL_KEYMAP_OPTS_INIT;
    o.typed = typed;
    o.flat = flat;
    o.algorithm = option;
    if (!strcmp(kind, "keymap"))
        o.kind = KL_KEYMAP_RAW;
    else if (!strcmp(kind, "hashmap"))
        o.kind = KL_KEYMAP_HASH;
    else if (!strcmp(kind, "stringmap"))
        o.kind = KL_KEYMAP_STRING;
    else if (!strcmp(kind, "picklemap"))
        o.kind = KL_KEYMAP_PICKLE;
    else
        fail_msg("pykeys: no keymap kind '%s'", kind);
    return kl_keymap_new(out, &o);
}

kl_keymap *kt_keymap(const char *kind, const char *option, bool typed, bool flat)
{
    kl_keymap *km = NULL;
    KT_OK(kt_keymap_try(&km, kind, option, typed, flat));
    return km;
}

kl_keymap *kt_chain(kl_keymap *a, kl_keymap *b)
{
    kl_keymap *c = NULL;
    KT_OK(kl_keymap_chain(&c, b, a));
    return c;
}

kl_keygen *kt_keygen(const char *sig, const kl_keymap *km, const char *ignore, int tol,
                     kl_rounding rounding)
{
    kl_signature *s = NULL;
    if (sig)
        KT_OK(kl_signature_parse(&s, sig));
    kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
    go.ignore = ignore;
    go.tol = tol;
    go.rounding = rounding;
    kl_keygen *kg = NULL;
    KT_OK(kl_keygen_new(&kg, s, km, &go));
    kl_signature_free(s);
    return kg;
}

int kt_key_bytes(const kl_keygen *kg, const kl_value *args, const kl_value *kwargs, kl_buf *out)
{
    if (args->type != KL_ARRAY)
        fail_msg("pykeys: args must be a tuple");
    size_t nk = kwargs ? kwargs->u.m.len : 0;
    const char **names = calloc(nk + 1, sizeof *names);
    kl_value *named = calloc(nk + 1, sizeof *named);
    char **owned = calloc(nk + 1, sizeof *owned);
    assert_non_null(names);
    assert_non_null(named);
    assert_non_null(owned);
    for (size_t i = 0; i < nk; i++) {
        const kl_value *k = &kwargs->u.m.items[2 * i];
        if (k->type != KL_TEXT)
            fail_msg("pykeys: kwargs keys must be text");
        owned[i] = strndup(k->u.s.ptr, k->u.s.len);
        names[i] = owned[i];
        named[i] = kwargs->u.m.items[2 * i + 1];
    }
    kl_call call = {args->u.a.items, args->u.a.len, names, named, nk};
    int rc = kl_keygen_validate(kg, &call);
    if (!rc)
        rc = kl_keygen_key(kg, &call, out);
    for (size_t i = 0; i < nk; i++)
        free(owned[i]);
    free(owned);
    free(names);
    free(named);
    return rc;
}

kl_value kt_lit(const char *text)
{
    kl_value v;
    int rc = kl_parse(text, strlen(text), &v);
    if (rc)
        fail_msg("pykeys: cannot parse %s: %s", text, kl_errmsg());
    return v;
}

const kl_value *kt_get(const kl_value *map, const char *name)
{
    if (map->type != KL_MAP)
        return NULL;
    size_t n = strlen(name);
    for (size_t i = 0; i < map->u.m.len; i++) {
        const kl_value *k = &map->u.m.items[2 * i];
        if (k->type == KL_TEXT && k->u.s.len == n && !memcmp(k->u.s.ptr, name, n))
            return &map->u.m.items[2 * i + 1];
    }
    return NULL;
}

int kt_call_key(const kl_keygen *kg, const char *args, const char *kwargs, kl_value *out)
{
    kl_value a = kt_lit(args), k = kwargs ? kt_lit(kwargs) : kl_value_null();
    kl_buf b = KL_BUF_INIT;
    int rc = kt_key_bytes(kg, &a, kwargs ? &k : NULL, &b);
    if (!rc) {
        rc = kl_decode(b.data, b.len, out);
        if (!rc && out->type == KL_ARRAY)
            out->flags |= KL_VALUE_TUPLE;
    }
    kl_buf_free(&b);
    kl_value_free(&a);
    kl_value_free(&k);
    return rc;
}

char *kt_key_repr(const kl_keygen *kg, const char *args, const char *kwargs)
{
    kl_value v;
    KT_OK(kt_call_key(kg, args, kwargs, &v));
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_repr(&b, &v));
    kl_value_free(&v);
    char *s = strndup((const char *)b.data, b.len);
    kl_buf_free(&b);
    return s;
}

char *kt_keymap_call_repr(const kl_keymap *km, const char *args, const char *kwargs)
{
    kl_keygen *kg = kt_keygen(NULL, km, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    char *s = kt_key_repr(kg, args, kwargs);
    kl_keygen_free(kg);
    return s;
}
