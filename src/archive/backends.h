/* SPDX-License-Identifier: BSD-3-Clause */
/* Everything a built-in backend may need from the archive core, in one
 * include (not installed): the list of built-in backends, URL internals,
 * the reconnect step, paths and clock, typed arrays.  Each part has its
 * own header; the core's own files include just the parts they use. */
#ifndef KLEPTO_ARCHIVE_BACKENDS_H
#define KLEPTO_ARCHIVE_BACKENDS_H

#include "klepto/sys/archive_backend.h"

#include "archive/builtin.h"
#include "archive/host.h"
#include "archive/reconnect.h"
#include "archive/tarray.h"
#include "archive/url.h"

#endif
