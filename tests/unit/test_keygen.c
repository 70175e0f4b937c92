/* SPDX-License-Identifier: BSD-3-Clause */
/* keygen: signatures, binding and validation, ignore masks, rounding
 * (Python's round), the fast path agreeing with the general one, and the
 * `klepto key` command. */
#include "testutil.h"

#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/keygen.h"
#include "klepto/keymap.h"

#include <float.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------- */

typedef struct fixture {
    kl_signature *sig;
    kl_keymap *km;
    kl_keygen *kg;
} fixture;

static void setup_kg(fixture *f, const char *spec, kl_keymap_kind kind, const char *ignore,
                     int tol, kl_rounding rounding)
{
    memset(f, 0, sizeof *f);
    if (spec)
        KT_OK(kl_signature_parse(&f->sig, spec));
    kl_keymap_opts mo = KL_KEYMAP_OPTS_INIT;
    mo.kind = kind;
    KT_OK(kl_keymap_new(&f->km, &mo));
    kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
    go.ignore = ignore;
    go.tol = tol;
    go.rounding = rounding;
    KT_OK(kl_keygen_new(&f->kg, f->sig, f->km, &go));
}

static void teardown_kg(fixture *f)
{
    kl_keygen_free(f->kg);
    kl_keymap_free(f->km);
    kl_signature_free(f->sig);
}

static kl_value lit(const char *text)
{
    kl_value v;
    KT_OK(kl_parse(text, strlen(text), &v));
    return v;
}

/* The string key of a call given as literals: pos[] then name=value pairs. */
static char *string_key(const kl_keygen *kg, const char *const *pos, size_t npos,
                        const char *const *names, const char *const *named, size_t nnamed,
                        int *rc_out)
{
    kl_value pv[16], nv[16];
    for (size_t i = 0; i < npos; i++)
        pv[i] = lit(pos[i]);
    for (size_t i = 0; i < nnamed; i++)
        nv[i] = lit(named[i]);
    kl_call c = {pv, npos, names, nv, nnamed};
    kl_buf b = KL_BUF_INIT;
    int rc = kl_keygen_key(kg, &c, &b);
    char *out = NULL;
    if (rc == 0) {
        kl_value v;
        KT_OK(kl_decode(b.data, b.len, &v));
        assert_int_equal(v.type, KL_TEXT);
        out = strndup(v.u.s.ptr, v.u.s.len);
        kl_value_free(&v);
    }
    if (rc_out)
        *rc_out = rc;
    else if (rc)
        fail_msg("key: %s: %s", kl_strerror(rc), kl_errmsg());
    kl_buf_free(&b);
    for (size_t i = 0; i < npos; i++)
        kl_value_free(&pv[i]);
    for (size_t i = 0; i < nnamed; i++)
        kl_value_free(&nv[i]);
    return out;
}

#define N(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))
#define POS(...) ((const char *const[]){__VA_ARGS__}), N(__VA_ARGS__)
#define NOPOS NULL, 0
#define NAMED(names, vals) names, vals, (sizeof vals / sizeof vals[0])
#define NONAMED NULL, NULL, 0

static void expect(const kl_keygen *kg, char *got, const char *want)
{
    (void)kg;
    if (!got || strcmp(got, want) != 0)
        fail_msg("key\n  got:  %s\n  want: %s", got ? got : "(error)", want);
    free(got);
}

/* ---- signatures ------------------------------------------------------------ */

static void signatures_parse_python_parameter_lists(void **state)
{
    (void)state;
    kl_signature *s;
    KT_OK(kl_signature_parse(&s, "x, y=2.5, *args, **kw"));
    assert_int_equal(kl_signature_nparams(s), 2);
    assert_int_equal(kl_signature_npositional(s), 2);
    assert_string_equal(kl_signature_param(s, 1), "y");
    assert_null(kl_signature_default(s, 0));
    assert_true(kl_signature_default(s, 1)->type == KL_FLOAT);
    assert_true(kl_signature_default(s, 1)->u.f == 2.5);
    assert_true(kl_signature_has_varargs(s) && kl_signature_has_varkw(s));
    kl_signature_free(s);

    KT_OK(kl_signature_parse(&s, "a, b={'k, }': [1, (2,)], 'q': \"x'y\"}, *, c, d=None"));
    assert_int_equal(kl_signature_nparams(s), 4);
    assert_int_equal(kl_signature_npositional(s), 2);
    assert_int_equal(kl_signature_default(s, 1)->type, KL_MAP);
    assert_null(kl_signature_default(s, 2)); /* keyword-only, required */
    assert_false(kl_signature_has_varargs(s));
    kl_signature_free(s);

    KT_OK(kl_signature_parse(&s, ""));
    assert_int_equal(kl_signature_nparams(s), 0);
    kl_signature_free(s);
    KT_OK(kl_signature_parse(&s, "x, y,"));
    assert_int_equal(kl_signature_nparams(s), 2);
    kl_signature_free(s);

    static const char *bad[] = {
        "x, x",          "x=1, y",      "x, *a, *b",    "**kw, x",     "x=",
        "x y",           "1x",          "x, , y",       "x=[1, 2",     "x: int",
        "x, /, y",       "*",           "*args=3",      "x=unknown",   "args, *args",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = NULL;
        int rc = kl_signature_parse(&s, bad[i]);
        if (rc != KL_EINVAL)
            fail_msg("signature '%s' parsed (rc %d)", bad[i], rc);
        assert_null(s);
        assert_non_null(strstr(kl_errmsg(), "signature"));
    }
}

/* ---- binding ------------------------------------------------------------- */

static void positional_named_and_default_forms_share_a_key(void **state)
{
    (void)state;
    fixture f;
    setup_kg(&f, "x, y=2", KL_KEYMAP_STRING, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    const char *xy[] = {"x", "y"}, *v12[] = {"1", "2"}, *yx[] = {"y", "x"}, *v21[] = {"2", "1"};
    expect(f.kg, string_key(f.kg, POS("1", "2"), NONAMED, NULL), "('x', 1, 'y', 2)");
    expect(f.kg, string_key(f.kg, NOPOS, NAMED(xy, v12), NULL), "('x', 1, 'y', 2)");
    expect(f.kg, string_key(f.kg, NOPOS, NAMED(yx, v21), NULL), "('x', 1, 'y', 2)");
    expect(f.kg, string_key(f.kg, POS("1"), NONAMED, NULL), "('x', 1, 'y', 2)");
    teardown_kg(&f);

    setup_kg(&f, "a, *args, b=3, **kw", KL_KEYMAP_STRING, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    const char *zq[] = {"z", "b"}, *zv[] = {"'z'", "4"};
    expect(f.kg, string_key(f.kg, POS("1", "5", "6"), NAMED(zq, zv), NULL),
           "(5, 6, 'a', 1, 'b', 4, 'z', 'z')");
    teardown_kg(&f);

    /* without a signature: all varargs and varkwds */
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    const char *q[] = {"q"}, *qv[] = {"[1.5]"};
    expect(f.kg, string_key(f.kg, POS("1", "'a'"), NAMED(q, qv), NULL), "(1, 'a', 'q', [1.5])");
    teardown_kg(&f);
}

static void calls_that_do_not_fit_are_refused(void **state)
{
    (void)state;
    fixture f;
    setup_kg(&f, "x, y=2, *, k=1", KL_KEYMAP_RAW, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    kl_value v[4] = {kl_value_int(1), kl_value_int(2), kl_value_int(3), kl_value_int(4)};
    const char *nx[] = {"x"}, *nz[] = {"z"}, *nkk[] = {"k", "k"};
    struct {
        kl_call c;
        const char *msg;
    } bad[] = {
        {{v, 3, NULL, NULL, 0}, "at most 2"},
        {{v, 1, nx, v + 1, 1}, "multiple values for argument 'x'"},
        {{v, 1, nz, v + 1, 1}, "unexpected keyword argument 'z'"},
        {{NULL, 0, NULL, NULL, 0}, "missing required argument 'x'"},
        {{v, 1, nkk, v + 1, 2}, "multiple values for argument 'k'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kl_keygen_validate(f.kg, &bad[i].c), KL_EINVAL);
        if (!strstr(kl_errmsg(), bad[i].msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, kl_errmsg(), bad[i].msg);
        uint8_t buf[64];
        size_t len;
        assert_int_equal(kl_keygen_key_into(f.kg, &bad[i].c, buf, sizeof buf, &len), KL_EINVAL);
    }
    kl_call ok = {v, 2, (const char *[]){"k"}, v + 2, 1};
    KT_OK(kl_keygen_validate(f.kg, &ok));
    teardown_kg(&f);

    /* no signature: only repeated names are wrong */
    setup_kg(&f, NULL, KL_KEYMAP_RAW, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    kl_call rep = {v, 4, nkk, v, 2};
    assert_int_equal(kl_keygen_validate(f.kg, &rep), KL_EINVAL);
    teardown_kg(&f);
}

static void many_named_arguments_are_sorted_and_checked(void **state)
{
    (void)state;
    enum { N = 3000 };
    fixture f;
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    char(*names)[8] = calloc(N, sizeof *names);
    const char **np = calloc(N, sizeof *np);
    kl_value *vals = calloc(N, sizeof *vals);
    assert_true(names && np && vals);
    for (int i = 0; i < N; i++) { /* given in reverse order */
        snprintf(names[i], sizeof names[i], "n%04d", N - 1 - i);
        np[i] = names[i];
        vals[i] = kl_value_int(N - 1 - i);
    }
    kl_call c = {NULL, 0, np, vals, N};
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_keygen_key(f.kg, &c, &b));
    kl_value v;
    KT_OK(kl_decode(b.data, b.len, &v));
    assert_int_equal(v.type, KL_TEXT);
    assert_true(v.u.s.len > 40);
    assert_memory_equal(v.u.s.ptr, "('n0000', 0, 'n0001', 1, 'n0002', 2, ", 37);
    kl_value_free(&v);
    /* one name twice */
    snprintf(names[N / 2], sizeof names[N / 2], "n%04d", 7);
    assert_int_equal(kl_keygen_validate(f.kg, &c), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "'n0007'"));
    kl_buf_free(&b);
    free(names);
    free(np);
    free(vals);
    teardown_kg(&f);
}

/* ---- ignore ---------------------------------------------------------------- */

static void ignore_masks_names_indices_and_stars(void **state)
{
    (void)state;
    fixture f;
    const char *q[] = {"q", "p"}, *qv[] = {"7", "8"};
    /* by name, including a defaulted parameter */
    setup_kg(&f, "x, y=2, *args, **kw", KL_KEYMAP_STRING, "y", KL_TOL_NONE, KL_ROUND_SIMPLE);
    expect(f.kg, string_key(f.kg, POS("1"), NONAMED, NULL), "('x', 1, 'y', NULL)");
    teardown_kg(&f);
    /* by index: 0 is x; 3 is the second vararg as passed */
    setup_kg(&f, "x, y=2, *args, **kw", KL_KEYMAP_STRING, "0, 3", KL_TOL_NONE, KL_ROUND_SIMPLE);
    expect(f.kg, string_key(f.kg, POS("1", "2", "3", "4", "5"), NONAMED, NULL),
           "(3, NULL, 5, 'x', NULL, 'y', 2)");
    teardown_kg(&f);
    /* * drops varargs, ** drops extra named ones (even named ones) */
    setup_kg(&f, "x, *args, **kw", KL_KEYMAP_STRING, "*,**", KL_TOL_NONE, KL_ROUND_SIMPLE);
    expect(f.kg, string_key(f.kg, POS("1", "2", "3"), NAMED(q, qv), NULL), "('x', 1)");
    teardown_kg(&f);
    /* an extra named argument by name */
    setup_kg(&f, "x, **kw", KL_KEYMAP_STRING, "q", KL_TOL_NONE, KL_ROUND_SIMPLE);
    expect(f.kg, string_key(f.kg, POS("1"), NAMED(q, qv), NULL),
           "('p', 8, 'q', NULL, 'x', 1)");
    teardown_kg(&f);
    /* typed keys show the marker's type */
    kl_signature *s;
    KT_OK(kl_signature_parse(&s, "x, y"));
    kl_keymap_opts mo = KL_KEYMAP_OPTS_INIT;
    mo.kind = KL_KEYMAP_STRING;
    mo.typed = true;
    kl_keymap *km;
    KT_OK(kl_keymap_new(&km, &mo));
    kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
    go.ignore = "x";
    kl_keygen *kg;
    KT_OK(kl_keygen_new(&kg, s, km, &go));
    expect(kg, string_key(kg, POS("False", "{}"), NONAMED, NULL),
           "('x', NULL, 'y', {}, <class 'klepto._inspect._Null'>, <class 'dict'>)");
    kl_keygen_free(kg);
    kl_keymap_free(km);
    kl_signature_free(s);
}

static void bad_ignore_lists_are_refused(void **state)
{
    (void)state;
    kl_keymap *km;
    KT_OK(kl_keymap_new(&km, NULL));
    static const char *bad[] = {"x,", "***", "-1", "x y", "1a", "99999999999", ",", "x,,y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
        go.ignore = bad[i];
        kl_keygen *kg = NULL;
        int rc = kl_keygen_new(&kg, NULL, km, &go);
        if (rc != KL_EINVAL)
            fail_msg("ignore '%s' accepted (rc %d)", bad[i], rc);
        assert_non_null(strstr(kl_errmsg(), "ignore"));
        assert_null(kg);
    }
    kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
    go.rounding = (kl_rounding)9;
    kl_keygen *kg = NULL;
    assert_int_equal(kl_keygen_new(&kg, NULL, km, &go), KL_EINVAL);
    kl_keymap_free(km);
}

/* ---- rounding ---------------------------------------------------------- */

static void round_is_pythons_round(void **state)
{
    (void)state;
    static const struct {
        double x;
        int nd;
        double want;
    } c[] = {
        {1.25, 1, 1.2},   {2.675, 2, 2.67},  {0.5, 0, 0.0},     {1.5, 0, 2.0},
        {2.5, 0, 2.0},    {-2.5, 0, -2.0},   {25.0, -1, 20.0},  {35.0, -1, 40.0},
        {15.5, -1, 20.0}, {-3.0, -1, -0.0},  {1234.5678, 2, 1234.57},
        {5e-324, 323, 0.0}, {5e-324, 324, 5e-324}, {1e300, -300, 1e300},
        {123456789.0, -3, 123457000.0}, {0.1 + 0.2, 15, 0.3}, {1e16, 3, 1e16},
        {5e307, -308, 1e308}, {2.5, -309, 0.0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double r = kl_round(c[i].x, c[i].nd);
        if (!(r == c[i].want && signbit(r) == signbit(c[i].want)))
            fail_msg("round(%.17g, %d) = %.17g, want %.17g", c[i].x, c[i].nd, r, c[i].want);
    }
    assert_true(signbit(kl_round(-0.4, 0)));
    assert_true(isnan(kl_round(NAN, 2)));
    assert_true(isinf(kl_round(INFINITY, 2)));
    assert_true(isinf(kl_round(1.7e308, -308))); /* Python: OverflowError */
}

static void rounding_depths(void **state)
{
    (void)state;
    fixture f;
    const char *arg = "[1.26, [1.26], {'k': 1.26}, (1.26,)]";
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, 1, KL_ROUND_SIMPLE);
    expect(f.kg, string_key(f.kg, POS("1.26", arg), NONAMED, NULL),
           "(1.3, [1.26, [1.26], {'k': 1.26}, (1.26,)])");
    teardown_kg(&f);
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, 1, KL_ROUND_SHALLOW);
    expect(f.kg, string_key(f.kg, POS("1.26", arg), NONAMED, NULL),
           "(1.3, [1.3, [1.26], {'k': 1.26}, (1.26,)])");
    teardown_kg(&f);
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, 1, KL_ROUND_DEEP);
    expect(f.kg, string_key(f.kg, POS("1.26", arg), NONAMED, NULL),
           "(1.3, [1.3, [1.3], {'k': 1.3}, (1.3,)])");
    teardown_kg(&f);
    /* ints, bools and dict keys are never rounded; tol 0 keeps floats */
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, 0, KL_ROUND_DEEP);
    expect(f.kg, string_key(f.kg, POS("7", "True", "{2.5: 2.5}", "-0.4"), NONAMED, NULL),
           "(7, True, {2.5: 2.0}, -0.0)");
    teardown_kg(&f);
    /* negative tol */
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, -2, KL_ROUND_SIMPLE);
    expect(f.kg, string_key(f.kg, POS("1250.0", "1350.0"), NONAMED, NULL), "(1200.0, 1400.0)");
    teardown_kg(&f);
}

static void defaults_are_not_rounded_and_passed_values_are(void **state)
{
    (void)state;
    fixture f;
    setup_kg(&f, "x, y=1.26, **kw", KL_KEYMAP_STRING, NULL, 1, KL_ROUND_SIMPLE);
    const char *q[] = {"q"}, *qv[] = {"2.25"};
    expect(f.kg, string_key(f.kg, POS("1.26"), NAMED(q, qv), NULL),
           "('q', 2.2, 'x', 1.3, 'y', 1.26)");
    expect(f.kg, string_key(f.kg, POS("1.26", "1.26"), NONAMED, NULL), "('x', 1.3, 'y', 1.3)");
    teardown_kg(&f);
}

/* Python's round(x, n) returns inf, -inf and nan unchanged, so klepto's
 * keys of such calls hold them as given (they used to be refused here). */
static void non_finite_values_under_rounding_stay_as_they_are(void **state)
{
    (void)state;
    fixture f;
    int rc;
    setup_kg(&f, "x, y=nan", KL_KEYMAP_STRING, NULL, 2, KL_ROUND_SIMPLE);
    expect(f.kg, string_key(f.kg, POS("nan"), NONAMED, NULL), "('x', nan, 'y', nan)");
    expect(f.kg, string_key(f.kg, POS("-inf"), NONAMED, NULL), "('x', -inf, 'y', nan)");
    expect(f.kg, string_key(f.kg, POS("1.234"), NONAMED, NULL), "('x', 1.23, 'y', nan)");
    /* simple rounding does not look inside lists */
    expect(f.kg, string_key(f.kg, POS("[nan]"), NONAMED, NULL), "('x', [nan], 'y', nan)");
    teardown_kg(&f);
    setup_kg(&f, "x", KL_KEYMAP_STRING, NULL, 2, KL_ROUND_DEEP);
    expect(f.kg, string_key(f.kg, POS("[1.006, (inf,)]"), NONAMED, NULL), "('x', [1.01, (inf,)])");
    teardown_kg(&f);
    /* an ignored nan is never looked at */
    setup_kg(&f, "x", KL_KEYMAP_STRING, "x", 2, KL_ROUND_DEEP);
    expect(f.kg, string_key(f.kg, POS("nan"), NONAMED, NULL), "('x', NULL)");
    teardown_kg(&f);
    /* overflow of a rounded value */
    setup_kg(&f, NULL, KL_KEYMAP_STRING, NULL, -308, KL_ROUND_SIMPLE);
    assert_null(string_key(f.kg, POS("1.7e+308"), NONAMED, &rc));
    assert_int_equal(rc, KL_ERANGE);
    teardown_kg(&f);
}

static void over_deep_arguments_are_refused(void **state)
{
    (void)state;
    /* 100000 nested lists with a float at the bottom: refused, no crash */
    enum { DEPTH = 100000 };
    kl_value *lv = calloc(DEPTH + 1, sizeof *lv);
    assert_non_null(lv);
    for (size_t i = 0; i < DEPTH; i++)
        lv[i] = kl_value_array_ref(&lv[i + 1], 1, false);
    lv[DEPTH] = kl_value_float(1.25);
    kl_rounding modes[] = {KL_ROUND_DEEP, KL_ROUND_SIMPLE};
    for (size_t m = 0; m < 2; m++) {
        fixture f;
        setup_kg(&f, "x", KL_KEYMAP_STRING, NULL, m == 0 ? 1 : KL_TOL_NONE, modes[m]);
        kl_call c = {lv, 1, NULL, NULL, 0};
        kl_buf b = KL_BUF_INIT;
        assert_int_equal(kl_keygen_key(f.kg, &c, &b), KL_ETOOBIG);
        assert_non_null(strstr(kl_errmsg(), "deeper"));
        kl_buf_free(&b);
        teardown_kg(&f);
    }
    free(lv);
}

/* ---- the fast path ----------------------------------------------------------- */

static void fast_path_agrees_with_the_general_path(void **state)
{
    (void)state;
    fixture f;
    setup_kg(&f, "x, y", KL_KEYMAP_RAW, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    const char *yx[] = {"y", "x"};
    double samples[][2] = {{1.5, 2.5}, {3.0, -0.0}, {1e300, 0.1}, {NAN, INFINITY}, {7, 65536.5}};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        kl_value pos[2] = {kl_value_float(samples[i][0]), kl_value_float(samples[i][1])};
        kl_value rev[2] = {pos[1], pos[0]};
        kl_call fast = {pos, 2, NULL, NULL, 0}, slow = {NULL, 0, yx, rev, 2};
        uint8_t a[64], b[64];
        size_t la, lb;
        KT_OK(kl_keygen_key_into(f.kg, &fast, a, sizeof a, &la));
        KT_OK(kl_keygen_key_into(f.kg, &slow, b, sizeof b, &lb));
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        /* and with the keymap directly */
        const char *xy[] = {"x", "y"};
        kl_ncall nc = {NULL, 0, xy, pos, 2};
        kl_buf k = KL_BUF_INIT;
        KT_OK(kl_keymap_key(f.km, &nc, &k));
        assert_int_equal(k.len, la);
        assert_memory_equal(k.data, a, la);
        kl_buf_free(&k);
        /* a short buffer learns the length */
        size_t ls = 0;
        KT_OK(kl_keygen_key_into(f.kg, &fast, a, 3, &ls));
        assert_int_equal(ls, la);
    }
    /* mixed scalar types; text; a list falls back to the general path */
    kl_value m[2] = {kl_value_cstr_ref("abc"), kl_value_bool(true)};
    kl_call mc = {m, 2, NULL, NULL, 0};
    kl_buf k1 = KL_BUF_INIT, k2 = KL_BUF_INIT;
    KT_OK(kl_keygen_key(f.kg, &mc, &k1));
    const char *xy[] = {"x", "y"};
    kl_ncall nc = {NULL, 0, xy, m, 2};
    KT_OK(kl_keymap_key(f.km, &nc, &k2));
    assert_int_equal(k1.len, k2.len);
    assert_memory_equal(k1.data, k2.data, k1.len);
    kl_buf_free(&k1);
    kl_buf_free(&k2);
    kl_value l = lit("[1, 2.5]");
    kl_value ml[2] = {l, kl_value_int(3)};
    kl_call lc = {ml, 2, NULL, NULL, 0};
    KT_OK(kl_keygen_key(f.kg, &lc, &k1));
    kl_value back;
    KT_OK(kl_decode(k1.data, k1.len, &back));
    assert_int_equal(back.type, KL_ARRAY);
    assert_int_equal(back.u.a.len, 4);
    assert_int_equal(back.u.a.items[1].type, KL_ARRAY);
    kl_value_free(&back);
    kl_buf_free(&k1);
    kl_value_free(&l);
    teardown_kg(&f);
}

/* The hot path writes plain doubles itself: it must agree with the
 * canonical encoder on every kind of double. */
static void fast_path_encodes_every_double_canonically(void **state)
{
    (void)state;
    fixture f;
    setup_kg(&f, "a, b", KL_KEYMAP_RAW, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    const double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324, -5e-324, DBL_MAX,
                              -DBL_MAX, FLT_MAX, (double)FLT_MAX * 2, FLT_MIN, 65504.0, 65505.0,
                              4503599627370496.5, 4503599627370497.0, 9007199254740993.0,
                              9223372036854775808.0, -9223372036854775808.0,
                              18446744073709551616.0, 0.1, 1.0 / 3, 3.0000001, NAN, -NAN,
                              INFINITY, -INFINITY, 1e16, 123456789.125, 2.5e-308};
    uint64_t s = 12345;
    for (size_t i = 0; i < 20000; i++) {
        double x;
        if (i < sizeof special / sizeof special[0]) {
            x = special[i];
        } else {
            s = s * 6364136223846793005u + 1442695040888963407u;
            uint64_t bits = s;
            /* bias towards short mantissas and small exponents now and then */
            if (i % 3 == 0)
                bits &= ~((UINT64_C(1) << (s % 53)) - 1);
            if (i % 5 == 0)
                bits = (bits & ~(UINT64_C(0x7ff) << 52)) | ((UINT64_C(1023) + s % 70) << 52);
            memcpy(&x, &bits, 8);
        }
        kl_value pos[2] = {kl_value_float(x), kl_value_float(-x)};
        kl_call fast = {pos, 2, NULL, NULL, 0};
        uint8_t a[64];
        size_t la;
        KT_OK(kl_keygen_key_into(f.kg, &fast, a, sizeof a, &la));
        const char *ab[] = {"a", "b"};
        kl_ncall nc = {NULL, 0, ab, pos, 2};
        kl_buf k = KL_BUF_INIT;
        KT_OK(kl_keymap_key(f.km, &nc, &k));
        if (k.len != la || memcmp(k.data, a, la) != 0)
            fail_msg("double %a: fast path and encoder disagree", x);
        kl_buf_free(&k);
    }
    teardown_kg(&f);
}

/* One keygen shared by threads: every thread gets the same keys. */
typedef struct shared_job {
    const kl_keygen *kg;
    int bad;
} shared_job;

static void *build_keys(void *arg)
{
    shared_job *j = arg;
    for (int i = 0; i < 2000; i++) {
        kl_value pos[2] = {kl_value_float(i + 0.5), kl_value_cstr_ref("t")};
        kl_call c = {pos, 2, NULL, NULL, 0};
        kl_buf b = KL_BUF_INIT;
        char want[64];
        snprintf(want, sizeof want, "('x', %d.5, 'y', 't')", i);
        if (kl_keygen_key(j->kg, &c, &b) != 0 || b.len < 2 ||
            strncmp((const char *)b.data + (b.len - strlen(want)), want, strlen(want)) != 0)
            j->bad++;
        kl_buf_free(&b);
    }
    return NULL;
}

static void keygens_are_shared_by_threads(void **state)
{
    (void)state;
    fixture f;
    setup_kg(&f, "x, y", KL_KEYMAP_STRING, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    pthread_t t[4];
    shared_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (shared_job){f.kg, 0};
        assert_int_equal(pthread_create(&t[i], NULL, build_keys, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
    teardown_kg(&f);
}

/* ---- klepto key --------------------------------------------------------- */

static int run_key(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' key %s 2>&1", kt_bin("klepto"), args);
    return kt_run(cmd, out);
}

static void expect_cli(const char *args, int status, const char *want)
{
    char *out = NULL;
    int st = run_key(args, &out);
    if (st != status || (want && (!out || strcmp(out, want) != 0)))
        fail_msg("klepto key %s\n  status %d (want %d)\n  output: %s  want:   %s", args, st,
                 status, out ? out : "(none)\n", want ? want : "(any)\n");
    free(out);
}

static void key_command_prints_keys(void **state)
{
    (void)state;
    expect_cli("--keymap string --signature 'x, y=2' 1", 0, "('x', 1, 'y', 2)\n");
    expect_cli("--keymap string 1", 0, "1\n");
    expect_cli("--keymap string -- -3 \"'a b'\" q=2.5", 0, "(-3, 'a b', 'q', 2.5)\n");
    /* md5("(1, 'a')") */
    expect_cli("--keymap hash --algorithm md5 1 \"'a'\"", 0, "1a3e7eab6e83db27c8ce591aaa5ec1b6\n");
    expect_cli("--keymap string --typed --signature 'x, *args' 1 2", 0,
               "(2, 'x', 1, <class 'int'>, <class 'int'>)\n");
    expect_cli("--keymap string --tol 1 --rounding deep '[1.26]' y=1.26", 0,
               "([1.3], 'y', 1.3)\n");
    /* Python's round() leaves inf and nan as they are */
    expect_cli("--keymap string --tol 1 nan -inf", 0, "(nan, -inf)\n");
    expect_cli("--keymap string --ignore 'x' --signature 'x, y' 1 2", 0,
               "('x', NULL, 'y', 2)\n");
    expect_cli("--keymap string --no-flat 1 a=2", 0, "((1,), {'a': 2})\n");
    /* raw: hex of the canonical encoding, here of the int 5 */
    expect_cli("5", 0, "05\n");
    expect_cli("--keymap raw --signature 'x, y' 1.5 2", 0, "846178f93e00617902\n");
    /* pickle: hex of the serialized bytes; repr gives the text's bytes */
    expect_cli("--keymap pickle --algorithm repr 1 2", 0, "28312c203229\n");
    expect_cli("--keymap hash 1 2", 0, NULL);
}

static void key_command_rejects_bad_input(void **state)
{
    (void)state;
    const char *bad[] = {
        "--keymap string \"'unterminated\"",
        "--keymap hash --algorithm md6 1",
        "--keymap nope 1",
        "--signature 'x' 1 2",
        "--signature 'x' y=1",
        "--signature 'x, x' 1",
        "--ignore 'a b' 1",
        "--tol abc 1",
        "--rounding sideways 1",
        "--tol -308 1.7e308", /* Python: OverflowError */
        "--bogus 1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL;
        int st = run_key(bad[i], &out);
        if (st != 2 || !out || !strstr(out, "klepto"))
            fail_msg("klepto key %s: status %d, output %s", bad[i], st, out ? out : "(none)");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signatures_parse_python_parameter_lists),
        cmocka_unit_test(positional_named_and_default_forms_share_a_key),
        cmocka_unit_test(calls_that_do_not_fit_are_refused),
        cmocka_unit_test(many_named_arguments_are_sorted_and_checked),
        cmocka_unit_test(ignore_masks_names_indices_and_stars),
        cmocka_unit_test(bad_ignore_lists_are_refused),
        cmocka_unit_test(round_is_pythons_round),
        cmocka_unit_test(rounding_depths),
        cmocka_unit_test(defaults_are_not_rounded_and_passed_values_are),
        cmocka_unit_test(non_finite_values_under_rounding_stay_as_they_are),
        cmocka_unit_test(over_deep_arguments_are_refused),
        cmocka_unit_test(fast_path_agrees_with_the_general_path),
        cmocka_unit_test(fast_path_encodes_every_double_canonically),
        cmocka_unit_test(keygens_are_shared_by_threads),
        cmocka_unit_test(key_command_prints_keys),
        cmocka_unit_test(key_command_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
