/* SPDX-License-Identifier: BSD-3-Clause */
/* A policy's lock-free hints, read from a struct of any version (see
 * hints.h).  Versions 2 and 3 of kl_policy_ops carried the hints inline
 * after `victim`; the layout below is theirs, kept only to read them. */
#include "policy/hints.h"

#include <string.h>

typedef struct policy_ops_v3 {
    unsigned version;
    const char *name;
    size_t meta_size;
    int (*create)(void **state, size_t capacity, uint64_t seed);
    void (*destroy)(void *state);
    void (*on_insert)(void *state, void *meta, uint64_t hash);
    void (*on_hit)(void *state, void *meta);
    void (*on_remove)(void *state, void *meta);
    void *(*victim)(void *state);
    bool hit_saturation; /* version 2 */
    uint32_t hit_word;
    uint64_t hit_mask;
    bool deferrable_hits; /* version 3 */
} policy_ops_v3;

void kl__policy_hints_of(const kl_policy_ops *ops, kl_policy_hints *out)
{
    memset(out, 0, sizeof *out);
    if (ops->version >= 4) {
        if (ops->hints)
            *out = *ops->hints;
        return;
    }
    if (ops->version < 2)
        return;
    const policy_ops_v3 *old = (const policy_ops_v3 *)(const void *)ops;
    out->hit_saturation = old->hit_saturation;
    out->hit_word = old->hit_word;
    out->hit_mask = old->hit_mask;
    if (ops->version >= 3)
        out->deferrable_hits = old->deferrable_hits;
}
