/* SPDX-License-Identifier: BSD-3-Clause */
/* kl_archive_storage_bytes (archive.h): the backend's storage_bytes slot
 * (version 3) where it has one, else the key + value sizes of every
 * entry, expired ones included (they take room until removed). */
#include "archive/handle.h"
#include "internal.h"

int kl__storage_measure(kl_archive *ar, uint64_t *out, bool *measured)
{
    if (ar->be->version >= 3 && ar->be->storage_bytes) {
        KL__AR_LOCK(ar);
        int rc = ar->be->storage_bytes(ar->state, out);
        KL__AR_UNLOCK(ar);
        if (measured)
            *measured = true;
        return rc;
    }
    if (measured)
        *measured = false;
    kl_archive_iter *it = NULL;
    int rc = kl__archive_iter_new_raw(ar, &it);
    if (rc)
        return rc;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, last = KL_BUF_INIT;
    uint64_t sum = 0;
    bool after_damage = false;
    int r;
    while ((r = kl_archive_iter_next(it, &k, &v)) != 0) {
        if (r == KL_ECORRUPT) { /* damaged: not counted, the walk goes on */
            if (after_damage && last.len == k.len &&
                (!k.len || !memcmp(last.data, k.data, k.len))) {
                rc = kl_seterr(KL_EIO, "%s: the walk does not get past a damaged entry",
                               ar->url); /* an iterator that has not moved */
                break;
            }
            kl_buf_reset(&last);
            if ((rc = kl_buf_append(&last, k.data, k.len)))
                break;
            after_damage = true;
            continue;
        }
        after_damage = false;
        if (r < 0) {
            rc = r;
            break;
        }
        sum += k.len + v.len;
    }
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&last);
    if (!rc)
        *out = sum;
    return rc;
}

int kl_archive_storage_bytes(kl_archive *ar, uint64_t *out, bool *measured)
{
    if (!ar || !out)
        return kl_seterr(KL_EINVAL, "kl_archive_storage_bytes: %s is NULL", ar ? "out" : "ar");
    return kl__storage_measure(ar, out, measured);
}
