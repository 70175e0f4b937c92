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
 * still holding it reopen. */
#define _GNU_SOURCE
#include "archive/backends.h"
#include "archive/util/fsio.h"
#include "internal.h"
#include "archive/util/le.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define FILE_MAGIC "KLEPTOFL"
#define FILE_VERSION 1
#define FHDR 64
#define REC_MAGIC "KLRC"
#define RHDR 64
#define T_PUT 1
#define T_DEL 2
#define T_MOVED 3
#define PENDING_MAX (1u << 20)  /* sync=none: flush once this much is buffered */
#define SCAN_CHUNK (4u << 20)
#define COMPACT_MIN (1u << 20)  /* never auto-compact files smaller than this */
#define EMPTY_LEN 0
#define TOMB_OFF UINT64_MAX

typedef struct slot {
    uint64_t lo, hi;  /* XXH3-128 of the key */
    uint64_t off;     /* record offset; TOMB_OFF: deleted slot */
    uint64_t len;     /* record length; EMPTY_LEN: never used */
} slot;

typedef struct fa {
    char *url, *path, *dir;
    int fd;
    int sync;
    bool read_only;
    double autocompact;
    dev_t dev;
    ino_t ino;
    uint64_t end;        /* everything before is indexed */
    uint64_t live;       /* bytes of the records the index points to */
    uint64_t damaged;    /* bytes skipped as unreadable while scanning */
    slot *tab;
    size_t cap, count, used;
    kl_buf pend;         /* sync=none: records not yet written */
    kl_buf rbuf;
    int locked;          /* depth of our exclusive lock */
    bool no_cut;         /* verify without repair: leave even a torn tail */
} fa;

/* ---- the index --------------------------------------------------------- */

static slot *tab_find(fa *s, uint64_t lo, uint64_t hi, bool for_insert)
{
    if (!s->cap)
        return NULL;
    size_t i = (size_t)lo & (s->cap - 1);
    slot *tomb = NULL;
    for (;;) {
        slot *e = &s->tab[i];
        if (e->len == EMPTY_LEN)
            return for_insert ? (tomb ? tomb : e) : NULL;
        if (e->off == TOMB_OFF) {
            if (!tomb)
                tomb = e;
        } else if (e->lo == lo && e->hi == hi) {
            return e;
        }
        i = (i + 1) & (s->cap - 1);
    }
}

static int tab_grow(fa *s)
{
    size_t cap = s->cap ? s->cap : 1024;
    while ((s->count + 1) * 2 > cap)
        cap *= 2;
    slot *t = calloc(cap, sizeof *t);
    if (!t)
        return kl_seterr(KL_ENOMEM, "%s: out of memory for the index", s->url);
    for (size_t i = 0; i < s->cap; i++) {
        slot *e = &s->tab[i];
        if (e->len == EMPTY_LEN || e->off == TOMB_OFF)
            continue;
        size_t j = (size_t)e->lo & (cap - 1);
        while (t[j].len != EMPTY_LEN)
            j = (j + 1) & (cap - 1);
        t[j] = *e;
    }
    free(s->tab);
    s->tab = t;
    s->cap = cap;
    s->used = s->count;
    return 0;
}

static int tab_apply(fa *s, int type, uint64_t lo, uint64_t hi, uint64_t off, uint64_t len)
{
    if (type == T_PUT && (s->used + 1) * 4 > s->cap * 3) {
        int rc = tab_grow(s);
        if (rc)
            return rc;
    }
    slot *e = tab_find(s, lo, hi, type == T_PUT);
    if (type == T_PUT) {
        if (e->len != EMPTY_LEN && e->off != TOMB_OFF) {
            s->live -= e->len;
        } else {
            if (e->len == EMPTY_LEN)
                s->used++;
            s->count++;
        }
        *e = (slot){lo, hi, off, len};
        s->live += len;
    } else if (e) {
        s->live -= e->len;
        e->off = TOMB_OFF;
        s->count--;
    }
    return 0;
}

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

static int batch_flush(fa *s, batch *b)
{
    if (s->cap && (s->used + b->n) * 4 <= s->cap * 3)
        for (size_t i = 0; i < b->n; i++)
            __builtin_prefetch(&s->tab[(size_t)b->ops[i].lo & (s->cap - 1)]);
    int rc = 0;
    for (size_t i = 0; !rc && i < b->n; i++)
        rc = tab_apply(s, b->ops[i].type, b->ops[i].lo, b->ops[i].hi, b->ops[i].off,
                       b->ops[i].len);
    b->n = 0;
    return rc;
}

static int batch_add(fa *s, batch *b, int type, uint64_t lo, uint64_t hi, uint64_t off,
                     uint64_t len)
{
    b->ops[b->n++] = (op){type, lo, hi, off, len};
    return b->n == sizeof b->ops / sizeof b->ops[0] ? batch_flush(s, b) : 0;
}

static void tab_reset(fa *s)
{
    if (s->tab)
        memset(s->tab, 0, s->cap * sizeof *s->tab);
    s->count = s->used = 0;
    s->live = s->damaged = 0;
    s->end = FHDR;
}

/* ---- records ----------------------------------------------------------- */

static void key_hash(const void *key, size_t klen, uint64_t *lo, uint64_t *hi)
{
    XXH128_hash_t h = XXH3_128bits(key, klen);
    *lo = h.low64;
    *hi = h.high64;
}

/* Append one record to b. */
static int rec_build(kl_buf *b, int type, const void *key, size_t klen, const void *val,
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
    key_hash(key, klen, &lo, &hi);
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

typedef struct rec {
    int type;
    uint32_t klen;
    uint64_t vlen, len, lo, hi, vhash;
    int64_t ns;
} rec;

/* A record header that checks out (magic, checksum, known type, sane
 * lengths). */
static bool rec_header(const uint8_t *h, rec *r)
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
static bool rec_body_ok(const rec *r, const uint8_t *body)
{
    uint64_t lo, hi;
    key_hash(body, r->klen, &lo, &hi);
    if (lo != r->lo || hi != r->hi)
        return false;
    return XXH3_64bits(body + r->klen, (size_t)r->vlen) == r->vhash;
}

/* ---- locking and the file itself --------------------------------------- */

static int lock_ex(fa *s)
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

static void unlock(fa *s)
{
    if (--s->locked == 0)
        flock(s->fd, LOCK_UN);
}

static int write_header(fa *s, int fd, const char *path)
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
static int open_file(fa *s, bool create)
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
        int rc = lock_ex(s);
        if (rc)
            return rc;
        if (fstat(s->fd, &st) == 0 && st.st_size == 0) {
            rc = write_header(s, s->fd, s->path);
            if (!rc && s->sync != KL_SYNC_NONE)
                rc = kl__fsio_fsync(s->fd, s->path);
            if (rc)
                (void)!ftruncate(s->fd, 0);
        }
        unlock(s);
        if (rc)
            return rc;
    }
    return check_header(s);
}

/* The path now names another file (compacted by someone): reopen it. */
static int reopen(fa *s)
{
    int rc = 0;
    int old = s->fd;
    s->fd = -1;
    int depth = s->locked;
    s->locked = 0;
    rc = open_file(s, false);
    if (rc) {
        if (s->fd >= 0)
            close(s->fd);
        s->fd = old;
        s->locked = depth;
        return rc;
    }
    close(old); /* releases our lock on the old file */
    tab_reset(s);
    if (depth) {
        s->locked = 0;
        rc = lock_ex(s);
        s->locked = depth;
    }
    return rc;
}

static bool path_replaced(fa *s)
{
    struct stat st;
    return stat(s->path, &st) == 0 && (st.st_ino != s->ino || st.st_dev != s->dev);
}

/* Index what was appended since s->end.  With the lock held, an incomplete
 * or unreadable tail is a crashed writer's and is cut off; without it, it
 * may be an append in progress and is left for later. */
static int scan(fa *s)
{
    for (int round = 0; round < 4; round++) {
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
            if (rec_header(h, &r)) {
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
                if (!rec_body_ok(&r, h + RHDR)) {
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
                if (r.type == T_MOVED) {
                    moved = true;
                    pos += r.len;
                    break;
                }
                if ((rc = batch_add(s, &b, r.type, r.lo, r.hi, pos, r.len)))
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
                if (p[0] == 'K' && !memcmp(p, REC_MAGIC, 4) && rec_header(p, &r2) &&
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
        if ((rc = batch_flush(s, &b)))
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
    return kl_seterr(KL_EBUSY, "%s: the file keeps being replaced; retry", s->url);
}

/* Bring the index up to date (and onto the current file). */
static int refresh(fa *s)
{
    if (s->locked && path_replaced(s)) {
        int rc = reopen(s);
        if (rc)
            return rc;
    }
    return scan(s);
}

static int compact_locked(fa *s, bool empty);

/* Append records (already built) under the lock. */
static int append(fa *s, const uint8_t *recs, size_t n)
{
    int rc = lock_ex(s);
    if (rc)
        return rc;
    rc = refresh(s);
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
        unlock(s);
        return kl_seterr(rc, "%s", msg);
    }
    if (s->sync == KL_SYNC_FULL && fdatasync(s->fd) < 0)
        rc = kl_seterrno(errno, "fsync", s->path);
    /* index what we wrote (it is well-formed: we built it) */
    for (size_t p = 0; !rc && p < n;) {
        rec r;
        rec_header(recs + p, &r);
        rc = tab_apply(s, r.type, r.lo, r.hi, off + p, r.len);
        p += (size_t)r.len;
    }
    s->end = off + n;
    uint64_t data = s->end - FHDR;
    if (!rc && s->autocompact > 0 && s->end >= COMPACT_MIN &&
        (double)(data - s->live) > s->autocompact * (double)data)
        rc = compact_locked(s, false);
    unlock(s);
    return rc;
}

static int flush(fa *s)
{
    if (!s->pend.len)
        return 0;
    int rc = append(s, s->pend.data, s->pend.len);
    kl_buf_reset(&s->pend);
    return rc;
}

/* Make the index current: write our pending records, read others'. */
static int prepare_read(fa *s)
{
    int rc = flush(s);
    return rc ? rc : refresh(s);
}

/* ---- compaction -------------------------------------------------------- */

static int cmp_off(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

/* Live slots sorted by offset (caller frees). */
static slot *live_sorted(fa *s, size_t *n)
{
    slot *v = malloc((s->count ? s->count : 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->tab[i].len != EMPTY_LEN && s->tab[i].off != TOMB_OFF)
            v[k++] = s->tab[i];
    qsort(v, k, sizeof *v, cmp_off);
    *n = k;
    return v;
}

static int hexkey(kl_buf *out, const uint8_t *k, size_t n)
{
    size_t m = n > 48 ? 48 : n;
    int rc = kl_buf_append_str(out, "key 0x");
    for (size_t i = 0; !rc && i < m; i++)
        rc = kl_buf_printf(out, "%02x", k[i]);
    if (!rc && m < n)
        rc = kl_buf_append_str(out, "...");
    return rc;
}

/* Rewrite the file with only the live, intact records (none when empty);
 * rename it into place; tell readers of the old file.  Lock held. */
static int compact_locked(fa *s, bool empty)
{
    int rc = refresh(s);
    if (rc)
        return rc;
    size_t n = 0;
    slot *v = live_sorted(s, &n);
    if (empty)
        n = 0;
    if (!v)
        return kl_seterr(KL_ENOMEM, "%s: out of memory compacting", s->url);
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.compact.%d", s->path, (int)getpid()) < 0) {
        free(v);
        return kl_seterr(KL_ENOMEM, "out of memory");
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = kl_seterr(kl__errno_code(errno), "%s: create %s: %s", s->url, tmp, strerror(errno));
        free(tmp);
        free(v);
        return rc;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        (void)!fchmod(fd, st.st_mode & 07777);
    rc = write_header(s, fd, tmp);
    kl_buf out = KL_BUF_INIT, one = KL_BUF_INIT;
    uint64_t woff = FHDR;
    for (size_t i = 0; !rc && i < n; i++) {
        if (v[i].len > SIZE_MAX / 2) {
            rc = kl_seterr(KL_ETOOBIG, "%s: record too large", s->url);
            break;
        }
        if ((rc = kl_buf_reserve(&one, (size_t)v[i].len)))
            break;
        size_t got = 0;
        if ((rc = kl__fsio_pread(s->fd, one.data, (size_t)v[i].len, (int64_t)v[i].off, &got,
                                s->path)))
            break;
        rec r;
        if (got < v[i].len || !rec_header(one.data, &r) || r.len != v[i].len ||
            !rec_body_ok(&r, one.data + RHDR))
            continue; /* damaged: verify reports it, compaction drops it */
        if ((rc = kl_buf_append(&out, one.data, (size_t)v[i].len)))
            break;
        if (out.len >= SCAN_CHUNK) {
            rc = kl__fsio_pwrite(fd, out.data, out.len, (int64_t)woff, tmp);
            woff += out.len;
            kl_buf_reset(&out);
        }
    }
    if (!rc && out.len)
        rc = kl__fsio_pwrite(fd, out.data, out.len, (int64_t)woff, tmp);
    kl_buf_free(&out);
    kl_buf_free(&one);
    free(v);
    if (!rc && s->sync != KL_SYNC_NONE)
        rc = kl__fsio_fsync(fd, tmp);
    if (!rc && rename(tmp, s->path) < 0)
        rc = kl_seterrno(errno, "rename into place", s->path);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: compaction failed: %s", s->url, kl_errmsg());
        close(fd);
        unlink(tmp);
        free(tmp);
        return kl_seterr(rc, "%s", msg);
    }
    free(tmp);
    if (s->sync != KL_SYNC_NONE)
        kl__fsio_fsync_dir(s->dir);
    /* readers of the old file learn from this record that it was replaced */
    kl_buf mv = KL_BUF_INIT;
    if (!rec_build(&mv, T_MOVED, "", 0, "", 0))
        kl__fsio_pwrite(s->fd, mv.data, mv.len, (int64_t)s->end, s->path);
    kl_buf_free(&mv);
    /* switch to the new file, keeping the lock (taken on it before the
     * old one, which releases ours, is closed) */
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    close(s->fd);
    s->fd = fd;
    if (fstat(fd, &st) == 0) {
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    tab_reset(s);
    return scan(s);
}

/* ---- the slots --------------------------------------------------------- */

/* Read the record the index has for key into s->rbuf.  Returns 0 with *r
 * set, KL_ENOTFOUND, KL_ECORRUPT.  want_value false: key only. */
static int read_rec(fa *s, const void *key, size_t klen, bool want_value, rec *r)
{
    uint64_t lo, hi;
    key_hash(key, klen, &lo, &hi);
    slot *e = tab_find(s, lo, hi, false);
    if (!e || e->off == TOMB_OFF)
        return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
    size_t want = want_value ? (size_t)e->len : RHDR + klen;
    if (want > e->len)
        want = (size_t)e->len;
    int rc = kl_buf_reserve(&s->rbuf, want);
    size_t got = 0;
    if (!rc)
        rc = kl__fsio_pread(s->fd, s->rbuf.data, want, (int64_t)e->off, &got, s->path);
    if (rc)
        return rc;
    const uint8_t *p = s->rbuf.data;
    if (got < want || !rec_header(p, r) || r->len != e->len || r->lo != lo || r->hi != hi)
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: damaged header", s->url,
                         (unsigned long long)e->off);
    uint64_t klo, khi;
    key_hash(p + RHDR, r->klen < want - RHDR ? r->klen : want - RHDR, &klo, &khi);
    if (r->klen > want - RHDR || klo != lo || khi != hi)
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: key checksum mismatch", s->url,
                         (unsigned long long)e->off);
    if (r->klen != klen || memcmp(p + RHDR, key, klen))
        return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url); /* another key, same hash */
    if (want_value && XXH3_64bits(p + RHDR + klen, (size_t)r->vlen) != r->vhash)
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: value checksum mismatch", s->url,
                         (unsigned long long)e->off);
    return 0;
}

static int fa_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    fa *s = state;
    int rc = prepare_read(s);
    rec r;
    if (!rc)
        rc = read_rec(s, key, klen, true, &r);
    if (rc)
        return rc;
    kl_buf_reset(val);
    return kl_buf_append(val, s->rbuf.data + RHDR + klen, (size_t)r.vlen);
}

/* One look at the file's tail for the whole batch. */
static int fa_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       kl_buf *vals, bool *found)
{
    fa *s = state;
    int rc = prepare_read(s);
    for (size_t i = 0; !rc && i < n; i++) {
        rec r;
        int g = read_rec(s, keys[i], klens[i], true, &r);
        found[i] = g == 0;
        if (g == 0) {
            kl_buf_reset(&vals[i]);
            rc = kl_buf_append(&vals[i], s->rbuf.data + RHDR + klens[i], (size_t)r.vlen);
        } else if (g != KL_ENOTFOUND) {
            rc = g;
        }
    }
    return rc;
}

static int fa_contains(void *state, const void *key, size_t klen)
{
    fa *s = state;
    int rc = prepare_read(s);
    rec r;
    if (!rc)
        rc = read_rec(s, key, klen, false, &r);
    return rc == KL_ENOTFOUND ? 0 : rc ? rc : 1;
}

static int fa_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    fa *s = state;
    int rc = prepare_read(s);
    rec r;
    if (!rc)
        rc = read_rec(s, key, klen, false, &r);
    if (!rc) {
        out->stored_ns = r.ns;
        out->size = klen + r.vlen;
    }
    return rc;
}

static int check_sizes(fa *s, size_t klen, size_t vlen)
{
    if (klen > UINT32_MAX || vlen > (SIZE_MAX >> 2) - klen - RHDR)
        return kl_seterr(KL_ETOOBIG, "%s: entry of %zu + %zu bytes too large", s->url, klen, vlen);
    return 0;
}

static int fa_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    fa *s = state;
    int rc = check_sizes(s, klen, vlen);
    if (rc)
        return rc;
    if (s->sync == KL_SYNC_NONE) {
        size_t mark = s->pend.len;
        rc = rec_build(&s->pend, T_PUT, key, klen, val, vlen);
        if (rc)
            s->pend.len = mark;
        return rc ? rc : s->pend.len >= PENDING_MAX ? flush(s) : 0;
    }
    kl_buf one = KL_BUF_INIT;
    rc = rec_build(&one, T_PUT, key, klen, val, vlen);
    if (!rc)
        rc = append(s, one.data, one.len);
    kl_buf_free(&one);
    return rc;
}

static int fa_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    fa *s = state;
    kl_buf b = KL_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = check_sizes(s, klens[i], vlens[i]);
        if (!rc)
            rc = rec_build(&b, T_PUT, keys[i], klens[i], vals[i], vlens[i]);
    }
    if (!rc)
        rc = flush(s);
    /* one append: one lock, one write */
    if (!rc && b.len)
        rc = append(s, b.data, b.len);
    kl_buf_free(&b);
    return rc;
}

static int fa_del(void *state, const void *key, size_t klen)
{
    fa *s = state;
    int rc = flush(s);
    if (rc)
        return rc;
    if ((rc = lock_ex(s)))
        return rc;
    rc = refresh(s);
    rec r;
    if (!rc) {
        rc = read_rec(s, key, klen, false, &r);
        if (rc == KL_ECORRUPT)
            rc = 0; /* a damaged entry can be deleted */
    }
    kl_buf one = KL_BUF_INIT;
    if (!rc)
        rc = rec_build(&one, T_DEL, key, klen, "", 0);
    if (!rc)
        rc = append(s, one.data, one.len);
    kl_buf_free(&one);
    unlock(s);
    return rc;
}

static int fa_count(void *state, size_t *out)
{
    fa *s = state;
    int rc = prepare_read(s);
    *out = s->count;
    return rc;
}

/* Replace the file by an empty one. */
static int fa_clear(void *state)
{
    fa *s = state;
    kl_buf_reset(&s->pend);
    int rc = lock_ex(s);
    if (rc)
        return rc;
    rc = refresh(s);
    if (!rc)
        rc = compact_locked(s, true);
    unlock(s);
    return rc;
}

static int fa_sync(void *state)
{
    fa *s = state;
    int rc = flush(s);
    if (!rc && s->sync != KL_SYNC_NONE && fdatasync(s->fd) < 0)
        rc = kl_seterrno(errno, "fsync", s->path);
    return rc;
}

static int fa_compact(void *state)
{
    fa *s = state;
    int rc = flush(s);
    if (rc || (rc = lock_ex(s)))
        return rc;
    rc = compact_locked(s, false);
    unlock(s);
    return rc;
}

static int fa_describe(void *state, kl_buf *out)
{
    fa *s = state;
    int rc = prepare_read(s);
    static const char *const modes[] = {"none", "normal", "full"};
    if (!rc)
        rc = kl_buf_printf(out,
                           "format_version=%d\nsync=%s\nfile_bytes=%llu\n"
                           "live_bytes=%llu\ngarbage_bytes=%llu\nautocompact=%g\n",
                           FILE_VERSION, modes[s->sync], (unsigned long long)s->end,
                           (unsigned long long)s->live,
                           (unsigned long long)(s->end - FHDR - s->live), s->autocompact);
    return rc;
}

/* ---- verify ------------------------------------------------------------ */

/* Remove PATH.compact.PID files whose compacting process is gone (killed
 * mid-compaction: the archive itself was never affected). */
static void remove_stale_compactions(fa *s, kl_buf *report)
{
    char *b = strdup(s->path);
    DIR *d = b ? opendir(s->dir) : NULL;
    if (d) {
        const char *base = basename(b);
        size_t bl = strlen(base);
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strncmp(de->d_name, base, bl) || strncmp(de->d_name + bl, ".compact.", 9))
                continue;
            long pid = strtol(de->d_name + bl + 9, NULL, 10);
            if (pid <= 0 || !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
                continue;
            char *p = NULL;
            if (asprintf(&p, "%s/%s", s->dir, de->d_name) >= 0 && unlink(p) == 0 && report)
                kl_buf_printf(report, "%s: removed leftover %s\n", s->url, p);
            free(p);
        }
        closedir(d);
    }
    free(b);
}

static int fa_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    fa *s = state;
    int rc = flush(s);
    if (rc || (rc = lock_ex(s)))
        return rc;
    tab_reset(s);
    s->no_cut = !repair; /* checking alone changes nothing */
    rc = scan(s);
    s->no_cut = false;
    size_t n = 0, np = 0;
    slot *v = rc ? NULL : live_sorted(s, &n);
    if (!rc && !v)
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    kl_buf one = KL_BUF_INIT;
    for (size_t i = 0; !rc && i < n; i++) {
        if ((rc = kl_buf_reserve(&one, (size_t)v[i].len)))
            break;
        size_t got = 0;
        if ((rc = kl__fsio_pread(s->fd, one.data, (size_t)v[i].len, (int64_t)v[i].off, &got,
                                s->path)))
            break;
        rec r;
        bool hdr = got >= RHDR && rec_header(one.data, &r);
        if (hdr && got == v[i].len && rec_body_ok(&r, one.data + RHDR))
            continue;
        np++;
        if (report) {
            if (hdr && got >= RHDR + (uint64_t)r.klen)
                hexkey(report, one.data + RHDR, r.klen);
            else
                kl_buf_printf(report, "record at byte %llu", (unsigned long long)v[i].off);
            kl_buf_printf(report, " (record at byte %llu): checksum mismatch%s\n",
                          (unsigned long long)v[i].off, repair ? " (dropped)" : "");
        }
    }
    kl_buf_free(&one);
    free(v);
    if (!rc && s->damaged) {
        np++;
        if (report)
            kl_buf_printf(report,
                          "%s: %llu bytes of unreadable records skipped (entries in them are "
                          "lost)%s\n",
                          s->url, (unsigned long long)s->damaged, repair ? " (dropped)" : "");
    }
    if (!rc && repair && np)
        rc = compact_locked(s, false);
    if (!rc && repair)
        remove_stale_compactions(s, report);
    unlock(s);
    *problems = np;
    return rc;
}

/* ---- iteration: over a snapshot of the index, on the file as it was --- */

typedef struct fcur {
    fa *s;
    int fd;
    slot *v;
    size_t n, i;
    kl_buf buf;
} fcur;

static int fa_iter_new(void *state, void **out)
{
    fa *s = state;
    int rc = prepare_read(s);
    if (rc)
        return rc;
    fcur *c = calloc(1, sizeof *c);
    if (!c || !(c->v = live_sorted(s, &c->n))) {
        free(c);
        return kl_seterr(KL_ENOMEM, "out of memory");
    }
    c->s = s;
    /* our own descriptor: a compaction meanwhile leaves this file intact */
    c->fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
    if (c->fd < 0) {
        rc = kl_seterrno(errno, "dup", s->path);
        free(c->v);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int fa_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    fcur *c = cur;
    if (c->i >= c->n)
        return 0;
    slot *e = &c->v[c->i++];
    size_t got = 0;
    int rc = kl_buf_reserve(&c->buf, (size_t)e->len);
    if (!rc)
        rc = kl__fsio_pread(c->fd, c->buf.data, (size_t)e->len, (int64_t)e->off, &got, c->s->path);
    if (rc)
        return rc;
    rec r;
    if (got < e->len || !rec_header(c->buf.data, &r) || r.len != e->len ||
        !rec_body_ok(&r, c->buf.data + RHDR))
        return kl_seterr(KL_ECORRUPT, "%s: record at byte %llu: damaged", c->s->url,
                         (unsigned long long)e->off);
    kl_buf_reset(key);
    rc = kl_buf_append(key, c->buf.data + RHDR, r.klen);
    if (!rc && val) {
        kl_buf_reset(val);
        rc = kl_buf_append(val, c->buf.data + RHDR + r.klen, (size_t)r.vlen);
    }
    return rc ? rc : 1;
}

static void fa_iter_free(void *cur)
{
    fcur *c = cur;
    close(c->fd);
    free(c->v);
    kl_buf_free(&c->buf);
    free(c);
}

/* ---- open / close / drop ----------------------------------------------- */

static void fa_free(fa *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->tab);
    kl_buf_free(&s->pend);
    kl_buf_free(&s->rbuf);
    free(s->url);
    free(s->path);
    free(s->dir);
    free(s);
}

static int fa_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    if (!*url->rest)
        return kl_seterr(KL_EINVAL, "%s: file: needs a path (file:PATH)", url->full);
    fa *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->fd = -1;
    s->end = FHDR;
    s->autocompact = 0.5;
    s->read_only = opts->read_only;
    int rc = 0;
    char *d = NULL;
    if (!(s->url = strdup(url->full)) || !(s->path = kl__abs_path(url->rest)) ||
        !(d = strdup(s->path)) || !(s->dir = strdup(dirname(d))))
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    free(d);
    if (!rc)
        rc = kl_url_sync_mode(url, &s->sync);
    if (!rc)
        rc = kl_url_double(url, "autocompact", 0, 1, &s->autocompact);
    bool create = opts->create && !opts->read_only;
    if (!rc && create && access(s->dir, F_OK) < 0)
        rc = kl__fsio_mkdirs(s->dir);
    if (!rc)
        rc = open_file(s, create);
    if (!rc)
        rc = scan(s);
    if (rc) {
        fa_free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int fa_close(void *state)
{
    fa *s = state;
    int rc = s->read_only ? 0 : fa_sync(s);
    fa_free(s);
    return rc;
}

static int fa_drop(void *state)
{
    fa *s = state;
    kl_buf_reset(&s->pend);
    if (unlink(s->path) < 0 && errno != ENOENT)
        return kl_seterr(kl__errno_code(errno), "%s: delete %s: %s", s->url, s->path,
                         strerror(errno));
    /* readers still holding the file learn it is gone */
    kl_buf mv = KL_BUF_INIT;
    if (!s->read_only && !rec_build(&mv, T_MOVED, "", 0, "", 0) && !lock_ex(s)) {
        scan(s);
        kl__fsio_pwrite(s->fd, mv.data, mv.len, (int64_t)s->end, s->path);
        unlock(s);
    }
    kl_buf_free(&mv);
    s->read_only = true; /* nothing to flush at close */
    return 0;
}

const kl_archive_backend kl__backend_file = {
    .version = KL_BACKEND_VERSION,
    .scheme = "file",
    .flags = 0,
    .open = fa_open,
    .close = fa_close,
    .get = fa_get,
    .put = fa_put,
    .del = fa_del,
    .contains = fa_contains,
    .count = fa_count,
    .stat = fa_stat,
    .clear = fa_clear,
    .sync = fa_sync,
    .drop = fa_drop,
    .put_many = fa_put_many,
    .get_many = fa_get_many,
    .describe = fa_describe,
    .iter_new = fa_iter_new,
    .iter_next = fa_iter_next,
    .iter_free = fa_iter_free,
    .verify = fa_verify,
    .compact = fa_compact,
};
