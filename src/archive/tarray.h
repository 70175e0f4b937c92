/* SPDX-License-Identifier: BSD-3-Clause */
/* Typed numeric arrays inside encoded values (tarray.c), and the view over
 * a private copy of one (view.c): what get_view and its fallback share. */
#ifndef KLEPTO_ARCHIVE_TARRAY_H
#define KLEPTO_ARCHIVE_TARRAY_H

#include "klepto/sys/archive_backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Typed numeric array found at the top of an encoded value (RFC 8746
 * typed array, optionally inside tag 40 [shape, array]). */
typedef struct kl__tarray {
    size_t head;     /* bytes before the element payload */
    size_t nbytes;   /* payload bytes (they run to the end of the value) */
    uint8_t dtype;   /* kl_dtype */
    uint8_t ndim;
    size_t shape[KL_NDARRAY_MAXDIM];
} kl__tarray;
/* true when the value bytes are exactly one little-endian typed array. */
bool kl__tarray_parse(const uint8_t *p, size_t len, kl__tarray *out);

/* A view that owns a heap copy of an array payload (the fallback when a
 * backend cannot map).  Takes ownership of the malloc'ed block `mem`,
 * freeing it on failure too. */
int kl__view_from_copy(kl_view **out, void *mem, size_t memlen, const kl__tarray *ta);

#endif
