/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql: batches: put_many (multi-row upserts in digest order in one
 * transaction, run again after a deadlock), del_many (multi-row deletes in
 * one transaction) and get_many.  See mysql.h. */
#define _GNU_SOURCE
#include "archive/backend/mysql/mysql.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>

#include "klepto/error.h"

static int my_ord_cmp(const void *a, const void *b)
{
    const my_ord *x = a, *y = b;
    int c = memcmp(x->kid, y->kid, 16);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static my_ord *my_order(my_state *s, size_t n, const void *const *keys, const size_t *klens)
{
    my_ord *ord = malloc(n * sizeof *ord);
    if (!ord) {
        kl_seterr(KL_ENOMEM, "%s: out of memory for a batch of %zu", s->url, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        kl__my_kid(ord[i].kid, keys[i], klens[i]);
        ord[i].i = i;
    }
    qsort(ord, n, sizeof *ord, my_ord_cmp);
    return ord;
}

/* "PREFIX (row)(, row)... SUFFIX" with m copies of row. */
static char *my_rows_sql(const char *prefix, const char *row, size_t m, const char *suffix)
{
    kl_buf b = KL_BUF_INIT;
    int r = kl_buf_append_str(&b, prefix);
    for (size_t i = 0; !r && i < m; i++)
        r = kl_buf_printf(&b, "%s%s", i ? ", " : "", row);
    r = r ? r : kl_buf_append_str(&b, suffix);
    if (r || !kl_buf_cstr(&b)) {
        kl_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* A prepared upsert of m rows: the cached one of MY_BATCH_ROWS rows, or
 * a new one (*own: the caller closes it). */
static int my_batch_stmt(my_state *s, size_t m, MYSQL_STMT **out, bool *own)
{
    *own = m != MY_BATCH_ROWS;
    if (!*own && s->batch_st) {
        *out = s->batch_st;
        return 0;
    }
    kl_buf pre = KL_BUF_INIT;
    int r = kl_buf_printf(&pre,
                          "INSERT INTO %s (kid, \"key\", value, stored_ns, size, \"sum\") VALUES ",
                          (const char *)s->qtable.data);
    char *sql = r || !kl_buf_cstr(&pre)
                    ? NULL
                    : my_rows_sql((const char *)pre.data, "(?, ?, ?, ?, ?, ?)", m,
                                  " ON DUPLICATE KEY UPDATE value = IF(\"key\" = VALUES(\"key\"), "
                                  "VALUES(value), NULL), stored_ns = VALUES(stored_ns), "
                                  "size = VALUES(size), \"sum\" = VALUES(\"sum\")");
    kl_buf_free(&pre);
    MYSQL_STMT *st = sql ? mysql_stmt_init(s->conn) : NULL;
    if (!st) {
        free(sql);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    r = mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) ? kl__my_err_stmt(s, st, "put_many")
                                                                : 0;
    free(sql);
    if (r) {
        mysql_stmt_close(st);
        return r;
    }
    if (!*own)
        s->batch_st = st;
    *out = st;
    return 0;
}

/* sqltable layout: one transaction of multi-row upserts, each at most
 * MY_BATCH_ROWS rows and one max_allowed_packet. */
static int tb_put_many(my_state *s, size_t n, const my_ord *ord, const void *const *keys,
                       const size_t *klens, const void *const *vals, const size_t *vlens)
{
    MYSQL_BIND *b = malloc(MY_BATCH_ROWS * 6 * sizeof *b);
    unsigned long *lens = malloc(MY_BATCH_ROWS * 4 * sizeof *lens);
    int64_t *ints = malloc(MY_BATCH_ROWS * 2 * sizeof *ints);
    uint8_t *sums = malloc(MY_BATCH_ROWS * KL_SQL_SUM_LEN);
    int r = b && lens && ints && sums
                ? kl__my_begin(s)
                : kl_seterr(KL_ENOMEM, "%s: out of memory for a batch", s->url);
    int64_t now = kl__now_ns();
    size_t room = s->max_packet - MY_PACKET_SLACK;
    for (size_t done = 0; !r && done < n;) {
        size_t m = 0, bytes = 0;
        while (done + m < n && m < MY_BATCH_ROWS) {
            size_t i = ord[done + m].i, add = klens[i] + vlens[i] + 64;
            if (m && bytes + add + MY_BATCH_ROWS * 8 > room)
                break;
            bytes += add;
            MYSQL_BIND *row = &b[6 * m];
            uint8_t *sum = sums + m * KL_SQL_SUM_LEN;
            kl__sql_sum(keys[i], klens[i], vals[i], vlens[i], now, sum);
            kl__my_bind_blob(&row[0], ord[done + m].kid, &lens[4 * m], 16);
            kl__my_bind_blob(&row[1], keys[i], &lens[4 * m + 1], klens[i]);
            kl__my_bind_blob(&row[2], vals[i], &lens[4 * m + 2], vlens[i]);
            ints[2 * m] = now;
            ints[2 * m + 1] = (int64_t)(klens[i] + vlens[i]);
            kl__my_bind_int(&row[3], &ints[2 * m]);
            kl__my_bind_int(&row[4], &ints[2 * m + 1]);
            kl__my_bind_blob(&row[5], sum, &lens[4 * m + 3], KL_SQL_SUM_LEN);
            m++;
        }
        MYSQL_STMT *st = NULL;
        bool own = false;
        if ((r = my_batch_stmt(s, m, &st, &own)))
            break;
        if (mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st))
            r = kl__my_err_stmt(s, st, "put_many");
        if (own)
            mysql_stmt_close(st);
        done += m;
    }
    if (!r)
        r = kl__my_commit(s);
    kl__my_rollback(s); /* nothing of a failed batch stays */
    free(b);
    free(lens);
    free(ints);
    free(sums);
    return r;
}

int kl__my_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    const void *const *vals, const size_t *vlens)
{
    my_state *s = state;
    int r = kl__my_writable(s);
    if (!r)
        r = kl__my_ready(s);
    for (size_t i = 0; !r && i < n; i++)
        r = kl__my_check_size(s, klens[i], vlens[i]);
    if (r || n == 0)
        return r;
    my_ord *ord = my_order(s, n, keys, klens);
    if (!ord)
        return KL_ENOMEM; /* my_order's message says so */
    if (!s->table) {
        /* table per key: DDL commits, so no one transaction (mysql.h) */
        if (!(r = kl__my_lock(s))) {
            for (size_t j = 0; !r && j < n; j++)
                r = kl__my_ca_put(s, keys[ord[j].i], klens[ord[j].i], vals[ord[j].i],
                                  vlens[ord[j].i]);
            kl__my_unlock(s);
        }
        free(ord);
        return r;
    }
    /* a deadlock or lock wait timeout rolled the transaction back: running
     * it again is safe */
    for (int attempt = 0; attempt < 5; attempt++) {
        s->last_errno = 0;
        r = tb_put_many(s, n, ord, keys, klens, vals, vlens);
        if (!r || (s->last_errno != ER_LOCK_DEADLOCK && s->last_errno != ER_LOCK_WAIT_TIMEOUT))
            break;
    }
    free(ord);
    return r;
}

/* sqltable layout: DELETE ... WHERE kid IN (...) AND key IN (...) (a row
 * goes when its key is one of the chunk's: its kid then is too). */
static int tb_del_many(my_state *s, size_t n, const my_ord *ord, const void *const *keys,
                       const size_t *klens, size_t *deleted)
{
    MYSQL_BIND *b = malloc(MY_BATCH_ROWS * 2 * sizeof *b);
    unsigned long *lens = malloc(MY_BATCH_ROWS * 2 * sizeof *lens);
    int r =
        b && lens ? kl__my_begin(s) : kl_seterr(KL_ENOMEM, "%s: out of memory for a batch", s->url);
    size_t room = s->max_packet - MY_PACKET_SLACK, total = 0;
    for (size_t done = 0; !r && done < n;) {
        size_t m = 0, bytes = 0;
        while (done + m < n && m < MY_BATCH_ROWS) {
            size_t i = ord[done + m].i, add = klens[i] + 32;
            if (m && bytes + add > room)
                break;
            bytes += add;
            kl__my_bind_blob(&b[m], ord[done + m].kid, &lens[m], 16);
            m++;
        }
        for (size_t j = 0; j < m; j++) {
            size_t i = ord[done + j].i;
            kl__my_bind_blob(&b[m + j], keys[i], &lens[m + j], klens[i]);
        }
        kl_buf q = KL_BUF_INIT;
        int qr = kl_buf_printf(&q, "DELETE FROM %s WHERE kid IN (", (const char *)s->qtable.data);
        for (int part = 0; part < 2; part++) {
            for (size_t j = 0; !qr && j < m; j++)
                qr = kl_buf_append_str(&q, j ? ", ?" : "?");
            qr = qr ? qr : kl_buf_append_str(&q, part ? ")" : ") AND \"key\" IN (");
        }
        char *fixed = qr || !kl_buf_cstr(&q) ? NULL : (char *)q.data;
        if (!fixed)
            kl_buf_free(&q);
        MYSQL_STMT *st = fixed ? mysql_stmt_init(s->conn) : NULL;
        if (!st) {
            free(fixed);
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
            break;
        }
        if (mysql_stmt_prepare(st, fixed, (unsigned long)strlen(fixed)) ||
            mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st))
            r = kl__my_err_stmt(s, st, "del_many");
        else
            total += (size_t)mysql_stmt_affected_rows(st);
        mysql_stmt_close(st);
        free(fixed);
        done += m;
    }
    if (!r)
        r = kl__my_commit(s);
    kl__my_rollback(s);
    if (!r)
        *deleted = total;
    free(b);
    free(lens);
    return r;
}

int kl__my_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    size_t *deleted)
{
    my_state *s = state;
    *deleted = 0;
    int r = kl__my_writable(s);
    if (!r)
        r = kl__my_ready(s);
    if (r || n == 0)
        return r;
    my_ord *ord = my_order(s, n, keys, klens);
    if (!ord)
        return KL_ENOMEM; /* my_order's message says so */
    if (s->table) {
        r = tb_del_many(s, n, ord, keys, klens, deleted);
    } else if (!(r = kl__my_lock(s))) {
        for (size_t j = 0; !r && j < n; j++) {
            r = kl__my_ca_del(s, keys[ord[j].i], klens[ord[j].i]);
            if (r == KL_ENOTFOUND)
                r = 0; /* absent, or given twice */
            else if (!r)
                (*deleted)++;
        }
        kl__my_unlock(s);
        if (!r)
            kl_errclear();
    }
    free(ord);
    return r;
}

int kl__my_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    kl_buf *vals, bool *found)
{
    int r = 0;
    for (size_t i = 0; !r && i < n; i++) {
        r = kl__my_get(state, keys[i], klens[i], &vals[i]);
        found[i] = r == 0;
        if (r == KL_ENOTFOUND)
            r = 0;
    }
    if (!r)
        kl_errclear(); /* the misses are not errors */
    return r;
}
