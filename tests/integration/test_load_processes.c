/* SPDX-License-Identifier: BSD-3-Clause */
/* Load: 8 processes at once run N mixed operations each -- puts, gets,
 * deletes and batches of them (put_many, get_many, del_many) -- on one
 * archive of every kind: file:, dir:, sqlite: (both layouts), hdf5:,
 * hdf5dir:, and redis://, postgresql://, mysql:// when the test servers
 * are there ($KLEPTO_TEST_*_URL, set by scripts/with-servers.sh).
 *
 * Each process works on keys of its own and on keys they all share.  It
 * keeps a model of its own keys, so every get of one must give exactly
 * the value the model says (or "not found" when the model says deleted),
 * every delete must find what the model says; a value read for a shared
 * key must be one written for that key (values name their key, writer
 * and version), and "not found" there is fine (another process may have
 * deleted it).  Afterwards every own key is present or absent exactly as
 * its model says, the count adds up, verify is clean, and no process saw
 * an error.  N = 10,000 in `make test-long`, LOAD_OPS below in `make test`.
 * mem: is per-process, so it is not here. */
#define _GNU_SOURCE
#include "archive_suite.h"
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/features.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    PROCS = 8,
    OWN = 64,    /* keys of each process (few: so puts overwrite, deletes hit) */
    SHARED = 32, /* keys every process writes, reads and deletes */
    BATCH = 8,
    LOAD_OPS = 3000, /* per process in `make test`: hdf5: (the slowest) takes ~5 s */
    LONG_OPS = 10000,
};

/* the model of every process's own keys: 0 = absent, else the version
 * written last; in memory shared with the children */
static int *models;

/* A value: a CBOR byte string naming its key, its writer and its version,
 * padded to a size that depends on the version (16..~400 bytes). */
static size_t value_of(unsigned char *v, long long owner, long long j, int writer, int version)
{
    char text[96];
    int n = snprintf(text, sizeof text, "key %lld/%lld by %d v%d;", owner, j, writer, version);
    size_t len = (size_t)n + (size_t)(version * 37 % 380);
    v[0] = 0x59; /* a CBOR byte string, 2-byte length */
    v[1] = (unsigned char)(len >> 8);
    v[2] = (unsigned char)len;
    memcpy(v + 3, text, (size_t)n);
    for (size_t i = (size_t)n; i < len; i++)
        v[3 + i] = (unsigned char)('a' + (i + (size_t)version) % 26);
    return len + 3;
}

/* Is got a value written for key (owner, j) by someone?  For an own key
 * the exact writer and version are known (want_version > 0). */
static bool value_ok(const unsigned char *got, size_t gl, long long owner, long long j,
                     int want_writer, int want_version)
{
    if (gl < 3 || got[0] != 0x59)
        return false;
    int writer = -1, version = -1;
    long long o = 0, jj = 0;
    char text[96];
    size_t n = gl - 3 < sizeof text - 1 ? gl - 3 : sizeof text - 1;
    memcpy(text, got + 3, n);
    text[n] = 0;
    if (sscanf(text, "key %lld/%lld by %d v%d;", &o, &jj, &writer, &version) != 4)
        return false;
    if (o != owner || jj != j || writer < 0 || writer >= PROCS || version <= 0)
        return false;
    if (want_version > 0 && (writer != want_writer || version != want_version))
        return false;
    unsigned char expect[512];
    size_t el = value_of(expect, owner, j, writer, version);
    return el == gl && memcmp(expect, got, gl) == 0;
}

typedef struct tally {
    int errors, wrong;
} tally;

#define REPORT(t, field, ...)                                                            \
    do {                                                                                 \
        if ((t)->errors + (t)->wrong < 10)                                               \
            fprintf(stderr, __VA_ARGS__);                                                \
        (t)->field++;                                                                    \
    } while (0)

static void check_get(tally *t, int me, int rc, const kl_buf *got, long long owner, long long j,
                      int model)
{
    if (owner >= 0) { /* own key: exactly as the model says */
        if (model == 0 && rc == KL_ENOTFOUND)
            return;
        if (model == 0 || rc) {
            if (rc && rc != KL_ENOTFOUND)
                REPORT(t, errors, "proc %d: get %lld/%lld: %s\n", me, owner, j, kl_errmsg());
            else
                REPORT(t, wrong, "proc %d: get %lld/%lld: rc %d, model v%d\n", me, owner, j, rc,
                       model);
            return;
        }
        if (!value_ok(got->data, got->len, owner, j, me, model))
            REPORT(t, wrong, "proc %d: get %lld/%lld: wrong value '%.40s', model v%d\n", me,
                   owner, j, (const char *)got->data + 3, model);
        return;
    }
    if (rc == KL_ENOTFOUND)
        return;
    if (rc)
        REPORT(t, errors, "proc %d: get shared %lld: %s\n", me, j, kl_errmsg());
    else if (!value_ok(got->data, got->len, owner, j, -1, 0))
        REPORT(t, wrong, "proc %d: get shared %lld: wrong value\n", me, j);
}

static int child(const char *url, int me, int ops)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL)) {
        fprintf(stderr, "proc %d: open: %s\n", me, kl_errmsg());
        return 1;
    }
    int *model = models + me * OWN;
    tally t = {0, 0};
    unsigned seed = (unsigned)me * 2654435761u + 17;
    unsigned char kb[BATCH][64], vb[BATCH][512];
    const void *ks[BATCH], *vs[BATCH];
    size_t kls[BATCH], vls[BATCH];
    kl_buf got[BATCH];
    bool found[BATCH];
    for (int b = 0; b < BATCH; b++) {
        got[b] = (kl_buf)KL_BUF_INIT;
        ks[b] = kb[b];
        vs[b] = vb[b];
    }
    for (int op = 1; op <= ops; op++) {
        int dice = rand_r(&seed) % 100;
        bool shared = dice >= 80;
        long long owner = shared ? -1 : me;
        long long j = rand_r(&seed) % (shared ? SHARED : OWN);
        int rc;
        if (!shared && dice >= 65) { /* a batch of own keys j, j+1, ... */
            int n = 2 + rand_r(&seed) % (BATCH - 1), kind = dice % 3;
            for (int b = 0; b < n; b++) {
                long long jb = (j + b) % OWN;
                kls[b] = kt_key(kb[b], owner, jb);
                vls[b] = value_of(vb[b], owner, jb, me, op);
            }
            if (kind == 0) {
                rc = kl_archive_put_many(ar, (size_t)n, ks, kls, vs, vls);
                if (rc)
                    REPORT(&t, errors, "proc %d: put_many: %s\n", me, kl_errmsg());
                else
                    for (int b = 0; b < n; b++)
                        model[(j + b) % OWN] = op;
            } else if (kind == 1) {
                rc = kl_archive_get_many(ar, (size_t)n, ks, kls, got, found);
                if (rc)
                    REPORT(&t, errors, "proc %d: get_many: %s\n", me, kl_errmsg());
                else
                    for (int b = 0; b < n; b++)
                        check_get(&t, me, found[b] ? 0 : KL_ENOTFOUND, &got[b], owner,
                                  (j + b) % OWN, model[(j + b) % OWN]);
            } else {
                size_t deleted = 0, want = 0;
                for (int b = 0; b < n; b++)
                    want += model[(j + b) % OWN] != 0;
                rc = kl_archive_del_many(ar, (size_t)n, ks, kls, &deleted);
                if (rc)
                    REPORT(&t, errors, "proc %d: del_many: %s\n", me, kl_errmsg());
                else {
                    if (deleted != want)
                        REPORT(&t, wrong, "proc %d: del_many deleted %zu, model %zu\n", me,
                               deleted, want);
                    for (int b = 0; b < n; b++)
                        model[(j + b) % OWN] = 0;
                }
            }
            continue;
        }
        size_t kl = kt_key(kb[0], owner, j);
        int which = shared ? (dice < 90 ? 0 : dice < 98 ? 1 : 2)
                           : (dice < 30 ? 0 : dice < 55 ? 1 : 2);
        if (which == 0) { /* put */
            size_t vl = value_of(vb[0], owner, j, me, op);
            if ((rc = kl_archive_put(ar, kb[0], kl, vb[0], vl)))
                REPORT(&t, errors, "proc %d: put %lld/%lld: %s\n", me, owner, j, kl_errmsg());
            else if (!shared)
                model[j] = op;
        } else if (which == 1) { /* get */
            rc = kl_archive_get(ar, kb[0], kl, &got[0]);
            check_get(&t, me, rc, &got[0], owner, j, shared ? 0 : model[j]);
        } else { /* delete */
            rc = kl_archive_del(ar, kb[0], kl);
            if (rc && rc != KL_ENOTFOUND)
                REPORT(&t, errors, "proc %d: del %lld/%lld: %s\n", me, owner, j, kl_errmsg());
            else if (!shared && (rc == KL_ENOTFOUND) != (model[j] == 0))
                REPORT(&t, wrong, "proc %d: del %lld/%lld: rc %d, model v%d\n", me, owner, j,
                       rc, model[j]);
            else if (!shared)
                model[j] = 0;
        }
    }
    for (int b = 0; b < BATCH; b++)
        kl_buf_free(&got[b]);
    if (kl_archive_close(ar))
        REPORT(&t, errors, "proc %d: close: %s\n", me, kl_errmsg());
    if (t.errors || t.wrong)
        fprintf(stderr, "proc %d: %d errors, %d wrong values in %d operations\n", me, t.errors,
                t.wrong, ops);
    return t.errors || t.wrong ? 1 : 0;
}

static void run_load(const char *url, bool precreate, int ops)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_CHILDREN, &ru0);
    memset(models, 0, sizeof(int) * PROCS * OWN);
    /* created first (the children race on entries), or by the children */
    kl_archive *ar = NULL;
    if (precreate) {
        KT_OK(kl_archive_open(&ar, url, NULL));
        KT_OK(kl_archive_clear(ar));
        KT_OK(kl_archive_close(ar));
    }
    alarm(kt_long() ? 3000 : 500); /* a hang fails the test */
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    fflush(NULL);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(gate[1]);
            char c;
            while (read(gate[0], &c, 1) > 0) {
            } /* all start when the parent closes the gate */
            _exit(child(url, p, ops));
        }
    }
    close(gate[0]);
    close(gate[1]);
    int failed = 0;
    for (int p = 0; p < PROCS; p++) {
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    if (failed)
        fail_msg("%s: %d of %d processes saw errors or wrong values (their stderr above)", url,
                 failed, PROCS);

    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char k[64];
    kl_buf got = KL_BUF_INIT;
    size_t present = 0;
    for (int p = 0; p < PROCS; p++)
        for (int j = 0; j < OWN; j++) {
            size_t kl = kt_key(k, p, j);
            int m = models[p * OWN + j];
            int rc = kl_archive_get(ar, k, kl, &got);
            if (m == 0 && rc == KL_ENOTFOUND)
                continue;
            if (m == 0)
                fail_msg("%s: %d/%d deleted last, but get -> %d", url, p, j, rc);
            if (rc)
                fail_msg("%s: %d/%d lost (v%d): %s", url, p, j, m, kl_errmsg());
            if (!value_ok(got.data, got.len, p, j, p, m))
                fail_msg("%s: %d/%d holds a wrong value (want v%d)", url, p, j, m);
            present++;
        }
    for (int j = 0; j < SHARED; j++) {
        size_t kl = kt_key(k, -1, j);
        int rc = kl_archive_get(ar, k, kl, &got);
        if (rc == KL_ENOTFOUND)
            continue;
        KT_OK(rc);
        if (!value_ok(got.data, got.len, -1, j, -1, 0))
            fail_msg("%s: shared %d holds a wrong value", url, j);
        present++;
    }
    kl_buf_free(&got);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, present);
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 1;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    if (problems)
        fail_msg("%s: verify: %s", url, kl_buf_cstr(&rep));
    kl_buf_free(&rep);
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_CHILDREN, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_utime.tv_sec -
                          ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_utime.tv_usec -
                          ru0.ru_stime.tv_usec) / 1e6;
    char *shown = kl_archive_redact_url(url);
    /* figures for the report only: nothing is asserted on time */
    print_message("%s: %d processes x %d operations: %zu entries at the end, %.1f s, "
                  "children's CPU %.1f s\n",
                  shown ? shown : "(archive)", PROCS, ops, present,
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, cpu);
    free(shown);
    KT_OK(kl_archive_drop(ar));
}

static void run(const char *url) { run_load(url, true, kt_long() ? LONG_OPS : LOAD_OPS); }

static char *tmp;

static void local(const char *scheme, const char *fmt)
{
    if (!kl_feature(scheme)) {
        print_message("built without the %s backend: skipped\n", scheme);
        skip();
    }
    char url[700];
    snprintf(url, sizeof url, fmt, tmp);
    run(url);
}

static void on_server(const char *scheme, const char *var, const char *option)
{
    char *url = kt_server_url(scheme, var, option, "");
    run(url);
    free(url);
}

static void load_file(void **st)
{
    (void)st;
    local("file", "file:%s/load.kle");
}

static void load_dir(void **st)
{
    (void)st;
    local("dir", "dir:%s/load-dir");
}

static void load_sqlite_table(void **st)
{
    (void)st;
    local("sqlite", "sqlite:%s/load.db?table=results");
}

static void load_sqlite_table_per_key(void **st)
{
    (void)st;
    local("sqlite", "sqlite:%s/load-tpk.db");
}

static void load_hdf5(void **st)
{
    (void)st;
    local("hdf5", "hdf5:%s/load.h5");
}

static void load_hdf5dir(void **st)
{
    (void)st;
    local("hdf5dir", "hdf5dir:%s/load-h5");
}

static void load_redis(void **st)
{
    (void)st;
    on_server("redis", "KLEPTO_TEST_REDIS_URL", "prefix=kt_load_");
}

static void load_postgresql(void **st)
{
    (void)st;
    on_server("postgresql", "KLEPTO_TEST_PG_URL", "table=kt_load_");
}

static void load_mysql(void **st)
{
    (void)st;
    on_server("mysql", "KLEPTO_TEST_MYSQL_URL", "table=kt_load_");
}

/* The same load on archives that do not exist yet: the 8 processes race
 * to create them too. */
static void created_by_all(const char *scheme, const char *fmt)
{
    if (!kl_feature(scheme)) {
        print_message("built without the %s backend: skipped\n", scheme);
        skip();
    }
    char url[700];
    snprintf(url, sizeof url, fmt, tmp);
    run_load(url, false, LOAD_OPS); /* about the creation: the short load */
}

static void new_archives_created_by_all(void **st)
{
    (void)st;
    created_by_all("file", "file:%s/new.kle");
    created_by_all("dir", "dir:%s/new-dir");
    created_by_all("sqlite", "sqlite:%s/new.db?table=results");
    created_by_all("sqlite", "sqlite:%s/new-tpk.db");
    created_by_all("hdf5", "hdf5:%s/new.h5");
    created_by_all("hdf5dir", "hdf5dir:%s/new-h5");
}

/* Regression: a get of an hdf5dir: entry that another process deletes at
 * that moment said "open: HDF5: can't retrieve stat info for file" (HDF5
 * opened the file, then the name was gone when it looked it up again)
 * instead of "not found".  One process puts and deletes one key without
 * pause while this one reads it: every get finds the value or nothing. */
static void hdf5dir_get_meets_a_delete(void **st)
{
    (void)st;
    if (!kl_feature("hdf5dir")) {
        print_message("built without the hdf5dir backend: skipped\n");
        skip();
    }
    char url[700];
    snprintf(url, sizeof url, "hdf5dir:%s/get-del", tmp);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char k[64], v[512];
    size_t kl = kt_key(k, -1, 7), vl = value_of(v, -1, 7, 0, 1);
    int stop[2];
    assert_int_equal(pipe(stop), 0);
    fflush(NULL);
    pid_t w = fork();
    assert_true(w >= 0);
    if (w == 0) {
        close(stop[1]);
        alarm(300);
        kl_archive *wa = NULL;
        int rc = kl_archive_open(&wa, url, NULL);
        struct pollfd pfd = {stop[0], POLLIN, 0};
        while (!rc && poll(&pfd, 1, 0) == 0) {
            rc = kl_archive_put(wa, k, kl, v, vl);
            if (!rc && (rc = kl_archive_del(wa, k, kl)) == KL_ENOTFOUND)
                rc = 0;
        }
        if (rc)
            fprintf(stderr, "writer: %s\n", kl_errmsg());
        kl_archive_close(wa);
        _exit(rc ? 1 : 0);
    }
    close(stop[0]);
    alarm(300);
    int errors = 0, seen = 0;
    kl_buf got = KL_BUF_INIT;
    for (int i = 0; i < 20000; i++) {
        int rc = kl_archive_get(ar, k, kl, &got);
        if (rc == KL_ENOTFOUND)
            continue;
        if (!rc && value_ok(got.data, got.len, -1, 7, 0, 1)) {
            seen++;
            continue;
        }
        if (++errors <= 5)
            print_message("get %d: %d: %s\n", i, rc, rc ? kl_errmsg() : "wrong value");
    }
    close(stop[1]);
    int wst = 0;
    assert_int_equal(waitpid(w, &wst, 0), w);
    alarm(0);
    kl_buf_free(&got);
    print_message("20000 gets during puts and deletes: %d found the value\n", seen);
    assert_int_equal(errors, 0);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    KT_OK(kl_archive_drop(ar));
}

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("load");
    if (!tmp)
        return 1;
    models = mmap(NULL, sizeof(int) * PROCS * OWN, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (models == MAP_FAILED)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_file),          cmocka_unit_test(load_dir),
        cmocka_unit_test(load_sqlite_table),  cmocka_unit_test(load_sqlite_table_per_key),
        cmocka_unit_test(load_hdf5),          cmocka_unit_test(load_hdf5dir),
        cmocka_unit_test(load_redis),         cmocka_unit_test(load_postgresql),
        cmocka_unit_test(load_mysql),         cmocka_unit_test(hdf5dir_get_meets_a_delete),
        cmocka_unit_test(new_archives_created_by_all),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
