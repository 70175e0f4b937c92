/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql:// archives against a real MariaDB server ($KLEPTO_TEST_MYSQL_URL,
 * set by scripts/with-servers.sh under `make test`; the tests skip without
 * it).  Each test works in a database of its own so test programs can
 * share the server at once.  The server's URL holds a password: the tests
 * check that it never reaches a message. */
#define _GNU_SOURCE
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"
#include "klepto/memo.h"
#include "archive_suite.h"
#include "awkward_keys.h"
#include "mysql_fixture.h"
#include "testutil.h"

typedef kt_my_db fx;

static int fx_setup(void **state)
{
    return kt_my_db_setup(state, "my");
}
static int fx_teardown(void **state)
{
    return kt_my_db_teardown(state);
}

/* The server URL with the fixture's database, plus `extra` options. */
static char *url_of(const fx *f, const char *extra)
{
    return kt_my_url_of(f->db, extra);
}

static void assert_no_password(const char *text)
{
    kt_my_server sv;
    kt_my_parse(kt_my_url(), &sv);
    if (text && strstr(text, sv.pass))
        fail_msg("the password reached a message: %s", text);
}

#define NKEYS KT_AWKWARD_KEYS

static const void *ptr(const kl_buf *b)
{
    return b->data ? (const void *)b->data : "";
}

static void put_all(kl_archive *ar, int gen)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    for (int i = 0; i < NKEYS; i++) {
        kt_awkward_key(i, &k);
        kt_awkward_value(i, gen, &v);
        KT_OK(kl_archive_put(ar, ptr(&k), k.len, ptr(&v), v.len));
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
}

static void check_contents(kl_archive *ar, int gen)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, got = KL_BUF_INIT;
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        kt_awkward_key(i, &k);
        kt_awkward_value(i, gen, &v);
        KT_OK(kl_archive_get(ar, ptr(&k), k.len, &got));
        assert_int_equal(got.len, v.len);
        if (v.len)
            assert_memory_equal(got.data, v.data, v.len);
        assert_int_equal(kl_archive_contains(ar, ptr(&k), k.len), 1);
        kl_entry_info info;
        KT_OK(kl_archive_stat(ar, ptr(&k), k.len, &info));
        assert_int_equal(info.size, k.len + v.len);
        assert_true(info.stored_ns > 1600000000LL * 1000000000LL);
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&got);
}

static void conformance_suite(void **state)
{
    KT_NEED_MYSQL();
    char *u = url_of(*state, "table=suite");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
    u = url_of(*state, "");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
    /* the other scheme is the same backend */
    u = url_of(*state, "table=suite2");
    char *m;
    assert_true(asprintf(&m, "mariadb%s", u + 5) > 0);
    kt_archive_suite(m, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(m);
    free(u);
}

static void threads_share_one_handle(void **state)
{
    KT_NEED_MYSQL();
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(*state, layout ? "" : "table=t");
        kt_suite_threads(u);
        free(u);
    }
}

/* Awkward keys (NUL bytes, empty, long), twice, reopened; a 64 KiB+ key;
 * del_many; the rows as a Python reader sees them. */
static void keys_of_any_bytes_round_trip(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "" : "table=results");
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        put_all(ar, 0);
        check_contents(ar, 0);
        put_all(ar, 1);
        KT_OK(kl_archive_close(ar));
        KT_OK(kl_archive_open(&ar, u, NULL));
        check_contents(ar, 1);

        size_t big = 70000;
        char *k1 = malloc(big), *k2 = malloc(big);
        for (size_t i = 0; i < big; i++)
            k1[i] = k2[i] = (char)(i % 251);
        k2[big - 1] ^= 1; /* differs in the last byte only */
        k1[5] = k2[5] = '\0';
        KT_OK(kl_archive_put(ar, k1, big, "one", 3));
        KT_OK(kl_archive_put(ar, k2, big, "two", 3));
        kl_buf got = KL_BUF_INIT;
        KT_OK(kl_archive_get(ar, k1, big, &got));
        assert_int_equal(got.len, 3);
        assert_memory_equal(got.data, "one", 3);
        KT_OK(kl_archive_get(ar, k2, big, &got));
        assert_memory_equal(got.data, "two", 3);
        assert_int_equal(kl_archive_get(ar, k1, big - 1, &got), KL_ENOTFOUND);

        const void *dk[4] = {k1, k2, k1, "absent"};
        size_t dl[4] = {big, big, big, 6}, deleted = 99;
        KT_OK(kl_archive_del_many(ar, 4, dk, dl, &deleted));
        assert_int_equal(deleted, 2);
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, NKEYS);
        free(k1);
        free(k2);
        kl_buf_free(&got);
        KT_OK(kl_archive_drop(ar));
        free(u);
    }
    /* the layout a Python reader relies on (docs/formats.md) */
    char *u = url_of(f, "table=py");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "value", 5));
    KT_OK(kl_archive_close(ar));
    char *v = kt_my_value(f->db, "SELECT CONCAT_WS(',', HEX(kid), \"key\", value, size, "
                                 "stored_ns > 0) FROM py");
    /* kid: XXH3-128 of "k", canonical (big-endian) bytes */
    assert_non_null(strstr(v, ",k,value,6,1"));
    assert_int_equal(strlen(v), 32 + strlen(",k,value,6,1"));
    free(v);
    v = kt_my_value(f->db, "SELECT CONCAT(ENGINE, ',', TABLE_COLLATION) FROM "
                           "information_schema.tables WHERE table_schema = DATABASE() AND "
                           "table_name = 'py'");
    assert_string_equal(v, "InnoDB,utf8mb4_general_ci");
    free(v);
    free(u);
}

static void sql_archive_tables_are_one_per_key(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    char *u = url_of(f, "");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    put_all(ar, 0);
    char *n = kt_my_value(f->db, "SELECT count(*) FROM information_schema.tables WHERE "
                                 "table_schema = DATABASE() AND table_name RLIKE '^e[0-9]+$'");
    assert_int_equal(atoi(n), NKEYS);
    free(n);
    KT_OK(kl_archive_del(ar, "plain", 5));
    n = kt_my_value(f->db, "SELECT count(*) FROM information_schema.tables WHERE "
                           "table_schema = DATABASE()");
    assert_int_equal(atoi(n), NKEYS); /* NKEYS - 1 entry tables + the catalogue */
    free(n);
    KT_OK(kl_archive_close(ar));
    free(u);
}

static void table_names_with_quotes_are_safe(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    char *other = url_of(f, "table=other");
    char *evil = url_of(f, "table=a%22b%60c%27%3B%20DROP%20TABLE%20other%3B%20--");
    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, other, NULL));
    KT_OK(kl_archive_put(a, "k", 1, "v", 1));
    KT_OK(kl_archive_open(&b, evil, NULL));
    KT_OK(kl_archive_put(b, "k", 1, "w", 1));
    char *n = kt_my_value(f->db, "SELECT count(*) FROM information_schema.tables WHERE "
                                 "table_schema = DATABASE() AND table_name = 'a\"b`c\\'; DROP "
                                 "TABLE other; --'");
    assert_string_equal(n, "1");
    free(n);
    KT_OK(kl_archive_drop(b));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(a, "k", 1, &got));
    assert_memory_equal(got.data, "v", 1);
    KT_OK(kl_archive_close(a));
    kl_buf_free(&got);
    /* too long, and the other layout's names: refused, naming the URL */
    char *bad =
        url_of(f, "table=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(kl_archive_open(&a, bad, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), f->db));
    assert_no_password(kl_errmsg());
    free(bad);
    bad = url_of(f, "table=klepto_catalogue");
    assert_int_equal(kl_archive_open(&a, bad, NULL), KL_EINVAL);
    free(bad);
    free(other);
    free(evil);
}

static void a_table_not_ours_is_refused(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    kt_my_exec(f->db, "CREATE TABLE people (name TEXT, age INT)");
    kt_my_exec(f->db, "INSERT INTO people VALUES ('ann', 31)");
    kt_my_exec(f->db, "CREATE TABLE klepto_catalogue (x INT)");
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "" : "table=people");
        kl_archive *ar = NULL;
        assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EINVAL);
        assert_null(ar);
        print_message("%s\n", kl_errmsg());
        assert_non_null(strstr(kl_errmsg(), layout ? "klepto_catalogue" : "people"));
        assert_non_null(strstr(kl_errmsg(), f->db));
        assert_no_password(kl_errmsg());
        free(u);
    }
    char *n = kt_my_value(f->db, "SELECT CONCAT(count(*), name, age) FROM people");
    assert_string_equal(n, "1ann31");
    free(n);
}

static void wrong_credentials_and_hosts_fail_clearly(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    kt_my_server sv;
    kt_my_parse(kt_my_url(), &sv);
    char *u;
    assert_true(
        asprintf(&u, "mysql://klepto:wrong-sekrit@%s:%u/%s?table=t", sv.host, sv.port, f->db) > 0);
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EBACKEND);
    assert_null(ar);
    print_message("%s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "Access denied"));
    assert_non_null(strstr(kl_errmsg(), "mysql://klepto:"));
    assert_null(strstr(kl_errmsg(), "wrong-sekrit"));
    free(u);
    /* nothing listens on port 1 of the loopback */
    assert_int_equal(
        kl_archive_open(&ar, "mysql://klepto:sekrit@127.0.0.1:1/x?table=t&connect_timeout=2", NULL),
        KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "127.0.0.1"));
    assert_null(strstr(kl_errmsg(), "sekrit"));
    /* an address nothing answers from: given up after the timeout */
    assert_int_equal(
        kl_archive_open(&ar, "mysql://klepto:sekrit@10.255.255.1/x?table=t&connect_timeout=1",
                        NULL),
        KL_EBACKEND);
    print_message("%s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "10.255.255.1"));
    assert_null(strstr(kl_errmsg(), "sekrit"));
    /* options neither we nor Connector/C know, and bad values */
    char *bad = url_of(f, "table=t&colour=blue");
    assert_int_equal(kl_archive_open(&ar, bad, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "colour"));
    assert_no_password(kl_errmsg());
    free(bad);
    bad = url_of(f, "table=t&connect_timeout=soon");
    assert_int_equal(kl_archive_open(&ar, bad, NULL), KL_EINVAL);
    free(bad);
    assert_int_equal(kl_archive_open(&ar, "mysql://127.0.0.1:3306", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "no database name"));
    /* a socket that does not exist */
    bad = url_of(f, "table=t&socket=/nonexistent/mysql.sock");
    char *sock;
    assert_true(asprintf(&sock,
                         "mysql://klepto:%s@localhost/%s?table=t&socket=/nonexistent/"
                         "mysql.sock",
                         sv.pass, f->db) > 0);
    assert_int_equal(kl_archive_open(&ar, sock, NULL), KL_EBACKEND);
    print_message("%s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "/nonexistent/mysql.sock"));
    assert_no_password(kl_errmsg());
    /* TLS options reach the client: the test server has no certificate,
     * so requiring TLS fails, and not requiring it works */
    char *tls = url_of(f, "table=t&ssl=true&ssl_verify_server_cert=false");
    assert_int_equal(kl_archive_open(&ar, tls, NULL), KL_EBACKEND);
    print_message("%s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "TLS"));
    assert_no_password(kl_errmsg());
    free(tls);
    tls = url_of(f, "table=t&ssl=false&connect_timeout=3");
    KT_OK(kl_archive_open(&ar, tls, NULL));
    KT_OK(kl_archive_close(ar));
    free(tls);
    free(sock);
    free(bad);
}

static void a_value_over_the_packet_limit_is_too_big(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    char *mp = kt_my_value(NULL, "SELECT @@max_allowed_packet");
    size_t max = (size_t)strtoull(mp, NULL, 10);
    free(mp);
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "" : "table=t");
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        KT_OK(kl_archive_put(ar, "old", 3, "1", 1));
        size_t vl = max + 1;
        char *v = calloc(1, vl);
        assert_int_equal(kl_archive_put(ar, "big", 3, v, vl), KL_ETOOBIG);
        assert_non_null(strstr(kl_errmsg(), "max_allowed_packet"));
        const void *keys[3] = {"a", "big", "c"};
        size_t klens[3] = {1, 3, 1};
        const void *vals[3] = {"1", v, "3"};
        size_t vlens[3] = {1, vl, 1};
        assert_int_equal(kl_archive_put_many(ar, 3, keys, klens, vals, vlens), KL_ETOOBIG);
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 1);
        assert_int_equal(kl_archive_contains(ar, "a", 1), 0);
        /* a value just under the limit goes in whole */
        size_t ok = max / 2;
        KT_OK(kl_archive_put(ar, "half", 4, v, ok));
        kl_buf got = KL_BUF_INIT;
        KT_OK(kl_archive_get(ar, "half", 4, &got));
        assert_int_equal(got.len, ok);
        kl_buf_free(&got);
        free(v);
        KT_OK(kl_archive_drop(ar));
        free(u);
    }
}

/* sqltable: put_many is one transaction; a refused row leaves nothing of
 * the batch (and the server's message reaches the caller). */
static void a_failed_batch_leaves_no_rows(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    char *u = url_of(f, "table=t");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "old", 3, "1", 1));
    kt_my_exec(f->db, "CREATE TRIGGER refuse BEFORE INSERT ON t FOR EACH ROW IF NEW.\"key\" = "
                      "'bad' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by trigger'; "
                      "END IF");
    enum { NB = 1200 }; /* more than one multi-row statement */
    const void **keys = calloc(NB, sizeof *keys), **vals = calloc(NB, sizeof *vals);
    size_t *klens = calloc(NB, sizeof *klens), *vlens = calloc(NB, sizeof *vlens);
    char(*kb)[16] = calloc(NB, 16);
    for (int i = 0; i < NB; i++) {
        klens[i] = vlens[i] = (size_t)snprintf(kb[i], 16, i == NB / 2 ? "bad" : "n%d", i);
        keys[i] = vals[i] = kb[i];
    }
    assert_int_equal(kl_archive_put_many(ar, NB, keys, klens, vals, vlens), KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "refused by trigger"));
    assert_no_password(kl_errmsg());
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 1);
    assert_int_equal(kl_archive_contains(ar, "n0", 2), 0);
    /* the handle goes on working */
    KT_OK(kl_archive_put_many(ar, 2, keys, klens, vals, vlens));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 3);
    free(keys);
    free(vals);
    free(klens);
    free(vlens);
    free(kb);
    KT_OK(kl_archive_close(ar));
    free(u);
}

/* ---- processes --------------------------------------------------------- */

/* Fewer keys for the table-per-key layout: creating tables is slow. */
enum { NPROC = 8, SHARED = 50 };
static int PERPROC = 150, NSHARED = SHARED;

static int child_writes(const char *url, int p)
{
    kl_archive *ar;
    if (kl_archive_open(&ar, url, NULL))
        return 10;
    char k[32], v[32];
    for (int j = 0; j < PERPROC; j++) {
        int kl = snprintf(k, sizeof k, "p%d-%d", p, j), vl = snprintf(v, sizeof v, "v%d", j);
        if (kl_archive_put(ar, k, (size_t)kl, v, (size_t)vl))
            return 11;
    }
    /* overlapping keys, in batches: every process writes the same values */
    const void *keys[SHARED], *vals[SHARED];
    size_t kls[SHARED], vls[SHARED];
    char kb[SHARED][16], vb[SHARED][16];
    for (int j = 0; j < SHARED; j++) {
        kls[j] = (size_t)snprintf(kb[j], 16, "shared-%d", j);
        vls[j] = (size_t)snprintf(vb[j], 16, "s%d", j);
        keys[j] = kb[j];
        vals[j] = vb[j];
    }
    for (int rep = 0; rep < 3; rep++) {
        if (kl_archive_put_many(ar, (size_t)NSHARED, keys, kls, vals, vls)) {
            fprintf(stderr, "child %d: %s\n", p, kl_errmsg());
            return 12;
        }
        if (kl_archive_put(ar, kb[p], kls[p], vb[p], vls[p]))
            return 13;
    }
    return kl_archive_close(ar) ? 14 : 0;
}

static void eight_processes_write_one_archive(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "" : "table=t");
        PERPROC = layout ? 40 : 150;
        NSHARED = layout ? 20 : SHARED;
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL)); /* the tables exist before the race */
        pid_t pids[NPROC];
        for (int p = 0; p < NPROC; p++) {
            pids[p] = fork();
            assert_true(pids[p] >= 0);
            if (pids[p] == 0)
                _exit(child_writes(u, p));
        }
        for (int p = 0; p < NPROC; p++) {
            int st;
            assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
        }
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, (size_t)(NPROC * PERPROC + NSHARED));
        kl_buf got = KL_BUF_INIT;
        char k[32], v[32];
        for (int p = 0; p < NPROC; p++)
            for (int j = 0; j < PERPROC; j++) {
                int kl = snprintf(k, sizeof k, "p%d-%d", p, j),
                    vl = snprintf(v, sizeof v, "v%d", j);
                KT_OK(kl_archive_get(ar, k, (size_t)kl, &got));
                assert_int_equal(got.len, vl);
                assert_memory_equal(got.data, v, (size_t)vl);
            }
        for (int j = 0; j < NSHARED; j++) {
            int kl = snprintf(k, sizeof k, "shared-%d", j), vl = snprintf(v, sizeof v, "s%d", j);
            KT_OK(kl_archive_get(ar, k, (size_t)kl, &got));
            assert_memory_equal(got.data, v, (size_t)vl);
        }
        kl_buf_free(&got);
        KT_OK(kl_archive_drop(ar));
        free(u);
    }
}

static int square_calls;
static int square(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    square_calls++;
    *out = kl_value_int(call->pos[0].u.i * call->pos[0].u.i);
    return 0;
}

static void two_memos_in_two_processes_share_results(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    char *u = url_of(f, "table=memo");
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.archive = u;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kl_memo *m;
        int bad = kl_memo_new(&m, "square", square, NULL, &o) != 0;
        for (int i = 0; !bad && i < 20; i++) {
            kl_value a = kl_value_int(i), r;
            kl_call c = {&a, 1, NULL, NULL, 0};
            bad = kl_memo_call(m, &c, &r) != 0 || r.u.i != i * i;
        }
        bad |= kl_memo_free(m) != 0;
        _exit(bad || square_calls != 20);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    kl_memo *m;
    square_calls = 0;
    KT_OK(kl_memo_new(&m, "square", square, NULL, &o));
    for (int i = 0; i < 25; i++) {
        kl_value a = kl_value_int(i), r;
        kl_call c = {&a, 1, NULL, NULL, 0};
        KT_OK(kl_memo_call(m, &c, &r));
        assert_int_equal(r.u.i, i * i);
    }
    assert_int_equal(square_calls, 5); /* 20 came from the other process */
    KT_OK(kl_memo_free(m));
    free(u);
}

/* copy, export/import, prune and verify need nothing but the URL */
static void the_command_line_takes_mysql_urls(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    char *a = url_of(f, "table=a"), *b = url_of(f, ""), *out = NULL;
    char *dir = kt_tmpdir("mycli");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(kt_klepto(&out, true, "put '%s' %d \"'v%d'\"", a, i, i), 0);
        free(out);
    }
    assert_int_equal(kt_klepto(&out, true, "copy '%s' '%s'", a, b), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "count '%s'", b), 0);
    assert_int_equal(atoi(out), 5);
    free(out);
    assert_int_equal(kt_klepto(&out, true, "export '%s' > '%s/e.jsonl'", b, dir), 0);
    free(out);
    char *c = url_of(f, "table=c");
    assert_int_equal(kt_klepto(&out, true, "import '%s' '%s/e.jsonl'", c, dir), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "get '%s' 3", c), 0);
    assert_string_equal(out, "'v3'\n");
    free(out);
    assert_int_equal(kt_klepto(&out, true, "prune '%s' --max-entries 2", c), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "count '%s'", c), 0);
    assert_int_equal(atoi(out), 2);
    free(out);
    assert_int_equal(kt_klepto(&out, true, "verify '%s'", b), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "stats '%s'", a), 0);
    assert_non_null(strstr(out, "backend=mysql"));
    assert_no_password(out);
    free(out);
    kt_rmrf(dir);
    free(dir);
    free(a);
    free(b);
    free(c);
}

/* ---- a server stopped mid-run ------------------------------------------ */

static void servers_cmd(const char *verb, const char *dir, char **out)
{
    const char *script = getenv("KLEPTO_TEST_SERVERS_SCRIPT");
    char *cmd;
    assert_true(asprintf(&cmd, "bash '%s' %s '%s'%s", script, verb, dir,
                         out ? "" : " >/dev/null 2>&1") > 0);
    int rc = kt_run(cmd, out);
    if (rc != 0)
        fail_msg("%s failed (%d): %s", cmd, rc, out && *out ? *out : "");
    free(cmd);
}

static void a_stopped_server_is_reported_then_recovered_from(void **state)
{
    (void)state;
    if (!getenv("KLEPTO_TEST_SERVERS_SCRIPT") || !kt_my_url()) {
        print_message("KLEPTO_TEST_SERVERS_SCRIPT or KLEPTO_TEST_MYSQL_URL is not set (run "
                      "under scripts/with-servers.sh with MariaDB installed): skipped\n");
        skip();
    }
    char *dir = kt_tmpdir("mystop"), *mydir, *url = NULL;
    assert_true(asprintf(&mydir, "%s/my", dir) > 0);
    assert_int_equal(mkdir(mydir, 0755), 0);
    servers_cmd("mysql-start", mydir, &url);
    url[strcspn(url, "\n")] = '\0';
    kt_my_server sv;
    kt_my_parse(url, &sv);

    for (int layout = 0; layout < 2; layout++) {
        char *u;
        assert_true(asprintf(&u, "%s%s", url, layout ? "" : "?table=t") > 0);
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        KT_OK(kl_archive_put(ar, "k", 1, "v1", 2));
        kl_buf got = KL_BUF_INIT;

        servers_cmd("mysql-stop", mydir, NULL);
        int rc = kl_archive_get(ar, "k", 1, &got);
        assert_int_equal(rc, KL_EBACKEND);
        print_message("stopped server: %s\n", kl_errmsg());
        assert_true(strstr(kl_errmsg(), "server has gone away") ||
                    strstr(kl_errmsg(), "Lost connection") || strstr(kl_errmsg(), "Can't connect"));
        assert_null(strstr(kl_errmsg(), sv.pass));
        assert_int_equal(kl_archive_put(ar, "k2", 2, "x", 1), KL_EBACKEND);
        /* the command line: exit 3, one line naming the URL, no password */
        char *out = NULL;
        assert_int_equal(kt_klepto(&out, true, "get '%s' \"'k'\"", u), 3);
        assert_non_null(strstr(out, "mysql://klepto:"));
        assert_null(strstr(out, sv.pass));
        free(out);

        servers_cmd("mysql-start", mydir, NULL);
        KT_OK(kl_archive_get(ar, "k", 1, &got));
        assert_int_equal(got.len, 2);
        assert_memory_equal(got.data, "v1", 2);
        KT_OK(kl_archive_put(ar, "k2", 2, "v2", 2));
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 2);

        /* a connection killed while the server stays up: the read is
         * retried on a new connection and succeeds */
        MYSQL *c = kt_my_connect(url, NULL);
        assert_int_equal(mysql_query(c, "SELECT GROUP_CONCAT(id) FROM "
                                        "information_schema.processlist WHERE id <> "
                                        "CONNECTION_ID() AND user = 'klepto'"),
                         0);
        MYSQL_RES *res = mysql_store_result(c);
        MYSQL_ROW row = mysql_fetch_row(res);
        assert_non_null(row[0]);
        char *ids = strdup(row[0]);
        mysql_free_result(res);
        for (char *tok = strtok(ids, ","); tok; tok = strtok(NULL, ",")) {
            char sql[64];
            snprintf(sql, sizeof sql, "KILL %s", tok);
            mysql_query(c, sql);
        }
        free(ids);
        mysql_close(c);
        KT_OK(kl_archive_get(ar, "k2", 2, &got));
        assert_memory_equal(got.data, "v2", 2);

        KT_OK(kl_archive_drop(ar));
        kl_buf_free(&got);
        free(u);
    }
    servers_cmd("mysql-stop", mydir, NULL);
    free(url);
    kt_rmrf(dir);
    free(dir);
    free(mydir);
}

int main(void)
{
    if (!kt_my_url())
        printf("# KLEPTO_TEST_MYSQL_URL is not set: the server tests skip\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(conformance_suite, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(threads_share_one_handle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(keys_of_any_bytes_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sql_archive_tables_are_one_per_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(table_names_with_quotes_are_safe, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(a_table_not_ours_is_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(wrong_credentials_and_hosts_fail_clearly, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(a_value_over_the_packet_limit_is_too_big, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(a_failed_batch_leaves_no_rows, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(eight_processes_write_one_archive, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(two_memos_in_two_processes_share_results, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(the_command_line_takes_mysql_urls, fx_setup, fx_teardown),
        cmocka_unit_test(a_stopped_server_is_reported_then_recovered_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
