/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * memo_hit_vec16 (BENCH.md): a hit of a KL_MEMOIZE function of a vector,
 * f(const double *x, 16).  The baseline, measured in the same run, is the
 * simplest fast way to remember such a function: a bare open-addressing
 * table keyed by the 128 bytes of the vector, hashed with the same XXH3,
 * with an LRU list as memo_hit's baseline has.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "harness.h"
#include "klepto.h"

#define DIM 16

KL_MEMOIZE(double, fvec, KL_ARR(double, x, n))
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}

/* ---- baseline: open addressing keyed by the bytes + intrusive LRU list ---- */
typedef struct vslot {
    double x[DIM], v;
    int32_t prev, next;
    int used;
} vslot;
typedef struct vtable {
    vslot *s;
    size_t mask;
    int32_t head, tail;
} vtable;

static void vunlink(vtable *t, int32_t i)
{
    vslot *e = &t->s[i];
    if (e->prev >= 0) t->s[e->prev].next = e->next; else t->head = e->next;
    if (e->next >= 0) t->s[e->next].prev = e->prev; else t->tail = e->prev;
}
static void vfront(vtable *t, int32_t i)
{
    vslot *e = &t->s[i];
    e->prev = -1;
    e->next = t->head;
    if (t->head >= 0) t->s[t->head].prev = i;
    t->head = i;
    if (t->tail < 0) t->tail = i;
}
static void vput(vtable *t, const double *x, double v)
{
    size_t i = XXH3_64bits(x, DIM * sizeof *x) & t->mask;
    while (t->s[i].used) i = (i + 1) & t->mask;
    memcpy(t->s[i].x, x, sizeof t->s[i].x);
    t->s[i].v = v;
    t->s[i].used = 1;
    vfront(t, (int32_t)i);
}
static __attribute__((noinline)) int vget(vtable *t, const double *x, double *v)
{
    for (size_t i = XXH3_64bits(x, DIM * sizeof *x) & t->mask; t->s[i].used;
         i = (i + 1) & t->mask) {
        vslot *e = &t->s[i];
        if (memcmp(e->x, x, sizeof e->x) == 0) {
            vunlink(t, (int32_t)i);
            vfront(t, (int32_t)i);
            *v = e->v;
            return 1;
        }
    }
    return 0;
}

#define NORDER (1u << 20)

int main(void)
{
    if (!bench_wants("memo_hit_vec16"))
        return 0;
    const size_t n = 1000, ops = 2000000;
    double *xs = malloc(n * DIM * sizeof *xs);
    uint32_t *order = malloc(NORDER * sizeof *order);
    if (!xs || !order)
        bench_die("out of memory");
    srand(16);
    for (size_t i = 0; i < n * DIM; i++)
        xs[i] = (double)rand() / RAND_MAX * 100;
    for (size_t i = 0; i < NORDER; i++)
        order[i] = (uint32_t)(((uint64_t)rand() * 2654435761u) % n);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.cache.maxsize = n;
    o.cache.policy = getenv("BENCH_POLICY");
    if (kl_memo_configure(fvec_memo(), &o))
        bench_die(kl_errmsg());
    vtable t = {calloc(4096, sizeof(vslot)), 4095, -1, -1};
    if (!t.s)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++)
        vput(&t, xs + DIM * i, fvec(xs + DIM * i, DIM));
    enum { REPS = 7 };
    double ours[REPS], base[REPS];
    for (int r = 0; r < REPS; r++) {
        double sum = 0;
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < ops; i++)
            sum += fvec(xs + DIM * order[i & (NORDER - 1)], DIM);
        uint64_t t1 = bench_now_ns();
        BENCH_KEEP(sum);
        for (size_t i = 0; i < ops; i++) {
            double v;
            vget(&t, xs + DIM * order[i & (NORDER - 1)], &v);
            sum += v;
        }
        uint64_t t2 = bench_now_ns();
        BENCH_KEEP(sum);
        ours[r] = (double)(t1 - t0) / ops;
        base[r] = (double)(t2 - t1) / ops;
    }
    kl_memo_info info;
    kl_memo_info_get(fvec_memo(), &info);
    if (info.miss != n || info.size != n)
        fprintf(stderr, "bench_memo_vec: unexpected misses (%llu) or size (%zu)\n",
                (unsigned long long)info.miss, info.size);
    bench_report("memo_hit_vec16", bench_median(ours, REPS), "ns", bench_median(base, REPS),
                 "lower", "f(const double *x, 16), 1k entries, random access; baseline: bare "
                          "table keyed by the 128 bytes");
    free(t.s);
    free(xs);
    free(order);
    kl_memo_free(fvec_memo());
    return 0;
}
