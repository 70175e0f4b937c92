/* SPDX-License-Identifier: BSD-3-Clause */
/* mysql: opening (the URL, the connection options, the tables on first
 * use, a check that an existing table has our columns) and closing.  See
 * mysql.h. */
#define _GNU_SOURCE
#include "archive/backend/mysql/mysql.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <mysqld_error.h>
#include <xxhash.h>

#include "archive/url.h"

static int my_bad_url(my_state *s, const char *why)
{
    return kl_seterr(KL_EINVAL, "%s: %s (expected mysql://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE)",
                     s->url, why);
}

/* rest: "//[user[:pass]@][host][:port]/db" */
static int my_parse_rest(my_state *s, const char *rest)
{
    if (strncmp(rest, "//", 2))
        return my_bad_url(s, "expected // after the scheme");
    const char *p = rest + 2;
    size_t alen = strcspn(p, "/");
    const char *at = memrchr(p, '@', alen);
    bool bad = false;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon ? colon : at;
        if (uend > p && !(s->user = kl__pct_decode_dup(p, (size_t)(uend - p), &bad)))
            return bad ? my_bad_url(s, "bad percent escape in the user name") : KL_ENOMEM;
        if (colon && !(s->pass = kl__pct_decode_dup(colon + 1, (size_t)(at - colon - 1), &bad)))
            return bad ? my_bad_url(s, "bad percent escape in the password") : KL_ENOMEM;
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *hp = p, *hend, *port = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb)
            return my_bad_url(s, "unclosed [ in the host");
        hp = p + 1;
        hend = rb;
        if (rb + 1 < p + alen) {
            if (rb[1] != ':')
                return my_bad_url(s, "bad host");
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', alen);
        hend = colon ? colon : p + alen;
        port = colon ? colon + 1 : NULL;
    }
    if (hend > hp && !(s->host = kl__pct_decode_dup(hp, (size_t)(hend - hp), &bad)))
        return bad ? my_bad_url(s, "bad percent escape in the host") : KL_ENOMEM;
    if (port) {
        size_t pl = (size_t)(p + alen - port);
        unsigned long v = 0;
        for (size_t i = 0; i < pl && v <= 65535; i++) {
            if (!isdigit((unsigned char)port[i]))
                return my_bad_url(s, "bad port");
            v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (pl == 0 || v < 1 || v > 65535)
            return my_bad_url(s, "bad port (1..65535)");
        s->port = (unsigned)v;
    }
    const char *d = p + alen;
    if (*d != '/' || !d[1])
        return my_bad_url(s, "no database name");
    if (!(s->db = kl__pct_decode_dup(d + 1, strlen(d + 1), &bad)))
        return bad ? my_bad_url(s, "bad percent escape in the database name") : KL_ENOMEM;
    if (strlen(s->db) > MY_NAME_MAX)
        return my_bad_url(s, "database name longer than 64 bytes");
    return 0;
}

static int my_opt_str(my_state *s, const kl_url *url, const char *name, char **out)
{
    const char *v = kl_url_param_get(url, name);
    if (v && !(*out = strdup(v)))
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    return 0;
}

static int my_opt_bool(const kl_url *url, const char *name, int *out)
{
    bool b = false;
    *out = -1;
    if (!kl_url_param_get(url, name))
        return 0;
    int r = kl_url_bool(url, name, &b);
    if (!r)
        *out = b;
    return r;
}

static int my_parse_opts(my_state *s, const kl_url *url)
{
    static const char *const ssl_names[5] = {"ssl_ca", "ssl_capath", "ssl_cert", "ssl_key",
                                             "ssl_cipher"};
    int r = my_parse_rest(s, url->rest);
    uint64_t timeout = 5;
    if (!r)
        r = kl_url_uint(url, "connect_timeout", 1, 3600, &timeout);
    s->timeout = (unsigned)timeout;
    if (!r)
        r = my_opt_str(s, url, "socket", &s->socket);
    for (int i = 0; !r && i < 5; i++)
        r = my_opt_str(s, url, ssl_names[i], &s->ssl_opt[i]);
    if (!r)
        r = my_opt_bool(url, "ssl", &s->ssl);
    if (!r)
        r = my_opt_bool(url, "ssl_verify_server_cert", &s->ssl_verify);
    const char *t = r ? NULL : kl_url_param_get(url, "table");
    if (t) {
        if ((r = kl__sql_check_table(s->url, t, MY_NAME_MAX)))
            return r;
        if (t[strlen(t) - 1] == ' ')
            return kl_seterr(KL_EINVAL, "%s: table=%s: MySQL names may not end with a space",
                             s->url, t);
        if (kl__sql_reserved_table(t))
            return kl_seterr(
                KL_EINVAL,
                "%s: table=%s: a name of the table-per-key layout (its catalogue " KL_SQL_CATALOGUE
                " or an entry table " KL_SQL_ENTRY_PREFIX "<number>); choose another",
                s->url, t);
        if (!(s->table = strdup(t)) || kl__sql_quote_ident(&s->qtable, t))
            return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    if (!r && (!kl_buf_cstr(&s->qtable) ||
               kl_buf_printf(&s->lockname, "'klepto_catalogue_%016" PRIx64 "'",
                             (uint64_t)XXH3_64bits(s->db, strlen(s->db))) ||
               !kl_buf_cstr(&s->lockname)))
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    return r;
}

/* The first value of the one row that `fmt` (a query of
 * information_schema with one '%s', filled with name escaped) gives, into
 * out ("" for NULL or no row). */
static int my_schema_value(my_state *s, const char *fmt, const char *name, kl_buf *out)
{
    kl_buf sql = KL_BUF_INIT;
    size_t n = strlen(name);
    char *esc = malloc(2 * n + 1);
    int r = esc ? 0 : KL_ENOMEM;
    if (!r) {
        mysql_real_escape_string(s->conn, esc, name, (unsigned long)n);
        r = kl_buf_printf(&sql, fmt, esc);
    }
    free(esc);
    if (r || !kl_buf_cstr(&sql)) {
        kl_buf_free(&sql);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    r = mysql_real_query(s->conn, (const char *)sql.data, (unsigned long)sql.len)
            ? kl__my_err(s, "open")
            : 0;
    kl_buf_free(&sql);
    if (r)
        return r;
    MYSQL_RES *res = mysql_store_result(s->conn);
    if (!res)
        return kl__my_err(s, "open");
    MYSQL_ROW row = mysql_fetch_row(res);
    kl_buf_reset(out);
    r = kl_buf_append_str(out, row && row[0] ? row[0] : "");
    mysql_free_result(res);
    return r || !kl_buf_cstr(out) ? kl_seterr(KL_ENOMEM, "%s: out of memory", s->url) : 0;
}

/* The column names of `table` in the database, comma-separated ("" when
 * the table does not exist). */
static int my_columns(my_state *s, const char *table, kl_buf *out)
{
    return my_schema_value(s,
                           "SELECT GROUP_CONCAT(column_name ORDER BY ordinal_position) FROM "
                           "information_schema.columns WHERE table_schema = DATABASE() AND "
                           "table_name = '%s'",
                           table, out);
}

/* Run sql, taking MySQL error `ok` (another process did it first) as
 * success. */
static int my_exec_unless(my_state *s, const char *sql, unsigned ok, const char *what)
{
    if (mysql_real_query(s->conn, sql, (unsigned long)strlen(sql)) == 0)
        return 0;
    return mysql_errno(s->conn) == ok ? 0 : kl__my_err(s, what);
}

/* The trigger that drops the sum of a row an older release rewrites (it
 * sets value and stored_ns, or in the catalogue stored_ns and size, and
 * not sum); its name is "klepto_sum:" and the table's (a hash of a name
 * too long for that), unique in the database. */
static int my_trigger_sql(my_state *s, const char *name, kl_buf *out)
{
    kl_buf raw = KL_BUF_INIT, qn = KL_BUF_INIT;
    int r = strlen(name) + 11 <= MY_NAME_MAX
                ? kl_buf_printf(&raw, "klepto_sum:%s", name)
                : kl_buf_printf(&raw, "klepto_sum:#%016llx",
                                (unsigned long long)XXH3_64bits(name, strlen(name)));
    r = r ? r : !kl_buf_cstr(&raw) ? KL_ENOMEM : kl__sql_quote_ident(&qn, (const char *)raw.data);
    if (!r && !kl_buf_cstr(&qn))
        r = KL_ENOMEM;
    const char *t = s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE;
    if (!r)
        r = kl_buf_printf(out,
                          "CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW SET NEW.\"sum\" = "
                          "IF(NEW.\"sum\" <=> OLD.\"sum\" AND NEW.\"sum\" IS NOT NULL AND NOT "
                          "(%s), NULL, NEW.\"sum\")",
                          (const char *)qn.data, t,
                          s->table ? "NEW.value <=> OLD.value AND NEW.stored_ns <=> OLD.stored_ns"
                                   : "NEW.stored_ns <=> OLD.stored_ns AND NEW.size <=> OLD.size");
    if (!r && !kl_buf_cstr(out))
        r = KL_ENOMEM;
    kl_buf_free(&raw);
    kl_buf_free(&qn);
    return r ? kl_seterr(KL_ENOMEM, "%s: out of memory", s->url) : 0;
}

/* Whether a trigger of that statement's name exists. */
static int my_has_trigger(my_state *s, const char *name, bool *out)
{
    kl_buf v = KL_BUF_INIT;
    int r = my_schema_value(s,
                            "SELECT count(*) FROM information_schema.triggers WHERE "
                            "trigger_schema = DATABASE() AND event_object_table = '%s' AND "
                            "trigger_name LIKE 'klepto\\_sum:%%'",
                            name, &v);
    *out = !r && v.len > 0 && strcmp((const char *)v.data, "0") != 0;
    kl_buf_free(&v);
    return r;
}

/* Tables on first use (CREATE TABLE IF NOT EXISTS is safe to race in
 * MySQL); an existing table must have our columns, with the sum column
 * or (made by an older release) without.  A read-write open adds the
 * column and the trigger; both steps take "already there" as done, so
 * concurrent opens are safe. */
static int my_setup(my_state *s, bool create)
{
    const char *name = s->table ? s->table : KL_SQL_CATALOGUE;
    const char *want = s->table ? "kid,key,value,stored_ns,size" : "id,kid,key,stored_ns,size";
    kl_buf cols = KL_BUF_INIT;
    int r = my_columns(s, name, &cols);
    size_t wl = strlen(want);
    const char *c = (const char *)cols.data;
    bool exists = !r && cols.len > 0;
    bool has_sum =
        exists && cols.len == wl + 4 && strncmp(c, want, wl) == 0 && strcmp(c + wl, ",sum") == 0;
    if (exists && !has_sum && strcmp(c, want) != 0)
        r = kl_seterr(KL_EINVAL,
                      "%s: table %s has columns (%s), not a klepto archive's (%s[,sum]): "
                      "nothing written",
                      s->url, name, c, want);
    kl_buf_free(&cols);
    if (r)
        return r;
    s->has_sum = has_sum;
    if (!exists && (!create || s->read_only))
        return kl_seterr(KL_ENOTFOUND, "%s: no table %s in the database", s->url, name);
    if (s->read_only)
        return 0;
    kl_buf sql = KL_BUF_INIT, trig = KL_BUF_INIT;
    if (s->table)
        r = kl_buf_printf(&sql,
                          "CREATE TABLE IF NOT EXISTS %s (kid BINARY(16) NOT NULL PRIMARY KEY, "
                          "\"key\" LONGBLOB NOT NULL, value LONGBLOB NOT NULL, stored_ns BIGINT "
                          "NOT NULL, size BIGINT NOT NULL, \"sum\" VARBINARY(8)) ENGINE=InnoDB "
                          "DEFAULT CHARSET=utf8mb4",
                          (const char *)s->qtable.data);
    else
        r = kl_buf_append_str(&sql, kl__sql_dialect_mysql.create_catalogue);
    if (r || !kl_buf_cstr(&sql)) {
        kl_buf_free(&sql);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    bool has_trigger = false;
    if (!exists)
        r = kl__my_exec(s, (const char *)sql.data, "create table");
    else if (!has_sum) {
        kl_buf_reset(&sql);
        r = kl_buf_printf(&sql, "ALTER TABLE %s ADD COLUMN \"sum\" VARBINARY(8)",
                          s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE);
        r = r || !kl_buf_cstr(&sql)
                ? kl_seterr(KL_ENOMEM, "%s: out of memory", s->url)
                : my_exec_unless(s, (const char *)sql.data, ER_DUP_FIELDNAME, "add the sum column");
    }
    if (!r)
        r = my_has_trigger(s, name, &has_trigger);
    if (!r && !has_trigger)
        r = my_trigger_sql(s, name, &trig);
    if (!r && !has_trigger)
        r = my_exec_unless(s, (const char *)trig.data, ER_TRG_ALREADY_EXISTS,
                           "create the sum trigger");
    kl_buf_free(&sql);
    kl_buf_free(&trig);
    s->has_sum = r == 0;
    return r;
}

int kl__my_close(void *state)
{
    my_state *s = state;
    if (!s)
        return 0;
    kl__my_disconnect(s);
    free(s->url);
    free(s->host);
    free(s->user);
    if (s->pass)
        explicit_bzero(s->pass, strlen(s->pass));
    free(s->pass);
    free(s->db);
    free(s->socket);
    for (int i = 0; i < 5; i++)
        free(s->ssl_opt[i]);
    free(s->table);
    kl_buf_free(&s->qtable);
    kl_buf_free(&s->lockname);
    free(s);
    return 0;
}

int kl__my_open(void **out, const kl_url *url, const kl_archive_opts *opts)
{
    kl_archive_opts def = KL_ARCHIVE_OPTS_INIT;
    if (!opts)
        opts = &def;
    *out = NULL;
    my_state *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(kl_url_shown(url)))) {
        free(s);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", kl_url_shown(url));
    }
    s->read_only = opts->read_only;
    int r = my_parse_opts(s, url);
    if (!r)
        r = kl__my_connect(s);
    if (!r)
        r = my_setup(s, opts->create);
    if (r) {
        kl__my_close(s);
        return r;
    }
    *out = s;
    return 0;
}
