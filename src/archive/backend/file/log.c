/* SPDX-License-Identifier: BSD-3-Clause */
/* file: records (encoding, checking), the lock, and reading and
 * appending the log (catching up with other writers).  See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <xxhash.h>

void kl__file_key_hash(const void *key, size_t klen, uint64_t *lo, uint64_t *hi)
{
    XXH128_hash_t h = XXH3_128bits(key, klen);
    *lo = h.low64;
    *hi = h.high64;
}

/* Append one record to b. */
int kl__file_rec_build(kl_buf *b, int type, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    int rc = kl_buf_reserve(b, RHDR + klen + vlen);
    if (rc)
        return rc;
    uint8_t *h = b->data + b->len;
    memcpy(h, REC_MAGIC, 4);
    h[4] = (uint8_t)type;
    h[5] = 0;
    le16_put(h + 6, 0);
    le32_put(h + 8, (uint32_t)klen);
    le32_put(h + 12, 0);
    le64_put(h + 16, vlen);
    le64_put(h + 24, (uint64_t)kl__now_ns());
    uint64_t lo, hi;
    kl__file_key_hash(key, klen, &lo, &hi);
    le64_put(h + 32, lo);
    le64_put(h + 40, hi);
    le64_put(h + 48, XXH3_64bits(val, vlen));
    le64_put(h + 56, XXH3_64bits(h, 56));
    if (klen)
        memcpy(h + RHDR, key, klen);
    if (vlen)
        memcpy(h + RHDR + klen, val, vlen);
    b->len += RHDR + klen + vlen;
    return 0;
}

/* A record header that checks out (magic, checksum, known type, sane
 * lengths). */
bool kl__file_rec_header(const uint8_t *h, rec *r)
{
    if (memcmp(h, REC_MAGIC, 4) || XXH3_64bits(h, 56) != le64_get(h + 56))
        return false;
    r->type = h[4];
    r->klen = le32_get(h + 8);
    r->vlen = le64_get(h + 16);
    r->ns = (int64_t)le64_get(h + 24);
    r->lo = le64_get(h + 32);
    r->hi = le64_get(h + 40);
    r->vhash = le64_get(h + 48);
    if (r->type < T_PUT || r->type > T_MOVED || r->vlen > (UINT64_MAX >> 2))
        return false;
    r->len = RHDR + (uint64_t)r->klen + r->vlen;
    return true;
}

/* The body (key and value) matches the header's checksums. */
bool kl__file_rec_body_ok(const rec *r, const uint8_t *body)
{
    uint64_t lo, hi;
    kl__file_key_hash(body, r->klen, &lo, &hi);
    if (lo != r->lo || hi != r->hi)
        return false;
    return XXH3_64bits(body + r->klen, (size_t)r->vlen) == r->vhash;
}

/* ---- locking and the file itself --------------------------------------- */

int kl__file_lock_ex(fa *s)
{
    if (s->locked++)
        return 0;
    while (flock(s->fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            s->locked = 0;
            return kl_seterrno(errno, "lock", s->path);
        }
    }
    return 0;
}

void kl__file_unlock(fa *s)
{
    if (--s->locked == 0)
        flock(s->fd, LOCK_UN);
}

int kl__file_write_header(fa *s, int fd, const char *path)
{
    uint8_t h[FHDR];
    memset(h, 0, sizeof h);
    memcpy(h, FILE_MAGIC, 8);
    le32_put(h + 8, FILE_VERSION);
    le32_put(h + 12, FHDR);
    le64_put(h + 16, (uint64_t)kl__now_ns());
    le64_put(h + 56, XXH3_64bits(h, 56));
    (void)s;
    return kl__fsio_pwrite(fd, h, FHDR, 0, path);
}

static int check_header(fa *s)
{
    uint8_t h[FHDR];
    size_t got = 0;
    int rc = kl__fsio_pread(s->fd, h, FHDR, 0, &got, s->path);
    if (rc)
        return rc;
    if (got < 8 || memcmp(h, FILE_MAGIC, 8))
        return kl_seterr(KL_ECORRUPT, "%s: %s is not a klepto file: archive (bad magic number)",
                         s->url, s->path);
    if (got < FHDR)
        return kl_seterr(KL_ECORRUPT, "%s: %s: truncated file header", s->url, s->path);
    uint32_t ver = le32_get(h + 8);
    if (XXH3_64bits(h, 56) != le64_get(h + 56))
        return kl_seterr(KL_ECORRUPT, "%s: %s: file header checksum mismatch", s->url, s->path);
    if (ver > FILE_VERSION)
        return kl_seterr(KL_EVERSION, "%s: %s: format version %u (this library reads %d)", s->url,
                         s->path, ver, FILE_VERSION);
    if (le32_get(h + 12) != FHDR)
        return kl_seterr(KL_ECORRUPT, "%s: %s: unexpected header size", s->url, s->path);
    return 0;
}

/* Open (creating when allowed) the file at s->path into s->fd, with a
 * valid header. */
int kl__file_open_file(fa *s, bool create)
{
    int flags = (s->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    s->fd = open(s->path, flags | (create ? O_CREAT : 0), 0666);
    if (s->fd < 0) {
        if (errno == ENOENT && !create)
            return kl_seterr(KL_ENOTFOUND, "%s: file %s does not exist", s->url, s->path);
        if (errno == EISDIR)
            return kl_seterr(KL_EINVAL, "%s: %s is a folder (dir: archives are folders)",
                             s->url, s->path);
        return kl_seterr(kl__errno_code(errno), "%s: open %s: %s", s->url, s->path,
                         strerror(errno));
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0)
        return kl_seterrno(errno, "stat", s->path);
    if (!S_ISREG(st.st_mode))
        return kl_seterr(KL_EINVAL, "%s: %s is not a regular file", s->url, s->path);
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    if (st.st_size < FHDR && !s->read_only) {
        /* new (or being created by another process): write the header
         * under the lock so only one creator does */
        int rc = kl__file_lock_ex(s);
        if (rc)
            return rc;
        if (fstat(s->fd, &st) == 0 && st.st_size == 0) {
            rc = kl__fsio_set_mode(s->fd, s->mode, s->path);
            if (!rc)
                rc = kl__file_write_header(s, s->fd, s->path);
            if (!rc && s->sync != KL_SYNC_NONE)
                rc = kl__fsio_fsync(s->fd, s->path);
            if (rc)
                (void)!ftruncate(s->fd, 0);
        }
        kl__file_unlock(s);
        if (rc)
            return rc;
    }
    return check_header(s);
}

/* Rounds of reopening a compacted file before a scan takes the lock. */
#define SCAN_ROUNDS_UNLOCKED 4

/* The path now names another file (compacted by someone): reopen it. */
static int reopen(fa *s)
{
    int rc = 0;
    int old = s->fd;
    s->fd = -1;
    int depth = s->locked;
    s->locked = 0;
    rc = kl__file_open_file(s, false);
    if (rc) {
        if (s->fd >= 0)
            close(s->fd);
        s->fd = old;
        s->locked = depth;
        return rc;
    }
    close(old); /* releases our lock on the old file */
    kl__file_tab_reset(s);
    if (depth) {
        s->locked = 0;
        rc = kl__file_lock_ex(s);
        s->locked = depth;
    }
    return rc;
}

static bool path_replaced(fa *s)
{
    struct stat st;
    return stat(s->path, &st) == 0 && (st.st_ino != s->ino || st.st_dev != s->dev);
}

/* The path names the very file open at s->fd. */
static bool still_here(fa *s)
{
    struct stat st;
    return stat(s->path, &st) == 0 && st.st_ino == s->ino && st.st_dev == s->dev;
}

/* Index what was appended since s->end.  With the lock held, an incomplete
 * or unreadable tail is a crashed writer's and is cut off; without it, it
 * may be an append in progress and is left for later.
 *
 * A file that was compacted ends in a "moved" record: the scan reopens
 * the path and goes on in the new file.  Without the lock, other
 * processes may compact again before the new file is read, so after a few
 * such rounds the scan takes the lock and finishes under it.  With the
 * lock, each round that finds the file moved again means another process
 * finished a compaction between our reopening and our locking, so the
 * chase always ends (busy machines with many compacting writers took more
 * than four rounds: the writer then failed with "keeps being replaced"). */
int kl__file_scan(fa *s)
{
    for (int round = 0;; round++) {
        if (round >= SCAN_ROUNDS_UNLOCKED && !s->locked) {
            int rc = kl__file_lock_ex(s);
            if (rc)
                return rc;
            rc = kl__file_refresh(s);
            kl__file_unlock(s);
            return rc;
        }
        if (round >= SCAN_ROUNDS_UNLOCKED)
            sched_yield(); /* let the compactor that beat us finish */
        struct stat st;
        if (fstat(s->fd, &st) < 0)
            return kl_seterrno(errno, "stat", s->path);
        uint64_t size = (uint64_t)st.st_size;
        if (size <= s->end)
            return 0;
        uint64_t pos = s->end;
        bool moved = false;
        int rc = 0;
        uint64_t cbase = 0;
        size_t clen = 0;
        batch b;
        b.n = 0;
        /* read chunks; a record needing more than what is loaded reloads
         * from its start */
        while (pos + RHDR <= size) {
            if (pos < cbase || pos + RHDR > cbase + clen) {
                size_t want = SCAN_CHUNK;
                if ((rc = kl_buf_reserve(&s->rbuf, want)))
                    return rc;
                cbase = pos;
                if ((rc = kl__fsio_pread(s->fd, s->rbuf.data, want, (int64_t)pos, &clen, s->path)))
                    return rc;
                if (clen < RHDR)
                    break;
            }
            rec r;
            const uint8_t *h = s->rbuf.data + (pos - cbase);
            if (kl__file_rec_header(h, &r)) {
                if (pos + r.len > size)
                    break; /* incomplete */
                if (pos + r.len > cbase + clen) {
                    if (r.len > SIZE_MAX / 2)
                        return kl_seterr(KL_ETOOBIG, "%s: record too large", s->url);
                    if ((rc = kl_buf_reserve(&s->rbuf, (size_t)r.len)))
                        return rc;
                    cbase = pos;
                    if ((rc = kl__fsio_pread(s->fd, s->rbuf.data, (size_t)r.len, (int64_t)pos,
                                            &clen, s->path)))
                        return rc;
                    if (clen < r.len)
                        break;
                    h = s->rbuf.data;
                }
                if (!kl__file_rec_body_ok(&r, h + RHDR)) {
                    /* a torn last record is not an entry; a damaged one in
                     * the middle is (reads of it report the damage) */
                    if (pos + r.len == size)
                        break;
                    if (r.type == T_DEL) {
                        s->damaged += r.len;
                        pos += r.len;
                        continue;
                    }
                }
                if (r.type == T_MOVED && still_here(s)) {
                    /* the path still names this file: a copy of a file
                     * that was replaced (its moved record came along), or
                     * a damaged one; reopening would find the same record
                     * again, for ever.  What precedes it stands. */
                    pos += r.len;
                    continue;
                }
                if (r.type == T_MOVED) {
                    moved = true;
                    pos += r.len;
                    break;
                }
                if ((rc = kl__file_batch_add(s, &b, r.type, r.lo, r.hi, pos, r.len)))
                    return rc;
                pos += r.len;
                continue;
            }
            /* unreadable header: find the next record that checks out */
            uint64_t q = pos + 1;
            bool found = false;
            while (!found && q + RHDR <= size) {
                if (q + RHDR > cbase + clen) {
                    cbase = q;
                    if ((rc = kl__fsio_pread(s->fd, s->rbuf.data, SCAN_CHUNK, (int64_t)q, &clen,
                                            s->path)))
                        return rc;
                    if (clen < RHDR)
                        break;
                }
                const uint8_t *p = s->rbuf.data + (q - cbase);
                rec r2;
                if (p[0] == 'K' && !memcmp(p, REC_MAGIC, 4) && kl__file_rec_header(p, &r2) &&
                    q + r2.len <= size)
                    found = true;
                else
                    q++;
            }
            if (!found)
                break;
            s->damaged += q - pos;
            pos = q;
        }
        if ((rc = kl__file_batch_flush(s, &b)))
            return rc;
        s->end = pos;
        if (pos < size && s->locked && !s->read_only && !s->no_cut) {
            /* the tail is a crashed append: nobody else can be writing */
            if (ftruncate(s->fd, (off_t)pos) < 0)
                return kl_seterrno(errno, "cut off an incomplete record", s->path);
        }
        if (!moved)
            return 0;
        if ((rc = reopen(s)))
            return rc;
    }
}

/* Bring the index up to date (and onto the current file). */
int kl__file_refresh(fa *s)
{
    if (s->locked && path_replaced(s)) {
        int rc = reopen(s);
        if (rc)
            return rc;
    }
    return kl__file_scan(s);
}

int kl__file_compact_locked(fa *s, bool empty);

/* Append records (already built) under the lock. */
int kl__file_append(fa *s, const uint8_t *recs, size_t n)
{
    int rc = kl__file_lock_ex(s);
    if (rc)
        return rc;
    rc = kl__file_refresh(s);
    uint64_t off = s->end;
    if (!rc)
        rc = kl__fsio_pwrite(s->fd, recs, n, (int64_t)off, s->path);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s", s->url, kl_errmsg());
        /* leave no partial record behind (a full disk wrote part of it) */
        if (ftruncate(s->fd, (off_t)off) < 0) {
            /* the next writer cuts it off */
        }
        kl__file_unlock(s);
        return kl_seterr(rc, "%s", msg);
    }
    if (s->sync == KL_SYNC_FULL && fdatasync(s->fd) < 0)
        rc = kl_seterrno(errno, "fsync", s->path);
    /* index what we wrote (it is well-formed: we built it) */
    for (size_t p = 0; !rc && p < n;) {
        rec r;
        kl__file_rec_header(recs + p, &r);
        rc = kl__file_tab_apply(s, r.type, r.lo, r.hi, off + p, r.len);
        p += (size_t)r.len;
    }
    s->end = off + n;
    uint64_t data = s->end - FHDR;
    if (!rc && s->autocompact > 0 && s->end >= COMPACT_MIN &&
        (double)(data - s->live) > s->autocompact * (double)data)
        rc = kl__file_compact_locked(s, false);
    kl__file_unlock(s);
    return rc;
}

int kl__file_flush(fa *s)
{
    if (!s->pend.len)
        return 0;
    int rc = kl__file_append(s, s->pend.data, s->pend.len);
    kl_buf_reset(&s->pend);
    return rc;
}

/* Make the index current: write our pending records, read others'. */
int kl__file_prepare_read(fa *s)
{
    int rc = kl__file_flush(s);
    return rc ? rc : kl__file_refresh(s);
}
