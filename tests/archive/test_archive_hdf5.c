/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5: and hdf5dir: — conformance, what other HDF5 readers see (native
 * datasets read with the HDF5 C API and h5dump), exact keys of any bytes,
 * many processes writing at once, writers killed mid-write, damaged and
 * foreign files, a write that runs out of file space, compaction, and bad
 * URLs. */
#include "archive_suite.h"
#include "crash_loop.h"
#include "sanitizers.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

static char *tmp;

static const char *url_of(const char *scheme, const char *name, const char *query)
{
    static char u[700];
    snprintf(u, sizeof u, "%s:%s/%s%s", scheme, tmp, name, query);
    return u;
}

static const char *path_of(const char *name)
{
    static char p[700];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    return p;
}

static kl_archive *open_ok(const char *url)
{
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    return ar;
}

static int open_rc(const char *url)
{
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, url, NULL);
    kl_archive_close(ar);
    return rc;
}

/* The entry name of a key: hex of its XXH3-128 (docs/hdf5.md). */
static const char *hex_of(const void *key, size_t klen)
{
    static char hex[33];
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(key, klen));
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", c.digest[i]);
    return hex;
}

/* ---- conformance ------------------------------------------------------- */

static void conformance_hdf5(void **st)
{
    (void)st;
    kt_archive_suite(url_of("hdf5", "a.h5", ""), KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
}

static void conformance_hdf5_sync_modes(void **st)
{
    (void)st;
    kt_archive_suite(url_of("hdf5", "b.h5", "?sync=none"),
                     KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
    kt_archive_suite(url_of("hdf5", "sub/c.h5", "?sync=full"),
                     KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
}

static void conformance_hdf5dir(void **st)
{
    (void)st;
    kt_archive_suite(url_of("hdf5dir", "d", ""), KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
    kt_archive_suite(url_of("hdf5dir", "e", "?sync=full"),
                     KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
}

static void threads_share_a_handle(void **st)
{
    (void)st;
    kt_suite_threads(url_of("hdf5", "t.h5", "?sync=none"));
    kt_suite_threads(url_of("hdf5dir", "t", "?sync=none"));
}

/* ---- what other readers see -------------------------------------------- */

enum { ROWS = 30, COLS = 40 };

/* tag 40 [[ROWS, COLS], 86(bytes of float64 LE)] */
static size_t array_value(unsigned char *v, double *d)
{
    size_t n = 0;
    v[n++] = 0xd8, v[n++] = 40, v[n++] = 0x82, v[n++] = 0x82;
    v[n++] = 0x18, v[n++] = ROWS, v[n++] = 0x18, v[n++] = COLS;
    v[n++] = 0xd8, v[n++] = 86, v[n++] = 0x59;
    v[n++] = (unsigned char)((ROWS * COLS * 8) >> 8), v[n++] = (unsigned char)(ROWS * COLS * 8);
    for (int i = 0; i < ROWS * COLS; i++)
        d[i] = i * 0.25 - 7.0;
    memcpy(v + n, d, sizeof(double) * ROWS * COLS);
    return n + sizeof(double) * ROWS * COLS;
}

/* Dataset d's klepto_entry into rec (cap bytes): its length. */
static size_t entry_record(hid_t d, unsigned char *rec, size_t cap)
{
    hid_t a = H5Aopen(d, "klepto_entry", H5P_DEFAULT);
    assert_true(a >= 0);
    hsize_t n = H5Aget_storage_size(a);
    assert_true(n >= 10 && n <= cap);
    assert_true(H5Aread(a, H5T_NATIVE_UINT8, rec) >= 0);
    H5Aclose(a);
    return (size_t)n;
}

/* The dataset reads back as a ROWS x COLS float64 array with the HDF5 C
 * API alone. */
static void check_native(const char *file, const char *dset, const double *want,
                         const void *key, size_t klen)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    assert_true(H5Tequal(t, H5T_IEEE_F64LE) > 0);
    hsize_t dims[2];
    assert_int_equal(H5Sget_simple_extent_ndims(sp), 2);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    assert_int_equal(dims[0], ROWS);
    assert_int_equal(dims[1], COLS);
    static double got[ROWS * COLS];
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    assert_memory_equal(got, want, sizeof got);
    /* the exact key is kept beside it: the end of klepto_entry, after the
     * kind, the checksum, the head's length and the head (docs/hdf5.md) */
    static unsigned char rec[512];
    size_t n = entry_record(d, rec, sizeof rec);
    assert_int_equal(rec[0], 1); /* "array" */
    assert_int_equal(n, 10 + rec[9] + klen);
    assert_memory_equal(rec + 10 + rec[9], key, klen);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
}

static bool have_h5dump(void) { return kt_run("command -v h5dump >/dev/null 2>&1", NULL) == 0; }

static void check_h5dump(const char *file, const char *dset)
{
    if (!have_h5dump()) {
        print_message("h5dump not installed: skipping its check\n");
        return;
    }
    char cmd[1200], *out = NULL;
    snprintf(cmd, sizeof cmd, "h5dump -d '%s' '%s'", dset, file);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(out);
    /* element [0][1] is -6.75; the type and shape are native */
    assert_non_null(strstr(out, "H5T_IEEE_F64LE"));
    assert_non_null(strstr(out, "( 30, 40 )"));
    assert_non_null(strstr(out, "-6.75"));
    free(out);
}

/* h5py (Debian's python3-h5py) sees the array with its dtype and shape,
 * and the exact key bytes; skips, saying so, without it. */
static void check_h5py(const char *file, const char *dset, const void *key, size_t klen)
{
    static const char *const pythons[] = {"/usr/bin/python3", "python3"};
    const char *py = NULL;
    char cmd[1600], *out = NULL, want[300];
    for (size_t i = 0; !py && i < sizeof pythons / sizeof *pythons; i++) {
        snprintf(cmd, sizeof cmd, "%s -c 'import h5py' >/dev/null 2>&1", pythons[i]);
        if (kt_run(cmd, NULL) == 0)
            py = pythons[i];
    }
    if (!py) {
        print_message("python3-h5py not installed: skipping its check\n");
        return;
    }
    snprintf(cmd, sizeof cmd,
             "%s -c 'import h5py, sys\n"
             "with h5py.File(sys.argv[1], \"r\") as f:\n"
             "    d = f[sys.argv[2]]\n"
             "    a = d[...]\n"
             "    e = bytes(d.attrs[\"klepto_entry\"])\n"
             "    print(a.shape, a.dtype, float(a[0, 1]), e[10 + e[9]:].hex())'"
             " '%s' '%s'",
             py, file, dset);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_non_null(out);
    int n = snprintf(want, sizeof want, "(%d, %d) float64 -6.75 ", ROWS, COLS);
    for (size_t i = 0; i < klen; i++)
        n += snprintf(want + n, sizeof want - (size_t)n, "%02x", ((const unsigned char *)key)[i]);
    if (strncmp(out, want, strlen(want)))
        fail_msg("h5py printed \"%s\", expected \"%s\"", out, want);
    free(out);
}

static void typed_array_is_a_native_dataset(void **st)
{
    (void)st;
    static unsigned char v[64 + ROWS * COLS * 8];
    static double d[ROWS * COLS];
    size_t vl = array_value(v, d);
    const char *key = "\x83\x01\x61k\x02"; /* [1, 'k', 2] */
    size_t kl = 5;
    char file[800], dset[64];

    kl_archive *ar = open_ok(url_of("hdf5", "native.h5", ""));
    KT_OK(kl_archive_put(ar, key, kl, v, vl));
    KT_OK(kl_archive_put(ar, "\x61x", 2, "\x82\x01\x02", 3)); /* "x": [1, 2] as CBOR */
    KT_OK(kl_archive_put(ar, "\x61y", 2, "\x63" "abc", 4)); /* "y": "abc", a string */
    KT_OK(kl_archive_close(ar));
    snprintf(file, sizeof file, "%s", path_of("native.h5"));
    snprintf(dset, sizeof dset, "/%s", hex_of(key, kl));
    check_native(file, dset, d, key, kl);
    check_h5dump(file, dset);
    check_h5py(file, dset, key, kl);

    /* a list is its CBOR bytes in a uint8 dataset, marked */
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, hex_of("\x61y", 2), H5P_DEFAULT);
    assert_true(ds >= 0);
    /* text is a UTF-8 string dataset (format version 2) */
    hid_t tt = H5Dget_type(ds);
    assert_int_equal(H5Tget_class(tt), H5T_STRING);
    assert_int_equal(H5Tget_cset(tt), H5T_CSET_UTF8);
    char text[4] = {0};
    assert_true(H5Dread(ds, tt, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) >= 0);
    assert_memory_equal(text, "abc", 3);
    H5Tclose(tt);
    H5Dclose(ds);
    ds = H5Dopen2(f, hex_of("\x61x", 2), H5P_DEFAULT);
    assert_true(ds >= 0);
    unsigned char bytes[3];
    assert_true(H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes) >= 0);
    assert_memory_equal(bytes, "\x82\x01\x02", 3);
    hid_t a = H5Aopen(ds, "klepto_kind", H5P_DEFAULT);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, 16);
    char kind[16] = {0};
    assert_true(H5Aread(a, mt, kind) >= 0);
    assert_string_equal(kind, "cbor");
    H5Tclose(mt);
    H5Aclose(a);
    H5Dclose(ds);
    H5Fclose(f);

    ar = open_ok(url_of("hdf5dir", "native", ""));
    KT_OK(kl_archive_put(ar, key, kl, v, vl));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, key, kl, &got));
    assert_int_equal(got.len, vl);
    assert_memory_equal(got.data, v, vl);
    kl_buf_free(&got);
    KT_OK(kl_archive_close(ar));
    const char *hex = hex_of(key, kl);
    snprintf(file, sizeof file, "%s/native/%.2s/%s.h5", tmp, hex, hex);
    check_native(file, "/value", d, key, kl);
    check_h5dump(file, "/value");
    check_h5py(file, "/value", key, kl);
}

/* ---- keys -------------------------------------------------------------- */

static void keys_of_any_bytes(void **st)
{
    (void)st;
    static unsigned char big[100000]; /* beyond HDF5's 64 KiB compact attributes */
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    const struct {
        const void *k;
        size_t kl;
    } keys[] = {
        {"\0", 1}, {"\0\0\0", 3}, {"a\0b", 3}, {"/x/../y", 7}, {"", 0}, {big, 1000}, {big, sizeof big},
    };
    enum { NK = sizeof keys / sizeof keys[0] };
    const char *schemes[] = {"hdf5", "hdf5dir"};
    for (int sc = 0; sc < 2; sc++) {
        kl_archive *ar = open_ok(url_of(schemes[sc], sc ? "keys" : "keys.h5", ""));
        for (int i = 0; i < NK; i++) {
            unsigned char v[2] = {0x10, (unsigned char)i};
            v[0] = (unsigned char)i; /* small CBOR integer */
            KT_OK(kl_archive_put(ar, keys[i].k, keys[i].kl, v, 1));
        }
        KT_OK(kl_archive_close(ar));
        ar = open_ok(url_of(schemes[sc], sc ? "keys" : "keys.h5", ""));
        size_t n = 0;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, NK);
        int seen[NK] = {0};
        kl_archive_iter *it = NULL;
        KT_OK(kl_archive_iter_new(ar, &it));
        kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
        int rc;
        while ((rc = kl_archive_iter_next(it, &k, &v)) == 1) {
            int found = -1;
            for (int i = 0; i < NK; i++)
                if (k.len == keys[i].kl && (!k.len || !memcmp(k.data, keys[i].k, k.len)))
                    found = i;
            assert_true(found >= 0);
            seen[found]++;
            assert_int_equal(v.len, 1);
            assert_int_equal(v.data[0], found);
        }
        assert_int_equal(rc, 0);
        kl_archive_iter_free(it);
        for (int i = 0; i < NK; i++)
            assert_int_equal(seen[i], 1);
        /* a key that differs only after a NUL is another key */
        assert_int_equal(kl_archive_contains(ar, "a\0c", 3), 0);
        kl_entry_info info;
        int64_t before = (int64_t)time(NULL) * 1000000000 - 600000000000LL;
        KT_OK(kl_archive_stat(ar, "a\0b", 3, &info));
        assert_true(info.stored_ns > before);
        assert_int_equal(info.size, 4);
        kl_buf_free(&k);
        kl_buf_free(&v);
        KT_OK(kl_archive_drop(ar));
    }
}

/* ---- many processes ---------------------------------------------------- */

enum { PROCS = 8, PER = 300 };

static size_t proc_value(unsigned char *v, int p, int i)
{
    size_t n = 8 + (size_t)((p * 7 + i) % 40);
    v[0] = (unsigned char)(0x40 + n); /* CBOR bytes of n < 24... */
    if (n >= 24) {
        v[0] = 0x58;
        v[1] = (unsigned char)n;
        for (size_t j = 0; j < n; j++)
            v[2 + j] = (unsigned char)(p * 31 + i + j);
        return n + 2;
    }
    for (size_t j = 0; j < n; j++)
        v[1 + j] = (unsigned char)(p * 31 + i + j);
    return n + 1;
}

static void many_processes(const char *url)
{
    kl_archive *ar = open_ok(url);
    KT_OK(kl_archive_close(ar));
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            kl_archive *c = NULL;
            if (kl_archive_open(&c, url, NULL))
                _exit(1);
            unsigned char k[64], v[64];
            for (int i = 0; i < PER; i++) {
                size_t kl = kt_key(k, p, i), vl = proc_value(v, p, i);
                if (kl_archive_put(c, k, kl, v, vl)) {
                    fprintf(stderr, "child %d: %s\n", p, kl_errmsg());
                    _exit(2);
                }
            }
            _exit(kl_archive_close(c) ? 3 : 0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    ar = open_ok(url);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, PROCS * PER);
    unsigned char k[64], v[64];
    kl_buf got = KL_BUF_INIT;
    for (int p = 0; p < PROCS; p++)
        for (int i = 0; i < PER; i++) {
            size_t kl = kt_key(k, p, i), vl = proc_value(v, p, i);
            KT_OK(kl_archive_get(ar, k, kl, &got));
            assert_int_equal(got.len, vl);
            assert_memory_equal(got.data, v, vl);
        }
    kl_buf_free(&got);
    size_t problems = 1;
    kl_buf rep = KL_BUF_INIT;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    if (problems)
        fail_msg("%s: verify: %s", url, kl_buf_cstr(&rep));
    kl_buf_free(&rep);
    KT_OK(kl_archive_drop(ar));
}

static void eight_processes_hdf5(void **st)
{
    (void)st;
    many_processes(url_of("hdf5", "procs.h5", "?sync=none"));
}

static void eight_processes_hdf5dir(void **st)
{
    (void)st;
    many_processes(url_of("hdf5dir", "procs", "?sync=none"));
}

/* ---- writers killed mid-write ------------------------------------------ */

static void killed_writers(const char *url)
{
    const kt_crash_opts o = {.kills = 12, .hot = 4, .min_ms = 2, .span_ms = 20};
    kt_crash_loop(url, &o);
    /* repair removes the killed writers' temporary files */
    kl_archive *ar = open_ok(url);
    size_t problems = 1;
    KT_OK(kl_archive_verify(ar, true, NULL, &problems));
    assert_int_equal(problems, 0);
    KT_OK(kl_archive_drop(ar));
}

static void sigkill_hdf5(void **st)
{
    (void)st;
    killed_writers(url_of("hdf5", "crash.h5", ""));
    /* nothing but the archive was left beside it, and it is dropped */
    char cmd[800], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c crash", tmp);
    kt_run(cmd, &out);
    assert_non_null(out);
    assert_int_equal(atoi(out), 0);
    free(out);
}

static void sigkill_hdf5dir(void **st)
{
    (void)st;
    killed_writers(url_of("hdf5dir", "crash", ""));
}

/* ---- readers beside a writer ------------------------------------------ */

/* A child rewrites a few keys with self-checking values while this
 * process reads them: every value read is one the writer wrote whole. */
static void readers_see_whole_values(const char *url)
{
    kl_archive *ar = open_ok(url);
    unsigned char k[64], want[KT_CRASH_VALUE_MAX];
    for (int h = 0; h < 3; h++) {
        size_t kl = kt_key(k, -2, h), vl = kt_crash_value(want, h);
        KT_OK(kl_archive_put(ar, k, kl, want, vl));
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kl_archive *w = NULL;
        if (kl_archive_open(&w, url, NULL))
            _exit(2);
        static unsigned char v[KT_CRASH_VALUE_MAX];
        for (int64_t seq = 3; seq < 300; seq++) {
            size_t kl = kt_key(k, -2, seq % 3), vl = kt_crash_value(v, seq);
            if (kl_archive_put(w, k, kl, v, vl))
                _exit(3);
        }
        _exit(kl_archive_close(w) ? 4 : 0);
    }
    kl_buf got = KL_BUF_INIT;
    int reads = 0, status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        size_t kl = kt_key(k, -2, reads % 3);
        KT_OK(kl_archive_get(ar, k, kl, &got));
        int64_t seq;
        assert_true(got.len >= 16);
        memcpy(&seq, got.data + 3, 8);
        assert_int_equal(seq % 3, reads % 3);
        size_t wl = kt_crash_value(want, seq);
        assert_int_equal(got.len, wl);
        assert_memory_equal(got.data, want, wl);
        reads++;
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    kl_buf_free(&got);
    KT_OK(kl_archive_drop(ar));
}

static void reader_beside_writer(void **st)
{
    (void)st;
    readers_see_whole_values(url_of("hdf5", "rw.h5", "?sync=none"));
    readers_see_whole_values(url_of("hdf5dir", "rw", "?sync=none"));
}

/* ---- damaged and foreign files ----------------------------------------- */

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void make_entries(const char *url, int n)
{
    kl_archive *ar = open_ok(url);
    unsigned char k[64];
    for (int i = 0; i < n; i++) {
        size_t kl = kt_key(k, i, 9);
        KT_OK(kl_archive_put(ar, k, kl, k, kl));
    }
    KT_OK(kl_archive_close(ar));
}

/* Under AddressSanitizer, LeakSanitizer reports a block or two of
 * HDF5's free lists (object headers) that libhdf5 1.10 loses on its own
 * error paths when it reads a damaged file (every handle of ours is
 * closed), and exits with ASan's exitcode, 1: the checks of a damaged file
 * run in a child whose exit status 1 is that report, not a failed check
 * (failed checks exit with 10 and up). */
#define LEAK_STATUS (KT_ASAN ? 1 : -1)

#define CUT_CHECK(n, cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "cut.h5 check %d failed: %s (%s)\n", n, #cond, kl_errmsg());       \
            return n;                                                                          \
        }                                                                                      \
    } while (0)

/* An hdf5: archive cut in half: it opens, reads fail naming it, verify
 * says it is damaged, --repair keeps exactly the entries that read back
 * intact.  0, or the number of the check that failed. */
static int cut_file_checks(const char *url)
{
    kl_archive *cut = NULL;
    CUT_CHECK(10, kl_archive_open(&cut, url, NULL) == 0);
    unsigned char ck[64];
    kl_buf cv = KL_BUF_INIT, crep = KL_BUF_INIT;
    size_t ckl = kt_key(ck, 0, 9);
    CUT_CHECK(11, kl_archive_get(cut, ck, ckl, &cv) == KL_ECORRUPT);
    CUT_CHECK(12, strstr(kl_errmsg(), "cut.h5") != NULL);
    size_t cp = 0;
    CUT_CHECK(13, kl_archive_verify(cut, false, &crep, &cp) == 0);
    CUT_CHECK(14, cp > 0);
    CUT_CHECK(15, strstr(kl_buf_cstr(&crep), "damaged") != NULL);
    /* --repair keeps what reads back intact, and only that */
    CUT_CHECK(16, kl_archive_verify(cut, true, &crep, &cp) == 0);
    size_t kept = 0;
    for (int i = 0; i < 40; i++) {
        ckl = kt_key(ck, i, 9);
        int rc = kl_archive_get(cut, ck, ckl, &cv);
        CUT_CHECK(17, rc == 0 || rc == KL_ENOTFOUND);
        if (!rc) {
            CUT_CHECK(18, cv.len == ckl && memcmp(cv.data, ck, ckl) == 0);
            kept++;
        }
    }
    kl_buf_reset(&crep);
    CUT_CHECK(19, kl_archive_verify(cut, false, &crep, &cp) == 0);
    CUT_CHECK(20, cp == 0);
    CUT_CHECK(21, kl_archive_count(cut, &cp) == 0);
    CUT_CHECK(22, cp == kept);
    kl_buf_free(&cv);
    kl_buf_free(&crep);
    CUT_CHECK(23, kl_archive_close(cut) == 0);
    return 0;
}

static void garbage_and_truncated_files(void **st)
{
    (void)st;
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 17);
    write_file(path_of("junk.h5"), junk, sizeof junk);
    assert_int_equal(open_rc(url_of("hdf5", "junk.h5", "")), KL_ECORRUPT);
    /* refused, not overwritten */
    size_t len = 0;
    char *back = kt_slurp(path_of("junk.h5"), &len);
    assert_int_equal(len, sizeof junk);
    assert_memory_equal(back, junk, len);
    free(back);

    /* an archive cut in half */
    make_entries(url_of("hdf5", "cut.h5", ""), 40);
    struct stat sb;
    assert_int_equal(stat(path_of("cut.h5"), &sb), 0);
    assert_int_equal(truncate(path_of("cut.h5"), sb.st_size / 2), 0);
    /* it opens (damaged, for verify to salvage) but reads fail, naming it;
     * in a child: see LEAK_STATUS */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int bad = cut_file_checks(url_of("hdf5", "cut.h5", ""));
        if (bad)
            _exit(bad);
        exit(0); /* exit, not _exit: LeakSanitizer looks at this process */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != LEAK_STATUS)
        assert_int_equal(WEXITSTATUS(status), 0);

    /* hdf5dir: one entry file cut, one replaced by junk: those two keys
     * are damaged, the rest read, repair drops the two */
    const char *url = url_of("hdf5dir", "cutdir", "");
    make_entries(url, 20);
    unsigned char k[64];
    char p[900];
    size_t kl = kt_key(k, 3, 9);
    const char *hex = hex_of(k, kl);
    snprintf(p, sizeof p, "%s/cutdir/%.2s/%s.h5", tmp, hex, hex);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size - 100), 0);
    kl = kt_key(k, 5, 9);
    hex = hex_of(k, kl);
    snprintf(p, sizeof p, "%s/cutdir/%.2s/%s.h5", tmp, hex, hex);
    write_file(p, junk, 1000);
    kl_archive *ar = open_ok(url);
    kl_buf v = KL_BUF_INIT, rep = KL_BUF_INIT;
    for (int i = 0; i < 20; i++) {
        kl = kt_key(k, i, 9);
        int rc = kl_archive_get(ar, k, kl, &v);
        assert_int_equal(rc, i == 3 || i == 5 ? KL_ECORRUPT : 0);
    }
    /* a damaged entry can be deleted by its key */
    kl = kt_key(k, 5, 9);
    KT_OK(kl_archive_del(ar, k, kl));
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&rep), "dropped"));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 18);
    KT_OK(kl_archive_close(ar));

    /* hdf5: a flipped byte in one value is caught by its checksum */
    hid_t f;
    url = url_of("hdf5", "flip.h5", "");
    char u[700];
    snprintf(u, sizeof u, "%s", url);
    make_entries(u, 10);
    static unsigned char big[10003];
    big[0] = 0x59, big[1] = 0x27, big[2] = 0x10; /* bytes(10000): contiguous */
    ar = open_ok(u);
    KT_OK(kl_archive_put(ar, "\x01", 1, big, sizeof big));
    KT_OK(kl_archive_close(ar));
    f = H5Fopen(path_of("flip.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, hex_of("\x01", 1), H5P_DEFAULT);
    haddr_t off = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    assert_true(off != HADDR_UNDEF);
    int fd = open(path_of("flip.h5"), O_RDWR);
    assert_true(fd >= 0);
    unsigned char c = 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)off + 500), 1);
    close(fd);
    ar = open_ok(u);
    assert_int_equal(kl_archive_get(ar, "\x01", 1, &v), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "checksum"));
    for (int i = 0; i < 10; i++) {
        kl = kt_key(k, i, 9);
        KT_OK(kl_archive_get(ar, k, kl, &v));
    }
    kl_buf_reset(&rep);
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 1);
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 10);
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    kl_buf_free(&v);
    kl_buf_free(&rep);
    KT_OK(kl_archive_close(ar));
}

/* Replace entry `name` of file path by a dataset of the same attributes
 * whose elements (n bytes, CBOR bytes as klepto's "cbor" kind) are those
 * of secret, stored as dcpl says (external storage, filters), with its
 * checksum set to pass: only the storage check stands between the reader
 * and secret's bytes. */
static void replace_entry(const char *path, const char *name, hid_t dcpl, const char *secret,
                          size_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t old = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(old >= 0);
    static unsigned char rec[256];
    size_t rn = entry_record(old, rec, sizeof rec);
    H5Dclose(old);
    assert_true(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    rec[0] = 0; /* "cbor": a uint8 dataset */
    uint64_t h = XXH3_64bits(secret, n);
    for (int i = 0; i < 8; i++)
        rec[1 + i] = (unsigned char)(h >> (8 * i));
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, name, H5T_STD_U8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, secret) >= 0);
    hsize_t one = rn;
    hid_t asp = H5Screate_simple(1, &one, NULL);
    hid_t a = H5Acreate2(d, "klepto_entry", H5T_STD_U8LE, asp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_UINT8, rec) >= 0);
    H5Aclose(a);
    H5Sclose(asp);
    H5Dclose(d);
    H5Sclose(sp);
    assert_true(H5Fclose(f) >= 0);
}

/* A hostile file cannot make a read return another file's bytes: an
 * entry whose elements are in an external file (any file the reader may
 * open) or behind a filter is refused before anything is read. */
static void foreign_storage_is_refused(void **st)
{
    (void)st;
    static const char secret[] = "\x58\x20the bytes of some other file!!!!!!";
    size_t n = sizeof secret - 1;
    int fd = open(path_of("secret.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, secret, n), (ssize_t)n);
    close(fd);
    const char *what[] = {"external", "filtered"};
    for (int i = 0; i < 2; i++) {
        char file[64], url[800];
        snprintf(file, sizeof file, "%s.h5", what[i]);
        snprintf(url, sizeof url, "%s", url_of("hdf5", file, ""));
        make_entries(url, 3);
        unsigned char key[64]; /* the first entry's, as make_entries wrote it */
        size_t klen = kt_key(key, 0, 9);
        kl_archive *ar = NULL;
        kl_buf v = KL_BUF_INIT;
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (i == 0) {
            assert_true(H5Pset_external(dcpl, path_of("secret.bin"), 0, n) >= 0);
        } else {
            hsize_t chunk = 8;
            assert_true(H5Pset_chunk(dcpl, 1, &chunk) >= 0);
            assert_true(H5Pset_deflate(dcpl, 1) >= 0);
        }
        /* the external file's name comes from path_of: a static buffer */
        char path[700];
        snprintf(path, sizeof path, "%s", path_of(file));
        replace_entry(path, hex_of(key, klen), dcpl, secret, n);
        H5Pclose(dcpl);
        KT_OK(kl_archive_open(&ar, url, NULL));
        assert_int_equal(kl_archive_get(ar, key, klen, &v), KL_ECORRUPT);
        if (!strstr(kl_errmsg(), "external files or filters"))
            fail_msg("%s: %s", what[i], kl_errmsg());
        assert_int_equal(v.len, 0);
        KT_OK(kl_archive_close(ar));
        char *out = NULL;
        assert_int_equal(kt_klepto(&out, false, "verify %s", url), 1);
        free(out);
        kl_buf_free(&v);
    }
}

static void foreign_and_newer_files(void **st)
{
    (void)st;
    /* an HDF5 file some other program wrote */
    hid_t f = H5Fcreate(path_of("foreign.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dim = 4;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int xs[4] = {1, 2, 3, 4};
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, xs);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    assert_int_equal(open_rc(url_of("hdf5", "foreign.h5", "")), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "not a klepto archive"));

    /* a klepto file from a newer format */
    make_entries(url_of("hdf5", "newer.h5", ""), 3);
    f = H5Fopen(path_of("newer.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "klepto_format_version", H5P_DEFAULT);
    int v = 99;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Fclose(f);
    assert_int_equal(open_rc(url_of("hdf5", "newer.h5", "")), KL_EVERSION);

    /* an HDF5 program holding the file open for writing (its flock):
     * klepto does not read a file being changed in place */
    make_entries(url_of("hdf5", "busy.h5", ""), 3);
    int lfd = open(path_of("busy.h5"), O_RDONLY);
    assert_true(lfd >= 0);
    assert_int_equal(flock(lfd, LOCK_EX), 0);
    assert_int_equal(open_rc(url_of("hdf5", "busy.h5", "")), KL_EBUSY);
    close(lfd);
    assert_int_equal(open_rc(url_of("hdf5", "busy.h5", "")), 0);

    /* hdf5dir: a folder of other things, a newer marker, a foreign entry */
    assert_int_equal(mkdir(path_of("other"), 0777), 0);
    write_file(path_of("other/notes.txt"), "hi", 2);
    assert_int_equal(open_rc(url_of("hdf5dir", "other", "")), KL_EINVAL);
    make_entries(url_of("hdf5dir", "newdir", ""), 2);
    unsigned char marker[16] = "KLEPTOHD";
    marker[8] = 99;
    write_file(path_of("newdir/klepto-hdf5dir.meta"), marker, 16);
    assert_int_equal(open_rc(url_of("hdf5dir", "newdir", "")), KL_EVERSION);
    make_entries(url_of("hdf5dir", "fdir", ""), 2);
    unsigned char k[64];
    size_t kl = kt_key(k, 1, 9);
    const char *hex = hex_of(k, kl);
    char p[900], cmd[2000];
    snprintf(p, sizeof p, "%s/fdir/%.2s/%s.h5", tmp, hex, hex);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path_of("foreign.h5"), p);
    assert_int_equal(kt_run(cmd, NULL), 0);
    kl_archive *ar = open_ok(url_of("hdf5dir", "fdir", ""));
    kl_buf val = KL_BUF_INIT;
    assert_int_equal(kl_archive_get(ar, k, kl, &val), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "not a klepto archive"));
    kl = kt_key(k, 0, 9);
    KT_OK(kl_archive_get(ar, k, kl, &val));
    kl_buf_free(&val);
    KT_OK(kl_archive_close(ar));
}

/* A write that runs out of room (RLIMIT_FSIZE in a child: the write
 * fails as on a full disk) fails cleanly and leaves the archive whole. */
static void out_of_space_leaves_the_archive_whole(void **st)
{
    (void)st;
    const char *schemes[] = {"hdf5", "hdf5dir"};
    for (int sc = 0; sc < 2; sc++) {
        const char *url = url_of(schemes[sc], sc ? "full" : "full.h5", "");
        char u[700];
        snprintf(u, sizeof u, "%s", url);
        make_entries(u, 30);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN);
            kl_archive *ar = NULL;
            if (kl_archive_open(&ar, u, NULL))
                _exit(10);
            struct rlimit rl = {200000, 200000};
            setrlimit(RLIMIT_FSIZE, &rl);
            size_t n = 1 << 20;
            unsigned char *v = calloc(1, n + 5);
            v[0] = 0x5a, v[1] = 0, v[2] = 0x10, v[3] = 0, v[4] = 0; /* bytes(1 MiB) */
            int rc = kl_archive_put(ar, "\x01", 1, v, n + 5);
            free(v);
            kl_archive_close(ar);
            /* what HDF5 said is passed on */
            _exit((rc == KL_EIO || rc == KL_ENOSPC) && strstr(kl_errmsg(), "too large") ? 0 : 11);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        kl_archive *ar = open_ok(u);
        size_t n = 0, problems = 1;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 30);
        KT_OK(kl_archive_verify(ar, false, NULL, &problems));
        assert_int_equal(problems, 0);
        assert_int_equal(kl_archive_contains(ar, "\x01", 1), 0);
        KT_OK(kl_archive_drop(ar));
    }
}

static int permission_checks(void)
{
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = true;
    kl_archive *ar = NULL;
    if (open_rc(url_of("hdf5", "ro.h5", "")) != KL_EPERM ||
        open_rc(url_of("hdf5dir", "rodir", "")) != KL_EPERM)
        return 1;
    if (kl_archive_open(&ar, url_of("hdf5", "ro.h5", ""), &o) || kl_archive_close(ar))
        return 2;
    if (kl_archive_open(&ar, url_of("hdf5dir", "rodir", ""), &o) || kl_archive_close(ar))
        return 3;
    chmod(path_of("ro.h5"), 0);
    return open_rc(url_of("hdf5", "ro.h5", "")) == KL_EPERM ? 0 : 4;
}

/* Files of another user: opening for writing is KL_EPERM, read-only
 * works; an unreadable file is KL_EPERM.  (As root, the checks run in a
 * child that becomes nobody: root passes every permission check.) */
static void permission_denied(void **st)
{
    (void)st;
    make_entries(url_of("hdf5", "ro.h5", ""), 2);
    make_entries(url_of("hdf5dir", "rodir", ""), 2);
    chmod(path_of("ro.h5"), 0444);
    chmod(path_of("rodir"), 0555);
    if (geteuid() != 0) {
        assert_int_equal(permission_checks(), 0);
    } else {
        chmod(tmp, 0755);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(setgid(65534) || setuid(65534) ? 9 : permission_checks());
        int status = 0;
        waitpid(pid, &status, 0);
        chmod(tmp, 0700);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    chmod(path_of("ro.h5"), 0644);
    chmod(path_of("rodir"), 0755);
}

/* ---- space of replaced entries ----------------------------------------- */

static void replaced_entries_are_compacted(void **st)
{
    (void)st;
    const char *url = url_of("hdf5", "compact.h5", "?sync=none");
    char u[700];
    snprintf(u, sizeof u, "%s", url);
    kl_archive *ar = open_ok(u);
    size_t n = 100000;
    unsigned char *v = malloc(n + 5);
    assert_non_null(v);
    v[0] = 0x5a, v[1] = 0, v[2] = 0x01, v[3] = 0x86, v[4] = 0xa0; /* bytes(100000) */
    for (int i = 0; i < 60; i++) {
        memset(v + 5, i, n);
        KT_OK(kl_archive_put(ar, "\x01", 1, v, n + 5));
    }
    struct stat sb;
    assert_int_equal(stat(path_of("compact.h5"), &sb), 0);
    /* 60 writes of 100 kB to one key: kept near one copy, not 6 MB */
    assert_true(sb.st_size < 3 * 1000 * 1000);
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "\x01", 1, &got));
    assert_int_equal(got.len, n + 5);
    assert_int_equal(got.data[5 + n - 1], 59);
    KT_OK(kl_archive_compact(ar));
    assert_int_equal(stat(path_of("compact.h5"), &sb), 0);
    assert_true(sb.st_size < 200 * 1000);
    KT_OK(kl_archive_get(ar, "\x01", 1, &got));
    assert_int_equal(got.data[5 + n - 1], 59);
    kl_buf_free(&got);
    free(v);
    KT_OK(kl_archive_drop(ar));
}

/* ---- leftovers of killed writers --------------------------------------- */

/* verify reports a killed writer's whole-file copy with its size (not as
 * damage) and changes nothing; --repair removes it; a live writer's
 * temporary file is neither reported nor removed. */
static void leftover_copies_are_reported(void **st)
{
    (void)st;
    const char *url = url_of("hdf5", "left.h5", "");
    char u[700];
    snprintf(u, sizeof u, "%s", url);
    make_entries(u, 3);
    pid_t gone = fork();
    assert_true(gone >= 0);
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    char dead[800], live[800];
    snprintf(dead, sizeof dead, "%s/.left.h5.tmp.%d.4", tmp, (int)gone);
    snprintf(live, sizeof live, "%s/.left.h5.tmp.%d.5", tmp, (int)getpid());
    static char junk[4321];
    write_file(dead, junk, sizeof junk);
    write_file(live, junk, 10);
    kl_archive *ar = open_ok(u);
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 9;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    assert_int_equal(problems, 0);
    char name[100];
    snprintf(name, sizeof name, ".left.h5.tmp.%d.4 (4321 bytes)", (int)gone);
    if (!strstr(kl_buf_cstr(&rep), name) || !strstr(kl_buf_cstr(&rep), "leftover"))
        fail_msg("verify's report lacks the leftover: [%s]", kl_buf_cstr(&rep));
    snprintf(name, sizeof name, ".left.h5.tmp.%d.5", (int)getpid());
    assert_null(strstr(kl_buf_cstr(&rep), name));
    struct stat sb;
    assert_int_equal(stat(dead, &sb), 0);
    kl_buf_reset(&rep);
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 0);
    assert_non_null(strstr(kl_buf_cstr(&rep), "removed leftover"));
    assert_int_equal(stat(dead, &sb), -1);
    assert_int_equal(stat(live, &sb), 0);
    unlink(live);
    kl_buf_free(&rep);
    KT_OK(kl_archive_close(ar));
}

/* ---- URLs -------------------------------------------------------------- */

static void bad_urls(void **st)
{
    (void)st;
    assert_int_equal(open_rc("hdf5:"), KL_EINVAL);
    assert_int_equal(open_rc("hdf5dir:"), KL_EINVAL);
    assert_int_equal(open_rc(url_of("hdf5", "u.h5", "?bogus=1")), KL_EINVAL);
    assert_int_equal(open_rc(url_of("hdf5", "u.h5", "?sync=sometimes")), KL_EINVAL);
    assert_int_equal(open_rc(url_of("hdf5dir", "u", "?compression=zstd")), KL_EINVAL);
    /* a folder is not a file, and a file is not a folder */
    assert_int_equal(mkdir(path_of("afolder"), 0777), 0);
    assert_int_equal(open_rc(url_of("hdf5", "afolder", "")), KL_EINVAL);
    write_file(path_of("afile"), "x", 1);
    assert_int_equal(open_rc(url_of("hdf5dir", "afile", "")), KL_EINVAL);
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, url_of("hdf5", "missing.h5", ""), &o), KL_ENOTFOUND);
    assert_int_equal(kl_archive_open(&ar, url_of("hdf5dir", "missing", ""), &o), KL_ENOTFOUND);
    /* an empty file (mktemp's) becomes an archive */
    write_file(path_of("empty.h5"), "", 0);
    ar = open_ok(url_of("hdf5", "empty.h5", ""));
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x02", 1));
    KT_OK(kl_archive_close(ar));
}

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("hdf5");
    if (!tmp)
        return 1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conformance_hdf5),
        cmocka_unit_test(conformance_hdf5_sync_modes),
        cmocka_unit_test(conformance_hdf5dir),
        cmocka_unit_test(threads_share_a_handle),
        cmocka_unit_test(typed_array_is_a_native_dataset),
        cmocka_unit_test(keys_of_any_bytes),
        cmocka_unit_test(eight_processes_hdf5),
        cmocka_unit_test(eight_processes_hdf5dir),
        cmocka_unit_test(reader_beside_writer),
        cmocka_unit_test(sigkill_hdf5),
        cmocka_unit_test(sigkill_hdf5dir),
        cmocka_unit_test(garbage_and_truncated_files),
        cmocka_unit_test(foreign_and_newer_files),
        cmocka_unit_test(foreign_storage_is_refused),
        cmocka_unit_test(out_of_space_leaves_the_archive_whole),
        cmocka_unit_test(permission_denied),
        cmocka_unit_test(replaced_entries_are_compacted),
        cmocka_unit_test(leftover_copies_are_reported),
        cmocka_unit_test(bad_urls),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
