/* SPDX-License-Identifier: BSD-3-Clause */
/* A shadow cache (private to the policies): a policy run on its own small
 * table of hashes, counting the misses it would have, for the adaptive
 * policy's miniature simulations.  It holds hashes only, never keys. */
#ifndef KLEPTO_POLICY_SHADOW_H
#define KLEPTO_POLICY_SHADOW_H

#include <stddef.h>
#include <stdint.h>

#include "klepto/sys/policy.h"

/* Room for any built-in policy's metadata. */
#define KL__SHADOW_META_WORDS 5

typedef struct {
    uint64_t meta[KL__SHADOW_META_WORDS]; /* first: the policy's metadata */
    uint64_t hash;
} kl__shadow_ent;

typedef struct kl__shadow {
    const kl_policy_ops *ops;
    void *st;
    size_t cap, count;
    kl__shadow_ent *ent; /* cap + 1 entries (the newcomer before eviction) */
    uint32_t *free_ids;
    size_t nfree;
    uint32_t *slots; /* open addressing: entry index + 1, 0 = empty */
    size_t mask;
} kl__shadow;

/* A shadow of `ops` holding up to cap (>= 1) hashes.  0 or KL_ENOMEM. */
int kl__shadow_init(kl__shadow *s, const kl_policy_ops *ops, size_t cap, uint64_t seed);
void kl__shadow_free(kl__shadow *s);
/* One request for hash h, get-or-insert as the cache does it: 1 on a hit. */
int kl__shadow_access(kl__shadow *s, uint64_t h);

#endif
