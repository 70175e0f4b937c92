/* SPDX-License-Identifier: BSD-3-Clause */
/* The shared PostgreSQL server of the tests ($KLEPTO_TEST_PG_URL, set by
 * scripts/with-servers.sh): a schema of its own per test, and raw libpq
 * queries to look behind the archive's back.  Failures are cmocka
 * assertions. */
#ifndef KLEPTO_TEST_POSTGRES_FIXTURE_H
#define KLEPTO_TEST_POSTGRES_FIXTURE_H

#include "klepto/codec.h"

#include "testutil.h"

/* The server's URL, or NULL when the tests have none. */
const char *kt_pg_url(void);

/* Skips the calling test when there is no server. */
#define KT_NEED_PG()                                                                               \
    do {                                                                                           \
        if (!kt_pg_url()) {                                                                        \
            print_message("KLEPTO_TEST_PG_URL is not set (run under scripts/with-servers.sh):"     \
                          " skipped\n");                                                           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Run sql at conninfo url with up to two binary parameters (NULL: fewer);
 * the first column of the first row as text into out (heap; "" without a
 * row) when out is given. */
void kt_pg_run(const char *url, const char *sql, const kl_buf *p1, const kl_buf *p2, char **out);
void kt_pg_exec(const char *url, const char *sql);
/* The first column of sql's first row as text (heap); no row fails. */
char *kt_pg_value(const char *url, const char *sql);

/* A cmocka state: a fresh schema "kt_TAG_PID_N" on the server, dropped at
 * teardown (both do nothing without a server). */
typedef struct kt_pg_schema {
    const char *base; /* the server's URL */
    char schema[64];
    char *raw; /* a libpq conninfo whose search path is the schema */
} kt_pg_schema;
int kt_pg_schema_setup(void **state, const char *tag);
int kt_pg_schema_teardown(void **state);
/* An archive URL in the schema, plus `extra` options ("" for none); heap. */
char *kt_pg_url_of(const kt_pg_schema *f, const char *extra);

#endif
