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
    assert_non_null(strstr(out, "['answer'] = 42"));
    free(out);
    /* a second run finds rosen(1, 2) in the SQLite archive */
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "hit=1 miss=0 load=1"));
    free(out);
    kt_rmrf(dir);
    free(dir);
}

/* optimize: the objective of a vector, rounded keys: nearby points share
 * results, and the search still finds the minimum */
static void optimize_shares_nearby_points(void **state)
{
    (void)state;
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s 2>&1", kt_bin("optimize"));
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "minimum 1.0000 at (1.000, 0.500, 0.250, 0.125)"));
    unsigned long evaluations = 0, computed = 0, hits = 0;
    const char *line = strstr(out, "evaluations ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "evaluations %lu, computed %lu, hits %lu", &evaluations,
                            &computed, &hits),
                     3);
    assert_true(hits > 0 && computed + hits == evaluations);
    free(out);
}

/* simulate: structs in and out, persisted in SQLite; a second process
 * loads every result and computes only the failing call (never cached) */
static void simulate_reloads_in_a_second_process(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("simulate");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", kt_bin("simulate"), dir);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, "spring  4.0: x = -0.235525, max 0.999996, 13 crossings"));
    assert_non_null(strstr(out, "mass 0: run returns -1 (not cached)"));
    assert_non_null(strstr(out, "computed 6, from memory 0"));
    free(out);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(strstr(out, ": 5 results"));
    assert_non_null(strstr(out, "spring  4.0: x = -0.235525, max 0.999996, 13 crossings"));
    assert_non_null(strstr(out, "computed 1, from memory 5"));
    free(out);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tour_runs_as_the_readme_says),
        cmocka_unit_test(optimize_shares_nearby_points),
        cmocka_unit_test(simulate_reloads_in_a_second_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
