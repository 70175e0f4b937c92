/* SPDX-License-Identifier: BSD-3-Clause */
/* The log and the switch (klepto/log.h): the callback, its level, the
 * KLEPTO_LOG stderr logger and KLEPTO_DISABLE, read once per process. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kl__log_level = KL_LOG_OFF;
bool kl__memo_off = false;

/* The callback and its context, swapped together under mu; a caller
 * copies both under it before calling. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static kl_log_fn log_fn;
static void *log_ctx;
static bool set_by_call; /* kl_set_log was called: KLEPTO_LOG no longer applies */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static const char *level_name(kl_log_level level)
{
    return level == KL_LOG_DEBUG ? "debug" : "warn";
}

static void log_to_stderr(void *ctx, kl_log_level level, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "klepto: %s: %s\n", level_name(level), msg);
}

static void read_env(void)
{
    const char *off = getenv("KLEPTO_DISABLE");
    if (off && *off && strcmp(off, "0") != 0) {
        __atomic_store_n(&kl__memo_off, true, __ATOMIC_RELAXED);
        fprintf(stderr, "klepto: KLEPTO_DISABLE is set: memoized functions run uncached\n");
    }
    const char *lv = getenv("KLEPTO_LOG");
    int level = KL_LOG_OFF;
    if (lv && !strcasecmp(lv, "warn"))
        level = KL_LOG_WARN;
    else if (lv && !strcasecmp(lv, "debug"))
        level = KL_LOG_DEBUG;
    pthread_mutex_lock(&mu);
    if (!set_by_call && level != KL_LOG_OFF) {
        log_fn = log_to_stderr;
        log_ctx = NULL;
        __atomic_store_n(&kl__log_level, level, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&mu);
}

void kl__log_env_init(void) { pthread_once(&env_once, read_env); }

int kl_set_log(kl_log_fn fn, void *ctx, kl_log_level level)
{
    if ((int)level < KL_LOG_OFF || (int)level > KL_LOG_DEBUG)
        return kl_seterr(KL_EINVAL, "kl_set_log: level %d is not one of KL_LOG_OFF, "
                                    "KL_LOG_WARN, KL_LOG_DEBUG",
                         (int)level);
    pthread_mutex_lock(&mu);
    set_by_call = true;
    log_fn = fn;
    log_ctx = ctx;
    __atomic_store_n(&kl__log_level, fn ? (int)level : KL_LOG_OFF, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&mu);
    return 0;
}

kl_log_level kl_log_get_level(void)
{
    kl__log_env_init();
    return (kl_log_level)__atomic_load_n(&kl__log_level, __ATOMIC_RELAXED);
}

bool kl_memo_disabled(void)
{
    kl__log_env_init();
    return kl__memo_is_off();
}

void kl__log(kl_log_level level, const char *fmt, ...)
{
    if (!kl__log_on(level))
        return;
    pthread_mutex_lock(&mu);
    kl_log_fn fn = log_fn;
    void *ctx = log_ctx;
    pthread_mutex_unlock(&mu);
    if (!fn)
        return;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(ctx, level, line);
}

void kl__log_swallowed(const char *then)
{
    if (!kl__log_on(KL_LOG_WARN))
        return;
    const char *msg = kl_errmsg();
    kl__log(KL_LOG_WARN, "%s; %s", msg[0] ? msg : "an error with no message", then);
}

void kl__log_key_hex(char *dst, size_t cap, const void *key, size_t klen)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *k = key;
    size_t n = klen < 16 ? klen : 16, o = 0;
    for (size_t i = 0; i < n && o + 3 < cap; i++) {
        dst[o++] = hex[k[i] >> 4];
        dst[o++] = hex[k[i] & 15];
    }
    if (klen > n && o + 3 < cap) {
        memcpy(dst + o, "..", 2);
        o += 2;
    }
    dst[o] = 0;
}
