/* SPDX-License-Identifier: BSD-3-Clause */
/* Codec figures: decoding a 1 MiB float64 array against memcpy of the
 * same bytes, encoding and rendering small keys against the simplest
 * alternatives, each measured beside its baseline in the same run. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/codec.h"

#define REPS 15

/* GB/s of decoding a 1 MiB float64 typed array (the value is built, owned
 * and freed each time) vs memcpy of the same payload into a fresh heap
 * block (malloc + copy + free: what any owning decode must do). */
static void bench_decode_f64(void)
{
    size_t n = (1u << 20) / 8;
    kl_value v;
    if (kl_value_ndarray(&v, KL_DT_FLOAT64, 1, &n, NULL))
        exit(1);
    for (size_t i = 0; i < n; i++)
        ((double *)v.u.nd.data)[i] = (double)i * 1.25;
    kl_buf enc = KL_BUF_INIT;
    if (kl_encode(&enc, &v, 0))
        exit(1);
    size_t payload = n * 8;
    const uint8_t *src = enc.data + (enc.len - payload);
    int iters = 200;
    double ours[REPS], base[REPS];
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < iters; i++) {
            void *dst = malloc(payload);
            memcpy(dst, src, payload);
            BENCH_KEEP(dst);
            free(dst);
        }
        uint64_t t1 = bench_now_ns();
        for (int i = 0; i < iters; i++) {
            kl_value d;
            if (kl_decode(enc.data, enc.len, &d))
                exit(1);
            BENCH_KEEP(d.u.nd.data);
            kl_value_free(&d);
        }
        uint64_t t2 = bench_now_ns();
        base[r] = (double)payload * iters / (double)(t1 - t0);
        ours[r] = (double)payload * iters / (double)(t2 - t1);
    }
    bench_report("decode_f64_1mib", bench_median(ours, REPS), "GB/s", bench_median(base, REPS),
                 "higher",
                 "1 MiB float64 typed array, validated, owned copy; baseline: malloc+memcpy");
    kl_buf_free(&enc);
    kl_value_free(&v);
}

/* ns to encode the key (x, y) of two doubles into a stack buffer with the
 * canonical encoder vs the simplest fixed-width CBOR (array head + two
 * float64 items, written inline, no shortest-form or int folding). */
static void bench_encode_2d(void)
{
    enum { N = 1 << 16 };
    double *xs = malloc(N * 2 * sizeof(double));
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < 2 * N; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        xs[i] = (double)(s >> 11) * 0x1p-46; /* arbitrary doubles in [0, 2^7) */
    }
    double ours[REPS], base[REPS];
    uint8_t buf[64];
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < N; i++) {
            uint64_t a, b;
            memcpy(&a, &xs[2 * i], 8);
            memcpy(&b, &xs[2 * i + 1], 8);
            a = __builtin_bswap64(a);
            b = __builtin_bswap64(b);
            buf[0] = 0x82;
            buf[1] = 0xfb;
            memcpy(buf + 2, &a, 8);
            buf[10] = 0xfb;
            memcpy(buf + 11, &b, 8);
            BENCH_KEEP(buf);
        }
        uint64_t t1 = bench_now_ns();
        for (int i = 0; i < N; i++) {
            kl_enc e;
            kl_enc_init(&e, buf, sizeof buf, KL_ENC_NUMERIC_EQ);
            kl_enc_array_head(&e, 2);
            kl_enc_float(&e, xs[2 * i]);
            kl_enc_float(&e, xs[2 * i + 1]);
            BENCH_KEEP(e.len);
            BENCH_KEEP(buf);
        }
        uint64_t t2 = bench_now_ns();
        base[r] = (double)(t1 - t0) / N;
        ours[r] = (double)(t2 - t1) / N;
    }
    bench_report(
        "encode_2d", bench_median(ours, REPS), "ns", bench_median(base, REPS), "lower",
        "canonical CBOR of (x, y) doubles, numeric-eq; baseline: fixed-width float64 CBOR inline");
    free(xs);
}

/* ns per Python-exact float repr vs snprintf("%.17g") (which is not the
 * shortest form, but is what C gives for free). */
static void bench_repr_double(void)
{
    enum { N = 1 << 14 };
    double *xs = malloc(N * sizeof(double));
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < N; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        /* half short decimals, half arbitrary doubles */
        xs[i] = i % 2 ? (double)(s % 1000000) / 1000.0 : (double)(s >> 11) * 0x1p-40;
    }
    double ours[REPS], base[REPS];
    kl_buf b = KL_BUF_INIT;
    char tmp[40];
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < N; i++) {
            int n = snprintf(tmp, sizeof tmp, "%.17g", xs[i]);
            BENCH_KEEP(n);
        }
        uint64_t t1 = bench_now_ns();
        for (int i = 0; i < N; i++) {
            kl_buf_reset(&b);
            kl_repr_double(&b, xs[i]);
            BENCH_KEEP(b.len);
        }
        uint64_t t2 = bench_now_ns();
        base[r] = (double)(t1 - t0) / N;
        ours[r] = (double)(t2 - t1) / N;
    }
    bench_report("repr_double", bench_median(ours, REPS), "ns", bench_median(base, REPS), "lower",
                 "Python repr of a double, half short decimals; baseline: snprintf %.17g");
    kl_buf_free(&b);
    free(xs);
}

/* ns to decode a small key (1.5, 'abc', 7) into a value and free it. */
static void bench_decode_small(void)
{
    kl_value items[3] = {kl_value_float(1.5), kl_value_cstr_ref("abc"), kl_value_int(7)};
    kl_value v = kl_value_array_ref(items, 3, true);
    kl_buf enc = KL_BUF_INIT;
    if (kl_encode(&enc, &v, 0))
        exit(1);
    enum { N = 1 << 16 };
    double ours[REPS];
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < N; i++) {
            kl_value d;
            kl_decode(enc.data, enc.len, &d);
            BENCH_KEEP(d.u.a.items);
            kl_value_free(&d);
        }
        ours[r] = (double)(bench_now_ns() - t0) / N;
    }
    bench_report("decode_small", bench_median(ours, REPS), "ns", -1, "lower",
                 "decode (1.5, 'abc', 7) into an owned value and free it");
    kl_buf_free(&enc);
}

int main(void)
{
    if (bench_wants("decode_f64_1mib"))
        bench_decode_f64();
    if (bench_wants("encode_2d"))
        bench_encode_2d();
    if (bench_wants("repr_double"))
        bench_repr_double();
    if (bench_wants("decode_small"))
        bench_decode_small();
    return 0;
}
