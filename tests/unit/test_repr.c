/* SPDX-License-Identifier: BSD-3-Clause */
/* Python-literal rendering and parsing, against Python's own repr(). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/codec.h"
#include "klepto/error.h"

/* repr of v as a heap C string (the caller frees). */
static char *repr_of(const kl_value *v)
{
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_repr(&b, v));
    const char *s = kl_buf_cstr(&b);
    assert_non_null(s);
    return (char *)b.data;
}

static void assert_repr(const kl_value *v, const char *want)
{
    char *got = repr_of(v);
    assert_string_equal(got, want);
    free(got);
}

static void assert_double_repr(double f, const char *want)
{
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_repr_double(&b, f));
    assert_string_equal(kl_buf_cstr(&b), want);
    kl_buf_free(&b);
}

/* parse(text) rendered again gives `want`. */
static void assert_parse_repr(const char *text, const char *want)
{
    kl_value v;
    int rc = kl_parse(text, strlen(text), &v);
    if (rc)
        fail_msg("parse(%s) -> %d: %s", text, rc, kl_errmsg());
    char *got = repr_of(&v);
    if (strcmp(got, want) != 0)
        fail_msg("parse(%s) renders as %s, want %s", text, got, want);
    free(got);
    kl_value_free(&v);
}

static void assert_parse_fails(const char *text, const char *msg_part)
{
    kl_value v;
    int rc = kl_parse(text, strlen(text), &v);
    if (rc != KL_EINVAL)
        fail_msg("parse(%s) -> %d, want KL_EINVAL", text, rc);
    if (!strstr(kl_errmsg(), msg_part))
        fail_msg("parse(%s) message '%s' lacks '%s'", text, kl_errmsg(), msg_part);
}

static void test_float_repr_is_pythons_shortest(void **state)
{
    (void)state;
    assert_double_repr(0.1, "0.1");
    assert_double_repr(1e16, "1e+16");
    assert_double_repr(1e15, "1000000000000000.0");
    assert_double_repr(1e-05, "1e-05");
    assert_double_repr(0.0001, "0.0001");
    assert_double_repr(-0.0, "-0.0");
    assert_double_repr(0.0, "0.0");
    assert_double_repr(1.0, "1.0");
    assert_double_repr(123456789012345.0, "123456789012345.0");
    assert_double_repr(INFINITY, "inf");
    assert_double_repr(-INFINITY, "-inf");
    assert_double_repr(NAN, "nan");
    assert_double_repr(0.1 + 0.2, "0.30000000000000004");
    assert_double_repr(1.0 / 3, "0.3333333333333333");
    assert_double_repr(5e-324, "5e-324");
    assert_double_repr(1.7976931348623157e308, "1.7976931348623157e+308");
    assert_double_repr(1e100, "1e+100");
    assert_double_repr(-2.5e-7, "-2.5e-07");
}

static void test_float_repr_matches_python_on_thousands(void **state)
{
    (void)state;
    size_t len;
    char *all = kt_slurp(kt_data("float_repr.txt"), &len);
    assert_non_null(all);
    int n = 0;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        unsigned long long bits = strtoull(line, NULL, 16);
        const char *want = strchr(line, ' ') + 1;
        double f;
        memcpy(&f, &bits, 8);
        kl_buf b = KL_BUF_INIT;
        KT_OK(kl_repr_double(&b, f));
        if (strcmp(kl_buf_cstr(&b), want) != 0)
            fail_msg("repr(%016llx) = %s, Python says %s", bits, kl_buf_cstr(&b), want);
        kl_buf_free(&b);
        /* and the text reads back as the same double */
        kl_value v;
        KT_OK(kl_parse(want, strlen(want), &v));
        assert_int_equal(v.type, KL_FLOAT);
        assert_memory_equal(&v.u.f, &f, 8);
        n++;
    }
    assert_true(n > 10000);
    free(all);
}

static void test_repr_matches_python_on_generated_values(void **state)
{
    (void)state;
    size_t len;
    char *all = kt_slurp(kt_data("repr_python.txt"), &len);
    assert_non_null(all);
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_parse_repr(line, line);
        n++;
    }
    assert_true(n > 1000);
    free(all);
}

static void test_scalars_render_as_python(void **state)
{
    (void)state;
    kl_value v = kl_value_null();
    assert_repr(&v, "None");
    v = kl_value_bool(true);
    assert_repr(&v, "True");
    v = kl_value_bool(false);
    assert_repr(&v, "False");
    v = kl_value_int(INT64_MIN);
    assert_repr(&v, "-9223372036854775808");
    v = kl_value_int(42);
    assert_repr(&v, "42");
    v = kl_value_ignored();
    assert_repr(&v, "NULL");
}

static void test_strings_pick_quotes_and_escape_like_python(void **state)
{
    (void)state;
    kl_value v = kl_value_cstr_ref("it's");
    assert_repr(&v, "\"it's\"");
    v = kl_value_cstr_ref("say \"hi\"");
    assert_repr(&v, "'say \"hi\"'");
    v = kl_value_cstr_ref("both ' and \"");
    assert_repr(&v, "'both \\' and \"'");
    v = kl_value_cstr_ref("tab\tnl\ncr\rbs\\ esc\x1b del\x7f");
    assert_repr(&v, "'tab\\tnl\\ncr\\rbs\\\\ esc\\x1b del\\x7f'");
    /* é printable, NBSP and soft hyphen not, U+2028 not, emoji printable,
     * U+E0001 (a tag character) not */
    v = kl_value_cstr_ref("\xc3\xa9\xc2\xa0\xc2\xad\xe2\x80\xa8\xf0\x9f\x98\x80\xf3\xa0\x80\x81");
    assert_repr(&v, "'\xc3\xa9\\xa0\\xad\\u2028\xf0\x9f\x98\x80\\U000e0001'");
    v = kl_value_text_ref("a\0b", 3);
    assert_repr(&v, "'a\\x00b'");
}

static void test_bytes_render_as_python(void **state)
{
    (void)state;
    kl_value v = kl_value_bytes_ref("\x00\xff'A\\\n", 6);
    assert_repr(&v, "b\"\\x00\\xff'A\\\\\\n\"");
    v = kl_value_bytes_ref("", 0);
    assert_repr(&v, "b''");
    v = kl_value_bytes_ref("'\"", 2);
    assert_repr(&v, "b'\\'\"'");
}

static void test_containers_render_as_python(void **state)
{
    (void)state;
    kl_value items[3] = {kl_value_int(1), kl_value_float(2.5), kl_value_cstr_ref("a")};
    kl_value t = kl_value_array_ref(items, 3, true);
    assert_repr(&t, "(1, 2.5, 'a')");
    t = kl_value_array_ref(items, 1, true);
    assert_repr(&t, "(1,)");
    t = kl_value_array_ref(items, 0, true);
    assert_repr(&t, "()");
    t = kl_value_array_ref(items, 2, false);
    assert_repr(&t, "[1, 2.5]");

    kl_value m = kl_value_map(), k, x;
    KT_OK(kl_value_text(&k, "k", 1));
    x = kl_value_float(1.5);
    KT_OK(kl_value_map_put(&m, &k, &x));
    k = kl_value_int(-3);
    x = kl_value_null();
    KT_OK(kl_value_map_put(&m, &k, &x));
    assert_repr(&m, "{'k': 1.5, -3: None}");
    kl_value_free(&m);
    m = kl_value_map();
    assert_repr(&m, "{}");
}

static void test_ndarrays_render_and_parse_back(void **state)
{
    (void)state;
    size_t shape[2] = {2, 3};
    int32_t data[6] = {1, -2, 3, 4, 5, 2147483647};
    kl_value nd;
    KT_OK(kl_value_ndarray(&nd, KL_DT_INT32, 2, shape, data));
    assert_repr(&nd, "array([[1, -2, 3], [4, 5, 2147483647]], dtype=int32)");
    kl_value_free(&nd);

    float f[2] = {0.1f, -1.5f};
    KT_OK(kl_value_ndarray(&nd, KL_DT_FLOAT32, 1, (size_t[]){2}, f));
    char *s = repr_of(&nd);
    assert_string_equal(s, "array([0.10000000149011612, -1.5], dtype=float32)");
    kl_value back;
    KT_OK(kl_parse(s, strlen(s), &back));
    assert_true(kl_value_equal(&nd, &back));
    free(s);
    kl_value_free(&back);
    kl_value_free(&nd);

    KT_OK(kl_value_ndarray(&nd, KL_DT_FLOAT64, 2, (size_t[]){0, 3}, NULL));
    assert_repr(&nd, "array([], shape=(0, 3), dtype=float64)");
    kl_value_free(&nd);

    uint64_t big = UINT64_MAX;
    KT_OK(kl_value_ndarray(&nd, KL_DT_UINT64, 0, NULL, &big));
    assert_repr(&nd, "array(18446744073709551615, dtype=uint64)");
    kl_value_free(&nd);

    assert_parse_repr("array([[1, 2], [3, 4]], dtype=int8)", "array([[1, 2], [3, 4]], dtype=int8)");
    assert_parse_repr("array([[], []], dtype=uint16)", "array([], shape=(2, 0), dtype=uint16)");
    assert_parse_repr("array([], shape=(90991108629889, 0), dtype=int8)",
                      "array([], shape=(90991108629889, 0), dtype=int8)");
    assert_parse_repr("array([], dtype=int8)", "array([], dtype=int8)");
    assert_parse_repr("array([1, 2.5])", "array([1.0, 2.5], dtype=float64)");
    assert_parse_repr("array([1, 2])", "array([1, 2], dtype=int64)");
    assert_parse_repr("array([1, 2], dtype='uint8')", "array([1, 2], dtype=uint8)");
    assert_parse_repr("array([float(18446744073709551615)])",
                      "array([1.8446744073709552e+19], dtype=float64)");
    assert_parse_fails("float(18446744073709551615)", "int64 range");
    assert_parse_fails("array([[1, 2], [3]])", "not rectangular");
    assert_parse_fails("array([300], dtype=uint8)", "out of its dtype's range");
    assert_parse_fails("array([1.5], dtype=int32)", "float element");
    assert_parse_fails("array([1], dtype=complex128)", "unknown dtype");
}

static void test_parse_accepts_python_spellings(void **state)
{
    (void)state;
    assert_parse_repr("  ( 1 , -2.50 ,'a' , None , )  ", "(1, -2.5, 'a', None)");
    assert_parse_repr("(7,)", "(7,)");
    assert_parse_repr("((7))", "7");
    assert_parse_repr("()", "()");
    assert_parse_repr("[]", "[]");
    assert_parse_repr("\"it's\"", "\"it's\"");
    assert_parse_repr("'it\\'s'", "\"it's\"");
    assert_parse_repr("'\\u00e9\\U0001F600\\x41\\101\\0'", "'\xc3\xa9\xf0\x9f\x98\x80"
                                                           "AA\\x00'");
    assert_parse_repr("'a\\qb'", "'a\\\\qb'"); /* unknown escape keeps its backslash */
    assert_parse_repr("r'a\\nb'", "'a\\\\nb'");
    assert_parse_repr("b'\\x00\\xffA\\u1234'", "b'\\x00\\xffA\\\\u1234'");
    assert_parse_repr("B\"x\"", "b'x'");
    assert_parse_repr("'''tri'ple'''", "\"tri'ple\"");
    assert_parse_repr("inf", "inf");
    assert_parse_repr("-inf", "-inf");
    assert_parse_repr("+inf", "inf");
    assert_parse_repr("nan", "nan");
    assert_parse_repr("float('-inf')", "-inf");
    assert_parse_repr("float('nan')", "nan");
    assert_parse_repr("- 3", "-3");
    assert_parse_repr("1_000_000", "1000000");
    assert_parse_repr("1E3", "1000.0");
    assert_parse_repr(".5", "0.5");
    assert_parse_repr("5.", "5.0");
    assert_parse_repr("-0.0", "-0.0");
    assert_parse_repr("0", "0");
    assert_parse_repr("-9223372036854775808", "-9223372036854775808");
    assert_parse_repr("{1: {'a': [True, False]}, (1, 2): b''}",
                      "{1: {'a': [True, False]}, (1, 2): b''}");
    assert_parse_repr("NULL", "NULL");
    assert_parse_repr("\n\t[1,\n 2]\n", "[1, 2]");
}

static void test_parse_marks_tuples_not_lists(void **state)
{
    (void)state;
    kl_value v;
    KT_OK(kl_parse("([1], (2,))", 11, &v));
    assert_int_equal(v.type, KL_ARRAY);
    assert_true(v.flags & KL_VALUE_TUPLE);
    assert_false(v.u.a.items[0].flags & KL_VALUE_TUPLE);
    assert_true(v.u.a.items[1].flags & KL_VALUE_TUPLE);
    kl_value_free(&v);
}

static void test_parse_errors_name_the_position(void **state)
{
    (void)state;
    assert_parse_fails("", "position 0");
    assert_parse_fails("[1, 2", "position 5");
    assert_parse_fails("(1 2)", "position 3: expected ',' or ')'");
    assert_parse_fails("{1 2}", "position 3: expected ':'");
    assert_parse_fails("'abc", "unterminated string");
    assert_parse_fails("1 2", "position 2: unexpected text");
    assert_parse_fails("9223372036854775808", "int64 range");
    assert_parse_fails("-9223372036854775809", "int64 range");
    assert_parse_fails("007", "leading zeros");
    assert_parse_fails("foo", "position 0: expected a value");
    assert_parse_fails("'\\x4'", "bad hex digit");
    assert_parse_fails("'\\ud800'", "not a Unicode scalar value");
    assert_parse_fails("b'\xc3\xa9'", "non-ASCII");
    assert_parse_fails("'\xff'", "not valid UTF-8");
    assert_parse_fails("12abc", "unexpected character");
    /* numbers follow Python's grammar exactly */
    assert_parse_fails("1e", "exponent has no digits");
    assert_parse_fails("131e+", "exponent has no digits");
    assert_parse_fails("1e.", "exponent has no digits");
    assert_parse_fails("1.2.3", "unexpected text");
    assert_parse_fails("1__0", "between two digits");
    assert_parse_fails("1_", "between two digits");
    assert_parse_fails("1._5", "between two digits");
    assert_parse_fails(".", "expected a value");
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    kl_value v;
    assert_int_equal(kl_parse(deep, 600, &v), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "deeper"));
}

static void test_json_spells_what_json_lacks(void **state)
{
    (void)state;
    kl_value v;
    const char *src = "{'a': [1, 2.5, None, True], 3: (b'hi!', inf, -inf, nan), 'q\"\\n': 1e+16}";
    KT_OK(kl_parse(src, strlen(src), &v));
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_json(&b, &v));
    assert_string_equal(kl_buf_cstr(&b),
                        "{\"a\": [1, 2.5, null, true], \"3\": [{\"$bytes\": \"aGkh\"}, \"inf\", "
                        "\"-inf\", \"nan\"], \"q\\\"\\n\": 1e+16}");
    kl_value_free(&v);
    kl_buf_reset(&b);
    src = "array([[1, 2]], dtype=uint8)";
    KT_OK(kl_parse(src, strlen(src), &v));
    KT_OK(kl_json(&b, &v));
    assert_string_equal(
        kl_buf_cstr(&b),
        "{\"$ndarray\": {\"dtype\": \"uint8\", \"shape\": [1, 2], \"data\": [1, 2]}}");
    kl_value_free(&v);
    kl_buf_reset(&b);
    v = kl_value_text_ref("\x01\xc3\xa9", 3);
    KT_OK(kl_json(&b, &v));
    assert_string_equal(kl_buf_cstr(&b), "\"\\u0001\xc3\xa9\"");
    kl_buf_reset(&b);
    v = kl_value_bytes_ref("a", 1);
    KT_OK(kl_json(&b, &v));
    assert_string_equal(kl_buf_cstr(&b), "{\"$bytes\": \"YQ==\"}");
    kl_buf_free(&b);
}

static void test_repr_rejects_bad_values_without_output(void **state)
{
    (void)state;
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_buf_append_str(&b, "x"));
    kl_value items[2] = {kl_value_int(1), kl_value_text_ref("\xff", 1)};
    kl_value a = kl_value_array_ref(items, 2, false);
    assert_int_equal(kl_repr(&b, &a), KL_ETYPE);
    assert_int_equal(b.len, 1); /* nothing half-written */
    kl_value bad = kl_value_null();
    bad.type = 77;
    assert_int_equal(kl_repr(&b, &bad), KL_ETYPE);
    assert_int_equal(kl_json(&b, &bad), KL_ETYPE);
    kl_buf_free(&b);
}

static void test_json_keys_of_containers_stay_linear(void **state)
{
    (void)state;
    kl_value v;
    const char *src = "{(1, 'a'): 3, 2: None, 1.5: True, None: 0}";
    KT_OK(kl_parse(src, strlen(src), &v));
    kl_buf out = KL_BUF_INIT;
    KT_OK(kl_json(&out, &v));
    assert_string_equal(kl_buf_cstr(&out), "{\"(1, 'a')\": 3, \"2\": null, \"1.5\": true, \"null\": 0}");
    kl_value_free(&v);
    /* maps nested as keys of maps, 200 deep: the JSON grows linearly */
    kl_buf lit = KL_BUF_INIT;
    for (int i = 0; i < 200; i++)
        kl_buf_append_str(&lit, "{");
    kl_buf_append_str(&lit, "'x\"y': 1}");
    for (int i = 1; i < 200; i++)
        kl_buf_append_str(&lit, ": 1}");
    KT_OK(kl_parse((const char *)lit.data, lit.len, &v));
    out.len = 0;
    KT_OK(kl_json(&out, &v));
    assert_true(out.len < 20 * lit.len);
    kl_value_free(&v);
    kl_buf_free(&lit);
    kl_buf_free(&out);
}

/* CBOR undefined (0xf7) is the ignored-argument marker: it decodes to
 * KL_IGNORED and renders NULL (Python klepto's marker), told apart from
 * None (CBOR null, 0xf6) wherever it sits, and the text reads back to the
 * very byte it came from. */
static void test_cbor_undefined_renders_null_apart_from_none(void **state)
{
    (void)state;
    static const struct {
        const uint8_t bytes[8];
        size_t len;
        const char *text;
    } cases[] = {
        {{0xf7}, 1, "NULL"},
        {{0xf6}, 1, "None"},
        {{0x82, 0xf6, 0xf7}, 3, "[None, NULL]"},
        {{0x82, 0xf7, 0xf6}, 3, "[NULL, None]"},
        {{0xa2, 0xf6, 0xf7, 0xf7, 0xf6}, 5, "{None: NULL, NULL: None}"},
        {{0x81, 0x64, 'N', 'U', 'L', 'L'}, 6, "['NULL']"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        kl_value v;
        KT_OK(kl_decode(cases[c].bytes, cases[c].len, &v));
        if (c == 0)
            assert_int_equal(v.type, KL_IGNORED);
        char *got = repr_of(&v);
        assert_string_equal(got, cases[c].text);
        kl_value_free(&v);
        /* and back: the text encodes to the bytes it was rendered from */
        kl_buf enc = KL_BUF_INIT;
        KT_OK(kl_parse(got, strlen(got), &v));
        KT_OK(kl_encode(&enc, &v, 0));
        assert_int_equal(enc.len, cases[c].len);
        assert_memory_equal(enc.data, cases[c].bytes, enc.len);
        kl_value_free(&v);
        kl_buf_free(&enc);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_keys_of_containers_stay_linear),
        cmocka_unit_test(test_float_repr_is_pythons_shortest),
        cmocka_unit_test(test_float_repr_matches_python_on_thousands),
        cmocka_unit_test(test_repr_matches_python_on_generated_values),
        cmocka_unit_test(test_scalars_render_as_python),
        cmocka_unit_test(test_strings_pick_quotes_and_escape_like_python),
        cmocka_unit_test(test_bytes_render_as_python),
        cmocka_unit_test(test_containers_render_as_python),
        cmocka_unit_test(test_ndarrays_render_and_parse_back),
        cmocka_unit_test(test_parse_accepts_python_spellings),
        cmocka_unit_test(test_parse_marks_tuples_not_lists),
        cmocka_unit_test(test_parse_errors_name_the_position),
        cmocka_unit_test(test_json_spells_what_json_lacks),
        cmocka_unit_test(test_repr_rejects_bad_values_without_output),
        cmocka_unit_test(test_cbor_undefined_renders_null_apart_from_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
