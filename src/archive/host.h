/* SPDX-License-Identifier: BSD-3-Clause */
/* What the backends ask of the host system: absolute paths and the wall
 * clock (host.c). */
#ifndef KLEPTO_ARCHIVE_HOST_H
#define KLEPTO_ARCHIVE_HOST_H

#include <stdint.h>

/* An absolute form of a path (relative ones against the current folder,
 * so a later chdir does not move the archive); heap, NULL on ENOMEM. */
char *kl__abs_path(const char *path);

/* Wall-clock now in ns since the epoch. */
int64_t kl__now_ns(void);

#endif
