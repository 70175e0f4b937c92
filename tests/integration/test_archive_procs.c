/* SPDX-License-Identifier: BSD-3-Clause */
/* Many processes writing one archive at once: 8 processes each put 5,000
 * keys of their own and the same 1,000 shared keys, interleaved, into one
 * file: and one dir: archive.  Afterwards every key is there with its
 * value, verify is clean, and no process saw an error.
 * (Runs in a tmpfs when one is available: the test is about the locking
 * and renaming, not about the disk's speed.) */
#include "archive_suite.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PROCS = 8, OWN = 5000, SHARED = 1000 };

static void value_of(unsigned char *v, size_t *vl, const unsigned char *k, size_t kl)
{
    /* deterministic, different per key, a few sizes */
    size_t n = 16 + (k[kl - 1] % 7) * 20;
    v[0] = 0x58; /* a CBOR byte string of n bytes */
    v[1] = (unsigned char)n;
    for (size_t i = 0; i < n; i++)
        v[2 + i] = (unsigned char)(k[i % kl] * 31 + i);
    *vl = n + 2;
}

static int child(const char *url, int id)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL)) {
        fprintf(stderr, "child %d: open: %s\n", id, kl_errmsg());
        return 1;
    }
    unsigned char k[64], v[256];
    size_t vl;
    for (int i = 0; i < OWN + SHARED; i++) {
        size_t kl;
        /* every fifth put is a shared key, each process in its own order */
        if (i % 6 == 5)
            kl = kt_key(k, -1, (i / 6 + id * 97) % SHARED);
        else
            kl = kt_key(k, id, i - i / 6);
        value_of(v, &vl, k, kl);
        if (kl_archive_put(ar, k, kl, v, vl)) {
            fprintf(stderr, "child %d: put: %s\n", id, kl_errmsg());
            return 1;
        }
    }
    /* make sure every shared key was written by this process too */
    for (int j = 0; j < SHARED; j++) {
        size_t kl = kt_key(k, -1, j);
        value_of(v, &vl, k, kl);
        if (kl_archive_put(ar, k, kl, v, vl)) {
            fprintf(stderr, "child %d: put: %s\n", id, kl_errmsg());
            return 1;
        }
    }
    if (kl_archive_close(ar)) {
        fprintf(stderr, "child %d: close: %s\n", id, kl_errmsg());
        return 1;
    }
    return 0;
}

static void run(const char *url)
{
    /* create it first so the children race only on entries */
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_close(ar));
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            _exit(child(url, p));
    }
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, PROCS * OWN + SHARED);
    unsigned char k[64], v[256];
    size_t vl;
    kl_buf got = KL_BUF_INIT;
    for (int p = -1; p < PROCS; p++) {
        int m = p < 0 ? SHARED : OWN;
        for (int i = 0; i < m; i++) {
            size_t kl = kt_key(k, p, i);
            value_of(v, &vl, k, kl);
            KT_OK(kl_archive_get(ar, k, kl, &got));
            assert_int_equal(got.len, vl);
            assert_memory_equal(got.data, v, vl);
        }
    }
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 1;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    if (problems)
        fail_msg("%s: verify: %s", url, kl_buf_cstr(&rep));
    kl_buf_free(&rep);
    kl_buf_free(&got);
    KT_OK(kl_archive_drop(ar));
}

static char *tmp;

static void eight_processes_file(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/shared.kle", tmp);
    run(url);
}

/* sync=none buffers puts in each process and appends them in batches */
static void eight_processes_file_buffered(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/buffered.kle?sync=none", tmp);
    run(url);
}

/* compactions (file replaced under the others' feet) while all append */
static void eight_processes_file_compacting(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/compacting.kle?autocompact=0.05", tmp);
    run(url);
}

static void eight_processes_dir(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "dir:%s/shared", tmp);
    run(url);
}

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("procs");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eight_processes_file),
        cmocka_unit_test(eight_processes_file_buffered),
        cmocka_unit_test(eight_processes_file_compacting),
        cmocka_unit_test(eight_processes_dir),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
