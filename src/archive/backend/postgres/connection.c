/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql: error messages, the prepared statements, the connection
 * (with its reconnect), transactions and key parameters.  See postgres.h. */
#define _GNU_SOURCE
#include "archive/backend/postgres/postgres.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xxhash.h>

/* libpq messages end with a newline and may span lines. */
static void pg_trim(char *m)
{
    size_t n = strlen(m);
    while (n && isspace((unsigned char)m[n - 1]))
        m[--n] = '\0';
    /* one line, single spaces */
    char *o = m;
    for (char *p = m; *p; p++) {
        char ch = isspace((unsigned char)*p) ? ' ' : *p;
        if (ch != ' ' || (o > m && o[-1] != ' '))
            *o++ = ch;
    }
    *o = '\0';
}

/* libpq prints notices (e.g. "table does not exist, skipping") to stderr
 * by default; the library never prints. */
static void pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int kl__pg_err_conn(pg_state *s, const char *what)
{
    char *m = strdup(s->conn ? PQerrorMessage(s->conn) : "out of memory");
    if (!m)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    pg_trim(m);
    int r = kl_seterr(KL_EBACKEND, "%s: %s: %s", s->url, what, m);
    free(m);
    return r;
}

int kl__pg_err_res(pg_state *s, const PGresult *res, const char *what)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", code ? code : "");
    if (!prim) /* no server message: the connection failed */
        return kl__pg_err_conn(s, what);
    return kl_seterr(KL_EBACKEND, "%s: %s: %s: %s (SQLSTATE %s)", s->url, what, sev ? sev : "ERROR",
                     prim, code ? code : "?");
}

bool kl__pg_sqlstate_is(const PGresult *res, const char *code)
{
    const char *c = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return c && strcmp(c, code) == 0;
}

int kl__pg_notfound(pg_state *s) { return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url); }

int kl__pg_writable(pg_state *s)
{
    return s->read_only ? kl_seterr(KL_EPERM, "%s: opened read-only", s->url) : 0;
}

int kl__pg_check_size(pg_state *s, size_t klen, size_t vlen)
{
    if (klen >= PG_FIELD_MAX || vlen >= PG_FIELD_MAX)
        return kl_seterr(KL_ETOOBIG, "%s: key or value over PostgreSQL's 1 GiB field limit",
                         s->url);
    return 0;
}

const char *const kl__pg_st_names[ST_NSTMT] = {
    "kl__get", "kl__put", "kl__del", "kl__has", "kl__count", "kl__stat",
    "kl__page_k", "kl__page_kv", "kl__cat_find", "kl__cat_upsert", "kl__cat_del",
};

/* The SQL of statement i for this layout, or NULL when it has none. */
static char *pg_stmt_sql(pg_state *s, int i)
{
    const char *t = (const char *)s->qtable.data;
    /* reads take the sum and stored_ns (NULL: unchecked) */
    const char *sum = s->has_sum ? "sum" : "NULL::bytea";
    char *sql = NULL;
    int n = 0;
    if (s->table) {
        switch (i) {
        case ST_GET:
            n = asprintf(&sql, "SELECT value, %s, stored_ns FROM %s WHERE kid = $1 AND key = $2",
                         sum, t);
            break;
        case ST_PUT:
            if (!s->has_sum)
                return NULL; /* read-only */
            n = asprintf(&sql,
                         "INSERT INTO %s AS t (kid, key, value, stored_ns, size, sum) "
                         "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO UPDATE SET "
                         "value = EXCLUDED.value, stored_ns = EXCLUDED.stored_ns, "
                         "size = EXCLUDED.size, sum = EXCLUDED.sum WHERE t.key = EXCLUDED.key",
                         t);
            break;
        case ST_DEL:
            n = asprintf(&sql, "DELETE FROM %s WHERE kid = $1 AND key = $2", t);
            break;
        case ST_HAS:
            n = asprintf(&sql, "SELECT 1 FROM %s WHERE kid = $1 AND key = $2", t);
            break;
        case ST_COUNT:
            n = asprintf(&sql, "SELECT count(*) FROM %s", t);
            break;
        case ST_STAT:
            n = asprintf(&sql, "SELECT stored_ns, size FROM %s WHERE kid = $1 AND key = $2", t);
            break;
        case ST_PAGE_K:
            n = asprintf(&sql, "SELECT kid, key FROM %s WHERE kid > $1 ORDER BY kid LIMIT %d", t,
                         PG_PAGE);
            break;
        case ST_PAGE_KV:
            n = asprintf(&sql,
                         "SELECT kid, key, value, %s, stored_ns FROM %s WHERE kid > $1 "
                         "ORDER BY kid LIMIT %d",
                         sum, t, PG_PAGE / 4);
            break;
        default:
            return NULL;
        }
    } else {
        const char *c = KL_SQL_CATALOGUE;
        switch (i) {
        case ST_HAS:
            n = asprintf(&sql, "SELECT 1 FROM %s WHERE kid = $1 AND key = $2", c);
            break;
        case ST_COUNT:
            n = asprintf(&sql, "SELECT count(*) FROM %s", c);
            break;
        case ST_STAT:
            n = asprintf(&sql, "SELECT stored_ns, size FROM %s WHERE kid = $1 AND key = $2", c);
            break;
        case ST_PAGE_K:
            /* $1 is an id here, sent as 8 binary bytes */
            n = asprintf(&sql,
                         "SELECT id, key, %s, stored_ns FROM %s WHERE id > $1::bigint "
                         "ORDER BY id LIMIT %d",
                         sum, c, PG_PAGE);
            break;
        case ST_CAT_FIND:
            n = asprintf(&sql, "SELECT id, %s, stored_ns FROM %s WHERE kid = $1 AND key = $2", sum,
                         c);
            break;
        case ST_CAT_UPSERT:
            if (!s->has_sum)
                return NULL; /* read-only */
            n = asprintf(&sql,
                         "INSERT INTO %s AS c (kid, key, stored_ns, size, sum) "
                         "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO UPDATE SET "
                         "stored_ns = EXCLUDED.stored_ns, size = EXCLUDED.size, "
                         "sum = EXCLUDED.sum WHERE c.key = EXCLUDED.key "
                         "RETURNING id, (xmax = 0) AS inserted",
                         c);
            break;
        case ST_CAT_DEL:
            n = asprintf(&sql, "DELETE FROM %s WHERE kid = $1 AND key = $2 RETURNING id", c);
            break;
        default:
            return NULL;
        }
    }
    return n < 0 ? NULL : sql;
}

/* ---- connection ------------------------------------------------------- */

int kl__pg_prepare_all(pg_state *s)
{
    for (int i = 0; i < ST_NSTMT; i++) {
        char *sql = pg_stmt_sql(s, i);
        if (!sql)
            continue;
        PGresult *res = PQprepare(s->conn, kl__pg_st_names[i], sql, 0, NULL);
        free(sql);
        int r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : kl__pg_err_res(s, res, "prepare");
        PQclear(res);
        if (r)
            return r;
    }
    s->prepared = true;
    return 0;
}

/* After a dropped connection, the server may still be running the last
 * command sent on it (a put whose answer was lost): it would then land
 * after whatever the new connection does next -- a delete acknowledged
 * now, undone by that put committing later.  So the lost session is
 * ended first: its backend (found by its process id, among this role's
 * sessions) is terminated, and waited for until it is gone, up to 10 s.
 * Its last command has then either committed or not, for good. */
static int pg_end_lost_session(pg_state *s, int pid)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %d "
             "AND usename = current_user AND pid <> pg_backend_pid()",
             pid);
    struct timespec nap = {0, 10000000};
    for (int waited = 0;; waited += 10) {
        PGresult *res = PQexec(s->conn, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            int r = kl__pg_err_res(s, res, "reconnect: end the lost session");
            PQclear(res);
            return r;
        }
        int left = PQntuples(res);
        PQclear(res);
        if (!left)
            return 0;
        if (waited >= 10000)
            return kl_seterr(KL_EBUSY,
                             "%s: reconnect: the lost session (server process %d) does not end",
                             s->url, pid);
        nanosleep(&nap, NULL);
    }
}

/* Connect (or reconnect after a drop).  Statements are prepared later,
 * once the tables exist. */
int kl__pg_connect(pg_state *s)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    int lost_pid = s->conn ? s->backend_pid : 0;
    s->backend_pid = 0;
    if (s->conn)
        PQfinish(s->conn);
    s->prepared = false;
    s->in_txn = false;
    s->conn = PQconnectdb(s->conninfo);
    if (!s->conn)
        return kl_seterr(KL_ENOMEM, "%s: out of memory connecting", s->url);
    if (PQstatus(s->conn) != CONNECTION_OK)
        return kl__pg_err_conn(s, "connect");
    PQsetNoticeProcessor(s->conn, pg_ignore_notice, NULL);
    s->backend_pid = PQbackendPID(s->conn);
    return lost_pid ? pg_end_lost_session(s, lost_pid) : 0;
}

int kl__pg_ready(pg_state *s)
{
    int r = kl__pg_connect(s);
    if (!r && !s->prepared)
        r = kl__pg_prepare_all(s);
    return r;
}

static int pg_reconnect(void *state)
{
    return kl__pg_ready(state);
}

/* Run prepared statement i with binary parameters and results.  `read`:
 * idempotent, so retried once on a fresh connection if this one dropped.
 * Returns 0 and *out (to PQclear), or an error (*out NULL). */
int kl__pg_run(pg_state *s, int i, int nparams, const char *const *vals, const int *lens,
                  bool read, PGresult **out, const char *what)
{
    static const int fmts[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        int r = kl__pg_ready(s);
        if (r)
            return r;
        PGresult *res = PQexecPrepared(s->conn, kl__pg_st_names[i], nparams, vals, lens, fmts, 1);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            *out = res;
            return 0;
        }
        bool dropped = PQstatus(s->conn) != CONNECTION_OK;
        r = kl__pg_err_res(s, res, what);
        PQclear(res);
        if (!dropped || !read || attempt > 0 || s->in_txn)
            return r;
        if ((r = kl__archive_reconnect(pg_reconnect, s)))
            return r;
    }
}

/* Run SQL text (no parameters) on the current connection. */
int kl__pg_exec(pg_state *s, const char *sql, const char *what)
{
    int r = kl__pg_connect(s);
    if (r)
        return r;
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : kl__pg_err_res(s, res, what);
    PQclear(res);
    return r;
}

int kl__pg_begin(pg_state *s)
{
    int r = kl__pg_ready(s);
    if (!r)
        r = kl__pg_exec(s, "BEGIN", "begin transaction");
    s->in_txn = r == 0;
    return r;
}

int kl__pg_commit(pg_state *s)
{
    int r = kl__pg_exec(s, "COMMIT", "commit");
    s->in_txn = false;
    return r;
}

/* Undo a failed transaction without replacing the failure's message. */
void kl__pg_rollback(pg_state *s)
{
    if (!s->in_txn)
        return;
    s->in_txn = false;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* ---- key parameters --------------------------------------------------- */

void kl__pg_kid(uint8_t kid[16], const void *key, size_t klen)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(key, klen));
    memcpy(kid, c.digest, 16);
}

void kl__pg_key_init(pg_key *k, const void *key, size_t klen)
{
    kl__pg_kid(k->kid, key, klen);
    k->vals[0] = (const char *)k->kid;
    k->lens[0] = (int)sizeof k->kid;
    /* libpq sends a NULL pointer as SQL NULL */
    k->vals[1] = klen ? key : "";
    k->lens[1] = (int)klen;
}

int64_t kl__pg_int8(const PGresult *res, int row, int col)
{
    const uint8_t *p = (const uint8_t *)PQgetvalue(res, row, col);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

void kl__pg_put_int8(uint8_t *p, int64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v = (int64_t)((uint64_t)v >> 8);
    }
}

int kl__pg_copy_out(const PGresult *res, int row, int col, kl_buf *out)
{
    kl_buf_reset(out);
    return kl_buf_append(out, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

int kl__pg_check_sum(pg_state *s, const PGresult *res, int row, int col, const void *key,
                     size_t klen, const kl_buf *val)
{
    bool null = PQgetisnull(res, row, col);
    return kl__sql_sum_check(s->url, key, klen, val->data, val->len,
                             PQgetlength(res, row, col + 1) == 8 ? kl__pg_int8(res, row, col + 1)
                                                                 : 0,
                             null ? NULL : PQgetvalue(res, row, col),
                             null ? 0 : (size_t)PQgetlength(res, row, col), null);
}
