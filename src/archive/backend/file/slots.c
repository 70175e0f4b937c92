/* SPDX-License-Identifier: BSD-3-Clause */
/* file: the backend's slots (get, put, delete, batches, ...) and the
 * backend itself.  See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"

#include <signal.h>
#include <xxhash.h>

/* Read the record the index has for key into s->rbuf.  Returns 0 with *r
 * set, KL_ENOTFOUND, KL_ECORRUPT.  want_value false: key only. */
static int read_rec(fa *s, const void *key, size_t klen, bool want_value, rec *r)
{
    uint64_t lo, hi;
    kl__file_key_hash(key, klen, &lo, &hi);
    slot *e = kl__file_tab_find(s, lo, hi, false);
    if (!e || e->off == TOMB_OFF)
        return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
    size_t want = want_value ? (size_t)e->len : RHDR + klen;
    if (want > e->len)
        want = (size_t)e->len;
    int rc = kl_buf_reserve(&s->rbuf, want);
    size_t got = 0;
    if (!rc)
        rc = kl__fsio_pread(s->fd, s->rbuf.data, want, (int64_t)e->off, &got, s->path);
    if (rc)
        return rc;
    const uint8_t *p = s->rbuf.data;
    if (got < want || !kl__file_rec_header(p, r) || r->len != e->len || r->lo != lo || r->hi != hi)
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: damaged header", s->url,
                         (unsigned long long)e->off);
    uint64_t klo, khi;
    kl__file_key_hash(p + RHDR, r->klen < want - RHDR ? r->klen : want - RHDR, &klo, &khi);
    if (r->klen > want - RHDR || klo != lo || khi != hi)
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: key checksum mismatch", s->url,
                         (unsigned long long)e->off);
    if (r->klen != klen || memcmp(p + RHDR, key, klen))
        return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url); /* another key, same hash */
    if (want_value && XXH3_64bits(p + RHDR + klen, (size_t)r->vlen) != r->vhash)
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: value checksum mismatch", s->url,
                         (unsigned long long)e->off);
    return 0;
}

static int fa_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    fa *s = state;
    int rc = kl__file_prepare_read(s);
    rec r;
    if (!rc)
        rc = read_rec(s, key, klen, true, &r);
    if (rc)
        return rc;
    kl_buf_reset(val);
    return kl_buf_append(val, s->rbuf.data + RHDR + klen, (size_t)r.vlen);
}

/* One look at the file's tail for the whole batch. */
static int fa_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       kl_buf *vals, bool *found)
{
    fa *s = state;
    int rc = kl__file_prepare_read(s);
    for (size_t i = 0; !rc && i < n; i++) {
        rec r;
        int g = read_rec(s, keys[i], klens[i], true, &r);
        found[i] = g == 0;
        if (g == 0) {
            kl_buf_reset(&vals[i]);
            rc = kl_buf_append(&vals[i], s->rbuf.data + RHDR + klens[i], (size_t)r.vlen);
        } else if (g != KL_ENOTFOUND) {
            rc = g;
        }
    }
    return rc;
}

static int fa_contains(void *state, const void *key, size_t klen)
{
    fa *s = state;
    int rc = kl__file_prepare_read(s);
    rec r;
    if (!rc)
        rc = read_rec(s, key, klen, false, &r);
    return rc == KL_ENOTFOUND ? 0 : rc ? rc : 1;
}

static int fa_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    fa *s = state;
    int rc = kl__file_prepare_read(s);
    rec r;
    if (!rc)
        rc = read_rec(s, key, klen, false, &r);
    if (!rc) {
        out->stored_ns = r.ns;
        out->size = klen + r.vlen;
    }
    return rc;
}

static int check_sizes(fa *s, size_t klen, size_t vlen)
{
    if (klen > UINT32_MAX || vlen > (SIZE_MAX >> 2) - klen - RHDR)
        return kl_seterr(KL_ETOOBIG, "%s: entry of %zu + %zu bytes too large", s->url, klen, vlen);
    return 0;
}

static int fa_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    fa *s = state;
    int rc = check_sizes(s, klen, vlen);
    if (rc)
        return rc;
    if (s->sync == KL_SYNC_NONE) {
        size_t mark = s->pend.len;
        rc = kl__file_rec_build(&s->pend, T_PUT, key, klen, val, vlen);
        if (rc)
            s->pend.len = mark;
        return rc ? rc : s->pend.len >= PENDING_MAX ? kl__file_flush(s) : 0;
    }
    kl_buf one = KL_BUF_INIT;
    rc = kl__file_rec_build(&one, T_PUT, key, klen, val, vlen);
    if (!rc)
        rc = kl__file_append(s, one.data, one.len);
    kl_buf_free(&one);
    return rc;
}

static int fa_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    fa *s = state;
    kl_buf b = KL_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = check_sizes(s, klens[i], vlens[i]);
        if (!rc)
            rc = kl__file_rec_build(&b, T_PUT, keys[i], klens[i], vals[i], vlens[i]);
    }
    if (!rc)
        rc = kl__file_flush(s);
    /* one append: one lock, one write */
    if (!rc && b.len)
        rc = kl__file_append(s, b.data, b.len);
    kl_buf_free(&b);
    return rc;
}

static int fa_del(void *state, const void *key, size_t klen)
{
    fa *s = state;
    int rc = kl__file_flush(s);
    if (rc)
        return rc;
    if ((rc = kl__file_lock_ex(s)))
        return rc;
    rc = kl__file_refresh(s);
    rec r;
    if (!rc) {
        rc = read_rec(s, key, klen, false, &r);
        if (rc == KL_ECORRUPT)
            rc = 0; /* a damaged entry can be deleted */
    }
    kl_buf one = KL_BUF_INIT;
    if (!rc)
        rc = kl__file_rec_build(&one, T_DEL, key, klen, "", 0);
    if (!rc)
        rc = kl__file_append(s, one.data, one.len);
    kl_buf_free(&one);
    kl__file_unlock(s);
    return rc;
}

static int fa_count(void *state, size_t *out)
{
    fa *s = state;
    int rc = kl__file_prepare_read(s);
    *out = s->count;
    return rc;
}

/* Replace the file by an empty one. */
static int fa_clear(void *state)
{
    fa *s = state;
    kl_buf_reset(&s->pend);
    int rc = kl__file_lock_ex(s);
    if (rc)
        return rc;
    rc = kl__file_refresh(s);
    if (!rc)
        rc = kl__file_compact_locked(s, true);
    kl__file_unlock(s);
    return rc;
}

int kl__file_fa_sync(void *state)
{
    fa *s = state;
    int rc = kl__file_flush(s);
    if (!rc && s->sync != KL_SYNC_NONE && fdatasync(s->fd) < 0)
        rc = kl_seterrno(errno, "fsync", s->path);
    return rc;
}

static int fa_compact(void *state)
{
    fa *s = state;
    int rc = kl__file_flush(s);
    if (rc || (rc = kl__file_lock_ex(s)))
        return rc;
    rc = kl__file_compact_locked(s, false);
    kl__file_unlock(s);
    return rc;
}

static int fa_describe(void *state, kl_buf *out)
{
    fa *s = state;
    int rc = kl__file_prepare_read(s);
    static const char *const modes[] = {"none", "normal", "full"};
    if (!rc)
        rc = kl_buf_printf(out,
                           "format_version=%d\nsync=%s\nfile_bytes=%llu\n"
                           "live_bytes=%llu\ngarbage_bytes=%llu\nautocompact=%g\n",
                           FILE_VERSION, modes[s->sync], (unsigned long long)s->end,
                           (unsigned long long)s->live,
                           (unsigned long long)(s->end - FHDR - s->live), s->autocompact);
    return rc;
}

/* The current file's blocks (another process may have compacted it into
 * a new file meanwhile). */
static int fa_storage_bytes(void *state, uint64_t *out)
{
    fa *s = state;
    *out = 0;
    int rc = kl__fsio_add_blocks(s->path, out);
    return rc ? kl_seterr_prefix(rc, "%s", s->url) : 0;
}

static int fa_cleaner_lock(void *state, bool take)
{
    fa *s = state;
    return kl__fsio_beside_lock(&s->cleaner, s->path, s->mode, s->url, take);
}

const kl_archive_backend kl__backend_file = {
    .version = KL_BACKEND_VERSION,
    .scheme = "file",
    .flags = 0,
    .open = kl__file_fa_open,
    .close = kl__file_fa_close,
    .get = fa_get,
    .put = fa_put,
    .del = fa_del,
    .contains = fa_contains,
    .count = fa_count,
    .stat = fa_stat,
    .clear = fa_clear,
    .sync = kl__file_fa_sync,
    .drop = kl__file_fa_drop,
    .put_many = fa_put_many,
    .get_many = fa_get_many,
    .describe = fa_describe,
    .iter_new = kl__file_fa_iter_new,
    .iter_next = kl__file_fa_iter_next,
    .iter_free = kl__file_fa_iter_free,
    .verify = kl__file_fa_verify,
    .compact = fa_compact,
    .storage_bytes = fa_storage_bytes,
    .cleaner_lock = fa_cleaner_lock,
};
