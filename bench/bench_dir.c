/* SPDX-License-Identifier: BSD-3-Clause */
/* dir: archive throughput beside the raw file-system calls it is built
 * from: dir_write (baseline: write a temporary file and rename it into a
 * sharded folder), dir_read (baseline: open + read + close of the same
 * files), dir_view_100mb (opening a zero-copy view of a 100 MB array). */
#define _GNU_SOURCE
#include "harness.h"

#include "klepto/archive.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { N = 5000, VLEN = 100, REPS = 5 };

static void make_key(unsigned char *k, int i)
{
    memset(k, 0, 16);
    memcpy(k, &i, sizeof i);
    k[15] = 0x5a;
}

static double run_ours_write(const char *url, const unsigned char *val)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL)) {
        fprintf(stderr, "%s\n", kl_errmsg());
        exit(1);
    }
    unsigned char k[16];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        make_key(k, i);
        if (kl_archive_put(ar, k, 16, val, VLEN)) {
            fprintf(stderr, "%s\n", kl_errmsg());
            exit(1);
        }
    }
    uint64_t t1 = bench_now_ns();
    kl_archive_close(ar);
    return N / ((t1 - t0) / 1e9);
}

static double run_ours_read(const char *url)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        exit(1);
    unsigned char k[16];
    kl_buf v = KL_BUF_INIT;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        make_key(k, i);
        if (kl_archive_get(ar, k, 16, &v) || v.len != VLEN)
            exit(1);
    }
    uint64_t t1 = bench_now_ns();
    kl_buf_free(&v);
    kl_archive_close(ar);
    return N / ((t1 - t0) / 1e9);
}

static void raw_name(char *out, size_t n, const char *root, int i)
{
    unsigned h = (unsigned)i * 2654435761u;
    if (snprintf(out, n, "%s/%02x/%08x%08x%08x%08x", root, h >> 24, h, h ^ 1u, h ^ 2u, h ^ 3u) >=
        (int)n)
        exit(1);
}

static double run_raw_write(const char *root, const unsigned char *val)
{
    char path[512], tmp[512];
    mkdir(root, 0777);
    for (int s = 0; s < 256; s++) {
        if (snprintf(path, sizeof path, "%s/%02x", root, s) >= (int)sizeof path)
            exit(1);
        mkdir(path, 0777);
    }
    unsigned char buf[64 + 16 + VLEN];
    memset(buf, 1, sizeof buf);
    memcpy(buf + 80, val, VLEN);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        raw_name(path, sizeof path, root, i);
        if (snprintf(tmp, sizeof tmp, "%.*s/.tmp.%d", (int)strlen(root) + 3, path, i) >=
            (int)sizeof tmp)
            exit(1);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            exit(1);
        close(fd);
        if (rename(tmp, path))
            exit(1);
    }
    uint64_t t1 = bench_now_ns();
    return N / ((t1 - t0) / 1e9);
}

static double run_raw_read(const char *root)
{
    char path[512];
    unsigned char buf[65536];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        raw_name(path, sizeof path, root, i);
        int fd = open(path, O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof buf) != 64 + 16 + VLEN)
            exit(1);
        close(fd);
    }
    uint64_t t1 = bench_now_ns();
    return N / ((t1 - t0) / 1e9);
}

static void bench_view(const char *base)
{
    char url[512];
    snprintf(url, sizeof url, "dir:%s/view?sync=none", base);
    size_t n = 100u * 1000 * 1000 / 8;
    size_t vlen = 2 + 9 + n * 8;
    unsigned char *v = malloc(vlen);
    if (!v)
        exit(1);
    /* tag 86 (float64 LE typed array) + byte string of n*8 bytes */
    v[0] = 0xd8;
    v[1] = 86;
    v[2] = 0x5b;
    uint64_t nb = n * 8;
    for (int i = 0; i < 8; i++)
        v[3 + i] = (unsigned char)(nb >> (56 - 8 * i));
    double *d = (double *)(v + 11);
    for (size_t i = 0; i < n; i++)
        memcpy(&d[i], &(double){(double)i}, 8);
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL) || kl_archive_put(ar, "k", 1, v, vlen)) {
        fprintf(stderr, "%s\n", kl_errmsg());
        exit(1);
    }
    free(v);
    double ms[REPS * 3];
    for (int r = 0; r < REPS * 3; r++) {
        uint64_t t0 = bench_now_ns();
        kl_view *view = NULL;
        if (kl_archive_get_view(ar, "k", 1, &view) || !kl_view_is_mapped(view))
            exit(1);
        const double *x = kl_view_data(view);
        BENCH_KEEP(x[n - 1]);
        uint64_t t1 = bench_now_ns();
        kl_view_release(view);
        ms[r] = (t1 - t0) / 1e6;
    }
    kl_archive_close(ar);
    bench_report("dir_view_100mb", bench_median(ms, REPS * 3), "ms", -1, "lower",
                 "view of a 100 MB float64 array, touching its last element; no copy");
}

int main(void)
{
    const char *base = bench_tmpdir();
    unsigned char val[VLEN];
    for (int i = 0; i < VLEN; i++)
        val[i] = (unsigned char)(i * 13);
    double ow[REPS], or_[REPS], bw[REPS], br[REPS];
    char url[512], raw[512];
    for (int r = 0; r < REPS; r++) {
        snprintf(url, sizeof url, "dir:%s/ours%d?sync=none", base, r);
        snprintf(raw, sizeof raw, "%s/raw%d", base, r);
        /* alternate which goes first so drift hits both alike; remove
         * nothing until the end (deleting thousands of files slows the
         * file system for whoever writes next) */
        if (r % 2) {
            ow[r] = run_ours_write(url, val);
            bw[r] = run_raw_write(raw, val);
            or_[r] = run_ours_read(url);
            br[r] = run_raw_read(raw);
        } else {
            bw[r] = run_raw_write(raw, val);
            ow[r] = run_ours_write(url, val);
            br[r] = run_raw_read(raw);
            or_[r] = run_ours_read(url);
        }
    }
    char note[128];
    snprintf(note, sizeof note, "%d entries, 16 B keys, %d B values, sync=none", N, VLEN);
    bench_report("dir_write", bench_median(ow, REPS), "entries/s", bench_median(bw, REPS),
                 "higher", note);
    bench_report("dir_read", bench_median(or_, REPS), "entries/s", bench_median(br, REPS),
                 "higher", note);
    bench_view(base);
    bench_rmrf(base);
    return 0;
}
