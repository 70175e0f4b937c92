/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault sweeps (the discipline of SQLite's test VFS): one workload
 * (support/sweep_workload.h: single puts, batch puts, rewrites, deletes one
 * by one and in a batch, sync, compaction, verify --repair, and the cached
 * front's dump) run on every
 * local archive kind again and again, with the N-th read, write, fsync,
 * rename, mkdir or open of the library failing (support/fs_fault.h), once
 * or from then on, for N across the whole workload; for SQLite also the
 * N-th xRead, xWrite, xSync or xTruncate of its files, through a test VFS
 * (support/fault_vfs.h: the unix VFS's system-call hook has no fsync); for
 * HDF5 also the open, pread, pwrite, read and ftruncate of libhdf5's own
 * file driver (support/fs_fault_interpose.c).  After each run:
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
#include "fault_vfs.h"
#include "fs_fault.h"
#include "sweep_workload.h"
#include "testutil.h"

#include <sqlite3.h>

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
    /* the faults come from SQLite's test VFS (support/fault_vfs.h: its
     * xRead, xWrite, xSync, xTruncate) instead of the file-system shim */
    bool vfs;
} kind;

static const int errs[KT_FS_NOPS][2] = {
    [KT_FS_READ] = {EIO, EIO},        [KT_FS_WRITE] = {ENOSPC, EIO},
    [KT_FS_FSYNC] = {EIO, ENOSPC},    [KT_FS_RENAME] = {EIO, EACCES},
    [KT_FS_MKDIR] = {EACCES, ENOSPC}, [KT_FS_OPEN] = {EACCES, EMFILE},
};

/* What the test VFS answers, per class: SQLite's codes for EIO and ENOSPC. */
static const int vfs_codes[KT_VFS_NOPS][2] = {
    [KT_VFS_READ] = {SQLITE_IOERR_READ, SQLITE_IOERR_READ},
    [KT_VFS_WRITE] = {SQLITE_FULL, SQLITE_IOERR_WRITE},
    [KT_VFS_SYNC] = {SQLITE_IOERR_FSYNC, SQLITE_FULL},
    [KT_VFS_TRUNCATE] = {SQLITE_IOERR_TRUNCATE, SQLITE_FULL},
};

static int serial;

/* One run: a fresh archive, the fault armed around the workload, the
 * checks after it. */
static long runs_failed; /* runs in which a call reported the fault */

static void one_run(const kind *kd, int op, long n, bool persistent, int err)
{
    char path[700], *url = NULL;
    snprintf(path, sizeof path, "%s/%s-%d", tmp, kd->name, serial++);
    assert_int_equal(mkdir(path, 0700), 0); /* SQLite makes no folders */
    strcat(path, "/a");
    assert_true(asprintf(&url, kd->fmt, path) > 0);
    kt_sweep_run r;
    kt_sweep_run_init(&r, path, err, !kd->sqlite_words, persistent);
    r.op_words = true; /* SQLite's words too: the operation is ours */
    if (kd->vfs)
        kt_vfs_fault_arm(op, n, persistent, err);
    else
        kt_fs_fault_arm(op, n, persistent, err);
    kt_sweep_workload(&r, url);
    kt_fs_fault_disarm();
    kt_vfs_fault_disarm();
    /* a failure the library absorbs (a cleanup, a best-effort fsync of a
     * folder) reaches no caller: then the outcome must simply be right */
    kt_sweep_check(&r, url);
    runs_failed += r.failures > 0;
    char top[800];
    snprintf(top, sizeof top, "%s/%s-%d", tmp, kd->name, serial - 1);
    kt_rmrf(top);
    free(url);
}

static void sweep(const kind *kd)
{
    kt_fs_fault_init();
    assert_int_equal(kt_vfs_fault_init(), SQLITE_OK);
    kt_sweep_bad_runs = 0;
    runs_failed = 0;
    int nops = kd->vfs ? KT_VFS_NOPS : KT_FS_NOPS;
    /* the calls of each class one fault-free run makes */
    long calls[KT_FS_NOPS];
    one_run(kd, -1, 0, false, kd->vfs ? SQLITE_IOERR : EIO);
    for (int op = 0; op < nops; op++)
        calls[op] = kd->vfs ? kt_vfs_fault_count(op) : kt_fs_fault_count(op);
    long points = 0;
    for (int op = 0; op < nops; op++) {
        long step = long_run || calls[op] <= 8 ? 1 : (calls[op] + 7) / 8;
        for (long n = 1; n <= calls[op]; n += step) {
            for (int e = 0; e < (long_run ? 2 : 1); e++) {
                int pick = long_run ? e : (int)(n / step) % 2;
                int err = kd->vfs ? vfs_codes[op][pick] : errs[op][pick];
                one_run(kd, op, n, false, err);
                one_run(kd, op, n, true, err);
                points += 2;
            }
        }
    }
    char per[300];
    int used = 0;
    for (int op = 0; op < nops; op++)
        used += snprintf(per + used, sizeof per - (size_t)used, "%s%s %ld", op ? ", " : "",
                         kd->vfs ? kt_vfs_op_name(op) : kt_fs_op_name(op), calls[op]);
    print_message("%s: %ld fault points swept (calls per run: %s), %ld runs saw a call fail\n",
                  kd->name, points, per, runs_failed);
    if (kt_sweep_bad_runs)
        fail_msg("%s: %ld checks failed in the sweep (the first ones printed above)", kd->name,
                 kt_sweep_bad_runs);
}

static void sweep_file(void **st)
{
    (void)st;
    sweep(&(kind){"file", "file:%s", false, false});
}
static void sweep_dir(void **st)
{
    (void)st;
    sweep(&(kind){"dir", "dir:%s?compression=zstd", false, false});
}
static void sweep_sqlite(void **st)
{
    (void)st;
    sweep(&(kind){"sqlite", "sqlite:%s?table=t", true, false});
}
/* SQLite's own reads, writes, syncs and truncations (its journal's too),
 * through the test VFS */
static void sweep_sqlite_vfs(void **st)
{
    (void)st;
    sweep(&(kind){"sqlite-vfs", "sqlite:%s?table=t", true, true});
}
static void sweep_sqlite_tables_vfs(void **st)
{
    (void)st;
    sweep(&(kind){"sqlite-tables-vfs", "sqlite:%s", true, true});
}
static void sweep_sqlite_tables(void **st)
{
    (void)st;
    sweep(&(kind){"sqlite-tables", "sqlite:%s", true, false});
}
#ifdef KLEPTO_HAVE_HDF5
static void sweep_hdf5(void **st)
{
    (void)st;
    kt_fs_fault_interpose(true); /* HDF5's own reads and writes too */
    sweep(&(kind){"hdf5", "hdf5:%s", false, false});
    kt_fs_fault_interpose(false);
}
static void sweep_hdf5dir(void **st)
{
    (void)st;
    kt_fs_fault_interpose(true);
    sweep(&(kind){"hdf5dir", "hdf5dir:%s", false, false});
    kt_fs_fault_interpose(false);
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
        cmocka_unit_test(sweep_sqlite_vfs),
        cmocka_unit_test(sweep_sqlite_tables_vfs),
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
