/* SPDX-License-Identifier: BSD-3-Clause */
/* Benchmark harness: see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klepto/error.h"
#include "tempdir.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *xs, size_t n)
{
    qsort(xs, n, sizeof *xs, cmp_double);
    return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

void bench_report(const char *name, double value, const char *unit, double baseline,
                  const char *better, const char *note)
{
    printf("{\"name\": \"%s\", \"value\": %.4g, \"unit\": \"%s\", ", name, value, unit);
    if (baseline > 0)
        printf("\"baseline\": %.4g, \"ratio\": %.3f, ", baseline, value / baseline);
    else
        printf("\"baseline\": null, \"ratio\": null, ");
    printf("\"better\": \"%s\", \"note\": \"%s\"}\n", better, note);
    fflush(stdout);
}

static char *tmpdir;

const char *bench_tmpdir(void)
{
    if (!tmpdir && !(tmpdir = kt_tmpdir("bench"))) {
        perror("bench: temporary folder");
        exit(1);
    }
    return tmpdir;
}

void bench_rmrf(const char *path) { kt_rmrf(path); }

int bench_wants(const char *name)
{
    const char *only = getenv("BENCH_ONLY");
    return !only || !*only || strcmp(only, name) == 0;
}

double bench_rate(size_t n, uint64_t t0)
{
    return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

const char *bench_server_url(const char *var, const char *skipped)
{
    const char *url = getenv(var);
    if (!url || !*url) {
        fprintf(stderr, "%s: %s is not set: %s skipped\n", program_invocation_short_name, var,
                skipped);
        return NULL;
    }
    return url;
}

char *bench_url_with(const char *base, const char *option)
{
    char *url;
    if (asprintf(&url, "%s%c%s", base, strchr(base, '?') ? '&' : '?', option) < 0)
        exit(1);
    return url;
}

void bench_die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, kl_errmsg());
    exit(1);
}

bench_data bench_data_make(size_t n, size_t klen, size_t vlen, uint32_t seed)
{
    bench_data d = {n,
                    malloc(n * klen),
                    malloc(n * vlen),
                    malloc(n * sizeof(void *)),
                    malloc(n * sizeof(void *)),
                    malloc(n * sizeof(size_t)),
                    malloc(n * sizeof(size_t))};
    if (!d.keys || !d.vals || !d.kp || !d.vp || !d.kl || !d.vl)
        exit(1);
    uint64_t x = 0x9e3779b97f4a7c15u ^ seed;
    for (size_t i = 0; i < n * klen; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        d.keys[i] = (uint8_t)x;
    }
    for (size_t i = 0; i < n * vlen; i++)
        d.vals[i] = (uint8_t)(i * 31);
    for (size_t i = 0; i < n; i++) {
        d.kp[i] = d.keys + i * klen;
        d.vp[i] = d.vals + i * vlen;
        d.kl[i] = klen;
        d.vl[i] = vlen;
    }
    return d;
}

void bench_data_free(bench_data *d)
{
    free(d->keys);
    free(d->vals);
    free(d->kp);
    free(d->vp);
    free(d->kl);
    free(d->vl);
}
