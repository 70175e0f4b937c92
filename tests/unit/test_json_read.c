/* SPDX-License-Identifier: BSD-3-Clause */
/* kl_json_parse: the strict JSON reader (codec.h), the inverse of kl_json
 * where JSON can be inverted; errors name the column. */
#include "testutil.h"

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
    assert_string_equal(kl_buf_cstr(&again),
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
            fail_msg("'%s': message '%s', expected it to begin with '%s'", bad[i].text,
                     kl_errmsg(), bad[i].msg);
        assert_int_equal(v.type, KL_INT); /* untouched */
    }
    kl_value v = kl_value_int(7);
    assert_int_equal(kl_json_parse(NULL, 0, &v), KL_EINVAL); /* no arithmetic on NULL */
    assert_int_equal(kl_json_parse(NULL, 5, &v), KL_EINVAL);
    assert_int_equal(v.type, KL_INT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_what_kl_json_writes),
        cmocka_unit_test(refuses_what_rfc_8259_refuses_naming_the_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
