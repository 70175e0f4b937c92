/* SPDX-License-Identifier: BSD-3-Clause */
/* The archive handle as the core's files see it (not installed): the
 * backend and its state, the URL to name in messages, and the per-handle
 * mutex held around every call to a backend that is not thread-safe. */
#ifndef KLEPTO_ARCHIVE_HANDLE_H
#define KLEPTO_ARCHIVE_HANDLE_H

#include "klepto/sys/archive_backend.h"

#include <pthread.h>
#include <stdbool.h>

struct kl_archive {
    const kl_archive_backend *be;
    void *state;
    char *url;      /* as opened, password masked */
    bool serial;    /* backend not thread-safe: hold mu around every call */
    bool read_only;
    int64_t ttl_ns; /* ?ttl=: entries stored longer ago are absent; 0: none */
    bool run_stats; /* ?stats=true: memos write their run statistics here */
    pthread_mutex_t mu;
};

struct kl_archive_iter {
    kl_archive *ar;
    void *cur;
    bool raw; /* sees expired entries too (prune) */
};

#define KL__AR_LOCK(ar)                                                                  \
    do {                                                                                 \
        if ((ar)->serial)                                                                \
            pthread_mutex_lock(&(ar)->mu);                                               \
    } while (0)
#define KL__AR_UNLOCK(ar)                                                                \
    do {                                                                                 \
        if ((ar)->serial)                                                                \
            pthread_mutex_unlock(&(ar)->mu);                                             \
    } while (0)

/* A handle for backend be, its URL copied (redacted) from url; state not
 * set yet.  KL_ENOMEM (naming `shown`) on failure. */
int kl__archive_handle_new(kl_archive **out, const kl_archive_backend *be, const char *url,
                           const char *shown);
/* Frees the handle itself (the backend state must be closed already). */
void kl__archive_handle_release(kl_archive *ar);
/* KL_EPERM when ar was opened read-only. */
int kl__archive_check_writable(kl_archive *ar);

/* ---- expiry (dispatch.c) ---- */
/* How long ago the entry under key was stored (by kl_archive_stat; 0 for
 * an entry whose backend keeps no time): 0 and *age_ns, KL_ENOTFOUND when
 * absent, or another error of the stat. */
int kl__archive_age(kl_archive *ar, const void *key, size_t klen, int64_t *age_ns);
/* An iterator that sees expired entries too, and stat that does: for
 * prune, which removes them. */
int kl__archive_iter_new_raw(kl_archive *ar, kl_archive_iter **out);
int kl__archive_stat_raw(kl_archive *ar, const void *key, size_t klen, kl_entry_info *out);

/* "N[s|m|h|d|w]" (prune --older-than's syntax) in seconds; KL_EINVAL
 * naming `what` for anything else, 0, or more than 100 years. */
int kl__parse_duration(const char *text, const char *what, uint64_t *seconds);

#endif
