/*
 * Small per-thread numbers (private): each thread that asks gets a number
 * below KL_THREAD_SLOTS, held until it exits and then reused.  The cache
 * gives every numbered thread its own reader record (cache_impl.h), so a
 * hit can count itself and note its promotion without writing memory that
 * another thread writes.
 */
#ifndef KLEPTO_TSLOT_H
#define KLEPTO_TSLOT_H

#include <stdbool.h>

#define KL_THREAD_SLOTS 64

/* 0: not asked yet; n > 0: the thread's number is n - 1; -1: none left. */
extern _Thread_local int kl__tslot_cached __attribute__((tls_model("initial-exec")));

int kl__thread_slot_slow(void);

/* Whether number n is held by a live thread (a released number's thread
 * has exited, so it is inside no read).  After fork(), only the forking
 * thread's number is held in the child. */
bool kl__thread_slot_held(int n);

/* The calling thread's number, or -1 when all KL_THREAD_SLOTS are held by
 * live threads (such a thread keeps -1: callers fall back to a path that
 * needs no number). */
static inline int kl__thread_slot(void)
{
    int s = kl__tslot_cached;
    return s > 0 ? s - 1 : (s < 0 ? -1 : kl__thread_slot_slow());
}

#endif
