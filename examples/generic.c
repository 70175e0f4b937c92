/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The generic API: a function over kl_values, with a Python-style
 * signature, named arguments, an ignored argument and rounded floats.
 *
 *   ./generic
 *
 * Each call below prints its result, whether the function really ran, and
 * the key the call maps to: calls with equal keys share one result.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "klepto.h"

static int runs; /* how often norm() really ran */

/* The number passed at position `index` or by `name`, else `dflt`. */
static double number_arg(const kl_call *call, size_t index, const char *name, double dflt)
{
    const kl_value *v = NULL;
    if (index < call->npos)
        v = &call->pos[index];
    for (size_t i = 0; i < call->nnamed; i++)
        if (strcmp(call->names[i], name) == 0)
            v = &call->named[i];
    if (!v)
        return dflt;
    return v->type == KL_INT ? (double)v->u.i : v->u.f;
}

/* norm(x, y, p=2.0, verbose=False): the p-norm of (x, y).  The function
 * receives the call as it was made (positional arguments, then named
 * ones); the signature, ignore list and rounding shape only the key.
 * Return 0 with *out set, or a negative KL_E* code: a failed call is
 * never cached. */
static int norm(void *userdata, const kl_call *call, kl_value *out)
{
    (void)userdata;
    double x = number_arg(call, 0, "x", 0), y = number_arg(call, 1, "y", 0);
    double p = number_arg(call, 2, "p", 2.0);
    if (p <= 0)
        return KL_EFUNC; /* not a norm: the caller gets the error, nothing is stored */
    runs++;
    *out = kl_value_float(pow(pow(fabs(x), p) + pow(fabs(y), p), 1 / p));
    return 0;
}

/* Call m with the given arguments and print what happened. */
static int call_and_show(kl_memo *m, const char *as_written, const kl_value *pos, size_t npos,
                         const char *const *names, const kl_value *named, size_t nnamed)
{
    kl_call call = {pos, npos, names, named, nnamed};
    int before = runs;
    kl_value result;
    int rc = kl_memo_call(m, &call, &result);
    if (rc != 0) {
        printf("%-34s -> error %s (%s)\n", as_written, kl_strerror(rc), kl_errmsg());
        return rc;
    }
    /* The key: canonical CBOR bytes, here decoded and printed as a Python
     * literal.  Floats equal to integers are keyed as those integers (as
     * Python's hash(3.0) == hash(3)); NULL stands for an ignored argument. */
    kl_buf key = KL_BUF_INIT, text = KL_BUF_INIT;
    kl_value decoded;
    rc = kl_memo_key(m, &call, &key);
    if (rc == 0)
        rc = kl_decode(key.data, key.len, &decoded);
    if (rc == 0) {
        rc = kl_repr(&text, &decoded);
        kl_value_free(&decoded);
    }
    if (rc == 0)
        printf("%-34s -> %-5g %-8s key %s\n", as_written, result.u.f,
               runs > before ? "computed" : "cached", kl_buf_cstr(&text));
    kl_value_free(&result);
    kl_buf_free(&key);
    kl_buf_free(&text);
    return rc;
}

int main(void)
{
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    /* Python syntax; defaults are Python literals */
    opts.signature = "x, y, p=2.0, verbose=False";
    /* names or indices (comma-separated) that are never part of the key */
    opts.ignore = "verbose";
    /* floats rounded to 1 decimal place in the key */
    opts.tol = 1;
    kl_memo *m;
    if (kl_memo_new(&m, "norm", norm, NULL, &opts) != 0) {
        fprintf(stderr, "generic: %s\n", kl_errmsg());
        return 1;
    }

    const kl_value three_four[] = {kl_value_float(3.0), kl_value_float(4.0)};
    const kl_value three_four_two[] = {kl_value_float(3.0), kl_value_float(4.0),
                                       kl_value_float(2.0)};
    const kl_value nearly[] = {kl_value_float(3.04), kl_value_float(3.96)};
    const char *const xy[] = {"x", "y"};
    const char *const verbose[] = {"verbose"};
    const kl_value yes[] = {kl_value_bool(true)};
    const char *const p_name[] = {"p"};
    const kl_value p_one[] = {kl_value_float(1.0)}, p_zero[] = {kl_value_float(0.0)};

    int rc = 0;
    rc |= call_and_show(m, "norm(3.0, 4.0)", three_four, 2, NULL, NULL, 0);
    /* by name, and with the default written out: the same key */
    rc |= call_and_show(m, "norm(x=3.0, y=4.0)", NULL, 0, xy, three_four, 2);
    rc |= call_and_show(m, "norm(3.0, 4.0, 2.0)", three_four_two, 3, NULL, NULL, 0);
    /* an ignored argument and floats that round to the same key */
    rc |= call_and_show(m, "norm(3.04, 3.96, verbose=True)", nearly, 2, verbose, yes, 1);
    /* another p: another key */
    rc |= call_and_show(m, "norm(3.0, 4.0, p=1.0)", three_four, 2, p_name, p_one, 1);
    /* an error of the function is returned, not stored */
    if (call_and_show(m, "norm(3.0, 4.0, p=0.0)", three_four, 2, p_name, p_zero, 1) != KL_EFUNC)
        rc = 1;

    kl_memo_info info;
    kl_memo_info_get(m, &info);
    printf("norm ran %d times: hit=%llu miss=%llu size=%zu\n", runs, (unsigned long long)info.hit,
           (unsigned long long)info.miss, info.size);
    kl_memo_free(m);
    return rc ? 1 : 0;
}
