/* SPDX-License-Identifier: BSD-3-Clause */
/* KL_MEMOIZE with array arguments (KL_ARR, KL_ARR_FIXED): keyed by the
 * elements, for every element type; archive keys that read back as
 * numpy-like nd-arrays; rounding element-wise; memory and archive keys
 * that agree (dump, load, lookup, forget); and bad arrays — NULL with
 * elements, over the key limit — computed uncached with a clear error. */
#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include "klepto.h"

static int ncalls;

KL_MEMOIZE(double, a_sum, KL_ARR(double, x, n))
{
    ncalls++;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

KL_MEMOIZE(double, a_scaled, (double, k), KL_ARR(float, v, n), (int, shift))
{
    ncalls++;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return k * s + shift;
}

KL_MEMOIZE(int64_t, a_norm1, KL_ARR_FIXED(int32_t, p, 3))
{
    ncalls++;
    return (int64_t)llabs(p[0]) + llabs(p[1]) + llabs(p[2]);
}

KL_MEMOIZE(double, a_dot, KL_ARR(double, x, n), (int, scale), KL_ARR(double, y, m))
{
    ncalls++;
    double s = 0;
    for (size_t i = 0; i < n && i < m; i++)
        s += x[i] * y[i];
    return s * scale;
}

KL_MEMOIZE(double, a_labeled, (const char *, label), KL_ARR(double, x, n))
{
    ncalls++;
    return (double)strlen(label) + (n ? x[0] : 0);
}

#define SUM_OF(T, name)                                                                    \
    KL_MEMOIZE(double, name, KL_ARR(T, x, n))                                              \
    {                                                                                      \
        ncalls++;                                                                          \
        double s = 0;                                                                      \
        for (size_t i = 0; i < n; i++)                                                     \
            s += (double)x[i];                                                             \
        return s;                                                                          \
    }
SUM_OF(int8_t, s_i8)
SUM_OF(int16_t, s_i16)
SUM_OF(int32_t, s_i32)
SUM_OF(int64_t, s_i64)
SUM_OF(uint8_t, s_u8)
SUM_OF(uint16_t, s_u16)
SUM_OF(uint32_t, s_u32)
SUM_OF(uint64_t, s_u64)
SUM_OF(float, s_f32)

/* The archive key of a call, rendered as Python. */
static char *repr_key(kl_memo *m, const kl_value *args, size_t n)
{
    kl_call c = {(kl_value *)args, n, NULL, NULL, 0};
    kl_buf key = KL_BUF_INIT, text = KL_BUF_INIT;
    KT_OK(kl_memo_key(m, &c, &key));
    kl_value kv;
    KT_OK(kl_decode(key.data, key.len, &kv));
    KT_OK(kl_repr(&text, &kv));
    kl_value_free(&kv);
    kl_buf_free(&key);
    char *s = strdup(kl_buf_cstr(&text));
    kl_buf_free(&text);
    return s;
}

static void arrays_are_keyed_by_their_elements(void **state)
{
    (void)state;
    ncalls = 0;
    double a[] = {1.5, 2.5, 3.0}, b[] = {1.5, 2.5, 3.0}, c[] = {1.5, 2.5, 3.5};
    for (int r = 0; r < 2; r++) {
        assert_true(a_sum(a, 3) == 7.0);
        assert_true(a_sum(b, 3) == 7.0); /* other memory, same elements: a hit */
        assert_true(a_sum(c, 3) == 7.5);
        assert_true(a_sum(a, 2) == 4.0); /* the length is part of the key */
        assert_true(a_sum(NULL, 0) == 0.0);
    }
    assert_int_equal(ncalls, 4);
    kl_memo_info info;
    kl_memo_info_get(a_sum_memo(), &info);
    assert_int_equal(info.hit, 6);
    assert_int_equal(info.miss, 4);
    assert_int_equal(info.size, 4);

    float v[] = {1, 2, 3, 4};
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        assert_true(a_scaled(2.0, v, 4, 1) == 21.0);
        assert_true(a_scaled(2.0, v, 4, 2) == 22.0);
        assert_true(a_scaled(-0.0, v, 4, 0) == 0.0);
        assert_true(a_scaled(0.0, v, 4, 0) == 0.0); /* -0.0 is 0.0 (untyped keys) */
    }
    assert_int_equal(ncalls, 3);

    int32_t p[3] = {1, -2, 3}, q[3] = {1, -2, 4};
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        assert_true(a_norm1(p) == 6);
        assert_true(a_norm1(q) == 7);
    }
    assert_int_equal(ncalls, 2);
}

/* Every element type: the same numbers in two arrays of different types
 * are different keys (an nd-array's dtype is part of it, as in numpy). */
static void every_element_type(void **state)
{
    (void)state;
    int8_t i8[] = {-1, 2, 3};
    int16_t i16[] = {-1, 2, 3};
    int32_t i32[] = {-1, 2, 3};
    int64_t i64[] = {-1, 2, 3};
    uint8_t u8[] = {1, 2, 255};
    uint16_t u16[] = {1, 2, 65535};
    uint32_t u32[] = {1, 2, 4000000000u};
    uint64_t u64[] = {1, 2, UINT64_C(10000000000000000000)};
    float f32[] = {0.5f, 0.25f, -1};
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        assert_true(s_i8(i8, 3) == 4);
        assert_true(s_i16(i16, 3) == 4);
        assert_true(s_i32(i32, 3) == 4);
        assert_true(s_i64(i64, 3) == 4);
        assert_true(s_u8(u8, 3) == 258);
        assert_true(s_u16(u16, 3) == 65538);
        assert_true(s_u32(u32, 3) == 4000000003.0);
        assert_true(s_u64(u64, 3) == 1e19 + 3);
        assert_true(s_f32(f32, 3) == -0.25);
    }
    assert_int_equal(ncalls, 9);
    kl_memo *ms[] = {s_i8_memo(),  s_i16_memo(), s_i32_memo(), s_i64_memo(), s_u8_memo(),
                     s_u16_memo(), s_u32_memo(), s_u64_memo(), s_f32_memo()};
    const char *want[] = {"int8",   "int16",  "int32",  "int64",  "uint8",
                          "uint16", "uint32", "uint64", "float32"};
    for (size_t i = 0; i < 9; i++) {
        kl_memo_info info;
        kl_memo_info_get(ms[i], &info);
        assert_int_equal(info.hit, 1);
        /* the stored key names the dtype */
        KT_OK(kl_memo_set_archive(ms[i], "mem:"));
        KT_OK(kl_memo_dump(ms[i])); /* the swap copies nothing (klepto's archive()) */
        kl_buf out = KL_BUF_INIT;
        kl_archive *ar = kl_memo_archive(ms[i]);
        kl_archive_iter *it;
        KT_OK(kl_archive_iter_new(ar, &it));
        kl_buf k = KL_BUF_INIT;
        assert_int_equal(kl_archive_iter_next(it, &k, NULL), 1);
        kl_value kv;
        KT_OK(kl_decode(k.data, k.len, &kv));
        kl_buf_free(&k);
        KT_OK(kl_repr(&out, &kv));
        kl_value_free(&kv);
        kl_archive_iter_free(it);
        char dt[32];
        snprintf(dt, sizeof dt, "dtype=%s)", want[i]);
        assert_non_null(strstr(kl_buf_cstr(&out), dt));
        kl_buf_free(&out);
        KT_OK(kl_memo_set_archive(ms[i], NULL));
    }
}

/* The archive key of an array argument is the typed nd-array, readable as
 * numpy's array([...], dtype=float64). */
static void archive_keys_read_as_ndarrays(void **state)
{
    (void)state;
    double x[] = {0.5, 2, -3.25};
    size_t shape = 3;
    kl_value arg;
    KT_OK(kl_value_ndarray(&arg, KL_DT_FLOAT64, 1, &shape, x));
    char *s = repr_key(a_sum_memo(), &arg, 1);
    assert_string_equal(s, "['x', array([0.5, 2.0, -3.25], dtype=float64)]");
    free(s);
    /* and the generic call with that nd-array finds the typed call's result */
    KT_OK(kl_memo_clear(a_sum_memo(), false));
    ncalls = 0;
    assert_true(a_sum(x, 3) == -0.75);
    kl_call c = {&arg, 1, NULL, NULL, 0};
    kl_value res;
    KT_OK(kl_memo_lookup(a_sum_memo(), &c, &res));
    assert_int_equal(res.type, KL_FLOAT);
    assert_true(res.u.f == -0.75);
    KT_OK(kl_memo_forget(a_sum_memo(), &c));
    assert_true(a_sum(x, 3) == -0.75);
    assert_int_equal(ncalls, 2);
    /* an nd-array of another dtype does not fit the C type */
    kl_value other;
    KT_OK(kl_value_ndarray(&other, KL_DT_FLOAT32, 1, &shape, NULL));
    kl_call c2 = {&other, 1, NULL, NULL, 0};
    assert_int_equal(kl_memo_lookup(a_sum_memo(), &c2, &res), KL_ETYPE);
    assert_non_null(strstr(kl_errmsg(), "float64 array"));
    kl_value_free(&other);
    kl_value_free(&arg);
}

/* Write-through and load: the archive holds canonical keys; a fresh
 * memory loads them back into raw form and hits. */
static void archive_round_trip(void **state)
{
    (void)state;
    KT_OK(kl_memo_clear(a_scaled_memo(), false));
    KT_OK(kl_memo_set_archive(a_scaled_memo(), "mem:arrays-load"));
    float v[] = {1, 2, 3, 4}, w[40];
    for (int i = 0; i < 40; i++)
        w[i] = (float)i / 8;
    ncalls = 0;
    double r1 = a_scaled(2.0, v, 4, 1), r2 = a_scaled(0.5, w, 40, -3);
    KT_OK(kl_memo_clear(a_scaled_memo(), false));
    size_t loaded = 0;
    KT_OK(kl_memo_load(a_scaled_memo(), &loaded));
    assert_int_equal(loaded, 2);
    assert_true(a_scaled(2.0, v, 4, 1) == r1);
    assert_true(a_scaled(0.5, w, 40, -3) == r2);
    assert_int_equal(ncalls, 2);
    kl_memo_info info;
    kl_memo_info_get(a_scaled_memo(), &info);
    assert_int_equal(info.hit, 2);
    /* from the archive without load: a "load" */
    KT_OK(kl_memo_clear(a_scaled_memo(), false));
    assert_true(a_scaled(0.5, w, 40, -3) == r2);
    kl_memo_info_get(a_scaled_memo(), &info);
    assert_int_equal(info.load, 1);
    assert_int_equal(ncalls, 2);
    KT_OK(kl_memo_set_archive(a_scaled_memo(), NULL));
}

/* Two arrays: each keyed with its own length (moving an element from one
 * to the other is another call), through memory and the archive. */
static void two_arrays(void **state)
{
    (void)state;
    KT_OK(kl_memo_set_archive(a_dot_memo(), "mem:arrays-two"));
    double x[] = {1, 2, 3}, y[] = {4, 5, 6, 7};
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        assert_true(a_dot(x, 3, 2, y, 4) == 64);
        assert_true(a_dot(x, 2, 2, y, 4) == 28);
        assert_true(a_dot(x, 3, 2, y, 3) == 64);
        assert_true(a_dot(x, 3, 1, y, 3) == 32);
    }
    assert_int_equal(ncalls, 4);
    KT_OK(kl_memo_clear(a_dot_memo(), false));
    size_t loaded = 0;
    KT_OK(kl_memo_load(a_dot_memo(), &loaded));
    assert_int_equal(loaded, 4);
    assert_true(a_dot(x, 2, 2, y, 4) == 28);
    assert_true(a_dot(x, 3, 2, y, 3) == 64);
    assert_int_equal(ncalls, 4);
    kl_value args[3];
    size_t nx = 2, ny = 4;
    KT_OK(kl_value_ndarray(&args[0], KL_DT_FLOAT64, 1, &nx, x));
    args[1] = kl_value_int(2);
    KT_OK(kl_value_ndarray(&args[2], KL_DT_FLOAT64, 1, &ny, y));
    char *s = repr_key(a_dot_memo(), args, 3);
    assert_string_equal(s, "['scale', 2, 'x', array([1.0, 2.0], dtype=float64), 'y', "
                           "array([4.0, 5.0, 6.0, 7.0], dtype=float64)]");
    free(s);
    kl_call c = {args, 3, NULL, NULL, 0};
    kl_value res;
    KT_OK(kl_memo_lookup(a_dot_memo(), &c, &res));
    assert_true(res.type == KL_FLOAT && res.u.f == 28);
    kl_value_free(&args[0]);
    kl_value_free(&args[2]);
    KT_OK(kl_memo_set_archive(a_dot_memo(), NULL));
}

/* With a text argument the memory key is canonical: arrays still key by
 * their elements. */
static void arrays_beside_text(void **state)
{
    (void)state;
    double x[] = {0.5, 1}, y[] = {0.5, 1};
    char a[] = "abc", b[] = "abc";
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        assert_true(a_labeled(a, x, 2) == 3.5);
        assert_true(a_labeled(b, y, 2) == 3.5); /* other memory, same contents */
        assert_true(a_labeled(a, x, 1) == 3.5); /* a shorter array: another key */
    }
    assert_int_equal(ncalls, 2);
    kl_memo_info info;
    kl_memo_info_get(a_labeled_memo(), &info);
    assert_int_equal(info.hit, 4);
}

/* Rounding applies element-wise under shallow (or deep) rounding, as
 * klepto's shallow_round rounds the items of a sequence; simple rounding
 * rounds only scalar arguments, as klepto's simple_round does. */
static void rounding_applies_to_elements(void **state)
{
    (void)state;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.tol = 2;
    o.rounding = KL_ROUND_SHALLOW;
    KT_OK(kl_memo_configure(a_sum_memo(), &o));
    ncalls = 0;
    double x[] = {1.001, 2.002}, y[] = {1.0049, 1.9951}, z[] = {1.02, 2.0};
    double first = a_sum(x, 2);
    assert_true(first == x[0] + x[1]); /* the body sees the arguments as passed */
    assert_true(a_sum(y, 2) == first); /* rounds to the same [1.0, 2.0] */
    assert_true(a_sum(z, 2) == 3.02);
    assert_int_equal(ncalls, 2);
    char *s;
    kl_value arg;
    size_t shape = 2;
    KT_OK(kl_value_ndarray(&arg, KL_DT_FLOAT64, 1, &shape, y));
    s = repr_key(a_sum_memo(), &arg, 1);
    assert_string_equal(s, "['x', array([1.0, 2.0], dtype=float64)]");
    free(s);
    kl_value_free(&arg);

    o.rounding = KL_ROUND_SIMPLE;
    KT_OK(kl_memo_configure(a_sum_memo(), &o));
    ncalls = 0;
    a_sum(x, 2);
    a_sum(y, 2);
    assert_int_equal(ncalls, 2); /* not rounded: different keys */
    kl_memo_opts plain = KL_MEMO_OPTS_INIT;
    KT_OK(kl_memo_configure(a_sum_memo(), &plain));
}

/* A NULL array with elements and an array over the key limit: computed
 * uncached (the body gets the call as made), counted as an error, with a
 * message naming the argument; nothing stored. */
static void bad_arrays_are_errors(void **state)
{
    (void)state;
    kl_memo_info info;
    /* NULL with a length (through the call the macro makes: a_sum's body
     * would read the NULL array; the memo must not, and says so) */
    kl_memo_slot slot;
    kl_typed_arg bad = {0, 5, NULL};
    double out = 0;
    int rc = kl_memo_typed_call_args(a_sum_memo(), &bad, 1, &slot, KL_RESULT_DOUBLE, &out,
                                     NULL, 0);
    assert_int_equal(rc, KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "argument 'x' is NULL with length 5"));
    assert_null(slot.ticket);

    size_t huge = (KL_KEY_MAX / sizeof(double)) + 1;
    double *big = calloc(huge, sizeof *big);
    assert_non_null(big);
    KT_OK(kl_memo_clear(a_sum_memo(), false));
    ncalls = 0;
    for (int r = 0; r < 2; r++)
        assert_true(a_sum(big, huge) == 0.0);
    assert_int_equal(ncalls, 2); /* never cached */
    assert_non_null(strstr(kl_errmsg(), "over the key limit"));
    kl_memo_info_get(a_sum_memo(), &info);
    assert_int_equal(info.errors, 2);
    assert_int_equal(info.size, 0);
    /* a long array (its key built on the heap) is cached */
    size_t fits = 5000;
    ncalls = 0;
    for (int r = 0; r < 2; r++)
        assert_true(a_sum(big, fits) == 0.0);
    assert_int_equal(ncalls, 1);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arrays_are_keyed_by_their_elements),
        cmocka_unit_test(every_element_type),
        cmocka_unit_test(archive_keys_read_as_ndarrays),
        cmocka_unit_test(archive_round_trip),
        cmocka_unit_test(two_arrays),
        cmocka_unit_test(arrays_beside_text),
        cmocka_unit_test(rounding_applies_to_elements),
        cmocka_unit_test(bad_arrays_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
