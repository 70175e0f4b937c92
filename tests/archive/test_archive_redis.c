/* SPDX-License-Identifier: BSD-3-Clause */
/* redis:// archives against a real server ($KLEPTO_TEST_REDIS_URL, set by
 * scripts/with-servers.sh under `make test`; the tests skip without it):
 * the conformance suite, layout and isolation by prefix, binary keys and
 * large values, iteration under writers, many processes, the CLI.
 * Errors, cut connections and private servers (passwords, a full server,
 * restarts) are in test_archive_redis_faults.c.  Every test works under a
 * prefix of its own (pid + counter) and removes it, so test programs can
 * share the server at once (redis_fixture.h). */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klepto/archive.h"
#include "klepto/error.h"
#include "archive_suite.h"
#include "redis_fixture.h"
#include "testutil.h"

/* ---- the conformance suite ------------------------------------------- */

static void conformance_suite(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "suite");
    kt_archive_suite(u, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(u);
}

static void threads_share_one_handle(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "thr");
    kt_suite_threads(u);
    free(u);
}

/* ---- layout and isolation ------------------------------------------- */

static void prefixes_isolate_archives_in_one_db(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char pa[64], pb[64], pab[80];
    kt_redis_new_prefix(pa, sizeof pa, "iso");
    kt_redis_new_prefix(pb, sizeof pb, "iso");
    snprintf(pab, sizeof pab, "%s:entries", pa); /* looks like a's key name */
    char *ua = kt_redis_url_of(kt_redis_url(), pa, ""), *ub = kt_redis_url_of(kt_redis_url(), pb, "");
    char *uab = kt_redis_url_of(kt_redis_url(), pab, "");
    redisContext *c = kt_redis_connect(kt_redis_url());
    char bystander[96];
    snprintf(bystander, sizeof bystander, "%s-bystander", pa);
    freeReplyObject(kt_redis_raw(c, "SET %s keep", bystander));

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
    assert_int_equal(kt_redis_raw_int(c, "HLEN %s", key), 20);
    snprintf(key, sizeof key, "{%s}:stamps", pa);
    assert_int_equal(kt_redis_raw_int(c, "HLEN %s", key), 20);
    snprintf(key, sizeof key, "{%s}:format", pa);
    redisReply *r = kt_redis_raw(c, "GET %s", key);
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
    r = kt_redis_raw(c, "GET %s", bystander);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "keep");
    freeReplyObject(r);

    KT_OK(kl_archive_drop(a));
    KT_OK(kl_archive_drop(ab));
    freeReplyObject(kt_redis_raw(c, "DEL %s", bystander));
    redisFree(c);
    kl_buf_free(&got);
    free(ua);
    free(ub);
    free(uab);
}

static void binary_keys_with_nul_bytes_round_trip(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "bin");
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
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "big");
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
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "huge");
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
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "stat");
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
    redisContext *c = kt_redis_connect(kt_redis_url());
    char key[128];
    snprintf(key, sizeof key, "{%s}:entries", p);
    freeReplyObject(kt_redis_raw(c, "HSET %s foreign %b", key, "abc", (size_t)3));
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
    KT_NEED_REDIS();
    char p[64], key[128];
    kt_redis_new_prefix(p, sizeof p, "fmt");
    char *u = kt_redis_url_of(kt_redis_url(), p, "");
    redisContext *c = kt_redis_connect(kt_redis_url());
    snprintf(key, sizeof key, "{%s}:format", p);
    freeReplyObject(kt_redis_raw(c, "SET %s %s", key, "somebody else's"));
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_ECORRUPT);
    assert_null(ar);
    freeReplyObject(kt_redis_raw(c, "SET %s %s", key, "klepto-redis 7"));
    assert_int_equal(kl_archive_open(&ar, u, NULL), KL_EVERSION);
    freeReplyObject(kt_redis_raw(c, "DEL %s", key));
    /* read-only and not creating: a missing archive is not made */
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = true;
    assert_int_equal(kl_archive_open(&ar, u, &o), KL_ENOTFOUND);
    assert_int_equal(kt_redis_raw_int(c, "EXISTS %s", key), 0);
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
    kt_redis_drop_url(u);
    kl_buf_free(&got);
    redisFree(c);
    free(u);
}

/* ---- iteration under concurrent writers ------------------------------- */

static void iteration_survives_writers_without_repeats(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "scan");
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
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "procs");
    kt_redis_drop_url(u);
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
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "fork");
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

/* ---- the command-line tool ------------------------------------------- */

static void cli_put_get_stats_export(void **state)
{
    (void)state;
    KT_NEED_REDIS();
    char p[64];
    char *u = kt_redis_fresh_url(p, "cli");
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
    kt_redis_drop_url(u);
    free(u);
}

int main(void)
{
    if (!kt_redis_url())
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
        cmocka_unit_test(cli_put_get_stats_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
