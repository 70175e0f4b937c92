/* SPDX-License-Identifier: BSD-3-Clause */
/* Replays the saved fuzz corpus through the fuzz targets' own code, then
 * mutates every corpus input at random (fixed seed) for more rounds: none
 * may crash, leak or break a round trip (the targets abort if one does).
 * Targets: the CBOR decoder, the literal parser, the JSON reader, the
 * signature parser, archive URLs, file: archives, dir: entry files, the
 * CSV and JSON readers of `klepto import`, HDF5 entries (with HDF5). */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KL_FUZZ_NO_ENTRY
#include "../../fuzz/fuzz_decode.c"
#include "../../fuzz/fuzz_parse.c"
#include "../../fuzz/fuzz_json.c"
#include "../../fuzz/fuzz_signature.c"
#include "../../fuzz/fuzz_url.c"
#include "../../fuzz/fuzz_file_archive.c"
#include "../../fuzz/fuzz_dir_entry.c"
#include "../../fuzz/fuzz_cli_import.c"
#ifdef KLEPTO_HAVE_HDF5
#include "../../fuzz/fuzz_hdf5_entry.c"
#endif

#include <fcntl.h>

typedef int (*fuzz_fn)(const uint8_t *, size_t);

typedef struct corpus {
    uint8_t **data;
    size_t *len;
    size_t n;
} corpus;

static void corpus_load(corpus *c, const char *target)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", kt_data("../../fuzz/corpus/"));
    strncat(dir, target, sizeof dir - strlen(dir) - 1);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open the corpus folder %s", dir);
    memset(c, 0, sizeof *c);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *buf = kt_slurp(path, &len);
        assert_non_null(buf);
        c->data = realloc(c->data, (c->n + 1) * sizeof *c->data);
        c->len = realloc(c->len, (c->n + 1) * sizeof *c->len);
        c->data[c->n] = (uint8_t *)buf;
        c->len[c->n] = len;
        c->n++;
    }
    closedir(d);
}

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->data[i]);
    free(c->data);
    free(c->len);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* One random edit: flip a bit, set a byte to an interesting value, insert,
 * delete, truncate, or splice in bytes from elsewhere in the input. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    static const uint8_t interesting[] = {0x00, 0x17, 0x18, 0x1b, 0x1f, 0x7f, 0x80, 0x9f,
                                          0xbf, 0xd8, 0xf7, 0xf9, 0xfb, 0xff, '\'', '"',
                                          '\\', '(',  '[',  ',',  'e',  '-'};
    size_t pos = len ? rng() % len : 0;
    switch (rng() % 6) {
    case 0:
        if (len)
            buf[pos] ^= (uint8_t)(1u << (rng() % 8));
        break;
    case 1:
        if (len)
            buf[pos] = interesting[rng() % sizeof interesting];
        break;
    case 2:
        if (len < cap) {
            memmove(buf + pos + 1, buf + pos, len - pos);
            buf[pos] = (uint8_t)rng();
            len++;
        }
        break;
    case 3:
        if (len) {
            memmove(buf + pos, buf + pos + 1, len - pos - 1);
            len--;
        }
        break;
    case 4:
        len = pos;
        break;
    default:
        if (len > 1) {
            size_t from = rng() % len, n = 1 + rng() % 8;
            if (from + n > len)
                n = len - from;
            if (pos + n > len)
                n = len - pos;
            memmove(buf + pos, buf + from, n);
        }
    }
    return len;
}

static void replay(const char *target, fuzz_fn fn, int rounds)
{
    corpus c;
    corpus_load(&c, target);
    assert_true(c.n >= 10); /* the corpus is really there */
    for (size_t i = 0; i < c.n; i++)
        fn(c.data[i], c.len[i]);
    size_t cap = 8192;
    uint8_t *buf = malloc(cap);
    for (int r = 0; r < rounds; r++) {
        size_t k = rng() % c.n, len = c.len[k] < cap ? c.len[k] : cap;
        memcpy(buf, c.data[k], len);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++)
            len = mutate(buf, len, cap);
        /* an exact-size heap copy, so ASan sees any read past the end */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        fn(exact, len);
        free(exact);
    }
    free(buf);
    corpus_free(&c);
}

static void test_decode_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_decode", fuzz_decode_one, 20000);
}

static void test_parse_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_parse", fuzz_parse_one, 20000);
}

static void test_json_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_json", fuzz_json_one, 20000);
}

static void test_signature_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_signature", fuzz_signature_one, 20000);
}

static void test_url_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_url", fuzz_url_one, 20000);
}

static void test_file_archive_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_file_archive", fuzz_file_archive_one, 3000);
}

static void test_dir_entry_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_dir_entry", fuzz_dir_entry_one, 3000);
}

/* (the import's summary lines and messages go to /dev/null) */
static void test_cli_import_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
    assert_true(out >= 0 && err >= 0 && null >= 0);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
    replay("fuzz_cli_import", fuzz_cli_import_one, 2000);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
}

#ifdef KLEPTO_HAVE_HDF5
static void test_hdf5_entry_corpus_and_mutations_never_crash(void **state)
{
    (void)state;
    replay("fuzz_hdf5_entry", fuzz_hdf5_entry_one, 3000);
}
#endif

int main(void)
{
    kt_tempdir_prefer_memory();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_corpus_and_mutations_never_crash),
        cmocka_unit_test(test_parse_corpus_and_mutations_never_crash),
        cmocka_unit_test(test_json_corpus_and_mutations_never_crash),
        cmocka_unit_test(test_signature_corpus_and_mutations_never_crash),
        cmocka_unit_test(test_url_corpus_and_mutations_never_crash),
        cmocka_unit_test(test_file_archive_corpus_and_mutations_never_crash),
        cmocka_unit_test(test_dir_entry_corpus_and_mutations_never_crash),
        cmocka_unit_test(test_cli_import_corpus_and_mutations_never_crash),
#ifdef KLEPTO_HAVE_HDF5
        cmocka_unit_test(test_hdf5_entry_corpus_and_mutations_never_crash),
#endif
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(fuzz_folder()); /* the targets' files */
    return rc;
}
