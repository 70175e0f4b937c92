/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_chaining.py: h = hashmap(algorithm='md5'),
 * p = picklemap(serializer=…), hp = p + h.
 *
 * Replayed with klepto's results: p(1), h(1), hp(1), h(p(1)) == hp(1),
 * hp's inner and outer parts, single keymaps having neither; and, beyond
 * the script, a call of several arguments, where klepto hands the whole
 * layout to the inner keymap as one argument (hp(1, 2, a=3) is not
 * h(p(1, 2, a=3))).  The serializer is cbor: klepto's picklemap with
 * cbor2 gives the same bytes, and the expected digests below are klepto's
 * for it.  Refused here as documented (docs/from-python.md): a chain as
 * the outer part (klepto's a + (b + c) silently drops b).
 * Not applicable: serializer='dill' (Python pickles; its digests depend on
 * the Python version, as the script's three branches show). */
#include "testutil.h"

#include "pykeys.h"

#include "klepto/error.h"

#include <stdlib.h>
#include <string.h>

static char *call_repr(const kl_keymap *km, const char *args, const char *kwargs)
{
    return kt_keymap_call_repr(km, args, kwargs);
}

static void expect(const kl_keymap *km, const char *args, const char *kwargs, const char *want)
{
    char *got = call_repr(km, args, kwargs);
    if (strcmp(got, want))
        fail_msg("key of %s\n  got:  %s\n  want: %s", args, got, want);
    free(got);
}

static void test_chaining(void **state)
{
    (void)state;
    kl_keymap *h = kt_keymap("hashmap", "md5", false, true);
    kl_keymap *p = kt_keymap("picklemap", "cbor", false, true);
    /* p(1) == pickle(1, serializer=…): cbor2.dumps(1) */
    expect(p, "(1,)", NULL, "b'\\x01'");
    /* h(1) == 'c4ca4238a0b923820dcc509a6f75849b' */
    expect(h, "(1,)", NULL, "'c4ca4238a0b923820dcc509a6f75849b'");
    /* single keymaps are not chains */
    assert_null(kl_keymap_inner(h));
    assert_null(kl_keymap_outer(h));
    assert_null(kl_keymap_inner(p));
    assert_null(kl_keymap_outer(p));

    /* h(p(1)) == hp(1) (klepto: db48df3d45a3d5e91e8ff60feafb5605) */
    kl_keymap *h2 = kt_keymap("hashmap", "md5", false, true);
    kl_keymap *p2 = kt_keymap("picklemap", "cbor", false, true);
    kl_keymap *hp = kt_chain(p2, h2);
    expect(hp, "(1,)", NULL, "'db48df3d45a3d5e91e8ff60feafb5605'");
    expect(h, "(b'\\x01',)", NULL, "'db48df3d45a3d5e91e8ff60feafb5605'");
    /* hp.inner is p, hp.outer is h */
    assert_ptr_equal(kl_keymap_inner(hp), p2);
    assert_ptr_equal(kl_keymap_outer(hp), h2);
    char *a = call_repr(kl_keymap_inner(hp), "(1,)", NULL), *b = call_repr(p, "(1,)", NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    a = call_repr(kl_keymap_outer(hp), "(1,)", NULL), b = call_repr(h, "(1,)", NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);

    /* several arguments: the inner keymap gets the layout (1, 2, 'a', 3)
     * as its one argument; klepto: hp(1, 2, a=3) is 521dd96f…, while
     * h(p(1, 2, a=3)) (p's key b'\x84\x01\x02aa\x03') is a873976c… */
    expect(p, "(1, 2)", "{'a': 3}", "b'\\x84\\x01\\x02aa\\x03'");
    expect(hp, "(1, 2)", "{'a': 3}", "'521dd96f7b96c5a08694dfd75280c39e'");
    expect(h, "(b'\\x84\\x01\\x02aa\\x03',)", NULL, "'a873976c1c90be36abfc05990e4c23c9'");

    /* a chain as the outer part is refused (klepto drops its inner part) */
    kl_keymap *s = kt_keymap("stringmap", NULL, false, true), *bad = NULL;
    assert_int_equal(kl_keymap_chain(&bad, hp, s), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "itself a chain"));
    assert_null(bad);
    kl_keymap_free(s);
    kl_keymap_free(hp);
    kl_keymap_free(h);
    kl_keymap_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chaining),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
