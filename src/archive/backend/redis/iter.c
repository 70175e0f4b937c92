/* SPDX-License-Identifier: BSD-3-Clause */
/* redis: iteration by HSCAN pages, with a table of keys already
 * returned (HSCAN may repeat one).  See redis.h. */
#define _GNU_SOURCE
#include "archive/backend/redis/redis.h"

#include <xxhash.h>

/* The XXH3-128 digests of the keys yielded so far (open addressing; the
 * all-zero digest marks a free slot, a key hashing to it is nudged). */
typedef struct rd_seen {
    XXH128_hash_t *slots;
    size_t cap, n; /* cap: a power of two */
} rd_seen;

static XXH128_hash_t rd_digest(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    if (h.low64 == 0 && h.high64 == 0)
        h.low64 = 1;
    return h;
}

static bool rd_seen_slot(const rd_seen *t, XXH128_hash_t h, size_t *at)
{
    size_t i = (size_t)h.low64 & (t->cap - 1);
    for (;; i = (i + 1) & (t->cap - 1)) {
        XXH128_hash_t x = t->slots[i];
        if (x.low64 == 0 && x.high64 == 0) {
            *at = i;
            return false;
        }
        if (x.low64 == h.low64 && x.high64 == h.high64)
            return true;
    }
}

/* 1: added; 0: seen before; KL_ENOMEM. */
static int rd_seen_add(rd_seen *t, XXH128_hash_t h)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        XXH128_hash_t *old = t->slots;
        size_t oldcap = t->cap;
        t->slots = calloc(cap, sizeof *t->slots);
        if (!t->slots) {
            t->slots = old;
            return kl_seterr(KL_ENOMEM, "redis: out of memory remembering the keys an "
                                        "iteration returned (%zu)", t->n);
        }
        t->cap = cap;
        for (size_t i = 0; i < oldcap; i++) {
            size_t at;
            if ((old[i].low64 || old[i].high64) && !rd_seen_slot(t, old[i], &at))
                t->slots[at] = old[i];
        }
        free(old);
    }
    size_t at;
    if (rd_seen_slot(t, h, &at))
        return 0;
    t->slots[at] = h;
    t->n++;
    return 1;
}

typedef struct rd_cursor {
    rd_state *s;
    redisReply *page; /* the last HSCAN reply */
    size_t next;      /* next field index in page's element list */
    char cur[24];     /* the server's cursor, decimal */
    unsigned count;   /* COUNT hint: smaller when pages come back big */
    bool started, done;
    rd_seen seen;
} rd_cursor;

int kl__rd_iter_new(void *state, void **cursor)
{
    rd_state *s = state;
    rd_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    c->s = s;
    c->count = RD_SCAN_MAX;
    strcpy(c->cur, "0");
    *cursor = c;
    return 0;
}

static int rd_iter_fetch(rd_cursor *c)
{
    rd_state *s = c->s;
    if (c->page)
        freeReplyObject(c->page);
    c->page = NULL;
    char count[16];
    int cl = snprintf(count, sizeof count, "%u", c->count);
    const char *argv[5] = {"HSCAN", s->k_entries, c->cur, "COUNT", count};
    size_t lens[5] = {5, s->l_entries, strlen(c->cur), 5, (size_t)cl};
    redisReply *rep;
    int r = kl__rd_run1(s, 5, argv, lens, true, &rep, "iterate");
    if (r)
        return r;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len == 0 ||
        rep->element[0]->len >= sizeof c->cur || rep->element[1]->type != REDIS_REPLY_ARRAY ||
        rep->element[1]->elements % 2) {
        r = kl__rd_unexpected(s, rep, "iterate");
        freeReplyObject(rep);
        return r;
    }
    memcpy(c->cur, rep->element[0]->str, rep->element[0]->len);
    c->cur[rep->element[0]->len] = '\0';
    c->started = true;
    c->done = strcmp(c->cur, "0") == 0;
    c->page = rep;
    c->next = 0;
    /* a page carries values too: with big values, ask for fewer entries
     * so one page stays near RD_PAGE_BYTES instead of gigabytes */
    size_t bytes = 0;
    for (size_t i = 0; i < rep->element[1]->elements; i++)
        bytes += rep->element[1]->element[i]->len;
    if (bytes > RD_PAGE_BYTES)
        c->count = c->count / 2 ? c->count / 2 : 1;
    else if (bytes < RD_PAGE_BYTES / 4 && c->count < RD_SCAN_MAX)
        c->count *= 2;
    return 0;
}

int kl__rd_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    rd_cursor *c = cursor;
    rd_state *s = c->s;
    for (;;) {
        if (!c->page || c->next >= c->page->element[1]->elements) {
            if (c->started && c->done)
                return 0;
            int r = rd_iter_fetch(c);
            if (r)
                return r;
            continue;
        }
        const redisReply *items = c->page->element[1];
        const redisReply *k = items->element[c->next], *v = items->element[c->next + 1];
        c->next += 2;
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return kl__rd_unexpected(s, k->type != REDIS_REPLY_STRING ? k : v, "iterate");
        int added = rd_seen_add(&c->seen, rd_digest(k->str, k->len));
        if (added < 0)
            return kl_seterr(KL_ENOMEM, "%s: iterate: out of memory", s->url);
        if (!added)
            continue; /* HSCAN returned it again */
        int r = kl__rd_copy_bulk(s, k, key, "iterate");
        if (!r && val)
            r = kl__rd_copy_bulk(s, v, val, "iterate");
        return r ? r : 1;
    }
}

void kl__rd_iter_free(void *cursor)
{
    rd_cursor *c = cursor;
    if (!c)
        return;
    if (c->page)
        freeReplyObject(c->page);
    free(c->seen.slots);
    free(c);
}
