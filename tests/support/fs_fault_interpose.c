/* SPDX-License-Identifier: BSD-3-Clause */
/* The file-system shim (fs_fault.h) for the calls shared libraries make
 * into the C library: HDF5's file driver calls open, pread, pwrite, read
 * and ftruncate itself, which --wrap (a link-time rename in the objects
 * linked) cannot reach.  This file defines those functions in the test
 * program; exported from it (the program links with -rdynamic: CMake's
 * ENABLE_EXPORTS), they come before the C library's for every shared
 * library's call through its PLT.  Each one counts (and fails) while
 * kt_fs_fault_interpose(true) and the shim is armed, and otherwise calls
 * the C library's own (dlsym(RTLD_NEXT)).
 *
 * The library's own code calls the 64-bit names (open64, pread64, ...)
 * and write, which fs_fault.c's --wrap wrappers count: they are not
 * defined here, so no call counts twice.  HDF5's write (unused by its
 * default driver, which has pwrite) is not seen.
 *
 * Not in the shared test-support library (tests/CMakeLists.txt leaves it
 * out): only the program that asks for it gets these definitions. */
#define _GNU_SOURCE
#include "fs_fault.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/types.h>
#include <unistd.h>

static bool on;

void kt_fs_fault_interpose(bool yes)
{
    on = yes;
}

static bool hit(int op)
{
    return on && kt_fs_fault_fails(op);
}

/* The C library's own function `name`, looked up once. */
#define NEXT(type, name)                                                                           \
    static type *real_;                                                                            \
    if (!real_)                                                                                    \
        *(void **)&real_ = dlsym(RTLD_NEXT, name);                                                 \
    if (!real_) {                                                                                  \
        errno = ENOSYS;                                                                            \
        return -1;                                                                                 \
    }

typedef int open_fn(const char *, int, ...);
typedef ssize_t pread_fn(int, void *, size_t, off_t);
typedef ssize_t pwrite_fn(int, const void *, size_t, off_t);
typedef ssize_t read_fn(int, void *, size_t);
typedef int ftruncate_fn(int, off_t);

int open(const char *p, int flags, ...);
ssize_t pread(int fd, void *b, size_t n, off_t off);
ssize_t pwrite(int fd, const void *b, size_t n, off_t off);
ssize_t read(int fd, void *b, size_t n);
int ftruncate(int fd, off_t len);

int open(const char *p, int flags, ...)
{
    mode_t m = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        m = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    NEXT(open_fn, "open")
    return hit(KT_FS_OPEN) ? -1 : real_(p, flags, m);
}
ssize_t pread(int fd, void *b, size_t n, off_t off)
{
    NEXT(pread_fn, "pread")
    return hit(KT_FS_READ) ? -1 : real_(fd, b, n, off);
}
ssize_t pwrite(int fd, const void *b, size_t n, off_t off)
{
    NEXT(pwrite_fn, "pwrite")
    return hit(KT_FS_WRITE) ? -1 : real_(fd, b, n, off);
}
ssize_t read(int fd, void *b, size_t n)
{
    NEXT(read_fn, "read")
    return hit(KT_FS_READ) ? -1 : real_(fd, b, n);
}
int ftruncate(int fd, off_t len)
{
    NEXT(ftruncate_fn, "ftruncate")
    return hit(KT_FS_WRITE) ? -1 : real_(fd, len);
}
