/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: the sql_archive layout (a catalogue and one table per key):
 * the statement cache of entry tables and the catalogue steps, run for
 * util/sql_catalog.c.  See sqlite.h. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"

#include <stdio.h>
#include <stdlib.h>

/* The catalogue id of key: 1 found (*id set), 0 absent, or an error. */
int kl__sq_ca_find(sq_state *s, const void *key, size_t klen, int64_t *id)
{
    sqlite3_stmt *st = s->st[SQ_CAT_FIND];
    kl__sq_bind_blob(st, 1, key, klen);
    int rc = kl__sq_step(s, st), r;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        r = 1;
    } else {
        r = rc == SQLITE_DONE ? 0 : kl__sq_err(s, rc, "catalogue lookup");
    }
    kl__sq_reset(s, st);
    return r;
}

static void ec_evict(sq_entry_stmt *e)
{
    sqlite3_finalize(e->st);
    e->st = NULL;
}

/* The cached statement of (id, kind), or NULL with *slot set to where a
 * new one goes (a free slot, else the least recently used). */
static sqlite3_stmt *ec_find(sq_state *s, int64_t id, int kind, sq_entry_stmt **slot)
{
    sq_entry_stmt *victim = &s->ecache[0];
    for (int i = 0; i < SQ_ENTRY_CACHE; i++) {
        sq_entry_stmt *e = &s->ecache[i];
        if (e->st && e->id == id && e->kind == kind) {
            e->used = ++s->eclock;
            *slot = e;
            return e->st;
        }
        if (victim->st && (!e->st || e->used < victim->used))
            victim = e;
    }
    *slot = victim;
    return NULL;
}

/* Whether the entry table of id was read lately (remembering it if not). */
static bool ec_seen(sq_state *s, int64_t id)
{
    for (int i = 0; i < SQ_ENTRY_CACHE; i++)
        if (s->seen[i] == id)
            return true;
    s->seen[s->seen_next++ % SQ_ENTRY_CACHE] = id;
    return false;
}

/* Read the value of an entry table through sqlite3_blob_open, which builds
 * its small program directly instead of parsing SQL: about a third of the
 * instructions of preparing and stepping a SELECT.  1: read it with the
 * SELECT instead (no row 1, a value that is not a string or blob, ...:
 * that path names the problem).  A TEXT value (only another tool writes
 * one) reads as its bytes, here and there alike. */
static int ca_blob_get(sq_state *s, const char *name, kl_buf *val)
{
    sqlite3_blob *b = NULL;
    if (sqlite3_blob_open(s->db, "main", name, "value", 1, 0, &b) != SQLITE_OK) {
        sqlite3_blob_close(b);
        return 1;
    }
    int n = sqlite3_blob_bytes(b), r = 0;
    kl_buf_reset(val);
    if (n > 0 && !(r = kl_buf_reserve(val, (size_t)n))) {
        int rc = sqlite3_blob_read(b, val->data, n, 0);
        if (rc == SQLITE_OK)
            val->len = (size_t)n;
        else
            r = kl__sq_err(s, rc, "get");
    }
    sqlite3_blob_close(b);
    return r;
}

/* Run statement `kind` on the entry table of id, with an optional blob. */
int kl__sq_ca_entry_sql(sq_state *s, int kind, int64_t id, const void *blob, size_t n,
                        kl_buf *val)
{
    char name[KL_SQL_ENTRY_NAME_MAX];
    kl__sql_entry_table(name, id);
    /* the put into a table just created is not kept, as the next key's
     * CREATE TABLE would expire it anyway */
    bool cached = kind == KL_SQL_ENTRY_GET || kind == KL_SQL_ENTRY_PUT;
    sq_entry_stmt *slot = NULL;
    sqlite3_stmt *st = NULL;
    if (cached) {
        st = ec_find(s, id, kind, &slot);
        /* a table read once gets no statement; one read again does */
        if (!st && kind == KL_SQL_ENTRY_GET && val && !ec_seen(s, id)) {
            int r = ca_blob_get(s, name, val);
            if (r <= 0)
                return r;
        }
    } else if (kind == KL_SQL_ENTRY_DROP) {
        for (int i = 0; i < SQ_ENTRY_CACHE; i++)
            if (s->ecache[i].st && s->ecache[i].id == id)
                ec_evict(&s->ecache[i]);
    }
    if (!st) {
        char sql[160];
        snprintf(sql, sizeof sql, kl__sql_dialect_sqlite.entry[kind], name);
        int r = kl__sq_prepare(s, sql, &st, cached);
        /* the catalogue holds the id (in the caller's snapshot), so an
         * entry table that is missing or has no value column is damage */
        if (r == KL_EBACKEND && kind == KL_SQL_ENTRY_GET) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", kl_errmsg());
            r = kl_seterr(KL_ECORRUPT, "%s (the entry table of a stored key)", msg);
        }
        if (r)
            return r;
        if (cached) {
            ec_evict(slot);
            *slot = (sq_entry_stmt){st, id, kind, ++s->eclock};
        }
    }
    if (blob)
        kl__sq_bind_blob(st, 1, blob, n);
    int rc = kl__sq_step(s, st), r = 0;
    if (rc == SQLITE_ROW && val)
        r = kl__sq_column_copy(s, st, 0, val, true); /* as ca_blob_get reads it */
    else if (rc == SQLITE_DONE && val)
        r = kl_seterr(KL_ECORRUPT, "%s: entry table %s is empty", s->url, name);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = kl__sq_err(s, rc, kl__sql_dialect_sqlite.entry_what[kind]);
    if (!cached) {
        kl__sq_finalize(s, st);
    } else if (r) {
        kl__sq_reset(s, st);
        ec_evict(slot); /* not kept after a failure */
    } else {
        kl__sq_reset(s, st);
        sqlite3_clear_bindings(st); /* holds no pointer to the caller's value */
    }
    return r;
}

/* The catalogue row and the value come from one snapshot: the catalogue
 * statement stays active (not reset) while the entry table is read, and
 * SQLite ends an implicit read transaction only when its last active
 * statement is reset — so a single get needs no BEGIN / COMMIT. */
int kl__sq_ca_get(sq_state *s, const void *key, size_t klen, kl_buf *val)
{
    sqlite3_stmt *st = s->st[SQ_CAT_GET];
    kl__sq_bind_blob(st, 1, key, klen);
    int rc = kl__sq_step(s, st), r;
    if (rc == SQLITE_ROW) {
        r = kl__sq_ca_entry_sql(s, KL_SQL_ENTRY_GET, sqlite3_column_int64(st, 0), NULL, 0, val);
        /* the sum covers the key asked for: a damaged key index that
         * leads to another entry's row fails here */
        if (!r)
            r = kl__sq_check_sum(s, st, 1, key, klen, val);
    } else
        r = rc == SQLITE_DONE ? kl__sq_notfound(s) : kl__sq_err(s, rc, "catalogue lookup");
    kl__sq_reset(s, st);
    return r;
}

/* The upsert step of kl__sql_catalog_put.  The catalogue insert comes
 * first and does nothing for a key already there: a new key then costs one
 * catalogue statement, not a lookup and an insert (each re-prepared after
 * the previous key's CREATE TABLE changed the schema). */
static int ca_upsert(void *db, const void *key, size_t klen, int64_t now, int64_t size,
                     const uint8_t *sum, int64_t *id, bool *inserted)
{
    sq_state *s = db;
    sqlite3_stmt *st = s->st[SQ_CAT_INSERT];
    kl__sq_bind_blob(st, 1, key, klen);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, size);
    sqlite3_bind_blob(st, 4, sum, KL_SQL_SUM_LEN, SQLITE_TRANSIENT);
    int r = kl__sq_run(s, st, "catalogue insert");
    if (r)
        return r;
    if (sqlite3_changes(s->db) == 1) {
        *id = sqlite3_last_insert_rowid(s->db);
        *inserted = true;
        return 0;
    }
    if ((r = kl__sq_ca_find(s, key, klen, id)) <= 0)
        return r < 0 ? r
                     : kl_seterr(KL_ECORRUPT, "%s: catalogue refused a key it does not hold",
                                 s->url);
    st = s->st[SQ_CAT_TOUCH];
    sqlite3_bind_int64(st, 1, *id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, size);
    sqlite3_bind_blob(st, 4, sum, KL_SQL_SUM_LEN, SQLITE_TRANSIENT);
    return kl__sq_run(s, st, "catalogue update");
}

/* The unlink step of kl__sql_catalog_del. */
static int ca_unlink(void *db, const void *key, size_t klen, int64_t *id)
{
    sq_state *s = db;
    int r = kl__sq_ca_find(s, key, klen, id);
    if (r <= 0)
        return r < 0 ? r : kl__sq_notfound(s);
    sqlite3_stmt *st = s->st[SQ_CAT_DEL];
    sqlite3_bind_int64(st, 1, *id);
    return kl__sq_run(s, st, "catalogue delete");
}

static int ca_entry(void *db, int op, int64_t id, const void *blob, size_t n, kl_buf *val)
{
    return kl__sq_ca_entry_sql(db, op, id, blob, n, val);
}

/* Inside a write transaction. */
int kl__sq_ca_put_in_txn(sq_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    kl__sql_catalog_ops ops = {s, ca_upsert, ca_unlink, ca_entry};
    return kl__sql_catalog_put(&ops, key, klen, val, vlen);
}

/* Inside a write transaction. */
int kl__sq_ca_del_in_txn(sq_state *s, const void *key, size_t klen)
{
    kl__sql_catalog_ops ops = {s, ca_upsert, ca_unlink, ca_entry};
    return kl__sql_catalog_del(&ops, key, klen);
}

/* Drops every entry table and empties the catalogue (in a transaction). */
int kl__sq_ca_clear_in_txn(sq_state *s)
{
    sqlite3_stmt *st;
    int r = kl__sq_prepare(s, "SELECT id FROM " KL_SQL_CATALOGUE, &st, false);
    if (r)
        return r;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = kl__sq_step(s, st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            int64_t *p = realloc(ids, cap * sizeof *ids);
            if (!p) {
                r = kl_seterr(KL_ENOMEM, "%s: out of memory listing entries", s->url);
                break;
            }
            ids = p;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    if (!r && rc != SQLITE_DONE)
        r = kl__sq_err(s, rc, "clear");
    kl__sq_finalize(s, st);
    for (size_t i = 0; !r && i < n; i++)
        r = kl__sq_ca_entry_sql(s, KL_SQL_ENTRY_DROP, ids[i], NULL, 0, NULL);
    free(ids);
    return r ? r : kl__sq_exec(s, "DELETE FROM " KL_SQL_CATALOGUE, "clear");
}
