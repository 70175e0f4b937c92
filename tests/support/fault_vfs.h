/* SPDX-License-Identifier: BSD-3-Clause */
/* A test VFS for SQLite (the pattern of SQLite's own test_vfs.c): it wraps
 * the default VFS, and every file SQLite opens through it (the database,
 * its journal, its WAL) gets methods whose N-th xRead, xWrite, xSync or
 * xTruncate fails with a chosen SQLite code (SQLITE_IOERR_FSYNC,
 * SQLITE_FULL, ...), once or from then on.  SQLite's unix VFS offers no
 * system-call hook for fsync (xSetSystemCall has none), which is why the
 * file-system shim (fs_fault.h) cannot fail SQLite's syncs; this can.
 *
 * kt_vfs_fault_init registers it as SQLite's default VFS, so the
 * library's sqlite3_open_v2(..., NULL) uses it; while disarmed it only
 * forwards.  Single-threaded use only (the counters are plain). */
#ifndef KLEPTO_TEST_FAULT_VFS_H
#define KLEPTO_TEST_FAULT_VFS_H

#include <stdbool.h>

enum { KT_VFS_READ, KT_VFS_WRITE, KT_VFS_SYNC, KT_VFS_TRUNCATE, KT_VFS_NOPS };

/* "xRead", "xWrite", ... */
const char *kt_vfs_op_name(int op);
/* Registers the VFS as the default (once; later calls do nothing).  0 or
 * an SQLite error code. */
int kt_vfs_fault_init(void);
/* From now on count the calls of every class; the n-th call of class op
 * (from 1) returns code, and with persistent every later one of that class
 * too.  n = 0: only count. */
void kt_vfs_fault_arm(int op, long n, bool persistent, int code);
void kt_vfs_fault_disarm(void);
/* Calls of class op seen while armed; how many were failed. */
long kt_vfs_fault_count(int op);
long kt_vfs_fault_fired(void);

#endif
