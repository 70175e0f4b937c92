/* SPDX-License-Identifier: BSD-3-Clause */
/* redis: archives: a batch of writes (put_many, one pipelined transaction)
 * and point reads, each beside the same work done with raw hiredis calls
 * in the same run.
 *
 * Needs $KLEPTO_TEST_REDIS_URL (make bench starts a server); without it
 * the figures are skipped with a note on stderr. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "klepto/archive.h"
#include "klepto/error.h"

enum { KEYLEN = 16, VALLEN = 64, NWRITE = 20000, NREAD = 5000, REPS = 5 };

static redisContext *raw_connect(const char *url)
{
    char host[256] = "127.0.0.1";
    int port = 6379, db = 0;
    const char *h = strstr(url, "://");
    if (h && sscanf(h + 3, "%255[^:/]:%d/%d", host, &port, &db) < 1)
        exit(1);
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) {
        fprintf(stderr, "bench_redis: raw connect %s: %s\n", url, c ? c->errstr : "no memory");
        exit(1);
    }
    if (db) {
        redisReply *r = redisCommand(c, "SELECT %d", db);
        if (!r || r->type == REDIS_REPLY_ERROR)
            exit(1);
        freeReplyObject(r);
    }
    return c;
}

static void raw_check(redisContext *c, redisReply *r, const char *what)
{
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "bench_redis: raw %s: %s\n", what, r ? r->str : c->errstr);
        exit(1);
    }
    freeReplyObject(r);
}

/* The simplest fast way: one HSET per entry, all in one pipeline, the
 * replies read at the end (one round trip). */
static double raw_pipeline_write(redisContext *c, const char *hash, const bench_data *d)
{
    raw_check(c, redisCommand(c, "DEL %s", hash), "DEL");
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < d->n; i++) {
        const char *argv[4] = {"HSET", hash, d->kp[i], d->vp[i]};
        size_t lens[4] = {4, strlen(hash), KEYLEN, VALLEN};
        redisAppendCommandArgv(c, 4, argv, lens);
    }
    for (size_t i = 0; i < d->n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK)
            exit(1);
        raw_check(c, r, "HSET");
    }
    return bench_rate(d->n, t0);
}

static double raw_get(redisContext *c, const char *hash, const bench_data *d, size_t nread)
{
    uint64_t t0 = bench_now_ns();
    size_t got = 0;
    for (size_t j = 0; j < nread; j++) {
        size_t i = (j * 7919) % d->n;
        const char *argv[3] = {"HGET", hash, d->kp[i]};
        size_t lens[3] = {4, strlen(hash), KEYLEN};
        redisReply *r = redisCommandArgv(c, 3, argv, lens);
        if (!r || r->type != REDIS_REPLY_STRING)
            exit(1);
        got += r->len;
        freeReplyObject(r);
    }
    BENCH_KEEP(got);
    return bench_rate(nread, t0);
}

/* Single writes, one round trip each. */
static double raw_put(redisContext *c, const char *hash, const bench_data *d, size_t nput)
{
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < nput; i++) {
        const char *argv[4] = {"HSET", hash, d->kp[i], d->vp[i]};
        size_t lens[4] = {4, strlen(hash), KEYLEN, VALLEN};
        raw_check(c, redisCommandArgv(c, 4, argv, lens), "HSET");
    }
    return bench_rate(nput, t0);
}

static double ours_put(kl_archive *ar, const bench_data *d, size_t nput)
{
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < nput; i++)
        BENCH_CHECK(kl_archive_put(ar, d->kp[i], KEYLEN, d->vp[i], VALLEN));
    return bench_rate(nput, t0);
}

static double ours_get(kl_archive *ar, const bench_data *d, size_t nread)
{
    kl_buf v = KL_BUF_INIT;
    uint64_t t0 = bench_now_ns();
    size_t got = 0;
    for (size_t j = 0; j < nread; j++) {
        size_t i = (j * 7919) % d->n;
        BENCH_CHECK(kl_archive_get(ar, d->kp[i], KEYLEN, &v));
        got += v.len;
    }
    BENCH_KEEP(got);
    double rate = bench_rate(nread, t0);
    kl_buf_free(&v);
    return rate;
}

int main(void)
{
    const char *base =
        bench_server_url("KLEPTO_TEST_REDIS_URL", "redis_pipeline_write, redis_get and redis_put");
    if (!base)
        return 0;
    bool want_write = bench_wants("redis_pipeline_write"), want_get = bench_wants("redis_get");
    bool want_put = bench_wants("redis_put");
    if (!want_write && !want_get && !want_put)
        return 0;
    char prefix[64], hash[96];
    snprintf(prefix, sizeof prefix, "prefix=kl_bench_%d", (int)getpid());
    snprintf(hash, sizeof hash, "kl_bench_raw_%d", (int)getpid());
    char *url = bench_url_with(base, prefix);
    bench_data d = bench_data_make(NWRITE, KEYLEN, VALLEN, 7);
    redisContext *c = raw_connect(base);
    kl_archive *ar;
    BENCH_CHECK(kl_archive_open(&ar, url, NULL));
    double ours_w[REPS], raw_w[REPS], ours_r[REPS], raw_r[REPS], ours_p[REPS], raw_p[REPS];
    for (int r = 0; r < REPS; r++) {
        raw_w[r] = raw_pipeline_write(c, hash, &d);
        BENCH_CHECK(kl_archive_clear(ar));
        uint64_t t0 = bench_now_ns();
        BENCH_CHECK(kl_archive_put_many(ar, d.n, d.kp, d.kl, d.vp, d.vl));
        ours_w[r] = bench_rate(d.n, t0);
        if (want_get) {
            raw_r[r] = raw_get(c, hash, &d, NREAD);
            ours_r[r] = ours_get(ar, &d, NREAD);
        }
        if (want_put) { /* overwrites: the count stays */
            raw_p[r] = raw_put(c, hash, &d, NREAD);
            ours_p[r] = ours_put(ar, &d, NREAD);
        }
    }
    size_t n = 0;
    BENCH_CHECK(kl_archive_count(ar, &n));
    if (n != d.n) {
        fprintf(stderr, "bench_redis: %zu entries stored, %zu written\n", n, d.n);
        exit(1);
    }
    if (want_write)
        bench_report("redis_pipeline_write", bench_median(ours_w, REPS), "ops/s",
                     bench_median(raw_w, REPS), "higher",
                     "20k entries, 16 B keys, 64 B values, one put_many (MULTI + variadic HSETs "
                     "of values and stamps + EXEC, one round trip) over loopback TCP; baseline: "
                     "raw hiredis, one pipelined HSET per entry (no stamps, no transaction)");
    if (want_get)
        bench_report("redis_get", bench_median(ours_r, REPS), "ops/s", bench_median(raw_r, REPS),
                     "higher",
                     "5k point reads of 64 B values among 20k, one round trip each, loopback "
                     "TCP; baseline: raw hiredis HGET");
    if (want_put)
        bench_report("redis_put", bench_median(ours_p, REPS), "ops/s", bench_median(raw_p, REPS),
                     "higher",
                     "5k single puts of 64 B values (MULTI, HSET value, HSET stamp, EXEC: one "
                     "round trip), loopback TCP; baseline: raw hiredis HSET");
    BENCH_CHECK(kl_archive_drop(ar));
    raw_check(c, redisCommand(c, "DEL %s", hash), "DEL");
    redisFree(c);
    free(url);
    bench_data_free(&d);
    return 0;
}
