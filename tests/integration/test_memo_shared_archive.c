/* SPDX-License-Identifier: BSD-3-Clause */
/* Two processes with their own memo on one shared archive (PostgreSQL,
 * Redis and SQLite): what one computed, the other loads instead of
 * computing (each result is computed once across the processes).  The
 * server cases need $KLEPTO_TEST_PG_URL / $KLEPTO_TEST_REDIS_URL (set by
 * scripts/with-servers.sh) and skip without them. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto.h"

static int cube(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    *out = kl_value_int(call->pos[0].u.i * call->pos[0].u.i * call->pos[0].u.i);
    return 0;
}

typedef struct outcome {
    uint64_t miss, load, wrong, errors;
} outcome;

/* In a child process: call cube(x) for x in [lo, hi) through a memo on url,
 * report the counts through the pipe. */
static void child(const char *url, int lo, int hi, int fd)
{
    outcome o = {0, 0, 0, 0};
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.signature = "x";
    opts.archive = url;
    kl_memo *m;
    if (kl_memo_new(&m, "cube", cube, NULL, &opts) != 0) {
        o.errors = 1000;
    } else {
        for (int x = lo; x < hi; x++) {
            kl_value a[1] = {kl_value_int(x)};
            kl_call c = {a, 1, NULL, NULL, 0};
            kl_value r;
            if (kl_memo_call(m, &c, &r) != 0)
                o.errors++;
            else if (r.type != KL_INT || r.u.i != (int64_t)x * x * x)
                o.wrong++;
        }
        kl_memo_info info;
        kl_memo_info_get(m, &info);
        o.miss = info.miss;
        o.load = info.load;
        o.errors += info.errors;
        kl_memo_free(m);
    }
    ssize_t n = write(fd, &o, sizeof o);
    _exit(n == (ssize_t)sizeof o ? 0 : 1);
}

static outcome run_child(const char *url, int lo, int hi)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child(url, lo, hi, fds[1]);
    }
    close(fds[1]);
    outcome o;
    assert_int_equal(read(fds[0], &o, sizeof o), (ssize_t)sizeof o);
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return o;
}

static void second_process_loads_what_the_first_computed(const char *url)
{
    outcome a = run_child(url, 0, 60);   /* computes 0..59 */
    assert_int_equal(a.errors + a.wrong, 0);
    assert_int_equal(a.miss, 60);
    assert_int_equal(a.load, 0);
    outcome b = run_child(url, 30, 90);  /* loads 30..59, computes 60..89 */
    assert_int_equal(b.errors + b.wrong, 0);
    assert_int_equal(b.load, 30);
    assert_int_equal(b.miss, 30);
    outcome c = run_child(url, 0, 90);   /* everything is there now */
    assert_int_equal(c.errors + c.wrong, 0);
    assert_int_equal(c.load, 90);
    assert_int_equal(c.miss, 0);
}

/* The shared-memo scenario on the server named by the environment
 * variable var (skipped when unset, or when the library was built without
 * that scheme), in a fresh table or prefix (option,
 * "name=" ended by the pid), then checks the archive holds the 90 results
 * and drops it. */
static void shared_server_archive(const char *scheme, const char *var, const char *option)
{
    char *url = kt_server_url(scheme, var, option, "");
    second_process_loads_what_the_first_computed(url);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 90);
    KT_OK(kl_archive_drop(ar));
    free(url);
}

static void shared_postgresql_archive(void **state)
{
    (void)state;
    shared_server_archive("postgresql", "KLEPTO_TEST_PG_URL", "table=memo_shared_");
}

static void shared_redis_archive(void **state)
{
    (void)state;
    shared_server_archive("redis", "KLEPTO_TEST_REDIS_URL", "prefix=kt_memo_shared_");
}

static void shared_sqlite_archive(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("shared");
    char url[4200];
    snprintf(url, sizeof url, "sqlite:%s/shared.db?table=cube", dir);
    second_process_loads_what_the_first_computed(url);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_postgresql_archive),
        cmocka_unit_test(shared_redis_archive),
        cmocka_unit_test(shared_sqlite_archive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
