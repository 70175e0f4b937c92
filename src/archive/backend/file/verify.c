/* SPDX-License-Identifier: BSD-3-Clause */
/* file: verify (and repair): every record's framing and checksums.
 * See file.h. */
#define _GNU_SOURCE
#include "archive/backend/file/file.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

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

int kl__file_fa_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    fa *s = state;
    int rc = kl__file_flush(s);
    if (rc || (rc = kl__file_lock_ex(s)))
        return rc;
    kl__file_tab_reset(s);
    s->no_cut = !repair; /* checking alone changes nothing */
    rc = kl__file_scan(s);
    s->no_cut = false;
    size_t n = 0, np = 0;
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
    if (!rc && repair)
        remove_stale_compactions(s, report);
    kl__file_unlock(s);
    *problems = np;
    return rc;
}
