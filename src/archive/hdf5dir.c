/* hdf5dir: — a folder of HDF5 files, one per entry (klepto's
 * hdfdir_archive).
 *
 * Layout (docs/hdf5.md): PATH/klepto-hdf5dir.meta marks the folder;
 * an entry lives in SHARD/NAME.h5 where NAME is the 32-hex-digit XXH3-128
 * of the key bytes and SHARD its first two digits, so no key ever becomes
 * a path.  Each entry file is a complete HDF5 file with one dataset,
 * "value" (a typed numeric array natively, anything else as its CBOR
 * bytes; see h5common.c), that any HDF5 reader opens on its own.
 *
 * Why this is safe for many processes without locks: an entry file is
 * written under a temporary name in its shard and renamed over the entry,
 * and no file is ever modified once it has its name.  Readers open the
 * old or the new file, never a mix; a crash mid-write leaves only a
 * temporary file (never visible; verify --repair removes it once its
 * writer is gone).  HDF5 itself never sees two writers of one file.  The
 * same immutability makes mapped views safe: a view maps the inode it
 * opened, which a later replace leaves intact.
 *
 * Cost: an HDF5 file per entry is about 2 KB of overhead and an HDF5 open
 * and close per operation (tens of microseconds); hdf5: packs entries
 * tighter but pays a copy of its file per write.  ?sync= as for dir:
 * (none / normal: kl_archive_sync() flushes the file system / full: every
 * entry file and its folder fsynced before put returns). */
#define _GNU_SOURCE
#include "fsio.h"
#include "h5common.h"
#include "internal.h"
#include "le.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER "klepto-hdf5dir.meta"
#define MARKER_MAGIC "KLEPTOHD"
#define MARKER_LEN 16
#define FORMAT "klepto hdf5dir entry"
#define DSET "value"
#define REL_LEN (3 + KL_H5_NAME_HEX + 3) /* "ab/" + hex + ".h5" */

typedef struct hd_state {
    char *url, *root;
    int rootfd;
    int sync;
    pid_t pid;
    hid_t fapl;
    char *path;      /* scratch: root + "/" + a relative name */
    size_t rootlen;
    char where[700]; /* scratch: "URL: REL" for messages */
    kl_buf key;
} hd_state;

static _Atomic unsigned long long tmp_counter;

static void rel_name(const void *key, size_t klen, char out[REL_LEN + 1])
{
    char hex[KL_H5_NAME_HEX + 1];
    kl_h5_entry_name(key, klen, hex);
    snprintf(out, REL_LEN + 1, "%.2s/%s.h5", hex, hex);
}

static const char *full_path(hd_state *s, const char *rel)
{
    snprintf(s->path + s->rootlen, 80, "/%s", rel);
    return s->path;
}

static const char *where(hd_state *s, const char *rel)
{
    snprintf(s->where, sizeof s->where, "%s: %s", s->url, rel);
    return s->where;
}

static bool is_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

static bool is_entry_file(const char *base)
{
    return strlen(base) == KL_H5_NAME_HEX + 3 && is_hex(base, KL_H5_NAME_HEX) &&
           !strcmp(base + KL_H5_NAME_HEX, ".h5");
}

/* A temporary file whose writer is gone (".tmp.PID.N" with PID dead). */
static bool is_stale_tmp(const char *base)
{
    if (strncmp(base, ".tmp.", 5))
        return false;
    long pid = strtol(base + 5, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* ---- reading an entry file --------------------------------------------- */

/* Open entry file `rel` and its dataset; the stored key into s->key.
 * KL_ENOTFOUND when there is no such file. */
static int open_entry(hd_state *s, const char *rel, hid_t *file, kl_h5_entry *e)
{
    e->dset = -1;
    const char *w = where(s, rel);
    hid_t f = H5Fopen(full_path(s, rel), H5F_ACC_RDONLY, s->fapl);
    if (f < 0) {
        int err = kl_h5_errno();
        if (err == ENOENT) {
            H5Eclear2(H5E_DEFAULT);
            return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
        }
        return kl_h5_fail(err ? 0 : KL_ECORRUPT, "%s: open", w);
    }
    int rc = kl_h5_check_mark(f, FORMAT, w);
    if (!rc)
        rc = kl_h5_entry_open(f, DSET, &s->key, e, w);
    if (rc == KL_ENOTFOUND)
        rc = kl_seterr(KL_ECORRUPT, "%s: no dataset \"" DSET "\"", w);
    if (rc) {
        H5Fclose(f);
        return rc;
    }
    *file = f;
    return 0;
}

static void close_entry(hid_t file, kl_h5_entry *e)
{
    kl_h5_entry_close(e);
    H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
}

/* The entry of `key`: KL_ENOTFOUND when absent or another key's. */
static int find(hd_state *s, const void *key, size_t klen, char rel[REL_LEN + 1], hid_t *file,
                kl_h5_entry *e)
{
    rel_name(key, klen, rel);
    int rc = open_entry(s, rel, file, e);
    if (!rc && (s->key.len != klen || memcmp(s->key.data, key, klen))) {
        close_entry(*file, e);
        rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
    }
    return rc;
}

static int hd_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    hd_state *s = state;
    char rel[REL_LEN + 1];
    hid_t f;
    kl_h5_entry e;
    kl_h5_enter();
    int rc = find(s, key, klen, rel, &f, &e);
    if (!rc) {
        rc = kl_h5_entry_value(&e, val);
        close_entry(f, &e);
    }
    kl_h5_leave();
    return rc;
}

static int hd_contains(void *state, const void *key, size_t klen)
{
    hd_state *s = state;
    char rel[REL_LEN + 1];
    hid_t f;
    kl_h5_entry e;
    kl_h5_enter();
    int rc = find(s, key, klen, rel, &f, &e);
    if (!rc) {
        close_entry(f, &e);
        rc = 1;
    } else if (rc == KL_ENOTFOUND) {
        rc = 0;
    }
    kl_h5_leave();
    return rc;
}

static int hd_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    hd_state *s = state;
    char rel[REL_LEN + 1];
    hid_t f;
    kl_h5_entry e;
    kl_h5_enter();
    int rc = find(s, key, klen, rel, &f, &e);
    if (!rc) {
        out->stored_ns = e.stored_ns;
        out->size = klen + kl_h5_entry_vlen(&e);
        close_entry(f, &e);
    }
    kl_h5_leave();
    return rc;
}

static int hd_get_view(void *state, const void *key, size_t klen, kl_view **out)
{
    hd_state *s = state;
    char rel[REL_LEN + 1];
    hid_t f;
    kl_h5_entry e;
    kl_h5_enter();
    int rc = find(s, key, klen, rel, &f, &e);
    if (!rc) {
        rc = kl_h5_entry_view(&e, kl_h5_file_fd(f, s->fapl), out);
        close_entry(f, &e);
    }
    kl_h5_leave();
    return rc;
}

/* ---- writing ----------------------------------------------------------- */

static int fsync_at(hd_state *s, const char *rel, int flags)
{
    int fd = openat(s->rootfd, rel, flags | O_CLOEXEC);
    if (fd < 0)
        return kl_seterrno(errno, "open for fsync", rel);
    int rc = kl_fsio_fsync(fd, rel);
    close(fd);
    return rc;
}

static int hd_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    hd_state *s = state;
    char rel[REL_LEN + 1], tmp[64];
    rel_name(key, klen, rel);
    kl_h5_enter();
    hid_t f = -1;
    bool new_shard = false;
    int rc = 0;
    for (int attempt = 0; f < 0 && attempt < 64; attempt++) {
        snprintf(tmp, sizeof tmp, "%.2s/.tmp.%d.%llu", rel, (int)s->pid,
                 (unsigned long long)atomic_fetch_add(&tmp_counter, 1));
        f = H5Fcreate(full_path(s, tmp), H5F_ACC_EXCL, H5P_DEFAULT, s->fapl);
        if (f >= 0)
            break;
        int err = kl_h5_errno();
        if (err == ENOENT && !new_shard) {
            H5Eclear2(H5E_DEFAULT);
            char shard[3] = {rel[0], rel[1], '\0'};
            if (mkdirat(s->rootfd, shard, 0777) < 0 && errno != EEXIST) {
                rc = kl_seterr(kl_errno_code(errno), "%s: create folder %s: %s", s->url, shard,
                               strerror(errno));
                break;
            }
            new_shard = true;
        } else if (err == EEXIST) {
            H5Eclear2(H5E_DEFAULT);
            s->pid = getpid(); /* a handle carried over a fork */
        } else {
            rc = kl_h5_fail(0, "%s: create %s", s->url, tmp);
            break;
        }
    }
    if (f < 0 && !rc)
        rc = kl_seterr(KL_EIO, "%s: could not create a temporary file in %.2s", s->url, rel);
    if (rc) {
        kl_h5_leave();
        return rc;
    }
    const char *w = where(s, rel);
    rc = kl_h5_mark(f, FORMAT, w);
    if (!rc)
        rc = kl_h5_entry_write(f, DSET, key, klen, val, vlen, kl_now_ns(), w);
    if (!rc && s->sync == KL_SYNC_FULL) {
        int fd = kl_h5_file_fd(f, s->fapl);
        if (H5Fflush(f, H5F_SCOPE_LOCAL) < 0)
            rc = kl_h5_fail(0, "%s: flush", w);
        else if (fd >= 0 && fdatasync(fd) < 0)
            rc = kl_seterrno(errno, "fsync", full_path(s, tmp));
    }
    if (H5Fclose(f) < 0 && !rc)
        rc = kl_h5_fail(0, "%s: close", w);
    H5Eclear2(H5E_DEFAULT);
    kl_h5_leave();
    if (!rc && renameat(s->rootfd, tmp, s->rootfd, rel) < 0)
        rc = kl_seterr(kl_errno_code(errno), "%s: rename %s into place: %s", s->url, rel,
                       strerror(errno));
    if (rc) {
        unlinkat(s->rootfd, tmp, 0);
        return rc;
    }
    if (s->sync == KL_SYNC_FULL) {
        char shard[3] = {rel[0], rel[1], '\0'};
        rc = fsync_at(s, shard, O_RDONLY | O_DIRECTORY);
        if (!rc && new_shard)
            rc = kl_fsio_fsync(s->rootfd, s->root);
    }
    return rc;
}

static int hd_del(void *state, const void *key, size_t klen)
{
    hd_state *s = state;
    char rel[REL_LEN + 1];
    hid_t f;
    kl_h5_entry e;
    kl_h5_enter();
    rel_name(key, klen, rel);
    int rc = open_entry(s, rel, &f, &e);
    if (!rc) {
        bool mine = s->key.len == klen && !memcmp(s->key.data, key, klen);
        close_entry(f, &e);
        if (!mine)
            rc = kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
    } else if (rc == KL_ECORRUPT) {
        /* a damaged file at this key's name is deleted too: the name says
         * whose it is, whatever the damage */
        rc = 0;
    }
    kl_h5_leave();
    if (rc)
        return rc;
    if (unlinkat(s->rootfd, rel, 0) < 0)
        return errno == ENOENT ? kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url)
                               : kl_seterr(kl_errno_code(errno), "%s: delete %s: %s", s->url, rel,
                                           strerror(errno));
    if (s->sync == KL_SYNC_FULL) {
        char shard[3] = {rel[0], rel[1], '\0'};
        return fsync_at(s, shard, O_RDONLY | O_DIRECTORY);
    }
    return 0;
}

static int hd_sync(void *state)
{
    hd_state *s = state;
    if (s->sync == KL_SYNC_NORMAL && syncfs(s->rootfd) < 0)
        return kl_seterrno(errno, "syncfs", s->root);
    return 0;
}

/* ---- walking the shards ------------------------------------------------ */

typedef int (*walk_fn)(hd_state *s, const char *rel, const char *base, void *arg);

static int walk(hd_state *s, walk_fn fn, void *arg)
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
        if (strlen(de->d_name) != 2 || !is_hex(de->d_name, 2))
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
            if (!strcmp(fe->d_name, ".") || !strcmp(fe->d_name, ".."))
                continue;
            snprintf(rel, sizeof rel, "%s/%s", de->d_name, fe->d_name);
            rc = fn(s, rel, fe->d_name, arg);
        }
        closedir(sh);
    }
    closedir(root);
    return rc;
}

static int count_fn(hd_state *s, const char *rel, const char *base, void *arg)
{
    (void)s;
    (void)rel;
    if (is_entry_file(base))
        ++*(size_t *)arg;
    return 0;
}

static int hd_count(void *state, size_t *out)
{
    *out = 0;
    return walk(state, count_fn, out);
}

static int clear_fn(hd_state *s, const char *rel, const char *base, void *arg)
{
    (void)arg;
    if ((is_entry_file(base) || is_stale_tmp(base)) && unlinkat(s->rootfd, rel, 0) < 0 &&
        errno != ENOENT)
        return kl_seterr(kl_errno_code(errno), "%s: delete %s: %s", s->url, rel, strerror(errno));
    return 0;
}

static int hd_clear(void *state)
{
    hd_state *s = state;
    int rc = walk(s, clear_fn, NULL);
    if (!rc && s->sync == KL_SYNC_FULL)
        rc = kl_fsio_fsync(s->rootfd, s->root);
    return rc;
}

/* ---- verify ------------------------------------------------------------ */

typedef struct vctx {
    bool repair;
    kl_buf *report;
    size_t problems;
    kl_buf val;
} vctx;

static int verify_fn(hd_state *s, const char *rel, const char *base, void *arg)
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
    hid_t f;
    kl_h5_entry e;
    kl_h5_enter();
    int rc = open_entry(s, rel, &f, &e);
    if (!rc) {
        rc = kl_h5_entry_value(&e, &v->val);
        char want[REL_LEN + 1];
        rel_name(s->key.data, s->key.len, want);
        if (!rc && strcmp(want, rel))
            rc = kl_seterr(KL_ECORRUPT, "%s: stored under the wrong name", where(s, rel));
        close_entry(f, &e);
    }
    kl_h5_leave();
    if (rc == KL_ENOTFOUND || rc == 0 || rc == KL_EVERSION)
        return 0;
    if (rc != KL_ECORRUPT && rc != KL_EIO)
        return rc;
    char msg[800];
    snprintf(msg, sizeof msg, "%s", kl_errmsg());
    v->problems++;
    bool dropped = v->repair && unlinkat(s->rootfd, rel, 0) == 0;
    if (v->report)
        kl_buf_printf(v->report, "%s%s\n", msg, dropped ? " (dropped)" : "");
    return 0;
}

static int hd_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    vctx v = {repair, report, 0, KL_BUF_INIT};
    int rc = walk(state, verify_fn, &v);
    kl_buf_free(&v.val);
    *problems = v.problems;
    return rc;
}

/* ---- iteration --------------------------------------------------------- */

typedef struct hcur {
    hd_state *s;
    DIR *root, *shard;
    char shardname[3];
} hcur;

static int hd_iter_new(void *state, void **out)
{
    hd_state *s = state;
    hcur *c = calloc(1, sizeof *c);
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

static int hd_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    hcur *c = cur;
    hd_state *s = c->s;
    for (;;) {
        if (!c->shard) {
            struct dirent *de;
            while ((de = readdir(c->root)) && !(strlen(de->d_name) == 2 && is_hex(de->d_name, 2)))
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
        char rel[REL_LEN + 1];
        memcpy(rel, c->shardname, 2);
        rel[2] = '/';
        memcpy(rel + 3, fe->d_name, REL_LEN - 3 + 1);
        hid_t f;
        kl_h5_entry e;
        kl_h5_enter();
        int rc = open_entry(s, rel, &f, &e);
        if (!rc) {
            kl_buf_reset(key);
            rc = kl_buf_append(key, s->key.data, s->key.len);
            if (!rc && val)
                rc = kl_h5_entry_value(&e, val);
            close_entry(f, &e);
        }
        kl_h5_leave();
        if (rc == KL_ENOTFOUND)
            continue; /* deleted meanwhile */
        return rc ? rc : 1;
    }
}

static void hd_iter_free(void *cur)
{
    hcur *c = cur;
    if (c->shard)
        closedir(c->shard);
    closedir(c->root);
    free(c);
}

/* ---- open / close / drop ----------------------------------------------- */

static int write_marker(hd_state *s)
{
    uint8_t m[MARKER_LEN];
    memcpy(m, MARKER_MAGIC, 8);
    le32_put(m + 8, KL_H5_VERSION);
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
 * (made one), or something else (refused, untouched). */
static int check_marker(hd_state *s, bool read_only)
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
            return kl_seterr(KL_ECORRUPT, "%s: %s/%s is not a klepto hdf5dir: archive marker",
                             s->url, s->root, MARKER);
        uint32_t ver = le32_get(m + 8);
        if (ver > KL_H5_VERSION)
            return kl_seterr(KL_EVERSION, "%s: folder format version %u (this library reads %d)",
                             s->url, ver, KL_H5_VERSION);
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
        return kl_seterr(KL_EINVAL, "%s: folder %s is not a klepto hdf5dir: archive (no %s)",
                         s->url, s->root, MARKER);
    return read_only ? 0 : write_marker(s);
}

static void hd_free(hd_state *s)
{
    if (s->rootfd >= 0)
        close(s->rootfd);
    if (s->fapl >= 0) {
        kl_h5_enter();
        H5Pclose(s->fapl);
        kl_h5_leave();
    }
    kl_buf_free(&s->key);
    free(s->path);
    free(s->url);
    free(s->root);
    free(s);
}

static int hd_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    if (!*url->rest)
        return kl_seterr(KL_EINVAL, "%s: hdf5dir: needs a folder path (hdf5dir:PATH)", url->full);
    hd_state *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "out of memory");
    s->rootfd = -1;
    s->fapl = -1;
    s->pid = getpid();
    int rc = 0;
    if (!(s->url = strdup(url->full)) || !(s->root = kl_abs_path(url->rest)))
        rc = kl_seterr(KL_ENOMEM, "out of memory");
    if (!rc) {
        s->rootlen = strlen(s->root);
        if (!(s->path = malloc(s->rootlen + 80)))
            rc = kl_seterr(KL_ENOMEM, "out of memory");
        else
            memcpy(s->path, s->root, s->rootlen + 1);
    }
    if (!rc)
        rc = kl_url_sync_mode(url, &s->sync);
    if (!rc) {
        kl_h5_enter();
        /* HDF5's flock would only get in the way: no file is ever opened
         * for writing once it has its name */
        s->fapl = kl_h5_fapl(false);
        if (s->fapl < 0)
            rc = kl_h5_fail(0, "%s: HDF5 file properties", url->full);
        kl_h5_leave();
    }
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
        hd_free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int hd_close(void *state)
{
    hd_free(state);
    return 0;
}

static int drop_fn(hd_state *s, const char *rel, const char *base, void *arg)
{
    (void)base;
    (void)arg;
    if (unlinkat(s->rootfd, rel, 0) < 0 && errno != ENOENT)
        return kl_seterr(kl_errno_code(errno), "%s: delete %s: %s", s->url, rel, strerror(errno));
    return 0;
}

static int hd_drop(void *state)
{
    hd_state *s = state;
    static const char hexd[] = "0123456789abcdef";
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
    s->sync = KL_SYNC_NONE;
    return rc;
}

static int hd_describe(void *state, kl_buf *out)
{
    hd_state *s = state;
    static const char *const modes[] = {"none", "normal", "full"};
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    return kl_buf_printf(out, "format_version=%d\nhdf5_library=%u.%u.%u\nsync=%s\n",
                         KL_H5_VERSION, maj, min, rel, modes[s->sync]);
}

const kl_archive_backend kl_backend_hdf5dir = {
    .version = KL_BACKEND_VERSION,
    .scheme = "hdf5dir",
    .flags = 0,
    .open = hd_open,
    .close = hd_close,
    .get = hd_get,
    .put = hd_put,
    .del = hd_del,
    .contains = hd_contains,
    .count = hd_count,
    .stat = hd_stat,
    .clear = hd_clear,
    .sync = hd_sync,
    .drop = hd_drop,
    .describe = hd_describe,
    .iter_new = hd_iter_new,
    .iter_next = hd_iter_next,
    .iter_free = hd_iter_free,
    .get_view = hd_get_view,
    .verify = hd_verify,
};
