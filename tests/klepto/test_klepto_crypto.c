/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_crypto.py: klepto.crypto's string(), hash()
 * and pickle() as the keymaps apply them, and stringmap encodings.
 *
 * klepto.crypto's functions are not public here; each is observed through
 * the keymap that applies it: string(o) is stringmap()(o) for a lone str o
 * (klepto's key of one str argument is the str itself), and for the list
 * x the keymaps see the 1-tuple (x,), as in the script's stringmap lines.
 * x is the script's [1, 2, 3, '4', "'5'", min] without `min` (a Python
 * builtin function: not a value here); the expected values are klepto's
 * for that x.
 * Replayed: string('1'), string('1', encoding='repr'), hash(·, 'sha1'),
 * pickle(·) == string(·, 'repr'), string(·), stringmap() and
 * stringmap(encoding='utf_8') of x, and the encodings klepto lacks in
 * Python 3 ('unicode', 'zlib_codec', 'hex_codec': the script skips them;
 * klepto raises LookupError there, we refuse the keymap).
 * Deliberate difference (docs/from-python.md): picklemap's serializer
 * 'repr' gives bytes (klepto's pickle() gives str), and picklemap()'s
 * default serializer is cbor, not repr. */
#include "testutil.h"

#include "pykeys.h"

#include "klepto/error.h"

#include <stdlib.h>
#include <string.h>

#define X "([1, 2, 3, '4', \"'5'\"],)"

static void expect(const char *kind, const char *opt, const char *args, const char *want)
{
    kl_keymap *km = kt_keymap(kind, opt, false, true);
    char *got = kt_keymap_call_repr(km, args, NULL);
    if (strcmp(got, want))
        fail_msg("%s(%s)%s\n  got:  %s\n  want: %s", kind, opt ? opt : "", args, got, want);
    free(got);
    kl_keymap_free(km);
}

static void test_encoding(void **state)
{
    (void)state;
    /* string('1') == '1'; string('1', encoding='repr') == "'1'" */
    expect("stringmap", NULL, "('1',)", "'1'");
    expect("stringmap", "repr", "('1',)", "\"'1'\"");
    /* hash(x, 'sha1') */
    expect("hashmap", "sha1", X, "'fe055e4b9577137a3f42289f2e9dfd24886b9b3a'");
    /* pickle(x) == string(x, 'repr'): klepto's pickle() default is repr;
     * ours is picklemap(serializer='repr'), as bytes (difference) */
    expect("picklemap", "repr", X, "b'([1, 2, 3, \\'4\\', \"\\'5\\'\"],)'");
    expect("stringmap", "repr", X, "'([1, 2, 3, \\'4\\', \"\\'5\\'\"],)'");
    /* picklemap()'s default serializer is cbor here (klepto: repr) */
    expect("picklemap", NULL, "(1,)", "b'\\x01'");
    /* s = stringmap(); s(x) */
    expect("stringmap", NULL, X, "'([1, 2, 3, \\'4\\', \"\\'5\\'\"],)'");
    /* s = stringmap(encoding='utf_8'); s(x) == _b(…) (bytes) */
    expect("stringmap", "utf_8", X, "b'([1, 2, 3, \\'4\\', \"\\'5\\'\"],)'");
    /* klepto's ascii: the builtin ascii(), text */
    expect("stringmap", "ascii", "(['é'],)", "\"(['\\\\xe9'],)\"");
    /* 'unicode', 'zlib_codec', 'hex_codec': not text encodings in Python 3 */
    const char *gone[] = {"unicode", "zlib_codec", "hex_codec"};
    for (size_t i = 0; i < 3; i++) {
        kl_keymap *km = NULL;
        assert_int_equal(kt_keymap_try(&km, "stringmap", gone[i], false, true), KL_EINVAL);
        assert_non_null(strstr(kl_errmsg(), gone[i]));
        assert_null(km);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
