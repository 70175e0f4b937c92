/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault sweeps of the server archives: the workload of
 * support/sweep_workload.h run on Redis and PostgreSQL through a proxy
 * (support/tcp_proxy.h) that drops the connection at the N-th chunk the
 * client sends — before the server sees it, or after (its answer lost) —
 * once or from then on, for N across the whole workload.  After each run,
 * checked over a direct connection: the archive opens, verify is clean,
 * every acknowledged entry reads back, an entry whose write failed reads
 * as before or after, nothing else is there; every failure reached the
 * caller naming the archive's URL.  `make test` sweeps a slice (about 12
 * points per server), KLEPTO_TEST_LONG=1 every point.  Skipped when
 * scripts/with-servers.sh gave no server URL. */
#define _GNU_SOURCE
#include "sweep_workload.h"
#include "tcp_proxy.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int serial;

/* url with its 127.0.0.1 port replaced by port; NULL when it has none. */
static char *with_port(const char *url, int port, int *old_port)
{
    const char *h = strstr(url, "127.0.0.1:");
    if (!h)
        return NULL;
    const char *num = h + strlen("127.0.0.1:");
    char *end = NULL;
    long p = strtol(num, &end, 10);
    if (end == num)
        return NULL;
    *old_port = (int)p;
    char *out = NULL;
    if (asprintf(&out, "%.*s%d%s", (int)(num - url), url, port, end) < 0)
        return NULL;
    return out;
}

/* base: the server URL; opt: "prefix" (Redis) or "table" (PostgreSQL,
 * MySQL). */
static void sweep_server(const char *label, const char *base, const char *opt)
{
    int server_port = 0;
    char *probe = with_port(base, 1, &server_port);
    if (!probe)
        fail_msg("%s: cannot find the port in %s", label, base);
    free(probe);
    kt_proxy *px = kt_proxy_start(server_port);
    assert_non_null(px);
    char *proxied_base = with_port(base, kt_proxy_port(px), &server_port);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", kt_proxy_port(px));
    const char *sep = strchr(base, '?') ? "&" : "?";
    kt_sweep_bad_runs = 0;
    long calls = -1, points = 0, seen = 0;
    bool full = kt_long();
    for (long n = 0;; n++) {
        long step = full || calls <= 12 ? 1 : (calls + 11) / 12;
        if (calls >= 0 && n > 0 && (n - 1) % step)
            continue;
        if (calls >= 0 && n > calls)
            break;
        for (int mode = 0; mode < (n ? 3 : 1); mode++) {
            /* 0: once, before; 1: once, after; 2: from then on */
            char *direct = NULL, *proxied = NULL;
            int id = serial++;
            assert_true(asprintf(&direct, "%s%s%s=klepto_sweep_%d", base, sep, opt, id) > 0);
            assert_true(asprintf(&proxied, "%s%s%s=klepto_sweep_%d", proxied_base, sep, opt, id) >
                        0);
            kt_sweep_run r;
            kt_sweep_run_init(&r, where, 0, false, mode == 2);
            r.op_words = true;
            kt_proxy_arm(px, n, mode == 2, mode == 1);
            kt_sweep_workload(&r, proxied);
            kt_proxy_disarm(px);
            if (n == 0) {
                calls = kt_proxy_count(px);
                if (r.failures)
                    fail_msg("%s: the workload fails without a fault: %s", label, r.first);
            }
            kt_sweep_check(&r, direct);
            kl_archive *ar = NULL;
            if (kl_archive_open(&ar, direct, NULL) == 0)
                kl_archive_drop(ar);
            free(direct);
            free(proxied);
            points += n > 0;
            seen += n > 0 && r.failures > 0;
        }
    }
    print_message("%s: %ld fault points swept (%ld chunks sent per run), %ld runs saw a call "
                  "fail\n",
                  label, points, calls, seen);
    kt_proxy_stop(px);
    free(proxied_base);
    if (kt_sweep_bad_runs)
        fail_msg("%s: %ld checks failed in the sweep (the first ones printed above)", label,
                 kt_sweep_bad_runs);
}

/* A put whose connection drops with its command held back, reaching the
 * server only later (kt_proxy_set_late: a server that reads its input
 * late), then a delete of that key on a fresh connection, acknowledged:
 * the key must stay deleted -- the lost put must not land after the
 * delete.  (Without the late delivery the race is rare: the long sweep
 * met it once in 222 runs on PostgreSQL.) */
static void lost_put_then_delete(const char *label, const char *base, const char *opt)
{
    int server_port = 0;
    char *probe = with_port(base, 1, &server_port);
    if (!probe)
        fail_msg("%s: cannot find the port in %s", label, base);
    free(probe);
    kt_proxy *px = kt_proxy_start(server_port);
    assert_non_null(px);
    char *proxied_base = with_port(base, kt_proxy_port(px), &server_port);
    const char *sep = strchr(base, '?') ? "&" : "?";
    char *direct = NULL, *proxied = NULL;
    assert_true(asprintf(&direct, "%s%s%s=klepto_late", base, sep, opt) > 0);
    assert_true(asprintf(&proxied, "%s%s%s=klepto_late", proxied_base, sep, opt) > 0);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, direct, NULL));
    KT_OK(kl_archive_drop(ar));
    KT_OK(kl_archive_open(&ar, proxied, NULL));
    uint8_t key[2] = {0x18, 5}, v1[2] = {0x18, 1}, v2[2] = {0x18, 2};
    KT_OK(kl_archive_put(ar, key, sizeof key, v1, sizeof v1));
    kt_proxy_set_late(px, 300);
    kt_proxy_arm(px, 1, false, true);
    int rc = kl_archive_put(ar, key, sizeof key, v2, sizeof v2);
    kt_proxy_disarm(px);
    if (rc == 0)
        fail_msg("%s: a put whose connection dropped reported success", label);
    rc = kl_archive_del(ar, key, sizeof key);
    if (rc && rc != KL_ENOTFOUND)
        fail_msg("%s: the delete after the lost put fails: %s", label, kl_errmsg());
    /* the held-back command reaches the server; then give a server that
     * still runs that session time to act on it (a wait that can only
     * hide the fault, never invent one) */
    struct timespec nap = {0, 10000000};
    while (kt_proxy_parked(px))
        nanosleep(&nap, NULL);
    nap.tv_nsec = 300000000;
    nanosleep(&nap, NULL);
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_open(&ar, direct, NULL));
    kl_buf v = KL_BUF_INIT;
    rc = kl_archive_get(ar, key, sizeof key, &v);
    if (rc != KL_ENOTFOUND)
        fail_msg("%s: a key deleted (acknowledged) after a put whose connection dropped "
                 "reads as %s: the lost put landed after the delete",
                 label, rc ? kl_strerror(rc) : v.data[1] == 2 ? "the lost put's value" : "?");
    kl_buf_free(&v);
    KT_OK(kl_archive_drop(ar));
    kt_proxy_stop(px);
    free(proxied_base);
    free(direct);
    free(proxied);
}

/* A server of the tests: its scheme, the variable naming its URL, the
 * URL option that gives an archive a name of its own, and whether the
 * library was built with its backend. */
typedef struct server {
    const char *scheme, *var, *option;
    bool built;
} server;

#ifdef KLEPTO_HAVE_REDIS
#define BUILT_REDIS true
#else
#define BUILT_REDIS false
#endif
#ifdef KLEPTO_HAVE_POSTGRES
#define BUILT_POSTGRES true
#else
#define BUILT_POSTGRES false
#endif
#ifdef KLEPTO_HAVE_MYSQL
#define BUILT_MYSQL true
#else
#define BUILT_MYSQL false
#endif

static const server redis = {"redis", "KLEPTO_TEST_REDIS_URL", "prefix", BUILT_REDIS};
static const server postgres = {"postgresql", "KLEPTO_TEST_PG_URL", "table", BUILT_POSTGRES};
static const server mysql = {"mysql", "KLEPTO_TEST_MYSQL_URL", "table", BUILT_MYSQL};

/* The server's URL; the test is skipped without one. */
static const char *server_url(const server *sv)
{
    const char *u = getenv(sv->var);
    if (!sv->built || !u || !*u)
        skip();
    return u;
}

static void sweep(void **st)
{
    const server *sv = *st;
    sweep_server(sv->scheme, server_url(sv), sv->option);
}

static void late_put(void **st)
{
    const server *sv = *st;
    lost_put_then_delete(sv->scheme, server_url(sv), sv->option);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        {"sweep_redis", sweep, NULL, NULL, (void *)&redis},
        {"sweep_postgres", sweep, NULL, NULL, (void *)&postgres},
        {"sweep_mysql", sweep, NULL, NULL, (void *)&mysql},
        {"late_put_redis", late_put, NULL, NULL, (void *)&redis},
        {"late_put_postgres", late_put, NULL, NULL, (void *)&postgres},
        {"late_put_mysql", late_put, NULL, NULL, (void *)&mysql},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
