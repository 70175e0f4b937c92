/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Error codes and messages.
 *
 * Every fallible function in the library returns an int: 0 on success, or a
 * negative KL_E* code.  The code says what kind of failure it was; the
 * thread-local message returned by kl_errmsg() says which file, URL, argument
 * or server was at fault, including a backend's own message.  The library
 * never aborts or exits, and prints only what the environment asks for
 * (KLEPTO_LOG, KLEPTO_DISABLE: klepto/log.h).
 *
 * Thread-safety: kl_strerror() is pure; kl_errmsg() reads the calling
 * thread's own last message.
 */
#ifndef KLEPTO_ERROR_H
#define KLEPTO_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The error codes: a fallible function returns 0 (KL_OK) or one of them. */
enum {
    KL_OK = 0,             /**< success */
    KL_ENOTFOUND = -1,     /**< key (or archive, or name) not present */
    KL_EINVAL = -2,        /**< bad argument, option, URL or literal */
    KL_ECORRUPT = -3,      /**< stored or given bytes are malformed/damaged */
    KL_EIO = -4,           /**< an operating-system I/O call failed */
    KL_EBACKEND = -5,      /**< a database / server reported an error */
    KL_ENOMEM = -6,        /**< allocation failed */
    KL_EVERSION = -7,      /**< data written by a newer/unknown format version */
    KL_ETOOBIG = -8,       /**< a key or value exceeds a documented limit */
    KL_ETYPE = -9,         /**< a value of a type that cannot be used here */
    KL_EPERM = -10,        /**< permission denied */
    KL_ENOSPC = -11,       /**< no space left on device */
    KL_EFUNC = -12,        /**< the memoized function itself reported failure */
    KL_EUNSUPPORTED = -13, /**< operation not supported by this archive/policy */
    KL_EBUSY = -14,        /**< resource locked or busy beyond the timeout */
    KL_ERANGE = -15        /**< a number out of the representable range */
};

/** The fixed, human-readable name of an error code ("not found", ...).
 * Never NULL; unknown codes give "unknown error". */
KL_API const char *kl_strerror(int code);

/** The detailed message of the last error raised in the calling thread
 * (e.g. "dir:/tmp/x: entry 3f..: bad magic number").  Never NULL; empty
 * when no error was raised.  Valid until the next library call in this
 * thread. */
KL_API const char *kl_errmsg(void);

/** Clear the calling thread's message. */
KL_API void kl_errclear(void);

#ifdef __cplusplus
}
#endif
#endif
