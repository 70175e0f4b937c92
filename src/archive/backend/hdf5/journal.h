/* SPDX-License-Identifier: BSD-3-Clause */
/* The journal of an hdf5: archive (docs/hdf5.md): single puts land in an
 * append-only log beside the HDF5 file, ".BASE.journal", in the record
 * format of the file: backend (its code, src/archive/backend/file/), and
 * are folded into the HDF5 file in batches by the writer's transactions.
 * Readers consult the journal first.  Not thread-safe: the archive handle
 * serialises its calls. */
#ifndef KLEPTO_ARCHIVE_HDF5_JOURNAL_H
#define KLEPTO_ARCHIVE_HDF5_JOURNAL_H

#include "archive/backends.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kl__h5j kl__h5j;

/* Opens (a writer: creates) the journal of the HDF5 file at h5path.  A
 * reader whose journal does not exist yet gets a handle that looks for it
 * again on every refresh. */
int kl__h5j_open(kl__h5j **out, const char *h5path, const char *url, int sync, bool read_only);
/* Flushes (sync=full: fdatasync) and frees; NULL is fine. */
int kl__h5j_close(kl__h5j *j);
/* Catch up with what other processes appended (or a fold cleared). */
int kl__h5j_refresh(kl__h5j *j);
/* After a refresh: the journal's value of key (val may be NULL; ns the
 * time it was stored, may be NULL).  KL_ENOTFOUND when the journal has no
 * entry for the key, KL_ECORRUPT for a damaged record. */
int kl__h5j_lookup(kl__h5j *j, const void *key, size_t klen, kl_buf *val, int64_t *ns);
/* Append entries (one write, under the journal's lock). */
int kl__h5j_put(kl__h5j *j, size_t n, const void *const *keys, const size_t *klens,
                const void *const *vals, const size_t *vlens);
/* Bytes of records and live entries after the last refresh. */
uint64_t kl__h5j_bytes(const kl__h5j *j);
size_t kl__h5j_count(const kl__h5j *j);
/* Exclusive lock (nests) against appends and folds; refreshes. */
int kl__h5j_lock(kl__h5j *j);
void kl__h5j_unlock(kl__h5j *j);
/* Each live entry, in the order written: fn's non-zero return stops and
 * is returned.  A damaged record is KL_ECORRUPT. */
typedef int (*kl__h5j_fn)(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                          int64_t stored_ns);
int kl__h5j_each(kl__h5j *j, kl__h5j_fn fn, void *arg);
/* Whether the journal holds the key whose XXH3-128 is (lo, hi). */
bool kl__h5j_has_hash(kl__h5j *j, uint64_t lo, uint64_t hi);
/* Locked: replace the journal by an empty one (readers holding the old one
 * are told by a record appended to it). */
int kl__h5j_clear_locked(kl__h5j *j);
/* file:'s verify of the journal (a torn tail is reported; repair cuts it). */
int kl__h5j_verify(kl__h5j *j, bool repair, kl_buf *report, size_t *problems);
/* Delete the journal file. */
int kl__h5j_drop(kl__h5j *j);

#endif
