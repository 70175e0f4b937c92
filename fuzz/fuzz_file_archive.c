/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: a file: archive (header and records, docs/formats.md)
 * made of arbitrary bytes, opened read-only and walked. */
#include "fuzz_archive_common.h"

static int fuzz_file_archive_one(const uint8_t *data, size_t size)
{
    char path[400], url[420];
    snprintf(path, sizeof path, "%s/f.kle", fuzz_folder());
    snprintf(url, sizeof url, "file:%s", path);
    fuzz_write(path, data, size);
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
