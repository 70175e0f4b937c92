/* SPDX-License-Identifier: BSD-3-Clause */
/* Help and version of the klepto tool (CLI.md): every command answers
 * "--help" and "-h" with its usage on stdout and status 0, without doing
 * anything; "klepto help CMD" is the same; "klepto --version" and
 * "klepto version" print the project's version.  Bad usage still exits 2
 * with the usage line on stderr. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto/features.h"
#include "tempdir.h"

static char *dir;

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "clihelp");
}

static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

static const char *const commands[] = {
    "ls",   "get",     "count",  "put",    "rm",    "stats", "verify",   "clear",
    "copy", "compact", "export", "import", "prune", "key",   "simulate",
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

/* `args` must exit 0 with the help of `cmd` on stdout and nothing on
 * stderr; returns the help text (heap). */
static char *help_of(const char *cmd, const char *args)
{
    char *out = NULL, *both = NULL, first[64];
    int st = kt_klepto(&out, false, "%s 2>/dev/null", args);
    if (st != 0)
        fail_msg("klepto %s: status %d, expected 0", args, st);
    assert_non_null(out);
    snprintf(first, sizeof first, "usage: klepto %s ", cmd);
    if (strncmp(out, first, strlen(first)) != 0)
        fail_msg("klepto %s: help does not begin with '%s': %s", args, first, out);
    assert_true(strlen(out) > strlen(first) + 20); /* more than the usage line */
    assert_int_equal(out[strlen(out) - 1], '\n');
    assert_int_equal(kt_klepto(&both, true, "%s", args), 0);
    assert_string_equal(both, out); /* nothing went to stderr */
    free(both);
    return out;
}

static void every_command_answers_help_and_h_on_stdout(void **st)
{
    (void)st;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", commands[i]);
        char *help = help_of(commands[i], args);
        snprintf(args, sizeof args, "%s -h", commands[i]);
        char *h = help_of(commands[i], args);
        assert_string_equal(h, help);
        snprintf(args, sizeof args, "help %s", commands[i]);
        char *via_help = help_of(commands[i], args);
        assert_string_equal(via_help, help);
        free(help);
        free(h);
        free(via_help);
    }
}

/* "--help" among a command's other arguments wins: nothing is done. */
static void help_with_other_arguments_does_nothing(void **st)
{
    (void)st;
    char *out = NULL;
    assert_int_equal(kt_klepto(NULL, true, "put dir:%s/a 1 2", dir), 0);
    assert_int_equal(kt_klepto(&out, true, "clear dir:%s/a --help", dir), 0);
    assert_non_null(strstr(out, "usage: klepto clear URL"));
    free(out);
    assert_int_equal(kt_klepto(&out, true, "rm dir:%s/a 1 -h", dir), 0);
    free(out);
    assert_int_equal(kt_klepto(&out, true, "count dir:%s/a", dir), 0);
    assert_string_equal(out, "1\n");
    free(out);
    /* a help request creates no archive */
    assert_int_equal(kt_klepto(&out, true, "put dir:%s/new 1 2 --help", dir), 0);
    free(out);
    char path[4200];
    snprintf(path, sizeof path, "%s/new", dir);
    assert_int_equal(access(path, F_OK), -1);
}

static void help_for_an_unknown_command_exits_2(void **st)
{
    (void)st;
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, false, "help frobnicate 2>/dev/null"), 2);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(kt_klepto(&out, true, "help frobnicate"), 2);
    assert_string_equal(out, "klepto: unknown command 'frobnicate' (try 'klepto --help')\n");
    free(out);
}

/* Bad usage is unchanged: status 2, the usage line on stderr only. */
static void bad_usage_still_exits_2_with_the_usage_line_on_stderr(void **st)
{
    (void)st;
    static const struct {
        const char *args, *err;
    } cases[] = {
        {"ls", "klepto: usage: klepto ls URL [--long] [--json]\n"},
        {"get mem:", "klepto: usage: klepto get URL KEY\n"},
        {"count", "klepto: usage: klepto count URL [--json]\n"},
        {"put mem: 1", "klepto: usage: klepto put URL KEY VALUE\n"},
        {"rm mem:", "klepto: usage: klepto rm URL KEY\n"},
        {"stats", "klepto: usage: klepto stats URL [--json] [--human|--exact] [--zero]\n"},
        {"verify", "klepto: usage: klepto verify URL [--repair] [--json] [--progress|--quiet]\n"},
        {"clear", "klepto: usage: klepto clear URL [--progress|--quiet]\n"},
        {"copy mem:", "klepto: usage: klepto copy SRC DST [--json] [--progress|--quiet]\n"},
        {"compact", "klepto: usage: klepto compact URL [--progress|--quiet]\n"},
        {"export", "klepto: usage: klepto export URL [--format json|csv] [--progress|--quiet]\n"},
        {"import",
         "klepto: usage: klepto import URL [--format json|csv] [FILE] [--progress|--quiet]\n"},
        {"prune", "klepto: usage: klepto prune URL [--max-entries N] [--max-bytes B[K|M|G]] "
                  "[--older-than N[s|m|h|d]] [--json] [--progress|--quiet]\n"},
        {"simulate",
         "klepto: usage: klepto simulate --policy NAME --size N [--trace FILE] [--json]\n"},
        {"ls mem: --bogus", "klepto: ls: unknown option '--bogus'\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, *both = NULL;
        if (kt_klepto(&out, false, "%s 2>/dev/null", cases[i].args) != 2)
            fail_msg("klepto %s: expected status 2", cases[i].args);
        assert_string_equal(out, "");
        assert_int_equal(kt_klepto(&both, true, "%s", cases[i].args), 2);
        assert_string_equal(both, cases[i].err);
        free(out);
        free(both);
    }
}

/* "klepto help" names every archive URL scheme built in, and the options
 * every URL takes, so that nobody has to read the source to find them. */
static void help_lists_the_url_schemes(void **st)
{
    (void)st;
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, false, "help"), 0);
    static const char *const schemes[] = {"file:PATH", "dir:PATH", "sqlite:PATH",
                                          "postgresql://", "mysql://", "redis://",
                                          "hdf5:PATH", "hdf5dir:PATH", "mem:", "null:",
                                          "?cached=true", "?ttl=DURATION", "?mode=0600"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (!strstr(out, schemes[i]))
            fail_msg("klepto help does not mention %s:\n%s", schemes[i], out);
    char built[1024];
    snprintf(built, sizeof built, "built into this klepto: %s\n", kl_features());
    assert_non_null(strstr(out, built));
    free(out);
}

static void version_prints_the_project_version(void **st)
{
    (void)st;
    const char *want = "klepto " KLEPTO_VERSION_STRING "\n";
    char *out = NULL, *again = NULL;
    assert_int_equal(kt_klepto(&out, true, "--version"), 0);
    if (strncmp(out, want, strlen(want)) != 0)
        fail_msg("klepto --version printed '%s', expected it to begin with '%s'", out, want);
    /* the second line names what is built in, as kl_features() does */
    char features[1024];
    snprintf(features, sizeof features, "%sfeatures: %s\n", want, kl_features());
    assert_string_equal(out, features);
    assert_int_equal(kt_klepto(&again, true, "version"), 0);
    assert_string_equal(again, out);
    free(out);
    free(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_command_answers_help_and_h_on_stdout),
        cmocka_unit_test(help_with_other_arguments_does_nothing),
        cmocka_unit_test(help_for_an_unknown_command_exits_2),
        cmocka_unit_test(bad_usage_still_exits_2_with_the_usage_line_on_stderr),
        cmocka_unit_test(help_lists_the_url_schemes),
        cmocka_unit_test(version_prints_the_project_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
