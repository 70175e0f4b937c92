/* File-system helpers of the file-based archives: complete reads and
 * writes that map errno to KL_E* naming the path, fsync of a folder, and a
 * fault injector the tests use to simulate a full disk (never enabled by
 * the library itself). */
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
/* mkdir -p. */
int kl__fsio_mkdirs(const char *path);

/* Testing only: after `after_bytes` more bytes have been written by this
 * process through kl__fsio, writes fail with errno `err` (the write that
 * crosses the limit writes its first part, as a full disk does).
 * err == 0 switches the injector off. */
void kl__fsio_fault_inject(int err, uint64_t after_bytes);

#endif
