/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: the entry checksum of both layouts (the sum column,
 * docs/formats.md).  A file an older release wrote (no sum column, made
 * here with plain sqlite3 as that release made it) opens and reads, read-only
 * without a change, read-write upgraded; an older release's write to an
 * upgraded file reads back as the value it wrote (the trigger drops the
 * sum); a value changed behind the checksum is KL_ECORRUPT naming the key,
 * a problem for verify, and dropped by --repair, which keeps every other
 * entry. */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/archive.h"
#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/value.h"
#include "sum_entries.h"
#include "testutil.h"

enum { NENT = 5 };

static const char *const layouts[] = {"?table=t", ""};

/* ---- plain sqlite3 ----------------------------------------------------- */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* The first column of the first row of sql, as an integer. */
static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Run sql with blobs a and b (may be NULL) bound as ?1 and ?2. */
static void raw_run(sqlite3 *db, const char *sql, const kl_buf *a, const kl_buf *b)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (a)
        sqlite3_bind_blob(st, 1, a->data, (int)a->len, SQLITE_STATIC);
    if (b)
        sqlite3_bind_blob(st, 2, b->data, (int)b->len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

/* A put as the release before the sum column wrote it: the same
 * statements, which name no sum. */
static void old_release_put(sqlite3 *db, bool table, const kl_buf *k, const kl_buf *v)
{
    char sql[256];
    raw_exec(db, "BEGIN IMMEDIATE");
    if (table) {
        raw_run(db,
                "INSERT INTO \"t\" (key, value, stored_ns, size) VALUES (?1, ?2, 1, 1) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "stored_ns = excluded.stored_ns, size = excluded.size",
                k, v);
    } else {
        raw_run(db,
                "INSERT INTO klepto_catalogue (key, stored_ns, size) VALUES (?1, 1, 1) "
                "ON CONFLICT (key) DO NOTHING",
                k, NULL);
        bool inserted = sqlite3_changes(db) == 1;
        sqlite3_stmt *st;
        assert_int_equal(
            sqlite3_prepare_v2(db, "SELECT id FROM klepto_catalogue WHERE key = ?1", -1, &st, NULL),
            SQLITE_OK);
        sqlite3_bind_blob(st, 1, k->data, (int)k->len, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        long long id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (inserted) {
            snprintf(sql, sizeof sql, "CREATE TABLE \"e%lld\" (value BLOB NOT NULL)", id);
            raw_exec(db, sql);
            snprintf(sql, sizeof sql, "INSERT INTO \"e%lld\" (rowid, value) VALUES (1, ?1)", id);
        } else {
            snprintf(sql, sizeof sql,
                     "UPDATE klepto_catalogue SET stored_ns = 2, size = 2 WHERE id = %lld", id);
            raw_exec(db, sql);
            snprintf(sql, sizeof sql,
                     "INSERT OR REPLACE INTO \"e%lld\" (rowid, value) VALUES (1, ?1)", id);
        }
        raw_run(db, sql, v, NULL);
    }
    raw_exec(db, "COMMIT");
}

/* A database as the older release made it, entries 0 .. NENT-1. */
static void make_old_file(const char *path, bool table)
{
    sqlite3 *db = raw_open(path);
    raw_exec(db, "PRAGMA journal_mode=WAL");
    raw_exec(db, table ? "CREATE TABLE IF NOT EXISTS \"t\" (key BLOB PRIMARY KEY, value BLOB NOT "
                         "NULL, stored_ns INTEGER NOT NULL, size INTEGER NOT NULL) WITHOUT ROWID"
                       : "CREATE TABLE IF NOT EXISTS klepto_catalogue (id INTEGER PRIMARY KEY, "
                         "key BLOB NOT NULL UNIQUE, stored_ns INTEGER NOT NULL, size INTEGER NOT "
                         "NULL)");
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    for (int i = 0; i < NENT; i++) {
        kt_sum_key(i, &k);
        kt_sum_value(i, &v);
        old_release_put(db, table, &k, &v);
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    sqlite3_close(db);
}

/* The archive's table (t or the catalogue) has a column named sum. */
static bool has_sum_column(const char *path, bool table)
{
    return raw_int(path, table ? "SELECT count(*) FROM pragma_table_info('t') WHERE name = 'sum'"
                               : "SELECT count(*) FROM pragma_table_info('klepto_catalogue') "
                                 "WHERE name = 'sum'") == 1;
}

static int64_t sums(const char *path, bool table, bool null)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE sum IS %sNULL",
             table ? "t" : "klepto_catalogue", null ? "" : "NOT ");
    return raw_int(path, sql);
}

/* ---- through the library ------------------------------------------------ */

static void get_is(kl_archive *ar, int i, const kl_buf *want)
{
    kl_buf k = KL_BUF_INIT, got = KL_BUF_INIT;
    kt_sum_key(i, &k);
    KT_OK(kl_archive_get(ar, k.data, k.len, &got));
    assert_int_equal(got.len, want->len);
    assert_memory_equal(got.data, want->data, want->len);
    kl_buf_free(&k);
    kl_buf_free(&got);
}

static void all_read(kl_archive *ar, int n)
{
    kl_buf v = KL_BUF_INIT;
    for (int i = 0; i < n; i++) {
        kt_sum_value(i, &v);
        get_is(ar, i, &v);
    }
    kl_buf_free(&v);
}

static void old_files_open_read_and_upgrade(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqsumold");
    for (int l = 0; l < 2; l++) {
        bool table = l == 0;
        char path[600], url[700];
        snprintf(path, sizeof path, "%s/old%d.db", dir, l);
        snprintf(url, sizeof url, "sqlite:%s%s", path, layouts[l]);
        make_old_file(path, table);
        kl_buf report = KL_BUF_INIT, v = KL_BUF_INIT, k = KL_BUF_INIT;

        /* read-only: reads, verifies, changes nothing */
        kl_archive_opts ro = KL_ARCHIVE_OPTS_INIT;
        ro.read_only = true;
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, url, &ro));
        all_read(ar, NENT);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);
        KT_OK(kl_archive_close(ar));
        assert_false(has_sum_column(path, table));

        /* read-write: the column and the trigger; old rows keep no sum */
        KT_OK(kl_archive_open(&ar, url, NULL));
        assert_true(has_sum_column(path, table));
        assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = "
                                       "'trigger' AND name LIKE 'klepto_sum:%'"),
                         1);
        assert_int_equal(sums(path, table, true), NENT);
        all_read(ar, NENT);
        /* a write stores a sum: an old key and a new one */
        kt_sum_value(7, &v);
        kt_sum_key(0, &k);
        KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        get_is(ar, 0, &v);
        kt_sum_key(NENT, &k);
        kt_sum_value(NENT, &v);
        KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        get_is(ar, NENT, &v);
        assert_int_equal(sums(path, table, false), 2);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);
        KT_OK(kl_archive_close(ar));

        /* opened again: no second upgrade, same contents */
        KT_OK(kl_archive_open(&ar, url, NULL));
        get_is(ar, NENT, &v);
        KT_OK(kl_archive_close(ar));
        assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = "
                                       "'trigger'"),
                         1);
        kl_buf_free(&report);
        kl_buf_free(&v);
        kl_buf_free(&k);
    }
    kt_rmrf(dir);
    free(dir);
}

/* An older release writing to an upgraded file (an existing key, a new
 * one) and a plain UPDATE of a value: each reads back as written. */
static void an_older_writer_reads_back_as_written(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqsumwriter");
    for (int l = 0; l < 2; l++) {
        bool table = l == 0;
        char path[600], url[700];
        snprintf(path, sizeof path, "%s/w%d.db", dir, l);
        snprintf(url, sizeof url, "sqlite:%s%s", path, layouts[l]);
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, url, NULL));
        kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, report = KL_BUF_INIT;
        for (int i = 0; i < NENT; i++) {
            kt_sum_key(i, &k);
            kt_sum_value(i, &v);
            KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        }
        assert_int_equal(sums(path, table, true), 0);

        sqlite3 *db = raw_open(path);
        kt_sum_key(1, &k);
        kt_sum_value(11, &v);
        old_release_put(db, table, &k, &v);
        kt_sum_key(NENT, &k);
        kt_sum_value(NENT, &v);
        old_release_put(db, table, &k, &v);
        if (table) {
            kt_sum_key(2, &k);
            kt_sum_value(12, &v);
            raw_run(db, "UPDATE \"t\" SET value = ?2 WHERE key = ?1", &k, &v);
        }
        sqlite3_close(db);

        kt_sum_value(11, &v);
        get_is(ar, 1, &v);
        kt_sum_value(NENT, &v);
        get_is(ar, NENT, &v);
        if (table) {
            kt_sum_value(12, &v);
            get_is(ar, 2, &v);
        }
        kt_sum_value(3, &v);
        get_is(ar, 3, &v);
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);
        /* the old writer's rows lost their sums, the others kept theirs */
        assert_int_equal(sums(path, table, true), table ? 3 : 2);
        KT_OK(kl_archive_close(ar));
        kl_buf_free(&k);
        kl_buf_free(&v);
        kl_buf_free(&report);
    }
    kt_rmrf(dir);
    free(dir);
}

/* Writing a value again (the same bytes) keeps a sum: the trigger does
 * not mistake our own write for an older release's. */
static void rewriting_a_value_keeps_its_sum(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqsumsame");
    for (int l = 0; l < 2; l++) {
        char path[600], url[700];
        snprintf(path, sizeof path, "%s/s%d.db", dir, l);
        snprintf(url, sizeof url, "sqlite:%s%s", path, layouts[l]);
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, url, NULL));
        kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
        kt_sum_key(0, &k);
        kt_sum_value(0, &v);
        for (int round = 0; round < 20; round++)
            KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        const void *keys[] = {k.data, k.data};
        size_t klens[] = {k.len, k.len};
        const void *vals[] = {v.data, v.data};
        size_t vlens[] = {v.len, v.len};
        KT_OK(kl_archive_put_many(ar, 2, keys, klens, vals, vlens));
        assert_int_equal(sums(path, l == 0, true), 0);
        assert_int_equal(sums(path, l == 0, false), 1);
        get_is(ar, 0, &v);
        KT_OK(kl_archive_close(ar));
        kl_buf_free(&k);
        kl_buf_free(&v);
    }
    kt_rmrf(dir);
    free(dir);
}

/* A value changed behind the checksum (the trigger dropped for the
 * sqltable layout; the entry table written directly in the other). */
static void change_behind_the_sum(const char *path, bool table, int i, int to)
{
    sqlite3 *db = raw_open(path);
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kt_sum_key(i, &k);
    kt_sum_value(to, &v);
    if (table) {
        raw_exec(db, "DROP TRIGGER \"klepto_sum:t\"");
        raw_run(db, "UPDATE \"t\" SET value = ?2 WHERE key = ?1", &k, &v);
    } else {
        char sql[128];
        long long id = (long long)i + 1; /* ids count from 1 in put order */
        snprintf(sql, sizeof sql, "UPDATE \"e%lld\" SET value = ?1", id);
        raw_run(db, sql, &v, NULL);
    }
    sqlite3_close(db);
    kl_buf_free(&k);
    kl_buf_free(&v);
}

static void a_value_changed_behind_its_sum_is_corrupt(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqsumbad");
    for (int l = 0; l < 2; l++) {
        bool table = l == 0;
        char path[600], url[700];
        snprintf(path, sizeof path, "%s/b%d.db", dir, l);
        snprintf(url, sizeof url, "sqlite:%s%s", path, layouts[l]);
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, url, NULL));
        kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, report = KL_BUF_INIT;
        for (int i = 0; i < NENT; i++) {
            kt_sum_key(i, &k);
            kt_sum_value(i, &v);
            KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
        }
        KT_OK(kl_archive_close(ar));
        change_behind_the_sum(path, table, 2, 9);

        KT_OK(kl_archive_open(&ar, url, NULL));
        kt_sum_key(2, &k);
        assert_int_equal(kl_archive_get(ar, k.data, k.len, &v), KL_ECORRUPT);
        assert_non_null(strstr(kl_errmsg(), path));
        assert_non_null(strstr(kl_errmsg(), "key 'k2'"));
        assert_non_null(strstr(kl_errmsg(), "checksum mismatch"));
        /* in a batch, too */
        kl_buf vals[NENT];
        const void *keys[NENT];
        size_t klens[NENT];
        bool found[NENT];
        kl_buf ks[NENT];
        for (int i = 0; i < NENT; i++) {
            ks[i] = vals[i] = (kl_buf)KL_BUF_INIT;
            kt_sum_key(i, &ks[i]);
            keys[i] = ks[i].data;
            klens[i] = ks[i].len;
        }
        assert_int_equal(kl_archive_get_many(ar, NENT, keys, klens, vals, found), KL_ECORRUPT);
        /* iteration names it and goes on */
        kl_archive_iter *it;
        KT_OK(kl_archive_iter_new(ar, &it));
        int good = 0, bad = 0, r;
        while ((r = kl_archive_iter_next(it, &k, &v)) != 0) {
            if (r == 1)
                good++;
            else if (r == KL_ECORRUPT && strstr(kl_errmsg(), "'k2'"))
                bad++;
            else
                fail_msg("iterate: %d %s", r, kl_errmsg());
        }
        kl_archive_iter_free(it);
        assert_int_equal(good, NENT - 1);
        assert_int_equal(bad, 1);

        /* verify: one problem; --repair drops that entry, keeps the rest */
        assert_int_equal(kt_sum_verify(ar, false, &report), 1);
        assert_non_null(strstr((char *)report.data, "checksum mismatch"));
        assert_int_equal(kt_sum_verify(ar, true, &report), 1);
        assert_int_equal(kl_archive_get(ar, ks[2].data, ks[2].len, &v), KL_ENOTFOUND);
        for (int i = 0; i < NENT; i++) {
            if (i == 2)
                continue;
            kt_sum_value(i, &v);
            get_is(ar, i, &v);
        }
        assert_int_equal(kt_sum_verify(ar, false, &report), 0);
        KT_OK(kl_archive_close(ar));
        if (table) /* the read-write open put the trigger back */
            assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = "
                                           "'klepto_sum:t'"),
                             1);

        /* the klepto command: exit 1, the key named */
        change_behind_the_sum(path, table, 3, 8);
        char *out = NULL;
        assert_int_equal(kt_klepto(&out, true, "verify '%s'", url), 1);
        assert_non_null(out);
        assert_non_null(strstr(out, "checksum mismatch"));
        free(out);
        for (int i = 0; i < NENT; i++) {
            kl_buf_free(&ks[i]);
            kl_buf_free(&vals[i]);
        }
        kl_buf_free(&k);
        kl_buf_free(&v);
        kl_buf_free(&report);
    }
    kt_rmrf(dir);
    free(dir);
}

/* A sum column holding something other than 8 bytes is damage. */
static void a_malformed_sum_is_corrupt(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqsumlen");
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/m.db", dir);
    snprintf(url, sizeof url, "sqlite:%s?table=t", path);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kt_sum_key(0, &k);
    kt_sum_value(0, &v);
    KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
    sqlite3 *db = raw_open(path);
    raw_exec(db, "UPDATE \"t\" SET sum = x'00'");
    sqlite3_close(db);
    assert_int_equal(kl_archive_get(ar, k.data, k.len, &v), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "not 8 bytes"));
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&k);
    kl_buf_free(&v);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_files_open_read_and_upgrade),
        cmocka_unit_test(an_older_writer_reads_back_as_written),
        cmocka_unit_test(rewriting_a_value_keeps_its_sum),
        cmocka_unit_test(a_value_changed_behind_its_sum_is_corrupt),
        cmocka_unit_test(a_malformed_sum_is_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
