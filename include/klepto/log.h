/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The library's log: what calls swallow, and what the cache does.
 *
 * Most failures are returned (error.h).  Some are not: a typed call
 * (KL_MEMOIZE) whose archive cannot be reached, or whose key is too big,
 * computes its result uncached and only counts an error (kl_memo_info's
 * `errors`); a write to the archive that fails while the cache evicts is
 * counted the same way.  The log receives those, at KL_LOG_WARN, with
 * the message that says what failed.  At KL_LOG_DEBUG it also receives a
 * line for each memo hit, miss and cache eviction.
 *
 * Without kl_set_log, the environment variable KLEPTO_LOG=warn or
 * KLEPTO_LOG=debug (read when the first memo is made) sends the log to
 * stderr as lines "klepto: LEVEL: MESSAGE"; anything else (or unset)
 * logs nothing.  kl_set_log replaces that.
 *
 * The switch: KLEPTO_DISABLE=1 (or any value but "" and "0") in the
 * environment when the first memo is made makes every memo call its
 * function directly: nothing is looked up, stored or counted.  The
 * library says so once on stderr.  These two variables and that one line
 * are the only output the library makes on its own.
 *
 * Thread-safety: kl_set_log may be called at any time from any thread;
 * a call that logs meanwhile uses the old or the new callback.  The
 * callback may be called from many threads at once, and from inside the
 * library's locks: it must not call back into the library.
 */
#ifndef KLEPTO_LOG_H
#define KLEPTO_LOG_H

#include "export.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How much is logged. */
typedef enum kl_log_level {
    KL_LOG_OFF = 0,   /**< nothing */
    KL_LOG_WARN = 1,  /**< errors swallowed by calls that count them instead */
    KL_LOG_DEBUG = 2  /**< and each memo hit, miss and eviction */
} kl_log_level;

/** A log callback: one line (no newline at its end; borrowed for the
 * call) at `level`, with the `ctx` given to kl_set_log. */
typedef void (*kl_log_fn)(void *ctx, kl_log_level level, const char *msg);

/** Send the log to fn (NULL: log nothing) for messages at `level` and
 * below (KL_LOG_OFF: none).  Replaces KLEPTO_LOG.  A level outside the
 * enum is KL_EINVAL and changes nothing.
 * @return 0 or KL_EINVAL. */
KL_API int kl_set_log(kl_log_fn fn, void *ctx, kl_log_level level);

/** The level in force now (after KLEPTO_LOG or kl_set_log). */
KL_API kl_log_level kl_log_get_level(void);

/** true when KLEPTO_DISABLE switched memos off for this process. */
KL_API bool kl_memo_disabled(void);

#ifdef __cplusplus
}
#endif
#endif
