/* SPDX-License-Identifier: BSD-3-Clause */
/* file: archive figures: file_write (appends with sync=none; baseline: one
 * raw write() per entry of the same key and value bytes) and
 * file_reopen_1m (open a 1M-entry archive and read one key; baseline:
 * read()ing the whole file into memory). */
#define _GNU_SOURCE
#include "harness.h"

#include "klepto/archive.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NW = 100000, NR = 1000000, KLEN = 16, VLEN = 64, REPS = 5 };

static void make_key(unsigned char *k, uint32_t i)
{
    memset(k, 0xab, KLEN);
    memcpy(k, &i, sizeof i);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_file: %s: %s\n", what, kl_errmsg());
    exit(1);
}

static double ours_write(const char *url, int n)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        die("open");
    unsigned char k[KLEN], v[VLEN];
    memset(v, 0x42, VLEN);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        make_key(k, (uint32_t)i);
        if (kl_archive_put(ar, k, KLEN, v, VLEN))
            die("put");
    }
    if (kl_archive_sync(ar))
        die("sync");
    uint64_t t1 = bench_now_ns();
    if (kl_archive_close(ar))
        die("close");
    return n / ((t1 - t0) / 1e9);
}

static double raw_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        exit(1);
    unsigned char buf[KLEN + VLEN];
    memset(buf, 0x42, sizeof buf);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < NW; i++) {
        make_key(buf, (uint32_t)i);
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            exit(1);
    }
    uint64_t t1 = bench_now_ns();
    close(fd);
    return NW / ((t1 - t0) / 1e9);
}

static double raw_read_all(const char *path)
{
    static unsigned char buf[1 << 20];
    uint64_t t0 = bench_now_ns();
    int fd = open(path, O_RDONLY);
    ssize_t r;
    size_t total = 0;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        total += (size_t)r;
    close(fd);
    BENCH_KEEP(total);
    return (bench_now_ns() - t0) / 1e6;
}

int main(void)
{
    const char *base = bench_tmpdir();
    char url[512], path[512];
    double ow[REPS], bw[REPS];
    for (int r = 0; r < REPS; r++) {
        snprintf(path, sizeof path, "%s/raw%d", base, r);
        snprintf(url, sizeof url, "file:%s/w%d.kle?sync=none", base, r);
        bw[r] = raw_write(path);
        ow[r] = ours_write(url, NW);
        unlink(path);
        snprintf(path, sizeof path, "%s/w%d.kle", base, r);
        unlink(path);
    }
    bench_report("file_write", bench_median(ow, REPS), "entries/s", bench_median(bw, REPS),
                 "higher", "100k entries, 16 B keys, 64 B values, sync=none");

    snprintf(url, sizeof url, "file:%s/big.kle?sync=none", base);
    snprintf(path, sizeof path, "%s/big.kle", base);
    ours_write(url, NR);
    double ms[REPS], bms[REPS];
    unsigned char k[KLEN];
    make_key(k, NR / 2);
    for (int r = 0; r < REPS; r++) {
        bms[r] = raw_read_all(path);
        uint64_t t0 = bench_now_ns();
        kl_archive *ar = NULL;
        kl_buf v = KL_BUF_INIT;
        if (kl_archive_open(&ar, url, NULL) || kl_archive_get(ar, k, KLEN, &v) || v.len != VLEN)
            die("reopen");
        ms[r] = (bench_now_ns() - t0) / 1e6;
        kl_buf_free(&v);
        kl_archive_close(ar);
    }
    bench_report("file_reopen_1m", bench_median(ms, REPS), "ms", bench_median(bms, REPS), "lower",
                 "open a 1M-entry file: archive and read one key; baseline: read() the whole "
                 "file");
    bench_rmrf(base);
    return 0;
}
