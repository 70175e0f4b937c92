/* SPDX-License-Identifier: BSD-3-Clause */
/* Keys the way Python klepto's tests write them: keymaps named as klepto
 * names them (keymap, hashmap, stringmap, picklemap, chained with +), and
 * calls written as Python literals.  For the key vectors and the
 * translated klepto scripts (tests/klepto/).  Every helper fails the
 * running test on an unexpected error. */
#ifndef KLEPTO_TEST_PYKEYS_H
#define KLEPTO_TEST_PYKEYS_H

#include <stdbool.h>

#include "klepto/codec.h"
#include "klepto/keygen.h"
#include "klepto/keymap.h"

/* klepto's keymap(typed, flat), hashmap(algorithm=…), stringmap(encoding=…)
 * or picklemap(serializer=…): kind is that name, option the keyword's
 * value (NULL: klepto's default; hashmap's default is our "xxh3"). */
int kt_keymap_try(kl_keymap **out, const char *kind, const char *option, bool typed, bool flat);
kl_keymap *kt_keymap(const char *kind, const char *option, bool typed, bool flat);
/* klepto's a + b (a the inner keymap): takes both. */
kl_keymap *kt_chain(kl_keymap *a, kl_keymap *b);

/* A key generator for a signature in Python syntax (NULL: the keymap is
 * called directly, every argument a vararg or a varkw).  km must outlive
 * it; free with kl_keygen_free. */
kl_keygen *kt_keygen(const char *sig, const kl_keymap *km, const char *ignore, int tol,
                     kl_rounding rounding);

/* The key bytes of the call args (a tuple value) with kwargs (a map value
 * with text keys, or NULL): returns kl_keygen_key's code. */
int kt_key_bytes(const kl_keygen *kg, const kl_value *args, const kl_value *kwargs, kl_buf *out);
/* The same with args and kwargs as Python literals ("(1, 2)", "{'y': 3}"
 * or NULL); *out the key as a value (decoded). */
int kt_call_key(const kl_keygen *kg, const char *args, const char *kwargs, kl_value *out);
/* repr() of the key of a call (heap; the test fails when it errs). */
char *kt_key_repr(const kl_keygen *kg, const char *args, const char *kwargs);
/* The key of keymap km called directly: km(*args, **kwargs), as repr. */
char *kt_keymap_call_repr(const kl_keymap *km, const char *args, const char *kwargs);

/* A Python literal parsed (the test fails on a syntax error). */
kl_value kt_lit(const char *text);
/* The value for key `name` in a map with text keys, or NULL. */
const kl_value *kt_get(const kl_value *map, const char *name);

#endif
