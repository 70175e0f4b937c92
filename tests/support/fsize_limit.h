/* SPDX-License-Identifier: BSD-3-Clause */
/* A real limit on file size (RLIMIT_FSIZE) for tests of writes cut short:
 * the write that crosses the limit writes its first part and the next one
 * fails with EFBIG (SIGXFSZ is ignored meanwhile), as on a full disk.  The
 * library reports it as KL_EIO with the path and "File too large".  The
 * limit is per process and applies to every regular file it writes, so
 * set it just around the call under test. */
#ifndef KLEPTO_TEST_FSIZE_LIMIT_H
#define KLEPTO_TEST_FSIZE_LIMIT_H

#include <stdint.h>

/* No file of this process may grow past `bytes` from now on. */
void kt_fsize_limit(uint64_t bytes);
/* Back to the limit there was before kt_fsize_limit (and SIGXFSZ's
 * handler too). */
void kt_fsize_unlimit(void);

#endif
