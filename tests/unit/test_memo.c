/* SPDX-License-Identifier: BSD-3-Clause */
/* Memoized functions: the generic call path, the typed wrapper, errors,
 * safe variants, tags, lookup/forget, archives. */
#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "klepto.h"

static int calls;

/* f(x, y=2) = x * y  over ints/floats; fails with KL_EFUNC for x == 13 */
static int mul(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    calls++;
    double x = call->pos[0].type == KL_INT ? (double)call->pos[0].u.i : call->pos[0].u.f;
    double y = 2;
    if (call->npos > 1)
        y = call->pos[1].type == KL_INT ? (double)call->pos[1].u.i : call->pos[1].u.f;
    for (size_t i = 0; i < call->nnamed; i++)
        if (!strcmp(call->names[i], "y"))
            y = call->named[i].type == KL_INT ? (double)call->named[i].u.i : call->named[i].u.f;
    if (x == 13)
        return KL_EFUNC;
    *out = kl_value_float(x * y);
    return 0;
}

static kl_memo *new_mul(const char *archive)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y=2";
    o.archive = archive;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "mul", mul, NULL, &o));
    return m;
}

static double call2(kl_memo *m, kl_value x, kl_value y, int *rc)
{
    kl_value args[2] = {x, y};
    kl_call c = {args, 2, NULL, NULL, 0};
    kl_value r;
    *rc = kl_memo_call(m, &c, &r);
    double d = *rc == 0 ? r.u.f : NAN;
    if (*rc == 0)
        kl_value_free(&r);
    return d;
}

static void second_call_is_a_hit(void **state)
{
    (void)state;
    calls = 0;
    kl_memo *m = new_mul(NULL);
    int rc;
    assert_true(call2(m, kl_value_int(3), kl_value_int(4), &rc) == 12);
    assert_int_equal(rc, 0);
    assert_true(call2(m, kl_value_int(3), kl_value_int(4), &rc) == 12);
    assert_int_equal(calls, 1);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.hit, 1);
    assert_int_equal(info.miss, 1);
    assert_int_equal(info.load, 0);
    assert_int_equal(info.size, 1);
    kl_memo_free(m);
}

static void positional_named_and_default_give_one_key(void **state)
{
    (void)state;
    kl_memo *m = new_mul(NULL);
    kl_value a[2] = {kl_value_int(5), kl_value_int(2)};
    kl_call positional = {a, 2, NULL, NULL, 0};
    const char *names[] = {"x", "y"};
    kl_call named = {NULL, 0, names, a, 2};
    kl_call defaulted = {a, 1, NULL, NULL, 0};
    kl_buf k1 = KL_BUF_INIT, k2 = KL_BUF_INIT, k3 = KL_BUF_INIT;
    KT_OK(kl_memo_key(m, &positional, &k1));
    KT_OK(kl_memo_key(m, &named, &k2));
    KT_OK(kl_memo_key(m, &defaulted, &k3));
    assert_int_equal(k1.len, k2.len);
    assert_memory_equal(k1.data, k2.data, k1.len);
    assert_int_equal(k1.len, k3.len);
    assert_memory_equal(k1.data, k3.data, k1.len);
    kl_buf_free(&k1);
    kl_buf_free(&k2);
    kl_buf_free(&k3);
    kl_memo_free(m);
}

static void failing_function_is_not_cached(void **state)
{
    (void)state;
    calls = 0;
    kl_memo *m = new_mul(NULL);
    int rc;
    call2(m, kl_value_int(13), kl_value_int(1), &rc);
    assert_int_equal(rc, KL_EFUNC);
    call2(m, kl_value_int(13), kl_value_int(1), &rc);
    assert_int_equal(rc, KL_EFUNC);
    assert_int_equal(calls, 2);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.size, 0);
    kl_memo_free(m);
}

static void call_that_does_not_fit_signature_is_refused(void **state)
{
    (void)state;
    kl_memo *m = new_mul(NULL);
    kl_value a[3] = {kl_value_int(1), kl_value_int(2), kl_value_int(3)};
    kl_call c = {a, 3, NULL, NULL, 0};
    kl_value r;
    assert_int_equal(kl_memo_call(m, &c, &r), KL_EINVAL);
    kl_memo_free(m);
}

static int bytes_len(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    calls++;
    *out = kl_value_int((int64_t)call->pos[0].u.s.len);
    return 0;
}

static void safe_memo_calls_uncached_when_key_fails(void **state)
{
    (void)state;
    calls = 0;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "data";
    kl_memo *strict, *safe;
    KT_OK(kl_memo_new(&strict, "strict", bytes_len, NULL, &o));
    o.safe = true;
    KT_OK(kl_memo_new(&safe, "safe", bytes_len, NULL, &o));
    size_t big = (size_t)KL_KEY_MAX + 1000; /* no key can hold it */
    char *blob = calloc(1, big);
    kl_value a[1] = {kl_value_bytes_ref(blob, big)};
    kl_call c = {a, 1, NULL, NULL, 0};
    kl_value r;
    assert_int_equal(kl_memo_call(strict, &c, &r), KL_ETOOBIG);
    assert_int_equal(calls, 0);
    KT_OK(kl_memo_call(safe, &c, &r));
    assert_true(r.type == KL_INT && r.u.i == (int64_t)big);
    assert_int_equal(calls, 1);
    kl_memo_info info;
    kl_memo_info_get(safe, &info);
    assert_int_equal(info.errors, 1);
    assert_int_equal(info.size, 0);
    /* klepto counts the uncached fallback as a miss: hit + miss + load is
     * the number of calls */
    KT_OK(kl_memo_call(safe, &c, &r));
    kl_memo_info_get(safe, &info);
    assert_int_equal(info.errors, 2);
    assert_int_equal(info.hit + info.miss + info.load, 2);
    assert_int_equal(info.miss, 2);
    free(blob);
    kl_memo_free(strict);
    kl_memo_free(safe);
}

static void rounding_shares_keys_within_tolerance(void **state)
{
    (void)state;
    calls = 0;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y=2";
    o.tol = 0;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "rounded", mul, NULL, &o));
    int rc;
    assert_true(call2(m, kl_value_float(3.0), kl_value_int(1), &rc) == 3.0);
    /* 3.1 rounds to 3: the stored f(3.0) is returned, the exact args are not used */
    assert_true(call2(m, kl_value_float(3.1), kl_value_int(1), &rc) == 3.0);
    assert_int_equal(calls, 1);
    assert_true(call2(m, kl_value_float(3.6), kl_value_int(1), &rc) == 3.6);
    assert_int_equal(calls, 2);
    kl_memo_free(m);
}

static void tag_namespaces_results(void **state)
{
    (void)state;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y=2";
    kl_memo *plain, *v2;
    KT_OK(kl_memo_new(&plain, "plain", mul, NULL, &o));
    o.tag = "v2";
    KT_OK(kl_memo_new(&v2, "v2", mul, NULL, &o));
    kl_value a[1] = {kl_value_int(1)};
    kl_call c = {a, 1, NULL, NULL, 0};
    kl_buf k1 = KL_BUF_INIT, k2 = KL_BUF_INIT;
    KT_OK(kl_memo_key(plain, &c, &k1));
    KT_OK(kl_memo_key(v2, &c, &k2));
    assert_true(k1.len != k2.len || memcmp(k1.data, k2.data, k1.len) != 0);
    kl_value kv;
    KT_OK(kl_decode(k2.data, k2.len, &kv)); /* still one canonical value */
    assert_int_equal(kv.type, KL_ARRAY);
    assert_int_equal(kv.u.a.len, 2);
    kl_value_free(&kv);
    kl_buf_free(&k1);
    kl_buf_free(&k2);
    kl_memo_free(plain);
    kl_memo_free(v2);
}

static void lookup_and_forget(void **state)
{
    (void)state;
    kl_memo *m = new_mul("mem:memo-lookup");
    kl_value a[1] = {kl_value_int(21)};
    kl_call c = {a, 1, NULL, NULL, 0};
    kl_value r;
    assert_int_equal(kl_memo_lookup(m, &c, &r), KL_ENOTFOUND);
    KT_OK(kl_memo_call(m, &c, &r));
    kl_value_free(&r);
    KT_OK(kl_memo_lookup(m, &c, &r));
    assert_true(r.type == KL_FLOAT && r.u.f == 42);
    kl_value_free(&r);
    KT_OK(kl_memo_forget(m, &c));
    assert_int_equal(kl_memo_lookup(m, &c, &r), KL_ENOTFOUND);
    size_t n;
    KT_OK(kl_archive_count(kl_memo_archive(m), &n));
    assert_int_equal(n, 0);
    kl_memo_free(m);
}

static void results_survive_in_the_archive(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("memo");
    char url[4200];
    snprintf(url, sizeof url, "dir:%s/a", dir);
    calls = 0;
    kl_memo *m = new_mul(url);
    int rc;
    for (int i = 100; i < 120; i++) /* (13 would fail on purpose) */
        call2(m, kl_value_int(i), kl_value_int(3), &rc);
    KT_OK(kl_memo_free(m));
    assert_int_equal(calls, 20);

    m = new_mul(url); /* a new memo: empty memory, same archive */
    for (int i = 100; i < 120; i++)
        assert_true(call2(m, kl_value_int(i), kl_value_int(3), &rc) == i * 3);
    assert_int_equal(calls, 20);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.load, 20);
    assert_int_equal(info.miss, 0);
    KT_OK(kl_memo_clear(m, false));
    size_t loaded;
    KT_OK(kl_memo_load(m, &loaded));
    assert_int_equal(loaded, 20);
    kl_memo_free(m);
    kt_rmrf(dir);
    free(dir);
}

static void bad_archive_url_is_reported(void **state)
{
    (void)state;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.archive = "nosuchscheme:x";
    kl_memo *m = NULL;
    assert_int_equal(kl_memo_new(&m, "bad", mul, NULL, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "nosuchscheme"));
    assert_null(m);
    o = (kl_memo_opts)KL_MEMO_OPTS_INIT;
    o.signature = "x, x";
    assert_int_equal(kl_memo_new(&m, "bad", mul, NULL, &o), KL_EINVAL);
}

/* ---- the typed wrapper ---- */

static int typed_calls;

KL_MEMOIZE(double, rosen, (double, x), (double, y))
{
    typed_calls++;
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

KL_MEMOIZE(int64_t, label_len, (const char *, label), (int, times), (int64_t, base))
{
    typed_calls++;
    return (int64_t)strlen(label) * times + base;
}

static int rosen_generic(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    (void)call;
    *out = kl_value_float(-1);
    return 0;
}

static void typed_wrapper_memoizes(void **state)
{
    (void)state;
    typed_calls = 0;
    kl_memo *m = rosen_memo();
    assert_non_null(m);
    assert_true(rosen(1, 1) == 0);
    assert_true(rosen(0, 0) == 1);
    assert_true(rosen(1, 1) == 0);
    assert_true(rosen(0, 0) == 1);
    assert_int_equal(typed_calls, 2);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.hit, 2);
    assert_int_equal(info.miss, 2);

    assert_int_equal(label_len("abc", 2, 10), 16);
    assert_int_equal(label_len("abc", 2, 10), 16);
    assert_int_equal(label_len("abcd", 2, 10), 18);
    assert_int_equal(typed_calls, 4);
}

static void typed_and_generic_keys_agree(void **state)
{
    (void)state;
    /* A generic memo with signature "x, y" sharing rosen's archive finds
     * the typed memo's results. */
    KT_OK(kl_memo_set_archive(rosen_memo(), "mem:rosen-shared"));
    typed_calls = 0;
    double r = rosen(2.0, 3.0);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y";
    o.archive = "mem:rosen-shared";
    kl_memo *g;
    KT_OK(kl_memo_new(&g, "generic-rosen", rosen_generic, NULL, &o));
    kl_value a[2] = {kl_value_float(2.0), kl_value_float(3.0)};
    kl_call c = {a, 2, NULL, NULL, 0};
    kl_value out;
    KT_OK(kl_memo_call(g, &c, &out));
    assert_true(out.type == KL_FLOAT && out.u.f == r);
    kl_memo_info info;
    kl_memo_info_get(g, &info);
    assert_int_equal(info.load, 1);
    kl_memo_free(g);
    KT_OK(kl_memo_set_archive(rosen_memo(), NULL));
}

/* A memoized function that calls other memos, generic and typed, whose
 * results come from their archives: every call passes its value bytes
 * through the thread's one scratch buffer, which the inner calls reuse
 * while the outer one waits for its function. */
static kl_memo *inner;

static int outer_fn(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    double x = call->pos[0].u.f;
    int rc;
    double product = call2(inner, kl_value_float(x), kl_value_float(3), &rc);
    if (rc)
        return rc;
    *out = kl_value_float(product + rosen(x, 1.0));
    return 0;
}

static void nested_memos_share_the_scratch_buffer(void **state)
{
    (void)state;
    inner = new_mul("mem:nested-inner");
    KT_OK(kl_memo_set_archive(rosen_memo(), "mem:nested-rosen"));
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    kl_memo *outer;
    KT_OK(kl_memo_new(&outer, "outer", outer_fn, NULL, &o));
    enum { N = 20 };
    int rc;
    for (int i = 0; i < N; i++) { /* the inner results into the archives */
        (void)call2(inner, kl_value_float(i + 0.5), kl_value_float(3), &rc);
        KT_OK(rc);
        (void)rosen(i + 0.5, 1.0);
    }
    KT_OK(kl_memo_clear(inner, false));
    KT_OK(kl_memo_clear(rosen_memo(), false));
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N; i++) {
            double x = i + 0.5;
            kl_value arg = kl_value_float(x), res;
            kl_call c = {&arg, 1, NULL, NULL, 0};
            KT_OK(kl_memo_call(outer, &c, &res));
            double want = x * 3 + ((1 - x) * (1 - x) + 100 * (1 - x * x) * (1 - x * x));
            assert_true(res.type == KL_FLOAT && res.u.f == want);
        }
    kl_memo_info info;
    kl_memo_info_get(outer, &info);
    assert_int_equal(info.miss, N);
    assert_int_equal(info.hit, N);
    kl_memo_info_get(inner, &info);
    assert_int_equal(info.load, N);
    kl_memo_info_get(rosen_memo(), &info);
    assert_int_equal(info.load, N);
    KT_OK(kl_memo_free(outer));
    KT_OK(kl_memo_free(inner));
    KT_OK(kl_memo_set_archive(rosen_memo(), NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(second_call_is_a_hit),
        cmocka_unit_test(positional_named_and_default_give_one_key),
        cmocka_unit_test(failing_function_is_not_cached),
        cmocka_unit_test(call_that_does_not_fit_signature_is_refused),
        cmocka_unit_test(safe_memo_calls_uncached_when_key_fails),
        cmocka_unit_test(rounding_shares_keys_within_tolerance),
        cmocka_unit_test(tag_namespaces_results),
        cmocka_unit_test(lookup_and_forget),
        cmocka_unit_test(results_survive_in_the_archive),
        cmocka_unit_test(bad_archive_url_is_reported),
        cmocka_unit_test(typed_wrapper_memoizes),
        cmocka_unit_test(typed_and_generic_keys_agree),
        cmocka_unit_test(nested_memos_share_the_scratch_buffer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kl_memo_free(rosen_memo());
    kl_memo_free(label_len_memo());
    return rc;
}
