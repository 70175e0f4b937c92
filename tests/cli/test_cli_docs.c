/* SPDX-License-Identifier: BSD-3-Clause */
/* The manual page klepto(1) and the bash completion keep in step with the
 * tool: every command `klepto --help` lists has its entry in the page and
 * is offered by the completion, and every option a command's usage line
 * names is in both. */
#define _GNU_SOURCE
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *man_page, *completion;

static int setup(void **state)
{
    (void)state;
    man_page = kt_slurp(kt_data("../../docs/man/klepto.1"), NULL);
    completion = kt_slurp(kt_data("../../tools/completion/klepto.bash"), NULL);
    return man_page && completion ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(man_page);
    free(completion);
    return 0;
}

/* The command names `klepto --help` lists ("  klepto NAME ..."), into
 * names (at most max); returns how many. */
static size_t listed_commands(char names[][32], size_t max)
{
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, false, "--help"), 0);
    size_t n = 0;
    for (char *line = strtok(out, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        if (strncmp(line, "  klepto ", 9) != 0)
            continue;
        size_t len = strcspn(line + 9, " ");
        assert_true(len > 0 && len < 32);
        memcpy(names[n], line + 9, len);
        names[n++][len] = '\0';
    }
    free(out);
    return n;
}

/* text as roff writes it: every '-' as "\-" */
static void roff_escape(const char *text, char *out, size_t size)
{
    size_t o = 0;
    for (; *text && o + 3 < size; text++) {
        if (*text == '-')
            out[o++] = '\\';
        out[o++] = *text;
    }
    out[o] = '\0';
}

static void every_command_is_in_the_man_page_and_the_completion(void **state)
{
    (void)state;
    char names[64][32];
    size_t n = listed_commands(names, 64);
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        char bi[64], br[64];
        snprintf(bi, sizeof bi, "\n.BI \"%s ", names[i]);
        snprintf(br, sizeof br, "\n.BI \"%s\"", names[i]);
        if (!strstr(man_page, bi) && !strstr(man_page, br))
            fail_msg("klepto(1) has no entry for the command %s", names[i]);
        char word[40];
        snprintf(word, sizeof word, " %s ", names[i]);
        const char *list = strstr(completion, "_klepto_commands=\"");
        assert_non_null(list);
        const char *end = strchr(list + 18, '"');
        char commands[512];
        snprintf(commands, sizeof commands, " %.*s ", (int)(end - list - 18), list + 18);
        if (!strstr(commands, word))
            fail_msg("the bash completion does not offer the command %s", names[i]);
    }
}

static void every_option_is_in_the_man_page_and_the_completion(void **state)
{
    (void)state;
    char names[64][32];
    size_t n = listed_commands(names, 64);
    for (size_t i = 0; i < n; i++) {
        char *help = NULL;
        assert_int_equal(kt_klepto(&help, false, "%s --help", names[i]), 0);
        /* the usage: up to the first empty line */
        char *blank = strstr(help, "\n\n");
        if (blank)
            *blank = '\0';
        for (char *p = help; (p = strstr(p, "--")) != NULL;) {
            size_t len = 2;
            while (islower((unsigned char)p[len]) || p[len] == '-')
                len++;
            if (len > 2) {
                char opt[64], esc[128];
                snprintf(opt, sizeof opt, "%.*s", (int)len, p);
                roff_escape(opt, esc, sizeof esc);
                if (!strstr(man_page, esc))
                    fail_msg("klepto(1) does not name %s of %s", opt, names[i]);
                if (!strstr(completion, opt))
                    fail_msg("the bash completion does not offer %s of %s", opt, names[i]);
            }
            p += len;
        }
        free(help);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_command_is_in_the_man_page_and_the_completion),
        cmocka_unit_test(every_option_is_in_the_man_page_and_the_completion),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
