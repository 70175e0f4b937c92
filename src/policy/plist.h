/* SPDX-License-Identifier: BSD-3-Clause */
/* Intrusive circular doubly linked list shared by the policies (private).
 * A node is the first bytes of an entry's policy metadata, so a policy can
 * find an entry's place in O(1) from the metadata address alone. */
#ifndef KLEPTO_POLICY_PLIST_H
#define KLEPTO_POLICY_PLIST_H

#include <stddef.h>

typedef struct kl__pnode {
    struct kl__pnode *prev, *next;
} kl__pnode;

/* A list is a sentinel node: head.next is the front (most recent push),
 * head.prev the back (oldest). */
static inline void kl__plist_init(kl__pnode *h) { h->prev = h->next = h; }
static inline int kl__plist_empty(const kl__pnode *h) { return h->next == h; }

static inline void kl__plist_push_front(kl__pnode *h, kl__pnode *n)
{
    n->prev = h;
    n->next = h->next;
    h->next->prev = n;
    h->next = n;
}

static inline void kl__plist_unlink(kl__pnode *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

static inline void kl__plist_move_front(kl__pnode *h, kl__pnode *n)
{
    kl__plist_unlink(n);
    kl__plist_push_front(h, n);
}

/* The oldest node, or NULL when empty. */
static inline kl__pnode *kl__plist_back(const kl__pnode *h) { return h->prev == h ? NULL : h->prev; }
/* The newest node, or NULL when empty. */
static inline kl__pnode *kl__plist_front(const kl__pnode *h) { return h->next == h ? NULL : h->next; }

#endif
