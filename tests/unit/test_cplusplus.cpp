/* SPDX-License-Identifier: BSD-3-Clause */
// The public headers from C++: KL_MEMOIZE (whose C form chooses by
// _Generic, which C++ lacks: memoize.h overloads instead) on double, int,
// long, bool and text arguments and double, int and long results, the
// general forms (arrays, out-parameters, user types), and the generic API.  A plain program: exit 0 when every check holds.
#include <klepto.h>

#include <cstdio>
#include <cstring>

static int calls;

KL_MEMOIZE(double, area, (double, w), (double, h))
{
    calls++;
    return w * h;
}

KL_MEMOIZE(int, plus, (int, a), (long, b), (bool, neg))
{
    calls++;
    return neg ? -(a + (int)b) : a + (int)b;
}

KL_MEMOIZE(long, text_length, (const char *, s))
{
    calls++;
    return (long)std::strlen(s);
}

// the general forms: array arguments (a pointer with its length, a
// fixed-size array) and out-parameters
KL_MEMOIZE(double, dot3, KL_ARR(double, x, n), KL_ARR_FIXED(float, w, 3))
{
    calls++;
    double s = 0;
    for (size_t i = 0; i < n && i < 3; i++)
        s += x[i] * w[i];
    return s;
}

KL_MEMOIZE(int, twice, KL_ARR(int32_t, v, n), KL_OUT_ARR(int64_t, out, m))
{
    calls++;
    if (m < n)
        return 1;
    for (size_t i = 0; i < n; i++)
        out[i] = 2 * (int64_t)v[i];
    return 0;
}

// a user type as argument and result
struct pair {
    double a, b;
};
static int pair_encode(kl_enc *e, const void *obj)
{
    const pair *p = static_cast<const pair *>(obj);
    kl_enc_array_head(e, 2);
    kl_enc_float(e, p->a);
    kl_enc_float(e, p->b);
    return 0;
}
static int pair_decode(const kl_value *v, void *obj)
{
    pair *p = static_cast<pair *>(obj);
    if (v->type != KL_ARRAY || v->u.a.len != 2 || v->u.a.items[0].type != KL_FLOAT ||
        v->u.a.items[1].type != KL_FLOAT)
        return KL_ETYPE;
    p->a = v->u.a.items[0].u.f;
    p->b = v->u.a.items[1].u.f;
    return 0;
}
static const kl_usertype pair_type =
    KL_USERTYPE_INIT("pair", 1, pair, pair_encode, pair_decode);

KL_MEMOIZE(int, swap, KL_OBJ(pair_type, pair, in), KL_OUT_OBJ(pair_type, pair, out))
{
    calls++;
    out->a = in->b;
    out->b = in->a;
    return 0;
}

static int fails;
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr, "%s:%d: failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                         kl_errmsg());                                                   \
            fails++;                                                                     \
        }                                                                                \
    } while (0)

int main()
{
    CHECK(area(2.0, 3.5) == 7.0);
    CHECK(area(2.0, 3.5) == 7.0);
    CHECK(plus(1, 2L, false) == 3);
    CHECK(plus(1, 2L, false) == 3);
    CHECK(plus(1, 2L, true) == -3);
    CHECK(text_length("abc") == 3);
    CHECK(text_length("abc") == 3);
    CHECK(calls == 4);
    {
        const double x[] = {1, 2, 3};
        const float w[3] = {0.5f, 0.25f, 2};
        CHECK(dot3(x, 3, w) == 7.0);
        CHECK(dot3(x, 3, w) == 7.0);
        const int32_t v[] = {4, -5};
        int64_t out[2] = {0, 0};
        CHECK(twice(v, 2, out, 2) == 0);
        out[0] = out[1] = 0;
        CHECK(twice(v, 2, out, 2) == 0 && out[0] == 8 && out[1] == -10);
        CHECK(twice(v, 2, out, 1) == 1);
        CHECK(calls == 4 + 3);
        pair in = {1, 2}, sw = {0, 0};
        CHECK(swap(&in, &sw) == 0 && sw.a == 2 && sw.b == 1);
        sw.a = sw.b = 0;
        CHECK(swap(&in, &sw) == 0 && sw.a == 2 && sw.b == 1);
        CHECK(calls == 4 + 3 + 1);
    }
    kl_memo_info info;
    kl_memo_info_get(area_memo(), &info);
    CHECK(info.hit == 1 && info.miss == 1);
    kl_memo_info_get(plus_memo(), &info);
    CHECK(info.hit == 1 && info.miss == 2);

    // the generic API: an archive round trip
    kl_archive *ar = nullptr;
    CHECK(kl_archive_open(&ar, "mem:", nullptr) == 0);
    CHECK(kl_archive_put(ar, "k", 1, "v", 1) == 0);
    kl_buf v = KL_BUF_INIT;
    CHECK(kl_archive_get(ar, "k", 1, &v) == 0 && v.len == 1 && v.data[0] == 'v');
    kl_buf_free(&v);
    CHECK(kl_archive_close(ar) == 0);

    kl_memo_free(area_memo());
    kl_memo_free(plus_memo());
    kl_memo_free(text_length_memo());
    if (fails == 0)
        std::printf("1 passed, 0 failed\n");
    return fails ? 1 : 0;
}
