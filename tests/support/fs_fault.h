/* SPDX-License-Identifier: BSD-3-Clause */
/* The file-system shim of the fault sweeps (the pattern of SQLite's test
 * VFS): the N-th read, write, fsync, rename, mkdir or open the library
 * makes fails with a chosen errno, once or from then on.
 *
 * It sees the system calls of the library's own code (a test program that
 * uses it links with -Wl,--wrap=NAME for each call in KT_FS_WRAPPED, see
 * tests/CMakeLists.txt) and, through SQLite's xSetSystemCall, those of
 * SQLite's unix VFS.  HDF5's own I/O (its file driver calls open, pread,
 * pwrite, read and ftruncate of the C library directly) is seen by a test
 * program that also links support/fs_fault_interpose.c and exports those
 * names (see there), once kt_fs_fault_interpose(true) is called.
 *
 * Classes (a call counts in one):
 *   read    pread
 *   write   write, pwrite, writev, pwritev, copy_file_range, ftruncate
 *   fsync   fsync, fdatasync, syncfs
 *   rename  rename, renameat, link, linkat
 *   mkdir   mkdir, mkdirat
 *   open    open, openat
 *
 * Single-threaded use only (the counters are plain). */
#ifndef KLEPTO_TEST_FS_FAULT_H
#define KLEPTO_TEST_FS_FAULT_H

#include <stdbool.h>

enum { KT_FS_READ, KT_FS_WRITE, KT_FS_FSYNC, KT_FS_RENAME, KT_FS_MKDIR, KT_FS_OPEN, KT_FS_NOPS };

/* "read", "write", ... */
const char *kt_fs_op_name(int op);
/* Hooks SQLite's unix VFS (once; later calls do nothing). */
void kt_fs_fault_init(void);
/* From now on, count the calls of every class; the n-th call of class op
 * (from 1) fails with errno err, and with persistent every later one of
 * that class too.  n = 0: only count. */
void kt_fs_fault_arm(int op, long n, bool persistent, int err);
/* Stop failing and counting (the counts stay readable). */
void kt_fs_fault_disarm(void);
/* Calls of class op seen while armed. */
long kt_fs_fault_count(int op);
/* How many calls were failed while armed. */
long kt_fs_fault_fired(void);
/* Counts one call of class op; true (errno set) when it is to fail.  For
 * the shims (fs_fault.c's wrappers, fs_fault_interpose.c). */
bool kt_fs_fault_fails(int op);
/* Whether the shared libraries' calls are counted too (defined by
 * fs_fault_interpose.c, in the programs that link it). */
void kt_fs_fault_interpose(bool on);

#endif
