/* Private glue of the archive layer: the built-in backends, the URL
 * internals the core shares with them, and small helpers several backends
 * use (not installed). */
#ifndef KLEPTO_ARCHIVE_BACKENDS_H
#define KLEPTO_ARCHIVE_BACKENDS_H

#include "klepto/sys/archive_backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The backends compiled into the library, registered on first use. */
extern const kl_archive_backend kl__backend_mem;
extern const kl_archive_backend kl__backend_null;
extern const kl_archive_backend kl__backend_dir;
extern const kl_archive_backend kl__backend_file;
extern const kl_archive_backend kl__backend_cached;
extern const kl_archive_backend kl__backend_sqlite;     /* backend/sqlite/ */
extern const kl_archive_backend kl__backend_postgresql; /* backend/postgres/ */
extern const kl_archive_backend kl__backend_postgres;   /* backend/postgres/: same, postgres:// */
extern const kl_archive_backend kl__backend_redis;      /* backend/redis/ */
extern const kl_archive_backend kl__backend_hdf5;       /* hdf5.c */
extern const kl_archive_backend kl__backend_hdf5dir;    /* hdf5dir.c */
/* NULL-terminated list (src/archive/builtin.c): add a line per backend. */
extern const kl_archive_backend *const kl__builtin_backends[];

/* Parse "scheme:rest?a=1&b=2" (query values percent-decoded).  *out is
 * freed with kl__url_free.  KL_EINVAL names the URL. */
int kl__url_parse(const char *text, kl_url **out);
void kl__url_free(kl_url *u);
/* KL_EINVAL naming the first option no kl_url_param_get asked for. */
int kl__url_check_used(const kl_url *u);

/* Decodes the %XX escapes of the n bytes at src into dst (room for n + 1
 * bytes; dst may be src: decoding never writes ahead of reading) and
 * ends it with a NUL.  Returns the decoded length (a %00 decodes to a NUL
 * inside it), or -1 for a broken escape (no message set: the caller
 * names what it was decoding). */
ptrdiff_t kl__pct_decode(char *dst, const char *src, size_t n);

/* After a lost connection: calls reconnect(state); when that fails too,
 * the message keeps the first failure's words ("FIRST; reconnecting:
 * SECOND", KL_EBACKEND).  Returns 0 or that error. */
int kl__archive_reconnect(int (*reconnect)(void *state), void *state);


/* A handle over an already made backend state (the cached front). */
int kl__archive_wrap(kl_archive **out, const kl_archive_backend *be, void *state, const char *url);
/* Run fn(state, arg) under ar's lock when ar's backend is be; KL_EINVAL
 * (naming `what`) otherwise. */
int kl__archive_locked_call(kl_archive *ar, const kl_archive_backend *be, const char *what,
                           int (*fn)(void *state, void *arg), void *arg);
/* true when ar's backend is be. */
bool kl__archive_has_backend(const kl_archive *ar, const kl_archive_backend *be);

/* An absolute form of a path (relative ones against the current folder,
 * so a later chdir does not move the archive); heap, NULL on ENOMEM. */
char *kl__abs_path(const char *path);

/* Wall-clock now in ns since the epoch. */
int64_t kl__now_ns(void);

/* Typed numeric array found at the top of an encoded value (RFC 8746
 * typed array, optionally inside tag 40 [shape, array]). */
typedef struct kl__tarray {
    size_t head;     /* bytes before the element payload */
    size_t nbytes;   /* payload bytes (they run to the end of the value) */
    uint8_t dtype;   /* kl_dtype */
    uint8_t ndim;
    size_t shape[KL_NDARRAY_MAXDIM];
} kl__tarray;
/* true when the value bytes are exactly one little-endian typed array. */
bool kl__tarray_parse(const uint8_t *p, size_t len, kl__tarray *out);

/* A view that owns a heap copy of an array payload (the fallback when a
 * backend cannot map).  Takes ownership of the malloc'ed block `mem`. */
int kl__view_from_copy(kl_view **out, void *mem, size_t memlen, const kl__tarray *ta);

#endif
