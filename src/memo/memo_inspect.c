/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Looking into a memo (memo.h): klepto's lookup (memory only, no effect),
 * the read-through fetch, and the walk over the entries in memory
 * (klepto's __cache__()).
 */
#include "klepto/memo.h"

#include "memo/memo_impl.h"

/* The memory key of a call and the thread's scratch buffer for its value. */
typedef struct call_key {
    uint8_t stack[KEY_STACK];
    kl_buf heap;
    const uint8_t *key;
    size_t klen;
    kl_buf *val;
} call_key;

static int call_key_of(kl_memo *m, const kl_call *call, call_key *k)
{
    k->heap = (kl_buf)KL_BUF_INIT;
    if (!(k->val = kl__thread_scratch()))
        return kl_seterr(KL_ENOMEM, "memo '%s': out of memory", m->name);
    return kl__memo_mem_key(m, call, k->stack, &k->heap, &k->key, &k->klen);
}

int kl_memo_lookup(kl_memo *m, const kl_call *call, kl_value *result)
{
    call_key k;
    int rc = call_key_of(m, call, &k);
    if (rc == 0)
        rc = kl__cache_peek(m->cache, k.key, k.klen, k.val);
    if (rc == 0)
        rc = kl_decode(k.val->data, k.val->len, result);
    kl_buf_free(&k.heap);
    return rc;
}

int kl_memo_fetch(kl_memo *m, const kl_call *call, kl_value *result)
{
    call_key k;
    int rc = call_key_of(m, call, &k);
    if (rc == 0)
        rc = kl_cache_get(m->cache, k.key, k.klen, k.val, false);
    if (rc == 0)
        rc = kl_decode(k.val->data, k.val->len, result);
    kl_buf_free(&k.heap);
    return rc;
}

typedef struct walk {
    kl_memo *m;
    kl_memo_entry_fn fn;
    void *ctx;
} walk;

static int visit(void *ctx, const uint8_t *key, size_t klen, const uint8_t *akey, size_t aklen,
                 const uint8_t *val, size_t vlen)
{
    (void)key;
    (void)klen;
    walk *w = ctx;
    kl_value args, value;
    int rc = kl_decode(akey, aklen, &args);
    if (rc)
        return kl_seterr(KL_ECORRUPT, "memo '%s': a key in memory does not decode", w->m->name);
    if ((rc = kl_decode(val, vlen, &value))) {
        kl_value_free(&args);
        return kl_seterr(KL_ECORRUPT, "memo '%s': a value in memory does not decode", w->m->name);
    }
    kl_memo_entry e = {akey, aklen, &args, &value};
    rc = w->fn(w->ctx, &e);
    kl_value_free(&args);
    kl_value_free(&value);
    return rc;
}

int kl_memo_foreach(kl_memo *m, kl_memo_entry_fn fn, void *ctx)
{
    if (!fn)
        return kl_seterr(KL_EINVAL, "memo '%s': foreach needs a function", m->name);
    walk w = {m, fn, ctx};
    return kl__cache_foreach(m->cache, visit, &w);
}
