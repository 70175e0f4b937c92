/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql: iteration in pages, by digest (sqltable) or catalogue id
 * (sql_archive).  Each page is copied out of the result before the next
 * call, so no result stays open between calls and other statements (and
 * other iterators) may run in between.  See mysql.h. */
#define _GNU_SOURCE
#include "archive/backend/mysql/mysql.h"

#include <stdlib.h>

typedef struct my_cursor {
    my_state *s;
    kl_buf keys[MY_PAGE], vals[MY_PAGE / 4];
    int64_t ids[MY_PAGE];
    /* each row's sum (sums[row].len 0 with sum_null) and stored_ns */
    kl_buf sums[MY_PAGE];
    bool sum_null[MY_PAGE];
    int64_t ns[MY_PAGE];
    int row, nrows;
    bool values; /* the page holds values */
    bool done;
    uint8_t last[16]; /* sqltable: the last kid seen */
    int64_t last_id;  /* sql_archive: the last id seen */
    bool started;
} my_cursor;

int kl__my_iter_new(void *state, void **cursor)
{
    my_state *s = state;
    my_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    c->s = s;
    c->last_id = INT64_MIN;
    *cursor = c;
    return 0;
}

static int my_iter_fetch(my_cursor *c, bool values)
{
    my_state *s = c->s;
    bool kv = values && s->table;
    int stmt = kv ? MS_PAGE_KV : MS_PAGE_K, cap = kv ? MY_PAGE / 4 : MY_PAGE;
    MYSQL_BIND b;
    unsigned long len;
    if (s->table)
        kl__my_bind_blob(&b, c->last, &len, c->started ? 16 : 0);
    else
        kl__my_bind_int(&b, &c->last_id);
    int r = kl__my_run(s, stmt, &b, true, "iterate");
    if (r)
        return r;
    kl_buf kid = KL_BUF_INIT;
    c->nrows = 0;
    while (c->nrows < cap) {
        int64_t ints[5] = {0, 0, 0, 0, 0};
        int k = c->nrows;
        /* sqltable: kid, key[, value, sum, stored_ns]; sql_archive: id,
         * key, sum, stored_ns */
        kl_buf *bufs[5] = {&kid, &c->keys[k], kv ? &c->vals[k] : &c->sums[k],
                           kv ? &c->sums[k] : NULL, NULL};
        const char *types = s->table ? (kv ? "bbbni" : "bb") : "ibni";
        r = kl__my_fetch(s, s->st[stmt], (int)strlen(types), types, bufs, ints, "iterate");
        if (r <= 0)
            break;
        c->sum_null[k] = (kv ? ints[3] : ints[2]) != 0;
        c->ns[k] = kv ? ints[4] : ints[3];
        if (s->table) {
            if (kid.len == 16)
                memcpy(c->last, kid.data, 16);
        } else {
            c->ids[c->nrows] = c->last_id = ints[0];
        }
        c->nrows++;
    }
    if (s->st[stmt])
        mysql_stmt_free_result(s->st[stmt]);
    kl_buf_free(&kid);
    if (r < 0)
        return r;
    c->started = true;
    c->row = 0;
    c->values = kv;
    c->done = c->nrows < cap;
    return 0;
}

static int my_copy(kl_buf *to, const kl_buf *from)
{
    kl_buf_reset(to);
    return from->len ? kl_buf_append(to, from->data, from->len) : 0;
}

int kl__my_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    my_cursor *c = cursor;
    my_state *s = c->s;
    for (;;) {
        if (c->row >= c->nrows) {
            if (c->started && c->done)
                return 0;
            int r = my_iter_fetch(c, val != NULL);
            if (r)
                return r;
            if (c->nrows == 0)
                return 0;
        }
        int row = c->row++;
        int r = my_copy(key, &c->keys[row]);
        if (r || !val)
            return r ? r : 1;
        const uint8_t *k = key->data ? key->data : (const uint8_t *)"";
        if (c->values) {
            r = my_copy(val, &c->vals[row]);
            if (!r)
                r = kl__my_check_sum(s, k, key->len, val, &c->sums[row], c->sum_null[row],
                                     c->ns[row]);
            return r ? r : 1;
        }
        /* a page without values: sqltable read by key, or the entry's own
         * table, checked against the page's sum (a mismatch: the entry may
         * have been rewritten since the page was read, so it is read again
         * by key); an entry deleted since is skipped */
        if (s->table) {
            r = kl__my_get(s, k, key->len, val);
        } else {
            r = kl__my_ca_entry_get(s, c->ids[row], val, "iterate");
            if (!r)
                r = kl__my_check_sum(s, k, key->len, val, &c->sums[row], c->sum_null[row],
                                     c->ns[row]);
            if (r == KL_ECORRUPT || r == KL_ENOTFOUND)
                r = kl__my_ca_get(s, k, key->len, val);
        }
        if (r != KL_ENOTFOUND)
            return r ? r : 1;
    }
}

void kl__my_iter_free(void *cursor)
{
    my_cursor *c = cursor;
    if (!c)
        return;
    for (int i = 0; i < MY_PAGE; i++) {
        kl_buf_free(&c->keys[i]);
        kl_buf_free(&c->sums[i]);
    }
    for (int i = 0; i < MY_PAGE / 4; i++)
        kl_buf_free(&c->vals[i]);
    free(c);
}
