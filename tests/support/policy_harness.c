/* SPDX-License-Identifier: BSD-3-Clause */
/* See policy_harness.h. */
#include "policy_harness.h"

#include <stdlib.h>
#include <string.h>

#include "zipf.h"

const char *const kt_all_policies[KT_NPOLICIES] = {"lru",   "lfu",    "mru",      "rr", "fifo",
                                                   "sieve", "s3fifo", "wtinylfu", "arc",
                                                   "lirs",  "adaptive"};

uint64_t kt_key_hash(int64_t k)
{
    return kt_mix64((uint64_t)k * 0x2545f4914f6cdd1dULL + 7);
}

void kt_harness_open(kt_harness *h, const char *policy, size_t cap, size_t nkeys, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    h->ops = kl_policy_find(policy);
    assert_non_null(h->ops);
    assert_int_equal(h->ops->version, KL_POLICY_VERSION);
    assert_string_equal(h->ops->name, policy);
    assert_true(h->ops->meta_size <= sizeof(((kt_hent *)0)->meta));
    assert_int_equal(h->ops->create(&h->st, cap, seed), 0);
    h->cap = cap;
    h->pool = cap + 1;
    h->e = calloc(h->pool, sizeof *h->e);
    h->freelist = malloc(h->pool * sizeof *h->freelist);
    h->map = malloc(nkeys * sizeof *h->map);
    assert_non_null(h->e);
    assert_non_null(h->freelist);
    assert_non_null(h->map);
    h->nkeys = nkeys;
    for (size_t i = 0; i < nkeys; i++)
        h->map[i] = -1;
    for (size_t i = 0; i < h->pool; i++)
        h->freelist[h->nfree++] = (int32_t)(h->pool - 1 - i);
}

void kt_harness_close(kt_harness *h)
{
    h->ops->destroy(h->st);
    free(h->e);
    free(h->freelist);
    free(h->map);
}

void kt_harness_drop(kt_harness *h, kt_hent *e)
{
    h->ops->on_remove(h->st, e->meta);
    h->map[e->key] = -1;
    e->used = 0;
    h->freelist[h->nfree++] = (int32_t)(e - h->e);
    h->count--;
}

/* The victim must be the metadata address of a resident entry. */
kt_hent *kt_harness_entry_of(kt_harness *h, void *meta)
{
    assert_non_null(meta);
    uintptr_t p = (uintptr_t)meta, b = (uintptr_t)h->e;
    assert_true(p >= b && p < b + h->pool * sizeof(kt_hent));
    assert_int_equal((p - b) % sizeof(kt_hent), 0);
    kt_hent *e = (kt_hent *)meta;
    assert_true(e->used);
    return e;
}

/* Get-or-insert; returns 1 on a hit. */
int kt_harness_access(kt_harness *h, int64_t key)
{
    int32_t i = h->map[key];
    if (i >= 0) {
        h->ops->on_hit(h->st, h->e[i].meta);
        h->hits++;
        return 1;
    }
    h->misses++;
    kt_hent *e = &h->e[h->freelist[--h->nfree]];
    memset(e->meta, 0, sizeof e->meta);
    e->key = key;
    e->used = 1;
    h->map[key] = (int32_t)(e - h->e);
    h->count++;
    h->ops->on_insert(h->st, e->meta, kt_key_hash(key));
    while (h->count > h->cap)
        kt_harness_drop(h, kt_harness_entry_of(h, h->ops->victim(h->st)));
    return 0;
}

void kt_harness_delete(kt_harness *h, int64_t key)
{
    if (h->map[key] >= 0)
        kt_harness_drop(h, &h->e[h->map[key]]);
}

uint64_t kt_run_hits(const char *policy, size_t cap, const int64_t *t, size_t n)
{
    kt_harness h;
    kt_harness_open(&h, policy, cap, 1024, 1);
    for (size_t i = 0; i < n; i++)
        kt_harness_access(&h, t[i]);
    uint64_t hits = h.hits;
    assert_int_equal(h.hits + h.misses, n);
    kt_harness_close(&h);
    return hits;
}
