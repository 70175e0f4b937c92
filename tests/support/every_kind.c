/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE
#include "every_kind.h"

#include "klepto/archive.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void add(char **urls, size_t cap, const char *fmt, const char *a, const char *b)
{
    size_t n = 0;
    while (urls[n])
        n++;
    assert_true(n + 1 < cap);
    assert_true(asprintf(&urls[n], fmt, a, b) > 0);
    urls[n + 1] = NULL;
}

void kt_every_kind_urls(char **urls, size_t cap, const char *dir, const char *name)
{
    assert_true(cap > 0);
    urls[0] = NULL;
    add(urls, cap, "mem:%s%s", name, "");
    add(urls, cap, "dir:%s/d%s", dir, "");
    add(urls, cap, "file:%s/f.klf%s", dir, "");
    add(urls, cap, "sqlite:%s/s.db?table=t%s", dir, "");
    add(urls, cap, "sqlite:%s/k.db%s", dir, "");
#ifdef KLEPTO_HAVE_HDF5
    add(urls, cap, "hdf5:%s/h.h5%s", dir, "");
    add(urls, cap, "hdf5dir:%s/hd%s", dir, "");
#endif
    char tag[96];
    snprintf(tag, sizeof tag, "kt_%s_%ld", name, (long)getpid());
    const char *pg = getenv("KLEPTO_TEST_PG_URL");
    if (pg && *pg)
        add(urls, cap, strchr(pg, '?') ? "%s&table=%s" : "%s?table=%s", pg, tag);
    const char *my = getenv("KLEPTO_TEST_MYSQL_URL");
    if (my && *my)
        add(urls, cap, strchr(my, '?') ? "%s&table=%s" : "%s?table=%s", my, tag);
    const char *rd = getenv("KLEPTO_TEST_REDIS_URL");
    if (rd && *rd)
        add(urls, cap, strchr(rd, '?') ? "%s&prefix=%s" : "%s?prefix=%s", rd, tag);
}

void kt_every_kind_drop(char **urls)
{
    for (size_t i = 0; urls[i]; i++) {
        kl_archive *ar;
        if (strncmp(urls[i], "mem:", 4) && !kl_archive_open(&ar, urls[i], NULL))
            kl_archive_drop(ar);
        free(urls[i]);
        urls[i] = NULL;
    }
}
