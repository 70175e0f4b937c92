/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql: opening (the libpq connection string, the tables on first
 * use) and closing.  See postgres.h. */
#define _GNU_SOURCE
#include "archive/backend/postgres/postgres.h"

#include <ctype.h>
#include <stdlib.h>

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
        r = kl__pg_err_res(s, res, "open");
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
        r = kl_buf_append_str(&sql, kl__sql_dialect_postgres.create_catalogue);
    if (r || !kl_buf_cstr(&sql)) {
        kl_buf_free(&sql);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    r = kl__pg_exec(s, "BEGIN", "create table");
    if (!r) {
        s->in_txn = true;
        res = PQexecParams(s->conn, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, NULL, params,
                           NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            r = kl__pg_err_res(s, res, "create table");
        PQclear(res);
    }
    if (!r)
        r = kl__pg_exec(s, (const char *)sql.data, "create table");
    if (!r)
        r = kl__pg_commit(s);
    kl__pg_rollback(s);
    kl_buf_free(&sql);
    return r;
}

int kl__pg_close(void *state)
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

int kl__pg_open(void **out, const kl_url *url, const kl_archive_opts *opts)
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
        /* the table-per-key layout's own names: a table of that name in the
         * same schema would be taken for (or break) that layout's catalogue
         * or an entry table */
        if (kl__sql_reserved_table(t)) {
            r = kl_seterr(KL_EINVAL,
                          "%s: table=%s: a name of the table-per-key layout (its catalogue "
                          KL_SQL_CATALOGUE " or an entry table " KL_SQL_ENTRY_PREFIX
                          "<number>); choose another",
                          s->url, t);
            goto fail;
        }
        if (!(s->table = strdup(t)) || kl__sql_quote_ident(&s->qtable, t)) {
            r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
            goto fail;
        }
    }
    if (!kl_buf_cstr(&s->qtable)) {
        r = kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
        goto fail;
    }
    if ((r = pg_build_conninfo(s, url)) || (r = kl__pg_connect(s)) ||
        (r = pg_setup(s, opts->create)) || (r = kl__pg_prepare_all(s)))
        goto fail;
    *out = s;
    return 0;
fail:
    kl__pg_close(s);
    return r;
}
