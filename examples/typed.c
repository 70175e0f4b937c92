/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The typed macro: KL_MEMOIZE turns a plain C function into a memoized one.
 *
 *   ./typed
 *
 * KL_MEMOIZE(ret, name, (type, arg), ...) { body } defines `ret name(args)`,
 * which remembers its results, and `kl_memo *name_memo(void)`, the memo
 * behind it, to configure and inspect.  Nothing here touches the disk: the
 * results live in memory (see two_processes.c for an archive).
 */
#include <stdint.h>
#include <stdio.h>

#include "klepto.h"

/* How many times a body really ran (the memo skips it on a hit). */
static int body_runs;

/* Steps of the Collatz sequence from n down to 1.  Arguments may be
 * double, float, int, long, int64_t, bool or const char *. */
KL_MEMOIZE(int64_t, collatz_steps, (int64_t, n))
{
    body_runs++;
    int64_t steps = 0;
    while (n != 1) {
        n = n % 2 ? 3 * n + 1 : n / 2;
        steps++;
    }
    return steps;
}

/* A text argument and a double: results depend on both.  A text argument
 * is keyed by its contents, not by its address. */
KL_MEMOIZE(double, to_metres, (const char *, unit), (double, x))
{
    body_runs++;
    if (unit[0] == 'k') /* "km" */
        return x * 1000;
    if (unit[0] == 'c') /* "cm" */
        return x / 100;
    return x;
}

static void print_info(const char *name, kl_memo *memo)
{
    kl_memo_info info;
    kl_memo_info_get(memo, &info);
    printf("%s: hit=%llu miss=%llu size=%zu evictions=%llu policy=%s\n", name,
           (unsigned long long)info.hit, (unsigned long long)info.miss, info.size,
           (unsigned long long)info.evictions, info.policy);
}

int main(void)
{
    /* Without configuration a memo keeps every result in memory. */
    int64_t a = collatz_steps(27), b = collatz_steps(27);
    printf("collatz_steps(27) = %lld, again %lld (body ran %d time)\n", (long long)a, (long long)b,
           body_runs);
    print_info("collatz_steps", collatz_steps_memo());

    /* Configure a memo before use: here a least-recently-used cache of two
     * entries.  kl_memo_configure empties the memory and returns 0 or a
     * negative KL_E* code with kl_errmsg() saying why. */
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.cache.policy = "lru";
    opts.cache.maxsize = 2;
    if (kl_memo_configure(to_metres_memo(), &opts) != 0) {
        fprintf(stderr, "typed: %s\n", kl_errmsg());
        return 1;
    }
    body_runs = 0;
    char unit[] = "km"; /* a different buffer with the same text: the same key */
    printf("to_metres(km, 1.5) = %g\n", to_metres("km", 1.5));
    printf("to_metres(km, 1.5) = %g\n", to_metres(unit, 1.5)); /* a hit */
    printf("to_metres(cm, 250) = %g\n", to_metres("cm", 250));
    /* a third entry: evicts the least recently used, ("km", 1.5) */
    printf("to_metres(m, 7) = %g\n", to_metres("m", 7));
    /* so this is computed again */
    printf("to_metres(km, 1.5) = %g\n", to_metres("km", 1.5));
    printf("body ran %d times\n", body_runs);
    print_info("to_metres", to_metres_memo());

    /* Typed calls never fail: if a key cannot be built or an archive cannot
     * be reached, the body runs uncached and info.errors counts it.  Free
     * the memos at exit (this also writes back to an archive, if any). */
    int rc = kl_memo_free(collatz_steps_memo());
    rc |= kl_memo_free(to_metres_memo());
    return rc ? 1 : 0;
}
