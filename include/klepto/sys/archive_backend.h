/*
 * klepto/sys/archive_backend.h — writing an archive backend.
 *
 * A backend is a versioned struct of function pointers registered under a
 * URL scheme.  Required slots: open, close, get, put, del, count, iter_new,
 * iter_next, iter_free.  Optional slots may be NULL and the core falls
 * back: contains → get; stat → get (size only); clear → iterate + del;
 * sync → nothing to do; drop → KL_EUNSUPPORTED; put_many/get_many → loops;
 * describe → nothing extra; get_view → get + a view over a copy; verify →
 * iterate and decode every entry (repair deletes those that fail);
 * compact → nothing to do; del_many (version 2) → del per key.  New slots are only ever appended, and
 * `version` tells the core how many a backend knows.
 *
 * Every slot returns 0 or a negative KL_E* code after setting the thread's
 * message with kl_seterr (sys/errors.h) naming the URL/file/key at fault;
 * kl_url_shown gives the URL to name, its password masked.
 *
 * Thread-safety: unless `flags` has KL_BACKEND_THREADSAFE, the core holds a
 * per-handle mutex around every call, so a backend may keep unsynchronised
 * state per handle.
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

#define KL_BACKEND_VERSION 2 /* 2 added del_many */
/* Flags (kl_archive_backend.flags). */
/* Every slot may be called from many threads at once: the core takes no
 * lock around the calls. */
#define KL_BACKEND_THREADSAFE 0x01u
/* The verify slot also checks that every stored key and value decodes,
 * so the core skips its own decoding walk after it: for a backend that
 * wraps another archive and verifies by calling kl_archive_verify on it
 * (otherwise the wrapped archive's problems would be counted twice). */
#define KL_BACKEND_DELEGATES_VERIFY 0x02u

/* One query-string option: ?name=value&... (both NUL-terminated, decoded). */
typedef struct kl_url_param {
    const char *name;
    const char *value;
} kl_url_param;

/* What open() receives: the URL cut in parts. */
typedef struct kl_url {
    const char *full;   /* the whole URL as given */
    const char *scheme; /* "dir" */
    const char *rest;   /* after "scheme:" and before "?": "PATH" or "//host/db" */
    kl_url_param *params;
    size_t nparams;
} kl_url;

/* The value of query option `name`, or NULL.  Marks it as used: open()
 * must ask for every option it understands (the readers below do), and
 * the core refuses the URL when an option was given that nobody asked
 * for.  Not thread-safe for one URL: open() runs on one thread. */
KL_API const char *kl_url_param_get(const kl_url *url, const char *name);

/* ---- option readers for open() ----
 * Each reads one query option, marks it used, and returns 0 (leaving *out
 * unchanged when the option is absent) or KL_EINVAL with a message naming
 * the option, the value and the URL (password masked). */

/* An unsigned integer within [lo, hi] (decimal). */
KL_API int kl_url_uint(const kl_url *url, const char *name, uint64_t lo, uint64_t hi,
                       uint64_t *out);
/* A floating-point number within [lo, hi]. */
KL_API int kl_url_double(const kl_url *url, const char *name, double lo, double hi, double *out);
/* A boolean: true/false, 1/0, yes/no (an empty value is true). */
KL_API int kl_url_bool(const kl_url *url, const char *name, bool *out);

/* Durability levels of ?sync= (see archive.h). */
enum { KL_SYNC_NONE = 0, KL_SYNC_NORMAL = 1, KL_SYNC_FULL = 2 };
/* ?sync=none|normal|full into *mode (KL_SYNC_NORMAL when absent). */
KL_API int kl_url_sync_mode(const kl_url *url, int *mode);

/* The URL as given, any password masked, for messages.  Never NULL; valid
 * while url is. */
KL_API const char *kl_url_shown(const kl_url *url);

typedef struct kl_archive_backend {
    unsigned version; /* KL_BACKEND_VERSION */
    const char *scheme;
    unsigned flags;   /* KL_BACKEND_* */

    /* Open: must consume (kl_url_param_get) every option it understands;
     * the core rejects options nobody asked for. */
    int (*open)(void **state, const kl_url *url, const kl_archive_opts *opts);
    int (*close)(void *state);

    int (*get)(void *state, const void *key, size_t klen, kl_buf *val);
    int (*put)(void *state, const void *key, size_t klen, const void *val, size_t vlen);
    int (*del)(void *state, const void *key, size_t klen);
    int (*contains)(void *state, const void *key, size_t klen);  /* optional */
    int (*count)(void *state, size_t *out);
    int (*stat)(void *state, const void *key, size_t klen, kl_entry_info *out); /* optional */
    int (*clear)(void *state);                                   /* optional */
    int (*sync)(void *state);                                    /* optional */
    int (*drop)(void *state); /* optional: destroy storage; close follows */
    int (*put_many)(void *state, size_t n, const void *const *keys, const size_t *klens,
                    const void *const *vals, const size_t *vlens); /* optional */
    int (*get_many)(void *state, size_t n, const void *const *keys, const size_t *klens,
                    kl_buf *vals, bool *found);                    /* optional */
    int (*describe)(void *state, kl_buf *out);                     /* optional */

    int (*iter_new)(void *state, void **cursor);
    int (*iter_next)(void *cursor, kl_buf *key, kl_buf *val); /* val may be NULL */
    void (*iter_free)(void *cursor);

    /* optional: a view of a stored typed array (see struct kl_view) */
    int (*get_view)(void *state, const void *key, size_t klen, kl_view **out);
    /* optional: check framing/checksums of every entry, one report line per
     * problem, drop damaged entries when repair (the core then also
     * decodes every value the backend did not flag) */
    int (*verify)(void *state, bool repair, kl_buf *report, size_t *problems);
    /* optional: reclaim space */
    int (*compact)(void *state);

    /* Version 2.  Optional: delete n keys in one go (one transaction or
     * file rewrite where the backend has them); keys that are absent are
     * skipped, a key given twice counts once.  *deleted (never NULL) gets
     * the number of entries removed. */
    int (*del_many)(void *state, size_t n, const void *const *keys, const size_t *klens,
                    size_t *deleted);
} kl_archive_backend;

/* What get_view hands out: filled by the backend, read by the accessors of
 * archive.h, destroyed by calling release(view) (which frees the struct). */
struct kl_view {
    const void *data;
    size_t nbytes;
    uint8_t dtype; /* kl_dtype */
    uint8_t ndim;
    bool mapped;
    size_t shape[KL_NDARRAY_MAXDIM];
    void (*release)(kl_view *v);
    void *priv;    /* backend's: mapping base, ... */
    size_t priv_len;
};

/* Register a backend under its scheme (replacing none: KL_EINVAL if the
 * scheme is taken or the version is newer than this library knows).
 * Built-in backends are registered automatically.  The struct must outlive
 * the process's use of the library. Thread-safe. */
KL_API int kl_archive_register(const kl_archive_backend *backend);

#ifdef __cplusplus
}
#endif
#endif
