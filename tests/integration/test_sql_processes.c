/* SPDX-License-Identifier: BSD-3-Clause */
/* 8 processes writing at once — distinct keys and keys they all write —
 * into one SQLite file and one PostgreSQL database, in both layouts: no
 * process sees an error, nothing is lost, every value is one that some
 * process wrote for that key. */
#define _GNU_SOURCE
#ifdef KLEPTO_HAVE_POSTGRES
#include <libpq-fe.h>
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"
#include "klepto/sys/errors.h"
#include "sanitizers.h"
#include "testutil.h"

enum { NPROC = 8 };

typedef struct plan {
    int distinct; /* keys only this process writes */
    int shared;   /* keys every process writes */
} plan;

static int key_of(char *buf, size_t cap, int proc, int i)
{
    /* proc < 0: a shared key */
    return proc < 0 ? snprintf(buf, cap, "shared/%d", i) : snprintf(buf, cap, "p%d/%d", proc, i);
}

static int val_of(char *buf, size_t cap, const char *key, int writer)
{
    return snprintf(buf, cap, "%s written by %d", key, writer);
}

/* One writer: half its keys one by one, half in batches of 25; shared keys
 * interleaved so that the processes collide on them. */
static int child(const char *url, int me, plan p)
{
    kl_archive *ar;
    if (kl_archive_open(&ar, url, NULL)) {
        fprintf(stderr, "writer %d: open: %s\n", me, kl_errmsg());
        return 1;
    }
    enum { B = 25 };
    char kb[B][48], vb[B][96];
    const void *ks[B], *vs[B];
    size_t kl[B], vl[B];
    int nb = 0, rc = 0, sh = 0, di = 0;
    int total = p.distinct + p.shared;
    for (int j = 0; j < total && !rc; j++) {
        /* shared keys spread through the run, each process in its own
         * order (a permutation: p.shared is prime to 7) */
        int proc, i;
        if (sh < p.shared && (di == p.distinct || (long)sh * total <= (long)j * p.shared)) {
            proc = -1;
            i = (sh++ * 7 + me * 13) % p.shared;
        } else {
            proc = me;
            i = di++;
        }
        kl[nb] = (size_t)key_of(kb[nb], sizeof kb[nb], proc, i);
        vl[nb] = (size_t)val_of(vb[nb], sizeof vb[nb], kb[nb], me);
        ks[nb] = kb[nb];
        vs[nb] = vb[nb];
        if (j % 2 == 0) {
            rc = kl_archive_put(ar, ks[nb], kl[nb], vs[nb], vl[nb]);
        } else if (++nb == B || j == total - 1) {
            rc = kl_archive_put_many(ar, (size_t)nb, ks, kl, vs, vl);
            nb = 0;
        }
    }
    if (!rc && nb)
        rc = kl_archive_put_many(ar, (size_t)nb, ks, kl, vs, vl);
    if (rc)
        fprintf(stderr, "writer %d: %s: %s\n", me, kl_strerror(rc), kl_errmsg());
    if (kl_archive_close(ar) && !rc) {
        fprintf(stderr, "writer %d: close: %s\n", me, kl_errmsg());
        rc = 1;
    }
    return rc ? 1 : 0;
}

static void run_writers(const char *url, plan p)
{
    /* create the storage first?  No: the writers race for that too. */
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t pids[NPROC];
    fflush(NULL);
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(gate[1]);
            char c;
            while (read(gate[0], &c, 1) > 0) {
            } /* all start when the parent closes the gate */
            _exit(child(url, i, p));
        }
    }
    close(gate[0]);
    close(gate[1]);
    int failures = 0;
    for (int i = 0; i < NPROC; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failures++;
    }
    assert_int_equal(failures, 0);

    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, (size_t)(NPROC * p.distinct + p.shared));
    kl_buf got = KL_BUF_INIT;
    char kb[48], vb[96];
    for (int proc = -1; proc < NPROC; proc++) {
        int count = proc < 0 ? p.shared : p.distinct;
        for (int i = 0; i < count; i++) {
            int kn = key_of(kb, sizeof kb, proc, i);
            KT_OK(kl_archive_get(ar, kb, (size_t)kn, &got));
            int ok = 0;
            for (int w = 0; w < NPROC && !ok; w++) {
                if (proc >= 0 && w != proc)
                    continue;
                int vn = val_of(vb, sizeof vb, kb, w);
                ok = got.len == (size_t)vn && memcmp(got.data, vb, (size_t)vn) == 0;
            }
            if (!ok)
                fail_msg("%s holds '%.*s'", kb, (int)got.len, (const char *)got.data);
        }
    }
    kl_buf_free(&got);
    KT_OK(kl_archive_drop(ar));
}

static void sqlite_file_shared_by_8_writers(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqlprocs"), *u;
    assert_true(asprintf(&u, "sqlite:%s/shared.db?table=results", dir) > 0);
    run_writers(u, (plan){600, 200});
    free(u);
    assert_true(asprintf(&u, "sqlite:%s/shared.db", dir) > 0);
    run_writers(u, (plan){60, 40});
    free(u);
    kt_rmrf(dir);
    free(dir);
}

/* Table-per-key SQLite: one process adds keys without pause -- each a
 * new table, so each a schema change -- while this one opens the file,
 * counts and reads, 300 times.  Every statement of a connection whose
 * schema went stale is re-prepared; SQLite gives up on that after a few
 * tries (SQLITE_SCHEMA, "database schema has changed"), the backend must
 * not. */
static int schema_writer(const char *url, int stop_fd)
{
    kl_archive *ar;
    if (kl_archive_open(&ar, url, NULL)) {
        fprintf(stderr, "writer: open: %s\n", kl_errmsg());
        return 1;
    }
    int rc = 0;
    char k[32], v[48];
    char c;
    /* keys added without pause, and the oldest removed, so that the
     * schema changes all the time but stays near BASE + 200 tables: SQLite's schema
     * loads slow down with the table count */
    for (int i = 0; !rc && read(stop_fd, &c, 1) < 0; i++) {
        int kn = snprintf(k, sizeof k, "w/%d", i), vn = snprintf(v, sizeof v, "w %d", i);
        if ((rc = kl_archive_put(ar, k, (size_t)kn, v, (size_t)vn)))
            fprintf(stderr, "writer: put %s: %s\n", k, kl_errmsg());
        kn = snprintf(k, sizeof k, "w/%d", i - 200);
        if (!rc && i >= 200 && (rc = kl_archive_del(ar, k, (size_t)kn)))
            fprintf(stderr, "writer: del %s: %s\n", k, kl_errmsg());
    }
    kl_archive_close(ar);
    return rc ? 1 : 0;
}

/* Under AddressSanitizer a reader's schema load of ~2200 tables costs
 * about half a second, so 300 rounds took 180-300 s and could outlast the
 * alarm on a loaded machine.  The race this test looks for is hunted by
 * the plain build's 300 rounds; under the sanitizer (which looks for
 * memory errors on the same paths) 100 rounds, and 300 again in
 * `make test-long`. */
#define SANITIZED KT_ASAN

static void sqlite_readers_meet_a_changing_schema(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqlschema"), *u;
    assert_true(asprintf(&u, "sqlite:%s/grow.db", dir) > 0);
    enum { BASE = 2000 };
    const int ROUNDS = SANITIZED && !kt_long() ? 100 : 300;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    char k[32], v[48];
    for (int i = 0; i < BASE; i++) {
        int kn = snprintf(k, sizeof k, "k/%d", i), vn = snprintf(v, sizeof v, "v %d", i);
        KT_OK(kl_archive_put(ar, k, (size_t)kn, v, (size_t)vn));
    }
    KT_OK(kl_archive_close(ar));

    int stop[2];
    assert_int_equal(pipe(stop), 0);
    assert_int_equal(fcntl(stop[0], F_SETFL, O_NONBLOCK), 0);
    fflush(NULL);
    pid_t w = fork();
    assert_true(w >= 0);
    if (w == 0) {
        close(stop[1]);
        alarm(300);
        _exit(schema_writer(u, stop[0]));
    }
    close(stop[0]);
    alarm(300); /* a hang fails the test */
    int errors = 0;
    kl_buf got = KL_BUF_INIT;
    for (int i = 0; i < ROUNDS; i++) {
        int r = kl_archive_open(&ar, u, NULL);
        size_t n = 0;
        if (!r)
            r = kl_archive_count(ar, &n);
        int kn = snprintf(k, sizeof k, "k/%d", i % BASE), vn = snprintf(v, sizeof v, "v %d", i % BASE);
        if (!r)
            r = kl_archive_get(ar, k, (size_t)kn, &got);
        if (!r && (got.len != (size_t)vn || memcmp(got.data, v, (size_t)vn) != 0))
            r = kl_seterr(KL_ECORRUPT, "%s holds '%.*s'", k, (int)got.len, (const char *)got.data);
        if (!r && n < BASE)
            r = kl_seterr(KL_ECORRUPT, "count %zu < %d", n, BASE);
        if (r && ++errors <= 5)
            print_message("round %d: %s\n", i, kl_errmsg());
        if (ar)
            kl_archive_close(ar);
        ar = NULL;
    }
    close(stop[1]);
    int st;
    assert_int_equal(waitpid(w, &st, 0), w);
    alarm(0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(errors, 0);
    kl_buf_free(&got);
    free(u);
    kt_rmrf(dir);
    free(dir);
}

#ifdef KLEPTO_HAVE_POSTGRES
static void pg_exec_or_fail(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void postgres_database_shared_by_8_writers(void **state)
{
    (void)state;
    const char *base = getenv("KLEPTO_TEST_PG_URL");
    if (!base || !*base) {
        print_message("KLEPTO_TEST_PG_URL is not set (run under scripts/with-servers.sh): "
                      "skipped\n");
        skip();
    }
    char schema[64], sql[128], *u;
    snprintf(schema, sizeof schema, "kt_procs_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    pg_exec_or_fail(base, sql);
    char sep = strchr(base, '?') ? '&' : '?';
    assert_true(asprintf(&u, "%s%coptions=-csearch_path%%3D%s&table=results", base, sep, schema) >
                0);
    run_writers(u, (plan){600, 200});
    free(u);
    assert_true(asprintf(&u, "%s%coptions=-csearch_path%%3D%s", base, sep, schema) > 0);
    run_writers(u, (plan){60, 40});
    free(u);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    pg_exec_or_fail(base, sql);
}
#else
static void postgres_database_shared_by_8_writers(void **state)
{
    (void)state;
    print_message("built without PostgreSQL (KLEPTO_WITH_POSTGRES=OFF): skipped\n");
    skip();
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlite_file_shared_by_8_writers),
        cmocka_unit_test(sqlite_readers_meet_a_changing_schema),
        cmocka_unit_test(postgres_database_shared_by_8_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
