/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the validating decoder on arbitrary bytes. */
#include "fuzz_common.h"

static int fuzz_decode_one(const uint8_t *data, size_t size)
{
    kl_value v;
    int rc = kl_decode(data, size, &v);
    FUZZ_CHECK(rc == 0 || rc == KL_ECORRUPT || rc == KL_ETOOBIG);
    if (rc == 0) {
        fuzz_check_value(&v);
        kl_value_free(&v);
    }
    double f;
    int64_t i;
    rc = kl_decode_double(data, size, &f);
    FUZZ_CHECK(rc == 0 || rc == KL_ECORRUPT || rc == KL_ETOOBIG || rc == KL_ETYPE);
    rc = kl_decode_int64(data, size, &i);
    FUZZ_CHECK(rc == 0 || rc == KL_ECORRUPT || rc == KL_ETOOBIG || rc == KL_ETYPE);
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_decode_one(data, size);
}
#endif
