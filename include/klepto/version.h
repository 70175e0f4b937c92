/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The version of the klepto headers, and of the library a program runs
 * with.
 *
 * KL_VERSION_MAJOR/MINOR/PATCH and KL_VERSION_STRING are the version of the
 * headers a program was compiled with; kl_version() is the version of the
 * library it actually loaded (a shared library may be newer).  A program
 * may compare the two at start-up: libraries with the same major version
 * are compatible (the SONAME is libklepto.so.MAJOR).
 *
 * The build checks that these numbers are the version project() declares
 * in CMakeLists.txt: change both together.
 */
#ifndef KLEPTO_VERSION_H
#define KLEPTO_VERSION_H

#include "klepto/export.h"

/** @{ */
/** The version of these headers: major, minor, patch, and as text (the
 * build and tests/install read these lines: keep their form). */
#define KL_VERSION_MAJOR 0
#define KL_VERSION_MINOR 1
#define KL_VERSION_PATCH 0
#define KL_VERSION_STRING "0.1.0"
/** @} */

/** One number for `#if` tests: e.g. KL_VERSION_NUMBER >= KL_VERSION_AT(0, 2, 0). */
#define KL_VERSION_AT(major, minor, patch) ((major) * 10000L + (minor) * 100L + (patch))
/** The headers' version as one number (KL_VERSION_AT). */
#define KL_VERSION_NUMBER KL_VERSION_AT(KL_VERSION_MAJOR, KL_VERSION_MINOR, KL_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/** The version of the library loaded, as "MAJOR.MINOR.PATCH" (static
 * storage, never NULL): KL_VERSION_STRING of the headers it was built with. */
KL_API const char *kl_version(void);

#ifdef __cplusplus
}
#endif

#endif
