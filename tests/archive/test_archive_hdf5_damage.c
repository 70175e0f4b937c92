/* SPDX-License-Identifier: BSD-3-Clause */
/* Damaged HDF5 archives never crash or hang verify and verify --repair.
 *
 * A small hdf5: archive (40 entries, small values in object headers and
 * larger ones in their own blocks) is damaged one byte at a time at many
 * offsets (the superblock, the root group's B-tree and heap, object
 * headers, attributes, raw data); so is one entry file of an hdf5dir:
 * archive.  Each damaged copy is opened, verified and repaired through
 * the library in a child process of its own: the child must exit (a
 * signal or the alarm is the failure) with either a clear error (a
 * negative code and a message) or a report, and a second verify after the
 * repair must not crash either.  `make test` damages 60 offsets of the
 * file and 40 of the entry; KLEPTO_TEST_LONG=1 (`make test-long`) ten
 * times as many.
 *
 * Salvage: single bits of the file's metadata (the superblock, the root
 * group's object header, its link heap and B-tree) are flipped; verify
 * --repair must then bring back every entry (all are reachable: only
 * metadata was hit), each exactly as stored. */
#include "sanitizers.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp;

/* Under AddressSanitizer, LeakSanitizer checks the child at exit and
 * reports blocks of HDF5's free lists that the child inherited from this
 * process (allocated while making the archive), exiting with an error: that is
 * not what this test looks for (signals, hangs, silent failures).  (The
 * status is ASan's exitcode, 1.) */
#define LEAK_STATUS (KT_ASAN ? 1 : -1)

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&tmp, "hdf5dmg");
}

static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

enum { NENT = 40 };

/* Entry i: a CBOR text key, and a byte-string value of a size that varies
 * (some kept in the object header, some in blocks of their own). */
static size_t value_of(int i, unsigned char *v)
{
    size_t n = (size_t)(i % 5 == 0 ? 5000 + i : 20 + 7 * i);
    v[0] = 0x59, v[1] = (unsigned char)(n >> 8), v[2] = (unsigned char)n;
    for (size_t j = 0; j < n; j++)
        v[3 + j] = (unsigned char)(i * 31 + j);
    return n + 3;
}

static size_t key_of(int i, char *k)
{
    int n = snprintf(k + 1, 30, "key %d", i);
    k[0] = (char)(0x60 + n);
    return (size_t)n + 1;
}

static void make_archive(const char *url, int n)
{
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    static unsigned char v[6000];
    char k[32];
    for (int i = 0; i < n; i++) {
        size_t kl = key_of(i, k);
        KT_OK(kl_archive_put(ar, k, kl, v, value_of(i, v)));
    }
    KT_OK(kl_archive_close(ar));
}

static void copy_damaged(const char *from, const char *to, long off, unsigned char x)
{
    size_t len = 0;
    char *b = kt_slurp(from, &len);
    assert_non_null(b);
    assert_true(off >= 0 && (size_t)off < len);
    b[off] = (char)(b[off] ^ x);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
}

/* In a child: open, verify, verify --repair, verify.  0 when every call
 * ended in a clear error or an answer; 3 when a call failed without a
 * message. */
static int verify_child(const char *url, bool repair)
{
    alarm(60); /* a hang is a failure too */
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, url, NULL);
    if (rc)
        return rc < 0 && kl_errmsg()[0] ? 0 : 3;
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    rc = kl_archive_verify(ar, repair, &rep, &problems);
    if (rc < 0 && !kl_errmsg()[0])
        return 3;
    if (!rc && problems && !rep.len)
        return 3; /* damage counted but not said */
    if (repair) {
        /* what is left after the repair is readable, or reported */
        kl_buf_reset(&rep);
        rc = kl_archive_verify(ar, false, &rep, &problems);
        if (rc < 0 && !kl_errmsg()[0])
            return 3;
    }
    kl_buf_free(&rep);
    kl_archive_close(ar);
    return 0;
}

/* Runs verify (repair or not) on url in a child; fails the test when the
 * child did not exit cleanly. */
static void run_child(const char *url, bool repair, const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    /* exit, not _exit: HDF5 closes what is left open at exit, and that is
     * where a file whose close failed crashes it */
    if (pid == 0)
        exit(verify_child(url, repair));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("%s: verify%s died of signal %d (%s)", what, repair ? " --repair" : "",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (WEXITSTATUS(status) == LEAK_STATUS)
        return; /* see LEAK_STATUS */
    if (WEXITSTATUS(status))
        fail_msg("%s: verify%s failed without saying why (exit %d)", what,
                 repair ? " --repair" : "", WEXITSTATUS(status));
}

/* The offsets to damage in a file of len bytes: every 64th byte of the
 * first 4 KiB (where HDF5's superblock, root group and first object
 * headers are), then spread over the rest; n in all. */
static long offset_of(int i, int n, size_t len)
{
    int head = n / 2;
    if (i < head && (size_t)(i * 64 + 8) < len)
        return i * 64 + 8;
    return (long)((uint64_t)(i - head) * 7919u % len);
}

static void damaged_hdf5_file(void **st)
{
    (void)st;
    char good[900], url[1000], what[1100];
    snprintf(good, sizeof good, "%s/good.h5", tmp);
    snprintf(url, sizeof url, "hdf5:%s", good);
    make_archive(url, NENT);
    struct stat sb;
    assert_int_equal(stat(good, &sb), 0);
    const unsigned char flips[] = {0xff, 0x01, 0x80, 0x10};
    int n = kt_long() ? 600 : 60;
    for (int i = 0; i < n; i++) {
        char bad[900];
        long off = offset_of(i, n, (size_t)sb.st_size);
        unsigned char x = flips[i % 4];
        snprintf(bad, sizeof bad, "%s/bad%d.h5", tmp, i);
        snprintf(url, sizeof url, "hdf5:%s", bad);
        snprintf(what, sizeof what, "byte %ld ^ 0x%02x", off, x);
        copy_damaged(good, bad, off, x);
        run_child(url, false, what);
        copy_damaged(good, bad, off, x);
        run_child(url, true, what);
        unlink(bad);
    }
}

static void damaged_hdf5dir_entry(void **st)
{
    (void)st;
    char root[900], url[1000], what[1100];
    snprintf(root, sizeof root, "%s/dir", tmp);
    snprintf(url, sizeof url, "hdf5dir:%s", root);
    make_archive(url, 6);
    /* the entry file of key 0 (5000-byte value): found by listing */
    char cmd[2000], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls -S %s/*/*.h5 | head -1", root);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(out);
    out[strcspn(out, "\n")] = '\0';
    char entry[900], good[900];
    snprintf(entry, sizeof entry, "%s", out);
    free(out);
    snprintf(good, sizeof good, "%s/good-entry.h5", tmp);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", entry, good);
    assert_int_equal(kt_run(cmd, NULL), 0);
    struct stat sb;
    assert_int_equal(stat(good, &sb), 0);
    int n = kt_long() ? 400 : 40;
    for (int i = 0; i < n; i++) {
        long off = offset_of(i, n, (size_t)sb.st_size);
        snprintf(what, sizeof what, "entry byte %ld", off);
        copy_damaged(good, entry, off, 0xff);
        run_child(url, false, what);
        copy_damaged(good, entry, off, 0xff);
        run_child(url, true, what);
    }
}

/* In a child: open, verify --repair, then read every entry: exit with
 * the number that read back exactly as stored, 200 for a wrong value,
 * 201 for an unexpected error. */
static int salvage_child(const char *url)
{
    alarm(60);
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        return 201;
    kl_buf rep = KL_BUF_INIT, v = KL_BUF_INIT;
    size_t problems = 0;
    if (kl_archive_verify(ar, true, &rep, &problems))
        return 201;
    static unsigned char want[6000];
    char k[32];
    int intact = 0;
    for (int i = 0; i < NENT; i++) {
        size_t kl = key_of(i, k), wl = value_of(i, want);
        int rc = kl_archive_get(ar, k, kl, &v);
        if (rc == KL_ENOTFOUND)
            continue;
        if (rc)
            return 201;
        if (v.len != wl || memcmp(v.data, want, wl))
            return 200;
        intact++;
    }
    kl_buf_free(&rep);
    kl_buf_free(&v);
    kl_archive_close(ar);
    return intact;
}

/* The offsets of the metadata structures of an hdf5: file: the
 * superblock, the root group's object header (its address is in the
 * superblock), and the first bytes of every fractal heap and B-tree
 * (the root group's links). */
static int metadata_offsets(const unsigned char *b, size_t len, long *off, int cap)
{
    int n = 0;
    for (long i = 0; i < 48 && n < cap; i += 3)
        off[n++] = i;
    uint64_t root = 0;
    for (int i = 7; i >= 0; i--)
        root = root << 8 | b[36 + i];
    for (long i = 0; i < 64 && root + (uint64_t)i < len && n < cap; i += 4)
        off[n++] = (long)root + i;
    static const char *const sigs[] = {"FRHP", "FHIB", "FHDB", "BTHD", "BTLF", "BTIN"};
    for (size_t s = 0; s < sizeof sigs / sizeof *sigs; s++)
        for (size_t i = 0; i + 4 <= len; i++)
            if (!memcmp(b + i, sigs[s], 4))
                for (long j = 0; j < 36 && i + (size_t)j < len && n < cap; j += 5)
                    off[n++] = (long)i + j;
    return n;
}

static void salvaged_after_metadata_flips(void **st)
{
    (void)st;
    char good[900], url[1000];
    snprintf(good, sizeof good, "%s/salv.h5", tmp);
    snprintf(url, sizeof url, "hdf5:%s", good);
    make_archive(url, NENT);
    size_t len = 0;
    unsigned char *b = (unsigned char *)kt_slurp(good, &len);
    assert_non_null(b);
    static long off[4000];
    int n = metadata_offsets(b, len, off, 4000);
    free(b);
    assert_true(n > 60);
    int step = kt_long() ? 1 : n / 60 + 1;
    for (int i = 0; i < n; i += step) {
        char bad[900];
        unsigned char bit = (unsigned char)(1u << ((unsigned)off[i] * 3 % 8));
        snprintf(bad, sizeof bad, "%s/salv-bad.h5", tmp);
        snprintf(url, sizeof url, "hdf5:%s", bad);
        copy_damaged(good, bad, off[i], bit);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            exit(salvage_child(url));
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
            fail_msg("byte %ld ^ 0x%02x: verify --repair died of signal %d", off[i], bit,
                     WTERMSIG(status));
        if (WEXITSTATUS(status) == 200)
            fail_msg("byte %ld ^ 0x%02x: a salvaged value is not the one stored", off[i], bit);
        if (WEXITSTATUS(status) == LEAK_STATUS && LEAK_STATUS != NENT)
            continue; /* see LEAK_STATUS */
        if (WEXITSTATUS(status) != NENT)
            fail_msg("byte %ld ^ 0x%02x: %d of %d entries salvaged (exit %d)", off[i], bit,
                     WEXITSTATUS(status) > NENT ? -1 : WEXITSTATUS(status), NENT,
                     WEXITSTATUS(status));
        unlink(bad);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(damaged_hdf5_file),
        cmocka_unit_test(damaged_hdf5dir_entry),
        cmocka_unit_test(salvaged_after_metadata_flips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
