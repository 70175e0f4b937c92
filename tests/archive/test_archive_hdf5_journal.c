/* SPDX-License-Identifier: BSD-3-Clause */
/* hdf5:'s journal (docs/hdf5.md): a journal cut at every byte offset
 * gives its valid prefix to readers, reports the rest in verify and never
 * folds it into the file; other processes see a single put as soon as it
 * returns; files of format versions 1 and 2 (tests/data/hdf5/format1.h5,
 * made by the release before the journal, and format2.h5 and the hdf5dir:
 * folder format2dir, by the release before klepto_entry) still open and
 * read. */
#define _GNU_SOURCE
#include "testutil.h"

#include "klepto/archive.h"

#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { NREC = 3, KLEN = 8, VLEN = 20, RHDR = 64, JHDR = 64 };

static char *tmp;

static void entry(int i, unsigned char *k, unsigned char *v)
{
    memset(k, 'k', KLEN);
    k[0] = 0x67; /* CBOR text(7) */
    k[1] = (unsigned char)('a' + i);
    v[0] = 0x53; /* CBOR bytes(19) */
    for (int j = 1; j < VLEN; j++)
        v[j] = (unsigned char)(i * 31 + j);
}

static void copy_file(const char *from, const char *to, size_t len)
{
    size_t n = 0;
    char *b = kt_slurp(from, &n);
    assert_non_null(b);
    assert_true(len <= n);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    close(fd);
    free(b);
}

/* A child puts NREC entries and exits without closing: they stay in the
 * journal (a close would fold them). */
static void journal_only(const char *url)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kl_archive *ar = NULL;
        if (kl_archive_open(&ar, url, NULL))
            _exit(1);
        unsigned char k[KLEN], v[VLEN];
        for (int i = 0; i < NREC; i++) {
            entry(i, k, v);
            if (kl_archive_put(ar, k, KLEN, v, VLEN))
                _exit(2);
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void torn_journal_at_every_offset(void **st)
{
    (void)st;
    char path[600], jpath[640], good[640], url[700];
    snprintf(path, sizeof path, "%s/torn.h5", tmp);
    snprintf(jpath, sizeof jpath, "%s/.torn.h5.journal", tmp);
    snprintf(good, sizeof good, "%s/journal.good", tmp);
    snprintf(url, sizeof url, "hdf5:%s", path);
    journal_only(url);
    size_t jlen = 0;
    free(kt_slurp(jpath, &jlen));
    const size_t rec = RHDR + KLEN + VLEN;
    assert_int_equal(jlen, JHDR + NREC * rec);
    copy_file(jpath, good, jlen);
    char h5copy[640];
    snprintf(h5copy, sizeof h5copy, "%s/torn.h5.orig", tmp);
    size_t h5len = 0;
    free(kt_slurp(path, &h5len));
    copy_file(path, h5copy, h5len);
    unsigned char k[KLEN], v[VLEN];
    kl_buf got = KL_BUF_INIT;
    for (size_t cut = JHDR; cut < jlen; cut++) {
        copy_file(good, jpath, cut);
        copy_file(h5copy, path, h5len);
        size_t whole = (cut - JHDR) / rec; /* records entirely before the cut */
        bool torn = (cut - JHDR) % rec != 0;
        /* a reader: the valid prefix, nothing more */
        kl_archive_opts ro = KL_ARCHIVE_OPTS_INIT;
        ro.read_only = true;
        kl_archive *ar = NULL;
        KT_OK(kl_archive_open(&ar, url, &ro));
        for (int i = 0; i < NREC; i++) {
            entry(i, k, v);
            int rc = kl_archive_get(ar, k, KLEN, &got);
            if ((size_t)i < whole) {
                KT_OK(rc);
                assert_int_equal(got.len, VLEN);
                assert_memory_equal(got.data, v, VLEN);
            } else {
                assert_int_equal(rc, KL_ENOTFOUND);
            }
        }
        size_t n = 99, problems = 99;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, whole);
        kl_buf rep = KL_BUF_INIT;
        KT_OK(kl_archive_verify(ar, false, &rep, &problems));
        if (torn != (problems > 0))
            fail_msg("cut at %zu: %zu problems: %s", cut, problems, kl_buf_cstr(&rep));
        kl_buf_free(&rep);
        KT_OK(kl_archive_close(ar));
        /* a writer's open cuts a killed writer's torn append off at once, as
         * file:'s does: its verify reports the cut and counts no problem */
        KT_OK(kl_archive_open(&ar, url, NULL));
        kl_buf wrep = KL_BUF_INIT;
        problems = 99;
        KT_OK(kl_archive_verify(ar, false, &wrep, &problems));
        bool said = strstr(kl_buf_cstr(&wrep), "cut off when this handle opened") != NULL;
        if (problems || torn != said)
            fail_msg("cut at %zu, a writer: %zu problems: %s", cut, problems,
                     kl_buf_cstr(&wrep));
        kl_buf_free(&wrep);
        /* it folds the prefix only; the torn rest is never applied */
        KT_OK(kl_archive_compact(ar));
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, whole);
        problems = 99;
        KT_OK(kl_archive_verify(ar, false, NULL, &problems));
        assert_int_equal(problems, 0);
        KT_OK(kl_archive_close(ar));
    }
    kl_buf_free(&got);
    unlink(good);
    unlink(h5copy);
}

/* A put is seen by a reader in another process as soon as it returns,
 * before any fold. */
static void other_processes_see_a_put_at_once(void **st)
{
    (void)st;
    char url[700];
    snprintf(url, sizeof url, "hdf5:%s/seen.h5?sync=none", tmp);
    kl_archive *w = NULL, *r = NULL;
    KT_OK(kl_archive_open(&w, url, NULL));
    kl_archive_opts ro = KL_ARCHIVE_OPTS_INIT;
    ro.read_only = true;
    KT_OK(kl_archive_open(&r, url, &ro));
    unsigned char k[KLEN], v[VLEN];
    kl_buf got = KL_BUF_INIT;
    for (int i = 0; i < 5; i++) {
        entry(i, k, v);
        assert_int_equal(kl_archive_get(r, k, KLEN, &got), KL_ENOTFOUND);
        KT_OK(kl_archive_put(w, k, KLEN, v, VLEN));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            kl_archive *c = NULL;
            kl_buf g = KL_BUF_INIT;
            int ok = !kl_archive_open(&c, url, &ro) && !kl_archive_get(c, k, KLEN, &g) &&
                     g.len == VLEN && !memcmp(g.data, v, VLEN);
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        KT_OK(kl_archive_get(r, k, KLEN, &got)); /* the reader opened before */
        assert_memory_equal(got.data, v, VLEN);
    }
    /* a delete folds the journal and removes the entry for everyone */
    KT_OK(kl_archive_del(w, k, KLEN));
    assert_int_equal(kl_archive_get(r, k, KLEN, &got), KL_ENOTFOUND);
    size_t n = 0;
    KT_OK(kl_archive_count(r, &n));
    assert_int_equal(n, 4);
    kl_buf_free(&got);
    KT_OK(kl_archive_close(r));
    KT_OK(kl_archive_drop(w));
}

static herr_t count_cb(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    int *n = arg;
    n[0]++;
    n[1] += H5Aexists_by_name(g, name, "klepto_entry", H5P_DEFAULT) > 0;
    return 0;
}

/* Entries of the hdf5: file at path: how many, and how many of them in
 * the current layout (klepto_entry) into *current. */
static int entries_of(const char *path, int *current)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    int n[2] = {0, 0};
    hsize_t idx = 0;
    assert_true(H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, count_cb, n) >= 0);
    H5Fclose(f);
    *current = n[1];
    return n[0];
}

/* A file an earlier release wrote (tests/data/hdf5/NAME.h5) opens, exports
 * as NAME.jsonl says, reads, takes a new entry (in the current layout,
 * beside the old ones) and verifies clean. */
static void earlier_format_reads(const char *name, int entries)
{
    char path[700], src[300], cmd[1600], *out = NULL;
    snprintf(path, sizeof path, "%s/%s.h5", tmp, name);
    snprintf(src, sizeof src, "hdf5/%s.h5", name);
    size_t len = 0;
    free(kt_slurp(kt_data(src), &len));
    assert_true(len > 0);
    copy_file(kt_data(src), path, len);
    snprintf(cmd, sizeof cmd, "export hdf5:%s", path);
    assert_int_equal(kt_klepto(&out, false, "%s", cmd), 0);
    snprintf(src, sizeof src, "hdf5/%s.jsonl", name);
    char *want = kt_slurp(kt_data(src), NULL);
    assert_non_null(out);
    assert_non_null(want);
    assert_string_equal(out, want);
    free(out);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "get hdf5:%s \"'alpha'\"", path), 0);
    assert_string_equal(out, "2.5\n");
    free(out);
    out = NULL;
    /* the new entry is written in the current layout */
    assert_int_equal(kt_klepto(NULL, false, "put hdf5:%s \"'beta'\" 3", path), 0);
    assert_int_equal(kt_klepto(&out, false, "count hdf5:%s", path), 0);
    char n[16];
    snprintf(n, sizeof n, "%d\n", entries + 1);
    assert_string_equal(out, n);
    free(out);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "verify hdf5:%s", path), 0);
    free(out);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "get hdf5:%s \"'beta'\"", path), 0);
    assert_string_equal(out, "3\n");
    free(out);
    out = NULL;
    /* the old entries are unchanged beside the new one */
    assert_int_equal(kt_klepto(&out, false, "%s", cmd), 0);
    int lines = 0;
    for (char *line = want, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        *nl = 0;
        if (!strstr(out, line))
            fail_msg("%s: after a put, export lacks %s", name, line);
    }
    assert_int_equal(lines, entries);
    assert_non_null(strstr(out, "{\"key\": \"beta\", \"value\": 3,"));
    /* a compact rewrites the old entries in the current layout, values
     * and stored times as they were (ls --long --json: absolute times) */
    int current = 0;
    assert_int_equal(entries_of(path, &current), entries + 1);
    assert_int_equal(current, 1);
    char *ls = NULL, *ls2 = NULL;
    assert_int_equal(kt_klepto(&ls, false, "ls --long --json hdf5:%s", path), 0);
    assert_int_equal(kt_klepto(NULL, false, "compact hdf5:%s", path), 0);
    assert_int_equal(entries_of(path, &current), entries + 1);
    assert_int_equal(current, entries + 1);
    char *again = NULL;
    assert_int_equal(kt_klepto(&again, false, "%s", cmd), 0);
    assert_string_equal(again, out);
    assert_int_equal(kt_klepto(&ls2, false, "ls --long --json hdf5:%s", path), 0);
    assert_string_equal(ls2, ls);
    free(again);
    free(ls);
    free(ls2);
    free(out);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "verify hdf5:%s", path), 0);
    free(out);
    free(want);
}

/* The release before the journal wrote format version 1. */
static void format_version_1_reads(void **st)
{
    (void)st;
    earlier_format_reads("format1", 9);
}

/* The release before klepto_entry wrote format version 2: key, kind,
 * head and checksum each an attribute of its own (every kind of value:
 * format2.jsonl). */
static void format_version_2_reads(void **st)
{
    (void)st;
    earlier_format_reads("format2", 16);
}

/* An hdf5dir: folder of format version 2 (one entry file per key, every
 * kind of value) exports as it did, takes a new entry and verifies clean. */
static void format_version_2_folder_reads(void **st)
{
    (void)st;
    char dir[700], cmd[1600], *out = NULL;
    snprintf(dir, sizeof dir, "%s/format2dir", tmp);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", kt_data("hdf5/format2dir"), dir);
    assert_int_equal(kt_run(cmd, NULL), 0);
    /* readdir's order is the file system's: compare sorted */
    assert_int_equal(kt_klepto(&out, false, "export 'hdf5dir:%s' | LC_ALL=C sort", dir), 0);
    char *want = kt_slurp(kt_data("hdf5/format2dir.jsonl"), NULL);
    assert_non_null(out);
    assert_non_null(want);
    assert_string_equal(out, want);
    free(out);
    free(want);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "get hdf5dir:%s \"'alpha'\"", dir), 0);
    assert_string_equal(out, "2.5\n");
    free(out);
    assert_int_equal(kt_klepto(NULL, false, "put hdf5dir:%s \"'beta'\" 3", dir), 0);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "count hdf5dir:%s", dir), 0);
    assert_string_equal(out, "17\n");
    free(out);
    out = NULL;
    assert_int_equal(kt_klepto(&out, false, "verify hdf5dir:%s", dir), 0);
    free(out);
}

int main(void)
{
    kt_tempdir_prefer_memory();
    tmp = kt_tmpdir("hdf5journal");
    if (!tmp)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torn_journal_at_every_offset),
        cmocka_unit_test(other_processes_see_a_put_at_once),
        cmocka_unit_test(format_version_1_reads),
        cmocka_unit_test(format_version_2_reads),
        cmocka_unit_test(format_version_2_folder_reads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
