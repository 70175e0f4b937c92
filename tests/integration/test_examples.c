/* SPDX-License-Identifier: BSD-3-Clause */
/* The example programs the README shows run and print what it says. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto.h"

static void tour_runs_as_the_readme_says(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("tour");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", kt_bin("tour"), dir);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "rosen(1, 2) = 100, 100  hit=1 miss=1 load=0 size=1"));
    assert_non_null(strstr(out, "area = 10, 10  hit=1 miss=1"));
    assert_non_null(strstr(out, "area: lookup = 10, 1 entry in memory"));
    assert_non_null(strstr(out, "['answer'] = 42"));
    free(out);
    /* a second run finds rosen(1, 2) in the SQLite archive */
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "hit=1 miss=0 load=1"));
    free(out);
    kt_rmrf(dir);
    free(dir);
}

/* Run an example (a shell command line built from fmt); asserts exit status
 * 0 and returns its output (stdout and stderr, heap). */
static char *run_example(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run_example(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    char *out = NULL;
    int rc = kt_run(cmd, &out);
    if (rc != 0)
        fail_msg("%s -> %d:\n%s", cmd, rc, out ? out : "");
    assert_non_null(out);
    return out;
}

static void assert_has(const char *out, const char *line)
{
    if (!strstr(out, line))
        fail_msg("expected \"%s\" in:\n%s", line, out);
}

static void demo_computes_then_loads(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("demo");
    char *out = run_example("%s dir:%s/demo-archive", kt_bin("demo"), dir);
    assert_has(out, "hit=0 miss=300 load=0 size=300");
    free(out);
    out = run_example("%s dir:%s/demo-archive", kt_bin("demo"), dir);
    assert_has(out, "hit=0 miss=0 load=300 size=300");
    free(out);
    kt_rmrf(dir);
    free(dir);
}

static void typed_remembers_and_evicts(void **state)
{
    (void)state;
    char *out = run_example("%s", kt_bin("typed"));
    assert_has(out, "collatz_steps(27) = 111, again 111 (body ran 1 time)\n");
    assert_has(out, "collatz_steps: hit=1 miss=1 size=1 evictions=0");
    assert_has(out, "to_metres(km, 1.5) = 1500\nto_metres(km, 1.5) = 1500\n"
                    "to_metres(cm, 250) = 2.5\nto_metres(m, 7) = 7\nto_metres(km, 1.5) = 1500\n");
    assert_has(out, "body ran 4 times\n");
    assert_has(out, "to_metres: hit=1 miss=4 size=2 evictions=2 policy=lru\n");
    free(out);
}

static void generic_shares_keys_of_equal_calls(void **state)
{
    (void)state;
    char *out = run_example("%s", kt_bin("generic"));
    const char *key = "key ['p', 2, 'verbose', NULL, 'x', 3, 'y', 4]\n";
    char line[256];
    snprintf(line, sizeof line, "norm(3.0, 4.0)                     -> 5     computed %s", key);
    assert_has(out, line);
    snprintf(line, sizeof line, "norm(x=3.0, y=4.0)                 -> 5     cached   %s", key);
    assert_has(out, line);
    snprintf(line, sizeof line, "norm(3.0, 4.0, 2.0)                -> 5     cached   %s", key);
    assert_has(out, line);
    snprintf(line, sizeof line, "norm(3.04, 3.96, verbose=True)     -> 5     cached   %s", key);
    assert_has(out, line);
    assert_has(out, "norm(3.0, 4.0, p=1.0)              -> 7     computed "
                    "key ['p', 1, 'verbose', NULL, 'x', 3, 'y', 4]\n");
    assert_has(out, "norm(3.0, 4.0, p=0.0)              -> error function failed");
    assert_has(out, "norm ran 2 times: hit=3 miss=3 size=2\n");
    free(out);
}

static void cached_front_dumps_then_loads(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("front");
    char *out = run_example("%s %s", kt_bin("cached_front"), dir);
    assert_string_equal(out, "after 3 puts: memory=3 unsaved=3 archive=0\n"
                             "dumped 3 entries\n"
                             "after dump: memory=3 unsaved=0 archive=3\n"
                             "new front: memory=0 unsaved=0 archive=3\n"
                             "loaded 3 entries\n"
                             "after load: memory=3 unsaved=0 archive=3\n"
                             "  ['alpha'] = 1.5\n"
                             "  ['beta'] = [1, 2, 3]\n"
                             "  [('gamma', 7)] = {'ok': True}\n");
    free(out);
    kt_rmrf(dir);
    free(dir);
}

static void two_processes_share_one_sqlite_file(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("twoproc");
    char *out = run_example("%s %s", kt_bin("two_processes"), dir);
    assert_has(out, "process A: f(0..9): computed=10 loaded=0 together=10 errors=0\n");
    assert_has(out, "process B: f(0..19): computed=10 loaded=10 together=20 errors=0\n");
    /* C and D ran at once: each value was computed or loaded, by each */
    assert_has(out, "process C: f(20..29): computed=");
    assert_has(out, "process D: f(20..29): computed=");
    const char *p = out;
    int together = 0;
    while ((p = strstr(p, "together=10 errors=0\n")) != NULL) {
        together++;
        p++;
    }
    assert_int_equal(together, 3); /* A, C and D */
    assert_has(out, "/shared.db?table=f holds 30 results\n");
    free(out);
    kt_rmrf(dir);
    free(dir);
}

/* The example run as two machines would run it, on the server of the
 * environment variable var, in a fresh table or prefix (then dropped). */
static void two_machines_on(const char *scheme, const char *var, const char *option)
{
    char *url = kt_server_url(scheme, var, option, "");
    char *out = run_example("KLEPTO_URL='%s' %s first", url, kt_bin("two_machines"));
    assert_has(out, "first: 50 integrals, sum 39.746124: computed=50 loaded=0 errors=0\n");
    free(out);
    out = run_example("KLEPTO_URL='%s' %s second", url, kt_bin("two_machines"));
    assert_has(out, "second: 50 integrals, sum 39.746124: computed=0 loaded=50 errors=0\n");
    free(out);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_drop(ar));
    free(url);
}

static void two_machines_through_postgresql(void **state)
{
    (void)state;
    two_machines_on("postgresql", "KLEPTO_TEST_PG_URL", "table=example_");
}

static void two_machines_through_redis(void **state)
{
    (void)state;
    two_machines_on("redis", "KLEPTO_TEST_REDIS_URL", "prefix=example_");
}

static void two_machines_without_a_url_says_so(void **state)
{
    (void)state;
    char *out = run_example("env -u KLEPTO_URL %s", kt_bin("two_machines"));
    assert_string_equal(
        out, "two_machines: skipped: set KLEPTO_URL to a postgresql:// or redis:// URL\n");
    free(out);
}

static void custom_backend_serves_a_memo(void **state)
{
    (void)state;
    char *out = run_example("%s", kt_bin("custom_backend"));
    assert_string_equal(
        out, "open shelf:?capacity=0: invalid argument: shelf:?capacity=0: capacity=0: expected "
             "an integer in [1, 1024]\n"
             "open shelf:?colour=red: invalid argument: shelf:?colour=red: unknown option "
             "'colour' for shelf: archives\n"
             "first pass: computed=10 loaded=0 errors=0\n"
             "second pass: computed=0 loaded=10 errors=0\n"
             "sum of triangle(1..10), twice = 440\n"
             "shelf holds 10 entries; put into a shelf of capacity 10: too big: shelf: full (10 "
             "entries)\n");
    free(out);
}

static const char *python_with_cbor2(void)
{
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import cbor2, sqlite3' >/dev/null 2>&1", candidates[i]);
        if (kt_run(cmd, NULL) == 0)
            return candidates[i];
    }
    return NULL;
}

static void python_reads_what_c_wrote(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("pyexample");
    char *out = run_example("%s %s", kt_bin("write_for_python"), dir);
    assert_has(out, "6 results in sqlite:");
    assert_has(out, "/results.db?table=rosen (errors=0)\n");
    free(out);
    const char *py = python_with_cbor2();
    if (!py) {
        kt_rmrf(dir);
        free(dir);
        print_message("no python3 with the cbor2 module (Debian python3-cbor2): skipped\n");
        skip();
    }
    out = run_example("%s %s %s/results.db rosen", py, kt_bin("read_from_python.py"), dir);
    assert_string_equal(out, "rosen(x=0, y=1) = 101.0\n"
                             "rosen(x=0, y=2.5) = 626.0\n"
                             "rosen(x=0.5, y=1) = 56.5\n"
                             "rosen(x=0.5, y=2.5) = 506.5\n"
                             "rosen(x=1, y=1) = 0.0\n"
                             "rosen(x=1, y=2.5) = 225.0\n"
                             "6 rows\n");
    free(out);
    kt_rmrf(dir);
    free(dir);
}

/* optimize: the objective of a vector, rounded keys: nearby points share
 * results, and the search still finds the minimum */
static void optimize_shares_nearby_points(void **state)
{
    (void)state;
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s 2>&1", kt_bin("optimize"));
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "minimum 1.0000 at (1.000, 0.500, 0.250, 0.125)"));
    unsigned long evaluations = 0, computed = 0, hits = 0;
    const char *line = strstr(out, "evaluations ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "evaluations %lu, computed %lu, hits %lu", &evaluations,
                            &computed, &hits),
                     3);
    assert_true(hits > 0 && computed + hits == evaluations);
    free(out);
}

/* simulate: structs in and out, persisted in SQLite; a second process
 * loads every result and computes only the failing call (never cached) */
static void simulate_reloads_in_a_second_process(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("simulate");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", kt_bin("simulate"), dir);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "spring  4.0: x = -0.235525, max 0.999996, 13 crossings"));
    assert_non_null(strstr(out, "mass 0: run returns -1 (not cached)"));
    assert_non_null(strstr(out, "computed 6, from memory 0"));
    free(out);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, ": 5 results"));
    assert_non_null(strstr(out, "spring  4.0: x = -0.235525, max 0.999996, 13 crossings"));
    assert_non_null(strstr(out, "computed 1, from memory 5"));
    free(out);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tour_runs_as_the_readme_says),
        cmocka_unit_test(demo_computes_then_loads),
        cmocka_unit_test(typed_remembers_and_evicts),
        cmocka_unit_test(generic_shares_keys_of_equal_calls),
        cmocka_unit_test(cached_front_dumps_then_loads),
        cmocka_unit_test(two_processes_share_one_sqlite_file),
        cmocka_unit_test(two_machines_through_postgresql),
        cmocka_unit_test(two_machines_through_redis),
        cmocka_unit_test(two_machines_without_a_url_says_so),
        cmocka_unit_test(custom_backend_serves_a_memo),
        cmocka_unit_test(python_reads_what_c_wrote),
        cmocka_unit_test(optimize_shares_nearby_points),
        cmocka_unit_test(simulate_reloads_in_a_second_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
