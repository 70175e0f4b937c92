/* SPDX-License-Identifier: BSD-3-Clause */
/* verify and verify --repair of an hdf5: archive (docs/hdf5.md): every
 * entry of the file read back and checked, the damaged ones dropped by a
 * rebuild, leftovers of writers that are gone listed and removed, and the
 * journal checked.  The archive's handle is backend.c's; this file reaches it
 * through hdf5.h.
 *
 * Salvage, when HDF5 cannot open the file or list its root group: the
 * file is opened some way HDF5 still can (without our file properties; a
 * private copy extended to the length its superblock
 * states when it was cut, or with one bit of its superblock mended: the
 * superblock carries a checksum, so HDF5 itself tells which is right),
 * the entries are found through the root group as far as it reads and by
 * scanning the file for object headers ("OHDR": version 2 headers, which
 * carry checksums too) opened by address, and every entry whose key and
 * value read back intact (HDF5's metadata checksums, our value checksum) is
 * kept: --repair writes them into a fresh file that replaces the damaged
 * one.  No Debian library salvages HDF5 files, hence this code.  An entry
 * reached only by the scan of a file that had replaced or deleted entries
 * (klepto_garbage_bytes > 0) may be an old version: it is counted, never
 * restored. */
#define _GNU_SOURCE
#include "archive/backend/hdf5/hdf5.h"
#include "archive/util/fsio.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_hex_name(const char *n)
{
    if (strlen(n) != KL_H5_NAME_HEX)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Temporary files of writers that are gone, ".BASE.tmp.PID.N" (whole
 * copies of the file): never read, but space taken.  Each is reported
 * with its size (not counted as damage) and removed with repair. */
static void sweep_tmp(const kl__h5a_info *s, bool repair, kl_buf *report)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return;
    size_t bl = strlen(s->base);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (n[0] != '.' || strncmp(n + 1, s->base, bl) || strncmp(n + 1 + bl, ".tmp.", 5))
            continue;
        long pid = strtol(n + 1 + bl + 5, NULL, 10);
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        struct stat st;
        long long size = fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_size : 0;
        int err = repair && unlinkat(dirfd(d), n, 0) < 0 ? errno : 0;
        if (!report)
            continue;
        if (!repair)
            kl_buf_printf(report,
                          "%s: leftover temporary file %s/%s (%lld bytes) of a writer that is "
                          "gone (verify --repair removes it)\n",
                          s->url, s->dir, n, size);
        else if (!err)
            kl_buf_printf(report, "%s: removed leftover temporary file %s/%s (%lld bytes)\n",
                          s->url, s->dir, n, size);
        else
            kl_buf_printf(report, "%s: leftover temporary file %s/%s (%lld bytes): not removed: %s\n",
                          s->url, s->dir, n, size, strerror(err));
    }
    closedir(d);
}

/* ---- salvage ----------------------------------------------------------- */

#define MARK_SCAN (64u << 10)
#define SB_LEN 48 /* a version 2 or 3 superblock */

/* Ours: the root attribute klepto_format's name is there (its value may
 * be the damaged part), and no other klepto kind's marker (an hdf5dir:
 * entry file) is.  Leaves the thread's error message as it is. */
bool kl__h5_damaged_ours(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    char *b = NULL;
    ssize_t got = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (b = malloc(MARK_SCAN)))
        got = pread(fd, b, MARK_SCAN, 0);
    close(fd);
    size_t n = got > 0 ? (size_t)got : 0;
    bool ours = n && memmem(b, n, "klepto_format", 13) && !memmem(b, n, FORMAT "dir", 14);
    free(b);
    return ours;
}

/* A set of 64-bit fingerprints of entry names (open addressing). */
typedef struct nameset {
    uint64_t *slot;
    size_t cap, n;
} nameset;

static uint64_t fingerprint(const char *name)
{
    uint64_t h = strtoull((char[17]){name[0], name[1], name[2], name[3], name[4], name[5], name[6],
                                     name[7], name[8], name[9], name[10], name[11], name[12],
                                     name[13], name[14], name[15], 0},
                          NULL, 16);
    return h ? h : 1;
}

/* 1 when added, 0 when there already, or KL_ENOMEM. */
static int nameset_add(nameset *s, const char *name)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        uint64_t *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return kl_seterr(KL_ENOMEM, "out of memory");
        for (size_t i = 0; i < s->cap; i++)
            for (size_t j = s->slot[i] & (cap - 1); s->slot[i]; j = (j + 1) & (cap - 1))
                if (!slot[j]) {
                    slot[j] = s->slot[i];
                    break;
                }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    uint64_t h = fingerprint(name);
    for (size_t j = h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == h)
            return 0;
        if (!s->slot[j]) {
            s->slot[j] = h;
            s->n++;
            return 1;
        }
    }
}

typedef struct salvage {
    const kl__h5a_info *s;
    hid_t src;       /* the damaged file as HDF5 opened it */
    hid_t dst;       /* the fresh file (repair), or -1 */
    const char *dst_path;
    nameset seen;
    bool garbage;    /* the file had replaced or deleted entries */
    size_t linked, scanned, stale, unreadable;
    int err;         /* an error that stopped the walk of the root group */
    kl_buf val;
} salvage;

/* Entry from the object opened at loc/name: kept (written into dst) when
 * its key and value read back intact.  0 kept or a duplicate, 1 not an
 * intact entry, or a negative error (writing the fresh file). */
static int take(salvage *sv, hid_t loc, const char *name, bool scanned)
{
    kl__h5_entry e;
    const kl__h5a_info *s = sv->s;
    int rc = kl__h5_entry_open(loc, name, s->key, &e, s->url);
    if (!rc)
        rc = kl__h5_entry_value(&e, &sv->val);
    int64_t ns = 0;
    if (!rc)
        rc = kl__h5_entry_stored_ns(&e, &ns);
    if (e.dset >= 0)
        kl__h5_entry_close(&e);
    H5Eclear2(H5E_DEFAULT);
    if (rc)
        return 1;
    char hex[KL_H5_NAME_HEX + 1];
    kl__h5_entry_name(s->key->data, s->key->len, hex);
    if (!scanned && strcmp(hex, name))
        return 1; /* stored under another key's name */
    if (scanned && sv->garbage) {
        /* maybe an old version of an entry, or a deleted one: never
         * restored (unless the root group reached it: then seen) */
        int r = nameset_add(&sv->seen, hex);
        if (r < 0)
            return r;
        sv->stale += (size_t)r;
        return 0;
    }
    int r = nameset_add(&sv->seen, hex);
    if (r <= 0)
        return r;
    *(scanned ? &sv->scanned : &sv->linked) += 1;
    if (sv->dst >= 0 &&
        (r = kl__h5_entry_write(sv->dst, hex, s->key->data, s->key->len, sv->val.data, sv->val.len,
                                ns, sv->dst_path)))
        return r;
    return 0;
}

static herr_t take_linked(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    salvage *sv = arg;
    int r = take(sv, g, name, false);
    if (r < 0) {
        sv->err = r;
        return -1;
    }
    sv->unreadable += (size_t)r;
    return 0;
}

/* Every object header in the file (mapped from fd): an entry when it is a
 * dataset that reads back intact. */
static int scan_headers(salvage *sv, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < 4)
        return 0;
    const char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return kl_seterr(kl__errno_code(errno), "%s: map %s: %s", sv->s->url, sv->s->path,
                         strerror(errno));
    size_t len = (size_t)st.st_size;
    int rc = 0;
    for (const char *p = m; !rc && (p = memmem(p, len - (size_t)(p - m), "OHDR", 4)); p++) {
        haddr_t addr = (haddr_t)(p - m);
        hid_t o = H5Oopen_by_addr(sv->src, addr);
        if (o < 0) {
            H5Eclear2(H5E_DEFAULT);
            sv->unreadable++; /* a damaged header, or "OHDR" in a value */
            continue;
        }
        if (H5Iget_type(o) == H5I_DATASET) {
            int r = take(sv, o, ".", true);
            if (r < 0)
                rc = r;
            else
                sv->unreadable += (size_t)r;
        }
        H5Oclose(o);
        H5Eclear2(H5E_DEFAULT);
    }
    munmap((void *)m, len);
    return rc;
}

/* HDF5's file access properties without ours (no locking, any format). */
static hid_t plain_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_file_locking(fapl, false, true);
    return fapl;
}

static hid_t try_open(const char *path, hid_t fapl)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Eclear2(H5E_DEFAULT);
    return f;
}

/* A private copy of the file to mend, beside it (a reflink where the file
 * system has them; removed by verify --repair should this process die)
 * or else in the temporary folder: its descriptor, or -1. */
static int work_copy(h5_state *hs, const kl__h5a_info *s, char *path, size_t cap)
{
    int from = open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (from < 0)
        return -1;
    struct stat st;
    int fd = -1;
    if (fstat(from, &st) == 0 && S_ISREG(st.st_mode) &&
        kl__h5a_tmp_create(hs, path, cap, 0600, &fd)) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, cap, "%s/klepto-salvage-XXXXXX", dir && *dir ? dir : P_tmpdir);
        fd = mkostemp(path, O_CLOEXEC);
    }
    if (fd >= 0 && kl__fsio_copy(from, fd, (uint64_t)st.st_size, s->path, path)) {
        close(fd);
        unlink(path);
        fd = -1;
    }
    close(from);
    kl_errclear();
    return fd;
}

/* The damaged file opened by HDF5 some way (see the top): *f, and *fd
 * the private copy it was opened from (or -1: the file itself); *how says how. */
static int open_damaged(h5_state *hs, const kl__h5a_info *s, hid_t fapl, hid_t *f, int *fd,
                        char *path, size_t cap, const char **how)
{
    *fd = -1;
    *how = "as it is";
    if ((*f = try_open(s->path, fapl)) >= 0)
        return 0;
    int m = work_copy(hs, s, path, cap);
    if (m < 0)
        return -1;
    unsigned char sb[SB_LEN];
    size_t got = 0;
    struct stat st;
    if (fstat(m, &st) == 0 && !kl__fsio_pread(m, sb, sizeof sb, 0, &got, path) &&
        got == sizeof sb) {
        /* cut short: zeros up to the end the superblock states */
        uint64_t eof = 0;
        memcpy(&eof, sb + 28, 8); /* little-endian, as HDF5 writes it */
        if ((sb[8] == 2 || sb[8] == 3) && eof > (uint64_t)st.st_size &&
            eof - (uint64_t)st.st_size < ((uint64_t)1 << 36) && ftruncate(m, (off_t)eof) == 0) {
            *how = "extended to the length its superblock states";
            if ((*f = try_open(path, fapl)) >= 0) {
                *fd = m;
                return 0;
            }
        }
        /* one bit of the superblock mended: its checksum tells which */
        *how = "with one bit of its superblock mended";
        for (int i = 0; i < SB_LEN * 8; i++) {
            unsigned char c = sb[i / 8] ^ (unsigned char)(1u << (i % 8));
            if (kl__fsio_pwrite(m, &c, 1, i / 8, path))
                break;
            if ((*f = try_open(path, fapl)) >= 0) {
                *fd = m;
                return 0;
            }
            if (kl__fsio_pwrite(m, &sb[i / 8], 1, i / 8, path))
                break;
        }
    }
    close(m);
    unlink(path);
    kl_errclear();
    return -1;
}

/* verify of a file HDF5 cannot open (why: the message of that) or whose
 * root group it cannot list: the entries that can be salvaged counted,
 * and with repair written into a fresh file that replaces it. */
static int salvage_file(h5_state *hs, const kl__h5a_info *s, hid_t opened, const char *why,
                        bool repair, kl_buf *report, size_t *problems)
{
    salvage sv = {.s = s, .src = -1, .dst = -1};
    ++*problems;
    hid_t fapl = plain_fapl();
    int fd = -1, lockfd = -1, tfd = -1, rc = 0;
    const char *how = "";
    char tmp[PATH_MAX + 64], work[PATH_MAX + 64];
    struct stat st;
    if (opened >= 0) {
        sv.src = opened; /* the archive's read handle: opened, but not listed */
        how = "as it is";
    } else if (fapl < 0 || open_damaged(hs, s, fapl, &sv.src, &fd, work, sizeof work, &how) < 0) {
        if (report)
            kl_buf_printf(report,
                          "%s: the file is damaged (%s) and HDF5 cannot open it, nor a copy with "
                          "its superblock mended: no entry can be salvaged%s\n",
                          s->url, why, repair ? " (the file is left as it is)" : "");
        goto done;
    }
    uint64_t garbage = 0;
    hid_t a = H5Aexists(sv.src, "klepto_garbage_bytes") > 0
                  ? H5Aopen(sv.src, "klepto_garbage_bytes", H5P_DEFAULT)
                  : -1;
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_UINT64, &garbage) < 0)
            garbage = 1; /* unknown: as if there was some */
        H5Aclose(a);
    }
    H5Eclear2(H5E_DEFAULT);
    sv.garbage = garbage > 0;
    if (kl__h5_check_mark(sv.src, FORMAT, s->url) == KL_EVERSION) {
        rc = KL_EVERSION;
        goto done;
    }
    H5Eclear2(H5E_DEFAULT);
    if (repair) {
        if ((rc = kl__h5a_lock_current(hs, &lockfd, &st)) ||
            (rc = kl__h5a_tmp_create(hs, tmp, sizeof tmp, st.st_mode & 0777, &tfd)))
            goto done;
        if ((rc = kl__h5a_make_fresh(hs, tmp, &sv.dst))) {
            close(tfd);
            unlink(tmp);
            tfd = -1;
            goto done;
        }
        sv.dst_path = tmp;
    }
    /* through the root group as far as it reads, then by the scan */
    hsize_t idx = 0;
    H5Literate(sv.src, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, take_linked, &sv);
    rc = sv.err;
    H5Eclear2(H5E_DEFAULT);
    if (!rc) {
        int sfd = fd >= 0 ? dup(fd) : open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (sfd >= 0) {
            rc = scan_headers(&sv, sfd);
            close(sfd);
        }
    }
    size_t kept = sv.linked + sv.scanned;
    if (sv.dst >= 0) {
        rc = kl__h5a_commit(hs, sv.dst, tfd, tmp, rc, false, NULL);
        sv.dst = tfd = -1;
    }
    if (rc)
        goto done;
    *problems += sv.unreadable;
    if (!report)
        goto done;
    kl_buf_printf(report, "%s: the file is damaged (%s); opened %s: ", s->url, why, how);
    kl_buf_printf(report, "%zu entries %s (%zu through the root group, %zu found by scanning "
                          "the file)",
                  kept, repair ? "salvaged into a rebuilt file" : "can be salvaged", sv.linked,
                  sv.scanned);
    if (sv.unreadable)
        kl_buf_printf(report, ", %zu damaged objects %s", sv.unreadable, repair ? "lost" : "unreadable");
    if (sv.stale)
        kl_buf_printf(report,
                      ", %zu entries found only by the scan not %s (the file held replaced or "
                      "deleted entries: they may be old versions)",
                      sv.stale, repair ? "restored" : "salvageable");
    kl_buf_printf(report, "%s\n", repair ? "" : "; verify --repair rebuilds the file from them");
done:
    if (sv.dst >= 0)
        kl__h5a_commit(hs, sv.dst, tfd, tmp, KL_ECORRUPT, false, NULL); /* abandoned */
    if (sv.src >= 0 && sv.src != opened)
        H5Fclose(sv.src);
    if (fd >= 0) {
        close(fd);
        unlink(work);
    }
    if (lockfd >= 0)
        close(lockfd);
    if (fapl >= 0)
        H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    free(sv.seen.slot);
    kl_buf_free(&sv.val);
    return rc;
}

int kl__h5_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    h5_state *hs = state;
    kl__h5a_info info, *s = &info;
    kl__h5a_info_of(hs, s);
    kl_buf names = KL_BUF_INIT, bad = KL_BUF_INIT, val = KL_BUF_INIT;
    *problems = 0;
    kl__h5_enter();
    sweep_tmp(s, repair, report);
    hid_t f = -1;
    int rc = kl__h5a_snapshot(hs, &f);
    if (rc)
        f = -1;
    if (!rc)
        rc = kl__h5a_list_names(hs, f, &names);
    if (rc == KL_ECORRUPT) {
        /* no list of the entries: salvage what HDF5 can still reach */
        char why[512];
        const char *m = kl_errmsg();
        size_t ul = strlen(s->url);
        if (!strncmp(m, s->url, ul) && !strncmp(m + ul, ": ", 2))
            m += ul + 2; /* the report's line names the URL already */
        snprintf(why, sizeof why, "%s", m);
        kl_buf_reset(&names);
        rc = salvage_file(hs, s, f, why, repair, report, problems);
    }
    for (size_t off = 0; !rc && off < names.len; off += KL_H5_NAME_HEX + 1) {
        const char *name = (const char *)names.data + off;
        kl__h5_entry e;
        int erc;
        if (!is_hex_name(name)) {
            erc = kl_seterr(KL_ECORRUPT, "%s: object %s is not a klepto entry", s->url, name);
        } else if (!(erc = kl__h5_entry_open(f, name, s->key, &e, s->url))) {
            int64_t ns;
            erc = kl__h5_entry_value(&e, &val);
            if (!erc)
                erc = kl__h5_entry_stored_ns(&e, &ns);
            kl__h5_entry_close(&e);
            char want[KL_H5_NAME_HEX + 1];
            kl__h5_entry_name(s->key->data, s->key->len, want);
            if (!erc && strcmp(want, name))
                erc = kl_seterr(KL_ECORRUPT, "%s: entry %s: stored under the wrong name", s->url,
                                name);
        }
        if (erc == 0 || erc == KL_EVERSION)
            continue;
        if (erc != KL_ECORRUPT && erc != KL_EIO) {
            rc = erc;
            break;
        }
        ++*problems;
        char n[KL_H5_NAME_HEX + 1] = {0};
        snprintf(n, sizeof n, "%s", name);
        kl_buf_append(&bad, n, sizeof n);
        if (report)
            kl_buf_printf(report, "%s%s\n", kl_errmsg(), repair ? " (dropped)" : "");
    }
    H5Eclear2(H5E_DEFAULT);
    if (!rc && repair && bad.len) {
        /* rebuilt without the damaged entries, not deleted from a copy:
         * see rebuild_locked in backend.c */
        int lockfd;
        struct stat st;
        if (!(rc = kl__h5a_lock_current(hs, &lockfd, &st))) {
            rc = kl__h5a_rebuild_locked(hs, &st, &bad);
            close(lockfd);
        }
    }
    if (!rc) {
        size_t jp = 0;
        rc = kl__h5j_verify(s->jr, repair, report, &jp);
        *problems += jp;
    }
    kl__h5_leave();
    kl_buf_free(&names);
    kl_buf_free(&bad);
    kl_buf_free(&val);
    return rc;
}
