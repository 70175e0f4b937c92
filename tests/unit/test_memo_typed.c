/* SPDX-License-Identifier: BSD-3-Clause */
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

/* With a policy whose hits take no lock (sieve), results are decoded from
 * lock-free reads — every result type — and a stored value of another
 * type is refused there as on the locked path: found, counted once,
 * computed afresh, never stored over. */
static void lock_free_hits_decode_every_result_type(void **state)
{
    (void)state;
    kl_memo *ms[] = {t_half_memo(), t_float_memo(), t_int_memo(),
                     t_long_memo(), t_i64_memo(),   t_odd_memo()};
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.policy = "sieve";
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        KT_OK(kl_memo_configure(ms[i], &o));
    ncalls = 0;
    double x = 0.1;
    for (int r = 0; r < 3; r++) {
        assert_true(t_half(x) == x / 2);
        assert_true(t_float(x) == (float)(x * 3));
        assert_int_equal(t_int(-100000, 20000), -2000000007);
        assert_true(t_long(-5) == -5000015L);
        assert_true(t_i64(INT64_C(2000000000)) == INT64_C(2000000000) * INT64_C(4294967311));
        assert_true(t_odd(7) == true);
    }
    assert_int_equal(ncalls, 6);
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        kl_memo_info info;
        kl_memo_info_get(ms[i], &info);
        assert_string_equal(info.policy, "sieve");
        assert_int_equal(info.hit, 2);
        assert_int_equal(info.miss, 1);
    }

    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:typed-wrong-sieve", NULL));
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    kl_value a[2] = {kl_value_int(2), kl_value_int(5)};
    kl_call c = {a, 2, NULL, NULL, 0};
    KT_OK(kl_memo_key(t_int_memo(), &c, &key));
    kl_value text = kl_value_cstr_ref("not a number");
    KT_OK(kl_encode(&val, &text, 0));
    KT_OK(kl_archive_put(ar, key.data, key.len, val.data, val.len));
    KT_OK(kl_archive_close(ar));
    o.archive = "mem:typed-wrong-sieve";
    KT_OK(kl_memo_configure(t_int_memo(), &o));
    ncalls = 0;
    for (int r = 0; r < 3; r++)
        assert_int_equal(t_int(2, 5), 3);
    assert_int_equal(ncalls, 3);
    kl_memo_info info;
    kl_memo_info_get(t_int_memo(), &info);
    assert_int_equal(info.load, 1);
    assert_int_equal(info.hit, 2);
    assert_int_equal(info.miss, 0);
    kl_buf_free(&key);
    kl_buf_free(&val);
    KT_OK(kl_memo_set_archive(t_int_memo(), NULL));
    kl_memo_opts plain = KL_MEMO_OPTS_INIT;
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        KT_OK(kl_memo_configure(ms[i], &plain));
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

KL_MEMOIZE(double, t_mix, (double, x), (int, n), (bool, neg)) { ncalls++; return neg ? -x * n : x * n; }

/* t_mix's x in the tests below: integral for even i */
static double mix_x(int i) { return i % 2 ? i + 0.25 : i; }

/* The generic call naming t_mix's arguments: positional x, the rest named
 * (in an order unlike the signature's). */
static kl_call mix_call(kl_value *pos, const char **names, kl_value *named, double x, int64_t n,
                        bool neg)
{
    pos[0] = kl_value_float(x);
    names[0] = "neg";
    names[1] = "n";
    named[0] = kl_value_bool(neg);
    named[1] = kl_value_int(n);
    return (kl_call){pos, 1, names, named, 2};
}

/* Everything that sees a typed memo's keys from outside its wrapper:
 * write-through, dump and load (archive keys are canonical), lookup and
 * forget by generic call (including a tag, and an integer for a double). */
static void memory_and_archive_keys_agree(void **state)
{
    (void)state;
    kl_memo *m = t_mix_memo();
    for (int tagged = 0; tagged < 2; tagged++) {
        kl_memo_opts o = KL_MEMO_OPTS_INIT;
        o.tag = tagged ? "v2" : NULL;
        o.archive = tagged ? "mem:typed-keys-tagged" : "mem:typed-keys";
        KT_OK(kl_memo_configure(m, &o));
        ncalls = 0;
        for (int i = 0; i < 50; i++)
            assert_true(t_mix(mix_x(i), i, i % 2) == (i % 2 ? -1 : 1) * mix_x(i) * i);
        assert_int_equal(ncalls, 50);

        /* the archive holds the canonical keys kl_memo_key names */
        kl_value pos[1], named[2];
        const char *names[2];
        kl_call c = mix_call(pos, names, named, 7.25, 7, true);
        kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
        KT_OK(kl_memo_key(m, &c, &key));
        KT_OK(kl_archive_get(kl_memo_archive(m), key.data, key.len, &val));
        double stored;
        KT_OK(kl_decode_double(val.data, val.len, &stored));
        assert_true(stored == -7.25 * 7);

        /* lookup and forget by generic call find the memory entry */
        kl_value out;
        KT_OK(kl_memo_lookup(m, &c, &out));
        assert_true(out.type == KL_FLOAT && out.u.f == -7.25 * 7);
        c = mix_call(pos, names, named, 8, 8, false); /* an integer for x */
        KT_OK(kl_memo_lookup(m, &c, &out));
        assert_true(out.type == KL_FLOAT && out.u.f == 64);
        KT_OK(kl_memo_forget(m, &c));
        assert_int_equal(kl_memo_lookup(m, &c, &out), KL_ENOTFOUND);
        named[1] = kl_value_float(2.5); /* no int n is 2.5 */
        assert_int_equal(kl_memo_lookup(m, &c, &out), KL_ETYPE);
        assert_non_null(strstr(kl_errmsg(), "argument 'n' does not fit the C type integer"));

        /* load: the archive's 49 entries come back into memory as hits */
        KT_OK(kl_memo_clear(m, false));
        size_t loaded = 0;
        KT_OK(kl_memo_load(m, &loaded));
        assert_int_equal(loaded, 49);
        ncalls = 0;
        for (int i = 0; i < 50; i++)
            assert_true(t_mix(mix_x(i), i, i % 2) == (i % 2 ? -1 : 1) * mix_x(i) * i);
        assert_int_equal(ncalls, 1); /* the one forgotten */
        kl_memo_info info;
        kl_memo_info_get(m, &info);
        assert_int_equal(info.hit, 49);
        assert_int_equal(info.load, 0);
        kl_buf_free(&key);
        kl_buf_free(&val);
    }
    /* an archive key of another function is not loaded, nor misread */
    kl_archive *ar = kl_memo_archive(m);
    kl_value other[2] = {kl_value_cstr_ref("x"), kl_value_cstr_ref("text")};
    kl_value okey = kl_value_array_ref(other, 2, true), oval = kl_value_float(1);
    kl_buf kb = KL_BUF_INIT, vb = KL_BUF_INIT;
    KT_OK(kl_encode(&kb, &okey, 0));
    KT_OK(kl_encode(&vb, &oval, 0));
    KT_OK(kl_archive_put(ar, kb.data, kb.len, vb.data, vb.len));
    KT_OK(kl_memo_clear(m, false));
    size_t loaded = 0;
    KT_OK(kl_memo_load(m, &loaded));
    assert_int_equal(loaded, 50);
    kl_buf_free(&kb);
    kl_buf_free(&vb);
    kl_memo_opts plain = KL_MEMO_OPTS_INIT;
    KT_OK(kl_memo_configure(m, &plain));
}

/* Calls share a memory entry exactly when they share a canonical key:
 * -0.0 is 0.0 for an untyped keymap, not for a typed one; every NaN is
 * one argument. */
static void float_arguments_merge_as_keys_do(void **state)
{
    (void)state;
    kl_memo *m = t_half_memo();
    KT_OK(kl_memo_clear(m, false));
    ncalls = 0;
    assert_true(t_half(0.0) == 0.0);
    assert_true(t_half(-0.0) == 0.0);
    double nan2 = -NAN;
    assert_true(isnan(t_half(NAN)));
    assert_true(isnan(t_half(nan2)));
    assert_int_equal(ncalls, 2);

    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.keymap.typed = true;
    KT_OK(kl_memo_configure(m, &o));
    ncalls = 0;
    assert_false(signbit(t_half(0.0)));
    assert_true(signbit(t_half(-0.0)));
    assert_int_equal(ncalls, 2);
    kl_memo_opts plain = KL_MEMO_OPTS_INIT;
    KT_OK(kl_memo_configure(m, &plain));
}

/* Options under which the raw arguments are not the key (rounding, an
 * ignored argument, a hashed keymap) still give the right results. */
static void options_that_reshape_keys_still_work(void **state)
{
    (void)state;
    kl_memo *m = t_mix_memo();
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.tol = 1;
    KT_OK(kl_memo_configure(m, &o));
    ncalls = 0;
    assert_true(t_mix(1.04, 2, false) == 2.08);
    assert_true(t_mix(1.01, 2, false) == 2.08); /* rounds to the same key */
    assert_int_equal(ncalls, 1);

    o = (kl_memo_opts)KL_MEMO_OPTS_INIT;
    o.ignore = "neg";
    KT_OK(kl_memo_configure(m, &o));
    ncalls = 0;
    assert_true(t_mix(3, 2, false) == 6);
    assert_true(t_mix(3, 2, true) == 6); /* neg is not part of the key */
    assert_int_equal(ncalls, 1);

    o = (kl_memo_opts)KL_MEMO_OPTS_INIT;
    o.keymap.kind = KL_KEYMAP_HASH;
    o.keymap.algorithm = "md5";
    o.archive = "mem:typed-md5";
    KT_OK(kl_memo_configure(m, &o));
    ncalls = 0;
    assert_true(t_mix(3, 2, true) == -6);
    KT_OK(kl_memo_clear(m, false));
    assert_true(t_mix(3, 2, true) == -6);
    assert_int_equal(ncalls, 1); /* found again under its md5 key */
    kl_memo_opts plain = KL_MEMO_OPTS_INIT;
    KT_OK(kl_memo_configure(m, &plain));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_result_type_round_trips),
        cmocka_unit_test(wrong_type_in_archive_is_computed),
        cmocka_unit_test(lock_free_hits_decode_every_result_type),
        cmocka_unit_test(results_load_from_the_archive),
        cmocka_unit_test(memory_and_archive_keys_agree),
        cmocka_unit_test(float_arguments_merge_as_keys_do),
        cmocka_unit_test(options_that_reshape_keys_still_work),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kl_memo_free(t_half_memo());
    kl_memo_free(t_float_memo());
    kl_memo_free(t_int_memo());
    kl_memo_free(t_long_memo());
    kl_memo_free(t_i64_memo());
    kl_memo_free(t_odd_memo());
    kl_memo_free(t_mix_memo());
    return rc;
}
