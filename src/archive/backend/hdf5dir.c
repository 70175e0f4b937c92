/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5dir: — a folder of HDF5 files, one per entry (klepto's
 * hdfdir_archive).
 *
 * Layout (docs/hdf5.md): PATH/klepto-hdf5dir.meta marks the folder;
 * an entry lives in SHARD/NAME.h5 where NAME is the 32-hex-digit XXH3-128
 * of the key bytes and SHARD its first two digits, so no key ever becomes
 * a path.  Each entry file is a complete HDF5 file with one dataset,
 * "value" (a typed numeric array natively, anything else as its CBOR
 * bytes; see h5common.c), that any HDF5 reader opens on its own.
 *
 * Why this is safe for many processes without locks: an entry file is
 * written under a temporary name in its shard and renamed over the entry,
 * and no file is ever modified once it has its name.  Readers open the
 * old or the new file, never a mix; a crash mid-write leaves only a
 * temporary file (never visible; verify --repair removes it once its
 * writer is gone).  HDF5 itself never sees two writers of one file.  The
 * same immutability makes mapped views safe: a view maps the inode it
 * opened, which a later replace leaves intact.
 *
 * Cost: an HDF5 file per entry is about 2 KB of overhead and an HDF5 open
 * and close per operation (tens of microseconds); hdf5: packs entries
 * tighter but pays a copy of its file per write.  ?sync= as for dir:
 * (none / normal: kl_archive_sync() flushes the file system / full: every
 * entry file and its folder fsynced before put returns).  The folder
 * machinery is keyfolder.c, shared with dir:. */
#define _GNU_SOURCE
#include "archive/util/fsio.h"
#include "archive/util/h5common.h"
#include "archive/util/keyfolder.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "klepto hdf5dir entry"
#define DSET "value"

static const kl__keyfolder_layout layout = {
    .scheme = "hdf5dir",
    .marker = "klepto-hdf5dir.meta",
    .magic = "KLEPTOHD",
    .version = KL_H5_VERSION,
    .suffix = ".h5",
};

typedef struct hd_state {
    kl__keyfolder kf;
    hid_t fapl;
    char *path;      /* scratch: root + "/" + a relative name */
    size_t rootlen;
    char where[700]; /* scratch: "URL: REL" for messages */
    kl_buf key;
} hd_state;

static void rel_name(hd_state *s, const void *key, size_t klen, char out[KL_KEYFOLDER_REL_MAX])
{
    kl__keyfolder_rel(&s->kf, key, klen, out);
}

static const char *full_path(hd_state *s, const char *rel)
{
    snprintf(s->path + s->rootlen, 80, "/%s", rel);
    return s->path;
}

static const char *where(hd_state *s, const char *rel)
{
    snprintf(s->where, sizeof s->where, "%s: %s", s->kf.url, rel);
    return s->where;
}

/* ---- reading an entry file --------------------------------------------- */

/* Open entry file `rel` and its dataset; the stored key into s->key.
 * KL_ENOTFOUND when there is no such file. */
static int open_entry(hd_state *s, const char *rel, hid_t *file, kl__h5_entry *e)
{
    e->dset = -1;
    const char *w = where(s, rel);
    int rc;
    hid_t f = -1;
    /* HDF5 opens the file and then looks its name up again (an lstat, its
     * message without errno: "can't retrieve stat info for file"): another
     * process deleting or replacing the entry in between fails the open.
     * The name gone afterwards: the entry was deleted, not found; another
     * file under the name: it was replaced, open that one. */
    for (int attempt = 0; f < 0; attempt++) {
        /* HDF5 opens by path, blocking on a FIFO: what is there is checked
         * first (a FIFO, a folder, ... is a damaged entry of this key) */
        if ((rc = kl__keyfolder_check_file(&s->kf, rel)))
            return rc;
        struct stat before, after;
        bool had = lstat(full_path(s, rel), &before) == 0;
        f = H5Fopen(full_path(s, rel), H5F_ACC_RDONLY, s->fapl);
        if (f >= 0)
            break;
        int err = kl__h5_errno();
        if (!err) {
            bool has = lstat(full_path(s, rel), &after) == 0;
            if (!has && errno == ENOENT)
                err = ENOENT;
            else if (has && had && attempt < 8 &&
                     (after.st_ino != before.st_ino || after.st_dev != before.st_dev ||
                      after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
                      after.st_ctim.tv_nsec != before.st_ctim.tv_nsec)) {
                H5Eclear2(H5E_DEFAULT);
                continue;
            }
        }
        if (err == ENOENT) {
            H5Eclear2(H5E_DEFAULT);
            return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->kf.url);
        }
        return kl__h5_fail(err ? 0 : KL_ECORRUPT, "%s: open", w);
    }
    rc = kl__h5_check_mark(f, FORMAT, w);
    if (!rc)
        rc = kl__h5_entry_open(f, DSET, &s->key, e, w);
    if (rc == KL_ENOTFOUND)
        rc = kl_seterr(KL_ECORRUPT, "%s: no dataset \"" DSET "\"", w);
    if (rc) {
        H5Fclose(f);
        return rc;
    }
    *file = f;
    return 0;
}

static void close_entry(hid_t file, kl__h5_entry *e)
{
    kl__h5_entry_close(e);
    H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
}

/* The entry of `key`: KL_ENOTFOUND when absent or another key's. */
static int find(hd_state *s, const void *key, size_t klen, char rel[KL_KEYFOLDER_REL_MAX],
                hid_t *file, kl__h5_entry *e)
{
    rel_name(s, key, klen, rel);
    int rc = open_entry(s, rel, file, e);
    if (!rc && !kl__h5_is_key(&s->key, key, klen)) {
        close_entry(*file, e);
        rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->kf.url);
    }
    return rc;
}

/* A keyed read: what `want` asks of the entry of `key` (h5common.h). */
static int read_key(hd_state *s, const void *key, size_t klen, kl__h5_want want, void *out)
{
    char rel[KL_KEYFOLDER_REL_MAX];
    hid_t f;
    kl__h5_entry e;
    kl__h5_enter();
    int rc = find(s, key, klen, rel, &f, &e);
    if (!rc) {
        int fd = want == KL_H5_VIEW ? kl__h5_file_fd(f, s->fapl) : -1;
        rc = kl__h5_entry_answer(&e, want, klen, fd, out);
        close_entry(f, &e);
    }
    kl__h5_leave();
    return rc;
}

static int hd_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    return read_key(state, key, klen, KL_H5_VALUE, val);
}

static int hd_contains(void *state, const void *key, size_t klen)
{
    int rc = read_key(state, key, klen, KL_H5_PRESENT, NULL);
    return rc == KL_ENOTFOUND ? 0 : rc;
}

static int hd_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    return read_key(state, key, klen, KL_H5_INFO, out);
}

static int hd_get_view(void *state, const void *key, size_t klen, kl_view **out)
{
    return read_key(state, key, klen, KL_H5_VIEW, out);
}

/* ---- writing ----------------------------------------------------------- */

static int create_tmp(kl__keyfolder *kf, const char *tmp, void *arg)
{
    hd_state *s = (hd_state *)kf; /* kf is its first member */
    hid_t *f = arg;
    *f = H5Fcreate(full_path(s, tmp), H5F_ACC_EXCL, H5P_DEFAULT, s->fapl);
    if (*f >= 0)
        return 0;
    int err = kl__h5_errno();
    if (err == ENOENT || err == EEXIST) {
        H5Eclear2(H5E_DEFAULT);
        return err;
    }
    return kl__h5_fail(0, "%s: create %s", kf->url, tmp);
}

static int hd_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    hd_state *s = state;
    char rel[KL_KEYFOLDER_REL_MAX], tmp[KL_KEYFOLDER_TMP_MAX];
    rel_name(s, key, klen, rel);
    kl__h5_enter();
    hid_t f = -1;
    bool new_shard;
    int rc = kl__keyfolder_create_tmp(&s->kf, rel, tmp, create_tmp, &f, &new_shard);
    if (rc) {
        kl__h5_leave();
        return rc;
    }
    const char *w = where(s, rel);
    rc = kl__h5_mark(f, FORMAT, w);
    if (!rc)
        rc = kl__h5_entry_write(f, DSET, key, klen, val, vlen, kl__now_ns(), w);
    if (!rc && s->kf.sync == KL_SYNC_FULL) {
        int fd = kl__h5_file_fd(f, s->fapl);
        if (H5Fflush(f, H5F_SCOPE_LOCAL) < 0)
            rc = kl__h5_fail(0, "%s: flush", w);
        else if (fd >= 0 && fdatasync(fd) < 0)
            rc = kl_seterrno(errno, "fsync", full_path(s, tmp));
    }
    rc = kl__h5_close_written(f, s->fapl, rc, w);
    kl__h5_leave();
    if (rc) {
        unlinkat(s->kf.rootfd, tmp, 0);
        return rc;
    }
    return kl__keyfolder_commit(&s->kf, tmp, rel, new_shard);
}

static int hd_del(void *state, const void *key, size_t klen)
{
    hd_state *s = state;
    char rel[KL_KEYFOLDER_REL_MAX];
    hid_t f;
    kl__h5_entry e;
    kl__h5_enter();
    rel_name(s, key, klen, rel);
    int rc = open_entry(s, rel, &f, &e);
    if (!rc) {
        bool mine = kl__h5_is_key(&s->key, key, klen);
        close_entry(f, &e);
        if (!mine)
            rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->kf.url);
    } else if (rc == KL_ECORRUPT) {
        /* a damaged file at this key's name is deleted too: the name says
         * whose it is, whatever the damage */
        rc = 0;
    }
    kl__h5_leave();
    if (rc)
        return rc;
    return kl__keyfolder_unlink(&s->kf, rel);
}

static int hd_sync(void *state)
{
    hd_state *s = state;
    if (s->kf.sync == KL_SYNC_NORMAL && syncfs(s->kf.rootfd) < 0)
        return kl_seterrno(errno, "syncfs", s->kf.root);
    return 0;
}

static int hd_count(void *state, size_t *out)
{
    hd_state *s = state;
    return kl__keyfolder_count(&s->kf, out);
}

static int hd_clear(void *state)
{
    hd_state *s = state;
    return kl__keyfolder_clear(&s->kf);
}

/* ---- verify ------------------------------------------------------------ */

/* 1 when entry rel is damaged (or unreadable); a newer format is not
 * damage. */
static int check_entry(kl__keyfolder *kf, const char *rel, void *val)
{
    hd_state *s = (hd_state *)kf; /* kf is its first member */
    hid_t f;
    kl__h5_entry e;
    kl__h5_enter();
    int rc = open_entry(s, rel, &f, &e);
    if (!rc) {
        int64_t ns;
        rc = kl__h5_entry_value(&e, val);
        if (!rc)
            rc = kl__h5_entry_stored_ns(&e, &ns);
        if (!rc)
            rc = kl__keyfolder_check_name(kf, rel, s->key.data, s->key.len);
        close_entry(f, &e);
    }
    kl__h5_leave();
    if (rc == KL_ECORRUPT || rc == KL_EIO)
        return 1;
    return rc == KL_ENOTFOUND || rc == KL_EVERSION ? 0 : rc;
}

static int hd_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    hd_state *s = state;
    kl_buf val = KL_BUF_INIT;
    int rc = kl__keyfolder_verify(&s->kf, repair, report, problems, check_entry, &val);
    kl_buf_free(&val);
    return rc;
}

/* ---- iteration --------------------------------------------------------- */

static int iter_read(kl__keyfolder *kf, const char *rel, kl_buf *scratch, kl_buf *key,
                     kl_buf *val)
{
    hd_state *s = (hd_state *)kf; /* kf is its first member */
    (void)scratch;
    hid_t f;
    kl__h5_entry e;
    kl__h5_enter();
    int rc = open_entry(s, rel, &f, &e);
    if (!rc) {
        kl_buf_reset(key);
        rc = kl_buf_append(key, s->key.data, s->key.len);
        if (!rc && val)
            rc = kl__h5_entry_value(&e, val);
        close_entry(f, &e);
    }
    kl__h5_leave();
    return rc;
}

static int hd_iter_new(void *state, void **out)
{
    hd_state *s = state;
    return kl__keyfolder_iter_new(&s->kf, iter_read, out);
}

/* ---- open / close / drop ----------------------------------------------- */

static void hd_free(hd_state *s)
{
    kl__keyfolder_close(&s->kf);
    if (s->fapl >= 0) {
        kl__h5_enter();
        H5Pclose(s->fapl);
        kl__h5_leave();
    }
    kl_buf_free(&s->key);
    free(s->path);
    free(s);
}

static int hd_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    hd_state *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->fapl = -1;
    int rc = kl__keyfolder_init(&s->kf, &layout, url);
    if (!rc) {
        s->rootlen = strlen(s->kf.root);
        if (!(s->path = malloc(s->rootlen + 80)))
            rc = kl_seterr(KL_ENOMEM, "out of memory");
        else
            memcpy(s->path, s->kf.root, s->rootlen + 1);
    }
    if (!rc) {
        kl__h5_enter();
        /* HDF5's flock would only get in the way: no file is ever opened
         * for writing once it has its name */
        s->fapl = kl__h5_fapl(false);
        if (s->fapl < 0)
            rc = kl__h5_fail(0, "%s: HDF5 file properties", url->full);
        kl__h5_leave();
    }
    if (!rc)
        rc = kl__keyfolder_attach(&s->kf, opts);
    if (rc) {
        hd_free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int hd_close(void *state)
{
    hd_free(state);
    return 0;
}

static int hd_drop(void *state)
{
    hd_state *s = state;
    return kl__keyfolder_drop(&s->kf);
}

static int hd_describe(void *state, kl_buf *out)
{
    hd_state *s = state;
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    return kl_buf_printf(out, "format_version=%d\nhdf5_library=%u.%u.%u\nsync=%s\n",
                         KL_H5_VERSION, maj, min, rel, kl__keyfolder_sync_name(&s->kf));
}

static int hd_storage_bytes(void *state, uint64_t *out)
{
    return kl__keyfolder_storage(&((hd_state *)state)->kf, out);
}

static int hd_cleaner_lock(void *state, bool take)
{
    return kl__keyfolder_cleaner_lock(&((hd_state *)state)->kf, take);
}

const kl_archive_backend kl__backend_hdf5dir = {
    .version = KL_BACKEND_VERSION,
    .scheme = "hdf5dir",
    .flags = 0,
    .open = hd_open,
    .close = hd_close,
    .get = hd_get,
    .put = hd_put,
    .del = hd_del,
    .contains = hd_contains,
    .count = hd_count,
    .stat = hd_stat,
    .clear = hd_clear,
    .sync = hd_sync,
    .drop = hd_drop,
    .describe = hd_describe,
    .iter_new = hd_iter_new,
    .iter_next = kl__keyfolder_iter_next,
    .iter_free = kl__keyfolder_iter_free,
    .get_view = hd_get_view,
    .verify = hd_verify,
    .storage_bytes = hd_storage_bytes,
    .cleaner_lock = hd_cleaner_lock,
};