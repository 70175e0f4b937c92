/* SPDX-License-Identifier: BSD-3-Clause */
/* File-system helpers of the file-based archives: complete reads and
 * writes that map errno to KL_E* naming the path, fsync of a folder. */
#ifndef KLEPTO_ARCHIVE_FSIO_H
#define KLEPTO_ARCHIVE_FSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Write all n bytes at off (off < 0: at the current position). */
int kl__fsio_pwrite(int fd, const void *p, size_t n, int64_t off, const char *path);
/* Write all the iovecs at off (consumes nothing of the caller's array). */
int kl__fsio_pwritev(int fd, const struct iovec *iov, int niov, int64_t off, const char *path);
/* Read up to n bytes at off; *got tells how many (short only at EOF). */
int kl__fsio_pread(int fd, void *p, size_t n, int64_t off, size_t *got, const char *path);
int kl__fsio_fsync(int fd, const char *path);
/* fsync a folder (so a rename or create in it is durable). */
int kl__fsio_fsync_dir(const char *path);
/* Copy the first size bytes of from (at from_path) into the empty file
 * to (at to_path); KL_EIO when from is shorter. */
int kl__fsio_copy(int from, int to, uint64_t size, const char *from_path, const char *to_path);
/* mkdir -p; the folders made get exactly folder_mode (kl_url_folder_mode
 * of ?mode=), or follow the umask when it is 0. */
int kl__fsio_mkdirs(const char *path, unsigned folder_mode);
/* ?mode=: give the file open at fd exactly these bits (nothing when 0). */
int kl__fsio_set_mode(int fd, unsigned mode, const char *path);
/* A cleaner lock (the size limits, archive.h): flock without waiting on
 * the file `name` in folder dirfd (AT_FDCWD: name is a path), made when
 * missing with `mode` bits (0: 0644 and the umask).  1 held (the open
 * file in *fd; close it to release), 0 another holds it, or an error
 * naming `shown`.  The file stays: removing a lock file races. */
int kl__fsio_try_lock(int dirfd, const char *name, unsigned mode, const char *shown, int *fd);

/* The cleaner lock beside a local archive's file: PATH.cleaner-lock,
 * through kl__fsio_try_lock; zero-initialised means not held.  take:
 * 1 held, 0 busy, or an error; !take: release (0). */
typedef struct kl__fslock {
    bool held;
    int fd;
} kl__fslock;
int kl__fsio_beside_lock(kl__fslock *l, const char *path, unsigned mode, const char *shown,
                         bool take);
/* Removes PATH.cleaner-lock (when the archive's file is dropped); a
 * missing one is fine. */
void kl__fsio_beside_lock_remove(const char *path);
/* The blocks a file takes (st_blocks * 512) added to *out; a missing
 * file adds 0. */
int kl__fsio_add_blocks(const char *path, uint64_t *out);

#endif
