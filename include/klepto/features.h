/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What this build of the library can do.
 *
 * kl_features() returns a constant string: the names of the compiled-in
 * archive kinds, then of the digests, separated by single spaces, lower
 * case, with no leading or trailing space.  In order:
 *
 *   archive URL schemes   mem null dir file sqlite, then those of
 *                         the optional backends that were built:
 *                         postgresql postgres (PostgreSQL), redis (Redis),
 *                         hdf5 hdf5dir (HDF5)
 *   key digests           xxh3-128 xxh3-64 (keymap hashes), then the named
 *                         digests of digest.h: md5 sha1 sha224 sha256
 *                         sha384 sha512 sha3-256 sha3-512 blake2b512
 *                         blake2s256
 *
 * e.g. "mem null dir file sqlite postgresql postgres redis hdf5
 * hdf5dir xxh3-128 xxh3-64 md5 ..." when every backend was built, and
 * "mem null dir file sqlite xxh3-128 ..." when none of the optional
 * ones was.  A name is never a prefix-match: kl_feature() compares whole
 * words.  New names may be added in later versions; none is removed.
 */
#ifndef KLEPTO_FEATURES_H
#define KLEPTO_FEATURES_H

#include <stdbool.h>

#include "klepto/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The space-separated feature names above (static storage, never NULL). */
KL_API const char *kl_features(void);

/** true when `name` is one of the words of kl_features() (NULL, "" and
 * partial words are false). */
KL_API bool kl_feature(const char *name);

#ifdef __cplusplus
}
#endif

#endif
