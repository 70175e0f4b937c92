/* SPDX-License-Identifier: BSD-3-Clause */
/* What docs/security.md promises of the local archive kinds:
 *
 *  - ?mode=0600 gives every file an archive creates exactly those bits
 *    (whatever the umask), every folder it creates the same plus x; files
 *    written later (entries, compaction, hdf5: rewrites, SQLite's -wal and
 *    -shm) too; without ?mode= they follow the umask; bad values are
 *    refused before anything is created;
 *  - verify with repair removes only entries that do not read back: every
 *    intact entry is still there, byte for byte, on every kind (the server
 *    kinds too when scripts/with-servers.sh gave their URLs).
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/codec.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "sec");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

/* The local kinds: scheme, whether the archive is a folder. */
typedef struct kind {
    const char *name; /* for messages and paths */
    const char *fmt;  /* URL format: %s is the path */
    bool folder;
    bool makes_folders; /* creates missing parent folders (SQLite does not) */
} kind;

static const kind kinds[] = {
    {"file", "file:%s", false, true},
    {"dir", "dir:%s", true, true},
    {"sqlite", "sqlite:%s?table=t", false, false},
    {"sqlite-tables", "sqlite:%s", false, false},
#ifdef KLEPTO_HAVE_HDF5
    {"hdf5", "hdf5:%s", false, true},
    {"hdf5dir", "hdf5dir:%s", true, true},
#endif
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static char *url_of(const kind *k, const char *path, const char *query)
{
    char *base = NULL, *url = NULL;
    assert_true(asprintf(&base, k->fmt, path) > 0);
    if (query)
        url = kt_url_with(base, query);
    else
        url = strdup(base);
    free(base);
    assert_non_null(url);
    return url;
}

/* A small CBOR text value: "v" + i. */
static size_t value_of(int i, uint8_t *out)
{
    char txt[32];
    int n = snprintf(txt, sizeof txt, "value-%d", i);
    out[0] = (uint8_t)(0x60 | n);
    memcpy(out + 1, txt, (size_t)n);
    return (size_t)n + 1;
}
static size_t key_of(int i, uint8_t *out)
{
    out[0] = 0x1a; /* CBOR uint32 */
    out[1] = (uint8_t)(i >> 24);
    out[2] = (uint8_t)(i >> 16);
    out[3] = (uint8_t)(i >> 8);
    out[4] = (uint8_t)i;
    return 5;
}

static void put_some(kl_archive *ar, int from, int to)
{
    uint8_t k[8], v[40];
    for (int i = from; i < to; i++) {
        size_t kl = key_of(i, k), vl = value_of(i, v);
        KT_OK(kl_archive_put(ar, k, kl, v, vl));
    }
}

/* Every file and folder under path (path itself included) has the bits
 * want_file / want_folder; fails naming the first that does not.
 * Returns how many files were seen. */
static int check_modes(const char *path, unsigned want_file, unsigned want_folder)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    unsigned got = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
        if (got != want_folder)
            fail_msg("folder %s has mode %04o, expected %04o", path, got, want_folder);
        DIR *d = opendir(path);
        assert_non_null(d);
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            n += check_modes(sub, want_file, want_folder);
        }
        closedir(d);
        return n;
    }
    if (got != want_file)
        fail_msg("file %s has mode %04o, expected %04o", path, got, want_file);
    return 1;
}

/* One kind under a umask with a ?mode= (or none: want is the umask's):
 * the archive lives in a folder the archive itself creates (a/b/), is
 * written, compacted and written again; SQLite's -wal and -shm are
 * checked while the handle is open. */
static void modes_of_one(const kind *k, mode_t umask_bits, const char *query, unsigned want_file)
{
    unsigned want_folder = want_file | ((want_file & 0444) >> 2);
    char top[3000], path[4096];
    static int round;
    snprintf(top, sizeof top, "%s/%s-%d", dir, k->name, round++);
    snprintf(path, sizeof path, "%s/a/b/%s", top, k->folder ? "arch" : "arch.db");
    assert_int_equal(mkdir(top, 0700), 0);
    /* the test owns top: 0700 whatever the bits checked below */
    char *url = url_of(k, path, query);
    if (!k->makes_folders) { /* made here with the bits expected */
        char sub[3100];
        snprintf(sub, sizeof sub, "%s/a", top);
        assert_int_equal(mkdir(sub, 0700), 0);
        assert_int_equal(chmod(sub, want_folder), 0);
        snprintf(sub, sizeof sub, "%s/a/b", top);
        assert_int_equal(mkdir(sub, 0700), 0);
        assert_int_equal(chmod(sub, want_folder), 0);
    }
    mode_t old = umask(umask_bits);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    put_some(ar, 0, 40);
    KT_OK(kl_archive_compact(ar));
    put_some(ar, 40, 60);
    KT_OK(kl_archive_sync(ar));
    char sub[3100];
    snprintf(sub, sizeof sub, "%s/a", top);
    int files = check_modes(sub, want_file, want_folder);
    if (!strncmp(k->name, "sqlite", 6)) {
        char side[4200];
        struct stat st;
        snprintf(side, sizeof side, "%s-wal", path);
        assert_int_equal(stat(side, &st), 0);
        snprintf(side, sizeof side, "%s-shm", path);
        assert_int_equal(stat(side, &st), 0);
        assert_true(files >= 3); /* the database, -wal and -shm: all checked */
    }
    if (k->folder)
        assert_true(files >= 20); /* the marker and the entries */
    KT_OK(kl_archive_close(ar));
    /* a reopening writer without ?mode= keeps the single files' bits */
    if (!k->folder) {
        char *plain = url_of(k, path, NULL);
        umask(0);
        KT_OK(kl_archive_open(&ar, plain, NULL));
        put_some(ar, 60, 70);
        KT_OK(kl_archive_compact(ar));
        KT_OK(kl_archive_close(ar));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if ((st.st_mode & 07777) != want_file)
            fail_msg("%s: rewritten file %s has mode %04o, expected %04o", k->name, path,
                     st.st_mode & 07777, want_file);
        free(plain);
    }
    umask(old);
    free(url);
}

/* ?mode=0600 under the everyday umask 022: nothing readable by others. */
static void mode_0600_on_every_kind(void **st)
{
    (void)st;
    for (size_t i = 0; i < NKINDS; i++)
        modes_of_one(&kinds[i], 022, "mode=0600", 0600);
}

/* ?mode=0640 under umask 077: the bits are exactly the option's. */
static void mode_is_exact_whatever_the_umask(void **st)
{
    (void)st;
    for (size_t i = 0; i < NKINDS; i++)
        modes_of_one(&kinds[i], 077, "mode=640", 0640);
}

/* Without ?mode= the files follow the umask. */
static void without_mode_the_umask_decides(void **st)
{
    (void)st;
    for (size_t i = 0; i < NKINDS; i++)
        modes_of_one(&kinds[i], 027, NULL, 0640);
}

/* Bad ?mode= values: KL_EINVAL naming the option, nothing created. */
static void bad_modes_are_refused_before_anything_is_made(void **st)
{
    (void)st;
    static const char *bad[] = {"mode=", "mode=abc", "mode=0400", "mode=0200", "mode=01700",
                                "mode=888", "mode=-600", "mode=0o600", "mode=00600"};
    for (size_t i = 0; i < NKINDS; i++) {
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/bad-%s-%zu/x", dir, kinds[i].name, j);
            char *url = url_of(&kinds[i], path, bad[j]);
            kl_archive *ar = NULL;
            int rc = kl_archive_open(&ar, url, NULL);
            if (rc != KL_EINVAL)
                fail_msg("%s: %d, expected KL_EINVAL", url, rc);
            assert_null(ar);
            assert_non_null(strstr(kl_errmsg(), "mode="));
            struct stat sb;
            char parent[4096];
            snprintf(parent, sizeof parent, "%s/bad-%s-%zu", dir, kinds[i].name, j);
            if (stat(parent, &sb) == 0)
                fail_msg("%s: refused, yet %s was made", url, parent);
            free(url);
        }
    }
}

/* ---- repair keeps what reads back ---------------------------------------- */

/* NENTRIES intact entries and one whose value is no CBOR (the core's
 * decoding walk flags it): repair removes that one only, and every
 * intact entry reads back byte for byte; a second repair finds nothing;
 * repair of a sound archive removes nothing. */
enum { NENTRIES = 50 };

static void check_all_intact(kl_archive *ar, const char *url)
{
    uint8_t k[8], v[40];
    kl_buf got = KL_BUF_INIT;
    for (int i = 0; i < NENTRIES; i++) {
        size_t kl = key_of(i, k), vl = value_of(i, v);
        int rc = kl_archive_get(ar, k, kl, &got);
        if (rc)
            fail_msg("%s: intact entry %d lost by repair: %s", url, i, kl_errmsg());
        assert_int_equal(got.len, vl);
        assert_memory_equal(got.data, v, vl);
    }
    kl_buf_free(&got);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, NENTRIES);
}

static void repair_keeps_intact(const char *url)
{
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_clear(ar));
    put_some(ar, 0, NENTRIES);
    /* a sound archive: repair finds and removes nothing */
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 99;
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 0);
    check_all_intact(ar, url);
    /* one undecodable value (a CBOR map header with nothing after it) */
    static const uint8_t badkey[] = {0x63, 'b', 'a', 'd'}, badval[] = {0xbf, 0xff, 0xff};
    KT_OK(kl_archive_put(ar, badkey, sizeof badkey, badval, sizeof badval));
    kl_buf_reset(&rep);
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    if (problems != 1)
        fail_msg("%s: verify found %zu problems, expected 1: %.*s", url, problems, (int)rep.len,
                 (const char *)rep.data);
    kl_buf_reset(&rep);
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 1);
    assert_int_equal(kl_archive_contains(ar, badkey, sizeof badkey), 0);
    check_all_intact(ar, url);
    kl_buf_reset(&rep);
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 0);
    check_all_intact(ar, url);
    kl_buf_free(&rep);
    KT_OK(kl_archive_close(ar));
    /* and after reopening */
    KT_OK(kl_archive_open(&ar, url, NULL));
    check_all_intact(ar, url);
    KT_OK(kl_archive_drop(ar)); /* closes the handle */
}

static void repair_keeps_every_intact_entry_on_every_kind(void **st)
{
    (void)st;
    for (size_t i = 0; i < NKINDS; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/repair-%s", dir, kinds[i].name);
        char *url = url_of(&kinds[i], path, NULL);
        repair_keeps_intact(url);
        free(url);
    }
    repair_keeps_intact("mem:security-repair");
    const char *pg = getenv("KLEPTO_TEST_PG_URL");
    if (pg && *pg) {
        char *url = NULL;
        assert_true(asprintf(&url, "%s%ctable=klepto_security_repair", pg,
                             strchr(pg, '?') ? '&' : '?') > 0);
        repair_keeps_intact(url);
        free(url);
    }
    const char *rd = getenv("KLEPTO_TEST_REDIS_URL");
    if (rd && *rd) {
        char *url = NULL;
        assert_true(asprintf(&url, "%s%cprefix=klepto-security-repair", rd,
                             strchr(rd, '?') ? '&' : '?') > 0);
        repair_keeps_intact(url);
        free(url);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mode_0600_on_every_kind),
        cmocka_unit_test(mode_is_exact_whatever_the_umask),
        cmocka_unit_test(without_mode_the_umask_decides),
        cmocka_unit_test(bad_modes_are_refused_before_anything_is_made),
        cmocka_unit_test(repair_keeps_every_intact_entry_on_every_kind),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
