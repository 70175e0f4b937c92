/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5: — one HDF5 file, one dataset per entry (klepto's hdf_archive).
 *
 * Layout (docs/hdf5.md): the root group carries klepto_format = "klepto
 * hdf5" and klepto_format_version; each entry is a dataset in the root
 * group named by the 32-hex-digit XXH3-128 of its key (any key makes a
 * valid link name), a typed numeric array natively and anything else as
 * its CBOR bytes (h5common.c), so h5py.File(p)[name][...] reads it.
 *
 * Many processes, crashes: the serial HDF5 library has no notion of a
 * second writer, and a process killed while HDF5 rewrites its metadata in
 * place can leave the whole file unreadable.  So the file named PATH is
 * never modified in place.  A write (put, put_many, del, clear, compact)
 * is a transaction: take an exclusive lock on the current file (an OFD
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
 * Batches (put_many, a cached archive's dump) pay it once.  For archives
 * that take many single writes or hold big arrays, hdf5dir: writes in
 * O(entry).  Space of replaced and deleted entries (which HDF5 does not
 * reuse across opens) is counted in the root attribute
 * klepto_garbage_bytes; once it is over half of a file of 1 MiB or more,
 * the writer rebuilds the file with only the live entries (also
 * kl_archive_compact). */
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "klepto hdf5"
#define GARBAGE_ATTR "klepto_garbage_bytes"
#define COMPACT_MIN (1u << 20)
#define FOLD_MIN (8u << 20) /* fold a journal this big, or a quarter of the file */
#define DIRECT_MIN (64u << 10) /* values this big go straight into the file */
#define CLOSE_FOLD_MAX (16u << 20) /* a close folds into files up to this size */

struct h5_state {
    char *url, *path, *dir, *base;
    int sync;
    unsigned mode; /* ?mode=: bits of a new file (0: the umask's) */
    bool create, read_only, dropped;
    pid_t pid;
    kl__h5j *jr; /* the journal of single puts (journal.h) */
    uint64_t fold_min; /* ?journal_max=: fold once the journal holds this much */
    hid_t fapl_ro, fapl_rw;
    hid_t snap;      /* read handle of the file PATH named last, or -1 */
    int snapfd;
    dev_t dev;
    ino_t ino;
    kl_buf key;
    kl__fslock cleaner; /* the size limits' cleaner lock */
};

static _Atomic unsigned long long tmp_counter;

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
static int open_ro(h5_state *s, hid_t *out)
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
static int snapshot(h5_state *s, hid_t *out)
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
    int rc = open_ro(s, &f);
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
static int find(h5_state *s, hid_t f, const void *key, size_t klen, kl__h5_entry *e)
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
    rc = snapshot(s, &f);
    if (!rc)
        rc = find(s, f, key, klen, &e);
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
        rc = snapshot(s, &a.f);
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

/* ---- writing: transactions --------------------------------------------- */

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

static int list_names(h5_state *s, hid_t f, kl_buf *names)
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
static int tmp_create(h5_state *s, char *tmp, size_t cap, mode_t mode, int *fd)
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
    return kl_seterr(kl__errno_code(errno), "%s: create a temporary file in %s: %s", s->url,
                     s->dir, strerror(errno));
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
static int lock_current(h5_state *s, int *out, struct stat *st)
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

enum { TXN_COPY, TXN_FRESH };
typedef int (*txn_fn)(h5_state *s, hid_t f, void *arg);

static int make_fresh(h5_state *s, const char *tmp, hid_t *f)
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
static int commit(h5_state *s, hid_t f, int fd, const char *tmp, int rc, bool exclusive,
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
static int create_file(h5_state *s)
{
    char tmp[PATH_MAX + 64];
    int fd;
    /* ?mode= or the umask; later transactions copy the bits of the file
     * they replace */
    int rc = tmp_create(s, tmp, sizeof tmp, s->mode, &fd);
    if (rc)
        return rc;
    hid_t f;
    rc = make_fresh(s, tmp, &f);
    if (rc) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    return commit(s, f, fd, tmp, 0, true, NULL);
}

static int compact_locked(h5_state *s, int lockfd, const struct stat *st);
static int fold_journal(h5_state *s, hid_t f);

/* One write transaction: fn applied to a copy of the current file (or to
 * a fresh empty one) that then replaces it. */
static int txn(h5_state *s, int mode, txn_fn fn, void *arg)
{
    int lockfd;
    struct stat st;
    int rc = lock_current(s, &lockfd, &st);
    if (rc == KL_ENOTFOUND && s->create) {
        rc = create_file(s);
        if (!rc)
            rc = lock_current(s, &lockfd, &st);
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
    rc = tmp_create(s, tmp, sizeof tmp, st.st_mode & 0777, &fd);
    if (rc) {
        kl__h5j_unlock(s->jr);
        close(lockfd);
        return rc;
    }
    if (mode == TXN_FRESH || st.st_size == 0) {
        rc = make_fresh(s, tmp, &f);
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
        rc = commit(s, f, fd, tmp, rc, false, &size);
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
        if (!(rc = lock_current(s, &lockfd, &st)))
            rc = compact_locked(s, lockfd, &st);
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
static int unlink_entry(h5_state *s, hid_t f, const char *name)
{
    H5O_info_t oi;
    uint64_t n = 0;
    if (H5Oget_info_by_name2(f, name, &oi, H5O_INFO_HDR, H5P_DEFAULT) >= 0)
        n += oi.hdr.space.total;
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

typedef struct put_args {
    size_t n;
    const void *const *keys;
    const size_t *klens;
    const void *const *vals;
    const size_t *vlens;
} put_args;

/* Write one entry into f, replacing the key's entry there (`fresh`: f
 * has none). */
static int put_entry(h5_state *s, hid_t f, const void *key, size_t klen, const void *val,
                     size_t vlen, int64_t ns, bool fresh)
{
    char name[KL_H5_NAME_HEX + 1];
    kl__h5_entry_name(key, klen, name);
    htri_t ex = fresh ? 0 : H5Lexists(f, name, H5P_DEFAULT);
    int rc = 0;
    if (ex < 0)
        rc = kl__h5_fail(KL_ECORRUPT, "%s: entry %s: look up", s->url, name);
    if (ex > 0)
        rc = unlink_entry(s, f, name);
    if (!rc)
        rc = kl__h5_entry_write(f, name, key, klen, val, vlen, ns, s->url);
    return rc;
}

static int put_fn(h5_state *s, hid_t f, void *arg)
{
    put_args *a = arg;
    int64_t now = kl__now_ns();
    int rc = 0;
    for (size_t i = 0; !rc && i < a->n; i++)
        rc = put_entry(s, f, a->keys[i], a->klens[i], a->vals[i], a->vlens[i], now, false);
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
    return put_entry(a->s, a->f, key, klen, val, vlen, ns, a->fresh);
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

static int h5_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    put_args a = {n, keys, klens, vals, vlens};
    kl__h5_enter();
    int rc = n ? txn(state, TXN_COPY, put_fn, &a) : 0;
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
    return any ? txn(s, TXN_COPY, NULL, NULL) : 0;
}

/* Whether the journal has grown enough to fold: FOLD_MIN and a quarter
 * of the file, so that a fold's cost (a copy of the file) is spread over
 * puts in proportion to it. */
static bool fold_due(h5_state *s, uint64_t divisor)
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
static int h5_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    h5_state *s = state;
    if (vlen >= DIRECT_MIN)
        return h5_put_many(state, 1, &key, &klen, &val, &vlen);
    kl__h5_enter();
    int rc = kl__h5j_put(s->jr, 1, &key, &klen, &val, &vlen);
    /* the entry is stored once it is in the journal: a file that another
     * HDF5 program has open for writing is folded into by a later put or
     * the close */
    if (!rc && fold_due(s, 4) && (rc = txn(s, TXN_COPY, NULL, NULL)) == KL_EBUSY)
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
    int rc = find(s, f, key, klen, &e);
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
            if (!(rc = unlink_entry(s, f, name)))
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
        rc = snapshot(s, &f);
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
        rc = txn(s, TXN_COPY, del_fn, a);
    kl__h5_leave();
    return rc;
}

static int h5_del(void *state, const void *key, size_t klen)
{
    const void *keys[1] = {key};
    del_args a = {1, keys, &klen, 0};
    return del_keys(state, &a);
}

static int h5_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       size_t *deleted)
{
    del_args a = {n, keys, klens, 0};
    int rc = n ? del_keys(state, &a) : 0;
    *deleted = a.deleted;
    return rc;
}

static int h5_clear(void *state)
{
    kl__h5_enter();
    int rc = txn(state, TXN_FRESH, NULL, NULL);
    kl__h5_leave();
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

/* Rebuild: a fresh file holding copies of the live entries, less those
 * named in skip.  Only the fresh file is written, so this also repairs a
 * damaged file: HDF5 never changes (or frees space in) its damaged
 * structures, which can make HDF5 fail to close a file. */
static int rebuild_locked(h5_state *s, const struct stat *st, const kl_buf *skip)
{
    hid_t src;
    int rc = open_ro(s, &src);
    if (rc)
        return rc;
    kl_buf names = KL_BUF_INIT;
    rc = list_names(s, src, &names);
    char tmp[PATH_MAX + 64];
    int fd = -1;
    hid_t f = -1;
    if (!rc)
        rc = tmp_create(s, tmp, sizeof tmp, st->st_mode & 0777, &fd);
    if (!rc && (rc = make_fresh(s, tmp, &f))) {
        close(fd);
        unlink(tmp);
    }
    for (size_t off = 0; !rc && off < names.len; off += KL_H5_NAME_HEX + 1) {
        const char *name = (const char *)names.data + off;
        /* a damaged index may list a name twice */
        if (listed(skip, name) || H5Lexists(f, name, H5P_DEFAULT) > 0)
            continue;
        if (H5Ocopy(src, name, f, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
            rc = kl__h5_fail(0, "%s: entry %s: copy into a rebuilt file", s->url, name);
    }
    H5Fclose(src);
    kl_buf_free(&names);
    if (f >= 0)
        rc = commit(s, f, fd, tmp, rc, false, NULL);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

static int compact_locked(h5_state *s, int lockfd, const struct stat *st)
{
    (void)lockfd;
    return rebuild_locked(s, st, NULL);
}

static int h5_compact(void *state)
{
    h5_state *s = state;
    int lockfd;
    struct stat st;
    kl__h5_enter();
    int rc = fold_now(s);
    if (!rc)
        rc = lock_current(s, &lockfd, &st);
    if (!rc) {
        rc = compact_locked(s, lockfd, &st);
        close(lockfd);
    }
    kl__h5_leave();
    return rc;
}

static int h5_sync(void *state)
{
    h5_state *s = state;
    /* files are flushed before they are renamed (sync=normal/full); the
     * renames become durable with the folder */
    int rc = s->sync == KL_SYNC_NORMAL ? kl__fsio_fsync_dir(s->dir) : 0;
    return rc ? kl_seterr_prefix(rc, "%s", s->url) : 0;
}

/* ---- iteration --------------------------------------------------------- */

typedef struct hcur {
    h5_state *s;
    hid_t f;  /* its own snapshot: iteration sees one version of the file */
    kl_buf names;
    size_t off;
    kl_buf jents;  /* the journal's entries: klen, vlen (size_t each), key, value */
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
        rc = open_ro(s, &c->f);
    if (!rc && (rc = list_names(s, c->f, &c->names)))
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
            rc = kl_seterr(kl__errno_code(errno), "%s: %s: %s", url->full, s->path, strerror(errno));
        else if (!s->create)
            rc = kl_seterr(KL_ENOTFOUND, "%s: file %s does not exist", url->full, s->path);
        else if ((rc = kl__fsio_mkdirs(s->dir, kl_url_folder_mode(s->mode))))
            kl_seterr_prefix(rc, "%s", url->full);
        else
            rc = create_file(s);
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
        rc = txn(s, TXN_FRESH, NULL, NULL);
    hid_t f;
    if (!rc)
        rc = snapshot(s, &f);
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
        if (!kl__h5j_refresh(s->jr) && fold_due(s, 8))
            (void)txn(s, TXN_COPY, NULL, NULL);
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
    int rc = lock_current(s, &lockfd, &st);
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
    if (!snapshot(s, &f)) {
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
    .put = h5_put,
    .del = h5_del,
    .del_many = h5_del_many,
    .contains = h5_contains,
    .count = h5_count,
    .stat = h5_stat,
    .clear = h5_clear,
    .sync = h5_sync,
    .drop = h5_drop,
    .put_many = h5_put_many,
    .describe = h5_describe,
    .iter_new = h5_iter_new,
    .iter_next = h5_iter_next,
    .iter_free = h5_iter_free,
    .get_view = h5_get_view,
    .verify = kl__h5_verify,
    .compact = h5_compact,
    .storage_bytes = h5_storage_bytes,
    .cleaner_lock = h5_cleaner_lock,
};

/* ---- for repair.c (hdf5.h) ---------------------------------------------- */

void kl__h5a_info_of(h5_state *s, kl__h5a_info *out)
{
    *out = (kl__h5a_info){s->url, s->path, s->dir, s->base, s->jr, &s->key, s->fapl_ro, s->fapl_rw};
}

int kl__h5a_snapshot(h5_state *s, hid_t *out)
{
    return snapshot(s, out);
}

int kl__h5a_list_names(h5_state *s, hid_t f, kl_buf *names)
{
    return list_names(s, f, names);
}

int kl__h5a_lock_current(h5_state *s, int *out, struct stat *st)
{
    return lock_current(s, out, st);
}

int kl__h5a_rebuild_locked(h5_state *s, const struct stat *st, const kl_buf *skip)
{
    return rebuild_locked(s, st, skip);
}

int kl__h5a_tmp_create(h5_state *s, char *tmp, size_t cap, mode_t mode, int *fd)
{
    return tmp_create(s, tmp, cap, mode, fd);
}

int kl__h5a_make_fresh(h5_state *s, const char *tmp, hid_t *f)
{
    return make_fresh(s, tmp, f);
}

int kl__h5a_commit(h5_state *s, hid_t f, int fd, const char *tmp, int rc)
{
    return commit(s, f, fd, tmp, rc, false, NULL);
}
