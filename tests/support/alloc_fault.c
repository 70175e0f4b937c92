/* SPDX-License-Identifier: BSD-3-Clause */
/* See alloc_fault.h.  Hand-written for the same reason as fs_fault.c: the
 * N-th allocation of a statically linked library, under the sanitizers. */
#define _GNU_SOURCE
#include "alloc_fault.h"

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCCtx_advanced */
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static bool armed;
static long fail_n, count;
static int fired;

void kt_alloc_fault_arm(long n)
{
    fail_n = n;
    count = 0;
    fired = 0;
    armed = true;
}

void kt_alloc_fault_disarm(void)
{
    armed = false;
}

long kt_alloc_fault_count(void)
{
    return count;
}

int kt_alloc_fault_fired(void)
{
    return fired;
}

static bool fails(void)
{
    if (!armed)
        return false;
    if (++count != fail_n)
        return false;
    fired = 1;
    errno = ENOMEM;
    return true;
}

extern void *__real_malloc(size_t);
extern void *__real_calloc(size_t, size_t);
extern void *__real_realloc(void *, size_t);
extern void *__real_aligned_alloc(size_t, size_t);
extern char *__real_strdup(const char *);
extern char *__real_strndup(const char *, size_t);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **out, const char *fmt, ...);

void *__wrap_malloc(size_t n)
{
    return fails() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    return fails() ? NULL : __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    return fails() ? NULL : __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n)
{
    return fails() ? NULL : __real_aligned_alloc(a, n);
}
char *__wrap_strdup(const char *s)
{
    return fails() ? NULL : __real_strdup(s);
}
char *__wrap_strndup(const char *s, size_t n)
{
    return fails() ? NULL : __real_strndup(s, n);
}
int __wrap_asprintf(char **out, const char *fmt, ...)
{
    if (fails())
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(out, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- SQLite's allocator ---------------------------------------------------- */

/* Each block starts with its size (SQLite asks for it: xSize), 16 bytes
 * to keep the alignment malloc gives. */
enum { HEAD = 16 };

static void *sq_malloc(int n)
{
    if (n <= 0 || fails())
        return NULL;
    unsigned char *p = __real_malloc((size_t)n + HEAD);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof n);
    return p + HEAD;
}
static void sq_free(void *p)
{
    if (p)
        free((unsigned char *)p - HEAD);
}
static int sq_size(void *p)
{
    int n = 0;
    if (p)
        memcpy(&n, (unsigned char *)p - HEAD, sizeof n);
    return n;
}
static void *sq_realloc(void *p, int n)
{
    if (!p)
        return sq_malloc(n);
    if (n <= 0 || fails())
        return NULL;
    unsigned char *q = __real_realloc((unsigned char *)p - HEAD, (size_t)n + HEAD);
    if (!q)
        return NULL;
    memcpy(q, &n, sizeof n);
    return q + HEAD;
}
static int sq_roundup(int n)
{
    return (n + 7) & ~7;
}
static int sq_init(void *ud)
{
    (void)ud;
    return SQLITE_OK;
}
static void sq_shutdown(void *ud)
{
    (void)ud;
}

int kt_alloc_fault_sqlite(void)
{
    static const sqlite3_mem_methods m = {sq_malloc,  sq_free, sq_realloc,  sq_size,
                                          sq_roundup, sq_init, sq_shutdown, NULL};
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
}

/* ---- zstd's contexts ------------------------------------------------------- */

static void *z_alloc(void *ud, size_t n)
{
    (void)ud;
    return fails() ? NULL : __real_malloc(n);
}
static void z_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

ZSTD_CCtx *__wrap_ZSTD_createCCtx(void);
ZSTD_DCtx *__wrap_ZSTD_createDCtx(void);

ZSTD_CCtx *__wrap_ZSTD_createCCtx(void)
{
    return ZSTD_createCCtx_advanced((ZSTD_customMem){z_alloc, z_free, NULL});
}
ZSTD_DCtx *__wrap_ZSTD_createDCtx(void)
{
    return ZSTD_createDCtx_advanced((ZSTD_customMem){z_alloc, z_free, NULL});
}
