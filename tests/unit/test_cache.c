/* SPDX-License-Identifier: BSD-3-Clause */
/* The cache: limits, modes, archive write-through/back, purge, ttl,
 * statistics, single-flight bookkeeping and bad options. */
#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "klepto.h"

static kl_cache *make(const char *policy, size_t maxsize, unsigned shards)
{
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.policy = policy;
    o.maxsize = maxsize;
    o.shards = shards;
    kl_cache *c;
    KT_OK(kl_cache_new(&c, &o));
    return c;
}

static void put_int(kl_cache *c, int k, int v)
{
    uint8_t kb[16], vb[16];
    kl_enc ek, ev;
    kl_enc_init(&ek, kb, sizeof kb, 0);
    kl_enc_int(&ek, k);
    kl_enc_init(&ev, vb, sizeof vb, 0);
    kl_enc_int(&ev, v);
    KT_OK(kl_cache_put(c, kb, ek.len, vb, ev.len));
}

/* Returns the stored value or -1 when absent. */
static int64_t get_int(kl_cache *c, int k)
{
    uint8_t kb[16];
    kl_enc ek;
    kl_enc_init(&ek, kb, sizeof kb, 0);
    kl_enc_int(&ek, k);
    kl_buf v = KL_BUF_INIT;
    int rc = kl_cache_get(c, kb, ek.len, &v, true);
    int64_t out = -1;
    if (rc == 0)
        KT_OK(kl_decode_int64(v.data, v.len, &out));
    else
        assert_int_equal(rc, KL_ENOTFOUND);
    kl_buf_free(&v);
    return out;
}

static void lru_evicts_least_recently_used(void **state)
{
    (void)state;
    kl_cache *c = make("lru", 3, 0);
    put_int(c, 1, 10);
    put_int(c, 2, 20);
    put_int(c, 3, 30);
    assert_int_equal(get_int(c, 1), 10); /* 1 is now most recent; 2 is the LRU */
    put_int(c, 4, 40);
    assert_int_equal(get_int(c, 2), -1);
    assert_int_equal(get_int(c, 1), 10);
    assert_int_equal(get_int(c, 3), 30);
    assert_int_equal(get_int(c, 4), 40);
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.size, 3);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.hit, 4);
    assert_int_equal(s.miss, 1);
    assert_int_equal(s.maxsize, 3);
    assert_string_equal(kl_cache_policy(c), "lru");
    kl_cache_free(c);
}

static void replacing_a_key_keeps_one_entry(void **state)
{
    (void)state;
    kl_cache *c = make("lru", 10, 0);
    put_int(c, 7, 1);
    put_int(c, 7, 2);
    assert_int_equal(get_int(c, 7), 2);
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.size, 1);
    kl_cache_free(c);
}

static void inf_keeps_everything_and_no_keeps_nothing(void **state)
{
    (void)state;
    kl_cache *inf = make("lru", KL_CACHE_UNBOUNDED, 0);
    kl_cache *no = make("lru", 0, 0);
    assert_string_equal(kl_cache_policy(inf), "inf");
    assert_string_equal(kl_cache_policy(no), "no");
    for (int i = 0; i < 5000; i++) {
        put_int(inf, i, i * 2);
        put_int(no, i, i * 2);
    }
    kl_cache_stats s;
    kl_cache_stats_get(inf, &s);
    assert_int_equal(s.size, 5000);
    assert_int_equal(s.evictions, 0);
    for (int i = 0; i < 5000; i += 97)
        assert_int_equal(get_int(inf, i), i * 2);
    kl_cache_stats_get(no, &s);
    assert_int_equal(s.size, 0);
    assert_int_equal(get_int(no, 1), -1);
    kl_cache_free(inf);
    kl_cache_free(no);
}

static void sharded_cache_stays_within_maxsize(void **state)
{
    (void)state;
    kl_cache *c = make("lru", 4096, 0); /* automatic sharding */
    for (int i = 0; i < 20000; i++)
        put_int(c, i, i);
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_true(s.size <= 4096);
    assert_true(s.size > 3500); /* shards fill evenly enough */
    assert_int_equal(s.evictions, 20000 - s.size);
    assert_int_equal(get_int(c, 19999), 19999);
    kl_cache_free(c);
}

static void byte_budget_evicts_before_entry_limit(void **state)
{
    (void)state;
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.maxsize = 1000;
    o.maxbytes = 8192;
    o.shards = 1;
    kl_cache *c;
    KT_OK(kl_cache_new(&c, &o));
    uint8_t big[1000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 50; i++) {
        uint8_t k = (uint8_t)i; /* CBOR small int 0..23 is one byte; use raw bytes */
        KT_OK(kl_cache_put(c, &k, 1, big, sizeof big));
    }
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_true(s.bytes <= 8192);
    assert_true(s.size < 9 && s.size >= 6);
    assert_true(s.evictions >= 41);
    /* an entry larger than the whole budget is refused */
    uint8_t huge[9000] = {0};
    uint8_t k = 200;
    assert_int_equal(kl_cache_put(c, &k, 1, huge, sizeof huge), KL_ETOOBIG);
    kl_cache_free(c);
}

static void ttl_expires_entries(void **state)
{
    (void)state;
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.ttl = 0.05;
    kl_cache *c;
    KT_OK(kl_cache_new(&c, &o));
    put_int(c, 1, 1);
    put_int(c, 2, 2);
    assert_int_equal(get_int(c, 1), 1);
    usleep(120 * 1000);
    assert_int_equal(get_int(c, 1), -1); /* lazily removed on lookup */
    assert_int_equal(kl_cache_sweep(c), 1); /* key 2 removed by the sweep */
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.expirations, 2);
    assert_int_equal(s.size, 0);
    kl_cache_free(c);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    kl_cache *c = NULL;
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.policy = "bogus";
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "bogus"));
    o = (kl_cache_opts)KL_CACHE_OPTS_INIT;
    o.ttl = -1;
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    o.ttl = 0; /* zero is a mistake, not "forever" */
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "ttl"));
    o.ttl = NAN;
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    o = (kl_cache_opts)KL_CACHE_OPTS_INIT;
    o.maxsize = (size_t)1 << 50;
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "maxsize"));
    o = (kl_cache_opts)KL_CACHE_OPTS_INIT;
    o.shards = 3;
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    o = (kl_cache_opts)KL_CACHE_OPTS_INIT;
    o.maxbytes = 10;
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    o = (kl_cache_opts)KL_CACHE_OPTS_INIT;
    o.version = 99;
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "cache: options version 99 unknown (this library knows 1 to"));
    o.version = 0;
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    assert_null(c);
}

static void archive_is_written_through_and_loaded(void **state)
{
    (void)state;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:cache-test-1", NULL));
    kl_cache *c = make("lru", 2, 0);
    KT_OK(kl_cache_set_archive(c, ar));
    for (int i = 0; i < 5; i++)
        put_int(c, i, 100 + i);
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 5); /* every result reached the archive */
    assert_int_equal(get_int(c, 0), 100); /* evicted from memory: a load */
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.load, 1);
    assert_int_equal(s.size, 2);

    /* forget removes from memory and archive */
    uint8_t kb[4];
    kl_enc e;
    kl_enc_init(&e, kb, sizeof kb, 0);
    kl_enc_int(&e, 0);
    KT_OK(kl_cache_forget(c, kb, e.len));
    assert_int_equal(kl_archive_contains(ar, kb, e.len), 0);
    assert_int_equal(kl_cache_forget(c, kb, e.len), KL_ENOTFOUND);

    /* a fresh cache loads the archive */
    kl_cache *c2 = make("inf", KL_CACHE_UNBOUNDED, 0);
    KT_OK(kl_cache_set_archive(c2, ar));
    size_t loaded;
    KT_OK(kl_cache_load(c2, &loaded));
    assert_int_equal(loaded, 4);
    kl_cache_free(c2);
    kl_cache_free(c);
    KT_OK(kl_archive_drop(ar));
}

static void write_back_writes_on_eviction_and_free(void **state)
{
    (void)state;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:cache-test-2", NULL));
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.maxsize = 3;
    o.write_back = true;
    kl_cache *c;
    KT_OK(kl_cache_new(&c, &o));
    KT_OK(kl_cache_set_archive(c, ar));
    for (int i = 0; i < 5; i++)
        put_int(c, i, i);
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 2); /* only the two evicted ones so far */
    KT_OK(kl_cache_free(c));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 5); /* the rest on a clean close */
    KT_OK(kl_archive_drop(ar));
}

static void purge_dumps_everything_and_empties(void **state)
{
    (void)state;
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:cache-test-3", NULL));
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.maxsize = 4;
    o.purge = true;
    o.write_back = true;
    kl_cache *c;
    KT_OK(kl_cache_new(&c, &o));
    KT_OK(kl_cache_set_archive(c, ar));
    for (int i = 0; i < 5; i++)
        put_int(c, i, i);
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.size, 0);
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 5);
    kl_cache_free(c);
    KT_OK(kl_archive_drop(ar));
}

static void failed_archive_write_never_loses_an_entry(void **state)
{
    (void)state;
    kl_archive *ar;
    kl_archive_opts ao = KL_ARCHIVE_OPTS_INIT;
    ao.read_only = true;
    KT_OK(kl_archive_open(&ar, "mem:cache-test-ro", &ao));
    kl_cache *c = make("lru", 2, 0);
    KT_OK(kl_cache_set_archive(c, ar));
    uint8_t k = 1, v = 2;
    int rc = kl_cache_put(c, &k, 1, &v, 1);
    assert_int_equal(rc, KL_EPERM);
    k = 2;
    kl_cache_put(c, &k, 1, &v, 1);
    k = 3;
    kl_cache_put(c, &k, 1, &v, 1);
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.size, 3); /* over the limit rather than dropping unsaved data */
    assert_true(s.errors >= 3);
    assert_int_equal(s.evictions, 0);
    kl_cache_free(c);
    kl_archive_close(ar);
}

static void acquire_hands_out_one_ticket(void **state)
{
    (void)state;
    kl_cache *c = make("lru", 10, 0);
    kl_buf v = KL_BUF_INIT;
    kl_cache_ticket *t;
    uint8_t k = 5;
    assert_int_equal(kl_cache_acquire(c, &k, 1, &v, &t), 1);
    assert_non_null(t);
    uint8_t val[3] = {0x63, 'a', 'b'};
    KT_OK(kl_cache_fulfil(t, val, 3));
    assert_int_equal(kl_cache_acquire(c, &k, 1, &v, &t), 0);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.data, val, 3);
    /* an abandoned computation stores nothing */
    k = 6;
    assert_int_equal(kl_cache_acquire(c, &k, 1, &v, &t), 1);
    kl_cache_abandon(t, KL_EFUNC);
    assert_int_equal(kl_cache_acquire(c, &k, 1, &v, &t), 1);
    kl_cache_abandon(t, KL_EFUNC);
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.miss, 3);
    assert_int_equal(s.hit, 1);
    kl_buf_free(&v);
    kl_cache_free(c);
}

/* take for kl_cache_acquire_take: an integer value into *ctx, anything
 * else refused. */
static int take_int(void *ctx, const uint8_t *v, size_t n)
{
    return kl_decode_int64(v, n, ctx) != 0;
}

/* kl_cache_acquire_take shows a found value's bytes to take in place — a
 * hit, a value another call stored, a load from the archive — and says
 * when take refused them (found and counted, nothing stored over it). */
static void acquire_take_hands_over_the_bytes(void **state)
{
    (void)state;
    kl_cache *c = make("lru", 10, 0);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, "mem:cache-take", NULL));
    KT_OK(kl_cache_set_archive(c, ar));
    put_int(c, 1, 100);
    uint8_t text[3] = {0x62, 'n', 'o'}; /* CBOR "no" */
    uint8_t k = 2;
    KT_OK(kl_cache_put(c, &k, 1, text, sizeof text));
    uint8_t kb[16];
    kl_enc ek;
    kl_enc_init(&ek, kb, sizeof kb, 0);
    kl_enc_int(&ek, 1);
    int64_t out = 0;
    kl_cache_ticket *t = NULL;
    assert_int_equal(kl_cache_acquire_take(c, kb, ek.len, take_int, &out, &t), 0);
    assert_int_equal(out, 100);
    assert_null(t);
    assert_int_equal(kl_cache_acquire_take(c, &k, 1, take_int, &out, &t), 2);
    assert_null(t);
    /* a miss: the ticket; then the stored value is taken */
    k = 3;
    assert_int_equal(kl_cache_acquire_take(c, &k, 1, take_int, &out, &t), 1);
    assert_non_null(t);
    uint8_t seven = 0x07;
    KT_OK(kl_cache_fulfil(t, &seven, 1));
    assert_int_equal(kl_cache_acquire_take(c, &k, 1, take_int, &out, &t), 0);
    assert_int_equal(out, 7);
    /* from the archive after the memory is emptied */
    KT_OK(kl_cache_clear(c, false));
    out = 0;
    assert_int_equal(kl_cache_acquire_take(c, kb, ek.len, take_int, &out, &t), 0);
    assert_int_equal(out, 100);
    k = 2;
    assert_int_equal(kl_cache_acquire_take(c, &k, 1, take_int, &out, &t), 2);
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.load, 2);
    assert_int_equal(s.miss, 0);
    KT_OK(kl_cache_set_archive(c, NULL));
    kl_cache_free(c);
    KT_OK(kl_archive_close(ar));
}

/* Entries of many sizes (small ones sharing memory, big ones alone) are
 * replaced, evicted and forgotten over and over; every value read back
 * is the one last stored under its key, byte for byte. */
static void churn_of_mixed_sizes_keeps_values_intact(void **state)
{
    (void)state;
    enum { KEYS = 600, ROUNDS = 6000 };
    kl_cache *c = make("lru", 200, 4);
    static uint8_t want[KEYS][1200];
    static size_t wlen[KEYS];
    static bool have[KEYS];
    uint8_t val[1200];
    kl_buf out = KL_BUF_INIT;
    uint64_t r = 12345;
    for (int i = 0; i < ROUNDS; i++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        int k = (int)((r >> 33) % KEYS);
        char key[32];
        /* key lengths vary per key, so entry sizes vary */
        int klen = snprintf(key, sizeof key, "key-%d%.*s", k, k % 13, "xxxxxxxxxxxxxxx");
        int op = (int)((r >> 20) % 8);
        if (op < 4) { /* store: sizes 0..40, or big ones now and then */
            size_t n = ((r >> 40) % 16 == 0) ? 513 + (r >> 44) % 600 : (r >> 44) % 41;
            for (size_t j = 0; j < n; j++)
                val[j] = (uint8_t)(k + j * 7 + i);
            KT_OK(kl_cache_put(c, key, (size_t)klen, val, n));
            memcpy(want[k], val, n);
            wlen[k] = n;
            have[k] = true;
        } else if (op == 4) {
            int rc = kl_cache_forget(c, key, (size_t)klen);
            assert_true(rc == 0 || rc == KL_ENOTFOUND);
            have[k] = false;
        } else {
            int rc = kl_cache_get(c, key, (size_t)klen, &out, false);
            if (rc == 0) {
                assert_true(have[k]); /* never a value for a forgotten key */
                assert_int_equal(out.len, wlen[k]);
                if (wlen[k])
                    assert_memory_equal(out.data, want[k], wlen[k]);
            } else {
                assert_int_equal(rc, KL_ENOTFOUND); /* evicted, or never stored */
            }
        }
    }
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_true(s.size <= 200);
    assert_true(s.evictions > 0);
    KT_OK(kl_cache_clear(c, true));
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.size, 0);
    assert_int_equal(s.bytes, 0);
    KT_OK(kl_cache_put(c, "again", 5, "v", 1)); /* usable after clear */
    KT_OK(kl_cache_get(c, "again", 5, &out, false));
    assert_memory_equal(out.data, "v", 1);
    kl_buf_free(&out);
    kl_cache_free(c);
}

static void clear_resets_or_keeps_statistics(void **state)
{
    (void)state;
    kl_cache *c = make("lfu", 10, 0);
    put_int(c, 1, 1);
    get_int(c, 1);
    get_int(c, 2);
    KT_OK(kl_cache_clear(c, true));
    kl_cache_stats s;
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.size, 0);
    assert_int_equal(s.hit, 1);
    assert_int_equal(s.miss, 1);
    KT_OK(kl_cache_clear(c, false));
    kl_cache_stats_get(c, &s);
    assert_int_equal(s.hit + s.miss, 0);
    kl_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lru_evicts_least_recently_used),
        cmocka_unit_test(replacing_a_key_keeps_one_entry),
        cmocka_unit_test(inf_keeps_everything_and_no_keeps_nothing),
        cmocka_unit_test(sharded_cache_stays_within_maxsize),
        cmocka_unit_test(byte_budget_evicts_before_entry_limit),
        cmocka_unit_test(ttl_expires_entries),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(archive_is_written_through_and_loaded),
        cmocka_unit_test(write_back_writes_on_eviction_and_free),
        cmocka_unit_test(purge_dumps_everything_and_empties),
        cmocka_unit_test(failed_archive_write_never_loses_an_entry),
        cmocka_unit_test(acquire_hands_out_one_ticket),
        cmocka_unit_test(acquire_take_hands_over_the_bytes),
        cmocka_unit_test(clear_resets_or_keeps_statistics),
        cmocka_unit_test(churn_of_mixed_sizes_keeps_values_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
