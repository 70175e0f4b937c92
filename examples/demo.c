/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The demo: memoize a slow numerical function into an archive, so that a
 * second run of the same program computes nothing.
 *
 *   ./demo [URL]      (default URL: dir:demo-archive, in the working folder)
 *
 * Run it twice: the first run computes every value (miss=N load=0), the
 * second loads them all from the archive (load=N miss=0).
 */
/* clock_gettime and CLOCK_MONOTONIC are POSIX, not ISO C: ask for them
 * (the examples build with -std=c11, no compiler extensions). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "klepto.h"

/* The damped oscillation integral  I(w, a) = ∫_0^20 exp(-a t²) cos(w t) dt,
 * by the midpoint rule with a deliberately fine grid: several milliseconds
 * per call, the kind of function worth remembering. */
KL_MEMOIZE(double, damped_integral, (double, w), (double, a))
{
    const int steps = 400000;
    const double h = 20.0 / steps;
    double sum = 0;
    for (int i = 0; i < steps; i++) {
        double t = (i + 0.5) * h;
        sum += exp(-a * t * t) * cos(w * t);
    }
    return sum * h;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "dir:demo-archive";
    kl_memo *memo = damped_integral_memo();
    if (!memo) {
        fprintf(stderr, "demo: could not create the memo\n");
        return 1;
    }
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.cache.maxsize = 1000;
    opts.archive = url;
    int rc = kl_memo_configure(memo, &opts);
    if (rc) {
        fprintf(stderr, "demo: %s: %s\n", url, kl_errmsg());
        return 1;
    }

    const int nw = 30, na = 10;
    double t0 = seconds(), checksum = 0;
    for (int i = 0; i < nw; i++)
        for (int j = 0; j < na; j++)
            checksum += damped_integral(0.25 * i, 0.05 + 0.1 * j);
    double dt = seconds() - t0;

    kl_memo_info info;
    kl_memo_info_get(memo, &info);
    printf("%d calls of damped_integral(w, a) in %.3f s  (sum %.12f)\n", nw * na, dt, checksum);
    printf("hit=%llu miss=%llu load=%llu size=%zu archive=%s\n", (unsigned long long)info.hit,
           (unsigned long long)info.miss, (unsigned long long)info.load, info.size, url);
    if (info.errors)
        printf("errors=%llu (last: %s)\n", (unsigned long long)info.errors, kl_errmsg());
    rc = kl_memo_free(memo);
    if (rc) {
        fprintf(stderr, "demo: closing %s: %s\n", url, kl_errmsg());
        return 1;
    }
    return info.errors ? 1 : 0;
}
