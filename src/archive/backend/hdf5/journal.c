/* SPDX-License-Identifier: BSD-3-Clause */
/* The journal of an hdf5: archive: a file: log (records, index, locking,
 * catching up, verify: the file: backend's own code, not a copy) at
 * DIR/.BASE.journal.  See journal.h and docs/hdf5.md. */
#define _GNU_SOURCE
#include "archive/backend/hdf5/journal.h"

#include "archive/backend/file/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct kl__h5j {
    fa *f;          /* NULL: a reader whose journal does not exist (yet) */
    char *path, *dir, *url;
    char *aurl;     /* the archive's URL */
    int sync;
    unsigned mode;  /* bits of a new journal: the HDF5 file's */
    bool read_only;
    kl_buf rec;     /* a record read back */
};

/* An error of the file: code names the journal's path only: name the
 * archive too (a message that already does is left as it is). */
static int named(const kl__h5j *j, int rc)
{
    if (rc >= 0 || rc == KL_ENOTFOUND || strstr(kl_errmsg(), j->aurl))
        return rc;
    return kl_seterr_prefix(rc, "%s", j->url);
}

/* Open the log as file: does; KL_ENOTFOUND for a reader when it is missing. */
static int fa_attach(kl__h5j *j)
{
    fa *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->fd = -1;
    s->end = FHDR;
    s->autocompact = 0; /* folds empty it; never rewritten otherwise */
    s->read_only = j->read_only;
    s->sync = j->sync;
    s->mode = j->mode;
    int rc = 0;
    if (!(s->url = strdup(j->url)) || !(s->path = strdup(j->path)) || !(s->dir = strdup(j->dir)))
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    if (!rc)
        rc = kl__file_open_file(s, !j->read_only);
    if (!rc)
        rc = kl__file_scan(s);
    if (!rc && !s->read_only) /* a killed writer's torn append: as file: does */
        rc = kl__file_recover_tail(s);
    if (rc) {
        kl__file_fa_free(s);
        return named(j, rc);
    }
    j->f = s;
    return 0;
}

int kl__h5j_open(kl__h5j **out, const char *h5path, const char *url, int sync, bool read_only)
{
    kl__h5j *j = calloc(1, sizeof *j);
    if (!j)
        return kl_seterr(KL_ENOMEM, "out of memory");
    j->sync = sync;
    j->read_only = read_only;
    const char *slash = strrchr(h5path, '/');
    int rc = 0;
    if (!slash || asprintf(&j->path, "%.*s/.%s.journal", (int)(slash - h5path), h5path,
                           slash + 1) < 0) {
        j->path = NULL;
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    }
    if (!rc && (!(j->dir = strndup(h5path, slash == h5path ? 1 : (size_t)(slash - h5path))) ||
                !(j->aurl = strdup(url)) ||
                asprintf(&j->url, "%s (journal %s)", url, j->path) < 0)) {
        j->url = NULL;
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    }
    /* a new journal gets the file's permission bits: it holds its entries */
    struct stat st;
    if (!rc && !read_only && stat(h5path, &st) == 0)
        j->mode = st.st_mode & 0777;
    if (!rc) {
        rc = fa_attach(j);
        if (rc == KL_ENOTFOUND && read_only)
            rc = 0;
    }
    if (rc) {
        kl__h5j_close(j);
        return rc;
    }
    *out = j;
    return 0;
}

int kl__h5j_close(kl__h5j *j)
{
    if (!j)
        return 0;
    int rc = 0;
    if (j->f && !j->read_only && j->sync == KL_SYNC_FULL && fdatasync(j->f->fd) < 0)
        rc = kl_seterrno(errno, "fsync", j->path);
    kl__file_fa_free(j->f);
    kl_buf_free(&j->rec);
    free(j->path);
    free(j->dir);
    free(j->url);
    free(j->aurl);
    free(j);
    return rc;
}

int kl__h5j_refresh(kl__h5j *j)
{
    if (!j->f) {
        int rc = fa_attach(j);
        return rc == KL_ENOTFOUND ? 0 : rc;
    }
    return named(j, kl__file_refresh(j->f));
}

/* Read the record of slot e into j->rec and check it whole. */
static int read_slot(kl__h5j *j, const slot *e, rec *r)
{
    int rc = kl_buf_reserve(&j->rec, (size_t)e->len);
    size_t got = 0;
    if (!rc)
        rc = kl__fsio_pread(j->f->fd, j->rec.data, (size_t)e->len, (int64_t)e->off, &got,
                            j->path);
    if (rc)
        return rc;
    if (got < e->len || !kl__file_rec_header(j->rec.data, r) || r->len != e->len ||
        !kl__file_rec_body_ok(r, j->rec.data + RHDR))
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: damaged", j->url,
                         (unsigned long long)e->off);
    return 0;
}

int kl__h5j_lookup(kl__h5j *j, const void *key, size_t klen, kl_buf *val, int64_t *ns)
{
    if (!j->f)
        return KL_ENOTFOUND;
    uint64_t lo, hi;
    kl__file_key_hash(key, klen, &lo, &hi);
    slot *e = kl__file_tab_find(j->f, lo, hi, false);
    if (!e || e->off == TOMB_OFF)
        return KL_ENOTFOUND;
    rec r;
    int rc = read_slot(j, e, &r);
    if (rc)
        return named(j, rc);
    if (r.klen != klen || memcmp(j->rec.data + RHDR, key, klen))
        return KL_ENOTFOUND; /* another key, same hash */
    if (ns)
        *ns = r.ns;
    if (val) {
        kl_buf_reset(val);
        rc = kl_buf_append(val, j->rec.data + RHDR + klen, (size_t)r.vlen);
    }
    return rc;
}

int kl__h5j_put(kl__h5j *j, size_t n, const void *const *keys, const size_t *klens,
                const void *const *vals, const size_t *vlens)
{
    if (!j->f)
        return kl_seterr(KL_EPERM, "%s: opened read-only", j->url);
    kl_buf b = KL_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (klens[i] > UINT32_MAX || vlens[i] > (SIZE_MAX >> 2) - klens[i] - RHDR)
            rc = kl_seterr(KL_ETOOBIG, "%s: entry of %zu + %zu bytes too large", j->url,
                           klens[i], vlens[i]);
        else
            rc = kl__file_rec_build(&b, T_PUT, keys[i], klens[i], vals[i], vlens[i]);
    }
    /* appended straight away (never buffered, whatever sync says): other
     * processes see a put as soon as it returns */
    if (!rc && b.len)
        rc = kl__file_append(j->f, b.data, b.len);
    kl_buf_free(&b);
    return named(j, rc);
}

uint64_t kl__h5j_bytes(const kl__h5j *j)
{
    return j->f ? j->f->end - FHDR : 0;
}

size_t kl__h5j_count(const kl__h5j *j)
{
    return j->f ? j->f->count : 0;
}

int kl__h5j_lock(kl__h5j *j)
{
    if (!j->f)
        return kl_seterr(KL_EPERM, "%s: opened read-only", j->url);
    int rc = kl__file_lock_ex(j->f);
    if (!rc && (rc = kl__file_refresh(j->f)))
        kl__file_unlock(j->f);
    return named(j, rc);
}

void kl__h5j_unlock(kl__h5j *j)
{
    if (j->f)
        kl__file_unlock(j->f);
}

int kl__h5j_each(kl__h5j *j, kl__h5j_fn fn, void *arg)
{
    if (!j->f || !j->f->count)
        return 0;
    size_t n = 0;
    slot *v = kl__file_live_sorted(j->f, &n);
    if (!v)
        return kl_seterr(KL_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rec r;
        if (!(rc = read_slot(j, &v[i], &r)))
            rc = fn(arg, j->rec.data + RHDR, r.klen, j->rec.data + RHDR + r.klen, (size_t)r.vlen,
                    r.ns);
    }
    free(v);
    return named(j, rc);
}

bool kl__h5j_has_hash(kl__h5j *j, uint64_t lo, uint64_t hi)
{
    if (!j->f || !j->f->count)
        return false;
    slot *e = kl__file_tab_find(j->f, lo, hi, false);
    return e && e->off != TOMB_OFF;
}

int kl__h5j_clear_locked(kl__h5j *j)
{
    if (!j->f || j->f->end == FHDR)
        return 0;
    return named(j, kl__file_compact_locked(j->f, true));
}

int kl__h5j_verify(kl__h5j *j, bool repair, kl_buf *report, size_t *problems)
{
    *problems = 0;
    int rc = kl__h5j_refresh(j);
    if (rc || !j->f)
        return rc;
    if (j->read_only && repair)
        return kl_seterr(KL_EPERM, "%s: opened read-only", j->url);
    /* under the lock no append is in progress: bytes after the last whole
     * record are a torn append (of a writer killed or out of space), never
     * acknowledged and never folded: file:'s verify reports and counts
     * them, and with repair cuts them off */
    if ((rc = kl__file_lock_ex(j->f)))
        return rc;
    j->f->no_cut = true;
    rc = kl__file_refresh(j->f);
    j->f->no_cut = false;
    if (!rc)
        rc = kl__file_fa_verify(j->f, repair, report, problems);
    kl__file_unlock(j->f);
    return named(j, rc);
}

int kl__h5j_drop(kl__h5j *j)
{
    if (!j->f)
        return 0;
    return named(j, kl__file_fa_drop(j->f));
}
