/* SPDX-License-Identifier: BSD-3-Clause */
/* A small harness that plays the cache's part for an eviction policy
 * (include/klepto/sys/policy.h), shared by the policy tests: entries with
 * zeroed metadata, a key -> entry map, get-or-insert, then evict while
 * over capacity (insert first, victim after — the order the real cache
 * uses).  Keys are small integers (0 .. nkeys-1); failures are cmocka
 * assertions. */
#ifndef KLEPTO_TEST_POLICY_HARNESS_H
#define KLEPTO_TEST_POLICY_HARNESS_H

#include "testutil.h"

#include "klepto/sys/policy.h"

/* Every policy, in the registry's order. */
enum { KT_NPOLICIES = 11 };
extern const char *const kt_all_policies[KT_NPOLICIES];

/* The hash the harness hands the policies for key k. */
uint64_t kt_key_hash(int64_t k);

typedef struct kt_hent {
    uint64_t meta[8]; /* first: the policy metadata lives at the entry's address */
    int64_t key;
    int used;
} kt_hent;

typedef struct kt_harness {
    const kl_policy_ops *ops;
    void *st;
    kt_hent *e;
    size_t cap, pool, count;
    int32_t *map; /* key -> entry index, -1 when absent */
    size_t nkeys;
    int32_t *freelist;
    size_t nfree;
    uint64_t hits, misses;
} kt_harness;

/* The named policy with room for cap entries, keys below nkeys. */
void kt_harness_open(kt_harness *h, const char *policy, size_t cap, size_t nkeys, uint64_t seed);
void kt_harness_close(kt_harness *h);
/* Remove a resident entry (eviction or delete). */
void kt_harness_drop(kt_harness *h, kt_hent *e);
/* The entry whose metadata is at meta (a victim); asserts it is resident. */
kt_hent *kt_harness_entry_of(kt_harness *h, void *meta);
/* Get-or-insert; returns 1 on a hit. */
int kt_harness_access(kt_harness *h, int64_t key);
void kt_harness_delete(kt_harness *h, int64_t key);

/* Hits of `policy` with cap entries on trace t (keys below 1024, seed 1). */
uint64_t kt_run_hits(const char *policy, size_t cap, const int64_t *t, size_t n);

#endif
