/* SPDX-License-Identifier: BSD-3-Clause */
/* The value type: constructors, containers, copy, free, equality, UTF-8. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/error.h"
#include "klepto/value.h"

static void test_utf8_validation_rejects_overlongs_surrogates_and_truncation(void **state)
{
    (void)state;
    assert_true(kl_utf8_valid("", 0));
    assert_true(kl_utf8_valid("plain ascii, longer than eight bytes", 36));
    assert_true(kl_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_true(kl_utf8_valid("\xf4\x8f\xbf\xbf", 4));   /* U+10FFFF */
    assert_true(kl_utf8_valid("\xed\x9f\xbf", 3));       /* U+D7FF */
    assert_false(kl_utf8_valid("\xc0\x80", 2));          /* overlong NUL */
    assert_false(kl_utf8_valid("\xe0\x9f\xbf", 3));      /* overlong */
    assert_false(kl_utf8_valid("\xf0\x8f\xbf\xbf", 4));  /* overlong */
    assert_false(kl_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    assert_false(kl_utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
    assert_false(kl_utf8_valid("\xc3", 1));              /* truncated */
    assert_false(kl_utf8_valid("abcdefgh\xe2\x82", 10)); /* truncated after ASCII run */
    assert_false(kl_utf8_valid("\x80", 1));              /* stray continuation */
    assert_false(kl_utf8_valid("\xc3\x28", 2));          /* bad continuation */
    assert_false(kl_utf8_valid("\xff", 1));
}

static void test_text_constructor_copies_and_validates(void **state)
{
    (void)state;
    char src[] = "hello";
    kl_value v;
    KT_OK(kl_value_text(&v, src, 5));
    src[0] = 'j';
    assert_int_equal(v.type, KL_TEXT);
    assert_int_equal(v.u.s.len, 5);
    assert_memory_equal(v.u.s.ptr, "hello", 5);
    assert_int_equal(v.u.s.ptr[5], '\0');
    kl_value_free(&v);
    assert_int_equal(v.type, KL_NULL);

    kl_value untouched = kl_value_int(7);
    assert_int_equal(kl_value_text(&untouched, "\xff", 1), KL_ECORRUPT);
    assert_int_equal(untouched.type, KL_INT);

    KT_OK(kl_value_bytes(&v, "\xff\x00", 2)); /* bytes take anything */
    assert_int_equal(v.type, KL_BYTES);
    kl_value_free(&v);
}

static void test_containers_own_their_items(void **state)
{
    (void)state;
    kl_value arr = kl_value_array(true), item;
    for (int i = 0; i < 100; i++) {
        KT_OK(kl_value_text(&item, "xyz", 3));
        KT_OK(kl_value_array_push(&arr, &item));
        assert_int_equal(item.type, KL_NULL); /* ownership moved */
    }
    assert_int_equal(arr.u.a.len, 100);
    assert_true(arr.flags & KL_VALUE_TUPLE);

    kl_value m = kl_value_map(), k, x;
    for (int i = 0; i < 50; i++) {
        k = kl_value_int(i);
        KT_OK(kl_value_copy(&x, &arr));
        KT_OK(kl_value_map_put(&m, &k, &x));
    }
    assert_int_equal(m.u.m.len, 50);
    assert_int_equal(m.u.m.items[2 * 49].u.i, 49);
    assert_int_equal(m.u.m.items[2 * 49 + 1].u.a.len, 100);
    kl_value_free(&m);
    kl_value_free(&arr);

    /* borrowed containers refuse to grow, and the item stays the caller's */
    kl_value items[1] = {kl_value_int(1)};
    kl_value b = kl_value_array_ref(items, 1, false);
    KT_OK(kl_value_text(&item, "a", 1));
    assert_int_equal(kl_value_array_push(&b, &item), KL_EINVAL);
    assert_int_equal(item.type, KL_TEXT);
    kl_value_free(&item);
    kl_value notmap = kl_value_int(3);
    k = kl_value_int(1);
    x = kl_value_int(2);
    assert_int_equal(kl_value_map_put(&notmap, &k, &x), KL_EINVAL);
    kl_value_free(&b); /* borrowed: a no-op */
    assert_int_equal(items[0].u.i, 1);
    kl_value_free(NULL);
}

static void test_copy_is_deep_and_owned(void **state)
{
    (void)state;
    char text[] = "borrowed";
    kl_value inner[2] = {kl_value_text_ref(text, 8), kl_value_bytes_ref("\x01\x02", 2)};
    kl_value outer[2] = {kl_value_array_ref(inner, 2, true), kl_value_float(NAN)};
    kl_value v = kl_value_array_ref(outer, 2, false);
    kl_value c;
    KT_OK(kl_value_copy(&c, &v));
    assert_true(kl_value_equal(&c, &v));
    assert_false(c.flags & KL_VALUE_BORROWED);
    assert_true(c.u.a.items[0].flags & KL_VALUE_TUPLE);
    text[0] = 'X';
    assert_false(kl_value_equal(&c, &v)); /* the copy kept the old text */
    assert_memory_equal(c.u.a.items[0].u.a.items[0].u.s.ptr, "borrowed", 8);
    kl_value_free(&c);
}

static void test_equality_rules(void **state)
{
    (void)state;
    kl_value a = kl_value_float(NAN), b = kl_value_float(-NAN);
    assert_true(kl_value_equal(&a, &b)); /* any NaNs */
    a = kl_value_float(0.0);
    b = kl_value_float(-0.0);
    assert_false(kl_value_equal(&a, &b)); /* bitwise otherwise */
    a = kl_value_int(3);
    b = kl_value_float(3.0);
    assert_false(kl_value_equal(&a, &b)); /* types differ */
    kl_value i1[2] = {kl_value_int(1), kl_value_int(2)};
    kl_value i2[2] = {kl_value_int(1), kl_value_int(2)};
    a = kl_value_array_ref(i1, 2, true);
    b = kl_value_array_ref(i2, 2, false);
    assert_true(kl_value_equal(&a, &b)); /* tuple flag ignored */
    b = kl_value_array_ref(i2, 1, false);
    assert_false(kl_value_equal(&a, &b));
    a = kl_value_ignored();
    b = kl_value_null();
    assert_false(kl_value_equal(&a, &b));
    a = kl_value_text_ref("ab", 2);
    b = kl_value_bytes_ref("ab", 2);
    assert_false(kl_value_equal(&a, &b));

    /* maps compare pairs in order */
    kl_value m1 = kl_value_map(), m2 = kl_value_map(), k, x;
    k = kl_value_int(1);
    x = kl_value_int(10);
    KT_OK(kl_value_map_put(&m1, &k, &x));
    k = kl_value_int(2);
    x = kl_value_int(20);
    KT_OK(kl_value_map_put(&m1, &k, &x));
    k = kl_value_int(2);
    x = kl_value_int(20);
    KT_OK(kl_value_map_put(&m2, &k, &x));
    k = kl_value_int(1);
    x = kl_value_int(10);
    KT_OK(kl_value_map_put(&m2, &k, &x));
    assert_false(kl_value_equal(&m1, &m2));
    kl_value_free(&m1);
    kl_value_free(&m2);
}

static void test_ndarray_constructor_checks_shape_and_dtype(void **state)
{
    (void)state;
    assert_int_equal(kl_dtype_size(KL_DT_INT8), 1);
    assert_int_equal(kl_dtype_size(KL_DT_UINT16), 2);
    assert_int_equal(kl_dtype_size(KL_DT_FLOAT32), 4);
    assert_int_equal(kl_dtype_size(KL_DT_FLOAT64), 8);
    assert_int_equal(kl_dtype_size((kl_dtype)99), 0);

    size_t shape[3] = {2, 3, 4};
    kl_value v;
    KT_OK(kl_value_ndarray(&v, KL_DT_INT16, 3, shape, NULL));
    assert_int_equal(kl_value_ndarray_count(&v), 24);
    assert_int_equal(kl_value_ndarray_bytes(&v), 48);
    for (int i = 0; i < 24; i++)
        assert_int_equal(((int16_t *)v.u.nd.data)[i], 0); /* zero-filled */
    kl_value c;
    KT_OK(kl_value_copy(&c, &v));
    ((int16_t *)c.u.nd.data)[5] = 9;
    assert_false(kl_value_equal(&c, &v));
    kl_value_free(&c);
    kl_value_free(&v);

    double nan2[2] = {NAN, 1.0}, nan3[2] = {-NAN, 1.0};
    kl_value a, b;
    KT_OK(kl_value_ndarray(&a, KL_DT_FLOAT64, 1, (size_t[]){2}, nan2));
    KT_OK(kl_value_ndarray(&b, KL_DT_FLOAT64, 1, (size_t[]){2}, nan3));
    assert_true(kl_value_equal(&a, &b));
    kl_value_free(&a);
    kl_value_free(&b);

    size_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(kl_value_ndarray(&v, KL_DT_INT8, 9, nine, NULL), KL_EINVAL);
    assert_int_equal(kl_value_ndarray(&v, (kl_dtype)42, 1, nine, NULL), KL_EINVAL);
    size_t huge[2] = {SIZE_MAX / 2, 3};
    assert_int_equal(kl_value_ndarray(&v, KL_DT_INT8, 2, huge, NULL), KL_ETOOBIG);
    size_t big[1] = {SIZE_MAX / 4};
    assert_int_equal(kl_value_ndarray(&v, KL_DT_FLOAT64, 1, big, NULL), KL_ETOOBIG);
    KT_OK(kl_value_ndarray(&v, KL_DT_FLOAT64, 1, (size_t[]){0}, NULL));
    assert_int_equal(kl_value_ndarray_bytes(&v), 0);
    kl_value_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_validation_rejects_overlongs_surrogates_and_truncation),
        cmocka_unit_test(test_text_constructor_copies_and_validates),
        cmocka_unit_test(test_containers_own_their_items),
        cmocka_unit_test(test_copy_is_deep_and_owned),
        cmocka_unit_test(test_equality_rules),
        cmocka_unit_test(test_ndarray_constructor_checks_shape_and_dtype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
