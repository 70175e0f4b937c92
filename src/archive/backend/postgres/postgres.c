/*
 * postgresql: archives in a PostgreSQL database, through libpq.
 *
 *   postgresql://USER@HOST:PORT/DB?table=T   sqltable_archive: one table
 *       T(kid bytea PRIMARY KEY, key bytea NOT NULL, value bytea NOT NULL,
 *         stored_ns bigint NOT NULL, size bigint NOT NULL)
 *   postgresql://USER@HOST:PORT/DB           sql_archive: a catalogue
 *       klepto_catalogue(id bigint identity PRIMARY KEY, kid bytea UNIQUE,
 *         key bytea, stored_ns bigint, size bigint)
 *     and one table e<id>(value bytea NOT NULL) per key (ids never reused).
 *
 * kid is the XXH3-128 digest of the key: PostgreSQL's btree cannot index
 * values over ~2.7 kB, and keys may be any length.  Every lookup matches
 * kid *and* key, and an upsert only replaces a row whose key is equal, so a
 * digest collision is reported, never silently merged.
 *
 * Any other query option that libpq knows (sslmode, connect_timeout,
 * application_name, ...) is passed to libpq, and libpq's environment
 * (PGHOST, PGUSER, PGPASSWORD, ...) fills what the URL leaves out.  The
 * connect timeout defaults to 5 s.
 *
 * A dropped connection is re-established on the next call; a read that
 * failed because the connection dropped is retried once.  Writes are not
 * retried (the caller sees KL_EBACKEND with the server's message).
 *
 * Not marked thread-safe: one connection per handle, serialised by the
 * core.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"
#include "archive/backends.h"
#include "klepto/sys/archive_backend.h"
#include "archive/util/sql_names.h"

#define PG_NAME_MAX 63                 /* NAMEDATALEN - 1 */
#define PG_FIELD_MAX ((size_t)1 << 30) /* bytea: 1 GiB */
#define PG_PIPELINE_CHUNK 1000         /* queries between syncs in put_many */
#define PG_CATALOGUE_TXN 100           /* sql_archive: entries per transaction */
#define PG_PAGE 256                    /* rows per iteration page */

typedef struct pg_state {
    PGconn *conn;
    char *url;      /* for messages, password masked */
    char *conninfo; /* what libpq gets */
    char *table;    /* NULL: sql_archive layout */
    kl_buf qtable;  /* quoted, NUL-terminated */
    bool read_only;
    bool prepared; /* the statements exist on this connection */
    bool in_txn;
    char sqlstate[6]; /* of the last server error */
} pg_state;

typedef struct pg_key {
    uint8_t kid[16];
    const char *vals[5];
    int lens[5];
    int fmts[5];
} pg_key;

/* ---- errors ----------------------------------------------------------- */

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

static int pg_err_conn(pg_state *s, const char *what)
{
    char *m = strdup(s->conn ? PQerrorMessage(s->conn) : "out of memory");
    if (!m)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    pg_trim(m);
    int r = kl_seterr(KL_EBACKEND, "%s: %s: %s", s->url, what, m);
    free(m);
    return r;
}

static int pg_err_res(pg_state *s, const PGresult *res, const char *what)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", code ? code : "");
    if (!prim) /* no server message: the connection failed */
        return pg_err_conn(s, what);
    return kl_seterr(KL_EBACKEND, "%s: %s: %s: %s (SQLSTATE %s)", s->url, what, sev ? sev : "ERROR",
                     prim, code ? code : "?");
}

static bool pg_sqlstate_is(const PGresult *res, const char *code)
{
    const char *c = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return c && strcmp(c, code) == 0;
}

static int pg_notfound(pg_state *s) { return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url); }

static int pg_writable(pg_state *s)
{
    return s->read_only ? kl_seterr(KL_EPERM, "%s: opened read-only", s->url) : 0;
}

static int pg_check_size(pg_state *s, size_t klen, size_t vlen)
{
    if (klen >= PG_FIELD_MAX || vlen >= PG_FIELD_MAX)
        return kl_seterr(KL_ETOOBIG, "%s: key or value over PostgreSQL's 1 GiB field limit",
                         s->url);
    return 0;
}

/* ---- statements ------------------------------------------------------- */

enum {
    ST_GET,
    ST_PUT,
    ST_DEL,
    ST_HAS,
    ST_COUNT,
    ST_STAT,
    ST_PAGE_K,
    ST_PAGE_KV,
    ST_CAT_FIND,
    ST_CAT_UPSERT,
    ST_CAT_DEL,
    ST_NSTMT
};

static const char *const st_names[ST_NSTMT] = {
    "kl__get", "kl__put", "kl__del", "kl__has", "kl__count", "kl__stat",
    "kl__page_k", "kl__page_kv", "kl__cat_find", "kl__cat_upsert", "kl__cat_del",
};

/* The SQL of statement i for this layout, or NULL when it has none. */
static char *pg_stmt_sql(pg_state *s, int i)
{
    const char *t = (const char *)s->qtable.data;
    char *sql = NULL;
    int n = 0;
    if (s->table) {
        switch (i) {
        case ST_GET:
            n = asprintf(&sql, "SELECT value FROM %s WHERE kid = $1 AND key = $2", t);
            break;
        case ST_PUT:
            n = asprintf(&sql,
                         "INSERT INTO %s AS t (kid, key, value, stored_ns, size) "
                         "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO UPDATE SET "
                         "value = EXCLUDED.value, stored_ns = EXCLUDED.stored_ns, "
                         "size = EXCLUDED.size WHERE t.key = EXCLUDED.key",
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
                         "SELECT kid, key, value FROM %s WHERE kid > $1 ORDER BY kid LIMIT %d",
                         t, PG_PAGE / 4);
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
            n = asprintf(&sql, "SELECT id, key FROM %s WHERE id > $1::bigint ORDER BY id LIMIT %d",
                         c, PG_PAGE);
            break;
        case ST_CAT_FIND:
            n = asprintf(&sql, "SELECT id FROM %s WHERE kid = $1 AND key = $2", c);
            break;
        case ST_CAT_UPSERT:
            n = asprintf(&sql,
                         "INSERT INTO %s AS c (kid, key, stored_ns, size) VALUES ($1, $2, $3, $4) "
                         "ON CONFLICT (kid) DO UPDATE SET stored_ns = EXCLUDED.stored_ns, "
                         "size = EXCLUDED.size WHERE c.key = EXCLUDED.key "
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

static int pg_prepare_all(pg_state *s)
{
    for (int i = 0; i < ST_NSTMT; i++) {
        char *sql = pg_stmt_sql(s, i);
        if (!sql)
            continue;
        PGresult *res = PQprepare(s->conn, st_names[i], sql, 0, NULL);
        free(sql);
        int r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_err_res(s, res, "prepare");
        PQclear(res);
        if (r)
            return r;
    }
    s->prepared = true;
    return 0;
}

/* Connect (or reconnect after a drop).  Statements are prepared later,
 * once the tables exist. */
static int pg_connect(pg_state *s)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    if (s->conn)
        PQfinish(s->conn);
    s->prepared = false;
    s->in_txn = false;
    s->conn = PQconnectdb(s->conninfo);
    if (!s->conn)
        return kl_seterr(KL_ENOMEM, "%s: out of memory connecting", s->url);
    if (PQstatus(s->conn) != CONNECTION_OK)
        return pg_err_conn(s, "connect");
    PQsetNoticeProcessor(s->conn, pg_ignore_notice, NULL);
    return 0;
}

static int pg_ready(pg_state *s)
{
    int r = pg_connect(s);
    if (!r && !s->prepared)
        r = pg_prepare_all(s);
    return r;
}

static int pg_reconnect(void *state)
{
    return pg_ready(state);
}

/* Run prepared statement i with binary parameters and results.  `read`:
 * idempotent, so retried once on a fresh connection if this one dropped.
 * Returns 0 and *out (to PQclear), or an error (*out NULL). */
static int pg_run(pg_state *s, int i, int nparams, const char *const *vals, const int *lens,
                  bool read, PGresult **out, const char *what)
{
    static const int fmts[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        int r = pg_ready(s);
        if (r)
            return r;
        PGresult *res = PQexecPrepared(s->conn, st_names[i], nparams, vals, lens, fmts, 1);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            *out = res;
            return 0;
        }
        bool dropped = PQstatus(s->conn) != CONNECTION_OK;
        r = pg_err_res(s, res, what);
        PQclear(res);
        if (!dropped || !read || attempt > 0 || s->in_txn)
            return r;
        if ((r = kl__archive_reconnect(pg_reconnect, s)))
            return r;
    }
}

/* Run SQL text (no parameters) on the current connection. */
static int pg_exec(pg_state *s, const char *sql, const char *what)
{
    int r = pg_connect(s);
    if (r)
        return r;
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_err_res(s, res, what);
    PQclear(res);
    return r;
}

static int pg_begin(pg_state *s)
{
    int r = pg_ready(s);
    if (!r)
        r = pg_exec(s, "BEGIN", "begin transaction");
    s->in_txn = r == 0;
    return r;
}

static int pg_commit(pg_state *s)
{
    int r = pg_exec(s, "COMMIT", "commit");
    s->in_txn = false;
    return r;
}

/* Undo a failed transaction without replacing the failure's message. */
static void pg_rollback(pg_state *s)
{
    if (!s->in_txn)
        return;
    s->in_txn = false;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* ---- key parameters --------------------------------------------------- */

static void pg_kid(uint8_t kid[16], const void *key, size_t klen)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(key, klen));
    memcpy(kid, c.digest, 16);
}

static void pg_key_init(pg_key *k, const void *key, size_t klen)
{
    pg_kid(k->kid, key, klen);
    k->vals[0] = (const char *)k->kid;
    k->lens[0] = (int)sizeof k->kid;
    /* libpq sends a NULL pointer as SQL NULL */
    k->vals[1] = klen ? key : "";
    k->lens[1] = (int)klen;
}

static int64_t pg_int8(const PGresult *res, int row, int col)
{
    const uint8_t *p = (const uint8_t *)PQgetvalue(res, row, col);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static void pg_put_int8(uint8_t *p, int64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v = (int64_t)((uint64_t)v >> 8);
    }
}

static int pg_copy_out(const PGresult *res, int row, int col, kl_buf *out)
{
    kl_buf_reset(out);
    return kl_buf_append(out, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

/* ---- sqltable layout -------------------------------------------------- */

static int tb_put(pg_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    pg_key k;
    uint8_t now[8], size[8];
    pg_key_init(&k, key, klen);
    pg_put_int8(now, kl__now_ns());
    pg_put_int8(size, (int64_t)(klen + vlen));
    k.vals[2] = vlen ? val : "";
    k.lens[2] = (int)vlen;
    k.vals[3] = (const char *)now;
    k.lens[3] = 8;
    k.vals[4] = (const char *)size;
    k.lens[4] = 8;
    PGresult *res;
    int r = pg_run(s, ST_PUT, 5, k.vals, k.lens, false, &res, "put");
    if (r)
        return r;
    if (strcmp(PQcmdTuples(res), "1") != 0)
        r = kl_seterr(KL_EBACKEND, "%s: put: another key with the same digest is stored", s->url);
    PQclear(res);
    return r;
}

/* ---- sql_archive layout ----------------------------------------------- */

/* Dynamic SQL naming an entry table; `val` receives column 0 of row 0 when
 * given. KL_ENOTFOUND when the table is gone (deleted meanwhile). */
static int ca_entry_sql(pg_state *s, const char *fmt, int64_t id, const void *blob, size_t n,
                        kl_buf *val, const char *what)
{
    char name[KL_SQL_ENTRY_NAME_MAX], sql[160];
    kl__sql_entry_table(name, id);
    snprintf(sql, sizeof sql, fmt, name);
    const char *vals[1] = {n ? blob : ""};
    int lens[1] = {(int)n}, fmts[1] = {1};
    PGresult *res = PQexecParams(s->conn, sql, blob ? 1 : 0, NULL, vals, lens, fmts, 1);
    ExecStatusType st = PQresultStatus(res);
    int r = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        r = pg_sqlstate_is(res, "42P01") ? pg_notfound(s) : pg_err_res(s, res, what);
    else if (val && PQntuples(res) < 1)
        r = kl_seterr(KL_ECORRUPT, "%s: entry table %s is empty", s->url, name);
    else if (val)
        r = pg_copy_out(res, 0, 0, val);
    PQclear(res);
    return r;
}

/* Run a catalogue statement taking the key and returning its table id:
 * *id, or KL_ENOTFOUND when the key has no row. */
static int ca_key_to_id(pg_state *s, int stmt, bool idempotent, const void *key, size_t klen,
                        const char *what, int64_t *id)
{
    pg_key k;
    pg_key_init(&k, key, klen);
    PGresult *res;
    int r = pg_run(s, stmt, 2, k.vals, k.lens, idempotent, &res, what);
    if (r)
        return r;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return pg_notfound(s);
    }
    *id = pg_int8(res, 0, 0);
    PQclear(res);
    return 0;
}

static int ca_get(pg_state *s, const void *key, size_t klen, kl_buf *val)
{
    int64_t id;
    int r = ca_key_to_id(s, ST_CAT_FIND, true, key, klen, "get", &id);
    if (r)
        return r;
    /* deleted between the two reads: KL_ENOTFOUND, which is the truth now */
    return ca_entry_sql(s, "SELECT value FROM \"%s\" LIMIT 1", id, NULL, 0, val, "get");
}

/* Inside a transaction. */
static int ca_put_in_txn(pg_state *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    pg_key k;
    uint8_t now[8], size[8];
    pg_key_init(&k, key, klen);
    pg_put_int8(now, kl__now_ns());
    pg_put_int8(size, (int64_t)(klen + vlen));
    k.vals[2] = (const char *)now;
    k.lens[2] = 8;
    k.vals[3] = (const char *)size;
    k.lens[3] = 8;
    PGresult *res;
    int r = pg_run(s, ST_CAT_UPSERT, 4, k.vals, k.lens, false, &res, "put");
    if (r)
        return r;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return kl_seterr(KL_EBACKEND, "%s: put: another key with the same digest is stored",
                         s->url);
    }
    int64_t id = pg_int8(res, 0, 0);
    bool inserted = PQgetvalue(res, 0, 1)[0] != 0;
    PQclear(res);
    if (inserted) {
        r = ca_entry_sql(s, "CREATE TABLE \"%s\" (value bytea NOT NULL)", id, NULL, 0, NULL,
                         "create entry table");
        if (!r)
            r = ca_entry_sql(s, "INSERT INTO \"%s\" (value) VALUES ($1)", id, val, vlen, NULL,
                             "put");
        return r;
    }
    return ca_entry_sql(s, "UPDATE \"%s\" SET value = $1", id, val, vlen, NULL, "put");
}

static int ca_del_in_txn(pg_state *s, const void *key, size_t klen)
{
    int64_t id;
    int r = ca_key_to_id(s, ST_CAT_DEL, false, key, klen, "delete", &id);
    if (r)
        return r;
    return ca_entry_sql(s, "DROP TABLE IF EXISTS \"%s\"", id, NULL, 0, NULL, "drop entry table");
}

/* Every entry table, then the catalogue rows, a slice per transaction:
 * each dropped table holds a lock until commit, and the lock table is
 * small. */
static int ca_clear(pg_state *s)
{
    for (;;) {
        int r = pg_begin(s);
        if (r)
            return r;
        PGresult *res = PQexec(s->conn, "DELETE FROM " KL_SQL_CATALOGUE " WHERE id IN (SELECT id "
                                        "FROM " KL_SQL_CATALOGUE " ORDER BY id LIMIT 100) "
                                        "RETURNING id");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            r = pg_err_res(s, res, "clear");
            PQclear(res);
            pg_rollback(s);
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
            r = kl_buf_cstr(&sql) ? pg_exec(s, (const char *)sql.data, "clear") : KL_ENOMEM;
        kl_buf_free(&sql);
        if (!r)
            r = pg_commit(s);
        pg_rollback(s);
        if (r || n == 0)
            return r;
    }
}

/* ---- open / close ----------------------------------------------------- */


static int pg_append_escaped(kl_buf *b, const char *s)
{
    int r = 0;
    for (const unsigned char *p = (const unsigned char *)s; !r && *p; p++) {
        r = isalnum(*p) || strchr("-._~", *p) ? kl_buf_append(b, p, 1)
                                               : kl_buf_printf(b, "%%%02X", *p);
    }
    return r;
}

/* A libpq URI: ours minus our own options, plus defaults libpq lacks. */
static int pg_build_conninfo(pg_state *s, const kl_url *url)
{
    kl_buf b = KL_BUF_INIT;
    int r = kl_buf_printf(&b, "postgresql:%s", url->rest[0] ? url->rest : "//");
    PQconninfoOption *known = PQconndefaults();
    bool has_timeout = getenv("PGCONNECT_TIMEOUT") != NULL, has_app = false;
    char sep = '?';
    for (size_t i = 0; !r && i < url->nparams; i++) {
        const char *name = url->params[i].name;
        bool libpq = false;
        for (PQconninfoOption *o = known; o && o->keyword; o++) {
            if (strcmp(o->keyword, name) == 0)
                libpq = true;
        }
        if (!libpq)
            continue; /* ours, or unknown: the core rejects what nobody used */
        const char *v = kl_url_param_get(url, name);
        has_timeout |= strcmp(name, "connect_timeout") == 0;
        has_app |= strcmp(name, "application_name") == 0 ||
                   strcmp(name, "fallback_application_name") == 0;
        r = kl_buf_printf(&b, "%c", sep);
        r = r ? r : pg_append_escaped(&b, name);
        r = r ? r : kl_buf_append(&b, "=", 1);
        r = r ? r : pg_append_escaped(&b, v ? v : "");
        sep = '&';
    }
    PQconninfoFree(known);
    if (!r && !has_timeout) {
        r = kl_buf_printf(&b, "%cconnect_timeout=5", sep);
        sep = '&';
    }
    if (!r && !has_app)
        r = kl_buf_printf(&b, "%cfallback_application_name=klepto", sep);
    if (!r && !kl_buf_cstr(&b))
        r = KL_ENOMEM;
    if (r) {
        kl_buf_free(&b);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    s->conninfo = (char *)b.data; /* NUL-terminated by kl_buf_cstr */
    return 0;
}

/* Tables on first use.  An advisory lock makes concurrent first opens
 * safe: CREATE TABLE IF NOT EXISTS alone can still race in the catalog. */
static int pg_setup(pg_state *s, bool create)
{
    const char *qname = s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE;
    const char *params[1] = {qname};
    PGresult *res = PQexecParams(s->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, params,
                                 NULL, NULL, 0);
    int r = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        r = pg_err_res(s, res, "open");
    bool exists = !r && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (r || exists)
        return r;
    if (!create || s->read_only)
        return kl_seterr(KL_ENOTFOUND, "%s: no table %s in the database", s->url,
                         s->table ? s->table : KL_SQL_CATALOGUE);
    kl_buf sql = KL_BUF_INIT;
    if (s->table)
        r = kl_buf_printf(&sql,
                          "CREATE TABLE IF NOT EXISTS %s (kid bytea PRIMARY KEY, key bytea NOT "
                          "NULL, value bytea NOT NULL, stored_ns bigint NOT NULL, size bigint "
                          "NOT NULL)",
                          qname);
    else
        r = kl_buf_printf(&sql,
                          "CREATE TABLE IF NOT EXISTS %s (id bigint GENERATED BY DEFAULT AS "
                          "IDENTITY PRIMARY KEY, kid bytea NOT NULL UNIQUE, key bytea NOT NULL, "
                          "stored_ns bigint NOT NULL, size bigint NOT NULL)",
                          qname);
    if (r || !kl_buf_cstr(&sql)) {
        kl_buf_free(&sql);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    r = pg_exec(s, "BEGIN", "create table");
    if (!r) {
        s->in_txn = true;
        res = PQexecParams(s->conn, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, NULL, params,
                           NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            r = pg_err_res(s, res, "create table");
        PQclear(res);
    }
    if (!r)
        r = pg_exec(s, (const char *)sql.data, "create table");
    if (!r)
        r = pg_commit(s);
    pg_rollback(s);
    kl_buf_free(&sql);
    return r;
}

static int pg_close(void *state)
{
    pg_state *s = state;
    if (!s)
        return 0;
    if (s->conn)
        PQfinish(s->conn);
    free(s->url);
    free(s->conninfo);
    free(s->table);
    kl_buf_free(&s->qtable);
    free(s);
    return 0;
}

static int pg_open(void **out, const kl_url *url, const kl_archive_opts *opts)
{
    kl_archive_opts def = KL_ARCHIVE_OPTS_INIT;
    if (!opts)
        opts = &def;
    *out = NULL;
    pg_state *s = calloc(1, sizeof *s);
    if (!s || !(s->url = kl_archive_redact_url(url->full))) {
        free(s);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
    }
    s->read_only = opts->read_only;
    int r = 0;
    const char *t = kl_url_param_get(url, "table");
    if (t) {
        if ((r = kl__sql_check_table(s->url, t, PG_NAME_MAX)))
            goto fail;
        if (!(s->table = strdup(t)) || kl__sql_quote_ident(&s->qtable, t)) {
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
            goto fail;
        }
    }
    if (!kl_buf_cstr(&s->qtable)) {
        r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
        goto fail;
    }
    if ((r = pg_build_conninfo(s, url)) || (r = pg_connect(s)) ||
        (r = pg_setup(s, opts->create)) || (r = pg_prepare_all(s)))
        goto fail;
    *out = s;
    return 0;
fail:
    pg_close(s);
    return r;
}

/* ---- slots ------------------------------------------------------------ */

static int pg_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    pg_state *s = state;
    if (!s->table)
        return ca_get(s, key, klen, val);
    pg_key k;
    pg_key_init(&k, key, klen);
    PGresult *res;
    int r = pg_run(s, ST_GET, 2, k.vals, k.lens, true, &res, "get");
    if (r)
        return r;
    r = PQntuples(res) < 1 ? pg_notfound(s) : pg_copy_out(res, 0, 0, val);
    PQclear(res);
    return r;
}

static int pg_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    pg_state *s = state;
    int r = pg_writable(s);
    if (!r)
        r = pg_check_size(s, klen, vlen);
    if (r)
        return r;
    if (s->table)
        return tb_put(s, key, klen, val, vlen);
    if ((r = pg_begin(s)))
        return r;
    r = ca_put_in_txn(s, key, klen, val, vlen);
    if (!r)
        r = pg_commit(s);
    pg_rollback(s);
    return r;
}

static int pg_del(void *state, const void *key, size_t klen)
{
    pg_state *s = state;
    int r = pg_writable(s);
    if (r)
        return r;
    if (s->table) {
        pg_key k;
        pg_key_init(&k, key, klen);
        PGresult *res;
        if ((r = pg_run(s, ST_DEL, 2, k.vals, k.lens, false, &res, "delete")))
            return r;
        r = strcmp(PQcmdTuples(res), "0") == 0 ? pg_notfound(s) : 0;
        PQclear(res);
        return r;
    }
    if ((r = pg_begin(s)))
        return r;
    r = ca_del_in_txn(s, key, klen);
    if (!r)
        r = pg_commit(s);
    pg_rollback(s);
    return r;
}

static int pg_contains(void *state, const void *key, size_t klen)
{
    pg_state *s = state;
    pg_key k;
    pg_key_init(&k, key, klen);
    PGresult *res;
    int r = pg_run(s, ST_HAS, 2, k.vals, k.lens, true, &res, "contains");
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
    int r = pg_run(s, ST_COUNT, 0, NULL, NULL, true, &res, "count");
    if (r)
        return r;
    *out = (size_t)pg_int8(res, 0, 0);
    PQclear(res);
    return 0;
}

static int pg_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    pg_state *s = state;
    pg_key k;
    pg_key_init(&k, key, klen);
    PGresult *res;
    int r = pg_run(s, ST_STAT, 2, k.vals, k.lens, true, &res, "stat");
    if (r)
        return r;
    if (PQntuples(res) < 1) {
        r = pg_notfound(s);
    } else {
        out->stored_ns = pg_int8(res, 0, 0);
        out->size = (uint64_t)pg_int8(res, 0, 1);
    }
    PQclear(res);
    return r;
}

static int pg_clear(void *state)
{
    pg_state *s = state;
    int r = pg_writable(s);
    if (r || (r = pg_ready(s)))
        return r;
    if (!s->table)
        return ca_clear(s);
    kl_buf sql = KL_BUF_INIT;
    r = kl_buf_printf(&sql, "DELETE FROM %s", (const char *)s->qtable.data);
    r = r ? r : kl_buf_cstr(&sql) ? pg_exec(s, (const char *)sql.data, "clear") : KL_ENOMEM;
    kl_buf_free(&sql);
    return r;
}

static int pg_drop(void *state)
{
    pg_state *s = state;
    int r = pg_writable(s);
    if (r || (r = pg_ready(s)))
        return r;
    if (!s->table) {
        r = ca_clear(s);
        return r ? r : pg_exec(s, "DROP TABLE IF EXISTS " KL_SQL_CATALOGUE, "drop");
    }
    kl_buf sql = KL_BUF_INIT;
    r = kl_buf_printf(&sql, "DROP TABLE IF EXISTS %s", (const char *)s->qtable.data);
    r = r ? r : kl_buf_cstr(&sql) ? pg_exec(s, (const char *)sql.data, "drop") : KL_ENOMEM;
    kl_buf_free(&sql);
    return r;
}

/* Read the results of `n` pipelined puts and the sync after them.  The
 * first failure is reported; the rest of the chunk is drained. */
static int pg_pipeline_results(pg_state *s, size_t n)
{
    int r = 0;
    for (size_t i = 0; i <= n; i++) {
        PGresult *res = PQgetResult(s->conn);
        if (!res) {
            if (!r)
                r = pg_err_conn(s, "put_many");
            break;
        }
        ExecStatusType st = PQresultStatus(res);
        if (i == n) { /* the sync */
            if (st != PGRES_PIPELINE_SYNC && !r)
                r = pg_err_res(s, res, "put_many");
            PQclear(res);
            break;
        }
        if (!r && st != PGRES_COMMAND_OK)
            r = pg_err_res(s, res, "put_many");
        else if (!r && strcmp(PQcmdTuples(res), "1") != 0)
            r = kl_seterr(KL_EBACKEND, "%s: put_many: another key with the same digest is stored",
                          s->url);
        PQclear(res);
        PQclear(PQgetResult(s->conn)); /* the NULL that ends each query */
    }
    return r;
}

/* A batch in digest order: concurrent batches then lock rows in one
 * order and cannot deadlock each other.  Equal keys keep their order (the
 * last one wins). */
typedef struct pg_ord {
    uint8_t kid[16];
    size_t i;
} pg_ord;

static int pg_ord_cmp(const void *a, const void *b)
{
    const pg_ord *x = a, *y = b;
    int c = memcmp(x->kid, y->kid, 16);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* sqltable layout: one transaction, the upserts pipelined in chunks (a
 * round trip per chunk instead of per row). */
static int tb_put_many(pg_state *s, size_t n, const pg_ord *ord, const void *const *keys,
                       const size_t *klens, const void *const *vals, const size_t *vlens)
{
    static const int fmts[5] = {1, 1, 1, 1, 1};
    int r = pg_begin(s);
    if (r)
        return r;
    if (!PQenterPipelineMode(s->conn)) {
        r = pg_err_conn(s, "put_many");
        pg_rollback(s);
        return r;
    }
    int64_t now = kl__now_ns();
    for (size_t done = 0; !r && done < n;) {
        size_t m = n - done < PG_PIPELINE_CHUNK ? n - done : PG_PIPELINE_CHUNK;
        size_t sent = 0;
        for (; sent < m; sent++) {
            size_t i = ord[done + sent].i;
            uint8_t ts[8], size[8];
            pg_put_int8(ts, now);
            pg_put_int8(size, (int64_t)(klens[i] + vlens[i]));
            const char *pv[5] = {(const char *)ord[done + sent].kid, klens[i] ? keys[i] : "",
                                 vlens[i] ? vals[i] : "", (const char *)ts, (const char *)size};
            int pl[5] = {16, (int)klens[i], (int)vlens[i], 8, 8};
            /* libpq copies the parameters into its output buffer here */
            if (!PQsendQueryPrepared(s->conn, st_names[ST_PUT], 5, pv, pl, fmts, 1))
                break;
        }
        if (sent < m)
            r = pg_err_conn(s, "put_many");
        if (!PQpipelineSync(s->conn)) {
            r = r ? r : pg_err_conn(s, "put_many");
            break;
        }
        int rr = pg_pipeline_results(s, sent);
        r = r ? r : rr;
        done += m;
    }
    if (!PQexitPipelineMode(s->conn)) {
        /* results still pending (the connection failed mid-batch): start
         * afresh; the server rolls the transaction back */
        if (!r)
            r = pg_err_conn(s, "put_many");
        PQfinish(s->conn);
        s->conn = NULL;
        s->in_txn = false;
        s->prepared = false;
        return r;
    }
    if (!r)
        r = pg_commit(s);
    pg_rollback(s); /* nothing of a failed batch stays */
    return r;
}

/* sql_archive layout: each new entry table holds locks until commit, so
 * commit every PG_CATALOGUE_TXN entries. */
static int ca_put_many(pg_state *s, size_t n, const pg_ord *ord, const void *const *keys,
                       const size_t *klens, const void *const *vals, const size_t *vlens,
                       size_t *committed)
{
    int r = 0;
    for (size_t done = *committed; !r && done < n; done += PG_CATALOGUE_TXN) {
        if ((r = pg_begin(s)))
            break;
        for (size_t j = done; !r && j < n && j < done + PG_CATALOGUE_TXN; j++) {
            size_t i = ord[j].i;
            r = ca_put_in_txn(s, keys[i], klens[i], vals[i], vlens[i]);
        }
        if (!r)
            r = pg_commit(s);
        pg_rollback(s);
        if (!r)
            *committed = done + PG_CATALOGUE_TXN < n ? done + PG_CATALOGUE_TXN : n;
    }
    return r;
}

static int pg_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    pg_state *s = state;
    int r = pg_writable(s);
    for (size_t i = 0; !r && i < n; i++)
        r = pg_check_size(s, klens[i], vlens[i]);
    if (r || n == 0 || (r = pg_ready(s)))
        return r;
    pg_ord *ord = malloc(n * sizeof *ord);
    if (!ord)
        return kl_seterr(KL_ENOMEM, "%s: out of memory for a batch of %zu", s->url, n);
    for (size_t i = 0; i < n; i++) {
        pg_kid(ord[i].kid, keys[i], klens[i]);
        ord[i].i = i;
    }
    qsort(ord, n, sizeof *ord, pg_ord_cmp);
    /* A deadlock or serialisation failure rolled the transaction back:
     * running it again is safe. */
    size_t committed = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        s->sqlstate[0] = '\0';
        r = s->table ? tb_put_many(s, n, ord, keys, klens, vals, vlens)
                     : ca_put_many(s, n, ord, keys, klens, vals, vlens, &committed);
        if (!r || (strcmp(s->sqlstate, "40P01") && strcmp(s->sqlstate, "40001")))
            break;
    }
    free(ord);
    return r;
}

static int pg_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       kl_buf *vals, bool *found)
{
    int r = 0;
    for (size_t i = 0; !r && i < n; i++) {
        r = pg_get(state, keys[i], klens[i], &vals[i]);
        found[i] = r == 0;
        if (r == KL_ENOTFOUND)
            r = 0;
    }
    if (!r)
        kl_errclear(); /* the misses are not errors */
    return r;
}

static int pg_describe(void *state, kl_buf *out)
{
    pg_state *s = state;
    int r = pg_connect(s);
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

/* ---- iteration -------------------------------------------------------- */

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

static int pg_iter_new(void *state, void **cursor)
{
    pg_state *s = state;
    pg_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    c->s = s;
    if (!s->table) {
        pg_put_int8(c->last, INT64_MIN);
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
    int r = pg_run(s, kv ? ST_PAGE_KV : ST_PAGE_K, 1, vals, lens, true, &c->page, "iterate");
    if (r)
        return r;
    c->row = 0;
    c->nrows = PQntuples(c->page);
    c->values = kv;
    c->done = c->nrows < (kv ? PG_PAGE / 4 : PG_PAGE);
    return 0;
}

static int pg_iter_next(void *cursor, kl_buf *key, kl_buf *val)
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
        int r = pg_copy_out(c->page, row, 1, key);
        if (r || !val)
            return r ? r : 1;
        if (c->values)
            return (r = pg_copy_out(c->page, row, 2, val)) ? r : 1;
        /* a page without values: sqltable read by key, or the entry's own
         * table; an entry deleted since the page was read is skipped */
        if (s->table)
            r = pg_get(s, key->data ? key->data : (const uint8_t *)"", key->len, val);
        else
            r = ca_entry_sql(s, "SELECT value FROM \"%s\" LIMIT 1", pg_int8(c->page, row, 0), NULL,
                             0, val, "iterate");
        if (r != KL_ENOTFOUND)
            return r ? r : 1;
    }
}

static void pg_iter_free(void *cursor)
{
    pg_cursor *c = cursor;
    if (!c)
        return;
    PQclear(c->page);
    free(c);
}

#define PG_BACKEND(sch)                                                                          \
    {                                                                                            \
        .version = KL_BACKEND_VERSION, .scheme = sch, .flags = 0, .open = pg_open,               \
        .close = pg_close, .get = pg_get, .put = pg_put, .del = pg_del, .contains = pg_contains, \
        .count = pg_count, .stat = pg_stat, .clear = pg_clear, .sync = NULL, .drop = pg_drop,    \
        .put_many = pg_put_many, .get_many = pg_get_many, .describe = pg_describe,              \
        .iter_new = pg_iter_new, .iter_next = pg_iter_next, .iter_free = pg_iter_free,           \
    }

const kl_archive_backend kl__backend_postgresql = PG_BACKEND("postgresql");
/* libpq accepts both URI schemes */
const kl_archive_backend kl__backend_postgres = PG_BACKEND("postgres");
