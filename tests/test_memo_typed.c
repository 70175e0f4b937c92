/* The typed face's hit path: every result type decoded straight from the
 * cache entry, shortened floats, results found in a shared archive, and
 * stored values of the wrong type (computed afresh, never misread). */
#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdint.h>

#include "klepto.h"

static int ncalls;

KL_MEMOIZE(double, t_half, (double, x)) { ncalls++; return x / 2; }
KL_MEMOIZE(float, t_float, (double, x)) { ncalls++; return (float)(x * 3); }
KL_MEMOIZE(int, t_int, (int, a), (int, b)) { ncalls++; return a * b - 7; }
KL_MEMOIZE(long, t_long, (long, a)) { ncalls++; return a * 1000003L; }
KL_MEMOIZE(int64_t, t_i64, (int64_t, a)) { ncalls++; return a * INT64_C(4294967311); }
KL_MEMOIZE(bool, t_odd, (int64_t, a)) { ncalls++; return (a & 1) != 0; }

/* twice each: the second call must be a hit giving the same value */
static void every_result_type_round_trips(void **state)
{
    (void)state;
    ncalls = 0;
    double xs[] = {1.0, 0.5, -3.0, 1e300, 0.1, 123456.789, -0.0, INFINITY};
    for (int r = 0; r < 2; r++)
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            double h = t_half(xs[i]);
            assert_true(h == xs[i] / 2 && signbit(h) == signbit(xs[i] / 2));
            assert_true(t_float(xs[i]) == (float)(xs[i] * 3));
        }
    double nan_half = t_half(NAN);
    assert_true(isnan(nan_half));
    for (int r = 0; r < 2; r++) {
        assert_int_equal(t_int(3, 4), 5);
        assert_int_equal(t_int(-100000, 20000), -2000000007);
        assert_true(t_long(-5) == -5000015L);
        assert_true(t_i64(INT64_C(2000000000)) == INT64_C(2000000000) * INT64_C(4294967311));
        assert_true(t_odd(7) == true);
        assert_true(t_odd(8) == false);
    }
    assert_int_equal(ncalls, 2 * 8 + 1 + 6);
    kl_memo_info info;
    kl_memo_info_get(t_half_memo(), &info);
    assert_int_equal(info.hit, 8);
    assert_int_equal(info.miss, 9);
    kl_memo_info_get(t_odd_memo(), &info);
    assert_int_equal(info.hit, 2);
    assert_int_equal(info.miss, 2);
}

/* A value another memo stored under the same key, of a type the typed
 * result cannot take, is counted as found but computed afresh. */
static void wrong_type_in_archive_is_computed(void **state)
{
    (void)state;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:typed-wrong", NULL));
    /* the key t_int(2, 5) maps to, with a text value under it */
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    kl_value a[2] = {kl_value_int(2), kl_value_int(5)};
    kl_call c = {a, 2, NULL, NULL, 0};
    KT_OK(kl_memo_key(t_int_memo(), &c, &key));
    kl_value text = kl_value_cstr_ref("not a number");
    KT_OK(kl_encode(&val, &text, 0));
    KT_OK(kl_archive_put(ar, key.data, key.len, val.data, val.len));
    /* and an out-of-range integer under t_int(2, 6) */
    a[1] = kl_value_int(6);
    key.len = 0;
    KT_OK(kl_memo_key(t_int_memo(), &c, &key));
    kl_value big = kl_value_int(INT64_C(1) << 40);
    val.len = 0;
    KT_OK(kl_encode(&val, &big, 0));
    KT_OK(kl_archive_put(ar, key.data, key.len, val.data, val.len));
    KT_OK(kl_archive_close(ar));

    KT_OK(kl_memo_set_archive(t_int_memo(), "mem:typed-wrong"));
    KT_OK(kl_memo_clear(t_int_memo(), false));
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        assert_int_equal(t_int(2, 5), 3);
        assert_int_equal(t_int(2, 6), 5);
    }
    assert_int_equal(ncalls, 4); /* never stored over the other memo's values */
    kl_memo_info info;
    kl_memo_info_get(t_int_memo(), &info);
    assert_int_equal(info.miss, 0);
    assert_int_equal(info.load + info.hit, 4);
    KT_OK(kl_memo_set_archive(t_int_memo(), NULL));
    kl_buf_free(&key);
    kl_buf_free(&val);
}

/* Results come back from an archive (a load) after the memory is emptied. */
static void results_load_from_the_archive(void **state)
{
    (void)state;
    KT_OK(kl_memo_set_archive(t_half_memo(), "mem:typed-load"));
    KT_OK(kl_memo_clear(t_half_memo(), false));
    ncalls = 0;
    assert_true(t_half(10.5) == 5.25);
    assert_true(t_half(3.0) == 1.5);
    KT_OK(kl_memo_clear(t_half_memo(), false));
    assert_true(t_half(10.5) == 5.25);
    assert_true(t_half(3.0) == 1.5);
    assert_int_equal(ncalls, 2);
    kl_memo_info info;
    kl_memo_info_get(t_half_memo(), &info);
    assert_int_equal(info.load, 2);
    assert_int_equal(info.miss, 0);
    KT_OK(kl_memo_set_archive(t_half_memo(), NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_result_type_round_trips),
        cmocka_unit_test(wrong_type_in_archive_is_computed),
        cmocka_unit_test(results_load_from_the_archive),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kl_memo_free(t_half_memo());
    kl_memo_free(t_float_memo());
    kl_memo_free(t_int_memo());
    kl_memo_free(t_long_memo());
    kl_memo_free(t_i64_memo());
    kl_memo_free(t_odd_memo());
    return rc;
}
