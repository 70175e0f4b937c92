/* SPDX-License-Identifier: BSD-3-Clause */
/* See fs_fault.h.  Hand-written: the failures must hit exactly the N-th
 * call of the library's own code, which no Debian package does for a
 * statically linked library (libfiu needs LD_PRELOAD, which the sanitizer
 * builds refuse). */
#define _GNU_SOURCE
#include "fs_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

static bool armed;
static int fail_op = -1;
static long fail_n;
static bool fail_on;
static int fail_err;
static long counts[KT_FS_NOPS];
static long fired;

const char *kt_fs_op_name(int op)
{
    static const char *names[] = {"read", "write", "fsync", "rename", "mkdir", "open"};
    return op >= 0 && op < KT_FS_NOPS ? names[op] : "?";
}

void kt_fs_fault_arm(int op, long n, bool persistent, int err)
{
    for (int i = 0; i < KT_FS_NOPS; i++)
        counts[i] = 0;
    fired = 0;
    fail_op = n > 0 ? op : -1;
    fail_n = n;
    fail_on = persistent;
    fail_err = err;
    armed = true;
}

void kt_fs_fault_disarm(void)
{
    armed = false;
}

long kt_fs_fault_count(int op)
{
    return counts[op];
}

long kt_fs_fault_fired(void)
{
    return fired;
}

bool kt_fs_fault_fails(int op)
{
    if (!armed)
        return false;
    long k = ++counts[op];
    if (op != fail_op || k < fail_n || (k > fail_n && !fail_on))
        return false;
    fired++;
    errno = fail_err;
    return true;
}

#define fails kt_fs_fault_fails

#define REAL(ret, name, params) extern ret __real_##name params;
REAL(int, open64, (const char *, int, ...))
REAL(int, openat64, (int, const char *, int, ...))
REAL(ssize_t, pread64, (int, void *, size_t, off_t))
REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t))
REAL(ssize_t, pwritev64, (int, const struct iovec *, int, off_t))
REAL(ssize_t, write, (int, const void *, size_t))
REAL(ssize_t, writev, (int, const struct iovec *, int))
REAL(ssize_t, copy_file_range, (int, loff_t *, int, loff_t *, size_t, unsigned))
REAL(int, ftruncate64, (int, off_t))
REAL(int, fsync, (int))
REAL(int, fdatasync, (int))
REAL(int, syncfs, (int))
REAL(int, rename, (const char *, const char *))
REAL(int, renameat, (int, const char *, int, const char *))
REAL(int, link, (const char *, const char *))
REAL(int, linkat, (int, const char *, int, const char *, int))
REAL(int, mkdir, (const char *, mode_t))
REAL(int, mkdirat, (int, const char *, mode_t))

/* The wrappers --wrap points the library's calls at (declared here to
 * keep -Wmissing-prototypes quiet). */
int __wrap_open64(const char *p, int flags, ...);
int __wrap_openat64(int d, const char *p, int flags, ...);
ssize_t __wrap_pread64(int fd, void *b, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *b, size_t n, off_t off);
ssize_t __wrap_pwritev64(int fd, const struct iovec *v, int n, off_t off);
ssize_t __wrap_write(int fd, const void *b, size_t n);
ssize_t __wrap_writev(int fd, const struct iovec *v, int n);
ssize_t __wrap_copy_file_range(int a, loff_t *ao, int b, loff_t *bo, size_t n, unsigned f);
int __wrap_ftruncate64(int fd, off_t len);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_syncfs(int fd);
int __wrap_rename(const char *a, const char *b);
int __wrap_renameat(int da, const char *a, int db, const char *b);
int __wrap_link(const char *a, const char *b);
int __wrap_linkat(int da, const char *a, int db, const char *b, int f);
int __wrap_mkdir(const char *p, mode_t m);
int __wrap_mkdirat(int d, const char *p, mode_t m);

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int __wrap_open64(const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return fails(KT_FS_OPEN) ? -1 : __real_open64(p, flags, m);
}
int __wrap_openat64(int d, const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return fails(KT_FS_OPEN) ? -1 : __real_openat64(d, p, flags, m);
}
ssize_t __wrap_pread64(int fd, void *b, size_t n, off_t off)
{
    return fails(KT_FS_READ) ? -1 : __real_pread64(fd, b, n, off);
}
ssize_t __wrap_pwrite64(int fd, const void *b, size_t n, off_t off)
{
    return fails(KT_FS_WRITE) ? -1 : __real_pwrite64(fd, b, n, off);
}
ssize_t __wrap_pwritev64(int fd, const struct iovec *v, int n, off_t off)
{
    return fails(KT_FS_WRITE) ? -1 : __real_pwritev64(fd, v, n, off);
}
ssize_t __wrap_write(int fd, const void *b, size_t n)
{
    return fails(KT_FS_WRITE) ? -1 : __real_write(fd, b, n);
}
ssize_t __wrap_writev(int fd, const struct iovec *v, int n)
{
    return fails(KT_FS_WRITE) ? -1 : __real_writev(fd, v, n);
}
ssize_t __wrap_copy_file_range(int a, loff_t *ao, int b, loff_t *bo, size_t n, unsigned f)
{
    return fails(KT_FS_WRITE) ? -1 : __real_copy_file_range(a, ao, b, bo, n, f);
}
int __wrap_ftruncate64(int fd, off_t len)
{
    return fails(KT_FS_WRITE) ? -1 : __real_ftruncate64(fd, len);
}
int __wrap_fsync(int fd)
{
    return fails(KT_FS_FSYNC) ? -1 : __real_fsync(fd);
}
int __wrap_fdatasync(int fd)
{
    return fails(KT_FS_FSYNC) ? -1 : __real_fdatasync(fd);
}
int __wrap_syncfs(int fd)
{
    return fails(KT_FS_FSYNC) ? -1 : __real_syncfs(fd);
}
int __wrap_rename(const char *a, const char *b)
{
    return fails(KT_FS_RENAME) ? -1 : __real_rename(a, b);
}
int __wrap_renameat(int da, const char *a, int db, const char *b)
{
    return fails(KT_FS_RENAME) ? -1 : __real_renameat(da, a, db, b);
}
int __wrap_link(const char *a, const char *b)
{
    return fails(KT_FS_RENAME) ? -1 : __real_link(a, b);
}
int __wrap_linkat(int da, const char *a, int db, const char *b, int f)
{
    return fails(KT_FS_RENAME) ? -1 : __real_linkat(da, a, db, b, f);
}
int __wrap_mkdir(const char *p, mode_t m)
{
    return fails(KT_FS_MKDIR) ? -1 : __real_mkdir(p, m);
}
int __wrap_mkdirat(int d, const char *p, mode_t m)
{
    return fails(KT_FS_MKDIR) ? -1 : __real_mkdirat(d, p, m);
}

/* ---- SQLite's unix VFS --------------------------------------------------- */

static sqlite3_syscall_ptr sq_open, sq_read, sq_pread, sq_pread64, sq_write, sq_pwrite,
    sq_pwrite64, sq_mkdir, sq_ftruncate;

static int h_open(const char *p, int flags, int mode)
{
    return fails(KT_FS_OPEN) ? -1 : ((int (*)(const char *, int, int))sq_open)(p, flags, mode);
}
static ssize_t h_read(int fd, void *b, size_t n)
{
    return fails(KT_FS_READ) ? -1 : ((ssize_t(*)(int, void *, size_t))sq_read)(fd, b, n);
}
static ssize_t h_pread(int fd, void *b, size_t n, off_t o)
{
    return fails(KT_FS_READ) ? -1 : ((ssize_t(*)(int, void *, size_t, off_t))sq_pread)(fd, b, n, o);
}
static ssize_t h_pread64(int fd, void *b, size_t n, off_t o)
{
    return fails(KT_FS_READ) ? -1
                             : ((ssize_t(*)(int, void *, size_t, off_t))sq_pread64)(fd, b, n, o);
}
static ssize_t h_write(int fd, const void *b, size_t n)
{
    return fails(KT_FS_WRITE) ? -1 : ((ssize_t(*)(int, const void *, size_t))sq_write)(fd, b, n);
}
static ssize_t h_pwrite(int fd, const void *b, size_t n, off_t o)
{
    return fails(KT_FS_WRITE) ? -1
                              : ((ssize_t(*)(int, const void *, size_t, off_t))sq_pwrite)(fd, b,
                                                                                          n, o);
}
static ssize_t h_pwrite64(int fd, const void *b, size_t n, off_t o)
{
    return fails(KT_FS_WRITE) ? -1
                              : ((ssize_t(*)(int, const void *, size_t, off_t))sq_pwrite64)(fd, b,
                                                                                            n, o);
}
static int h_mkdir(const char *p, mode_t m)
{
    return fails(KT_FS_MKDIR) ? -1 : ((int (*)(const char *, mode_t))sq_mkdir)(p, m);
}
static int h_ftruncate(int fd, off_t len)
{
    return fails(KT_FS_WRITE) ? -1 : ((int (*)(int, off_t))sq_ftruncate)(fd, len);
}

static void hook(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr *orig,
                 sqlite3_syscall_ptr mine)
{
    *orig = vfs->xGetSystemCall(vfs, name);
    if (*orig)
        vfs->xSetSystemCall(vfs, name, mine);
}

void kt_fs_fault_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    sqlite3_initialize();
    sqlite3_vfs *vfs = sqlite3_vfs_find("unix");
    if (!vfs || vfs->iVersion < 3)
        return;
    hook(vfs, "open", &sq_open, (sqlite3_syscall_ptr)h_open);
    hook(vfs, "read", &sq_read, (sqlite3_syscall_ptr)h_read);
    hook(vfs, "pread", &sq_pread, (sqlite3_syscall_ptr)h_pread);
    hook(vfs, "pread64", &sq_pread64, (sqlite3_syscall_ptr)h_pread64);
    hook(vfs, "write", &sq_write, (sqlite3_syscall_ptr)h_write);
    hook(vfs, "pwrite", &sq_pwrite, (sqlite3_syscall_ptr)h_pwrite);
    hook(vfs, "pwrite64", &sq_pwrite64, (sqlite3_syscall_ptr)h_pwrite64);
    hook(vfs, "mkdir", &sq_mkdir, (sqlite3_syscall_ptr)h_mkdir);
    hook(vfs, "ftruncate", &sq_ftruncate, (sqlite3_syscall_ptr)h_ftruncate);
}
