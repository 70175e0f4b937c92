/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Dictionary-style persistent stores ("archives").
 *
 * An archive maps key bytes to value bytes; both are canonical encoded
 * values (codec.h) but the archive never looks inside them.  Archives are
 * opened by URL:
 *   mem: / mem:NAME      in-process dictionary (NAME shares one store
 *                        between handles of the same process)
 *   null:                stores nothing
 *   dir:PATH             a folder, one file per entry
 *                        (?compression=none|zstd, ?level=1..22, default 3)
 *   file:PATH            one log-structured file
 *                        (?autocompact=RATIO, 0 disables; default 0.5)
 *   sqlite:PATH[?table=T]  SQLite: one table (key, value), or without
 *                        table= one table per key
 *   postgresql://USER\@HOST:PORT/DB[?table=T]  the same on PostgreSQL
 *   hdf5:PATH            one HDF5 file, one dataset per entry (typed arrays
 *                        as native datasets; docs/hdf5.md)
 *   hdf5dir:PATH         a folder of HDF5 files, one per entry
 *   redis://[[USER]:PASS\@]HOST[:PORT][/DB][?prefix=P&timeout=SECONDS]
 *                        a Redis server (docs/redis.md)
 * Options go in the query string (dir:/x?sync=full); unknown options are an
 * error.  Values are percent-decoded.
 *
 * Durability (dir:, file:, hdf5:, hdf5dir:), ?sync=
 *   none    nothing is fsynced.  file: also buffers puts inside the process
 *           (written at sync, close, when 1 MiB is pending or before any
 *           read), so a crashed process loses its unflushed puts.
 *   normal  (the default) every put is in the file system before it
 *           returns, so it survives the process crashing; fsync happens at
 *           kl_archive_sync() (and, for file:, at close).  A power loss may
 *           lose puts made since; an entry torn by it is detected by its
 *           checksums (ignored or KL_ECORRUPT), never misread.
 *   full    every put is fsynced (file, and folder for dir:) before it
 *           returns.
 * Permissions (file:, dir:, sqlite:, hdf5:, hdf5dir:), ?mode=0600: the
 *           files the archive creates get exactly these bits, the folders
 *           it creates the same plus x where r is given; without it both
 *           follow the umask.  Files that replace others (compaction,
 *           hdf5: writes) keep the bits of the file they replace
 *           (docs/security.md).
 * Any archive URL also takes ?ttl=DURATION (expiry), ?max_entries=N and
 * ?max_bytes=SIZE (size limits, see "Size limits" below), ?stats=true
 * (memos using the archive keep their statistics across runs in it:
 * kl_archive_run_stats, below) and ?cached=true: the handle is then the cached
 * front (klepto/cached.h) over the archive the rest of the URL names.  The
 * front is a wrapper the core puts around the archive, not a scheme:
 * "cached:..." is an unknown scheme like any other.  More schemes can be
 * added from outside the library (kl_archive_register,
 * klepto/sys/archive_backend.h).
 *
 * Thread-safety: one kl_archive handle may be used from many threads at
 * once (the core serialises calls for backends that are not thread-safe
 * themselves).  Iterators belong to one thread.  Archives of the file and
 * server kinds may be shared by many processes.
 *
 * Errors: KL_EINVAL (bad URL or option, named in the message), KL_ENOTFOUND
 * (missing key; or missing archive when not creating), KL_ECORRUPT (a
 * damaged entry or file, named), KL_EVERSION (written by a newer format),
 * KL_EPERM, KL_ENOSPC, KL_EIO, KL_EBACKEND (server message included),
 * KL_ETOOBIG, KL_ENOMEM.
 */
#ifndef KLEPTO_ARCHIVE_H
#define KLEPTO_ARCHIVE_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open archive (opaque): kl_archive_open() to kl_archive_close(). */
typedef struct kl_archive kl_archive;
/** An iteration over an archive's entries (opaque): kl_archive_iter_new()
 * to kl_archive_iter_free(). */
typedef struct kl_archive_iter kl_archive_iter;

/** Options of kl_archive_open(): start from KL_ARCHIVE_OPTS_INIT.
 * Version 1 had create and read_only only; a version-1 struct still
 * works (no limits). */
typedef struct kl_archive_opts {
    unsigned version; /**< KL_ARCHIVE_OPTS_VERSION */
    bool create;      /**< create the storage if missing (default true) */
    bool read_only;   /**< refuse writes with KL_EPERM */
    /** Version 2: size limits kept by every put, as ?max_entries= and
     * ?max_bytes= (the URL's value wins when both are given; 0: no limit).
     * See "Size limits" above kl_archive_storage_bytes. */
    uint64_t max_entries;
    uint64_t max_bytes; /**< storage bytes (kl_archive_storage_bytes) */
} kl_archive_opts;
/** The version of kl_archive_opts this header declares (2 added the
 * limits). */
#define KL_ARCHIVE_OPTS_VERSION 2
/** The default options: create, read-write, no limits. */
#define KL_ARCHIVE_OPTS_INIT {KL_ARCHIVE_OPTS_VERSION, true, false, 0, 0}

/** Metadata of one stored entry. */
typedef struct kl_entry_info {
    int64_t stored_ns; /**< wall-clock time it was written (ns since epoch), or 0 */
    uint64_t size;     /**< bytes of key + value as stored */
} kl_entry_info;

/** Open an archive by URL.
 * @param out   the new handle, to close with kl_archive_close() (set on
 *              success only)
 * @param url   an archive URL (see above)
 * @param opts  options, or NULL for the defaults
 * @return 0, or an error (see above; an unknown scheme is KL_EINVAL
 *         naming it). */
KL_API int kl_archive_open(kl_archive **out, const char *url, const kl_archive_opts *opts);
/** Flush and release.  Returns the first error of the final flush (the
 * handle is released regardless).  Safe on NULL. */
KL_API int kl_archive_close(kl_archive *ar);

/** The URL the archive was opened with, any password in it masked (see
 * kl_archive_redact_url; borrowed, lives as long as ar). */
KL_API const char *kl_archive_url(const kl_archive *ar);
/** A copy of an archive URL fit for messages and logs: the password of a
 * `scheme://user:PASSWORD@host` part and the value of a `password=`
 * option become "***".  Free with free(); NULL when out of memory (or url
 * is NULL).  Messages of the library name URLs this way. */
KL_API char *kl_archive_redact_url(const char *url);
/** The scheme name ("dir", "mem", ...). */
KL_API const char *kl_archive_scheme(const kl_archive *ar);

/** Read one entry: the value bytes replace val's contents.
 * @param ar    the archive
 * @param key   the key's bytes (an encoded value, codec.h)
 * @param klen  their length
 * @param val   receives the value's bytes
 * @return 0; KL_ENOTFOUND when absent; KL_ECORRUPT for a damaged entry
 *         (nothing is modified); or an error of the storage. */
KL_API int kl_archive_get(kl_archive *ar, const void *key, size_t klen, kl_buf *val);
/** Write one entry (insert or replace).  Atomic: readers see the old or the
 * new value, never a mix.
 * @param ar    the archive
 * @param key   the key's bytes (an encoded value, codec.h)
 * @param klen  their length
 * @param val   the value's bytes (an encoded value)
 * @param vlen  their length
 * @return 0, or an error: KL_EPERM (read-only), KL_ETOOBIG, KL_ENOSPC,
 *         KL_EIO, KL_EBACKEND, ... (see above). */
KL_API int kl_archive_put(kl_archive *ar, const void *key, size_t klen, const void *val, size_t vlen);
/** Delete one entry; KL_ENOTFOUND when absent. */
KL_API int kl_archive_del(kl_archive *ar, const void *key, size_t klen);
/** 1 if present, 0 if not, or a negative error. */
KL_API int kl_archive_contains(kl_archive *ar, const void *key, size_t klen);
/** Number of entries. */
KL_API int kl_archive_count(kl_archive *ar, size_t *out);
/** Entry metadata; KL_ENOTFOUND when absent. */
KL_API int kl_archive_stat(kl_archive *ar, const void *key, size_t klen, kl_entry_info *out);
/** Remove every entry (the storage itself stays). */
KL_API int kl_archive_clear(kl_archive *ar);
/** Make everything written so far durable. */
KL_API int kl_archive_sync(kl_archive *ar);
/** Destroy the storage (folder, file, table) and close the handle.
 * KL_EUNSUPPORTED for archives that cannot. The handle is released in all
 * cases. */
KL_API int kl_archive_drop(kl_archive *ar);

/** Batches: n entries in one go (one transaction where the backend has
 * them).  put_many stops at the first failure and returns it.
 * @see kl_archive_get_many, kl_archive_del_many */
KL_API int kl_archive_put_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        const void *const *vals, const size_t *vlens);
/** del_many removes the n keys (absent ones are skipped, not an error; a
 * key given twice counts once) in one transaction or file rewrite where the
 * backend has them; *deleted (may be NULL) gets how many entries went.
 * Stops at the first failure and returns it. */
KL_API int kl_archive_del_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        size_t *deleted);
/** Batches: n entries in one go (one transaction where the backend has
 * them).  get_many fills vals[i] and sets found[i]; a missing key is not
 * an error. */
KL_API int kl_archive_get_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        kl_buf *vals, bool *found);

/** Backend facts for `klepto stats`: "name=value" lines appended to out. */
KL_API int kl_archive_describe(kl_archive *ar, kl_buf *out);

/** Iterate over entries in no particular order.  Entries added or removed
 * during iteration may or may not be seen. */
KL_API int kl_archive_iter_new(kl_archive *ar, kl_archive_iter **out);
/** Next entry: key into key (replaced), value into val when val != NULL.
 * Returns 1 for an entry, 0 at the end, or a negative error (KL_ECORRUPT
 * for a damaged entry: iteration may continue after it). */
KL_API int kl_archive_iter_next(kl_archive_iter *it, kl_buf *key, kl_buf *val);
/** Release an iterator (safe on NULL). */
KL_API void kl_archive_iter_free(kl_archive_iter *it);

/* ---- zero-copy views of typed numeric arrays ------------------------- */

/** A read-only view of a stored typed numeric array (an nd-array value).
 * dir: maps large arrays (they are stored uncompressed and 64-byte
 * aligned) so no byte is copied; other archives and small or compressed
 * entries give a view over a private copy.  A view stays valid until
 * kl_view_release(), even if the entry is replaced or deleted or the
 * archive is closed meanwhile.  Thread-safety: a view is immutable. */
typedef struct kl_view kl_view;

/** Returns 0 and a view to release, KL_ENOTFOUND, KL_ETYPE when the value
 * is not a typed numeric array, KL_ECORRUPT for a damaged entry.  A mapped
 * view checks the entry's framing but not the array bytes' checksum (that
 * would read them all); kl_archive_get and kl_archive_verify do. */
KL_API int kl_archive_get_view(kl_archive *ar, const void *key, size_t klen, kl_view **out);
KL_API const void *kl_view_data(const kl_view *v); /**< row-major little-endian elements */
KL_API size_t kl_view_bytes(const kl_view *v);     /**< size of the elements in bytes */
KL_API kl_dtype kl_view_dtype(const kl_view *v);   /**< element type */
KL_API unsigned kl_view_ndim(const kl_view *v);    /**< number of dimensions */
KL_API const size_t *kl_view_shape(const kl_view *v); /**< kl_view_ndim() sizes */
KL_API bool kl_view_is_mapped(const kl_view *v);     /**< true: no copy was made */
KL_API void kl_view_release(kl_view *v);             /**< safe on NULL */

/* ---- maintenance ------------------------------------------------------ */

/** Check every entry: framing, checksums, and that the stored key and value
 * decode.  Appends one line per problem to report (when not NULL) and sets
 * *problems (when not NULL) to their number.  With repair, damaged entries
 * are removed (and leftovers of crashed writers cleaned up); their lines
 * say "dropped".  Returns 0 even when problems were found (an error only
 * when the check itself could not run: KL_EIO, KL_EPERM, ...). */
KL_API int kl_archive_verify(kl_archive *ar, bool repair, kl_buf *report, size_t *problems);

/** Reclaim the space of replaced and deleted entries (file: rewrites the
 * file and renames it into place).  A no-op (0) for archives with nothing
 * to reclaim. */
KL_API int kl_archive_compact(kl_archive *ar);

/* ---- size limits ------------------------------------------------------
 * An archive opened with ?max_entries=N or ?max_bytes=SIZE (or the fields
 * of kl_archive_opts) is kept within them by its puts (single and batch):
 * when a put takes it over a limit, the oldest entries (by stored time,
 * kl_archive_prune's order) are removed down to the low-water mark, 90%
 * of the limit.  The handle keeps an estimate of the entries and bytes
 * (measured at the first put, then grown by each put), so a put costs
 * O(1) on average: one prune per ~10% of the limit written.  Bytes are
 * storage where it can be measured (kl_archive_storage_bytes); a prune
 * by bytes drops (storage / entries) per entry, then measures again.
 * Many processes writing at once: one cleaner at a time (a lock beside
 * local archives, an advisory lock or lease on servers, where the backend
 * has one); a process that does not get it goes on writing.  Entries
 * stored after a cleaner's scan began are never removed by it, and the
 * newest entry always stays (a limit smaller than that entry's storage
 * is only kept down to it).  A put whose key + value alone are larger
 * than max_bytes is refused with KL_ETOOBIG, and nothing is removed.  An
 * error of the pruning (the archive's, or taking its lock) is returned by
 * the put that ran it; that put's entries are stored all the same.
 * Closing a handle that put since it last measured measures once more
 * (waiting up to ~10 s for the cleaner lock), so the last writer to close
 * leaves the archive within its limits. */

/** The largest accepted limit (2^62): larger ones are mistakes. */
#define KL_LIMIT_MAX (UINT64_C(1) << 62)

/** A size "500000", "64K", "10M", "2G", "1T" (also KB/KiB, MB/MiB, ...,
 * B; K = 1024; case ignored): 0 and *out, or KL_EINVAL naming `what`
 * and the text for anything else, a negative number or more than
 * KL_LIMIT_MAX.  (`klepto prune --max-bytes` and ?max_bytes= read sizes
 * so.)  Thread-safe. */
KL_API int kl_parse_size(const char *text, const char *what, uint64_t *out);

/** A duration "90", "30s", "15m", "2h", "7d", "2w" (no unit: seconds;
 * case ignored) in seconds: 0 and *seconds (when not NULL), or KL_EINVAL
 * naming `what` and the text for anything else, a negative number or more
 * than KL_LIMIT_MAX seconds.  (`klepto prune --older-than` reads
 * durations so; ?ttl= too, from 1s to 100 years.)  Thread-safe. */
KL_API int kl_parse_duration(const char *text, const char *what, uint64_t *seconds);

/** The bytes the archive takes in storage: the blocks of its files
 * (file:, dir:, hdf5dir:, hdf5:), its pages minus free ones (sqlite:),
 * MEMORY USAGE of its keys (redis:); elsewhere the sum of its entries'
 * key + value sizes.  *measured (may be NULL) says which: true for
 * storage.  Walks the archive for most kinds: not for a hot path.
 * Returns 0 or an error of the archive. */
KL_API int kl_archive_storage_bytes(kl_archive *ar, uint64_t *out, bool *measured);

/** No limit, for a field of kl_prune_opts. */
#define KL_PRUNE_NO_LIMIT UINT64_MAX

/** The phases kl_archive_prune reports to its progress callback. */
typedef enum kl_prune_phase {
    KL_PRUNE_SCANNING = 0, /**< reading every entry's stored time and size */
    KL_PRUNE_REMOVING = 1  /**< removing the entries over the limits */
} kl_prune_phase;

/** Limits and callbacks of kl_archive_prune(): start from
 * KL_PRUNE_OPTS_INIT (no limit) and set at least one limit. */
typedef struct kl_prune_opts {
    unsigned version;     /**< KL_PRUNE_OPTS_VERSION */
    uint64_t max_entries; /**< keep at most this many entries */
    uint64_t max_bytes;   /**< keep at most this many bytes of keys + values
                               (kl_entry_info's size) */
    uint64_t older_than;  /**< remove entries stored more than this many
                               seconds ago (0: every timed entry) */
    /** Called as the work goes (may be NULL): `done` of `total` entries in
     * `phase` (total 0 when not known); a phase with nothing to do is not
     * reported. */
    void (*progress)(void *ctx, kl_prune_phase phase, uint64_t done, uint64_t total);
    /** Called for each damaged entry the scan skips (may be NULL), with
     * the message saying which and why. */
    void (*skipped)(void *ctx, const char *msg);
    void *ctx; /**< passed to the callbacks */
} kl_prune_opts;
/** The version of kl_prune_opts this header declares. */
#define KL_PRUNE_OPTS_VERSION 1
/** No limits, no callbacks. */
#define KL_PRUNE_OPTS_INIT                                                                 \
    {KL_PRUNE_OPTS_VERSION, KL_PRUNE_NO_LIMIT, KL_PRUNE_NO_LIMIT, KL_PRUNE_NO_LIMIT, NULL, NULL, \
     NULL}

/** What kl_archive_prune did. */
typedef struct kl_prune_result {
    uint64_t pruned;  /**< entries removed */
    uint64_t left;    /**< entries in the archive afterwards */
    uint64_t untimed; /**< entries whose backend keeps no stored time: they
                           count as the oldest */
    uint64_t damaged; /**< damaged entries skipped (left in place) */
} kl_prune_result;

/** Remove the oldest entries until the archive is within every limit
 * given (`klepto prune`).  Entries are ordered by stored time
 * (kl_archive_stat), oldest first, ties by key; no backend records reads,
 * so "least recently used" means least recently written.  Untimed
 * entries count as the oldest.  On a handle opened with ?ttl= the entries
 * it has expired are removed too.  Removal goes in batches
 * (kl_archive_del_many).  Damaged entries are skipped and counted, not
 * removed (kl_archive_verify repairs them).
 * @param ar    the archive (read-write)
 * @param opts  the limits (at least one) and callbacks
 * @param out   receives the counts (may be NULL; set on success)
 * @return 0; KL_EINVAL when no limit is given or opts is NULL or of an
 *         unknown version; KL_EPERM when read-only; KL_ENOMEM; an error
 *         of the archive (KL_EIO also for a scan that does not get past a
 *         damaged entry). */
KL_API int kl_archive_prune(kl_archive *ar, const kl_prune_opts *opts, kl_prune_result *out);

/* ---- statistics across runs ------------------------------------------- */

/** The run statistics of an archive (kl_archive_run_stats): what the memos
 * that used it counted, summed over every record they left.  Each memo
 * instance whose archive was opened with ?stats=true writes one record of
 * its own when it is dumped (kl_memo_dump) or freed (kl_memo_free), so
 * processes writing at once lose nothing (docs/formats.md, "Run
 * statistics").  Off by default: other readers of the storage (Python
 * klepto reading an SQLite table) would see the records as entries.  The records live
 * under reserved keys that no encoded key can be: they are never seen by
 * get, contains, stat, count, iteration, views or batches. */
typedef struct kl_run_stats {
    /** @{ */
    /** as in kl_memo_info (hit, miss, load, evictions, errors) */
    uint64_t hits, misses, loads, evictions, errors;
    /** @} */
    /** Time saved: the calls answered without running the function (hits
     * and loads) times the mean measured run time of a miss — each
     * record's own, or for a record that timed no miss (a run that loaded
     * everything from the archive) the mean over all records. */
    uint64_t saved_ns;
    uint64_t miss_ns;    /**< the measured run time of the timed misses */
    uint64_t miss_timed; /**< how many misses were timed */
    uint64_t records;    /**< the records summed (one per memo run) */
    uint64_t damaged;    /**< records that do not decode (left out of the sums) */
} kl_run_stats;

/** Sum the archive's run statistics into *out (zeroed first).  A damaged
 * record is counted in out->damaged and skipped, not an error
 * (kl_archive_verify reports it, repair removes it).  Cost: one pass
 * over the keys of the archive.  On a cached front (cached.h) the records
 * of its storage.
 * @return 0, or an error of the archive (reading); KL_EINVAL for NULL. */
KL_API int kl_archive_run_stats(kl_archive *ar, kl_run_stats *out);
/** Remove every run statistics record (`klepto stats --zero`); *removed
 * (may be NULL) gets how many.  A memo still running rewrites its own
 * record at its next dump or free.
 * @return 0, KL_EPERM (read-only), or an error of the archive. */
KL_API int kl_archive_run_stats_zero(kl_archive *ar, size_t *removed);

#ifdef __cplusplus
}
#endif
#endif
