/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: reading a WAL database from a folder the reader cannot write.
 *
 * A WAL database is read through its -shm file; SQLite makes that file
 * next to the database, so a reader without write permission on the
 * folder cannot open a database whose last writer closed (and removed its
 * -wal and -shm).  Then nobody has it open for writing, and it is read as
 * SQLite's "immutable" database: without the -shm and without locks.  A
 * writer that comes along while the read goes on is not seen and not
 * kept out, so closing checks that the database file is as it was and no
 * WAL content appeared; if not, close fails (KL_EIO) instead of letting
 * what was read pass as a consistent snapshot. */
#define _GNU_SOURCE
#include "archive/backend/sqlite/sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file named path + suffix exists (errors other than ENOENT count as
 * existing: the cautious answer). */
static bool sibling_exists(const char *path, const char *suffix, off_t *size)
{
    char *name = NULL;
    if (asprintf(&name, "%s%s", path, suffix) < 0)
        return true;
    struct stat st;
    int r = stat(name, &st), err = errno;
    free(name);
    if (r != 0)
        return err != ENOENT;
    if (size)
        *size = st.st_size;
    return true;
}

/* The database header says WAL: bytes 18 and 19 (write and read
 * versions) are 2. */
static bool header_says_wal(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    unsigned char h[20];
    bool wal = pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h && h[18] == 2 && h[19] == 2;
    close(fd);
    return wal;
}

static bool folder_writable(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return true; /* the ordinary open then says what fails */
    bool w = faccessat(AT_FDCWD, dirname(copy), W_OK, AT_EACCESS) == 0;
    free(copy);
    return w;
}

bool kl__sq_ro_wants_immutable(const char *path)
{
    return header_says_wal(path) && !folder_writable(path) && !sibling_exists(path, "-wal", NULL) &&
           !sibling_exists(path, "-shm", NULL);
}

char *kl__sq_immutable_uri(const char *path)
{
    /* file: URI: every byte but unreserved ones and '/' percent-encoded */
    size_t n = strlen(path);
    char *uri = malloc(3 * n + sizeof "file:?immutable=1");
    if (!uri)
        return NULL;
    char *p = stpcpy(uri, "file:");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/-._~", c))
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    strcpy(p, "?immutable=1");
    return uri;
}

int kl__sq_ro_snapshot(sq_state *s)
{
    struct stat st;
    if (stat(s->path, &st) != 0)
        return kl_seterrno(errno, "stat", s->path);
    s->immutable = true;
    s->snap_ino = st.st_ino;
    s->snap_size = st.st_size;
    s->snap_mtime = st.st_mtim;
    return 0;
}

int kl__sq_ro_check(const sq_state *s)
{
    if (!s->immutable)
        return 0;
    struct stat st;
    off_t wal = 0;
    bool same = stat(s->path, &st) == 0 && st.st_ino == s->snap_ino && st.st_size == s->snap_size &&
                st.st_mtim.tv_sec == s->snap_mtime.tv_sec &&
                st.st_mtim.tv_nsec == s->snap_mtime.tv_nsec;
    if (same && sibling_exists(s->path, "-wal", &wal) && wal > 0)
        same = false;
    if (same)
        return 0;
    return kl_seterr(KL_EIO,
                     "%s: the database was written while it was read without locks (its folder "
                     "is not writable, so SQLite cannot share the -shm file): what was read may "
                     "mix old and new entries; read again",
                     s->url);
}
