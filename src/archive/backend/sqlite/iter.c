/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: iteration, by key (sqltable) or catalogue id (sql_archive).
 * See sqlite.h. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"
#include "archive/util/key_hex.h"

#include <stdio.h>
#include <stdlib.h>

/* Cursors step upwards from the last entry seen — by key in the sqltable
 * layout, by catalogue id in the sql_archive layout — one indexed seek per
 * entry, and hold no statement open between calls, so writes, clear and
 * drop are never blocked by an iterator.
 *
 * Damage.  Every call moves the cursor past one entry or ends the
 * iteration, damaged file or not: callers go on after KL_ECORRUPT, so a
 * cursor that stayed put would report the same damage forever.  The
 * position is taken from a row before anything else of it is checked; a
 * row SQLite cannot read at all is passed by reading only its key (or id),
 * which lies at the start of the record, clear of the value's pages; when
 * even that fails, SQLite cannot step past the damage and the iteration
 * ends with the error. */
typedef struct sq_cursor {
    sq_state *s;
    /* sqltable: st[2 * values + started]; sql_archive: st[0] (id, key),
     * st[1] (id alone) */
    sqlite3_stmt *st[4];
    int64_t last; /* sql_archive: last id */
    /* sqltable: the last key seen, with its SQL type, so that the next
     * seek orders exactly as the table does (a key another tool stored
     * as TEXT sorts before every BLOB); NULL before the first */
    sqlite3_value *lastkey;
    bool done;
} sq_cursor;

static void sq_cursor_free(sq_cursor *c)
{
    for (int i = 0; i < 4; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_value_free(c->lastkey);
    free(c);
}

int kl__sq_iter_new(void *state, void **cursor)
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
                              i < 2        ? ""
                              : s->has_sum ? ", value, sum, stored_ns"
                                           : ", value, NULL, stored_ns",
                              (const char *)s->qtable.data, i % 2 ? " WHERE key > ?1" : "");
            r = r ? r : kl_buf_cstr(&q) ? kl__sq_prepare(s, (const char *)q.data, &c->st[i], true)
                                        : KL_ENOMEM;
            kl_buf_free(&q);
        }
    } else {
        r = kl__sq_prepare(s,
                           s->has_sum ? "SELECT id, key, sum, stored_ns FROM " KL_SQL_CATALOGUE
                                        " WHERE id > ?1 ORDER BY id LIMIT 1"
                                      : "SELECT id, key, NULL, stored_ns FROM " KL_SQL_CATALOGUE
                                        " WHERE id > ?1 ORDER BY id LIMIT 1",
                           &c->st[0], true);
        if (!r)
            r = kl__sq_prepare(s,
                               "SELECT id FROM " KL_SQL_CATALOGUE
                               " WHERE id > ?1 ORDER BY id LIMIT 1",
                               &c->st[1], true);
    }
    if (r) {
        sq_cursor_free(c);
        return r;
    }
    *cursor = c;
    return 0;
}

/* Append " (WHERE)" to the thread's message, keeping its code: the
 * message then names the entry, so two damaged entries never read alike
 * (the CLI takes the same message twice in a row for a stuck cursor). */
static int damaged_at(int code, const char *fmt, const void *key, size_t klen, int64_t id)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", kl_errmsg());
    kl_buf where = KL_BUF_INIT;
    if (key) {
        kl_buf_append_str(&where, "key ");
        kl__key_hex(&where, key, klen);
    } else {
        kl_buf_printf(&where, "catalogue id %lld", (long long)id);
    }
    const char *w = kl_buf_cstr(&where);
    kl_seterr(code, "%s (%s%s)", msg, fmt, w ? w : "?");
    kl_buf_free(&where);
    return code;
}

/* ---- sqltable: by key ------------------------------------------------- */

/* Step the statement that yields the row after the last key seen, with or
 * without its value; *out is the statement, for its columns and reset. */
static int tb_step(sq_cursor *c, bool values, sqlite3_stmt **out)
{
    sqlite3_stmt *st = c->st[(values ? 2 : 0) + (c->lastkey ? 1 : 0)];
    if (c->lastkey)
        sqlite3_bind_value(st, 1, c->lastkey);
    *out = st;
    return kl__sq_step(c->s, st);
}

/* SQLite's order of two key values: NULL, numbers, TEXT, BLOB; within a
 * class by value (numbers), by bytes then length (TEXT with the BINARY
 * collation, BLOB). */
static int key_rank(int type)
{
    return type == SQLITE_NULL ? 0 : type == SQLITE_TEXT ? 2 : type == SQLITE_BLOB ? 3 : 1;
}

static int key_cmp(sqlite3_value *a, sqlite3_value *b)
{
    int ra = key_rank(sqlite3_value_type(a)), rb = key_rank(sqlite3_value_type(b));
    if (ra != rb || ra == 0)
        return (ra > rb) - (ra < rb);
    if (ra == 1) {
        double x = sqlite3_value_double(a), y = sqlite3_value_double(b);
        return (x > y) - (x < y);
    }
    const void *pa = ra == 2 ? (const void *)sqlite3_value_text(a) : sqlite3_value_blob(a);
    const void *pb = ra == 2 ? (const void *)sqlite3_value_text(b) : sqlite3_value_blob(b);
    size_t na = (size_t)sqlite3_value_bytes(a), nb = (size_t)sqlite3_value_bytes(b);
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(pa, pb, n) : 0;
    return c ? c : (na > nb) - (na < nb);
}

/* Out of order: a damaged b-tree page can send a seek back to rows already
 * seen (cell pointers into other cells), and following it would go round
 * forever.  Positions only ever increase; the iteration ends here. */
static int out_of_order(sq_cursor *c)
{
    c->done = true;
    return kl_seterr(KL_ECORRUPT,
                     "%s: iterate: the table's order is damaged (a row out of key order); "
                     "the entries after this point cannot be read",
                     c->s->url);
}

/* The key of st's row becomes the cursor's position; it must lie after
 * the last one. */
static int tb_take_key(sq_cursor *c, sqlite3_stmt *st)
{
    sqlite3_value *v = sqlite3_value_dup(sqlite3_column_value(st, 0));
    if (!v)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", c->s->url);
    if (c->lastkey && key_cmp(v, c->lastkey) <= 0) {
        sqlite3_value_free(v);
        return out_of_order(c);
    }
    sqlite3_value_free(c->lastkey);
    c->lastkey = v;
    return 0;
}

/* The row after the last key could not be read: pass it by its key alone
 * if SQLite can read that, else end the iteration.  The thread's message
 * (the failure) is kept and extended. */
static int tb_skip_damaged(sq_cursor *c, bool values, int code, kl_buf *key)
{
    sqlite3_stmt *st = NULL;
    int rc = values ? tb_step(c, false, &st) : SQLITE_CORRUPT;
    int r = rc == SQLITE_ROW ? tb_take_key(c, st) : 1;
    if (r && c->done) {
        kl__sq_reset(c->s, st);
        return r;
    }
    if (r == 0) {
        const void *k = sqlite3_value_blob(c->lastkey);
        int n = sqlite3_value_bytes(c->lastkey);
        /* the key, for a repair that deletes the entry */
        kl_buf_reset(key);
        if (n > 0)
            kl_buf_append(key, k, (size_t)n);
        code = damaged_at(code, "skipped the entry of ", k ? k : "", (size_t)n, 0);
    } else {
        c->done = true;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", kl_errmsg());
        code = kl_seterr(code, "%s (the entries after this point cannot be read)", msg);
    }
    if (st)
        kl__sq_reset(c->s, st);
    return code;
}

/* Column col of st's row into out: it must be a BLOB. */
static int tb_column(sq_cursor *c, sqlite3_stmt *st, int col, kl_buf *out)
{
    int t = sqlite3_column_type(st, col);
    if (t != SQLITE_BLOB)
        return kl_seterr(KL_ECORRUPT, "%s: a stored %s is not a BLOB (SQL type %d)", c->s->url,
                         col ? "value" : "key", t);
    return kl__sq_column_value(c->s, st, col, out);
}

static int tb_iter_next(sq_cursor *c, kl_buf *key, kl_buf *val)
{
    sq_state *s = c->s;
    sqlite3_stmt *st;
    int rc = tb_step(c, val != NULL, &st), r = 0;
    if (rc == SQLITE_ROW) {
        /* the position first: a damaged row is passed all the same */
        r = tb_take_key(c, st);
        if (r && c->done) {
            kl__sq_reset(c->s, st);
            return r;
        }
        if (!r)
            r = tb_column(c, st, 0, key);
        if (!r && val)
            r = tb_column(c, st, 1, val);
        if (!r && val)
            r = kl__sq_check_sum(s, st, 2, key->data, key->len, val);
        if (r == KL_ECORRUPT) {
            const void *k = sqlite3_column_blob(st, 0);
            r = damaged_at(r, "", k ? k : "", (size_t)sqlite3_column_bytes(st, 0), 0);
        }
        kl__sq_reset(c->s, st);
        return r ? r : 1;
    }
    if (rc == SQLITE_DONE) {
        c->done = true;
        kl__sq_reset(c->s, st);
        return 0;
    }
    r = kl__sq_err(s, rc, "iterate");
    kl__sq_reset(c->s, st);
    return r == KL_ECORRUPT ? tb_skip_damaged(c, val != NULL, r, key) : r;
}

/* ---- sql_archive: by catalogue id ------------------------------------- */

/* The catalogue row after the last id could not be read: pass it by its id
 * alone (the rowid, outside the record) if SQLite can read that. */
static int ca_skip_damaged(sq_cursor *c, int code)
{
    sqlite3_stmt *st = c->st[1];
    sqlite3_bind_int64(st, 1, c->last);
    int rc = kl__sq_step(c->s, st);
    if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) <= c->last) {
        code = out_of_order(c);
    } else if (rc == SQLITE_ROW) {
        c->last = sqlite3_column_int64(st, 0);
        code = damaged_at(code, "skipped ", NULL, 0, c->last);
    } else {
        c->done = true;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", kl_errmsg());
        code = kl_seterr(code, "%s (the entries after this point cannot be read)", msg);
    }
    kl__sq_reset(c->s, st);
    return code;
}

/* The catalogue row and the value are read in one transaction (one
 * snapshot), so the value is the one of that row's id: no second lookup by
 * key, which a damaged key index could answer with another entry's id. */
static int ca_iter_next(sq_cursor *c, kl_buf *key, kl_buf *val)
{
    sq_state *s = c->s;
    int r = val ? kl__sq_begin(s, false) : 0;
    if (r)
        return r;
    sqlite3_stmt *st = c->st[0];
    sqlite3_bind_int64(st, 1, c->last);
    int rc = kl__sq_step(s, st);
    if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) <= c->last) {
        r = out_of_order(c);
    } else if (rc == SQLITE_ROW) {
        c->last = sqlite3_column_int64(st, 0); /* the position first */
        if (sqlite3_column_type(st, 1) != SQLITE_BLOB)
            r = kl_seterr(KL_ECORRUPT, "%s: a stored key is not a BLOB (SQL type %d)", s->url,
                          sqlite3_column_type(st, 1));
        else
            r = kl__sq_column_value(s, st, 1, key);
        bool have_key = r == 0;
        if (!r && val)
            r = kl__sq_ca_entry_sql(s, KL_SQL_ENTRY_GET, c->last, NULL, 0, val);
        if (!r && val)
            r = kl__sq_check_sum(s, st, 2, key->data, key->len, val);
        if (r == KL_ECORRUPT)
            r = have_key ? damaged_at(r, "", key->data ? key->data : (const uint8_t *)"",
                                      key->len, 0)
                         : damaged_at(r, "", NULL, 0, c->last);
    } else if (rc == SQLITE_DONE) {
        c->done = true;
    } else {
        r = kl__sq_err(s, rc, "iterate");
    }
    kl__sq_reset(c->s, st);
    kl__sq_rollback(s); /* ends the read transaction; keeps the message */
    if (r == KL_ECORRUPT && rc != SQLITE_ROW)
        return ca_skip_damaged(c, r);
    return r ? r : c->done ? 0 : 1;
}

int kl__sq_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    sq_cursor *c = cursor;
    if (c->done)
        return 0;
    return c->s->table ? tb_iter_next(c, key, val) : ca_iter_next(c, key, val);
}

void kl__sq_iter_free(void *cursor)
{
    if (cursor)
        sq_cursor_free(cursor);
}
