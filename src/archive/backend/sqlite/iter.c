/* sqlite: iteration, by key (sqltable) or catalogue id (sql_archive).
 * See sqlite.h. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"

#include <stdlib.h>

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
                              i >= 2 ? ", value" : "", (const char *)s->qtable.data,
                              i % 2 ? " WHERE key > ?1" : "");
            r = r ? r : kl_buf_cstr(&q) ? kl__sq_prepare(s, (const char *)q.data, &c->st[i], true)
                                        : KL_ENOMEM;
            kl_buf_free(&q);
        }
    } else {
        r = kl__sq_prepare(s,
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
        kl__sq_bind_blob(st, 1, c->lastkey.data, c->lastkey.len);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_DONE) {
        c->done = true;
    } else if (rc != SQLITE_ROW) {
        r = kl__sq_err(s, rc, "iterate");
    } else {
        c->started = true;
        r = kl__sq_column_value(s, st, 0, &c->lastkey);
        if (!r) {
            kl_buf_reset(key);
            r = kl_buf_append(key, c->lastkey.data, c->lastkey.len);
        }
        if (!r && val)
            r = kl__sq_column_value(s, st, 1, val);
    }
    sqlite3_reset(st);
    return r ? r : c->done ? 0 : 1;
}

int kl__sq_iter_next(void *cursor, kl_buf *key, kl_buf *val)
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
            r = kl__sq_err(s, rc, "iterate");
            sqlite3_reset(st);
            return r;
        }
        c->last = sqlite3_column_int64(st, 0);
        r = kl__sq_column_value(s, st, 1, key);
        sqlite3_reset(st);
        if (r || !val)
            return r ? r : 1;
        /* the value lives in the entry's own table; an entry deleted since
         * the catalogue step is skipped */
        r = kl__sq_begin(s, false);
        if (!r) {
            int64_t id = 0;
            r = kl__sq_ca_find(s, key->data ? key->data : (const uint8_t *)"", key->len, &id);
            if (r == 1)
                r = kl__sq_ca_entry_sql(s, KL_SQL_ENTRY_GET, id, NULL, 0, val);
            else if (r == 0)
                r = KL_ENOTFOUND;
            if (r == 0 || r == KL_ENOTFOUND) {
                int cr = kl__sq_commit(s);
                if (cr)
                    r = cr;
            }
            kl__sq_rollback(s);
        }
        if (r != KL_ENOTFOUND)
            return r ? r : 1;
    }
}

void kl__sq_iter_free(void *cursor)
{
    if (cursor)
        sq_cursor_free(cursor);
}
