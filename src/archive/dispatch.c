/* SPDX-License-Identifier: BSD-3-Clause */
/* The kl_archive_* calls: each takes the handle's lock when its backend is
 * not thread-safe, refuses writes to a read-only handle, and calls the
 * backend's slot, or, for an optional slot the backend left NULL, the
 * fallback built from the required ones (sys/archive_backend.h lists
 * them).  A handle opened with ?ttl= hides entries stored longer ago than
 * that from every read (get, contains, count, stat, iteration, batches,
 * views), by the time the backend keeps with each entry (its stat).  A
 * handle with size limits has its puts checked and followed by
 * limits.c.  The run statistics records (run_stats.c) live under reserved
 * keys that every call here hides: reads do not find them, iteration skips
 * them, count leaves them out, and writes of such a key are refused. */
#include "archive/handle.h"
#include "archive/host.h"
#include "archive/run_stats.h"
#include "archive/tarray.h"
#include "internal.h"

#include <stdlib.h>

/* ---- expiry ----------------------------------------------------------- */

static int stat_locked(kl_archive *ar, const void *key, size_t klen, kl_entry_info *out)
{
    if (ar->be->stat)
        return ar->be->stat(ar->state, key, klen, out);
    kl_buf tmp = KL_BUF_INIT;
    int rc = ar->be->get(ar->state, key, klen, &tmp);
    if (!rc) {
        out->stored_ns = 0;
        out->size = klen + tmp.len;
    }
    kl_buf_free(&tmp);
    return rc;
}

static bool stored_too_long_ago(int64_t stored_ns, int64_t ttl_ns)
{
    return stored_ns > 0 && ttl_ns > 0 && kl__now_ns() - stored_ns > ttl_ns;
}

/* 1 expired (message set: KL_ENOTFOUND's), 0 live or untimed, < 0 error
 * (lock held). */
static int expired_locked(kl_archive *ar, const void *key, size_t klen)
{
    kl_entry_info info = {0, 0};
    int rc = stat_locked(ar, key, klen, &info);
    if (rc == KL_ENOTFOUND) /* removed meanwhile */
        return 1;
    if (rc)
        return rc;
    if (!stored_too_long_ago(info.stored_ns, ar->ttl_ns))
        return 0;
    kl_seterr(KL_ENOTFOUND, "%s: key not found (expired: stored longer ago than ?ttl=)",
              ar->url);
    return 1;
}

int kl__archive_age(kl_archive *ar, const void *key, size_t klen, int64_t *age_ns)
{
    kl_entry_info info = {0, 0};
    int rc = kl_archive_stat(ar, key, klen, &info);
    if (rc)
        return rc;
    int64_t now = kl__now_ns();
    *age_ns = info.stored_ns > 0 && now > info.stored_ns ? now - info.stored_ns : 0;
    return 0;
}

int kl__archive_stat_raw(kl_archive *ar, const void *key, size_t klen, kl_entry_info *out)
{
    KL__AR_LOCK(ar);
    int rc = stat_locked(ar, key, klen, out);
    KL__AR_UNLOCK(ar);
    return rc;
}

/* ---- reserved keys ---------------------------------------------------- */

static inline bool hidden(const void *key, size_t klen)
{
    return KL_UNLIKELY(kl__is_run_stats_key(key, klen));
}

static int hidden_absent(kl_archive *ar)
{
    return kl_seterr(KL_ENOTFOUND, "%s: key not found (a reserved key: run statistics)",
                     ar->url);
}

static int hidden_refused(kl_archive *ar)
{
    return kl_seterr(KL_EINVAL,
                     "%s: the key is reserved (CBOR tag 0x6b6c7273: run statistics); "
                     "no encoded key has it",
                     ar->url);
}

/* ---- the calls -------------------------------------------------------- */

int kl_archive_get(kl_archive *ar, const void *key, size_t klen, kl_buf *val)
{
    if (hidden(key, klen))
        return hidden_absent(ar);
    KL__AR_LOCK(ar);
    int rc = ar->be->get(ar->state, key, klen, val);
    if (KL_UNLIKELY(ar->ttl_ns) && rc == 0) {
        int x = expired_locked(ar, key, klen);
        if (x)
            rc = x < 0 ? x : KL_ENOTFOUND;
    }
    KL__AR_UNLOCK(ar);
    return rc;
}

int kl_archive_put(kl_archive *ar, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rc = kl__archive_check_writable(ar);
    if (rc)
        return rc;
    if (hidden(key, klen))
        return hidden_refused(ar);
    if (KL_UNLIKELY(ar->lim) && (rc = kl__limits_check_put(ar, 1, &klen, &vlen)))
        return rc;
    KL__AR_LOCK(ar);
    rc = ar->be->put(ar->state, key, klen, val, vlen);
    KL__AR_UNLOCK(ar);
    if (KL_UNLIKELY(ar->lim) && !rc)
        rc = kl__limits_after_put(ar, 1, (uint64_t)klen + vlen);
    return rc;
}

int kl_archive_del(kl_archive *ar, const void *key, size_t klen)
{
    int rc = kl__archive_check_writable(ar);
    if (rc)
        return rc;
    if (hidden(key, klen))
        return hidden_absent(ar);
    KL__AR_LOCK(ar);
    rc = ar->be->del(ar->state, key, klen);
    KL__AR_UNLOCK(ar);
    return rc;
}

static int contains_locked(kl_archive *ar, const void *key, size_t klen)
{
    if (ar->be->contains)
        return ar->be->contains(ar->state, key, klen);
    kl_buf tmp = KL_BUF_INIT;
    int rc = ar->be->get(ar->state, key, klen, &tmp);
    kl_buf_free(&tmp);
    if (rc == KL_ENOTFOUND)
        return 0;
    return rc ? rc : 1;
}

int kl_archive_contains(kl_archive *ar, const void *key, size_t klen)
{
    if (hidden(key, klen))
        return 0;
    KL__AR_LOCK(ar);
    int rc = contains_locked(ar, key, klen);
    if (KL_UNLIKELY(ar->ttl_ns) && rc == 1) {
        int x = expired_locked(ar, key, klen);
        rc = x < 0 ? x : !x;
    }
    KL__AR_UNLOCK(ar);
    return rc;
}

/* The live entries of a handle with ?ttl=: counted one by one. */
static int count_live(kl_archive *ar, size_t *out)
{
    kl_archive_iter *it;
    int rc = kl_archive_iter_new(ar, &it);
    if (rc)
        return rc;
    kl_buf k = KL_BUF_INIT;
    size_t n = 0;
    while ((rc = kl_archive_iter_next(it, &k, NULL)) == 1)
        n++;
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    if (rc == 0)
        *out = n;
    return rc;
}

/* The backend's count less the reserved keys: those are walked only when
 * the marker says the archive holds run statistics. */
int kl_archive_count(kl_archive *ar, size_t *out)
{
    if (ar->ttl_ns)
        return count_live(ar, out);
    KL__AR_LOCK(ar);
    size_t n = 0, reserved = 0;
    int rc = ar->be->count(ar->state, &n);
    if (!rc) {
        int has = contains_locked(ar, KL__RS_PREFIX "\x40", KL__RS_MARKER_LEN);
        if (has < 0)
            rc = has;
        else if (has)
            rc = kl__run_stats_hidden_locked(ar, &reserved);
    }
    KL__AR_UNLOCK(ar);
    if (!rc)
        *out = n > reserved ? n - reserved : 0;
    return rc;
}

int kl_archive_stat(kl_archive *ar, const void *key, size_t klen, kl_entry_info *out)
{
    if (hidden(key, klen))
        return hidden_absent(ar);
    KL__AR_LOCK(ar);
    int rc = stat_locked(ar, key, klen, out);
    if (ar->ttl_ns && rc == 0 && stored_too_long_ago(out->stored_ns, ar->ttl_ns))
        rc = kl_seterr(KL_ENOTFOUND, "%s: key not found (expired: stored longer ago than ?ttl=)",
                       ar->url);
    KL__AR_UNLOCK(ar);
    return rc;
}

/* Keys first, deletes after: deleting under a live cursor is not
 * something every backend promises to survive. */
static int clear_by_iteration(kl_archive *ar)
{
    void *cur = NULL;
    int rc = ar->be->iter_new(ar->state, &cur);
    if (rc)
        return rc;
    kl_buf keys = KL_BUF_INIT, k = KL_BUF_INIT;
    for (;;) {
        int r = ar->be->iter_next(cur, &k, NULL);
        if (r == 0)
            break;
        if (r < 0) {
            rc = r;
            break;
        }
        uint64_t n = k.len;
        if ((rc = kl_buf_append(&keys, &n, sizeof n)) || (rc = kl_buf_append(&keys, k.data, k.len)))
            break;
    }
    ar->be->iter_free(cur);
    for (size_t off = 0; !rc && off < keys.len;) {
        uint64_t n;
        memcpy(&n, keys.data + off, sizeof n);
        off += sizeof n;
        int r = ar->be->del(ar->state, keys.data + off, (size_t)n);
        if (r && r != KL_ENOTFOUND)
            rc = r;
        off += (size_t)n;
    }
    kl_buf_free(&keys);
    kl_buf_free(&k);
    return rc;
}

int kl_archive_clear(kl_archive *ar)
{
    int rc = kl__archive_check_writable(ar);
    if (rc)
        return rc;
    KL__AR_LOCK(ar);
    rc = ar->be->clear ? ar->be->clear(ar->state) : clear_by_iteration(ar);
    KL__AR_UNLOCK(ar);
    return rc;
}

int kl_archive_sync(kl_archive *ar)
{
    if (!ar->be->sync)
        return 0;
    KL__AR_LOCK(ar);
    int rc = ar->be->sync(ar->state);
    KL__AR_UNLOCK(ar);
    return rc;
}

int kl_archive_drop(kl_archive *ar)
{
    if (!ar)
        return 0;
    int rc = kl__archive_check_writable(ar);
    if (!rc && !ar->be->drop)
        rc = kl_seterr(KL_EUNSUPPORTED, "%s: %s: archives cannot be dropped", ar->url,
                       ar->be->scheme);
    if (!rc)
        rc = ar->be->drop(ar->state);
    int rc2 = ar->be->close(ar->state);
    kl__archive_handle_release(ar);
    return rc ? rc : rc2;
}

int kl_archive_put_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        const void *const *vals, const size_t *vlens)
{
    int rc = kl__archive_check_writable(ar);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (hidden(keys[i], klens[i]))
            return hidden_refused(ar);
    if (KL_UNLIKELY(ar->lim) && (rc = kl__limits_check_put(ar, n, klens, vlens)))
        return rc;
    KL__AR_LOCK(ar);
    if (ar->be->put_many)
        rc = ar->be->put_many(ar->state, n, keys, klens, vals, vlens);
    else
        for (size_t i = 0; i < n && !rc; i++)
            rc = ar->be->put(ar->state, keys[i], klens[i], vals[i], vlens[i]);
    KL__AR_UNLOCK(ar);
    if (KL_UNLIKELY(ar->lim) && !rc) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += (uint64_t)klens[i] + vlens[i];
        rc = kl__limits_after_put(ar, n, bytes);
    }
    return rc;
}

int kl_archive_del_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        size_t *deleted)
{
    size_t done = 0;
    int rc = kl__archive_check_writable(ar);
    bool any_hidden = false; /* then key by key, past them */
    for (size_t i = 0; !rc && i < n && !any_hidden; i++)
        any_hidden = hidden(keys[i], klens[i]);
    if (!rc) {
        KL__AR_LOCK(ar);
        if (ar->be->version >= 2 && ar->be->del_many && !any_hidden) {
            rc = ar->be->del_many(ar->state, n, keys, klens, &done);
        } else {
            for (size_t i = 0; i < n && !rc; i++) {
                if (hidden(keys[i], klens[i]))
                    continue;
                int r = ar->be->del(ar->state, keys[i], klens[i]);
                if (r == 0)
                    done++;
                else if (r != KL_ENOTFOUND)
                    rc = r;
            }
        }
        KL__AR_UNLOCK(ar);
    }
    if (deleted)
        *deleted = done;
    return rc;
}

int kl_archive_get_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        kl_buf *vals, bool *found)
{
    int rc = 0;
    KL__AR_LOCK(ar);
    if (ar->be->get_many) {
        rc = ar->be->get_many(ar->state, n, keys, klens, vals, found);
    } else {
        for (size_t i = 0; i < n && !rc; i++) {
            int r = ar->be->get(ar->state, keys[i], klens[i], &vals[i]);
            found[i] = r == 0;
            if (r && r != KL_ENOTFOUND)
                rc = r;
        }
    }
    for (size_t i = 0; !rc && i < n; i++)
        if (found[i] && hidden(keys[i], klens[i])) {
            found[i] = false;
            kl_buf_reset(&vals[i]);
        }
    for (size_t i = 0; ar->ttl_ns && !rc && i < n; i++) {
        if (!found[i])
            continue;
        int x = expired_locked(ar, keys[i], klens[i]);
        if (x < 0)
            rc = x;
        else if (x)
            found[i] = false;
    }
    KL__AR_UNLOCK(ar);
    return rc;
}

int kl_archive_describe(kl_archive *ar, kl_buf *out)
{
    if (!ar->be->describe)
        return 0;
    KL__AR_LOCK(ar);
    int rc = ar->be->describe(ar->state, out);
    KL__AR_UNLOCK(ar);
    return rc;
}

int kl_archive_compact(kl_archive *ar)
{
    int rc = kl__archive_check_writable(ar);
    if (rc || !ar->be->compact)
        return rc;
    KL__AR_LOCK(ar);
    rc = ar->be->compact(ar->state);
    KL__AR_UNLOCK(ar);
    return rc;
}

/* ---- views ------------------------------------------------------------ */

int kl_archive_get_view(kl_archive *ar, const void *key, size_t klen, kl_view **out)
{
    *out = NULL;
    if (hidden(key, klen))
        return hidden_absent(ar);
    KL__AR_LOCK(ar);
    int rc;
    if (ar->be->get_view) {
        rc = ar->be->get_view(ar->state, key, klen, out);
    } else {
        kl_buf v = KL_BUF_INIT;
        rc = ar->be->get(ar->state, key, klen, &v);
        kl__tarray ta;
        if (!rc && !kl__tarray_parse(v.data, v.len, &ta))
            rc = kl_seterr(KL_ETYPE, "%s: the value is not a typed numeric array", ar->url);
        if (!rc) {
            rc = kl__view_from_copy(out, v.data, v.len, &ta);
            v.data = NULL;
        }
        kl_buf_free(&v);
    }
    if (ar->ttl_ns && rc == 0) {
        int x = expired_locked(ar, key, klen);
        if (x) {
            kl_view_release(*out);
            *out = NULL;
            rc = x < 0 ? x : KL_ENOTFOUND;
        }
    }
    KL__AR_UNLOCK(ar);
    return rc;
}

/* ---- iteration -------------------------------------------------------- */

static int iter_open(kl_archive *ar, kl_archive_iter **out, bool raw)
{
    *out = NULL;
    kl_archive_iter *it = calloc(1, sizeof *it);
    if (!it)
        return kl_seterr(KL_ENOMEM, "out of memory iterating %s", ar->url);
    it->ar = ar;
    it->raw = raw;
    KL__AR_LOCK(ar);
    int rc = ar->be->iter_new(ar->state, &it->cur);
    KL__AR_UNLOCK(ar);
    if (rc) {
        free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int kl_archive_iter_new(kl_archive *ar, kl_archive_iter **out) { return iter_open(ar, out, false); }

int kl__archive_iter_new_raw(kl_archive *ar, kl_archive_iter **out)
{
    return iter_open(ar, out, true);
}

int kl_archive_iter_next(kl_archive_iter *it, kl_buf *key, kl_buf *val)
{
    kl_archive *ar = it->ar;
    KL__AR_LOCK(ar);
    int rc;
    for (;;) { /* past the reserved keys, and with ?ttl=, the expired entries */
        rc = ar->be->iter_next(it->cur, key, val);
        if (rc == 1 && hidden(key->data, key->len))
            continue;
        if (rc != 1 || !ar->ttl_ns || it->raw)
            break;
        int x = expired_locked(ar, key->data, key->len);
        if (x <= 0) {
            rc = x < 0 ? x : 1;
            break;
        }
    }
    KL__AR_UNLOCK(ar);
    return rc;
}

void kl_archive_iter_free(kl_archive_iter *it)
{
    if (!it)
        return;
    KL__AR_LOCK(it->ar);
    it->ar->be->iter_free(it->cur);
    KL__AR_UNLOCK(it->ar);
    free(it);
}
