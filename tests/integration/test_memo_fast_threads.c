/* SPDX-License-Identifier: BSD-3-Clause */
/* Lock-free hits of typed memos (cache_read.c): many threads hitting while
 * others insert, evict, grow tables and clear — every result right, the
 * statistics adding up (generic memos too) — and, on one thread, policies
 * deciding exactly as with locked hits; lru/lfu hits deferred as marks while threads contend
 * (white-box: the memo's cache is inspected through the private headers).
 * Also runs under ThreadSanitizer and AddressSanitizer (a grace period
 * that freed too early would show there). */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto.h"
#include "cache/cache_read.h" /* the cache's state: fast_now, kl__cache_contended, ... */
#include "memo/memo_impl.h"

static atomic_long computed;

KL_MEMOIZE(double, mix, (int64_t, x), (double, s))
{
    atomic_fetch_add(&computed, 1);
    return (double)x * s + 0.5;
}

typedef struct worker {
    unsigned seed;
    int iterations, nkeys;
    bool clears;
    int wrong;
} worker;

static void *hammer(void *p)
{
    worker *w = p;
    for (int i = 0; i < w->iterations; i++) {
        int64_t x = rand_r(&w->seed) % w->nkeys;
        double s = (double)(x % 7) / 4;
        if (mix(x, s) != (double)x * s + 0.5)
            w->wrong++;
        if (w->clears && i % 4000 == 3999)
            KT_OK(kl_memo_clear(mix_memo(), true));
    }
    return NULL;
}

static void run(const char *policy, size_t maxsize, int nkeys)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.policy = policy;
    o.cache.maxsize = maxsize;
    KT_OK(kl_memo_configure(mix_memo(), &o));
    atomic_store(&computed, 0);
    enum { THREADS = 4, ITER = 20000 };
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){(unsigned)i * 7919u + 3u, ITER, nkeys, i == 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].wrong, 0);
    }
    kl_memo_info info;
    kl_memo_info_get(mix_memo(), &info);
    assert_int_equal(info.hit + info.miss, (uint64_t)THREADS * ITER);
    assert_int_equal(info.miss, (uint64_t)atomic_load(&computed));
    assert_true(info.hit > 0);
    if (maxsize != KL_CACHE_UNBOUNDED)
        assert_true(info.size <= maxsize);
}

static void sieve_with_evictions_and_clears(void **state)
{
    (void)state;
    run("sieve", 300, 1000);
}

static void s3fifo_fifo_rr_with_evictions(void **state)
{
    (void)state;
    run("s3fifo", 300, 1000);
    run("fifo", 300, 1000);
    run("rr", 300, 1000);
}

static void unbounded_cache_grows_under_readers(void **state)
{
    (void)state;
    /* 40k keys: every shard's table doubles many times while hits run */
    run("inf", KL_CACHE_UNBOUNDED, 40000);
}

/* Four threads contend: lru and lfu switch to fast reads with deferred
 * hits (marks, second chances at eviction) while entries are evicted and
 * the memo cleared under them. */
static void lru_lfu_under_contention(void **state)
{
    (void)state;
    run("lru", 300, 1000);
    run("lfu", 300, 1000);
    run("wtinylfu", 300, 1000); /* keeps locked hits throughout */
}

/* ---- one thread: the same decisions as locked hits ----------------------------------- */

static atomic_int sq_calls;
KL_MEMOIZE(int64_t, sq, (int64_t, x))
{
    atomic_fetch_add(&sq_calls, 1);
    return x * x;
}

/* The typed memo (fast hits, noted promotions) and a plain cache (every
 * hit under the lock) see the same requests with the same keys (a typed
 * memo's memory key is the argument's 8 bytes): hit for hit the same. */
static void exact(const char *policy)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.policy = policy;
    o.cache.maxsize = 100;
    KT_OK(kl_memo_configure(sq_memo(), &o));
    kl_cache *ref;
    KT_OK(kl_cache_new(&ref, &o.cache));
    unsigned seed = 12345;
    kl_buf val = KL_BUF_INIT;
    uint64_t hits = 0;
    for (int i = 0; i < 20000; i++) {
        /* skewed: a hot set of 60 keys and a long tail of 600 */
        int64_t x = rand_r(&seed) % 3 ? rand_r(&seed) % 60 : 60 + rand_r(&seed) % 600;
        int before = atomic_load(&sq_calls);
        assert_true(sq(x) == x * x);
        bool memo_hit = atomic_load(&sq_calls) == before;
        kl_cache_ticket *t;
        int rc = kl_cache_acquire(ref, &x, sizeof x, &val, &t);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            int64_t v = x * x;
            kl_value vv = kl_value_int(v);
            val.len = 0;
            KT_OK(kl_encode(&val, &vv, 0));
            KT_OK(kl_cache_fulfil(t, val.data, val.len));
        }
        if (memo_hit != (rc == 0))
            fail_msg("%s: request %d (key %lld): memo %s, locked cache %s", policy, i,
                     (long long)x, memo_hit ? "hit" : "miss", rc == 0 ? "hit" : "miss");
        hits += memo_hit;
    }
    kl_memo_info info;
    kl_memo_info_get(sq_memo(), &info);
    assert_int_equal(info.hit, hits);
    assert_true(hits > 5000); /* the hot set is mostly hit */
    kl_buf_free(&val);
    KT_OK(kl_cache_free(ref));
}

static void one_thread_decides_as_locked_hits_do(void **state)
{
    (void)state;
    exact("sieve");
    exact("s3fifo");
    exact("fifo");
    exact("lru"); /* alone, a thread never switches to deferred hits */
    exact("lfu");
}

/* ---- deferred hits (lru, lfu): marks and second chances -------------------------------- */

static bool fast_now(void) { return __atomic_load_n(&sq_memo()->cache->fast_now, __ATOMIC_ACQUIRE); }

static bool computes(int64_t x)
{
    int before = atomic_load(&sq_calls);
    assert_true(sq(x) == x * x);
    return atomic_load(&sq_calls) != before;
}

static bool in_memory(int64_t x)
{
    kl_value arg = kl_value_int(x), v;
    kl_call call = {&arg, 1, NULL, NULL, 0};
    int rc = kl_memo_lookup(sq_memo(), &call, &v);
    assert_true(rc == 0 || rc == KL_ENOTFOUND);
    if (rc == 0)
        assert_true(v.type == KL_INT && v.u.i == x * x);
    return rc == 0;
}

/* Keys 1..4 in an LRU of 4 (front to back 4 3 2 1), hits on 2 and 1, then
 * 5, 6, 7 inserted (each goes in before its victim goes out).  Exact LRU
 * moved the hits to the front (1 2 4 3) and evicts 3, 4, 2: 1 5 6 7 stay.
 * Deferred, the hits are marks: when 5 arrives, 1 and 2 come up as victims
 * and are moved to the front in list order (2 1 5 4 3), ahead of 5, so 3,
 * 4 and then 5 go: 1 2 6 7 stay. */
static void hits_then_inserts(bool deferred, bool *kept)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.maxsize = 4;
    KT_OK(kl_memo_configure(sq_memo(), &o));
    for (int64_t k = 1; k <= 4; k++)
        assert_true(computes(k));
    if (deferred) /* as after threads contended */
        __atomic_store_n(&sq_memo()->cache->fast_now, true, __ATOMIC_RELEASE);
    assert_false(computes(2));
    assert_false(computes(1));
    for (int64_t k = 5; k <= 7; k++)
        assert_true(computes(k));
    assert_true(fast_now() == deferred);
    for (int64_t k = 1; k <= 7; k++) /* lookups neither compute nor evict */
        kept[k] = in_memory(k);
    kl_memo_info info;
    kl_memo_info_get(sq_memo(), &info);
    assert_int_equal(info.size, 4);
}

static void deferred_hits_give_second_chances(void **state)
{
    (void)state;
    bool kept[8];
    hits_then_inserts(false, kept);
    assert_true(kept[1] && !kept[2] && !kept[3] && !kept[4] && kept[5] && kept[6] && kept[7]);
    hits_then_inserts(true, kept);
    assert_true(kept[1] && kept[2] && !kept[3] && !kept[4] && !kept[5] && kept[6] && kept[7]);
}

/* A thread that finds itself hitting alone goes back to exact hits; enough
 * contended lock acquisitions switch deferred hits on. */
static void switches_between_exact_and_deferred(void **state)
{
    (void)state;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.maxsize = 1000;
    KT_OK(kl_memo_configure(sq_memo(), &o));
    kl_cache *c = sq_memo()->cache;
    for (int64_t k = 0; k < 100; k++)
        sq(k);
    assert_false(fast_now());
    /* contended acquisitions: the lock's slow path reports each; eight
     * within 10 ms switch */
    for (int i = 1; i < 8; i++)
        kl__cache_contended(c);
    bool after7 = fast_now();
    for (int tries = 0; tries < 5 && !fast_now(); tries++)
        kl__cache_contended(c); /* a run so slow the window passed: more */
    assert_false(after7);
    assert_true(fast_now());
    /* alone: two checks 65536 fast hits apart see no other thread */
    int calls = atomic_load(&sq_calls);
    for (int i = 0; i < 3 * 65536 && fast_now(); i++)
        sq(i % 100);
    assert_false(fast_now());
    assert_int_equal(atomic_load(&sq_calls), calls);
}

/* ---- generic memos: keys of any length ------------------------------------------------ */

static atomic_long gen_calls;

/* f(name, n) = len(name) * 1000 + n: keys are canonical encodings of a
 * string and an int, of every length mod 8 */
static int gen_fn(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    atomic_fetch_add(&gen_calls, 1);
    *out = kl_value_int((int64_t)call->pos[0].u.s.len * 1000 + call->pos[1].u.i);
    return 0;
}

typedef struct gen_worker {
    kl_memo *m;
    unsigned seed;
    int wrong;
} gen_worker;

static void *gen_hammer(void *p)
{
    gen_worker *w = p;
    char name[40];
    for (int i = 0; i < 20000; i++) {
        int k = rand_r(&w->seed) % 700;
        int len = 1 + k % 23;
        memset(name, 'a' + k % 26, (size_t)len);
        kl_value a[2] = {kl_value_text_ref(name, (size_t)len), kl_value_int(k)};
        kl_call c = {a, 2, NULL, NULL, 0};
        kl_value r;
        if (kl_memo_call(w->m, &c, &r) != 0 || r.type != KL_INT || r.u.i != len * 1000 + k)
            w->wrong++;
        kl_value_free(&r);
        if (w->seed % 3 == 0 && i % 5000 == 4999)
            KT_OK(kl_memo_clear(w->m, true));
    }
    return NULL;
}

/* Four threads on a generic memo (keys of every length mod 8, evictions
 * and clears; lock-free hits once they contend): every result right, hits
 * + misses adding up. */
static void generic_memo_under_contention(void **state)
{
    (void)state;
    const char *policies[] = {"lru", "sieve"};
    for (int p = 0; p < 2; p++) {
        kl_memo_opts o = KL_MEMO_OPTS_INIT;
        o.signature = "name, n";
        o.cache.policy = policies[p];
        o.cache.maxsize = 300;
        kl_memo *m;
        KT_OK(kl_memo_new(&m, "gen", gen_fn, NULL, &o));
        atomic_store(&gen_calls, 0);
        enum { THREADS = 4 };
        pthread_t th[THREADS];
        gen_worker w[THREADS];
        for (int i = 0; i < THREADS; i++) {
            w[i] = (gen_worker){m, (unsigned)i * 7u + 3u, 0};
            assert_int_equal(pthread_create(&th[i], NULL, gen_hammer, &w[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(w[i].wrong, 0);
        }
        kl_memo_info info;
        kl_memo_info_get(m, &info);
        assert_int_equal(info.hit + info.miss, (uint64_t)THREADS * 20000);
        assert_int_equal(info.miss, (uint64_t)atomic_load(&gen_calls));
        assert_true(info.hit > 0 && info.size <= 300);
        kl_memo_free(m);
    }
}

/* One thread, a generic sieve memo (lock-free hits from the start): hit
 * for hit the decisions of a plain locked cache fed the same keys. */
static void generic_memo_one_thread_decides_as_locked_hits_do(void **state)
{
    (void)state;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "name, n";
    o.cache.policy = "sieve";
    o.cache.maxsize = 100;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "gen1", gen_fn, NULL, &o));
    assert_true(__atomic_load_n(&m->cache->fast_now, __ATOMIC_ACQUIRE));
    kl_cache *ref;
    KT_OK(kl_cache_new(&ref, &o.cache));
    unsigned seed = 99;
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    char name[40];
    for (int i = 0; i < 20000; i++) {
        int k = rand_r(&seed) % 3 ? rand_r(&seed) % 60 : 60 + rand_r(&seed) % 600;
        int len = 1 + k % 23;
        memset(name, 'a' + k % 26, (size_t)len);
        kl_value a[2] = {kl_value_text_ref(name, (size_t)len), kl_value_int(k)};
        kl_call c = {a, 2, NULL, NULL, 0};
        long before = atomic_load(&gen_calls);
        kl_value r;
        KT_OK(kl_memo_call(m, &c, &r));
        assert_true(r.type == KL_INT && r.u.i == len * 1000 + k);
        bool memo_hit = atomic_load(&gen_calls) == before;
        key.len = 0;
        KT_OK(kl_memo_key(m, &c, &key));
        kl_cache_ticket *t;
        int rc = kl_cache_acquire(ref, key.data, key.len, &val, &t);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            val.len = 0;
            KT_OK(kl_encode(&val, &r, 0));
            KT_OK(kl_cache_fulfil(t, val.data, val.len));
        }
        if (memo_hit != (rc == 0))
            fail_msg("request %d (key %d): memo %s, locked cache %s", i, k,
                     memo_hit ? "hit" : "miss", rc == 0 ? "hit" : "miss");
    }
    assert_true(kl__cache_reader_hits(m->cache) > 5000); /* served without the lock */
    kl_buf_free(&key);
    kl_buf_free(&val);
    KT_OK(kl_cache_free(ref));
    kl_memo_free(m);
}

/* ---- fork: the child must not wait for readers that stayed behind ----------------- */

static atomic_bool stop_hitting;
static atomic_long hit_sum; /* keeps the calls from being optimised away */

static void *hit_forever(void *p)
{
    (void)p;
    double sum = 0;
    for (unsigned i = 0; !atomic_load(&stop_hitting); i++)
        sum += mix(i % 64, 1.0);
    atomic_store(&hit_sum, (long)sum);
    return NULL;
}

/* A thread hits without pause while the main thread forks: a fork often
 * catches it inside a read.  Each child clears the memo and grows its
 * tables (both wait for readers) and must finish. */
static void forked_child_does_not_wait_for_gone_readers(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* ThreadSanitizer's runtime does not support fork() with threads running */
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    skip(); /* ThreadSanitizer's runtime does not support fork() with threads running */
#endif
#endif
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.policy = "sieve";
    o.cache.maxsize = 100000;
    KT_OK(kl_memo_configure(mix_memo(), &o));
    for (int i = 0; i < 64; i++)
        mix(i, 1.0);
    atomic_store(&stop_hitting, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hit_forever, NULL), 0);
    for (int round = 0; round < 30; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(20); /* a child stuck in a grace period dies of SIGALRM */
            if (kl_memo_clear(mix_memo(), false) != 0)
                _exit(2);
            for (int i = 0; i < 5000; i++)
                if (mix(1000 + i, 2.0) != (1000.0 + i) * 2 + 0.5)
                    _exit(3);
            _exit(0);
        }
        int status = 0;
        pid_t waited = waitpid(pid, &status, 0);
        if (waited != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            /* stop the hitting thread first: the memo is freed after the
             * tests, and a thread still calling it then would crash */
            atomic_store(&stop_hitting, true);
            pthread_join(th, NULL);
            fail_msg("child %d: %s %d", round, WIFEXITED(status) ? "exit" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        }
    }
    atomic_store(&stop_hitting, true);
    pthread_join(th, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sieve_with_evictions_and_clears),
        cmocka_unit_test(s3fifo_fifo_rr_with_evictions),
        cmocka_unit_test(unbounded_cache_grows_under_readers),
        cmocka_unit_test(lru_lfu_under_contention),
        cmocka_unit_test(one_thread_decides_as_locked_hits_do),
        cmocka_unit_test(deferred_hits_give_second_chances),
        cmocka_unit_test(switches_between_exact_and_deferred),
        cmocka_unit_test(generic_memo_under_contention),
        cmocka_unit_test(generic_memo_one_thread_decides_as_locked_hits_do),
        cmocka_unit_test(forked_child_does_not_wait_for_gone_readers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kl_memo_free(mix_memo());
    kl_memo_free(sq_memo());
    return rc;
}
