/* SPDX-License-Identifier: BSD-3-Clause */
/* What the backends ask of the host system: absolute paths and the wall
 * clock, which tests may replace (see host.h). */
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

static int64_t fake_now;

void kl__now_ns_set_fake(int64_t ns) { __atomic_store_n(&fake_now, ns, __ATOMIC_RELAXED); }

int64_t kl__now_ns(void)
{
    int64_t fake = __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
    if (fake)
        return fake;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
