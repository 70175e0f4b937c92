/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5:'s write transactions (backend.c is the archive; write.c its
 * write operations, built on these).
 *
 * Many processes, crashes: the serial HDF5 library has no notion of a
 * second writer, and a process killed while HDF5 rewrites its metadata in
 * place can leave the whole file unreadable.  So the file named PATH is
 * never modified in place.  A write (put_many, del, clear, compact, the
 * fold of the journal) is a transaction: take an exclusive lock on the current file (an OFD
 * fcntl lock, which does not interfere with HDF5's own flock; and a shared
 * flock, refused while another HDF5 program has the file open for
 * writing: KL_EBUSY), copy it to a temporary file beside it (a reflink
 * where the file system has them, else copy_file_range in the kernel),
 * apply the change there with HDF5, flush it (fdatasync unless
 * ?sync=none), and put it in PATH's place (replace()).  Readers
 * take no lock: they open whatever file PATH names and it never changes
 * under them; a read handle is reused until PATH names another file
 * (one stat per operation tells).  A crash loses only the transaction in
 * progress and leaves a temporary file (verify --repair removes it).
 * Mapped views are safe for the same reason: the file they map is never
 * written again.
 *
 * The price is honest and documented: each write transaction costs a copy
 * of the file (O(file size), unless reflinked) plus an HDF5 open and close.
 * Batches (put_many, a cached archive's dump, a fold of the journal of
 * single puts) pay it once.  Space of replaced and deleted entries (which
 * HDF5 does not reuse across opens) is counted in the root attribute
 * klepto_garbage_bytes; once it is over half of a file of 1 MiB or more,
 * the writer rebuilds the file with only the live entries (also
 * kl_archive_compact). */
#define _GNU_SOURCE
#include "archive/backend/hdf5/hdf5.h"
#include "archive/util/fsio.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic unsigned long long tmp_counter;

/* The names of the links in f's root group, 33 bytes each. */
static herr_t names_cb(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    (void)g;
    (void)info;
    kl_buf *b = arg;
    char n[KL_H5_NAME_HEX + 1] = {0};
    snprintf(n, sizeof n, "%s", name);
    return kl_buf_append(b, n, sizeof n) ? -1 : 0;
}

int kl__h5a_list_names(h5_state *s, hid_t f, kl_buf *names)
{
    kl_buf_reset(names);
    hsize_t idx = 0;
    if (H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, names_cb, names) < 0)
        return kl__h5_fail(KL_ECORRUPT, "%s: list the root group", s->url);
    return 0;
}

static void tmp_name(h5_state *s, char *out, size_t cap)
{
    snprintf(out, cap, "%s/.%s.tmp.%d.%llu", s->dir, s->base, (int)s->pid,
             (unsigned long long)atomic_fetch_add(&tmp_counter, 1));
}

/* A new temporary file (O_EXCL) with exactly the given mode bits (0:
 * as the umask says). */
int kl__h5a_tmp_create(h5_state *s, char *tmp, size_t cap, mode_t mode, int *fd)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        tmp_name(s, tmp, cap);
        *fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode ? mode : 0666);
        if (*fd >= 0) {
            int rc = kl__fsio_set_mode(*fd, mode, tmp);
            if (rc) {
                close(*fd);
                unlink(tmp);
            }
            return rc;
        }
        if (errno != EEXIST)
            break;
        s->pid = getpid(); /* a handle carried over a fork */
    }
    return kl_seterr(kl__errno_code(errno), "%s: create a temporary file in %s: %s", s->url, s->dir,
                     strerror(errno));
}

/* HDF5 (1.10 and later) holds a flock on a file it has open, exclusive
 * for writing.  No klepto writer opens PATH with HDF5 (it writes copies),
 * but another program may, and change the file in place under the copy a
 * transaction is making of it.  A shared flock on the locked file fd says
 * whether one has it open for writing (KL_EBUSY: nothing is changed, the
 * journal keeps its entries) and, held until fd is closed, keeps one from
 * opening it for writing meanwhile.  It is taken before the OFD lock:
 * where flock is emulated by whole-file byte-range locks (NFS), the two
 * are one lock of the same open file, and the write lock then replaces
 * the shared one rather than the other way round.  A writer that switched
 * HDF5's locking off (HDF5_USE_FILE_LOCKING=FALSE) cannot be seen. */
static int no_foreign_writer(h5_state *s, int fd)
{
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        return 0;
    if (errno == EWOULDBLOCK)
        return kl_seterr(KL_EBUSY,
                         "%s: %s is open for writing in another HDF5 program (it holds HDF5's "
                         "file lock): not changed; try again once that program has closed it",
                         s->url, s->path);
    if (errno == ENOLCK || errno == EINVAL || errno == EOPNOTSUPP)
        return 0; /* a file system without flock: nothing to tell */
    return kl_seterr(kl__errno_code(errno), "%s: lock %s: %s", s->url, s->path, strerror(errno));
}

/* Open PATH and hold an exclusive lock on the file it names (retrying
 * when a writer renamed another over it meanwhile), and a shared flock
 * (no_foreign_writer).  KL_ENOTFOUND when there is no file, KL_EBUSY when
 * another HDF5 program has it open for writing. */
int kl__h5a_lock_current(h5_state *s, int *out, struct stat *st)
{
    for (;;) {
        int fd = open(s->path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOENT
                       ? kl_seterr(KL_ENOTFOUND, "%s: file %s does not exist", s->url, s->path)
                       : kl_seterr(kl__errno_code(errno), "%s: open %s for writing: %s", s->url,
                                   s->path, strerror(errno));
        if (fstat(fd, st) == 0 && !S_ISREG(st->st_mode)) {
            close(fd);
            return kl_seterr(KL_ECORRUPT, "%s: %s is not a regular file", s->url, s->path);
        }
        int rc = no_foreign_writer(s, fd);
        if (rc) {
            close(fd);
            return rc;
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int r;
        while ((r = fcntl(fd, F_OFD_SETLKW, &fl)) < 0 && errno == EINTR)
            ;
        if (r < 0) {
            rc = kl_seterr(kl__errno_code(errno), "%s: lock %s: %s", s->url, s->path,
                           strerror(errno));
            close(fd);
            return rc;
        }
        struct stat now;
        if (fstat(fd, st) == 0 && st->st_nlink > 0 && stat(s->path, &now) == 0 &&
            now.st_dev == st->st_dev && now.st_ino == st->st_ino) {
            *out = fd;
            return 0;
        }
        close(fd); /* replaced while we waited: lock the new one */
    }
}

int kl__h5a_make_fresh(h5_state *s, const char *tmp, hid_t *f)
{
    *f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, s->fapl_rw);
    if (*f < 0)
        return kl__h5_fail(0, "%s: create %s", s->url, tmp);
    int rc = kl__h5_mark(*f, FORMAT, s->url);
    if (rc) {
        kl__h5_close_written(*f, s->fapl_rw, rc, tmp);
        *f = -1;
    }
    return rc;
}

/* Put the file at tmp in the place of the file at path, atomically, as
 * rename does; -1 and errno on failure.  Exchanged and then unlinked where
 * the file system can: a rename over an existing file makes ext4 start
 * writing the whole new file out at once (its auto_da_alloc, meant for
 * writers that never fsync), which costs a 100 MB put a third of its
 * time; an exchange is not a replacement, and the data go out with the
 * kernel's ordinary writeback (or were flushed already, sync=normal and
 * full).  A crash between the two steps leaves the old file under the
 * temporary name: never read, removed by verify --repair. */
static int replace(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
        unlink(tmp);
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != ENOENT)
        return -1;
    return rename(tmp, path);
}

/* Close the HDF5 file written at tmp, flush it, and put it at `dest`
 * (rename, or link when `exclusive`: then EEXIST is not an error and
 * the file is dropped).  tmp is removed on failure. */
int kl__h5a_commit(h5_state *s, hid_t f, int fd, const char *tmp, int rc, bool exclusive,
                   uint64_t *size)
{
    char where[PATH_MAX + 800];
    snprintf(where, sizeof where, "%s: %s", s->url, tmp);
    rc = kl__h5_close_written(f, s->fapl_rw, rc, where);
    if (!rc && s->sync != KL_SYNC_NONE && fdatasync(fd) < 0)
        rc = kl_seterr(kl__errno_code(errno), "%s: fsync %s: %s", s->url, tmp, strerror(errno));
    struct stat st;
    if (!rc && size && fstat(fd, &st) == 0)
        *size = (uint64_t)st.st_size;
    close(fd);
    if (!rc && exclusive) {
        if (link(tmp, s->path) < 0 && errno != EEXIST)
            rc = kl_seterr(kl__errno_code(errno), "%s: create %s: %s", s->url, s->path,
                           strerror(errno));
        unlink(tmp);
    } else if (!rc && replace(tmp, s->path) < 0) {
        rc = kl_seterr(kl__errno_code(errno), "%s: rename into %s: %s", s->url, s->path,
                       strerror(errno));
    }
    if (rc) {
        unlink(tmp);
        return rc;
    }
    if (s->sync == KL_SYNC_FULL && (rc = kl__fsio_fsync_dir(s->dir)))
        kl_seterr_prefix(rc, "%s", s->url);
    return rc;
}

/* Make PATH an empty archive unless some file is there already. */
int kl__h5a_create_file(h5_state *s)
{
    char tmp[PATH_MAX + 64];
    int fd;
    /* ?mode= or the umask; later transactions copy the bits of the file
     * they replace */
    int rc = kl__h5a_tmp_create(s, tmp, sizeof tmp, s->mode, &fd);
    if (rc)
        return rc;
    hid_t f;
    rc = kl__h5a_make_fresh(s, tmp, &f);
    if (rc) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    return kl__h5a_commit(s, f, fd, tmp, 0, true, NULL);
}

static int fold_journal(h5_state *s, hid_t f);

/* One write transaction: fn applied to a copy of the current file (or to
 * a fresh empty one) that then replaces it. */
int kl__h5a_txn(h5_state *s, int mode, txn_fn fn, void *arg)
{
    int lockfd;
    struct stat st;
    int rc = kl__h5a_lock_current(s, &lockfd, &st);
    if (rc == KL_ENOTFOUND && s->create) {
        rc = kl__h5a_create_file(s);
        if (!rc)
            rc = kl__h5a_lock_current(s, &lockfd, &st);
    }
    if (rc)
        return rc;
    /* the journal is folded into every transaction: locked against puts
     * from here until it is emptied */
    if ((rc = kl__h5j_lock(s->jr))) {
        close(lockfd);
        return rc;
    }
    bool fold = kl__h5j_count(s->jr) > 0;
    char tmp[PATH_MAX + 64];
    int fd;
    hid_t f = -1;
    rc = kl__h5a_tmp_create(s, tmp, sizeof tmp, st.st_mode & 0777, &fd);
    if (rc) {
        kl__h5j_unlock(s->jr);
        close(lockfd);
        return rc;
    }
    if (mode == TXN_FRESH || st.st_size == 0) {
        rc = kl__h5a_make_fresh(s, tmp, &f);
    } else {
        rc = kl__fsio_copy(lockfd, fd, (uint64_t)st.st_size, s->path, tmp);
        if (!rc && (f = H5Fopen(tmp, H5F_ACC_RDWR, s->fapl_rw)) < 0)
            rc = kl__h5_fail(KL_ECORRUPT, "%s: %s is not a readable HDF5 file", s->url, s->path);
        if (!rc)
            rc = kl__h5_check_mark(f, FORMAT, s->url);
        if (!rc)
            rc = kl__h5_mark_current(f, s->url);
    }
    if (!rc && mode == TXN_COPY && fold)
        rc = fold_journal(s, f);
    if (!rc && fn)
        rc = fn(s, f, arg);
    uint64_t garbage = 0, size = 0;
    if (!rc && f >= 0 && H5Aexists(f, GARBAGE_ATTR) > 0) {
        hid_t a = H5Aopen(f, GARBAGE_ATTR, H5P_DEFAULT);
        if (a >= 0) {
            H5Aread(a, H5T_NATIVE_UINT64, &garbage);
            H5Aclose(a);
        }
    }
    if (f < 0) {
        close(fd);
        unlink(tmp);
    } else {
        rc = kl__h5a_commit(s, f, fd, tmp, rc, false, &size);
    }
    /* the new file holds all the journal had: empty it (a crash before
     * this leaves records the file already has; folding them again
     * changes nothing) */
    if (!rc && f >= 0 && (fold || mode == TXN_FRESH))
        rc = kl__h5j_clear_locked(s->jr);
    kl__h5j_unlock(s->jr);
    H5Eclear2(H5E_DEFAULT);
    if (!rc && size >= COMPACT_MIN && garbage > size / 2) {
        /* still holding the lock of the replaced file: take the new one */
        close(lockfd);
        if (!(rc = kl__h5a_lock_current(s, &lockfd, &st)))
            rc = kl__h5a_compact_locked(s, lockfd, &st);
    }
    close(lockfd);
    return rc;
}

/* Add n bytes to the garbage count (space HDF5 will not reuse). */
static int add_garbage(h5_state *s, hid_t f, uint64_t n)
{
    uint64_t g = 0;
    hid_t a = -1;
    if (H5Aexists(f, GARBAGE_ATTR) > 0) {
        a = H5Aopen(f, GARBAGE_ATTR, H5P_DEFAULT);
        if (a >= 0 && H5Aread(a, H5T_NATIVE_UINT64, &g) < 0)
            g = 0;
    } else {
        hid_t sp = H5Screate(H5S_SCALAR);
        a = H5Acreate2(f, GARBAGE_ATTR, H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
    }
    g += n;
    int rc = 0;
    if (a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, &g) < 0)
        rc = kl__h5_fail(0, "%s: update " GARBAGE_ATTR, s->url);
    if (a >= 0 && H5Aclose(a) < 0 && !rc)
        rc = kl__h5_fail(0, "%s: update " GARBAGE_ATTR, s->url);
    return rc;
}

/* Unlink entry `name` from f, counting the space it leaves. */
int kl__h5a_unlink_entry(h5_state *s, hid_t f, const char *name)
{
    H5O_hdr_info_t hdr;
    uint64_t n = 0;
    if (kl__h5_header(f, name, &hdr) >= 0)
        n += hdr.space.total;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d >= 0) {
        n += H5Dget_storage_size(d);
        H5Dclose(d);
    }
    H5Eclear2(H5E_DEFAULT);
    if (H5Ldelete(f, name, H5P_DEFAULT) < 0)
        return kl__h5_fail(0, "%s: entry %s: delete", s->url, name);
    return add_garbage(s, f, n + 64);
}

/* Write one entry into f, replacing the key's entry there (`fresh`: f
 * has none). */
int kl__h5a_put_entry(h5_state *s, hid_t f, const void *key, size_t klen, const void *val,
                      size_t vlen, int64_t ns, bool fresh)
{
    char name[KL_H5_NAME_HEX + 1];
    kl__h5_entry_name(key, klen, name);
    htri_t ex = fresh ? 0 : H5Lexists(f, name, H5P_DEFAULT);
    int rc = 0;
    if (ex < 0)
        rc = kl__h5_fail(KL_ECORRUPT, "%s: entry %s: look up", s->url, name);
    if (ex > 0)
        rc = kl__h5a_unlink_entry(s, f, name);
    if (!rc)
        rc = kl__h5_entry_write(f, name, key, klen, val, vlen, ns, s->url);
    return rc;
}

typedef struct fold_args {
    h5_state *s;
    hid_t f;
    bool fresh;
} fold_args;

static int fold_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t ns)
{
    fold_args *a = arg;
    return kl__h5a_put_entry(a->s, a->f, key, klen, val, vlen, ns, a->fresh);
}

/* Write the journal's entries into f (journal locked), in the order
 * they were put; the transaction's own change comes after.  The journal
 * holds each key once: into a file with no entries they go without a
 * look-up each. */
static int fold_journal(h5_state *s, hid_t f)
{
    H5G_info_t gi;
    fold_args a = {s, f, H5Gget_info(f, &gi) >= 0 && gi.nlinks == 0};
    H5Eclear2(H5E_DEFAULT);
    int rc = kl__h5j_each(s->jr, fold_one, &a);
    if (rc == KL_ECORRUPT) {
        char msg[800];
        snprintf(msg, sizeof msg, "%s (klepto verify --repair drops it)", kl_errmsg());
        rc = kl_seterr(KL_ECORRUPT, "%s", msg);
    }
    return rc;
}

/* Whether `name` is among the 33-byte records of names. */
static bool listed(const kl_buf *names, const char *name)
{
    for (size_t off = 0; names && off < names->len; off += KL_H5_NAME_HEX + 1)
        if (!strcmp((const char *)names->data + off, name))
            return true;
    return false;
}

/* Entry `name` of src into f: copied as it is when it has the current
 * layout (klepto_entry), else read and written again in it — a rebuild
 * (compact) upgrades entries of format versions 1 and 2 — with its stored
 * time kept.  One that does not read back whole is copied as it is, for
 * verify to judge. */
static int copy_entry(h5_state *s, hid_t src, hid_t f, const char *name, kl_buf *key,
                      kl_buf *val)
{
    if (H5Aexists_by_name(src, name, "klepto_entry", H5P_DEFAULT) == 0) {
        kl__h5_entry e;
        int64_t ns = 0;
        int rc = kl__h5_entry_open(src, name, key, &e, s->url);
        if (!rc) {
            rc = kl__h5_entry_value(&e, val);
            if (!rc)
                rc = kl__h5_entry_stored_ns(&e, &ns);
            kl__h5_entry_close(&e);
        }
        H5Eclear2(H5E_DEFAULT);
        if (!rc)
            return kl__h5_entry_write(f, name, key->data, key->len, val->data, val->len, ns,
                                      s->url);
        if (rc == KL_ENOMEM)
            return rc;
    }
    H5Eclear2(H5E_DEFAULT);
    if (H5Ocopy(src, name, f, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
        return kl__h5_fail(0, "%s: entry %s: copy into a rebuilt file", s->url, name);
    return 0;
}

/* Rebuild: a fresh file holding copies of the live entries, less those
 * named in skip.  Only the fresh file is written, so this also repairs a
 * damaged file: HDF5 never changes (or frees space in) its damaged
 * structures, which can make HDF5 fail to close a file. */
int kl__h5a_rebuild_locked(h5_state *s, const struct stat *st, const kl_buf *skip)
{
    hid_t src;
    int rc = kl__h5a_open_ro(s, &src);
    if (rc)
        return rc;
    kl_buf names = KL_BUF_INIT, key = KL_BUF_INIT, val = KL_BUF_INIT;
    rc = kl__h5a_list_names(s, src, &names);
    char tmp[PATH_MAX + 64];
    int fd = -1;
    hid_t f = -1;
    if (!rc)
        rc = kl__h5a_tmp_create(s, tmp, sizeof tmp, st->st_mode & 0777, &fd);
    if (!rc && (rc = kl__h5a_make_fresh(s, tmp, &f))) {
        close(fd);
        unlink(tmp);
    }
    for (size_t off = 0; !rc && off < names.len; off += KL_H5_NAME_HEX + 1) {
        const char *name = (const char *)names.data + off;
        /* a damaged index may list a name twice */
        if (listed(skip, name) || H5Lexists(f, name, H5P_DEFAULT) > 0)
            continue;
        rc = copy_entry(s, src, f, name, &key, &val);
    }
    H5Fclose(src);
    kl_buf_free(&names);
    kl_buf_free(&key);
    kl_buf_free(&val);
    if (f >= 0)
        rc = kl__h5a_commit(s, f, fd, tmp, rc, false, NULL);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

int kl__h5a_compact_locked(h5_state *s, int lockfd, const struct stat *st)
{
    (void)lockfd;
    return kl__h5a_rebuild_locked(s, st, NULL);
}
