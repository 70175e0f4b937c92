/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two processes sharing results through one SQLite file: what one process
 * computed, the other loads instead of computing again.
 *
 *   ./two_processes [FOLDER]      (default: the current folder)
 *
 * The program forks its workers: A computes f(0..9); then B asks for
 * f(0..19) and finds the first ten in the archive; then C and D run at the
 * same time over f(20..29), each computing or loading every value.  Any
 * number of processes may read and write one sqlite: archive at once
 * (SQLite's locking; each result is one transaction).
 */
/* fork and waitpid are POSIX, not ISO C. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klepto.h"

/* The function worth sharing (a stand-in for an expensive one). */
KL_MEMOIZE(double, f, (int, n))
{
    double x = 0;
    for (int i = 1; i <= 1000; i++)
        x += (double)n / i;
    return x;
}

/* One worker process: attach the archive, call f over [from, to), report. */
static int worker(const char *name, const char *url, int from, int to)
{
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.archive = url; /* results are written through to the archive */
    if (kl_memo_configure(f_memo(), &opts) != 0) {
        fprintf(stderr, "two_processes %s: %s\n", name, kl_errmsg());
        return 1;
    }
    for (int n = from; n < to; n++)
        (void)f(n);
    kl_memo_info info;
    kl_memo_info_get(f_memo(), &info);
    printf("process %s: f(%d..%d): computed=%llu loaded=%llu together=%llu errors=%llu\n", name,
           from, to - 1, (unsigned long long)info.miss, (unsigned long long)info.load,
           (unsigned long long)(info.miss + info.load), (unsigned long long)info.errors);
    int rc = kl_memo_free(f_memo());
    return rc != 0 || info.errors != 0;
}

/* Start worker `name` in a child process; returns its process id. */
static pid_t start(const char *name, const char *url, int from, int to)
{
    fflush(stdout); /* nothing buffered is copied into the child */
    pid_t pid = fork();
    if (pid == 0)
        exit(worker(name, url, from, to));
    if (pid < 0)
        perror("two_processes: fork");
    return pid;
}

/* Wait for a worker; 0 when it succeeded. */
static int finish(pid_t pid)
{
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *folder = argc > 1 ? argv[1] : ".";
    char url[4096];
    snprintf(url, sizeof url, "sqlite:%s/shared.db?table=f", folder);

    /* Start from an empty table, so every run prints the same.  (The parent
     * opens nothing else: each process opens its own handle after fork.) */
    kl_archive *ar;
    if (kl_archive_open(&ar, url, NULL) != 0 || kl_archive_clear(ar) != 0) {
        fprintf(stderr, "two_processes: %s\n", kl_errmsg());
        return 1;
    }
    kl_archive_close(ar);

    int failed = finish(start("A", url, 0, 10));
    failed |= finish(start("B", url, 0, 20));
    pid_t c = start("C", url, 20, 30), d = start("D", url, 20, 30);
    failed |= finish(c);
    failed |= finish(d);

    size_t count = 0;
    if (kl_archive_open(&ar, url, NULL) != 0 || kl_archive_count(ar, &count) != 0) {
        fprintf(stderr, "two_processes: %s\n", kl_errmsg());
        return 1;
    }
    kl_archive_close(ar);
    printf("%s holds %zu results\n", url, count);
    return failed;
}
