/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows Python klepto's klepto/tests/test_basic.py: f(x, y) = 3*x+y
 * memoized by klepto.safe's lru_cache (maxsize 50) over each archive of
 * the script — all of them cached=True, klepto's default — with each of
 * its 16 keymaps, 30 random calls over the ints and floats 0..9, then
 * f.dump(); the script asserts hit + miss + load == 30 for every pair.
 *
 * The random calls are the script's own (tests/data/klepto/
 * test_basic.trace, recorded with Python's generator by make_traces.py).
 * Archives, in the script's order (?cached=true on each):
 *   null_archive → null:, dict_archive → mem:, file_archive (default
 *   name, serialized or not; 'xxxx.pkl'; 'xxxx.py') → file:, dir_archive
 *   ('memoi', 'memop', 'memoj' fast, 'memoz' compression=1, 'memom'
 *   memmode='r+') → dir: (compression=1 → compression=zstd&level=1).
 * Asserted for every pair: the script's sum, and what a fresh archive
 * implies (kt_trace_combination: one miss per distinct key, the dump
 * storing exactly those).  For the first keymap, klepto's exact hit, miss
 * and load too: its archives start empty there as ours do.
 * Not applicable: serialized=False (Python source files), fast=True and
 * memmode (pickling options) — our archives store canonical CBOR and map
 * large arrays on their own; the script reuses its archive objects, with
 * their memory, across keymaps (ours start each memo afresh, so its
 * numbers for later keymaps are not comparable); klepto's default file
 * names (the two unnamed file archives share one file there; here each
 * gets its own).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "klepto.h"
#include "klepto_compat.h"

static char *tmp;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&tmp, "klepto-basic");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

enum { NARCHIVES = 11, NKEYMAPS = 16, N = 30 };

static const struct {
    const char *klepto; /* the label's archive class */
    const char *scheme; /* "" for null: */
    const char *name;
    const char *options;
} archives[NARCHIVES] = {
    {"null_archive", "null", "", ""},
    {"dict_archive", "mem", "basic", ""},
    {"file_archive", "file", "memo.pkl", ""},
    {"file_archive", "file", "memo.py", ""},
    {"file_archive", "file", "xxxx.pkl", ""},
    {"file_archive", "file", "xxxx.py", ""},
    {"dir_archive", "dir", "memoi", ""},
    {"dir_archive", "dir", "memop", ""},
    {"dir_archive", "dir", "memoj", ""},
    {"dir_archive", "dir", "memoz", "compression=zstd&level=1&"},
    {"dir_archive", "dir", "memom", ""},
};

static void test_combinations(void **st)
{
    (void)st;
    kt_trace_run *runs;
    size_t n = kt_trace_load("test_basic", &runs);
    assert_int_equal(n, NARCHIVES * NKEYMAPS);
    for (size_t r = 0; r < n; r++) {
        size_t a = r % NARCHIVES, k = r / NARCHIVES;
        assert_int_equal(runs[r].ncalls, N);
        assert_int_equal(strncmp(runs[r].label, archives[a].klepto, strlen(archives[a].klepto)), 0);
        char storage[700], url[800];
        if (!strcmp(archives[a].scheme, "null"))
            snprintf(storage, sizeof storage, "null:");
        else if (!strcmp(archives[a].scheme, "mem"))
            snprintf(storage, sizeof storage, "mem:%s-%zu", archives[a].name, k);
        else
            snprintf(storage, sizeof storage, "%s:%s/%zu-%s", archives[a].scheme, tmp, k,
                     archives[a].name);
        snprintf(url, sizeof url, "%s?%scached=true", storage, archives[a].options);
        kl_memo_info info;
        kt_trace_combination(&runs[r], url, a == 0 ? NULL : storage, &info);
        if (k == 0 && (info.hit != (uint64_t)runs[r].hit || info.miss != (uint64_t)runs[r].miss ||
                       info.load != (uint64_t)runs[r].load))
            fail_msg("%s: (hit, miss, load) = (%llu, %llu, %llu), klepto (%lld, %lld, %lld)",
                     runs[r].label, (unsigned long long)info.hit, (unsigned long long)info.miss,
                     (unsigned long long)info.load, (long long)runs[r].hit, (long long)runs[r].miss,
                     (long long)runs[r].load);
    }
    kt_trace_free(runs, n);
}

int main(void)
{
    kt_tempdir_prefer_memory();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combinations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
