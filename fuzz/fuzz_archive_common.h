/* SPDX-License-Identifier: BSD-3-Clause */
/* What the archive fuzz targets share: a private folder for the bytes
 * under test, and the walk every damaged archive must survive (open,
 * count, iterate, read every key back, verify) without a crash, a leak or
 * an error code that is not a KL_E*. */
#ifndef KLEPTO_FUZZ_ARCHIVE_COMMON_H
#define KLEPTO_FUZZ_ARCHIVE_COMMON_H

#include "fuzz_common.h"
#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A folder of this process's own (removed at exit by nobody: it is small
 * and in $TMPDIR). */
static inline const char *fuzz_folder(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/klepto-fuzz-XXXXXX", t && *t ? t : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
    }
    return dir;
}

static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
}

static inline bool fuzz_is_kl_error(int rc)
{
    return rc < 0 && rc >= KL_ERANGE; /* the last KL_E* code */
}

/* Open url read-only and walk it; every failure must be a KL_E* code. */
static inline void fuzz_walk(const char *url)
{
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = true;
    o.create = false;
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, url, &o);
    if (rc) {
        FUZZ_CHECK(fuzz_is_kl_error(rc) && ar == NULL);
        return;
    }
    size_t n = 0;
    rc = kl_archive_count(ar, &n);
    FUZZ_CHECK(rc == 0 || fuzz_is_kl_error(rc));
    kl_archive_iter *it = NULL;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, again = KL_BUF_INIT;
    if (kl_archive_iter_new(ar, &it) == 0) {
        for (int i = 0; i < 10000 && (rc = kl_archive_iter_next(it, &k, &v)) != 0; i++) {
            if (rc < 0) {
                FUZZ_CHECK(fuzz_is_kl_error(rc));
                if (rc != KL_ECORRUPT)
                    break;
                continue;
            }
            rc = kl_archive_get(ar, k.data, k.len, &again);
            FUZZ_CHECK(rc == 0 || fuzz_is_kl_error(rc));
            /* a key iterated reads back the value iterated */
            if (rc == 0)
                FUZZ_CHECK(again.len == v.len && !memcmp(again.data, v.data, v.len));
        }
        kl_archive_iter_free(it);
    }
    size_t problems = 0;
    rc = kl_archive_verify(ar, false, NULL, &problems);
    FUZZ_CHECK(rc == 0 || fuzz_is_kl_error(rc));
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&again);
    kl_archive_close(ar);
}

#endif
