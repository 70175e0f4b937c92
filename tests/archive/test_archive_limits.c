/* SPDX-License-Identifier: BSD-3-Clause */
/* Size limits on archives (archive.h, "Size limits"): ?max_entries= and
 * ?max_bytes= on every archive kind this build has (the server ones when
 * scripts/with-servers.sh gave their URLs): puts past a limit end within
 * it with the newest entries kept; bytes are storage where it can be
 * measured (many tiny entries of dir: take blocks); one entry larger than
 * the limit is refused with KL_ETOOBIG and nothing else goes; bad values
 * are KL_EINVAL at open; dir: cleaning from its handle's own knowledge
 * between walks still ends within the limit when another writes.  Each
 * put gets its own time from the test clock (kl__now_ns_set_fake), so
 * "newest" is exact. */
#define _GNU_SOURCE
#include "every_kind.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "archive/host.h"
#include "klepto.h"

static char *dir;
static int64_t t0;
static char *urls[16]; /* the archive URLs under test (heap), NULL-terminated */


static int setup(void **st)
{
    (void)st;
    if (kt_tempdir_make(&dir, "limits"))
        return -1;
    t0 = kl__now_ns() - INT64_C(3600) * 1000000000;
    kt_every_kind_urls(urls, sizeof urls / sizeof *urls, dir, "limits");
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    kt_every_kind_drop(urls);
    kl__now_ns_set_fake(0);
    kt_tempdir_remove(&dir);
    return 0;
}

static kl_archive *open_clear(const char *url)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_clear(ar));
    return ar;
}

/* Entry i: key "k<i>", a value of vlen bytes, stored at t0 + i ms. */
static int put_nth(kl_archive *ar, int i, size_t vlen)
{
    char key[32], val[4096];
    int kl = snprintf(key, sizeof key, "k%06d", i);
    memset(val, 'a' + i % 26, vlen);
    kl__now_ns_set_fake(t0 + (int64_t)i * 1000000);
    return kl_archive_put(ar, key, (size_t)kl, val, vlen);
}

static int has_nth(kl_archive *ar, int i)
{
    char key[32];
    int kl = snprintf(key, sizeof key, "k%06d", i);
    return kl_archive_contains(ar, key, (size_t)kl);
}

static void max_entries_keeps_the_newest(void **st)
{
    (void)st;
    for (size_t u = 0; urls[u]; u++) {
        char *url = kt_url_with(urls[u], "max_entries=50");
        kl_archive *ar = open_clear(url);
        for (int i = 0; i < 300; i++) {
            KT_OK(put_nth(ar, i, 10));
            size_t n = 0;
            if (i % 37 == 0) {
                KT_OK(kl_archive_count(ar, &n));
                assert_true(n <= 50);
            }
        }
        size_t n = 0;
        KT_OK(kl_archive_count(ar, &n));
        print_message("%s: %zu entries\n", kl_archive_url(ar), n);
        assert_true(n >= 45 && n <= 50);
        for (int i = 300 - (int)n; i < 300; i++) /* exactly the newest n */
            assert_int_equal(has_nth(ar, i), 1);
        KT_OK(kl_archive_close(ar));
        free(url);
    }
}

static void max_bytes_keeps_storage_within(void **st)
{
    (void)st;
    for (size_t u = 0; urls[u]; u++) {
        char *url = kt_url_with(urls[u], "max_bytes=256K");
        kl_archive *ar = open_clear(url);
        for (int i = 0; i < 400; i++)
            KT_OK(put_nth(ar, i, 1000));
        uint64_t bytes = 0;
        bool measured = false;
        KT_OK(kl_archive_storage_bytes(ar, &bytes, &measured));
        size_t n = 0;
        KT_OK(kl_archive_count(ar, &n));
        print_message("%s: %zu entries, %llu bytes (%s)\n", kl_archive_url(ar), n,
                      (unsigned long long)bytes,
                      measured ? "storage" : "key + value");
        assert_true(bytes <= 256 * 1024);
        assert_true(n >= 1 && n < 400);
        for (int i = 400 - (int)n; i < 400; i++)
            assert_int_equal(has_nth(ar, i), 1);
        KT_OK(kl_archive_close(ar));
        free(url);
    }
}

/* Tiny entries of dir: take a block each: the limit counts the blocks. */
static void dir_prunes_by_storage(void **st)
{
    (void)st;
    char *url;
    assert_true(asprintf(&url, "dir:%s/tiny", dir) > 0);
    kl_archive *ar = open_clear(url);
    for (int i = 0; i < 300; i++)
        KT_OK(put_nth(ar, i, 1));
    uint64_t storage = 0;
    bool measured = false;
    KT_OK(kl_archive_storage_bytes(ar, &storage, &measured));
    assert_true(measured);
    assert_true(storage >= 300 * 512); /* at least a sector each, not 300 * 9 bytes */
    KT_OK(kl_archive_close(ar));

    char *limited = kt_url_with(url, "max_bytes=64K");
    KT_OK(kl_archive_open(&ar, limited, NULL));
    KT_OK(put_nth(ar, 300, 1));
    KT_OK(kl_archive_storage_bytes(ar, &storage, NULL));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    print_message("%s: %zu entries, %llu bytes\n", limited, n, (unsigned long long)storage);
    assert_true(storage <= 64 * 1024);
    assert_true(n >= 1 && n < 300);
    for (int i = 301 - (int)n; i <= 300; i++)
        assert_int_equal(has_nth(ar, i), 1);
    KT_OK(kl_archive_drop(ar));
    free(limited);
    free(url);
}

static void entry_larger_than_the_limit_is_refused(void **st)
{
    (void)st;
    for (size_t u = 0; urls[u]; u++) {
        kl_archive *ar = open_clear(urls[u]);
        KT_OK(put_nth(ar, 0, 10));
        KT_OK(put_nth(ar, 1, 10));
        KT_OK(kl_archive_close(ar));
        char *url = kt_url_with(urls[u], "max_bytes=300K");
        KT_OK(kl_archive_open(&ar, url, NULL));
        static char big[400 * 1024];
        kl__now_ns_set_fake(t0 + 5000000);
        assert_int_equal(kl_archive_put(ar, "big", 3, big, sizeof big), KL_ETOOBIG);
        assert_non_null(strstr(kl_errmsg(), "max_bytes=307200"));
        const void *keys[2] = {"a", "b"};
        size_t klens[2] = {1, 1}, vlens[2] = {5, sizeof big};
        const void *vals[2] = {"12345", big};
        assert_int_equal(kl_archive_put_many(ar, 2, keys, klens, vals, vlens), KL_ETOOBIG);
        assert_int_equal(kl_archive_contains(ar, "a", 1), 0); /* the batch: nothing */
        assert_int_equal(has_nth(ar, 0), 1);                  /* nothing else removed */
        assert_int_equal(has_nth(ar, 1), 1);
        assert_int_equal(kl_archive_contains(ar, "big", 3), 0);
        KT_OK(kl_archive_close(ar));
        free(url);
    }
}

static void bad_limits_are_refused_at_open(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "max_bytes=-1",        "max_entries=abc",           "max_entries=-5",
        "max_bytes=1X",        "max_bytes=99999999999999999999999", "max_entries=",
        "max_bytes=9999999T",  "max_entries=18446744073709551615"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *url;
        assert_true(asprintf(&url, "dir:%s/bad?%s", dir, bad[i]) > 0);
        kl_archive *ar = NULL;
        assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
        assert_null(ar);
        char name[16];
        snprintf(name, sizeof name, "%.*s", (int)(strchr(bad[i], '=') - bad[i]), bad[i]);
        print_message("%s -> %s\n", bad[i], kl_errmsg());
        assert_non_null(strstr(kl_errmsg(), name));
        free(url);
    }
    /* the struct's fields: absurd values too */
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.max_entries = UINT64_MAX;
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "mem:", &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "max_entries"));
}

/* kl_archive_opts: version 2's fields limit; a version-1 struct (the
 * layout programs built against the old header pass) still opens. */
static void opts_fields_and_old_version(void **st)
{
    (void)st;
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.max_entries = 10;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:optslimit", &o));
    for (int i = 0; i < 40; i++)
        KT_OK(put_nth(ar, i, 3));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_true(n >= 9 && n <= 10);
    assert_int_equal(has_nth(ar, 39), 1);
    KT_OK(kl_archive_close(ar));

    struct {
        unsigned version;
        bool create, read_only;
    } v1 = {1, true, false};
    KT_OK(kl_archive_open(&ar, "mem:optsv1", (const kl_archive_opts *)(const void *)&v1));
    for (int i = 0; i < 40; i++)
        KT_OK(put_nth(ar, i, 3));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 40);
    KT_OK(kl_archive_close(ar));
}

/* While another holds the cleaner lock (its file, flock'd here), puts go
 * on and nobody prunes; once it is free the next put does. */
static void a_held_cleaner_lock_defers_the_prune(void **st)
{
    (void)st;
    static const char *const kinds[][2] = {{"dir:%s/lk", "%s/lk/cleaner.lock"},
                                           {"sqlite:%s/lk.db?table=t", "%s/lk.db.cleaner-lock"},
                                           {"file:%s/lk.klf", "%s/lk.klf.cleaner-lock"}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        char *base, *lock;
        assert_true(asprintf(&base, kinds[k][0], dir) > 0);
        assert_true(asprintf(&lock, kinds[k][1], dir) > 0);
        kl_archive *ar = open_clear(base);
        KT_OK(kl_archive_close(ar));
        char *url = kt_url_with(base, "max_entries=20");
        KT_OK(kl_archive_open(&ar, url, NULL));
        int fd = open(lock, O_RDWR | O_CREAT, 0644);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX), 0);
        for (int i = 0; i < 30; i++)
            KT_OK(put_nth(ar, i, 5));
        size_t n = 0;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 30); /* no cleaner got the lock */
        close(fd);               /* released */
        KT_OK(put_nth(ar, 30, 5));
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 18); /* the low-water mark of 20 */
        assert_int_equal(has_nth(ar, 30), 1);
        assert_int_equal(has_nth(ar, 13), 1);
        assert_int_equal(has_nth(ar, 12), 0);
        KT_OK(kl_archive_drop(ar));
        free(url);
        free(lock);
        free(base);
    }
}

/* dir: cleans from what its handle knows (its last walk and its own puts)
 * while its walks find nobody else writing.  Another writer (here a second
 * handle, as another process would be) adds entries it does not know; the
 * cleaner lock held meanwhile puts its prune off.  Then the cleans and the
 * close still end within the limit, the other's newer entries kept. */
static void dir_another_writer_between_walks(void **st)
{
    (void)st;
    char *base, *lock;
    assert_true(asprintf(&base, "dir:%s/other", dir) > 0);
    assert_true(asprintf(&lock, "%s/other/cleaner.lock", dir) > 0);
    kl_archive *other = open_clear(base);
    char *url = kt_url_with(base, "max_entries=100");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 0; i < 400; i++) /* cleans every ~10 puts: walks, then fewer */
        KT_OK(put_nth(ar, i, 10));
    for (int i = 400; i < 460; i++) /* unknown to ar */
        KT_OK(put_nth(other, i, 10));
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    for (int i = 460; i < 480; i++) /* ar's prune put off: it knows > 100 */
        KT_OK(put_nth(ar, i, 10));
    close(fd);
    KT_OK(kl_archive_close(ar));
    size_t n = 0;
    KT_OK(kl_archive_count(other, &n));
    print_message("%s: %zu entries after close\n", url, n);
    assert_true(n >= 80 && n <= 100);
    for (int i = 480 - (int)n; i < 480; i++) /* exactly the newest n */
        assert_int_equal(has_nth(other, i), 1);
    /* a delete of an entry the other replaced since the walk still deletes it */
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (int i = 480; i < 520; i++)
        KT_OK(put_nth(ar, i, 10));
    KT_OK(put_nth(other, 519, 20)); /* a new file (inode) at k000519 */
    KT_OK(kl_archive_del(ar, "k000519", 7));
    assert_int_equal(has_nth(other, 519), 0);
    assert_int_equal(kl_archive_del(ar, "k000519", 7), KL_ENOTFOUND);
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_drop(other));
    free(url);
    free(lock);
    free(base);
}

static void parse_size_reads_prunes_syntax(void **st)
{
    (void)st;
    uint64_t v = 0;
    KT_OK(kl_parse_size("500000", "t", &v));
    assert_int_equal(v, 500000);
    KT_OK(kl_parse_size("64K", "t", &v));
    assert_int_equal(v, 65536);
    KT_OK(kl_parse_size("10mib", "t", &v));
    assert_int_equal(v, 10u << 20);
    KT_OK(kl_parse_size("2G", "t", &v));
    assert_int_equal(v, UINT64_C(2) << 30);
    KT_OK(kl_parse_size("0", "t", &v));
    assert_int_equal(v, 0);
    assert_int_equal(kl_parse_size("", "t", &v), KL_EINVAL);
    assert_int_equal(kl_parse_size(" 5", "t", &v), KL_EINVAL);
    assert_int_equal(kl_parse_size("5 K", "t", &v), KL_EINVAL);
    assert_int_equal(kl_parse_size("1e3", "t", &v), KL_EINVAL);
    assert_int_equal(kl_parse_size("9999999T", "t", &v), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "9999999T"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_size_reads_prunes_syntax),
        cmocka_unit_test(bad_limits_are_refused_at_open),
        cmocka_unit_test(opts_fields_and_old_version),
        cmocka_unit_test(entry_larger_than_the_limit_is_refused),
        cmocka_unit_test(max_entries_keeps_the_newest),
        cmocka_unit_test(max_bytes_keeps_storage_within),
        cmocka_unit_test(dir_prunes_by_storage),
        cmocka_unit_test(a_held_cleaner_lock_defers_the_prune),
        cmocka_unit_test(dir_another_writer_between_walks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
