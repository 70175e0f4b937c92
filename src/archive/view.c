/* SPDX-License-Identifier: BSD-3-Clause */
/* Views of stored typed numeric arrays: the view over a private copy (the
 * fallback of get_view) and the kl_view accessors of archive.h. */
#include "archive/tarray.h"
#include "internal.h"

#include <stdlib.h>

static void copy_release(kl_view *v)
{
    free(v->priv);
    free(v);
}

int kl__view_from_copy(kl_view **out, void *mem, size_t memlen, const kl__tarray *ta)
{
    kl_view *v = calloc(1, sizeof *v);
    if (!v) {
        free(mem);
        return kl_seterr(KL_ENOMEM, "out of memory making a view");
    }
    v->data = (uint8_t *)mem + ta->head;
    v->nbytes = ta->nbytes;
    v->dtype = ta->dtype;
    v->ndim = ta->ndim;
    memcpy(v->shape, ta->shape, sizeof v->shape);
    v->mapped = false;
    v->release = copy_release;
    v->priv = mem;
    v->priv_len = memlen;
    *out = v;
    return 0;
}

const void *kl_view_data(const kl_view *v) { return v->data; }
size_t kl_view_bytes(const kl_view *v) { return v->nbytes; }
kl_dtype kl_view_dtype(const kl_view *v) { return (kl_dtype)v->dtype; }
unsigned kl_view_ndim(const kl_view *v) { return v->ndim; }
const size_t *kl_view_shape(const kl_view *v) { return v->shape; }
bool kl_view_is_mapped(const kl_view *v) { return v->mapped; }

void kl_view_release(kl_view *v)
{
    if (v)
        v->release(v);
}
