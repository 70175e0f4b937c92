/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql: the backend's slots for both layouts, and the backend
 * itself (under both URL schemes).  See postgres.h. */
#define _GNU_SOURCE
#include "archive/backend/postgres/postgres.h"


/* ---- sqltable layout -------------------------------------------------- */

static int tb_put(pg_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    pg_key k;
    uint8_t now[8], size[8], sum[KL_SQL_SUM_LEN];
    int64_t ns = kl__now_ns();
    kl__sql_sum(key, klen, val, vlen, ns, sum);
    kl__pg_key_init(&k, key, klen);
    kl__pg_put_int8(now, ns);
    kl__pg_put_int8(size, (int64_t)(klen + vlen));
    k.vals[2] = vlen ? val : "";
    k.lens[2] = (int)vlen;
    k.vals[3] = (const char *)now;
    k.lens[3] = 8;
    k.vals[4] = (const char *)size;
    k.lens[4] = 8;
    k.vals[5] = (const char *)sum;
    k.lens[5] = KL_SQL_SUM_LEN;
    PGresult *res;
    int r = kl__pg_run(s, ST_PUT, 6, k.vals, k.lens, false, &res, "put");
    if (r)
        return r;
    if (strcmp(PQcmdTuples(res), "1") != 0)
        r = kl_seterr(KL_EBACKEND, "%s: put: another key with the same digest is stored", s->url);
    PQclear(res);
    return r;
}

/* ---- slots ------------------------------------------------------------ */

int kl__pg_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    pg_state *s = state;
    if (!s->table)
        return kl__pg_ca_get(s, key, klen, val);
    pg_key k;
    kl__pg_key_init(&k, key, klen);
    PGresult *res;
    int r = kl__pg_run(s, ST_GET, 2, k.vals, k.lens, true, &res, "get");
    if (r)
        return r;
    r = PQntuples(res) < 1 ? kl__pg_notfound(s) : kl__pg_copy_out(res, 0, 0, val);
    if (!r)
        r = kl__pg_check_sum(s, res, 0, 1, key, klen, val);
    PQclear(res);
    return r;
}

static int pg_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    pg_state *s = state;
    int r = kl__pg_writable(s);
    if (!r)
        r = kl__pg_check_size(s, klen, vlen);
    if (r)
        return r;
    if (s->table)
        return tb_put(s, key, klen, val, vlen);
    if ((r = kl__pg_begin(s)))
        return r;
    r = kl__pg_ca_put_in_txn(s, key, klen, val, vlen);
    if (!r)
        r = kl__pg_commit(s);
    kl__pg_rollback(s);
    return r;
}

static int pg_del(void *state, const void *key, size_t klen)
{
    pg_state *s = state;
    int r = kl__pg_writable(s);
    if (r)
        return r;
    if (s->table) {
        pg_key k;
        kl__pg_key_init(&k, key, klen);
        PGresult *res;
        if ((r = kl__pg_run(s, ST_DEL, 2, k.vals, k.lens, false, &res, "delete")))
            return r;
        r = strcmp(PQcmdTuples(res), "0") == 0 ? kl__pg_notfound(s) : 0;
        PQclear(res);
        return r;
    }
    if ((r = kl__pg_begin(s)))
        return r;
    r = kl__pg_ca_del_in_txn(s, key, klen);
    if (!r)
        r = kl__pg_commit(s);
    kl__pg_rollback(s);
    return r;
}

static int pg_contains(void *state, const void *key, size_t klen)
{
    pg_state *s = state;
    pg_key k;
    kl__pg_key_init(&k, key, klen);
    PGresult *res;
    int r = kl__pg_run(s, ST_HAS, 2, k.vals, k.lens, true, &res, "contains");
    if (r)
        return r;
    r = PQntuples(res) > 0;
    PQclear(res);
    return r;
}

static int pg_count(void *state, size_t *out)
{
    pg_state *s = state;
    PGresult *res;
    int r = kl__pg_run(s, ST_COUNT, 0, NULL, NULL, true, &res, "count");
    if (r)
        return r;
    *out = (size_t)kl__pg_int8(res, 0, 0);
    PQclear(res);
    return 0;
}

static int pg_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    pg_state *s = state;
    pg_key k;
    kl__pg_key_init(&k, key, klen);
    PGresult *res;
    int r = kl__pg_run(s, ST_STAT, 2, k.vals, k.lens, true, &res, "stat");
    if (r)
        return r;
    if (PQntuples(res) < 1) {
        r = kl__pg_notfound(s);
    } else {
        out->stored_ns = kl__pg_int8(res, 0, 0);
        out->size = (uint64_t)kl__pg_int8(res, 0, 1);
    }
    PQclear(res);
    return r;
}

static int pg_clear(void *state)
{
    pg_state *s = state;
    int r = kl__pg_writable(s);
    if (r || (r = kl__pg_ready(s)))
        return r;
    if (!s->table)
        return kl__pg_ca_clear(s);
    kl_buf sql = KL_BUF_INIT;
    r = kl_buf_printf(&sql, "DELETE FROM %s", (const char *)s->qtable.data);
    r = r ? r : kl_buf_cstr(&sql) ? kl__pg_exec(s, (const char *)sql.data, "clear") : KL_ENOMEM;
    kl_buf_free(&sql);
    return r;
}

static int pg_drop(void *state)
{
    pg_state *s = state;
    int r = kl__pg_writable(s);
    if (r || (r = kl__pg_ready(s)))
        return r;
    if (!s->table) {
        r = kl__pg_ca_clear(s);
        return r ? r : kl__pg_exec(s, "DROP TABLE IF EXISTS " KL_SQL_CATALOGUE, "drop");
    }
    kl_buf sql = KL_BUF_INIT;
    r = kl_buf_printf(&sql, "DROP TABLE IF EXISTS %s", (const char *)s->qtable.data);
    r = r ? r : kl_buf_cstr(&sql) ? kl__pg_exec(s, (const char *)sql.data, "drop") : KL_ENOMEM;
    kl_buf_free(&sql);
    return r;
}

/* Read the results of `n` pipelined puts and the sync after them.  The
 * first failure is reported; the rest of the chunk is drained. */
static int pg_describe(void *state, kl_buf *out)
{
    pg_state *s = state;
    int r = kl__pg_connect(s);
    if (r)
        return r;
    int v = PQserverVersion(s->conn);
    r = kl_buf_printf(out, "backend=postgresql\nserver_version=%d.%d\nlibpq_version=%d\nlayout=%s\n",
                      v / 10000, v % 10000, PQlibVersion(), s->table ? "sqltable" : "sql_archive");
    if (!r && s->table)
        r = kl_buf_printf(out, "table=%s\n", s->table);
    if (!r)
        r = kl_buf_printf(out, "host=%s\nport=%s\ndatabase=%s\nuser=%s\n", PQhost(s->conn),
                          PQport(s->conn), PQdb(s->conn), PQuser(s->conn));
    return r;
}

/* The cleaner lock of size limits: a session advisory lock, tried
 * without waiting, keyed by the hash of the table (or the catalogue)
 * name; released by pg_advisory_unlock, or by the server when the
 * connection goes. */
static int pg_cleaner_lock(void *state, bool take)
{
    pg_state *s = state;
    int r = kl__pg_connect(s);
    if (r)
        return take ? r : 0;
    char name[600];
    snprintf(name, sizeof name, "klepto cleaner %s", s->table ? s->table : KL_SQL_CATALOGUE);
    const char *vals[1] = {name};
    PGresult *res = PQexecParams(s->conn,
                                 take ? "SELECT pg_try_advisory_lock(hashtext($1))"
                                      : "SELECT pg_advisory_unlock(hashtext($1))",
                                 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        r = take ? kl__pg_err_res(s, res, "cleaner lock") : 0;
        PQclear(res);
        return r;
    }
    bool got = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return take ? got : 0;
}

#define PG_BACKEND(sch)                                                                          \
    {                                                                                            \
        .version = KL_BACKEND_VERSION, .scheme = sch, .flags = 0, .open = kl__pg_open,               \
        .close = kl__pg_close, .get = kl__pg_get, .put = pg_put, .del = pg_del, .contains = pg_contains, \
        .count = pg_count, .stat = pg_stat, .clear = pg_clear, .sync = NULL, .drop = pg_drop,    \
        .put_many = kl__pg_put_many, .get_many = kl__pg_get_many, .describe = pg_describe,              \
        .iter_new = kl__pg_iter_new, .iter_next = kl__pg_iter_next, .iter_free = kl__pg_iter_free,           \
        .cleaner_lock = pg_cleaner_lock,                                                         \
    }

const kl_archive_backend kl__backend_postgresql = PG_BACKEND("postgresql");
/* libpq accepts both URI schemes */
const kl_archive_backend kl__backend_postgres = PG_BACKEND("postgres");
