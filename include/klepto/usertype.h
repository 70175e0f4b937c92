/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The user's own C types as arguments and results.
 *
 * A kl_usertype describes a C type (a parameter struct, a result struct)
 * by a name, a layout version and two functions: encode writes an object as one
 * value with the streaming encoder (codec.h: kl_enc_array_head,
 * kl_enc_float, …), decode fills an object from that value.  In a key or
 * a stored result the object is the value [name, version, encoded value]
 * under CBOR tag 27 (an object with a type name and constructor
 * arguments): it never equals a plain argument, renders as
 * CBORTag(27, ['params', 1, [...]]) — as Python's cbor2 shows it — and
 * carries the layout version, so objects written with an older layout are
 * other keys, and stored results of another layout are never decoded.
 * Bump `layout` whenever the fields or their meaning change.
 *
 * Use: in KL_MEMOIZE as KL_OBJ(desc, type, name) (an argument, passed as
 * const type *) and KL_OUT_OBJ(desc, type, name) (a result, type *) — see
 * memo.h; in the generic API through kl_value_object and
 * kl_value_object_get.
 *
 *   static int params_encode(kl_enc *e, const void *obj)
 *   {
 *       const params *p = obj;
 *       kl_enc_array_head(e, 2);
 *       kl_enc_float(e, p->dt);
 *       kl_enc_int(e, p->steps);
 *       return 0;
 *   }
 *   static int params_decode(const kl_value *v, void *obj) { ... }
 *   static const kl_usertype params_type =
 *       KL_USERTYPE_INIT("params", 1, params, params_encode, params_decode);
 *
 * Ownership: descriptors are the caller's and must outlive every use
 * (usually static const objects).  Thread-safety: the registry is
 * internally locked; encode and decode may be called from many threads at
 * once and must not call back into klepto's memos.
 */
#ifndef KLEPTO_USERTYPE_H
#define KLEPTO_USERTYPE_H

#include "export.h"

#include <stddef.h>

#include "codec.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The description of a user's C type: start from KL_USERTYPE_INIT. */
typedef struct kl_usertype {
    unsigned version; /**< KL_USERTYPE_VERSION: of this struct (fields are only
                         ever appended; the library reads the ones its
                         version has) */
    const char *name; /**< the type's name in keys: non-empty, at most 64 bytes */
    unsigned layout;  /**< the layout's version: bump it when the fields of the
                         C type (or their meaning) change */
    size_t size;      /**< sizeof the C object */
    /** Write *obj as one value (no allocation needed: a hit encodes its
     * arguments into a stack buffer).  0, or a negative error code. */
    int (*encode)(kl_enc *e, const void *obj);
    /** Fill *obj from v, a decoded value of what encode wrote.  0, or a
     * negative error (KL_ETYPE) when v does not fit; *obj may then be
     * partly written (the memo decodes into a copy). */
    int (*decode)(const kl_value *v, void *obj);
} kl_usertype;
/** The version of kl_usertype this header declares. */
#define KL_USERTYPE_VERSION 1
/** A descriptor for the C type `ctype` (a static const initializer). */
#define KL_USERTYPE_INIT(name, layout, ctype, encode, decode)                              \
    {KL_USERTYPE_VERSION, name, layout, sizeof(ctype), encode, decode}

/** Make a type known by its name.  Registering the same name again with
 * the same layout, size and functions is a no-op; with others it is
 * KL_EINVAL (the message names the type) — one name, one codec.
 * KL_EINVAL also for a descriptor whose version is 0 or newer than
 * KL_USERTYPE_VERSION, without a name or functions, or with a size of 0;
 * KL_ENOMEM.  KL_MEMOIZE registers its types itself. */
KL_API int kl_type_register(const kl_usertype *t);
/** The type registered under name, or NULL. */
KL_API const kl_usertype *kl_type_find(const char *name);

/** Write obj as an object of type t: tag 27, [name, layout, value].
 * Errors go to e->err (and kl_errmsg): the encoder's, or the type's encode
 * error, or KL_ECORRUPT when encode wrote no single well-formed value. */
KL_API void kl_enc_object(kl_enc *e, const kl_usertype *t, const void *obj);
/** The object as a value (owned by the caller: kl_value_free): 0, the
 * errors of kl_enc_object, KL_ENOMEM. */
KL_API int kl_value_object(kl_value *out, const kl_usertype *t, const void *obj);
/** Fill obj from a value holding an object of type t: 0; KL_ETYPE when v
 * is not an object of that name; KL_EVERSION when its layout version is
 * not t's (written by another version of the program); the decode
 * function's error.  obj is written only on success. */
KL_API int kl_value_object_get(const kl_value *v, const kl_usertype *t, void *obj);

#ifdef __cplusplus
}
#endif
#endif
