/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault sweeps (the discipline of SQLite's test VFS): one workload — single
 * puts, batch puts, rewrites, deletes one by one and in a batch, sync,
 * compaction, verify --repair, and the cached front's dump — run on every
 * local archive kind again and again, with the N-th read, write, fsync,
 * rename, mkdir or open of the library failing (support/fs_fault.h), once
 * or from then on, for N across the whole workload.  After each run:
 *
 *  - every failure reached the caller as a negative code whose message
 *    names the archive (its path) and says what the system answered;
 *  - the archive reopens (no fault) and verify finds no problem;
 *  - every entry acknowledged before the fault reads back intact; an entry
 *    whose write failed reads as before or as after, never anything else;
 *  - iterating finds only such entries: nothing half-written is visible.
 *
 * `make test` sweeps a slice of the fault points (about 8 per class and
 * kind); KLEPTO_TEST_LONG=1 (`make test-long`) sweeps every one, with
 * every errno of its class.  The number of points swept per kind is
 * printed. */
#define _GNU_SOURCE
#include "fs_fault.h"
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/cached.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;
static bool long_run;
static long bad_runs; /* checks that failed in this sweep */

/* A check failed: say so (the first few of a sweep) and go on, so that
 * one sweep reports every kind of failure it finds; the sweep fails at
 * its end. */
#define BAD(...)                                                                           \
    do {                                                                                   \
        if (bad_runs++ < 400)                                                               \
            print_message("FAULT SWEEP: " __VA_ARGS__);                                    \
        print_message("\n");                                                               \
    } while (0)

enum { NK = 32 };
#define ABSENT (-1)

/* What each key may read as: the last acknowledged version and those of
 * the writes that failed since (ABSENT = no entry). */
typedef struct model {
    int ok[NK][8];
    int nok[NK];
} model;

static void known(model *m, int k, int version)
{
    m->ok[k][0] = version;
    m->nok[k] = 1;
}
/* A write of k to `version` failed: it may or may not have happened. */
static void either(model *m, int k, int version)
{
    for (int i = 0; i < m->nok[k]; i++)
        if (m->ok[k][i] == version)
            return;
    if (m->nok[k] < 8)
        m->ok[k][m->nok[k]++] = version;
}

static size_t key_of(int k, uint8_t *out)
{
    out[0] = 0x18;
    out[1] = (uint8_t)k;
    return 2;
}
/* A CBOR text "k<k>v<version>" padded with '.' to a length that varies. */
static size_t value_of(int k, int version, uint8_t *out)
{
    char txt[200];
    int n = snprintf(txt, sizeof txt, "k%dv%d", k, version);
    int len = 20 + (k * 7 + version * 13) % 150;
    memset(txt + n, '.', (size_t)(len - n));
    out[0] = 0x78;
    out[1] = (uint8_t)len;
    memcpy(out + 2, txt, (size_t)len);
    return (size_t)len + 2;
}

/* One run's bookkeeping. */
typedef struct run {
    const char *path; /* the archive's path, which messages must name */
    int err;          /* the errno injected */
    bool own_words;   /* the message must say the system's answer (not SQLite's words) */
    int failures;     /* calls that returned an error */
    bool stop;        /* a persistent fault failed a call: stop */
    char first[600];  /* the first failure's message */
    model m;
} run;

/* A call's result: failures must be negative codes naming the archive
 * and the system's answer. */
static bool check_rc(run *r, int rc, const char *what)
{
    if (rc == 0)
        return true;
    const char *msg = kl_errmsg();
    if (rc > 0)
        BAD("%s: %s returned %d", r->path, what, rc);
    else if (!strstr(msg, r->path))
        BAD("%s: %s failed (%s) with a message that does not name the archive: %s",
                 r->path, what, kl_strerror(rc), msg);
    else if (r->own_words && !strstr(msg, strerror(r->err)))
        BAD("%s: %s failed (%s) with a message that does not say what the system "
                 "answered (%s): %s",
                 r->path, what, kl_strerror(rc), strerror(r->err), msg);
    if (!r->failures++)
        snprintf(r->first, sizeof r->first, "%s: %s", what, msg);
    return false;
}

static void put_one(run *r, kl_archive *ar, int k, int version)
{
    uint8_t key[4], val[200];
    size_t kl = key_of(k, key), vl = value_of(k, version, val);
    if (check_rc(r, kl_archive_put(ar, key, kl, val, vl), "put"))
        known(&r->m, k, version);
    else
        either(&r->m, k, version);
}

static void put_batch(run *r, kl_archive *ar, int from, int to, int version)
{
    uint8_t keys[NK][4], vals[NK][200];
    const void *kp[NK], *vp[NK];
    size_t kls[NK], vls[NK];
    int n = 0;
    for (int k = from; k < to; k++, n++) {
        kls[n] = key_of(k, keys[n]);
        vls[n] = value_of(k, version, vals[n]);
        kp[n] = keys[n];
        vp[n] = vals[n];
    }
    bool ok = check_rc(r, kl_archive_put_many(ar, (size_t)n, kp, kls, vp, vls), "put_many");
    for (int k = from; k < to; k++)
        (ok ? known : either)(&r->m, k, version);
}

static void del_one(run *r, kl_archive *ar, int k)
{
    uint8_t key[4];
    size_t kl = key_of(k, key);
    int rc = kl_archive_del(ar, key, kl);
    if (rc == KL_ENOTFOUND)
        rc = 0;
    (check_rc(r, rc, "del") ? known : either)(&r->m, k, ABSENT);
}

static void del_batch(run *r, kl_archive *ar, int from, int to)
{
    uint8_t keys[NK][4];
    const void *kp[NK];
    size_t kls[NK];
    int n = 0;
    for (int k = from; k < to; k++, n++) {
        kls[n] = key_of(k, keys[n]);
        kp[n] = keys[n];
    }
    size_t deleted = 0;
    bool ok = check_rc(r, kl_archive_del_many(ar, (size_t)n, kp, kls, &deleted), "del_many");
    for (int k = from; k < to; k++)
        (ok ? known : either)(&r->m, k, ABSENT);
}

/* The cached front over the archive: puts kept in memory, then dumped. */
static void cached_dump(run *r, const char *url)
{
    char *curl = NULL;
    assert_true(asprintf(&curl, "%s%scached=true", url, strchr(url, '?') ? "&" : "?") > 0);
    kl_archive *c = NULL;
    if (check_rc(r, kl_archive_open(&c, curl, NULL), "open cached")) {
        uint8_t key[4], val[200];
        for (int k = 24; k < NK; k++) {
            size_t kl = key_of(k, key), vl = value_of(k, 5, val);
            KT_OK(kl_archive_put(c, key, kl, val, vl)); /* memory only */
        }
        size_t dumped = 0;
        bool ok = check_rc(r, kl_cached_dump(c, 0, NULL, NULL, &dumped), "dump");
        for (int k = 24; k < NK; k++)
            (ok ? known : either)(&r->m, k, 5);
        /* close dumps what is left: a failure there is reported too */
        check_rc(r, kl_archive_close(c), "close cached");
    }
    free(curl);
}

/* The workload; with a persistent fault it stops at the first failure
 * after it (every later call would fail the same way). */
static void workload(run *r, const char *url)
{
    kl_archive *ar = NULL;
    if (!check_rc(r, kl_archive_open(&ar, url, NULL), "open"))
        return;
#define STEP(call)                                                                         \
    do {                                                                                   \
        int before_ = r->failures;                                                         \
        call;                                                                              \
        if (r->stop && r->failures > before_)                                              \
            goto out;                                                                      \
    } while (0)
    for (int k = 0; k < 8; k++)
        STEP(put_one(r, ar, k, 1));
    STEP(put_batch(r, ar, 8, 24, 1));
    for (int k = 0; k < 4; k++)
        STEP(put_one(r, ar, k, 2));
    STEP(del_one(r, ar, 4));
    STEP(del_one(r, ar, 5));
    STEP(del_batch(r, ar, 20, 24));
    STEP(check_rc(r, kl_archive_sync(ar), "sync"));
    STEP(check_rc(r, kl_archive_compact(ar), "compact"));
    STEP(put_batch(r, ar, 12, 16, 3));
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    int vrc = kl_archive_verify(ar, true, &rep, &problems);
    kl_buf_free(&rep);
    STEP(check_rc(r, vrc, "verify --repair"));
    STEP(cached_dump(r, url));
#undef STEP
out:
    check_rc(r, kl_archive_close(ar), "close");
}

/* After the run, with no fault: reopen, verify, read back, iterate. */
static void check_after(run *r, const char *url)
{
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, url, NULL);
    if (rc) {
        BAD("%s: does not reopen after the fault (first failure: %s): %s", url, r->first,
            kl_errmsg());
        return;
    }
    kl_buf rep = KL_BUF_INIT, v = KL_BUF_INIT, kb = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    if (problems)
        BAD("%s: verify finds %zu problems after the fault (first failure: %s): %s", url,
                 problems, r->first, kl_buf_cstr(&rep));
    uint8_t key[4], val[200];
    size_t present = 0;
    for (int k = 0; k < NK; k++) {
        size_t kl = key_of(k, key);
        rc = kl_archive_get(ar, key, kl, &v);
        int got = -2;
        if (rc == KL_ENOTFOUND)
            got = ABSENT;
        else if (rc) {
            BAD("%s: key %d does not read back (first failure: %s): %s", url, k, r->first,
                kl_errmsg());
            continue;
        }
        for (int i = 0; got == -2 && i < 8; i++) {
            size_t vl = value_of(k, i, val);
            if (v.len == vl && !memcmp(v.data, val, vl))
                got = i;
        }
        bool fine = false;
        for (int i = 0; i < r->m.nok[k]; i++)
            fine |= r->m.ok[k][i] == got;
        if (!fine)
            BAD("%s: key %d reads as version %d, expected %d (or one of %d failed writes; "
                     "first failure: %s)",
                     url, k, got, r->m.ok[k][0], r->m.nok[k] - 1, r->first);
        present += got != ABSENT;
    }
    /* nothing else is there */
    kl_archive_iter *it = NULL;
    KT_OK(kl_archive_iter_new(ar, &it));
    size_t seen = 0;
    while ((rc = kl_archive_iter_next(it, &kb, &v)) == 1) {
        if (kb.len != 2 || kb.data[0] != 0x18 || kb.data[1] >= NK)
            BAD("%s: a stranger entry after the fault (first failure: %s)", url, r->first);
        seen++;
    }
    if (rc < 0)
        BAD("%s: iteration fails after the fault: %s", url, kl_errmsg());
    kl_archive_iter_free(it);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    if (seen != present || n != present)
        BAD("%s: %zu entries read back, %zu iterated, %zu counted (first failure: %s)", url,
            present, seen, n, r->first);
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
    kl_buf_free(&v);
    kl_buf_free(&kb);
}

typedef struct kind {
    const char *name;
    const char *fmt; /* %s: the path */
    /* SQLite words failures its own way ("disk I/O error", "unable to
     * open database file", "attempt to write a readonly database", and
     * "database disk image is malformed" for a read that failed with EIO:
     * its SQLITE_IOERR_CORRUPTFS) and its system errno is not reliable
     * after its retries: for sqlite: the message must name the URL only */
    bool sqlite_words;
} kind;

static const int errs[KT_FS_NOPS][2] = {
    [KT_FS_READ] = {EIO, EIO},        [KT_FS_WRITE] = {ENOSPC, EIO},
    [KT_FS_FSYNC] = {EIO, ENOSPC},    [KT_FS_RENAME] = {EIO, EACCES},
    [KT_FS_MKDIR] = {EACCES, ENOSPC}, [KT_FS_OPEN] = {EACCES, EMFILE},
};

static int serial;

/* One run: a fresh archive, the fault armed around the workload, the
 * checks after it. */
static void one_run(const kind *kd, int op, long n, bool persistent, int err)
{
    char path[700], *url = NULL;
    snprintf(path, sizeof path, "%s/%s-%d", tmp, kd->name, serial++);
    assert_int_equal(mkdir(path, 0700), 0); /* SQLite makes no folders */
    strcat(path, "/a");
    assert_true(asprintf(&url, kd->fmt, path) > 0);
    run r;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.err = err;
    r.stop = persistent;
    r.own_words = !kd->sqlite_words;
    for (int k = 0; k < NK; k++)
        known(&r.m, k, ABSENT);
    kt_fs_fault_arm(op, n, persistent, err);
    workload(&r, url);
    kt_fs_fault_disarm();
    if (kt_fs_fault_fired() && !r.failures && n > 0) {
        /* a failure the library may absorb (a cleanup, a best-effort
         * fsync of a folder): then the outcome must simply be right */
    }
    check_after(&r, url);
    char top[800];
    snprintf(top, sizeof top, "%s/%s-%d", tmp, kd->name, serial - 1);
    kt_rmrf(top);
    free(url);
}

static void sweep(const kind *kd)
{
    kt_fs_fault_init();
    bad_runs = 0;
    /* the calls of each class one fault-free run makes */
    long calls[KT_FS_NOPS];
    one_run(kd, -1, 0, false, EIO);
    for (int op = 0; op < KT_FS_NOPS; op++)
        calls[op] = kt_fs_fault_count(op);
    long points = 0;
    for (int op = 0; op < KT_FS_NOPS; op++) {
        long step = long_run || calls[op] <= 8 ? 1 : (calls[op] + 7) / 8;
        for (long n = 1; n <= calls[op]; n += step) {
            for (int e = 0; e < (long_run ? 2 : 1); e++) {
                int err = errs[op][long_run ? e : (int)(n / step) % 2];
                one_run(kd, op, n, false, err);
                one_run(kd, op, n, true, err);
                points += 2;
            }
        }
    }
    print_message("%s: %ld fault points swept (calls per run: read %ld, write %ld, fsync %ld, "
                  "rename %ld, mkdir %ld, open %ld)\n",
                  kd->name, points, calls[KT_FS_READ], calls[KT_FS_WRITE], calls[KT_FS_FSYNC],
                  calls[KT_FS_RENAME], calls[KT_FS_MKDIR], calls[KT_FS_OPEN]);
    if (bad_runs)
        fail_msg("%s: %ld checks failed in the sweep (the first ones printed above)", kd->name,
                 bad_runs);
}

static void sweep_file(void **st)
{
    (void)st;
    sweep(&(kind){"file", "file:%s", false});
}
static void sweep_dir(void **st)
{
    (void)st;
    sweep(&(kind){"dir", "dir:%s?compression=zstd", false});
}
static void sweep_sqlite(void **st)
{
    (void)st;
    sweep(&(kind){"sqlite", "sqlite:%s?table=t", true});
}
static void sweep_sqlite_tables(void **st)
{
    (void)st;
    sweep(&(kind){"sqlite-tables", "sqlite:%s", true});
}
#ifdef KLEPTO_HAVE_HDF5
static void sweep_hdf5(void **st)
{
    (void)st;
    sweep(&(kind){"hdf5", "hdf5:%s", false});
}
static void sweep_hdf5dir(void **st)
{
    (void)st;
    sweep(&(kind){"hdf5dir", "hdf5dir:%s", false});
}
#endif

int main(void)
{
    long_run = kt_long();
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("sweep");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sweep_file),
        cmocka_unit_test(sweep_dir),
        cmocka_unit_test(sweep_sqlite),
        cmocka_unit_test(sweep_sqlite_tables),
#ifdef KLEPTO_HAVE_HDF5
        cmocka_unit_test(sweep_hdf5),
        cmocka_unit_test(sweep_hdf5dir),
#endif
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
