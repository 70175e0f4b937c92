/* SPDX-License-Identifier: BSD-3-Clause */
/* An allocator hook for the allocation-failure sweeps: the N-th
 * allocation the library's own code makes (malloc, calloc, realloc,
 * aligned_alloc, strdup, strndup, asprintf) fails, as when memory runs
 * out.  A test program that uses it links with -Wl,--wrap=NAME for each
 * (tests/CMakeLists.txt); the allocations of other libraries (SQLite, the
 * C library's own) are not seen.  Single-threaded use only. */
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

#endif
