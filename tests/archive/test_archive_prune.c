/* SPDX-License-Identifier: BSD-3-Clause */
/* kl_archive_prune: the oldest entries go until every limit holds
 * (entries, bytes, age, and what ?ttl= has expired), on several archive
 * kinds; progress is reported; bad calls are refused.  Stored times come
 * from the test clock (kl__now_ns_set_fake). */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/host.h"
#include "klepto.h"

#define SEC INT64_C(1000000000)

static char *dir;
static int64_t t0;

static int setup(void **st)
{
    (void)st;
    t0 = kl__now_ns() - 1000 * SEC;
    return kt_tempdir_make(&dir, "prune");
}

static int teardown(void **st)
{
    (void)st;
    kl__now_ns_set_fake(0);
    kt_tempdir_remove(&dir);
    return 0;
}

/* Ten entries "k0".."k9", k_i stored at t0 + i seconds, values of 10 bytes. */
static kl_archive *ten_entries(const char *url)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_clear(ar));
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        kl__now_ns_set_fake(t0 + i * SEC);
        KT_OK(kl_archive_put(ar, k, 2, "0123456789", 10));
    }
    kl__now_ns_set_fake(t0 + 20 * SEC);
    return ar;
}

static bool has(kl_archive *ar, int i)
{
    char k[8];
    snprintf(k, sizeof k, "k%d", i);
    int r = kl_archive_contains(ar, k, 2);
    assert_true(r >= 0);
    return r == 1;
}

typedef struct progress_seen {
    uint64_t scanned, removed, total_removing;
} progress_seen;

static void on_progress(void *ctx, kl_prune_phase phase, uint64_t done, uint64_t total)
{
    progress_seen *p = ctx;
    if (phase == KL_PRUNE_SCANNING) {
        p->scanned = done;
    } else {
        p->removed = done;
        p->total_removing = total;
    }
}

static void limits_remove_the_oldest(void **st)
{
    (void)st;
    const char *kinds[] = {"mem:prune", "dir:%s/d", "file:%s/f.klf", "sqlite:%s/s.db?table=t"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char url[512];
        snprintf(url, sizeof url, kinds[i], dir);
        print_message("%s\n", url);
        kl_archive *ar = ten_entries(url);
        kl_prune_opts o = KL_PRUNE_OPTS_INIT;
        progress_seen p = {0, 0, 0};
        o.max_entries = 7;
        o.progress = on_progress;
        o.ctx = &p;
        kl_prune_result r;
        KT_OK(kl_archive_prune(ar, &o, &r));
        assert_int_equal(r.pruned, 3);
        assert_int_equal(r.left, 7);
        assert_int_equal(r.untimed, 0);
        assert_int_equal(r.damaged, 0);
        assert_int_equal(p.scanned, 10);
        assert_int_equal(p.removed, 3);
        assert_int_equal(p.total_removing, 3);
        assert_false(has(ar, 2));
        assert_true(has(ar, 3));
        /* bytes: each entry is 2 + 10 bytes; 40 bytes leave 3 */
        o = (kl_prune_opts)KL_PRUNE_OPTS_INIT;
        o.max_bytes = 40;
        KT_OK(kl_archive_prune(ar, &o, &r));
        assert_int_equal(r.pruned, 4);
        assert_int_equal(r.left, 3);
        assert_false(has(ar, 6));
        assert_true(has(ar, 7));
        /* age: now is t0 + 20s; older than 12s: k7 (13s old) goes */
        o = (kl_prune_opts)KL_PRUNE_OPTS_INIT;
        o.older_than = 12;
        KT_OK(kl_archive_prune(ar, &o, &r));
        assert_int_equal(r.pruned, 1);
        assert_int_equal(r.left, 2);
        assert_true(has(ar, 8) && has(ar, 9));
        /* within every limit: nothing to do */
        o = (kl_prune_opts)KL_PRUNE_OPTS_INIT;
        o.max_entries = 2;
        KT_OK(kl_archive_prune(ar, &o, &r));
        assert_int_equal(r.pruned, 0);
        assert_int_equal(r.left, 2);
        KT_OK(kl_archive_close(ar));
    }
}

/* On a handle with ?ttl=, what it has expired is removed as well. */
static void ttl_handle_prunes_what_it_expired(void **st)
{
    (void)st;
    char url[512];
    snprintf(url, sizeof url, "dir:%s/t", dir);
    KT_OK(kl_archive_close(ten_entries(url)));
    strcat(url, "?ttl=15s"); /* now t0 + 20s: k0..k4 have expired */
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_prune_opts o = KL_PRUNE_OPTS_INIT;
    o.max_entries = 100;
    kl_prune_result r;
    KT_OK(kl_archive_prune(ar, &o, &r));
    assert_int_equal(r.pruned, 5);
    assert_int_equal(r.left, 5);
    KT_OK(kl_archive_close(ar));
    snprintf(url, sizeof url, "dir:%s/t", dir);
    KT_OK(kl_archive_open(&ar, url, NULL));
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 5); /* gone from storage, not only hidden */
    KT_OK(kl_archive_close(ar));
}

static void bad_calls_are_refused(void **st)
{
    (void)st;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:prune-bad", NULL));
    kl_prune_opts o = KL_PRUNE_OPTS_INIT;
    assert_int_equal(kl_archive_prune(ar, &o, NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "at least one limit"));
    assert_int_equal(kl_archive_prune(ar, NULL, NULL), KL_EINVAL);
    o.version = 99;
    o.max_entries = 1;
    assert_int_equal(kl_archive_prune(ar, &o, NULL), KL_EINVAL);
    KT_OK(kl_archive_close(ar));
    char url[512];
    snprintf(url, sizeof url, "dir:%s/ro", dir);
    KT_OK(kl_archive_close(ten_entries(url)));
    kl_archive_opts ao = KL_ARCHIVE_OPTS_INIT;
    ao.read_only = true;
    KT_OK(kl_archive_open(&ar, url, &ao));
    o = (kl_prune_opts)KL_PRUNE_OPTS_INIT;
    o.max_entries = 1;
    assert_int_equal(kl_archive_prune(ar, &o, NULL), KL_EPERM);
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 10);
    KT_OK(kl_archive_close(ar));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits_remove_the_oldest),
        cmocka_unit_test(ttl_handle_prunes_what_it_expired),
        cmocka_unit_test(bad_calls_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
