/* SPDX-License-Identifier: BSD-3-Clause */
/* The shared MariaDB/MySQL server of the tests ($KLEPTO_TEST_MYSQL_URL,
 * set by scripts/with-servers.sh): a database of its own per test, and
 * raw Connector/C queries to look behind the archive's back.  Failures are
 * cmocka assertions. */
#ifndef KLEPTO_TEST_MYSQL_FIXTURE_H
#define KLEPTO_TEST_MYSQL_FIXTURE_H

#include <mysql.h>

#include "testutil.h"

/* The server's URL, or NULL when the tests have none. */
const char *kt_my_url(void);

/* Skips the calling test when there is no server. */
#define KT_NEED_MYSQL()                                                                            \
    do {                                                                                           \
        if (!kt_my_url()) {                                                                        \
            print_message("KLEPTO_TEST_MYSQL_URL is not set (run under "                           \
                          "scripts/with-servers.sh with MariaDB installed): skipped\n");           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* The parts of a server URL mysql://USER:PASS@HOST:PORT/DB. */
typedef struct kt_my_server {
    char user[64], pass[64], host[64], db[64];
    unsigned port;
} kt_my_server;
void kt_my_parse(const char *url, kt_my_server *sv);

/* A raw connection to server url's database db (NULL: the URL's), in
 * ANSI_QUOTES mode as the archive's. */
MYSQL *kt_my_connect(const char *url, const char *db);
/* Run sql in db (NULL: the URL's database); a result is discarded. */
void kt_my_exec(const char *db, const char *sql);
/* The first column of sql's first row as text ("NULL" for NULL; heap);
 * no row fails the test. */
char *kt_my_value(const char *db, const char *sql);

/* A cmocka state: a fresh database "kt_TAG_PID_N", dropped at teardown
 * (both do nothing without a server). */
typedef struct kt_my_db {
    char db[64];
} kt_my_db;
int kt_my_db_setup(void **state, const char *tag);
int kt_my_db_teardown(void **state);
/* The server's URL naming database db, plus `extra` options ("" for none);
 * heap. */
char *kt_my_url_of(const char *db, const char *extra);

#endif
