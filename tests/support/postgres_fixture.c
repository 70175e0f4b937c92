/* SPDX-License-Identifier: BSD-3-Clause */
/* See postgres_fixture.h. */
#define _GNU_SOURCE
#include "postgres_fixture.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *kt_pg_url(void)
{
    const char *u = getenv("KLEPTO_TEST_PG_URL");
    return u && *u ? u : NULL;
}

static void quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

static PGresult *run(const char *url, const char *sql, const kl_buf *p1, const kl_buf *p2,
                     PGconn **conn)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    const char *vals[2] = {p1 ? (const char *)p1->data : NULL, p2 ? (const char *)p2->data : NULL};
    int lens[2] = {p1 ? (int)p1->len : 0, p2 ? (int)p2->len : 0}, fmts[2] = {1, 1};
    PGresult *r = PQexecParams(c, sql, p2 ? 2 : p1 ? 1 : 0, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    *conn = c;
    return r;
}

void kt_pg_run(const char *url, const char *sql, const kl_buf *p1, const kl_buf *p2, char **out)
{
    PGconn *c;
    PGresult *r = run(url, sql, p1, p2, &c);
    if (out)
        *out = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
}

void kt_pg_exec(const char *url, const char *sql)
{
    kt_pg_run(url, sql, NULL, NULL, NULL);
}

char *kt_pg_value(const char *url, const char *sql)
{
    PGconn *c;
    PGresult *r = run(url, sql, NULL, NULL, &c);
    if (PQntuples(r) < 1)
        fail_msg("%s: no row", sql);
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

int kt_pg_schema_setup(void **state, const char *tag)
{
    if (!kt_pg_url())
        return 0;
    static int n;
    kt_pg_schema *f = calloc(1, sizeof *f);
    f->base = kt_pg_url();
    snprintf(f->schema, sizeof f->schema, "kt_%s_%d_%d", tag, (int)getpid(), n++);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", f->schema);
    kt_pg_exec(f->base, sql);
    assert_true(asprintf(&f->raw, "%s%coptions=-csearch_path%%3D%s", f->base,
                         strchr(f->base, '?') ? '&' : '?', f->schema) > 0);
    *state = f;
    return 0;
}

int kt_pg_schema_teardown(void **state)
{
    kt_pg_schema *f = *state;
    if (!f)
        return 0;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->schema);
    kt_pg_exec(f->base, sql);
    free(f->raw);
    free(f);
    return 0;
}

char *kt_pg_url_of(const kt_pg_schema *f, const char *extra)
{
    char *u;
    assert_true(asprintf(&u, "%s%coptions=-csearch_path%%3D%s%s%s", f->base,
                         strchr(f->base, '?') ? '&' : '?', f->schema, *extra ? "&" : "",
                         extra) > 0);
    return u;
}
