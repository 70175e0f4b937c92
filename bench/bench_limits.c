/* SPDX-License-Identifier: BSD-3-Clause */
/* Puts into an archive held at its size limit (?max_entries=), beside the
 * same puts into the same archive without a limit: dir_write_limited and
 * sqlite_write_limited (BENCH.md).  Both archives start with LIMIT entries;
 * then N new keys are put one by one, so the limited one prunes its oldest
 * entries every ~10% of the limit (the low-water mark) while the other
 * grows.  Target: ratio >= 0.8. */
#define _GNU_SOURCE
#include "harness.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LIMIT = 2000, N = 5000, VLEN = 100, REPS = 5 };

static void make_key(unsigned char *k, int i)
{
    memset(k, 0, 16);
    memcpy(k, &i, sizeof i);
    k[15] = 0x5a;
}

/* Puts per second of N new keys into url after LIMIT entries. */
static double run(const char *url)
{
    kl_archive *ar = NULL;
    BENCH_CHECK(kl_archive_open(&ar, url, NULL));
    unsigned char k[16], val[VLEN];
    memset(val, 7, sizeof val);
    for (int i = 0; i < LIMIT; i++) {
        make_key(k, i);
        BENCH_CHECK(kl_archive_put(ar, k, 16, val, VLEN));
    }
    uint64_t t0 = bench_now_ns();
    for (int i = LIMIT; i < LIMIT + N; i++) {
        make_key(k, i);
        BENCH_CHECK(kl_archive_put(ar, k, 16, val, VLEN));
    }
    double rate = bench_rate(N, t0);
    size_t n = 0;
    BENCH_CHECK(kl_archive_count(ar, &n));
    if (strstr(url, "max_entries=") && n > LIMIT) {
        fprintf(stderr, "bench_limits: %s holds %zu entries, over its limit\n", url, n);
        exit(1);
    }
    BENCH_CHECK(kl_archive_drop(ar));
    return rate;
}

static void bench_pair(const char *name, const char *fmt, const char *note)
{
    if (!bench_wants(name))
        return;
    const char *base = bench_tmpdir();
    double ours[REPS], plain[REPS];
    char limited[600], unlimited[600], opt[64];
    snprintf(opt, sizeof opt, "max_entries=%d", LIMIT);
    for (int r = 0; r < REPS; r++) {
        snprintf(unlimited, sizeof unlimited, fmt, base, r, "plain");
        char *l;
        snprintf(limited, sizeof limited, fmt, base, r, "limited");
        l = bench_url_with(limited, opt);
        /* alternate which goes first: neither gets the warmer cache always */
        if (r % 2) {
            plain[r] = run(unlimited);
            ours[r] = run(l);
        } else {
            ours[r] = run(l);
            plain[r] = run(unlimited);
        }
        free(l);
    }
    bench_report(name, bench_median(ours, REPS), "entries/s", bench_median(plain, REPS), "higher",
                 note);
}

int main(void)
{
    bench_pair("dir_write_limited", "dir:%s/d%d%s",
               "dir: held at max_entries=2000, 5k puts of 16 B keys + 100 B values; "
               "baseline: the same puts without a limit");
    bench_pair("sqlite_write_limited", "sqlite:%s/s%d%s.db?table=t",
               "sqlite: (table=) held at max_entries=2000, 5k single puts; baseline: the same "
               "puts without a limit");
    bench_rmrf(bench_tmpdir());
    return 0;
}
