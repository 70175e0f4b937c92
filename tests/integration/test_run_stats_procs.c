/* SPDX-License-Identifier: BSD-3-Clause */
/* Statistics across runs merged from concurrent processes without loss:
 * 4 processes, each with its own memo on one archive, started together,
 * each dumping halfway and freeing at the end with known counts into an
 * archive opened with ?stats=true; the
 * archive's run statistics are then their exact sum.  On every kind a
 * process can share (dir:, file:, sqlite: both layouts, hdf5:, hdf5dir:)
 * and on PostgreSQL, MariaDB and Redis when $KLEPTO_TEST_PG_URL,
 * $KLEPTO_TEST_MYSQL_URL, $KLEPTO_TEST_REDIS_URL are set (by
 * scripts/with-servers.sh; skipped otherwise). */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto.h"

#define PROCS 4

static int twice(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    *out = kl_value_int(2 * call->pos[0].u.i);
    return 0;
}

static int call(kl_memo *m, int64_t x)
{
    kl_value a[1] = {kl_value_int(x)};
    kl_call c = {a, 1, NULL, NULL, 0};
    kl_value r;
    int rc = kl_memo_call(m, &c, &r);
    if (rc == 0 && (r.type != KL_INT || r.u.i != 2 * x))
        rc = -1000;
    kl_value_free(&r);
    return rc;
}

/* Process i: 10 + i misses (keys of its own), 5 (i + 1) hits; a dump
 * halfway, the free at the end.  Waits on `go` so that all flush at once. */
static void child(const char *url, int i, int go)
{
    char c;
    if (read(go, &c, 1) != 0) /* the parent closes it: everyone starts */
        _exit(2);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.archive = url;
    kl_memo *m;
    if (kl_memo_new(&m, "twice", twice, NULL, &o))
        _exit(3);
    int bad = 0;
    for (int j = 0; j < 10 + i; j++)
        bad |= call(m, 1000 * i + j);
    for (int j = 0; j < 5 * (i + 1); j++) {
        bad |= call(m, 1000 * i);
        if (j == 2)
            bad |= kl_memo_dump(m);
    }
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    bad |= info.errors != 0;
    bad |= kl_memo_free(m);
    _exit(bad ? 4 : 0);
}

static void four_processes(const char *url)
{
    char *shown = kl_archive_redact_url(url);
    print_message("%s\n", shown);
    free(shown);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            child(url, i, go[0]);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < PROCS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_run_stats s;
    KT_OK(kl_archive_run_stats(ar, &s));
    assert_int_equal(s.records, PROCS);
    assert_int_equal(s.misses, 10 + 11 + 12 + 13);
    assert_int_equal(s.hits, 5 + 10 + 15 + 20);
    assert_int_equal(s.loads, 0);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.damaged, 0);
    assert_int_equal(s.miss_timed, 46);
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 46); /* the results; the records are not entries */
    size_t removed;
    KT_OK(kl_archive_run_stats_zero(ar, &removed));
    assert_int_equal(removed, PROCS);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 46);
    if (strncmp(url, "sqlite:", 7) && strncmp(url, "dir:", 4) && strncmp(url, "file:", 5) &&
        strncmp(url, "hdf5", 4))
        KT_OK(kl_archive_drop(ar)); /* a server's table or prefix */
    else
        KT_OK(kl_archive_close(ar));
}

static void test_local_kinds(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("runprocs");
    const char *kinds[] = {"dir:%s/d", "file:%s/f.klf", "sqlite:%s/s.db?table=t", "sqlite:%s/k.db",
                           "hdf5:%s/h.h5", "hdf5dir:%s/hd"};
    const char *feature[] = {"dir", "file", "sqlite", "sqlite", "hdf5", "hdf5dir"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!kl_feature(feature[i]))
            continue;
        char url[4200];
        snprintf(url, sizeof url, kinds[i], dir);
        strcat(url, strchr(url, '?') ? "&stats=true" : "?stats=true");
        four_processes(url);
    }
    kt_rmrf(dir);
    free(dir);
}

/* A memo inherited by fork(): the child's counts go to a record of its
 * own, from the fork on; the parent's, before and after, to its own;
 * nothing counted twice, nothing lost (counts made after the parent's
 * last dump and before the fork included). */
static void test_fork_keeps_both(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("runfork");
    char url[4200];
    snprintf(url, sizeof url, "sqlite:%s/f.db?table=t&stats=true", dir);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.archive = url;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "twice", twice, NULL, &o));
    KT_OK(call(m, 1));
    KT_OK(call(m, 2));
    KT_OK(call(m, 1)); /* 2 misses, 1 hit */
    KT_OK(kl_memo_dump(m));
    KT_OK(call(m, 2)); /* a hit after the dump, before the fork */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int bad = call(m, 1) | call(m, 2) | call(m, 1) | call(m, 3); /* 3 hits, 1 miss */
        bad |= kl_memo_free(m);
        _exit(bad ? 1 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    KT_OK(call(m, 1)); /* one more hit */
    KT_OK(kl_memo_free(m));
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_run_stats s;
    KT_OK(kl_archive_run_stats(ar, &s));
    assert_int_equal(s.records, 2);
    assert_int_equal(s.hits, 2 + 3 + 1);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.miss_timed, 3);
    KT_OK(kl_archive_close(ar));
    kt_rmrf(dir);
    free(dir);
}

static void on_server(const char *scheme, const char *var, const char *option)
{
    char *url = kt_server_url(scheme, var, option, "stats=true");
    four_processes(url);
    free(url);
}

static void test_postgresql(void **state)
{
    (void)state;
    on_server("postgresql", "KLEPTO_TEST_PG_URL", "table=run_stats_");
}

static void test_mysql(void **state)
{
    (void)state;
    on_server("mysql", "KLEPTO_TEST_MYSQL_URL", "table=run_stats_");
}

static void test_redis(void **state)
{
    (void)state;
    on_server("redis", "KLEPTO_TEST_REDIS_URL", "prefix=kt_run_stats_");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_kinds),
        cmocka_unit_test(test_fork_keeps_both),
        cmocka_unit_test(test_postgresql),
        cmocka_unit_test(test_mysql),
        cmocka_unit_test(test_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
