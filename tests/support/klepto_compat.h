/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replaying Python klepto's test scripts (tests/klepto/): the random calls
 * a script made, recorded by tests/data/klepto/make_traces.py, and the
 * f(x, y) = 3*x + y those scripts memoize.
 */
#ifndef KLEPTO_TESTS_KLEPTO_COMPAT_H
#define KLEPTO_TESTS_KLEPTO_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#include "klepto/archive.h"
#include "klepto/keymap.h"
#include "klepto/memo.h"

/* One memoized function of a script: its calls and what klepto reported. */
typedef struct kt_trace_run {
    char label[160]; /* cache/maxsize/archived, or archive/keymap */
    size_t half;     /* the domain: ints 0..half-1, then floats 0.0..half-1.0 */
    size_t ncalls;
    int *picks; /* 2 * ncalls indices into the domain: x0, y0, x1, y1, ... */
    /* klepto's info(): maxsize -1 for None */
    int64_t hit, miss, load, maxsize, size;
} kt_trace_run;

/* Read tests/data/klepto/<script>.trace into *runs (free with
 * kt_trace_free); returns how many runs, failing the test on a bad file. */
size_t kt_trace_load(const char *script, kt_trace_run **runs);
void kt_trace_free(kt_trace_run *runs, size_t n);

/* The value a domain index stands for: an int, or a float. */
kl_value kt_trace_value(const kt_trace_run *run, int pick);

/* f(x, y) = 3*x + y, an int for ints and a float when either is a float,
 * as Python computes it; counts its calls in *(int *)userdata if given. */
int kt_f3xy(void *userdata, const kl_call *call, kl_value *out);

/* Make every call of a run through m, checking each result is 3*x + y. */
void kt_trace_replay(kl_memo *m, const kt_trace_run *run);

/* The keymap a run's label names after its '/': "None" (klepto.safe's
 * default, stringmap(flat=False)), "keymap(typed=T,flat=F)" (raw),
 * "hashmap(...)", "stringmap(...)", "picklemap(...)". */
void kt_trace_keymap(const kt_trace_run *run, kl_keymap_opts *out);

/* test_basic.py's and test_hdf.py's _test_cache: klepto.safe's lru_cache
 * (maxsize 50) of f over the archive at url with the run's keymap, its
 * calls, f.dump().  Asserts the scripts' hit + miss + load == calls, and
 * what follows from a fresh archive: every distinct key computed once
 * (misses; more only when the archive keeps nothing, storage == NULL),
 * nothing loaded that was not evicted first, and after the dump the
 * storage (opened directly at `storage`) holding one entry per distinct
 * key.  Returns the statistics in *info. */
void kt_trace_combination(const kt_trace_run *run, const char *url, const char *storage,
                          kl_memo_info *info);

/* An archive's entries as "repr(key): repr(value)" texts in sorted order,
 * joined by sep between open and close: "{", ", ", "}" is how klepto
 * prints (and compares, as d.copy() == d) a dictionary (heap string). */
char *kt_archive_entries(kl_archive *ar, const char *open, const char *sep, const char *close);

#endif
