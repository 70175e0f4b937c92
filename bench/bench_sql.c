/* SPDX-License-Identifier: BSD-3-Clause */
/* SQL archives: sqlite: writes (batched and single), point reads, the
 * table-per-key layout, and batched PostgreSQL writes — each beside the
 * same work done with raw sqlite3 / libpq calls in the same run.
 *
 * postgres_batch_write needs $KLEPTO_TEST_PG_URL and the mysql_* figures
 * $KLEPTO_TEST_MYSQL_URL (make bench starts the servers); without them the
 * figures are skipped with a note on stderr. */
#define _GNU_SOURCE
#ifdef KLEPTO_HAVE_POSTGRES
#include <libpq-fe.h>
#endif
#ifdef KLEPTO_HAVE_MYSQL
#include <mysql.h>
#endif
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "klepto/archive.h"
#include "klepto/error.h"

enum { KEYLEN = 16, VALLEN = 64, REPS = 5 };

static char *db_path(const char *name)
{
    static int n;
    char *p;
    if (asprintf(&p, "%s/%s-%d.db", bench_tmpdir(), name, n++) < 0)
        exit(1);
    return p;
}

static void rm_db(char *path)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s%s", path, suffix[i]);
        unlink(f);
    }
    free(path);
}

/* ---- raw sqlite3 baselines -------------------------------------------- */

static sqlite3 *raw_open(const char *path, sqlite3_stmt **ins, sqlite3_stmt **sel)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE IF NOT EXISTS t (key BLOB PRIMARY KEY, value BLOB NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t (key, value) VALUES (?1, ?2)", -1, ins, NULL) ||
        sqlite3_prepare_v2(db, "SELECT value FROM t WHERE key = ?1", -1, sel, NULL)) {
        fprintf(stderr, "bench_sql: raw sqlite3: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    return db;
}

static void raw_insert(sqlite3_stmt *ins, const bench_data *d, size_t i)
{
    sqlite3_bind_blob(ins, 1, d->kp[i], KEYLEN, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 2, d->vp[i], VALLEN, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) {
        fprintf(stderr, "bench_sql: raw insert failed\n");
        exit(1);
    }
    sqlite3_reset(ins);
}

static double raw_sqlite_write(const bench_data *d, bool one_txn)
{
    char *path = db_path("raw");
    sqlite3_stmt *ins, *sel;
    sqlite3 *db = raw_open(path, &ins, &sel);
    uint64_t t0 = bench_now_ns();
    if (one_txn)
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < d->n; i++)
        raw_insert(ins, d, i);
    if (one_txn)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double rate = bench_rate(d->n, t0);
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    rm_db(path);
    return rate;
}

static double kl_sqlite_write(const bench_data *d, bool batch)
{
    char *path = db_path("kl"), *url;
    if (asprintf(&url, "sqlite:%s?table=kl", path) < 0)
        exit(1);
    kl_archive *ar;
    BENCH_CHECK(kl_archive_open(&ar, url, NULL));
    uint64_t t0 = bench_now_ns();
    if (batch) {
        BENCH_CHECK(kl_archive_put_many(ar, d->n, d->kp, d->kl, d->vp, d->vl));
    } else {
        for (size_t i = 0; i < d->n; i++)
            BENCH_CHECK(kl_archive_put(ar, d->kp[i], KEYLEN, d->vp[i], VALLEN));
    }
    double rate = bench_rate(d->n, t0);
    BENCH_CHECK(kl_archive_close(ar));
    free(url);
    rm_db(path);
    return rate;
}

static void bench_sqlite_batch_write(void)
{
    bench_data d = bench_data_make(100000, KEYLEN, VALLEN, 1);
    double ours[REPS], base[REPS];
    for (int r = 0; r < REPS; r++) {
        base[r] = raw_sqlite_write(&d, true);
        ours[r] = kl_sqlite_write(&d, true);
    }
    bench_report("sqlite_batch_write", bench_median(ours, REPS), "entries/s",
                 bench_median(base, REPS), "higher",
                 "100k entries, 16 B keys, 64 B values, one put_many; baseline: raw sqlite3 "
                 "prepared inserts in one transaction");
    bench_data_free(&d);
}

static void bench_sqlite_single_write(void)
{
    bench_data d = bench_data_make(20000, KEYLEN, VALLEN, 2);
    double ours[REPS], base[REPS];
    for (int r = 0; r < REPS; r++) {
        base[r] = raw_sqlite_write(&d, false);
        ours[r] = kl_sqlite_write(&d, false);
    }
    bench_report("sqlite_single_write", bench_median(ours, REPS), "entries/s",
                 bench_median(base, REPS), "higher",
                 "20k autocommit puts, WAL, synchronous=NORMAL; baseline: raw sqlite3 "
                 "autocommit prepared inserts");
    bench_data_free(&d);
}

static void bench_sqlite_read(void)
{
    bench_data d = bench_data_make(100000, KEYLEN, VALLEN, 3);
    char *path = db_path("read"), *url;
    if (asprintf(&url, "sqlite:%s?table=kl", path) < 0)
        exit(1);
    kl_archive *ar;
    BENCH_CHECK(kl_archive_open(&ar, url, NULL));
    BENCH_CHECK(kl_archive_put_many(ar, d.n, d.kp, d.kl, d.vp, d.vl));
    /* the raw baseline reads the same keys from its own table in the file */
    sqlite3_stmt *ins, *sel;
    sqlite3 *db = raw_open(path, &ins, &sel);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < d.n; i++)
        raw_insert(ins, &d, i);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

    enum { READS = 100000 };
    size_t *order = malloc(READS * sizeof *order);
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < READS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        order[i] = x % d.n;
    }
    double ours[REPS], base[REPS];
    kl_buf v = KL_BUF_INIT;
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < READS; i++) {
            sqlite3_bind_blob(sel, 1, d.kp[order[i]], KEYLEN, SQLITE_STATIC);
            if (sqlite3_step(sel) != SQLITE_ROW)
                exit(1);
            BENCH_KEEP(sqlite3_column_blob(sel, 0));
            BENCH_KEEP(sqlite3_column_bytes(sel, 0));
            sqlite3_reset(sel);
        }
        base[r] = bench_rate(READS, t0);
        t0 = bench_now_ns();
        for (size_t i = 0; i < READS; i++)
            BENCH_CHECK(kl_archive_get(ar, d.kp[order[i]], KEYLEN, &v));
        ours[r] = bench_rate(READS, t0);
    }
    bench_report("sqlite_read", bench_median(ours, REPS), "entries/s", bench_median(base, REPS),
                 "higher",
                 "random point reads of 100k entries, value copied out; baseline: raw sqlite3 "
                 "prepared select");
    kl_buf_free(&v);
    free(order);
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    BENCH_CHECK(kl_archive_close(ar));
    free(url);
    rm_db(path);
    bench_data_free(&d);
}

/* ---- table-per-key layout --------------------------------------------- */

static double sql_archive_reads(kl_archive *ar, const bench_data *d, size_t nkeys)
{
    enum { READS = 5000 };
    kl_buf v = KL_BUF_INIT;
    uint64_t x = 0x2545f4914f6cdd1du, t0 = bench_now_ns();
    for (size_t i = 0; i < READS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        BENCH_CHECK(kl_archive_get(ar, d->kp[x % nkeys], KEYLEN, &v));
    }
    double rate = bench_rate(READS, t0);
    kl_buf_free(&v);
    return rate;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_sql: raw sqlite3: %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
}

/* The table-per-key layout done with raw calls: per key, one transaction
 * holding CREATE TABLE and an INSERT of the value (no catalogue). */
static double raw_table_per_key_write(const bench_data *d, size_t n)
{
    char *path = db_path("rawtables");
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        exit(1);
    raw_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        char sql[96];
        sqlite3_stmt *ins;
        raw_exec(db, "BEGIN IMMEDIATE");
        snprintf(sql, sizeof sql, "CREATE TABLE \"e%zu\" (value BLOB NOT NULL)", i + 1);
        raw_exec(db, sql);
        snprintf(sql, sizeof sql, "INSERT INTO \"e%zu\" (rowid, value) VALUES (1, ?1)", i + 1);
        if (sqlite3_prepare_v2(db, sql, -1, &ins, NULL) != SQLITE_OK)
            exit(1);
        sqlite3_bind_blob(ins, 1, d->vp[i], VALLEN, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            exit(1);
        sqlite3_finalize(ins);
        raw_exec(db, "COMMIT");
    }
    double rate = bench_rate(n, t0);
    sqlite3_close(db);
    rm_db(path);
    return rate;
}

static void bench_sql_archive_write(void)
{
    enum { NW = 5000, RW = 3 };
    bench_data d = bench_data_make(NW, KEYLEN, VALLEN, 4);
    double w[RW], base[RW];
    for (int r = 0; r < RW; r++) {
        base[r] = raw_table_per_key_write(&d, NW);
        char *path = db_path("sqlarch"), *url;
        if (asprintf(&url, "sqlite:%s", path) < 0)
            exit(1);
        kl_archive *ar;
        BENCH_CHECK(kl_archive_open(&ar, url, NULL));
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < NW; i++)
            BENCH_CHECK(kl_archive_put(ar, d.kp[i], KEYLEN, d.vp[i], VALLEN));
        w[r] = bench_rate(NW, t0);
        BENCH_CHECK(kl_archive_close(ar));
        free(url);
        rm_db(path);
    }
    bench_report("sql_archive_write", bench_median(w, RW), "entries/s", bench_median(base, RW),
                 "higher",
                 "sqlite: one table per key, 5k new keys put one by one into an empty database "
                 "(each CREATE TABLE costs SQLite a walk over every table and a scan of its "
                 "schema: slower as tables grow); baseline: raw sqlite3, per key one "
                 "transaction of CREATE TABLE + INSERT");
    bench_data_free(&d);
}

/* What SQLite itself does in the same files: read table e<id> of a random
 * id, preparing the statement each time (resolving the table's name). */
static double raw_table_reads(sqlite3 *db, size_t ntables)
{
    enum { READS = 5000 };
    uint64_t x = 0x2545f4914f6cdd1du, t0 = bench_now_ns();
    for (size_t i = 0; i < READS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT value FROM \"e%zu\" LIMIT 1", (size_t)(x % ntables) + 1);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
            fprintf(stderr, "bench_sql: raw read: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        BENCH_KEEP(sqlite3_column_blob(st, 0));
        sqlite3_finalize(st);
    }
    return bench_rate(READS, t0);
}

static void bench_sql_archive_read(void)
{
    enum { R = 5 };
    bench_data d = bench_data_make(20000, KEYLEN, VALLEN, 4);
    enum { HOT = 32 };
    double small[R], large[R], raw_small[R], raw_large[R], hot_small[R], hot_large[R];

    /* lookups in a database of 1k tables and one of 20k (built once: that
     * takes a while), measured in turns so that drift hits both alike */
    char *paths[2];
    kl_archive *ars[2];
    for (int j = 0; j < 2; j++) {
        char *url;
        paths[j] = db_path("sqlarch");
        if (asprintf(&url, "sqlite:%s", paths[j]) < 0)
            exit(1);
        BENCH_CHECK(kl_archive_open(&ars[j], url, NULL));
        size_t n = j ? d.n : 1000;
        for (size_t done = 0; done < n; done += 1000)
            BENCH_CHECK(kl_archive_put_many(ars[j], 1000, d.kp + done, d.kl + done, d.vp + done,
                                      d.vl + done));
        sql_archive_reads(ars[j], &d, n); /* warm up */
        free(url);
    }
    /* raw connections to the same files (ids 1..n: fresh databases) */
    sqlite3 *raw[2];
    for (int j = 0; j < 2; j++) {
        if (sqlite3_open(paths[j], &raw[j]) != SQLITE_OK)
            exit(1);
        raw_exec(raw[j], "PRAGMA mmap_size=1073741824");
        raw_table_reads(raw[j], j ? d.n : 1000); /* warm up */
    }
    for (int r = 0; r < R; r++) {
        small[r] = sql_archive_reads(ars[0], &d, 1000);
        large[r] = sql_archive_reads(ars[1], &d, d.n);
        raw_small[r] = raw_table_reads(raw[0], 1000);
        raw_large[r] = raw_table_reads(raw[1], d.n);
        hot_small[r] = sql_archive_reads(ars[0], &d, HOT);
        hot_large[r] = sql_archive_reads(ars[1], &d, HOT);
    }
    for (int j = 0; j < 2; j++)
        sqlite3_close(raw[j]);
    if (bench_wants("sql_archive_read_20k"))
        bench_report("sql_archive_read_20k", bench_median(large, R), "entries/s",
                     bench_median(small, R), "higher",
                     "sqlite: one table per key, random reads with 20k tables; baseline: the same "
                     "with 1k tables (ratio >= 0.67: lookups do not slow down with table count)");
    if (bench_wants("sql_archive_read_20k_hot"))
        bench_report("sql_archive_read_20k_hot", bench_median(hot_large, R), "entries/s",
                     bench_median(hot_small, R), "higher",
                     "sqlite: one table per key, random reads of 32 of the keys again and again, "
                     "20k tables; baseline: the same with 1k tables");
    if (bench_wants("sqlite_table_lookup_20k"))
        bench_report("sqlite_table_lookup_20k", bench_median(raw_large, R), "entries/s",
                     bench_median(raw_small, R), "higher",
                     "raw sqlite3 in the same files: prepare + step of SELECT from table e<id> "
                     "for a random id, 20k tables; baseline: the same with 1k tables (SQLite's "
                     "own cost of finding a table by name as tables grow)");
    for (int j = 0; j < 2; j++) {
        BENCH_CHECK(kl_archive_close(ars[j]));
        rm_db(paths[j]);
    }
    bench_data_free(&d);
}

/* ---- PostgreSQL ------------------------------------------------------- */

#ifdef KLEPTO_HAVE_POSTGRES

static double raw_pg_write(const char *conninfo, const bench_data *d)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_sql: %s\n", PQerrorMessage(c));
        exit(1);
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PQclear(PQexec(c, "DROP TABLE IF EXISTS kl_bench_raw"));
    PQclear(PQexec(c, "CREATE TABLE kl_bench_raw (key bytea PRIMARY KEY, value bytea NOT NULL)"));
    PQclear(PQprepare(c, "ins",
                      "INSERT INTO kl_bench_raw (key, value) VALUES ($1, $2) ON CONFLICT (key) "
                      "DO UPDATE SET value = EXCLUDED.value",
                      2, NULL));
    static const int fmts[2] = {1, 1};
    uint64_t t0 = bench_now_ns();
    PQclear(PQexec(c, "BEGIN"));
    PQenterPipelineMode(c);
    for (size_t done = 0; done < d->n; done += 1000) {
        size_t m = d->n - done < 1000 ? d->n - done : 1000;
        for (size_t i = done; i < done + m; i++) {
            const char *pv[2] = {d->kp[i], d->vp[i]};
            int pl[2] = {KEYLEN, VALLEN};
            PQsendQueryPrepared(c, "ins", 2, pv, pl, fmts, 1);
        }
        PQpipelineSync(c);
        for (size_t i = 0; i < m; i++) {
            PGresult *res = PQgetResult(c);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                fprintf(stderr, "bench_sql: raw libpq: %s\n", PQerrorMessage(c));
                exit(1);
            }
            PQclear(res);
            PQclear(PQgetResult(c));
        }
        PQclear(PQgetResult(c)); /* the sync */
    }
    PQexitPipelineMode(c);
    PQclear(PQexec(c, "COMMIT"));
    double rate = bench_rate(d->n, t0);
    PQclear(PQexec(c, "DROP TABLE kl_bench_raw"));
    PQfinish(c);
    return rate;
}

static void bench_postgres(void)
{
    const char *base = bench_server_url("KLEPTO_TEST_PG_URL", "postgres_batch_write");
    if (!base)
        return;
    bench_data d = bench_data_make(20000, KEYLEN, VALLEN, 5);
    char *url = bench_url_with(base, "table=kl_bench");
    double ours[REPS], raw[REPS];
    for (int r = 0; r < REPS; r++) {
        raw[r] = raw_pg_write(base, &d);
        kl_archive *ar;
        BENCH_CHECK(kl_archive_open(&ar, url, NULL));
        uint64_t t0 = bench_now_ns();
        BENCH_CHECK(kl_archive_put_many(ar, d.n, d.kp, d.kl, d.vp, d.vl));
        ours[r] = bench_rate(d.n, t0);
        BENCH_CHECK(kl_archive_drop(ar));
    }
    bench_report("postgres_batch_write", bench_median(ours, REPS), "rows/s",
                 bench_median(raw, REPS), "higher",
                 "20k rows, 16 B keys, 64 B values, one put_many over loopback TCP; baseline: "
                 "raw libpq pipelined prepared upserts in one transaction");
    free(url);
    bench_data_free(&d);
}
#else
static void bench_postgres(void)
{
    fprintf(stderr, "bench_sql: built without PostgreSQL (KLEPTO_WITH_POSTGRES=OFF): "
                    "postgres_batch_write skipped\n");
}
#endif

/* ---- MySQL / MariaDB ------------------------------------------------- */

#ifdef KLEPTO_HAVE_MYSQL

enum { MY_ROWS = 500 }; /* rows per multi-row statement, as the backend */

static MYSQL *raw_my_connect(const char *url)
{
    char user[64], pass[64], host[64], db[64];
    unsigned port;
    if (sscanf(url, "mysql://%63[^:]:%63[^@]@%63[^:]:%u/%63s", user, pass, host, &port, db) != 5) {
        fprintf(stderr, "bench_sql: cannot read %s\n", "KLEPTO_TEST_MYSQL_URL");
        exit(1);
    }
    MYSQL *c = mysql_init(NULL);
    if (!mysql_real_connect(c, host, user, pass, db, port, NULL, 0)) {
        fprintf(stderr, "bench_sql: raw Connector/C: %s\n", mysql_error(c));
        exit(1);
    }
    return c;
}

static void raw_my_q(MYSQL *c, const char *sql)
{
    if (mysql_query(c, sql)) {
        fprintf(stderr, "bench_sql: raw Connector/C: %s: %s\n", sql, mysql_error(c));
        exit(1);
    }
    MYSQL_RES *r = mysql_store_result(c);
    if (r)
        mysql_free_result(r);
}

static void raw_bind(MYSQL_BIND *b, const void *p, unsigned long *len, size_t n)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)p;
    *len = (unsigned long)n;
    b->buffer_length = *len;
    b->length = len;
}

static MYSQL_STMT *raw_my_prepare(MYSQL *c, const char *sql)
{
    MYSQL_STMT *st = mysql_stmt_init(c);
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql))) {
        fprintf(stderr, "bench_sql: raw Connector/C: %s\n", mysql_stmt_error(st));
        exit(1);
    }
    return st;
}

/* Multi-row prepared upserts of MY_ROWS rows in one transaction. */
static double raw_my_write(const char *url, const bench_data *d)
{
    MYSQL *c = raw_my_connect(url);
    raw_my_q(c, "DROP TABLE IF EXISTS kl_bench_raw");
    raw_my_q(c, "CREATE TABLE kl_bench_raw (k VARBINARY(255) PRIMARY KEY, v LONGBLOB NOT NULL) "
                "ENGINE=InnoDB");
    char *sql = malloc(64 + MY_ROWS * 8 + 64);
    strcpy(sql, "INSERT INTO kl_bench_raw (k, v) VALUES ");
    for (int i = 0; i < MY_ROWS; i++)
        strcat(sql, i ? ", (?, ?)" : "(?, ?)");
    strcat(sql, " ON DUPLICATE KEY UPDATE v = VALUES(v)");
    MYSQL_STMT *st = raw_my_prepare(c, sql);
    free(sql);
    MYSQL_BIND *b = calloc(2 * MY_ROWS, sizeof *b);
    unsigned long *lens = calloc(2 * MY_ROWS, sizeof *lens);
    uint64_t t0 = bench_now_ns();
    raw_my_q(c, "START TRANSACTION");
    for (size_t done = 0; done + MY_ROWS <= d->n; done += MY_ROWS) {
        for (size_t j = 0; j < MY_ROWS; j++) {
            raw_bind(&b[2 * j], d->kp[done + j], &lens[2 * j], KEYLEN);
            raw_bind(&b[2 * j + 1], d->vp[done + j], &lens[2 * j + 1], VALLEN);
        }
        if (mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st)) {
            fprintf(stderr, "bench_sql: raw Connector/C: %s\n", mysql_stmt_error(st));
            exit(1);
        }
    }
    raw_my_q(c, "COMMIT");
    double rate = bench_rate(d->n, t0);
    mysql_stmt_close(st);
    raw_my_q(c, "DROP TABLE kl_bench_raw");
    mysql_close(c);
    free(b);
    free(lens);
    return rate;
}

/* Prepared point reads of every key, values read into a buffer. */
static double raw_my_get(const char *url, const bench_data *d)
{
    MYSQL *c = raw_my_connect(url);
    raw_my_q(c, "DROP TABLE IF EXISTS kl_bench_raw");
    raw_my_q(c, "CREATE TABLE kl_bench_raw (k VARBINARY(255) PRIMARY KEY, v LONGBLOB NOT NULL) "
                "ENGINE=InnoDB");
    MYSQL_STMT *ins = raw_my_prepare(c, "INSERT INTO kl_bench_raw (k, v) VALUES (?, ?)");
    MYSQL_BIND b[2];
    unsigned long lens[2];
    raw_my_q(c, "START TRANSACTION");
    for (size_t i = 0; i < d->n; i++) {
        raw_bind(&b[0], d->kp[i], &lens[0], KEYLEN);
        raw_bind(&b[1], d->vp[i], &lens[1], VALLEN);
        mysql_stmt_bind_param(ins, b);
        mysql_stmt_execute(ins);
    }
    raw_my_q(c, "COMMIT");
    mysql_stmt_close(ins);
    MYSQL_STMT *sel = raw_my_prepare(c, "SELECT v FROM kl_bench_raw WHERE k = ?");
    char buf[VALLEN * 2];
    unsigned long vlen;
    MYSQL_BIND out;
    uint64_t t0 = bench_now_ns();
    size_t sum = 0;
    for (size_t i = 0; i < d->n; i++) {
        raw_bind(&b[0], d->kp[i], &lens[0], KEYLEN);
        raw_bind(&out, buf, &vlen, sizeof buf);
        if (mysql_stmt_bind_param(sel, b) || mysql_stmt_execute(sel) ||
            mysql_stmt_bind_result(sel, &out) || mysql_stmt_fetch(sel)) {
            fprintf(stderr, "bench_sql: raw Connector/C: %s\n", mysql_stmt_error(sel));
            exit(1);
        }
        sum += vlen;
        mysql_stmt_free_result(sel);
    }
    double rate = bench_rate(d->n, t0);
    BENCH_KEEP(sum);
    mysql_stmt_close(sel);
    raw_my_q(c, "DROP TABLE kl_bench_raw");
    mysql_close(c);
    return rate;
}

/* Table per key: a catalogue row, a table and its value per key. */
static double raw_my_sql_archive_write(const char *url, const bench_data *d)
{
    MYSQL *c = raw_my_connect(url);
    raw_my_q(c, "DROP TABLE IF EXISTS kl_bench_cat");
    raw_my_q(c, "CREATE TABLE kl_bench_cat (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                "k VARBINARY(255) UNIQUE) ENGINE=InnoDB");
    MYSQL_STMT *ins = raw_my_prepare(c, "INSERT INTO kl_bench_cat (k) VALUES (?)");
    MYSQL_BIND b[1];
    unsigned long len;
    char sql[128];
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < d->n; i++) {
        raw_bind(&b[0], d->kp[i], &len, KEYLEN);
        mysql_stmt_bind_param(ins, b);
        if (mysql_stmt_execute(ins)) {
            fprintf(stderr, "bench_sql: raw Connector/C: %s\n", mysql_stmt_error(ins));
            exit(1);
        }
        unsigned long long id = mysql_stmt_insert_id(ins);
        snprintf(sql, sizeof sql, "CREATE TABLE kl_bench_e%llu (v LONGBLOB NOT NULL) ENGINE=InnoDB",
                 id);
        raw_my_q(c, sql);
        snprintf(sql, sizeof sql, "INSERT INTO kl_bench_e%llu (v) VALUES (?)", id);
        MYSQL_STMT *st = raw_my_prepare(c, sql);
        raw_bind(&b[0], d->vp[i], &len, VALLEN);
        mysql_stmt_bind_param(st, b);
        mysql_stmt_execute(st);
        mysql_stmt_close(st);
    }
    double rate = bench_rate(d->n, t0);
    mysql_stmt_close(ins);
    for (size_t i = 1; i <= d->n; i++) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS kl_bench_e%zu", i);
        raw_my_q(c, sql);
    }
    raw_my_q(c, "DROP TABLE kl_bench_cat");
    mysql_close(c);
    return rate;
}

static void bench_mysql(void)
{
    const char *base = bench_server_url("KLEPTO_TEST_MYSQL_URL", "mysql_*");
    if (!base)
        return;
    char *url = bench_url_with(base, "table=kl_bench");
    double ours[REPS], raw[REPS];
    if (bench_wants("mysql_batch_write")) {
        bench_data d = bench_data_make(20000, KEYLEN, VALLEN, 7);
        for (int r = 0; r < REPS; r++) {
            raw[r] = raw_my_write(base, &d);
            kl_archive *ar;
            BENCH_CHECK(kl_archive_open(&ar, url, NULL));
            uint64_t t0 = bench_now_ns();
            BENCH_CHECK(kl_archive_put_many(ar, d.n, d.kp, d.kl, d.vp, d.vl));
            ours[r] = bench_rate(d.n, t0);
            BENCH_CHECK(kl_archive_drop(ar));
        }
        bench_report("mysql_batch_write", bench_median(ours, REPS), "rows/s",
                     bench_median(raw, REPS), "higher",
                     "20k rows, 16 B keys, 64 B values, one put_many over loopback TCP; "
                     "baseline: raw Connector/C prepared 500-row upserts in one transaction");
        bench_data_free(&d);
    }
    if (bench_wants("mysql_get")) {
        bench_data d = bench_data_make(5000, KEYLEN, VALLEN, 8);
        for (int r = 0; r < REPS; r++) {
            raw[r] = raw_my_get(base, &d);
            kl_archive *ar;
            BENCH_CHECK(kl_archive_open(&ar, url, NULL));
            BENCH_CHECK(kl_archive_put_many(ar, d.n, d.kp, d.kl, d.vp, d.vl));
            kl_buf v = KL_BUF_INIT;
            size_t sum = 0;
            uint64_t t0 = bench_now_ns();
            for (size_t i = 0; i < d.n; i++) {
                BENCH_CHECK(kl_archive_get(ar, d.kp[i], d.kl[i], &v));
                sum += v.len;
            }
            ours[r] = bench_rate(d.n, t0);
            BENCH_KEEP(sum);
            kl_buf_free(&v);
            BENCH_CHECK(kl_archive_drop(ar));
        }
        bench_report("mysql_get", bench_median(ours, REPS), "gets/s", bench_median(raw, REPS),
                     "higher",
                     "5k point reads of stored keys, 16 B keys, 64 B values, loopback TCP; "
                     "baseline: raw Connector/C prepared SELECT by primary key");
        bench_data_free(&d);
    }
    if (bench_wants("mysql_sql_archive_write")) {
        bench_data d = bench_data_make(300, KEYLEN, VALLEN, 9);
        for (int r = 0; r < 3; r++) {
            raw[r] = raw_my_sql_archive_write(base, &d);
            kl_archive *ar;
            BENCH_CHECK(kl_archive_open(&ar, base, NULL));
            uint64_t t0 = bench_now_ns();
            for (size_t i = 0; i < d.n; i++)
                BENCH_CHECK(kl_archive_put(ar, d.kp[i], d.kl[i], d.vp[i], d.vl[i]));
            ours[r] = bench_rate(d.n, t0);
            BENCH_CHECK(kl_archive_drop(ar));
        }
        bench_report("mysql_sql_archive_write", bench_median(ours, 3), "puts/s",
                     bench_median(raw, 3), "higher",
                     "300 new keys put one by one in the table-per-key layout; baseline: raw "
                     "Connector/C catalogue insert + CREATE TABLE + prepared value insert");
        bench_data_free(&d);
    }
    free(url);
}
#else
static void bench_mysql(void)
{
    fprintf(stderr, "bench_sql: built without MySQL (KLEPTO_WITH_MYSQL=OFF): mysql_* skipped\n");
}
#endif

int main(void)
{
    if (bench_wants("sqlite_batch_write"))
        bench_sqlite_batch_write();
    if (bench_wants("sqlite_single_write"))
        bench_sqlite_single_write();
    if (bench_wants("sqlite_read"))
        bench_sqlite_read();
    if (bench_wants("sql_archive_write"))
        bench_sql_archive_write();
    if (bench_wants("sql_archive_read_20k") || bench_wants("sql_archive_read_20k_hot") ||
        bench_wants("sqlite_table_lookup_20k"))
        bench_sql_archive_read();
    if (bench_wants("postgres_batch_write"))
        bench_postgres();
    if (bench_wants("mysql_batch_write") || bench_wants("mysql_get") ||
        bench_wants("mysql_sql_archive_write"))
        bench_mysql();
    bench_rmrf(bench_tmpdir());
    return 0;
}
