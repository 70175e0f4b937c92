/* SPDX-License-Identifier: BSD-3-Clause */
/* The scheme registry: the table of backends by URL scheme, filled with
 * the built-in backends on first use and by kl_archive_register. */
#include "archive/registry.h"
#include "archive/builtin.h"
#include "internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const kl_archive_backend **reg;
static size_t reg_len, reg_cap;
static bool reg_builtins_done;

static int reg_add_locked(const kl_archive_backend *be)
{
    if (!be || !be->scheme || !*be->scheme)
        return kl_seterr(KL_EINVAL, "archive backend without a scheme name");
    if (be->version == 0 || be->version > KL_BACKEND_VERSION)
        return kl_seterr(KL_EINVAL, "archive backend '%s': version %u, this library knows %d",
                         be->scheme, be->version, KL_BACKEND_VERSION);
    if (!be->open || !be->close || !be->get || !be->put || !be->del || !be->count ||
        !be->iter_new || !be->iter_next || !be->iter_free)
        return kl_seterr(KL_EINVAL, "archive backend '%s': a required slot is NULL", be->scheme);
    for (size_t i = 0; i < reg_len; i++)
        if (!strcmp(reg[i]->scheme, be->scheme))
            return kl_seterr(KL_EINVAL, "archive scheme '%s' is already registered", be->scheme);
    if (reg_len == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 16;
        const kl_archive_backend **p = realloc(reg, cap * sizeof *p);
        if (!p)
            return kl_seterr(KL_ENOMEM, "out of memory registering '%s'", be->scheme);
        reg = p;
        reg_cap = cap;
    }
    reg[reg_len++] = be;
    return 0;
}

static void reg_builtins_locked(void)
{
    if (reg_builtins_done)
        return;
    reg_builtins_done = true;
    for (size_t i = 0; kl__builtin_backends[i]; i++)
        reg_add_locked(kl__builtin_backends[i]);
}

int kl_archive_register(const kl_archive_backend *backend)
{
    pthread_mutex_lock(&reg_mu);
    reg_builtins_locked();
    int rc = reg_add_locked(backend);
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

const kl_archive_backend *kl__archive_backend_find(const char *scheme)
{
    const kl_archive_backend *be = NULL;
    pthread_mutex_lock(&reg_mu);
    reg_builtins_locked();
    for (size_t i = 0; i < reg_len && !be; i++)
        if (!strcmp(reg[i]->scheme, scheme))
            be = reg[i];
    pthread_mutex_unlock(&reg_mu);
    return be;
}
