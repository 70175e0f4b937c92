/* SPDX-License-Identifier: BSD-3-Clause */
/* See fault_vfs.h.  Hand-written: SQLite's own test VFS (test_vfs.c) is
 * part of its test harness, not of any Debian package. */
#include "fault_vfs.h"

#include <sqlite3.h>
#include <stddef.h>
#include <string.h>

static sqlite3_vfs *base;
static sqlite3_vfs shim;
static bool armed;
static int fail_op = -1;
static long fail_n;
static bool fail_on;
static int fail_code;
static long counts[KT_VFS_NOPS];
static long fired;

const char *kt_vfs_op_name(int op)
{
    static const char *names[] = {"xRead", "xWrite", "xSync", "xTruncate"};
    return op >= 0 && op < KT_VFS_NOPS ? names[op] : "?";
}

void kt_vfs_fault_arm(int op, long n, bool persistent, int code)
{
    for (int i = 0; i < KT_VFS_NOPS; i++)
        counts[i] = 0;
    fired = 0;
    fail_op = n > 0 ? op : -1;
    fail_n = n;
    fail_on = persistent;
    fail_code = code;
    armed = true;
}

void kt_vfs_fault_disarm(void)
{
    armed = false;
}

long kt_vfs_fault_count(int op)
{
    return counts[op];
}

long kt_vfs_fault_fired(void)
{
    return fired;
}

/* Counts one call of class op; its error code when it is to fail, else 0. */
static int fails(int op)
{
    if (!armed)
        return 0;
    long k = ++counts[op];
    if (op != fail_op || k < fail_n || (k > fail_n && !fail_on))
        return 0;
    fired++;
    return fail_code;
}

/* A file of the shim: SQLite's sqlite3_file header, then the base VFS's
 * file (shim.szOsFile covers both). */
typedef struct shim_file {
    sqlite3_file head;
    sqlite3_file *real;
} shim_file;

#define REAL(f) (((shim_file *)(f))->real)
#define M(f) (REAL(f)->pMethods)

static int f_close(sqlite3_file *f)
{
    int rc = M(f)->xClose(REAL(f));
    f->pMethods = NULL;
    return rc;
}
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    int rc = fails(KT_VFS_READ);
    return rc ? rc : M(f)->xRead(REAL(f), b, n, off);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    int rc = fails(KT_VFS_WRITE);
    return rc ? rc : M(f)->xWrite(REAL(f), b, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fails(KT_VFS_TRUNCATE);
    return rc ? rc : M(f)->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    int rc = fails(KT_VFS_SYNC);
    return rc ? rc : M(f)->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return M(f)->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l)
{
    return M(f)->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
    return M(f)->xUnlock(REAL(f), l);
}
static int f_check(sqlite3_file *f, int *out)
{
    return M(f)->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg)
{
    return M(f)->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return M(f)->xSectorSize(REAL(f));
}
static int f_chars(sqlite3_file *f)
{
    return M(f)->xDeviceCharacteristics(REAL(f));
}
static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **out)
{
    return M(f)->xShmMap(REAL(f), pg, sz, extend, out);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return M(f)->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f)
{
    M(f)->xShmBarrier(REAL(f));
}
static int f_shm_unmap(sqlite3_file *f, int del)
{
    return M(f)->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
    return M(f)->xFetch(REAL(f), off, n, out);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return M(f)->xUnfetch(REAL(f), off, p);
}

/* Versions 1 (no shared memory, no mapping), 2 and 3, as the base file's
 * methods are. */
static const sqlite3_io_methods methods[3] = {
    {1, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check, f_control,
     f_sector, f_chars, NULL, NULL, NULL, NULL, NULL, NULL},
    {2, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check, f_control,
     f_sector, f_chars, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, NULL, NULL},
    {3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check, f_control,
     f_sector, f_chars, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch},
};

static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    shim_file *sf = (shim_file *)f;
    sf->real = (sqlite3_file *)(sf + 1);
    memset(sf->real, 0, (size_t)base->szOsFile);
    f->pMethods = NULL;
    int rc = base->xOpen(base, name, sf->real, flags, out_flags);
    const sqlite3_io_methods *rm = sf->real->pMethods;
    if (rm) {
        int ver = rm->iVersion < 1 ? 1 : rm->iVersion > 3 ? 3 : rm->iVersion;
        f->pMethods = &methods[ver - 1];
    }
    return rc;
}
static int v_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return base->xDelete(base, name, sync_dir);
}
static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base->xAccess(base, name, flags, out);
}
static int v_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base->xFullPathname(base, name, n, out);
}
static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base->xDlOpen(base, name);
}
static void v_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    base->xDlError(base, n, out);
}
static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return base->xDlSym(base, h, sym);
}
static void v_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    base->xDlClose(base, h);
}
static int v_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base->xRandomness(base, n, out);
}
static int v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return base->xSleep(base, us);
}
static int v_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return base->xCurrentTime(base, out);
}
static int v_lasterr(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base->xGetLastError ? base->xGetLastError(base, n, out) : 0;
}
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return base->xCurrentTimeInt64(base, out);
}

int kt_vfs_fault_init(void)
{
    if (base)
        return SQLITE_OK;
    int rc = sqlite3_initialize();
    if (rc)
        return rc;
    sqlite3_vfs *b = sqlite3_vfs_find(NULL);
    if (!b)
        return SQLITE_ERROR;
    base = b;
    shim = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(shim_file) + b->szOsFile,
        .mxPathname = b->mxPathname,
        .zName = "klepto-test-fault",
        .xOpen = v_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_fullpath,
        .xDlOpen = b->xDlOpen ? v_dlopen : NULL,
        .xDlError = b->xDlError ? v_dlerror : NULL,
        .xDlSym = b->xDlSym ? v_dlsym : NULL,
        .xDlClose = b->xDlClose ? v_dlclose : NULL,
        .xRandomness = v_random,
        .xSleep = v_sleep,
        .xCurrentTime = v_time,
        .xGetLastError = v_lasterr,
        .xCurrentTimeInt64 = b->iVersion >= 2 && b->xCurrentTimeInt64 ? v_time64 : NULL,
    };
    if (!shim.xCurrentTimeInt64)
        shim.iVersion = 1;
    return sqlite3_vfs_register(&shim, 1);
}
