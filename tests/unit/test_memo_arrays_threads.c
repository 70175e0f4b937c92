/* SPDX-License-Identifier: BSD-3-Clause */
/* KL_MEMOIZE's general form from many threads: array arguments, array
 * and object out-parameters.  Every call returns the right result, and a
 * missing key is computed once however many threads ask for it at once
 * (the others wait and take the result: out arrays filled from it). */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdint.h>

#include "klepto.h"

#define NKEYS 50
#define NTHREADS 4
#define CALLS 4000
#define DIM 6

static int body_calls;

KL_MEMOIZE(int, scale, KL_ARR(double, x, n), (int, k), KL_OUT_ARR(double, out, m))
{
    __atomic_add_fetch(&body_calls, 1, __ATOMIC_RELAXED);
    for (size_t i = 0; i < n && i < m; i++)
        out[i] = x[i] * k;
    return 0;
}

static void point(int key, double *x)
{
    for (int i = 0; i < DIM; i++)
        x[i] = key * 0.5 + i;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    long wrong = 0;
    for (int c = 0; c < CALLS; c++) {
        seed = seed * 1103515245u + 12345u;
        int key = (int)((seed >> 8) % NKEYS);
        double x[DIM], out[DIM];
        point(key, x);
        if (scale(x, DIM, 3, out, DIM) != 0)
            wrong++;
        for (int i = 0; i < DIM; i++)
            if (out[i] != x[i] * 3)
                wrong++;
    }
    return (void *)wrong;
}

static void threads_share_results(void **state)
{
    (void)state;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.maxsize = 1000;
    KT_OK(kl_memo_configure(scale_memo(), &o));
    body_calls = 0;
    pthread_t th[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)(i + 1)), 0);
    long wrong = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        wrong += (long)r;
    }
    assert_int_equal(wrong, 0);
    assert_int_equal(body_calls, NKEYS); /* each key computed once */
    kl_memo_info info;
    kl_memo_info_get(scale_memo(), &info);
    assert_int_equal(info.miss, NKEYS);
    assert_int_equal(info.hit + info.miss, NTHREADS * CALLS);
    assert_int_equal(info.errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_share_results),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kl_memo_free(scale_memo());
    return rc;
}
