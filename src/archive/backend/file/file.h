/* SPDX-License-Identifier: BSD-3-Clause */
/* file: — one log-structured file holding every entry (klepto's
 * file_archive).
 *
 * The file is a header and a sequence of records (put, delete, moved),
 * each with its own checksums (docs/formats.md).  Every process keeps an
 * index (128-bit key hash → record) built by reading the file on open and
 * extended by reading whatever other processes appended since.  Writers
 * append under an exclusive flock on the file; a writer that finds an
 * incomplete record at the end (a crashed append) cuts it off before
 * appending.  Compaction writes the live records to a new file, renames it
 * over the old one and appends a "moved" record to the old one so readers
 * still holding it reopen.
 *
 * Files: index.c (the in-memory index), log.c (records, locking, reading
 * and appending), compact.c, slots.c (the backend's slots), verify.c,
 * iter.c, open.c (open, close, drop).
 */
#ifndef KLEPTO_ARCHIVE_BACKEND_FILE_H
#define KLEPTO_ARCHIVE_BACKEND_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "archive/backends.h"
#include "archive/util/fsio.h"
#include "internal.h"
#include "archive/util/le.h"

#define FILE_MAGIC "KLEPTOFL"
#define FILE_VERSION 1
#define FHDR 64
#define REC_MAGIC "KLRC"
#define RHDR 64
#define T_PUT 1
#define T_DEL 2
#define T_MOVED 3
#define PENDING_MAX (1u << 20) /* sync=none: flush once this much is buffered */
#define SCAN_CHUNK (4u << 20)
#define COMPACT_MIN (1u << 20) /* never auto-compact files smaller than this */
#define EMPTY_LEN 0
#define TOMB_OFF UINT64_MAX

typedef struct slot {
    uint64_t lo, hi; /* XXH3-128 of the key */
    uint64_t off;    /* record offset; TOMB_OFF: deleted slot */
    uint64_t len;    /* record length; EMPTY_LEN: never used */
} slot;

typedef struct fa {
    char *url, *path, *dir;
    int fd;
    int sync;
    unsigned mode; /* ?mode=: bits of a new file (0: the umask's) */
    bool read_only;
    double autocompact;
    dev_t dev;
    ino_t ino;
    uint64_t end;     /* everything before is indexed */
    uint64_t live;    /* bytes of the records the index points to */
    uint64_t damaged; /* bytes skipped as unreadable while scanning */
    slot *tab;
    size_t cap, count, used;
    kl_buf pend; /* sync=none: records not yet written */
    kl_buf rbuf;
    int locked;  /* depth of our exclusive lock */
    bool no_cut; /* verify without repair: leave even a torn tail */
    kl__fslock cleaner; /* the size limits' cleaner lock */
    uint64_t recovered, recovered_at; /* torn tail a writer's open cut off
                                       * (bytes, where), for verify to say */
} fa;

/* Index updates found by a scan, applied in groups whose slots are
 * prefetched first: on open, the index's cache misses dominate otherwise. */
typedef struct op {
    int type;
    uint64_t lo, hi, off, len;
} op;
typedef struct batch {
    size_t n;
    op ops[32];
} batch;

/* A record header as read from the file. */
typedef struct rec {
    int type;
    uint32_t klen;
    uint64_t vlen, len, lo, hi, vhash;
    int64_t ns;
} rec;

/* index.c */
slot *kl__file_tab_find(fa *s, uint64_t lo, uint64_t hi, bool for_insert);
int kl__file_tab_apply(fa *s, int type, uint64_t lo, uint64_t hi, uint64_t off, uint64_t len);
int kl__file_batch_flush(fa *s, batch *b);
int kl__file_batch_add(fa *s, batch *b, int type, uint64_t lo, uint64_t hi, uint64_t off,
                       uint64_t len);
void kl__file_tab_reset(fa *s);

/* log.c */
void kl__file_key_hash(const void *key, size_t klen, uint64_t *lo, uint64_t *hi);
int kl__file_rec_build(kl_buf *b, int type, const void *key, size_t klen, const void *val,
                       size_t vlen);
bool kl__file_rec_header(const uint8_t *h, rec *r);
bool kl__file_rec_body_ok(const rec *r, const uint8_t *body);
int kl__file_lock_ex(fa *s);
void kl__file_unlock(fa *s);
int kl__file_write_header(fa *s, int fd, const char *path);
int kl__file_open_file(fa *s, bool create);
int kl__file_scan(fa *s);
int kl__file_refresh(fa *s);
int kl__file_append(fa *s, const uint8_t *recs, size_t n);
int kl__file_flush(fa *s);
int kl__file_prepare_read(fa *s);

/* compact.c */
int kl__file_compact_locked(fa *s, bool empty);
slot *kl__file_live_sorted(fa *s, size_t *n);
int kl__file_hexkey(kl_buf *out, const uint8_t *k, size_t n);

/* slots.c */
int kl__file_fa_sync(void *state);

/* verify.c */
/* What follows the last whole record (s->end) in a file of `size` bytes:
 * 0 nothing, 1 a write cut short (fewer bytes than a header, a sound
 * header claiming more bytes than there are, zeros), 2 a damaged record
 * (a whole header failing its checksum, or a record that fits but fails
 * its checksums), or a negative error (verify.c). */
int kl__file_tail_kind(fa *s, uint64_t size);
int kl__file_fa_verify(void *state, bool repair, kl_buf *report, size_t *problems);

/* iter.c */
int kl__file_fa_iter_new(void *state, void **out);
int kl__file_fa_iter_next(void *cur, kl_buf *key, kl_buf *val);
void kl__file_fa_iter_free(void *cur);

/* open.c */
/* A writer's open: a tail after the last whole record that is a write cut
 * short (a killed writer's append) is cut off under the lock and
 * remembered for verify to report (the hdf5: journal's open too). */
int kl__file_recover_tail(fa *s);
int kl__file_fa_open(void **state, const kl_url *url, const kl_archive_opts *opts);
/* Close s's file and free it (NULL: nothing); the cleaner lock is the
 * caller's to release. */
void kl__file_fa_free(fa *s);
int kl__file_fa_close(void *state);
int kl__file_fa_drop(void *state);

#endif
