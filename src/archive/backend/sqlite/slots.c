/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: the backend's slots (get, put, batches, clear, describe, ...)
 * for both layouts, and the backend itself.  See sqlite.h. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"

#include <stdio.h>
#include <stdlib.h>

static int tb_get(sq_state *s, const void *key, size_t klen, kl_buf *val)
{
    sqlite3_stmt *st = s->st[SQ_GET];
    kl__sq_bind_blob(st, 1, key, klen);
    int rc = kl__sq_step(s, st), r;
    if (rc == SQLITE_ROW) {
        r = val ? kl__sq_column_value(s, st, 0, val) : 0;
        if (!r && val)
            r = kl__sq_check_sum(s, st, 1, key, klen, val);
    } else if (rc == SQLITE_DONE)
        r = kl__sq_notfound(s);
    else
        r = kl__sq_err(s, rc, "get");
    kl__sq_reset(s, st);
    return r;
}

static int tb_put(sq_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    sqlite3_stmt *st = s->st[SQ_PUT];
    int64_t now = kl__now_ns();
    uint8_t sum[KL_SQL_SUM_LEN];
    kl__sql_sum(key, klen, val, vlen, now, sum);
    kl__sq_bind_blob(st, 1, key, klen);
    kl__sq_bind_blob(st, 2, val, vlen);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(klen + vlen));
    sqlite3_bind_blob(st, 5, sum, KL_SQL_SUM_LEN, SQLITE_TRANSIENT);
    return kl__sq_run(s, st, "put");
}

/* ---- slots ------------------------------------------------------------ */

static int sq_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    sq_state *s = state;
    return s->table ? tb_get(s, key, klen, val) : kl__sq_ca_get(s, key, klen, val);
}

static int sq_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    sq_state *s = state;
    int r = kl__sq_writable(s);
    if (!r)
        r = kl__sq_check_size(s, klen, vlen);
    if (r)
        return r;
    if (s->table)
        return tb_put(s, key, klen, val, vlen);
    if ((r = kl__sq_begin(s, true)))
        return r;
    r = kl__sq_ca_put_in_txn(s, key, klen, val, vlen);
    if (!r)
        r = kl__sq_commit(s);
    kl__sq_rollback(s);
    return r;
}

static int sq_del(void *state, const void *key, size_t klen)
{
    sq_state *s = state;
    int r = kl__sq_writable(s);
    if (r)
        return r;
    if (s->table) {
        sqlite3_stmt *st = s->st[SQ_DEL];
        kl__sq_bind_blob(st, 1, key, klen);
        if ((r = kl__sq_run(s, st, "delete")))
            return r;
        return sqlite3_changes(s->db) ? 0 : kl__sq_notfound(s);
    }
    if ((r = kl__sq_begin(s, true)))
        return r;
    r = kl__sq_ca_del_in_txn(s, key, klen);
    if (!r)
        r = kl__sq_commit(s);
    kl__sq_rollback(s);
    return r;
}

static int sq_contains(void *state, const void *key, size_t klen)
{
    sq_state *s = state;
    sqlite3_stmt *st = s->st[SQ_HAS];
    kl__sq_bind_blob(st, 1, key, klen);
    int rc = kl__sq_step(s, st);
    int r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : kl__sq_err(s, rc, "contains");
    kl__sq_reset(s, st);
    return r;
}

static int sq_count(void *state, size_t *out)
{
    sq_state *s = state;
    sqlite3_stmt *st = s->st[SQ_COUNT];
    int rc = kl__sq_step(s, st), r = 0;
    if (rc == SQLITE_ROW)
        *out = (size_t)sqlite3_column_int64(st, 0);
    else
        r = kl__sq_err(s, rc, "count");
    kl__sq_reset(s, st);
    return r;
}

static int sq_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    sq_state *s = state;
    sqlite3_stmt *st = s->st[SQ_STAT];
    kl__sq_bind_blob(st, 1, key, klen);
    int rc = kl__sq_step(s, st), r = 0;
    if (rc == SQLITE_ROW) {
        out->stored_ns = sqlite3_column_int64(st, 0);
        out->size = (uint64_t)sqlite3_column_int64(st, 1);
    } else {
        r = rc == SQLITE_DONE ? kl__sq_notfound(s) : kl__sq_err(s, rc, "stat");
    }
    kl__sq_reset(s, st);
    return r;
}

/* Run one statement on the archive's own table (sqltable layout);
 * `fmt` has one %s for the quoted table name. */
static int sq_exec_on_table(sq_state *s, const char *fmt, const char *what)
{
    kl_buf q = KL_BUF_INIT;
    int r = kl_buf_printf(&q, fmt, (const char *)s->qtable.data);
    if (!r)
        r = kl_buf_cstr(&q) ? kl__sq_exec(s, (const char *)q.data, what) : KL_ENOMEM;
    kl_buf_free(&q);
    return r;
}

/* Remove every entry (clear) or the storage itself (drop), in one
 * transaction: the ?table= table, or every entry table and, for drop, the
 * catalogue. */
static int sq_empty(sq_state *s, bool drop)
{
    const char *what = drop ? "drop" : "clear";
    int r = kl__sq_writable(s);
    if (r)
        return r;
    if ((r = kl__sq_begin(s, true)))
        return r;
    if (s->table) {
        r = sq_exec_on_table(s, drop ? "DROP TABLE IF EXISTS %s" : "DELETE FROM %s", what);
    } else {
        r = kl__sq_ca_clear_in_txn(s);
        if (!r && drop)
            r = kl__sq_exec(s, "DROP TABLE IF EXISTS " KL_SQL_CATALOGUE, what);
    }
    if (!r)
        r = kl__sq_commit(s);
    kl__sq_rollback(s);
    return r;
}

static int sq_clear(void *state) { return sq_empty(state, false); }

static int sq_sync(void *state)
{
    sq_state *s = state;
    if (s->read_only || strcmp(s->path, ":memory:") == 0 || s->path[0] == '\0')
        return 0;
    /* PASSIVE: writes the WAL's frames into the database without waiting
     * for readers; the WAL itself is fsynced first. */
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY ? 0 : kl__sq_err(s, rc, "sync");
}

static int sq_drop(void *state) { return sq_empty(state, true); }

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
    int r = kl__sq_writable(s);
    for (size_t i = 0; !r && i < n; i++)
        r = kl__sq_check_size(s, klens[i], vlens[i]);
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
    if ((r = kl__sq_begin(s, true))) {
        free(ord);
        return r;
    }
    for (size_t j = 0; !r && j < n; j++) {
        size_t i = ord ? ord[j].i : j;
        r = s->table ? tb_put(s, keys[i], klens[i], vals[i], vlens[i])
                     : kl__sq_ca_put_in_txn(s, keys[i], klens[i], vals[i], vlens[i]);
    }
    free(ord);
    if (!r)
        r = kl__sq_commit(s);
    kl__sq_rollback(s); /* nothing of a failed batch stays */
    return r;
}

/* All the deletes in one transaction (a failed batch deletes nothing). */
static int sq_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       size_t *deleted)
{
    sq_state *s = state;
    *deleted = 0;
    int r = kl__sq_writable(s);
    if (r || n == 0)
        return r;
    if ((r = kl__sq_begin(s, true)))
        return r;
    size_t done = 0;
    for (size_t i = 0; !r && i < n; i++) {
        if (s->table) {
            sqlite3_stmt *st = s->st[SQ_DEL];
            kl__sq_bind_blob(st, 1, keys[i], klens[i]);
            if (!(r = kl__sq_run(s, st, "delete")))
                done += sqlite3_changes(s->db) > 0;
        } else if (!(r = kl__sq_ca_del_in_txn(s, keys[i], klens[i]))) {
            done++;
        } else if (r == KL_ENOTFOUND) {
            r = 0;
        }
    }
    if (!r)
        r = kl__sq_commit(s);
    kl__sq_rollback(s);
    if (!r)
        *deleted = done;
    return r;
}

static int sq_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       kl_buf *vals, bool *found)
{
    sq_state *s = state;
    int r = kl__sq_begin(s, false);
    if (r)
        return r;
    for (size_t i = 0; !r && i < n; i++) {
        r = s->table ? tb_get(s, keys[i], klens[i], &vals[i])
                     : kl__sq_ca_get(s, keys[i], klens[i], &vals[i]);
        found[i] = r == 0;
        if (r == KL_ENOTFOUND)
            r = 0;
    }
    if (!r)
        r = kl__sq_commit(s);
    kl__sq_rollback(s);
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
        r = kl_buf_printf(out, "synchronous=%s\n", kl__sq_sync_names[s->sync_level]);
    sqlite3_stmt *st;
    static const char *const pragmas[] = {"journal_mode", "page_count", "page_size",
                                          "freelist_count"};
    for (size_t i = 0; !r && i < sizeof pragmas / sizeof *pragmas; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA %s", pragmas[i]);
        if ((r = kl__sq_prepare(s, sql, &st, false)))
            break;
        if (kl__sq_step(s, st) == SQLITE_ROW)
            r = kl_buf_printf(out, "%s=%s\n", pragmas[i], (const char *)sqlite3_column_text(st, 0));
        kl__sq_finalize(s, st);
    }
    return r;
}

/* One PRAGMA's integer. */
static int sq_pragma_int(sq_state *s, const char *name, int64_t *out)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    sqlite3_stmt *st;
    int r = kl__sq_prepare(s, sql, &st, false);
    if (r)
        return r;
    *out = kl__sq_step(s, st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    kl__sq_finalize(s, st);
    return 0;
}

/* The database's pages in use: (page_count - freelist_count) * page_size
 * (the whole database: a table= archive shares it with what else is
 * there). */
static int sq_storage_bytes(void *state, uint64_t *out)
{
    sq_state *s = state;
    int64_t pages = 0, page_size = 0, free_pages = 0;
    int r = sq_pragma_int(s, "page_count", &pages);
    if (!r)
        r = sq_pragma_int(s, "page_size", &page_size);
    if (!r)
        r = sq_pragma_int(s, "freelist_count", &free_pages);
    if (!r)
        *out = pages > free_pages && page_size > 0
                   ? (uint64_t)(pages - free_pages) * (uint64_t)page_size
                   : 0;
    return r;
}

/* A file beside the database; an in-memory one has no other process. */
static int sq_cleaner_lock(void *state, bool take)
{
    sq_state *s = state;
    if (!*s->path || !strcmp(s->path, ":memory:"))
        return take ? 1 : 0;
    return kl__fsio_beside_lock(&s->cleaner, s->path, s->mode, s->url, take);
}

/* count, then ORDER BY stored_ns DESC ... OFFSET keep over the table (or
 * the catalogue of the table-per-key layout). */
static int sq_oldest(void *state, uint64_t over, uint64_t keep,
                     int (*fn)(void *ctx, const void *key, size_t klen), void *ctx,
                     uint64_t *count)
{
    sq_state *s = state;
    size_t n = 0;
    int r = sq_count(s, &n);
    *count = n;
    if (r || n <= over)
        return r;
    kl_buf q = KL_BUF_INIT;
    r = kl_buf_printf(&q, "SELECT key FROM %s ORDER BY stored_ns DESC LIMIT -1 OFFSET ?1",
                          s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE);
    sqlite3_stmt *st = NULL;
    if (!r)
        r = kl_buf_cstr(&q) ? kl__sq_prepare(s, (const char *)q.data, &st, false) : KL_ENOMEM;
    kl_buf_free(&q);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, keep > INT64_MAX ? INT64_MAX : (int64_t)keep);
    int rc;
    while (!r && (rc = kl__sq_step(s, st)) == SQLITE_ROW)
        r = fn(ctx, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    if (!r && rc != SQLITE_DONE)
        r = kl__sq_err(s, rc, "oldest");
    kl__sq_finalize(s, st);
    return r;
}

const kl_archive_backend kl__backend_sqlite = {
    .version = KL_BACKEND_VERSION,
    .scheme = "sqlite",
    .flags = 0,
    .open = kl__sq_open,
    .close = kl__sq_close,
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
    .iter_new = kl__sq_iter_new,
    .iter_next = kl__sq_iter_next,
    .iter_free = kl__sq_iter_free,
    .verify = kl__sq_verify,
    .storage_bytes = sq_storage_bytes,
    .cleaner_lock = sq_cleaner_lock,
    .oldest = sq_oldest,
};
