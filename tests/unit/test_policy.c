/* SPDX-License-Identifier: BSD-3-Clause */
/* Eviction policies, driven through the harness of policy_harness.h that
 * plays the cache's part.  Checked two ways here: hand-computed hit counts
 * on tiny traces, and identical hit counts against obviously-correct
 * reference models (arrays and linear scans) on random traces with
 * deletes; plus the registry, random replacement's seeding and the edge
 * cases every policy owes the cache.  The miss ratios on Zipf and
 * synthetic workloads are in test_policy_workloads.c. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/error.h"
#include "klepto/sys/policy.h"
#include "policy_harness.h"
#include "zipf.h"

/* ---------------------------------------------------------------- */
/* Golden counts on hand-checked traces                              */

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A loop one key longer than the cache: 1 2 3 4 x3, capacity 3.
 * LRU and FIFO always evict the key needed next: 0 hits.
 * LFU: every count is 1 when a victim is needed, so ties go LRU: 0 hits.
 * MRU (newcomer excluded): 4 evicts 3 -> {1,2,4}; 1 H, 2 H; 3 evicts 2 ->
 * {1,4,3}; 4 H, 1 H; 2 evicts 1 -> {4,3,2}; 3 H, 4 H: 6 hits.
 * SIEVE: no bit is ever set before its key is evicted, so the hand
 * evicts in FIFO order: 0 hits. */
static void loop_larger_than_cache_defeats_lru_fifo_but_not_mru(void **state)
{
    (void)state;
    static const int64_t t[] = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4};
    assert_int_equal(kt_run_hits("lru", 3, t, N(t)), 0);
    assert_int_equal(kt_run_hits("fifo", 3, t, N(t)), 0);
    assert_int_equal(kt_run_hits("lfu", 3, t, N(t)), 0);
    assert_int_equal(kt_run_hits("mru", 3, t, N(t)), 6);
    assert_int_equal(kt_run_hits("sieve", 3, t, N(t)), 0);
}

/* Skewed stream, capacity 2: 1 1 1 2 2 3 3 3 3 1 2.
 * LFU: 1 reaches 3, 2 reaches 2; 3 evicts 2 (lower count) -> {1:3, 3:1};
 * 3 3 3 hit (3:4); 1 hits (1:4); 2 ties 1:4 vs 3:4, LRU of the two is 3.
 * Hits: 1 1 . 2 . 3 3 3 1 -> 7.
 * LRU: 3 evicts 1 (used last at #3) -> {2,3}; 1 misses, 2 misses: 6 hits.
 * FIFO: 3 evicts 1, 1 evicts 2, 2 evicts 3: 6 hits.
 * MRU: 3 evicts 2 (most recent) -> {1,3}; 3 3 3 hit, 1 hits, then 2
 * evicts 1: 7 hits. */
static void lfu_keeps_the_frequent_key_on_a_skewed_stream(void **state)
{
    (void)state;
    static const int64_t t[] = {1, 1, 1, 2, 2, 3, 3, 3, 3, 1, 2};
    assert_int_equal(kt_run_hits("lfu", 2, t, N(t)), 7);
    assert_int_equal(kt_run_hits("lru", 2, t, N(t)), 6);
    assert_int_equal(kt_run_hits("fifo", 2, t, N(t)), 6);
    assert_int_equal(kt_run_hits("mru", 2, t, N(t)), 7);
}

/* Two hot keys, a scan, the hot keys again; capacity 3:
 * 1 2 1 2 3 4 5 6 1 2.
 * LRU: 4 evicts 1, 5 evicts 2, so both come back as misses: 2 hits.
 * FIFO: the same evictions: 2 hits.
 * LFU: 1 and 2 have count 2, each scan key evicts the previous one: 4.
 * MRU: each scan key evicts the previous scan key: 4 hits.
 * SIEVE: 1 and 2 are visited; the hand clears them and evicts 3, then
 * stops on 4, then 5: 1 and 2 survive: 4 hits.
 * S3-FIFO (small queue of 1): at 4's arrival 1 and 2 were read again in
 * the small queue, so they move to main and 3 leaves; 5 evicts 4, 6
 * evicts 5: 4 hits. */
static void scan_does_not_flush_hot_keys_from_scan_resistant_policies(void **state)
{
    (void)state;
    static const int64_t t[] = {1, 2, 1, 2, 3, 4, 5, 6, 1, 2};
    assert_int_equal(kt_run_hits("lru", 3, t, N(t)), 2);
    assert_int_equal(kt_run_hits("fifo", 3, t, N(t)), 2);
    assert_int_equal(kt_run_hits("lfu", 3, t, N(t)), 4);
    assert_int_equal(kt_run_hits("mru", 3, t, N(t)), 4);
    assert_int_equal(kt_run_hits("sieve", 3, t, N(t)), 4);
    assert_int_equal(kt_run_hits("s3fifo", 3, t, N(t)), 4);
}

/* W-TinyLFU admission: capacity 100 (window 1, main 99); keys 0-89 are
 * read five times, then 300 keys are seen once each (fewer accesses than
 * the sketch's aging period).  A newcomer's estimated count (1) loses to a
 * hot key's (5), so the hot keys stay — LRU keeps none of them.  The
 * sketch may overestimate a newcomer through collisions (all four of its
 * counters shared with hot keys: ~1 in 1000), hence "almost all". */
static void wtinylfu_refuses_one_hit_wonders(void **state)
{
    (void)state;
    static const char *const pol[] = {"wtinylfu", "lru"};
    uint64_t kept[2];
    for (int p = 0; p < 2; p++) {
        kt_harness h;
        kt_harness_open(&h, pol[p], 100, 1000, 3);
        for (int r = 0; r < 5; r++)
            for (int64_t k = 0; k < 90; k++)
                kt_harness_access(&h, k);
        for (int64_t k = 100; k < 400; k++)
            kt_harness_access(&h, k);
        uint64_t before = h.hits;
        for (int64_t k = 0; k < 90; k++)
            kt_harness_access(&h, k);
        kept[p] = h.hits - before;
        kt_harness_close(&h);
    }
    assert_true(kept[0] >= 85);
    assert_int_equal(kept[1], 0);
}

/* ---------------------------------------------------------------- */
/* Reference models: arrays and linear scans                         */

typedef struct {
    int64_t key;
    uint64_t use, freq;
    int visited; /* sieve */
    int freq3;   /* s3fifo: 0..3 */
} rent;

typedef struct {
    const char *policy;
    size_t cap, gcap, small_target;
    /* lru, mru, lfu, fifo, sieve: one array, oldest insertion first */
    rent *a;
    size_t n;
    /* s3fifo: two queues, oldest first */
    rent *sq, *mq;
    size_t ns, nm;
    uint64_t *ghost; /* oldest first */
    size_t ng;
    int64_t fresh; /* key inserted last, -1 when gone */
    long hand;     /* sieve: index, -1 = start at the oldest */
    uint64_t tick, hits, misses;
    int fresh_in_main;
} refc;

static void ref_open(refc *r, const char *policy, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->policy = policy;
    r->cap = cap;
    r->a = calloc(cap + 1, sizeof *r->a);
    r->sq = calloc(cap + 1, sizeof *r->sq);
    r->mq = calloc(cap + 1, sizeof *r->mq);
    r->small_target = cap / 10 ? cap / 10 : 1;
    r->gcap = cap > r->small_target ? cap - r->small_target : 1;
    r->ghost = calloc(r->gcap, sizeof *r->ghost);
    r->fresh = -1;
    r->hand = -1;
}

static void ref_close(refc *r)
{
    free(r->a);
    free(r->sq);
    free(r->mq);
    free(r->ghost);
}

static long find(rent *a, size_t n, int64_t k)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].key == k)
            return (long)i;
    return -1;
}

static void erase(rent *a, size_t *n, size_t i)
{
    memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof *a);
    (*n)--;
}

/* The ghost as the policy defines it: a FIFO of up to `gcap` hashes, a
 * hash kept once (its newest copy); a removed hash leaves no slot behind
 * (it used to hold one until the oldest slot passed it, which made the
 * ghost forget early when many ghosts were hit). */
static uint64_t gkey(int64_t k)
{
    uint64_t h = kt_key_hash(k) & ~(uint64_t)7;
    return h ? h : 1;
}

static int ghost_take(refc *r, uint64_t g)
{
    for (size_t i = 0; i < r->ng; i++)
        if (r->ghost[i] == g) {
            memmove(r->ghost + i, r->ghost + i + 1, (r->ng - i - 1) * sizeof *r->ghost);
            r->ng--;
            return 1;
        }
    return 0;
}

static void ghost_put(refc *r, uint64_t g)
{
    ghost_take(r, g);
    if (r->ng == r->gcap) {
        memmove(r->ghost, r->ghost + 1, (r->ng - 1) * sizeof *r->ghost);
        r->ng--;
    }
    r->ghost[r->ng++] = g;
}

/* Remove key k from the model (eviction when `evicted`, else a delete). */
static void ref_remove(refc *r, int64_t k, int evicted)
{
    if (r->fresh == k)
        r->fresh = -1;
    if (strcmp(r->policy, "s3fifo") == 0) {
        long i = find(r->sq, r->ns, k);
        if (i >= 0) {
            erase(r->sq, &r->ns, (size_t)i);
            if (evicted)
                ghost_put(r, gkey(k));
        } else {
            i = find(r->mq, r->nm, k);
            assert_true(i >= 0);
            erase(r->mq, &r->nm, (size_t)i);
        }
        return;
    }
    long i = find(r->a, r->n, k);
    assert_true(i >= 0);
    if (strcmp(r->policy, "sieve") == 0 && r->hand >= 0) {
        if (r->hand == i)
            r->hand = i == (long)r->n - 1 ? -1 : i; /* the next newer one */
        else if (r->hand > i)
            r->hand--;
    }
    erase(r->a, &r->n, (size_t)i);
}

/* Index of the victim in r->a (not s3fifo). */
static size_t ref_victim(refc *r)
{
    const char *p = r->policy;
    size_t best = SIZE_MAX;
    if (r->n == 1)
        return 0;
    if (strcmp(p, "sieve") == 0) {
        long i = r->hand >= 0 ? r->hand : 0;
        for (;;) {
            if (r->a[i].key != r->fresh) {
                if (!r->a[i].visited) {
                    r->hand = i;
                    return (size_t)i;
                }
                r->a[i].visited = 0;
            }
            i = i + 1 == (long)r->n ? 0 : i + 1;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        rent *e = &r->a[i];
        if (strcmp(p, "fifo") == 0)
            return 0;
        if (strcmp(p, "lru") == 0) {
            if (best == SIZE_MAX || e->use < r->a[best].use)
                best = i;
        } else if (e->key == r->fresh) {
            continue;
        } else if (strcmp(p, "mru") == 0) {
            if (best == SIZE_MAX || e->use > r->a[best].use)
                best = i;
        } else if (strcmp(p, "lfu") == 0) {
            if (best == SIZE_MAX || e->freq < r->a[best].freq ||
                (e->freq == r->a[best].freq && e->use < r->a[best].use))
                best = i;
        }
    }
    return best;
}

/* S3-FIFO victim key, following the published algorithm. */
static int64_t ref_s3_victim(refc *r)
{
    for (;;) {
        int fresh_small = r->fresh >= 0 && find(r->sq, r->ns, r->fresh) >= 0;
        int fresh_main = r->fresh >= 0 && !fresh_small;
        size_t ns = r->ns - (size_t)fresh_small, nm = r->nm - (size_t)fresh_main;
        if (ns > 0 && (ns >= r->small_target || nm == 0)) {
            rent t = r->sq[0];
            if (t.freq3 > 0) {
                erase(r->sq, &r->ns, 0);
                t.freq3 = 0;
                r->mq[r->nm++] = t;
                continue;
            }
            return t.key;
        }
        if (nm > 0) {
            rent t = r->mq[0];
            if (t.key == r->fresh || t.freq3 > 0) {
                erase(r->mq, &r->nm, 0);
                if (t.key != r->fresh)
                    t.freq3--;
                r->mq[r->nm++] = t;
                continue;
            }
            return t.key;
        }
        return r->fresh;
    }
}

static int ref_access(refc *r, int64_t k)
{
    r->tick++;
    if (strcmp(r->policy, "s3fifo") == 0) {
        long i = find(r->sq, r->ns, k);
        rent *e = i >= 0 ? &r->sq[i] : NULL;
        if (!e) {
            i = find(r->mq, r->nm, k);
            e = i >= 0 ? &r->mq[i] : NULL;
        }
        if (e) {
            if (e->freq3 < 3)
                e->freq3++;
            r->hits++;
            return 1;
        }
        r->misses++;
        rent ne = {.key = k};
        if (ghost_take(r, gkey(k)))
            r->mq[r->nm++] = ne;
        else
            r->sq[r->ns++] = ne;
        r->fresh = k;
        while (r->ns + r->nm > r->cap)
            ref_remove(r, ref_s3_victim(r), 1);
        return 0;
    }
    long i = find(r->a, r->n, k);
    if (i >= 0) {
        r->a[i].use = r->tick;
        r->a[i].freq++;
        r->a[i].visited = 1;
        r->hits++;
        return 1;
    }
    r->misses++;
    r->a[r->n++] = (rent){.key = k, .use = r->tick, .freq = 1};
    r->fresh = k;
    while (r->n > r->cap)
        ref_remove(r, r->a[ref_victim(r)].key, 1);
    return 0;
}

static void ref_delete(refc *r, int64_t k)
{
    if (strcmp(r->policy, "s3fifo") == 0) {
        if (find(r->sq, r->ns, k) >= 0 || find(r->mq, r->nm, k) >= 0)
            ref_remove(r, k, 0);
    } else if (find(r->a, r->n, k) >= 0) {
        ref_remove(r, k, 0);
    }
}

static void deterministic_policies_match_reference_models(void **state)
{
    (void)state;
    static const char *const policies[] = {"lru", "mru", "lfu", "fifo", "sieve", "s3fifo"};
    static const size_t caps[] = {1, 2, 3, 7, 20, 64};
    for (size_t p = 0; p < N(policies); p++)
        for (size_t c = 0; c < N(caps); c++)
            for (uint64_t seed = 1; seed <= 4; seed++) {
                size_t cap = caps[c], nkeys = 3 * cap + 3;
                kt_harness h;
                refc r;
                kt_rng g = {seed * 1000 + cap};
                kt_harness_open(&h, policies[p], cap, nkeys, seed);
                ref_open(&r, policies[p], cap);
                for (int step = 0; step < 4000; step++) {
                    /* Skewed keys (a square of a uniform) so that
                     * frequencies and recency both matter. */
                    double u = kt_rng_unit(&g);
                    int64_t k = (int64_t)(u * u * (double)nkeys);
                    if (kt_rng_below(&g, 20) == 0) {
                        kt_harness_delete(&h, k);
                        ref_delete(&r, k);
                        continue;
                    }
                    int a = kt_harness_access(&h, k), b = ref_access(&r, k);
                    if (a != b)
                        fail_msg("%s cap=%zu seed=%llu: step %d key %lld: policy %s, "
                                 "reference %s",
                                 policies[p], cap, (unsigned long long)seed, step, (long long)k,
                                 a ? "hit" : "miss", b ? "hit" : "miss");
                }
                assert_int_equal(h.hits, r.hits);
                assert_int_equal(h.count, (strcmp(policies[p], "s3fifo") == 0 ? r.ns + r.nm : r.n));
                kt_harness_close(&h);
                ref_close(&r);
            }
}

/* ARC as the paper states it, on arrays (index 0 = LRU), with the ghost
 * lists kept as the policy keeps them (a FIFO of up to c hashes each). */
typedef struct {
    uint64_t *g; /* oldest first */
    size_t n, cap;
} rghost;

static uint64_t gnorm(uint64_t h) { return h ? h : 1; }

static int rg_take(rghost *r, uint64_t h)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->g[i] == h) {
            memmove(r->g + i, r->g + i + 1, (r->n - i - 1) * sizeof *r->g);
            r->n--;
            return 1;
        }
    return 0;
}

static int rg_has(const rghost *r, uint64_t h)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->g[i] == h)
            return 1;
    return 0;
}

static size_t rg_live(const rghost *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->g[i] != 0;
    return n;
}

static void rg_shift(rghost *r)
{
    memmove(r->g, r->g + 1, (r->n - 1) * sizeof *r->g);
    r->n--;
}

static void rg_put(rghost *r, uint64_t h)
{
    rg_take(r, h);
    if (r->n == r->cap)
        rg_shift(r);
    r->g[r->n++] = h;
}

static void rg_pop(rghost *r)
{
    while (r->n && r->g[0] == 0)
        rg_shift(r);
    if (r->n)
        rg_shift(r);
}

typedef struct {
    size_t c, p, n1, n2;
    int64_t *t1, *t2;
    rghost b1, b2;
    int64_t fresh;
    int fresh_b2, drop_t1;
    uint64_t hits;
} arcref;

static void arcref_open(arcref *r, size_t c)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->t1 = calloc(c + 1, sizeof *r->t1);
    r->t2 = calloc(c + 1, sizeof *r->t2);
    r->b1 = (rghost){calloc(c, sizeof(uint64_t)), 0, c};
    r->b2 = (rghost){calloc(c, sizeof(uint64_t)), 0, c};
    r->fresh = -1;
}

static void arcref_close(arcref *r)
{
    free(r->t1);
    free(r->t2);
    free(r->b1.g);
    free(r->b2.g);
}

static long kfind(const int64_t *a, size_t n, int64_t k)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == k)
            return (long)i;
    return -1;
}

static void kerase(int64_t *a, size_t *n, size_t i)
{
    memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof *a);
    (*n)--;
}

static uint64_t arc_gkey(int64_t k) { return gnorm(kt_key_hash(k) & ~(uint64_t)1); }

/* Remove k; with `ghost`, its hash joins the ghost of its list. */
static void arcref_remove(arcref *r, int64_t k, int ghost)
{
    long i = kfind(r->t1, r->n1, k);
    if (r->fresh == k)
        r->fresh = -1;
    if (i >= 0) {
        kerase(r->t1, &r->n1, (size_t)i);
        if (ghost)
            rg_put(&r->b1, arc_gkey(k));
        return;
    }
    i = kfind(r->t2, r->n2, k);
    assert_true(i >= 0);
    kerase(r->t2, &r->n2, (size_t)i);
    if (ghost)
        rg_put(&r->b2, arc_gkey(k));
}

static int arcref_access(arcref *r, int64_t k)
{
    long i = kfind(r->t1, r->n1, k);
    if (i >= 0) {
        kerase(r->t1, &r->n1, (size_t)i);
        r->t2[r->n2++] = k;
        r->hits++;
        return 1;
    }
    i = kfind(r->t2, r->n2, k);
    if (i >= 0) {
        kerase(r->t2, &r->n2, (size_t)i);
        r->t2[r->n2++] = k;
        r->hits++;
        return 1;
    }
    uint64_t h = arc_gkey(k);
    size_t l1 = rg_live(&r->b1), l2 = rg_live(&r->b2);
    r->fresh_b2 = r->drop_t1 = 0;
    if (rg_has(&r->b1, h)) {
        size_t d = l1 && l2 / l1 > 1 ? l2 / l1 : 1;
        r->p = r->p + d < r->c ? r->p + d : r->c;
        rg_take(&r->b1, h);
        r->t2[r->n2++] = k;
    } else if (rg_has(&r->b2, h)) {
        size_t d = l2 && l1 / l2 > 1 ? l1 / l2 : 1;
        r->p = r->p > d ? r->p - d : 0;
        rg_take(&r->b2, h);
        r->fresh_b2 = 1;
        r->t2[r->n2++] = k;
    } else {
        if (r->n1 + l1 >= r->c) {
            if (r->n1 < r->c)
                rg_pop(&r->b1);
            else
                r->drop_t1 = 1;
        } else if (r->n1 + r->n2 + l1 + l2 >= 2 * r->c) {
            rg_pop(&r->b2);
        }
        r->t1[r->n1++] = k;
    }
    r->fresh = k;
    while (r->n1 + r->n2 > r->c) {
        int fresh_t1 = kfind(r->t1, r->n1, k) >= 0;
        size_t n1 = r->n1 - (size_t)fresh_t1;
        int64_t from1 = r->n1 && r->t1[0] != r->fresh ? r->t1[0] : -1;
        int64_t from2 = r->n2 && r->t2[0] != r->fresh ? r->t2[0] : -1;
        if (r->drop_t1 && from1 >= 0) {
            r->drop_t1 = 0;
            arcref_remove(r, from1, 0);
        } else if (n1 >= 1 && ((r->fresh_b2 && n1 == r->p) || n1 > r->p)) {
            arcref_remove(r, from1, 1);
        } else {
            int64_t v = from2 >= 0 ? from2 : from1 >= 0 ? from1 : r->fresh;
            arcref_remove(r, v, 1);
        }
    }
    return 0;
}

static void arcref_delete(arcref *r, int64_t k)
{
    if (kfind(r->t1, r->n1, k) >= 0 || kfind(r->t2, r->n2, k) >= 0)
        arcref_remove(r, k, 0);
}

static void arc_matches_its_reference_model(void **state)
{
    (void)state;
    static const size_t caps[] = {1, 2, 3, 7, 20, 64};
    for (size_t c = 0; c < N(caps); c++)
        for (uint64_t seed = 1; seed <= 4; seed++) {
            size_t cap = caps[c], nkeys = 3 * cap + 3;
            kt_harness h;
            arcref r;
            kt_rng g = {seed * 7919 + cap};
            kt_harness_open(&h, "arc", cap, nkeys, seed);
            arcref_open(&r, cap);
            for (int step = 0; step < 4000; step++) {
                double u = kt_rng_unit(&g);
                int64_t k = (int64_t)(u * u * (double)nkeys);
                if (kt_rng_below(&g, 20) == 0) {
                    kt_harness_delete(&h, k);
                    arcref_delete(&r, k);
                    continue;
                }
                int a = kt_harness_access(&h, k), b = arcref_access(&r, k);
                if (a != b)
                    fail_msg("arc cap=%zu seed=%llu: step %d key %lld: policy %s, reference %s",
                             cap, (unsigned long long)seed, step, (long long)k, a ? "hit" : "miss",
                             b ? "hit" : "miss");
            }
            assert_int_equal(h.hits, r.hits);
            assert_int_equal(h.count, r.n1 + r.n2);
            kt_harness_close(&h);
            arcref_close(&r);
        }
}

/* ---------------------------------------------------------------- */
/* Random replacement                                                */

static uint64_t rr_hits(uint64_t seed, const int64_t *t, size_t n, size_t cap, size_t nkeys)
{
    kt_harness h;
    kt_harness_open(&h, "rr", cap, nkeys, seed);
    for (size_t i = 0; i < n; i++)
        kt_harness_access(&h, t[i]);
    uint64_t hits = h.hits;
    kt_harness_close(&h);
    return hits;
}

/* Same seed, same run; another seed, another run; and on a loop larger
 * than the cache, where LRU gets nothing, random eviction keeps some. */
static void rr_is_reproducible_per_seed_and_random_across_seeds(void **state)
{
    (void)state;
    enum { n = 20000, nkeys = 120 };
    int64_t *t = malloc(n * sizeof *t);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        t[i] = (int64_t)(i % nkeys);
    uint64_t a = rr_hits(42, t, n, 100, nkeys), b = rr_hits(42, t, n, 100, nkeys);
    uint64_t c = rr_hits(43, t, n, 100, nkeys);
    assert_int_equal(a, b);
    assert_int_not_equal(a, c);
    assert_true(a > n / 4);
    assert_int_equal(kt_run_hits("lru", 100, t, 1000), 0);
    free(t);
}

/* LIRS, capacity 3: 2 LIR entries + 1 resident HIR.  Loop 1 2 3 4 x3:
 * 1, 2 become LIR (warm-up), 3 and 4 HIR; 4 evicts 3, which stays in S as
 * non-resident.  1 and 2 hit; the hit on 2 (S's bottom) prunes S down to
 * [2 1].  Each later round: 3 evicts 4, 4 evicts 3, 1 and 2 hit: 2 + 2 = 4
 * hits, where LRU, FIFO and ARC keep none. */
static void lirs_keeps_its_lir_set_through_a_loop(void **state)
{
    (void)state;
    const int64_t t[] = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4};
    assert_int_equal(kt_run_hits("lirs", 3, t, N(t)), 4);
    assert_int_equal(kt_run_hits("lru", 3, t, N(t)), 0);
    assert_int_equal(kt_run_hits("arc", 3, t, N(t)), 0);
}

/* LIRS, capacity 3, 1 2 3 4 3 1 2 4 1 3:
 * 1 2 LIR; 3 HIR; 4 evicts 3 (non-resident in S = [4 g3 2 1]).
 * 3 misses but is in S: it becomes LIR, 1 (S's bottom) is demoted to Q,
 *   and Q's oldest, 4, is evicted (non-resident: S = [3 g4 2]).
 * 1 hits (HIR, not in S: top of S, end of Q); 2 hits (bottom LIR: pruning
 *   drops g4).  4 misses (HIR) and evicts 1 (non-resident).  1 misses, is
 *   in S, becomes LIR and demotes 3; 4 is evicted.  3 hits: 3 hits.
 * LRU: only 3 (5th) and 1 (9th) hit: 2. */
static void lirs_promotes_a_key_remembered_as_non_resident(void **state)
{
    (void)state;
    const int64_t t[] = {1, 2, 3, 4, 3, 1, 2, 4, 1, 3};
    assert_int_equal(kt_run_hits("lirs", 3, t, N(t)), 3);
    assert_int_equal(kt_run_hits("lru", 3, t, N(t)), 2);
}

/* Capacity 1 and 2 are exact for LIRS too: with one entry only immediate
 * repeats hit; a single key always hits after its first request; keys all
 * distinct never hit. */
static void lirs_tiny_caches_and_degenerate_traces_are_exact(void **state)
{
    (void)state;
    enum { n = 5000 };
    int64_t *t = malloc(n * sizeof *t);
    assert_non_null(t);
    kt_rng g = {11};
    uint64_t repeats = 0;
    for (size_t i = 0; i < n; i++) {
        t[i] = (int64_t)kt_rng_below(&g, 4);
        repeats += i && t[i] == t[i - 1];
    }
    assert_int_equal(kt_run_hits("lirs", 1, t, n), repeats);
    for (size_t i = 0; i < n; i++)
        t[i] = 7;
    assert_int_equal(kt_run_hits("lirs", 1, t, n), n - 1);
    assert_int_equal(kt_run_hits("lirs", 2, t, n), n - 1);
    for (size_t i = 0; i < n; i++)
        t[i] = (int64_t)(i % 1024);
    assert_int_equal(kt_run_hits("lirs", 2, t, 1024), 0);
    free(t);
}

/* The same exact counts for adaptive at 1 and 2 entries, over traces long
 * enough for many epochs (512 requests each at these sizes), so that it
 * may switch candidates on the way: each candidate is exact there. */
static void adaptive_tiny_caches_and_degenerate_traces_are_exact(void **state)
{
    (void)state;
    enum { n = 20000 };
    int64_t *t = malloc(n * sizeof *t);
    assert_non_null(t);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        kt_rng g = {seed};
        uint64_t repeats = 0;
        for (size_t i = 0; i < n; i++) {
            t[i] = (int64_t)kt_rng_below(&g, 3 + seed);
            repeats += i && t[i] == t[i - 1];
        }
        assert_int_equal(kt_run_hits("adaptive", 1, t, n), repeats);
    }
    for (size_t i = 0; i < n; i++)
        t[i] = 7;
    assert_int_equal(kt_run_hits("adaptive", 1, t, n), n - 1);
    assert_int_equal(kt_run_hits("adaptive", 2, t, n), n - 1);
    assert_int_equal(kt_run_hits("adaptive", 5000, t, n), n - 1);
    for (size_t i = 0; i < 1024; i++) /* the harness's keys are below 1024 */
        t[i] = (int64_t)i;
    assert_int_equal(kt_run_hits("adaptive", 1, t, 1024), 0);
    assert_int_equal(kt_run_hits("adaptive", 100, t, 1024), 0);
    free(t);
}

/* A plain model of LIRS with the same conventions as lirs.c (capacity
 * split 99/1, at least one HIR slot; newcomers LIR while the LIR set is
 * short, and so do resident HIR keys hit then; insert first, then evict
 * Q's oldest other than the newcomer, else
 * S's bottom LIR; at most 2 x `capacity` non-resident keys, oldest
 * evicted forgotten first; deletes leave nothing), written for clarity with O(n)
 * arrays: index 0 is S's bottom and Q's oldest. */
enum { LM_NONE, LM_LIR, LM_HIR };

typedef struct {
    int64_t s[4096], q[4096], ghosts[4096];
    size_t ns, nq, ng;
    unsigned char state[1024]; /* resident: LM_LIR / LM_HIR */
    size_t cap, lir_max, nlir, count;
    uint64_t hits;
} lirs_model;

static ssize_t lm_find(const int64_t *a, size_t n, int64_t k)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == k)
            return (ssize_t)i;
    return -1;
}

static void lm_del(int64_t *a, size_t *n, int64_t k)
{
    ssize_t i = lm_find(a, *n, k);
    if (i >= 0) {
        memmove(a + i, a + i + 1, (*n - (size_t)i - 1) * sizeof *a);
        (*n)--;
    }
}

static void lm_prune(lirs_model *m)
{
    while (m->ns && m->state[m->s[0]] != LM_LIR) {
        int64_t k = m->s[0];
        lm_del(m->s, &m->ns, k);
        lm_del(m->ghosts, &m->ng, k);
    }
}

static void lm_make_lir(lirs_model *m, int64_t k)
{
    lm_del(m->s, &m->ns, k);
    lm_del(m->q, &m->nq, k);
    m->state[k] = LM_LIR;
    m->s[m->ns++] = k;
    if (++m->nlir > m->lir_max) {
        int64_t b = m->s[0];
        lm_del(m->s, &m->ns, b);
        m->state[b] = LM_HIR;
        m->nlir--;
        m->q[m->nq++] = b;
        lm_prune(m);
    }
}

static void lm_hir_top(lirs_model *m, int64_t k)
{
    lm_del(m->s, &m->ns, k);
    m->s[m->ns++] = k;
    lm_del(m->q, &m->nq, k);
    m->q[m->nq++] = k;
    m->state[k] = LM_HIR;
}

static void lm_remove(lirs_model *m, int64_t k, int evicted)
{
    if (m->state[k] == LM_LIR) {
        lm_del(m->s, &m->ns, k);
        m->state[k] = LM_NONE;
        m->nlir--;
        lm_prune(m);
    } else {
        lm_del(m->q, &m->nq, k);
        m->state[k] = LM_NONE;
        if (lm_find(m->s, m->ns, k) >= 0) {
            if (evicted) {
                if (m->ng == 2 * m->cap) {
                    lm_del(m->s, &m->ns, m->ghosts[0]);
                    lm_del(m->ghosts, &m->ng, m->ghosts[0]);
                }
                m->ghosts[m->ng++] = k;
            } else {
                lm_del(m->s, &m->ns, k);
            }
        }
    }
    m->count--;
}

static void lm_access(lirs_model *m, int64_t k)
{
    if (m->state[k] == LM_LIR) {
        int bottom = m->s[0] == k;
        lm_del(m->s, &m->ns, k);
        m->s[m->ns++] = k;
        if (bottom)
            lm_prune(m);
        m->hits++;
        return;
    }
    if (m->state[k] == LM_HIR) {
        if (lm_find(m->s, m->ns, k) >= 0 || m->nlir < m->lir_max)
            lm_make_lir(m, k);
        else
            lm_hir_top(m, k);
        m->hits++;
        return;
    }
    m->count++;
    if (lm_find(m->ghosts, m->ng, k) >= 0) {
        lm_del(m->ghosts, &m->ng, k);
        lm_make_lir(m, k);
    } else if (m->nlir < m->lir_max) {
        lm_make_lir(m, k);
    } else {
        lm_hir_top(m, k);
    }
    while (m->count > m->cap) {
        int64_t v = -1;
        for (size_t i = 0; i < m->nq && v < 0; i++)
            if (m->q[i] != k)
                v = m->q[i];
        for (size_t i = 0; i < m->ns && v < 0; i++)
            if (m->state[m->s[i]] == LM_LIR && m->s[i] != k)
                v = m->s[i];
        if (v < 0)
            v = k;
        lm_remove(m, v, 1);
    }
}

/* lirs.c against the model: random skewed traces with deletes, several
 * capacities (1 and 2 included), hit for hit. */
static void lirs_matches_its_reference_model(void **state)
{
    (void)state;
    static const size_t caps[] = {1, 2, 3, 5, 17, 100, 250};
    for (size_t c = 0; c < N(caps); c++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            static lirs_model m;
            memset(&m, 0, sizeof m);
            m.cap = caps[c];
            size_t hir = m.cap / 100 ? m.cap / 100 : 1;
            m.lir_max = m.cap > hir ? m.cap - hir : 1;
            kt_harness h;
            kt_harness_open(&h, "lirs", m.cap, 1024, seed);
            kt_rng g = {seed * 31 + c};
            size_t nkeys = 1 + kt_rng_below(&g, 3) * caps[c] + caps[c] / 2;
            if (nkeys > 1024)
                nkeys = 1024;
            for (int i = 0; i < 6000; i++) {
                double u = kt_rng_unit(&g);
                int64_t k = (int64_t)(u * u * (double)nkeys);
                if (kt_rng_below(&g, 20) == 0) {
                    if (m.state[k] != LM_NONE)
                        lm_remove(&m, k, 0);
                    kt_harness_delete(&h, k);
                } else {
                    lm_access(&m, k);
                    kt_harness_access(&h, k);
                }
                if (h.hits != m.hits)
                    fail_msg("capacity %zu, seed %llu, request %d: %llu hits, the model %llu",
                             caps[c], (unsigned long long)seed, i, (unsigned long long)h.hits,
                             (unsigned long long)m.hits);
            }
            assert_int_equal(h.count, m.count);
            kt_harness_close(&h);
        }
    }
}

/* adaptive through phases that favour different candidates (a loop just
 * larger than the cache, then shifting Zipf-like popularity, then a scan
 * mix), with deletes: every victim is resident (the harness checks), the
 * count stays within the capacity, and it keeps at least the hits of the
 * worst of its candidates run alone. */
static void adaptive_survives_switches_and_deletes(void **state)
{
    (void)state;
    enum { n = 60000, cap = 100, nkeys = 1024 };
    int64_t *t = malloc(n * sizeof *t);
    unsigned char *del = malloc(n);
    assert_true(t && del);
    kt_rng g = {5};
    for (size_t i = 0; i < n; i++) {
        size_t phase = i / 10000 % 3;
        double u = kt_rng_unit(&g);
        t[i] = phase == 0   ? (int64_t)(i % 120)
               : phase == 1 ? (int64_t)((size_t)(u * u * u * 600) + i / 2500 * 37) % nkeys
                            : (kt_rng_below(&g, 4) ? (int64_t)(u * u * 200) : (int64_t)(i % nkeys));
        del[i] = kt_rng_below(&g, 50) == 0;
    }
    static const char *const cands[] = {"wtinylfu", "lirs", "arc", "s3fifo", "lru"};
    uint64_t worst = UINT64_MAX;
    for (size_t p = 0; p < N(cands) + 1; p++) {
        kt_harness h;
        kt_harness_open(&h, p < N(cands) ? cands[p] : "adaptive", cap, nkeys, 3);
        for (size_t i = 0; i < n; i++) {
            if (del[i])
                kt_harness_delete(&h, t[i]);
            else
                kt_harness_access(&h, t[i]);
            assert_true(h.count <= cap);
        }
        if (p < N(cands)) {
            if (h.hits < worst)
                worst = h.hits;
        } else {
            assert_true(h.hits >= worst);
        }
        kt_harness_close(&h);
    }
    free(t);
    free(del);
}

/* ---------------------------------------------------------------- */

static void registry_lists_every_policy_and_rejects_unknown_names(void **state)
{
    (void)state;
    const char *const *names = kl_policy_names();
    size_t n = 0;
    for (; names[n]; n++) {
        const kl_policy_ops *ops = kl_policy_find(names[n]);
        assert_non_null(ops);
        assert_string_equal(ops->name, names[n]);
        /* 24 bytes at most; LIRS needs two list nodes and the hash, and
         * adaptive any candidate's metadata, an LRU node and the hash */
        size_t most = strcmp(names[n], "lirs") == 0 ? 40 : strcmp(names[n], "adaptive") == 0 ? 64 : 24;
        assert_true(ops->meta_size > 0 && ops->meta_size <= most);
    }
    assert_int_equal(n, N(kt_all_policies));
    for (size_t i = 0; i < N(kt_all_policies); i++)
        assert_non_null(kl_policy_find(kt_all_policies[i]));
    assert_null(kl_policy_find("LRU"));
    assert_null(kl_policy_find("inf"));
    assert_null(kl_policy_find(""));
    assert_null(kl_policy_find(NULL));
}

/* Every policy: victim() on an empty policy is NULL, a single entry is its
 * own victim, and removing entries in any order leaves it empty again. */
static void every_policy_handles_empty_single_and_arbitrary_removal(void **state)
{
    (void)state;
    for (size_t p = 0; p < N(kt_all_policies); p++) {
        kt_harness h;
        kt_harness_open(&h, kt_all_policies[p], 50, 200, 9);
        assert_null(h.ops->victim(h.st));
        kt_harness_access(&h, 7);
        assert_ptr_equal(h.ops->victim(h.st), h.e[h.map[7]].meta);
        kt_rng g = {p};
        for (int i = 0; i < 3000; i++) {
            int64_t k = (int64_t)kt_rng_below(&g, 200);
            if (kt_rng_below(&g, 3) == 0)
                kt_harness_delete(&h, k);
            else
                kt_harness_access(&h, k);
            assert_true(h.count <= 50);
        }
        for (int64_t k = 0; k < 200; k++)
            kt_harness_delete(&h, k);
        assert_int_equal(h.count, 0);
        assert_null(h.ops->victim(h.st));
        kt_harness_close(&h);
    }
}

/* A byte budget can need several victims for one insertion: entries of
 * weight 1-8, budget 40, at most 30 entries.  Every policy must keep
 * handing out resident entries until the budget holds, and — W-TinyLFU's
 * admission aside — never the newcomer while anything else is left. */
static void every_policy_yields_several_victims_for_one_insertion(void **state)
{
    (void)state;
    for (size_t p = 0; p < N(kt_all_policies); p++) {
        kt_harness h;
        kt_harness_open(&h, kt_all_policies[p], 30, 500, 5);
        /* adaptive may be running wtinylfu */
        int admission = strcmp(kt_all_policies[p], "wtinylfu") == 0 ||
                        strcmp(kt_all_policies[p], "adaptive") == 0;
        unsigned weight[500] = {0}, total = 0;
        kt_rng g = {p + 77};
        for (int step = 0; step < 20000; step++) {
            int64_t k = (int64_t)kt_rng_below(&g, 500);
            if (h.map[k] >= 0) {
                h.ops->on_hit(h.st, h.e[h.map[k]].meta);
                continue;
            }
            while (h.count == h.cap) { /* entry limit first, as the cache does */
                kt_hent *v = kt_harness_entry_of(&h, h.ops->victim(h.st));
                total -= weight[v->key];
                kt_harness_drop(&h, v);
            }
            kt_hent *e = &h.e[h.freelist[--h.nfree]];
            memset(e->meta, 0, sizeof e->meta);
            e->key = k;
            e->used = 1;
            h.map[k] = (int32_t)(e - h.e);
            h.count++;
            weight[k] = 1 + (unsigned)kt_rng_below(&g, 8);
            total += weight[k];
            h.ops->on_insert(h.st, e->meta, kt_key_hash(k));
            while (total > 40) {
                kt_hent *v = kt_harness_entry_of(&h, h.ops->victim(h.st));
                if (v == e && !admission && h.count > 1)
                    fail_msg("%s: the newcomer was chosen while %zu others remained",
                             kt_all_policies[p], h.count - 1);
                total -= weight[v->key];
                kt_harness_drop(&h, v);
            }
        }
        kt_harness_close(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_lists_every_policy_and_rejects_unknown_names),
        cmocka_unit_test(loop_larger_than_cache_defeats_lru_fifo_but_not_mru),
        cmocka_unit_test(lfu_keeps_the_frequent_key_on_a_skewed_stream),
        cmocka_unit_test(scan_does_not_flush_hot_keys_from_scan_resistant_policies),
        cmocka_unit_test(wtinylfu_refuses_one_hit_wonders),
        cmocka_unit_test(lirs_keeps_its_lir_set_through_a_loop),
        cmocka_unit_test(lirs_promotes_a_key_remembered_as_non_resident),
        cmocka_unit_test(lirs_tiny_caches_and_degenerate_traces_are_exact),
        cmocka_unit_test(lirs_matches_its_reference_model),
        cmocka_unit_test(adaptive_survives_switches_and_deletes),
        cmocka_unit_test(adaptive_tiny_caches_and_degenerate_traces_are_exact),
        cmocka_unit_test(every_policy_handles_empty_single_and_arbitrary_removal),
        cmocka_unit_test(every_policy_yields_several_victims_for_one_insertion),
        cmocka_unit_test(deterministic_policies_match_reference_models),
        cmocka_unit_test(arc_matches_its_reference_model),
        cmocka_unit_test(rr_is_reproducible_per_seed_and_random_across_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
