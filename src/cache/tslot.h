/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-thread state of the cache and the memo (private): one record per
 * thread, set up on first use and released when the thread exits.
 *  - A small number below KL_THREAD_SLOTS, held until the thread exits and
 *    then reused.  The cache gives every numbered thread its own reader
 *    record (cache_read.h), so a hit can count itself and note its
 *    promotion without writing memory that another thread writes.
 *  - One scratch buffer for value bytes, reused call after call: the
 *    generic memo call's value, the value a typed call loads from the
 *    archive or receives from another thread.  Whoever uses it is done
 *    with it before calling anything that may use it again (a memoized
 *    function's body may call other memos).
 */
#ifndef KLEPTO_TSLOT_H
#define KLEPTO_TSLOT_H

#include <stdbool.h>

#include "internal.h"
#include "klepto/codec.h" /* kl_buf */

#define KL_THREAD_SLOTS 64

typedef struct kl__thread {
    int slot;        /* 0: not asked yet; n > 0: the number is n - 1; -1: none left */
    bool registered; /* the exit hook that releases the record is set */
    kl_buf scratch;
} kl__thread;

extern _Thread_local kl__thread kl__self __attribute__((tls_model("initial-exec")));

int kl__thread_slot_slow(void);
kl_buf *kl__thread_scratch_slow(void);

/* Whether number n is held by a live thread (a released number's thread
 * has exited, so it is inside no read).  After fork(), only the forking
 * thread's number is held in the child. */
bool kl__thread_slot_held(int n);

/* The calling thread's number, or -1 when all KL_THREAD_SLOTS are held by
 * live threads (such a thread keeps -1: callers fall back to a path that
 * needs no number). */
static inline int kl__thread_slot(void)
{
    int s = kl__self.slot;
    return s > 0 ? s - 1 : (s < 0 ? -1 : kl__thread_slot_slow());
}

/* The calling thread's scratch buffer (contents undefined), or NULL when
 * its record could not be set up (out of memory). */
static inline kl_buf *kl__thread_scratch(void)
{
    return KL_LIKELY(kl__self.registered) ? &kl__self.scratch : kl__thread_scratch_slow();
}

#endif
