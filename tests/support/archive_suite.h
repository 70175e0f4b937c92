/* SPDX-License-Identifier: BSD-3-Clause */
/* The archive conformance suite: the behaviour every archive backend owes
 * the core (archive.h), checked through the public API on any URL.  A
 * backend's test program calls kt_archive_suite() from a cmocka test; a
 * mismatch fails that test with the URL and the step at fault. */
#ifndef KLEPTO_ARCHIVE_SUITE_H
#define KLEPTO_ARCHIVE_SUITE_H

#include "testutil.h"

/* What the archive under test is expected to do. */
#define KT_ARCH_PERSISTENT 0x01u /* entries survive close + reopen */
#define KT_ARCH_NULL 0x02u       /* stores nothing (null:) */
#define KT_ARCH_DROP 0x04u       /* kl_archive_drop destroys the storage */
#define KT_ARCH_MAPPED 0x08u     /* large arrays come back as mapped views */

/* Runs every check below on `url` (the archive is cleared first and
 * dropped or cleared at the end). */
void kt_archive_suite(const char *url, unsigned flags);

/* The individual checks, for a program that wants them one by one. */
void kt_suite_roundtrip(const char *url, unsigned flags);   /* many value kinds */
void kt_suite_overwrite_del(const char *url, unsigned flags);
void kt_suite_iterate(const char *url, unsigned flags);
void kt_suite_batch(const char *url, unsigned flags);      /* put_many, get_many, del_many */
void kt_suite_persist(const char *url, unsigned flags);
void kt_suite_view(const char *url, unsigned flags);
void kt_suite_clear_drop(const char *url, unsigned flags);
/* One handle, four threads putting and reading back their own keys: every
 * put readable, none lost (the archive is dropped at the end). */
void kt_suite_threads(const char *url);

/* Encoded sample values (canonical CBOR), for tests of their own: the
 * i-th of kt_sample_count() kinds (null, bools, integers at every width,
 * floats incl. inf/nan, text with quotes and non-ASCII, bytes with zeros,
 * nested arrays and maps, a 1 MiB bytes, typed arrays).  *len gets the
 * size; the pointer is static. */
size_t kt_sample_count(void);
const unsigned char *kt_sample(size_t i, size_t *len);
/* The key of a call (i, 'k', j) encoded as a CBOR array, into buf (>= 64
 * bytes); returns the length. */
size_t kt_key(unsigned char *buf, long long i, long long j);

#endif
