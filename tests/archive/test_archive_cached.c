/* SPDX-License-Identifier: BSD-3-Clause */
/* The cached front: conformance over several backing kinds, and load,
 * dump, sync(clear), archived, drop and replacing the backing archive. */
#include "archive_suite.h"
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/cached.h"
#include "klepto/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&tmp, "cached");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

static void conformance(void **st)
{
    (void)st;
    char url[600];
    kt_archive_suite("mem:cachedsuite?cached=true", KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    snprintf(url, sizeof url, "dir:%s/d?cached=true", tmp);
    kt_archive_suite(url, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    snprintf(url, sizeof url, "file:%s/f.kle?sync=none&cached=true", tmp);
    kt_archive_suite(url, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    kt_archive_suite("null:?cached=true", KT_ARCH_DROP);
}

static void put_stays_in_memory_until_dump(void **st)
{
    (void)st;
    kl_archive *back = NULL, *c = NULL, *peek = NULL;
    KT_OK(kl_archive_open(&back, "mem:c1", NULL));
    KT_OK(kl_archive_open(&peek, "mem:c1", NULL));
    KT_OK(kl_cached_new(&c, back, NULL));
    assert_true(kl_cached_is(c));
    assert_false(kl_cached_is(peek));
    assert_int_equal(kl_cached_archived(c), 1);
    assert_ptr_equal(kl_cached_backing(c), back);
    KT_OK(kl_archive_put(c, "a", 1, "1", 1));
    KT_OK(kl_archive_put(c, "b", 1, "2", 1));
    assert_int_equal(kl_archive_contains(peek, "a", 1), 0);
    size_t n = 0, unsaved = 0;
    KT_OK(kl_cached_mem_count(c, &n, &unsaved));
    assert_int_equal(n, 2);
    assert_int_equal(unsaved, 2);
    const void *keys[1] = {"a"};
    size_t klens[1] = {1}, done = 0;
    KT_OK(kl_cached_dump(c, 1, keys, klens, &done));
    assert_int_equal(done, 1);
    assert_int_equal(kl_archive_contains(peek, "a", 1), 1);
    assert_int_equal(kl_archive_contains(peek, "b", 1), 0);
    KT_OK(kl_cached_dump(c, 0, NULL, NULL, &done));
    assert_int_equal(done, 1);
    assert_int_equal(kl_archive_contains(peek, "b", 1), 1);
    KT_OK(kl_cached_mem_count(c, &n, &unsaved));
    assert_int_equal(unsaved, 0);

    /* sync(clear): memory emptied, entries still reachable through the backing */
    KT_OK(kl_archive_put(c, "c", 1, "3", 1));
    KT_OK(kl_cached_sync(c, true));
    KT_OK(kl_cached_mem_count(c, &n, &unsaved));
    assert_int_equal(n, 0);
    assert_int_equal(kl_archive_contains(peek, "c", 1), 1);
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_archive_get(c, "c", 1, &v)); /* a load */
    KT_OK(kl_cached_mem_count(c, &n, &unsaved));
    assert_int_equal(n, 1);

    /* load all / given keys */
    KT_OK(kl_archive_put(peek, "d", 1, "4", 1));
    KT_OK(kl_cached_sync(c, true));
    const void *lk[2] = {"d", "zz"};
    size_t ll[2] = {1, 2};
    KT_OK(kl_cached_load(c, 2, lk, ll, &done));
    assert_int_equal(done, 1);
    KT_OK(kl_cached_load(c, 0, NULL, NULL, &done));
    assert_int_equal(done, 4);
    /* an unsaved change is not overwritten by a load */
    KT_OK(kl_archive_put(c, "a", 1, "new", 3));
    KT_OK(kl_cached_load(c, 0, NULL, NULL, &done));
    assert_int_equal(done, 3);
    KT_OK(kl_archive_get(c, "a", 1, &v));
    assert_int_equal(v.len, 3);

    /* archived off: a plain dictionary; the backing archive is not touched */
    KT_OK(kl_cached_set_archived(c, false));
    assert_int_equal(kl_cached_archived(c), 0);
    KT_OK(kl_archive_put(c, "e", 1, "5", 1));
    KT_OK(kl_cached_sync(c, false));
    assert_int_equal(kl_archive_contains(peek, "e", 1), 0);
    KT_OK(kl_archive_count(c, &n));
    assert_int_equal(n, 5);
    KT_OK(kl_cached_set_archived(c, true));
    KT_OK(kl_cached_sync(c, false));
    assert_int_equal(kl_archive_contains(peek, "e", 1), 1);

    /* del reaches the backing */
    KT_OK(kl_archive_del(c, "d", 1));
    assert_int_equal(kl_archive_contains(peek, "d", 1), 0);
    assert_int_equal(kl_archive_del(c, "d", 1), KL_ENOTFOUND);

    /* replace the backing archive: everything in memory goes to the new one */
    kl_archive *other = NULL, *old = NULL, *peek2 = NULL;
    KT_OK(kl_archive_open(&other, "mem:c2", NULL));
    KT_OK(kl_archive_open(&peek2, "mem:c2", NULL));
    KT_OK(kl_cached_set_backing(c, other, &old));
    assert_ptr_equal(old, back);
    KT_OK(kl_cached_dump(c, 0, NULL, NULL, &done));
    KT_OK(kl_archive_count(peek2, &n));
    assert_int_equal(n, done);
    assert_true(n >= 4);
    KT_OK(kl_archive_close(old));

    /* drop destroys the backing storage */
    KT_OK(kl_archive_drop(c));
    KT_OK(kl_archive_count(peek2, &n));
    assert_int_equal(n, 0);
    kl_buf_free(&v);
    kl_archive_close(peek);
    kl_archive_close(peek2);
}

/* A dump larger than one batch, over an hdf5: file (one file rewrite per
 * batch): every entry arrives, a key given twice is written once, and
 * nothing is left unsaved. */
static void dump_in_batches(void **st)
{
    (void)st;
    if (!kl_feature("hdf5")) {
        print_message("built without HDF5 (KLEPTO_WITH_HDF5=OFF): skipped\n");
        skip();
    }
    char url[600];
    snprintf(url, sizeof url, "hdf5:%s/batches.h5?sync=none", tmp);
    kl_archive *back = NULL, *c = NULL, *peek = NULL;
    KT_OK(kl_archive_open(&back, url, NULL));
    KT_OK(kl_cached_new(&c, back, NULL));
    enum { N = 1300 };
    char k[32], v[32];
    for (int i = 0; i < N; i++) {
        int kl = snprintf(k, sizeof k, "key%d", i), vl = snprintf(v, sizeof v, "val%d", i * 7);
        KT_OK(kl_archive_put(c, k, (size_t)kl, v, (size_t)vl));
    }
    const void *keys[3] = {"key5", "key5", "key6"};
    size_t klens[3] = {4, 4, 4}, done = 0, n = 0, unsaved = 0;
    KT_OK(kl_cached_dump(c, 3, keys, klens, &done));
    assert_int_equal(done, 2);
    KT_OK(kl_cached_dump(c, 0, NULL, NULL, &done));
    assert_int_equal(done, N - 2);
    KT_OK(kl_cached_mem_count(c, &n, &unsaved));
    assert_int_equal(unsaved, 0);
    KT_OK(kl_archive_close(c));
    KT_OK(kl_archive_open(&peek, url, NULL));
    KT_OK(kl_archive_count(peek, &n));
    assert_int_equal(n, N);
    kl_buf val = KL_BUF_INIT;
    for (int i = 0; i < N; i += 97) {
        int kl = snprintf(k, sizeof k, "key%d", i), vl = snprintf(v, sizeof v, "val%d", i * 7);
        KT_OK(kl_archive_get(peek, k, (size_t)kl, &val));
        assert_int_equal(val.len, (size_t)vl);
        assert_memory_equal(val.data, v, (size_t)vl);
    }
    kl_buf_free(&val);
    KT_OK(kl_archive_close(peek));
}

static void write_through_and_url_form(void **st)
{
    (void)st;
    kl_archive *back = NULL, *c = NULL, *peek = NULL;
    KT_OK(kl_archive_open(&back, "mem:c3", NULL));
    KT_OK(kl_archive_open(&peek, "mem:c3", NULL));
    kl_cached_opts o = KL_CACHED_OPTS_INIT;
    o.write_through = true;
    KT_OK(kl_cached_new(&c, back, &o));
    KT_OK(kl_archive_put(c, "a", 1, "1", 1));
    assert_int_equal(kl_archive_contains(peek, "a", 1), 1);
    KT_OK(kl_archive_close(c));

    KT_OK(kl_archive_open(&c, "mem:c3?cached=true", NULL));
    assert_true(kl_cached_is(c));
    assert_string_equal(kl_archive_url(c), "mem:c3?cached=true");
    KT_OK(kl_archive_put(c, "b", 1, "2", 1));
    KT_OK(kl_archive_close(c)); /* close dumps */
    assert_int_equal(kl_archive_contains(peek, "b", 1), 1);
    KT_OK(kl_archive_drop(peek));

    /* not a cached handle */
    kl_archive *m = NULL;
    KT_OK(kl_archive_open(&m, "mem:", NULL));
    assert_int_equal(kl_cached_sync(m, false), KL_EINVAL);
    assert_int_equal(kl_cached_archived(m), KL_EINVAL);
    kl_archive_close(m);
    /* memory only */
    KT_OK(kl_cached_new(&c, NULL, NULL));
    assert_int_equal(kl_cached_archived(c), 0);
    assert_int_equal(kl_cached_set_archived(c, true), KL_EINVAL);
    KT_OK(kl_archive_put(c, "x", 1, "1", 1));
    assert_int_equal(kl_archive_contains(c, "x", 1), 1);
    KT_OK(kl_archive_close(c));
}

int main(void)
{
    /* many small files: a tmpfs keeps this fast (test_archive_dir checks the disk) */
    kt_tempdir_prefer_memory();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conformance),
        cmocka_unit_test(put_stays_in_memory_until_dump),
        cmocka_unit_test(dump_in_batches),
        cmocka_unit_test(write_through_and_url_form),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
