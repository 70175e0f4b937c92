/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared checks of the fuzz targets: whatever the input, the codec must
 * not crash, and every value it accepts must survive the round trips. */
#ifndef KLEPTO_FUZZ_COMMON_H
#define KLEPTO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/codec.h"
#include "klepto/error.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d): %s\n", #cond, __FILE__, __LINE__,      \
                    kl_errmsg());                                                                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The value's canonical encoding is a fixed point: decoding it and
 * encoding again gives the same bytes; its repr parses back to an equal
 * value with the same repr; JSON output works. */
static inline void fuzz_check_value(const kl_value *v)
{
    kl_buf enc = KL_BUF_INIT, enc2 = KL_BUF_INIT, txt = KL_BUF_INIT, txt2 = KL_BUF_INIT;
    int rc = kl_encode(&enc, v, 0);
    /* maps with equal keys are the one thing that cannot be encoded */
    FUZZ_CHECK(rc == 0 || rc == KL_EINVAL);
    if (rc == 0) {
        kl_value d;
        FUZZ_CHECK(kl_decode(enc.data, enc.len, &d) == 0);
        FUZZ_CHECK(kl_encode(&enc2, &d, 0) == 0);
        FUZZ_CHECK(enc.len == enc2.len && memcmp(enc.data, enc2.data, enc.len) == 0);
        kl_value_free(&d);
    }
    rc = kl_repr(&txt, v);
    FUZZ_CHECK(rc == 0 || rc == KL_ETOOBIG);
    if (rc == 0) {
        kl_value p;
        rc = kl_parse((const char *)txt.data, txt.len, &p);
        /* the parser's nesting limit counts nd-array data one level deeper */
        FUZZ_CHECK(rc == 0 || rc == KL_EINVAL);
        if (rc == 0) {
            FUZZ_CHECK(kl_value_equal(&p, v));
            FUZZ_CHECK(kl_repr(&txt2, &p) == 0);
            FUZZ_CHECK(txt.len == txt2.len && memcmp(txt.data, txt2.data, txt.len) == 0);
            kl_value_free(&p);
        }
    }
    kl_buf_reset(&txt2);
    rc = kl_json(&txt2, v);
    FUZZ_CHECK(rc == 0 || rc == KL_ETOOBIG);
    kl_buf_free(&enc);
    kl_buf_free(&enc2);
    kl_buf_free(&txt);
    kl_buf_free(&txt2);
}

#endif
