/* SPDX-License-Identifier: BSD-3-Clause */
/* The damage sweep of file: archives: one byte of a sound archive changed,
 * at every offset (KLEPTO_TEST_LONG=1, three different changes each) or
 * at every 7th (`make test`).  For each damaged copy:
 *
 *  - opening succeeds, or fails with KL_ECORRUPT (the file header);
 *  - every key reads back its value, or KL_ECORRUPT / KL_ENOTFOUND: never
 *    another value, and at most one entry is lost to one byte;
 *  - verify reports a problem whenever an entry was lost;
 *  - verify --repair leaves an archive verify finds clean, in which every
 *    entry that read back before the repair still reads back, also after
 *    reopening.
 *
 * And what verify says of the leftovers of killed writers: a tail cut
 * short, a compaction's temporary file. */
#define _GNU_SOURCE
#include "testutil.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { N = 24 };

static char *tmp;

static int setup(void **st)
{
    (void)st;
    kt_tempdir_prefer_memory();
    return kt_tempdir_make(&tmp, "fdmg");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

static size_t key_of(int i, uint8_t *k)
{
    k[0] = 0x18;
    k[1] = (uint8_t)i;
    return 2;
}
static size_t value_of(int i, uint8_t *v)
{
    size_t n = 3 + (size_t)(i * 37 % 90);
    v[0] = 0x58; /* CBOR bytes, 1-byte length */
    v[1] = (uint8_t)(n - 2);
    for (size_t j = 2; j < n; j++)
        v[j] = (uint8_t)(i * 31 + (int)j);
    return n;
}

/* 0: intact; 1: not readable (KL_ECORRUPT or KL_ENOTFOUND); fails the
 * test on a wrong value or another error. */
static int read_back(kl_archive *ar, int i, const char *what)
{
    uint8_t k[4], v[100];
    size_t kl = key_of(i, k), vl = value_of(i, v);
    kl_buf got = KL_BUF_INIT;
    int rc = kl_archive_get(ar, k, kl, &got);
    int res = 1;
    if (rc == 0) {
        if (got.len != vl || memcmp(got.data, v, vl))
            fail_msg("%s: entry %d reads back a wrong value", what, i);
        res = 0;
    } else if (rc != KL_ECORRUPT && rc != KL_ENOTFOUND) {
        fail_msg("%s: entry %d: %s: %s", what, i, kl_strerror(rc), kl_errmsg());
    }
    kl_buf_free(&got);
    return res;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* One damaged copy through the checks; 1 when it opened. */
static int one_copy(const char *path, const char *what)
{
    char url[700];
    snprintf(url, sizeof url, "file:%s", path);
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, url, NULL);
    if (rc == KL_ECORRUPT)
        return 0;
    if (rc)
        fail_msg("%s: open: %s: %s", what, kl_strerror(rc), kl_errmsg());
    bool intact[N];
    int lost = 0;
    for (int i = 0; i < N; i++) {
        intact[i] = read_back(ar, i, what) == 0;
        lost += !intact[i];
    }
    if (lost > 1)
        fail_msg("%s: %d entries lost to one byte", what, lost);
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    if (lost && !problems)
        fail_msg("%s: an entry is lost and verify says nothing", what);
    KT_OK(kl_archive_verify(ar, true, NULL, &problems));
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    if (problems)
        fail_msg("%s: %zu problems left after repair", what, problems);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++)
            if (intact[i] && read_back(ar, i, what))
                fail_msg("%s: repair %s removed entry %d, which read back intact", what,
                         pass ? "(after reopening)" : "", i);
        KT_OK(kl_archive_close(ar));
        ar = NULL;
        if (!pass)
            KT_OK(kl_archive_open(&ar, url, NULL));
    }
    return 1;
}

static void every_damaged_byte(void **st)
{
    (void)st;
    char clean[600], path[600], url[700], what[800];
    snprintf(clean, sizeof clean, "%s/clean.kle", tmp);
    snprintf(path, sizeof path, "%s/damaged.kle", tmp);
    snprintf(url, sizeof url, "file:%s", clean);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 0; i < N; i++) {
        uint8_t k[4], v[100];
        size_t kl = key_of(i, k), vl = value_of(i, v);
        KT_OK(kl_archive_put(ar, k, kl, v, vl));
    }
    KT_OK(kl_archive_close(ar));
    size_t size = 0;
    char *orig = kt_slurp(clean, &size);
    assert_non_null(orig);
    char *copy = malloc(size);
    assert_non_null(copy);
    static const uint8_t changes[] = {0xff, 0x01, 0x80};
    bool full = kt_long();
    size_t step = full ? 1 : 7, copies = 0, opened = 0;
    for (size_t off = 0; off < size; off += step) {
        for (size_t c = 0; c < (full ? 3u : 1u); c++) {
            uint8_t x = changes[full ? c : off % 3];
            memcpy(copy, orig, size);
            copy[off] = (char)(copy[off] ^ x);
            unlink(path);
            write_file(path, copy, size);
            snprintf(what, sizeof what, "byte %zu of %zu ^ 0x%02x", off, size, x);
            opened += (size_t)one_copy(path, what);
            copies++;
        }
    }
    print_message("file: %zu damaged copies checked (%zu opened, the rest refused as corrupt)\n",
                  copies, opened);
    assert_true(opened > copies / 2);
    free(copy);
    free(orig);
}

static void make_clean(const char *path)
{
    char url[700];
    snprintf(url, sizeof url, "file:%s", path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 0; i < N; i++) {
        uint8_t k[4], v[100];
        size_t kl = key_of(i, k), vl = value_of(i, v);
        KT_OK(kl_archive_put(ar, k, kl, v, vl));
    }
    KT_OK(kl_archive_close(ar));
}

/* verify's report and problem count, read-write handle */
static size_t verify_says(const char *path, bool repair, kl_buf *rep)
{
    char url[700];
    snprintf(url, sizeof url, "file:%s", path);
    kl_archive *ar = NULL;
    /* as `klepto verify` does: read-only unless repairing */
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = !repair;
    KT_OK(kl_archive_open(&ar, url, &o));
    size_t problems = 99;
    kl_buf_reset(rep);
    KT_OK(kl_archive_verify(ar, repair, rep, &problems));
    KT_OK(kl_archive_close(ar));
    return problems;
}

/* A file cut short inside its last record: verify names the bytes after
 * the last whole record and counts them as a problem (the file does not
 * end at a record boundary; it used to be reported only); --repair (a
 * writer: its open recovers the file) cuts them off and says so; then
 * nothing is said. */
static void a_tail_cut_short_is_reported(void **st)
{
    (void)st;
    char path[600];
    snprintf(path, sizeof path, "%s/cut.kle", tmp);
    make_clean(path);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    off_t cut = sb.st_size - 10;
    assert_int_equal(truncate(path, cut), 0);
    kl_buf rep = KL_BUF_INIT;
    assert_int_equal(verify_says(path, false, &rep), 1);
    if (!strstr(kl_buf_cstr(&rep), "bytes after the last whole record"))
        fail_msg("verify says nothing of the cut tail: '%s'", kl_buf_cstr(&rep));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, cut); /* checking changed nothing */
    assert_int_equal(verify_says(path, true, &rep), 0);
    if (!strstr(kl_buf_cstr(&rep), "were cut off when this handle opened the file"))
        fail_msg("verify --repair does not say it cut the tail: '%s'", kl_buf_cstr(&rep));
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size < cut);
    assert_int_equal(verify_says(path, false, &rep), 0);
    assert_int_equal(rep.len, 0);
    kl_buf_free(&rep);
}

/* A file cut exactly at a record boundary (the last record dropped whole)
 * is a clean, shorter archive: verify finds nothing; the cut inside a
 * record one byte further is a problem. */
static void a_cut_at_a_record_boundary_is_clean(void **st)
{
    (void)st;
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/boundary.kle", tmp);
    make_clean(path);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    /* the end of the second-to-last record: where an empty verify of the
     * file cut one byte short of it says the last whole record ends */
    assert_int_equal(truncate(path, sb.st_size - 1), 0);
    kl_buf rep = KL_BUF_INIT;
    assert_int_equal(verify_says(path, false, &rep), 1);
    const char *at = strstr(kl_buf_cstr(&rep), "after the last whole record (byte ");
    assert_non_null(at);
    long long boundary = atoll(at + strlen("after the last whole record (byte "));
    assert_true(boundary > 0 && boundary < sb.st_size);
    assert_int_equal(truncate(path, (off_t)boundary), 0);
    assert_int_equal(verify_says(path, false, &rep), 0);
    assert_int_equal(rep.len, 0);
    /* and the CLI's verify exits 0 on it, 1 on the torn one */
    snprintf(url, sizeof url, "file:%s", path);
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, true, "verify '%s'", url), 0);
    free(out);
    assert_int_equal(truncate(path, (off_t)boundary + 7), 0);
    assert_int_equal(kt_klepto(&out, true, "verify '%s'", url), 1);
    assert_non_null(strstr(out, "does not end at a record boundary"));
    free(out);
    kl_buf_free(&rep);
}

/* A compaction's temporary file whose process is gone: verify reports it
 * with its size, --repair removes it. */
static void a_killed_compaction_is_reported(void **st)
{
    (void)st;
    char path[600], left[700];
    snprintf(path, sizeof path, "%s/lc.kle", tmp);
    make_clean(path);
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    snprintf(left, sizeof left, "%s.compact.%d", path, (int)dead);
    char junk[123];
    memset(junk, 'j', sizeof junk);
    write_file(left, junk, sizeof junk);
    kl_buf rep = KL_BUF_INIT;
    assert_int_equal(verify_says(path, false, &rep), 0);
    if (!strstr(kl_buf_cstr(&rep), left) || !strstr(kl_buf_cstr(&rep), "123 bytes"))
        fail_msg("verify does not report %s and its size: '%s'", left, kl_buf_cstr(&rep));
    assert_int_equal(access(left, F_OK), 0);
    assert_int_equal(verify_says(path, true, &rep), 0);
    assert_non_null(strstr(kl_buf_cstr(&rep), "(removed)"));
    assert_int_equal(access(left, F_OK), -1);
    kl_buf_free(&rep);
}

/* A file that compaction replaced ends in a "moved" record; a copy of it
 * (here: a second name taken before the compaction) still opens, with the
 * entries it had, instead of reopening itself for ever (found by
 * fuzz_file_archive). */
static void a_copy_of_a_replaced_file_opens(void **st)
{
    (void)st;
    char path[600], old[600], url[700];
    snprintf(path, sizeof path, "%s/moved.kle", tmp);
    snprintf(old, sizeof old, "%s/moved-old.kle", tmp);
    make_clean(path);
    assert_int_equal(link(path, old), 0);
    snprintf(url, sizeof url, "file:%s", path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_compact(ar)); /* renames a new file over path; old gets "moved" */
    KT_OK(kl_archive_close(ar));
    snprintf(url, sizeof url, "file:%s", old);
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 0; i < N; i++)
        if (read_back(ar, i, "the replaced file's copy"))
            fail_msg("entry %d of the replaced file's copy does not read back", i);
    size_t problems = 9;
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    KT_OK(kl_archive_close(ar));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_damaged_byte),
        cmocka_unit_test(a_tail_cut_short_is_reported),
        cmocka_unit_test(a_cut_at_a_record_boundary_is_clean),
        cmocka_unit_test(a_killed_compaction_is_reported),
        cmocka_unit_test(a_copy_of_a_replaced_file_opens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
