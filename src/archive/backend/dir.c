/* SPDX-License-Identifier: BSD-3-Clause */
/* dir: — a folder with one file per entry (klepto's dir_archive).
 *
 * An entry lives at SHARD/NAME where NAME is the 32-hex-digit XXH3-128 of
 * the key bytes and SHARD its first two digits, so no key ever becomes a
 * path.  The file holds a checksummed header, the full key and the value
 * (see docs/formats.md); a lookup whose stored key differs is a miss.
 * Writes go to a temporary file in the shard and are renamed over the
 * entry, so readers see the old or the new file, never a mix (the folder
 * machinery is keyfolder.c, shared with hdf5dir:).  Large typed
 * numeric arrays are stored uncompressed with their elements 64-byte
 * aligned, so get_view can map them instead of copying. */
#define _GNU_SOURCE
#include "archive/backends.h"
#include "archive/util/fsio.h"
#include "archive/util/keyfolder.h"
#include "internal.h"
#include "archive/util/le.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

#define DIR_VERSION 1
#define ENT_MAGIC "KLDE"
#define ENT_VERSION 1
#define HDR 64
#define F_ZSTD 0x1u
#define F_ARRAY 0x2u
#define F_KNOWN (F_ZSTD | F_ARRAY)
#define ALIGN 64
#define ARRAY_MIN (64 * 1024)  /* arrays from this size are stored mappable */
#define COMPRESS_MIN 64        /* smaller values are never worth compressing */
#define NAME_LEN 35            /* "ab/" + 32 hex digits */
#define PENDING_MAX 65536      /* beyond this many unsynced files, syncfs */
#define WALK_EVERY 4           /* dir_oldest walks at least every 4th call */

static const kl__keyfolder_layout layout = {
    .scheme = "dir",
    .marker = "klepto-dir.meta",
    .magic = "KLEPTODR",
    .version = DIR_VERSION,
    .suffix = "",
};

typedef struct dir_state {
    kl__keyfolder kf;
    bool zstd;
    int level;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    kl_buf file, zbuf;
    kl_buf pending; /* names written since the last sync (sync=normal) */
    size_t npending;
    bool overflow;
    uint8_t dirty_shard[256];
    bool root_dirty;
    struct dir_ages *ages; /* the last walk of dir_oldest, or NULL */
    unsigned skip_walks;   /* dir_oldest calls that may use ages without a walk */
} dir_state;

typedef struct entry {
    uint16_t flags;
    uint32_t klen, voff;
    uint64_t vlen, rawlen;
    int64_t ns;
    const uint8_t *key, *val; /* val NULL when only the key was read */
} entry;

static void entry_name(dir_state *s, const void *key, size_t klen, char out[NAME_LEN + 1])
{
    kl__keyfolder_rel(&s->kf, key, klen, out);
}

static int corrupt(dir_state *s, const char *name, const char *what)
{
    return kl_seterr(KL_ECORRUPT, "%s: entry %s: %s", s->kf.url, name, what);
}

/* ---- reading one entry file -------------------------------------------- */

/* Validate the header in p[0..HDR) against the file size. */
static int parse_header(dir_state *s, const char *name, const uint8_t *p, uint64_t fsize, entry *e)
{
    if (fsize < HDR)
        return corrupt(s, name, "truncated header");
    if (memcmp(p, ENT_MAGIC, 4))
        return corrupt(s, name, "bad magic number");
    if (XXH3_64bits(p, 56) != le64_get(p + 56))
        return corrupt(s, name, "header checksum mismatch");
    uint16_t ver = le16_get(p + 4);
    if (ver > ENT_VERSION)
        return kl_seterr(KL_EVERSION, "%s: entry %s: format version %u (this library reads %d)",
                         s->kf.url, name, ver, ENT_VERSION);
    e->flags = le16_get(p + 6);
    e->klen = le32_get(p + 8);
    e->voff = le32_get(p + 12);
    e->vlen = le64_get(p + 16);
    e->rawlen = le64_get(p + 24);
    e->ns = (int64_t)le64_get(p + 32);
    if (e->flags & ~F_KNOWN)
        return kl_seterr(KL_EVERSION, "%s: entry %s: unknown flags 0x%x", s->kf.url, name,
                         e->flags);
    if (e->voff < (uint64_t)HDR + e->klen || e->vlen > fsize || e->voff != fsize - e->vlen)
        return corrupt(s, name, "lengths do not match the file size (truncated?)");
    if (!(e->flags & F_ZSTD) && e->rawlen != e->vlen)
        return corrupt(s, name, "inconsistent value length");
    return 0;
}

/* Read SHARD/NAME into buf and validate it.  want_value false: header and
 * key only.  KL_ENOTFOUND when there is no such file. */
static int read_entry(dir_state *s, const char *name, kl_buf *buf, bool want_value, entry *e)
{
    /* a FIFO or a folder at the name is a damaged entry, never a hang */
    int fd;
    struct stat st;
    int rc = kl__keyfolder_open_entry(&s->kf, name, &fd, &st);
    if (rc)
        return rc;
    size_t want = want_value ? 64 * 1024 : 4096, got = 0;
    rc = kl_buf_reserve(buf, want);
    /* one read: on a regular file a short count means the end of it, and
     * most entries are smaller than the first read */
    ssize_t r;
    while (!rc && (r = pread(fd, buf->data, want, 0)) < 0 && errno == EINTR)
        ;
    if (!rc && r < 0)
        rc = kl__keyfolder_fail(&s->kf, kl_seterrno(errno, "read", name));
    else if (!rc)
        got = (size_t)r;
    /* a short read is the whole file; else the size fstat saw (a file
     * cut meanwhile is caught by the read of the rest below) */
    uint64_t fsize = got < want || (uint64_t)st.st_size < got ? got : (uint64_t)st.st_size;
    if (!rc)
        rc = parse_header(s, name, buf->data, fsize, e);
    uint64_t need = want_value ? fsize : (uint64_t)HDR + (rc ? 0 : e->klen);
    if (!rc && need > got) {
        if (need > SIZE_MAX / 2)
            rc = kl_seterr(KL_ETOOBIG, "%s: entry %s too large", s->kf.url, name);
        if (!rc && !(rc = kl_buf_reserve(buf, (size_t)need))) {
            size_t more = 0;
            rc = kl__keyfolder_fail(&s->kf, kl__fsio_pread(fd, buf->data + got,
                                                          (size_t)need - got, (int64_t)got,
                                                          &more, name));
            if (!rc && got + more < need)
                rc = corrupt(s, name, "truncated (the file shrank while reading)");
        }
    }
    close(fd);
    if (rc)
        return rc;
    buf->len = (size_t)need;
    e->key = buf->data + HDR;
    e->val = want_value ? buf->data + e->voff : NULL;
    if (XXH3_64bits(e->key, e->klen) != le64_get(buf->data + 40))
        return corrupt(s, name, "key checksum mismatch");
    if (want_value && XXH3_64bits(e->val, (size_t)e->vlen) != le64_get(buf->data + 48))
        return corrupt(s, name, "value checksum mismatch");
    return 0;
}

static bool same_key(const entry *e, const void *key, size_t klen)
{
    return e->klen == klen && !memcmp(e->key, key, klen);
}

/* The value of a validated entry into out.  A compressed value is
 * decompressed into a buffer that grows with the output really produced,
 * so a header claiming a huge raw length over a small frame allocates
 * nothing of that size (docs/security.md). */
static int entry_value(dir_state *s, const char *name, const entry *e, kl_buf *out)
{
    kl_buf_reset(out);
    if (!(e->flags & F_ZSTD))
        return kl_buf_append(out, e->val, (size_t)e->vlen);
    if (e->rawlen > SIZE_MAX / 2)
        return corrupt(s, name, "value too large");
    if (!s->dctx && !(s->dctx = ZSTD_createDCtx()))
        return kl_seterr(KL_ENOMEM, "%s: out of memory for zstd", s->kf.url);
    ZSTD_DCtx_reset(s->dctx, ZSTD_reset_session_only);
    size_t want = (size_t)e->rawlen, step = (size_t)e->vlen * 4 + 65536;
    ZSTD_inBuffer in = {e->val, (size_t)e->vlen, 0};
    for (;;) {
        /* room for one byte more than claimed: a frame that goes on is
         * caught, and one that ends exactly at the claim can say so */
        size_t room = want + 1 - out->len < step ? want + 1 - out->len : step;
        int rc = kl_buf_reserve(out, room);
        if (rc)
            return rc;
        ZSTD_outBuffer o = {out->data, out->len + room, out->len};
        size_t r = ZSTD_decompressStream(s->dctx, &o, &in);
        /* zstd allocates its window here: out of memory is not damage */
        if (ZSTD_isError(r) && ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
            return kl_seterr(KL_ENOMEM, "%s: out of memory for zstd", s->kf.url);
        if (ZSTD_isError(r))
            return corrupt(s, name, "compressed value does not decompress");
        out->len = o.pos;
        if (r == 0)
            break; /* the frame is complete */
        if (out->len > want || (in.pos == in.size && o.pos < o.size))
            return corrupt(s, name, "compressed value does not decompress to its length");
        step *= 2;
    }
    if (out->len != want || in.pos != in.size)
        return corrupt(s, name, "compressed value does not decompress to its length");
    return 0;
}

/* ---- the slots --------------------------------------------------------- */

/* The entry stored for `key`: its file name into `name` and the validated
 * entry into *e.  KL_ENOTFOUND when there is none or another key's entry
 * holds the name (a hash collision is a miss, never a wrong value). */
static int find_entry(dir_state *s, const void *key, size_t klen, bool want_value,
                      char name[NAME_LEN + 1], entry *e)
{
    entry_name(s, key, klen, name);
    int rc = read_entry(s, name, &s->file, want_value, e);
    if (!rc && !same_key(e, key, klen))
        rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->kf.url);
    return rc;
}

static int dir_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    dir_state *s = state;
    char name[NAME_LEN + 1];
    entry e;
    int rc = find_entry(s, key, klen, true, name, &e);
    return rc ? rc : entry_value(s, name, &e, val);
}

static int dir_contains(void *state, const void *key, size_t klen)
{
    dir_state *s = state;
    char name[NAME_LEN + 1];
    entry_name(s, key, klen, name);
    entry e;
    int rc = read_entry(s, name, &s->file, false, &e);
    if (rc == KL_ENOTFOUND)
        return 0;
    return rc ? rc : same_key(&e, key, klen);
}

static int dir_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    dir_state *s = state;
    char name[NAME_LEN + 1];
    entry e;
    int rc = find_entry(s, key, klen, false, name, &e);
    if (!rc) {
        out->stored_ns = e.ns;
        out->size = klen + e.rawlen;
    }
    return rc;
}

static void ages_note_put(dir_state *s, const char *name, int fd, int64_t ns, const void *key,
                          size_t klen);
static int ages_fast_del(dir_state *s, const char *name, const void *key, size_t klen);
static void ages_free(struct dir_ages *t);

static int remember_pending(dir_state *s, const char *name)
{
    if (s->kf.sync != KL_SYNC_NORMAL || s->overflow)
        return 0;
    if (s->npending >= PENDING_MAX) {
        s->overflow = true;
        return 0;
    }
    s->npending++;
    return kl_buf_append(&s->pending, name, NAME_LEN + 1);
}

static int create_tmp(kl__keyfolder *kf, const char *tmp, void *arg)
{
    int fd = openat(kf->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno == ENOENT || errno == EEXIST))
        return errno; /* kl__keyfolder_create_tmp makes the shard or picks another name */
    if (fd < 0)
        return kl_seterr(kl__errno_code(errno), "%s: create entry %s: %s", kf->url, tmp,
                         strerror(errno));
    *(int *)arg = fd;
    return 0;
}

static int dir_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    dir_state *s = state;
    if (klen > UINT32_MAX - HDR - 2 * ALIGN)
        return kl_seterr(KL_ETOOBIG, "%s: key of %zu bytes too long", s->kf.url, klen);
    char name[NAME_LEN + 1];
    entry_name(s, key, klen, name);

    uint16_t flags = 0;
    const void *stored = val;
    size_t slen = vlen;
    uint64_t voff = HDR + klen;
    kl__tarray ta;
    if (vlen >= ARRAY_MIN && kl__tarray_parse(val, vlen, &ta)) {
        flags = F_ARRAY;
        voff = (HDR + klen + ta.head + ALIGN - 1) / ALIGN * ALIGN - ta.head;
        if (voff < HDR + klen)
            voff += ALIGN;
    } else if (s->zstd && vlen >= COMPRESS_MIN) {
        if (!s->cctx && !(s->cctx = ZSTD_createCCtx()))
            return kl_seterr(KL_ENOMEM, "%s: out of memory for zstd", s->kf.url);
        size_t bound = ZSTD_compressBound(vlen);
        kl_buf_reset(&s->zbuf);
        int rc = kl_buf_reserve(&s->zbuf, bound);
        if (rc)
            return rc;
        size_t z = ZSTD_compressCCtx(s->cctx, s->zbuf.data, bound, val, vlen, s->level);
        if (ZSTD_isError(z) && ZSTD_getErrorCode(z) == ZSTD_error_memory_allocation)
            return kl_seterr(KL_ENOMEM, "%s: out of memory for zstd", s->kf.url);
        if (ZSTD_isError(z))
            return kl_seterr(KL_EIO, "%s: zstd: %s", s->kf.url, ZSTD_getErrorName(z));
        if (z < vlen) {
            flags = F_ZSTD;
            stored = s->zbuf.data;
            slen = z;
        }
    }

    uint8_t hdr[HDR], pad[2 * ALIGN];
    memcpy(hdr, ENT_MAGIC, 4);
    le16_put(hdr + 4, ENT_VERSION);
    le16_put(hdr + 6, flags);
    le32_put(hdr + 8, (uint32_t)klen);
    le32_put(hdr + 12, (uint32_t)voff);
    le64_put(hdr + 16, slen);
    le64_put(hdr + 24, vlen);
    int64_t now = kl__now_ns();
    le64_put(hdr + 32, (uint64_t)now);
    le64_put(hdr + 40, XXH3_64bits(key, klen));
    le64_put(hdr + 48, XXH3_64bits(stored, slen));
    le64_put(hdr + 56, XXH3_64bits(hdr, 56));
    memset(pad, 0, sizeof pad);

    char tmp[KL_KEYFOLDER_TMP_MAX];
    bool new_shard;
    int fd = -1;
    int rc = kl__keyfolder_create_tmp(&s->kf, name, tmp, create_tmp, &fd, &new_shard);
    if (rc)
        return rc;
    struct iovec iov[4] = {
        {hdr, HDR},
        {(void *)key, klen},
        {pad, (size_t)(voff - HDR - klen)},
        {(void *)stored, slen},
    };
    rc = kl__fsio_pwritev(fd, iov, 4, 0, tmp);
    if (!rc && s->kf.sync == KL_SYNC_FULL && fdatasync(fd) < 0)
        rc = kl_seterrno(errno, "fsync", tmp);
    if (!rc && s->ages) /* known to the next walk of dir_oldest without reading it */
        ages_note_put(s, name, fd, now, key, klen);
    if (close(fd) < 0 && !rc)
        rc = kl_seterrno(errno, "close", tmp);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %s", s->kf.url, kl_errmsg());
        unlinkat(s->kf.rootfd, tmp, 0);
        return kl_seterr(rc, "%s", msg);
    }
    rc = kl__keyfolder_commit(&s->kf, tmp, name, new_shard);
    if (!rc && s->kf.sync == KL_SYNC_NORMAL) {
        s->dirty_shard[kl__keyfolder_shard_index(name)] = 1;
        s->root_dirty |= new_shard;
        rc = remember_pending(s, name);
    }
    return rc;
}

static int dir_del(void *state, const void *key, size_t klen)
{
    dir_state *s = state;
    char name[NAME_LEN + 1];
    entry_name(s, key, klen, name);
    int rc = ages_fast_del(s, name, key, klen);
    if (rc != 1)
        return rc;
    entry e;
    rc = read_entry(s, name, &s->file, false, &e);
    if (rc == KL_ENOTFOUND)
        return rc;
    /* a damaged entry at this key's name is deleted too: the name says
     * whose it is, whatever the damage */
    if (!rc && !same_key(&e, key, klen))
        return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->kf.url);
    rc = kl__keyfolder_unlink(&s->kf, name);
    if (!rc && s->kf.sync != KL_SYNC_FULL)
        s->dirty_shard[kl__keyfolder_shard_index(name)] = 1;
    return rc;
}

static int dir_count(void *state, size_t *out)
{
    dir_state *s = state;
    return kl__keyfolder_count(&s->kf, out);
}

static int dir_clear(void *state)
{
    dir_state *s = state;
    int rc = kl__keyfolder_clear(&s->kf);
    memset(s->dirty_shard, 1, sizeof s->dirty_shard);
    ages_free(s->ages); /* new files may get the old ones' inode numbers */
    free(s->ages);
    s->ages = NULL;
    return rc;
}

static int dir_sync(void *state)
{
    dir_state *s = state;
    if (s->kf.sync != KL_SYNC_NORMAL)
        return 0;
    int rc = 0;
    if (s->overflow) {
        if (syncfs(s->kf.rootfd) < 0)
            rc = kl_seterrno(errno, "syncfs", s->kf.root);
    } else {
        for (size_t off = 0; !rc && off < s->pending.len; off += NAME_LEN + 1)
            rc = kl__keyfolder_fsync_at(&s->kf, (const char *)s->pending.data + off, O_RDONLY);
        for (int i = 0; !rc && i < 256; i++)
            if (s->dirty_shard[i])
                rc = kl__keyfolder_fsync_shard(&s->kf, i);
        if (!rc && s->root_dirty)
            rc = kl__fsio_fsync(s->kf.rootfd, s->kf.root);
    }
    if (!rc) {
        kl_buf_reset(&s->pending);
        s->npending = 0;
        s->overflow = s->root_dirty = false;
        memset(s->dirty_shard, 0, sizeof s->dirty_shard);
    }
    return rc;
}

/* ---- verify ------------------------------------------------------------ */

/* 1 when entry rel is damaged; a newer format is not damage. */
static int check_entry(kl__keyfolder *kf, const char *rel, void *arg)
{
    dir_state *s = (dir_state *)kf; /* kf is its first member */
    kl_buf *buf = arg;
    entry e;
    int rc = read_entry(s, rel, buf, true, &e);
    if (!rc)
        rc = kl__keyfolder_check_name(kf, rel, e.key, e.klen);
    if (!rc) {
        kl_buf tmp = KL_BUF_INIT;
        rc = entry_value(s, rel, &e, &tmp) ? KL_ECORRUPT : 0;
        kl_buf_free(&tmp);
    }
    if (rc == KL_ECORRUPT)
        return 1;
    return rc == KL_ENOTFOUND || rc == KL_EVERSION ? 0 : rc;
}

static int dir_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    dir_state *s = state;
    kl_buf buf = KL_BUF_INIT;
    int rc = kl__keyfolder_verify(&s->kf, repair, report, problems, check_entry, &buf);
    kl_buf_free(&buf);
    return rc;
}

/* ---- views ------------------------------------------------------------- */

static void map_release(kl_view *v)
{
    munmap(v->priv, v->priv_len);
    free(v);
}

static int dir_get_view(void *state, const void *key, size_t klen, kl_view **out)
{
    dir_state *s = state;
    char name[NAME_LEN + 1];
    entry e;
    int rc = find_entry(s, key, klen, false, name, &e);
    if (rc)
        return rc;
    kl__tarray ta;
    if (!(e.flags & F_ARRAY)) {
        /* small or compressed: a view over a copy */
        kl_buf v = KL_BUF_INIT;
        rc = dir_get(s, key, klen, &v);
        if (!rc && !kl__tarray_parse(v.data, v.len, &ta))
            rc = kl_seterr(KL_ETYPE, "%s: the value is not a typed numeric array", s->kf.url);
        if (!rc) {
            rc = kl__view_from_copy(out, v.data, v.len, &ta);
            v.data = NULL;
        }
        kl_buf_free(&v);
        return rc;
    }
    /* The mapping is of the inode opened now: a later replace renames a new
     * file over the name and leaves this one intact until unmapped. */
    int fd;
    struct stat st;
    if ((rc = kl__keyfolder_open_entry(&s->kf, name, &fd, &st)))
        return rc;
    uint8_t hdr[HDR];
    size_t got = 0;
    void *map = MAP_FAILED;
    rc = kl__keyfolder_fail(&s->kf, kl__fsio_pread(fd, hdr, HDR, 0, &got, name));
    if (!rc)
        rc = parse_header(s, name, hdr, (uint64_t)st.st_size, &e);
    if (!rc && (le64_get(hdr + 40) != XXH3_64bits(key, klen) || e.klen != klen ||
                !(e.flags & F_ARRAY)))
        rc = kl_seterr(KL_EBUSY, "%s: entry %s changed while opening it; retry", s->kf.url, name);
    if (!rc) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            rc = kl__keyfolder_fail(&s->kf, kl_seterrno(errno, "map entry", name));
    }
    close(fd);
    if (rc)
        return rc;
    if (memcmp((uint8_t *)map + HDR, key, klen) ||
        !kl__tarray_parse((uint8_t *)map + e.voff, (size_t)e.vlen, &ta)) {
        munmap(map, (size_t)st.st_size);
        return corrupt(s, name, "array entry does not hold the expected array");
    }
    kl_view *v = calloc(1, sizeof *v);
    if (!v) {
        munmap(map, (size_t)st.st_size);
        return kl_seterr(KL_ENOMEM, "out of memory");
    }
    v->data = (uint8_t *)map + e.voff + ta.head;
    v->nbytes = ta.nbytes;
    v->dtype = ta.dtype;
    v->ndim = ta.ndim;
    memcpy(v->shape, ta.shape, sizeof v->shape);
    v->mapped = true;
    v->release = map_release;
    v->priv = map;
    v->priv_len = (size_t)st.st_size;
    *out = v;
    return 0;
}

static int iter_read(kl__keyfolder *kf, const char *rel, kl_buf *scratch, kl_buf *key,
                     kl_buf *val)
{
    dir_state *s = (dir_state *)kf; /* kf is its first member */
    entry e;
    int rc = read_entry(s, rel, scratch, val != NULL, &e);
    if (rc)
        return rc;
    kl_buf_reset(key);
    rc = kl_buf_append(key, e.key, e.klen);
    if (!rc && val)
        rc = entry_value(s, rel, &e, val);
    return rc;
}

/* ---- the oldest entries (size limits) ----------------------------------
 * One walk of the folder listing; an entry file's stored time and key are
 * read only when the handle has not seen that file before: the last
 * walk's (name, inode) -> (time, key) table is kept, and a file replaced
 * since has a new inode (a put renames a new file over it).  The handle's
 * own puts go into the table as they are written (so the walk never reads
 * them) and its deletes of a file in the table (same inode) unlink by name
 * without reading it.  A walk that finds exactly what the table said (no
 * file it did not know, none gone that it knew) lets the next
 * WALK_EVERY - 1 calls answer from the table alone: nobody else writes
 * here, so listing 256 shards again would only tell it what it knows.
 * Those calls walk all the same when the table says the archive is not
 * over `over` (the caller counted more: another wrote), and a walk that
 * finds another's files walks every time again.  The count such a call
 * gives is what this handle knows; kl__limits_at_close counts (a listing)
 * and cleans again when that was short. */

typedef struct age_ent {
    uint64_t lo, hi; /* the entry's name, 32 hex digits */
    ino_t ino;
    int64_t ns;
    uint8_t *key; /* heap; NULL once moved to the next table */
    size_t klen;
    bool used;
} age_ent;

struct dir_ages {
    age_ent *v;
    size_t cap, n; /* cap a power of two, n <= cap / 2 */
};

static void ages_free(struct dir_ages *t)
{
    for (size_t i = 0; t && i < t->cap; i++)
        free(t->v[i].key);
    if (t)
        free(t->v);
}

static size_t ages_slot(const struct dir_ages *t, uint64_t lo, uint64_t hi)
{
    size_t i = (size_t)(lo ^ (hi * 0x9e3779b97f4a7c15ull)) & (t->cap - 1);
    while (t->v[i].used && (t->v[i].lo != lo || t->v[i].hi != hi))
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int ages_grow(struct dir_ages *t)
{
    if (t->cap && t->n + 1 <= t->cap / 2)
        return 0;
    size_t cap = t->cap ? 2 * t->cap : 4096;
    struct dir_ages g = {calloc(cap, sizeof(age_ent)), cap, t->n};
    if (!g.v)
        return KL_ENOMEM; /* the caller says so, or not: the table is as it was */
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].used)
            g.v[ages_slot(&g, t->v[i].lo, t->v[i].hi)] = t->v[i];
    free(t->v);
    *t = g;
    return 0;
}

static bool name_bits(const char *base, uint64_t *lo, uint64_t *hi)
{
    uint64_t w[2] = {0, 0};
    for (int i = 0; i < KL_KEYFOLDER_HEX; i++) {
        char c = base[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16;
        if (d == 16)
            return false;
        w[i / 16] = w[i / 16] << 4 | d;
    }
    *lo = w[0];
    *hi = w[1];
    return true;
}

typedef struct oldest_walk {
    struct dir_ages *old, next;
    kl_buf scratch;
    size_t surprises; /* files the old table did not know, or knew otherwise */
} oldest_walk;

static int oldest_fn(kl__keyfolder *kf, const char *rel, const char *base, void *arg)
{
    dir_state *s = (dir_state *)kf;
    oldest_walk *w = arg;
    uint64_t lo, hi;
    if (!kl__keyfolder_is_entry(kf, base) || !name_bits(base, &lo, &hi))
        return 0;
    if (ages_grow(&w->next))
        return kl_seterr(KL_ENOMEM, "%s: out of memory", kf->url);
    int rc;
    age_ent *to = &w->next.v[ages_slot(&w->next, lo, hi)];
    if (to->used)
        return 0; /* listed twice (a rename during the walk) */
    age_ent *was = w->old && w->old->cap ? &w->old->v[ages_slot(w->old, lo, hi)] : NULL;
    if (was && was->used && was->key && was->ino == kf->walk_ino) {
        *to = *was; /* seen before, not replaced since */
        was->key = NULL;
    } else {
        w->surprises++;
        entry e;
        rc = read_entry(s, rel, &w->scratch, false, &e);
        if (rc == KL_ENOTFOUND || rc == KL_ECORRUPT || rc == KL_EVERSION)
            return 0; /* removed meanwhile; damaged (verify's to report) */
        if (rc)
            return rc;
        uint8_t *k = malloc(e.klen ? e.klen : 1);
        if (!k)
            return kl_seterr(KL_ENOMEM, "%s: out of memory", kf->url);
        memcpy(k, e.key, e.klen);
        *to = (age_ent){lo, hi, kf->walk_ino, e.ns, k, e.klen, true};
    }
    w->next.n++;
    return 0;
}

/* A put of this handle: its file (by inode) recorded with its time and
 * key, so the next walk need not read it.  Only a cache: when memory runs
 * out the entry is left unknown (read by the walk). */
static void ages_note_put(dir_state *s, const char *name, int fd, int64_t ns, const void *key,
                          size_t klen)
{
    uint64_t lo, hi;
    struct stat st;
    if (!name_bits(name + 3, &lo, &hi) || fstat(fd, &st) < 0)
        return;
    if (ages_grow(s->ages))
        return;
    size_t i = ages_slot(s->ages, lo, hi);
    uint8_t *k = malloc(klen ? klen : 1);
    if (!k)
        return;
    if (!s->ages->v[i].used)
        s->ages->n++;
    age_ent *a = &s->ages->v[i];
    free(a->key);
    memcpy(k, key, klen);
    *a = (age_ent){lo, hi, st.st_ino, ns, k, klen, true};
}

/* dir_del by name when the last walk (or a put of this handle) saw this
 * key in the file that is there now (same inode): no need to read it
 * again.  1: not known so, read it (dir_del's usual way). */
static int ages_fast_del(dir_state *s, const char *name, const void *key, size_t klen)
{
    uint64_t lo, hi;
    if (!s->ages || !s->ages->cap || !name_bits(name + 3, &lo, &hi))
        return 1;
    age_ent *a = &s->ages->v[ages_slot(s->ages, lo, hi)];
    struct stat st;
    if (!a->used || !a->key || a->klen != klen || memcmp(a->key, key, klen) ||
        fstatat(s->kf.rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        st.st_ino != a->ino)
        return 1;
    free(a->key); /* stays in the table (its probe chain), never matched again */
    a->key = NULL;
    int rc = kl__keyfolder_unlink(&s->kf, name);
    if (!rc && s->kf.sync != KL_SYNC_FULL)
        s->dirty_shard[kl__keyfolder_shard_index(name)] = 1;
    return rc;
}

static int by_ns(const void *a, const void *b)
{
    const age_ent *x = *(age_ent *const *)a, *y = *(age_ent *const *)b;
    return (x->ns > y->ns) - (x->ns < y->ns);
}

/* The oldest of the entries in t (those with a key), over and keep as in
 * the oldest slot; *count: how many entries t holds. */
static int oldest_of(dir_state *s, struct dir_ages *t, uint64_t over, uint64_t keep,
                     int (*fn)(void *ctx, const void *key, size_t klen), void *ctx,
                     uint64_t *count)
{
    age_ent **order = malloc((t->n ? t->n : 1) * sizeof *order);
    if (!order)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->kf.url);
    size_t m = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].used && t->v[i].key)
            order[m++] = &t->v[i];
    qsort(order, m, sizeof *order, by_ns);
    *count = m;
    int rc = 0;
    for (size_t i = 0; !rc && m > over && i + keep < m; i++)
        rc = fn(ctx, order[i]->key, order[i]->klen);
    free(order);
    return rc;
}

static int dir_oldest(void *state, uint64_t over, uint64_t keep,
                      int (*fn)(void *ctx, const void *key, size_t klen), void *ctx,
                      uint64_t *count)
{
    dir_state *s = state;
    /* Without a walk: what the last walk saw and this handle wrote since,
     * when walks have found only that lately (nobody else writes here)
     * and it says the archive is over `over` (else the caller knows
     * better: walk). */
    if (s->ages && s->skip_walks) {
        s->skip_walks--;
        uint64_t known = 0;
        int rc = oldest_of(s, s->ages, over, keep, fn, ctx, &known);
        if (rc || known > over) {
            *count = known;
            return rc;
        }
    }
    oldest_walk w = {s->ages, {NULL, 0, 0}, KL_BUF_INIT, 0};
    int rc = kl__keyfolder_walk(&s->kf, oldest_fn, &w);
    kl_buf_free(&w.scratch);
    for (size_t i = 0; s->ages && i < s->ages->cap; i++)
        w.surprises += s->ages->v[i].used && s->ages->v[i].key; /* removed by another */
    /* nothing new to this handle: the next WALK_EVERY - 1 calls need not walk */
    s->skip_walks = s->ages && !w.surprises ? WALK_EVERY - 1 : 0;
    ages_free(s->ages); /* what the walk did not see is gone */
    free(s->ages);
    s->ages = NULL;
    if (!rc)
        rc = oldest_of(s, &w.next, over, keep, fn, ctx, count);
    if (!rc && (s->ages = malloc(sizeof *s->ages)))
        *s->ages = w.next; /* for the next call */
    else
        ages_free(&w.next);
    return rc;
}

static int dir_iter_new(void *state, void **out)
{
    dir_state *s = state;
    return kl__keyfolder_iter_new(&s->kf, iter_read, out);
}

/* ---- open / close / drop ----------------------------------------------- */

static void dir_free(dir_state *s)
{
    ages_free(s->ages);
    free(s->ages);
    kl__keyfolder_close(&s->kf);
    ZSTD_freeCCtx(s->cctx);
    ZSTD_freeDCtx(s->dctx);
    kl_buf_free(&s->file);
    kl_buf_free(&s->zbuf);
    kl_buf_free(&s->pending);
    free(s);
}

static int dir_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    dir_state *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->level = 3;
    int rc = kl__keyfolder_init(&s->kf, &layout, url);
    const char *comp = kl_url_param_get(url, "compression");
    if (!rc && comp) {
        if (!strcmp(comp, "zstd"))
            s->zstd = true;
        else if (strcmp(comp, "none"))
            rc = kl_seterr(KL_EINVAL, "%s: compression=%s: expected zstd or none", url->full, comp);
    }
    uint64_t level = 3;
    if (!rc)
        rc = kl_url_uint(url, "level", 1, (uint64_t)ZSTD_maxCLevel(), &level);
    s->level = (int)level;
    if (!rc)
        rc = kl__keyfolder_attach(&s->kf, opts);
    if (rc) {
        dir_free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int dir_close(void *state)
{
    /* no fsync here: with sync=normal durability is kl_archive_sync()'s
     * job, and fsyncing every file written would make closing slow */
    dir_free(state);
    return 0;
}

static int dir_drop(void *state)
{
    dir_state *s = state;
    int rc = kl__keyfolder_drop(&s->kf);
    kl_buf_reset(&s->pending);
    s->npending = 0;
    return rc;
}

static int dir_describe(void *state, kl_buf *out)
{
    dir_state *s = state;
    return kl_buf_printf(out, "format_version=%d\ncompression=%s\nsync=%s\n",
                         ENT_VERSION, s->zstd ? "zstd" : "none", kl__keyfolder_sync_name(&s->kf));
}

static int dir_storage_bytes(void *state, uint64_t *out)
{
    return kl__keyfolder_storage(&((dir_state *)state)->kf, out);
}

static int dir_cleaner_lock(void *state, bool take)
{
    return kl__keyfolder_cleaner_lock(&((dir_state *)state)->kf, take);
}

const kl_archive_backend kl__backend_dir = {
    .version = KL_BACKEND_VERSION,
    .scheme = "dir",
    .flags = 0,
    .open = dir_open,
    .close = dir_close,
    .get = dir_get,
    .put = dir_put,
    .del = dir_del,
    .contains = dir_contains,
    .count = dir_count,
    .stat = dir_stat,
    .clear = dir_clear,
    .sync = dir_sync,
    .drop = dir_drop,
    .describe = dir_describe,
    .iter_new = dir_iter_new,
    .iter_next = kl__keyfolder_iter_next,
    .iter_free = kl__keyfolder_iter_free,
    .get_view = dir_get_view,
    .verify = dir_verify,
    .storage_bytes = dir_storage_bytes,
    .cleaner_lock = dir_cleaner_lock,
    .oldest = dir_oldest,
};