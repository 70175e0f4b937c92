/* SPDX-License-Identifier: BSD-3-Clause */
/* What the backends ask of the host system: absolute paths and the wall
 * clock (see host.h). */
#define _GNU_SOURCE
#include "archive/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *kl__abs_path(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char *cwd = getcwd(NULL, 0);
    char *r = NULL;
    if (cwd && asprintf(&r, "%s/%s", cwd, path) < 0)
        r = NULL;
    free(cwd);
    return r;
}

int64_t kl__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
