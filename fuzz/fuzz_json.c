/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the JSON reader (kl_json_parse, what `klepto import`
 * reads) on arbitrary text. */
#include "fuzz_common.h"

static int fuzz_json_one(const uint8_t *data, size_t size)
{
    kl_value v;
    int rc = kl_json_parse((const char *)data, size, &v);
    FUZZ_CHECK(rc == 0 || rc == KL_EINVAL || rc == KL_ETOOBIG);
    if (rc == 0) {
        fuzz_check_value(&v);
        kl_value_free(&v);
    }
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_json_one(data, size);
}
#endif
