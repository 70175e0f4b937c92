/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5:'s write operations: a single put goes to the journal (O(entry))
 * and is folded with others; put_many, deletes, clear and compact are
 * transactions on the file (txn.c). */
#define _GNU_SOURCE
#include "archive/backend/hdf5/hdf5.h"
#include "archive/util/fsio.h"
#include "internal.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct put_args {
    size_t n;
    const void *const *keys;
    const size_t *klens;
    const void *const *vals;
    const size_t *vlens;
} put_args;

static int put_fn(h5_state *s, hid_t f, void *arg)
{
    put_args *a = arg;
    int64_t now = kl__now_ns();
    int rc = 0;
    for (size_t i = 0; !rc && i < a->n; i++)
        rc = kl__h5a_put_entry(s, f, a->keys[i], a->klens[i], a->vals[i], a->vlens[i], now, false);
    return rc;
}

int kl__h5a_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                     const void *const *vals, const size_t *vlens)
{
    put_args a = {n, keys, klens, vals, vlens};
    kl__h5_enter();
    int rc = n ? kl__h5a_txn(state, TXN_COPY, put_fn, &a) : 0;
    kl__h5_leave();
    return rc;
}

/* Fold the journal into the file now (a transaction changing nothing
 * else); nothing to fold: nothing done but cutting off a torn append. */
static int fold_now(h5_state *s)
{
    /* the journal's refresh under its lock also cuts off a torn append */
    int rc = kl__h5j_lock(s->jr);
    if (rc)
        return rc;
    bool any = kl__h5j_count(s->jr) > 0;
    kl__h5j_unlock(s->jr);
    return any ? kl__h5a_txn(s, TXN_COPY, NULL, NULL) : 0;
}

/* Whether the journal has grown enough to fold: FOLD_MIN and a quarter
 * of the file, so that a fold's cost (a copy of the file) is spread over
 * puts in proportion to it. */
bool kl__h5a_fold_due(h5_state *s, uint64_t divisor)
{
    uint64_t j = kl__h5j_bytes(s->jr);
    struct stat st;
    if (divisor == 4 && j < s->fold_min)
        return false;
    if (!j || stat(s->path, &st) < 0)
        return false;
    if (divisor == 8 && (uint64_t)st.st_size <= CLOSE_FOLD_MAX)
        return true;
    return j >= (uint64_t)st.st_size / divisor;
}

/* A single put: appended to the journal (O(entry)); folded with others.
 * A value of DIRECT_MIN bytes or more is written into the file at once (a
 * transaction, which folds the journal too): it is then mapped in place
 * by views, and it is not written twice. */
int kl__h5a_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    h5_state *s = state;
    if (vlen >= DIRECT_MIN)
        return kl__h5a_put_many(state, 1, &key, &klen, &val, &vlen);
    kl__h5_enter();
    int rc = kl__h5j_put(s->jr, 1, &key, &klen, &val, &vlen);
    /* the entry is stored once it is in the journal: a file that another
     * HDF5 program has open for writing is folded into by a later put or
     * the close */
    if (!rc && kl__h5a_fold_due(s, 4) && (rc = kl__h5a_txn(s, TXN_COPY, NULL, NULL)) == KL_EBUSY)
        rc = 0;
    kl__h5_leave();
    return rc;
}

typedef struct del_args {
    size_t n;
    const void *const *keys;
    const size_t *klens;
    size_t deleted;
} del_args;

/* Whether the key has an entry in file f: 0 yes, KL_ENOTFOUND, or an error;
 * a damaged entry at the key's name counts as one (it goes too: the name
 * says whose it is, whatever the damage). */
static int present(h5_state *s, hid_t f, const void *key, size_t klen)
{
    kl__h5_entry e;
    int rc = kl__h5a_find(s, f, key, klen, &e);
    if (!rc)
        kl__h5_entry_close(&e);
    return rc == KL_ECORRUPT ? 0 : rc;
}

static int del_fn(h5_state *s, hid_t f, void *arg)
{
    del_args *a = arg;
    int rc = 0;
    for (size_t i = 0; i < a->n && !rc; i++) {
        rc = present(s, f, a->keys[i], a->klens[i]);
        if (rc == KL_ENOTFOUND && a->n > 1) { /* skipped in a batch */
            rc = 0;
            continue;
        }
        if (!rc) {
            char name[KL_H5_NAME_HEX + 1];
            kl__h5_entry_name(a->keys[i], a->klens[i], name);
            if (!(rc = kl__h5a_unlink_entry(s, f, name)))
                a->deleted++;
        }
    }
    return rc;
}

/* Delete keys in one transaction; none present (in the current file):
 * no copy at all. */
static int del_keys(h5_state *s, del_args *a)
{
    kl__h5_enter();
    hid_t f;
    int rc = kl__h5j_refresh(s->jr);
    if (!rc)
        rc = kl__h5a_snapshot(s, &f);
    bool any = false;
    for (size_t i = 0; i < a->n && !rc && !any; i++) {
        rc = kl__h5j_lookup(s->jr, a->keys[i], a->klens[i], NULL, NULL);
        if (rc == KL_ENOTFOUND)
            rc = present(s, f, a->keys[i], a->klens[i]);
        any = rc == 0;
        if (rc == KL_ENOTFOUND)
            rc = 0;
    }
    if (!rc && !any && a->n == 1)
        rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
    if (!rc && any)
        rc = kl__h5a_txn(s, TXN_COPY, del_fn, a);
    kl__h5_leave();
    return rc;
}

int kl__h5a_del(void *state, const void *key, size_t klen)
{
    const void *keys[1] = {key};
    del_args a = {1, keys, &klen, 0};
    return del_keys(state, &a);
}

int kl__h5a_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                     size_t *deleted)
{
    del_args a = {n, keys, klens, 0};
    int rc = n ? del_keys(state, &a) : 0;
    *deleted = a.deleted;
    return rc;
}

int kl__h5a_clear(void *state)
{
    kl__h5_enter();
    int rc = kl__h5a_txn(state, TXN_FRESH, NULL, NULL);
    kl__h5_leave();
    return rc;
}

int kl__h5a_compact(void *state)
{
    h5_state *s = state;
    int lockfd;
    struct stat st;
    kl__h5_enter();
    int rc = fold_now(s);
    if (!rc)
        rc = kl__h5a_lock_current(s, &lockfd, &st);
    if (!rc) {
        rc = kl__h5a_compact_locked(s, lockfd, &st);
        close(lockfd);
    }
    kl__h5_leave();
    return rc;
}

int kl__h5a_sync(void *state)
{
    h5_state *s = state;
    /* files are flushed before they are renamed (sync=normal/full); the
     * renames become durable with the folder */
    int rc = s->sync == KL_SYNC_NORMAL ? kl__fsio_fsync_dir(s->dir) : 0;
    return rc ? kl_seterr_prefix(rc, "%s", s->url) : 0;
}