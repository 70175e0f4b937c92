/* redis:// archives against a real server ($KLEPTO_TEST_REDIS_URL, set by
 * scripts/with-servers.sh under `make test`; the tests skip without it).
 * Every test works under a prefix of its own (pid + counter) and removes
 * it, so test programs can share the server at once.  The tests that stop,
 * restart or reconfigure a server start a private redis-server of their
 * own on a free port. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"
#include "archive_suite.h"
#include "testutil.h"

static const char *redis_url(void)
{
    const char *u = getenv("KLEPTO_TEST_REDIS_URL");
    return u && *u ? u : NULL;
}

#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        if (!redis_url()) {                                                                        \
            print_message("KLEPTO_TEST_REDIS_URL is not set (run under "                           \
                          "scripts/with-servers.sh): skipped\n");                                  \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* A fresh prefix for this process. */
static void new_prefix(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "kt_%s_%d_%d", tag, (int)getpid(), n++);
}

/* The server URL with ?prefix=P plus `extra` options (heap). */
static char *url_of(const char *base, const char *prefix, const char *extra)
{
    char *u;
    assert_true(asprintf(&u, "%s?prefix=%s%s%s", base, prefix, *extra ? "&" : "", extra) > 0);
    return u;
}

/* The server's URL under a fresh prefix (heap), the prefix copied to p. */
static char *fresh_url(char p[64], const char *tag)
{
    new_prefix(p, 64, tag);
    return url_of(redis_url(), p, "");
}

/* host and port of a redis://HOST:PORT/... URL */
static void host_port(const char *url, char *host, size_t cap, int *port)
{
    const char *h = strstr(url, "://");
    assert_non_null(h);
    h += 3;
    const char *colon = strchr(h, ':');
    assert_non_null(colon);
    snprintf(host, cap, "%.*s", (int)(colon - h), h);
    *port = atoi(colon + 1);
}

static redisContext *raw_connect(const char *url)
{
    char host[128];
    int port;
    host_port(url, host, sizeof host, &port);
    redisContext *c = redisConnect(host, port);
    assert_non_null(c);
    if (c->err)
        fail_msg("raw connect %s: %s", url, c->errstr);
    return c;
}

/* A raw command (printf-style as hiredis); the reply is returned (free it). */
static redisReply *raw(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        fail_msg("raw command %s: %s", fmt, c->errstr);
    return r;
}

static long long raw_int(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *r = raw(c, fmt, arg);
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("%s %s: not an integer reply (%s)", fmt, arg, r->str ? r->str : "");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void drop_url(const char *url)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_drop(ar));
}

/* ---- the conformance suite ------------------------------------------- */

static void conformance_suite(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "suite");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
}

static void threads_share_one_handle(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "thr");
    kt_suite_threads(u);
    free(u);
}

/* ---- layout and isolation ------------------------------------------- */

static void prefixes_isolate_archives_in_one_db(void **state)
{
    (void)state;
    NEED_SERVER();
    char pa[64], pb[64], pab[80];
    new_prefix(pa, sizeof pa, "iso");
    new_prefix(pb, sizeof pb, "iso");
    snprintf(pab, sizeof pab, "%s:entries", pa); /* looks like a's key name */
    char *ua = url_of(redis_url(), pa, ""), *ub = url_of(redis_url(), pb, "");
    char *uab = url_of(redis_url(), pab, "");
    redisContext *c = raw_connect(redis_url());
    char bystander[96];
    snprintf(bystander, sizeof bystander, "%s-bystander", pa);
    freeReplyObject(raw(c, "SET %s keep", bystander));

    kl_archive *a, *b, *ab;
    KT_OK(kl_archive_open(&a, ua, NULL));
    KT_OK(kl_archive_open(&b, ub, NULL));
    KT_OK(kl_archive_open(&ab, uab, NULL));
    for (int i = 0; i < 20; i++) {
        char k[16];
        int kn = snprintf(k, sizeof k, "k%d", i);
        KT_OK(kl_archive_put(a, k, (size_t)kn, "A", 1));
        if (i < 5)
            KT_OK(kl_archive_put(b, k, (size_t)kn, "BB", 2));
        if (i < 3)
            KT_OK(kl_archive_put(ab, k, (size_t)kn, "CCC", 3));
    }
    size_t n;
    KT_OK(kl_archive_count(a, &n));
    assert_int_equal(n, 20);
    KT_OK(kl_archive_count(b, &n));
    assert_int_equal(n, 5);
    KT_OK(kl_archive_count(ab, &n));
    assert_int_equal(n, 3);
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(b, "k1", 2, &got));
    assert_int_equal(got.len, 2);
    assert_memory_equal(got.data, "BB", 2);
    assert_int_equal(kl_archive_get(b, "k10", 3, &got), KL_ENOTFOUND);

    /* the layout of docs/redis.md */
    char key[128];
    snprintf(key, sizeof key, "{%s}:entries", pa);
    assert_int_equal(raw_int(c, "HLEN %s", key), 20);
    snprintf(key, sizeof key, "{%s}:stamps", pa);
    assert_int_equal(raw_int(c, "HLEN %s", key), 20);
    snprintf(key, sizeof key, "{%s}:format", pa);
    redisReply *r = raw(c, "GET %s", key);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "klepto-redis 1");
    freeReplyObject(r);

    /* clear empties a only */
    KT_OK(kl_archive_clear(a));
    KT_OK(kl_archive_count(a, &n));
    assert_int_equal(n, 0);
    KT_OK(kl_archive_count(b, &n));
    assert_int_equal(n, 5);
    KT_OK(kl_archive_count(ab, &n));
    assert_int_equal(n, 3);
    /* drop destroys b only */
    KT_OK(kl_archive_drop(b));
    KT_OK(kl_archive_count(ab, &n));
    assert_int_equal(n, 3);
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    assert_int_equal(kl_archive_open(&b, ub, &o), KL_ENOTFOUND);
    assert_non_null(strstr(kl_errmsg(), pb));
    KT_OK(kl_archive_open(&b, ua, &o)); /* cleared, not dropped: still there */
    KT_OK(kl_archive_close(b));
    r = raw(c, "GET %s", bystander);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "keep");
    freeReplyObject(r);

    KT_OK(kl_archive_drop(a));
    KT_OK(kl_archive_drop(ab));
    freeReplyObject(raw(c, "DEL %s", bystander));
    redisFree(c);
    kl_buf_free(&got);
    free(ua);
    free(ub);
    free(uab);
}

static void binary_keys_with_nul_bytes_round_trip(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "bin");
    static const struct {
        const char *k;
        size_t kl;
        const char *v;
        size_t vl;
    } e[] = {
        {"", 0, "\x00", 1},
        {"\0", 1, "", 0},
        {"\0\0\0", 3, "\0a\0", 3},
        {"a\0b", 3, "\xff\xfe\r\n$3\r\n", 8}, /* a value that looks like the protocol */
        {"a\0c", 3, "x", 1},
        {"\x82\x01\x61", 3, "\xf6", 1},
        {"*1\r\n$4\r\nPING\r\n", 14, "y", 1},
    };
    const size_t N = sizeof e / sizeof e[0];
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    for (size_t i = 0; i < N; i++)
        KT_OK(kl_archive_put(ar, e[i].k, e[i].kl, e[i].v, e[i].vl));
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, N);
    kl_buf got = KL_BUF_INIT, key = KL_BUF_INIT;
    for (size_t i = 0; i < N; i++) {
        KT_OK(kl_archive_get(ar, e[i].k, e[i].kl, &got));
        assert_int_equal(got.len, e[i].vl);
        if (e[i].vl)
            assert_memory_equal(got.data, e[i].v, e[i].vl);
        kl_entry_info info;
        KT_OK(kl_archive_stat(ar, e[i].k, e[i].kl, &info));
        assert_int_equal(info.size, e[i].kl + e[i].vl);
    }
    assert_int_equal(kl_archive_contains(ar, "a", 1), 0); /* not a\0b cut at the NUL */
    assert_int_equal(kl_archive_contains(ar, "a\0b", 3), 1);
    int seen[16] = {0}, rc;
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    while ((rc = kl_archive_iter_next(it, &key, &got)) == 1) {
        size_t i = 0;
        while (i < N && !(key.len == e[i].kl && (!key.len || !memcmp(key.data, e[i].k, key.len))))
            i++;
        assert_true(i < N);
        seen[i]++;
        assert_int_equal(got.len, e[i].vl);
        if (got.len)
            assert_memory_equal(got.data, e[i].v, got.len);
    }
    assert_int_equal(rc, 0);
    kl_archive_iter_free(it);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    KT_OK(kl_archive_del(ar, "a\0b", 3));
    assert_int_equal(kl_archive_get(ar, "a\0b", 3, &got), KL_ENOTFOUND);
    KT_OK(kl_archive_get(ar, "a\0c", 3, &got));
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&got);
    kl_buf_free(&key);
    free(u);
}

static void multi_mib_values_round_trip(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "big");
    const size_t BIG = 24u << 20; /* over the batch chunk and flush sizes */
    uint8_t *v = malloc(BIG);
    assert_non_null(v);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < BIG; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = (uint8_t)x;
    }
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "big", 3, v, BIG));
    /* and in a batch, beside small ones */
    const void *keys[3] = {"s1", "big2", "s2"}, *vals[3] = {"1", v + 1, "2"};
    size_t kl[3] = {2, 4, 2}, vl[3] = {1, BIG - 1, 1};
    KT_OK(kl_archive_put_many(ar, 3, keys, kl, vals, vl));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "big", 3, &got));
    assert_int_equal(got.len, BIG);
    assert_memory_equal(got.data, v, BIG);
    kl_buf outs[2] = {KL_BUF_INIT, KL_BUF_INIT};
    bool found[2];
    const void *gk[2] = {"big2", "nope"};
    size_t gl[2] = {4, 4};
    KT_OK(kl_archive_get_many(ar, 2, gk, gl, outs, found));
    assert_true(found[0] && !found[1]);
    assert_int_equal(outs[0].len, BIG - 1);
    assert_memory_equal(outs[0].data, v + 1, BIG - 1);
    kl_entry_info info;
    KT_OK(kl_archive_stat(ar, "big", 3, &info));
    assert_int_equal(info.size, 3 + BIG);
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 4);
    /* iterated with its values (pages shrink to a few big values) */
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    kl_buf key = KL_BUF_INIT;
    size_t total = 0, bytes = 0;
    int rc;
    while ((rc = kl_archive_iter_next(it, &key, &got)) == 1) {
        total++;
        bytes += got.len;
        if (key.len == 3 && !memcmp(key.data, "big", 3))
            assert_memory_equal(got.data, v, BIG);
    }
    assert_int_equal(rc, 0);
    kl_archive_iter_free(it);
    assert_int_equal(total, 4);
    assert_int_equal(bytes, 2 * BIG + 1);
    kl_buf_free(&key);
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&got);
    kl_buf_free(&outs[0]);
    kl_buf_free(&outs[1]);
    free(v);
    free(u);
}

static void values_over_512_mib_are_too_big(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "huge");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    /* never touched: the length is refused before anything is read */
    size_t huge = (512u << 20) + 1;
    char *v = malloc(huge);
    assert_non_null(v);
    assert_int_equal(kl_archive_put(ar, "k", 1, v, huge), KL_ETOOBIG);
    assert_non_null(strstr(kl_errmsg(), "512 MiB"));
    const void *keys[2] = {"a", "b"}, *vals[2] = {"x", v};
    size_t kl[2] = {1, 1}, vl[2] = {1, huge};
    assert_int_equal(kl_archive_put_many(ar, 2, keys, kl, vals, vl), KL_ETOOBIG);
    free(v);
    size_t n = 9;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 0); /* nothing of the batch was written */
    KT_OK(kl_archive_drop(ar));
    free(u);
}

static void stamps_give_stat_and_foreign_entries_still_work(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "stat");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    KT_OK(kl_archive_put(ar, "k", 1, "value", 5));
    kl_entry_info info;
    KT_OK(kl_archive_stat(ar, "k", 1, &info));
    assert_true(info.stored_ns >= before);
    assert_int_equal(info.size, 6);
    assert_int_equal(kl_archive_stat(ar, "none", 4, &info), KL_ENOTFOUND);
    /* an entry another program wrote without a stamp: its size, no time */
    redisContext *c = raw_connect(redis_url());
    char key[128];
    snprintf(key, sizeof key, "{%s}:entries", p);
    freeReplyObject(raw(c, "HSET %s foreign %b", key, "abc", (size_t)3));
    KT_OK(kl_archive_stat(ar, "foreign", 7, &info));
    assert_int_equal(info.stored_ns, 0);
    assert_int_equal(info.size, 10);
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "foreign", 7, &got));
    assert_memory_equal(got.data, "abc", 3);
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&got);
    redisFree(c);
    free(u);
}

static void a_prefix_holding_something_else_is_refused(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64], key[128];
    new_prefix(p, sizeof p, "fmt");
    char *u = url_of(redis_url(), p, "");
    redisContext *c = raw_connect(redis_url());
    snprintf(key, sizeof key, "{%s}:format", p);
    freeReplyObject(raw(c, "SET %s %s", key, "somebody else's"));
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_ECORRUPT);
    assert_null(ar);
    freeReplyObject(raw(c, "SET %s %s", key, "klepto-redis 7"));
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EVERSION);
    freeReplyObject(raw(c, "DEL %s", key));
    /* read-only and not creating: a missing archive is not made */
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = true;
    assert_int_equal(kl_archive_open(&ar, u, &o), KL_ENOTFOUND);
    assert_int_equal(raw_int(c, "EXISTS %s", key), 0);
    /* read-only on an existing archive refuses writes */
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v", 1));
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_open(&ar, u, &o));
    assert_int_equal(kl_archive_put(ar, "k", 1, "w", 1), KL_EPERM);
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_memory_equal(got.data, "v", 1);
    KT_OK(kl_archive_close(ar));
    drop_url(u);
    kl_buf_free(&got);
    redisFree(c);
    free(u);
}

/* ---- iteration under concurrent writers ------------------------------- */

static void iteration_survives_writers_without_repeats(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "scan");
    kl_archive *ar, *w;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_open(&w, u, NULL));
    enum { N0 = 3000, STEP = 16 };
    const void **keys = calloc(N0, sizeof *keys);
    size_t *kl = calloc(N0, sizeof *kl);
    char(*kb)[16] = calloc(N0, 16);
    for (int i = 0; i < N0; i++) {
        kl[i] = (size_t)snprintf(kb[i], 16, "old%d", i);
        keys[i] = kb[i];
    }
    KT_OK(kl_archive_put_many(ar, N0, keys, kl, keys, kl));
    /* a writer grows the hash (rehashing it) while the scan runs */
    unsigned char *seen = calloc(N0, 1);
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    int rc, yielded = 0, extra = 0;
    while ((rc = kl_archive_iter_next(it, &k, &v)) == 1) {
        assert_int_equal(k.len, v.len);
        assert_memory_equal(k.data, v.data, k.len);
        kl_buf_cstr(&k);
        if (!strncmp((char *)k.data, "old", 3)) {
            int i = atoi((char *)k.data + 3);
            assert_true(i >= 0 && i < N0);
            assert_int_equal(seen[i], 0); /* never twice */
            seen[i] = 1;
        } else {
            extra++;
        }
        if (yielded++ % STEP == 0) {
            const void *nk[STEP];
            size_t nl[STEP];
            char nb[STEP][24];
            for (int j = 0; j < STEP; j++) {
                nl[j] = (size_t)snprintf(nb[j], sizeof nb[j], "new%d", yielded * STEP + j);
                nk[j] = nb[j];
            }
            KT_OK(kl_archive_put_many(w, STEP, nk, nl, nk, nl));
        }
    }
    assert_int_equal(rc, 0);
    kl_archive_iter_free(it);
    for (int i = 0; i < N0; i++)
        assert_int_equal(seen[i], 1); /* present throughout: seen */
    print_message("scan: %d old, %d added meanwhile seen\n", N0, extra);
    KT_OK(kl_archive_close(w));
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&k);
    kl_buf_free(&v);
    free(seen);
    free(keys);
    free(kl);
    free(kb);
    free(u);
}

/* ---- many processes ---------------------------------------------------- */

enum { NPROC = 8, PER = 2000 };

static int val_of(char *buf, size_t cap, int proc, int i)
{
    return snprintf(buf, cap, "value of %d/%d", proc, i);
}

/* In a child: write PER keys (half one by one, half in batches), read
 * them back, and read what the others wrote so far; the number of
 * problems is the exit status (capped). */
static int proc_body(const char *url, int id)
{
    kl_archive *ar;
    if (kl_archive_open(&ar, url, NULL))
        return 100;
    int bad = 0;
    char k[32], v[48];
    kl_buf got = KL_BUF_INIT;
    for (int i = 0; i < PER / 2; i++) {
        int kn = snprintf(k, sizeof k, "p%d/%d", id, i), vn = val_of(v, sizeof v, id, i);
        bad += kl_archive_put(ar, k, (size_t)kn, v, (size_t)vn) != 0;
    }
    for (int i = PER / 2; i < PER; i += 100) {
        const void *ks[100], *vs[100];
        size_t kl[100], vl[100];
        static char kb[100][32], vb[100][48];
        for (int j = 0; j < 100; j++) {
            kl[j] = (size_t)snprintf(kb[j], 32, "p%d/%d", id, i + j);
            vl[j] = (size_t)val_of(vb[j], 48, id, i + j);
            ks[j] = kb[j];
            vs[j] = vb[j];
        }
        bad += kl_archive_put_many(ar, 100, ks, kl, vs, vl) != 0;
    }
    for (int i = 0; i < PER; i++) {
        int kn = snprintf(k, sizeof k, "p%d/%d", id, i), vn = val_of(v, sizeof v, id, i);
        if (kl_archive_get(ar, k, (size_t)kn, &got) || got.len != (size_t)vn ||
            memcmp(got.data, v, (size_t)vn))
            bad++;
        /* another process's key: absent yet, or exactly its value */
        int other = (id + 1 + i % (NPROC - 1)) % NPROC;
        kn = snprintf(k, sizeof k, "p%d/%d", other, i);
        vn = val_of(v, sizeof v, other, i);
        int r = kl_archive_get(ar, k, (size_t)kn, &got);
        if (r == 0 ? got.len != (size_t)vn || memcmp(got.data, v, (size_t)vn) : r != KL_ENOTFOUND)
            bad++;
    }
    kl_buf_free(&got);
    kl_archive_close(ar);
    return bad > 99 ? 99 : bad;
}

static void processes_write_and_read_at_once_and_lose_nothing(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "procs");
    drop_url(u);
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(proc_body(u, i));
    }
    for (int i = 0; i < NPROC; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NPROC * PER);
    /* every entry once, with its value */
    unsigned char *seen = calloc(NPROC * PER, 1);
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    int rc, total = 0;
    while ((rc = kl_archive_iter_next(it, &k, &v)) == 1) {
        int proc, i;
        kl_buf_cstr(&k);
        assert_int_equal(sscanf((char *)k.data, "p%d/%d", &proc, &i), 2);
        assert_true(proc >= 0 && proc < NPROC && i >= 0 && i < PER);
        assert_int_equal(seen[proc * PER + i], 0);
        seen[proc * PER + i] = 1;
        char want[48];
        int wn = val_of(want, sizeof want, proc, i);
        assert_int_equal(v.len, (size_t)wn);
        assert_memory_equal(v.data, want, (size_t)wn);
        total++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(total, NPROC * PER);
    kl_archive_iter_free(it);
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&k);
    kl_buf_free(&v);
    free(seen);
    free(u);
}

/* A handle opened before fork() and used on both sides at once: each
 * process talks over a connection of its own, so no answer goes to the
 * wrong process. */
static int fork_reads(kl_archive *ar, const char *mine)
{
    int bad = 0;
    kl_buf got = KL_BUF_INIT;
    for (int i = 0; i < 1500; i++) {
        const char *k = i % 2 ? mine : "shared";
        if (kl_archive_get(ar, k, strlen(k), &got) || got.len != strlen(k) ||
            memcmp(got.data, k, got.len))
            bad++;
    }
    kl_buf_free(&got);
    return bad;
}

static void a_handle_shared_across_fork_keeps_answers_apart(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "fork");
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "shared", 6, "shared", 6));
    KT_OK(kl_archive_put(ar, "parent", 6, "parent", 6));
    KT_OK(kl_archive_put(ar, "child", 5, "child", 5));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int bad = fork_reads(ar, "child");
        bad += kl_archive_put(ar, "from child", 10, "x", 1) != 0;
        _exit(bad > 99 ? 99 : bad);
    }
    int bad = fork_reads(ar, "parent");
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(kl_archive_contains(ar, "from child", 10), 1);
    KT_OK(kl_archive_drop(ar));
    free(u);
}

/* ---- errors ------------------------------------------------------------ */

static void an_unreachable_server_fails_fast(void **state)
{
    (void)state;
    /* nothing listens on port 1 of the loopback: refused at once */
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, "redis://127.0.0.1:1/0?prefix=x&timeout=2", NULL);
    assert_int_equal(rc, KL_EBACKEND);
    assert_null(ar);
    print_message("unreachable: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "redis://127.0.0.1:1/0"));
    assert_non_null(strstr(kl_errmsg(), "refused"));
    /* an IPv6 address in brackets */
    rc = kl_archive_open(&ar, "redis://[::1]:1/0?timeout=2", NULL);
    assert_int_equal(rc, KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "[::1]:1"));
}

/* Passwords shorter than their mask are masked too (the message grows). */
static void short_passwords_are_masked(void **state)
{
    (void)state;
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "redis://u:a@127.0.0.1:1/0?timeout=2", NULL),
                     KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "redis://u:***@127.0.0.1:1/0"));
    assert_null(strstr(kl_errmsg(), ":a@"));
    assert_int_equal(kl_archive_open(&ar, "redis://:ab@127.0.0.1:1/0?timeout=2", NULL),
                     KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "redis://:***@127.0.0.1:1/0"));
    assert_null(ar);
    /* and in options (refused here, but named in the message) */
    assert_int_equal(kl_archive_open(&ar, "redis://127.0.0.1:1/0?password=a&password=b", NULL),
                     KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "?password=***&password=***"));
}

static void bad_urls_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "redis://127.0.0.1:0/0",
        "redis://127.0.0.1:65536/0",
        "redis://127.0.0.1:6x/0",
        "redis://127.0.0.1:/0",
        "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/0/1",
        "redis://127.0.0.1:6379/-1",
        "redis://127.0.0.1:6379/99999999999",
        "redis:127.0.0.1",
        "redis://user@127.0.0.1/0",
        "redis://:p%zz@127.0.0.1/0",
        "redis://:p%4@127.0.0.1/0",
        "redis://:p%00q@127.0.0.1/0",
        "redis://u%0:p@127.0.0.1/0",
        "redis://[::1/0",
        "redis://127.0.0.1/0?prefix=",
        "redis://127.0.0.1/0?prefix=a%7Bb",
        "redis://127.0.0.1/0?prefix=a%4",
        "redis://127.0.0.1/0?timeout=x",
        "redis://127.0.0.1/0?timeout=-1",
        "redis://127.0.0.1/0?colour=blue",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kl_archive *ar = NULL;
        int rc = kl_archive_open(&ar, bad[i], NULL);
        if (rc != KL_EINVAL)
            fail_msg("%s -> %d (%s), expected KL_EINVAL", bad[i], rc, kl_errmsg());
        assert_null(ar);
        assert_non_null(strstr(kl_errmsg(), "redis:"));
    }
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "redis://127.0.0.1/0?colour=blue", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "colour"));
}

static void a_database_out_of_range_is_the_servers_error(void **state)
{
    (void)state;
    NEED_SERVER();
    char *u;
    char host[128];
    int port;
    host_port(redis_url(), host, sizeof host, &port);
    assert_true(asprintf(&u, "redis://%s:%d/9999?prefix=x", host, port) > 0);
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EBACKEND);
    assert_null(ar);
    assert_non_null(strstr(kl_errmsg(), "out of range"));
    assert_non_null(strstr(kl_errmsg(), "/9999"));
    free(u);
    /* another DB is another namespace */
    char p[64];
    new_prefix(p, sizeof p, "db");
    char *u0, *u1;
    assert_true(asprintf(&u0, "redis://%s:%d/0?prefix=%s", host, port, p) > 0);
    assert_true(asprintf(&u1, "redis://%s:%d/1?prefix=%s", host, port, p) > 0);
    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, u0, NULL));
    KT_OK(kl_archive_open(&b, u1, NULL));
    KT_OK(kl_archive_put(a, "k", 1, "0", 1));
    assert_int_equal(kl_archive_contains(b, "k", 1), 0);
    KT_OK(kl_archive_drop(a));
    KT_OK(kl_archive_drop(b));
    free(u0);
    free(u1);
}

/* ---- connections cut while a command is in flight ---------------------- */

/* A TCP relay between the archive and the server that can cut the
 * connection after forwarding a command, before its reply gets back: the
 * server runs the command, the client never hears of it. */
typedef struct relay {
    int lfd, port, target;
    atomic_int cuts;  /* commands still to cut after */
    atomic_bool slam; /* hang up on the next data without reading it all */
    atomic_bool mute; /* swallow what the client sends: no answer ever */
    atomic_int conns; /* connections accepted */
    atomic_bool stop;
    pthread_t th;
} relay;

static bool relay_pass(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    int cfd = -1, sfd = -1;
    while (!atomic_load(&r->stop)) {
        struct pollfd p[3] = {{r->lfd, POLLIN, 0}, {cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 3, 50) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int nc = accept(r->lfd, NULL, NULL);
            if (cfd >= 0)
                close(cfd), close(sfd);
            cfd = nc;
            sfd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->target)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (connect(sfd, (struct sockaddr *)&a, sizeof a) != 0)
                close(cfd), close(sfd), cfd = sfd = -1;
            atomic_fetch_add(&r->conns, 1);
            continue;
        }
        bool ok = true;
        if (cfd >= 0 && p[1].revents && atomic_load(&r->mute)) {
            char buf[65536];
            ok = read(cfd, buf, sizeof buf) > 0;
        } else if (cfd >= 0 && p[1].revents && atomic_exchange(&r->slam, false)) {
            /* a FIN first, then a reset while the client still writes:
             * its next write fails with EPIPE (the SIGPIPE case) */
            shutdown(cfd, SHUT_WR);
            char buf[65536];
            for (int i = 0; i < 20 && read(cfd, buf, sizeof buf) > 0; i++)
                ;
            ok = false;
        } else if (cfd >= 0 && p[1].revents) {
            ok = relay_pass(cfd, sfd);
            if (ok && atomic_load(&r->cuts) > 0) {
                atomic_fetch_sub(&r->cuts, 1);
                /* let the server run it and answer, then cut */
                struct pollfd q = {sfd, POLLIN, 0};
                poll(&q, 1, 2000);
                ok = false;
            }
        }
        if (ok && sfd >= 0 && p[2].revents)
            ok = relay_pass(sfd, cfd);
        if (!ok && cfd >= 0) {
            close(cfd);
            close(sfd);
            cfd = sfd = -1;
        }
    }
    if (cfd >= 0)
        close(cfd), close(sfd);
    return NULL;
}

static void relay_start(relay *r, int target)
{
    r->target = target;
    atomic_init(&r->cuts, 0);
    atomic_init(&r->conns, 0);
    atomic_init(&r->slam, false);
    atomic_init(&r->mute, false);
    atomic_init(&r->stop, false);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->lfd, 8), 0);
    assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&a, &al), 0);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->th, NULL, relay_main, r), 0);
}

static void relay_stop(relay *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->th, NULL);
    close(r->lfd);
}

static void connections_cut_mid_command(void **state)
{
    (void)state;
    NEED_SERVER();
    char host[128], p[64];
    int port;
    host_port(redis_url(), host, sizeof host, &port);
    relay r;
    relay_start(&r, port);
    new_prefix(p, sizeof p, "cut");
    char *u;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=%s", r.port, p) > 0);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v1", 2));
    int conns = atomic_load(&r.conns);
    kl_buf got = KL_BUF_INIT;

    /* a read cut once: retried on a new connection, answered */
    atomic_store(&r.cuts, 1);
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_int_equal(got.len, 2);
    assert_memory_equal(got.data, "v1", 2);
    assert_int_equal(atomic_load(&r.conns), conns + 1);
    size_t n = 0;
    atomic_store(&r.cuts, 1);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 1);

    /* a read cut twice: an error naming the URL, no crash */
    atomic_store(&r.cuts, 2);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_EBACKEND);
    print_message("read cut twice: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), u));
    assert_non_null(strstr(kl_errmsg(), "closed the connection"));

    /* a write cut: reported, not retried (the server did run it) */
    atomic_store(&r.cuts, 1);
    assert_int_equal(kl_archive_put(ar, "k2", 2, "v2", 2), KL_EBACKEND);
    assert_non_null(strstr(kl_errmsg(), "put"));
    KT_OK(kl_archive_get(ar, "k2", 2, &got)); /* and the handle goes on */
    assert_memory_equal(got.data, "v2", 2);
    atomic_store(&r.cuts, 1);
    assert_int_equal(kl_archive_del(ar, "k2", 2), KL_EBACKEND);
    assert_int_equal(kl_archive_contains(ar, "k2", 2), 0);

    /* a batch cut, then an iteration cut once */
    const void *keys[3] = {"a", "b", "c"};
    size_t kl[3] = {1, 1, 1};
    atomic_store(&r.cuts, 1);
    assert_int_equal(kl_archive_put_many(ar, 3, keys, kl, keys, kl), KL_EBACKEND);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 4); /* all of it ran (a transaction), none lost halfway */
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    atomic_store(&r.cuts, 1);
    int rc, total = 0;
    while ((rc = kl_archive_iter_next(it, &got, NULL)) == 1)
        total++;
    assert_int_equal(rc, 0);
    assert_int_equal(total, 4);
    kl_archive_iter_free(it);

    /* hung up on while a big batch is being written: an error (and no
     * SIGPIPE kills the process) */
    size_t big = 16u << 20;
    char *v = calloc(1, big);
    assert_non_null(v);
    const void *bk[3] = {"big1", "big2", "big3"}, *bv[3] = {v, v, v};
    size_t bkl[3] = {4, 4, 4}, bvl[3] = {big, big, big};
    for (int i = 0; i < 5; i++) {
        atomic_store(&r.slam, true);
        assert_int_equal(kl_archive_put_many(ar, 3, bk, bkl, bv, bvl), KL_EBACKEND);
    }
    print_message("hung up on: %s\n", kl_errmsg());
    free(v);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 4);
    KT_OK(kl_archive_drop(ar));

    /* a server that never answers: timeout= ends the wait, with a message */
    char *slow;
    assert_true(asprintf(&slow, "%s&timeout=0.3", u) > 0);
    KT_OK(kl_archive_open(&ar, slow, NULL));
    atomic_store(&r.mute, true);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_EBACKEND);
    print_message("mute server: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), "no answer within timeout=0.3 s"));
    assert_int_equal(kl_archive_put(ar, "k", 1, "v", 1), KL_EBACKEND);
    atomic_store(&r.mute, false);
    KT_OK(kl_archive_drop(ar)); /* answered again */
    free(slow);
    relay_stop(&r);
    kl_buf_free(&got);
    free(u);
}

/* ---- a private server: passwords, dropped connections, restarts ------- */

typedef struct private_server {
    char *dir;
    int port;
} private_server;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool server_up(int port)
{
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){1, 0});
    bool ok = c && !c->err;
    if (ok) {
        redisReply *r = redisCommand(c, "PING");
        /* a password-protected server answers NOAUTH: up too */
        ok = r != NULL;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

static void server_start(private_server *s)
{
    char *cmd;
    assert_true(asprintf(&cmd,
                         "redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no "
                         "--dir '%s' --logfile '%s/log' --pidfile '%s/pid' --daemonize yes "
                         ">/dev/null 2>&1",
                         s->port, s->dir, s->dir, s->dir) > 0);
    assert_int_equal(kt_run(cmd, NULL), 0);
    free(cmd);
    for (int i = 0; i < 200 && !server_up(s->port); i++)
        usleep(20000);
    assert_true(server_up(s->port));
}

static void server_stop(private_server *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/pid", s->dir);
    char *pid = kt_slurp(path, NULL);
    if (!pid)
        return;
    pid_t p = (pid_t)atoi(pid);
    free(pid);
    if (p <= 0)
        return;
    kill(p, SIGTERM);
    /* gone once it removed its pid file and closed its port (the exited
     * process may stay a zombie a while: it is not our child) */
    for (int i = 0; i < 250 && kill(p, 0) == 0; i++) {
        if (access(path, F_OK) != 0 && !server_up(s->port))
            break;
        usleep(20000);
    }
    unlink(path);
}

static bool have_redis_server(void)
{
    if (kt_run("command -v redis-server >/dev/null 2>&1", NULL) == 0)
        return true;
    print_message("redis-server is not installed: skipped\n");
    return false;
}

static void passwords_users_and_refusals(void **state)
{
    (void)state;
    if (!have_redis_server())
        skip();
    private_server srv = {kt_tmpdir("redispw"), free_port()};
    server_start(&srv);
    char *u;
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_true(c && !c->err);
    freeReplyObject(raw(c, "ACL SETUSER kt on >s3cr%%et@/:x ~* +@all"));
    freeReplyObject(raw(c, "CONFIG SET requirepass topsecret"));
    redisFree(c);

    /* no password: the server's refusal, as KL_EPERM */
    kl_archive *ar = NULL;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EPERM);
    assert_non_null(strstr(kl_errmsg(), "NOAUTH"));
    free(u);
    /* a wrong password: refused, and never printed */
    assert_true(asprintf(&u, "redis://:wrongpass@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EPERM);
    print_message("wrong password: %s\n", kl_errmsg());
    assert_null(strstr(kl_errmsg(), "wrongpass"));
    assert_non_null(strstr(kl_errmsg(), "127.0.0.1"));
    free(u);
    /* the default user's password */
    assert_true(asprintf(&u, "redis://:topsecret@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v", 1));
    KT_OK(kl_archive_close(ar));
    free(u);
    /* a named user, its password percent-encoded */
    assert_true(
        asprintf(&u, "redis://kt:s3cr%%25et%%40%%2F%%3Ax@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    KT_OK(kl_archive_open(&ar, u, NULL));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_memory_equal(got.data, "v", 1);
    KT_OK(kl_archive_close(ar));
    free(u);
    assert_true(asprintf(&u, "redis://kt:nope@127.0.0.1:%d/0?prefix=pw", srv.port) > 0);
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EPERM);
    assert_non_null(strstr(kl_errmsg(), "WRONGPASS"));
    free(u);
    kl_buf_free(&got);
    server_stop(&srv);
    kt_rmrf(srv.dir);
    free(srv.dir);
}

/* A full server (maxmemory reached, noeviction): a put, a batch and a
 * delete-free read path all report KL_ENOSPC or work; nothing of a refused
 * batch is stored, and what was stored before stays readable. */
static void a_full_server_refuses_writes_cleanly(void **state)
{
    (void)state;
    if (!have_redis_server())
        skip();
    private_server srv = {kt_tmpdir("redisfull"), free_port()};
    server_start(&srv);
    char *u;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=full", srv.port) > 0);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "before", 6, "kept", 4));
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_true(c && !c->err);
    freeReplyObject(raw(c, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(raw(c, "CONFIG SET maxmemory 1"));
    enum { VLEN = 1 << 20 };
    char *big = calloc(1, VLEN);
    assert_non_null(big);
    assert_int_equal(kl_archive_put(ar, "big", 3, big, VLEN), KL_ENOSPC);
    assert_non_null(strstr(kl_errmsg(), "OOM"));
    const void *keys[2] = {"b1", "b2"}, *vals[2] = {big, big};
    size_t klens[2] = {2, 2}, vlens[2] = {VLEN, VLEN};
    assert_int_equal(kl_archive_put_many(ar, 2, keys, klens, vals, vlens), KL_ENOSPC);
    /* reads still work; the refused writes left nothing */
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "before", 6, &got));
    assert_memory_equal(got.data, "kept", 4);
    freeReplyObject(raw(c, "CONFIG SET maxmemory 0"));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 1);
    assert_int_equal(kl_archive_contains(ar, "big", 3), 0);
    assert_int_equal(kl_archive_contains(ar, "b1", 2), 0);
    /* and once there is room again, writes work on the same handle */
    KT_OK(kl_archive_put(ar, "big", 3, big, VLEN));
    KT_OK(kl_archive_close(ar));
    redisFree(c);
    kl_buf_free(&got);
    free(big);
    free(u);
    server_stop(&srv);
    kt_rmrf(srv.dir);
    free(srv.dir);
}

static void lost_connections_and_restarts_are_survived(void **state)
{
    (void)state;
    if (!have_redis_server())
        skip();
    private_server srv = {kt_tmpdir("redisstop"), free_port()};
    server_start(&srv);
    char *u;
    assert_true(asprintf(&u, "redis://127.0.0.1:%d/0?prefix=stop&timeout=5", srv.port) > 0);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, u, NULL));
    KT_OK(kl_archive_put(ar, "k", 1, "v1", 2));
    kl_buf got = KL_BUF_INIT;

    /* the server closes our connection (as its idle timeout would): the
     * next read and the next write both go through on a new one */
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_true(c && !c->err);
    freeReplyObject(raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_memory_equal(got.data, "v1", 2);
    freeReplyObject(raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    KT_OK(kl_archive_put(ar, "k2", 2, "v2", 2));
    freeReplyObject(raw(c, "CLIENT KILL TYPE normal SKIPME yes"));
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    kl_buf k = KL_BUF_INIT;
    int n = 0;
    while (kl_archive_iter_next(it, &k, NULL) == 1)
        n++;
    kl_archive_iter_free(it);
    assert_int_equal(n, 2);

    /* the server hangs up while a big value is still being sent (over its
     * proto-max-bulk-len): an error, and no SIGPIPE kills the process */
    freeReplyObject(raw(c, "CONFIG SET proto-max-bulk-len 1mb"));
    size_t big = 16u << 20;
    char *v = calloc(1, big);
    assert_non_null(v);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kl_archive_put(ar, "big", 3, v, big), KL_EBACKEND);
        print_message("hung up on: %s\n", kl_errmsg());
    }
    const void *bk[2] = {"big", "big2"}, *bv[2] = {v, v};
    size_t bkl[2] = {3, 4}, bvl[2] = {big, big};
    assert_int_equal(kl_archive_put_many(ar, 2, bk, bkl, bv, bvl), KL_EBACKEND);
    free(v);
    assert_int_equal(kl_archive_contains(ar, "big", 3), 0);
    freeReplyObject(raw(c, "CONFIG SET proto-max-bulk-len 512mb"));
    redisFree(c);

    /* the server stops: reads and writes fail with a message, no crash */
    server_stop(&srv);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_EBACKEND);
    print_message("stopped server: %s\n", kl_errmsg());
    assert_non_null(strstr(kl_errmsg(), u));
    assert_true(strstr(kl_errmsg(), "refused") || strstr(kl_errmsg(), "closed"));
    assert_int_equal(kl_archive_put(ar, "k3", 2, "x", 1), KL_EBACKEND);
    size_t cnt;
    assert_int_equal(kl_archive_count(ar, &cnt), KL_EBACKEND);

    /* back (empty: no persistence): the handle reconnects by itself */
    server_start(&srv);
    assert_int_equal(kl_archive_get(ar, "k", 1, &got), KL_ENOTFOUND);
    KT_OK(kl_archive_put(ar, "k", 1, "v3", 2));
    KT_OK(kl_archive_get(ar, "k", 1, &got));
    assert_memory_equal(got.data, "v3", 2);
    KT_OK(kl_archive_close(ar));

    kl_buf_free(&got);
    kl_buf_free(&k);
    server_stop(&srv);
    kt_rmrf(srv.dir);
    free(srv.dir);
    free(u);
}

/* ---- the command-line tool ------------------------------------------- */

static void cli_put_get_stats_export(void **state)
{
    (void)state;
    NEED_SERVER();
    char p[64];
    char *u = fresh_url(p, "cli");
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, true, "put '%s' \"(1, 'a')\" \"{'k': [1.5, None]}\"", u), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, true, "put '%s' \"b'\\\\x00'\" 7", u), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "get '%s' \"(1, 'a')\"", u), 0);
    assert_string_equal(out, "{'k': [1.5, None]}\n");
    free(out);
    assert_int_equal(kt_klepto(&out, false, "get '%s' \"b'\\\\x00'\"", u), 0);
    assert_string_equal(out, "7\n");
    free(out);
    assert_int_equal(kt_klepto(&out, true, "get '%s' 99", u), 1);
    assert_non_null(strstr(out, "not found"));
    free(out);
    assert_int_equal(kt_klepto(&out, false, "count '%s'", u), 0);
    assert_string_equal(out, "2\n");
    free(out);
    assert_int_equal(kt_klepto(&out, false, "stats '%s'", u), 0);
    assert_non_null(strstr(out, "entries=2"));
    assert_non_null(strstr(out, "backend=redis"));
    assert_non_null(strstr(out, p));
    free(out);
    assert_int_equal(kt_klepto(&out, false, "export '%s'", u), 0);
    assert_non_null(strstr(out, "\"value\": 7"));
    assert_non_null(strstr(out, "1.5"));
    int lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 2);
    free(out);
    /* prune keeps the most recently stored (the stamps' times) */
    assert_int_equal(kt_klepto(&out, true, "put '%s' 3 \"'newest'\"", u), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, true, "prune '%s' --max-entries 1", u), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "ls '%s'", u), 0);
    assert_string_equal(out, "3\n");
    free(out);
    /* a server that is not there: status 3 and the URL in the message */
    assert_int_equal(kt_klepto(&out, true, "get 'redis://127.0.0.1:1/0' 1"), 3);
    assert_non_null(strstr(out, "127.0.0.1:1"));
    free(out);
    assert_int_equal(kt_klepto(&out, true, "clear '%s'", u), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, false, "count '%s'", u), 0);
    assert_string_equal(out, "0\n");
    free(out);
    drop_url(u);
    free(u);
}

int main(void)
{
    if (!redis_url())
        printf("# KLEPTO_TEST_REDIS_URL is not set: the server tests skip\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conformance_suite),
        cmocka_unit_test(threads_share_one_handle),
        cmocka_unit_test(prefixes_isolate_archives_in_one_db),
        cmocka_unit_test(binary_keys_with_nul_bytes_round_trip),
        cmocka_unit_test(multi_mib_values_round_trip),
        cmocka_unit_test(values_over_512_mib_are_too_big),
        cmocka_unit_test(stamps_give_stat_and_foreign_entries_still_work),
        cmocka_unit_test(a_prefix_holding_something_else_is_refused),
        cmocka_unit_test(iteration_survives_writers_without_repeats),
        cmocka_unit_test(processes_write_and_read_at_once_and_lose_nothing),
        cmocka_unit_test(a_handle_shared_across_fork_keeps_answers_apart),
        cmocka_unit_test(an_unreachable_server_fails_fast),
        cmocka_unit_test(short_passwords_are_masked),
        cmocka_unit_test(bad_urls_are_refused),
        cmocka_unit_test(a_database_out_of_range_is_the_servers_error),
        cmocka_unit_test(connections_cut_mid_command),
        cmocka_unit_test(passwords_users_and_refusals),
        cmocka_unit_test(a_full_server_refuses_writes_cleanly),
        cmocka_unit_test(lost_connections_and_restarts_are_survived),
        cmocka_unit_test(cli_put_get_stats_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
