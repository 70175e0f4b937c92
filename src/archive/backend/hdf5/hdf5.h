/* SPDX-License-Identifier: BSD-3-Clause */
/* What backend.c (the hdf5: archive) lends repair.c (its verify,
 * repair and salvage): the archive's handle stays private to backend.c and
 * is reached through these functions, each a thin wrapper of backend.c's own
 * static code.  Callers hold the HDF5 lock (kl__h5_enter). */
#ifndef KLEPTO_ARCHIVE_HDF5_INTERNAL_H
#define KLEPTO_ARCHIVE_HDF5_INTERNAL_H

#include "archive/backend/hdf5/journal.h"
#include "archive/util/h5common.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

typedef struct h5_state h5_state;

/* The parts of an hdf5: handle that verify reads (borrowed). */
typedef struct kl__h5a_info {
    const char *url, *path, *dir, *base;
    kl__h5j *jr;   /* the journal */
    kl_buf *key;   /* scratch buffer for an entry's key */
    hid_t fapl_ro; /* read-only file access properties */
    hid_t fapl_rw; /* properties of a file this process writes */
} kl__h5a_info;
void kl__h5a_info_of(h5_state *s, kl__h5a_info *out);

/* The read handle of the file PATH names now (owned by s). */
int kl__h5a_snapshot(h5_state *s, hid_t *out);
/* The names of the links of f's root group, 33 bytes each. */
int kl__h5a_list_names(h5_state *s, hid_t f, kl_buf *names);
/* Open PATH and hold an exclusive lock on the file it names. */
int kl__h5a_lock_current(h5_state *s, int *out, struct stat *st);
/* Under that lock: replace PATH by a fresh file with copies of its
 * entries less those named in skip (33-byte names). */
int kl__h5a_rebuild_locked(h5_state *s, const struct stat *st, const kl_buf *skip);

/* A new temporary file beside PATH; a fresh archive written there; that
 * file closed, flushed and renamed over PATH (removed when rc or the
 * close fails; returns the first error). */
int kl__h5a_tmp_create(h5_state *s, char *tmp, size_t cap, mode_t mode, int *fd);
int kl__h5a_make_fresh(h5_state *s, const char *tmp, hid_t *f);
int kl__h5a_commit(h5_state *s, hid_t f, int fd, const char *tmp, int rc);

/* Whether the file at path, which HDF5 cannot open as an archive, still
 * carries the marker of one (in its first 64 KiB): then it opens, damaged,
 * for verify to salvage (repair.c). */
bool kl__h5_damaged_ours(const char *path);

/* The backend's verify (repair.c). */
int kl__h5_verify(void *state, bool repair, kl_buf *report, size_t *problems);

#endif
