/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows Python klepto's klepto/tests/test_workflow.py: a memoized adder
 * (lru, hashmap(algorithm='md5'), ignore=('self','**')), its statistics,
 * its cache (__cache__), key and lookup; keygen used on its own (key,
 * valid, call); an inf_cache with a repeated call.
 *
 * Translated:
 *   test_adder   — the method Adder.__call__(self, x, *args, **kwds) is a
 *                  memo of f(x, *args, **kwds) ignoring "**": C has no
 *                  bound methods, so there is no self to pass (klepto
 *                  removes an ignored self of a bound method from the key,
 *                  which makes its keys those of the plain function; the
 *                  md5 keys below are klepto's).  The two instances (add,
 *                  plus) share one memo, as they share klepto's.
 *                  __cache__() is kl_memo_foreach, key() kl_memo_key,
 *                  lookup() kl_memo_lookup, __wrapped__ a direct call.
 *   test_memoize — the same function memoized, and keygen('self','**')
 *                  with the hasher registered: kl_keygen_key,
 *                  kl_keygen_validate (valid()), a direct call (call()).
 *   test_foo     — inf_cache(ignore='self') over bar(self, x, y), again
 *                  without self; keygen('self') returning the plain key
 *                  ('x', 1, 'y', 2) is asserted on the raw keymap's key.
 * Not applicable: printing under debug=True (the flag is an ignored
 * keyword here as there).
 */
#include "testutil.h"

#include <stdlib.h>

#include "klepto.h"

static int ncalls;

/* sum((x,) + args); keywords are accepted and ignored by the key */
static int add_fn(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    ncalls++;
    int64_t sum = 0;
    for (size_t i = 0; i < call->npos; i++)
        sum += call->pos[i].u.i;
    for (size_t i = 0; i < call->nnamed; i++)
        if (!strcmp(call->names[i], "x"))
            sum += call->named[i].u.i;
    *out = kl_value_int(sum);
    return 0;
}

static kl_memo *new_adder(void)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, *args, **kwds";
    o.ignore = "self,**";
    o.keymap.kind = KL_KEYMAP_HASH;
    o.keymap.algorithm = "md5";
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "Adder.__call__", add_fn, NULL, &o));
    return m;
}

/* One call: up to 3 positional ints, and optionally one keyword. */
typedef struct args {
    kl_value pos[3], named[1];
    const char *names[1];
    kl_call call;
} args;

static const kl_call *mk(args *a, size_t npos, const int64_t *pos, const char *kw, kl_value kv)
{
    for (size_t i = 0; i < npos; i++)
        a->pos[i] = kl_value_int(pos[i]);
    a->names[0] = kw;
    a->named[0] = kv;
    a->call = (kl_call){a->pos, npos, a->names, a->named, kw ? 1 : 0};
    return &a->call;
}

static int64_t run(kl_memo *m, const kl_call *c)
{
    kl_value r;
    KT_OK(kl_memo_call(m, c, &r));
    assert_int_equal(r.type, KL_INT);
    return r.u.i;
}

#define P(...) ((const int64_t[]){__VA_ARGS__})
#define CALL(m, n, pos, kw, kv) run(m, mk(&a, n, pos, kw, kv))

typedef struct cache_copy {
    int64_t values[16];
    char keys[16][40];
    size_t n;
} cache_copy;

static int copy_entry(void *ctx, const kl_memo_entry *e)
{
    cache_copy *c = ctx;
    assert_true(c->n < 16);
    assert_int_equal(e->args->type, KL_TEXT); /* a hashmap key: hex text */
    assert_true(e->args->u.s.len < sizeof c->keys[0]);
    memcpy(c->keys[c->n], e->args->u.s.ptr, e->args->u.s.len);
    c->keys[c->n][e->args->u.s.len] = 0;
    c->values[c->n++] = e->value->u.i;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The value __cache__()[key] holds, or -1. */
static int64_t cache_at(const cache_copy *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->keys[i], key))
            return c->values[i];
    return -1;
}

static void key_text(kl_memo *m, const kl_call *call, char *out, size_t cap)
{
    kl_buf k = KL_BUF_INIT;
    KT_OK(kl_memo_key(m, call, &k));
    kl_value v;
    KT_OK(kl_decode(k.data, k.len, &v));
    assert_int_equal(v.type, KL_TEXT);
    assert_true(v.u.s.len < cap);
    memcpy(out, v.u.s.ptr, v.u.s.len);
    out[v.u.s.len] = 0;
    kl_value_free(&v);
    kl_buf_free(&k);
}

/* klepto's md5 keys of the five distinct calls (run side by side). */
static const struct {
    const char *key;
    int64_t value;
} klepto_cache[] = {
    {"cfd9809c56982c2baf98916f82b19a4e", 2}, /* (2, 0) */
    {"aa6b0b0fae8513f6313f0543e05ec6a1", 3}, /* (1, 2) */
    {"9803fa8027cfc9928f8648c89ad15f38", 4}, /* (4) */
    {"f178cf4497504bd645359314b1548a98", 5}, /* (2, 0, 3) */
    {"31faa387cff3838dcb9c8e46a935c22a", 6}, /* (2, 0, 4) */
};

static void test_adder(void **st)
{
    (void)st;
    kl_memo *add = new_adder(), *plus = add; /* one memo for the method */
    args a;
    kl_value no = kl_value_null();
    ncalls = 0;
    assert_int_equal(CALL(add, 2, P(2, 0), NULL, no), 2);
    assert_int_equal(CALL(add, 2, P(2, 0), "z", kl_value_int(4)), 2);      /* cached */
    assert_int_equal(CALL(add, 2, P(2, 0), "debug", kl_value_bool(0)), 2); /* cached */
    assert_int_equal(CALL(add, 2, P(1, 2), "debug", kl_value_bool(0)), 3);
    assert_int_equal(CALL(add, 2, P(1, 2), "debug", kl_value_bool(1)), 3); /* cached */
    assert_int_equal(CALL(add, 1, P(4), NULL, no), 4);
    assert_int_equal(CALL(add, 0, P(0), "x", kl_value_int(4)), 4);       /* cached */
    assert_int_equal(CALL(plus, 1, P(4), "debug", kl_value_bool(1)), 4); /* cached */
    assert_int_equal(CALL(plus, 3, P(2, 0, 3), NULL, no), 5);
    assert_int_equal(CALL(plus, 3, P(2, 0, 4), NULL, no), 6);
    assert_int_equal(ncalls, 5);

    kl_memo_info info;
    kl_memo_info_get(add, &info);
    assert_int_equal(info.hit, 5);
    assert_int_equal(info.miss, 5);
    cache_copy cache = {0};
    KT_OK(kl_memo_foreach(add, copy_entry, &cache));
    assert_int_equal(cache.n, 5);
    qsort(cache.values, cache.n, sizeof cache.values[0], cmp_i64);
    for (int i = 0; i < 5; i++)
        assert_int_equal(cache.values[i], 2 + i); /* [2, 3, 4, 5, 6] */
    cache.n = 0;
    KT_OK(kl_memo_foreach(add, copy_entry, &cache));
    for (size_t i = 0; i < 5; i++) /* klepto's keys, klepto's values */
        assert_int_equal(cache_at(&cache, klepto_cache[i].key), klepto_cache[i].value);

    char key[40];
    key_text(add, mk(&a, 2, P(2, 0), NULL, no), key, sizeof key);
    assert_string_equal(key, klepto_cache[0].key);
    kl_value direct, looked;
    KT_OK(add_fn(NULL, mk(&a, 2, P(2, 0), NULL, no), &direct)); /* __wrapped__ */
    KT_OK(kl_memo_lookup(add, mk(&a, 2, P(2, 0), NULL, no), &looked));
    assert_int_equal(cache_at(&cache, key), direct.u.i);
    assert_int_equal(cache_at(&cache, key), looked.u.i);
    kl_memo_free(add);
}

static void test_memoize(void **st)
{
    (void)st;
    kl_memo *m = new_adder();
    args a;
    kl_value no = kl_value_null();
    CALL(m, 2, P(2, 0), NULL, no);
    CALL(m, 2, P(2, 0), "z", kl_value_int(4));
    CALL(m, 2, P(2, 0), "debug", kl_value_bool(0));
    CALL(m, 2, P(1, 2), "debug", kl_value_bool(0));
    CALL(m, 2, P(1, 2), "debug", kl_value_bool(1));
    CALL(m, 1, P(4), NULL, no);
    CALL(m, 0, P(0), "x", kl_value_int(4));
    CALL(m, 1, P(4), "debug", kl_value_bool(1));
    CALL(m, 3, P(2, 0, 3), NULL, no);
    CALL(m, 3, P(2, 0, 4), NULL, no);
    cache_copy cache = {0};
    KT_OK(kl_memo_foreach(m, copy_entry, &cache));

    /* do a lookup */
    kl_value looked, direct;
    KT_OK(kl_memo_lookup(m, mk(&a, 2, P(2, 0), NULL, no), &looked));
    KT_OK(add_fn(NULL, mk(&a, 2, P(2, 0), NULL, no), &direct));
    assert_int_equal(looked.u.i, direct.u.i);
    /* generate the key, and do a look-up */
    char key[40];
    key_text(m, mk(&a, 2, P(2, 0), NULL, no), key, sizeof key);
    assert_int_equal(cache_at(&cache, key), direct.u.i);

    /* the same key from a keygen of its own, with the hasher registered */
    kl_signature *sig;
    KT_OK(kl_signature_parse(&sig, "x, *args, **kwds"));
    kl_keymap_opts ko = KL_KEYMAP_OPTS_INIT;
    ko.kind = KL_KEYMAP_HASH;
    ko.algorithm = "md5";
    kl_keymap *km;
    KT_OK(kl_keymap_new(&km, &ko));
    kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
    go.ignore = "self,**";
    kl_keygen *kg;
    KT_OK(kl_keygen_new(&kg, sig, km, &go));
    kl_buf kb = KL_BUF_INIT;
    KT_OK(kl_keygen_key(kg, mk(&a, 2, P(2, 0), NULL, no), &kb));
    kl_value kv;
    KT_OK(kl_decode(kb.data, kb.len, &kv));
    assert_int_equal(kv.type, KL_TEXT);
    assert_int_equal(kv.u.s.len, strlen(key));
    assert_memory_equal(kv.u.s.ptr, key, strlen(key));
    assert_int_equal(cache_at(&cache, key), direct.u.i);
    /* valid() and call() */
    KT_OK(kl_keygen_validate(kg, mk(&a, 2, P(2, 0), NULL, no)));
    kl_value called;
    KT_OK(add_fn(NULL, mk(&a, 2, P(2, 0), NULL, no), &called));
    assert_int_equal(called.u.i, direct.u.i);
    kl_value_free(&kv);
    kl_buf_free(&kb);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    kl_signature_free(sig);
    kl_memo_free(m);
}

static int bar_fn(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    *out = kl_value_int(call->pos[0].u.i + call->pos[1].u.i);
    return 0;
}

static int count_entry(void *ctx, const kl_memo_entry *e)
{
    (void)e;
    ++*(size_t *)ctx;
    return 0;
}

static void test_foo(void **st)
{
    (void)st;
    /* keygen('self') of bar(self, x, y): the key ('x', 1, 'y', 2) */
    kl_signature *sig;
    KT_OK(kl_signature_parse(&sig, "x, y"));
    kl_keymap *km;
    KT_OK(kl_keymap_new(&km, NULL));
    kl_keygen *kg;
    KT_OK(kl_keygen_new(&kg, sig, km, NULL));
    kl_value xy[2] = {kl_value_int(1), kl_value_int(2)};
    kl_call c = {xy, 2, NULL, NULL, 0};
    kl_buf kb = KL_BUF_INIT;
    KT_OK(kl_keygen_key(kg, &c, &kb));
    kl_value want_items[4] = {kl_value_cstr_ref("x"), kl_value_int(1), kl_value_cstr_ref("y"),
                              kl_value_int(2)};
    kl_value want = kl_value_array_ref(want_items, 4, true);
    kl_buf wb = KL_BUF_INIT;
    KT_OK(kl_encode(&wb, &want, 0));
    assert_int_equal(kb.len, wb.len);
    assert_memory_equal(kb.data, wb.data, wb.len);
    kl_buf_free(&kb);
    kl_buf_free(&wb);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    kl_signature_free(sig);

    /* inf_cache(ignore='self') */
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y";
    o.cache.maxsize = KL_CACHE_UNBOUNDED;
    kl_memo *bar;
    KT_OK(kl_memo_new(&bar, "_Foo.bar", bar_fn, NULL, &o));
    int64_t calls[4][2] = {{1, 2}, {2, 2}, {2, 3}, {1, 2}};
    for (int i = 0; i < 4; i++) {
        kl_value p[2] = {kl_value_int(calls[i][0]), kl_value_int(calls[i][1])}, r;
        kl_call bc = {p, 2, NULL, NULL, 0};
        KT_OK(kl_memo_call(bar, &bc, &r));
    }
    size_t n = 0;
    KT_OK(kl_memo_foreach(bar, count_entry, &n));
    assert_int_equal(n, 3);
    kl_value r;
    KT_OK(kl_memo_lookup(bar, &c, &r));
    assert_int_equal(r.u.i, 3);
    kl_memo_free(bar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adder),
        cmocka_unit_test(test_memoize),
        cmocka_unit_test(test_foo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
