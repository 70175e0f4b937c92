/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5: beside another HDF5 program that has the file open for writing
 * (issue 16's bad input "a file locked by another HDF5 writer"; HDF5 1.10
 * and later hold an exclusive flock on such a file).  No transaction
 * touches the file then: put_many, del, clear and compact fail with
 * KL_EBUSY naming it and change nothing; single puts still land in the
 * journal (their folds wait) and read back; reads of the file's entries
 * are KL_EBUSY, not a wrong answer; a close keeps the journal.  Once the
 * other program has closed the file, every entry is there, and the next
 * close folds them all into the file for plain HDF5 readers. */
#define _GNU_SOURCE
#include "testutil.h"

#include "klepto/archive.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FILED = 3, JOURNALED = 20, VLEN = 24 };

static char *tmp;

static void entry(int i, unsigned char *k, unsigned char *v)
{
    k[0] = 0x18; /* CBOR uint(i), one byte */
    k[1] = (unsigned char)i;
    v[0] = 0x57; /* CBOR bytes(23) */
    for (int j = 1; j < VLEN; j++)
        v[j] = (unsigned char)(i * 7 + j);
}

/* A child opens path for writing with plain HDF5 (its file locking on)
 * and holds it until *release is closed. */
static pid_t hold_for_writing(const char *path, int *release)
{
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_file_locking(fapl, true, false);
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
        char c = f >= 0 ? '1' : '0';
        if (write(ready[1], &c, 1) != 1)
            _exit(3);
        while (read(go[0], &c, 1) > 0)
            ;
        _exit(f >= 0 && H5Fclose(f) >= 0 ? 0 : 1);
    }
    close(ready[1]);
    close(go[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    assert_int_equal(c, '1');
    *release = go[1];
    return pid;
}

static void release_hold(pid_t pid, int release)
{
    close(release);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void assert_busy(int rc, const char *path)
{
    assert_int_equal(rc, KL_EBUSY);
    if (!strstr(kl_errmsg(), path) || !strstr(kl_errmsg(), "another HDF5 program"))
        fail_msg("message does not name the file and the other program: %s", kl_errmsg());
}

static void assert_entry(kl_archive *ar, int i)
{
    unsigned char k[2], v[VLEN];
    kl_buf got = KL_BUF_INIT;
    entry(i, k, v);
    KT_OK(kl_archive_get(ar, k, sizeof k, &got));
    assert_int_equal(got.len, VLEN);
    assert_memory_equal(got.data, v, VLEN);
    kl_buf_free(&got);
}

static void writer_elsewhere_stops_transactions_not_puts(void **st)
{
    (void)st;
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/locked.h5", tmp);
    /* journal_max=0: every single put wants a fold once the journal holds
     * a quarter of the file */
    snprintf(url, sizeof url, "hdf5:%s?sync=none&journal_max=0", path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char keys[FILED][2], vals[FILED][VLEN];
    const void *kp[FILED], *vp[FILED];
    size_t kl[FILED], vl[FILED];
    for (int i = 0; i < FILED; i++) {
        entry(i, keys[i], vals[i]);
        kp[i] = keys[i];
        vp[i] = vals[i];
        kl[i] = sizeof keys[i];
        vl[i] = VLEN;
    }
    KT_OK(kl_archive_put_many(ar, FILED, kp, kl, vp, vl));

    int release;
    pid_t holder = hold_for_writing(path, &release);
    unsigned char k[2], v[VLEN];
    entry(FILED + JOURNALED, k, v);
    const void *k1 = k, *v1 = v;
    size_t kl1 = sizeof k, vl1 = VLEN;
    assert_busy(kl_archive_put_many(ar, 1, &k1, &kl1, &v1, &vl1), path);
    assert_busy(kl_archive_compact(ar), path);
    assert_busy(kl_archive_clear(ar), path);
    assert_busy(kl_archive_del(ar, keys[0], sizeof keys[0]), path);
    for (int i = FILED; i < FILED + JOURNALED; i++) {
        entry(i, k, v);
        KT_OK(kl_archive_put(ar, k, sizeof k, v, VLEN));
    }
    for (int i = FILED; i < FILED + JOURNALED; i++)
        assert_entry(ar, i);
    kl_buf got = KL_BUF_INIT;
    assert_busy(kl_archive_get(ar, keys[1], sizeof keys[1], &got), path);
    kl_buf_free(&got);
    /* the close's fold is offered, refused, and the journal kept */
    KT_OK(kl_archive_close(ar));
    release_hold(holder, release);

    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n = 0, problems = 1;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, FILED + JOURNALED);
    for (int i = 0; i < FILED + JOURNALED; i++)
        assert_entry(ar, i);
    entry(FILED + JOURNALED, k, v);
    assert_int_equal(kl_archive_get(ar, k, sizeof k, &got), KL_ENOTFOUND);
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    KT_OK(kl_archive_close(ar));

    /* folded at that close: plain HDF5 sees every entry */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    H5G_info_t gi;
    assert_true(H5Gget_info(f, &gi) >= 0);
    assert_int_equal(gi.nlinks, FILED + JOURNALED);
    H5Fclose(f);
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_drop(ar));
}

/* A klepto handle opened while the other program writes the file is
 * refused with the same clear error; after it, it opens. */
static void open_beside_writer_is_busy(void **st)
{
    (void)st;
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/held.h5", tmp);
    snprintf(url, sizeof url, "hdf5:%s", path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char k[2], v[VLEN];
    entry(1, k, v);
    KT_OK(kl_archive_put(ar, k, sizeof k, v, VLEN));
    KT_OK(kl_archive_close(ar));
    int release;
    pid_t holder = hold_for_writing(path, &release);
    ar = NULL;
    int rc = kl_archive_open(&ar, url, NULL);
    assert_null(ar);
    assert_int_equal(rc, KL_EBUSY);
    if (!strstr(kl_errmsg(), path))
        fail_msg("message does not name the file: %s", kl_errmsg());
    release_hold(holder, release);
    KT_OK(kl_archive_open(&ar, url, NULL));
    assert_entry(ar, 1);
    KT_OK(kl_archive_drop(ar));
}

int main(void)
{
    tmp = kt_tmpdir("hdf5-locked");
    assert_non_null(tmp);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_elsewhere_stops_transactions_not_puts),
        cmocka_unit_test(open_beside_writer_is_busy),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
