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
    struct kl__limits *lim; /* ?max_entries= / ?max_bytes= (limits.c); NULL: none */
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

/* kl_archive_prune, whose entries limit applies only when the scan finds
 * more than over_entries (KL_PRUNE_NO_LIMIT: always), and whose
 * out->left is counted again when recount (else: scanned - pruned). */
int kl__archive_prune(kl_archive *ar, const kl_prune_opts *opts, uint64_t over_entries,
                      bool recount, kl_prune_result *out);

/* ---- size limits (limits.c; storage.c) ---- */
/* kl_archive_storage_bytes without the argument checks. */
int kl__storage_measure(kl_archive *ar, uint64_t *out, bool *measured);
/* Reads ?max_entries= and ?max_bytes= (and opts' fields) into ar->lim:
 * 0, or KL_EINVAL naming the bad value; KL_ENOMEM. */
int kl__limits_open(kl_archive *ar, const kl_url *u, const kl_archive_opts *opts);
void kl__limits_free(kl_archive *ar);
/* Before a put of these sizes: KL_ETOOBIG when one entry alone is over
 * max_bytes (nothing done), else 0. */
int kl__limits_check_put(kl_archive *ar, size_t n, const size_t *klens, const size_t *vlens);
/* After n entries of `bytes` key + value were put: grows the estimate
 * and, over a limit, prunes to the low-water mark.  Returns 0 or the
 * error of the prune (the puts themselves are done). */
int kl__limits_after_put(kl_archive *ar, size_t n, uint64_t bytes);
/* Before closing a handle that put since it last measured: measure and
 * clean (waiting for the cleaner lock).  0 or an error. */
int kl__limits_at_close(kl_archive *ar);


#endif
