/* SPDX-License-Identifier: BSD-3-Clause */
/* What this build of the library is: its version (include/klepto/version.h)
 * and the archive kinds and digests it holds, kl_features() and
 * kl_feature() (the optional backends by their KLEPTO_HAVE_* defines, set
 * by cmake/OptionalBackends.cmake; the format is in klepto/features.h). */
#include "klepto/features.h"
#include "klepto/version.h"

#include <assert.h>
#include <string.h>

static_assert(KL_VERSION_MINOR < 100 && KL_VERSION_PATCH < 100,
              "KL_VERSION_NUMBER gives minor and patch two digits each");

const char *kl_version(void)
{
    return KL_VERSION_STRING;
}

#ifdef KLEPTO_HAVE_POSTGRES
#define KL_FEATURES_POSTGRES " postgresql postgres"
#else
#define KL_FEATURES_POSTGRES ""
#endif
#ifdef KLEPTO_HAVE_MYSQL
#define KL_FEATURES_MYSQL " mysql mariadb"
#else
#define KL_FEATURES_MYSQL ""
#endif
#ifdef KLEPTO_HAVE_REDIS
#define KL_FEATURES_REDIS " redis"
#else
#define KL_FEATURES_REDIS ""
#endif
#ifdef KLEPTO_HAVE_HDF5
#define KL_FEATURES_HDF5 " hdf5 hdf5dir"
#else
#define KL_FEATURES_HDF5 ""
#endif

/* Keep in step with builtin.c (schemes) and keys/digest.c (digests). */
static const char features[] =
    "mem null dir file sqlite" KL_FEATURES_POSTGRES KL_FEATURES_MYSQL KL_FEATURES_REDIS KL_FEATURES_HDF5
    " xxh3-128 xxh3-64 md5 sha1 sha224 sha256 sha384 sha512 sha3-256 sha3-512"
    " blake2b512 blake2s256";

const char *kl_features(void)
{
    return features;
}

bool kl_feature(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || strchr(name, ' '))
        return false; /* one whole word or nothing */
    for (const char *p = features; (p = strstr(p, name)) != NULL; p += n) {
        bool starts = p == features || p[-1] == ' ';
        bool ends = p[n] == '\0' || p[n] == ' ';
        if (starts && ends)
            return true;
    }
    return false;
}
