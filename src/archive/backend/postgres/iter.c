/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql: iteration in pages, by digest (sqltable) or catalogue id
 * (sql_archive).  See postgres.h. */
#define _GNU_SOURCE
#include "archive/backend/postgres/postgres.h"

#include <stdlib.h>

/* Pages of rows in kid (catalogue: id) order; the next page starts after
 * the last row seen, so no server-side cursor or transaction stays open. */
typedef struct pg_cursor {
    pg_state *s;
    PGresult *page;
    int row, nrows;
    bool values; /* the page holds values */
    bool done;
    uint8_t last[16];
    size_t last_len;
} pg_cursor;

int kl__pg_iter_new(void *state, void **cursor)
{
    pg_state *s = state;
    pg_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    c->s = s;
    if (!s->table) {
        kl__pg_put_int8(c->last, INT64_MIN);
        c->last_len = 8;
    }
    *cursor = c;
    return 0;
}

static int pg_iter_fetch(pg_cursor *c, bool values)
{
    pg_state *s = c->s;
    PQclear(c->page);
    c->page = NULL;
    const char *vals[1] = {c->last_len ? (const char *)c->last : ""};
    int lens[1] = {(int)c->last_len};
    bool kv = values && s->table;
    int r = kl__pg_run(s, kv ? ST_PAGE_KV : ST_PAGE_K, 1, vals, lens, true, &c->page, "iterate");
    if (r)
        return r;
    c->row = 0;
    c->nrows = PQntuples(c->page);
    c->values = kv;
    c->done = c->nrows < (kv ? PG_PAGE / 4 : PG_PAGE);
    return 0;
}

int kl__pg_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    pg_cursor *c = cursor;
    pg_state *s = c->s;
    for (;;) {
        if (!c->page || c->row >= c->nrows) {
            if (c->page && c->done)
                return 0;
            int r = pg_iter_fetch(c, val != NULL);
            if (r)
                return r;
            if (c->nrows == 0)
                return 0;
        }
        int row = c->row++;
        size_t n = (size_t)PQgetlength(c->page, row, 0);
        memcpy(c->last, PQgetvalue(c->page, row, 0), n < sizeof c->last ? n : sizeof c->last);
        c->last_len = n < sizeof c->last ? n : sizeof c->last;
        int r = kl__pg_copy_out(c->page, row, 1, key);
        if (r || !val)
            return r ? r : 1;
        const uint8_t *k = key->data ? key->data : (const uint8_t *)"";
        if (c->values) {
            r = kl__pg_copy_out(c->page, row, 2, val);
            return r ? r : (r = kl__pg_check_sum(s, c->page, row, 3, k, key->len, val)) ? r : 1;
        }
        /* a page without values: sqltable read by key, or the entry's own
         * table, checked against the page's sum (a mismatch: the entry
         * may have been rewritten since the page was read, so it is read
         * again by key); an entry deleted since is skipped */
        if (s->table) {
            r = kl__pg_get(s, k, key->len, val);
        } else {
            r = kl__pg_ca_entry_sql(s, KL_SQL_ENTRY_GET, kl__pg_int8(c->page, row, 0), NULL, 0, val,
                                    "iterate");
            if (!r)
                r = kl__pg_check_sum(s, c->page, row, 2, k, key->len, val);
            if (r == KL_ECORRUPT || r == KL_ENOTFOUND)
                r = kl__pg_ca_get(s, k, key->len, val);
        }
        if (r != KL_ENOTFOUND)
            return r ? r : 1;
    }
}

void kl__pg_iter_free(void *cursor)
{
    pg_cursor *c = cursor;
    if (!c)
        return;
    PQclear(c->page);
    free(c);
}
