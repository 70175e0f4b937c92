/* SPDX-License-Identifier: BSD-3-Clause */
/* fork() while other threads use caches: the child inherits every cache
 * unlocked and whole (src/cache/cache_fork.c).  Threads keep the shard
 * locks and the single-flight mutexes busy (inserts with evictions,
 * computations other threads wait for) while the main thread forks; each
 * child then uses the same caches and must finish.  Without the fork
 * handlers, children inherit a lock held by a thread that is gone and hang
 * (they die of SIGALRM). */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto/cache.h"

#define ROUNDS 200
#define KEYS 4096

static kl_cache *busy; /* inserts and evictions */
static kl_cache *flights; /* the same few missing keys from two threads */
static atomic_bool stop;

static void *insert_forever(void *arg)
{
    uint64_t k = (uintptr_t)arg * 1000003u;
    while (!atomic_load(&stop)) {
        k = k * 6364136223846793005u + 1442695040888963407u;
        uint64_t key = k % KEYS;
        (void)kl_cache_put(busy, &key, sizeof key, &k, sizeof k);
    }
    return NULL;
}

static void *compute_forever(void *arg)
{
    (void)arg;
    kl_buf val = KL_BUF_INIT;
    for (uint64_t i = 0; !atomic_load(&stop); i++) {
        uint64_t key = i % 8;
        kl_cache_ticket *t = NULL;
        int rc = kl_cache_acquire(flights, &key, sizeof key, &val, &t);
        if (rc == 1)
            (void)kl_cache_fulfil(t, &i, sizeof i);
        if (i % 64 == 0)
            (void)kl_cache_clear(flights, true);
    }
    kl_buf_free(&val);
    return NULL;
}

/* In the child: every operation on both caches must complete. */
static int child_uses_the_caches(void)
{
    alarm(20);
    kl_buf val = KL_BUF_INIT;
    for (uint64_t key = 0; key < 2 * KEYS; key++) {
        if (kl_cache_put(busy, &key, sizeof key, &key, sizeof key) != 0)
            return 2;
        if (kl_cache_get(busy, &key, sizeof key, &val, true) != 0 || val.len != sizeof key ||
            memcmp(val.data, &key, sizeof key) != 0)
            return 3;
    }
    for (uint64_t key = 0; key < 8; key++) {
        kl_cache_ticket *t = NULL;
        int rc = kl_cache_acquire(flights, &key, sizeof key, &val, &t);
        if (rc == 1 && kl_cache_fulfil(t, &key, sizeof key) != 0)
            return 4;
        if (rc != 0 && rc != 1)
            return 5;
    }
    if (kl_cache_clear(busy, false) != 0 || kl_cache_clear(flights, false) != 0)
        return 6;
    kl_buf_free(&val);
    return 0;
}

static void children_of_a_busy_process_finish(void **st)
{
    (void)st;
#if defined(__SANITIZE_THREAD__)
    skip(); /* ThreadSanitizer's runtime does not support fork() with threads running */
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    skip();
#endif
#endif
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.policy = "lru";
    o.maxsize = KEYS / 4;
    o.shards = 4;
    KT_OK(kl_cache_new(&busy, &o));
    kl_cache_opts f = KL_CACHE_OPTS_INIT;
    f.policy = "lru";
    f.maxsize = 64;
    KT_OK(kl_cache_new(&flights, &f));
    pthread_t th[3];
    assert_int_equal(pthread_create(&th[0], NULL, insert_forever, (void *)1), 0);
    assert_int_equal(pthread_create(&th[1], NULL, compute_forever, NULL), 0);
    assert_int_equal(pthread_create(&th[2], NULL, compute_forever, NULL), 0);
    int failed_round = -1, how = 0, code = 0;
    for (int round = 0; round < ROUNDS && failed_round < 0; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(child_uses_the_caches());
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed_round = round;
            how = WIFEXITED(status);
            code = how ? WEXITSTATUS(status) : WTERMSIG(status);
        }
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    /* the parent's caches are still usable and consistent */
    uint64_t key = 1, v = 7;
    kl_buf val = KL_BUF_INIT;
    KT_OK(kl_cache_put(busy, &key, sizeof key, &v, sizeof v));
    KT_OK(kl_cache_get(busy, &key, sizeof key, &val, true));
    assert_memory_equal(val.data, &v, sizeof v);
    kl_buf_free(&val);
    KT_OK(kl_cache_free(busy));
    KT_OK(kl_cache_free(flights));
    if (failed_round >= 0)
        fail_msg("child of round %d: %s %d", failed_round, how ? "exit" : "signal", code);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(children_of_a_busy_process_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
