/* SPDX-License-Identifier: BSD-3-Clause */
/* The example programs the README shows run and print what it says. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto.h"

static void tour_runs_as_the_readme_says(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("tour");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", kt_bin("tour"), dir);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "rosen(1, 2) = 100, 100  hit=1 miss=1 load=0 size=1"));
    assert_non_null(strstr(out, "area = 10, 10  hit=1 miss=1"));
    assert_non_null(strstr(out, "area: lookup = 10, 1 entry in memory"));
    assert_non_null(strstr(out, "['answer'] = 42"));
    free(out);
    /* a second run finds rosen(1, 2) in the SQLite archive */
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "hit=1 miss=0 load=1"));
    free(out);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tour_runs_as_the_readme_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
