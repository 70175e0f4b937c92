/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the signature parser (kl_signature_parse, "x, y=1,
 * *args, **kw") on arbitrary text; what it accepts it can describe. */
#include "fuzz_common.h"

#include "klepto/keygen.h"

static int fuzz_signature_one(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    FUZZ_CHECK(spec != NULL);
    memcpy(spec, data, size);
    spec[size] = '\0';
    kl_signature *sig = NULL;
    int rc = kl_signature_parse(&sig, spec);
    FUZZ_CHECK(rc == 0 || rc == KL_EINVAL || rc == KL_ETOOBIG);
    if (rc == 0) {
        size_t n = kl_signature_nparams(sig);
        FUZZ_CHECK(kl_signature_npositional(sig) <= n);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(kl_signature_param(sig, i) != NULL);
            const kl_value *d = kl_signature_default(sig, i);
            if (d)
                fuzz_check_value(d);
        }
        kl_signature_free(sig);
    } else {
        FUZZ_CHECK(sig == NULL);
    }
    free(spec);
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_signature_one(data, size);
}
#endif
