/* SPDX-License-Identifier: BSD-3-Clause */
/* Output of the klepto command for scripts and for people: --json of
 * count, stats, verify, copy and prune; stats' sizes exact in a pipe (the
 * CLI.md contract) and in human units on a terminal or with --human; the
 * progress line of the long commands: none in a pipe by default, lines
 * ending in a summary with --progress, none with --quiet. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;
static char src[4200]; /* dir: archive of three entries, one of 3000 bytes */

static int setup(void **state)
{
    (void)state;
    if (kt_tempdir_make(&dir, "cli_out"))
        return -1;
    snprintf(src, sizeof src, "dir:%s/src", dir);
    if (kt_klepto(NULL, true, "put '%s' 1 \"'a'\"", src) ||
        kt_klepto(NULL, true, "put '%s' 2 \"'b'\"", src) ||
        kt_klepto(NULL, true, "put '%s' 3 \"'%03000d'\"", src, 0))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_tempdir_remove(&dir);
    return 0;
}

/* klepto ARGS with stdout into *out and stderr into *err; the status. */
static int run2(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run2(char **out, char **err, const char *fmt, ...)
{
    char args[8192], path[4300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    int st = kt_klepto(out, false, "%s 2>'%s'", args, path);
    *err = kt_slurp(path, NULL);
    assert_non_null(*err);
    return st;
}

static void count_json(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run2(&out, &err, "count '%s' --json", src), 0);
    assert_string_equal(out, "{\"entries\": 3}\n");
    assert_string_equal(err, "");
    free(out);
    free(err);
}

/* The line name=... of text, copied into buf. */
static const char *line_of(const char *text, const char *name, char *buf, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, name, n) && p[n] == '=') {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            snprintf(buf, size, "%.*s", (int)len, p);
            return buf;
        }
    }
    fail_msg("no line %s= in: %s", name, text);
    return NULL;
}

static void stats_is_exact_in_a_pipe_and_human_when_asked(void **state)
{
    (void)state;
    char *out, *err, line[256];
    assert_int_equal(run2(&out, &err, "stats '%s'", src), 0);
    assert_string_equal(line_of(out, "entries", line, sizeof line), "entries=3");
    line_of(out, "bytes", line, sizeof line);
    assert_true(strspn(line + 6, "0123456789") == strlen(line + 6)); /* bytes=3013 */
    assert_true(atoi(line + 6) > 3000);
    free(out);
    free(err);

    assert_int_equal(run2(&out, &err, "stats '%s' --human", src), 0);
    assert_string_equal(line_of(out, "bytes", line, sizeof line), "bytes=2.9 KiB");
    assert_string_equal(line_of(out, "entries", line, sizeof line), "entries=3");
    free(out);
    free(err);

    assert_int_equal(run2(&out, &err, "stats '%s' --json", src), 0);
    assert_true(!strncmp(out, "{\"entries\": 3, \"bytes\": ", 23));
    assert_non_null(strstr(out, "\"format\": \"dir\""));
    assert_non_null(strstr(out, "\"damaged\": 0"));
    assert_string_equal(out + strlen(out) - 2, "}\n");
    free(out);
    free(err);
    assert_int_equal(kt_klepto(NULL, true, "stats '%s' --human --exact", src), 2);
}

/* storage=: the blocks the dir: archive's files take (a multiple of 512),
 * exact in a pipe, in units with --human, measured in --json. */
static void stats_shows_storage(void **state)
{
    (void)state;
    char *out, *err, line[256];
    assert_int_equal(run2(&out, &err, "stats '%s'", src), 0);
    line_of(out, "storage", line, sizeof line);
    assert_true(strspn(line + 8, "0123456789") == strlen(line + 8));
    long long storage = atoll(line + 8);
    assert_true(storage >= 3 * 512 && storage % 512 == 0);
    free(out);
    free(err);
    assert_int_equal(run2(&out, &err, "stats '%s' --human", src), 0);
    line_of(out, "storage", line, sizeof line);
    assert_non_null(strstr(line, "iB"));
    free(out);
    free(err);
    assert_int_equal(run2(&out, &err, "stats '%s' --json", src), 0);
    char want[64];
    snprintf(want, sizeof want, "\"storage\": %lld, \"storage_measured\": true", storage);
    assert_non_null(strstr(out, want));
    free(out);
    free(err);
}

/* On a terminal (script(1) gives the tool one), stats speaks in units. */
static void stats_is_human_on_a_terminal(void **state)
{
    (void)state;
    if (kt_run("script -qec true /dev/null >/dev/null 2>&1", NULL) != 0)
        skip(); /* no script(1) to lend a terminal */
    char cmd[9000], *out, line[256];
    snprintf(cmd, sizeof cmd, "script -qec \"%s stats '%s'\" /dev/null </dev/null",
             kt_bin("klepto"), src);
    assert_int_equal(kt_run(cmd, &out), 0);
    for (char *p = out; *p; p++)
        if (*p == '\r')
            *p = '\n';
    assert_string_equal(line_of(out, "bytes", line, sizeof line), "bytes=2.9 KiB");
    free(out);
}

/* On a terminal the line is drawn over itself and wiped at the end. */
static void progress_is_drawn_on_a_terminal(void **state)
{
    (void)state;
    if (kt_run("script -qec true /dev/null >/dev/null 2>&1", NULL) != 0)
        skip(); /* no script(1) to lend a terminal */
    char cmd[9000], *out;
    snprintf(cmd, sizeof cmd, "script -qec \"%s copy '%s' mem:\" /dev/null </dev/null",
             kt_bin("klepto"), src);
    assert_int_equal(kt_run(cmd, &out), 0);
    if (!strstr(out, "\rcopy: 0/3 entries (0%)") || !strstr(out, "\r\033[K") ||
        !strstr(out, "copied 3 entries"))
        fail_msg("klepto copy on a terminal drew: %s", out);
    free(out);
    /* --quiet: nothing drawn there either */
    snprintf(cmd, sizeof cmd, "script -qec \"%s copy '%s' mem: --quiet\" /dev/null </dev/null",
             kt_bin("klepto"), src);
    assert_int_equal(kt_run(cmd, &out), 0);
    assert_null(strstr(out, "copy: "));
    free(out);
}

static void verify_copy_prune_json(void **state)
{
    (void)state;
    char *out, *err, dst[4300];
    assert_int_equal(run2(&out, &err, "verify '%s' --json", src), 0);
    assert_string_equal(out, "{\"problems\": 0, \"repair\": false, \"messages\": []}\n");
    free(out);
    free(err);

    snprintf(dst, sizeof dst, "sqlite:%s/copy.db?table=t", dir);
    assert_int_equal(run2(&out, &err, "copy '%s' '%s' --json", src, dst), 0);
    char want[9000];
    snprintf(want, sizeof want,
             "{\"copied\": 3, \"damaged\": 0, \"from\": \"%s\", \"to\": \"%s\"}\n", src, dst);
    assert_string_equal(out, want);
    assert_string_equal(err, "");
    free(out);
    free(err);

    assert_int_equal(run2(&out, &err, "prune '%s' --max-entries 1 --json", dst), 0);
    snprintf(want, sizeof want,
             "{\"pruned\": 2, \"left\": 1, \"untimed\": 0, \"damaged\": 0, \"url\": \"%s\"}\n",
             dst);
    assert_string_equal(out, want);
    free(out);
    free(err);
}

/* The last line of text (without its newline), copied into buf. */
static const char *last_line(const char *text, char *buf, size_t size)
{
    size_t n = strlen(text);
    assert_true(n > 0 && text[n - 1] == '\n');
    const char *p = text + n - 1;
    while (p > text && p[-1] != '\n')
        p--;
    snprintf(buf, size, "%.*s", (int)(text + n - 1 - p), p);
    return buf;
}

/* Each long command: nothing on stderr in a pipe by default or with
 * --quiet; with --progress, lines ending in the summary "WHAT: N/N
 * entries (100%), RATE/s, in TIME". */
static void progress_only_when_asked_in_a_pipe(void **state)
{
    (void)state;
    char dst[4300], exp[4300];
    snprintf(dst, sizeof dst, "file:%s/p.kf", dir);
    snprintf(exp, sizeof exp, "%s/p.jsonl", dir);
    static const struct {
        const char *what, *fmt, *last;
    } cases[] = {
        {"copy", "copy '%1$s' '%2$s'", "copy: 3/3 entries (100%), "},
        {"export", "export '%1$s' >'%3$s'", "export: 3/3 entries (100%), "},
        {"import", "import '%2$s' '%3$s'", "import: 6.0 KiB/6.0 KiB (100%), "},
        {"verify", "verify '%2$s'", "verify file:"},
        {"compact", "compact '%2$s'", "compact: 3/3 entries (100%), "},
        {"prune", "prune '%2$s' --max-entries 1", "prune: removing: 2/2 entries (100%), "},
        {"clear", "clear '%2$s'", "clear: 3/3 entries (100%), "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[9000], *out, *err, line[512];
        snprintf(args, sizeof args, cases[i].fmt, src, dst, exp);
        static const char *const runs[] = {" --quiet", "", " --progress"};
        for (int r = 0; r < 3; r++) {
            /* each run on dst as the copy of src: three entries */
            kt_klepto(NULL, true, "clear '%s' --quiet", dst); /* fails while dst is missing */
            assert_int_equal(kt_klepto(NULL, true, "copy '%s' '%s' --quiet", src, dst), 0);
            assert_int_equal(run2(&out, &err, "%s%s", args, runs[r]), 0);
            if (r < 2 && err[0])
                fail_msg("klepto %s%s in a pipe drew on stderr: %s", args, runs[r], err);
            if (r == 2) {
                last_line(err, line, sizeof line);
                if (strncmp(line, cases[i].last, strlen(cases[i].last)) != 0 ||
                    !strstr(line, "(100%), ") || !strstr(line, "/s, in "))
                    fail_msg("klepto %s --progress: last line '%s', expected '%s.../s, in ...'",
                             args, line, cases[i].last);
            }
            free(out);
            free(err);
        }
    }
}

static void bad_usage_and_closed_output_say_so_in_one_line(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, true, "copy '%s' mem: --progress --quiet", src), 2);
    assert_string_equal(out, "klepto: --progress and --quiet contradict each other: give one\n");
    free(out);
    assert_int_equal(kt_klepto(&out, true, "count '%s' --bogus", src), 2);
    assert_string_equal(out,
                        "klepto: count: unknown option '--bogus' (try 'klepto count --help')\n");
    free(out);
    assert_int_equal(kt_klepto(&out, true, "--bogus"), 2);
    assert_string_equal(out, "klepto: unknown option '--bogus' (try 'klepto --help')\n");
    free(out);
    assert_int_equal(kt_klepto(&out, true, "count bogus:x"), 2);
    assert_string_equal(out, "klepto: bogus:x: unknown archive scheme 'bogus:'\n");
    free(out);
    /* stdout closed: one line, exit 3 */
    assert_int_equal(kt_klepto(&out, false, "count '%s' 2>&1 >&-", src), 3);
    assert_non_null(strstr(out, "klepto: writing the output failed: "));
    assert_true(strchr(out, '\n') == out + strlen(out) - 1); /* one line */
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_json),
        cmocka_unit_test(stats_is_exact_in_a_pipe_and_human_when_asked),
        cmocka_unit_test(stats_shows_storage),
        cmocka_unit_test(stats_is_human_on_a_terminal),
        cmocka_unit_test(progress_is_drawn_on_a_terminal),
        cmocka_unit_test(verify_copy_prune_json),
        cmocka_unit_test(progress_only_when_asked_in_a_pipe),
        cmocka_unit_test(bad_usage_and_closed_output_say_so_in_one_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
