/* SPDX-License-Identifier: BSD-3-Clause */
/* See awkward_keys.h. */
#include "awkward_keys.h"

#include <stdint.h>

void kt_awkward_key(int i, kl_buf *k)
{
    kl_buf_reset(k);
    switch (i) {
    case 0:
        break;
    case 1:
        kl_buf_append(k, "\0\0\0", 3);
        break;
    case 2:
        kl_buf_append(k, "\xff\xfe\x80", 3);
        break;
    case 3:
        kl_buf_append_str(k, "it's \"quoted\"");
        break;
    case 4:
        kl_buf_append_str(k, "x'); DROP TABLE t; --");
        break;
    case KT_AWKWARD_LONG:
        for (int j = 0; j < 100000; j++)
            kl_buf_append(k, &(uint8_t){(uint8_t)(j * 7)}, 1);
        break;
    default:
        kl_buf_append_str(k, KT_AWKWARD_PLAIN);
        break;
    }
}

void kt_awkward_value(int i, int gen, kl_buf *v)
{
    kl_buf_reset(v);
    if (i == 1)
        return; /* an empty value */
    size_t n = i == KT_AWKWARD_LONG ? 1u << 20 : (size_t)(i * 10 + gen);
    for (size_t j = 0; j < n; j++)
        kl_buf_append(v, &(uint8_t){(uint8_t)(j + (size_t)i + (size_t)gen)}, 1);
}
