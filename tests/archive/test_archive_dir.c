/* SPDX-License-Identifier: BSD-3-Clause */
/* dir: — conformance in every durability mode, the log format's promises
 * (torn tails ignored, other processes' appends seen, compaction), and bad
 * input. */
#include "archive_suite.h"
#include "testutil.h"

#include "fault_archive.h"
#include "fsize_limit.h"
#include "klepto/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static char *tmp;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&tmp, "dir");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

static const char *url_of(const char *name, const char *query)
{
    static char u[600];
    snprintf(u, sizeof u, "dir:%s/%s%s", tmp, name, query);
    return u;
}

static void conformance_normal(void **st)
{
    (void)st;
    kt_archive_suite(url_of("a", ""), KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
}
static void conformance_none(void **st)
{
    (void)st;
    kt_archive_suite(url_of("b", "?sync=none"), KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
}
static void conformance_full(void **st)
{
    (void)st;
    kt_archive_suite(url_of("c", "?sync=full&compression=zstd&level=5"), KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
}

enum { NENT = 50, VLEN = 300 };

/* a CBOR byte string (so verify's decoding check passes) of VLEN bytes */
static void fill_value(unsigned char *v, int i)
{
    v[0] = 0x59;
    v[1] = (unsigned char)((VLEN - 3) >> 8);
    v[2] = (unsigned char)(VLEN - 3);
    for (int j = 3; j < VLEN; j++)
        v[j] = (unsigned char)(i * 11 + j);
}

/* SHARD/NAME of key i (the naming of docs/formats.md, recomputed here). */
static const char *entry_path(const char *root, int i)
{
    static char p[700];
    unsigned char k[64];
    size_t kl = kt_key(k, i, 0);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(k, kl));
    char hex[33];
    for (int j = 0; j < 16; j++)
        snprintf(hex + 2 * j, 3, "%02x", c.digest[j]);
    snprintf(p, sizeof p, "%s/%.2s/%s", root, hex, hex);
    return p;
}

static void make_archive(const char *root)
{
    char url[600];
    snprintf(url, sizeof url, "dir:%s", root);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char k[64], v[VLEN];
    for (int i = 0; i < NENT; i++) {
        size_t kl = kt_key(k, i, 0);
        fill_value(v, i);
        KT_OK(kl_archive_put(ar, k, kl, v, VLEN));
    }
    KT_OK(kl_archive_close(ar));
}

static void flip(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    if (off < 0)
        off += st.st_size;
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x33;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static int get_rc(kl_archive *ar, int i)
{
    unsigned char k[64];
    size_t kl = kt_key(k, i, 0);
    kl_buf v = KL_BUF_INIT;
    int rc = kl_archive_get(ar, k, kl, &v);
    if (rc == 0) {
        unsigned char want[VLEN];
        fill_value(want, i);
        assert_int_equal(v.len, VLEN);
        assert_memory_equal(v.data, want, VLEN);
    }
    kl_buf_free(&v);
    return rc;
}

static void damaged_entries_report_corrupt_and_repair_drops_them(void **st)
{
    (void)st;
    char orig[512], bad[512], url[600], cmd[1200];
    snprintf(orig, sizeof orig, "%s/orig", tmp);
    snprintf(bad, sizeof bad, "%s/bad", tmp);
    make_archive(orig);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", orig, bad);
    assert_int_equal(kt_run(cmd, NULL), 0);
    flip(entry_path(bad, 3), -5);  /* value */
    flip(entry_path(bad, 7), 64 + 1); /* key */
    flip(entry_path(bad, 11), 20); /* header */
    assert_int_equal(truncate(entry_path(bad, 13), 100), 0);
    const int damaged[] = {3, 7, 11, 13};
    snprintf(url, sizeof url, "dir:%s", bad);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 0; i < NENT; i++) {
        bool d = i == 3 || i == 7 || i == 11 || i == 13;
        assert_int_equal(get_rc(ar, i), d ? KL_ECORRUPT : 0);
    }
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    assert_int_equal(problems, 4);
    for (int j = 0; j < 4; j++) {
        const char *p = entry_path(bad, damaged[j]);
        assert_non_null(strstr(kl_buf_cstr(&rep), p + strlen(bad) + 1));
    }
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 4);
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NENT - 4);
    for (int i = 0; i < NENT; i++) {
        bool d = i == 3 || i == 7 || i == 11 || i == 13;
        assert_int_equal(get_rc(ar, i), d ? KL_ENOTFOUND : 0);
    }
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
}

/* An entry file holding another key (what a hash collision would look
 * like) is a miss, never that key's value. */
static void entry_of_another_key_is_a_miss(void **st)
{
    (void)st;
    char root[512], url[600], a[700];
    snprintf(root, sizeof root, "%s/collide", tmp);
    make_archive(root);
    snprintf(a, sizeof a, "%s", entry_path(root, 1));
    assert_int_equal(rename(a, entry_path(root, 2)), 0);
    snprintf(url, sizeof url, "dir:%s", root);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    assert_int_equal(get_rc(ar, 2), KL_ENOTFOUND);
    assert_int_equal(get_rc(ar, 1), KL_ENOTFOUND);
    unsigned char k[64];
    size_t kl = kt_key(k, 2, 0);
    assert_int_equal(kl_archive_contains(ar, k, kl), 0);
    assert_int_equal(kl_archive_del(ar, k, kl), KL_ENOTFOUND);
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&rep), "wrong name"));
    kl_buf_free(&rep);
    KT_OK(kl_archive_close(ar));
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void refuses_folders_that_are_not_archives_and_newer_versions(void **st)
{
    (void)st;
    char root[512], path[700], url[600];
    kl_archive *ar = NULL;
    snprintf(root, sizeof root, "%s/notarchive", tmp);
    mkdir(root, 0777);
    snprintf(path, sizeof path, "%s/notes.txt", root);
    write_bytes(path, "hello", 5);
    snprintf(url, sizeof url, "dir:%s", root);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "not a klepto dir"));
    snprintf(path, sizeof path, "%s/klepto-dir.meta", root);
    assert_int_equal(access(path, F_OK), -1); /* nothing was written */

    write_bytes(path, "SOMETHNG\1\0\0\0\0\0\0\0", 16);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_ECORRUPT);
    write_bytes(path, "KLEPTODR\2\0\0\0\0\0\0\0", 16);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EVERSION);
    assert_non_null(strstr(kl_errmsg(), "version 2"));

    /* one entry from a newer format version */
    snprintf(root, sizeof root, "%s/newer", tmp);
    make_archive(root);
    const char *e = entry_path(root, 4);
    size_t n = 0;
    unsigned char *d = (unsigned char *)kt_slurp(e, &n);
    assert_non_null(d);
    d[4] = 2;
    uint64_t h = XXH3_64bits(d, 56);
    for (int i = 0; i < 8; i++)
        d[56 + i] = (unsigned char)(h >> (8 * i));
    write_bytes(e, d, n);
    free(d);
    snprintf(url, sizeof url, "dir:%s", root);
    KT_OK(kl_archive_open(&ar, url, NULL));
    assert_int_equal(get_rc(ar, 4), KL_EVERSION);
    assert_int_equal(get_rc(ar, 5), 0);
    KT_OK(kl_archive_close(ar));

    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    snprintf(url, sizeof url, "dir:%s/missing", tmp);
    assert_int_equal(kl_archive_open(&ar, url, &o), KL_ENOTFOUND);
    snprintf(path, sizeof path, "%s/afile", tmp);
    write_bytes(path, "x", 1);
    snprintf(url, sizeof url, "dir:%s/afile", tmp);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
    snprintf(url, sizeof url, "dir:%s/x?compression=lz4", tmp);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
    snprintf(url, sizeof url, "dir:%s/x?compression=zstd&level=99", tmp);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
}

static void permission_denied(void **st)
{
    (void)st;
    kl_archive *ar = NULL;
    /* fails for root too: sysfs refuses new folders */
    if (access("/sys", F_OK) == 0) {
        assert_int_equal(kl_archive_open(&ar, "dir:/sys/klepto-test/a", NULL), KL_EPERM);
        assert_non_null(strstr(kl_errmsg(), "/sys/klepto-test"));
    }
    if (geteuid() == 0)
        return; /* root ignores folder modes: the check below cannot fail */
    char root[512], url[600];
    snprintf(root, sizeof root, "%s/locked", tmp);
    make_archive(root);
    chmod(root, 0500);
    snprintf(url, sizeof url, "dir:%s", root);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EPERM);
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = true;
    KT_OK(kl_archive_open(&ar, url, &o));
    assert_int_equal(get_rc(ar, 1), 0);
    KT_OK(kl_archive_close(ar));
    chmod(root, 0700);
}

static int count_files(const char *root)
{
    char cmd[700];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "find '%s' -type f | wc -l", root);
    assert_int_equal(kt_run(cmd, &out), 0);
    int n = atoi(out);
    free(out);
    return n;
}

static void disk_full_is_an_error_and_loses_nothing(void **st)
{
    (void)st;
    char root[512], url[600];
    snprintf(root, sizeof root, "%s/full", tmp);
    make_archive(root);
    int files = count_files(root);
    snprintf(url, sizeof url, "dir:%s", root);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char k[64], v[VLEN];
    size_t kl = kt_key(k, 5, 0);
    memset(v, 9, sizeof v);
    /* A full disk, through the fault: wrapper (tests/support), which fails
     * the put before it reaches dir: ... */
    char *furl = kt_fault_url("put=1,ENOSPC", url);
    kl_archive *far = NULL;
    KT_OK(kl_archive_open(&far, furl, NULL));
    free(furl);
    int rc = kl_archive_put(far, k, kl, v, VLEN); /* replacing entry 5 */
    assert_int_equal(rc, KL_ENOSPC);
    assert_non_null(strstr(kl_errmsg(), root));
    KT_OK(kl_archive_close(far));
    /* ... and the write of the entry file cut short after 100 bytes, which
     * the wrapper cannot reach: a real file-size limit (EFBIG, KL_EIO) */
    kt_fsize_limit(100);
    rc = kl_archive_put(ar, k, kl, v, VLEN);
    kt_fsize_unlimit();
    assert_int_equal(rc, KL_EIO);
    assert_non_null(strstr(kl_errmsg(), root));
    assert_int_equal(count_files(root), files); /* no temporary file left */
    for (int i = 0; i < NENT; i++)
        assert_int_equal(get_rc(ar, i), 0); /* 5 still has its old value */
    size_t problems = 1;
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    KT_OK(kl_archive_close(ar));
}

/* Random damage to entry files (flipped bytes, cuts, garbage appended)
 * never makes a read return a wrong value; verify --repair ends clean. */
static void random_damage_is_never_misread(void **st)
{
    (void)st;
    char root[512], url[600];
    snprintf(root, sizeof root, "%s/random", tmp);
    unsigned seed = 777;
    /* KLEPTO_TEST_LONG=1 (`make test-long`): ten times as many rounds */
    for (int round = 0; round < (kt_long() ? 200 : 20); round++) {
        make_archive(root); /* rewrites every entry */
        for (int j = 0; j < 5; j++) {
            const char *e = entry_path(root, (int)(rand_r(&seed) % NENT));
            size_t n = 0;
            char *d = kt_slurp(e, &n);
            assert_non_null(d);
            int kind = rand_r(&seed) % 3;
            if (kind == 0)
                d[rand_r(&seed) % n] ^= (char)(1 + rand_r(&seed) % 255);
            else if (kind == 1)
                n = rand_r(&seed) % n;
            FILE *f = fopen(e, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(d, 1, n, f), n);
            if (kind == 2)
                fputs("trailing garbage", f);
            fclose(f);
            free(d);
        }
        snprintf(url, sizeof url, "dir:%s", root);
        kl_archive *ar = NULL;
        KT_OK(kl_archive_open(&ar, url, NULL));
        bool intact[NENT];
        for (int i = 0; i < NENT; i++) {
            int rc = get_rc(ar, i);
            if (rc != 0 && rc != KL_ECORRUPT)
                fail_msg("round %d: entry %d: %d %s", round, i, rc, kl_errmsg());
            intact[i] = rc == 0;
        }
        size_t problems = 0, n = 0, readable = 0;
        KT_OK(kl_archive_verify(ar, true, NULL, &problems));
        KT_OK(kl_archive_verify(ar, false, NULL, &problems));
        assert_int_equal(problems, 0);
        KT_OK(kl_archive_count(ar, &n));
        for (int i = 0; i < NENT; i++) {
            int rc = get_rc(ar, i);
            readable += rc == 0;
            /* repair removes only what did not read back */
            if (intact[i] && rc != 0)
                fail_msg("round %d: repair removed entry %d, which read back intact", round, i);
        }
        assert_int_equal(readable, n);
        KT_OK(kl_archive_close(ar));
    }
}

static void large_arrays_are_mapped_aligned_and_compression_shrinks(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "dir:%s/z?compression=zstd", tmp);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t vl;
    const unsigned char *text = kt_sample(17, &vl); /* 200 kB of "abcab..." */
    KT_OK(kl_archive_put(ar, "t", 1, text, vl));
    kl_entry_info info;
    KT_OK(kl_archive_stat(ar, "t", 1, &info));
    assert_int_equal(info.size, 1 + vl);
    char path[700], cmd[800];
    snprintf(cmd, sizeof cmd, "du -sb '%s/z' | cut -f1", tmp);
    char *out = NULL;
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_true(strtoull(out, NULL, 10) < vl / 10);
    free(out);
    const unsigned char *arr = kt_sample(19, &vl); /* 1.6 MB float64 */
    KT_OK(kl_archive_put(ar, "a", 1, arr, vl));
    kl_view *v = NULL;
    KT_OK(kl_archive_get_view(ar, "a", 1, &v));
    assert_true(kl_view_is_mapped(v));
    assert_int_equal((uintptr_t)kl_view_data(v) % 64, 0);
    assert_int_equal(kl_view_shape(v)[0], 200000);
    assert_true(((const double *)kl_view_data(v))[3] == 1.0);
    /* deleted meanwhile: the view stays valid */
    KT_OK(kl_archive_del(ar, "a", 1));
    assert_true(((const double *)kl_view_data(v))[199999] == 199999 / 3.0);
    kl_view_release(v);
    (void)path;
    KT_OK(kl_archive_drop(ar));
}

/* The other tests run in a tmpfs when there is one (they create many
 * files; a busy disk makes that slow without testing anything more); this
 * one checks the real disk, with every put fsynced. */
static char *disk_tmp;
static void on_disk_with_full_sync(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "%s:%s/%s?sync=full", "dir", disk_tmp, "d");
    kt_suite_overwrite_del(url, KT_ARCH_PERSISTENT);
    kt_suite_persist(url, KT_ARCH_PERSISTENT);
}

int main(void)
{
    disk_tmp = kt_tmpdir("disk");
    kt_tempdir_prefer_memory();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(on_disk_with_full_sync),
        cmocka_unit_test(conformance_normal),
        cmocka_unit_test(conformance_none),
        cmocka_unit_test(conformance_full),
        cmocka_unit_test(damaged_entries_report_corrupt_and_repair_drops_them),
        cmocka_unit_test(entry_of_another_key_is_a_miss),
        cmocka_unit_test(refuses_folders_that_are_not_archives_and_newer_versions),
        cmocka_unit_test(permission_denied),
        cmocka_unit_test(disk_full_is_an_error_and_loses_nothing),
        cmocka_unit_test(random_damage_is_never_misread),
        cmocka_unit_test(large_arrays_are_mapped_aligned_and_compression_shrinks),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    kt_rmrf(disk_tmp);
    free(disk_tmp);
    return rc;
}
