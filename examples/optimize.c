/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An optimizer's objective of a vector, memoized with rounding: a compass
 * search (step along each axis, halve the step when nothing improves)
 * visits the same and nearly the same points again and again; with the
 * objective's key rounded to 3 decimals, element by element, those
 * visits are answered from the cache — and the steps shorter than the
 * rounding cost nothing at all.
 *
 *   ./optimize
 */
#include <stdio.h>

#include "klepto.h"

#define DIM 4

static unsigned long computed; /* how often the objective really ran */

/* a tilted bowl: minimum 1 at (1, 0.5, 0.25, 0.125) */
KL_MEMOIZE(double, objective, KL_ARR(double, x, n))
{
    computed++;
    double f = 1, t = 1;
    for (size_t i = 0; i < n; i++, t /= 2)
        f += (double)(i + 1) * (x[i] - t) * (x[i] - t);
    return f;
}

int main(void)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.tol = 3;                       /* points equal to 3 decimals share a result */
    o.rounding = KL_ROUND_SHALLOW;   /* round the vector's elements (as klepto's
                                        shallow_round rounds a sequence's items) */
    o.cache.maxsize = 100000;
    if (kl_memo_configure(objective_memo(), &o) != 0) {
        fprintf(stderr, "optimize: %s\n", kl_errmsg());
        return 1;
    }
    double x[DIM] = {-1.5, 2, 0, -1}, step = 0.5;
    double fx = objective(x, DIM);
    unsigned long evaluations = 1;
    while (step > 1e-6) {
        int improved = 0;
        for (int i = 0; i < DIM; i++)
            for (int dir = -1; dir <= 1; dir += 2) {
                double y[DIM];
                for (int j = 0; j < DIM; j++)
                    y[j] = x[j];
                y[i] += dir * step;
                double fy = objective(y, DIM);
                evaluations++;
                if (fy < fx) {
                    fx = fy;
                    x[i] = y[i];
                    improved = 1;
                }
            }
        if (!improved)
            step /= 2;
    }
    kl_memo_info info;
    kl_memo_info_get(objective_memo(), &info);
    printf("minimum %.4f at (%.3f, %.3f, %.3f, %.3f)\n", fx, x[0], x[1], x[2], x[3]);
    printf("evaluations %lu, computed %lu, hits %llu\n", evaluations, computed,
           (unsigned long long)info.hit);
    return kl_memo_free(objective_memo()) == 0 && computed < evaluations ? 0 : 1;
}
