/* SPDX-License-Identifier: BSD-3-Clause */
/* An allocator hook for the allocation-failure sweeps: the N-th
 * allocation the library's own code makes (malloc, calloc, realloc,
 * aligned_alloc, strdup, strndup, asprintf) fails, as when memory runs
 * out.  A test program that uses it links with -Wl,--wrap=NAME for each
 * (tests/CMakeLists.txt).  Other libraries' allocations are seen where
 * they let us in: SQLite's once kt_alloc_fault_sqlite() has installed the
 * hook as its allocator, zstd's when the program also wraps
 * ZSTD_createCCtx and ZSTD_createDCtx (the wrappers make the library's
 * contexts with the hook as their allocator).  The C library's own (and
 * HDF5's) are not seen.  Single-threaded use only. */
#ifndef KLEPTO_TEST_ALLOC_FAULT_H
#define KLEPTO_TEST_ALLOC_FAULT_H

/* From now on count allocations; the n-th (from 1) fails (n = 0: only
 * count). */
void kt_alloc_fault_arm(long n);
/* Stop counting and failing. */
void kt_alloc_fault_disarm(void);
/* Allocations seen while armed. */
long kt_alloc_fault_count(void);
/* Whether the chosen allocation was failed. */
int kt_alloc_fault_fired(void);
/* Makes SQLite allocate through the hook (sqlite3_config(
 * SQLITE_CONFIG_MALLOC)); before SQLite's first use: 0 or SQLite's error
 * (SQLITE_MISUSE once SQLite is initialized). */
int kt_alloc_fault_sqlite(void);

#endif
