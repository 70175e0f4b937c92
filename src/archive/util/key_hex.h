/* SPDX-License-Identifier: BSD-3-Clause */
/* A key in a message or a verify report when it is only bytes: "0x" and
 * the hex of its first 48 bytes, "..." when there are more (a message never
 * echoes a whole large key). */
#ifndef KLEPTO_ARCHIVE_UTIL_KEY_HEX_H
#define KLEPTO_ARCHIVE_UTIL_KEY_HEX_H

#include "klepto/codec.h"

#include <stddef.h>

/* Append it to out: 0 or KL_ENOMEM. */
int kl__key_hex(kl_buf *out, const void *key, size_t klen);

#endif
