/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the test programs: test data paths, child processes,
 * the klepto tool, assertions (temporary folders: tempdir.h).  Every test
 * cleans up what it creates. */
#ifndef KLEPTO_TESTUTIL_H
#define KLEPTO_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs these first */
#include <cmocka.h>
#include <stdbool.h>

/* Temporary folders: kt_tmpdir, kt_rmrf and the shared fixture. */
#include "tempdir.h"
/* Path of a file in tests/data (static buffer, valid until the next call). */
const char *kt_data(const char *name);
/* Path of a built program in the build tree (static buffer). */
const char *kt_bin(const char *relpath);
/* Run a shell command, return its exit status (or -1); output captured
 * into out (heap, NUL-terminated, may be NULL) when out != NULL. */
int kt_run(const char *cmd, char **out);
/* Run the built klepto tool with printf-style arguments (a shell command
 * line); its stdout — and stderr too when with_stderr — into *out (heap,
 * may be NULL).  Returns the exit status, as kt_run. */
int kt_klepto(char **out, bool with_stderr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* true when KLEPTO_TEST_LONG is set (and not "0"): `make test-long`, the
 * full sweeps and crash matrices; `make test` runs a slice of them. */
bool kt_long(void);
/* url with one more option ("name=value"), after '?' or '&'; heap. */
char *kt_url_with(const char *url, const char *opt);
/* An archive URL on the test server named by the environment variable
 * var ($KLEPTO_TEST_PG_URL...): its URL with option (a "name=" such as
 * "table=t") ended by this process's id, then `extra` options ("" for
 * none); heap.  Skips the calling test when the library was built without
 * `scheme` or var is unset. */
char *kt_server_url(const char *scheme, const char *var, const char *option, const char *extra);
/* The canonical CBOR of the text s into out (replaced); asserts success. */
struct kl_buf;
void kt_enc_text(struct kl_buf *out, const char *s);
/* Whole file into a heap buffer (NUL-terminated); NULL on error. */
char *kt_slurp(const char *path, size_t *len);

/* assert a klepto call returned 0, printing kl_errmsg() when not. */
#define KT_OK(expr)                                                                      \
    do {                                                                                 \
        int kt_rc_ = (expr);                                                             \
        if (kt_rc_ != 0)                                                                 \
            fail_msg("%s -> %d (%s): %s", #expr, kt_rc_, kl_strerror(kt_rc_), kl_errmsg()); \
    } while (0)

#endif
