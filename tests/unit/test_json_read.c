/* SPDX-License-Identifier: BSD-3-Clause */
/* kl_json_parse: the strict JSON reader (codec.h), the inverse of kl_json
 * where JSON can be inverted; errors name the column. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "klepto/codec.h"
#include "klepto/error.h"

static void reads_what_kl_json_writes(void **st)
{
    (void)st;
    const char *text = "{\"a\": [1, 2.5, true, null, \"x\\u00e9\"], \"b\": {\"$bytes\": \"AAE=\"}}";
    kl_value v;
    KT_OK(kl_json_parse(text, strlen(text), &v));
    assert_int_equal(v.type, KL_MAP);
    assert_int_equal(v.u.m.len, 2);
    kl_buf again = KL_BUF_INIT;
    KT_OK(kl_json(&again, &v));
    /* written back as kl_json lays it out (ensure_ascii=False: é as UTF-8) */
    assert_string_equal(
        kl_buf_cstr(&again),
        "{\"a\": [1, 2.5, true, null, \"x\xc3\xa9\"], \"b\": {\"$bytes\": \"AAE=\"}}");
    const kl_value *b = &v.u.m.items[3];
    assert_int_equal(b->type, KL_BYTES);
    assert_int_equal(b->u.s.len, 2);
    assert_memory_equal(b->u.s.ptr, "\x00\x01", 2);
    kl_buf_free(&again);
    kl_value_free(&v);
}

static void refuses_what_rfc_8259_refuses_naming_the_column(void **st)
{
    (void)st;
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[1, 2,]", "column 7: "},
        {"{\"a\": 1} x", "column 10: trailing characters after the value"},
        {"NaN", "column 1: "},
        {"[1, /* no */ 2]", "column 5: "},
        {"", "column 1: "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kl_value v = kl_value_int(7);
        assert_int_equal(kl_json_parse(bad[i].text, strlen(bad[i].text), &v), KL_EINVAL);
        if (strncmp(kl_errmsg(), bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("'%s': message '%s', expected it to begin with '%s'", bad[i].text, kl_errmsg(),
                     bad[i].msg);
        assert_int_equal(v.type, KL_INT); /* untouched */
    }
    kl_value v = kl_value_int(7);
    assert_int_equal(kl_json_parse(NULL, 0, &v), KL_EINVAL); /* no arithmetic on NULL */
    assert_int_equal(kl_json_parse(NULL, 5, &v), KL_EINVAL);
    assert_int_equal(v.type, KL_INT);
}

/* Every nd-array kl_json writes reads back as the same nd-array (so that
 * `klepto export` then `import` keeps array keys and values), and a
 * malformed "$ndarray" is an error naming what is wrong. */
static void nd_arrays_read_back_as_written(void **st)
{
    (void)st;
    static const kl_dtype dts[] = {KL_DT_INT8,    KL_DT_INT16,  KL_DT_INT32,  KL_DT_INT64,
                                   KL_DT_UINT8,   KL_DT_UINT16, KL_DT_UINT32, KL_DT_UINT64,
                                   KL_DT_FLOAT32, KL_DT_FLOAT64};
    for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++) {
        size_t shape[2] = {2, 3};
        kl_value nd;
        KT_OK(kl_value_ndarray(&nd, dts[t], 2, shape, NULL));
        uint8_t *p = nd.u.nd.data;
        size_t es = kl_dtype_size(dts[t]);
        for (size_t i = 0; i < 6 * es; i++) /* every byte pattern the dtype allows */
            p[i] = (uint8_t)(0x31 * (i + 1));
        if (dts[t] == KL_DT_UINT64) /* up to 2^63-1 (see codec.h) */
            for (size_t i = 0; i < 6; i++)
                p[8 * i + 7] &= 0x7f;
        if (dts[t] == KL_DT_FLOAT64) {
            double f[6] = {0.1, -2.5, NAN, INFINITY, -INFINITY, -0.0};
            memcpy(p, f, sizeof f);
        }
        if (dts[t] == KL_DT_FLOAT32) {
            float f[6] = {0.1f, -2.5f, NAN, INFINITY, 3.4e38f, 1e-45f};
            memcpy(p, f, sizeof f);
        }
        kl_value key = kl_value_cstr_ref("k"), map = kl_value_map(), *pnd = &nd;
        kl_value copy;
        KT_OK(kl_value_copy(&copy, pnd));
        KT_OK(kl_value_map_put(&map, &key, &copy));
        kl_buf text = KL_BUF_INIT;
        KT_OK(kl_json(&text, &map));
        kl_value back;
        KT_OK(kl_json_parse((const char *)text.data, text.len, &back));
        assert_int_equal(back.type, KL_MAP);
        if (!kl_value_equal(&back.u.m.items[1], &nd))
            fail_msg("dtype %d: %s did not read back", (int)dts[t], kl_buf_cstr(&text));
        kl_value_free(&back);
        kl_buf_free(&text);
        kl_value_free(&map);
        kl_value_free(&nd);
    }
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"$ndarray\": {\"dtype\": \"float64\", \"shape\": [2], \"data\": [1.5]}}",
         "1 elements for a shape of 2"},
        {"{\"$ndarray\": {\"dtype\": \"int8\", \"shape\": [1], \"data\": [300]}}",
         "element 0 is not of dtype int8"},
        {"{\"$ndarray\": {\"dtype\": \"int32\", \"shape\": [1], \"data\": [1.5]}}",
         "element 0 is not of dtype int32"},
        {"{\"$ndarray\": {\"dtype\": \"complex128\", \"shape\": [1], \"data\": [1]}}",
         "unknown dtype"},
        {"{\"$ndarray\": {\"dtype\": \"int8\", \"shape\": [-1], \"data\": []}}", "sizes >= 0"},
        {"{\"$ndarray\": [1, 2]}", "\"$ndarray\" needs"},
        {"{\"$ndarray\": {\"dtype\": \"int8\", \"data\": []}}", "\"$ndarray\" needs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kl_value v = kl_value_int(7);
        assert_int_equal(kl_json_parse(bad[i].text, strlen(bad[i].text), &v), KL_EINVAL);
        if (!strstr(kl_errmsg(), bad[i].msg))
            fail_msg("%s: message '%s' lacks '%s'", bad[i].text, kl_errmsg(), bad[i].msg);
        assert_int_equal(v.type, KL_INT); /* untouched */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_what_kl_json_writes),
        cmocka_unit_test(nd_arrays_read_back_as_written),
        cmocka_unit_test(refuses_what_rfc_8259_refuses_naming_the_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
