/* SPDX-License-Identifier: BSD-3-Clause */
/* redis:// archives when things go wrong: unreachable servers, masked
 * passwords, bad URLs, databases out of range, connections cut while a
 * command is in flight (through a relay that drops them), and — on a
 * private redis-server of their own on a free port — passwords and users,
 * a full server, lost connections and restarts.  The shared server is
 * $KLEPTO_TEST_REDIS_URL (scripts/with-servers.sh); tests needing it skip
 * without it.  The everyday behaviour is in test_archive_redis.c. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"
#include "redis_fixture.h"
#include "testutil.h"

/* ---- errors ------------------------------------------------------------ */

static void an_unreachable_server_fails_fast(void **state)
{
    (void)state;
    /* nothing listens on port 1 of the loopback: refused at once */
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, "redis://127.0.0.1:1/0?prefix=x&timeout=2", NULL);
    assert_int_equal(rc, KL_EBACKEND);
    assert_null(ar);
    print_message("unreachable: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "redis://127.0.0.1:1/0"));
    assert_non_null(strstr(kl_errmsg(), "refused"));
    /* an IPv6 address in brackets */
    rc = kl_archive_open(&ar, "redis://[::1]:1/0?timeout=2", NULL);
    assert_int_equal(rc, KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "[::1]:1"));
}

/* Passwords shorter than their mask are masked too (the message grows). */
static void short_passwords_are_masked(void **state)
{
    (void)state;
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "redis://u:a@127.0.0.1:1/0?timeout=2", NULL),
                     KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "redis://u:***@127.0.0.1:1/0"));
    assert_null(strstr(kl_errmsg(), ":a@"));
    assert_int_equal(kl_archive_open(&ar, "redis://:ab@127.0.0.1:1/0?timeout=2", NULL),
                     KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "redis://:***@127.0.0.1:1/0"));
    assert_null(ar);
    /* and in options (refused here, but named in the message) */
    assert_int_equal(kl_archive_open(&ar, "redis://127.0.0.1:1/0?password=a&password=b", NULL),
                     KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "?password=***&password=***"));
}

static void bad_urls_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "redis://127.0.0.1:0/0",
        "redis://127.0.0.1:65536/0",
        "redis://127.0.0.1:6x/0",
        "redis://127.0.0.1:/0",
        "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/0/1",
        "redis://127.0.0.1:6379/-1",
        "redis://127.0.0.1:6379/99999999999",
        "redis:127.0.0.1",
        "redis://user@127.0.0.1/0",
        "redis://:p%zz@127.0.0.1/0",
        "redis://:p%4@127.0.0.1/0",
        "redis://:p%00q@127.0.0.1/0",
        "redis://u%0:p@127.0.0.1/0",
        "redis://[::1/0",
        "redis://127.0.0.1/0?prefix=",
        "redis://127.0.0.1/0?prefix=a%7Bb",
        "redis://127.0.0.1/0?prefix=a%4",
        "redis://127.0.0.1/0?timeout=x",
        "redis://127.0.0.1/0?timeout=-1",
        "redis://127.0.0.1/0?colour=blue",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kl_archive *ar = NULL;
        int rc = kl_archive_open(&ar, bad[i], NULL);
        if (rc != KL_EINVAL)
            fail_msg("%s -> %d (%s), expected KL_EINVAL", bad[i], rc, kl_errmsg());
        assert_null(ar);
        assert_non_null(strstr(kl_errmsg(), "redis:"));
    }
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "redis://127.0.0.1/0?colour=blue", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "colour"));
}

static void a_database_out_of_range_is_the_servers_error(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char *u;
    char host[128];
    int port;
    kt_redis_host_port(kt_redis_url(), host, sizeof host, &port);
    assert_true(asprintf(&u, "redis://%s:%d/9999?prefix=x", host, port) > 0);
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EBACKEND);
    assert_null(ar);
    assert_non_null(strstr(kl_errmsg(), "out of range"));
    assert_non_null(strstr(kl_errmsg(), "/9999"));
    free(u);
    /* another DB is another namespace */
    char p[64];
    kt_redis_new_prefix(p, sizeof p, "db");
    char *u0, *u1;
    assert_true(asprintf(&u0, "redis://%s:%d/0?prefix=%s", host, port, p) > 0);
    assert_true(asprintf(&u1, "redis://%s:%d/1?prefix=%s", host, port, p) > 0);
    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, u0, NULL));
    KT_OK(kl_archive_open(&b, u1, NULL));
    KT_OK(kl_archive_put(a, "k", 1, "0", 1));
    assert_int_equal(kl_archive_contains(b, "k", 1), 0);
    KT_OK(kl_archive_drop(a));
    KT_OK(kl_archive_drop(b));
    free(u0);
    free(u1);
}

/* ---- connections cut while a command is in flight ---------------------- */

/* A TCP relay between the archive and the server that can cut the
 * connection after forwarding a command, before its reply gets back: the
 * server runs the command, the client never hears of it. */
typedef struct relay {
    int lfd, port, target;
    atomic_int cuts;  /* commands still to cut after */
    atomic_bool slam; /* hang up on the next data without reading it all */
    atomic_bool mute; /* swallow what the client sends: no answer ever */
    atomic_int conns; /* connections accepted */
    atomic_bool stop;
    pthread_t th;
} relay;

static bool relay_pass(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    int cfd = -1, sfd = -1;
    while (!atomic_load(&r->stop)) {
        struct pollfd p[3] = {{r->lfd, POLLIN, 0}, {cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 3, 50) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int nc = accept(r->lfd, NULL, NULL);
            if (cfd >= 0)
                close(cfd), close(sfd);
            cfd = nc;
            sfd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->target)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (connect(sfd, (struct sockaddr *)&a, sizeof a) != 0)
                close(cfd), close(sfd), cfd = sfd = -1;
            atomic_fetch_add(&r->conns, 1);
            continue;
        }
        bool ok = true;
        if (cfd >= 0 && p[1].revents && atomic_load(&r->mute)) {
            char buf[65536];
            ok = read(cfd, buf, sizeof buf) > 0;
        } else if (cfd >= 0 && p[1].revents && atomic_exchange(&r->slam, false)) {
            /* a FIN first, then a reset while the client still writes:
             * its next write fails with EPIPE (the SIGPIPE case) */
            shutdown(cfd, SHUT_WR);
            char buf[65536];
            for (int i = 0; i < 20 && read(cfd, buf, sizeof buf) > 0; i++)
                ;
            ok = false;
        } else if (cfd >= 0 && p[1].revents) {
            ok = relay_pass(cfd, sfd);
            if (ok && atomic_load(&r->cuts) > 0) {
                atomic_fetch_sub(&r->cuts, 1);
                /* let the server run it and answer, then cut */
                struct pollfd q = {sfd, POLLIN, 0};
                poll(&q, 1, 2000);
                ok = false;
            }
        }
        if (ok && sfd >= 0 && p[2].revents)
            ok = relay_pass(sfd, cfd);
        if (!ok && cfd >= 0) {
            close(cfd);
            close(sfd);
            cfd = sfd = -1;
        }
    }
    if (cfd >= 0)
        close(cfd), close(sfd);
    return NULL;
}

static void relay_start(relay *r, int target)
{
    r->target = target;
    atomic_init(&r->cuts, 0);
    atomic_init(&r->conns, 0);
    atomic_init(&r->slam, false);
    atomic_init(&r->mute, false);
    atomic_init(&r->stop, false);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->lfd, 8), 0);
    assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&a, &al), 0);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->th, NULL, relay_main, r), 0);
}

static void relay_stop(relay *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->th, NULL);
    close(r->lfd);
}

static void connections_cut_mid_command(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char host[128], p[64];
    int port;
    kt_redis_host_port(kt_redis_url(), host, sizeof host, &port);
    relay r;
    relay_start(&r, port);
    kt_redis_new_prefix(p, sizeof p, "cut");
    char *u;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=%s", r.port, p) > 0);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v1", 2));
    int conns = atomic_load(&r.conns);
    kl_buf got = KL_BUF_INIT;

    /* a read cut once: retried on a new connection, answered */
    atomic_store(&r.cuts, 1);
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_int_equal(got.len, 2);
    assert_memory_equal(got.data, "v1", 2);
    assert_int_equal(atomic_load(&r.conns), conns + 1);
    size_t n = 0;
    atomic_store(&r.cuts, 1);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 1);

    /* a read cut twice: an error naming the URL, no crash */
    atomic_store(&r.cuts, 2);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_EBACKEND);
    print_message("read cut twice: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), u));
    assert_non_null(strstr(kl_errmsg(), "closed the connection"));

    /* a write cut: reported, not retried (the server did run it) */
    atomic_store(&r.cuts, 1);
    assert_int_equal(kl_archive_put(ar, "k2", 2, "v2", 2), KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "put"));
    KT_OK(kl_archive_get(ar, "k2", 2, &got)); /* and the handle goes on */
    assert_memory_equal(got.data, "v2", 2);
    atomic_store(&r.cuts, 1);
    assert_int_equal(kl_archive_del(ar, "k2", 2), KL_EBACKEND);
    assert_int_equal(kl_archive_contains(ar, "k2", 2), 0);

    /* a batch cut, then an iteration cut once */
    const void *keys[3] = {"a", "b", "c"};
    size_t kl[3] = {1, 1, 1};
    atomic_store(&r.cuts, 1);
    assert_int_equal(kl_archive_put_many(ar, 3, keys, kl, keys, kl), KL_EBACKEND);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 4); /* all of it ran (a transaction), none lost halfway */
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    atomic_store(&r.cuts, 1);
    int rc, total = 0;
    while ((rc = kl_archive_iter_next(it, &got, NULL)) == 1)
        total++;
    assert_int_equal(rc, 0);
    assert_int_equal(total, 4);
    kl_archive_iter_free(it);

    /* hung up on while a big batch is being written: an error (and no
     * SIGPIPE kills the process) */
    size_t big = 16u << 20;
    char *v = calloc(1, big);
    assert_non_null(v);
    const void *bk[3] = {"big1", "big2", "big3"}, *bv[3] = {v, v, v};
    size_t bkl[3] = {4, 4, 4}, bvl[3] = {big, big, big};
    for (int i = 0; i < 5; i++) {
        atomic_store(&r.slam, true);
        assert_int_equal(kl_archive_put_many(ar, 3, bk, bkl, bv, bvl), KL_EBACKEND);
    }
    print_message("hung up on: %s\n", kl_errmsg());
    free(v);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 4);
    KT_OK(kl_archive_drop(ar));

    /* a server that never answers: timeout= ends the wait, with a message */
    char *slow;
    assert_true(asprintf(&slow, "%s&timeout=0.3", u) > 0);
    KT_OK(kl_archive_open(&ar, slow, NULL));
    atomic_store(&r.mute, true);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_EBACKEND);
    print_message("mute server: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "no answer within timeout=0.3 s"));
    assert_int_equal(kl_archive_put(ar, "k", 1, "v", 1), KL_EBACKEND);
    atomic_store(&r.mute, false);
    KT_OK(kl_archive_drop(ar)); /* answered again */
    free(slow);
    relay_stop(&r);
    kl_buf_free(&got);
    free(u);
}

/* ---- a private server: passwords, dropped connections, restarts ------- */

typedef struct private_server {
    char *dir;
    int port;
} private_server;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool server_up(int port)
{
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){1, 0});
    bool ok = c && !c->err;
    if (ok) {
        redisReply *r = redisCommand(c, "PING");
        /* a password-protected server answers NOAUTH: up too */
        ok = r != NULL;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

static void server_start(private_server *s)
{
    char *cmd;
    assert_true(asprintf(&cmd,
                         "redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no "
                         "--dir '%s' --logfile '%s/log' --pidfile '%s/pid' --daemonize yes "
                         ">/dev/null 2>&1",
                         s->port, s->dir, s->dir, s->dir) > 0);
    assert_int_equal(kt_run(cmd, NULL), 0);
    free(cmd);
    for (int i = 0; i < 200 && !server_up(s->port); i++)
        usleep(20000);
    assert_true(server_up(s->port));
}

static void server_stop(private_server *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/pid", s->dir);
    char *pid = kt_slurp(path, NULL);
    if (!pid)
        return;
    pid_t p = (pid_t)atoi(pid);
    free(pid);
    if (p <= 0)
        return;
    kill(p, SIGTERM);
    /* gone once it removed its pid file and closed its port (the exited
     * process may stay a zombie a while: it is not our child) */
    for (int i = 0; i < 250 && kill(p, 0) == 0; i++) {
        if (access(path, F_OK) != 0 && !server_up(s->port))
            break;
        usleep(20000);
    }
    unlink(path);
}

static bool have_redis_server(void)
{
    if (kt_run("command -v redis-server >/dev/null 2>&1", NULL) == 0)
        return true;
    print_message("redis-server is not installed: skipped\n");
    return false;
}

static void passwords_users_and_refusals(void **state)
{
    (void)state;
    if (!have_redis_server())
        skip();
    private_server srv = {kt_tmpdir("redispw"), free_port()};
    server_start(&srv);
    char *u;
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_true(c && !c->err);
    freeReplyObject(kt_redis_raw(c, "ACL SETUSER kt on >s3cr%%et@/:x ~* +@all"));
    freeReplyObject(kt_redis_raw(c, "CONFIG SET requirepass topsecret"));
    redisFree(c);

    /* no password: the server's refusal, as KL_EPERM */
    kl_archive *ar = NULL;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EPERM);
    assert_non_null(strstr(kl_errmsg(), "NOAUTH"));
    free(u);
    /* a wrong password: refused, and never printed */
    assert_true(asprintf(&u, "redis://:wrongpass@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EPERM);
    print_message("wrong password: %s\n", kl_errmsg());
    assert_null(strstr(kl_errmsg(), "wrongpass"));
    assert_non_null(strstr(kl_errmsg(), "127.0.0.1"));
    free(u);
    /* the default user's password */
    assert_true(asprintf(&u, "redis://:topsecret@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v", 1));
    KT_OK(kl_archive_close(ar));
    free(u);
    /* a named user, its password percent-encoded */
    assert_true(
        asprintf(&u, "redis://kt:s3cr%%25et%%40%%2F%%3Ax@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    KT_OK(kl_archive_open(&ar, u, NULL));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_memory_equal(got.data, "v", 1);
    KT_OK(kl_archive_close(ar));
    free(u);
    assert_true(asprintf(&u, "redis://kt:nope@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EPERM);
    assert_non_null(strstr(kl_errmsg(), "WRONGPASS"));
    free(u);
    kl_buf_free(&got);
    server_stop(&srv);
    kt_rmrf(srv.dir);
    free(srv.dir);
}

/* A full server (maxmemory reached, noeviction): a put, a batch and a
 * delete-free read path all report KL_ENOSPC or work; nothing of a refused
 * batch is stored, and what was stored before stays readable. */
static void a_full_server_refuses_writes_cleanly(void **state)
{
    (void)state;
    if (!have_redis_server())
        skip();
    private_server srv = {kt_tmpdir("redisfull"), free_port()};
    server_start(&srv);
    char *u;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=full", srv.port) > 0);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "before", 6, "kept", 4));
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_true(c && !c->err);
    freeReplyObject(kt_redis_raw(c, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(kt_redis_raw(c, "CONFIG SET maxmemory 1"));
    enum { VLEN = 1 << 20 };
    char *big = calloc(1, VLEN);
    assert_non_null(big);
    assert_int_equal(kl_archive_put(ar, "big", 3, big, VLEN), KL_ENOSPC);
    assert_non_null(strstr(kl_errmsg(), "OOM"));
    const void *keys[2] = {"b1", "b2"}, *vals[2] = {big, big};
    size_t klens[2] = {2, 2}, vlens[2] = {VLEN, VLEN};
    assert_int_equal(kl_archive_put_many(ar, 2, keys, klens, vals, vlens), KL_ENOSPC);
    /* reads still work; the refused writes left nothing */
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "before", 6, &got));
    assert_memory_equal(got.data, "kept", 4);
    freeReplyObject(kt_redis_raw(c, "CONFIG SET maxmemory 0"));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 1);
    assert_int_equal(kl_archive_contains(ar, "big", 3), 0);
    assert_int_equal(kl_archive_contains(ar, "b1", 2), 0);
    /* and once there is room again, writes work on the same handle */
    KT_OK(kl_archive_put(ar, "big", 3, big, VLEN));
    KT_OK(kl_archive_close(ar));
    redisFree(c);
    kl_buf_free(&got);
    free(big);
    free(u);
    server_stop(&srv);
    kt_rmrf(srv.dir);
    free(srv.dir);
}

static void lost_connections_and_restarts_are_survived(void **state)
{
    (void)state;
    if (!have_redis_server())
        skip();
    private_server srv = {kt_tmpdir("redisstop"), free_port()};
    server_start(&srv);
    char *u;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=stop&timeout=5", srv.port) > 0);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v1", 2));
    kl_buf got = KL_BUF_INIT;

    /* the server closes our connection (as its idle timeout would): the
     * next read and the next write both go through on a new one */
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_true(c && !c->err);
    freeReplyObject(kt_redis_raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_memory_equal(got.data, "v1", 2);
    freeReplyObject(kt_redis_raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    KT_OK(kl_archive_put(ar, "k2", 2, "v2", 2));
    freeReplyObject(kt_redis_raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    kl_buf k = KL_BUF_INIT;
    int n = 0;
    while (kl_archive_iter_next(it, &k, NULL) == 1)
        n++;
    kl_archive_iter_free(it);
    assert_int_equal(n, 2);

    /* the server hangs up while a big value is still being sent (over its
     * proto-max-bulk-len): an error, and no SIGPIPE kills the process */
    freeReplyObject(kt_redis_raw(c, "CONFIG SET proto-max-bulk-len 1mb"));
    size_t big = 16u << 20;
    char *v = calloc(1, big);
    assert_non_null(v);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kl_archive_put(ar, "big", 3, v, big), KL_EBACKEND);
        print_message("hung up on: %s\n", kl_errmsg());
    }
    const void *bk[2] = {"big", "big2"}, *bv[2] = {v, v};
    size_t bkl[2] = {3, 4}, bvl[2] = {big, big};
    assert_int_equal(kl_archive_put_many(ar, 2, bk, bkl, bv, bvl), KL_EBACKEND);
    free(v);
    assert_int_equal(kl_archive_contains(ar, "big", 3), 0);
    freeReplyObject(kt_redis_raw(c, "CONFIG SET proto-max-bulk-len 512mb"));
    redisFree(c);

    /* the server stops: reads and writes fail with a message, no crash */
    server_stop(&srv);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_EBACKEND);
    print_message("stopped server: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), u));
    assert_true(strstr(kl_errmsg(), "refused") || strstr(kl_errmsg(), "closed"));
    assert_int_equal(kl_archive_put(ar, "k3", 2, "x", 1), KL_EBACKEND);
    size_t cnt;
    assert_int_equal(kl_archive_count(ar, &cnt), KL_EBACKEND);

    /* back (empty: no persistence): the handle reconnects by itself */
    server_start(&srv);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_ENOTFOUND);
    KT_OK(kl_archive_put(ar, "k", 1, "v3", 2));
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_memory_equal(got.data, "v3", 2);
    KT_OK(kl_archive_close(ar));

    kl_buf_free(&got);
    kl_buf_free(&k);
    server_stop(&srv);
    kt_rmrf(srv.dir);
    free(srv.dir);
    free(u);
}

/* A new handle that may not create the archive (create = false) opens
 * url and finds key -> val. */
static void opens_and_reads(const char *url, const char *key, const char *val)
{
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, url, &o);
    if (rc)
        fail_msg("a new handle on %s: %d: %s", url, rc, kl_errmsg());
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, key, strlen(key), &got));
    assert_int_equal(got.len, strlen(val));
    assert_memory_equal(got.data, val, got.len);
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&got);
}

/* A server restarted without persistence comes back empty, the format
 * marker gone with the rest: a writer whose handle lives on writes the
 * marker again with its next put (or put_many), so new handles still
 * find an archive ("no klepto archive" otherwise, with entries in it).
 * A marker removed under a live connection comes back with the first write
 * a second later; a marker that is there is never overwritten. */
static void writes_after_a_restart_keep_the_archive_openable(void **state)
{
    (void)state;
    if (!have_redis_server())
        skip();
    private_server srv = {kt_tmpdir("redismark"), free_port()};
    server_start(&srv);
    char *u;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=mark&timeout=5", srv.port) > 0);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k1", 2, "v1", 2));
    opens_and_reads(u, "k1", "v1");

    /* a put after the restart */
    server_stop(&srv);
    server_start(&srv);
    KT_OK(kl_archive_put(ar, "k2", 2, "v2", 2));
    opens_and_reads(u, "k2", "v2");

    /* a put_many after the restart */
    server_stop(&srv);
    server_start(&srv);
    const void *keys[2] = {"k3", "k4"}, *vals[2] = {"v3", "v4"};
    size_t lens[2] = {2, 2};
    KT_OK(kl_archive_put_many(ar, 2, keys, lens, vals, lens));
    opens_and_reads(u, "k4", "v4");

    /* the marker deleted, the connection alive */
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_true(c && !c->err);
    assert_int_equal(kt_redis_raw_int(c, "DEL %s", "{mark}:format"), 1);
    usleep(1100 * 1000);
    KT_OK(kl_archive_put(ar, "k5", 2, "v5", 2));
    opens_and_reads(u, "k5", "v5");
    /* deletes need no marker and make none */
    assert_int_equal(kt_redis_raw_int(c, "DEL %s", "{mark}:format"), 1);
    freeReplyObject(kt_redis_raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    KT_OK(kl_archive_del(ar, "k5", 2));
    const void *dk[1] = {"k4"};
    size_t dl[1] = {2}, gone = 0;
    KT_OK(kl_archive_del_many(ar, 1, dk, dl, &gone));
    assert_int_equal(gone, 1);
    assert_int_equal(kt_redis_raw_int(c, "EXISTS %s", "{mark}:format"), 0);

    /* one that is there stays as it is (writes over a new connection
     * carry the SET NX): a newer layout's marker is left for that
     * layout's readers to judge */
    freeReplyObject(kt_redis_raw(c, "SET {mark}:format %s", "klepto-redis 9"));
    freeReplyObject(kt_redis_raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    KT_OK(kl_archive_put(ar, "k6", 2, "v6", 2));
    freeReplyObject(kt_redis_raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    KT_OK(kl_archive_put_many(ar, 2, keys, lens, vals, lens));
    redisReply *rep = kt_redis_raw(c, "GET {mark}:format");
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "klepto-redis 9");
    freeReplyObject(rep);
    redisFree(c);

    KT_OK(kl_archive_close(ar));
    server_stop(&srv);
    kt_rmrf(srv.dir);
    free(srv.dir);
    free(u);
}

int main(void)
{
    if (!kt_redis_url())
        printf("# KLEPTO_TEST_REDIS_URL is not set: the server tests skip\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_unreachable_server_fails_fast),
        cmocka_unit_test(short_passwords_are_masked),
        cmocka_unit_test(bad_urls_are_refused),
        cmocka_unit_test(a_database_out_of_range_is_the_servers_error),
        cmocka_unit_test(connections_cut_mid_command),
        cmocka_unit_test(passwords_users_and_refusals),
        cmocka_unit_test(a_full_server_refuses_writes_cleanly),
        cmocka_unit_test(lost_connections_and_restarts_are_survived),
        cmocka_unit_test(writes_after_a_restart_keep_the_archive_openable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
