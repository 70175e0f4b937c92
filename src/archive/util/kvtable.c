/* SPDX-License-Identifier: BSD-3-Clause */
/* See kvtable.h. */
#include "archive/util/kvtable.h"

#include "internal.h"

#include <stdlib.h>
#include <xxhash.h>

#define EMPTY 0u
#define TOMB UINT32_MAX

void kl__kv_init(kvtable *t) { memset(t, 0, sizeof *t); }

void kl__kv_clear(kvtable *t)
{
    for (size_t i = 0; i < t->nitems; i++)
        free(t->items[i].key);
    if (t->cursors) {
        /* keep positions meaningful for open cursors: holes everywhere */
        for (size_t i = 0; i < t->nitems; i++)
            t->items[i].key = NULL;
    } else {
        t->nitems = 0;
    }
    if (t->slots)
        memset(t->slots, 0, t->nslots * sizeof *t->slots);
    t->used = t->live = t->bytes = 0;
}

void kl__kv_free(kvtable *t)
{
    t->cursors = 0;
    kl__kv_clear(t);
    free(t->items);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t probe_start(const kvtable *t, uint64_t h) { return (size_t)h & (t->nslots - 1); }

static int rebuild(kvtable *t, size_t nslots)
{
    /* compacting the dense array moves items, which open cursors forbid */
    if (!t->cursors && t->live < t->nitems) {
        size_t w = 0;
        for (size_t i = 0; i < t->nitems; i++)
            if (t->items[i].key)
                t->items[w++] = t->items[i];
        t->nitems = w;
    }
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory growing an in-memory archive");
    free(t->slots);
    t->slots = s;
    t->nslots = nslots;
    t->used = 0;
    for (size_t i = 0; i < t->nitems; i++) {
        if (!t->items[i].key)
            continue;
        size_t j = probe_start(t, t->items[i].hash);
        while (s[j] != EMPTY)
            j = (j + 1) & (nslots - 1);
        s[j] = (uint32_t)(i + 1);
        t->used++;
    }
    return 0;
}

/* Slot holding key, or the slot index where it would go (*found false). */
static size_t lookup(kvtable *t, const void *key, size_t klen, uint64_t h, bool *found)
{
    size_t j = probe_start(t, h), free_slot = SIZE_MAX;
    for (;;) {
        uint32_t s = t->slots[j];
        if (s == EMPTY) {
            *found = false;
            return free_slot != SIZE_MAX ? free_slot : j;
        }
        if (s == TOMB) {
            if (free_slot == SIZE_MAX)
                free_slot = j;
        } else {
            kl__kv_item *it = &t->items[s - 1];
            if (it->hash == h && it->klen == klen && !memcmp(it->key, key, klen)) {
                *found = true;
                return j;
            }
        }
        j = (j + 1) & (t->nslots - 1);
    }
}

kl__kv_item *kl__kv_find(kvtable *t, const void *key, size_t klen)
{
    if (!t->nslots)
        return NULL;
    bool found;
    size_t j = lookup(t, key, klen, XXH3_64bits(key, klen), &found);
    return found ? &t->items[t->slots[j] - 1] : NULL;
}

int kl__kv_put(kvtable *t, const void *key, size_t klen, const void *val, size_t vlen,
           int64_t stored_ns, kl__kv_item **out)
{
    uint64_t h = XXH3_64bits(key, klen);
    if (klen > SIZE_MAX / 2 || vlen > SIZE_MAX / 2 - klen)
        return kl_seterr(KL_ETOOBIG, "entry of %zu + %zu bytes too large", klen, vlen);
    uint8_t *mem = malloc(klen + vlen + 1);
    if (!mem)
        return kl_seterr(KL_ENOMEM, "out of memory storing an entry of %zu bytes", klen + vlen);
    memcpy(mem, key, klen);
    if (vlen)
        memcpy(mem + klen, val, vlen);
    if ((t->used + 1) * 4 > t->nslots * 3) {
        size_t n = t->nslots ? t->nslots : 16;
        while ((t->live + 1) * 2 > n)
            n *= 2;
        int rc = rebuild(t, n);
        if (rc) {
            free(mem);
            return rc;
        }
    }
    bool found;
    size_t j = lookup(t, key, klen, h, &found);
    kl__kv_item *it;
    if (found) {
        it = &t->items[t->slots[j] - 1];
        t->bytes -= it->klen + it->vlen;
        free(it->key);
    } else {
        if (t->nitems >= UINT32_MAX - 1) {
            free(mem);
            return kl_seterr(KL_ETOOBIG, "too many entries in an in-memory archive");
        }
        if (t->nitems == t->itemcap) {
            size_t cap = t->itemcap ? t->itemcap * 2 : 16;
            kl__kv_item *p = realloc(t->items, cap * sizeof *p);
            if (!p) {
                free(mem);
                return kl_seterr(KL_ENOMEM, "out of memory growing an in-memory archive");
            }
            t->items = p;
            t->itemcap = cap;
        }
        if (t->slots[j] == EMPTY)
            t->used++;
        t->slots[j] = (uint32_t)(t->nitems + 1);
        it = &t->items[t->nitems++];
        t->live++;
    }
    it->key = mem;
    it->val = mem + klen;
    it->klen = klen;
    it->vlen = vlen;
    it->hash = h;
    it->stored_ns = stored_ns;
    it->dirty = false;
    t->bytes += klen + vlen;
    if (out)
        *out = it;
    return 0;
}

bool kl__kv_del(kvtable *t, const void *key, size_t klen)
{
    if (!t->nslots)
        return false;
    bool found;
    size_t j = lookup(t, key, klen, XXH3_64bits(key, klen), &found);
    if (!found)
        return false;
    kl__kv_item *it = &t->items[t->slots[j] - 1];
    t->bytes -= it->klen + it->vlen;
    free(it->key);
    it->key = NULL;
    t->slots[j] = TOMB;
    t->live--;
    return true;
}

kl__kv_item *kl__kv_next(kvtable *t, size_t *pos)
{
    while (*pos < t->nitems) {
        kl__kv_item *it = &t->items[(*pos)++];
        if (it->key)
            return it;
    }
    return NULL;
}
