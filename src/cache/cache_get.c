/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cache's lookups (cache.h, cache_memo.h): kl_cache_get, the
 * single-flight acquire (tickets), and the typed acquire behind
 * KL_MEMOIZE's hits.
 *
 * One locked get serves them all (memory_get_locked: probe, expiry, value,
 * policy, statistics), handing a found value to a sink: its bytes copied
 * into a buffer, shown in place to a take function, or decoded as a typed
 * result of the memo.  Where fast reads are on (cache_read.c) a hit is
 * served without the lock first.  A key found nowhere makes its caller
 * compute it, holding a ticket; concurrent callers of the same key wait
 * for that ticket's result ("flights").
 */
#include <stdlib.h>

#include "cache/cache_impl.h"
#include "cache/cache_read.h"
#include "cache/table.h"
#include "log.h"
#include "codec/cbor_scalar.h"

struct kl_cache_ticket {
    kl_cache *cache;
    struct shard *shard;
    struct kl_cache_ticket *next;
    uint64_t hash;
    size_t klen;
    uint8_t *key; /* the ticket's own bytes, after it */
    size_t keycap;
    uint8_t *val; /* a copy of the result for waiters */
    size_t vlen;
    int state; /* 0 computing, 1 done, < 0 abandoned with this error */
    int refs;  /* the owner + waiters */
    int64_t started_ns; /* monotonic: when the caller was told to compute */
};

/* ---- sinks: where a found value goes ---------------------------------------------- */

enum sink_kind { SINK_BUF, SINK_TAKE, SINK_RESULT };

typedef struct sink {
    enum sink_kind kind;
    kl_buf *buf;           /* SINK_BUF: the value's bytes replace its contents */
    kl_cache_take_fn take; /* SINK_TAKE: take(ctx, bytes, length) */
    void *ctx;             /* SINK_TAKE: take's context; SINK_RESULT: the result */
    kl_result_kind result; /* SINK_RESULT: the C type the value is decoded into */
} sink;

/* A value as a typed result of `kind` into *out, beyond a float64 double:
 * 0, or an error when it holds no such result. */
static __attribute__((noinline)) int result_decode_slow(kl_result_kind kind, void *out,
                                                        const uint8_t *v, size_t n)
{
    double d;
    int64_t i;
    bool b;
    int rc;
    switch (kind) {
    case KL_RESULT_DOUBLE:
        return kl_decode_double(v, n, out);
    case KL_RESULT_FLOAT:
        if (!kl__cbor_f64_get(v, n, &d) && (rc = kl_decode_double(v, n, &d)))
            return rc;
        *(float *)out = (float)d;
        return 0;
    case KL_RESULT_INT64:
        return kl_decode_int64(v, n, out);
    case KL_RESULT_INT:
        if ((rc = kl_decode_int64(v, n, &i)))
            return rc;
        if (i < INT32_MIN || i > INT32_MAX)
            return kl_seterr(KL_ERANGE, "cache: the stored result %lld is not an int",
                             (long long)i);
        *(int *)out = (int)i;
        return 0;
    case KL_RESULT_LONG:
        if ((rc = kl_decode_int64(v, n, &i)))
            return rc;
        *(long *)out = (long)i;
        return 0;
    case KL_RESULT_BOOL:
        if (!kl__cbor_bool_get(v, n, &b))
            return kl_seterr(KL_ETYPE, "cache: the stored result is not a bool");
        *(bool *)out = b;
        return 0;
    }
    return kl_seterr(KL_EINVAL, "cache: unknown result kind %d", (int)kind);
}

static inline int result_decode(kl_result_kind kind, void *out, const uint8_t *v, size_t n)
{
    if (KL_LIKELY(kind == KL_RESULT_DOUBLE) && kl__cbor_f64_get(v, n, out))
        return 0; /* the common case: a double stored as a float64 */
    return result_decode_slow(kind, out, v, n);
}

/* Hand a found value to the sink: 0, 1 when the sink refuses it (not a
 * result of its kind, or take said no), < 0 an error (out of memory). */
static inline __attribute__((always_inline)) int sink_put(sink s, const uint8_t *v, size_t n)
{
    switch (s.kind) {
    case SINK_RESULT:
        return result_decode(s.result, s.ctx, v, n) ? 1 : 0;
    case SINK_TAKE:
        return s.take(s.ctx, v, n) ? 1 : 0;
    case SINK_BUF:
        break;
    }
    kl_buf *b = s.buf;
    if (v == b->data)
        return 0; /* already there */
    b->len = 0;
    if (n > b->cap) {
        int rc = kl_buf_reserve(b, n);
        if (rc)
            return rc;
    }
    if (n)
        memcpy(b->data, v, n);
    b->len = n;
    return 0;
}

/* ---- the locked get ---------------------------------------------------------------- */

#define GOT 1     /* found, and the sink took it */
#define REFUSED 2 /* found (and counted), but the sink refused it */

/* Look a key up in memory (shard lock held): GOT or REFUSED, the hit
 * counted and told to the policy; 0 absent (*expired when an expired entry
 * was dropped); < 0 an error. */
static inline __attribute__((always_inline)) int
memory_get_locked(kl_cache *c, shard *sh, const void *key, size_t klen, uint64_t h,
                  sink s, bool *expired)
{
    size_t slot;
    entry *e = table_find(c, sh, key, klen, h, &slot);
    if (!e)
        return 0;
    if (c->ttl_ns > 0 && !entry_dirty(c, e) && entry_expired(c, e, now_ns())) {
        kl__shard_drop(c, sh, e, slot);
        sh->expirations++;
        *expired = true;
        return 0;
    }
    int rc = sink_put(s, entry_val(c, e), entry_vlen(c, e));
    if (rc < 0)
        return rc;
    policy_hit(c, sh, e);
    sh->hit++;
    return rc ? REFUSED : GOT;
}

/* A typed result read without the lock, for keys of whole words (the
 * memo's raw keys): 1 served (counted), else -1 (the locked path decides:
 * absent, a writer kept interfering, a long value, or one that is not a
 * result of `kind` — the locked path counts and refuses it). */
static inline __attribute__((always_inline)) int
read_result(kl_cache *c, const void *key, size_t klen, uint64_t h, kl_result_kind kind, void *out)
{
    int ts = kl__thread_slot();
    if (KL_UNLIKELY(ts < 0 || klen % 8))
        return -1;
    reader *r = &c->readers[ts];
    shard *sh = shard_of(c, h);
    uint64_t val[4]; /* results are short */
    fast_found f = fast_read(c, r, sh, key, klen / 8, 0, h, val, 4);
    if (f.found != FAST_FOUND)
        return -1;
    if (!(KL_LIKELY(kind == KL_RESULT_DOUBLE) &&
          kl__cbor_f64_get_words(val[0], val[1], f.vlen, out)) &&
        result_decode_slow(kind, out, (const uint8_t *)val, f.vlen))
        return -1;
    fast_hit(c, r, sh, &f);
    return 1;
}

int kl_cache_get(kl_cache *c, const void *key, size_t klen, kl_buf *val, bool count_miss)
{
    uint64_t h = key_hash(key, klen);
    shard *sh = shard_of(c, h);
    bool expired = false;
    if (__atomic_load_n(&c->fast_now, __ATOMIC_RELAXED) &&
        kl__cache_read_bytes(c, key, klen, h, val) == 1)
        return 0;
    if (c->mode != MODE_NO) {
        sink s = {.kind = SINK_BUF, .buf = val};
        spin_lock(&sh->lock);
        int found = memory_get_locked(c, sh, key, klen, h, s, &expired);
        spin_unlock(&sh->lock);
        if (found)
            return found < 0 ? found : 0;
    }
    if (c->archive && !expired) {
        int64_t age = 0;
        int rc = kl__cache_archive_get(c, key, klen, val, &age);
        if (rc == 0) {
            shard_count(sh, &sh->load);
            int mrc = kl__cache_memory_put(c, h, key, klen, val->data, val->len, false, age);
            (void)mrc; /* a value too big for memory is still returned */
            return 0;
        }
        if (rc != KL_ENOTFOUND) {
            shard_count(sh, &sh->errors);
            kl__log_swallowed("counted as an error");
            return rc;
        }
    }
    if (count_miss)
        shard_count(sh, &sh->miss);
    return kl_seterr(KL_ENOTFOUND, "cache: key not found");
}

/* ---- single-flight ------------------------------------------------------------------- */

/* Tickets for keys up to this size are kept for reuse (one per shard), so
 * a miss usually allocates nothing for its flight. */
#define TICKET_KEYCAP 64

static void ticket_release_locked(struct kl_cache_ticket *t)
{
    if (--t->refs == 0) {
        free(t->val);
        t->val = NULL;
        shard *sh = t->shard;
        if (!sh->spare && t->keycap == TICKET_KEYCAP)
            sh->spare = t;
        else
            free(t);
    }
}

/* A ticket with room for klen key bytes (lock held), or NULL. */
static struct kl_cache_ticket *ticket_new_locked(shard *sh, size_t klen)
{
    struct kl_cache_ticket *t = sh->spare;
    if (t && klen <= t->keycap) {
        sh->spare = NULL;
    } else {
        size_t cap = klen <= TICKET_KEYCAP ? TICKET_KEYCAP : klen;
        t = malloc(sizeof *t + cap);
        if (!t)
            return NULL;
        t->keycap = cap;
        t->key = (uint8_t *)(t + 1);
    }
    t->val = NULL;
    t->vlen = 0;
    t->state = 0;
    return t;
}

static void flight_unlink_locked(shard *sh, struct kl_cache_ticket *t)
{
    for (struct kl_cache_ticket **p = &sh->flights; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            return;
        }
}

/* End a flight with a value (val != NULL) or an error: unlink it so no new
 * waiter finds it, hand the waiters a copy of the value, wake them, and
 * drop the owner's reference.  `state` is only written under flight_mx so
 * a waiter cannot miss the wake-up. */
static void flight_finish(shard *sh, struct kl_cache_ticket *t, const void *val, size_t vlen,
                          int error)
{
    spin_lock(&sh->lock);
    flight_unlink_locked(sh, t);
    bool waiters = t->refs > 1;
    int state = error;
    if (waiters && !error) {
        t->val = malloc(vlen ? vlen : 1);
        if (t->val) {
            if (vlen)
                memcpy(t->val, val, vlen);
            t->vlen = vlen;
            state = 1;
        } else {
            state = KL_ENOMEM;
        }
    }
    if (!waiters) {
        ticket_release_locked(t);
        spin_unlock(&sh->lock);
        return;
    }
    spin_unlock(&sh->lock);
    pthread_mutex_lock(&sh->flight_mx);
    __atomic_store_n(&t->state, state, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&sh->flight_done);
    pthread_mutex_unlock(&sh->flight_mx);
    spin_lock(&sh->lock);
    ticket_release_locked(t);
    spin_unlock(&sh->lock);
}

/* Wait for another thread's flight (registered as a waiter, shard lock
 * held on entry and released on return) and take its result. */
static int flight_wait(shard *sh, struct kl_cache_ticket *f, kl_buf *val)
{
    f->refs++;
    spin_unlock(&sh->lock);
    pthread_mutex_lock(&sh->flight_mx);
    while (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) == 0)
        pthread_cond_wait(&sh->flight_done, &sh->flight_mx);
    pthread_mutex_unlock(&sh->flight_mx);
    spin_lock(&sh->lock);
    int rc = f->state < 0 ? f->state : 0;
    if (rc == 0) {
        val->len = 0;
        rc = kl_buf_reserve(val, f->vlen);
        if (rc == 0) {
            if (f->vlen)
                memcpy(val->data, f->val, f->vlen);
            val->len = f->vlen;
            sh->hit++;
        }
    } else {
        kl_seterr(rc, "cache: the computation this call waited for failed: %s",
                  kl_strerror(rc));
    }
    ticket_release_locked(f);
    spin_unlock(&sh->lock);
    return rc;
}

/* The rest of a lookup that memory did not serve (shard lock held on
 * entry, released on return): wait for another thread's flight, or start
 * one, try the archive, and hand the caller the ticket.  A value that is
 * not the caller's own buffer's arrives in the thread's scratch buffer
 * first. */
static __attribute__((noinline)) int acquire_slow(kl_cache *c, shard *sh, uint64_t h,
                                                  const void *key, size_t klen, sink s,
                                                  kl_cache_ticket **ticket, bool expired)
{
    kl_buf *val = s.kind == SINK_BUF ? s.buf : kl__thread_scratch();
    if (!val) {
        spin_unlock(&sh->lock);
        return kl_seterr(KL_ENOMEM, "cache: out of memory");
    }
    for (struct kl_cache_ticket *f = sh->flights; f; f = f->next)
        if (f->hash == h && f->klen == klen && memcmp(f->key, key, klen) == 0) {
            int rc = flight_wait(sh, f, val); /* someone is computing this key */
            if (rc == 0 && sink_put(s, val->data, val->len))
                rc = REFUSED;
            return rc;
        }
    struct kl_cache_ticket *t = ticket_new_locked(sh, klen);
    if (!t) {
        spin_unlock(&sh->lock);
        return kl_seterr(KL_ENOMEM, "cache: out of memory");
    }
    memcpy(t->key, key, klen);
    t->cache = c;
    t->shard = sh;
    t->hash = h;
    t->klen = klen;
    t->refs = 1;
    t->next = sh->flights;
    sh->flights = t;
    bool try_archive = c->archive && !expired;
    if (!try_archive)
        sh->miss++; /* counted now, under the lock already held */
    spin_unlock(&sh->lock);

    if (try_archive) {
        int64_t age = 0;
        int rc = kl__cache_archive_get(c, key, klen, val, &age);
        if (rc == 0) {
            shard_count(sh, &sh->load);
            (void)kl__cache_memory_put(c, h, key, klen, val->data, val->len, false, age);
            flight_finish(sh, t, val->data, val->len, 0);
            return sink_put(s, val->data, val->len) ? REFUSED : 0;
        }
        if (rc != KL_ENOTFOUND) { /* damaged or unreachable: compute afresh */
            shard_count(sh, &sh->errors);
            kl__log_swallowed("counted as an error, the value is computed afresh");
        }
        shard_count(sh, &sh->miss);
    }
    /* the miss's cost, from here to kl_cache_fulfil: timed only for a
     * cache with an archive, where the memo's run statistics go */
    t->started_ns = c->archive ? now_ns() : 0;
    *ticket = t;
    return 1;
}

/* Every acquire: a fast read where they are on, else the locked get, else
 * acquire_slow.  Inlined into each with its sink, so that a hit is one
 * straight run: hash, lock, probe, copy or decode, policy, unlock.
 * Returns 0 (the sink took the value), 1 (*ticket set), REFUSED, < 0. */
static inline __attribute__((always_inline)) int
acquire_impl(kl_cache *c, const void *key, size_t klen, uint64_t h, sink s,
             kl_cache_ticket **ticket)
{
    *ticket = NULL;
    if (s.kind != SINK_TAKE && __atomic_load_n(&c->fast_now, __ATOMIC_RELAXED) &&
        (s.kind == SINK_BUF ? kl__cache_read_bytes(c, key, klen, h, s.buf)
                            : read_result(c, key, klen, h, s.result, s.ctx)) == 1)
        return 0;
    shard *sh = shard_of(c, h);
    bool expired = false;
    spin_lock(&sh->lock);
    if (KL_LIKELY(c->mode != MODE_NO)) {
        int found = memory_get_locked(c, sh, key, klen, h, s, &expired);
        if (KL_LIKELY(found)) {
            spin_unlock(&sh->lock);
            return found == GOT ? 0 : found;
        }
    }
    return acquire_slow(c, sh, h, key, klen, s, ticket, expired);
}

int kl_cache_acquire(kl_cache *c, const void *key, size_t klen, kl_buf *val,
                     kl_cache_ticket **ticket)
{
    sink s = {.kind = SINK_BUF, .buf = val};
    return acquire_impl(c, key, klen, key_hash(key, klen), s, ticket);
}

int kl_cache_acquire_take(kl_cache *c, const void *key, size_t klen, kl_cache_take_fn take,
                          void *ctx, kl_cache_ticket **ticket)
{
    sink s = {.kind = SINK_TAKE, .take = take, .ctx = ctx};
    return acquire_impl(c, key, klen, key_hash(key, klen), s, ticket);
}

int kl__cache_acquire_result(kl_cache *c, const void *key, size_t klen, kl_result_kind kind,
                             void *out, kl_cache_ticket **ticket)
{
    sink s = {.kind = SINK_RESULT, .ctx = out, .result = kind};
    int rc = acquire_impl(c, key, klen, key_hash(key, klen), s, ticket);
    if (KL_UNLIKELY(rc < 0)) /* a typed call reports no errors: it counts them */
        kl_cache_count_error(c);
    return rc;
}

int kl_cache_fulfil(kl_cache_ticket *t, const void *val, size_t vlen)
{
    if (t->started_ns) {
        int64_t took = now_ns() - t->started_ns;
        shard *sh = t->shard;
        spin_lock_quiet(&sh->lock);
        sh->miss_ns += took > 0 ? (uint64_t)took : 0;
        sh->miss_timed++;
        spin_unlock(&sh->lock);
    }
    int rc = kl__cache_store(t->cache, t->hash, t->key, t->klen, val, vlen);
    flight_finish(t->shard, t, val, vlen, 0);
    return rc;
}

void kl_cache_abandon(kl_cache_ticket *t, int error)
{
    flight_finish(t->shard, t, NULL, 0, error < 0 ? error : KL_EFUNC);
}
