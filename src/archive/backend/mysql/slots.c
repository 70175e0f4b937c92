/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql: the backend's slots for both layouts, and the backend itself
 * (under both URL schemes).  See mysql.h. */
#define _GNU_SOURCE
#include "archive/backend/mysql/mysql.h"

#include <inttypes.h>
#include <stdio.h>
#include <xxhash.h>

/* Run statement i on key and fetch one row of `types` (or none: 0). */
static int my_key_row(my_state *s, int i, const void *key, size_t klen, const char *types,
                      kl_buf **bufs, int64_t *ints, const char *what)
{
    my_key k;
    kl__my_key_init(&k, key, klen);
    int r = kl__my_run(s, i, k.b, true, what);
    if (r)
        return r;
    r = kl__my_fetch(s, s->st[i], (int)strlen(types), types, bufs, ints, what);
    if (s->st[i])
        mysql_stmt_free_result(s->st[i]);
    return r;
}

int kl__my_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    my_state *s = state;
    if (!s->table)
        return kl__my_ca_get(s, key, klen, val);
    kl_buf sum = KL_BUF_INIT;
    kl_buf *bufs[3] = {val, &sum, NULL};
    int64_t ints[3] = {0, 0, 0};
    int r = my_key_row(s, MS_GET, key, klen, "bni", bufs, ints, "get");
    r = r == 0 ? kl__my_notfound(s) : r < 0 ? r : 0;
    if (!r)
        r = kl__my_check_sum(s, key, klen, val, &sum, ints[1] != 0, ints[2]);
    kl_buf_free(&sum);
    return r;
}

static int my_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    my_state *s = state;
    int r = kl__my_writable(s);
    if (!r)
        r = kl__my_check_size(s, klen, vlen);
    if (r)
        return r;
    if (!s->table) {
        if ((r = kl__my_lock(s)))
            return r;
        r = kl__my_ca_put(s, key, klen, val, vlen);
        kl__my_unlock(s);
        return r;
    }
    MYSQL_BIND b[6];
    unsigned long lens[4];
    uint8_t kid[16], sum[KL_SQL_SUM_LEN];
    int64_t now = kl__now_ns(), size = (int64_t)(klen + vlen);
    kl__my_kid(kid, key, klen);
    kl__sql_sum(key, klen, val, vlen, now, sum);
    kl__my_bind_blob(&b[0], kid, &lens[0], 16);
    kl__my_bind_blob(&b[1], key, &lens[1], klen);
    kl__my_bind_blob(&b[2], val, &lens[2], vlen);
    kl__my_bind_int(&b[3], &now);
    kl__my_bind_int(&b[4], &size);
    kl__my_bind_blob(&b[5], sum, &lens[3], KL_SQL_SUM_LEN);
    return kl__my_run(s, MS_PUT, b, false, "put");
}

static int my_del(void *state, const void *key, size_t klen)
{
    my_state *s = state;
    int r = kl__my_writable(s);
    if (r)
        return r;
    if (!s->table) {
        if ((r = kl__my_lock(s)))
            return r;
        r = kl__my_ca_del(s, key, klen);
        kl__my_unlock(s);
        return r;
    }
    my_key k;
    kl__my_key_init(&k, key, klen);
    if ((r = kl__my_run(s, MS_DEL, k.b, false, "delete")))
        return r;
    return mysql_stmt_affected_rows(s->st[MS_DEL]) == 0 ? kl__my_notfound(s) : 0;
}

static int my_contains(void *state, const void *key, size_t klen)
{
    int64_t one[1];
    return my_key_row(state, MS_HAS, key, klen, "i", NULL, one, "contains");
}

static int my_count(void *state, size_t *out)
{
    my_state *s = state;
    int r = kl__my_run(s, MS_COUNT, NULL, true, "count");
    if (r)
        return r;
    int64_t n[1] = {0};
    r = kl__my_fetch(s, s->st[MS_COUNT], 1, "i", NULL, n, "count");
    if (s->st[MS_COUNT])
        mysql_stmt_free_result(s->st[MS_COUNT]);
    if (r < 0)
        return r;
    *out = (size_t)n[0];
    return 0;
}

static int my_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    my_state *s = state;
    int64_t v[2] = {0, 0};
    int r = my_key_row(s, MS_STAT, key, klen, "ii", NULL, v, "stat");
    if (r == 0)
        return kl__my_notfound(s);
    if (r < 0)
        return r;
    out->stored_ns = v[0];
    out->size = (uint64_t)v[1];
    return 0;
}

/* DELETE FROM or DROP TABLE IF EXISTS of the sqltable. */
static int my_table_sql(my_state *s, const char *verb, const char *what)
{
    kl_buf sql = KL_BUF_INIT;
    int r = kl_buf_printf(&sql, "%s %s", verb, (const char *)s->qtable.data);
    r = r                   ? kl_seterr(KL_ENOMEM, "%s: out of memory", s->url)
        : kl_buf_cstr(&sql) ? kl__my_exec(s, (const char *)sql.data, what)
                            : kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    kl_buf_free(&sql);
    return r;
}

static int my_clear(void *state)
{
    my_state *s = state;
    int r = kl__my_writable(s);
    if (r || (r = kl__my_ready(s)))
        return r;
    if (s->table)
        return my_table_sql(s, "DELETE FROM", "clear");
    if ((r = kl__my_lock(s)))
        return r;
    r = kl__my_ca_clear(s);
    kl__my_unlock(s);
    return r;
}

static int my_drop(void *state)
{
    my_state *s = state;
    int r = kl__my_writable(s);
    if (r || (r = kl__my_ready(s)))
        return r;
    if (s->table)
        return my_table_sql(s, "DROP TABLE IF EXISTS", "drop");
    if ((r = kl__my_lock(s)))
        return r;
    r = kl__my_ca_clear(s);
    if (!r)
        r = kl__my_exec(s, "DROP TABLE IF EXISTS " KL_SQL_CATALOGUE, "drop");
    kl__my_unlock(s);
    return r;
}

static int my_describe(void *state, kl_buf *out)
{
    my_state *s = state;
    int r = kl__my_connect(s);
    if (r)
        return r;
    r = kl_buf_printf(out, "backend=mysql\nserver_version=%s\nclient_version=%s\nlayout=%s\n",
                      mysql_get_server_info(s->conn), mysql_get_client_info(),
                      s->table ? "sqltable" : "sql_archive");
    if (!r && s->table)
        r = kl_buf_printf(out, "table=%s\n", s->table);
    if (!r)
        r = kl_buf_printf(out, "host=%s\ndatabase=%s\nuser=%s\nmax_allowed_packet=%lu\n",
                          mysql_get_host_info(s->conn), s->db, s->user ? s->user : "",
                          s->max_packet);
    return r;
}

/* The cleaner lock of size limits: GET_LOCK without waiting, named by
 * the database and the table (or the catalogue); released by
 * RELEASE_LOCK, or by the server when the connection goes. */
static int my_cleaner_lock(void *state, bool take)
{
    my_state *s = state;
    const char *t = s->table ? s->table : KL_SQL_CATALOGUE;
    uint64_t h = XXH3_64bits_withSeed(t, strlen(t), XXH3_64bits(s->db, strlen(s->db)));
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s('klepto_cleaner_%016" PRIx64 "'%s)",
             take ? "GET_LOCK" : "RELEASE_LOCK", h, take ? ", 0" : "");
    int r = kl__my_query_true(s, sql, "cleaner lock");
    return take ? r : 0;
}

#define MY_BACKEND(sch)                                                                            \
    {                                                                                              \
        .version = KL_BACKEND_VERSION, .scheme = sch, .flags = 0, .open = kl__my_open,             \
        .close = kl__my_close, .get = kl__my_get, .put = my_put, .del = my_del,                    \
        .contains = my_contains, .count = my_count, .stat = my_stat, .clear = my_clear,            \
        .sync = NULL, .drop = my_drop, .put_many = kl__my_put_many, .get_many = kl__my_get_many,   \
        .describe = my_describe, .iter_new = kl__my_iter_new, .iter_next = kl__my_iter_next,       \
        .iter_free = kl__my_iter_free, .del_many = kl__my_del_many,                                \
        .cleaner_lock = my_cleaner_lock,                                                           \
    }

const kl_archive_backend kl__backend_mysql = MY_BACKEND("mysql");
/* the same client and layouts */
const kl_archive_backend kl__backend_mariadb = MY_BACKEND("mariadb");
