/* SPDX-License-Identifier: BSD-3-Clause */
/* Allocation failure (support/alloc_fault.h): for each operation below,
 * the N-th allocation of the library fails, for every N the operation
 * makes.  The failure must reach the caller as KL_ENOMEM (or be absorbed:
 * 0), with the objects involved still usable afterwards: the cache
 * answers, the archive reopens and every entry written before reads back.
 * The memo sweep goes through signatures, key generation, keymaps, the
 * cache and a file: archive.  Under AddressSanitizer, LeakSanitizer checks that nothing leaks at the
 * end.  The number of failure points per operation is printed.
 *
 * SQLite's own allocations go through the hook too (installed with
 * SQLITE_CONFIG_MALLOC before SQLite's first use), and so do zstd's (the
 * dir: backend's contexts are made with the hook as their allocator:
 * alloc_fault.h).  An operation with more than 400 points (the sqlite
 * ones: SQLite allocates a thousand times and more) is swept at 400 points
 * spread over its range in `make test`, at every point with
 * KLEPTO_TEST_LONG=1 (`make test-long`).
 *
 * Not covered: allocations inside HDF5 and the C library (they do not go
 * through the hook). */
#define _GNU_SOURCE
#include "alloc_fault.h"
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/cache.h"
#include "klepto/codec.h"
#include "klepto/memo.h"
#include "klepto/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;

static int setup(void **st)
{
    (void)st;
    kt_tempdir_prefer_memory();
    return kt_tempdir_make(&tmp, "alloc");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

/* One operation: prepare (not armed), run (armed: its allocations
 * counted, one failed), check and clean up (not armed). */
typedef struct op {
    const char *name;
    void (*prepare)(void);
    int (*run)(void);
    void (*after)(int rc); /* checks the objects are usable; frees them */
} op;

/* Runs op with no failure, then with each of its allocations failing. */
static void sweep(const op *o)
{
    o->prepare();
    kt_alloc_fault_arm(0);
    int rc = o->run();
    kt_alloc_fault_disarm();
    long n = kt_alloc_fault_count();
    if (rc)
        fail_msg("%s fails without a fault: %s", o->name, kl_errmsg());
    o->after(rc);
    long step = kt_long() || n <= 400 ? 1 : (n + 399) / 400, swept = 0;
    for (long i = 1; i <= n; i += step, swept++) {
        o->prepare();
        kt_alloc_fault_arm(i);
        rc = o->run();
        kt_alloc_fault_disarm();
        if (rc != 0 && rc != KL_ENOMEM)
            fail_msg("%s, allocation %ld of %ld failing: %s (%d): %s", o->name, i, n,
                     kl_strerror(rc), rc, kl_errmsg());
        o->after(rc);
    }
    print_message("%s: %ld allocation failures swept (of %ld allocations)\n", o->name, swept, n);
}

/* ---- codec ------------------------------------------------------------------ */

static kl_value val;
static kl_buf out;
static const char literal[] =
    "{'k': [1, 2.5, 'text', b'\\x00\\x01', None, (True, -3)], 'n': {'deep': [[[]], {}]}}";

static void codec_prepare(void)
{
    KT_OK(kl_parse(literal, sizeof literal - 1, &val));
    kl_buf_reset(&out);
}
static int codec_run(void)
{
    int rc = kl_encode(&out, &val, 0);
    kl_value back;
    if (!rc && !(rc = kl_decode(out.data, out.len, &back)))
        kl_value_free(&back);
    kl_buf txt = KL_BUF_INIT;
    if (!rc)
        rc = kl_repr(&txt, &val);
    if (!rc && !(rc = kl_parse((const char *)txt.data, txt.len, &back)))
        kl_value_free(&back);
    kl_buf_reset(&txt);
    if (!rc)
        rc = kl_json(&txt, &val);
    if (!rc && !(rc = kl_json_parse((const char *)txt.data, txt.len, &back)))
        kl_value_free(&back);
    kl_buf_free(&txt);
    return rc;
}
static void codec_after(int rc)
{
    (void)rc;
    kl_value_free(&val);
    kl_buf_free(&out);
}

/* ---- the cache ------------------------------------------------------------ */

static kl_cache *cache;

static void cache_prepare(void)
{
    cache = NULL;
}
static int cache_run(void)
{
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.maxsize = 8;
    int rc = kl_cache_new(&cache, &o);
    kl_buf v = KL_BUF_INIT;
    for (int i = 0; !rc && i < 20; i++) {
        uint8_t k[2] = {0x18, (uint8_t)i}, x[3] = {0x42, (uint8_t)i, 7};
        rc = kl_cache_put(cache, k, sizeof k, x, sizeof x);
        if (!rc)
            rc = kl_cache_get(cache, k, sizeof k, &v, true);
    }
    kl_buf_free(&v);
    return rc;
}
static void cache_after(int rc)
{
    (void)rc;
    if (!cache)
        return;
    /* still usable */
    uint8_t k[2] = {0x18, 99}, x[1] = {0x01};
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_cache_put(cache, k, sizeof k, x, sizeof x));
    KT_OK(kl_cache_get(cache, k, sizeof k, &v, true));
    assert_int_equal(v.len, 1);
    kl_buf_free(&v);
    KT_OK(kl_cache_free(cache));
    cache = NULL;
}

/* ---- the memo: signature, keys, cache, archive ----------------------------- */

static kl_memo *memo;
static int calls;
static char memo_url[700];

static int square(void *ud, const kl_call *call, kl_value *result)
{
    (void)ud;
    calls++;
    int64_t x = call->npos ? call->pos[0].u.i : 0;
    *result = kl_value_int(x * x);
    return 0;
}

static void memo_prepare(void)
{
    memo = NULL;
    snprintf(memo_url, sizeof memo_url, "file:%s/memo.kle", tmp);
}
static int memo_run(void)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y=2.5, *args, **kw";
    o.archive = memo_url;
    o.cache.maxsize = 4;
    o.ignore = "y";
    int rc = kl_memo_new(&memo, "square", square, NULL, &o);
    for (int i = 0; !rc && i < 10; i++) {
        kl_value args[2] = {kl_value_int(i % 6), kl_value_int(1)};
        kl_call call = {args, 2, NULL, NULL, 0};
        kl_value r;
        rc = kl_memo_call(memo, &call, &r);
        if (!rc)
            kl_value_free(&r);
    }
    if (!rc)
        rc = kl_memo_dump(memo);
    return rc;
}
static void memo_after(int rc)
{
    (void)rc;
    if (!memo)
        return;
    /* still usable: a call answers right */
    kl_value args[1] = {kl_value_int(7)};
    kl_call call = {args, 1, NULL, NULL, 0};
    kl_value r;
    KT_OK(kl_memo_call(memo, &call, &r));
    assert_int_equal(r.u.i, 49);
    kl_value_free(&r);
    KT_OK(kl_memo_free(memo));
    memo = NULL;
}

static void memo_sweep(void **st)
{
    (void)st;
    sweep(&(op){"memo", memo_prepare, memo_run, memo_after});
}

/* ---- archives ----------------------------------------------------------------- */

static char url[700];
static kl_archive *ar;
enum { BEFORE = 6 };
/* with a value large enough to be compressed (dir:?compression=zstd), and
 * to be decompressed in steps (zstd then allocates a window): a CBOR byte
 * string of 300000 bytes */
static bool big_value;
static uint8_t big[300005];

static void put_before(void)
{
    kl_archive *a = NULL;
    KT_OK(kl_archive_open(&a, url, NULL));
    KT_OK(kl_archive_clear(a));
    for (int i = 0; i < BEFORE; i++) {
        uint8_t k[2] = {0x18, (uint8_t)i}, x[3] = {0x42, (uint8_t)i, 1};
        KT_OK(kl_archive_put(a, k, sizeof k, x, sizeof x));
    }
    KT_OK(kl_archive_close(a));
}

static void archive_prepare(void)
{
    put_before();
    ar = NULL;
}
/* open, single and batch puts, gets, iteration, verify, compaction,
 * close */
static int archive_run(void)
{
    int rc = kl_archive_open(&ar, url, NULL);
    uint8_t ks[4][2], xs[4][3];
    const void *kp[4], *xp[4];
    size_t kl[4], xl[4];
    for (int i = 0; i < 4; i++) {
        ks[i][0] = 0x18;
        ks[i][1] = (uint8_t)(20 + i);
        xs[i][0] = 0x42;
        xs[i][1] = (uint8_t)i;
        xs[i][2] = 2;
        kp[i] = ks[i];
        xp[i] = xs[i];
        kl[i] = 2;
        xl[i] = 3;
    }
    if (!rc)
        rc = kl_archive_put(ar, ks[0], 2, xs[0], 3);
    if (!rc)
        rc = kl_archive_put_many(ar, 4, kp, kl, xp, xl);
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    if (!rc)
        rc = kl_archive_get(ar, ks[1], 2, &v);
    if (big_value) {
        uint8_t bk[2] = {0x18, 40};
        if (!rc)
            rc = kl_archive_put(ar, bk, 2, big, sizeof big);
        if (!rc)
            rc = kl_archive_get(ar, bk, 2, &v);
        if (!rc && (v.len != sizeof big || memcmp(v.data, big, sizeof big)))
            fail_msg("%s: the large value reads back wrong", url);
    }
    kl_archive_iter *it = NULL;
    if (!rc && !(rc = kl_archive_iter_new(ar, &it))) {
        while ((rc = kl_archive_iter_next(it, &k, &v)) == 1)
            ;
        kl_archive_iter_free(it);
    }
    size_t problems = 0;
    if (!rc)
        rc = kl_archive_verify(ar, false, NULL, &problems);
    if (!rc)
        rc = kl_archive_compact(ar);
    kl_buf_free(&k);
    kl_buf_free(&v);
    int crc = kl_archive_close(ar);
    ar = NULL;
    return rc ? rc : crc;
}
static void archive_after(int rc)
{
    (void)rc;
    /* the archive reopens and what was written before reads back */
    kl_archive *a = NULL;
    KT_OK(kl_archive_open(&a, url, NULL));
    kl_buf v = KL_BUF_INIT;
    for (int i = 0; i < BEFORE; i++) {
        uint8_t k[2] = {0x18, (uint8_t)i};
        KT_OK(kl_archive_get(a, k, sizeof k, &v));
        assert_int_equal(v.len, 3);
        assert_int_equal(v.data[1], i);
    }
    size_t problems = 9;
    KT_OK(kl_archive_verify(a, false, NULL, &problems));
    assert_int_equal(problems, 0);
    kl_buf_free(&v);
    KT_OK(kl_archive_close(a));
}

/* url = scheme + the temporary folder + rest (mem: takes no folder) */
static void sweep_archive(const char *scheme, const char *rest, const char *name)
{
    snprintf(url, sizeof url, "%s%s%s", scheme, strcmp(scheme, "mem:") ? tmp : "", rest);
    char label[64];
    snprintf(label, sizeof label, "archive %s", name);
    sweep(&(op){label, archive_prepare, archive_run, archive_after});
}

static void codec_sweep(void **st)
{
    (void)st;
    sweep(&(op){"codec", codec_prepare, codec_run, codec_after});
}
static void cache_sweep(void **st)
{
    (void)st;
    sweep(&(op){"cache", cache_prepare, cache_run, cache_after});
}
static void archive_sweeps(void **st)
{
    (void)st;
    sweep_archive("mem:", "alloc-sweep", "mem:");
    sweep_archive("file:", "/a.kle", "file:");
    sweep_archive("dir:", "/d", "dir:");
    /* zstd's own allocations too (alloc_fault.h: its contexts allocate
     * through the hook) */
    big[0] = 0x5a; /* bytes, 4-byte length */
    big[1] = 0;
    big[2] = 300000 >> 16;
    big[3] = (300000 >> 8) & 0xff;
    big[4] = 300000 & 0xff;
    for (int i = 5; i < (int)sizeof big; i++)
        big[i] = (uint8_t)("klepto "[i % 7]);
    big_value = true;
    sweep_archive("dir:", "/z?compression=zstd", "dir: zstd");
    big_value = false;
    sweep_archive("sqlite:", "/s.db?table=t", "sqlite:");
    sweep_archive("sqlite:", "/tables.db", "sqlite: table-per-key");
}

int main(void)
{
    /* SQLite allocates through the hook too: set before its first use */
    if (kt_alloc_fault_sqlite() != 0) {
        fprintf(stderr, "test_alloc_fail: SQLite refuses the allocator hook\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_sweep),
        cmocka_unit_test(cache_sweep),
        cmocka_unit_test(memo_sweep),
        cmocka_unit_test(archive_sweeps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
