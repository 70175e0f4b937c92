/* SPDX-License-Identifier: BSD-3-Clause */
/* `policy_NAME`: what each eviction policy costs per request, driven
 * directly (no locks, no table hashing of key bytes: the entries are an
 * array indexed by key) on a Zipf(0.9) trace of 2M requests over 1M keys
 * with 100k entries — about 30% misses, each with an insert and an
 * eviction.  Baseline: LRU measured in the same run, the simplest policy. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/sys/policy.h"
#include "zipf.h"

enum { NKEYS = 1000000, NREQ = 2000000, CAP = 100000, REPS = 3 };

typedef struct {
    uint64_t meta[8]; /* room for any policy metadata (adaptive: 48 bytes, lirs: 40) */
    uint32_t key;
    uint32_t in;
} ent;

/* Zipf(0.9) ranks from draws 0..NREQ-1, the hot keys scattered. */
static uint32_t *make_trace(void)
{
    kt_zipf z;
    uint32_t *t = malloc(NREQ * sizeof *t);
    if (!t || kt_zipf_init(&z, 0.9, NKEYS) != 0) {
        fprintf(stderr, "bench_policy: out of memory\n");
        exit(1);
    }
    kt_rng g = {0};
    for (uint64_t r = 0; r < NREQ; r++)
        t[r] = (uint32_t)(kt_mix64(kt_zipf_rank(&z, kt_rng_unit(&g))) % NKEYS);
    kt_zipf_free(&z);
    return t;
}

/* ns per request, and the miss ratio through *mr. */
static double run(const kl_policy_ops *ops, const uint32_t *t, ent *e, double *mr)
{
    void *st;
    if (ops->create(&st, CAP, 1) != 0) {
        fprintf(stderr, "bench_policy: %s: create failed\n", ops->name);
        exit(1);
    }
    memset(e, 0, NKEYS * sizeof *e);
    size_t count = 0, misses = 0;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < NREQ; i++) {
        ent *x = &e[t[i]];
        if (x->in) {
            ops->on_hit(st, x->meta);
            continue;
        }
        misses++;
        memset(x->meta, 0, sizeof x->meta);
        x->in = 1;
        count++;
        ops->on_insert(st, x->meta, kt_mix64(t[i]));
        while (count > CAP) {
            ent *v = ops->victim(st);
            ops->on_remove(st, v->meta);
            v->in = 0;
            count--;
        }
    }
    uint64_t t1 = bench_now_ns();
    ops->destroy(st);
    *mr = (double)misses / NREQ;
    return (double)(t1 - t0) / NREQ;
}

int main(void)
{
    uint32_t *t = make_trace();
    ent *e = malloc(NKEYS * sizeof *e);
    if (!e)
        return 1;
    const kl_policy_ops *lru = kl_policy_find("lru");
    for (const char *const *name = kl_policy_names(); *name; name++) {
        const kl_policy_ops *ops = kl_policy_find(*name);
        if (ops->meta_size > sizeof e->meta) {
            fprintf(stderr, "bench_policy: %s: metadata larger than the bench's entries\n", *name);
            return 1;
        }
        double ours[REPS], base[REPS], mr = 0, lmr = 0;
        for (int r = 0; r < REPS; r++) {
            ours[r] = run(ops, t, e, &mr);
            base[r] = run(lru, t, e, &lmr);
        }
        char bname[64], note[200];
        snprintf(bname, sizeof bname, "policy_%s", *name);
        snprintf(note, sizeof note,
                 "per request, Zipf 0.9, 1M keys, 100k entries, policy driven directly; "
                 "miss ratio %.3f (LRU %.3f); baseline: LRU",
                 mr, lmr);
        bench_report(bname, bench_median(ours, REPS), "ns", bench_median(base, REPS), "lower",
                     note);
    }
    free(e);
    free(t);
    return 0;
}
