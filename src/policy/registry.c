/* SPDX-License-Identifier: BSD-3-Clause */
/* Name -> policy: the built-in ones, then those registered from outside
 * the library with kl_policy_register.  "inf" and "no" are cache modes,
 * handled by the cache, so they are not listed here (and cannot be
 * registered). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "policy/hints.h"
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
    &kl__policy_lirs,
    &kl__policy_adaptive,
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
    "lirs",
    "adaptive",
    NULL,
};

/* Registered policies: appended under reg_mu, never removed. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const kl_policy_ops **reg;
static size_t reg_len, reg_cap;

static const kl_policy_ops *find_builtin(const char *name)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        if (strcmp(policies[i]->name, name) == 0)
            return policies[i];
    return NULL;
}

static const kl_policy_ops *find_registered_locked(const char *name)
{
    for (size_t i = 0; i < reg_len; i++)
        if (strcmp(reg[i]->name, name) == 0)
            return reg[i];
    return NULL;
}

/* KL_EINVAL naming what is wrong with ops, or 0. */
static int check_ops(const kl_policy_ops *ops)
{
    if (!ops || !ops->name || !*ops->name)
        return kl_seterr(KL_EINVAL, "policy without a name");
    if (ops->version == 0 || ops->version > KL_POLICY_VERSION)
        return kl_seterr(KL_EINVAL, "policy '%s': version %u, this library knows 1 to %d",
                         ops->name, ops->version, KL_POLICY_VERSION);
    if (!ops->create || !ops->destroy || !ops->on_insert || !ops->on_hit || !ops->on_remove ||
        !ops->victim)
        return kl_seterr(KL_EINVAL, "policy '%s': a required slot is NULL", ops->name);
    kl_policy_hints h;
    kl__policy_hints_of(ops, &h);
    if (h.hit_saturation && h.hit_mask &&
        (h.hit_word % 8 || (size_t)h.hit_word + 8 > ops->meta_size))
        return kl_seterr(KL_EINVAL,
                         "policy '%s': hit_word %u is not an aligned 64-bit word of its %zu "
                         "bytes of metadata", ops->name, (unsigned)h.hit_word, ops->meta_size);
    if (!strcmp(ops->name, "inf") || !strcmp(ops->name, "no"))
        return kl_seterr(KL_EINVAL, "policy '%s': the name of a cache mode", ops->name);
    if (find_builtin(ops->name))
        return kl_seterr(KL_EINVAL, "policy '%s': the name of a built-in policy", ops->name);
    return 0;
}

int kl_policy_register(const kl_policy_ops *ops)
{
    int rc = check_ops(ops);
    if (rc)
        return rc;
    pthread_mutex_lock(&reg_mu);
    if (find_registered_locked(ops->name)) {
        rc = kl_seterr(KL_EINVAL, "policy '%s' is already registered", ops->name);
    } else if (reg_len == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 8;
        const kl_policy_ops **p = realloc(reg, cap * sizeof *p);
        if (!p) {
            rc = kl_seterr(KL_ENOMEM, "out of memory registering policy '%s'", ops->name);
        } else {
            reg = p;
            reg_cap = cap;
        }
    }
    if (!rc)
        reg[reg_len++] = ops;
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

const kl_policy_ops *kl_policy_find(const char *name)
{
    if (!name)
        return NULL;
    const kl_policy_ops *ops = find_builtin(name);
    if (ops)
        return ops;
    pthread_mutex_lock(&reg_mu);
    ops = find_registered_locked(name);
    pthread_mutex_unlock(&reg_mu);
    return ops;
}

const char *const *kl_policy_names(void) { return names; }
