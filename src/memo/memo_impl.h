/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memo's state (private): shared by memo.c (construction and the
 * generic face) and memo_typed.c (the KL_MEMOIZE face and its raw keys).
 */
#ifndef KLEPTO_MEMO_IMPL_H
#define KLEPTO_MEMO_IMPL_H

#include <pthread.h>
#include <string.h>

#include "cache/cache_memo.h"
#include "internal.h"
#include "klepto/memo.h"
#include "log.h"

/* Keys up to this size are built on the stack; longer ones on the heap. */
#define KEY_STACK 256

/* The most arguments a typed function takes (KL_MEMOIZE's limit). */
#define TYPED_MAX_ARGS 8

struct kl_memo {
    char *name;
    kl_memo_fn fn;
    void *userdata;
    bool safe;
    kl_signature *sig;
    kl_keymap *keymap;
    kl_keygen *keygen;
    kl_cache *cache;
    kl_archive *archive; /* owned */
    uint8_t prefix[80];  /* encoded [tag, …] head when a tag is set */
    size_t prefix_len;
    /* The typed face: one type code per argument ('d' double, 'f' float,
     * 'i' integer, 'b' bool, 's' text, 'A'..'J' arrays: memo_typed.h), ""
     * for a generic memo. */
    char types[TYPED_MAX_ARGS + 1];
    size_t ntypes;
    /* Raw keys: memory is keyed by the arguments' 64-bit images (8 bytes
     * each), the archive by the canonical key (memo_typed.c).  Set when
     * the memo is typed, has no text argument, and its options keep keys
     * a function of those bits (raw keymap, no rounding, nothing ignored). */
    bool raw_keys;
    bool raw_merge_zero; /* -0.0 and 0.0 make one key (untyped keymap) */
    unsigned float_args; /* bit i: argument i is a float */
    bool raw_opts_ok;    /* the options allow raw keys (set by configure) */
    /* klepto's archived(False): the archive stays open and owned but the
     * cache is not attached to it (memo_archive.c) */
    bool archive_off;
    /* Some argument is an array (type codes 'A'..'J', memo_typed.h): raw
     * keys are then of variable length; with one array only, its element
     * count is implied by the key's length and not written. */
    bool has_arrays;
    bool counted_arrays; /* more than one array: each written with its count */
    bool has_objects;    /* some argument is an object of a user type ('U') */
    uint8_t arg_esize[TYPED_MAX_ARGS]; /* an array argument's element size, 1 for
                                          an object (its encoded bytes); 0: scalar */
    const kl_usertype *objtype[TYPED_MAX_ARGS]; /* an object argument's type ('U') */
    /* Run statistics (memo_stats.c): this memo's record in its archive,
     * named by a random id; what it holds, and the cache's counters when
     * it was last written (only what grew since is added). */
    struct {
        pthread_mutex_t mu; /* dump and clear may run from many threads */
        uint8_t id[16];
        bool have_id;
        bool unwritten; /* total holds counts no write has stored yet */
        unsigned forks; /* the cache's fork count the record belongs to */
        kl_run_stats total;
        kl_cache_stats seen;
        uint64_t seen_miss_ns, seen_miss_timed;
    } rs;
};

/* Build the key of a call into stack (cap KEY_STACK) or, when longer, heap.
 * *key points at whichever holds it. */
static inline int memo_build_key(const kl_memo *m, const kl_call *call, uint8_t *stack,
                                 kl_buf *heap, const uint8_t **key, size_t *klen)
{
    size_t len;
    if (m->prefix_len)
        memcpy(stack, m->prefix, m->prefix_len);
    int rc = kl_keygen_key_into(m->keygen, call, stack + m->prefix_len,
                                KEY_STACK - m->prefix_len, &len);
    if (rc)
        return rc;
    if (KL_LIKELY(len <= KEY_STACK - m->prefix_len)) {
        *key = stack;
        *klen = m->prefix_len + len;
        return 0;
    }
    heap->len = 0;
    if ((rc = kl_buf_reserve(heap, m->prefix_len + len)))
        return rc;
    memcpy(heap->data, m->prefix, m->prefix_len);
    if ((rc = kl_keygen_key_into(m->keygen, call, heap->data + m->prefix_len, len, &len)))
        return rc;
    heap->len = m->prefix_len + len;
    *key = heap->data;
    *klen = heap->len;
    return 0;
}

/* The memory key of a call: its raw key when the memo has raw keys (into
 * stack), else its canonical key (as memo_build_key).  KL_ETYPE when an
 * argument does not fit the typed function's C type. */
int kl__memo_mem_key(const kl_memo *m, const kl_call *call, uint8_t *stack, kl_buf *heap,
                     const uint8_t **key, size_t *klen);

/* Decide raw keys from the types and the options, and tell the cache how
 * its memory keys map to archive keys (memo_typed.c).  After configure. */
void kl__memo_raw_keys_update(kl_memo *m);

/* Add what the cache counted since the last flush to the memo's run
 * statistics record and write it to the live archive (memo_stats.c).
 * Failures are told to the log (warn), not returned: statistics never
 * fail a dump or a free.  Not concurrently with configure/free. */
void kl__memo_stats_flush(kl_memo *m);
/* Take what the cache counted since the last flush into the record
 * without writing it, and count from zero on: before the cache's
 * statistics are zeroed (kl_memo_clear). */
void kl__memo_stats_take(kl_memo *m);
/* Start a new record (a new id, nothing in it) from the cache's counters
 * as they are now: after the memo's archive or cache was replaced. */
void kl__memo_stats_restart(kl_memo *m);

/* Debug log of a lookup's outcome (0 hit, 1 miss, 2 unusable value, < 0
 * error): one line naming the memo. */
void kl__memo_log_outcome(const kl_memo *m, int rc);

#endif
