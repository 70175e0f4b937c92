/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5: and hdf5dir: beside the raw HDF5 C API doing the same work in the
 * same run:
 *   hdf5_write / hdf5_read      single puts / gets of small entries
 *                               (baseline: one open file, H5Dcreate2 +
 *                               H5Dwrite / H5Dopen2 + H5Dread per entry)
 *   hdf5_put_many               the same entries in one batch
 *   hdf5dir_write / _read       one file per entry (baseline: H5Fcreate +
 *                               dataset + close + rename / H5Fopen + read)
 *   hdf5_array_100mb            a 100 MB float64 array put into a fresh
 *                               archive (baseline: H5Fcreate + one
 *                               H5Dwrite + H5Fclose); hdf5dir_array_100mb
 *   hdf5_view_100mb             a mapped view of it after open
 *   hdf5_write_100k             single puts (and the close) into an archive
 *                               already holding 100k entries (baseline:
 *                               the raw writes of hdf5_write)
 * Everything runs with sync=none (the baselines do not fsync either). */
#define _GNU_SOURCE
#include "harness.h"

#include "klepto/archive.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { N = 2000, VLEN = 100, REPS = 5, BIG = 100000 };

static void die(const char *what)
{
    fprintf(stderr, "bench_hdf5: %s: %s\n", what, kl_errmsg());
    exit(1);
}

static void make_key(unsigned char *k, int i)
{
    memset(k, 0, 16);
    memcpy(k, &i, sizeof i);
    k[15] = 0x5a;
}

static double ours_write(const char *url, const unsigned char *val, bool batch)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        die("open");
    static unsigned char keys[N][16];
    static const void *kp[N], *vp[N];
    static size_t kl[N], vl[N];
    for (int i = 0; i < N; i++) {
        make_key(keys[i], i);
        kp[i] = keys[i];
        vp[i] = val;
        kl[i] = 16;
        vl[i] = VLEN;
    }
    uint64_t t0 = bench_now_ns();
    if (batch) {
        if (kl_archive_put_many(ar, N, kp, kl, vp, vl))
            die("put_many");
    } else {
        for (int i = 0; i < N; i++)
            if (kl_archive_put(ar, keys[i], 16, val, VLEN))
                die("put");
    }
    if (kl_archive_close(ar))
        die("close");
    uint64_t t1 = bench_now_ns();
    return N / ((t1 - t0) / 1e9);
}

static double ours_read(const char *url)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        die("open");
    unsigned char k[16];
    kl_buf v = KL_BUF_INIT;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        make_key(k, i);
        if (kl_archive_get(ar, k, 16, &v) || v.len != VLEN)
            die("get");
    }
    uint64_t t1 = bench_now_ns();
    kl_buf_free(&v);
    kl_archive_close(ar);
    return N / ((t1 - t0) / 1e9);
}

/* Single puts into an archive that already holds BIG entries (made with
 * put_many, untimed), REPS rounds of N new keys each, the close included. */
static void bench_write_100k(const char *base, const unsigned char *val, double baseline)
{
    char url[512];
    snprintf(url, sizeof url, "hdf5:%s/big.h5?sync=none", base);
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        die("open");
    enum { B = 5000 };
    static unsigned char keys[B][16];
    static const void *kp[B], *vp[B];
    static size_t kl[B], vl[B];
    for (int b = 0; b < BIG; b += B) {
        for (int i = 0; i < B; i++) {
            make_key(keys[i], N + b + i);
            kp[i] = keys[i];
            vp[i] = val;
            kl[i] = 16;
            vl[i] = VLEN;
        }
        if (kl_archive_put_many(ar, B, kp, kl, vp, vl))
            die("put_many");
    }
    if (kl_archive_close(ar))
        die("close");
    double rate[REPS];
    for (int r = 0; r < REPS; r++) {
        if (kl_archive_open(&ar, url, NULL))
            die("open");
        unsigned char k[16];
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < N; i++) {
            make_key(k, N + BIG + r * N + i);
            if (kl_archive_put(ar, k, 16, val, VLEN))
                die("put");
        }
        if (kl_archive_close(ar))
            die("close");
        rate[r] = bench_rate(N, t0);
    }
    char note[200];
    snprintf(note, sizeof note,
             "%d single puts (and the close) into an archive of %d entries, %d B values, "
             "sync=none",
             N, BIG, VLEN);
    bench_report("hdf5_write_100k", bench_median(rate, REPS), "entries/s", baseline, "higher",
                 note);
}

/* ---- raw HDF5 ---------------------------------------------------------- */

static void raw_dataset(hid_t loc, const char *name, const unsigned char *val, size_t n)
{
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(loc, name, H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, val) < 0) {
        fprintf(stderr, "bench_hdf5: raw write failed\n");
        exit(1);
    }
    H5Dclose(d);
    H5Sclose(sp);
}

static void raw_read_dataset(hid_t loc, const char *name, unsigned char *buf)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0 || H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        exit(1);
    H5Dclose(d);
}

static double raw_write(const char *path, const unsigned char *val)
{
    uint64_t t0 = bench_now_ns();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "k%d", i);
        raw_dataset(f, name, val, VLEN);
    }
    H5Fclose(f);
    uint64_t t1 = bench_now_ns();
    return N / ((t1 - t0) / 1e9);
}

static double raw_read(const char *path)
{
    unsigned char buf[VLEN];
    char name[32];
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "k%d", i);
        raw_read_dataset(f, name, buf);
    }
    uint64_t t1 = bench_now_ns();
    H5Fclose(f);
    return N / ((t1 - t0) / 1e9);
}

/* one file per entry, written under a temporary name and renamed */
static double raw_dir_write(const char *root, const unsigned char *val)
{
    char path[512], tmp[512];
    if (mkdir(root, 0777))
        exit(1);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/k%d.h5", root, i);
        snprintf(tmp, sizeof tmp, "%s/.tmp.%d", root, i);
        hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        raw_dataset(f, "value", val, VLEN);
        H5Fclose(f);
        if (rename(tmp, path))
            exit(1);
    }
    uint64_t t1 = bench_now_ns();
    return N / ((t1 - t0) / 1e9);
}

static double raw_dir_read(const char *root)
{
    char path[512];
    unsigned char buf[VLEN];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/k%d.h5", root, i);
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        raw_read_dataset(f, "value", buf);
        H5Fclose(f);
    }
    uint64_t t1 = bench_now_ns();
    return N / ((t1 - t0) / 1e9);
}

/* ---- the 100 MB array -------------------------------------------------- */

static unsigned char *array_value(size_t n, size_t *vlen)
{
    *vlen = 11 + n * 8;
    unsigned char *v = malloc(*vlen);
    if (!v)
        exit(1);
    /* tag 86 (float64 LE typed array) + byte string of n*8 bytes */
    v[0] = 0xd8;
    v[1] = 86;
    v[2] = 0x5b;
    uint64_t nb = n * 8;
    for (int i = 0; i < 8; i++)
        v[3 + i] = (unsigned char)(nb >> (56 - 8 * i));
    for (size_t i = 0; i < n; i++)
        memcpy(v + 11 + 8 * i, &(double){(double)i}, 8);
    return v;
}

static double ours_array(const char *url, const unsigned char *v, size_t vlen)
{
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL))
        die("open");
    uint64_t t0 = bench_now_ns();
    if (kl_archive_put(ar, "k", 1, v, vlen))
        die("put array");
    uint64_t t1 = bench_now_ns();
    if (kl_archive_drop(ar))
        die("drop");
    return (t1 - t0) / 1e6;
}

static double raw_array(const char *path, const unsigned char *v, size_t n)
{
    uint64_t t0 = bench_now_ns();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, "k", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, H5T_IEEE_F64LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v + 11) < 0)
        exit(1);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    uint64_t t1 = bench_now_ns();
    unlink(path);
    return (t1 - t0) / 1e6;
}

static void bench_array(const char *base)
{
    size_t n = 100u * 1000 * 1000 / 8, vlen;
    unsigned char *v = array_value(n, &vlen);
    double ours[REPS], dir[REPS], raw[REPS];
    char url[512], durl[512], path[512];
    snprintf(url, sizeof url, "hdf5:%s/array.h5?sync=none", base);
    snprintf(durl, sizeof durl, "hdf5dir:%s/arraydir?sync=none", base);
    snprintf(path, sizeof path, "%s/raw-array.h5", base);
    for (int r = 0; r < REPS; r++) {
        if (r % 2) {
            ours[r] = ours_array(url, v, vlen);
            raw[r] = raw_array(path, v, n);
            dir[r] = ours_array(durl, v, vlen);
        } else {
            raw[r] = raw_array(path, v, n);
            dir[r] = ours_array(durl, v, vlen);
            ours[r] = ours_array(url, v, vlen);
        }
    }
    double rawm = bench_median(raw, REPS);
    if (bench_wants("hdf5_array_100mb"))
        bench_report("hdf5_array_100mb", bench_median(ours, REPS), "ms", rawm, "lower",
                     "put of a 100 MB float64 array into a fresh archive, stored natively");
    if (bench_wants("hdf5dir_array_100mb"))
        bench_report("hdf5dir_array_100mb", bench_median(dir, REPS), "ms", rawm, "lower",
                     "the same into hdf5dir:");

    /* a mapped view after open */
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, NULL) || kl_archive_put(ar, "k", 1, v, vlen))
        die("put array");
    kl_archive_close(ar);
    free(v);
    double ms[REPS * 3];
    for (int r = 0; r < REPS * 3; r++) {
        if (kl_archive_open(&ar, url, NULL))
            die("open");
        uint64_t t0 = bench_now_ns();
        kl_view *view = NULL;
        if (kl_archive_get_view(ar, "k", 1, &view) || !kl_view_is_mapped(view))
            die("view");
        const double *x = kl_view_data(view);
        BENCH_KEEP(x[n - 1]);
        uint64_t t1 = bench_now_ns();
        kl_view_release(view);
        kl_archive_close(ar);
        ms[r] = (t1 - t0) / 1e6;
    }
    if (bench_wants("hdf5_view_100mb"))
        bench_report("hdf5_view_100mb", bench_median(ms, REPS * 3), "ms", -1, "lower",
                     "view of a 100 MB float64 array, touching its last element; no copy");
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const char *base = bench_tmpdir();
    unsigned char val[VLEN];
    val[0] = 0x58; /* CBOR bytes(98) */
    val[1] = VLEN - 2;
    for (int i = 2; i < VLEN; i++)
        val[i] = (unsigned char)(i * 13);
    double ow[REPS], or_[REPS], ob[REPS], bw[REPS], br[REPS];
    double dw[REPS], dr[REPS], rdw[REPS], rdr[REPS];
    bool small = bench_wants("hdf5_write") || bench_wants("hdf5_read") ||
                 bench_wants("hdf5_put_many") || bench_wants("hdf5dir_write") ||
                 bench_wants("hdf5dir_read");
    for (int r = 0; small && r < REPS; r++) {
        char url[512], burl[512], durl[512], raw[512], rawdir[512];
        snprintf(url, sizeof url, "hdf5:%s/ours%d.h5?sync=none", base, r);
        snprintf(burl, sizeof burl, "hdf5:%s/batch%d.h5?sync=none", base, r);
        snprintf(durl, sizeof durl, "hdf5dir:%s/dir%d?sync=none", base, r);
        snprintf(raw, sizeof raw, "%s/raw%d.h5", base, r);
        snprintf(rawdir, sizeof rawdir, "%s/rawdir%d", base, r);
        /* alternate which goes first so drift hits both alike */
        if (r % 2) {
            ow[r] = ours_write(url, val, false);
            bw[r] = raw_write(raw, val);
            or_[r] = ours_read(url);
            br[r] = raw_read(raw);
            ob[r] = ours_write(burl, val, true);
            dw[r] = ours_write(durl, val, false);
            rdw[r] = raw_dir_write(rawdir, val);
            dr[r] = ours_read(durl);
            rdr[r] = raw_dir_read(rawdir);
        } else {
            bw[r] = raw_write(raw, val);
            ow[r] = ours_write(url, val, false);
            br[r] = raw_read(raw);
            or_[r] = ours_read(url);
            ob[r] = ours_write(burl, val, true);
            rdw[r] = raw_dir_write(rawdir, val);
            dw[r] = ours_write(durl, val, false);
            rdr[r] = raw_dir_read(rawdir);
            dr[r] = ours_read(durl);
        }
    }
    char note[160];
    snprintf(note, sizeof note, "%d entries, 16 B keys, %d B values, sync=none", N, VLEN);
    double bwm = small ? bench_median(bw, REPS) : 0;
    if (bench_wants("hdf5_write")) {
        char n2[300];
        snprintf(n2, sizeof n2, "%s; single puts into the journal, folded at the close", note);
        bench_report("hdf5_write", bench_median(ow, REPS), "entries/s", bwm, "higher", n2);
    }
    if (bench_wants("hdf5_read"))
        bench_report("hdf5_read", bench_median(or_, REPS), "entries/s", bench_median(br, REPS),
                     "higher", note);
    if (bench_wants("hdf5_put_many")) {
        char n2[300];
        snprintf(n2, sizeof n2, "%s; one put_many", note);
        bench_report("hdf5_put_many", bench_median(ob, REPS), "entries/s", bwm, "higher", n2);
    }
    if (bench_wants("hdf5dir_write"))
        bench_report("hdf5dir_write", bench_median(dw, REPS), "entries/s",
                     bench_median(rdw, REPS), "higher", note);
    if (bench_wants("hdf5dir_read"))
        bench_report("hdf5dir_read", bench_median(dr, REPS), "entries/s",
                     bench_median(rdr, REPS), "higher", note);
    if (bench_wants("hdf5_array_100mb") || bench_wants("hdf5dir_array_100mb") ||
        bench_wants("hdf5_view_100mb"))
        bench_array(base);
    if (bench_wants("hdf5_write_100k")) {
        if (!small)
            for (int r = 0; r < REPS; r++) {
                char raw[512];
                snprintf(raw, sizeof raw, "%s/raw%d.h5", base, r);
                bw[r] = raw_write(raw, val);
            }
        bench_write_100k(base, val, small ? bwm : bench_median(bw, REPS));
    }
    bench_rmrf(base);
    return 0;
}
