/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fast reads of the cache (the inline part is cache_read.h): hits that
 * take no lock and write no memory another thread writes.
 *
 * A reader probes the table optimistically between two reads of its
 * shard's sequence number (odd while a writer holds the lock for a change
 * readers can see) and keeps the value only if the number did not move.
 * What it must not do is touch memory that was freed meanwhile, so
 * writers retire such memory (an outgrown slot array or chunk table, a
 * big entry's chunk, everything on clear) and free it after a grace
 * period: one membarrier(2), after which every thread either has
 * published that it is inside a read (its reader record's odd `seq`) or
 * will see the new pointers; the writer then waits for the readers it saw
 * inside to leave.  Grace periods are rare (table growth, every 64 retired
 * chunks or 1 MiB, clear), so readers pay only two stores to their own
 * record.
 *
 * Fast reads serve caches whose policy can tell from an entry's metadata
 * that a hit would change nothing (sieve's set visited bit, s3fifo's
 * saturated count, fifo, rr; sys/policy.h), and "inf" caches.  A hit
 * counts itself in the thread's record; one that would change the policy
 * is noted there too and applied in a batch under the shard lock — before
 * the thread next inserts, and every READ_BATCH notes — so a single thread
 * sees its policy exactly, and other threads' last few hits may be applied
 * a little later.  A noted entry that has left the cache since is skipped.
 *
 * Policies whose every hit reorders entries (lru, lfu) cannot skip the
 * policy, and a single thread's locked hit is as fast as a fast read, so
 * they keep the locked, exact hit — until threads contend for a shard
 * lock (kl__cache_contended).  Then, if the policy allows deferred hits
 * (sys/policy.h), hits become fast reads that only mark the entry
 * (ENTRY_REF, set under the lock in the batch, once per entry); a marked
 * entry that comes up as the victim is told to the policy and gets a
 * second chance, so LRU behaves like CLOCK while threads share the cache.
 * Every 65536 fast hits a thread checks whether another thread hit since
 * its last check; if none did, exact locked hits resume.  mru, arc and
 * wtinylfu keep locked hits throughout.
 *
 * Where membarrier(2) is unavailable fast reads stay off and every hit
 * takes the shard lock.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cache/cache_read.h"

/* ---- the process-wide barrier ------------------------------------------------------ */

static pthread_once_t barrier_once = PTHREAD_ONCE_INIT;
static bool barrier_ok;

static void barrier_register(void);

/* A forked child is a new address space: register it too (should that
 * fail, grace periods there go on without the barrier). */
static void barrier_after_fork(void)
{
    if (barrier_ok)
        barrier_register();
}

static void barrier_register(void)
{
    static bool atfork_set;
    if (!atfork_set) {
        atfork_set = true;
        (void)pthread_atfork(NULL, NULL, barrier_after_fork);
    }
#ifdef __NR_membarrier
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    barrier_ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
                 syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

/* Every running thread of the process executes a full memory barrier. */
static void barrier_all(void)
{
#ifdef __NR_membarrier
    (void)syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
}

int kl__cache_enable_fast_reads(kl_cache *c)
{
    pthread_once(&barrier_once, barrier_register);
    if (!barrier_ok || c->mode == MODE_NO || c->ttl_ns > 0 || c->nshards > 256 || c->readers)
        return 0;
    if (c->pol && !c->hit_sat && !c->defer_hits) /* every hit would queue work: no gain */
        return 0;
    reader *r = aligned_alloc(64, sizeof(reader) * KL_THREAD_SLOTS);
    if (!r)
        return kl_seterr(KL_ENOMEM, "cache: out of memory");
    memset(r, 0, sizeof(reader) * KL_THREAD_SLOTS);
    c->readers = r;
    c->alone_who = -1;
    /* deferrable policies start exact, with locked hits */
    __atomic_store_n(&c->fast_now, !c->defer_hits, __ATOMIC_RELEASE);
    return 0;
}

/* ---- when deferrable policies use fast reads --------------------------------------- */

/* Contended shard-lock acquisitions (any shard), within CONTENDED_WINDOW
 * of the first, that switch fast reads on.  Collisions are rare even when
 * two threads share a cache — its shard lines move between cores on
 * nearly every hit, but a lock is seldom held at the very moment the other
 * thread wants it — so the count is the cache's, not a shard's: two
 * threads hitting one memo switch within about a millisecond, a sporadic
 * collision never does. */
#define CONTENDED_SWITCH 8
#define CONTENDED_WINDOW_NS 10000000 /* 10 ms */

void kl__cache_contended(kl_cache *c)
{
    if (!c->readers || __atomic_load_n(&c->fast_now, __ATOMIC_RELAXED))
        return;
    int64_t t = now_ns();
    if (t - __atomic_load_n(&c->contended_t0, __ATOMIC_RELAXED) > CONTENDED_WINDOW_NS) {
        __atomic_store_n(&c->contended_t0, t, __ATOMIC_RELAXED); /* long ago: start again */
        __atomic_store_n(&c->contended, 0, __ATOMIC_RELAXED);
    }
    if (__atomic_add_fetch(&c->contended, 1, __ATOMIC_RELAXED) >= CONTENDED_SWITCH) {
        __atomic_store_n(&c->contended, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&c->fast_now, true, __ATOMIC_RELEASE);
    }
}

void kl__cache_check_alone(kl_cache *c, reader *r)
{
    int me = (int)(r - c->readers);
    uint64_t total = kl__cache_reader_hits(c);
    uint64_t mine = __atomic_load_n(&r->hits, __ATOMIC_RELAXED);
    if (__atomic_load_n(&c->alone_who, __ATOMIC_RELAXED) == me &&
        total - __atomic_load_n(&c->alone_total, __ATOMIC_RELAXED) ==
            mine - __atomic_load_n(&c->alone_mine, __ATOMIC_RELAXED)) {
        /* nobody else hit since this thread last looked: exact hits again
         * (its noted marks stay; the flush below applies them) */
        __atomic_store_n(&c->fast_now, false, __ATOMIC_RELEASE);
        if (r->npend)
            kl__cache_reader_flush(c, r);
    }
    __atomic_store_n(&c->alone_who, me, __ATOMIC_RELAXED);
    __atomic_store_n(&c->alone_total, total, __ATOMIC_RELAXED);
    __atomic_store_n(&c->alone_mine, mine, __ATOMIC_RELAXED);
}

/* ---- fast reads of keys of any length ------------------------------------------------- */

/* Values up to this size are copied optimistically; longer ones take the
 * locked path (a copy a writer may void is cheap only when short). */
#define FAST_VALUE_MAX (64u << 10)

int kl__cache_read_bytes(kl_cache *c, const void *key, size_t klen, uint64_t h, kl_buf *val)
{
    int ts = kl__thread_slot();
    if (ts < 0)
        return -1;
    reader *r = &c->readers[ts];
    shard *sh = shard_of(c, h);
    size_t cap = 8; /* words: most values fit the first time */
    for (int grown = 0; grown < 2; grown++) {
        val->len = 0;
        if (kl_buf_reserve(val, cap * 8))
            return -1; /* the locked path reports it */
        fast_found f =
            fast_read(c, r, sh, key, klen / 8, klen % 8, h, (uint64_t *)(void *)val->data, cap);
        if (f.found == FAST_ABSENT)
            return 0;
        if (f.found == FAST_FOUND) {
            memmove(val->data, val->data + klen % 8, f.vlen);
            val->len = f.vlen;
            fast_hit(c, r, sh, &f);
            return 1;
        }
        size_t words = (klen % 8 + (size_t)f.vlen + 7) / 8;
        if (f.found == FAST_RETRY || f.vlen > FAST_VALUE_MAX || words <= cap)
            return -1;
        cap = words; /* longer than the room: once more with room */
    }
    return -1;
}

/* ---- grace periods and retired memory ----------------------------------------------- */

/* Wait until no fast read that might have seen memory retired before this
 * call is still running. */
static void grace_period(kl_cache *c)
{
    barrier_all();
    for (int i = 0; i < KL_THREAD_SLOTS; i++) {
        uint32_t s = __atomic_load_n(&c->readers[i].seq, __ATOMIC_ACQUIRE);
        if (!(s & 1) || !kl__thread_slot_held(i)) /* outside, or its thread is gone */
            continue;
        for (unsigned spins = 0; __atomic_load_n(&c->readers[i].seq, __ATOMIC_ACQUIRE) == s;
             spins++)
            if (spins > 64)
                sched_yield(); /* the reader was preempted inside its read */
    }
}

void kl__shard_free_retired(kl_cache *c, shard *sh)
{
    if (!sh->nretired)
        return;
    if (c->readers)
        grace_period(c);
    for (size_t i = 0; i < sh->nretired; i++)
        free(sh->retired[i]);
    sh->nretired = 0;
    sh->retired_bytes = 0;
}

void kl__shard_retire(kl_cache *c, shard *sh, void *p, size_t bytes)
{
    if (!c->readers) {
        free(p);
        return;
    }
    if (sh->nretired == sh->capretired) {
        size_t n = sh->capretired ? sh->capretired * 2 : 16;
        void **nr = realloc(sh->retired, n * sizeof *nr);
        if (!nr) { /* no room to remember it: wait for readers now */
            grace_period(c);
            free(p);
            return;
        }
        sh->retired = nr;
        sh->capretired = n;
    }
    sh->retired[sh->nretired++] = p;
    sh->retired_bytes += bytes;
    if (sh->nretired >= 64 || sh->retired_bytes >= ((size_t)1 << 20))
        kl__shard_free_retired(c, sh);
}

/* ---- applying noted hits -------------------------------------------------------------- */

/* A noted hit, told to the policy (lock held): on_hit, or for a policy
 * with deferrable hits the entry's mark. */
static void noted_hit(kl_cache *c, shard *sh, entry *e)
{
    if (c->defer_hits)
        entry_h(c, e)->klen_ref |= ENTRY_REF;
    else
        policy_hit(c, sh, e);
}

void kl__cache_reader_flush(kl_cache *c, reader *r)
{
    uint32_t n = r->npend;
    r->npend = 0;
    if (!c->pol)
        return;
    /* each shard's notes in the order they were made (shards' policies
     * are independent), taking each shard's lock once */
    uint32_t done = 0; /* bit i: note i applied */
    for (uint32_t i = 0; i < n; i++) {
        if (done & (1u << i))
            continue;
        unsigned s = r->pend_shard[i];
        shard *sh = &c->shards[s];
        spin_lock_quiet(&sh->lock); /* policy metadata only: readers go on */
        for (uint32_t j = i; j < n; j++)
            if (r->pend_shard[j] == s) {
                if (table_holds(sh, r->pend[j], r->pend_slot[j])) /* still there */
                    noted_hit(c, sh, slot_entry(sh, r->pend[j]));
                done |= 1u << j;
            }
        spin_unlock(&sh->lock);
    }
}

void kl__cache_flush_mine(kl_cache *c)
{
    int ts = kl__self.slot - 1; /* a thread without a number has noted nothing */
    if (ts >= 0 && c->readers[ts].npend)
        kl__cache_reader_flush(c, &c->readers[ts]);
}

uint64_t kl__cache_reader_hits(const kl_cache *c)
{
    uint64_t n = 0;
    if (c->readers)
        for (int i = 0; i < KL_THREAD_SLOTS; i++)
            n += __atomic_load_n(&c->readers[i].hits, __ATOMIC_RELAXED);
    return n;
}
