/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql/mariadb: the entry checksum of both layouts against a real server
 * ($KLEPTO_TEST_MYSQL_URL from scripts/with-servers.sh; skipped without
 * it), each test in a database of its own.  An older release's rewrite
 * (value and stored_ns set, sum left alone) reads back as written (the
 * trigger drops the sum); a value changed with the trigger dropped, or in
 * an entry table behind the catalogue, is KL_ECORRUPT naming the key, a
 * problem for verify, dropped by --repair alone; a table an older release
 * made opens read-only unchanged and is upgraded by a read-write open. */
#define _GNU_SOURCE
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/value.h"
#include "sum_entries.h"
#include "mysql_fixture.h"
#include "testutil.h"

typedef kt_my_db fx;

static int fx_setup(void **state)
{
    return kt_my_db_setup(state, "mysum");
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

static int64_t raw_int(const char *db, const char *sql)
{
    char *v = kt_my_value(db, sql);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

enum { NENT = 5 };

/* b as an SQL hex literal X'..' into out (cap bytes). */
static const char *hex(const kl_buf *b, char *out, size_t cap)
{
    assert_true(cap >= 2 * b->len + 4);
    size_t n = (size_t)snprintf(out, cap, "X'");
    for (size_t i = 0; i < b->len; i++)
        n += (size_t)snprintf(out + n, cap - n, "%02x", b->data[i]);
    snprintf(out + n, cap - n, "'");
    return out;
}

/* The catalogue id of key i. */
static int64_t id_of(const fx *f, int i)
{
    kl_buf k = KL_BUF_INIT;
    kt_sum_key(i, &k);
    char sql[256], hk[64];
    snprintf(sql, sizeof sql, "SELECT id FROM klepto_catalogue WHERE \"key\" = %s",
             hex(&k, hk, sizeof hk));
    kl_buf_free(&k);
    return raw_int(f->db, sql);
}

/* As the release before the sum column rewrote entry i: value vi, new
 * stored_ns and size, no sum. */
static void old_release_rewrite(const fx *f, bool table, int i, int vi)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kt_sum_key(i, &k);
    kt_sum_value(vi, &v);
    char sql[256], hk[64], hv[64];
    if (table) {
        snprintf(sql, sizeof sql,
                 "UPDATE t SET value = %s, stored_ns = 1, size = 1 WHERE \"key\" = %s",
                 hex(&v, hv, sizeof hv), hex(&k, hk, sizeof hk));
        kt_my_exec(f->db, sql);
    } else {
        long long id = (long long)id_of(f, i);
        snprintf(sql, sizeof sql,
                 "UPDATE klepto_catalogue SET stored_ns = 1, size = 1 WHERE id = %lld", id);
        kt_my_exec(f->db, sql);
        snprintf(sql, sizeof sql, "UPDATE e%lld SET value = %s", id, hex(&v, hv, sizeof hv));
        kt_my_exec(f->db, sql);
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
}

/* Entry i's value set to vi behind the checksum: with the trigger
 * dropped (sqltable; the next read-write open makes it again), or in the
 * entry table alone. */
static void change_behind_the_sum(const fx *f, bool table, int i, int vi)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kt_sum_key(i, &k);
    kt_sum_value(vi, &v);
    char sql[256], hk[64], hv[64];
    if (table) {
        kt_my_exec(f->db, "DROP TRIGGER \"klepto_sum:t\"");
        snprintf(sql, sizeof sql, "UPDATE t SET value = %s WHERE \"key\" = %s",
                 hex(&v, hv, sizeof hv), hex(&k, hk, sizeof hk));
    } else {
        snprintf(sql, sizeof sql, "UPDATE e%lld SET value = %s", (long long)id_of(f, i),
                 hex(&v, hv, sizeof hv));
    }
    kt_my_exec(f->db, sql);
    kl_buf_free(&k);
    kl_buf_free(&v);
}

static void checksums_in_both_layouts(void **state)
{
    KT_NEED_MYSQL();
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
        const char *nulls = table ? "SELECT count(*) FROM t WHERE \"sum\" IS NULL"
                                  : "SELECT count(*) FROM klepto_catalogue WHERE \"sum\" IS NULL";
        assert_int_equal(raw_int(f->db, nulls), 0);

        /* an older release's rewrite reads as written */
        old_release_rewrite(f, table, 1, 11);
        kt_sum_get_is(ar, 1, 11);
        assert_int_equal(raw_int(f->db, nulls), 1);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);

        /* a change behind the sum */
        change_behind_the_sum(f, table, 2, 12);
        kt_sum_key(2, &k);
        assert_int_equal(kl_archive_get(ar, k.data, k.len, &v), KL_ECORRUPT);
        assert_non_null(strstr(kl_errmsg(), "key 'k2'"));
        assert_non_null(strstr(kl_errmsg(), "checksum mismatch"));
        kt_my_server sv;
        kt_my_parse(kt_my_url(), &sv);
        assert_null(strstr(kl_errmsg(), sv.pass));
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
        if (table) { /* a read-write open makes the trigger again */
            KT_OK(kl_archive_open(&ar, u, NULL));
            KT_OK(kl_archive_close(ar));
            assert_int_equal(raw_int(f->db, "SELECT count(*) FROM information_schema.triggers "
                                            "WHERE trigger_schema = DATABASE() AND "
                                            "trigger_name = 'klepto_sum:t'"),
                             1);
        }
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
        kt_my_exec(
            f->db,
            "CREATE TABLE t (kid BINARY(16) NOT NULL PRIMARY KEY, \"key\" LONGBLOB NOT NULL, "
            "value LONGBLOB NOT NULL, stored_ns BIGINT NOT NULL, size BIGINT NOT NULL) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    else
        kt_my_exec(
            f->db,
            "CREATE TABLE klepto_catalogue (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, kid "
            "BINARY(16) NOT NULL UNIQUE, \"key\" LONGBLOB NOT NULL, stored_ns BIGINT NOT NULL, "
            "size BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    for (int i = 0; i < NENT; i++) {
        kt_sum_key(i, &k);
        kt_sum_value(i, &v);
        kt_sum_kid(&k, &kid);
        char sql[512], hk[64], hv[64], hid[64];
        if (table) {
            snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%s, %s, %s, 1, 1)",
                     hex(&kid, hid, sizeof hid), hex(&k, hk, sizeof hk), hex(&v, hv, sizeof hv));
            kt_my_exec(f->db, sql);
        } else {
            snprintf(sql, sizeof sql,
                     "INSERT INTO klepto_catalogue (kid, \"key\", stored_ns, size) VALUES "
                     "(%s, %s, 1, 1)",
                     hex(&kid, hid, sizeof hid), hex(&k, hk, sizeof hk));
            kt_my_exec(f->db, sql);
            long long id = (long long)id_of(f, i);
            snprintf(sql, sizeof sql, "CREATE TABLE e%lld (value LONGBLOB NOT NULL) ENGINE=InnoDB",
                     id);
            kt_my_exec(f->db, sql);
            snprintf(sql, sizeof sql, "INSERT INTO e%lld (value) VALUES (%s)", id,
                     hex(&v, hv, sizeof hv));
            kt_my_exec(f->db, sql);
        }
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&kid);
}

static void old_tables_open_read_and_upgrade(void **state)
{
    KT_NEED_MYSQL();
    fx *f = *state;
    for (int l = 0; l < 2; l++) {
        bool table = l == 0;
        make_old_tables(f, table);
        char *u = url_of(f, table ? "table=t" : "");
        const char *col = table ? "SELECT count(*) FROM information_schema.columns WHERE "
                                  "table_schema = DATABASE() AND table_name = 't' AND "
                                  "column_name = 'sum'"
                                : "SELECT count(*) FROM information_schema.columns WHERE "
                                  "table_schema = DATABASE() AND table_name = "
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
        assert_int_equal(raw_int(f->db, col), 0);

        KT_OK(kl_archive_open(&ar, u, NULL));
        assert_int_equal(raw_int(f->db, col), 1);
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
