/* SPDX-License-Identifier: BSD-3-Clause */
/* The workload of the fault sweeps and the checks after it (used by
 * tests/archive/test_fault_sweep.c, file-system faults, and
 * test_fault_sweep_servers.c, dropped server connections).
 *
 * The workload: single puts, a batch put, rewrites, deletes one by one and
 * in a batch, sync, compaction, a batch of rewrites, verify --repair, and
 * the cached front's puts and dump, on KT_SWEEP_NK keys; with r->stop it
 * ends at the first call that fails.  Every call that fails must return a
 * negative code whose message names r->path (and, with r->own_words, an
 * operation and strerror(r->err)).  The model records what each key may read as after
 * it: the last acknowledged version, or that of a write that failed.
 *
 * The check (no fault): the archive reopens, verify finds nothing, every
 * key reads as the model allows, iterating and counting find exactly
 * those entries.
 *
 * Failed checks are printed (the first 400) and counted in
 * kt_sweep_bad_runs, not fatal: a sweep reports all it finds and fails at
 * its end. */
#ifndef KLEPTO_TEST_SWEEP_WORKLOAD_H
#define KLEPTO_TEST_SWEEP_WORKLOAD_H

#include <stdbool.h>

enum { KT_SWEEP_NK = 32 };
#define KT_SWEEP_ABSENT (-1)

/* What each key may read as: the last acknowledged version and those of
 * the writes that failed since (KT_SWEEP_ABSENT = no entry). */
typedef struct kt_sweep_model {
    int ok[KT_SWEEP_NK][8];
    int nok[KT_SWEEP_NK];
} kt_sweep_model;

typedef struct kt_sweep_run {
    const char *path; /* what messages must name: the archive's path or URL */
    int err;          /* the errno injected */
    bool own_words;   /* the message must say strerror(err) and name an operation */
    bool op_words;    /* the message must name an operation (set after init) */
    int failures;     /* calls that returned an error */
    bool stop;        /* a persistent fault: stop at the first failure */
    char first[600];  /* the first failure's message */
    kt_sweep_model m;
} kt_sweep_run;

extern long kt_sweep_bad_runs;

/* A fresh run: every key absent. */
void kt_sweep_run_init(kt_sweep_run *r, const char *path, int err, bool own_words, bool stop);
void kt_sweep_known(kt_sweep_model *m, int k, int version);
void kt_sweep_either(kt_sweep_model *m, int k, int version);
void kt_sweep_workload(kt_sweep_run *r, const char *url);
void kt_sweep_check(kt_sweep_run *r, const char *url);

#endif
