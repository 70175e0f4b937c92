/* SPDX-License-Identifier: BSD-3-Clause */
/* A folder of one file per key: the machinery dir: and hdf5dir: share.
 *
 * It owns the folder's layout and its lifecycle, not what an entry file
 * holds: the marker file that says the folder is an archive (and of which
 * kind and version), an entry's name SHARD/HEX+SUFFIX where HEX is the
 * 32-hex-digit XXH3-128 of the key bytes and SHARD its first two digits
 * (so no key ever becomes a path), temporary files ".tmp.PID.N" renamed
 * over an entry (readers see the old or the new file, never a mix),
 * fsyncs for ?sync=full, walking and iterating the shards, the leftover
 * temporaries of crashed writers in verify, clear and drop.
 *
 * A kl__keyfolder belongs to one archive handle; like the handle it is not
 * thread-safe.  Functions return 0 or a negative KL_E* code with the
 * message set, naming the archive URL. */
#ifndef KLEPTO_ARCHIVE_KEYFOLDER_H
#define KLEPTO_ARCHIVE_KEYFOLDER_H

#include "archive/backends.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define KL_KEYFOLDER_HEX 32     /* hex digits of a key's name */
#define KL_KEYFOLDER_REL_MAX 48 /* room for "ab/" + hex + suffix + NUL */
#define KL_KEYFOLDER_TMP_MAX 64 /* room for a temporary file's name */

/* What tells one kind of folder archive from another. */
typedef struct kl__keyfolder_layout {
    const char *scheme; /* URL scheme, in messages: "dir" */
    const char *marker; /* name of the marker file in the folder */
    const char *magic;  /* its first 8 bytes */
    uint32_t version;   /* format version written; newer ones refused */
    const char *suffix; /* after the hex digits of an entry's name (< 8 chars) */
} kl__keyfolder_layout;

typedef struct kl__keyfolder {
    const kl__keyfolder_layout *lay;
    char *url, *root; /* owned */
    int rootfd;
    int sync;  /* KL_SYNC_* from ?sync= */
    unsigned mode, folder_mode; /* ?mode=: bits of new files and folders (0: umask) */
    pid_t pid; /* cached: getpid() is a system call */
    int cleaner_fd; /* the cleaner lock while held, else -1 */
    ino_t walk_ino; /* during kl__keyfolder_walk: the inode of the file fn is called for */
} kl__keyfolder;

/* Returns rc after putting the archive's URL in front of the thread's
 * message (for failures of calls that named only an entry or a shard);
 * 0 stays 0. */
static inline int kl__keyfolder_fail(const kl__keyfolder *kf, int rc)
{
    return rc ? kl_seterr_prefix(rc, "%s", kf->url) : 0;
}

/* The hex name of a key (KL_KEYFOLDER_HEX digits + NUL into out).  hdf5:
 * names its groups with it too. */
void kl__keyfolder_key_hex(const void *key, size_t klen, char *out);

/* Start: the URL, the absolute folder path, ?sync= and ?mode=.  KL_EINVAL when
 * the URL names no folder.  Call kl__keyfolder_close even when it fails. */
int kl__keyfolder_init(kl__keyfolder *kf, const kl__keyfolder_layout *lay, const kl_url *url);
/* Open the folder (made when missing and opts->create): it holds the
 * marker, or is empty (the marker written unless read-only), or is
 * refused untouched. */
int kl__keyfolder_attach(kl__keyfolder *kf, const kl_archive_opts *opts);
void kl__keyfolder_close(kl__keyfolder *kf);
/* "none", "normal" or "full". */
const char *kl__keyfolder_sync_name(const kl__keyfolder *kf);

/* The entry name "ab/HEX+SUFFIX" of a key into out (KL_KEYFOLDER_REL_MAX). */
void kl__keyfolder_rel(const kl__keyfolder *kf, const void *key, size_t klen, char *out);
/* A file name in a shard is an entry's (not a temporary or a stranger). */
bool kl__keyfolder_is_entry(const kl__keyfolder *kf, const char *base);
/* A temporary file whose writer is gone (".tmp.PID.N" with PID dead). */
bool kl__keyfolder_is_stale_tmp(const char *base);
/* Open entry file rel for reading.  O_NONBLOCK, so that a FIFO or a
 * device at an entry's name cannot block the open (it has no effect on
 * the regular files entries are), then fstat: *fd is open on a regular
 * file, its status in *st.  KL_ENOTFOUND when there is no such file,
 * KL_ECORRUPT when something else is there (kl__keyfolder_not_file). */
int kl__keyfolder_open_entry(kl__keyfolder *kf, const char *rel, int *fd, struct stat *st);
/* For readers that cannot be handed a descriptor (HDF5 opens by path):
 * 0 when rel names a regular file, else as kl__keyfolder_open_entry. */
int kl__keyfolder_check_file(kl__keyfolder *kf, const char *rel);
/* KL_ECORRUPT: entry rel is a folder, FIFO, ... (named by mode). */
int kl__keyfolder_not_file(kl__keyfolder *kf, const char *rel, mode_t mode);
/* 0..255: the shard of an entry name. */
int kl__keyfolder_shard_index(const char *rel);
/* fsync rel (opened with flags); a file that is gone is fine. */
int kl__keyfolder_fsync_at(kl__keyfolder *kf, const char *rel, int flags);
/* fsync shard i's folder. */
int kl__keyfolder_fsync_shard(kl__keyfolder *kf, int i);

/* Makes a temporary file named tmp (relative to the folder): 0 when made,
 * ENOENT (its shard folder is missing) or EEXIST (the name is taken) for
 * kl__keyfolder_create_tmp to deal with, else a negative KL_E* code with
 * the message set. */
typedef int (*kl__keyfolder_create_fn)(kl__keyfolder *kf, const char *tmp, void *arg);
/* A new temporary file in the shard of entry rel, made by create; its
 * name into tmp (KL_KEYFOLDER_TMP_MAX).  *new_shard tells whether the
 * shard folder was made (kl__keyfolder_commit fsyncs the root then). */
int kl__keyfolder_create_tmp(kl__keyfolder *kf, const char *rel, char *tmp,
                            kl__keyfolder_create_fn create, void *arg, bool *new_shard);
/* Give the written and closed tmp the ?mode= bits and rename it over
 * entry rel (the temporary is removed when that fails); with sync=full, fsync the shard (and the root
 * after a new shard). */
int kl__keyfolder_commit(kl__keyfolder *kf, const char *tmp, const char *rel, bool new_shard);
/* Delete entry rel (KL_ENOTFOUND when there is none); with sync=full,
 * fsync its shard. */
int kl__keyfolder_unlink(kl__keyfolder *kf, const char *rel);

/* Calls fn for every file of every shard (entries and temporaries), with
 * rel "ab/NAME" and base NAME (and kf->walk_ino its inode number, as the
 * folder listing gives it); a nonzero return stops the walk. */
typedef int (*kl__keyfolder_walk_fn)(kl__keyfolder *kf, const char *rel, const char *base, void *arg);
int kl__keyfolder_walk(kl__keyfolder *kf, kl__keyfolder_walk_fn fn, void *arg);
int kl__keyfolder_count(kl__keyfolder *kf, size_t *out);
/* The storage the entry files take (st_blocks * 512 each; the folders and
 * the marker are not counted: they do not shrink as entries go). */
int kl__keyfolder_storage(kl__keyfolder *kf, uint64_t *out);
/* The backend slot cleaner_lock: the file KL_KEYFOLDER_LOCK in the folder. */
int kl__keyfolder_cleaner_lock(kl__keyfolder *kf, bool take);
#define KL_KEYFOLDER_LOCK "cleaner.lock"
/* Delete every entry and every stale temporary. */
int kl__keyfolder_clear(kl__keyfolder *kf);
/* Delete everything, the marker and the folder; nothing is left to sync. */
int kl__keyfolder_drop(kl__keyfolder *kf);

/* Checks the entry file rel: 0 when sound (or not to be judged), 1 when
 * damaged (kl_errmsg() says how), else a negative KL_E* code that stops
 * verify. */
typedef int (*kl__keyfolder_check_fn)(kl__keyfolder *kf, const char *rel, void *arg);
/* The archive's verify: every entry through check, each damaged one
 * reported (and with repair deleted; a folder where an entry should be
 * only when it is empty), leftover temporaries of dead writers reported
 * with their size (not counted as problems) and removed with repair. */
int kl__keyfolder_verify(kl__keyfolder *kf, bool repair, kl_buf *report, size_t *problems,
                        kl__keyfolder_check_fn check, void *arg);
/* KL_ECORRUPT when the entry at rel holds a key whose name is another. */
int kl__keyfolder_check_name(kl__keyfolder *kf, const char *rel, const void *key, size_t klen);

/* Iteration for the backend's iter_new/iter_next/iter_free: the entries
 * in folder order (entries added or deleted meanwhile may or may not be
 * seen).  read fills key (and val unless NULL) from entry file rel,
 * using scratch as it likes; KL_ENOTFOUND skips the entry (deleted
 * meanwhile). */
typedef int (*kl__keyfolder_read_fn)(kl__keyfolder *kf, const char *rel, kl_buf *scratch, kl_buf *key,
                                    kl_buf *val);
int kl__keyfolder_iter_new(kl__keyfolder *kf, kl__keyfolder_read_fn read, void **out);
/* 1 with the next entry, 0 at the end. */
int kl__keyfolder_iter_next(void *cur, kl_buf *key, kl_buf *val);
void kl__keyfolder_iter_free(void *cur);

#endif
