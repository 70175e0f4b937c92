/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql: the sql_archive layout (a catalogue and one table per key),
 * its steps run for util/sql_catalog.c.  See postgres.h. */
#define _GNU_SOURCE
#include "archive/backend/postgres/postgres.h"

#include <stdlib.h>

/* Entry statement op (KL_SQL_ENTRY_*) on the table of id; `val` receives
 * column 0 of row 0 when given. KL_ENOTFOUND when the table is gone
 * (deleted meanwhile). */
int kl__pg_ca_entry_sql(pg_state *s, int op, int64_t id, const void *blob, size_t n,
                        kl_buf *val, const char *what)
{
    char name[KL_SQL_ENTRY_NAME_MAX], sql[160];
    kl__sql_entry_sql(&kl__sql_dialect_postgres, op, id, sql, sizeof sql, name);
    const char *vals[1] = {n ? blob : ""};
    int lens[1] = {(int)n}, fmts[1] = {1};
    PGresult *res = PQexecParams(s->conn, sql, blob ? 1 : 0, NULL, vals, lens, fmts, 1);
    ExecStatusType st = PQresultStatus(res);
    int r = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        r = kl__pg_sqlstate_is(res, "42P01") ? kl__pg_notfound(s) : kl__pg_err_res(s, res, what);
    else if (val && PQntuples(res) < 1)
        r = kl_seterr(KL_ECORRUPT, "%s: entry table %s is empty", s->url, name);
    else if (val)
        r = kl__pg_copy_out(res, 0, 0, val);
    PQclear(res);
    return r;
}

/* Run a catalogue statement taking the key and returning its table id:
 * *id, or KL_ENOTFOUND when the key has no row. */
static int ca_key_to_id(pg_state *s, int stmt, bool idempotent, const void *key, size_t klen,
                        const char *what, int64_t *id)
{
    pg_key k;
    kl__pg_key_init(&k, key, klen);
    PGresult *res;
    int r = kl__pg_run(s, stmt, 2, k.vals, k.lens, idempotent, &res, what);
    if (r)
        return r;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return kl__pg_notfound(s);
    }
    *id = kl__pg_int8(res, 0, 0);
    PQclear(res);
    return 0;
}

int kl__pg_ca_get(pg_state *s, const void *key, size_t klen, kl_buf *val)
{
    pg_key k;
    kl__pg_key_init(&k, key, klen);
    PGresult *res;
    int r = kl__pg_run(s, ST_CAT_FIND, 2, k.vals, k.lens, true, &res, "get");
    if (r)
        return r;
    if (PQntuples(res) < 1)
        r = kl__pg_notfound(s);
    /* deleted between the two reads: KL_ENOTFOUND, which is the truth now;
     * rewritten between them (two statements, two snapshots): a checksum
     * mismatch, so both are read again, twice at most; damage stays */
    for (int attempt = 0; !r; attempt++) {
        r = kl__pg_ca_entry_sql(s, KL_SQL_ENTRY_GET, kl__pg_int8(res, 0, 0), NULL, 0, val, "get");
        if (!r)
            r = kl__pg_check_sum(s, res, 0, 1, key, klen, val);
        if (r != KL_ECORRUPT || attempt >= 2)
            break;
        PQclear(res);
        if ((r = kl__pg_run(s, ST_CAT_FIND, 2, k.vals, k.lens, true, &res, "get")))
            return r;
        r = PQntuples(res) < 1 ? kl__pg_notfound(s) : 0;
    }
    PQclear(res);
    return r;
}

/* The upsert step of kl__sql_catalog_put: one statement inserts the row
 * or updates the one of an equal key (a different key with the same
 * digest is refused). */
static int ca_upsert(void *db, const void *key, size_t klen, int64_t now_ns, int64_t nbytes,
                     const uint8_t *sum, int64_t *id, bool *inserted)
{
    pg_state *s = db;
    pg_key k;
    uint8_t now[8], size[8];
    kl__pg_key_init(&k, key, klen);
    kl__pg_put_int8(now, now_ns);
    kl__pg_put_int8(size, nbytes);
    k.vals[2] = (const char *)now;
    k.lens[2] = 8;
    k.vals[3] = (const char *)size;
    k.lens[3] = 8;
    k.vals[4] = (const char *)sum;
    k.lens[4] = KL_SQL_SUM_LEN;
    PGresult *res;
    int r = kl__pg_run(s, ST_CAT_UPSERT, 5, k.vals, k.lens, false, &res, "put");
    if (r)
        return r;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return kl_seterr(KL_EBACKEND, "%s: put: another key with the same digest is stored",
                         s->url);
    }
    *id = kl__pg_int8(res, 0, 0);
    *inserted = PQgetvalue(res, 0, 1)[0] != 0;
    PQclear(res);
    return 0;
}

/* The unlink step of kl__sql_catalog_del. */
static int ca_unlink(void *db, const void *key, size_t klen, int64_t *id)
{
    return ca_key_to_id(db, ST_CAT_DEL, false, key, klen, "delete", id);
}

static int ca_entry(void *db, int op, int64_t id, const void *blob, size_t n, kl_buf *val)
{
    return kl__pg_ca_entry_sql(db, op, id, blob, n, val, kl__sql_dialect_postgres.entry_what[op]);
}

/* Inside a transaction. */
int kl__pg_ca_put_in_txn(pg_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    kl__sql_catalog_ops ops = {s, ca_upsert, ca_unlink, ca_entry};
    return kl__sql_catalog_put(&ops, key, klen, val, vlen);
}

/* Inside a transaction. */
int kl__pg_ca_del_in_txn(pg_state *s, const void *key, size_t klen)
{
    kl__sql_catalog_ops ops = {s, ca_upsert, ca_unlink, ca_entry};
    return kl__sql_catalog_del(&ops, key, klen);
}

/* Every entry table, then the catalogue rows, a slice per transaction:
 * each dropped table holds a lock until commit, and the lock table is
 * small. */
int kl__pg_ca_clear(pg_state *s)
{
    for (;;) {
        int r = kl__pg_begin(s);
        if (r)
            return r;
        PGresult *res = PQexec(s->conn, "DELETE FROM " KL_SQL_CATALOGUE " WHERE id IN (SELECT id "
                                        "FROM " KL_SQL_CATALOGUE " ORDER BY id LIMIT 100) "
                                        "RETURNING id");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            r = kl__pg_err_res(s, res, "clear");
            PQclear(res);
            kl__pg_rollback(s);
            return r;
        }
        int n = PQntuples(res);
        kl_buf sql = KL_BUF_INIT;
        r = kl_buf_append_str(&sql, "DROP TABLE IF EXISTS ");
        for (int i = 0; !r && i < n; i++) {
            char name[KL_SQL_ENTRY_NAME_MAX];
            kl__sql_entry_table(name, strtoll(PQgetvalue(res, i, 0), NULL, 10));
            r = kl_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", name);
        }
        PQclear(res);
        if (!r && n > 0)
            r = kl_buf_cstr(&sql) ? kl__pg_exec(s, (const char *)sql.data, "clear") : KL_ENOMEM;
        kl_buf_free(&sql);
        if (!r)
            r = kl__pg_commit(s);
        kl__pg_rollback(s);
        if (r || n == 0)
            return r;
    }
}
