/* SPDX-License-Identifier: BSD-3-Clause */
/* The built-in eviction policies (private: reach them through
 * kl_policy_find() in klepto/sys/policy.h). */
#ifndef KLEPTO_POLICY_POLICIES_H
#define KLEPTO_POLICY_POLICIES_H

#include "klepto/sys/policy.h"
#include "policy/plist.h"

extern const kl_policy_ops kl__policy_lru;
extern const kl_policy_ops kl__policy_lfu;
extern const kl_policy_ops kl__policy_mru;
extern const kl_policy_ops kl__policy_rr;
extern const kl_policy_ops kl__policy_fifo;
extern const kl_policy_ops kl__policy_sieve;
extern const kl_policy_ops kl__policy_s3fifo;
extern const kl_policy_ops kl__policy_wtinylfu;
extern const kl_policy_ops kl__policy_arc;
extern const kl_policy_ops kl__policy_lirs;
extern const kl_policy_ops kl__policy_adaptive;

/* LRU's on_hit, inline for the cache's hit path: `state` is an LRU
 * policy's state (whose list head comes first).  An entry already at the
 * front is left alone, so repeated hits write nothing. */
static inline void kl__lru_touch(void *state, void *meta)
{
    kl__pnode *head = state, *n = meta;
    if (head->next != n)
        kl__plist_move_front(head, n);
}

#endif
