/* SPDX-License-Identifier: BSD-3-Clause */
/* See crash_loop.h. */
#include "crash_loop.h"
#include "archive_suite.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { HOT_MAX = 8, MAXACK = 200000 };

/* What a child acknowledges: key (round, n) with sequence number seq;
 * round -1 for a hot key; seq DELETING before it deletes (round, n) and
 * DELETED after (killed in between, the entry may be there or not). */
#define DELETED (-7)
#define DELETING (-8)
typedef struct ack {
    int32_t round, n;
    int64_t seq;
    int32_t maybe_deleted; /* the parent's: a delete of it was under way */
} ack;

size_t kt_crash_value(unsigned char *v, int64_t seq)
{
    size_t n = 16 + (size_t)(seq * 7919 % 3000);
    v[0] = 0x59;
    v[1] = (unsigned char)((n - 3) >> 8);
    v[2] = (unsigned char)(n - 3);
    memcpy(v + 3, &seq, 8);
    for (size_t i = 11; i < n; i++)
        v[i] = (unsigned char)(seq * 131 + (int64_t)i);
    return n;
}

int64_t kt_crash_check(const unsigned char *v, size_t len)
{
    int64_t seq;
    if (len < 16)
        return -1;
    memcpy(&seq, v + 3, 8);
    unsigned char want[KT_CRASH_VALUE_MAX];
    if (kt_crash_value(want, seq) != len || memcmp(want, v, len))
        return -1;
    return seq;
}

static void send_ack(int fd, int32_t r, int32_t kn, int64_t seq)
{
    ack a = {r, kn, seq, 0};
    if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
        _exit(4);
}

/* The mixed workload's extra steps at n: a batch of four new keys
 * (n .. n+3, so n advances past them), a delete of a key of this round
 * put earlier, compaction, verify --repair.  Returns how many key numbers
 * it used. */
static int32_t mixed_step(kl_archive *ar, int round, int32_t n, int fd)
{
    static unsigned char vs[4][KT_CRASH_VALUE_MAX];
    unsigned char ks[4][64];
    if (n % 17 == 0) {
        const void *kp[4], *vp[4];
        size_t kls[4], vls[4];
        for (int i = 0; i < 4; i++) {
            kls[i] = kt_key(ks[i], round, n + i);
            vls[i] = kt_crash_value(vs[i], (int64_t)round * 1000000 + n + i);
            kp[i] = ks[i];
            vp[i] = vs[i];
        }
        if (kl_archive_put_many(ar, 4, kp, kls, vp, vls))
            _exit(5);
        for (int i = 0; i < 4; i++)
            send_ack(fd, round, n + i, (int64_t)round * 1000000 + n + i);
        return 4;
    }
    if (n % 13 == 0 && n >= 26 && (n - 20) % 3 != 2 && (n - 20) % 17 >= 4) {
        /* key n - 20 of this round was put singly (not hot, not batched) */
        size_t kl = kt_key(ks[0], round, n - 20);
        send_ack(fd, round, n - 20, DELETING);
        int rc = kl_archive_del(ar, ks[0], kl);
        if (rc && rc != KL_ENOTFOUND)
            _exit(6);
        send_ack(fd, round, n - 20, DELETED);
        return 1;
    }
    if (n % 23 == 11) {
        if (kl_archive_compact(ar))
            _exit(7);
        return 1;
    }
    if (n % 31 == 20) {
        size_t problems = 0;
        if (kl_archive_verify(ar, true, NULL, &problems) || problems)
            _exit(8);
        return 1;
    }
    return 0;
}

static void child(const char *url, int round, int hot_keys, bool mixed, int fd)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        _exit(2);
    static unsigned char v[KT_CRASH_VALUE_MAX];
    unsigned char k[64];
    for (int32_t n = 0;; n++) {
        if (mixed) {
            int32_t used = mixed_step(ar, round, n, fd);
            if (used) {
                n += used - 1;
                continue;
            }
        }
        bool hot = n % 3 == 2;
        int32_t r = hot ? -1 : round, kn = hot ? n % hot_keys : n;
        int64_t seq = (int64_t)round * 1000000 + n;
        size_t kl = kt_key(k, r, kn), vl = kt_crash_value(v, seq);
        if (kl_archive_put(ar, k, kl, v, vl))
            _exit(3);
        send_ack(fd, r, kn, seq);
    }
}

/* Fork a writer, kill it after a while; what it acknowledged into
 * acks/hot_seq. */
static void kill_one(const char *url, int round, const kt_crash_opts *o, ack *acks, size_t *nacks,
                     int64_t *hot_seq)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child(url, round, o->hot, o->mixed, p[1]);
    }
    close(p[1]);
    struct timespec ts = {0, (long)(o->min_ms + rand() % o->span_ms) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail_msg("%s: round %d: the child stopped by itself (status %d)", url, round, status);
    ack a;
    while (read(p[0], &a, sizeof a) == (ssize_t)sizeof a) {
        if (a.round < 0) {
            if (a.seq > hot_seq[a.n])
                hot_seq[a.n] = a.seq;
        } else if (a.seq == DELETED || a.seq == DELETING) {
            /* the put of that key was acknowledged a few acks ago */
            for (size_t i = *nacks; i-- > 0;)
                if (acks[i].round == a.round && acks[i].n == a.n) {
                    if (a.seq == DELETED)
                        acks[i].seq = DELETED;
                    else
                        acks[i].maybe_deleted = 1;
                    break;
                }
        } else if (*nacks < MAXACK) {
            acks[(*nacks)++] = a;
        }
    }
    close(p[0]);
}

size_t kt_crash_loop(const char *url, const kt_crash_opts *o)
{
    static ack acks[MAXACK];
    size_t nacks = 0;
    int64_t hot_seq[HOT_MAX];
    assert_true(o->hot > 0 && o->hot <= HOT_MAX && o->span_ms > 0);
    for (int i = 0; i < HOT_MAX; i++)
        hot_seq[i] = -1;
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    kl_buf got = KL_BUF_INIT, rep = KL_BUF_INIT;
    for (int round = 0; round < o->kills; round++) {
        kill_one(url, round, o, acks, &nacks, hot_seq);
        kl_archive *ar = NULL;
        KT_OK(kl_archive_open(&ar, url, NULL));
        size_t problems = 1;
        kl_buf_reset(&rep);
        KT_OK(kl_archive_verify(ar, false, &rep, &problems));
        if (problems)
            fail_msg("%s: round %d (seed %u): verify: %s", url, round, seed, kl_buf_cstr(&rep));
        unsigned char k[64];
        for (size_t i = 0; i < nacks; i++) {
            size_t kl = kt_key(k, acks[i].round, acks[i].n);
            if (acks[i].seq == DELETED) {
                if (kl_archive_get(ar, k, kl, &got) != KL_ENOTFOUND)
                    fail_msg("%s: round %d: acknowledged delete of (%d, %d) undone", url, round,
                             acks[i].round, acks[i].n);
                continue;
            }
            int rc = kl_archive_get(ar, k, kl, &got);
            if (rc == KL_ENOTFOUND && acks[i].maybe_deleted)
                continue; /* its delete was under way at the kill */
            KT_OK(rc);
            if (kt_crash_check(got.data, got.len) != acks[i].seq)
                fail_msg("%s: round %d: acknowledged entry (%d, %d) damaged", url, round,
                         acks[i].round, acks[i].n);
        }
        for (int h = 0; h < o->hot; h++) {
            if (hot_seq[h] < 0)
                continue;
            size_t kl = kt_key(k, -1, h);
            KT_OK(kl_archive_get(ar, k, kl, &got));
            /* the last acknowledged value, or one written after it */
            if (kt_crash_check(got.data, got.len) < hot_seq[h])
                fail_msg("%s: round %d: hot key %d went back in time", url, round, h);
        }
        KT_OK(kl_archive_close(ar));
    }
    assert_true(nacks > 0);
    kl_buf_free(&got);
    kl_buf_free(&rep);
    return nacks;
}
