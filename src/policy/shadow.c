/* SPDX-License-Identifier: BSD-3-Clause */
/* Shadow cache: see shadow.h.  The table is open addressing with
 * backward-shift deletion, as the ghost's (ghost.c), but maps a hash to
 * an entry carrying the policy's metadata. */
#include <stdlib.h>
#include <string.h>

#include "klepto/error.h"
#include "policy/shadow.h"

static inline size_t sh_home(const kl__shadow *s, uint64_t h)
{
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (size_t)h & s->mask;
}

int kl__shadow_init(kl__shadow *s, const kl_policy_ops *ops, size_t cap, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    if (cap == 0)
        cap = 1;
    if (ops->meta_size > sizeof(s->ent->meta) || cap >= UINT32_MAX / 4)
        return KL_EINVAL;
    size_t n = 4;
    while (n < 2 * (cap + 1))
        n <<= 1;
    s->ops = ops;
    s->cap = cap;
    s->mask = n - 1;
    s->ent = calloc(cap + 1, sizeof *s->ent);
    s->free_ids = malloc((cap + 1) * sizeof *s->free_ids);
    s->slots = calloc(n, sizeof *s->slots);
    if (!s->ent || !s->free_ids || !s->slots || ops->create(&s->st, cap, seed) != 0) {
        free(s->ent);
        free(s->free_ids);
        free(s->slots);
        s->st = NULL;
        return KL_ENOMEM;
    }
    for (size_t i = 0; i <= cap; i++)
        s->free_ids[s->nfree++] = (uint32_t)(cap - i);
    return 0;
}

void kl__shadow_free(kl__shadow *s)
{
    if (s->st)
        s->ops->destroy(s->st);
    free(s->ent);
    free(s->free_ids);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* The table slot of hash h, or of the empty slot where it would go. */
static size_t sh_find(const kl__shadow *s, uint64_t h, int *found)
{
    size_t i = sh_home(s, h);
    for (;;) {
        uint32_t v = s->slots[i];
        if (v == 0 || s->ent[v - 1].hash == h) {
            *found = v != 0;
            return i;
        }
        i = (i + 1) & s->mask;
    }
}

static void sh_delete_slot(kl__shadow *s, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & s->mask;
        uint32_t v = s->slots[j];
        if (v == 0)
            break;
        size_t k = sh_home(s, s->ent[v - 1].hash);
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            s->slots[i] = v;
            i = j;
        }
    }
    s->slots[i] = 0;
}

int kl__shadow_access(kl__shadow *s, uint64_t h)
{
    int found;
    size_t i = sh_find(s, h, &found);
    if (found) {
        s->ops->on_hit(s->st, s->ent[s->slots[i] - 1].meta);
        return 1;
    }
    uint32_t id = s->free_ids[--s->nfree];
    kl__shadow_ent *e = &s->ent[id];
    memset(e->meta, 0, sizeof e->meta);
    e->hash = h;
    s->slots[i] = id + 1;
    s->count++;
    s->ops->on_insert(s->st, e->meta, h);
    while (s->count > s->cap) {
        kl__shadow_ent *v = s->ops->victim(s->st);
        if (!v)
            break;
        size_t vi = sh_find(s, v->hash, &found);
        sh_delete_slot(s, vi);
        s->ops->on_remove(s->st, v->meta);
        s->free_ids[s->nfree++] = (uint32_t)(v - s->ent);
        s->count--;
    }
    return 0;
}
