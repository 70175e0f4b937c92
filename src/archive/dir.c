/* dir: — a folder with one file per entry (klepto's dir_archive).
 *
 * An entry lives at SHARD/NAME where NAME is the 32-hex-digit XXH3-128 of
 * the key bytes and SHARD its first two digits, so no key ever becomes a
 * path.  The file holds a checksummed header, the full key and the value
 * (see docs/formats.md); a lookup whose stored key differs is a miss.
 * Writes go to a temporary file in the shard and are renamed over the
 * entry, so readers see the old or the new file, never a mix.  Large typed
 * numeric arrays are stored uncompressed with their elements 64-byte
 * aligned, so get_view can map them instead of copying. */
#define _GNU_SOURCE
#include "backends.h"
#include "fsio.h"
#include "internal.h"
#include "le.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define MARKER "klepto-dir.meta"
#define MARKER_MAGIC "KLEPTODR"
#define MARKER_LEN 16
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

typedef struct dir_state {
    char *url, *root;
    int rootfd;
    int sync;
    bool zstd;
    int level;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    kl_buf file, zbuf;
    pid_t pid; /* cached: getpid() is a system call */
    kl_buf pending; /* names written since the last sync (sync=normal) */
    size_t npending;
    bool overflow;
    uint8_t dirty_shard[256];
    bool root_dirty;
} dir_state;

typedef struct entry {
    uint16_t flags;
    uint32_t klen, voff;
    uint64_t vlen, rawlen;
    int64_t ns;
    const uint8_t *key, *val; /* val NULL when only the key was read */
} entry;

static const char hexd[] = "0123456789abcdef";
static _Atomic unsigned long long tmp_counter;

static void entry_name(const void *key, size_t klen, char out[NAME_LEN + 1])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(key, klen));
    for (int i = 0; i < 16; i++) {
        out[3 + 2 * i] = hexd[c.digest[i] >> 4];
        out[4 + 2 * i] = hexd[c.digest[i] & 15];
    }
    out[0] = out[3];
    out[1] = out[4];
    out[2] = '/';
    out[NAME_LEN] = '\0';
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

static int shard_index(const char *name)
{
    int hi = name[0] <= '9' ? name[0] - '0' : name[0] - 'a' + 10;
    int lo = name[1] <= '9' ? name[1] - '0' : name[1] - 'a' + 10;
    return hi * 16 + lo;
}

static int corrupt(dir_state *s, const char *name, const char *what)
{
    return kl_seterr(KL_ECORRUPT, "%s: entry %s: %s", s->url, name, what);
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
                         s->url, name, ver, ENT_VERSION);
    e->flags = le16_get(p + 6);
    e->klen = le32_get(p + 8);
    e->voff = le32_get(p + 12);
    e->vlen = le64_get(p + 16);
    e->rawlen = le64_get(p + 24);
    e->ns = (int64_t)le64_get(p + 32);
    if (e->flags & ~F_KNOWN)
        return kl_seterr(KL_EVERSION, "%s: entry %s: unknown flags 0x%x", s->url, name, e->flags);
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
    int fd = openat(s->rootfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
        return kl_seterrno(errno, "open entry", name);
    }
    size_t want = want_value ? 64 * 1024 : 4096, got = 0;
    int rc = kl_buf_reserve(buf, want);
    /* one read: on a regular file a short count means the end of it, and
     * most entries are smaller than the first read */
    ssize_t r;
    while (!rc && (r = pread(fd, buf->data, want, 0)) < 0 && errno == EINTR)
        ;
    if (!rc && r < 0)
        rc = kl_seterrno(errno, "read", name);
    else if (!rc)
        got = (size_t)r;
    uint64_t fsize = got;
    if (!rc && got == want) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            rc = kl_seterrno(errno, "stat entry", name);
        else
            fsize = (uint64_t)st.st_size;
    }
    if (!rc)
        rc = parse_header(s, name, buf->data, fsize, e);
    uint64_t need = want_value ? fsize : (uint64_t)HDR + (rc ? 0 : e->klen);
    if (!rc && need > got) {
        if (need > SIZE_MAX / 2)
            rc = kl_seterr(KL_ETOOBIG, "%s: entry %s too large", s->url, name);
        if (!rc && !(rc = kl_buf_reserve(buf, (size_t)need))) {
            size_t more = 0;
            rc = kl_fsio_pread(fd, buf->data + got, (size_t)need - got, (int64_t)got, &more, name);
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

/* The value of a validated entry into out. */
static int entry_value(dir_state *s, const char *name, const entry *e, kl_buf *out)
{
    kl_buf_reset(out);
    if (!(e->flags & F_ZSTD))
        return kl_buf_append(out, e->val, (size_t)e->vlen);
    if (e->rawlen > SIZE_MAX / 2)
        return corrupt(s, name, "value too large");
    int rc = kl_buf_reserve(out, (size_t)e->rawlen);
    if (rc)
        return rc;
    if (!s->dctx && !(s->dctx = ZSTD_createDCtx()))
        return kl_seterr(KL_ENOMEM, "%s: out of memory for zstd", s->url);
    size_t n = ZSTD_decompressDCtx(s->dctx, out->data, (size_t)e->rawlen, e->val, (size_t)e->vlen);
    if (ZSTD_isError(n) || n != e->rawlen)
        return corrupt(s, name, "compressed value does not decompress");
    out->len = n;
    return 0;
}

/* ---- the slots --------------------------------------------------------- */

/* The entry stored for `key`: its file name into `name` and the validated
 * entry into *e.  KL_ENOTFOUND when there is none or another key's entry
 * holds the name (a hash collision is a miss, never a wrong value). */
static int find_entry(dir_state *s, const void *key, size_t klen, bool want_value,
                      char name[NAME_LEN + 1], entry *e)
{
    entry_name(key, klen, name);
    int rc = read_entry(s, name, &s->file, want_value, e);
    if (!rc && !same_key(e, key, klen))
        rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
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
    entry_name(key, klen, name);
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

static int remember_pending(dir_state *s, const char *name)
{
    if (s->sync != KL_SYNC_NORMAL || s->overflow)
        return 0;
    if (s->npending >= PENDING_MAX) {
        s->overflow = true;
        return 0;
    }
    s->npending++;
    return kl_buf_append(&s->pending, name, NAME_LEN + 1);
}

static int fsync_at(dir_state *s, const char *rel, int flags)
{
    int fd = openat(s->rootfd, rel, flags | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : kl_seterrno(errno, "open for fsync", rel);
    int rc = kl_fsio_fsync(fd, rel);
    close(fd);
    return rc;
}

static int dir_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    dir_state *s = state;
    if (klen > UINT32_MAX - HDR - 2 * ALIGN)
        return kl_seterr(KL_ETOOBIG, "%s: key of %zu bytes too long", s->url, klen);
    char name[NAME_LEN + 1];
    entry_name(key, klen, name);

    uint16_t flags = 0;
    const void *stored = val;
    size_t slen = vlen;
    uint64_t voff = HDR + klen;
    kl_tarray ta;
    if (vlen >= ARRAY_MIN && kl_tarray_parse(val, vlen, &ta)) {
        flags = F_ARRAY;
        voff = (HDR + klen + ta.head + ALIGN - 1) / ALIGN * ALIGN - ta.head;
        if (voff < HDR + klen)
            voff += ALIGN;
    } else if (s->zstd && vlen >= COMPRESS_MIN) {
        if (!s->cctx && !(s->cctx = ZSTD_createCCtx()))
            return kl_seterr(KL_ENOMEM, "%s: out of memory for zstd", s->url);
        size_t bound = ZSTD_compressBound(vlen);
        kl_buf_reset(&s->zbuf);
        int rc = kl_buf_reserve(&s->zbuf, bound);
        if (rc)
            return rc;
        size_t z = ZSTD_compressCCtx(s->cctx, s->zbuf.data, bound, val, vlen, s->level);
        if (ZSTD_isError(z))
            return kl_seterr(KL_EIO, "%s: zstd: %s", s->url, ZSTD_getErrorName(z));
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
    le64_put(hdr + 32, (uint64_t)kl_now_ns());
    le64_put(hdr + 40, XXH3_64bits(key, klen));
    le64_put(hdr + 48, XXH3_64bits(stored, slen));
    le64_put(hdr + 56, XXH3_64bits(hdr, 56));
    memset(pad, 0, sizeof pad);

    /* ".tmp.PID.N": unique among live writers, and tells verify whether
     * the writer of a leftover is gone */
    char tmp[64];
    bool new_shard = false;
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 64; attempt++) {
        snprintf(tmp, sizeof tmp, "%.2s/.tmp.%d.%llu", name, (int)s->pid,
                 (unsigned long long)atomic_fetch_add(&tmp_counter, 1));
        fd = openat(s->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == ENOENT && !new_shard) {
            char shard[3] = {name[0], name[1], '\0'};
            if (mkdirat(s->rootfd, shard, 0777) < 0 && errno != EEXIST)
                return kl_seterrno(errno, "create folder", s->root);
            new_shard = true;
            attempt--;
        } else if (fd < 0 && errno == EEXIST) {
            s->pid = getpid(); /* a handle carried over a fork */
        } else if (fd < 0) {
            break;
        }
    }
    if (fd < 0)
        return kl_seterr(kl_errno_code(errno), "%s: create entry %s: %s", s->url, tmp,
                         strerror(errno));
    struct iovec iov[4] = {
        {hdr, HDR},
        {(void *)key, klen},
        {pad, (size_t)(voff - HDR - klen)},
        {(void *)stored, slen},
    };
    int rc = kl_fsio_pwritev(fd, iov, 4, 0, tmp);
    if (!rc && s->sync == KL_SYNC_FULL && fdatasync(fd) < 0)
        rc = kl_seterrno(errno, "fsync", tmp);
    if (close(fd) < 0 && !rc)
        rc = kl_seterrno(errno, "close", tmp);
    if (!rc && renameat(s->rootfd, tmp, s->rootfd, name) < 0)
        rc = kl_seterrno(errno, "rename into place", name);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %s", s->url, kl_errmsg());
        unlinkat(s->rootfd, tmp, 0);
        return kl_seterr(rc, "%s", msg);
    }
    int si = shard_index(name);
    if (s->sync == KL_SYNC_FULL) {
        char shard[3] = {name[0], name[1], '\0'};
        rc = fsync_at(s, shard, O_RDONLY | O_DIRECTORY);
        if (!rc && new_shard)
            rc = kl_fsio_fsync(s->rootfd, s->root);
    } else if (s->sync == KL_SYNC_NORMAL) {
        s->dirty_shard[si] = 1;
        s->root_dirty |= new_shard;
        rc = remember_pending(s, name);
    }
    return rc;
}

static int dir_del(void *state, const void *key, size_t klen)
{
    dir_state *s = state;
    char name[NAME_LEN + 1];
    entry_name(key, klen, name);
    entry e;
    int rc = read_entry(s, name, &s->file, false, &e);
    if (rc == KL_ENOTFOUND)
        return rc;
    /* a damaged entry at this key's name is deleted too: the name says
     * whose it is, whatever the damage */
    if (!rc && !same_key(&e, key, klen))
        return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
    if (unlinkat(s->rootfd, name, 0) < 0) {
        if (errno == ENOENT)
            return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
        return kl_seterr(kl_errno_code(errno), "%s: delete entry %s: %s", s->url, name,
                         strerror(errno));
    }
    char shard[3] = {name[0], name[1], '\0'};
    if (s->sync == KL_SYNC_FULL)
        return fsync_at(s, shard, O_RDONLY | O_DIRECTORY);
    s->dirty_shard[shard_index(name)] = 1;
    return 0;
}

/* ---- walking the folder ------------------------------------------------ */

/* Calls fn for every file of every shard (entries and temporaries). */
typedef int (*walk_fn)(dir_state *s, const char *rel, const char *base, void *arg);

static int walk(dir_state *s, walk_fn fn, void *arg)
{
    int fd = openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *root = fd < 0 ? NULL : fdopendir(fd);
    if (!root) {
        if (fd >= 0)
            close(fd);
        return kl_seterrno(errno, "list folder", s->root);
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(root))) {
        if (!is_hex(de->d_name, 2))
            continue;
        int sfd = openat(s->rootfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *sh = sfd < 0 ? NULL : fdopendir(sfd);
        if (!sh) {
            if (sfd >= 0)
                close(sfd);
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            rc = kl_seterrno(errno, "list folder", de->d_name);
            break;
        }
        struct dirent *fe;
        char rel[3 + sizeof fe->d_name];
        while (!rc && (fe = readdir(sh))) {
            if (fe->d_name[0] == '.' && (!fe->d_name[1] || !strcmp(fe->d_name, "..")))
                continue;
            memcpy(rel, de->d_name, 2);
            rel[2] = '/';
            memcpy(rel + 3, fe->d_name, strlen(fe->d_name) + 1);
            rc = fn(s, rel, fe->d_name, arg);
        }
        closedir(sh);
    }
    closedir(root);
    return rc;
}

static bool is_entry_file(const char *base) { return strlen(base) == 32 && is_hex(base, 32); }

/* A temporary file whose writer is gone (".tmp.PID.N" with PID dead). */
static bool is_stale_tmp(const char *base)
{
    if (strncmp(base, ".tmp.", 5))
        return false;
    long pid = strtol(base + 5, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int count_fn(dir_state *s, const char *rel, const char *base, void *arg)
{
    (void)s;
    (void)rel;
    if (is_entry_file(base))
        ++*(size_t *)arg;
    return 0;
}

static int dir_count(void *state, size_t *out)
{
    *out = 0;
    return walk(state, count_fn, out);
}

static int clear_fn(dir_state *s, const char *rel, const char *base, void *arg)
{
    (void)arg;
    if ((is_entry_file(base) || is_stale_tmp(base)) && unlinkat(s->rootfd, rel, 0) < 0 &&
        errno != ENOENT)
        return kl_seterr(kl_errno_code(errno), "%s: delete entry %s: %s", s->url, rel,
                         strerror(errno));
    return 0;
}

static int dir_clear(void *state)
{
    dir_state *s = state;
    int rc = walk(s, clear_fn, NULL);
    if (!rc && s->sync == KL_SYNC_FULL)
        rc = kl_fsio_fsync(s->rootfd, s->root);
    memset(s->dirty_shard, 1, sizeof s->dirty_shard);
    return rc;
}

static int dir_sync(void *state)
{
    dir_state *s = state;
    if (s->sync != KL_SYNC_NORMAL)
        return 0;
    int rc = 0;
    if (s->overflow) {
        if (syncfs(s->rootfd) < 0)
            rc = kl_seterrno(errno, "syncfs", s->root);
    } else {
        for (size_t off = 0; !rc && off < s->pending.len; off += NAME_LEN + 1)
            rc = fsync_at(s, (const char *)s->pending.data + off, O_RDONLY);
        for (int i = 0; !rc && i < 256; i++)
            if (s->dirty_shard[i]) {
                char shard[3] = {hexd[i >> 4], hexd[i & 15], '\0'};
                rc = fsync_at(s, shard, O_RDONLY | O_DIRECTORY);
            }
        if (!rc && s->root_dirty)
            rc = kl_fsio_fsync(s->rootfd, s->root);
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

typedef struct vctx {
    bool repair;
    kl_buf *report;
    size_t problems;
    kl_buf buf;
} vctx;

static int verify_fn(dir_state *s, const char *rel, const char *base, void *arg)
{
    vctx *v = arg;
    if (is_stale_tmp(base)) {
        /* a crashed writer's leftover: never visible, not a damaged entry */
        if (v->repair && unlinkat(s->rootfd, rel, 0) == 0 && v->report)
            kl_buf_printf(v->report, "%s: removed leftover temporary file %s\n", s->url, rel);
        return 0;
    }
    if (!is_entry_file(base))
        return 0;
    entry e;
    int rc = read_entry(s, rel, &v->buf, true, &e);
    if (rc == KL_ENOTFOUND)
        return 0;
    if (rc == KL_ECORRUPT || rc == KL_EVERSION || rc == 0) {
        char msg[600];
        if (rc) {
            snprintf(msg, sizeof msg, "%s", kl_errmsg());
        } else {
            char name[NAME_LEN + 1];
            entry_name(e.key, e.klen, name);
            if (strcmp(name, rel) == 0) {
                kl_buf tmp = KL_BUF_INIT;
                rc = entry_value(s, rel, &e, &tmp) ? KL_ECORRUPT : 0;
                if (rc)
                    snprintf(msg, sizeof msg, "%s", kl_errmsg());
                kl_buf_free(&tmp);
            } else {
                rc = KL_ECORRUPT;
                snprintf(msg, sizeof msg, "%s: entry %s: stored under the wrong name", s->url,
                         rel);
            }
        }
        if (!rc || rc == KL_EVERSION)
            return 0;
        v->problems++;
        bool dropped = v->repair && unlinkat(s->rootfd, rel, 0) == 0;
        if (v->report)
            kl_buf_printf(v->report, "%s%s\n", msg, dropped ? " (dropped)" : "");
        return 0;
    }
    return rc;
}

static int dir_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    vctx v = {repair, report, 0, KL_BUF_INIT};
    int rc = walk(state, verify_fn, &v);
    kl_buf_free(&v.buf);
    *problems = v.problems;
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
    kl_tarray ta;
    if (!(e.flags & F_ARRAY)) {
        /* small or compressed: a view over a copy */
        kl_buf v = KL_BUF_INIT;
        rc = dir_get(s, key, klen, &v);
        if (!rc && !kl_tarray_parse(v.data, v.len, &ta))
            rc = kl_seterr(KL_ETYPE, "%s: the value is not a typed numeric array", s->url);
        if (!rc) {
            rc = kl_view_from_copy(out, v.data, v.len, &ta);
            v.data = NULL;
        }
        kl_buf_free(&v);
        return rc;
    }
    /* The mapping is of the inode opened now: a later replace renames a new
     * file over the name and leaves this one intact until unmapped. */
    int fd = openat(s->rootfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url)
                               : kl_seterrno(errno, "open entry", name);
    struct stat st;
    uint8_t hdr[HDR];
    size_t got = 0;
    void *map = MAP_FAILED;
    if (fstat(fd, &st) < 0)
        rc = kl_seterrno(errno, "stat entry", name);
    if (!rc)
        rc = kl_fsio_pread(fd, hdr, HDR, 0, &got, name);
    if (!rc)
        rc = parse_header(s, name, hdr, (uint64_t)st.st_size, &e);
    if (!rc && (le64_get(hdr + 40) != XXH3_64bits(key, klen) || e.klen != klen ||
                !(e.flags & F_ARRAY)))
        rc = kl_seterr(KL_EBUSY, "%s: entry %s changed while opening it; retry", s->url, name);
    if (!rc) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            rc = kl_seterrno(errno, "map entry", name);
    }
    close(fd);
    if (rc)
        return rc;
    if (memcmp((uint8_t *)map + HDR, key, klen) ||
        !kl_tarray_parse((uint8_t *)map + e.voff, (size_t)e.vlen, &ta)) {
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

/* ---- iteration --------------------------------------------------------- */

typedef struct dcur {
    dir_state *s;
    DIR *root, *shard;
    char shardname[3];
    kl_buf buf;
} dcur;

static int dir_iter_new(void *state, void **out)
{
    dir_state *s = state;
    dcur *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "out of memory");
    c->s = s;
    int fd = openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(c->root = fdopendir(fd))) {
        int rc = kl_seterrno(errno, "list folder", s->root);
        if (fd >= 0)
            close(fd);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int dir_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    dcur *c = cur;
    dir_state *s = c->s;
    for (;;) {
        if (!c->shard) {
            struct dirent *de;
            while ((de = readdir(c->root)) && !is_hex(de->d_name, 2))
                ;
            if (!de)
                return 0;
            int fd = openat(s->rootfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0 || !(c->shard = fdopendir(fd))) {
                if (fd >= 0)
                    close(fd);
                continue;
            }
            memcpy(c->shardname, de->d_name, 3);
        }
        struct dirent *fe;
        while ((fe = readdir(c->shard)) && !is_entry_file(fe->d_name))
            ;
        if (!fe) {
            closedir(c->shard);
            c->shard = NULL;
            continue;
        }
        char rel[NAME_LEN + 1];
        memcpy(rel, c->shardname, 2);
        rel[2] = '/';
        memcpy(rel + 3, fe->d_name, 33);
        entry e;
        int rc = read_entry(s, rel, &c->buf, val != NULL, &e);
        if (rc == KL_ENOTFOUND)
            continue; /* deleted meanwhile */
        if (rc)
            return rc;
        kl_buf_reset(key);
        rc = kl_buf_append(key, e.key, e.klen);
        if (!rc && val)
            rc = entry_value(s, rel, &e, val);
        return rc ? rc : 1;
    }
}

static void dir_iter_free(void *cur)
{
    dcur *c = cur;
    if (c->shard)
        closedir(c->shard);
    closedir(c->root);
    kl_buf_free(&c->buf);
    free(c);
}

/* ---- open / close / drop ----------------------------------------------- */

static int write_marker(dir_state *s)
{
    uint8_t m[MARKER_LEN];
    memcpy(m, MARKER_MAGIC, 8);
    le32_put(m + 8, DIR_VERSION);
    le32_put(m + 12, 0);
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".tmp.%d.marker", (int)getpid());
    int fd = openat(s->rootfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return kl_seterr(kl_errno_code(errno), "%s: create %s: %s", s->url, MARKER,
                         strerror(errno));
    int rc = kl_fsio_pwrite(fd, m, sizeof m, 0, s->root);
    if (!rc && s->sync != KL_SYNC_NONE && fdatasync(fd) < 0)
        rc = kl_seterrno(errno, "fsync", s->root);
    close(fd);
    if (!rc && renameat(s->rootfd, tmp, s->rootfd, MARKER) < 0)
        rc = kl_seterrno(errno, "rename " MARKER " into place", s->root);
    if (rc)
        unlinkat(s->rootfd, tmp, 0);
    else if (s->sync != KL_SYNC_NONE)
        rc = kl_fsio_fsync(s->rootfd, s->root);
    return rc;
}

/* The folder is an archive (marker present and readable), an empty folder
 * (made one), or something else (refused). */
static int check_marker(dir_state *s, bool read_only)
{
    int fd = openat(s->rootfd, MARKER, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        uint8_t m[MARKER_LEN];
        size_t got = 0;
        int rc = kl_fsio_pread(fd, m, sizeof m, 0, &got, s->root);
        close(fd);
        if (rc)
            return rc;
        if (got < 12 || memcmp(m, MARKER_MAGIC, 8))
            return kl_seterr(KL_ECORRUPT, "%s: %s/%s is not a klepto dir: archive marker",
                             s->url, s->root, MARKER);
        uint32_t ver = le32_get(m + 8);
        if (ver > DIR_VERSION)
            return kl_seterr(KL_EVERSION, "%s: folder format version %u (this library reads %d)",
                             s->url, ver, DIR_VERSION);
        return 0;
    }
    if (errno != ENOENT)
        return kl_seterr(kl_errno_code(errno), "%s: open %s: %s", s->url, MARKER, strerror(errno));
    int dfd = openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return kl_seterrno(errno, "list folder", s->root);
    }
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strncmp(de->d_name, ".tmp.", 5))
            empty = false;
    closedir(d);
    if (!empty)
        return kl_seterr(KL_EINVAL, "%s: folder %s is not a klepto dir: archive (no %s)", s->url,
                         s->root, MARKER);
    return read_only ? 0 : write_marker(s);
}

static void dir_free(dir_state *s)
{
    if (s->rootfd >= 0)
        close(s->rootfd);
    ZSTD_freeCCtx(s->cctx);
    ZSTD_freeDCtx(s->dctx);
    kl_buf_free(&s->file);
    kl_buf_free(&s->zbuf);
    kl_buf_free(&s->pending);
    free(s->url);
    free(s->root);
    free(s);
}

static int dir_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    if (!*url->rest)
        return kl_seterr(KL_EINVAL, "%s: dir: needs a folder path (dir:PATH)", url->full);
    dir_state *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->rootfd = -1;
    s->level = 3;
    s->pid = getpid();
    int rc = 0;
    if (!(s->url = strdup(url->full)) || !(s->root = kl_abs_path(url->rest)))
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    if (!rc)
        rc = kl_url_sync_mode(url, &s->sync);
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
    struct stat st;
    if (!rc && stat(s->root, &st) < 0) {
        if (errno != ENOENT)
            rc = kl_seterr(kl_errno_code(errno), "%s: %s: %s", url->full, s->root, strerror(errno));
        else if (!opts->create || opts->read_only)
            rc = kl_seterr(KL_ENOTFOUND, "%s: folder %s does not exist", url->full, s->root);
        else
            rc = kl_fsio_mkdirs(s->root);
        if (rc == 0 && stat(s->root, &st) < 0)
            rc = kl_seterrno(errno, "stat", s->root);
    }
    if (!rc && !S_ISDIR(st.st_mode))
        rc = kl_seterr(KL_EINVAL, "%s: %s is not a folder", url->full, s->root);
    if (!rc && (s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = kl_seterr(kl_errno_code(errno), "%s: open folder %s: %s", url->full, s->root,
                       strerror(errno));
    if (!rc)
        rc = check_marker(s, opts->read_only);
    if (!rc && !opts->read_only && faccessat(s->rootfd, ".", W_OK, AT_EACCESS) < 0)
        rc = kl_seterr(KL_EPERM, "%s: folder %s is not writable: %s", url->full, s->root,
                       strerror(errno));
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

static int drop_fn(dir_state *s, const char *rel, const char *base, void *arg)
{
    (void)base;
    (void)arg;
    if (unlinkat(s->rootfd, rel, 0) < 0 && errno != ENOENT)
        return kl_seterr(kl_errno_code(errno), "%s: delete %s: %s", s->url, rel, strerror(errno));
    return 0;
}

static int dir_drop(void *state)
{
    dir_state *s = state;
    int rc = walk(s, drop_fn, NULL);
    for (int i = 0; !rc && i < 256; i++) {
        char shard[3] = {hexd[i >> 4], hexd[i & 15], '\0'};
        if (unlinkat(s->rootfd, shard, AT_REMOVEDIR) < 0 && errno != ENOENT)
            rc = kl_seterr(kl_errno_code(errno), "%s: remove %s: %s", s->url, shard,
                           strerror(errno));
    }
    if (!rc && unlinkat(s->rootfd, MARKER, 0) < 0 && errno != ENOENT)
        rc = kl_seterrno(errno, "delete " MARKER, s->root);
    if (!rc && rmdir(s->root) < 0)
        rc = kl_seterr(kl_errno_code(errno), "%s: remove folder %s: %s", s->url, s->root,
                       strerror(errno));
    kl_buf_reset(&s->pending);
    s->npending = 0;
    s->sync = KL_SYNC_NONE; /* nothing left to flush at close */
    return rc;
}

static int dir_describe(void *state, kl_buf *out)
{
    dir_state *s = state;
    static const char *const modes[] = {"none", "normal", "full"};
    return kl_buf_printf(out, "format_version=%d\ncompression=%s\nsync=%s\n",
                         ENT_VERSION, s->zstd ? "zstd" : "none", modes[s->sync]);
}

const kl_archive_backend kl_backend_dir = {
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
    .iter_next = dir_iter_next,
    .iter_free = dir_iter_free,
    .get_view = dir_get_view,
    .verify = dir_verify,
};
