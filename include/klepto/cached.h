/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The cached front of an archive (klepto's cached=True).
 *
 * A cached archive is an in-memory dictionary in front of a backing
 * archive, and is itself a kl_archive: every kl_archive_* call works on it,
 * as on klepto's cached archive (a dict):
 *   get, contains, count, stat, get_view, iterate   memory only
 *   put      memory only, marked unsaved; written to the backing archive by
 *            dump, sync, close (or at once with opts.write_through)
 *   clear    memory only (unsaved entries are lost)
 *   del      memory and backing (klepto: memory only — docs/from-python.md)
 *   drop     destroys the backing storage and closes the handle, as
 *            kl_archive_drop does to any archive; klepto's drop, which only
 *            detaches the storage, is kl_cached_drop
 *   close    writes what is unsaved, then closes (klepto writes nothing)
 * To read through to the storage use kl_cached_fetch, or kl_cached_load
 * first.  With archived off the backing archive is not touched at all:
 * the handle is a plain in-memory dictionary until switched back on.
 *
 * Open one with kl_cached_new() over an open archive, or by URL with
 * ?cached=true on any archive URL ("dir:/data?cached=true"), which
 * kl_archive_open applies as a wrapper around the archive it opens (there
 * is no "cached:" scheme).  kl_archive_scheme() of the handle is "cached".
 *
 * Thread-safety: as any kl_archive handle (calls are serialised).
 * Errors: as archive.h; the functions below also return KL_EINVAL when the
 * handle is not a cached archive.
 */
#ifndef KLEPTO_CACHED_H
#define KLEPTO_CACHED_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#include "archive.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of kl_cached_new(): start from KL_CACHED_OPTS_INIT. */
typedef struct kl_cached_opts {
    unsigned version;   /**< KL_CACHED_OPTS_VERSION */
    bool write_through; /**< puts also go to the backing archive at once */
    bool archived;      /**< use the backing archive from the start */
} kl_cached_opts;
/** The version of kl_cached_opts this header declares. */
#define KL_CACHED_OPTS_VERSION 1
/** The default options: not write-through, archived. */
#define KL_CACHED_OPTS_INIT {KL_CACHED_OPTS_VERSION, false, true}

/** A cached front over `backing`, which the new handle owns from now on
 * (closed with it, even when this call fails).  backing may be NULL: a
 * purely in-memory dictionary until kl_cached_set_backing().  opts may be
 * NULL for the defaults. */
KL_API int kl_cached_new(kl_archive **out, kl_archive *backing, const kl_cached_opts *opts);

/** true when ar is a cached front. */
KL_API bool kl_cached_is(const kl_archive *ar);

/** klepto's load(*keys): read entries of the backing archive into memory:
 * all of them (keys == NULL) or the n given keys (missing ones are
 * skipped), replacing what memory holds for those keys, saved or not.
 * *loaded (may be NULL) gets how many were read.  Nothing while archived
 * is off. */
KL_API int kl_cached_load(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                   size_t *loaded);

/** klepto's dump(*keys): write memory entries to the backing archive: every
 * one (keys == NULL) or the n given keys (those in memory).  *dumped (may
 * be NULL) gets how many were written.  Nothing while archived is off. */
KL_API int kl_cached_dump(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                   size_t *dumped);

/** klepto's sync(clear): clear=true empties the backing storage and dumps
 * every memory entry into it; clear=false dumps every memory entry, then
 * loads the whole storage back into memory.  Memory is kept either way;
 * the backing archive is then synced (kl_archive_sync).  Nothing while
 * archived is off. */
KL_API int kl_cached_sync(kl_archive *ar, bool clear);

/** 1 when the backing archive is in use, 0 when not, or KL_EINVAL. */
KL_API int kl_cached_archived(kl_archive *ar);
/** Turn the use of the backing archive on or off (on needs a backing). */
KL_API int kl_cached_set_archived(kl_archive *ar, bool on);

/** The value of key read through: from memory, else (when archived) from
 * the backing archive, and then kept in memory as saved — what a memo
 * over the front reads (klepto's memo: load(key), then cache[key]).
 * Returns 0, KL_ENOTFOUND, the backing archive's errors. */
KL_API int kl_cached_fetch(kl_archive *ar, const void *key, size_t klen, kl_buf *val);

/** klepto's drop: set the archive to none.  The backing handle is closed
 * (its storage is kept, and unsaved entries are not written to it); memory
 * is kept and the handle goes on as a plain dictionary (archived off). */
KL_API int kl_cached_drop(kl_archive *ar);

/** The backing archive (borrowed; NULL when none). */
KL_API kl_archive *kl_cached_backing(kl_archive *ar);
/** Replace the backing archive by `backing` (owned from now on; NULL for
 * none).  The previous one is handed to *old when old != NULL, otherwise
 * closed.  Every memory entry counts as unsaved for the new archive. */
KL_API int kl_cached_set_backing(kl_archive *ar, kl_archive *backing, kl_archive **old);

/** Entries held in memory, and how many of them are unsaved. */
KL_API int kl_cached_mem_count(kl_archive *ar, size_t *entries, size_t *unsaved);

#ifdef __cplusplus
}
#endif
#endif
