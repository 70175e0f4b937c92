/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql: error messages, the connection (with its reconnect), prepared
 * statements, transactions, the sql_archive writers' lock and statement
 * parameters.  See mysql.h. */
#define _GNU_SOURCE
#include "archive/backend/mysql/mysql.h"

#include <errmsg.h>
#include <pthread.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xxhash.h>

#include "archive/reconnect.h"

#ifndef ER_CONNECTION_KILLED
#define ER_CONNECTION_KILLED 1927
#endif

/* ---- errors ----------------------------------------------------------- */

bool kl__my_errno_lost(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONN_HOST_ERROR ||
           e == CR_CONNECTION_ERROR || e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN ||
           e == 2055 /* CR_SERVER_LOST_EXTENDED */ || e == 4031 /* MySQL: idle disconnect */;
}

static bool my_errno_toobig(unsigned e)
{
    return e == ER_NET_PACKET_TOO_LARGE || e == CR_NET_PACKET_TOO_LARGE;
}

static int my_err_code(my_state *s, unsigned e, const char *msg, const char *state,
                       const char *what)
{
    s->last_errno = e;
    int code = my_errno_toobig(e) ? KL_ETOOBIG : KL_EBACKEND;
    if (kl__my_errno_lost(e))
        kl__my_disconnect(s); /* the next call connects afresh */
    return kl_seterr(code, "%s: %s: %s (error %u, SQLSTATE %s)", s->url, what,
                     msg && *msg ? msg : "unknown error", e, state && *state ? state : "?");
}

int kl__my_err(my_state *s, const char *what)
{
    if (!s->conn)
        return kl_seterr(KL_EBACKEND, "%s: %s: not connected", s->url, what);
    /* copy: disconnecting frees the connection's message */
    char msg[512], state[6];
    snprintf(msg, sizeof msg, "%s", mysql_error(s->conn));
    snprintf(state, sizeof state, "%s", mysql_sqlstate(s->conn));
    return my_err_code(s, mysql_errno(s->conn), msg, state, what);
}

int kl__my_err_stmt(my_state *s, MYSQL_STMT *st, const char *what)
{
    char msg[512], state[6];
    snprintf(msg, sizeof msg, "%s", mysql_stmt_error(st));
    snprintf(state, sizeof state, "%s", mysql_stmt_sqlstate(st));
    unsigned e = mysql_stmt_errno(st);
    if (e == ER_BAD_NULL_ERROR) /* the upsert's refusal (see my_stmt_sql) */
        return (s->last_errno = e),
               kl_seterr(KL_EBACKEND, "%s: %s: another key with the same digest is stored", s->url,
                         what);
    return my_err_code(s, e, msg, state, what);
}

int kl__my_notfound(my_state *s)
{
    return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
}

int kl__my_writable(my_state *s)
{
    return s->read_only ? kl_seterr(KL_EPERM, "%s: opened read-only", s->url) : 0;
}

int kl__my_check_size(my_state *s, size_t klen, size_t vlen)
{
    unsigned long max = s->max_packet ? s->max_packet : 4UL << 20;
    if (klen > max || vlen > max || klen + vlen + MY_PACKET_SLACK > max)
        return kl_seterr(KL_ETOOBIG,
                         "%s: a key of %zu bytes and a value of %zu bytes do not fit in the "
                         "server's max_allowed_packet (%lu bytes)",
                         s->url, klen, vlen, max);
    return 0;
}

/* ---- statements ------------------------------------------------------- */

/* The SQL of statement i for this layout, or NULL when it has none.  An
 * upsert of a row whose key differs (same digest) sets a NOT NULL column
 * to NULL, which strict mode refuses (ER_BAD_NULL_ERROR): a collision is
 * an error, never a merge. */
static char *my_stmt_sql(my_state *s, int i)
{
    const char *t = (const char *)s->qtable.data;
    /* reads take the sum and stored_ns (NULL: unchecked) */
    const char *sum = s->has_sum ? "\"sum\"" : "NULL";
    char *sql = NULL;
    int n = 0;
    if (s->table) {
        switch (i) {
        case MS_GET:
            n = asprintf(&sql, "SELECT value, %s, stored_ns FROM %s WHERE kid = ? AND \"key\" = ?",
                         sum, t);
            break;
        case MS_PUT:
            n = asprintf(&sql,
                         "INSERT INTO %s (kid, \"key\", value, stored_ns, size, \"sum\") VALUES "
                         "(?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
                         "value = IF(\"key\" = VALUES(\"key\"), VALUES(value), NULL), "
                         "stored_ns = VALUES(stored_ns), size = VALUES(size), "
                         "\"sum\" = VALUES(\"sum\")",
                         t);
            break;
        case MS_DEL:
            n = asprintf(&sql, "DELETE FROM %s WHERE kid = ? AND \"key\" = ?", t);
            break;
        case MS_HAS:
            n = asprintf(&sql, "SELECT 1 FROM %s WHERE kid = ? AND \"key\" = ?", t);
            break;
        case MS_COUNT:
            n = asprintf(&sql, "SELECT count(*) FROM %s", t);
            break;
        case MS_STAT:
            n = asprintf(&sql, "SELECT stored_ns, size FROM %s WHERE kid = ? AND \"key\" = ?", t);
            break;
        case MS_PAGE_K:
            n = asprintf(&sql, "SELECT kid, \"key\" FROM %s WHERE kid > ? ORDER BY kid LIMIT %d", t,
                         MY_PAGE);
            break;
        case MS_PAGE_KV:
            n = asprintf(&sql,
                         "SELECT kid, \"key\", value, %s, stored_ns FROM %s WHERE kid > ? "
                         "ORDER BY kid LIMIT %d",
                         sum, t, MY_PAGE / 4);
            break;
        default:
            return NULL;
        }
    } else {
        const char *c = KL_SQL_CATALOGUE;
        switch (i) {
        case MS_GET: /* the key's id, sum and stored_ns */
            n = asprintf(&sql, "SELECT id, %s, stored_ns FROM %s WHERE kid = ? AND \"key\" = ?",
                         sum, c);
            break;
        case MS_HAS:
            n = asprintf(&sql, "SELECT 1 FROM %s WHERE kid = ? AND \"key\" = ?", c);
            break;
        case MS_COUNT:
            n = asprintf(&sql, "SELECT count(*) FROM %s", c);
            break;
        case MS_STAT:
            n = asprintf(&sql, "SELECT stored_ns, size FROM %s WHERE kid = ? AND \"key\" = ?", c);
            break;
        case MS_PAGE_K:
            n = asprintf(&sql,
                         "SELECT id, \"key\", %s, stored_ns FROM %s WHERE id > ? ORDER BY id "
                         "LIMIT %d",
                         sum, c, MY_PAGE);
            break;
        case MS_CAT_UPSERT:
            /* LAST_INSERT_ID(id): the insert id of an update is the row's */
            n = asprintf(&sql,
                         "INSERT INTO %s (kid, \"key\", stored_ns, size, \"sum\") VALUES "
                         "(?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), "
                         "stored_ns = IF(\"key\" = VALUES(\"key\"), VALUES(stored_ns), NULL), "
                         "size = VALUES(size), \"sum\" = VALUES(\"sum\")",
                         c);
            break;
        case MS_CAT_DEL:
            n = asprintf(&sql, "DELETE FROM %s WHERE id = ?", c);
            break;
        default:
            return NULL;
        }
    }
    return n < 0 ? NULL : sql;
}

/* The prepared statement i, prepared on first use on this connection. */
static int my_stmt(my_state *s, int i, MYSQL_STMT **out, const char *what)
{
    if (s->st[i]) {
        *out = s->st[i];
        return 0;
    }
    char *sql = my_stmt_sql(s, i);
    if (!sql)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    MYSQL_STMT *st = mysql_stmt_init(s->conn);
    if (!st) {
        free(sql);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    int r = 0;
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)))
        r = kl__my_err_stmt(s, st, what);
    free(sql);
    if (r) {
        mysql_stmt_close(st);
        return r;
    }
    *out = s->st[i] = st;
    return 0;
}

/* ---- connection ------------------------------------------------------- */

void kl__my_disconnect(my_state *s)
{
    for (int i = 0; i < MS_NSTMT; i++) {
        if (s->st[i])
            mysql_stmt_close(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->batch_st)
        mysql_stmt_close(s->batch_st);
    s->batch_st = NULL;
    if (s->conn) {
        unsigned long id = mysql_thread_id(s->conn); /* 0: never connected */
        if (id)
            s->lost_thread = id;
        mysql_close(s->conn);
    }
    s->conn = NULL;
    s->in_txn = false;
    s->locked = false; /* the server releases a dead session's locks */
}

static int my_read_max_packet(my_state *s)
{
    if (mysql_real_query(s->conn, "SELECT @@max_allowed_packet", 27))
        return kl__my_err(s, "connect");
    MYSQL_RES *res = mysql_store_result(s->conn);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (!row || !row[0]) {
        if (res)
            mysql_free_result(res);
        return kl__my_err(s, "connect");
    }
    s->max_packet = strtoul(row[0], NULL, 10);
    mysql_free_result(res);
    return 0;
}

/* mysql_init initialises the client library on first use, which is not
 * safe from two threads at once: done once here instead. */
static pthread_once_t my_library_once = PTHREAD_ONCE_INIT;
static int my_library_rc;
static void my_library_init(void)
{
    my_library_rc = mysql_library_init(0, NULL, NULL);
}

/* After a dropped connection, the server may still be running the last
 * command sent on it (a put whose answer was lost): it would then land
 * after whatever the new connection does next -- a delete acknowledged
 * now, undone by that put committing later.  So the last session is ended
 * first (KILL: a session of the same user needs no privilege), and waited
 * for until it has left the process list, up to 10 s.  Its last command
 * has then either committed or not, for good. */
static int my_end_lost_session(my_state *s)
{
    unsigned long id = s->lost_thread;
    if (!id)
        return 0;
    char sql[120];
    int n = snprintf(sql, sizeof sql, "KILL CONNECTION %lu", id);
    if (mysql_real_query(s->conn, sql, (unsigned long)n) &&
        mysql_errno(s->conn) != ER_NO_SUCH_THREAD)
        return kl__my_err(s, "reconnect: end the lost session");
    n = snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %lu", id);
    struct timespec nap = {0, 10000000};
    for (int waited = 0;; waited += 10) {
        if (mysql_real_query(s->conn, sql, (unsigned long)n))
            return kl__my_err(s, "reconnect: end the lost session");
        MYSQL_RES *res = mysql_store_result(s->conn);
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        bool gone = row && row[0] && strtoul(row[0], NULL, 10) == 0;
        bool ok = row && row[0];
        if (res)
            mysql_free_result(res);
        if (!ok)
            return kl__my_err(s, "reconnect: end the lost session");
        if (gone) {
            s->lost_thread = 0;
            return 0;
        }
        if (waited >= 10000)
            return kl_seterr(KL_EBUSY,
                             "%s: reconnect: the lost session (server thread %lu) does not end",
                             s->url, id);
        nanosleep(&nap, NULL);
    }
}

int kl__my_connect(my_state *s)
{
    if (s->conn)
        return 0;
    pthread_once(&my_library_once, my_library_init);
    if (my_library_rc)
        return kl_seterr(KL_EBACKEND, "%s: the MySQL client library failed to start", s->url);
    s->conn = mysql_init(NULL);
    if (!s->conn)
        return kl_seterr(KL_ENOMEM, "%s: out of memory connecting", s->url);
    static const char *const init =
        "SET SESSION sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'";
    static const enum mysql_option ssl_keys[5] = {MYSQL_OPT_SSL_CA, MYSQL_OPT_SSL_CAPATH,
                                                  MYSQL_OPT_SSL_CERT, MYSQL_OPT_SSL_KEY,
                                                  MYSQL_OPT_SSL_CIPHER};
    unsigned timeout = s->timeout;
    mysql_options(s->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(s->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(s->conn, MYSQL_INIT_COMMAND, init);
    mysql_options(s->conn, MYSQL_READ_DEFAULT_GROUP, NULL);
    for (int i = 0; i < 5; i++)
        if (s->ssl_opt[i])
            mysql_options(s->conn, ssl_keys[i], s->ssl_opt[i]);
    if (s->ssl >= 0) {
        my_bool on = s->ssl > 0;
        mysql_options(s->conn, MYSQL_OPT_SSL_ENFORCE, &on);
    }
    if (s->ssl_verify >= 0) {
        my_bool on = s->ssl_verify > 0;
        mysql_options(s->conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    }
    if (!mysql_real_connect(s->conn, s->host, s->user, s->pass, s->db, s->port, s->socket, 0)) {
        int r = kl__my_err(s, "connect");
        kl__my_disconnect(s);
        return r;
    }
    /* Connector/C 3.3 lets ssl enforcement pass against a server without
     * TLS unless the certificate is verified too: checked here. */
    if (s->ssl > 0 && !mysql_get_ssl_cipher(s->conn)) {
        kl__my_disconnect(s);
        return kl_seterr(KL_EBACKEND, "%s: connect: ssl=true, but the server does not offer TLS",
                         s->url);
    }
    int r = my_read_max_packet(s);
    return r ? r : my_end_lost_session(s);
}

int kl__my_ready(my_state *s)
{
    return kl__my_connect(s);
}

static int my_reconnect(void *state)
{
    return kl__my_connect(state);
}

/* Run SQL text (connecting first) and read its result into *res (NULL
 * for a statement that has none). */
static int my_query(my_state *s, const char *sql, const char *what, MYSQL_RES **res)
{
    *res = NULL;
    int r = kl__my_connect(s);
    if (r)
        return r;
    if (mysql_real_query(s->conn, sql, (unsigned long)strlen(sql)))
        return kl__my_err(s, what);
    *res = mysql_store_result(s->conn);
    if (!*res && mysql_errno(s->conn))
        return kl__my_err(s, what);
    return 0;
}

/* Run SQL text; any result is read and dropped. */
int kl__my_exec(my_state *s, const char *sql, const char *what)
{
    MYSQL_RES *res;
    int r = my_query(s, sql, what, &res);
    if (res)
        mysql_free_result(res);
    return r;
}

/* Execute prepared statement i with `params`.  `read`: idempotent, so
 * retried once on a fresh connection if this one dropped (never inside a
 * transaction).  The caller fetches from s->st[i] and frees its result. */
int kl__my_run(my_state *s, int i, MYSQL_BIND *params, bool read, const char *what)
{
    for (int attempt = 0;; attempt++) {
        bool in_txn = s->in_txn;
        MYSQL_STMT *st = NULL;
        int r = kl__my_ready(s);
        if (!r)
            r = my_stmt(s, i, &st, what);
        if (!r && params && mysql_stmt_bind_param(st, params))
            r = kl__my_err_stmt(s, st, what);
        if (!r && mysql_stmt_execute(st))
            r = kl__my_err_stmt(s, st, what);
        if (!r || !read || attempt > 0 || in_txn || !kl__my_errno_lost(s->last_errno))
            return r;
        if ((r = kl__archive_reconnect(my_reconnect, s)))
            return r;
    }
}

/* Fetch the next row of st: columns by `types` ('b': into *bufs[c], 'i':
 * into ints[c], '-': skipped).  1 for a row, 0 at the end, or an error. */
int kl__my_fetch(my_state *s, MYSQL_STMT *st, int ncols, const char *types, kl_buf **bufs,
                 int64_t *ints, const char *what)
{
    MYSQL_BIND b[6];
    unsigned long lens[6] = {0};
    my_bool nulls[6] = {0};
    memset(b, 0, sizeof b);
    for (int c = 0; c < ncols; c++) {
        b[c].length = &lens[c];
        b[c].is_null = &nulls[c];
        if (types[c] == 'i') {
            b[c].buffer_type = MYSQL_TYPE_LONGLONG;
            b[c].buffer = &ints[c];
        } else {
            b[c].buffer_type = MYSQL_TYPE_BLOB;
        }
    }
    if (mysql_stmt_bind_result(st, b))
        return kl__my_err_stmt(s, st, what);
    int rc = mysql_stmt_fetch(st);
    if (rc == MYSQL_NO_DATA)
        return 0;
    if (rc == 1)
        return kl__my_err_stmt(s, st, what);
    for (int c = 0; c < ncols; c++) {
        if (types[c] == 'i')
            continue;
        if (types[c] == 'n')
            ints[c] = nulls[c] != 0;
        kl_buf *o = bufs[c];
        kl_buf_reset(o);
        if (lens[c] == 0)
            continue;
        if (kl_buf_reserve(o, lens[c]))
            return kl_seterr(KL_ENOMEM, "%s: %s: out of memory for %lu bytes", s->url, what,
                             lens[c]);
        MYSQL_BIND one;
        memset(&one, 0, sizeof one);
        one.buffer_type = MYSQL_TYPE_BLOB;
        one.buffer = o->data;
        one.buffer_length = lens[c];
        one.length = &lens[c];
        if (mysql_stmt_fetch_column(st, &one, (unsigned)c, 0))
            return kl__my_err_stmt(s, st, what);
        o->len = lens[c];
    }
    return 1;
}

/* ---- transactions and the writers' lock -------------------------------- */

int kl__my_begin(my_state *s)
{
    int r = kl__my_exec(s, "START TRANSACTION", "begin transaction");
    s->in_txn = r == 0;
    return r;
}

int kl__my_commit(my_state *s)
{
    int r = kl__my_exec(s, "COMMIT", "commit");
    s->in_txn = false;
    return r;
}

/* Undo a failed transaction without replacing the failure's message. */
void kl__my_rollback(my_state *s)
{
    if (!s->in_txn)
        return;
    s->in_txn = false;
    if (s->conn)
        mysql_real_query(s->conn, "ROLLBACK", 8);
}

int kl__my_query_true(my_state *s, const char *sql, const char *what)
{
    MYSQL_RES *res;
    int r = my_query(s, sql, what, &res);
    if (r)
        return r;
    if (!res)
        return kl_seterr(KL_EBACKEND, "%s: %s: the server returned no result", s->url, what);
    MYSQL_ROW row = mysql_fetch_row(res);
    bool yes = row && row[0] && row[0][0] == '1';
    mysql_free_result(res);
    return yes;
}

/* sql_archive writers, one at a time per database (see mysql.h). */
int kl__my_lock(my_state *s)
{
    kl_buf sql = KL_BUF_INIT;
    int r = kl_buf_printf(&sql, "SELECT GET_LOCK(%s, 120)", (const char *)s->lockname.data);
    if (r || !kl_buf_cstr(&sql)) {
        kl_buf_free(&sql);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    r = kl__my_query_true(s, (const char *)sql.data, "lock");
    kl_buf_free(&sql);
    if (r < 0)
        return r;
    if (!r)
        return kl_seterr(KL_EBACKEND, "%s: another writer held the catalogue's lock for 120 s",
                         s->url);
    s->locked = true;
    return 0;
}

void kl__my_unlock(my_state *s)
{
    if (!s->locked || !s->conn)
        return;
    s->locked = false;
    kl_buf sql = KL_BUF_INIT;
    if (!kl_buf_printf(&sql, "DO RELEASE_LOCK(%s)", (const char *)s->lockname.data) &&
        kl_buf_cstr(&sql))
        mysql_real_query(s->conn, (const char *)sql.data, (unsigned long)sql.len);
    kl_buf_free(&sql);
}

/* ---- parameters ------------------------------------------------------- */

void kl__my_kid(uint8_t kid[16], const void *key, size_t klen)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(key, klen));
    memcpy(kid, c.digest, 16);
}

void kl__my_bind_blob(MYSQL_BIND *b, const void *p, unsigned long *len, size_t n)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)(n ? p : "");
    *len = (unsigned long)n;
    b->buffer_length = *len;
    b->length = len;
}

void kl__my_bind_int(MYSQL_BIND *b, int64_t *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = v;
}

void kl__my_key_init(my_key *k, const void *key, size_t klen)
{
    kl__my_kid(k->kid, key, klen);
    kl__my_bind_blob(&k->b[0], k->kid, &k->lens[0], 16);
    kl__my_bind_blob(&k->b[1], key, &k->lens[1], klen);
}

int kl__my_check_sum(my_state *s, const void *key, size_t klen, const kl_buf *val,
                     const kl_buf *sum, bool null, int64_t stored_ns)
{
    return kl__sql_sum_check(s->url, key, klen, val->data, val->len, stored_ns,
                             null ? NULL : sum->data, null ? 0 : sum->len, null);
}
