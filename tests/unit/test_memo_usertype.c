/* SPDX-License-Identifier: BSD-3-Clause */
/* User types (usertype.h) as KL_MEMOIZE arguments (KL_OBJ) and results
 * (KL_OUT_OBJ) and in the generic API: objects keyed by their encoded
 * fields under their type's name and version (CBOR tag 27), hits without
 * allocation (malloc is interposed and counted), archive round trips, and
 * every bad case: an encode that fails or writes bytes that do not decode,
 * a name registered with two codecs, a stored result of another layout
 * version — clear errors, never a wrong value, nothing cached wrongly. */
#define _GNU_SOURCE
#include "sanitizers.h"
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "klepto.h"
#include "klepto/sys/errors.h"

/* ---- counting allocations: the program's malloc family over glibc's, or
 * (under AddressSanitizer, which owns malloc) its allocation hooks ---- */

static _Thread_local int counting;
static _Thread_local long allocations;

#if KT_ASAN
#include <sanitizer/allocator_interface.h>
static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    allocations += counting;
}
static void on_free(const volatile void *p) { (void)p; }
static void count_allocations(void) { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
void *malloc(size_t n)
{
    allocations += counting;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    allocations += counting;
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    allocations += counting;
    return __libc_realloc(p, n);
}
static void count_allocations(void) {}
#endif

/* ---- the types ---- */

typedef struct params {
    double dt;
    int32_t steps;
    char label[8];
} params;

typedef struct result {
    double energy;
    int64_t count;
} result;

static int params_encode(kl_enc *e, const void *obj)
{
    const params *p = obj;
    kl_enc_array_head(e, 3);
    kl_enc_float(e, p->dt);
    kl_enc_int(e, p->steps);
    kl_enc_text(e, p->label, strnlen(p->label, sizeof p->label));
    return 0;
}

static int params_decode(const kl_value *v, void *obj)
{
    params *p = obj;
    if (v->type != KL_ARRAY || v->u.a.len != 3 || v->u.a.items[0].type != KL_FLOAT ||
        v->u.a.items[1].type != KL_INT || v->u.a.items[2].type != KL_TEXT ||
        v->u.a.items[2].u.s.len > sizeof p->label)
        return KL_ETYPE;
    p->dt = v->u.a.items[0].u.f;
    p->steps = (int32_t)v->u.a.items[1].u.i;
    memset(p->label, 0, sizeof p->label);
    memcpy(p->label, v->u.a.items[2].u.s.ptr, v->u.a.items[2].u.s.len);
    return 0;
}

static int result_encode(kl_enc *e, const void *obj)
{
    const result *r = obj;
    kl_enc_array_head(e, 2);
    kl_enc_float(e, r->energy);
    kl_enc_int(e, r->count);
    return 0;
}

static int result_decode(const kl_value *v, void *obj)
{
    result *r = obj;
    if (v->type != KL_ARRAY || v->u.a.len != 2 || v->u.a.items[0].type != KL_FLOAT ||
        v->u.a.items[1].type != KL_INT)
        return KL_ETYPE;
    r->energy = v->u.a.items[0].u.f;
    r->count = v->u.a.items[1].u.i;
    return 0;
}

static const kl_usertype params_type =
    KL_USERTYPE_INIT("params", 1, params, params_encode, params_decode);
static const kl_usertype result_type =
    KL_USERTYPE_INIT("result", 3, result, result_encode, result_decode);

static int ncalls;

KL_MEMOIZE(int, simulate, KL_OBJ(params_type, params, p), KL_OUT_OBJ(result_type, result, r))
{
    ncalls++;
    if (p->steps < 0)
        return 2;
    r->energy = p->dt * p->steps;
    r->count = p->steps;
    return 0;
}

KL_MEMOIZE(double, energy, KL_OBJ(params_type, params, p), (int, scale))
{
    ncalls++;
    return p->dt * p->steps * scale;
}

static params make(double dt, int32_t steps, const char *label)
{
    params p;
    memset(&p, 0, sizeof p);
    p.dt = dt;
    p.steps = steps;
    snprintf(p.label, sizeof p.label, "%s", label);
    return p;
}

static char *repr_of(const void *bytes, size_t n)
{
    kl_value v;
    KT_OK(kl_decode(bytes, n, &v));
    kl_buf text = KL_BUF_INIT;
    KT_OK(kl_repr(&text, &v));
    kl_value_free(&v);
    char *s = strdup(kl_buf_cstr(&text));
    kl_buf_free(&text);
    return s;
}

static void objects_are_keyed_by_their_fields(void **state)
{
    (void)state;
    ncalls = 0;
    params a = make(0.5, 10, "abc"), b = make(0.5, 10, "abc"), c = make(0.5, 11, "abc");
    result r;
    for (int i = 0; i < 2; i++) {
        memset(&r, 0, sizeof r);
        assert_int_equal(simulate(&a, &r), 0);
        assert_true(r.energy == 5.0 && r.count == 10);
        assert_int_equal(simulate(&b, &r), 0); /* another object, same fields: a hit */
        assert_true(r.energy == 5.0 && r.count == 10);
        assert_int_equal(simulate(&c, &r), 0);
        assert_true(r.energy == 5.5 && r.count == 11);
        assert_true(energy(&a, 2) == 10.0);
        assert_true(energy(&a, 3) == 15.0);
    }
    assert_int_equal(ncalls, 4);
    /* the function's failure code: returned, not cached */
    params bad = make(1, -1, "neg");
    assert_int_equal(simulate(&bad, &r), 2);
    assert_int_equal(simulate(&bad, &r), 2);
    assert_int_equal(ncalls, 6);
}

/* The key carries the type's name and version under tag 27 and reads
 * back as cbor2 shows it; the result likewise. */
static void archive_keys_and_results(void **state)
{
    (void)state;
    KT_OK(kl_memo_clear(simulate_memo(), false));
    KT_OK(kl_memo_set_archive(simulate_memo(), "mem:usertype"));
    params a = make(0.25, 4, "run1");
    result r;
    ncalls = 0;
    assert_int_equal(simulate(&a, &r), 0);
    kl_archive *ar = kl_memo_archive(simulate_memo());
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    assert_int_equal(kl_archive_iter_next(it, &k, &v), 1);
    kl_archive_iter_free(it);
    char *ks = repr_of(k.data, k.len), *vs = repr_of(v.data, v.len);
    assert_string_equal(ks, "['p', CBORTag(27, ['params', 1, [0.25, 4, 'run1']])]");
    assert_string_equal(vs, "CBORTag(27, ['result', 3, [1.0, 4]])");
    free(ks);
    free(vs);
    kl_buf_free(&k);
    kl_buf_free(&v);
    /* dt 2.0 is the integer 2 in the key (untyped keys merge 1 and 1.0);
     * params_decode takes only floats, so kl_memo_load skips that key */
    params b = make(2, 4, "int");
    assert_int_equal(simulate(&b, &r), 0);
    /* a fresh memory loads back what the type decodes */
    KT_OK(kl_memo_clear(simulate_memo(), false));
    size_t loaded = 0;
    KT_OK(kl_memo_load(simulate_memo(), &loaded));
    assert_int_equal(loaded, 1);
    memset(&r, 0, sizeof r);
    assert_int_equal(simulate(&a, &r), 0);
    assert_true(r.energy == 1.0 && r.count == 4);
    kl_memo_info info;
    kl_memo_info_get(simulate_memo(), &info);
    assert_int_equal(info.hit, 1);
    /* the skipped one is still found in the archive: a load */
    memset(&r, 0, sizeof r);
    assert_int_equal(simulate(&b, &r), 0);
    assert_true(r.energy == 8.0 && r.count == 4);
    kl_memo_info_get(simulate_memo(), &info);
    assert_int_equal(info.load, 1);
    assert_int_equal(ncalls, 2);
    KT_OK(kl_memo_set_archive(simulate_memo(), NULL));
}

/* The generic API: an object as a value finds the typed call's result,
 * and a value that is a plain list with the same items does not. */
static void generic_api(void **state)
{
    (void)state;
    params a = make(2, 3, "g");
    ncalls = 0;
    assert_true(energy(&a, 1) == 6.0);
    kl_value args[2];
    KT_OK(kl_value_object(&args[0], &params_type, &a));
    args[1] = kl_value_int(1);
    kl_call c = {args, 2, NULL, NULL, 0};
    kl_value res;
    KT_OK(kl_memo_lookup(energy_memo(), &c, &res));
    assert_true(res.type == KL_FLOAT && res.u.f == 6.0);
    params back;
    memset(&back, 0, sizeof back);
    KT_OK(kl_value_object_get(&args[0], &params_type, &back));
    assert_true(back.dt == 2 && back.steps == 3 && strcmp(back.label, "g") == 0);
    /* the same items as a plain list: not an object */
    kl_value plain = args[0];
    plain.flags &= (uint8_t)~KL_VALUE_OBJECT;
    assert_false(kl_value_equal(&plain, &args[0]));
    kl_value pargs[2] = {plain, kl_value_int(1)};
    kl_call pc = {pargs, 2, NULL, NULL, 0};
    assert_int_equal(kl_memo_lookup(energy_memo(), &pc, &res), KL_ETYPE);
    assert_non_null(strstr(kl_errmsg(), "not an object of type 'params'"));
    /* JSON spells it {"$object": [...]} and reads it back as an object */
    kl_buf json = KL_BUF_INIT;
    KT_OK(kl_json(&json, &args[0]));
    assert_string_equal(kl_buf_cstr(&json), "{\"$object\": [\"params\", 1, [2.0, 3, \"g\"]]}");
    kl_value parsed;
    KT_OK(kl_json_parse((const char *)json.data, json.len, &parsed));
    assert_true(kl_value_equal(&parsed, &args[0]));
    kl_value_free(&parsed);
    const char *bad = "{\"$object\": [1, 2]}";
    assert_int_equal(kl_json_parse(bad, strlen(bad), &parsed), KL_EINVAL);
    kl_buf_free(&json);
    /* the Python literal kl_repr writes reads back too (klepto get KEY) */
    kl_buf lit = KL_BUF_INIT;
    KT_OK(kl_repr(&lit, &args[0]));
    assert_string_equal(kl_buf_cstr(&lit), "CBORTag(27, ['params', 1, [2.0, 3, 'g']])");
    KT_OK(kl_parse((const char *)lit.data, lit.len, &parsed));
    assert_true(kl_value_equal(&parsed, &args[0]));
    kl_value_free(&parsed);
    const char *badlit = "CBORTag(28, [1])";
    assert_int_equal(kl_parse(badlit, strlen(badlit), &parsed), KL_EINVAL);
    kl_buf_free(&lit);
    /* of another version: KL_EVERSION, obj untouched */
    kl_usertype v2 = params_type;
    v2.layout = 2;
    back.steps = 77;
    assert_int_equal(kl_value_object_get(&args[0], &v2, &back), KL_EVERSION);
    assert_int_equal(back.steps, 77);
    kl_value_free(&args[0]);
    assert_int_equal(ncalls, 1);
}

/* A hit with an object argument allocates nothing. */
static void hits_do_not_allocate(void **state)
{
    (void)state;
    params a = make(0.125, 8, "alloc");
    result r;
    assert_true(energy(&a, 5) == 5.0);
    assert_int_equal(simulate(&a, &r), 0); /* warm */
    allocations = 0;
    counting = 1;
    double sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += energy(&a, 5);
    counting = 0;
    assert_true(sum == 5000.0);
    assert_int_equal(allocations, 0);
    /* the counter counts: a miss allocates (the entry) */
    counting = 1;
    assert_true(energy(&a, 6) == 6.0);
    counting = 0;
    assert_true(allocations > 0);
}

/* encode failing, encode writing bytes no decoder reads: computed
 * uncached, counted as errors, nothing stored. */
static int failing_encode(kl_enc *e, const void *obj)
{
    (void)e;
    (void)obj;
    return kl_seterr(KL_ERANGE, "the field is out of range");
}
static int garbage_encode(kl_enc *e, const void *obj)
{
    (void)obj;
    kl_enc_tag(e, 99); /* a tag no decoder of ours knows */
    kl_enc_int(e, 1);
    return 0;
}
static const kl_usertype failing_type =
    KL_USERTYPE_INIT("failing", 1, int, failing_encode, result_decode);
static const kl_usertype garbage_type =
    KL_USERTYPE_INIT("garbage", 1, int, garbage_encode, result_decode);

KL_MEMOIZE(int, uses_failing, KL_OBJ(failing_type, int, x), (int, y))
{
    ncalls++;
    return *x + y;
}
KL_MEMOIZE(int, uses_garbage, KL_OBJ(garbage_type, int, x))
{
    ncalls++;
    return *x * 2;
}

static void bad_codecs_are_errors(void **state)
{
    (void)state;
    int x = 20;
    ncalls = 0;
    kl_errclear();
    assert_int_equal(uses_failing(&x, 1), 21);
    assert_non_null(strstr(kl_errmsg(), "argument 'x': encoding its 'failing' failed"));
    assert_non_null(strstr(kl_errmsg(), "out of range"));
    assert_int_equal(uses_failing(&x, 1), 21);
    assert_int_equal(ncalls, 2);
    kl_memo_info info;
    kl_memo_info_get(uses_failing_memo(), &info);
    assert_int_equal(info.errors, 2);
    assert_int_equal(info.size, 0);

    kl_errclear();
    assert_int_equal(uses_garbage(&x), 40);
    assert_non_null(strstr(kl_errmsg(), "the encoded 'garbage' does not decode"));
    assert_int_equal(uses_garbage(&x), 40);
    assert_int_equal(ncalls, 4);
    kl_memo_info_get(uses_garbage_memo(), &info);
    assert_int_equal(info.errors, 2);
    assert_int_equal(info.size, 0);
    /* the generic API says so too */
    kl_value v;
    assert_int_equal(kl_value_object(&v, &garbage_type, &x), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "encode wrote bytes that do not decode"));
}

/* An object whose encoding is longer than the stack key buffer, beside an
 * array: two variable parts, each with its length, built on the heap. */
typedef struct blob {
    char text[3000];
} blob;
static int blob_encode(kl_enc *e, const void *obj)
{
    const blob *b = obj;
    kl_enc_text(e, b->text, strnlen(b->text, sizeof b->text));
    return 0;
}
static int blob_decode(const kl_value *v, void *obj)
{
    blob *b = obj;
    if (v->type != KL_TEXT || v->u.s.len >= sizeof b->text)
        return KL_ETYPE;
    memset(b->text, 0, sizeof b->text);
    memcpy(b->text, v->u.s.ptr, v->u.s.len);
    return 0;
}
static const kl_usertype blob_type =
    KL_USERTYPE_INIT("blob", 1, blob, blob_encode, blob_decode);

KL_MEMOIZE(int64_t, blob_len, KL_OBJ(blob_type, blob, b), KL_ARR(int16_t, w, n))
{
    ncalls++;
    return (int64_t)strlen(b->text) + (n ? w[0] : 0);
}

static void long_objects(void **state)
{
    (void)state;
    static blob a, b;
    memset(a.text, 'x', 2500);
    memset(b.text, 'x', 2500);
    b.text[2499] = 'y';
    int16_t w[] = {7, 8};
    KT_OK(kl_memo_set_archive(blob_len_memo(), "mem:usertype-blob"));
    ncalls = 0;
    for (int r = 0; r < 2; r++) {
        assert_true(blob_len(&a, w, 2) == 2507);
        assert_true(blob_len(&b, w, 2) == 2507);
        assert_true(blob_len(&a, w, 1) == 2507);
    }
    assert_int_equal(ncalls, 3);
    KT_OK(kl_memo_clear(blob_len_memo(), false));
    size_t loaded = 0;
    KT_OK(kl_memo_load(blob_len_memo(), &loaded));
    assert_int_equal(loaded, 3);
    assert_true(blob_len(&b, w, 2) == 2507);
    assert_int_equal(ncalls, 3);
    kl_memo_info info;
    kl_memo_info_get(blob_len_memo(), &info);
    assert_int_equal(info.hit, 1);
    KT_OK(kl_memo_set_archive(blob_len_memo(), NULL));
}

/* One name, one codec. */
static const kl_usertype params_v2 =
    KL_USERTYPE_INIT("params", 2, params, params_encode, params_decode);
KL_MEMOIZE(double, energy_v2, KL_OBJ(params_v2, params, p))
{
    ncalls++;
    return p->dt;
}

static void one_name_one_codec(void **state)
{
    (void)state;
    (void)energy_memo(); /* registers params version 1 */
    KT_OK(kl_type_register(&params_type)); /* again, the same: fine */
    assert_ptr_equal(kl_type_find("params"), &params_type);
    assert_int_equal(kl_type_register(&params_v2), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "'params' is registered already with another codec"));
    kl_usertype nameless = KL_USERTYPE_INIT(NULL, 1, int, params_encode, params_decode);
    assert_int_equal(kl_type_register(&nameless), KL_EINVAL);
    /* a descriptor of an unknown struct version */
    kl_usertype future = params_type;
    future.version = KL_USERTYPE_VERSION + 1;
    assert_int_equal(kl_type_register(&future), KL_EINVAL);
    params a0 = make(1, 1, "f");
    kl_value fv;
    assert_int_equal(kl_value_object(&fv, &future, &a0), KL_EINVAL);
    /* a function of the conflicting type has no memo: computed every time */
    assert_null(energy_v2_memo());
    params a = make(1.5, 1, "v2");
    ncalls = 0;
    assert_true(energy_v2(&a) == 1.5);
    assert_true(energy_v2(&a) == 1.5);
    assert_int_equal(ncalls, 2);
}

/* A result stored by another layout version (an older program): never
 * decoded into the caller's struct; computed afresh. */
static void result_of_another_version(void **state)
{
    (void)state;
    params a = make(4, 2, "old");
    kl_value arg;
    KT_OK(kl_value_object(&arg, &params_type, &a));
    kl_call c = {&arg, 1, NULL, NULL, 0};
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    KT_OK(kl_memo_key(simulate_memo(), &c, &key));
    kl_value_free(&arg);
    kl_usertype old = result_type;
    old.layout = 2;
    result stale = {999.0, 999};
    kl_value sv;
    KT_OK(kl_value_object(&sv, &old, &stale));
    KT_OK(kl_encode(&val, &sv, 0));
    kl_value_free(&sv);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:usertype-old", NULL));
    KT_OK(kl_archive_put(ar, key.data, key.len, val.data, val.len));
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_memo_clear(simulate_memo(), false));
    KT_OK(kl_memo_set_archive(simulate_memo(), "mem:usertype-old"));
    ncalls = 0;
    for (int i = 0; i < 2; i++) {
        result r = {0, 0};
        assert_int_equal(simulate(&a, &r), 0);
        assert_true(r.energy == 8.0 && r.count == 2); /* never 999 */
    }
    assert_int_equal(ncalls, 2);
    kl_buf_free(&key);
    kl_buf_free(&val);
    KT_OK(kl_memo_set_archive(simulate_memo(), NULL));

    /* an argument written with another layout version is another key:
     * kl_memo_load skips it, and no call finds it */
    kl_usertype old_params = params_type;
    old_params.layout = 0;
    KT_OK(kl_value_object(&arg, &old_params, &a));
    key.len = 0;
    KT_OK(kl_memo_key(simulate_memo(), &c, &key)); /* c's argument is arg */
    kl_value_free(&arg);
    result fine = {8.0, 2};
    KT_OK(kl_value_object(&sv, &result_type, &fine));
    val.len = 0;
    KT_OK(kl_encode(&val, &sv, 0));
    kl_value_free(&sv);
    KT_OK(kl_archive_open(&ar, "mem:usertype-oldargs", NULL));
    KT_OK(kl_archive_put(ar, key.data, key.len, val.data, val.len));
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_memo_clear(simulate_memo(), false));
    KT_OK(kl_memo_set_archive(simulate_memo(), "mem:usertype-oldargs"));
    size_t loaded = 99;
    KT_OK(kl_memo_load(simulate_memo(), &loaded));
    assert_int_equal(loaded, 0);
    result r = {0, 0};
    ncalls = 0;
    assert_int_equal(simulate(&a, &r), 0);
    assert_int_equal(ncalls, 1);
    kl_memo_info info;
    kl_memo_info_get(simulate_memo(), &info);
    assert_int_equal(info.load, 0);
    kl_buf_free(&key);
    kl_buf_free(&val);
    KT_OK(kl_memo_set_archive(simulate_memo(), NULL));
}

int main(void)
{
    count_allocations();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objects_are_keyed_by_their_fields),
        cmocka_unit_test(archive_keys_and_results),
        cmocka_unit_test(generic_api),
        cmocka_unit_test(hits_do_not_allocate),
        cmocka_unit_test(bad_codecs_are_errors),
        cmocka_unit_test(long_objects),
        cmocka_unit_test(one_name_one_codec),
        cmocka_unit_test(result_of_another_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
