/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_readwrite.py (Python klepto): dir_archive
 * read and write of basic values and numpy arrays, replayed on our dir:
 * archive (klepto's dir_archive, cached=False: every access goes to the
 * folder) with nd-array values for numpy arrays (numpy's default integer
 * type, int64).
 *
 *   dir_archive(cached=False)                dir:PATH (a URL is uncached
 *                                            unless ?cached=true: klepto's
 *                                            default is cached=True)
 *   dir_archive(cached=False, compression=3) dir:PATH?compression=zstd&level=3
 *   dir_archive(cached=False, memmode='r+')  dir:PATH read back through
 *                                            kl_archive_get_view (arrays of
 *                                            64 KiB and more are mapped)
 *   d._rmdir(key)                            kl_archive_del
 *
 * Not applicable here:
 *   - d._mkdir / d._getdir: klepto's folder-per-key layout; ours names
 *     each entry's file by a hash of the key (docs/formats.md) and has no
 *     such calls;
 *   - d._fast, fast=True, d._serialized / serialized=False: klepto's
 *     choice between pickle, dill and Python source per value; ours has
 *     one encoding, canonical CBOR, so each of those runs is the same run;
 *   - values that are functions (min, a lambda, numpy.ptp) and numpy
 *     dtypes (a structured dtype): a C value has no functions or dtype
 *     objects to store.
 * Every assertion on the remaining values is klepto's (they read back
 * equal).  One deliberate difference (docs/from-python.md, "Archives"),
 * asserted by archive_urls_are_uncached_by_default: an archive is cached
 * only when asked (?cached=true), where klepto's default is cached=True. */
#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto.h"

static char *dir;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "klepto_readwrite");
}

static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

static kl_archive *open_url(const char *fmt)
{
    char url[512];
    snprintf(url, sizeof url, fmt, dir);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    return ar;
}

/* d[key] = value, with a text key */
static void put(kl_archive *ar, const char *key, const kl_value *v)
{
    kl_buf k = KL_BUF_INIT, b = KL_BUF_INIT;
    kl_value kv = kl_value_cstr_ref(key);
    KT_OK(kl_encode(&k, &kv, 0));
    KT_OK(kl_encode(&b, v, 0));
    KT_OK(kl_archive_put(ar, k.data, k.len, b.data, b.len));
    kl_buf_free(&k);
    kl_buf_free(&b);
}

/* assert d[key] == want */
static void assert_stored(kl_archive *ar, const char *key, const kl_value *want)
{
    kl_buf k = KL_BUF_INIT, b = KL_BUF_INIT;
    kl_value kv = kl_value_cstr_ref(key);
    KT_OK(kl_encode(&k, &kv, 0));
    KT_OK(kl_archive_get(ar, k.data, k.len, &b));
    kl_value got;
    KT_OK(kl_decode(b.data, b.len, &got));
    assert_true(kl_value_equal(&got, want));
    kl_value_free(&got);
    kl_buf_free(&k);
    kl_buf_free(&b);
}

static int del(kl_archive *ar, const char *key)
{
    kl_buf k = KL_BUF_INIT;
    kl_value kv = kl_value_cstr_ref(key);
    KT_OK(kl_encode(&k, &kv, 0));
    int rc = kl_archive_del(ar, k.data, k.len);
    if (rc == 0)
        rc = kl_archive_contains(ar, k.data, k.len);
    kl_buf_free(&k);
    return rc;
}

/* numpy.array(values) / numpy.arange(n): int64 */
static kl_value int64_array(const int64_t *values, size_t n)
{
    kl_value v;
    KT_OK(kl_value_ndarray(&v, KL_DT_INT64, 1, &n, values));
    return v;
}

static kl_value arange(size_t n)
{
    int64_t *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (int64_t)i;
    kl_value v = int64_array(x, n);
    free(x);
    return v;
}

/* ---- test_foo ---------------------------------------------------------- */

static void list_and_array_round_trip_under_one_key(void **state)
{
    (void)state;
    kl_archive *d = open_url("dir:%s/foo");
    const char *key = "1234TESTMETESTMETESTME1234";
    /* x = [1,2,3,4,5] */
    kl_value x = kl_value_array(false);
    for (int64_t i = 1; i <= 5; i++) {
        kl_value item = kl_value_int(i);
        KT_OK(kl_value_array_push(&x, &item));
    }
    put(d, key, &x);
    assert_stored(d, key, &x);
    assert_int_equal(del(d, key), 0); /* d._rmdir(key): gone */
    /* y = numpy.array(x) */
    static const int64_t five[] = {1, 2, 3, 4, 5};
    kl_value y = int64_array(five, 5);
    put(d, key, &y);
    assert_stored(d, key, &y);
    assert_int_equal(del(d, key), 0);
    kl_value_free(&x);
    kl_value_free(&y);
    KT_OK(kl_archive_drop(d)); /* rmtree('foo') */
}

/* ---- test_archive: check_basic and check_numpy per constructor --------- */

static void check_basic(kl_archive *d)
{
    kl_value a = kl_value_int(1), b = kl_value_cstr_ref("1"), e = kl_value_null();
    put(d, "a", &a);
    put(d, "b", &b);
    put(d, "e", &e);
    assert_stored(d, "a", &a);
    assert_stored(d, "b", &b);
    assert_stored(d, "e", &e);
}

static void check_numpy(kl_archive *d, bool views)
{
    static const int64_t five[] = {1, 2, 3, 4, 5};
    kl_value x = int64_array(five, 5), y = arange(1000), c = kl_value_float(INFINITY);
    put(d, "a", &x);
    put(d, "b", &y);
    put(d, "c", &c);
    assert_stored(d, "a", &x);
    assert_stored(d, "b", &y);
    assert_stored(d, "c", &c);
    if (views) {
        /* memmode='r+': the arrays read in place; a large one is mapped */
        kl_value big = arange(100000);
        put(d, "big", &big);
        const char *keys[] = {"a", "b", "big"};
        const kl_value *want[] = {&x, &y, &big};
        for (size_t i = 0; i < 3; i++) {
            kl_buf k = KL_BUF_INIT;
            kl_value kv = kl_value_cstr_ref(keys[i]);
            KT_OK(kl_encode(&k, &kv, 0));
            kl_view *v;
            KT_OK(kl_archive_get_view(d, k.data, k.len, &v));
            assert_int_equal(kl_view_dtype(v), KL_DT_INT64);
            assert_int_equal(kl_view_ndim(v), 1);
            assert_int_equal(kl_view_shape(v)[0], want[i]->u.nd.shape[0]);
            assert_int_equal(kl_view_bytes(v), kl_value_ndarray_bytes(want[i]));
            assert_memory_equal(kl_view_data(v), want[i]->u.nd.data, kl_view_bytes(v));
            assert_int_equal(kl_view_is_mapped(v), i == 2);
            kl_view_release(v);
            kl_buf_free(&k);
        }
        kl_value_free(&big);
    }
    kl_value_free(&x);
    kl_value_free(&y);
}

/* klepto's archives are cached (an in-memory front) unless cached=False;
 * an archive URL here is uncached unless it says ?cached=true, so
 * dir_archive(cached=False) is the plain URL */
static void archive_urls_are_uncached_by_default(void **state)
{
    (void)state;
    kl_archive *plain = open_url("dir:%s/memo_default");
    kl_archive *cached = open_url("dir:%s/memo_default?cached=true");
    assert_false(kl_cached_is(plain));
    assert_string_equal(kl_archive_scheme(plain), "dir");
    assert_true(kl_cached_is(cached));
    assert_int_equal(kl_cached_archived(cached), 1);
    /* a put to the cached front stays in its memory until dumped */
    kl_value one = kl_value_int(1);
    put(cached, "a", &one);
    size_t n;
    KT_OK(kl_archive_count(plain, &n));
    assert_int_equal(n, 0);
    KT_OK(kl_cached_dump(cached, 0, NULL, NULL, NULL));
    assert_stored(plain, "a", &one);
    KT_OK(kl_archive_close(cached));
    KT_OK(kl_archive_drop(plain));
}

static void dir_archive_uncached(void **state)
{
    (void)state;
    kl_archive *d = open_url("dir:%s/memo");
    check_basic(d);
    check_numpy(d, false);
    KT_OK(kl_archive_close(d));
    /* the values are in the folder: a new handle reads them */
    d = open_url("dir:%s/memo");
    kl_value e = kl_value_null(), c = kl_value_float(INFINITY), y = arange(1000);
    assert_stored(d, "e", &e);
    assert_stored(d, "c", &c);
    assert_stored(d, "b", &y);
    kl_value_free(&y);
    KT_OK(kl_archive_drop(d));
}

static void dir_archive_compressed(void **state)
{
    (void)state;
    kl_archive *d = open_url("dir:%s/memo_z?compression=zstd&level=3");
    check_basic(d);
    check_numpy(d, false);
    KT_OK(kl_archive_drop(d));
}

static void dir_archive_memory_mapped(void **state)
{
    (void)state;
    kl_archive *d = open_url("dir:%s/memo_mm");
    check_basic(d);
    check_numpy(d, true);
    KT_OK(kl_archive_drop(d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_and_array_round_trip_under_one_key),
        cmocka_unit_test(archive_urls_are_uncached_by_default),
        cmocka_unit_test(dir_archive_uncached),
        cmocka_unit_test(dir_archive_compressed),
        cmocka_unit_test(dir_archive_memory_mapped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
