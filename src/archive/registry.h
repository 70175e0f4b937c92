/* SPDX-License-Identifier: BSD-3-Clause */
/* The scheme registry (registry.c): which backend serves "scheme:". */
#ifndef KLEPTO_ARCHIVE_REGISTRY_H
#define KLEPTO_ARCHIVE_REGISTRY_H

#include "klepto/sys/archive_backend.h"

/* The backend registered under scheme (lower case), or NULL.  The
 * built-in backends are registered on the first call.  Thread-safe. */
const kl_archive_backend *kl__archive_backend_find(const char *scheme);

#endif
