/* SPDX-License-Identifier: BSD-3-Clause */
/* The klepto command: `klepto copy` of 1M small entries from a file:
 * archive into an sqlite: one (cli_copy_1m), run through the CLI library
 * as the tool runs it, with the progress line off (--quiet) and forced on
 * (--progress, drawn to /dev/null); baseline: raw sqlite3 prepared inserts
 * of the same entries in one transaction, in the same run. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "harness.h"
#include "klepto/archive.h"
#include "klepto/error.h"

enum { N = 1000000, KEYLEN = 16, VALLEN = 32, REPS = 3, BATCH = 10000 };

static void rm_db(const char *path)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s%s", path, suffix[i]);
        unlink(f);
    }
}

static double raw_sqlite_insert(const bench_data *d, const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *ins;
    uint64_t t0 = bench_now_ns();
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE t (key BLOB PRIMARY KEY, value BLOB NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t (key, value) VALUES (?1, ?2)", -1, &ins, NULL)) {
        fprintf(stderr, "bench_cli: raw sqlite3: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < d->n; i++) {
        sqlite3_bind_blob(ins, 1, d->kp[i], KEYLEN, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 2, d->vp[i], VALLEN, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "bench_cli: raw insert: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    double s = (bench_now_ns() - t0) / 1e9;
    rm_db(path);
    return s;
}

/* `klepto copy SRC DST FLAG` with stdout and stderr on /dev/null; seconds. */
static double cli_copy(const char *src, const char *path, const char *flag)
{
    char *dst;
    if (asprintf(&dst, "sqlite:%s?table=t", path) < 0)
        exit(1);
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
    if (out < 0 || err < 0 || null < 0)
        exit(1);
    dup2(null, 1);
    dup2(null, 2);
    char *argv[] = {(char *)src, dst, (char *)flag, NULL};
    uint64_t t0 = bench_now_ns();
    int st = cli_cmd_copy(3, argv);
    double s = (bench_now_ns() - t0) / 1e9;
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    close(null);
    if (st != 0) {
        fprintf(stderr, "bench_cli: klepto copy %s %s %s: exit %d\n", src, dst, flag, st);
        exit(1);
    }
    kl_archive *ar;
    size_t n = 0;
    BENCH_CHECK(kl_archive_open(&ar, dst, NULL));
    BENCH_CHECK(kl_archive_count(ar, &n));
    BENCH_CHECK(kl_archive_close(ar));
    if (n != N) {
        fprintf(stderr, "bench_cli: the copy holds %zu entries, not %d\n", n, N);
        exit(1);
    }
    free(dst);
    rm_db(path);
    return s;
}

int main(void)
{
    if (!bench_wants("cli_copy_1m") && !bench_wants("cli_copy_1m_progress"))
        return 0;
    bench_data d = bench_data_make(N, KEYLEN, VALLEN, 14);
    char *src, *path;
    if (asprintf(&src, "file:%s/src.kf", bench_tmpdir()) < 0 ||
        asprintf(&path, "%s/dst.db", bench_tmpdir()) < 0)
        exit(1);
    kl_archive *ar;
    BENCH_CHECK(kl_archive_open(&ar, src, NULL));
    for (size_t i = 0; i < N; i += BATCH)
        BENCH_CHECK(kl_archive_put_many(ar, BATCH, d.kp + i, d.kl + i, d.vp + i, d.vl + i));
    BENCH_CHECK(kl_archive_close(ar));
    double quiet[REPS], drawn[REPS], base[REPS];
    for (int r = 0; r < REPS; r++) {
        base[r] = raw_sqlite_insert(&d, path);
        quiet[r] = cli_copy(src, path, "--quiet");
        drawn[r] = cli_copy(src, path, "--progress");
    }
    double b = bench_median(base, REPS);
    if (bench_wants("cli_copy_1m"))
        bench_report("cli_copy_1m", bench_median(quiet, REPS), "s", b, "lower",
                     "klepto copy file: -> sqlite:?table=, 1M entries, 16 B keys, 32 B values, "
                     "--quiet; baseline: raw sqlite3 inserts in one transaction");
    if (bench_wants("cli_copy_1m_progress"))
        bench_report("cli_copy_1m_progress", bench_median(drawn, REPS), "s", b, "lower",
                     "the same with --progress drawn (to /dev/null)");
    bench_data_free(&d);
    bench_rmrf(bench_tmpdir());
    free(src);
    free(path);
    return 0;
}
