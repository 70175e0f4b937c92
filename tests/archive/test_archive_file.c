/* SPDX-License-Identifier: BSD-3-Clause */
/* file: — conformance in every durability mode, the log format's promises
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
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

static char *tmp;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&tmp, "file");
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
    snprintf(u, sizeof u, "file:%s/%s%s", tmp, name, query);
    return u;
}

static void conformance_normal(void **st)
{
    (void)st;
    kt_archive_suite(url_of("a.kle", ""), KT_ARCH_PERSISTENT | KT_ARCH_DROP);
}
static void conformance_none(void **st)
{
    (void)st;
    kt_archive_suite(url_of("b.kle", "?sync=none"), KT_ARCH_PERSISTENT | KT_ARCH_DROP);
}
static void conformance_full(void **st)
{
    (void)st;
    kt_archive_suite(url_of("c.kle", "?sync=full&autocompact=0"), KT_ARCH_PERSISTENT | KT_ARCH_DROP);
}

enum { NREC = 100, VLEN = 200 };

/* a CBOR byte string (so verify's decoding check passes) of VLEN bytes */
static void fill_value(unsigned char *v, int i)
{
    v[0] = 0x59;
    v[1] = (unsigned char)((VLEN - 3) >> 8);
    v[2] = (unsigned char)(VLEN - 3);
    for (int j = 3; j < VLEN; j++)
        v[j] = (unsigned char)(i * 7 + j);
}

/* Writes NREC entries; offs[i] gets the byte offset of record i. */
static void make_archive(const char *path, uint64_t *offs)
{
    char url[600];
    snprintf(url, sizeof url, "file:%s", path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char k[64], v[VLEN];
    uint64_t off = 64;
    for (int i = 0; i < NREC; i++) {
        size_t kl = kt_key(k, i, 0);
        fill_value(v, i);
        KT_OK(kl_archive_put(ar, k, kl, v, VLEN));
        offs[i] = off;
        off += 64 + kl + VLEN;
    }
    KT_OK(kl_archive_close(ar));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, off);
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *d = kt_slurp(from, &n);
    assert_non_null(d);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
    free(d);
}

static void flip(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
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
    char orig[512], bad[512], url[600];
    uint64_t offs[NREC];
    snprintf(orig, sizeof orig, "%s/orig.kle", tmp);
    snprintf(bad, sizeof bad, "%s/bad.kle", tmp);
    make_archive(orig, offs);
    copy_file(orig, bad);
    size_t kl = kt_key((unsigned char[64]){0}, 10, 0);
    flip(bad, offs[10] + 64 + kl + 5); /* value byte */
    flip(bad, offs[20] + 64 + 2);      /* key byte */
    snprintf(url, sizeof url, "file:%s", bad);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 0; i < NREC; i++)
        assert_int_equal(get_rc(ar, i), (i == 10 || i == 20) ? KL_ECORRUPT : 0);
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    assert_int_equal(problems, 2);
    char want[64];
    snprintf(want, sizeof want, "record at byte %llu)", (unsigned long long)offs[10]);
    assert_non_null(strstr(kl_buf_cstr(&rep), want));
    snprintf(want, sizeof want, "record at byte %llu)", (unsigned long long)offs[20]);
    assert_non_null(strstr(kl_buf_cstr(&rep), want));
    assert_null(strstr(kl_buf_cstr(&rep), "dropped"));
    /* a failed check changed nothing */
    struct stat st1, st2;
    assert_int_equal(stat(orig, &st1), 0);
    assert_int_equal(stat(bad, &st2), 0);
    assert_int_equal(st1.st_size, st2.st_size);

    kl_buf_reset(&rep);
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 2);
    assert_non_null(strstr(kl_buf_cstr(&rep), "dropped"));
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NREC - 2);
    for (int i = 0; i < NREC; i++)
        assert_int_equal(get_rc(ar, i), (i == 10 || i == 20) ? KL_ENOTFOUND : 0);
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
}

static void damaged_header_loses_only_that_entry(void **st)
{
    (void)st;
    char orig[512], bad[512], url[600];
    uint64_t offs[NREC];
    snprintf(orig, sizeof orig, "%s/orig2.kle", tmp);
    snprintf(bad, sizeof bad, "%s/bad2.kle", tmp);
    make_archive(orig, offs);
    copy_file(orig, bad);
    flip(bad, offs[30] + 20); /* inside the record header */
    snprintf(url, sizeof url, "file:%s", bad);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 0; i < NREC; i++)
        assert_int_equal(get_rc(ar, i), i == 30 ? KL_ENOTFOUND : 0);
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&rep), "unreadable"));
    KT_OK(kl_archive_verify(ar, true, NULL, &problems));
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
}

static void torn_last_record_is_ignored_then_cut(void **st)
{
    (void)st;
    char orig[512], bad[512], url[600];
    uint64_t offs[NREC];
    snprintf(orig, sizeof orig, "%s/orig3.kle", tmp);
    snprintf(bad, sizeof bad, "%s/bad3.kle", tmp);
    make_archive(orig, offs);
    for (uint64_t cut = 1; cut < 64 + 30 + VLEN; cut += 37) {
        copy_file(orig, bad);
        assert_int_equal(truncate(bad, (off_t)(offs[NREC - 1] + cut)), 0);
        snprintf(url, sizeof url, "file:%s", bad);
        kl_archive *ar = NULL;
        /* read-only: the file does not end at a record boundary, a
         * problem for verify (it used to be reported only) */
        kl_archive_opts ro = KL_ARCHIVE_OPTS_INIT;
        ro.read_only = true;
        size_t problems = 0, n = 0;
        KT_OK(kl_archive_open(&ar, url, &ro));
        for (int i = 0; i < NREC; i++)
            assert_int_equal(get_rc(ar, i), i == NREC - 1 ? KL_ENOTFOUND : 0);
        KT_OK(kl_archive_verify(ar, false, NULL, &problems));
        assert_int_equal(problems, 1);
        KT_OK(kl_archive_close(ar));
        /* a writer's open cuts the torn tail off (recovery): clean */
        KT_OK(kl_archive_open(&ar, url, NULL));
        for (int i = 0; i < NREC; i++)
            assert_int_equal(get_rc(ar, i), i == NREC - 1 ? KL_ENOTFOUND : 0);
        KT_OK(kl_archive_verify(ar, false, NULL, &problems));
        assert_int_equal(problems, 0);
        unsigned char k[64], v[VLEN];
        size_t kl = kt_key(k, NREC - 1, 0);
        fill_value(v, NREC - 1);
        KT_OK(kl_archive_put(ar, k, kl, v, VLEN));
        KT_OK(kl_archive_close(ar));
        KT_OK(kl_archive_open(&ar, url, NULL));
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, NREC);
        for (int i = 0; i < NREC; i++)
            assert_int_equal(get_rc(ar, i), 0);
        KT_OK(kl_archive_close(ar));
    }
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void other_format_and_newer_version_are_refused(void **st)
{
    (void)st;
    char path[512], url[600];
    kl_archive *ar = NULL;
    snprintf(path, sizeof path, "%s/text.kle", tmp);
    write_bytes(path, "just some text, not an archive at all........................"
                      "...............", 77);
    snprintf(url, sizeof url, "file:%s", path);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), path));
    assert_non_null(strstr(kl_errmsg(), "not a klepto file"));

    unsigned char h[64] = "KLEPTOFL";
    h[8] = 2; /* version 2 */
    h[12] = 64;
    uint64_t x = XXH3_64bits(h, 56);
    for (int i = 0; i < 8; i++)
        h[56 + i] = (unsigned char)(x >> (8 * i));
    snprintf(path, sizeof path, "%s/v2.kle", tmp);
    write_bytes(path, h, sizeof h);
    snprintf(url, sizeof url, "file:%s", path);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EVERSION);
    assert_non_null(strstr(kl_errmsg(), "version 2"));
    /* the refused file was not modified */
    size_t n = 0;
    char *d = kt_slurp(path, &n);
    assert_int_equal(n, 64);
    assert_memory_equal(d, h, 64);
    free(d);

    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    snprintf(url, sizeof url, "file:%s/missing.kle", tmp);
    assert_int_equal(kl_archive_open(&ar, url, &o), KL_ENOTFOUND);
    snprintf(url, sizeof url, "file:%s", tmp); /* a folder */
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
}

static void permission_denied(void **st)
{
    (void)st;
    kl_archive *ar = NULL;
    /* fails for root too: sysfs refuses new files */
    if (access("/sys/kernel", F_OK) == 0) {
        assert_int_equal(kl_archive_open(&ar, "file:/sys/kernel/klepto-test.kle", NULL),
                         KL_EPERM);
        assert_non_null(strstr(kl_errmsg(), "/sys/kernel/klepto-test.kle"));
    }
    if (geteuid() == 0)
        return; /* root ignores file modes: the check below cannot fail */
    char path[512], url[600];
    snprintf(path, sizeof path, "%s/locked.kle", tmp);
    snprintf(url, sizeof url, "file:%s", path);
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_close(ar));
    assert_int_equal(chmod(path, 0), 0);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EPERM);
    chmod(path, 0644);
}

static void disk_full_is_an_error_and_loses_nothing(void **st)
{
    (void)st;
    char path[512], url[600];
    uint64_t offs[NREC];
    snprintf(path, sizeof path, "%s/full.kle", tmp);
    make_archive(path, offs);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    snprintf(url, sizeof url, "file:%s", path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    unsigned char k[64], big[5000];
    memset(big, 7, sizeof big);
    big[0] = 0x59; /* a CBOR byte string */
    big[1] = (sizeof big - 3) >> 8;
    big[2] = (sizeof big - 3) & 0xff;
    size_t kl = kt_key(k, 5000, 0);
    /* A full disk, through the fault: wrapper (tests/support), which fails
     * the put before it reaches file: ... */
    char *furl = kt_fault_url("put=1,ENOSPC", url);
    kl_archive *far = NULL;
    KT_OK(kl_archive_open(&far, furl, NULL));
    free(furl);
    int rc = kl_archive_put(far, k, kl, big, sizeof big);
    assert_int_equal(rc, KL_ENOSPC);
    assert_non_null(strstr(kl_errmsg(), path));
    KT_OK(kl_archive_close(far));
    /* ... and the record's append cut short after 1000 bytes, which the
     * wrapper cannot reach: a real file-size limit (EFBIG, KL_EIO) */
    kt_fsize_limit((uint64_t)before.st_size + 1000);
    rc = kl_archive_put(ar, k, kl, big, sizeof big);
    kt_fsize_unlimit();
    assert_int_equal(rc, KL_EIO);
    assert_non_null(strstr(kl_errmsg(), path));
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_size, before.st_size); /* no partial record left */
    for (int i = 0; i < NREC; i++)
        assert_int_equal(get_rc(ar, i), 0);
    assert_int_equal(kl_archive_contains(ar, k, kl), 0);
    /* compaction into a full disk fails cleanly too */
    furl = kt_fault_url("compact=1,ENOSPC", url);
    KT_OK(kl_archive_open(&far, furl, NULL));
    free(furl);
    assert_int_equal(kl_archive_compact(far), KL_ENOSPC);
    KT_OK(kl_archive_close(far));
    kt_fsize_limit(100); /* the new file's write cut short after 100 bytes */
    assert_int_equal(kl_archive_compact(ar), KL_EIO);
    kt_fsize_unlimit();
    for (int i = 0; i < NREC; i++)
        assert_int_equal(get_rc(ar, i), 0);
    KT_OK(kl_archive_put(ar, k, kl, big, sizeof big));
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n = 0, problems = 1;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NREC + 1);
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    KT_OK(kl_archive_close(ar));
}

/* two handles (as two processes would) see each other's appends, and a
 * compaction by one is followed by the other */
static void other_handles_appends_and_compaction_are_seen(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/two.kle", tmp);
    kl_archive *a = NULL, *b = NULL;
    KT_OK(kl_archive_open(&a, url, NULL));
    KT_OK(kl_archive_open(&b, url, NULL));
    unsigned char k[64];
    for (int i = 0; i < 100; i++) {
        size_t kl = kt_key(k, i, 9);
        KT_OK(kl_archive_put(a, k, kl, k, kl));
        KT_OK(kl_archive_put(a, k, kl, k, kl)); /* garbage */
    }
    size_t n = 0;
    KT_OK(kl_archive_count(b, &n));
    assert_int_equal(n, 100);
    kl_buf d = KL_BUF_INIT;
    KT_OK(kl_archive_compact(a));
    KT_OK(kl_archive_describe(a, &d));
    assert_non_null(strstr(kl_buf_cstr(&d), "garbage_bytes=0\n"));
    size_t kl = kt_key(k, 1000, 9);
    KT_OK(kl_archive_put(b, k, kl, "x", 1)); /* b follows the new file */
    assert_int_equal(kl_archive_contains(a, k, kl), 1);
    KT_OK(kl_archive_del(a, k, kl));
    assert_int_equal(kl_archive_contains(b, k, kl), 0);
    KT_OK(kl_archive_clear(b));
    KT_OK(kl_archive_count(a, &n));
    assert_int_equal(n, 0);
    kl_buf_free(&d);
    KT_OK(kl_archive_close(a));
    KT_OK(kl_archive_close(b));
}

static void repair_removes_a_killed_compactions_leftover(void **st)
{
    (void)st;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0); /* a pid whose process is gone */
    char url[600], left[600];
    snprintf(url, sizeof url, "file:%s/lo.kle", tmp);
    snprintf(left, sizeof left, "%s/lo.kle.compact.%d", tmp, (int)pid);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x02", 1));
    write_bytes(left, "partial", 7);
    size_t problems = 1;
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    assert_int_equal(access(left, F_OK), 0);
    kl_buf rep = KL_BUF_INIT;
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 0);
    assert_int_equal(access(left, F_OK), -1);
    assert_non_null(strstr(kl_buf_cstr(&rep), "leftover"));
    kl_buf_free(&rep);
    KT_OK(kl_archive_close(ar));
}

/* Random damage (flipped bytes, cuts, garbage spliced in) never makes a
 * read return a wrong value: each get gives the original value,
 * KL_ECORRUPT or KL_ENOTFOUND; verify --repair always ends clean. */
static void random_damage_is_never_misread(void **st)
{
    (void)st;
    char orig[512], bad[512], url[600];
    uint64_t offs[NREC];
    snprintf(orig, sizeof orig, "%s/orig4.kle", tmp);
    snprintf(bad, sizeof bad, "%s/bad4.kle", tmp);
    make_archive(orig, offs);
    size_t olen = 0;
    char *odata = kt_slurp(orig, &olen);
    assert_non_null(odata);
    unsigned seed = 12345;
    for (int round = 0; round < 150; round++) {
        char *d = malloc(olen + 64);
        assert_non_null(d);
        memcpy(d, odata, olen);
        size_t len = olen;
        int kind = round % 3;
        if (kind == 0) { /* flip a few bytes after the file header */
            for (int i = 0; i < 1 + round % 4; i++)
                d[64 + rand_r(&seed) % (len - 64)] ^= (char)(1 + rand_r(&seed) % 255);
        } else if (kind == 1) { /* cut */
            len = 64 + rand_r(&seed) % (len - 64);
        } else { /* garbage over a stretch */
            size_t at = 64 + rand_r(&seed) % (len - 128), n = 1 + rand_r(&seed) % 60;
            for (size_t i = 0; i < n; i++)
                d[at + i] = (char)rand_r(&seed);
        }
        write_bytes(bad, d, len);
        free(d);
        snprintf(url, sizeof url, "file:%s", bad);
        kl_archive *ar = NULL;
        KT_OK(kl_archive_open(&ar, url, NULL));
        for (int i = 0; i < NREC; i++) {
            int rc = get_rc(ar, i); /* a value that comes back is checked equal */
            if (rc != 0 && rc != KL_ECORRUPT && rc != KL_ENOTFOUND)
                fail_msg("round %d: entry %d: %d %s", round, i, rc, kl_errmsg());
        }
        size_t problems = 0, n = 0;
        KT_OK(kl_archive_verify(ar, true, NULL, &problems));
        KT_OK(kl_archive_verify(ar, false, NULL, &problems));
        assert_int_equal(problems, 0);
        KT_OK(kl_archive_count(ar, &n));
        size_t readable = 0;
        for (int i = 0; i < NREC; i++)
            readable += get_rc(ar, i) == 0;
        assert_int_equal(readable, n);
        KT_OK(kl_archive_close(ar));
    }
    free(odata);
}

/* records larger than the scanner's read-ahead, between small ones */
static void huge_records_survive_reopen(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/huge.kle", tmp);
    size_t n = 10u << 20;
    unsigned char *big = malloc(n);
    assert_non_null(big);
    big[0] = 0x5a; /* a CBOR byte string of n - 5 bytes */
    for (int i = 0; i < 4; i++)
        big[1 + i] = (unsigned char)((n - 5) >> (24 - 8 * i));
    for (size_t i = 5; i < n; i++)
        big[i] = (unsigned char)(i * 31);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x01", 1));
    KT_OK(kl_archive_put(ar, "\x02", 1, big, n));
    KT_OK(kl_archive_put(ar, "\x03", 1, "\x03", 1));
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t c = 0, problems = 1;
    KT_OK(kl_archive_count(ar, &c));
    assert_int_equal(c, 3);
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "\x02", 1, &v));
    assert_int_equal(v.len, n);
    assert_memory_equal(v.data, big, n);
    KT_OK(kl_archive_get(ar, "\x03", 1, &v));
    assert_int_equal(v.len, 1);
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    kl_buf_free(&v);
    free(big);
    KT_OK(kl_archive_drop(ar));
}

/* a relative path names the file in the folder current at open */
static void relative_path_survives_chdir(void **st)
{
    (void)st;
    char *cwd = getcwd(NULL, 0), path[600];
    assert_int_equal(chdir(tmp), 0);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, "file:rel.kle", NULL));
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x02", 1));
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x03", 1));
    assert_int_equal(chdir("/"), 0);
    KT_OK(kl_archive_compact(ar));
    assert_int_equal(kl_archive_contains(ar, "\x01", 1), 1);
    snprintf(path, sizeof path, "%s/rel.kle", tmp);
    assert_int_equal(access(path, F_OK), 0);
    KT_OK(kl_archive_drop(ar));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
}

static void bad_options(void **st)
{
    (void)st;
    kl_archive *ar = NULL;
    char url[600];
    snprintf(url, sizeof url, "file:%s/o.kle?autocompact=2", tmp);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
    snprintf(url, sizeof url, "file:%s/o.kle?compression=zstd", tmp);
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "compression"));
    assert_int_equal(kl_archive_open(&ar, "file:", NULL), KL_EINVAL);
}

/* The other tests run in a tmpfs when there is one (they create many
 * files; a busy disk makes that slow without testing anything more); this
 * one checks the real disk, with every put fsynced. */
static char *disk_tmp;
static void on_disk_with_full_sync(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "%s:%s/%s?sync=full", "file", disk_tmp, "d.kle");
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
        cmocka_unit_test(damaged_header_loses_only_that_entry),
        cmocka_unit_test(torn_last_record_is_ignored_then_cut),
        cmocka_unit_test(other_format_and_newer_version_are_refused),
        cmocka_unit_test(permission_denied),
        cmocka_unit_test(disk_full_is_an_error_and_loses_nothing),
        cmocka_unit_test(other_handles_appends_and_compaction_are_seen),
        cmocka_unit_test(repair_removes_a_killed_compactions_leftover),
        cmocka_unit_test(random_damage_is_never_misread),
        cmocka_unit_test(huge_records_survive_reopen),
        cmocka_unit_test(relative_path_survives_chdir),
        cmocka_unit_test(bad_options),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    kt_rmrf(disk_tmp);
    free(disk_tmp);
    return rc;
}
