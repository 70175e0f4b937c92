/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Writing an archive backend.
 *
 * A backend is a versioned struct of function pointers registered under a
 * URL scheme: fill a static const kl_archive_backend, call
 * kl_archive_register(&it) once, and kl_archive_open("SCHEME:...") (and
 * every memo or tool given such a URL) reaches it.  Only the installed
 * headers are needed (tests/unit/test_plugins.c is a complete example).
 *
 * Slots.  Required: open, close, get, put, del, count, iter_new,
 * iter_next, iter_free.  Optional slots may be NULL and the core falls
 * back: contains → get; stat → get (size only); clear → iterate + del;
 * sync → nothing to do; drop → KL_EUNSUPPORTED; put_many/get_many → loops;
 * describe → nothing extra; get_view → get + a view over a copy; verify →
 * iterate and read every entry back; compact → nothing to do; del_many
 * (version 2) → del per key; storage_bytes (version 3) → key + value
 * sizes; cleaner_lock (version 3) → a lock within the process only;
 * oldest (version 3) → iteration and stat of every entry.  After verify
 * (the slot or the fallback) the core decodes every stored key and value
 * itself (repair deletes those that fail), unless
 * KL_BACKEND_DELEGATES_VERIFY.  The core also handles
 * what is common to all archives: read-only handles (writes refused before
 * a slot is called), the ?cached=true option (the cached front of
 * klepto/cached.h is put around the opened archive; a backend never sees
 * that option), the size limits ?max_entries= and ?max_bytes= and expiry
 * ?ttl= (archive.h), and refusing options no slot asked for.
 *
 * Errors.  Every slot returns 0 or a negative KL_E* code (error.h) after
 * setting the thread's message with kl_seterr / kl_seterr_prefix /
 * kl_seterrno (sys/errors.h) naming the URL, file or key at fault;
 * kl_url_shown gives the URL to name, its password masked.  get, del and
 * stat of a missing key return KL_ENOTFOUND; a damaged entry KL_ECORRUPT
 * (iteration may go on after it).  The core passes codes and messages to
 * the caller unchanged.
 *
 * Options.  open() reads the query string with kl_url_param_get or the
 * readers below (kl_url_uint, kl_url_double, kl_url_bool,
 * kl_url_sync_mode, kl_url_file_mode), which also write the messages for bad values; the
 * core then refuses any option no one asked for (KL_EINVAL naming it).
 *
 * Versions.  `version` is KL_BACKEND_VERSION of the header the backend was
 * built with; new slots are only ever appended, so the core reads only
 * the slots that version has and a backend built against an older header
 * keeps working.  A version newer than the library's is refused at
 * registration (KL_EINVAL).
 *
 * Wrappers.  A backend may open other archives in its open() (with
 * kl_archive_open, from a URL in its options) and forward to them with the
 * kl_archive_* calls: tests/support/fault_archive.c does so to inject
 * failures.  Such a backend sets KL_BACKEND_DELEGATES_VERIFY when its
 * verify is the wrapped archive's kl_archive_verify.
 *
 * Thread-safety: unless `flags` has KL_BACKEND_THREADSAFE, the core holds a
 * per-handle mutex around every call, so a backend may keep unsynchronised
 * state per handle (state shared between handles, as a store named in the
 * URL, is the backend's to protect).  Iterators are used by one thread.
 * kl_archive_register may be called from any thread, at any time.
 */
#ifndef KLEPTO_SYS_ARCHIVE_BACKEND_H
#define KLEPTO_SYS_ARCHIVE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../archive.h"
#include "../codec.h"
#include "../export.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KL_BACKEND_VERSION 3 /**< 2 added del_many; 3 storage_bytes, cleaner_lock, oldest */
/* Flags (kl_archive_backend.flags). */
/** Every slot may be called from many threads at once: the core takes no
 * lock around the calls. */
#define KL_BACKEND_THREADSAFE 0x01u
/** The verify slot also checks that every stored key and value decodes,
 * so the core skips its own decoding walk after it: for a backend that
 * wraps another archive and verifies by calling kl_archive_verify on it
 * (otherwise the wrapped archive's problems would be counted twice). */
#define KL_BACKEND_DELEGATES_VERIFY 0x02u

/** One query-string option: ?name=value&... (both NUL-terminated, decoded). */
typedef struct kl_url_param {
    const char *name;  /**< the option's name */
    const char *value; /**< its value ("" when given without one) */
} kl_url_param;

/** What open() receives: the URL cut in parts. */
typedef struct kl_url {
    const char *full;   /**< the whole URL as given */
    const char *scheme; /**< "dir" */
    const char *rest;   /**< after "scheme:" and before "?": "PATH" or "//host/db" */
    kl_url_param *params; /**< the query options, as given */
    size_t nparams;       /**< how many */
} kl_url;

/** The value of query option `name`, or NULL.  Marks it as used: open()
 * must ask for every option it understands (the readers below do), and
 * the core refuses the URL when an option was given that nobody asked
 * for.  Not thread-safe for one URL: open() runs on one thread. */
KL_API const char *kl_url_param_get(const kl_url *url, const char *name);

/* ---- option readers for open() ----
 * Each reads one query option, marks it used, and returns 0 (leaving *out
 * unchanged when the option is absent) or KL_EINVAL with a message naming
 * the option, the value and the URL (password masked). */

/** An unsigned integer within [lo, hi] (decimal). */
KL_API int kl_url_uint(const kl_url *url, const char *name, uint64_t lo, uint64_t hi,
                       uint64_t *out);
/** A floating-point number within [lo, hi]. */
KL_API int kl_url_double(const kl_url *url, const char *name, double lo, double hi, double *out);
/** A boolean: true/false, 1/0, yes/no (an empty value is true). */
KL_API int kl_url_bool(const kl_url *url, const char *name, bool *out);

/** Durability levels of ?sync= (see archive.h). */
enum { KL_SYNC_NONE = 0, KL_SYNC_NORMAL = 1, KL_SYNC_FULL = 2 };
/** ?sync=none|normal|full into *mode (KL_SYNC_NORMAL when absent). */
KL_API int kl_url_sync_mode(const kl_url *url, int *mode);

/** ?mode=OCTAL (0600, 640, ...): the permission bits the files an archive
 * creates get, exactly (the umask does not apply to them); folders it
 * creates get the same bits plus search (x) wherever read (r) is given
 * (kl_url_folder_mode).  *mode is 0 when the option is absent: created
 * files and folders then follow the umask.  KL_EINVAL for anything but
 * octal digits up to 0777, or bits that leave the owner unable to read
 * and write (less than 0600). */
KL_API int kl_url_file_mode(const kl_url *url, unsigned *mode);
/** The folder bits that go with file mode bits (0 for 0). */
KL_API unsigned kl_url_folder_mode(unsigned file_mode);

/** The URL as given, any password masked, for messages.  Never NULL; valid
 * while url is. */
KL_API const char *kl_url_shown(const kl_url *url);

/** An archive backend: the slots the core calls for the archives of one
 * URL scheme (see above).  Each slot receives the state open() made. */
typedef struct kl_archive_backend {
    unsigned version; /**< KL_BACKEND_VERSION */
    const char *scheme; /**< the URL scheme, lower case ("dir") */
    unsigned flags;   /**< KL_BACKEND_* */

    /** Open: must consume (kl_url_param_get) every option it understands;
     * the core rejects options nobody asked for. */
    int (*open)(void **state, const kl_url *url, const kl_archive_opts *opts);
    /** Required: flush and release the state (kl_archive_close). */
    int (*close)(void *state);

    /** Required: kl_archive_get (KL_ENOTFOUND when absent). */
    int (*get)(void *state, const void *key, size_t klen, kl_buf *val);
    /** Required: kl_archive_put (insert or replace, atomically). */
    int (*put)(void *state, const void *key, size_t klen, const void *val, size_t vlen);
    /** Required: kl_archive_del (KL_ENOTFOUND when absent). */
    int (*del)(void *state, const void *key, size_t klen);
    int (*contains)(void *state, const void *key, size_t klen);  /**< optional */
    /** Required: kl_archive_count. */
    int (*count)(void *state, size_t *out);
    int (*stat)(void *state, const void *key, size_t klen, kl_entry_info *out); /**< optional */
    int (*clear)(void *state);                                   /**< optional */
    int (*sync)(void *state);                                    /**< optional */
    int (*drop)(void *state); /**< optional: destroy storage; close follows */
    int (*put_many)(void *state, size_t n, const void *const *keys, const size_t *klens,
                    const void *const *vals, const size_t *vlens); /**< optional */
    int (*get_many)(void *state, size_t n, const void *const *keys, const size_t *klens,
                    kl_buf *vals, bool *found);                    /**< optional */
    int (*describe)(void *state, kl_buf *out);                     /**< optional */

    /** Required: start an iteration (kl_archive_iter_new). */
    int (*iter_new)(void *state, void **cursor);
    /** Required: the next entry: 1, 0 at the end, or an error
     * (kl_archive_iter_next). */
    int (*iter_next)(void *cursor, kl_buf *key, kl_buf *val); /**< val may be NULL */
    /** Required: release a cursor. */
    void (*iter_free)(void *cursor);

    /** optional: a view of a stored typed array (see struct kl_view) */
    int (*get_view)(void *state, const void *key, size_t klen, kl_view **out);
    /** optional: check framing/checksums of every entry, one report line per
     * problem, drop damaged entries when repair (the core then also
     * decodes every value the backend did not flag) */
    int (*verify)(void *state, bool repair, kl_buf *report, size_t *problems);
    /** optional: reclaim space */
    int (*compact)(void *state);

    /** Version 2.  Optional: delete n keys in one go (one transaction or
     * file rewrite where the backend has them); keys that are absent are
     * skipped, a key given twice counts once.  *deleted (never NULL) gets
     * the number of entries removed. */
    int (*del_many)(void *state, size_t n, const void *const *keys, const size_t *klens,
                    size_t *deleted);

    /** Version 3.  Optional: the bytes the archive takes in storage
     * (kl_archive_storage_bytes; without it: the sum of key + value
     * sizes).  It must go down when entries are removed (after
     * compact at the latest), or size limits cannot be kept. */
    int (*storage_bytes)(void *state, uint64_t *out);
    /** Version 3.  Optional: the archive's cleaner lock, held while size
     * limits are enforced so that two processes do not prune at once.
     * take: 1 when this handle now holds it, 0 when another holder has
     * it (do not wait); !take: release (returns 0).  Without it only the
     * handles of one process are kept apart. */
    int (*cleaner_lock)(void *state, bool take);
    /** Version 3.  Optional: when the archive holds more than `over`
     * entries, every entry but the `keep` newest by stored time (among
     * equal times any), each one's key passed to fn (in any order; a
     * nonzero return of fn stops the call and is returned); otherwise
     * nothing.  *count (never NULL) gets the number of entries it found.
     * Damaged entries are skipped.  Lets size limits find what to remove
     * in one pass (an SQL ORDER BY ... OFFSET); without it the core
     * iterates and stats every entry. */
    int (*oldest)(void *state, uint64_t over, uint64_t keep,
                  int (*fn)(void *ctx, const void *key, size_t klen), void *ctx,
                  uint64_t *count);
} kl_archive_backend;

/** What get_view hands out: filled by the backend, read by the accessors of
 * archive.h, destroyed by calling release(view) (which frees the struct). */
struct kl_view {
    const void *data; /**< row-major little-endian elements */
    size_t nbytes;    /**< their size in bytes */
    uint8_t dtype; /**< kl_dtype */
    uint8_t ndim;     /**< number of dimensions */
    bool mapped;      /**< true: no copy was made */
    size_t shape[KL_NDARRAY_MAXDIM]; /**< ndim sizes */
    void (*release)(kl_view *v);     /**< frees what the view holds, and the struct */
    void *priv;    /**< backend's: mapping base, ... */
    size_t priv_len; /**< backend's: mapping length, ... */
};

/** Register a backend under its scheme (lower case, as kl_archive_open
 * lower-cases the scheme of URLs).  Returns 0, or KL_EINVAL (message set)
 * when backend or its scheme is NULL or empty, a required slot is NULL,
 * its version is 0 or newer than KL_BACKEND_VERSION, or the scheme is
 * taken (by a built-in backend or an earlier registration: nothing is
 * ever replaced or unregistered); KL_ENOMEM.  Built-in backends are
 * registered automatically.  Ownership: the library keeps the pointer, not
 * a copy: the struct (and its scheme string) must outlive the process's
 * use of the library.  Thread-safe. */
KL_API int kl_archive_register(const kl_archive_backend *backend);

#ifdef __cplusplus
}
#endif
#endif
