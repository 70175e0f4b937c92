/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_alchemy.py (Python klepto): the SQL archives
 * used directly (cached=False), with the script's dictionary methods,
 * replayed on both SQL layouts of sqlite: and of postgresql:
 * ($KLEPTO_TEST_PG_URL, set by scripts/with-servers.sh; those cases skip
 * without it and work in a schema of their own).
 *
 *   sqltable_archive(cached=False)      sqlite:FILE?table=memo
 *   sql_archive(cached=False)           sqlite:FILE (one table per key)
 *   sql('postgresql://...', cached=False).__drop__()   (test_new)
 *                                       postgresql://...: opened, dropped
 *   the dictionary methods              kl_archive_*: del, get, pop (get +
 *                                       del), contains, iterate (keys,
 *                                       items, values, __iter__, popitem,
 *                                       __asdict__), put_many (update),
 *                                       del_many (popkeys), count (len),
 *                                       clear, drop (__drop__); copy and ==
 *                                       compare the archive's items
 *
 * Not applicable here:
 *   - test_alchemy's values d['c'] = min and d['d'] = a lambda: a C value
 *     has no functions; 'c' and 'd' hold a float and a list instead, so
 *     test_methods has the same four keys to work on;
 *   - fromkeys: builds a plain dict from its arguments, no archive involved;
 *   - mysql:// (MySQLdb): there is no MySQL backend yet.
 * Every assertion is klepto's (klepto's script passes on both layouts). */
#define _GNU_SOURCE
#include "klepto_compat.h"
#include "testutil.h"

#ifdef KLEPTO_HAVE_POSTGRES
#include <libpq-fe.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char *dir;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "klepto_alchemy");
}

static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

/* ---- the dictionary operations, with text keys ------------------------- */

static void enc_key(kl_buf *k, const char *key)
{
    kl_value kv = kl_value_cstr_ref(key);
    kl_buf_reset(k);
    KT_OK(kl_encode(k, &kv, 0));
}

static void put(kl_archive *d, const char *key, const kl_value *v)
{
    kl_buf k = KL_BUF_INIT, b = KL_BUF_INIT;
    enc_key(&k, key);
    KT_OK(kl_encode(&b, v, 0));
    KT_OK(kl_archive_put(d, k.data, k.len, b.data, b.len));
    kl_buf_free(&k);
    kl_buf_free(&b);
}

/* d[key] (or d.get(key)): the value, which the caller frees */
static kl_value get(kl_archive *d, const char *key)
{
    kl_buf k = KL_BUF_INIT, b = KL_BUF_INIT;
    enc_key(&k, key);
    KT_OK(kl_archive_get(d, k.data, k.len, &b));
    kl_value v;
    KT_OK(kl_decode(b.data, b.len, &v));
    kl_buf_free(&k);
    kl_buf_free(&b);
    return v;
}

static void del(kl_archive *d, const char *key)
{
    kl_buf k = KL_BUF_INIT;
    enc_key(&k, key);
    KT_OK(kl_archive_del(d, k.data, k.len));
    kl_buf_free(&k);
}

static bool contains(kl_archive *d, const char *key)
{
    kl_buf k = KL_BUF_INIT;
    enc_key(&k, key);
    int rc = kl_archive_contains(d, k.data, k.len);
    assert_true(rc == 0 || rc == 1);
    kl_buf_free(&k);
    return rc == 1;
}

static size_t len(kl_archive *d)
{
    size_t n;
    KT_OK(kl_archive_count(d, &n));
    return n;
}

/* The archive's items as klepto prints a dictionary: what d.copy(),
 * set(d.items()) and d == test compare (heap string). */
static char *items(kl_archive *d)
{
    return kt_archive_entries(d, "{", ", ", "}");
}

/* ---- the script ---------------------------------------------------------- */

static void script_basic(kl_archive *d)
{
    kl_value one = kl_value_int(1), text = kl_value_cstr_ref("1");
    put(d, "a", &one);
    put(d, "b", &text);
    kl_value a = get(d, "a"), b = get(d, "b");
    assert_true(kl_value_equal(&a, &one));
    assert_true(kl_value_equal(&b, &text));
    kl_value_free(&a);
    kl_value_free(&b);
}

/* test_alchemy's min and lambda, as values we have */
static void script_stand_ins(kl_archive *d)
{
    kl_value c = kl_value_float(2.5);
    kl_value items[2] = {kl_value_int(1), kl_value_int(2)};
    kl_value l = kl_value_array_ref(items, 2, false);
    put(d, "c", &c);
    put(d, "d", &l);
}

static void script_methods(kl_archive *d)
{
    del(d, "d");           /* __delitem__ */
    char *test = items(d); /* copy */
    assert_string_equal(test, "{'a': 1, 'b': '1', 'c': 2.5}");
    char *now = items(d); /* __eq__ */
    assert_string_equal(now, test);
    free(now);
    kl_value i = get(d, "a");   /* __getitem__ */
    kl_value got = get(d, "a"); /* get == pop */
    kl_value popped = get(d, "a");
    del(d, "a");
    assert_true(kl_value_equal(&got, &popped));
    kl_value_free(&got);
    kl_value_free(&popped);
    now = items(d); /* __ne__ */
    assert_string_not_equal(now, test);
    free(now);
    put(d, "a", &i); /* __setitem__ */
    kl_value_free(&i);
    assert_true(contains(d, "a")); /* __contains__ */
    now = items(d);                /* keys, items, values */
    assert_string_equal(now, test);
    free(now);

    /* d.setdefault(*d.popitem()) */
    kl_archive_iter *it;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    KT_OK(kl_archive_iter_new(d, &it));
    assert_int_equal(kl_archive_iter_next(it, &k, &v), 1);
    kl_archive_iter_free(it);
    KT_OK(kl_archive_del(d, k.data, k.len));
    assert_int_equal(len(d), 2);
    assert_int_equal(kl_archive_contains(d, k.data, k.len), 0);
    KT_OK(kl_archive_put(d, k.data, k.len, v.data, v.len));
    now = items(d);
    assert_string_equal(now, test);
    free(now);

    /* d.update({'z': 0}); d.popkeys(['z']) */
    kl_buf zk = KL_BUF_INIT, zv = KL_BUF_INIT;
    enc_key(&zk, "z");
    kl_value zero = kl_value_int(0);
    KT_OK(kl_encode(&zv, &zero, 0));
    const void *keys[1] = {zk.data}, *vals[1] = {zv.data};
    size_t klens[1] = {zk.len}, vlens[1] = {zv.len}, deleted = 0;
    KT_OK(kl_archive_put_many(d, 1, keys, klens, vals, vlens));
    assert_int_equal(len(d), 4);
    KT_OK(kl_archive_del_many(d, 1, keys, klens, &deleted));
    assert_int_equal(deleted, 1);
    now = items(d);
    assert_string_equal(now, test);
    free(now);
    kl_buf_free(&zk);
    kl_buf_free(&zv);

    /* next(iter(d)) in d */
    KT_OK(kl_archive_iter_new(d, &it));
    assert_int_equal(kl_archive_iter_next(it, &k, NULL), 1);
    kl_archive_iter_free(it);
    assert_int_equal(kl_archive_contains(d, k.data, k.len), 1);
    kl_buf_free(&k);
    kl_buf_free(&v);

    KT_OK(kl_archive_clear(d)); /* clear */
    now = items(d);             /* __asdict__ == {} */
    assert_string_equal(now, "{}");
    free(now);
    assert_int_equal(len(d), 0); /* __len__ */
    free(test);
}

/* The whole script on one archive URL, then __drop__: the storage is
 * gone (opening it without create finds nothing). */
static void run_script(const char *url)
{
    kl_archive *d;
    KT_OK(kl_archive_open(&d, url, NULL));
    script_basic(d);
    script_stand_ins(d);
    script_methods(d);
    KT_OK(kl_archive_drop(d)); /* __drop__ */
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    assert_int_equal(kl_archive_open(&d, url, &o), KL_ENOTFOUND);
}

static void sqltable_on_sqlite(void **state)
{
    (void)state;
    char url[512];
    snprintf(url, sizeof url, "sqlite:%s/alchemy.db?table=memo", dir);
    run_script(url);
}

static void sql_on_sqlite(void **state)
{
    (void)state;
    char url[512];
    snprintf(url, sizeof url, "sqlite:%s/alchemy.db", dir);
    run_script(url);
}

/* ---- postgresql -------------------------------------------------------- */

#ifdef KLEPTO_HAVE_POSTGRES
static const char *pg_url(void)
{
    const char *u = getenv("KLEPTO_TEST_PG_URL");
    return u && *u ? u : NULL;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_exec(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url());
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* Runs fn(url) with url the server's address in a fresh schema, with
 * `table` appended when given. */
static void in_schema(const char *tag, const char *table, void (*fn)(const char *url))
{
    if (!pg_url()) {
        print_message("KLEPTO_TEST_PG_URL is not set (run under scripts/with-servers.sh):"
                      " skipped\n");
        skip();
    }
    char schema[64], sql[128], *url;
    snprintf(schema, sizeof schema, "kt_klepto_%s_%d", tag, (int)getpid());
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    pg_exec(sql);
    assert_true(asprintf(&url, "%s%coptions=-csearch_path%%3D%s%s%s", pg_url(),
                         strchr(pg_url(), '?') ? '&' : '?', schema, table ? "&table=" : "",
                         table ? table : "") > 0);
    fn(url);
    free(url);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    pg_exec(sql);
}

/* test_new: sql('postgresql://...', cached=False).__drop__() */
static void open_and_drop(const char *url)
{
    kl_archive *z;
    KT_OK(kl_archive_open(&z, url, NULL));
    KT_OK(kl_archive_drop(z));
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    assert_int_equal(kl_archive_open(&z, url, &o), KL_ENOTFOUND);
}

static void new_sql_on_postgres_drops(void **state)
{
    (void)state;
    in_schema("new", NULL, open_and_drop);
}

static void sqltable_on_postgres(void **state)
{
    (void)state;
    in_schema("table", "memo", run_script);
}

static void sql_on_postgres(void **state)
{
    (void)state;
    in_schema("sql", NULL, run_script);
}
#else
static void skip_without_postgres(void **state)
{
    (void)state;
    print_message("built without PostgreSQL (KLEPTO_WITH_POSTGRES=OFF): skipped\n");
    skip();
}
#define new_sql_on_postgres_drops skip_without_postgres
#define sqltable_on_postgres skip_without_postgres
#define sql_on_postgres skip_without_postgres
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqltable_on_sqlite),        cmocka_unit_test(sql_on_sqlite),
        cmocka_unit_test(new_sql_on_postgres_drops), cmocka_unit_test(sqltable_on_postgres),
        cmocka_unit_test(sql_on_postgres),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
