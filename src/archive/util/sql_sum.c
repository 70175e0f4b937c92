/* SPDX-License-Identifier: BSD-3-Clause */
/* The SQL layouts' entry checksum (see sql_sum.h). */
#include "archive/util/sql_sum.h"
#include "archive/util/key_hex.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"
#include "klepto/codec.h"
#include "klepto/value.h"

void kl__sql_sum(const void *key, size_t klen, const void *val, size_t vlen, int64_t stored_ns,
                 uint8_t out[KL_SQL_SUM_LEN])
{
    /* XXH3 reads nothing of a zero-length input, but wants a pointer */
    uint64_t seed = XXH3_64bits_withSeed(klen ? key : "", klen, (uint64_t)stored_ns);
    uint64_t h = XXH3_64bits_withSeed(vlen ? val : "", vlen, seed);
    for (int i = KL_SQL_SUM_LEN - 1; i >= 0; i--, h >>= 8)
        out[i] = (uint8_t)h;
}

/* Longest key literal a message carries: an error message never echoes a
 * whole large key. */
enum { REPR_MAX = 120 };

/* The key for a message: its Python literal (a list key as the tuple it
 * was), cut at REPR_MAX, or its first bytes in hex when it does not decode. */
static void key_text(kl_buf *out, const void *key, size_t klen)
{
    kl_value v;
    kl_buf r = KL_BUF_INIT;
    if (kl_decode(key, klen, &v) == 0) {
        if (v.type == KL_ARRAY)
            v.flags |= KL_VALUE_TUPLE;
        int rc = kl_repr(&r, &v);
        kl_value_free(&v);
        if (rc == 0) {
            size_t n = r.len > REPR_MAX ? REPR_MAX : r.len;
            kl_buf_append(out, r.data, n);
            if (n < r.len)
                kl_buf_append_str(out, "...");
            kl_buf_free(&r);
            return;
        }
    }
    kl_buf_free(&r);
    kl__key_hex(out, key, klen);
}

int kl__sql_sum_check(const char *url, const void *key, size_t klen, const void *val, size_t vlen,
                      int64_t stored_ns, const void *sum, size_t n, bool null)
{
    if (null)
        return 0;
    uint8_t want[KL_SQL_SUM_LEN];
    const char *why = "entry checksum mismatch (key, value or time damaged)";
    if (n == KL_SQL_SUM_LEN) {
        kl__sql_sum(key, klen, val, vlen, stored_ns, want);
        if (memcmp(want, sum, KL_SQL_SUM_LEN) == 0)
            return 0;
    } else {
        why = "stored checksum is not 8 bytes";
    }
    kl_buf k = KL_BUF_INIT;
    key_text(&k, key, klen);
    const char *kt = kl_buf_cstr(&k);
    int r = kl_seterr(KL_ECORRUPT, "%s: key %s: %s", url, kt ? kt : "?", why);
    kl_buf_free(&k);
    return r;
}
