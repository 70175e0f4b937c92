/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Setting the thread's error message, for code that
 * plugs into the library (archive backends, policies, user-type codecs).
 *
 * The library reports failures as a negative KL_E* code (error.h) plus a
 * message in the calling thread, read with kl_errmsg().  A plug-in that
 * fails sets that message with these functions and returns their result,
 * so the caller sees the same shape of error as from a built-in part.
 *
 * Thread-safety: each thread has its own message; these functions touch
 * only the calling thread's.
 */
#ifndef KLEPTO_SYS_ERRORS_H
#define KLEPTO_SYS_ERRORS_H

#include "../error.h"
#include "../export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @def KL_PRINTF_LIKE(f, a)
 * Marks a printf-style function (argument f is the format, a the first
 * value) for the compiler's format checks; empty where unsupported. */
#if defined(__GNUC__) || defined(__clang__)
#define KL_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define KL_PRINTF_LIKE(f, a)
#endif

/** Set the calling thread's message (printf-style; cut at 511 bytes) and
 * return `code`, so that `return kl_seterr(KL_EINVAL, "...")` reports. */
KL_API int kl_seterr(int code, const char *fmt, ...) KL_PRINTF_LIKE(2, 3);

/** Put "PREFIX: " (printf-style) in front of the thread's current message
 * and return `code`: for a caller that adds where a failure happened to
 * the message of the call that failed. */
KL_API int kl_seterr_prefix(int code, const char *fmt, ...) KL_PRINTF_LIKE(2, 3);

/** Set "PATH: WHAT: strerror(err)" (PATH may be NULL) and return the KL_E*
 * code that fits errno value `err`: ENOENT → KL_ENOTFOUND, EACCES/EPERM/
 * EROFS → KL_EPERM, ENOSPC/EDQUOT → KL_ENOSPC, ENOMEM → KL_ENOMEM,
 * ENAMETOOLONG → KL_EINVAL, others → KL_EIO. */
KL_API int kl_seterrno(int err, const char *what, const char *path);

#ifdef __cplusplus
}
#endif
#endif
