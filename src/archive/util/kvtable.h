/* SPDX-License-Identifier: BSD-3-Clause */
/* An in-memory dictionary of byte keys to byte values, shared by mem: and
 * the cached front.  Entries live in a dense array in insertion order
 * (holes where deleted) with an open-addressing index over it, so a cursor
 * (a position in the dense array) survives inserts, deletes and index
 * growth.  Not synchronised: callers lock. */
#ifndef KLEPTO_ARCHIVE_KVTABLE_H
#define KLEPTO_ARCHIVE_KVTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kl__kv_item {
    uint8_t *key; /* NULL: a hole left by a delete */
    uint8_t *val; /* inside the same allocation as key */
    size_t klen, vlen;
    uint64_t hash;
    int64_t stored_ns;
    bool dirty;   /* for the cached front: not yet written to the backing */
} kl__kv_item;

typedef struct kvtable {
    kl__kv_item *items;
    size_t nitems, itemcap; /* dense array, holes included */
    size_t live;            /* entries present */
    uint32_t *slots;        /* 0 empty, UINT32_MAX deleted, else item index + 1 */
    size_t nslots, used;    /* used: non-empty slots (live + deleted) */
    size_t bytes;           /* key + value bytes of live entries */
    unsigned cursors;       /* open cursors: the dense array is not compacted */
} kvtable;

void kl__kv_init(kvtable *t);
void kl__kv_free(kvtable *t);
void kl__kv_clear(kvtable *t);
kl__kv_item *kl__kv_find(kvtable *t, const void *key, size_t klen);
/* Insert or replace; KL_ENOMEM / KL_ETOOBIG.  *out (optional) the item. */
int kl__kv_put(kvtable *t, const void *key, size_t klen, const void *val, size_t vlen,
           int64_t stored_ns, kl__kv_item **out);
/* true if it was present */
bool kl__kv_del(kvtable *t, const void *key, size_t klen);
/* The next live item at or after *pos (advanced past it), or NULL. */
kl__kv_item *kl__kv_next(kvtable *t, size_t *pos);

#endif
