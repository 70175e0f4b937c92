/* SPDX-License-Identifier: BSD-3-Clause */
/* keymap: layouts (flat, typed, sentinel, non-flat), the lone-item rule,
 * the four kinds, chaining, and refusals.  Expected texts are what
 * Python's repr() prints for the same tuples. */
#include "testutil.h"

#include "klepto/codec.h"
#include "klepto/digest.h"
#include "klepto/error.h"
#include "klepto/keymap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static kl_keymap *make(kl_keymap_kind kind, const char *alg, bool typed, bool flat,
                       const kl_value *sentinel)
{
    kl_keymap_opts o = KL_KEYMAP_OPTS_INIT;
    o.kind = kind;
    o.algorithm = alg;
    o.typed = typed;
    o.flat = flat;
    o.sentinel = sentinel;
    kl_keymap *km = NULL;
    KT_OK(kl_keymap_new(&km, &o));
    return km;
}

/* The key's value as a NUL-terminated string (text keys) — caller frees. */
static char *key_str(const kl_keymap *km, const kl_ncall *c)
{
    kl_value v;
    KT_OK(kl_keymap_key_value(km, c, &v));
    assert_true(v.type == KL_TEXT || v.type == KL_BYTES);
    char *s = strndup(v.u.s.ptr, v.u.s.len);
    kl_value_free(&v);
    return s;
}

static void expect_key(const kl_keymap *km, const kl_ncall *c, const char *want)
{
    char *got = key_str(km, c);
    if (strcmp(got, want) != 0)
        fail_msg("key\n  got:  %s\n  want: %s", got, want);
    free(got);
}

static void raw_bytes(const kl_keymap *km, const kl_ncall *c, kl_buf *out)
{
    kl_buf_reset(out);
    KT_OK(kl_keymap_key(km, c, out));
}

#define VARARGS(arr) ((kl_ncall){arr, sizeof arr / sizeof arr[0], NULL, NULL, 0})

static void lone_items_follow_python_fasttypes(void **state)
{
    (void)state;
    kl_keymap *s = make(KL_KEYMAP_STRING, NULL, false, true, NULL);
    kl_keymap *r = make(KL_KEYMAP_STRING, "repr", false, true, NULL);
    kl_keymap *md5 = make(KL_KEYMAP_HASH, "md5", false, true, NULL);
    kl_keymap *st = make(KL_KEYMAP_STRING, NULL, true, true, NULL);

    kl_value i5[] = {kl_value_int(5)}, f5[] = {kl_value_float(5.0)},
             t[] = {kl_value_bool(true)}, txt[] = {kl_value_cstr_ref("abc")},
             by[] = {kl_value_bytes_ref("x", 1)}, nul[] = {kl_value_null()};
    expect_key(s, &VARARGS(i5), "5");
    expect_key(s, &VARARGS(f5), "(5.0,)");
    expect_key(s, &VARARGS(t), "(True,)");
    expect_key(s, &VARARGS(txt), "abc"); /* str() of a str */
    expect_key(r, &VARARGS(txt), "'abc'");
    expect_key(s, &VARARGS(by), "b'x'");
    expect_key(s, &VARARGS(nul), "None");
    kl_ncall empty = {NULL, 0, NULL, NULL, 0};
    expect_key(s, &empty, "()");
    /* hashmap hashes repr(key): md5("'abc'") */
    expect_key(md5, &VARARGS(txt), "e41225f8921fffcead7a35a3ddabdeeb");
    /* typed keys never collapse */
    expect_key(st, &VARARGS(i5), "(5, <class 'int'>)");
    kl_keymap_free(s);
    kl_keymap_free(r);
    kl_keymap_free(md5);
    kl_keymap_free(st);
}

static void flat_text_rendering_matches_python_repr(void **state)
{
    (void)state;
    kl_keymap *s = make(KL_KEYMAP_STRING, NULL, false, true, NULL);
    const char *xy[] = {"x", "y"};
    kl_value v1[] = {kl_value_int(1), kl_value_float(-0.0)};
    kl_ncall c1 = {NULL, 0, xy, v1, 2};
    expect_key(s, &c1, "('x', 1, 'y', -0.0)");

    const char *ab[] = {"a", "b"};
    kl_value v2[] = {kl_value_cstr_ref(""), kl_value_bytes_ref("", 0)};
    kl_ncall c2 = {NULL, 0, ab, v2, 2};
    expect_key(s, &c2, "('a', '', 'b', b'')");

    kl_value v3[] = {kl_value_bool(true), kl_value_int(1)};
    expect_key(s, &VARARGS(v3), "(True, 1)");

    kl_value v4[] = {kl_value_int(INT64_MAX), kl_value_int(INT64_MIN), kl_value_float(1e16),
                     kl_value_float(1e-05)};
    expect_key(s, &VARARGS(v4), "(9223372036854775807, -9223372036854775808, 1e+16, 1e-05)");

    const char *uni = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x01";
    kl_value v5[] = {kl_value_cstr_ref(uni), kl_value_float(INFINITY)};
    expect_key(s, &VARARGS(v5), "('\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\\x01', inf)");

    /* x={'k': {'n': [1.5, (2,)]}} */
    kl_value inner_t = kl_value_array(true), two = kl_value_int(2);
    KT_OK(kl_value_array_push(&inner_t, &two));
    kl_value list = kl_value_array(false), f = kl_value_float(1.5);
    KT_OK(kl_value_array_push(&list, &f));
    KT_OK(kl_value_array_push(&list, &inner_t));
    kl_value m1 = kl_value_map(), k1, m2 = kl_value_map(), k2;
    KT_OK(kl_value_text(&k1, "n", 1));
    KT_OK(kl_value_map_put(&m1, &k1, &list));
    KT_OK(kl_value_text(&k2, "k", 1));
    KT_OK(kl_value_map_put(&m2, &k2, &m1));
    const char *x[] = {"x"};
    kl_ncall c6 = {NULL, 0, x, &m2, 1};
    expect_key(s, &c6, "('x', {'k': {'n': [1.5, (2,)]}})");
    kl_value_free(&m2);
    kl_keymap_free(s);
}

static void typed_and_sentinel_layouts(void **state)
{
    (void)state;
    kl_value sent = kl_value_null();
    kl_keymap *ts = make(KL_KEYMAP_STRING, NULL, true, true, &sent);
    kl_keymap *t = make(KL_KEYMAP_STRING, NULL, true, true, NULL);
    kl_keymap *us = make(KL_KEYMAP_STRING, NULL, false, true, &sent);
    kl_value va[] = {kl_value_int(1)};
    const char *a[] = {"a", "b"};
    kl_value vals[] = {kl_value_float(2.5), kl_value_ignored()};
    kl_ncall c = {va, 1, a, vals, 2};
    expect_key(ts, &c,
                  "(1, None, 'a', 2.5, 'b', NULL, None, <class 'int'>, None, <class 'float'>, "
                  "<class 'klepto._inspect._Null'>)");
    expect_key(t, &c,
                  "(1, 'a', 2.5, 'b', NULL, <class 'int'>, <class 'float'>, "
                  "<class 'klepto._inspect._Null'>)");
    expect_key(us, &c, "(1, None, 'a', 2.5, 'b', NULL)");
    /* no named values: no sentinel before them, and a lone vararg collapses */
    kl_ncall only = {va, 1, NULL, NULL, 0};
    expect_key(us, &only, "1");
    expect_key(ts, &only, "(1, None, <class 'int'>)");
    kl_keymap_free(ts);
    kl_keymap_free(t);
    kl_keymap_free(us);
}

static void non_flat_layouts(void **state)
{
    (void)state;
    kl_keymap *s = make(KL_KEYMAP_STRING, NULL, false, false, NULL);
    kl_keymap *t = make(KL_KEYMAP_STRING, NULL, true, false, NULL);
    kl_value va[] = {kl_value_int(1), kl_value_int(2)};
    const char *a[] = {"a"};
    kl_value vals[] = {kl_value_int(3)};
    kl_ncall c = {va, 2, a, vals, 1};
    expect_key(s, &c, "((1, 2), {'a': 3})");
    kl_ncall one = {va, 1, a, vals, 1};
    expect_key(t, &one, "((1,), {'a': 3}, (<class 'int'>,), (<class 'int'>,))");
    kl_ncall empty = {NULL, 0, NULL, NULL, 0};
    expect_key(s, &empty, "((), {})");
    /* raw non-flat keys decode to (varargs, {kwds}) */
    kl_keymap *r = make(KL_KEYMAP_RAW, NULL, false, false, NULL);
    kl_value v;
    KT_OK(kl_keymap_key_value(r, &c, &v));
    assert_int_equal(v.type, KL_ARRAY);
    assert_int_equal(v.u.a.len, 2);
    assert_int_equal(v.u.a.items[0].u.a.len, 2);
    assert_int_equal(v.u.a.items[1].type, KL_MAP);
    kl_value_free(&v);
    kl_keymap_free(r);
    kl_keymap_free(s);
    kl_keymap_free(t);
}

static void raw_keys_merge_equal_numbers_unless_typed(void **state)
{
    (void)state;
    kl_keymap *r = make(KL_KEYMAP_RAW, NULL, false, true, NULL);
    kl_keymap *rt = make(KL_KEYMAP_RAW, NULL, true, true, NULL);
    kl_buf a = KL_BUF_INIT, b = KL_BUF_INIT;
    const char *xy[] = {"x", "y"};
    kl_value i3[] = {kl_value_int(3), kl_value_int(0)};
    kl_value f3[] = {kl_value_float(3.0), kl_value_float(-0.0)};
    kl_ncall ci = {NULL, 0, xy, i3, 2}, cf = {NULL, 0, xy, f3, 2};
    raw_bytes(r, &ci, &a);
    raw_bytes(r, &cf, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    raw_bytes(rt, &ci, &a);
    raw_bytes(rt, &cf, &b);
    assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* klepto: a lone int is the key itself, a lone float or bool stays a
     * 1-tuple, so f(7) and f(7.0) differ in Python (7 != (7.0,)) */
    kl_value one_i[] = {kl_value_int(7)}, one_f[] = {kl_value_float(7.0)};
    raw_bytes(r, &VARARGS(one_i), &a);
    raw_bytes(r, &VARARGS(one_f), &b);
    assert_int_equal(a.len, 1); /* CBOR 7 */
    assert_int_equal(b.len, 2); /* CBOR [7] */
    assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* True == 1 == 1.0 in Python: (True,) and (1.0,) are one key */
    kl_value tb[] = {kl_value_bool(true)}, f1[] = {kl_value_float(1.0)};
    raw_bytes(r, &VARARGS(tb), &a);
    raw_bytes(r, &VARARGS(f1), &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* and x=True is x=1 */
    kl_value bi[] = {kl_value_bool(true), kl_value_bool(false)};
    kl_value ii[] = {kl_value_int(1), kl_value_int(0)};
    kl_ncall cb = {NULL, 0, xy, bi, 2}, cii = {NULL, 0, xy, ii, 2};
    raw_bytes(r, &cb, &a);
    raw_bytes(r, &cii, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* typed keys keep them apart */
    raw_bytes(rt, &cb, &a);
    raw_bytes(rt, &cii, &b);
    assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* the raw key value is the call tuple */
    kl_value v;
    KT_OK(kl_keymap_key_value(r, &cf, &v));
    assert_int_equal(v.type, KL_ARRAY);
    assert_true(v.flags & KL_VALUE_TUPLE);
    assert_int_equal(v.u.a.len, 4);
    assert_int_equal(v.u.a.items[0].type, KL_TEXT);
    kl_value_free(&v);
    kl_buf_free(&a);
    kl_buf_free(&b);
    kl_keymap_free(r);
    kl_keymap_free(rt);
}

static void hash_keys(void **state)
{
    (void)state;
    kl_keymap *x = make(KL_KEYMAP_HASH, NULL, false, true, NULL);
    kl_keymap *x64 = make(KL_KEYMAP_HASH, "xxh3-64", false, true, NULL);
    kl_keymap *r = make(KL_KEYMAP_RAW, NULL, false, true, NULL);
    kl_keymap *sha = make(KL_KEYMAP_HASH, "sha256", false, true, NULL);
    kl_value va[] = {kl_value_float(1.5), kl_value_cstr_ref("a")};
    kl_ncall c = VARARGS(va);
    kl_buf raw = KL_BUF_INIT;
    raw_bytes(r, &c, &raw);
    char want[33];
    kl_xxh3_128_hex(kl_xxh3_128(raw.data, raw.len), want);
    expect_key(x, &c, want);
    kl_xxh3_64_hex(kl_xxh3_64(raw.data, raw.len), want);
    expect_key(x64, &c, want);
    char hex[KL_DIGEST_HEX_MAX];
    KT_OK(kl_digest_hex_named("sha256", "(1.5, 'a')", 10, hex, sizeof hex));
    expect_key(sha, &c, hex);
    kl_buf_free(&raw);
    kl_keymap_free(x);
    kl_keymap_free(x64);
    kl_keymap_free(r);
    kl_keymap_free(sha);
}

static void pickle_keys(void **state)
{
    (void)state;
    kl_keymap *pc = make(KL_KEYMAP_PICKLE, NULL, false, true, NULL);
    kl_keymap *pr = make(KL_KEYMAP_PICKLE, "repr", false, true, NULL);
    kl_keymap *pj = make(KL_KEYMAP_PICKLE, "json", false, true, NULL);
    kl_value va[] = {kl_value_float(3.0), kl_value_ignored()};
    kl_ncall c = VARARGS(va);
    kl_value v;
    KT_OK(kl_keymap_key_value(pc, &c, &v));
    assert_int_equal(v.type, KL_BYTES);
    kl_value inner;
    KT_OK(kl_decode(v.u.s.ptr, v.u.s.len, &inner));
    assert_int_equal(inner.type, KL_ARRAY);
    assert_int_equal(inner.u.a.items[0].type, KL_FLOAT); /* serialized as given */
    kl_value_free(&inner);
    kl_value_free(&v);
    expect_key(pr, &c, "(3.0, NULL)");
    expect_key(pj, &c, "[3.0, null]"); /* the ignored marker is null in JSON */
    /* non-flat JSON keys: [args, {kwds}] */
    kl_keymap *pjn = make(KL_KEYMAP_PICKLE, "json", false, false, NULL);
    kl_value one[] = {kl_value_int(1)};
    const char *y[] = {"y"};
    kl_value two[] = {kl_value_int(2)};
    kl_ncall nf = {one, 1, y, two, 1};
    expect_key(pjn, &nf, "[[1], {\"y\": 2}]");
    kl_keymap_free(pjn);
    /* typed JSON keys are refused, as klepto's json.dumps refuses the type
     * objects of a typed key (we used to write them as text) */
    kl_keymap_opts o = KL_KEYMAP_OPTS_INIT;
    o.kind = KL_KEYMAP_PICKLE;
    o.algorithm = "json";
    o.typed = true;
    pjn = NULL;
    assert_int_equal(kl_keymap_new(&pjn, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "not JSON serializable"));
    assert_null(pjn);
    kl_keymap_free(pc);
    kl_keymap_free(pr);
    kl_keymap_free(pj);
}

static void chained_keymaps(void **state)
{
    (void)state;
    kl_keymap *outer = make(KL_KEYMAP_HASH, "md5", false, true, NULL);
    kl_keymap *inner = make(KL_KEYMAP_STRING, NULL, false, true, NULL);
    kl_keymap *ch;
    KT_OK(kl_keymap_chain(&ch, outer, inner));
    assert_ptr_equal(kl_keymap_outer(ch), outer);
    assert_ptr_equal(kl_keymap_inner(ch), inner);
    assert_null(kl_keymap_outer(outer));
    kl_value va[] = {kl_value_int(1), kl_value_int(2)};
    kl_ncall c = VARARGS(va);
    /* klepto's (stringmap() + hashmap(algorithm='md5'))(1, 2): the outer
     * layout (1, 2) is the inner stringmap's one argument, giving the text
     * "((1, 2),)"; the outer hashes its repr */
    expect_key(ch, &c, "e4322405891ed872f0da0f93a1aa5b13");
    char want[KL_DIGEST_HEX_MAX];
    KT_OK(kl_digest_hex_named("md5", "'((1, 2),)'", 11, want, sizeof want));
    expect_key(ch, &c, want);
    /* a chain as the outer keymap: klepto's a + (b + c) drops b; refused */
    kl_keymap *third = make(KL_KEYMAP_RAW, NULL, false, true, NULL), *ch2 = NULL;
    assert_int_equal(kl_keymap_chain(&ch2, ch, third), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "itself a chain"));
    /* (a + b) + c is fine: ch is the inner one */
    KT_OK(kl_keymap_chain(&ch2, third, ch));
    kl_keymap_free(ch2);
    /* a typed outer keymap is refused */
    kl_keymap *to = make(KL_KEYMAP_STRING, NULL, true, true, NULL);
    kl_keymap *ti = make(KL_KEYMAP_RAW, NULL, false, true, NULL);
    assert_int_equal(kl_keymap_chain(&ch, to, ti), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "typed outer"));
    kl_keymap_free(to);
    kl_keymap_free(ti);
    /* so is a typed raw inner keymap */
    to = make(KL_KEYMAP_STRING, NULL, false, true, NULL);
    ti = make(KL_KEYMAP_RAW, NULL, true, true, NULL);
    assert_int_equal(kl_keymap_chain(&ch, to, ti), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "typed raw inner"));
    kl_keymap_free(to);
    kl_keymap_free(ti);
    assert_int_equal(kl_keymap_chain(&ch, NULL, NULL), KL_EINVAL);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    kl_keymap_opts o = KL_KEYMAP_OPTS_INIT;
    kl_keymap *km = NULL;
    o.kind = KL_KEYMAP_HASH;
    o.algorithm = "md6";
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "md6"));
    o.kind = KL_KEYMAP_PICKLE;
    o.algorithm = "yaml";
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "yaml"));
    o.kind = KL_KEYMAP_STRING;
    o.algorithm = "no-such-codec"; /* Python: LookupError: unknown encoding */
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "unknown encoding 'no-such-codec'"));
    o.algorithm = "cp1252"; /* one of klepto's encodings() we do not write */
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "'cp1252' is a Python codec"));
    o.kind = KL_KEYMAP_RAW;
    o.algorithm = "md5";
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    o.algorithm = NULL;
    o.kind = (kl_keymap_kind)42;
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    o.kind = KL_KEYMAP_RAW;
    o.version = 99;
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "keymap: options version 99 unknown"));
    o.version = 0;
    assert_int_equal(kl_keymap_new(&km, &o), KL_EINVAL);
    assert_null(km);
}

static void oversized_and_overdeep_keys_are_refused(void **state)
{
    (void)state;
    kl_keymap *r = make(KL_KEYMAP_RAW, NULL, false, true, NULL);
    kl_keymap *s = make(KL_KEYMAP_STRING, NULL, false, true, NULL);
    size_t n = KL_KEY_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    kl_value va[] = {kl_value_text_ref(big, n), kl_value_int(1)};
    kl_ncall c = VARARGS(va);
    kl_buf b = KL_BUF_INIT;
    assert_int_equal(kl_keymap_key(r, &c, &b), KL_ETOOBIG);
    assert_int_equal(kl_keymap_key(s, &c, &b), KL_ETOOBIG);
    free(big);

    /* 300 nested lists */
    enum { DEPTH = 300 };
    kl_value *lv = calloc(DEPTH, sizeof *lv);
    assert_non_null(lv);
    for (size_t i = 0; i < DEPTH; i++)
        lv[i] = kl_value_array_ref(i + 1 < DEPTH ? &lv[i + 1] : NULL, i + 1 < DEPTH, false);
    kl_ncall d = {lv, 1, NULL, NULL, 0};
    assert_int_equal(kl_keymap_key(r, &d, &b), KL_ETOOBIG);
    assert_int_equal(kl_keymap_key(s, &d, &b), KL_ETOOBIG);
    free(lv);
    kl_buf_free(&b);
    kl_keymap_free(r);
    kl_keymap_free(s);
}

static void small_buffers_learn_the_length(void **state)
{
    (void)state;
    kl_keymap *kms[] = {make(KL_KEYMAP_RAW, NULL, false, true, NULL),
                        make(KL_KEYMAP_STRING, NULL, false, true, NULL),
                        make(KL_KEYMAP_HASH, "md5", false, true, NULL)};
    /* a map inside: the encoder's key sorting needs scratch room */
    kl_value m = kl_value_map();
    for (int i = 0; i < 5; i++) {
        kl_value k = kl_value_int(100 - i), v = kl_value_float(i + 0.5);
        KT_OK(kl_value_map_put(&m, &k, &v));
    }
    kl_value va[] = {kl_value_float(0.25), m};
    kl_ncall c = VARARGS(va);
    for (size_t i = 0; i < 3; i++) {
        kl_buf full = KL_BUF_INIT;
        KT_OK(kl_keymap_key(kms[i], &c, &full));
        uint8_t small[4];
        size_t len = 0;
        KT_OK(kl_keymap_key_into(kms[i], &c, small, sizeof small, &len));
        assert_int_equal(len, full.len);
        uint8_t *exact = malloc(len);
        KT_OK(kl_keymap_key_into(kms[i], &c, exact, len, &len));
        assert_int_equal(len, full.len);
        assert_memory_equal(exact, full.data, len);
        free(exact);
        kl_buf_free(&full);
        kl_keymap_free(kms[i]);
    }
    kl_value_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lone_items_follow_python_fasttypes),
        cmocka_unit_test(flat_text_rendering_matches_python_repr),
        cmocka_unit_test(typed_and_sentinel_layouts),
        cmocka_unit_test(non_flat_layouts),
        cmocka_unit_test(raw_keys_merge_equal_numbers_unless_typed),
        cmocka_unit_test(hash_keys),
        cmocka_unit_test(pickle_keys),
        cmocka_unit_test(chained_keymaps),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(oversized_and_overdeep_keys_are_refused),
        cmocka_unit_test(small_buffers_learn_the_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
