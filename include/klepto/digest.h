/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Hashing: xxHash's XXH3 (fast, non-cryptographic) and
 * named cryptographic digests through OpenSSL's EVP interface.
 *
 * Named digests: "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
 * "sha3-256", "sha3-512", "blake2b512", "blake2s256" (Python hashlib's
 * spellings "sha3_256", "sha3_512", "blake2b", "blake2s" are accepted as
 * aliases).  Their output is lowercase hex, as Python's hexdigest().
 *
 * Thread-safety: every function is reentrant; a kl_digest is immutable
 * after kl_digest_open and may be used by any number of threads at once.
 */
#ifndef KLEPTO_DIGEST_H
#define KLEPTO_DIGEST_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- XXH3 ---------------------------------------------------------------- */

/** A 128-bit hash: the high and low 64 bits. */
typedef struct kl_hash128 {
    uint64_t hi; /**< high 64 bits */
    uint64_t lo; /**< low 64 bits */
} kl_hash128;

/** @{ */
/** XXH3-64 / XXH3-128 (seed 0) of n bytes.  Pure functions. */
KL_API uint64_t kl_xxh3_64(const void *p, size_t n);
KL_API kl_hash128 kl_xxh3_128(const void *p, size_t n);
/** @} */
/** @{ */
/** Lowercase hex of the canonical (big-endian) form, NUL-terminated:
 * 16 digits for 64 bits, 32 for 128 bits.  Matches xxhsum's output. */
KL_API void kl_xxh3_64_hex(uint64_t h, char out[17]);
KL_API void kl_xxh3_128_hex(kl_hash128 h, char out[33]);
/** @} */

/* ---- named digests (OpenSSL EVP) ----------------------------------------- */

/** @{ */
/** Longest digest this module produces, in bytes and in hex digits + NUL. */
#define KL_DIGEST_MAX 64
#define KL_DIGEST_HEX_MAX (2 * KL_DIGEST_MAX + 1)
/** @} */

/** A resolved named digest (opaque): kl_digest_open() to kl_digest_free(). */
typedef struct kl_digest kl_digest;

/** True when `name` is one of the named digests above (or an alias). */
KL_API bool kl_digest_known(const char *name);
/** Resolve a named digest once (the OpenSSL algorithm is fetched here, not
 * per call).  KL_EINVAL for an unknown name (message names it and lists
 * the known ones), KL_EUNSUPPORTED if this OpenSSL lacks it, KL_ENOMEM.
 * Freed with kl_digest_free. */
KL_API int kl_digest_open(kl_digest **out, const char *name);
/** Release a digest (safe on NULL). */
KL_API void kl_digest_free(kl_digest *d);
/** @{ */
/** The canonical name ("sha3-256" for "sha3_256") and digest size in bytes. */
KL_API const char *kl_digest_name(const kl_digest *d);
KL_API size_t kl_digest_size(const kl_digest *d);
/** @} */
/** Digest of n bytes into out (cap >= kl_digest_size).  KL_EINVAL for a
 * small cap, KL_ENOMEM / KL_EBACKEND when OpenSSL fails. */
KL_API int kl_digest_bytes(const kl_digest *d, const void *p, size_t n, uint8_t *out, size_t cap);
/** Lowercase hex digest, NUL-terminated, into hex (cap >= 2*size+1). */
KL_API int kl_digest_hex(const kl_digest *d, const void *p, size_t n, char *hex, size_t cap);
/** One-shot by name (resolves the algorithm on every call: prefer
 * kl_digest_open for repeated use).  Errors as above. */
KL_API int kl_digest_hex_named(const char *name, const void *p, size_t n, char *hex, size_t cap);

/** Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
KL_API void kl_hex(const void *p, size_t n, char *out);

#ifdef __cplusplus
}
#endif
#endif
