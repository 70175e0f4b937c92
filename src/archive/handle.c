/* SPDX-License-Identifier: BSD-3-Clause */
/* Archive handles: making and releasing them, the read-only check, and
 * the handles of fronts (archives wrapping another, see front.h). */
#include "archive/handle.h"
#include "archive/front.h"
#include "internal.h"

#include <stdlib.h>

int kl__archive_handle_new(kl_archive **out, const kl_archive_backend *be, const char *url,
                           const char *shown)
{
    *out = NULL;
    kl_archive *ar = calloc(1, sizeof *ar);
    if (!ar || !(ar->url = kl_archive_redact_url(url))) {
        free(ar);
        return kl_seterr(KL_ENOMEM, "out of memory opening %s", shown);
    }
    ar->be = be;
    ar->serial = !(be->flags & KL_BACKEND_THREADSAFE);
    pthread_mutex_init(&ar->mu, NULL);
    *out = ar;
    return 0;
}

void kl__archive_handle_release(kl_archive *ar)
{
    kl__limits_free(ar);
    pthread_mutex_destroy(&ar->mu);
    free(ar->url);
    free(ar);
}

int kl__archive_check_writable(kl_archive *ar)
{
    if (ar->read_only)
        return kl_seterr(KL_EPERM, "%s: archive opened read-only", ar->url);
    return 0;
}

int kl__archive_front_new(kl_archive **out, const kl_archive_backend *be, void *state,
                          const char *url)
{
    int rc = kl__archive_handle_new(out, be, url, "an archive");
    if (rc)
        return rc;
    (*out)->state = state;
    return 0;
}

bool kl__archive_has_backend(const kl_archive *ar, const kl_archive_backend *be)
{
    return ar && ar->be == be;
}

int kl__archive_locked_call(kl_archive *ar, const kl_archive_backend *be, const char *what,
                            int (*fn)(void *state, void *arg), void *arg)
{
    if (!ar || ar->be != be)
        return kl_seterr(KL_EINVAL, "%s: %s is not a %s: archive", what,
                         ar ? ar->url : "(null)", be->scheme);
    KL__AR_LOCK(ar);
    int rc = fn(ar->state, arg);
    KL__AR_UNLOCK(ar);
    return rc;
}
