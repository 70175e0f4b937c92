/* SPDX-License-Identifier: BSD-3-Clause */
/* The folder archives, dir: and hdf5dir: (keyfolder.c), against strangers
 * in the folder and against each other:
 *
 *   - a FIFO, an empty folder or a folder with files where an entry file
 *     should be: get, contains, stat, views, iteration and verify answer
 *     (KL_ECORRUPT for that key) instead of hanging or giving up; verify
 *     --repair removes the FIFO and the empty folder, and reports the
 *     folder that is not empty (never deleting what is in it);
 *   - many processes creating one new archive at once all succeed;
 *   - verify reports the leftover temporary files of killed writers with
 *     their size (not as damage), --repair removes those whose writer is
 *     gone and leaves a live writer's alone. */
#define _GNU_SOURCE
#include "testutil.h"

#include "klepto/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

static char *tmp;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&tmp, "folders");
}

static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

static const char *schemes[] = {
    "dir",
#ifdef KLEPTO_HAVE_HDF5
    "hdf5dir",
#endif
};
enum { NSCHEMES = sizeof schemes / sizeof *schemes };

static const char *suffix_of(const char *scheme)
{
    return strcmp(scheme, "dir") ? ".h5" : "";
}

/* Key i: a CBOR text string; its value a CBOR byte string. */
static size_t key_of(int i, char *k)
{
    int n = snprintf(k + 1, 30, "k%d", i);
    k[0] = (char)(0x60 + n);
    return (size_t)n + 1;
}

static size_t value_of(int i, unsigned char *v)
{
    v[0] = 0x48;
    for (int j = 0; j < 8; j++)
        v[1 + j] = (unsigned char)(i + j);
    return 9;
}

/* Path of key i's entry file in the archive folder root. */
static void entry_path(const char *root, const char *scheme, int i, char *out, size_t cap)
{
    char k[32];
    size_t kl = key_of(i, k);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(k, kl));
    char hex[33];
    for (int j = 0; j < 16; j++)
        snprintf(hex + 2 * j, 3, "%02x", c.digest[j]);
    snprintf(out, cap, "%s/%.2s/%s%s", root, hex, hex, suffix_of(scheme));
}

static void make_archive(const char *url, int n)
{
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    char k[32];
    unsigned char v[16];
    for (int i = 0; i < n; i++) {
        size_t kl = key_of(i, k);
        KT_OK(kl_archive_put(ar, k, kl, v, value_of(i, v)));
    }
    KT_OK(kl_archive_close(ar));
}

/* ---- strangers where entry files should be ----------------------------- */

enum { NSTRANGE = 8 };

/* The checks, in a child under an alarm (a hang fails): 0 when all hold,
 * else the number of the one that did not. */
static int strangers_child(const char *url, const char *fifo, const char *empty,
                           const char *full)
{
    alarm(30);
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        return 2;
    char k[32];
    kl_buf v = KL_BUF_INIT, rep = KL_BUF_INIT;
    kl_entry_info info;
    kl_view *view = NULL;
    /* keys 1 (FIFO), 2 (empty folder), 3 (folder with a file) are damaged;
     * the others read */
    for (int i = 0; i < NSTRANGE; i++) {
        size_t kl = key_of(i, k);
        bool bad = i >= 1 && i <= 3;
        int rc = kl_archive_get(ar, k, kl, &v);
        if (rc != (bad ? KL_ECORRUPT : 0))
            return 10 + i;
        if (bad && !strstr(kl_errmsg(), i == 1 ? "FIFO" : "folder"))
            return 20 + i;
        if (kl_archive_stat(ar, k, kl, &info) != (bad ? KL_ECORRUPT : 0))
            return 30 + i;
        rc = kl_archive_get_view(ar, k, kl, &view);
        kl_view_release(view);
        view = NULL;
        if (bad && rc != KL_ECORRUPT)
            return 40 + i;
        rc = kl_archive_contains(ar, k, kl);
        if (bad ? rc != KL_ECORRUPT : rc != 1)
            return 50 + i;
    }
    /* iteration: the damaged three are reported, the others listed */
    kl_archive_iter *it = NULL;
    if (kl_archive_iter_new(ar, &it))
        return 60;
    int good = 0, damaged = 0, rc;
    kl_buf key = KL_BUF_INIT;
    while ((rc = kl_archive_iter_next(it, &key, &v)) != 0) {
        if (rc == KL_ECORRUPT)
            damaged++;
        else if (rc == 1)
            good++;
        else
            return 61;
    }
    kl_archive_iter_free(it);
    if (good != NSTRANGE - 3 || damaged != 3)
        return 62;
    /* verify reports the three, and stops at none */
    size_t problems = 0;
    if (kl_archive_verify(ar, false, &rep, &problems) || problems != 3)
        return 70;
    if (!strstr(kl_buf_cstr(&rep), "FIFO") || !strstr(kl_buf_cstr(&rep), "folder"))
        return 71;
    struct stat sb;
    if (lstat(fifo, &sb) || !S_ISFIFO(sb.st_mode))
        return 72; /* verify alone changes nothing */
    /* --repair: the FIFO and the empty folder go; the folder with a file
     * in it is reported and left alone */
    kl_buf_reset(&rep);
    if (kl_archive_verify(ar, true, &rep, &problems) || problems != 3)
        return 80;
    if (lstat(fifo, &sb) == 0 || lstat(empty, &sb) == 0)
        return 81;
    if (lstat(full, &sb) || !S_ISDIR(sb.st_mode) || !strstr(kl_buf_cstr(&rep), "not empty"))
        return 82;
    kl_buf_reset(&rep);
    if (kl_archive_verify(ar, false, &rep, &problems) || problems != 1)
        return 83;
    /* a new value for a key whose FIFO was removed works */
    size_t kl = key_of(1, k);
    unsigned char val[16];
    if (kl_archive_put(ar, k, kl, val, value_of(1, val)) || kl_archive_get(ar, k, kl, &v))
        return 84;
    kl_buf_free(&v);
    kl_buf_free(&rep);
    kl_buf_free(&key);
    kl_archive_close(ar);
    return 0;
}

static void strangers_at_entry_names(void **st)
{
    (void)st;
    for (int s = 0; s < NSCHEMES; s++) {
        char root[800], url[900], fifo[900], empty[900], full[900], inside[1000];
        snprintf(root, sizeof root, "%s/strange-%s", tmp, schemes[s]);
        snprintf(url, sizeof url, "%s:%s", schemes[s], root);
        make_archive(url, NSTRANGE);
        entry_path(root, schemes[s], 1, fifo, sizeof fifo);
        entry_path(root, schemes[s], 2, empty, sizeof empty);
        entry_path(root, schemes[s], 3, full, sizeof full);
        assert_int_equal(unlink(fifo), 0);
        assert_int_equal(mkfifo(fifo, 0644), 0);
        assert_int_equal(unlink(empty), 0);
        assert_int_equal(mkdir(empty, 0755), 0);
        assert_int_equal(unlink(full), 0);
        assert_int_equal(mkdir(full, 0755), 0);
        snprintf(inside, sizeof inside, "%s/notes.txt", full);
        FILE *f = fopen(inside, "w");
        assert_non_null(f);
        fputs("someone's notes\n", f);
        fclose(f);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(strangers_child(url, fifo, empty, full));
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
            fail_msg("%s: killed by signal %d (%s)", url, WTERMSIG(status),
                     WTERMSIG(status) == SIGALRM ? "hung" : strsignal(WTERMSIG(status)));
        if (WEXITSTATUS(status))
            fail_msg("%s: check %d failed", url, WEXITSTATUS(status));
        /* what was in the folder is still there */
        struct stat sb;
        assert_int_equal(stat(inside, &sb), 0);
    }
}

/* A FIFO where the marker should be is refused, not waited on. */
static void fifo_marker(void **st)
{
    (void)st;
    for (int s = 0; s < NSCHEMES; s++) {
        char root[800], url[900], marker[900];
        snprintf(root, sizeof root, "%s/fifomark-%s", tmp, schemes[s]);
        snprintf(url, sizeof url, "%s:%s", schemes[s], root);
        make_archive(url, 1);
        snprintf(marker, sizeof marker, "%s/klepto-%s.meta", root, schemes[s]);
        assert_int_equal(unlink(marker), 0);
        assert_int_equal(mkfifo(marker, 0644), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(30);
            kl_archive *ar = NULL;
            _exit(kl_archive_open(&ar, url, NULL) == KL_ECORRUPT ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

/* ---- creating one archive from many processes at once ------------------ */

enum { NPROC = 8, PER = 10, ROUNDS = 25 };

static void concurrent_creation(void **st)
{
    (void)st;
    for (int s = 0; s < NSCHEMES; s++)
        for (int round = 0; round < ROUNDS; round++) {
            char url[900];
            snprintf(url, sizeof url, "%s:%s/new-%s-%d/sub", schemes[s], tmp, schemes[s], round);
            int go[2];
            assert_int_equal(pipe(go), 0);
            pid_t pids[NPROC];
            fflush(NULL);
            for (int p = 0; p < NPROC; p++) {
                pids[p] = fork();
                assert_true(pids[p] >= 0);
                if (pids[p] == 0) {
                    close(go[1]);
                    char c;
                    if (read(go[0], &c, 1) < 0) /* all start at once */
                        _exit(9);
                    kl_archive *ar = NULL;
                    if (kl_archive_open(&ar, url, NULL)) {
                        fprintf(stderr, "process %d: %s\n", p, kl_errmsg());
                        _exit(1);
                    }
                    char k[32];
                    unsigned char v[16];
                    for (int i = 0; i < PER; i++) {
                        size_t kl = key_of(p * PER + i, k);
                        if (kl_archive_put(ar, k, kl, v, value_of(i, v))) {
                            fprintf(stderr, "process %d: %s\n", p, kl_errmsg());
                            _exit(2);
                        }
                    }
                    _exit(kl_archive_close(ar) ? 3 : 0);
                }
            }
            close(go[0]);
            close(go[1]); /* EOF: go */
            int failed = 0;
            for (int p = 0; p < NPROC; p++) {
                int status = 0;
                assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
                failed += !WIFEXITED(status) || WEXITSTATUS(status);
            }
            if (failed)
                fail_msg("%s: %d of %d processes creating it at once failed", url, failed, NPROC);
            kl_archive *ar = NULL;
            KT_OK(kl_archive_open(&ar, url, NULL));
            size_t n = 0;
            KT_OK(kl_archive_count(ar, &n));
            assert_int_equal(n, NPROC * PER);
            kl_buf v = KL_BUF_INIT;
            char k[32];
            for (int i = 0; i < NPROC * PER; i++) {
                size_t kl = key_of(i, k);
                KT_OK(kl_archive_get(ar, k, kl, &v));
            }
            kl_buf_free(&v);
            KT_OK(kl_archive_drop(ar));
        }
}

/* ---- leftovers of killed writers --------------------------------------- */

/* A process id that is no longer running. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void write_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc('x', f);
    fclose(f);
}

static void leftovers_are_reported(void **st)
{
    (void)st;
    for (int s = 0; s < NSCHEMES; s++) {
        char root[800], url[900], entry[900], dead[1000], live[1000], marker[1000];
        snprintf(root, sizeof root, "%s/left-%s", tmp, schemes[s]);
        snprintf(url, sizeof url, "%s:%s", schemes[s], root);
        make_archive(url, 3);
        entry_path(root, schemes[s], 0, entry, sizeof entry);
        *strrchr(entry, '/') = '\0'; /* its shard */
        pid_t gone = dead_pid();
        snprintf(dead, sizeof dead, "%s/.tmp.%d.5", entry, (int)gone);
        snprintf(live, sizeof live, "%s/.tmp.%d.6", entry, (int)getpid());
        snprintf(marker, sizeof marker, "%s/.tmp.%d.marker.0", root, (int)gone);
        write_bytes(dead, 1234);
        write_bytes(live, 99);
        write_bytes(marker, 16);
        kl_archive *ar = NULL;
        KT_OK(kl_archive_open(&ar, url, NULL));
        kl_buf rep = KL_BUF_INIT;
        size_t problems = 9;
        KT_OK(kl_archive_verify(ar, false, &rep, &problems));
        assert_int_equal(problems, 0); /* not damage */
        const char *r = kl_buf_cstr(&rep);
        char name[100];
        snprintf(name, sizeof name, ".tmp.%d.5 (1234 bytes)", (int)gone);
        if (!strstr(r, name) || !strstr(r, "(16 bytes)") || !strstr(r, "leftover"))
            fail_msg("%s: verify's report lacks the leftovers: [%s]", url, r);
        snprintf(name, sizeof name, ".tmp.%d.6", (int)getpid());
        assert_null(strstr(r, name)); /* a live writer's is no leftover */
        struct stat sb;
        assert_int_equal(stat(dead, &sb), 0); /* verify alone removes nothing */
        kl_buf_reset(&rep);
        KT_OK(kl_archive_verify(ar, true, &rep, &problems));
        assert_int_equal(problems, 0);
        assert_non_null(strstr(kl_buf_cstr(&rep), "removed leftover"));
        assert_int_equal(stat(dead, &sb), -1);
        assert_int_equal(stat(marker, &sb), -1);
        assert_int_equal(stat(live, &sb), 0);
        kl_buf_reset(&rep);
        KT_OK(kl_archive_verify(ar, false, &rep, &problems));
        assert_int_equal(rep.len, 0);
        unlink(live);
        kl_buf_free(&rep);
        KT_OK(kl_archive_drop(ar));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strangers_at_entry_names),
        cmocka_unit_test(fifo_marker),
        cmocka_unit_test(concurrent_creation),
        cmocka_unit_test(leftovers_are_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
