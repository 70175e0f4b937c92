/* SPDX-License-Identifier: BSD-3-Clause */
/* Many threads on one memo: every result correct, every key computed once
 * (single-flight), statistics add up.  Also runs under ThreadSanitizer. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "klepto.h"

#define NKEYS 200
static atomic_int computed[NKEYS];
static atomic_int total_calls;

/* square(x) = x*x, slow enough that concurrent misses overlap */
static int square(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    int64_t x = call->pos[0].u.i;
    atomic_fetch_add(&computed[x], 1);
    atomic_fetch_add(&total_calls, 1);
    usleep(200);
    *out = kl_value_int(x * x);
    return 0;
}

typedef struct worker {
    kl_memo *memo;
    unsigned seed;
    int iterations;
    int wrong;
    int errors;
} worker;

static void *hammer(void *p)
{
    worker *w = p;
    for (int i = 0; i < w->iterations; i++) {
        int64_t x = rand_r(&w->seed) % NKEYS;
        kl_value a[1] = {kl_value_int(x)};
        kl_call c = {a, 1, NULL, NULL, 0};
        kl_value r;
        if (kl_memo_call(w->memo, &c, &r) != 0) {
            w->errors++;
            continue;
        }
        if (r.type != KL_INT || r.u.i != x * x)
            w->wrong++;
    }
    return NULL;
}

static void run(const char *policy, size_t maxsize, int nthreads)
{
    for (int i = 0; i < NKEYS; i++)
        atomic_store(&computed[i], 0);
    atomic_store(&total_calls, 0);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.cache.policy = policy;
    o.cache.maxsize = maxsize;
    o.archive = "mem:threads";
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "square", square, NULL, &o));
    pthread_t th[8];
    worker w[8];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker){m, (unsigned)(i * 7919 + 1), 3000, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].wrong, 0);
        assert_int_equal(w[i].errors, 0);
    }
    /* with the archive behind the cache, nothing is ever computed twice */
    for (int i = 0; i < NKEYS; i++)
        assert_true(atomic_load(&computed[i]) <= 1);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.hit + info.miss + info.load, (uint64_t)nthreads * 3000);
    assert_int_equal(info.miss, (uint64_t)atomic_load(&total_calls));
    assert_true(info.size <= maxsize);
    kl_archive *ar = kl_memo_archive(m);
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, (size_t)atomic_load(&total_calls));
    KT_OK(kl_archive_clear(ar));
    kl_memo_free(m);
}

static void four_threads_on_a_small_lru(void **state)
{
    (void)state;
    run("lru", 50, 4);
}

static void four_threads_on_an_unbounded_cache(void **state)
{
    (void)state;
    run("inf", KL_CACHE_UNBOUNDED, 4);
}

static void eight_threads_miss_one_key_and_compute_it_once(void **state)
{
    (void)state;
    /* All threads ask for the same missing key at once: single-flight. */
    for (int i = 0; i < NKEYS; i++)
        atomic_store(&computed[i], 0);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "square", square, NULL, &o));
    pthread_t th[8];
    worker w[8];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 8; i++) {
            w[i] = (worker){m, 0, 1, 0, 0};
            w[i].seed = 0; /* rand_r(0) % NKEYS is the same key for all */
        }
        KT_OK(kl_memo_clear(m, true));
        for (int i = 0; i < NKEYS; i++)
            atomic_store(&computed[i], 0);
        for (int i = 0; i < 8; i++)
            assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
        for (int i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(w[i].wrong + w[i].errors, 0);
        }
        int sum = 0;
        for (int i = 0; i < NKEYS; i++)
            sum += atomic_load(&computed[i]);
        assert_int_equal(sum, 1);
    }
    kl_memo_free(m);
}

/* A function that fails: the waiting callers of one flight all receive its
 * error, and it ran once. */
static atomic_int failing_calls, entered;

static int fail_slowly(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    (void)call;
    (void)out;
    atomic_fetch_add(&failing_calls, 1);
    /* wait until every thread has entered the memo, then give them ample
     * time to find this computation and queue behind it */
    while (atomic_load(&entered) < 8)
        usleep(100);
    usleep(200 * 1000);
    return KL_EFUNC;
}

typedef struct failer {
    kl_memo *memo;
    int rc;
} failer;

static void *call_failing(void *p)
{
    failer *f = p;
    kl_value a[1] = {kl_value_int(7)};
    kl_call c = {a, 1, NULL, NULL, 0};
    kl_value r;
    atomic_fetch_add(&entered, 1);
    f->rc = kl_memo_call(f->memo, &c, &r);
    if (f->rc == 0)
        kl_value_free(&r);
    return NULL;
}

static void waiters_of_a_failing_call_get_its_error(void **state)
{
    (void)state;
    atomic_store(&failing_calls, 0);
    atomic_store(&entered, 0);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "failing", fail_slowly, NULL, &o));
    pthread_t th[8];
    failer f[8];
    for (int i = 0; i < 8; i++) {
        f[i] = (failer){m, 0};
        assert_int_equal(pthread_create(&th[i], NULL, call_failing, &f[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(f[i].rc, KL_EFUNC);
    }
    assert_int_equal(atomic_load(&failing_calls), 1);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.size, 0); /* a failure is never cached */
    kl_memo_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(four_threads_on_a_small_lru),
        cmocka_unit_test(four_threads_on_an_unbounded_cache),
        cmocka_unit_test(eight_threads_miss_one_key_and_compute_it_once),
        cmocka_unit_test(waiters_of_a_failing_call_get_its_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
