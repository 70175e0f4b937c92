/* SPDX-License-Identifier: BSD-3-Clause */
/* klepto export / import / prune (CLI.md): export→import reproduces every
 * stored key and value byte for byte across archive kinds and both
 * formats; hand-written JSON imports; bad input is refused by line with
 * its batch unwritten; prune by count, bytes and age; usage errors. */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto.h"

static char *dir;

/* The tool, with stderr left on the terminal */
#define klepto(out, ...) kt_klepto(out, false, __VA_ARGS__)

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "clit");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

static void encode_literal(const char *lit, kl_buf *out)
{
    kl_value v;
    KT_OK(kl_parse(lit, strlen(lit), &v));
    out->len = 0;
    KT_OK(kl_encode(out, &v, 0));
    kl_value_free(&v);
}

static void put_literals(kl_archive *ar, const char *klit, const char *vlit)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    encode_literal(klit, &k);
    encode_literal(vlit, &v);
    KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
    kl_buf_free(&k);
    kl_buf_free(&v);
}

/* The archive at url holds exactly one entry, klit -> vlit. */
static void archive_of_one(const char *url, const char *klit, const char *vlit)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_clear(ar));
    put_literals(ar, klit, vlit);
    KT_OK(kl_archive_close(ar));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static size_t count_of(const char *url)
{
    kl_archive *ar;
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.create = false;
    KT_OK(kl_archive_open(&ar, url, &o));
    size_t n;
    KT_OK(kl_archive_count(ar, &n));
    KT_OK(kl_archive_close(ar));
    return n;
}

/* Every entry of a is in b with identical bytes, and they hold as many. */
static void assert_same_entries(const char *ua, const char *ub)
{
    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, ua, NULL));
    KT_OK(kl_archive_open(&b, ub, NULL));
    size_t na, nb, seen = 0;
    KT_OK(kl_archive_count(a, &na));
    KT_OK(kl_archive_count(b, &nb));
    assert_int_equal(na, nb);
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(a, &it));
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, w = KL_BUF_INIT;
    int r;
    while ((r = kl_archive_iter_next(it, &k, &v)) == 1) {
        int g = kl_archive_get(b, k.data, k.len, &w);
        if (g != 0) {
            kl_buf lit = KL_BUF_INIT;
            kl_value kv;
            if (kl_decode(k.data, k.len, &kv) == 0) {
                kl_repr(&lit, &kv);
                kl_value_free(&kv);
            }
            fail_msg("%s: key %s missing from %s", ua, kl_buf_cstr(&lit), ub);
        }
        assert_int_equal(v.len, w.len);
        assert_memory_equal(v.data, w.data, v.len);
        seen++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(seen, na);
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&w);
    KT_OK(kl_archive_close(a));
    KT_OK(kl_archive_close(b));
}

/* The entries JSON alone would get wrong: tuple/list keys, bytes against a
 * map spelled like bytes, nan/inf against their text, 1 against 1.0,
 * non-text map keys, text full of quotes, commas, newlines, non-ASCII. */
static const char *const tricky[][2] = {
    {"(1, 'a')", "{'k': [1.5, None], 2: b'\\x00\\xff'}"},
    {"(1, 2)", "[(1, 2), [3, [4]], (), []]"},
    {"b'\\x00'", "nan"},
    {"b''", "''"},
    {"'nan'", "{'$bytes': 'AP8='}"},
    {"'inf'", "-inf"},
    {"inf", "'inf'"},
    {"1", "True"},
    {"1.0", "False"},
    {"-9223372036854775808", "9223372036854775807"},
    {"None", "'x,y'"},
    {"'he said \"hi\", she said \\'no\\'\\nthen\\r\\n\\tleft'", "'\"\",\"\"'"},
    {"'ünïcödé ✓ 😀 \\u2028'", "'\\x00\\x1f\\x7f'"},
    {"{'nested': {'a': (1, 2), 3: {'b': b'\\xff'}}}", "{1: 'one', 1.5: 'x', None: [], (1, 2): {}}"},
    {"(0.1, -0.0, 1e+300, 5e-324)", "array([[1, 2], [3, 4]], dtype=int32)"},
    {"'k'", "array([1.5, -2.25], dtype=float32)"},
    {"'0-d'", "array(5, dtype=int64)"},
    {"'empty'", "array([], shape=(0, 3), dtype=float64)"},
    {"'marker'", "[NULL, array([[nan, inf]], dtype=float32), array([1, 2], dtype=uint64)]"},
};

static void fill_tricky(const char *url, int extra)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++)
        put_literals(ar, tricky[i][0], tricky[i][1]);
    char k[64], v[64];
    for (int i = 0; i < extra; i++) { /* enough to span several import batches */
        snprintf(k, sizeof k, "('row', %d)", i);
        snprintf(v, sizeof v, "[%d, %d.5, 'v%d']", i, i, i);
        put_literals(ar, k, v);
    }
    KT_OK(kl_archive_close(ar));
}

static void round_trip(const char *src, const char *fmt, const char *dst)
{
    char *out = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/x.%s", dir, fmt);
    assert_int_equal(klepto(&out, "export '%s' --format %s > %s", src, fmt, path), 0);
    free(out);
    assert_int_equal(klepto(&out, "import '%s' %s", dst, path), 0);
    char want[512];
    snprintf(want, sizeof want, "imported %zu entries into %s\n", count_of(src), dst);
    assert_string_equal(out, want);
    free(out);
    assert_same_entries(src, dst);
    unlink(path);
}

static void export_import_round_trip_json_and_csv_across_kinds(void **st)
{
    (void)st;
    char a[256], b[256], c[256], d[256];
    snprintf(a, sizeof a, "dir:%s/a", dir);
    snprintf(b, sizeof b, "file:%s/b.kl", dir);
    snprintf(c, sizeof c, "sqlite:%s/c.db?table=t", dir);
    snprintf(d, sizeof d, "dir:%s/d", dir);
    fill_tricky(a, 2100);
    round_trip(a, "json", b);
    round_trip(b, "csv", c);
    round_trip(c, "json", d);
    assert_same_entries(a, d);
    /* stdin, and the format from --format rather than the name */
    char *out;
    assert_int_equal(klepto(&out,
                            "export '%s' --format=csv | %s import 'file:%s/e.kl' --format csv", a,
                            kt_bin("klepto"), dir),
                     0);
    free(out);
    snprintf(b, sizeof b, "file:%s/e.kl", dir);
    assert_same_entries(a, b);
}

static void export_lines_carry_json_and_literals(void **st)
{
    (void)st;
    char url[256];
    snprintf(url, sizeof url, "file:%s/one.kl", dir);
    archive_of_one(url, "(1, 'a')", "(b'\\x00', nan)");
    char *out;
    assert_int_equal(klepto(&out, "export %s", url), 0);
    assert_string_equal(out,
                        "{\"key\": [1, \"a\"], \"value\": [{\"$bytes\": \"AA==\"}, \"nan\"], "
                        "\"key_repr\": \"(1, 'a')\", \"value_repr\": \"[b'\\\\x00', nan]\"}\n");
    free(out);

    archive_of_one(url, "'a,\"b\"'", "1");
    assert_int_equal(klepto(&out, "export %s --format csv", url), 0);
    assert_string_equal(out, "key,value\n\"'a,\"\"b\"\"'\",1\n");
    free(out);
}

/* A stored value whose literal would not read back to its bytes (an
 * integer in a longer form than canonical) is still exported, but named on
 * stderr and the exit status says the export is not faithful. */
static void export_flags_entries_text_cannot_reproduce(void **st)
{
    (void)st;
    char url[256];
    snprintf(url, sizeof url, "file:%s/odd.kl", dir);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    put_literals(ar, "1", "2");
    const uint8_t key[] = {0x02}, val[] = {0x18, 0x05}; /* 2 -> 5, not shortest */
    KT_OK(kl_archive_put(ar, key, sizeof key, val, sizeof val));
    KT_OK(kl_archive_close(ar));
    char *out;
    assert_int_equal(klepto(&out, "export %s --format csv 2>&1", url), 1);
    assert_non_null(strstr(out, "1,2\n"));
    assert_non_null(strstr(out, "klepto: "));
    free(out);
}

static void get_bytes(const char *url, const char *klit, kl_buf *val)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf k = KL_BUF_INIT;
    encode_literal(klit, &k);
    KT_OK(kl_archive_get(ar, k.data, k.len, val));
    kl_buf_free(&k);
    KT_OK(kl_archive_close(ar));
}

static void assert_stored(const char *url, const char *klit, const char *vlit)
{
    kl_buf got = KL_BUF_INIT, want = KL_BUF_INIT;
    get_bytes(url, klit, &got);
    encode_literal(vlit, &want);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
        kl_value v;
        kl_buf lit = KL_BUF_INIT;
        if (kl_decode(got.data, got.len, &v) == 0) {
            kl_repr(&lit, &v);
            kl_value_free(&v);
        }
        fail_msg("key %s: stored %s, expected %s", klit, kl_buf_cstr(&lit), vlit);
    }
    kl_buf_free(&got);
    kl_buf_free(&want);
}

static void import_hand_written_json(void **st)
{
    (void)st;
    char path[512], url[256];
    snprintf(path, sizeof path, "%s/hand.json", dir);
    snprintf(url, sizeof url, "file:%s/hand.kl", dir);
    write_file(path,
               "{\"key\": [1, \"a\"], \"value\": {\"x\": [1, 2.5e0, -3, 1.0], \"b\": {\"$bytes\": "
               "\"AP8=\"}, \"s\": \"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\\b\\f\\r\\t\"}}\n"
               "\n"
               "  {\"value\" : [true, false, null, {}, []] , \"key\" : \"k\", \"size\": 3}  \r\n"
               "{\"key\": {\"$bytes\": \"\"}, \"value\": {\"$bytes\": \"AAEC\", \"other\": 1}}\n"
               "{\"key\": 0, \"value\": 1, \"value_repr\": \"(1, b'\\\\x01')\"}\n"
               "{\"key\": 99, \"key_repr\": \"2\", \"value\": -0.0}\n");
    char *out;
    assert_int_equal(klepto(&out, "import %s %s", url, path), 0);
    free(out);
    assert_int_equal(count_of(url), 5);
    assert_stored(
        url, "(1, 'a')",
        "{'x': [1, 2.5, -3, 1.0], 'b': b'\\x00\\xff', 's': 'é😀\\n\"\\\\/\\x08\\x0c\\r\\t'}");
    assert_stored(url, "'k'", "[True, False, None, {}, []]");
    assert_stored(url, "b''", "{'$bytes': 'AAEC', 'other': 1}");
    assert_stored(url, "0", "(1, b'\\x01')"); /* the literal wins over the JSON */
    assert_stored(url, "2", "-0.0");

    /* CSV with CRLF line ends, a quoted line break and a byte order mark
     * before the header (as spreadsheets write) */
    snprintf(path, sizeof path, "%s/bom.csv", dir);
    write_file(path, "\xef\xbb\xbfkey,value\r\n'bom',\"('a',\r\n 'b')\"\r\n");
    assert_int_equal(klepto(&out, "import %s %s", url, path), 0);
    free(out);
    assert_stored(url, "'bom'", "['a', 'b']");

    /* `ls --json` lines (no literals, extra members) import too; nothing
     * here is beyond what plain JSON can carry */
    char url2[256];
    snprintf(url2, sizeof url2, "file:%s/fromls.kl", dir);
    assert_int_equal(klepto(&out, "ls %s --json | %s import %s", url, kt_bin("klepto"), url2), 0);
    free(out);
    assert_same_entries(url, url2);
}

typedef struct bad_case {
    const char *name, *text, *where;
} bad_case;

static void bad_input_names_the_line_and_writes_nothing_of_the_batch(void **st)
{
    (void)st;
    static const bad_case cases[] = {
        {"syntax.json", "{\"key\": 1, \"value\": 2}\n\n{\"key\": 2, \"value\": [1,]}\n", ":3:"},
        {"surrogate.json", "{\"key\": 1, \"value\": \"\\ud83d\"}\n", ":1:"},
        {"trailing.json", "{\"key\": 1, \"value\": 2} x\n", ":1:"},
        {"novalue.json", "{\"key\": 1}\n", ":1:"},
        {"array.json", "[1, 2]\n", ":1:"},
        {"bigint.json", "{\"key\": 1, \"value\": 9223372036854775808}\n", ":1:"},
        {"dupkey.json", "{\"key\": 1, \"value\": {\"a\": 1, \"a\": 2}}\n", ":1:"},
        {"repr.json", "{\"key\": 1, \"value\": 2}\n{\"key_repr\": \"(1,\", \"value\": 2}\n", ":2:"},
        {"base64.json", "{\"key\": 1, \"value\": {\"$bytes\": \"A\"}}\n", ":1:"},
        {"control.json", "{\"key\": \"a\tb\", \"value\": 1}\n", ":1:"},
        {"noheader.csv", "1,2\n", ":1:"},
        {"empty.csv", "", ":1:"},
        {"quote.csv", "key,value\n1,2\n3,x\"y\n", ":3:"},
        {"fields.csv", "key,value\n1,2,3\n", ":2:"},
        {"open.csv", "key,value\n1,2\n\"(1,\n2\n", ":3:"},
        {"literal.csv", "key,value\n1,2\n\"(1, 2\",3\n", ":3:"},
        {"after.csv", "key,value\n\"1\"x,2\n", ":2:"},
    };
    char path[512], url[256];
    snprintf(url, sizeof url, "file:%s/bad.kl", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        write_file(path, cases[i].text);
        char *out;
        int rc = klepto(&out, "import %s %s 2>&1", url, path);
        if (rc != 2 || !strstr(out, cases[i].name) || !strstr(out, cases[i].where) ||
            strchr(out, '\n') != out + strlen(out) - 1)
            fail_msg("%s: exit %d, output: %s", cases[i].name, rc, out);
        free(out);
        assert_int_equal(count_of(url), 0);
        unlink(path);
    }
    /* a bad entry after a full batch: the batch before it stays, its own
     * batch is not written */
    snprintf(path, sizeof path, "%s/late.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1500; i++)
        fprintf(f, "{\"key\": %d, \"value\": %d}\n", i, i);
    fprintf(f, "{\"key\": \"oops\"}\n");
    assert_int_equal(fclose(f), 0);
    char *out;
    assert_int_equal(klepto(&out, "import %s %s 2>&1", url, path), 2);
    assert_non_null(strstr(out, "late.json:1501:"));
    assert_non_null(strstr(out, "1000 entries imported before it"));
    free(out);
    assert_int_equal(count_of(url), 1000);
}

static void put_sized(kl_archive *ar, int i, size_t vlen)
{
    char k[32];
    snprintf(k, sizeof k, "%d", i);
    kl_buf kb = KL_BUF_INIT, vb = KL_BUF_INIT;
    encode_literal(k, &kb);
    char *text = malloc(vlen + 1);
    memset(text, 'x', vlen);
    text[vlen] = 0;
    kl_value v = kl_value_cstr_ref(text);
    KT_OK(kl_encode(&vb, &v, 0));
    KT_OK(kl_archive_put(ar, kb.data, kb.len, vb.data, vb.len));
    free(text);
    kl_buf_free(&kb);
    kl_buf_free(&vb);
}

static bool has_key(const char *url, int i)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    char k[32];
    snprintf(k, sizeof k, "%d", i);
    kl_buf kb = KL_BUF_INIT;
    encode_literal(k, &kb);
    int r = kl_archive_contains(ar, kb.data, kb.len);
    kl_buf_free(&kb);
    KT_OK(kl_archive_close(ar));
    assert_true(r >= 0);
    return r == 1;
}

/* Entries n-1 down to 0 written in that order, a little apart so their
 * stored times differ: the oldest has the highest key, so an order by key
 * would pick the wrong ones. */
static void fill_in_order(const char *url, int n, size_t vlen)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_clear(ar));
    for (int i = n - 1; i >= 0; i--) {
        put_sized(ar, i, vlen);
        usleep(2000);
    }
    KT_OK(kl_archive_close(ar));
}

static void prune_by_count_and_bytes_removes_the_oldest(void **st)
{
    (void)st;
    const char *kinds[] = {"dir:%s/p", "file:%s/p.kl", "sqlite:%s/p.db?table=t"};
    for (size_t k = 0; k < 3; k++) {
        char url[256], want[512];
        snprintf(url, sizeof url, kinds[k], dir);
        fill_in_order(url, 6, 10);
        char *out;
        assert_int_equal(klepto(&out, "prune '%s' --max-entries 4", url), 0);
        snprintf(want, sizeof want, "pruned 2 entries from %s (4 left)\n", url);
        assert_string_equal(out, want);
        free(out);
        for (int i = 0; i < 6; i++)
            assert_int_equal(has_key(url, i), i < 4);
        assert_int_equal(klepto(&out, "prune '%s' --max-entries=4", url), 0);
        free(out);
        assert_int_equal(count_of(url), 4);

        /* 600-byte values: two do not fit in 1K, one does */
        fill_in_order(url, 3, 600);
        assert_int_equal(klepto(&out, "prune '%s' --max-bytes 1K", url), 0);
        snprintf(want, sizeof want, "pruned 2 entries from %s (1 left)\n", url);
        assert_string_equal(out, want);
        free(out);
        assert_true(has_key(url, 0));
        assert_int_equal(klepto(&out, "prune '%s' --max-bytes 1M --max-entries 0", url), 0);
        free(out);
        assert_int_equal(count_of(url), 0);
    }
}

static void prune_by_age(void **st)
{
    (void)st;
    char url[256], want[512];
    snprintf(url, sizeof url, "file:%s/age.kl", dir);
    fill_in_order(url, 3, 10);
    char *out;
    assert_int_equal(klepto(&out, "prune %s --older-than 1h", url), 0);
    snprintf(want, sizeof want, "pruned 0 entries from %s (3 left)\n", url);
    assert_string_equal(out, want);
    free(out);
    assert_int_equal(klepto(&out, "prune %s --older-than 99999999d", url), 0); /* before 1970 */
    assert_string_equal(out, want);
    free(out);
    usleep(1100000);
    assert_int_equal(klepto(&out, "prune %s --older-than 1s --max-entries 10", url), 0);
    snprintf(want, sizeof want, "pruned 3 entries from %s (0 left)\n", url);
    assert_string_equal(out, want);
    free(out);
    assert_int_equal(count_of(url), 0);
}

static void usage_errors_exit_2(void **st)
{
    (void)st;
    char url[256];
    snprintf(url, sizeof url, "file:%s/u.kl", dir);
    archive_of_one(url, "1", "2");
    const char *bad[] = {
        "prune %s",
        "prune %s --max-entries",
        "prune %s --max-entries abc",
        "prune %s --max-entries -1",
        "prune %s --max-entries 99999999999999999999999",
        "prune %s --max-bytes 1Q",
        "prune %s --max-bytes K",
        "prune %s --older-than 5y",
        "prune %s --older-than 1.5h",
        "prune %s --older-than 99999999999999999999s",
        "prune %s --older-than 999999999999999d",
        "prune %s --max-entries 1 --bogus",
        "prune %s extra --max-entries 1",
        "export %s --format xml",
        "export %s --format",
        "export %s --long",
        "import %s --format yaml",
        "import %s a.json b.json",
        "import %s /nonexistent/file.json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out;
        char fmt[256];
        snprintf(fmt, sizeof fmt, bad[i], url);
        int rc = klepto(&out, "%s 2>&1", fmt);
        if (rc != 2 || !strstr(out, "klepto: "))
            fail_msg("'%s': exit %d, output: %s", fmt, rc, out);
        free(out);
    }
    assert_int_equal(count_of(url), 1);
    char *out;
    assert_int_equal(klepto(&out, "export file:%s/none.kl 2>&1", dir), 1); /* no such archive */
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(export_import_round_trip_json_and_csv_across_kinds),
        cmocka_unit_test(export_lines_carry_json_and_literals),
        cmocka_unit_test(export_flags_entries_text_cannot_reproduce),
        cmocka_unit_test(import_hand_written_json),
        cmocka_unit_test(bad_input_names_the_line_and_writes_nothing_of_the_batch),
        cmocka_unit_test(prune_by_count_and_bytes_removes_the_oldest),
        cmocka_unit_test(prune_by_age),
        cmocka_unit_test(usage_errors_exit_2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
