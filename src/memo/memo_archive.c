/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A memo and its archive (memo.h), as klepto's memo and cache do it:
 * dump and load (everything, or chosen calls), archive(obj) that only
 * swaps, and archived() that switches the archive off and on.  A cached
 * front (?cached=true) between memo and storage is dumped and loaded with
 * the memo, so that dump persists and load sees the storage.
 */
#include "klepto/memo.h"

#include "klepto/cached.h"
#include "memo/memo_impl.h"

/* The archive the cache uses now, or NULL (none, or switched off). */
static kl_archive *live_archive(const kl_memo *m)
{
    return m->archive_off ? NULL : m->archive;
}

int kl_memo_dump(kl_memo *m)
{
    if (!live_archive(m)) /* klepto dumps into its null archive: nothing */
        return 0;
    int rc = kl_cache_dump(m->cache);
    if (rc == 0 && kl_cached_is(m->archive))
        rc = kl_cached_dump(m->archive, 0, NULL, NULL, NULL);
    kl__memo_stats_flush(m); /* the run statistics: a record of the memo's own */
    return rc;
}

int kl_memo_load(kl_memo *m, size_t *loaded)
{
    if (loaded)
        *loaded = 0;
    if (!live_archive(m))
        return 0;
    if (kl_cached_is(m->archive)) { /* the front's memory from its storage */
        int rc = kl_cached_load(m->archive, 0, NULL, NULL, NULL);
        if (rc)
            return rc;
    }
    return kl_cache_load(m->cache, loaded);
}

/* The two keys of one call: in memory (raw bits for a typed memo with raw
 * keys) and in the archive (the canonical key). */
typedef struct two_keys {
    uint8_t mstack[KEY_STACK], astack[KEY_STACK];
    kl_buf mheap, aheap;
    const uint8_t *mkey, *akey;
    size_t mlen, alen;
} two_keys;

static int two_keys_of(kl_memo *m, const kl_call *call, two_keys *k)
{
    k->mheap = (kl_buf)KL_BUF_INIT;
    k->aheap = (kl_buf)KL_BUF_INIT;
    k->akey = NULL;
    k->alen = 0;
    int rc = kl__memo_mem_key(m, call, k->mstack, &k->mheap, &k->mkey, &k->mlen);
    if (rc == 0)
        rc = memo_build_key(m, call, k->astack, &k->aheap, &k->akey, &k->alen);
    return rc;
}

static void two_keys_done(two_keys *k)
{
    kl_buf_free(&k->mheap);
    kl_buf_free(&k->aheap);
}

static int calls_given(const kl_memo *m, size_t n, const kl_call *calls, const char *what)
{
    return n && !calls
               ? kl_seterr(KL_EINVAL, "memo '%s': %s: %zu calls but no array", m->name, what, n)
               : 0;
}

int kl_memo_dump_keys(kl_memo *m, size_t n, const kl_call *calls, size_t *dumped)
{
    if (dumped)
        *dumped = 0;
    int rc = calls_given(m, n, calls, "dump");
    if (rc || !live_archive(m))
        return rc;
    bool front = kl_cached_is(m->archive);
    size_t done = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        two_keys k;
        rc = two_keys_of(m, &calls[i], &k);
        if (rc == 0 && (rc = kl__cache_dump_key(m->cache, k.mkey, k.mlen)) == 0) {
            const void *key = k.akey;
            if (front)
                rc = kl_cached_dump(m->archive, 1, &key, &k.alen, NULL);
            done += rc == 0;
        } else if (rc == 1) {
            rc = 0; /* not in memory: klepto skips it */
        }
        two_keys_done(&k);
    }
    if (dumped)
        *dumped = done;
    return rc;
}

int kl_memo_load_keys(kl_memo *m, size_t n, const kl_call *calls, size_t *loaded)
{
    if (loaded)
        *loaded = 0;
    int rc = calls_given(m, n, calls, "load");
    if (rc || !live_archive(m))
        return rc;
    bool front = kl_cached_is(m->archive);
    size_t done = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        two_keys k;
        rc = two_keys_of(m, &calls[i], &k);
        const void *key = k.akey;
        if (rc == 0 && front)
            rc = kl_cached_load(m->archive, 1, &key, &k.alen, NULL);
        if (rc == 0)
            rc = kl__cache_load_key(m->cache, k.mkey, k.mlen);
        if (rc == 0)
            done++;
        else if (rc == 1)
            rc = 0; /* not in the archive: klepto skips it */
        two_keys_done(&k);
    }
    if (loaded)
        *loaded = done;
    return rc;
}

int kl_memo_set_archive(kl_memo *m, const char *url)
{
    kl_archive *ar = NULL;
    if (url) {
        int rc = kl_archive_open(&ar, url, NULL);
        if (rc)
            return rc;
    }
    kl__memo_stats_flush(m); /* what was counted with the old archive, to it */
    int rc = kl__cache_swap_archive(m->cache, ar);
    kl_archive_close(m->archive);
    m->archive = ar;
    m->archive_off = false;
    kl__memo_stats_restart(m);
    return rc;
}

kl_archive *kl_memo_archive(const kl_memo *m)
{
    return m->archive;
}

bool kl_memo_archived(const kl_memo *m)
{
    return live_archive(m) != NULL;
}

int kl_memo_set_archived(kl_memo *m, bool on)
{
    if (on && !m->archive)
        return kl_seterr(KL_EINVAL, "memo '%s': no archive has been set", m->name);
    if (on == !m->archive_off)
        return 0;
    int rc = kl__cache_swap_archive(m->cache, on ? m->archive : NULL);
    m->archive_off = !on;
    return rc;
}
