/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the readers of `klepto import` (tools/cli/
 * cmd_transfer.c), CSV when the first byte is odd, JSON lines otherwise,
 * on arbitrary bytes, into a null: archive: an exit status of the CLI
 * contract (0 ok, 2 bad input, 3 I/O), never a crash. */
#include "fuzz_archive_common.h"

#include "cli.h"

static int fuzz_cli_import_one(const uint8_t *data, size_t size)
{
    char path[400];
    bool csv = size && (data[0] & 1);
    snprintf(path, sizeof path, "%s/in.%s", fuzz_folder(), csv ? "csv" : "json");
    fuzz_write(path, size ? data + 1 : data, size ? size - 1 : 0);
    char *argv[] = {"null:", path, NULL}; /* what follows "klepto import" */
    fflush(stdout);
    int rc = cli_cmd_import(2, argv);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == 2 || rc == 3);
    unlink(path);
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_cli_import_one(data, size);
}
#endif
