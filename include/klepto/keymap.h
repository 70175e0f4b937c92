/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Turning a normalised call into key bytes.
 *
 * A key is always stored as one canonical encoded value (codec.h), so any
 * key can be rendered back as a literal:
 *   raw     the flat call tuple itself (reversible)
 *   hash    the lowercase hex text of a digest: default "xxh3" (XXH3-128 of
 *           the canonical encoding); named digests ("md5", "sha1", "sha224",
 *           "sha256", "sha384", "sha512", "sha3-256", "sha3-512",
 *           "blake2b512", "blake2s256") hash the Python-literal text of the
 *           key, as Python klepto's hashmap does
 *   string  the Python-literal text of the key (stringmap); with a codec
 *           name, the bytes of that text in the codec
 *   pickle  the serialized key as bytes: "cbor" (default), "json", "repr";
 *           typed "json" is refused (klepto's json.dumps refuses types)
 *
 * Flat keys are (*varargs, name1, value1, name2, value2, …) with named
 * values sorted by name; a flat key of exactly one int/text/bytes/null item
 * is that item.  Non-flat keys are (varargs, {name: value}).  Typed keys
 * append the type of every vararg, then of every named value, in the same
 * order (rendered <class 'int'> in text keys).  Untyped raw and xxh3 keys
 * encode integral floats and bools as integers, so that keys Python finds
 * equal (True == 1 == 1.0) are one key: f(x=True), f(x=1) and f(x=1.0)
 * share a key, as in klepto.  Typed raw and xxh3 keys encode -0.0 as 0.0
 * (Python: -0.0 == 0.0).
 *
 * Details, as Python klepto does them unless said otherwise:
 *  - a sentinel goes before the named part (when there are named values)
 *    and, in typed keys, before the vararg types and before the named
 *    types (when there are named values);
 *  - the lone-item rule applies to untyped keys only, and to int, text,
 *    bytes and None only: a lone float or bool stays a 1-tuple, so with
 *    *args f(1) is the key 1 while f(1.0) and f(True) are the key (1,)
 *    (Python: 1 != (1.0,) but (1.0,) == (True,));
 *  - the ignored marker renders NULL; its type is klepto._inspect._Null;
 *  - in raw (and xxh3, pickle-cbor) keys the type markers are the text
 *    "<class 'int'>" and the ignored marker is CBOR undefined;
 *  - "string" encodings, as klepto's crypto.string(): NULL and "str"
 *    render str(key) (a lone text item is the bare text, as Python's
 *    str()); "repr" renders repr(key); "ascii" (exactly) is Python's
 *    ascii(key), text with non-ASCII characters escaped; any other name
 *    is a Python codec and the key is repr(key).encode(name) as bytes
 *    ("utf-8", "utf_8", "UTF8" give b"'abc'" for 'abc').  Codecs written:
 *    utf_8, utf_8_sig, utf_16, utf_16_le, utf_16_be, utf_32, utf_32_le,
 *    utf_32_be, latin_1, ascii, under Python's names and aliases (case
 *    and punctuation as Python's codec lookup ignores them).  Text a
 *    codec cannot encode is KL_ETYPE naming the character (Python's
 *    UnicodeEncodeError);
 *  - hash algorithms: "xxh3" (= "xxh3-128", "xxh128"), "xxh3-64", and the
 *    named digests (digest.h; hashlib's "sha3_256", "blake2b"… too);
 *  - non-flat keys list the named values in name order (Python klepto
 *    uses the order its dict happened to get).
 *
 * Thread-safety: a keymap is immutable after creation and may be shared by
 * any number of threads.
 */
#ifndef KLEPTO_KEYMAP_H
#define KLEPTO_KEYMAP_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Keys longer than this (encoded) are refused with KL_ETOOBIG. */
#define KL_KEY_MAX (1u << 20)

/** The kinds of keymap (see above). */
typedef enum kl_keymap_kind {
    KL_KEYMAP_RAW = 0, /**< the call tuple itself (klepto's keymap) */
    KL_KEYMAP_HASH,    /**< a digest's hex text (hashmap) */
    KL_KEYMAP_STRING,  /**< the literal text (stringmap) */
    KL_KEYMAP_PICKLE   /**< the serialized bytes (picklemap) */
} kl_keymap_kind;

/** Options of kl_keymap_new(): start from KL_KEYMAP_OPTS_INIT. */
typedef struct kl_keymap_opts {
    unsigned version;        /**< KL_KEYMAP_OPTS_VERSION */
    kl_keymap_kind kind;     /**< raw, hash, string or pickle */
    const char *algorithm;   /**< hash: digest name (NULL = "xxh3");
                                pickle: serializer (NULL = "cbor");
                                string: encoding (NULL = "str") */
    bool typed;              /**< record argument types */
    bool flat;               /**< (*args, k1, v1, …) rather than (args, kwds) */
    const kl_value *sentinel;/**< optional marker between parts of a flat key
                                (copied at creation) */
} kl_keymap_opts;
/** The version of kl_keymap_opts this header declares. */
#define KL_KEYMAP_OPTS_VERSION 1
/** The default options: raw, untyped, flat, no sentinel. */
#define KL_KEYMAP_OPTS_INIT {KL_KEYMAP_OPTS_VERSION, KL_KEYMAP_RAW, NULL, false, true, NULL}

/** A normalised call (see keygen.h): the extra positional arguments
 * (varargs) and the named values (bound parameters and extra named
 * arguments), sorted by name.  All memory is borrowed. */
typedef struct kl_ncall {
    const kl_value *varargs;  /**< the extra positional arguments */
    size_t nvarargs;          /**< how many */
    const char *const *names; /**< NUL-terminated, strictly ascending (strcmp) */
    const kl_value *values;   /**< the named values, as names */
    size_t nnamed;            /**< how many */
} kl_ncall;

/** A keymap (opaque): kl_keymap_new() to kl_keymap_free(). */
typedef struct kl_keymap kl_keymap;

/** Create a keymap.  KL_EINVAL for an unknown kind, digest, serializer or
 * encoding (message names it; Python codecs not written here are refused
 * by name), KL_ENOMEM.  *out is freed with kl_keymap_free. */
KL_API int kl_keymap_new(kl_keymap **out, const kl_keymap_opts *opts);
/** Chain, as klepto's `inner + outer`: the outer keymap lays the call out
 * (its flat/sentinel options), that layout becomes the single argument of
 * the inner keymap, and the outer keymap's encoding (hash, string,
 * pickle; raw keeps it) turns the inner key into the key.  So
 * (stringmap() + hashmap(algorithm='md5'))(1, 2) is the md5 of
 * "'((1, 2),)'".  The chain takes the outer keymap's options.  Takes
 * ownership of both on success.  KL_EINVAL on NULLs or the same keymap
 * twice; KL_EINVAL when outer is itself a chain (klepto's a + (b + c)
 * silently drops b: build (a + b) + c, with the chain as inner) or is
 * typed (its type markers would reach the inner keymap as text); then
 * nothing is taken.  KL_ENOMEM. */
KL_API int kl_keymap_chain(kl_keymap **out, kl_keymap *outer, kl_keymap *inner);
/** @{ */
/** The parts of a chained keymap (borrowed; NULL when not chained). */
KL_API const kl_keymap *kl_keymap_outer(const kl_keymap *km);
KL_API const kl_keymap *kl_keymap_inner(const kl_keymap *km);
/** @} */
/** The options a keymap was built with (borrowed). */
KL_API const kl_keymap_opts *kl_keymap_options(const kl_keymap *km);
/** Release a keymap, and the parts of a chain (safe on NULL). */
KL_API void kl_keymap_free(kl_keymap *km);

/** Build the key of a normalised call into a caller's buffer, without
 * allocating when the buffer is large enough.  *len receives the key's
 * length; when *len > cap nothing useful was written and the caller retries
 * with a buffer of *len bytes.  Returns 0, KL_ETYPE (an argument that
 * cannot be encoded, message names it), KL_ETOOBIG (key > KL_KEY_MAX). */
KL_API int kl_keymap_key_into(const kl_keymap *km, const kl_ncall *call, void *buf, size_t cap,
                       size_t *len);
/** The same, appended to a heap buffer. */
KL_API int kl_keymap_key(const kl_keymap *km, const kl_ncall *call, kl_buf *out);

/** The key as a value (for "string" this is the text, for "hash" the hex
 * text, ...): what kl_decode() of the key bytes gives.  Owned by caller. */
KL_API int kl_keymap_key_value(const kl_keymap *km, const kl_ncall *call, kl_value *out);

#ifdef __cplusplus
}
#endif
#endif
