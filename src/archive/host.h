/* SPDX-License-Identifier: BSD-3-Clause */
/* What the backends ask of the host system: absolute paths and the wall
 * clock (host.c). */
#ifndef KLEPTO_ARCHIVE_HOST_H
#define KLEPTO_ARCHIVE_HOST_H

#include <stdint.h>

/* An absolute form of a path (relative ones against the current folder,
 * so a later chdir does not move the archive); heap, NULL on ENOMEM. */
char *kl__abs_path(const char *path);

/* Wall-clock now in ns since the epoch: the time backends store with an
 * entry and the time archive expiry (?ttl=, a memo's ttl) compares it
 * with.  Tests inject their own (kl__now_ns_set_fake). */
int64_t kl__now_ns(void);
/* The test clock: kl__now_ns returns `ns` from now on in this process
 * (and in children forked after); 0 goes back to the real clock.  Not
 * thread-safe against concurrent archive calls: set it between them. */
void kl__now_ns_set_fake(int64_t ns);

#endif
