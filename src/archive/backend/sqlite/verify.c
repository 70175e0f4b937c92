/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: verify.  First SQLite's own check: PRAGMA integrity_check walks
 * every b-tree page, the free list, every index against its table (a
 * damaged key index of the table-per-key layout would map a key to another
 * entry's row) and the NOT NULL constraints.  Then every entry is read,
 * key and value, through the iterator, which checks each entry's checksum
 * (util/sql_sum.h; rows an older release wrote have none), names each
 * entry it cannot read or whose checksum fails, and moves past it; a
 * repair deletes those it could name.
 * See sqlite.h. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"
#include "archive/builtin.h"

#include <stdio.h>
#include <stdlib.h>

/* SQLite stops after this many findings: one damaged page can produce
 * hundreds of lines, and the first ones say what is wrong. */
#define SQ_CHECK_MAX "100"

/* PRAGMA integrity_check: one problem per finding.  A check that cannot
 * run at all (the schema itself is unreadable) is one problem too. */
static int sq_check_pages(sq_state *s, kl_buf *report, size_t *problems, size_t *found)
{
    sqlite3_stmt *st;
    *found = 0;
    int r = kl__sq_prepare(s, "PRAGMA integrity_check(" SQ_CHECK_MAX ")", &st, false);
    int rc = r ? SQLITE_CORRUPT : SQLITE_ROW;
    while (!r && (rc = kl__sq_step(s, st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") == 0)
            continue;
        (*found)++;
        if (report)
            kl_buf_printf(report, "%s: SQLite integrity_check: %s\n", s->url, line ? line : "?");
    }
    if (!r && rc != SQLITE_DONE)
        r = kl__sq_err(s, rc, "integrity_check");
    kl__sq_finalize(s, st);
    if (r == KL_ECORRUPT) {
        (*found)++;
        if (report)
            kl_buf_printf(report, "%s\n", kl_errmsg());
        r = 0;
    }
    *problems += *found;
    return r;
}

/* Read every entry; the keys of those that fail are listed in bad
 * (length-prefixed) for repair.  A damaged entry whose key is unknown
 * (SQLite cannot read its row) is reported and left. */
static int sq_check_entries(sq_state *s, bool repair, kl_buf *report, size_t *problems,
                            kl_buf *bad)
{
    void *cur = NULL;
    int r = kl__sq_iter_new(s, &cur);
    if (r == KL_ECORRUPT) {
        (*problems)++;
        if (report)
            kl_buf_printf(report, "%s\n", kl_errmsg());
        return 0;
    }
    if (r)
        return r;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    for (;;) {
        k.len = 0;
        int n = kl__sq_iter_next(cur, &k, &v);
        if (n == 0)
            break;
        if (n == KL_ECORRUPT) {
            (*problems)++;
            if (report)
                kl_buf_printf(report, "%s%s\n", kl_errmsg(), repair ? " (dropped if found)" : "");
            /* the iterator fills the key when it could read it */
            if (repair && k.len) {
                uint64_t len = k.len;
                kl_buf_append(bad, &len, sizeof len);
                kl_buf_append(bad, k.data, k.len);
            }
            continue;
        }
        if (n < 0) {
            r = n;
            break;
        }
    }
    kl__sq_iter_free(cur);
    kl_buf_free(&k);
    kl_buf_free(&v);
    return r;
}

int kl__sq_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    sq_state *s = state;
    size_t found = 0;
    int r = sq_check_pages(s, report, problems, &found);
    kl_buf bad = KL_BUF_INIT;
    if (!r)
        r = sq_check_entries(s, repair, report, problems, &bad);
    if (!r && repair) {
        r = kl__sq_writable(s);
        for (size_t off = 0; !r && off < bad.len;) {
            uint64_t n;
            memcpy(&n, bad.data + off, sizeof n);
            off += sizeof n;
            r = kl__backend_sqlite.del(s, bad.data + off, (size_t)n);
            if (r == KL_ENOTFOUND || r == KL_ECORRUPT)
                r = 0; /* gone meanwhile, or cannot be reached: reported already */
            off += (size_t)n;
        }
        /* indexes are copies of their tables: rebuilding them repairs a
         * damaged one (and fails, reported, when a table is damaged) */
        if (!r && found) {
            int e = kl__sq_exec(s, "REINDEX", "REINDEX");
            if (report)
                kl_buf_printf(report, "%s: %s\n", s->url,
                              e ? kl_errmsg() : "REINDEX rebuilt the indexes");
            if (e && e != KL_ECORRUPT)
                r = e;
        }
    }
    kl_buf_free(&bad);
    return r;
}
