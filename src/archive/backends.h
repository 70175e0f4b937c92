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
extern const kl_archive_backend kl_backend_mem;
extern const kl_archive_backend kl_backend_null;
extern const kl_archive_backend kl_backend_dir;
extern const kl_archive_backend kl_backend_file;
extern const kl_archive_backend kl_backend_cached;
extern const kl_archive_backend kl_backend_sqlite;     /* sqlite.c */
extern const kl_archive_backend kl_backend_postgresql; /* postgres.c */
extern const kl_archive_backend kl_backend_postgres;   /* postgres.c: same, postgres:// */
extern const kl_archive_backend kl_backend_redis;      /* redis.c */
extern const kl_archive_backend kl_backend_hdf5;       /* hdf5.c */
extern const kl_archive_backend kl_backend_hdf5dir;    /* hdf5dir.c */
/* NULL-terminated list (src/archive/builtin.c): add a line per backend. */
extern const kl_archive_backend *const kl_builtin_backends[];

/* Parse "scheme:rest?a=1&b=2" (query values percent-decoded).  *out is
 * freed with kl_url_free.  KL_EINVAL names the URL. */
int kl_url_parse(const char *text, kl_url **out);
void kl_url_free(kl_url *u);
/* The URL for messages: the text given, any password masked. */
const char *kl_url_shown(const kl_url *u);
/* KL_EINVAL naming the first option no kl_url_param_get asked for. */
int kl_url_check_used(const kl_url *u);

/* Decodes the %XX escapes of the n bytes at src into dst (room for n + 1
 * bytes; dst may be src: decoding never writes ahead of reading) and
 * ends it with a NUL.  Returns the decoded length (a %00 decodes to a NUL
 * inside it), or -1 for a broken escape (no message set: the caller
 * names what it was decoding). */
ptrdiff_t kl_pct_decode(char *dst, const char *src, size_t n);

/* After a lost connection: calls reconnect(state); when that fails too,
 * the message keeps the first failure's words ("FIRST; reconnecting:
 * SECOND", KL_EBACKEND).  Returns 0 or that error. */
int kl_archive_reconnect(int (*reconnect)(void *state), void *state);

/* Durability levels of ?sync= (see archive.h). */
enum { KL_SYNC_NONE = 0, KL_SYNC_NORMAL = 1, KL_SYNC_FULL = 2 };
/* Reads ?sync= (default KL_SYNC_NORMAL); KL_EINVAL for other values. */
int kl_url_sync_mode(const kl_url *u, int *mode);
/* Reads an unsigned integer option within [lo, hi]; *out unchanged when
 * absent. */
int kl_url_uint(const kl_url *u, const char *name, uint64_t lo, uint64_t hi, uint64_t *out);
/* Reads a floating option within [lo, hi]. */
int kl_url_double(const kl_url *u, const char *name, double lo, double hi, double *out);
/* Reads a boolean option (true/false/1/0/yes/no). */
int kl_url_bool(const kl_url *u, const char *name, bool *out);

/* A handle over an already made backend state (the cached front). */
int kl_archive_wrap(kl_archive **out, const kl_archive_backend *be, void *state, const char *url);
/* Run fn(state, arg) under ar's lock when ar's backend is be; KL_EINVAL
 * (naming `what`) otherwise. */
int kl_archive_locked_call(kl_archive *ar, const kl_archive_backend *be, const char *what,
                           int (*fn)(void *state, void *arg), void *arg);
/* true when ar's backend is be. */
bool kl_archive_has_backend(const kl_archive *ar, const kl_archive_backend *be);

/* An absolute form of a path (relative ones against the current folder,
 * so a later chdir does not move the archive); heap, NULL on ENOMEM. */
char *kl_abs_path(const char *path);

/* Wall-clock now in ns since the epoch. */
int64_t kl_now_ns(void);

/* Typed numeric array found at the top of an encoded value (RFC 8746
 * typed array, optionally inside tag 40 [shape, array]). */
typedef struct kl_tarray {
    size_t head;     /* bytes before the element payload */
    size_t nbytes;   /* payload bytes (they run to the end of the value) */
    uint8_t dtype;   /* kl_dtype */
    uint8_t ndim;
    size_t shape[KL_NDARRAY_MAXDIM];
} kl_tarray;
/* true when the value bytes are exactly one little-endian typed array. */
bool kl_tarray_parse(const uint8_t *p, size_t len, kl_tarray *out);

/* A view that owns a heap copy of an array payload (the fallback when a
 * backend cannot map).  Takes ownership of the malloc'ed block `mem`. */
int kl_view_from_copy(kl_view **out, void *mem, size_t memlen, const kl_tarray *ta);

#endif
