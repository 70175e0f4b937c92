/* SPDX-License-Identifier: BSD-3-Clause */
/* The read commands (ls, get, count, stats, export, verify) work for a user
 * without write permission on the archive's files and folders, on every
 * local kind (file:, dir:, hdf5:, hdf5dir:, sqlite: in both layouts).
 *
 * How the permission is taken away for real: the tests usually run as
 * root, whom file modes do not stop, so the reading commands run in a
 * child that drops to the user nobody (setgid/setuid 65534) over archives
 * root made with modes 0644/0755; run as another user, the archives are
 * made read-only with chmod instead (which then binds).  When neither
 * works (no privilege drop, or the folders are not reachable by nobody),
 * the tests skip and say why.  Each test first checks that a write really
 * is refused, so a run that kept write permission cannot pass unnoticed. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto.h"

enum { NOBODY = 65534, SKIP_STATUS = 77 };

static char *dir;

/* Drop to nobody when root; a failure to do so exits SKIP_STATUS. */
static void become_reader(void)
{
    if (geteuid() != 0)
        return;
    if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0 || geteuid() == 0)
        _exit(SKIP_STATUS);
}

/* Run a shell command as the reader; its stdout (and stderr) into *out.
 * Returns the exit status, SKIP_STATUS when the reader cannot run it. */
static int run_as_reader(const char *cmd, char **out)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        become_reader();
        if (access(kt_bin("klepto"), X_OK) != 0 || access(dir, R_OK | X_OK) != 0)
            _exit(SKIP_STATUS); /* the build tree or the folder out of the reader's reach */
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t n;
    while ((n = read(fd[0], buf + len, cap - len - 1)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Make everything under path readable by all and writable by nobody
 * (root keeps writing, as modes do not bind it). */
static void make_read_only(const char *path)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "chmod -R a+rX,a-w '%s'", path);
    assert_int_equal(kt_run(cmd, NULL), 0);
}

static int setup(void **state)
{
    (void)state;
    if (kt_tempdir_make(&dir, "cli_ro"))
        return -1;
    return chmod(dir, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'", dir);
    kt_run(cmd, NULL);
    kt_tempdir_remove(&dir);
    return 0;
}

/* Every read command on url as the reader: the entry 1 -> 'a' shows. */
static void reads_work(const char *url)
{
    char cmd[4600], *out;
    /* the premise: the reader cannot write */
    snprintf(cmd, sizeof cmd, "%s put '%s' 2 \"'b'\"", kt_bin("klepto"), url);
    int st = run_as_reader(cmd, &out);
    if (st == SKIP_STATUS) {
        free(out);
        print_message("cannot take write permission away here (no drop to nobody, or the "
                      "build tree is out of its reach): skipped\n");
        skip();
    }
    if (st != 3)
        fail_msg("put by a reader without write permission: exit %d, expected 3: %s", st, out);
    free(out);

    static const struct {
        const char *args, *want;
    } cases[] = {
        {"ls '%s'", "1\n"},
        {"ls '%s' --long", "1\t2\t"},
        {"get '%s' 1", "'a'\n"},
        {"count '%s'", "1\n"},
        {"stats '%s'", "entries=1\n"},
        {"export '%s'", "{\"key\": 1, \"value\": \"a\""},
        {"verify '%s'", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[4400];
        snprintf(args, sizeof args, cases[i].args, url);
        snprintf(cmd, sizeof cmd, "%s %s", kt_bin("klepto"), args);
        st = run_as_reader(cmd, &out);
        if (st != 0 || strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("klepto %s as a reader: exit %d, output: %s", args, st, out);
        free(out);
    }
}

static void make_archive(const char *url)
{
    char *out = NULL;
    int st = kt_klepto(&out, true, "put '%s' 1 \"'a'\"", url);
    if (st != 0)
        fail_msg("put %s: exit %d: %s", url, st, out);
    free(out);
}

static void read_only(const char *kind, const char *name, const char *query)
{
    static int made;
    char sub[4200], url[4400];
    snprintf(sub, sizeof sub, "%s/%s%d", dir, kind, ++made);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(url, sizeof url, "%s:%s/%s%s", kind, sub, name, query);
    make_archive(url);
    make_read_only(sub);
    reads_work(url);
}

static void file_archive_reads_without_write_permission(void **state)
{
    (void)state;
    read_only("file", "ar", "");
}

static void dir_archive_reads_without_write_permission(void **state)
{
    (void)state;
    read_only("dir", "ar", "");
}

static void sqltable_archive_reads_without_write_permission(void **state)
{
    (void)state;
    read_only("sqlite", "ar.db", "?table=t");
}

static void sql_archive_reads_without_write_permission(void **state)
{
    (void)state;
    read_only("sqlite", "ar.db", "");
}

static void hdf5_archive_reads_without_write_permission(void **state)
{
    (void)state;
#ifdef KLEPTO_HAVE_HDF5
    read_only("hdf5", "ar.h5", "");
#else
    skip();
#endif
}

static void hdf5dir_archive_reads_without_write_permission(void **state)
{
    (void)state;
#ifdef KLEPTO_HAVE_HDF5
    read_only("hdf5dir", "ar", "");
#else
    skip();
#endif
}

/* A WAL database in a folder the reader cannot write is read without
 * SQLite's shared-memory file and locks; a write that lands while it is
 * open makes the reader's close fail (KL_EIO) instead of passing off what
 * it read as a consistent snapshot. */
static void sqlite_read_without_locks_notices_a_writer(void **state)
{
    (void)state;
    char sub[4200], url[4400];
    snprintf(sub, sizeof sub, "%s/sqlite_w", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(url, sizeof url, "sqlite:%s/ar.db?table=t", sub);
    make_archive(url);
    make_read_only(sub);
    int go[2], ready[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(ready[0]);
        become_reader();
        if (access(sub, R_OK | X_OK) != 0)
            _exit(SKIP_STATUS);
        if (geteuid() != 0 && access(sub, W_OK) == 0)
            _exit(SKIP_STATUS);
        kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
        o.read_only = true;
        kl_archive *ar;
        size_t n = 0;
        if (kl_archive_open(&ar, url, &o) || kl_archive_count(ar, &n) || n != 1)
            _exit(10);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(11);
        int rc = kl_archive_close(ar);
        _exit(rc == KL_EIO && strstr(kl_errmsg(), "read again") ? 0 : 12);
    }
    close(go[0]);
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    /* the owner writes meanwhile (modes do not stop root; as another user
     * the folder is given write permission back for it) */
    if (geteuid() != 0)
        chmod(sub, 0755);
    char *out = NULL;
    int st = kt_klepto(&out, true, "put '%s' 2 \"'b'\"", url);
    free(out);
    assert_int_equal(write(go[1], "g", 1), 1);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    close(go[1]);
    close(ready[0]);
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == SKIP_STATUS) {
        print_message("cannot take write permission away here: skipped\n");
        skip();
    }
    assert_int_equal(st, 0);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_archive_reads_without_write_permission),
        cmocka_unit_test(dir_archive_reads_without_write_permission),
        cmocka_unit_test(sqltable_archive_reads_without_write_permission),
        cmocka_unit_test(sql_archive_reads_without_write_permission),
        cmocka_unit_test(hdf5_archive_reads_without_write_permission),
        cmocka_unit_test(hdf5dir_archive_reads_without_write_permission),
        cmocka_unit_test(sqlite_read_without_locks_notices_a_writer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
