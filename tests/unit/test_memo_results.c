/* SPDX-License-Identifier: BSD-3-Clause */
/* KL_MEMOIZE functions that return arrays through out-parameters
 * (KL_OUT_ARR): a hit fills them from the cache; the function's return
 * code decides whether the result is cached (non-zero: not cached, and
 * returned); results stored as nd-arrays (one) or a list of them (more),
 * read back from an archive; a stored result of another shape or type is
 * computed afresh, never copied into the caller's arrays. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "klepto.h"

static int ncalls;

/* the gradient of sum(x_i^2) */
KL_MEMOIZE(int, grad, KL_ARR(double, x, n), KL_OUT_ARR(double, g, m))
{
    ncalls++;
    if (m != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        g[i] = 2 * x[i];
    return 0;
}

/* two outs of different types, scalar arguments only */
KL_MEMOIZE(int, powers, (int, base), (int, count), KL_OUT_ARR(int64_t, p, np),
           KL_OUT_ARR(float, inv, ni))
{
    ncalls++;
    if (base == 0)
        return 7; /* a failure code of the function's own */
    int64_t v = 1;
    for (size_t i = 0; i < np && (int)i < count; i++, v *= base) {
        p[i] = v;
        if (i < ni)
            inv[i] = 1.0f / (float)v;
    }
    return 0;
}

static void hits_fill_the_out_arrays(void **state)
{
    (void)state;
    ncalls = 0;
    double x[] = {1, -2.5, 3}, g[3];
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 3; i++)
            g[i] = 99;
        assert_int_equal(grad(x, 3, g, 3), 0);
        assert_true(g[0] == 2 && g[1] == -5 && g[2] == 6);
    }
    assert_int_equal(ncalls, 1);
    int64_t p[4];
    float inv[4];
    for (int r = 0; r < 2; r++) {
        memset(p, 0, sizeof p);
        memset(inv, 0, sizeof inv);
        assert_int_equal(powers(3, 4, p, 4, inv, 4), 0);
        assert_true(p[0] == 1 && p[1] == 3 && p[2] == 9 && p[3] == 27);
        assert_true(inv[1] == 1.0f / 3 && inv[3] == 1.0f / 27);
    }
    assert_int_equal(ncalls, 2);
    kl_memo_info info;
    kl_memo_info_get(powers_memo(), &info);
    assert_int_equal(info.hit, 1);
    assert_int_equal(info.miss, 1);
}

/* Non-zero: returned to the caller, nothing cached (called again). */
static void failures_are_not_cached(void **state)
{
    (void)state;
    ncalls = 0;
    int64_t p[2] = {0, 0};
    float inv[2];
    for (int r = 0; r < 3; r++)
        assert_int_equal(powers(0, 2, p, 2, inv, 2), 7);
    assert_int_equal(ncalls, 3);
    double x[] = {1, 2}, g[3];
    for (int r = 0; r < 2; r++)
        assert_int_equal(grad(x, 2, g, 3), -1);
    assert_int_equal(ncalls, 5);
    kl_memo_info info;
    kl_memo_info_get(powers_memo(), &info);
    assert_int_equal(info.size, 1); /* only powers(3, 4) of the test above */
}

/* Stored as nd-arrays: one out is the array, two a list; an archive
 * holds them, and a fresh memory reads them back.. */
static void results_are_nd_arrays_in_the_archive(void **state)
{
    (void)state;
    KT_OK(kl_memo_clear(grad_memo(), false));
    KT_OK(kl_memo_set_archive(grad_memo(), "mem:results-grad"));
    KT_OK(kl_memo_set_archive(powers_memo(), "mem:results-powers"));
    ncalls = 0;
    double x[] = {0.5, 4}, g[2];
    assert_int_equal(grad(x, 2, g, 2), 0);
    int64_t p[3];
    float inv[2];
    assert_int_equal(powers(2, 3, p, 3, inv, 2), 0);
    assert_int_equal(ncalls, 2);

    kl_value args[1];
    size_t shape = 2;
    KT_OK(kl_value_ndarray(&args[0], KL_DT_FLOAT64, 1, &shape, x));
    kl_call c = {args, 1, NULL, NULL, 0};
    kl_value res;
    KT_OK(kl_memo_lookup(grad_memo(), &c, &res));
    kl_buf text = KL_BUF_INIT;
    KT_OK(kl_repr(&text, &res));
    assert_string_equal(kl_buf_cstr(&text), "array([1.0, 8.0], dtype=float64)");
    kl_value_free(&res);
    kl_value_free(&args[0]);
    kl_value pargs[2] = {kl_value_int(2), kl_value_int(3)};
    kl_call pc = {pargs, 2, NULL, NULL, 0};
    KT_OK(kl_memo_lookup(powers_memo(), &pc, &res));
    text.len = 0;
    KT_OK(kl_repr(&text, &res));
    assert_string_equal(kl_buf_cstr(&text),
                        "[array([1, 2, 4], dtype=int64), array([1.0, 0.5], dtype=float32)]");
    kl_value_free(&res);
    kl_buf_free(&text);

    KT_OK(kl_memo_clear(grad_memo(), false));
    KT_OK(kl_memo_clear(powers_memo(), false));
    g[0] = g[1] = 0;
    memset(p, 0, sizeof p);
    assert_int_equal(grad(x, 2, g, 2), 0);
    assert_int_equal(powers(2, 3, p, 3, inv, 2), 0);
    assert_true(g[0] == 1 && g[1] == 8);
    assert_true(p[0] == 1 && p[1] == 2 && p[2] == 4 && inv[1] == 0.5f);
    assert_int_equal(ncalls, 2); /* both loaded */
    kl_memo_info info;
    kl_memo_info_get(powers_memo(), &info);
    assert_int_equal(info.load, 1);
    KT_OK(kl_memo_set_archive(grad_memo(), NULL));
    KT_OK(kl_memo_set_archive(powers_memo(), NULL));
}

/* A stored result whose shape does not fit the out arrays (another
 * length, another element type, not an array at all): computed afresh,
 * the caller's arrays untouched by the stored bytes, the stored value
 * not overwritten. */
static void results_of_another_shape_are_computed(void **state)
{
    (void)state;
    KT_OK(kl_memo_clear(powers_memo(), false));
    ncalls = 0;
    int64_t p[4];
    float inv[4];
    assert_int_equal(powers(5, 2, p, 2, inv, 2), 0);
    /* the same key (base, count) with longer out arrays */
    memset(p, 0, sizeof p);
    assert_int_equal(powers(5, 2, p, 3, inv, 2), 0);
    assert_true(p[0] == 1 && p[1] == 5 && p[2] == 0);
    assert_int_equal(ncalls, 2);
    kl_memo_info info;
    kl_memo_info_get(powers_memo(), &info);
    assert_int_equal(info.hit, 1); /* found, counted, refused */

    /* a value of another type under the key */
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:results-wrong", NULL));
    kl_value a[2] = {kl_value_int(6), kl_value_int(2)};
    kl_call c = {a, 2, NULL, NULL, 0};
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    KT_OK(kl_memo_key(powers_memo(), &c, &key));
    int64_t three[3] = {1, 6, 36};
    size_t n3 = 3;
    kl_value wrong;
    KT_OK(kl_value_ndarray(&wrong, KL_DT_INT64, 1, &n3, three));
    KT_OK(kl_encode(&val, &wrong, 0));
    kl_value_free(&wrong);
    KT_OK(kl_archive_put(ar, key.data, key.len, val.data, val.len));
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_memo_set_archive(powers_memo(), "mem:results-wrong"));
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        memset(p, 0, sizeof p);
        assert_int_equal(powers(6, 2, p, 2, inv, 2), 0);
        assert_true(p[0] == 1 && p[1] == 6);
    }
    assert_int_equal(ncalls, 2);
    kl_archive *check;
    KT_OK(kl_archive_open(&check, "mem:results-wrong", NULL));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(check, key.data, key.len, &got));
    assert_int_equal(got.len, val.len);
    assert_memory_equal(got.data, val.data, val.len); /* not stored over */
    KT_OK(kl_archive_close(check));
    kl_buf_free(&got);
    kl_buf_free(&key);
    kl_buf_free(&val);
    KT_OK(kl_memo_set_archive(powers_memo(), NULL));
}

/* A NULL out array with a length is an error, computed uncached. */
static void null_out_array(void **state)
{
    (void)state;
    kl_memo_slot slot;
    kl_typed_arg args[2] = {{kl__image_int(2), 0, NULL}, {kl__image_int(2), 0, NULL}};
    kl_typed_out outs[2] = {{NULL, 3, KL_DT_INT64, NULL}, {NULL, 0, KL_DT_FLOAT32, NULL}};
    int rc = kl_memo_typed_call_args(powers_memo(), args, 2, &slot, KL_RESULT_INT, NULL, outs, 2);
    assert_int_equal(rc, KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "out-parameter 1 is NULL with length 3"));
    assert_null(slot.ticket);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hits_fill_the_out_arrays),
        cmocka_unit_test(failures_are_not_cached),
        cmocka_unit_test(results_are_nd_arrays_in_the_archive),
        cmocka_unit_test(results_of_another_shape_are_computed),
        cmocka_unit_test(null_out_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
