/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: archives — both layouts, :memory:, SQL-specific behaviour and bad
 * input.  (The shared archive suite covers the generic contract.) */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"
#include "archive_suite.h"
#include "awkward_keys.h"
#include "testutil.h"

typedef struct fx {
    char *dir;
    char path[512];
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = kt_tmpdir("sqlite");
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/a.db", f->dir);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    kt_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *url_of(const fx *f, const char *suffix)
{
    char *u;
    assert_true(asprintf(&u, "sqlite:%s%s", f->path, suffix) > 0);
    return u;
}

/* Keys of awkward bytes and their values: awkward_keys.h. */
#define NKEYS KT_AWKWARD_KEYS

static void check_contents(kl_archive *ar, int gen)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, got = KL_BUF_INIT;
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        kt_awkward_key(i, &k);
        kt_awkward_value(i, gen, &v);
        KT_OK(kl_archive_get(ar, k.data, k.len, &got));
        assert_int_equal(got.len, v.len);
        if (v.len)
            assert_memory_equal(got.data, v.data, v.len);
        assert_int_equal(kl_archive_contains(ar, k.data, k.len), 1);
        kl_entry_info info;
        KT_OK(kl_archive_stat(ar, k.data, k.len, &info));
        assert_int_equal(info.size, k.len + v.len);
        assert_true(info.stored_ns > 1600000000LL * 1000000000LL);
    }
    /* iteration sees every key exactly once, with its value */
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    int seen[NKEYS] = {0}, rc, total = 0;
    while ((rc = kl_archive_iter_next(it, &got, &v)) == 1) {
        total++;
        for (int i = 0; i < NKEYS; i++) {
            kt_awkward_key(i, &k);
            if (k.len == got.len && (k.len == 0 || memcmp(k.data, got.data, k.len) == 0)) {
                seen[i]++;
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
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&got);
}

static void put_all(kl_archive *ar, int gen)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    for (int i = 0; i < NKEYS; i++) {
        kt_awkward_key(i, &k);
        kt_awkward_value(i, gen, &v);
        KT_OK(kl_archive_put(ar, k.data ? k.data : (const uint8_t *)"", k.len,
                             v.data ? v.data : (const uint8_t *)"", v.len));
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
}

/* put, overwrite, reopen, delete, clear, on one URL */
static void exercise(const char *url, bool persistent)
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
    kl_entry_info info;
    assert_int_equal(kl_archive_stat(ar, "nope", 4, &info), KL_ENOTFOUND);

    put_all(ar, 0);
    check_contents(ar, 0);
    put_all(ar, 1); /* every key replaced */
    check_contents(ar, 1);
    if (persistent) {
        KT_OK(kl_archive_sync(ar));
        KT_OK(kl_archive_close(ar));
        KT_OK(kl_archive_open(&ar, url, NULL));
        check_contents(ar, 1);
    }
    kl_buf k = KL_BUF_INIT;
    kt_awkward_key(3, &k);
    KT_OK(kl_archive_del(ar, k.data, k.len));
    assert_int_equal(kl_archive_get(ar, k.data, k.len, &got), KL_ENOTFOUND);
    assert_int_equal(kl_archive_del(ar, k.data, k.len), KL_ENOTFOUND);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NKEYS - 1);

    /* batches */
    const void *keys[3] = {"b1", "b2", "b1"};
    size_t klens[3] = {2, 2, 2};
    const void *vals[3] = {"v1", "v2", "v3"};
    size_t vlens[3] = {2, 2, 2};
    KT_OK(kl_archive_put_many(ar, 3, keys, klens, vals, vlens));
    kl_buf outs[3] = {KL_BUF_INIT, KL_BUF_INIT, KL_BUF_INIT};
    bool found[3];
    const void *gkeys[3] = {"b1", "zz", "b2"};
    KT_OK(kl_archive_get_many(ar, 3, gkeys, klens, outs, found));
    assert_true(found[0] && !found[1] && found[2]);
    assert_memory_equal(outs[0].data, "v3", 2); /* the later put of b1 won */
    assert_memory_equal(outs[2].data, "v2", 2);
    for (int i = 0; i < 3; i++)
        kl_buf_free(&outs[i]);

    kl_buf desc = KL_BUF_INIT;
    KT_OK(kl_archive_describe(ar, &desc));
    assert_non_null(strstr(kl_buf_cstr(&desc), "backend=sqlite"));
    kl_buf_free(&desc);

    KT_OK(kl_archive_clear(ar));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 0);
    put_all(ar, 2); /* usable after clear */
    check_contents(ar, 2);
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&k);
    kl_buf_free(&got);
}

static void sqltable_round_trips(void **state)
{
    char *u = url_of(*state, "?table=results");
    exercise(u, true);
    free(u);
}

static void sql_archive_round_trips(void **state)
{
    char *u = url_of(*state, "");
    exercise(u, true);
    free(u);
}

static void memory_databases_work(void **state)
{
    (void)state;
    exercise("sqlite::memory:?table=t", false);
    exercise("sqlite::memory:", false);
}

/* Run one SQL query on the file with plain sqlite3; first column of each
 * row appended to out as text, one per line. */
static void raw_query(const char *path, const char *sql, kl_buf *out)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out) {
            kl_buf_append_str(out, (const char *)sqlite3_column_text(st, 0));
            kl_buf_append_str(out, "\n");
        }
    }
    if (rc != SQLITE_DONE)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (out)
        kl_buf_cstr(out);
}

static void sql_archive_table_names_never_come_from_keys(void **state)
{
    fx *f = *state;
    char *u = url_of(f, "");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    put_all(ar, 0);
    KT_OK(kl_archive_close(ar));
    kl_buf names = KL_BUF_INIT;
    raw_query(f->path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", &names);
    /* the catalogue and one e<n> per key */
    int entries = 0;
    for (char *line = strtok((char *)names.data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == 'e' && line[1]) {
            entries++;
            assert_true(strspn(line + 1, "0123456789") == strlen(line + 1));
        } else if (strcmp(line, "klepto_catalogue")) {
            fail_msg("unexpected table %s", line);
        }
    }
    assert_int_equal(entries, NKEYS);
    /* a replaced key keeps its table; a deleted key's table goes */
    KT_OK(kl_archive_open(&ar, u, NULL));
    put_all(ar, 1);
    KT_OK(kl_archive_del(ar, "plain", 5));
    KT_OK(kl_archive_close(ar));
    kl_buf_reset(&names);
    raw_query(f->path, "SELECT count(*) FROM sqlite_master WHERE name GLOB 'e[0-9]*'",
              &names);
    assert_string_equal((char *)names.data, "6\n");
    kl_buf_reset(&names);
    raw_query(f->path, "SELECT count(*) FROM klepto_catalogue", &names);
    assert_string_equal((char *)names.data, "6\n");
    kl_buf_free(&names);
    free(u);
}

static void get_str(kl_archive *ar, const char *k, const char *want)
{
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, k, strlen(k), &v));
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.data, want, v.len);
    kl_buf_free(&v);
}

static void put_str(kl_archive *ar, const char *k, const char *v)
{
    KT_OK(kl_archive_put(ar, k, strlen(k), v, strlen(v)));
}

/* Statements kept per entry table must follow the schema: a table dropped
 * and its id reused by another key (from another handle), clear, and more
 * tables than the handle keeps statements for. */
static void sql_archive_reuse_of_ids_is_never_misread(void **state)
{
    fx *f = *state;
    char *u = url_of(f, "");
    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, u, NULL));
    KT_OK(kl_archive_open(&b, u, NULL));
    put_str(a, "k1", "v1");
    put_str(a, "k2", "v2"); /* table e2 */
    get_str(a, "k2", "v2");
    put_str(a, "k2", "v2b");
    KT_OK(kl_archive_del(b, "k2", 2));
    put_str(b, "k3", "v3"); /* the highest id was freed: k3 gets e2 */
    kl_buf names = KL_BUF_INIT;
    raw_query(f->path, "SELECT id FROM klepto_catalogue WHERE key = CAST('k3' AS BLOB)", &names);
    assert_string_equal((char *)names.data, "2\n");
    kl_buf_free(&names);
    kl_buf v = KL_BUF_INIT;
    assert_int_equal(kl_archive_get(a, "k2", 2, &v), KL_ENOTFOUND);
    get_str(a, "k3", "v3");
    put_str(a, "k3", "v4");
    get_str(b, "k3", "v4");
    get_str(a, "k1", "v1");

    KT_OK(kl_archive_clear(a));
    assert_int_equal(kl_archive_get(b, "k3", 2, &v), KL_ENOTFOUND);
    enum { N = 150 };
    char k[16], val[16];
    for (int gen = 0; gen < 2; gen++) {
        for (int i = 0; i < N; i++) {
            snprintf(k, sizeof k, "n%d", i);
            snprintf(val, sizeof val, "%d/%d", i, gen);
            put_str(gen ? b : a, k, val);
        }
        for (int i = N - 1; i >= 0; i--) {
            snprintf(k, sizeof k, "n%d", i);
            snprintf(val, sizeof val, "%d/%d", i, gen);
            get_str(a, k, val);
            get_str(b, k, val);
        }
    }
    kl_buf_free(&v);
    KT_OK(kl_archive_close(b));
    KT_OK(kl_archive_drop(a)); /* closes a */
    free(u);
}

/* Entry tables edited by another tool read the same on a first get (no
 * statement kept yet) and on later ones: a value changed behind the
 * catalogue's back fails its checksum on every path; once the catalogue
 * row is touched as an older release's put touches it (stored_ns, size:
 * the trigger drops the sum), the edited value reads as its bytes. */
static void sql_archive_foreign_edits_read_alike_every_time(void **state)
{
    fx *f = *state;
    char *u = url_of(f, "");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    put_str(ar, "t", "v1");   /* e1 */
    put_str(ar, "r", "v2");   /* e2 */
    put_str(ar, "i", "v3");   /* e3 */
    put_str(ar, "z", "v4");   /* e4 */
    KT_OK(kl_archive_close(ar));
    raw_query(f->path, "UPDATE e1 SET value = 'as text'", NULL);
    raw_query(f->path, "UPDATE e2 SET rowid = 7", NULL);
    raw_query(f->path, "UPDATE e3 SET value = 42", NULL);
    raw_query(f->path, "DELETE FROM e4", NULL);
    KT_OK(kl_archive_open(&ar, u, NULL));
    kl_buf v = KL_BUF_INIT;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(kl_archive_get(ar, "t", 1, &v), KL_ECORRUPT);
        assert_non_null(strstr(kl_errmsg(), "checksum mismatch"));
        get_str(ar, "r", "v2");
    }
    KT_OK(kl_archive_close(ar));
    raw_query(f->path,
              "UPDATE klepto_catalogue SET stored_ns = stored_ns + 1, size = 9 "
              "WHERE id = 1",
              NULL);
    KT_OK(kl_archive_open(&ar, u, NULL));
    for (int round = 0; round < 3; round++) {
        get_str(ar, "t", "as text");
        get_str(ar, "r", "v2");
        assert_int_equal(kl_archive_get(ar, "i", 1, &v), KL_ECORRUPT);
        assert_int_equal(kl_archive_get(ar, "z", 1, &v), KL_ECORRUPT);
    }
    kl_buf_free(&v);
    KT_OK(kl_archive_close(ar));
    free(u);
}

static void table_names_with_quotes_are_safe(void **state)
{
    fx *f = *state;
    char *other = url_of(f, "?table=other");
    /* "a\"b; DROP TABLE other; --" after URL decoding */
    char *evil = url_of(f, "?table=a%22b%3B%20DROP%20TABLE%20other%3B%20--");
    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, other, NULL));
    KT_OK(kl_archive_put(a, "k", 1, "v", 1));
    KT_OK(kl_archive_open(&b, evil, NULL));
    KT_OK(kl_archive_put(b, "k", 1, "w", 1));
    KT_OK(kl_archive_clear(b));
    KT_OK(kl_archive_drop(b));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(a, "k", 1, &got));
    assert_memory_equal(got.data, "v", 1);
    KT_OK(kl_archive_close(a));
    kl_buf names = KL_BUF_INIT;
    raw_query(f->path, "SELECT name FROM sqlite_master WHERE type = 'table'", &names);
    assert_string_equal((char *)names.data, "other\n");
    kl_buf_free(&names);
    kl_buf_free(&got);

    /* an empty table name is refused */
    char *empty = url_of(f, "?table=");
    assert_int_equal(kl_archive_open(&a, empty, NULL), KL_EINVAL);
    free(empty);
    free(other);
    free(evil);
}

static void a_file_that_is_not_sqlite_is_refused(void **state)
{
    fx *f = *state;
    FILE *fp = fopen(f->path, "w");
    for (int i = 0; i < 300; i++)
        fputs("this is not a database, just some text\n", fp);
    fclose(fp);
    char *u = url_of(f, "?table=t");
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, u, NULL);
    assert_int_equal(rc, KL_ECORRUPT);
    assert_null(ar);
    assert_non_null(strstr(kl_errmsg(), "not an SQLite database"));
    assert_non_null(strstr(kl_errmsg(), f->path));
    /* the file is untouched */
    size_t len;
    char *text = kt_slurp(f->path, &len);
    assert_int_equal(len, 300 * strlen("this is not a database, just some text\n"));
    free(text);
    free(u);
}

static void missing_and_read_only(void **state)
{
    fx *f = *state;
    char *u = url_of(f, "?table=t");
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    kl_archive *ar;
    assert_int_equal(kl_archive_open(&ar, u, &o), KL_ENOTFOUND);
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v", 1));
    KT_OK(kl_archive_close(ar));
    o.create = true;
    o.read_only = true;
    KT_OK(kl_archive_open(&ar, u, &o));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_int_equal(kl_archive_put(ar, "k", 1, "w", 1), KL_EPERM);
    assert_int_equal(kl_archive_del(ar, "k", 1), KL_EPERM);
    KT_OK(kl_archive_close(ar));
    /* another table of that file, not created when create = false */
    char *u2 = url_of(f, "?table=absent");
    o.read_only = false;
    o.create = false;
    assert_int_equal(kl_archive_open(&ar, u2, &o), KL_ENOTFOUND);
    assert_non_null(strstr(kl_errmsg(), "absent"));
    /* bad options */
    char *u3 = url_of(f, "?table=t&timeout=soon");
    assert_int_equal(kl_archive_open(&ar, u3, NULL), KL_EINVAL);
    char *u4 = url_of(f, "?table=t&sync=sometimes");
    assert_int_equal(kl_archive_open(&ar, u4, NULL), KL_EINVAL);
    free(u4);
    u4 = url_of(f, "?table=t&colour=blue");
    assert_int_equal(kl_archive_open(&ar, u4, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "colour"));
    kl_buf_free(&got);
    free(u);
    free(u2);
    free(u3);
    free(u4);
}

static bool exists(const char *path, const char *suffix)
{
    char p[600];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return access(p, F_OK) == 0;
}

static void assert_no_database(const fx *f)
{
    if (exists(f->path, "") || exists(f->path, "-wal") || exists(f->path, "-shm") ||
        exists(f->path, "-journal"))
        fail_msg("a refused open left %s (or its -wal, -shm) behind", f->path);
}

/* Refused URLs create nothing: the options are all read, and an unknown
 * one refused, before the file is opened. */
static void refused_urls_leave_no_file_behind(void **state)
{
    fx *f = *state;
    static const char *const bad[] = {"?bogus=1", "?table=t&bogus=1", "?timeout=soon",
                                      "?table=klepto_catalogue", "?table=e3",
                                      "?table=sqlite_stat1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *u = url_of(f, bad[i]);
        kl_archive *ar = NULL;
        assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EINVAL);
        assert_null(ar);
        assert_no_database(f);
        free(u);
    }
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, true, "put 'sqlite:%s?bogus=1' 1 2", f->path), 2);
    assert_non_null(strstr(out, "bogus"));
    free(out);
    assert_no_database(f);
}

/* ?table= cannot name the table-per-key layout's own tables (the catalogue,
 * an entry table e<number>) nor SQLite's: the two layouts share a file. */
static void reserved_table_names_are_refused(void **state)
{
    fx *f = *state;
    char *whole = url_of(f, "");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, whole, NULL));
    put_str(ar, "a", "1");
    put_str(ar, "b", "2");
    put_str(ar, "c", "3");
    KT_OK(kl_archive_close(ar));
    static const char *const bad[] = {"?table=klepto_catalogue", "?table=KLEPTO_Catalogue",
                                      "?table=e2", "?table=E17", "?table=sqlite_master"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *u = url_of(f, bad[i]);
        assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EINVAL);
        assert_non_null(strstr(kl_errmsg(), bad[i] + 1)); /* names the option */
        free(u);
    }
    /* the table-per-key archive is intact */
    KT_OK(kl_archive_open(&ar, whole, NULL));
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 3);
    get_str(ar, "b", "2");
    KT_OK(kl_archive_close(ar));
    /* names that merely look alike are fine */
    static const char *const fine[] = {"?table=e", "?table=e2x", "?table=klepto_catalogue2",
                                       "?table=entries"};
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        char *u = url_of(f, fine[i]);
        KT_OK(kl_archive_open(&ar, u, NULL));
        put_str(ar, "k", "v");
        KT_OK(kl_archive_close(ar));
        free(u);
    }
    /* a ?table=e<number> archive made before the check still opens */
    raw_query(f->path,
              "CREATE TABLE e900 (key BLOB PRIMARY KEY, value BLOB NOT NULL, stored_ns INTEGER "
              "NOT NULL, size INTEGER NOT NULL) WITHOUT ROWID",
              NULL);
    char *old = url_of(f, "?table=e900");
    KT_OK(kl_archive_open(&ar, old, NULL));
    put_str(ar, "k", "v");
    get_str(ar, "k", "v");
    KT_OK(kl_archive_close(ar));
    free(old);
    free(whole);
}

/* A trigger (added behind klepto's back) fails the second row of a batch:
 * the batch leaves nothing behind. */
static void a_failed_batch_leaves_no_rows(void **state)
{
    fx *f = *state;
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "" : "?table=t");
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        KT_OK(kl_archive_put(ar, "old", 3, "1", 1));
        raw_query(f->path,
                  layout ? "CREATE TRIGGER refuse BEFORE INSERT ON klepto_catalogue WHEN "
                           "NEW.key = CAST('bad' AS BLOB) BEGIN SELECT RAISE(ABORT, "
                           "'refused by trigger'); END"
                         : "CREATE TRIGGER refuse BEFORE INSERT ON t WHEN NEW.key = CAST('bad' "
                           "AS BLOB) BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END",
                  NULL);
        const void *keys[3] = {"new1", "bad", "new2"};
        size_t klens[3] = {4, 3, 4};
        const void *vals[3] = {"a", "b", "c"};
        size_t vlens[3] = {1, 1, 1};
        int rc = kl_archive_put_many(ar, 3, keys, klens, vals, vlens);
        assert_int_equal(rc, KL_EBACKEND);
        assert_non_null(strstr(kl_errmsg(), "refused by trigger"));
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 1);
        assert_int_equal(kl_archive_contains(ar, "new1", 4), 0);
        /* and the archive goes on working */
        KT_OK(kl_archive_put(ar, "new3", 4, "d", 1));
        KT_OK(kl_archive_drop(ar));
        raw_query(f->path, "DROP TRIGGER IF EXISTS refuse", NULL);
        free(u);
    }
}

/* Two handles on one file (as two processes would have) see each other's
 * writes, including entry tables created after the other handle opened. */
static void two_handles_share_one_file(void **state)
{
    fx *f = *state;
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "" : "?table=t");
        kl_archive *a, *b;
        KT_OK(kl_archive_open(&a, u, NULL));
        KT_OK(kl_archive_open(&b, u, NULL));
        kl_buf got = KL_BUF_INIT;
        for (int i = 0; i < 50; i++) {
            char k[16];
            int kn = snprintf(k, sizeof k, "k%d", i);
            KT_OK(kl_archive_put(i % 2 ? a : b, k, (size_t)kn, k, (size_t)kn));
            KT_OK(kl_archive_get(i % 2 ? b : a, k, (size_t)kn, &got));
            assert_memory_equal(got.data, k, (size_t)kn);
        }
        KT_OK(kl_archive_del(a, "k7", 2));
        assert_int_equal(kl_archive_get(b, "k7", 2, &got), KL_ENOTFOUND);
        KT_OK(kl_archive_close(a));
        KT_OK(kl_archive_drop(b));
        kl_buf_free(&got);
        free(u);
    }
}

static void conformance_suite(void **state)
{
    char *u = url_of(*state, "?table=suite");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
    u = url_of(*state, "");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
    /* each open of :memory: is a new, empty database */
    kt_archive_suite("sqlite::memory:?table=suite", KT_ARCH_DROP);
    kt_archive_suite("sqlite::memory:", KT_ARCH_DROP);
}

static void entries_over_the_size_limit_are_refused(void **state)
{
    fx *f = *state;
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(f, layout ? "?max_size=4096" : "?table=t&max_size=4096");
        kl_archive *ar;
        KT_OK(kl_archive_open(&ar, u, NULL));
        static char big[5000];
        memset(big, 'x', sizeof big);
        assert_int_equal(kl_archive_put(ar, "k", 1, big, sizeof big), KL_ETOOBIG);
        assert_non_null(strstr(kl_errmsg(), "limit"));
        KT_OK(kl_archive_put(ar, "k", 1, big, 4000));
        const void *keys[2] = {"a", "b"}, *vals[2] = {big, big};
        size_t klens[2] = {1, 1}, vlens[2] = {10, sizeof big};
        assert_int_equal(kl_archive_put_many(ar, 2, keys, klens, vals, vlens), KL_ETOOBIG);
        size_t n;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 1); /* neither a nor b */
        KT_OK(kl_archive_drop(ar));
        free(u);
    }
}

static void threads_share_one_handle(void **state)
{
    for (int layout = 0; layout < 2; layout++) {
        char *u = url_of(*state, layout ? "" : "?table=t");
        kt_suite_threads(u);
        free(u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(conformance_suite, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(threads_share_one_handle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sqltable_round_trips, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sql_archive_round_trips, fx_setup, fx_teardown),
        cmocka_unit_test(memory_databases_work),
        cmocka_unit_test_setup_teardown(sql_archive_table_names_never_come_from_keys, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(sql_archive_reuse_of_ids_is_never_misread, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(sql_archive_foreign_edits_read_alike_every_time,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(table_names_with_quotes_are_safe, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(a_file_that_is_not_sqlite_is_refused, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(missing_and_read_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refused_urls_leave_no_file_behind, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(reserved_table_names_are_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(a_failed_batch_leaves_no_rows, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(two_handles_share_one_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(entries_over_the_size_limit_are_refused, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
