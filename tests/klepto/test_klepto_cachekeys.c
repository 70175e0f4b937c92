/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows klepto/tests/test_cachekeys.py: a memoized doit(x) keyed by a
 * picklemap, over the archives null, dict, file and dir; doit(1),
 * doit('2'), doit(data) with data = range(20) (klepto's script runs the
 * list form when numpy is off, as it is), then load() and dump(): the
 * cache's keys and the archive's keys are the same, and the hit, miss and
 * load counts are klepto's.
 *
 * The memo here is klepto's cached=True archive: memory in front of the
 * archive.  Replayed with klepto's counts: a fresh archive (all misses),
 * the same memo again (all hits), a new memo over the archive left behind
 * (all loads: klepto's rerun of cached=True over an existing archive;
 * null: misses again, it keeps nothing; dict_archive is per object in
 * klepto, so mem: is opened under a fresh name: misses).  The keys: after
 * dump, the archive holds exactly the keys of the three calls (null:
 * none).  picklemap's serializer is cbor.
 * Not applicable: doit(lambda x: x**2) (no Python functions as values);
 * serializer='dill'; the cached=False runs (an archive used as the cache
 * itself, without memory in front: a memo here always has memory). */
#include "testutil.h"

#include "pykeys.h"

#include "klepto/archive.h"
#include "klepto/error.h"
#include "klepto/memo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "klepto-cachekeys");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

static int doit(void *ud, const kl_call *call, kl_value *result)
{
    (void)ud;
    return kl_value_copy(result, &call->pos[0]);
}

#define DATA "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]"
static const char *const ARGS[] = {"(1,)", "('2',)", "(" DATA ",)"};

static kl_memo *new_memo(const char *url)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.archive = url;
    o.keymap.kind = KL_KEYMAP_PICKLE;
    o.keymap.algorithm = "cbor";
    kl_memo *m = NULL;
    KT_OK(kl_memo_new(&m, "doit", doit, NULL, &o));
    return m;
}

/* runme: the three calls, load, dump; the counts these calls added. */
static void runme(kl_memo *m, uint64_t hit, uint64_t miss, uint64_t load)
{
    kl_memo_info before, after;
    kl_memo_info_get(m, &before);
    for (size_t i = 0; i < 3; i++) {
        kl_value a = kt_lit(ARGS[i]), r;
        kl_call c = {a.u.a.items, 1, NULL, NULL, 0};
        KT_OK(kl_memo_call(m, &c, &r));
        assert_true(kl_value_equal(&r, &a.u.a.items[0]));
        kl_value_free(&r);
        kl_value_free(&a);
    }
    kl_memo_info_get(m, &after);
    if (after.hit - before.hit != hit || after.miss - before.miss != miss ||
        after.load - before.load != load)
        fail_msg("%s: (hit, miss, load) = (%llu, %llu, %llu), klepto: (%llu, %llu, %llu)",
                 kl_archive_url(kl_memo_archive(m)),
                 (unsigned long long)(after.hit - before.hit),
                 (unsigned long long)(after.miss - before.miss),
                 (unsigned long long)(after.load - before.load), (unsigned long long)hit,
                 (unsigned long long)miss, (unsigned long long)load);
    size_t loaded;
    KT_OK(kl_memo_load(m, &loaded));
    KT_OK(kl_memo_dump(m));
}

/* The archive's keys are the three calls' keys (none for null:). */
static void keys_agree(kl_memo *m, bool keeps)
{
    kl_buf want[3];
    for (size_t i = 0; i < 3; i++) {
        kl_value a = kt_lit(ARGS[i]);
        kl_call c = {a.u.a.items, 1, NULL, NULL, 0};
        want[i] = (kl_buf)KL_BUF_INIT;
        KT_OK(kl_memo_key(m, &c, &want[i]));
        kl_value_free(&a);
    }
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(kl_memo_archive(m), &it));
    kl_buf k = KL_BUF_INIT;
    bool seen[3] = {false, false, false};
    size_t n = 0;
    int rc;
    while ((rc = kl_archive_iter_next(it, &k, NULL)) == 1) {
        n++;
        bool found = false;
        for (size_t i = 0; i < 3; i++)
            if (want[i].len == k.len && !memcmp(want[i].data, k.data, k.len))
                seen[i] = found = true;
        assert_true(found);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, keeps ? 3 : 0);
    for (size_t i = 0; i < 3; i++) {
        assert_true(seen[i] == keeps);
        kl_buf_free(&want[i]);
    }
    kl_buf_free(&k);
    kl_archive_iter_free(it);
}

static void run_archive(const char *url, const char *again, bool keeps)
{
    kl_memo *m = new_memo(url);
    runme(m, 0, 3, 0);   /* a fresh archive: misses */
    keys_agree(m, keeps);
    runme(m, 3, 0, 0);   /* again: hits */
    KT_OK(kl_memo_free(m));
    m = new_memo(again); /* over what was left behind */
    if (keeps && !strcmp(url, again))
        runme(m, 0, 0, 3);
    else
        runme(m, 0, 3, 0);
    keys_agree(m, keeps);
    KT_OK(kl_memo_free(m));
}

static void test_archives(void **state)
{
    (void)state;
    char file[512], folder[512];
    snprintf(file, sizeof file, "file:%s/xxxxxx2", dir);
    snprintf(folder, sizeof folder, "dir:%s/xxxxxx3", dir);
    run_archive("null:", "null:", false);
    run_archive("mem:xxxxxx1", "mem:xxxyyy1", true);
    run_archive(file, file, true);
    run_archive(folder, folder, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archives),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
