/* SPDX-License-Identifier: BSD-3-Clause */
/* Private helpers shared by the library's modules (not installed). */
#ifndef KLEPTO_INTERNAL_H
#define KLEPTO_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "klepto/error.h"
#include "klepto/sys/errors.h" /* kl_seterr, kl_seterr_prefix, kl_seterrno */

/* Map an errno value to a KL_E* code (as kl_seterrno does). */
int kl__errno_code(int err);

/* Appends what a "write into a caller's buffer, report the size needed"
 * function produces to a heap buffer, growing it until the result fits. */
typedef int (*kl__into_fn)(const void *ctx, const void *arg, void *buf, size_t cap, size_t *need);
struct kl_buf;
int kl__buf_fill(struct kl_buf *out, kl__into_fn into, const void *ctx, const void *arg);

/* The one check of an options struct's `version` field: every version from
 * 1 to `current` is accepted (a program built against an older header
 * passes an older, shorter struct, and the library reads only the fields
 * that version has); 0 and newer ones are refused with KL_EINVAL naming
 * `what` ("keymap", "memo 'f'", ...) and the versions known. */
int kl__opts_version_check(unsigned version, unsigned current, const char *what);

#define KL_LIKELY(x) __builtin_expect(!!(x), 1)
#define KL_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
