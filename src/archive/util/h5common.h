/* SPDX-License-Identifier: BSD-3-Clause */
/* What the two HDF5 archives (hdf5: one file, hdf5dir: a folder of files)
 * share: the library's global lock, HDF5 errors turned into KL_E* codes,
 * the file properties, the marker attributes, and one entry stored as one
 * dataset (docs/hdf5.md describes the layout). */
#ifndef KLEPTO_ARCHIVE_H5COMMON_H
#define KLEPTO_ARCHIVE_H5COMMON_H

#include "archive/backends.h"
#include "archive/util/keyfolder.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KL_H5_VERSION 3 /* format version of both layouts (1: no native scalars, no
                          * klepto_key_repr, no hdf5: journal; 2: key, kind,
                          * head and checksum in attributes of their own, not
                          * one klepto_entry; both still read) */
#define KL_H5_NAME_HEX KL_KEYFOLDER_HEX /* an entry's name: hex of the key's XXH3-128 */

/* HDF5 as packaged may not be thread-safe: every call into it happens
 * between kl__h5_enter() and kl__h5_leave() (one process-wide mutex), which
 * also switches HDF5's printing of errors off for the calling thread. */
void kl__h5_enter(void);
void kl__h5_leave(void);

/* Set the thread's message to "<printf text>: <HDF5's innermost error>"
 * and clear HDF5's error stack.  code 0: derived from the errno HDF5
 * reports (ENOSPC → KL_ENOSPC, EACCES → KL_EPERM, ...), else KL_EIO. */
int kl__h5_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The errno HDF5's error stack reports (0 when none); leaves the stack. */
int kl__h5_errno(void);

/* File access properties: the 1.8 file format (readable by any HDF5 since
 * 1.8), blocks of 64 KiB and more 64-byte aligned (so mapped arrays are),
 * `locking`: HDF5's own flock while a file is open. */
hid_t kl__h5_fapl(bool locking);

/* The hex name of a key's entry into out (KL_H5_NAME_HEX + 1 bytes). */
static inline void kl__h5_entry_name(const void *key, size_t klen, char *out)
{
    kl__keyfolder_key_hex(key, klen, out);
}

/* Root attributes klepto_format = `format` and klepto_format_version. */
int kl__h5_mark(hid_t file, const char *format, const char *where);
/* KL_ECORRUPT when the file lacks them or names another format,
 * KL_EVERSION when it is newer than this library reads. */
int kl__h5_check_mark(hid_t file, const char *format, const char *where);
/* Raise an older klepto_format_version of a file being written to ours
 * (its new entries use the current layout; the old ones still read). */
int kl__h5_mark_current(hid_t file, const char *where);

/* The key an entry was opened with (in stored) is `key`. */
static inline bool kl__h5_is_key(const kl_buf *stored, const void *key, size_t klen)
{
    return stored->len == klen && !memcmp(stored->data, key, klen);
}

/* Create dataset `name` in loc holding the entry (replacing nothing: the
 * caller deletes an old one first).  `where` names the file in messages. */
int kl__h5_entry_write(hid_t loc, const char *name, const void *key, size_t klen, const void *val,
                      size_t vlen, int64_t stored_ns, const char *where);

/* An opened entry: its key is in the kl_buf given to kl__h5_entry_open. */
/* How an entry's value is stored (klepto_kind; docs/hdf5.md). */
typedef enum kl__h5_kind {
    KL_H5_CBOR, KL_H5_ARRAY, KL_H5_INT, KL_H5_FLOAT, KL_H5_BOOL, KL_H5_TEXT, KL_H5_BYTES
} kl__h5_kind;

typedef struct kl__h5_entry {
    hid_t dset;
    kl__h5_kind kind;
    bool array;        /* a typed numeric array stored natively */
    int64_t stored_ns; /* read by kl__h5_entry_stored_ns, once */
    bool have_ns;
    uint64_t xxh3;     /* XXH3-64 of the value's canonical bytes */
    size_t hlen;       /* array: CBOR head bytes before the elements */
    uint8_t head[128];
    uint64_t nbytes;   /* bytes of the dataset's elements */
    const char *where;
    char name[64];
} kl__h5_entry;

/* Open dataset `name` and read its key into key.  KL_ENOTFOUND when loc
 * has no such link; KL_ECORRUPT when it is not a well-formed entry. */
int kl__h5_entry_open(hid_t loc, const char *name, kl_buf *key, kl__h5_entry *e, const char *where);
void kl__h5_entry_close(kl__h5_entry *e);
/* When the entry was stored (its klepto_stored_ns, read at the first
 * call): KL_ECORRUPT when the attribute is missing or not one integer. */
int kl__h5_entry_stored_ns(kl__h5_entry *e, int64_t *ns);
/* The value's canonical bytes (checked against the stored XXH3). */
int kl__h5_entry_value(kl__h5_entry *e, kl_buf *val);
/* Bytes of the value as stored (head + elements). */
static inline uint64_t kl__h5_entry_vlen(const kl__h5_entry *e) { return e->hlen + e->nbytes; }
/* A view of an array entry: mapped from fd (the open file of the entry's
 * HDF5 file, which must never change in place) when the elements are
 * stored contiguously and large, else over a copy.  KL_ETYPE for other
 * values. */
int kl__h5_entry_view(kl__h5_entry *e, int fd, kl_view **out);

/* What a keyed read (get, contains, stat, get_view) wants of the entry it
 * found. */
typedef enum kl__h5_want { KL_H5_VALUE, KL_H5_PRESENT, KL_H5_INFO, KL_H5_VIEW } kl__h5_want;
/* Answer a keyed read from e: KL_H5_VALUE the value into (kl_buf *)out,
 * KL_H5_PRESENT 1, KL_H5_INFO (kl_entry_info *)out (size counts the klen
 * key bytes), KL_H5_VIEW a view into (kl_view **)out mapped from fd (as
 * kl__h5_entry_view). */
int kl__h5_entry_answer(kl__h5_entry *e, kl__h5_want want, size_t klen, int fd, void *out);

/* The sec2 file descriptor HDF5 reads `file` through, or -1. */
int kl__h5_file_fd(hid_t file, hid_t fapl);
/* The object header facts of object `name` in loc (NULL: loc itself):
 * its messages present, its space.  The call is H5Oget_info2 in HDF5
 * 1.10 and H5Oget_native_info from 1.12 on.  A negative value on error. */
int kl__h5_header(hid_t loc, const char *name, H5O_hdr_info_t *out);

/* Close `file`, a temporary file this process created or copied and
 * wrote (opened with fapl), and return rc or, when rc is 0, why the
 * file could not be written in full (KL_ENOSPC, KL_EIO, with HDF5's
 * reason; `where` names it in messages).  What HDF5 held back (metadata,
 * small values) is written by a flush first, so that a full disk is
 * reported there: a failed H5Fclose is not survivable with HDF5 before
 * 1.14.1, which frees the file yet keeps its ID and crashes on it when
 * the process exits.  A file that failed (rc or the flush) is abandoned:
 * its descriptor is pointed at an anonymous memory file so that the
 * writes HDF5 still makes while closing it succeed; the caller removes
 * the file.  (Under a process file-size limit, RLIMIT_FSIZE, the memory
 * file is limited too: there the close can still fail.) */
int kl__h5_close_written(hid_t file, hid_t fapl, int rc, const char *where);

#endif
