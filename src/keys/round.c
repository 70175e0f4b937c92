/* SPDX-License-Identifier: BSD-3-Clause */
/* Python's round(x, ndigits) for doubles.
 *
 * CPython rounds through a correctly rounded decimal string (dtoa mode 3,
 * ties to even on the exact binary value) and reads it back with strtod.
 * glibc's printf prints exact decimal expansions and rounds them the same
 * way (round-half-even in the default rounding mode), so "%.*f" does the
 * work for ndigits >= 0.  printf has no negative precision: for ndigits < 0
 * we round the exact integer digits of trunc(x) ourselves, with the
 * fractional part as a sticky bit. */
#include "klepto/keygen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CPython's bounds (floatobject.c): beyond them the answer is x or ±0. */
#define NDIGITS_MAX 323
#define NDIGITS_MIN (-308)

static double round_negative(double x, int k)
{
    double t = trunc(x);
    int sticky = (x != t);
    /* |t| < 2^1024: at most 309 digits. */
    char s[352];
    int n = snprintf(s, sizeof s, "%.0f", fabs(t));
    if (n <= 0 || (size_t)n >= sizeof s)
        return x;
    /* Decide on the digits below 10^k: compare with 5 followed by zeros. */
    int keep = n - k; /* digits kept; may be <= 0 */
    int cmp;          /* dropped part vs. half: -1, 0, 1 */
    if (keep < 0) {
        cmp = -1; /* below 10^(k-1): less than half of 10^k */
    } else {
        const char *d = s + keep;
        int nd = n - keep; /* == k */
        if (d[0] != '5')
            cmp = d[0] > '5' ? 1 : -1;
        else {
            cmp = 0;
            for (int i = 1; i < nd; i++)
                if (d[i] != '0') {
                    cmp = 1;
                    break;
                }
            if (cmp == 0 && sticky)
                cmp = 1;
        }
    }
    int up;
    if (cmp > 0)
        up = 1;
    else if (cmp < 0)
        up = 0;
    else /* a tie: to even on the last kept digit (0 when none is kept) */
        up = keep > 0 && ((s[keep - 1] - '0') & 1);
    char r[400];
    size_t rl = 0;
    if (x < 0)
        r[rl++] = '-';
    if (keep <= 0) {
        if (!up)
            return copysign(0.0, x);
        r[rl++] = '1';
    } else {
        memcpy(r + rl, s, (size_t)keep);
        if (up) {
            int i = keep - 1;
            while (i >= 0 && r[rl + (size_t)i] == '9')
                r[rl + (size_t)i--] = '0';
            if (i < 0) {
                memmove(r + rl + 1, r + rl, (size_t)keep);
                r[rl] = '1';
                rl++;
            } else {
                r[rl + (size_t)i]++;
            }
        }
        rl += (size_t)keep;
    }
    rl += (size_t)snprintf(r + rl, sizeof r - rl, "e%d", k);
    double v = strtod(r, NULL);
    /* Keep the sign of zero results (e.g. round(-3.0, -1) == -0.0). */
    return v == 0 ? copysign(0.0, x) : v;
}

double kl_round(double x, int ndigits)
{
    if (!isfinite(x) || ndigits > NDIGITS_MAX)
        return x;
    if (ndigits < NDIGITS_MIN)
        return 0.0 * x;
    if (x == 0.0)
        return x;
    if (ndigits < 0)
        return round_negative(x, -ndigits);
    /* 309 integer digits + point + 323 decimals + sign. */
    char s[660];
    int n = snprintf(s, sizeof s, "%.*f", ndigits, x);
    if (n <= 0 || (size_t)n >= sizeof s)
        return x;
    double v = strtod(s, NULL);
    return v == 0 ? copysign(0.0, x) : v;
}
