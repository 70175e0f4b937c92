/* SPDX-License-Identifier: BSD-3-Clause */
/* Keys of awkward bytes for the archive tests, one list for every backend:
 * the empty key, NULs, bytes that are not UTF-8, quotes, SQL text, a key
 * of 100,000 bytes (longer than any index entry may be), a plain one.
 * With each key a value of its own per generation, so that a test can put
 * them all, replace them all and check every one. */
#ifndef KLEPTO_TEST_AWKWARD_KEYS_H
#define KLEPTO_TEST_AWKWARD_KEYS_H

#include "klepto/codec.h"

/* How many keys; which one is the long one, and the plain one's bytes. */
enum { KT_AWKWARD_KEYS = 7, KT_AWKWARD_LONG = 5 };
#define KT_AWKWARD_PLAIN "plain"

/* The i-th key (i < KT_AWKWARD_KEYS) into k (reset first). */
void kt_awkward_key(int i, kl_buf *k);
/* The value of key i in generation gen into v (reset first): empty for
 * key 1, 1 MiB for the long key, i * 10 + gen bytes otherwise. */
void kt_awkward_value(int i, int gen, kl_buf *v);

#endif
