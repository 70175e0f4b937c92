/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A memo's statistics across runs (klepto/archive.h, kl_run_stats): at
 * each dump and at free, what the cache counted since the last flush is
 * added to the memo's own record, which is written whole to its archive
 * under its own reserved key (src/archive/run_stats.c).  Nothing here runs
 * on a call: the counters are the cache's, read at flush time; the cost
 * of misses is timed by the cache on the miss path only.
 */
#include "memo/memo_impl.h"

#include "archive/run_stats.h"
#include "klepto/cached.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* What grew since `seen` (a counter zeroed meanwhile, by kl_memo_clear,
 * counts from zero). */
static uint64_t grown(uint64_t now, uint64_t seen) { return now >= seen ? now - seen : now; }

static void new_id(kl_memo *m)
{
    size_t got = 0;
    while (got < sizeof m->rs.id) {
        ssize_t n = getrandom(m->rs.id + got, sizeof m->rs.id - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof m->rs.id) { /* no entropy source: time and address */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        uint64_t b = (uint64_t)(uintptr_t)m ^ (uint64_t)getpid();
        memcpy(m->rs.id, &a, 8);
        memcpy(m->rs.id + 8, &b, 8);
    }
    m->rs.have_id = true;
}

void kl__memo_stats_restart(kl_memo *m)
{
    pthread_mutex_lock(&m->rs.mu);
    memset(&m->rs.total, 0, sizeof m->rs.total);
    m->rs.have_id = m->rs.unwritten = false;
    if (m->cache) {
        kl_cache_stats ignored;
        uint64_t a, b;
        m->rs.forks = kl__cache_forked(m->cache, &ignored, &a, &b);
        kl_cache_stats_get(m->cache, &m->rs.seen);
        kl__cache_miss_cost(m->cache, &m->rs.seen_miss_ns, &m->rs.seen_miss_timed);
    }
    pthread_mutex_unlock(&m->rs.mu);
}

/* Add what grew since the last look to the record (lock held): true
 * when something did. */
static bool take_locked(kl_memo *m)
{
    kl_cache_stats now;
    uint64_t miss_ns, miss_timed;
    unsigned forks = kl__cache_forked(m->cache, &now, &miss_ns, &miss_timed);
    if (forks != m->rs.forks) {
        /* a child of fork(): the parent reports what it counted under its
         * id; the child starts a record of its own from the fork on */
        m->rs.forks = forks;
        memset(&m->rs.total, 0, sizeof m->rs.total);
        m->rs.have_id = m->rs.unwritten = false;
        m->rs.seen = now;
        m->rs.seen_miss_ns = miss_ns;
        m->rs.seen_miss_timed = miss_timed;
    }
    kl_cache_stats_get(m->cache, &now);
    kl__cache_miss_cost(m->cache, &miss_ns, &miss_timed);
    kl_run_stats *t = &m->rs.total;
    const kl_cache_stats *seen = &m->rs.seen;
    uint64_t d[7] = {grown(now.hit, seen->hit),
                     grown(now.miss, seen->miss),
                     grown(now.load, seen->load),
                     grown(now.evictions, seen->evictions),
                     grown(now.errors, seen->errors),
                     grown(miss_ns, m->rs.seen_miss_ns),
                     grown(miss_timed, m->rs.seen_miss_timed)};
    m->rs.seen = now;
    m->rs.seen_miss_ns = miss_ns;
    m->rs.seen_miss_timed = miss_timed;
    bool grew = false;
    for (size_t i = 0; i < 7; i++)
        grew = grew || d[i] != 0;
    t->hits += d[0];
    t->misses += d[1];
    t->loads += d[2];
    t->evictions += d[3];
    t->errors += d[4];
    t->miss_ns += d[5];
    t->miss_timed += d[6];
    return grew;
}

void kl__memo_stats_take(kl_memo *m)
{
    if (!m->cache)
        return;
    pthread_mutex_lock(&m->rs.mu);
    if (take_locked(m))
        m->rs.unwritten = true;
    /* the cache counts from zero after this */
    memset(&m->rs.seen, 0, sizeof m->rs.seen);
    m->rs.seen_miss_ns = m->rs.seen_miss_timed = 0;
    pthread_mutex_unlock(&m->rs.mu);
}

void kl__memo_stats_flush(kl_memo *m)
{
    if (!m->cache || !m->archive || m->archive_off)
        return;
    pthread_mutex_lock(&m->rs.mu);
    bool grew = take_locked(m) || m->rs.unwritten;
    const kl_run_stats *t = &m->rs.total;
    /* nothing new: the record already says it all (or, for a memo that
     * did nothing, there is none to write) */
    if (!grew) {
        pthread_mutex_unlock(&m->rs.mu);
        return;
    }
    if (!m->rs.have_id)
        new_id(m);
    int rc = kl__run_stats_put(m->archive, m->rs.id, t);
    m->rs.unwritten = rc != 0;
    pthread_mutex_unlock(&m->rs.mu);
    if (rc && rc != KL_EPERM) /* a read-only archive keeps no statistics */
        kl__log(KL_LOG_WARN, "memo '%s': run statistics not written: %s", m->name, kl_errmsg());
}
