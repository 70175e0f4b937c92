/* SPDX-License-Identifier: BSD-3-Clause */
/* Crash safety of file: and dir: (support/crash_loop.h): a writer killed
 * with SIGKILL at a random moment, 50 times per archive kind. */
#include "archive_suite.h"
#include "crash_loop.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* file: also compacts under the rewrites of the hot keys */
static void run(const char *url)
{
    const kt_crash_opts o = {.kills = 50, .hot = 8, .min_ms = 1, .span_ms = 12};
    size_t nacks = kt_crash_loop(url, &o);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf rep = KL_BUF_INIT;
    KT_OK(kl_archive_describe(ar, &rep));
    print_message("%s: %zu acknowledged puts checked; %s\n", url, nacks, kl_buf_cstr(&rep));
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
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

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("crash");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_file),
        cmocka_unit_test(sigkill_dir),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
