/* Private helpers shared by the library's modules (not installed). */
#ifndef KLEPTO_INTERNAL_H
#define KLEPTO_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "klepto/error.h"

/* Set the calling thread's message (printf-style) and return `code`. */
int kl_seterr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Map an errno value to a KL_E* code. */
int kl_errno_code(int err);
/* Set "PATH: WHAT: strerror(err)" and return the mapped code. */
int kl_seterrno(int err, const char *what, const char *path);

/* Appends what a "write into a caller's buffer, report the size needed"
 * function produces to a heap buffer, growing it until the result fits. */
typedef int (*kl_into_fn)(const void *ctx, const void *arg, void *buf, size_t cap, size_t *need);
struct kl_buf;
int kl_buf_fill(struct kl_buf *out, kl_into_fn into, const void *ctx, const void *arg);

#define KL_LIKELY(x) __builtin_expect(!!(x), 1)
#define KL_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
