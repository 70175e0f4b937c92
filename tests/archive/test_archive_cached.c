/* SPDX-License-Identifier: BSD-3-Clause */
/* The cached front, klepto's cached=True: conformance over several backing
 * kinds, and load, dump, sync(clear), archived, drop, fetch and replacing
 * the backing archive, with klepto's semantics. */
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

/* The front answers as klepto's cached archive, a dictionary: what it
 * holds is what is in memory, so a reopened front starts empty (not
 * KT_ARCH_PERSISTENT) and clear empties memory only (not KT_ARCH_DROP);
 * the storage behind it is checked by the tests below. */
static void conformance(void **st)
{
    (void)st;
    char url[600];
    kt_archive_suite("mem:cachedsuite?cached=true", 0);
    snprintf(url, sizeof url, "dir:%s/d?cached=true", tmp);
    kt_archive_suite(url, 0);
    snprintf(url, sizeof url, "file:%s/f.kle?sync=none&cached=true", tmp);
    kt_archive_suite(url, 0);
    kt_archive_suite("null:?cached=true", 0);
}

static size_t mem_entries(kl_archive *c, size_t *unsaved)
{
    size_t n = 0, u = 0;
    KT_OK(kl_cached_mem_count(c, &n, &u));
    if (unsaved)
        *unsaved = u;
    return n;
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
    size_t unsaved = 0;
    assert_int_equal(mem_entries(c, &unsaved), 2);
    assert_int_equal(unsaved, 2);
    const void *keys[1] = {"a"};
    size_t klens[1] = {1}, done = 0;
    KT_OK(kl_cached_dump(c, 1, keys, klens, &done));
    assert_int_equal(done, 1);
    assert_int_equal(kl_archive_contains(peek, "a", 1), 1);
    assert_int_equal(kl_archive_contains(peek, "b", 1), 0);
    /* klepto's dump(): every entry in memory, saved or not */
    KT_OK(kl_cached_dump(c, 0, NULL, NULL, &done));
    assert_int_equal(done, 2);
    assert_int_equal(kl_archive_contains(peek, "b", 1), 1);
    mem_entries(c, &unsaved);
    assert_int_equal(unsaved, 0);
    kl_archive_close(peek);
    kl_archive_close(c);
}

/* get, contains, count and iteration are memory's; kl_cached_fetch reads
 * through to the storage and keeps what it found. */
static void lookups_answer_from_memory(void **st)
{
    (void)st;
    kl_archive *back = NULL, *c = NULL, *peek = NULL;
    KT_OK(kl_archive_open(&back, "mem:c4", NULL));
    KT_OK(kl_archive_open(&peek, "mem:c4", NULL));
    KT_OK(kl_archive_put(peek, "s", 1, "stored", 6));
    KT_OK(kl_cached_new(&c, back, NULL));
    KT_OK(kl_archive_put(c, "m", 1, "memory", 6));
    kl_buf v = KL_BUF_INIT;
    assert_int_equal(kl_archive_get(c, "s", 1, &v), KL_ENOTFOUND);
    assert_int_equal(kl_archive_contains(c, "s", 1), 0);
    size_t n = 0;
    KT_OK(kl_archive_count(c, &n));
    assert_int_equal(n, 1);
    kl_archive_iter *it = NULL;
    kl_buf k = KL_BUF_INIT;
    KT_OK(kl_archive_iter_new(c, &it));
    assert_int_equal(kl_archive_iter_next(it, &k, &v), 1);
    assert_memory_equal(k.data, "m", 1);
    assert_int_equal(kl_archive_iter_next(it, &k, &v), 0);
    kl_archive_iter_free(it);
    /* read through */
    KT_OK(kl_cached_fetch(c, "s", 1, &v));
    assert_int_equal(v.len, 6);
    assert_memory_equal(v.data, "stored", 6);
    size_t unsaved = 0;
    assert_int_equal(mem_entries(c, &unsaved), 2);
    assert_int_equal(unsaved, 1); /* fetched entries are saved already */
    assert_int_equal(kl_archive_contains(c, "s", 1), 1);
    assert_int_equal(kl_cached_fetch(c, "zz", 2, &v), KL_ENOTFOUND);
    /* clear: memory only (klepto's dict clear); the storage keeps "s" */
    KT_OK(kl_archive_clear(c));
    assert_int_equal(mem_entries(c, NULL), 0);
    assert_int_equal(kl_archive_contains(peek, "s", 1), 1);
    assert_int_equal(kl_archive_contains(peek, "m", 1), 0); /* never dumped */
    kl_buf_free(&k);
    kl_buf_free(&v);
    KT_OK(kl_archive_close(c));
    KT_OK(kl_archive_drop(peek));
}

/* klepto's load overwrites memory; sync(clear=False) dumps then loads
 * back; sync(clear=True) replaces the storage by memory; memory is kept. */
static void load_and_sync_as_klepto(void **st)
{
    (void)st;
    kl_archive *back = NULL, *c = NULL, *peek = NULL;
    KT_OK(kl_archive_open(&back, "mem:c5", NULL));
    KT_OK(kl_archive_open(&peek, "mem:c5", NULL));
    KT_OK(kl_archive_put(peek, "a", 1, "old", 3));
    KT_OK(kl_archive_put(peek, "d", 1, "4", 1));
    KT_OK(kl_cached_new(&c, back, NULL));
    /* load given keys (missing ones skipped), then all */
    const void *lk[2] = {"d", "zz"};
    size_t ll[2] = {1, 2}, done = 0;
    KT_OK(kl_cached_load(c, 2, lk, ll, &done));
    assert_int_equal(done, 1);
    /* an unsaved change is overwritten by a load, as klepto's update() */
    KT_OK(kl_archive_put(c, "a", 1, "new", 3));
    KT_OK(kl_cached_load(c, 0, NULL, NULL, &done));
    assert_int_equal(done, 2);
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_archive_get(c, "a", 1, &v));
    assert_memory_equal(v.data, "old", 3);
    size_t unsaved = 0;
    mem_entries(c, &unsaved);
    assert_int_equal(unsaved, 0);

    /* sync(clear=false): memory to storage, storage back into memory */
    KT_OK(kl_archive_put(c, "b", 1, "2", 1));
    KT_OK(kl_archive_put(peek, "e", 1, "5", 1)); /* written by someone else */
    KT_OK(kl_cached_sync(c, false));
    assert_int_equal(kl_archive_contains(peek, "b", 1), 1);
    assert_int_equal(kl_archive_contains(c, "e", 1), 1);
    assert_int_equal(mem_entries(c, NULL), 4);

    /* sync(clear=true): the storage emptied, then memory dumped into it;
     * memory stays */
    KT_OK(kl_archive_del(peek, "e", 1));
    KT_OK(kl_archive_put(peek, "x", 1, "9", 1)); /* not in memory: goes */
    KT_OK(kl_cached_sync(c, true));
    assert_int_equal(kl_archive_contains(peek, "x", 1), 0);
    size_t n = 0;
    KT_OK(kl_archive_count(peek, &n));
    assert_int_equal(n, 4); /* a, b, d, e from memory */
    assert_int_equal(mem_entries(c, NULL), 4);
    kl_buf_free(&v);
    KT_OK(kl_archive_close(c));
    KT_OK(kl_archive_drop(peek));
}

/* archived(False) makes the front a plain dictionary; klepto's drop
 * (kl_cached_drop) detaches the storage without touching it, while
 * kl_archive_drop destroys it; replacing the backing archive. */
static void archived_drop_and_backing(void **st)
{
    (void)st;
    kl_archive *back = NULL, *c = NULL, *peek = NULL;
    KT_OK(kl_archive_open(&back, "mem:c6", NULL));
    KT_OK(kl_archive_open(&peek, "mem:c6", NULL));
    KT_OK(kl_cached_new(&c, back, NULL));
    KT_OK(kl_archive_put(c, "a", 1, "1", 1));
    KT_OK(kl_cached_sync(c, false));
    KT_OK(kl_cached_set_archived(c, false));
    assert_int_equal(kl_cached_archived(c), 0);
    KT_OK(kl_archive_put(c, "e", 1, "5", 1));
    KT_OK(kl_cached_sync(c, false));
    KT_OK(kl_cached_dump(c, 0, NULL, NULL, NULL));
    assert_int_equal(kl_archive_contains(peek, "e", 1), 0);
    KT_OK(kl_cached_set_archived(c, true));
    KT_OK(kl_cached_sync(c, false));
    assert_int_equal(kl_archive_contains(peek, "e", 1), 1);

    /* del reaches the backing (a deliberate difference: klepto's del is
     * the dict's, memory only) */
    KT_OK(kl_archive_del(c, "a", 1));
    assert_int_equal(kl_archive_contains(peek, "a", 1), 0);
    assert_int_equal(kl_archive_del(c, "a", 1), KL_ENOTFOUND);

    /* replace the backing archive: everything in memory goes to the new one */
    kl_archive *other = NULL, *old = NULL, *peek2 = NULL;
    KT_OK(kl_archive_open(&other, "mem:c7", NULL));
    KT_OK(kl_archive_open(&peek2, "mem:c7", NULL));
    KT_OK(kl_cached_set_backing(c, other, &old));
    assert_ptr_equal(old, back);
    size_t done = 0, n = 0;
    KT_OK(kl_cached_dump(c, 0, NULL, NULL, &done));
    KT_OK(kl_archive_count(peek2, &n));
    assert_int_equal(n, done);
    assert_int_equal(n, 1);
    KT_OK(kl_archive_close(old));

    /* kl_cached_drop: detached, storage intact, memory kept */
    KT_OK(kl_archive_put(c, "f", 1, "6", 1));
    KT_OK(kl_cached_drop(c));
    assert_null(kl_cached_backing(c));
    assert_int_equal(kl_cached_archived(c), 0);
    assert_int_equal(kl_cached_set_archived(c, true), KL_EINVAL);
    assert_int_equal(mem_entries(c, NULL), 2);
    KT_OK(kl_archive_count(peek2, &n));
    assert_int_equal(n, 1); /* "f" was never dumped, "e" still there */
    KT_OK(kl_archive_close(c));
    KT_OK(kl_archive_count(peek2, &n));
    assert_int_equal(n, 1); /* a detached front writes nothing at close */

    /* kl_archive_drop destroys the backing storage */
    KT_OK(kl_archive_open(&other, "mem:c7", NULL));
    KT_OK(kl_cached_new(&c, other, NULL));
    KT_OK(kl_archive_drop(c));
    KT_OK(kl_archive_count(peek2, &n));
    assert_int_equal(n, 0);
    kl_archive_close(peek);
    kl_archive_close(peek2);
}

/* close writes what is unsaved (klepto's cache writes nothing when it
 * goes away: a deliberate difference, docs/from-python.md), and a new
 * front over the storage finds it after a load. */
static void close_writes_unsaved_entries(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "dir:%s/persist?cached=true", tmp);
    kl_archive *c = NULL;
    KT_OK(kl_archive_open(&c, url, NULL));
    KT_OK(kl_archive_put(c, "k", 1, "v", 1));
    KT_OK(kl_archive_close(c));
    KT_OK(kl_archive_open(&c, url, NULL));
    assert_int_equal(kl_archive_contains(c, "k", 1), 0); /* memory starts empty */
    size_t done = 0;
    KT_OK(kl_cached_load(c, 0, NULL, NULL, &done));
    assert_int_equal(done, 1);
    assert_int_equal(kl_archive_contains(c, "k", 1), 1);
    KT_OK(kl_archive_drop(c));
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
    assert_int_equal(done, N); /* klepto's dump(): every entry */
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
        cmocka_unit_test(lookups_answer_from_memory),
        cmocka_unit_test(load_and_sync_as_klepto),
        cmocka_unit_test(archived_drop_and_backing),
        cmocka_unit_test(close_writes_unsaved_entries),
        cmocka_unit_test(dump_in_batches),
        cmocka_unit_test(write_through_and_url_form),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
