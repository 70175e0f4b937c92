/* SPDX-License-Identifier: BSD-3-Clause */
/* See key_hex.h. */
#include "archive/util/key_hex.h"

#include <stdint.h>

int kl__key_hex(kl_buf *out, const void *key, size_t klen)
{
    const uint8_t *p = key;
    size_t n = klen > 48 ? 48 : klen;
    int rc = kl_buf_append_str(out, "0x");
    for (size_t i = 0; !rc && i < n; i++)
        rc = kl_buf_printf(out, "%02x", p[i]);
    if (!rc && n < klen)
        rc = kl_buf_append_str(out, "...");
    return rc;
}
