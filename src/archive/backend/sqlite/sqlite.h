/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sqlite: archives in an SQLite database file (or ":memory:").
 *
 *   sqlite:PATH?table=T   sqltable_archive: one table of entries
 *   sqlite:PATH           sql_archive: a catalogue and one table per key
 * The tables, columns and types: docs/formats.md ("sqlite:").
 *
 * Options: timeout=MS (busy timeout, default 30000), sync=none|normal|full
 * (PRAGMA synchronous; default normal, with WAL), max_size=BYTES (largest
 * key + value accepted, default and at most SQLite's own limit, 1e9 in
 * Debian's build; larger entries are KL_ETOOBIG), mode=OCTAL (bits of a
 * new database file and so of its -wal/-shm files; default: the umask's).
 *
 * Keys and values are stored as the canonical bytes we are given, so any
 * SQLite client can read them (and a CBOR decoder can decode them).
 *
 * Several processes may share one file: WAL mode, a busy timeout, and every
 * multi-statement change inside BEGIN IMMEDIATE (a deferred transaction
 * that later wants to write could fail with SQLITE_BUSY without waiting).
 * Not marked thread-safe: the prepared statements belong to the handle and
 * the core serialises calls (so the connection is opened without SQLite's
 * own mutex).  Iterators own their statements.
 *
 * Costs that grow with the table count in the sql_archive layout are
 * SQLite's own: every CREATE TABLE walks all tables and scans the schema
 * table, and preparing a statement on an entry table walks a name hash
 * chain of table-count / 64 entries.  Hence the statement cache below,
 * gets of other tables through sqlite3_blob_open (no SQL to parse), and
 * puts that touch the catalogue once per new key (catalog.c).
 *
 * Files: statements.c (errors, statement helpers), open.c (connection,
 * pragmas, tables), catalog.c (the sql_archive layout, with
 * util/sql_catalog.c), slots.c (the backend's slots), iter.c (cursors),
 * verify.c (SQLite's own check, then every entry read), readonly.c (a
 * read-only open of a WAL database in a folder the reader cannot write).
 */
#ifndef KLEPTO_ARCHIVE_BACKEND_SQLITE_H
#define KLEPTO_ARCHIVE_BACKEND_SQLITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "internal.h"
#include "archive/backends.h"
#include "klepto/sys/archive_backend.h"
#include "archive/util/sql_catalog.h"
#include "archive/util/sql_names.h"
#include "archive/util/fsio.h"
#include "archive/util/sql_sum.h"

enum {
    /* sqltable layout */
    SQ_GET,
    SQ_PUT,
    SQ_DEL,
    SQ_HAS,
    SQ_COUNT,
    SQ_STAT,
    /* sql_archive layout (catalogue) */
    SQ_CAT_FIND,
    SQ_CAT_GET, /* id, sum, stored_ns */
    SQ_CAT_INSERT,
    SQ_CAT_TOUCH,
    SQ_CAT_DEL,
    /* both */
    SQ_BEGIN,
    SQ_BEGIN_WRITE,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_NSTMT
};

/* Statements on one entry table of the sql_archive layout, by kind. */

/* Prepared get / put statements of recently used entry tables.  Preparing
 * one resolves the table's name, and SQLite walks a hash chain that grows
 * with the table count (its schema hash stops at 64 buckets), so keys read
 * or written again skip that.  Entries stay correct across schema changes:
 * the text is a function of the id alone, the id comes from the catalogue
 * on every call, and SQLite re-prepares an expired statement itself. */
enum { SQ_ENTRY_CACHE = 64 };
typedef struct sq_entry_stmt {
    sqlite3_stmt *st; /* NULL: free slot */
    int64_t id;
    int kind;
    uint64_t used; /* LRU clock */
} sq_entry_stmt;

typedef struct sq_state {
    sqlite3 *db;
    char *url;
    char *path;
    char *table;   /* NULL: sql_archive layout */
    bool entry_name; /* table has an entry table's name (refused when new) */
    kl_buf qtable; /* quoted table name, NUL-terminated */
    bool read_only;
    /* the table (or catalogue) has the sum column (sql_sum.h); only a
     * read-only open of a file an older release wrote lacks it */
    bool has_sum;
    /* read without the -shm file and locks (readonly.c), and what the
     * database file was like when opened */
    bool immutable;
    ino_t snap_ino;
    off_t snap_size;
    struct timespec snap_mtime;
    /* the statement for which kl__sq_step opened a transaction to get
     * past schema changes (ended by its reset), or NULL */
    sqlite3_stmt *schema_txn;
    int sync_level; /* 0 off, 1 normal, 2 full */
    unsigned mode;  /* ?mode=: bits of a new database file (0: the umask's) */
    sqlite3_stmt *st[SQ_NSTMT];
    sq_entry_stmt ecache[SQ_ENTRY_CACHE];
    uint64_t eclock;
    int64_t seen[SQ_ENTRY_CACHE]; /* ids of gets lately read without a statement */
    unsigned seen_next;
    kl__fslock cleaner; /* the size limits' cleaner lock */
} sq_state;

/* readonly.c: a WAL database in a folder the reader cannot write */
/* Read-only, WAL, the folder not writable and no -wal or -shm file: the
 * database needs opening as immutable. */
bool kl__sq_ro_wants_immutable(const char *path);
/* "file:PATH?immutable=1", PATH percent-encoded; malloc'd, NULL when out
 * of memory. */
char *kl__sq_immutable_uri(const char *path);
/* Remember the database file's identity, size and time (sets immutable). */
int kl__sq_ro_snapshot(sq_state *s);
/* At close: KL_EIO when the database changed since the snapshot. */
int kl__sq_ro_check(const sq_state *s);

/* statements.c: errors and statement helpers */
int kl__sq_err(sq_state *s, int rc, const char *what);
int kl__sq_notfound(sq_state *s);
int kl__sq_prepare(sq_state *s, const char *sql, sqlite3_stmt **out, bool persistent);
/* sqlite3_step that gets past another connection's schema changes (see
 * statements.c): every step goes here, and a statement stepped here is
 * reset or finalized through kl__sq_reset / kl__sq_finalize (which end the
 * transaction the step may have opened; its error, if any). */
int kl__sq_step(sq_state *s, sqlite3_stmt *st);
int kl__sq_reset(sq_state *s, sqlite3_stmt *st);
int kl__sq_finalize(sq_state *s, sqlite3_stmt *st);
int kl__sq_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n);
int kl__sq_run(sq_state *s, sqlite3_stmt *st, const char *what);
int kl__sq_exec(sq_state *s, const char *sql, const char *what);
int kl__sq_begin(sq_state *s, bool write);
int kl__sq_commit(sq_state *s);
void kl__sq_rollback(sq_state *s);
int kl__sq_check_size(sq_state *s, size_t klen, size_t vlen);
int kl__sq_writable(sq_state *s);
int kl__sq_column_copy(sq_state *s, sqlite3_stmt *st, int col, kl_buf *val, bool text_ok);
int kl__sq_column_value(sq_state *s, sqlite3_stmt *st, int col, kl_buf *val);
/* Check the entry checksum in columns col (sum) and col + 1 (stored_ns) of
 * st's row against key and val (sql_sum.h): 0, or KL_ECORRUPT naming the
 * key. */
int kl__sq_check_sum(sq_state *s, sqlite3_stmt *st, int col, const void *key, size_t klen,
                     const kl_buf *val);

/* catalog.c: the sql_archive layout (inside the caller's transaction
 * where the name says so) */
int kl__sq_ca_find(sq_state *s, const void *key, size_t klen, int64_t *id);
int kl__sq_ca_entry_sql(sq_state *s, int kind, int64_t id, const void *blob, size_t n, kl_buf *val);
int kl__sq_ca_get(sq_state *s, const void *key, size_t klen, kl_buf *val);
int kl__sq_ca_put_in_txn(sq_state *s, const void *key, size_t klen, const void *val, size_t vlen);
int kl__sq_ca_del_in_txn(sq_state *s, const void *key, size_t klen);
int kl__sq_ca_clear_in_txn(sq_state *s);

/* open.c: connection, pragmas and tables */
extern const char *const kl__sq_sync_names[];
int kl__sq_open(void **out, const kl_url *url, const kl_archive_opts *opts);
int kl__sq_close(void *state);

/* iter.c: cursors */
int kl__sq_iter_new(void *state, void **cursor);
int kl__sq_iter_next(void *cursor, kl_buf *key, kl_buf *val);
void kl__sq_iter_free(void *cursor);

/* verify.c: SQLite's integrity_check and a read of every entry */
int kl__sq_verify(void *state, bool repair, kl_buf *report, size_t *problems);

#endif
