/* SPDX-License-Identifier: BSD-3-Clause */
/* See sum_entries.h. */
#include "sum_entries.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

void kt_sum_key(int i, kl_buf *k)
{
    char s[16];
    snprintf(s, sizeof s, "k%d", i);
    kt_enc_text(k, s);
}

void kt_sum_value(int i, kl_buf *v)
{
    char s[32];
    snprintf(s, sizeof s, "value %d", i);
    kt_enc_text(v, s);
}

void kt_sum_kid(const kl_buf *k, kl_buf *kid)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(k->data, k->len));
    kl_buf_reset(kid);
    KT_OK(kl_buf_append(kid, c.digest, 16));
}

void kt_sum_get_is(kl_archive *ar, int i, int vi)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, got = KL_BUF_INIT;
    kt_sum_key(i, &k);
    kt_sum_value(vi, &v);
    KT_OK(kl_archive_get(ar, k.data, k.len, &got));
    assert_int_equal(got.len, v.len);
    assert_memory_equal(got.data, v.data, v.len);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&got);
}

size_t kt_sum_verify(kl_archive *ar, bool repair, kl_buf *report)
{
    size_t problems = 0;
    kl_buf_reset(report);
    KT_OK(kl_archive_verify(ar, repair, report, &problems));
    kl_buf_cstr(report);
    return problems;
}
