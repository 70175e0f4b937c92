/* SPDX-License-Identifier: BSD-3-Clause */
/* See zipf.h. */
#include "zipf.h"

#include <math.h>
#include <stdlib.h>

uint64_t kt_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t kt_rng_next(kt_rng *r)
{
    return kt_mix64(r->s++);
}
double kt_rng_unit(kt_rng *r)
{
    return (double)(kt_rng_next(r) >> 11) * 0x1.0p-53;
}
size_t kt_rng_below(kt_rng *r, size_t n)
{
    return (size_t)(kt_rng_next(r) % n);
}

int kt_zipf_init(kt_zipf *z, double alpha, size_t nkeys)
{
    z->cdf = malloc(nkeys * sizeof *z->cdf);
    z->nkeys = nkeys;
    z->sum = 0;
    if (!z->cdf)
        return -1;
    for (size_t i = 0; i < nkeys; i++)
        z->cdf[i] = (z->sum += 1.0 / pow((double)(i + 1), alpha));
    return 0;
}

void kt_zipf_free(kt_zipf *z)
{
    free(z->cdf);
    z->cdf = NULL;
}

size_t kt_zipf_rank(const kt_zipf *z, double u)
{
    double target = u * z->sum;
    size_t lo = 0, hi = z->nkeys - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t *kt_zipf_trace(double alpha, size_t nkeys, size_t n, uint64_t seed)
{
    kt_zipf z;
    int64_t *t = malloc(n * sizeof *t);
    if (!t || kt_zipf_init(&z, alpha, nkeys) != 0) {
        free(t);
        return NULL;
    }
    kt_rng g = {seed};
    for (size_t i = 0; i < n; i++)
        t[i] = (int64_t)kt_zipf_rank(&z, kt_rng_unit(&g));
    kt_zipf_free(&z);
    return t;
}
