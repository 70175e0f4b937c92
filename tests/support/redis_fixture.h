/* SPDX-License-Identifier: BSD-3-Clause */
/* The shared Redis server of the tests ($KLEPTO_TEST_REDIS_URL, set by
 * scripts/with-servers.sh): archive URLs under prefixes of their own, and
 * raw hiredis commands to look behind the archive's back.  Failures are
 * cmocka assertions. */
#ifndef KLEPTO_TEST_REDIS_FIXTURE_H
#define KLEPTO_TEST_REDIS_FIXTURE_H

#include <hiredis/hiredis.h>

#include "testutil.h"

/* The server's URL, or NULL when the tests have none. */
const char *kt_redis_url(void);

/* Skips the calling test when there is no server. */
#define KT_NEED_REDIS()                                                                            \
    do {                                                                                           \
        if (!kt_redis_url()) {                                                                     \
            print_message("KLEPTO_TEST_REDIS_URL is not set (run under "                           \
                          "scripts/with-servers.sh): skipped\n");                                  \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* A fresh prefix for this process ("kt_TAG_PID_N") into buf. */
void kt_redis_new_prefix(char *buf, size_t cap, const char *tag);
/* base with ?prefix=P plus `extra` options ("" for none); heap. */
char *kt_redis_url_of(const char *base, const char *prefix, const char *extra);
/* The server's URL under a fresh prefix (heap), the prefix copied to p. */
char *kt_redis_fresh_url(char p[64], const char *tag);
/* host and port of a redis://HOST:PORT/... URL. */
void kt_redis_host_port(const char *url, char *host, size_t cap, int *port);

/* A raw connection to the server of url. */
redisContext *kt_redis_connect(const char *url);
/* A raw command (printf-style, as hiredis); the reply is returned (free it). */
redisReply *kt_redis_raw(redisContext *c, const char *fmt, ...);
/* A raw command of one argument whose reply is an integer. */
long long kt_redis_raw_int(redisContext *c, const char *fmt, const char *arg);

/* Open the archive at url and drop it (its keys are gone). */
void kt_redis_drop_url(const char *url);

#endif
