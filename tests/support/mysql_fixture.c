/* SPDX-License-Identifier: BSD-3-Clause */
/* See mysql_fixture.h. */
#define _GNU_SOURCE
#include "mysql_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *kt_my_url(void)
{
    const char *u = getenv("KLEPTO_TEST_MYSQL_URL");
    return u && *u ? u : NULL;
}

void kt_my_parse(const char *url, kt_my_server *sv)
{
    memset(sv, 0, sizeof *sv);
    assert_int_equal(sscanf(url, "mysql://%63[^:]:%63[^@]@%63[^:]:%u/%63s", sv->user, sv->pass,
                            sv->host, &sv->port, sv->db),
                     5);
}

MYSQL *kt_my_connect(const char *url, const char *db)
{
    kt_my_server sv;
    kt_my_parse(url, &sv);
    MYSQL *c = mysql_init(NULL);
    if (!mysql_real_connect(c, sv.host, sv.user, sv.pass, db ? db : sv.db, sv.port, NULL, 0))
        fail_msg("raw connect: %s", mysql_error(c));
    mysql_query(c, "SET SESSION sql_mode = 'ANSI_QUOTES'");
    return c;
}

void kt_my_exec(const char *db, const char *sql)
{
    MYSQL *c = kt_my_connect(kt_my_url(), db);
    if (mysql_query(c, sql))
        fail_msg("%s: %s", sql, mysql_error(c));
    MYSQL_RES *r = mysql_store_result(c);
    if (r)
        mysql_free_result(r);
    mysql_close(c);
}

char *kt_my_value(const char *db, const char *sql)
{
    MYSQL *c = kt_my_connect(kt_my_url(), db);
    if (mysql_query(c, sql))
        fail_msg("%s: %s", sql, mysql_error(c));
    MYSQL_RES *r = mysql_store_result(c);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    if (!row)
        fail_msg("%s: no row", sql);
    char *v = strdup(row[0] ? row[0] : "NULL");
    mysql_free_result(r);
    mysql_close(c);
    return v;
}

int kt_my_db_setup(void **state, const char *tag)
{
    if (!kt_my_url())
        return 0;
    static int n;
    kt_my_db *f = calloc(1, sizeof *f);
    snprintf(f->db, sizeof f->db, "kt_%s_%d_%d", tag, (int)getpid(), n++);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", f->db);
    kt_my_exec(NULL, sql);
    *state = f;
    return 0;
}

int kt_my_db_teardown(void **state)
{
    kt_my_db *f = *state;
    if (!f)
        return 0;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE %s", f->db);
    kt_my_exec(NULL, sql);
    free(f);
    return 0;
}

char *kt_my_url_of(const char *db, const char *extra)
{
    kt_my_server sv;
    kt_my_parse(kt_my_url(), &sv);
    char *u;
    assert_true(asprintf(&u, "mysql://%s:%s@%s:%u/%s%s%s", sv.user, sv.pass, sv.host, sv.port, db,
                         *extra ? "?" : "", extra) > 0);
    return u;
}
