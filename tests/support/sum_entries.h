/* SPDX-License-Identifier: BSD-3-Clause */
/* The entries of the SQL checksum suites (test_archive_sqlite_sum,
 * test_archive_postgres_sum, test_archive_mysql_sum): key i is the text
 * "k<i>", its value the text "value <i>", both canonical CBOR. */
#ifndef KLEPTO_TEST_SUM_ENTRIES_H
#define KLEPTO_TEST_SUM_ENTRIES_H

#include "klepto/archive.h"

#include <stdbool.h>
#include <stddef.h>

/* Key i and value i (replacing the buffer's contents). */
void kt_sum_key(int i, kl_buf *k);
void kt_sum_value(int i, kl_buf *v);
/* The kid column of the SQL layouts: the canonical XXH3-128 of key k. */
void kt_sum_kid(const kl_buf *k, kl_buf *kid);
/* Assert that key i reads back from ar as value vi. */
void kt_sum_get_is(kl_archive *ar, int i, int vi);
/* kl_archive_verify (with repair) asserted to succeed: its problem count;
 * its report in report, NUL-terminated. */
size_t kt_sum_verify(kl_archive *ar, bool repair, kl_buf *report);

#endif
