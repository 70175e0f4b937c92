/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: opening a database (options, pragmas, tables, prepared
 * statements) and closing it.  See sqlite.h. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"
#include "archive/url.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int sq_table_exists(sq_state *s, const char *name, bool *out)
{
    sqlite3_stmt *st;
    int r = kl__sq_prepare(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &st,
                       false);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = kl__sq_step(s, st);
    *out = rc == SQLITE_ROW;
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : kl__sq_err(s, rc, "open");
    kl__sq_finalize(s, st);
    return r;
}

/* An entry table's name (e<number>) as ?table=: such an archive would
 * share its table with a table-per-key archive in the same file.  Tables
 * of that name made before this check are still opened. */
static int sq_refuse_entry_name(const char *url, const char *table)
{
    return kl_seterr(KL_EINVAL,
                     "%s: table=%s: the names " KL_SQL_ENTRY_PREFIX
                     "<number> are the table-per-key layout's; choose another",
                     url, table);
}

/* Whether the table ?table= names has the sqltable layout's columns (an
 * entry table of the other layout has only "value"). */
static bool sq_has_key_column(sq_state *s)
{
    kl_buf q = KL_BUF_INIT;
    sqlite3_stmt *st = NULL;
    bool ok = kl_buf_printf(&q, "SELECT key, value, stored_ns, size FROM %s LIMIT 0",
                            (const char *)s->qtable.data) == 0 &&
              kl_buf_cstr(&q) &&
              sqlite3_prepare_v2(s->db, (const char *)q.data, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    kl_buf_free(&q);
    return ok;
}

/* Whether the archive's table (?table=, else the catalogue) has column
 * col. */
static bool sq_has_column(sq_state *s, const char *col)
{
    kl_buf q = KL_BUF_INIT;
    sqlite3_stmt *st = NULL;
    bool ok = kl_buf_printf(&q, "SELECT %s FROM %s LIMIT 0", col,
                            s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE) == 0 &&
              kl_buf_cstr(&q) &&
              sqlite3_prepare_v2(s->db, (const char *)q.data, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    kl_buf_free(&q);
    return ok;
}

/* The trigger that keeps an older release's write from leaving a stale
 * sum (docs/formats.md): its name, "klepto_sum:" and the table's, and the
 * statement, into q.  The older release sets value, stored_ns and size but
 * not sum: a row whose value or time changed while its sum stayed gets a
 * NULL sum.  Our writes change the sum whenever they change the value or
 * the time, as it covers both. */
static int sq_trigger_sql(sq_state *s, kl_buf *name, kl_buf *q)
{
    const char *t = s->table ? s->table : KL_SQL_CATALOGUE;
    kl_buf raw = KL_BUF_INIT;
    int r = kl_buf_printf(&raw, "klepto_sum:%s", t);
    if (!r && !kl_buf_cstr(&raw))
        r = KL_ENOMEM;
    if (!r)
        r = kl__sql_quote_ident(name, (const char *)raw.data);
    kl_buf_free(&raw);
    if (!r && !kl_buf_cstr(name))
        r = KL_ENOMEM;
    if (r)
        return r == KL_ENOMEM ? kl_seterr(r, "%s: out of memory", s->url) : r;
    const char *qn = (const char *)name->data;
    if (s->table)
        r = kl_buf_printf(q,
                          "CREATE TRIGGER IF NOT EXISTS %s AFTER UPDATE OF value, stored_ns ON %s "
                          "FOR EACH ROW WHEN NEW.sum IS OLD.sum AND NEW.sum IS NOT NULL AND "
                          "(NEW.value IS NOT OLD.value OR NEW.stored_ns IS NOT OLD.stored_ns) "
                          "BEGIN UPDATE %s SET sum = NULL WHERE key = NEW.key; END",
                          qn, (const char *)s->qtable.data, (const char *)s->qtable.data);
    else
        r = kl_buf_printf(
            q,
            "CREATE TRIGGER IF NOT EXISTS %s AFTER UPDATE OF stored_ns, size ON " KL_SQL_CATALOGUE
            " FOR EACH ROW WHEN NEW.sum IS OLD.sum AND NEW.sum IS "
            "NOT NULL AND (NEW.stored_ns IS NOT OLD.stored_ns OR NEW.size IS NOT "
            "OLD.size) BEGIN UPDATE " KL_SQL_CATALOGUE " SET sum = NULL WHERE id = NEW.id; END",
            qn);
    if (!r && !kl_buf_cstr(q))
        r = KL_ENOMEM;
    return r == KL_ENOMEM ? kl_seterr(r, "%s: out of memory", s->url) : r;
}

static bool sq_trigger_exists(sq_state *s)
{
    kl_buf raw = KL_BUF_INIT;
    bool found = false;
    sqlite3_stmt *st = NULL;
    if (kl_buf_printf(&raw, "klepto_sum:%s", s->table ? s->table : KL_SQL_CATALOGUE) == 0 &&
        kl_buf_cstr(&raw) &&
        sqlite3_prepare_v2(s->db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?1", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, (const char *)raw.data, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    kl_buf_free(&raw);
    return found;
}

/* A read-write open: the table (or catalogue) made when missing, with the
 * sum column; a table an older release made gets the column (its rows keep
 * a NULL sum until written again) and the trigger.  One write transaction,
 * checked again inside it: another process may be doing the same. */
static int sq_ensure_sum(sq_state *s, bool exists)
{
    kl_buf name = KL_BUF_INIT, trig = KL_BUF_INIT, q = KL_BUF_INIT;
    int r = sq_trigger_sql(s, &name, &trig);
    if (r || (exists && sq_has_column(s, "sum") && sq_trigger_exists(s)))
        goto out;
    if ((r = kl__sq_exec(s, "BEGIN IMMEDIATE", "begin the table setup")))
        goto out;
    if (s->table)
        r = kl_buf_printf(&q,
                          "CREATE TABLE IF NOT EXISTS %s (key BLOB PRIMARY KEY, value BLOB NOT "
                          "NULL, stored_ns INTEGER NOT NULL, size INTEGER NOT NULL, sum BLOB) "
                          "WITHOUT ROWID",
                          (const char *)s->qtable.data);
    else
        r = kl_buf_append_str(&q, kl__sql_dialect_sqlite.create_catalogue);
    if (!r)
        r = kl_buf_cstr(&q) ? kl__sq_exec(s, (const char *)q.data, "create table") : KL_ENOMEM;
    if (!r && !sq_has_column(s, "sum")) {
        kl_buf_reset(&q);
        r = kl_buf_printf(&q, "ALTER TABLE %s ADD COLUMN sum BLOB",
                          s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE);
        if (!r)
            r = kl_buf_cstr(&q) ? kl__sq_exec(s, (const char *)q.data, "add the sum column")
                                : KL_ENOMEM;
    }
    if (!r)
        r = kl__sq_exec(s, (const char *)trig.data, "create the sum trigger");
    if (!r)
        r = kl__sq_exec(s, "COMMIT", "commit the table setup");
    if (r)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
    kl_buf_free(&name);
    kl_buf_free(&trig);
    kl_buf_free(&q);
    return r;
}

const char *const kl__sq_sync_names[] = {"OFF", "NORMAL", "FULL"};

/* Journal mode, synchronous level and the tables.  Run again while another
 * process holds a lock that the busy handler is not consulted for (the WAL
 * switch and recovery can report SQLITE_BUSY straight away). */
static int sq_setup(sq_state *s, bool create)
{
    char sql[512];
    int r;
    bool memory = strcmp(s->path, ":memory:") == 0 || s->path[0] == '\0';
    /* The first statement reads the header: a file that is not SQLite
     * fails here with SQLITE_NOTADB.  It also loads the schema, inside a
     * read transaction so that the load and the statement read one
     * snapshot: otherwise another process that adds tables faster than
     * the schema loads has SQLite reload it again and again (see
     * kl__sq_step). */
    if ((r = kl__sq_exec(s, "BEGIN", "open")))
        return r;
    const char *want = s->table ? s->table : KL_SQL_CATALOGUE;
    bool exists = false;
    r = kl__sq_exec(s, "SELECT count(*) FROM sqlite_master", "open");
    if (!r)
        r = sq_table_exists(s, want, &exists);
    if (!r && s->table && s->entry_name && (!exists || !sq_has_key_column(s)))
        r = sq_refuse_entry_name(s->url, s->table);
    /* a read: nothing to lose, but the transaction must end: a COMMIT that
     * failed (out of memory) leaves it open, and the pragmas below refuse
     * to run inside one */
    int end = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (end != SQLITE_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (!r && !sqlite3_get_autocommit(s->db))
        r = kl_seterr(end == SQLITE_NOMEM ? KL_ENOMEM : KL_EBACKEND, "%s: open: end the read: %s",
                      s->url, sqlite3_errstr(end));
    if (r)
        return r;
    if (!memory && !s->read_only && (r = kl__sq_exec(s, "PRAGMA journal_mode=WAL", "enable WAL")))
        return r;
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", kl__sq_sync_names[s->sync_level]);
    if ((r = kl__sq_exec(s, sql, "set synchronous")))
        return r;
    /* Reads through a memory map skip a copy and a system call per page:
     * the sql_archive layout touches one page per table, so its lookups
     * would otherwise slow down as the table count outgrows the cache. */
    if (!memory && (r = kl__sq_exec(s, "PRAGMA mmap_size=1073741824", "set mmap_size")))
        return r;
    if (!exists && (!create || s->read_only))
        return kl_seterr(KL_ENOTFOUND, "%s: no table %s in the database", s->url, want);
    /* a file we may not write (SQLite opened it read-only) keeps its
     * format: without the column it is written as an older release did */
    if (!s->read_only && sqlite3_db_readonly(s->db, "main") != 1 && (r = sq_ensure_sum(s, exists)))
        return r;
    s->has_sum = sq_has_column(s, "sum");
    return 0;
}

static int sq_prepare_all(sq_state *s)
{
    const char *t = (const char *)s->qtable.data;
    char *sql[SQ_NSTMT] = {0};
    int r = 0;
    /* reads take the sum and stored_ns (NULL: a read-only open of a file
     * an older release wrote, unchecked); writes store the sum where the
     * column is (a read-write open adds it; where it cannot, they write
     * as the older release did, and the extra parameter binds nowhere) */
    const char *sum = s->has_sum ? "sum" : "NULL";
    if (s->table) {
        if (asprintf(&sql[SQ_GET], "SELECT value, %s, stored_ns FROM %s WHERE key = ?1", sum, t) <
                0 ||
            asprintf(&sql[SQ_PUT],
                     "INSERT INTO %s (key, value, stored_ns, size%s) VALUES (?1, ?2, ?3, ?4%s) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                     "stored_ns = excluded.stored_ns, size = excluded.size%s",
                     t, s->has_sum ? ", sum" : "", s->has_sum ? ", ?5" : "",
                     s->has_sum ? ", sum = excluded.sum" : "") < 0 ||
            asprintf(&sql[SQ_DEL], "DELETE FROM %s WHERE key = ?1", t) < 0 ||
            asprintf(&sql[SQ_HAS], "SELECT 1 FROM %s WHERE key = ?1", t) < 0 ||
            asprintf(&sql[SQ_COUNT], "SELECT count(*) FROM %s", t) < 0 ||
            asprintf(&sql[SQ_STAT], "SELECT stored_ns, size FROM %s WHERE key = ?1", t) < 0)
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    } else {
        static const char *const cat[] = {
            [SQ_CAT_FIND] = "SELECT id FROM " KL_SQL_CATALOGUE " WHERE key = ?1",
            [SQ_CAT_INSERT] = "INSERT INTO " KL_SQL_CATALOGUE
                              " (key, stored_ns, size, sum) VALUES (?1, ?2, ?3, ?4)"
                              " ON CONFLICT (key) DO NOTHING",
            [SQ_CAT_TOUCH] = "UPDATE " KL_SQL_CATALOGUE " SET stored_ns = ?2, size = ?3, "
                             "sum = ?4 WHERE id = ?1",
            [SQ_CAT_DEL] = "DELETE FROM " KL_SQL_CATALOGUE " WHERE id = ?1",
            [SQ_HAS] = "SELECT 1 FROM " KL_SQL_CATALOGUE " WHERE key = ?1",
            [SQ_COUNT] = "SELECT count(*) FROM " KL_SQL_CATALOGUE,
            [SQ_STAT] = "SELECT stored_ns, size FROM " KL_SQL_CATALOGUE " WHERE key = ?1",
        };
        for (int i = 0; !r && i < SQ_BEGIN; i++) {
            if (i < (int)(sizeof cat / sizeof *cat) && cat[i] && !(sql[i] = strdup(cat[i])))
                r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
        }
        if (!r && !s->has_sum) {
            free(sql[SQ_CAT_INSERT]);
            free(sql[SQ_CAT_TOUCH]);
            sql[SQ_CAT_INSERT] = strdup("INSERT INTO " KL_SQL_CATALOGUE " (key, stored_ns, size)"
                                        " VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING");
            sql[SQ_CAT_TOUCH] =
                strdup("UPDATE " KL_SQL_CATALOGUE " SET stored_ns = ?2, size = ?3 WHERE id = ?1");
            if (!sql[SQ_CAT_INSERT] || !sql[SQ_CAT_TOUCH])
                r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
        }
        if (!r &&
            asprintf(&sql[SQ_CAT_GET],
                     "SELECT id, %s, stored_ns FROM " KL_SQL_CATALOGUE " WHERE key = ?1", sum) < 0)
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    static const char *const txn[] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};
    for (int i = 0; !r && i < 4; i++) {
        if (!(sql[SQ_BEGIN + i] = strdup(txn[i])))
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    for (int i = 0; !r && i < SQ_NSTMT; i++) {
        if (sql[i])
            r = kl__sq_prepare(s, sql[i], &s->st[i], true);
    }
    for (int i = 0; i < SQ_NSTMT; i++)
        free(sql[i]);
    return r;
}

int kl__sq_close(void *state)
{
    sq_state *s = state;
    if (!s)
        return 0;
    kl__fsio_beside_lock(&s->cleaner, s->path, 0, s->url, false);
    for (int i = 0; i < SQ_NSTMT; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i < SQ_ENTRY_CACHE; i++)
        sqlite3_finalize(s->ecache[i].st);
    int r = 0;
    /* _v2: an iterator still open keeps the connection until it is freed */
    if (s->db && sqlite3_close_v2(s->db) != SQLITE_OK)
        r = kl__sq_err(s, SQLITE_BUSY, "close");
    if (!r && s->db)
        r = kl__sq_ro_check(s);
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
        int reserved = kl__sql_reserved_table(t);
        if (reserved == 1)
            return kl_seterr(KL_EINVAL,
                             "%s: table=%s: a reserved name (the table-per-key layout's "
                             "catalogue " KL_SQL_CATALOGUE ", or SQLite's sqlite_...)",
                             url->full, t);
        s->entry_name = reserved == 2;
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
    if ((r = kl_url_file_mode(url, &s->mode)))
        return r;
    /* none / normal / full map onto SQLite's synchronous OFF / NORMAL / FULL */
    return kl_url_sync_mode(url, &s->sync_level);
}

/* ?mode=: make the empty database file with those bits before SQLite
 * opens it; SQLite gives its -wal, -shm and -journal files the bits of
 * the database file. */
static int sq_make_file(sq_state *s)
{
    int fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)s->mode);
    if (fd < 0)
        return errno == EEXIST ? 0 : kl_seterrno(errno, "create", s->url);
    int r = fchmod(fd, (mode_t)s->mode) < 0 ? kl_seterrno(errno, "set the mode of", s->url) : 0;
    close(fd);
    if (r)
        unlink(s->path);
    return r;
}

int kl__sq_open(void **out, const kl_url *url, const kl_archive_opts *opts)
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
    /* every option read: an unknown one is refused before anything is
     * created (the core's own check comes after open, too late for that) */
    if ((r = kl__url_check_used(url)))
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
        if (s->entry_name) { /* before the file is made */
            r = sq_refuse_entry_name(url->full, s->table);
            goto fail;
        }
        if (s->mode && (r = sq_make_file(s)))
            goto fail;
    } else if (!memory && S_ISDIR(sb.st_mode)) {
        r = kl_seterr(KL_EINVAL, "%s: is a folder, not an SQLite database", url->full);
        goto fail;
    }
    /* NOMUTEX: the core already serialises every call on this handle
     * (iterators included), so SQLite's own per-call mutex is pure cost. */
    int flags = SQLITE_OPEN_NOMUTEX |
                (opts->read_only ? SQLITE_OPEN_READONLY
                                 : SQLITE_OPEN_READWRITE | (opts->create ? SQLITE_OPEN_CREATE : 0));
    int rc;
    if (opts->read_only && !memory && kl__sq_ro_wants_immutable(s->path)) {
        char *uri = kl__sq_immutable_uri(s->path);
        if (!uri || (r = kl__sq_ro_snapshot(s))) {
            free(uri);
            r = uri ? r : kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
            goto fail;
        }
        rc = sqlite3_open_v2(uri, &s->db, flags | SQLITE_OPEN_URI, NULL);
        free(uri);
    } else {
        rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    }
    if (rc != SQLITE_OK) {
        r = kl__sq_err(s, rc, "open");
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
    kl__sq_close(s);
    return r;
}
