/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memo figures: memo_hit, memo_hit_1m, memo_miss_evict, memo_hit_2threads
 * (and memo_hit_2threads_sieve, the same with a policy whose hits take no lock;
 * memo_hit_2threads_generic, the same through kl_memo_call),
 * entry_overhead (BENCH.md).  The baseline for hits is the simplest fast
 * way to remember f(x, y): a bare open-addressing table keyed by the two
 * doubles with an LRU list, hashed with the same XXH3.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "harness.h"
#include "klepto.h"

KL_MEMOIZE(double, f2, (double, x), (double, y)) { return x * y + 1.0; }

/* ---- baseline: open addressing + intrusive LRU list ---- */
typedef struct bslot {
    double x, y, v;
    int32_t prev, next;
    int used;
} bslot;
typedef struct btable {
    bslot *s;
    size_t mask;
    int32_t head, tail;
} btable;

static uint64_t bhash(double x, double y)
{
    double k[2] = {x, y};
    return XXH3_64bits(k, sizeof k);
}
static void bunlink(btable *t, int32_t i)
{
    bslot *e = &t->s[i];
    if (e->prev >= 0) t->s[e->prev].next = e->next; else t->head = e->next;
    if (e->next >= 0) t->s[e->next].prev = e->prev; else t->tail = e->prev;
}
static void bfront(btable *t, int32_t i)
{
    bslot *e = &t->s[i];
    e->prev = -1;
    e->next = t->head;
    if (t->head >= 0) t->s[t->head].prev = i;
    t->head = i;
    if (t->tail < 0) t->tail = i;
}
static void binit(btable *t, size_t n)
{
    size_t cap = 1;
    while (cap < n * 2) cap *= 2;
    t->s = calloc(cap, sizeof *t->s);
    t->mask = cap - 1;
    t->head = t->tail = -1;
}
static void bput(btable *t, double x, double y, double v)
{
    size_t i = bhash(x, y) & t->mask;
    while (t->s[i].used) i = (i + 1) & t->mask;
    t->s[i] = (bslot){x, y, v, -1, -1, 1};
    bfront(t, (int32_t)i);
}
static __attribute__((noinline)) int bget(btable *t, double x, double y, double *v)
{
    for (size_t i = bhash(x, y) & t->mask; t->s[i].used; i = (i + 1) & t->mask) {
        bslot *e = &t->s[i];
        if (e->x == x && e->y == y) {
            bunlink(t, (int32_t)i);
            bfront(t, (int32_t)i);
            *v = e->v;
            return 1;
        }
    }
    return 0;
}

static double *xs, *ys;
static uint32_t *order;
#define NORDER (1u << 20)

static void make_args(size_t n, unsigned seed)
{
    free(xs);
    free(ys);
    free(order);
    xs = malloc(n * sizeof *xs);
    ys = malloc(n * sizeof *ys);
    order = malloc(NORDER * sizeof *order);
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        xs[i] = (double)rand() / RAND_MAX * 100;
        ys[i] = (double)i * 0.5;
    }
    for (size_t i = 0; i < NORDER; i++)
        order[i] = (uint32_t)(((uint64_t)rand() * 2654435761u) % n);
}

/* BENCH_POLICY=name runs the memo figures with another eviction policy
 * (default: the library's default, lru). */
static void configure_policy(size_t maxsize, const char *policy)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.maxsize = maxsize;
    o.cache.policy = policy;
    if (kl_memo_configure(f2_memo(), &o)) {
        fprintf(stderr, "bench_memo: %s\n", kl_errmsg());
        exit(1);
    }
}

static void configure(size_t maxsize) { configure_policy(maxsize, getenv("BENCH_POLICY")); }

/* ns per hit of the memo and of the baseline, over n warm entries */
static void hits(const char *name, size_t n, size_t ops, const char *note)
{
    if (!bench_wants(name))
        return;
    make_args(n, 42);
    configure(n);
    btable bt;
    binit(&bt, n);
    for (size_t i = 0; i < n; i++) {
        f2(xs[i], ys[i]);
        bput(&bt, xs[i], ys[i], xs[i] * ys[i] + 1.0);
    }
    enum { REPS = 7 };
    double ours[REPS], base[REPS];
    for (int r = 0; r < REPS; r++) {
        double sum = 0;
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < ops; i++) {
            uint32_t k = order[i & (NORDER - 1)];
            sum += f2(xs[k], ys[k]);
        }
        uint64_t t1 = bench_now_ns();
        BENCH_KEEP(sum);
        for (size_t i = 0; i < ops; i++) {
            uint32_t k = order[i & (NORDER - 1)];
            double v;
            bget(&bt, xs[k], ys[k], &v);
            sum += v;
        }
        uint64_t t2 = bench_now_ns();
        BENCH_KEEP(sum);
        ours[r] = (double)(t1 - t0) / ops;
        base[r] = (double)(t2 - t1) / ops;
    }
    kl_memo_info info;
    kl_memo_info_get(f2_memo(), &info);
    if (info.miss != n || info.size != n)
        fprintf(stderr, "bench_memo: %s: unexpected misses (%llu) or size (%zu)\n", name,
                (unsigned long long)info.miss, info.size);
    bench_report(name, bench_median(ours, REPS), "ns", bench_median(base, REPS), "lower", note);
    free(bt.s);
}

static void miss_evict(void)
{
    if (!bench_wants("memo_miss_evict"))
        return;
    configure(1000);
    enum { REPS = 5, OPS = 400000 };
    double ours[REPS];
    double next = 1e6;
    for (size_t i = 0; i < 1000; i++)
        f2(next++, 0);
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = bench_now_ns();
        double sum = 0;
        for (int i = 0; i < OPS; i++)
            sum += f2(next++, 0);
        BENCH_KEEP(sum);
        ours[r] = (double)(bench_now_ns() - t0) / OPS;
    }
    bench_report("memo_miss_evict", bench_median(ours, REPS), "ns", -1, "lower",
                 "new key each call, LRU 1k full: key + miss + insert + evict");
}

typedef struct tharg {
    size_t ops;
    unsigned offset;
    double ns;
} tharg;

static void *hit_thread(void *p)
{
    tharg *a = p;
    double sum = 0;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->ops; i++) {
        uint32_t k = order[(i + a->offset) & (NORDER - 1)];
        sum += f2(xs[k], ys[k]);
    }
    a->ns = (double)(bench_now_ns() - t0);
    BENCH_KEEP(sum);
    return NULL;
}

static const char *info_policy(void)
{
    kl_memo_info info;
    kl_memo_info_get(f2_memo(), &info);
    return info.policy;
}

/* name: the figure; policy: NULL for the default (or BENCH_POLICY) */
static void two_threads(const char *name, const char *policy)
{
    if (!bench_wants(name))
        return;
    size_t n = 1000, ops = 2000000;
    make_args(n, 7);
    if (policy)
        configure_policy(n, policy);
    else
        configure(n);
    for (size_t i = 0; i < n; i++)
        f2(xs[i], ys[i]);
    enum { REPS = 5 };
    double two[REPS], one[REPS];
    for (int r = 0; r < REPS; r++) {
        tharg a = {ops, 0, 0};
        hit_thread(&a);
        one[r] = ops / (a.ns / 1e9);
        pthread_t th[2];
        tharg b[2] = {{ops, 0, 0}, {ops, NORDER / 2, 0}};
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, hit_thread, &b[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        two[r] = 2.0 * ops / ((double)(bench_now_ns() - t0) / 1e9);
    }
    char note[128];
    snprintf(note, sizeof note, "2 threads, 1k entries, random access, %s; baseline: 1 thread",
             info_policy());
    bench_report(name, bench_median(two, REPS), "ops/s", bench_median(one, REPS), "higher", note);
}

/* ---- generic memos (kl_memo_call): keys of any length ---- */

static kl_memo *gmemo;

static int gfn(void *ud, const kl_call *c, kl_value *out)
{
    (void)ud;
    *out = kl_value_float(c->pos[0].u.f * c->pos[1].u.f + 1.0);
    return 0;
}

static void *ghit_thread(void *p)
{
    tharg *a = p;
    double sum = 0;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->ops; i++) {
        uint32_t k = order[(i + a->offset) & (NORDER - 1)];
        kl_value args[2] = {kl_value_float(xs[k]), kl_value_float(ys[k])}, r;
        kl_call c = {args, 2, NULL, NULL, 0};
        if (kl_memo_call(gmemo, &c, &r) == 0)
            sum += r.u.f;
    }
    a->ns = (double)(bench_now_ns() - t0);
    BENCH_KEEP(sum);
    return NULL;
}

/* memo_hit_2threads_generic: the two-thread figure through the generic
 * call path (canonical keys of any length, values decoded) */
static void two_threads_generic(void)
{
    if (!bench_wants("memo_hit_2threads_generic"))
        return;
    size_t n = 1000, ops = 1000000;
    make_args(n, 11);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y";
    o.cache.maxsize = n;
    o.cache.policy = getenv("BENCH_POLICY");
    if (kl_memo_new(&gmemo, "g2", gfn, NULL, &o)) {
        fprintf(stderr, "bench_memo: %s\n", kl_errmsg());
        exit(1);
    }
    for (size_t i = 0; i < n; i++) { /* every key once */
        kl_value args[2] = {kl_value_float(xs[i]), kl_value_float(ys[i])}, r;
        kl_call c = {args, 2, NULL, NULL, 0};
        (void)kl_memo_call(gmemo, &c, &r);
    }
    enum { REPS = 5 };
    double two[REPS], one[REPS];
    for (int r = 0; r < REPS; r++) {
        tharg a = {ops, 0, 0};
        ghit_thread(&a);
        one[r] = ops / (a.ns / 1e9);
        pthread_t th[2];
        tharg b[2] = {{ops, 0, 0}, {ops, NORDER / 2, 0}};
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, ghit_thread, &b[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        two[r] = 2.0 * ops / ((double)(bench_now_ns() - t0) / 1e9);
    }
    kl_memo_info info;
    kl_memo_info_get(gmemo, &info);
    char note[160];
    snprintf(note, sizeof note,
             "kl_memo_call, 2 double args, 1k entries, random access, %s; baseline: 1 thread",
             info.policy);
    bench_report("memo_hit_2threads_generic", bench_median(two, REPS), "ops/s",
                 bench_median(one, REPS), "higher", note);
    kl_memo_free(gmemo);
}

static void overhead(void)
{
    if (!bench_wants("entry_overhead"))
        return;
    const size_t n = 200000;
    configure(n);
    kl_memo_clear(f2_memo(), false);
    /* the key of f2(x, y) is ('x', x, 'y', y) and the value one double */
    struct mallinfo2 before = mallinfo2();
    for (size_t i = 0; i < n; i++)
        f2((double)i + 0.5, 1.5);
    struct mallinfo2 after = mallinfo2();
    /* the payload: the actual key and value bytes of every entry (keys and
     * values shorten with their floats) */
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    size_t payload = 0;
    for (size_t i = 0; i < n; i++) {
        kl_value a[2] = {kl_value_float((double)i + 0.5), kl_value_float(1.5)};
        kl_call c = {a, 2, NULL, NULL, 0};
        kl_value v = kl_value_float(((double)i + 0.5) * 1.5 + 1.0);
        key.len = val.len = 0;
        kl_memo_key(f2_memo(), &c, &key);
        kl_encode(&val, &v, 0);
        payload += key.len + val.len;
    }
    /* heap and mmapped blocks both: large tables and chunks may be mmapped */
    double per = (double)((after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd)) / n;
    char note[160];
    snprintf(note, sizeof note, "LRU, %zu entries of %.1f key + value bytes on average", n,
             (double)payload / n);
    bench_report("entry_overhead", per - (double)payload / n, "bytes", -1, "lower", note);
    kl_buf_free(&key);
    kl_buf_free(&val);
}

int main(void)
{
    hits("memo_hit", 1000, 4000000, "2 double args, 1k entries, random access");
    hits("memo_hit_1m", 1000000, 4000000, "2 double args, 1M entries, random access");
    miss_evict();
    two_threads("memo_hit_2threads", NULL);
    /* a policy whose hits take no lock (docs/threading.md) */
    two_threads("memo_hit_2threads_sieve", "sieve");
    two_threads_generic();
    overhead();
    kl_memo_free(f2_memo());
    return 0;
}
