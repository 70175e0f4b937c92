/* SPDX-License-Identifier: BSD-3-Clause */
/* `klepto stats` and the run statistics the memos leave (CLI.md): the
 * lines and JSON members it adds, --zero, a damaged record (stats shows
 * the rest and says so, verify reports it, --repair resets it); and the
 * records never show as entries in ls, count, export or copy. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/handle.h"
#include "archive/run_stats.h"
#include "klepto.h"

static char *dir;

#define klepto(out, ...) kt_klepto(out, true, __VA_ARGS__)

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "clirs");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

static int negate(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    *out = kl_value_int(-call->pos[0].u.i);
    return 0;
}

/* A memo run on url calling x for each x of xs (n of them). */
static void memo_run(const char *url, const int *xs, size_t n)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.archive = url;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "negate", negate, NULL, &o));
    for (size_t i = 0; i < n; i++) {
        kl_value a[1] = {kl_value_int(xs[i])};
        kl_call c = {a, 1, NULL, NULL, 0};
        kl_value r;
        KT_OK(kl_memo_call(m, &c, &r));
        kl_value_free(&r);
    }
    KT_OK(kl_memo_free(m));
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Two runs: 3 misses and 3 hits, then 3 loads and 1 miss. */
static void two_runs(const char *url)
{
    int a[] = {1, 2, 3, 1, 2, 3};
    int b[] = {1, 2, 3, 4};
    memo_run(url, a, 6);
    memo_run(url, b, 4);
}

static void stats_prints_the_runs(void **st)
{
    (void)st;
    char url[4200];
    snprintf(url, sizeof url, "dir:%s/s?stats=true", dir);
    two_runs(url);
    char *out;
    assert_int_equal(klepto(&out, "stats '%s' --exact", url), 0);
    assert_non_null(strstr(out, "entries=4\n")); /* the results only */
    assert_non_null(strstr(out, "runs=2\nhits=3\nmisses=4\nloads=3\nevictions=0\nerrors=0\n"));
    assert_non_null(strstr(out, "hit_rate=0.600000\n")); /* (3 + 3) / 10 */
    assert_non_null(strstr(out, "time_saved="));
    assert_null(strstr(out, "runs_damaged"));
    free(out);
    assert_int_equal(klepto(&out, "stats '%s' --human", url), 0);
    assert_non_null(strstr(out, "hit_rate=60.0%\n"));
    assert_non_null(strstr(out, "time_saved="));
    free(out);
    assert_int_equal(klepto(&out, "stats '%s' --json", url), 0);
    assert_true(!strncmp(out, "{\"entries\": 4, ", 15)); /* the old members first */
    assert_non_null(strstr(out, "\"runs\": 2, \"hits\": 3, \"misses\": 4, \"loads\": 3, "
                                "\"evictions\": 0, \"errors\": 0, \"hit_rate\": 0.600000, "
                                "\"time_saved\": "));
    assert_non_null(strstr(out, "\"runs_damaged\": 0}"));
    free(out);

    /* the records are not entries: ls, count, export, copy */
    assert_int_equal(kt_klepto(&out, false, "ls '%s'", url), 0);
    assert_int_equal(lines(out), 4);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "count '%s'", url), 0);
    assert_string_equal(out, "4\n");
    free(out);
    assert_int_equal(kt_klepto(&out, false, "export '%s'", url), 0);
    assert_int_equal(lines(out), 4);
    assert_null(strstr(out, "run"));
    free(out);
    assert_int_equal(klepto(&out, "copy '%s' dir:%s/copy", url, dir), 0);
    assert_non_null(strstr(out, "copied 4 entries"));
    free(out);
    assert_int_equal(klepto(&out, "stats dir:%s/copy --exact", dir), 0);
    assert_non_null(strstr(out, "entries=4\n"));
    assert_non_null(strstr(out, "runs=0\nhits=0\n")); /* statistics stay with their archive */
    free(out);
    assert_int_equal(klepto(&out, "verify '%s'", url), 0);
    free(out);

    /* --zero: the records go, the entries stay */
    assert_int_equal(klepto(&out, "stats '%s' --zero", url), 0);
    assert_string_equal(out, "run statistics zeroed: 2 records removed\n");
    free(out);
    assert_int_equal(klepto(&out, "stats '%s' --exact", url), 0);
    assert_non_null(strstr(out, "entries=4\n"));
    assert_non_null(strstr(out, "runs=0\nhits=0\nmisses=0\nloads=0\n"));
    assert_non_null(strstr(out, "hit_rate=0.000000\ntime_saved=0.000000000\n"));
    free(out);
    assert_int_equal(klepto(&out, "stats '%s' --zero --json", url), 0);
    assert_string_equal(out, "{\"zeroed\": 0}\n");
    free(out);
    assert_int_equal(klepto(&out, "stats dir:%s/none --zero", dir), 1); /* no archive */
    free(out);
}

static void damaged_record_is_shown_reported_and_reset(void **st)
{
    (void)st;
    char url[4200];
    snprintf(url, sizeof url, "sqlite:%s/d.db?table=t&stats=true", dir);
    two_runs(url);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    uint8_t key[KL__RS_KEY_LEN];
    memcpy(key, KL__RS_PREFIX, KL__RS_PREFIX_LEN);
    key[KL__RS_PREFIX_LEN] = 0x40 | KL__RS_ID_LEN;
    memset(key + KL__RS_PREFIX_LEN + 1, 0x5a, KL__RS_ID_LEN);
    KT_OK(ar->be->put(ar->state, key, sizeof key, "\x83\x01\x02", 3)); /* a short list */
    KT_OK(kl_archive_close(ar));
    char *out;
    assert_int_equal(klepto(&out, "stats '%s' --exact", url), 0);
    assert_non_null(strstr(out, "runs=2\nhits=3\n")); /* the rest */
    assert_non_null(strstr(out, "runs_damaged=1\n"));
    assert_non_null(strstr(out, "1 damaged run statistics record left out"));
    free(out);
    assert_int_equal(klepto(&out, "verify '%s'", url), 1);
    assert_non_null(strstr(out, "damaged run statistics record"));
    free(out);
    assert_int_equal(klepto(&out, "verify '%s' --repair", url), 1);
    assert_non_null(strstr(out, "(reset)"));
    free(out);
    assert_int_equal(klepto(&out, "verify '%s'", url), 0);
    free(out);
    assert_int_equal(klepto(&out, "stats '%s' --exact", url), 0);
    assert_non_null(strstr(out, "runs=2\n"));
    assert_null(strstr(out, "damaged"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_prints_the_runs),
        cmocka_unit_test(damaged_record_is_shown_reported_and_reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
