/* SPDX-License-Identifier: BSD-3-Clause */
/* Python's text encodings as Python klepto's stringmap(encoding=…) uses
 * them (private to src/keys). */
#ifndef KLEPTO_KEYS_PYENCODING_H
#define KLEPTO_KEYS_PYENCODING_H

#include <stddef.h>

#include "klepto/codec.h"

/* What stringmap(encoding=name) renders. */
typedef enum kl__strenc {
    KL__STRENC_STR,   /* None, 'str': str(key), text */
    KL__STRENC_REPR,  /* 'repr': repr(key), text */
    KL__STRENC_ASCII, /* 'ascii' exactly: the builtin ascii(key), text */
    KL__STRENC_CODEC  /* any other codec name: repr(key).encode(name), bytes */
} kl__strenc;

/* Resolves an encoding name as klepto does: the exact names 'str',
 * 'repr' and 'ascii' are the builtins of those names; any other name goes
 * through Python's codec lookup (case, punctuation and aliases as Python's
 * encodings package treats them).  *codec receives the codec for
 * KL__STRENC_CODEC.  KL_EINVAL naming the encoding when Python knows no
 * such codec, or when it is one of Python's codecs we do not write. */
int kl__strenc_find(const char *name, kl__strenc *kind, int *codec);

/* The codec's Python name ("utf_16_le"). */
const char *kl__codec_name(int codec);

/* Appends text (UTF-8) encoded as Python's text.encode(codec, 'strict')
 * does.  KL_ETYPE naming the codec and the character when it cannot be
 * encoded (Python's UnicodeEncodeError) or text is not UTF-8, KL_ENOMEM. */
int kl__codec_encode(int codec, const char *text, size_t n, kl_buf *out);

/* Appends text with every non-ASCII character escaped as \xhh, \uhhhh or
 * \Uhhhhhhhh: what Python's ascii() makes of a repr(). */
int kl__ascii_escape(const char *text, size_t n, kl_buf *out);

#endif
