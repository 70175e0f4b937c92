/* SPDX-License-Identifier: BSD-3-Clause */
/* Expiry in archives: ?ttl=DURATION on any archive URL hides entries
 * stored longer ago from get, contains, count, stat, iteration and
 * batches; a memo's ttl holds for its archive's entries (a miss,
 * recomputed and overwritten; load skips them).  Entries are written by
 * child processes under a test clock (kl__now_ns_set_fake), read back by
 * this one under another: no test sleeps.  Every archive kind this build
 * has; the server ones when scripts/with-servers.sh gave their URLs. */
#define _GNU_SOURCE
#include "every_kind.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive_suite.h" /* kt_key */
#include "archive/host.h"
#include "klepto.h"

#define HOUR_NS (INT64_C(3600) * 1000000000)

static char *dir;
static int64_t t0; /* the test clock's start: ten hours ago */

/* The archive URLs under test (heap), NULL-terminated. */
static char *urls[16];


static int setup(void **st)
{
    (void)st;
    if (kt_tempdir_make(&dir, "expiry"))
        return -1;
    t0 = kl__now_ns() - 10 * HOUR_NS;
    kt_every_kind_urls(urls, sizeof urls / sizeof *urls, dir, "expiry");
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    kt_every_kind_drop(urls);
    kt_tempdir_remove(&dir);
    return 0;
}

static void put_at(kl_archive *ar, int64_t now, const char *key, const char *val)
{
    kl__now_ns_set_fake(now);
    KT_OK(kl_archive_put(ar, key, strlen(key), val, strlen(val)));
}

/* In a child process (mem: in this one, its store being the process's):
 * "old" stored at t0, "new" at t0 + 2h, "untouched" at t0 + 2h. */
static void write_entries(const char *url)
{
    bool in_process = !strncmp(url, "mem:", 4);
    pid_t pid = in_process ? 0 : fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kl_archive *ar;
        int rc = kl_archive_open(&ar, url, NULL);
        if (!rc)
            rc = kl_archive_clear(ar);
        if (!rc) {
            put_at(ar, t0, "old", "1");
            put_at(ar, t0 + 2 * HOUR_NS, "new", "2");
            put_at(ar, t0 + 2 * HOUR_NS, "new2", "3");
            rc = kl_archive_close(ar);
        }
        kl__now_ns_set_fake(0);
        if (!in_process)
            _exit(rc ? 1 : 0);
        KT_OK(rc);
        return;
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void ttl_option_hides_expired_entries(void **st)
{
    (void)st;
    for (size_t i = 0; urls[i]; i++) {
        print_message("%s\n", urls[i]);
        write_entries(urls[i]);
        kl__now_ns_set_fake(t0 + 2 * HOUR_NS + HOUR_NS / 2); /* old: 2.5h; new: 0.5h */
        char *u = kt_url_with(urls[i], "ttl=1h");
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        kl_buf v = KL_BUF_INIT;
        assert_int_equal(kl_archive_get(ar, "old", 3, &v), KL_ENOTFOUND);
        assert_non_null(strstr(kl_errmsg(), "expired"));
        KT_OK(kl_archive_get(ar, "new", 3, &v));
        assert_memory_equal(v.data, "2", 1);
        assert_int_equal(kl_archive_contains(ar, "old", 3), 0);
        assert_int_equal(kl_archive_contains(ar, "new", 3), 1);
        kl_entry_info info;
        assert_int_equal(kl_archive_stat(ar, "old", 3, &info), KL_ENOTFOUND);
        size_t n = 0;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 2);
        kl_archive_iter *it;
        KT_OK(kl_archive_iter_new(ar, &it));
        kl_buf k = KL_BUF_INIT;
        size_t seen = 0;
        int r;
        while ((r = kl_archive_iter_next(it, &k, &v)) == 1) {
            assert_false(k.len == 3 && !memcmp(k.data, "old", 3));
            seen++;
        }
        assert_int_equal(r, 0);
        assert_int_equal(seen, 2);
        kl_archive_iter_free(it);
        const void *keys[3] = {"old", "new", "new2"};
        size_t klens[3] = {3, 3, 4};
        kl_buf vals[3] = {KL_BUF_INIT, KL_BUF_INIT, KL_BUF_INIT};
        bool found[3];
        KT_OK(kl_archive_get_many(ar, 3, keys, klens, vals, found));
        assert_false(found[0]);
        assert_true(found[1] && found[2]);
        /* overwritten: fresh again */
        KT_OK(kl_archive_put(ar, "old", 3, "9", 1));
        KT_OK(kl_archive_get(ar, "old", 3, &v));
        assert_memory_equal(v.data, "9", 1);
        KT_OK(kl_archive_close(ar));
        /* later still, everything has expired; without ttl nothing has */
        kl__now_ns_set_fake(t0 + 5 * HOUR_NS);
        KT_OK(kl_archive_open(&ar, u, NULL));
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 0);
        KT_OK(kl_archive_close(ar));
        KT_OK(kl_archive_open(&ar, urls[i], NULL));
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 3);
        KT_OK(kl_archive_get(ar, "new", 3, &v));
        KT_OK(kl_archive_close(ar));
        kl__now_ns_set_fake(0);
        for (int j = 0; j < 3; j++)
            kl_buf_free(&vals[j]);
        kl_buf_free(&k);
        kl_buf_free(&v);
        free(u);
    }
}

static int calls;

static int tenfold(void *ud, const kl_call *call, kl_value *result)
{
    (void)ud;
    calls++;
    *result = kl_value_int(10 * call->pos[0].u.i);
    return 0;
}

static kl_memo *memo_on(const char *url)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.ttl = 3600;
    o.archive = url;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "tenfold", tenfold, NULL, &o));
    return m;
}

static int64_t call_at(kl_memo *m, int64_t now, int64_t x)
{
    kl__now_ns_set_fake(now);
    kl_value a = kl_value_int(x), r;
    kl_call c = {&a, 1, NULL, NULL, 0};
    KT_OK(kl_memo_call(m, &c, &r));
    return r.u.i;
}

/* A memo's ttl: archived results stored longer ago are misses, computed
 * again and overwritten; load skips them.  Written by a child process. */
static void memo_ttl_holds_for_archive_entries(void **st)
{
    (void)st;
    for (size_t i = 0; urls[i]; i++) {
        if (!strncmp(urls[i], "mem:", 4))
            continue; /* one process's store: the other test covers it */
        print_message("%s\n", urls[i]);
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, urls[i], NULL));
        KT_OK(kl_archive_clear(ar));
        KT_OK(kl_archive_close(ar));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            kl_memo *m = memo_on(urls[i]);
            bool ok = call_at(m, t0, 1) == 10 && call_at(m, t0 + 2 * HOUR_NS, 2) == 20 &&
                      call_at(m, t0 + 2 * HOUR_NS, 3) == 30;
            ok = kl_memo_free(m) == 0 && ok;
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        int64_t now = t0 + 2 * HOUR_NS + HOUR_NS / 2; /* 1 is 2.5h old, 2 and 3 0.5h */
        kl__now_ns_set_fake(now);
        kl_memo *m = memo_on(urls[i]);
        size_t loaded = 0;
        KT_OK(kl_memo_load(m, &loaded));
        assert_int_equal(loaded, 2);
        KT_OK(kl_memo_clear(m, false));
        calls = 0;
        assert_int_equal(call_at(m, now, 2), 20); /* loaded from the archive */
        assert_int_equal(calls, 0);
        assert_int_equal(call_at(m, now, 1), 10); /* expired: computed again */
        assert_int_equal(calls, 1);
        kl_memo_info info;
        kl_memo_info_get(m, &info);
        assert_int_equal(info.load, 1);
        assert_int_equal(info.miss, 1);
        assert_int_equal(info.expirations, 1);
        KT_OK(kl_memo_free(m));
        /* the result of 1 was overwritten: stored now */
        KT_OK(kl_archive_open(&ar, urls[i], NULL));
        size_t n = 0;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 3);
        kl_archive_iter *it;
        KT_OK(kl_archive_iter_new(ar, &it));
        kl_buf k = KL_BUF_INIT;
        size_t fresh = 0;
        while (kl_archive_iter_next(it, &k, NULL) == 1) {
            kl_entry_info e;
            KT_OK(kl_archive_stat(ar, k.data, k.len, &e));
            fresh += e.stored_ns == now;
        }
        kl_archive_iter_free(it);
        kl_buf_free(&k);
        assert_int_equal(fresh, 1);
        KT_OK(kl_archive_close(ar));
        kl__now_ns_set_fake(0);
    }
}

/* A result loaded from the archive keeps its age: in memory it expires
 * at its stored time + ttl, not a whole ttl after the load.  Stored
 * exactly one ttl ago, it is loaded (still valid) but already expired in
 * memory: the next call computes it again. */
static void loaded_results_keep_their_age(void **st)
{
    (void)st;
    char url[512];
    snprintf(url, sizeof url, "dir:%s/aged", dir);
    kl_memo *m = memo_on(url);
    assert_int_equal(call_at(m, t0, 4), 40);
    KT_OK(kl_memo_free(m));
    int64_t now = t0 + HOUR_NS; /* the ttl is one hour */
    m = memo_on(url);
    calls = 0;
    assert_int_equal(call_at(m, now, 4), 40);
    assert_int_equal(calls, 0); /* loaded */
    assert_int_equal(call_at(m, now, 4), 40);
    assert_int_equal(calls, 1); /* expired in memory: computed */
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.load, 1);
    assert_int_equal(info.hit, 0);
    assert_int_equal(info.expirations, 1);
    KT_OK(kl_memo_free(m));
    kl__now_ns_set_fake(0);
}

static void bad_ttl_is_refused(void **st)
{
    (void)st;
    const char *bad[] = {"0", "-1", "1x", "", "5 s", "99999999999999999999", "10000w", "1.5h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *u;
        assert_true(asprintf(&u, "dir:%s/bad?ttl=%s", dir, bad[i]) > 0);
        kl_archive *ar = NULL;
        assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EINVAL);
        assert_null(ar);
        assert_non_null(strstr(kl_errmsg(), "ttl"));
        free(u);
    }
    char *u;
    assert_true(asprintf(&u, "dir:%s/good?ttl=7d&cached=true", dir) > 0);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_close(ar));
    free(u);
}

/* kl_parse_duration: the one reader of ?ttl= and prune --older-than. */
static void durations_parse_as_documented(void **st)
{
    (void)st;
    static const struct {
        const char *text;
        uint64_t seconds;
    } good[] = {
        {"0", 0},     {"90", 90},        {"30s", 30},        {"15m", 900},
        {"2h", 7200}, {"7D", 7 * 86400}, {"2w", 14 * 86400}, {"99999999d", 99999999ull * 86400}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t s = 1;
        KT_OK(kl_parse_duration(good[i].text, "t", &s));
        assert_int_equal(s, good[i].seconds);
    }
    const char *bad[] = {
        "-1", "1x", "", "5 s", "1.5h", "s", "99999999999999999999", "4611686018427387905"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t s = 7;
        assert_int_equal(kl_parse_duration(bad[i], "the-option", &s), KL_EINVAL);
        assert_int_equal(s, 7); /* untouched */
        assert_non_null(strstr(kl_errmsg(), "the-option"));
    }
    assert_int_equal(kl_parse_duration(NULL, NULL, NULL), KL_EINVAL);
}

/* The CLI honours ?ttl= (it opens archives by URL): entries written an
 * hour and a half before the real now are expired under ttl=1h. */
static void cli_honours_ttl(void **st)
{
    (void)st;
    char *url;
    assert_true(asprintf(&url, "sqlite:%s/cli.db?table=t", dir) > 0);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    int64_t real = kl__now_ns();
    unsigned char k[64];
    size_t kn = kt_key(k, 1, 1);
    const unsigned char val[] = {0x01}; /* CBOR 1 */
    kl__now_ns_set_fake(real - 3 * HOUR_NS / 2);
    KT_OK(kl_archive_put(ar, k, kn, val, 1));
    kl__now_ns_set_fake(0);
    kn = kt_key(k, 2, 2);
    KT_OK(kl_archive_put(ar, k, kn, val, 1));
    KT_OK(kl_archive_close(ar));
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, false, "count '%s&ttl=1h'", url), 0);
    assert_non_null(out);
    assert_int_equal(atoi(out), 1);
    free(out);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "count '%s'", url), 0);
    assert_int_equal(atoi(out), 2);
    free(out);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ttl_option_hides_expired_entries),
        cmocka_unit_test(memo_ttl_holds_for_archive_entries),
        cmocka_unit_test(loaded_results_keep_their_age),
        cmocka_unit_test(bad_ttl_is_refused),
        cmocka_unit_test(durations_parse_as_documented),
        cmocka_unit_test(cli_honours_ttl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
