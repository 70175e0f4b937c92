/* SPDX-License-Identifier: BSD-3-Clause */
/* verify and verify --repair of an hdf5: archive (docs/hdf5.md): every
 * entry of the file read back and checked, the damaged ones dropped by a
 * rebuild, leftovers of writers that are gone listed and removed, and the
 * journal checked.  The archive's handle is hdf5.c's; this file reaches it
 * through hdf5_internal.h. */
#define _GNU_SOURCE
#include "archive/backend/hdf5_internal.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int kl__h5_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    h5_state *hs = state;
    kl__h5a_info info, *s = &info;
    kl__h5a_info_of(hs, s);
    kl_buf names = KL_BUF_INIT, bad = KL_BUF_INIT, val = KL_BUF_INIT;
    *problems = 0;
    kl__h5_enter();
    sweep_tmp(s, repair, report);
    hid_t f;
    int rc = kl__h5a_snapshot(hs, &f);
    if (!rc)
        rc = kl__h5a_list_names(hs, f, &names);
    for (size_t off = 0; !rc && off < names.len; off += KL_H5_NAME_HEX + 1) {
        const char *name = (const char *)names.data + off;
        kl__h5_entry e;
        int erc;
        if (!is_hex_name(name)) {
            erc = kl_seterr(KL_ECORRUPT, "%s: object %s is not a klepto entry", s->url, name);
        } else if (!(erc = kl__h5_entry_open(f, name, s->key, &e, s->url))) {
            erc = kl__h5_entry_value(&e, &val);
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
         * see rebuild_locked in hdf5.c */
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
