/* SPDX-License-Identifier: BSD-3-Clause */
/* Looking into a memo while other threads call it: lookup, fetch,
 * foreach, dump_keys and load_keys concurrently with calls that hit, miss
 * and evict.  Every value seen is right and the statistics count exactly
 * the calls (the inspecting calls count nothing).  Also runs under
 * ThreadSanitizer. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "klepto.h"

enum { NKEYS = 300, CALLS = 4000, CALLERS = 2, LOOKS = 300 };

static int cube(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    int64_t x = call->pos[0].u.i;
    *out = kl_value_int(x * x * x);
    return 0;
}

/* the same function typed: its hits may be lock-free reads */
KL_MEMOIZE(int64_t, tcube, (int64_t, x))
{
    return x * x * x;
}

typedef struct worker {
    kl_memo *memo;
    unsigned seed;
    atomic_int *wrong;
} worker;

static void *typed_caller(void *p)
{
    worker *w = p;
    for (int i = 0; i < CALLS; i++) {
        int64_t x = rand_r(&w->seed) % NKEYS;
        if (tcube(x) != x * x * x)
            atomic_fetch_add(w->wrong, 1);
    }
    return NULL;
}

static void *caller(void *p)
{
    worker *w = p;
    for (int i = 0; i < CALLS; i++) {
        int64_t x = rand_r(&w->seed) % NKEYS;
        kl_value a = kl_value_int(x), r;
        kl_call c = {&a, 1, NULL, NULL, 0};
        if (kl_memo_call(w->memo, &c, &r) != 0 || r.u.i != x * x * x)
            atomic_fetch_add(w->wrong, 1);
    }
    return NULL;
}

static int check_entry(void *ctx, const kl_memo_entry *e)
{
    atomic_int *wrong = ctx;
    if (e->args->type != KL_ARRAY || e->args->u.a.len != 2) {
        atomic_fetch_add(wrong, 1);
        return 0;
    }
    const kl_value *x = &e->args->u.a.items[1]; /* ("x", x) */
    if (x->type != KL_INT || e->value->u.i != x->u.i * x->u.i * x->u.i)
        atomic_fetch_add(wrong, 1);
    return 0;
}

static void *inspector(void *p)
{
    worker *w = p;
    for (int i = 0; i < LOOKS; i++) {
        int64_t x = rand_r(&w->seed) % NKEYS;
        kl_value a = kl_value_int(x), r;
        kl_call c = {&a, 1, NULL, NULL, 0};
        int rc = kl_memo_lookup(w->memo, &c, &r);
        if (rc == 0 ? r.u.i != x * x * x : rc != KL_ENOTFOUND)
            atomic_fetch_add(w->wrong, 1);
        if (i % 10 == 0 && kl_memo_foreach(w->memo, check_entry, w->wrong) != 0)
            atomic_fetch_add(w->wrong, 1);
        if (kl_memo_dump_keys(w->memo, 1, &c, NULL) != 0 ||
            kl_memo_load_keys(w->memo, 1, &c, NULL) != 0)
            atomic_fetch_add(w->wrong, 1);
    }
    return NULL;
}

static void inspecting_while_calling(void **st)
{
    (void)st;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.cache.maxsize = 64; /* evicts all the time */
    o.cache.write_back = true;
    o.archive = "mem:inspect-threads";
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "cube", cube, NULL, &o));
    atomic_int wrong = 0;
    worker w[CALLERS + 1];
    pthread_t t[CALLERS + 1];
    for (int i = 0; i <= CALLERS; i++) {
        w[i] = (worker){m, 17u * (unsigned)i + 1, &wrong};
        assert_int_equal(pthread_create(&t[i], NULL, i < CALLERS ? caller : inspector, &w[i]), 0);
    }
    for (int i = 0; i <= CALLERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&wrong), 0);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.hit + info.miss + info.load, CALLERS * CALLS);
    assert_true(info.size <= 64);
    KT_OK(kl_memo_free(m));
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:inspect-threads", NULL));
    KT_OK(kl_archive_drop(ar));
}

/* A typed memo whose hits go lock-free ("inf" and "lru"), inspected by
 * generic calls meanwhile. */
static void inspecting_a_typed_memo_while_calling(void **st)
{
    (void)st;
    const char *policies[2] = {"inf", "lru"};
    for (int p = 0; p < 2; p++) {
        kl_memo_opts o = KL_MEMO_OPTS_INIT;
        o.signature = "x";
        o.cache.policy = policies[p];
        o.cache.maxsize = p == 0 ? KL_CACHE_UNBOUNDED : 64;
        o.archive = "mem:inspect-typed-threads";
        KT_OK(kl_memo_configure(tcube_memo(), &o));
        atomic_int wrong = 0;
        worker w[CALLERS + 1];
        pthread_t t[CALLERS + 1];
        for (int i = 0; i <= CALLERS; i++) {
            w[i] = (worker){tcube_memo(), 31u * (unsigned)i + 5, &wrong};
            assert_int_equal(
                pthread_create(&t[i], NULL, i < CALLERS ? typed_caller : inspector, &w[i]), 0);
        }
        for (int i = 0; i <= CALLERS; i++)
            pthread_join(t[i], NULL);
        assert_int_equal(atomic_load(&wrong), 0);
        kl_memo_info info;
        kl_memo_info_get(tcube_memo(), &info);
        assert_int_equal(info.hit + info.miss + info.load, CALLERS * CALLS);
        assert_int_equal(info.errors, 0);
        KT_OK(kl_memo_set_archive(tcube_memo(), NULL));
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, "mem:inspect-typed-threads", NULL));
        KT_OK(kl_archive_drop(ar));
    }
    KT_OK(kl_memo_free(tcube_memo()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inspecting_while_calling),
        cmocka_unit_test(inspecting_a_typed_memo_while_calling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
