/* SPDX-License-Identifier: BSD-3-Clause */
/* file: iteration over a snapshot of the index, on the file as it was.
 * See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>

typedef struct fcur {
    fa *s;
    int fd;
    slot *v;
    size_t n, i;
    kl_buf buf;
} fcur;

int kl__file_fa_iter_new(void *state, void **out)
{
    fa *s = state;
    int rc = kl__file_prepare_read(s);
    if (rc)
        return rc;
    fcur *c = calloc(1, sizeof *c);
    if (!c || !(c->v = kl__file_live_sorted(s, &c->n))) {
        free(c);
        return kl_seterr(KL_ENOMEM, "out of memory");
    }
    c->s = s;
    /* our own descriptor: a compaction meanwhile leaves this file intact */
    c->fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
    if (c->fd < 0) {
        rc = kl_seterrno(errno, "dup", s->path);
        free(c->v);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int kl__file_fa_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    fcur *c = cur;
    if (c->i >= c->n)
        return 0;
    slot *e = &c->v[c->i++];
    size_t got = 0;
    int rc = kl_buf_reserve(&c->buf, (size_t)e->len);
    if (!rc)
        rc = kl__fsio_pread(c->fd, c->buf.data, (size_t)e->len, (int64_t)e->off, &got, c->s->path);
    if (rc)
        return rc;
    rec r;
    if (got < e->len || !kl__file_rec_header(c->buf.data, &r) || r.len != e->len ||
        !kl__file_rec_body_ok(&r, c->buf.data + RHDR))
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: damaged", c->s->url,
                         (unsigned long long)e->off);
    kl_buf_reset(key);
    rc = kl_buf_append(key, c->buf.data + RHDR, r.klen);
    if (!rc && val) {
        kl_buf_reset(val);
        rc = kl_buf_append(val, c->buf.data + RHDR + r.klen, (size_t)r.vlen);
    }
    return rc ? rc : 1;
}

void kl__file_fa_iter_free(void *cur)
{
    fcur *c = cur;
    close(c->fd);
    free(c->v);
    kl_buf_free(&c->buf);
    free(c);
}
