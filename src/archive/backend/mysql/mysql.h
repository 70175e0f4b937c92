/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mysql: archives in a MySQL or MariaDB database, through MariaDB
 * Connector/C (libmariadb).  Schemes mysql: and mariadb: are the same.
 *
 *   mysql://[USER[:PASS]@]HOST[:PORT]/DB?table=T   sqltable_archive: one table
 *       T(kid BINARY(16) PRIMARY KEY, key LONGBLOB NOT NULL,
 *         value LONGBLOB NOT NULL, stored_ns BIGINT NOT NULL,
 *         size BIGINT NOT NULL) ENGINE=InnoDB, utf8mb4
 *   mysql://[USER[:PASS]@]HOST[:PORT]/DB           sql_archive: a catalogue
 *       klepto_catalogue(id BIGINT AUTO_INCREMENT PRIMARY KEY,
 *         kid BINARY(16) UNIQUE, key LONGBLOB, stored_ns BIGINT, size BIGINT)
 *     and one table e<id>(value LONGBLOB NOT NULL) per key.
 *
 * kid is the XXH3-128 digest of the key (canonical, big-endian bytes):
 * InnoDB cannot index a whole LONGBLOB, and keys may be any length.  Every
 * lookup matches kid *and* key; an upsert only replaces a row whose key is
 * equal (a different key with the same digest makes the statement fail,
 * reported, never merged).  stored_ns: nanoseconds since the Unix epoch;
 * size: key bytes + value bytes.  Layout in docs/formats.md.
 *
 * Options: socket=PATH (a Unix socket instead of TCP), connect_timeout=S
 * (default 5), ssl=true|false (require TLS), ssl_ca, ssl_capath,
 * ssl_cert, ssl_key, ssl_cipher, ssl_verify_server_cert=true|false: all
 * passed to Connector/C.
 *
 * Sessions run with sql_mode ANSI_QUOTES,STRICT_ALL_TABLES so that the
 * SQL shared with the other backends (util/sql_catalog.c) quotes names
 * with double quotes.
 *
 * A dropped connection is re-established on the next call; a read that
 * failed because the connection dropped is retried once.  Writes are not
 * retried (the caller sees KL_EBACKEND with the server's message).
 *
 * MySQL commits implicitly before CREATE and DROP TABLE, so the
 * sql_archive layout cannot put a catalogue row and its entry table in one
 * transaction: writers of one database take the named lock
 * "<db>.klepto_catalogue" (GET_LOCK) around each put, delete and batch,
 * and a failed first value removes the row and table it created.
 *
 * Not marked thread-safe: one connection per handle, serialised by the
 * core.
 *
 * Files: connection.c (errors, connection, statements), open.c (URL,
 * options, tables), catalog.c (the sql_archive layout, with
 * util/sql_catalog.c), slots.c (the backend's slots), batch.c (put_many,
 * del_many, get_many), iter.c (pages).
 */
#ifndef KLEPTO_ARCHIVE_BACKEND_MYSQL_H
#define KLEPTO_ARCHIVE_BACKEND_MYSQL_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "archive/backends.h"
#include "klepto/sys/archive_backend.h"
#include "archive/util/sql_catalog.h"
#include "archive/util/sql_names.h"
#include "archive/util/sql_sum.h"

#define MY_NAME_MAX 64       /* identifier length */
#define MY_BATCH_ROWS 500    /* rows per multi-row statement */
#define MY_PACKET_SLACK 1024 /* statement text and framing beside the data */
#define MY_PAGE 256          /* rows per iteration page */

/* Prepared statements, per layout (my_stmt_sql in connection.c). */
enum {
    MS_GET,
    MS_PUT,
    MS_DEL,
    MS_HAS,
    MS_COUNT,
    MS_STAT,
    MS_PAGE_K,
    MS_PAGE_KV,
    MS_CAT_UPSERT,
    MS_CAT_DEL,
    MS_NSTMT
};

typedef struct my_state {
    MYSQL *conn;
    char *url; /* for messages, password masked */
    char *host, *user, *pass, *db, *socket;
    unsigned port;
    unsigned timeout;
    int ssl;          /* -1: not said, 0/1 */
    int ssl_verify;   /* -1: not said, 0/1 */
    char *ssl_opt[5]; /* ca, capath, cert, key, cipher */
    char *table;      /* NULL: sql_archive layout */
    kl_buf qtable;    /* quoted, NUL-terminated */
    kl_buf lockname;  /* quoted SQL string: the sql_archive writers' lock */
    bool read_only;
    /* the table (or catalogue) has the sum column (util/sql_sum.h); only a
     * read-only open of a table an older release made lacks it */
    bool has_sum;
    bool in_txn;
    bool locked;
    unsigned long max_packet; /* the server's max_allowed_packet */
    MYSQL_STMT *st[MS_NSTMT];
    MYSQL_STMT *batch_st; /* put_many, MY_BATCH_ROWS rows */
    unsigned last_errno;  /* of the last server error */
    /* the server thread of the last connection closed: ended before the
     * next one works (kl__my_connect) */
    unsigned long lost_thread;
} my_state;

/* A key as statement parameters: kid, key. */
typedef struct my_key {
    uint8_t kid[16];
    unsigned long lens[2];
    MYSQL_BIND b[2];
} my_key;

/* A batch in digest order (concurrent batches then lock rows in one
 * order); equal keys keep their order (the last one wins). */
typedef struct my_ord {
    uint8_t kid[16];
    size_t i;
} my_ord;

/* connection.c: errors */
int kl__my_err(my_state *s, const char *what);
int kl__my_err_stmt(my_state *s, MYSQL_STMT *st, const char *what);
int kl__my_notfound(my_state *s);
int kl__my_writable(my_state *s);
int kl__my_check_size(my_state *s, size_t klen, size_t vlen);
bool kl__my_errno_lost(unsigned e);
/* connection.c: connection, statements, transactions */
int kl__my_connect(my_state *s);
int kl__my_ready(my_state *s);
void kl__my_disconnect(my_state *s);
int kl__my_exec(my_state *s, const char *sql, const char *what);
int kl__my_run(my_state *s, int i, MYSQL_BIND *params, bool read, const char *what);
/* Fetch one row of at most 6 columns, by type: 'i' an integer into
 * ints[c], 'b' a blob into *bufs[c], 'n' a blob or NULL into *bufs[c]
 * with ints[c] 1 for NULL.  1: a row, 0: no more, or an error. */
int kl__my_fetch(my_state *s, MYSQL_STMT *st, int ncols, const char *types, kl_buf **bufs,
                 int64_t *ints, const char *what);
/* The entry checksum check (util/sql_sum.h) of key and val against a
 * fetched sum (NULL when null) and stored_ns. */
int kl__my_check_sum(my_state *s, const void *key, size_t klen, const kl_buf *val,
                     const kl_buf *sum, bool null, int64_t stored_ns);
int kl__my_begin(my_state *s);
int kl__my_commit(my_state *s);
void kl__my_rollback(my_state *s);
/* Run sql, a query of one value: 1 when it is 1, 0 when not (or NULL),
 * an error naming `what` otherwise (connecting first). */
int kl__my_query_true(my_state *s, const char *sql, const char *what);
int kl__my_lock(my_state *s);
void kl__my_unlock(my_state *s);
/* connection.c: parameters */
void kl__my_kid(uint8_t kid[16], const void *key, size_t klen);
void kl__my_key_init(my_key *k, const void *key, size_t klen);
void kl__my_bind_blob(MYSQL_BIND *b, const void *p, unsigned long *len, size_t n);
void kl__my_bind_int(MYSQL_BIND *b, int64_t *v);

/* catalog.c: the sql_archive layout */
int kl__my_ca_get(my_state *s, const void *key, size_t klen, kl_buf *val);
int kl__my_ca_entry_get(my_state *s, int64_t id, kl_buf *val, const char *what);
int kl__my_ca_put(my_state *s, const void *key, size_t klen, const void *val, size_t vlen);
int kl__my_ca_del(my_state *s, const void *key, size_t klen);
int kl__my_ca_clear(my_state *s);

/* open.c */
int kl__my_open(void **out, const kl_url *url, const kl_archive_opts *opts);
int kl__my_close(void *state);

/* slots.c */
int kl__my_get(void *state, const void *key, size_t klen, kl_buf *val);

/* batch.c */
int kl__my_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    const void *const *vals, const size_t *vlens);
int kl__my_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    kl_buf *vals, bool *found);
int kl__my_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    size_t *deleted);

/* iter.c */
int kl__my_iter_new(void *state, void **cursor);
int kl__my_iter_next(void *cursor, kl_buf *key, kl_buf *val);
void kl__my_iter_free(void *cursor);

#endif
