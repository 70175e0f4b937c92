/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_bigdata.py (Python klepto): keys of large
 * arrays.  numpy.arange(2000) is an int64 nd-array here; y is a copy with
 * y[1000] = -1.
 *
 *   hashmap(algorithm='md5')       hash keymap, "md5"
 *   picklemap(serializer='dill')   pickle keymap, "cbor" (no dill here)
 *   p + h                          kl_keymap_chain(md5, pickle)
 *
 * klepto asserts h(x) == h(y): its md5 hashes the key's repr, and numpy
 * abbreviates arrays of more than 1000 elements ("array([0, 1, 2, ...,
 * 1997, 1998, 1999])"), so two different large arrays get one key.  We
 * deliberately differ: our text rendering writes every element (and the
 * dtype, which numpy leaves out for its default types), so h(x) != h(y);
 * docs/from-python.md, "Keys and keymaps".  The script's other two
 * assertions, p(x) != p(y) and hp(x) != hp(y), are klepto's. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "klepto.h"

static kl_value arange_with(size_t n, size_t at, int64_t v)
{
    int64_t *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (int64_t)i;
    if (at < n)
        x[at] = v;
    kl_value out;
    KT_OK(kl_value_ndarray(&out, KL_DT_INT64, 1, &n, x));
    free(x);
    return out;
}

static kl_keymap *keymap(kl_keymap_kind kind, const char *algorithm)
{
    kl_keymap_opts o = KL_KEYMAP_OPTS_INIT;
    o.kind = kind;
    o.algorithm = algorithm;
    kl_keymap *km;
    KT_OK(kl_keymap_new(&km, &o));
    return km;
}

/* km(arg): the key of a call with one positional argument */
static void key_of(const kl_keymap *km, const kl_value *arg, kl_buf *out)
{
    kl_ncall c = {arg, 1, NULL, NULL, 0};
    kl_buf_reset(out);
    KT_OK(kl_keymap_key(km, &c, out));
}

static bool same_key(const kl_keymap *km, const kl_value *a, const kl_value *b)
{
    kl_buf ka = KL_BUF_INIT, kb = KL_BUF_INIT;
    key_of(km, a, &ka);
    key_of(km, b, &kb);
    bool same = ka.len == kb.len && !memcmp(ka.data, kb.data, ka.len);
    kl_buf_free(&ka);
    kl_buf_free(&kb);
    return same;
}

static void keys_of_large_arrays_that_differ_in_one_element(void **state)
{
    (void)state;
    kl_value x = arange_with(2000, 2000, 0), y = arange_with(2000, 1000, -1);
    kl_keymap *h = keymap(KL_KEYMAP_HASH, "md5");
    kl_keymap *p = keymap(KL_KEYMAP_PICKLE, NULL);
    kl_keymap *hp;
    KT_OK(kl_keymap_chain(&hp, keymap(KL_KEYMAP_HASH, "md5"), keymap(KL_KEYMAP_PICKLE, NULL)));

    assert_false(same_key(h, &x, &y)); /* klepto: equal (numpy's '...') */
    assert_false(same_key(p, &x, &y));
    assert_false(same_key(hp, &x, &y));
    assert_true(same_key(h, &x, &x));
    assert_true(same_key(hp, &y, &y));

    kl_keymap_free(h);
    kl_keymap_free(p);
    kl_keymap_free(hp);
    kl_value_free(&x);
    kl_value_free(&y);
}

/* What our md5 keymap hashes: the whole array with its dtype, where numpy
 * writes "array([   0,    1,    2, ..., 1997, 1998, 1999])" */
static void text_keys_render_every_element(void **state)
{
    (void)state;
    kl_value x = arange_with(2000, 2000, 0);
    kl_keymap *s = keymap(KL_KEYMAP_STRING, "repr");
    kl_value key;
    kl_ncall c = {&x, 1, NULL, NULL, 0};
    KT_OK(kl_keymap_key_value(s, &c, &key));
    assert_int_equal(key.type, KL_TEXT);
    const char *t = key.u.s.ptr;
    size_t n = key.u.s.len;
    assert_null(memmem(t, n, "...", 3));
    assert_non_null(memmem(t, n, "999, 1000, 1001,", 16));
    assert_non_null(memmem(t, n, "1999], dtype=int64)", 19));
    kl_value_free(&key);
    kl_keymap_free(s);
    kl_value_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_of_large_arrays_that_differ_in_one_element),
        cmocka_unit_test(text_keys_render_every_element),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
