/*
 * Memoized functions (memo.h): the call path that ties keygen, cache and
 * archive together, and the support functions of the typed KL_MEMOIZE
 * wrapper.
 */
#define _GNU_SOURCE
#include "klepto/memo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cache_impl.h"
#include "internal.h"

/* Keys up to this size are built on the stack; longer ones on the heap. */
#define KEY_STACK 256

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
};

/* ---- per-thread scratch buffer for value bytes ---------------------------------- */

/* The buffer lives in a thread-local pointer (one load on the hot path);
 * the pthread key only exists to free it when the thread ends. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local kl_buf *scratch_buf;

static void scratch_free(void *p)
{
    kl_buf_free(p);
    free(p);
    scratch_buf = NULL;
}
static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static kl_buf *scratch_slow(void)
{
    pthread_once(&scratch_once, scratch_init);
    kl_buf *b = calloc(1, sizeof *b);
    if (!b || pthread_setspecific(scratch_key, b) != 0) {
        free(b);
        return NULL;
    }
    scratch_buf = b;
    return b;
}

static inline kl_buf *scratch(void)
{
    kl_buf *b = scratch_buf;
    return KL_LIKELY(b != NULL) ? b : scratch_slow();
}

/* ---- construction ---------------------------------------------------------------- */

static void memo_release_parts(kl_memo *m)
{
    kl_keygen_free(m->keygen);
    kl_keymap_free(m->keymap);
    kl_signature_free(m->sig);
    m->keygen = NULL;
    m->keymap = NULL;
    m->sig = NULL;
}

static int memo_set_tag(kl_memo *m, const char *tag)
{
    m->prefix_len = 0;
    if (!tag)
        return 0;
    size_t n = strlen(tag);
    kl_enc e;
    kl_enc_init(&e, m->prefix, sizeof m->prefix, 0);
    kl_enc_array_head(&e, 2);
    kl_enc_text(&e, tag, n);
    if (!kl_enc_ok(&e))
        return kl_seterr(KL_EINVAL, "memo '%s': tag '%s' is longer than %zu bytes", m->name,
                         tag, sizeof m->prefix - 4);
    m->prefix_len = e.len;
    return 0;
}

int kl_memo_configure(kl_memo *m, const kl_memo_opts *opts)
{
    kl_memo_opts def = KL_MEMO_OPTS_INIT;
    if (!opts)
        opts = &def;
    if (opts->version == 0 || opts->version > KL_MEMO_OPTS_VERSION)
        return kl_seterr(KL_EINVAL, "memo '%s': options version %u unknown", m->name,
                         opts->version);
    kl_signature *sig = NULL;
    kl_keymap *km = NULL;
    kl_keygen *kg = NULL;
    kl_cache *cache = NULL;
    kl_archive *ar = NULL;
    int rc = 0;
    if (opts->signature && (rc = kl_signature_parse(&sig, opts->signature)))
        goto fail;
    if ((rc = kl_keymap_new(&km, &opts->keymap)))
        goto fail;
    kl_keygen_opts kgo = KL_KEYGEN_OPTS_INIT;
    kgo.ignore = opts->ignore;
    kgo.tol = opts->tol;
    kgo.rounding = opts->rounding;
    if ((rc = kl_keygen_new(&kg, sig ? sig : m->sig, km, &kgo)))
        goto fail;
    if ((rc = kl_cache_new(&cache, &opts->cache)))
        goto fail;
    if (opts->archive && (rc = kl_archive_open(&ar, opts->archive, NULL)))
        goto fail;
    if ((rc = memo_set_tag(m, opts->tag)))
        goto fail;

    /* commit: swap the new parts in */
    kl_archive *keep_ar = ar ? ar : m->archive;
    if (m->cache)
        kl_cache_free(m->cache);
    if (ar && m->archive)
        kl_archive_close(m->archive);
    if (sig) {
        kl_signature_free(m->sig);
        m->sig = sig;
    }
    kl_keygen_free(m->keygen);
    kl_keymap_free(m->keymap);
    m->keymap = km;
    m->keygen = kg;
    m->cache = cache;
    m->archive = keep_ar;
    m->safe = opts->safe;
    if (m->archive)
        kl_cache_set_archive(m->cache, m->archive);
    return 0;
fail:
    kl_archive_close(ar);
    kl_cache_free(cache);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    kl_signature_free(sig);
    return rc;
}

int kl_memo_new(kl_memo **out, const char *name, kl_memo_fn fn, void *userdata,
                const kl_memo_opts *opts)
{
    if (!fn)
        return kl_seterr(KL_EINVAL, "memo '%s': no function given", name ? name : "");
    kl_memo *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name ? name : "memo"))) {
        free(m);
        return kl_seterr(KL_ENOMEM, "memo: out of memory");
    }
    m->fn = fn;
    m->userdata = userdata;
    int rc = kl_memo_configure(m, opts);
    if (rc) {
        free(m->name);
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int kl_memo_free(kl_memo *m)
{
    if (!m)
        return 0;
    int rc = kl_cache_free(m->cache);
    int arc = kl_archive_close(m->archive);
    memo_release_parts(m);
    free(m->name);
    free(m);
    return rc ? rc : arc;
}

int kl_memo_set_archive(kl_memo *m, const char *url)
{
    kl_archive *ar = NULL;
    if (url) {
        int rc = kl_archive_open(&ar, url, NULL);
        if (rc)
            return rc;
    }
    int rc = kl_cache_set_archive(m->cache, ar);
    kl_archive_close(m->archive);
    m->archive = ar;
    return rc;
}

kl_archive *kl_memo_archive(const kl_memo *m) { return m->archive; }
const char *kl_memo_name(const kl_memo *m) { return m->name; }

/* ---- keys -------------------------------------------------------------------------- */

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

int kl_memo_key(kl_memo *m, const kl_call *call, kl_buf *key)
{
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *k;
    size_t klen;
    int rc = memo_build_key(m, call, stack, &heap, &k, &klen);
    if (rc == 0)
        rc = kl_buf_append(key, k, klen);
    kl_buf_free(&heap);
    return rc;
}

/* ---- the generic call path ------------------------------------------------------- */

static int call_uncached(kl_memo *m, const kl_call *call, kl_value *result)
{
    *result = kl_value_null();
    kl_errclear(); /* so that a message afterwards is the function's own */
    int rc = m->fn(m->userdata, call, result);
    if (rc) {
        kl_value_free(result);
        if (rc > 0)
            rc = KL_EFUNC;
        return kl_errmsg()[0] ? rc
                              : kl_seterr(rc, "memo '%s': the function failed: %s", m->name,
                                          kl_strerror(rc));
    }
    return 0;
}

int kl_memo_call(kl_memo *m, const kl_call *call, kl_value *result)
{
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *key;
    size_t klen;
    int rc = memo_build_key(m, call, stack, &heap, &key, &klen);
    if (rc) {
        kl_buf_free(&heap);
        if (rc == KL_EINVAL || !m->safe)
            return rc;
        kl_cache_count_error(m->cache); /* safe: the call goes ahead uncached */
        return call_uncached(m, call, result);
    }
    kl_buf *val = scratch();
    if (!val) {
        kl_buf_free(&heap);
        return kl_seterr(KL_ENOMEM, "memo '%s': out of memory", m->name);
    }
    kl_cache_ticket *t;
    rc = kl_cache_acquire(m->cache, key, klen, val, &t);
    if (rc == 0) {
        rc = kl_decode(val->data, val->len, result);
        if (rc) { /* a damaged stored value: recompute rather than fail */
            kl_cache_count_error(m->cache);
            rc = call_uncached(m, call, result);
        }
    } else if (rc == 1) {
        rc = call_uncached(m, call, result);
        if (rc) {
            kl_cache_abandon(t, rc);
        } else {
            val->len = 0;
            int erc = kl_encode(val, result, 0);
            if (erc) {
                kl_cache_abandon(t, erc);
                if (!m->safe) {
                    kl_value_free(result);
                    rc = erc;
                } else {
                    kl_cache_count_error(m->cache);
                }
            } else {
                (void)kl_cache_fulfil(t, val->data, val->len); /* archive errors counted */
            }
        }
    }
    kl_buf_free(&heap);
    return rc;
}

int kl_memo_lookup(kl_memo *m, const kl_call *call, kl_value *result)
{
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT, val = KL_BUF_INIT;
    const uint8_t *key;
    size_t klen;
    int rc = memo_build_key(m, call, stack, &heap, &key, &klen);
    if (rc == 0)
        rc = kl_cache_get(m->cache, key, klen, &val, false);
    if (rc == 0)
        rc = kl_decode(val.data, val.len, result);
    kl_buf_free(&heap);
    kl_buf_free(&val);
    return rc;
}

int kl_memo_forget(kl_memo *m, const kl_call *call)
{
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *key;
    size_t klen;
    int rc = memo_build_key(m, call, stack, &heap, &key, &klen);
    if (rc == 0)
        rc = kl_cache_forget(m->cache, key, klen);
    kl_buf_free(&heap);
    return rc;
}

void kl_memo_info_get(const kl_memo *m, kl_memo_info *out)
{
    kl_cache_stats s;
    kl_cache_stats_get(m->cache, &s);
    out->hit = s.hit;
    out->miss = s.miss;
    out->load = s.load;
    out->errors = s.errors;
    out->evictions = s.evictions;
    out->expirations = s.expirations;
    out->size = s.size;
    out->maxsize = s.maxsize;
    out->bytes = s.bytes;
    out->policy = kl_cache_policy(m->cache);
}

int kl_memo_clear(kl_memo *m, bool keep_stats) { return kl_cache_clear(m->cache, keep_stats); }
int kl_memo_dump(kl_memo *m) { return kl_cache_dump(m->cache); }
int kl_memo_load(kl_memo *m, size_t *loaded) { return kl_cache_load(m->cache, loaded); }

/* ---- the typed face ---------------------------------------------------------------- */

static int typed_only(void *userdata, const kl_call *call, kl_value *result)
{
    (void)userdata;
    (void)call;
    (void)result;
    return kl_seterr(KL_EUNSUPPORTED,
                     "memo: a KL_MEMOIZE function is called through its C wrapper only");
}

kl_memo *kl_memo_typed_get(kl_memo **holder, const char *name, const char *signature)
{
    kl_memo *m = __atomic_load_n(holder, __ATOMIC_ACQUIRE);
    if (KL_LIKELY(m))
        return m;
    /* the macro writes "x,y," — drop the trailing comma */
    char sig[512];
    size_t n = strlen(signature);
    if (n >= sizeof sig)
        return NULL;
    memcpy(sig, signature, n + 1);
    if (n && sig[n - 1] == ',')
        sig[n - 1] = '\0';
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.signature = sig;
    kl_memo *fresh;
    if (kl_memo_new(&fresh, name, typed_only, NULL, &opts))
        return NULL;
    kl_memo *expected = NULL;
    if (!__atomic_compare_exchange_n(holder, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        kl_memo_free(fresh); /* another thread won the race */
        return expected;
    }
    return fresh;
}

/* A double stored as CBOR float64 (0xfb, big-endian bits): 1, else 0. */
static inline int take_f64_inline(void *out, const uint8_t *v, size_t n)
{
    if (KL_LIKELY(n == 9 && v[0] == 0xfb)) {
        uint64_t b;
        memcpy(&b, v + 1, 8);
        b = __builtin_bswap64(b);
        memcpy(out, &b, 8);
        return 1;
    }
    return 0;
}

/* The hit path, inline from key to result: hash, lock, probe, decode,
 * policy, unlock.  1 when served; 0 when absent, with the shard lock still
 * held for the miss path; -1 sends the call to the full acquire (expiring
 * entries, "no" caches, a value take refuses). */
static inline __attribute__((always_inline)) int
typed_hit(kl_cache *c, const uint8_t *key, size_t klen, uint64_t h, kl_cache_take_fn take,
          void *out)
{
    if (KL_UNLIKELY(c->mode == MODE_NO || c->ttl_ns > 0))
        return -1;
    shard *sh = shard_of(c, h);
    spin_lock(&sh->lock);
    size_t slot = table_find_slot(c, sh, key, klen, h);
    if (KL_UNLIKELY(slot == SIZE_MAX))
        return 0;
    entry *e = slot_entry(sh, sh->slots[slot]);
    const uint8_t *v = entry_val(c, e);
    size_t vlen = entry_vlen(c, e);
    if (!(take == kl__take_double && take_f64_inline(out, v, vlen)) && take(out, v, vlen)) {
        spin_unlock(&sh->lock);
        return -1; /* the full path finds it again, counts it, and refuses it */
    }
    if (c->pol)
        c->pol->on_hit(sh->pstate, entry_meta(c, e));
    sh->hit++;
    spin_unlock(&sh->lock);
    return 1;
}

int kl_memo_typed_call(kl_memo *m, const kl_value *args, size_t nargs, kl_memo_slot *slot,
                       kl_cache_take_fn take, void *out)
{
    slot->memo = m;
    slot->ticket = NULL;
    if (KL_UNLIKELY(!m)) /* kl_memo_new's message says why */
        return KL_ENOMEM;
    kl_call call = {args, nargs, NULL, NULL, 0};
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *key = stack;
    size_t klen;
    int rc;
    if (KL_LIKELY(m->prefix_len == 0)) {
        rc = kl_keygen_key_into(m->keygen, &call, stack, KEY_STACK, &klen);
        if (KL_UNLIKELY(rc == 0 && klen > KEY_STACK))
            rc = memo_build_key(m, &call, stack, &heap, &key, &klen);
    } else {
        rc = memo_build_key(m, &call, stack, &heap, &key, &klen);
    }
    if (KL_UNLIKELY(rc)) {
        kl_buf_free(&heap);
        kl_cache_count_error(m->cache);
        return rc;
    }
    uint64_t h = key_hash(key, klen);
    int hit = typed_hit(m->cache, key, klen, h, take, out);
    if (KL_LIKELY(hit == 1)) {
        if (KL_UNLIKELY(heap.data != NULL))
            kl_buf_free(&heap);
        return 0;
    }
    if (hit == 0)
        rc = kl__cache_miss_locked(m->cache, key, klen, h, take, out, &slot->ticket);
    else
        rc = kl__cache_acquire_hashed(m->cache, key, klen, h, take, out, &slot->ticket);
    kl_buf_free(&heap);
    if (KL_LIKELY(rc == 0))
        return 0;
    if (rc == 2) /* a stored value of another type: compute, keep the entry */
        return kl_seterr(KL_ETYPE,
                         "memo '%s': the stored result is not of the function's result type "
                         "(computed afresh)",
                         m->name);
    if (rc < 0)
        kl_cache_count_error(m->cache);
    return rc;
}

/* Decoders for kl_memo_typed_call.  A double result is almost always
 * stored as a CBOR float64 (0xfb, big-endian bits): decoded inline, the
 * rest by the codec. */
int kl__take_double(void *out, const uint8_t *v, size_t n)
{
    return take_f64_inline(out, v, n) ? 0 : kl_decode_double(v, n, out);
}

int kl__take_float(void *out, const uint8_t *v, size_t n)
{
    double d;
    int rc = kl__take_double(&d, v, n);
    if (rc == 0)
        *(float *)out = (float)d;
    return rc;
}

int kl__take_i64(void *out, const uint8_t *v, size_t n) { return kl_decode_int64(v, n, out); }

int kl__take_int(void *out, const uint8_t *v, size_t n)
{
    int64_t i;
    int rc = kl_decode_int64(v, n, &i);
    if (rc == 0 && (i < INT32_MIN || i > INT32_MAX))
        rc = KL_ERANGE;
    if (rc == 0)
        *(int *)out = (int)i;
    return rc;
}

int kl__take_long(void *out, const uint8_t *v, size_t n)
{
    int64_t i;
    int rc = kl_decode_int64(v, n, &i);
    if (rc == 0)
        *(long *)out = (long)i;
    return rc;
}

int kl__take_bool(void *out, const uint8_t *v, size_t n)
{
    /* CBOR false / true */
    if (n == 1 && (v[0] == 0xf4 || v[0] == 0xf5)) {
        *(bool *)out = v[0] == 0xf5;
        return 0;
    }
    return kl_seterr(KL_ETYPE, "memo: the stored result is not a bool");
}

void kl_memo_typed_finish(kl_memo_slot *slot, const kl_value *result)
{
    uint8_t buf[64];
    kl_enc e;
    kl_enc_init(&e, buf, sizeof buf, 0);
    kl_enc_value(&e, result);
    if (kl_enc_ok(&e))
        (void)kl_cache_fulfil(slot->ticket, buf, e.len);
    else
        kl_cache_abandon(slot->ticket, e.err ? e.err : KL_ETOOBIG);
    slot->ticket = NULL;
}
