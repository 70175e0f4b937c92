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
        {"--policy", "lru", "--size", "3,", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", ",3", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", "3,,4", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", "3,x", "--trace", (char *)t, NULL},
        {"--policy", "lru,nosuch", "--size", "3", "--trace", (char *)t, NULL},
        {"--policy", "lru,", "--size", "3", "--trace", (char *)t, NULL},
        {"--policy", "lru", "--size", "3", "--json", "--trace", missing, NULL},
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

/* Lists of sizes and policies: one contract line per policy and size, in
 * that order, each the line the single run prints.  1 2 3 4 x3 at 3
 * entries: LRU 0 hits, LIRS 4 (hand counts in test_policy.c); at 4
 * entries everything after the first round hits. */
static void lists_of_sizes_and_policies_print_one_line_each(void **state)
{
    (void)state;
    const char *t = write_trace("loop", "1\n2\n3\n4\n1\n2\n3\n4\n1\n2\n3\n4\n", 24);
    char *out;
    char *a1[] = {"--policy", "lru,lirs", "--size", "3,4,1", "--trace", (char *)t, NULL};
    assert_int_equal(run(a1, NULL, &out), 0);
    assert_string_equal(out, "policy=lru size=3 requests=12 hits=0 misses=12 miss_ratio=1.0000\n"
                             "policy=lru size=4 requests=12 hits=8 misses=4 miss_ratio=0.3333\n"
                             "policy=lru size=1 requests=12 hits=0 misses=12 miss_ratio=1.0000\n"
                             "policy=lirs size=3 requests=12 hits=4 misses=8 miss_ratio=0.6667\n"
                             "policy=lirs size=4 requests=12 hits=8 misses=4 miss_ratio=0.3333\n"
                             "policy=lirs size=1 requests=12 hits=0 misses=12 miss_ratio=1.0000\n");
    free(out);
    char *a2[] = {"--policy", "all", "--size", "2", "--trace", (char *)t, NULL};
    assert_int_equal(run(a2, NULL, &out), 0);
    size_t lines = 0;
    const char *const *names = kl_policy_names();
    const char *p = out;
    for (; names[lines]; lines++) {
        char want[64];
        int n = snprintf(want, sizeof want, "policy=%s size=2 ", names[lines]);
        assert_memory_equal(p, want, (size_t)n);
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    assert_string_equal(p, "");
    assert_true(lines >= 11);
    free(out);
}

/* --json: one object per line with the same numbers. */
static void json_prints_one_object_per_policy_and_size(void **state)
{
    (void)state;
    const char *t = write_trace("loop", "1\n2\n3\n4\n1\n2\n3\n4\n1\n2\n3\n4\n", 24);
    char *out;
    char *a[] = {"--json", "--policy", "lirs", "--size", "3,1000", "--trace", (char *)t, NULL};
    assert_int_equal(run(a, NULL, &out), 0);
    assert_string_equal(out, "{\"policy\": \"lirs\", \"size\": 3, \"requests\": 12, \"hits\": 4, "
                             "\"misses\": 8, \"miss_ratio\": 0.666667}\n"
                             "{\"policy\": \"lirs\", \"size\": 1000, \"requests\": 12, \"hits\": 8, "
                             "\"misses\": 4, \"miss_ratio\": 0.333333}\n");
    free(out);
}

/* Degenerate traces are exact for every policy: one key hits on every
 * request but the first (size >= 1); all-distinct keys never hit; size
 * 1 hits only immediate repeats. */
static void degenerate_traces_are_exact_for_every_policy(void **state)
{
    (void)state;
    static char one[3000], distinct[12000], pairs[12000];
    size_t n1 = 0, nd = 0, np = 0;
    for (int i = 0; i < 1000; i++) {
        n1 += (size_t)sprintf(one + n1, "k\n");
        nd += (size_t)sprintf(distinct + nd, "d%d\n", i);
        np += (size_t)sprintf(pairs + np, "p%d\n", i / 2 % 7); /* each key twice in a row */
    }
    /* write_trace's path is static: copies */
    char *t1 = strdup(write_trace("one-key", one, n1));
    char *td = strdup(write_trace("distinct", distinct, nd));
    char *tp = strdup(write_trace("pairs", pairs, np));
    assert_true(t1 && td && tp);
    const char *const *names = kl_policy_names();
    for (size_t p = 0; names[p]; p++) {
        char *out, want[512];
        char *a1[] = {"--policy", (char *)names[p], "--size", "1,2,50", "--trace", (char *)t1, NULL};
        assert_int_equal(run(a1, NULL, &out), 0);
        snprintf(want, sizeof want,
                 "policy=%s size=1 requests=1000 hits=999 misses=1 miss_ratio=0.0010\n"
                 "policy=%s size=2 requests=1000 hits=999 misses=1 miss_ratio=0.0010\n"
                 "policy=%s size=50 requests=1000 hits=999 misses=1 miss_ratio=0.0010\n",
                 names[p], names[p], names[p]);
        assert_string_equal(out, want);
        free(out);
        char *a2[] = {"--policy", (char *)names[p], "--size", "1,100", "--trace", (char *)td, NULL};
        assert_int_equal(run(a2, NULL, &out), 0);
        snprintf(want, sizeof want,
                 "policy=%s size=1 requests=1000 hits=0 misses=1000 miss_ratio=1.0000\n"
                 "policy=%s size=100 requests=1000 hits=0 misses=1000 miss_ratio=1.0000\n",
                 names[p], names[p]);
        assert_string_equal(out, want);
        free(out);
        char *a3[] = {"--policy", (char *)names[p], "--size", "1", "--trace", (char *)tp, NULL};
        assert_int_equal(run(a3, NULL, &out), 0);
        snprintf(want, sizeof want,
                 "policy=%s size=1 requests=1000 hits=500 misses=500 miss_ratio=0.5000\n",
                 names[p]);
        assert_string_equal(out, want);
        free(out);
    }
    free(t1);
    free(td);
    free(tp);
}

/* Lines that are not tidy keys are still keys, byte for byte: an empty
 * line is the empty key, NUL bytes and a CR inside a line are part of
 * it (only a CR right before the newline is dropped), a 1 MiB line is
 * one key, the last line needs no newline.  Every policy then counts
 * exactly: with room for all 5 distinct keys every request after a key's
 * first hits; at size 1 only the one immediate repeat hits; at size 0
 * nothing does. */
static void awkward_lines_are_exact_keys_for_every_policy(void **state)
{
    (void)state;
    enum { BIG = 1 << 20 };
    static const char *const parts[] = {"", "a\0b", "a\0c", "", "a\0b", "x\ry", "x\ry\r",
                                        NULL /* BIG */, "", NULL, "a\0c"};
    static const size_t plen[] = {0, 3, 3, 0, 3, 3, 4, BIG, 0, BIG, 3};
    size_t cap = 2 * BIG + 64, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (size_t i = 0; i < sizeof plen / sizeof plen[0]; i++) {
        if (parts[i])
            memcpy(text + n, parts[i], plen[i]);
        else
            memset(text + n, 'k', plen[i]);
        n += plen[i];
        if (i + 1 < sizeof plen / sizeof plen[0])
            text[n++] = '\n';
    }
    char *t = strdup(write_trace("awkward", text, n));
    char *blank = strdup(write_trace("blank", "\n\n\n", 3));
    assert_true(t && blank);
    const char *const *names = kl_policy_names();
    for (size_t p = 0; names[p]; p++) {
        char *out, want[512];
        char *a1[] = {"--policy", (char *)names[p], "--size", "5,1,0", "--trace", t, NULL};
        assert_int_equal(run(a1, NULL, &out), 0);
        snprintf(want, sizeof want,
                 "policy=%s size=5 requests=11 hits=6 misses=5 miss_ratio=0.4545\n"
                 "policy=%s size=1 requests=11 hits=1 misses=10 miss_ratio=0.9091\n"
                 "policy=%s size=0 requests=11 hits=0 misses=11 miss_ratio=1.0000\n",
                 names[p], names[p], names[p]);
        assert_string_equal(out, want);
        free(out);
        char *a2[] = {"--policy", (char *)names[p], "--size", "1", "--trace", blank, NULL};
        assert_int_equal(run(a2, NULL, &out), 0);
        snprintf(want, sizeof want,
                 "policy=%s size=1 requests=3 hits=2 misses=1 miss_ratio=0.3333\n", names[p]);
        assert_string_equal(out, want);
        free(out);
    }
    free(t);
    free(blank);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prints_the_contract_line_for_a_loop),
        cmocka_unit_test(reads_any_text_from_a_file_or_stdin),
        cmocka_unit_test(hit_counts_match_the_policy_driven_directly),
        cmocka_unit_test(size_zero_keeps_nothing),
        cmocka_unit_test(bad_arguments_exit_with_status_2_and_print_nothing),
        cmocka_unit_test(lists_of_sizes_and_policies_print_one_line_each),
        cmocka_unit_test(json_prints_one_object_per_policy_and_size),
        cmocka_unit_test(degenerate_traces_are_exact_for_every_policy),
        cmocka_unit_test(awkward_lines_are_exact_keys_for_every_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
