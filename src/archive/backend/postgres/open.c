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

/* The function the sum triggers run (one per schema, shared by every
 * table): an older release's write changes value or stored_ns without
 * setting sum, and the sum then goes (docs/formats.md). */
#define PG_SUM_FUNCTION                                                                            \
    "CREATE OR REPLACE FUNCTION klepto_sum_drop() RETURNS trigger LANGUAGE plpgsql AS "            \
    "$$BEGIN NEW.sum := NULL; RETURN NEW; END$$"

/* The state of the archive's table: exists, has the sum column, has the
 * trigger. */
static int pg_table_state(pg_state *s, bool *exists, bool *has_sum, bool *has_trigger)
{
    const char *qname = s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE;
    const char *params[1] = {qname};
    PGresult *res = PQexecParams(
        s->conn,
        "SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
        "to_regclass($1) AND attname = 'sum' AND NOT attisdropped), EXISTS (SELECT 1 FROM "
        "pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'klepto_sum')",
        1, NULL, params, NULL, NULL, 0);
    int r = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        r = kl__pg_err_res(s, res, "open");
    *exists = !r && PQgetvalue(res, 0, 0)[0] == 't';
    *has_sum = !r && PQgetvalue(res, 0, 1)[0] == 't';
    *has_trigger = !r && PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    return r;
}

/* Lock key for this table's setup, and one for the shared function. */
static int pg_setup_lock(pg_state *s, const char *name)
{
    const char *params[1] = {name};
    PGresult *res = PQexecParams(s->conn, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, NULL,
                                 params, NULL, NULL, 0);
    int r = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : kl__pg_err_res(s, res, "create table");
    PQclear(res);
    return r;
}

/* Tables on first use, and the sum column and trigger on a read-write
 * open of a table an older release made.  An advisory lock makes
 * concurrent first opens safe: CREATE TABLE IF NOT EXISTS alone can still
 * race in the catalog. */
static int pg_setup(pg_state *s, bool create)
{
    const char *qname = s->table ? (const char *)s->qtable.data : KL_SQL_CATALOGUE;
    bool exists, has_sum, has_trigger;
    int r = pg_table_state(s, &exists, &has_sum, &has_trigger);
    if (r)
        return r;
    s->has_sum = has_sum;
    if (exists && (s->read_only || (has_sum && has_trigger)))
        return 0;
    if (!exists && (!create || s->read_only))
        return kl_seterr(KL_ENOTFOUND, "%s: no table %s in the database", s->url,
                         s->table ? s->table : KL_SQL_CATALOGUE);
    kl_buf sql = KL_BUF_INIT, alter = KL_BUF_INIT, trig = KL_BUF_INIT;
    if (s->table)
        r = kl_buf_printf(&sql,
                          "CREATE TABLE IF NOT EXISTS %s (kid bytea PRIMARY KEY, key bytea NOT "
                          "NULL, value bytea NOT NULL, stored_ns bigint NOT NULL, size bigint "
                          "NOT NULL, sum bytea)",
                          qname);
    else
        r = kl_buf_append_str(&sql, kl__sql_dialect_postgres.create_catalogue);
    if (!r)
        r = kl_buf_printf(&alter, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS sum bytea", qname);
    /* an older release's write: value (or, in the catalogue, stored_ns
     * and size) changed, sum left as it was */
    if (!r)
        r = kl_buf_printf(&trig,
                          "CREATE TRIGGER klepto_sum BEFORE UPDATE OF %s ON %s FOR EACH ROW WHEN "
                          "(NEW.sum IS NOT DISTINCT FROM OLD.sum AND NEW.sum IS NOT NULL AND (%s)) "
                          "EXECUTE PROCEDURE klepto_sum_drop()",
                          s->table ? "value, stored_ns" : "stored_ns, size", qname,
                          s->table ? "NEW.value IS DISTINCT FROM OLD.value OR NEW.stored_ns IS "
                                     "DISTINCT FROM OLD.stored_ns"
                                   : "NEW.stored_ns IS DISTINCT FROM OLD.stored_ns OR NEW.size "
                                     "IS DISTINCT FROM OLD.size");
    if (r || !kl_buf_cstr(&sql) || !kl_buf_cstr(&alter) || !kl_buf_cstr(&trig)) {
        kl_buf_free(&sql);
        kl_buf_free(&alter);
        kl_buf_free(&trig);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    }
    r = kl__pg_exec(s, "BEGIN", "create table");
    if (!r) {
        s->in_txn = true;
        r = pg_setup_lock(s, qname);
    }
    if (!r)
        r = kl__pg_exec(s, (const char *)sql.data, "create table");
    if (!r)
        r = kl__pg_exec(s, (const char *)alter.data, "add the sum column");
    /* again under the lock: another process may have done it */
    if (!r)
        r = pg_table_state(s, &exists, &has_sum, &has_trigger);
    if (!r && !has_trigger)
        r = pg_setup_lock(s, "klepto_sum_drop()");
    if (!r && !has_trigger)
        r = kl__pg_exec(s, PG_SUM_FUNCTION, "create the sum function");
    if (!r && !has_trigger)
        r = kl__pg_exec(s, (const char *)trig.data, "create the sum trigger");
    if (!r)
        r = kl__pg_commit(s);
    kl__pg_rollback(s);
    kl_buf_free(&sql);
    kl_buf_free(&alter);
    kl_buf_free(&trig);
    s->has_sum = r == 0;
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
