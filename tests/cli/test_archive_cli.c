/* SPDX-License-Identifier: BSD-3-Clause */
/* The archive-managing commands of the klepto tool (CLI.md): put, rm,
 * stats, verify [--repair], clear, copy between kinds, compact; their
 * output and exit statuses. */
#define _GNU_SOURCE
#include "testutil.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klepto.h"

static char *dir;

/* The tool, with stderr merged into the output */
#define klepto(out, ...) kt_klepto(out, true, __VA_ARGS__)

static int setup(void **st)
{
    (void)st;
    return kt_tempdir_make(&dir, "clia");
}
static int teardown(void **st)
{
    (void)st;
    kt_tempdir_remove(&dir);
    return 0;
}

static void put_get_rm_round_trip(void **st)
{
    (void)st;
    char *out;
    assert_int_equal(klepto(NULL, "put dir:%s/a \"(1, 'a')\" \"{'k': [1.5, None]}\"", dir), 0);
    assert_int_equal(klepto(NULL, "put dir:%s/a 7 \"b'\\\\x00'\"", dir), 0);
    assert_int_equal(klepto(&out, "get dir:%s/a \"(1, 'a')\"", dir), 0);
    assert_string_equal(out, "{'k': [1.5, None]}\n");
    free(out);
    /* replacing keeps one entry */
    assert_int_equal(klepto(NULL, "put dir:%s/a 7 8", dir), 0);
    assert_int_equal(klepto(&out, "count dir:%s/a", dir), 0);
    assert_string_equal(out, "2\n");
    free(out);
    assert_int_equal(klepto(NULL, "rm dir:%s/a 7", dir), 0);
    assert_int_equal(klepto(&out, "rm dir:%s/a 7", dir), 1);
    assert_non_null(strstr(out, "not found"));
    free(out);
    assert_int_equal(klepto(&out, "put dir:%s/a \"(1,\" 2", dir), 2); /* bad literal */
    free(out);
    assert_int_equal(klepto(&out, "put dir:%s/a 1", dir), 2); /* usage */
    free(out);
    assert_int_equal(klepto(&out, "rm dir:%s/none 1", dir), 1); /* no such archive */
    free(out);
}

static void stats_copy_compact_clear(void **st)
{
    (void)st;
    char *out;
    for (int i = 0; i < 20; i++)
        assert_int_equal(klepto(NULL, "put file:%s/f.kle %d \"'value %d'\"", dir, i, i), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(klepto(NULL, "put file:%s/f.kle %d %d", dir, i, i), 0);
    assert_int_equal(klepto(&out, "stats file:%s/f.kle", dir), 0);
    assert_non_null(strstr(out, "entries=20\n"));
    assert_non_null(strstr(out, "format=file\n"));
    assert_non_null(strstr(out, "garbage_bytes="));
    assert_null(strstr(out, "garbage_bytes=0\n"));
    free(out);
    assert_int_equal(klepto(NULL, "compact file:%s/f.kle", dir), 0);
    assert_int_equal(klepto(&out, "stats file:%s/f.kle", dir), 0);
    assert_non_null(strstr(out, "garbage_bytes=0\n"));
    free(out);
    /* copy file: -> dir: -> mem: (any two kinds) */
    assert_int_equal(klepto(&out, "copy file:%s/f.kle dir:%s/copy?compression=zstd", dir, dir), 0);
    assert_non_null(strstr(out, "copied 20 entries"));
    free(out);
    assert_int_equal(klepto(&out, "get dir:%s/copy 15", dir), 0);
    assert_string_equal(out, "'value 15'\n");
    free(out);
    assert_int_equal(klepto(&out, "get dir:%s/copy 3", dir), 0);
    assert_string_equal(out, "3\n");
    free(out);
    assert_int_equal(klepto(NULL, "clear dir:%s/copy", dir), 0);
    assert_int_equal(klepto(&out, "count dir:%s/copy", dir), 0);
    assert_string_equal(out, "0\n");
    free(out);
    assert_int_equal(klepto(&out, "copy nosuch:x dir:%s/copy", dir), 2);
    free(out);
}

static void verify_finds_and_repairs_damage(void **st)
{
    (void)st;
    char *out;
    for (int i = 0; i < 10; i++)
        assert_int_equal(klepto(NULL, "put file:%s/v.kle %d \"'some text %d'\"", dir, i, i), 0);
    assert_int_equal(klepto(&out, "verify file:%s/v.kle", dir), 0);
    assert_string_equal(out, "");
    free(out);
    /* damage the value of the 4th record: header 64 + 3 records before */
    char path[4200];
    snprintf(path, sizeof path, "%s/v.kle", dir);
    size_t len = 0;
    char *d = kt_slurp(path, &len);
    assert_non_null(d);
    size_t off = 64;
    for (int r = 0; r < 3; r++) {
        uint32_t kl;
        uint64_t vl;
        memcpy(&kl, d + off + 8, 4);
        memcpy(&vl, d + off + 16, 8);
        off += 64 + kl + vl;
    }
    free(d);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "Z", 1, (off_t)(off + 64 + 1 + 3)), 1);
    close(fd);
    assert_int_equal(klepto(&out, "get file:%s/v.kle 3", dir), 2);
    assert_non_null(strstr(out, "checksum"));
    free(out);
    assert_int_equal(klepto(&out, "verify file:%s/v.kle", dir), 1);
    assert_non_null(strstr(out, "checksum mismatch"));
    assert_null(strstr(out, "dropped"));
    free(out);
    assert_int_equal(klepto(&out, "verify file:%s/v.kle --repair", dir), 1);
    assert_non_null(strstr(out, "dropped"));
    free(out);
    assert_int_equal(klepto(&out, "verify file:%s/v.kle", dir), 0);
    free(out);
    assert_int_equal(klepto(&out, "count file:%s/v.kle", dir), 0);
    assert_string_equal(out, "9\n");
    free(out);
    assert_int_equal(klepto(&out, "verify%s", ""), 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_rm_round_trip),
        cmocka_unit_test(stats_copy_compact_clear),
        cmocka_unit_test(verify_finds_and_repairs_damage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
