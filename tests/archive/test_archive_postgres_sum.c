/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql: the entry checksum of both layouts against a real server
 * ($KLEPTO_TEST_PG_URL from scripts/with-servers.sh; skipped without it),
 * each test in a schema of its own.  An older release's rewrite (value
 * and stored_ns set, sum left alone) reads back as written (the trigger
 * drops the sum); a value changed with the trigger disabled, or in an
 * entry table behind the catalogue, is KL_ECORRUPT naming the key, a
 * problem for verify, dropped by --repair alone; a table an older release
 * made opens read-only unchanged and is upgraded by a read-write open. */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/value.h"
#include "sum_entries.h"
#include "postgres_fixture.h"
#include "testutil.h"

typedef kt_pg_schema fx;

static int fx_setup(void **state)
{
    return kt_pg_schema_setup(state, "pgsum");
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

enum { NENT = 5 };

static int64_t raw_int(const char *url, const char *sql)
{
    char *v = NULL;
    kt_pg_run(url, sql, NULL, NULL, &v);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* The catalogue id of key i. */
static int64_t id_of(const fx *f, int i)
{
    kl_buf k = KL_BUF_INIT;
    kt_sum_key(i, &k);
    char *v = NULL;
    kt_pg_run(f->raw, "SELECT id FROM klepto_catalogue WHERE key = $1", &k, NULL, &v);
    int64_t id = strtoll(v, NULL, 10);
    free(v);
    kl_buf_free(&k);
    return id;
}

/* As the release before the sum column rewrote entry i: value vi, new
 * stored_ns and size, no sum. */
static void old_release_rewrite(const fx *f, bool table, int i, int vi)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kt_sum_key(i, &k);
    kt_sum_value(vi, &v);
    if (table) {
        kt_pg_run(f->raw, "UPDATE t SET value = $2, stored_ns = 1, size = 1 WHERE key = $1", &k, &v,
                  NULL);
    } else {
        char sql[128];
        int64_t id = id_of(f, i);
        snprintf(sql, sizeof sql,
                 "UPDATE klepto_catalogue SET stored_ns = 1, size = 1 WHERE id = "
                 "%lld",
                 (long long)id);
        kt_pg_run(f->raw, sql, NULL, NULL, NULL);
        snprintf(sql, sizeof sql, "UPDATE e%lld SET value = $1", (long long)id);
        kt_pg_run(f->raw, sql, &v, NULL, NULL);
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
}

/* Entry i's value set to vi behind the checksum: with the trigger off
 * for the statement (sqltable), or in the entry table alone. */
static void change_behind_the_sum(const fx *f, bool table, int i, int vi)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kt_sum_key(i, &k);
    kt_sum_value(vi, &v);
    if (table) {
        kt_pg_run(f->raw, "ALTER TABLE t DISABLE TRIGGER klepto_sum", NULL, NULL, NULL);
        kt_pg_run(f->raw, "UPDATE t SET value = $2 WHERE key = $1", &k, &v, NULL);
        kt_pg_run(f->raw, "ALTER TABLE t ENABLE TRIGGER klepto_sum", NULL, NULL, NULL);
    } else {
        char sql[64];
        snprintf(sql, sizeof sql, "UPDATE e%lld SET value = $1", (long long)id_of(f, i));
        kt_pg_run(f->raw, sql, &v, NULL, NULL);
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
}

static void checksums_in_both_layouts(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    for (int l = 0; l < 2; l++) {
        bool table = l == 0;
        char *u = url_of(f, table ? "table=t" : "");
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, report = KL_BUF_INIT;
        for (int i = 0; i < NENT; i++) {
            kt_sum_key(i, &k);
            kt_sum_value(i, &v);
            KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        }
        /* a batch, and a value written again: every row has a sum */
        const void *keys[] = {k.data, k.data};
        size_t klens[] = {k.len, k.len};
        const void *vals[] = {v.data, v.data};
        size_t vlens[] = {v.len, v.len};
        KT_OK(kl_archive_put_many(ar, 2, keys, klens, vals, vlens));
        KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        const char *nulls = table ? "SELECT count(*) FROM t WHERE sum IS NULL"
                                  : "SELECT count(*) FROM klepto_catalogue WHERE sum IS NULL";
        assert_int_equal(raw_int(f->raw, nulls), 0);

        /* an older release's rewrite reads as written */
        old_release_rewrite(f, table, 1, 11);
        kt_sum_get_is(ar, 1, 11);
        assert_int_equal(raw_int(f->raw, nulls), 1);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);

        /* a change behind the sum */
        change_behind_the_sum(f, table, 2, 12);
        kt_sum_key(2, &k);
        assert_int_equal(kl_archive_get(ar, k.data, k.len, &v), KL_ECORRUPT);
        assert_non_null(strstr(kl_errmsg(), "key 'k2'"));
        assert_non_null(strstr(kl_errmsg(), "checksum mismatch"));
        assert_null(strstr(kl_errmsg(), "password"));
        assert_int_equal(kt_sum_verify(ar, false, &report), 1);
        assert_non_null(strstr((char *)report.data, "checksum mismatch"));
        assert_int_equal(kt_sum_verify(ar, true, &report), 1);
        assert_int_equal(kl_archive_get(ar, k.data, k.len, &v), KL_ENOTFOUND);
        kt_sum_get_is(ar, 0, 0);
        kt_sum_get_is(ar, 1, 11);
        kt_sum_get_is(ar, 3, 3);
        kt_sum_get_is(ar, 4, 4);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);
        KT_OK(kl_archive_close(ar));
        kl_buf_free(&k);
        kl_buf_free(&v);
        kl_buf_free(&report);
        free(u);
    }
}

/* Tables as the older release made them (no sum column), rows as it
 * wrote them. */
static void make_old_tables(const fx *f, bool table)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, kid = KL_BUF_INIT;
    if (table)
        kt_pg_run(
            f->raw,
            "CREATE TABLE t (kid bytea PRIMARY KEY, key bytea NOT NULL, value bytea NOT NULL, "
            "stored_ns bigint NOT NULL, size bigint NOT NULL)",
            NULL, NULL, NULL);
    else
        kt_pg_run(
            f->raw,
            "CREATE TABLE klepto_catalogue (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY "
            "KEY, kid bytea NOT NULL UNIQUE, key bytea NOT NULL, stored_ns bigint NOT NULL, size "
            "bigint NOT NULL)",
            NULL, NULL, NULL);
    for (int i = 0; i < NENT; i++) {
        kt_sum_key(i, &k);
        kt_sum_value(i, &v);
        kt_sum_kid(&k, &kid);
        if (table) {
            /* kid and key, then the value (two parameters a statement) */
            kt_pg_run(f->raw, "INSERT INTO t VALUES ($1, $2, '', 1, 1)", &kid, &k, NULL);
            kt_pg_run(f->raw, "UPDATE t SET value = $2 WHERE kid = $1", &kid, &v, NULL);
        } else {
            char sql[128];
            kt_pg_run(f->raw,
                      "INSERT INTO klepto_catalogue (kid, key, stored_ns, size) VALUES "
                      "($1, $2, 1, 1)",
                      &kid, &k, NULL);
            int64_t id = id_of(f, i);
            snprintf(sql, sizeof sql, "CREATE TABLE e%lld (value bytea NOT NULL)", (long long)id);
            kt_pg_run(f->raw, sql, NULL, NULL, NULL);
            snprintf(sql, sizeof sql, "INSERT INTO e%lld (value) VALUES ($1)", (long long)id);
            kt_pg_run(f->raw, sql, &v, NULL, NULL);
        }
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&kid);
}

static void old_tables_open_read_and_upgrade(void **state)
{
    KT_NEED_PG();
    fx *f = *state;
    for (int l = 0; l < 2; l++) {
        bool table = l == 0;
        make_old_tables(f, table);
        char *u = url_of(f, table ? "table=t" : "");
        const char *col = table ? "SELECT count(*) FROM information_schema.columns WHERE "
                                  "table_schema = current_schema() AND table_name = 't' AND "
                                  "column_name = 'sum'"
                                : "SELECT count(*) FROM information_schema.columns WHERE "
                                  "table_schema = current_schema() AND table_name = "
                                  "'klepto_catalogue' AND column_name = 'sum'";
        kl_archive_opts ro = KL_ARCHIVE_OPTS_INIT;
        ro.read_only = true;
        kl_archive *ar;
        kl_buf report = KL_BUF_INIT, k = KL_BUF_INIT, v = KL_BUF_INIT;
        KT_OK(kl_archive_open(&ar, u, &ro));
        for (int i = 0; i < NENT; i++)
            kt_sum_get_is(ar, i, i);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);
        KT_OK(kl_archive_close(ar));
        assert_int_equal(raw_int(f->raw, col), 0);

        KT_OK(kl_archive_open(&ar, u, NULL));
        assert_int_equal(raw_int(f->raw, col), 1);
        for (int i = 0; i < NENT; i++)
            kt_sum_get_is(ar, i, i);
        kt_sum_key(NENT, &k);
        kt_sum_value(NENT, &v);
        KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        kt_sum_get_is(ar, NENT, NENT);
        /* an older release's rewrite after the upgrade */
        old_release_rewrite(f, table, NENT, 9);
        kt_sum_get_is(ar, NENT, 9);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);
        KT_OK(kl_archive_close(ar));
        /* a second read-write open finds it done */
        KT_OK(kl_archive_open(&ar, u, NULL));
        kt_sum_get_is(ar, 0, 0);
        KT_OK(kl_archive_close(ar));
        kl_buf_free(&report);
        kl_buf_free(&k);
        kl_buf_free(&v);
        free(u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(checksums_in_both_layouts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(old_tables_open_read_and_upgrade, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
