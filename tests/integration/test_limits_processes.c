/* SPDX-License-Identifier: BSD-3-Clause */
/* Size limits with many writers: 8 processes each put 300 entries (one
 * by one and in batches of 10) into one archive opened with
 * ?max_entries=200, on dir:, file:, sqlite: (both layouts) and the
 * servers scripts/with-servers.sh gave; and with ?max_bytes= on dir: and
 * sqlite: (storage within it at the end).  No process sees an error; the
 * archive ends within the limit and at least at its low-water mark (90%);
 * what is left of each process's entries is its newest ones, every one of
 * them (a suffix of what it wrote: nothing newer lost while older ones
 * stayed).  The writers start together and wait for each other before
 * their last 10 puts, so those 80 are the newest of the archive: all of
 * them stay. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto.h"

enum { NPROC = 8, PUTS = 300, LIMIT = 200, LOW = 180, BATCH = 10, LAST = 10 };

static char *dir;
static atomic_int *barrier; /* shared with the writers: [0] start, [1] before the last puts */

static void wait_all(int which)
{
    atomic_fetch_add(&barrier[which], 1);
    while (atomic_load(&barrier[which]) < NPROC)
        sched_yield();
}

static int key_of(char *buf, size_t cap, int proc, int i)
{
    return snprintf(buf, cap, "p%d/%04d", proc, i);
}

/* One writer: the first half one by one, the rest in batches. */
static int child(const char *url, int me)
{
    kl_archive *ar;
    if (kl_archive_open(&ar, url, NULL)) {
        fprintf(stderr, "writer %d: open: %s\n", me, kl_errmsg());
        return 1;
    }
    char kb[BATCH][32], vb[BATCH][64];
    const void *keys[BATCH], *vals[BATCH];
    size_t klens[BATCH], vlens[BATCH];
    int rc = 0;
    wait_all(0);
    for (int i = 0; i < PUTS && !rc;) {
        if (i == PUTS - LAST)
            wait_all(1);
        size_t n = i < PUTS / 2 ? 1 : BATCH;
        for (size_t j = 0; j < n; j++) {
            klens[j] = (size_t)key_of(kb[j], sizeof kb[j], me, i + (int)j);
            vlens[j] = (size_t)snprintf(vb[j], sizeof vb[j], "value of %s", kb[j]);
            keys[j] = kb[j];
            vals[j] = vb[j];
        }
        rc = n == 1 ? kl_archive_put(ar, keys[0], klens[0], vals[0], vlens[0])
                    : kl_archive_put_many(ar, n, keys, klens, vals, vlens);
        if (rc)
            fprintf(stderr, "writer %d: put %d: %s\n", me, i, kl_errmsg());
        i += (int)n;
    }
    int crc = kl_archive_close(ar);
    if (crc && !rc)
        fprintf(stderr, "writer %d: close: %s\n", me, kl_errmsg());
    return rc || crc ? 1 : 0;
}

static void run_writers(const char *url)
{
    pid_t pids[NPROC];
    atomic_store(&barrier[0], 0);
    atomic_store(&barrier[1], 0);
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            _exit(child(url, p));
    }
    for (int p = 0; p < NPROC; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

/* max_bytes: 0 for the entries limit, else the storage limit checked. */
static void check(const char *url, uint64_t max_bytes)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    print_message("%s: %zu entries after %d puts\n", kl_archive_url(ar), n, NPROC * PUTS);
    if (max_bytes) {
        uint64_t storage = 0;
        KT_OK(kl_archive_storage_bytes(ar, &storage, NULL));
        print_message("  %llu bytes\n", (unsigned long long)storage);
        assert_true(storage <= max_bytes);
        assert_true(n >= NPROC * LAST);
    } else {
        assert_true(n <= LIMIT);
        assert_true(n >= LOW);
    }
    size_t seen = 0;
    for (int p = 0; p < NPROC; p++) {
        bool present_before = false;
        for (int i = 0; i < PUTS; i++) {
            char k[32];
            int kl = key_of(k, sizeof k, p, i);
            int has = kl_archive_contains(ar, k, (size_t)kl);
            assert_true(has == 0 || has == 1);
            if (present_before && !has)
                fail_msg("%s: %s is gone but an older entry of writer %d stayed", url, k, p);
            if (i >= PUTS - LAST && !has)
                fail_msg("%s: %s, among writer %d's last %d, is gone", url, k, p, LAST);
            present_before |= has == 1;
            seen += (size_t)has;
        }
    }
    assert_int_equal(seen, n); /* nothing else in there */
    KT_OK(kl_archive_drop(ar));
}

static void limited_by(const char *base, const char *opt, uint64_t max_bytes)
{
    char *url = kt_url_with(base, opt);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_clear(ar));
    KT_OK(kl_archive_close(ar));
    run_writers(url);
    check(url, max_bytes);
    free(url);
}

static void limited(const char *base)
{
    char opt[32];
    snprintf(opt, sizeof opt, "max_entries=%d", LIMIT);
    limited_by(base, opt, 0);
}

static void local_kinds(void **st)
{
    (void)st;
    static const char *const fmts[] = {"dir:%s/d", "file:%s/f.klf", "sqlite:%s/s.db?table=t",
                                       "sqlite:%s/k.db"};
    for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
        char *base;
        assert_true(asprintf(&base, fmts[i], dir) > 0);
        limited(base);
        free(base);
    }
}

/* ?max_bytes= on dir: (1M: a block each, ~230 entries stay) and sqlite:
 * (64K of pages: ~1000 of the 2400 small entries). */
static void local_kinds_by_storage(void **st)
{
    (void)st;
    static const struct {
        const char *fmt, *opt;
        uint64_t max;
    } kinds[] = {{"dir:%s/db", "max_bytes=1M", 1u << 20},
                 {"sqlite:%s/sb.db?table=t", "max_bytes=64K", 64u << 10}};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char *base;
        assert_true(asprintf(&base, kinds[i].fmt, dir) > 0);
        limited_by(base, kinds[i].opt, kinds[i].max);
        free(base);
    }
}

static void servers(void **st)
{
    (void)st;
    static const char *const envs[] = {"KLEPTO_TEST_PG_URL", "KLEPTO_TEST_MYSQL_URL",
                                       "KLEPTO_TEST_REDIS_URL"};
    int ran = 0;
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++) {
        const char *u = getenv(envs[i]);
        if (!u || !*u)
            continue;
        char *base;
        assert_true(asprintf(&base, "%s%c%s=kt_limproc_%ld", u, strchr(u, '?') ? '&' : '?',
                             i == 2 ? "prefix" : "table", (long)getpid()) > 0);
        limited(base);
        free(base);
        ran++;
    }
    if (!ran)
        skip();
}

static int setup(void **st)
{
    (void)st;
    barrier = mmap(NULL, 2 * sizeof *barrier, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (barrier == MAP_FAILED)
        return -1;
    return kt_tempdir_make(&dir, "limproc");
}

static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    munmap(barrier, 2 * sizeof *barrier);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(local_kinds),
        cmocka_unit_test(local_kinds_by_storage),
        cmocka_unit_test(servers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
