/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql: the sql_archive layout (a catalogue and one table per key), its
 * steps run for util/sql_catalog.c under the writers' lock.  See
 * mysql.h. */
#define _GNU_SOURCE
#include "archive/backend/mysql/mysql.h"

#include <mysqld_error.h>
#include <stdlib.h>

#include "klepto/error.h"

/* The value of the entry table of id: KL_ENOTFOUND when the table is gone
 * (deleted meanwhile) or still empty (its first value not yet written). */
int kl__my_ca_entry_get(my_state *s, int64_t id, kl_buf *val, const char *what)
{
    char name[KL_SQL_ENTRY_NAME_MAX], sql[160];
    kl__sql_entry_sql(&kl__sql_dialect_mysql, KL_SQL_ENTRY_GET, id, sql, sizeof sql, name);
    int r = kl__my_connect(s);
    if (r)
        return r;
    if (mysql_real_query(s->conn, sql, (unsigned long)strlen(sql)))
        return mysql_errno(s->conn) == ER_NO_SUCH_TABLE ? kl__my_notfound(s) : kl__my_err(s, what);
    MYSQL_RES *res = mysql_store_result(s->conn);
    if (!res)
        return kl__my_err(s, what);
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned long *lens = row ? mysql_fetch_lengths(res) : NULL;
    kl_buf_reset(val);
    r = !row ? kl__my_notfound(s) : kl_buf_append(val, row[0], lens[0]);
    mysql_free_result(res);
    return r;
}

/* Run entry statement op on the table of id, with blob as its parameter. */
static int my_entry_stmt(my_state *s, int op, int64_t id, const void *blob, size_t n)
{
    char sql[160];
    kl__sql_entry_sql(&kl__sql_dialect_mysql, op, id, sql, sizeof sql, NULL);
    const char *what = kl__sql_dialect_mysql.entry_what[op];
    if (!blob)
        return kl__my_exec(s, sql, what);
    MYSQL_STMT *st = mysql_stmt_init(s->conn);
    if (!st)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    MYSQL_BIND b;
    unsigned long len;
    kl__my_bind_blob(&b, blob, &len, n);
    int r = 0;
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) || mysql_stmt_bind_param(st, &b) ||
        mysql_stmt_execute(st))
        r = kl__my_err_stmt(s, st, what);
    mysql_stmt_close(st);
    return r;
}

/* Find the catalogue id of key: *id, or KL_ENOTFOUND; its sum (NULL:
 * *sum_null) and stored_ns too when sum is given. */
static int ca_find(my_state *s, const void *key, size_t klen, bool read, int64_t *id, kl_buf *sum,
                   bool *sum_null, int64_t *stored_ns)
{
    my_key k;
    kl__my_key_init(&k, key, klen);
    int r = kl__my_run(s, MS_GET, k.b, read, "get");
    if (r)
        return r;
    int64_t ints[3] = {0, 0, 0};
    kl_buf scratch = KL_BUF_INIT;
    kl_buf *bufs[3] = {NULL, sum ? sum : &scratch, NULL};
    r = kl__my_fetch(s, s->st[MS_GET], 3, "ini", bufs, ints, "get");
    mysql_stmt_free_result(s->st[MS_GET]);
    kl_buf_free(&scratch);
    if (r == 0)
        return kl__my_notfound(s);
    if (r < 0)
        return r;
    *id = ints[0];
    if (sum) {
        *sum_null = ints[1] != 0;
        *stored_ns = ints[2];
    }
    return 0;
}

/* The catalogue row and the entry table are read by two statements:
 * a rewrite between them reads as a checksum mismatch, so both are read
 * again, twice at most (damage stays a mismatch). */
int kl__my_ca_get(my_state *s, const void *key, size_t klen, kl_buf *val)
{
    kl_buf sum = KL_BUF_INIT;
    int r = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        int64_t id, ns = 0;
        bool null = true;
        r = ca_find(s, key, klen, true, &id, &sum, &null, &ns);
        if (!r)
            r = kl__my_ca_entry_get(s, id, val, "get");
        if (!r)
            r = kl__my_check_sum(s, key, klen, val, &sum, null, ns);
        if (r != KL_ECORRUPT)
            break;
    }
    kl_buf_free(&sum);
    return r;
}

static int ca_upsert(void *db, const void *key, size_t klen, int64_t now_ns, int64_t nbytes,
                     const uint8_t *sum, int64_t *id, bool *inserted)
{
    my_state *s = db;
    MYSQL_BIND b[5];
    my_key k;
    unsigned long sumlen;
    kl__my_key_init(&k, key, klen);
    b[0] = k.b[0];
    b[1] = k.b[1];
    kl__my_bind_int(&b[2], &now_ns);
    kl__my_bind_int(&b[3], &nbytes);
    kl__my_bind_blob(&b[4], sum, &sumlen, KL_SQL_SUM_LEN);
    int r = kl__my_run(s, MS_CAT_UPSERT, b, false, "put");
    if (r)
        return r;
    MYSQL_STMT *st = s->st[MS_CAT_UPSERT];
    *id = (int64_t)mysql_stmt_insert_id(st);
    *inserted = mysql_stmt_affected_rows(st) == 1;
    return 0;
}

/* The row's first value failed: take the row and table away again (the
 * CREATE TABLE committed the row; see mysql.h), keeping the failure's
 * code and message. */
static void ca_undo_new(my_state *s, int64_t id, int r)
{
    if (!s->conn)
        return; /* lost: nothing can be done now */
    char *saved = strdup(kl_errmsg());
    MYSQL_BIND b;
    kl__my_bind_int(&b, &id);
    if (kl__my_run(s, MS_CAT_DEL, &b, false, "put") == 0)
        my_entry_stmt(s, KL_SQL_ENTRY_DROP, id, NULL, 0);
    kl_seterr(r, "%s", saved ? saved : "put failed");
    free(saved);
}

static int ca_entry(void *db, int op, int64_t id, const void *blob, size_t n, kl_buf *val)
{
    (void)val;
    my_state *s = db;
    int r = my_entry_stmt(s, op, id, blob, n);
    if (r && op == KL_SQL_ENTRY_PUT_NEW)
        ca_undo_new(s, id, r);
    return r;
}

static int ca_unlink(void *db, const void *key, size_t klen, int64_t *id)
{
    my_state *s = db;
    int r = ca_find(s, key, klen, false, id, NULL, NULL, NULL);
    if (r)
        return r;
    MYSQL_BIND b;
    kl__my_bind_int(&b, id);
    return kl__my_run(s, MS_CAT_DEL, &b, false, "delete");
}

/* Under the writers' lock (kl__my_lock). */
int kl__my_ca_put(my_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    kl__sql_catalog_ops ops = {s, ca_upsert, ca_unlink, ca_entry};
    return kl__sql_catalog_put(&ops, key, klen, val, vlen);
}

/* Under the writers' lock. */
int kl__my_ca_del(my_state *s, const void *key, size_t klen)
{
    kl__sql_catalog_ops ops = {s, ca_upsert, ca_unlink, ca_entry};
    return kl__sql_catalog_del(&ops, key, klen);
}

/* Every entry table, then the catalogue rows, a slice at a time. */
int kl__my_ca_clear(my_state *s)
{
    for (;;) {
        if (mysql_real_query(s->conn, "SELECT id FROM " KL_SQL_CATALOGUE " ORDER BY id LIMIT 100",
                             strlen("SELECT id FROM " KL_SQL_CATALOGUE " ORDER BY id LIMIT 100")))
            return kl__my_err(s, "clear");
        MYSQL_RES *res = mysql_store_result(s->conn);
        if (!res)
            return kl__my_err(s, "clear");
        kl_buf drop = KL_BUF_INIT, del = KL_BUF_INIT;
        int r = kl_buf_append_str(&drop, "DROP TABLE IF EXISTS ");
        r = r ? r : kl_buf_append_str(&del, "DELETE FROM " KL_SQL_CATALOGUE " WHERE id IN (");
        MYSQL_ROW row;
        int n = 0;
        while (!r && (row = mysql_fetch_row(res))) {
            char name[KL_SQL_ENTRY_NAME_MAX];
            kl__sql_entry_table(name, strtoll(row[0], NULL, 10));
            r = kl_buf_printf(&drop, "%s\"%s\"", n ? ", " : "", name);
            r = r ? r : kl_buf_printf(&del, "%s%s", n ? ", " : "", row[0]);
            n++;
        }
        mysql_free_result(res);
        r = r ? r : kl_buf_append_str(&del, ")");
        if (r || !kl_buf_cstr(&drop) || !kl_buf_cstr(&del))
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
        if (!r && n > 0)
            r = kl__my_exec(s, (const char *)del.data, "clear");
        if (!r && n > 0)
            r = kl__my_exec(s, (const char *)drop.data, "clear");
        kl_buf_free(&drop);
        kl_buf_free(&del);
        if (r || n == 0)
            return r;
    }
}
