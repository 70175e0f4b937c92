/* SPDX-License-Identifier: BSD-3-Clause */
/* `klepto simulate`: the command, from the CLI's library, called as the
 * CLI calls it, with stdout captured.  It must print the
 * contract's line, count hits exactly as the policy dictates (checked
 * against the policy driven directly, without the cache), read any text
 * (CRLF, no final newline, stdin) and reject bad arguments with status 2. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli.h"
#include "klepto/sys/policy.h"

static char *tmp;

static int setup(void **state)
{
    (void)state;
    return kt_tempdir_make(&tmp, "simulate");
}
static int teardown(void **state)
{
    (void)state;
    kt_tempdir_remove(&tmp);
    return 0;
}

static const char *write_trace(const char *name, const char *text, size_t len)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Run the command with argv (NULL-terminated), stdin from `in` when not
 * NULL; returns the exit status and the captured stdout in *out. */
static int run(char **argv, const char *in, char **out)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char outpath[4096];
    snprintf(outpath, sizeof outpath, "%s/stdout", tmp);
    fflush(stdout);
    int saved_out = dup(1), saved_in = -1;
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved_out >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    if (in) {
        saved_in = dup(0);
        int ifd = open(in, O_RDONLY);
        assert_true(ifd >= 0);
        dup2(ifd, 0);
        close(ifd);
    }
    int rc = cli_cmd_simulate(argc, argv);
    fflush(stdout);
    dup2(saved_out, 1);
    close(saved_out);
    if (in) {
        dup2(saved_in, 0);
        close(saved_in);
    }
    *out = kt_slurp(outpath, NULL);
    assert_non_null(*out);
    return rc;
}

/* 1 2 3 4 three times, 3 entries: LRU never hits; MRU hits 6 times (the
 * hand count is in test_policy.c). */
static void prints_the_contract_line_for_a_loop(void **state)
{
    (void)state;
    const char *t = write_trace("loop", "1\n2\n3\n4\n1\n2\n3\n4\n1\n2\n3\n4\n", 24);
    char *out;
    char *a1[] = {"--policy", "lru", "--size", "3", "--trace", (char *)t, NULL};
    assert_int_equal(run(a1, NULL, &out), 0);
    assert_string_equal(out, "policy=lru size=3 requests=12 hits=0 misses=12 miss_ratio=1.0000\n");
    free(out);
    char *a2[] = {"--trace", (char *)t, "--size", "3", "--policy", "mru", NULL};
    assert_int_equal(run(a2, NULL, &out), 0);
    assert_string_equal(out, "policy=mru size=3 requests=12 hits=6 misses=6 miss_ratio=0.5000\n");
    free(out);
}

/* Keys are whole lines of any bytes: "a b" (CRLF) and "a b" (LF) are one
 * key, " a b" another; the last line needs no newline; stdin works. */
static void reads_any_text_from_a_file_or_stdin(void **state)
{
    (void)state;
    static const char text[] = "a b\r\n\xc3\xbc\nx\n a b\na b\n\xc3\xbc";
    const char *t = write_trace("text", text, sizeof text - 1);
    char *out;
    char *a1[] = {"--policy", "fifo", "--size", "10", "--trace", (char *)t, NULL};
    assert_int_equal(run(a1, NULL, &out), 0);
    assert_string_equal(out, "policy=fifo size=10 requests=6 hits=2 misses=4 miss_ratio=0.6667\n");
    free(out);
    char *a2[] = {"--policy", "fifo", "--size", "10", NULL};
    assert_int_equal(run(a2, t, &out), 0);
    assert_string_equal(out, "policy=fifo size=10 requests=6 hits=2 misses=4 miss_ratio=0.6667\n");
    free(out);
    const char *empty = write_trace("empty", "", 0);
    char *a3[] = {"--policy", "lru", "--size", "10", "--trace", (char *)empty, NULL};
    assert_int_equal(run(a3, NULL, &out), 0);
    assert_string_equal(out, "policy=lru size=10 requests=0 hits=0 misses=0 miss_ratio=0.0000\n");
    free(out);
}

/* The policy alone, as the cache drives it (insert, then evict while over
 * the limit), on the same keys and hashes. */
static uint64_t direct_hits(const char *policy, size_t cap, const uint32_t *keys, size_t n,
                            size_t nkeys, char lines[][16])
{
    const kl_policy_ops *ops = kl_policy_find(policy);
    assert_non_null(ops);
    void *st;
    assert_int_equal(ops->create(&st, cap, 1), 0);
    typedef struct {
        uint64_t meta[8];
        uint32_t key;
    } ent;
    assert_true(ops->meta_size <= sizeof(((ent *)0)->meta));
    ent *e = calloc(nkeys, sizeof *e);
    char *in = calloc(nkeys, 1);
    size_t count = 0;
    uint64_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = keys[i];
        if (in[k]) {
            ops->on_hit(st, e[k].meta);
            hits++;
            continue;
        }
        memset(&e[k], 0, sizeof e[k]);
        e[k].key = k;
        in[k] = 1;
        count++;
        ops->on_insert(st, e[k].meta, XXH3_64bits(lines[k], strlen(lines[k])));
        while (count > cap) {
            ent *v = ops->victim(st);
            assert_non_null(v);
            ops->on_remove(st, v->meta);
            in[v->key] = 0;
            count--;
        }
    }
    ops->destroy(st);
    free(e);
    free(in);
    return hits;
}

static void hit_counts_match_the_policy_driven_directly(void **state)
{
    (void)state;
    enum { NK = 3000, NR = 60000 };
    static char lines[NK][16];
    uint32_t *keys = malloc(NR * sizeof *keys);
    char *text = malloc((size_t)NR * 16);
    assert_true(keys && text);
    for (uint32_t k = 0; k < NK; k++)
        snprintf(lines[k], sizeof lines[k], "k%u", k * 2654435761u % 100000);
    size_t len = 0;
    uint64_t s = 99;
    for (size_t i = 0; i < NR; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) * 0x1.0p-53;
        keys[i] = (uint32_t)(u * u * u * NK); /* skewed */
        len += (size_t)sprintf(text + len, "%s\n", lines[keys[i]]);
    }
    const char *t = write_trace("random", text, len);
    const char *const *names = kl_policy_names();
    for (size_t p = 0; names[p]; p++) {
        char *out, expect[200];
        char *argv[] = {"--policy", (char *)names[p], "--size", "200", "--trace", (char *)t, NULL};
        assert_int_equal(run(argv, NULL, &out), 0);
        uint64_t h = direct_hits(names[p], 200, keys, NR, NK, lines);
        snprintf(expect, sizeof expect,
                 "policy=%s size=200 requests=%d hits=%llu misses=%llu miss_ratio=%.4f\n",
                 names[p], NR, (unsigned long long)h, (unsigned long long)(NR - h),
                 (double)(NR - h) / NR);
        assert_string_equal(out, expect);
        free(out);
    }
    free(keys);
    free(text);
}

/* Size 0 is the "no" cache: nothing is kept. */
static void size_zero_keeps_nothing(void **state)
{
    (void)state;
    const char *t = write_trace("same", "a\na\na\n", 6);
    char *out;
    char *argv[] = {"--policy", "lru", "--size", "0", "--trace", (char *)t, NULL};
    assert_int_equal(run(argv, NULL, &out), 0);
    assert_string_equal(out, "policy=lru size=0 requests=3 hits=0 misses=3 miss_ratio=1.0000\n");
    free(out);
}

static void bad_arguments_exit_with_status_2_and_print_nothing(void **state)
{
    (void)state;
    const char *t = write_trace("one", "a\n", 2);
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/no-such-trace", tmp);
    char *cases[][8] = {
        {"--policy", "nosuch", "--size", "3", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", "-5", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", "abc", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", "99999999999999999999999", "--trace", (char *)t, NULL},
        {"--size", "3", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", "3", "--trace", missing, NULL},
        {"--policy", "lru", "--size", "3", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        int rc = run(cases[i], NULL, &out);
        if (rc != 2)
            fail_msg("case %zu: status %d, expected 2", i, rc);
        assert_string_equal(out, "");
        free(out);
    }
    char *last[] = {"--policy", "lru", "--size", NULL};
    char *out;
    assert_int_equal(run(last, NULL, &out), 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prints_the_contract_line_for_a_loop),
        cmocka_unit_test(reads_any_text_from_a_file_or_stdin),
        cmocka_unit_test(hit_counts_match_the_policy_driven_directly),
        cmocka_unit_test(size_zero_keeps_nothing),
        cmocka_unit_test(bad_arguments_exit_with_status_2_and_print_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
