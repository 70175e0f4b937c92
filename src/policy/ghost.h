/* SPDX-License-Identifier: BSD-3-Clause */
/* A ghost list: a bounded FIFO of the hashes of recently evicted entries,
 * with O(1) membership (private to the policies).  It holds hashes only,
 * never keys or values.  The ring keeps insertion order; an open-addressing
 * table of ring positions answers membership. */
#ifndef KLEPTO_POLICY_GHOST_H
#define KLEPTO_POLICY_GHOST_H

#include <stddef.h>
#include <stdint.h>

typedef struct kl__ghost {
    uint64_t *ring;  /* hashes in push order; 0 = removed slot */
    uint32_t *slots; /* ring index + 1, 0 = empty */
    size_t limit;    /* hashes remembered at most */
    size_t cap;      /* ring length: limit + limit / 4 + 1 */
    size_t tail;     /* oldest slot */
    size_t used;     /* occupied ring slots, removed ones included */
    size_t live;     /* hashes present */
    size_t mask;     /* slots length - 1 */
} kl__ghost;

/* A ghost remembering up to `cap` (>= 1) hashes.  Removed hashes leave
 * holes in the ring that do not count: the ring has a quarter more room
 * and is compacted when full, so a ghost with removals still remembers
 * `cap` hashes (amortised O(1): a compaction of n slots follows at least
 * n / 5 pushes).  0 or KL_ENOMEM. */
int kl__ghost_init(kl__ghost *g, size_t cap);
void kl__ghost_free(kl__ghost *g);
/* Remember `h` as the newest (an older copy is dropped); when `cap`
 * hashes are remembered, the oldest is forgotten first. */
void kl__ghost_push(kl__ghost *g, uint64_t h);
/* Whether `h` is remembered. */
int kl__ghost_contains(const kl__ghost *g, uint64_t h);
/* Forget one occurrence of `h`; 1 if it was there. */
int kl__ghost_remove(kl__ghost *g, uint64_t h);
/* Forget the oldest remembered hash (no-op when empty). */
void kl__ghost_pop(kl__ghost *g);

#endif
