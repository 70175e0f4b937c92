/* Crash safety: a child writing in a loop (new keys, and rewrites of a few
 * hot keys, so file: also compacts) is killed with SIGKILL at a random
 * moment, 50 times per archive kind.  After every kill the archive opens,
 * verify is clean, and every put the child had acknowledged (reported
 * through a pipe after kl_archive_put returned) reads back intact. */
#include "archive_suite.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { KILLS = 50, HOT = 8, MAXACK = 200000 };

/* What a child acknowledges: key (round, n) with sequence number seq. */
typedef struct ack {
    int32_t round, n;
    int64_t seq;
} ack;

/* value: a CBOR byte string holding seq, then a pattern derived from it,
 * of a size that varies */
static size_t make_value(unsigned char *v, int64_t seq)
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

static int64_t check_value(const unsigned char *v, size_t len)
{
    int64_t seq;
    if (len < 16)
        return -1;
    memcpy(&seq, v + 3, 8);
    unsigned char want[3100];
    if (make_value(want, seq) != len || memcmp(want, v, len))
        return -1;
    return seq;
}

static void child(const char *url, int round, int fd)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        _exit(2);
    static unsigned char v[3100];
    unsigned char k[64];
    for (int32_t n = 0;; n++) {
        bool hot = n % 3 == 2;
        int32_t r = hot ? -1 : round, kn = hot ? n % HOT : n;
        int64_t seq = (int64_t)round * 1000000 + n;
        size_t kl = kt_key(k, r, kn), vl = make_value(v, seq);
        if (kl_archive_put(ar, k, kl, v, vl))
            _exit(3);
        ack a = {r, kn, seq};
        if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(4);
    }
}

static void run(const char *url)
{
    static ack acks[MAXACK];
    size_t nacks = 0;
    int64_t hot_seq[HOT];
    for (int i = 0; i < HOT; i++)
        hot_seq[i] = -1;
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    kl_buf got = KL_BUF_INIT, rep = KL_BUF_INIT;
    for (int round = 0; round < KILLS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child(url, round, p[1]);
        }
        close(p[1]);
        struct timespec ts = {0, (long)(1 + rand() % 12) * 1000000L};
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
            } else if (nacks < MAXACK) {
                acks[nacks++] = a;
            }
        }
        close(p[0]);

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
            KT_OK(kl_archive_get(ar, k, kl, &got));
            if (check_value(got.data, got.len) != acks[i].seq)
                fail_msg("%s: round %d: acknowledged entry (%d, %d) damaged", url, round,
                         acks[i].round, acks[i].n);
        }
        for (int h = 0; h < HOT; h++) {
            if (hot_seq[h] < 0)
                continue;
            size_t kl = kt_key(k, -1, h);
            KT_OK(kl_archive_get(ar, k, kl, &got));
            /* the last acknowledged value, or one written after it */
            if (check_value(got.data, got.len) < hot_seq[h])
                fail_msg("%s: round %d: hot key %d went back in time", url, round, h);
        }
        KT_OK(kl_archive_close(ar));
    }
    assert_true(nacks > 0);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf_reset(&rep);
    KT_OK(kl_archive_describe(ar, &rep));
    print_message("%s: %zu acknowledged puts checked; %s\n", url, nacks, kl_buf_cstr(&rep));
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&got);
    kl_buf_free(&rep);
}

static char *tmp;

static void sigkill_file(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "file:%s/crash.kle?autocompact=0.25", tmp);
    run(url);
}

static void sigkill_dir(void **st)
{
    (void)st;
    char url[600];
    snprintf(url, sizeof url, "dir:%s/crash?compression=zstd", tmp);
    run(url);
}

int main(void)
{
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    tmp = kt_tmpdir("crash");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_file),
        cmocka_unit_test(sigkill_dir),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
