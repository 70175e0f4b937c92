/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: error codes and messages, and the helpers every statement runs
 * through (prepare, bind, step, transactions).  See sqlite.h. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"


/* ---- errors ----------------------------------------------------------- */

static int sq_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return KL_EBUSY;
    case SQLITE_NOMEM:
        return KL_ENOMEM;
    case SQLITE_FULL:
        return KL_ENOSPC;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        return KL_EPERM;
    case SQLITE_IOERR:
        return KL_EIO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return KL_ECORRUPT;
    case SQLITE_TOOBIG:
        return KL_ETOOBIG;
    case SQLITE_CANTOPEN:
        return KL_EIO;
    default:
        return KL_EBACKEND;
    }
}

/* Report the connection's current error (read before anything else runs
 * on the connection, e.g. a ROLLBACK, overwrites it). */
int kl__sq_err(sq_state *s, int rc, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return kl_seterr(KL_ECORRUPT, "%s: %s: not an SQLite database (%s)", s->url, what, msg);
    int code = sq_code(rc);
    int err = s->db ? sqlite3_system_errno(s->db) : 0;
    /* permission denied, no space, ...; but SQLite's system errno is errno
     * when it reported (its VFS's xGetLastError), after its retries and
     * clean-up, not always the failed call's: never "not found" from it,
     * which callers read as a missing key (a missing file is found by the
     * open's own stat) */
    if (((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR) && err &&
        kl__errno_code(err) != KL_ENOTFOUND)
        code = kl__errno_code(err);
    return kl_seterr(code, "%s: %s: %s", s->url, what, msg);
}

int kl__sq_notfound(sq_state *s) { return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url); }

/* ---- statements ------------------------------------------------------- */

/* Schema changes.  Another connection that changes the schema (the
 * sql_archive layout creates a table per new key) expires this
 * connection's statements.  SQLite then reloads the schema and prepares
 * the statement again -- but outside a transaction the reload reads one
 * snapshot and the statement then starts another: when the other process
 * changes the schema faster than a schema of thousands of tables loads,
 * the two never agree and SQLite gives up with SQLITE_SCHEMA ("database
 * schema has changed") after its own retries.  So a statement that meets
 * SQLITE_SCHEMA outside a transaction runs again inside one (BEGIN, or
 * BEGIN IMMEDIATE for a statement that writes): the reload then reads the
 * very snapshot the statement reads, and the next attempt succeeds.  That
 * transaction ends when the statement is reset or finalized through
 * kl__sq_reset / kl__sq_finalize. */
enum { SQ_SCHEMA_RETRIES = 5 };

static const char *sq_schema_begin_sql(sq_state *s, bool write)
{
    return write && !s->read_only ? "BEGIN IMMEDIATE" : "BEGIN";
}

int kl__sq_prepare(sq_state *s, const char *sql, sqlite3_stmt **out, bool persistent)
{
    int rc;
    for (int i = 0;; i++) {
        rc = sqlite3_prepare_v3(s->db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, out,
                                NULL);
        /* a prepare reloads a stale schema itself; it reports
         * SQLITE_SCHEMA only when that raced with a change: again */
        if ((rc & 0xff) != SQLITE_SCHEMA || i == SQ_SCHEMA_RETRIES)
            break;
    }
    if (rc != SQLITE_OK) {
        *out = NULL;
        return kl__sq_err(s, rc, "prepare");
    }
    return 0;
}

int kl__sq_step(sq_state *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    for (int i = 0; (rc & 0xff) == SQLITE_SCHEMA && i < SQ_SCHEMA_RETRIES; i++) {
        sqlite3_reset(st); /* keeps the bindings; the next step re-prepares */
        if (sqlite3_get_autocommit(s->db) && !s->schema_txn) {
            int b = sqlite3_exec(s->db, sq_schema_begin_sql(s, !sqlite3_stmt_readonly(st)), NULL,
                                 NULL, NULL);
            if (b != SQLITE_OK)
                return b;
            s->schema_txn = st;
        }
        rc = sqlite3_step(st);
    }
    return rc;
}

/* End the transaction kl__sq_step opened for st, if it opened one. */
static int sq_schema_end(sq_state *s, bool mine)
{
    if (!mine)
        return 0;
    s->schema_txn = NULL;
    if (sqlite3_get_autocommit(s->db))
        return 0;
    int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    int r = kl__sq_err(s, rc, "commit");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int kl__sq_reset(sq_state *s, sqlite3_stmt *st)
{
    sqlite3_reset(st);
    return sq_schema_end(s, st && s->schema_txn == st);
}

int kl__sq_finalize(sq_state *s, sqlite3_stmt *st)
{
    bool mine = st && s->schema_txn == st;
    sqlite3_finalize(st);
    return sq_schema_end(s, mine);
}

/* SQLite binds a NULL pointer as SQL NULL: empty keys/values need a real
 * pointer to become empty blobs. */
int kl__sq_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    return sqlite3_bind_blob64(st, i, n ? p : (const void *)"", n, SQLITE_STATIC);
}

/* Run a statement that returns no rows; resets it. */
int kl__sq_run(sq_state *s, sqlite3_stmt *st, const char *what)
{
    int rc = kl__sq_step(s, st);
    int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : kl__sq_err(s, rc, what);
    int e = kl__sq_reset(s, st);
    return r ? r : e;
}

int kl__sq_exec(sq_state *s, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if ((rc & 0xff) == SQLITE_SCHEMA && sqlite3_get_autocommit(s->db) && !s->schema_txn) {
        /* again inside a transaction (see kl__sq_step); the statement may
         * write, so the transaction takes the write lock where it can */
        sqlite3_free(msg);
        msg = NULL;
        rc = sqlite3_exec(s->db, sq_schema_begin_sql(s, true), NULL, NULL, &msg);
        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
            int end = sqlite3_exec(s->db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL,
                                   NULL);
            if (rc == SQLITE_OK)
                rc = end;
        }
    }
    int r = 0;
    if (rc != SQLITE_OK) {
        r = (rc & 0xff) == SQLITE_NOTADB
                ? kl_seterr(KL_ECORRUPT, "%s: not an SQLite database (%s)", s->url,
                            msg ? msg : sqlite3_errstr(rc))
                : kl_seterr(sq_code(rc), "%s: %s: %s", s->url, what,
                            msg ? msg : sqlite3_errstr(rc));
    }
    sqlite3_free(msg);
    return r;
}

int kl__sq_begin(sq_state *s, bool write)
{
    return kl__sq_run(s, s->st[write ? SQ_BEGIN_WRITE : SQ_BEGIN], "begin transaction");
}

int kl__sq_commit(sq_state *s) { return kl__sq_run(s, s->st[SQ_COMMIT], "commit"); }

/* Roll back after a failure without replacing the failure's message. */
void kl__sq_rollback(sq_state *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(s->st[SQ_ROLLBACK]);
        sqlite3_reset(s->st[SQ_ROLLBACK]);
    }
    s->schema_txn = NULL; /* ended too, if one was open */
}

int kl__sq_check_size(sq_state *s, size_t klen, size_t vlen)
{
    size_t limit = (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, -1);
    if (klen > limit || vlen > limit - klen)
        return kl_seterr(KL_ETOOBIG, "%s: entry of %zu bytes exceeds SQLite's limit of %zu",
                         s->url, klen + vlen, limit);
    return 0;
}

int kl__sq_writable(sq_state *s)
{
    return s->read_only ? kl_seterr(KL_EPERM, "%s: opened read-only", s->url) : 0;
}

/* Copy column `col` of the current row into val (replacing its contents). */
int kl__sq_column_copy(sq_state *s, sqlite3_stmt *st, int col, kl_buf *val, bool text_ok)
{
    int type = sqlite3_column_type(st, col);
    if (type != SQLITE_BLOB && !(text_ok && type == SQLITE_TEXT))
        return kl_seterr(KL_ECORRUPT, "%s: stored value is not a BLOB", s->url);
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    kl_buf_reset(val);
    return n > 0 ? kl_buf_append(val, p, (size_t)n) : 0;
}

int kl__sq_column_value(sq_state *s, sqlite3_stmt *st, int col, kl_buf *val)
{
    return kl__sq_column_copy(s, st, col, val, false);
}

int kl__sq_check_sum(sq_state *s, sqlite3_stmt *st, int col, const void *key, size_t klen,
                     const kl_buf *val)
{
    bool null = sqlite3_column_type(st, col) == SQLITE_NULL;
    const void *sum = null ? NULL : sqlite3_column_blob(st, col);
    int n = null ? 0 : sqlite3_column_bytes(st, col);
    return kl__sql_sum_check(s->url, key, klen, val->data, val->len,
                             sqlite3_column_int64(st, col + 1), sum, n > 0 ? (size_t)n : 0, null);
}
