/* Benchmark harness: see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static char tmpdir[256];

const char *bench_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/klepto-bench-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return tmpdir;
}

void bench_rmrf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", path);
}

int bench_wants(const char *name)
{
    const char *only = getenv("BENCH_ONLY");
    return !only || !*only || strcmp(only, name) == 0;
}
