/*
 * sqlite: archives in an SQLite database file (or ":memory:").
 *
 *   sqlite:PATH?table=T   sqltable_archive: one table
 *                           T(key BLOB PRIMARY KEY, value BLOB NOT NULL,
 *                             stored_ns INTEGER NOT NULL, size INTEGER NOT NULL)
 *                           WITHOUT ROWID (a lookup is one b-tree descent,
 *                           not an index search and then a table search)
 *   sqlite:PATH           sql_archive: a catalogue
 *                           klepto_catalogue(id INTEGER PRIMARY KEY,
 *                             key BLOB NOT NULL UNIQUE, stored_ns, size)
 *                         and one table e<id>(value BLOB NOT NULL) per key,
 *                         holding one row (rowid 1).  An id may be reused
 *                         after its key was deleted (table and catalogue
 *                         row go in one transaction, so readers never mix
 *                         them up).
 *
 * Options: timeout=MS (busy timeout, default 30000), sync=none|normal|full
 * (PRAGMA synchronous; default normal, with WAL), max_size=BYTES (largest
 * key + value accepted, default and at most SQLite's own limit, 1e9 in
 * Debian's build; larger entries are KL_ETOOBIG).
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
 * puts that touch the catalogue once per new key.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "archive/backends.h"
#include "klepto/sys/archive_backend.h"
#include "archive/util/sql_names.h"

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
enum { EK_GET, EK_PUT, EK_PUT_NEW, EK_CREATE, EK_DROP };

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
    char *table; /* NULL: sql_archive layout */
    kl_buf qtable; /* quoted table name, NUL-terminated */
    bool read_only;
    int sync_level; /* 0 off, 1 normal, 2 full */
    sqlite3_stmt *st[SQ_NSTMT];
    sq_entry_stmt ecache[SQ_ENTRY_CACHE];
    uint64_t eclock;
    int64_t seen[SQ_ENTRY_CACHE]; /* ids of gets lately read without a statement */
    unsigned seen_next;
} sq_state;

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
static int sq_err(sq_state *s, int rc, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return kl_seterr(KL_ECORRUPT, "%s: %s: not an SQLite database (%s)", s->url, what, msg);
    int code = sq_code(rc);
    int err = s->db ? sqlite3_system_errno(s->db) : 0;
    if (((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR) && err)
        code = kl__errno_code(err); /* permission denied, no space, ... */
    return kl_seterr(code, "%s: %s: %s", s->url, what, msg);
}

static int sq_notfound(sq_state *s) { return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url); }

/* ---- statements ------------------------------------------------------- */

static int sq_prepare(sq_state *s, const char *sql, sqlite3_stmt **out, bool persistent)
{
    int rc = sqlite3_prepare_v3(s->db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, out,
                                NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return sq_err(s, rc, "prepare");
    }
    return 0;
}

/* SQLite binds a NULL pointer as SQL NULL: empty keys/values need a real
 * pointer to become empty blobs. */
static int sq_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    return sqlite3_bind_blob64(st, i, n ? p : (const void *)"", n, SQLITE_STATIC);
}

/* Run a statement that returns no rows; resets it. */
static int sq_run(sq_state *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sq_err(s, rc, what);
    sqlite3_reset(st);
    return r;
}

static int sq_exec(sq_state *s, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
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

static int sq_begin(sq_state *s, bool write)
{
    return sq_run(s, s->st[write ? SQ_BEGIN_WRITE : SQ_BEGIN], "begin transaction");
}

static int sq_commit(sq_state *s) { return sq_run(s, s->st[SQ_COMMIT], "commit"); }

/* Roll back after a failure without replacing the failure's message. */
static void sq_rollback(sq_state *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(s->st[SQ_ROLLBACK]);
        sqlite3_reset(s->st[SQ_ROLLBACK]);
    }
}

static int sq_check_size(sq_state *s, size_t klen, size_t vlen)
{
    size_t limit = (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, -1);
    if (klen > limit || vlen > limit - klen)
        return kl_seterr(KL_ETOOBIG, "%s: entry of %zu bytes exceeds SQLite's limit of %zu",
                         s->url, klen + vlen, limit);
    return 0;
}

static int sq_writable(sq_state *s)
{
    return s->read_only ? kl_seterr(KL_EPERM, "%s: opened read-only", s->url) : 0;
}

/* Copy column `col` of the current row into val (replacing its contents). */
static int sq_column_copy(sq_state *s, sqlite3_stmt *st, int col, kl_buf *val, bool text_ok)
{
    int type = sqlite3_column_type(st, col);
    if (type != SQLITE_BLOB && !(text_ok && type == SQLITE_TEXT))
        return kl_seterr(KL_ECORRUPT, "%s: stored value is not a BLOB", s->url);
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    kl_buf_reset(val);
    return n > 0 ? kl_buf_append(val, p, (size_t)n) : 0;
}

static int sq_column_value(sq_state *s, sqlite3_stmt *st, int col, kl_buf *val)
{
    return sq_column_copy(s, st, col, val, false);
}

/* ---- sqltable layout -------------------------------------------------- */

static int tb_get(sq_state *s, const void *key, size_t klen, kl_buf *val)
{
    sqlite3_stmt *st = s->st[SQ_GET];
    sq_bind_blob(st, 1, key, klen);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW)
        r = val ? sq_column_value(s, st, 0, val) : 0;
    else if (rc == SQLITE_DONE)
        r = sq_notfound(s);
    else
        r = sq_err(s, rc, "get");
    sqlite3_reset(st);
    return r;
}

static int tb_put(sq_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    sqlite3_stmt *st = s->st[SQ_PUT];
    sq_bind_blob(st, 1, key, klen);
    sq_bind_blob(st, 2, val, vlen);
    sqlite3_bind_int64(st, 3, kl__now_ns());
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(klen + vlen));
    return sq_run(s, st, "put");
}

/* ---- sql_archive layout ----------------------------------------------- */

/* The catalogue id of key: 1 found (*id set), 0 absent, or an error. */
static int ca_find(sq_state *s, const void *key, size_t klen, int64_t *id)
{
    sqlite3_stmt *st = s->st[SQ_CAT_FIND];
    sq_bind_blob(st, 1, key, klen);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        r = 1;
    } else {
        r = rc == SQLITE_DONE ? 0 : sq_err(s, rc, "catalogue lookup");
    }
    sqlite3_reset(st);
    return r;
}

static const char *const entry_sql[] = {
    [EK_GET] = "SELECT value FROM \"%s\" LIMIT 1",
    [EK_PUT] = "INSERT OR REPLACE INTO \"%s\" (rowid, value) VALUES (1, ?1)",
    /* the same into a table just created: its statement is not kept, as
     * the next key's CREATE TABLE would expire it anyway */
    [EK_PUT_NEW] = "INSERT INTO \"%s\" (rowid, value) VALUES (1, ?1)",
    [EK_CREATE] = "CREATE TABLE \"%s\" (value BLOB NOT NULL)",
    [EK_DROP] = "DROP TABLE IF EXISTS \"%s\"",
};
static const char *const entry_what[] = {"get", "put", "put", "create entry table",
                                         "drop entry table"};

static void ec_evict(sq_entry_stmt *e)
{
    sqlite3_finalize(e->st);
    e->st = NULL;
}

/* The cached statement of (id, kind), or NULL with *slot set to where a
 * new one goes (a free slot, else the least recently used). */
static sqlite3_stmt *ec_find(sq_state *s, int64_t id, int kind, sq_entry_stmt **slot)
{
    sq_entry_stmt *victim = &s->ecache[0];
    for (int i = 0; i < SQ_ENTRY_CACHE; i++) {
        sq_entry_stmt *e = &s->ecache[i];
        if (e->st && e->id == id && e->kind == kind) {
            e->used = ++s->eclock;
            *slot = e;
            return e->st;
        }
        if (victim->st && (!e->st || e->used < victim->used))
            victim = e;
    }
    *slot = victim;
    return NULL;
}

/* Whether the entry table of id was read lately (remembering it if not). */
static bool ec_seen(sq_state *s, int64_t id)
{
    for (int i = 0; i < SQ_ENTRY_CACHE; i++)
        if (s->seen[i] == id)
            return true;
    s->seen[s->seen_next++ % SQ_ENTRY_CACHE] = id;
    return false;
}

/* Read the value of an entry table through sqlite3_blob_open, which builds
 * its small program directly instead of parsing SQL: about a third of the
 * instructions of preparing and stepping a SELECT.  1: read it with the
 * SELECT instead (no row 1, a value that is not a string or blob, ...:
 * that path names the problem).  A TEXT value (only another tool writes
 * one) reads as its bytes, here and there alike. */
static int ca_blob_get(sq_state *s, const char *name, kl_buf *val)
{
    sqlite3_blob *b = NULL;
    if (sqlite3_blob_open(s->db, "main", name, "value", 1, 0, &b) != SQLITE_OK) {
        sqlite3_blob_close(b);
        return 1;
    }
    int n = sqlite3_blob_bytes(b), r = 0;
    kl_buf_reset(val);
    if (n > 0 && !(r = kl_buf_reserve(val, (size_t)n))) {
        int rc = sqlite3_blob_read(b, val->data, n, 0);
        if (rc == SQLITE_OK)
            val->len = (size_t)n;
        else
            r = sq_err(s, rc, "get");
    }
    sqlite3_blob_close(b);
    return r;
}

/* Run statement `kind` on the entry table of id, with an optional blob. */
static int ca_entry_sql(sq_state *s, int kind, int64_t id, const void *blob, size_t n,
                        kl_buf *val)
{
    char name[KL_SQL_ENTRY_NAME_MAX];
    kl__sql_entry_table(name, id);
    bool cached = kind == EK_GET || kind == EK_PUT;
    sq_entry_stmt *slot = NULL;
    sqlite3_stmt *st = NULL;
    if (cached) {
        st = ec_find(s, id, kind, &slot);
        /* a table read once gets no statement; one read again does */
        if (!st && kind == EK_GET && val && !ec_seen(s, id)) {
            int r = ca_blob_get(s, name, val);
            if (r <= 0)
                return r;
        }
    } else if (kind == EK_DROP) {
        for (int i = 0; i < SQ_ENTRY_CACHE; i++)
            if (s->ecache[i].st && s->ecache[i].id == id)
                ec_evict(&s->ecache[i]);
    }
    if (!st) {
        char sql[160];
        snprintf(sql, sizeof sql, entry_sql[kind], name);
        int r = sq_prepare(s, sql, &st, cached);
        if (r)
            return r;
        if (cached) {
            ec_evict(slot);
            *slot = (sq_entry_stmt){st, id, kind, ++s->eclock};
        }
    }
    if (blob)
        sq_bind_blob(st, 1, blob, n);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW && val)
        r = sq_column_copy(s, st, 0, val, true); /* as ca_blob_get reads it */
    else if (rc == SQLITE_DONE && val)
        r = kl_seterr(KL_ECORRUPT, "%s: entry table %s is empty", s->url, name);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_err(s, rc, entry_what[kind]);
    if (!cached) {
        sqlite3_finalize(st);
    } else if (r) {
        ec_evict(slot); /* not kept after a failure */
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st); /* holds no pointer to the caller's value */
    }
    return r;
}

/* The catalogue row and the value come from one snapshot: the catalogue
 * statement stays active (not reset) while the entry table is read, and
 * SQLite ends an implicit read transaction only when its last active
 * statement is reset — so a single get needs no BEGIN / COMMIT. */
static int ca_get(sq_state *s, const void *key, size_t klen, kl_buf *val)
{
    sqlite3_stmt *st = s->st[SQ_CAT_FIND];
    sq_bind_blob(st, 1, key, klen);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW)
        r = ca_entry_sql(s, EK_GET, sqlite3_column_int64(st, 0), NULL, 0, val);
    else
        r = rc == SQLITE_DONE ? sq_notfound(s) : sq_err(s, rc, "catalogue lookup");
    sqlite3_reset(st);
    return r;
}

/* Inside a write transaction.  The catalogue insert comes first and does
 * nothing for a key already there: a new key then costs one catalogue
 * statement, not a lookup and an insert (each re-prepared after the
 * previous key's CREATE TABLE changed the schema). */
static int ca_put_in_txn(sq_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    int64_t id = 0, now = kl__now_ns();
    int put = EK_PUT;
    sqlite3_stmt *st = s->st[SQ_CAT_INSERT];
    sq_bind_blob(st, 1, key, klen);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(klen + vlen));
    int r = sq_run(s, st, "catalogue insert");
    if (r)
        return r;
    if (sqlite3_changes(s->db) == 1) {
        id = sqlite3_last_insert_rowid(s->db);
        r = ca_entry_sql(s, EK_CREATE, id, NULL, 0, NULL);
        put = EK_PUT_NEW;
    } else {
        if ((r = ca_find(s, key, klen, &id)) <= 0)
            return r < 0 ? r
                         : kl_seterr(KL_ECORRUPT, "%s: catalogue refused a key it does not hold",
                                     s->url);
        st = s->st[SQ_CAT_TOUCH];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(klen + vlen));
        r = sq_run(s, st, "catalogue update");
    }
    if (r)
        return r;
    return ca_entry_sql(s, put, id, val, vlen, NULL);
}

static int ca_del_in_txn(sq_state *s, const void *key, size_t klen)
{
    int64_t id = 0;
    int r = ca_find(s, key, klen, &id);
    if (r <= 0)
        return r < 0 ? r : sq_notfound(s);
    sqlite3_stmt *st = s->st[SQ_CAT_DEL];
    sqlite3_bind_int64(st, 1, id);
    if ((r = sq_run(s, st, "catalogue delete")))
        return r;
    return ca_entry_sql(s, EK_DROP, id, NULL, 0, NULL);
}

/* Drops every entry table and empties the catalogue (in a transaction). */
static int ca_clear_in_txn(sq_state *s)
{
    sqlite3_stmt *st;
    int r = sq_prepare(s, "SELECT id FROM " KL_SQL_CATALOGUE, &st, false);
    if (r)
        return r;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            int64_t *p = realloc(ids, cap * sizeof *ids);
            if (!p) {
                r = kl_seterr(KL_ENOMEM, "%s: out of memory listing entries", s->url);
                break;
            }
            ids = p;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    if (!r && rc != SQLITE_DONE)
        r = sq_err(s, rc, "clear");
    sqlite3_finalize(st);
    for (size_t i = 0; !r && i < n; i++)
        r = ca_entry_sql(s, EK_DROP, ids[i], NULL, 0, NULL);
    free(ids);
    return r ? r : sq_exec(s, "DELETE FROM " KL_SQL_CATALOGUE, "clear");
}

/* ---- open / close ----------------------------------------------------- */

static int sq_table_exists(sq_state *s, const char *name, bool *out)
{
    sqlite3_stmt *st;
    int r = sq_prepare(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &st,
                       false);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW;
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_err(s, rc, "open");
    sqlite3_finalize(st);
    return r;
}

static const char *const sync_names[] = {"OFF", "NORMAL", "FULL"};

/* Journal mode, synchronous level and the tables.  Run again while another
 * process holds a lock that the busy handler is not consulted for (the WAL
 * switch and recovery can report SQLITE_BUSY straight away). */
static int sq_setup(sq_state *s, bool create)
{
    char sql[512];
    int r;
    bool memory = strcmp(s->path, ":memory:") == 0 || s->path[0] == '\0';
    /* The first statement reads the header: a file that is not SQLite
     * fails here with SQLITE_NOTADB. */
    if ((r = sq_exec(s, "SELECT count(*) FROM sqlite_master", "open")))
        return r;
    if (!memory && !s->read_only && (r = sq_exec(s, "PRAGMA journal_mode=WAL", "enable WAL")))
        return r;
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", sync_names[s->sync_level]);
    if ((r = sq_exec(s, sql, "set synchronous")))
        return r;
    /* Reads through a memory map skip a copy and a system call per page:
     * the sql_archive layout touches one page per table, so its lookups
     * would otherwise slow down as the table count outgrows the cache. */
    if (!memory && (r = sq_exec(s, "PRAGMA mmap_size=1073741824", "set mmap_size")))
        return r;
    const char *want = s->table ? s->table : KL_SQL_CATALOGUE;
    bool exists;
    if ((r = sq_table_exists(s, want, &exists)))
        return r;
    if (exists)
        return 0;
    if (!create || s->read_only)
        return kl_seterr(KL_ENOTFOUND, "%s: no table %s in the database", s->url, want);
    if (s->table) {
        kl_buf q = KL_BUF_INIT;
        r = kl_buf_printf(&q,
                          "CREATE TABLE IF NOT EXISTS %s (key BLOB PRIMARY KEY, value BLOB NOT "
                          "NULL, stored_ns INTEGER NOT NULL, size INTEGER NOT NULL) WITHOUT ROWID",
                          (const char *)s->qtable.data);
        if (!r)
            r = kl_buf_cstr(&q) ? sq_exec(s, (const char *)q.data, "create table") : KL_ENOMEM;
        kl_buf_free(&q);
        return r;
    }
    return sq_exec(s,
                   "CREATE TABLE IF NOT EXISTS " KL_SQL_CATALOGUE
                   " (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE,"
                   " stored_ns INTEGER NOT NULL, size INTEGER NOT NULL)",
                   "create catalogue");
}

static int sq_prepare_all(sq_state *s)
{
    const char *t = (const char *)s->qtable.data;
    char *sql[SQ_NSTMT] = {0};
    int r = 0;
    if (s->table) {
        if (asprintf(&sql[SQ_GET], "SELECT value FROM %s WHERE key = ?1", t) < 0 ||
            asprintf(&sql[SQ_PUT],
                     "INSERT INTO %s (key, value, stored_ns, size) VALUES (?1, ?2, ?3, ?4) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                     "stored_ns = excluded.stored_ns, size = excluded.size",
                     t) < 0 ||
            asprintf(&sql[SQ_DEL], "DELETE FROM %s WHERE key = ?1", t) < 0 ||
            asprintf(&sql[SQ_HAS], "SELECT 1 FROM %s WHERE key = ?1", t) < 0 ||
            asprintf(&sql[SQ_COUNT], "SELECT count(*) FROM %s", t) < 0 ||
            asprintf(&sql[SQ_STAT], "SELECT stored_ns, size FROM %s WHERE key = ?1", t) < 0)
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    } else {
        static const char *const cat[] = {
            [SQ_CAT_FIND] = "SELECT id FROM " KL_SQL_CATALOGUE " WHERE key = ?1",
            [SQ_CAT_INSERT] = "INSERT INTO " KL_SQL_CATALOGUE
                              " (key, stored_ns, size) VALUES (?1, ?2, ?3)"
                              " ON CONFLICT (key) DO NOTHING",
            [SQ_CAT_TOUCH] = "UPDATE " KL_SQL_CATALOGUE " SET stored_ns = ?2, size = ?3 "
                             "WHERE id = ?1",
            [SQ_CAT_DEL] = "DELETE FROM " KL_SQL_CATALOGUE " WHERE id = ?1",
            [SQ_HAS] = "SELECT 1 FROM " KL_SQL_CATALOGUE " WHERE key = ?1",
            [SQ_COUNT] = "SELECT count(*) FROM " KL_SQL_CATALOGUE,
            [SQ_STAT] = "SELECT stored_ns, size FROM " KL_SQL_CATALOGUE " WHERE key = ?1",
        };
        for (int i = 0; !r && i < SQ_BEGIN; i++) {
            if (i < (int)(sizeof cat / sizeof *cat) && cat[i] && !(sql[i] = strdup(cat[i])))
                r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
        }
    }
    static const char *const txn[] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};
    for (int i = 0; !r && i < 4; i++) {
        if (!(sql[SQ_BEGIN + i] = strdup(txn[i])))
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    for (int i = 0; !r && i < SQ_NSTMT; i++) {
        if (sql[i])
            r = sq_prepare(s, sql[i], &s->st[i], true);
    }
    for (int i = 0; i < SQ_NSTMT; i++)
        free(sql[i]);
    return r;
}

static int sq_close(void *state)
{
    sq_state *s = state;
    if (!s)
        return 0;
    for (int i = 0; i < SQ_NSTMT; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i < SQ_ENTRY_CACHE; i++)
        sqlite3_finalize(s->ecache[i].st);
    int r = 0;
    /* _v2: an iterator still open keeps the connection until it is freed */
    if (s->db && sqlite3_close_v2(s->db) != SQLITE_OK)
        r = sq_err(s, SQLITE_BUSY, "close");
    free(s->url);
    free(s->path);
    free(s->table);
    kl_buf_free(&s->qtable);
    free(s);
    return r;
}

static int sq_parse_opts(sq_state *s, const kl_url *url, int *timeout_ms, uint64_t *max_size)
{
    const char *t = kl_url_param_get(url, "table");
    if (t) {
        int r = kl__sql_check_table(url->full, t, 0);
        if (r)
            return r;
        if (!(s->table = strdup(t)))
            return kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
    }
    uint64_t to = (uint64_t)*timeout_ms;
    int r = kl_url_uint(url, "timeout", 0, INT_MAX, &to);
    if (r)
        return r;
    *timeout_ms = (int)to;
    if ((r = kl_url_uint(url, "max_size", 1024, INT_MAX, max_size)))
        return r;
    /* none / normal / full map onto SQLite's synchronous OFF / NORMAL / FULL */
    return kl_url_sync_mode(url, &s->sync_level);
}

static int sq_open(void **out, const kl_url *url, const kl_archive_opts *opts)
{
    kl_archive_opts def = KL_ARCHIVE_OPTS_INIT;
    if (!opts)
        opts = &def;
    *out = NULL;
    sq_state *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
    s->read_only = opts->read_only;
    int timeout_ms = 30000, r;
    uint64_t max_size = 0;
    if (!(s->url = strdup(url->full)) || !(s->path = strdup(url->rest))) {
        r = kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
        goto fail;
    }
    if ((r = sq_parse_opts(s, url, &timeout_ms, &max_size)))
        goto fail;
    if (s->table && ((r = kl__sql_quote_ident(&s->qtable, s->table)) || !kl_buf_cstr(&s->qtable))) {
        r = r ? r : KL_ENOMEM;
        goto fail;
    }
    if (!kl_buf_cstr(&s->qtable)) {
        r = kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
        goto fail;
    }
    bool memory = strcmp(s->path, ":memory:") == 0 || s->path[0] == '\0';
    struct stat sb;
    if (!memory && stat(s->path, &sb) != 0) {
        if (errno != ENOENT) {
            r = kl_seterrno(errno, "open", url->full);
            goto fail;
        }
        if (!opts->create || opts->read_only) {
            r = kl_seterr(KL_ENOTFOUND, "%s: no such database file", url->full);
            goto fail;
        }
    } else if (!memory && S_ISDIR(sb.st_mode)) {
        r = kl_seterr(KL_EINVAL, "%s: is a folder, not an SQLite database", url->full);
        goto fail;
    }
    /* NOMUTEX: the core already serialises every call on this handle
     * (iterators included), so SQLite's own per-call mutex is pure cost. */
    int flags = SQLITE_OPEN_NOMUTEX |
                (opts->read_only ? SQLITE_OPEN_READONLY
                                 : SQLITE_OPEN_READWRITE | (opts->create ? SQLITE_OPEN_CREATE : 0));
    int rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        r = sq_err(s, rc, "open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, timeout_ms);
    if (max_size) /* only ever lowers SQLite's limit */
        sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, (int)max_size);
    /* WAL switch / recovery may answer SQLITE_BUSY without waiting. */
    struct timespec nap = {0, 2000000};
    for (long waited = 0;; waited += 2) {
        r = sq_setup(s, opts->create);
        if (r != KL_EBUSY || waited >= timeout_ms)
            break;
        nanosleep(&nap, NULL);
    }
    if (r)
        goto fail;
    if ((r = sq_prepare_all(s)))
        goto fail;
    *out = s;
    return 0;
fail:
    sq_close(s);
    return r;
}

/* ---- slots ------------------------------------------------------------ */

static int sq_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    sq_state *s = state;
    return s->table ? tb_get(s, key, klen, val) : ca_get(s, key, klen, val);
}

static int sq_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    sq_state *s = state;
    int r = sq_writable(s);
    if (!r)
        r = sq_check_size(s, klen, vlen);
    if (r)
        return r;
    if (s->table)
        return tb_put(s, key, klen, val, vlen);
    if ((r = sq_begin(s, true)))
        return r;
    r = ca_put_in_txn(s, key, klen, val, vlen);
    if (!r)
        r = sq_commit(s);
    sq_rollback(s);
    return r;
}

static int sq_del(void *state, const void *key, size_t klen)
{
    sq_state *s = state;
    int r = sq_writable(s);
    if (r)
        return r;
    if (s->table) {
        sqlite3_stmt *st = s->st[SQ_DEL];
        sq_bind_blob(st, 1, key, klen);
        if ((r = sq_run(s, st, "delete")))
            return r;
        return sqlite3_changes(s->db) ? 0 : sq_notfound(s);
    }
    if ((r = sq_begin(s, true)))
        return r;
    r = ca_del_in_txn(s, key, klen);
    if (!r)
        r = sq_commit(s);
    sq_rollback(s);
    return r;
}

static int sq_contains(void *state, const void *key, size_t klen)
{
    sq_state *s = state;
    sqlite3_stmt *st = s->st[SQ_HAS];
    sq_bind_blob(st, 1, key, klen);
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sq_err(s, rc, "contains");
    sqlite3_reset(st);
    return r;
}

static int sq_count(void *state, size_t *out)
{
    sq_state *s = state;
    sqlite3_stmt *st = s->st[SQ_COUNT];
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW)
        *out = (size_t)sqlite3_column_int64(st, 0);
    else
        r = sq_err(s, rc, "count");
    sqlite3_reset(st);
    return r;
}

static int sq_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    sq_state *s = state;
    sqlite3_stmt *st = s->st[SQ_STAT];
    sq_bind_blob(st, 1, key, klen);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW) {
        out->stored_ns = sqlite3_column_int64(st, 0);
        out->size = (uint64_t)sqlite3_column_int64(st, 1);
    } else {
        r = rc == SQLITE_DONE ? sq_notfound(s) : sq_err(s, rc, "stat");
    }
    sqlite3_reset(st);
    return r;
}

/* Run one statement on the archive's own table (sqltable layout);
 * `fmt` has one %s for the quoted table name. */
static int sq_exec_on_table(sq_state *s, const char *fmt, const char *what)
{
    kl_buf q = KL_BUF_INIT;
    int r = kl_buf_printf(&q, fmt, (const char *)s->qtable.data);
    if (!r)
        r = kl_buf_cstr(&q) ? sq_exec(s, (const char *)q.data, what) : KL_ENOMEM;
    kl_buf_free(&q);
    return r;
}

static int sq_clear(void *state)
{
    sq_state *s = state;
    int r = sq_writable(s);
    if (r)
        return r;
    if ((r = sq_begin(s, true)))
        return r;
    if (s->table) {
        r = sq_exec_on_table(s, "DELETE FROM %s", "clear");
    } else {
        r = ca_clear_in_txn(s);
    }
    if (!r)
        r = sq_commit(s);
    sq_rollback(s);
    return r;
}

static int sq_sync(void *state)
{
    sq_state *s = state;
    if (s->read_only || strcmp(s->path, ":memory:") == 0 || s->path[0] == '\0')
        return 0;
    /* PASSIVE: writes the WAL's frames into the database without waiting
     * for readers; the WAL itself is fsynced first. */
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY ? 0 : sq_err(s, rc, "sync");
}

static int sq_drop(void *state)
{
    sq_state *s = state;
    int r = sq_writable(s);
    if (r)
        return r;
    if ((r = sq_begin(s, true)))
        return r;
    if (s->table) {
        r = sq_exec_on_table(s, "DROP TABLE IF EXISTS %s", "drop");
    } else {
        r = ca_clear_in_txn(s);
        if (!r)
            r = sq_exec(s, "DROP TABLE IF EXISTS " KL_SQL_CATALOGUE, "drop");
    }
    if (!r)
        r = sq_commit(s);
    sq_rollback(s);
    return r;
}

/* Batch order for the sqltable layout: by key as SQLite compares blobs
 * (memcmp, then length), ties by position so the last of equal keys wins.
 * Inserting in key order appends to the b-tree instead of splitting pages
 * all over it. */
typedef struct sq_ord {
    const void *key;
    size_t klen, i;
} sq_ord;

static int sq_ord_cmp(const void *a, const void *b)
{
    const sq_ord *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    if (!c)
        c = (x->klen > y->klen) - (x->klen < y->klen);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int sq_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    sq_state *s = state;
    int r = sq_writable(s);
    for (size_t i = 0; !r && i < n; i++)
        r = sq_check_size(s, klens[i], vlens[i]);
    if (r)
        return r;
    sq_ord *ord = NULL;
    if (s->table && n > 1) {
        if (!(ord = malloc(n * sizeof *ord)))
            return kl_seterr(KL_ENOMEM, "%s: out of memory for a batch of %zu", s->url, n);
        for (size_t i = 0; i < n; i++)
            ord[i] = (sq_ord){keys[i], klens[i], i};
        qsort(ord, n, sizeof *ord, sq_ord_cmp);
    }
    if ((r = sq_begin(s, true))) {
        free(ord);
        return r;
    }
    for (size_t j = 0; !r && j < n; j++) {
        size_t i = ord ? ord[j].i : j;
        r = s->table ? tb_put(s, keys[i], klens[i], vals[i], vlens[i])
                     : ca_put_in_txn(s, keys[i], klens[i], vals[i], vlens[i]);
    }
    free(ord);
    if (!r)
        r = sq_commit(s);
    sq_rollback(s); /* nothing of a failed batch stays */
    return r;
}

/* All the deletes in one transaction (a failed batch deletes nothing). */
static int sq_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       size_t *deleted)
{
    sq_state *s = state;
    *deleted = 0;
    int r = sq_writable(s);
    if (r || n == 0)
        return r;
    if ((r = sq_begin(s, true)))
        return r;
    size_t done = 0;
    for (size_t i = 0; !r && i < n; i++) {
        if (s->table) {
            sqlite3_stmt *st = s->st[SQ_DEL];
            sq_bind_blob(st, 1, keys[i], klens[i]);
            if (!(r = sq_run(s, st, "delete")))
                done += sqlite3_changes(s->db) > 0;
        } else if (!(r = ca_del_in_txn(s, keys[i], klens[i]))) {
            done++;
        } else if (r == KL_ENOTFOUND) {
            r = 0;
        }
    }
    if (!r)
        r = sq_commit(s);
    sq_rollback(s);
    if (!r)
        *deleted = done;
    return r;
}

static int sq_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       kl_buf *vals, bool *found)
{
    sq_state *s = state;
    int r = sq_begin(s, false);
    if (r)
        return r;
    for (size_t i = 0; !r && i < n; i++) {
        r = s->table ? tb_get(s, keys[i], klens[i], &vals[i])
                     : ca_get(s, keys[i], klens[i], &vals[i]);
        found[i] = r == 0;
        if (r == KL_ENOTFOUND)
            r = 0;
    }
    if (!r)
        r = sq_commit(s);
    sq_rollback(s);
    if (!r)
        kl_errclear(); /* the misses are not errors */
    return r;
}

static int sq_describe(void *state, kl_buf *out)
{
    sq_state *s = state;
    int r = kl_buf_printf(out, "backend=sqlite\nsqlite_version=%s\nlayout=%s\n",
                          sqlite3_libversion(), s->table ? "sqltable" : "sql_archive");
    if (!r && s->table)
        r = kl_buf_printf(out, "table=%s\n", s->table);
    if (!r)
        r = kl_buf_printf(out, "synchronous=%s\n", sync_names[s->sync_level]);
    sqlite3_stmt *st;
    static const char *const pragmas[] = {"journal_mode", "page_count", "page_size",
                                          "freelist_count"};
    for (size_t i = 0; !r && i < sizeof pragmas / sizeof *pragmas; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA %s", pragmas[i]);
        if ((r = sq_prepare(s, sql, &st, false)))
            break;
        if (sqlite3_step(st) == SQLITE_ROW)
            r = kl_buf_printf(out, "%s=%s\n", pragmas[i], (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    return r;
}

/* ---- iteration -------------------------------------------------------- */

/* Cursors step upwards from the last entry seen — by key in the sqltable
 * layout, by catalogue id in the sql_archive layout — one indexed seek per
 * entry, and hold no statement open between calls, so writes, clear and
 * drop are never blocked by an iterator. */
typedef struct sq_cursor {
    sq_state *s;
    /* sqltable: st[2 * values + started]; sql_archive: st[0] */
    sqlite3_stmt *st[4];
    int64_t last;    /* sql_archive: last id */
    kl_buf lastkey; /* sqltable: last key */
    bool started, done;
} sq_cursor;

static void sq_cursor_free(sq_cursor *c)
{
    for (int i = 0; i < 4; i++)
        sqlite3_finalize(c->st[i]);
    kl_buf_free(&c->lastkey);
    free(c);
}

static int sq_iter_new(void *state, void **cursor)
{
    sq_state *s = state;
    sq_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    c->s = s;
    c->last = INT64_MIN;
    int r = 0;
    if (s->table) {
        for (int i = 0; !r && i < 4; i++) {
            kl_buf q = KL_BUF_INIT;
            r = kl_buf_printf(&q, "SELECT key%s FROM %s%s ORDER BY key LIMIT 1",
                              i >= 2 ? ", value" : "", (const char *)s->qtable.data,
                              i % 2 ? " WHERE key > ?1" : "");
            r = r ? r : kl_buf_cstr(&q) ? sq_prepare(s, (const char *)q.data, &c->st[i], true)
                                        : KL_ENOMEM;
            kl_buf_free(&q);
        }
    } else {
        r = sq_prepare(s,
                       "SELECT id, key FROM " KL_SQL_CATALOGUE
                       " WHERE id > ?1 ORDER BY id LIMIT 1",
                       &c->st[0], true);
    }
    if (r) {
        sq_cursor_free(c);
        return r;
    }
    *cursor = c;
    return 0;
}

/* sqltable: the entry after the last one seen. */
static int tb_iter_next(sq_cursor *c, kl_buf *key, kl_buf *val)
{
    sq_state *s = c->s;
    sqlite3_stmt *st = c->st[(val ? 2 : 0) + (c->started ? 1 : 0)];
    if (c->started)
        sq_bind_blob(st, 1, c->lastkey.data, c->lastkey.len);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_DONE) {
        c->done = true;
    } else if (rc != SQLITE_ROW) {
        r = sq_err(s, rc, "iterate");
    } else {
        c->started = true;
        r = sq_column_value(s, st, 0, &c->lastkey);
        if (!r) {
            kl_buf_reset(key);
            r = kl_buf_append(key, c->lastkey.data, c->lastkey.len);
        }
        if (!r && val)
            r = sq_column_value(s, st, 1, val);
    }
    sqlite3_reset(st);
    return r ? r : c->done ? 0 : 1;
}

static int sq_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    sq_cursor *c = cursor;
    sq_state *s = c->s;
    if (s->table)
        return c->done ? 0 : tb_iter_next(c, key, val);
    for (;;) {
        if (c->done)
            return 0;
        sqlite3_stmt *st = c->st[0];
        sqlite3_bind_int64(st, 1, c->last);
        int rc = sqlite3_step(st), r = 0;
        if (rc == SQLITE_DONE) {
            c->done = true;
            sqlite3_reset(st);
            return 0;
        }
        if (rc != SQLITE_ROW) {
            r = sq_err(s, rc, "iterate");
            sqlite3_reset(st);
            return r;
        }
        c->last = sqlite3_column_int64(st, 0);
        r = sq_column_value(s, st, 1, key);
        sqlite3_reset(st);
        if (r || !val)
            return r ? r : 1;
        /* the value lives in the entry's own table; an entry deleted since
         * the catalogue step is skipped */
        r = sq_begin(s, false);
        if (!r) {
            int64_t id = 0;
            r = ca_find(s, key->data ? key->data : (const uint8_t *)"", key->len, &id);
            if (r == 1)
                r = ca_entry_sql(s, EK_GET, id, NULL, 0, val);
            else if (r == 0)
                r = KL_ENOTFOUND;
            if (r == 0 || r == KL_ENOTFOUND) {
                int cr = sq_commit(s);
                if (cr)
                    r = cr;
            }
            sq_rollback(s);
        }
        if (r != KL_ENOTFOUND)
            return r ? r : 1;
    }
}

static void sq_iter_free(void *cursor)
{
    if (cursor)
        sq_cursor_free(cursor);
}

const kl_archive_backend kl__backend_sqlite = {
    .version = KL_BACKEND_VERSION,
    .scheme = "sqlite",
    .flags = 0,
    .open = sq_open,
    .close = sq_close,
    .get = sq_get,
    .put = sq_put,
    .del = sq_del,
    .contains = sq_contains,
    .count = sq_count,
    .stat = sq_stat,
    .clear = sq_clear,
    .sync = sq_sync,
    .drop = sq_drop,
    .put_many = sq_put_many,
    .del_many = sq_del_many,
    .get_many = sq_get_many,
    .describe = sq_describe,
    .iter_new = sq_iter_new,
    .iter_next = sq_iter_next,
    .iter_free = sq_iter_free,
};
