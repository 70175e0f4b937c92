/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fork() and caches: a child inherits every cache in a consistent state.
 *
 * fork() copies the memory of the whole process but only the calling
 * thread.  Had another thread been inside a cache's locked section at that
 * moment, the child would inherit a shard lock held by a thread that does
 * not exist there, and its first use of that shard would wait forever (or
 * it would see a table in the middle of a change).  So every live cache is
 * on one list, and pthread_atfork's prepare handler takes every shard lock
 * and single-flight mutex of every cache before the fork; the parent and
 * the child release them after it.  Forking thus waits for operations in
 * progress (each a probe, a copy or an insertion: microseconds), and the
 * child finds every cache unlocked and whole.
 *
 * Computations in progress ("flights", single-flight tickets) belong to
 * threads the child does not have: nobody there would ever finish them,
 * and a call in the child that found one would wait forever.  The child
 * forgets them (their tickets stay allocated: their owners' memory in the
 * parent's image), so its own calls compute those keys afresh.
 *
 * Lock order: the list's mutex, then the caches in list order, each
 * shard's flight mutex and then its lock, shards in index order.  Nothing
 * else holds two of these at once (a thread waiting for another's
 * computation holds neither while it sleeps), so the order cannot
 * deadlock.  Lock-free readers hold no lock; the child skips the records
 * of threads that are gone (cache_read.c, tslot.c).
 */
#include <pthread.h>

#include "cache/cache_impl.h"

static pthread_mutex_t caches_mx = PTHREAD_MUTEX_INITIALIZER;
static kl_cache *caches; /* newest first, linked by fork_next/fork_prev */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void lock_all(void)
{
    pthread_mutex_lock(&caches_mx);
    for (kl_cache *c = caches; c; c = c->fork_next)
        for (unsigned i = 0; i < c->nshards; i++) {
            pthread_mutex_lock(&c->shards[i].flight_mx);
            spin_lock_quiet(&c->shards[i].lock);
        }
}

/* After the fork, in the parent and in the child: the forking thread holds
 * every lock, and releases them in either process. */
static void unlock_all(void)
{
    for (kl_cache *c = caches; c; c = c->fork_next)
        for (unsigned i = 0; i < c->nshards; i++) {
            spin_unlock(&c->shards[i].lock);
            pthread_mutex_unlock(&c->shards[i].flight_mx);
        }
    pthread_mutex_unlock(&caches_mx);
}

/* In the child, before releasing the locks: forget the other threads'
 * computations in progress. */
static void child_after_fork(void)
{
    for (kl_cache *c = caches; c; c = c->fork_next) {
        for (unsigned i = 0; i < c->nshards; i++)
            c->shards[i].flights = NULL;
        /* what the parent counted: its own to report, not the child's */
        kl__cache_stats_sum_locked(c, &c->at_fork, &c->at_fork_miss_ns, &c->at_fork_miss_timed);
        c->forks++;
    }
    unlock_all();
}

static void fork_init(void) { (void)pthread_atfork(lock_all, unlock_all, child_after_fork); }

void kl__cache_fork_track(kl_cache *c)
{
    pthread_once(&fork_once, fork_init);
    pthread_mutex_lock(&caches_mx);
    c->fork_prev = NULL;
    c->fork_next = caches;
    if (caches)
        caches->fork_prev = c;
    caches = c;
    pthread_mutex_unlock(&caches_mx);
}

void kl__cache_fork_untrack(kl_cache *c)
{
    pthread_mutex_lock(&caches_mx);
    if (c->fork_prev)
        c->fork_prev->fork_next = c->fork_next;
    else if (caches == c)
        caches = c->fork_next;
    if (c->fork_next)
        c->fork_next->fork_prev = c->fork_prev;
    c->fork_prev = c->fork_next = NULL;
    pthread_mutex_unlock(&caches_mx);
}
