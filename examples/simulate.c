/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A simulation of a parameter struct into a result struct, memoized in a
 * SQLite archive: the first run computes a sweep of parameters, a second
 * run (another process) loads every result from the archive.  The structs
 * are user types (usertype.h): a name, a layout version, and encode /
 * decode functions between the struct and a value.
 *
 *   ./simulate [FOLDER]      (default: the current folder)
 */
#include <stdio.h>
#include <string.h>

#include "klepto.h"

typedef struct params {
    double mass, spring, damping; /* a damped oscillator */
    int32_t steps;
} params;

typedef struct result {
    double final_x, max_x;
    int32_t crossings;
} result;

/* ---- the types: one value each, an array of the fields ---- */

/* A number of a decoded value: in keys, a float with an integral value
 * may come back as an integer (untyped keys make 1 and 1.0 one key, as
 * Python does), so a decoder takes both. */
static int number(const kl_value *v, double *out)
{
    if (v->type == KL_FLOAT)
        *out = v->u.f;
    else if (v->type == KL_INT)
        *out = (double)v->u.i;
    else
        return KL_ETYPE;
    return 0;
}

static int params_encode(kl_enc *e, const void *obj)
{
    const params *p = obj;
    kl_enc_array_head(e, 4);
    kl_enc_float(e, p->mass);
    kl_enc_float(e, p->spring);
    kl_enc_float(e, p->damping);
    kl_enc_int(e, p->steps);
    return 0;
}

static int params_decode(const kl_value *v, void *obj)
{
    params *p = obj;
    if (v->type != KL_ARRAY || v->u.a.len != 4 || v->u.a.items[3].type != KL_INT)
        return KL_ETYPE;
    p->steps = (int32_t)v->u.a.items[3].u.i;
    if (number(&v->u.a.items[0], &p->mass) || number(&v->u.a.items[1], &p->spring) ||
        number(&v->u.a.items[2], &p->damping))
        return KL_ETYPE;
    return 0;
}

static int result_encode(kl_enc *e, const void *obj)
{
    const result *r = obj;
    kl_enc_array_head(e, 3);
    kl_enc_float(e, r->final_x);
    kl_enc_float(e, r->max_x);
    kl_enc_int(e, r->crossings);
    return 0;
}

static int result_decode(const kl_value *v, void *obj)
{
    result *r = obj;
    if (v->type != KL_ARRAY || v->u.a.len != 3 || v->u.a.items[2].type != KL_INT)
        return KL_ETYPE;
    r->crossings = (int32_t)v->u.a.items[2].u.i;
    return number(&v->u.a.items[0], &r->final_x) || number(&v->u.a.items[1], &r->max_x)
               ? KL_ETYPE
               : 0;
}

/* bump a version when its struct's fields change: stored results of the
 * old layout are then never read into the new one */
static const kl_usertype params_type =
    KL_USERTYPE_INIT("params", 1, params, params_encode, params_decode);
static const kl_usertype result_type =
    KL_USERTYPE_INIT("result", 1, result, result_encode, result_decode);

/* ---- the simulation: returns 0, or non-zero (not cached) for bad input ---- */

KL_MEMOIZE(int, run, KL_OBJ(params_type, params, p), KL_OUT_OBJ(result_type, result, out))
{
    if (p->mass <= 0 || p->steps <= 0)
        return -1;
    double x = 1, v = 0, dt = 0.001;
    memset(out, 0, sizeof *out);
    for (int32_t i = 0; i < p->steps; i++) {
        double a = (-p->spring * x - p->damping * v) / p->mass;
        v += a * dt;
        double nx = x + v * dt;
        if ((nx < 0) != (x < 0))
            out->crossings++;
        x = nx;
        if (x > out->max_x)
            out->max_x = x;
    }
    out->final_x = x;
    return 0;
}

int main(int argc, char **argv)
{
    const char *folder = argc > 1 ? argv[1] : ".";
    char url[4096];
    snprintf(url, sizeof url, "sqlite:%s/simulate.db?table=run", folder);
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.archive = url;
    size_t preloaded = 0;
    if (!run_memo() || kl_memo_configure(run_memo(), &o) != 0 ||
        kl_memo_load(run_memo(), &preloaded) != 0) { /* what earlier runs stored */
        fprintf(stderr, "simulate: %s\n", kl_errmsg());
        return 1;
    }
    printf("archive %s: %zu results\n", url, preloaded);
    for (int i = 1; i <= 5; i++) {
        params p = {1.0, 4.0 * i, 0.1, 20000};
        result r;
        if (run(&p, &r) != 0) {
            fprintf(stderr, "simulate: run failed\n");
            return 1;
        }
        printf("spring %4.1f: x = %+.6f, max %.6f, %d crossings\n", p.spring, r.final_x,
               r.max_x, r.crossings);
    }
    params bad = {0, 1, 0, 10};
    result r;
    printf("mass 0: run returns %d (not cached)\n", run(&bad, &r));
    kl_memo_info info;
    kl_memo_info_get(run_memo(), &info);
    printf("computed %llu, from memory %llu\n", (unsigned long long)info.miss,
           (unsigned long long)info.hit);
    return kl_memo_free(run_memo()) == 0 ? 0 : 1;
}
