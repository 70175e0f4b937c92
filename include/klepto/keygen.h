/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Signatures, argument normalisation, ignore masks and
 * float rounding: everything between "a call as made" and a keymap.
 *
 * Steps (SPEC §1): bind positional arguments to parameter names, fill in
 * defaults, keep extra positional (varargs) and extra named (varkwds)
 * arguments apart; replace ignored arguments by the KL_IGNORED marker (or
 * drop them, for "*" and "**"); round floats to `tol` decimal places
 * (simple: top-level floats passed by the caller; shallow: also floats one
 * level inside arrays; deep: at any depth, inside arrays and map values).
 * Rounding matches Python's round(x, tol) exactly.  Defaults filled in from
 * the signature are not rounded (as in klepto).
 *
 * Details (as Python klepto, unless said otherwise):
 *  - an ignored index is a position in the call as made: below the number
 *    of positional parameters it masks that parameter (also when it was
 *    passed by name or defaulted); past them it masks that vararg.  A name
 *    masks a parameter or an extra named argument.  Unknown names and
 *    indices are harmless.  Keyword-only parameters are masked by name;
 *  - shallow rounding also rounds the floats directly inside top-level
 *    arrays (not maps); deep rounds inside arrays and map values at any
 *    depth, never map keys; float nd-arrays are rounded element-wise by
 *    shallow and deep;
 *  - NaN and infinities are left as they are, as Python's round() leaves
 *    them; a finite value whose rounding overflows (negative tol) is
 *    KL_ERANGE (Python's OverflowError).  Ignored arguments are not
 *    rounded, so they never fail.
 *
 * Thread-safety: signatures and keygens are immutable after creation and
 * may be shared by any number of threads.
 */
#ifndef KLEPTO_KEYGEN_H
#define KLEPTO_KEYGEN_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "keymap.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A call as made: positional arguments, then named ones.  Borrowed. */
typedef struct kl_call {
    const kl_value *pos;      /**< the positional arguments */
    size_t npos;              /**< how many */
    const char *const *names; /**< NUL-terminated names of the named args */
    const kl_value *named;    /**< the named arguments' values, as names */
    size_t nnamed;            /**< how many */
} kl_call;

/** A parsed parameter list (opaque): kl_signature_parse() to
 * kl_signature_free(). */
typedef struct kl_signature kl_signature;

/** Parse a parameter list in Python syntax: "x, y=2.5, *args, **kw"
 * (defaults are literals, codec.h's kl_parse); parameters after "*" or
 * "*args" are keyword-only.  KL_EINVAL with the position for a syntax
 * error, a duplicate name, a non-default after a default, annotations or
 * the "/" marker (not supported).  Freed with kl_signature_free. */
KL_API int kl_signature_parse(kl_signature **out, const char *spec);
/** Release a signature (safe on NULL). */
KL_API void kl_signature_free(kl_signature *sig);
/** Number of named parameters (not counting *args / **kw). */
KL_API size_t kl_signature_nparams(const kl_signature *sig);
/** Parameter name i (borrowed, lives as long as sig). */
KL_API const char *kl_signature_param(const kl_signature *sig, size_t i);
/** Number of parameters that can be passed by position (the first ones;
 * the rest, declared after "*" or "*args", are keyword-only). */
KL_API size_t kl_signature_npositional(const kl_signature *sig);
/** Default value of parameter i (borrowed), or NULL when it has none. */
KL_API const kl_value *kl_signature_default(const kl_signature *sig, size_t i);
/** True when the signature has *args. */
KL_API bool kl_signature_has_varargs(const kl_signature *sig);
/** True when the signature has **kw. */
KL_API bool kl_signature_has_varkw(const kl_signature *sig);

/** Which floats `tol` rounds (see above). */
typedef enum kl_rounding {
    KL_ROUND_SIMPLE = 0, /**< top-level float arguments */
    KL_ROUND_SHALLOW,    /**< also the floats directly inside top-level arrays */
    KL_ROUND_DEEP        /**< at any depth, inside arrays and map values */
} kl_rounding;

/** Options of kl_keygen_new(): start from KL_KEYGEN_OPTS_INIT. */
typedef struct kl_keygen_opts {
    unsigned version;     /**< KL_KEYGEN_OPTS_VERSION */
    const char *ignore;   /**< comma-separated names, indices, "*", "**"; or NULL */
    int tol;              /**< decimal places; KL_TOL_NONE for no rounding */
    kl_rounding rounding; /**< which floats tol rounds */
} kl_keygen_opts;
/** `tol` value meaning "no rounding". */
#define KL_TOL_NONE (-1000)
/** The version of kl_keygen_opts this header declares. */
#define KL_KEYGEN_OPTS_VERSION 1
/** The default options: nothing ignored, no rounding. */
#define KL_KEYGEN_OPTS_INIT {KL_KEYGEN_OPTS_VERSION, NULL, KL_TOL_NONE, KL_ROUND_SIMPLE}

/** A key generator (opaque): kl_keygen_new() to kl_keygen_free(). */
typedef struct kl_keygen kl_keygen;

/** Create a key generator.  `sig` may be NULL: every positional argument is
 * then a vararg and every named one a varkw.  The keygen keeps its own copy
 * of sig and km's options (the caller keeps ownership of both; km must
 * outlive the keygen).  KL_EINVAL for a bad ignore list (naming the item),
 * KL_ENOMEM. */
KL_API int kl_keygen_new(kl_keygen **out, const kl_signature *sig, const kl_keymap *km,
                  const kl_keygen_opts *opts);
/** Release a key generator (safe on NULL). */
KL_API void kl_keygen_free(kl_keygen *kg);

/** Check a call against the signature without building a key: too many or
 * too few positional arguments, an unknown or repeated name.  Returns 0 or
 * KL_EINVAL with a message naming the argument. */
KL_API int kl_keygen_validate(const kl_keygen *kg, const kl_call *call);

/** Build the key of a call into a caller's buffer; no allocation for calls
 * of scalar arguments when cap suffices (the hot path).  *len as in
 * kl_keymap_key_into.  Returns 0, KL_EINVAL (call does not fit the
 * signature), KL_ETYPE (unencodable argument), KL_ERANGE (NaN/inf under
 * rounding), KL_ETOOBIG. */
KL_API int kl_keygen_key_into(const kl_keygen *kg, const kl_call *call, void *buf, size_t cap,
                       size_t *len);
/** The same, appended to a heap buffer. */
KL_API int kl_keygen_key(const kl_keygen *kg, const kl_call *call, kl_buf *out);

/** Python's round(x, ndigits): correctly rounded, ties to even on the exact
 * binary value.  Non-finite x is returned unchanged. */
KL_API double kl_round(double x, int ndigits);

#ifdef __cplusplus
}
#endif
#endif
