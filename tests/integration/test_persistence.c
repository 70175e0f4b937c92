/* SPDX-License-Identifier: BSD-3-Clause */
/* Persistence across processes: the demo program run twice on one archive
 * computes everything the first time and nothing the second. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto.h"

static void run_twice(const char *scheme)
{
    char *dir = kt_tmpdir("persist");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s:%s/archive 2>&1", kt_bin("demo"), scheme, dir);

    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "hit=0 miss=300 load=0"));
    free(out);

    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "hit=0 miss=0 load=300"));
    free(out);

    /* and the CLI sees the entries the demo left */
    snprintf(cmd, sizeof cmd, "%s count %s:%s/archive", kt_bin("klepto"), scheme, dir);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_string_equal(out, "300\n");
    free(out);
    kt_rmrf(dir);
    free(dir);
}

static void demo_second_run_loads_everything_from_dir(void **state)
{
    (void)state;
    run_twice("dir");
}

static void demo_second_run_loads_everything_from_file(void **state)
{
    (void)state;
    run_twice("file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(demo_second_run_loads_everything_from_dir),
        cmocka_unit_test(demo_second_run_loads_everything_from_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
