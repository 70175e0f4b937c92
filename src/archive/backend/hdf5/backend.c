/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5: — one HDF5 file, one dataset per entry (klepto's hdf_archive).
 *
 * Layout (docs/hdf5.md): the root group carries klepto_format = "klepto
 * hdf5" and klepto_format_version; each entry is a dataset in the root
 * group named by the 32-hex-digit XXH3-128 of its key (any key makes a
 * valid link name), a typed numeric array natively and anything else as
 * its CBOR bytes (h5common.c), so h5py.File(p)[name][...] reads it.
 *
 * Writes never change the file named PATH in place: each is a
 * transaction on a copy that then replaces it (txn.c, which says why), or
 * a record in the journal beside it (journal.c) folded into the file
 * later; write.c has the operations, repair.c verify and salvage. */
#define _GNU_SOURCE
#include "archive/backend/hdf5/hdf5.h"
#include "archive/backend/hdf5/journal.h"
#include "archive/tarray.h"
#include "archive/util/fsio.h"
#include "archive/util/h5common.h"
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading: the snapshot --------------------------------------------- */

static void snap_close(h5_state *s)
{
    if (s->snap >= 0)
        H5Fclose(s->snap);
    s->snap = -1;
    s->snapfd = -1;
    H5Eclear2(H5E_DEFAULT);
}

/* Open `path` read-only and check it is one of ours. */
int kl__h5a_open_ro(h5_state *s, hid_t *out)
{
    hid_t f = H5Fopen(s->path, H5F_ACC_RDONLY, s->fapl_ro);
    if (f < 0) {
        int err = kl__h5_errno();
        if (err == ENOENT)
            return kl__h5_fail(KL_ENOTFOUND, "%s: file %s is gone", s->url, s->path);
        if (err == EAGAIN || err == EWOULDBLOCK)
            return kl__h5_fail(KL_EBUSY, "%s: %s is locked by another HDF5 program writing it",
                               s->url, s->path);
        if (err)
            return kl__h5_fail(0, "%s: open %s", s->url, s->path);
        return kl__h5_fail(KL_ECORRUPT, "%s: %s is not a readable HDF5 file", s->url, s->path);
    }
    int rc = kl__h5_check_mark(f, FORMAT, s->url);
    if (rc) {
        H5Fclose(f);
        H5Eclear2(H5E_DEFAULT);
        return rc;
    }
    *out = f;
    return 0;
}

/* The read handle of the file PATH names now. */
int kl__h5a_snapshot(h5_state *s, hid_t *out)
{
    struct stat st;
    if (stat(s->path, &st) < 0) {
        snap_close(s);
        if (errno == ENOENT)
            return kl_seterr(KL_ENOTFOUND, "%s: file %s is gone", s->url, s->path);
        return kl_seterrno(errno, "stat", s->path);
    }
    if (s->snap >= 0 && st.st_dev == s->dev && st.st_ino == s->ino) {
        *out = s->snap;
        return 0;
    }
    snap_close(s);
    /* HDF5 would block opening a FIFO put there */
    if (!S_ISREG(st.st_mode))
        return kl_seterr(KL_ECORRUPT, "%s: %s is no longer a regular file", s->url, s->path);
    if (st.st_size == 0)
        return kl_seterr(KL_ECORRUPT, "%s: %s is empty, not an archive", s->url, s->path);
    hid_t f;
    int rc = kl__h5a_open_ro(s, &f);
    if (rc)
        return rc;
    /* remember the inode actually opened, not the one stat saw */
    int fd = kl__h5_file_fd(f, s->fapl_ro);
    if (fd < 0 || fstat(fd, &st) < 0) {
        H5Fclose(f);
        return kl_seterr(KL_EIO, "%s: no file descriptor for %s", s->url, s->path);
    }
    s->snap = f;
    s->snapfd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    *out = f;
    return 0;
}

/* The entry of `key` in file f: KL_ENOTFOUND when absent or another
 * key's (a hash collision is a miss, never a wrong value). */
int kl__h5a_find(h5_state *s, hid_t f, const void *key, size_t klen, kl__h5_entry *e)
{
    char name[KL_H5_NAME_HEX + 1];
    kl__h5_entry_name(key, klen, name);
    int rc = kl__h5_entry_open(f, name, &s->key, e, s->url);
    if (!rc && !kl__h5_is_key(&s->key, key, klen)) {
        kl__h5_entry_close(e);
        rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
    }
    return rc;
}

/* What `want` asks of the journal's entry of key: KL_ENOTFOUND when the
 * journal has none. */
static int journal_answer(h5_state *s, const void *key, size_t klen, kl__h5_want want, void *out)
{
    int rc = kl__h5j_refresh(s->jr);
    if (rc)
        return rc;
    if (want == KL_H5_PRESENT) {
        rc = kl__h5j_lookup(s->jr, key, klen, NULL, NULL);
        return rc ? rc : 1;
    }
    kl_buf v = KL_BUF_INIT;
    int64_t ns = 0;
    rc = kl__h5j_lookup(s->jr, key, klen, &v, &ns);
    if (!rc && want == KL_H5_VALUE) {
        kl_buf *val = out;
        kl_buf_reset(val);
        rc = kl_buf_append(val, v.data, v.len);
        kl_buf_free(&v);
        return rc;
    }
    if (!rc && want == KL_H5_INFO) {
        kl_entry_info *info = out;
        info->stored_ns = ns;
        info->size = klen + v.len;
    } else if (!rc && want == KL_H5_VIEW) {
        kl__tarray ta;
        if (!kl__tarray_parse(v.data, v.len, &ta))
            rc = kl_seterr(KL_ETYPE, "%s: the value is not a typed numeric array", s->url);
        else if (!(rc = kl__view_from_copy(out, v.data, v.len, &ta)))
            v.data = NULL;
    }
    kl_buf_free(&v);
    return rc;
}

/* A keyed read: what `want` asks of the entry of `key` (h5common.h). */
static int read_key(h5_state *s, const void *key, size_t klen, kl__h5_want want, void *out)
{
    hid_t f;
    kl__h5_entry e;
    kl__h5_enter();
    /* the journal first: a fold renames the new file into place before it
     * empties the journal, so what is not there now is in the file below */
    int rc = journal_answer(s, key, klen, want, out);
    if (rc != KL_ENOTFOUND) {
        kl__h5_leave();
        return rc;
    }
    rc = kl__h5a_snapshot(s, &f);
    if (!rc)
        rc = kl__h5a_find(s, f, key, klen, &e);
    if (!rc) {
        rc = kl__h5_entry_answer(&e, want, klen, s->snapfd, out);
        kl__h5_entry_close(&e);
    }
    H5Eclear2(H5E_DEFAULT);
    kl__h5_leave();
    return rc;
}

static int h5_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    return read_key(state, key, klen, KL_H5_VALUE, val);
}

static int h5_contains(void *state, const void *key, size_t klen)
{
    int rc = read_key(state, key, klen, KL_H5_PRESENT, NULL);
    return rc == KL_ENOTFOUND ? 0 : rc;
}

static int h5_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    return read_key(state, key, klen, KL_H5_INFO, out);
}

static int h5_get_view(void *state, const void *key, size_t klen, kl_view **out)
{
    return read_key(state, key, klen, KL_H5_VIEW, out);
}

typedef struct count_args {
    hid_t f;
    size_t n;
} count_args;

static int count_new(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                     int64_t ns)
{
    (void)val, (void)vlen, (void)ns;
    count_args *a = arg;
    char name[KL_H5_NAME_HEX + 1];
    kl__h5_entry_name(key, klen, name);
    a->n += H5Lexists(a->f, name, H5P_DEFAULT) <= 0;
    return 0;
}

/* The file's entries and the journal's that the file does not have. */
static int h5_count(void *state, size_t *out)
{
    h5_state *s = state;
    count_args a = {-1, 0};
    H5G_info_t gi;
    kl__h5_enter();
    int rc = kl__h5j_refresh(s->jr);
    if (!rc)
        rc = kl__h5a_snapshot(s, &a.f);
    if (!rc && H5Gget_info(a.f, &gi) < 0)
        rc = kl__h5_fail(KL_ECORRUPT, "%s: read the root group", s->url);
    if (!rc)
        rc = kl__h5j_each(s->jr, count_new, &a);
    H5Eclear2(H5E_DEFAULT);
    kl__h5_leave();
    if (!rc)
        *out = (size_t)gi.nlinks + a.n;
    return rc;
}

/* ---- iteration --------------------------------------------------------- */

typedef struct hcur {
    h5_state *s;
    hid_t f; /* its own snapshot: iteration sees one version of the file */
    kl_buf names;
    size_t off;
    kl_buf jents; /* the journal's entries: klen, vlen (size_t each), key, value */
    size_t joff;
    kl_buf jnames; /* their names, sorted, 33 bytes each: skipped in the file */
} hcur;

static int keep_entry(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                      int64_t ns)
{
    (void)ns;
    hcur *c = arg;
    size_t lens[2] = {klen, vlen};
    char name[KL_H5_NAME_HEX + 1];
    kl__h5_entry_name(key, klen, name);
    int rc = kl_buf_append(&c->jents, lens, sizeof lens);
    if (!rc)
        rc = kl_buf_append(&c->jents, key, klen);
    if (!rc)
        rc = kl_buf_append(&c->jents, val, vlen);
    if (!rc)
        rc = kl_buf_append(&c->jnames, name, sizeof name);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool in_journal(const hcur *c, const char *name)
{
    return c->jnames.len && bsearch(name, c->jnames.data, c->jnames.len / (KL_H5_NAME_HEX + 1),
                                    KL_H5_NAME_HEX + 1, cmp_name);
}

static int h5_iter_new(void *state, void **out)
{
    h5_state *s = state;
    hcur *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "out of memory");
    c->s = s;
    c->f = -1;
    kl__h5_enter();
    /* the journal before the file, as for reads */
    int rc = kl__h5j_refresh(s->jr);
    if (!rc)
        rc = kl__h5j_each(s->jr, keep_entry, c);
    if (!rc && c->jnames.len)
        qsort(c->jnames.data, c->jnames.len / (KL_H5_NAME_HEX + 1), KL_H5_NAME_HEX + 1, cmp_name);
    if (!rc)
        rc = kl__h5a_open_ro(s, &c->f);
    if (!rc && (rc = kl__h5a_list_names(s, c->f, &c->names)))
        H5Fclose(c->f);
    kl__h5_leave();
    if (rc) {
        kl_buf_free(&c->names);
        kl_buf_free(&c->jents);
        kl_buf_free(&c->jnames);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int h5_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    hcur *c = cur;
    if (c->joff < c->jents.len) {
        size_t lens[2];
        memcpy(lens, c->jents.data + c->joff, sizeof lens);
        const uint8_t *p = c->jents.data + c->joff + sizeof lens;
        c->joff += sizeof lens + lens[0] + lens[1];
        kl_buf_reset(key);
        int rc = kl_buf_append(key, p, lens[0]);
        if (!rc && val) {
            kl_buf_reset(val);
            rc = kl_buf_append(val, p + lens[0], lens[1]);
        }
        return rc ? rc : 1;
    }
    const char *name;
    do {
        if (c->off >= c->names.len)
            return 0;
        name = (const char *)c->names.data + c->off;
        c->off += KL_H5_NAME_HEX + 1;
    } while (in_journal(c, name));
    kl__h5_entry e;
    kl__h5_enter();
    int rc = kl__h5_entry_open(c->f, name, key, &e, c->s->url);
    if (!rc && val)
        rc = kl__h5_entry_value(&e, val);
    if (e.dset >= 0)
        kl__h5_entry_close(&e);
    kl__h5_leave();
    return rc ? rc : 1;
}

static void h5_iter_free(void *cur)
{
    hcur *c = cur;
    kl__h5_enter();
    H5Fclose(c->f);
    H5Eclear2(H5E_DEFAULT);
    kl__h5_leave();
    kl_buf_free(&c->names);
    kl_buf_free(&c->jents);
    kl_buf_free(&c->jnames);
    free(c);
}

/* ---- open / close / drop ----------------------------------------------- */

static void h5_free(h5_state *s)
{
    kl__h5j_close(s->jr);
    kl__h5_enter();
    snap_close(s);
    if (s->fapl_ro >= 0)
        H5Pclose(s->fapl_ro);
    if (s->fapl_rw >= 0)
        H5Pclose(s->fapl_rw);
    kl__h5_leave();
    kl_buf_free(&s->key);
    free(s->url);
    free(s->path);
    free(s->dir);
    free(s->base);
    free(s);
}

static int h5_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    if (!*url->rest)
        return kl_seterr(KL_EINVAL, "%s: hdf5: needs a file path (hdf5:PATH)", url->full);
    h5_state *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->snap = s->fapl_ro = s->fapl_rw = -1;
    s->snapfd = -1;
    s->pid = getpid();
    s->create = opts->create && !opts->read_only;
    s->read_only = opts->read_only;
    int rc = 0;
    if (!(s->url = strdup(url->full)) || !(s->path = kl__abs_path(url->rest)))
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    if (!rc) {
        char *slash = strrchr(s->path, '/');
        s->dir = slash == s->path ? strdup("/") : strndup(s->path, (size_t)(slash - s->path));
        s->base = strdup(slash + 1);
        if (!s->dir || !s->base)
            rc = kl_seterr(KL_ENOMEM, "out of memory");
        else if (!*s->base)
            rc = kl_seterr(KL_EINVAL, "%s: hdf5: needs a file path, not a folder", url->full);
    }
    if (!rc)
        rc = kl_url_sync_mode(url, &s->sync);
    if (!rc)
        rc = kl_url_file_mode(url, &s->mode);
    s->fold_min = FOLD_MIN;
    if (!rc)
        rc = kl_url_uint(url, "journal_max", 0, UINT64_MAX, &s->fold_min);
    kl__h5_enter();
    if (!rc) {
        s->fapl_ro = kl__h5_fapl(true);
        /* temporary files are private to their writer */
        s->fapl_rw = kl__h5_fapl(false);
        if (s->fapl_ro < 0 || s->fapl_rw < 0)
            rc = kl__h5_fail(0, "%s: HDF5 file properties", url->full);
    }
    struct stat st;
    if (!rc && stat(s->path, &st) < 0) {
        if (errno != ENOENT)
            rc =
                kl_seterr(kl__errno_code(errno), "%s: %s: %s", url->full, s->path, strerror(errno));
        else if (!s->create)
            rc = kl_seterr(KL_ENOTFOUND, "%s: file %s does not exist", url->full, s->path);
        else if ((rc = kl__fsio_mkdirs(s->dir, kl_url_folder_mode(s->mode))))
            kl_seterr_prefix(rc, "%s", url->full);
        else
            rc = kl__h5a_create_file(s);
        if (!rc && stat(s->path, &st) < 0)
            rc = kl_seterrno(errno, "stat", s->path);
    }
    if (!rc && !S_ISREG(st.st_mode))
        rc = kl_seterr(KL_EINVAL, "%s: %s is not a regular file", url->full, s->path);
    if (!rc && !opts->read_only &&
        (access(s->path, R_OK | W_OK) < 0 || access(s->dir, W_OK | X_OK) < 0))
        rc = kl_seterr(KL_EPERM, "%s: %s is not writable (the file and its folder must be): %s",
                       url->full, s->path, strerror(errno));
    if (!rc)
        rc = kl__h5j_open(&s->jr, s->path, s->url, s->sync, opts->read_only);
    /* an empty file (made by mktemp, say) becomes an archive */
    if (!rc && st.st_size == 0 && !opts->read_only)
        rc = kl__h5a_txn(s, TXN_FRESH, NULL, NULL);
    hid_t f;
    if (!rc)
        rc = kl__h5a_snapshot(s, &f);
    /* a damaged file of ours opens (its reads fail) so that verify can
     * say what is left and --repair salvage it (repair.c) */
    if (rc == KL_ECORRUPT && kl__h5_damaged_ours(s->path))
        rc = 0;
    kl__h5_leave();
    if (rc) {
        h5_free(s);
        return rc;
    }
    *state = s;
    return 0;
}

/* A writer folds its journal at close into a file of up to CLOSE_FOLD_MAX
 * bytes, and into a bigger one once the journal holds an eighth of its
 * size: the file then holds every entry for other HDF5 readers, and a
 * close costs a copy of a big file only once the puts have paid for it
 * in proportion.  That fold is an offer, not a duty: when
 * it fails (a full disk) the entries stay in the journal, where every
 * klepto reader finds them and the next writer folds them, so the close
 * itself succeeds; kl_archive_compact reports such a failure. */
static int h5_close(void *state)
{
    h5_state *s = state;
    kl__fsio_beside_lock(&s->cleaner, s->path, 0, s->url, false);
    if (!s->read_only && !s->dropped) {
        kl__h5_enter();
        if (!kl__h5j_refresh(s->jr) && kl__h5a_fold_due(s, 8))
            (void)kl__h5a_txn(s, TXN_COPY, NULL, NULL);
        kl__h5_leave();
    }
    h5_free(s);
    return 0;
}

static int h5_drop(void *state)
{
    h5_state *s = state;
    int lockfd;
    struct stat st;
    kl__h5_enter();
    snap_close(s);
    int rc = kl__h5a_lock_current(s, &lockfd, &st);
    if (!rc) {
        kl__fsio_beside_lock_remove(s->path);
        if (unlink(s->path) < 0)
            rc = kl_seterr(kl__errno_code(errno), "%s: delete %s: %s", s->url, s->path,
                           strerror(errno));
        if (!rc)
            rc = kl__h5j_drop(s->jr);
        s->dropped = true;
        close(lockfd);
    }
    kl__h5_leave();
    return rc;
}

static int h5_describe(void *state, kl_buf *out)
{
    h5_state *s = state;
    static const char *const modes[] = {"none", "normal", "full"};
    unsigned maj = 0, min = 0, rel = 0;
    uint64_t garbage = 0;
    struct stat st = {0};
    kl__h5_enter();
    kl__h5j_refresh(s->jr);
    H5get_libversion(&maj, &min, &rel);
    hid_t f;
    if (!kl__h5a_snapshot(s, &f)) {
        fstat(s->snapfd, &st);
        if (H5Aexists(f, GARBAGE_ATTR) > 0) {
            hid_t a = H5Aopen(f, GARBAGE_ATTR, H5P_DEFAULT);
            if (a >= 0) {
                H5Aread(a, H5T_NATIVE_UINT64, &garbage);
                H5Aclose(a);
            }
        }
    }
    H5Eclear2(H5E_DEFAULT);
    kl__h5_leave();
    return kl_buf_printf(out,
                         "format_version=%d\nhdf5_library=%u.%u.%u\nsync=%s\nfile_bytes=%llu\n"
                         "garbage_bytes=%llu\njournal_bytes=%llu\njournal_entries=%zu\n",
                         KL_H5_VERSION, maj, min, rel, modes[s->sync],
                         (unsigned long long)st.st_size, (unsigned long long)garbage,
                         (unsigned long long)kl__h5j_bytes(s->jr), kl__h5j_count(s->jr));
}

/* The HDF5 file's blocks and its journal's. */
static int h5_storage_bytes(void *state, uint64_t *out)
{
    h5_state *s = state;
    *out = 0;
    int rc = kl__fsio_add_blocks(s->path, out);
    if (!rc)
        *out += kl__h5j_bytes(s->jr);
    return rc ? kl_seterr_prefix(rc, "%s", s->url) : 0;
}

static int h5_cleaner_lock(void *state, bool take)
{
    h5_state *s = state;
    return kl__fsio_beside_lock(&s->cleaner, s->path, s->mode, s->url, take);
}

const kl_archive_backend kl__backend_hdf5 = {
    .version = KL_BACKEND_VERSION,
    .scheme = "hdf5",
    .flags = 0,
    .open = h5_open,
    .close = h5_close,
    .get = h5_get,
    .put = kl__h5a_put,
    .del = kl__h5a_del,
    .del_many = kl__h5a_del_many,
    .contains = h5_contains,
    .count = h5_count,
    .stat = h5_stat,
    .clear = kl__h5a_clear,
    .sync = kl__h5a_sync,
    .drop = h5_drop,
    .put_many = kl__h5a_put_many,
    .describe = h5_describe,
    .iter_new = h5_iter_new,
    .iter_next = h5_iter_next,
    .iter_free = h5_iter_free,
    .get_view = h5_get_view,
    .verify = kl__h5_verify,
    .compact = kl__h5a_compact,
    .storage_bytes = h5_storage_bytes,
    .cleaner_lock = h5_cleaner_lock,
};

/* ---- for repair.c (hdf5.h) ---------------------------------------------- */

void kl__h5a_info_of(h5_state *s, kl__h5a_info *out)
{
    *out = (kl__h5a_info){s->url, s->path, s->dir, s->base, s->jr, &s->key, s->fapl_ro, s->fapl_rw};
}
