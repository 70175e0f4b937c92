/* SPDX-License-Identifier: BSD-3-Clause */
/* Looking into a memo, as klepto's memo allows: lookup (memory only, no
 * effect), fetch (read-through), foreach (klepto's __cache__), dump and
 * load of chosen calls, archived() on and off, archive(obj) that only
 * swaps, and dump through a ?cached=true front that persists at once. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "klepto.h"

static char *tmp;
static int calls;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&tmp, "memo-inspect");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&tmp);
    return 0;
}

/* sq(x) = x * x */
static int sq(void *ud, const kl_call *call, kl_value *out)
{
    (void)ud;
    calls++;
    *out = kl_value_int(call->pos[0].u.i * call->pos[0].u.i);
    return 0;
}

static kl_memo *new_sq(const char *archive, size_t maxsize, bool write_back)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.archive = archive;
    o.cache.maxsize = maxsize;
    o.cache.write_back = write_back;
    kl_memo *m;
    KT_OK(kl_memo_new(&m, "sq", sq, NULL, &o));
    return m;
}

static kl_call one(kl_value *arg, int64_t x)
{
    *arg = kl_value_int(x);
    return (kl_call){arg, 1, NULL, NULL, 0};
}

static int64_t call_sq(kl_memo *m, int64_t x)
{
    kl_value a, r;
    kl_call c = one(&a, x);
    KT_OK(kl_memo_call(m, &c, &r));
    return r.u.i;
}

/* 0 and *out when memory holds sq(x), else the error (KL_ENOTFOUND). */
static int lookup_sq(kl_memo *m, int64_t x, int64_t *out)
{
    kl_value a, r;
    kl_call c = one(&a, x);
    int rc = kl_memo_lookup(m, &c, &r);
    if (rc == 0) {
        assert_int_equal(r.type, KL_INT);
        *out = r.u.i;
    }
    return rc;
}

static void info_equal(const kl_memo_info *a, const kl_memo_info *b)
{
    assert_int_equal(a->hit, b->hit);
    assert_int_equal(a->miss, b->miss);
    assert_int_equal(a->load, b->load);
    assert_int_equal(a->evictions, b->evictions);
    assert_int_equal(a->size, b->size);
}

static size_t archive_count(kl_archive *ar)
{
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    return n;
}

static bool archive_has(kl_memo *m, int64_t x)
{
    kl_value a;
    kl_call c = one(&a, x);
    kl_buf k = KL_BUF_INIT;
    KT_OK(kl_memo_key(m, &c, &k));
    int r = kl_archive_contains(kl_memo_archive(m), k.data, k.len);
    kl_buf_free(&k);
    assert_true(r == 0 || r == 1);
    return r == 1;
}

static void lookup_is_memory_only_and_has_no_effect(void **st)
{
    (void)st;
    kl_memo *m = new_sq("mem:inspect-lookup", 2, false);
    int64_t v = 0;
    call_sq(m, 1);
    call_sq(m, 2);
    KT_OK(kl_memo_clear(m, true));
    kl_memo_info before, after;
    kl_memo_info_get(m, &before);
    /* in the archive, not in memory: lookup does not see it, nor load it */
    assert_int_equal(lookup_sq(m, 1, &v), KL_ENOTFOUND);
    kl_memo_info_get(m, &after);
    info_equal(&before, &after);
    /* fetch reads through: a load */
    kl_value a, r;
    kl_call c = one(&a, 1);
    KT_OK(kl_memo_fetch(m, &c, &r));
    assert_int_equal(r.u.i, 1);
    kl_memo_info_get(m, &after);
    assert_int_equal(after.load, before.load + 1);
    assert_int_equal(after.size, 1);
    c = one(&a, 5);
    assert_int_equal(kl_memo_fetch(m, &c, &r), KL_ENOTFOUND);

    /* lookup leaves the policy alone: LRU order is 1 then 2; a lookup of
     * 1 does not make it recent, so 3 evicts 1 */
    call_sq(m, 2);
    kl_memo_info_get(m, &before);
    KT_OK(lookup_sq(m, 1, &v));
    assert_int_equal(v, 1);
    kl_memo_info_get(m, &after);
    info_equal(&before, &after);
    call_sq(m, 3);
    assert_int_equal(lookup_sq(m, 1, &v), KL_ENOTFOUND);
    KT_OK(lookup_sq(m, 2, &v));
    assert_int_equal(v, 4);
    kl_memo_free(m);
}

typedef struct seen {
    int n;
    int64_t sum;
    kl_memo *m;
    int stop_after;
} seen;

static int collect(void *ctx, const kl_memo_entry *e)
{
    seen *s = ctx;
    assert_int_equal(e->value->type, KL_INT);
    s->sum += e->value->u.i;
    /* the key is the call's archive key, and decodes to the call's
     * flat key ("x", x) */
    assert_int_equal(e->args->type, KL_ARRAY);
    assert_int_equal(e->args->u.a.len, 2);
    const kl_value *x = &e->args->u.a.items[1];
    assert_int_equal(x->type, KL_INT);
    kl_value a;
    kl_call c = one(&a, x->u.i);
    kl_buf k = KL_BUF_INIT;
    KT_OK(kl_memo_key(s->m, &c, &k));
    assert_int_equal(k.len, e->klen);
    assert_memory_equal(k.data, e->key, k.len);
    kl_buf_free(&k);
    assert_int_equal(e->value->u.i, x->u.i * x->u.i);
    return ++s->n == s->stop_after ? 77 : 0;
}

static void foreach_visits_memory_without_disturbing_it(void **st)
{
    (void)st;
    kl_memo *m = new_sq(NULL, 3, false);
    for (int x = 1; x <= 3; x++)
        call_sq(m, x);
    kl_memo_info before, after;
    kl_memo_info_get(m, &before);
    seen s = {0, 0, m, 0};
    KT_OK(kl_memo_foreach(m, collect, &s));
    assert_int_equal(s.n, 3);
    assert_int_equal(s.sum, 1 + 4 + 9);
    kl_memo_info_get(m, &after);
    info_equal(&before, &after);
    /* the walk touched no entry: 1 is still the least recent */
    call_sq(m, 4);
    int64_t v;
    assert_int_equal(lookup_sq(m, 1, &v), KL_ENOTFOUND);
    /* a non-zero return stops the walk and comes back */
    seen stop = {0, 0, m, 2};
    assert_int_equal(kl_memo_foreach(m, collect, &stop), 77);
    assert_int_equal(stop.n, 2);
    assert_int_equal(kl_memo_foreach(m, NULL, NULL), KL_EINVAL);
    kl_memo_free(m);
}

static void dump_and_load_chosen_calls(void **st)
{
    (void)st;
    /* write_back: results reach the archive only when dumped (klepto's
     * memo) */
    kl_memo *m = new_sq("mem:inspect-keys", 100, true);
    for (int x = 1; x <= 3; x++)
        call_sq(m, x);
    kl_archive *ar = kl_memo_archive(m);
    assert_int_equal(archive_count(ar), 0);
    kl_value a[2];
    kl_call two[2] = {one(&a[0], 2), one(&a[1], 5)}; /* 5 is not in memory */
    size_t done = 9;
    KT_OK(kl_memo_dump_keys(m, 2, two, &done));
    assert_int_equal(done, 1);
    assert_int_equal(archive_count(ar), 1);
    assert_true(archive_has(m, 2));
    KT_OK(kl_memo_dump(m));
    assert_int_equal(archive_count(ar), 3);

    /* load chosen calls: those the archive holds come back, replacing
     * what memory holds */
    KT_OK(kl_memo_clear(m, false));
    two[1] = one(&a[1], 9); /* not in the archive */
    KT_OK(kl_memo_load_keys(m, 2, two, &done));
    assert_int_equal(done, 1);
    int64_t v;
    KT_OK(lookup_sq(m, 2, &v));
    assert_int_equal(v, 4);
    assert_int_equal(lookup_sq(m, 3, &v), KL_ENOTFOUND);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.load, 0); /* load() counts nothing, as klepto's */
    assert_int_equal(kl_memo_dump_keys(m, 1, NULL, &done), KL_EINVAL);
    KT_OK(kl_memo_free(m));

    /* no archive: klepto's null archive, nothing to do */
    kl_memo *none = new_sq(NULL, 10, false);
    call_sq(none, 2);
    KT_OK(kl_memo_dump_keys(none, 1, two, &done));
    assert_int_equal(done, 0);
    KT_OK(kl_memo_load_keys(none, 1, two, &done));
    assert_int_equal(done, 0);
    KT_OK(kl_memo_dump(none));
    size_t loaded = 9;
    KT_OK(kl_memo_load(none, &loaded));
    assert_int_equal(loaded, 0);
    int64_t still;
    KT_OK(lookup_sq(none, 2, &still));
    kl_memo_free(none);
}

static void archived_switches_the_archive_off_and_on(void **st)
{
    (void)st;
    kl_memo *m = new_sq("mem:inspect-archived", 100, false);
    assert_true(kl_memo_archived(m));
    call_sq(m, 1);
    assert_true(archive_has(m, 1));
    KT_OK(kl_memo_set_archived(m, false));
    assert_false(kl_memo_archived(m));
    assert_non_null(kl_memo_archive(m)); /* still attached, just unused */
    call_sq(m, 7);
    assert_false(archive_has(m, 7));
    KT_OK(kl_memo_dump(m)); /* does nothing while off, as klepto's */
    assert_false(archive_has(m, 7));
    /* on again: memory is not copied (7 is a hit, still not archived);
     * dump does it */
    KT_OK(kl_memo_set_archived(m, true));
    assert_true(kl_memo_archived(m));
    calls = 0;
    call_sq(m, 7);
    assert_int_equal(calls, 0);
    assert_false(archive_has(m, 7));
    KT_OK(kl_memo_dump(m));
    assert_true(archive_has(m, 7));
    /* off: a result only the archive holds is not found */
    KT_OK(kl_memo_set_archived(m, false));
    KT_OK(kl_memo_clear(m, false));
    call_sq(m, 1);
    assert_int_equal(calls, 1);
    kl_memo_free(m);

    kl_memo *none = new_sq(NULL, 10, false);
    assert_false(kl_memo_archived(none));
    assert_int_equal(kl_memo_set_archived(none, true), KL_EINVAL);
    kl_memo_free(none);
}

/* klepto's archive(obj) only swaps: memory is not copied into the new
 * archive (issue 8). */
static void set_archive_swaps_without_copying(void **st)
{
    (void)st;
    kl_memo *m = new_sq("mem:inspect-swap-a", 100, false);
    call_sq(m, 1);
    call_sq(m, 2);
    KT_OK(kl_memo_set_archived(m, false));
    KT_OK(kl_memo_set_archive(m, "mem:inspect-swap-b"));
    assert_true(kl_memo_archived(m)); /* a new archive is switched on */
    assert_int_equal(archive_count(kl_memo_archive(m)), 0);
    int64_t v;
    KT_OK(lookup_sq(m, 2, &v)); /* memory kept */
    KT_OK(kl_memo_dump(m));
    assert_int_equal(archive_count(kl_memo_archive(m)), 2);
    assert_int_equal(kl_memo_set_archive(m, "nosuchscheme:x"), KL_EINVAL);
    assert_int_equal(archive_count(kl_memo_archive(m)), 2); /* unchanged */
    KT_OK(kl_memo_set_archive(m, NULL));
    assert_false(kl_memo_archived(m));
    KT_OK(lookup_sq(m, 2, &v));
    kl_memo_free(m);
}

/* Over a ?cached=true front, dump reaches the storage at once (issue 6),
 * load reads the storage, and calls read through to it. */
static void dump_through_a_cached_front_persists(void **st)
{
    (void)st;
    char url[700], direct[600];
    snprintf(direct, sizeof direct, "dir:%s/front", tmp);
    snprintf(url, sizeof url, "%s?cached=true", direct);
    kl_memo *m = new_sq(url, 100, false);
    for (int x = 1; x <= 3; x++)
        call_sq(m, x);
    kl_archive *peek;
    KT_OK(kl_archive_open(&peek, direct, NULL));
    assert_int_equal(archive_count(peek), 0); /* in the front's memory */
    KT_OK(kl_memo_dump(m));
    assert_int_equal(archive_count(peek), 3); /* before the memo is freed */

    /* dump_keys goes through to the storage too */
    call_sq(m, 4);
    kl_value a;
    kl_call c = one(&a, 4);
    size_t done = 0;
    KT_OK(kl_memo_dump_keys(m, 1, &c, &done));
    assert_int_equal(done, 1);
    assert_int_equal(archive_count(peek), 4);
    KT_OK(kl_memo_free(m));

    /* a new memo over a new front: calls read the storage (loads) */
    m = new_sq(url, 100, false);
    calls = 0;
    assert_int_equal(call_sq(m, 2), 4);
    assert_int_equal(calls, 0);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.load, 1);
    /* load: the whole storage, through the front */
    KT_OK(kl_memo_clear(m, false));
    size_t loaded = 0;
    KT_OK(kl_memo_load(m, &loaded));
    assert_int_equal(loaded, 4);
    KT_OK(kl_memo_clear(m, false));
    c = one(&a, 3);
    KT_OK(kl_memo_load_keys(m, 1, &c, &loaded));
    assert_int_equal(loaded, 1);
    int64_t v;
    KT_OK(lookup_sq(m, 3, &v));
    assert_int_equal(v, 9);
    KT_OK(kl_memo_free(m));
    KT_OK(kl_archive_drop(peek));
}

/* A deliberate difference (docs/from-python.md): klepto's memo writes a
 * result to its archive only at dump, eviction or purge; ours writes it
 * through when stored, unless write_back. */
static void results_are_written_through_unless_write_back(void **st)
{
    (void)st;
    kl_memo *m = new_sq("mem:inspect-through", 100, false);
    call_sq(m, 3);
    assert_true(archive_has(m, 3)); /* before any dump */
    kl_memo_free(m);
    m = new_sq("mem:inspect-back", 100, true);
    call_sq(m, 3);
    assert_false(archive_has(m, 3)); /* klepto's way */
    KT_OK(kl_memo_dump(m));
    assert_true(archive_has(m, 3));
    kl_memo_free(m);
}

/* A deliberate difference (docs/from-python.md): kl_memo_set_archive
 * writes what the old archive is still owed (write_back entries) to it
 * before swapping; klepto's archive(obj) leaves them to whatever archive
 * is attached when they are dumped. */
static void set_archive_pays_the_old_archive_first(void **st)
{
    (void)st;
    kl_memo *m = new_sq("mem:inspect-owed-a", 100, true);
    call_sq(m, 5);
    kl_archive *a;
    KT_OK(kl_archive_open(&a, "mem:inspect-owed-a", NULL));
    assert_int_equal(archive_count(a), 0);
    KT_OK(kl_memo_set_archive(m, "mem:inspect-owed-b"));
    assert_int_equal(archive_count(a), 1);
    assert_int_equal(archive_count(kl_memo_archive(m)), 0);
    KT_OK(kl_archive_drop(a));
    kl_memo_free(m);
}

/* A deliberate difference (docs/from-python.md): over a ?cached=true
 * archive the memo keeps its own bounded memory in front of the front's
 * dictionary, where klepto's memo uses that dictionary as its memory.  An
 * entry the memo evicts stays in the front, so over null: (which keeps
 * nothing) it comes back as a load, where klepto computes it again. */
static void a_cached_front_is_a_second_memory(void **st)
{
    (void)st;
    kl_memo *m = new_sq("null:?cached=true", 2, false);
    calls = 0;
    for (int x = 1; x <= 3; x++)
        call_sq(m, x); /* 1 is evicted into the front */
    assert_int_equal(call_sq(m, 1), 1);
    assert_int_equal(calls, 3);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_int_equal(info.load, 1);
    assert_int_equal(info.miss, 3);
    kl_memo_free(m);
}

int main(void)
{
    kt_tempdir_prefer_memory();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_is_memory_only_and_has_no_effect),
        cmocka_unit_test(foreach_visits_memory_without_disturbing_it),
        cmocka_unit_test(dump_and_load_chosen_calls),
        cmocka_unit_test(archived_switches_the_archive_off_and_on),
        cmocka_unit_test(set_archive_swaps_without_copying),
        cmocka_unit_test(dump_through_a_cached_front_persists),
        cmocka_unit_test(results_are_written_through_unless_write_back),
        cmocka_unit_test(set_archive_pays_the_old_archive_first),
        cmocka_unit_test(a_cached_front_is_a_second_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
