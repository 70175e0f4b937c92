/* SPDX-License-Identifier: BSD-3-Clause */
/* file: compaction: the live records into a new file renamed over the
 * old one, which gets a "moved" record.  See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"
#include "archive/util/key_hex.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

static int cmp_off(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

/* Live slots sorted by offset (caller frees). */
slot *kl__file_live_sorted(fa *s, size_t *n)
{
    slot *v = malloc((s->count ? s->count : 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->tab[i].len != EMPTY_LEN && s->tab[i].off != TOMB_OFF)
            v[k++] = s->tab[i];
    qsort(v, k, sizeof *v, cmp_off);
    *n = k;
    return v;
}

int kl__file_hexkey(kl_buf *out, const uint8_t *k, size_t n)
{
    int rc = kl_buf_append_str(out, "key ");
    return rc ? rc : kl__key_hex(out, k, n);
}

/* Rewrite the file with only the live, intact records (none when empty);
 * rename it into place; tell readers of the old file.  Lock held. */
int kl__file_compact_locked(fa *s, bool empty)
{
    int rc = kl__file_refresh(s);
    if (rc)
        return rc;
    size_t n = 0;
    slot *v = kl__file_live_sorted(s, &n);
    if (empty)
        n = 0;
    if (!v)
        return kl_seterr(KL_ENOMEM, "%s: out of memory compacting", s->url);
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.compact.%d", s->path, (int)getpid()) < 0) {
        free(v);
        return kl_seterr(KL_ENOMEM, "out of memory");
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = kl_seterr(kl__errno_code(errno), "%s: create %s: %s", s->url, tmp, strerror(errno));
        free(tmp);
        free(v);
        return rc;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        (void)!fchmod(fd, st.st_mode & 07777);
    rc = kl__file_write_header(s, fd, tmp);
    kl_buf out = KL_BUF_INIT, one = KL_BUF_INIT;
    uint64_t woff = FHDR;
    for (size_t i = 0; !rc && i < n; i++) {
        if (v[i].len > SIZE_MAX / 2) {
            rc = kl_seterr(KL_ETOOBIG, "%s: record too large", s->url);
            break;
        }
        if ((rc = kl_buf_reserve(&one, (size_t)v[i].len)))
            break;
        size_t got = 0;
        if ((rc = kl__fsio_pread(s->fd, one.data, (size_t)v[i].len, (int64_t)v[i].off, &got,
                                s->path)))
            break;
        rec r;
        if (got < v[i].len || !kl__file_rec_header(one.data, &r) || r.len != v[i].len ||
            !kl__file_rec_body_ok(&r, one.data + RHDR))
            continue; /* damaged: verify reports it, compaction drops it */
        if ((rc = kl_buf_append(&out, one.data, (size_t)v[i].len)))
            break;
        if (out.len >= SCAN_CHUNK) {
            rc = kl__fsio_pwrite(fd, out.data, out.len, (int64_t)woff, tmp);
            woff += out.len;
            kl_buf_reset(&out);
        }
    }
    if (!rc && out.len)
        rc = kl__fsio_pwrite(fd, out.data, out.len, (int64_t)woff, tmp);
    kl_buf_free(&out);
    kl_buf_free(&one);
    free(v);
    if (!rc && s->sync != KL_SYNC_NONE)
        rc = kl__fsio_fsync(fd, tmp);
    if (!rc && rename(tmp, s->path) < 0)
        rc = kl_seterrno(errno, "rename into place", s->path);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: compaction failed: %s", s->url, kl_errmsg());
        close(fd);
        unlink(tmp);
        free(tmp);
        return kl_seterr(rc, "%s", msg);
    }
    free(tmp);
    if (s->sync != KL_SYNC_NONE)
        kl__fsio_fsync_dir(s->dir);
    /* readers of the old file learn from this record that it was replaced */
    kl_buf mv = KL_BUF_INIT;
    if (!kl__file_rec_build(&mv, T_MOVED, "", 0, "", 0))
        kl__fsio_pwrite(s->fd, mv.data, mv.len, (int64_t)s->end, s->path);
    kl_buf_free(&mv);
    /* switch to the new file, keeping the lock (taken on it before the
     * old one, which releases ours, is closed) */
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    close(s->fd);
    s->fd = fd;
    if (fstat(fd, &st) == 0) {
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    kl__file_tab_reset(s);
    return kl__file_scan(s);
}
