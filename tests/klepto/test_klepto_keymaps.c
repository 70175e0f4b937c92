/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_keymaps.py: the four keymaps over
 * args = (1, 2), kwds = {"a": 3, "b": 4}, flat and not, typed and not.
 *
 * Replayed with klepto's results: keymap (flat, non-flat), stringmap (all
 * four), picklemap with klepto's 'json' serializer (untyped).
 * Deliberate differences (docs/from-python.md, "Keys and keymaps"), each
 * asserted here in our form:
 *  - typed raw keys hold the type as the text "<class 'int'>", not the
 *    type object (keys must be encodable values);
 *  - hashmap() without an algorithm is XXH3-128 of the canonical key, not
 *    Python's hash() (which is per-process and unportable);
 *  - picklemap keys are bytes (klepto's json and repr serializers give
 *    str);
 *  - typed picklemap(serializer='json') is refused when made (klepto
 *    raises TypeError at the first call: types are not JSON
 *    serializable);
 *  - beyond the script: non-flat keys list the names sorted (klepto: in
 *    the call's order); list and dict arguments get raw and hashmap()
 *    keys (klepto: TypeError, unhashable).
 * Not applicable: picklemap(serializer='dill') (no Python pickles here:
 * our serializers are cbor, json, repr; test_klepto_chaining uses cbor,
 * which klepto writes with cbor2 identically); test_stub_decode
 * (klepto's private _stub_decoder, not run by the script). */
#include "testutil.h"

#include "pykeys.h"

#include "klepto/codec.h"
#include "klepto/digest.h"
#include "klepto/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS "(1, 2)"
#define KWDS "{'a': 3, 'b': 4}"

static void expect_repr(const char *kind, const char *opt, bool typed, bool flat,
                        const char *want)
{
    kl_keymap *km = kt_keymap(kind, opt, typed, flat);
    char *got = kt_keymap_call_repr(km, ARGS, KWDS);
    if (strcmp(got, want))
        fail_msg("%s(typed=%d, flat=%d)\n  got:  %s\n  want: %s", kind, typed, flat, got, want);
    free(got);
    kl_keymap_free(km);
}

/* A raw key is a value: it must equal klepto's (the literal want), as
 * the canonical encoding says (tuples and lists encode alike). */
static void expect_raw(bool typed, bool flat, const char *want)
{
    kl_keymap *km = kt_keymap("keymap", NULL, typed, flat);
    kl_keygen *kg = kt_keygen(NULL, km, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    kl_value args = kt_lit(ARGS), kwds = kt_lit(KWDS), w = kt_lit(want);
    kl_buf got = KL_BUF_INIT, exp = KL_BUF_INIT;
    KT_OK(kt_key_bytes(kg, &args, &kwds, &got));
    KT_OK(kl_encode(&exp, &w, typed ? KL_ENC_ZERO_EQ : KL_ENC_NUMERIC_EQ));
    if (got.len != exp.len || memcmp(got.data, exp.data, got.len))
        fail_msg("keymap(typed=%d, flat=%d) is not %s", typed, flat, want);
    kl_buf_free(&got);
    kl_buf_free(&exp);
    kl_value_free(&args);
    kl_value_free(&kwds);
    kl_value_free(&w);
    kl_keygen_free(kg);
    kl_keymap_free(km);
}

static void test_keymap(void **state)
{
    (void)state;
    /* encode(*args, **kwds) == (1, 2, 'a', 3, 'b', 4) */
    expect_raw(false, true, "(1, 2, 'a', 3, 'b', 4)");
    /* == (args, kwds) */
    expect_raw(false, false, "((1, 2), {'a': 3, 'b': 4})");
    /* klepto: (1, 2, 'a', 3, 'b', 4, int, int, int, int); ours: the type
     * names as text (difference: typed raw keys) */
    expect_raw(true, true,
               "(1, 2, 'a', 3, 'b', 4, \"<class 'int'>\", \"<class 'int'>\", "
               "\"<class 'int'>\", \"<class 'int'>\")");
    expect_raw(true, false,
                "((1, 2), {'a': 3, 'b': 4}, (\"<class 'int'>\", \"<class 'int'>\"), "
                "(\"<class 'int'>\", \"<class 'int'>\"))");
}

/* Beyond the script: a list argument.  klepto's raw key ([1, 2],) cannot
 * enter its dict cache and hash(([1, 2],)) raises TypeError (unhashable);
 * here raw and hashmap() keys are built for any encodable value
 * (difference: unhashable arguments are keyed). */
static void test_unhashable_arguments(void **state)
{
    (void)state;
    const char *kinds[] = {"keymap", "hashmap"};
    for (int i = 0; i < 2; i++) {
        kl_keymap *km = kt_keymap(kinds[i], NULL, false, true);
        kl_keygen *kg = kt_keygen(NULL, km, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
        kl_value v;
        KT_OK(kt_call_key(kg, "([1, 2], {'k': [3]})", NULL, &v));
        assert_true(i == 0 ? v.type == KL_ARRAY : v.type == KL_TEXT);
        kl_value_free(&v);
        kl_keygen_free(kg);
        kl_keymap_free(km);
    }
}

static void test_hashmap(void **state)
{
    (void)state;
    /* klepto: hash((1, 2, 'a', 3, 'b', 4)); ours (difference: hashmap's
     * default algorithm): XXH3-128 of the canonical encoding of that key */
    const char *lits[] = {"(1, 2, 'a', 3, 'b', 4)",
                          "(1, 2, 'a', 3, 'b', 4, \"<class 'int'>\", \"<class 'int'>\", "
                          "\"<class 'int'>\", \"<class 'int'>\")"};
    for (int typed = 0; typed < 2; typed++) {
        kl_value k = kt_lit(lits[typed]);
        kl_buf enc = KL_BUF_INIT;
        KT_OK(kl_encode(&enc, &k, typed ? KL_ENC_ZERO_EQ : KL_ENC_NUMERIC_EQ));
        char want[40], quoted[48];
        kl_xxh3_128_hex(kl_xxh3_128(enc.data, enc.len), want);
        snprintf(quoted, sizeof quoted, "'%s'", want);
        expect_repr("hashmap", NULL, typed, true, quoted);
        kl_buf_free(&enc);
        kl_value_free(&k);
    }
}

static void test_stringmap(void **state)
{
    (void)state;
    expect_repr("stringmap", NULL, false, true, "\"(1, 2, 'a', 3, 'b', 4)\"");
    /* eval(encode(*args, **kwds)) == (args, kwds) */
    kl_keymap *km = kt_keymap("stringmap", NULL, false, false);
    kl_keygen *kg = kt_keygen(NULL, km, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    kl_value key, back, want = kt_lit("((1, 2), {'a': 3, 'b': 4})");
    KT_OK(kt_call_key(kg, ARGS, KWDS, &key));
    assert_int_equal(key.type, KL_TEXT);
    KT_OK(kl_parse(key.u.s.ptr, key.u.s.len, &back));
    assert_true(kl_value_equal(&back, &want));
    kl_value_free(&key);
    kl_value_free(&back);
    kl_value_free(&want);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    /* beyond the script: klepto's non-flat key keeps the call's order of
     * names, ((1,), {'b': 4, 'a': 3}); ours sorts them (difference) */
    kl_keymap *nf = kt_keymap("stringmap", NULL, false, false);
    char *got = kt_keymap_call_repr(nf, "(1,)", "{'b': 4, 'a': 3}");
    assert_string_equal(got, "\"((1,), {'a': 3, 'b': 4})\"");
    free(got);
    kl_keymap_free(nf);
    /* == str((1, 2, 'a', 3, 'b', 4, type(1), type(2), type(3), type(4))) */
    expect_repr("stringmap", NULL, true, true,
                "\"(1, 2, 'a', 3, 'b', 4, <class 'int'>, <class 'int'>, <class 'int'>, "
                "<class 'int'>)\"");
    expect_repr("stringmap", NULL, true, false,
                "\"((1, 2), {'a': 3, 'b': 4}, (<class 'int'>, <class 'int'>), (<class 'int'>, "
                "<class 'int'>))\"");
}

static void test_picklemap(void **state)
{
    (void)state;
    /* klepto's json serializer: json.dumps((1, 2, 'a', 3, 'b', 4)) ==
     * '[1, 2, "a", 3, "b", 4]' (str; ours bytes: difference) */
    expect_repr("picklemap", "json", false, true, "b'[1, 2, \"a\", 3, \"b\", 4]'");
    /* loads(encode(*args, **kwds)) == (args, kwds), as JSON: [[1, 2], {...}] */
    expect_repr("picklemap", "json", false, false, "b'[[1, 2], {\"a\": 3, \"b\": 4}]'");
    /* typed: klepto raises TypeError (type is not JSON serializable) */
    kl_keymap *km = NULL;
    assert_int_equal(kt_keymap_try(&km, "picklemap", "json", true, true), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "not JSON serializable"));
    assert_null(km);
    /* cbor (cbor2.dumps in klepto gives the same bytes) */
    expect_repr("picklemap", "cbor", false, true, "b'\\x86\\x01\\x02aa\\x03ab\\x04'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keymap),
        cmocka_unit_test(test_hashmap),
        cmocka_unit_test(test_unhashable_arguments),
        cmocka_unit_test(test_stringmap),
        cmocka_unit_test(test_picklemap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
