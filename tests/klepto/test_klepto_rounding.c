/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_rounding.py: deep, simple and shallow rounding
 * of add(x, y) with tol=1, and rounding inside key generation
 * (@keygen('x', 2, tol=2) on add(w, x, y, z)).
 *
 * klepto's rounding decorators round the arguments the function then
 * adds; here rounding is part of key generation (as in klepto's caches),
 * so each scenario asserts the rounded arguments as the key shows them
 * (stringmap, so 9.0 stays 9.0): klepto's sum of those arguments is the
 * script's expected result (x + y concatenates the lists).
 * Not applicable: add.call() after @keygen (klepto's keygen decorator
 * keeps the last call to replay it; a memo here calls the function
 * itself, test_memo covers that). */
#include "testutil.h"

#include "pykeys.h"

#include <stdlib.h>
#include <string.h>

static void expect(const char *sig, const char *ignore, int tol, kl_rounding r, const char *args,
                   const char *want)
{
    kl_keymap *km = kt_keymap("stringmap", NULL, false, true);
    kl_keygen *kg = kt_keygen(sig, km, ignore, tol, r);
    char *got = kt_key_repr(kg, args, NULL);
    if (strcmp(got, want))
        fail_msg("key of add%s\n  got:  %s\n  want: %s", args, got, want);
    free(got);
    kl_keygen_free(kg);
    kl_keymap_free(km);
}

static void test_deep_round(void **state)
{
    (void)state;
    /* add(2.54, 5.47) == 8.0: 2.5 + 5.5 */
    expect("x, y", NULL, 1, KL_ROUND_DEEP, "(2.54, 5.47)", "\"('x', 2.5, 'y', 5.5)\"");
    /* == [2.5, 'x', 5.5, 'y'] */
    expect("x, y", NULL, 1, KL_ROUND_DEEP, "([2.54, 'x'], [5.47, 'y'])",
           "\"('x', [2.5, 'x'], 'y', [5.5, 'y'])\"");
    /* == [2.5, 'x', 5.5, [9.0, 'y']] */
    expect("x, y", NULL, 1, KL_ROUND_DEEP, "([2.54, 'x'], [5.47, [8.99, 'y']])",
           "\"('x', [2.5, 'x'], 'y', [5.5, [9.0, 'y']])\"");
}

static void test_simple_round(void **state)
{
    (void)state;
    expect("x, y", NULL, 1, KL_ROUND_SIMPLE, "(2.54, 5.47)", "\"('x', 2.5, 'y', 5.5)\"");
    /* == [2.54, 'x', 5.4699999999999998, 'y'] (that is 5.47) */
    expect("x, y", NULL, 1, KL_ROUND_SIMPLE, "([2.54, 'x'], [5.47, 'y'])",
           "\"('x', [2.54, 'x'], 'y', [5.47, 'y'])\"");
    /* == [2.54, 'x', 5.47, [8.99, 'y']] */
    expect("x, y", NULL, 1, KL_ROUND_SIMPLE, "([2.54, 'x'], [5.47, [8.99, 'y']])",
           "\"('x', [2.54, 'x'], 'y', [5.47, [8.99, 'y']])\"");
}

static void test_shallow_round(void **state)
{
    (void)state;
    expect("x, y", NULL, 1, KL_ROUND_SHALLOW, "(2.54, 5.47)", "\"('x', 2.5, 'y', 5.5)\"");
    expect("x, y", NULL, 1, KL_ROUND_SHALLOW, "([2.54, 'x'], [5.47, 'y'])",
           "\"('x', [2.5, 'x'], 'y', [5.5, 'y'])\"");
    /* == [2.5, 'x', 5.5, [8.99, 'y']]: one level only */
    expect("x, y", NULL, 1, KL_ROUND_SHALLOW, "([2.54, 'x'], [5.47, [8.99, 'y']])",
           "\"('x', [2.5, 'x'], 'y', [5.5, [8.99, 'y']])\"");
}

static void test_keygen(void **state)
{
    (void)state;
    /* @keygen('x', 2, tol=2) def add(w, x, y, z) */
    expect("w, x, y, z", "x, 2", 2, KL_ROUND_SIMPLE, "(1.11111, 2.222222, 3.333333, 4.444444)",
           "\"('w', 1.11, 'x', NULL, 'y', NULL, 'z', 4.44)\"");
    expect("w, x, y, z", "x, 2", 2, KL_ROUND_SIMPLE, "(1.11111, 2.2229, 100, 4.447)",
           "\"('w', 1.11, 'x', NULL, 'y', NULL, 'z', 4.45)\"");
    expect("w, x, y, z", "x, 2", 2, KL_ROUND_SIMPLE, "(1.11111, 100, 100, 4.441)",
           "\"('w', 1.11, 'x', NULL, 'y', NULL, 'z', 4.44)\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_round),
        cmocka_unit_test(test_simple_round),
        cmocka_unit_test(test_shallow_round),
        cmocka_unit_test(test_keygen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
