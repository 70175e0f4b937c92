/* SPDX-License-Identifier: BSD-3-Clause */
/* The hdf5: archive's own header: its handle, and what its files lend one
 * another — backend.c (reading, iteration, open and close), txn.c (write
 * transactions), write.c (the write operations), repair.c (verify, repair
 * and salvage).  Callers hold the HDF5 lock (kl__h5_enter). */
#ifndef KLEPTO_ARCHIVE_HDF5_INTERNAL_H
#define KLEPTO_ARCHIVE_HDF5_INTERNAL_H

#include "archive/backend/hdf5/journal.h"
#include "archive/util/fsio.h"
#include "archive/util/h5common.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FORMAT "klepto hdf5"
#define GARBAGE_ATTR "klepto_garbage_bytes"
#define COMPACT_MIN (1u << 20)
#define FOLD_MIN (8u << 20)        /* fold a journal this big, or a quarter of the file */
#define DIRECT_MIN (64u << 10)     /* values this big go straight into the file */
#define CLOSE_FOLD_MAX (16u << 20) /* a close folds into files up to this size */

typedef struct h5_state {
    char *url, *path, *dir, *base;
    int sync;
    unsigned mode; /* ?mode=: bits of a new file (0: the umask's) */
    bool create, read_only, dropped;
    pid_t pid;
    kl__h5j *jr;       /* the journal of single puts (journal.h) */
    uint64_t fold_min; /* ?journal_max=: fold once the journal holds this much */
    hid_t fapl_ro, fapl_rw;
    hid_t snap; /* read handle of the file PATH named last, or -1 */
    int snapfd;
    dev_t dev;
    ino_t ino;
    kl_buf key;
    kl__fslock cleaner; /* the size limits' cleaner lock */
} h5_state;

/* ---- backend.c: reading ---- */

/* Open PATH read-only as an archive of ours (KL_EBUSY, KL_ECORRUPT). */
int kl__h5a_open_ro(h5_state *s, hid_t *out);
/* The read handle of the file PATH names now (owned by s). */
int kl__h5a_snapshot(h5_state *s, hid_t *out);
/* The entry of `key` in file f: KL_ENOTFOUND when absent or another
 * key's (a hash collision is a miss, never a wrong value). */
int kl__h5a_find(h5_state *s, hid_t f, const void *key, size_t klen, kl__h5_entry *e);

/* ---- txn.c: write transactions ---- */

/* The names of the links of f's root group, 33 bytes each. */
int kl__h5a_list_names(h5_state *s, hid_t f, kl_buf *names);
/* A new temporary file beside PATH (O_EXCL) with exactly the given mode
 * bits (0: as the umask says). */
int kl__h5a_tmp_create(h5_state *s, char *tmp, size_t cap, mode_t mode, int *fd);
/* Open PATH and hold an exclusive lock on the file it names.  KL_ENOTFOUND
 * when there is none, KL_EBUSY when another HDF5 program writes it. */
int kl__h5a_lock_current(h5_state *s, int *out, struct stat *st);
/* Make PATH an empty archive unless some file is there already. */
int kl__h5a_create_file(h5_state *s);
/* A fresh, empty archive written at tmp. */
int kl__h5a_make_fresh(h5_state *s, const char *tmp, hid_t *f);
/* Close the HDF5 file written at tmp, flush it, and put it at PATH
 * (rename, or link when `exclusive`: then an existing PATH wins and tmp
 * is dropped); its size into *size when not NULL.  tmp is removed on
 * failure; returns the first error (rc when not 0). */
int kl__h5a_commit(h5_state *s, hid_t f, int fd, const char *tmp, int rc, bool exclusive,
                   uint64_t *size);

enum { TXN_COPY, TXN_FRESH };
typedef int (*txn_fn)(h5_state *s, hid_t f, void *arg);
/* One write transaction: fn (may be NULL) applied to a copy of the
 * current file (TXN_COPY, the journal folded in first) or to a fresh
 * empty one (TXN_FRESH), which then replaces it. */
int kl__h5a_txn(h5_state *s, int mode, txn_fn fn, void *arg);
/* In a transaction's file f: write one entry, replacing the key's entry
 * there (`fresh`: f has none); unlink entry `name`, counting its space. */
int kl__h5a_put_entry(h5_state *s, hid_t f, const void *key, size_t klen, const void *val,
                      size_t vlen, int64_t ns, bool fresh);
int kl__h5a_unlink_entry(h5_state *s, hid_t f, const char *name);
/* Under the lock of kl__h5a_lock_current: replace PATH by a fresh file
 * with copies of its entries less those named in skip (33-byte names;
 * may be NULL: compact); entries of older format versions are written
 * again in the current one. */
int kl__h5a_rebuild_locked(h5_state *s, const struct stat *st, const kl_buf *skip);
int kl__h5a_compact_locked(h5_state *s, int lockfd, const struct stat *st);

/* ---- write.c: the write operations (the backend's slots) ---- */

int kl__h5a_put(void *state, const void *key, size_t klen, const void *val, size_t vlen);
int kl__h5a_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                     const void *const *vals, const size_t *vlens);
int kl__h5a_del(void *state, const void *key, size_t klen);
int kl__h5a_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                     size_t *deleted);
int kl__h5a_clear(void *state);
int kl__h5a_compact(void *state);
int kl__h5a_sync(void *state);
/* Whether the journal has grown enough to fold (by put: divisor 4; at a
 * writer's close: 8). */
bool kl__h5a_fold_due(h5_state *s, uint64_t divisor);

/* ---- repair.c ---- */

/* The parts of an hdf5: handle that verify reads (borrowed). */
typedef struct kl__h5a_info {
    const char *url, *path, *dir, *base;
    kl__h5j *jr;   /* the journal */
    kl_buf *key;   /* scratch buffer for an entry's key */
    hid_t fapl_ro; /* read-only file access properties */
    hid_t fapl_rw; /* properties of a file this process writes */
} kl__h5a_info;
void kl__h5a_info_of(h5_state *s, kl__h5a_info *out);

/* Whether the file at path, which HDF5 cannot open as an archive, still
 * carries the marker of one (in its first 64 KiB): then it opens, damaged,
 * for verify to salvage (repair.c). */
bool kl__h5_damaged_ours(const char *path);

/* The backend's verify (repair.c). */
int kl__h5_verify(void *state, bool repair, kl_buf *report, size_t *problems);

#endif
