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

#define KL_LIKELY(x) __builtin_expect(!!(x), 1)
#define KL_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
