/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql:// archives against a real server ($KLEPTO_TEST_PG_URL, set by
 * scripts/with-servers.sh under `make test`; the tests skip without it).
 * Each test works in a schema of its own so test programs can share the
 * server at once. */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"
#include "archive_suite.h"
#include "awkward_keys.h"
#include "postgres_fixture.h"
#include "testutil.h"

typedef kt_pg_schema fx;

static int fx_setup(void **state)
{
    return kt_pg_schema_setup(state, "pgarch");
}
static int fx_teardown(void **state)
{
    return kt_pg_schema_teardown(state);
}

/* The server URL, in the fixture's schema, plus `extra` options. */
static char *url_of(const fx *f, const char *extra)
{
    return kt_pg_url_of(f, extra);
}

/* A libpq conninfo for the fixture's schema (for raw checks; heap). */
static char *raw_url(const fx *f)
{
    return strdup(f->raw);
}

/* Keys of awkward bytes and their values: awkward_keys.h. */
#define NKEYS KT_AWKWARD_KEYS

/* A count the server printed is exactly `want`. */
static void assert_count(const char *got, int want)
{
    char w[16];
    snprintf(w, sizeof w, "%d", want);
    assert_string_equal(got, w);
}

static const void *ptr(const kl_buf *b) { return b->data ? (const void *)b->data : ""; }

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
    for (int with_values = 0; with_values < 2; with_values++) {
        kl_archive_iter *it;
        KT_OK(kl_archive_iter_new(ar, &it));
        int seen[NKEYS] = {0}, rc, total = 0;
        while ((rc = kl_archive_iter_next(it, &got, with_values ? &v : NULL)) == 1) {
            total++;
            for (int i = 0; i < NKEYS; i++) {
                kt_awkward_key(i, &k);
                if (k.len != got.len || (k.len && memcmp(k.data, got.data, k.len)))
                    continue;
                seen[i]++;
                if (with_values) {
                    kl_buf want = KL_BUF_INIT;
                    kt_awkward_value(i, gen, &want);
                    assert_int_equal(v.len, want.len);
                    if (want.len)
                        assert_memory_equal(v.data, want.data, want.len);
                    kl_buf_free(&want);
                }
            }
        }
        assert_int_equal(rc, 0);
        kl_archive_iter_free(it);
        assert_int_equal(total, NKEYS);
        for (int i = 0; i < NKEYS; i++)
            assert_int_equal(seen[i], 1);
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&got);
}

static void exercise(const char *url, bool table_layout)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n = 99;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 0);
    kl_buf got = KL_BUF_INIT;
    assert_int_equal(kl_archive_get(ar, "nope", 4, &got), KL_ENOTFOUND);
    assert_int_equal(kl_archive_contains(ar, "nope", 4), 0);
    assert_int_equal(kl_archive_del(ar, "nope", 4), KL_ENOTFOUND);
    put_all(ar, 0);
    check_contents(ar, 0);
    put_all(ar, 1);
    check_contents(ar, 1);
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_open(&ar, url, NULL));
    check_contents(ar, 1);

    kl_buf k = KL_BUF_INIT;
    kt_awkward_key(3, &k);
    KT_OK(kl_archive_del(ar, k.data, k.len));
    assert_int_equal(kl_archive_get(ar, k.data, k.len, &got), KL_ENOTFOUND);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NKEYS - 1);

    /* a batch bigger than one pipeline chunk (sqltable) or than one
     * transaction (sql_archive: creating tables is slow), with a repeated
     * key */
    const int NB = table_layout ? 2500 : 250;
    const void **keys = calloc(NB, sizeof *keys), **vals = calloc(NB, sizeof *vals);
    size_t *klens = calloc(NB, sizeof *klens), *vlens = calloc(NB, sizeof *vlens);
    char (*kb)[16] = calloc(NB, 16);
    for (int i = 0; i < NB; i++) {
        klens[i] = vlens[i] = (size_t)snprintf(kb[i], 16, "b%d", i == NB - 1 ? 0 : i);
        keys[i] = kb[i];
        vals[i] = i == NB - 1 ? "last" : kb[i];
        if (i == NB - 1)
            vlens[i] = 4;
    }
    KT_OK(kl_archive_put_many(ar, NB, keys, klens, vals, vlens));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NKEYS - 1 + NB - 1);
    kl_buf outs[3] = {KL_BUF_INIT, KL_BUF_INIT, KL_BUF_INIT};
    bool found[3];
    const void *gkeys[3] = {"b0", "zz", "b7"};
    size_t gl[3] = {2, 2, 2};
    KT_OK(kl_archive_get_many(ar, 3, gkeys, gl, outs, found));
    assert_true(found[0] && !found[1] && found[2]);
    assert_int_equal(outs[0].len, 4);
    assert_memory_equal(outs[0].data, "last", 4);
    assert_memory_equal(outs[2].data, "b7", 2);
    for (int i = 0; i < 3; i++)
        kl_buf_free(&outs[i]);
    free(keys);
    free(vals);
    free(klens);
    free(vlens);
    free(kb);

    kl_buf desc = KL_BUF_INIT;
    KT_OK(kl_archive_describe(ar, &desc));
    assert_non_null(strstr(kl_buf_cstr(&desc), "backend=postgresql"));
    kl_buf_free(&desc);

    KT_OK(kl_archive_clear(ar));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 0);
    put_all(ar, 2);
    check_contents(ar, 2);
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&k);
    kl_buf_free(&got);
}

static void sqltable_round_trips(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    char *u = url_of(f, "table=results");
    exercise(u, true);
    char *raw = raw_url(f), *n;
    n = kt_pg_value(raw, "SELECT count(*) FROM pg_tables WHERE tablename = 'results' AND "
                         "schemaname = current_schema()");
    assert_string_equal(n, "0"); /* dropped */
    free(n);
    free(raw);
    free(u);
}

static void sql_archive_round_trips(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    char *u = url_of(f, "");
    exercise(u, false);
    free(u);
}

static void sql_archive_tables_are_one_per_key(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    char *u = url_of(f, ""), *raw = raw_url(f), *n;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    put_all(ar, 0);
    n = kt_pg_value(raw, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND "
                         "tablename ~ '^e[0-9]+$'");
    assert_count(n, NKEYS);
    free(n);
    n = kt_pg_value(raw, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()");
    assert_count(n, NKEYS + 1); /* + the catalogue; no other table */
    free(n);
    KT_OK(kl_archive_del(ar, "plain", 5));
    n = kt_pg_value(raw, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()");
    assert_count(n, NKEYS);
    free(n);
    KT_OK(kl_archive_close(ar));
    free(raw);
    free(u);
}

static void table_names_with_quotes_are_safe(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    char *other = url_of(f, "table=other");
    char *evil = url_of(f, "table=a%22b%3B%20DROP%20TABLE%20other%3B%20--");
    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, other, NULL));
    KT_OK(kl_archive_put(a, "k", 1, "v", 1));
    KT_OK(kl_archive_open(&b, evil, NULL));
    KT_OK(kl_archive_put(b, "k", 1, "w", 1));
    char *raw = raw_url(f);
    char *n = kt_pg_value(raw, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                               "AND tablename = 'a\"b; DROP TABLE other; --'");
    assert_string_equal(n, "1");
    free(n);
    KT_OK(kl_archive_drop(b));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(a, "k", 1, &got));
    assert_memory_equal(got.data, "v", 1);
    KT_OK(kl_archive_close(a));
    kl_buf_free(&got);
    /* PostgreSQL would silently truncate a long name: refused instead */
    char *longname = url_of(f, "table=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(kl_archive_open(&a, longname, NULL), KL_EINVAL);
    free(longname);
    /* the table-per-key layout's names (its catalogue, entry tables e<N>)
     * are refused, before anything is created */
    static const char *const reserved[] = {"table=klepto_catalogue", "table=KLEPTO_CATALOGUE",
                                           "table=e1", "table=e42"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        char *u = url_of(f, reserved[i]);
        assert_int_equal(kl_archive_open(&a, u, NULL), KL_EINVAL);
        assert_non_null(strstr(kl_errmsg(), "table-per-key"));
        free(u);
    }
    char *made = kt_pg_value(raw, "SELECT count(*) FROM pg_tables WHERE schemaname = "
                                  "current_schema() AND tablename IN ('e1', 'e42')");
    assert_string_equal(made, "0");
    free(made);
    free(raw);
    free(other);
    free(evil);
}

static void wrong_credentials_fail_with_the_servers_message(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    /* the same server and database, another user */
    PQconninfoOption *opts = PQconninfoParse(f->base, NULL);
    assert_non_null(opts);
    const char *host = NULL, *port = NULL, *db = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    char *u;
    assert_true(asprintf(&u, "postgresql://nosuchuser@%s:%s/%s?table=t", host ? host : "",
                         port ? port : "5432", db ? db : "") > 0);
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EBACKEND);
    assert_null(ar);
    assert_non_null(strstr(kl_errmsg(), "nosuchuser"));
    free(u);

    /* a password in the URL never reaches the message */
    assert_true(asprintf(&u, "postgresql://nosuchuser:sekrit@%s:%s/%s?table=t", host ? host : "",
                         port ? port : "5432", db ? db : "") > 0);
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EBACKEND);
    assert_null(strstr(kl_errmsg(), "sekrit"));
    free(u);

    /* the environment fills what the URL leaves out */
    setenv("PGHOST", host ? host : "", 1);
    setenv("PGPORT", port ? port : "5432", 1);
    setenv("PGUSER", "klepto", 1);
    char *env;
    assert_true(asprintf(&env, "postgresql:///%s?table=t&application_name=kltest"
                               "&options=-csearch_path%%3D%s",
                         db ? db : "", f->schema) > 0);
    KT_OK(kl_archive_open(&ar, env, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v", 1));
    KT_OK(kl_archive_close(ar));
    /* options neither klepto nor libpq knows are refused */
    char *bad;
    assert_true(asprintf(&bad, "%s&colour=blue", env) > 0);
    assert_int_equal(kl_archive_open(&ar, bad, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "colour"));
    free(bad);
    unsetenv("PGHOST");
    unsetenv("PGPORT");
    unsetenv("PGUSER");
    free(env);
    PQconninfoFree(opts);
}

static void an_unreachable_server_fails_fast(void **state)
{
    (void)state;
    /* nothing listens on port 1 of the loopback: refused at once */
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, "postgresql://klepto@127.0.0.1:1/x?table=t&connect_timeout=2",
                             NULL);
    assert_int_equal(rc, KL_EBACKEND);
    assert_null(ar);
    assert_non_null(strstr(kl_errmsg(), "127.0.0.1"));
}

static void a_failed_batch_leaves_no_rows(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    char *raw = raw_url(f);
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "" : "table=t");
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        KT_OK(kl_archive_put(ar, "old", 3, "1", 1));
        kt_pg_exec(raw, "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$ BEGIN IF NEW.key = 'bad'::bytea THEN RAISE EXCEPTION 'refused by "
                        "trigger'; END IF; RETURN NEW; END $$");
        kt_pg_exec(raw, layout ? "CREATE TRIGGER refuse BEFORE INSERT ON klepto_catalogue FOR EACH "
                                 "ROW EXECUTE FUNCTION refuse()"
                               : "CREATE TRIGGER refuse BEFORE INSERT ON t FOR EACH ROW EXECUTE "
                                 "FUNCTION refuse()");
        const void *keys[3] = {"new1", "bad", "new2"};
        size_t klens[3] = {4, 3, 4};
        const void *vals[3] = {"a", "b", "c"};
        size_t vlens[3] = {1, 1, 1};
        assert_int_equal(kl_archive_put_many(ar, 3, keys, klens, vals, vlens), KL_EBACKEND);
        assert_non_null(strstr(kl_errmsg(), "refused by trigger"));
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 1);
        assert_int_equal(kl_archive_contains(ar, "new1", 4), 0);
        assert_int_equal(kl_archive_put(ar, "bad", 3, "x", 1), KL_EBACKEND);
        KT_OK(kl_archive_put(ar, "new3", 4, "d", 1));
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 2);
        KT_OK(kl_archive_drop(ar));
        free(u);
    }
    free(raw);
}

/* ---- a server stopped mid-run ------------------------------------------ */

static char *servers_cmd(const char *verb, const char *dir, char **out)
{
    const char *script = getenv("KLEPTO_TEST_SERVERS_SCRIPT");
    char *cmd;
    assert_true(asprintf(&cmd, "bash '%s' %s '%s' 2>&1", script, verb, dir) > 0);
    int rc = kt_run(cmd, out);
    if (rc != 0)
        fail_msg("%s failed (%d): %s", cmd, rc, out && *out ? *out : "");
    free(cmd);
    return out ? *out : NULL;
}

static void a_stopped_server_is_reported_then_recovered_from(void **state)
{
    (void)state;
    if (!getenv("KLEPTO_TEST_SERVERS_SCRIPT") || !kt_pg_url()) {
        print_message("KLEPTO_TEST_SERVERS_SCRIPT or KLEPTO_TEST_PG_URL is not set (run under "
                      "scripts/with-servers.sh with PostgreSQL installed): skipped\n");
        skip();
    }
    char *dir = kt_tmpdir("pgstop"), *pgdir, *url = NULL;
    assert_true(asprintf(&pgdir, "%s/pg", dir) > 0);
    assert_int_equal(mkdir(pgdir, 0755), 0);
    servers_cmd("pg-start", pgdir, &url);
    url[strcspn(url, "\n")] = '\0';

    for (int layout = 0; layout < 2; layout++) {
        char *u;
        assert_true(asprintf(&u, "%s%s", url, layout ? "" : "?table=t") > 0);
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        KT_OK(kl_archive_put(ar, "k", 1, "v1", 2));
        kl_buf got = KL_BUF_INIT;

        servers_cmd("pg-stop", pgdir, NULL);
        /* a read: fails, even after the one reconnection attempt */
        int rc = kl_archive_get(ar, "k", 1, &got);
        assert_int_equal(rc, KL_EBACKEND);
        print_message("stopped server: %s\n", kl_errmsg());
        assert_true(strstr(kl_errmsg(), "terminating connection") ||
                    strstr(kl_errmsg(), "server closed the connection") ||
                    strstr(kl_errmsg(), "Connection refused"));
        /* a write: fails too */
        assert_int_equal(kl_archive_put(ar, "k2", 2, "x", 1), KL_EBACKEND);

        char *again = NULL;
        servers_cmd("pg-start", pgdir, &again);
        free(again);
        /* the handle reconnects by itself */
        KT_OK(kl_archive_get(ar, "k", 1, &got));
        assert_int_equal(got.len, 2);
        assert_memory_equal(got.data, "v1", 2);
        KT_OK(kl_archive_put(ar, "k2", 2, "v2", 2));
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 2);

        /* a connection dropped while the server stays up: the read is
         * retried on a new connection and succeeds */
        char *raw = NULL;
        assert_true(asprintf(&raw, "%s", url) > 0);
        kt_pg_exec(raw, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "application_name = 'klepto'");
        free(raw);
        KT_OK(kl_archive_get(ar, "k2", 2, &got));
        assert_memory_equal(got.data, "v2", 2);

        KT_OK(kl_archive_drop(ar));
        kl_buf_free(&got);
        free(u);
    }
    servers_cmd("pg-stop", pgdir, NULL);
    free(url);
    kt_rmrf(dir);
    free(dir);
    free(pgdir);
}

static void conformance_suite(void **state)
{
    KT_NEED_PG();
    char *u = url_of(*state, "table=suite");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
    u = url_of(*state, "");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
}

static void threads_share_one_handle(void **state)
{
    KT_NEED_PG();
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(*state, layout ? "" : "table=t");
        kt_suite_threads(u);
        free(u);
    }
}

int main(void)
{
    if (!kt_pg_url())
        printf("# KLEPTO_TEST_PG_URL is not set: the server tests skip\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(conformance_suite, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(threads_share_one_handle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sqltable_round_trips, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sql_archive_round_trips, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sql_archive_tables_are_one_per_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(table_names_with_quotes_are_safe, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(wrong_credentials_fail_with_the_servers_message, fx_setup,
                                        fx_teardown),
        cmocka_unit_test(an_unreachable_server_fails_fast),
        cmocka_unit_test_setup_teardown(a_failed_batch_leaves_no_rows, fx_setup, fx_teardown),
        cmocka_unit_test(a_stopped_server_is_reported_then_recovered_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
