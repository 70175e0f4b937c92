/* SPDX-License-Identifier: BSD-3-Clause */
/* A folder of one file per key (keyfolder.h): the layout and lifecycle
 * dir: and hdf5dir: share.  The marker is 16 bytes: 8 bytes of magic, the
 * format version (u32 LE) and 4 zero bytes (docs/formats.md, docs/hdf5.md). */
#define _GNU_SOURCE
#include "archive/util/keyfolder.h"

#include "archive/util/fsio.h"
#include "internal.h"
#include "archive/util/le.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MARKER_LEN 16

static const char hexd[] = "0123456789abcdef";
static _Atomic unsigned long long tmp_counter;

void kl__keyfolder_key_hex(const void *key, size_t klen, char *out)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(key, klen));
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hexd[c.digest[i] >> 4];
        out[2 * i + 1] = hexd[c.digest[i] & 15];
    }
    out[KL_KEYFOLDER_HEX] = '\0';
}

void kl__keyfolder_rel(const kl__keyfolder *kf, const void *key, size_t klen, char *out)
{
    kl__keyfolder_key_hex(key, klen, out + 3);
    out[0] = out[3];
    out[1] = out[4];
    out[2] = '/';
    strcpy(out + 3 + KL_KEYFOLDER_HEX, kf->lay->suffix);
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool is_shard(const char *base)
{
    return is_hex(base, 2) && base[2] == '\0';
}

bool kl__keyfolder_is_entry(const kl__keyfolder *kf, const char *base)
{
    return strlen(base) == KL_KEYFOLDER_HEX + strlen(kf->lay->suffix) &&
           is_hex(base, KL_KEYFOLDER_HEX) && !strcmp(base + KL_KEYFOLDER_HEX, kf->lay->suffix);
}

bool kl__keyfolder_is_stale_tmp(const char *base)
{
    if (strncmp(base, ".tmp.", 5))
        return false;
    long pid = strtol(base + 5, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int kl__keyfolder_shard_index(const char *rel)
{
    int hi = rel[0] <= '9' ? rel[0] - '0' : rel[0] - 'a' + 10;
    int lo = rel[1] <= '9' ? rel[1] - '0' : rel[1] - 'a' + 10;
    return hi * 16 + lo;
}

const char *kl__keyfolder_sync_name(const kl__keyfolder *kf)
{
    static const char *const modes[] = {"none", "normal", "full"};
    return modes[kf->sync];
}

/* ---- fsync ------------------------------------------------------------- */

int kl__keyfolder_fsync_at(kl__keyfolder *kf, const char *rel, int flags)
{
    /* O_NONBLOCK: a FIFO put at the name meanwhile must not block */
    int fd = openat(kf->rootfd, rel, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENXIO
                   ? 0
                   : kl__keyfolder_fail(kf, kl_seterrno(errno, "open for fsync", rel));
    struct stat st;
    int rc = 0;
    /* nothing of ours to flush in anything but a file or a folder */
    if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        rc = kl__keyfolder_fail(kf, kl__fsio_fsync(fd, rel));
    close(fd);
    return rc;
}

int kl__keyfolder_fsync_shard(kl__keyfolder *kf, int i)
{
    char shard[3] = {hexd[i >> 4], hexd[i & 15], '\0'};
    return kl__keyfolder_fsync_at(kf, shard, O_RDONLY | O_DIRECTORY);
}

/* ---- reading ----------------------------------------------------------- */

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m))
        return "a folder";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    return "something";
}

int kl__keyfolder_not_file(kl__keyfolder *kf, const char *rel, mode_t mode)
{
    return kl_seterr(KL_ECORRUPT, "%s: entry %s: %s where an entry file should be", kf->url, rel,
                     kind_of(mode));
}

/* Why entry rel could not be opened or stat'ed (errno err). */
static int entry_error(kl__keyfolder *kf, const char *rel, int err)
{
    if (err == ENOENT)
        return kl_seterr(KL_ENOTFOUND, "%s: key not found", kf->url);
    /* a socket cannot be opened (ENXIO): say what is there instead */
    struct stat st;
    if (fstatat(kf->rootfd, rel, &st, 0) == 0 && !S_ISREG(st.st_mode))
        return kl__keyfolder_not_file(kf, rel, st.st_mode);
    return kl_seterr(kl__errno_code(err), "%s: open entry %s: %s", kf->url, rel, strerror(err));
}

int kl__keyfolder_open_entry(kl__keyfolder *kf, const char *rel, int *fd, struct stat *st)
{
    *fd = openat(kf->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (*fd < 0)
        return entry_error(kf, rel, errno);
    int rc = 0;
    if (fstat(*fd, st) < 0)
        rc = kl_seterr(kl__errno_code(errno), "%s: stat entry %s: %s", kf->url, rel,
                       strerror(errno));
    else if (!S_ISREG(st->st_mode))
        rc = kl__keyfolder_not_file(kf, rel, st->st_mode);
    if (rc) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

int kl__keyfolder_check_file(kl__keyfolder *kf, const char *rel)
{
    struct stat st;
    if (fstatat(kf->rootfd, rel, &st, 0) < 0)
        return entry_error(kf, rel, errno);
    return S_ISREG(st.st_mode) ? 0 : kl__keyfolder_not_file(kf, rel, st.st_mode);
}

/* ---- writing ----------------------------------------------------------- */

int kl__keyfolder_create_tmp(kl__keyfolder *kf, const char *rel, char *tmp,
                            kl__keyfolder_create_fn create, void *arg, bool *new_shard)
{
    *new_shard = false;
    int err = 0;
    /* ".tmp.PID.N": unique among live writers, and tells verify whether
     * the writer of a leftover is gone */
    for (int attempt = 0; attempt < 64; attempt++) {
        snprintf(tmp, KL_KEYFOLDER_TMP_MAX, "%.2s/.tmp.%d.%llu", rel, (int)kf->pid,
                 (unsigned long long)atomic_fetch_add(&tmp_counter, 1));
        err = create(kf, tmp, arg);
        if (err <= 0)
            return err;
        if (err == ENOENT && !*new_shard) {
            char shard[3] = {rel[0], rel[1], '\0'};
            if (mkdirat(kf->rootfd, shard, 0777) < 0 && errno != EEXIST)
                return kl_seterr(kl__errno_code(errno), "%s: create folder %s: %s", kf->url, shard,
                                 strerror(errno));
            if (kf->folder_mode && fchmodat(kf->rootfd, shard, kf->folder_mode, 0) < 0)
                return kl_seterr(kl__errno_code(errno), "%s: set the mode of folder %s: %s",
                                 kf->url, shard, strerror(errno));
            *new_shard = true;
            attempt--;
        } else if (err == EEXIST) {
            kf->pid = getpid(); /* a handle carried over a fork */
        } else {
            break;
        }
    }
    return kl_seterr(kl__errno_code(err), "%s: create entry %s: %s", kf->url, tmp, strerror(err));
}

int kl__keyfolder_commit(kl__keyfolder *kf, const char *tmp, const char *rel, bool new_shard)
{
    if (kf->mode && fchmodat(kf->rootfd, tmp, kf->mode, 0) < 0) {
        int rc = kl_seterr(kl__errno_code(errno), "%s: set the mode of %s: %s", kf->url, tmp,
                           strerror(errno));
        unlinkat(kf->rootfd, tmp, 0);
        return rc;
    }
    if (renameat(kf->rootfd, tmp, kf->rootfd, rel) < 0) {
        int rc = kl_seterr(kl__errno_code(errno), "%s: rename %s into place: %s", kf->url, rel,
                           strerror(errno));
        unlinkat(kf->rootfd, tmp, 0);
        return rc;
    }
    int rc = 0;
    if (kf->sync == KL_SYNC_FULL) {
        rc = kl__keyfolder_fsync_shard(kf, kl__keyfolder_shard_index(rel));
        if (!rc && new_shard)
            rc = kl__fsio_fsync(kf->rootfd, kf->root);
    }
    return rc;
}

int kl__keyfolder_unlink(kl__keyfolder *kf, const char *rel)
{
    if (unlinkat(kf->rootfd, rel, 0) < 0) {
        if (errno == ENOENT)
            return kl_seterr(KL_ENOTFOUND, "%s: key not found", kf->url);
        /* an empty folder where the entry should be goes too */
        if (errno != EISDIR || unlinkat(kf->rootfd, rel, AT_REMOVEDIR) < 0)
            return kl_seterr(kl__errno_code(errno), "%s: delete entry %s: %s", kf->url, rel,
                             strerror(errno));
    }
    if (kf->sync == KL_SYNC_FULL)
        return kl__keyfolder_fsync_shard(kf, kl__keyfolder_shard_index(rel));
    return 0;
}

/* ---- walking the shards ------------------------------------------------ */

/* The folder (or a shard of it) opened for listing; NULL with errno set. */
static DIR *open_listing(kl__keyfolder *kf, const char *rel)
{
    int fd = openat(kf->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d && fd >= 0) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return d;
}

int kl__keyfolder_walk(kl__keyfolder *kf, kl__keyfolder_walk_fn fn, void *arg)
{
    DIR *root = open_listing(kf, ".");
    if (!root)
        return kl_seterrno(errno, "list folder", kf->root);
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(root))) {
        if (!is_shard(de->d_name))
            continue;
        DIR *sh = open_listing(kf, de->d_name);
        if (!sh) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            rc = kl__keyfolder_fail(kf, kl_seterrno(errno, "list folder", de->d_name));
            break;
        }
        struct dirent *fe;
        char rel[3 + sizeof fe->d_name];
        while (!rc && (fe = readdir(sh))) {
            if (fe->d_name[0] == '.' && (!fe->d_name[1] || !strcmp(fe->d_name, "..")))
                continue;
            memcpy(rel, de->d_name, 2);
            rel[2] = '/';
            memcpy(rel + 3, fe->d_name, strlen(fe->d_name) + 1);
            kf->walk_ino = fe->d_ino;
            rc = fn(kf, rel, fe->d_name, arg);
        }
        closedir(sh);
    }
    closedir(root);
    return rc;
}

static int count_fn(kl__keyfolder *kf, const char *rel, const char *base, void *arg)
{
    (void)rel;
    if (kl__keyfolder_is_entry(kf, base))
        ++*(size_t *)arg;
    return 0;
}

int kl__keyfolder_count(kl__keyfolder *kf, size_t *out)
{
    *out = 0;
    return kl__keyfolder_walk(kf, count_fn, out);
}

static int storage_fn(kl__keyfolder *kf, const char *rel, const char *base, void *arg)
{
    struct stat st;
    if (!kl__keyfolder_is_entry(kf, base))
        return 0;
    if (fstatat(kf->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : kl__keyfolder_fail(kf, kl_seterrno(errno, "stat", rel));
    *(uint64_t *)arg += (uint64_t)st.st_blocks * 512;
    return 0;
}

int kl__keyfolder_storage(kl__keyfolder *kf, uint64_t *out)
{
    *out = 0;
    return kl__keyfolder_walk(kf, storage_fn, out);
}

int kl__keyfolder_cleaner_lock(kl__keyfolder *kf, bool take)
{
    if (!take) {
        if (kf->cleaner_fd >= 0)
            close(kf->cleaner_fd);
        kf->cleaner_fd = -1;
        return 0;
    }
    return kl__fsio_try_lock(kf->rootfd, KL_KEYFOLDER_LOCK, kf->mode, kf->url, &kf->cleaner_fd);
}

/* Remove rel: a file, or a folder where a file should be when it is
 * empty (what is in a folder is not ours to delete).  0 or errno. */
static int remove_at(kl__keyfolder *kf, const char *rel)
{
    if (unlinkat(kf->rootfd, rel, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno == EISDIR && (unlinkat(kf->rootfd, rel, AT_REMOVEDIR) == 0 || errno == ENOENT))
        return 0;
    return errno == EEXIST ? ENOTEMPTY : errno;
}

static int delete_file(kl__keyfolder *kf, const char *rel, const char *what)
{
    int err = remove_at(kf, rel);
    if (err)
        return kl_seterr(kl__errno_code(err), "%s: delete %s%s: %s", kf->url, what, rel,
                         strerror(err));
    return 0;
}

static int clear_fn(kl__keyfolder *kf, const char *rel, const char *base, void *arg)
{
    (void)arg;
    if (kl__keyfolder_is_entry(kf, base) || kl__keyfolder_is_stale_tmp(base))
        return delete_file(kf, rel, "entry ");
    return 0;
}

int kl__keyfolder_clear(kl__keyfolder *kf)
{
    int rc = kl__keyfolder_walk(kf, clear_fn, NULL);
    if (!rc && kf->sync == KL_SYNC_FULL)
        rc = kl__fsio_fsync(kf->rootfd, kf->root);
    return rc;
}

static int drop_fn(kl__keyfolder *kf, const char *rel, const char *base, void *arg)
{
    (void)base;
    (void)arg;
    return delete_file(kf, rel, "");
}

int kl__keyfolder_drop(kl__keyfolder *kf)
{
    int rc = kl__keyfolder_walk(kf, drop_fn, NULL);
    for (int i = 0; !rc && i < 256; i++) {
        char shard[3] = {hexd[i >> 4], hexd[i & 15], '\0'};
        if (unlinkat(kf->rootfd, shard, AT_REMOVEDIR) < 0 && errno != ENOENT)
            rc = kl_seterr(kl__errno_code(errno), "%s: remove %s: %s", kf->url, shard,
                           strerror(errno));
    }
    if (!rc && unlinkat(kf->rootfd, KL_KEYFOLDER_LOCK, 0) < 0 && errno != ENOENT)
        rc = kl_seterr(kl__errno_code(errno), "%s: delete %s: %s", kf->root, KL_KEYFOLDER_LOCK,
                       strerror(errno));
    if (!rc && unlinkat(kf->rootfd, kf->lay->marker, 0) < 0 && errno != ENOENT)
        rc = kl_seterr(kl__errno_code(errno), "%s: delete %s: %s", kf->root, kf->lay->marker,
                       strerror(errno));
    if (!rc && rmdir(kf->root) < 0)
        rc = kl_seterr(kl__errno_code(errno), "%s: remove folder %s: %s", kf->url, kf->root,
                       strerror(errno));
    kf->sync = KL_SYNC_NONE; /* nothing left to flush at close */
    return rc;
}

/* ---- verify ------------------------------------------------------------ */

typedef struct vctx {
    bool repair;
    kl_buf *report;
    size_t problems;
    kl__keyfolder_check_fn check;
    void *arg;
} vctx;

/* A crashed writer's leftover temporary file rel: never visible, not a
 * damaged entry, but space taken; reported with its size, and removed
 * with repair. */
static void leftover(kl__keyfolder *kf, vctx *v, const char *rel)
{
    struct stat st;
    long long size = fstatat(kf->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_size : 0;
    int err = v->repair ? remove_at(kf, rel) : 0;
    if (!v->report)
        return;
    if (!v->repair)
        kl_buf_printf(v->report,
                      "%s: leftover temporary file %s (%lld bytes) of a writer that is gone "
                      "(verify --repair removes it)\n",
                      kf->url, rel, size);
    else if (!err)
        kl_buf_printf(v->report, "%s: removed leftover temporary file %s (%lld bytes)\n", kf->url,
                      rel, size);
    else
        kl_buf_printf(v->report, "%s: leftover temporary file %s (%lld bytes): not removed: %s\n",
                      kf->url, rel, size, strerror(err));
}

static int verify_fn(kl__keyfolder *kf, const char *rel, const char *base, void *arg)
{
    vctx *v = arg;
    if (kl__keyfolder_is_stale_tmp(base)) {
        leftover(kf, v, rel);
        return 0;
    }
    if (!kl__keyfolder_is_entry(kf, base))
        return 0;
    int rc = v->check(kf, rel, v->arg);
    if (rc <= 0)
        return rc;
    char msg[800];
    snprintf(msg, sizeof msg, "%s", kl_errmsg());
    v->problems++;
    /* a folder where an entry should be goes only when it is empty */
    int err = v->repair ? remove_at(kf, rel) : 0;
    if (!v->report)
        return 0;
    if (!v->repair)
        kl_buf_printf(v->report, "%s\n", msg);
    else if (!err)
        kl_buf_printf(v->report, "%s (dropped)\n", msg);
    else if (err == ENOTEMPTY)
        kl_buf_printf(v->report, "%s (not dropped: the folder is not empty; move it away)\n", msg);
    else
        kl_buf_printf(v->report, "%s (not dropped: %s)\n", msg, strerror(err));
    return 0;
}

/* Leftovers in the folder itself: temporary markers of killed creators. */
static int verify_root(kl__keyfolder *kf, vctx *v)
{
    DIR *d = open_listing(kf, ".");
    if (!d)
        return kl_seterrno(errno, "list folder", kf->root);
    struct dirent *de;
    while ((de = readdir(d)))
        if (kl__keyfolder_is_stale_tmp(de->d_name))
            leftover(kf, v, de->d_name);
    closedir(d);
    return 0;
}

int kl__keyfolder_verify(kl__keyfolder *kf, bool repair, kl_buf *report, size_t *problems,
                        kl__keyfolder_check_fn check, void *arg)
{
    vctx v = {repair, report, 0, check, arg};
    int rc = verify_root(kf, &v);
    if (!rc)
        rc = kl__keyfolder_walk(kf, verify_fn, &v);
    *problems = v.problems;
    return rc;
}

int kl__keyfolder_check_name(kl__keyfolder *kf, const char *rel, const void *key, size_t klen)
{
    char want[KL_KEYFOLDER_REL_MAX];
    kl__keyfolder_rel(kf, key, klen, want);
    if (strcmp(want, rel))
        return kl_seterr(KL_ECORRUPT, "%s: entry %s: stored under the wrong name", kf->url, rel);
    return 0;
}

/* ---- iteration --------------------------------------------------------- */

typedef struct kf_cursor {
    kl__keyfolder *kf;
    kl__keyfolder_read_fn read;
    DIR *root, *shard;
    char shardname[3];
    kl_buf scratch;
} kf_cursor;

int kl__keyfolder_iter_new(kl__keyfolder *kf, kl__keyfolder_read_fn read, void **out)
{
    kf_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "out of memory");
    c->kf = kf;
    c->read = read;
    if (!(c->root = open_listing(kf, "."))) {
        int rc = kl_seterrno(errno, "list folder", kf->root);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* The next entry file's name into rel: 1, or 0 at the end. */
static int next_name(kf_cursor *c, char *rel)
{
    for (;;) {
        if (!c->shard) {
            struct dirent *de;
            while ((de = readdir(c->root)) && !is_shard(de->d_name))
                ;
            if (!de)
                return 0;
            if (!(c->shard = open_listing(c->kf, de->d_name)))
                continue;
            memcpy(c->shardname, de->d_name, 3);
        }
        struct dirent *fe;
        while ((fe = readdir(c->shard)) && !kl__keyfolder_is_entry(c->kf, fe->d_name))
            ;
        if (fe) {
            memcpy(rel, c->shardname, 2);
            rel[2] = '/';
            strcpy(rel + 3, fe->d_name);
            return 1;
        }
        closedir(c->shard);
        c->shard = NULL;
    }
}

int kl__keyfolder_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    kf_cursor *c = cur;
    char rel[KL_KEYFOLDER_REL_MAX];
    while (next_name(c, rel)) {
        int rc = c->read(c->kf, rel, &c->scratch, key, val);
        if (rc != KL_ENOTFOUND)
            return rc ? rc : 1;
    }
    return 0;
}

void kl__keyfolder_iter_free(void *cur)
{
    kf_cursor *c = cur;
    if (c->shard)
        closedir(c->shard);
    closedir(c->root);
    kl_buf_free(&c->scratch);
    free(c);
}

/* ---- open / close ------------------------------------------------------ */

/* Write the marker under a temporary name, then link it into place:
 * a marker another creator linked first stays (the caller reads back
 * whichever is there), and no reader ever sees a marker half-written. */
static int write_marker(kl__keyfolder *kf)
{
    const char *marker = kf->lay->marker;
    uint8_t m[MARKER_LEN];
    memcpy(m, kf->lay->magic, 8);
    le32_put(m + 8, kf->lay->version);
    le32_put(m + 12, 0);
    char tmp[KL_KEYFOLDER_TMP_MAX];
    int fd = -1;
    /* ".tmp.PID.marker.N": unique among threads too (O_EXCL) */
    for (int attempt = 0; attempt < 64 && fd < 0; attempt++) {
        snprintf(tmp, sizeof tmp, ".tmp.%d.marker.%llu", (int)getpid(),
                 (unsigned long long)atomic_fetch_add(&tmp_counter, 1));
        fd = openat(kf->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0)
        return kl_seterr(kl__errno_code(errno), "%s: create %s: %s", kf->url, marker,
                         strerror(errno));
    int rc = kl__fsio_set_mode(fd, kf->mode, kf->root);
    if (!rc)
        rc = kl__fsio_pwrite(fd, m, sizeof m, 0, kf->root);
    if (!rc && kf->sync != KL_SYNC_NONE && fdatasync(fd) < 0)
        rc = kl_seterrno(errno, "fsync", kf->root);
    close(fd);
    if (!rc && linkat(kf->rootfd, tmp, kf->rootfd, marker, 0) < 0 && errno != EEXIST &&
        renameat(kf->rootfd, tmp, kf->rootfd, marker) < 0) /* no hard links here */
        rc = kl_seterr(kl__errno_code(errno), "%s: put %s into place: %s", kf->root, marker,
                       strerror(errno));
    unlinkat(kf->rootfd, tmp, 0);
    if (!rc && kf->sync != KL_SYNC_NONE)
        rc = kl__fsio_fsync(kf->rootfd, kf->root);
    return rc;
}

/* 0 when the marker says this kind of archive in a version we read;
 * KL_ENOTFOUND (no message) when there is no marker; else the error. */
static int read_marker(kl__keyfolder *kf)
{
    const kl__keyfolder_layout *lay = kf->lay;
    int fd = openat(kf->rootfd, lay->marker, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return KL_ENOTFOUND;
    if (fd < 0)
        return kl_seterr(kl__errno_code(errno), "%s: open %s: %s", kf->url, lay->marker,
                         strerror(errno));
    uint8_t m[MARKER_LEN];
    size_t got = 0;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = kl__keyfolder_fail(kf, kl_seterrno(errno, "stat", lay->marker));
    else if (S_ISREG(st.st_mode)) /* a FIFO there must not block the read */
        rc = kl__fsio_pread(fd, m, sizeof m, 0, &got, kf->root);
    close(fd);
    if (rc)
        return rc;
    if (got < 12 || memcmp(m, lay->magic, 8))
        return kl_seterr(KL_ECORRUPT, "%s: %s/%s is not a klepto %s: archive marker", kf->url,
                         kf->root, lay->marker, lay->scheme);
    uint32_t ver = le32_get(m + 8);
    if (ver > lay->version)
        return kl_seterr(KL_EVERSION, "%s: folder format version %u (this library reads %u)",
                         kf->url, ver, lay->version);
    return 0;
}

/* Whether the folder holds nothing but temporary files. */
static int folder_empty(kl__keyfolder *kf, bool *empty)
{
    DIR *d = open_listing(kf, ".");
    if (!d)
        return kl_seterrno(errno, "list folder", kf->root);
    struct dirent *de;
    *empty = true;
    while (*empty && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strncmp(de->d_name, ".tmp.", 5))
            *empty = false;
    closedir(d);
    return 0;
}

/* The folder is an archive (marker present and readable), an empty folder
 * (made one), or something else (refused, untouched).  Several processes
 * may be creating the same archive at once: each links the marker into
 * place before it writes anything else, so a folder found not empty is
 * refused only when it still has no marker after the listing. */
static int check_marker(kl__keyfolder *kf, bool read_only)
{
    const kl__keyfolder_layout *lay = kf->lay;
    int rc = read_marker(kf);
    if (rc != KL_ENOTFOUND)
        return rc;
    bool empty = false;
    if ((rc = folder_empty(kf, &empty)))
        return rc;
    if (!empty) {
        rc = read_marker(kf);
        if (rc == KL_ENOTFOUND)
            rc = kl_seterr(KL_EINVAL, "%s: folder %s is not a klepto %s: archive (no %s)", kf->url,
                           kf->root, lay->scheme, lay->marker);
        return rc;
    }
    if (read_only)
        return 0;
    if ((rc = write_marker(kf)))
        return rc;
    /* ours, or the one another creator linked first */
    rc = read_marker(kf);
    if (rc == KL_ENOTFOUND)
        rc = kl_seterr(KL_EIO, "%s: %s/%s vanished as it was made", kf->url, kf->root, lay->marker);
    return rc;
}

int kl__keyfolder_init(kl__keyfolder *kf, const kl__keyfolder_layout *lay, const kl_url *url)
{
    memset(kf, 0, sizeof *kf);
    kf->lay = lay;
    kf->rootfd = -1;
    kf->cleaner_fd = -1;
    kf->pid = getpid();
    if (!*url->rest)
        return kl_seterr(KL_EINVAL, "%s: %s: needs a folder path (%s:PATH)", url->full, lay->scheme,
                         lay->scheme);
    if (!(kf->url = strdup(url->full)) || !(kf->root = kl__abs_path(url->rest)))
        return kl_seterr(KL_ENOMEM, "out of memory");
    int rc = kl_url_sync_mode(url, &kf->sync);
    if (!rc)
        rc = kl_url_file_mode(url, &kf->mode);
    kf->folder_mode = kl_url_folder_mode(kf->mode);
    return rc;
}

int kl__keyfolder_attach(kl__keyfolder *kf, const kl_archive_opts *opts)
{
    const char *url = kf->url;
    int rc = 0;
    struct stat st;
    if (stat(kf->root, &st) < 0) {
        if (errno != ENOENT)
            rc = kl_seterr(kl__errno_code(errno), "%s: %s: %s", url, kf->root, strerror(errno));
        else if (!opts->create || opts->read_only)
            rc = kl_seterr(KL_ENOTFOUND, "%s: folder %s does not exist", url, kf->root);
        else
            rc = kl__keyfolder_fail(kf, kl__fsio_mkdirs(kf->root, kf->folder_mode));
        if (rc == 0 && stat(kf->root, &st) < 0)
            rc = kl_seterrno(errno, "stat", kf->root);
    }
    if (!rc && !S_ISDIR(st.st_mode))
        rc = kl_seterr(KL_EINVAL, "%s: %s is not a folder", url, kf->root);
    if (!rc && (kf->rootfd = open(kf->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = kl_seterr(kl__errno_code(errno), "%s: open folder %s: %s", url, kf->root,
                       strerror(errno));
    if (!rc)
        rc = check_marker(kf, opts->read_only);
    if (!rc && !opts->read_only && faccessat(kf->rootfd, ".", W_OK, AT_EACCESS) < 0)
        rc = kl_seterr(KL_EPERM, "%s: folder %s is not writable: %s", url, kf->root,
                       strerror(errno));
    return rc;
}

void kl__keyfolder_close(kl__keyfolder *kf)
{
    if (kf->rootfd >= 0)
        close(kf->rootfd);
    kf->rootfd = -1;
    kl__keyfolder_cleaner_lock(kf, false);
    free(kf->url);
    free(kf->root);
    kf->url = kf->root = NULL;
}
