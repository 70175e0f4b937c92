/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * klepto.h — persistent memoization for C.  Includes every public header:
 *   value.h    the dynamic value type
 *   codec.h    canonical CBOR encoding, Python-literal text, JSON
 *   digest.h   XXH3 and named cryptographic digests
 *   keymap.h   call → key bytes (raw, hash, string, pickle)
 *   keygen.h   signatures, normalisation, ignore masks, rounding
 *   cache.h    the concurrent in-memory cache with eviction policies
 *   archive.h  persistent stores opened by URL
 *   cached.h   an in-memory dictionary in front of an archive
 *   memo.h     memoized functions, generic and typed (KL_MEMOIZE)
 *   error.h    error codes and messages
 *   features.h the archive kinds and digests this build holds
 *   version.h  the version of the headers and of the library loaded
 */
#ifndef KLEPTO_H
#define KLEPTO_H

#include "klepto/archive.h"
#include "klepto/cache.h"
#include "klepto/cached.h"
#include "klepto/codec.h"
#include "klepto/digest.h"
#include "klepto/error.h"
#include "klepto/features.h"
#include "klepto/keygen.h"
#include "klepto/keymap.h"
#include "klepto/log.h"
#include "klepto/memo.h"
#include "klepto/usertype.h"
#include "klepto/value.h"
#include "klepto/version.h"

#endif
