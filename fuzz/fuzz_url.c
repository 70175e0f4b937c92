/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: archive URLs (src/archive/url.c) on arbitrary text:
 * parsing, the option readers, masking the password. */
#include "fuzz_common.h"

#include "archive/url.h"
#include "klepto/archive.h"

static int fuzz_url_one(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char *masked = kl_archive_redact_url(text);
    FUZZ_CHECK(masked != NULL);
    free(masked);
    kl_url *u = NULL;
    int rc = kl__url_parse(text, &u);
    FUZZ_CHECK(rc == 0 || rc == KL_EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(kl_url_shown(u) != NULL);
        uint64_t x = 0;
        double d = 0;
        bool b = false;
        int mode = 0;
        unsigned fm = 0;
        FUZZ_CHECK(kl_url_uint(u, "timeout", 0, 1000, &x) <= 0);
        FUZZ_CHECK(kl_url_double(u, "autocompact", 0, 1, &d) <= 0);
        FUZZ_CHECK(kl_url_bool(u, "cached", &b) <= 0);
        FUZZ_CHECK(kl_url_sync_mode(u, &mode) <= 0);
        FUZZ_CHECK(kl_url_file_mode(u, &fm) <= 0 && fm <= 0777);
        (void)kl__url_check_used(u);
        kl__url_free(u);
    }
    free(text);
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_url_one(data, size);
}
#endif
