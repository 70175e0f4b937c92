/* SPDX-License-Identifier: BSD-3-Clause */
/* Load: 16 threads on one memo over each local archive kind (file:, dir:,
 * sqlite: in both layouts, hdf5:, hdf5dir:; mem: is in test_memo_threads),
 * with a small cache so that evictions and loads from the archive happen
 * all the time.  The threads ask for overlapping arguments; every result
 * is f(x), no call fails (info.errors == 0), each argument asked for was
 * computed exactly once (the archive remembers what memory evicted), hits
 * + misses + loads add up to the calls, and after a dump a fresh memo on
 * the same archive loads every stored result exactly, computing nothing.
 * Also runs under ThreadSanitizer: sanitized builds make fewer calls. */
#define _GNU_SOURCE
#include "sanitizers.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "klepto.h"

#define SANITIZED (KT_ASAN || KT_TSAN)

enum { THREADS = 16, NKEYS = 400, CACHE = 32 };

static atomic_int computed[NKEYS];
static atomic_int asked[NKEYS];
static atomic_int total_calls;

static int64_t f_of(int64_t x) { return x * x * 3 + 1; }

static int f(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    int64_t x = call->pos[0].u.i;
    atomic_fetch_add(&computed[x], 1);
    atomic_fetch_add(&total_calls, 1);
    usleep(50); /* so that concurrent misses of one argument overlap */
    *out = kl_value_int(f_of(x));
    return 0;
}

/* the fresh memo must compute nothing */
static int must_not_run(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    (void)call;
    (void)out;
    return KL_EFUNC;
}

typedef struct worker {
    kl_memo *memo;
    unsigned seed;
    int iterations;
    int wrong, errors;
} worker;

static void *hammer(void *p)
{
    worker *w = p;
    for (int i = 0; i < w->iterations; i++) {
        /* overlapping arguments: half from a hot set all threads share */
        int r = rand_r(&w->seed);
        int64_t x = r % 2 ? r / 2 % 40 : r / 2 % NKEYS;
        atomic_fetch_add(&asked[x], 1);
        kl_value a[1] = {kl_value_int(x)};
        kl_call c = {a, 1, NULL, NULL, 0};
        kl_value res;
        if (kl_memo_call(w->memo, &c, &res) != 0) {
            if (w->errors++ < 3)
                fprintf(stderr, "f(%lld): %s\n", (long long)x, kl_errmsg());
            continue;
        }
        if (res.type != KL_INT || res.u.i != f_of(x))
            w->wrong++;
        kl_value_free(&res);
    }
    return NULL;
}

static void run(const char *url, const char *policy)
{
    for (int i = 0; i < NKEYS; i++) {
        atomic_store(&computed[i], 0);
        atomic_store(&asked[i], 0);
    }
    atomic_store(&total_calls, 0);
    /* TSan: 300 calls per thread take ~10 s for the six kinds */
    const int iterations = kt_long() ? (SANITIZED ? 2000 : 10000) : SANITIZED ? 300 : 5000;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.cache.policy = policy;
    o.cache.maxsize = CACHE;
    o.archive = url;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "f", f, NULL, &o));
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){m, (unsigned)(i * 7919 + 1), iterations, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    int wrong = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        wrong += w[i].wrong;
        errors += w[i].errors;
    }
    assert_int_equal(wrong, 0);
    assert_int_equal(errors, 0);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.errors, 0);
    assert_int_equal(info.hit + info.miss + info.load, (uint64_t)THREADS * iterations);
    assert_int_equal(info.miss, (uint64_t)atomic_load(&total_calls));
    assert_true(info.size <= CACHE);
    assert_true(info.load > 0);      /* the small cache made it go to the archive */
    assert_true(info.evictions > 0);
    size_t distinct = 0;
    for (int i = 0; i < NKEYS; i++) {
        int a = atomic_load(&asked[i]), c = atomic_load(&computed[i]);
        if (a && c != 1)
            fail_msg("%s: f(%d) asked %d times, computed %d times", url, i, a, c);
        if (!a && c)
            fail_msg("%s: f(%d) computed but never asked", url, i);
        distinct += a > 0;
    }
    KT_OK(kl_memo_dump(m));
    KT_OK(kl_memo_free(m));
    print_message("%s: %d threads x %d calls, %zu arguments, %llu hits %llu loads %llu "
                  "evictions\n",
                  url, THREADS, iterations, distinct, (unsigned long long)info.hit,
                  (unsigned long long)info.load, (unsigned long long)info.evictions);

    /* a fresh memo on the same archive: everything comes back, exactly */
    kl_memo_opts fresh = KL_MEMO_OPTS_INIT;
    fresh.signature = "x";
    fresh.cache.maxsize = KL_CACHE_UNBOUNDED;
    fresh.archive = url;
    KT_OK(kl_memo_new(&m, "f", must_not_run, NULL, &fresh));
    size_t loaded = 0;
    KT_OK(kl_memo_load(m, &loaded));
    assert_int_equal(loaded, distinct);
    for (int i = 0; i < NKEYS; i++) {
        kl_value a[1] = {kl_value_int(i)};
        kl_call c = {a, 1, NULL, NULL, 0};
        kl_value res;
        int rc = kl_memo_lookup(m, &c, &res);
        if (!atomic_load(&asked[i])) {
            assert_int_equal(rc, KL_ENOTFOUND);
            continue;
        }
        KT_OK(rc);
        assert_int_equal(res.type, KL_INT);
        assert_int_equal(res.u.i, f_of(i));
        kl_value_free(&res);
    }
    kl_archive *ar = kl_memo_archive(m);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, distinct);
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 1;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    if (problems)
        fail_msg("%s: verify: %s", url, kl_buf_cstr(&rep));
    kl_buf_free(&rep);
    KT_OK(kl_archive_clear(ar));
    KT_OK(kl_memo_free(m));
}

static char *tmp;

static void local(const char *scheme, const char *fmt, const char *policy)
{
    if (!kl_feature(scheme)) {
        print_message("built without the %s backend: skipped\n", scheme);
        skip();
    }
    char url[700];
    snprintf(url, sizeof url, fmt, tmp);
    run(url, policy);
}

static void memo_file(void **st)
{
    (void)st;
    local("file", "file:%s/memo.kle", "lru");
}

static void memo_dir(void **st)
{
    (void)st;
    local("dir", "dir:%s/memo-dir", "lfu");
}

static void memo_sqlite_table(void **st)
{
    (void)st;
    local("sqlite", "sqlite:%s/memo.db?table=results", "lru");
}

static void memo_sqlite_table_per_key(void **st)
{
    (void)st;
    local("sqlite", "sqlite:%s/memo-tpk.db", "fifo");
}

static void memo_hdf5(void **st)
{
    (void)st;
    local("hdf5", "hdf5:%s/memo.h5", "lru");
}

static void memo_hdf5dir(void **st)
{
    (void)st;
    local("hdf5dir", "hdf5dir:%s/memo-h5", "rr");
}

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("loadmemo");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memo_file),         cmocka_unit_test(memo_dir),
        cmocka_unit_test(memo_sqlite_table), cmocka_unit_test(memo_sqlite_table_per_key),
        cmocka_unit_test(memo_hdf5),         cmocka_unit_test(memo_hdf5dir),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
