/* SPDX-License-Identifier: BSD-3-Clause */
/* Statistics across runs (kl_archive_run_stats): a memo's dump and free
 * write its counts to a record of its own where the URL says ?stats=true
 * (and nowhere else); runs add up; the records'
 * reserved keys never show as entries (get, contains, stat, count,
 * iteration, batches, views, prune) and cannot be written as entries;
 * --zero removes them; a damaged record is reported by verify, reset by
 * repair, and left out of the sums, never a crash.  On every local kind,
 * and the cached front. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/handle.h"
#include "archive/run_stats.h"
#include "klepto.h"

static int calls_made;

static int square(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    calls_made++;
    *out = kl_value_int(call->pos[0].u.i * call->pos[0].u.i);
    return 0;
}

static kl_memo *memo_on(const char *url)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.archive = url;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "square", square, NULL, &o));
    return m;
}

static void call(kl_memo *m, int64_t x)
{
    kl_value a[1] = {kl_value_int(x)};
    kl_call c = {a, 1, NULL, NULL, 0};
    kl_value r;
    KT_OK(kl_memo_call(m, &c, &r));
    assert_int_equal(r.u.i, x * x);
    kl_value_free(&r);
}

static kl_run_stats stats_of(const char *url)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_run_stats s;
    KT_OK(kl_archive_run_stats(ar, &s));
    KT_OK(kl_archive_close(ar));
    return s;
}

static size_t count_of(kl_archive *ar)
{
    size_t n = 99;
    KT_OK(kl_archive_count(ar, &n));
    return n;
}

/* Every key the iteration yields decodes, and none is reserved. */
static size_t iterate(kl_archive *ar)
{
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    size_t n = 0;
    int r;
    while ((r = kl_archive_iter_next(it, &k, &v)) == 1) {
        assert_false(kl__is_run_stats_key(k.data, k.len));
        n++;
    }
    assert_int_equal(r, 0);
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    kl_buf_free(&v);
    return n;
}

/* The reserved keys themselves (marker, and a record of a given id). */
static void reserved_key(uint8_t *key, size_t *klen, bool marker, uint8_t idbyte)
{
    memcpy(key, KL__RS_PREFIX, KL__RS_PREFIX_LEN);
    if (marker) {
        key[KL__RS_PREFIX_LEN] = 0x40;
        *klen = KL__RS_MARKER_LEN;
    } else {
        key[KL__RS_PREFIX_LEN] = 0x40 | KL__RS_ID_LEN;
        memset(key + KL__RS_PREFIX_LEN + 1, idbyte, KL__RS_ID_LEN);
        *klen = KL__RS_KEY_LEN;
    }
}

/* One record's key as the archive stores it: found by walking the
 * backend's own iterator (the core's hides it). */
static bool first_record_key(kl_archive *ar, kl_buf *out)
{
    void *cur;
    KT_OK(ar->be->iter_new(ar->state, &cur));
    bool found = false;
    while (!found && ar->be->iter_next(cur, out, NULL) == 1)
        found = out->len == KL__RS_KEY_LEN && kl__is_run_stats_key(out->data, out->len);
    ar->be->iter_free(cur);
    return found;
}

/* The hidden keys are not entries, through every call of the core. */
static void reserved_keys_hidden(const char *url, size_t entries)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    assert_int_equal(count_of(ar), entries);
    assert_int_equal(iterate(ar), entries);
    kl_buf rk = KL_BUF_INIT;
    assert_true(first_record_key(ar, &rk)); /* the record is there, below */
    uint8_t mk[KL__RS_KEY_LEN];
    size_t mlen;
    reserved_key(mk, &mlen, true, 0);
    const uint8_t *keys[2] = {rk.data, mk};
    size_t lens[2] = {rk.len, mlen};
    for (size_t i = 0; i < 2; i++) {
        kl_buf v = KL_BUF_INIT;
        assert_int_equal(kl_archive_get(ar, keys[i], lens[i], &v), KL_ENOTFOUND);
        assert_int_equal(kl_archive_contains(ar, keys[i], lens[i]), 0);
        kl_entry_info info;
        assert_int_equal(kl_archive_stat(ar, keys[i], lens[i], &info), KL_ENOTFOUND);
        kl_view *view = NULL;
        assert_int_equal(kl_archive_get_view(ar, keys[i], lens[i], &view), KL_ENOTFOUND);
        assert_null(view);
        /* writes of a reserved key are refused, deletes find nothing */
        assert_int_equal(kl_archive_put(ar, keys[i], lens[i], "\x01", 1), KL_EINVAL);
        assert_non_null(strstr(kl_errmsg(), "reserved"));
        assert_int_equal(kl_archive_del(ar, keys[i], lens[i]), KL_ENOTFOUND);
        kl_buf_free(&v);
    }
    const void *vals[2] = {"\x01", "\x01"};
    size_t vlens[2] = {1, 1};
    assert_int_equal(kl_archive_put_many(ar, 2, (const void *const *)keys, lens, vals, vlens),
                     KL_EINVAL);
    kl_buf got[2] = {KL_BUF_INIT, KL_BUF_INIT};
    bool found[2] = {true, true};
    KT_OK(kl_archive_get_many(ar, 2, (const void *const *)keys, lens, got, found));
    assert_false(found[0]);
    assert_false(found[1]);
    size_t deleted = 9;
    KT_OK(kl_archive_del_many(ar, 2, (const void *const *)keys, lens, &deleted));
    assert_int_equal(deleted, 0);
    kl_buf_free(&got[0]);
    kl_buf_free(&got[1]);
    /* still there, untouched by all that */
    kl_run_stats s;
    KT_OK(kl_archive_run_stats(ar, &s));
    assert_true(s.records >= 1);
    assert_int_equal(s.damaged, 0);
    /* prune to one entry: the records are not entries, they stay */
    kl_prune_opts po = KL_PRUNE_OPTS_INIT;
    po.max_entries = 1;
    kl_prune_result pr;
    KT_OK(kl_archive_prune(ar, &po, &pr));
    assert_int_equal(pr.pruned, entries - 1);
    assert_int_equal(pr.left, 1);
    assert_int_equal(count_of(ar), 1);
    kl_run_stats after;
    KT_OK(kl_archive_run_stats(ar, &after));
    assert_int_equal(after.records, s.records);
    assert_int_equal(after.hits, s.hits);
    kl_buf_free(&rk);
    KT_OK(kl_archive_close(ar));
}

/* Two runs of a memo on url: counts add up, time saved follows the
 * measured misses, the keys stay hidden, --zero empties. */
static void runs_add_up(const char *url)
{
    /* run 1: 3 misses, 2 hits; dump writes the record, free rewrites it */
    kl_memo *m = memo_on(url);
    call(m, 1), call(m, 2), call(m, 3), call(m, 1), call(m, 2);
    KT_OK(kl_memo_dump(m));
    kl_run_stats s = stats_of(url);
    assert_int_equal(s.records, 1);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.loads, 0);
    assert_int_equal(s.miss_timed, 3);
    call(m, 3); /* one more hit, counted at free into the same record */
    KT_OK(kl_memo_free(m));
    s = stats_of(url);
    assert_int_equal(s.records, 1);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.misses, 3);
    uint64_t miss_ns = s.miss_ns;
    /* time saved: the record's mean miss cost times its hits and loads */
    assert_true(s.saved_ns + 1 >= miss_ns && s.saved_ns <= miss_ns + 1); /* 3/3 * 3 */

    /* run 2: loads the three from the archive, one new miss, one hit */
    m = memo_on(url);
    call(m, 1), call(m, 2), call(m, 3), call(m, 4), call(m, 4);
    KT_OK(kl_memo_free(m));
    s = stats_of(url);
    assert_int_equal(s.records, 2);
    assert_int_equal(s.hits, 4);
    assert_int_equal(s.misses, 4);
    assert_int_equal(s.loads, 3);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.miss_timed, 4);

    /* a memo that made no call leaves no record */
    m = memo_on(url);
    KT_OK(kl_memo_free(m));
    assert_int_equal(stats_of(url).records, 2);

    reserved_keys_hidden(url, 4);

    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t removed = 0;
    KT_OK(kl_archive_run_stats_zero(ar, &removed));
    assert_int_equal(removed, 2);
    KT_OK(kl_archive_run_stats(ar, &s));
    assert_int_equal(s.records + s.hits + s.misses + s.loads, 0);
    assert_int_equal(count_of(ar), 1); /* the entry prune left */
    kl_buf rk = KL_BUF_INIT;
    assert_false(first_record_key(ar, &rk));
    kl_buf_free(&rk);
    KT_OK(kl_archive_close(ar));
}

/* A record with bytes that do not decode: summed around, reported by
 * verify, reset by repair. */
static void damaged_record(const char *url)
{
    kl_memo *m = memo_on(url);
    call(m, 7), call(m, 7);
    KT_OK(kl_memo_free(m));
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    uint8_t bad[KL__RS_KEY_LEN];
    size_t blen;
    reserved_key(bad, &blen, false, 0xab);
    KT_OK(ar->be->put(ar->state, bad, blen, "\xff\x00garbage", 9));
    kl_run_stats s;
    KT_OK(kl_archive_run_stats(ar, &s));
    assert_int_equal(s.damaged, 1);
    assert_int_equal(s.records, 1); /* the good one, summed */
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 1);
    kl_buf report = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &report, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&report), "damaged run statistics record"));
    kl_buf_reset(&report);
    KT_OK(kl_archive_verify(ar, true, &report, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&report), "(reset)"));
    KT_OK(kl_archive_run_stats(ar, &s));
    assert_int_equal(s.damaged, 0);
    assert_int_equal(s.records, 1);
    assert_int_equal(count_of(ar), 1);
    kl_buf_reset(&report);
    KT_OK(kl_archive_verify(ar, false, &report, &problems));
    assert_int_equal(problems, 0);
    kl_buf_free(&report);
    KT_OK(kl_archive_close(ar));
}

static void each_local_kind(void (*fn)(const char *url), const char *tag)
{
    char *dir = kt_tmpdir(tag);
    const char *kinds[] = {"mem:%s",        "dir:%s/d",   "file:%s/f.klf", "sqlite:%s/s.db?table=t",
                           "sqlite:%s/k.db", "hdf5:%s/h.h5", "hdf5dir:%s/hd"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!strncmp(kinds[i], "hdf5", 4) && !kl_feature(i == 5 ? "hdf5" : "hdf5dir"))
            continue;
        char url[4200];
        if (i == 0)
            snprintf(url, sizeof url, "mem:rs_%s", tag);
        else
            snprintf(url, sizeof url, kinds[i], dir);
        strcat(url, strchr(url, '?') ? "&stats=true" : "?stats=true");
        print_message("%s\n", url);
        kl_archive *keep = NULL; /* mem: lives while a handle is open */
        KT_OK(kl_archive_open(&keep, url, NULL));
        fn(url);
        KT_OK(kl_archive_close(keep));
    }
    kt_rmrf(dir);
    free(dir);
}

static void test_runs_add_up(void **state)
{
    (void)state;
    each_local_kind(runs_add_up, "runs");
}

static void test_damaged_record(void **state)
{
    (void)state;
    each_local_kind(damaged_record, "damaged");
}

/* Through a cached front: the records go to the storage behind it. */
static void test_cached_front(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("front");
    char url[4300], storage[4200];
    snprintf(storage, sizeof storage, "dir:%s/d?stats=true", dir);
    snprintf(url, sizeof url, "%s&cached=true", storage);
    kl_memo *m = memo_on(url);
    call(m, 5), call(m, 5), call(m, 6);
    KT_OK(kl_memo_free(m));
    kl_run_stats s = stats_of(storage);
    assert_int_equal(s.records, 1);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 2);
    s = stats_of(url); /* read through the front too */
    assert_int_equal(s.hits, 1);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, storage, NULL));
    assert_int_equal(count_of(ar), 2);
    assert_int_equal(iterate(ar), 2);
    KT_OK(kl_archive_close(ar));
    kt_rmrf(dir);
    free(dir);
}

/* kl_memo_clear(keep_stats = false) between flushes loses nothing that
 * was flushed, and adds what came after. */
static void test_clear_between_flushes(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("clear");
    char url[4200];
    snprintf(url, sizeof url, "sqlite:%s/c.db?table=t&stats=true", dir);
    kl_memo *m = memo_on(url);
    call(m, 1), call(m, 1);
    KT_OK(kl_memo_dump(m));
    KT_OK(kl_memo_clear(m, false));
    call(m, 2), call(m, 2), call(m, 2);
    KT_OK(kl_memo_free(m));
    kl_run_stats s = stats_of(url);
    assert_int_equal(s.records, 1);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.misses, 2);
    kt_rmrf(dir);
    free(dir);
}

KL_MEMOIZE(int64_t, rs_cube, (int64_t, x)) { return x * x * x; }

/* The typed face: its misses are timed and its counts written at dump. */
static void test_typed_memo(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("typed");
    char url[4200];
    snprintf(url, sizeof url, "file:%s/t.klf?stats=true", dir);
    KT_OK(kl_memo_set_archive(rs_cube_memo(), url));
    for (int64_t x = 0; x < 4; x++)
        assert_int_equal(rs_cube(x), x * x * x);
    assert_int_equal(rs_cube(2), 8);
    KT_OK(kl_memo_dump(rs_cube_memo()));
    kl_run_stats s = stats_of(url);
    assert_int_equal(s.records, 1);
    assert_int_equal(s.misses, 4);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.miss_timed, 4);
    KT_OK(kl_memo_set_archive(rs_cube_memo(), NULL));
    kt_rmrf(dir);
    free(dir);
}

/* Without ?stats=true a memo leaves no record (the archive stays exactly
 * what Python klepto and other readers expect), and ?stats= takes a
 * boolean only. */
static void test_only_where_asked(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("asked");
    char url[4200];
    snprintf(url, sizeof url, "sqlite:%s/a.db?table=t", dir);
    kl_memo *m = memo_on(url);
    call(m, 1), call(m, 1);
    KT_OK(kl_memo_free(m));
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_run_stats s;
    KT_OK(kl_archive_run_stats(ar, &s));
    assert_int_equal(s.records, 0);
    kl_buf rk = KL_BUF_INIT;
    assert_false(first_record_key(ar, &rk));
    size_t n = 0;
    KT_OK(ar->be->count(ar->state, &n)); /* the backend's own count: one row */
    assert_int_equal(n, 1);
    kl_buf_free(&rk);
    KT_OK(kl_archive_close(ar));
    snprintf(url, sizeof url, "sqlite:%s/a.db?table=t&stats=maybe", dir);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "stats"));
    kt_rmrf(dir);
    free(dir);
}

static void test_bad_calls(void **state)
{
    (void)state;
    kl_run_stats s;
    assert_int_equal(kl_archive_run_stats(NULL, &s), KL_EINVAL);
    assert_int_equal(kl_archive_run_stats_zero(NULL, NULL), KL_EINVAL);
    char *dir = kt_tmpdir("ro");
    char url[4200];
    snprintf(url, sizeof url, "dir:%s/d?stats=true", dir);
    kl_memo *m = memo_on(url);
    call(m, 1);
    KT_OK(kl_memo_free(m));
    kl_archive_opts ro = KL_ARCHIVE_OPTS_INIT;
    ro.read_only = true;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, &ro));
    assert_int_equal(kl_archive_run_stats_zero(ar, NULL), KL_EPERM);
    KT_OK(kl_archive_run_stats(ar, &s)); /* reading works read-only */
    assert_int_equal(s.records, 1);
    KT_OK(kl_archive_close(ar));
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_add_up),     cmocka_unit_test(test_damaged_record),
        cmocka_unit_test(test_cached_front),    cmocka_unit_test(test_clear_between_flushes),
        cmocka_unit_test(test_typed_memo),      cmocka_unit_test(test_only_where_asked),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
