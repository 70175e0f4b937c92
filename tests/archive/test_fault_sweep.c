/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault sweeps (the discipline of SQLite's test VFS): one workload
 * (support/sweep_workload.h: single puts, batch puts, rewrites, deletes one
 * by one and in a batch, sync, compaction, verify --repair, and the cached
 * front's dump) run on every
 * local archive kind again and again, with the N-th read, write, fsync,
 * rename, mkdir or open of the library failing (support/fs_fault.h), once
 * or from then on, for N across the whole workload.  After each run:
 *
 *  - every failure reached the caller as a negative code whose message
 *    names the archive (its path), an operation, and what the system answered;
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
#include "sweep_workload.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;
static bool long_run;

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
    kt_sweep_run r;
    kt_sweep_run_init(&r, path, err, !kd->sqlite_words, persistent);
    kt_fs_fault_arm(op, n, persistent, err);
    kt_sweep_workload(&r, url);
    kt_fs_fault_disarm();
    /* a failure the library absorbs (a cleanup, a best-effort fsync of a
     * folder) reaches no caller: then the outcome must simply be right */
    kt_sweep_check(&r, url);
    char top[800];
    snprintf(top, sizeof top, "%s/%s-%d", tmp, kd->name, serial - 1);
    kt_rmrf(top);
    free(url);
}

static void sweep(const kind *kd)
{
    kt_fs_fault_init();
    kt_sweep_bad_runs = 0;
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
    if (kt_sweep_bad_runs)
        fail_msg("%s: %ld checks failed in the sweep (the first ones printed above)", kd->name,
                 kt_sweep_bad_runs);
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
