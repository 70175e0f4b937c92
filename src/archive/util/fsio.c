/* SPDX-License-Identifier: BSD-3-Clause */
/* See fsio.h. */
#define _GNU_SOURCE
#include "archive/util/fsio.h"

#include "internal.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t do_pwrite(int fd, const void *p, size_t n, int64_t off)
{
    return off < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t)off);
}

int kl__fsio_pwrite(int fd, const void *p, size_t n, int64_t off, const char *path)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = do_pwrite(fd, b, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return kl_seterrno(errno, "write", path);
        }
        b += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

int kl__fsio_pwritev(int fd, const struct iovec *iov, int niov, int64_t off, const char *path)
{
    size_t total = 0;
    for (int i = 0; i < niov; i++)
        total += iov[i].iov_len;
    /* the common case: one system call */
    ssize_t w = off < 0 ? writev(fd, iov, niov) : pwritev(fd, iov, niov, (off_t)off);
    if (w == (ssize_t)total)
        return 0;
    if (w < 0 && errno != EINTR)
        return kl_seterrno(errno, "write", path);
    /* a short write: finish piece by piece */
    size_t done = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < niov; i++) {
        if (done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
            if (off >= 0)
                off += (int64_t)iov[i].iov_len;
            continue;
        }
        int rc = kl__fsio_pwrite(fd, (const uint8_t *)iov[i].iov_base + done,
                                iov[i].iov_len - done, off < 0 ? -1 : off + (int64_t)done,
                                path);
        if (rc)
            return rc;
        if (off >= 0)
            off += (int64_t)iov[i].iov_len;
        done = 0;
    }
    return 0;
}

int kl__fsio_pread(int fd, void *p, size_t n, int64_t off, size_t *got, const char *path)
{
    uint8_t *b = p;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, b + done, n - done, (off_t)off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return kl_seterrno(errno, "read", path);
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

int kl__fsio_fsync(int fd, const char *path)
{
    if (fsync(fd) < 0)
        return kl_seterrno(errno, "fsync", path);
    return 0;
}

int kl__fsio_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kl_seterrno(errno, "open folder", path);
    int rc = kl__fsio_fsync(fd, path);
    close(fd);
    return rc;
}

int kl__fsio_set_mode(int fd, unsigned mode, const char *path)
{
    if (mode && fchmod(fd, (mode_t)mode) < 0)
        return kl_seterrno(errno, "set the mode of", path);
    return 0;
}

int kl__fsio_mkdirs(const char *path, unsigned folder_mode)
{
    char *p = strdup(path);
    if (!p)
        return kl_seterr(KL_ENOMEM, "out of memory");
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) == 0) {
                if (folder_mode && chmod(p, (mode_t)folder_mode) < 0) {
                    rc = kl_seterrno(errno, "set the mode of", p);
                    break;
                }
            } else if (errno != EEXIST) {
                rc = kl_seterrno(errno, "create folder", p);
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

/* A reflink where the file system has them, else copy_file_range in the
 * kernel, else reads and writes. */
int kl__fsio_copy(int from, int to, uint64_t size, const char *from_path, const char *to_path)
{
    if (ioctl(to, FICLONE, from) == 0)
        return 0;
    loff_t in = 0, out = 0;
    bool fallback = false;
    while ((uint64_t)in < size) {
        ssize_t n = copy_file_range(from, &in, to, &out, (size_t)(size - (uint64_t)in), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                      errno == EOPNOTSUPP) && in == 0) {
            fallback = true;
            break;
        }
        if (n < 0)
            return kl_seterr(kl__errno_code(errno), "copy %s to %s: %s", from_path, to_path,
                             strerror(errno));
        if (n == 0)
            return kl_seterr(KL_EIO, "%s shrank while copying it", from_path);
    }
    if (!fallback)
        return 0;
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf)
        return kl_seterr(KL_ENOMEM, "out of memory");
    int rc = 0;
    for (uint64_t off = 0; !rc && off < size;) {
        size_t got = 0, want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
        rc = kl__fsio_pread(from, buf, want, (int64_t)off, &got, from_path);
        if (!rc && got == 0)
            rc = kl_seterr(KL_EIO, "%s shrank while copying it", from_path);
        if (!rc)
            rc = kl__fsio_pwrite(to, buf, got, (int64_t)off, to_path);
        off += got;
    }
    free(buf);
    return rc;
}

int kl__fsio_try_lock(int dirfd, const char *name, unsigned mode, const char *shown, int *fd)
{
    int f = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode ? mode : 0644);
    if (f < 0)
        return kl_seterr(kl__errno_code(errno), "%s: cleaner lock %s: %s", shown, name,
                         strerror(errno));
    while (flock(f, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        close(f);
        if (e == EWOULDBLOCK)
            return 0;
        return kl_seterr(kl__errno_code(e), "%s: cleaner lock %s: %s", shown, name, strerror(e));
    }
    *fd = f;
    return 1;
}

int kl__fsio_beside_lock(kl__fslock *l, const char *path, unsigned mode, const char *shown,
                         bool take)
{
    if (!take) {
        if (l->held)
            close(l->fd);
        l->held = false;
        return 0;
    }
    if (l->held)
        return 1;
    size_t n = strlen(path);
    char *name = malloc(n + sizeof ".cleaner-lock");
    if (!name)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", shown);
    memcpy(name, path, n);
    memcpy(name + n, ".cleaner-lock", sizeof ".cleaner-lock");
    int rc = kl__fsio_try_lock(AT_FDCWD, name, mode, shown, &l->fd);
    free(name);
    l->held = rc == 1;
    return rc;
}

void kl__fsio_beside_lock_remove(const char *path)
{
    size_t n = strlen(path);
    char *name = malloc(n + sizeof ".cleaner-lock");
    if (!name)
        return;
    memcpy(name, path, n);
    memcpy(name + n, ".cleaner-lock", sizeof ".cleaner-lock");
    unlink(name);
    free(name);
}

int kl__fsio_add_blocks(const char *path, uint64_t *out)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return errno == ENOENT ? 0 : kl_seterrno(errno, "stat", path);
    *out += (uint64_t)st.st_blocks * 512;
    return 0;
}
