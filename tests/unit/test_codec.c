/* SPDX-License-Identifier: BSD-3-Clause */
/* The canonical CBOR encoder and the validating decoder. */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/codec.h"
#include "klepto/error.h"

/* Hex of the canonical encoding of v. */
static char *enc_hex(const kl_value *v, unsigned flags)
{
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_encode(&b, v, flags));
    char *s = malloc(b.len * 2 + 1);
    for (size_t i = 0; i < b.len; i++)
        sprintf(s + 2 * i, "%02x", b.data[i]);
    s[b.len * 2] = '\0';
    kl_buf_free(&b);
    return s;
}

static void assert_enc(const kl_value *v, unsigned flags, const char *want)
{
    char *got = enc_hex(v, flags);
    assert_string_equal(got, want);
    free(got);
}

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        sscanf(h + 2 * i, "%2x", &x);
        out[i] = (uint8_t)x;
    }
    return n;
}

/* Decoding the hex input fails with `code` and a message containing `part`;
 * the input sits in an exact-size heap block so ASan sees overreads. */
static void assert_dec_fails(const char *hex, int code, const char *part)
{
    size_t n = strlen(hex) / 2;
    uint8_t *p = malloc(n ? n : 1);
    unhex(hex, p);
    kl_value v = kl_value_int(12345);
    int rc = kl_decode(p, n, &v);
    if (rc != code)
        fail_msg("decode(%s) -> %d, want %d (%s)", hex, rc, code, kl_errmsg());
    if (!strstr(kl_errmsg(), part))
        fail_msg("decode(%s) message '%s' lacks '%s'", hex, kl_errmsg(), part);
    assert_int_equal(v.type, KL_INT); /* untouched on failure */
    free(p);
}

static void test_integers_take_the_shortest_head(void **state)
{
    (void)state;
    static const struct {
        int64_t i;
        const char *hex;
    } cases[] = {
        {0, "00"},
        {1, "01"},
        {10, "0a"},
        {23, "17"},
        {24, "1818"},
        {25, "1819"},
        {100, "1864"},
        {255, "18ff"},
        {256, "190100"},
        {1000, "1903e8"},
        {65535, "19ffff"},
        {65536, "1a00010000"},
        {1000000, "1a000f4240"},
        {4294967295LL, "1affffffff"},
        {4294967296LL, "1b0000000100000000"},
        {1000000000000LL, "1b000000e8d4a51000"},
        {INT64_MAX, "1b7fffffffffffffff"},
        {-1, "20"},
        {-10, "29"},
        {-24, "37"},
        {-25, "3818"},
        {-100, "3863"},
        {-1000, "3903e7"},
        {INT64_MIN, "3b7fffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kl_value v = kl_value_int(cases[i].i);
        assert_enc(&v, 0, cases[i].hex);
    }
}

static void test_floats_take_the_shortest_exact_width(void **state)
{
    (void)state;
    static const struct {
        double f;
        const char *hex;
    } cases[] = {
        {0.0, "f90000"},
        {-0.0, "f98000"},
        {1.0, "f93c00"},
        {1.1, "fb3ff199999999999a"},
        {1.5, "f93e00"},
        {65504.0, "f97bff"},
        {100000.0, "fa47c35000"},
        {3.4028234663852886e+38, "fa7f7fffff"},
        {1.0e+300, "fb7e37e43c8800759c"},
        {5.960464477539063e-8, "f90001"},
        {0.00006103515625, "f90400"},
        {-4.0, "f9c400"},
        {-4.1, "fbc010666666666666"},
        {INFINITY, "f97c00"},
        {-INFINITY, "f9fc00"},
        {NAN, "f97e00"},
        {-NAN, "f97e00"},
        {0.1f, "fa3dcccccd"},
        {1.401298464324817e-45, "fa00000001"},  /* float32 subnormal */
        {2.9802322387695312e-08, "fa33000000"}, /* below the half range */
        {65520.0, "fa477ff000"},                /* rounds to inf in half: not exact */
        {3.0517578125e-05, "f90200"},           /* half subnormal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kl_value v = kl_value_float(cases[i].f);
        char *got = enc_hex(&v, 0);
        if (strcmp(got, cases[i].hex) != 0)
            fail_msg("encode(%.17g) = %s, want %s", cases[i].f, got, cases[i].hex);
        free(got);
    }
}

static void test_numeric_eq_folds_integral_floats_into_integers(void **state)
{
    (void)state;
    kl_value v = kl_value_float(3.0);
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "03");
    assert_enc(&v, 0, "f94200");
    v = kl_value_float(-0.0);
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "00");
    v = kl_value_float(-1e15);
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "3b00038d7ea4c67fff");
    v = kl_value_float(2.5);
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "f94100");
    v = kl_value_float(9223372036854775808.0); /* 2^63: beyond int64 */
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "fa5f000000");
    v = kl_value_float(-9223372036854775808.0);
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "3b7fffffffffffffff");
    v = kl_value_float(INFINITY);
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "f97c00");
    v = kl_value_float(NAN);
    assert_enc(&v, KL_ENC_NUMERIC_EQ, "f97e00");
}

static void test_other_items_encode_per_rfc8949(void **state)
{
    (void)state;
    kl_value v = kl_value_null();
    assert_enc(&v, 0, "f6");
    v = kl_value_bool(true);
    assert_enc(&v, 0, "f5");
    v = kl_value_bool(false);
    assert_enc(&v, 0, "f4");
    v = kl_value_ignored();
    assert_enc(&v, 0, "f7");
    v = kl_value_cstr_ref("");
    assert_enc(&v, 0, "60");
    v = kl_value_cstr_ref("IETF");
    assert_enc(&v, 0, "6449455446");
    v = kl_value_cstr_ref("\xc3\xbc");
    assert_enc(&v, 0, "62c3bc");
    v = kl_value_bytes_ref("\x01\x02\x03\x04", 4);
    assert_enc(&v, 0, "4401020304");
    kl_value in1[2] = {kl_value_int(2), kl_value_int(3)};
    kl_value in2[2] = {kl_value_int(4), kl_value_int(5)};
    kl_value top[3] = {kl_value_int(1), kl_value_array_ref(in1, 2, false),
                       kl_value_array_ref(in2, 2, true)};
    v = kl_value_array_ref(top, 3, false);
    assert_enc(&v, 0, "8301820203820405");
    char long_text[300];
    memset(long_text, 'a', sizeof long_text);
    v = kl_value_text_ref(long_text, 300);
    char *h = enc_hex(&v, 0);
    assert_memory_equal(h, "79012c6161", 10);
    free(h);
}

static void test_map_keys_sort_by_their_encoding(void **state)
{
    (void)state;
    /* RFC 8949 §4.2.1's example order: 10, 100, -1, "z", "aa", [100], [-1], false */
    kl_value m = kl_value_map(), k, x;
    kl_value l100, lm1;
    l100 = kl_value_array(false);
    x = kl_value_int(100);
    KT_OK(kl_value_array_push(&l100, &x));
    lm1 = kl_value_array(false);
    x = kl_value_int(-1);
    KT_OK(kl_value_array_push(&lm1, &x));
    kl_value keys[8];
    keys[0] = kl_value_bool(false);
    keys[1] = lm1;
    KT_OK(kl_value_text(&keys[2], "aa", 2));
    keys[3] = kl_value_int(-1);
    keys[4] = l100;
    KT_OK(kl_value_text(&keys[5], "z", 1));
    keys[6] = kl_value_int(100);
    keys[7] = kl_value_int(10);
    for (int i = 0; i < 8; i++) {
        k = keys[i];
        x = kl_value_int(i);
        KT_OK(kl_value_map_put(&m, &k, &x));
    }
    assert_enc(&m, 0,
               "a8"
               "0a07"
               "186406"
               "2003"
               "617a05"
               "62616102"
               "81186404"
               "812001"
               "f400");

    /* nested maps sort too, inside a too-small first buffer (kl_encode grows) */
    kl_value outer = kl_value_map();
    KT_OK(kl_value_text(&k, "b", 1));
    KT_OK(kl_value_map_put(&outer, &k, &m));
    KT_OK(kl_value_text(&k, "a", 1));
    x = kl_value_null();
    KT_OK(kl_value_map_put(&outer, &k, &x));
    assert_enc(&outer, 0,
               "a2"
               "6161f6"
               "6162"
               "a8"
               "0a07"
               "186406"
               "2003"
               "617a05"
               "62616102"
               "81186404"
               "812001"
               "f400");

    /* numerically equal keys collide under NUMERIC_EQ: refused */
    kl_value dup = kl_value_map();
    k = kl_value_int(3);
    x = kl_value_int(1);
    KT_OK(kl_value_map_put(&dup, &k, &x));
    k = kl_value_float(3.0);
    x = kl_value_int(2);
    KT_OK(kl_value_map_put(&dup, &k, &x));
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_encode(&b, &dup, 0));
    kl_buf_reset(&b);
    assert_int_equal(kl_encode(&b, &dup, KL_ENC_NUMERIC_EQ), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "duplicate"));
    kl_buf_free(&b);
    kl_value_free(&dup);
    kl_value_free(&outer);
}

static void test_encoder_counts_past_a_short_buffer_without_writing(void **state)
{
    (void)state;
    kl_value items[3] = {kl_value_float(0.1), kl_value_cstr_ref("hello"), kl_value_int(1000)};
    kl_value v = kl_value_array_ref(items, 3, true);
    uint8_t buf[32];
    for (size_t cap = 0; cap < 20; cap++) {
        memset(buf, 0xaa, sizeof buf);
        kl_enc e;
        kl_enc_init(&e, buf, cap, 0);
        kl_enc_value(&e, &v);
        assert_int_equal(e.len, 1 + 9 + 6 + 3);
        assert_int_equal(kl_enc_ok(&e), cap >= 19);
        for (size_t i = cap; i < sizeof buf; i++)
            assert_int_equal(buf[i], 0xaa); /* nothing past cap */
    }
    /* a size query with no buffer at all */
    kl_enc q;
    kl_enc_init(&q, NULL, 0, 0);
    kl_enc_value(&q, &v);
    assert_int_equal(q.len, 19);
    assert_int_equal(q.err, 0);
    /* the streaming calls make the same bytes as the value walk */
    kl_enc e;
    kl_enc_init(&e, buf, sizeof buf, 0);
    kl_enc_array_head(&e, 3);
    kl_enc_float(&e, 0.1);
    kl_enc_text(&e, "hello", 5);
    kl_enc_int(&e, 1000);
    assert_true(kl_enc_ok(&e));
    char *h = enc_hex(&v, 0);
    char got[80];
    for (size_t i = 0; i < e.len; i++)
        sprintf(got + 2 * i, "%02x", buf[i]);
    assert_string_equal(got, h);
    free(h);
    kl_enc_init(&e, buf, sizeof buf, 0);
    kl_enc_tag(&e, 40);
    kl_enc_map_head(&e, 2);
    kl_enc_null(&e);
    kl_enc_undefined(&e);
    kl_enc_bool(&e, true);
    kl_enc_bytes(&e, "", 0);
    assert_int_equal(e.len, 7);
    assert_memory_equal(buf, "\xd8\x28\xa2\xf6\xf7\xf5\x40", 7);
}

static void test_heads_carry_sizes_beyond_4gib(void **state)
{
    (void)state;
    /* only the head fits: the 5 GiB payload is counted, never read */
    static const uint8_t fake[1];
    uint8_t buf[9];
    kl_enc e;
    kl_enc_init(&e, buf, sizeof buf, 0);
    size_t big = (size_t)5 << 30;
    kl_enc_bytes(&e, fake, big);
    assert_int_equal(e.len, 9 + big);
    assert_memory_equal(buf, "\x5b\x00\x00\x00\x01\x40\x00\x00\x00", 9);
    kl_enc_init(&e, buf, sizeof buf, 0);
    kl_enc_array_head(&e, (size_t)1 << 32);
    assert_int_equal(e.len, 9);
    assert_memory_equal(buf, "\x9b\x00\x00\x00\x01\x00\x00\x00\x00", 9);
    kl_enc_init(&e, buf, sizeof buf, 0);
    kl_enc_tag(&e, UINT64_MAX);
    assert_memory_equal(buf, "\xdb\xff\xff\xff\xff\xff\xff\xff\xff", 9);
}

static void test_map_sort_reports_missing_scratch(void **state)
{
    (void)state;
    kl_value m = kl_value_map(), k, x;
    for (int i = 5; i > 0; i--) {
        k = kl_value_int(i);
        x = kl_value_int(i);
        KT_OK(kl_value_map_put(&m, &k, &x));
    }
    uint8_t buf[11];
    kl_enc e;
    kl_enc_init(&e, buf, sizeof buf, 0);
    kl_enc_value(&e, &m);
    assert_int_equal(e.len, 11);
    assert_int_equal(e.err, KL_ETOOBIG); /* fits, but no room to sort */
    assert_false(kl_enc_ok(&e));
    uint8_t big[512];
    kl_enc_init(&e, big, sizeof big, 0);
    kl_enc_value(&e, &m);
    assert_true(kl_enc_ok(&e));
    assert_memory_equal(big, "\xa5\x01\x01\x02\x02\x03\x03\x04\x04\x05\x05", 11);
    kl_value_free(&m);
}

static void test_ndarrays_use_rfc8746_typed_arrays(void **state)
{
    (void)state;
    double d[2] = {1.5, -2.0};
    kl_value v;
    KT_OK(kl_value_ndarray(&v, KL_DT_FLOAT64, 1, (size_t[]){2}, d));
    assert_enc(&v, 0, "d85650000000000000f83f00000000000000c0");
    kl_value_free(&v);
    int32_t i4[4] = {1, 2, 3, -1};
    KT_OK(kl_value_ndarray(&v, KL_DT_INT32, 2, (size_t[]){2, 2}, i4));
    assert_enc(&v, 0,
               "d828"
               "82"
               "820202"
               "d84e"
               "50"
               "01000000"
               "02000000"
               "03000000"
               "ffffffff");
    kl_value_free(&v);
    uint8_t u = 7;
    KT_OK(kl_value_ndarray(&v, KL_DT_UINT8, 0, NULL, &u));
    assert_enc(&v, 0, "d8288280d8404107");
    kl_value_free(&v);

    static const struct {
        kl_dtype dt;
        const char *tag;
    } tags[] = {{KL_DT_INT8, "d848"},   {KL_DT_INT16, "d84d"},  {KL_DT_INT32, "d84e"},
                {KL_DT_INT64, "d84f"},  {KL_DT_UINT8, "d840"},  {KL_DT_UINT16, "d845"},
                {KL_DT_UINT32, "d846"}, {KL_DT_UINT64, "d847"}, {KL_DT_FLOAT32, "d855"},
                {KL_DT_FLOAT64, "d856"}};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        KT_OK(kl_value_ndarray(&v, tags[i].dt, 1, (size_t[]){3}, NULL));
        char *h = enc_hex(&v, 0);
        assert_memory_equal(h, tags[i].tag, 4);
        kl_buf b = KL_BUF_INIT;
        KT_OK(kl_encode(&b, &v, 0));
        kl_value back;
        KT_OK(kl_decode(b.data, b.len, &back));
        assert_true(kl_value_equal(&back, &v));
        kl_value_free(&back);
        kl_buf_free(&b);
        free(h);
        kl_value_free(&v);
    }
}

static void test_empty_ndarrays_with_huge_sizes_round_trip(void **state)
{
    (void)state;
    /* shape [2^61, 2^61, 0]: the product overflows but the array is empty */
    uint8_t in[64];
    size_t n = unhex("d828"
                     "82"
                     "83"
                     "1b2000000000000000"
                     "1b2000000000000000"
                     "00"
                     "d848"
                     "40",
                     in);
    kl_value v;
    KT_OK(kl_decode(in, n, &v));
    assert_int_equal(kl_value_ndarray_count(&v), 0);
    assert_int_equal(kl_value_ndarray_bytes(&v), 0);
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_encode(&b, &v, 0));
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, in, n);
    kl_buf_reset(&b);
    KT_OK(kl_repr(&b, &v));
    assert_string_equal(
        kl_buf_cstr(&b),
        "array([], shape=(2305843009213693952, 2305843009213693952, 0), dtype=int8)");
    kl_value back;
    KT_OK(kl_parse((const char *)b.data, b.len, &back));
    assert_true(kl_value_equal(&back, &v));
    kl_value_free(&back);
    kl_buf_free(&b);
    kl_value_free(&v);
    /* non-empty with an overflowing product: refused */
    n = unhex("d828"
              "82"
              "82"
              "1b2000000000000000"
              "1b2000000000000000"
              "d848"
              "40",
              in);
    assert_int_equal(kl_decode(in, n, &v), KL_ECORRUPT);
}

static void test_decoder_reads_big_endian_typed_arrays(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = unhex("d8524840091eb851eb851f", in); /* tag 82: f64 BE, 3.14 */
    kl_value v;
    KT_OK(kl_decode(in, n, &v));
    assert_int_equal(v.type, KL_NDARRAY);
    assert_int_equal(v.u.nd.dtype, KL_DT_FLOAT64);
    assert_true(((double *)v.u.nd.data)[0] == 3.14);
    kl_value_free(&v);
    n = unhex("d84a4400010002", in); /* tag 74: int32 BE */
    KT_OK(kl_decode(in, n, &v));
    assert_int_equal(((int32_t *)v.u.nd.data)[0], 0x00010002);
    kl_value_free(&v);
}

static void test_decoder_rejects_malformed_input_with_offsets(void **state)
{
    (void)state;
    assert_dec_fails("", KL_ECORRUPT, "byte 0: empty");
    assert_dec_fails("18", KL_ECORRUPT, "byte 0: truncated");
    assert_dec_fails("1b000000", KL_ECORRUPT, "truncated");
    assert_dec_fails("0101", KL_ECORRUPT, "byte 1: trailing");
    assert_dec_fails("820102"
                     "03",
                     KL_ECORRUPT, "byte 3: trailing");
    assert_dec_fails("8301", KL_ECORRUPT, "array longer");
    assert_dec_fails("5f4101ff", KL_ECORRUPT, "indefinite");
    assert_dec_fails("9fff", KL_ECORRUPT, "indefinite");
    assert_dec_fails("bfff", KL_ECORRUPT, "indefinite");
    assert_dec_fails("ff", KL_ECORRUPT, "break");
    assert_dec_fails("1c", KL_ECORRUPT, "reserved");
    assert_dec_fails("3e", KL_ECORRUPT, "reserved");
    assert_dec_fails("81"
                     "1d",
                     KL_ECORRUPT, "byte 1: reserved");
    assert_dec_fails("62c328", KL_ECORRUPT, "byte 0: text string is not valid UTF-8");
    assert_dec_fails("63eda080", KL_ECORRUPT, "UTF-8");
    assert_dec_fails("62c080", KL_ECORRUPT, "UTF-8");
    assert_dec_fails("820162c328", KL_ECORRUPT, "byte 2: text");
    assert_dec_fails("c100", KL_ECORRUPT, "unknown tag");
    assert_dec_fails("d9d9f700", KL_ECORRUPT, "unknown tag");
    assert_dec_fails("e0", KL_ECORRUPT, "simple");
    assert_dec_fails("f820", KL_ECORRUPT, "simple");
    assert_dec_fails("1b8000000000000000", KL_ECORRUPT, "int64 range");
    assert_dec_fails("3b8000000000000000", KL_ECORRUPT, "int64 range");
    assert_dec_fails("44010203", KL_ECORRUPT, "truncated");
    assert_dec_fails("a201", KL_ECORRUPT, "map longer");
    assert_dec_fails("d8564401020304", KL_ECORRUPT, "whole number of elements");
    assert_dec_fails("d84c4100", KL_ECORRUPT, "unsupported typed-array");
    assert_dec_fails("d8540000", KL_ECORRUPT, "unsupported typed-array");
    assert_dec_fails("d85601", KL_ECORRUPT, "not a byte string");
    assert_dec_fails("d828820300", KL_ECORRUPT, "shape");
    assert_dec_fails("d8288281030000", KL_ECORRUPT, "not a typed array");
    assert_dec_fails("d828828103d8404107", KL_ECORRUPT, "does not match");
    assert_dec_fails("d82883", KL_ECORRUPT, "[shape, data]");
    assert_dec_fails("d8288289", KL_ECORRUPT, "at most 8");
}

static void test_decoder_never_allocates_beyond_its_input(void **state)
{
    (void)state;
    /* claims of 2^60 items / bytes / pairs in ten bytes fail up front */
    assert_dec_fails("9b1000000000000000"
                     "00",
                     KL_ECORRUPT, "array longer");
    assert_dec_fails("bb1000000000000000"
                     "00",
                     KL_ECORRUPT, "map longer");
    assert_dec_fails("5b1000000000000000"
                     "00",
                     KL_ECORRUPT, "truncated");
    assert_dec_fails("7bffffffffffffffff"
                     "00",
                     KL_ECORRUPT, "truncated");
    assert_dec_fails("d8565b1000000000000000"
                     "00",
                     KL_ECORRUPT, "truncated");
    assert_dec_fails("d828828a1b00000010000000001b0000001000000000"
                     "00",
                     KL_ECORRUPT, "at most 8");
    assert_dec_fails("d82882821b00000010000000001b0000001000000000d84040", KL_ECORRUPT,
                     "does not match");
}

static void test_decoder_nesting_is_bounded(void **state)
{
    (void)state;
    uint8_t buf[600];
    /* 256 levels of arrays below the top: accepted */
    memset(buf, 0x81, 256);
    buf[256] = 0x80;
    kl_value v;
    KT_OK(kl_decode(buf, 257, &v));
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_encode(&b, &v, 0));
    assert_int_equal(b.len, 257);
    kl_buf_free(&b);
    kl_value_free(&v);
    /* one more: refused, by the encoder too */
    memset(buf, 0x81, 257);
    buf[257] = 0x80;
    v = kl_value_int(1);
    assert_int_equal(kl_decode(buf, 258, &v), KL_ETOOBIG);
    assert_int_equal(v.type, KL_INT);
    memset(buf, 0x81, 599);
    buf[599] = 0x80;
    assert_int_equal(kl_decode(buf, 600, &v), KL_ETOOBIG);
    kl_value deep = kl_value_int(0);
    for (int i = 0; i < 258; i++) {
        kl_value a = kl_value_array(false);
        KT_OK(kl_value_array_push(&a, &deep));
        deep = a;
    }
    b = (kl_buf)KL_BUF_INIT;
    assert_int_equal(kl_encode(&b, &deep, 0), KL_ETOOBIG);
    kl_buf_free(&b);
    kl_value_free(&deep);
}

static void test_scalar_fast_paths(void **state)
{
    (void)state;
    uint8_t in[16];
    double f;
    int64_t i;
    size_t n = unhex("f93e00", in);
    KT_OK(kl_decode_double(in, n, &f));
    assert_true(f == 1.5);
    assert_int_equal(kl_decode_int64(in, n, &i), KL_ETYPE);
    n = unhex("fb3fb999999999999a", in);
    KT_OK(kl_decode_double(in, n, &f));
    assert_true(f == 0.1);
    n = unhex("fa47c35000", in);
    KT_OK(kl_decode_double(in, n, &f));
    assert_true(f == 100000.0);
    n = unhex("3903e7", in);
    KT_OK(kl_decode_double(in, n, &f));
    assert_true(f == -1000.0);
    KT_OK(kl_decode_int64(in, n, &i));
    assert_int_equal(i, -1000);
    n = unhex("6161", in);
    assert_int_equal(kl_decode_double(in, n, &f), KL_ETYPE);
    n = unhex("fb3fb9", in);
    assert_int_equal(kl_decode_double(in, n, &f), KL_ECORRUPT);
    n = unhex("0101", in);
    assert_int_equal(kl_decode_int64(in, n, &i), KL_ECORRUPT);
    n = unhex("1b8000000000000000", in);
    assert_int_equal(kl_decode_int64(in, n, &i), KL_ECORRUPT);
    assert_int_equal(kl_decode_double(in, 0, &f), KL_ECORRUPT);
}

/* An empty key or value reaches the decoder as (NULL, 0): every entry
 * point says KL_ECORRUPT ("empty input") without pointer arithmetic on
 * NULL (undefined in C: the ASan+UBSan build aborts on it), and NULL with
 * a length is KL_EINVAL, never a read through NULL.  Nothing is written
 * to the outputs. */
static void test_decoders_take_null_empty_input(void **state)
{
    (void)state;
    kl_value v = kl_value_int(7);
    double f = 2.5;
    int64_t i = 9;
    assert_int_equal(kl_decode(NULL, 0, &v), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "empty input"));
    assert_int_equal(kl_decode_double(NULL, 0, &f), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "empty input"));
    assert_int_equal(kl_decode_int64(NULL, 0, &i), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "empty input"));
    /* a length without bytes: refused before anything is read (9 is the
     * float64 fast path's length, 1 a lone head) */
    for (size_t len = 1; len <= 9; len += 8) {
        assert_int_equal(kl_decode(NULL, len, &v), KL_EINVAL);
        assert_int_equal(kl_decode_double(NULL, len, &f), KL_EINVAL);
        assert_int_equal(kl_decode_int64(NULL, len, &i), KL_EINVAL);
        assert_non_null(strstr(kl_errmsg(), "NULL input"));
    }
    assert_int_equal(v.type, KL_INT);
    assert_int_equal(v.u.i, 7);
    assert_true(f == 2.5);
    assert_int_equal(i, 9);
    /* an empty buffer that has an address reads the same */
    uint8_t none[1] = {0};
    assert_int_equal(kl_decode(none, 0, &v), KL_ECORRUPT);
    assert_int_equal(kl_decode_int64(none, 0, &i), KL_ECORRUPT);
}

/* ---- property test ------------------------------------------------------ */

static uint64_t seed = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static double rnd_double(void)
{
    static const double special[] = {0.0,       -0.0, 1.0,    0.1,     1e16, 1e-5, INFINITY,
                                     -INFINITY, NAN,  5e-324, 65504.0, 3.0,  1e300};
    switch (rnd() % 4) {
    case 0: {
        uint64_t bits = rnd();
        double f;
        memcpy(&f, &bits, 8);
        return f;
    }
    case 1:
        return special[rnd() % (sizeof special / sizeof special[0])];
    case 2:
        return (double)(int64_t)(rnd() % 2000000) / 64.0 - 10000.0;
    default:
        return ((double)(rnd() % 1000000) - 500000) * pow(10, (double)(rnd() % 40) - 20);
    }
}

static void rnd_value(kl_value *v, int depth);

static void rnd_text(kl_value *v)
{
    static const char *pieces[] = {"a",
                                   "Z",
                                   " ",
                                   "'",
                                   "\"",
                                   "\\",
                                   "\n",
                                   "\x01",
                                   "\x7f",
                                   "\xc3\xa9",
                                   "\xc2\xa0",
                                   "\xe2\x80\xa8",
                                   "\xe4\xb8\xad",
                                   "\xf0\x9f\x98\x80",
                                   "\xf3\xa0\x80\x81",
                                   "\xef\xbb\xbf"};
    char buf[128];
    size_t n = 0, k = rnd() % 8;
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
        memcpy(buf + n, p, strlen(p));
        n += strlen(p);
    }
    KT_OK(kl_value_text(v, buf, n));
}

static void rnd_ndarray(kl_value *v)
{
    kl_dtype dt = (kl_dtype)(rnd() % 10);
    uint8_t ndim = (uint8_t)(rnd() % 4);
    size_t shape[3];
    for (uint8_t i = 0; i < ndim; i++)
        shape[i] = rnd() % 4;
    KT_OK(kl_value_ndarray(v, dt, ndim, shape, NULL));
    uint8_t *p = v->u.nd.data;
    size_t nbytes = kl_value_ndarray_bytes(v);
    for (size_t i = 0; i < nbytes; i++)
        p[i] = (uint8_t)rnd();
}

static void rnd_value(kl_value *v, int depth)
{
    unsigned r = (unsigned)(rnd() % (depth > 3 ? 8 : 11));
    switch (r) {
    case 0:
        *v = kl_value_null();
        return;
    case 1:
        *v = kl_value_bool(rnd() & 1);
        return;
    case 2:
        *v = kl_value_int((int64_t)rnd() >> (rnd() % 64));
        return;
    case 3:
        *v = kl_value_float(rnd_double());
        return;
    case 4:
        rnd_text(v);
        return;
    case 5: {
        uint8_t b[8];
        size_t n = rnd() % 8;
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)rnd();
        KT_OK(kl_value_bytes(v, b, n));
        return;
    }
    case 6:
        *v = kl_value_ignored();
        return;
    case 7:
        rnd_ndarray(v);
        return;
    case 8:
    case 9: {
        *v = kl_value_array(rnd() & 1);
        size_t n = rnd() % 5;
        for (size_t i = 0; i < n; i++) {
            kl_value item;
            rnd_value(&item, depth + 1);
            KT_OK(kl_value_array_push(v, &item));
        }
        return;
    }
    default: {
        *v = kl_value_map();
        size_t n = rnd() % 5;
        for (size_t i = 0; i < n; i++) {
            /* distinct keys: the pair index makes each one unique */
            kl_value k = kl_value_array(true), x, tag = kl_value_int((int64_t)i);
            KT_OK(kl_value_array_push(&k, &tag));
            rnd_value(&x, depth + 3);
            KT_OK(kl_value_array_push(&k, &x));
            rnd_value(&x, depth + 1);
            KT_OK(kl_value_map_put(v, &k, &x));
        }
        return;
    }
    }
}

static bool has_map(const kl_value *v)
{
    if (v->type == KL_MAP)
        return true;
    if (v->type == KL_ARRAY)
        for (size_t i = 0; i < v->u.a.len; i++)
            if (has_map(&v->u.a.items[i]))
                return true;
    return false;
}

static void test_random_values_round_trip(void **state)
{
    (void)state;
    for (int round = 0; round < 3000; round++) {
        kl_value v;
        rnd_value(&v, 0);
        /* encode -> decode: equal (maps come back in key order, so compare
         * their canonical bytes instead), and the encoding is a fixed point */
        kl_buf e1 = KL_BUF_INIT, e2 = KL_BUF_INIT;
        KT_OK(kl_encode(&e1, &v, 0));
        kl_value d;
        KT_OK(kl_decode(e1.data, e1.len, &d));
        if (!has_map(&v))
            assert_true(kl_value_equal(&d, &v));
        KT_OK(kl_encode(&e2, &d, 0));
        assert_int_equal(e1.len, e2.len);
        assert_memory_equal(e1.data, e2.data, e1.len);
        /* the encoder into a fixed buffer agrees with kl_encode */
        uint8_t *fixed = malloc(e1.len * 16 + 64);
        kl_enc enc;
        kl_enc_init(&enc, fixed, e1.len * 16 + 64, 0);
        kl_enc_value(&enc, &v);
        assert_true(kl_enc_ok(&enc));
        assert_int_equal(enc.len, e1.len);
        assert_memory_equal(fixed, e1.data, e1.len);
        free(fixed);
        /* repr -> parse: equal, tuples still tuples */
        kl_buf r1 = KL_BUF_INIT, r2 = KL_BUF_INIT;
        KT_OK(kl_repr(&r1, &v));
        kl_value p;
        int rc = kl_parse((const char *)r1.data, r1.len, &p);
        if (rc)
            fail_msg("parse(%s): %s", kl_buf_cstr(&r1), kl_errmsg());
        assert_true(kl_value_equal(&p, &v));
        KT_OK(kl_repr(&r2, &p));
        assert_int_equal(r1.len, r2.len);
        assert_memory_equal(r1.data, r2.data, r1.len);
        kl_buf jb = KL_BUF_INIT;
        KT_OK(kl_json(&jb, &v));
        kl_buf_free(&jb);
        kl_buf_free(&r1);
        kl_buf_free(&r2);
        kl_buf_free(&e1);
        kl_buf_free(&e2);
        kl_value_free(&p);
        kl_value_free(&d);
        kl_value_free(&v);
    }
}

static void test_decode_of_a_large_float_array_is_exact(void **state)
{
    (void)state;
    size_t n = 1 << 17; /* 1 MiB of float64 */
    kl_value v;
    KT_OK(kl_value_ndarray(&v, KL_DT_FLOAT64, 1, &n, NULL));
    double *d = v.u.nd.data;
    for (size_t i = 0; i < n; i++)
        d[i] = (double)i * 0.5 - 7.25;
    kl_buf b = KL_BUF_INIT;
    KT_OK(kl_encode(&b, &v, 0));
    assert_int_equal(b.len, 2 + 5 + n * 8);
    kl_value back;
    KT_OK(kl_decode(b.data, b.len, &back));
    assert_true(kl_value_equal(&back, &v));
    /* every truncation of it is refused */
    for (size_t cut = 0; cut < 16; cut++)
        assert_int_equal(kl_decode(b.data, b.len - 1 - cut * 997, &back), KL_ECORRUPT);
    kl_value_free(&back);
    kl_buf_free(&b);
    kl_value_free(&v);
}

/* An independent reference for the shortest exact float width: binary16
 * by searching every finite half value, binary32 by a round trip. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    return (h & 0x8000) ? -v : v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_float_width_matches_a_brute_force_reference(void **state)
{
    (void)state;
    static double halves[63488];
    size_t nh = 0;
    for (uint32_t h = 0; h < 0x10000; h++)
        if (((h >> 10) & 0x1f) != 0x1f && h != 0x8000) /* finite; -0 == 0 */
            halves[nh++] = half_value((uint16_t)h);
    qsort(halves, nh, sizeof *halves, cmp_double);
    uint64_t rng = 12345;
    for (int i = 0; i < 300000; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        uint64_t r = rng >> 11;
        double d;
        switch (i % 3) { /* random doubles, floats and halves, scaled */
        case 0: {
            uint64_t bits = rng;
            memcpy(&d, &bits, 8);
            break;
        }
        case 1: {
            uint32_t b32 = (uint32_t)(rng >> 32);
            float g;
            memcpy(&g, &b32, 4);
            d = g;
            break;
        }
        default:
            d = half_value((uint16_t)(rng >> 48)) * ldexp(1, (int)(r % 7) - 3);
        }
        if (isnan(d))
            continue;
        size_t want = 9;
        if (d == 0 || isinf(d) || bsearch(&d, halves, nh, sizeof *halves, cmp_double))
            want = 3;
        else if (fabs(d) <= FLT_MAX && (double)(float)d == d)
            want = 5;
        uint8_t out[16];
        kl_enc e;
        kl_enc_init(&e, out, sizeof out, 0);
        kl_enc_float(&e, d);
        if (e.len != want)
            fail_msg("%a encodes in %zu bytes, the shortest exact form has %zu", d, e.len, want);
        double back;
        KT_OK(kl_decode_double(out, e.len, &back));
        assert_memory_equal(&back, &d, sizeof d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_take_the_shortest_head),
        cmocka_unit_test(test_floats_take_the_shortest_exact_width),
        cmocka_unit_test(test_numeric_eq_folds_integral_floats_into_integers),
        cmocka_unit_test(test_other_items_encode_per_rfc8949),
        cmocka_unit_test(test_map_keys_sort_by_their_encoding),
        cmocka_unit_test(test_encoder_counts_past_a_short_buffer_without_writing),
        cmocka_unit_test(test_heads_carry_sizes_beyond_4gib),
        cmocka_unit_test(test_map_sort_reports_missing_scratch),
        cmocka_unit_test(test_ndarrays_use_rfc8746_typed_arrays),
        cmocka_unit_test(test_empty_ndarrays_with_huge_sizes_round_trip),
        cmocka_unit_test(test_decoder_reads_big_endian_typed_arrays),
        cmocka_unit_test(test_decoder_rejects_malformed_input_with_offsets),
        cmocka_unit_test(test_decoder_never_allocates_beyond_its_input),
        cmocka_unit_test(test_decoder_nesting_is_bounded),
        cmocka_unit_test(test_scalar_fast_paths),
        cmocka_unit_test(test_decoders_take_null_empty_input),
        cmocka_unit_test(test_random_values_round_trip),
        cmocka_unit_test(test_decode_of_a_large_float_array_is_exact),
        cmocka_unit_test(test_float_width_matches_a_brute_force_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
