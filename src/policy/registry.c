/* Name -> built-in policy.  "inf" and "no" are cache modes, handled by the
 * cache, so they are not listed here. */
#include <string.h>

#include "policy/policies.h"

static const kl_policy_ops *const policies[] = {
    &kl__policy_lru,
    &kl__policy_lfu,
    &kl__policy_mru,
    &kl__policy_rr,
    &kl__policy_fifo,
    &kl__policy_sieve,
    &kl__policy_s3fifo,
    &kl__policy_wtinylfu,
    &kl__policy_arc,
};

#define NPOLICIES (sizeof policies / sizeof policies[0])

static const char *const names[] = {
    "lru",
    "lfu",
    "mru",
    "rr",
    "fifo",
    "sieve",
    "s3fifo",
    "wtinylfu",
    "arc",
    NULL,
};

const kl_policy_ops *kl_policy_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < NPOLICIES; i++)
        if (strcmp(policies[i]->name, name) == 0)
            return policies[i];
    return NULL;
}

const char *const *kl_policy_names(void) { return names; }
