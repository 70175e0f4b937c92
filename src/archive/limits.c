/* SPDX-License-Identifier: BSD-3-Clause */
/* Size limits of archives, ?max_entries=N and ?max_bytes=SIZE (archive.h,
 * "Size limits"): read at open, kept by every put.
 *
 * Amortised: the handle keeps an estimate of its archive's entries and
 * storage bytes, measured at the first put and grown by each put (by the
 * larger of the put's key + value and the storage per entry last
 * measured).  Only when the estimate goes over a limit does a cleaner run:
 * it takes the archive's cleaner lock (the backend's cleaner_lock, else
 * one lock per process), measures again, and when really over prunes the
 * oldest entries (kl_archive_prune) down to the low-water mark, 90% of
 * each limit, so the next run comes ~10% of the limit of writes later.
 * A put that does not get the lock goes on; its estimate stays over, so a
 * later put tries again (and finds the archive pruned by the other).
 * Closing a handle that put since it last measured measures once more
 * (waiting for the lock), so the last writer to close leaves the archive
 * within its limits whatever the others wrote meanwhile. */
#include "archive/handle.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LOW_WATER(limit) ((limit) / 10 * 9 + (limit) % 10 * 9 / 10) /* 90%, no overflow */
#define ROUNDS 4 /* prune, measure again, at most this often per run */

struct kl__limits {
    uint64_t max_entries, max_bytes; /* 0: none */
    pthread_mutex_t mu;              /* the estimate below */
    bool known;                      /* measured once */
    bool cleaning;                   /* a thread of this handle runs the cleaner */
    uint64_t entries, bytes;         /* the estimate */
    uint64_t per_entry;              /* storage per entry when last measured */
    bool dirty;                      /* put since the last measure */
};

/* Without a cleaner_lock slot: one cleaner at a time in the process. */
static pthread_mutex_t process_cleaner = PTHREAD_MUTEX_INITIALIZER;

static int read_limit(const kl_url *u, const char *name, bool size, uint64_t *out)
{
    const char *v = kl_url_param_get(u, name);
    if (!v)
        return 0;
    char what[600];
    snprintf(what, sizeof what, "%s: ?%s=", kl_url_shown(u), name);
    if (size)
        return kl_parse_size(v, what, out);
    return kl_url_uint(u, name, 0, KL_LIMIT_MAX, out);
}

int kl__limits_open(kl_archive *ar, const kl_url *u, const kl_archive_opts *opts)
{
    uint64_t me = 0, mb = 0;
    if (opts->version >= 2) {
        me = opts->max_entries;
        mb = opts->max_bytes;
        if (me > KL_LIMIT_MAX || mb > KL_LIMIT_MAX)
            return kl_seterr(KL_EINVAL, "%s: kl_archive_opts.%s=%llu is absurd (at most 2^62)",
                             kl_url_shown(u), me > KL_LIMIT_MAX ? "max_entries" : "max_bytes",
                             (unsigned long long)(me > KL_LIMIT_MAX ? me : mb));
    }
    int rc = read_limit(u, "max_entries", false, &me);
    if (!rc)
        rc = read_limit(u, "max_bytes", true, &mb);
    if (rc || (!me && !mb))
        return rc;
    struct kl__limits *l = calloc(1, sizeof *l);
    if (!l)
        return kl_seterr(KL_ENOMEM, "out of memory opening %s", kl_url_shown(u));
    l->max_entries = me;
    l->max_bytes = mb;
    pthread_mutex_init(&l->mu, NULL);
    ar->lim = l;
    return 0;
}

void kl__limits_free(kl_archive *ar)
{
    if (!ar->lim)
        return;
    pthread_mutex_destroy(&ar->lim->mu);
    free(ar->lim);
    ar->lim = NULL;
}

int kl__limits_check_put(kl_archive *ar, size_t n, const size_t *klens, const size_t *vlens)
{
    const struct kl__limits *l = ar->lim;
    if (!l->max_bytes)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((uint64_t)klens[i] + vlens[i] > l->max_bytes)
            return kl_seterr(KL_ETOOBIG,
                             "%s: an entry of %llu bytes (key + value) is larger than the "
                             "archive's ?max_bytes=%llu: not stored",
                             ar->url, (unsigned long long)((uint64_t)klens[i] + vlens[i]),
                             (unsigned long long)l->max_bytes);
    return 0;
}

/* Entries (every one, expired too) and storage bytes, as they are now. */
static int measure(kl_archive *ar, uint64_t *entries, uint64_t *bytes)
{
    size_t c = 0;
    KL__AR_LOCK(ar);
    int rc = ar->be->count(ar->state, &c);
    KL__AR_UNLOCK(ar);
    *entries = c;
    *bytes = 0;
    if (!rc && ar->lim->max_bytes)
        rc = kl__storage_measure(ar, bytes, NULL);
    return rc;
}

static bool over(const struct kl__limits *l, uint64_t entries, uint64_t bytes)
{
    return (l->max_entries && entries > l->max_entries) || (l->max_bytes && bytes > l->max_bytes);
}

/* How many entries to keep: the low-water mark of entries, and of bytes
 * at (bytes / entries) each; never fewer than one (the newest). */
static uint64_t entries_to_keep(const struct kl__limits *l, uint64_t entries, uint64_t bytes)
{
    uint64_t keep = entries;
    if (l->max_entries && entries > l->max_entries)
        keep = LOW_WATER(l->max_entries);
    if (l->max_bytes && bytes > l->max_bytes && entries) {
        uint64_t per = (bytes + entries - 1) / entries;
        uint64_t by_bytes = LOW_WATER(l->max_bytes) / per;
        if (by_bytes < keep)
            keep = by_bytes;
    }
    return keep ? keep : 1;
}

static int cleaner_lock(kl_archive *ar, bool take)
{
    if (ar->be->version >= 3 && ar->be->cleaner_lock) {
        KL__AR_LOCK(ar);
        int rc = ar->be->cleaner_lock(ar->state, take);
        KL__AR_UNLOCK(ar);
        return rc;
    }
    if (!take)
        return pthread_mutex_unlock(&process_cleaner), 0;
    return pthread_mutex_trylock(&process_cleaner) == 0;
}

/* The keys the backend's oldest slot gives, collected before any is
 * deleted. */
typedef struct key_list {
    kl_buf bytes;
    size_t *offs, n, cap;
} key_list;

static int collect_key(void *ctx, const void *key, size_t klen)
{
    key_list *kl = ctx;
    if (kl->n == kl->cap) {
        size_t nc = kl->cap ? 2 * kl->cap : 256;
        size_t *no = realloc(kl->offs, (nc + 1) * sizeof *no);
        if (!no)
            return kl_seterr(KL_ENOMEM, "size limits: out of memory");
        kl->offs = no;
        kl->cap = nc;
    }
    kl->offs[kl->n++] = kl->bytes.len;
    kl->offs[kl->n] = kl->bytes.len + klen;
    return kl_buf_append(&kl->bytes, key, klen);
}

/* Entries limit through the backend's oldest slot: over the limit, all
 * but the low-water mark's number of newest go.  *entries: what is left. */
static int clean_by_oldest(kl_archive *ar, uint64_t *entries)
{
    const struct kl__limits *l = ar->lim;
    key_list kl = {KL_BUF_INIT, NULL, 0, 0};
    uint64_t low = LOW_WATER(l->max_entries), found = 0;
    KL__AR_LOCK(ar);
    int rc = ar->be->oldest(ar->state, l->max_entries, low, collect_key, &kl, &found);
    KL__AR_UNLOCK(ar);
    enum { BATCH = 1000 };
    const void *keys[BATCH];
    size_t klens[BATCH], gone = 0;
    for (size_t i = 0; !rc && i < kl.n; i += BATCH) {
        size_t m = kl.n - i < BATCH ? kl.n - i : BATCH, done = 0;
        for (size_t j = 0; j < m; j++) {
            keys[j] = kl.bytes.data + kl.offs[i + j];
            klens[j] = kl.offs[i + j + 1] - kl.offs[i + j];
        }
        rc = kl_archive_del_many(ar, m, keys, klens, &done);
        gone += done;
    }
    free(kl.offs);
    kl_buf_free(&kl.bytes);
    *entries = found > gone ? found - gone : 0;
    return rc;
}

/* The cleaner.  With an entries limit only: the backend's oldest slot, or
 * one prune, which removes the oldest down to the low-water mark when its
 * scan finds more than the limit (its scan is the measure).  With a bytes limit: measure,
 * prune (storage / entries) per entry, measure again, compacting once
 * when removing did not free storage.  What is left into *entries,
 * *bytes. */
static int clean(kl_archive *ar, uint64_t *entries, uint64_t *bytes)
{
    const struct kl__limits *l = ar->lim;
    kl_prune_opts po = KL_PRUNE_OPTS_INIT;
    kl_prune_result res;
    *bytes = 0;
    if (!l->max_bytes && ar->be->version >= 3 && ar->be->oldest)
        return clean_by_oldest(ar, entries);
    if (!l->max_bytes) {
        po.max_entries = LOW_WATER(l->max_entries);
        int rc = kl__archive_prune(ar, &po, l->max_entries, false, &res);
        if (!rc)
            *entries = res.left;
        return rc;
    }
    int rc = measure(ar, entries, bytes);
    bool compacted = false;
    for (int round = 0; !rc && round < ROUNDS && over(l, *entries, *bytes); round++) {
        uint64_t keep = entries_to_keep(l, *entries, *bytes);
        if (keep < *entries) {
            po.max_entries = keep;
            if ((rc = kl__archive_prune(ar, &po, KL_PRUNE_NO_LIMIT, false, &res)))
                break;
        } else if (compacted || !ar->be->compact) {
            break; /* down to the newest entry: nothing more to remove */
        }
        uint64_t before = *bytes;
        if ((rc = measure(ar, entries, bytes)))
            break;
        if (*bytes > l->max_bytes && *bytes >= before && !compacted &&
            ar->be->compact) { /* removing left the room in the file: reclaim it */
            compacted = true;
            if (!(rc = kl_archive_compact(ar)))
                rc = measure(ar, entries, bytes);
        }
    }
    return rc;
}

int kl__limits_after_put(kl_archive *ar, size_t n, uint64_t bytes)
{
    struct kl__limits *l = ar->lim;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    if (!l->known) {
        uint64_t e, b;
        pthread_mutex_unlock(&l->mu);
        rc = measure(ar, &e, &b); /* the first put: what is there now */
        pthread_mutex_lock(&l->mu);
        if (rc) {
            pthread_mutex_unlock(&l->mu);
            return rc;
        }
        if (!l->known) {
            l->known = true;
            l->entries = e;
            l->bytes = b;
            l->per_entry = e ? b / e : 0;
            n = 0; /* measured with these puts in */
            bytes = 0;
        }
    }
    l->entries += n;
    l->dirty = true;
    uint64_t grow = (uint64_t)n * l->per_entry;
    l->bytes += bytes > grow ? bytes : grow;
    bool run = !l->cleaning && over(l, l->entries, l->bytes);
    if (run)
        l->cleaning = true;
    pthread_mutex_unlock(&l->mu);
    if (!run)
        return 0;
    int got = cleaner_lock(ar, true);
    uint64_t e = 0, b = 0;
    if (got == 1) {
        rc = clean(ar, &e, &b);
        int rc2 = cleaner_lock(ar, false);
        if (!rc)
            rc = rc2;
    } else if (got < 0) {
        rc = got;
    }
    pthread_mutex_lock(&l->mu);
    if (got == 1 && !rc) {
        l->dirty = false;
        l->entries = e;
        l->bytes = b;
        l->per_entry = e ? b / e : 0;
    }
    l->cleaning = false;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int kl__limits_at_close(kl_archive *ar)
{
    struct kl__limits *l = ar->lim;
    if (!l || !l->dirty || ar->read_only)
        return 0;
    int got;
    /* the lock is held for one prune at a time: wait for it, up to ~10 s */
    for (int i = 0; (got = cleaner_lock(ar, true)) == 0 && i < 10000; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    if (got != 1)
        return got;
    uint64_t e, b;
    int rc = clean(ar, &e, &b);
    /* the oldest slot may answer from what this handle knows (dir:): the
     * count, a listing, says whether others wrote more; then again (the
     * backend walks when its knowledge says it is not over) */
    for (int round = 1; !rc && round < ROUNDS && !l->max_bytes && ar->be->version >= 3 &&
                        ar->be->oldest && !(rc = measure(ar, &e, &b)) && over(l, e, b);
         round++)
        rc = clean(ar, &e, &b);
    int rc2 = cleaner_lock(ar, false);
    return rc ? rc : rc2;
}
