/* SPDX-License-Identifier: BSD-3-Clause */
/* kl_archive_prune (archive.h): trimming an archive to limits of entries,
 * bytes and age, oldest first.  The scan reads every key and its stored
 * time first and removes afterwards: not every backend survives deleting
 * under a live cursor. */
#include "archive/handle.h"
#include "archive/host.h"
#include "internal.h"

#include <stdlib.h>

typedef struct prune_entry {
    kl_buf key;
    int64_t ns;
    uint64_t size;
} prune_entry;

typedef struct scan {
    prune_entry *ents;
    size_t n, cap;
    uint64_t untimed, damaged;
} scan;

static int by_age(const void *a, const void *b)
{
    const prune_entry *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? -1 : 1;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = n ? memcmp(x->key.data, y->key.data, n) : 0;
    return c ? c : (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

/* The next entry, past damaged ones (reported and counted).  An iterator
 * that reports the same damage twice in a row has not moved: the scan
 * ends there with KL_EIO rather than spin. */
static int next_entry(kl_archive *ar, kl_archive_iter *it, const kl_prune_opts *o, kl_buf *key,
                      scan *s)
{
    kl_buf prev = KL_BUF_INIT; /* the last message, NUL, then the key */
    bool have_prev = false;
    int r;
    for (;;) {
        r = kl_archive_iter_next(it, key, NULL);
        if (r != KL_ECORRUPT)
            break;
        const char *msg = kl_errmsg();
        size_t ml = strlen(msg) + 1;
        if (have_prev && prev.len == ml + key->len && memcmp(prev.data, msg, ml) == 0 &&
            (key->len == 0 || memcmp(prev.data + ml, key->data, key->len) == 0)) {
            r = kl_seterr(KL_EIO, "%s: the scan does not get past a damaged entry: %s",
                          kl_archive_url(ar), (const char *)prev.data);
            break;
        }
        if (o->skipped)
            o->skipped(o->ctx, msg);
        s->damaged++;
        kl_buf_reset(&prev);
        if ((r = kl_buf_append(&prev, msg, ml)) || (r = kl_buf_append(&prev, key->data, key->len)))
            break;
        have_prev = true;
    }
    kl_buf_free(&prev);
    return r;
}

static int scan_all(kl_archive *ar, const kl_prune_opts *o, scan *s)
{
    uint64_t total = 0, done = 0;
    if (o->progress) {
        size_t c = 0;
        if (!kl_archive_count(ar, &c))
            total = c;
        o->progress(o->ctx, KL_PRUNE_SCANNING, 0, total);
    }
    kl_archive_iter *it = NULL;
    kl_buf key = KL_BUF_INIT;
    int rc = kl__archive_iter_new_raw(ar, &it); /* expired entries too */
    while (!rc) {
        int r = next_entry(ar, it, o, &key, s);
        if (r <= 0) {
            rc = r;
            break;
        }
        kl_entry_info info = {0, 0};
        if ((r = kl__archive_stat_raw(ar, key.data, key.len, &info)) == KL_ENOTFOUND)
            continue; /* removed meanwhile */
        if (r == KL_ECORRUPT) {
            if (o->skipped)
                o->skipped(o->ctx, kl_errmsg());
            s->damaged++;
            continue;
        }
        if (r) {
            rc = r;
            break;
        }
        if (s->n == s->cap) {
            size_t nc = s->cap ? 2 * s->cap : 256;
            prune_entry *ne = realloc(s->ents, nc * sizeof *ne);
            if (!ne) {
                rc = kl_seterr(KL_ENOMEM, "%s: prune: out of memory", kl_archive_url(ar));
                break;
            }
            s->ents = ne;
            s->cap = nc;
        }
        s->ents[s->n].key = key; /* the entry takes the buffer */
        key = (kl_buf)KL_BUF_INIT;
        s->ents[s->n].ns = info.stored_ns;
        s->ents[s->n].size = info.size;
        s->untimed += info.stored_ns == 0;
        s->n++;
        if (o->progress)
            o->progress(o->ctx, KL_PRUNE_SCANNING, ++done, total);
    }
    kl_archive_iter_free(it);
    kl_buf_free(&key);
    return rc;
}

/* How many of the sorted entries go: the oldest, until every limit holds
 * (the entries limit only when there are more than over_entries). */
static size_t entries_to_cut(const kl_archive *ar, const kl_prune_opts *o, const scan *s,
                             uint64_t over_entries)
{
    size_t cut = 0, n = s->n;
    const prune_entry *e = s->ents;
    int64_t now = kl__now_ns();
    uint64_t age_s = o->older_than;
    if (ar->ttl_ns && (uint64_t)(ar->ttl_ns / 1000000000) < age_s)
        age_s = (uint64_t)(ar->ttl_ns / 1000000000); /* what ?ttl= has expired goes too */
    if (age_s != KL_PRUNE_NO_LIMIT) {
        /* an age beyond the epoch leaves nothing older */
        int64_t limit = age_s > (uint64_t)now / 1000000000 ? INT64_MIN
                                                             : now - (int64_t)age_s * 1000000000;
        while (cut < n && e[cut].ns < limit)
            cut++;
    }
    if (o->max_entries != KL_PRUNE_NO_LIMIT &&
        (over_entries == KL_PRUNE_NO_LIMIT || n > over_entries))
        while (n - cut > o->max_entries)
            cut++;
    if (o->max_bytes != KL_PRUNE_NO_LIMIT) {
        uint64_t total = 0;
        for (size_t i = cut; i < n; i++)
            total += e[i].size;
        while (cut < n && total > o->max_bytes)
            total -= e[cut++].size;
    }
    return cut;
}

/* In batches: one transaction or file rewrite each where the archive
 * has them. */
static int remove_oldest(kl_archive *ar, const kl_prune_opts *o, const scan *s, size_t cut,
                         uint64_t *pruned)
{
    enum { BATCH = 1000 };
    const void *keys[BATCH];
    size_t klens[BATCH];
    int rc = 0;
    if (cut && o->progress)
        o->progress(o->ctx, KL_PRUNE_REMOVING, 0, cut);
    for (size_t i = 0; i < cut && !rc; i += BATCH) {
        size_t m = cut - i < BATCH ? cut - i : BATCH, done = 0;
        for (size_t j = 0; j < m; j++) {
            keys[j] = s->ents[i + j].key.data;
            klens[j] = s->ents[i + j].key.len;
        }
        rc = kl_archive_del_many(ar, m, keys, klens, &done);
        *pruned += done;
        if (o->progress)
            o->progress(o->ctx, KL_PRUNE_REMOVING, *pruned, cut);
    }
    return rc;
}

int kl_archive_prune(kl_archive *ar, const kl_prune_opts *opts, kl_prune_result *out)
{
    return kl__archive_prune(ar, opts, KL_PRUNE_NO_LIMIT, true, out);
}

int kl__archive_prune(kl_archive *ar, const kl_prune_opts *opts, uint64_t over_entries,
                      bool recount, kl_prune_result *out)
{
    if (!opts)
        return kl_seterr(KL_EINVAL, "%s: prune: no limits given", kl_archive_url(ar));
    int rc = kl__opts_version_check(opts->version, KL_PRUNE_OPTS_VERSION, "prune");
    if (rc)
        return rc;
    if (opts->max_entries == KL_PRUNE_NO_LIMIT && opts->max_bytes == KL_PRUNE_NO_LIMIT &&
        opts->older_than == KL_PRUNE_NO_LIMIT && !ar->ttl_ns)
        return kl_seterr(KL_EINVAL,
                         "%s: prune: give at least one limit (max_entries, max_bytes, "
                         "older_than)",
                         kl_archive_url(ar));
    if ((rc = kl__archive_check_writable(ar)))
        return rc;
    scan s = {NULL, 0, 0, 0, 0};
    kl_prune_result res = {0, 0, 0, 0};
    rc = scan_all(ar, opts, &s);
    if (!rc && s.n) {
        /* oldest first; untimed entries (0) sort first: the oldest */
        qsort(s.ents, s.n, sizeof *s.ents, by_age);
        rc = remove_oldest(ar, opts, &s, entries_to_cut(ar, opts, &s, over_entries),
                           &res.pruned);
    }
    size_t left = s.n - (size_t)res.pruned; /* what the scan saw, less what went */
    if (!rc && recount)
        rc = kl_archive_count(ar, &left);
    res.left = left;
    res.untimed = s.untimed;
    res.damaged = s.damaged;
    for (size_t i = 0; i < s.n; i++)
        kl_buf_free(&s.ents[i].key);
    free(s.ents);
    if (!rc && out)
        *out = res;
    return rc;
}
