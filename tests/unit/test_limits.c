/* SPDX-License-Identifier: BSD-3-Clause */
/* The limits of docs/security.md: a length read from stored bytes is
 * checked against the bytes present before anything of that size is
 * allocated.  Each check runs in a child process whose address space is
 * limited to a few hundred MiB above what it uses (not under
 * AddressSanitizer, whose shadow memory needs terabytes of address space):
 * a claim of gigabytes that was believed would come back as KL_ENOMEM; the
 * readers must answer KL_ECORRUPT (or skip a torn tail) instead.  Real
 * sizes over a limit are KL_ETOOBIG. */
#define _GNU_SOURCE
#include "sanitizers.h"
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/codec.h"
#include "archive/util/le.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>


#define GIB (1ull << 30)

static char *dir;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "limits");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

/* The process's address space now (VmSize), in bytes. */
static uint64_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", (unsigned long long *)&kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* Runs fn in a child with its address space limited to 256 MiB above the
 * present; the child's exit status 0 means fn's checks held (fn exits
 * with its failing line otherwise). */
static void in_limited_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!KT_ASAN) {
            uint64_t lim = vm_size() + (256ull << 20);
            struct rlimit rl = {lim, lim};
            if (setrlimit(RLIMIT_AS, &rl) < 0)
                _exit(2);
        }
        fn();
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the limited child failed (status 0x%x: exit = the failing line)", status);
}

#define CHILD_CHECK(cond)                                                                   \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #cond, kl_errmsg()); \
            _exit(__LINE__ & 0xff ? __LINE__ & 0xff : 1);                                   \
        }                                                                                   \
    } while (0)

/* ---- the CBOR decoder ------------------------------------------------------ */

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned b;
        sscanf(h, "%2x", &b);
        out[n++] = (uint8_t)b;
    }
    return n;
}

static void decoder_claims(void)
{
    static const char *claims[] = {
        "5b0000000100000000" "00000000",       /* bytes: 4 GiB */
        "7b0000000100000000" "61626364",       /* text: 4 GiB */
        "9b0000000100000000" "00000000",       /* array: 2^32 items */
        "bb0000000100000000" "00000000",       /* map: 2^32 pairs */
        "9a40000000" "00",                     /* array: 2^30 items, 4-byte head */
        "d8565b0000000100000000" "0000",       /* typed array (int64le) of 4 GiB */
        "d82882821a400000001a40000000d8565b0000000400000000", /* nd-array 2^60 elements */
        "8180" "9b0000000100000000",           /* a claim inside an array */
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(claims[i], buf);
        kl_value v;
        int rc = kl_decode(buf, n, &v);
        if (rc != KL_ECORRUPT)
            fprintf(stderr, "claim %zu (%s): %d %s\n", i, claims[i], rc, kl_errmsg());
        CHILD_CHECK(rc == KL_ECORRUPT);
    }
}

static void decoder_allocates_nothing_for_false_length_claims(void **st)
{
    (void)st;
    in_limited_child(decoder_claims);
}

/* Nesting beyond KL_DECODE_MAX_DEPTH is KL_ETOOBIG, decoding and
 * encoding, however little input it takes. */
static void nesting_beyond_the_limit_is_too_big(void **st)
{
    (void)st;
    uint8_t buf[KL_DECODE_MAX_DEPTH + 2];
    memset(buf, 0x81, KL_DECODE_MAX_DEPTH + 1);
    buf[KL_DECODE_MAX_DEPTH + 1] = 0x80;
    kl_value v;
    assert_int_equal(kl_decode(buf, sizeof buf, &v), KL_ETOOBIG);
    assert_non_null(strstr(kl_errmsg(), "nested deeper"));
    KT_OK(kl_decode(buf + 1, sizeof buf - 1, &v));
    kl_value_free(&v);
}

/* ---- stored headers -------------------------------------------------------- */

static char file_path[4096], dir_path[4096];

static void patch(const char *path, long off, const uint8_t *bytes, size_t n)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

/* Rewrite the 64-byte header at off of path with field (a little-endian
 * uint64 at field_off) = value and its checksum (XXH3 of bytes 0..55 at
 * 56) recomputed: a header that checks out, telling a lie. */
static void lie_in_header(const char *path, long off, int field_off, uint64_t value)
{
    uint8_t h[64];
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, h, sizeof h, off), (ssize_t)sizeof h);
    close(fd);
    le64_put(h + field_off, value);
    le64_put(h + 56, XXH3_64bits(h, 56));
    patch(path, off, h, sizeof h);
}

static const uint8_t key[] = {0x63, 'k', 'e', 'y'};

static void file_reader_claims(void)
{
    kl_archive_opts ro = KL_ARCHIVE_OPTS_INIT;
    ro.read_only = true;
    ro.create = false;
    char url[4200];
    snprintf(url, sizeof url, "file:%s", file_path);
    kl_archive *ar = NULL;
    CHILD_CHECK(kl_archive_open(&ar, url, &ro) == 0);
    kl_buf v = KL_BUF_INIT;
    /* the lying record runs past the end: a torn tail, not an entry */
    CHILD_CHECK(kl_archive_get(ar, key, sizeof key, &v) == KL_ENOTFOUND);
    size_t n = 99;
    CHILD_CHECK(kl_archive_count(ar, &n) == 0 && n == 0);
    kl_buf_free(&v);
    kl_archive_close(ar);
}

/* A file: record header claiming a 1 GiB value in a file of a few hundred
 * bytes. */
static void file_record_claiming_gigabytes_allocates_nothing(void **st)
{
    (void)st;
    snprintf(file_path, sizeof file_path, "%s/claim.klepto", dir);
    char url[4200];
    snprintf(url, sizeof url, "file:%s", file_path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    static const uint8_t val[] = {0x45, 1, 2, 3, 4, 5};
    KT_OK(kl_archive_put(ar, key, sizeof key, val, sizeof val));
    KT_OK(kl_archive_close(ar));
    lie_in_header(file_path, 64, 16, GIB); /* the first record's value length */
    in_limited_child(file_reader_claims);
}

/* The one entry file of a dir: archive (the folder holds it and the
 * marker). */
static void find_entry_file(const char *root, char *out, size_t cap)
{
    DIR *d = opendir(root);
    assert_non_null(d);
    struct dirent *e;
    out[0] = '\0';
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.') /* the shards: "2b" */
            continue;
        char shard[4200];
        snprintf(shard, sizeof shard, "%s/%s", root, e->d_name);
        DIR *s = opendir(shard);
        assert_non_null(s);
        struct dirent *f;
        while ((f = readdir(s)))
            if (f->d_name[0] != '.')
                snprintf(out, cap, "%s/%s", shard, f->d_name);
        closedir(s);
    }
    closedir(d);
    assert_true(out[0]);
}

static void dir_reader_claims(void)
{
    char url[4200];
    snprintf(url, sizeof url, "dir:%s", dir_path);
    kl_archive *ar = NULL;
    CHILD_CHECK(kl_archive_open(&ar, url, NULL) == 0);
    kl_buf v = KL_BUF_INIT;
    int rc = kl_archive_get(ar, key, sizeof key, &v);
    if (rc != KL_ECORRUPT)
        fprintf(stderr, "%s: get: %d\n", url, rc);
    CHILD_CHECK(rc == KL_ECORRUPT);
    kl_buf_free(&v);
    kl_archive_close(ar);
}

/* dir: entry headers claiming a 1 GiB value (stored), and a 1 GiB raw
 * length behind a small zstd frame (compressed). */
static void dir_entry_claiming_gigabytes_allocates_nothing(void **st)
{
    (void)st;
    static const struct {
        const char *query;
        int field; /* 16: stored value length, 24: raw (decompressed) length */
    } cases[] = {{"", 16}, {"?compression=zstd", 24}, {"?compression=zstd", 16}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(dir_path, sizeof dir_path, "%s/claim-dir-%zu", dir, i);
        char url[4200];
        snprintf(url, sizeof url, "dir:%s%s", dir_path, cases[i].query);
        kl_archive *ar = NULL;
        KT_OK(kl_archive_open(&ar, url, NULL));
        uint8_t val[1024];
        val[0] = 0x59; /* CBOR bytes, 2-byte length */
        val[1] = (uint8_t)((sizeof val - 3) >> 8);
        val[2] = (uint8_t)(sizeof val - 3);
        memset(val + 3, 'z', sizeof val - 3); /* compresses well */
        KT_OK(kl_archive_put(ar, key, sizeof key, val, sizeof val));
        KT_OK(kl_archive_close(ar));
        char entry[8400];
        find_entry_file(dir_path, entry, sizeof entry);
        lie_in_header(entry, 0, cases[i].field, GIB);
        in_limited_child(dir_reader_claims);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decoder_allocates_nothing_for_false_length_claims),
        cmocka_unit_test(nesting_beyond_the_limit_is_too_big),
        cmocka_unit_test(file_record_claiming_gigabytes_allocates_nothing),
        cmocka_unit_test(dir_entry_claiming_gigabytes_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
