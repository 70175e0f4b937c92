/* SPDX-License-Identifier: BSD-3-Clause */
/* kl_archive_verify: the backend's own check of framing and checksums (or,
 * without one, a walk that reads every entry back), then one walk that
 * decodes every stored key and value; with repair, the entries found
 * damaged are deleted once the walk is over.  A run statistics record
 * (run_stats.c) is checked as one: a damaged record is reported, and
 * repair resets it (removes it). */
#include "archive/handle.h"
#include "archive/run_stats.h"
#include "archive/util/key_hex.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

static void hexkey(kl_buf *out, const void *key, size_t klen)
{
    kl_buf_append_str(out, "key ");
    kl__key_hex(out, key, klen);
}

/* Damaged keys are collected while iterating (as length-prefixed records
 * in a buffer) and deleted afterwards, so the iteration is not disturbed. */
static void list_bad(kl_buf *bad, const kl_buf *key)
{
    uint64_t n = key->len;
    kl_buf_append(bad, &n, sizeof n);
    kl_buf_append(bad, key->data, key->len);
}

static int drop_listed(kl_archive *ar, const kl_buf *bad)
{
    for (size_t off = 0; off < bad->len;) {
        uint64_t n;
        memcpy(&n, bad->data + off, sizeof n);
        off += sizeof n;
        int r = ar->be->del(ar->state, bad->data + off, (size_t)n);
        if (r && r != KL_ENOTFOUND)
            return r;
        off += (size_t)n;
    }
    return 0;
}

/* What a walk checks of each entry the iterator yields. */
typedef enum walk_kind {
    WALK_READ,   /* the entry reads back (a get): for backends without verify */
    WALK_DECODE, /* the stored key and value decode */
} walk_kind;

/* 1 when entry k does not read back (reported), 0 when it does, or a
 * negative error that stops the walk. */
static int check_read(kl_archive *ar, const kl_buf *k, kl_buf *v, bool repair, kl_buf *report)
{
    int r = ar->be->get(ar->state, k->data, k->len, v);
    if (r == KL_ECORRUPT) {
        if (report) {
            hexkey(report, k->data, k->len);
            kl_buf_printf(report, ": %s%s\n", kl_errmsg(), repair ? " (dropped)" : "");
        }
        return 1;
    }
    return r && r != KL_ENOTFOUND ? r : 0;
}

/* 1 when the stored key or value of entry k does not decode (reported),
 * 0 when both do.  Checksums only prove the bytes are the ones written. */
/* check_decode for a reserved key: the marker or a well-formed record. */
static int check_run_stats(const kl_buf *k, const kl_buf *v, bool repair, kl_buf *report)
{
    int rc;
    if (k->len == KL__RS_MARKER_LEN && k->data[KL__RS_PREFIX_LEN] == 0x40)
        rc = v->len == 1 && v->data[0] == 0xf6
                 ? 0
                 : kl_seterr(KL_ECORRUPT, "run statistics marker: unexpected value");
    else if (k->len == KL__RS_KEY_LEN && k->data[KL__RS_PREFIX_LEN] == (0x40 | KL__RS_ID_LEN)) {
        kl__run_record r;
        rc = kl__run_stats_decode(v->data, v->len, &r);
    } else
        rc = kl_seterr(KL_ECORRUPT, "run statistics: a reserved key of unknown form");
    if (!rc)
        return 0;
    if (report) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", kl_errmsg());
        hexkey(report, k->data, k->len);
        kl_buf_printf(report, ": damaged run statistics record: %s%s\n", msg,
                      repair ? " (reset)" : "");
    }
    return 1;
}

static int check_decode(const kl_buf *k, const kl_buf *v, bool repair, kl_buf *report)
{
    if (kl__is_run_stats_key(k->data, k->len))
        return check_run_stats(k, v, repair, report);
    kl_value x;
    const char *what = NULL;
    if (kl_decode(k->data, k->len, &x) == 0)
        kl_value_free(&x);
    else
        what = "key";
    if (!what) {
        if (kl_decode(v->data, v->len, &x) == 0)
            kl_value_free(&x);
        else
            what = "value";
    }
    if (!what)
        return 0;
    if (report) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", kl_errmsg());
        hexkey(report, k->data, k->len);
        kl_buf_printf(report, ": the stored %s does not decode: %s%s\n", what, msg,
                      repair ? " (dropped)" : "");
    }
    return 1;
}

/* The verify walk: every entry the iterator yields is checked (see
 * walk_kind); problems are counted into *problems and, with repair, the
 * damaged entries deleted after the walk.  An entry the iterator itself
 * reports damaged is counted by the read walk only (the backend's own
 * verify counted it otherwise). */
static int walk(kl_archive *ar, walk_kind kind, bool repair, kl_buf *report, size_t *problems)
{
    void *cur = NULL;
    int rc = ar->be->iter_new(ar->state, &cur);
    /* a backend whose own verify found the storage too damaged to walk
     * (an hdf5: file HDF5 cannot open) has reported it */
    if (rc == KL_ECORRUPT && *problems > 0) {
        kl_errclear();
        return 0;
    }
    if (rc)
        return rc;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, bad = KL_BUF_INIT;
    for (;;) {
        int r = ar->be->iter_next(cur, &k, kind == WALK_DECODE ? &v : NULL);
        if (r == 0)
            break;
        if (r == KL_ECORRUPT) {
            if (kind == WALK_READ) {
                (*problems)++;
                if (report)
                    kl_buf_printf(report, "%s: %s\n", ar->url, kl_errmsg());
            }
            continue;
        }
        if (r < 0) {
            rc = r;
            break;
        }
        r = kind == WALK_READ ? check_read(ar, &k, &v, repair, report)
                              : check_decode(&k, &v, repair, report);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r) {
            (*problems)++;
            list_bad(&bad, &k);
        }
    }
    ar->be->iter_free(cur);
    if (!rc && repair)
        rc = drop_listed(ar, &bad);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&bad);
    return rc;
}

int kl_archive_verify(kl_archive *ar, bool repair, kl_buf *report, size_t *problems)
{
    size_t np = 0;
    int rc = repair ? kl__archive_check_writable(ar) : 0;
    if (rc)
        return rc;
    KL__AR_LOCK(ar);
    if (ar->be->verify)
        rc = ar->be->verify(ar->state, repair, report, &np);
    else
        rc = walk(ar, WALK_READ, repair, report, &np);
    /* a wrapper (the cached front, ...) delegates to the archive behind
     * it, which decodes */
    if (!rc && !(ar->be->flags & KL_BACKEND_DELEGATES_VERIFY))
        rc = walk(ar, WALK_DECODE, repair, report, &np);
    KL__AR_UNLOCK(ar);
    if (problems)
        *problems = np;
    return rc;
}
