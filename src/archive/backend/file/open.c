/* SPDX-License-Identifier: BSD-3-Clause */
/* file: open, close and drop.  See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"

#include <signal.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/stat.h>

void kl__file_fa_free(fa *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->tab);
    kl_buf_free(&s->pend);
    kl_buf_free(&s->rbuf);
    free(s->url);
    free(s->path);
    free(s->dir);
    free(s);
}

/* Recovery, as SQLite rolls back a hot journal: a writer that opens a
 * file ending in a write cut short (a killed writer's append) cuts it off
 * at once, under the lock (no append is in progress then), as its first
 * append would; verify says so.  A damaged last record is left for verify
 * to count, and a read-only handle leaves any tail: verify counts it as a
 * problem. */
int kl__file_recover_tail(fa *s)
{
    struct stat st;
    if (fstat(s->fd, &st) < 0 || (uint64_t)st.st_size <= s->end)
        return 0;
    int rc = kl__file_lock_ex(s);
    if (rc)
        return rc;
    s->no_cut = true;
    rc = kl__file_scan(s);
    s->no_cut = false;
    if (!rc && fstat(s->fd, &st) < 0)
        rc = kl_seterrno(errno, "stat", s->path);
    int kind = rc ? 0 : kl__file_tail_kind(s, (uint64_t)st.st_size);
    if (kind < 0)
        rc = kind;
    if (kind == 1) {
        if (ftruncate(s->fd, (off_t)s->end) < 0) {
            rc = kl_seterrno(errno, "cut off an incomplete record", s->path);
        } else {
            s->recovered = (uint64_t)st.st_size - s->end;
            s->recovered_at = s->end;
        }
    }
    kl__file_unlock(s);
    return rc;
}

int kl__file_fa_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    if (!*url->rest)
        return kl_seterr(KL_EINVAL, "%s: file: needs a path (file:PATH)", url->full);
    fa *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->fd = -1;
    s->end = FHDR;
    s->autocompact = 0.5;
    s->read_only = opts->read_only;
    int rc = 0;
    char *d = NULL;
    if (!(s->url = strdup(url->full)) || !(s->path = kl__abs_path(url->rest)) ||
        !(d = strdup(s->path)) || !(s->dir = strdup(dirname(d))))
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    free(d);
    if (!rc)
        rc = kl_url_sync_mode(url, &s->sync);
    if (!rc)
        rc = kl_url_double(url, "autocompact", 0, 1, &s->autocompact);
    if (!rc)
        rc = kl_url_file_mode(url, &s->mode);
    bool create = opts->create && !opts->read_only;
    if (!rc && create && access(s->dir, F_OK) < 0)
        if ((rc = kl__fsio_mkdirs(s->dir, kl_url_folder_mode(s->mode))))
            kl_seterr_prefix(rc, "%s", url->full);
    if (!rc)
        rc = kl__file_open_file(s, create);
    if (!rc)
        rc = kl__file_scan(s);
    if (!rc && !s->read_only)
        rc = kl__file_recover_tail(s);
    if (rc) {
        kl__file_fa_free(s);
        return rc;
    }
    *state = s;
    return 0;
}

int kl__file_fa_close(void *state)
{
    fa *s = state;
    int rc = s->read_only ? 0 : kl__file_fa_sync(s);
    kl__fsio_beside_lock(&s->cleaner, s->path, 0, s->url, false);
    kl__file_fa_free(s);
    return rc;
}

int kl__file_fa_drop(void *state)
{
    fa *s = state;
    kl_buf_reset(&s->pend);
    kl__fsio_beside_lock_remove(s->path);
    if (unlink(s->path) < 0 && errno != ENOENT)
        return kl_seterr(kl__errno_code(errno), "%s: delete %s: %s", s->url, s->path,
                         strerror(errno));
    /* readers still holding the file learn it is gone */
    kl_buf mv = KL_BUF_INIT;
    if (!s->read_only && !kl__file_rec_build(&mv, T_MOVED, "", 0, "", 0) && !kl__file_lock_ex(s)) {
        kl__file_scan(s);
        kl__fsio_pwrite(s->fd, mv.data, mv.len, (int64_t)s->end, s->path);
        kl__file_unlock(s);
    }
    kl_buf_free(&mv);
    s->read_only = true; /* nothing to flush at close */
    return 0;
}
