/* SPDX-License-Identifier: BSD-3-Clause */
/* The log and the switch (klepto/log.h), as the library's modules use
 * them (not installed).  kl__log_level is read on hot paths: one relaxed
 * load, so a hit costs nothing more while debug logging is off. */
#ifndef KLEPTO_LOG_PRIVATE_H
#define KLEPTO_LOG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "klepto/log.h"
#include "klepto/sys/errors.h" /* KL_PRINTF_LIKE */

extern int kl__log_level;     /* kl_log_level in force */
extern bool kl__memo_off;     /* KLEPTO_DISABLE */

/* Read KLEPTO_LOG and KLEPTO_DISABLE, once per process. */
void kl__log_env_init(void);

/* KLEPTO_DISABLE is in force (one relaxed load). */
static inline bool kl__memo_is_off(void) { return __atomic_load_n(&kl__memo_off, __ATOMIC_RELAXED); }

static inline bool kl__log_on(kl_log_level level)
{
    return __atomic_load_n(&kl__log_level, __ATOMIC_RELAXED) >= (int)level;
}

/* Send one line at `level` (printf-style) when that level is on. */
void kl__log(kl_log_level level, const char *fmt, ...) KL_PRINTF_LIKE(2, 3);

/* A swallowed error: logs the thread's message (kl_errmsg) at warn,
 * saying what the library did instead (`then`: "the call ran uncached"). */
void kl__log_swallowed(const char *then);

/* Appends up to 16 bytes of key as hex ("a1b2...") to dst (cap >= 40). */
void kl__log_key_hex(char *dst, size_t cap, const void *key, size_t klen);

#endif
