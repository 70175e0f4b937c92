/* SPDX-License-Identifier: BSD-3-Clause */
/* See tempdir.h. */
#define _GNU_SOURCE
#include "tempdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

char *kt_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p = NULL;
    if (asprintf(&p, "%s/klepto-test-%s-XXXXXX", base && *base ? base : "/tmp", tag) < 0)
        return NULL;
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void kt_rmrf(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int kt_tempdir_make(char **dir, const char *tag)
{
    *dir = kt_tmpdir(tag);
    return *dir ? 0 : -1;
}

void kt_tempdir_remove(char **dir)
{
    kt_rmrf(*dir);
    free(*dir);
    *dir = NULL;
}

void kt_tempdir_prefer_memory(void)
{
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
}
