/* SPDX-License-Identifier: BSD-3-Clause */
/* Benchmark harness: timing, medians and the JSON line format of BENCH.md. */
#ifndef KLEPTO_BENCH_HARNESS_H
#define KLEPTO_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);
/* Median of n doubles (reorders the array). */
double bench_median(double *xs, size_t n);
/* Prints one result line:
 * {"name":..., "value":..., "unit":..., "baseline":..., "ratio":..., "better":..., "note":...}
 * baseline < 0 means none (printed as null). */
void bench_report(const char *name, double value, const char *unit, double baseline,
                  const char *better, const char *note);
/* A scratch directory for the benchmark (created, removed by bench_rmrf). */
const char *bench_tmpdir(void);
void bench_rmrf(const char *path);
/* True when the figure `name` should be measured (all, unless the
 * BENCH_ONLY environment variable names another). */
int bench_wants(const char *name);
/* Operations per second: n operations that began at t0 (bench_now_ns). */
double bench_rate(size_t n, uint64_t t0);
/* The server URL in the environment variable var (set by make bench), or
 * NULL after a note on stderr that `skipped` (the figures) are skipped. */
const char *bench_server_url(const char *var, const char *skipped);
/* base with one more query option ("name=value"): heap, exits on no
 * memory. */
char *bench_url_with(const char *base, const char *option);
/* Exits after printing what failed and the library's message. */
void bench_die(const char *what);
#define BENCH_CHECK(expr)                                                                          \
    do {                                                                                           \
        if ((expr) != 0)                                                                           \
            bench_die(#expr);                                                                      \
    } while (0)

/* n keys of klen bytes (pseudo-random from seed) and values of vlen
 * bytes, in one block each, with the pointer and length arrays the
 * archive's batch calls take. */
typedef struct bench_data {
    size_t n;
    uint8_t *keys, *vals;
    const void **kp, **vp;
    size_t *kl, *vl;
} bench_data;
/* Exits on no memory. */
bench_data bench_data_make(size_t n, size_t klen, size_t vlen, uint32_t seed);
void bench_data_free(bench_data *d);

/* Keeps the compiler from optimising a value away. */
#define BENCH_KEEP(x) __asm__ volatile("" : : "g"(x) : "memory")

#endif
