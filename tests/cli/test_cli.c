/* SPDX-License-Identifier: BSD-3-Clause */
/* The klepto command: ls, get, count on a dir: archive written through the
 * library; exit statuses and error messages of the contract (CLI.md). */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto.h"

static char *dir;
static char url[4200];

static void put_literal(kl_archive *ar, const char *k, const char *v)
{
    kl_value kv, vv;
    KT_OK(kl_parse(k, strlen(k), &kv));
    KT_OK(kl_parse(v, strlen(v), &vv));
    kl_buf kb = KL_BUF_INIT, vb = KL_BUF_INIT;
    KT_OK(kl_encode(&kb, &kv, 0));
    KT_OK(kl_encode(&vb, &vv, 0));
    KT_OK(kl_archive_put(ar, kb.data, kb.len, vb.data, vb.len));
    kl_value_free(&kv);
    kl_value_free(&vv);
    kl_buf_free(&kb);
    kl_buf_free(&vb);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(kt_tempdir_make(&dir, "cli"), 0);
    snprintf(url, sizeof url, "dir:%s/ar", dir);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    put_literal(ar, "(1, 2.5, 'a')", "{'k': [1, 2], 'z': None}");
    put_literal(ar, "'solo'", "b'\\x00\\xff'");
    put_literal(ar, "(3, 4)", "1e+16");
    KT_OK(kl_archive_close(ar));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_tempdir_remove(&dir);
    return 0;
}

static int klepto(const char *args, char **out)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "%s %s", kt_bin("klepto"), args);
    return kt_run(cmd, out);
}

static void count_prints_the_number_of_entries(void **state)
{
    (void)state;
    char args[4300], *out;
    snprintf(args, sizeof args, "count %s", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_string_equal(out, "3\n");
    free(out);
}

/* Output that cannot be written is an I/O failure, never a silent
 * success: stdout on /dev/full gives exit 3 and one line on stderr. */
static void a_failed_write_to_stdout_exits_3(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip(); /* no /dev/full on this system */
    static const char *const cmds[] = {"count", "ls", "export", "stats"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *err = NULL;
        int st = kt_klepto(&err, false, "%s '%s' 2>&1 >/dev/full", cmds[i], url);
        if (st != 3 || !err || !strstr(err, "klepto: writing the output failed"))
            fail_msg("klepto %s >/dev/full: status %d, stderr '%s'", cmds[i], st,
                     err ? err : "");
        free(err);
    }
    char *err = NULL;
    assert_int_equal(kt_klepto(&err, false, "--version 2>&1 >/dev/full"), 3);
    free(err);
}

/* A ?cached=true URL names the same storage: a freshly opened cached
 * front holds nothing in memory (klepto's cached archive answers from
 * memory only), so the commands look behind it, and what they write
 * lands in the storage. */
static void a_cached_url_shows_and_changes_the_storage(void **state)
{
    (void)state;
    char args[4400], *out;
    snprintf(args, sizeof args, "count '%s?cached=true'", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_string_equal(out, "3\n");
    free(out);
    snprintf(args, sizeof args, "get '%s?cached=true' \"'solo'\"", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_string_equal(out, "b'\\x00\\xff'\n");
    free(out);
    snprintf(args, sizeof args, "put '%s?cached=true' \"'extra'\" 7", url);
    assert_int_equal(klepto(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "get %s \"'extra'\"", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_string_equal(out, "7\n");
    free(out);
    snprintf(args, sizeof args, "rm %s \"'extra'\"", url);
    assert_int_equal(klepto(args, &out), 0);
    free(out);
}

static void ls_prints_each_key_as_a_literal(void **state)
{
    (void)state;
    char args[4300], *out;
    snprintf(args, sizeof args, "ls %s", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_non_null(strstr(out, "(1, 2.5, 'a')\n"));
    assert_non_null(strstr(out, "'solo'\n"));
    assert_non_null(strstr(out, "(3, 4)\n"));
    free(out);
    snprintf(args, sizeof args, "ls %s --json", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_non_null(strstr(out, "{\"key\": \"solo\", \"value\": "));
    free(out);
}

static void get_prints_the_value_literal(void **state)
{
    (void)state;
    char args[4300], *out;
    snprintf(args, sizeof args, "get %s \"(1, 2.5, 'a')\"", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_string_equal(out, "{'k': [1, 2], 'z': None}\n");
    free(out);
    snprintf(args, sizeof args, "get %s \"'solo'\"", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_string_equal(out, "b'\\x00\\xff'\n");
    free(out);
    /* an untyped key literal with floats finds the integer-encoded key too */
    snprintf(args, sizeof args, "get %s \"(3.0, 4.0)\"", url);
    assert_int_equal(klepto(args, &out), 0);
    assert_string_equal(out, "1e+16\n");
    free(out);
}

static void missing_key_exits_1_and_bad_input_exits_2(void **state)
{
    (void)state;
    char args[4300], *out;
    snprintf(args, sizeof args, "get %s \"'absent'\" 2>&1", url);
    assert_int_equal(klepto(args, &out), 1);
    assert_non_null(strstr(out, "not found"));
    free(out);
    snprintf(args, sizeof args, "get %s \"(1, \" 2>&1", url);
    assert_int_equal(klepto(args, &out), 2);
    assert_non_null(strstr(out, "klepto: "));
    free(out);
    assert_int_equal(klepto("ls nosuch:thing 2>&1", &out), 2);
    assert_non_null(strstr(out, "nosuch"));
    free(out);
    assert_int_equal(klepto("frobnicate 2>&1", &out), 2);
    free(out);
    assert_int_equal(klepto("count 2>&1", &out), 2);
    free(out);
}

static void missing_archive_is_not_created_by_reading(void **state)
{
    (void)state;
    char args[4300], *out, path[4200];
    snprintf(path, sizeof path, "%s/never", dir);
    snprintf(args, sizeof args, "count dir:%s 2>&1", path);
    assert_int_not_equal(klepto(args, &out), 0);
    assert_non_null(strstr(out, path));
    free(out);
    FILE *f = fopen(path, "r");
    assert_null(f);
}

/* A password in an archive URL never reaches the terminal: unreachable
 * servers (nothing listens on port 1), a bad option, an unknown scheme. */
static void passwords_in_urls_are_not_printed(void **state)
{
    (void)state;
    const char *urls[] = {
        "redis://:s3cretA@127.0.0.1:1/0",
        "redis://alice:s3cretA@127.0.0.1:1/0?prefix=p",
        "postgresql://alice:s3cretA@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://127.0.0.1:1/db?password=s3cretA&connect_timeout=2",
        "redis://:s3cretA@127.0.0.1:1/0?no_such_option=1",
        "nosuchscheme://u:s3cretA@host/x",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char *out = NULL;
        int st = kt_klepto(&out, true, "count '%s'", urls[i]);
        assert_int_not_equal(st, 0);
        assert_non_null(out);
        if (strstr(out, "s3cretA"))
            fail_msg("%s: the password was printed: %s", urls[i], out);
        assert_non_null(strstr(out, "***")); /* the URL is named, masked */
        free(out);
    }
}

/* The masking itself, through the public function. */
static void redact_url_masks_passwords_only(void **state)
{
    (void)state;
    const struct {
        const char *in, *out;
    } cases[] = {
        {"redis://:pw@h:1/0", "redis://:***@h:1/0"},
        {"redis://user:pw@h/0?prefix=a", "redis://user:***@h/0?prefix=a"},
        {"postgresql://u:p%40ss@h:5432/db?table=t", "postgresql://u:***@h:5432/db?table=t"},
        {"postgresql://u@h/db?password=x&table=t", "postgresql://u@h/db?password=***&table=t"},
        {"redis://user@h/0", "redis://user@h/0"},
        {"redis://user:@h/0", "redis://user:@h/0"},
        {"dir:/tmp/a:b@c", "dir:/tmp/a:b@c"},
        {"sqlite:/tmp/x.db?table=t", "sqlite:/tmp/x.db?table=t"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = kl_archive_redact_url(cases[i].in);
        assert_non_null(r);
        assert_string_equal(r, cases[i].out);
        free(r);
    }
    assert_null(kl_archive_redact_url(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_prints_the_number_of_entries),
        cmocka_unit_test(ls_prints_each_key_as_a_literal),
        cmocka_unit_test(a_failed_write_to_stdout_exits_3),
        cmocka_unit_test(get_prints_the_value_literal),
        cmocka_unit_test(missing_key_exits_1_and_bad_input_exits_2),
        cmocka_unit_test(missing_archive_is_not_created_by_reading),
        cmocka_unit_test(a_cached_url_shows_and_changes_the_storage),
        cmocka_unit_test(passwords_in_urls_are_not_printed),
        cmocka_unit_test(redact_url_masks_passwords_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
