/* SPDX-License-Identifier: BSD-3-Clause */
/* Statistics across runs (kl_archive_run_stats): each memo instance keeps
 * one record of its own in its archive, under a reserved key
 * (run_stats.h), rewritten whole at each dump and at free.  One writer per
 * key makes the records safe on every backend, plug-ins included, with
 * plain puts: processes flushing at once lose nothing, and the sum is
 * taken when read.  The value is canonical CBOR:
 * [1, hits, misses, loads, evictions, errors, miss_ns, miss_timed].
 * Time saved is worked out when read: each record's calls answered
 * without running the function (hits + loads) times that record's mean
 * measured miss cost, or, for a record that timed no miss (a run that
 * loaded everything), the mean over all records. */
#include "archive/run_stats.h"

#include "archive/handle.h"
#include "internal.h"
#include "klepto/cached.h"

#include <stdlib.h>

#define RS_FORMAT 1
#define RS_FIELDS 8

/* The archive that holds the records: the storage behind cached fronts. */
static kl_archive *storage_of(kl_archive *ar)
{
    while (ar && kl_cached_is(ar))
        ar = kl_cached_backing(ar);
    return ar;
}

static int64_t clamp(uint64_t v) { return v > INT64_MAX ? INT64_MAX : (int64_t)v; }

int kl__run_stats_put(kl_archive *ar, const uint8_t *id, const kl__run_record *rec)
{
    ar = storage_of(ar);
    if (!ar || !ar->run_stats) /* kept only where the URL asks: ?stats=true */
        return 0;
    int rc = kl__archive_check_writable(ar);
    if (rc)
        return rc;
    uint8_t key[KL__RS_KEY_LEN], val[RS_FIELDS * 9 + 1];
    memcpy(key, KL__RS_PREFIX, KL__RS_PREFIX_LEN);
    key[KL__RS_PREFIX_LEN] = 0x40; /* the marker: an empty byte string */
    kl_enc e;
    kl_enc_init(&e, val, sizeof val, 0);
    kl_enc_array_head(&e, RS_FIELDS);
    uint64_t f[RS_FIELDS] = {RS_FORMAT,      rec->hits,   rec->misses,  rec->loads,
                             rec->evictions, rec->errors, rec->miss_ns, rec->miss_timed};
    for (size_t i = 0; i < RS_FIELDS; i++)
        kl_enc_int(&e, clamp(f[i]));
    if (!kl_enc_ok(&e))
        return kl_seterr(KL_ETOOBIG, "%s: run statistics record does not encode", ar->url);
    KL__AR_LOCK(ar);
    /* the marker every time: a --zero meanwhile may have removed it */
    rc = ar->be->put(ar->state, key, KL__RS_MARKER_LEN, "\xf6", 1); /* value: None */
    if (!rc) {
        key[KL__RS_PREFIX_LEN] = 0x40 | KL__RS_ID_LEN; /* a 16-byte string */
        memcpy(key + KL__RS_PREFIX_LEN + 1, id, KL__RS_ID_LEN);
        rc = ar->be->put(ar->state, key, KL__RS_KEY_LEN, val, e.len);
    }
    KL__AR_UNLOCK(ar);
    return rc;
}

int kl__run_stats_decode(const void *val, size_t vlen, kl__run_record *out)
{
    kl_value v;
    if (kl_decode(val, vlen, &v))
        return kl_seterr(KL_ECORRUPT, "run statistics record: the stored value does not decode");
    int rc = 0;
    if (v.type != KL_ARRAY || v.u.a.len != RS_FIELDS)
        rc = kl_seterr(KL_ECORRUPT, "run statistics record: not a list of %d numbers",
                       RS_FIELDS);
    uint64_t f[RS_FIELDS] = {0};
    for (size_t i = 0; !rc && i < RS_FIELDS; i++) {
        const kl_value *x = &v.u.a.items[i];
        if (x->type != KL_INT || x->u.i < 0)
            rc = kl_seterr(KL_ECORRUPT, "run statistics record: item %zu is not a count", i);
        else
            f[i] = (uint64_t)x->u.i;
    }
    if (!rc && f[0] != RS_FORMAT)
        rc = kl_seterr(KL_ECORRUPT, "run statistics record: format %llu unknown",
                       (unsigned long long)f[0]);
    kl_value_free(&v);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->hits = f[1];
    out->misses = f[2];
    out->loads = f[3];
    out->evictions = f[4];
    out->errors = f[5];
    out->miss_ns = f[6];
    out->miss_timed = f[7];
    return 0;
}

static bool is_record_key(const kl_buf *k)
{
    return k->len == KL__RS_KEY_LEN && kl__is_run_stats_key(k->data, k->len) &&
           k->data[KL__RS_PREFIX_LEN] == (0x40 | KL__RS_ID_LEN);
}

static uint64_t add_sat(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

/* Walk the backend's entries (lock held), visiting the reserved keys:
 * fn(ctx, key, value) for each (value only when want_values). */
typedef int (*hidden_fn)(void *ctx, const kl_buf *key, const kl_buf *val);
static int walk_hidden_locked(kl_archive *ar, bool want_values, hidden_fn fn, void *ctx)
{
    void *cur = NULL;
    int rc = ar->be->iter_new(ar->state, &cur);
    if (rc)
        return rc;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    for (;;) {
        /* keys first: the value of a reserved entry only */
        int r = ar->be->iter_next(cur, &k, NULL);
        if (r == 0)
            break;
        if (r == KL_ECORRUPT) /* a damaged entry: verify's business */
            continue;
        if (r < 0) {
            rc = r;
            break;
        }
        if (!kl__is_run_stats_key(k.data, k.len))
            continue;
        if (want_values) {
            r = ar->be->get(ar->state, k.data, k.len, &v);
            if (r == KL_ENOTFOUND) /* removed meanwhile */
                continue;
            if (r == KL_ECORRUPT)
                v.len = 0; /* reported as a damaged record */
            else if (r) {
                rc = r;
                break;
            }
        }
        if ((rc = fn(ctx, &k, &v)))
            break;
    }
    ar->be->iter_free(cur);
    kl_buf_free(&k);
    kl_buf_free(&v);
    return rc;
}

static int count_one(void *ctx, const kl_buf *key, const kl_buf *val)
{
    (void)key;
    (void)val;
    (*(size_t *)ctx)++;
    return 0;
}

int kl__run_stats_hidden_locked(kl_archive *ar, size_t *out)
{
    *out = 0;
    return walk_hidden_locked(ar, false, count_one, out);
}

/* The sums, and the time saved in two parts (see the top). */
typedef struct summing {
    kl_run_stats s;
    long double saved_ns;    /* records that timed misses: their own mean */
    long double untimed_avoided; /* records that timed none: hits + loads */
} summing;

static int sum_one(void *ctx, const kl_buf *key, const kl_buf *val)
{
    summing *sm = ctx;
    kl_run_stats *s = &sm->s;
    if (!is_record_key(key))
        return 0; /* the marker */
    kl__run_record r;
    if (kl__run_stats_decode(val->data, val->len, &r)) {
        s->damaged++;
        return 0;
    }
    s->hits = add_sat(s->hits, r.hits);
    s->misses = add_sat(s->misses, r.misses);
    s->loads = add_sat(s->loads, r.loads);
    s->evictions = add_sat(s->evictions, r.evictions);
    s->errors = add_sat(s->errors, r.errors);
    long double avoided = (long double)r.hits + (long double)r.loads;
    if (r.miss_timed)
        sm->saved_ns += (long double)r.miss_ns / (long double)r.miss_timed * avoided;
    else
        sm->untimed_avoided += avoided;
    s->miss_ns = add_sat(s->miss_ns, r.miss_ns);
    s->miss_timed = add_sat(s->miss_timed, r.miss_timed);
    s->records++;
    return 0;
}

int kl_archive_run_stats(kl_archive *ar, kl_run_stats *out)
{
    if (!ar || !out)
        return kl_seterr(KL_EINVAL, "kl_archive_run_stats: NULL argument");
    memset(out, 0, sizeof *out);
    ar = storage_of(ar);
    if (!ar)
        return 0;
    summing sm;
    memset(&sm, 0, sizeof sm);
    KL__AR_LOCK(ar);
    int rc = walk_hidden_locked(ar, true, sum_one, &sm);
    KL__AR_UNLOCK(ar);
    if (rc)
        return rc;
    long double saved = sm.saved_ns;
    if (sm.s.miss_timed)
        saved += (long double)sm.s.miss_ns / (long double)sm.s.miss_timed * sm.untimed_avoided;
    sm.s.saved_ns = saved >= 18446744073709551615.0L ? UINT64_MAX : (uint64_t)saved;
    *out = sm.s;
    return 0;
}

/* Reserved keys collected as length-prefixed records, deleted after the
 * walk (deleting under a live cursor is not promised to work). */
static int collect_one(void *ctx, const kl_buf *key, const kl_buf *val)
{
    (void)val;
    kl_buf *keys = ctx;
    uint64_t n = key->len;
    int rc = kl_buf_append(keys, &n, sizeof n);
    return rc ? rc : kl_buf_append(keys, key->data, key->len);
}

int kl_archive_run_stats_zero(kl_archive *ar, size_t *removed)
{
    if (removed)
        *removed = 0;
    if (!ar)
        return kl_seterr(KL_EINVAL, "kl_archive_run_stats_zero: NULL archive");
    ar = storage_of(ar);
    if (!ar)
        return 0;
    int rc = kl__archive_check_writable(ar);
    if (rc)
        return rc;
    kl_buf keys = KL_BUF_INIT;
    size_t n = 0;
    KL__AR_LOCK(ar);
    rc = walk_hidden_locked(ar, false, collect_one, &keys);
    /* records first, the marker last: a count never misses a record */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (size_t off = 0; off < keys.len && !rc;) {
            uint64_t len;
            memcpy(&len, keys.data + off, sizeof len);
            off += sizeof len;
            bool marker = len == KL__RS_MARKER_LEN;
            if (marker == (pass == 1)) {
                int r = ar->be->del(ar->state, keys.data + off, (size_t)len);
                if (r == 0)
                    n += !marker;
                else if (r != KL_ENOTFOUND)
                    rc = r;
            }
            off += (size_t)len;
        }
    KL__AR_UNLOCK(ar);
    kl_buf_free(&keys);
    if (removed)
        *removed = n;
    return rc;
}
