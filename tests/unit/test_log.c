/* SPDX-License-Identifier: BSD-3-Clause */
/* The log and the switch (klepto/log.h): errors a typed call swallows
 * reach the callback at warn, hits, misses and evictions at debug;
 * KLEPTO_LOG and KLEPTO_DISABLE, read from the environment, are checked
 * in child runs of this program (the variables are read once per
 * process). */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_archive.h"
#include "klepto.h"

static int ncalls;

KL_MEMOIZE(int, lg_square, (int, x)) { ncalls++; return x * x; }
KL_MEMOIZE(double, lg_sum, KL_ARR(double, v, n))
{
    ncalls++;
    double t = 0;
    for (size_t i = 0; i < n; i++)
        t += v[i];
    return t;
}

/* Lines received, joined by '\n', with their levels. */
typedef struct seen {
    char text[8192];
    int warns, debugs;
} seen;

static void collect(void *ctx, kl_log_level level, const char *msg)
{
    seen *s = ctx;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s\n", msg);
    if (level == KL_LOG_WARN)
        s->warns++;
    else if (level == KL_LOG_DEBUG)
        s->debugs++;
}

/* An archive whose every read fails: a typed call computes its result
 * uncached, counts an error, and the log says what failed. */
static void swallowed_archive_error_is_logged(void **state)
{
    (void)state;
    seen s = {{0}, 0, 0};
    KT_OK(kl_set_log(collect, &s, KL_LOG_WARN));
    char *url = kt_fault_url("get=1+,EIO", "mem:log-unreachable");
    assert_non_null(url);
    KT_OK(kl_memo_set_archive(lg_square_memo(), url));
    KT_OK(kl_memo_clear(lg_square_memo(), false));
    ncalls = 0;
    assert_int_equal(lg_square(7), 49);
    assert_int_equal(ncalls, 1);
    kl_memo_info info;
    kl_memo_info_get(lg_square_memo(), &info);
    assert_int_equal(info.errors, 1);
    assert_int_equal(s.warns, 1);
    assert_int_equal(s.debugs, 0); /* warn only: no hit or miss lines */
    assert_non_null(strstr(s.text, "injected"));
    assert_non_null(strstr(s.text, "get"));
    assert_int_equal(lg_square(7), 49); /* now a hit in memory: nothing logged */
    assert_int_equal(s.warns, 1);
    KT_OK(kl_set_log(NULL, NULL, KL_LOG_OFF));
    assert_int_equal(lg_square(8), 64); /* fails again, but the log is off */
    assert_int_equal(s.warns, 1);
    KT_OK(kl_memo_set_archive(lg_square_memo(), NULL));
    free(url);
}

/* A key over the limit: KL_ETOOBIG, swallowed by the typed call, logged. */
static void key_too_big_is_logged(void **state)
{
    (void)state;
    seen s = {{0}, 0, 0};
    KT_OK(kl_set_log(collect, &s, KL_LOG_WARN));
    size_t n = KL_KEY_MAX / 8 + 1;
    double *v = calloc(n, sizeof *v);
    assert_non_null(v);
    v[0] = 1.5;
    ncalls = 0;
    assert_true(lg_sum(v, n) == 1.5); /* computed uncached */
    assert_int_equal(ncalls, 1);
    kl_memo_info info;
    kl_memo_info_get(lg_sum_memo(), &info);
    assert_int_equal(info.errors, 1);
    assert_int_equal(s.warns, 1);
    assert_non_null(strstr(s.text, "key limit"));
    KT_OK(kl_set_log(NULL, NULL, KL_LOG_OFF));
    free(v);
    kl_memo_free(lg_sum_memo());
}

static int twice(void *ud, const kl_call *call, kl_value *result)
{
    (void)ud;
    *result = kl_value_int(2 * call->pos[0].u.i);
    return 0;
}

/* Debug: a miss, then a hit, then an eviction (a cache of one entry). */
static void debug_logs_hits_misses_and_evictions(void **state)
{
    (void)state;
    seen s = {{0}, 0, 0};
    KT_OK(kl_set_log(collect, &s, KL_LOG_DEBUG));
    assert_int_equal(kl_log_get_level(), KL_LOG_DEBUG);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.maxsize = 1;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "lg_twice", twice, NULL, &o));
    kl_value a = kl_value_int(5), r;
    kl_call c = {&a, 1, NULL, NULL, 0};
    KT_OK(kl_memo_call(m, &c, &r));
    KT_OK(kl_memo_call(m, &c, &r));
    assert_int_equal(r.u.i, 10);
    a = kl_value_int(6);
    KT_OK(kl_memo_call(m, &c, &r));
    assert_non_null(strstr(s.text, "memo 'lg_twice': miss\nmemo 'lg_twice': hit\n"));
    assert_non_null(strstr(s.text, "cache: evicted key"));
    assert_int_equal(s.warns, 0);
    assert_true(s.debugs >= 4);
    KT_OK(kl_set_log(NULL, NULL, KL_LOG_OFF));
    assert_int_equal(kl_log_get_level(), KL_LOG_OFF);
    kl_memo_free(m);
}

static void bad_level_is_refused(void **state)
{
    (void)state;
    seen s = {{0}, 0, 0};
    KT_OK(kl_set_log(collect, &s, KL_LOG_WARN));
    assert_int_equal(kl_set_log(collect, &s, (kl_log_level)7), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "level 7"));
    assert_int_equal(kl_log_get_level(), KL_LOG_WARN); /* unchanged */
    KT_OK(kl_set_log(NULL, NULL, KL_LOG_OFF));
}

/* ---- the environment, in child runs of this program ------------------- */

static int generic_calls;

static int counted_twice(void *ud, const kl_call *call, kl_value *result)
{
    (void)ud;
    generic_calls++;
    *result = kl_value_int(2 * call->pos[0].u.i);
    return 0;
}

/* The child: three calls of lg_square and of a generic memo with the
 * same argument; prints how many times each function ran. */
static int child_main(void)
{
    ncalls = 0;
    for (int i = 0; i < 3; i++)
        if (lg_square(9) != 81)
            return 2;
    kl_memo *m;
    if (kl_memo_new(&m, "lg_generic", counted_twice, NULL, NULL))
        return 3;
    kl_value a = kl_value_int(21), r;
    kl_call c = {&a, 1, NULL, NULL, 0};
    for (int i = 0; i < 3; i++)
        if (kl_memo_call(m, &c, &r) || r.u.i != 42)
            return 4;
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    printf("generic=%d hits=%llu\n", generic_calls, (unsigned long long)info.hit);
    kl_memo_free(m);
    printf("calls=%d disabled=%d\n", ncalls, kl_memo_disabled() ? 1 : 0);
    fflush(stdout);
    kl_memo_free(lg_square_memo());
    return 0;
}

/* Runs this program as the child with `env`, stdout and stderr into *out. */
static void run_child(const char *env, char **out)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "env -u KLEPTO_LOG -u KLEPTO_DISABLE %s '%s' --child 2>&1", env,
             self);
    assert_int_equal(kt_run(cmd, out), 0);
    assert_non_null(*out);
}

static void disable_switch_calls_directly(void **state)
{
    (void)state;
    char *out = NULL;
    run_child("KLEPTO_DISABLE=1", &out);
    assert_non_null(strstr(out, "calls=3 disabled=1"));
    assert_non_null(strstr(out, "generic=3 hits=0"));
    const char *said = "klepto: KLEPTO_DISABLE is set: memoized functions run uncached\n";
    char *first = strstr(out, said);
    assert_non_null(first);
    assert_null(strstr(first + 1, said)); /* said once */
    free(out);
    out = NULL;
    run_child("KLEPTO_DISABLE=0", &out);
    assert_non_null(strstr(out, "calls=1 disabled=0"));
    assert_non_null(strstr(out, "generic=1 hits=2"));
    assert_null(strstr(out, "KLEPTO_DISABLE"));
    free(out);
}

static void env_log_goes_to_stderr(void **state)
{
    (void)state;
    char *out = NULL;
    run_child("KLEPTO_LOG=debug", &out);
    assert_non_null(strstr(out, "klepto: debug: memo 'lg_square': miss\n"
                                "klepto: debug: memo 'lg_square': hit\n"
                                "klepto: debug: memo 'lg_square': hit\n"));
    assert_non_null(strstr(out, "calls=1 disabled=0"));
    free(out);
    out = NULL;
    run_child("KLEPTO_LOG=warn", &out); /* nothing fails: nothing logged */
    assert_null(strstr(out, "klepto:"));
    assert_non_null(strstr(out, "calls=1"));
    free(out);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--child"))
        return child_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(swallowed_archive_error_is_logged),
        cmocka_unit_test(key_too_big_is_logged),
        cmocka_unit_test(debug_logs_hits_misses_and_evictions),
        cmocka_unit_test(bad_level_is_refused),
        cmocka_unit_test(disable_switch_calls_directly),
        cmocka_unit_test(env_log_goes_to_stderr),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kl_memo_free(lg_square_memo());
    return rc;
}
