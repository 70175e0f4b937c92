/* SPDX-License-Identifier: BSD-3-Clause */
/* The cached front (klepto/cached.h): an in-memory dictionary in front of
 * a backing archive, itself an archive handle.  It is a front, not a
 * scheme (archive/front.h): kl_cached_new makes one, and kl_archive_open
 * applies it for ?cached=true. */
#include "archive/front.h"
#include "archive/host.h"
#include "archive/tarray.h"
#include "internal.h"
#include "klepto/cached.h"
#include "archive/util/kvtable.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct cstate {
    kvtable t;
    kl_archive *backing;
    bool archived;
    bool write_through;
    size_t unsaved;
} cstate;

static bool use_backing(const cstate *c) { return c->archived && c->backing; }

static void mark(cstate *c, kl__kv_item *it, bool dirty)
{
    if (it->dirty != dirty)
        c->unsaved += dirty ? 1 : (size_t)-1;
    it->dirty = dirty;
}

/* Put an entry read from the backing into memory, replacing (as klepto's
 * load does) whatever memory held, saved or not. */
static int keep_loaded(cstate *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    kl__kv_item *old = kl__kv_find(&c->t, key, klen);
    if (old)
        mark(c, old, false);
    return kl__kv_put(&c->t, key, klen, val, vlen, kl__now_ns(), NULL);
}

/* get, contains, count, stat, views and iteration are the dictionary's:
 * memory only, as klepto's cached archive (a dict) answers them. */
static int c_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    cstate *c = state;
    kl__kv_item *it = kl__kv_find(&c->t, key, klen);
    if (!it)
        return kl_seterr(KL_ENOTFOUND, "cached: key not in memory");
    kl_buf_reset(val);
    return kl_buf_append(val, it->val, it->vlen);
}

/* kl_cached_fetch: memory, then the backing archive, keeping what it
 * found in memory (klepto's memo: load(key), then cache[key]). */
static int fetch(cstate *c, const void *key, size_t klen, kl_buf *val)
{
    kl__kv_item *it = kl__kv_find(&c->t, key, klen);
    if (it || !use_backing(c))
        return c_get(c, key, klen, val);
    int rc = kl_archive_get(c->backing, key, klen, val);
    if (rc)
        return rc;
    return kl__kv_put(&c->t, key, klen, val->data, val->len, kl__now_ns(), NULL);
}

static int c_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    cstate *c = state;
    kl__kv_item *old = kl__kv_find(&c->t, key, klen);
    bool was_dirty = old && old->dirty;
    kl__kv_item *it;
    int rc = kl__kv_put(&c->t, key, klen, val, vlen, kl__now_ns(), &it);
    if (rc)
        return rc;
    it->dirty = was_dirty; /* kl__kv_put resets it; keep the count straight */
    mark(c, it, true);
    if (c->write_through && use_backing(c)) {
        rc = kl_archive_put(c->backing, key, klen, val, vlen);
        if (!rc)
            mark(c, it, false);
    }
    return rc;
}

static int c_del(void *state, const void *key, size_t klen)
{
    cstate *c = state;
    kl__kv_item *it = kl__kv_find(&c->t, key, klen);
    bool had = it != NULL;
    if (it) {
        mark(c, it, false);
        kl__kv_del(&c->t, key, klen);
    }
    if (use_backing(c)) {
        int rc = kl_archive_del(c->backing, key, klen);
        if (rc == 0)
            had = true;
        else if (rc != KL_ENOTFOUND)
            return rc;
    }
    return had ? 0 : kl_seterr(KL_ENOTFOUND, "cached: key not found");
}

static int c_contains(void *state, const void *key, size_t klen)
{
    cstate *c = state;
    return kl__kv_find(&c->t, key, klen) != NULL;
}

static int c_count(void *state, size_t *out)
{
    cstate *c = state;
    *out = c->t.live;
    return 0;
}

static int c_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    cstate *c = state;
    kl__kv_item *it = kl__kv_find(&c->t, key, klen);
    if (!it)
        return kl_seterr(KL_ENOTFOUND, "cached: key not in memory");
    out->stored_ns = it->stored_ns;
    out->size = it->klen + it->vlen;
    return 0;
}

/* klepto's clear: the dictionary's, memory only (unsaved entries go). */
static int c_clear(void *state)
{
    cstate *c = state;
    kl__kv_clear(&c->t);
    c->unsaved = 0;
    return 0;
}

/* Unsaved entries on their way to the backing archive, written in batches
 * through put_many: one transaction, pipeline or file rewrite per batch
 * where the backend has them (sqlite, postgres, redis, hdf5:). */
#define DUMP_BATCH 512
#define DUMP_BATCH_BYTES ((size_t)16 << 20)
typedef struct dump_batch {
    kl__kv_item *items[DUMP_BATCH];
    const void *keys[DUMP_BATCH], *vals[DUMP_BATCH];
    size_t klens[DUMP_BATCH], vlens[DUMP_BATCH];
    size_t n, bytes, done;
} dump_batch;

static int dump_flush(cstate *c, dump_batch *b)
{
    if (!b->n)
        return 0;
    int rc = kl_archive_put_many(c->backing, b->n, b->keys, b->klens, b->vals, b->vlens);
    for (size_t i = 0; !rc && i < b->n; i++)
        mark(c, b->items[i], false);
    if (!rc)
        b->done += b->n;
    b->n = b->bytes = 0;
    return rc;
}

static int dump_add(cstate *c, dump_batch *b, kl__kv_item *it)
{
    for (size_t i = 0; i < b->n; i++) /* a key given twice goes once */
        if (b->items[i] == it)
            return 0;
    b->items[b->n] = it;
    b->keys[b->n] = it->key;
    b->klens[b->n] = it->klen;
    b->vals[b->n] = it->val;
    b->vlens[b->n] = it->vlen;
    b->n++;
    b->bytes += it->klen + it->vlen;
    return b->n == DUMP_BATCH || b->bytes >= DUMP_BATCH_BYTES ? dump_flush(c, b) : 0;
}

/* Write memory entries to the backing: the given keys, or with keys ==
 * NULL every entry (all_entries, klepto's dump()) or the unsaved ones
 * (what sync and close owe the storage). */
static int dump(cstate *c, size_t n, const void *const *keys, const size_t *klens, size_t *count,
                bool all_entries)
{
    if (count)
        *count = 0;
    if (!use_backing(c) || (!keys && !all_entries && !c->unsaved))
        return 0;
    dump_batch *b = malloc(sizeof *b);
    if (!b)
        return kl_seterr(KL_ENOMEM, "out of memory writing cached entries");
    b->n = b->bytes = b->done = 0;
    int rc = 0;
    if (keys) {
        for (size_t i = 0; !rc && i < n; i++) {
            kl__kv_item *it = kl__kv_find(&c->t, keys[i], klens[i]);
            if (it)
                rc = dump_add(c, b, it);
        }
    } else {
        size_t pos = 0;
        kl__kv_item *it;
        while (!rc && (it = kl__kv_next(&c->t, &pos)))
            if (all_entries || it->dirty)
                rc = dump_add(c, b, it);
    }
    if (!rc)
        rc = dump_flush(c, b);
    if (count)
        *count = b->done;
    free(b);
    return rc;
}

static int c_sync(void *state)
{
    cstate *c = state;
    int rc = dump(c, 0, NULL, NULL, NULL, false);
    if (!rc && use_backing(c))
        rc = kl_archive_sync(c->backing);
    return rc;
}

static int c_close(void *state)
{
    cstate *c = state;
    int rc = dump(c, 0, NULL, NULL, NULL, false);
    int rc2 = kl_archive_close(c->backing);
    kl__kv_free(&c->t);
    free(c);
    return rc ? rc : rc2;
}

/* kl_archive_drop on the front (which closes the handle too): the storage
 * is destroyed, as kl_archive_drop does to any archive.  klepto's drop,
 * which only detaches, is kl_cached_drop. */
static int c_drop(void *state)
{
    cstate *c = state;
    kl__kv_clear(&c->t);
    c->unsaved = 0;
    int rc = 0;
    if (c->backing) {
        rc = kl_archive_drop(c->backing);
        c->backing = NULL;
    }
    return rc;
}

static int c_describe(void *state, kl_buf *out)
{
    cstate *c = state;
    int rc = kl_buf_printf(out, "cached=yes\narchived=%s\nin_memory=%zu\nunsaved=%zu\n",
                           c->archived ? "yes" : "no", c->t.live, c->unsaved);
    if (!rc && c->backing)
        rc = kl_archive_describe(c->backing, out);
    return rc;
}

static int c_get_view(void *state, const void *key, size_t klen, kl_view **out)
{
    cstate *c = state;
    kl__kv_item *it = kl__kv_find(&c->t, key, klen);
    if (!it)
        return kl_seterr(KL_ENOTFOUND, "cached: key not in memory");
    kl__tarray ta;
    if (!kl__tarray_parse(it->val, it->vlen, &ta))
        return kl_seterr(KL_ETYPE, "cached: the value is not a typed numeric array");
    void *mem = malloc(it->vlen ? it->vlen : 1);
    if (!mem)
        return kl_seterr(KL_ENOMEM, "out of memory");
    memcpy(mem, it->val, it->vlen);
    return kl__view_from_copy(out, mem, it->vlen, &ta);
}

static int c_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    cstate *c = state;
    *problems = 0;
    return c->backing ? kl_archive_verify(c->backing, repair, report, problems) : 0;
}

static int c_compact(void *state)
{
    cstate *c = state;
    return c->backing ? kl_archive_compact(c->backing) : 0;
}

/* Iteration: the entries in memory. */
typedef struct ccur {
    cstate *c;
    size_t pos;
} ccur;

static int c_iter_new(void *state, void **out)
{
    cstate *c = state;
    ccur *k = calloc(1, sizeof *k);
    if (!k)
        return kl_seterr(KL_ENOMEM, "out of memory");
    k->c = c;
    c->t.cursors++;
    *out = k;
    return 0;
}

static int c_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    ccur *k = cur;
    kl__kv_item *it = kl__kv_next(&k->c->t, &k->pos);
    if (!it)
        return 0;
    kl_buf_reset(key);
    int rc = kl_buf_append(key, it->key, it->klen);
    if (!rc && val) {
        kl_buf_reset(val);
        rc = kl_buf_append(val, it->val, it->vlen);
    }
    return rc ? rc : 1;
}

static void c_iter_free(void *cur)
{
    ccur *k = cur;
    k->c->t.cursors--;
    free(k);
}

/* Slots of the front; never registered, so no open (see front.h).  The
 * scheme name is what kl_archive_scheme reports for the handle. */
static const kl_archive_backend cached_front = {
    .version = KL_BACKEND_VERSION,
    .scheme = "cached",
    .flags = KL_BACKEND_DELEGATES_VERIFY, /* c_verify: the backing archive's */
    .close = c_close,
    .get = c_get,
    .put = c_put,
    .del = c_del,
    .contains = c_contains,
    .count = c_count,
    .stat = c_stat,
    .clear = c_clear,
    .sync = c_sync,
    .drop = c_drop,
    .describe = c_describe,
    .iter_new = c_iter_new,
    .iter_next = c_iter_next,
    .iter_free = c_iter_free,
    .get_view = c_get_view,
    .verify = c_verify,
    .compact = c_compact,
};

/* ---- the public functions ----------------------------------------------- */

int kl_cached_new(kl_archive **out, kl_archive *backing, const kl_cached_opts *opts)
{
    *out = NULL;
    kl_cached_opts def = KL_CACHED_OPTS_INIT;
    if (!opts)
        opts = &def;
    int vrc = kl__opts_version_check(opts->version, KL_CACHED_OPTS_VERSION, "cached");
    if (vrc) {
        kl_archive_close(backing);
        return vrc;
    }
    cstate *c = calloc(1, sizeof *c);
    if (!c) {
        kl_archive_close(backing);
        return kl_seterr(KL_ENOMEM, "out of memory");
    }
    kl__kv_init(&c->t);
    c->backing = backing;
    c->archived = opts->archived && backing;
    c->write_through = opts->write_through;
    kl_buf url = KL_BUF_INIT;
    int rc;
    if (backing) {
        const char *bu = kl_archive_url(backing);
        rc = kl_buf_printf(&url, "%s%scached=true", bu, strchr(bu, '?') ? "&" : "?");
    } else {
        rc = kl_buf_append_str(&url, "cached:");
    }
    const char *u = rc ? NULL : kl_buf_cstr(&url);
    rc = u ? kl__archive_front_new(out, &cached_front, c, u) : KL_ENOMEM;
    kl_buf_free(&url);
    if (rc) {
        kl_archive_close(backing);
        kl__kv_free(&c->t);
        free(c);
    }
    return rc;
}

bool kl_cached_is(const kl_archive *ar) { return kl__archive_has_backend(ar, &cached_front); }

typedef struct keys_arg {
    size_t n;
    const void *const *keys;
    const size_t *klens;
    size_t *count;
    bool flag;
    kl_archive *ar;
    kl_archive **old;
    kl_buf *ar_val; /* kl_cached_fetch's value */
} keys_arg;

static int load_fn(void *state, void *arg)
{
    cstate *c = state;
    keys_arg *a = arg;
    size_t done = 0;
    int rc = 0;
    if (!use_backing(c))
        goto out;
    kl_buf v = KL_BUF_INIT, k = KL_BUF_INIT;
    if (a->keys) {
        for (size_t i = 0; !rc && i < a->n; i++) {
            int r = kl_archive_get(c->backing, a->keys[i], a->klens[i], &v);
            if (r == KL_ENOTFOUND)
                continue;
            if (r) {
                rc = r;
                break;
            }
            rc = keep_loaded(c, a->keys[i], a->klens[i], v.data, v.len);
            done += !rc;
        }
    } else {
        kl_archive_iter *it = NULL;
        rc = kl_archive_iter_new(c->backing, &it);
        while (!rc) {
            int r = kl_archive_iter_next(it, &k, &v);
            if (r <= 0) {
                rc = r;
                break;
            }
            rc = keep_loaded(c, k.data, k.len, v.data, v.len);
            done += !rc;
        }
        kl_archive_iter_free(it);
    }
    kl_buf_free(&v);
    kl_buf_free(&k);
out:
    if (a->count)
        *a->count = done;
    return rc;
}

int kl_cached_load(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                   size_t *loaded)
{
    keys_arg a = {n, keys, klens, loaded, false, NULL, NULL, NULL};
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_load", load_fn, &a);
}

static int dump_fn(void *state, void *arg)
{
    keys_arg *a = arg;
    return dump(state, a->n, a->keys, a->klens, a->count, true);
}

int kl_cached_dump(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                   size_t *dumped)
{
    keys_arg a = {n, keys, klens, dumped, false, NULL, NULL, NULL};
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_dump", dump_fn, &a);
}

/* klepto's sync(clear): clear=true empties the storage and dumps memory
 * into it; clear=false dumps memory, then loads the storage back into
 * memory.  Memory is kept either way; then the backing is synced. */
static int sync_fn(void *state, void *arg)
{
    cstate *c = state;
    keys_arg *a = arg;
    if (!use_backing(c))
        return 0;
    int rc = a->flag ? kl_archive_clear(c->backing) : 0;
    if (!rc)
        rc = dump(c, 0, NULL, NULL, NULL, true);
    if (!rc && !a->flag) {
        keys_arg all = {0, NULL, NULL, NULL, false, NULL, NULL, NULL};
        rc = load_fn(c, &all);
    }
    if (!rc)
        rc = kl_archive_sync(c->backing);
    return rc;
}

int kl_cached_sync(kl_archive *ar, bool clear)
{
    keys_arg a = {0, NULL, NULL, NULL, clear, NULL, NULL, NULL};
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_sync", sync_fn, &a);
}

static int archived_fn(void *state, void *arg)
{
    (void)arg;
    return ((cstate *)state)->archived;
}

int kl_cached_archived(kl_archive *ar)
{
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_archived", archived_fn,
                                  NULL);
}

static int set_archived_fn(void *state, void *arg)
{
    cstate *c = state;
    keys_arg *a = arg;
    if (a->flag && !c->backing)
        return kl_seterr(KL_EINVAL, "kl_cached_set_archived: no backing archive");
    c->archived = a->flag;
    return 0;
}

int kl_cached_set_archived(kl_archive *ar, bool on)
{
    keys_arg a = {0, NULL, NULL, NULL, on, NULL, NULL, NULL};
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_set_archived",
                                  set_archived_fn, &a);
}

static int backing_fn(void *state, void *arg)
{
    *(kl_archive **)arg = ((cstate *)state)->backing;
    return 0;
}

kl_archive *kl_cached_backing(kl_archive *ar)
{
    kl_archive *b = NULL;
    if (kl__archive_locked_call(ar, &cached_front, "kl_cached_backing", backing_fn, &b))
        return NULL;
    return b;
}

static int set_backing_fn(void *state, void *arg)
{
    cstate *c = state;
    keys_arg *a = arg;
    kl_archive *prev = c->backing;
    c->backing = a->ar;
    c->archived = a->ar != NULL;
    size_t pos = 0;
    kl__kv_item *it;
    while ((it = kl__kv_next(&c->t, &pos)))
        mark(c, it, true);
    if (a->old)
        *a->old = prev;
    else
        return kl_archive_close(prev);
    return 0;
}

int kl_cached_set_backing(kl_archive *ar, kl_archive *backing, kl_archive **old)
{
    if (old)
        *old = NULL;
    keys_arg a = {0, NULL, NULL, NULL, false, backing, old, NULL};
    int rc = kl__archive_locked_call(ar, &cached_front, "kl_cached_set_backing",
                                    set_backing_fn, &a);
    if (rc == KL_EINVAL && !kl_cached_is(ar))
        kl_archive_close(backing);
    return rc;
}

typedef struct counts {
    size_t *entries, *unsaved;
} counts;

static int counts_fn(void *state, void *arg)
{
    cstate *c = state;
    counts *k = arg;
    if (k->entries)
        *k->entries = c->t.live;
    if (k->unsaved)
        *k->unsaved = c->unsaved;
    return 0;
}

int kl_cached_mem_count(kl_archive *ar, size_t *entries, size_t *unsaved)
{
    counts k = {entries, unsaved};
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_mem_count", counts_fn, &k);
}

static int fetch_fn(void *state, void *arg)
{
    keys_arg *a = arg;
    return fetch(state, a->keys[0], a->klens[0], a->ar_val);
}

int kl_cached_fetch(kl_archive *ar, const void *key, size_t klen, kl_buf *val)
{
    const void *keys[1] = {key};
    keys_arg a = {1, keys, &klen, NULL, false, NULL, NULL, val};
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_fetch", fetch_fn, &a);
}

/* klepto's drop: the archive is set to none — the backing handle is
 * closed, its storage kept, and memory stays (a plain dictionary now). */
static int drop_fn(void *state, void *arg)
{
    (void)arg;
    cstate *c = state;
    int rc = kl_archive_close(c->backing);
    c->backing = NULL;
    c->archived = false;
    return rc;
}

int kl_cached_drop(kl_archive *ar)
{
    return kl__archive_locked_call(ar, &cached_front, "kl_cached_drop", drop_fn, NULL);
}
