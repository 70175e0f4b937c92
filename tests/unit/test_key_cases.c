/* SPDX-License-Identifier: BSD-3-Clause */
/* Keys of the cases issue #13 fixed, against Python klepto's own answers:
 * every line of tests/data/klepto-key-cases.txt (made by
 * scripts/gen_klepto_keys.py from klepto itself) is a call and the key
 * klepto's cache uses for it, a run of calls and klepto's hit and miss
 * counts, or a call klepto refuses.  Covered: infinite and NaN arguments
 * under every rounding depth and tolerance, chained keymaps, lone
 * integral floats and bools as *args, bools beside ints, stringmap
 * encodings (text, ascii(), codec bytes, refusals). */
#include "testutil.h"

#include "pykeys.h"

#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/keygen.h"
#include "klepto/keymap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A case that disagrees with klepto is printed and counted, so one run
 * shows them all; the test fails at the end when there was any. */
static size_t failures;
#define CASE_FAIL(...)                                                                     \
    do {                                                                                   \
        print_error(__VA_ARGS__);                                                          \
        print_error("\n");                                                                 \
        failures++;                                                                        \
    } while (0)

static bool is_text(const kl_value *v, const char *s)
{
    return v && v->type == KL_TEXT && v->u.s.len == strlen(s) && !memcmp(v->u.s.ptr, s, v->u.s.len);
}

static char *text_of(const kl_value *v)
{
    if (!v || v->type == KL_NULL)
        return NULL;
    if (v->type != KL_TEXT)
        fail_msg("expected text");
    return strndup(v->u.s.ptr, v->u.s.len);
}

/* The keymap of a 'keymap' field: one spec, or specs chained left to right. */
static int build_keymap(const kl_value *specs, kl_keymap **out, const char **last_kind)
{
    kl_keymap *km = NULL;
    for (size_t i = 0; i < specs->u.a.len; i++) {
        const kl_value *s = &specs->u.a.items[i];
        char *kind = text_of(&s->u.a.items[0]), *opt = text_of(&s->u.a.items[1]);
        kl_keymap *one = NULL;
        int rc = kt_keymap_try(&one, kind, opt, s->u.a.items[2].u.b, s->u.a.items[3].u.b);
        *last_kind = is_text(&s->u.a.items[0], "keymap") ? "keymap" : "other";
        free(kind);
        free(opt);
        if (rc) {
            kl_keymap_free(km);
            return rc;
        }
        km = km ? kt_chain(km, one) : one;
    }
    *out = km;
    return 0;
}

static kl_rounding rounding_of(const kl_value *r)
{
    if (is_text(r, "deep"))
        return KL_ROUND_DEEP;
    if (is_text(r, "shallow"))
        return KL_ROUND_SHALLOW;
    return KL_ROUND_SIMPLE;
}

static int tol_of(const kl_value *t) { return !t || t->type == KL_NULL ? KL_TOL_NONE : (int)t->u.i; }

static bool typed_raw(const kl_value *specs)
{
    const kl_value *s = &specs->u.a.items[specs->u.a.len - 1];
    return s->u.a.items[2].u.b;
}

static void key_case(const kl_value *o, size_t line)
{
    kl_keymap *km;
    const char *kind;
    KT_OK(build_keymap(kt_get(o, "keymap"), &km, &kind));
    char *sig = text_of(kt_get(o, "sig"));
    kl_keygen *kg = kt_keygen(sig, km, NULL, tol_of(kt_get(o, "tol")),
                              rounding_of(kt_get(o, "rounding")));
    kl_buf got = KL_BUF_INIT, want = KL_BUF_INIT;
    int rc = kt_key_bytes(kg, kt_get(o, "args"), kt_get(o, "kwargs"), &got);
    if (rc) {
        CASE_FAIL("line %zu: key failed: %s", line, kl_errmsg());
        goto out;
    }
    const kl_value *key = kt_get(o, "key");
    if (!strcmp(kind, "keymap")) {
        /* klepto's raw key is a Python object: equal keys are equal
         * objects, which the untyped canonical encoding mirrors */
        KT_OK(kl_encode(&want, key, typed_raw(kt_get(o, "keymap")) ? 0 : KL_ENC_NUMERIC_EQ));
        if (got.len != want.len || memcmp(got.data, want.data, got.len))
            CASE_FAIL("line %zu: the raw key differs from klepto's", line);
    } else {
        kl_value v;
        KT_OK(kl_decode(got.data, got.len, &v));
        if (v.type != key->type || v.u.s.len != key->u.s.len ||
            memcmp(v.u.s.ptr, key->u.s.ptr, v.u.s.len)) {
            kl_buf r = KL_BUF_INIT;
            kl_repr(&r, &v);
            CASE_FAIL("line %zu: got %.*s", line, (int)r.len, (const char *)r.data);
        }
        kl_value_free(&v);
    }
out:
    kl_buf_free(&got);
    kl_buf_free(&want);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    free(sig);
}

/* klepto's inf_cache: a call whose key was seen is a hit. */
static void hits_case(const kl_value *o, size_t line)
{
    kl_keymap *km;
    const char *kind;
    KT_OK(build_keymap(kt_get(o, "keymap"), &km, &kind));
    char *sig = text_of(kt_get(o, "sig"));
    kl_keygen *kg = kt_keygen(sig, km, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    const kl_value *calls = kt_get(o, "calls");
    kl_buf seen[8];
    int64_t hit = 0, miss = 0;
    assert_true(calls->u.a.len <= 8);
    for (size_t i = 0; i < calls->u.a.len; i++) {
        const kl_value *c = &calls->u.a.items[i];
        seen[i] = (kl_buf)KL_BUF_INIT;
        KT_OK(kt_key_bytes(kg, &c->u.a.items[0], &c->u.a.items[1], &seen[i]));
        bool found = false;
        for (size_t j = 0; j < i; j++)
            found |= seen[j].len == seen[i].len && !memcmp(seen[j].data, seen[i].data, seen[i].len);
        if (found)
            hit++;
        else
            miss++;
    }
    if (hit != kt_get(o, "hit")->u.i || miss != kt_get(o, "miss")->u.i)
        CASE_FAIL("line %zu: hit %lld miss %lld, klepto: hit %lld miss %lld", line,
                 (long long)hit, (long long)miss, (long long)kt_get(o, "hit")->u.i,
                 (long long)kt_get(o, "miss")->u.i);
    for (size_t i = 0; i < calls->u.a.len; i++)
        kl_buf_free(&seen[i]);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    free(sig);
}

/* klepto raises: LookupError for an unknown codec (we refuse the keymap),
 * UnicodeEncodeError for text the codec cannot write (we refuse the key). */
static void refused_case(const kl_value *o, size_t line)
{
    kl_keymap *km = NULL;
    const char *kind;
    int rc = build_keymap(kt_get(o, "keymap"), &km, &kind);
    const kl_value *err = kt_get(o, "error");
    if (is_text(err, "LookupError")) {
        if (rc != KL_EINVAL || !strstr(kl_errmsg(), "encoding"))
            CASE_FAIL("line %zu: expected the keymap refused (%d: %s)", line, rc, kl_errmsg());
        return;
    }
    assert_true(is_text(err, "UnicodeEncodeError"));
    KT_OK(rc);
    kl_keygen *kg = kt_keygen("*args", km, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE);
    kl_buf b = KL_BUF_INIT;
    rc = kt_key_bytes(kg, kt_get(o, "args"), NULL, &b);
    if (rc != KL_ETYPE || !strstr(kl_errmsg(), "can't encode character"))
        CASE_FAIL("line %zu: expected KL_ETYPE (%d: %s)", line, rc, kl_errmsg());
    kl_buf_free(&b);
    kl_keygen_free(kg);
    kl_keymap_free(km);
}

static void every_case_matches_python_klepto(void **state)
{
    (void)state;
    size_t len;
    char *text = kt_slurp(kt_data("klepto-key-cases.txt"), &len);
    assert_non_null(text);
    size_t line = 0, keys = 0, hits = 0, refused = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            line++;
            kl_value o = kt_lit(p);
            const kl_value *c = kt_get(&o, "case");
            if (is_text(c, "key"))
                key_case(&o, line), keys++;
            else if (is_text(c, "hits"))
                hits_case(&o, line), hits++;
            else if (is_text(c, "refused"))
                refused_case(&o, line), refused++;
            else
                fail_msg("line %zu: unknown case", line);
            kl_value_free(&o);
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    free(text);
    /* the file is whole: every kind of case is there */
    assert_true(keys > 800);
    assert_true(hits > 40);
    assert_true(refused > 5);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_case_matches_python_klepto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
