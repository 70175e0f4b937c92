/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-entry checksum of the SQL layouts (sqlite, postgres, mysql):
 * the column `sum`, 8 bytes, the XXH3-64 (libxxhash, as the file: records
 * use) of the key and the value, seeded with the entry's stored_ns:
 *
 *   sum = XXH3_64bits_withSeed(value, XXH3_64bits_withSeed(key, stored_ns))
 *
 * stored big-endian.  Hashing the key apart from the value keeps the two
 * from running into each other; stored_ns makes every write's sum differ
 * from the one before, which is what lets a trigger tell an older release's
 * write (value changed, sum left as it was: the trigger sets it NULL) from
 * ours.  A NULL sum (a row an older release wrote) is not checked.
 * docs/formats.md has the columns, triggers and the upgrade.  Not
 * installed. */
#ifndef KLEPTO_ARCHIVE_SQL_SUM_H
#define KLEPTO_ARCHIVE_SQL_SUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { KL_SQL_SUM_LEN = 8 };

/* The sum of an entry, into out. */
void kl__sql_sum(const void *key, size_t klen, const void *val, size_t vlen, int64_t stored_ns,
                 uint8_t out[KL_SQL_SUM_LEN]);

/* Check a stored sum (NULL with n 0: the row has none, accepted).  A sum
 * that is not 8 bytes or does not match is KL_ECORRUPT, with a message
 * naming the archive (url) and the key (its Python literal when it
 * decodes, else its bytes in hex). */
int kl__sql_sum_check(const char *url, const void *key, size_t klen, const void *val, size_t vlen,
                      int64_t stored_ns, const void *sum, size_t n, bool null);

#endif
