/* SPDX-License-Identifier: BSD-3-Clause */
/* file: the in-memory index (128-bit key hash -> record) and the
 * batched updates a scan applies to it.  See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"

#include <stdlib.h>

slot *kl__file_tab_find(fa *s, uint64_t lo, uint64_t hi, bool for_insert)
{
    if (!s->cap)
        return NULL;
    size_t i = (size_t)lo & (s->cap - 1);
    slot *tomb = NULL;
    for (;;) {
        slot *e = &s->tab[i];
        if (e->len == EMPTY_LEN)
            return for_insert ? (tomb ? tomb : e) : NULL;
        if (e->off == TOMB_OFF) {
            if (!tomb)
                tomb = e;
        } else if (e->lo == lo && e->hi == hi) {
            return e;
        }
        i = (i + 1) & (s->cap - 1);
    }
}

static int tab_grow(fa *s)
{
    size_t cap = s->cap ? s->cap : 1024;
    while ((s->count + 1) * 2 > cap)
        cap *= 2;
    slot *t = calloc(cap, sizeof *t);
    if (!t)
        return kl_seterr(KL_ENOMEM, "%s: out of memory for the index", s->url);
    for (size_t i = 0; i < s->cap; i++) {
        slot *e = &s->tab[i];
        if (e->len == EMPTY_LEN || e->off == TOMB_OFF)
            continue;
        size_t j = (size_t)e->lo & (cap - 1);
        while (t[j].len != EMPTY_LEN)
            j = (j + 1) & (cap - 1);
        t[j] = *e;
    }
    free(s->tab);
    s->tab = t;
    s->cap = cap;
    s->used = s->count;
    return 0;
}

int kl__file_tab_apply(fa *s, int type, uint64_t lo, uint64_t hi, uint64_t off, uint64_t len)
{
    if (type == T_PUT && (s->used + 1) * 4 > s->cap * 3) {
        int rc = tab_grow(s);
        if (rc)
            return rc;
    }
    slot *e = kl__file_tab_find(s, lo, hi, type == T_PUT);
    if (type == T_PUT) {
        if (e->len != EMPTY_LEN && e->off != TOMB_OFF) {
            s->live -= e->len;
        } else {
            if (e->len == EMPTY_LEN)
                s->used++;
            s->count++;
        }
        *e = (slot){lo, hi, off, len};
        s->live += len;
    } else if (e) {
        s->live -= e->len;
        e->off = TOMB_OFF;
        s->count--;
    }
    return 0;
}

int kl__file_batch_flush(fa *s, batch *b)
{
    if (s->cap && (s->used + b->n) * 4 <= s->cap * 3)
        for (size_t i = 0; i < b->n; i++)
            __builtin_prefetch(&s->tab[(size_t)b->ops[i].lo & (s->cap - 1)]);
    int rc = 0;
    for (size_t i = 0; !rc && i < b->n; i++)
        rc = kl__file_tab_apply(s, b->ops[i].type, b->ops[i].lo, b->ops[i].hi, b->ops[i].off,
                       b->ops[i].len);
    b->n = 0;
    return rc;
}

int kl__file_batch_add(fa *s, batch *b, int type, uint64_t lo, uint64_t hi, uint64_t off,
                     uint64_t len)
{
    b->ops[b->n++] = (op){type, lo, hi, off, len};
    return b->n == sizeof b->ops / sizeof b->ops[0] ? kl__file_batch_flush(s, b) : 0;
}

void kl__file_tab_reset(fa *s)
{
    if (s->tab)
        memset(s->tab, 0, s->cap * sizeof *s->tab);
    s->count = s->used = 0;
    s->live = s->damaged = 0;
    s->end = FHDR;
}
