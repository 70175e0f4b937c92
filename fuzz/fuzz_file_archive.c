/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: a file: archive (header and records, docs/formats.md)
 * made of arbitrary bytes, opened read-only and walked.  When the input's
 * last byte is odd, the file header and the first record header get the
 * right magic numbers and checksums first, so that mutations reach the
 * lengths and bodies behind them. */
#include "fuzz_archive_common.h"

#include <xxhash.h>

static void fix_header(uint8_t *h, const char *magic, size_t mlen)
{
    memcpy(h, magic, mlen);
    uint64_t x = XXH3_64bits(h, 56);
    for (int i = 0; i < 8; i++)
        h[56 + i] = (uint8_t)(x >> (8 * i));
}

static int fuzz_file_archive_one(const uint8_t *data, size_t size)
{
    char path[400], url[420];
    snprintf(path, sizeof path, "%s/f.kle", fuzz_folder());
    snprintf(url, sizeof url, "file:%s", path);
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    if (size >= 64 && (data[size - 1] & 1)) {
        fix_header(copy, "KLEPTOFL", 8);
        if (size >= 128)
            fix_header(copy + 64, "KLRC", 4);
    }
    fuzz_write(path, copy, size);
    free(copy);
    fuzz_walk(url);
    unlink(path);
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_file_archive_one(data, size);
}
#endif
