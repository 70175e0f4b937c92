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
/* Keeps the compiler from optimising a value away. */
#define BENCH_KEEP(x) __asm__ volatile("" : : "g"(x) : "memory")

#endif
