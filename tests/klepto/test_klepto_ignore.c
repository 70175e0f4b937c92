/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_ignore.py: signatures, and keys with ignored
 * arguments (@keygen('x', '**') on foo(x, y, z=2)).
 *
 * Replayed with klepto's results: test_signature for bar(x, y, z, a=1,
 * b=2, *args) (names, defaults, *args, no **kwds); test_keygen_foo: the
 * raw keys, then the md5 hashmap keys (md5 of the raw key's repr).
 * Deliberate difference (docs/from-python.md): a call the function would
 * refuse (foo(0, 1, r=3), foo(0, 1, x=1)) gets a key from klepto, with
 * valid() False; here key generation refuses it with KL_EINVAL naming the
 * argument, as kl_keygen_validate does.
 * Not applicable: partial functions (test_signature's partials,
 * test_keygen's _keygen of a partial, test_special's partials and
 * builtins): a C function's signature is written out in full, there is
 * nothing to inspect; foo.call() (klepto's keygen decorator replays the
 * last call). */
#include "testutil.h"

#include "pykeys.h"

#include "klepto/digest.h"
#include "klepto/error.h"

#include <stdlib.h>
#include <string.h>

static void test_signature(void **state)
{
    (void)state;
    /* signature(bar) == (('x', 'y', 'z', 'a', 'b'), {'a': 1, 'b': 2}, 'args', '') */
    kl_signature *s;
    KT_OK(kl_signature_parse(&s, "x, y, z, a=1, b=2, *args"));
    const char *names[] = {"x", "y", "z", "a", "b"};
    assert_int_equal(kl_signature_nparams(s), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(kl_signature_param(s, i), names[i]);
    for (size_t i = 0; i < 3; i++)
        assert_null(kl_signature_default(s, i));
    assert_int_equal(kl_signature_default(s, 3)->u.i, 1);
    assert_int_equal(kl_signature_default(s, 4)->u.i, 2);
    assert_true(kl_signature_has_varargs(s));
    assert_false(kl_signature_has_varkw(s));
    kl_signature_free(s);
}

static void expect(const kl_keygen *kg, const char *args, const char *kwargs, const char *want)
{
    char *got = kt_key_repr(kg, args, kwargs);
    if (strcmp(got, want))
        fail_msg("foo%s %s\n  got:  %s\n  want: %s", args, kwargs ? kwargs : "", got, want);
    free(got);
}

static void test_keygen_foo(void **state)
{
    (void)state;
    /* @keygen('x', '**') def foo(x, y, z=2) */
    kl_keymap *km = kt_keymap("keymap", NULL, false, true);
    kl_keygen *kg = kt_keygen("x, y, z=2", km, "x, **", KL_TOL_NONE, KL_ROUND_SIMPLE);
    expect(kg, "(0, 1, 2)", NULL, "('x', NULL, 'y', 1, 'z', 2)");
    expect(kg, "(10, 1, 2)", NULL, "('x', NULL, 'y', 1, 'z', 2)");
    expect(kg, "(0, 1)", NULL, "('x', NULL, 'y', 1, 'z', 2)");
    expect(kg, "(0, 1, 3)", NULL, "('x', NULL, 'y', 1, 'z', 3)");
    /* foo(0, 1, r=3) and foo(0, 1, x=1): klepto keys them, valid() is
     * False; refused here (difference: invalid calls get no key) */
    kl_value v;
    assert_int_equal(kt_call_key(kg, "(0, 1)", "{'r': 3}", &v), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "'r'"));
    assert_int_equal(kt_call_key(kg, "(0, 1)", "{'x': 1}", &v), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "'x'"));
    const char *res2 = "('x', NULL, 'y', 2, 'z', 10)", *res1 = "('x', NULL, 'y', 1, 'z', 10)";
    expect(kg, "(10,)", "{'y': 2, 'z': 10}", res2);
    expect(kg, "(0, 1)", "{'z': 10}", res1);
    kl_keygen_free(kg);
    kl_keymap_free(km);

    /* foo.register(hashmap(algorithm='md5')): keys are hash(res, 'md5') */
    char h1[KL_DIGEST_HEX_MAX + 2] = "'", h2[KL_DIGEST_HEX_MAX + 2] = "'";
    KT_OK(kl_digest_hex_named("md5", res1, strlen(res1), h1 + 1, KL_DIGEST_HEX_MAX));
    KT_OK(kl_digest_hex_named("md5", res2, strlen(res2), h2 + 1, KL_DIGEST_HEX_MAX));
    strcat(h1, "'");
    strcat(h2, "'");
    km = kt_keymap("hashmap", "md5", false, true);
    kg = kt_keygen("x, y, z=2", km, "x, **", KL_TOL_NONE, KL_ROUND_SIMPLE);
    expect(kg, "(0, 1)", "{'z': 10}", h1);
    expect(kg, "(10,)", "{'y': 1, 'z': 10}", h1);
    expect(kg, "(10,)", "{'y': 2, 'z': 10}", h2);
    kl_keygen_free(kg);
    kl_keymap_free(km);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_keygen_foo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
