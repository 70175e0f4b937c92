/* SPDX-License-Identifier: BSD-3-Clause */
/* The reconnect step the server backends (postgres, redis) take after a
 * lost connection: the message of a second failure keeps the first's
 * words, which say what was being done when the connection went. */
#include "archive/reconnect.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int kl__archive_reconnect(int (*reconnect)(void *state), void *state)
{
    char *first = strdup(kl_errmsg());
    int r = reconnect(state);
    if (r) {
        char *second = strdup(kl_errmsg());
        r = kl_seterr(KL_EBACKEND, "%s; reconnecting: %s", first ? first : "",
                      second ? second : "");
        free(second);
    }
    free(first);
    return r;
}
