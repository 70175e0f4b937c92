/* SPDX-License-Identifier: BSD-3-Clause */
/* See alloc_fault.h.  Hand-written for the same reason as fs_fault.c: the
 * N-th allocation of a statically linked library, under the sanitizers. */
#define _GNU_SOURCE
#include "alloc_fault.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
