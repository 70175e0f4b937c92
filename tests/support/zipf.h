/* SPDX-License-Identifier: BSD-3-Clause */
/* Reproducible pseudo-random numbers and Zipf traces, shared by the policy
 * tests and the benchmarks (no cmocka: the benches compile it too).
 *
 * Every number comes from a counter: the i-th draw of a generator seeded
 * with s is kt_mix64(s + i), so a trace is fixed by its seed alone. */
#ifndef KLEPTO_TEST_ZIPF_H
#define KLEPTO_TEST_ZIPF_H

#include <stddef.h>
#include <stdint.h>

/* The SplitMix64 finaliser: a well-mixed 64-bit value for each z. */
uint64_t kt_mix64(uint64_t z);

/* A counter generator: kt_rng g = {seed}; */
typedef struct kt_rng {
    uint64_t s;
} kt_rng;
uint64_t kt_rng_next(kt_rng *r);
/* Uniform in [0, 1), 53 bits. */
double kt_rng_unit(kt_rng *r);
/* Uniform-ish in [0, n) (modulo; n is small in the tests). */
size_t kt_rng_below(kt_rng *r, size_t n);

/* The Zipf(alpha) law over ranks 0..nkeys-1: rank i has weight
 * 1 / (i + 1)^alpha. */
typedef struct kt_zipf {
    double *cdf; /* running sums of the weights */
    size_t nkeys;
    double sum;
} kt_zipf;
/* 0, or -1 when out of memory. */
int kt_zipf_init(kt_zipf *z, double alpha, size_t nkeys);
void kt_zipf_free(kt_zipf *z);
/* The rank the uniform number u in [0, 1) falls on. */
size_t kt_zipf_rank(const kt_zipf *z, double u);

/* n ranks drawn from Zipf(alpha) over nkeys keys with a kt_rng seeded with
 * seed (request i uses its i-th draw); heap, NULL when out of memory. */
int64_t *kt_zipf_trace(double alpha, size_t nkeys, size_t n, uint64_t seed);

#endif
