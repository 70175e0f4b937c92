/* SPDX-License-Identifier: BSD-3-Clause */
/* See redis_fixture.h. */
#define _GNU_SOURCE
#include "redis_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"

const char *kt_redis_url(void)
{
    const char *u = getenv("KLEPTO_TEST_REDIS_URL");
    return u && *u ? u : NULL;
}

/* A fresh prefix for this process. */
void kt_redis_new_prefix(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "kt_%s_%d_%d", tag, (int)getpid(), n++);
}

/* The server URL with ?prefix=P plus `extra` options (heap). */
char *kt_redis_url_of(const char *base, const char *prefix, const char *extra)
{
    char *u;
    assert_true(asprintf(&u, "%s?prefix=%s%s%s", base, prefix, *extra ? "&" : "", extra) > 0);
    return u;
}

/* The server's URL under a fresh prefix (heap), the prefix copied to p. */
char *kt_redis_fresh_url(char p[64], const char *tag)
{
    kt_redis_new_prefix(p, 64, tag);
    return kt_redis_url_of(kt_redis_url(), p, "");
}

/* host and port of a redis://HOST:PORT/... URL */
void kt_redis_host_port(const char *url, char *host, size_t cap, int *port)
{
    const char *h = strstr(url, "://");
    assert_non_null(h);
    h += 3;
    const char *colon = strchr(h, ':');
    assert_non_null(colon);
    snprintf(host, cap, "%.*s", (int)(colon - h), h);
    *port = atoi(colon + 1);
}

redisContext *kt_redis_connect(const char *url)
{
    char host[128];
    int port;
    kt_redis_host_port(url, host, sizeof host, &port);
    redisContext *c = redisConnect(host, port);
    assert_non_null(c);
    if (c->err)
        fail_msg("raw connect %s: %s", url, c->errstr);
    return c;
}

/* A raw command (printf-style as hiredis); the reply is returned (free it). */
redisReply *kt_redis_raw(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        fail_msg("raw command %s: %s", fmt, c->errstr);
    return r;
}

long long kt_redis_raw_int(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *r = kt_redis_raw(c, fmt, arg);
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("%s %s: not an integer reply (%s)", fmt, arg, r->str ? r->str : "");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

void kt_redis_drop_url(const char *url)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_drop(ar));
}
