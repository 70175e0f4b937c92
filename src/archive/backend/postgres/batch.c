/* SPDX-License-Identifier: BSD-3-Clause */
/* postgresql: batches: put_many (pipelined, in digest order, retried
 * after a deadlock) and get_many.  See postgres.h. */
#define _GNU_SOURCE
#include "archive/backend/postgres/postgres.h"

#include <stdlib.h>

static int pg_pipeline_results(pg_state *s, size_t n)
{
    int r = 0;
    for (size_t i = 0; i <= n; i++) {
        PGresult *res = PQgetResult(s->conn);
        if (!res) {
            if (!r)
                r = kl__pg_err_conn(s, "put_many");
            break;
        }
        ExecStatusType st = PQresultStatus(res);
        if (i == n) { /* the sync */
            if (st != PGRES_PIPELINE_SYNC && !r)
                r = kl__pg_err_res(s, res, "put_many");
            PQclear(res);
            break;
        }
        if (!r && st != PGRES_COMMAND_OK)
            r = kl__pg_err_res(s, res, "put_many");
        else if (!r && strcmp(PQcmdTuples(res), "1") != 0)
            r = kl_seterr(KL_EBACKEND, "%s: put_many: another key with the same digest is stored",
                          s->url);
        PQclear(res);
        PQclear(PQgetResult(s->conn)); /* the NULL that ends each query */
    }
    return r;
}

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
    static const int fmts[6] = {1, 1, 1, 1, 1, 1};
    int r = kl__pg_begin(s);
    if (r)
        return r;
    if (!PQenterPipelineMode(s->conn)) {
        r = kl__pg_err_conn(s, "put_many");
        kl__pg_rollback(s);
        return r;
    }
    int64_t now = kl__now_ns();
    for (size_t done = 0; !r && done < n;) {
        size_t m = n - done < PG_PIPELINE_CHUNK ? n - done : PG_PIPELINE_CHUNK;
        size_t sent = 0;
        for (; sent < m; sent++) {
            size_t i = ord[done + sent].i;
            uint8_t ts[8], size[8], sum[KL_SQL_SUM_LEN];
            kl__pg_put_int8(ts, now);
            kl__pg_put_int8(size, (int64_t)(klens[i] + vlens[i]));
            kl__sql_sum(keys[i], klens[i], vals[i], vlens[i], now, sum);
            const char *pv[6] = {(const char *)ord[done + sent].kid,
                                 klens[i] ? keys[i] : "",
                                 vlens[i] ? vals[i] : "",
                                 (const char *)ts,
                                 (const char *)size,
                                 (const char *)sum};
            int pl[6] = {16, (int)klens[i], (int)vlens[i], 8, 8, KL_SQL_SUM_LEN};
            /* libpq copies the parameters into its output buffer here */
            if (!PQsendQueryPrepared(s->conn, kl__pg_st_names[ST_PUT], 6, pv, pl, fmts, 1))
                break;
        }
        if (sent < m)
            r = kl__pg_err_conn(s, "put_many");
        if (!PQpipelineSync(s->conn)) {
            r = r ? r : kl__pg_err_conn(s, "put_many");
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
            r = kl__pg_err_conn(s, "put_many");
        PQfinish(s->conn);
        s->conn = NULL;
        s->in_txn = false;
        s->prepared = false;
        return r;
    }
    if (!r)
        r = kl__pg_commit(s);
    kl__pg_rollback(s); /* nothing of a failed batch stays */
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
        if ((r = kl__pg_begin(s)))
            break;
        for (size_t j = done; !r && j < n && j < done + PG_CATALOGUE_TXN; j++) {
            size_t i = ord[j].i;
            r = kl__pg_ca_put_in_txn(s, keys[i], klens[i], vals[i], vlens[i]);
        }
        if (!r)
            r = kl__pg_commit(s);
        kl__pg_rollback(s);
        if (!r)
            *committed = done + PG_CATALOGUE_TXN < n ? done + PG_CATALOGUE_TXN : n;
    }
    return r;
}

int kl__pg_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    pg_state *s = state;
    int r = kl__pg_writable(s);
    for (size_t i = 0; !r && i < n; i++)
        r = kl__pg_check_size(s, klens[i], vlens[i]);
    if (r || n == 0 || (r = kl__pg_ready(s)))
        return r;
    pg_ord *ord = malloc(n * sizeof *ord);
    if (!ord)
        return kl_seterr(KL_ENOMEM, "%s: out of memory for a batch of %zu", s->url, n);
    for (size_t i = 0; i < n; i++) {
        kl__pg_kid(ord[i].kid, keys[i], klens[i]);
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

int kl__pg_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       kl_buf *vals, bool *found)
{
    int r = 0;
    for (size_t i = 0; !r && i < n; i++) {
        r = kl__pg_get(state, keys[i], klens[i], &vals[i]);
        found[i] = r == 0;
        if (r == KL_ENOTFOUND)
            r = 0;
    }
    if (!r)
        kl_errclear(); /* the misses are not errors */
    return r;
}
