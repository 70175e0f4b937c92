/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Key figures (BENCH.md):
 *   key_build_2d  the default key (raw keymap) of f(x, y) with two doubles,
 *                 built into a stack buffer; baseline: the same 4-item CBOR
 *                 array ['x', x, 'y', y] written by hand (fixed 9-byte floats).
 *   key_md5_2d    the md5 hashmap key of the same call (Python klepto's
 *                 md5(repr(key))); baseline: the same text rendered directly
 *                 with kl_repr_double into a reused buffer, then OpenSSL's
 *                 one-shot EVP_Digest with a pre-fetched MD5, and hex.
 * Allocations during the key_build_2d loop are counted (by wrapping
 * malloc) and reported in the note: the hot path must not allocate.
 */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "klepto/codec.h"
#include "klepto/digest.h"
#include "klepto/error.h"
#include "klepto/keygen.h"
#include "klepto/keymap.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NO_MALLOC_COUNT 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_MALLOC_COUNT 1
#endif

static size_t n_allocs;
#ifndef NO_MALLOC_COUNT
/* Count allocations (glibc's own entry points do the work). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
void *malloc(size_t n)
{
    n_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    n_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    n_allocs++;
    return __libc_realloc(p, n);
}
#endif

/* Many short repetitions: on a shared machine a rep of a millisecond or
 * two usually runs inside one scheduler slice, and the median then shows
 * the code rather than the neighbours. */
enum { NPAIRS = 1024, REPS = 41 };
static double xs[NPAIRS], ys[NPAIRS];
/* The argument values, built once: kl_value is a wide struct, and what is
 * measured is building the key, not the caller's values. */
static kl_value vals[NPAIRS][2];

static void make_pairs(void)
{
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < NPAIRS; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        xs[i] = (double)(s >> 11) / 9007199254740992.0 * 200.0 - 100.0;
        s = s * 6364136223846793005u + 1442695040888963407u;
        ys[i] = (double)(s >> 11) / 9007199254740992.0 * 2e6;
        vals[i][0] = kl_value_float(xs[i]);
        vals[i][1] = kl_value_float(ys[i]);
    }
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_keys: %s: %s (%s)\n", what, kl_strerror(rc), kl_errmsg());
    exit(1);
}

static kl_keygen *make_keygen(kl_signature **sig, kl_keymap **km, kl_keymap_kind kind,
                              const char *alg)
{
    int rc;
    if ((rc = kl_signature_parse(sig, "x, y")))
        die("signature", rc);
    kl_keymap_opts mo = KL_KEYMAP_OPTS_INIT;
    mo.kind = kind;
    mo.algorithm = alg;
    if ((rc = kl_keymap_new(km, &mo)))
        die("keymap", rc);
    kl_keygen *kg;
    if ((rc = kl_keygen_new(&kg, *sig, *km, NULL)))
        die("keygen", rc);
    return kg;
}

/* ---- key_build_2d ---- */

static size_t hand_cbor(uint8_t *out, double x, double y)
{
    uint8_t *p = out;
    *p++ = 0x84;
    *p++ = 0x61;
    *p++ = 'x';
    uint64_t b;
    memcpy(&b, &x, 8);
    b = __builtin_bswap64(b);
    *p++ = 0xfb;
    memcpy(p, &b, 8);
    p += 8;
    *p++ = 0x61;
    *p++ = 'y';
    memcpy(&b, &y, 8);
    b = __builtin_bswap64(b);
    *p++ = 0xfb;
    memcpy(p, &b, 8);
    p += 8;
    return (size_t)(p - out);
}

static void key_build_2d(void)
{
    if (!bench_wants("key_build_2d"))
        return;
    kl_signature *sig;
    kl_keymap *km;
    kl_keygen *kg = make_keygen(&sig, &km, KL_KEYMAP_RAW, NULL);
    const size_t ops = 100000;
    double ours[REPS], base[REPS];
    size_t allocs = 0;
    for (int r = 0; r < REPS; r++) {
        uint8_t buf[64];
        size_t len = 0, sum = 0;
        size_t a0 = n_allocs;
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < ops; i++) {
            kl_call call = {vals[i % NPAIRS], 2, NULL, NULL, 0};
            int rc = kl_keygen_key_into(kg, &call, buf, sizeof buf, &len);
            if (rc)
                die("key", rc);
            BENCH_KEEP(buf[len - 1]);
            sum += len;
        }
        uint64_t t1 = bench_now_ns();
        allocs += n_allocs - a0;
        ours[r] = (double)(t1 - t0) / (double)ops;
        BENCH_KEEP(sum);
        t0 = bench_now_ns();
        for (size_t i = 0; i < ops; i++) {
            size_t n = hand_cbor(buf, xs[i % NPAIRS], ys[i % NPAIRS]);
            BENCH_KEEP(buf[n - 1]);
        }
        t1 = bench_now_ns();
        base[r] = (double)(t1 - t0) / (double)ops;
    }
    char note[160];
#ifdef NO_MALLOC_COUNT
    (void)allocs;
    snprintf(note, sizeof note,
             "signature 'x, y', 2 doubles, stack buffer; allocations not counted");
#else
    snprintf(note, sizeof note,
             "signature 'x, y', 2 doubles, stack buffer; %zu allocations in %zu keys", allocs,
             ops * REPS);
#endif
    bench_report("key_build_2d", bench_median(ours, REPS), "ns", bench_median(base, REPS), "lower",
                 note);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    kl_signature_free(sig);
}

/* ---- key_md5_2d ---- */

static void key_md5_2d(void)
{
    if (!bench_wants("key_md5_2d"))
        return;
    kl_signature *sig;
    kl_keymap *km;
    kl_keygen *kg = make_keygen(&sig, &km, KL_KEYMAP_HASH, "md5");
    const size_t ops = 2000;
    double ours[REPS], base[REPS];
    kl_buf text = KL_BUF_INIT;
    /* fetched once, as the keymap does: the baseline is the fastest direct way */
    EVP_MD *md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    if (!md5)
        die("EVP_MD_fetch(MD5)", KL_EUNSUPPORTED);
    for (int r = 0; r < REPS; r++) {
        uint8_t buf[64];
        size_t len = 0;
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < ops; i++) {
            kl_call call = {vals[i % NPAIRS], 2, NULL, NULL, 0};
            int rc = kl_keygen_key_into(kg, &call, buf, sizeof buf, &len);
            if (rc)
                die("md5 key", rc);
            BENCH_KEEP(buf[len - 1]);
        }
        uint64_t t1 = bench_now_ns();
        ours[r] = (double)(t1 - t0) / (double)ops;

        t0 = bench_now_ns();
        for (size_t i = 0; i < ops; i++) {
            kl_buf_reset(&text);
            kl_buf_append(&text, "('x', ", 6);
            kl_repr_double(&text, xs[i % NPAIRS]);
            kl_buf_append(&text, ", 'y', ", 7);
            kl_repr_double(&text, ys[i % NPAIRS]);
            kl_buf_append(&text, ")", 1);
            unsigned char d[16];
            unsigned dl = 0;
            EVP_Digest(text.data, text.len, d, &dl, md5, NULL);
            char hex[33];
            kl_hex(d, 16, hex);
            BENCH_KEEP(hex[31]);
        }
        t1 = bench_now_ns();
        base[r] = (double)(t1 - t0) / (double)ops;
    }
    /* the two must agree on the key */
    {
        kl_value args[2] = {kl_value_float(xs[0]), kl_value_float(ys[0])};
        kl_call call = {args, 2, NULL, NULL, 0};
        kl_buf k = KL_BUF_INIT;
        int rc = kl_keygen_key(kg, &call, &k);
        if (rc)
            die("md5 key", rc);
        kl_buf_reset(&text);
        kl_buf_append(&text, "('x', ", 6);
        kl_repr_double(&text, xs[0]);
        kl_buf_append(&text, ", 'y', ", 7);
        kl_repr_double(&text, ys[0]);
        kl_buf_append(&text, ")", 1);
        char hex[KL_DIGEST_HEX_MAX];
        kl_digest_hex_named("md5", text.data, text.len, hex, sizeof hex);
        if (k.len != 34 || memcmp(k.data + 2, hex, 32) != 0) {
            fprintf(stderr, "bench_keys: md5 key differs from the direct computation\n");
            exit(1);
        }
        kl_buf_free(&k);
    }
    bench_report("key_md5_2d", bench_median(ours, REPS), "ns", bench_median(base, REPS), "lower",
                 "signature 'x, y', 2 doubles; baseline: repr text + fetched-MD5 EVP_Digest + hex");
    EVP_MD_free(md5);
    kl_buf_free(&text);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    kl_signature_free(sig);
}

int main(void)
{
    make_pairs();
    key_build_2d();
    key_md5_2d();
    return 0;
}
