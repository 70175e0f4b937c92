/* SPDX-License-Identifier: BSD-3-Clause */
/* See archive_suite.h. */
#include "archive_suite.h"

#include "klepto/archive.h"
#include "klepto/error.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny canonical CBOR writer for the samples ---------------------- */

typedef struct w {
    unsigned char *p;
    size_t len, cap;
} w;

static void w_bytes(w *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void w_head(w *b, int major, unsigned long long v)
{
    unsigned char h[9];
    size_t n;
    if (v < 24) {
        h[0] = (unsigned char)(major << 5 | v);
        n = 1;
    } else if (v <= 0xff) {
        h[0] = (unsigned char)(major << 5 | 24);
        h[1] = (unsigned char)v;
        n = 2;
    } else if (v <= 0xffff) {
        h[0] = (unsigned char)(major << 5 | 25);
        h[1] = (unsigned char)(v >> 8);
        h[2] = (unsigned char)v;
        n = 3;
    } else if (v <= 0xffffffffull) {
        h[0] = (unsigned char)(major << 5 | 26);
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(v >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = (unsigned char)(major << 5 | 27);
        for (int i = 0; i < 8; i++)
            h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
        n = 9;
    }
    w_bytes(b, h, n);
}

static void w_int(w *b, long long i)
{
    if (i >= 0)
        w_head(b, 0, (unsigned long long)i);
    else
        w_head(b, 1, (unsigned long long)(-1 - i));
}

static void w_f64(w *b, double d)
{
    unsigned char h[9] = {0xfb};
    unsigned long long u;
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        h[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    w_bytes(b, h, 9);
}

static void w_text(w *b, const char *s)
{
    w_head(b, 3, strlen(s));
    w_bytes(b, s, strlen(s));
}

enum { NSAMPLES = 24 };
static w samples[NSAMPLES];
static pthread_once_t samples_once = PTHREAD_ONCE_INIT;

static void build_samples(void)
{
    int k = 0;
    unsigned char c;
    c = 0xf6, w_bytes(&samples[k++], &c, 1);              /* None */
    c = 0xf5, w_bytes(&samples[k++], &c, 1);              /* True */
    c = 0xf4, w_bytes(&samples[k++], &c, 1);              /* False */
    w_int(&samples[k++], 0);
    w_int(&samples[k++], -1);
    w_int(&samples[k++], 1000000);
    w_int(&samples[k++], 9223372036854775807LL);
    w_int(&samples[k++], -9223372036854775807LL - 1);
    w_f64(&samples[k++], 0.1);
    w_f64(&samples[k++], INFINITY);
    w_f64(&samples[k++], NAN);
    w_text(&samples[k++], "");
    w_text(&samples[k++], "it's \"quoted\" \xc3\xa9\xe2\x82\xac");
    w_head(&samples[k], 2, 5), w_bytes(&samples[k++], "\0a\0\xff\n", 5);
    /* [1, [2, 'x'], {}] */
    w_head(&samples[k], 4, 3), w_int(&samples[k], 1), w_head(&samples[k], 4, 2);
    w_int(&samples[k], 2), w_text(&samples[k], "x"), w_head(&samples[k++], 5, 0);
    /* {'a': 1.5, 'b': None} */
    w_head(&samples[k], 5, 2), w_text(&samples[k], "a"), w_f64(&samples[k], 1.5);
    w_text(&samples[k], "b"), c = 0xf6, w_bytes(&samples[k++], &c, 1);
    /* 1 MiB of bytes */
    {
        size_t n = 1 << 20;
        unsigned char *big = malloc(n);
        assert_non_null(big);
        for (size_t i = 0; i < n; i++)
            big[i] = (unsigned char)(i * 2654435761u >> 13);
        w_head(&samples[k], 2, n), w_bytes(&samples[k++], big, n);
        free(big);
    }
    /* highly compressible text, 200 kB */
    {
        size_t n = 200000;
        char *t = malloc(n + 1);
        assert_non_null(t);
        for (size_t i = 0; i < n; i++)
            t[i] = "abcab"[i % 5];
        t[n] = '\0';
        w_text(&samples[k++], t);
        free(t);
    }
    /* small float64 typed array (tag 86), 10 elements */
    {
        double d[10];
        for (int i = 0; i < 10; i++)
            d[i] = i * 0.5;
        w_head(&samples[k], 6, 86), w_head(&samples[k], 2, sizeof d);
        w_bytes(&samples[k++], d, sizeof d);
    }
    /* large float64 typed array: 200k elements (1.6 MB) */
    {
        size_t n = 200000;
        double *d = malloc(n * sizeof *d);
        assert_non_null(d);
        for (size_t i = 0; i < n; i++)
            d[i] = (double)i / 3.0;
        w_head(&samples[k], 6, 86), w_head(&samples[k], 2, n * sizeof *d);
        w_bytes(&samples[k++], d, n * sizeof *d);
        free(d);
    }
    /* 2-d int32 array 300x300 as tag 40 [[300, 300], 78(bytes)] */
    {
        size_t n = 300 * 300;
        int *d = malloc(n * sizeof *d);
        assert_non_null(d);
        for (size_t i = 0; i < n; i++)
            d[i] = (int)i - 1000;
        w_head(&samples[k], 6, 40), w_head(&samples[k], 4, 2), w_head(&samples[k], 4, 2);
        w_int(&samples[k], 300), w_int(&samples[k], 300);
        w_head(&samples[k], 6, 78), w_head(&samples[k], 2, n * sizeof *d);
        w_bytes(&samples[k++], d, n * sizeof *d);
        free(d);
    }
    /* deep nesting: 50 arrays */
    for (int i = 0; i < 50; i++)
        w_head(&samples[k], 4, 1);
    w_int(&samples[k++], 7);
    /* a long tuple (200 items) */
    w_head(&samples[k], 4, 200);
    for (int i = 0; i < 200; i++)
        w_int(&samples[k], i * 1000);
    k++;
    w_f64(&samples[k++], -0.0);
    assert_int_equal(k, NSAMPLES);
}

size_t kt_sample_count(void) { return NSAMPLES; }

const unsigned char *kt_sample(size_t i, size_t *len)
{
    pthread_once(&samples_once, build_samples);
    *len = samples[i].len;
    return samples[i].p;
}

size_t kt_key(unsigned char *buf, long long i, long long j)
{
    w b = {0};
    w_head(&b, 4, 3);
    w_int(&b, i);
    w_text(&b, "k");
    w_int(&b, j);
    memcpy(buf, b.p, b.len);
    size_t n = b.len;
    free(b.p);
    return n;
}

/* ---- helpers ----------------------------------------------------------- */

#define SOK(url, step, expr)                                                             \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0)                                                                    \
            fail_msg("%s: %s: %s -> %d (%s): %s", url, step, #expr, rc_, kl_strerror(rc_), \
                     kl_errmsg());                                                       \
    } while (0)

static kl_archive *open_url(const char *url)
{
    kl_archive *ar = NULL;
    SOK(url, "open", kl_archive_open(&ar, url, NULL));
    return ar;
}

static kl_archive *fresh(const char *url)
{
    kl_archive *ar = open_url(url);
    SOK(url, "clear", kl_archive_clear(ar));
    size_t n = 99;
    SOK(url, "count", kl_archive_count(ar, &n));
    assert_int_equal(n, 0);
    return ar;
}

static void check_value(const char *url, kl_archive *ar, const void *k, size_t kl,
                         const void *v, size_t vl, unsigned flags)
{
    kl_buf got = KL_BUF_INIT;
    int rc = kl_archive_get(ar, k, kl, &got);
    if (flags & KT_ARCH_NULL) {
        assert_int_equal(rc, KL_ENOTFOUND);
    } else {
        if (rc)
            fail_msg("%s: get -> %d: %s", url, rc, kl_errmsg());
        if (got.len != vl || (vl && memcmp(got.data, v, vl)))
            fail_msg("%s: value of %zu bytes came back as %zu different bytes", url, vl, got.len);
    }
    kl_buf_free(&got);
}

/* ---- the checks -------------------------------------------------------- */

void kt_suite_roundtrip(const char *url, unsigned flags)
{
    kl_archive *ar = fresh(url);
    unsigned char k[64];
    size_t ns = kt_sample_count();
    for (size_t i = 0; i < ns; i++) {
        size_t vl, kl = kt_key(k, (long long)i, -1);
        const unsigned char *v = kt_sample(i, &vl);
        SOK(url, "put", kl_archive_put(ar, k, kl, v, vl));
    }
    /* every sample also as a key (keys are bytes too) */
    for (size_t i = 0; i < ns; i++) {
        size_t vl;
        const unsigned char *v = kt_sample(i, &vl);
        if (vl > 4096)
            continue;
        SOK(url, "put (sample key)", kl_archive_put(ar, v, vl, k, 3));
    }
    for (size_t i = 0; i < ns; i++) {
        size_t vl, kl = kt_key(k, (long long)i, -1);
        const unsigned char *v = kt_sample(i, &vl);
        check_value(url, ar, k, kl, v, vl, flags);
        assert_int_equal(kl_archive_contains(ar, k, kl), (flags & KT_ARCH_NULL) ? 0 : 1);
        kl_entry_info info;
        int rc = kl_archive_stat(ar, k, kl, &info);
        if (flags & KT_ARCH_NULL) {
            assert_int_equal(rc, KL_ENOTFOUND);
        } else {
            SOK(url, "stat", rc);
            assert_int_equal(info.size, kl + vl);
            assert_true(info.stored_ns >= 0);
        }
    }
    for (size_t i = 0; i < ns; i++) {
        size_t vl;
        const unsigned char *v = kt_sample(i, &vl);
        if (vl <= 4096)
            check_value(url, ar, v, vl, k, 3, flags);
    }
    /* absent keys */
    size_t kl = kt_key(k, 123456789, 42);
    kl_buf got = KL_BUF_INIT;
    assert_int_equal(kl_archive_get(ar, k, kl, &got), KL_ENOTFOUND);
    assert_int_equal(kl_archive_contains(ar, k, kl), 0);
    kl_entry_info info;
    assert_int_equal(kl_archive_stat(ar, k, kl, &info), KL_ENOTFOUND);
    /* an empty value and a long key */
    unsigned char longkey[10000];
    for (size_t i = 0; i < sizeof longkey; i++)
        longkey[i] = (unsigned char)(i * 7);
    SOK(url, "put empty value", kl_archive_put(ar, k, kl, "", 0));
    check_value(url, ar, k, kl, "", 0, flags);
    SOK(url, "put long key", kl_archive_put(ar, longkey, sizeof longkey, "\x01", 1));
    check_value(url, ar, longkey, sizeof longkey, "\x01", 1, flags);
    size_t n = 0;
    SOK(url, "count", kl_archive_count(ar, &n));
    if (!(flags & KT_ARCH_NULL)) {
        size_t small = 0;
        for (size_t i = 0; i < ns; i++) {
            size_t vl;
            kt_sample(i, &vl);
            small += vl <= 4096;
        }
        /* sample-keyed entries may coincide with nothing else */
        assert_int_equal(n, ns + small + 2);
    } else {
        assert_int_equal(n, 0);
    }
    kl_buf_free(&got);
    SOK(url, "clear", kl_archive_clear(ar));
    SOK(url, "close", kl_archive_close(ar));
}

void kt_suite_overwrite_del(const char *url, unsigned flags)
{
    kl_archive *ar = fresh(url);
    unsigned char k[64];
    char v[32];
    for (int i = 0; i < 200; i++) {
        size_t kl = kt_key(k, i, 0);
        int vl = snprintf(v, sizeof v, "first %d", i);
        SOK(url, "put", kl_archive_put(ar, k, kl, v, (size_t)vl));
    }
    for (int i = 0; i < 200; i += 2) {
        size_t kl = kt_key(k, i, 0);
        int vl = snprintf(v, sizeof v, "second value %d", i);
        SOK(url, "overwrite", kl_archive_put(ar, k, kl, v, (size_t)vl));
    }
    for (int i = 0; i < 200; i += 3) {
        size_t kl = kt_key(k, i, 0);
        int rc = kl_archive_del(ar, k, kl);
        if (flags & KT_ARCH_NULL)
            assert_int_equal(rc, KL_ENOTFOUND);
        else
            SOK(url, "del", rc);
        assert_int_equal(kl_archive_del(ar, k, kl), KL_ENOTFOUND);
        assert_int_equal(kl_archive_contains(ar, k, kl), 0);
    }
    size_t live = 0;
    for (int i = 0; i < 200; i++) {
        size_t kl = kt_key(k, i, 0);
        kl_buf got = KL_BUF_INIT;
        int rc = kl_archive_get(ar, k, kl, &got);
        if (i % 3 == 0 || (flags & KT_ARCH_NULL)) {
            assert_int_equal(rc, KL_ENOTFOUND);
        } else {
            SOK(url, "get", rc);
            int vl = snprintf(v, sizeof v, i % 2 ? "first %d" : "second value %d", i);
            assert_int_equal(got.len, (size_t)vl);
            assert_memory_equal(got.data, v, (size_t)vl);
            live++;
        }
        kl_buf_free(&got);
    }
    size_t n = 0;
    SOK(url, "count", kl_archive_count(ar, &n));
    assert_int_equal(n, live);
    SOK(url, "clear", kl_archive_clear(ar));
    SOK(url, "close", kl_archive_close(ar));
}

void kt_suite_iterate(const char *url, unsigned flags)
{
    kl_archive *ar = fresh(url);
    enum { N = 500 };
    unsigned char k[64];
    char v[32];
    for (int i = 0; i < N; i++) {
        size_t kl = kt_key(k, i, i * 3);
        int vl = snprintf(v, sizeof v, "v%d", i);
        SOK(url, "put", kl_archive_put(ar, k, kl, v, (size_t)vl));
    }
    for (int pass = 0; pass < 2; pass++) {
        int seen[N] = {0};
        kl_archive_iter *it = NULL;
        SOK(url, "iter_new", kl_archive_iter_new(ar, &it));
        kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
        int rc, total = 0;
        while ((rc = kl_archive_iter_next(it, &key, pass ? &val : NULL)) == 1) {
            int found = -1;
            for (int i = 0; i < N && found < 0; i++) {
                size_t kl = kt_key(k, i, i * 3);
                if (kl == key.len && !memcmp(k, key.data, kl))
                    found = i;
            }
            if (found < 0)
                fail_msg("%s: iteration gave a key never stored", url);
            seen[found]++;
            total++;
            if (pass) {
                int vl = snprintf(v, sizeof v, "v%d", found);
                assert_int_equal(val.len, (size_t)vl);
                assert_memory_equal(val.data, v, (size_t)vl);
            }
        }
        SOK(url, "iter_next", rc < 0 ? rc : 0);
        kl_archive_iter_free(it);
        kl_buf_free(&key);
        kl_buf_free(&val);
        assert_int_equal(total, (flags & KT_ARCH_NULL) ? 0 : N);
        for (int i = 0; i < N && !(flags & KT_ARCH_NULL); i++)
            assert_int_equal(seen[i], 1);
    }
    SOK(url, "clear", kl_archive_clear(ar));
    SOK(url, "close", kl_archive_close(ar));
}

void kt_suite_batch(const char *url, unsigned flags)
{
    kl_archive *ar = fresh(url);
    enum { N = 300 };
    static unsigned char kb[N][64];
    static char vb[N][32];
    const void *keys[N], *vals[N];
    size_t klens[N], vlens[N];
    for (int i = 0; i < N; i++) {
        klens[i] = kt_key(kb[i], i, 7);
        vlens[i] = (size_t)snprintf(vb[i], sizeof vb[i], "batch %d", i);
        keys[i] = kb[i];
        vals[i] = vb[i];
    }
    SOK(url, "put_many", kl_archive_put_many(ar, N / 2, keys, klens, vals, vlens));
    kl_buf got[N];
    bool found[N];
    memset(got, 0, sizeof got);
    SOK(url, "get_many", kl_archive_get_many(ar, N, keys, klens, got, found));
    for (int i = 0; i < N; i++) {
        bool want = i < N / 2 && !(flags & KT_ARCH_NULL);
        assert_int_equal(found[i], want);
        if (want) {
            assert_int_equal(got[i].len, vlens[i]);
            assert_memory_equal(got[i].data, vals[i], vlens[i]);
        }
        kl_buf_free(&got[i]);
    }
    size_t n = 0;
    SOK(url, "count", kl_archive_count(ar, &n));
    assert_int_equal(n, (flags & KT_ARCH_NULL) ? 0 : N / 2);

    /* del_many: keys 100..199, of which 100..149 are stored, 120 given
     * twice: 50 go, the rest is skipped; then a batch of absent keys */
    const void *dkeys[N / 3 + 1];
    size_t dklens[N / 3 + 1], deleted = 99;
    for (int i = 0; i < N / 3; i++) {
        dkeys[i] = keys[N / 3 + i];
        dklens[i] = klens[N / 3 + i];
    }
    dkeys[N / 3] = keys[120];
    dklens[N / 3] = klens[120];
    SOK(url, "del_many", kl_archive_del_many(ar, N / 3 + 1, dkeys, dklens, &deleted));
    assert_int_equal(deleted, (flags & KT_ARCH_NULL) ? 0 : N / 2 - N / 3);
    SOK(url, "count", kl_archive_count(ar, &n));
    assert_int_equal(n, (flags & KT_ARCH_NULL) ? 0 : N / 3);
    for (int i = 0; i < N / 2; i++) {
        int r = kl_archive_contains(ar, keys[i], klens[i]);
        assert_int_equal(r, i < N / 3 && !(flags & KT_ARCH_NULL) ? 1 : 0);
    }
    SOK(url, "del_many of absent keys", kl_archive_del_many(ar, 5, dkeys, dklens, &deleted));
    assert_int_equal(deleted, 0);
    SOK(url, "del_many of none", kl_archive_del_many(ar, 0, dkeys, dklens, NULL));
    SOK(url, "clear", kl_archive_clear(ar));
    SOK(url, "close", kl_archive_close(ar));
}

void kt_suite_persist(const char *url, unsigned flags)
{
    kl_archive *ar = fresh(url);
    unsigned char k[64];
    for (int i = 0; i < 50; i++) {
        size_t kl = kt_key(k, i, 1);
        SOK(url, "put", kl_archive_put(ar, k, kl, k, kl));
    }
    SOK(url, "sync", kl_archive_sync(ar));
    SOK(url, "close", kl_archive_close(ar));
    ar = open_url(url);
    size_t n = 0;
    SOK(url, "count after reopen", kl_archive_count(ar, &n));
    assert_int_equal(n, (flags & KT_ARCH_PERSISTENT) ? 50 : 0);
    if (flags & KT_ARCH_PERSISTENT)
        for (int i = 0; i < 50; i++) {
            size_t kl = kt_key(k, i, 1);
            check_value(url, ar, k, kl, k, kl, flags);
        }
    SOK(url, "clear", kl_archive_clear(ar));
    SOK(url, "close", kl_archive_close(ar));
}

void kt_suite_view(const char *url, unsigned flags)
{
    if (flags & KT_ARCH_NULL)
        return;
    kl_archive *ar = fresh(url);
    unsigned char k[64];
    size_t ns = kt_sample_count();
    for (size_t i = 0; i < ns; i++) {
        size_t vl, kl = kt_key(k, (long long)i, 5);
        const unsigned char *v = kt_sample(i, &vl);
        SOK(url, "put", kl_archive_put(ar, k, kl, v, vl));
    }
    int arrays = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t vl, kl = kt_key(k, (long long)i, 5);
        const unsigned char *v = kt_sample(i, &vl);
        kl_view *view = NULL;
        int rc = kl_archive_get_view(ar, k, kl, &view);
        bool is_array = vl > 2 && (v[0] == 0xd8 && (v[1] == 86 || v[1] == 40));
        if (!is_array) {
            assert_int_equal(rc, KL_ETYPE);
            assert_null(view);
            continue;
        }
        SOK(url, "get_view", rc);
        arrays++;
        size_t nb = kl_view_bytes(view);
        /* the payload is the tail of the encoded value */
        assert_memory_equal(kl_view_data(view), v + vl - nb, nb);
        if (v[1] == 40) {
            assert_int_equal(kl_view_ndim(view), 2);
            assert_int_equal(kl_view_shape(view)[0], 300);
            assert_int_equal(kl_view_dtype(view), KL_DT_INT32);
        } else {
            assert_int_equal(kl_view_ndim(view), 1);
            assert_int_equal(kl_view_shape(view)[0], nb / 8);
            assert_int_equal(kl_view_dtype(view), KL_DT_FLOAT64);
        }
        if ((flags & KT_ARCH_MAPPED) && nb >= 65536) {
            assert_true(kl_view_is_mapped(view));
            assert_int_equal((uintptr_t)kl_view_data(view) % 64, 0);
        }
        /* the view outlives a replace of the entry */
        SOK(url, "overwrite", kl_archive_put(ar, k, kl, "\xf6", 1));
        assert_memory_equal(kl_view_data(view), v + vl - nb, nb);
        kl_view_release(view);
    }
    assert_int_equal(arrays, 3);
    kl_view *view = NULL;
    size_t kl = kt_key(k, 999999, 5);
    assert_int_equal(kl_archive_get_view(ar, k, kl, &view), KL_ENOTFOUND);
    SOK(url, "clear", kl_archive_clear(ar));
    SOK(url, "close", kl_archive_close(ar));
}

void kt_suite_clear_drop(const char *url, unsigned flags)
{
    kl_archive *ar = fresh(url);
    unsigned char k[64];
    for (int i = 0; i < 30; i++) {
        size_t kl = kt_key(k, i, 2);
        SOK(url, "put", kl_archive_put(ar, k, kl, "x", 1));
    }
    SOK(url, "clear", kl_archive_clear(ar));
    size_t n = 9;
    SOK(url, "count", kl_archive_count(ar, &n));
    assert_int_equal(n, 0);
    kl_archive_iter *it = NULL;
    kl_buf key = KL_BUF_INIT;
    SOK(url, "iter_new", kl_archive_iter_new(ar, &it));
    assert_int_equal(kl_archive_iter_next(it, &key, NULL), 0);
    kl_archive_iter_free(it);
    kl_buf_free(&key);
    /* still usable after clear */
    size_t kl = kt_key(k, 1, 2);
    SOK(url, "put after clear", kl_archive_put(ar, k, kl, "y", 1));
    check_value(url, ar, k, kl, "y", 1, flags);
    if (!(flags & KT_ARCH_DROP)) {
        SOK(url, "clear", kl_archive_clear(ar));
        SOK(url, "close", kl_archive_close(ar));
        return;
    }
    SOK(url, "drop", kl_archive_drop(ar));
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    ar = NULL;
    int rc = kl_archive_open(&ar, url, &o);
    if (rc == 0) {
        /* archives that always exist (mem:) come back empty */
        SOK(url, "count after drop", kl_archive_count(ar, &n));
        assert_int_equal(n, 0);
        kl_archive_close(ar);
    } else {
        assert_int_equal(rc, KL_ENOTFOUND);
    }
}

void kt_archive_suite(const char *url, unsigned flags)
{
    kt_suite_roundtrip(url, flags);
    kt_suite_overwrite_del(url, flags);
    kt_suite_iterate(url, flags);
    kt_suite_batch(url, flags);
    kt_suite_persist(url, flags);
    kt_suite_view(url, flags);
    kt_suite_clear_drop(url, flags);
}

/* ---- one handle shared by threads -------------------------------------- */

typedef struct thr_arg {
    kl_archive *ar;
    int id;
    int failures;
} thr_arg;

static void *thr_body(void *p)
{
    thr_arg *a = p;
    kl_buf got = KL_BUF_INIT;
    for (int i = 0; i < 150; i++) {
        char k[32];
        int kn = snprintf(k, sizeof k, "t%d/%d", a->id, i);
        if (kl_archive_put(a->ar, k, (size_t)kn, k, (size_t)kn) ||
            kl_archive_get(a->ar, k, (size_t)kn, &got) || got.len != (size_t)kn ||
            memcmp(got.data, k, (size_t)kn))
            a->failures++;
    }
    kl_buf_free(&got);
    return NULL;
}

void kt_suite_threads(const char *url)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    pthread_t t[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){ar, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, thr_body, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 600);
    KT_OK(kl_archive_drop(ar));
}
