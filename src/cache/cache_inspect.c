/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Looking into the cache without disturbing it (cache_memo.h): a memory-only
 * lookup that counts nothing and tells the policy nothing, a walk over the
 * entries in memory, and the one-key load and dump and the archive swap the
 * memo's klepto-named operations are made of.  Statistics, policy order and
 * expiry are left exactly as they were.
 */
#include <stdlib.h>

#include "cache/cache_impl.h"
#include "cache/table.h"

int kl__cache_peek(kl_cache *c, const void *key, size_t klen, kl_buf *val)
{
    if (c->mode != MODE_NO) {
        uint64_t h = key_hash(key, klen);
        shard *sh = shard_of(c, h);
        int rc = KL_ENOTFOUND;
        spin_lock_quiet(&sh->lock); /* reads only: fast readers go on */
        size_t slot;
        entry *e = table_find(c, sh, key, klen, h, &slot);
        /* an expired entry is as good as gone, but removing it is the
         * next real lookup's business */
        if (e && !(!entry_dirty(c, e) && entry_expired(c, e, now_ns()))) {
            kl_buf_reset(val);
            rc = kl_buf_append(val, entry_val(c, e), entry_vlen(c, e));
        }
        spin_unlock(&sh->lock);
        if (rc != KL_ENOTFOUND)
            return rc;
    }
    return kl_seterr(KL_ENOTFOUND, "cache: key not in memory");
}

/* The archive form of a memory key, into out. */
static int archive_key(const kl_cache *c, const uint8_t *key, size_t klen, kl_buf *out)
{
    kl_buf_reset(out);
    if (!c->akeys.to_archive)
        return kl_buf_append(out, key, klen);
    size_t n = 0;
    int rc = kl_buf_reserve(out, 64);
    if (!rc)
        rc = c->akeys.to_archive(c->akeys.ctx, key, klen, out->data, out->cap, &n);
    if (!rc && n > out->cap) {
        if (!(rc = kl_buf_reserve(out, n)))
            rc = c->akeys.to_archive(c->akeys.ctx, key, klen, out->data, out->cap, &n);
    }
    if (!rc)
        out->len = n;
    return rc;
}

/* A shard's live entries are copied out under its lock as
 * [klen u32][vlen u32][key][value] records, so the callback runs with no
 * lock held and may call into the cache. */
static int shard_copy(kl_cache *c, shard *sh, kl_buf *out)
{
    kl_buf_reset(out);
    int rc = 0;
    int64_t now = c->ttl_ns > 0 ? now_ns() : 0;
    spin_lock_quiet(&sh->lock);
    for (size_t i = 0; !rc && sh->slots && i <= sh->mask; i++) {
        if (!sh->slots[i])
            continue;
        entry *e = slot_entry(sh, sh->slots[i]);
        if (!entry_dirty(c, e) && entry_expired(c, e, now))
            continue;
        uint32_t lens[2] = {(uint32_t)entry_klen(c, e), (uint32_t)entry_vlen(c, e)};
        if (!(rc = kl_buf_append(out, lens, sizeof lens)) &&
            !(rc = kl_buf_append(out, entry_key(c, e), lens[0])))
            rc = kl_buf_append(out, entry_val(c, e), lens[1]);
    }
    spin_unlock(&sh->lock);
    return rc;
}

int kl__cache_foreach(kl_cache *c, kl__cache_entry_fn fn, void *ctx)
{
    kl_buf copy = KL_BUF_INIT, akey = KL_BUF_INIT;
    int rc = 0;
    for (unsigned s = 0; !rc && s < c->nshards; s++) {
        if ((rc = shard_copy(c, &c->shards[s], &copy)))
            break;
        for (size_t at = 0; !rc && at < copy.len;) {
            uint32_t lens[2];
            memcpy(lens, copy.data + at, sizeof lens);
            const uint8_t *k = copy.data + at + sizeof lens, *v = k + lens[0];
            at += sizeof lens + lens[0] + lens[1];
            if (!(rc = archive_key(c, k, lens[0], &akey)))
                rc = fn(ctx, k, lens[0], akey.data, akey.len, v, lens[1]);
        }
    }
    kl_buf_free(&copy);
    kl_buf_free(&akey);
    return rc;
}

int kl__cache_dump_key(kl_cache *c, const void *key, size_t klen)
{
    if (!c->archive)
        return kl_seterr(KL_EINVAL, "cache: dump needs an archive");
    uint64_t h = key_hash(key, klen);
    shard *sh = shard_of(c, h);
    int rc = 1;
    spin_lock(&sh->lock); /* the dirty bit shares a word with what fast readers read */
    size_t slot;
    entry *e = table_find(c, sh, key, klen, h, &slot);
    if (e) {
        rc = kl__cache_archive_put(c, entry_key(c, e), entry_klen(c, e), entry_val(c, e),
                                   entry_vlen(c, e));
        if (rc)
            sh->errors++;
        else
            entry_set_dirty(c, e, false);
    }
    spin_unlock(&sh->lock);
    return rc;
}

int kl__cache_load_key(kl_cache *c, const void *key, size_t klen)
{
    if (!c->archive)
        return kl_seterr(KL_EINVAL, "cache: load needs an archive");
    if (c->mode == MODE_NO)
        return 1;
    kl_buf v = KL_BUF_INIT;
    int64_t age = 0;
    int rc = kl__cache_archive_get(c, key, klen, &v, &age);
    if (rc == 0)
        rc = kl__cache_memory_put(c, key_hash(key, klen), key, klen, v.data, v.len, false, age);
    else if (rc == KL_ENOTFOUND)
        rc = 1;
    kl_buf_free(&v);
    return rc;
}

int kl__cache_swap_archive(kl_cache *c, kl_archive *ar)
{
    int first = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        spin_lock(&sh->lock);
        /* what the old archive is owed (write_back, failed writes) goes to
         * it first; nothing is owed to the new one */
        int rc = kl__shard_write_dirty(c, sh);
        if (rc && !first)
            first = rc;
        for (size_t j = 0; sh->slots && j <= sh->mask; j++)
            if (sh->slots[j])
                entry_set_dirty(c, slot_entry(sh, sh->slots[j]), false);
        spin_unlock(&sh->lock);
    }
    c->archive = ar;
    return first;
}
