/* SPDX-License-Identifier: BSD-3-Clause */
/* The library's version (include/klepto/version.h). */
#include "klepto/version.h"

#include <assert.h>

static_assert(KL_VERSION_MINOR < 100 && KL_VERSION_PATCH < 100,
              "KL_VERSION_NUMBER gives minor and patch two digits each");

const char *kl_version(void)
{
    return KL_VERSION_STRING;
}
