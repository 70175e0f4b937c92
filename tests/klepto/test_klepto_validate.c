/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_validate.py: validate(f, *args, **kwds) raises
 * what calling f would raise, or returns None.
 *
 * Replayed: test_foo, test_Bar_foo and test_Bar on foo(x, y, z, a=1, b=2)
 * (the methods' signatures without self are foo's): a good call passes,
 * a call missing required arguments and one with an unexpected keyword
 * are refused (klepto: TypeError; here KL_EINVAL naming the problem).
 * Not applicable: the six partial-function scenarios (test_partial_foo_*):
 * there are no partial functions in C, a signature is written out in
 * full. */
#include "testutil.h"

#include "pykeys.h"

#include "klepto/error.h"

#include <stdio.h>
#include <string.h>

static int validate(const kl_keygen *kg, const char *args, const char *kwargs)
{
    kl_value a = kt_lit(args), k = kwargs ? kt_lit(kwargs) : kl_value_null();
    size_t nk = kwargs ? k.u.m.len : 0;
    const char *names[8];
    kl_value named[8];
    char buf[8][16];
    for (size_t i = 0; i < nk; i++) {
        const kl_value *n = &k.u.m.items[2 * i];
        snprintf(buf[i], sizeof buf[i], "%.*s", (int)n->u.s.len, n->u.s.ptr);
        names[i] = buf[i];
        named[i] = k.u.m.items[2 * i + 1];
    }
    kl_call c = {a.u.a.items, a.u.a.len, names, named, nk};
    int rc = kl_keygen_validate(kg, &c);
    kl_value_free(&a);
    kl_value_free(&k);
    return rc;
}

static void scenarios(const char *what)
{
    kl_keymap *km = kt_keymap("keymap", NULL, false, true);
    kl_keygen *kg = kt_keygen("x, y, z, a=1, b=2", km, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    /* validate(p, 1, 2, 3, 4, b=5) is None */
    if (validate(kg, "(1, 2, 3, 4)", "{'b': 5}"))
        fail_msg("%s: a good call refused: %s", what, kl_errmsg());
    /* validate(p): TypeError, foo() missing 3 required positional arguments */
    assert_int_equal(validate(kg, "()", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "'x'"));
    /* validate(p, 1, 2, 3, 4, r=5): TypeError, unexpected keyword 'r' */
    assert_int_equal(validate(kg, "(1, 2, 3, 4)", "{'r': 5}"), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "'r'"));
    kl_keygen_free(kg);
    kl_keymap_free(km);
}

/* test_foo; test_Bar_foo and test_Bar replay it on Bar().foo and Bar(),
 * whose signatures without self are foo's: the same three scenarios. */
static void test_foo(void **state)
{
    (void)state;
    scenarios("foo");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
