/* SPDX-License-Identifier: BSD-3-Clause */
/* Crash safety of file:, dir: and hdf5: (support/crash_loop.h): a writer
 * killed with SIGKILL at a random moment, 50 times per archive kind (24
 * for hdf5:, whose rounds are slower). */
#include "archive_suite.h"
#include "crash_loop.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* file: also compacts under the rewrites of the hot keys */
static void run_kills(const char *url, int kills)
{
    const kt_crash_opts o = {.kills = kills, .hot = 8, .min_ms = 1, .span_ms = 12};
    size_t nacks = kt_crash_loop(url, &o);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf rep = KL_BUF_INIT;
    KT_OK(kl_archive_describe(ar, &rep));
    print_message("%s: %zu acknowledged puts checked; %s\n", url, nacks, kl_buf_cstr(&rep));
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
}

static void run(const char *url)
{
    run_kills(url, 50);
}

static char *tmp;

static void sigkill_file(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/crash.kle?autocompact=0.25", tmp);
    run(url);
}

static void sigkill_dir(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "dir:%s/crash?compression=zstd", tmp);
    run(url);
}

/* hdf5: single puts go to its journal; a small journal_max makes the
 * writer fold it into the HDF5 file every few puts, so kills land in
 * appends, in folds (copy, HDF5 writes, rename) and between a fold's
 * rename and the journal's emptying */
static void sigkill_hdf5_single_puts(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "hdf5:%s/crash.h5?journal_max=16384", tmp);
    run_kills(url, 24);
}

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("crash");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_file),
        cmocka_unit_test(sigkill_dir),
        cmocka_unit_test(sigkill_hdf5_single_puts),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
