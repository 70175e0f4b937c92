/* SPDX-License-Identifier: BSD-3-Clause */
/* Fronts: archives that wrap another archive and are not reached by a URL
 * scheme of their own (the cached front, cached.c).  kl_archive_open
 * applies them when the URL asks (?cached=true); they are never in the
 * scheme registry. */
#ifndef KLEPTO_ARCHIVE_FRONT_H
#define KLEPTO_ARCHIVE_FRONT_H

#include "klepto/sys/archive_backend.h"

#include <stdbool.h>

/* A handle over an already made front state; url names it in messages. */
int kl__archive_front_new(kl_archive **out, const kl_archive_backend *be, void *state,
                          const char *url);
/* Run fn(state, arg) under ar's lock when ar's backend is be; KL_EINVAL
 * (naming `what`) otherwise. */
int kl__archive_locked_call(kl_archive *ar, const kl_archive_backend *be, const char *what,
                            int (*fn)(void *state, void *arg), void *arg);
/* true when ar's backend is be. */
bool kl__archive_has_backend(const kl_archive *ar, const kl_archive_backend *be);

#endif
