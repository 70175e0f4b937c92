/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The README's five-minute tour, as a program that builds and runs (the
 * tests run it, so the README's code stays true).
 *
 *   ./tour [FOLDER]      (default: the current folder)
 */
#include <stdio.h>
#include <string.h>

#include "klepto.h"

/* ---- typed functions ---- */
KL_MEMOIZE(double, rosen, (double, x), (double, y))
{
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

/* ---- generic functions over values ---- */
static int area(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    *out = kl_value_float(call->pos[0].u.f * call->pos[1].u.f);
    return 0; /* or a negative KL_E* code: not cached */
}

/* klepto's __cache__(): called once per entry in memory (entry->key,
 * entry->args, entry->value) */
static int visit(void *ctx, const kl_memo_entry *entry)
{
    (void)entry;
    ++*(int *)ctx;
    return 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "tour: %s: %s\n", what, kl_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    const char *folder = argc > 1 ? argv[1] : ".";
    char url[4096];

    /* typed: configure, call, inspect */
    snprintf(url, sizeof url, "sqlite:%s/tour.db?table=rosen", folder);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.policy = "lru";
    o.cache.maxsize = 10000;
    o.archive = url;
    if (kl_memo_configure(rosen_memo(), &o) != 0)
        return fail(url);
    double a = rosen(1.0, 2.0), b = rosen(1.0, 2.0);
    kl_memo_info info;
    kl_memo_info_get(rosen_memo(), &info);
    printf("rosen(1, 2) = %g, %g  hit=%llu miss=%llu load=%llu size=%zu\n", a, b,
           (unsigned long long)info.hit, (unsigned long long)info.miss,
           (unsigned long long)info.load, info.size);
    if (kl_memo_dump(rosen_memo()) != 0 || kl_memo_load(rosen_memo(), NULL) != 0)
        return fail("dump/load");
    kl_memo_clear(rosen_memo(), false);

    /* generic: signature, ignored argument, rounding */
    kl_memo_opts g = KL_MEMO_OPTS_INIT;
    g.signature = "w, h=1.0, verbose=False";
    g.ignore = "verbose";
    g.tol = 3;
    kl_memo *m;
    if (kl_memo_new(&m, "area", area, NULL, &g) != 0)
        return fail("kl_memo_new");
    kl_value args[] = {kl_value_float(2.5), kl_value_float(4.0)};
    kl_call call = {args, 2, NULL, NULL, 0};
    kl_value r;
    if (kl_memo_call(m, &call, &r) != 0)
        return fail("area");
    kl_value args2[] = {kl_value_float(2.5001), kl_value_float(4.0), kl_value_bool(true)};
    kl_call call2 = {args2, 3, NULL, NULL, 0}; /* rounds to the same key; verbose ignored */
    kl_value r2;
    if (kl_memo_call(m, &call2, &r2) != 0)
        return fail("area");
    kl_memo_info_get(m, &info);
    printf("area = %g, %g  hit=%llu miss=%llu\n", r.u.f, r2.u.f, (unsigned long long)info.hit,
           (unsigned long long)info.miss);
    kl_value_free(&r);
    kl_value_free(&r2);
    int n = 0;
    if (kl_memo_lookup(m, &call, &r) != 0 || kl_memo_foreach(m, visit, &n) != 0)
        return fail("lookup");
    printf("area: lookup = %g, %d entry in memory\n", r.u.f, n);
    kl_value_free(&r);
    kl_memo_free(m);

    /* archives directly */
    snprintf(url, sizeof url, "dir:%s/tour-dir", folder);
    kl_archive *ar;
    if (kl_archive_open(&ar, url, NULL) != 0)
        return fail(url);
    kl_value key = kl_value_cstr_ref("answer"), val = kl_value_int(42);
    kl_buf kb = KL_BUF_INIT, vb = KL_BUF_INIT, got = KL_BUF_INIT, text = KL_BUF_INIT;
    if (kl_encode(&kb, &key, 0) || kl_encode(&vb, &val, 0) ||
        kl_archive_put(ar, kb.data, kb.len, vb.data, vb.len) != 0 ||
        kl_archive_get(ar, kb.data, kb.len, &got) != 0)
        return fail(url);
    kl_value back;
    if (kl_decode(got.data, got.len, &back) != 0 || kl_repr(&text, &back) != 0)
        return fail("decode");
    printf("%s['answer'] = %s\n", url, kl_buf_cstr(&text));
    kl_value_free(&back);
    kl_buf_free(&kb);
    kl_buf_free(&vb);
    kl_buf_free(&got);
    kl_buf_free(&text);
    kl_archive_close(ar);
    return kl_memo_free(rosen_memo()) == 0 ? 0 : fail("closing");
}
