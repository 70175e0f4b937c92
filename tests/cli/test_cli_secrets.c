/* SPDX-License-Identifier: BSD-3-Clause */
/* The klepto tool never prints a password (README): every command that
 * takes an archive URL, run against Redis and PostgreSQL URLs carrying a
 * planted password (USER:PASSWORD@ and ?password= forms), succeeding and
 * failing, on pipes and with stderr on a terminal (verify's "checking URL"
 * line, copy's progress): the password is in neither stdout nor stderr,
 * and the summary lines name the URL masked.
 *
 * Unreachable servers (port 1 of the loopback) need nothing; the working
 * cases use the servers of scripts/with-servers.sh when their URLs are
 * set: PostgreSQL (trust authentication: libpq sends no password the
 * server does not ask for, so the URL's password is carried but unused)
 * and Redis (an ACL user of this test's own, with the planted password,
 * removed at the end). */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto.h"
#ifdef KLEPTO_HAVE_REDIS
#include "redis_fixture.h"
#endif

#define SECRET "PLANTEDSECRET"

static char *dir;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "clis");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

/* The output must not hold the password (nor any planted variant). */
static void assert_no_secret(const char *what, const char *out)
{
    if (out && strstr(out, SECRET))
        fail_msg("klepto %s printed the password:\n%s", what, out);
}

/* Run `klepto ARGS` with stdout and stderr merged; asserts the password is
 * not in them; the exit status, and the output in *out when out. */
static int __attribute__((format(printf, 2, 3))) run(char **out, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = NULL;
    int rc = kt_klepto(&o, true, "%s", args);
    assert_non_null(o);
    assert_no_secret(args, o);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

/* The same with stdout and stderr on a pseudo-terminal (the tool then
 * shows progress on stderr); stdin is /dev/null. */
static int __attribute__((format(printf, 2, 3))) run_tty(char **out, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "exec %s %s </dev/null", kt_bin("klepto"), args);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    const char *name = ptsname(m);
    assert_non_null(name);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid();
        int s = open(name, O_RDWR);
        if (s < 0)
            _exit(127);
        dup2(s, 1);
        dup2(s, 2);
        close(s);
        close(m);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (cap - len < 1024) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
        ssize_t n = read(m, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* EIO once the last writer of the terminal is gone */
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(m);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_no_secret(args, buf);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Every command that takes an archive URL, against url; none may print
 * the password.  With works, url names a reachable archive and the
 * commands must succeed; the summary lines then name url masked (each
 * holds `masked`, the URL's masked user part). */
static void every_command(const char *url, bool works, const char *masked)
{
    char *out;
    char imp[4200], other[4200];
    snprintf(imp, sizeof imp, "%s/import.jsonl", dir);
    snprintf(other, sizeof other, "dir:%s/other", dir);
    write_file(imp, "{\"key_repr\": \"'imported'\", \"value_repr\": \"1.5\"}\n");
    kt_rmrf(other + 4);

    int want = works ? 0 : -1; /* -1: any failure */
#define CHECK(rc, expect)                                                                          \
    do {                                                                                           \
        int got_ = (rc);                                                                           \
        if ((expect) >= 0 ? got_ != (expect) : got_ == 0)                                          \
            fail_msg("%s: exit %d, expected %s%d", url, got_, (expect) >= 0 ? "" : "not ", \
                     (expect) >= 0 ? (expect) : 0);                                                \
    } while (0)

    CHECK(run(NULL, "put '%s' 1 \"'one'\"", url), want);
    CHECK(run(NULL, "put '%s' 2 \"'two'\"", url), want);
    CHECK(run(NULL, "put '%s' 3 \"'three'\"", url), want);
    CHECK(run(NULL, "ls '%s'", url), want);
    CHECK(run(NULL, "ls '%s' --long", url), want);
    CHECK(run(NULL, "ls '%s' --json", url), want);
    CHECK(run(NULL, "get '%s' 1", url), want);
    CHECK(run(&out, "get '%s' 99", url), works ? 1 : -1); /* "key 99 not found" */
    if (works)
        assert_non_null(strstr(out, masked));
    free(out);
    CHECK(run(NULL, "count '%s'", url), want);
    CHECK(run(NULL, "rm '%s' 3", url), want);
    CHECK(run(&out, "rm '%s' 99", url), works ? 1 : -1);
    if (works)
        assert_non_null(strstr(out, masked));
    free(out);
    CHECK(run(NULL, "stats '%s'", url), want);
    CHECK(run(NULL, "verify '%s'", url), want);
    CHECK(run(NULL, "verify '%s' --repair", url), want);
    CHECK(run_tty(&out, "verify '%s'", url), want); /* "checking URL ..." */
    if (works)
        assert_non_null(strstr(out, masked));
    free(out);
    CHECK(run(&out, "copy '%s' '%s'", url, other), want);
    if (works)
        assert_non_null(strstr(out, masked));
    free(out);
    CHECK(run(&out, "copy '%s' '%s'", other, url), want);
    if (works)
        assert_non_null(strstr(out, masked));
    free(out);
    CHECK(run_tty(NULL, "copy '%s' '%s'", url, other), want);
    CHECK(run(NULL, "compact '%s'", url), want);
    CHECK(run(NULL, "export '%s'", url), want);
    CHECK(run(NULL, "export '%s' --format csv", url), want);
    CHECK(run(&out, "import '%s' '%s'", url, imp), want);
    if (works)
        assert_non_null(strstr(out, masked));
    free(out);
    CHECK(run(&out, "prune '%s' --max-entries 1", url), want);
    if (works)
        assert_non_null(strstr(out, masked));
    free(out);
    CHECK(run(NULL, "prune '%s' --older-than 1d", url), want);
    CHECK(run(NULL, "clear '%s'", url), want);
    if (works) {
        CHECK(run(&out, "count '%s'", url), 0);
        assert_string_equal(out, "0\n");
        free(out);
    }
    /* the URL where it does not belong: echoed in the usage error */
    CHECK(run(NULL, "ls '%s' '%s'", other, url), 2);
    CHECK(run(NULL, "verify '%s' '%s'", other, url), 2);
    CHECK(run(NULL, "export '%s' '%s'", other, url), 2);
    CHECK(run(NULL, "import '%s' '%s' '%s'", other, imp, url), 2);
    CHECK(run(NULL, "prune '%s' '%s' --max-entries 1", other, url), 2);
    CHECK(run(NULL, "'%s' ls", url), 2); /* the command left out */
#undef CHECK
}

/* Nothing listens on port 1 of the loopback: every command fails at
 * once, and its message names the URL masked. */
static void unreachable_servers(void **st)
{
    (void)st;
    static const char *const urls[] = {
        "redis://:" SECRET "@127.0.0.1:1/0?timeout=2",
        "redis://someone:" SECRET "@127.0.0.1:1/0?timeout=2",
        "redis://127.0.0.1:1/0?password=" SECRET, /* an option redis refuses */
        "postgresql://u:" SECRET "@127.0.0.1:1/db?password=" SECRET "2&connect_timeout=2",
        "postgresql://127.0.0.1:1/db?password=" SECRET "&table=t&connect_timeout=2",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        every_command(urls[i], false, NULL);
        char *out;
        /* refused (a bad option: 2) or unreachable (3), named masked */
        int rc = run(&out, "count '%s'", urls[i]);
        assert_true(rc == 2 || rc == 3);
        assert_non_null(strstr(out, "***"));
        free(out);
    }
}

static void postgres_with_a_password(void **st)
{
    (void)st;
    const char *base = getenv("KLEPTO_TEST_PG_URL");
    if (!base) {
        print_message("KLEPTO_TEST_PG_URL is not set (run under scripts/with-servers.sh): "
                      "skipped\n");
        skip();
    }
    /* postgresql://USER@HOST...: the password after the user, and again
     * as an option (both are libpq's) */
    const char *at = strchr(base, '@');
    assert_non_null(at);
    char *url;
    assert_true(asprintf(&url, "%.*s:" SECRET "%s?table=kt_secrets_%d&password=" SECRET "2",
                         (int)(at - base), base, at, (int)getpid()) > 0);
    every_command(url, true, ":***@");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_drop(ar));
    free(url);
}

static void redis_with_a_password(void **st)
{
    (void)st;
#ifdef KLEPTO_HAVE_REDIS
    KT_NEED_REDIS();
    char host[128], user[64], p[64];
    int port;
    kt_redis_host_port(kt_redis_url(), host, sizeof host, &port);
    kt_redis_new_prefix(p, sizeof p, "secrets");
    snprintf(user, sizeof user, "kt_secrets_%d", (int)getpid());
    redisContext *c = kt_redis_connect(kt_redis_url());
    redisReply *rep = kt_redis_raw(c, "ACL SETUSER %s on >%s ~* +@all", user, SECRET);
    if (rep->type == REDIS_REPLY_ERROR) { /* a server before 6.0: no ACL users */
        print_message("ACL SETUSER: %s: skipped\n", rep->str);
        freeReplyObject(rep);
        redisFree(c);
        skip();
    }
    freeReplyObject(rep);
    char *url;
    assert_true(asprintf(&url, "redis://%s:" SECRET "@%s:%d/0?prefix=%s", user, host, port, p) > 0);
    every_command(url, true, ":***@");
    /* a wrong password: the server's refusal, the password unprinted */
    char *wrong, *out;
    assert_true(asprintf(&wrong, "redis://%s:" SECRET "X@%s:%d/0?prefix=%s", user, host, port, p) >
                0);
    assert_int_equal(run(&out, "count '%s'", wrong), 3);
    assert_non_null(strstr(out, "WRONGPASS"));
    free(out);
    every_command(wrong, false, NULL);
    kt_redis_drop_url(url);
    freeReplyObject(kt_redis_raw(c, "ACL DELUSER %s", user));
    redisFree(c);
    free(wrong);
    free(url);
#else
    print_message("built without the redis backend: skipped\n");
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unreachable_servers),
        cmocka_unit_test(postgres_with_a_password),
        cmocka_unit_test(redis_with_a_password),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
