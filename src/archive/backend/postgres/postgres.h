/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * postgresql: archives in a PostgreSQL database, through libpq.
 *
 *   postgresql://USER@HOST:PORT/DB?table=T   sqltable_archive: one table
 *   postgresql://USER@HOST:PORT/DB           sql_archive: a catalogue and
 *                                            one table per key
 * The tables, columns and types, and the kid digest column that indexes
 * keys of any length: docs/formats.md ("postgresql:").
 *
 * Any other query option that libpq knows (sslmode, connect_timeout,
 * application_name, ...) is passed to libpq, and libpq's environment
 * (PGHOST, PGUSER, PGPASSWORD, ...) fills what the URL leaves out.  The
 * connect timeout defaults to 5 s.
 *
 * A dropped connection is re-established on the next call; a read that
 * failed because the connection dropped is retried once.  Writes are not
 * retried (the caller sees KL_EBACKEND with the server's message).
 *
 * Not marked thread-safe: one connection per handle, serialised by the
 * core. *
 * Files: connection.c (errors, statements, connection, parameters),
 * open.c (options, tables), catalog.c (the sql_archive layout, with
 * util/sql_catalog.c), slots.c (the backend's slots), batch.c (put_many,
 * get_many), iter.c (cursors).
 */
#ifndef KLEPTO_ARCHIVE_BACKEND_POSTGRES_H
#define KLEPTO_ARCHIVE_BACKEND_POSTGRES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "archive/backends.h"
#include "klepto/sys/archive_backend.h"
#include "archive/util/sql_catalog.h"
#include "archive/util/sql_names.h"
#include "archive/util/sql_sum.h"

#define PG_NAME_MAX 63                 /* NAMEDATALEN - 1 */
#define PG_FIELD_MAX ((size_t)1 << 30) /* bytea: 1 GiB */
#define PG_PIPELINE_CHUNK 1000         /* queries between syncs in put_many */
#define PG_CATALOGUE_TXN 100           /* sql_archive: entries per transaction */
#define PG_PAGE 256                    /* rows per iteration page */

typedef struct pg_state {
    PGconn *conn;
    char *url;      /* for messages, password masked */
    char *conninfo; /* what libpq gets */
    char *table;    /* NULL: sql_archive layout */
    kl_buf qtable;  /* quoted, NUL-terminated */
    bool read_only;
    /* the table (or catalogue) has the sum column (util/sql_sum.h); only a
     * read-only open of a table an older release made lacks it */
    bool has_sum;
    bool prepared; /* the statements exist on this connection */
    bool in_txn;
    int backend_pid;  /* the server process of this connection (libpq's
                       * PQbackendPID says 0 once it dropped) */
    char sqlstate[6]; /* of the last server error */
} pg_state;

typedef struct pg_key {
    uint8_t kid[16];
    const char *vals[6];
    int lens[6];
    int fmts[6];
} pg_key;

/* Prepared statements, by name (kl__pg_st_names), per layout (pg_stmt_sql). */
enum {
    ST_GET,
    ST_PUT,
    ST_DEL,
    ST_HAS,
    ST_COUNT,
    ST_STAT,
    ST_PAGE_K,
    ST_PAGE_KV,
    ST_CAT_FIND,
    ST_CAT_UPSERT,
    ST_CAT_DEL,
    ST_NSTMT
};
extern const char *const kl__pg_st_names[ST_NSTMT];

/* A batch in digest order: concurrent batches then lock rows in one
 * order and cannot deadlock each other.  Equal keys keep their order (the
 * last one wins). */
typedef struct pg_ord {
    uint8_t kid[16];
    size_t i;
} pg_ord;

/* connection.c: errors */
int kl__pg_err_conn(pg_state *s, const char *what);
int kl__pg_err_res(pg_state *s, const PGresult *res, const char *what);
bool kl__pg_sqlstate_is(const PGresult *res, const char *code);
int kl__pg_notfound(pg_state *s);
int kl__pg_writable(pg_state *s);
int kl__pg_check_size(pg_state *s, size_t klen, size_t vlen);
/* connection.c: connection, statements, transactions */
int kl__pg_prepare_all(pg_state *s);
int kl__pg_connect(pg_state *s);
int kl__pg_ready(pg_state *s);
int kl__pg_run(pg_state *s, int i, int nparams, const char *const *vals, const int *lens, bool read,
               PGresult **out, const char *what);
int kl__pg_exec(pg_state *s, const char *sql, const char *what);
int kl__pg_begin(pg_state *s);
int kl__pg_commit(pg_state *s);
void kl__pg_rollback(pg_state *s);
/* connection.c: key parameters and binary integers */
void kl__pg_kid(uint8_t kid[16], const void *key, size_t klen);
void kl__pg_key_init(pg_key *k, const void *key, size_t klen);
int64_t kl__pg_int8(const PGresult *res, int row, int col);
void kl__pg_put_int8(uint8_t *p, int64_t v);
int kl__pg_copy_out(const PGresult *res, int row, int col, kl_buf *out);
/* Check the entry checksum in columns col (sum) and col + 1 (stored_ns) of
 * a row against key and val: 0, or KL_ECORRUPT naming the key. */
int kl__pg_check_sum(pg_state *s, const PGresult *res, int row, int col, const void *key,
                     size_t klen, const kl_buf *val);

/* catalog.c: the sql_archive layout */
int kl__pg_ca_entry_sql(pg_state *s, int op, int64_t id, const void *blob, size_t n, kl_buf *val,
                        const char *what);
int kl__pg_ca_get(pg_state *s, const void *key, size_t klen, kl_buf *val);
int kl__pg_ca_put_in_txn(pg_state *s, const void *key, size_t klen, const void *val, size_t vlen);
int kl__pg_ca_del_in_txn(pg_state *s, const void *key, size_t klen);
int kl__pg_ca_clear(pg_state *s);

/* open.c */
int kl__pg_open(void **out, const kl_url *url, const kl_archive_opts *opts);
int kl__pg_close(void *state);

/* slots.c */
int kl__pg_get(void *state, const void *key, size_t klen, kl_buf *val);

/* batch.c */
int kl__pg_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    const void *const *vals, const size_t *vlens);
int kl__pg_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    kl_buf *vals, bool *found);

/* iter.c */
int kl__pg_iter_new(void *state, void **cursor);
int kl__pg_iter_next(void *cursor, kl_buf *key, kl_buf *val);
void kl__pg_iter_free(void *cursor);

#endif
