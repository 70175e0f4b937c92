/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memoized functions (memo.h): construction, and the generic call path
 * that ties keygen, cache and archive together.  The typed KL_MEMOIZE face
 * is in memo_typed.c; looking into memory (lookup, fetch, foreach) in
 * memo_inspect.c; load, dump and the archive switch in memo_archive.c.
 * Value bytes pass through the thread's scratch buffer (tslot.h, via
 * cache_memo.h).
 */
#define _GNU_SOURCE
#include "klepto/memo.h"

#include <stdio.h>
#include <stdlib.h>

#include "memo/memo_impl.h"

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
    char what[300];
    snprintf(what, sizeof what, "memo '%s'", m->name);
    int vrc = kl__opts_version_check(opts->version, KL_MEMO_OPTS_VERSION, what);
    if (vrc)
        return vrc;
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
    if (m->cache) {
        kl__memo_stats_flush(m); /* the old cache's counts, to the old archive */
        kl_cache_free(m->cache);
    }
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
    m->raw_opts_ok = opts->keymap.kind == KL_KEYMAP_RAW && opts->tol == KL_TOL_NONE &&
                     (!opts->ignore || !opts->ignore[0]);
    m->raw_merge_zero = !opts->keymap.typed;
    kl__memo_raw_keys_update(m);
    if (ar)
        m->archive_off = false;
    if (m->archive && !m->archive_off)
        kl_cache_set_archive(m->cache, m->archive);
    kl__memo_stats_restart(m);
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
    kl__log_env_init(); /* KLEPTO_LOG, KLEPTO_DISABLE */
    if (!fn)
        return kl_seterr(KL_EINVAL, "memo '%s': no function given", name ? name : "");
    kl_memo *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name ? name : "memo"))) {
        free(m);
        return kl_seterr(KL_ENOMEM, "memo: out of memory");
    }
    m->fn = fn;
    m->userdata = userdata;
    pthread_mutex_init(&m->rs.mu, NULL);
    int rc = kl_memo_configure(m, opts);
    if (rc) {
        pthread_mutex_destroy(&m->rs.mu);
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
    kl__memo_stats_flush(m);
    int rc = kl_cache_free(m->cache);
    int arc = kl_archive_close(m->archive);
    memo_release_parts(m);
    pthread_mutex_destroy(&m->rs.mu);
    free(m->name);
    free(m);
    return rc ? rc : arc;
}

const char *kl_memo_name(const kl_memo *m) { return m->name; }

/* ---- keys -------------------------------------------------------------------------- */

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

void kl__memo_log_outcome(const kl_memo *m, int rc)
{
    kl__log(KL_LOG_DEBUG, "memo '%s': %s", m->name,
            rc == 0   ? "hit"
            : rc == 1 ? "miss"
            : rc == 2 ? "stored value unusable, computed afresh"
                      : "error, computed uncached");
}

int kl_memo_call(kl_memo *m, const kl_call *call, kl_value *result)
{
    if (KL_UNLIKELY(kl__memo_is_off())) /* KLEPTO_DISABLE: the function, directly */
        return call_uncached(m, call, result);
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *key;
    size_t klen;
    int rc = kl__memo_mem_key(m, call, stack, &heap, &key, &klen);
    if (rc) {
        kl_buf_free(&heap);
        if (rc == KL_EINVAL || !m->safe)
            return rc;
        /* safe: the call goes ahead uncached, an error and (as klepto
         * counts it) a miss */
        kl_cache_count_error(m->cache);
        kl__cache_count_miss(m->cache);
        return call_uncached(m, call, result);
    }
    kl_buf *val = kl__thread_scratch(); /* the thread's one buffer for value bytes */
    if (!val) {
        kl_buf_free(&heap);
        return kl_seterr(KL_ENOMEM, "memo '%s': out of memory", m->name);
    }
    kl_cache_ticket *t;
    rc = kl_cache_acquire(m->cache, key, klen, val, &t);
    if (KL_UNLIKELY(kl__log_on(KL_LOG_DEBUG)))
        kl__memo_log_outcome(m, rc);
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

int kl_memo_forget(kl_memo *m, const kl_call *call)
{
    uint8_t stack[KEY_STACK];
    kl_buf heap = KL_BUF_INIT;
    const uint8_t *key;
    size_t klen;
    int rc = kl__memo_mem_key(m, call, stack, &heap, &key, &klen);
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

int kl_memo_clear(kl_memo *m, bool keep_stats)
{
    if (!keep_stats) /* the run statistics keep what was counted so far */
        kl__memo_stats_take(m);
    return kl_cache_clear(m->cache, keep_stats);
}

