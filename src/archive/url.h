/* SPDX-License-Identifier: BSD-3-Clause */
/* Private half of archive URLs (src/archive/url.c): parsing "scheme:rest?
 * a=1&b=2" into the public kl_url, and the check that every option given
 * was asked for.  The option readers themselves are public
 * (klepto/sys/archive_backend.h). */
#ifndef KLEPTO_ARCHIVE_URL_H
#define KLEPTO_ARCHIVE_URL_H

#include "klepto/sys/archive_backend.h"

#include <stdbool.h>
#include <stddef.h>

/* Parse "scheme:rest?a=1&b=2" (query values percent-decoded; the scheme
 * lower-cased).  *out is freed with kl__url_free; it borrows `text`, which
 * must outlive it.  KL_EINVAL names the URL (password masked). */
int kl__url_parse(const char *text, kl_url **out);
void kl__url_free(kl_url *u);
/* KL_EINVAL naming the first option no kl_url_param_get asked for. */
int kl__url_check_used(const kl_url *u);

/* Decodes the %XX escapes of the n bytes at src into dst (room for n + 1
 * bytes; dst may be src: decoding never writes ahead of reading) and
 * ends it with a NUL.  Returns the decoded length (a %00 decodes to a NUL
 * inside it), or -1 for a broken escape (no message set: the caller
 * names what it was decoding). */
ptrdiff_t kl__pct_decode(char *dst, const char *src, size_t n);
/* A heap copy of [p, p+n) percent-decoded (URL user, password, host
 * parts), or NULL: out of memory, or *bad set for a broken escape or an
 * encoded NUL. */
char *kl__pct_decode_dup(const char *p, size_t n, bool *bad);

#endif
