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
    pthread_mutex_t mu;
};

struct kl_archive_iter {
    kl_archive *ar;
    void *cur;
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

#endif
