/* SPDX-License-Identifier: BSD-3-Clause */
/* Crash safety of every local archive kind (support/crash_loop.h): a
 * writer of single puts, batches, deletes, compactions and verify
 * --repair killed with SIGKILL at a random moment, 50 times for file: and
 * dir:, 20 for sqlite: (both layouts), hdf5: and hdf5dir: under `make
 * test`; 200 times each under KLEPTO_TEST_LONG=1 (`make test-long`); and 24 times
 * a writer of hdf5: single puts folding its journal every few puts. */
#include "archive_suite.h"
#include "crash_loop.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* file: also compacts under the rewrites of the hot keys */
static void run(const char *url, int kills)
{
    const kt_crash_opts o = {
        .kills = kt_long() ? 200 : kills, .hot = 8, .min_ms = 1, .span_ms = 12, .mixed = true};
    size_t nacks = kt_crash_loop(url, &o);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf rep = KL_BUF_INIT;
    KT_OK(kl_archive_describe(ar, &rep));
    print_message("%s: %d kills, %zu acknowledged writes checked; %s\n", url, o.kills, nacks,
                  kl_buf_cstr(&rep));
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
}

static char *tmp;

static void sigkill_file(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/crash.kle?autocompact=0.25", tmp);
    run(url, 50);
}

static void sigkill_dir(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "dir:%s/crash?compression=zstd", tmp);
    run(url, 50);
}

static void sigkill_sqlite(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/crash.db?table=t", tmp);
    run(url, 20);
}

static void sigkill_sqlite_tables(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/crash-tables.db", tmp);
    run(url, 20);
}

#ifdef KLEPTO_HAVE_HDF5
/* hdf5: single puts go to its journal; a small journal_max makes the
 * writer fold it into the HDF5 file every few puts, so kills land in
 * appends, in folds (copy, HDF5 writes, rename) and between a fold's
 * rename and the journal's emptying */
static void sigkill_hdf5_single_puts(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "hdf5:%s/crash-journal.h5?journal_max=16384", tmp);
    run(url, 24);
}

static void sigkill_hdf5(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "hdf5:%s/crash.h5", tmp);
    run(url, 20);
}

static void sigkill_hdf5dir(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "hdf5dir:%s/crash-h5", tmp);
    run(url, 20);
}
#endif

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("crash");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_file),
        cmocka_unit_test(sigkill_dir),
        cmocka_unit_test(sigkill_sqlite),
        cmocka_unit_test(sigkill_sqlite_tables),
#ifdef KLEPTO_HAVE_HDF5
        cmocka_unit_test(sigkill_hdf5_single_puts),
        cmocka_unit_test(sigkill_hdf5),
        cmocka_unit_test(sigkill_hdf5dir),
#endif
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
