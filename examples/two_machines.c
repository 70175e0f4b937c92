/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two machines sharing results through a server: a memo whose archive is a
 * PostgreSQL table or a Redis hash.  Run the same program on two machines
 * (or twice on one): the first computes, the second loads.
 *
 *   KLEPTO_URL='postgresql://USER@HOST:PORT/DB?table=results' ./two_machines NAME
 *   KLEPTO_URL='redis://HOST:6379/0?prefix=results' ./two_machines NAME
 *
 * NAME only labels the output.  Without KLEPTO_URL the program says so and
 * exits 0 (there is nothing to share without a server).  The server must
 * be reachable from every machine; the URL may carry libpq's options
 * (sslmode=, connect_timeout=) or a Redis password (redis://:PASS@HOST).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "klepto.h"

/* A Gaussian integral ∫_0^x exp(-t²) dt by the midpoint rule: slow
 * enough to be worth sharing. */
KL_MEMOIZE(double, gauss_integral, (double, x))
{
    const int steps = 20000;
    double h = x / steps, sum = 0;
    for (int i = 0; i < steps; i++) {
        double t = (i + 0.5) * h;
        sum += exp(-t * t);
    }
    return sum * h;
}

int main(int argc, char **argv)
{
    const char *machine = argc > 1 ? argv[1] : "this machine";
    const char *url = getenv("KLEPTO_URL");
    if (!url || !*url) {
        printf("two_machines: skipped: set KLEPTO_URL to a postgresql:// or redis:// URL\n");
        return 0;
    }

    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.archive = url; /* every result is written through to the server */
    if (kl_memo_configure(gauss_integral_memo(), &opts) != 0) {
        /* the message names the URL (any password masked) and the server's words */
        fprintf(stderr, "two_machines: %s\n", kl_errmsg());
        return 1;
    }

    double sum = 0;
    for (int i = 1; i <= 50; i++)
        sum += gauss_integral(0.1 * i);

    kl_memo_info info;
    kl_memo_info_get(gauss_integral_memo(), &info);
    printf("%s: 50 integrals, sum %.6f: computed=%llu loaded=%llu errors=%llu\n", machine, sum,
           (unsigned long long)info.miss, (unsigned long long)info.load,
           (unsigned long long)info.errors);
    /* A typed call never fails: a lost server shows as errors (and the
     * values computed here). */
    if (info.errors)
        fprintf(stderr, "two_machines: last error: %s\n", kl_errmsg());
    int rc = kl_memo_free(gauss_integral_memo());
    return rc != 0 || info.errors != 0;
}
