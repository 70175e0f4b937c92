/* SPDX-License-Identifier: BSD-3-Clause */
/* file: verify (and repair): every record's framing and checksums.
 * See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* PATH.compact.PID files whose compacting process is gone (killed
 * mid-compaction: the archive itself was never affected): reported with
 * their size (not counted as problems), removed with repair. */
static void stale_compactions(fa *s, bool repair, kl_buf *report)
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
            struct stat st;
            if (asprintf(&p, "%s/%s", s->dir, de->d_name) < 0)
                break;
            if (lstat(p, &st) == 0 && (!repair || unlink(p) == 0) && report)
                kl_buf_printf(report, "%s: leftover %s of a killed compaction (%llu bytes)%s\n",
                              s->url, p, (unsigned long long)st.st_size,
                              repair ? " (removed)" : "");
            free(p);
        }
        closedir(d);
    }
    free(b);
}

/* What follows the last whole record (s->end, just scanned) in a file of
 * `size` bytes: a problem (1) whatever it is, since the file does not
 * end at a record boundary: a whole header there that fails its
 * checksum, or a record that fits the file but fails its checksums, is a
 * damaged record (its entry is lost); a write cut short (a killed writer's
 * append, a copy cut short: fewer bytes than a header, a sound header
 * claiming more bytes than there are, zeros) is an incomplete record,
 * never acknowledged.  With repair it is cut off either way, back to the
 * end of the last whole record (we hold the lock: no append is in
 * progress).  A file that ends exactly at a record boundary has no tail. */
int kl__file_tail_kind(fa *s, uint64_t size)
{
    if (s->end >= size)
        return 0;
    uint8_t h[RHDR];
    size_t got = 0;
    rec r;
    int rc = kl__fsio_pread(s->fd, h, RHDR, (int64_t)s->end, &got, s->path);
    if (rc)
        return rc;
    /* cut short: fewer bytes than a header, a sound header claiming more
     * than is there, or zeros (a file extended, its data never written) */
    bool zeros = true;
    for (size_t i = 0; i < got; i++)
        zeros &= h[i] == 0;
    bool damaged = got == RHDR && !zeros &&
                   !(kl__file_rec_header(h, &r) && s->end + r.len > size);
    return damaged ? 2 : 1;
}

static int check_tail(fa *s, uint64_t size, bool repair, kl_buf *report, int *rc)
{
    int kind = kl__file_tail_kind(s, size);
    if (kind <= 0) {
        *rc = kind;
        return 0;
    }
    bool damaged = kind == 2;
    bool cut = repair && !s->read_only;
    if (cut && ftruncate(s->fd, (off_t)s->end) < 0) {
        *rc = kl_seterrno(errno, "cut off an incomplete record", s->path);
        cut = false;
    }
    if (report) {
        if (damaged)
            kl_buf_printf(report, "%s: the last record (byte %llu): checksum mismatch", s->url,
                          (unsigned long long)s->end);
        else
            kl_buf_printf(report,
                          "%s: %llu bytes after the last whole record (byte %llu): an incomplete "
                          "record, a write cut short (by a killed writer, or a file cut short); "
                          "the file does not end at a record boundary",
                          s->url, (unsigned long long)(size - s->end), (unsigned long long)s->end);
        if (cut)
            kl_buf_printf(report, " (cut off: the file now ends at byte %llu, after the last "
                                  "whole record)\n",
                          (unsigned long long)s->end);
        else
            kl_buf_printf(report, "%s\n", repair ? "" : " (verify --repair cuts it off)");
    }
    return 1;
}

int kl__file_fa_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    fa *s = state;
    int rc = kl__file_flush(s);
    if (rc || (rc = kl__file_lock_ex(s)))
        return rc;
    kl__file_tab_reset(s);
    s->no_cut = true; /* the tail is judged below */
    rc = kl__file_scan(s);
    s->no_cut = false;
    struct stat st;
    if (!rc && fstat(s->fd, &st) < 0)
        rc = kl_seterrno(errno, "stat", s->path);
    if (!rc && s->recovered && report)
        kl_buf_printf(report,
                      "%s: %llu bytes after the last whole record (byte %llu), an incomplete "
                      "record (a killed writer's append), were cut off when this handle opened "
                      "the file: it ends at a record boundary now\n",
                      s->url, (unsigned long long)s->recovered,
                      (unsigned long long)s->recovered_at);
    s->recovered = 0;
    int tail_rc = 0;
    size_t np_tail = rc ? 0 : (size_t)check_tail(s, (uint64_t)st.st_size, repair, report, &tail_rc);
    if (!rc)
        rc = tail_rc;
    size_t n = 0, np = np_tail;
    slot *v = rc ? NULL : kl__file_live_sorted(s, &n);
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
        bool hdr = got >= RHDR && kl__file_rec_header(one.data, &r);
        if (hdr && got == v[i].len && kl__file_rec_body_ok(&r, one.data + RHDR))
            continue;
        np++;
        if (report) {
            if (hdr && got >= RHDR + (uint64_t)r.klen)
                kl__file_hexkey(report, one.data + RHDR, r.klen);
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
        rc = kl__file_compact_locked(s, false);
    if (!rc)
        stale_compactions(s, repair, report);
    kl__file_unlock(s);
    *problems = np;
    return rc;
}
